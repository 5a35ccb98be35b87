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

/// A POST as the admin.
async fn mlflow_post(url: &str, path: &str, body: Value) -> Value {
    let mut request = reqwest::Client::new()
        .post(format!("{url}/api/2.0/mlflow/{path}"))
        .json(&body);
    if let (Ok(user), Ok(password)) = (
        std::env::var("MLFLOW_TRACKING_USERNAME"),
        std::env::var("MLFLOW_TRACKING_PASSWORD"),
    ) {
        request = request.basic_auth(user, Some(password));
    }
    let response = request.send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

/// Registered models tagged for import become models of the server, with `[model_defaults]`
/// under them and their data paths inside `data_root`; untagged ones and ones whose tags try
/// to leave `data_root` are not taken.
#[tokio::test]
async fn tagged_registered_models_are_imported_from_mlflow() {
    let Some(url) = mlflow_url() else { return };
    // A tag of this run's own, so other tests' registered models do not interfere.
    let tag = format!("mlops-import-{}", &uuid::Uuid::new_v4().to_string()[..8]);
    let name = |n: &str| format!("{tag}-{n}");
    let tags = |pairs: &[(&str, &str)]| -> Value {
        pairs
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect::<Vec<_>>()
            .into()
    };
    let rel = format!("{}/current.csv", name("churn"));
    mlflow_post(
        &url,
        "registered-models/create",
        json!({"name": name("churn"), "tags": tags(&[
            (&tag, "true"),
            (&format!("{tag}.reference_data"), "fraud-detector/reference.csv"),
            (&format!("{tag}.current_data"), &rel),
            (&format!("{tag}.owner"), "growth"),
        ])}),
    )
    .await;
    mlflow_post(
        &url,
        "registered-models/create",
        json!({"name": name("untagged"), "tags": tags(&[(&format!("{tag}.owner"), "x")])}),
    )
    .await;
    mlflow_post(
        &url,
        "registered-models/create",
        json!({"name": name("escape"), "tags": tags(&[
            (&tag, "true"),
            (&format!("{tag}.current_data"), "../../../etc/passwd"),
        ])}),
    )
    .await;
    let ws = Workspace::demo();
    let data = ws.path().join("data");
    std::fs::create_dir_all(data.join(name("churn"))).unwrap();
    std::fs::copy(data.join("fraud-detector/current.csv"), data.join(&rel)).unwrap();
    ws.edit_config(|t| {
        let demo = t["models"][0].as_table().unwrap().clone();
        let mut defaults = toml::Table::new();
        for key in ["task", "features", "policy"] {
            defaults.insert(key.into(), demo[key].clone());
        }
        t.insert("model_defaults".into(), defaults.into());
        let mut import = toml::Table::new();
        import.insert("url".into(), url.clone().into());
        import.insert("tag".into(), tag.clone().into());
        import.insert("data_root".into(), "data".into());
        t.insert("mlflow_import".into(), import.into());
    });

    let shown = ws
        .command()
        .args(["check-config", "--model", &name("churn")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&shown.stdout);
    let warnings = String::from_utf8_lossy(&shown.stderr);
    assert!(shown.status.success(), "{warnings}");
    assert!(
        text.contains("owner = \"growth\"")
            && text.contains(&format!("data/{rel}"))
            && text.contains("backend = \"mlflow\"")
            && text.contains("name = \"merchant_category\""),
        "{text}"
    );
    assert!(
        warnings.contains(&name("escape")) && warnings.contains("inside mlflow_import.data_root"),
        "{warnings}"
    );

    let server = HttpServer::start(&ws);
    let agent = ws.token("fleet-agent", "agent");
    let listed = tools::list_models(&server, &agent).await;
    let names: Vec<&str> = listed.models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["fraud-detector", name("churn").as_str()]);
    let checked = tools::check_drift(&server, &agent, json!({"model": name("churn")})).await;
    assert_eq!(checked.recommended_action.as_str(), "retrain");
}
