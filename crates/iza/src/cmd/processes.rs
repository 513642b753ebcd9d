//! `iza ps`, `iza logs`, `iza start`, `iza stop` and `iza restart`: the supervised processes of
//! the running `iza up`, asked over its API (`docs/api.md`, "Supervised processes"). Nothing
//! here starts or signals a process itself.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context, Result};
use iza_runtime::now_millis;
use serde::Deserialize;
use serde_json::Value;

use crate::cli::{ActArgs, LogsArgs, PsArgs, TextOrJson};
use crate::remote;
use crate::table::{self, Align};

/// One process, as the API shows it.
#[derive(Debug, Deserialize)]
struct Process {
    id: String,
    state: String,
    pid: Option<u32>,
    restarts: u32,
    started_at: Option<i64>,
    last_exit: Option<Value>,
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Processes {
    supervised: bool,
    processes: Vec<Process>,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub(crate) fn ps(args: &PsArgs) -> Result<ExitCode> {
    let client = remote::connect(&args.remote)?;
    let runtime = runtime()?;
    if let TextOrJson::Json = args.format {
        let raw: Value = runtime.block_on(client.get("/api/v1/processes"))?;
        super::print(&(serde_json::to_string_pretty(&raw)? + "\n"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let list: Processes = runtime.block_on(client.get("/api/v1/processes"))?;
    if !list.supervised {
        eprintln!(
            "note: the server at `{}` runs `iza serve`: it supervises no processes (`iza up` does)",
            client.base()
        );
    }
    super::print(&table(&list.processes, now_millis()))?;
    Ok(ExitCode::SUCCESS)
}

fn table(processes: &[Process], now: i64) -> String {
    let rows: Vec<Vec<String>> = processes
        .iter()
        .map(|p| {
            let uptime = match (p.state.as_str(), p.started_at) {
                ("running" | "ready" | "starting", Some(at)) => table::human(now - at),
                _ => String::new(),
            };
            let last = match (&p.reason, &p.last_exit) {
                (Some(reason), _) => reason.clone(),
                (None, Some(exit)) => exit_text(exit),
                (None, None) => String::new(),
            };
            vec![
                p.id.clone(),
                p.state.clone(),
                p.pid.map(|pid| pid.to_string()).unwrap_or_default(),
                p.restarts.to_string(),
                uptime,
                last,
            ]
        })
        .collect();
    let columns = [
        ("SERVICE", Align::Left),
        ("STATE", Align::Left),
        ("PID", Align::Right),
        ("RESTARTS", Align::Right),
        ("UPTIME", Align::Right),
        ("LAST EXIT", Align::Left),
    ];
    table::render(&columns, &rows)
}

/// `exited 1`, `killed by SIGKILL`, with the exit's own message when it has one.
fn exit_text(exit: &Value) -> String {
    if let Some(message) = exit["message"].as_str() {
        return message.to_owned();
    }
    match (
        exit["code"].as_i64(),
        exit["signal"].as_str(),
        exit["signal"].as_i64(),
    ) {
        (Some(code), _, _) => format!("exited {code}"),
        (None, Some(signal), _) => format!("killed by {signal}"),
        (None, None, Some(signal)) => format!("killed by signal {signal}"),
        _ => String::new(),
    }
}

pub(crate) fn logs(args: &LogsArgs) -> Result<ExitCode> {
    let client = remote::connect(&args.remote)?;
    let runtime = runtime()?;
    let service = args.service.as_str();
    if args.follow {
        let path = format!("/api/v1/services/{service}/logs/stream?tail={}", args.tail);
        runtime.block_on(client.follow(&path, |event, data| {
            match event {
                "log" => {
                    let line: Value = serde_json::from_str(data)?;
                    super::print(&format!("{}\n", line["text"].as_str().unwrap_or_default()))?;
                }
                "skipped" => eprintln!("warning: {data} lines were skipped (the reader was slow)"),
                _ => {}
            }
            Ok(())
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let answer: Value = runtime.block_on(client.get(&format!(
        "/api/v1/services/{service}/logs?tail={}",
        args.tail
    )))?;
    let mut out = String::new();
    for line in answer["lines"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "{}", line["text"].as_str().unwrap_or_default());
    }
    super::print(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// What `iza start|stop|restart` asks for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Action {
    Start,
    Stop,
    Restart,
}

pub(crate) fn act(action: Action, args: &ActArgs) -> Result<ExitCode> {
    let client = remote::connect(&args.remote)?;
    let (verb, done) = match action {
        Action::Start => ("start", "started"),
        Action::Stop => ("stop", "stopped"),
        Action::Restart => ("restart", "restarted"),
    };
    let process: Process =
        runtime()?.block_on(client.post(&format!("/api/v1/services/{}/{verb}", args.service)))?;
    let pid = process
        .pid
        .map(|p| format!(", pid {p}"))
        .unwrap_or_default();
    eprintln!("{done} `{}` (now {}{pid})", process.id, process.state);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_writes_them() {
        let cases = [
            (0, "0s"),
            (59_999, "59s"),
            (192_000, "3m12s"),
            (7_500_000, "2h05m"),
            (273_600_000, "3d04h"),
            (-5, "0s"),
        ];
        for (millis, text) in cases {
            assert_eq!(table::human(millis), text, "{millis}");
        }
    }
}
