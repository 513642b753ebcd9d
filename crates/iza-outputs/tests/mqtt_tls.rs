//! MQTT over TLS (`mqtts://`) against a real Mosquitto that the test starts itself: a private
//! CA and a server certificate for 127.0.0.1 are made here (rcgen), Mosquitto listens with them
//! on a free port of 127.0.0.1 (config in a temporary directory) and is killed when the test
//! ends, even by a panic. An output with `ca_file` publishes to it and a TLS subscriber receives
//! every event; the `mqtt` check kind makes its round trip through it; with another CA both
//! fail and say that the broker's certificate is not signed by the CA in `ca_file`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use iza_catalog::model::BrokerTls;
use iza_catalog::{Catalog, SourceFile, Syntax};
use iza_outputs::{Outputs, OutputsOptions};
use iza_runtime::{Bus, Change, Event, EventKind, Status};
use iza_store::{SqliteStore, Store};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(30);
const MOSQUITTO: &str = "/usr/sbin/mosquitto";

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{:x}{}", nanos & 0xff_ffff_ffff, std::process::id())
}

fn pem(label: &str, der: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A CA in `dir/<name>-ca.pem`, and when `server` a certificate it signed for 127.0.0.1 and
/// localhost with its key (`<name>-server.pem`, `<name>-server.key`).
fn pki(dir: &Path, name: &str) -> PathBuf {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("IZA test CA {name}"));
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    let leaf = params.signed_by(&key, &issuer).unwrap();
    let ca_file = dir.join(format!("{name}-ca.pem"));
    std::fs::write(&ca_file, pem("CERTIFICATE", ca.der())).unwrap();
    std::fs::write(
        dir.join(format!("{name}-server.pem")),
        pem("CERTIFICATE", leaf.der()),
    )
    .unwrap();
    std::fs::write(
        dir.join(format!("{name}-server.key")),
        pem("PRIVATE KEY", &key.serialize_der()),
    )
    .unwrap();
    ca_file
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Mosquitto with a TLS listener, killed when dropped.
struct Mosquitto {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Mosquitto {
    /// Starts Mosquitto with the server certificate of `pki(dir, name)` on a free port and
    /// waits until it accepts connections; panics with its log when it cannot start.
    fn start(dir: &Path, name: &str) -> Mosquitto {
        assert!(
            Path::new(MOSQUITTO).exists(),
            "{MOSQUITTO} is missing: install Debian's `mosquitto` to run the MQTT over TLS tests"
        );
        let port = free_port();
        let config = dir.join("mosquitto.conf");
        let mut file = std::fs::File::create(&config).unwrap();
        write!(
            file,
            "per_listener_settings false\nallow_anonymous true\npersistence false\nlog_dest stderr\n\
             listener {port} 127.0.0.1\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\n",
            ca = dir.join(format!("{name}-ca.pem")).display(),
            cert = dir.join(format!("{name}-server.pem")).display(),
            key = dir.join(format!("{name}-server.key")).display(),
        )
        .unwrap();
        let log = dir.join("mosquitto.log");
        let mut child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {MOSQUITTO}: {e}"));
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "mosquitto exited ({status}) instead of listening on {port}:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "mosquitto did not listen on {port} within 15 s:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Mosquitto { child, port, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn catalog(dir: &Path, extra: &str) -> Catalog {
    let text = format!(
        "version = 1\n[ecosystem]\nname = \"Test Eco\"\n[services.db]\n[services.api]\n{extra}"
    );
    let path = dir.join("iza.toml");
    std::fs::write(&path, &text).unwrap();
    let checked = iza_catalog::check(&SourceFile::new(&path, text, Syntax::Toml));
    checked
        .catalog
        .unwrap_or_else(|| panic!("{:?}", checked.diagnostics))
}

type Messages = tokio::sync::mpsc::UnboundedReceiver<rumqttc::Publish>;

/// A TLS subscriber to `topic` trusting the CA in `ca_file`, subscribed when it returns.
async fn subscriber(port: u16, ca_file: &Path, topic: &str) -> (rumqttc::AsyncClient, Messages) {
    let mut options = rumqttc::MqttOptions::new(unique("sub"), "127.0.0.1", port);
    options.set_max_packet_size(1 << 20, 1 << 20);
    let config = iza_probe::broker_tls::client_config(&BrokerTls {
        ca_file: Some(ca_file.to_owned()),
        ..BrokerTls::default()
    })
    .unwrap();
    options.set_transport(rumqttc::Transport::Tls(rumqttc::TlsConfiguration::Rustls(
        config,
    )));
    let (client, mut eventloop) = rumqttc::AsyncClient::new(options, 64);
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let (subscribed, mut is_subscribed) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                    let _ = sender.send(p);
                }
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => {
                    let _ = subscribed.send(Ok(()));
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = subscribed.send(Err(e.to_string()));
                    return;
                }
            }
        }
    });
    client
        .subscribe(topic, rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    tokio::time::timeout(DEADLINE, is_subscribed.recv())
        .await
        .expect("subscribed in time")
        .unwrap()
        .expect("the TLS subscriber connects");
    (client, receiver)
}

async fn store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("iza.db")).await.unwrap();
    (Arc::new(store), dir)
}

