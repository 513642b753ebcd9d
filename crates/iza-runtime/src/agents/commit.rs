//! Group commit of run finishes: the finishes that arrive while one batch is being written are
//! written together by the next, in one `finish_runs` call (one transaction), and each caller
//! is answered only once its finish has committed, so an acknowledged finish is as durable as
//! before. With one run in flight it costs what a lone finish did; with many, the store sees a
//! few transactions a second instead of one per run.
//!
//! There is no background task: the first caller to find no batch being written writes every
//! finish queued so far (its own included) and answers each; the others wait for their
//! answer. The write itself runs in a spawned task, so a caller aborted while it writes (a
//! run whose lease was lost, the shutdown) never cuts a batch that holds other callers'
//! finishes.

use std::sync::{Arc, Mutex, PoisonError};

use iza_store::{RunFinish, RunId, Store, StoreError};
use tokio::sync::oneshot;

/// A finish waiting for its batch, with where to send whether it held the run.
type Pending = (RunFinish, oneshot::Sender<Result<bool, String>>);

/// The finishes waiting to be written, and the right to write them.
#[derive(Default)]
pub(crate) struct FinishCommits {
    pending: Mutex<Vec<Pending>>,
    writing: tokio::sync::Mutex<()>,
}

impl FinishCommits {
    /// Writes `finish` with whatever other finishes are waiting; `true` when the store
    /// finished the run (the worker held it), `false` when it ignored the finish.
    pub(crate) async fn finish(
        &self,
        store: &Arc<dyn Store>,
        finish: RunFinish,
    ) -> Result<bool, StoreError> {
        let (answer, answered) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((finish, answer));
        {
            let _writing = self.writing.lock().await;
            let batch =
                std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
            if !batch.is_empty() {
                let store = store.clone();
                // Spawned: an abort of this caller must not cut the others' finishes.
                let written = tokio::spawn(async move {
                    let (finishes, answers): (Vec<RunFinish>, Vec<_>) = batch.into_iter().unzip();
                    let result = store.finish_runs(&finishes).await;
                    answer_all(&finishes, answers, result);
                })
                .await;
                if let Err(err) = written {
                    tracing::error!("agents: writing a batch of finishes failed: {err}");
                }
            }
        }
        match answered.await {
            Ok(Ok(held)) => Ok(held),
            Ok(Err(message)) => Err(StoreError::Query(message)),
            Err(_) => Err(StoreError::Query(
                "finishing runs: the batch holding this finish was not written".to_owned(),
            )),
        }
    }
}

/// Tells each caller of a batch how its finish went.
fn answer_all(
    finishes: &[RunFinish],
    answers: Vec<oneshot::Sender<Result<bool, String>>>,
    result: Result<Vec<RunId>, StoreError>,
) {
    match result {
        Ok(done) => {
            let done: std::collections::HashSet<RunId> = done.into_iter().collect();
            // A run finished twice in one batch: the first finish counts (the store's rule).
            let mut answered = std::collections::HashSet::new();
            for (finish, answer) in finishes.iter().zip(answers) {
                let held = done.contains(&finish.id) && answered.insert(finish.id);
                let _ = answer.send(Ok(held));
            }
        }
        Err(err) => {
            let message = match err {
                StoreError::Query(message) => message,
                other => other.to_string(),
            };
            for answer in answers {
                let _ = answer.send(Err(message.clone()));
            }
        }
    }
}
