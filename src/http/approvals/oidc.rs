//! Approvers sign in with the identity provider (`[promotion.oidc]`): the page is a confidential
//! OpenID Connect client using authorization code + PKCE.
//!
//! - `GET /approvals/oidc/start` sends the browser to the provider (`prompt=login`: the person
//!   authenticates now) with a fresh `state`, `nonce` and PKCE verifier, kept in a short-lived cookie signed with the page's key (`SameSite=Lax`,
//!   so it comes back with the provider's redirect; any replica can check it).
//! - `GET /approvals/oidc/callback` checks `state`, the provider's `iss` (RFC 9207) when it sends
//!   one (it must when its metadata says it does), exchanges the code with the client secret and
//!   the verifier, and verifies the ID token: signature by the provider's JWKS, `iss`, `aud` =
//!   the client, expiry, and `nonce`. A person whose approver claim holds one of the configured
//!   values gets the same server-side session as a pasted token would, with `promotion:approve`;
//!   anyone else is refused. Every outcome is traced.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac as _;
use mlops_auth::jwks::{HttpKeySource, JwksCache};
use mlops_auth::{ClaimMapping, Principal, scopes};
use mlops_engine::mac::hmac_sha256;
use mlops_engine::trace::Outcome;
use rand::Rng as _;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::config::ApproverOidcConfig;

use super::*;

/// The cookie carrying a sign-in in progress.
const FLOW_COOKIE: &str = "mlops_oidc";
/// How long a sign-in may take at the provider.
const FLOW_SECS: i64 = 600;
/// What an approver's session may do on the page.
const APPROVER_SCOPES: [&str; 3] = [
    scopes::PROMOTION_APPROVE,
    scopes::MODELS_READ,
    scopes::VALIDATION_READ,
];

/// The provider's endpoints, from its discovery document.
struct Provider {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    sends_iss: bool,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

async fn discover(issuer: &str) -> Result<Provider, String> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let doc: Value = client()
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("the identity provider cannot be reached ({e})"))?
        .json()
        .await
        .map_err(|_| "the identity provider's metadata is not JSON".to_owned())?;
    let text = |k: &str| {
        doc.get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("the identity provider's metadata has no `{k}`"))
    };
    let provider = Provider {
        issuer: text("issuer")?,
        authorization_endpoint: text("authorization_endpoint")?,
        token_endpoint: text("token_endpoint")?,
        jwks_uri: text("jwks_uri")?,
        sends_iss: doc
            .get("authorization_response_iss_parameter_supported")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    if provider.issuer != issuer {
        return Err(format!(
            "the identity provider says its issuer is {:?}, not {issuer:?}",
            provider.issuer
        ));
    }
    Ok(provider)
}

fn settings(app: &App) -> Option<(&ApproverOidcConfig, String)> {
    let o = app.config().promotion.oidc.as_ref()?;
    let issuer = o
        .issuer
        .clone()
        .unwrap_or_else(|| app.config().auth.issuer.clone());
    Some((o, issuer))
}

fn redirect_uri(app: &App) -> String {
    format!(
        "{}/oidc/callback",
        app.config().approval_page().trim_end_matches('/')
    )
}

