//! The trace chain: concurrent writers through the group-commit log produce one gap-free chain
//! that verifies; editing or deleting a stored event makes verification fail at that event.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use mlops_tools::Store;
use mlops_tools::store::SqlStore;
use mlops_tools::trace::{NewTraceEvent, Outcome, verify_chain};
use mlops_tools::trace_log::TraceLog;
use serde_json::json;

async fn store() -> (common::TestDb, Arc<SqlStore>) {
    let db = common::TestDb::new().await;
    let store = Arc::new(db.open().await);
    (db, store)
}

async fn fill(store: Arc<SqlStore>, writers: usize, each: usize) {
    let log = TraceLog::spawn(store);
    let mut tasks = Vec::new();
    for w in 0..writers {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..each {
                let args = json!({"writer": w, "i": i, "api_token": "secret-value"});
                let ev = NewTraceEvent::new(
                    format!("t{w}"),
                    format!("p{w}"),
                    "list_models",
                    &args,
                    Outcome::Ok,
                    "completed",
                    3,
                );
                log.record(ev).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

async fn first_broken(store: &SqlStore) -> mlops_tools::trace::BrokenLink {
    verify_chain(store)
        .await
        .unwrap()
        .first_broken
        .expect("tampering is detected")
}

#[tokio::test]
async fn concurrent_writes_form_one_verifiable_chain() {
    let (_dir, store) = store().await;
    fill(store.clone(), 16, 25).await;
    let report = verify_chain(store.as_ref()).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.events, 400);
    let events = store.trace_events_after(0, 1000).await.unwrap();
    assert!(
        events
            .iter()
            .enumerate()
            .all(|(i, e)| e.seq == i as i64 + 1)
    );
    assert!(
        events.iter().all(|e| !e.arguments.contains("secret-value")),
        "secrets are redacted"
    );
    assert_eq!(store.trace("t3").await.unwrap().len(), 25);
}

/// Two processes append to one chain (each its own connections and writer, as two replicas or
/// the server and the CLI): neither forks it nor loses an event, whichever head each saw last.
#[tokio::test]
async fn two_processes_writing_at_once_form_one_chain() {
    let (db, a) = store().await;
    let b = Arc::new(db.open().await);
    tokio::join!(fill(a.clone(), 8, 40), fill(b.clone(), 8, 40));
    // And once more each, after the other moved the head.
    fill(a.clone(), 1, 3).await;
    fill(b, 1, 3).await;
    let report = verify_chain(a.as_ref()).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.events, 646);
}

/// A batch larger than one INSERT statement takes is stored whole, in order.
#[tokio::test]
async fn a_batch_of_more_events_than_one_statement_holds_is_stored_in_order() {
    let (_db, store) = store().await;
    let events: Vec<NewTraceEvent> = (0..1200)
        .map(|i| {
            NewTraceEvent::new(
                format!("t{i}"),
                "p",
                "list_models",
                &json!({ "i": i }),
                Outcome::Ok,
                "completed",
                1,
            )
        })
        .collect();
    let stored = store.append_traces(&events).await.unwrap();
    assert_eq!(stored.len(), 1200);
    let report = verify_chain(store.as_ref()).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.events, 1200);
    assert_eq!(store.trace("t1199").await.unwrap()[0].seq, 1200);
}

#[tokio::test]
async fn editing_one_event_breaks_verification_there() {
    let (_dir, store) = store().await;
    fill(store.clone(), 2, 50).await;
    sqlx::query("UPDATE trace_events SET outcome = 'refused' WHERE seq = 57")
        .execute(store.pool())
        .await
        .unwrap();
    let broken = first_broken(&store).await;
    assert_eq!(broken.seq, 57);
    assert!(broken.reason.contains("edited"));
}

#[tokio::test]
async fn rewriting_an_event_and_its_hash_breaks_the_next_link() {
    let (_dir, store) = store().await;
    fill(store.clone(), 1, 20).await;
    // A forger who recomputes the edited event's own hash still breaks the link after it.
    let mut e = store.trace_events_after(9, 1).await.unwrap().remove(0);
    e.principal = "someone-else".into();
    e.hash = mlops_tools::trace::event_hash(&e);
    sqlx::query("UPDATE trace_events SET principal = $1, hash = $2 WHERE seq = 10")
        .bind(&e.principal)
        .bind(&e.hash)
        .execute(store.pool())
        .await
        .unwrap();
    let broken = first_broken(&store).await;
    assert_eq!(broken.seq, 11);
}

#[tokio::test]
async fn deleting_an_event_breaks_verification() {
    let (_dir, store) = store().await;
    fill(store.clone(), 1, 10).await;
    sqlx::query("DELETE FROM trace_events WHERE seq = 4")
        .execute(store.pool())
        .await
        .unwrap();
    let broken = first_broken(&store).await;
    assert_eq!(broken.seq, 5);
}
