//! The AMQP 0-9-1 (RabbitMQ) publisher: a durable topic exchange (declared when missing), each
//! entry published with its dotted key as routing key, persistent, `message_id` set to the
//! CloudEvents id, on a channel in confirm mode. A batch is published whole (in order) before
//! `send` returns; its acknowledgement awaits the broker's confirms of it in order, while the
//! next batches are published on the same channel.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use async_trait::async_trait;
use iza_store::OutboxEntry;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};

use super::{Acks, CONTENT_TYPE, Failed, PublishError, Publisher, within};

pub(super) struct Amqp {
    url: String,
    exchange: String,
    timeout: Duration,
    connection: Option<(Connection, Channel)>,
}

impl Amqp {
    pub(super) fn new(url: String, exchange: String, timeout: Duration) -> Amqp {
        Amqp {
            url,
            exchange,
            timeout,
            connection: None,
        }
    }

    async fn connect(&mut self) -> Result<&Channel, PublishError> {
        if self.connection.is_none() {
            let connect = |e: lapin::Error| PublishError::Connect(e.to_string());
            let connection = within(
                self.timeout,
                Connection::connect(&self.url, ConnectionProperties::default()),
            )
            .await?
            .map_err(connect)?;
            let channel = within(self.timeout, connection.create_channel())
                .await?
                .map_err(connect)?;
            within(
                self.timeout,
                channel.confirm_select(ConfirmSelectOptions::default()),
            )
            .await?
            .map_err(connect)?;
            within(
                self.timeout,
                channel.exchange_declare(
                    self.exchange.as_str().into(),
                    ExchangeKind::Topic,
                    ExchangeDeclareOptions {
                        durable: true,
                        ..ExchangeDeclareOptions::default()
                    },
                    FieldTable::default(),
                ),
            )
            .await?
            .map_err(connect)?;
            self.connection = Some((connection, channel));
        }
        Ok(&self.connection.as_ref().expect("connected above").1)
    }

    async fn publish(&mut self, batch: &[OutboxEntry]) -> Result<Acks, PublishError> {
        let (timeout, exchange) = (self.timeout, self.exchange.clone());
        let channel = self.connect().await?;
        // Every publish of the batch is handed to lapin before any is awaited: lapin queues a
        // message's frames when its publish is first polled (in the batch's order, see
        // `in_order`) and resolves it once they are written, so awaiting each in turn cost a
        // wake-up of lapin's I/O loop and one socket write per message.
        let publishes: Vec<_> = batch
            .iter()
            .map(|entry| {
                let properties = BasicProperties::default()
                    .with_message_id(entry.event_id.as_str().into())
                    .with_content_type(CONTENT_TYPE.into())
                    .with_delivery_mode(2)
                    .with_timestamp(u64::try_from(entry.at / 1000).unwrap_or_default());
                channel.basic_publish(
                    exchange.as_str().into(),
                    entry.key.as_str().into(),
                    BasicPublishOptions::default(),
                    entry.payload.as_bytes(),
                    properties,
                )
            })
            .collect();
        let published = within(timeout, in_order(publishes)).await?;
        // The confirms of the messages published, up to the first that could not be (the
        // acknowledgement then ends with that failure, after the confirms before it).
        let mut failure = None;
        let mut confirms = Vec::with_capacity(batch.len());
        for (index, outcome) in published.into_iter().enumerate() {
            match outcome {
                Ok(confirm) => confirms.push(confirm),
                Err(e) => {
                    failure = Some((index, PublishError::Publish(e.to_string())));
                    break;
                }
            }
        }
        Ok(Box::pin(async move {
            for (index, confirm) in confirms.into_iter().enumerate() {
                let confirmation = confirm
                    .await
                    .map_err(|e| Failed::at(index, PublishError::Publish(e.to_string())))?;
                if confirmation.is_nack() {
                    return Err(Failed::at(
                        index,
                        PublishError::Publish("the broker refused the message (nack)".into()),
                    ));
                }
            }
            match failure {
                Some((index, error)) => Err(Failed::at(index, error)),
                None => Ok(()),
            }
        }))
    }
}

/// Runs `futures` to completion. Each is first polled in their order, so their synchronous
/// starts (lapin queueing a message's frames) happen in the order of the batch; after that each
/// is polled only when it is woken (not every one of a batch on every wake-up, which made a
/// batch of `n` cost up to `n` polls per wake-up).
async fn in_order<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = std::iter::repeat_with(|| None)
        .take(futures.len())
        .collect();
    std::future::poll_fn(|cx| {
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if let Poll::Ready(done) = future.as_mut().poll(cx) {
                *output = Some(done);
            }
        }
        Poll::Ready(())
    })
    .await;
    let (waiting, started): (Vec<usize>, Vec<Pin<Box<F>>>) = futures
        .into_iter()
        .enumerate()
        .filter(|(index, _)| outputs[*index].is_none())
        .unzip();
    let rest = futures_util::future::join_all(started).await;
    for (index, done) in waiting.into_iter().zip(rest) {
        outputs[index] = Some(done);
    }
    outputs.into_iter().flatten().collect()
}

#[async_trait]
impl Publisher for Amqp {
    async fn send(&mut self, batch: &[OutboxEntry]) -> Result<Acks, PublishError> {
        self.publish(batch).await
    }

    async fn reset(&mut self) {
        if let Some((connection, _)) = self.connection.take() {
            let _ = within(
                self.timeout,
                connection.close(0, "iza output reconnects".into()),
            )
            .await;
        }
    }
}
