//! The `iza` command: parses the command line and hands each verb to its module in `cmd/`.

mod cli;
mod client;
mod cmd;
mod instance;
mod manifest_input;
mod remote;
mod table;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: markedly faster and leaner than the system allocator on the many small
/// allocations of parsing a large manifest (see `docs/performance.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // `iza __launch PARENT -- PROGRAM...`: how `iza` starts its children so that they die with
    // it (crates/iza-launch). It becomes PROGRAM here and never returns.
    iza_launch::launch_main();
    let cli = cli::Cli::parse();
    match cmd::run(cli) {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (`iza report | head`) is not an error worth a message.
            if err.chain().any(|cause| {
                cause
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            for hint in cmd::hints(&err) {
                eprintln!("\nhint: {hint}");
            }
            ExitCode::from(2)
        }
    }
}
