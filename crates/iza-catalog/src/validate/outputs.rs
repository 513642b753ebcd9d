//! Builds the event outputs of the catalog: `[outputs.<id>]` with a known `kind`, a URL of that
//! kind's scheme (or an `${ENV}` reference; a scheme the broker knows but IZA does not speak,
//! such as `amqps://`, refused with its reason), the TLS keys of `nats` and `mqtt` (see
//! `broker_tls.rs`), only the keys that kind reads, known event kinds,
//! services and groups, a `qos` of 0–2 and a positive `max_pending`. Diagnostics use the code
//! `invalid-output`, and `unknown-reference` for names.

use std::ops::Range;
use std::time::Duration;

use indexmap::IndexMap;

use super::Ctx;
use super::alerts::{list, reference};
use super::broker_tls::{self, Broker};
use super::fields::duration;
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::manifest::raw::RawOutput;
use crate::manifest::spanned::Spanned;
use crate::model::{BrokerTls, EVENT_KINDS, Output, OutputFilter, OutputKind};

/// The default time one publish may take.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default bound of an output's outbox.
pub(crate) const DEFAULT_MAX_PENDING: u64 = 100_000;

pub(super) fn build(ctx: &mut Ctx<'_>) -> IndexMap<String, Output> {
    let raw = ctx.raw;
    raw.outputs
        .iter()
        .filter_map(|(id, o)| output(ctx, id.get(), o.get()).map(|o| (id.get().clone(), o)))
        .collect()
}

fn error(message: String, span: Range<usize>) -> Diagnostic {
    Diagnostic::error(Code::InvalidOutput, message).at(span)
}

