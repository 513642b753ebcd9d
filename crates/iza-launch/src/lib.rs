//! Starts the child processes of IZA OS so that they die with it, and stops what a previous
//! run left behind.
//!
//! - [`Launcher`] (`launcher.rs`): every process IZA starts (supervised services, `exec`
//!   checks, task runs, MCP upstreams) is spawned through one. A guarded launcher runs the
//!   program through `iza __launch`, which sets the parent-death signal (`PR_SET_PDEATHSIG`
//!   = `SIGKILL`) and then `exec`s the program; the spawn happens on one dedicated thread that
//!   lives as long as the process, because the signal follows the *thread* that forked. A
//!   direct launcher (the default, for library tests) spawns as tokio does.
//! - [`launch_main`] (`guard.rs`): the `iza __launch` side, called first thing in `main`.
//! - [`Records`] and [`sweep`] (`leftovers.rs`): the process group and start time of each
//!   long-lived child, written under the state directory, and the start-up sweep that stops
//!   the groups a dead previous run left, never a process whose pid was reused.
//!
//! It does not decide what to start or when (the supervisor, the monitor do), and it reads
//! nothing but `/proc` and its own record files. See `docs/supervisor.md`.

mod guard;
mod launcher;
mod leftovers;
mod stat;

pub use guard::{LAUNCH_ARG, launch_main};
pub use launcher::Launcher;
pub use leftovers::{Records, Swept, sweep};
pub use stat::start_time;
