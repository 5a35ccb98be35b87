//! Contract tests of the remote retraining backends against the documented request and
//! response shapes (`wiremock` on loopback): GitHub Actions' `workflow_dispatch` and runs API,
//! the generic signed webhook, and Airflow 3's sign-in and 409 rule. The real Airflow is tested
//! in `tests/airflow.rs`. Secrets come from environment variables; the tests name
//! `CARGO_MANIFEST_DIR` (set by cargo, and its value is known here) because setting a variable
//! needs `unsafe`, which this workspace forbids.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "helpers outside #[test] functions: a failure stops the test where it happened"
)]

#[path = "../store/tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use mlops_auth::Principal;
use mlops_engine::get_job::{JobView, get_job};
use mlops_engine::jobs::airflow::AirflowBackend;
use mlops_engine::jobs::backend::{BackendError, RetrainBackend, StartSpec};
use mlops_engine::jobs::github::GithubActionsBackend;
use mlops_engine::jobs::runner::{Runner, RunnerSettings};
use mlops_engine::jobs::webhook::WebhookBackend;
use mlops_engine::jobs::{Job, JobState, NewJob};
use mlops_engine::retrain_spec::{AirflowSpec, GithubActionsSpec, WebhookSpec};
use mlops_engine::store::SqlStore;
use mlops_engine::trace_log::TraceLog;
use mlops_engine::trigger_retrain::{TriggerRetrainInput, trigger_retrain};
use mlops_engine::{ModelSpec, Store, signing};
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET_ENV: &str = "CARGO_MANIFEST_DIR";
const SECRET: &str = env!("CARGO_MANIFEST_DIR");
const DIGEST: &str = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn job(id: &str) -> Job {
    Job::pending(
        &NewJob {
            id: id.into(),
            model: "m".into(),
            backend: "test".into(),
            reason: "drift".into(),
            drift_report_id: None,
            idempotency_key: None,
            requested_by: "agent".into(),
            params: json!({}),
            trace_id: None,
        },
        chrono::Utc::now(),
    )
}

fn data() -> StartSpec {
    StartSpec {
        training_data: vec!["/data/train.csv".into()],
        holdout_data: Some("/data/holdout.csv".into()),
        champion: None,
    }
}

/// A store with model `m` retrained as `retrain` (TOML), and a runner polling every 10 ms.
async fn runner(retrain: &str) -> (common::TestDb, Arc<SqlStore>, Runner) {
    let dir = common::TestDb::new().await;
    let store = Arc::new(dir.open().await);
    let spec: ModelSpec = toml::from_str(&format!("name = \"m\"\n[retrain]\n{retrain}")).unwrap();
    assert_eq!(spec.problems(0), Vec::<String>::new());
    store.sync_model(&spec).await.unwrap();
    let traces = TraceLog::spawn(store.clone());
    let runner = Runner::new(
        store.clone(),
        mlops_engine::registry::Registries::default(),
        traces,
        &[spec],
        RunnerSettings {
            jobs_dir: dir.dir().join("jobs"),
            max_concurrent: 2,
            poll_interval: Duration::from_millis(10),
            heartbeat: Duration::from_secs(5),
            secrets: Default::default(),
            on_end: Vec::new(),
        },
    )
    .unwrap();
    (dir, store, runner)
}

async fn run_to_end(runner: &Runner, reason: &str) -> JobView {
    let agent = Principal::new("agent", ["retrain:trigger", "models:read"], "test");
    let input = TriggerRetrainInput {
        model: "m".into(),
        reason: reason.into(),
        ..TriggerRetrainInput::default()
    };
    let out = trigger_retrain(runner, &agent, &input, "trace-1")
        .await
        .unwrap();
    assert!(out.created);
    let mut view = out.job;
    for _ in 0..10 {
        view = get_job(runner, &agent, &view.id, Duration::from_secs(10), 5, |_| {})
            .await
            .unwrap();
        if !view.state.is_active() {
            return view;
        }
    }
    panic!("the job did not end: {view:?}");
}

