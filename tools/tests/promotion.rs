//! The approval gate in the store: validation of a candidate, requests bound to the evidence,
//! and decisions — exactly one of 50 concurrent ones, never by the requester, never after the
//! expiry, never when the evidence changed; the champion moves only on a valid approval.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "helpers outside #[test] functions: a failure stops the test where it happened"
)]

#[path = "../store/tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{Duration, Utc};
use mlops_auth::Principal;
use mlops_engine::model::{CHAMPION, NewVersion};
use mlops_engine::promotion::{Decision, DecisionRefused, PromotionState};
use mlops_engine::promotion_gate::ApprovalError;
use mlops_engine::promotion_gate::GateSettings;
use mlops_engine::registry::Registries;
use mlops_engine::request_promotion::RequestPromotionInput;
use mlops_engine::store::SqlStore;
use mlops_engine::validation::{BaselineSource, Verdict};
use mlops_engine::{
    ModelSpec, Store, decide_promotion, get_validation, promotion_gate, request_promotion,
};

fn settings() -> GateSettings {
    GateSettings {
        expiry: Duration::hours(24),
        page_url: "http://127.0.0.1:8080/approvals".into(),
        registries: Registries::default(),
    }
}

fn version(v: &str, auc: f64, f1: f64) -> NewVersion {
    NewVersion {
        model: "m".into(),
        version: v.into(),
        metrics: BTreeMap::from([("roc_auc".to_owned(), auc), ("f1".to_owned(), f1)]),
        artifact_uri: format!("file:///a/{v}"),
        artifact_digest: format!("sha256:{v}"),
        training_job: None,
        data_snapshot: None,
        created_by: "test".into(),
        baseline: None,
    }
}

/// Model `m` with rules, champion v1 (auc 0.80), candidates v2 (0.86) and v3 (0.79).
async fn setup() -> (common::TestDb, Arc<SqlStore>) {
    let dir = common::TestDb::new().await;
    let store = Arc::new(dir.open().await);
    let spec: ModelSpec = toml::from_str(
        "name = \"m\"\n[policy]\nvalidation = [\
         { metric = \"roc_auc\", min_absolute_change = 0.01 },\
         { metric = \"f1\", threshold = 0.25 }]",
    )
    .unwrap();
    store.sync_model(&spec).await.unwrap();
    store
        .register_version(&version("v1", 0.80, 0.30))
        .await
        .unwrap();
    store
        .set_alias("m", CHAMPION, "v1", "test", "initial")
        .await
        .unwrap();
    store
        .register_version(&version("v2", 0.86, 0.40))
        .await
        .unwrap();
    store
        .register_version(&version("v3", 0.79, 0.40))
        .await
        .unwrap();
    (dir, store)
}

fn agent() -> Principal {
    Principal::new(
        "agent",
        ["models:read", "validation:read", "promotion:request"],
        "test",
    )
}

fn human(name: &str) -> Principal {
    Principal::new(name, ["models:read", "promotion:approve"], "test")
}

async fn request(
    store: &SqlStore,
    v: &str,
) -> Result<promotion_gate::PromotionView, ApprovalError> {
    let validation = get_validation::get_validation(
        store,
        &Registries::default(),
        &agent(),
        &get_validation::GetValidationInput {
            model: Some("m".into()),
            version: Some(v.into()),
            job_id: None,
        },
    )
    .await
    .unwrap();
    request_promotion::request_promotion(
        store,
        &agent(),
        &RequestPromotionInput {
            model: "m".into(),
            candidate_version: v.into(),
            validation_id: validation.validation.id.clone(),
            justification: "beats the champion".into(),
            rollback: false,
        },
        &settings(),
        "trace-1",
    )
    .await
}

async fn approve_as(store: &SqlStore, name: &str, id: &str) -> promotion_gate::PromotionView {
    let approve = Decision::Approve { note: None };
    decide_promotion::decide(store, &human(name), id, &approve, &settings())
        .await
        .unwrap()
}

async fn champion(store: &SqlStore) -> String {
    let m = store.get_model("m").await.unwrap().unwrap();
    m.aliased(CHAMPION).unwrap().version.clone()
}

