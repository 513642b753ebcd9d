//! The NATS publisher: each entry goes to its subject (`<prefix>.<ecosystem>.service.<id>.status`,
//! ...). When a JetStream stream covers the subject (asked once per subject and connection), it
//! is published through JetStream with `Nats-Msg-Id` set to the CloudEvents id, so the stream
//! de-duplicates redeliveries, and the stream's acknowledgement is awaited; otherwise it is a
//! core NATS publish, confirmed by a flush (the server received it). `tls://` (or a server that
//! requires TLS) is spoken with the system's roots or the output's `ca_file` and client
//! certificate.

use std::collections::HashMap;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::context::GetStreamByNameErrorKind;
use async_trait::async_trait;
use iza_catalog::model::BrokerTls;
use iza_store::OutboxEntry;

use super::{CONTENT_TYPE, Failed, PublishError, Publisher, within};

pub(super) struct Nats {
    url: String,
    jetstream: bool,
    tls: BrokerTls,
    timeout: Duration,
    connection: Option<Connection>,
}

struct Connection {
    client: async_nats::Client,
    context: async_nats::jetstream::Context,
    /// Whether a stream covers a subject.
    streamed: HashMap<String, bool>,
}

impl Nats {
    pub(super) fn new(url: String, jetstream: bool, tls: BrokerTls, timeout: Duration) -> Nats {
        Nats {
            url,
            jetstream,
            tls,
            timeout,
            connection: None,
        }
    }

    async fn connect(&mut self) -> Result<&mut Connection, PublishError> {
        if self.connection.is_none() {
            let mut options = async_nats::ConnectOptions::new()
                .connection_timeout(self.timeout)
                .request_timeout(Some(self.timeout));
            if !self.tls.is_empty() {
                let config = iza_probe::broker_tls::client_config(&self.tls)
                    .map_err(PublishError::Connect)?;
                options = options.tls_client_config((*config).clone());
            }
            let client = within(self.timeout, options.connect(self.url.as_str()))
                .await?
                .map_err(|e| {
                    PublishError::Connect(iza_probe::broker_tls::explain(&e.to_string(), &self.tls))
                })?;
            let context = async_nats::jetstream::new(client.clone());
            self.connection = Some(Connection {
                client,
                context,
                streamed: HashMap::new(),
            });
        }
        Ok(self.connection.as_mut().expect("connected above"))
    }

    async fn send(&mut self, batch: &[OutboxEntry]) -> Result<(), Failed> {
        let (jetstream, timeout) = (self.jetstream, self.timeout);
        let connection = self.connect().await.map_err(|e| Failed::at(0, e))?;
        // Publish everything first, then collect the acknowledgements in order.
        let mut acks = Vec::with_capacity(batch.len());
        let mut core = false;
        for (index, entry) in batch.iter().enumerate() {
            let streamed = if jetstream {
                match connection.streamed.get(&entry.key) {
                    Some(known) => *known,
                    None => {
                        let found =
                            within(timeout, connection.context.stream_by_subject(&entry.key))
                                .await
                                .map_err(|e| Failed::at(index, e))?;
                        let streamed = match found {
                            Ok(_) => true,
                            Err(e) if e.kind() == GetStreamByNameErrorKind::NotFound => false,
                            Err(e) => {
                                return Err(Failed::at(
                                    index,
                                    PublishError::Publish(format!("asking for a stream: {e}")),
                                ));
                            }
                        };
                        connection.streamed.insert(entry.key.clone(), streamed);
                        streamed
                    }
                }
            } else {
                false
            };
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", entry.event_id.as_str());
            headers.insert("Content-Type", CONTENT_TYPE);
            let payload = entry.payload.clone().into_bytes().into();
            if streamed {
                let ack = connection
                    .context
                    .publish_with_headers(entry.key.clone(), headers, payload)
                    .await
                    .map_err(|e| Failed::at(index, PublishError::Publish(e.to_string())))?;
                acks.push(Some(ack));
            } else {
                core = true;
                connection
                    .client
                    .publish_with_headers(entry.key.clone(), headers, payload)
                    .await
                    .map_err(|e| Failed::at(index, PublishError::Publish(e.to_string())))?;
                acks.push(None);
            }
        }
        let flushed = if core {
            match within(timeout, connection.client.flush()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(PublishError::Publish(e.to_string())),
                Err(e) => Err(e),
            }
        } else {
            Ok(())
        };
        for (index, ack) in acks.into_iter().enumerate() {
            match ack {
                None => flushed.clone().map_err(|e| Failed::at(index, e))?,
                Some(ack) => {
                    within(timeout, ack.into_future())
                        .await
                        .map_err(|e| Failed::at(index, e))?
                        .map_err(|e| Failed::at(index, PublishError::Publish(e.to_string())))?;
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Publisher for Nats {
    async fn publish(&mut self, batch: &[OutboxEntry]) -> Result<(), Failed> {
        let outcome = self.send(batch).await;
        if outcome.is_err() {
            self.connection = None;
        }
        outcome
    }
}
