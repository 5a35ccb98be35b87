//! Everything in front of `/mcp`, in order: the per-address rate limit (before the token is
//! looked at), bearer authentication, the body size limit (413), the 401 for a refused token
//! (named with the tool it asked for), JSON-RPC well-formedness (400) and the scope of the tool or
//! resource asked for (403 `insufficient_scope`). Every refusal except malformed JSON is traced,
//! and so are rmcp's own Host/Origin refusals behind the gate.

use crate::metrics::Refusal;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use mlops_auth::{Principal, scopes};
use mlops_engine::trace::{NewTraceEvent, Outcome};
use serde_json::{Value, json};

use crate::app::App;
use crate::jsonrpc;

/// Principal recorded for requests that could not be authenticated.
pub(super) const ANONYMOUS: &str = "anonymous";

/// What the gate needs besides the app.
#[derive(Clone)]
pub struct Gate {
    pub app: App,
    /// RFC 9728 metadata URL, named in every challenge.
    pub metadata_url: Arc<str>,
}

pub(super) fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// The JSON-RPC method, the tool or resource it names, and the arguments, for checks and traces.
pub(super) struct Described {
    pub method: String,
    pub action: String,
    pub arguments: Value,
}

fn describe(msg: &Value) -> Described {
    let method = msg
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("http.request")
        .to_owned();
    let params = msg.get("params");
    let (action, arguments) = match method.as_str() {
        "tools/call" => (
            params
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("tools/call")
                .to_owned(),
            params
                .and_then(|p| p.get("arguments"))
                .cloned()
                .unwrap_or_else(|| json!({})),
        ),
        "resources/read" => (
            "resources/read".to_owned(),
            json!({ "uri": params.and_then(|p| p.get("uri")).cloned().unwrap_or(Value::Null) }),
        ),
        other => (other.to_owned(), json!({})),
    };
    Described {
        method,
        action,
        arguments,
    }
}

pub(super) fn error_json(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

pub(super) fn with_header(
    mut response: Response,
    name: header::HeaderName,
    value: &str,
) -> Response {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, v);
    }
    response
}

/// The connection's address (set by the server loop).
pub(super) fn peer(req: &Request) -> Option<SocketAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr)
}

/// 429 with `Retry-After` in whole seconds.
pub(super) fn too_many(reason: &str, retry_after: std::time::Duration) -> Response {
    with_header(
        error_json(StatusCode::TOO_MANY_REQUESTS, "rate_limited", reason),
        header::RETRY_AFTER,
        &retry_after.as_secs().max(1).to_string(),
    )
}

/// At most `max` characters of `s`, for names an unauthenticated caller chose.
fn bounded(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}

/// What an unauthenticated request leaves in the trace: its method, the tool or resource it
/// named (cut to 64 characters), its body size and address, never its arguments, so anonymous
/// callers cannot grow the store by what they send.
fn anonymous_summary(d: &Described, body_bytes: usize, peer: Option<SocketAddr>) -> Described {
    Described {
        method: d.method.clone(),
        action: bounded(&d.action, 64),
        arguments: json!({
            "method": bounded(&d.method, 64),
            "body_bytes": body_bytes,
            "address": peer.map(|p| p.ip().to_string()),
        }),
    }
}

fn quoted(s: &str) -> String {
    s.replace(['"', '\\'], "'")
}

