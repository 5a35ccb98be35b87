//! `POST /v1/models/{model}/records`: rows for drift checks over a time window. Guarded like
//! `/mcp` — per-address limit, bearer token, scope `data:write`, the principal's model grants,
//! its read quota — with its own body limit (`http.max_ingest_bytes`). The body is JSON lines
//! (`application/x-ndjson`) or CSV (`text/csv`), optionally gzip- or zstd-compressed
//! (`Content-Encoding`, [`super::body_encoding`]), every row with a `timestamp`; it is parsed
//! whole and stored in one transaction, so a malformed request stores nothing. Every outcome is
//! traced as the action `ingest_records`.

use crate::metrics::Refusal;
use std::time::Instant;

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use mlops_auth::{ToolClass, scopes};
use mlops_engine::blocks::BlockError;
use mlops_engine::records::{self, BodyFormat};
use mlops_engine::store::StoreError;
use mlops_engine::trace::{NewTraceEvent, Outcome};
use serde_json::json;

use super::body_encoding::{DecodeError, Encoding};
use super::gate::{ANONYMOUS, Described, Gate, bearer, error_json, peer, too_many};

/// The action name in traces.
pub const ACTION: &str = "ingest_records";

pub async fn ingest(State(gate): State<Gate>, Path(model): Path<String>, req: Request) -> Response {
    let started = Instant::now();
    let app = &gate.app;
    let Admitted {
        principal,
        format,
        body,
        described,
    } = match admit(&gate, &model, req, ACTION, started).await {
        Ok(a) => a,
        Err(refusal) => return refusal,
    };
    let who = principal.subject.clone();
    let not_found = format!("model `{model}` is not known");
    let trace_id = uuid::Uuid::new_v4().to_string();
    let finish = |outcome: Outcome, rationale: String| {
        let elapsed = i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX);
        NewTraceEvent::new(
            trace_id.clone(),
            &who,
            ACTION,
            &described.arguments,
            outcome,
            rationale,
            elapsed,
        )
    };
    let rules = match ingest_rules(app, &model).await {
        Ok(Some(rules)) => rules,
        Ok(None) => {
            app.trace(finish(Outcome::Refused, not_found.clone())).await;
            return error_json(StatusCode::NOT_FOUND, "unknown_model", &not_found);
        }
        Err(e) => return store_failed(app, finish(Outcome::Error, e.to_string())).await,
    };
    let parsed = match records::parse(&body, format, &rules) {
        Ok(parsed) => parsed,
        Err(e) => {
            let reason = format!("nothing stored: {e}");
            app.trace(finish(Outcome::Error, reason.clone())).await;
            return error_json(StatusCode::BAD_REQUEST, "invalid_records", &reason);
        }
    };
    let rows = parsed.rows;
    let batch = uuid::Uuid::new_v4().to_string();
    let budget = rules.max_rows;
    let from = rows.timestamps.iter().min().copied();
    let to = rows.timestamps.iter().max().copied();
    match app
        .blocks()
        .put(app.store(), &model, &batch, rows, budget)
        .await
    {
        Ok(accepted) => {
            let dropped: Vec<&String> = parsed.dropped_columns.iter().collect();
            let mut rationale = format!("stored {accepted} rows");
            if !dropped.is_empty() {
                rationale.push_str(&format!("; dropped {} undeclared column(s)", dropped.len()));
            }
            app.trace(finish(Outcome::Ok, rationale)).await;
            (
                StatusCode::OK,
                axum::Json(json!({
                    "model": model,
                    "accepted": accepted,
                    "batch": batch,
                    "first_timestamp": from,
                    "last_timestamp": to,
                    "dropped_columns": dropped,
                    "trace_id": trace_id,
                })),
            )
                .into_response()
        }
        Err(BlockError::Store(StoreError::UnknownModel(_))) => {
            app.trace(finish(Outcome::Refused, not_found.clone())).await;
            error_json(StatusCode::NOT_FOUND, "unknown_model", &not_found)
        }
        Err(BlockError::Store(e @ StoreError::OverBudget { .. })) => {
            let reason = format!("nothing stored: {e}");
            app.trace(finish(Outcome::Refused, reason.clone())).await;
            error_json(StatusCode::INSUFFICIENT_STORAGE, "over_budget", &reason)
        }
        Err(e) => {
            tracing::error!(error = %e, "storing ingested rows failed");
            store_failed(
                app,
                finish(Outcome::Error, "the store failed; nothing stored".into()),
            )
            .await
        }
    }
}

/// A data-write request that passed the gate: its principal, body format and body.
pub(super) struct Admitted {
    pub principal: mlops_auth::Principal,
    pub format: BodyFormat,
    pub body: axum::body::Bytes,
    pub described: Described,
}

