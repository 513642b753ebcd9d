//! Brokers pushed results come from (`[inputs.*]`, `docs/inputs.md`): IZA subscribes to a
//! NATS subject, consumes an AMQP queue or subscribes to an MQTT topic filter, and hands every
//! message to [`Monitor::push`] as `POST /api/v1/services/{id}/results` would.
//!
//! A message's body is the same JSON as the HTTP route's, plus an optional `service`. Without
//! it, the service is the last segment of the subject (`iza.results.api` → `api`), routing key
//! or topic (`iza/results/api` → `api`). A message that is not a result, or names an unknown
//! service, is logged and dropped (AMQP: acknowledged). MQTT over TLS (`mqtts://`) and NATS
//! over TLS use the input's `ca_file` and client certificate (`iza_probe::broker_tls`). Each
//! input is one task that connects,
//! subscribes and, when the broker goes away, reconnects with a backoff from 200 ms to 30 s.
//! [`Inputs::reload`] applies a new catalog's inputs (added ones subscribe, removed ones close
//! their connection, changed ones close and subscribe again); [`Inputs`] stops them all when
//! dropped.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use indexmap::IndexMap;
use iza_catalog::Catalog;
use iza_catalog::model::{Input, InputKind};
use iza_catalog::redact::redact_url;
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::monitor::Monitor;
use crate::monitor::push::{PushOutcome, parse_message};

/// How long a reload waits for a removed or changed input to close its subscription.
const STOP_INPUT: Duration = Duration::from_secs(5);

