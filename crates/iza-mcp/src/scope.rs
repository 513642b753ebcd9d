//! Defines [`Scope`], what a client may do through MCP, and [`Caller`], the scope the HTTP host
//! found for one request (from its bearer token) and attaches to the request's extensions.

use serde::Serialize;

/// What a client may do. Ordered: each scope includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read the map, the status, the history, the agents' work.
    Read,
    /// Also act: run a task, resolve an incident, start/stop/restart a service, take part in
    /// the external-agent cycle.
    Operate,
    /// Everything.
    Admin,
}

impl Scope {
    /// The scope's name, as tokens and errors spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Operate => "operate",
            Scope::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scope of the client that sent an HTTP request, put in the request's extensions by the
/// host's access middleware. A request without one is served with the handler's default
/// scope (stdio: the local user's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller(pub Scope);

/// The name of the token the client presented (`admin`, `operate`, `read`) or `anonymous`,
/// put in the request's extensions by the host beside its [`Caller`], for the audit log.
/// Never the token itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientName(pub &'static str);
