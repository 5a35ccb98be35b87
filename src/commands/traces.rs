//! `mlops-mcp traces verify`

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::TracesCommand;
use crate::commands::CommandError;
use crate::config::Config;

pub async fn run(
    config_path: Option<PathBuf>,
    cmd: TracesCommand,
) -> Result<ExitCode, CommandError> {
    let TracesCommand::Verify = cmd;
    let config = Config::load(config_path.as_deref())?;
    let store = mlops_tools::store::open(&config.store.url)
        .await
        .map_err(anyhow::Error::from)?;
    let report = mlops_tools::trace::verify_chain(store.as_ref())
        .await
        .map_err(anyhow::Error::from)?;
    match report.first_broken {
        None => {
            println!("trace chain intact: {} events verified", report.events);
            Ok(ExitCode::SUCCESS)
        }
        Some(broken) => {
            println!(
                "trace chain BROKEN at event {}: {}",
                broken.seq, broken.reason
            );
            Ok(ExitCode::FAILURE)
        }
    }
}