impl Gate {
    pub(super) async fn refuse(
        &self,
        started: Instant,
        principal: &str,
        d: &Described,
        kind: Refusal,
        reason: String,
    ) {
        let tool = (d.method == "tools/call").then_some(d.action.as_str());
        self.app.metrics().refused(kind, tool);
        let elapsed = i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX);
        let event = NewTraceEvent::new(
            uuid::Uuid::new_v4().to_string(),
            principal,
            &d.action,
            &d.arguments,
            Outcome::Refused,
            reason,
            elapsed,
        );
        self.app.trace(event).await;
    }

    pub(super) fn unauthorized(&self, reason: &str, token_present: bool) -> Response {
        // RFC 6750 §3: no error code when the request carried no credentials. The scope named is
        // what a first call needs, never approver rights: a client asks for that and steps up on
        // a 403 `insufficient_scope`.
        let mut challenge = format!(
            "Bearer resource_metadata=\"{}\", scope=\"{}\"",
            self.metadata_url,
            scopes::FIRST_CALL.join(" ")
        );
        if token_present {
            challenge.push_str(&format!(
                ", error=\"invalid_token\", error_description=\"{}\"",
                quoted(reason)
            ));
        }
        with_header(
            error_json(StatusCode::UNAUTHORIZED, "invalid_token", reason),
            header::WWW_AUTHENTICATE,
            &challenge,
        )
    }

    pub(super) fn insufficient_scope(&self, scope: &str, reason: &str) -> Response {
        let challenge = format!(
            "Bearer error=\"insufficient_scope\", scope=\"{scope}\", resource_metadata=\"{}\", error_description=\"{}\"",
            self.metadata_url,
            quoted(reason)
        );
        with_header(
            error_json(StatusCode::FORBIDDEN, "insufficient_scope", reason),
            header::WWW_AUTHENTICATE,
            &challenge,
        )
    }

    /// The 429 for a connection address over its quota (checked before the token).
    pub(super) async fn address_limited(
        &self,
        peer: Option<SocketAddr>,
        started: Instant,
        d: &Described,
    ) -> Option<Response> {
        let ip = peer?.ip();
        let quota = self.app.addresses().check(ip).err()?;
        let reason = quota.to_string();
        if self.app.address_refused(ip) {
            let elapsed = i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX);
            let event = NewTraceEvent::new(
                uuid::Uuid::new_v4().to_string(),
                ANONYMOUS,
                &d.action,
                &json!({ "address": ip.to_string() }),
                Outcome::Refused,
                format!(
                    "{reason}; further refusals of this address this minute are counted in \
                     mlops_refusals_total, not traced"
                ),
                elapsed,
            );
            self.app.trace(event).await;
        }
        Some(too_many(&reason, quota.retry_after))
    }

    /// The scope the request needs beyond authentication, if the principal lacks it.
    fn missing_scope(&self, principal: &Principal, d: &Described) -> Option<(String, String)> {
        let needed = match d.method.as_str() {
            "tools/call" => self.app.policy().get(&d.action)?.scope,
            "resources/read" | "resources/list" => scopes::MODELS_READ,
            _ => return None,
        };
        (!principal.has_scope(needed)).then(|| {
            let what = if d.method == "tools/call" {
                format!("calling `{}`", d.action)
            } else {
                d.method.clone()
            };
            (
                needed.to_owned(),
                format!(
                    "{what} requires the scope `{needed}`, which `{}` does not have",
                    principal.subject
                ),
            )
        })
    }
}

pub async fn gate(State(gate): State<Gate>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let app = &gate.app;
    let unknown = Described {
        method: "http.request".into(),
        action: "http.request".into(),
        arguments: json!({}),
    };

    let address = peer(&req);
    if let Some(refusal) = gate.address_limited(address, started, &unknown).await {
        return refusal;
    }

    let token = bearer(&req).map(str::to_owned);
    let verdict = match &token {
        None => Err("no bearer token; send `Authorization: Bearer <token>`".to_owned()),
        Some(t) => app.verifier().verify(t).await.map_err(|e| e.to_string()),
    };
    let who = verdict
        .as_ref()
        .map_or(ANONYMOUS, |p| p.subject.as_str())
        .to_owned();

    let (mut parts, body) = req.into_parts();
    let limit = app.config().http.max_body_bytes;
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        let reason = format!("the request body is larger than {limit} bytes");
        gate.refuse(started, &who, &unknown, Refusal::Request, reason.clone())
            .await;
        return error_json(StatusCode::PAYLOAD_TOO_LARGE, "request_too_large", &reason);
    };
    // Parsed once, for the checks below and for the trace.
    let parsed = jsonrpc::parse(&bytes);
    let described = describe(parsed.as_ref().unwrap_or(&Value::Null));
    let principal = match verdict {
        Ok(p) => p,
        Err(reason) => {
            gate.refuse(
                started,
                ANONYMOUS,
                &anonymous_summary(&described, bytes.len(), address),
                Refusal::Auth,
                bounded(&format!("authentication failed: {reason}"), 300),
            )
            .await;
            return gate.unauthorized(&reason, token.is_some());
        }
    };

    if parts.method == http::Method::POST
        && let Err(error) = parsed
            .as_ref()
            .map_err(Clone::clone)
            .and_then(jsonrpc::check_message)
    {
        return (StatusCode::BAD_REQUEST, axum::Json(error)).into_response();
    }
    if let Some((scope, reason)) = gate.missing_scope(&principal, &described) {
        gate.refuse(
            started,
            &principal.subject,
            &described,
            Refusal::Scope,
            reason.clone(),
        )
        .await;
        return gate.insufficient_scope(&scope, &reason);
    }

    let subject = principal.subject.clone();
    parts.extensions.insert(principal);
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    // Past the gate only rmcp's Host/Origin allow-lists answer 403; trace those refusals too.
    if response.status() == StatusCode::FORBIDDEN {
        gate.refuse(
            started,
            &subject,
            &described,
            Refusal::Request,
            "the Host or Origin header is not allowed".into(),
        )
        .await;
    }
    response
}
