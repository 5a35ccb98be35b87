//! The decision trace: appends chained under the key, reads by trace and by sequence.

use sqlx::{AnyConnection, FromRow};

use crate::StoreError;
use crate::chain_key::ChainKey;
use crate::trace::{self, GENESIS_HASH, NewTraceEvent, TraceEvent};

use super::{APPEND_ATTEMPTS, Dialect, SqlStore, TRACE_COLUMNS, TRACE_ROWS_PER_INSERT};

impl SqlStore {
    /// Appends `events` after the head read under the write lock.
    pub(super) async fn try_append(
        &self,
        events: &[NewTraceEvent],
    ) -> Result<Vec<TraceEvent>, StoreError> {
        let mut tx = self.write_tx().await?;
        let head: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM trace_events ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
        let head = head.unwrap_or_else(|| (0, GENESIS_HASH.to_owned()));
        let stored = chained(&self.chain_key, events, head);
        for chunk in stored.chunks(TRACE_ROWS_PER_INSERT) {
            insert_traces(&mut tx, self.dialect, chunk).await?;
        }
        tx.commit().await?;
        Ok(stored)
    }

    /// SQLite: appends `events` after the head this process wrote last, in one autocommitted
    /// statement, without a transaction or a read. `None` when that head is unknown or no longer
    /// the head (someone else appended: the primary key refuses the sequence number), or the
    /// batch needs more than one statement; the caller then takes the locked path.
    pub(super) async fn append_after_known_head(
        &self,
        events: &[NewTraceEvent],
    ) -> Result<Option<Vec<TraceEvent>>, StoreError> {
        if self.dialect != Dialect::Sqlite || events.len() > TRACE_ROWS_PER_INSERT {
            return Ok(None);
        }
        let Some(head) = self.trace_head.lock().ok().and_then(|h| h.clone()) else {
            return Ok(None);
        };
        let stored = chained(&self.chain_key, events, head);
        let mut conn = self.pool.acquire().await?;
        match insert_traces(&mut conn, self.dialect, &stored).await {
            Ok(()) => Ok(Some(stored)),
            Err(StoreError::Database(sqlx::Error::Database(e))) if e.is_unique_violation() => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Remembers the newest of `stored` as the chain's head.
    pub(super) fn remember_head(&self, stored: &[TraceEvent]) {
        if let Some(last) = stored.last()
            && let Ok(mut head) = self.trace_head.lock()
        {
            *head = Some((last.seq, last.hash.clone()));
        }
    }
}

pub(super) async fn append_traces(
    s: &SqlStore,
    events: &[NewTraceEvent],
) -> Result<Vec<TraceEvent>, StoreError> {
    if let Some(stored) = s.append_after_known_head(events).await? {
        s.remember_head(&stored);
        return Ok(stored);
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        match s.try_append(events).await {
            Ok(stored) => {
                s.remember_head(&stored);
                return Ok(stored);
            }
            // Another process appended between our read of the head and our insert.
            Err(StoreError::Database(sqlx::Error::Database(e)))
                if (e.is_unique_violation() || e.code().as_deref() == Some("5"))
                    && attempt < APPEND_ATTEMPTS => {}
            Err(e) => return Err(e),
        }
    }
}

pub(super) async fn trace(s: &SqlStore, trace_id: &str) -> Result<Vec<TraceEvent>, StoreError> {
    let rows: Vec<TraceRow> = sqlx::query_as(
        "SELECT seq, trace_id, at, principal, action, arguments, outcome, rationale, \
         duration_us, prev_hash, hash FROM trace_events WHERE trace_id = $1 ORDER BY seq",
    )
    .bind(trace_id)
    .fetch_all(&s.pool)
    .await?;
    rows.into_iter().map(TraceRow::into_event).collect()
}

pub(super) async fn trace_head(s: &SqlStore) -> Result<Option<TraceEvent>, StoreError> {
    let row: Option<TraceRow> = sqlx::query_as(
        "SELECT seq, trace_id, at, principal, action, arguments, outcome, rationale, \
         duration_us, prev_hash, hash FROM trace_events ORDER BY seq DESC LIMIT 1",
    )
    .fetch_optional(&s.pool)
    .await?;
    row.map(TraceRow::into_event).transpose()
}

pub(super) async fn trace_events_after(
    s: &SqlStore,
    after: i64,
    limit: i64,
) -> Result<Vec<TraceEvent>, StoreError> {
    let rows: Vec<TraceRow> = sqlx::query_as(
        "SELECT seq, trace_id, at, principal, action, arguments, outcome, rationale, \
         duration_us, prev_hash, hash FROM trace_events WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(&s.pool)
    .await?;
    rows.into_iter().map(TraceRow::into_event).collect()
}

/// `events` as the chain continues after `head` (sequence number and hash).
pub(super) fn chained(
    key: &ChainKey,
    events: &[NewTraceEvent],
    head: (i64, String),
) -> Vec<TraceEvent> {
    let (mut seq, mut prev) = head;
    let mut out = Vec::with_capacity(events.len());
    for event in events {
        seq += 1;
        let e = trace::chain(key, event, seq, &prev);
        prev = e.hash.clone();
        out.push(e);
    }
    out
}

/// Inserts `events` (at most `TRACE_ROWS_PER_INSERT`) in one statement: each statement is a
/// round trip to the database.
pub(super) async fn insert_traces(
    conn: &mut AnyConnection,
    dialect: Dialect,
    events: &[TraceEvent],
) -> Result<(), StoreError> {
    let mut sql = String::from(
        "INSERT INTO trace_events (seq, trace_id, at, principal, action, arguments, outcome, \
         rationale, duration_us, prev_hash, hash) VALUES ",
    );
    for row in 0..events.len() {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..TRACE_COLUMNS {
            if column > 0 {
                sql.push_str(", ");
            }
            match dialect {
                // Anonymous: SQLite looks a named parameter up by a linear search, so binding
                // N numbered ones costs N² (sqlx asks for every parameter's name).
                Dialect::Sqlite => sql.push('?'),
                Dialect::Postgres => {
                    sql.push_str(&format!("${}", row * TRACE_COLUMNS + column + 1))
                }
            }
        }
        sql.push(')');
    }
    let mut insert = sqlx::query(&sql);
    for e in events {
        insert = insert
            .bind(e.seq)
            .bind(&e.trace_id)
            .bind(&e.at)
            .bind(&e.principal)
            .bind(&e.action)
            .bind(&e.arguments)
            .bind(e.outcome.as_str())
            .bind(&e.rationale)
            .bind(e.duration_us)
            .bind(&e.prev_hash)
            .bind(&e.hash);
    }
    insert.execute(conn).await?;
    Ok(())
}

#[derive(FromRow)]
pub(super) struct TraceRow {
    seq: i64,
    trace_id: String,
    at: String,
    principal: String,
    action: String,
    arguments: String,
    outcome: String,
    rationale: String,
    duration_us: i64,
    prev_hash: String,
    hash: String,
}

impl TraceRow {
    fn into_event(self) -> Result<TraceEvent, StoreError> {
        Ok(TraceEvent {
            outcome: trace::parse_outcome(&self.outcome).map_err(StoreError::Corrupt)?,
            seq: self.seq,
            trace_id: self.trace_id,
            at: self.at,
            principal: self.principal,
            action: self.action,
            arguments: self.arguments,
            rationale: self.rationale,
            duration_us: self.duration_us,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}
