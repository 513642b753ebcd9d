//! The `amqp` kind with `round_trip = true` (or `exchange`/`queue`): a probe message
//! published to the check's `exchange` (the default exchange without one) with its
//! `routing_key`, with the `mandatory` flag and publisher confirms, and received back on its
//! `queue`. With a `queue` the queue must exist (it is not declared) and the message must
//! reach it through the broker's own bindings: a missing binding is reported as such
//! (`NO_ROUTE`), so "the broker accepts connections" and "messages reach the consumer's
//! queue" are different facts. Without a `queue`, a temporary exclusive queue is bound to
//! the exchange. Other messages met on the queue are given back (requeued). Facts
//! `[CONNECTED]`, `[ROUND_TRIP]`.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use iza_catalog::model::RoundTrip;
use iza_catalog::redact::redact_url;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions,
    ConfirmSelectOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};

use super::round_trip;
use crate::result::{Facts, Failure, Reason};

/// Publishes the probe message and waits for it on the queue.
pub(crate) async fn probe(
    target: &RoundTrip,
    timeout: Duration,
    facts: &mut Facts,
) -> Result<(), Failure> {
    let shown = redact_url(&target.url).into_owned();
    let connection = Connection::connect(&target.url, ConnectionProperties::default())
        .await
        .map_err(|e| Failure::new(Reason::Connect, format!("cannot connect to `{shown}`: {e}")))?;
    facts.connected = true;
    let result = round_trip(&connection, target, timeout, facts).await;
    let _ = connection.close(200, "probe done".into()).await;
    result
}

async fn round_trip(
    connection: &Connection,
    target: &RoundTrip,
    timeout: Duration,
    facts: &mut Facts,
) -> Result<(), Failure> {
    let rejected =
        |what: &str, e: lapin::Error| Failure::new(Reason::Rejected, format!("{what}: {e}"));
    let channel = connection
        .create_channel()
        .await
        .map_err(|e| rejected("cannot open a channel", e))?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| rejected("cannot turn publisher confirms on", e))?;
    let exchange = target.exchange.clone().unwrap_or_default();
    let queue = match &target.queue {
        Some(queue) => {
            channel
                .queue_declare(
                    queue.as_str().into(),
                    QueueDeclareOptions {
                        passive: true,
                        ..QueueDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await
                .map_err(|e| rejected(&format!("the queue `{queue}` is not there"), e))?;
            queue.clone()
        }
        None => {
            let declared = channel
                .queue_declare(
                    "".into(),
                    QueueDeclareOptions {
                        exclusive: true,
                        auto_delete: true,
                        ..QueueDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await
                .map_err(|e| rejected("cannot declare a temporary queue", e))?;
            let name = declared.name().to_string();
            if !exchange.is_empty() {
                let key = target.address.clone().unwrap_or_else(|| name.clone());
                channel
                    .queue_bind(
                        name.as_str().into(),
                        exchange.as_str().into(),
                        key.as_str().into(),
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    )
                    .await
                    .map_err(|e| {
                        rejected(
                            &format!("cannot bind a queue to the exchange `{exchange}`"),
                            e,
                        )
                    })?;
            }
            name
        }
    };
    let key = target.address.clone().unwrap_or_else(|| queue.clone());
    let mut consumer = channel
        .basic_consume(
            queue.as_str().into(),
            format!("iza-probe-{}", round_trip::unique())
                .as_str()
                .into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| rejected(&format!("cannot consume from the queue `{queue}`"), e))?;
    let token = round_trip::unique();
    let payload = round_trip::payload(&token);
    let shown_exchange = if exchange.is_empty() {
        "the default exchange".to_owned()
    } else {
        format!("the exchange `{exchange}`")
    };
    let published = Instant::now();
    let confirmation = channel
        .basic_publish(
            exchange.as_str().into(),
            key.as_str().into(),
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            payload.as_bytes(),
            BasicProperties::default().with_message_id(token.as_str().into()),
        )
        .await
        .map_err(|e| rejected(&format!("cannot publish to {shown_exchange}"), e))?
        .await
        .map_err(|e| rejected(&format!("{shown_exchange} did not confirm"), e))?;
    if confirmation.is_nack() {
        return Err(Failure::new(
            Reason::Rejected,
            format!("the broker refused the probe message to {shown_exchange} (nack)"),
        ));
    }
    if let Some(returned) = confirmation.take_message() {
        return Err(Failure::new(
            Reason::Condition,
            format!(
                "{shown_exchange} routes the key `{key}` to no queue ({} {}): the binding of the consumer's queue{} is missing",
                returned.reply_code,
                returned.reply_text,
                target
                    .queue
                    .as_ref()
                    .map(|q| format!(" `{q}`"))
                    .unwrap_or_default()
            ),
        ));
    }
    let patience = round_trip::patience(timeout);
    let wait = async {
        while let Some(delivery) = consumer.next().await {
            let Ok(delivery) = delivery else {
                return false;
            };
            if delivery.data == payload.as_bytes() {
                let _ = delivery.ack(BasicAckOptions::default()).await;
                return true;
            }
            // Someone else's message: give it back.
            let _ = delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                })
                .await;
        }
        false
    };
    match tokio::time::timeout(patience, wait).await {
        Ok(true) => {
            round_trip::arrived(published, facts);
            facts.body = Some(payload);
            Ok(())
        }
        Ok(false) => Err(Failure::new(
            Reason::Protocol,
            format!("the consumer of `{queue}` ended before the probe message came back"),
        )),
        Err(_) => Err(round_trip::lost(
            &format!(
                "published to {shown_exchange} with key `{key}` (the broker routed it, but not to the queue `{queue}`: is the queue bound with that key?)"
            ),
            patience,
        )),
    }
}
