//! The IZA OS notifiers: how one notification reaches one destination.
//!
//! A [`Message`] is what the alert engine (`iza-runtime/src/alerts/`) decided to say: one or
//! more alerts (folded by `group_wait`), each with its root cause, the services it impacts and
//! its transition (`firing`, `updated`, `reminder`, `resolved`, `escalated`). A [`Sender`]
//! turns it into the HTTP requests of one notifier's kind, one module per kind behind the
//! [`Kind`] trait (`kinds/`), with the text rendered from a minijinja template (the kind's
//! default, or the notifier's own `template`; `template.rs`), secrets resolved from the
//! environment at the last moment (`secrets.rs`), and sends them. Two kinds are not HTTP:
//! `email` (SMTP through `lettre`, its request describing the mail) and `exec` (a local
//! program through `iza-launch`, its request describing the command).
//!
//! This crate knows nothing of rules, grouping, silences or retries: the engine decides
//! those, and the queue retries a failed [`Sender::send`]. An error never carries a resolved
//! secret: every error text is scrubbed of them.

mod kinds;
mod message;
mod secrets;
mod template;

use std::time::{Duration, Instant};

use iza_catalog::model::{Notifier, NotifierKind};

pub use kinds::email::subject as email_subject;
pub use kinds::{Kind, Request, SIGNATURE_HEADER, kind_of, signature};
pub use message::{AlertView, Message, Transition};
pub use secrets::{Env, resolve};
pub use template::{DEFAULT_TEMPLATE, render};

/// Why a notification was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// The notifier's configuration cannot be used (an unset `${ENV}`, a template error).
    #[error("{0}")]
    Config(String),
    /// The request failed or the receiver refused it.
    #[error("{0}")]
    Send(String),
}

/// What a delivered notification cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    /// Requests made.
    pub requests: usize,
    /// Time from the first request to the last answer.
    pub latency: Duration,
}

/// Sends messages to one notifier.
pub struct Sender {
    client: Option<reqwest::Client>,
    env: Env,
    launcher: iza_launch::Launcher,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

/// The HTTP client notifiers share: the system's roots through rustls, no proxy, no retry
/// (the queue retries).
pub fn client() -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .retry(reqwest::retry::never())
        .user_agent(concat!("iza-notify/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10));
    if let Ok(tls) = iza_probe::verifying_tls_config() {
        builder = builder.tls_backend_preconfigured(tls);
    }
    builder
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

impl Sender {
    /// A sender with this client (none: every send fails, saying so), resolving `${ENV}`
    /// references through `env`.
    pub fn new(client: Option<reqwest::Client>, env: Env) -> Sender {
        Sender {
            client,
            env,
            launcher: iza_launch::Launcher::direct(),
        }
    }

    /// The same sender, starting `exec` notifiers through `launcher` (a guarded one under
    /// `iza serve`/`up`, so that they die with `iza`).
    pub fn with_launcher(mut self, launcher: iza_launch::Launcher) -> Sender {
        self.launcher = launcher;
        self
    }

    /// The requests `notifier` would make for `message` (secrets resolved): for tests and
    /// for `iza` to show what would be sent.
    pub fn requests(
        &self,
        notifier: &Notifier,
        message: &Message,
    ) -> Result<Vec<Request>, NotifyError> {
        let resolved = secrets::resolve_notifier(notifier, &self.env)?;
        let text = template::render(
            resolved
                .template
                .as_deref()
                .unwrap_or(kind_of(notifier.kind).default_template()),
            message,
        )
        .map_err(NotifyError::Config)?;
        kind_of(notifier.kind)
            .requests(&resolved, message, &text)
            .map_err(|e| scrub(e, &resolved))
    }

    /// Sends `message` to `notifier`: every request must be answered with a 2xx status (an
    /// `email` accepted by the SMTP server, an `exec` exit with status 0).
    pub async fn send(&self, notifier: &Notifier, message: &Message) -> Result<Sent, NotifyError> {
        let resolved = secrets::resolve_notifier(notifier, &self.env)?;
        let requests = self.requests(notifier, message)?;
        let started = Instant::now();
        for request in &requests {
            match notifier.kind {
                NotifierKind::Email => kinds::email::send(&resolved, request).await,
                NotifierKind::Exec => kinds::exec::send(&self.launcher, &resolved, request).await,
                _ => self.one(notifier, request).await,
            }
            .map_err(|e| scrub(e, &resolved))?;
        }
        Ok(Sent {
            requests: requests.len(),
            latency: started.elapsed(),
        })
    }

    async fn one(&self, notifier: &Notifier, request: &Request) -> Result<(), NotifyError> {
        let Some(client) = &self.client else {
            return Err(NotifyError::Config(
                "no HTTP client could be built on this machine".to_owned(),
            ));
        };
        let mut builder = client
            .post(&request.url)
            .timeout(notifier.timeout)
            .header("content-type", request.content_type)
            .body(request.body.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let answer = builder.send().await.map_err(|e| {
            NotifyError::Send(format!(
                "{} notifier `{}`: the request failed: {}",
                notifier.kind.as_str(),
                notifier.id,
                chain(e)
            ))
        })?;
        let status = answer.status();
        if status.is_success() {
            return Ok(());
        }
        let body = answer.text().await.unwrap_or_default();
        let tail: String = body.chars().take(300).collect();
        Err(NotifyError::Send(format!(
            "{} notifier `{}`: the receiver answered {}{}",
            notifier.kind.as_str(),
            notifier.id,
            status,
            if tail.trim().is_empty() {
                String::new()
            } else {
                format!(": {}", tail.trim())
            }
        )))
    }
}

/// Every kind this build can send to.
pub fn kinds() -> &'static [NotifierKind] {
    &NotifierKind::ALL
}

fn chain(error: reqwest::Error) -> String {
    use std::error::Error as _;
    // Without the URL: a webhook URL is its own credential.
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

/// Replaces every resolved secret of `notifier` in the error's text by `***`.
fn scrub(error: NotifyError, resolved: &Notifier) -> NotifyError {
    let secrets = secrets::values(resolved);
    let clean = |text: String| {
        secrets
            .iter()
            .filter(|s| s.len() >= 4)
            .fold(text, |text, secret| text.replace(secret.as_str(), "***"))
    };
    match error {
        NotifyError::Config(text) => NotifyError::Config(clean(text)),
        NotifyError::Send(text) => NotifyError::Send(clean(text)),
    }
}
