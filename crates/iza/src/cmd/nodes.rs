//! `iza nodes`: the nodes sharing the running server's store (`GET /api/v1/nodes`,
//! `docs/scale-out.md`): id, host, region, version, whether alive, heartbeat age, and how many
//! checks each holds the lease of.

use std::process::ExitCode;

use anyhow::{Context, Result};
use iza_runtime::now_millis;
use serde::Deserialize;
use serde_json::Value;

use crate::cli::{PsArgs, TextOrJson};
use crate::remote;
use crate::table::{self, Align};

#[derive(Debug, Deserialize)]
struct Node {
    id: String,
    host: String,
    region: Option<String>,
    version: String,
    heartbeat_at: i64,
    alive: bool,
    this: bool,
    checks: usize,
}

#[derive(Debug, Deserialize)]
struct Nodes {
    shared: bool,
    nodes: Vec<Node>,
}

pub(crate) fn run(args: &PsArgs) -> Result<ExitCode> {
    let client = remote::connect(&args.remote)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    if let TextOrJson::Json = args.format {
        let raw: Value = runtime.block_on(client.get("/api/v1/nodes"))?;
        super::print(&(serde_json::to_string_pretty(&raw)? + "\n"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let list: Nodes = runtime.block_on(client.get("/api/v1/nodes"))?;
    if !list.shared {
        eprintln!(
            "note: the server at `{}` keeps an embedded store: it is the only node (several \
             nodes share a PostgreSQL store, see docs/scale-out.md)",
            client.base()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let now = now_millis();
    let rows: Vec<Vec<String>> = list
        .nodes
        .iter()
        .map(|node| {
            vec![
                if node.this {
                    format!("{} (this)", node.id)
                } else {
                    node.id.clone()
                },
                node.host.clone(),
                node.region.clone().unwrap_or_else(|| "-".to_owned()),
                node.version.clone(),
                if node.alive { "alive" } else { "gone" }.to_owned(),
                table::human(now - node.heartbeat_at),
                node.checks.to_string(),
            ]
        })
        .collect();
    let columns = [
        ("NODE", Align::Left),
        ("HOST", Align::Left),
        ("REGION", Align::Left),
        ("VERSION", Align::Left),
        ("STATE", Align::Left),
        ("HEARTBEAT", Align::Right),
        ("CHECKS", Align::Right),
    ];
    super::print(&table::render(&columns, &rows))?;
    Ok(ExitCode::SUCCESS)
}
