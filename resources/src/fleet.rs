//! The fleet's resources: `mlops://models` (paged as `list_models` pages) and the alerts.

use std::fmt::Write as _;

use mlops_auth::Principal;
use mlops_engine::Store;
use mlops_engine::alert::{Alert, AlertState};
use mlops_engine::list_models::{ListModelsError, ListModelsInput, list_models};
use mlops_engine::untrusted::table_code;

use crate::{ReadError, Rendered, to_json};

/// Most alerts `mlops://alerts` lists.
const MAX_ALERTS: u32 = 200;

/// One page of `mlops://models`, starting after `cursor`.
pub async fn models_page(
    store: &dyn Store,
    principal: &Principal,
    cursor: Option<String>,
    uri: &str,
) -> Result<Rendered, ReadError> {
    let input = ListModelsInput {
        cursor,
        ..ListModelsInput::default()
    };
    let page = list_models(store, principal, &input)
        .await
        .map_err(|e| match e {
            ListModelsError::Store(e) => ReadError::Store(e),
            ListModelsError::BadInput(_) => ReadError::NotFound(uri.to_owned()),
        })?;
    let mut md = format!(
        "# Models\n\n{} models; {} need attention.\n\n| model | owner | task | champion | state |\n|---|---|---|---|---|\n",
        page.summary.total_models, page.summary.needs_attention
    );
    for m in &page.models {
        // Names are checked when configured (letters, digits, `-`, `_`, `.`): safe in a link.
        let _ = writeln!(
            md,
            "| [{0}](mlops://models/{0}/card) | {1} | {2} | {3} | {4} |",
            m.name,
            table_code(&m.owner),
            table_code(&m.task),
            m.champion.as_deref().map_or("none".to_owned(), table_code),
            m.state.as_str()
        );
    }
    let next = page
        .next_cursor
        .as_ref()
        .map(|c| format!("mlops://models?cursor={c}"));
    if let Some(next) = &next {
        let _ = writeln!(md, "\nNext page: {next}");
    }
    let mut json = to_json(&page);
    if let Some(map) = json.as_object_mut() {
        map.insert("next_page".into(), serde_json::json!(next));
    }
    Ok(Rendered { markdown: md, json })
}

/// `mlops://alerts`: the alerts of models `principal` may see, unresolved first.
pub async fn alerts(store: &dyn Store, principal: &Principal) -> Result<Rendered, ReadError> {
    let mut all: Vec<Alert> = store
        .alerts(false, MAX_ALERTS)
        .await?
        .into_iter()
        .filter(|a| principal.may_access_model(&a.model))
        .collect();
    all.sort_by_key(|a| {
        (
            a.state == AlertState::Resolved,
            std::cmp::Reverse(a.updated_at),
        )
    });
    let mut md = String::from(
        "# Alerts\n\n| alert | model | level | state | updated | what happened |\n|---|---|---|---|---|---|\n",
    );
    for a in &all {
        let _ = writeln!(
            md,
            "| mlops://alerts/{} | [{1}](mlops://models/{1}/card) | {2} | {3} | {4} | {5} |",
            a.id,
            a.model,
            a.level.as_str(),
            a.state.as_str(),
            a.updated_at.format("%Y-%m-%d %H:%M:%S UTC"),
            table_code(&a.note)
        );
    }
    if all.is_empty() {
        md.push_str("\n_No alerts._\n");
    }
    Ok(Rendered {
        markdown: md,
        json: serde_json::json!({ "alerts": to_json(&all) }),
    })
}

/// `mlops://alerts/{id}`, if its model is one `principal` may see.
pub async fn alert(
    store: &dyn Store,
    principal: &Principal,
    id: &str,
    uri: &str,
) -> Result<Rendered, ReadError> {
    let a = store
        .alert(id)
        .await?
        .filter(|a| principal.may_access_model(&a.model))
        .ok_or_else(|| ReadError::NotFound(uri.to_owned()))?;
    let mut md = format!(
        "# Alert {}\n\n- **Model:** [{1}](mlops://models/{1}/card)\n- **Level:** {2}\n- **State:** {3}\n- **Opened:** {4} by {5}\n- **Raised by:** {6}\n- **Newest report:** {7}\n- **Last change:** {8}: {9}\n",
        a.id,
        a.model,
        a.level.as_str(),
        a.state.as_str(),
        a.opened_at.format("%Y-%m-%d %H:%M:%S UTC"),
        table_code(&a.opened_by),
        a.raised_by_report,
        a.latest_report,
        a.updated_at.format("%Y-%m-%d %H:%M:%S UTC"),
        table_code(&a.note)
    );
    if let Some(t) = a.resolved_at {
        let _ = writeln!(md, "- **Resolved:** {}", t.format("%Y-%m-%d %H:%M:%S UTC"));
    }
    Ok(Rendered {
        markdown: md,
        json: to_json(&a),
    })
}
