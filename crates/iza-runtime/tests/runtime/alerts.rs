//! Alerting against real components: real HTTP services probed by the real monitor, the real
//! SQLite store (its queue carries the deliveries), and real HTTP receivers that record what
//! arrives. Waits poll with a deadline; time-driven rules (`repeat`, `ack_within`) move a
//! manual clock.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use iza_catalog::Catalog;
use iza_probe::Prober;
use iza_runtime::agents::ManualClock;
use iza_runtime::alerts::{Alerts, AlertsOptions};
use iza_runtime::{Monitor, Status};
use iza_store::{AlertQuery, AlertState, DeliveryState, Matchers, NewSilence, SqliteStore, Store};
use sha2::Sha256;

use crate::receiver::{Receiver, receiver};
use crate::support::*;

const SECRET: &str = "s3cret-hmac-key";

struct Setup {
    monitor: Arc<Monitor>,
    store: Arc<dyn Store>,
    alerts: Alerts,
    db_up: Switch,
    api_up: Switch,
}

fn check(url: &str) -> String {
    format!(
        r#"check = {{ http = "{url}", every = "100ms", timeout = "1s", conditions = ["[STATUS] == 200"] }}"#
    )
}

/// `db ← api ← web` (api and web fail while db is down, as real dependents do), `extra`
/// (TOML appended: rules, notifiers, agents, more services), alerting with `options`.
async fn setup(extra: &str, options: AlertsOptions) -> Setup {
    let db_up = Switch::on();
    let api_up = Switch::on();
    let db = serve(Behaviour::when({
        let db_up = db_up.clone();
        move || db_up.get()
    }))
    .await;
    let api = serve(Behaviour::when({
        let (db_up, api_up) = (db_up.clone(), api_up.clone());
        move || db_up.get() && api_up.get()
    }))
    .await;
    let web = serve(Behaviour::when({
        let db_up = db_up.clone();
        move || db_up.get()
    }))
    .await;
    let catalog: Arc<Catalog> = catalog(&format!(
        r#"
[services.db]
tags = ["data"]
{}
[services.api]
depends_on = ["db"]
{}
[services.web]
depends_on = ["api"]
{}
{extra}
"#,
        check(&db.url("/healthz")),
        check(&api.url("/healthz")),
        check(&web.url("/healthz")),
    ));
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let monitor = Arc::new(
        Monitor::start(
            catalog.clone(),
            Arc::new(Prober::default()),
            store.clone(),
            options_fast(),
        )
        .await
        .unwrap(),
    );
    wait_until("db, api and web are up", || {
        ["db", "api", "web"]
            .iter()
            .all(|s| status(&monitor, s) == Status::Up)
    })
    .await;
    let alerts = Alerts::start(catalog, store.clone(), monitor.clone(), options);
    Setup {
        monitor,
        store,
        alerts,
        db_up,
        api_up,
    }
}

fn options_fast() -> iza_runtime::MonitorOptions {
    options()
}

fn fast() -> AlertsOptions {
    AlertsOptions {
        backoff: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
        tick: Duration::from_millis(50),
        ..AlertsOptions::default()
    }
}

fn webhook(name: &str, receiver: &Receiver) -> String {
    format!(
        r#"
[notifiers.{name}]
kind = "webhook"
url = "{}/hook"
secret = "{SECRET}"
headers = {{ X-Team = "ops" }}
"#,
        receiver.url
    )
}

fn verify(body: &str, header: Option<&str>) {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(header, Some(expected.as_str()), "the signature verifies");
}

