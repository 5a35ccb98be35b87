//! Group commit for trace events: callers hand events to one writer task, which appends whatever
//! has queued up in a single transaction and answers each caller once its event is durable.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::store::Store;
use crate::trace::{NewTraceEvent, TraceEvent};

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
}

impl TraceLog {
    /// Starts the writer task on the current runtime.
    pub fn spawn(store: Arc<dyn Store>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(store, rx));
        Self { tx }
    }

    /// Records `event` and returns it as stored, once committed.
    pub async fn record(&self, event: NewTraceEvent) -> Result<TraceEvent, TraceLogError> {
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

async fn write_batches(store: Arc<dyn Store>, mut rx: mpsc::Receiver<(NewTraceEvent, Reply)>) {
    let mut batch: Vec<(NewTraceEvent, Reply)> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let events: Vec<NewTraceEvent> = batch.iter().map(|(e, _)| e.clone()).collect();
        match store.append_traces(&events).await {
            Ok(stored) => {
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
