//! Defines what one probe reports: [`ProbeResult`] with its [`Outcome`], the [`Facts`] the
//! probe observed (the values conditions read) and, when the check is down, the [`Failure`]
//! that says why: which condition failed and what value it saw, or what went wrong.
//!
//! Everything here is plain data, serializable for the API and the store.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Up or down: whether every condition held (or, with none, the kind's own success).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The check passed.
    Up,
    /// The check failed; [`ProbeResult::failure`] says why.
    Down,
}

impl Outcome {
    /// `up` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Up => "up",
            Outcome::Down => "down",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of probing one check once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// Up or down.
    pub outcome: Outcome,
    /// How long the probe took, from the first byte of work to the verdict; this is
    /// `[RESPONSE_TIME]`. Serialized as fractional milliseconds (`duration_ms`).
    #[serde(rename = "duration_ms", with = "millis")]
    pub duration: Duration,
    /// What the probe observed, even when it failed part-way.
    pub facts: Facts,
    /// Why the check is down; `None` when it is up.
    pub failure: Option<Failure>,
}

impl ProbeResult {
    /// Whether the outcome is [`Outcome::Up`].
    pub fn is_up(&self) -> bool {
        self.outcome == Outcome::Up
    }
}

/// The values a probe observed. Each field is what one condition placeholder reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// `[STATUS]`: the HTTP status code (`http`, `mcp`).
    pub status: Option<u16>,
    /// `[BODY]`: the response body (`http`, `mcp`), standard output (`exec`), the answers one
    /// per line (`dns`), or the server's reply (`redis`). Invalid UTF-8 is replaced; capped at
    /// the prober's body limit.
    pub body: Option<String>,
    /// Whether `body` was cut at the limit (the rest was not read, or was discarded).
    pub body_truncated: bool,
    /// `[CONNECTED]`: a connection was established (for `exec`: it exited 0).
    pub connected: bool,
    /// `[CERTIFICATE_EXPIRATION]`: seconds until the peer's leaf certificate expires
    /// (negative once it has expired); for TLS connections (`tls`, `https`, `rediss`, `amqps`).
    pub certificate_expires_in_secs: Option<i64>,
    /// `[DNS_RCODE]`: the DNS response code as text (`NOERROR`, `NXDOMAIN`, `SERVFAIL`...).
    pub dns_rcode: Option<String>,
    /// `[IP]`: the address connected to, or the first address resolved (`dns`).
    pub ip: Option<IpAddr>,
    /// What the server says it is: `RabbitMQ 3.12.1`, `PostgreSQL 15.19`, an MCP server's name
    /// and version.
    pub server: Option<String>,
    /// The exit code (`exec`); none when the process was killed by a signal.
    pub exit_code: Option<i32>,
    /// What a browser check saw (`browser`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<Box<BrowserFacts>>,
    /// `[PROTOCOL_VERSION]` (`mcp`): the protocol revision spoken, `2026-07-28` for the
    /// stateless generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    /// `[TOOLS]` and `[TOOL_COUNT]` (`mcp`): the names of the tools the server lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<String>>,
    /// `[ROUND_TRIP]` (`nats`, `mqtt`, `amqp` round trips): microseconds from publishing the
    /// probe message to receiving it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round_trip_us: Option<u64>,
    /// `[METRIC].<figure>`: the service's latest business figures when the probe started, as
    /// condition text (`1234`, `0.052`), for checks whose conditions read one (not what the
    /// probe observed itself, but what the figures scraper last read; docs/metrics.md).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub figures: std::collections::BTreeMap<String, String>,
}

/// What a browser check saw: the values of its placeholders, the console's last lines, each
/// step of its journey, and the screenshots it took.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BrowserFacts {
    /// `[LOAD_TIME]`: milliseconds from the start of navigation to the load event.
    pub load_time_ms: Option<f64>,
    /// `[TTFB]`: milliseconds from the start of navigation to the first byte of the page.
    pub ttfb_ms: Option<f64>,
    /// `[LCP]`: Largest Contentful Paint in milliseconds; none when nothing was painted.
    pub lcp_ms: Option<f64>,
    /// `[CLS]`: Cumulative Layout Shift.
    pub cls: Option<f64>,
    /// `[CONSOLE_ERRORS]`: `console.error` (and failed `console.assert`) calls.
    pub console_errors: u32,
    /// `[PAGE_ERRORS]`: uncaught exceptions and unhandled rejections.
    pub page_errors: u32,
    /// `[REQUESTS_FAILED]`: requests that failed (network error, or status 400 or more).
    pub requests_failed: u32,
    /// `[TITLE]`: the page's title.
    pub title: Option<String>,
    /// `[TEXT]`: the page's visible text (`innerText`), capped at the prober's body limit.
    pub text: Option<String>,
    /// The console's last lines (messages, exceptions, failed requests), oldest first.
    pub console: Vec<String>,
    /// The journey's steps, in order, up to the one that failed.
    pub steps: Vec<StepReport>,
    /// What a comparison found (`compare` checks; the other facts are the replica's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    /// Screenshots taken (`screenshot` steps, and `failure` when the check failed; a failed
    /// comparison keeps `original`, `replica` and `diff`); not serialized with the result:
    /// the runtime keeps them as artifacts.
    #[serde(skip)]
    pub screenshots: Vec<Screenshot>,
}

