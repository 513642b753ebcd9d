//! The NATS publisher: each entry goes to its subject (`<prefix>.<ecosystem>.service.<id>.status`,
//! ...). When a JetStream stream covers the subject (asked once per subject and connection), it
//! is published through JetStream with `Nats-Msg-Id` set to the CloudEvents id, so the stream
//! de-duplicates redeliveries, and the stream's acknowledgement is awaited; otherwise it is a
//! core NATS publish, confirmed by a flush (the server received it). A batch's acknowledgement
//! awaits the flush (when it had core publishes) and then its stream acknowledgements in order,
//! while the next batches are published. `tls://` (or a server that
//! requires TLS) is spoken with the system's roots or the output's `ca_file` and client
//! certificate.

use std::collections::HashMap;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::context::GetStreamByNameErrorKind;
use async_trait::async_trait;
use iza_catalog::model::BrokerTls;
use iza_store::OutboxEntry;

use super::{Acks, CONTENT_TYPE, Failed, PublishError, Publisher, within};

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

    async fn publish(&mut self, batch: &[OutboxEntry]) -> Result<Acks, PublishError> {
        let (jetstream, timeout) = (self.jetstream, self.timeout);
        let connection = self.connect().await?;
        // Publish everything first; the acknowledgement collects the stream's in order. A
        // failure part-way ends the acknowledgement after the entries published before it.
        let mut acks = Vec::with_capacity(batch.len());
        let mut core = false;
        let mut failure = None;
        for (index, entry) in batch.iter().enumerate() {
            let streamed = if jetstream {
                match connection.streamed.get(&entry.key) {
                    Some(known) => *known,
                    None => {
                        let found =
                            match within(timeout, connection.context.stream_by_subject(&entry.key))
                                .await
                            {
                                Ok(found) => found,
                                Err(e) => {
                                    failure = Some(Failed::at(index, e));
                                    break;
                                }
                            };
                        let streamed = match found {
                            Ok(_) => true,
                            Err(e) if e.kind() == GetStreamByNameErrorKind::NotFound => false,
                            Err(e) => {
                                failure = Some(Failed::at(
                                    index,
                                    PublishError::Publish(format!("asking for a stream: {e}")),
                                ));
                                break;
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
            let published = if streamed {
                connection
                    .context
                    .publish_with_headers(entry.key.clone(), headers, payload)
                    .await
                    .map(Some)
                    .map_err(|e| PublishError::Publish(e.to_string()))
            } else {
                core = true;
                connection
                    .client
                    .publish_with_headers(entry.key.clone(), headers, payload)
                    .await
                    .map(|()| None)
                    .map_err(|e| PublishError::Publish(e.to_string()))
            };
            match published {
                Ok(ack) => acks.push(ack),
                Err(e) => {
                    failure = Some(Failed::at(index, e));
                    break;
                }
            }
        }
        let client = connection.client.clone();
        Ok(Box::pin(async move {
            // The flush confirms the core publishes (the server has received them).
            let flushed = if core {
                client
                    .flush()
                    .await
                    .map_err(|e| PublishError::Publish(e.to_string()))
            } else {
                Ok(())
            };
            for (index, ack) in acks.into_iter().enumerate() {
                match ack {
                    None => flushed.clone().map_err(|e| Failed::at(index, e))?,
                    Some(ack) => {
                        ack.await
                            .map_err(|e| Failed::at(index, PublishError::Publish(e.to_string())))?;
                    }
                }
            }
            failure.map_or(Ok(()), Err)
        }))
    }
}

#[async_trait]
impl Publisher for Nats {
    async fn send(&mut self, batch: &[OutboxEntry]) -> Result<Acks, PublishError> {
        self.publish(batch).await
    }

    async fn reset(&mut self) {
        self.connection = None;
    }
}
