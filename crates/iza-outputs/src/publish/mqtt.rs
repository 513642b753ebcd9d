//! The MQTT publisher (3.1.1, Mosquitto; `mqtt://`, or `mqtts://` over TLS with the system's
//! roots or the output's `ca_file` and client certificate): each entry to its topic (the dotted
//! key with `/`),
//! at the output's QoS; a status event (`status-changed`, `service-impacted`,
//! `service-recovered`) is RETAINED when `retain` is on, so a subscriber that comes later gets
//! each service's present status first. rumqttc's event loop runs in its own task and reports
//! the packet id of each publish sent and each acknowledgement (PUBACK, or PUBCOMP at QoS 2),
//! and counts the entries acknowledged on the connection, oldest first (at QoS 0: when it is
//! written); a batch's acknowledgement waits until that count covers it. The socket has
//! `TCP_NODELAY` (rumqttc's default leaves Nagle's algorithm on).

use std::collections::VecDeque;
use std::time::Duration;

use async_trait::async_trait;
use iza_catalog::model::BrokerTls;
use iza_store::OutboxEntry;
use rumqttc::{
    AsyncClient, Event, MqttOptions, NetworkOptions, Outgoing, Packet, QoS, TlsConfiguration,
    Transport,
};
use tokio::sync::watch;

use super::{Acks, Failed, PublishError, Publisher, within};
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
    /// The entries handed to the client on this connection.
    sent: u64,
    progress: watch::Receiver<Progress>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the event loop's task has seen on the connection.
#[derive(Debug, Clone, Default)]
struct Progress {
    /// The entries acknowledged, counted from the connection's first, each only once every
    /// entry before it is.
    acked: u64,
    /// Why the connection ended, when it did.
    lost: Option<String>,
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
            // rumqttc leaves Nagle's algorithm on (`tcp_nodelay: false`): a publish smaller
            // than a segment then waits for the broker's ACK of the previous one, which the
            // broker delays (up to 40 ms on Linux) when it has nothing to send back.
            let mut network = NetworkOptions::new();
            network.set_tcp_nodelay(true);
            eventloop.set_network_options(network);
            let broker_tls = self.tls.clone();
            let (progress, watch) = watch::channel(Progress::default());
            let at_most_once = self.qos == QoS::AtMostOnce;
            let task = tokio::spawn(async move {
                // Packet ids of the publishes sent and not yet acknowledged, oldest first, with
                // whether each is acknowledged (a broker may acknowledge out of order).
                let mut unacked: VecDeque<(u16, bool)> = VecDeque::new();
                let mut acked: u64 = 0;
                loop {
                    match eventloop.poll().await {
                        Ok(Event::Outgoing(Outgoing::Publish(_))) if at_most_once => acked += 1,
                        Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                            unacked.push_back((pkid, false));
                            continue;
                        }
                        Ok(
                            Event::Incoming(Packet::PubAck(rumqttc::PubAck { pkid, .. }))
                            | Event::Incoming(Packet::PubComp(rumqttc::PubComp { pkid, .. })),
                        ) => {
                            // A packet id is reused only after its acknowledgement: the oldest
                            // unacknowledged one with this id is the one acknowledged.
                            if let Some(entry) =
                                unacked.iter_mut().find(|(id, done)| *id == pkid && !*done)
                            {
                                entry.1 = true;
                            }
                            while unacked.front().is_some_and(|(_, done)| *done) {
                                unacked.pop_front();
                                acked += 1;
                            }
                        }
                        Ok(_) => continue,
                        Err(e) => {
                            let error = iza_probe::broker_tls::explain(&e.to_string(), &broker_tls);
                            progress.send_modify(|p| p.lost = Some(error));
                            return;
                        }
                    }
                    progress.send_if_modified(|p| {
                        let more = p.acked != acked;
                        p.acked = acked;
                        more
                    });
                }
            });
            self.connection = Some(Connection {
                client,
                sent: 0,
                progress: watch,
                task,
            });
        }
        Ok(self.connection.as_mut().expect("connected above"))
    }

    async fn publish(&mut self, batch: &[OutboxEntry]) -> Result<Acks, PublishError> {
        let (qos, retain, timeout) = (self.qos, self.retain, self.timeout);
        let connection = self.connect()?;
        for entry in batch {
            let retained = retain && entry.retain;
            let topic = mqtt_topic(&entry.key);
            let payload = entry.payload.clone().into_bytes();
            if connection
                .client
                .try_publish(topic.clone(), qos, retained, payload.clone())
                .is_err()
            {
                // The client's queue is full (its in-flight window is): wait for room.
                within(
                    timeout,
                    connection.client.publish(topic, qos, retained, payload),
                )
                .await?
                .map_err(|e| PublishError::Publish(e.to_string()))?;
            }
        }
        let start = connection.sent;
        let end = start + batch.len() as u64;
        connection.sent = end;
        let mut progress = connection.progress.clone();
        Ok(Box::pin(async move {
            let outcome = progress
                .wait_for(|p| p.acked >= end || p.lost.is_some())
                .await
                .map(|p| (p.acked, p.lost.clone()));
            match outcome {
                Ok((acked, _)) if acked >= end => Ok(()),
                Ok((acked, lost)) => Err(Failed::at(
                    usize::try_from(acked.saturating_sub(start)).unwrap_or(0),
                    PublishError::Connect(lost.unwrap_or_default()),
                )),
                Err(_) => Err(Failed::at(
                    0,
                    PublishError::Connect("the connection ended".into()),
                )),
            }
        }))
    }
}

#[async_trait]
impl Publisher for Mqtt {
    async fn send(&mut self, batch: &[OutboxEntry]) -> Result<Acks, PublishError> {
        self.publish(batch).await
    }

    async fn reset(&mut self) {
        self.connection = None;
    }
}
