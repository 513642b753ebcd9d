//! `tcp` and `tls` checks, and `https` through the `http` kind: an open listener and a closed
//! port; TLS servers the tests start with certificates generated here (a test CA and leaves
//! valid, expired, or for another name), with `verify_tls` on and off.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use iza_catalog::model::CheckTarget;
use iza_probe::{Outcome, Prober, ProberOptions, Reason};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::{check, closed_port, raw};

const DAY: i64 = 86_400;

#[tokio::test]
async fn tcp_is_up_on_an_open_port_and_down_on_a_closed_one() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let open = listener.local_addr().unwrap().to_string();
    let closed = format!("127.0.0.1:{}", closed_port().await);
    let prober = Prober::default();
    let timeout = Duration::from_secs(5);

    let up = prober
        .probe(&check(CheckTarget::Tcp(open.clone()), timeout, &[]))
        .await;
    assert_eq!(up.outcome, Outcome::Up, "{:?}", up.failure);
    assert!(up.facts.connected);
    assert_eq!(up.facts.ip, Some([127, 0, 0, 1].into()));

    let down = prober
        .probe(&check(CheckTarget::Tcp(closed.clone()), timeout, &[]))
        .await;
    assert_eq!(down.outcome, Outcome::Down);
    let failure = down.failure.unwrap();
    assert_eq!(failure.reason, Reason::Connect);
    assert_eq!(
        failure.message,
        format!("could not connect to `{closed}`: connection refused")
    );

    // A port that must stay closed.
    let must_be_closed = ["[CONNECTED] == false"];
    let closed_ok = prober
        .probe(&check(CheckTarget::Tcp(closed), timeout, &must_be_closed))
        .await;
    assert_eq!(closed_ok.outcome, Outcome::Up, "{:?}", closed_ok.failure);
    let open_bad = prober
        .probe(&check(CheckTarget::Tcp(open), timeout, &must_be_closed))
        .await;
    assert_eq!(
        open_bad.failure.unwrap().message,
        "[CONNECTED] (true) == false"
    );
}

#[tokio::test]
async fn tcp_targets_need_a_host_and_port() {
    for target in ["localhost", "localhost:0", ":80", "host:port"] {
        let result = Prober::default()
            .probe(&check(
                CheckTarget::Tcp(target.into()),
                Duration::from_secs(5),
                &[],
            ))
            .await;
        assert_eq!(result.failure.unwrap().reason, Reason::Target, "{target}");
    }
}

/// A test CA and a leaf it signed.
struct Pki {
    ca: CertificateDer<'static>,
    leaf: CertificateDer<'static>,
    key: Vec<u8>,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn at(unix: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(unix).unwrap()
}

/// A CA, and a leaf for `names` valid from 10 days ago to `not_after`.
fn pki(names: &[&str], not_after: i64) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.not_before = at(now() - 20 * DAY);
    ca_params.not_after = at(now() + 3650 * DAY);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params =
        CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).unwrap();
    leaf_params.not_before = at(now() - 10 * DAY);
    leaf_params.not_after = at(not_after);
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    Pki {
        ca: ca.der().clone(),
        leaf: leaf.der().clone(),
        key: leaf_key.serialize_der(),
    }
}

/// A TLS server with the leaf; after the handshake it answers one HTTP request with `ok`.
async fn tls_server(pki: &Pki) -> SocketAddr {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![pki.leaf.clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key.clone())),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut buffer = [0u8; 4096];
                if matches!(tls.read(&mut buffer).await, Ok(n) if n > 0) {
                    let _ = tls
                        .write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                        )
                        .await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    addr
}

fn tls_check(target: String, verify: bool, conditions: &[&str]) -> iza_catalog::model::Check {
    let mut c = check(CheckTarget::Tls(target), Duration::from_secs(5), conditions);
    c.verify_tls = verify;
    c
}

fn trusting(ca: &CertificateDer<'static>) -> Prober {
    Prober::new(ProberOptions {
        extra_root_certificates: vec![ca.to_vec()],
        ..ProberOptions::default()
    })
}

