//! The shape of a node of a cluster sharing one store (`docs/scale-out.md`): who it is, where,
//! which build, and when it last said it was alive. Only the shared (PostgreSQL) store keeps
//! nodes; what "alive" means (a heartbeat younger than a lease) is the runtime's business
//! (`iza-runtime/src/cluster/`).

use serde::{Deserialize, Serialize};

use crate::Millis;

/// A node as registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// Unique per process (the worker id of its agents engine).
    pub id: String,
    /// The machine's host name.
    pub host: String,
    /// The region it probes from, when it has one.
    pub region: Option<String>,
    /// The `iza` version it runs.
    pub version: String,
    /// When it registered.
    pub started_at: Millis,
    /// Its latest heartbeat.
    pub heartbeat_at: Millis,
}

/// A check's lease: which node probes it until when (`docs/scale-out.md`, "Checks shared by
/// lease"). The key is the service id, or `service@region` for a check probed from several
/// regions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckLease {
    /// The service id, or `service@region`.
    pub key: String,
    /// The node holding it.
    pub node: String,
    /// Until when (exclusive); past it, any node may take it.
    pub lease_until: Millis,
    /// When this node took it (renewals keep it).
    pub acquired_at: Millis,
}
