//! The `mlflow` registry backend against a real `mlflow server` (`mlflow[auth]==3.17.2` with its
//! basic-auth app, SQLite backend, loopback), started by `.ci/run` with `tests/mlflow/start.sh`,
//! which prints the `MLOPS_TEST_MLFLOW_URL` this test reads and the admin's credentials as
//! `MLFLOW_TRACKING_USERNAME`/`_PASSWORD` (the server under test reads them like MLflow's client). Without it the test is skipped, except under
//! `CI=true`, where a missing MLflow fails it.
//!
//! By hand: `python3 -m venv /tmp/mlf && /tmp/mlf/bin/pip install "mlflow[auth]==3.17.2"`, then
//! `eval "$(tests/mlflow/start.sh /tmp/mlf /tmp/mlf-data | sed 's/^/export /')" && cargo test --test mlflow`.

use crate::common;

use common::{HttpServer, Workspace, pending_promotion, tools};
use serde_json::{Value, json};

fn mlflow_url() -> Option<String> {
    common::service_url("MLOPS_TEST_MLFLOW_URL", "tests/mlflow/start.sh")
}

/// A GET as the admin (basic auth, when the server has its auth app).
async fn mlflow_get(url: &str, path: &str, query: &[(&str, &str)]) -> Value {
    let u =
        reqwest::Url::parse_with_params(&format!("{url}/api/2.0/mlflow/{path}"), query).unwrap();
    let mut request = reqwest::Client::new().get(u);
    if let (Ok(user), Ok(password)) = (
        std::env::var("MLFLOW_TRACKING_USERNAME"),
        std::env::var("MLFLOW_TRACKING_PASSWORD"),
    ) {
        request = request.basic_auth(user, Some(password));
    }
    request.send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn candidates_are_registered_validated_from_runs_and_promoted_in_mlflow() {
    let Some(url) = mlflow_url() else { return };
    let name = format!("fraud-detector-{}", &uuid::Uuid::new_v4().to_string()[..8]);
    let ws = Workspace::demo();
    ws.edit_config(|t| {
        let model = t["models"].as_array_mut().unwrap()[0]
            .as_table_mut()
            .unwrap();
        let mut registry = toml::Table::new();
        registry.insert("backend".into(), "mlflow".into());
        registry.insert("url".into(), url.clone().into());
        registry.insert("name".into(), name.clone().into());
        model.insert("registry".into(), registry.into());
    });
    // With the auth app on, a call without credentials is refused: the server must send them.
    if std::env::var("MLFLOW_TRACKING_USERNAME").is_ok() {
        let anonymous = reqwest::get(format!("{url}/api/2.0/mlflow/registered-models/search"))
            .await
            .unwrap();
        assert_eq!(anonymous.status().as_u16(), 401);
    }
    let server = HttpServer::start(&ws);
    let agent = ws.token("demo-agent", "agent");
    let request_id = pending_promotion(&server, &agent).await;

    // The candidate is a model version in MLflow, tagged with our label and digest, with a run.
    let filter = format!("name='{name}' AND tags.mlops_version='v2'");
    let found = mlflow_get(&url, "model-versions/search", &[("filter", &filter)]).await;
    let mv = &found["model_versions"][0];
    let mlflow_version = mv["version"].as_str().unwrap().to_owned();
    let run_id = mv["run_id"].as_str().unwrap().to_owned();
    let v2 = ws.model("fraud-detector").await;
    let v2 = v2.versions.iter().find(|v| v.version == "v2").unwrap();
    let tags: Vec<(String, String)> = mv["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["key"].as_str().unwrap().to_owned(),
                t["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        tags.contains(&("artifact_digest".into(), v2.artifact_digest.clone())),
        "{tags:?}"
    );
    let run = mlflow_get(&url, "runs/get", &[("run_id", &run_id)]).await;
    let run_auc = run["run"]["data"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == "roc_auc")
        .unwrap()["value"]
        .as_f64()
        .unwrap();
    assert_eq!(run_auc, v2.metrics["roc_auc"]);

    // The validation read the candidate's metrics from that run.
    let p = tools::get_promotion(&server, &agent, json!({"request_id": request_id})).await;
    let validation_id = p.promotion.validation_id;
    let stored = ws
        .store()
        .await
        .validation(&validation_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored
            .metrics_source
            .contains(&format!("MLflow run {run_id}")),
        "{}",
        stored.metrics_source
    );
    let alias = |url: String, name: String| async move {
        mlflow_get(
            &url,
            "registered-models/alias",
            &[("name", &name), ("alias", "champion")],
        )
        .await
    };
    assert!(alias(url.clone(), name.clone()).await["model_version"].is_null());

    // A human approves: MLflow's champion alias and the store's both point at v2.
    let alice = ws.token("alice", "promotion:approve,models:read");
    let out = ws
        .command()
        .args(["approvals", "approve", &request_id])
        .env("MLOPS_MCP_TOKEN", &alice)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let champion = alias(url.clone(), name.clone()).await;
    assert_eq!(
        champion["model_version"]["version"],
        mlflow_version.as_str(),
        "{champion}"
    );
    let approved_by = champion["model_version"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["key"] == "approved_by" && t["value"] == "alice");
    assert!(approved_by, "{champion}");
    assert_eq!(
        ws.model("fraud-detector")
            .await
            .aliased("champion")
            .unwrap()
            .version,
        "v2"
    );
}
