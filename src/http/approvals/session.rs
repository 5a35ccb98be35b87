//! Signing in and out of the approval page: the session cookie, its CSRF token, and the
//! approver a session stands for.

use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac as _;
use mlops_auth::{Principal, scopes};
use mlops_engine::approver_session as sessions;
use mlops_engine::mac::hmac_sha256;
use mlops_engine::trace::{NewTraceEvent, Outcome};
use serde::Deserialize;

use crate::app::App;

use super::*;

/// The session cookie over plain http (scoped to the page's path).
pub(super) const COOKIE: &str = "mlops_approver";

/// The session cookie over https: the browser keeps it only if it is `Secure`, for this host
/// and path `/`, so no sibling host or plain-http page can plant or read it.
pub(super) const HOST_COOKIE: &str = "__Host-mlops_approver";

pub(super) fn key(app: &App) -> Vec<u8> {
    app.csrf_key().to_vec()
}

/// The CSRF token of a session: HMAC-SHA256 of the session token.
pub(super) fn csrf_for(app: &App, session: &str) -> String {
    let mut mac = hmac_sha256(&key(app));
    mac.update(session.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

pub(super) fn csrf_ok(app: &App, session: &str, sent: &str) -> bool {
    let Ok(tag) = URL_SAFE_NO_PAD.decode(sent) else {
        return false;
    };
    let mut mac = hmac_sha256(&key(app));
    mac.update(session.as_bytes());
    mac.verify_slice(&tag).is_ok()
}

pub(super) fn cookie_name(app: &App) -> &'static str {
    if app.config().served_over_https() {
        HOST_COOKIE
    } else {
        COOKIE
    }
}

pub(super) fn session_id(app: &App, headers: &HeaderMap) -> Option<String> {
    let name = cookie_name(app);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// The principal a session stands for, on the web channel.
pub(super) fn principal_of(session: &sessions::ApproverSession) -> Principal {
    let mut p = Principal::new(&session.subject, session.scopes.iter().cloned(), "web");
    p.models = session.models.clone();
    p.expires_at = Some(session.expires_at.timestamp());
    p
}

/// The signed-in approver and the session id, or why not.
pub(super) async fn approver(
    app: &App,
    headers: &HeaderMap,
) -> Result<(Principal, String), String> {
    let id = session_id(app, headers).ok_or_else(|| "sign in first".to_owned())?;
    let session = app
        .store()
        .session(&sessions::hash_id(&id), chrono::Utc::now())
        .await
        .map_err(|e| format!("sessions cannot be read right now ({e})"))?
        .ok_or_else(|| "your session has ended; sign in again".to_owned())?;
    Ok((principal_of(&session), id))
}

/// The `Set-Cookie` value that gives the browser session `id` (or, with `None`, removes it).
pub(super) fn session_cookie(app: &App, id: Option<&str>, max_age: i64) -> String {
    let attributes = if app.config().served_over_https() {
        "HttpOnly; SameSite=Strict; Secure; Path=/"
    } else {
        "HttpOnly; SameSite=Strict; Path=/approvals"
    };
    format!(
        "{}={}; {attributes}; Max-Age={max_age}",
        cookie_name(app),
        id.unwrap_or("")
    )
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    token: String,
}

/// Records a sign-in or sign-out on the page in the trace.
pub(super) async fn trace_session(
    app: &App,
    who: &str,
    action: &str,
    outcome: Outcome,
    why: String,
) {
    let args = serde_json::json!({});
    app.trace(NewTraceEvent::new(
        uuid::Uuid::new_v4().to_string(),
        who,
        action,
        &args,
        outcome,
        why,
        0,
    ))
    .await;
}

/// Exchanges a token with `promotion:approve` for a session; the token itself is not kept.
pub(super) async fn login(State(app): State<App>, Form(form): Form<LoginForm>) -> Response {
    if app.config().promotion.oidc.is_some() {
        let why = "sign in with the identity provider: pasted tokens are off when it is configured";
        trace_session(
            &app,
            "anonymous",
            "approvals.sign_in",
            Outcome::Refused,
            why.into(),
        )
        .await;
        return sign_in_page(&app, Some(why), StatusCode::FORBIDDEN);
    }
    let token = form.token.trim();
    let who = match app.verifier().verify(token).await {
        Ok(p) if p.has_scope(scopes::PROMOTION_APPROVE) => p,
        refused => {
            let (subject, why) = match refused {
                Ok(p) => {
                    let why = format!("`{}` does not have the scope promotion:approve", p.subject);
                    (p.subject, why)
                }
                Err(e) => (
                    "anonymous".to_owned(),
                    format!("the token is not valid: {e}"),
                ),
            };
            trace_session(
                &app,
                &subject,
                "approvals.sign_in",
                Outcome::Refused,
                why.clone(),
            )
            .await;
            return sign_in_page(&app, Some(&why), StatusCode::UNAUTHORIZED);
        }
    };
    open_session(&app, &who, "token").await
}

/// Opens a server-side session for `who` (signed in by `how`) and answers with its cookie and
/// a redirect to the requests, or why not.
pub(super) async fn open_session(app: &App, who: &Principal, how: &str) -> Response {
    let now = chrono::Utc::now();
    let lifetime = i64::try_from(app.config().promotion.session_secs).unwrap_or(i64::MAX);
    let mut ends = now.timestamp().saturating_add(lifetime);
    if let Some(exp) = who.expires_at {
        ends = ends.min(exp);
    }
    let ends = chrono::DateTime::from_timestamp(ends, 0).unwrap_or(now);
    let (session, id) = sessions::ApproverSession::open(
        &who.subject,
        who.scopes.iter().cloned().collect(),
        who.models.clone(),
        now,
        ends,
    );
    if let Err(e) = app.store().create_session(&session).await {
        tracing::error!(error = %e, "approver session not stored");
        return refused(
            "the session could not be stored; try again",
            StatusCode::SERVICE_UNAVAILABLE,
        );
    }
    trace_session(
        app,
        &who.subject,
        "approvals.sign_in",
        Outcome::Ok,
        format!(
            "session until {} (signed in with a {how})",
            ends.format("%Y-%m-%d %H:%M UTC")
        ),
    )
    .await;
    let mut response = Redirect::to("/approvals").into_response();
    let cookie = session_cookie(app, Some(&id), (ends - now).num_seconds().max(0));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// Ends the session in the store (so a copied cookie stops working too) and in the browser.
pub(super) async fn logout(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Ok((who, id)) = approver(&app, &headers).await {
        match app.store().revoke_session(&sessions::hash_id(&id)).await {
            Ok(_) => {
                trace_session(
                    &app,
                    &who.subject,
                    "approvals.sign_out",
                    Outcome::Ok,
                    String::new(),
                )
                .await;
            }
            Err(e) => tracing::error!(error = %e, "approver session not revoked"),
        }
    }
    let mut response = Redirect::to("/approvals").into_response();
    if let Ok(v) = HeaderValue::from_str(&session_cookie(&app, None, 0)) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}
