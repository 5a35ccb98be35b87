//! Where the state lives.

use mlops_engine::blocks::{BlockDir, Placement};
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
    /// Where ingested monitoring rows are kept, as columnar blocks: `"database"` (inside the
    /// store; replicas sharing a PostgreSQL database share them), or a directory (relative to
    /// the config file; replicas must all mount it). Default: a directory beside a SQLite file
    /// (`mlops-mcp.db.blocks`), the database for PostgreSQL.
    #[serde(default)]
    pub blocks: Option<String>,
}

impl StoreConfig {
    /// Where new blocks go (paths already resolved against the config file).
    pub fn placement(&self) -> Placement {
        match self.blocks.as_deref() {
            Some("database") => Placement::Database,
            Some(dir) => Placement::Dir(BlockDir::new(dir)),
            None => match self.sqlite_file() {
                Some(file) => Placement::Dir(BlockDir::new(format!("{file}.blocks"))),
                None => Placement::Database,
            },
        }
    }

    /// The SQLite file of the URL (not an in-memory database), without its options.
    pub(super) fn sqlite_file(&self) -> Option<&str> {
        let path = self.url.strip_prefix("sqlite://")?;
        let path = path.split('?').next().unwrap_or(path);
        (!path.is_empty() && !path.starts_with(':')).then_some(path)
    }

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
            blocks: None,
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
        if self.blocks.as_deref().is_some_and(|b| b.trim().is_empty()) {
            out.push("store.blocks: give \"database\" or a directory".into());
        }
        out
    }
}
