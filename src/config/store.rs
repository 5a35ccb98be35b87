//! Where the state lives.

use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://PATH` (relative to the config file; created on first run) or
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (the database must exist; replicas share
    /// it). Keep a password out of the file with `MLOPS_MCP_STORE__URL`.
    #[serde(default = "default_store_url")]
    pub url: String,
}

impl StoreConfig {
    /// The URL with any password replaced by `***`, for output and logs.
    pub fn display_url(&self) -> String {
        mlops_engine::store::redacted(&self.url)
    }
}

pub(super) fn default_store_url() -> String {
    "sqlite://mlops-mcp.db".into()
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: default_store_url(),
        }
    }
}

impl StoreConfig {
    /// What is wrong with `[store]`: each problem names its key and what to use instead.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Err(e) = mlops_engine::store::Dialect::of(&self.url) {
            out.push(format!("store.url: {e}"));
        }
        out
    }
}
