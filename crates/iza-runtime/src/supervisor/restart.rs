//! Defines [`Restarts`]: the restart policy and its backoff as a pure state machine. Given how
//! a run ended and how long it lasted, it says whether to restart, after which delay, or to
//! give up and mark the service failed. It owns no timer and no process; the service runner
//! (`supervisor/runner.rs`) acts on its decisions.
//!
//! The rules: a run that lasted at least `reset_after` resets the series (count 0, delay back
//! to `backoff`). `never` never restarts; `on-failure` restarts after a non-zero exit or a
//! death by signal; `always` after every exit. Within a series the delay starts at `backoff`
//! and doubles up to `max_backoff`; once `max_restarts` restarts did not keep the service up,
//! the next exit fails it.

use std::time::Duration;

use iza_catalog::model::{RestartPolicy, RestartSpec};

/// What to do after an exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start it again after `delay`; this is restart number `attempt` of the series (from 1).
    Restart {
        /// How long to wait.
        delay: Duration,
        /// Which restart of the series.
        attempt: u32,
    },
    /// Leave it exited: the policy does not restart this exit.
    Stay,
    /// Give up: `restarts` restarts in a row did not keep it up.
    Fail {
        /// Restarts of the series.
        restarts: u32,
    },
}

/// The restart series of one service.
#[derive(Debug, Clone)]
pub struct Restarts {
    spec: RestartSpec,
    restarts: u32,
    delay: Duration,
}

impl Restarts {
    /// A fresh series.
    pub fn new(spec: RestartSpec) -> Restarts {
        Restarts {
            spec,
            restarts: 0,
            delay: spec.backoff,
        }
    }

    /// Restarts in the current series.
    pub fn count(&self) -> u32 {
        self.restarts
    }

    /// Starts a fresh series (a start or restart by hand).
    pub fn reset(&mut self) {
        self.restarts = 0;
        self.delay = self.spec.backoff;
    }

    /// Decides after a run that lasted `uptime` and ended successfully (exit 0) or not.
    pub fn on_exit(&mut self, success: bool, uptime: Duration) -> Decision {
        if uptime >= self.spec.reset_after {
            self.reset();
        }
        let wanted = match self.spec.policy {
            RestartPolicy::Never => false,
            RestartPolicy::OnFailure => !success,
            RestartPolicy::Always => true,
        };
        if !wanted {
            return Decision::Stay;
        }
        if self.restarts >= self.spec.max_restarts {
            return Decision::Fail {
                restarts: self.restarts,
            };
        }
        self.restarts += 1;
        let delay = self.delay;
        self.delay = self.delay.saturating_mul(2).min(self.spec.max_backoff);
        Decision::Restart {
            delay,
            attempt: self.restarts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(policy: RestartPolicy, max_restarts: u32) -> RestartSpec {
        RestartSpec {
            policy,
            max_restarts,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            reset_after: Duration::from_secs(10),
        }
    }

    const SHORT: Duration = Duration::from_millis(5);

    #[test]
    fn policies_decide_which_exits_restart() {
        // (policy, success, restarts?)
        let cases = [
            (RestartPolicy::Never, false, false),
            (RestartPolicy::Never, true, false),
            (RestartPolicy::OnFailure, false, true),
            (RestartPolicy::OnFailure, true, false),
            (RestartPolicy::Always, false, true),
            (RestartPolicy::Always, true, true),
        ];
        for (policy, success, restarts) in cases {
            let decision = Restarts::new(spec(policy, 3)).on_exit(success, SHORT);
            assert_eq!(
                matches!(decision, Decision::Restart { .. }),
                restarts,
                "{policy:?} after success={success}: {decision:?}"
            );
            if !restarts {
                assert_eq!(decision, Decision::Stay);
            }
        }
    }

    #[test]
    fn delays_double_up_to_the_cap_then_the_service_fails() {
        let mut r = Restarts::new(spec(RestartPolicy::OnFailure, 4));
        let delays: Vec<Decision> = (0..5).map(|_| r.on_exit(false, SHORT)).collect();
        let ms = Duration::from_millis;
        assert_eq!(
            delays,
            [
                Decision::Restart {
                    delay: ms(100),
                    attempt: 1
                },
                Decision::Restart {
                    delay: ms(200),
                    attempt: 2
                },
                Decision::Restart {
                    delay: ms(350),
                    attempt: 3
                },
                Decision::Restart {
                    delay: ms(350),
                    attempt: 4
                },
                Decision::Fail { restarts: 4 },
            ]
        );
    }

    #[test]
    fn a_long_enough_run_resets_the_series() {
        let mut r = Restarts::new(spec(RestartPolicy::Always, 2));
        r.on_exit(false, SHORT);
        r.on_exit(false, SHORT);
        assert_eq!(r.count(), 2);
        // The next short run would fail it; a run of `reset_after` starts over instead.
        assert_eq!(
            r.on_exit(false, Duration::from_secs(10)),
            Decision::Restart {
                delay: Duration::from_millis(100),
                attempt: 1
            }
        );
        r.reset();
        assert_eq!(r.count(), 0);
    }

    #[test]
    fn zero_max_restarts_fails_at_the_first_exit_it_would_restart() {
        let mut r = Restarts::new(spec(RestartPolicy::OnFailure, 0));
        assert_eq!(r.on_exit(true, SHORT), Decision::Stay);
        assert_eq!(r.on_exit(false, SHORT), Decision::Fail { restarts: 0 });
    }
}
