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
            queue: None,
            tls: Default::default(),
        })
    );
    assert!(matches!(target("mqtt"), CheckTarget::Mqtt(_)));
    assert_eq!(
        target("queue"),
        CheckTarget::AmqpRoundTrip(RoundTrip {
            url: "amqp://guest:guest@127.0.0.1:5672".into(),
            address: Some("orders.created".into()),
            exchange: Some("orders".into()),
            queue: Some("billing".into()),
            tls: Default::default(),
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
    expect(13, 18, "scheme `http` is not one of `mqtt`, `mqtts`, `tcp`");
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

#[test]
fn broker_tls_files_are_read_and_resolved_against_the_manifest() {
    let text = r#"version = 1
[services.mqtt]
check = { mqtt = "mqtts://127.0.0.1:8883", ca_file = "certs/ca.pem", cert_file = "certs/iza.pem", key_file = "/etc/iza/iza.key" }
[services.bus]
check = { nats = "tls://127.0.0.1:4222", ca_file = "ca.pem" }
[inputs.results]
kind = "mqtt"
url = "mqtts://127.0.0.1:8883"
topic = "iza/results/+"
ca_file = "ca.pem"
[inputs.nats]
kind = "nats"
url = "nats://127.0.0.1:4222"
subject = "iza.results.>"
"#;
    let checked = iza_catalog::check(&SourceFile::new(
        "/srv/eco/iza.toml",
        text.to_owned(),
        Syntax::Toml,
    ));
    let catalog = checked
        .catalog
        .unwrap_or_else(|| panic!("{:#?}", checked.diagnostics));
    let CheckTarget::Mqtt(mqtt) = &catalog.services["mqtt"].check.as_ref().unwrap().target else {
        panic!("an mqtt check");
    };
    let path = |p: &str| Some(std::path::PathBuf::from(p));
    assert_eq!(mqtt.tls.ca_file, path("/srv/eco/certs/ca.pem"));
    assert_eq!(mqtt.tls.cert_file, path("/srv/eco/certs/iza.pem"));
    assert_eq!(mqtt.tls.key_file, path("/etc/iza/iza.key"));
    let CheckTarget::Nats(nats) = &catalog.services["bus"].check.as_ref().unwrap().target else {
        panic!("a nats check");
    };
    assert_eq!(nats.tls.ca_file, path("/srv/eco/ca.pem"));
    assert_eq!(
        catalog.inputs["results"].tls.ca_file,
        path("/srv/eco/ca.pem")
    );
    assert!(catalog.inputs["nats"].tls.is_empty());
}

#[test]
fn unsupported_schemes_and_misplaced_tls_keys_are_refused_where_they_are() {
    let text = r#"version = 1
[services.a]
check = { mqtt = "mqtts://127.0.0.1:8883", ca_file = "" }
[services.b]
check = { mqtt = "mqtt://127.0.0.1:1883", ca_file = "plain-ca.pem" }
[services.c]
check = { nats = "tls://127.0.0.1:4222", cert_file = "lonely.pem" }
[services.d]
check = { tcp = "localhost:1", ca_file = "tcp-ca.pem" }
[services.e]
check = { amqp = "amqps://127.0.0.1", round_trip = true }
[services.f]
check = { mqtt = "ws://127.0.0.1:9001" }
[inputs.i1]
kind = "amqp"
url = "amqps://127.0.0.1"
queue = "q"
[inputs.i2]
kind = "mqtt"
url = "mqtt://127.0.0.1"
topic = "t/+"
ca_file = "input-ca.pem"
"#;
    let source = SourceFile::new("iza.toml", text.to_owned(), Syntax::Toml);
    let checked = iza_catalog::check(&source);
    assert!(checked.catalog.is_none());
    let expect = |needle: &str, code: &str, words: &str| {
        let found = checked
            .diagnostics
            .iter()
            .filter(|d| d.is_error() && d.code.as_str() == code && d.message.contains(words))
            .find(|d| d.span.clone().is_some_and(|span| &text[span] == needle));
        found.unwrap_or_else(|| {
            panic!(
                "no `{code}` error with `{words}` at {needle}: {:#?}",
                checked
                    .diagnostics
                    .iter()
                    .map(|d| (
                        d.message.clone(),
                        d.span.clone().map(|s| text[s].to_owned())
                    ))
                    .collect::<Vec<_>>()
            )
        });
    };
    expect(
        "\"\"",
        "invalid-check",
        "`ca_file` of the check of service `a` is empty",
    );
    expect("\"plain-ca.pem\"", "invalid-check", "does not speak TLS");
    expect(
        "\"lonely.pem\"",
        "invalid-check",
        "`cert_file` without `key_file`",
    );
    expect(
        "\"tcp-ca.pem\"",
        "invalid-check",
        "belongs to `nats` and `mqtt` checks",
    );
    expect(
        "\"amqps://127.0.0.1\"",
        "invalid-check",
        "AMQP over TLS (`amqps://`) is not supported",
    );
    expect(
        "\"ws://127.0.0.1:9001\"",
        "invalid-check",
        "MQTT over WebSockets",
    );
    expect(
        "\"amqps://127.0.0.1\"",
        "invalid-value",
        "AMQP over TLS (`amqps://`) is not supported",
    );
    expect("\"input-ca.pem\"", "invalid-value", "does not speak TLS");
}
