//! `mlops-mcp train-demo` (hidden): the demo model's trainer, run by the `local` retraining
//! backend. It follows the local backend's contract: training files in `MLOPS_TRAINING_DATA`
//! (`:`-separated), the evaluation file in `MLOPS_HOLDOUT_DATA`, results into
//! `MLOPS_OUTPUT_DIR` (`model.json`, a LinearScorer artifact, and `metrics.json`), and, given the
//! champion (`MLOPS_CHAMPION_VERSION`/`_ARTIFACT`), its metrics on the same holdout, overall and
//! per category of each categorical feature (`baseline_metrics.json`).

use std::path::PathBuf;
use std::process::ExitCode;

use mlops_engine::demo::{self, LinearScorer, trainer};

use crate::commands::CommandError;

fn env_path(name: &str) -> Result<String, CommandError> {
    std::env::var(name)
        .map_err(|_| CommandError::Input(format!("{name} is not set (run by the local backend)")))
}

pub fn run() -> Result<ExitCode, CommandError> {
    let training = env_path("MLOPS_TRAINING_DATA")?;
    let output = PathBuf::from(env_path("MLOPS_OUTPUT_DIR")?);
    let mut rows = Vec::new();
    for file in training.split(':').filter(|f| !f.is_empty()) {
        let part = demo::read_csv(std::path::Path::new(file))
            .map_err(|e| CommandError::Input(e.to_string()))?;
        println!("training data: {file} ({} rows)", part.len());
        rows.extend(part);
    }
    let threshold = LinearScorer::demo_v1().threshold;
    let scorer = trainer::fit(&rows, threshold).map_err(CommandError::Input)?;
    let holdout = match std::env::var("MLOPS_HOLDOUT_DATA") {
        Ok(holdout) => {
            let rows = demo::read_csv(std::path::Path::new(&holdout))
                .map_err(|e| CommandError::Input(e.to_string()))?;
            println!("holdout: {holdout} ({} rows)", rows.len());
            rows
        }
        Err(_) => rows,
    };
    let metrics = trainer::evaluate_on(&scorer, &holdout).to_map();
    let write = |name: &str, value: String| {
        std::fs::write(output.join(name), value + "\n")
            .map_err(|e| CommandError::Input(format!("cannot write {name}: {e}")))
    };
    // The champion on the same holdout, so validation compares like with like.
    if let (Ok(version), Ok(artifact)) = (
        std::env::var("MLOPS_CHAMPION_VERSION"),
        std::env::var("MLOPS_CHAMPION_ARTIFACT"),
    ) {
        let text = std::fs::read_to_string(&artifact).map_err(|e| {
            CommandError::Input(format!("cannot read the champion {artifact}: {e}"))
        })?;
        let champion: LinearScorer = serde_json::from_str(&text).map_err(|e| {
            CommandError::Input(format!("the champion {artifact} is not a scorer: {e}"))
        })?;
        let baseline = trainer::evaluate_on(&champion, &holdout).to_map();
        println!(
            "champion {version} on the same holdout: {}",
            serde_json::to_string(&baseline).map_err(anyhow::Error::from)?
        );
        // And per category of the holdout, so the approver sees where each is better.
        let segments = trainer::segments(&scorer, &champion, &holdout);
        write(
            "baseline_metrics.json",
            serde_json::to_string_pretty(
                &serde_json::json!({"version": version, "metrics": baseline, "segments": segments}),
            )
            .map_err(anyhow::Error::from)?,
        )?;
    }
    write(
        "model.json",
        serde_json::to_string_pretty(&scorer).map_err(anyhow::Error::from)?,
    )?;
    write(
        "metrics.json",
        serde_json::to_string_pretty(&metrics).map_err(anyhow::Error::from)?,
    )?;
    println!(
        "metrics: {}",
        serde_json::to_string(&metrics).map_err(anyhow::Error::from)?
    );
    Ok(ExitCode::SUCCESS)
}
