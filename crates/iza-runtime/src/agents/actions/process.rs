//! The `restart`, `start` and `stop` actions: a supervised service (one with a `command`)
//! through the [`Supervisor`] of `iza up`. Under `iza serve` nothing is supervised, and the run
//! fails with a reason that says so.

use super::ActionError;
use crate::supervisor::Supervisor;

/// Which of the three.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// Stop then start.
    Restart,
    /// Start.
    Start,
    /// Stop.
    Stop,
}

impl Verb {
    fn as_str(self) -> &'static str {
        match self {
            Verb::Restart => "restart",
            Verb::Start => "start",
            Verb::Stop => "stop",
        }
    }
}

/// Applies the verb to `service`.
pub async fn run(
    supervisor: Option<&Supervisor>,
    verb: Verb,
    service: &str,
) -> Result<Option<String>, ActionError> {
    let Some(supervisor) = supervisor else {
        return Err(ActionError::new(format!(
            "cannot {} `{service}`: nothing is supervised under `iza serve`; run `iza up` to supervise services",
            verb.as_str()
        )));
    };
    let result = match verb {
        Verb::Restart => supervisor.restart(service).await,
        Verb::Start => supervisor.start(service),
        Verb::Stop => supervisor.stop(service).await,
    };
    result
        .map(|()| Some(format!("{} `{service}`: done", verb.as_str())))
        .map_err(|e| ActionError::new(format!("cannot {} `{service}`: {e}", verb.as_str())))
}
