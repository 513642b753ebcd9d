//! Validates the check kinds about messages flowing: the round trips (`nats`, `mqtt`, and
//! `amqp` with `round_trip = true`) and the `push` check (a dead man's switch), with the keys
//! that belong to them (`subject`, `topic`, `exchange`, `routing_key`, `queue`,
//! `expect_every`, `grace`) refused on any other kind; and the `[inputs.*]` pushed results
//! come from.

use std::ops::Range;

use super::Ctx;
use super::broker_tls::{self, Broker};
use super::fields::duration;
use crate::diagnostic::{Code, Diagnostic};
use crate::manifest::raw::RawCheck;
use crate::manifest::spanned::Spanned;
use crate::model::{BrokerTls, CheckTarget, Input, InputKind, PushTarget, RoundTrip};

/// A kind found in a check: its target, the span of its key, and what is wrong with it.
pub(super) type Found = (CheckTarget, Range<usize>, Option<String>);

/// Whether the `amqp` key asks for a round trip rather than the handshake.
pub(super) fn amqp_round_trip(c: &RawCheck) -> bool {
    c.round_trip.as_ref().is_some_and(|r| *r.get())
        || c.exchange.is_some()
        || c.queue.is_some()
        || c.routing_key.is_some()
}

fn text(value: Option<&Spanned<String>>) -> Option<String> {
    value.map(|v| v.get().trim().to_owned())
}

/// The round-trip kinds of a check: `nats`, `mqtt`, and `amqp` as a round trip. Returns
/// whether their TLS keys are valid (reported when not).
pub(super) fn round_trips(
    ctx: &mut Ctx<'_>,
    what: &dyn std::fmt::Display,
    c: &RawCheck,
    found: &mut Vec<Found>,
) -> bool {
    let keys = broker_tls::Keys {
        ca_file: c.ca_file.as_ref(),
        cert_file: c.cert_file.as_ref(),
        key_file: c.key_file.as_ref(),
    };
    let mut ok = true;
    let mut tls = |ctx: &mut Ctx<'_>, broker: Broker, url: &str| {
        let tls = broker_tls::settings(ctx, Code::InvalidCheck, what, broker, url, keys);
        ok &= tls.is_some();
        tls.unwrap_or_default()
    };
    if let Some(u) = &c.nats {
        let target = RoundTrip {
            url: u.get().clone(),
            address: text(c.subject.as_ref()),
            exchange: None,
            queue: None,
            tls: tls(ctx, Broker::Nats, u.get()),
        };
        let problem = broker_tls::url_problem(u.get(), Broker::Nats).or_else(|| {
            subject_problem(target.address.as_deref(), |s| {
                s.contains(['*', '>', ' '])
                    .then(|| format!("the subject `{s}` has a wildcard or a space: a probe message needs one concrete subject"))
            })
        });
        found.push((CheckTarget::Nats(target), u.span(), problem));
    }
    if let Some(u) = &c.mqtt {
        let target = RoundTrip {
            url: u.get().clone(),
            address: text(c.topic.as_ref()),
            exchange: None,
            queue: None,
            tls: tls(ctx, Broker::Mqtt, u.get()),
        };
        let problem = broker_tls::url_problem(u.get(), Broker::Mqtt).or_else(|| {
            subject_problem(target.address.as_deref(), |t| {
                t.contains(['+', '#']).then(|| {
                    format!(
                        "the topic `{t}` has a wildcard: a probe message needs one concrete topic"
                    )
                })
            })
        });
        found.push((CheckTarget::Mqtt(target), u.span(), problem));
    }
    ok
}

fn subject_problem(
    address: Option<&str>,
    wildcard: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    match address {
        Some("") => Some("the subject or topic is empty".to_owned()),
        Some(a) => wildcard(a),
        None => None,
    }
}

/// The AMQP round trip of a check whose `amqp` key asks for one.
pub(super) fn amqp(c: &RawCheck, url: &Spanned<String>) -> Found {
    let target = RoundTrip {
        url: url.get().clone(),
        address: text(c.routing_key.as_ref()),
        exchange: text(c.exchange.as_ref()).filter(|e| !e.is_empty()),
        queue: text(c.queue.as_ref()),
        tls: BrokerTls::default(),
    };
    let problem = broker_tls::url_problem(url.get(), Broker::Amqp).or_else(|| {
        (target.queue.as_deref() == Some(""))
            .then(|| "the queue name is empty".to_owned())
            .or_else(|| {
                (target.exchange.is_none() && target.queue.is_none() && target.address.is_some())
                    .then(|| "a `routing_key` on the default exchange names a queue: give `queue` (or `exchange`)".to_owned())
            })
    });
    (CheckTarget::AmqpRoundTrip(target), url.span(), problem)
}

