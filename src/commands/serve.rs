//! `mlops-mcp serve [--http [ADDR]]`

use std::path::PathBuf;
use std::process::ExitCode;

use crate::app::App;
use crate::cli::ServeArgs;
use crate::commands::CommandError;
use crate::config::{Config, ConfigError};
use crate::mcp::McpServer;

pub async fn run(config_path: Option<PathBuf>, args: ServeArgs) -> Result<ExitCode, CommandError> {
    let mut config = Config::load(config_path.as_deref())?;
    for warning in config.import_models().await? {
        tracing::warn!("{warning}");
    }
    let http_addr = match args.http.as_deref() {
        None => None,
        Some("") => Some(config.http.bind),
        Some(addr) => Some(addr.parse().map_err(|e| {
            ConfigError::Invalid(vec![format!(
                "--http {addr:?}: {e}; use HOST:PORT, e.g. 127.0.0.1:8080"
            )])
        })?),
    };
    if http_addr.is_some() {
        config.require_token_keys()?;
    }
    // A tool without a policy entry must never be served.
    let names = McpServer::tool_names();
    mlops_auth::PolicyTable::standard()
        .check_covers(names.iter().map(String::as_str))
        .map_err(|e| anyhow::anyhow!("refusing to start: {e}"))?;
    // Bound before the app starts, so the addresses derived from `http.bind` (the approval
    // page's links, the resource URL) are the ones actually served, even for port 0.
    let listener = match http_addr {
        Some(addr) => {
            let listener = crate::transport::http::bind(addr).await?;
            config.http.bind = listener.local_addr().map_err(anyhow::Error::from)?;
            Some(listener)
        }
        None => None,
    };
    let app = App::start(config).await?;
    app.reconcile_jobs().await?;
    let monitors = crate::alerting::start_monitors(&app);
    if monitors > 0 {
        tracing::info!(monitors, "models checked by the server on their schedules");
    }
    crate::retention::start(&app);
    match listener {
        Some(listener) => crate::transport::http::serve(app, listener).await?,
        None => {
            let token = std::env::var("MLOPS_MCP_TOKEN")
                .ok()
                .filter(|t| !t.is_empty());
            let principal = app.stdio_principal(token.as_deref()).await?;
            crate::transport::stdio::serve(app, principal).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
