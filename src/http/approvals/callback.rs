//! `POST /approvals/callback`: a decision from an integration, signed like Standard Webhooks
//! and carrying the deciding human's own token.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use mlops_engine::promotion::Decision;
use mlops_engine::promotion_gate::ApprovalError;
use mlops_engine::trace::Outcome;
use serde::Deserialize;

use crate::app::App;

use super::session::*;

#[derive(Deserialize)]
pub(super) struct CallbackBody {
    request_id: String,
    decision: String,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

pub(super) fn json_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({"error": message}))).into_response()
}

/// `POST /approvals/callback`; every refusal is traced as `approvals.callback` with the
/// approver when known.
pub(super) async fn callback(
    State(app): State<App>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
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
pub(super) struct Refused {
    status: StatusCode,
    message: String,
    who: String,
}

pub(super) async fn decide_by_callback(
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
