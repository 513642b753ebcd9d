//! `iza store migrate` and `iza store copy`: the store's schema and the offline copy of a
//! SQLite store into PostgreSQL (`iza_store::copy`). Prints what it did; never shows a password.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use iza_store::copy::{CopyError, sqlite_to_postgres};
use iza_store::{PostgresStore, SqliteStore, Store as _, StoreLocation};

use super::serve::{block_on, store_location};
use crate::cli::{StoreCommand, StoreCopyArgs, StoreMigrateArgs};
use crate::manifest_input;

pub(crate) fn run(command: &StoreCommand) -> Result<ExitCode> {
    match command {
        StoreCommand::Migrate(args) => migrate(args),
        StoreCommand::Copy(args) => copy(args),
    }
}

fn migrate(args: &StoreMigrateArgs) -> Result<ExitCode> {
    let location = match &args.store {
        Some(url) => StoreLocation::parse(url).context("bad `--store`")?,
        None => {
            let path = iza_catalog::resolve(&args.manifest.path)?;
            let (_, catalog) = manifest_input::catalog(&args.manifest)?;
            store_location(None, None, &catalog, &path)?
        }
    };
    block_on(async move {
        match &location {
            StoreLocation::Postgres(url) => {
                let options = iza_store::PostgresOptions {
                    migrate: false,
                    ..iza_store::PostgresOptions::default()
                };
                // Connect without migrating, to say what was there before.
                let store = match PostgresStore::connect_with(url, options).await {
                    Ok(store) => store,
                    Err(iza_store::StoreError::Open { message, .. })
                        if message.contains("iza store migrate") =>
                    {
                        PostgresStore::connect(url)
                            .await
                            .with_context(|| format!("cannot open the store `{location}`"))?
                    }
                    Err(error) => {
                        return Err(error)
                            .with_context(|| format!("cannot open the store `{location}`"));
                    }
                };
                let applied = store.migrate().await?;
                let version = store.schema_version().await?;
                store.close().await?;
                report(&location, &applied, version);
            }
            StoreLocation::Sqlite(file) => {
                let store = SqliteStore::open(file)
                    .await
                    .with_context(|| format!("cannot open the database `{}`", file.display()))?;
                let version = store.schema_version().await?;
                store.close().await?;
                // SQLite migrates on open; the version is what it holds now.
                eprintln!("store `{location}` is at schema version {version}");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn report(location: &StoreLocation, applied: &[i64], version: i64) {
    if applied.is_empty() {
        eprintln!("store `{location}` is up to date (schema version {version})");
    } else {
        let list: Vec<String> = applied.iter().map(i64::to_string).collect();
        eprintln!(
            "store `{location}`: applied migration {} (schema version {version})",
            list.join(", ")
        );
    }
}

fn copy(args: &StoreCopyArgs) -> Result<ExitCode> {
    let from = StoreLocation::parse(&args.from).context("bad `--from`")?;
    let to = StoreLocation::parse(&args.to).context("bad `--to`")?;
    let (StoreLocation::Sqlite(file), StoreLocation::Postgres(url)) = (from.clone(), to.clone())
    else {
        bail!(
            "`iza store copy` copies a SQLite store into PostgreSQL (`--from sqlite:PATH --to \
             postgres://...`); `{from}` into `{to}` is not supported"
        );
    };
    if !file.exists() {
        bail!("the source database `{}` does not exist", file.display());
    }
    let force = args.force;
    block_on(async move {
        let source = SqliteStore::open(&file)
            .await
            .with_context(|| format!("cannot open the database `{}`", file.display()))?;
        let target = PostgresStore::connect(&url)
            .await
            .with_context(|| format!("cannot open the store `{to}`"))?;
        let copied = match sqlite_to_postgres(&source, &target, force).await {
            Ok(copied) => copied,
            Err(CopyError::NotEmpty { table, rows }) => {
                eprintln!(
                    "error: the target store `{to}` already holds data ({rows} rows in `{table}`); nothing was copied"
                );
                eprintln!(
                    "\nhint: copy into an empty database, or pass `--force` to add to it (rows it already has are kept)"
                );
                return Ok(ExitCode::from(1));
            }
            Err(CopyError::Store(error)) => {
                return Err(error).context(format!(
                    "cannot copy `{from}` into `{to}`; nothing was committed"
                ));
            }
        };
        source.close().await?;
        target.close().await?;
        eprintln!(
            "copied `{from}` into `{to}`: {} services, {} results, {} rollups, {} events, {} runs, {} schedule marks, {} run rollups, {} incidents, {} alerts, silences and deliveries, {} figure samples and rollups, {} workflow rows, {} outbox entries",
            copied.services,
            copied.results,
            copied.rollups,
            copied.events,
            copied.runs,
            copied.schedule_marks,
            copied.run_rollups,
            copied.incidents,
            copied.alerting,
            copied.figures,
            copied.workflows,
            copied.outbox
        );
        Ok(ExitCode::SUCCESS)
    })
}
