//! Access control: the token file on a real file system (its mode, creation, rotation), the
//! middleware on a small router with a mutating route, and the whole application's router
//! (every route goes through the policy).

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use http_body_util::BodyExt;
use iza_catalog::export::ports::PortMap;
use iza_catalog::{SourceFile, Syntax};
use iza_probe::{Prober, ProberOptions};
use iza_runtime::{Monitor, MonitorOptions};
use iza_server::auth::{AuthError, require_token};
use iza_server::{AppState, Auth, CatalogView, HostPolicy, Token, TokenFile, router};
use iza_store::{SqliteStore, Store};
use serde_json::Value;
use tower::ServiceExt;

/// A router with a read, a mutating route and `/healthz`, behind `auth`.
fn app(auth: Auth) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/things",
            get(|| async { "things" }).post(|| async { "made" }),
        )
        .route("/things/reset", post(|| async { "reset" }))
        .layer(from_fn_with_state(auth, require_token))
}

/// Sends a request, with `Authorization: Bearer <token>` when `token` is given; returns the
/// status, the `WWW-Authenticate` header and the body.
async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
) -> (StatusCode, Option<String>, String) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, challenge, String::from_utf8(body.to_vec()).unwrap())
}

/// The `reason` of a 401 answer, after checking its shape.
fn reason(status: StatusCode, challenge: Option<&str>, body: &str) -> String {
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        challenge.is_some_and(|c| c.starts_with("Bearer")),
        "{challenge:?}"
    );
    let json: Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["error"]["code"], "unauthorized");
    assert!(json["error"]["message"].as_str().is_some());
    json["error"]["reason"].as_str().unwrap().to_owned()
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_token_file_is_created_once_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let file = TokenFile::beside(&dir.path().join(".iza").join("state.db"));
    assert_eq!(file.path(), dir.path().join(".iza").join("token"));

    let (token, created) = file.load_or_create().unwrap();
    assert!(created);
    assert_eq!(mode(file.path()), 0o600);
    assert_eq!(mode(&dir.path().join(".iza")), 0o700);
    let text = std::fs::read_to_string(file.path()).unwrap();
    assert_eq!(text, format!("{}\n", token.as_str()));

    let (again, created) = file.load_or_create().unwrap();
    assert!(
        !created,
        "the second start must not create (nor print) a token"
    );
    assert_eq!(again, token);
    // No temporary file is left behind.
    let entries: Vec<_> = std::fs::read_dir(dir.path().join(".iza"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["token"]);
}

#[test]
fn a_token_file_others_can_access_is_refused_until_rotated() {
    let dir = tempfile::tempdir().unwrap();
    let file = TokenFile::new(dir.path().join("token"));
    let (old, _) = file.load_or_create().unwrap();
    for insecure in [0o640, 0o604, 0o620, 0o660] {
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(insecure)).unwrap();
        let err = file.load().unwrap_err();
        assert!(
            matches!(err, AuthError::Insecure { mode, .. } if mode == insecure),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("accessible by other users"),
            "{err}"
        );
        assert!(err.hint().unwrap().contains("iza token --rotate"));
        assert!(matches!(
            file.load_or_create(),
            Err(AuthError::Insecure { .. })
        ));
        assert!(matches!(
            Auth::from_file(file.clone()),
            Err(AuthError::Insecure { .. })
        ));
    }
    let new = file.rotate().unwrap();
    assert_ne!(new, old);
    assert_eq!(mode(file.path()), 0o600);
    assert_eq!(file.load().unwrap(), new);
}

#[test]
fn a_malformed_or_missing_token_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = TokenFile::new(dir.path().join("token"));
    assert!(matches!(file.load(), Err(AuthError::Read { .. })));
    for text in ["", "\n", "short\n", "has a space in it somewhere\n"] {
        std::fs::write(file.path(), text).unwrap();
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(
            matches!(file.load(), Err(AuthError::Malformed { .. })),
            "{text:?}"
        );
    }
}

