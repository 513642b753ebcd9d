//! The `http` kind: one HTTP(S) request with the check's method, headers and body. Facts
//! `[STATUS]`, `[BODY]` (read up to the prober's body limit; the rest is never read),
//! `[CONNECTED]`, `[IP]` and, over HTTPS, `[CERTIFICATE_EXPIRATION]`. Without conditions the
//! check is up when the status is below 400.
//!
//! Owns the shared [`Clients`]: one `reqwest::Client` per (follow redirects, verify TLS)
//! pair, built on first use over the prober's rustls configurations, so a probe costs no
//! client or TLS setup and can reuse a kept-open connection. Redirects are followed up to 10
//! (a loop is an error); proxies from the environment are ignored, so a probe measures the
//! target itself.

use std::sync::OnceLock;

use iza_catalog::model::Check;
use reqwest::{Client, Method, Response};

use crate::Prober;
use crate::net;
use crate::result::{Facts, Failure, Reason};

/// The most redirects a probe follows.
const MAX_REDIRECTS: usize = 10;

/// The lazily built clients, indexed by `follow_redirects * 2 + verify_tls`.
#[derive(Default)]
pub(crate) struct Clients([OnceLock<Result<Client, String>>; 4]);

impl Clients {
    /// The client for a redirect policy and TLS verification setting.
    pub(crate) fn get(
        &self,
        prober: &Prober,
        follow: bool,
        verify: bool,
    ) -> Result<&Client, Failure> {
        let slot = &self.0[usize::from(follow) * 2 + usize::from(verify)];
        slot.get_or_init(|| build(prober, follow, verify))
            .as_ref()
            .map_err(|e| Failure::new(Reason::Target, e.clone()))
    }
}

fn build(prober: &Prober, follow: bool, verify: bool) -> Result<Client, String> {
    let tls = prober.tls().map_err(|f| f.message)?;
    let options = prober.options();
    let mut config = (**tls.for_verify(verify)).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let mut builder = Client::builder()
        .tls_backend_preconfigured(config)
        .tls_info(true)
        .redirect(if follow {
            reqwest::redirect::Policy::limited(MAX_REDIRECTS)
        } else {
            reqwest::redirect::Policy::none()
        })
        .no_proxy()
        .referer(false)
        .retry(reqwest::retry::never())
        .tcp_nodelay(true)
        .user_agent(concat!("iza-probe/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(options.idle_timeout);
    if !options.reuse_connections {
        builder = builder.pool_max_idle_per_host(0);
    }
    builder
        .build()
        .map_err(|e| format!("could not build the HTTP client: {}", net::error_chain(&e)))
}

/// Sends the request and reads the answer.
pub(crate) async fn probe(
    prober: &Prober,
    url: &str,
    check: &Check,
    facts: &mut Facts,
) -> Result<(), Failure> {
    let response = send(prober, url, check, None, facts).await?;
    read_body(response, prober.options().body_limit, facts, |_, _| false).await
}

/// A POST that replaces the check's own method and body (for `mcp`).
pub(crate) struct Post {
    /// The body.
    pub(crate) body: String,
    /// Its `Content-Type`.
    pub(crate) content_type: &'static str,
    /// The `Accept` header, unless the check sets one.
    pub(crate) accept: &'static str,
    /// More headers, each unless the check sets it.
    pub(crate) headers: Vec<(&'static str, String)>,
}

/// Sends a request built from the check (or `post`) and records the status, the address and
/// the certificate expiry.
pub(crate) async fn send(
    prober: &Prober,
    url: &str,
    check: &Check,
    post: Option<Post>,
    facts: &mut Facts,
) -> Result<Response, Failure> {
    let client = prober
        .http
        .get(prober, check.follow_redirects, check.verify_tls)?;
    let method = match &post {
        Some(_) => Method::POST,
        None => Method::from_bytes(check.method.as_bytes()).map_err(|_| {
            Failure::new(
                Reason::Target,
                format!("`{}` is not an HTTP method", check.method),
            )
        })?,
    };
    let mut request = client.request(method, url);
    for (name, value) in &check.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    request = match post {
        Some(post) => {
            if !check
                .headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case("accept"))
            {
                request = request.header(reqwest::header::ACCEPT, post.accept);
            }
            for (name, value) in post.headers {
                if !check.headers.keys().any(|k| k.eq_ignore_ascii_case(name)) {
                    request = request.header(name, value);
                }
            }
            request
                .header(reqwest::header::CONTENT_TYPE, post.content_type)
                .body(post.body)
        }
        None => match &check.body {
            Some(body) => request.body(body.clone()),
            None => request,
        },
    };
    let response = request.send().await.map_err(|e| failure(&e, facts))?;
    facts.connected = true;
    facts.status = Some(response.status().as_u16());
    facts.ip = response.remote_addr().map(|a| a.ip());
    if let Some(der) = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
    {
        facts.certificate_expires_in_secs = crate::x509::not_after(der).map(net::seconds_until);
    }
    Ok(response)
}

/// Reads the body into `[BODY]`, stopping at `limit` bytes or as soon as `complete` says the
/// part read so far is enough (it gets the body so far and the length before the last chunk).
pub(crate) async fn read_body(
    mut response: Response,
    limit: usize,
    facts: &mut Facts,
    complete: impl Fn(&[u8], usize) -> bool,
) -> Result<(), Failure> {
    let expected = response.content_length().unwrap_or(0);
    let mut body = Vec::with_capacity(
        usize::try_from(expected)
            .unwrap_or(limit)
            .min(limit)
            .min(64 * 1024),
    );
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => {
                return Err(Failure::new(
                    Reason::Protocol,
                    format!("reading the body failed: {}", net::error_chain(&e)),
                ));
            }
        };
        let room = limit - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            facts.body_truncated = true;
            break;
        }
        let before = body.len();
        body.extend_from_slice(&chunk);
        if complete(&body, before) {
            break;
        }
    }
    facts.body = Some(String::from_utf8_lossy(&body).into_owned());
    Ok(())
}