/// The running inputs; dropping it stops them.
#[derive(Debug)]
pub struct Inputs {
    monitor: Arc<Monitor>,
    running: Mutex<IndexMap<String, Running>>,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct Running {
    input: Input,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// What a reload changed, by input id, each list in catalog order (the old one for removals).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InputsReload {
    /// Subscribed.
    pub added: Vec<String>,
    /// Unsubscribed (their connection closed).
    pub removed: Vec<String>,
    /// Subscribed again with the new URL, subject, queue or topic (the old subscription
    /// closed first).
    pub changed: Vec<String>,
}

impl InputsReload {
    /// Whether no input changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

impl Drop for Inputs {
    fn drop(&mut self) {
        for (_, running) in self
            .running
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            running.task.abort();
        }
    }
}

impl Inputs {
    /// Starts one task per input of the catalog. Must be called within a Tokio runtime.
    pub fn start(catalog: &Catalog, monitor: Arc<Monitor>) -> Inputs {
        let running = catalog
            .inputs
            .values()
            .map(|input| (input.id.clone(), spawn(input.clone(), monitor.clone())))
            .collect();
        Inputs {
            monitor,
            running: Mutex::new(running),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// Applies the inputs of a new catalog: added ones subscribe, removed ones close their
    /// subscription and connection, changed ones (URL, subject, queue or topic) close the old
    /// subscription and then subscribe with the new settings; unchanged ones are not touched.
    /// An AMQP message a closed consumer had received but not yet handed over stays in its
    /// queue (it was not acknowledged) and comes again.
    pub async fn reload(&self, catalog: &Catalog) -> InputsReload {
        let _one = self.reloading.lock().await;
        let mut report = InputsReload::default();
        let mut stopping = Vec::new();
        let mut starting = Vec::new();
        {
            let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
            for (id, input) in &catalog.inputs {
                match running.get(id) {
                    Some(now) if now.input == *input => {}
                    Some(_) => {
                        stopping.extend(running.shift_remove(id));
                        report.changed.push(id.clone());
                        starting.push(input.clone());
                    }
                    None => {
                        report.added.push(id.clone());
                        starting.push(input.clone());
                    }
                }
            }
            let removed: Vec<String> = running
                .keys()
                .filter(|id| !catalog.inputs.contains_key(*id))
                .cloned()
                .collect();
            for id in removed {
                stopping.extend(running.shift_remove(&id));
                report.removed.push(id);
            }
        }
        for old in stopping {
            let _ = old.stop.send(true);
            let abort = old.task.abort_handle();
            if tokio::time::timeout(STOP_INPUT, old.task).await.is_err() {
                abort.abort();
            }
        }
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        for input in starting {
            running.insert(input.id.clone(), spawn(input, self.monitor.clone()));
        }
        // Catalog order.
        running.sort_by_cached_key(|id, _| catalog.inputs.get_index_of(id));
        report
    }

    /// The ids of the running inputs, in catalog order.
    pub fn ids(&self) -> Vec<String> {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }

    /// How many inputs run.
    pub fn len(&self) -> usize {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether none runs.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn spawn(input: Input, monitor: Arc<Monitor>) -> Running {
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(run(input.clone(), monitor, stopped));
    Running { input, stop, task }
}

/// The service a subject, routing key or topic names: its last segment.
pub fn service_of(address: &str) -> &str {
    address.rsplit(['.', '/']).next().unwrap_or(address)
}

async fn run(input: Input, monitor: Arc<Monitor>, mut stopped: watch::Receiver<bool>) {
    let mut backoff = Duration::from_millis(200);
    loop {
        let ended = match input.kind {
            InputKind::Nats => nats(&input, &monitor, &mut stopped).await,
            InputKind::Amqp => amqp(&input, &monitor, &mut stopped).await,
            InputKind::Mqtt => mqtt(&input, &monitor, &mut stopped).await,
        };
        if *stopped.borrow() {
            tracing::info!("input `{}`: stopped", input.id);
            return;
        }
        let why = ended
            .err()
            .unwrap_or_else(|| "the subscription ended".to_owned());
        tracing::warn!(
            "input `{}` ({}): {why}; reconnecting in {}",
            input.id,
            redact_url(&input.url),
            humantime::format_duration(backoff)
        );
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// Resolves when the input is told to stop.
async fn stop_asked(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

/// Hands one message to the monitor; `false` when it was dropped.
async fn deliver(monitor: &Monitor, input: &str, address: &str, body: &[u8]) -> bool {
    let (named, pushed) = match parse_message(body) {
        Ok(parsed) => parsed,
        Err(reason) => {
            tracing::warn!("input `{input}`: a message on `{address}` dropped: {reason}");
            return false;
        }
    };
    let service = named.unwrap_or_else(|| service_of(address).to_owned());
    match monitor.push(&service, pushed).await {
        Ok(PushOutcome::Recorded(_)) => true,
        Ok(PushOutcome::UnknownService) => {
            tracing::warn!(
                "input `{input}`: a result on `{address}` for unknown service `{service}` dropped"
            );
            false
        }
        Ok(PushOutcome::NotChecked) => {
            tracing::warn!(
                "input `{input}`: a result on `{address}` for `{service}`, which has no check, dropped"
            );
            false
        }
        Err(_) => false,
    }
}

async fn nats(
    input: &Input,
    monitor: &Monitor,
    stopped: &mut watch::Receiver<bool>,
) -> Result<(), String> {
    let mut options = async_nats::ConnectOptions::new();
    if !input.tls.is_empty() {
        let config = iza_probe::broker_tls::client_config(&input.tls)?;
        options = options.tls_client_config((*config).clone());
    }
    let client = tokio::select! {
        client = options.connect(input.url.as_str()) => {
            client.map_err(|e| {
                let error = iza_probe::broker_tls::explain(&e.to_string(), &input.tls);
                format!("cannot connect: {error}")
            })?
        }
        () = stop_asked(stopped) => return Ok(()),
    };
    let mut subscription = client
        .subscribe(input.from.clone())
        .await
        .map_err(|e| format!("cannot subscribe to `{}`: {e}", input.from))?;
    tracing::info!("input `{}`: subscribed to `{}`", input.id, input.from);
    loop {
        let message = tokio::select! {
            message = subscription.next() => message,
            () = stop_asked(stopped) => {
                let _ = subscription.unsubscribe().await;
                let _ = client.flush().await;
                return Ok(());
            }
        };
        let Some(message) = message else {
            return Ok(());
        };
        deliver(
            monitor,
            &input.id,
            message.subject.as_str(),
            &message.payload,
        )
        .await;
    }
}

async fn amqp(
    input: &Input,
    monitor: &Monitor,
    stopped: &mut watch::Receiver<bool>,
) -> Result<(), String> {
    let connection = tokio::select! {
        connection = lapin::Connection::connect(&input.url, lapin::ConnectionProperties::default()) => {
            connection.map_err(|e| format!("cannot connect: {e}"))?
        }
        () = stop_asked(stopped) => return Ok(()),
    };
    let outcome = amqp_consume(input, monitor, stopped, &connection).await;
    // Closed whether the consumer ended or was told to stop: the broker cancels the consumer
    // at once, and what it had sent but was not acknowledged goes back to the queue.
    let _ = connection.close(200, "iza input stopped".into()).await;
    outcome
}

async fn amqp_consume(
    input: &Input,
    monitor: &Monitor,
    stopped: &mut watch::Receiver<bool>,
    connection: &lapin::Connection,
) -> Result<(), String> {
    use lapin::options::{BasicAckOptions, BasicConsumeOptions, QueueDeclareOptions};
    use lapin::types::FieldTable;
    let channel = connection
        .create_channel()
        .await
        .map_err(|e| format!("cannot open a channel: {e}"))?;
    channel
        .queue_declare(
            input.from.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(|e| format!("cannot declare the queue `{}`: {e}", input.from))?;
    let mut consumer = channel
        .basic_consume(
            input.from.as_str().into(),
            format!("iza-input-{}", input.id).as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| format!("cannot consume the queue `{}`: {e}", input.from))?;
    tracing::info!("input `{}`: consuming `{}`", input.id, input.from);
    loop {
        let delivery = tokio::select! {
            delivery = consumer.next() => delivery,
            () = stop_asked(stopped) => return Ok(()),
        };
        let Some(delivery) = delivery else {
            return Ok(());
        };
        let delivery = delivery.map_err(|e| e.to_string())?;
        let key = delivery.routing_key.to_string();
        deliver(monitor, &input.id, &key, &delivery.data).await;
        let _ = delivery.ack(BasicAckOptions::default()).await;
    }
}

async fn mqtt(
    input: &Input,
    monitor: &Monitor,
    stopped: &mut watch::Receiver<bool>,
) -> Result<(), String> {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
    let url = url::Url::parse(&input.url).map_err(|e| e.to_string())?;
    let host = url
        .host_str()
        .unwrap_or("127.0.0.1")
        .trim_matches(['[', ']'])
        .to_owned();
    let tls = url.scheme() == "mqtts";
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut options = MqttOptions::new(
        format!("iza-input-{}-{}-{nanos:x}", input.id, std::process::id()),
        host,
        url.port().unwrap_or(if tls { 8883 } else { 1883 }),
    );
    if tls {
        let config = iza_probe::broker_tls::client_config(&input.tls)?;
        options.set_transport(Transport::Tls(TlsConfiguration::Rustls(config)));
    }
    options.set_keep_alive(Duration::from_secs(30));
    if !url.username().is_empty() {
        options.set_credentials(url.username(), url.password().unwrap_or(""));
    }
    let (client, mut events) = AsyncClient::new(options, 64);
    client
        .subscribe(input.from.clone(), QoS::AtLeastOnce)
        .await
        .map_err(|e| e.to_string())?;
    loop {
        let event = tokio::select! {
            event = events.poll() => event.map_err(|e| {
                iza_probe::broker_tls::explain(&e.to_string(), &input.tls)
            })?,
            () = stop_asked(stopped) => {
                // Sent by the event loop; dropped with it when the broker is slow to take it.
                let _ = client.try_disconnect();
                let _ = tokio::time::timeout(Duration::from_millis(500), async {
                    while events.poll().await.is_ok() {}
                })
                .await;
                return Ok(());
            }
        };
        match event {
            Event::Incoming(Packet::SubAck(_)) => {
                tracing::info!("input `{}`: subscribed to `{}`", input.id, input.from);
            }
            Event::Incoming(Packet::Publish(message)) => {
                deliver(monitor, &input.id, &message.topic, &message.payload).await;
            }
            _ => {}
        }
    }
}
