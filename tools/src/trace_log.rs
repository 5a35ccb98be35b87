//! Group commit for trace events: callers hand events to one writer task, which appends whatever
//! has queued up in a single transaction and answers each caller once its event is durable.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::secrets::Secrets;
use crate::store::Store;
use crate::trace::{NewTraceEvent, TraceEvent};
use crate::trace_checkpoint::CheckpointWriter;

/// Most events committed in one transaction.
const MAX_BATCH: usize = 512;
/// Events that may wait for the writer before `record` applies back-pressure.
const QUEUE: usize = 4096;

type Reply = oneshot::Sender<Result<TraceEvent, String>>;

/// Why an event could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum TraceLogError {
    #[error("the trace writer has stopped")]
    Stopped,
    #[error("the trace could not be written: {0}")]
    Store(String),
}

/// A handle to the trace writer. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TraceLog {
    tx: mpsc::Sender<(NewTraceEvent, Reply)>,
    /// Held values that never reach a stored event, wherever a caller put them.
    secrets: Secrets,
}

impl TraceLog {
    /// Starts the writer task on the current runtime.
    pub fn spawn(store: Arc<dyn Store>) -> Self {
        Self::spawn_redacting(store, Secrets::default())
    }

    /// Starts the writer task; `secrets` are replaced in every event's arguments and rationale.
    pub fn spawn_redacting(store: Arc<dyn Store>, secrets: Secrets) -> Self {
        Self::spawn_checkpointed(store, secrets, None)
    }

    /// Like [`TraceLog::spawn_redacting`]; after each batch the new head goes to `checkpoints`.
    pub fn spawn_checkpointed(
        store: Arc<dyn Store>,
        secrets: Secrets,
        checkpoints: Option<CheckpointWriter>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(store, rx, checkpoints));
        Self { tx, secrets }
    }

    /// Records `event` and returns it as stored, once committed.
    pub async fn record(&self, mut event: NewTraceEvent) -> Result<TraceEvent, TraceLogError> {
        if !self.secrets.is_empty() {
            event.arguments = redact_held(&self.secrets, &event.arguments);
            event.rationale = self.secrets.redact(&event.rationale);
        }
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((event, reply))
            .await
            .map_err(|_| TraceLogError::Stopped)?;
        answer
            .await
            .map_err(|_| TraceLogError::Stopped)?
            .map_err(TraceLogError::Store)
    }
}

fn redact_held(secrets: &Secrets, value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(secrets.redact(s)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| redact_held(secrets, v)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (secrets.redact(k), redact_held(secrets, v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

async fn write_batches(
    store: Arc<dyn Store>,
    mut rx: mpsc::Receiver<(NewTraceEvent, Reply)>,
    checkpoints: Option<CheckpointWriter>,
) {
    let mut batch: Vec<(NewTraceEvent, Reply)> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let events: Vec<NewTraceEvent> = batch.iter().map(|(e, _)| e.clone()).collect();
        match store.append_traces(&events).await {
            Ok(stored) => {
                if let (Some(c), Some(head)) = (&checkpoints, stored.last()) {
                    c.advance(head.seq, &head.hash);
                }
                for ((_, reply), event) in batch.drain(..).zip(stored) {
                    let _ = reply.send(Ok(event));
                }
            }
            Err(error) => {
                tracing::error!(%error, events = events.len(), "trace batch not written");
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(error.to_string()));
                }
            }
        }
    }
}
