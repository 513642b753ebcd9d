//! Integration tests of `iza-runtime` with real components: HTTP servers the tests start on
//! 127.0.0.1, the real prober, the real monitor tasks, and a recording `Store` double (a sink
//! for assertions; the real stores are tested in `iza-store`). Every wait polls with a deadline.

mod agents;
mod alerts;
mod chain;
mod cluster;
mod docker;
mod figure_conditions;
mod figures;
mod inputs;
mod receiver;
mod reload;
mod schedule;
mod sqlite;
mod store;
mod supervisor;
mod support;
#[path = "../../../iza-store/tests/common/test_database.rs"]
mod test_database;
mod workflow_tasks;
