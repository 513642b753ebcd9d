//! The `exec` action: a program run with its argv, without a shell unless `shell = true`
//! (then the one string runs under `sh -c`). The program resolves as a supervised service's
//! does (`supervisor/process.rs`): `iza` is the running binary, a name with a `/` is relative
//! to the manifest's directory, any other is looked up on `PATH`; `cwd` is relative to the
//! manifest's directory; `env` is added to the inherited environment; stdin is closed.
//!
//! Stdout and stderr are captured together, in the order they arrive, keeping the last
//! [`OUTPUT_CAP`] bytes. The child runs in its own process group; when the run ends (it
//! exited, or the worker dropped it at its timeout or at a shutdown) the whole group is sent
//! SIGKILL, so nothing it started outlives the run. It is spawned through the [`Launch`]'s
//! launcher (`iza-launch`): under `iza serve` and `iza up` a guarded one, so the program gets
//! SIGKILL when `iza` dies (a `kill -9` included) and its group is recorded for the next start
//! to sweep; a run retried after such a crash never meets its first copy.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};

use indexmap::IndexMap;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::ActionError;
use crate::supervisor::Launch;

/// Bytes of output a run keeps: the tail.
pub const OUTPUT_CAP: usize = 64 * 1024;

/// What to run, placeholders already substituted.
#[derive(Debug, Clone, Default)]
pub struct ExecSpec {
    /// Program and arguments; with `shell`, exactly one string.
    pub argv: Vec<String>,
    /// Added to the environment.
    pub env: IndexMap<String, String>,
    /// Working directory, relative to the manifest's directory.
    pub cwd: Option<PathBuf>,
    /// Run the one string with `sh -c`.
    pub shell: bool,
}

/// The last bytes of a stream, at most a cap.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    bytes: Vec<u8>,
    cut: usize,
    cap: usize,
}

impl Tail {
    pub(crate) fn new(cap: usize) -> Tail {
        Tail {
            bytes: Vec::new(),
            cut: 0,
            cap,
        }
    }

    pub(crate) fn push(&mut self, chunk: &[u8]) {
        self.bytes.extend_from_slice(chunk);
        if self.bytes.len() > self.cap {
            let excess = self.bytes.len() - self.cap;
            self.bytes.drain(..excess);
            self.cut += excess;
        }
    }

    /// The text kept, with a first line saying how much was cut when something was.
    pub(crate) fn text(&self) -> String {
        let body = String::from_utf8_lossy(&self.bytes);
        if self.cut == 0 {
            body.into_owned()
        } else {
            format!("[… {} earlier bytes cut]\n{body}", self.cut)
        }
    }
}

/// Kills a process group when dropped, and drops its record.
struct Group<'a>(Option<u32>, &'a Launch);

impl Drop for Group<'_> {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            crate::supervisor::process::signal_group(pgid, rustix::process::Signal::KILL);
            self.1.launcher.forget(pgid);
        }
    }
}

async fn drain(mut stream: impl AsyncRead + Unpin, tail: Arc<Mutex<Tail>>) {
    let mut buffer = [0u8; 8192];
    while let Ok(n) = stream.read(&mut buffer).await {
        if n == 0 {
            break;
        }
        tail.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(&buffer[..n]);
    }
}

fn resolve(launch: &Launch, program: &str) -> PathBuf {
    if program == "iza"
        && let Some(exe) = &launch.self_exe
    {
        return exe.clone();
    }
    let path = Path::new(program);
    if program.contains('/') && path.is_relative() {
        launch.base_dir.join(path)
    } else {
        path.to_owned()
    }
}

/// Runs the program to its end; its output on success (exit code 0), otherwise the reason
/// and the output. `label` names the run in the launcher's records (`task <key>`).
pub async fn run(
    launch: &Launch,
    label: &str,
    spec: &ExecSpec,
) -> Result<Option<String>, ActionError> {
    let argv: Vec<String> = if spec.shell {
        let mut argv = vec!["sh".to_owned(), "-c".to_owned()];
        argv.extend(spec.argv.iter().cloned());
        argv
    } else {
        spec.argv.clone()
    };
    let Some((program, args)) = argv.split_first() else {
        return Err(ActionError::new("the `exec` argv is empty"));
    };
    let program = if spec.shell {
        PathBuf::from("sh")
    } else {
        resolve(launch, program)
    };
    let dir = match &spec.cwd {
        Some(dir) if dir.is_absolute() => dir.clone(),
        Some(dir) => launch.base_dir.join(dir),
        None => launch.base_dir.clone(),
    };
    let mut command = launch.launcher.command(&program);
    command
        .args(args)
        .envs(spec.env.iter())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if !dir.as_os_str().is_empty() {
        command.current_dir(&dir);
    }
    let spawned = launch.launcher.spawn_recorded(command, label).await;
    let mut child = spawned.map_err(|err| {
        let hint = if err.kind() == std::io::ErrorKind::NotFound {
            if dir.is_dir() {
                " (no such program)".to_owned()
            } else {
                format!(" (no such directory `{}`)", dir.display())
            }
        } else {
            String::new()
        };
        ActionError::new(format!("cannot start `{}`: {err}{hint}", program.display()))
    })?;
    let group = Group(child.id(), launch);
    let tail = Arc::new(Mutex::new(Tail::new(OUTPUT_CAP)));
    let mut readers = tokio::task::JoinSet::new();
    if let Some(out) = child.stdout.take() {
        readers.spawn(drain(out, tail.clone()));
    }
    if let Some(err) = child.stderr.take() {
        readers.spawn(drain(err, tail.clone()));
    }
    let status = child.wait().await;
    // Whatever the program left running in its group ends with it, and the pipes close.
    drop(group);
    while readers.join_next().await.is_some() {}
    let output = tail.lock().unwrap_or_else(PoisonError::into_inner).text();
    let output = (!output.is_empty()).then_some(output);
    match status {
        Ok(status) if status.success() => Ok(output),
        Ok(status) => {
            use std::os::unix::process::ExitStatusExt;
            let how = match (status.code(), status.signal()) {
                (Some(code), _) => format!("exited with code {code}"),
                (None, Some(signal)) => format!("was killed by signal {signal}"),
                (None, None) => "ended".to_owned(),
            };
            Err(ActionError {
                error: format!("`{}` {how}", program.display()),
                output,
            })
        }
        Err(err) => Err(ActionError {
            error: format!("cannot wait for `{}`: {err}", program.display()),
            output,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_bytes_and_says_how_many_were_cut() {
        let mut tail = Tail::new(4);
        tail.push(b"abc");
        tail.push(b"defg");
        assert_eq!(tail.text(), "[… 3 earlier bytes cut]\ndefg");
        let mut short = Tail::new(4);
        short.push(b"ab");
        assert_eq!(short.text(), "ab");
    }
}
