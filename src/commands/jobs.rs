//! `mlops-mcp jobs list|show|cancel|reset-breaker`: retraining jobs for humans. Actions are
//! traced with the operator's login name (`cli:<user>`).

use std::path::PathBuf;
use std::process::ExitCode;

use mlops_engine::jobs::RetrainError;
use mlops_engine::jobs::runner::DEFAULT_LOG_LINES;
use mlops_engine::trace::{NewTraceEvent, Outcome};

use crate::app::App;
use crate::cli::JobsCommand;
use crate::commands::CommandError;
use crate::config::Config;

/// Who a CLI action is attributed to.
fn operator() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

fn refused(e: RetrainError) -> CommandError {
    match e {
        RetrainError::Store(e) => CommandError::Other(e.into()),
        other => CommandError::Input(other.to_string()),
    }
}

pub async fn run(config_path: Option<PathBuf>, cmd: JobsCommand) -> Result<ExitCode, CommandError> {
    let config = Config::load(config_path.as_deref())?;
    let app = App::start(config).await?;
    let store = app.store();
    match cmd {
        JobsCommand::List { model, limit, json } => {
            let jobs = store
                .list_jobs(model.as_deref(), limit)
                .await
                .map_err(anyhow::Error::from)?;
            if json {
                for job in jobs {
                    println!(
                        "{}",
                        serde_json::to_string(&job).map_err(anyhow::Error::from)?
                    );
                }
            } else if jobs.is_empty() {
                println!("no jobs");
            } else {
                println!(
                    "{:<36}  {:<20}  {:<9}  {:<20}  {:<8}  reason",
                    "id", "model", "state", "created (UTC)", "version"
                );
                for j in jobs {
                    super::print_safely(&format!(
                        "{:<36}  {:<20}  {:<9}  {:<20}  {:<8}  {}",
                        j.id,
                        j.model,
                        j.state.as_str(),
                        j.created_at.format("%Y-%m-%d %H:%M:%S"),
                        j.produced_version.as_deref().unwrap_or("-"),
                        j.reason
                    ));
                }
            }
        }
        JobsCommand::Show { id, json } => {
            let job = store
                .get_job(&id)
                .await
                .map_err(anyhow::Error::from)?
                .ok_or_else(|| refused(RetrainError::UnknownJob(id.clone())))?;
            let view = mlops_engine::get_job::view(app.runner(), job, DEFAULT_LOG_LINES);
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&view).map_err(anyhow::Error::from)?
                );
            } else {
                super::print_safely(view.to_markdown().trim_end());
            }
        }
        JobsCommand::Cancel { id } => {
            let job = app
                .runner()
                .cancel(&id, &operator())
                .await
                .map_err(refused)?;
            println!("job {} cancelled ({})", job.id, job.model);
        }
        JobsCommand::ResetBreaker { model } => {
            let by = operator();
            store
                .reset_breaker(&model, &by)
                .await
                .map_err(|e| match e {
                    mlops_engine::StoreError::UnknownModel(m) => {
                        CommandError::Input(format!("model `{m}` is not known"))
                    }
                    other => CommandError::Other(other.into()),
                })?;
            let event = NewTraceEvent::new(
                uuid::Uuid::new_v4().to_string(),
                &by,
                "retrain.breaker_reset",
                &serde_json::json!({ "model": model }),
                Outcome::Ok,
                "circuit breaker closed by a human; earlier failures no longer count",
                0,
            );
            app.trace(event).await;
            println!("circuit breaker of `{model}` reset; retraining triggers are accepted again");
        }
    }
    Ok(ExitCode::SUCCESS)
}
