//! The checks about messages flowing, in the manifest: `push` (a dead man's switch) and the
//! round trips `nats`, `mqtt` and `amqp` with `round_trip`; each bad value is an
//! `invalid-check` error at its own line and column.

use std::time::Duration;

use iza_catalog::model::{CheckTarget, PushTarget, RoundTrip};
use iza_catalog::{SourceFile, Syntax};

#[test]
fn push_and_round_trip_checks_compile() {
    let text = r#"version = 1
[services.backup]
check = { push = true, expect_every = "5m", grace = "30s" }
[services.bus]
check = { nats = "nats://127.0.0.1:4222", subject = "iza.probe.bus", conditions = ["[ROUND_TRIP] < 50"] }
[services.mqtt]
check = { mqtt = "mqtt://127.0.0.1:1883" }
[services.queue]
check = { amqp = "amqp://guest:guest@127.0.0.1:5672", exchange = "orders", routing_key = "orders.created", queue = "billing" }
[services.broker]
check = { amqp = "amqp://guest:guest@127.0.0.1:5672" }
"#;
    let checked = iza_catalog::check(&SourceFile::new("iza.toml", text.to_owned(), Syntax::Toml));
    let catalog = checked
        .catalog
        .unwrap_or_else(|| panic!("{:#?}", checked.diagnostics));
    let target = |id: &str| catalog.services[id].check.as_ref().unwrap().target.clone();
    assert_eq!(
        target("backup"),
        CheckTarget::Push(PushTarget {
            expect_every: Duration::from_secs(300),
            grace: Duration::from_secs(30)
        })
    );
    assert_eq!(
        target("bus"),
        CheckTarget::Nats(RoundTrip {
            url: "nats://127.0.0.1:4222".into(),
            address: Some("iza.probe.bus".into()),
            exchange: None,
            queue: None
        })
    );
    assert!(matches!(target("mqtt"), CheckTarget::Mqtt(_)));
    assert_eq!(
        target("queue"),
        CheckTarget::AmqpRoundTrip(RoundTrip {
            url: "amqp://guest:guest@127.0.0.1:5672".into(),
            address: Some("orders.created".into()),
            exchange: Some("orders".into()),
            queue: Some("billing".into())
        })
    );
    // Without round-trip keys, `amqp` stays the handshake.
    assert!(matches!(target("broker"), CheckTarget::Amqp(_)));
}

#[test]
fn each_bad_value_is_reported_where_it_is() {
    let text = r#"version = 1
[services.a]
check = { push = true }
[services.b]
check = { push = true, expect_every = "soon" }
[services.c]
check = { http = "http://localhost:1/", expect_every = "5m" }
[services.d]
check = { tcp = "localhost:1", conditions = ["[ROUND_TRIP] < 5"] }
[services.e]
check = { nats = "nats://127.0.0.1:4222", subject = "iza.>" }
[services.f]
check = { mqtt = "http://127.0.0.1:1883" }
[services.g]
check = { push = false, expect_every = "1m" }
[services.h]
check = { tcp = "localhost:1", round_trip = true }
[services.i]
check = { push = true, expect_every = "1m", conditions = ["[STATUS] == 200"] }
"#;
    let source = SourceFile::new("iza.toml", text.to_owned(), Syntax::Toml);
    let checked = iza_catalog::check(&source);
    assert!(checked.catalog.is_none());
    let found: Vec<(usize, usize, String)> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            assert_eq!(d.code.as_str(), "invalid-check", "{d:?}");
            let at = source.line_column(d.span.clone().expect("a position").start);
            (at.line, at.column, d.message.clone())
        })
        .collect();
    let expect = |line: usize, column: usize, words: &str| {
        assert!(
            found
                .iter()
                .any(|(l, c, m)| *l == line && *c == column && m.contains(words)),
            "no diagnostic at {line}:{column} with `{words}` in {found:#?}"
        );
    };
    expect(3, 18, "push check without `expect_every`");
    expect(5, 39, "is not a duration");
    expect(
        7,
        56,
        "`expect_every` of the check of service `c` belongs to `push` checks",
    );
    expect(
        9,
        46,
        "reads `[ROUND_TRIP]`, which only round-trip checks report",
    );
    expect(11, 18, "has a wildcard");
    expect(13, 18, "scheme `http` is not one of `mqtt`, `tcp`");
    expect(15, 18, "`push` of the check of service `g` is false");
    expect(
        17,
        45,
        "`round_trip` of the check of service `h` needs an `amqp` check",
    );
    expect(19, 59, "is a push check and has conditions");
    assert!(
        !found
            .iter()
            .any(|(_, _, m)| m.contains("must have exactly one")),
        "an invalid push check still counts as its kind: {found:#?}"
    );
}
