//! The `mqtt` kind: a round trip through an MQTT broker (Mosquitto). The probe connects with
//! a clean session, subscribes to the check's `topic` (a fresh `iza/probe/<unique>` without
//! one) at QoS 1, publishes a unique message to it and waits for it. The URL is
//! `mqtt://[user:password@]host[:1883]`, or `mqtts://…[:8883]` over TLS (the check's
//! `ca_file`, `cert_file`, `key_file`: `crate::broker_tls`). Facts `[CONNECTED]`,
//! `[ROUND_TRIP]`.

use std::time::{Duration, Instant};

use iza_catalog::model::RoundTrip;
use iza_catalog::redact::redact_url;
use percent_encoding::percent_decode_str;
use rumqttc::{
    AsyncClient, ConnectReturnCode, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport,
};

use super::round_trip;
use crate::result::{Facts, Failure, Reason};

/// Connects, subscribes, publishes, and waits for the message.
pub(crate) async fn probe(
    target: &RoundTrip,
    timeout: Duration,
    facts: &mut Facts,
) -> Result<(), Failure> {
    let shown = redact_url(&target.url).into_owned();
    let url = url::Url::parse(&target.url)
        .map_err(|e| Failure::new(Reason::Target, format!("`{shown}` is not a URL: {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| Failure::new(Reason::Target, format!("`{shown}` has no host")))?
        .trim_matches(['[', ']'])
        .to_owned();
    let tls = url.scheme() == "mqtts";
    let mut options = MqttOptions::new(
        format!("iza-probe-{}", round_trip::unique()),
        host,
        url.port().unwrap_or(if tls { 8883 } else { 1883 }),
    );
    if tls {
        let config = crate::broker_tls::client_config(&target.tls)
            .map_err(|e| Failure::new(Reason::Tls, e))?;
        options.set_transport(Transport::Tls(TlsConfiguration::Rustls(config)));
    }
    options.set_keep_alive(Duration::from_secs(30));
    options.set_clean_session(true);
    if !url.username().is_empty() {
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        options.set_credentials(decode(url.username()), decode(url.password().unwrap_or("")));
    }
    let topic = target
        .address
        .clone()
        .unwrap_or_else(|| format!("iza/probe/{}", round_trip::unique()));
    let payload = round_trip::payload(&round_trip::unique());
    let (client, mut events) = AsyncClient::new(options, 8);
    let rejected = |e: &dyn std::fmt::Display| {
        Failure::new(
            Reason::Rejected,
            format!("`{shown}` refused `{topic}`: {e}"),
        )
    };
    client
        .subscribe(topic.clone(), QoS::AtLeastOnce)
        .await
        .map_err(|e| rejected(&e))?;
    let patience = round_trip::patience(timeout);
    let mut published: Option<Instant> = None;
    let wait = async {
        loop {
            let event = events.poll().await.map_err(|e| {
                let reason = if facts.connected {
                    Reason::Protocol
                } else {
                    Reason::Connect
                };
                let message = crate::broker_tls::explain(&e.to_string(), &target.tls);
                Failure::new(reason, format!("`{shown}`: {message}"))
            })?;
            match event {
                Event::Incoming(Packet::ConnAck(ack)) => {
                    if ack.code != ConnectReturnCode::Success {
                        return Err(Failure::new(
                            Reason::Auth,
                            format!("`{shown}` refused the connection: {:?}", ack.code),
                        ));
                    }
                    facts.connected = true;
                }
                Event::Incoming(Packet::SubAck(ack)) => {
                    if ack
                        .return_codes
                        .iter()
                        .any(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure))
                    {
                        return Err(rejected(&"the subscription was refused"));
                    }
                    published = Some(Instant::now());
                    client
                        .publish(topic.clone(), QoS::AtLeastOnce, false, payload.clone())
                        .await
                        .map_err(|e| rejected(&e))?;
                }
                Event::Incoming(Packet::Publish(message))
                    if message.payload.as_ref() == payload.as_bytes() =>
                {
                    return Ok(published.unwrap_or_else(Instant::now));
                }
                _ => {}
            }
        }
    };
    let outcome = tokio::time::timeout(patience, wait).await;
    let _ = client.try_disconnect();
    match outcome {
        Ok(Ok(published)) => {
            round_trip::arrived(published, facts);
            facts.body = Some(payload);
            Ok(())
        }
        Ok(Err(failure)) => Err(failure),
        Err(_) if !facts.connected => Err(Failure::new(
            Reason::Connect,
            format!(
                "no answer from `{shown}` within {}",
                humantime::format_duration(patience)
            ),
        )),
        Err(_) => Err(round_trip::lost(
            &format!("published to `{topic}`"),
            patience,
        )),
    }
}
