//! The `nats` kind: a round trip through a NATS server. The probe subscribes to the check's
//! `subject` (a fresh `iza.probe.<unique>` without one), publishes a unique message to it and
//! waits for the message to come back: "the server accepts connections" and "messages flow"
//! are different facts. `tls://` (or a server that requires TLS) is spoken with the system's
//! roots, or the check's `ca_file` and client certificate (`crate::broker_tls`). Facts
//! `[CONNECTED]`, `[ROUND_TRIP]` and the server (`NATS 2.10.7`).

use std::time::Instant;

use futures_util::StreamExt;
use iza_catalog::model::RoundTrip;
use iza_catalog::redact::redact_url;

use super::round_trip;
use crate::result::{Facts, Failure, Reason};

/// Subscribes, publishes, and waits for the message.
pub(crate) async fn probe(
    target: &RoundTrip,
    timeout: std::time::Duration,
    facts: &mut Facts,
) -> Result<(), Failure> {
    let shown = redact_url(&target.url);
    let mut options = async_nats::ConnectOptions::new().connection_timeout(timeout);
    if !target.tls.is_empty() {
        let config = crate::broker_tls::client_config(&target.tls)
            .map_err(|e| Failure::new(Reason::Tls, e))?;
        options = options.tls_client_config((*config).clone());
    }
    let client = options.connect(target.url.as_str()).await.map_err(|e| {
        let message = crate::broker_tls::explain(&e.to_string(), &target.tls);
        Failure::new(
            Reason::Connect,
            format!("cannot connect to `{shown}`: {message}"),
        )
    })?;
    facts.connected = true;
    facts.server = Some(format!("NATS {}", client.server_info().version));
    let subject = target
        .address
        .clone()
        .unwrap_or_else(|| format!("iza.probe.{}", round_trip::unique()));
    let rejected = |e: &dyn std::fmt::Display| {
        Failure::new(
            Reason::Rejected,
            format!("`{shown}` refused `{subject}`: {e}"),
        )
    };
    let mut subscription = client
        .subscribe(subject.clone())
        .await
        .map_err(|e| rejected(&e))?;
    client.flush().await.map_err(|e| rejected(&e))?;
    let payload = round_trip::payload(&round_trip::unique());
    let published = Instant::now();
    client
        .publish(subject.clone(), payload.clone().into())
        .await
        .map_err(|e| rejected(&e))?;
    client.flush().await.map_err(|e| rejected(&e))?;
    let patience = round_trip::patience(timeout);
    let wait = async {
        while let Some(message) = subscription.next().await {
            if message.payload.as_ref() == payload.as_bytes() {
                return true;
            }
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
            format!("the subscription to `{subject}` ended before the probe message came back"),
        )),
        Err(_) => Err(round_trip::lost(
            &format!("published to `{subject}`"),
            patience,
        )),
    }
}