fn random() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn sign(app: &App, payload: &str) -> String {
    let mut mac = hmac_sha256(&session::key(app));
    mac.update(b"oidc-flow:");
    mac.update(payload.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// The sign-in in progress, from its signed cookie.
fn flow(app: &App, headers: &HeaderMap) -> Option<Map<String, Value>> {
    let value = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == FLOW_COOKIE)
        .map(|(_, v)| v.to_owned())?;
    let (payload, tag) = value.split_once('.')?;
    let mut mac = hmac_sha256(&session::key(app));
    mac.update(b"oidc-flow:");
    mac.update(payload.as_bytes());
    mac.verify_slice(&URL_SAFE_NO_PAD.decode(tag).ok()?).ok()?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let Value::Object(map) = serde_json::from_slice(&bytes).ok()? else {
        return None;
    };
    let exp = map.get("exp").and_then(Value::as_i64)?;
    (exp > chrono::Utc::now().timestamp()).then_some(map)
}

fn flow_cookie(value: &str, max_age: i64) -> String {
    format!("{FLOW_COOKIE}={value}; HttpOnly; SameSite=Lax; Path=/approvals; Max-Age={max_age}")
}

/// `GET /approvals/oidc/start`: to the provider.
pub(super) async fn start(State(app): State<App>) -> Response {
    let Some((o, issuer)) = settings(&app) else {
        return refused(
            "sign-in with an identity provider is not configured",
            StatusCode::NOT_FOUND,
        );
    };
    if std::env::var(&o.client_secret_env).map_or(true, |v| v.is_empty()) {
        return refused(
            &format!(
                "the approval page's client secret ({}) is not set on this server; tell an operator",
                o.client_secret_env
            ),
            StatusCode::SERVICE_UNAVAILABLE,
        );
    }
    let provider = match discover(&issuer).await {
        Ok(p) => p,
        Err(why) => return refused(&why, StatusCode::BAD_GATEWAY),
    };
    let (state, nonce, verifier) = (random(), random(), random());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let exp = chrono::Utc::now().timestamp() + FLOW_SECS;
    let payload = URL_SAFE_NO_PAD.encode(
        json!({"state": state, "nonce": nonce, "verifier": verifier, "exp": exp}).to_string(),
    );
    let cookie = flow_cookie(&format!("{payload}.{}", sign(&app, &payload)), FLOW_SECS);
    let mut scope = vec!["openid".to_owned()];
    scope.extend(o.scopes.iter().cloned());
    let Ok(mut url) = reqwest::Url::parse(&provider.authorization_endpoint) else {
        return refused(
            "the identity provider's authorization endpoint is not a URL",
            StatusCode::BAD_GATEWAY,
        );
    };
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &o.client_id)
        .append_pair("redirect_uri", &redirect_uri(&app))
        .append_pair("scope", &scope.join(" "))
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        // Approving is a human's act: the provider authenticates the person now, not by a
        // session someone else may have left open in this browser.
        .append_pair("prompt", "login");
    let mut response = Redirect::to(url.as_str()).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

#[derive(Deserialize)]
pub(super) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

/// Exchanges the code and verifies the ID token; the verified claims.
async fn verified_claims(
    app: &App,
    o: &ApproverOidcConfig,
    provider: &Provider,
    code: &str,
    flow: &Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    let secret = std::env::var(&o.client_secret_env)
        .map_err(|_| "the page's client secret is not set".to_owned())?;
    let verifier = flow.get("verifier").and_then(Value::as_str).unwrap_or("");
    let mut form = reqwest::Url::parse("form:").map_err(|e| e.to_string())?;
    form.query_pairs_mut()
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", &redirect_uri(app))
        .append_pair("code_verifier", verifier);
    let response = client()
        .post(&provider.token_endpoint)
        .basic_auth(&o.client_id, Some(secret))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(form.query().unwrap_or_default().to_owned())
        .send()
        .await
        .map_err(|e| format!("the identity provider cannot be reached ({e})"))?;
    if !response.status().is_success() {
        return Err(format!(
            "the identity provider refused the code ({})",
            response.status()
        ));
    }
    let tokens: Value = response
        .json()
        .await
        .map_err(|_| "the identity provider's answer is not JSON".to_owned())?;
    let id_token = tokens
        .get("id_token")
        .and_then(Value::as_str)
        .ok_or("the identity provider sent no ID token")?;
    let keys = JwksCache::new(
        Arc::new(HttpKeySource::new(&provider.jwks_uri)?),
        Duration::from_secs(0),
        Duration::from_secs(60),
    );
    let claims = mlops_auth::id_token::verify(
        id_token,
        &keys,
        &provider.issuer,
        &o.client_id,
        app.config().auth.leeway_secs,
    )
    .await
    .map_err(|e| format!("the ID token does not verify: {e}"))?;
    if claims.get("nonce") != flow.get("nonce") {
        return Err("the ID token's nonce is not this sign-in's".into());
    }
    Ok(claims)
}

/// Whether the claims make the person an approver, by the configured claim and values.
fn is_approver(o: &ApproverOidcConfig, claims: &Map<String, Value>) -> bool {
    let mut roles_only = claims.clone();
    roles_only.remove("scope");
    roles_only.remove("scp");
    let mapping = ClaimMapping {
        role_claims: vec![o.approver_claim.clone()],
        role_scopes: o
            .approver_values
            .iter()
            .map(|v| (v.clone(), vec![scopes::PROMOTION_APPROVE.to_owned()]))
            .collect(),
        ..ClaimMapping::default()
    };
    mapping
        .scopes(&roles_only)
        .contains(scopes::PROMOTION_APPROVE)
}

/// `GET /approvals/oidc/callback`: back from the provider.
pub(super) async fn callback(
    State(app): State<App>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let Some((o, issuer)) = settings(&app) else {
        return refused(
            "sign-in with an identity provider is not configured",
            StatusCode::NOT_FOUND,
        );
    };
    let fail = |why: String, status: StatusCode| {
        let app = app.clone();
        async move {
            trace_session(
                &app,
                "anonymous",
                "approvals.sign_in",
                Outcome::Refused,
                why.clone(),
            )
            .await;
            let mut response = refused(&why, status);
            if let Ok(v) = HeaderValue::from_str(&flow_cookie("", 0)) {
                response.headers_mut().insert(header::SET_COOKIE, v);
            }
            response
        }
    };
    let Some(flow) = flow(&app, &headers) else {
        return fail(
            "this sign-in was not started here or took too long; sign in again".into(),
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    if query.state.as_deref() != flow.get("state").and_then(Value::as_str) {
        return fail(
            "the sign-in's state does not match; sign in again".into(),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    if let Some(error) = &query.error {
        let error: String = error.chars().take(64).collect();
        return fail(
            format!("the identity provider refused the sign-in ({error:?})"),
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
    let provider = match discover(&issuer).await {
        Ok(p) => p,
        Err(why) => return fail(why, StatusCode::BAD_GATEWAY).await,
    };
    let iss_ok = match &query.iss {
        Some(iss) => *iss == provider.issuer,
        None => !provider.sends_iss,
    };
    if !iss_ok {
        return fail(
            "the answer does not come from the configured identity provider (iss)".into(),
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
    let code = query.code.clone().unwrap_or_default();
    let claims = match verified_claims(&app, o, &provider, &code, &flow).await {
        Ok(c) => c,
        Err(why) => return fail(why, StatusCode::UNAUTHORIZED).await,
    };
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .map(mlops_auth::normalise_subject)
        .unwrap_or_default();
    if subject.is_empty() {
        return fail(
            "the ID token names no subject".into(),
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
    if !is_approver(o, &claims) {
        let why = format!(
            "`{subject}` is not an approver: the identity provider's `{}` claim names none of the approver groups",
            o.approver_claim
        );
        trace_session(
            &app,
            &subject,
            "approvals.sign_in",
            Outcome::Refused,
            why.clone(),
        )
        .await;
        return refused(&why, StatusCode::FORBIDDEN);
    }
    let mut who = Principal::new(&subject, APPROVER_SCOPES, "web");
    who.expires_at = None;
    let response = open_session(&app, &who, "identity provider").await;
    // The session cookie is SameSite=Strict, which a browser does not send on a redirect that a
    // cross-site navigation (this one, from the provider) started: a page of ours moves on.
    let mut page_response = (
        StatusCode::OK,
        Html(page(
            "Signed in",
            &format!(
                "<p id=\"signed-in\">Signed in as <b>{}</b>. <a href=\"/approvals\">Continue to the requests</a>.</p>",
                esc(&subject)
            ),
        )),
    )
        .into_response();
    if !response.status().is_redirection() {
        return response;
    }
    if let Some(cookie) = response.headers().get(header::SET_COOKIE) {
        page_response
            .headers_mut()
            .append(header::SET_COOKIE, cookie.clone());
    }
    page_response
        .headers_mut()
        .insert("refresh", HeaderValue::from_static("0; url=/approvals"));
    if let Ok(v) = HeaderValue::from_str(&flow_cookie("", 0)) {
        page_response.headers_mut().append(header::SET_COOKIE, v);
    }
    page_response
}
