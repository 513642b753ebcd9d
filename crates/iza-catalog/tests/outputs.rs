//! Event outputs in the manifest (docs/events.md): `[outputs.<id>]` of each kind with its
//! defaults, the filters, each mistake reported with its code at its value (file:line:column
//! comes from the span) with a hint, the JSON Schema in agreement, and credentials masked.

use std::time::Duration;

use iza_catalog::model::{OutputKind, Severity};
use iza_catalog::redact::Redact as _;
use iza_catalog::{Catalog, SourceFile, Syntax};

const BASE: &str = r#"
version = 1
[groups.data]
[services.db]
group = "data"
[services.cache]
group = "data"
[services.api]
depends_on = ["db"]
"#;

fn check(text: &str) -> iza_catalog::Checked {
    iza_catalog::check(&SourceFile::new("x.toml", text.to_owned(), Syntax::Toml))
}

fn compile(text: &str) -> Catalog {
    let checked = check(text);
    let errors: Vec<_> = checked.errors().map(|d| d.message.clone()).collect();
    assert!(errors.is_empty(), "{errors:?}\n{text}");
    checked.catalog.expect("a catalog")
}

#[test]
fn every_kind_is_read_with_its_defaults() {
    let catalog = compile(&format!(
        r#"{BASE}
[outputs.bus]
kind = "nats"
url = "nats://127.0.0.1:4222"

[outputs.rabbit]
kind = "amqp"
url = "amqp://guest:guest@127.0.0.1:5672/%2f"
exchange = "ops.events"
events = ["status-changed", "alert-*"]
severity = "warning"

[outputs.mosquitto]
kind = "mqtt"
url = "mqtt://127.0.0.1:1883"
qos = 0
retain = false
groups = ["data"]
probes = true
max_pending = 10

[outputs.hook]
kind = "webhook"
url = "${{HOOK_URL}}"
headers = {{ Authorization = "${{HOOK_TOKEN}}" }}
services = ["api"]
timeout = "3s"
"#
    ));
    let bus = &catalog.outputs["bus"];
    assert_eq!(bus.kind, OutputKind::Nats);
    assert_eq!(bus.prefix, "iza");
    assert!(bus.jetstream);
    assert_eq!(bus.max_pending, 100_000);
    assert_eq!(bus.timeout, Duration::from_secs(10));
    assert!(bus.filter.events.is_empty());
    assert!(!bus.filter.probes);
    let rabbit = &catalog.outputs["rabbit"];
    assert_eq!(rabbit.exchange.as_deref(), Some("ops.events"));
    assert_eq!(rabbit.filter.severity, Some(Severity::Warning));
    let mqtt = &catalog.outputs["mosquitto"];
    assert_eq!((mqtt.qos, mqtt.retain, mqtt.max_pending), (0, false, 10));
    assert_eq!(mqtt.filter.services, ["db", "cache"]);
    let hook = &catalog.outputs["hook"];
    assert_eq!(hook.url, "${HOOK_URL}");
    assert_eq!(hook.timeout, Duration::from_secs(3));
    assert_eq!(hook.filter.services, ["api"]);

    // The filters.
    assert!(
        bus.filter
            .accepts("status-changed", Some("db"), Severity::Info)
    );
    assert!(
        !bus.filter
            .accepts("probe-completed", Some("db"), Severity::Info)
    );
    assert!(
        mqtt.filter
            .accepts("probe-completed", Some("db"), Severity::Info)
    );
    assert!(
        !mqtt
            .filter
            .accepts("status-changed", Some("api"), Severity::Info)
    );
    assert!(
        !mqtt
            .filter
            .accepts("manifest-reloaded", None, Severity::Info)
    );
    assert!(
        rabbit
            .filter
            .accepts("alert-firing", Some("db"), Severity::Critical)
    );
    assert!(
        !rabbit
            .filter
            .accepts("alert-resolved", Some("db"), Severity::Info)
    );
    assert!(
        !rabbit
            .filter
            .accepts("process-failed", Some("db"), Severity::Critical)
    );
}

