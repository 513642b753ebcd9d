//! `http` checks against servers the tests start: healthy, failing, slow, hanging,
//! resetting, redirecting forever, answering 1 GB, answering garbage. Each ends within its
//! timeout, up or down as expected, with a message that says why.

use std::time::{Duration, Instant};

use iza_catalog::model::CheckTarget;
use iza_probe::{Outcome, Prober, ProberOptions, Reason};

use crate::support::{Behaviour, check, closed_port, response, serve};

const HEALTHY_BODY: &str = r#"{"status":"UP","data":{"items":[{"name":"db","ok":true}]}}"#;

#[tokio::test]
async fn a_healthy_server_is_up_with_status_body_ip_and_time() {
    let server = serve(|_| {
        Behaviour::Respond(response(
            200,
            &[("Content-Type", "application/json")],
            HEALTHY_BODY,
        ))
    })
    .await;
    let conditions = [
        "[STATUS] == 200",
        "[BODY].status == UP",
        "[BODY].data.items[0].name == db",
        "len([BODY].data.items) == 1",
        "[RESPONSE_TIME] < 5000",
        "[CONNECTED] == true",
        "[IP] == 127.0.0.1",
    ];
    let result = Prober::default()
        .probe(&check(
            CheckTarget::Http(server.url("/health")),
            Duration::from_secs(5),
            &conditions,
        ))
        .await;
    assert_eq!(result.outcome, Outcome::Up, "{:?}", result.failure);
    assert_eq!(result.facts.status, Some(200));
    assert_eq!(result.facts.body.as_deref(), Some(HEALTHY_BODY));
    assert!(!result.facts.body_truncated);
    assert_eq!(result.facts.ip, Some([127, 0, 0, 1].into()));
    assert!(result.duration < Duration::from_secs(5));
}

#[tokio::test]
async fn a_failed_condition_names_the_value_it_saw() {
    let server = serve(|_| Behaviour::Respond(response(503, &[], "busy"))).await;
    let result = Prober::default()
        .probe(&check(
            CheckTarget::Http(server.url("/")),
            Duration::from_secs(5),
            &[
                "[STATUS] == 200",
                "[BODY] == pat(*ok*)",
                "[CONNECTED] == true",
            ],
        ))
        .await;
    assert_eq!(result.outcome, Outcome::Down);
    let failure = result.failure.unwrap();
    assert_eq!(failure.reason, Reason::Condition);
    assert_eq!(
        failure.message,
        "[STATUS] (503) == 200; [BODY] (busy) == pat(*ok*)"
    );
    assert_eq!(failure.condition.as_deref(), Some("[STATUS] == 200"));
}

#[tokio::test]
async fn without_conditions_a_status_below_400_is_up() {
    let cases = [
        (200, Outcome::Up),
        (204, Outcome::Up),
        (302, Outcome::Up),
        (404, Outcome::Down),
        (500, Outcome::Down),
    ];
    let prober = Prober::default();
    for (status, expected) in cases {
        let server = serve(move |_| Behaviour::Respond(response(status, &[], ""))).await;
        let mut c = check(
            CheckTarget::Http(server.url("/")),
            Duration::from_secs(5),
            &[],
        );
        c.follow_redirects = false;
        let result = prober.probe(&c).await;
        assert_eq!(result.outcome, expected, "{status}: {:?}", result.failure);
        if expected == Outcome::Down {
            assert_eq!(
                result.failure.unwrap().message,
                format!("[STATUS] ({status}) < 400")
            );
        }
    }
}