fn refused(result: Result<impl std::fmt::Debug, BackendError>) -> String {
    match result {
        Err(BackendError::Refused(m)) => m,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Webhook

fn webhook_toml(server: &MockServer) -> String {
    format!(
        "backend = \"webhook\"\ncooldown_secs = 0\ntimeout_secs = 2\nrequest_timeout_secs = 1\n\
         [retrain.webhook]\nurl = \"{0}/start\"\nstatus_url = \"{0}/status/{{external_id}}\"\n\
         cancel_url = \"{0}/cancel/{{external_id}}\"\nsecret_env = \"{SECRET_ENV}\"",
        server.uri()
    )
}

#[tokio::test]
async fn webhook_jobs_are_signed_polled_and_register_the_reported_model() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/start"))
        .respond_with(
            ResponseTemplate::new(202)
                .set_body_json(json!({"id": "run-7", "url": "https://ci.example/run/7"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/status/run-7"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"state": "running", "progress": 0.5})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/status/run-7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "state": "succeeded",
            "model": {"metrics": {"roc_auc": 0.93, "f1": 0.61}, "artifact_uri": "s3://models/m/7", "artifact_digest": DIGEST},
        })))
        .with_priority(2)
        .mount(&server)
        .await;
    let (_dir, store, runner) = runner(&webhook_toml(&server)).await;

    let done = run_to_end(&runner, "drifted").await;
    assert_eq!(done.state, JobState::Succeeded, "{done:?}");
    assert_eq!(done.external_id.as_deref(), Some("run-7"));
    assert_eq!(
        done.external_url.as_deref(),
        Some("https://ci.example/run/7")
    );
    assert_eq!(done.produced_version.as_deref(), Some("v1"));
    let model = store.get_model("m").await.unwrap().unwrap();
    let v1 = &model.versions[0];
    assert_eq!(
        (v1.artifact_uri.as_str(), v1.artifact_digest.as_str()),
        ("s3://models/m/7", DIGEST)
    );
    assert_eq!(v1.metrics["roc_auc"], 0.93);

    // The start delivery is signed over its exact bytes, with the job id as delivery id.
    let requests = server.received_requests().await.unwrap();
    let start = requests.iter().find(|r| r.url.path() == "/start").unwrap();
    let h = |name: &str| {
        start
            .headers
            .get(name)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(h(signing::ID_HEADER), done.id);
    let ts: i64 = h(signing::TIMESTAMP_HEADER).parse().unwrap();
    signing::verify(
        SECRET,
        &done.id,
        ts,
        &start.body,
        &h(signing::SIGNATURE_HEADER),
        ts,
    )
    .unwrap();
    let body: Value = serde_json::from_slice(&start.body).unwrap();
    assert_eq!(body["type"], "retrain.requested");
    assert_eq!(body["model"], "m");
    assert_eq!(body["reason"], "drifted");
    let polls = requests
        .iter()
        .filter(|r| r.url.path() == "/status/run-7")
        .count();
    assert!(polls >= 3, "running, succeeded, then the model: {polls}");
}

#[tokio::test]
async fn webhook_errors_become_clear_refusals_and_failed_jobs() {
    let server = MockServer::start().await;
    let spec = |url: &str| WebhookSpec {
        url: format!("{}{url}", server.uri()),
        status_url: format!("{}/slow/{{external_id}}", server.uri()),
        cancel_url: None,
        secret_env: SECRET_ENV.into(),
    };
    for (status, body, expected) in [
        (
            401,
            json!({"message": "bad signature"}),
            "authentication failed (401): bad signature",
        ),
        (
            404,
            json!({"error": "no such pipeline"}),
            "not found (404): no such pipeline",
        ),
        (
            422,
            json!({"detail": "params.epochs must be a number"}),
            "rejected (422): params.epochs must be a number",
        ),
    ] {
        let route = format!("/start-{status}");
        Mock::given(method("POST"))
            .and(path(route.as_str()))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&server)
            .await;
        let backend = WebhookBackend::new(spec(&route), Duration::from_secs(1));
        let message = refused(backend.start(&job("j"), &data()).await);
        assert!(message.contains(expected), "{message}");
    }
    // A status endpoint slower than the request timeout is unreachable, not a verdict.
    Mock::given(method("GET"))
        .and(path("/slow/j"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let backend = WebhookBackend::new(spec("/start"), Duration::from_secs(1));
    match backend.poll(&job("j")).await {
        Err(BackendError::Unreachable(m)) => assert!(m.contains("timed out"), "{m}"),
        other => panic!("{other:?}"),
    }
    // A missing secret is named.
    let mut no_secret = spec("/start");
    no_secret.secret_env = "MLOPS_TEST_SURELY_UNSET".into();
    let message = refused(
        WebhookBackend::new(no_secret, Duration::from_secs(1))
            .start(&job("j"), &data())
            .await,
    );
    assert!(message.contains("MLOPS_TEST_SURELY_UNSET"), "{message}");

    // Through the runner: a refused start and a backend that never answers in time both end
    // as failed jobs that say why.
    Mock::given(method("POST"))
        .and(path("/start"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"message": "bad signature"})))
        .mount(&server)
        .await;
    let (_dir, _store, r) = runner(&webhook_toml(&server)).await;
    let failed = run_to_end(&r, "first").await;
    assert_eq!(failed.state, JobState::Failed);
    let message = failed.message.unwrap();
    assert!(
        message.contains("could not start") && message.contains("401"),
        "{message}"
    );

    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/start"))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({"id": "r"})))
        .mount(&slow)
        .await;
    Mock::given(method("GET"))
        .and(path("/status/r"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&slow)
        .await;
    let (_dir, _store, r) = runner(&webhook_toml(&slow)).await;
    let lost = run_to_end(&r, "slow").await;
    assert_eq!(lost.state, JobState::Failed);
    let message = lost.message.unwrap();
    assert!(
        message.contains("lost track") && message.contains("timed out"),
        "{message}"
    );
}

#[tokio::test]
async fn webhook_unknown_states_and_bad_models_fail_the_job() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/start"))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({"id": 41})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/status/41"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"state": "exploded"})))
        .mount(&server)
        .await;
    let (_dir, _store, r) = runner(&webhook_toml(&server)).await;
    let job = run_to_end(&r, "x").await;
    assert_eq!(job.state, JobState::Failed);
    assert!(job.message.unwrap().contains("unknown state `exploded`"));

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/start"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "state": "success",
            "model": {"metrics": {"auc": "high"}, "artifact_uri": "s3://x", "artifact_digest": DIGEST},
        })))
        .mount(&server)
        .await;
    let (_dir, store, r) = runner(&webhook_toml(&server)).await;
    let job = run_to_end(&r, "x").await;
    assert_eq!(job.state, JobState::Failed);
    assert!(job.message.unwrap().contains("not a finite number"));
    assert!(
        store
            .get_model("m")
            .await
            .unwrap()
            .unwrap()
            .versions
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------------
// GitHub Actions

fn github(server: &MockServer) -> GithubActionsBackend {
    GithubActionsBackend::new(
        GithubActionsSpec {
            api_url: server.uri(),
            repository: "acme/models".into(),
            workflow: "retrain.yml".into(),
            git_ref: "main".into(),
            token_env: SECRET_ENV.into(),
        },
        Duration::from_secs(2),
    )
}

const RUNS: &str = "/repos/acme/models/actions/workflows/retrain.yml/runs";
const DISPATCH: &str = "/repos/acme/models/actions/workflows/retrain.yml/dispatches";

#[tokio::test]
async fn github_dispatch_returns_the_run_and_its_states_are_normalised() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(RUNS))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"total_count": 0, "workflow_runs": []})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(DISPATCH))
        .and(header("authorization", format!("Bearer {SECRET}").as_str()))
        .and(header("x-github-api-version", "2022-11-28"))
        .and(body_partial_json(json!({"ref": "main", "return_run_details": true, "inputs": {"model": "m", "correlation_id": "job-1"}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "workflow_run_id": 999,
            "run_url": "https://api.github.com/repos/acme/models/actions/runs/999",
            "html_url": "https://github.com/acme/models/actions/runs/999",
        })))
        .expect(1)
        .mount(&server)
        .await;
    let gh = github(&server);
    let started = gh.start(&job("job-1"), &data()).await.unwrap();
    assert_eq!(started.external_id, "999");
    assert_eq!(
        started.external_url.as_deref(),
        Some("https://github.com/acme/models/actions/runs/999")
    );

    let mut running = job("job-1");
    running.external_id = Some("999".into());
    for (status, conclusion, expected) in [
        ("queued", Value::Null, JobState::Pending),
        ("in_progress", Value::Null, JobState::Running),
        ("completed", json!("success"), JobState::Succeeded),
        ("completed", json!("failure"), JobState::Failed),
        ("completed", json!("timed_out"), JobState::Failed),
        ("completed", json!("cancelled"), JobState::Cancelled),
    ] {
        server.reset().await;
        Mock::given(method("GET"))
            .and(path("/repos/acme/models/actions/runs/999"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": 999, "status": status, "conclusion": conclusion,
                "html_url": "https://github.com/acme/models/actions/runs/999",
            })))
            .mount(&server)
            .await;
        let s = gh.poll(&running).await.unwrap();
        assert_eq!(s.state, expected, "{status}/{conclusion}");
        if expected == JobState::Failed {
            assert!(s.message.unwrap().contains("actions/runs/999"));
            assert_eq!(
                s.raw_state,
                format!("completed/{}", conclusion.as_str().unwrap())
            );
        }
    }
    server.reset().await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/models/actions/runs/999/cancel"))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    gh.cancel(&running).await.unwrap();
}

