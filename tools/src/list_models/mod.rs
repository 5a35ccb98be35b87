//! `list_models`: a fleet at a glance, one page at a time. Each model is a compact row with its
//! state in one word; the summary counts the whole fleet the caller may see. Pages are ordered
//! by name, or by urgency with `needs_attention`, and continue with an opaque cursor. A page
//! ends at `page_size` rows or [`MAX_PAGE_BYTES`] of JSON, whichever comes first.

mod attention;
mod cursor;

use std::collections::BTreeMap;

use chrono::Utc;
use mlops_auth::Principal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use attention::ModelState;
use cursor::Cursor;

use crate::model::CHAMPION;
use crate::store::{ModelOverview, Store, StoreError};

/// Rows per page unless `page_size` says otherwise.
pub const DEFAULT_PAGE_SIZE: u32 = 25;
/// Most rows one page holds.
pub const MAX_PAGE_SIZE: u32 = 100;
/// Most bytes of JSON the rows of one page take; a page ends early rather than pass it.
pub const MAX_PAGE_BYTES: usize = 8_000;
/// Longest text filter accepted.
const MAX_FILTER_LEN: usize = 128;

/// Input of `list_models`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListModelsInput {
    /// Only models whose name contains this text (case-insensitive).
    pub name_contains: Option<String>,
    /// Only models that need action (drift that asks for it, a failed or stuck job, a pending
    /// or expiring promotion, a failing monitor), most urgent first.
    pub needs_attention: Option<bool>,
    /// Only models of this owner (exact, case-insensitive).
    pub owner: Option<String>,
    /// Only models of this task, e.g. `binary_classification`.
    pub task: Option<String>,
    /// Only models with this tag.
    pub tag: Option<String>,
    /// Rows per page (1-100, default 25). A page also ends before 8,000 bytes of rows.
    pub page_size: Option<u32>,
    /// The `next_cursor` of the previous page, with the same filters.
    pub cursor: Option<String>,
}

/// Output of `list_models`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ListModelsOutput {
    /// Counts over every model you may see, whatever the filters.
    pub summary: FleetSummary,
    /// This page's models: by name, or most urgent first with `needs_attention`.
    pub models: Vec<ModelRow>,
    /// Pass it as `cursor` (with the same filters) for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The fleet in numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FleetSummary {
    /// Models you may see.
    pub total_models: usize,
    /// Of those, how many need attention.
    pub needs_attention: usize,
    /// Models matching this request's filters (all pages).
    pub matching: usize,
    /// Models by state (states with none are left out).
    pub by_state: BTreeMap<String, usize>,
}

/// One model, compactly; `mlops://models/{name}/card` has the details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelRow {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub owner: String,
    pub task: String,
    /// The champion's version label; absent if none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub champion: Option<String>,
    /// What the model needs, in one word (`ok`, `drift_retrain`, `job_failed`, …).
    pub state: ModelState,
    /// The unresolved alert, as `mlops://alerts/{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    /// What to do next; absent when there is nothing to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_step: Option<String>,
}