async fn wait_received(what: &str, receiver: &Receiver, count: usize) {
    wait_until(what, || receiver.accepted().len() >= count).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_sends_one_notification_naming_the_root_then_one_resolved() {
    let hook = receiver(&[]).await;
    let s = setup(
        &format!(
            "{}\n[[alerts]]\nname = \"down\"\nseverity = \"critical\"\nnotify = [\"ops\"]\ngroup_wait = \"300ms\"\n",
            webhook("ops", &hook)
        ),
        fast(),
    )
    .await;
    s.db_up.set(false);
    wait_received("the firing notification arrives", &hook, 1).await;
    let first = hook.accepted()[0].clone();
    assert_eq!(first.path, "/hook");
    assert_eq!(first.header("x-team"), Some("ops"));
    verify(&first.body, first.header("x-iza-signature"));
    let body = first.json();
    assert_eq!(body["version"], 1);
    assert_eq!(body["status"], "firing");
    assert_eq!(body["notifier"], "ops");
    let alerts = body["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "one alert: {body}");
    assert_eq!(alerts[0]["service"], "db");
    assert_eq!(alerts[0]["transition"], "firing");
    assert_eq!(alerts[0]["severity"], "critical");
    let mut impacted: Vec<String> = serde_json::from_value(alerts[0]["impacted"].clone()).unwrap();
    impacted.sort();
    assert_eq!(impacted, ["api", "web"]);
    assert!(
        body["text"].as_str().unwrap().contains("db is down"),
        "{body}"
    );

    s.db_up.set(true);
    wait_received("the resolved notification arrives", &hook, 2).await;
    let all = hook.accepted();
    assert_eq!(all.len(), 2, "exactly one firing and one resolved");
    let resolved = all[1].json();
    verify(&all[1].body, all[1].header("x-iza-signature"));
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["alerts"][0]["service"], "db");
    assert_eq!(resolved["alerts"][0]["transition"], "resolved");
    // The store tells the same story: one alert, resolved, two deliveries sent.
    let stored = s
        .store
        .alerts(&AlertQuery {
            limit: 10,
            ..AlertQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].state, AlertState::Resolved);
    let deliveries = s.store.deliveries(stored[0].id).await.unwrap();
    assert_eq!(deliveries.len(), 2, "{deliveries:?}");
    assert!(deliveries.iter().all(|d| d.state == DeliveryState::Sent));
    assert!(deliveries[0].transition.ends_with("-firing"));
    assert!(deliveries[1].transition.ends_with("-resolved"));
    s.alerts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_dependents_of_one_root_still_send_one_notification() {
    let hook = receiver(&[]).await;
    let mut extra = webhook("ops", &hook);
    for i in 0..500 {
        extra.push_str(&format!("[services.dep{i}]\ndepends_on = [\"db\"]\n"));
    }
    extra.push_str("[[alerts]]\nname = \"down\"\nnotify = [\"ops\"]\ngroup_wait = \"300ms\"\nstatuses = [\"down\", \"impacted\"]\n");
    let s = setup(&extra, fast()).await;
    s.db_up.set(false);
    wait_received("the notification arrives", &hook, 1).await;
    let body = hook.accepted()[0].json();
    let alerts = body["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "one alert for one root");
    assert_eq!(alerts[0]["service"], "db");
    assert_eq!(alerts[0]["impacted"].as_array().unwrap().len(), 502);
    s.db_up.set(true);
    wait_received("the resolved notification arrives", &hook, 2).await;
    assert_eq!(hook.accepted().len(), 2);
    assert_eq!(hook.accepted()[1].json()["status"], "resolved");
    s.alerts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependent_failing_on_its_own_alerts_on_its_own() {
    let hook = receiver(&[]).await;
    let s = setup(
        &format!(
            "{}\n[[alerts]]\nname = \"down\"\nnotify = [\"ops\"]\ngroup_wait = \"200ms\"\n",
            webhook("ops", &hook)
        ),
        fast(),
    )
    .await;
    s.api_up.set(false);
    wait_received("api's own alert arrives", &hook, 1).await;
    let body = hook.accepted()[0].json();
    assert_eq!(body["alerts"][0]["service"], "api");
    assert_eq!(body["alerts"][0]["impacted"], serde_json::json!(["web"]));
    s.alerts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silence_suppresses_and_is_recorded() {
    let hook = receiver(&[]).await;
    let s = setup(
        &format!(
            "{}\n[[alerts]]\nname = \"down\"\nnotify = [\"ops\"]\ngroup_wait = \"100ms\"\n",
            webhook("ops", &hook)
        ),
        fast(),
    )
    .await;
    let now = iza_runtime::now_millis();
    let silence = s
        .alerts
        .create_silence(NewSilence {
            matchers: Matchers {
                tag: Some("data".to_owned()),
                ..Matchers::default()
            },
            starts_at: now,
            ends_at: now + 3_600_000,
            created_by: "ana".to_owned(),
            comment: "upgrading the database".to_owned(),
            created_at: now,
        })
        .await
        .unwrap();
    s.db_up.set(false);
    let store = s.store.clone();
    wait_until_async("the alert fires, suppressed", || {
        let store = store.clone();
        async move {
            let open = store
                .alerts(&AlertQuery {
                    open_only: true,
                    limit: 10,
                    ..AlertQuery::default()
                })
                .await
                .unwrap();
            open.iter()
                .any(|a| a.state == AlertState::Firing && a.notified_seq > 0)
        }
    })
    .await;
    let alert = s
        .store
        .alerts(&AlertQuery {
            open_only: true,
            limit: 10,
            ..AlertQuery::default()
        })
        .await
        .unwrap()
        .remove(0);
    assert_eq!(alert.suppressed_by, Some(format!("silence:{}", silence.id)));
    let deliveries = s.store.deliveries(alert.id).await.unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].state, DeliveryState::Suppressed);
    assert_eq!(deliveries[0].notifier, "ops");
    assert!(hook.all().is_empty(), "nothing was sent");
    // Recovery of a never-notified alert sends nothing either.
    s.db_up.set(true);
    wait_until_async("the alert resolves", || {
        let store = s.store.clone();
        async move { store.alert(alert.id).await.unwrap().unwrap().state == AlertState::Resolved }
    })
    .await;
    assert!(hook.all().is_empty(), "nothing was sent");
    s.alerts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_of_a_dependency_suppresses_its_dependents_alerts() {
    let hook = receiver(&[]).await;
    let now = iza_runtime::now_millis();
    let start = humantime::format_rfc3339(
        std::time::UNIX_EPOCH + Duration::from_millis((now - 60_000) as u64),
    );
    let end = humantime::format_rfc3339(
        std::time::UNIX_EPOCH + Duration::from_millis((now + 3_600_000) as u64),
    );
    let s = setup(
        &format!(
            "{}\n[[alerts]]\nname = \"down\"\nnotify = [\"ops\"]\ngroup_wait = \"100ms\"\n\
             [[maintenance]]\nname = \"db upgrade\"\nservices = [\"db\"]\nstart = \"{start}\"\nend = \"{end}\"\n",
            webhook("ops", &hook)
        ),
        fast(),
    )
    .await;
    // api fails on its own while db is up: its alert is covered by db's maintenance.
    s.api_up.set(false);
    let store = s.store.clone();
    wait_until_async("api's alert fires, suppressed", || {
        let store = store.clone();
        async move {
            store
                .alerts(&AlertQuery {
                    open_only: true,
                    limit: 10,
                    ..AlertQuery::default()
                })
                .await
                .unwrap()
                .iter()
                .any(|a| a.service == "api" && a.notified_seq > 0)
        }
    })
    .await;
    let alert = s
        .store
        .alerts(&AlertQuery {
            open_only: true,
            limit: 10,
            ..AlertQuery::default()
        })
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        alert.suppressed_by.as_deref(),
        Some("maintenance:db upgrade")
    );
    let deliveries = s.store.deliveries(alert.id).await.unwrap();
    assert_eq!(deliveries[0].state, DeliveryState::Suppressed);
    assert_eq!(
        deliveries[0].error.as_deref(),
        Some("maintenance:db upgrade")
    );
    assert!(hook.all().is_empty());
    s.alerts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_failing_twice_gets_the_notification_once() {
    let hook = receiver(&[500, 500]).await;
    let s = setup(
        &format!(
            "{}\n[[alerts]]\nname = \"down\"\nnotify = [\"ops\"]\ngroup_wait = \"100ms\"\nsend_resolved = false\n",
            webhook("ops", &hook)
        ),
        fast(),
    )
    .await;
    s.db_up.set(false);
    wait_received("the third attempt is accepted", &hook, 1).await;
    let all = hook.all();
    assert_eq!(
        all.iter().map(|r| r.status).collect::<Vec<_>>(),
        [500, 500, 200]
    );
    // The same message each time.
    assert_eq!(all[0].body, all[2].body);
    let alert = s
        .store
        .alerts(&AlertQuery {
            limit: 1,
            ..AlertQuery::default()
        })
        .await
        .unwrap()
        .remove(0);
    let store = s.store.clone();
    wait_until_async("the delivery log says sent after 3 attempts", || {
        let store = store.clone();
        async move {
            let d = store.deliveries(alert.id).await.unwrap();
            d.len() == 1 && d[0].state == DeliveryState::Sent && d[0].attempts == 3
        }
    })
    .await;
    let run = s
        .store
        .run(s.store.deliveries(alert.id).await.unwrap()[0].run.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.task, "@notify/ops");
    assert_eq!(run.state, iza_store::RunState::Succeeded);
    assert_eq!(run.attempt, 3);
    s.alerts.shutdown().await;
}

/// Agents: `watcher` (tier 2) watches db, api and web, is told through `ops` and must
/// acknowledge within 30 s; `boss` (tier 1) is told through `boss`.
fn agents(ops: &Receiver, boss: &Receiver) -> String {
    format!(
        r#"{}{}
[agents.boss]
tier = 1
notify = ["boss"]
[agents.watcher]
tier = 2
reports_to = "boss"
services = ["db", "api", "web"]
notify = ["ops"]
ack_within = "30s"
[[alerts]]
name = "critical down"
severity = "critical"
to_agent = true
repeat = "10s"
group_wait = "1s"
"#,
        webhook("ops", ops),
        webhook("boss", boss)
    )
}

fn manual(clock: &Arc<ManualClock>) -> AlertsOptions {
    AlertsOptions {
        clock: clock.clone(),
        ..fast()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_repeat_until_acknowledged_and_an_unacknowledged_critical_alert_escalates() {
    let (ops, boss) = (receiver(&[]).await, receiver(&[]).await);
    let clock = ManualClock::new(1_800_000_000_000);
    let s = setup(&agents(&ops, &boss), manual(&clock)).await;
    s.db_up.set(false);
    wait_until("db is down", || status(&s.monitor, "db") == Status::Down).await;
    // group_wait is 1 s of the manual clock.
    let store = s.store.clone();
    wait_until_async("the alert is pending its batch", || {
        let store = store.clone();
        async move {
            store
                .alerts(&AlertQuery {
                    open_only: true,
                    limit: 10,
                    ..AlertQuery::default()
                })
                .await
                .unwrap()
                .iter()
                .any(|a| a.state == AlertState::Firing)
        }
    })
    .await;
    clock.advance(Duration::from_secs(1));
    wait_received("the watcher's team is told", &ops, 1).await;
    assert_eq!(
        ops.accepted()[0].json()["alerts"][0]["transition"],
        "firing"
    );
    clock.advance(Duration::from_secs(10));
    wait_received("a reminder", &ops, 2).await;
    assert_eq!(
        ops.accepted()[1].json()["alerts"][0]["transition"],
        "reminder"
    );
    clock.advance(Duration::from_secs(20));
    wait_received("the boss is told after ack_within", &boss, 1).await;
    let escalated = boss.accepted()[0].json();
    assert_eq!(escalated["alerts"][0]["transition"], "escalated");
    assert_eq!(escalated["alerts"][0]["agent"], "boss");
    assert_eq!(escalated["alerts"][0]["service"], "db");
    let id = escalated["alerts"][0]["id"].as_i64().unwrap();
    assert_eq!(
        s.store.alert(id).await.unwrap().unwrap().escalated_to,
        ["boss"]
    );
    s.alerts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledging_stops_reminders_and_escalation() {
    let (ops, boss) = (receiver(&[]).await, receiver(&[]).await);
    let clock = ManualClock::new(1_800_000_000_000);
    let s = setup(&agents(&ops, &boss), manual(&clock)).await;
    s.db_up.set(false);
    let store = s.store.clone();
    wait_until_async("the alert fires", || {
        let store = store.clone();
        async move {
            store
                .alerts(&AlertQuery {
                    open_only: true,
                    limit: 10,
                    ..AlertQuery::default()
                })
                .await
                .unwrap()
                .iter()
                .any(|a| a.state == AlertState::Firing)
        }
    })
    .await;
    clock.advance(Duration::from_secs(1));
    wait_received("the watcher's team is told", &ops, 1).await;
    let id = ops.accepted()[0].json()["alerts"][0]["id"]
        .as_i64()
        .unwrap();
    let acked = s.alerts.acknowledge(id, "ana").await.unwrap().unwrap();
    assert_eq!(acked.acknowledged_by.as_deref(), Some("ana"));
    // Well past the reminder and the escalation: nothing more is due.
    for _ in 0..6 {
        clock.advance(Duration::from_secs(10));
    }
    // Recovery still sends its resolved notification, queued behind anything else to `ops`
    // (the clock moves on: the resolve hold and the batch wait are of the engine's clock).
    s.db_up.set(true);
    wait_until("db is up", || status(&s.monitor, "db") == Status::Up).await;
    wait_until("the resolved notification arrives", || {
        if ops.accepted().len() >= 2 {
            return true;
        }
        clock.advance(Duration::from_millis(250));
        false
    })
    .await;
    let transitions: Vec<String> = ops
        .accepted()
        .iter()
        .map(|r| {
            r.json()["alerts"][0]["transition"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(transitions, ["firing", "resolved"]);
    assert!(
        boss.all().is_empty(),
        "no escalation after the acknowledgement"
    );
    s.alerts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notifier_failing_past_its_retries_hands_the_message_to_its_fallback() {
    let broken = receiver(&[500, 500, 500, 500]).await;
    let spare = receiver(&[]).await;
    let s = setup(
        &format!(
            "[notifiers.ops]\nkind = \"webhook\"\nurl = \"{}/hook\"\nretries = 1\nfallback = \"spare\"\n\
             [notifiers.spare]\nkind = \"webhook\"\nurl = \"{}/hook\"\n\
             [[alerts]]\nname = \"down\"\nnotify = [\"ops\"]\ngroup_wait = \"100ms\"\nsend_resolved = false\n",
            broken.url, spare.url
        ),
        fast(),
    )
    .await;
    s.db_up.set(false);
    wait_received("the fallback gets the notification", &spare, 1).await;
    // Two attempts (1 retry) refused, then the fallback; nothing more to the broken one.
    assert_eq!(
        broken.all().iter().map(|r| r.status).collect::<Vec<_>>(),
        [500, 500]
    );
    let sent: serde_json::Value = serde_json::from_str(&spare.accepted()[0].body).unwrap();
    assert_eq!(sent["notifier"], "spare");
    assert_eq!(sent["alerts"][0]["service"], "db");
    let alert = s
        .store
        .alerts(&AlertQuery {
            limit: 1,
            ..AlertQuery::default()
        })
        .await
        .unwrap()
        .remove(0);
    let store = s.store.clone();
    wait_until_async("the delivery log has both", || {
        let store = store.clone();
        async move {
            let d = store.deliveries(alert.id).await.unwrap();
            d.iter()
                .any(|d| d.notifier == "ops" && d.state == DeliveryState::Failed)
                && d.iter()
                    .any(|d| d.notifier == "spare" && d.state == DeliveryState::Sent)
        }
    })
    .await;
    assert_eq!(spare.accepted().len(), 1);
    s.alerts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ack_url_is_a_signed_link_the_engine_verifies() {
    let hook = receiver(&[]).await;
    let key = iza_runtime::alerts::LinkKey::derive(b"0123456789abcdef0123456789abcdef");
    let s = setup(
        &format!(
            "{}\n[[alerts]]\nname = \"down\"\nnotify = [\"ops\"]\ngroup_wait = \"100ms\"\n",
            webhook("ops", &hook)
        ),
        AlertsOptions {
            public_url: Some("http://127.0.0.1:3000/".to_owned()),
            link_key: Some(key),
            ..fast()
        },
    )
    .await;
    s.db_up.set(false);
    wait_received("the notification", &hook, 1).await;
    let sent: serde_json::Value = serde_json::from_str(&hook.accepted()[0].body).unwrap();
    let link = sent["alerts"][0]["ack_url"].as_str().unwrap().to_owned();
    let id = sent["alerts"][0]["id"].as_i64().unwrap();
    let rest = link
        .strip_prefix(&format!("http://127.0.0.1:3000/ack/{id}?exp="))
        .unwrap_or_else(|| panic!("{link}"));
    let (exp, sig) = rest.split_once("&sig=").unwrap();
    let exp: i64 = exp.parse().unwrap();
    let now_s = iza_runtime::now_millis() / 1000;
    assert!((now_s + 7 * 24 * 3600 - exp).abs() < 60, "7 days: {exp}");
    assert_eq!(s.alerts.verify_ack_link(id, exp, sig), Ok(()));
    assert_eq!(
        s.alerts.verify_ack_link(id + 1, exp, sig),
        Err(iza_runtime::alerts::LinkError::BadSignature)
    );
    assert_eq!(
        s.alerts.verify_ack_link(id, exp + 1, sig),
        Err(iza_runtime::alerts::LinkError::BadSignature)
    );
    s.alerts.shutdown().await;
}