fn statuses(bus: &Bus, n: usize) -> Vec<Arc<Event>> {
    let events = (0..n)
        .map(|i| {
            let (from, to) = if i % 2 == 0 {
                (Status::Up, Status::Down)
            } else {
                (Status::Down, Status::Up)
            };
            Event::new(
                1_765_000_000_000,
                EventKind::StatusChanged {
                    service: if i % 3 == 0 { "api" } else { "db" }.into(),
                    from,
                    to,
                    cause: None,
                    reason: Some(format!("event {i}")),
                },
            )
        })
        .collect();
    bus.publish(Change {
        events,
        ..Change::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_publishes_over_tls_to_a_broker_of_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca_file = pki(dir.path(), "good");
    let mosquitto = Mosquitto::start(dir.path(), "good");
    let prefix = unique("izatls");
    let (_client, mut messages) =
        subscriber(mosquitto.port, &ca_file, &format!("{prefix}/#")).await;
    // `ca_file` relative to the manifest's directory.
    let catalog = catalog(
        dir.path(),
        &format!(
            "[outputs.secure]\nkind = \"mqtt\"\nurl = \"mqtts://127.0.0.1:{}\"\nprefix = \"{prefix}\"\nretain = false\nca_file = \"good-ca.pem\"\n",
            mosquitto.port
        ),
    );
    assert_eq!(
        catalog.outputs["secure"].tls.ca_file.as_deref(),
        Some(&*ca_file)
    );
    let (store, _db) = store().await;
    let bus = Bus::new(1024);
    let outputs = Outputs::start(&catalog, store, &bus, OutputsOptions::default());
    let events = statuses(&bus, 50);
    let mut got = Vec::new();
    for _ in 0..events.len() {
        let message = tokio::time::timeout(DEADLINE, messages.recv())
            .await
            .unwrap_or_else(|_| panic!("a message over TLS; broker log:\n{}", mosquitto.log()))
            .unwrap();
        let ce: Value = serde_json::from_slice(&message.payload).unwrap();
        got.push(ce["id"].as_str().unwrap().to_owned());
    }
    let sent: Vec<String> = events
        .iter()
        .map(|e| iza_outputs::envelope::event_id(bus.epoch(), e.seq))
        .collect();
    assert_eq!(got, sent, "every event, in order");
    let status = outputs.status().await;
    assert!(status[0].healthy, "{status:?}");
    outputs.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_with_another_ca_fails_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path(), "good");
    let other_ca = pki(dir.path(), "other");
    let mosquitto = Mosquitto::start(dir.path(), "good");
    let catalog = catalog(
        dir.path(),
        &format!(
            "[outputs.secure]\nkind = \"mqtt\"\nurl = \"mqtts://127.0.0.1:{}\"\nca_file = \"{}\"\ntimeout = \"2s\"\n",
            mosquitto.port,
            other_ca.display()
        ),
    );
    let (store, _db) = store().await;
    let bus = Bus::new(1024);
    let outputs = Outputs::start(&catalog, store, &bus, OutputsOptions::default());
    statuses(&bus, 3);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let error = loop {
        let status = outputs.status().await;
        if let Some(error) = &status[0].last_error {
            assert!(!status[0].healthy);
            assert_eq!(
                status[0].published, 0,
                "nothing went to an untrusted broker"
            );
            assert_eq!(status[0].depth, 3, "the events wait in the outbox");
            break error.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no failure: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        error.contains("not signed by the CA in `ca_file`") && error.contains("other-ca.pem"),
        "{error}"
    );
    outputs.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mqtt_check_makes_its_round_trip_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path(), "good");
    pki(dir.path(), "other");
    let mosquitto = Mosquitto::start(dir.path(), "good");
    let catalog = catalog(
        dir.path(),
        &format!(
            "[services.broker]\ncheck = {{ mqtt = \"mqtts://127.0.0.1:{port}\", ca_file = \"good-ca.pem\", conditions = [\"[ROUND_TRIP] < 5000\"] }}\n\
             [services.wrong]\ncheck = {{ mqtt = \"mqtts://127.0.0.1:{port}\", ca_file = \"other-ca.pem\" }}\n",
            port = mosquitto.port
        ),
    );
    let prober = iza_probe::Prober::default();
    let good = prober
        .probe(catalog.services["broker"].check.as_ref().unwrap())
        .await;
    assert_eq!(
        good.outcome,
        iza_probe::Outcome::Up,
        "{good:?}\nbroker log:\n{}",
        mosquitto.log()
    );
    assert!(good.facts.round_trip_us.is_some(), "{good:?}");
    let wrong = prober
        .probe(catalog.services["wrong"].check.as_ref().unwrap())
        .await;
    assert_eq!(wrong.outcome, iza_probe::Outcome::Down, "{wrong:?}");
    let message = wrong
        .failure
        .as_ref()
        .map(|f| f.message.clone())
        .unwrap_or_default();
    assert!(
        message.contains("not signed by the CA in `ca_file`"),
        "{message}"
    );
}
