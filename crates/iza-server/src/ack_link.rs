//! The acknowledgement link of a notification (`/ack/{id}?exp=..&sig=..`, signed by the
//! runtime's [`iza_runtime::alerts::LinkKey`]; see `docs/alerts.md`). Outside `/api/v1` and
//! outside the bearer-token policy: the signature is the credential, checked here. `GET` shows
//! the alert and one button and changes nothing (link previewers and mail scanners fetch
//! links); the button `POST`s the same URL, which acknowledges. Answers are small HTML pages
//! with no script, and the same strict policy as the dashboard (its form may post only here).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::state::AppState;

/// The query of a link.
#[derive(Debug, Deserialize)]
pub(crate) struct LinkParams {
    exp: Option<i64>,
    sig: Option<String>,
}

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                   base-uri 'none'; frame-ancestors 'none'";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>{t} · IZA OS</title>\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}}\
         button{{font:inherit;padding:.5rem 1.2rem;cursor:pointer}}.muted{{color:#666}}</style></head>\
         <body><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The alert's id and the link's checked expiry, or the page that refuses it.
fn check(
    state: &AppState,
    id: &str,
    params: &LinkParams,
) -> Result<(i64, i64, String), Box<Response>> {
    let refuse = |status, text: &str| {
        Err(Box::new(page(
            status,
            "Link refused",
            &format!("<p>{}</p>", escape(text)),
        )))
    };
    let Ok(id) = id.parse::<i64>() else {
        return refuse(StatusCode::NOT_FOUND, "This is not an alert's link.");
    };
    let (Some(exp), Some(sig)) = (params.exp, params.sig.as_deref()) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "The link lacks its `exp` or `sig`: copy it whole from the notification.",
        );
    };
    let Some(alerts) = state.alerts() else {
        return refuse(StatusCode::CONFLICT, "This server runs no alerting.");
    };
    match alerts.verify_ack_link(id, exp, sig) {
        Ok(()) => Ok((id, exp, sig.to_owned())),
        Err(e) => refuse(StatusCode::FORBIDDEN, &e.to_string()),
    }
}

/// `GET /ack/{id}`: the alert and a button.
pub(crate) async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<LinkParams>,
) -> Response {
    let (id, exp, sig) = match check(&state, &id, &params) {
        Ok(checked) => checked,
        Err(page) => return *page,
    };
    let alert = match state.store.alert(id).await {
        Ok(Some(alert)) => alert,
        Ok(None) => {
            return page(
                StatusCode::NOT_FOUND,
                "No such alert",
                &format!("<p>No alert has the id {id}.</p>"),
            );
        }
        Err(e) => {
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                &format!("<p>The store failed: {}</p>", escape(&e.to_string())),
            );
        }
    };
    let impacted = if alert.impacted.is_empty() {
        String::new()
    } else {
        format!("<p>Impacted: {}</p>", escape(&alert.impacted.join(", ")))
    };
    let state_line = match (&alert.acknowledged_by, alert.resolved_at) {
        (Some(by), _) => format!(
            "<p class=\"muted\">Already acknowledged by {}.</p>",
            escape(by)
        ),
        (None, Some(_)) => "<p class=\"muted\">It is resolved.</p>".to_owned(),
        (None, None) => String::new(),
    };
    page(
        StatusCode::OK,
        &format!("Alert #{id}"),
        &format!(
            "<p><strong>{service}</strong> is {status} ({severity}, rule <code>{rule}</code>).</p>\
             {impacted}{state_line}\
             <form method=\"post\" action=\"/ack/{id}?exp={exp}&amp;sig={sig}\">\
             <p><label>Your name <input name=\"by\" maxlength=\"200\"></label></p>\
             <button type=\"submit\">Acknowledge</button></form>\
             <p class=\"muted\">Acknowledging stops its reminders and escalation.</p>",
            service = escape(&alert.service),
            status = escape(&alert.status),
            severity = escape(&alert.severity),
            rule = escape(&alert.rule),
            sig = escape(&sig),
        ),
    )
}

/// `POST /ack/{id}`: acknowledges.
pub(crate) async fn acknowledge(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<LinkParams>,
    body: axum::body::Bytes,
) -> Response {
    let (id, _, _) = match check(&state, &id, &params) {
        Ok(checked) => checked,
        Err(page) => return *page,
    };
    let by = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "by")
        .map(|(_, v)| v.into_owned())
        .map(|b| b.trim().chars().take(200).collect::<String>())
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| "a person, through an acknowledgement link".to_owned());
    let Some(alerts) = state.alerts() else {
        return page(
            StatusCode::CONFLICT,
            "Link refused",
            "<p>This server runs no alerting.</p>",
        );
    };
    match alerts.acknowledge(id, &by).await {
        Ok(Some(alert)) => page(
            StatusCode::OK,
            "Acknowledged",
            &format!(
                "<p>Alert #{id} ({}) is acknowledged by {}: no more reminders or escalation.</p>",
                escape(&alert.service),
                escape(alert.acknowledged_by.as_deref().unwrap_or(&by))
            ),
        ),
        Ok(None) => page(
            StatusCode::NOT_FOUND,
            "No such alert",
            &format!("<p>No alert has the id {id}.</p>"),
        ),
        Err(e) => page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again",
            &format!("<p>{}</p>", escape(&e.to_string())),
        ),
    }
}
