//! Retraining the demo model for real: the `local` backend runs `mlops-mcp train-demo` on the
//! demo's reference and drifted data; the new version beats `v1` on the drifted holdout.

use crate::common;

use std::time::Duration;

use common::Workspace;
use mlops_engine::demo::{self, LinearScorer, trainer};
use mlops_engine::jobs::backend::{RetrainBackend, StartSpec};
use mlops_engine::jobs::local::{LocalBackend, artifact};
use mlops_engine::jobs::{Job, JobState, NewJob};

fn job(id: &str) -> Job {
    Job::pending(
        &NewJob {
            id: id.into(),
            model: "fraud-detector".into(),
            backend: "local".into(),
            reason: "drift".into(),
            drift_report_id: None,
            idempotency_key: None,
            requested_by: "test".into(),
            params: serde_json::json!({}),
            trace_id: None,
        },
        chrono::Utc::now(),
    )
}

#[tokio::test]
async fn the_demo_trainer_beats_v1_on_the_drifted_holdout() {
    let ws = Workspace::demo();
    let data = ws.path().join("data/fraud-detector");
    let backend = LocalBackend::new(
        vec![env!("CARGO_BIN_EXE_mlops-mcp").into(), "train-demo".into()],
        ws.path().join("jobs"),
        Duration::from_secs(120),
    );
    let j = job("retrain-1");
    let spec = StartSpec {
        training_data: vec![data.join("reference.csv"), data.join("current.csv")],
        holdout_data: Some(data.join("recent_holdout.csv")),
        champion: None,
    };
    backend.start(&j, &spec).await.unwrap();
    let status = backend.wait(&j).await.unwrap();
    let log = std::fs::read_to_string(backend.log_path("retrain-1")).unwrap_or_default();
    assert_eq!(status.state, JobState::Succeeded, "{status:?}\n{log}");

    let out = backend.output_dir("retrain-1");
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    let new_auc = metrics["roc_auc"].as_f64().unwrap();
    let holdout = demo::read_csv(&data.join("recent_holdout.csv")).unwrap();
    let v1_auc = trainer::evaluate_on(&LinearScorer::demo_v1(), &holdout).roc_auc;
    assert!(new_auc > v1_auc + 0.01, "new {new_auc} vs v1 {v1_auc}");

    // The artifact is a scorer that reproduces its own metrics.
    let model = artifact(&out).unwrap();
    let scorer: LinearScorer =
        serde_json::from_str(&std::fs::read_to_string(model).unwrap()).unwrap();
    let again = trainer::evaluate_on(&scorer, &holdout).roc_auc;
    assert!((again - new_auc).abs() < 1e-12);
    assert!(log.contains("metrics:"), "{log}");
}