// The floats are never NaN (timings and a layout-shift sum), so equality is total.
impl Eq for BrowserFacts {}

/// What a comparison of a replica with its original found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// `[PIXEL_DIFF]`: the percentage of pixels that differ (0–100).
    pub pixel_diff: f64,
    /// `[TEXT_SIMILARITY]`: how similar the visible texts are, in percent.
    pub text_similarity: f64,
    /// `[MISSING_LINKS]`: how many links of the original the replica lacks.
    pub missing_link_count: u32,
    /// The first of them (at most 20), as URLs or, for the page's own origin, paths.
    pub missing_links: Vec<String>,
    /// The original's HTTP status.
    pub original_status: Option<u16>,
}

/// One step of a journey as it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// The step for a person (`click` and its selector); never a typed value.
    pub step: String,
    /// How long it took, in milliseconds.
    pub duration_ms: f64,
    /// Why it failed; none when it passed.
    pub error: Option<String>,
}

/// A PNG screenshot of a page.
#[derive(Clone, PartialEq, Eq)]
pub struct Screenshot {
    /// Its name: the `screenshot` step's, or `failure`.
    pub name: String,
    /// The PNG image.
    pub png: Vec<u8>,
}

impl fmt::Debug for Screenshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Screenshot({}, {} bytes)", self.name, self.png.len())
    }
}

/// Why a check is down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The kind of failure, for grouping and metrics.
    pub reason: Reason,
    /// One line for a person: `[STATUS] (503) == 200`, `connection refused`,
    /// `timed out after 500ms`. Every failed condition is listed, separated by `; `.
    pub message: String,
    /// The first failed condition as written, when `reason` is [`Reason::Condition`].
    pub condition: Option<String>,
}

impl Failure {
    /// A failure of the given reason.
    pub fn new(reason: Reason, message: impl Into<String>) -> Failure {
        Failure {
            reason,
            message: message.into(),
            condition: None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// The kind of a [`Failure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// A condition did not hold (or the kind's default: HTTP status >= 400, DNS not `NOERROR`).
    Condition,
    /// The probe did not finish within the check's timeout.
    Timeout,
    /// No connection: the name did not resolve, the port refused, the network is unreachable.
    Connect,
    /// The TLS handshake failed (unknown issuer, expired certificate, wrong name...).
    Tls,
    /// The server answered something that is not the expected protocol, or hung up early.
    Protocol,
    /// The server refused the credentials.
    Auth,
    /// The server answered with an error (database does not exist, vhost not allowed,
    /// JSON-RPC error, Redis error).
    Rejected,
    /// Too many redirects, or a redirect loop.
    Redirect,
    /// The program could not be started.
    Spawn,
    /// The program exited with a non-zero status or was killed.
    Exit,
    /// The target itself is unusable (a malformed URL, an unknown record type...).
    Target,
    /// A browser check's page did not show what it waits for, or a step of its journey failed.
    Step,
    /// The browser could not be started, or crashed during the check.
    Browser,
    /// The check cannot run on this machine: a program it needs (Chromium) is not
    /// installed. The service's status is `unknown`, not `down`.
    Unavailable,
}

impl Reason {
    /// The reason as a short kebab-case word (`timeout`, `connect`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Condition => "condition",
            Reason::Timeout => "timeout",
            Reason::Connect => "connect",
            Reason::Tls => "tls",
            Reason::Protocol => "protocol",
            Reason::Auth => "auth",
            Reason::Rejected => "rejected",
            Reason::Redirect => "redirect",
            Reason::Spawn => "spawn",
            Reason::Exit => "exit",
            Reason::Target => "target",
            Reason::Step => "step",
            Reason::Browser => "browser",
            Reason::Unavailable => "unavailable",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serializes a [`Duration`] as fractional milliseconds.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() * 1000.0)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let ms = f64::deserialize(d)?;
        Duration::try_from_secs_f64(ms / 1000.0).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_round_trips_through_json_with_the_duration_in_milliseconds() {
        let result = ProbeResult {
            outcome: Outcome::Down,
            duration: Duration::from_micros(1500),
            facts: Facts {
                status: Some(503),
                connected: true,
                ip: Some(IpAddr::from([127, 0, 0, 1])),
                ..Facts::default()
            },
            failure: Some(Failure {
                reason: Reason::Condition,
                message: "[STATUS] (503) == 200".into(),
                condition: Some("[STATUS] == 200".into()),
            }),
        };
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(json["duration_ms"], 1.5);
        assert_eq!(json["outcome"], "down");
        assert_eq!(json["failure"]["reason"], "condition");
        assert_eq!(json["facts"]["ip"], "127.0.0.1");
        let back: ProbeResult = serde_json::from_value(json).unwrap();
        assert_eq!(back, result);
    }
}