#[tokio::test]
async fn github_without_run_details_finds_the_run_by_correlation_id() {
    let server = MockServer::start().await;
    // Older GitHub Enterprise: 400 to `return_run_details`, 204 without it.
    Mock::given(method("POST"))
        .and(path(DISPATCH))
        .and(body_partial_json(json!({"return_run_details": true})))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"message": "Invalid request.\n\n\"return_run_details\" is not a permitted key."})))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(DISPATCH))
        .respond_with(ResponseTemplate::new(204))
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    // Before the dispatch the run does not exist; after it, it is listed under its run-name.
    Mock::given(method("GET"))
        .and(path(RUNS))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"workflow_runs": []})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(RUNS))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"workflow_runs": [
            {"id": 1, "display_title": "retrain other-job", "status": "completed"},
            {"id": 555, "display_title": "retrain job-2", "status": "queued", "html_url": "https://github.com/acme/models/actions/runs/555"},
        ]})))
        .with_priority(2)
        .mount(&server)
        .await;
    let gh = github(&server);
    let started = gh.start(&job("job-2"), &data()).await.unwrap();
    assert_eq!(
        (started.external_id.as_str(), started.raw_state.as_str()),
        ("555", "queued")
    );
    // Started again (a restart before the run id was recorded): found, not dispatched twice.
    let again = gh.start(&job("job-2"), &data()).await.unwrap();
    assert_eq!(again.external_id, "555");
}