fn output(ctx: &mut Ctx<'_>, id: &str, o: &RawOutput) -> Option<Output> {
    let Some(kind) = OutputKind::parse(o.kind.get().trim()) else {
        let names = OutputKind::ALL.map(OutputKind::as_str);
        let d = error(
            format!(
                "output `{id}` has kind `{}`, which is not an output kind",
                o.kind.get()
            ),
            o.kind.span(),
        );
        ctx.push(match did_you_mean(o.kind.get(), names) {
            Some(close) => d.hint(format!("did you mean `{close}`?")),
            None => d.hint(format!("the kinds are {}", list(&names))),
        });
        return None;
    };
    let mut ok = true;
    let present: [(&str, Option<Range<usize>>); 9] = [
        ("prefix", o.prefix.as_ref().map(Spanned::span)),
        ("exchange", o.exchange.as_ref().map(Spanned::span)),
        ("jetstream", o.jetstream.map(|_| o.kind.span())),
        ("retain", o.retain.map(|_| o.kind.span())),
        ("qos", o.qos.as_ref().map(Spanned::span)),
        ("headers", o.headers.as_ref().map(Spanned::span)),
        ("ca_file", o.ca_file.as_ref().map(Spanned::span)),
        ("cert_file", o.cert_file.as_ref().map(Spanned::span)),
        ("key_file", o.key_file.as_ref().map(Spanned::span)),
    ];
    for (key, span) in &present {
        if let Some(span) = span
            && !kind.keys().contains(key)
        {
            ok = false;
            ctx.push(
                error(
                    format!(
                        "output `{id}` of kind `{}` does not read `{key}`",
                        kind.as_str()
                    ),
                    span.clone(),
                )
                .hint(format!(
                    "a `{}` output reads {}; remove `{key}`",
                    kind.as_str(),
                    list(kind.keys())
                )),
            );
        }
    }
    let url = o.url.get().trim();
    if !url.contains("${") {
        let scheme = url::Url::parse(url).ok().map(|u| u.scheme().to_owned());
        let unsupported = scheme
            .as_deref()
            .zip(broker(kind))
            .and_then(|(scheme, broker)| broker.unsupported(scheme));
        if let Some(why) = unsupported {
            ok = false;
            ctx.push(
                error(
                    format!(
                        "`url` of output `{id}` is `{}`: {why}",
                        crate::redact::redact_url(url),
                    ),
                    o.url.span(),
                )
                .hint(format!(
                    "a `{}` output speaks {}",
                    kind.as_str(),
                    list(kind.schemes())
                )),
            );
        } else if !scheme.is_some_and(|s| kind.schemes().contains(&s.as_str())) {
            ok = false;
            ctx.push(
                error(
                    format!(
                        "`url` of output `{id}` is `{}`, which is not a {} URL",
                        crate::redact::redact_url(url),
                        kind.as_str()
                    ),
                    o.url.span(),
                )
                .hint(format!(
                    "write `{}://…` ({}), or an environment reference such as `${{BROKER_URL}}`",
                    kind.schemes()[0],
                    list(kind.schemes())
                )),
            );
        }
    }
    let tls = match broker(kind) {
        Some(broker @ (Broker::Nats | Broker::Mqtt)) => {
            let keys = broker_tls::Keys {
                ca_file: o.ca_file.as_ref(),
                cert_file: o.cert_file.as_ref(),
                key_file: o.key_file.as_ref(),
            };
            let what = format!("output `{id}`");
            let tls = broker_tls::settings(ctx, Code::InvalidOutput, &what, broker, url, keys);
            ok &= tls.is_some();
            tls.unwrap_or_default()
        }
        // Refused above as keys this kind does not read.
        _ => BrokerTls::default(),
    };
    let mut events = Vec::new();
    if let Some(words) = &o.events {
        for (word, span) in words.words() {
            let known = match word.strip_suffix('*') {
                Some(prefix) => EVENT_KINDS.iter().any(|k| k.starts_with(prefix)),
                None => EVENT_KINDS.contains(&word),
            };
            if known {
                events.push(word.to_owned());
            } else {
                ok = false;
                let d = error(
                    format!("output `{id}` names the event kind `{word}`, which IZA never states"),
                    span,
                );
                ctx.push(match did_you_mean(word, EVENT_KINDS) {
                    Some(close) => d.hint(format!("did you mean `{close}`?")),
                    None => d.hint(
                        "docs/events.md lists the kinds; `process-*` matches every kind that starts with `process-`",
                    ),
                });
            }
        }
    }
    let what = format!("`services` of output `{id}`");
    let known: Vec<&str> = ctx.raw.services.keys().map(|k| k.get().as_str()).collect();
    for s in &o.services {
        reference(ctx, s, &what, "service", known.clone());
    }
    let what = format!("`groups` of output `{id}`");
    let groups: Vec<&str> = ctx.raw.groups.keys().map(|k| k.get().as_str()).collect();
    for g in &o.groups {
        reference(ctx, g, &what, "group", groups.clone());
    }
    let mut services: Vec<String> = o.services.iter().map(|s| s.get().clone()).collect();
    for (sid, service) in &ctx.raw.services {
        let in_group = service
            .get()
            .group
            .as_ref()
            .is_some_and(|g| o.groups.iter().any(|x| x.get() == g.get()));
        if in_group && !services.contains(sid.get()) {
            services.push(sid.get().clone());
        }
    }
    let qos = match &o.qos {
        Some(q) if *q.get() > 2 => {
            ok = false;
            ctx.push(
                error(
                    format!("`qos` of output `{id}` is {}; MQTT has 0, 1 and 2", q.get()),
                    q.span(),
                )
                .hint("write `qos = 1` (at least once), the default"),
            );
            1
        }
        Some(q) => *q.get(),
        None => 1,
    };
    let max_pending = match &o.max_pending {
        Some(m) if *m.get() == 0 => {
            ok = false;
            ctx.push(
                error(format!("`max_pending` of output `{id}` is zero"), m.span()).hint(
                    "give the number of events to keep while the output is down, such as `100000`",
                ),
            );
            DEFAULT_MAX_PENDING
        }
        Some(m) => *m.get(),
        None => DEFAULT_MAX_PENDING,
    };
    if let Some(p) = &o.prefix {
        let bad = p.get().is_empty()
            || p.get()
                .chars()
                .any(|c| c.is_whitespace() || matches!(c, '*' | '>' | '#' | '+' | '/'));
        if bad {
            ok = false;
            ctx.push(
                error(
                    format!(
                        "`prefix` of output `{id}` is `{}`, which cannot start a subject or topic",
                        p.get()
                    ),
                    p.span(),
                )
                .hint("use letters, digits, `-` and `_`, such as `iza`"),
            );
        }
    }
    let timeout = o
        .timeout
        .as_ref()
        .and_then(|d| {
            duration(
                ctx,
                Code::InvalidOutput,
                d,
                &format!("`timeout` of output `{id}`"),
            )
        })
        .unwrap_or(DEFAULT_TIMEOUT);
    ok.then(|| Output {
        id: id.to_owned(),
        kind,
        url: url.to_owned(),
        filter: OutputFilter {
            events,
            probes: o.probes.unwrap_or(false),
            services,
            groups: o.groups.iter().map(|g| g.get().clone()).collect(),
            severity: o.severity,
        },
        prefix: o
            .prefix
            .as_ref()
            .map_or_else(|| "iza".to_owned(), |p| p.get().clone()),
        exchange: (kind == OutputKind::Amqp).then(|| {
            o.exchange
                .as_ref()
                .map_or_else(|| "iza.events".to_owned(), |e| e.get().clone())
        }),
        jetstream: o.jetstream.unwrap_or(true),
        retain: o.retain.unwrap_or(true),
        qos,
        headers: o
            .headers
            .as_ref()
            .map(|h| h.get().clone())
            .unwrap_or_default(),
        timeout,
        max_pending,
        tls,
    })
}

/// The broker client of an output kind (none for a webhook).
fn broker(kind: OutputKind) -> Option<Broker> {
    match kind {
        OutputKind::Nats => Some(Broker::Nats),
        OutputKind::Amqp => Some(Broker::Amqp),
        OutputKind::Mqtt => Some(Broker::Mqtt),
        OutputKind::Webhook => None,
    }
}
