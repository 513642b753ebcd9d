//! The AMQP 0-9-1 (RabbitMQ) publisher: a durable topic exchange (declared when missing), each
//! entry published with its dotted key as routing key, persistent, `message_id` set to the
//! CloudEvents id, on a channel in confirm mode; the broker's confirms are awaited in order.

use std::time::Duration;

use async_trait::async_trait;
use iza_store::OutboxEntry;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};

use super::{CONTENT_TYPE, Failed, PublishError, Publisher, within};

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

    async fn send(&mut self, batch: &[OutboxEntry]) -> Result<(), Failed> {
        let (timeout, exchange) = (self.timeout, self.exchange.clone());
        let channel = self.connect().await.map_err(|e| Failed::at(0, e))?;
        let mut confirms = Vec::with_capacity(batch.len());
        for (index, entry) in batch.iter().enumerate() {
            let properties = BasicProperties::default()
                .with_message_id(entry.event_id.as_str().into())
                .with_content_type(CONTENT_TYPE.into())
                .with_delivery_mode(2)
                .with_timestamp(u64::try_from(entry.at / 1000).unwrap_or_default());
            let confirm = within(
                timeout,
                channel.basic_publish(
                    exchange.as_str().into(),
                    entry.key.as_str().into(),
                    BasicPublishOptions::default(),
                    entry.payload.as_bytes(),
                    properties,
                ),
            )
            .await
            .map_err(|e| Failed::at(index, e))?
            .map_err(|e| Failed::at(index, PublishError::Publish(e.to_string())))?;
            confirms.push(confirm);
        }
        for (index, confirm) in confirms.into_iter().enumerate() {
            let confirmation = within(timeout, confirm)
                .await
                .map_err(|e| Failed::at(index, e))?
                .map_err(|e| Failed::at(index, PublishError::Publish(e.to_string())))?;
            if confirmation.is_nack() {
                return Err(Failed::at(
                    index,
                    PublishError::Publish("the broker refused the message (nack)".into()),
                ));
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Publisher for Amqp {
    async fn publish(&mut self, batch: &[OutboxEntry]) -> Result<(), Failed> {
        let outcome = self.send(batch).await;
        if outcome.is_err()
            && let Some((connection, _)) = self.connection.take()
        {
            let _ = connection.close(0, "iza output reconnects".into()).await;
        }
        outcome
    }
}
