//! What the round-trip kinds (`nats`, `mqtt`, `amqp` with `round_trip`) share: a probe
//! message unique to one probe, how long the message may take to come back, and the failure
//! when it does not.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::result::{Facts, Failure, Reason};

/// A text unique to this probe in this process (and very likely across processes): the
/// probe message's payload and, where a name is needed, its suffix.
pub(crate) fn unique() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{:x}{:x}{n:x}",
        std::process::id(),
        nanos & 0xffff_ffff_ffff
    )
}

/// The probe's payload: the unique text, recognisable among other messages.
pub(crate) fn payload(token: &str) -> String {
    format!("iza-round-trip {token}")
}

/// How long the message may take to come back: most of the check's timeout, so that a
/// missing message is reported as such rather than as a timeout.
pub(crate) fn patience(timeout: Duration) -> Duration {
    timeout.mul_f64(0.8)
}

/// Records how long the round trip took (`[ROUND_TRIP]`).
pub(crate) fn arrived(published: Instant, facts: &mut Facts) {
    facts.round_trip_us = Some(u64::try_from(published.elapsed().as_micros()).unwrap_or(u64::MAX));
}

/// The failure when the message did not come back in time.
pub(crate) fn lost(what: &str, waited: Duration) -> Failure {
    Failure::new(
        Reason::Condition,
        format!(
            "the probe message {what} did not come back within {}",
            humantime::format_duration(Duration::from_millis(
                u64::try_from(waited.as_millis()).unwrap_or(u64::MAX)
            ))
        ),
    )
}