#[tokio::test]
async fn github_errors_are_clear() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(RUNS))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"workflow_runs": []})))
        .mount(&server)
        .await;
    let gh = github(&server);
    for (status, message, expected) in [
        (
            401,
            "Bad credentials",
            "authentication failed (401): Bad credentials",
        ),
        (404, "Not Found", "not found (404): Not Found"),
        (
            422,
            "Unexpected inputs provided: [\"gpu\"]",
            "rejected (422): Unexpected inputs provided",
        ),
    ] {
        server.reset().await;
        Mock::given(method("GET"))
            .and(path(RUNS))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"workflow_runs": []})))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(DISPATCH))
            .respond_with(ResponseTemplate::new(status).set_body_json(
                json!({"message": message, "documentation_url": "https://docs.github.com"}),
            ))
            .mount(&server)
            .await;
        let got = refused(gh.start(&job("j"), &data()).await);
        assert!(got.contains(expected), "{got}");
    }
    // A run id GitHub no longer knows.
    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/models/actions/runs/7"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .mount(&server)
        .await;
    let mut j = job("j");
    j.external_id = Some("7".into());
    assert!(refused(gh.poll(&j).await).contains("not found (404)"));
    // GitHub slower than the request timeout (2 s here): unreachable, retried until the job's
    // own timeout fails it.
    Mock::given(method("GET"))
        .and(path("/repos/acme/models/actions/runs/8"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(4)))
        .mount(&server)
        .await;
    j.external_id = Some("8".into());
    match gh.poll(&j).await {
        Err(BackendError::Unreachable(m)) => assert!(m.contains("timed out"), "{m}"),
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Airflow (contract part; the real server is in tests/airflow.rs)

#[tokio::test]
async fn airflow_signs_in_again_on_401_and_takes_409_as_already_started() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/auth/token"))
        .and(body_partial_json(
            json!({"username": SECRET, "password": SECRET}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"access_token": "t1"})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/auth/token"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"access_token": "t2"})))
        .with_priority(2)
        .mount(&server)
        .await;
    // The first token has expired by the time the run is triggered.
    Mock::given(method("POST"))
        .and(path("/api/v2/dags/retrain/dagRuns"))
        .and(header("authorization", "Bearer t1"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"detail": "Token expired"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/dags/retrain/dagRuns"))
        .and(header("authorization", "Bearer t2"))
        .and(body_partial_json(
            json!({"dag_run_id": "nightly-1", "logical_date": null, "conf": {"model": "m"}}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"dag_run_id": "nightly-1", "state": "queued"})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/dags/retrain/dagRuns"))
        .and(header("authorization", "Bearer t2"))
        .respond_with(
            ResponseTemplate::new(409).set_body_json(json!({"detail": "DAG run already exists"})),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    let airflow = AirflowBackend::new(
        AirflowSpec {
            url: server.uri(),
            dag_id: "retrain".into(),
            username_env: Some(SECRET_ENV.into()),
            password_env: Some(SECRET_ENV.into()),
            token_env: None,
            result_task: None,
        },
        Duration::from_secs(2),
    );
    let mut j = job("job-9");
    j.idempotency_key = Some("nightly-1".into());
    let first = airflow.start(&j, &data()).await.unwrap();
    assert_eq!(
        (first.external_id.as_str(), first.raw_state.as_str()),
        ("nightly-1", "queued")
    );
    let again = airflow.start(&j, &data()).await.unwrap();
    assert_eq!(
        (again.external_id.as_str(), again.raw_state.as_str()),
        ("nightly-1", "already started")
    );
}