#[tokio::test]
async fn tls_reports_the_certificate_expiry_and_verifies_when_asked() {
    let pki = pki(&["localhost", "127.0.0.1"], now() + 30 * DAY);
    let addr = tls_server(&pki).await;
    let target = format!("localhost:{}", addr.port());

    let unverified = Prober::default()
        .probe(&tls_check(
            target.clone(),
            false,
            &["[CERTIFICATE_EXPIRATION] > 48h"],
        ))
        .await;
    assert_eq!(unverified.outcome, Outcome::Up, "{:?}", unverified.failure);
    let expires_in = unverified.facts.certificate_expires_in_secs.unwrap();
    assert!((expires_in - 30 * DAY).abs() < 60, "{expires_in}");
    assert!(unverified.facts.connected);

    let untrusted = Prober::default()
        .probe(&tls_check(target.clone(), true, &[]))
        .await;
    assert_eq!(untrusted.outcome, Outcome::Down);
    let failure = untrusted.failure.unwrap();
    assert_eq!(failure.reason, Reason::Tls);
    assert_eq!(
        failure.message,
        "certificate is not trusted (unknown issuer)"
    );

    let trusted = trusting(&pki.ca).probe(&tls_check(target, true, &[])).await;
    assert_eq!(trusted.outcome, Outcome::Up, "{:?}", trusted.failure);
}

#[tokio::test]
async fn a_certificate_too_close_to_expiry_fails_its_condition() {
    let pki = pki(&["localhost"], now() + 30 * DAY);
    let addr = tls_server(&pki).await;
    let result = Prober::default()
        .probe(&tls_check(
            format!("localhost:{}", addr.port()),
            false,
            &["[CERTIFICATE_EXPIRATION] > 1000h"],
        ))
        .await;
    assert_eq!(result.outcome, Outcome::Down);
    let message = result.failure.unwrap().message;
    assert!(
        message.starts_with("[CERTIFICATE_EXPIRATION] (25"),
        "{message}"
    );
    assert!(message.ends_with(") > 1000h"), "{message}");
}

#[tokio::test]
async fn an_expired_certificate_is_refused_or_reported_negative() {
    let pki = pki(&["localhost"], now() - 2 * DAY);
    let addr = tls_server(&pki).await;
    let target = format!("localhost:{}", addr.port());

    let verified = trusting(&pki.ca)
        .probe(&tls_check(target.clone(), true, &[]))
        .await;
    let failure = verified.failure.unwrap();
    assert_eq!(failure.reason, Reason::Tls);
    assert_eq!(failure.message, "certificate has expired");

    let unverified = Prober::default()
        .probe(&tls_check(target, false, &["[CERTIFICATE_EXPIRATION] > 0"]))
        .await;
    let expires_in = unverified.facts.certificate_expires_in_secs.unwrap();
    assert!((expires_in + 2 * DAY).abs() < 60, "{expires_in}");
    assert_eq!(unverified.outcome, Outcome::Down);
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let pki = pki(&["other.test"], now() + 30 * DAY);
    let addr = tls_server(&pki).await;
    let result = trusting(&pki.ca)
        .probe(&tls_check(format!("localhost:{}", addr.port()), true, &[]))
        .await;
    assert_eq!(
        result.failure.unwrap().message,
        "certificate is not valid for `localhost`"
    );
}

#[tokio::test]
async fn tls_against_something_else_fails_fast() {
    let plain = raw(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
    let result = Prober::default()
        .probe(&tls_check(plain.to_string(), false, &[]))
        .await;
    assert_eq!(result.outcome, Outcome::Down);
    let failure = result.failure.unwrap();
    assert!(
        matches!(failure.reason, Reason::Tls | Reason::Protocol),
        "{failure:?}"
    );

    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut c = tls_check(silent.local_addr().unwrap().to_string(), false, &[]);
    c.timeout = Duration::from_millis(300);
    let result = Prober::default().probe(&c).await;
    assert_eq!(result.failure.unwrap().reason, Reason::Timeout);
    assert!(result.facts.connected);
}

#[tokio::test]
async fn https_checks_verify_and_report_the_certificate() {
    let pki = pki(&["localhost", "127.0.0.1"], now() + 30 * DAY);
    let addr = tls_server(&pki).await;
    let url = format!("https://localhost:{}/", addr.port());

    let mut c = check(
        CheckTarget::Http(url.clone()),
        Duration::from_secs(5),
        &["[BODY] == ok"],
    );
    c.verify_tls = false;
    let unverified = Prober::default().probe(&c).await;
    assert_eq!(unverified.outcome, Outcome::Up, "{:?}", unverified.failure);
    let expires_in = unverified.facts.certificate_expires_in_secs.unwrap();
    assert!((expires_in - 30 * DAY).abs() < 60, "{expires_in}");

    c.verify_tls = true;
    let untrusted = Prober::default().probe(&c).await;
    let failure = untrusted.failure.unwrap();
    assert_eq!(failure.reason, Reason::Tls, "{failure}");
    assert!(failure.message.contains("unknown issuer"), "{failure}");

    let trusted = trusting(&pki.ca).probe(&c).await;
    assert_eq!(trusted.outcome, Outcome::Up, "{:?}", trusted.failure);
}
