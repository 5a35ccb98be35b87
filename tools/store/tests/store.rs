//! The store (SQLite, or PostgreSQL with MLOPS_TEST_STORE=postgres): models, the embedded registry and its alias history survive a reopen.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "helpers outside #[test] functions: a failure stops the test where it happened"
)]

mod common;

use std::collections::BTreeMap;

use mlops_domain::ModelSpec;
use mlops_domain::admission::Refusal;
use mlops_domain::jobs::{Admission, Budget, Candidate, JobState, JobUpdate};
use mlops_domain::model::{CHAMPION, NewVersion};
use mlops_domain::retrain_spec::RetrainSpec;
use mlops_store::SqlStore;
use mlops_store::{Store, StoreError};

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
        baseline: None,
    }
}

#[tokio::test]
async fn registry_round_trip_and_alias_history() {
    let db = common::TestDb::new().await;
    {
        let store = db.open().await;
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
    let store = db.open().await;
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

fn new_job(model: &str, key: Option<&str>) -> mlops_domain::jobs::NewJob {
    mlops_domain::jobs::NewJob {
        id: uuid::Uuid::new_v4().to_string(),
        model: model.into(),
        backend: "local".into(),
        reason: "drift".into(),
        drift_report_id: None,
        idempotency_key: key.map(str::to_owned),
        requested_by: "agent".into(),
        params: serde_json::json!({}),
        trace_id: None,
    }
}

/// Cost controls loose enough not to get in the way.
fn loose() -> RetrainSpec {
    toml::from_str(
        "command = [\"train\"]\ncooldown_secs = 0\nmax_jobs_per_day = 1000\nbreaker_after_failures = 1000",
    )
    .unwrap()
}

async fn create(
    store: &dyn Store,
    job: &mlops_domain::jobs::NewJob,
    spec: &RetrainSpec,
    max_concurrent: u32,
) -> Admission {
    let budget = Budget {
        spec,
        max_concurrent,
        now: chrono::Utc::now(),
    };
    store.create_job(job, &budget).await.unwrap()
}

async fn open_store(db: &common::TestDb) -> std::sync::Arc<SqlStore> {
    let store = std::sync::Arc::new(db.open().await);
    store.sync_model(&spec("m")).await.unwrap();
    store
}

fn to(state: JobState) -> JobUpdate {
    JobUpdate {
        state: Some(state),
        ..JobUpdate::default()
    }
}

#[tokio::test]
async fn one_active_job_per_model_and_idempotency_keys_are_enforced_by_the_database() {
    let db = common::TestDb::new().await;
    let store = open_store(&db).await;

    // 50 concurrent triggers, on several connections: exactly one job is created.
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let key = format!("k{i}");
                create(store.as_ref(), &new_job("m", Some(&key)), &loose(), 10).await
            })
        })
        .collect();
    let mut created = Vec::new();
    for t in tasks {
        created.push(t.await.unwrap());
    }
    let new: Vec<_> = created
        .iter()
        .filter(|c| matches!(c, Admission::New(_)))
        .collect();
    assert_eq!(new.len(), 1);
    let id = new[0].job().unwrap().id.clone();
    assert!(created.iter().all(|c| c.job().unwrap().id == id));
    assert_eq!(store.active_jobs().await.unwrap().len(), 1);

    // Exactly one claim starts it; its times are set once.
    let running = store.claim_start(&id, "replica-1").await.unwrap().unwrap();
    assert_eq!(
        (running.state, running.raw_state.as_deref()),
        (JobState::Running, Some("starting"))
    );
    assert!(running.started_at.is_some() && running.finished_at.is_none());
    assert_eq!(store.claim_start(&id, "replica-1").await.unwrap(), None);

    // It succeeds and registers the next version, in one step, once.
    let candidate = Candidate {
        metrics: [("roc_auc".to_owned(), 0.93)].into_iter().collect(),
        artifact_uri: "file:///tmp/model.json".into(),
        artifact_digest: "sha256:00".into(),
        data_snapshot: Some("train.csv".into()),
        baseline: None,
        label: None,
    };
    let (done, ended) = store
        .finish_job(&id, &to(JobState::Succeeded), Some(&candidate))
        .await
        .unwrap();
    assert!(ended);
    assert_eq!(
        (
            done.state,
            done.raw_state.as_deref(),
            done.produced_version.as_deref()
        ),
        (JobState::Succeeded, Some("starting"), Some("v1"))
    );
    assert!(done.finished_at.is_some());
    assert!(store.active_jobs().await.unwrap().is_empty());
    let model = store.get_model("m").await.unwrap().unwrap();
    assert_eq!(model.versions.len(), 1);
    assert_eq!(model.versions[0].training_job.as_deref(), Some(id.as_str()));
    assert_eq!(model.versions[0].created_by, "agent");

    // A finished job is final: finishing again or updating changes nothing.
    let (same, ended) = store
        .finish_job(&id, &to(JobState::Failed), Some(&candidate))
        .await
        .unwrap();
    assert!(!ended);
    assert_eq!(same, done);
    assert_eq!(
        store.update_job(&id, &to(JobState::Running)).await.unwrap(),
        done
    );
    assert_eq!(
        store.get_model("m").await.unwrap().unwrap().versions.len(),
        1
    );

    // The same key returns the same (finished) job; a new key creates a new one, and the next
    // success is v2.
    let key = done.idempotency_key.clone().unwrap();
    let again = create(store.as_ref(), &new_job("m", Some(&key)), &loose(), 10).await;
    assert_eq!(again, Admission::Existing(done.clone()));
    let next = create(store.as_ref(), &new_job("m", Some("fresh")), &loose(), 10).await;
    let next_id = next.job().unwrap().id.clone();
    assert!(matches!(next, Admission::New(ref j) if j.id != id));
    let (second, _) = store
        .finish_job(&next_id, &to(JobState::Succeeded), Some(&candidate))
        .await
        .unwrap();
    assert_eq!(second.produced_version.as_deref(), Some("v2"));

    // Unknown model and unknown job are errors.
    let budget = Budget {
        spec: &loose(),
        max_concurrent: 10,
        now: chrono::Utc::now(),
    };
    assert!(matches!(
        store.create_job(&new_job("nope", None), &budget).await,
        Err(StoreError::UnknownModel(_))
    ));
    assert!(matches!(
        store.update_job("missing", &JobUpdate::default()).await,
        Err(StoreError::UnknownJob(_))
    ));
    assert!(matches!(
        store
            .finish_job("missing", &JobUpdate::default(), None)
            .await,
        Err(StoreError::UnknownJob(_))
    ));
}

