//! The MQTT publisher (3.1.1, Mosquitto; `mqtt://`, or `mqtts://` over TLS with the system's
//! roots or the output's `ca_file` and client certificate): each entry to its topic (the dotted
//! key with `/`),
//! at the output's QoS; a status event (`status-changed`, `service-impacted`,
//! `service-recovered`) is RETAINED when `retain` is on, so a subscriber that comes later gets
//! each service's present status first. rumqttc's event loop runs in its own task and reports
//! the packet id of each publish sent and each acknowledgement (PUBACK, or PUBCOMP at QoS 2);
//! an entry is acknowledged when its packet is (at QoS 0: when it is written).

use std::collections::VecDeque;
use std::time::Duration;

use async_trait::async_trait;
use iza_catalog::model::BrokerTls;
use iza_store::OutboxEntry;
use rumqttc::{
    AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS, TlsConfiguration, Transport,
};
use tokio::sync::mpsc;

use super::{Failed, PublishError, Publisher};
use crate::envelope::mqtt_topic;

pub(super) struct Mqtt {
    url: String,
    qos: QoS,
    retain: bool,
    tls: BrokerTls,
    timeout: Duration,
    connection: Option<Connection>,
}

struct Connection {
    client: AsyncClient,
    events: mpsc::UnboundedReceiver<Progress>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

enum Progress {
    Sent(u16),
    Acked(u16),
    Lost(String),
}

impl Mqtt {
    pub(super) fn new(
        url: String,
        qos: u8,
        retain: bool,
        tls: BrokerTls,
        timeout: Duration,
    ) -> Mqtt {
        let qos = match qos {
            0 => QoS::AtMostOnce,
            2 => QoS::ExactlyOnce,
            _ => QoS::AtLeastOnce,
        };
        Mqtt {
            url,
            qos,
            retain,
            tls,
            timeout,
            connection: None,
        }
    }

    fn connect(&mut self) -> Result<&mut Connection, PublishError> {
        if self.connection.is_none() {
            let url = url::Url::parse(&self.url)
                .map_err(|e| PublishError::Connect(format!("not a URL: {e}")))?;
            let tls = match url.scheme() {
                "mqtts" => Some(
                    iza_probe::broker_tls::client_config(&self.tls)
                        .map_err(PublishError::Connect)?,
                ),
                "mqtt" | "tcp" => None,
                other => {
                    return Err(PublishError::Connect(format!(
                        "`{other}://` is not an MQTT scheme IZA speaks; use `mqtt://` or `mqtts://`"
                    )));
                }
            };
            let host = url
                .host_str()
                .unwrap_or("127.0.0.1")
                .trim_matches(['[', ']'])
                .to_owned();
            let port = url
                .port()
                .unwrap_or(if tls.is_some() { 8883 } else { 1883 });
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let id = format!("iza-{}-{nanos:x}", std::process::id());
            let mut options = MqttOptions::new(id, host, port);
            options.set_keep_alive(Duration::from_secs(30));
            options.set_clean_session(true);
            options.set_max_packet_size(1 << 20, 1 << 20);
            // A batch's publishes go out without waiting for each acknowledgement.
            options.set_inflight(1000);
            if !url.username().is_empty() {
                options.set_credentials(
                    crate::percent_decode(url.username()),
                    crate::percent_decode(url.password().unwrap_or("")),
                );
            }
            if let Some(config) = tls {
                options.set_transport(Transport::Tls(TlsConfiguration::Rustls(config)));
            }
            let (client, mut eventloop) = AsyncClient::new(options, 1024);
            let broker_tls = self.tls.clone();
            let (sender, events) = mpsc::unbounded_channel();
            let task = tokio::spawn(async move {
                loop {
                    let progress = match eventloop.poll().await {
                        Ok(Event::Outgoing(Outgoing::Publish(pkid))) => Progress::Sent(pkid),
                        Ok(Event::Incoming(Packet::PubAck(ack))) => Progress::Acked(ack.pkid),
                        Ok(Event::Incoming(Packet::PubComp(comp))) => Progress::Acked(comp.pkid),
                        Ok(_) => continue,
                        Err(e) => {
                            let error = iza_probe::broker_tls::explain(&e.to_string(), &broker_tls);
                            let _ = sender.send(Progress::Lost(error));
                            return;
                        }
                    };
                    if sender.send(progress).is_err() {
                        return;
                    }
                }
            });
            self.connection = Some(Connection {
                client,
                events,
                task,
            });
        }
        Ok(self.connection.as_mut().expect("connected above"))
    }

    async fn send(&mut self, batch: &[OutboxEntry]) -> Result<(), Failed> {
        let (qos, retain, timeout) = (self.qos, self.retain, self.timeout);
        let connection = self.connect().map_err(|e| Failed::at(0, e))?;
        // Sent packets not yet acknowledged: (entry index, packet id), oldest first.
        let mut unacked: VecDeque<(usize, u16)> = VecDeque::new();
        let mut done = vec![false; batch.len()];
        let mut sent = 0;
        let deadline = tokio::time::Instant::now() + timeout;
        // How many entries from the start are acknowledged (advanced as they are).
        let mut prefix = 0;
        let mut next = 0;
        loop {
            while prefix < batch.len() && done[prefix] {
                prefix += 1;
            }
            if prefix == batch.len() {
                break;
            }
            // Hand the client as many publishes as it takes without waiting.
            while next < batch.len() {
                let entry = &batch[next];
                let retained = retain && entry.retain;
                match connection.client.try_publish(
                    mqtt_topic(&entry.key),
                    qos,
                    retained,
                    entry.payload.clone().into_bytes(),
                ) {
                    Ok(()) => next += 1,
                    Err(_) => break,
                }
            }
            let progress = tokio::time::timeout_at(deadline, connection.events.recv()).await;
            match progress {
                Err(_) => {
                    return Err(Failed::at(prefix, PublishError::Timeout(timeout)));
                }
                Ok(None) => {
                    return Err(Failed::at(
                        prefix,
                        PublishError::Connect("the connection ended".into()),
                    ));
                }
                Ok(Some(Progress::Lost(e))) => {
                    return Err(Failed::at(prefix, PublishError::Connect(e)));
                }
                Ok(Some(Progress::Sent(pkid))) => {
                    if sent < batch.len() {
                        if qos == QoS::AtMostOnce {
                            done[sent] = true;
                        } else {
                            unacked.push_back((sent, pkid));
                        }
                        sent += 1;
                    }
                }
                Ok(Some(Progress::Acked(pkid))) => {
                    if let Some(at) = unacked.iter().position(|(_, p)| *p == pkid)
                        && let Some((index, _)) = unacked.remove(at)
                    {
                        done[index] = true;
                    }
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Publisher for Mqtt {
    async fn publish(&mut self, batch: &[OutboxEntry]) -> Result<(), Failed> {
        let outcome = self.send(batch).await;
        if outcome.is_err() {
            self.connection = None;
        }
        outcome
    }
}
