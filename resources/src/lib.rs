//! Read-only views of the server's state, served as MCP resources: the model list, alerts,
//! model cards and decision traces, each as Markdown and JSON. No MCP types here: `src/` maps these onto
//! rmcp.

mod catalog;
mod fleet;
mod model_card;
mod quality_view;
mod trace_view;
mod uri;

pub use catalog::{RESOURCES, ResourceInfo, TEMPLATES};
pub use model_card::{ModelCard, model_card};
pub use trace_view::{TraceView, trace_view};
pub use uri::{ResourceUri, UriError};

use mlops_auth::Principal;
use mlops_engine::Store;
use serde::Serialize;

/// One rendered resource: the same content as Markdown (for people and models) and JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub markdown: String,
    pub json: serde_json::Value,
}

/// Why a resource could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    BadUri(#[from] UriError),
    #[error("resource not found: {0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] mlops_engine::StoreError),
}

fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// Reads `uri` on behalf of `principal`. Models outside the principal's grant are not found.
pub async fn read(
    store: &dyn Store,
    principal: &Principal,
    uri: &str,
) -> Result<Rendered, ReadError> {
    match ResourceUri::parse(uri)? {
        ResourceUri::Models => fleet::models_page(store, principal, None, uri).await,
        ResourceUri::ModelsPage(cursor) => {
            fleet::models_page(store, principal, Some(cursor), uri).await
        }
        ResourceUri::Alerts => fleet::alerts(store, principal).await,
        ResourceUri::Alert(id) => fleet::alert(store, principal, &id, uri).await,
        ResourceUri::ModelCard(name) => {
            if !principal.may_access_model(&name) {
                return Err(ReadError::NotFound(uri.to_owned()));
            }
            let card = model_card(store, &name)
                .await?
                .ok_or_else(|| ReadError::NotFound(uri.to_owned()))?;
            Ok(Rendered {
                markdown: card.to_markdown(),
                json: to_json(&card),
            })
        }
        ResourceUri::DriftReport(id) => {
            let stored = store
                .drift_report(&id)
                .await?
                .filter(|r| principal.may_access_model(&r.model))
                .ok_or_else(|| ReadError::NotFound(uri.to_owned()))?;
            let output = mlops_engine::check_drift::CheckDriftOutput::from_record(&stored)?;
            Ok(Rendered {
                markdown: drift_markdown(&output),
                json: to_json(&output),
            })
        }
        ResourceUri::QualityReport(id) => {
            let stored = store
                .quality_report(&id)
                .await?
                .filter(|r| principal.may_access_model(&r.model))
                .ok_or_else(|| ReadError::NotFound(uri.to_owned()))?;
            let output: mlops_engine::check_performance::CheckPerformanceOutput =
                serde_json::from_str(&stored.document).map_err(|e| {
                    ReadError::Store(mlops_engine::StoreError::Corrupt(e.to_string()))
                })?;
            Ok(Rendered {
                markdown: quality_view::markdown(&output),
                json: to_json(&output),
            })
        }
        ResourceUri::Job(id) => {
            let job = store
                .get_job(&id)
                .await?
                .filter(|j| principal.may_access_model(&j.model))
                .ok_or_else(|| ReadError::NotFound(uri.to_owned()))?;
            let view = mlops_engine::get_job::JobView::new(job, None);
            Ok(Rendered {
                markdown: view.to_markdown(),
                json: to_json(&view),
            })
        }
        ResourceUri::Validation(id) => {
            let v = store
                .validation(&id)
                .await?
                .filter(|v| principal.may_access_model(&v.model))
                .ok_or_else(|| ReadError::NotFound(uri.to_owned()))?;
            Ok(Rendered {
                markdown: v.report.clone(),
                json: to_json(&v),
            })
        }
        ResourceUri::Promotion(id) => {
            let p = store
                .promotion(&id)
                .await?
                .filter(|p| principal.may_access_model(&p.model))
                .ok_or_else(|| ReadError::NotFound(uri.to_owned()))?;
            Ok(Rendered {
                markdown: promotion_markdown(&p),
                json: to_json(&p),
            })
        }
        ResourceUri::Trace(id) => {
            let view = trace_view(store, &id, principal)
                .await?
                .ok_or_else(|| ReadError::NotFound(uri.to_owned()))?;
            Ok(Rendered {
                markdown: view.to_markdown(),
                json: to_json(&view),
            })
        }
    }
}

