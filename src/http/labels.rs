//! `POST /v1/models/{model}/labels[?replace=true]`: labels that arrive after their rows, joined to
//! the ingested rows by `id`. The same gate as ingest (scope `data:write`, the model grant, the
//! read quota, the body limit); JSON lines or CSV of `id`, `label` and optionally `labelled_at`.
//! All or nothing: a malformed request, or a label for an id that already has one (without
//! `replace=true`), stores nothing. Ids with no ingested row are reported and not stored. Every
//! outcome is traced as the action `ingest_labels`.

use std::time::Instant;

use axum::extract::{Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use mlops_engine::records;
use mlops_engine::trace::{NewTraceEvent, Outcome};
use serde::Deserialize;
use serde_json::json;

use super::gate::{Gate, error_json};
use super::ingest::{Admitted, admit, store_failed};

/// The action name in traces.
pub const ACTION: &str = "ingest_labels";

#[derive(Debug, Default, Deserialize)]
pub struct LabelsQuery {
    /// Change labels that were already sent.
    #[serde(default)]
    replace: bool,
}

pub async fn labels(
    State(gate): State<Gate>,
    Path(model): Path<String>,
    Query(query): Query<LabelsQuery>,
    req: Request,
) -> Response {
    let started = Instant::now();
    let app = &gate.app;
    let Admitted {
        principal,
        format,
        body,
        mut described,
    } = match admit(&gate, &model, req, ACTION, started).await {
        Ok(a) => a,
        Err(refusal) => return refusal,
    };
    if let Some(arguments) = described.arguments.as_object_mut() {
        arguments.insert("replace".into(), json!(query.replace));
    }
    let who = principal.subject.clone();
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
    let not_found = format!("model `{model}` is not known");
    match app.store().get_model(&model).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            app.trace(finish(Outcome::Refused, not_found.clone())).await;
            return error_json(StatusCode::NOT_FOUND, "unknown_model", &not_found);
        }
        Err(e) => return store_failed(app, finish(Outcome::Error, e.to_string())).await,
    }
    let labels = match records::parse_labels(&body, format) {
        Ok(labels) => labels,
        Err(e) => {
            let reason = format!("nothing stored: {e}");
            app.trace(finish(Outcome::Error, reason.clone())).await;
            return error_json(StatusCode::BAD_REQUEST, "invalid_labels", &reason);
        }
    };
    match app
        .store()
        .insert_labels(&model, &labels, query.replace)
        .await
    {
        Ok(Ok(stored)) => {
            let rationale = format!(
                "stored {} labels; {} for unknown ids",
                stored.stored, stored.unknown_count
            );
            app.trace(finish(Outcome::Ok, rationale)).await;
            (
                StatusCode::OK,
                axum::Json(json!({
                    "model": model,
                    "stored": stored.stored,
                    "unknown_ids": stored.unknown,
                    "unknown_count": stored.unknown_count,
                    "trace_id": trace_id,
                })),
            )
                .into_response()
        }
        Ok(Err(already)) => {
            let reason = format!("nothing stored: {already}");
            app.trace(finish(Outcome::Refused, reason.clone())).await;
            error_json(StatusCode::CONFLICT, "already_labelled", &reason)
        }
        Err(e) => {
            tracing::error!(error = %e, "storing labels failed");
            store_failed(
                app,
                finish(Outcome::Error, "the store failed; nothing stored".into()),
            )
            .await
        }
    }
}
