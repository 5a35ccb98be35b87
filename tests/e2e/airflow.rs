//! The `airflow` backend against a real Airflow 3 (`airflow standalone`, loopback), started by
//! `.ci/run` with `tests/airflow/start.sh`, which prints the environment this test reads
//! (`MLOPS_TEST_AIRFLOW_URL`, `_USER`, `_PASSWORD`). Without it the test is skipped, except
//! under `CI=true`, where a missing Airflow fails it.
//!
//! By hand: `python3 -m venv /tmp/af && /tmp/af/bin/pip install apache-airflow==3.3.2`, then
//! `eval "$(tests/airflow/start.sh /tmp/af /tmp/af-home | sed 's/^/export /')" && cargo test --test airflow`.

use crate::common;

use std::time::Duration;

use common::{HttpServer, Workspace, tools};
use mlops_engine::jobs::JobState;
use mlops_engine::jobs::airflow::AirflowBackend;
use mlops_engine::jobs::backend::{RetrainBackend, StartSpec};
use mlops_engine::retrain_spec::AirflowSpec;
use serde_json::{Value, json};

fn airflow_url() -> Option<String> {
    common::service_url("MLOPS_TEST_AIRFLOW_URL", "tests/airflow/start.sh")
}

async fn airflow_token(url: &str) -> String {
    let body: Value = reqwest::Client::new()
        .post(format!("{url}/auth/token"))
        .json(&json!({
            "username": std::env::var("MLOPS_TEST_AIRFLOW_USER").unwrap(),
            "password": std::env::var("MLOPS_TEST_AIRFLOW_PASSWORD").unwrap(),
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_dag_run_is_triggered_followed_and_its_model_registered_once() {
    let Some(url) = airflow_url() else { return };
    let ws = Workspace::demo();
    ws.edit_retrain(|r| {
        r.insert("backend".into(), "airflow".into());
        r.remove("command");
        let mut airflow = toml::Table::new();
        airflow.insert("url".into(), url.clone().into());
        airflow.insert("dag_id".into(), "mlops_retrain".into());
        airflow.insert("username_env".into(), "MLOPS_TEST_AIRFLOW_USER".into());
        airflow.insert("password_env".into(), "MLOPS_TEST_AIRFLOW_PASSWORD".into());
        airflow.insert("result_task".into(), "train".into());
        r.insert("airflow".into(), airflow.into());
    });
    ws.edit_config(|t| {
        let mut jobs = toml::Table::new();
        jobs.insert("poll_interval_secs".into(), 1.into());
        t.insert("jobs".into(), jobs.into());
    });
    let server = HttpServer::start(&ws);
    let token = ws.token("airflow-agent", "agent");
    let key = format!("mlops-test-{}", uuid::Uuid::new_v4());
    let args = json!({"model": "fraud-detector", "reason": "airflow test", "idempotency_key": key});

    let first = tools::trigger_retrain(&server, &token, args.clone()).await;
    let id = first.job.id.clone();
    assert_eq!(first.job.backend, "airflow");

    let done = tools::wait_for_end(&server, &token, &id).await;
    assert_eq!(done.state, JobState::Succeeded, "{done:?}");
    assert_eq!(done.external_id.as_deref(), Some(key.as_str()));
    assert_eq!(done.raw_state.as_deref(), Some("success"));
    assert_eq!(done.produced_version.as_deref(), Some("v2"));
    let model = ws.model("fraud-detector").await;
    let v2 = model.versions.iter().find(|v| v.version == "v2").unwrap();
    assert_eq!(v2.artifact_uri, format!("airflow://mlops_retrain/{id}"));
    assert!(v2.artifact_digest.starts_with("sha256:"));
    assert_eq!(
        v2.metrics["training_files"], 2.0,
        "the run got the training data"
    );

    // Retrying with the same key returns the same job, and the backend itself, asked to start
    // it again, meets Airflow's 409 and starts nothing.
    let again = tools::trigger_retrain(&server, &token, args).await;
    assert!(!again.created, "{again:?}");
    assert_eq!(again.job.id, id);
    let backend = AirflowBackend::new(
        AirflowSpec {
            url: url.clone(),
            dag_id: "mlops_retrain".into(),
            username_env: Some("MLOPS_TEST_AIRFLOW_USER".into()),
            password_env: Some("MLOPS_TEST_AIRFLOW_PASSWORD".into()),
            token_env: None,
            result_task: Some("train".into()),
        },
        Duration::from_secs(30),
    );
    let stored = ws.store().await.get_job(&id).await.unwrap().unwrap();
    let restarted = backend
        .start(
            &stored,
            &StartSpec {
                training_data: vec![],
                holdout_data: None,
                champion: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(restarted.raw_state, "already started");
    let runs: Value = reqwest::Client::new()
        .get(format!("{url}/api/v2/dags/mlops_retrain/dagRuns?limit=100"))
        .bearer_auth(airflow_token(&url).await)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let with_key = runs["dag_runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["dag_run_id"] == key.as_str())
        .count();
    assert_eq!(with_key, 1, "{runs}");
    let card = tools::model_card(&server, &token, "fraud-detector").await;
    assert_eq!(card.versions.len(), 2);
}
