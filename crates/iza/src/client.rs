//! The HTTP client of commands that ask a running `iza serve` or `iza up` instead of doing the
//! work themselves (`iza status`, `iza ps`, `iza logs`, `iza start|stop|restart`). It owns the
//! conversation and its error messages (which server, what failed, what to do next); finding
//! the server and its token is `remote.rs`'s job.

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
    token: Option<String>,
}

/// Why a request failed: the server could not be reached at all, or it answered badly.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    /// Nothing answers at the address (refused, timed out, name unknown).
    #[error("cannot reach the server at `{base}`: {reason}")]
    Unreachable { base: String, reason: String },
    /// The server refused the request for want of the right bearer token.
    #[error("the server at `{base}` refused the request: {reason}")]
    Unauthorized { base: String, reason: String },
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
        // No overall timeout on the client: a followed stream lasts as long as it lasts; each
        // plain request sets its own.
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("iza/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(ApiClient {
            base: base.trim_end_matches('/').to_owned(),
            http,
            token: None,
        })
    }

    /// Sends this bearer token with every request.
    pub(crate) fn with_token(mut self, token: Option<String>) -> ApiClient {
        self.token = token;
        self
    }

    /// The server's base URL, as given.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// `GET` a JSON document (`path` starts with `/`).
    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.call(reqwest::Method::GET, path).await
    }

    /// `POST` without a body; the answer is a JSON document.
    pub(crate) async fn post<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.call(reqwest::Method::POST, path).await
    }

    /// `POST` a JSON body; the answer is a JSON document.
    pub(crate) async fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T, ClientError> {
        self.call_with(reqwest::Method::POST, path, Some(body), REQUEST_TIMEOUT)
            .await
    }

    /// `DELETE`; the answer is a JSON document.
    pub(crate) async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.call(reqwest::Method::DELETE, path).await
    }

    /// `GET` a JSON document the server may take up to `wait` to answer (a long poll).
    pub(crate) async fn get_waiting<T: DeserializeOwned>(
        &self,
        path: &str,
        wait: Duration,
    ) -> Result<T, ClientError> {
        self.call_with(reqwest::Method::GET, path, None, REQUEST_TIMEOUT + wait)
            .await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> Result<T, ClientError> {
        self.call_with(method, path, None, REQUEST_TIMEOUT).await
    }

    async fn call_with<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        json: Option<&serde_json::Value>,
        timeout: Duration,
    ) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let what = format!("`{method} {url}`");
        let response = self.send(method, &url, Some(timeout), json).await?;
        let body = response
            .bytes()
            .await
            .map_err(|err| anyhow!("{what}: reading the answer failed: {err}"))?;
        serde_json::from_slice(&body).map_err(|err| {
            anyhow!("{what} answered something that is not an IZA OS API document: {err}").into()
        })
    }

    /// Sends a request and returns the answer as it is, error statuses included: its status
    /// code, content type and body (`iza mcp` hands API errors to its client as they are).
    pub(crate) async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        json: Option<&serde_json::Value>,
    ) -> Result<(u16, String, Vec<u8>), ClientError> {
        let url = format!("{}{path}", self.base);
        let what = format!("`{method} {url}`");
        let mut request = self.http.request(method, &url).timeout(REQUEST_TIMEOUT);
        if let Some(json) = json {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(json.to_string());
        }
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|err| ClientError::Unreachable {
                base: self.base.clone(),
                reason: root_cause(&err),
            })?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response
            .bytes()
            .await
            .map_err(|err| anyhow!("{what}: reading the answer failed: {err}"))?;
        Ok((status, content_type, body.to_vec()))
    }

    /// Follows a server-sent-events stream, calling `on_event(event, data)` for each event
    /// until the server ends the stream.
    pub(crate) async fn follow(
        &self,
        path: &str,
        mut on_event: impl FnMut(&str, &str) -> Result<()>,
    ) -> Result<(), ClientError> {
        let url = format!("{}{path}", self.base);
        let mut response = self.send(reqwest::Method::GET, &url, None, None).await?;
        let mut buffer = String::new();
        loop {
            let chunk = response
                .chunk()
                .await
                .map_err(|err| anyhow!("`GET {url}`: the stream broke: {}", root_cause(&err)))?;
            let Some(chunk) = chunk else {
                return Ok(());
            };
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                let (mut event, mut data) = ("message".to_owned(), String::new());
                for line in frame.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        event = value.trim_start().to_owned();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        if !data.is_empty() {
                            data.push('\n');
                        }
                        data.push_str(value.strip_prefix(' ').unwrap_or(value));
                    }
                }
                if !data.is_empty() {
                    on_event(&event, &data)?;
                }
            }
        }
    }

    /// Sends a request and turns what is not a success into the error that says why.
    async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        timeout: Option<Duration>,
        json: Option<&serde_json::Value>,
    ) -> Result<reqwest::Response, ClientError> {
        let what = format!("`{method} {url}`");
        let mut request = self.http.request(method, url);
        if let Some(json) = json {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(json.to_string());
        }
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|err| {
            if err.is_connect() || err.is_timeout() {
                ClientError::Unreachable {
                    base: self.base.clone(),
                    reason: root_cause(&err),
                }
            } else {
                ClientError::Other(anyhow!("{what} failed: {}", root_cause(&err)))
            }
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.bytes().await.unwrap_or_default();
        let error = serde_json::from_slice::<serde_json::Value>(&body)
            .map(|v| v["error"].clone())
            .unwrap_or_default();
        let reason = error["message"].as_str().map_or_else(
            || String::from_utf8_lossy(&body).trim().to_owned(),
            str::to_owned,
        );
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(ClientError::Unauthorized {
                base: self.base.clone(),
                // `missing bearer token`, `wrong token`...: the short why.
                reason: error["reason"].as_str().map_or(reason, str::to_owned),
            });
        }
        Err(anyhow!("{what} answered {status}: {reason}").into())
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