/// A request that got no response, in words and with a reason.
fn failure(error: &reqwest::Error, facts: &mut Facts) -> Failure {
    let chain = detail(error);
    if error.is_builder() {
        return Failure::new(Reason::Target, format!("the request is invalid: {chain}"));
    }
    if error.is_redirect() {
        facts.connected = true;
        return Failure::new(
            Reason::Redirect,
            if chain.contains("too many redirects") {
                format!("too many redirects (more than {MAX_REDIRECTS}; a redirect loop?)")
            } else {
                format!("a redirect could not be followed: {chain}")
            },
        );
    }
    if let Some(tls) = net::find_tls_error(error) {
        facts.connected = true;
        let host = error
            .url()
            .and_then(|u| u.host_str())
            .unwrap_or_default()
            .to_owned();
        return Failure::new(Reason::Tls, net::tls_message(tls, &host));
    }
    if error.is_connect() {
        return Failure::new(Reason::Connect, format!("could not connect: {chain}"));
    }
    // The connection was made; the answer was not HTTP, or the server hung up.
    facts.connected = true;
    Failure::new(Reason::Protocol, chain)
}

/// The error's causes without reqwest's and hyper's wrapper sentences.
fn detail(error: &reqwest::Error) -> String {
    let source = std::error::Error::source(error);
    let chain = match source {
        Some(source) => net::error_chain(source),
        None => net::error_chain(error),
    };
    let parts: Vec<&str> = chain
        .split(": ")
        .filter(|part| {
            !part.starts_with("client error (")
                && !part.starts_with("error sending request")
                && *part != "operation was canceled"
        })
        .collect();
    if parts.is_empty() {
        chain
    } else {
        parts.join(": ")
    }
}
