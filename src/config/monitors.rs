//! The scheduler of `[models.monitor]`: how often it looks for due runs and how many checks it
//! runs at once.

use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitorsConfig {
    /// How often due runs are looked for, in milliseconds (default 1000).
    #[serde(default = "default_tick_ms")]
    pub tick_ms: u64,
    /// Most checks one process runs at once (default 2, one per core of a small machine).
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: usize,
}

fn default_tick_ms() -> u64 {
    1000
}
fn default_max_concurrent() -> usize {
    2
}

impl Default for MonitorsConfig {
    fn default() -> Self {
        Self {
            tick_ms: default_tick_ms(),
            max_concurrent: default_max_concurrent(),
        }
    }
}

impl MonitorsConfig {
    /// What is wrong with `[monitors]`.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !(50..=60_000).contains(&self.tick_ms) {
            out.push(format!(
                "monitors.tick_ms = {}: use 50 to 60000",
                self.tick_ms
            ));
        }
        if self.max_concurrent == 0 {
            out.push("monitors.max_concurrent = 0: use at least 1".into());
        }
        out
    }
}
