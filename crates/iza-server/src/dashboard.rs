//! Serves the web dashboard: the files under `crates/iza-server/web/`, embedded in the binary
//! at build time, at `/` (the page) and `/assets/{path}` (its styles, scripts and icon). Owns
//! the table of those files, their content types and ETags, and the headers every dashboard
//! answer carries (a strict Content-Security-Policy: no inline script or style, nothing from
//! another origin). It does not own the data the page shows: the page reads `/api/v1` like any
//! other client. The page routes with the URL fragment (`#/graph`), so the server needs no
//! fallback route. See `docs/dashboard.md`.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// One embedded file.
struct Asset {
    /// Its path under `/assets/` (`index.html` is served at `/`).
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!("../web/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the dashboard. A file added to `web/` must be listed here (a test checks
/// that every file on disk is).
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("js/app.js", JS),
    asset!("js/theme.js", JS),
    asset!("js/api.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/graph.js", JS),
    asset!("js/layout.js", JS),
    asset!("js/live.js", JS),
    asset!("js/signin.js", JS),
    asset!("js/token.js", JS),
    asset!("js/agents.js", JS),
    asset!("js/views/overview.js", JS),
    asset!("js/views/graph.js", JS),
    asset!("js/views/services.js", JS),
    asset!("js/views/service.js", JS),
    asset!("js/views/artifacts.js", JS),
    asset!("js/views/ports.js", JS),
    asset!("js/views/hub.js", JS),
    asset!("js/views/audit.js", JS),
    asset!("js/views/events.js", JS),
    asset!("js/views/process.js", JS),
    asset!("js/views/execution.js", JS),
    asset!("js/views/runs.js", JS),
    asset!("js/views/work.js", JS),
    asset!("js/figures.js", JS),
    asset!("js/views/alerts.js", JS),
    asset!("js/views/nodes.js", JS),
    asset!("js/views/workflows.js", JS),
];

/// The policy of every dashboard answer: only this origin's scripts, styles, images and
/// connections; no inline script, no framing, no forms.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'none'";

/// The entity tag of each asset, in the order of [`ASSETS`]: a hash of its bytes, computed
/// once on first use.
static ETAGS: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| {
            // A quoted hex string is always a valid header value.
            HeaderValue::from_str(&format!("\"{:016x}\"", fnv1a(a.body)))
                .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
        })
        .collect()
});

/// FNV-1a, 64 bits: stable across builds and platforms (unlike `DefaultHasher`), which is
/// all an ETag needs.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// `GET /`: the page.
pub(crate) async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
        .unwrap_or_else(|| ApiError::NoRoute("/".to_owned()).into_response())
}

/// `GET /assets/{*path}`: one of the page's files.
pub(crate) async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
        .unwrap_or_else(|| ApiError::NoRoute(format!("/assets/{path}")).into_response())
}

/// The answer for the asset at `path`, or `None` when there is none: `304` when the client
/// holds the current version (`If-None-Match`), else the bytes. Clients revalidate every time
/// (`no-cache`): the names carry no hash, so a new binary must be seen at once.
fn serve(path: &str, headers: &HeaderMap) -> Option<Response> {
    let index = ASSETS.iter().position(|a| a.path == path)?;
    let asset = ASSETS.get(index)?;
    let etag = ETAGS.get(index)?.clone();
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == "*" || tag.trim().trim_start_matches("W/") == etag)
        });
    let common = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ];
    if fresh {
        return Some((StatusCode::NOT_MODIFIED, common).into_response());
    }
    Some(
        (
            common,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            )],
            asset.body,
        )
            .into_response(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file under `web/` is embedded, and every embedded file exists there.
    #[test]
    fn every_file_of_web_is_embedded() {
        fn walk(dir: &std::path::Path, base: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, base, out);
                } else {
                    let rel = path.strip_prefix(base).unwrap();
                    out.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let mut on_disk = Vec::new();
        walk(&web, &web, &mut on_disk);
        on_disk.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|a| a.path.to_owned()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn content_types_follow_the_extension() {
        for asset in ASSETS {
            let expected = match asset.path.rsplit('.').next() {
                Some("html") => "text/html",
                Some("css") => "text/css",
                Some("js") => "text/javascript",
                Some("svg") => "image/svg+xml",
                other => panic!("unexpected extension {other:?} of {}", asset.path),
            };
            assert!(asset.content_type.starts_with(expected), "{}", asset.path);
        }
    }

    #[test]
    fn fnv1a_matches_its_reference_values() {
        // Reference values of the FNV-1a 64-bit test suite.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
