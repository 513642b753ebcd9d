//! `dns` checks: `localhost` and a name under `.invalid` through the system configuration
//! (both answered locally, RFC 6761, so no query leaves the machine), and a tiny UDP DNS
//! responder started here for `name@server:port`: an A record, NXDOMAIN, SERVFAIL, a TXT
//! record, and a server that never answers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use iza_catalog::model::CheckTarget;
use iza_probe::{Outcome, Prober, Reason};
use tokio::net::UdpSocket;

use crate::support::check;

fn dns_check(target: &str, record: &str, conditions: &[&str]) -> iza_catalog::model::Check {
    let mut c = check(
        CheckTarget::Dns(target.to_owned()),
        Duration::from_secs(3),
        conditions,
    );
    c.record = record.to_owned();
    c
}

#[tokio::test]
async fn localhost_resolves_through_the_system_configuration() {
    let result = Prober::default()
        .probe(&dns_check(
            "localhost",
            "A",
            &["[DNS_RCODE] == NOERROR", "[IP] == 127.0.0.1"],
        ))
        .await;
    assert_eq!(result.outcome, Outcome::Up, "{:?}", result.failure);
    assert_eq!(result.facts.body.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn a_name_under_invalid_does_not_exist() {
    let prober = Prober::default();
    let down = prober
        .probe(&dns_check("no-such-name.invalid.", "A", &[]))
        .await;
    assert_eq!(down.outcome, Outcome::Down);
    assert_eq!(down.facts.dns_rcode.as_deref(), Some("NXDOMAIN"));
    assert_eq!(
        down.failure.unwrap().message,
        "[DNS_RCODE] (NXDOMAIN) == NOERROR"
    );

    // Checking that a name is gone is a condition like any other.
    let up = prober
        .probe(&dns_check(
            "no-such-name.invalid.",
            "A",
            &["[DNS_RCODE] == NXDOMAIN"],
        ))
        .await;
    assert_eq!(up.outcome, Outcome::Up, "{:?}", up.failure);
}

/// A UDP DNS server that answers from a fixed table and counts the queries it got.
struct Responder {
    addr: SocketAddr,
    queries: Arc<AtomicUsize>,
}

/// `ok.test` → A 192.0.2.7; `text.test` → TXT "v=up"; `fail.test` → SERVFAIL;
/// anything else → NXDOMAIN.
async fn responder() -> Responder {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let queries = Arc::new(AtomicUsize::new(0));
    let counter = queries.clone();
    tokio::spawn(async move {
        let mut buffer = [0u8; 512];
        while let Ok((n, from)) = socket.recv_from(&mut buffer).await {
            counter.fetch_add(1, Ordering::SeqCst);
            if let Some(answer) = answer(&buffer[..n]) {
                let _ = socket.send_to(&answer, from).await;
            }
        }
    });
    Responder { addr, queries }
}

/// Builds the answer to one query: the header, the question as asked, and at most one record.
fn answer(query: &[u8]) -> Option<Vec<u8>> {
    // The question's name ends at the first zero label after the 12-byte header.
    let name_end = 12 + query.get(12..)?.iter().position(|b| *b == 0)? + 1;
    let question = query.get(12..name_end + 4)?;
    let mut labels = Vec::new();
    let mut at = 12;
    while query[at] != 0 {
        let len = usize::from(query[at]);
        labels.push(String::from_utf8_lossy(query.get(at + 1..at + 1 + len)?).to_lowercase());
        at += 1 + len;
    }
    let name = labels.join(".");
    let qtype = u16::from_be_bytes([question[question.len() - 4], question[question.len() - 3]]);
    let (rcode, record): (u8, Option<(u16, Vec<u8>)>) = match (name.as_str(), qtype) {
        ("ok.test", 1) => (0, Some((1, vec![192, 0, 2, 7]))),
        ("text.test", 16) => (0, Some((16, [&[4u8][..], b"v=up"].concat()))),
        ("ok.test" | "text.test", _) => (0, None),
        ("fail.test", _) => (2, None),
        _ => (3, None),
    };
    let mut out = Vec::new();
    out.extend_from_slice(&query[0..2]); // id
    out.push(0x80 | (query[2] & 0x01)); // QR, opcode 0, RD as asked
    out.push(0x80 | rcode); // RA, rcode
    out.extend_from_slice(&[0, 1, 0, u8::from(record.is_some()), 0, 0, 0, 0]);
    out.extend_from_slice(question);
    if let Some((rtype, data)) = record {
        out.extend_from_slice(&[0xC0, 0x0C]); // the name, by pointer to the question
        out.extend_from_slice(&rtype.to_be_bytes());
        out.extend_from_slice(&[0, 1, 0, 0, 0, 60]); // class IN, TTL 60
        out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        out.extend_from_slice(&data);
    }
    Some(out)
}

#[tokio::test]
async fn an_explicit_server_answers_records_and_codes() {
    let server = responder().await;
    let at = |name: &str| format!("{name}@{}", server.addr);
    let prober = Prober::default();

    let a = prober.probe(&dns_check(&at("ok.test."), "A", &[])).await;
    assert_eq!(a.outcome, Outcome::Up, "{:?}", a.failure);
    assert_eq!(a.facts.dns_rcode.as_deref(), Some("NOERROR"));
    assert_eq!(a.facts.ip, Some([192, 0, 2, 7].into()));
    assert_eq!(a.facts.body.as_deref(), Some("192.0.2.7"));

    let txt = prober
        .probe(&dns_check(
            &at("text.test."),
            "txt",
            &["[BODY] == pat(*v=up*)"],
        ))
        .await;
    assert_eq!(txt.outcome, Outcome::Up, "{:?}", txt.failure);

    let empty = prober.probe(&dns_check(&at("ok.test."), "AAAA", &[])).await;
    assert_eq!(empty.facts.dns_rcode.as_deref(), Some("NOERROR"));
    assert_eq!(
        empty.failure.unwrap().message,
        "no `AAAA` record (NOERROR with an empty answer)"
    );

    let nx = prober.probe(&dns_check(&at("gone.test."), "A", &[])).await;
    assert_eq!(nx.facts.dns_rcode.as_deref(), Some("NXDOMAIN"));
    assert_eq!(nx.outcome, Outcome::Down);

    let servfail = prober
        .probe(&dns_check(
            &at("fail.test."),
            "A",
            &["[DNS_RCODE] == NOERROR"],
        ))
        .await;
    assert_eq!(
        servfail.failure.unwrap().message,
        "[DNS_RCODE] (SERVFAIL) == NOERROR"
    );
}

#[tokio::test]
async fn every_probe_asks_the_server_again() {
    let server = responder().await;
    let c = dns_check(&format!("ok.test.@{}", server.addr), "A", &[]);
    let prober = Prober::default();
    for _ in 0..3 {
        assert_eq!(prober.probe(&c).await.outcome, Outcome::Up);
    }
    assert_eq!(server.queries.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_silent_server_times_out() {
    // Bound but never read: queries go unanswered.
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut c = dns_check(
        &format!("ok.test.@{}", silent.local_addr().unwrap()),
        "A",
        &[],
    );
    c.timeout = Duration::from_millis(400);
    let result = Prober::default().probe(&c).await;
    assert_eq!(result.outcome, Outcome::Down);
    assert_eq!(result.failure.unwrap().reason, Reason::Timeout);
}

#[tokio::test]
async fn bad_targets_are_refused() {
    let cases = [
        ("example.test@dns.example:53", "A", "must be an IP address"),
        ("@127.0.0.1", "A", "no name"),
        ("example.test", "BOGUS", "not a DNS record type"),
    ];
    for (target, record, expected) in cases {
        let failure = Prober::default()
            .probe(&dns_check(target, record, &[]))
            .await
            .failure
            .unwrap();
        assert_eq!(failure.reason, Reason::Target, "{target}");
        assert!(failure.message.contains(expected), "{target}: {failure}");
    }
}
