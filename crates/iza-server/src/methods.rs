//! Defines [`allow_method`], the middleware that answers `405 Method Not Allowed` (with `Allow`)
//! to a request whose path is routed but whose method is not, before the access policy of
//! `auth.rs` runs: a wrong method is reported as such, token or not. It owns the methods of each
//! route table of `lib.rs`; it does not route, and unknown paths pass through to the fallback.

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::{ACK_LINK_ROUTES, ACTION_ROUTES, DASHBOARD_ROUTES, DELETE_ROUTES, ROUTES};

/// The methods a routed path answers, as its `Allow` header says; `None` for a path that is
/// not routed.
pub(crate) fn allowed(path: &str) -> Option<&'static str> {
    let get = ROUTES.contains(&path) || DASHBOARD_ROUTES.contains(&path);
    let post = ACTION_ROUTES.contains(&path);
    if ACK_LINK_ROUTES.contains(&path) {
        return Some("GET, HEAD, POST");
    }
    if DELETE_ROUTES.contains(&path) {
        return Some("DELETE");
    }
    match (get, post) {
        (true, true) => Some("GET, HEAD, POST"),
        (true, false) => Some("GET, HEAD"),
        (false, true) => Some("POST"),
        (false, false) => None,
    }
}

fn answers(allow: &str, method: &Method) -> bool {
    match *method {
        Method::GET | Method::HEAD => allow.contains("GET"),
        Method::POST => allow.contains("POST"),
        Method::DELETE => allow.contains("DELETE"),
        _ => false,
    }
}

/// The middleware; `router` applies it outside the access policy.
pub(crate) async fn allow_method(request: Request, next: Next) -> Response {
    let allow = request
        .extensions()
        .get::<MatchedPath>()
        .and_then(|path| allowed(path.as_str()));
    match allow {
        Some(allow) if !answers(allow, request.method()) => ApiError::MethodNotAllowed {
            method: request.method().to_string(),
            path: request.uri().path().to_owned(),
            allow,
        }
        .into_response(),
        _ => next.run(request).await,
    }
}
