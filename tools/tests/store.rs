//! The SQLite store: models, the embedded registry and its alias history survive a reopen.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use mlops_tools::model::{CHAMPION, NewVersion};
use mlops_tools::store::SqliteStore;
use mlops_tools::{ModelSpec, Store, StoreError};

fn spec(name: &str) -> ModelSpec {
    toml::from_str(&format!("name = \"{name}\"\nowner = \"team\"")).unwrap()
}

fn version(model: &str, v: &str, auc: f64) -> NewVersion {
    NewVersion {
        model: model.into(),
        version: v.into(),
        metrics: BTreeMap::from([("roc_auc".to_owned(), auc)]),
        artifact_uri: format!("file:///a/{v}"),
        artifact_digest: format!("sha256:{v}"),
        training_job: None,
        data_snapshot: None,
        created_by: "test".into(),
    }
}

#[tokio::test]
async fn registry_round_trip_and_alias_history() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    {
        let store = SqliteStore::open(&url).await.unwrap();
        store.sync_model(&spec("m")).await.unwrap();
        store
            .register_version(&version("m", "v1", 0.8))
            .await
            .unwrap();
        store
            .register_version(&version("m", "v2", 0.9))
            .await
            .unwrap();
        store
            .set_alias("m", CHAMPION, "v1", "alice", "first")
            .await
            .unwrap();
        store
            .set_alias("m", CHAMPION, "v2", "bob", "better")
            .await
            .unwrap();

        assert!(matches!(
            store.register_version(&version("m", "v1", 0.1)).await,
            Err(StoreError::VersionExists { .. })
        ));
        assert!(matches!(
            store.register_version(&version("ghost", "v1", 0.1)).await,
            Err(StoreError::UnknownModel(m)) if m == "ghost"
        ));
        assert!(matches!(
            store.set_alias("m", CHAMPION, "v9", "x", "y").await,
            Err(StoreError::UnknownVersion { .. })
        ));
    }
    // Reopen: nothing lost.
    let store = SqliteStore::open(&url).await.unwrap();
    let m = store.get_model("m").await.unwrap().unwrap();
    assert_eq!(m.versions.len(), 2);
    assert_eq!(m.aliased(CHAMPION).map(|v| v.version.as_str()), Some("v2"));
    assert_eq!(m.aliased(CHAMPION).map(|v| v.metrics["roc_auc"]), Some(0.9));
    let history = store.alias_history("m").await.unwrap();
    let moves: Vec<_> = history
        .iter()
        .map(|h| {
            (
                h.previous_version.as_deref(),
                h.version.as_str(),
                h.set_by.as_str(),
            )
        })
        .collect();
    assert_eq!(moves, [(None, "v1", "alice"), (Some("v1"), "v2", "bob")]);
    assert!(store.get_model("nope").await.unwrap().is_none());

    // Re-syncing a changed spec updates it and keeps the registry.
    let mut changed = spec("m");
    changed.owner = "new-team".into();
    store.sync_model(&changed).await.unwrap();
    let m = store.get_model("m").await.unwrap().unwrap();
    assert_eq!((m.spec.owner.as_str(), m.versions.len()), ("new-team", 2));
}

fn new_job(model: &str, key: Option<&str>) -> mlops_tools::jobs::NewJob {
    mlops_tools::jobs::NewJob {
        id: uuid::Uuid::new_v4().to_string(),
        model: model.into(),
        backend: "local".into(),
        reason: "drift".into(),
        drift_report_id: None,
        idempotency_key: key.map(str::to_owned),
        requested_by: "agent".into(),
        params: serde_json::json!({}),
    }
}

