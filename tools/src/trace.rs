//! Decision traces over the store: sealing a chain written before keys, verifying the whole
//! chain page by page, and who may see or continue a trace. The events and the chain's rules are
//! [`mlops_domain::trace`].

use mlops_domain::chain_key::ChainKey;
pub use mlops_domain::trace::*;

use crate::store::{Store, StoreError};

/// If the chain's newest event carries an unkeyed SHA-256 (a chain written before keys), appends
/// a keyed event that names that head, so the unkeyed prefix ends there: verification accepts
/// unkeyed events only before such a seal. Returns the sealed head's sequence number.
pub async fn seal_legacy_chain(
    store: &dyn Store,
    key: &ChainKey,
) -> Result<Option<i64>, StoreError> {
    let Some(head) = store.trace_head().await? else {
        return Ok(None);
    };
    if event_hash(key, &head) == head.hash || legacy_hash(&head) != head.hash {
        return Ok(None);
    }
    let seal = NewTraceEvent::new(
        uuid::Uuid::new_v4().to_string(),
        "mlops-mcp",
        SEAL_ACTION,
        &serde_json::json!({ "legacy_until": head.seq, "legacy_head": head.hash }),
        Outcome::Ok,
        format!(
            "the chain is keyed from here on; events 1 to {} carry unkeyed SHA-256 hashes",
            head.seq
        ),
        0,
    );
    store.append_traces(&[seal]).await?;
    Ok(Some(head.seq))
}

/// Walks the whole stored chain and reports the first event whose hash or link does not verify
/// under `key` ([`ChainWalk`]).
pub async fn verify_chain(store: &dyn Store, key: &ChainKey) -> Result<ChainReport, StoreError> {
    const PAGE: i64 = 1000;
    let mut walk = ChainWalk::new(key);
    let mut after = 0;
    loop {
        let page = store.trace_events_after(after, PAGE).await?;
        let Some(last) = page.last() else {
            return Ok(walk.finish());
        };
        after = last.seq;
        for e in &page {
            if let Some(broken) = walk.step(e) {
                return Ok(broken);
            }
        }
    }
}

/// Whether `principal` may see `e`: a principal without a model grant sees every event; one
/// with a grant sees its own events and those about models it may access.
pub fn visible_to(e: &TraceEvent, principal: &mlops_auth::Principal) -> bool {
    if principal.models.is_none() || e.principal == principal.subject {
        return true;
    }
    event_model(e).is_some_and(|m| principal.may_access_model(&m))
}

/// Whether `principal` may add events to the trace made of `events`: a trace nobody started
/// yet, one the principal started, or one whose every event it may see. Otherwise its call
/// starts a trace of its own, so nobody can slip events into another's chain of evidence.
pub fn may_continue(events: &[TraceEvent], principal: &mlops_auth::Principal) -> bool {
    match events.first() {
        None => true,
        Some(first) if first.principal == principal.subject => true,
        Some(_) => events.iter().all(|e| visible_to(e, principal)),
    }
}
