//! The event outputs' benchmark (run by `bench/bus.sh`): for one broker (`KIND` = `nats`,
//! `amqp` or `mqtt`, on 127.0.0.1), with the SQLite store in a temporary directory:
//!
//! 1. `N` (50,000) `status-changed` events published on IZA's bus at `RATE` (10,000) per
//!    second, through the outbox, to a subscriber of the same broker in this process;
//!    latency = the subscriber's receipt minus the moment before `Bus::publish`; throughput =
//!    events / (last receipt - first publish); CPU = this process's user+system time over the
//!    run (publisher, outputs, store and subscriber together) per 1,000 events.
//! 2. Catch-up: `CATCHUP` (100,000) events written to the output's outbox while no output runs
//!    (what an outage leaves), then the output started: the time until the subscriber has all.
//!
//! The MQTT subscriber subscribes at QoS 0 (IZA still publishes at QoS 1): a QoS 1 subscriber
//! that falls behind loses messages to Mosquitto's per-client queue limit, which is not IZA's
//! delivery being measured.
//!
//! The store is wrapped to time the stages of the live run (`stages`): when each event's
//! outbox transaction committed (`commit_*`: bus to commit; `receipt_*`: commit to the
//! subscriber's receipt, which is the publish, the broker and the subscriber), how long the
//! outbox writes took (`push_*`), and how many deletions of acknowledged entries ran
//! (`acks`, their p99 `ack_p99_ms`) and reads of the outbox (`peeks`).
//!
//! Prints one line of `key=value` figures.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use iza_catalog::{SourceFile, Syntax};
use iza_outputs::{Outputs, OutputsOptions, envelope};
use iza_runtime::{Bus, Change, Event, EventKind, Status};
use iza_store::{
    EventQuery, EventRecord, Millis, OutboxDepth, OutboxEntry, Resolution, ResultRecord, Retention,
    Rollup, SqliteStore, Store, StoreError, Uptime,
};
use tokio::sync::mpsc;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: f64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|x| x.parse::<f64>().ok()).sum())
        .unwrap_or(0.0);
    ticks * 10.0 // USER_HZ is 100 on Linux
}

