//! Results pushed from brokers (`[inputs.*]`): a message on the real NATS (4222), RabbitMQ
//! (5672) and Mosquitto (1883) of this machine updates a service, named by the last segment
//! of its subject or topic, or by the body's `service`. Subjects, queues and topics are unique
//! per test. A message sent before the input has subscribed is lost (NATS and MQTT keep no
//! backlog here), so each test sends again until the status shows it, within a deadline.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use iza_runtime::inputs::{Inputs, service_of};
use iza_runtime::{Monitor, Status};
use tokio::time::Instant;

use crate::support::{DEADLINE, RecordingStore, catalog, options, start, status};

fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}x{nanos}", std::process::id())
}

/// Sends with `send` until `service` shows `want`; each send waits up to 300 ms for it.
async fn send_until<F, Fut>(monitor: &Monitor, service: &str, want: Status, mut send: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let give_up = Instant::now() + DEADLINE;
    loop {
        send().await;
        let next = Instant::now() + Duration::from_millis(300);
        while Instant::now() < next {
            if status(monitor, service) == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            Instant::now() < give_up,
            "`{service}` never became {want:?} (it is {:?})",
            status(monitor, service)
        );
    }
}

async fn monitor_with(inputs: &str) -> (Arc<Monitor>, Inputs) {
    let services =
        format!("[services.job]\ncheck = {{ push = true, expect_every = \"1h\" }}\n{inputs}");
    let catalog = catalog(&services);
    let monitor = Arc::new(
        start(
            catalog.clone(),
            Arc::new(RecordingStore::default()),
            options(),
        )
        .await,
    );
    let inputs = Inputs::start(&catalog, monitor.clone());
    assert_eq!(inputs.len(), 1);
    (monitor, inputs)
}

