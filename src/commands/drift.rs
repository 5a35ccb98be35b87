//! `mlops-mcp drift REFERENCE CURRENT`: the one-shot drift check for pipelines.

use std::process::ExitCode;

use mlops_engine::drift::report::{self, DriftReport, Options};
use mlops_engine::drift::select::StatTest;
use mlops_engine::drift::source;

use crate::cli::{DriftArgs, DriftFormat};
use crate::commands::CommandError;
use crate::config::ConfigError;

fn options(args: &DriftArgs) -> Result<Options, ConfigError> {
    let mut problems = Vec::new();
    let stattest = match args.stattest.as_deref() {
        None => None,
        Some(name) => StatTest::parse(name).or_else(|| {
            let known: Vec<&str> = StatTest::ALL.iter().map(|t| t.name()).collect();
            problems.push(format!(
                "--stattest {name:?}: unknown test; use one of {}",
                known.join(", ")
            ));
            None
        }),
    };
    if let Some(t) = args.threshold
        && !(t.is_finite() && t >= 0.0)
    {
        problems.push(format!("--threshold {t}: use a number ≥ 0"));
    }
    if !(args.drift_share > 0.0 && args.drift_share <= 1.0) {
        problems.push(format!(
            "--drift-share {}: use a number in (0, 1]",
            args.drift_share
        ));
    }
    if problems.is_empty() {
        Ok(Options {
            stattest,
            threshold: args.threshold,
            drift_share: Some(args.drift_share),
            features: args.features.clone(),
        })
    } else {
        Err(ConfigError::Invalid(problems))
    }
}

fn fmt_opt(x: Option<f64>) -> String {
    x.map_or_else(
        || "—".to_owned(),
        |v| {
            if v != 0.0 && v.abs() < 1e-4 {
                format!("{v:.3e}")
            } else {
                format!("{v:.4}")
            }
        },
    )
}

fn table(r: &DriftReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<20} {:<11} {:<13} {:>10} {:>9} {:<5} {:>8} {:<10} note",
        "feature", "kind", "test", "score", "threshold", "drift", "effect", "severity"
    );
    for f in &r.features {
        let note = f.untested_reason.clone().unwrap_or_else(|| {
            let mut parts = Vec::new();
            if !f.new_categories.is_empty() {
                parts.push(format!("new: {}", f.new_categories.join(", ")));
            }
            if !f.vanished_categories.is_empty() {
                parts.push(format!("vanished: {}", f.vanished_categories.join(", ")));
            }
            parts.join("; ")
        });
        let _ = writeln!(
            out,
            "{:<20} {:<11} {:<13} {:>10} {:>9} {:<5} {:>8} {:<10} {}",
            f.name,
            format!("{:?}", f.kind).to_lowercase(),
            f.stattest.map_or("—".to_owned(), |t| t.to_string()),
            fmt_opt(f.score),
            fmt_opt(f.threshold),
            if f.drift_detected { "yes" } else { "no" },
            fmt_opt(f.effect_size),
            f.severity
                .map_or("—".to_owned(), |s| format!("{s:?}").to_lowercase()),
            note
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{} of {} tested features drifted (share {:.2}, threshold {}): {}",
        r.drifted_features,
        r.tested_features,
        r.drifted_share,
        r.drift_share_threshold,
        if r.dataset_drift {
            "DATASET DRIFT"
        } else {
            "no dataset drift"
        }
    );
    out
}

pub fn run(args: DriftArgs) -> Result<ExitCode, CommandError> {
    let options = options(&args).map_err(|e| CommandError::Input(e.to_string()))?;
    // Evidently infers column types from the current data and applies them to both samples.
    let (reference, current) =
        source::read_pair(&args.reference, &args.current, &source::Schema::new())
            .map_err(|e| CommandError::Input(e.to_string()))?;
    let report = report::compare(&reference, &current, &options);
    let text = match args.format {
        DriftFormat::Json => {
            serde_json::to_string_pretty(&report).map_err(anyhow::Error::from)? + "\n"
        }
        DriftFormat::Table => table(&report),
    };
    // A closed pipe (`| head`) is the reader's choice, not an error.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    Ok(if report.dataset_drift {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