/// The push kind of a check, if it has `push`.
pub(super) fn push(
    ctx: &mut Ctx<'_>,
    what: &dyn std::fmt::Display,
    c: &RawCheck,
    found: &mut Vec<Found>,
) -> bool {
    let Some(p) = &c.push else {
        return true;
    };
    let mut ok = true;
    if !*p.get() {
        ctx.push(
            Diagnostic::error(Code::InvalidCheck, format!("`push` of {what} is false"))
                .at(p.span())
                .hint("write `push = true` with `expect_every`, or give the check another kind"),
        );
        ok = false;
    }
    let label = format!("`expect_every` of {what}");
    let expect_every = match &c.expect_every {
        Some(d) => duration(ctx, Code::InvalidCheck, d, &label),
        None => {
            ctx.push(
                Diagnostic::error(
                    Code::InvalidCheck,
                    format!("{what} is a push check without `expect_every`"),
                )
                .at(p.span())
                .hint(
                    "say how often pushes come: `check = { push = true, expect_every = \"5m\" }`",
                ),
            );
            None
        }
    };
    let grace = match &c.grace {
        Some(d) => duration(ctx, Code::InvalidCheck, d, &format!("`grace` of {what}")),
        None => Some(std::time::Duration::ZERO),
    };
    if let Some(first) = c.conditions.first() {
        ctx.push(
            Diagnostic::error(
                Code::InvalidCheck,
                format!("{what} is a push check and has conditions"),
            )
            .at(first.span())
            .hint("a pushed result says up or down itself; remove the conditions"),
        );
        ok = false;
    }
    // Counted as the check's kind even when invalid, so that no "exactly one kind" error
    // follows the one that says what is wrong.
    ok &= expect_every.is_some() && grace.is_some();
    found.push((
        CheckTarget::Push(PushTarget {
            expect_every: expect_every.unwrap_or(std::time::Duration::from_secs(300)),
            grace: grace.unwrap_or_default(),
        }),
        p.span(),
        None,
    ));
    ok
}

/// Refuses the keys of these kinds on a check of another kind.
pub(super) fn refuse_misplaced(
    ctx: &mut Ctx<'_>,
    what: &dyn std::fmt::Display,
    c: &RawCheck,
    target: &CheckTarget,
) -> bool {
    let (nats, mqtt, amqp, push) = (
        matches!(target, CheckTarget::Nats(_)),
        matches!(target, CheckTarget::Mqtt(_)),
        matches!(target, CheckTarget::AmqpRoundTrip(_)),
        matches!(target, CheckTarget::Push(_)),
    );
    let keys: [(&str, Option<Range<usize>>, bool, &str); 10] = [
        (
            "subject",
            c.subject.as_ref().map(Spanned::span),
            nats,
            "`nats`",
        ),
        ("topic", c.topic.as_ref().map(Spanned::span), mqtt, "`mqtt`"),
        (
            "exchange",
            c.exchange.as_ref().map(Spanned::span),
            amqp,
            "`amqp`",
        ),
        (
            "routing_key",
            c.routing_key.as_ref().map(Spanned::span),
            amqp,
            "`amqp`",
        ),
        ("queue", c.queue.as_ref().map(Spanned::span), amqp, "`amqp`"),
        (
            "expect_every",
            c.expect_every.as_ref().map(Spanned::span),
            push,
            "`push`",
        ),
        ("grace", c.grace.as_ref().map(Spanned::span), push, "`push`"),
        (
            "ca_file",
            c.ca_file.as_ref().map(Spanned::span),
            nats || mqtt,
            "`nats` and `mqtt`",
        ),
        (
            "cert_file",
            c.cert_file.as_ref().map(Spanned::span),
            nats || mqtt,
            "`nats` and `mqtt`",
        ),
        (
            "key_file",
            c.key_file.as_ref().map(Spanned::span),
            nats || mqtt,
            "`nats` and `mqtt`",
        ),
    ];
    let mut ok = true;
    for (key, span, fits, kind) in keys {
        if let Some(span) = span
            && !fits
        {
            ctx.push(
                Diagnostic::error(
                    Code::InvalidCheck,
                    format!("`{key}` of {what} belongs to {kind} checks"),
                )
                .at(span)
                .hint(format!("remove `{key}`, or make it a {kind} check")),
            );
            ok = false;
        }
    }
    if let Some(r) = &c.round_trip
        && *r.get()
        && !(nats || mqtt || amqp)
    {
        ctx.push(
            Diagnostic::error(
                Code::InvalidCheck,
                format!("`round_trip` of {what} needs an `amqp` check"),
            )
            .at(r.span())
            .hint("`nats` and `mqtt` checks always make a round trip; `round_trip = true` goes with `amqp = \"URL\"`"),
        );
        ok = false;
    }
    ok
}