/// The gate of the data endpoints (`/records`, `/labels`): per-address limit, bearer token,
/// scope `data:write`, the model grant, the read quota, the content type and the body limit.
/// Every refusal is traced as `action` and answered here.
pub(super) async fn admit(
    gate: &Gate,
    model: &str,
    req: Request,
    action: &str,
    started: Instant,
) -> Result<Admitted, Response> {
    let app = &gate.app;
    let mut described = Described {
        method: action.into(),
        action: action.into(),
        arguments: json!({ "model": model }),
    };
    if let Some(refusal) = gate.address_limited(peer(&req), started, &described).await {
        return Err(refusal);
    }
    let token = bearer(&req).map(str::to_owned);
    let principal = match &token {
        None => Err("no bearer token; send `Authorization: Bearer <token>`".to_owned()),
        Some(t) => app.verifier().verify(t).await.map_err(|e| e.to_string()),
    };
    let principal = match principal {
        Ok(p) => p,
        Err(reason) => {
            let why = format!("authentication failed: {reason}");
            gate.refuse(started, ANONYMOUS, &described, Refusal::Auth, why)
                .await;
            return Err(gate.unauthorized(&reason, token.is_some()));
        }
    };
    let who = principal.subject.clone();
    if !principal.has_scope(scopes::DATA_WRITE) {
        let reason = format!(
            "sending data requires the scope `{}`, which `{who}` does not have",
            scopes::DATA_WRITE
        );
        gate.refuse(started, &who, &described, Refusal::Scope, reason.clone())
            .await;
        return Err(gate.insufficient_scope(scopes::DATA_WRITE, &reason));
    }
    let not_found = format!("model `{model}` is not known");
    if !principal.may_access_model(model) {
        gate.refuse(started, &who, &described, Refusal::Scope, not_found.clone())
            .await;
        return Err(error_json(
            StatusCode::NOT_FOUND,
            "unknown_model",
            &not_found,
        ));
    }
    if let Err(quota) = app.limits().check(&who, ToolClass::Read) {
        let reason = quota.to_string();
        gate.refuse(started, &who, &described, Refusal::Quota, reason.clone())
            .await;
        return Err(too_many(&reason, quota.retry_after));
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let Some(format) = BodyFormat::from_content_type(&content_type) else {
        let reason = format!(
            "Content-Type {content_type:?} is not accepted; send application/x-ndjson (JSON lines), text/csv, application/vnd.apache.parquet or application/vnd.apache.arrow.stream (Arrow IPC; .file for the file format)"
        );
        gate.refuse(started, &who, &described, Refusal::Request, reason.clone())
            .await;
        return Err(error_json(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            &reason,
        ));
    };
    let encoding = match Encoding::of(req.headers()) {
        Ok(e) => e,
        Err(reason) => {
            gate.refuse(started, &who, &described, Refusal::Request, reason.clone())
                .await;
            return Err(error_json(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_encoding",
                &reason,
            ));
        }
    };
    let limit = app.config().http.max_ingest_bytes;
    let Ok(body) = axum::body::to_bytes(req.into_body(), limit).await else {
        let reason = format!(
            "the request body is larger than {limit} bytes (http.max_ingest_bytes); send smaller batches"
        );
        gate.refuse(started, &who, &described, Refusal::Request, reason.clone())
            .await;
        return Err(error_json(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            &reason,
        ));
    };
    let sent = body.len();
    let body = if encoding == Encoding::Identity {
        body
    } else {
        let decoded = tokio::task::spawn_blocking(move || encoding.decode(&body, limit)).await;
        match decoded {
            Ok(Ok(bytes)) => axum::body::Bytes::from(bytes),
            Ok(Err(e)) => {
                let (status, code) = match e {
                    DecodeError::TooLarge(..) => {
                        (StatusCode::PAYLOAD_TOO_LARGE, "request_too_large")
                    }
                    DecodeError::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed_body"),
                };
                let reason = e.to_string();
                gate.refuse(started, &who, &described, Refusal::Request, reason.clone())
                    .await;
                return Err(error_json(status, code, &reason));
            }
            Err(_) => {
                return Err(error_json(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "decode_failed",
                    "the body could not be decoded; retry",
                ));
            }
        }
    };
    if let Some(arguments) = described.arguments.as_object_mut() {
        arguments.insert("bytes".into(), json!(body.len()));
        if encoding != Encoding::Identity {
            arguments.insert("sent_bytes".into(), json!(sent));
        }
    }
    Ok(Admitted {
        principal,
        format,
        body,
        described,
    })
}

pub(super) async fn store_failed(app: &crate::app::App, event: NewTraceEvent) -> Response {
    app.trace(event).await;
    error_json(
        StatusCode::INTERNAL_SERVER_ERROR,
        "store_error",
        "the rows could not be stored; nothing was stored, retry later",
    )
}

/// What `model` accepts: rows within the configured time bounds, and only its declared
/// features, label, prediction and row `id` (all columns when it declares no features). `None`: no such model.
async fn ingest_rules(
    app: &crate::app::App,
    model: &str,
) -> Result<Option<records::Rules>, StoreError> {
    let Some(record) = app.store().get_model(model).await? else {
        return Ok(None);
    };
    let spec = record.spec;
    let limits = &app.config().limits;
    let now = chrono::Utc::now();
    let secs = |s: u64| {
        i64::try_from(s)
            .ok()
            .and_then(chrono::TimeDelta::try_seconds)
    };
    let before = secs(limits.ingest_max_age_days.saturating_mul(86_400))
        .and_then(|d| now.checked_sub_signed(d))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
    let after = secs(limits.ingest_max_future_secs)
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
    let columns = (!spec.features.is_empty()).then(|| {
        spec.features
            .iter()
            .map(|f| f.name.clone())
            .chain(spec.label.clone())
            .chain([spec.prediction.clone(), records::ROW_ID.to_owned()])
            .collect()
    });
    Ok(Some(records::Rules {
        max_rows: spec
            .policy
            .max_ingested_rows
            .unwrap_or(limits.max_rows_per_model),
        columns,
        unknown: limits.ingest_unknown_columns,
        not_before: before,
        not_after: after,
    }))
}
