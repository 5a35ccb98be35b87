//! `mlops-mcp quality FILE`: a model's quality from a CSV of predictions and labels, as JSON.

use std::io::Write as _;
use std::process::ExitCode;

use mlops_engine::quality::{self, Labelled, Task};

use crate::cli::QualityArgs;
use crate::commands::CommandError;

fn rows(args: &QualityArgs) -> Result<Vec<Labelled>, String> {
    let mut reader =
        csv::Reader::from_path(&args.file).map_err(|e| format!("{}: {e}", args.file.display()))?;
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("{}: no column `{name}`", args.file.display()))
    };
    let (p, l) = (column(&args.prediction)?, column(&args.label)?);
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("line {}: {e}", i + 2))?;
        let number = |at: usize, what: &str| {
            let cell = record.get(at).unwrap_or_default().trim();
            cell.parse::<f64>()
                .map_err(|_| format!("line {}: the {what} {cell:?} is not a number", i + 2))
        };
        out.push(Labelled {
            prediction: number(p, "prediction")?,
            label: number(l, "label")?,
        });
    }
    Ok(out)
}

pub fn run(args: &QualityArgs) -> Result<ExitCode, CommandError> {
    let task = Task::of(&args.task).ok_or_else(|| {
        CommandError::Input(format!(
            "--task {:?}: use binary_classification or regression",
            args.task
        ))
    })?;
    let rows = rows(args).map_err(CommandError::Input)?;
    quality::check_rows(task, &rows).map_err(|e| CommandError::Input(e.to_string()))?;
    let metrics = quality::measure(task, &rows, args.threshold);
    let out = serde_json::json!({"task": task, "rows": rows.len(), "metrics": metrics});
    // A closed pipe (`| head`) is the reader's choice, not an error.
    let _ = writeln!(std::io::stdout().lock(), "{out:#}");
    Ok(ExitCode::SUCCESS)
}
