//! IZA OS as an MCP server: the tools and resources an AI agent uses to read and operate the
//! ecosystem, served with the official Rust SDK (`rmcp`) in both protocol generations (the
//! stateless 2026-07-28 revision and the session revisions up to 2025-11-25) on one handler.
//!
//! The crate owns the MCP face of IZA and nothing behind it: every tool is a call of the REST
//! API (`/api/v1/...`) through a [`Backend`], so an MCP answer is the API's document, built in
//! one place. `iza-server` implements the backend over its router in-process and mounts
//! [`http_service`] at `/mcp`; `iza mcp` implements it over HTTP to a running server, or over
//! the manifest and the state database when none runs, and serves [`serve_stdio`].
//!
//! - `scope.rs`: [`Scope`] (read, operate, admin) and the [`Caller`] the HTTP host attaches;
//! - `audit.rs`: [`AuditSink`], where every tool call is reported, and [`ToolLimits`], the
//!   per-tool rate limits;
//! - `backend.rs`: [`Backend`], the API the tools call;
//! - `tools.rs`: the tool table (names, descriptions, JSON Schemas, scopes) and the calls;
//! - `handler.rs`: [`IzaMcp`], the `rmcp` server handler (tools, resources, prompts, scope
//!   checks);
//! - `transport.rs`: stdio and streamable HTTP;
//! - `hub/`: [`hub::Hub`], the upstream MCP servers federated behind IZA's endpoint.
//!
//! It does not authenticate (the host's middleware does, and says who called through
//! [`Caller`]), probe, or render anything but JSON text.

pub mod audit;
mod backend;
pub mod demo;
mod handler;
pub mod hub;
mod scope;
mod tools;
mod transport;

pub use audit::{AuditSink, CallOutcome, CallRecord, ToolLimits, ToolRate};
pub use backend::{Answer, Backend, BackendError, Verb};
pub use handler::{IzaMcp, PROMPTS, PromptSpec, RESOURCES, ResourceSpec};
pub use scope::{Caller, ClientName, Scope};
pub use tools::{TOOLS, ToolSpec};
pub use transport::{HttpOptions, McpHttpService, Shutdown, http_service, serve_stdio};
