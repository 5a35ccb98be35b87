//! `mlops-mcp check-config`

use std::path::PathBuf;
use std::process::ExitCode;

use crate::commands::CommandError;
use crate::config::Config;

pub async fn run(
    config_path: Option<PathBuf>,
    model: Option<&str>,
) -> Result<ExitCode, CommandError> {
    let mut config = Config::load(config_path.as_deref())?;
    // Models from `[mlflow_import]` are shown as the server would take them.
    for warning in config.import_models().await? {
        eprintln!(
            "warning: {}",
            mlops_engine::untrusted::strip_controls(&warning)
        );
    }
    if let Some(name) = model {
        let Some(spec) = config.models.iter().find(|m| m.name == name) else {
            let known: Vec<&str> = config.models.iter().map(|m| m.name.as_str()).collect();
            return Err(anyhow::anyhow!(
                "no model `{name}` in the configuration; its models are: {}",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )
            .into());
        };
        // The spec holds no secret values: backends name the environment variables they read.
        #[derive(serde::Serialize)]
        struct Shown<'a> {
            models: [&'a mlops_engine::ModelSpec; 1],
        }
        let text = toml::to_string_pretty(&Shown { models: [spec] })
            .map_err(|e| anyhow::anyhow!("cannot show `{name}`: {e}"))?;
        println!("# effective settings of `{name}` ([model_defaults] and {{model}} applied)");
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
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
        "  models: {}{}",
        if config.models.is_empty() {
            "none".to_owned()
        } else {
            config
                .models
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        },
        match config.models.iter().filter(|m| m.monitor.is_some()).count() {
            0 => String::new(),
            n => format!(" ({n} monitored)"),
        }
    );
    Ok(ExitCode::SUCCESS)
}