#[test]
fn the_service_is_the_last_segment() {
    assert_eq!(service_of("iza.results.api"), "api");
    assert_eq!(service_of("iza/results/db-main"), "db-main");
    assert_eq!(service_of("job"), "job");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_on_a_nats_subject_updates_the_service() {
    let prefix = format!("iza.test.in.{}", unique());
    let (monitor, _inputs) = monitor_with(&format!(
        "[inputs.bus]\nkind = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\nsubject = \"{prefix}.>\"\n"
    ))
    .await;
    let client = async_nats::connect("nats://127.0.0.1:4222").await.unwrap();
    let subject = format!("{prefix}.job");
    for (body, want) in [
        (r#"{"up": true, "latency_ms": 3}"#, Status::Up),
        (r#"{"up": false, "message": "queue stuck"}"#, Status::Down),
    ] {
        send_until(&monitor, "job", want, || {
            let (client, subject) = (client.clone(), subject.clone());
            async move {
                client.publish(subject, body.into()).await.unwrap();
                client.flush().await.unwrap();
            }
        })
        .await;
    }
    monitor.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_on_an_amqp_queue_updates_the_service_named_in_the_body() {
    use lapin::options::{BasicPublishOptions, QueueDeleteOptions};
    let queue = format!("iza.test.in.{}", unique());
    let (monitor, inputs) = monitor_with(&format!(
        "[inputs.queue]\nkind = \"amqp\"\nurl = \"amqp://guest:guest@127.0.0.1:5672/%2f\"\nqueue = \"{queue}\"\n"
    ))
    .await;
    let connection = lapin::Connection::connect(
        "amqp://guest:guest@127.0.0.1:5672/%2f",
        lapin::ConnectionProperties::default(),
    )
    .await
    .unwrap();
    let channel = connection.create_channel().await.unwrap();
    for (body, want) in [
        (r#"{"service": "job", "status": "up"}"#, Status::Up),
        (r#"{"service": "job", "status": "down"}"#, Status::Down),
    ] {
        send_until(&monitor, "job", want, || {
            let (channel, queue) = (channel.clone(), queue.clone());
            async move {
                channel
                    .basic_publish(
                        "".into(),
                        queue.as_str().into(),
                        BasicPublishOptions::default(),
                        body.as_bytes(),
                        lapin::BasicProperties::default(),
                    )
                    .await
                    .unwrap();
            }
        })
        .await;
    }
    drop(inputs);
    let _ = channel
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await;
    let _ = connection.close(200, "done".into()).await;
    monitor.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_on_an_mqtt_topic_updates_the_service() {
    use rumqttc::{AsyncClient, MqttOptions, QoS};
    let prefix = format!("iza/test/in/{}", unique());
    let (monitor, _inputs) = monitor_with(&format!(
        "[inputs.telemetry]\nkind = \"mqtt\"\nurl = \"mqtt://127.0.0.1:1883\"\ntopic = \"{prefix}/+\"\n"
    ))
    .await;
    let (client, mut events) = AsyncClient::new(
        MqttOptions::new(format!("iza-test-{}", unique()), "127.0.0.1", 1883),
        16,
    );
    let driver = tokio::spawn(async move { while events.poll().await.is_ok() {} });
    let topic = format!("{prefix}/job");
    for (body, want) in [
        (r#"{"up": true}"#, Status::Up),
        (r#"{"up": false}"#, Status::Down),
    ] {
        send_until(&monitor, "job", want, || {
            let (client, topic) = (client.clone(), topic.clone());
            async move {
                client
                    .publish(topic, QoS::AtLeastOnce, false, body)
                    .await
                    .unwrap();
            }
        })
        .await;
    }
    driver.abort();
    monitor.shutdown(Duration::from_secs(1)).await;
}

/// The number of consumers of an AMQP queue, asked passively; `None` while the queue does not
/// exist yet (IZA declares it when its input connects). Each ask takes its own channel, because
/// the broker closes a channel whose passive declare fails.
async fn consumers(connection: &lapin::Connection, queue: &str) -> Option<u32> {
    let channel = connection.create_channel().await.unwrap();
    let declared = channel
        .queue_declare(
            queue.into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await;
    let _ = channel.close(200, "asked".into()).await;
    declared.ok().map(|queue| queue.consumer_count())
}

/// Whether anyone subscribes to `subject`: a request to it is answered "no responders" at once
/// when no one does (IZA's input drops the request's body, not a result, and never replies).
async fn nats_heard(client: &async_nats::Client, subject: &str) -> bool {
    let request = client.request(subject.to_owned(), "not a result".into());
    match tokio::time::timeout(Duration::from_millis(300), request).await {
        Err(_) => true,
        Ok(Err(e)) => e.kind() != async_nats::client::RequestErrorKind::NoResponders,
        Ok(Ok(_)) => true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_subscribes_added_inputs_closes_removed_ones_and_resubscribes_changed_ones() {
    use lapin::options::{BasicPublishOptions, QueueDeleteOptions};
    use rumqttc::{AsyncClient, MqttOptions, QoS};
    let id = unique();
    let (old_subject, new_subject) = (format!("iza.test.old.{id}"), format!("iza.test.new.{id}"));
    let queue = format!("iza.test.in.{id}");
    let topic = format!("iza/test/in/{id}");
    let manifest = |inputs: &str| {
        format!("[services.job]\ncheck = {{ push = true, expect_every = \"1h\" }}\n{inputs}")
    };
    let nats_input = |subject: &str| {
        format!(
            "[inputs.bus]\nkind = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\nsubject = \"{subject}.>\"\n"
        )
    };
    let amqp_input = format!(
        "[inputs.queue]\nkind = \"amqp\"\nurl = \"amqp://guest:guest@127.0.0.1:5672/%2f\"\nqueue = \"{queue}\"\n"
    );
    let mqtt_input = format!(
        "[inputs.telemetry]\nkind = \"mqtt\"\nurl = \"mqtt://127.0.0.1:1883\"\ntopic = \"{topic}/+\"\n"
    );
    let before = catalog(&manifest(&format!(
        "{}{amqp_input}",
        nats_input(&old_subject)
    )));
    let monitor = Arc::new(
        start(
            before.clone(),
            Arc::new(RecordingStore::default()),
            options(),
        )
        .await,
    );
    let inputs = Inputs::start(&before, monitor.clone());
    assert_eq!(inputs.ids(), ["bus", "queue"]);
    let client = async_nats::connect("nats://127.0.0.1:4222").await.unwrap();
    let connection = lapin::Connection::connect(
        "amqp://guest:guest@127.0.0.1:5672/%2f",
        lapin::ConnectionProperties::default(),
    )
    .await
    .unwrap();
    let channel = connection.create_channel().await.unwrap();
    // Both subscribed: the old subject moves the service, the queue has IZA's consumer.
    send_until(&monitor, "job", Status::Up, || {
        let (client, subject) = (client.clone(), format!("{old_subject}.job"));
        async move {
            client
                .publish(subject, r#"{"up": true}"#.into())
                .await
                .unwrap();
            client.flush().await.unwrap();
        }
    })
    .await;
    let deadline = Instant::now() + DEADLINE;
    while consumers(&connection, &queue).await != Some(1) {
        assert!(Instant::now() < deadline, "IZA never consumed `{queue}`");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The NATS subject changes, the AMQP input goes, an MQTT input comes.
    let after = catalog(&manifest(&format!(
        "{}{mqtt_input}",
        nats_input(&new_subject)
    )));
    let report = inputs.reload(&after).await;
    assert_eq!(report.added, ["telemetry"]);
    assert_eq!(report.removed, ["queue"]);
    assert_eq!(report.changed, ["bus"]);
    assert_eq!(inputs.ids(), ["bus", "telemetry"]);
    // The removed input's consumer is gone (its connection closed), and no one listens on the
    // old subject any more.
    let deadline = Instant::now() + DEADLINE;
    while consumers(&connection, &queue).await != Some(0) {
        assert!(
            Instant::now() < deadline,
            "the removed input still consumes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    while nats_heard(&client, &format!("{old_subject}.job")).await {
        assert!(Instant::now() < deadline, "the old subject is still heard");
    }
    // A message to the queue now waits there for a consumer.
    channel
        .basic_publish(
            "".into(),
            queue.as_str().into(),
            BasicPublishOptions::default(),
            br#"{"service": "job", "up": false}"#,
            lapin::BasicProperties::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    // The new subject and the new topic are heard.
    send_until(&monitor, "job", Status::Down, || {
        let (client, subject) = (client.clone(), format!("{new_subject}.job"));
        async move {
            client
                .publish(subject, r#"{"up": false}"#.into())
                .await
                .unwrap();
            client.flush().await.unwrap();
        }
    })
    .await;
    let (mqtt, mut events) = AsyncClient::new(
        MqttOptions::new(format!("iza-test-{}", unique()), "127.0.0.1", 1883),
        16,
    );
    let driver = tokio::spawn(async move { while events.poll().await.is_ok() {} });
    send_until(&monitor, "job", Status::Up, || {
        let (mqtt, topic) = (mqtt.clone(), format!("{topic}/job"));
        async move {
            mqtt.publish(topic, QoS::AtLeastOnce, false, r#"{"up": true}"#)
                .await
                .unwrap();
        }
    })
    .await;
    let waiting = channel
        .queue_declare(
            queue.as_str().into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await
        .unwrap();
    assert_eq!(waiting.message_count(), 1, "no one took the queued result");
    // A reload with the same inputs touches nothing.
    assert!(inputs.reload(&after).await.is_empty());
    driver.abort();
    drop(inputs);
    let _ = channel
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await;
    let _ = connection.close(200, "done".into()).await;
    monitor.shutdown(Duration::from_secs(1)).await;
}
