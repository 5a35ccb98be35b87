//! Prometheus metrics, served at `/metrics` in the OpenMetrics text format:
//!
//! - `mlops_tool_calls_total{tool, outcome}`: tool calls by tool and outcome (`ok`, `error`,
//!   `refused`); a name that is not one of this server's tools counts as `tool="unknown"`, so
//!   callers cannot grow the label set;
//! - `mlops_tool_call_duration_seconds{tool}`: their latency;
//! - `mlops_refusals_total{reason}`: refused requests by reason (`auth`, `scope`, `quota`,
//!   `budget`, `request`);
//! - `mlops_jobs{state}` and `mlops_pending_approvals`, `mlops_oldest_pending_approval_seconds`,
//!   `mlops_ingested_rows{model}`, `mlops_ingested_bytes{model}`: read from the store at each scrape, so every replica reports
//!   the shared state.
//!
//! Counters and histograms are per process (each replica is scraped on its own).

use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use mlops_engine::Store;
use mlops_engine::jobs::JobState;
use mlops_engine::promotion::PromotionState;

/// Content type of [`Metrics::render`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Why a request was refused.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Refusal {
    /// No valid token.
    Auth,
    /// The token lacks the scope (or the tool has no policy entry).
    Scope,
    /// A rate limit.
    Quota,
    /// A retraining cost control (cooldown, daily budget, concurrency, breaker).
    Budget,
    /// The request itself: too large, a disallowed Host or Origin.
    Request,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Scope => "scope",
            Self::Quota => "quota",
            Self::Budget => "budget",
            Self::Request => "request",
        }
    }
}

impl EncodeLabelValue for Refusal {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.as_str())
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    tool: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabel {
    tool: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: Refusal,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms to about 8 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// The server's metrics; cheap to clone (shared).
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    tool_names: Vec<String>,
    calls: Family<CallLabels, Counter>,
    latency: Family<ToolLabel, Histogram, fn() -> Histogram>,
    refusals: Family<ReasonLabel, Counter>,
    jobs: Family<StateLabel, Gauge>,
    pending_approvals: Gauge,
    oldest_pending: Gauge,
    ingested_rows: Family<ModelLabel, Gauge>,
    ingested_bytes: Family<ModelLabel, Gauge>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabel {
    model: String,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Metrics for a server whose tools are `tool_names`.
    pub fn new(tool_names: Vec<String>) -> Self {
        let mut registry = Registry::with_prefix("mlops");
        let calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "tool_calls",
            "Tool calls by tool and outcome (ok, error, refused)",
            calls.clone(),
        );
        let latency = Family::<ToolLabel, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "tool_call_duration_seconds",
            "Tool call latency, from the request to the result",
            latency.clone(),
        );
        let refusals = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "refusals",
            "Refused requests by reason (auth, scope, quota, budget, request)",
            refusals.clone(),
        );
        let jobs = Family::<StateLabel, Gauge>::default();
        registry.register(
            "jobs",
            "Retraining jobs in the store by state",
            jobs.clone(),
        );
        let pending_approvals = Gauge::default();
        registry.register(
            "pending_approvals",
            "Promotion requests waiting for a human decision",
            pending_approvals.clone(),
        );
        let oldest_pending = Gauge::default();
        registry.register(
            "oldest_pending_approval_seconds",
            "Age of the oldest promotion request waiting for a decision (0 if none)",
            oldest_pending.clone(),
        );
        let ingested_rows = Family::<ModelLabel, Gauge>::default();
        registry.register(
            "ingested_rows",
            "Ingested monitoring rows held per model (bounded by policy.retain and max_ingested_rows)",
            ingested_rows.clone(),
        );
        let ingested_bytes = Family::<ModelLabel, Gauge>::default();
        registry.register(
            "ingested_bytes",
            "Bytes of the columnar blocks holding a model's ingested rows",
            ingested_bytes.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry,
                tool_names,
                calls,
                latency,
                refusals,
                jobs,
                pending_approvals,
                oldest_pending,
                ingested_rows,
                ingested_bytes,
            }),
        }
    }

    fn tool_label(&self, tool: &str) -> String {
        if self.inner.tool_names.iter().any(|t| t == tool) {
            tool.to_owned()
        } else {
            "unknown".to_owned()
        }
    }

    /// Counts a tool call that ran (`ok` or `error`) and its latency.
    pub fn tool_call(&self, tool: &str, ok: bool, seconds: f64) {
        let tool = self.tool_label(tool);
        self.inner
            .calls
            .get_or_create(&CallLabels {
                tool: tool.clone(),
                outcome: if ok { "ok" } else { "error" },
            })
            .inc();
        self.inner
            .latency
            .get_or_create(&ToolLabel { tool })
            .observe(seconds);
    }

    /// Counts a refused request; `tool` when the refusal was of a tool call.
    pub fn refused(&self, reason: Refusal, tool: Option<&str>) {
        self.inner
            .refusals
            .get_or_create(&ReasonLabel { reason })
            .inc();
        if let Some(tool) = tool {
            self.inner
                .calls
                .get_or_create(&CallLabels {
                    tool: self.tool_label(tool),
                    outcome: "refused",
                })
                .inc();
        }
    }

    /// Refreshes the gauges read from the store, then renders everything.
    pub async fn render(&self, store: &dyn Store) -> Result<String, mlops_engine::StoreError> {
        let counts = store.job_counts().await?;
        for state in JobState::ALL {
            let n = counts
                .iter()
                .find(|(s, _)| *s == state)
                .map_or(0, |(_, n)| *n);
            self.inner
                .jobs
                .get_or_create(&StateLabel {
                    state: state.as_str(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        let pending = store
            .list_promotions(Some(PromotionState::PendingApproval), 10_000)
            .await?;
        let now = chrono::Utc::now();
        let oldest = pending
            .iter()
            .map(|p| (now - p.requested_at).num_seconds().max(0))
            .max()
            .unwrap_or(0);
        self.inner
            .pending_approvals
            .set(i64::try_from(pending.len()).unwrap_or(i64::MAX));
        self.inner.oldest_pending.set(oldest);
        // One label per model in the store: the models the operator declared.
        self.inner.ingested_rows.clear();
        self.inner.ingested_bytes.clear();
        for held in store.held_records().await? {
            let model = ModelLabel { model: held.model };
            self.inner
                .ingested_rows
                .get_or_create(&model)
                .set(i64::try_from(held.rows).unwrap_or(i64::MAX));
            self.inner
                .ingested_bytes
                .get_or_create(&model)
                .set(i64::try_from(held.bytes).unwrap_or(i64::MAX));
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.inner.registry)
            .map_err(|e| mlops_engine::StoreError::Corrupt(format!("encoding metrics: {e}")))?;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_tool_names_do_not_grow_the_label_set() {
        let m = Metrics::new(vec!["list_models".into()]);
        m.tool_call("list_models", true, 0.001);
        m.refused(Refusal::Scope, Some("no_such_tool_1"));
        m.refused(Refusal::Scope, Some("no_such_tool_2"));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &m.inner.registry).unwrap();
        assert!(
            text.contains(r#"mlops_tool_calls_total{tool="list_models",outcome="ok"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"mlops_tool_calls_total{tool="unknown",outcome="refused"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"mlops_refusals_total{reason="scope"} 2"#),
            "{text}"
        );
        assert!(!text.contains("no_such_tool"));
    }
}
