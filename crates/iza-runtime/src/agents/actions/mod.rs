//! One module per action a task's `run` can name; each turns a spec (placeholders already
//! substituted) into an output or a reason. The worker (`worker.rs`) decides when to run them
//! and how long they may take; the actions never retry.

pub mod check;
pub mod compare;
pub mod exec;
pub mod http;
pub mod process;
pub mod report;
pub mod workflow;

use iza_catalog::model::Action;

use super::Shared;
use super::placeholders::Placeholders;

/// Why an action failed, with what it printed or answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionError {
    /// Why, for a person.
    pub error: String,
    /// What it printed (exec) or answered (http), the tail.
    pub output: Option<String>,
}

impl ActionError {
    /// A failure without output.
    pub fn new(error: impl Into<String>) -> ActionError {
        ActionError {
            error: error.into(),
            output: None,
        }
    }
}

/// Performs an action, placeholders substituted from `values`.
pub(crate) async fn perform(
    shared: &Shared,
    action: &Action,
    values: &Placeholders,
) -> Result<Option<String>, ActionError> {
    match action {
        Action::Check(service) => check::run(&shared.monitor, service).await,
        Action::Http(http) => {
            let Some(client) = &shared.http else {
                return Err(ActionError::new("no HTTP client: TLS could not be set up"));
            };
            let spec = http::HttpSpec {
                method: http.method.clone(),
                url: values.apply(&http.url),
                headers: http
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), values.apply(v)))
                    .collect(),
                body: http.body.as_deref().map(|b| values.apply(b)),
                conditions: http.conditions.clone(),
            };
            http::run(client, &spec).await
        }
        Action::Exec(exec) => {
            let spec = exec::ExecSpec {
                argv: exec.argv.iter().map(|a| values.apply(a)).collect(),
                env: exec
                    .env
                    .iter()
                    .map(|(k, v)| (k.clone(), values.apply(v)))
                    .collect(),
                cwd: exec.cwd.clone(),
                shell: exec.shell,
            };
            let label = format!("task {}", values.task.as_deref().unwrap_or(""));
            exec::run(&shared.options.launch, &label, &spec).await
        }
        Action::Report(path) => {
            let catalog = shared.catalog();
            let path = if path.is_relative() {
                shared.options.launch.base_dir.join(path)
            } else {
                path.clone()
            };
            report::run(
                &catalog,
                &shared.monitor,
                shared.store.as_ref(),
                shared.now(),
                &path,
            )
            .await
        }
        Action::Restart(service) => {
            let supervisor = shared.supervisor();
            process::run(supervisor.as_deref(), process::Verb::Restart, service).await
        }
        Action::Start(service) => {
            process::run(
                shared.supervisor().as_deref(),
                process::Verb::Start,
                service,
            )
            .await
        }
        Action::Stop(service) => {
            process::run(shared.supervisor().as_deref(), process::Verb::Stop, service).await
        }
        Action::Compare(compare) => {
            let spec = compare::CompareSpec {
                original: values.apply(&compare.original),
                replica: values.apply(&compare.replica),
                conditions: compare.conditions.clone(),
            };
            compare::run(&shared.monitor, &spec).await
        }
        Action::Workflow(w) => {
            let data = values.apply_json(&serde_json::Value::Object(
                w.data.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            ));
            let catalog = shared.catalog();
            workflow::trigger(
                &catalog,
                &values.apply(&w.service),
                &values.apply(&w.workflow),
                &data,
            )
            .await
        }
        Action::RetryFailed(r) => {
            let catalog = shared.catalog();
            workflow::retry_failed(
                &catalog,
                &values.apply(&r.service),
                &values.apply(&r.workflow),
                r.limit,
            )
            .await
        }
        Action::External => Err(ActionError::new(
            "an external task is run by external agents, not by `iza`",
        )),
    }
}
