//! Quotas and bounds: rates, result sizes, ingested rows.

use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Read-tool calls per minute per principal, sustained.
    #[serde(default = "default_read_rate")]
    pub read_per_minute: u32,
    /// Read-tool calls a principal may make in a burst.
    #[serde(default = "default_read_burst")]
    pub read_burst: u32,
    /// High-privilege tool calls (retrain, promotion requests) per minute per principal.
    #[serde(default = "default_high_rate")]
    pub high_privilege_per_minute: u32,
    /// High-privilege calls a principal may make in a burst.
    #[serde(default = "default_high_burst")]
    pub high_privilege_burst: u32,
    /// HTTP requests per minute per connection address, checked before the token.
    #[serde(default = "default_addr_rate")]
    pub per_address_per_minute: u32,
    /// HTTP requests a connection address may make in a burst.
    #[serde(default = "default_addr_burst")]
    pub per_address_burst: u32,
    /// Largest tool result or resource returned to the model, in bytes.
    #[serde(default = "default_max_result")]
    pub max_result_bytes: usize,
    /// Memory for cached reference profiles (sorted numeric columns, category counts), in MiB.
    #[serde(default = "default_profile_cache")]
    pub profile_cache_mib: usize,
    /// Most ingested rows one window may read: a bound on memory (about 8 MB per million rows
    /// per numeric column), checked from the block catalog before anything is read.
    #[serde(default = "default_window_rows")]
    pub max_window_rows: usize,
    /// Ingested rows may be at most this far in the future (clock skew), in seconds.
    #[serde(default = "default_ingest_future")]
    pub ingest_max_future_secs: u64,
    /// Ingested rows may be at most this old, in days.
    #[serde(default = "default_ingest_age")]
    pub ingest_max_age_days: u64,
    /// Columns of ingested rows that the model does not declare (features, label): `drop`
    /// (stored without them; the answer names them) or `refuse` (the request stores nothing).
    #[serde(default)]
    pub ingest_unknown_columns: mlops_engine::records::UnknownColumns,
    /// Most ingested rows kept for one model unless its `policy.max_ingested_rows` says
    /// otherwise; a request past it stores nothing.
    #[serde(default = "default_rows_per_model")]
    pub max_rows_per_model: u64,
    /// How often the server deletes ingested rows past their model's `policy.retain`, in
    /// seconds (also once at start-up).
    #[serde(default = "default_retention_sweep")]
    pub retention_sweep_secs: u64,
}

pub(super) fn default_retention_sweep() -> u64 {
    3600
}

pub(super) fn default_ingest_future() -> u64 {
    300
}
pub(super) fn default_ingest_age() -> u64 {
    400
}
pub(super) fn default_rows_per_model() -> u64 {
    5_000_000
}

pub(super) fn default_read_rate() -> u32 {
    600
}
pub(super) fn default_read_burst() -> u32 {
    60
}
pub(super) fn default_high_rate() -> u32 {
    10
}
pub(super) fn default_high_burst() -> u32 {
    3
}
pub(super) fn default_addr_rate() -> u32 {
    1200
}
pub(super) fn default_addr_burst() -> u32 {
    200
}
pub(super) fn default_max_result() -> usize {
    256 * 1024
}
pub(super) fn default_profile_cache() -> usize {
    512
}
pub(super) fn default_window_rows() -> usize {
    10_000_000
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            read_per_minute: default_read_rate(),
            read_burst: default_read_burst(),
            high_privilege_per_minute: default_high_rate(),
            high_privilege_burst: default_high_burst(),
            per_address_per_minute: default_addr_rate(),
            per_address_burst: default_addr_burst(),
            max_result_bytes: default_max_result(),
            profile_cache_mib: default_profile_cache(),
            max_window_rows: default_window_rows(),
            ingest_max_future_secs: default_ingest_future(),
            ingest_max_age_days: default_ingest_age(),
            ingest_unknown_columns: Default::default(),
            max_rows_per_model: default_rows_per_model(),
            retention_sweep_secs: default_retention_sweep(),
        }
    }
}

impl LimitsConfig {
    /// What is wrong with `[limits]`: each problem names its key and what to use instead.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, value) in [
            ("limits.read_per_minute", self.read_per_minute),
            ("limits.read_burst", self.read_burst),
            (
                "limits.high_privilege_per_minute",
                self.high_privilege_per_minute,
            ),
            ("limits.high_privilege_burst", self.high_privilege_burst),
            ("limits.per_address_per_minute", self.per_address_per_minute),
            ("limits.per_address_burst", self.per_address_burst),
        ] {
            if value == 0 {
                out.push(format!("{name} = 0: use a positive number"));
            }
        }
        if self.max_result_bytes < 1024 {
            out.push(format!(
                "limits.max_result_bytes = {}: use at least 1024",
                self.max_result_bytes
            ));
        }
        out
    }
}
