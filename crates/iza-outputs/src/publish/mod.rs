//! Defines [`Publisher`]: one connection to one output's broker. [`Publisher::send`] hands a
//! batch of outbox entries to the broker in order, after every batch sent before on the same
//! connection, and returns at once with the batch's acknowledgement ([`Acks`]), a future that
//! resolves when the broker has acknowledged the whole batch, or with the prefix it
//! acknowledged and why the rest was not. The worker (`delivery`) keeps sending while earlier
//! batches' acknowledgements are awaited (a bounded window), and awaits them in the order sent.
//! One module per kind: `nats` (JetStream when a stream covers the subject), `amqp` (a topic
//! exchange with publisher confirms), `mqtt` (QoS 1 acknowledgements, status retained) and
//! `webhook` (a POST per event, acknowledged by its answer). A publisher connects lazily;
//! after a failure the worker calls [`Publisher::reset`], which drops the connection and what
//! is in flight on it, so the next batch reconnects.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use iza_catalog::model::{Output, OutputKind};
use iza_store::OutboxEntry;

mod amqp;
mod mqtt;
mod nats;
mod webhook;

/// The content type every output sends (the CloudEvents JSON format, structured mode).
pub const CONTENT_TYPE: &str = "application/cloudevents+json";

/// Why a publish failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PublishError {
    /// The broker could not be reached or refused the connection.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The broker refused or lost a message.
    #[error("publish failed: {0}")]
    Publish(String),
    /// No acknowledgement came in time.
    #[error("no acknowledgement within {0:?}")]
    Timeout(Duration),
}

/// A batch that was not published whole: the first `acked` entries were acknowledged.
#[derive(Debug, Clone)]
pub struct Failed {
    /// Entries acknowledged, from the start of the batch.
    pub acked: usize,
    /// Why the rest were not.
    pub error: PublishError,
}

impl Failed {
    pub(crate) fn at(acked: usize, error: PublishError) -> Failed {
        Failed { acked, error }
    }
}

/// The acknowledgement of one sent batch: `Ok` when the broker acknowledged every entry of it,
/// else the entries acknowledged from its start and why the rest were not. It owns what it
/// waits for (no borrow of the publisher), so the worker can send more while it waits.
pub type Acks = Pin<Box<dyn Future<Output = Result<(), Failed>> + Send>>;

/// An acknowledgement already known.
pub(crate) fn acked(outcome: Result<(), Failed>) -> Acks {
    Box::pin(std::future::ready(outcome))
}

/// One output's connection.
#[async_trait]
pub trait Publisher: Send {
    /// Hands the entries to the broker in order, after every batch sent before on this
    /// connection (connecting first when there is none), without waiting for the broker's
    /// acknowledgements: those are the returned [`Acks`]. The batches sent on one connection
    /// are acknowledged in the order sent, and an entry counts as acknowledged only when every
    /// entry sent before it on the connection is. An error means nothing of this batch was
    /// sent for sure: the caller resets and sends it again.
    async fn send(&mut self, batch: &[OutboxEntry]) -> Result<Acks, PublishError>;

    /// Drops the connection and whatever is in flight on it (after a failure, a missing
    /// acknowledgement or at a stop): the next [`Publisher::send`] connects again.
    async fn reset(&mut self);
}

/// The publisher of an output, connecting to `url` (its `${ENV}` references resolved).
pub fn publisher(output: &Output, url: String) -> Box<dyn Publisher> {
    match output.kind {
        OutputKind::Nats => Box::new(nats::Nats::new(
            url,
            output.jetstream,
            output.tls.clone(),
            output.timeout,
        )),
        OutputKind::Amqp => Box::new(amqp::Amqp::new(
            url,
            output
                .exchange
                .clone()
                .unwrap_or_else(|| "iza.events".into()),
            output.timeout,
        )),
        OutputKind::Mqtt => Box::new(mqtt::Mqtt::new(
            url,
            output.qos,
            output.retain,
            output.tls.clone(),
            output.timeout,
        )),
        OutputKind::Webhook => Box::new(webhook::Webhook::new(
            url,
            output
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), crate::resolve_env(value)))
                .collect(),
            output.timeout,
        )),
    }
}

/// Runs `future` for at most `limit`.
pub(crate) async fn within<T>(
    limit: Duration,
    future: impl std::future::Future<Output = T>,
) -> Result<T, PublishError> {
    tokio::time::timeout(limit, future)
        .await
        .map_err(|_| PublishError::Timeout(limit))
}
