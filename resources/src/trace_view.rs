//! A decision trace as a resource.

use std::fmt::Write as _;

use mlops_auth::Principal;
use mlops_engine::trace::{TraceEvent, visible_to};
use mlops_engine::{Store, StoreError};
use serde::Serialize;

/// The events of one trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceView {
    pub trace_id: String,
    pub events: Vec<TraceEvent>,
}

/// The events of trace `id` that `principal` may see ([`visible_to`]), or `None` if none.
pub async fn trace_view(
    store: &dyn Store,
    id: &str,
    principal: &Principal,
) -> Result<Option<TraceView>, StoreError> {
    let mut events = store.trace(id).await?;
    events.retain(|e| visible_to(e, principal));
    if events.is_empty() {
        return Ok(None);
    }
    Ok(Some(TraceView {
        trace_id: id.to_owned(),
        events,
    }))
}

impl TraceView {
    pub fn to_markdown(&self) -> String {
        let mut md = format!(
            "# Trace {}\n\n| # | at | who | action | outcome | why | args | µs |\n|---|---|---|---|---|---|---|---|\n",
            self.trace_id
        );
        for e in &self.events {
            let _ = writeln!(
                md,
                "| {} | {} | {} | `{}` | {} | {} | `{}` | {} |",
                e.seq,
                e.at,
                e.principal,
                e.action,
                e.outcome.as_str(),
                e.rationale.replace('|', "\\|"),
                e.arguments.replace('|', "\\|"),
                e.duration_us
            );
        }
        let _ = writeln!(
            md,
            "\nEach event is hash-chained to the one before it (`mlops-mcp traces verify` checks the chain)."
        );
        md
    }
}