#[tokio::test]
async fn method_headers_and_body_are_sent() {
    let mut server = serve(|_| Behaviour::Respond(response(201, &[], "{}"))).await;
    let mut c = check(
        CheckTarget::Http(server.url("/jobs?x=1")),
        Duration::from_secs(5),
        &["[STATUS] == 201"],
    );
    c.method = "POST".to_owned();
    c.headers
        .insert("Authorization".to_owned(), "Bearer t0k3n".to_owned());
    c.headers
        .insert("Content-Type".to_owned(), "application/json".to_owned());
    c.body = Some(r#"{"ping":true}"#.to_owned());
    let result = Prober::default().probe(&c).await;
    assert_eq!(result.outcome, Outcome::Up, "{:?}", result.failure);
    let request = server.requests.recv().await.unwrap();
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/jobs?x=1");
    assert_eq!(request.header("authorization"), Some("Bearer t0k3n"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.body, br#"{"ping":true}"#);
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let server =
        serve(|_| Behaviour::RespondAfter(Duration::from_secs(2), response(200, &[], "late")))
            .await;
    let started = Instant::now();
    let result = Prober::default()
        .probe(&check(
            CheckTarget::Http(server.url("/")),
            Duration::from_millis(500),
            &[],
        ))
        .await;
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(result.outcome, Outcome::Down);
    let failure = result.failure.unwrap();
    assert_eq!(failure.reason, Reason::Timeout);
    assert_eq!(failure.message, "timed out after 500ms");
}

#[tokio::test]
async fn a_hanging_server_times_out() {
    let server = serve(|_| Behaviour::Hang).await;
    let started = Instant::now();
    let result = Prober::default()
        .probe(&check(
            CheckTarget::Http(server.url("/")),
            Duration::from_millis(300),
            &[],
        ))
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(result.failure.unwrap().reason, Reason::Timeout);
}

#[tokio::test]
async fn a_server_that_stalls_mid_body_times_out_with_the_status_known() {
    let server = serve(|_| {
        Behaviour::StreamThenHang(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial".to_vec())
    })
    .await;
    let result = Prober::default()
        .probe(&check(
            CheckTarget::Http(server.url("/")),
            Duration::from_millis(300),
            &[],
        ))
        .await;
    assert_eq!(result.outcome, Outcome::Down);
    assert_eq!(result.failure.unwrap().reason, Reason::Timeout);
    assert_eq!(result.facts.status, Some(200));
    assert!(result.facts.connected);
}

#[tokio::test]
async fn a_resetting_server_is_down_quickly() {
    let server = serve(|_| Behaviour::Reset).await;
    let started = Instant::now();
    let result = Prober::default()
        .probe(&check(
            CheckTarget::Http(server.url("/")),
            Duration::from_secs(5),
            &[],
        ))
        .await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(result.outcome, Outcome::Down);
    let failure = result.failure.unwrap();
    assert_eq!(failure.reason, Reason::Protocol, "{failure}");
    assert!(
        failure.message.contains("reset") || failure.message.contains("closed"),
        "{failure}"
    );
}

#[tokio::test]
async fn a_redirect_loop_is_down_with_a_redirect_error() {
    let server = serve(|r| Behaviour::Respond(response(302, &[("Location", &r.path)], ""))).await;
    let result = Prober::default()
        .probe(&check(
            CheckTarget::Http(server.url("/loop")),
            Duration::from_secs(5),
            &[],
        ))
        .await;
    assert_eq!(result.outcome, Outcome::Down);
    let failure = result.failure.unwrap();
    assert_eq!(failure.reason, Reason::Redirect, "{failure}");
    assert!(failure.message.contains("redirect"), "{failure}");
}

#[tokio::test]
async fn redirects_are_followed_or_not_as_the_check_says() {
    let server = serve(|r| {
        if r.path == "/old" {
            Behaviour::Respond(response(301, &[("Location", "/new")], ""))
        } else {
            Behaviour::Respond(response(200, &[], "new"))
        }
    })
    .await;
    let prober = Prober::default();
    let mut c = check(
        CheckTarget::Http(server.url("/old")),
        Duration::from_secs(5),
        &["[STATUS] == 200"],
    );
    let followed = prober.probe(&c).await;
    assert_eq!(followed.outcome, Outcome::Up, "{:?}", followed.failure);
    assert_eq!(followed.facts.body.as_deref(), Some("new"));
    c.follow_redirects = false;
    let not_followed = prober.probe(&c).await;
    assert_eq!(not_followed.facts.status, Some(301));
    assert_eq!(
        not_followed.failure.unwrap().message,
        "[STATUS] (301) == 200"
    );
}

#[tokio::test]
async fn a_gigabyte_answer_is_cut_at_the_body_limit() {
    let server = serve(|_| Behaviour::Gigabyte).await;
    let started = Instant::now();
    let prober = Prober::new(ProberOptions {
        body_limit: 256 * 1024,
        ..ProberOptions::default()
    });
    let result = prober
        .probe(&check(
            CheckTarget::Http(server.url("/big")),
            Duration::from_secs(10),
            &["[STATUS] == 200"],
        ))
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(result.outcome, Outcome::Up, "{:?}", result.failure);
    assert!(result.facts.body_truncated);
    assert_eq!(result.facts.body.map(|b| b.len()), Some(256 * 1024));
}

#[tokio::test]
async fn a_gigabyte_answer_is_cut_at_the_default_limit_too() {
    let server = serve(|_| Behaviour::Gigabyte).await;
    let result = Prober::default()
        .probe(&check(
            CheckTarget::Http(server.url("/big")),
            Duration::from_secs(10),
            &[],
        ))
        .await;
    assert_eq!(result.outcome, Outcome::Up, "{:?}", result.failure);
    assert_eq!(result.facts.body.map(|b| b.len()), Some(1024 * 1024));
}

#[tokio::test]
async fn garbage_is_down_as_a_protocol_error() {
    let server = serve(|_| Behaviour::Garbage).await;
    let result = Prober::default()
        .probe(&check(
            CheckTarget::Http(server.url("/")),
            Duration::from_secs(5),
            &[],
        ))
        .await;
    assert_eq!(result.outcome, Outcome::Down);
    let failure = result.failure.unwrap();
    assert_eq!(failure.reason, Reason::Protocol, "{failure}");
    assert!(result.facts.status.is_none());
}

#[tokio::test]
async fn a_closed_port_is_down_as_a_connection_error() {
    let url = format!("http://127.0.0.1:{}/", closed_port().await);
    let result = Prober::default()
        .probe(&check(CheckTarget::Http(url), Duration::from_secs(5), &[]))
        .await;
    let failure = result.failure.unwrap();
    assert_eq!(failure.reason, Reason::Connect, "{failure}");
    assert!(failure.message.contains("connection refused"), "{failure}");
    assert!(!result.facts.connected);
}

#[tokio::test]
async fn malformed_requests_are_target_errors() {
    let prober = Prober::default();
    let mut bad_method = check(
        CheckTarget::Http("http://127.0.0.1:1/".into()),
        Duration::from_secs(5),
        &[],
    );
    bad_method.method = "GE T".to_owned();
    let mut bad_header = check(
        CheckTarget::Http("http://127.0.0.1:1/".into()),
        Duration::from_secs(5),
        &[],
    );
    bad_header
        .headers
        .insert("Bad Header".to_owned(), "x".to_owned());
    let bad_url = check(
        CheckTarget::Http("not a url".into()),
        Duration::from_secs(5),
        &[],
    );
    for c in [bad_method, bad_header, bad_url] {
        let failure = prober.probe(&c).await.failure.unwrap();
        assert_eq!(failure.reason, Reason::Target, "{failure}");
    }
}

#[tokio::test]
async fn one_prober_serves_many_concurrent_probes() {
    let server = serve(|_| Behaviour::Respond(response(200, &[], "ok"))).await;
    let prober = std::sync::Arc::new(Prober::default());
    let c = check(
        CheckTarget::Http(server.url("/")),
        Duration::from_secs(5),
        &[],
    );
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (prober, c) = (prober.clone(), c.clone());
        set.spawn(async move { prober.probe(&c).await });
    }
    let mut up = 0;
    while let Some(result) = set.join_next().await {
        let result = result.unwrap();
        assert_eq!(result.outcome, Outcome::Up, "{:?}", result.failure);
        up += 1;
    }
    assert_eq!(up, 50);
}
