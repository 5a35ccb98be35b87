//! Bearer authentication in front of `/mcp`: no valid token, no MCP. Refusals are traced.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use mlops_tools::trace::{NewTraceEvent, Outcome};
use serde_json::{Value, json};

use crate::app::App;

/// Principal recorded for requests that could not be authenticated.
const ANONYMOUS: &str = "anonymous";

fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// The tool (or method) a refused JSON-RPC body asked for, and its arguments, for the trace.
fn describe(body: &[u8]) -> (String, Value) {
    let Ok(msg) = serde_json::from_slice::<Value>(body) else {
        return ("http.request".into(), json!({}));
    };
    let method = msg
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("http.request");
    if method == "tools/call" {
        let params = msg.get("params");
        let name = params
            .and_then(|p| p.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("tools/call");
        let args = params
            .and_then(|p| p.get("arguments"))
            .cloned()
            .unwrap_or_else(|| json!({}));
        (name.to_owned(), args)
    } else {
        (method.to_owned(), json!({}))
    }
}

fn unauthorized(reason: &str, token_present: bool) -> Response {
    // RFC 6750 §3: no error code when the request carried no credentials.
    let challenge = if token_present {
        format!(
            "Bearer realm=\"mlops-mcp\", error=\"invalid_token\", error_description=\"{}\"",
            reason.replace('"', "'")
        )
    } else {
        "Bearer realm=\"mlops-mcp\"".to_owned()
    };
    let mut response = (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({ "error": "invalid_token", "error_description": reason })),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// Verifies the bearer token and hands the principal to the MCP handler, or answers 401.
pub async fn authenticate(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let token = bearer(&req);
    let verdict = match (token, app.verifier()) {
        (None, _) => Err("no bearer token; send `Authorization: Bearer <token>`".to_owned()),
        (Some(_), None) => Err("this server has no token verifier configured".to_owned()),
        (Some(t), Some(v)) => v.verify(t).map_err(|e| e.to_string()),
    };
    let token_present = token.is_some();
    match verdict {
        Ok(principal) => {
            req.extensions_mut().insert(principal);
            next.run(req).await
        }
        Err(reason) => {
            let limit = app.config().http.max_body_bytes;
            let body =
                axum::body::to_bytes(std::mem::replace(req.body_mut(), Body::empty()), limit)
                    .await
                    .unwrap_or_default();
            let (action, arguments) = describe(&body);
            let elapsed = i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX);
            app.trace(NewTraceEvent::new(
                uuid::Uuid::new_v4().to_string(),
                ANONYMOUS,
                action,
                &arguments,
                Outcome::Refused,
                format!("authentication failed: {reason}"),
                elapsed,
            ))
            .await;
            unauthorized(&reason, token_present)
        }
    }
}