#[test]
fn each_mistake_is_reported_with_its_code_at_its_value() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "unknown kind",
            "[outputs.x]\nkind = \"natz\"\nurl = \"nats://a\"\n",
            "invalid-output",
            "\"natz\"",
        ),
        (
            "wrong scheme",
            "[outputs.x]\nkind = \"mqtt\"\nurl = \"nats://a:4222\"\n",
            "invalid-output",
            "\"nats://a:4222\"",
        ),
        (
            "key of another kind",
            "[outputs.x]\nkind = \"nats\"\nurl = \"nats://a\"\nexchange = \"e\"\n",
            "invalid-output",
            "\"e\"",
        ),
        (
            "unknown event kind",
            "[outputs.x]\nkind = \"nats\"\nurl = \"nats://a\"\nevents = [\"status-change\"]\n",
            "invalid-output",
            "\"status-change\"",
        ),
        (
            "bad qos",
            "[outputs.x]\nkind = \"mqtt\"\nurl = \"mqtt://a\"\nqos = 3\n",
            "invalid-output",
            "3",
        ),
        (
            "zero max_pending",
            "[outputs.x]\nkind = \"mqtt\"\nurl = \"mqtt://a\"\nmax_pending = 0\n",
            "invalid-output",
            "0",
        ),
        (
            "bad prefix",
            "[outputs.x]\nkind = \"nats\"\nurl = \"nats://a\"\nprefix = \"a.>\"\n",
            "invalid-output",
            "\"a.>\"",
        ),
        (
            "bad timeout",
            "[outputs.x]\nkind = \"nats\"\nurl = \"nats://a\"\ntimeout = \"soon\"\n",
            "invalid-output",
            "\"soon\"",
        ),
        (
            "amqps, which the RabbitMQ client does not speak",
            "[outputs.x]\nkind = \"amqp\"\nurl = \"amqps://a:5671\"\n",
            "invalid-output",
            "\"amqps://a:5671\"",
        ),
        (
            "MQTT over websockets",
            "[outputs.x]\nkind = \"mqtt\"\nurl = \"wss://a\"\n",
            "invalid-output",
            "\"wss://a\"",
        ),
        (
            "TLS keys on a plain MQTT URL",
            "[outputs.x]\nkind = \"mqtt\"\nurl = \"mqtt://a\"\nca_file = \"ca.pem\"\n",
            "invalid-output",
            "\"ca.pem\"",
        ),
        (
            "a client certificate without its key",
            "[outputs.x]\nkind = \"mqtt\"\nurl = \"mqtts://a\"\ncert_file = \"c.pem\"\n",
            "invalid-output",
            "\"c.pem\"",
        ),
        (
            "TLS keys on an AMQP output",
            "[outputs.x]\nkind = \"amqp\"\nurl = \"amqp://a\"\nca_file = \"ca.pem\"\n",
            "invalid-output",
            "\"ca.pem\"",
        ),
        (
            "unknown service",
            "[outputs.x]\nkind = \"nats\"\nurl = \"nats://a\"\nservices = [\"dbb\"]\n",
            "unknown-reference",
            "\"dbb\"",
        ),
        (
            "unknown group",
            "[outputs.x]\nkind = \"nats\"\nurl = \"nats://a\"\ngroups = [\"dta\"]\n",
            "unknown-reference",
            "\"dta\"",
        ),
    ];
    for (what, extra, code, needle) in cases {
        let text = format!("{BASE}{extra}");
        let checked = check(&text);
        let found = checked
            .diagnostics
            .iter()
            .find(|d| d.code.as_str() == *code && d.is_error())
            .unwrap_or_else(|| {
                panic!(
                    "{what}: no `{code}` in {:?}",
                    checked
                        .diagnostics
                        .iter()
                        .map(|d| (d.code.as_str(), d.message.as_str()))
                        .collect::<Vec<_>>()
                )
            });
        let span = found
            .span
            .clone()
            .unwrap_or_else(|| panic!("{what}: no position"));
        assert_eq!(&text[span.clone()], *needle, "{what}: {}", found.message);
        assert!(span.start >= BASE.len(), "{what}: points into the case");
        assert!(!found.hints.is_empty(), "{what}: a hint says what to do");
        assert!(checked.catalog.is_none(), "{what}");
    }
}

#[test]
fn output_credentials_are_masked() {
    let catalog = compile(&format!(
        "{BASE}[outputs.r]\nkind = \"amqp\"\nurl = \"amqp://iza:s3cretpass@127.0.0.1:5672/%2f\"\n"
    ));
    let shown = catalog.redacted();
    assert!(
        !shown.outputs["r"].url.contains("s3cretpass"),
        "{}",
        shown.outputs["r"].url
    );
    assert!(catalog.outputs["r"].url.contains("s3cretpass"));
}

#[test]
fn the_schema_knows_every_output_key() {
    let schema = iza_catalog::schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let cases = [
        (
            "[outputs.x]\nkind = \"mqtt\"\nurl = \"mqtt://a\"\nprefix = \"p\"\nretain = true\nqos = 1\nevents = \"status-changed\"\nprobes = true\nservices = [\"db\"]\ngroups = [\"data\"]\nseverity = \"info\"\ntimeout = \"1s\"\nmax_pending = 5\n",
            true,
        ),
        (
            "[outputs.x]\nkind = \"amqp\"\nurl = \"amqp://a\"\nexchange = \"e\"\n",
            true,
        ),
        (
            "[outputs.x]\nkind = \"mqtt\"\nurl = \"mqtts://a:8883\"\nca_file = \"ca.pem\"\ncert_file = \"c.pem\"\nkey_file = \"c.key\"\n",
            true,
        ),
        (
            "[outputs.x]\nkind = \"nats\"\nurl = \"tls://a:4222\"\nca_file = \"ca.pem\"\n",
            true,
        ),
        (
            "[outputs.x]\nkind = \"mqtt\"\nurl = \"mqtts://a\"\ncafile = \"ca.pem\"\n",
            false,
        ),
        (
            "[outputs.x]\nkind = \"nats\"\nurl = \"nats://a\"\njetstream = false\n",
            true,
        ),
        (
            "[outputs.x]\nkind = \"webhook\"\nurl = \"https://a\"\nheaders = { A = \"b\" }\n",
            true,
        ),
        (
            "[outputs.x]\nkind = \"nats\"\nurl = \"nats://a\"\nsubject = \"s\"\n",
            false,
        ),
        ("[outputs.x]\nkind = \"nats\"\n", false),
    ];
    for (extra, valid) in cases {
        let text = format!("{BASE}{extra}");
        let json: serde_json::Value = toml::from_str(&text).unwrap();
        assert_eq!(validator.is_valid(&json), valid, "{extra}");
        let parsed = iza_catalog::parse_raw(&SourceFile::new("x.toml", text.clone(), Syntax::Toml));
        assert_eq!(parsed.is_ok(), valid, "the parser agrees on {extra}");
        if valid {
            compile(&text);
        }
    }
}
