//! `mlops-mcp traces verify` and `mlops-mcp traces export`

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use mlops_engine::chain_key::ChainKey;
use mlops_engine::trace_checkpoint::{Checkpoint, verify_with_checkpoint};

use crate::cli::{ExportFormat, TracesCommand};
use crate::commands::CommandError;
use crate::config::Config;

/// Events read from the store per query while exporting.
const EXPORT_PAGE: i64 = 1000;

pub async fn run(
    config_path: Option<PathBuf>,
    cmd: TracesCommand,
) -> Result<ExitCode, CommandError> {
    let config = Config::load(config_path.as_deref())?;
    let key = config.trace.key().map_err(anyhow::Error::from)?;
    let store = mlops_engine::store::open(&config.store.url, key.clone())
        .await
        .map_err(anyhow::Error::from)?;
    match cmd {
        TracesCommand::Verify => verify(store.as_ref(), &key, &config.trace.checkpoint_file).await,
        TracesCommand::Export {
            since,
            after_seq,
            format: ExportFormat::Jsonl,
        } => {
            let since = since
                .map(|s| {
                    DateTime::parse_from_rfc3339(&s)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|e| {
                            CommandError::Input(format!(
                                "--since {s:?}: {e}; use RFC 3339, e.g. 2026-11-22T00:00:00Z"
                            ))
                        })
                })
                .transpose()?;
            export(store.as_ref(), since, after_seq).await
        }
    }
}

async fn verify(
    store: &dyn mlops_engine::Store,
    key: &ChainKey,
    checkpoint_file: &Path,
) -> Result<ExitCode, CommandError> {
    let checkpoint = Checkpoint::read(checkpoint_file).map_err(anyhow::Error::msg)?;
    let report = verify_with_checkpoint(store, key, checkpoint.as_ref())
        .await
        .map_err(anyhow::Error::from)?;
    match report.first_broken {
        None => {
            match &checkpoint {
                Some(cp) => println!(
                    "trace chain intact: {} events verified under the chain key; it reaches the \
                     checkpoint of {} (event {})",
                    report.events, cp.at, cp.seq
                ),
                None => println!(
                    "trace chain intact: {} events verified under the chain key; no checkpoint at \
                     {}, so a deleted tail would not show",
                    report.events,
                    checkpoint_file.display()
                ),
            }
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

/// Streams events page by page (memory stays flat however many there are). A reader that
/// goes away (`| head`) ends the export quietly.
async fn export(
    store: &dyn mlops_engine::Store,
    since: Option<DateTime<Utc>>,
    mut after: i64,
) -> Result<ExitCode, CommandError> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    loop {
        let page = store
            .trace_events_after(after, EXPORT_PAGE)
            .await
            .map_err(anyhow::Error::from)?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.seq;
        for event in &page {
            let at = DateTime::parse_from_rfc3339(&event.at).map(|t| t.with_timezone(&Utc));
            if let (Some(since), Ok(at)) = (since, at)
                && at < since
            {
                continue;
            }
            let line = serde_json::to_string(event).map_err(anyhow::Error::from)?;
            if let Err(e) = writeln!(out, "{line}") {
                return quiet_on_broken_pipe(e);
            }
        }
    }
    match out.flush() {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => quiet_on_broken_pipe(e),
    }
}

fn quiet_on_broken_pipe(e: std::io::Error) -> Result<ExitCode, CommandError> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(anyhow::Error::from(e).into())
    }
}
