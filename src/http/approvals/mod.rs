//! The approval page at `/approvals`: a human signs in with a token that has
//! `promotion:approve`, sees the pending promotion requests with their evidence (the request,
//! the validation report, the drift report that started the chain, the trace) and approves or
//! denies. The decision goes through [`crate::decisions::decide_promotion`], so the server's rules hold here
//! as in every channel.
//!
//! Signing in exchanges the token for a session: a random id in an `HttpOnly`,
//! `SameSite=Strict` cookie (`__Host-` prefixed and `Secure` when approvers reach the server over
//! https), of which the store keeps only the SHA-256, so any replica can serve any request. A
//! session ends after `promotion.session_secs` or when its token would have, and sign-out deletes
//! it. Every state-changing form carries a CSRF token, an HMAC of the session id under a key
//! derived from the server's secret; a POST without it, or with another session's, is refused.
//!
//! `POST /approvals/callback` takes a decision from an integration (a chat bot's button, a
//! ticketing system): the body `{"request_id", "decision": "approve"|"deny", "note", "reason"}`
//! signed like Standard Webhooks with the secret named by `promotion.callback_secret_env`, and
//! the deciding human's own token as `Authorization: Bearer`. A bad or stale signature is 401,
//! a replayed delivery id 409, and the decision itself follows the same rules as every channel.

mod callback;
mod oidc;
mod page;
mod safe_markdown;
mod session;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use mlops_engine::trace::{NewTraceEvent, Outcome};
use sha2::{Digest, Sha256};

use crate::app::App;

use self::callback::callback;
use self::page::*;
use self::session::*;

/// Counts every request against the per-address quota (`limits.per_address_*`), as the MCP
/// endpoint does, so sign-in and callbacks cannot be hammered; a refusal is 429 and traced.
pub(super) async fn limit(
    State(app): State<App>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(ip) = peer
        && let Err(quota) = app.addresses().check(ip)
    {
        let reason = quota.to_string();
        if app.address_refused(ip) {
            let path: String = req.uri().path().chars().take(128).collect();
            let args = serde_json::json!({"path": path, "address": ip.to_string()});
            app.trace(NewTraceEvent::new(
                uuid::Uuid::new_v4().to_string(),
                "anonymous",
                "approvals.rate_limited",
                &args,
                Outcome::Refused,
                format!("{reason}; further refusals of this address this minute are not traced"),
                0,
            ))
            .await;
        }
        return crate::http::gate::too_many(&reason, quota.retry_after);
    }
    next.run(req).await
}

/// The page's style; the CSP allows exactly this stylesheet by its hash (no inline script,
/// no other style).
pub(super) const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem}\
.msg{padding:.5rem;background:#fff3cd}.err{padding:.5rem;background:#f8d7da}\
form{display:inline-block;margin-right:1rem}";

/// The Content-Security-Policy of every page: nothing loads or runs but the page's own style,
/// forms post only back here, and no other site may frame it.
pub(super) fn content_security_policy() -> String {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'none'; script-src 'none'; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// Security headers on every answer, and the cross-site check of every state-changing POST
/// from a browser: `Sec-Fetch-Site` (when sent) must be `same-origin` or `none`; without it,
/// `Origin` (when sent) must be this server's. Page script cannot set `Sec-Fetch-Site`, and it is
/// the one to trust when both are sent: under `Referrer-Policy: no-referrer` Chromium sends
/// `Origin: null` with the page's own forms. The signed callback comes from servers, which send
/// neither.
pub(super) async fn guard(
    State(app): State<App>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if req.method() == axum::http::Method::POST && req.uri().path() != "/approvals/callback" {
        let headers = req.headers();
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
        let cross = match headers.get("sec-fetch-site").map(|v| v.to_str().ok()) {
            Some(site) => !matches!(site, Some("same-origin" | "none")),
            None => headers
                .get(header::ORIGIN)
                .map(|v| v.to_str().ok())
                .is_some_and(|origin| !same_origin(origin, host)),
        };
        if cross {
            let why = "a form on another site cannot act here; open the approval page itself";
            let path: String = req.uri().path().chars().take(128).collect();
            trace_session(
                &app,
                "anonymous",
                "approvals.cross_site",
                Outcome::Refused,
                format!("{why} ({path})"),
            )
            .await;
            return secure(refused(why, StatusCode::FORBIDDEN));
        }
    }
    secure(next.run(req).await)
}

/// Whether `origin` is `http(s)://` followed by the request's own `Host`.
pub(super) fn same_origin(origin: Option<&str>, host: Option<&str>) -> bool {
    let (Some(origin), Some(host)) = (origin, host) else {
        return false;
    };
    origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .is_some_and(|rest| rest.eq_ignore_ascii_case(host))
}

pub(super) fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", content_security_policy()),
        ("x-frame-options", "DENY".to_owned()),
        ("cache-control", "no-store".to_owned()),
        ("referrer-policy", "no-referrer".to_owned()),
        ("x-content-type-options", "nosniff".to_owned()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    response
}

/// The page's routes; `app` verifies tokens and decides.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/approvals", get(index))
        .route("/approvals/login", post(login))
        .route("/approvals/logout", post(logout))
        .route("/approvals/{id}", get(detail))
        .route("/approvals/{id}/approve", post(approve))
        .route("/approvals/{id}/deny", post(deny))
        .route("/approvals/callback", post(callback))
        .route("/approvals/oidc/start", get(oidc::start))
        .route("/approvals/oidc/callback", get(oidc::callback))
        .route_layer(axum::middleware::from_fn_with_state(app.clone(), limit))
        .route_layer(axum::middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// HTML-escapes text.
pub(super) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Markdown to HTML with only inert content ([`safe_markdown`]).
pub(super) fn markdown(md: &str) -> String {
    safe_markdown::render(md)
}

pub(super) fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} · mlops-mcp</title>\
         <style>{STYLE}</style></head><body>{body}</body></html>",
        esc(title)
    )
}

pub(super) fn sign_in_page(app: &App, message: Option<&str>, status: StatusCode) -> Response {
    let msg = message
        .map(|m| format!("<p class=\"err\" id=\"message\">{}</p>", esc(m)))
        .unwrap_or_default();
    if app.config().promotion.oidc.is_some() {
        let body = format!(
            "<h1>Promotion approvals</h1>{msg}<p>Approvers sign in with the identity provider.</p>\
             <p><a id=\"sign-in-oidc\" href=\"/approvals/oidc/start\">Sign in with your identity provider</a></p>"
        );
        return (status, Html(page("Sign in", &body))).into_response();
    }
    let body = format!(
        "<h1>Promotion approvals</h1>{msg}<p>Sign in with a token that has the scope \
         <code>promotion:approve</code> (an operator issues one with <code>mlops-mcp token issue \
         --sub YOUR-NAME --scopes promotion:approve,models:read</code>).</p>\
         <form method=\"post\" action=\"/approvals/login\"><label>Token <input type=\"password\" \
         name=\"token\" id=\"token\" size=\"60\" autocomplete=\"off\"></label> \
         <button type=\"submit\" id=\"sign-in\">Sign in</button></form>"
    );
    (status, Html(page("Sign in", &body))).into_response()
}

pub(super) fn refused(message: &str, status: StatusCode) -> Response {
    let body = format!(
        "<h1>Refused</h1><p class=\"err\" id=\"message\">{}</p><p><a href=\"/approvals\">Back to the requests</a></p>",
        esc(message)
    );
    (status, Html(page("Refused", &body))).into_response()
}
