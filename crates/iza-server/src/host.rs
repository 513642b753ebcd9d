//! Defines [`HostPolicy`], the names the server answers for, and the [`check_host`]
//! middleware that applies it against DNS rebinding and cross-site requests: a request whose
//! `Host` is not one of them is refused with 421, and a call that may change anything sent by a
//! page of another origin (its `Origin` is neither the server's own name and port, as in the
//! request's `Host`, nor an `--allow-host` name) with 403.
//!
//! The names: `localhost` and `*.localhost`, every loopback address, the listen address, and
//! the names given with `--allow-host`; when the server listens on a wildcard address
//! (`0.0.0.0`, `::`) also every address of the machine and its host name. A request without
//! `Host` (no browser sends one) and `/healthz` are not checked. This module does not decide
//! who may call what (that is `auth.rs`).

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The names and addresses the server answers for. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HostPolicy {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The listen address, when known.
    listen: Option<IpAddr>,
    /// Names allowed besides (lowercase, no trailing dot).
    allowed: Vec<String>,
    /// The machine's host name, when the server listens on a wildcard address.
    hostname: Option<String>,
}

impl Default for HostPolicy {
    fn default() -> HostPolicy {
        HostPolicy::loopback()
    }
}

impl HostPolicy {
    /// `localhost` and loopback addresses only: the default of [`crate::AppState`].
    pub fn loopback() -> HostPolicy {
        HostPolicy {
            inner: Arc::new(Inner {
                listen: None,
                allowed: Vec::new(),
                hostname: None,
            }),
        }
    }

