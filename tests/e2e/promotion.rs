//! The demo's whole loop with the real binary: drift → retrain (the real trainer) → validation
//! passes → promotion requested by the agent → refused to the agent and to the requester →
//! approved on the command line by a different human → `v2` is champion, and one trace holds
//! every step with every actor.

use crate::common;

use common::{HttpServer, Workspace, post, tools};
use mlops_engine::check_drift::{CheckDriftOutput, RecommendedAction};
use mlops_engine::get_job::JobView;
use mlops_engine::get_validation::ValidationView;
use mlops_engine::jobs::JobState;
use mlops_engine::list_models::ListModelsOutput;
use mlops_engine::list_models::ModelState;
use mlops_engine::promotion::PromotionState;
use mlops_engine::promotion_gate::PromotionView;
use mlops_engine::trigger_retrain::TriggerRetrainOutput;
use mlops_engine::validation::{BaselineSource, Verdict};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Calls a tool with a trace id in `_meta`, so every call joins one trace.
async fn traced(server: &HttpServer, token: &str, trace: &str, name: &str, args: Value) -> Value {
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": name, "arguments": args, "_meta": {"io.mlops-mcp/traceId": trace}},
    });
    let (status, _, answer) =
        post(server, Some(&format!("Bearer {token}")), &body.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    answer["result"].clone()
}

/// A traced call's output as the tool's own type.
fn typed<T: DeserializeOwned>(name: &str, result: Value) -> T {
    tools::output(name, &result)
}

