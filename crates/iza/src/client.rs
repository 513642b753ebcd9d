//! The HTTP client of commands that ask a running `iza serve` instead of doing the work
//! themselves (`iza status --url`). It owns the conversation and its error messages (which
//! server, what failed, what to do next); finding the server is `instance.rs`'s job.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde::de::DeserializeOwned;

/// How long connecting may take before the server is called unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one whole request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// A client of one server's API.
pub(crate) struct ApiClient {
    base: String,
    http: reqwest::Client,
}

/// Why a request failed: the server could not be reached at all, or it answered badly.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    /// Nothing answers at the address (refused, timed out, name unknown).
    #[error("cannot reach the server at `{base}`: {reason}")]
    Unreachable { base: String, reason: String },
    /// Anything else, with its context.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl ApiClient {
    /// A client of the server at `base` (`http://127.0.0.1:3000`; a trailing `/` is fine).
    pub(crate) fn new(base: &str) -> Result<ApiClient> {
        let url = url::Url::parse(base).with_context(|| {
            format!("`{base}` is not a URL; write it like `http://127.0.0.1:3000`")
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            bail!("`{base}` is not an http or https URL");
        }
        let tls = iza_probe::verifying_tls_config()
            .map_err(|reason| anyhow!("cannot set up TLS: {reason}"))?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("iza/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(ApiClient {
            base: base.trim_end_matches('/').to_owned(),
            http,
        })
    }

    /// The server's base URL, as given.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// `GET` a JSON document (`path` starts with `/`).
    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let response = self.http.get(&url).send().await.map_err(|err| {
            if err.is_connect() || err.is_timeout() {
                ClientError::Unreachable {
                    base: self.base.clone(),
                    reason: root_cause(&err),
                }
            } else {
                ClientError::Other(anyhow!("`GET {url}` failed: {}", root_cause(&err)))
            }
        })?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|err| anyhow!("`GET {url}`: reading the answer failed: {err}"))?;
        if !status.is_success() {
            let reason = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_owned());
            return Err(anyhow!("`GET {url}` answered {status}: {reason}").into());
        }
        serde_json::from_slice(&body).map_err(|err| {
            anyhow!("`GET {url}` answered something that is not an IZA OS API document: {err}")
                .into()
        })
    }
}

/// The innermost error's message: "Connection refused (os error 111)" rather than reqwest's
/// "error sending request for url (…)".
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
