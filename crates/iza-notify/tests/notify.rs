//! The notifiers: exact payload shapes of every kind, secrets resolved from the environment
//! and kept out of errors, templates, and real sends to a local receiver (axum on 127.0.0.1)
//! that checks the webhook's signature with its own HMAC.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, Mac};
use indexmap::IndexMap;
use iza_catalog::model::{Notifier, NotifierKind, SmtpTls};
use iza_notify::{AlertView, Env, Message, NotifyError, Sender, Transition};
use serde_json::{Value, json};
use sha2::Sha256;

fn notifier(kind: NotifierKind, url: &str) -> Notifier {
    Notifier {
        id: "ops".to_owned(),
        kind,
        url: Some(url.to_owned()),
        secret: None,
        headers: IndexMap::new(),
        template: None,
        token: None,
        timeout: Duration::from_secs(5),
        retries: 3,
        chat_id: None,
        from: None,
        to: Vec::new(),
        tls: SmtpTls::Starttls,
        username: None,
        password: None,
        command: Vec::new(),
        env: IndexMap::new(),
        fallback: None,
    }
}

fn alert(transition: Transition) -> AlertView {
    AlertView {
        id: 7,
        rule: "down".to_owned(),
        service: "db".to_owned(),
        service_name: "Database".to_owned(),
        severity: "critical".to_owned(),
        status: "down".to_owned(),
        transition,
        impacted: vec!["api".to_owned(), "web".to_owned()],
        reason: Some("[STATUS] (503) == 200".to_owned()),
        started_at: 1_767_225_600_000,
        resolved_at: (transition == Transition::Resolved).then_some(1_767_225_660_000),
        agent: None,
        ack_url: Some("http://127.0.0.1:3000/api/v1/alerts/7/ack".to_owned()),
    }
}

fn message(transition: Transition) -> Message {
    Message::new("IZA OS", "ops", 1_767_225_601_000, vec![alert(transition)])
}

fn env() -> Env {
    Env::from_pairs([
        (
            "HOOK".to_owned(),
            "http://127.0.0.1:9/hooks/T000/B000/XXXXSECRET".to_owned(),
        ),
        ("KEY".to_owned(), "routing-key-1234".to_owned()),
        ("SIG".to_owned(), "hmac-secret".to_owned()),
    ])
}

fn sender() -> Sender {
    Sender::new(Some(iza_notify::client().unwrap()), env())
}

fn body(kind: NotifierKind, n: &Notifier, transition: Transition) -> Vec<Value> {
    let _ = kind;
    sender()
        .requests(n, &message(transition))
        .unwrap()
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap_or(Value::String(r.body.clone())))
        .collect()
}

#[test]
fn the_default_text_names_the_root_and_what_it_impacts() {
    let text =
        iza_notify::render(iza_notify::DEFAULT_TEMPLATE, &message(Transition::Firing)).unwrap();
    assert_eq!(
        text,
        "[CRITICAL] Database is down; impacted: api, web ([STATUS] (503) == 200) — rule `down`, \
         alert #7, acknowledge: http://127.0.0.1:3000/api/v1/alerts/7/ack"
    );
    let text =
        iza_notify::render(iza_notify::DEFAULT_TEMPLATE, &message(Transition::Resolved)).unwrap();
    assert_eq!(
        text,
        "[RESOLVED] Database recovered; no longer impacted: api, web — rule `down`, alert #7"
    );
}

#[test]
fn a_template_overrides_the_text_and_a_broken_one_is_a_config_error() {
    let mut n = notifier(NotifierKind::Slack, "http://127.0.0.1:9/x");
    n.template =
        Some("{{ alerts|length }} alert(s) on {{ ecosystem }}: {{ alerts[0].service }}".to_owned());
    assert_eq!(
        body(n.kind, &n, Transition::Firing),
        [json!({ "text": "1 alert(s) on IZA OS: db" })]
    );
    n.template = Some("{% for %}".to_owned());
    let error = sender()
        .requests(&n, &message(Transition::Firing))
        .unwrap_err();
    assert!(
        matches!(error, NotifyError::Config(ref m) if m.contains("does not parse")),
        "{error:?}"
    );
}