#[tokio::test]
async fn one_active_job_per_model_and_idempotency_keys_are_enforced_by_the_database() {
    use mlops_tools::jobs::{Created, JobState, JobUpdate};

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let store = std::sync::Arc::new(SqliteStore::open(&url).await.unwrap());
    store.sync_model(&spec("m")).await.unwrap();

    // 50 concurrent triggers, on several connections: exactly one job is created.
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let key = format!("k{i}");
                store.create_job(&new_job("m", Some(&key))).await.unwrap()
            })
        })
        .collect();
    let mut created = Vec::new();
    for t in tasks {
        created.push(t.await.unwrap());
    }
    let new: Vec<_> = created
        .iter()
        .filter(|c| matches!(c, Created::New(_)))
        .collect();
    assert_eq!(new.len(), 1);
    let id = new[0].job().id.clone();
    assert!(created.iter().all(|c| c.job().id == id));
    assert_eq!(store.active_jobs().await.unwrap().len(), 1);

    // The job runs and succeeds; its times are set once.
    let running = store
        .update_job(
            &id,
            &JobUpdate {
                state: Some(JobState::Running),
                raw_state: Some("started".into()),
                ..JobUpdate::default()
            },
        )
        .await
        .unwrap();
    assert!(running.started_at.is_some() && running.finished_at.is_none());
    let done = store
        .update_job(
            &id,
            &JobUpdate {
                state: Some(JobState::Succeeded),
                produced_version: Some("v2".into()),
                ..JobUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (
            done.state,
            done.raw_state.as_deref(),
            done.produced_version.as_deref()
        ),
        (JobState::Succeeded, Some("started"), Some("v2"))
    );
    assert!(done.finished_at.is_some());
    assert!(store.active_jobs().await.unwrap().is_empty());

    // The same key returns the same (finished) job; a new key creates a new one.
    let key = done.idempotency_key.clone().unwrap();
    let again = store.create_job(&new_job("m", Some(&key))).await.unwrap();
    assert_eq!(again, Created::Existing(done.clone()));
    let next = store
        .create_job(&new_job("m", Some("fresh")))
        .await
        .unwrap();
    assert!(matches!(next, Created::New(ref j) if j.id != id));

    // Unknown model and unknown job are errors.
    assert!(matches!(
        store.create_job(&new_job("nope", None)).await,
        Err(StoreError::UnknownModel(_))
    ));
    assert!(matches!(
        store.update_job("missing", &JobUpdate::default()).await,
        Err(StoreError::UnknownJob(_))
    ));
}

#[tokio::test]
async fn retrain_history_counts_failures_back_to_the_last_success_or_reset() {
    use mlops_tools::jobs::{JobState, JobUpdate};

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    store.sync_model(&spec("m")).await.unwrap();
    let finish = |state| JobUpdate {
        state: Some(state),
        ..JobUpdate::default()
    };
    for state in [JobState::Succeeded, JobState::Failed, JobState::Failed] {
        let created = store.create_job(&new_job("m", None)).await.unwrap();
        store
            .update_job(&created.job().id, &finish(state))
            .await
            .unwrap();
    }
    let now = chrono::Utc::now();
    let h = store.retrain_history("m", now).await.unwrap();
    assert_eq!(h.consecutive_failures, 2);
    assert_eq!(h.started_last_day.len(), 3);
    assert!(h.last_finished.is_some_and(|t| t <= chrono::Utc::now()));
    assert_eq!(h.active_all_models, 0);

    store.reset_breaker("m", "alice").await.unwrap();
    let h = store
        .retrain_history("m", chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(h.consecutive_failures, 0);
    let running = store.create_job(&new_job("m", None)).await.unwrap();
    store
        .update_job(&running.job().id, &finish(JobState::Failed))
        .await
        .unwrap();
    assert_eq!(
        store
            .retrain_history("m", chrono::Utc::now())
            .await
            .unwrap()
            .consecutive_failures,
        1
    );
    store.create_job(&new_job("m", None)).await.unwrap();
    assert_eq!(
        store
            .retrain_history("m", chrono::Utc::now())
            .await
            .unwrap()
            .active_all_models,
        1
    );
    assert!(matches!(
        store.reset_breaker("nope", "alice").await,
        Err(StoreError::UnknownModel(_))
    ));
}