#[tokio::test]
async fn validation_compares_with_the_champion_and_is_reused_until_something_changes() {
    let (_dir, store) = setup().await;
    let input = get_validation::GetValidationInput {
        model: Some("m".into()),
        version: Some("v2".into()),
        job_id: None,
    };
    let first =
        get_validation::get_validation(store.as_ref(), &Registries::default(), &agent(), &input)
            .await
            .unwrap();
    let v = &first.validation;
    assert_eq!(v.verdict, Verdict::Passed, "{}", v.report);
    assert_eq!(v.champion_version.as_deref(), Some("v1"));
    assert_eq!(v.baseline_source, BaselineSource::Registered);
    assert_eq!(v.checks.len(), 2);
    assert!(
        v.report.contains("| `roc_auc` | 0.860000 | 0.800000 |"),
        "{}",
        v.report
    );
    assert!(v.report_digest.starts_with("sha256:"));
    assert!(first.next_step.contains("request_promotion"));
    let again =
        get_validation::get_validation(store.as_ref(), &Registries::default(), &agent(), &input)
            .await
            .unwrap();
    assert_eq!(
        again.validation.id, v.id,
        "unchanged evidence: the same validation"
    );

    // A failing candidate: the reasons say which rule and why; promotion is refused.
    let bad = get_validation::get_validation(
        store.as_ref(),
        &Registries::default(),
        &agent(),
        &get_validation::GetValidationInput {
            model: Some("m".into()),
            version: Some("v3".into()),
            job_id: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(bad.validation.verdict, Verdict::Failed);
    assert!(
        bad.validation.reasons[0].contains("`roc_auc` failed"),
        "{:?}",
        bad.validation.reasons
    );
    let refused = request(store.as_ref(), "v3").await.unwrap_err();
    assert!(
        refused.to_string().contains("did not pass validation"),
        "{refused}"
    );
    assert!(store.list_promotions(None, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn fifty_concurrent_decisions_give_exactly_one() {
    let (_dir, store) = setup().await;
    let opened = request(store.as_ref(), "v2").await.unwrap();
    assert!(opened.created);
    assert_eq!(opened.promotion.state, PromotionState::PendingApproval);
    assert!(opened.approval_url.ends_with(&opened.promotion.id));
    let id = opened.promotion.id.clone();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = store.clone();
            let id = id.clone();
            tokio::spawn(async move {
                let decision = if i % 2 == 0 {
                    Decision::Approve { note: None }
                } else {
                    Decision::Deny {
                        reason: format!("no {i}"),
                    }
                };
                decide_promotion::decide(
                    store.as_ref(),
                    &human(&format!("human-{i}")),
                    &id,
                    &decision,
                    &settings(),
                )
                .await
            })
        })
        .collect();
    let mut won = Vec::new();
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(view) => won.push(view),
            Err(ApprovalError::Refused(DecisionRefused::AlreadyDecided(_))) => refused += 1,
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!((won.len(), refused), (1, 49));
    let decided = store.promotion(&id).await.unwrap().unwrap();
    let expected = if decided.decision_note.is_some() {
        PromotionState::Denied
    } else {
        PromotionState::Promoted
    };
    assert_eq!(decided.state, expected);
    let champion = champion(store.as_ref()).await;
    assert_eq!(champion == "v2", expected == PromotionState::Promoted);
    let history = store.alias_history("m").await.unwrap();
    assert_eq!(history.len(), if champion == "v2" { 2 } else { 1 });
}

#[tokio::test]
async fn no_path_lets_the_wrong_person_or_stale_evidence_promote() {
    let (_dir, store) = setup().await;
    let id = request(store.as_ref(), "v2").await.unwrap().promotion.id;
    let approve = Decision::Approve { note: None };

    // The agent has no promotion:approve.
    let e = decide_promotion::decide(store.as_ref(), &agent(), &id, &approve, &settings())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("promotion:approve"), "{e}");
    // The requester, even holding promotion:approve, cannot decide its own request.
    let e = decide_promotion::decide(store.as_ref(), &human("agent"), &id, &approve, &settings())
        .await
        .unwrap_err();
    assert!(
        matches!(e, ApprovalError::Refused(DecisionRefused::OwnRequest(_))),
        "{e}"
    );
    // A second request for the model returns the open one.
    let again = request(store.as_ref(), "v2").await.unwrap();
    assert!(!again.created);
    assert_eq!(again.promotion.id, id);
    // After the expiry, nobody can approve.
    let late = Utc::now() + Duration::hours(25);
    let e = store
        .decide_promotion(&id, "alice", &approve, late)
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(e, DecisionRefused::Expired(_)), "{e}");
    assert_eq!(champion(store.as_ref()).await, "v1");

    // The candidate's artifact changes after the request: the approval fails, nothing moves.
    sqlx::query(
        "UPDATE model_versions SET artifact_digest = 'sha256:tampered' WHERE version = 'v2'",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let view =
        decide_promotion::decide(store.as_ref(), &human("alice"), &id, &approve, &settings())
            .await
            .unwrap();
    assert_eq!(view.promotion.state, PromotionState::Failed);
    assert!(
        view.promotion
            .failure_reason
            .as_deref()
            .unwrap()
            .contains("artifact changed"),
        "{:?}",
        view.promotion.failure_reason
    );
    assert_eq!(champion(store.as_ref()).await, "v1");
    // Replaying the used approval is refused.
    let e = decide_promotion::decide(store.as_ref(), &human("bob"), &id, &approve, &settings())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ApprovalError::Refused(DecisionRefused::AlreadyDecided("failed"))
        ),
        "{e}"
    );
}

