//! Brokers pushed results come from (`[inputs.*]`, `docs/inputs.md`): IZA subscribes to a
//! NATS subject, consumes an AMQP queue or subscribes to an MQTT topic filter, and hands every
//! message to [`Monitor::push`] as `POST /api/v1/services/{id}/results` would.
//!
//! A message's body is the same JSON as the HTTP route's, plus an optional `service`. Without
//! it, the service is the last segment of the subject (`iza.results.api` → `api`), routing key
//! or topic (`iza/results/api` → `api`). A message that is not a result, or names an unknown
//! service, is logged and dropped (AMQP: acknowledged). Each input is one task that connects,
//! subscribes and, when the broker goes away, reconnects with a backoff from 200 ms to 30 s.
//! [`Inputs`] stops them all when dropped.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use iza_catalog::Catalog;
use iza_catalog::model::{Input, InputKind};
use iza_catalog::redact::redact_url;
use tokio::task::JoinHandle;

use crate::monitor::Monitor;
use crate::monitor::push::{PushOutcome, parse_message};

/// The running inputs; dropping it stops them.
#[derive(Debug, Default)]
pub struct Inputs {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Inputs {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Inputs {
    /// Starts one task per input of the catalog. Must be called within a Tokio runtime.
    pub fn start(catalog: &Catalog, monitor: Arc<Monitor>) -> Inputs {
        let tasks = catalog
            .inputs
            .values()
            .map(|input| tokio::spawn(run(input.clone(), monitor.clone())))
            .collect();
        Inputs { tasks }
    }

    /// How many inputs run.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether none runs.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

/// The service a subject, routing key or topic names: its last segment.
pub fn service_of(address: &str) -> &str {
    address.rsplit(['.', '/']).next().unwrap_or(address)
}

async fn run(input: Input, monitor: Arc<Monitor>) {
    let mut backoff = Duration::from_millis(200);
    loop {
        let ended = match input.kind {
            InputKind::Nats => nats(&input, &monitor).await,
            InputKind::Amqp => amqp(&input, &monitor).await,
            InputKind::Mqtt => mqtt(&input, &monitor).await,
        };
        let why = ended
            .err()
            .unwrap_or_else(|| "the subscription ended".to_owned());
        tracing::warn!(
            "input `{}` ({}): {why}; reconnecting in {}",
            input.id,
            redact_url(&input.url),
            humantime::format_duration(backoff)
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
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

async fn nats(input: &Input, monitor: &Monitor) -> Result<(), String> {
    let client = async_nats::connect(input.url.as_str())
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let mut subscription = client
        .subscribe(input.from.clone())
        .await
        .map_err(|e| format!("cannot subscribe to `{}`: {e}", input.from))?;
    tracing::info!("input `{}`: subscribed to `{}`", input.id, input.from);
    while let Some(message) = subscription.next().await {
        deliver(
            monitor,
            &input.id,
            message.subject.as_str(),
            &message.payload,
        )
        .await;
    }
    Ok(())
}

async fn amqp(input: &Input, monitor: &Monitor) -> Result<(), String> {
    use lapin::options::{BasicAckOptions, BasicConsumeOptions, QueueDeclareOptions};
    use lapin::types::FieldTable;
    let connection = lapin::Connection::connect(&input.url, lapin::ConnectionProperties::default())
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
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
    while let Some(delivery) = consumer.next().await {
        let delivery = delivery.map_err(|e| e.to_string())?;
        let key = delivery.routing_key.to_string();
        deliver(monitor, &input.id, &key, &delivery.data).await;
        let _ = delivery.ack(BasicAckOptions::default()).await;
    }
    Ok(())
}

async fn mqtt(input: &Input, monitor: &Monitor) -> Result<(), String> {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let url = url::Url::parse(&input.url).map_err(|e| e.to_string())?;
    let host = url.host_str().unwrap_or("127.0.0.1").to_owned();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut options = MqttOptions::new(
        format!("iza-input-{}-{}-{nanos:x}", input.id, std::process::id()),
        host,
        url.port().unwrap_or(1883),
    );
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
        match events.poll().await.map_err(|e| e.to_string())? {
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
