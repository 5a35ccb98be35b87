//! The trace chain: concurrent writers through the group-commit log produce one gap-free chain
//! that verifies; editing or deleting a stored event makes verification fail at that event.

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

use mlops_engine::Store;
use mlops_engine::store::SqlStore;
use mlops_engine::trace::{NewTraceEvent, Outcome, legacy_hash, seal_legacy_chain, verify_chain};
use mlops_engine::trace_checkpoint::{Checkpoint, CheckpointWriter, verify_with_checkpoint};
use mlops_engine::trace_log::TraceLog;
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

async fn first_broken(store: &SqlStore) -> mlops_engine::trace::BrokenLink {
    verify_chain(store, &common::key())
        .await
        .unwrap()
        .first_broken
        .expect("tampering is detected")
}

#[tokio::test]
async fn concurrent_writes_form_one_verifiable_chain() {
    let (_dir, store) = store().await;
    fill(store.clone(), 16, 25).await;
    let report = verify_chain(store.as_ref(), &common::key()).await.unwrap();
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
    let report = verify_chain(a.as_ref(), &common::key()).await.unwrap();
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
    let report = verify_chain(store.as_ref(), &common::key()).await.unwrap();
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
    e.hash = mlops_engine::trace::event_hash(&common::key(), &e);
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

/// Rewrites events `from..=until` as a forger without the key would: each hash a plain SHA-256
/// of the (possibly edited) event, each link to the rewritten previous hash.
async fn rehash_with_sha256(store: &SqlStore, from: i64, until: i64) {
    let events = store.trace_events_after(0, 100_000).await.unwrap();
    let mut prev = mlops_engine::trace::GENESIS_HASH.to_owned();
    for mut e in events {
        if (from..=until).contains(&e.seq) {
            e.prev_hash = prev.clone();
            e.hash = legacy_hash(&e);
            sqlx::query("UPDATE trace_events SET prev_hash = $1, hash = $2 WHERE seq = $3")
                .bind(&e.prev_hash)
                .bind(&e.hash)
                .bind(e.seq)
                .execute(store.pool())
                .await
                .unwrap();
        }
        prev = e.hash;
    }
}

#[tokio::test]
async fn a_chain_edited_and_rehashed_with_sha256_does_not_verify() {
    let (_dir, store) = store().await;
    fill(store.clone(), 1, 20).await;
    sqlx::query("UPDATE trace_events SET principal = 'someone-else' WHERE seq = 7")
        .execute(store.pool())
        .await
        .unwrap();
    rehash_with_sha256(&store, 1, i64::MAX).await;
    let broken = first_broken(&store).await;
    assert_eq!(broken.seq, 1);
    assert!(
        broken.reason.contains("without the chain key"),
        "{broken:?}"
    );
    // Re-hashing only from the edit on breaks there.
    let (_dir, store) = self::store().await;
    fill(store.clone(), 1, 20).await;
    rehash_with_sha256(&store, 7, i64::MAX).await;
    let broken = first_broken(&store).await;
    assert_eq!(broken.seq, 7);
}

#[tokio::test]
async fn a_deleted_tail_is_caught_by_the_checkpoint() {
    let (db, store) = store().await;
    let path = db.dir().join("checkpoint.json");
    let key = common::key();
    let writer = CheckpointWriter::spawn(path.clone(), key.clone());
    let log = TraceLog::spawn_checkpointed(store.clone(), Default::default(), Some(writer.clone()));
    for i in 0..30 {
        let ev = NewTraceEvent::new(
            "t",
            "p",
            "list_models",
            &json!({ "i": i }),
            Outcome::Ok,
            "",
            1,
        );
        log.record(ev).await.unwrap();
    }
    // The writer runs behind the commits; wait (bounded) until it has written the head.
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        writer.written_through(30),
    )
    .await
    .expect("the checkpoint reaches the head");
    let checkpoint = Checkpoint::read(&path).unwrap().filter(|c| c.seq == 30);
    let checkpoint = checkpoint.expect("the checkpoint reaches the head");
    let intact = verify_with_checkpoint(store.as_ref(), &key, Some(&checkpoint))
        .await
        .unwrap();
    assert!(intact.is_intact(), "{intact:?}");

    sqlx::query("DELETE FROM trace_events WHERE seq > 27")
        .execute(store.pool())
        .await
        .unwrap();
    // What is left is a valid chain; only the checkpoint shows what is missing.
    assert!(
        verify_chain(store.as_ref(), &key)
            .await
            .unwrap()
            .is_intact()
    );
    let report = verify_with_checkpoint(store.as_ref(), &key, Some(&checkpoint))
        .await
        .unwrap();
    let broken = report.first_broken.expect("the deleted tail is detected");
    assert_eq!(broken.seq, 30);
    assert!(broken.reason.contains("ends at event 27"), "{broken:?}");
    // A checkpoint edited to match the shorter chain does not verify.
    let mut forged = checkpoint.clone();
    forged.seq = 27;
    let report = verify_with_checkpoint(store.as_ref(), &key, Some(&forged))
        .await
        .unwrap();
    assert!(report.first_broken.unwrap().reason.contains("signature"));
}

/// A chain written before keys (plain SHA-256) is sealed once: it verifies, and so does what
/// follows, but an edit of its unkeyed part re-hashed without the key does not.
#[tokio::test]
async fn an_unkeyed_chain_from_before_keys_is_sealed() {
    let (db, store) = store().await;
    let key = common::key();
    fill(store.clone(), 1, 10).await;
    rehash_with_sha256(&store, 1, i64::MAX).await;
    assert_eq!(first_broken(&store).await.seq, 1);
    // The server starting on it (a new store handle) seals it.
    let store = Arc::new(db.open().await);
    assert_eq!(
        seal_legacy_chain(store.as_ref(), &key).await.unwrap(),
        Some(10)
    );
    // Sealing twice does nothing: the head is keyed now.
    assert_eq!(seal_legacy_chain(store.as_ref(), &key).await.unwrap(), None);
    fill(store.clone(), 1, 5).await;
    let report = verify_chain(store.as_ref(), &key).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.events, 16);

    sqlx::query("UPDATE trace_events SET principal = 'someone-else' WHERE seq = 3")
        .execute(store.pool())
        .await
        .unwrap();
    // Re-hashed up to the seal: the seal no longer links to it.
    rehash_with_sha256(&store, 3, 10).await;
    let broken = first_broken(&store).await;
    assert_eq!(broken.seq, 11, "{broken:?}");
    // Re-hashed through the keyed part too: nothing is keyed any more.
    rehash_with_sha256(&store, 3, i64::MAX).await;
    let broken = first_broken(&store).await;
    assert_eq!(broken.seq, 1, "{broken:?}");
    assert!(
        broken.reason.contains("without the chain key"),
        "{broken:?}"
    );
}
