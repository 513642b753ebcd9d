//! Defines the [`Clock`] the agents engine reads time from: [`SystemClock`] in `iza serve`
//! and `iza up`, [`ManualClock`] in tests, which moves only when told to, so that schedules,
//! backoff, leases and timeouts are tested without sleeping.
//!
//! It owns "what time is it" and "wake me at that time"; it does not own what is scheduled.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use iza_store::Millis;
use tokio::sync::watch;

/// A boxed future, as the clock's sleeps return.
pub type Sleep<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Where the engine reads the time, in Unix milliseconds.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> Millis;
    /// Resolves once [`Clock::now`] is at or past `at`.
    fn sleep_until(&self, at: Millis) -> Sleep<'_>;
}

/// The system's clock; sleeps are Tokio timers.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        crate::now_millis()
    }

    fn sleep_until(&self, at: Millis) -> Sleep<'_> {
        Box::pin(async move {
            loop {
                let left = at.saturating_sub(crate::now_millis());
                if left <= 0 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(left.unsigned_abs())).await;
            }
        })
    }
}

/// A clock that moves only by [`ManualClock::advance`] and [`ManualClock::set`]; every sleeper
/// whose time has come wakes at once.
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicI64,
    moved: watch::Sender<Millis>,
}

impl ManualClock {
    /// A clock standing at `now`.
    pub fn new(now: Millis) -> Arc<ManualClock> {
        let (moved, _) = watch::channel(now);
        Arc::new(ManualClock {
            now: AtomicI64::new(now),
            moved,
        })
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let now = self.now.fetch_add(by, Ordering::AcqRel).saturating_add(by);
        self.moved.send_replace(now);
    }

    /// Sets the clock to `now` (never backwards: an earlier time is ignored).
    pub fn set(&self, now: Millis) {
        let now = self.now.fetch_max(now, Ordering::AcqRel).max(now);
        self.moved.send_replace(now);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        self.now.load(Ordering::Acquire)
    }

    fn sleep_until(&self, at: Millis) -> Sleep<'_> {
        let mut moved = self.moved.subscribe();
        Box::pin(async move {
            let _ = moved.wait_for(|now| *now >= at).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_sleeper_wakes_when_the_clock_reaches_its_time() {
        let clock = ManualClock::new(1_000);
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep_until(1_500).await })
        };
        clock.advance(Duration::from_millis(200));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_millis(300));
        tokio::time::timeout(Duration::from_secs(5), sleeper)
            .await
            .expect("the sleeper woke")
            .unwrap();
        assert_eq!(clock.now(), 1_500);
        clock.set(1_000);
        assert_eq!(clock.now(), 1_500, "never backwards");
    }
}
