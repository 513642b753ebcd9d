//! `exec`: runs `command` (no shell: the program and its arguments as written) with the
//! message as JSON (the `webhook` body, docs/alerts.md) on its standard input, the notifier's
//! `env` added to the environment, and `IZA_ALERT_STATUS` (`firing`/`resolved`),
//! `IZA_ALERT_IDS` (comma separated) and `IZA_ALERT_TEXT` (the rendered text) set. Exit
//! status 0 is delivered; anything else, or running past `timeout` (the process group is then
//! killed), is a failure the queue retries. The child is started through the
//! [`iza_launch::Launcher`] the sender was given, so under `iza up`/`serve` it dies with `iza`
//! like every child.

use std::process::Stdio;

use iza_catalog::model::Notifier;
use iza_launch::Launcher;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Kind, Request};
use crate::{Message, NotifyError};

pub(crate) struct Exec;

impl Kind for Exec {
    /// One "request": `url` is the program, `headers` the environment added, `body` the JSON.
    fn requests(
        &self,
        n: &Notifier,
        message: &Message,
        text: &str,
    ) -> Result<Vec<Request>, NotifyError> {
        let program = n.command.first().cloned().ok_or_else(|| {
            NotifyError::Config(format!("exec notifier `{}` has no `command`", n.id))
        })?;
        let body = serde_json::to_string(message)
            .map_err(|e| NotifyError::Config(format!("the message does not serialize: {e}")))?;
        let mut env: Vec<(String, String)> =
            n.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        env.push(("IZA_ALERT_STATUS".to_owned(), message.status.clone()));
        env.push((
            "IZA_ALERT_IDS".to_owned(),
            message
                .alerts
                .iter()
                .map(|a| a.id.to_string())
                .collect::<Vec<_>>()
                .join(","),
        ));
        env.push(("IZA_ALERT_TEXT".to_owned(), text.to_owned()));
        Ok(vec![Request {
            url: program,
            headers: env,
            content_type: "application/json",
            body,
        }])
    }
}

/// Runs the command `request` describes and waits for it, at most the notifier's `timeout`.
pub(crate) async fn send(
    launcher: &Launcher,
    n: &Notifier,
    request: &Request,
) -> Result<(), NotifyError> {
    let failed = |what: String| NotifyError::Send(format!("exec notifier `{}`: {what}", n.id));
    let mut command = launcher.command(&request.url);
    command
        .args(n.command.iter().skip(1))
        .envs(request.headers.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = launcher
        .spawn(command)
        .await
        .map_err(|e| failed(format!("`{}` cannot be started: {e}", request.url)))?;
    let pid = child.id();
    let mut stdin = child.stdin.take();
    let mut stderr = child.stderr.take();
    let body = request.body.clone();
    let run = async move {
        if let Some(stdin) = stdin.as_mut() {
            // A program that does not read its input closes the pipe: not an error.
            let _ = stdin.write_all(body.as_bytes()).await;
            let _ = stdin.shutdown().await;
        }
        drop(stdin);
        let mut errors = String::new();
        if let Some(stderr) = stderr.as_mut() {
            let mut bytes = Vec::new();
            let _ = stderr.take(64 * 1024).read_to_end(&mut bytes).await;
            errors = String::from_utf8_lossy(&bytes).into_owned();
        }
        (child.wait().await, errors)
    };
    match tokio::time::timeout(n.timeout, run).await {
        Err(_) => {
            if let Some(pid) = pid
                .and_then(|p| i32::try_from(p).ok())
                .and_then(rustix::process::Pid::from_raw)
            {
                // The whole group: the program and what it started.
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
            Err(failed(format!(
                "`{}` ran past its timeout of {} and was killed",
                request.url,
                humantime::format_duration(n.timeout)
            )))
        }
        Ok((Err(e), _)) => Err(failed(format!("waiting for `{}` failed: {e}", request.url))),
        Ok((Ok(status), _)) if status.success() => Ok(()),
        Ok((Ok(status), errors)) => {
            let tail: String = errors
                .trim()
                .chars()
                .rev()
                .take(300)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            Err(failed(format!(
                "`{}` exited with {status}{}",
                request.url,
                if tail.is_empty() {
                    String::new()
                } else {
                    format!(": {tail}")
                }
            )))
        }
    }
}