/// Why `list_models` refused.
#[derive(Debug, thiserror::Error)]
pub enum ListModelsError {
    #[error("{0}")]
    BadInput(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn lower(text: Option<&String>, field: &str) -> Result<Option<String>, ListModelsError> {
    match text {
        Some(t) if t.chars().count() > MAX_FILTER_LEN => Err(ListModelsError::BadInput(format!(
            "`{field}` is longer than {MAX_FILTER_LEN} characters"
        ))),
        Some(t) => Ok(Some(t.to_lowercase())),
        None => Ok(None),
    }
}

/// The filters of one request.
struct Filters {
    name: Option<String>,
    owner: Option<String>,
    task: Option<String>,
    tag: Option<String>,
    attention: bool,
}

impl Filters {
    fn of(input: &ListModelsInput) -> Result<Self, ListModelsError> {
        Ok(Filters {
            name: lower(input.name_contains.as_ref(), "name_contains")?,
            owner: lower(input.owner.as_ref(), "owner")?,
            task: lower(input.task.as_ref(), "task")?,
            tag: lower(input.tag.as_ref(), "tag")?,
            attention: input.needs_attention.unwrap_or(false),
        })
    }

    fn fingerprint(&self) -> u64 {
        let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "\u{0}".into());
        cursor::fingerprint(&[
            &opt(&self.name),
            &opt(&self.owner),
            &opt(&self.task),
            &opt(&self.tag),
            if self.attention { "1" } else { "0" },
        ])
    }

    fn keep(&self, o: &ModelOverview, state: ModelState) -> bool {
        let spec = &o.record.spec;
        let has = |want: &Option<String>, value: &str| {
            want.as_deref().is_none_or(|w| value.to_lowercase() == w)
        };
        (!self.attention || state.needs_attention())
            && self
                .name
                .as_deref()
                .is_none_or(|n| spec.name.to_lowercase().contains(n))
            && has(&self.owner, &spec.owner)
            && has(&self.task, &spec.task)
            && self
                .tag
                .as_deref()
                .is_none_or(|t| spec.tags.iter().any(|have| have.to_lowercase() == t))
    }
}

/// Runs `list_models` for `principal`: only models its grant covers.
pub async fn list_models(
    store: &dyn Store,
    principal: &Principal,
    input: &ListModelsInput,
) -> Result<ListModelsOutput, ListModelsError> {
    let filters = Filters::of(input)?;
    let page_size = input.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
        return Err(ListModelsError::BadInput(format!(
            "page_size {page_size}: use 1 to {MAX_PAGE_SIZE}"
        )));
    }
    let after = input
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, filters.fingerprint()))
        .transpose()
        .map_err(ListModelsError::BadInput)?;
    let all = store.model_overviews().await?;
    let now = Utc::now();
    let mut summary = FleetSummary {
        total_models: 0,
        needs_attention: 0,
        matching: 0,
        by_state: BTreeMap::new(),
    };
    let mut matching: Vec<(u8, &ModelOverview, ModelState)> = Vec::new();
    for o in all
        .iter()
        .filter(|o| principal.may_access_model(&o.record.spec.name))
    {
        let state = attention::state(o, now);
        summary.total_models += 1;
        summary.needs_attention += usize::from(state.needs_attention());
        *summary
            .by_state
            .entry(state.as_str().to_owned())
            .or_default() += 1;
        if filters.keep(o, state) {
            let rank = if filters.attention { state.rank() } else { 0 };
            matching.push((rank, o, state));
        }
    }
    summary.matching = matching.len();
    // Overviews come sorted by name; a stable sort by rank keeps names in order within a rank.
    matching.sort_by_key(|(rank, _, _)| *rank);
    let start = after.map_or(0, |c| {
        matching.partition_point(|(rank, o, _)| {
            (*rank, o.record.spec.name.as_str()) <= (c.rank, c.name.as_str())
        })
    });
    let mut models = Vec::new();
    let mut bytes = 0;
    let mut last = None;
    for (rank, o, state) in matching.iter().skip(start) {
        let row = row(o, *state, now);
        let size = serde_json::to_vec(&row).map_or(0, |v| v.len() + 1);
        if models.len() == page_size as usize
            || (!models.is_empty() && bytes + size > MAX_PAGE_BYTES)
        {
            break;
        }
        bytes += size;
        last = Some((*rank, o.record.spec.name.clone()));
        models.push(row);
    }
    let more = start + models.len() < matching.len();
    let next_cursor = last.filter(|_| more).map(|(rank, name)| {
        Cursor {
            rank,
            name,
            filters: filters.fingerprint(),
        }
        .encode()
    });
    Ok(ListModelsOutput {
        summary,
        models,
        next_cursor,
    })
}

fn row(o: &ModelOverview, state: ModelState, now: chrono::DateTime<Utc>) -> ModelRow {
    let spec = &o.record.spec;
    let step = attention::next_step(o, state, now);
    ModelRow {
        name: spec.name.clone(),
        owner: spec.owner.clone(),
        task: spec.task.clone(),
        champion: o.record.aliased(CHAMPION).map(|v| v.version.clone()),
        state,
        alert: o.alert.as_ref().map(|a| format!("mlops://alerts/{}", a.id)),
        next_step: (!step.is_empty()).then_some(step),
    }
}
