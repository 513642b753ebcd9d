//! Alerting in the manifest (docs/alerts.md): notifiers, `[[alerts]]` rules, maintenance
//! windows and the agents' `notify` / `ack_within`: every key with its default, TOML and YAML
//! alike, each mistake reported with its code at its value with a hint, the JSON Schema in
//! agreement with the parser, and secrets masked.

use std::time::Duration;

use iza_catalog::model::{
    AlertOn, MaintenanceWindow, NotifierKind, ServiceKind, Severity, SmtpTls,
};
use iza_catalog::redact::Redact as _;
use iza_catalog::{Catalog, SourceFile, Syntax};

const BASE: &str = r#"
version = 1
[groups.data]
[services.db]
group = "data"
kind = "database"
tags = ["critical-path"]
[services.api]
depends_on = ["db"]
[agents.boss]
tier = 1
notify = ["chat"]
[agents.ops]
tier = 2
reports_to = "boss"
services = ["db", "api"]
notify = ["ops"]
ack_within = "15m"
[notifiers.ops]
kind = "webhook"
url = "${OPS_HOOK}"
secret = "${OPS_SECRET}"
headers = { X-Team = "ops" }
[notifiers.chat]
kind = "slack"
url = "https://hooks.example.com/services/T000/B000/literalsecret"
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
fn every_key_is_read_with_its_default() {
    let catalog = compile(&format!(
        r#"{BASE}
[[alerts]]
name = "all down"
notify = ["ops"]

[[alerts]]
name = "data"
groups = ["data"]
services = ["api"]
tags = ["critical-path"]
kinds = ["database"]
statuses = ["down", "impacted", "degraded"]
for = "30s"
repeat = "1h"
send_resolved = false
severity = "critical"
notify = ["ops", "chat"]
to_agent = true
group_wait = "5s"

[[maintenance]]
name = "nightly"
services = ["db"]
cron = "0 0 3 * * *"
timezone = "Europe/Paris"
duration = "30m"

[[maintenance]]
name = "upgrade"
groups = ["data"]
start = "2026-12-24T22:00:00Z"
end = "2026-12-25T02:00:00Z"
"#
    ));
    let first = &catalog.alerts[0];
    assert_eq!(first.statuses, [AlertOn::Down]);
    assert_eq!(first.r#for, Duration::ZERO);
    assert_eq!(first.repeat, None);
    assert!(first.send_resolved);
    assert_eq!(first.severity, Severity::Warning);
    assert!(!first.to_agent);
    assert_eq!(first.group_wait, Duration::from_secs(2));
    let second = &catalog.alerts[1];
    assert_eq!(second.kinds, [ServiceKind::Database]);
    assert_eq!(
        second.statuses,
        [AlertOn::Down, AlertOn::Impacted, AlertOn::Degraded]
    );
    assert_eq!(second.r#for, Duration::from_secs(30));
    assert_eq!(second.repeat, Some(Duration::from_secs(3600)));
    assert!(!second.send_resolved);
    assert_eq!(second.severity, Severity::Critical);
    assert!(second.to_agent);
    assert_eq!(second.group_wait, Duration::from_secs(5));
    assert!(second.selects(&catalog.services["db"]));
    assert!(second.selects(&catalog.services["api"]));
    let ops = &catalog.notifiers["ops"];
    assert_eq!(ops.kind, NotifierKind::Webhook);
    assert_eq!(ops.url.as_deref(), Some("${OPS_HOOK}"));
    assert_eq!(ops.timeout, Duration::from_secs(10));
    assert_eq!(ops.retries, 5);
    assert_eq!(catalog.agents["ops"].notify, ["ops"]);
    assert_eq!(
        catalog.agents["ops"].ack_within,
        Some(Duration::from_secs(900))
    );
    assert_eq!(
        catalog.maintenance[0].window,
        MaintenanceWindow::Cron {
            expression: "0 0 3 * * *".to_owned(),
            timezone: Some("Europe/Paris".to_owned()),
            duration: Duration::from_secs(1800),
        }
    );
    assert_eq!(
        catalog.maintenance[1].window,
        MaintenanceWindow::Fixed {
            start: 1_798_149_600_000,
            end: 1_798_164_000_000,
        }
    );
}

#[test]
fn yaml_reads_the_same() {
    let yaml = r#"
version: 1
services:
  db: {}
notifiers:
  ops: { kind: webhook, url: "${OPS_HOOK}" }
alerts:
  - name: down
    notify: [ops]
    for: 10s
    statuses: impacted
maintenance:
  - { name: m, cron: "0 3 * * *", duration: 1h }
"#;
    let checked = iza_catalog::check(&SourceFile::new("x.yaml", yaml.to_owned(), Syntax::Yaml));
    let catalog = checked
        .catalog
        .unwrap_or_else(|| panic!("{:?}", checked.diagnostics));
    assert_eq!(catalog.alerts[0].statuses, [AlertOn::Impacted]);
    assert_eq!(catalog.alerts[0].r#for, Duration::from_secs(10));
    assert_eq!(catalog.maintenance.len(), 1);
}

#[test]
fn each_mistake_is_reported_with_its_code_at_its_value() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "unknown kind",
            "[notifiers.x]\nkind = \"slak\"\nurl = \"https://a/\"\n",
            "invalid-notifier",
            "\"slak\"",
        ),
        (
            "key of another kind",
            "[notifiers.x]\nkind = \"slack\"\nurl = \"https://a/\"\nsecret = \"${S}\"\n",
            "invalid-notifier",
            "\"${S}\"",
        ),
        (
            "no url",
            "[notifiers.x]\nkind = \"webhook\"\n",
            "invalid-notifier",
            "\"webhook\"",
        ),
        (
            "not http",
            "[notifiers.x]\nkind = \"webhook\"\nurl = \"ftp://a/\"\n",
            "invalid-notifier",
            "\"ftp://a/\"",
        ),
        (
            "pagerduty without token",
            "[notifiers.x]\nkind = \"pagerduty\"\n",
            "invalid-notifier",
            "\"pagerduty\"",
        ),
        (
            "bad timeout",
            "[notifiers.x]\nkind = \"slack\"\nurl = \"https://a/\"\ntimeout = \"soon\"\n",
            "invalid-notifier",
            "\"soon\"",
        ),
        (
            "unknown notifier",
            "[[alerts]]\nname = \"a\"\nnotify = [\"opps\"]\n",
            "unknown-reference",
            "\"opps\"",
        ),
        (
            "unknown service",
            "[[alerts]]\nname = \"a\"\nnotify = [\"ops\"]\nservices = [\"dbb\"]\n",
            "unknown-reference",
            "\"dbb\"",
        ),
        (
            "unknown status",
            "[[alerts]]\nname = \"a\"\nnotify = [\"ops\"]\nstatuses = [\"dwon\"]\n",
            "invalid-alert",
            "\"dwon\"",
        ),
        (
            "unknown kind of service",
            "[[alerts]]\nname = \"a\"\nnotify = [\"ops\"]\nkinds = [\"db\"]\n",
            "invalid-alert",
            "\"db\"",
        ),
        (
            "bad for",
            "[[alerts]]\nname = \"a\"\nnotify = [\"ops\"]\nfor = \"0s\"\n",
            "invalid-alert",
            "\"0s\"",
        ),
        (
            "tells nobody",
            "[[alerts]]\nname = \"quiet\"\n",
            "invalid-alert",
            "\"quiet\"",
        ),
        (
            "twice",
            "[[alerts]]\nname = \"a\"\nnotify = [\"ops\"]\n[[alerts]]\nname = \"a\"\nnotify = [\"ops\"]\n",
            "duplicate-id",
            "\"a\"",
        ),
        (
            "no time",
            "[[maintenance]]\nname = \"m\"\n",
            "invalid-maintenance",
            "\"m\"",
        ),
        (
            "cron without duration",
            "[[maintenance]]\nname = \"m\"\ncron = \"0 3 * * *\"\n",
            "invalid-maintenance",
            "\"0 3 * * *\"",
        ),
        (
            "bad cron",
            "[[maintenance]]\nname = \"m\"\ncron = \"every night\"\nduration = \"1h\"\n",
            "invalid-maintenance",
            "\"every night\"",
        ),
        (
            "bad time",
            "[[maintenance]]\nname = \"m\"\nstart = \"tomorrow\"\nend = \"2026-01-01T00:00:00Z\"\n",
            "invalid-maintenance",
            "\"tomorrow\"",
        ),
        (
            "end before start",
            "[[maintenance]]\nname = \"m\"\nstart = \"2026-01-02T00:00:00Z\"\nend = \"2026-01-01T00:00:00Z\"\n",
            "invalid-maintenance",
            "\"2026-01-01T00:00:00Z\"",
        ),
        (
            "both",
            "[[maintenance]]\nname = \"m\"\ncron = \"0 3 * * *\"\nduration = \"1h\"\nstart = \"2026-01-01T00:00:00Z\"\nend = \"2026-01-02T00:00:00Z\"\n",
            "invalid-maintenance",
            "\"2026-01-01T00:00:00Z\"",
        ),
        (
            "bad ack_within",
            "[agents.late]\ntier = 3\nreports_to = \"ops\"\nack_within = \"never\"\n",
            "invalid-alert",
            "\"never\"",
        ),
        (
            "agent notify unknown",
            "[agents.late]\ntier = 3\nreports_to = \"ops\"\nnotify = [\"pager\"]\n",
            "unknown-reference",
            "\"pager\"",
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
fn a_secret_written_in_the_manifest_is_a_warning() {
    let checked = check(&format!(
        "{BASE}[notifiers.pd]\nkind = \"pagerduty\"\ntoken = \"abcd1234\"\n"
    ));
    let warning = checked
        .diagnostics
        .iter()
        .find(|d| d.code.as_str() == "invalid-notifier")
        .expect("a warning");
    assert!(!warning.is_error());
    assert!(
        warning.hints[0].contains("${ENV_VAR}"),
        "{:?}",
        warning.hints
    );
    assert!(checked.catalog.is_some());
}

#[test]
fn notifiers_are_redacted_but_env_references_stay() {
    let catalog = compile(BASE);
    let shown = catalog.redacted();
    assert_eq!(shown.notifiers["ops"].url.as_deref(), Some("${OPS_HOOK}"));
    assert_eq!(
        shown.notifiers["ops"].secret.as_deref(),
        Some("${OPS_SECRET}")
    );
    assert_eq!(shown.notifiers["chat"].url.as_deref(), Some("***"));
    let secrets = iza_catalog::redact::Secrets::of(&catalog);
    let text = "POST https://hooks.example.com/services/T000/B000/literalsecret failed";
    assert!(!secrets.scrub(text).contains("literalsecret"));
}

#[test]
fn the_schema_knows_every_alerting_key() {
    let schema = iza_catalog::schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let cases = [
        (
            "[[alerts]]\nname = \"a\"\nnotify = [\"ops\"]\nfor = \"1m\"\nrepeat = \"1h\"\nseverity = \"info\"\nto_agent = true\ngroup_wait = \"1s\"\nsend_resolved = true\nstatuses = \"down\"\nkinds = [\"database\"]\ntags = [\"x\"]\ngroups = [\"data\"]\nservices = [\"db\"]\n",
            true,
        ),
        ("[[alerts]]\nname = \"a\"\nseverity = \"page\"\n", false),
        ("[[alerts]]\nname = \"a\"\nif = \"down\"\n", false),
        (
            "[[alerts]]\nname = \"a\"\nwhen = \"[METRIC].arr < 1\"\n",
            true,
        ),
        (
            "[notifiers.x]\nkind = \"webhook\"\nurl = \"https://a/\"\nsecret = \"${S}\"\nheaders = { A = \"b\" }\ntemplate = \"t\"\ntoken = \"${T}\"\ntimeout = \"5s\"\nretries = 2\n",
            true,
        ),
        ("[notifiers.x]\nkind = \"webhook\"\nretry = 2\n", false),
        (
            "[[maintenance]]\nname = \"m\"\ncron = \"0 3 * * *\"\ntimezone = \"UTC\"\nduration = \"1h\"\nservices = [\"db\"]\ngroups = [\"data\"]\ntags = [\"x\"]\n",
            true,
        ),
        (
            "[[maintenance]]\nname = \"m\"\nstart = \"2026-01-01T00:00:00Z\"\nend = \"2026-01-02T00:00:00Z\"\n",
            true,
        ),
        ("[[maintenance]]\nname = \"m\"\nuntil = \"x\"\n", false),
    ];
    for (extra, valid) in cases {
        let text = format!("{BASE}{extra}");
        let json: serde_json::Value = toml::from_str(&text).unwrap();
        assert_eq!(validator.is_valid(&json), valid, "{extra}");
        let parsed = iza_catalog::parse_raw(&SourceFile::new("x.toml", text, Syntax::Toml));
        assert_eq!(parsed.is_ok(), valid, "the parser agrees on {extra}");
    }
}

#[test]
fn telegram_opsgenie_email_exec_and_fallback_are_read() {
    let catalog = compile(&format!(
        r#"{BASE}
[notifiers.phone]
kind = "telegram"
token = "${{BOT}}"
chat_id = "-100123"
[notifiers.og]
kind = "opsgenie"
token = "${{OG}}"
fallback = "mail"
[notifiers.mail]
kind = "email"
url = "smtp://smtp.example.com:587"
from = "IZA <iza@example.com>"
to = ["ops@example.com"]
username = "iza"
password = "${{SMTP_PASSWORD}}"
[notifiers.relay]
kind = "email"
url = "smtp://127.0.0.1:25"
tls = "none"
from = "iza@example.com"
to = ["ops@example.com"]
[notifiers.page]
kind = "exec"
command = ["/usr/local/bin/page", "--team", "ops"]
env = {{ KEY = "${{PAGE_KEY}}" }}
[[alerts]]
name = "down"
notify = ["phone", "og", "mail", "relay", "page"]
"#
    ));
    let n = &catalog.notifiers;
    assert_eq!(n["phone"].kind, NotifierKind::Telegram);
    assert_eq!(n["phone"].chat_id.as_deref(), Some("-100123"));
    assert_eq!(n["og"].kind, NotifierKind::Opsgenie);
    assert_eq!(n["og"].fallback.as_deref(), Some("mail"));
    assert_eq!(n["mail"].kind, NotifierKind::Email);
    assert_eq!(n["mail"].tls, SmtpTls::Starttls);
    assert_eq!(n["mail"].to, ["ops@example.com"]);
    assert_eq!(n["relay"].tls, SmtpTls::None);
    assert_eq!(n["page"].command, ["/usr/local/bin/page", "--team", "ops"]);
    let shown = catalog.redacted();
    assert_eq!(
        shown.notifiers["mail"].password.as_deref(),
        Some("${SMTP_PASSWORD}")
    );
    assert_eq!(shown.notifiers["page"].env["KEY"], "${PAGE_KEY}");
}

#[test]
fn mistakes_of_the_new_kinds_are_reported_at_their_value() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "telegram without chat",
            "[notifiers.x]\nkind = \"telegram\"\ntoken = \"${T}\"\n",
            "invalid-notifier",
            "\"telegram\"",
        ),
        (
            "email over http",
            "[notifiers.x]\nkind = \"email\"\nurl = \"https://a/\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]\n",
            "invalid-notifier",
            "\"https://a/\"",
        ),
        (
            "unknown tls",
            "[notifiers.x]\nkind = \"email\"\nurl = \"smtp://a\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]\ntls = \"ssl\"\n",
            "invalid-notifier",
            "\"ssl\"",
        ),
        (
            "not an address",
            "[notifiers.x]\nkind = \"email\"\nurl = \"smtp://a\"\nfrom = \"a@b.c\"\nto = [\"ops\"]\n",
            "invalid-notifier",
            "[\"ops\"]",
        ),
        (
            "exec without program",
            "[notifiers.x]\nkind = \"exec\"\ncommand = []\n",
            "invalid-notifier",
            "[]",
        ),
        (
            "command on a webhook",
            "[notifiers.x]\nkind = \"webhook\"\nurl = \"https://a/\"\ncommand = [\"a\"]\n",
            "invalid-notifier",
            "[\"a\"]",
        ),
        (
            "unknown fallback",
            "[notifiers.x]\nkind = \"slack\"\nurl = \"https://a/\"\nfallback = \"nope\"\n",
            "unknown-reference",
            "\"nope\"",
        ),
        (
            "fallback to itself",
            "[notifiers.x]\nkind = \"slack\"\nurl = \"https://a/\"\nfallback = \"x\"\n",
            "invalid-notifier",
            "\"x\"",
        ),
    ];
    for (what, extra, code, needle) in cases {
        let text = format!("{BASE}{extra}");
        let checked = check(&text);
        let found = checked
            .diagnostics
            .iter()
            .find(|d| d.code.as_str() == *code && d.is_error())
            .unwrap_or_else(|| panic!("{what}: no `{code}`"));
        let span = found.span.clone().expect("a position");
        assert_eq!(&text[span], *needle, "{what}: {}", found.message);
        assert!(!found.hints.is_empty(), "{what}");
        assert!(checked.catalog.is_none(), "{what}");
    }
}