#[test]
fn chat_kinds_wrap_the_text_in_their_envelopes() {
    let text =
        iza_notify::render(iza_notify::DEFAULT_TEMPLATE, &message(Transition::Firing)).unwrap();
    let slack = notifier(NotifierKind::Slack, "${HOOK}");
    assert_eq!(
        body(slack.kind, &slack, Transition::Firing),
        [json!({ "text": text })]
    );
    let discord = notifier(NotifierKind::Discord, "${HOOK}");
    assert_eq!(
        body(discord.kind, &discord, Transition::Firing),
        [json!({ "content": text })]
    );
    let teams = notifier(NotifierKind::Teams, "${HOOK}");
    let card = &body(teams.kind, &teams, Transition::Firing)[0];
    assert_eq!(card["type"], "message");
    assert_eq!(
        card["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(card["attachments"][0]["content"]["type"], "AdaptiveCard");
    assert_eq!(
        card["attachments"][0]["content"]["body"][0]["text"],
        json!(text)
    );
    // The URL came from the environment.
    let requests = sender()
        .requests(&slack, &message(Transition::Firing))
        .unwrap();
    assert_eq!(
        requests[0].url,
        "http://127.0.0.1:9/hooks/T000/B000/XXXXSECRET"
    );
}

#[test]
fn pagerduty_sends_one_event_per_alert_with_a_dedup_key() {
    let mut n = notifier(NotifierKind::Pagerduty, "http://127.0.0.1:9/v2/enqueue");
    n.token = Some("${KEY}".to_owned());
    let trigger = body(n.kind, &n, Transition::Firing);
    assert_eq!(
        trigger,
        [json!({
            "routing_key": "routing-key-1234",
            "event_action": "trigger",
            "dedup_key": "iza-alert-7",
            "payload": {
                "summary": "Database is down; impacted: api, web",
                "source": "db",
                "severity": "critical",
                "timestamp": "2026-01-01T00:00:00.000Z",
                "component": "db",
                "group": "IZA OS",
                "class": "down",
                "custom_details": {
                    "alert": 7, "status": "down", "impacted": ["api", "web"],
                    "reason": "[STATUS] (503) == 200", "transition": "firing"
                }
            }
        })]
    );
    let resolve = body(n.kind, &n, Transition::Resolved);
    assert_eq!(
        resolve,
        [
            json!({ "routing_key": "routing-key-1234", "event_action": "resolve", "dedup_key": "iza-alert-7" })
        ]
    );
}

#[test]
fn alertmanager_gets_labelled_alerts_and_an_end_when_resolved() {
    let n = notifier(NotifierKind::Alertmanager, "http://127.0.0.1:9093/");
    let requests = sender()
        .requests(&n, &message(Transition::Resolved))
        .unwrap();
    assert_eq!(requests[0].url, "http://127.0.0.1:9093/api/v2/alerts");
    let sent: Value = serde_json::from_str(&requests[0].body).unwrap();
    assert_eq!(
        sent,
        json!([{
            "labels": {
                "alertname": "down", "service": "db", "severity": "critical", "status": "down",
                "ecosystem": "IZA OS", "iza_alert": "7"
            },
            "annotations": {
                "summary": "Database is down", "impacted": "api, web", "reason": "[STATUS] (503) == 200"
            },
            "startsAt": "2026-01-01T00:00:00.000Z",
            "endsAt": "2026-01-01T00:01:00.000Z",
            "generatorURL": "http://127.0.0.1:3000/api/v1/alerts/7/ack"
        }])
    );
    let firing: Value =
        serde_json::from_str(&sender().requests(&n, &message(Transition::Firing)).unwrap()[0].body)
            .unwrap();
    assert!(firing[0].get("endsAt").is_none());
}

#[test]
fn ntfy_posts_the_text_with_title_priority_and_token() {
    let mut n = notifier(NotifierKind::Ntfy, "http://127.0.0.1:9/alerts");
    n.token = Some("${KEY}".to_owned());
    let r = &sender().requests(&n, &message(Transition::Firing)).unwrap()[0];
    assert_eq!(r.content_type, "text/plain");
    assert!(r.body.starts_with("[CRITICAL] Database is down"));
    assert_eq!(
        r.headers,
        [
            ("Title".to_owned(), "IZA OS: 1 alert firing".to_owned()),
            ("Priority".to_owned(), "5".to_owned()),
            ("Tags".to_owned(), "rotating_light".to_owned()),
            (
                "Authorization".to_owned(),
                "Bearer routing-key-1234".to_owned()
            ),
        ]
    );
}

#[test]
fn an_unset_variable_is_named_and_no_secret_leaks_into_errors() {
    let n = notifier(NotifierKind::Slack, "${NOT_SET}");
    let error = sender()
        .requests(&n, &message(Transition::Firing))
        .unwrap_err();
    assert_eq!(
        error,
        NotifyError::Config(
            "notifier `ops`: the environment variable `NOT_SET` is not set".to_owned()
        )
    );
}

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(HeaderMap, Bytes)>>>);

async fn receiver(status: StatusCode) -> (String, Seen) {
    let seen = Seen::default();
    let app = axum::Router::new().route(
        "/{*path}",
        post({
            let seen = seen.clone();
            move |headers: HeaderMap, body: Bytes| async move {
                seen.0.lock().unwrap().push((headers, body));
                (status, "{\"detail\": \"XXXXSECRET was refused\"}")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test]
async fn a_signed_webhook_arrives_with_its_headers_and_a_verifiable_signature() {
    let (url, seen) = receiver(StatusCode::OK).await;
    let mut n = notifier(NotifierKind::Webhook, &format!("{url}/hook"));
    n.secret = Some("${SIG}".to_owned());
    n.headers.insert("X-Team".to_owned(), "ops".to_owned());
    let sent = sender()
        .send(&n, &message(Transition::Firing))
        .await
        .unwrap();
    assert_eq!(sent.requests, 1);
    let (headers, body) = seen.0.lock().unwrap()[0].clone();
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-team"], "ops");
    let mut mac = Hmac::<Sha256>::new_from_slice(b"hmac-secret").unwrap();
    mac.update(&body);
    let expected = format!("sha256={}", hex_encode(&mac.finalize().into_bytes()));
    assert_eq!(headers["x-iza-signature"].to_str().unwrap(), expected);
    let value: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(value["version"], 1);
    assert_eq!(value["ecosystem"], "IZA OS");
    assert_eq!(value["notifier"], "ops");
    assert_eq!(value["status"], "firing");
    assert_eq!(value["at"], 1_767_225_601_000_i64);
    assert_eq!(value["alerts"][0]["id"], 7);
    assert_eq!(value["alerts"][0]["impacted"], json!(["api", "web"]));
    assert!(
        value["text"]
            .as_str()
            .unwrap()
            .starts_with("[CRITICAL] Database is down")
    );
}

#[tokio::test]
async fn a_refusal_is_an_error_with_the_status_and_without_the_secret_url() {
    let (url, _) = receiver(StatusCode::INTERNAL_SERVER_ERROR).await;
    let n = notifier(
        NotifierKind::Slack,
        &format!("{url}/hooks/T000/B000/XXXXSECRET"),
    );
    let error = sender()
        .send(&n, &message(Transition::Firing))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("500"), "{error}");
    assert!(
        !error.contains("XXXXSECRET"),
        "the URL's secret is scrubbed: {error}"
    );
    // A connection refused (nothing listens on port 9) names no URL either.
    let n = notifier(NotifierKind::Slack, "${HOOK}");
    let error = sender()
        .send(&n, &message(Transition::Firing))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("request failed"), "{error}");
    assert!(!error.contains("XXXXSECRET"), "{error}");
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn telegram_sends_the_text_to_the_bots_send_message() {
    let mut n = notifier(NotifierKind::Telegram, "http://127.0.0.1:9/");
    n.token = Some("${KEY}".to_owned());
    n.chat_id = Some("-1001234567890".to_owned());
    let requests = sender().requests(&n, &message(Transition::Firing)).unwrap();
    assert_eq!(
        requests[0].url,
        "http://127.0.0.1:9/botrouting-key-1234/sendMessage"
    );
    let sent: Value = serde_json::from_str(&requests[0].body).unwrap();
    assert_eq!(sent["chat_id"], json!(-1_001_234_567_890_i64));
    assert_eq!(sent["disable_web_page_preview"], json!(true));
    assert!(
        sent["text"]
            .as_str()
            .unwrap()
            .starts_with("[CRITICAL] Database is down; impacted: api, web"),
        "{sent}"
    );
    assert!(sent.get("parse_mode").is_none());
    // A channel name stays text; the default API address is Telegram's.
    n.chat_id = Some("@ops_alerts".to_owned());
    n.url = None;
    let requests = sender().requests(&n, &message(Transition::Firing)).unwrap();
    assert_eq!(
        requests[0].url,
        "https://api.telegram.org/botrouting-key-1234/sendMessage"
    );
    let sent: Value = serde_json::from_str(&requests[0].body).unwrap();
    assert_eq!(sent["chat_id"], json!("@ops_alerts"));
}

#[test]
fn opsgenie_creates_by_alias_and_closes_by_alias() {
    let mut n = notifier(NotifierKind::Opsgenie, "http://127.0.0.1:9");
    n.token = Some("${KEY}".to_owned());
    let create = &sender().requests(&n, &message(Transition::Firing)).unwrap()[0];
    assert_eq!(create.url, "http://127.0.0.1:9/v2/alerts");
    assert_eq!(
        create.headers,
        [(
            "authorization".to_owned(),
            "GenieKey routing-key-1234".to_owned()
        )]
    );
    let sent: Value = serde_json::from_str(&create.body).unwrap();
    assert_eq!(
        sent,
        json!({
            "message": "Database is down",
            "alias": "iza-alert-7",
            "description": "Database is down; impacted: api, web ([STATUS] (503) == 200)\nAcknowledge: http://127.0.0.1:3000/api/v1/alerts/7/ack",
            "priority": "P1",
            "source": "iza",
            "entity": "db",
            "tags": ["critical", "down", "down"],
            "details": {
                "alert": "7", "ecosystem": "IZA OS", "service": "db", "status": "down",
                "transition": "firing", "impacted": "api, web"
            }
        })
    );
    let close = &sender()
        .requests(&n, &message(Transition::Resolved))
        .unwrap()[0];
    assert_eq!(
        close.url,
        "http://127.0.0.1:9/v2/alerts/iza-alert-7/close?identifierType=alias"
    );
    let sent: Value = serde_json::from_str(&close.body).unwrap();
    assert_eq!(
        sent,
        json!({ "source": "iza", "note": "Database recovered (rule `down`)" })
    );
}

#[test]
fn email_describes_one_mail_with_a_subject_naming_the_root() {
    let mut n = notifier(NotifierKind::Email, "smtp://127.0.0.1:2525");
    n.from = Some("IZA <iza@example.com>".to_owned());
    n.to = vec!["ops@example.com".to_owned(), "cto@example.com".to_owned()];
    let mail = &sender().requests(&n, &message(Transition::Firing)).unwrap()[0];
    assert_eq!(mail.url, "smtp://127.0.0.1:2525");
    assert_eq!(
        mail.headers,
        [
            ("from".to_owned(), "IZA <iza@example.com>".to_owned()),
            (
                "to".to_owned(),
                "ops@example.com, cto@example.com".to_owned()
            ),
            (
                "subject".to_owned(),
                "[CRITICAL] Database is down, 2 impacted — IZA OS".to_owned()
            ),
        ]
    );
    assert!(mail.body.starts_with("[CRITICAL] Database is down"));
    let resolved = &sender()
        .requests(&n, &message(Transition::Resolved))
        .unwrap()[0];
    assert_eq!(
        resolved.headers[2].1,
        "[RESOLVED] Database recovered — IZA OS"
    );
}

#[tokio::test]
async fn exec_runs_the_program_with_the_message_on_stdin_and_its_env() {
    let dir = std::env::temp_dir().join(format!(
        "iza-notify-exec-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("out.json");
    let mut n = notifier(NotifierKind::Exec, "");
    n.url = None;
    n.command = vec![
        "/bin/sh".to_owned(),
        "-c".to_owned(),
        "cat > \"$1\"; printf '%s|%s|%s' \"$IZA_ALERT_STATUS\" \"$IZA_ALERT_IDS\" \"$TEAM\" > \"$1.env\"".to_owned(),
        "sh".to_owned(),
        out.display().to_string(),
    ];
    n.env.insert("TEAM".to_owned(), "${SIG}".to_owned());
    sender()
        .send(&n, &message(Transition::Firing))
        .await
        .unwrap();
    let got: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(
        got,
        serde_json::to_value(message(Transition::Firing)).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("out.json.env")).unwrap(),
        "firing|7|hmac-secret"
    );
    // A failing program is a send error with its standard error, the secret scrubbed.
    n.command = vec![
        "/bin/sh".to_owned(),
        "-c".to_owned(),
        "echo \"no pager for $TEAM\" >&2; exit 3".to_owned(),
    ];
    let error = sender()
        .send(&n, &message(Transition::Firing))
        .await
        .unwrap_err();
    let NotifyError::Send(text) = error else {
        panic!("{error:?}")
    };
    assert!(text.contains("exit status: 3"), "{text}");
    assert!(text.contains("no pager for ***"), "{text}");
    // Past its timeout the program is killed and that is a failure.
    n.command = vec!["/bin/sleep".to_owned(), "30".to_owned()];
    n.timeout = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let error = sender()
        .send(&n, &message(Transition::Firing))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("timeout"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let _ = std::fs::remove_dir_all(&dir);
}