#[tokio::test]
async fn mutating_calls_need_the_right_token() {
    let token = Token::generate().unwrap();
    let app = app(Auth::with_token(token.clone()));
    let wrong = Token::generate().unwrap();
    for (method, uri) in [
        ("POST", "/things"),
        ("POST", "/things/reset"),
        ("DELETE", "/things"),
    ] {
        let (status, challenge, body) = send(&app, method, uri, None).await;
        assert_eq!(
            reason(status, challenge.as_deref(), &body),
            "missing bearer token",
            "{method} {uri}"
        );
        let (status, challenge, body) = send(&app, method, uri, Some(wrong.as_str())).await;
        assert_eq!(reason(status, challenge.as_deref(), &body), "wrong token");
        assert_eq!(
            challenge.as_deref(),
            Some(r#"Bearer error="invalid_token""#)
        );
    }
    let (status, _, body) = send(&app, "POST", "/things", Some(token.as_str())).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "made"));
    let (status, _, body) = send(&app, "POST", "/things/reset", Some(token.as_str())).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "reset"));
    // A method the route lacks is refused before it is routed, unless the token is right.
    let (status, _, _) = send(&app, "DELETE", "/things", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = send(&app, "DELETE", "/things", Some(token.as_str())).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn reads_are_open_by_default_and_protected_when_configured() {
    let token = Token::generate().unwrap();
    let cases = [
        // (protect_reads, uri, bearer, expected status)
        (false, "/things", None, StatusCode::OK),
        (false, "/healthz", None, StatusCode::OK),
        (true, "/things", None, StatusCode::UNAUTHORIZED),
        (
            true,
            "/things",
            Some("0123456789abcdef0123456789abcdef"),
            StatusCode::UNAUTHORIZED,
        ),
        (true, "/things", Some(token.as_str()), StatusCode::OK),
        (true, "/healthz", None, StatusCode::OK),
    ];
    for (protect, uri, bearer, expected) in cases {
        let app = app(Auth::with_token(token.clone()).protect_reads(protect));
        let (status, _, body) = send(&app, "GET", uri, bearer).await;
        assert_eq!(
            status, expected,
            "protect_reads={protect} GET {uri} {bearer:?}: {body}"
        );
    }
}

#[tokio::test]
async fn without_a_token_every_mutating_call_is_refused() {
    let app = app(Auth::locked());
    let (status, challenge, body) =
        send(&app, "POST", "/things", Some("anything-at-all-0000")).await;
    assert_eq!(
        reason(status, challenge.as_deref(), &body),
        "no token configured on the server"
    );
    let (status, _, _) = send(&app, "GET", "/things", None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_rotated_token_replaces_the_old_one_on_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let file = TokenFile::new(dir.path().join("token"));
    let (old, _) = file.load_or_create().unwrap();
    let app = app(Auth::from_file(file.clone()).unwrap());
    let (status, _, _) = send(&app, "POST", "/things", Some(old.as_str())).await;
    assert_eq!(status, StatusCode::OK);

    // As `iza token --rotate` does it, from another process.
    let new = file.rotate().unwrap();
    assert_ne!(new, old);
    let (status, challenge, body) = send(&app, "POST", "/things", Some(old.as_str())).await;
    assert_eq!(reason(status, challenge.as_deref(), &body), "wrong token");
    let (status, _, _) = send(&app, "POST", "/things", Some(new.as_str())).await;
    assert_eq!(status, StatusCode::OK);

    // A token file opened to others is not trusted any more: nothing passes until rotated.
    std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let (status, challenge, body) = send(&app, "POST", "/things", Some(new.as_str())).await;
    assert_eq!(
        reason(status, challenge.as_deref(), &body),
        "no token configured on the server"
    );
    let newer = file.rotate().unwrap();
    let (status, _, _) = send(&app, "POST", "/things", Some(newer.as_str())).await;
    assert_eq!(status, StatusCode::OK);
}

/// The application's router over an empty catalog, with `auth` when given.
async fn application(auth: Option<Auth>) -> Router {
    let source = SourceFile::new(
        "iza.toml",
        "version = 1\n[services.a]\n".to_owned(),
        Syntax::Toml,
    );
    let catalog = Arc::new(iza_catalog::check(&source).catalog.unwrap());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let monitor = Arc::new(
        Monitor::start(
            catalog.clone(),
            Arc::new(Prober::new(ProberOptions::default())),
            store.clone(),
            MonitorOptions::default(),
        )
        .await
        .unwrap(),
    );
    let state = AppState::new(
        monitor,
        store,
        CatalogView::new(catalog, &PortMap::default()),
    );
    router(match auth {
        Some(auth) => state.with_auth(auth),
        None => state,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_of_the_application_goes_through_the_policy() {
    let default = application(None).await;
    for uri in ["/api/v1/services/x/start", "/api/v1/no-such-route"] {
        let (status, challenge, body) = send(&default, "POST", uri, None).await;
        assert_eq!(
            reason(status, challenge.as_deref(), &body),
            "no token configured on the server",
            "{uri}"
        );
    }
    // A method a route does not answer is a 405 before the policy is asked.
    for uri in ["/api/v1/summary", "/healthz"] {
        let (status, challenge, _) = send(&default, "POST", uri, None).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{uri}");
        assert_eq!(challenge, None);
    }
    let (status, _, _) = send(&default, "GET", "/api/v1/summary", None).await;
    assert_eq!(status, StatusCode::OK);

    let token = Token::generate().unwrap();
    let protected = application(Some(Auth::with_token(token.clone()).protect_reads(true))).await;
    let (status, _, _) = send(&protected, "GET", "/api/v1/summary", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = send(&protected, "GET", "/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = send(&protected, "GET", "/api/v1/summary", Some(token.as_str())).await;
    assert_eq!(status, StatusCode::OK);
    // With the token, a mutating call reaches routing (which has no POST route yet).
    let (status, _, _) = send(&protected, "POST", "/api/v1/summary", Some(token.as_str())).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_signs_in_once_and_then_reads_with_its_cookie() {
    let token = Token::generate().unwrap();
    let app = application(Some(Auth::with_token(token.clone()).protect_reads(true))).await;
    // The dashboard's page and files stay open: the page asks for the token itself.
    for uri in ["/", "/assets/js/app.js"] {
        let (status, _, body) = send(&app, "GET", uri, None).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    }
    // Signing in needs the token, and answers a session secret as an HttpOnly, SameSite=Strict
    // cookie.
    let (status, challenge, body) = send(&app, "POST", "/api/v1/session", None).await;
    assert_eq!(
        reason(status, challenge.as_deref(), &body),
        "missing bearer token"
    );
    let response = app
        .clone()
        .oneshot(
            Request::post("/api/v1/session")
                .header(header::AUTHORIZATION, format!("Bearer {}", token.as_str()))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();

    // With the cookie: reads pass; a wrong cookie and a change by cookie alone do not.
    let with_cookie = async |method: &str, uri: &str, cookie: &str| {
        let response = app
            .clone()
            .oneshot(
                Request::builder()
                    .method(method)
                    .uri(uri)
                    .header(header::COOKIE, format!("theme=dark; {cookie}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        response.status()
    };
    assert_eq!(
        with_cookie("GET", "/api/v1/summary", &pair).await,
        StatusCode::OK
    );
    assert_eq!(
        with_cookie(
            "GET",
            "/api/v1/summary",
            "iza_session=0123456789abcdef0123456789abcdef"
        )
        .await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        with_cookie("POST", "/api/v1/services/a/stop", &pair).await,
        StatusCode::UNAUTHORIZED,
        "a cookie never authorises a change"
    );
}

#[tokio::test]
async fn a_server_start_creates_the_token_once_and_shows_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = TokenFile::beside(&dir.path().join(".iza").join("state.db"));
    let (auth, shown) = Auth::load_or_create(file.clone()).unwrap();
    let token = shown.expect("the first start shows the token it created");
    assert_eq!(file.load().unwrap(), token);
    let (status, _, _) = send(&app(auth), "POST", "/things", Some(token.as_str())).await;
    assert_eq!(status, StatusCode::OK);

    let (auth, shown) = Auth::load_or_create(file.clone()).unwrap();
    assert!(shown.is_none(), "a later start does not show it again");
    let (status, _, _) = send(&app(auth), "POST", "/things", Some(token.as_str())).await;
    assert_eq!(status, StatusCode::OK);
}

/// Sends a request with the given headers; returns the status and the JSON body.
async fn send_with(
    app: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebound_host_is_refused_and_so_is_a_change_from_another_site() {
    let token = Token::generate().unwrap();
    let app = application(Some(Auth::with_token(token.clone()))).await;
    let bearer = format!("Bearer {}", token.as_str());

    // DNS rebinding: the page of evil.example reads the API under its own name.
    let (status, body) = send_with(
        &app,
        "GET",
        "/api/v1/services",
        &[("host", "evil.example:3000")],
    )
    .await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "misdirected-host");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--allow-host"),
        "{body}"
    );
    for host in [
        "localhost:3000",
        "127.0.0.1:3000",
        "[::1]:3000",
        "localhost",
    ] {
        let (status, body) = send_with(&app, "GET", "/api/v1/summary", &[("host", host)]).await;
        assert_eq!(status, StatusCode::OK, "{host}: {body}");
    }
    // `/healthz` holds no data: a load balancer may probe it by any name.
    let (status, _) = send_with(&app, "GET", "/healthz", &[("host", "evil.example")]).await;
    assert_eq!(status, StatusCode::OK);

    // A page of another site makes the browser POST, even with a token: refused.
    let (status, body) = send_with(
        &app,
        "POST",
        "/api/v1/session",
        &[
            ("host", "127.0.0.1:3000"),
            ("origin", "https://evil.example"),
            ("authorization", &bearer),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "foreign-origin");
    // The dashboard's own page may.
    let (status, body) = send_with(
        &app,
        "POST",
        "/api/v1/session",
        &[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
            ("authorization", &bearer),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_names_and_the_listen_address_are_answered() {
    let source = SourceFile::new("iza.toml", "version = 1\n".to_owned(), Syntax::Toml);
    let catalog = Arc::new(iza_catalog::check(&source).catalog.unwrap());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let monitor = Arc::new(
        Monitor::start(
            catalog.clone(),
            Arc::new(Prober::new(ProberOptions::default())),
            store.clone(),
            MonitorOptions::default(),
        )
        .await
        .unwrap(),
    );
    let state = AppState::new(
        monitor,
        store,
        CatalogView::new(catalog, &PortMap::default()),
    )
    .with_hosts(HostPolicy::new(
        "192.0.2.7:3000".parse().unwrap(),
        &["iza.example.org".to_owned()],
    ));
    let app = router(state);
    for (host, expected) in [
        ("iza.example.org", StatusCode::OK),
        ("IZA.example.org.:443", StatusCode::OK),
        ("192.0.2.7:3000", StatusCode::OK),
        ("other.example.org", StatusCode::MISDIRECTED_REQUEST),
    ] {
        let (status, body) = send_with(&app, "GET", "/api/v1/summary", &[("host", host)]).await;
        assert_eq!(status, expected, "{host}: {body}");
    }
}

/// Signs in with `token`; returns the `Set-Cookie` header.
async fn sign_in(app: &Router, token: &str) -> String {
    let response = app
        .clone()
        .oneshot(
            Request::post("/api/v1/session")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_is_its_own_secret_and_expires() {
    let dir = tempfile::tempdir().unwrap();
    let file = TokenFile::new(dir.path().join("token"));
    let (token, _) = file.load_or_create().unwrap();
    let auth = Auth::from_file(file.clone()).unwrap().protect_reads(true);
    let app = application(Some(auth.clone())).await;

    let cookie = sign_in(&app, token.as_str()).await;
    assert!(
        !cookie.contains(token.as_str()),
        "the cookie carries the token: {cookie}"
    );
    assert!(cookie.contains("Max-Age=43200"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_owned();
    assert!(pair.starts_with("iza_session="), "{pair}");
    let (status, _) = send_with(&app, "GET", "/api/v1/summary", &[("cookie", &pair)]).await;
    assert_eq!(status, StatusCode::OK);
    // Two sign-ins, two secrets.
    assert_ne!(sign_in(&app, token.as_str()).await, cookie);

    // After its 12 hours, the session is refused.
    auth.age_sessions(iza_server::auth::SESSION_LIFETIME);
    let (status, body) = send_with(&app, "GET", "/api/v1/summary", &[("cookie", &pair)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["reason"], "expired or unknown session");

    // A rotation of the token ends the sessions signed in with it.
    let cookie = sign_in(&app, token.as_str()).await;
    let pair = cookie.split(';').next().unwrap().to_owned();
    let (status, _) = send_with(&app, "GET", "/api/v1/summary", &[("cookie", &pair)]).await;
    assert_eq!(status, StatusCode::OK);
    file.rotate().unwrap();
    let (status, _) = send_with(&app, "GET", "/api/v1/summary", &[("cookie", &pair)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_only_token_reads_and_changes_nothing() {
    let admin = Token::generate().unwrap();
    let reader = Token::generate().unwrap();
    let auth = Auth::with_token(admin.clone())
        .with_read_token(reader.clone())
        .protect_reads(true);
    let app = application(Some(auth)).await;
    let read = format!("Bearer {}", reader.as_str());
    let (status, _) = send_with(&app, "GET", "/api/v1/summary", &[("authorization", &read)]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = send_with(
        &app,
        "POST",
        "/api/v1/services/a/stop",
        &[("authorization", &read)],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["reason"], "read-only token");
    let (status, body) = send_with(
        &app,
        "GET",
        "/api/v1/services/a?raw=true",
        &[("authorization", &read)],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let admin = format!("Bearer {}", admin.as_str());
    let (status, body) = send_with(
        &app,
        "GET",
        "/api/v1/services/a?raw=true",
        &[("authorization", &admin)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // It signs a browser in, and the session reads only.
    let cookie = sign_in(&app, reader.as_str()).await;
    let pair = cookie.split(';').next().unwrap().to_owned();
    let (status, _) = send_with(&app, "GET", "/api/v1/summary", &[("cookie", &pair)]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send_with(
        &app,
        "GET",
        "/api/v1/services/a?raw=true",
        &[("cookie", &pair)],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[test]
fn the_operate_token_acts_but_reads_no_raw_definitions_and_mcp_counts_as_a_read() {
    use axum::http::{HeaderMap, Method};
    use iza_server::Scope;
    use iza_server::auth::Denied;
    let (admin, operate, read) = (
        Token::generate().unwrap(),
        Token::generate().unwrap(),
        Token::generate().unwrap(),
    );
    let auth = Auth::with_token(admin.clone())
        .with_operate_token(operate.clone())
        .with_read_token(read.clone());
    let bearer = |token: Option<&str>| {
        let mut headers = HeaderMap::new();
        if let Some(token) = token {
            headers.insert(
                header::AUTHORIZATION,
                format!("Bearer {token}").parse().unwrap(),
            );
        }
        headers
    };
    let scope = |method: Method, path: &str, token: Option<&str>| {
        auth.access(&method, path, &bearer(token))
            .map(|access| access.0)
    };
    // An action: operate and admin go through, read is refused as read-only.
    let action = "/api/v1/runs";
    assert_eq!(
        scope(Method::POST, action, Some(operate.as_str())),
        Ok(Some(Scope::Operate))
    );
    assert_eq!(
        scope(Method::POST, action, Some(admin.as_str())),
        Ok(Some(Scope::Admin))
    );
    assert_eq!(
        scope(Method::POST, action, Some(read.as_str())),
        Err(Denied::ReadOnly)
    );
    // The operate token is not the admin token (raw definitions check `is_admin`).
    let access = auth
        .access(
            &Method::GET,
            "/api/v1/services/a",
            &bearer(Some(operate.as_str())),
        )
        .unwrap();
    assert!(!access.is_admin());
    // `/mcp` is a read for the policy, whatever the method: anonymous while reads are open,
    // each token with its scope, and a wrong token refused rather than served as anonymous.
    for method in [Method::POST, Method::GET, Method::DELETE] {
        assert_eq!(scope(method.clone(), "/mcp", None), Ok(None));
        assert_eq!(
            scope(method.clone(), "/mcp", Some(read.as_str())),
            Ok(Some(Scope::Read))
        );
        assert_eq!(
            scope(method.clone(), "/mcp", Some("not-a-token-of-this-server")),
            Err(Denied::WrongToken)
        );
    }
    // With reads protected, `/mcp` needs a token (any scope).
    let protected = auth.clone().protect_reads(true);
    assert_eq!(
        protected
            .access(&Method::POST, "/mcp", &bearer(None))
            .map(|a| a.0),
        Err(Denied::MissingToken)
    );
    assert_eq!(
        protected
            .access(&Method::POST, "/mcp", &bearer(Some(read.as_str())))
            .map(|a| a.0),
        Ok(Some(Scope::Read))
    );
}