#[tokio::test]
async fn every_cost_control_refuses_in_the_store_and_leaves_no_job() {
    let db = common::TestDb::new().await;
    let store = open_store(&db).await;
    store.sync_model(&spec("other")).await.unwrap();
    let strict: RetrainSpec = toml::from_str(
        "command = [\"train\"]\ncooldown_secs = 3600\nmax_jobs_per_day = 2\nbreaker_after_failures = 2",
    )
    .unwrap();
    let count = |store: std::sync::Arc<SqlStore>| async move {
        store.list_jobs(None, 1000).await.unwrap().len()
    };

    // Concurrency: another model's active job fills the only slot.
    let other = create(store.as_ref(), &new_job("other", None), &loose(), 1).await;
    let refused = create(store.as_ref(), &new_job("m", None), &strict, 1).await;
    assert!(
        matches!(refused, Admission::Refused(Refusal::Concurrency { max: 1 })),
        "{refused:?}"
    );
    assert_eq!(count(store.clone()).await, 1);
    store
        .finish_job(&other.job().unwrap().id, &to(JobState::Succeeded), None)
        .await
        .unwrap();

    // Cooldown: a job of `m` just ended.
    let first = create(store.as_ref(), &new_job("m", None), &strict, 1).await;
    store
        .finish_job(&first.job().unwrap().id, &to(JobState::Failed), None)
        .await
        .unwrap();
    let refused = create(store.as_ref(), &new_job("m", None), &strict, 1).await;
    assert!(
        matches!(
            refused,
            Admission::Refused(Refusal::Cooldown {
                cooldown_secs: 3600,
                ..
            })
        ),
        "{refused:?}"
    );
    assert_eq!(count(store.clone()).await, 2);

    // Daily budget: two jobs of `m` started today (cooldown off for this spec).
    let no_cooldown: RetrainSpec = toml::from_str(
        "command = [\"train\"]\ncooldown_secs = 0\nmax_jobs_per_day = 2\nbreaker_after_failures = 5",
    )
    .unwrap();
    let second = create(store.as_ref(), &new_job("m", None), &no_cooldown, 1).await;
    store
        .finish_job(&second.job().unwrap().id, &to(JobState::Failed), None)
        .await
        .unwrap();
    let refused = create(store.as_ref(), &new_job("m", None), &no_cooldown, 1).await;
    assert!(
        matches!(
            refused,
            Admission::Refused(Refusal::DailyLimit { max: 2, .. })
        ),
        "{refused:?}"
    );
    assert_eq!(count(store.clone()).await, 3);

    // Circuit breaker: the last two jobs of `m` failed.
    let breaker: RetrainSpec = toml::from_str(
        "command = [\"train\"]\ncooldown_secs = 0\nmax_jobs_per_day = 100\nbreaker_after_failures = 2",
    )
    .unwrap();
    let refused = create(store.as_ref(), &new_job("m", None), &breaker, 1).await;
    assert!(
        matches!(
            refused,
            Admission::Refused(Refusal::BreakerOpen { failures: 2, .. })
        ),
        "{refused:?}"
    );
    assert_eq!(count(store.clone()).await, 3);
    // A human resets it; the next trigger is accepted.
    store.reset_breaker("m", "alice").await.unwrap();
    let accepted = create(store.as_ref(), &new_job("m", None), &breaker, 1).await;
    assert!(matches!(accepted, Admission::New(_)), "{accepted:?}");
}