fn approvals(ws: &Workspace, token: &str, args: &[&str]) -> std::process::Output {
    ws.command()
        .arg("approvals")
        .args(args)
        .env("MLOPS_MCP_TOKEN", token)
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_demo_loop_ends_with_v2_as_champion_after_a_human_approves() {
    let ws = Workspace::demo();
    let server = HttpServer::start(&ws);
    let agent = ws.token("demo-agent", "agent");
    let trace = uuid::Uuid::new_v4().to_string();
    let call = |name: &'static str, args: Value| {
        let (server, agent, trace) = (&server, agent.clone(), trace.clone());
        async move { traced(server, &agent, &trace, name, args).await }
    };

    let drift: CheckDriftOutput = typed(
        "check_drift",
        call("check_drift", json!({"model": "fraud-detector"})).await,
    );
    assert_eq!(drift.recommended_action, RecommendedAction::Retrain);
    let job: TriggerRetrainOutput = typed(
        "trigger_retrain",
        call(
            "trigger_retrain",
            json!({"model": "fraud-detector", "reason": "drift", "drift_report_id": drift.report_id}),
        )
        .await,
    );
    let job_id = job.job.id;
    let mut done = None;
    for _ in 0..5 {
        let view: JobView = typed(
            "get_job",
            call("get_job", json!({"job_id": job_id, "wait_seconds": 60})).await,
        );
        let ended = view.state == JobState::Succeeded;
        done = Some(view);
        if ended {
            break;
        }
    }
    let done = done.unwrap();
    assert_eq!(done.produced_version.as_deref(), Some("v2"), "{done:?}");

    // Validated against v1 measured on the same drifted holdout.
    let validation: ValidationView = typed(
        "get_validation",
        call("get_validation", json!({"job_id": job_id})).await,
    );
    let v = &validation.validation;
    assert_eq!(v.verdict, Verdict::Passed, "{}", v.report);
    assert_eq!(v.baseline_source, BaselineSource::SameHoldout);
    assert_eq!(v.champion_version.as_deref(), Some("v1"));
    assert_eq!(v.checks.len(), 2);
    assert!(v.report.contains("**Verdict: passed**"));
    // What no rule covers is shown too, and the demo's v2 is less accurate than v1.
    let accuracy = v.other_metrics.iter().find(|m| m.metric == "accuracy");
    assert!(
        accuracy.is_some_and(|m| m.regressed),
        "{:?}",
        v.other_metrics
    );
    assert!(v.report.contains("**regressed**"), "{}", v.report);
    // Per segment of the holdout, as the demo trainer measured both: v2 learnt the crypto risk.
    let crypto = v
        .segments
        .iter()
        .find(|s| s.feature == "merchant_category" && s.category == "crypto")
        .expect("the crypto segment");
    assert!(crypto.rows >= 20);
    let auc = crypto
        .metrics
        .iter()
        .find(|m| m.metric == "roc_auc")
        .unwrap();
    assert!(!auc.regressed && auc.candidate > auc.champion, "{crypto:?}");
    assert_eq!(auc.change, auc.candidate - auc.champion);
    assert!(
        v.report.contains("Per segment of the holdout")
            && v.report.contains("| ` merchant_category ` | ` crypto ` |"),
        "{}",
        v.report
    );

    let requested: PromotionView = typed(
        "request_promotion",
        call(
            "request_promotion",
            json!({
                "model": "fraud-detector",
                "candidate_version": "v2",
                "validation_id": v.id,
                "justification": "v2 beats v1 on the drifted holdout (roc_auc and f1)",
            }),
        )
        .await,
    );
    assert_eq!(requested.promotion.state, PromotionState::PendingApproval);
    assert!(requested.created);
    let request_id = requested.promotion.id.clone();
    assert!(requested.approval_url.ends_with(&request_id));
    let listed: ListModelsOutput = typed("list_models", call("list_models", json!({})).await);
    let row = &listed.models[0];
    assert_eq!(row.state, ModelState::PromotionPending, "{listed:?}");
    assert!(
        row.next_step.as_ref().unwrap().contains(&request_id),
        "{listed:?}"
    );

    // The agent cannot approve: no promotion:approve …
    let out = approvals(&ws, &agent, &["approve", &request_id]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("promotion:approve"));
    // … and a token for the requester that has it still cannot approve its own request, nor
    // one whose subject differs only by whitespace or case.
    for sub in ["demo-agent", "demo-agent ", " Demo-Agent", "DEMO-AGENT\t"] {
        // Signed directly: `token issue` refuses a padded subject.
        let claims = ws.claims(sub, "promotion:approve models:read", 600);
        let own = ws.keys().sign(&claims).unwrap();
        let out = approvals(&ws, &own, &["approve", &request_id]);
        assert_eq!(out.status.code(), Some(2), "{sub:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("cannot decide"),
            "{sub:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        ws.model("fraud-detector")
            .await
            .aliased("champion")
            .unwrap()
            .version,
        "v1"
    );

    // A different human sees it and approves it.
    let alice = ws.token("alice", "promotion:approve,models:read");
    let out = approvals(&ws, &alice, &["list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&request_id));
    let out = approvals(&ws, &alice, &["show", &request_id]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("**Verdict: passed**") && shown.contains("demo-agent"),
        "{shown}"
    );
    let out = approvals(
        &ws,
        &alice,
        &["approve", &request_id, "--note", "looks good"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("v2 is now the champion"));
    let model = ws.model("fraud-detector").await;
    assert_eq!(model.aliased("champion").unwrap().version, "v2");
    // A replay of the approval is refused.
    let out = approvals(&ws, &alice, &["approve", &request_id]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already decided"));

    let promotion: PromotionView = typed(
        "get_promotion",
        call("get_promotion", json!({"request_id": request_id})).await,
    );
    let p = &promotion.promotion;
    assert_eq!(p.state, PromotionState::Promoted);
    assert_eq!(p.decided_by.as_deref(), Some("alice"));
    assert_eq!(p.decision_note.as_deref(), Some("looks good"));

    // One trace: every step, every actor.
    let events: Vec<(String, String)> = ws
        .traces()
        .await
        .into_iter()
        .filter(|e| e.trace_id == trace)
        .map(|e| (e.action, e.principal))
        .collect();
    for (action, who) in [
        ("check_drift", "demo-agent"),
        ("trigger_retrain", "demo-agent"),
        ("retrain.created", "demo-agent"),
        ("retrain.started", "mlops-mcp"),
        ("retrain.finished", "mlops-mcp"),
        ("validation.created", "mlops-mcp"),
        ("get_validation", "demo-agent"),
        ("request_promotion", "demo-agent"),
        ("promotion.decision_refused", "demo-agent"),
        ("promotion.approved", "alice"),
        ("promotion.promoted", "alice"),
        // The drift alert: opened by the check, acknowledged by the job, resolved by the
        // promotion.
        ("alert.opened", "demo-agent"),
        ("alert.acknowledged", "demo-agent"),
        ("alert.resolved", "alice"),
    ] {
        assert!(
            events.iter().any(|(a, p)| a == action && p == who),
            "{action} by {who} missing: {events:?}"
        );
    }
    let alerts = ws.store().await.alerts(false, 10).await.unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].state, mlops_engine::alert::AlertState::Resolved);
    assert_eq!(alerts[0].note, "v2 promoted to champion by alice");
    let out = ws.command().args(["traces", "verify"]).output().unwrap();
    assert!(out.status.success());
}

#[tokio::test]
async fn expired_or_changed_evidence_is_refused_on_the_cli_and_traced() {
    let ws = Workspace::demo();
    let server = HttpServer::start(&ws);
    let agent = ws.token("demo-agent", "agent");
    let alice = ws.token("alice", "promotion:approve,models:read");
    let id = common::pending_promotion(&server, &agent).await;
    let store = mlops_engine::store::SqlStore::open(&ws.db_url(), ws.chain_key())
        .await
        .unwrap();

    // The request's expiry passes (moved into the past rather than waited for); the server
    // reports it expired and approving is refused.
    sqlx::query("UPDATE promotions SET expires_us = $1 WHERE id = $2")
        .bind((chrono::Utc::now() - chrono::Duration::seconds(1)).timestamp_micros())
        .bind(&id)
        .execute(store.pool())
        .await
        .unwrap();
    let p = tools::get_promotion(&server, &agent, json!({"request_id": id})).await;
    assert_eq!(p.promotion.state, PromotionState::Expired, "{p:?}");
    let out = approvals(&ws, &alice, &["approve", &id]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expired"));
    let champion = |ws: &Workspace| {
        let (url, key) = (ws.db_url(), ws.chain_key());
        async move {
            let store = mlops_engine::store::open(&url, key).await.unwrap();
            let m = store.get_model("fraud-detector").await.unwrap().unwrap();
            m.aliased("champion").unwrap().version.clone()
        }
    };
    assert_eq!(champion(&ws).await, "v1");

    // A new request (the expired one no longer blocks), then the candidate's artifact changes:
    // the approval fails, nothing moves.
    let validation = tools::get_validation(
        &server,
        &agent,
        json!({"model": "fraud-detector", "version": "v2"}),
    )
    .await;
    let request = tools::request_promotion(
        &server,
        &agent,
        json!({
            "model": "fraud-detector",
            "candidate_version": "v2",
            "validation_id": validation.validation.id,
            "justification": "second try",
        }),
    )
    .await;
    let second = request.promotion.id;
    assert_ne!(second, id);
    sqlx::query(
        "UPDATE model_versions SET artifact_digest = 'sha256:swapped' WHERE version = 'v2'",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let out = approvals(&ws, &alice, &["approve", &second]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("artifact changed"));
    assert_eq!(champion(&ws).await, "v1");

    let events = ws.traces().await;
    assert!(
        events
            .iter()
            .any(|e| e.action == "promotion.decision_refused"
                && e.principal == "alice"
                && e.rationale.contains("expired"))
    );
    assert!(
        events
            .iter()
            .any(|e| e.action == "promotion.failed" && e.rationale.contains("artifact changed"))
    );
}

/// What an agent wrote reaches the approver's terminal as text: `approvals show` and the error
/// of a refused decision carry none of its escape sequences.
#[tokio::test]
async fn the_cli_shows_an_agents_text_without_terminal_escapes() {
    let ws = Workspace::demo();
    let server = HttpServer::start(&ws);
    let agent = ws.token("demo-agent", "agent");
    let hostile = "fine\u{1b}[2J\u{1b}]0;approved by security\u{7}\u{202e}evorppa";
    let id = common::pending_promotion_with(&server, &agent, hostile).await;
    let alice = ws.token("alice", "promotion:approve,models:read");
    let out = approvals(&ws, &alice, &["show", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = String::from_utf8(out.stdout).unwrap();
    assert!(
        shown.contains("fine[2J]0;approved by securityevorppa"),
        "{shown}"
    );
    for c in ['\u{1b}', '\u{7}', '\u{202e}'] {
        assert!(!shown.contains(c), "{c:?} in {shown:?}");
    }
    let listed = approvals(&ws, &alice, &["list"]);
    assert!(!listed.stdout.contains(&0x1b));
    // Stored as text without its controls, so every channel shows the same characters.
    let p = tools::get_promotion(&server, &agent, json!({"request_id": id})).await;
    assert_eq!(
        p.promotion.justification,
        "fine[2J]0;approved by securityevorppa"
    );
}
