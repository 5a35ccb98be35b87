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

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use mlops_auth::{Principal, scopes};
use mlops_engine::approvals::ApprovalError;
use mlops_engine::approver_session as sessions;
use mlops_engine::promotion::{Decision, Promotion, PromotionState};
use mlops_engine::trace::{NewTraceEvent, Outcome};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::app::App;

/// The session cookie over plain http (scoped to the page's path).
const COOKIE: &str = "mlops_approver";
/// The session cookie over https: the browser keeps it only if it is `Secure`, for this host
/// and path `/`, so no sibling host or plain-http page can plant or read it.
const HOST_COOKIE: &str = "__Host-mlops_approver";

/// Counts every request against the per-address quota (`limits.per_address_*`), as the MCP
/// endpoint does, so sign-in and callbacks cannot be hammered; a refusal is 429 and traced.
async fn limit(
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
        return super::gate::too_many(&reason, quota.retry_after);
    }
    next.run(req).await
}

/// The page's style; the CSP allows exactly this stylesheet by its hash (no inline script,
/// no other style).
const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem}\
.msg{padding:.5rem;background:#fff3cd}.err{padding:.5rem;background:#f8d7da}\
form{display:inline-block;margin-right:1rem}";

/// The Content-Security-Policy of every page: nothing loads or runs but the page's own style,
/// forms post only back here, and no other site may frame it.
fn content_security_policy() -> String {
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
async fn guard(
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
fn same_origin(origin: Option<&str>, host: Option<&str>) -> bool {
    let (Some(origin), Some(host)) = (origin, host) else {
        return false;
    };
    origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .is_some_and(|rest| rest.eq_ignore_ascii_case(host))
}

fn secure(mut response: Response) -> Response {
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
        .route_layer(axum::middleware::from_fn_with_state(app.clone(), limit))
        .route_layer(axum::middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// HTML-escapes text.
fn esc(text: &str) -> String {
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

/// Markdown to HTML with only inert content ([`super::safe_markdown`]).
fn markdown(md: &str) -> String {
    super::safe_markdown::render(md)
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} · mlops-mcp</title>\
         <style>{STYLE}</style></head><body>{body}</body></html>",
        esc(title)
    )
}

fn key(app: &App) -> Vec<u8> {
    app.csrf_key().to_vec()
}

/// The CSRF token of a session: HMAC-SHA256 of the session token.
fn csrf_for(app: &App, session: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key(app))
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(session.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

fn csrf_ok(app: &App, session: &str, sent: &str) -> bool {
    let Ok(tag) = URL_SAFE_NO_PAD.decode(sent) else {
        return false;
    };
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key(app))
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(session.as_bytes());
    mac.verify_slice(&tag).is_ok()
}

fn cookie_name(app: &App) -> &'static str {
    if app.config().served_over_https() {
        HOST_COOKIE
    } else {
        COOKIE
    }
}

fn session_id(app: &App, headers: &HeaderMap) -> Option<String> {
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
fn principal_of(session: &sessions::ApproverSession) -> Principal {
    let mut p = Principal::new(&session.subject, session.scopes.iter().cloned(), "web");
    p.models = session.models.clone();
    p.expires_at = Some(session.expires_at.timestamp());
    p
}

/// The signed-in approver and the session id, or why not.
async fn approver(app: &App, headers: &HeaderMap) -> Result<(Principal, String), String> {
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
fn session_cookie(app: &App, id: Option<&str>, max_age: i64) -> String {
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

fn sign_in_page(message: Option<&str>, status: StatusCode) -> Response {
    let msg = message
        .map(|m| format!("<p class=\"err\" id=\"message\">{}</p>", esc(m)))
        .unwrap_or_default();
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

fn refused(message: &str, status: StatusCode) -> Response {
    let body = format!(
        "<h1>Refused</h1><p class=\"err\" id=\"message\">{}</p><p><a href=\"/approvals\">Back to the requests</a></p>",
        esc(message)
    );
    (status, Html(page("Refused", &body))).into_response()
}

async fn index(State(app): State<App>, headers: HeaderMap) -> Response {
    let Ok((who, _)) = approver(&app, &headers).await else {
        return sign_in_page(None, StatusCode::OK);
    };
    let now = chrono::Utc::now();
    let pending: Vec<Promotion> = match app
        .store()
        .list_promotions(Some(PromotionState::PendingApproval), 200)
        .await
    {
        Ok(list) => list
            .into_iter()
            .filter(|p| who.may_access_model(&p.model))
            .filter(|p| p.effective_state(now) == PromotionState::PendingApproval)
            .collect(),
        Err(e) => {
            return refused(
                &format!("the store failed: {e}"),
                StatusCode::INTERNAL_SERVER_ERROR,
            );
        }
    };
    let mut rows = String::new();
    for p in &pending {
        rows.push_str(&format!(
            "<tr><td><a class=\"request\" href=\"/approvals/{id}\">{id}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&p.model),
            esc(&p.candidate_version),
            esc(&p.requested_by),
            p.expires_at.format("%Y-%m-%d %H:%M UTC"),
            id = esc(&p.id),
        ));
    }
    let table = if pending.is_empty() {
        "<p id=\"empty\">No promotion request is waiting for a decision.</p>".to_owned()
    } else {
        format!(
            "<table id=\"requests\"><tr><th>request</th><th>model</th><th>candidate</th><th>requested by</th><th>expires</th></tr>{rows}</table>"
        )
    };
    let body = format!(
        "<h1>Promotion approvals</h1><p>Signed in as <b id=\"who\">{}</b>. \
         <form method=\"post\" action=\"/approvals/logout\"><button>Sign out</button></form></p>{table}",
        esc(&who.subject)
    );
    Html(page("Approvals", &body)).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

/// Records a sign-in or sign-out on the page in the trace.
async fn trace_session(app: &App, who: &str, action: &str, outcome: Outcome, why: String) {
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
async fn login(State(app): State<App>, Form(form): Form<LoginForm>) -> Response {
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
            return sign_in_page(Some(&why), StatusCode::UNAUTHORIZED);
        }
    };
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
        &app,
        &who.subject,
        "approvals.sign_in",
        Outcome::Ok,
        format!("session until {}", ends.format("%Y-%m-%d %H:%M UTC")),
    )
    .await;
    let mut response = Redirect::to("/approvals").into_response();
    let cookie = session_cookie(&app, Some(&id), (ends - now).num_seconds().max(0));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// Ends the session in the store (so a copied cookie stops working too) and in the browser.
async fn logout(State(app): State<App>, headers: HeaderMap) -> Response {
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

/// The resource's Markdown, or a line saying why it is not shown.
async fn section(app: &App, who: &Principal, uri: &str) -> String {
    match mlops_resources::read(app.store(), who, uri).await {
        Ok(r) => markdown(&r.markdown),
        Err(e) => format!("<p>{}</p>", esc(&e.to_string())),
    }
}

async fn detail(State(app): State<App>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let (who, session) = match approver(&app, &headers).await {
        Ok(a) => a,
        Err(why) => return sign_in_page(Some(&why), StatusCode::UNAUTHORIZED),
    };
    let store = app.store();
    let p = match store.promotion(&id).await {
        Ok(Some(p)) if who.may_access_model(&p.model) => p,
        Ok(_) => {
            return refused(
                &format!("promotion request `{id}` is not known"),
                StatusCode::NOT_FOUND,
            );
        }
        Err(e) => {
            return refused(
                &format!("the store failed: {e}"),
                StatusCode::INTERNAL_SERVER_ERROR,
            );
        }
    };
    let champion = store
        .get_model(&p.model)
        .await
        .ok()
        .flatten()
        .and_then(|m| {
            m.aliased(mlops_engine::model::CHAMPION)
                .map(|v| v.version.clone())
        })
        .unwrap_or_else(|| "none".into());
    let request = section(&app, &who, &format!("mlops://promotions/{}", p.id)).await;
    let validation = section(
        &app,
        &who,
        &format!("mlops://validations/{}", p.validation_id),
    )
    .await;
    // The drift report that started the chain: validation → job → drift report.
    let drift_id = match store.validation(&p.validation_id).await {
        Ok(Some(v)) => match v.job_id {
            Some(job) => store
                .get_job(&job)
                .await
                .ok()
                .flatten()
                .and_then(|j| j.drift_report_id),
            None => None,
        },
        _ => None,
    };
    let drift = match &drift_id {
        Some(d) => section(&app, &who, &format!("mlops://drift-reports/{d}")).await,
        None => "<p>No drift report is linked to this candidate's job.</p>".into(),
    };
    let trace = match &p.trace_id {
        Some(t) => section(&app, &who, &format!("mlops://traces/{t}")).await,
        None => String::new(),
    };
    let state = p.effective_state(chrono::Utc::now());
    let csrf = esc(&csrf_for(&app, &session));
    let forms = if state == PromotionState::PendingApproval {
        format!(
            "<form method=\"post\" action=\"/approvals/{id}/approve\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label>Note <input name=\"note\" id=\"note\"></label> <button type=\"submit\" id=\"approve\">Approve</button></form>\
             <form method=\"post\" action=\"/approvals/{id}/deny\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label>Reason <input name=\"reason\" id=\"reason\" required></label> <button type=\"submit\" id=\"deny\">Deny</button></form>",
            id = esc(&p.id)
        )
    } else {
        format!(
            "<p class=\"msg\" id=\"decided\">This request is {}.</p>",
            state.as_str()
        )
    };
    let body = format!(
        "<p><a href=\"/approvals\">All requests</a> · signed in as <b id=\"who\">{who}</b></p>\
         <p>Model <b>{model}</b>: champion <b id=\"champion\">{champion}</b>, candidate <b>{cand}</b>, state <b id=\"state\">{state}</b></p>\
         {forms}{request}<h2>Validation</h2>{validation}<h2>Drift that started the chain</h2>{drift}<h2>Trace</h2>{trace}",
        who = esc(&who.subject),
        model = esc(&p.model),
        champion = esc(&champion),
        cand = esc(&p.candidate_version),
        state = state.as_str(),
    );
    Html(page(&format!("Promotion {}", p.id), &body)).into_response()
}

#[derive(Deserialize)]
struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

async fn decide(
    app: App,
    id: String,
    headers: HeaderMap,
    form: DecisionForm,
    approve: bool,
) -> Response {
    let (who, session) = match approver(&app, &headers).await {
        Ok(a) => a,
        Err(why) => return sign_in_page(Some(&why), StatusCode::UNAUTHORIZED),
    };
    if !csrf_ok(&app, &session, &form.csrf) {
        trace_session(
            &app,
            &who.subject,
            "approvals.csrf",
            Outcome::Refused,
            format!(
                "a decision on {} without the form's CSRF token",
                id.chars().take(64).collect::<String>()
            ),
        )
        .await;
        return refused(
            "the form's CSRF token is missing or wrong; open the request page again and use its buttons",
            StatusCode::FORBIDDEN,
        );
    }
    let decision = if approve {
        Decision::Approve {
            note: form.note.filter(|n| !n.trim().is_empty()),
        }
    } else {
        Decision::Deny {
            reason: form.reason.unwrap_or_default(),
        }
    };
    match crate::decisions::decide_promotion(&app, &who, &id, &decision).await {
        Ok(_) => Redirect::to(&format!("/approvals/{id}")).into_response(),
        Err(ApprovalError::Store(e)) => refused(
            &format!("the store failed: {e}"),
            StatusCode::INTERNAL_SERVER_ERROR,
        ),
        Err(e) => refused(&e.to_string(), StatusCode::FORBIDDEN),
    }
}

async fn approve(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<DecisionForm>,
) -> Response {
    decide(app, id, headers, form, true).await
}

async fn deny(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<DecisionForm>,
) -> Response {
    decide(app, id, headers, form, false).await
}

#[derive(Deserialize)]
struct CallbackBody {
    request_id: String,
    decision: String,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

fn json_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({"error": message}))).into_response()
}

/// `POST /approvals/callback`; every refusal is traced as `approvals.callback` with the
/// approver when known.
async fn callback(State(app): State<App>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    match decide_by_callback(&app, &headers, &body).await {
        Ok(response) => response,
        Err(Refused {
            status,
            message,
            who,
        }) => {
            trace_session(
                &app,
                &who,
                "approvals.callback",
                Outcome::Refused,
                message.clone(),
            )
            .await;
            json_error(status, &message)
        }
    }
}

/// Why a callback was refused, and by whom (when the token was read).
struct Refused {
    status: StatusCode,
    message: String,
    who: String,
}

async fn decide_by_callback(
    app: &App,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, Refused> {
    let mut by = "anonymous".to_owned();
    let Some(var) = app.config().promotion.callback_secret_env.clone() else {
        return Err(Refused {
            status: StatusCode::NOT_FOUND,
            message: "decision callbacks are not configured (promotion.callback_secret_env)"
                .to_owned(),
            who: by.clone(),
        });
    };
    let Some(secret) = std::env::var(&var).ok().filter(|s| !s.is_empty()) else {
        return Err(Refused {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "the callback secret is not set on the server".to_owned(),
            who: by.clone(),
        });
    };
    let header_text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (Some(id), Some(ts), Some(sig)) = (
        header_text(mlops_engine::signing::ID_HEADER),
        header_text(mlops_engine::signing::TIMESTAMP_HEADER).and_then(|t| t.parse::<i64>().ok()),
        header_text(mlops_engine::signing::SIGNATURE_HEADER),
    ) else {
        return Err(Refused {
            status: StatusCode::UNAUTHORIZED,
            message:
                "the callback is not signed (webhook-id, webhook-timestamp, webhook-signature)"
                    .to_owned(),
            who: by.clone(),
        });
    };
    if let Err(e) =
        mlops_engine::signing::verify(&secret, &id, ts, body, &sig, chrono::Utc::now().timestamp())
    {
        return Err(Refused {
            status: StatusCode::UNAUTHORIZED,
            message: format!("the callback's signature is not accepted: {e}"),
            who: by.clone(),
        });
    }
    let token = header_text("authorization")
        .and_then(|a| a.strip_prefix("Bearer ").map(str::to_owned))
        .unwrap_or_default();
    let mut who = match app.verifier().verify(&token).await {
        Ok(p) => {
            by = p.subject.clone();
            p
        }
        Err(e) => {
            return Err(Refused {
                status: StatusCode::UNAUTHORIZED,
                message: format!("the approver's token is not accepted: {e}"),
                who: by.clone(),
            });
        }
    };
    who.via = "webhook".into();
    let Ok(parsed) = serde_json::from_slice::<CallbackBody>(body) else {
        return Err(Refused { status: StatusCode::BAD_REQUEST, message: "the body must be {\"request_id\", \"decision\": \"approve\"|\"deny\", \"note\"?, \"reason\"?}".to_owned(), who: by.clone() });
    };
    let decision = match parsed.decision.as_str() {
        "approve" => Decision::Approve { note: parsed.note },
        "deny" => Decision::Deny {
            reason: parsed.reason.unwrap_or_default(),
        },
        other => {
            return Err(Refused {
                status: StatusCode::BAD_REQUEST,
                message: format!("unknown decision `{other}`; use approve or deny"),
                who: by.clone(),
            });
        }
    };
    match app.store().record_delivery(&id).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(Refused {
                status: StatusCode::CONFLICT,
                message: "this delivery was already used; a replay decides nothing".to_owned(),
                who: by.clone(),
            });
        }
        Err(e) => {
            return Err(Refused {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                message: format!("the store failed: {e}"),
                who: by.clone(),
            });
        }
    }
    // A refused decision is traced by decide_promotion itself.
    Ok(
        match crate::decisions::decide_promotion(app, &who, &parsed.request_id, &decision).await {
            Ok(view) => (
                StatusCode::OK,
                axum::Json(serde_json::json!({
                    "request_id": view.promotion.id,
                    "state": view.promotion.state.as_str(),
                    "failure_reason": view.promotion.failure_reason,
                })),
            )
                .into_response(),
            Err(ApprovalError::Store(e)) => json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("the store failed: {e}"),
            ),
            Err(e) => json_error(StatusCode::FORBIDDEN, &e.to_string()),
        },
    )
}