#[tokio::test]
async fn retrain_history_counts_failures_back_to_the_last_success_or_reset() {
    let db = common::TestDb::new().await;
    let store = open_store(&db).await;
    for state in [JobState::Succeeded, JobState::Failed, JobState::Failed] {
        let created = create(store.as_ref(), &new_job("m", None), &loose(), 10).await;
        store
            .finish_job(&created.job().unwrap().id, &to(state), None)
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
    let running = create(store.as_ref(), &new_job("m", None), &loose(), 10).await;
    store
        .finish_job(&running.job().unwrap().id, &to(JobState::Failed), None)
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
    create(store.as_ref(), &new_job("m", None), &loose(), 10).await;
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

#[tokio::test]
async fn job_counts_and_readiness_come_from_the_database() {
    let db = common::TestDb::new().await;
    let store = open_store(&db).await;
    store.ready().await.unwrap();
    assert!(store.job_counts().await.unwrap().is_empty());

    let Admission::New(first) = create(store.as_ref(), &new_job("m", None), &loose(), 10).await
    else {
        panic!("not created")
    };
    store
        .finish_job(&first.id, &to(JobState::Failed), None)
        .await
        .unwrap();
    let Admission::New(_) = create(store.as_ref(), &new_job("m", None), &loose(), 10).await else {
        panic!("not created")
    };
    let mut counts = store.job_counts().await.unwrap();
    counts.sort_by_key(|(s, _)| s.as_str());
    assert_eq!(counts, [(JobState::Failed, 1), (JobState::Pending, 1)]);

    // A schema behind this build's migrations is not ready, and says so.
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let err = store.ready().await.unwrap_err().to_string();
    assert!(
        err.contains("not ready") && err.contains("migration"),
        "{err}"
    );
}

/// `list_models` reads the overviews from memory until a committed change to what they show —
/// by this store or by another process on the same database — moves the store's generation.
#[tokio::test]
async fn overviews_are_served_from_memory_until_any_writer_changes_what_they_show() {
    let db = common::TestDb::new().await;
    let a = open_store(&db).await;
    // Another process: its own connections to the same database.
    let b = db.open().await;
    let first = a.model_overviews().await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(first[0].record.aliased(CHAMPION).is_none());
    let again = a.model_overviews().await.unwrap();
    assert!(
        std::sync::Arc::ptr_eq(&first, &again),
        "read again though nothing changed"
    );

    b.register_version(&version("m", "v1", 0.8)).await.unwrap();
    b.set_alias("m", CHAMPION, "v1", "alice", "first")
        .await
        .unwrap();
    let seen = a.model_overviews().await.unwrap();
    assert_eq!(seen[0].record.aliased(CHAMPION).unwrap().version, "v1");

    let Admission::New(job) = create(&b, &new_job("m", None), &loose(), 10).await else {
        panic!("not created")
    };
    let seen = a.model_overviews().await.unwrap();
    assert_eq!(seen[0].active_job().map(|j| &j.id), Some(&job.id));

    // Progress is not part of the overview: it leaves the copy in memory alone.
    let progress = JobUpdate {
        progress: Some(0.5),
        message: Some("epoch 5".into()),
        ..JobUpdate::default()
    };
    b.update_job(&job.id, &progress).await.unwrap();
    assert!(std::sync::Arc::ptr_eq(
        &seen,
        &a.model_overviews().await.unwrap()
    ));

    b.update_job(&job.id, &to(JobState::Running)).await.unwrap();
    let seen = a.model_overviews().await.unwrap();
    let running = seen[0].active_job().unwrap();
    assert_eq!(running.state, JobState::Running);
    assert!(running.started_at.is_some());

    b.finish_job(&job.id, &to(JobState::Failed), None)
        .await
        .unwrap();
    assert!(a.model_overviews().await.unwrap()[0].active_job().is_none());

    // Through this store too.
    a.sync_model(&spec("n")).await.unwrap();
    let names: Vec<String> = a
        .model_overviews()
        .await
        .unwrap()
        .iter()
        .map(|o| o.record.spec.name.clone())
        .collect();
    assert_eq!(names, ["m", "n"]);
}

#[tokio::test]
async fn an_unreachable_postgres_is_named_with_the_cause_and_without_the_password() {
    // Nothing listens on port 1 of loopback: the connection is refused at once.
    let err = SqlStore::open("postgres://mlops:s3cret@127.0.0.1:1/mlops", common::key())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot connect to the store at postgres://mlops:***@127.0.0.1:1/mlops")
            && err.to_lowercase().contains("refused")
            && !err.contains("s3cret"),
        "{err}"
    );
}

/// Two processes on one database race for the same monitor slot: exactly one claims it, and
/// the run's outcome is kept with it.
#[tokio::test]
async fn a_monitor_slot_is_claimed_once_across_processes() {
    use mlops_domain::monitor::RunOutcome;
    let db = common::TestDb::new().await;
    let a = open_store(&db).await;
    let b = std::sync::Arc::new(db.open().await);
    let slot = chrono::DateTime::from_timestamp_millis(1_765_000_000_000).unwrap();
    let mut claims = Vec::new();
    for i in 0..20 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        claims.push(tokio::spawn(async move {
            store
                .claim_monitor_slot("m", slot, &format!("replica-{}", i % 2))
                .await
                .unwrap()
        }));
    }
    let mut won = 0;
    for c in claims {
        won += usize::from(c.await.unwrap());
    }
    assert_eq!(won, 1);
    let next = slot + chrono::TimeDelta::seconds(10);
    assert!(b.claim_monitor_slot("m", next, "replica-1").await.unwrap());
    a.finish_monitor_run("m", slot, RunOutcome::Failed, None, "no file")
        .await
        .unwrap();
    let runs = b.monitor_runs(Some("m"), 10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!((runs[0].slot, runs[0].outcome), (next, None));
    assert_eq!(runs[1].outcome, Some(RunOutcome::Failed));
    assert_eq!(runs[1].detail, "no file");
    // The overview shows the newest run.
    let seen = a.model_overviews().await.unwrap();
    assert_eq!(seen[0].last_run.as_ref().map(|r| r.slot), Some(next));
}

/// Verdicts open, re-level and resolve a model's alert; a job acknowledges it; concurrent
/// verdicts from two processes open one alert, never two.
#[tokio::test]
async fn alerts_follow_verdicts_and_one_is_unresolved_per_model() {
    use mlops_domain::alert::{AlertLevel, AlertState, Settle, Step};
    use mlops_domain::drift_record::RecommendedAction as A;
    let db = common::TestDb::new().await;
    let a = open_store(&db).await;
    let b = std::sync::Arc::new(db.open().await);
    assert!(
        a.apply_verdict("m", "r0", Some(A::None), "x")
            .await
            .unwrap()
            .is_none()
    );
    let mut racing = Vec::new();
    for i in 0..10 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        racing.push(tokio::spawn(async move {
            store
                .apply_verdict("m", &format!("r{i}"), Some(A::Investigate), "monitor")
                .await
                .unwrap()
        }));
    }
    let mut opened = 0;
    for r in racing {
        opened += usize::from(matches!(r.await.unwrap(), Some((Step::Open(_), _))));
    }
    assert_eq!(opened, 1);
    let (step, alert) = b
        .apply_verdict("m", "r10", Some(A::Retrain), "agent")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(step, Step::Relevel(AlertLevel::Retrain));
    assert_eq!(
        (alert.level, alert.latest_report.as_str()),
        (AlertLevel::Retrain, "r10")
    );
    // Too few rows for a verdict: nothing changes.
    assert!(
        a.apply_verdict("m", "r11", None, "x")
            .await
            .unwrap()
            .is_none()
    );
    let acked = a
        .settle_alert("m", Settle::Acknowledge, "retraining job j1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(acked.state, AlertState::Acknowledged);
    assert!(
        a.settle_alert("m", Settle::Acknowledge, "again")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        a.model_overviews().await.unwrap()[0]
            .alert
            .as_ref()
            .map(|x| &x.id),
        Some(&alert.id)
    );
    let (step, resolved) = b
        .apply_verdict("m", "r12", Some(A::None), "monitor")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(step, Step::Resolve);
    assert_eq!(resolved.state, AlertState::Resolved);
    assert!(resolved.resolved_at.is_some());
    assert!(a.model_overviews().await.unwrap()[0].alert.is_none());
    // A new verdict opens a new alert; the old one stays, resolved.
    let (_, again) = a
        .apply_verdict("m", "r13", Some(A::Retrain), "monitor")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(again.id, alert.id);
    assert_eq!(a.alerts(false, 10).await.unwrap().len(), 2);
    assert_eq!(a.alerts(true, 10).await.unwrap().len(), 1);
    assert_eq!(
        b.alert(&alert.id).await.unwrap().unwrap().state,
        AlertState::Resolved
    );
    let promoted = a
        .settle_alert("m", Settle::Resolve, "v2 promoted")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (promoted.state, promoted.note.as_str()),
        (AlertState::Resolved, "v2 promoted")
    );
}