    /// The policy of a server listening on `listen` that also answers for `allowed` names.
    pub fn new(listen: SocketAddr, allowed: &[String]) -> HostPolicy {
        let ip = listen.ip();
        let hostname = ip
            .is_unspecified()
            .then(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .flatten()
            .map(|name| normalize(name.trim()))
            .filter(|name| !name.is_empty());
        HostPolicy {
            inner: Arc::new(Inner {
                listen: Some(ip),
                allowed: allowed.iter().map(|name| normalize(name)).collect(),
                hostname,
            }),
        }
    }

    /// Whether the server answers for `host` (a name or address, without port).
    pub fn allows(&self, host: &str) -> bool {
        let host = normalize(host);
        if host == "localhost" || host.ends_with(".localhost") {
            return true;
        }
        if self.inner.allowed.contains(&host) || self.inner.hostname.as_ref() == Some(&host) {
            return true;
        }
        let Ok(ip) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        else {
            return false;
        };
        match self.inner.listen {
            _ if ip.is_loopback() => true,
            Some(listen) if listen == ip => true,
            Some(listen) if listen.is_unspecified() => is_local_address(ip),
            _ => false,
        }
    }

    /// Whether a request's `Host` (or the authority of its URI) is allowed; `Err` names the
    /// refused host. A request naming none passes.
    fn check_request(&self, request: &Request) -> Result<(), String> {
        let authority = match request.uri().authority() {
            Some(authority) => Some(authority.as_str().to_owned()),
            None => request
                .headers()
                .get(header::HOST)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        };
        match authority {
            Some(authority) if !self.allows(host_of(&authority)) => Err(authority),
            _ => Ok(()),
        }
    }

    /// Whether the `Origin` of a call that may change anything is the server's own: the page
    /// that sends it was served by this server under the same name and port (`Host`), or by a
    /// name given with `--allow-host` (a proxy in front). `Err` names the refused origin. A
    /// request without `Origin` (not sent by a page) passes; `null` (a sandboxed or local
    /// page) does not, nor does another port of `localhost` (another local application).
    fn check_origin(&self, method: &Method, headers: &HeaderMap) -> Result<(), String> {
        if matches!(
            *method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        ) {
            return Ok(());
        }
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let origin = String::from_utf8_lossy(origin.as_bytes()).into_owned();
        let (scheme, authority) = match origin.split_once("://") {
            Some((scheme, authority)) if matches!(scheme, "http" | "https") => (scheme, authority),
            _ => return Err(origin),
        };
        if authority.contains('/') {
            return Err(origin);
        }
        let default_port = if scheme == "https" { ":443" } else { ":80" };
        let strip = |a: &str| normalize(a.strip_suffix(default_port).unwrap_or(a));
        let same_host = headers.get(header::HOST).is_some_and(|host| {
            strip(&String::from_utf8_lossy(host.as_bytes())) == strip(authority)
        });
        let allowed_name = self.inner.allowed.contains(&normalize(host_of(authority)));
        if same_host || allowed_name {
            Ok(())
        } else {
            Err(origin)
        }
    }
}

/// A name lowercased, without a trailing dot.
fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// The host of `host[:port]` or `[v6]:port` (brackets kept off).
fn host_of(authority: &str) -> &str {
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split_once(']').map_or(rest, |(host, _)| host);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

/// Whether `ip` is an address of this machine: only then can a socket be bound to it.
fn is_local_address(ip: IpAddr) -> bool {
    if ip.is_unspecified() || ip.is_multicast() {
        return false;
    }
    UdpSocket::bind((ip, 0)).is_ok()
}

/// The middleware: 421 for a `Host` the server does not answer for, 403 for a call that may
/// change anything from a page of another origin. `router` applies it before the token check.
pub async fn check_host(
    State(policy): State<HostPolicy>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path() == "/healthz" {
        return next.run(request).await;
    }
    if let Err(host) = policy.check_request(&request) {
        return ApiError::MisdirectedHost(host).into_response();
    }
    if let Err(origin) = policy.check_origin(request.method(), request.headers()) {
        return ApiError::ForeignOrigin(origin).into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_read_with_or_without_port() {
        let cases = [
            ("localhost:3000", "localhost"),
            ("127.0.0.1", "127.0.0.1"),
            ("[::1]:3000", "::1"),
            ("[::1]", "::1"),
            ("evil.example:80", "evil.example"),
        ];
        for (authority, host) in cases {
            assert_eq!(host_of(authority), host, "{authority}");
        }
    }

    #[test]
    fn loopback_names_the_listen_address_and_allowed_names_pass() {
        let policy = HostPolicy::new(
            "192.0.2.7:3000".parse().unwrap(),
            &["IZA.internal.".to_owned()],
        );
        for host in [
            "localhost",
            "LOCALHOST.",
            "app.localhost",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
            "192.0.2.7",
            "iza.internal",
        ] {
            assert!(policy.allows(host), "{host}");
        }
        for host in ["evil.example", "192.0.2.8", "localhost.evil.example", ""] {
            assert!(!policy.allows(host), "{host}");
        }
        assert!(!HostPolicy::loopback().allows("192.0.2.7"));
    }

    #[test]
    fn a_wildcard_listen_accepts_the_machines_addresses_only() {
        let policy = HostPolicy::new("0.0.0.0:3000".parse().unwrap(), &[]);
        assert!(policy.allows("127.0.0.1"));
        // TEST-NET-3 is never an address of this machine.
        assert!(!policy.allows("203.0.113.9"));
        assert!(!policy.allows("evil.example"));
    }

    #[test]
    fn origins_of_other_sites_are_refused_on_changes_only() {
        let policy = HostPolicy::new(
            "127.0.0.1:3000".parse().unwrap(),
            &["iza.example.org".to_owned()],
        );
        let with = |origin: &str, host: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ORIGIN, origin.parse().unwrap());
            headers.insert(header::HOST, host.parse().unwrap());
            headers
        };
        let allowed = [
            ("http://127.0.0.1:3000", "127.0.0.1:3000"),
            ("http://localhost:3000", "LOCALHOST:3000"),
            ("https://iza.example.org", "127.0.0.1:3000"),
            ("http://localhost", "localhost:80"),
        ];
        for (origin, host) in allowed {
            assert!(
                policy
                    .check_origin(&Method::POST, &with(origin, host))
                    .is_ok(),
                "{origin} on {host}"
            );
        }
        let refused = [
            ("https://evil.example", "127.0.0.1:3000"),
            ("http://localhost:5173", "localhost:3000"),
            ("null", "127.0.0.1:3000"),
            ("file://", "127.0.0.1:3000"),
        ];
        for (origin, host) in refused {
            assert!(
                policy
                    .check_origin(&Method::POST, &with(origin, host))
                    .is_err(),
                "{origin} on {host}"
            );
            assert!(
                policy
                    .check_origin(&Method::GET, &with(origin, host))
                    .is_ok()
            );
        }
        assert!(
            policy
                .check_origin(&Method::DELETE, &HeaderMap::new())
                .is_ok()
        );
    }
}
