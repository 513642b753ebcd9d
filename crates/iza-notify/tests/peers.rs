//! The notifiers against real peers, started by the test on free ports of 127.0.0.1:
//! Debian's Prometheus Alertmanager (`prometheus-alertmanager`) receives the `alertmanager`
//! notifier, and `aiosmtpd` (Debian's `python3-aiosmtpd`, or PyPI's) receives the `email`
//! notifier's mail into a maildir. `scripts/alert-peers-deps.sh` installs what is missing; when
//! it cannot, the test says so and skips.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use indexmap::IndexMap;
use iza_catalog::model::{Notifier, NotifierKind, SmtpTls};
use iza_notify::{AlertView, Env, Message, NotifyError, Sender, Transition};
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(20);

/// A child process killed with the test.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether the peers are installed (installing them if needed); `false` after saying why.
fn peers_installed() -> bool {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/alert-peers-deps.sh");
    match Command::new("bash").arg(&script).status() {
        Ok(status) if status.success() => true,
        other => {
            eprintln!(
                "SKIPPED: scripts/alert-peers-deps.sh could not install prometheus-alertmanager \
                 and aiosmtpd ({other:?}); install them to run this test"
            );
            false
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn temp_dir(name: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("iza-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

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

fn message(id: i64, transition: Transition, started_at: i64, at: i64) -> Message {
    Message::new(
        "IZA OS",
        "ops",
        at,
        vec![AlertView {
            id,
            rule: "databases down".to_owned(),
            service: "db".to_owned(),
            service_name: "Database".to_owned(),
            severity: "critical".to_owned(),
            status: "down".to_owned(),
            transition,
            impacted: vec!["api".to_owned(), "web".to_owned()],
            reason: Some("connection refused".to_owned()),
            started_at,
            resolved_at: (transition == Transition::Resolved).then_some(at),
            agent: None,
            ack_url: Some(format!("http://127.0.0.1:3000/ack/{id}?exp=1&sig=00")),
        }],
    )
}

fn sender() -> Sender {
    Sender::new(Some(iza_notify::client().unwrap()), Env::from_pairs([]))
}

async fn wait_for<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_receives_the_labelled_alert_and_its_resolution() {
    if !peers_installed() {
        return;
    }
    let dir = temp_dir("alertmanager");
    std::fs::write(
        dir.join("alertmanager.yml"),
        "route:\n  receiver: nobody\nreceivers:\n  - name: nobody\n",
    )
    .unwrap();
    let port = free_port();
    let _peer = Peer(
        Command::new("prometheus-alertmanager")
            .arg(format!(
                "--config.file={}",
                dir.join("alertmanager.yml").display()
            ))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // No gossip: the test's Alertmanager is alone and binds nothing else.
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-alertmanager starts"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = iza_notify::client().unwrap();
    wait_for("Alertmanager to be ready", async || {
        let answer = http.get(format!("{base}/-/ready")).send().await.ok()?;
        answer.status().is_success().then_some(())
    })
    .await;
    let id = 4242;
    let alerts = async || -> Option<Vec<Value>> {
        let answer = http
            .get(format!(
                "{base}/api/v2/alerts?filter=iza_alert%3D%22{id}%22"
            ))
            .send()
            .await
            .ok()?;
        let list: Vec<Value> = serde_json::from_slice(&answer.bytes().await.ok()?).ok()?;
        Some(list)
    };
    let n = notifier(NotifierKind::Alertmanager, &base);
    let started = now_ms() - 60_000;
    sender()
        .send(&n, &message(id, Transition::Firing, started, now_ms()))
        .await
        .expect("Alertmanager accepts the firing alert");
    let firing = wait_for("the alert in Alertmanager", async || {
        alerts().await.and_then(|list| list.into_iter().next())
    })
    .await;
    let labels = &firing["labels"];
    assert_eq!(labels["alertname"], "databases down");
    assert_eq!(labels["service"], "db");
    assert_eq!(labels["severity"], "critical");
    assert_eq!(labels["status"], "down");
    assert_eq!(labels["ecosystem"], "IZA OS");
    assert_eq!(labels["iza_alert"], id.to_string());
    assert_eq!(firing["annotations"]["impacted"], "api, web");
    assert_eq!(firing["status"]["state"], "active");
    // Resolved: Alertmanager ends it (it leaves the list of active alerts).
    sender()
        .send(&n, &message(id, Transition::Resolved, started, now_ms()))
        .await
        .expect("Alertmanager accepts the resolution");
    wait_for("the alert to resolve in Alertmanager", async || {
        let list = alerts().await?;
        let gone_or_ended = list.iter().all(|a| {
            a["endsAt"]
                .as_str()
                .and_then(|t| {
                    humantime::parse_rfc3339_weak(t.trim_end_matches('Z').split('.').next()?).ok()
                })
                .is_some_and(|t| t <= SystemTime::now())
        });
        gone_or_ended.then_some(())
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aiosmtpd_receives_the_mail_with_its_headers_and_body() {
    if !peers_installed() {
        return;
    }
    let dir = temp_dir("smtp");
    let maildir = dir.join("mail");
    let port = free_port();
    let _peer = Peer(
        Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts"),
    );
    wait_for("aiosmtpd to listen", async || {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
            .map(drop)
    })
    .await;
    let mut n = notifier(NotifierKind::Email, &format!("smtp://127.0.0.1:{port}"));
    n.from = Some("IZA <iza@example.com>".to_owned());
    n.to = vec!["ops@example.com".to_owned(), "cto@example.com".to_owned()];

    // `starttls` (the default) refuses a server that offers no STARTTLS: no silent downgrade.
    let refused = sender()
        .send(&n, &message(7, Transition::Firing, now_ms(), now_ms()))
        .await
        .unwrap_err();
    assert!(matches!(refused, NotifyError::Send(_)), "{refused:?}");

    n.tls = SmtpTls::None;
    sender()
        .send(&n, &message(7, Transition::Firing, now_ms(), now_ms()))
        .await
        .expect("aiosmtpd accepts the mail");
    let new = maildir.join("new");
    let mail = wait_for("the mail in the maildir", async || {
        let entry = std::fs::read_dir(&new).ok()?.flatten().next()?;
        std::fs::read_to_string(entry.path()).ok()
    })
    .await;
    let header = |name: &str| {
        mail.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no {name} header in:\n{mail}"))
    };
    assert_eq!(header("From"), "IZA <iza@example.com>");
    assert_eq!(header("To"), "ops@example.com, cto@example.com");
    assert!(
        header("Subject").contains("Database is down, 2 impacted"),
        "{mail}"
    );
    assert!(header("Content-Type").starts_with("text/plain"), "{mail}");
    assert_eq!(header("Content-Transfer-Encoding"), "quoted-printable");
    let raw = mail
        .split_once("\r\n\r\n")
        .or_else(|| mail.split_once("\n\n"))
        .unwrap()
        .1;
    let body = quoted_printable(raw);
    assert!(
        body.contains("Database is down; impacted: api, web"),
        "{body}"
    );
    assert!(body.contains("— rule `databases down`, alert #7"), "{body}");
    assert!(body.contains("/ack/7?exp=1&sig=00"), "{body}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The text of a quoted-printable body (RFC 2045 6.7): soft line breaks joined, `=XX` decoded.
fn quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