#[tokio::test]
async fn a_changed_champion_or_validation_report_fails_the_approval() {
    let (_dir, store) = setup().await;
    let id = request(store.as_ref(), "v2").await.unwrap().promotion.id;
    // Someone moved the champion in between (a rollback, another promotion).
    store
        .register_version(&version("v4", 0.9, 0.5))
        .await
        .unwrap();
    store
        .set_alias("m", CHAMPION, "v4", "ops", "hotfix")
        .await
        .unwrap();
    let view = approve_as(store.as_ref(), "alice", &id).await;
    assert_eq!(view.promotion.state, PromotionState::Failed);
    assert!(
        view.promotion
            .failure_reason
            .unwrap()
            .contains("champion changed")
    );
    assert_eq!(champion(store.as_ref()).await, "v4");

    // A validation report edited after the request.
    store
        .set_alias("m", CHAMPION, "v1", "ops", "back")
        .await
        .unwrap();
    let id = request(store.as_ref(), "v2").await.unwrap().promotion.id;
    let p = store.promotion(&id).await.unwrap().unwrap();
    let v = store.validation(&p.validation_id).await.unwrap().unwrap();
    let mut edited = v.clone();
    edited.report = edited.report.replace("0.860000", "0.990000");
    sqlx::query("UPDATE validations SET body = $1 WHERE id = $2")
        .bind(serde_json::to_string(&edited).unwrap())
        .bind(&v.id)
        .execute(store.pool())
        .await
        .unwrap();
    let view = approve_as(store.as_ref(), "alice", &id).await;
    assert_eq!(view.promotion.state, PromotionState::Failed);
    assert!(
        view.promotion
            .failure_reason
            .unwrap()
            .contains("validation report changed")
    );
    assert_eq!(champion(store.as_ref()).await, "v1");
}

#[tokio::test]
async fn a_rollback_to_a_former_champion_goes_through_the_same_gate() {
    let (_dir, store) = setup().await;
    let id = request(store.as_ref(), "v2").await.unwrap().promotion.id;
    approve_as(store.as_ref(), "alice", &id).await;
    assert_eq!(champion(store.as_ref()).await, "v2");

    // v1 is worse than v2, so its validation fails: a normal request is refused …
    let refused = request(store.as_ref(), "v1").await.unwrap_err();
    assert!(
        refused.to_string().contains("did not pass validation"),
        "{refused}"
    );
    let rollback = |v: &'static str| {
        let store = store.clone();
        async move {
            let validation = get_validation::get_validation(
                store.as_ref(),
                &Registries::default(),
                &agent(),
                &get_validation::GetValidationInput {
                    model: Some("m".into()),
                    version: Some(v.into()),
                    job_id: None,
                },
            )
            .await
            .unwrap();
            request_promotion::request_promotion(
                store.as_ref(),
                &agent(),
                &RequestPromotionInput {
                    model: "m".into(),
                    candidate_version: v.into(),
                    validation_id: validation.validation.id,
                    justification: "v2 misbehaves in production".into(),
                    rollback: true,
                },
                &settings(),
                "trace-2",
            )
            .await
        }
    };
    // … a version that was never champion is no rollback …
    let e = rollback("v3").await.unwrap_err();
    assert!(e.to_string().contains("never the champion"), "{e}");
    // … and a rollback to v1 waits for a human like any promotion.
    let view = rollback("v1").await.unwrap();
    assert!(view.promotion.rollback);
    assert_eq!(view.promotion.state, PromotionState::PendingApproval);
    assert_eq!(champion(store.as_ref()).await, "v2");
    let e = decide_promotion::decide(
        store.as_ref(),
        &human("agent"),
        &view.promotion.id,
        &Decision::Approve { note: None },
        &settings(),
    )
    .await
    .unwrap_err();
    assert!(matches!(
        e,
        ApprovalError::Refused(DecisionRefused::OwnRequest(_))
    ));
    let done = approve_as(store.as_ref(), "bob", &view.promotion.id).await;
    assert_eq!(done.promotion.state, PromotionState::Promoted);
    assert_eq!(champion(store.as_ref()).await, "v1");
    let history: Vec<String> = store
        .alias_history("m")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.version)
        .collect();
    assert_eq!(history, ["v1", "v2", "v1"]);
}
