//! Replicas: two `mlops-mcp serve --http` processes on one PostgreSQL behave as one server.
//! Concurrent triggers spread over both create one job (the database serialises them), an
//! approval decided through one is seen through the other, and a job whose replica is killed
//! is taken over and finished by the other; both append to one trace chain, and tampering with
//! a row in PostgreSQL makes `traces verify` fail at it. Real processes, real PostgreSQL
//! (`MLOPS_TEST_POSTGRES`, started by `.ci/run`).

use crate::common;

use common::{HttpServer, Workspace, raise_quotas, sh, tools};
use mlops_engine::jobs::JobState;
use mlops_engine::promotion::PromotionState;
use serde_json::json;

async fn postgres_workspace() -> Option<Workspace> {
    Workspace::demo_on_test_postgres().await
}

#[tokio::test]
async fn a_hundred_triggers_spread_over_two_replicas_create_one_job() {
    let Some(ws) = postgres_workspace().await else {
        return;
    };
    ws.edit_retrain(|r| {
        r.insert("command".into(), sh("echo started; exec sleep 600"));
    });
    raise_quotas(&ws);
    let replicas = [HttpServer::start(&ws), HttpServer::start(&ws)];
    let (ids, created, tokens) = common::hundred_triggers(&ws, &[&replicas[0], &replicas[1]]).await;
    assert_eq!((ids.len(), created), (1, 1), "{ids:?}");
    let store = ws.store().await;
    assert_eq!(store.list_jobs(None, 1000).await.unwrap().len(), 1);
    let id = ids.into_iter().next().unwrap();
    // Both replicas answer for it; the CLI (on the same store) cancels it and kills the trainer.
    for server in &replicas {
        let view = tools::get_job(server, &tokens[0], json!({"job_id": id})).await;
        assert_eq!(view.id, id);
    }
    let out = ws.command().args(["jobs", "cancel", &id]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for server in &replicas {
        let view = tools::get_job(server, &tokens[0], json!({"job_id": id})).await;
        assert_eq!(view.state, JobState::Cancelled);
    }
}

/// Signs in to `server`'s approval page; the session cookie.
async fn sign_in(http: &reqwest::Client, server: &HttpServer, token: &str) -> String {
    let r = http
        .post(format!("{}/approvals/login", server.base))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn an_approval_through_one_replica_is_seen_by_the_other() {
    let Some(ws) = postgres_workspace().await else {
        return;
    };
    let (a, b) = (HttpServer::start(&ws), HttpServer::start(&ws));
    let agent = ws.token("demo-agent", "agent");
    let request = common::pending_promotion(&a, &agent).await;
    let seen = tools::get_promotion(&b, &agent, json!({"request_id": request})).await;
    assert_eq!(
        seen.promotion.state,
        PromotionState::PendingApproval,
        "{seen:?}"
    );

    // Alice approves on replica A's page (sessions and CSRF tokens need no shared memory: the
    // page signed in on A also works on B, so any replica can serve any request).
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let alice = ws.token("alice", "promotion:approve,models:read");
    let cookie = sign_in(&http, &a, &alice).await;
    let page = http
        .get(format!("{}/approvals/{request}", b.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "name=\"csrf\" value=\"";
    let at = page.find(marker).unwrap_or_else(|| panic!("{page}")) + marker.len();
    let csrf = page[at..].split('"').next().unwrap();
    let decided = http
        .post(format!("{}/approvals/{request}/approve", a.base))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf), ("note", "approved on replica A")])
        .send()
        .await
        .unwrap();
    assert!(decided.status().is_redirection() || decided.status().is_success());

    let seen = tools::get_promotion(&b, &agent, json!({"request_id": request})).await;
    assert_eq!(seen.promotion.state, PromotionState::Promoted, "{seen:?}");
    assert_eq!(seen.promotion.decided_by.as_deref(), Some("alice"));
    let listed = tools::list_models(&b, &agent).await;
    let champion = listed.models[0].champion.as_deref();
    assert_eq!(champion, Some("v2"), "{listed:?}");
}

#[tokio::test]
async fn a_job_of_a_killed_replica_is_taken_over_and_finished_by_the_other() {
    let Some(ws) = postgres_workspace().await else {
        return;
    };
    let (starts, gate) = common::gated_trainer(&ws);
    let mut a = HttpServer::start(&ws);
    let b = HttpServer::start(&ws);
    let token = ws.token("crash-agent", "agent");
    let triggered = tools::trigger_retrain(
        &a,
        &token,
        json!({"model": "fraud-detector", "reason": "replica crash test"}),
    )
    .await;
    let id = triggered.job.id;
    let pid: i32 = common::run_id(&a, &token, &id).await.parse().unwrap();

    a.signal_and_wait("KILL");
    assert!(mlops_engine::jobs::local::process_alive(pid));
    // B notices (A's process is gone) and takes the job over; then the trainer finishes.
    b.wait_for_log(
        "taking over a retraining job",
        std::time::Duration::from_secs(30),
    );
    common::open_gate(&gate).await;
    let done = common::wait_for_end(&b, &token, &id).await;
    assert_eq!(done.state, JobState::Succeeded, "{done:?}");
    assert_eq!(done.produced_version.as_deref(), Some("v2"));
    assert_eq!(
        std::fs::read_to_string(&starts).unwrap().lines().count(),
        1,
        "the trainer was started once"
    );
    assert!(
        ws.traces()
            .await
            .iter()
            .any(|e| e.action == "retrain.reconciled")
    );
}

#[tokio::test]
async fn tampering_with_one_trace_row_in_postgres_fails_traces_verify_naming_it() {
    let Some(ws) = postgres_workspace().await else {
        return;
    };
    {
        let (a, b) = (HttpServer::start(&ws), HttpServer::start(&ws));
        let agent = ws.token("agent", "agent");
        for i in 0..6 {
            let server = if i % 2 == 0 { &a } else { &b };
            tools::list_models(server, &agent).await;
        }
    }
    let verify = ws.command().args(["traces", "verify"]).output().unwrap();
    let out = String::from_utf8_lossy(&verify.stdout);
    assert_eq!(verify.status.code(), Some(0), "{out}");
    assert!(out.contains("trace chain intact"), "{out}");
    // Both replicas appended to one chain, in one order.
    let events = ws.traces().await;
    assert!(events.len() >= 6);
    assert!(
        events
            .iter()
            .enumerate()
            .all(|(i, e)| e.seq == i as i64 + 1)
    );

    let store = mlops_engine::store::SqlStore::open(&ws.db_url(), ws.chain_key())
        .await
        .unwrap();
    assert_eq!(store.dialect(), mlops_engine::store::Dialect::Postgres);
    sqlx::query("UPDATE trace_events SET principal = 'nobody' WHERE seq = 4")
        .execute(store.pool())
        .await
        .unwrap();
    let verify = ws.command().args(["traces", "verify"]).output().unwrap();
    assert_eq!(verify.status.code(), Some(1));
    let out = String::from_utf8_lossy(&verify.stdout);
    assert!(out.contains("BROKEN at event 4"), "{out}");
}
