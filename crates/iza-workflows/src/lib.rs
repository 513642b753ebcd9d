//! IZA OS workflow engines (`docs/workflows.md`): what IZA knows of n8n 2.x and Activepieces.
//!
//! - [`client`]: one client for both engines' public APIs (n8n's `/api/v1` with
//!   `X-N8N-API-KEY` and `{data, nextCursor}` pages; Activepieces' `/api/v1` with a bearer
//!   token and `{data, next, previous}` pages), answering in the store's records;
//! - [`sync`]: the incremental follower: a cursor (newest execution seen, and the gaps still to
//!   read) that never re-reads history, bounded pages per round so a first sync of a long
//!   history resumes round after round;
//! - [`status`]: the manifest's rules turned into a status per workflow and per engine;
//! - [`trigger`]: a workflow started through its webhook (the agents' `run = { workflow }`);
//! - [`retry`]: a workflow's failed executions retried, newest first, bounded, none twice
//!   (the agents' `run = { retry_failed }`);
//! - [`standin`]: an n8n and an Activepieces stand-in with the same API shapes (not the
//!   engines: generated workflows and executions), served by `iza demo-service --engine` and
//!   used by the contract tests.
//!
//! It knows nothing of the runtime: the runtime's follower (`iza-runtime/src/workflows.rs`)
//! calls a round on a schedule and writes it to the store.

pub mod client;
pub mod retry;
pub mod standin;
pub mod status;
pub mod sync;
mod time;
pub mod trigger;

pub use client::{Client, WorkflowError};
pub use retry::{RetryReport, retry_failed};
pub use status::{EngineHealth, WorkflowHealth, engine, judge};
pub use sync::{Cursor, Follower};
pub use trigger::{Triggered, trigger};
