//! `mlops-mcp check-config`

use std::path::PathBuf;
use std::process::ExitCode;

use crate::commands::CommandError;
use crate::config::Config;

pub fn run(config_path: Option<PathBuf>) -> Result<ExitCode, CommandError> {
    let config = Config::load(config_path.as_deref())?;
    println!("configuration is valid");
    println!("  store: {}", config.store.display_url());
    println!(
        "  http: {} (hosts {:?}, origins {:?})",
        config.http.bind, config.http.allowed_hosts, config.http.allowed_origins
    );
    println!(
        "  auth: {}",
        if config.auth.hs256_secret.is_some() {
            "HS256 secret set"
        } else {
            "no secret (HTTP will refuse to start)"
        }
    );
    println!(
        "  stdio: principal `{}` with {}",
        config.stdio.principal,
        config.stdio.scopes.join(", ")
    );
    println!(
        "  models: {}",
        if config.models.is_empty() {
            "none".to_owned()
        } else {
            config
                .models
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    Ok(ExitCode::SUCCESS)
}
