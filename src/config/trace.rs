//! The decision trace's key and checkpoint files.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TraceConfig {
    /// The key the trace chain's HMAC uses (64 hex characters; created, mode 0600, on first
    /// start). Keep it out of the database's reach and back it up: without it the chain cannot
    /// be verified. Replicas must share one key. Relative to the config file.
    #[serde(default = "default_trace_key_file")]
    pub key_file: PathBuf,
    /// Where the server writes a signed checkpoint of the chain's head after each commit;
    /// `traces verify` compares the chain with it to see a deleted tail. Relative to the config
    /// file.
    #[serde(default = "default_trace_checkpoint_file")]
    pub checkpoint_file: PathBuf,
}

pub(super) fn default_trace_key_file() -> PathBuf {
    PathBuf::from("trace-chain.key")
}
pub(super) fn default_trace_checkpoint_file() -> PathBuf {
    PathBuf::from("trace-checkpoint.json")
}

impl Default for TraceConfig {
    fn default() -> Self {
        Self {
            key_file: default_trace_key_file(),
            checkpoint_file: default_trace_checkpoint_file(),
        }
    }
}

impl TraceConfig {
    /// The chain key, created if there is none yet.
    pub fn key(
        &self,
    ) -> Result<mlops_engine::chain_key::ChainKey, mlops_engine::chain_key_file::ChainKeyError>
    {
        mlops_engine::chain_key_file::load_or_create(&self.key_file)
    }
}
