//! `email`: one mail per message over SMTP (`lettre`, rustls with the system's roots). Its
//! [`Request`] describes the mail: `url` is the server (`smtp://host:port`), the headers are
//! `From`, `To` and `Subject`, the body the rendered text (plain, UTF-8). `tls` says how the
//! connection is protected: `starttls` (the default: the server must offer STARTTLS; port 587
//! unless the URL names one), `tls` (TLS from the first byte; port 465), `none` (plain; port
//! 25; for a relay on the same host or network only). `username` + `password` log in
//! (AUTH PLAIN/LOGIN) when given.

use std::time::Duration;

use iza_catalog::model::{Notifier, SmtpTls};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{Kind, Request, url};
use crate::{Message, NotifyError, Transition};

pub(crate) struct Email;

/// The subject of a message: its status and its first alert, with how many others.
pub fn subject(message: &Message) -> String {
    let Some(first) = message.alerts.first() else {
        return format!("[{}] {}", message.status.to_uppercase(), message.ecosystem);
    };
    let word = match first.transition {
        Transition::Resolved => "RESOLVED".to_owned(),
        Transition::Escalated => "ESCALATED".to_owned(),
        Transition::Reminder => format!("STILL {}", first.severity.to_uppercase()),
        Transition::Firing | Transition::Updated => first.severity.to_uppercase(),
    };
    let what = if first.transition == Transition::Resolved {
        format!("{} recovered", first.service_name)
    } else {
        format!("{} is {}", first.service_name, first.status)
    };
    let impacted = if first.impacted.is_empty() || first.transition == Transition::Resolved {
        String::new()
    } else {
        format!(", {} impacted", first.impacted.len())
    };
    let more = match message.alerts.len() {
        1 => String::new(),
        n => format!(" (+{} more)", n - 1),
    };
    format!("[{word}] {what}{impacted}{more} — {}", message.ecosystem)
}

impl Kind for Email {
    fn requests(
        &self,
        n: &Notifier,
        message: &Message,
        text: &str,
    ) -> Result<Vec<Request>, NotifyError> {
        let from = n.from.clone().ok_or_else(|| {
            NotifyError::Config(format!("email notifier `{}` has no `from`", n.id))
        })?;
        if n.to.is_empty() {
            return Err(NotifyError::Config(format!(
                "email notifier `{}` has no `to`",
                n.id
            )));
        }
        Ok(vec![Request {
            url: url(n)?,
            headers: vec![
                ("from".to_owned(), from),
                ("to".to_owned(), n.to.join(", ")),
                ("subject".to_owned(), subject(message)),
            ],
            content_type: "text/plain",
            body: format!("{text}\n"),
        }])
    }
}

fn config(n: &Notifier, what: impl std::fmt::Display) -> NotifyError {
    NotifyError::Config(format!("email notifier `{}`: {what}", n.id))
}

/// Sends the mail `request` describes through the notifier's SMTP server.
pub(crate) async fn send(n: &Notifier, request: &Request) -> Result<(), NotifyError> {
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut builder = lettre::Message::builder()
        .from(
            header("from")
                .parse()
                .map_err(|e| config(n, format!("`from` is not a mail address: {e}")))?,
        )
        .subject(header("subject"))
        .header(ContentType::TEXT_PLAIN);
    for to in &n.to {
        builder = builder.to(to
            .parse()
            .map_err(|e| config(n, format!("`to` holds `{to}`, not a mail address: {e}")))?);
    }
    let mail = builder
        .body(request.body.clone())
        .map_err(|e| config(n, format!("the mail cannot be built: {e}")))?;
    let server = url::Url::parse(&request.url)
        .map_err(|e| config(n, format!("`url` is not an SMTP URL: {e}")))?;
    let host = server
        .host_str()
        .ok_or_else(|| config(n, "`url` names no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let mut transport = match n.tls {
        SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host)
            .map_err(|e| config(n, e))?
            .port(server.port().unwrap_or(587)),
        SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&host)
            .map_err(|e| config(n, e))?
            .port(server.port().unwrap_or(465)),
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host)
            .port(server.port().unwrap_or(25)),
    }
    .timeout(Some(n.timeout.max(Duration::from_secs(1))));
    if let Some(user) = &n.username {
        transport = transport.credentials(Credentials::new(
            user.clone(),
            n.password.clone().unwrap_or_default(),
        ));
    }
    transport.build().send(mail).await.map(|_| ()).map_err(|e| {
        use std::error::Error as _;
        let mut text = e.to_string();
        let mut source = e.source();
        while let Some(cause) = source {
            let line = cause.to_string();
            if !text.contains(&line) {
                text.push_str(": ");
                text.push_str(&line);
            }
            source = cause.source();
        }
        NotifyError::Send(format!(
            "email notifier `{}`: the SMTP server {host} refused or failed: {text}",
            n.id
        ))
    })
}
