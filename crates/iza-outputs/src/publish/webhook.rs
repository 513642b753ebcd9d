//! The webhook publisher: one `POST` per entry, the CloudEvent as the body
//! (`application/cloudevents+json`, structured mode), `ce-id` as a header too; any 2xx is the
//! acknowledgement. The POSTs go one after another within [`Publisher::send`], so a batch's
//! acknowledgement is known when `send` returns.

use std::time::Duration;

use async_trait::async_trait;
use indexmap::IndexMap;
use iza_store::OutboxEntry;

use super::{Acks, CONTENT_TYPE, Failed, PublishError, Publisher, acked, within};

pub(super) struct Webhook {
    url: String,
    headers: IndexMap<String, String>,
    timeout: Duration,
    client: Option<reqwest::Client>,
}

impl Webhook {
    pub(super) fn new(
        url: String,
        headers: IndexMap<String, String>,
        timeout: Duration,
    ) -> Webhook {
        Webhook {
            url,
            headers,
            timeout,
            client: None,
        }
    }
}

impl Webhook {
    async fn post(&mut self, batch: &[OutboxEntry]) -> Result<(), Failed> {
        if self.client.is_none() {
            let client =
                iza_notify::client().map_err(|e| Failed::at(0, PublishError::Connect(e)))?;
            self.client = Some(client);
        }
        let client = self.client.as_ref().expect("built above");
        for (index, entry) in batch.iter().enumerate() {
            let mut request = client
                .post(&self.url)
                .header("content-type", CONTENT_TYPE)
                .header("ce-id", &entry.event_id)
                .body(entry.payload.clone());
            for (name, value) in &self.headers {
                request = request.header(name, value);
            }
            let response = within(self.timeout, request.send())
                .await
                .map_err(|e| Failed::at(index, e))?
                .map_err(|e| {
                    let error = if e.is_connect() {
                        PublishError::Connect(e.without_url().to_string())
                    } else {
                        PublishError::Publish(e.without_url().to_string())
                    };
                    Failed::at(index, error)
                })?;
            if !response.status().is_success() {
                return Err(Failed::at(
                    index,
                    PublishError::Publish(format!("the receiver answered {}", response.status())),
                ));
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Publisher for Webhook {
    async fn send(&mut self, batch: &[OutboxEntry]) -> Result<Acks, PublishError> {
        // Each answer is its entry's acknowledgement: the prefix answered 2xx is acknowledged
        // even when a later POST fails.
        Ok(acked(self.post(batch).await))
    }

    async fn reset(&mut self) {
        // Nothing is in flight between two sends; the HTTP client keeps its pool.
    }
}
