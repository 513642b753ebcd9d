//! What the handler tells its host about every tool call ([`CallRecord`] through an
//! [`AuditSink`]: the host masks the arguments' secrets and keeps the records), and the
//! per-tool rate limits ([`ToolLimits`]) checked before a call is made. The handler decides
//! the outcome; it keeps nothing itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::hub::glob;
use crate::scope::Scope;

/// How an audited call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// Made, and it succeeded.
    Ok,
    /// Made, and it failed (a tool error, the upstream down or failing).
    Error,
    /// Refused: the scope is too small, the tool unknown, or the arguments invalid.
    Denied,
    /// Refused: over the tool's rate limit.
    RateLimited,
}

/// One tool call, as the handler saw it.
#[derive(Debug, Clone)]
pub struct CallRecord {
    /// When it was received.
    pub at: std::time::SystemTime,
    /// The caller's name (the token's scope name, `anonymous`, or `stdio`).
    pub client: String,
    /// The caller's scope.
    pub scope: Scope,
    /// The tool, as the client named it.
    pub tool: String,
    /// The upstream of a federated tool.
    pub upstream: Option<String>,
    /// The arguments as given (the sink masks their secrets before it keeps them).
    pub arguments: Value,
    /// How it ended.
    pub outcome: CallOutcome,
    /// How long it took.
    pub duration: Duration,
    /// Why it failed or was refused.
    pub message: Option<String>,
}

/// Where the handler sends its call records. `record` must not block: a host queues them.
pub trait AuditSink: Send + Sync + 'static {
    /// Keeps one record.
    fn record(&self, call: CallRecord);
}

/// A rate: `count` calls per `per`, in bursts of up to `count`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToolRate {
    /// Calls allowed per period (also the burst).
    pub count: u32,
    /// The period.
    pub per: Duration,
}

impl ToolRate {
    /// The rate as written in configuration (`10/m`).
    pub fn label(&self) -> String {
        let unit = match self.per.as_secs() {
            1 => "s".to_owned(),
            60 => "m".to_owned(),
            3600 => "h".to_owned(),
            secs => format!("{secs}s"),
        };
        format!("{}/{unit}", self.count)
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Per-tool rate limits: rules of a glob over the namespaced tool name and a rate; a tool
/// matched by a rule has its own token bucket (shared by every client: the limit protects
/// the tool, the per-client limit of the host protects the server). The first matching rule
/// wins. Cheap to clone.
#[derive(Clone, Default)]
pub struct ToolLimits {
    rules: Arc<Vec<(String, ToolRate)>>,
    buckets: Arc<Mutex<HashMap<String, Bucket>>>,
}

impl std::fmt::Debug for ToolLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolLimits")
            .field("rules", &self.rules)
            .finish()
    }
}

impl ToolLimits {
    /// Limits of these rules (glob of the namespaced tool name, rate).
    pub fn new(rules: Vec<(String, ToolRate)>) -> ToolLimits {
        ToolLimits {
            rules: Arc::new(rules),
            buckets: Arc::default(),
        }
    }

    /// Whether there is no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rate of `tool`, if a rule limits it.
    pub fn rate_of(&self, tool: &str) -> Option<ToolRate> {
        self.rules
            .iter()
            .find(|(pattern, _)| glob(pattern, tool))
            .map(|(_, rate)| *rate)
    }

    /// Takes one call of `tool` at `rate`: `Ok`, or how long until one fits.
    pub fn take(&self, tool: &str, rate: ToolRate, now: Instant) -> Result<(), Duration> {
        let capacity = f64::from(rate.count);
        let per_second = capacity / rate.per.as_secs_f64();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() > 10_000 && !buckets.contains_key(tool) {
            buckets.clear();
        }
        let bucket = buckets.entry(tool.to_owned()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_gets_its_burst_then_waits_and_others_are_free() {
        let rate = ToolRate {
            count: 2,
            per: Duration::from_secs(60),
        };
        let limits = ToolLimits::new(vec![
            ("run_task".to_owned(), rate),
            ("github__*".to_owned(), ToolRate { count: 1, ..rate }),
        ]);
        assert_eq!(limits.rate_of("run_task"), Some(rate));
        assert_eq!(limits.rate_of("github__create_issue").unwrap().count, 1);
        assert_eq!(limits.rate_of("port_map"), None);
        let start = Instant::now();
        assert!(limits.take("run_task", rate, start).is_ok());
        assert!(limits.take("run_task", rate, start).is_ok());
        let wait = limits.take("run_task", rate, start).unwrap_err();
        assert!(
            wait > Duration::from_secs(29) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        // Another tool has its own bucket.
        assert!(limits.take("github__x", rate, start).is_ok());
        // Half a minute later one call fits again.
        assert!(
            limits
                .take("run_task", rate, start + Duration::from_secs(30))
                .is_ok()
        );
        assert!(
            limits
                .take("run_task", rate, start + Duration::from_secs(30))
                .is_err()
        );
        assert_eq!(rate.label(), "2/m");
    }
}
