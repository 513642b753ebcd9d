//! Validates how IZA connects to a broker for outputs, inputs and round-trip checks: the URL
//! schemes each broker client speaks (and a clear refusal of the ones it does not, so that no
//! scheme fails only at run time), and the TLS keys `ca_file`, `cert_file`, `key_file`:
//! non-empty, the certificate and its key together, and only on a connection that speaks TLS.

use std::ops::Range;
use std::path::PathBuf;

use super::Ctx;
use crate::diagnostic::{Code, Diagnostic};
use crate::manifest::spanned::Spanned;
use crate::model::BrokerTls;

/// Which broker client a connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Broker {
    /// async-nats: `nats://` (TLS when the server requires it) and `tls://`.
    Nats,
    /// rumqttc: `mqtt://` (or `tcp://`) and `mqtts://` over TLS.
    Mqtt,
    /// lapin, built without TLS: `amqp://` only.
    Amqp,
}

impl Broker {
    /// The schemes the client speaks.
    pub(super) fn schemes(self) -> &'static [&'static str] {
        match self {
            Broker::Nats => &["nats", "tls"],
            Broker::Mqtt => &["mqtt", "mqtts", "tcp"],
            Broker::Amqp => &["amqp"],
        }
    }

    /// Why a scheme the broker knows is not spoken here, when it is one of those.
    pub(super) fn unsupported(self, scheme: &str) -> Option<&'static str> {
        match (self, scheme) {
            (Broker::Amqp, "amqps") => Some(
                "AMQP over TLS (`amqps://`) is not supported for event outputs, inputs and round-trip checks (IZA's RabbitMQ client is built without TLS); use `amqp://` on a trusted network, or a local TLS tunnel",
            ),
            (Broker::Mqtt, "ws" | "wss") => Some(
                "MQTT over WebSockets (`ws://`, `wss://`) is not supported; use `mqtt://` or `mqtts://` (TLS)",
            ),
            (Broker::Mqtt, "ssl") => Some("write MQTT over TLS as `mqtts://`"),
            (Broker::Nats, "ws" | "wss") => Some(
                "NATS over WebSockets (`ws://`, `wss://`) is not supported; use `nats://` or `tls://`",
            ),
            (Broker::Nats, "nats+tls") => Some("write NATS over TLS as `tls://`"),
            _ => None,
        }
    }

    /// Whether `scheme` carries TLS keys: `mqtts`; `tls`, and `nats` (async-nats upgrades to TLS
    /// when the server requires it).
    fn takes_tls(self, scheme: &str) -> bool {
        match self {
            Broker::Nats => true,
            Broker::Mqtt => scheme == "mqtts",
            Broker::Amqp => false,
        }
    }
}

/// What is wrong with `url` as a connection of `broker`, as one sentence.
pub(super) fn url_problem(url: &str, broker: Broker) -> Option<String> {
    let url = url.trim();
    let parsed = match url::Url::parse(url) {
        Ok(parsed) => parsed,
        Err(e) => return Some(format!("`{url}` is not a URL: {e}")),
    };
    let scheme = parsed.scheme();
    if broker.schemes().contains(&scheme) {
        return None;
    }
    Some(match broker.unsupported(scheme) {
        Some(why) => why.to_owned(),
        None => format!(
            "scheme `{scheme}` is not one of {}",
            broker
                .schemes()
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

/// The TLS keys as written.
#[derive(Clone, Copy)]
pub(super) struct Keys<'a> {
    pub(super) ca_file: Option<&'a Spanned<String>>,
    pub(super) cert_file: Option<&'a Spanned<String>>,
    pub(super) key_file: Option<&'a Spanned<String>>,
}

impl Keys<'_> {
    fn first_span(&self) -> Option<Range<usize>> {
        [self.ca_file, self.cert_file, self.key_file]
            .into_iter()
            .flatten()
            .map(Spanned::span)
            .next()
    }
}

/// The TLS settings of `what` (a connection of `broker` to `url`), or `None` after reporting
/// what is wrong with them with `code`.
pub(super) fn settings(
    ctx: &mut Ctx<'_>,
    code: Code,
    what: &dyn std::fmt::Display,
    broker: Broker,
    url: &str,
    keys: Keys<'_>,
) -> Option<BrokerTls> {
    let mut ok = true;
    let Some(first) = keys.first_span() else {
        return Some(BrokerTls::default());
    };
    let url = url.trim();
    let scheme = url::Url::parse(url).ok().map(|u| u.scheme().to_owned());
    if !url.contains("${")
        && let Some(scheme) = scheme
        && broker.schemes().contains(&scheme.as_str())
        && !broker.takes_tls(&scheme)
    {
        let hint = match broker {
            Broker::Mqtt => "use `mqtts://host:8883` to connect over TLS, or remove the TLS keys",
            Broker::Amqp => "AMQP connections here do not speak TLS; remove the TLS keys",
            Broker::Nats => "remove the TLS keys",
        };
        ctx.push(
            Diagnostic::error(
                code,
                format!("{what} has TLS keys, but its URL `{scheme}://…` does not speak TLS"),
            )
            .at(first)
            .hint(hint),
        );
        ok = false;
    }
    let mut file = |key: &str, value: Option<&Spanned<String>>| -> Option<PathBuf> {
        let value = value?;
        if value.get().trim().is_empty() {
            ctx.push(
                Diagnostic::error(code, format!("`{key}` of {what} is empty"))
                    .at(value.span())
                    .hint("give the path of a PEM file, such as `certs/ca.pem`"),
            );
            ok = false;
            return None;
        }
        Some(PathBuf::from(value.get().trim()))
    };
    let tls = BrokerTls {
        ca_file: file("ca_file", keys.ca_file),
        cert_file: file("cert_file", keys.cert_file),
        key_file: file("key_file", keys.key_file),
    };
    match (keys.cert_file, keys.key_file) {
        (Some(cert), None) => {
            ctx.push(
                Diagnostic::error(code, format!("{what} has `cert_file` without `key_file`"))
                    .at(cert.span())
                    .hint("a client certificate needs its private key: add `key_file`"),
            );
            ok = false;
        }
        (None, Some(key)) => {
            ctx.push(
                Diagnostic::error(code, format!("{what} has `key_file` without `cert_file`"))
                    .at(key.span())
                    .hint("add the client certificate as `cert_file`, or remove `key_file`"),
            );
            ok = false;
        }
        _ => {}
    }
    ok.then_some(tls)
}