/// Subscribes to everything under `prefix`; sends each received `izaseq` with its arrival time.
async fn subscribe(kind: &str, prefix: &str) -> mpsc::UnboundedReceiver<(u64, Instant)> {
    let (sender, receiver) = mpsc::unbounded_channel();
    let seq = |payload: &[u8]| -> u64 {
        serde_json::from_slice::<serde_json::Value>(payload)
            .ok()
            .and_then(|v| v["izaseq"].as_u64())
            .unwrap_or(0)
    };
    match kind {
        "nats" => {
            let client = async_nats::connect("127.0.0.1:4222").await.unwrap();
            let mut sub = client.subscribe(format!("{prefix}.>")).await.unwrap();
            client.flush().await.unwrap();
            tokio::spawn(async move {
                let _client = client;
                while let Some(m) = sub.next().await {
                    let _ = sender.send((seq(&m.payload), Instant::now()));
                }
            });
        }
        "amqp" => {
            use lapin::options::*;
            use lapin::types::FieldTable;
            let conn = lapin::Connection::connect(
                "amqp://guest:guest@127.0.0.1:5672/%2f",
                lapin::ConnectionProperties::default(),
            )
            .await
            .unwrap();
            let ch = conn.create_channel().await.unwrap();
            let exchange = format!("{prefix}.events");
            ch.exchange_declare(
                exchange.as_str().into(),
                lapin::ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
            let q = ch
                .queue_declare(
                    "".into(),
                    QueueDeclareOptions {
                        exclusive: true,
                        auto_delete: true,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await
                .unwrap();
            ch.queue_bind(
                q.name().clone(),
                exchange.as_str().into(),
                format!("{prefix}.#").as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
            let mut consumer = ch
                .basic_consume(
                    q.name().clone(),
                    "bench".into(),
                    BasicConsumeOptions {
                        no_ack: true,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await
                .unwrap();
            tokio::spawn(async move {
                let _keep = (conn, ch);
                while let Some(Ok(d)) = consumer.next().await {
                    let _ = sender.send((seq(&d.data), Instant::now()));
                }
            });
        }
        _ => {
            let mut options = rumqttc::MqttOptions::new(format!("{prefix}-sub"), "127.0.0.1", 1883);
            options.set_max_packet_size(1 << 20, 1 << 20);
            options.set_inflight(1000);
            let (client, mut eventloop) = rumqttc::AsyncClient::new(options, 1000);
            let (ready, mut is_ready) = mpsc::unbounded_channel();
            // QoS 0 on the subscriber's side: Mosquitto then forwards each message at once,
            // without its per-client in-flight window (20) and queue (1,000 by default), which
            // drop messages for a QoS 1 subscriber that falls behind a burst (the catch-up).
            // IZA still publishes at QoS 1 and waits for Mosquitto's PUBACKs.
            client
                .subscribe(format!("{prefix}/#"), rumqttc::QoS::AtMostOnce)
                .await
                .unwrap();
            tokio::spawn(async move {
                let _client = client;
                while let Ok(event) = eventloop.poll().await {
                    match event {
                        rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) => {
                            let _ = sender.send((seq(&p.payload), Instant::now()));
                        }
                        rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_)) => {
                            let _ = ready.send(());
                        }
                        _ => {}
                    }
                }
            });
            is_ready.recv().await;
        }
    }
    receiver
}

/// What the timed store saw.
#[derive(Default)]
struct Stages {
    /// When each event's outbox transaction committed, by bus sequence.
    committed: Vec<Option<Instant>>,
    push_ms: Vec<f64>,
    ack_ms: Vec<f64>,
    peeks: u64,
}

/// The bench's store: the SQLite store, its outbox calls timed.
struct Timed {
    inner: Arc<dyn Store>,
    stages: Arc<Mutex<Stages>>,
}

fn seq_of(event_id: &str) -> Option<usize> {
    event_id.rsplit_once('-')?.1.parse().ok()
}

#[async_trait::async_trait]
impl Store for Timed {
    async fn append_results(&self, results: &[ResultRecord]) -> Result<(), StoreError> {
        self.inner.append_results(results).await
    }
    async fn append_events(
        &self,
        events: Vec<EventRecord>,
    ) -> Result<Vec<EventRecord>, StoreError> {
        self.inner.append_events(events).await
    }
    async fn recent_results(
        &self,
        service: &str,
        limit: usize,
    ) -> Result<Vec<ResultRecord>, StoreError> {
        self.inner.recent_results(service, limit).await
    }
    async fn latest_results(&self) -> Result<Vec<ResultRecord>, StoreError> {
        self.inner.latest_results().await
    }
    async fn rollups(
        &self,
        service: &str,
        resolution: Resolution,
        since: Millis,
    ) -> Result<Vec<Rollup>, StoreError> {
        self.inner.rollups(service, resolution, since).await
    }
    async fn uptime(&self, service: &str, now: Millis) -> Result<Uptime, StoreError> {
        self.inner.uptime(service, now).await
    }
    async fn events(&self, query: &EventQuery) -> Result<Vec<EventRecord>, StoreError> {
        self.inner.events(query).await
    }
    async fn maintain(&self, now: Millis, retention: Retention) -> Result<(), StoreError> {
        self.inner.maintain(now, retention).await
    }
    async fn outbox_push(
        &self,
        entries: &[OutboxEntry],
        max_pending: u64,
    ) -> Result<(Vec<OutboxEntry>, u64), StoreError> {
        let start = Instant::now();
        let outcome = self.inner.outbox_push(entries, max_pending).await;
        let end = Instant::now();
        let mut stages = self.stages.lock().unwrap();
        stages
            .push_ms
            .push(end.duration_since(start).as_secs_f64() * 1000.0);
        for entry in entries {
            if let Some(seq) = seq_of(&entry.event_id)
                && let Some(slot) = stages.committed.get_mut(seq)
            {
                *slot = Some(end);
            }
        }
        outcome
    }
    async fn outbox_peek(
        &self,
        output: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        self.stages.lock().unwrap().peeks += 1;
        self.inner.outbox_peek(output, after, limit).await
    }
    async fn outbox_ack(&self, output: &str, ids: &[i64]) -> Result<(), StoreError> {
        let start = Instant::now();
        let outcome = self.inner.outbox_ack(output, ids).await;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        self.stages.lock().unwrap().ack_ms.push(ms);
        outcome
    }
    async fn outbox_depths(&self) -> Result<Vec<OutboxDepth>, StoreError> {
        self.inner.outbox_depths().await
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn status(n: u64) -> EventKind {
    EventKind::StatusChanged {
        service: format!("svc-{}", n % 50),
        from: Status::Up,
        to: Status::Down,
        cause: None,
        reason: Some("bench".into()),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let kind = std::env::var("KIND").unwrap_or_else(|_| "nats".into());
    let n = env("N", 50_000);
    let rate = env("RATE", 10_000);
    let catchup = env("CATCHUP", 100_000);
    let prefix = format!(
        "izabench{}{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let url = match kind.as_str() {
        "nats" => "nats://127.0.0.1:4222".to_owned(),
        "amqp" => "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned(),
        _ => "mqtt://127.0.0.1:1883".to_owned(),
    };
    let extra = match kind.as_str() {
        "amqp" => format!("exchange = \"{prefix}.events\"\n"),
        "mqtt" => "retain = false\n".to_owned(),
        _ => String::new(),
    };
    let mut services = String::new();
    for i in 0..50 {
        services.push_str(&format!("[services.svc-{i}]\n"));
    }
    let text = format!(
        "version = 1\n[ecosystem]\nname = \"bench\"\n{services}[outputs.out]\nkind = \"{kind}\"\nurl = \"{url}\"\nprefix = \"{prefix}\"\nmax_pending = 1000000\n{extra}"
    );
    let checked = iza_catalog::check(&SourceFile::new("b.toml", text, Syntax::Toml));
    let catalog = checked.catalog.expect("bench manifest");
    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn Store> =
        Arc::new(SqliteStore::open(dir.path().join("b.db")).await.unwrap());
    let stages = Arc::new(Mutex::new(Stages {
        committed: vec![None; n as usize + 1],
        ..Stages::default()
    }));
    let store: Arc<dyn Store> = Arc::new(Timed {
        inner: sqlite,
        stages: stages.clone(),
    });
    let mut received = subscribe(&kind, &prefix).await;

    // 1. Rate and latency.
    let bus = Bus::new(65_536);
    let outputs = Outputs::start(&catalog, store.clone(), &bus, OutputsOptions::default());
    let sent: Arc<Mutex<Vec<Instant>>> = Arc::new(Mutex::new(vec![Instant::now(); n as usize + 1]));
    let cpu_start = cpu_ms();
    let start = Instant::now();
    let publisher = {
        let (bus, sent) = (bus.clone(), sent.clone());
        tokio::spawn(async move {
            let per_tick = (rate / 1000).max(1);
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            let mut published = 0;
            while published < n {
                tick.tick().await;
                for _ in 0..per_tick.min(n - published) {
                    let at = Instant::now();
                    let events = bus.publish(Change {
                        events: vec![Event::new(0, status(published))],
                        ..Change::default()
                    });
                    sent.lock().unwrap()[events[0].seq as usize] = at;
                    published += 1;
                }
            }
        })
    };
    let mut latencies = Vec::with_capacity(n as usize);
    let mut arrivals: Vec<(u64, Instant)> = Vec::with_capacity(n as usize);
    let mut last = start;
    while (latencies.len() as u64) < n {
        match tokio::time::timeout(Duration::from_secs(60), received.recv()).await {
            Ok(Some((seq, at))) => {
                let sent_at = sent.lock().unwrap()[seq as usize];
                latencies.push(at.duration_since(sent_at).as_secs_f64() * 1000.0);
                arrivals.push((seq, at));
                last = at;
            }
            _ => break,
        }
    }
    publisher.await.unwrap();
    let cpu = cpu_ms() - cpu_start;
    // The stages: bus to commit, commit to receipt.
    let (mut to_commit, mut to_receipt) = (Vec::new(), Vec::new());
    let (mut push_ms, mut ack_ms, peeks) = {
        let stages = stages.lock().unwrap();
        let sent = sent.lock().unwrap();
        for (seq, at) in &arrivals {
            if let Some(Some(committed)) = stages.committed.get(*seq as usize) {
                let sent_at = sent[*seq as usize];
                to_commit.push(committed.saturating_duration_since(sent_at).as_secs_f64() * 1000.0);
                to_receipt.push(at.saturating_duration_since(*committed).as_secs_f64() * 1000.0);
            }
        }
        (stages.push_ms.clone(), stages.ack_ms.clone(), stages.peeks)
    };
    for figures in [&mut to_commit, &mut to_receipt, &mut push_ms, &mut ack_ms] {
        figures.sort_by(f64::total_cmp);
    }
    let got = latencies.len();
    latencies.sort_by(f64::total_cmp);
    let elapsed = last.duration_since(start).as_secs_f64();
    outputs.shutdown(Duration::from_secs(5)).await;

    // 2. Catch-up of events outboxed during an outage.
    let ecosystem = envelope::ecosystem_token("bench");
    let output = &catalog.outputs["out"];
    let mut written = 0;
    while written < catchup {
        let batch: Vec<OutboxEntry> = (written..(written + 10_000).min(catchup))
            .map(|i| {
                let mut event = Event::new(0, status(i));
                event.seq = i + 1;
                OutboxEntry {
                    id: 0,
                    output: "out".into(),
                    event_id: envelope::event_id(1, i + 1),
                    key: envelope::key(&output.prefix, &ecosystem, &event),
                    service: event.service().map(str::to_owned),
                    at: 0,
                    payload: envelope::cloudevent(&event, &ecosystem, 1).to_string(),
                    retain: false,
                }
            })
            .collect();
        written += batch.len() as u64;
        store.outbox_push(&batch, 1_000_000).await.unwrap();
    }
    while received.try_recv().is_ok() {}
    let bus2 = Bus::new(1024);
    let catchup_start = Instant::now();
    let outputs = Outputs::start(&catalog, store.clone(), &bus2, OutputsOptions::default());
    let mut caught = 0u64;
    while caught < catchup {
        match tokio::time::timeout(Duration::from_secs(120), received.recv()).await {
            Ok(Some(_)) => caught += 1,
            _ => break,
        }
    }
    let catchup_secs = catchup_start.elapsed().as_secs_f64();
    outputs.shutdown(Duration::from_secs(5)).await;
    println!(
        "stages kind={kind} commit_p50_ms={:.2} commit_p99_ms={:.2} receipt_p50_ms={:.2} receipt_p99_ms={:.2} pushes={} push_p50_ms={:.2} push_p99_ms={:.2} push_max_ms={:.2} acks={} ack_p99_ms={:.2} ack_max_ms={:.2} peeks={peeks}",
        percentile(&to_commit, 50.0),
        percentile(&to_commit, 99.0),
        percentile(&to_receipt, 50.0),
        percentile(&to_receipt, 99.0),
        push_ms.len(),
        percentile(&push_ms, 50.0),
        percentile(&push_ms, 99.0),
        push_ms.last().copied().unwrap_or(f64::NAN),
        ack_ms.len(),
        percentile(&ack_ms, 99.0),
        ack_ms.last().copied().unwrap_or(f64::NAN),
    );
    println!(
        "kind={kind} events={n} received={got} rate_target={rate} throughput={:.0}/s p50_ms={:.2} p99_ms={:.2} max_ms={:.2} cpu_ms_per_1000={:.1} catchup_events={catchup} caught={caught} catchup_s={:.2} catchup_rate={:.0}/s",
        got as f64 / elapsed,
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(f64::NAN),
        cpu / (got.max(1) as f64 / 1000.0),
        catchup_secs,
        caught as f64 / catchup_secs,
    );
    if kind == "amqp" {
        // The exchange is the bench's own; leave RabbitMQ as it was.
        if let Ok(conn) = lapin::Connection::connect(
            "amqp://guest:guest@127.0.0.1:5672/%2f",
            lapin::ConnectionProperties::default(),
        )
        .await
            && let Ok(ch) = conn.create_channel().await
        {
            let _ = ch
                .exchange_delete(
                    format!("{prefix}.events").as_str().into(),
                    lapin::options::ExchangeDeleteOptions::default(),
                )
                .await;
        }
    }
}
