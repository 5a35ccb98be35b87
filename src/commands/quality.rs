//! `mlops-mcp quality FILE`: a model's quality from a CSV of predictions and labels, as JSON.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use mlops_engine::quality::{self, Labelled, Task};

use crate::cli::QualityArgs;
use crate::commands::CommandError;

/// The rows of `file`: those with a label, and every row's prediction.
fn read(args: &QualityArgs, file: &Path) -> Result<(Vec<Labelled>, Vec<f64>), String> {
    let mut reader =
        csv::Reader::from_path(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("{}: no column `{name}`", file.display()))
    };
    let (p, l) = (column(&args.prediction)?, column(&args.label)?);
    let (mut out, mut scores) = (Vec::new(), Vec::new());
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("line {}: {e}", i + 2))?;
        let number = |at: usize, what: &str| {
            let cell = record.get(at).unwrap_or_default().trim();
            cell.parse::<f64>()
                .map_err(|_| format!("line {}: the {what} {cell:?} is not a number", i + 2))
        };
        let prediction = number(p, "prediction")?;
        scores.push(prediction);
        if !record.get(l).unwrap_or_default().trim().is_empty() {
            out.push(Labelled {
                prediction,
                label: number(l, "label")?,
            });
        }
    }
    Ok((out, scores))
}

pub fn run(args: &QualityArgs) -> Result<ExitCode, CommandError> {
    let task = Task::of(&args.task).ok_or_else(|| {
        CommandError::Input(format!(
            "--task {:?}: use binary_classification or regression",
            args.task
        ))
    })?;
    let input = |e: String| CommandError::Input(e);
    let (rows, scores) = read(args, &args.file).map_err(input)?;
    quality::check_rows(task, &rows).map_err(|e| input(e.to_string()))?;
    let metrics = quality::measure(task, &rows, args.threshold);
    let mut out = serde_json::json!({"task": task, "rows": rows.len(), "metrics": metrics});
    if let Some(reference) = &args.reference {
        if task != Task::BinaryClassification {
            return Err(input(
                "--reference: estimates are for binary_classification".into(),
            ));
        }
        let (labelled, _) = read(args, reference).map_err(input)?;
        if labelled.is_empty() {
            return Err(input(format!(
                "{}: no labelled rows to calibrate on",
                reference.display()
            )));
        }
        quality::check_rows(task, &labelled)
            .map_err(|e| input(format!("{}: {e}", reference.display())))?;
        let unlabelled: Vec<Labelled> = scores
            .iter()
            .map(|s| Labelled {
                prediction: *s,
                label: 0.0,
            })
            .collect();
        quality::check_rows(task, &unlabelled).map_err(|e| input(e.to_string()))?;
        let estimated = quality::estimate(&labelled, &scores, args.threshold);
        if let Some(map) = out.as_object_mut() {
            map.insert("estimated".into(), serde_json::json!(estimated));
        }
    }
    // A closed pipe (`| head`) is the reader's choice, not an error.
    let _ = writeln!(std::io::stdout().lock(), "{out:#}");
    Ok(ExitCode::SUCCESS)
}