/// The `[inputs.*]`: each a known `kind` with its URL and the one key of its kind.
pub(super) fn inputs(ctx: &mut Ctx<'_>) -> indexmap::IndexMap<String, Input> {
    let raw = ctx.raw;
    let mut built = indexmap::IndexMap::new();
    for (id, spanned) in &raw.inputs {
        let i = spanned.get();
        let what = format!("input `{}`", id.get());
        let (kind, broker, key, from) = match i.kind.get().as_str() {
            "nats" => (InputKind::Nats, Broker::Nats, "subject", &i.subject),
            "amqp" => (InputKind::Amqp, Broker::Amqp, "queue", &i.queue),
            "mqtt" => (InputKind::Mqtt, Broker::Mqtt, "topic", &i.topic),
            other => {
                ctx.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!(
                            "the kind `{other}` of {what} is not one of `nats`, `amqp`, `mqtt`"
                        ),
                    )
                    .at(i.kind.span()),
                );
                continue;
            }
        };
        let mut ok = true;
        if let Some(problem) = broker_tls::url_problem(i.url.get(), broker) {
            ctx.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("the URL of {what} is invalid: {problem}"),
                )
                .at(i.url.span()),
            );
            ok = false;
        }
        for (other, value) in [
            ("subject", &i.subject),
            ("queue", &i.queue),
            ("topic", &i.topic),
        ] {
            if other != key
                && let Some(value) = value
            {
                ctx.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!(
                            "`{other}` of {what} does not go with kind `{}`",
                            i.kind.get()
                        ),
                    )
                    .at(value.span())
                    .hint(format!("a `{}` input takes `{key}`", i.kind.get())),
                );
                ok = false;
            }
        }
        let keys = broker_tls::Keys {
            ca_file: i.ca_file.as_ref(),
            cert_file: i.cert_file.as_ref(),
            key_file: i.key_file.as_ref(),
        };
        let tls = if broker == Broker::Amqp {
            if let Some(first) = [&i.ca_file, &i.cert_file, &i.key_file]
                .into_iter()
                .flatten()
                .next()
            {
                ctx.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!("{what} is an `amqp` input, which does not speak TLS"),
                    )
                    .at(first.span())
                    .hint("`ca_file`, `cert_file` and `key_file` go with `nats` and `mqtt` inputs; remove them"),
                );
                ok = false;
            }
            BrokerTls::default()
        } else {
            let tls =
                broker_tls::settings(ctx, Code::InvalidValue, &what, broker, i.url.get(), keys);
            ok &= tls.is_some();
            tls.unwrap_or_default()
        };
        let from = match from {
            Some(f) if !f.get().trim().is_empty() => f.get().trim().to_owned(),
            Some(f) => {
                ctx.push(
                    Diagnostic::error(Code::InvalidValue, format!("`{key}` of {what} is empty"))
                        .at(f.span()),
                );
                continue;
            }
            None => {
                ctx.push(
                    Diagnostic::error(Code::InvalidValue, format!("{what} has no `{key}`"))
                        .at(spanned.span())
                        .hint(format!(
                            "for example `{key} = \"{}\"`",
                            match kind {
                                InputKind::Nats => "iza.results.>",
                                InputKind::Amqp => "iza.results",
                                InputKind::Mqtt => "iza/results/+",
                            }
                        )),
                );
                continue;
            }
        };
        if ok {
            built.insert(
                id.get().clone(),
                Input {
                    id: id.get().clone(),
                    kind,
                    url: i.url.get().clone(),
                    from,
                    tls,
                },
            );
        }
    }
    built
}