fn promotion_markdown(p: &mlops_engine::promotion::Promotion) -> String {
    use std::fmt::Write as _;
    let state = p.effective_state(chrono::Utc::now());
    let mut md = format!(
        "# Promotion request {}\n\n- **Model:** {}\n- **Candidate:** {} (artifact `{}`)\n- **Champion at request:** {}\n- **Validation:** mlops://validations/{} (report `{}`)\n- **Requested by:** {} at {}\n- **Justification:** {}\n- **State:** {}\n- **Expires:** {}\n",
        p.id,
        p.model,
        p.candidate_version,
        p.candidate_digest,
        p.champion_at_request.as_deref().unwrap_or("none"),
        p.validation_id,
        p.validation_digest,
        p.requested_by,
        p.requested_at.format("%Y-%m-%d %H:%M UTC"),
        p.justification,
        state.as_str(),
        p.expires_at.format("%Y-%m-%d %H:%M UTC"),
    );
    if p.rollback {
        md.push_str("- **Rollback** to a former champion: its validation is shown as evidence and need not pass\n");
    }
    if let Some(by) = &p.decided_by {
        let _ = writeln!(
            md,
            "- **Decided by:** {by}{}{}",
            p.decided_at
                .map(|t| format!(" at {}", t.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_default(),
            p.decision_note
                .as_deref()
                .map(|n| format!(" — {n}"))
                .unwrap_or_default()
        );
    }
    if let Some(why) = &p.failure_reason {
        let _ = writeln!(md, "- **Failed because:** {why}");
    }
    md
}

fn drift_markdown(o: &mlops_engine::check_drift::CheckDriftOutput) -> String {
    use std::fmt::Write as _;
    let mut md = format!(
        "# Drift report {}\n\nModel `{}`, checked {}: {} reference rows, {} current rows.\n\n**Recommended action: {}**\n\n",
        o.report_id,
        o.model,
        o.checked_at.format("%Y-%m-%d %H:%M UTC"),
        o.report.reference_rows,
        o.report.current_rows,
        o.recommended_action.as_str()
    );
    for r in &o.reasons {
        let _ = writeln!(md, "- {r}");
    }
    md.push_str("\n| feature | test | score | threshold | drift | effect size | severity | why this test |\n|---|---|---|---|---|---|---|---|\n");
    let num = |x: Option<f64>| x.map_or("—".to_owned(), |v| format!("{v:.4}"));
    for f in &o.report.features {
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {} | {} | {} | {} | {} |",
            f.name,
            f.stattest.map_or("—".to_owned(), |t| t.to_string()),
            num(f.score),
            num(f.threshold),
            if f.drift_detected { "**yes**" } else { "no" },
            num(f.effect_size),
            f.severity
                .map_or("—".to_owned(), |s| format!("{s:?}").to_lowercase()),
            f.untested_reason
                .clone()
                .unwrap_or_else(|| f.stattest_reason.clone())
        );
    }
    if let Some(p) = &o.prediction_drift {
        let _ = writeln!(
            md,
            "\nThe model's predictions (`{}`): {} score {}, threshold {}: {}.",
            p.name,
            p.stattest.map_or("—".to_owned(), |t| t.to_string()),
            num(p.score),
            num(p.threshold),
            if p.drift_detected {
                "**drifted**"
            } else {
                "no drift"
            }
        );
    }
    let _ = writeln!(
        md,
        "\n{} of {} tested features drifted (share {:.2}; the model's threshold is {}): {}.",
        o.report.drifted_features,
        o.report.tested_features,
        o.report.drifted_share,
        o.report.drift_share_threshold,
        if o.report.dataset_drift {
            "dataset drift"
        } else {
            "no dataset drift"
        }
    );
    md
}
