//! `mlops-mcp config-schema`: the configuration file's JSON Schema, from the same types the
//! server loads it into, so it cannot drift from what the server accepts.

use std::process::ExitCode;

use super::CommandError;
use crate::config::Config;

/// Prints the schema as pretty JSON.
pub fn run() -> Result<ExitCode, CommandError> {
    let schema = schemars::schema_for!(Config);
    let text = serde_json::to_string_pretty(&schema).map_err(anyhow::Error::from)?;
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}
