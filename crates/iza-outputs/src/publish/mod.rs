//! Defines [`Publisher`]: one connection to one output's broker, publishing a batch of outbox
//! entries in order and saying how many of them the broker acknowledged (a prefix of the
//! batch). One module per kind: `nats` (JetStream when a stream covers the subject),
//! `amqp` (a topic exchange with publisher confirms), `mqtt` (QoS 1 acknowledgements, status
//! retained) and `webhook` (a POST per event). A publisher connects lazily and drops its
//! connection after a failure, so the next batch reconnects.

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

/// One output's connection.
#[async_trait]
pub trait Publisher: Send {
    /// Publishes the entries in order and waits for the broker's acknowledgements.
    async fn publish(&mut self, batch: &[OutboxEntry]) -> Result<(), Failed>;
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
