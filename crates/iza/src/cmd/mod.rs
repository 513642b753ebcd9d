//! One module per verb; [`run`] dispatches to them and returns the process exit code.

mod agents;
mod alerts;
mod audit;
mod check;
mod demo_business;
pub(crate) mod demo_engine;
mod demo_service;
pub(crate) mod demo_web;
mod demo_webhooks;
mod figures;
mod graph;
mod hub;
mod import;
mod mcp;
mod nodes;
mod outputs;
mod ports;
mod processes;
mod report;
mod schema;
mod serve;
mod status;
mod store;
mod token;
mod up;
pub(crate) mod workflows;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command};

pub(crate) use demo_service::parse_rate;

/// Runs the verb the command line names.
pub(crate) fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Schema => schema::run(),
        Command::Import(args) => import::run(&args),
        Command::Graph(args) => graph::run(&args),
        Command::Ports(args) => ports::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Status(args) => status::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Up(args) => up::run(&args),
        Command::Ps(args) => processes::ps(&args),
        Command::Logs(args) => processes::logs(&args),
        Command::Start(args) => processes::act(processes::Action::Start, &args),
        Command::Stop(args) => processes::act(processes::Action::Stop, &args),
        Command::Restart(args) => processes::act(processes::Action::Restart, &args),
        Command::Token(args) => token::run(&args),
        Command::Agents(args) => agents::agents(&args),
        Command::Tasks(args) => agents::tasks(&args),
        Command::Run(args) => agents::run(&args),
        Command::Runs(args) => agents::runs(&args),
        Command::Incidents(args) => agents::incidents(&args),
        Command::Resolve(args) => agents::resolve(&args),
        Command::Cancel(args) => agents::cancel(&args),
        Command::Alerts(args) => alerts::alerts(&args),
        Command::Audit(args) => audit::audit(&args),
        Command::Figures(args) => figures::figures(&args),
        Command::Outputs(args) => outputs::outputs(&args),
        Command::Silence(args) => alerts::silence(&args),
        Command::Ack(args) => alerts::ack(&args),
        Command::DemoService(args) => demo_service::run(&args),
        Command::Mcp(args) => mcp::run(&args),
        Command::Store(command) => store::run(&command),
        Command::Nodes(args) => nodes::run(&args),
        Command::Workflows(args) => workflows::run(&args),
    }
}

/// What to tell the user to do next for an error that reached `main`.
pub(crate) fn hints(err: &anyhow::Error) -> Vec<String> {
    let mut hints = Vec::new();
    for cause in err.chain() {
        if let Some(iza_catalog::LoadError::NoManifest { .. }) = cause.downcast_ref() {
            hints.push("pass the manifest's path, or run `iza` where `iza.toml` is".to_owned());
        }
        if let Some(crate::remote::NoServer { manifest }) = cause.downcast_ref() {
            hints.push(format!(
                "start it with `iza up {}`, or name a running server with `--url URL`",
                manifest.display()
            ));
        }
        if let Some(crate::client::ClientError::Unauthorized { .. }) = cause.downcast_ref() {
            hints.push(
                "pass the token of the server's `.iza/token` with `--token` or `IZA_TOKEN` \
                 (`iza token PATH` prints it)"
                    .to_owned(),
            );
        }
        if let Some(crate::client::ClientError::Unreachable { .. }) = cause.downcast_ref() {
            hints.push(
                "check the URL, or start the server (`iza up PATH` or `iza serve PATH`); \
                 `iza status` without `--url` probes every service once itself"
                    .to_owned(),
            );
        }
        if let Some(hint) = cause
            .downcast_ref::<iza_server::auth::AuthError>()
            .and_then(iza_server::auth::AuthError::hint)
        {
            hints.push(hint);
        }
    }
    hints
}

/// Writes a line of a long-running command's progress (`iza up`, `iza serve`) to stdout. A
/// closed stdout (its reader has gone) must not stop the command, so a failed write is dropped.
pub(crate) fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// Writes text to stdout in one piece.
pub(crate) fn print(text: &str) -> Result<()> {
    use std::io::Write;
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
}
