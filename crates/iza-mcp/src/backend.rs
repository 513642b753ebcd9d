//! Defines [`Backend`]: the REST API as the tools reach it. Each tool is one API call, so what
//! an MCP client reads is the API's own document (`docs/api.md`), built in one place. The
//! server answers in-process, `iza mcp` over HTTP or from the manifest and the state database.

use futures_util::future::BoxFuture;
use serde_json::Value;

/// The HTTP method of an API call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// A read.
    Get,
    /// An action.
    Post,
}

/// The API's answer: its status code and its body (JSON; a text body such as the Markdown
/// report is a JSON string; an empty body is `null`).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The body.
    pub body: Value,
}

impl Answer {
    /// Whether the call succeeded (2xx).
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why the API could not be asked at all (as opposed to answering an error, which is an
/// [`Answer`] with a 4xx or 5xx status).
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The call needs a running `iza serve` or `iza up`, and none runs.
    #[error("{what} needs a running `iza serve` or `iza up`, and none runs for this manifest")]
    NeedsServer {
        /// What was asked.
        what: String,
    },
    /// The server could not be reached or answered something unreadable.
    #[error("cannot reach the IZA server: {0}")]
    Unreachable(String),
}

/// The API the tools call. `path` is the API path with its query (`/api/v1/services?...`),
/// `body` the JSON body of a `POST`.
pub trait Backend: Send + Sync + 'static {
    /// Calls the API.
    fn call(
        &self,
        verb: Verb,
        path: String,
        body: Option<Value>,
    ) -> BoxFuture<'static, Result<Answer, BackendError>>;
}