/// Retention deletes a model's blocks whose rows are all older than the cut, their row ids and
/// the late labels left without a row, and nothing of other models or newer blocks; the catalog
/// agrees (windows, counts, files), and the budget counts the blocks' rows.
#[tokio::test]
async fn retention_deletes_old_blocks_and_the_catalog_agrees() {
    use mlops_domain::record::{BlockPlace, NewBlock, NewLabel, Pruned};
    let db = common::TestDb::new().await;
    let store = open_store(&db).await;
    store.sync_model(&spec("other")).await.unwrap();
    let now = chrono::Utc::now();
    let days = chrono::Duration::days;
    let ids = |model: &str, days_ago: i64| -> Vec<String> {
        (0..10).map(|i| format!("{model}-{days_ago}-{i}")).collect()
    };
    let block = |model: &str, days_ago: i64, place: BlockPlace| {
        let newest = now - days(days_ago);
        NewBlock {
            id: format!("{model}-{days_ago}"),
            batch: "b".into(),
            rows: 10,
            min_ts: newest - chrono::Duration::hours(1),
            max_ts: newest,
            columns: "[]".into(),
            bytes: 3,
            data: (place == BlockPlace::Database).then(|| b"abc".to_vec()),
            place,
            ids: ids(model, days_ago)
                .into_iter()
                .map(|id| (id, newest))
                .collect(),
        }
    };
    for (model, days_ago, place) in [
        ("m", 40, BlockPlace::File("m-40.parquet".into())),
        ("m", 1, BlockPlace::Database),
        ("other", 40, BlockPlace::Database),
    ] {
        let b = block(model, days_ago, place);
        assert_eq!(store.insert_block(model, &b, 1_000).await.unwrap(), 10);
        let labels: Vec<NewLabel> = ids(model, days_ago)[..5]
            .iter()
            .map(|id| NewLabel {
                row_id: id.clone(),
                label: "1".into(),
                labelled_at: None,
            })
            .collect();
        store
            .insert_labels(model, &labels, false)
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(store.block_files().await.unwrap(), ["m-40.parquet"]);
    let over = store
        .insert_block("m", &block("m", 2, BlockPlace::Database), 25)
        .await;
    assert!(matches!(over, Err(StoreError::OverBudget { held: 20, .. })));
    let cut = now - days(30);
    assert_eq!(
        store.prune_records("m", cut).await.unwrap(),
        Pruned {
            blocks: 1,
            rows: 10,
            labels: 5,
            files: vec!["m-40.parquet".into()],
        }
    );
    assert_eq!(
        store.prune_records("m", cut).await.unwrap(),
        Pruned::default(),
        "idempotent"
    );
    let held = store.held_records().await.unwrap();
    assert_eq!(
        held.iter()
            .map(|h| (h.model.as_str(), h.rows, h.bytes))
            .collect::<Vec<_>>(),
        [("m", 10, 3), ("other", 10, 3)]
    );
    assert!(store.block_files().await.unwrap().is_empty());
    let (min, max) = (
        chrono::DateTime::<chrono::Utc>::MIN_UTC,
        chrono::DateTime::<chrono::Utc>::MAX_UTC,
    );
    let left = store.blocks("m", min, max).await.unwrap();
    assert_eq!(
        left.iter().map(|b| b.id.as_str()).collect::<Vec<_>>(),
        ["m-1"]
    );
    assert_eq!(store.block_data("m-1").await.unwrap().unwrap(), b"abc");
    // A window that ends before the block starts does not reach it.
    assert!(
        store
            .blocks("m", min, now - days(2))
            .await
            .unwrap()
            .is_empty()
    );
    // The newer rows keep their labels; the pruned rows' ids are gone; the other model is
    // untouched.
    assert_eq!(store.labels_of("m", &ids("m", 1)).await.unwrap().len(), 5);
    assert!(
        store
            .labels_of("m", &ids("m", 40))
            .await
            .unwrap()
            .is_empty()
    );
    let late = vec![NewLabel {
        row_id: "m-40-7".into(),
        label: "0".into(),
        labelled_at: None,
    }];
    let answer = store
        .insert_labels("m", &late, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((answer.stored, answer.unknown_count), (0, 1));
    assert_eq!(
        store
            .labels_of("other", &ids("other", 40))
            .await
            .unwrap()
            .len(),
        5
    );
}

/// Compaction's swap: small blocks are listed oldest first, replaced by one block holding their
/// row ids, once — a second swap of the same blocks (another replica) changes nothing.
#[tokio::test]
async fn small_blocks_are_replaced_once() {
    use mlops_domain::record::{BlockPlace, NewBlock};
    let db = common::TestDb::new().await;
    let store = open_store(&db).await;
    let now = chrono::Utc::now();
    let block = |id: &str, rows: u64| NewBlock {
        id: id.into(),
        batch: "b".into(),
        rows,
        min_ts: now,
        max_ts: now,
        columns: "[]".into(),
        bytes: 1,
        place: BlockPlace::Database,
        data: Some(vec![0]),
        ids: vec![(format!("{id}-row"), now)],
    };
    for (id, rows) in [("a", 5), ("big", 50), ("b", 7)] {
        store
            .insert_block("m", &block(id, rows), 1_000)
            .await
            .unwrap();
    }
    let small = store.small_blocks("m", 10, 100).await.unwrap();
    assert_eq!(
        small.iter().map(|b| b.id.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    let old = vec!["a".to_owned(), "b".to_owned()];
    let mut merged = block("ab", 12);
    merged.ids = vec![("a-row".into(), now), ("b-row".into(), now)];
    assert!(store.replace_blocks("m", &old, &merged).await.unwrap());
    let mut again = block("ab2", 12);
    again.ids.clear();
    assert!(!store.replace_blocks("m", &old, &again).await.unwrap());
    let (min, max) = (
        chrono::DateTime::<chrono::Utc>::MIN_UTC,
        chrono::DateTime::<chrono::Utc>::MAX_UTC,
    );
    let left = store.blocks("m", min, max).await.unwrap();
    assert_eq!(
        left.iter()
            .map(|b| (b.id.as_str(), b.rows))
            .collect::<Vec<_>>(),
        [("big", 50), ("ab", 12)]
    );
    // The row ids moved with their rows: labels still find them.
    let labels = vec![mlops_domain::record::NewLabel {
        row_id: "b-row".into(),
        label: "1".into(),
        labelled_at: None,
    }];
    let stored = store
        .insert_labels("m", &labels, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.stored, 1);
}
