//! The SQL store: one implementation for SQLite (the default: one file, WAL journal, created
//! and migrated on first open) and PostgreSQL (several replicas share one database), through
//! sqlx's `Any` driver. The SQL is common to both (`$N` parameters, which SQLite also reads);
//! what differs is the connection set-up, the migrations and how a writer takes the lock
//! ([`SqlStore::write_tx`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor, FromRow, Row, Transaction};

use crate::admission::{self, History};
use crate::approver_session::ApproverSession;
use crate::chain_key::ChainKey;
use crate::drift_record::{DriftRecord, RecommendedAction};
use crate::evidence;
use crate::jobs::{
    Admission, Budget, Candidate, Job, JobOwner, JobState, JobUpdate, NewJob, OwnerSeen, Replica,
};
use crate::model::{Alias, AliasChange, Baseline, CHAMPION, ModelSpec, ModelVersion, NewVersion};
use crate::promotion::{
    Decision, DecisionRefused, NewPromotion, Opened, Promotion, PromotionState,
};
use crate::trace::{self, GENESIS_HASH, NewTraceEvent, TraceEvent};
use crate::validation::Validation;
use crate::{ModelOverview, ModelRecord, Store, StoreError};

/// How many times an append is retried when another process extended the chain first.
const APPEND_ATTEMPTS: usize = 5;

/// This build's SQLite migrations.
static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
/// This build's PostgreSQL migrations.
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Every connection of a SQLite pool: WAL + NORMAL is durable across process crashes (what we
/// promise; FULL would also cover power loss at a large cost per commit), foreign keys are
/// enforced, and a writer waits up to 10 s for the lock.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
    PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;";

/// Columns of a trace event row, and rows per `INSERT`: 512 × 11 parameters stay within
/// SQLite's (32,766) and PostgreSQL's (65,535) limits, and a group commit of the trace writer
/// (at most 512 events) is one statement.
const TRACE_COLUMNS: usize = 11;
const TRACE_ROWS_PER_INSERT: usize = 512;

/// The PostgreSQL advisory lock every writing transaction takes (see [`SqlStore::write_tx`]).
const WRITE_LOCK: i64 = 0x6d6c_6f70_735f_6d63; // "mlops_mc"

/// Which database a [`SqlStore`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The dialect of a store URL, or an error naming the schemes we support.
    pub fn of(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::Unsupported(format!(
                "unsupported store url `{url}`: use sqlite://PATH or postgres://USER@HOST/DATABASE"
            )))
        }
    }

    fn migrator(self) -> &'static sqlx::migrate::Migrator {
        match self {
            Self::Sqlite => &SQLITE_MIGRATOR,
            Self::Postgres => &POSTGRES_MIGRATOR,
        }
    }
}

/// Overviews as read at a store generation.
type CachedOverviews = (i64, Arc<Vec<ModelOverview>>);

/// Reads of the store generation (see migration 0011), one at a time: a caller takes the value of
/// a read that started after it arrived — that read saw every change committed before the caller
/// asked — or starts one. Under load many callers share one round trip to the database.
#[derive(Debug, Default)]
struct GenerationReads {
    /// Callers so far.
    arrivals: AtomicU64,
    /// The last read: how many callers had arrived when it started, and what it read.
    last: tokio::sync::Mutex<(u64, i64)>,
}

impl GenerationReads {
    async fn read(&self, pool: &AnyPool) -> Result<i64, StoreError> {
        let ticket = self.arrivals.fetch_add(1, Ordering::SeqCst) + 1;
        let mut last = self.last.lock().await;
        if last.0 >= ticket {
            return Ok(last.1);
        }
        let covers = self.arrivals.load(Ordering::SeqCst);
        let n = sqlx::query_scalar("SELECT n FROM store_generation WHERE id = 1")
            .fetch_one(pool)
            .await?;
        *last = (covers, n);
        Ok(n)
    }
}

/// The SQL implementation of [`Store`], on SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
    /// The last overviews read, with the store generation they were read at.
    overviews: Arc<Mutex<Option<CachedOverviews>>>,
    /// Reads of the store generation, shared by the callers waiting for one.
    generation: Arc<GenerationReads>,
    /// The trace chain's head (sequence number, hash) as this process last wrote it.
    trace_head: Arc<Mutex<Option<(i64, String)>>>,
    /// The key every appended trace event is chained under.
    chain_key: ChainKey,
}

impl SqlStore {
    /// Opens and migrates the store at `url`: `sqlite://path` (the file is created if missing)
    /// or `postgres://user:password@host:port/database` (the database must exist).
    pub async fn open(url: &str, chain_key: ChainKey) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::of(url)?;
        let pool = match dialect {
            Dialect::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(8)
                    // A connection to a local file does not go stale; pinging it before every
                    // use would double the round trips to its worker thread.
                    .test_before_acquire(false)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute(SQLITE_PRAGMAS).await?;
                            Ok(())
                        })
                    })
                    .connect(&create_if_missing(url))
                    .await?
            }
            Dialect::Postgres => {
                // One direct connection first: its error says why (refused, authentication, no
                // such database); a pool's says only that it timed out, after 30 s.
                let probe =
                    AnyConnection::connect(url)
                        .await
                        .map_err(|e| StoreError::Unreachable {
                            url: crate::redacted(url),
                            cause: e.to_string(),
                        })?;
                probe.close().await?;
                AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(std::time::Duration::from_secs(10))
                    .connect(url)
                    .await?
            }
        };
        dialect.migrator().run(&pool).await?;
        Ok(Self {
            pool,
            dialect,
            overviews: Arc::default(),
            generation: Arc::default(),
            trace_head: Arc::default(),
            chain_key,
        })
    }

    /// The underlying pool (tests use it to tamper with rows).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Which database this store talks to.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// A transaction that writes after it reads, holding the store's one write lock from its
    /// first statement, so its checks and its writes see the same state whichever process or
    /// connection writes concurrently. SQLite: `BEGIN IMMEDIATE` (a deferred transaction would
    /// fail with SQLITE_BUSY_SNAPSHOT, which no busy timeout retries, whenever another
    /// connection wrote between its read and its write). PostgreSQL: a transaction-scoped
    /// advisory lock, released at commit or rollback, so replicas serialise the same way.
    async fn write_tx(&self) -> Result<Transaction<'static, Any>, StoreError> {
        match self.dialect {
            Dialect::Sqlite => Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?),
            Dialect::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT 1 FROM pg_advisory_xact_lock($1)")
                    .bind(WRITE_LOCK)
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
    }

    async fn versions(&self, model: &str) -> Result<Vec<ModelVersion>, StoreError> {
        let rows: Vec<VersionRow> = sqlx::query_as(
            "SELECT model, version, metrics, artifact_uri, artifact_digest, training_job, \
             data_snapshot, created_by, created_at, baseline_version, baseline_metrics \
             FROM model_versions WHERE model = $1 ORDER BY created_at, version",
        )
        .bind(model)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(VersionRow::into_version).collect()
    }

    async fn aliases(&self, model: &str) -> Result<Vec<Alias>, StoreError> {
        let rows = sqlx::query(
            "SELECT alias, version, set_by, set_at FROM model_aliases WHERE model = $1 ORDER BY alias",
        )
        .bind(model)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Alias {
                    alias: r.try_get("alias")?,
                    version: r.try_get("version")?,
                    set_by: r.try_get("set_by")?,
                    set_at: parse_time(&r.try_get::<String, _>("set_at")?)?,
                })
            })
            .collect()
    }

    async fn record(&self, spec: ModelSpec) -> Result<ModelRecord, StoreError> {
        let versions = self.versions(&spec.name).await?;
        let aliases = self.aliases(&spec.name).await?;
        Ok(ModelRecord {
            spec,
            versions,
            aliases,
        })
    }

    /// Reads every model's overview afresh.
    async fn read_overviews(&self) -> Result<Vec<ModelOverview>, StoreError> {
        let records = self.list_models().await?;
        let mut pending = self
            .list_promotions(Some(PromotionState::PendingApproval), u32::MAX)
            .await?;
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            let name = &record.spec.name;
            let active_job = self
                .list_jobs(Some(name), 1)
                .await?
                .into_iter()
                .find(|j| j.state.is_active());
            let last_drift = self.last_drift_report(name).await?;
            let (mine, others) = pending.into_iter().partition(|p| p.model == *name);
            pending = others;
            out.push(ModelOverview {
                record,
                active_job,
                last_drift,
                pending: mine,
            });
        }
        Ok(out)
    }

    /// Appends `events` after the head read under the write lock.
    async fn try_append(&self, events: &[NewTraceEvent]) -> Result<Vec<TraceEvent>, StoreError> {
        let mut tx = self.write_tx().await?;
        let head = sqlx::query("SELECT seq, hash FROM trace_events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        let head = match head {
            Some(row) => (
                row.try_get::<i64, _>("seq")?,
                row.try_get::<String, _>("hash")?,
            ),
            None => (0, GENESIS_HASH.to_owned()),
        };
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
    async fn append_after_known_head(
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
    fn remember_head(&self, stored: &[TraceEvent]) {
        if let Some(last) = stored.last()
            && let Ok(mut head) = self.trace_head.lock()
        {
            *head = Some((last.seq, last.hash.clone()));
        }
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn job_counts(&self) -> Result<Vec<(JobState, u64)>, StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state")
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|(state, n)| {
                let parsed = JobState::parse(&state)
                    .ok_or_else(|| StoreError::Corrupt(format!("job state `{state}`")))?;
                Ok((parsed, u64::try_from(n).unwrap_or(0)))
            })
            .collect()
    }

    async fn ready(&self) -> Result<(), StoreError> {
        let expected = self
            .dialect
            .migrator()
            .iter()
            .map(|m| m.version)
            .max()
            .unwrap_or(0);
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await?;
        let applied = applied.unwrap_or(0);
        if applied < expected {
            return Err(StoreError::NotReady(format!(
                "the schema is at migration {applied}; this build needs {expected}"
            )));
        }
        Ok(())
    }

    async fn sync_model(&self, spec: &ModelSpec) -> Result<(), StoreError> {
        let json = serde_json::to_string(spec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO models (name, spec, synced_at) VALUES ($1, $2, $3) \
             ON CONFLICT(name) DO UPDATE SET spec = excluded.spec, synced_at = excluded.synced_at",
        )
        .bind(&spec.name)
        .bind(json)
        .bind(Utc::now().to_rfc3339())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_models(&self) -> Result<Vec<ModelRecord>, StoreError> {
        let specs: Vec<(String,)> = sqlx::query_as("SELECT spec FROM models ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(specs.len());
        for (json,) in specs {
            out.push(self.record(parse_spec(&json)?).await?);
        }
        Ok(out)
    }

    async fn get_model(&self, name: &str) -> Result<Option<ModelRecord>, StoreError> {
        let spec: Option<(String,)> = sqlx::query_as("SELECT spec FROM models WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        match spec {
            Some((json,)) => Ok(Some(self.record(parse_spec(&json)?).await?)),
            None => Ok(None),
        }
    }

    async fn register_version(&self, v: &NewVersion) -> Result<ModelVersion, StoreError> {
        let mut conn = self.pool.acquire().await?;
        insert_version(&mut conn, v).await
    }

    async fn set_alias(
        &self,
        model: &str,
        alias: &str,
        version: &str,
        set_by: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        move_alias(&mut tx, model, alias, version, set_by, reason).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn alias_history(&self, model: &str) -> Result<Vec<AliasChange>, StoreError> {
        let rows = sqlx::query(
            "SELECT alias, version, previous_version, set_by, reason, set_at FROM alias_history \
             WHERE model = $1 ORDER BY id",
        )
        .bind(model)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AliasChange {
                    alias: r.try_get("alias")?,
                    version: r.try_get("version")?,
                    previous_version: r.try_get("previous_version")?,
                    set_by: r.try_get("set_by")?,
                    reason: r.try_get("reason")?,
                    set_at: parse_time(&r.try_get::<String, _>("set_at")?)?,
                })
            })
            .collect()
    }

    async fn save_drift_report(&self, r: &DriftRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO drift_reports (id, model, created_at, requested_by, dataset_drift, \
             drifted_share, recommended_action, format, report) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&r.id)
        .bind(&r.model)
        .bind(r.checked_at.to_rfc3339())
        .bind(&r.requested_by)
        .bind(i64::from(r.dataset_drift))
        .bind(r.drifted_share)
        .bind(r.recommended_action.as_str())
        .bind(i64::from(r.format))
        .bind(&r.document)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn drift_report(&self, id: &str) -> Result<Option<DriftRecord>, StoreError> {
        let row: Option<DriftRow> = sqlx::query_as(&format!(
            "SELECT {DRIFT_COLUMNS} FROM drift_reports WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(DriftRow::into_record).transpose()
    }

    async fn insert_records(
        &self,
        model: &str,
        batch: &str,
        records: &[crate::record::NewRecord],
        max_rows: u64,
    ) -> Result<usize, StoreError> {
        let known: Option<(String,)> = sqlx::query_as("SELECT name FROM models WHERE name = $1")
            .bind(model)
            .fetch_optional(&self.pool)
            .await?;
        if known.is_none() {
            return Err(StoreError::UnknownModel(model.to_owned()));
        }
        let now = chrono::Utc::now().to_rfc3339();
        let mut tx = self.write_tx().await?;
        // Counted under the write lock, so concurrent requests cannot pass the budget together.
        let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM records WHERE model = $1")
            .bind(model)
            .fetch_one(&mut *tx)
            .await?;
        let (held, adding) = (u64::try_from(held).unwrap_or(0), records.len() as u64);
        if held.saturating_add(adding) > max_rows {
            tx.rollback().await?;
            return Err(StoreError::OverBudget {
                model: model.to_owned(),
                held,
                adding,
                max: max_rows,
            });
        }
        // Multi-row inserts, within SQLite's limit on bound parameters (32,766).
        for chunk in records.chunks(1000) {
            let sql = multi_row_insert(
                "INSERT INTO records (model, ts_us, data, batch, ingested_at) VALUES ",
                5,
                chunk.len(),
            );
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = q
                    .bind(model)
                    .bind(r.timestamp.timestamp_micros())
                    .bind(&r.data)
                    .bind(batch)
                    .bind(&now);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(records.len())
    }

    async fn records(
        &self,
        model: &str,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT data FROM records WHERE model = $1 AND ts_us >= $2 AND ts_us < $3 \
             ORDER BY ts_us, id LIMIT $4",
        )
        .bind(model)
        .bind(from.timestamp_micros())
        .bind(to.timestamp_micros())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(d,)| d).collect())
    }

    async fn create_job(&self, job: &NewJob, budget: &Budget<'_>) -> Result<Admission, StoreError> {
        // One writer at a time from the first statement: the checks below and the insert see
        // the same state, whichever process or connection triggers concurrently.
        let mut tx = self.write_tx().await?;
        let existing: Option<JobRow> = sqlx::query_as(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE model = $1 AND \
             ((idempotency_key IS NOT NULL AND idempotency_key = $2) \
              OR state IN ('pending', 'running')) \
             ORDER BY (idempotency_key IS NOT NULL AND idempotency_key = $3) DESC LIMIT 1"
        ))
        .bind(&job.model)
        .bind(&job.idempotency_key)
        .bind(&job.idempotency_key)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = existing {
            tx.commit().await?;
            return Ok(Admission::Existing(row.into_job()?));
        }
        let history = history(&mut tx, &job.model, budget.now).await?;
        if let Err(refusal) = admission::check(
            &job.model,
            budget.spec,
            &history,
            budget.max_concurrent,
            budget.now,
        ) {
            tx.rollback().await?;
            return Ok(Admission::Refused(refusal));
        }
        let created = Job::pending(job, budget.now);
        let now = budget.now.to_rfc3339();
        let params =
            serde_json::to_string(&job.params).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let inserted = sqlx::query(
            "INSERT INTO jobs (id, model, backend, state, reason, drift_report_id, \
             idempotency_key, requested_by, params, trace_id, created_at, updated_at) \
             VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&job.id)
        .bind(&job.model)
        .bind(&job.backend)
        .bind(&job.reason)
        .bind(&job.drift_report_id)
        .bind(&job.idempotency_key)
        .bind(&job.requested_by)
        .bind(params)
        .bind(&job.trace_id)
        .bind(&now)
        .bind(&now)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {
                tx.commit().await?;
                Ok(Admission::New(created))
            }
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                Err(StoreError::UnknownModel(job.model.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn get_job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        job_by_id(&mut conn, id).await
    }

    async fn list_jobs(&self, model: Option<&str>, limit: u32) -> Result<Vec<Job>, StoreError> {
        let rows: Vec<JobRow> = sqlx::query_as(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE ($1 IS NULL OR model = $2) \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        ))
        .bind(model)
        .bind(model)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(JobRow::into_job).collect()
    }

    async fn claim_start(&self, id: &str, owner: &str) -> Result<Option<Job>, StoreError> {
        let now = Utc::now().to_rfc3339();
        let claimed = sqlx::query(
            "UPDATE jobs SET state = 'running', raw_state = 'starting', started_at = $1, \
             updated_at = $2, owner = $3 WHERE id = $4 AND state = 'pending'",
        )
        .bind(&now)
        .bind(&now)
        .bind(owner)
        .bind(id)
        .execute(&self.pool)
        .await?;
        if claimed.rows_affected() == 0 {
            return Ok(None);
        }
        self.get_job(id).await
    }

    async fn heartbeat(&self, r: &Replica, now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO replicas (id, host, pid, started_at, heartbeat_us) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT(id) DO UPDATE SET heartbeat_us = excluded.heartbeat_us",
        )
        .bind(&r.id)
        .bind(&r.host)
        .bind(i64::from(r.pid))
        .bind(r.started_at.to_rfc3339())
        .bind(now.timestamp_micros())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn job_owners(&self) -> Result<Vec<JobOwner>, StoreError> {
        type OwnerRow = (
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<i64>,
            Option<i64>,
        );
        let rows: Vec<OwnerRow> = sqlx::query_as(
            "SELECT j.id, j.state, j.created_at, j.owner, r.host, r.pid, r.heartbeat_us \
                 FROM jobs j LEFT JOIN replicas r ON r.id = j.owner \
                 WHERE j.state IN ('pending', 'running') ORDER BY j.created_at",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(job, state, created_at, owner, host, pid, beat)| {
                let state = JobState::parse(&state)
                    .ok_or_else(|| StoreError::Corrupt(format!("state of job {job}")))?;
                let replica = match (host, pid, beat) {
                    (Some(host), Some(pid), Some(beat)) => Some(OwnerSeen {
                        host,
                        pid: u32::try_from(pid).unwrap_or(0),
                        heartbeat: DateTime::from_timestamp_micros(beat).unwrap_or_default(),
                    }),
                    _ => None,
                };
                Ok(JobOwner {
                    created_at: parse_time(&created_at)?,
                    job,
                    state,
                    owner,
                    replica,
                })
            })
            .collect()
    }

    async fn take_over(&self, id: &str, from: Option<&str>, to: &str) -> Result<bool, StoreError> {
        let moved = sqlx::query(
            "UPDATE jobs SET owner = $1 WHERE id = $2 AND state IN ('pending', 'running') \
             AND (owner = $3 OR (owner IS NULL AND $4 IS NULL))",
        )
        .bind(to)
        .bind(id)
        .bind(from)
        .bind(from)
        .execute(&self.pool)
        .await?;
        Ok(moved.rows_affected() == 1)
    }

    async fn update_job(&self, id: &str, u: &JobUpdate) -> Result<Job, StoreError> {
        let mut conn = self.pool.acquire().await?;
        apply_update(&mut conn, id, u).await?;
        job_by_id(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::UnknownJob(id.to_owned()))
    }

    async fn finish_job(
        &self,
        id: &str,
        u: &JobUpdate,
        candidate: Option<&Candidate>,
    ) -> Result<(Job, bool), StoreError> {
        let mut tx = self.write_tx().await?;
        let job = job_by_id(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::UnknownJob(id.to_owned()))?;
        if !job.state.is_active() {
            tx.rollback().await?;
            return Ok((job, false));
        }
        let mut update = u.clone();
        if let Some(c) = candidate {
            let taken: Vec<(String,)> =
                sqlx::query_as("SELECT version FROM model_versions WHERE model = $1")
                    .bind(&job.model)
                    .fetch_all(&mut *tx)
                    .await?;
            let version = match &c.label {
                Some(label) if taken.iter().any(|(v,)| v == label) => {
                    return Err(StoreError::VersionExists {
                        model: job.model.clone(),
                        version: label.clone(),
                    });
                }
                Some(label) => label.clone(),
                None => mlops_domain::version::next_version(taken.iter().map(|(v,)| v.as_str())),
            };
            insert_version(
                &mut tx,
                &NewVersion {
                    model: job.model.clone(),
                    version: version.clone(),
                    metrics: c.metrics.clone(),
                    artifact_uri: c.artifact_uri.clone(),
                    artifact_digest: c.artifact_digest.clone(),
                    training_job: Some(job.id.clone()),
                    data_snapshot: c.data_snapshot.clone(),
                    created_by: job.requested_by.clone(),
                    baseline: c.baseline.clone(),
                },
            )
            .await?;
            update.produced_version = Some(version);
        }
        apply_update(&mut tx, id, &update).await?;
        let job = job_by_id(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::UnknownJob(id.to_owned()))?;
        tx.commit().await?;
        Ok((job, true))
    }

    async fn active_jobs(&self) -> Result<Vec<Job>, StoreError> {
        let rows: Vec<JobRow> = sqlx::query_as(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE state IN ('pending', 'running') ORDER BY created_at"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(JobRow::into_job).collect()
    }

    async fn retrain_history(
        &self,
        model: &str,
        now: DateTime<Utc>,
    ) -> Result<History, StoreError> {
        let mut conn = self.pool.acquire().await?;
        history(&mut conn, model, now).await
    }

    async fn reset_breaker(&self, model: &str, by: &str) -> Result<(), StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO retrain_breaker_resets (model, reset_by, reset_at) VALUES ($1, $2, $3)",
        )
        .bind(model)
        .bind(by)
        .bind(Utc::now().to_rfc3339())
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                Err(StoreError::UnknownModel(model.to_owned()))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn last_drift_report(&self, model: &str) -> Result<Option<DriftRecord>, StoreError> {
        let row: Option<DriftRow> = sqlx::query_as(&format!(
            "SELECT {DRIFT_COLUMNS} FROM drift_reports WHERE model = $1 \
             ORDER BY created_at DESC, rowid DESC LIMIT 1"
        ))
        .bind(model)
        .fetch_optional(&self.pool)
        .await?;
        row.map(DriftRow::into_record).transpose()
    }

    async fn model_overviews(&self) -> Result<Arc<Vec<ModelOverview>>, StoreError> {
        // Read before the rows: a change committed in between makes the cached copy look older
        // than it is (read again next time), never newer.
        let generation = self.generation.read(&self.pool).await?;
        if let Ok(cached) = self.overviews.lock()
            && let Some((at, overviews)) = cached.as_ref()
            && *at == generation
        {
            return Ok(overviews.clone());
        }
        let fresh = Arc::new(self.read_overviews().await?);
        if let Ok(mut cached) = self.overviews.lock()
            && cached.as_ref().is_none_or(|(at, _)| *at <= generation)
        {
            *cached = Some((generation, fresh.clone()));
        }
        Ok(fresh)
    }

    async fn save_validation(&self, v: &Validation) -> Result<(), StoreError> {
        let body = serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let inserted = sqlx::query(
            "INSERT INTO validations (id, model, candidate_version, champion_version, job_id, \
             verdict, report_digest, body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&v.id)
        .bind(&v.model)
        .bind(&v.candidate_version)
        .bind(&v.champion_version)
        .bind(&v.job_id)
        .bind(v.verdict.as_str())
        .bind(&v.report_digest)
        .bind(body)
        .bind(v.created_at.to_rfc3339())
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                Err(StoreError::UnknownModel(v.model.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn validation(&self, id: &str) -> Result<Option<Validation>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT body FROM validations WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|(b,)| parse_validation(&b)).transpose()
    }

    async fn latest_validation(
        &self,
        model: &str,
        version: &str,
    ) -> Result<Option<Validation>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT body FROM validations WHERE model = $1 AND candidate_version = $2 \
             ORDER BY created_at DESC, rowid DESC LIMIT 1",
        )
        .bind(model)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(b,)| parse_validation(&b)).transpose()
    }

    async fn open_promotion(&self, p: &NewPromotion) -> Result<Opened, StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "UPDATE promotions SET state = 'expired', finished_at = $1 \
             WHERE model = $2 AND state = 'pending_approval' AND expires_us <= $3",
        )
        .bind(p.requested_at.to_rfc3339())
        .bind(&p.model)
        .bind(p.requested_at.timestamp_micros())
        .execute(&mut *tx)
        .await?;
        let open: Option<PromotionRow> = sqlx::query_as(&format!(
            "SELECT {PROMOTION_COLUMNS} FROM promotions WHERE model = $1 \
             AND state IN ('pending_approval', 'promoting')"
        ))
        .bind(&p.model)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = open {
            tx.commit().await?;
            return Ok(Opened::Existing(row.into_promotion()?));
        }
        sqlx::query(
            "INSERT INTO promotions (id, model, candidate_version, validation_id, justification, \
             requested_by, requested_at, expires_us, candidate_digest, validation_digest, \
             champion_at_request, state, trace_id, rollback) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending_approval', $12, $13)",
        )
        .bind(&p.id)
        .bind(&p.model)
        .bind(&p.candidate_version)
        .bind(&p.validation_id)
        .bind(&p.justification)
        .bind(&p.requested_by)
        .bind(p.requested_at.to_rfc3339())
        .bind(p.expires_at.timestamp_micros())
        .bind(&p.candidate_digest)
        .bind(&p.validation_digest)
        .bind(&p.champion_at_request)
        .bind(&p.trace_id)
        .bind(i64::from(p.rollback))
        .execute(&mut *tx)
        .await?;
        let created = promotion_by_id(&mut tx, &p.id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("promotion {} vanished", p.id)))?;
        tx.commit().await?;
        Ok(Opened::New(created))
    }

    async fn promotion(&self, id: &str) -> Result<Option<Promotion>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        promotion_by_id(&mut conn, id).await
    }

    async fn list_promotions(
        &self,
        state: Option<PromotionState>,
        limit: u32,
    ) -> Result<Vec<Promotion>, StoreError> {
        let state = state.map(PromotionState::as_str);
        let rows: Vec<PromotionRow> = sqlx::query_as(&format!(
            "SELECT {PROMOTION_COLUMNS} FROM promotions WHERE ($1 IS NULL OR state = $2) \
             ORDER BY requested_at DESC, id LIMIT $3"
        ))
        .bind(state)
        .bind(state)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(PromotionRow::into_promotion).collect()
    }

    async fn decide_promotion(
        &self,
        id: &str,
        by: &str,
        decision: &Decision,
        now: DateTime<Utc>,
    ) -> Result<Result<Promotion, DecisionRefused>, StoreError> {
        let (state, note) = match decision {
            Decision::Approve { note } => ("promoting", note.clone()),
            Decision::Deny { reason } => ("denied", Some(reason.clone())),
        };
        let mut tx = self.write_tx().await?;
        let Some(current) = promotion_by_id(&mut tx, id).await? else {
            tx.rollback().await?;
            return Ok(Err(DecisionRefused::Unknown(id.to_owned())));
        };
        if let Some(r) = DecisionRefused::of(&current, by, now) {
            tx.rollback().await?;
            return Ok(Err(r));
        }
        // The WHERE repeats every rule, so the database itself lets one decision through.
        let decided = sqlx::query(
            "UPDATE promotions SET state = $1, decided_by = $2, decided_at = $3, decision_note = $4, \
             finished_at = CASE WHEN $5 = 'denied' THEN $6 ELSE finished_at END \
             WHERE id = $7 AND state = 'pending_approval' AND requested_by <> $8 AND expires_us > $9",
        )
        .bind(state)
        .bind(by)
        .bind(now.to_rfc3339())
        .bind(note)
        .bind(state)
        .bind(now.to_rfc3339())
        .bind(id)
        .bind(by)
        .bind(now.timestamp_micros())
        .execute(&mut *tx)
        .await?;
        if decided.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(Err(DecisionRefused::AlreadyDecided("decided")));
        }
        let p = promotion_by_id(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("promotion {id} vanished")))?;
        tx.commit().await?;
        Ok(Ok(p))
    }

    async fn complete_promotion(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Promotion, StoreError> {
        let mut tx = self.write_tx().await?;
        let p = promotion_by_id(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("promotion {id} is not known")))?;
        if p.state != PromotionState::Promoting {
            tx.rollback().await?;
            return Ok(p);
        }
        let failure = broken_precondition(&mut tx, &p).await?;
        if failure.is_none() {
            let reason = format!(
                "promotion {} approved by {}: {}",
                p.id,
                p.decided_by.as_deref().unwrap_or("unknown"),
                p.justification
            );
            move_alias(
                &mut tx,
                &p.model,
                CHAMPION,
                &p.candidate_version,
                p.decided_by.as_deref().unwrap_or("unknown"),
                &reason,
            )
            .await?;
        }
        sqlx::query(
            "UPDATE promotions SET state = $1, failure_reason = $2, finished_at = $3 WHERE id = $4",
        )
        .bind(if failure.is_none() {
            "promoted"
        } else {
            "failed"
        })
        .bind(&failure)
        .bind(now.to_rfc3339())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let done = promotion_by_id(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("promotion {id} vanished")))?;
        tx.commit().await?;
        Ok(done)
    }

    async fn fail_promotion(
        &self,
        id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Promotion, StoreError> {
        sqlx::query(
            "UPDATE promotions SET state = 'failed', failure_reason = $1, finished_at = $2 \
             WHERE id = $3 AND state = 'promoting'",
        )
        .bind(reason)
        .bind(now.to_rfc3339())
        .bind(id)
        .execute(&self.pool)
        .await?;
        self.promotion(id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("promotion {id} is not known")))
    }

    async fn record_delivery(&self, id: &str) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO webhook_deliveries (id, received_at) VALUES ($1, $2) ON CONFLICT(id) DO NOTHING",
        )
        .bind(id)
        .bind(Utc::now().to_rfc3339())
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    async fn create_session(&self, s: &ApproverSession) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM approver_sessions WHERE expires_us <= $1")
            .bind(s.created_at.timestamp_micros())
            .execute(&self.pool)
            .await?;
        let models = match &s.models {
            Some(m) => {
                Some(serde_json::to_string(m).map_err(|e| StoreError::Corrupt(e.to_string()))?)
            }
            None => None,
        };
        sqlx::query(
            "INSERT INTO approver_sessions (id_hash, subject, scopes, models, created_us, expires_us) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&s.id_hash)
        .bind(&s.subject)
        .bind(s.scopes.join(" "))
        .bind(models)
        .bind(s.created_at.timestamp_micros())
        .bind(s.expires_at.timestamp_micros())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ApproverSession>, StoreError> {
        let row = sqlx::query(
            "SELECT subject, scopes, models, created_us, expires_us FROM approver_sessions \
             WHERE id_hash = $1 AND expires_us > $2",
        )
        .bind(id_hash)
        .bind(now.timestamp_micros())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let models: Option<String> = row.try_get("models")?;
        let models = models
            .map(|m| serde_json::from_str(&m))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("approver session models: {e}")))?;
        let scopes: String = row.try_get("scopes")?;
        let at = |us: i64| DateTime::from_timestamp_micros(us).unwrap_or_default();
        Ok(Some(ApproverSession {
            id_hash: id_hash.to_owned(),
            subject: row.try_get("subject")?,
            scopes: scopes.split_whitespace().map(str::to_owned).collect(),
            models,
            created_at: at(row.try_get("created_us")?),
            expires_at: at(row.try_get("expires_us")?),
        }))
    }

    async fn revoke_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        let deleted = sqlx::query("DELETE FROM approver_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() == 1)
    }

    async fn append_traces(&self, events: &[NewTraceEvent]) -> Result<Vec<TraceEvent>, StoreError> {
        if let Some(stored) = self.append_after_known_head(events).await? {
            self.remember_head(&stored);
            return Ok(stored);
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_append(events).await {
                Ok(stored) => {
                    self.remember_head(&stored);
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

    async fn trace(&self, trace_id: &str) -> Result<Vec<TraceEvent>, StoreError> {
        let rows: Vec<TraceRow> = sqlx::query_as(
            "SELECT seq, trace_id, at, principal, action, arguments, outcome, rationale, \
             duration_us, prev_hash, hash FROM trace_events WHERE trace_id = $1 ORDER BY seq",
        )
        .bind(trace_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(TraceRow::into_event).collect()
    }

    async fn trace_head(&self) -> Result<Option<TraceEvent>, StoreError> {
        let row: Option<TraceRow> = sqlx::query_as(
            "SELECT seq, trace_id, at, principal, action, arguments, outcome, rationale, \
             duration_us, prev_hash, hash FROM trace_events ORDER BY seq DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(TraceRow::into_event).transpose()
    }

    async fn trace_events_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<TraceEvent>, StoreError> {
        let rows: Vec<TraceRow> = sqlx::query_as(
            "SELECT seq, trace_id, at, principal, action, arguments, outcome, rationale, \
             duration_us, prev_hash, hash FROM trace_events WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(TraceRow::into_event).collect()
    }
}

/// `prefix` followed by `rows` tuples of `columns` numbered parameters (`($1, $2), ($3, $4)`):
/// sqlx's query builder writes `?` through the `Any` driver, which PostgreSQL does not read.
fn multi_row_insert(prefix: &str, columns: usize, rows: usize) -> String {
    let mut sql = String::with_capacity(prefix.len() + rows * columns * 6);
    sql.push_str(prefix);
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(row * columns + column + 1).to_string());
        }
        sql.push(')');
    }
    sql
}

/// `url` with `mode=rwc` (read, write, create) unless it names a mode.
fn create_if_missing(url: &str) -> String {
    if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// Points `alias` at `version` and records the move in the alias history.
async fn move_alias(
    conn: &mut AnyConnection,
    model: &str,
    alias: &str,
    version: &str,
    set_by: &str,
    reason: &str,
) -> Result<(), StoreError> {
    let exists: Option<(String,)> =
        sqlx::query_as("SELECT version FROM model_versions WHERE model = $1 AND version = $2")
            .bind(model)
            .bind(version)
            .fetch_optional(&mut *conn)
            .await?;
    if exists.is_none() {
        return Err(StoreError::UnknownVersion {
            model: model.into(),
            version: version.into(),
        });
    }
    let previous = alias_target(conn, model, alias).await?;
    let now = Utc::now().to_rfc3339();
    sqlx::query(
        "INSERT INTO model_aliases (model, alias, version, set_by, set_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT(model, alias) DO UPDATE SET version = excluded.version, \
         set_by = excluded.set_by, set_at = excluded.set_at",
    )
    .bind(model)
    .bind(alias)
    .bind(version)
    .bind(set_by)
    .bind(&now)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO alias_history (model, alias, version, previous_version, set_by, reason, set_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(model)
    .bind(alias)
    .bind(version)
    .bind(previous)
    .bind(set_by)
    .bind(reason)
    .bind(&now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn alias_target(
    conn: &mut AnyConnection,
    model: &str,
    alias: &str,
) -> Result<Option<String>, StoreError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT version FROM model_aliases WHERE model = $1 AND alias = $2")
            .bind(model)
            .bind(alias)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(|(v,)| v))
}

const PROMOTION_COLUMNS: &str = "id, model, candidate_version, validation_id, justification, \
    requested_by, requested_at, expires_us, candidate_digest, validation_digest, \
    champion_at_request, state, decided_by, decided_at, decision_note, failure_reason, \
    finished_at, trace_id, rollback";

#[derive(FromRow)]
struct PromotionRow {
    id: String,
    model: String,
    candidate_version: String,
    validation_id: String,
    justification: String,
    requested_by: String,
    requested_at: String,
    expires_us: i64,
    candidate_digest: String,
    validation_digest: String,
    champion_at_request: Option<String>,
    state: String,
    decided_by: Option<String>,
    decided_at: Option<String>,
    decision_note: Option<String>,
    failure_reason: Option<String>,
    finished_at: Option<String>,
    trace_id: Option<String>,
    /// 0 or 1 (an integer on both databases: the `Any` driver reads SQLite's booleans as such).
    rollback: i64,
}

impl PromotionRow {
    fn into_promotion(self) -> Result<Promotion, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("{what} of promotion {}", self.id));
        let optional_time = |t: &Option<String>| t.as_deref().map(parse_time).transpose();
        Ok(Promotion {
            state: PromotionState::parse(&self.state).ok_or_else(|| corrupt("state"))?,
            requested_at: parse_time(&self.requested_at)?,
            expires_at: DateTime::from_timestamp_micros(self.expires_us)
                .ok_or_else(|| corrupt("expiry"))?,
            decided_at: optional_time(&self.decided_at)?,
            finished_at: optional_time(&self.finished_at)?,
            id: self.id,
            model: self.model,
            candidate_version: self.candidate_version,
            validation_id: self.validation_id,
            justification: self.justification,
            requested_by: self.requested_by,
            candidate_digest: self.candidate_digest,
            validation_digest: self.validation_digest,
            champion_at_request: self.champion_at_request,
            decided_by: self.decided_by,
            decision_note: self.decision_note,
            failure_reason: self.failure_reason,
            trace_id: self.trace_id,
            rollback: self.rollback != 0,
        })
    }
}

async fn promotion_by_id(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<Promotion>, StoreError> {
    let row: Option<PromotionRow> = sqlx::query_as(&format!(
        "SELECT {PROMOTION_COLUMNS} FROM promotions WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(PromotionRow::into_promotion).transpose()
}

fn parse_validation(body: &str) -> Result<Validation, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt(format!("validation: {e}")))
}

/// Why an approved promotion may not proceed ([`evidence::broken`]), or `None` if the evidence
/// still holds, judged on what the store holds now.
async fn broken_precondition(
    conn: &mut AnyConnection,
    p: &Promotion,
) -> Result<Option<String>, StoreError> {
    let digest: Option<(String,)> = sqlx::query_as(
        "SELECT artifact_digest FROM model_versions WHERE model = $1 AND version = $2",
    )
    .bind(&p.model)
    .bind(&p.candidate_version)
    .fetch_optional(&mut *conn)
    .await?;
    let validation: Option<(String, String)> =
        sqlx::query_as("SELECT report_digest, body FROM validations WHERE id = $1")
            .bind(&p.validation_id)
            .fetch_optional(&mut *conn)
            .await?;
    let validation = match validation {
        Some((digest, body)) => Some((digest, parse_validation(&body)?)),
        None => None,
    };
    let now = evidence::Evidence {
        candidate_digest: digest.map(|(d,)| d),
        validation,
        champion: alias_target(conn, &p.model, CHAMPION).await?,
    };
    Ok(evidence::broken(p, &now))
}

/// `events` as the chain continues after `head` (sequence number and hash).
fn chained(key: &ChainKey, events: &[NewTraceEvent], head: (i64, String)) -> Vec<TraceEvent> {
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
async fn insert_traces(
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

async fn insert_version(
    conn: &mut AnyConnection,
    v: &NewVersion,
) -> Result<ModelVersion, StoreError> {
    let created_at = Utc::now();
    let metrics =
        serde_json::to_string(&v.metrics).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let (baseline_version, baseline_metrics) = match &v.baseline {
        Some(b) => (
            Some(b.version.clone()),
            Some(
                serde_json::to_string(&b.metrics)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            ),
        ),
        None => (None, None),
    };
    let result = sqlx::query(
        "INSERT INTO model_versions (model, version, metrics, artifact_uri, artifact_digest, \
         training_job, data_snapshot, created_by, created_at, baseline_version, baseline_metrics) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&v.model)
    .bind(&v.version)
    .bind(metrics)
    .bind(&v.artifact_uri)
    .bind(&v.artifact_digest)
    .bind(&v.training_job)
    .bind(&v.data_snapshot)
    .bind(&v.created_by)
    .bind(created_at.to_rfc3339())
    .bind(baseline_version)
    .bind(baseline_metrics)
    .execute(conn)
    .await;
    match result {
        Ok(_) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(StoreError::VersionExists {
                model: v.model.clone(),
                version: v.version.clone(),
            });
        }
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
            return Err(StoreError::UnknownModel(v.model.clone()));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(ModelVersion {
        model: v.model.clone(),
        version: v.version.clone(),
        metrics: v.metrics.clone(),
        artifact_uri: v.artifact_uri.clone(),
        artifact_digest: v.artifact_digest.clone(),
        training_job: v.training_job.clone(),
        data_snapshot: v.data_snapshot.clone(),
        created_by: v.created_by.clone(),
        created_at,
        baseline: v.baseline.clone(),
    })
}

async fn job_by_id(conn: &mut AnyConnection, id: &str) -> Result<Option<Job>, StoreError> {
    let row: Option<JobRow> =
        sqlx::query_as(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(conn)
            .await?;
    row.map(JobRow::into_job).transpose()
}

/// Applies `u` to job `id` if it is still active. Errors if the job does not exist.
async fn apply_update(conn: &mut AnyConnection, id: &str, u: &JobUpdate) -> Result<(), StoreError> {
    let now = Utc::now().to_rfc3339();
    let state = u.state.map(JobState::as_str);
    let result = sqlx::query(
        "UPDATE jobs SET \
         state = COALESCE($1, state), raw_state = COALESCE($2, raw_state), \
         progress = COALESCE(CAST($3 AS DOUBLE PRECISION), progress), message = COALESCE($4, message), \
         external_id = COALESCE($5, external_id), external_url = COALESCE($6, external_url), \
         produced_version = COALESCE($7, produced_version), \
         started_at = CASE WHEN $8 = 'running' AND started_at IS NULL THEN $9 ELSE started_at END, \
         finished_at = CASE WHEN $10 IN ('succeeded', 'failed', 'cancelled') AND finished_at IS NULL \
                       THEN $11 ELSE finished_at END, \
         updated_at = $12 WHERE id = $13 AND state IN ('pending', 'running')",
    )
    .bind(state)
    .bind(&u.raw_state)
    // As text: sqlx 0.8's `Any` driver sends a NULL f64 to PostgreSQL as a float4, after which
    // the cached statement rejects a real f64. Rust prints an f64 so that it parses back exactly.
    .bind(u.progress.map(|p| p.to_string()))
    .bind(&u.message)
    .bind(&u.external_id)
    .bind(&u.external_url)
    .bind(&u.produced_version)
    .bind(state)
    .bind(&now)
    .bind(state)
    .bind(&now)
    .bind(&now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    if result.rows_affected() == 0 && job_by_id(conn, id).await?.is_none() {
        return Err(StoreError::UnknownJob(id.to_owned()));
    }
    Ok(())
}

/// What the cost controls of `model` need to know at `now`.
async fn history(
    conn: &mut AnyConnection,
    model: &str,
    now: DateTime<Utc>,
) -> Result<History, StoreError> {
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT state, created_at, finished_at FROM jobs WHERE model = $1 \
         ORDER BY created_at DESC, id DESC LIMIT 1000",
    )
    .bind(model)
    .fetch_all(&mut *conn)
    .await?;
    let reset: Option<(String,)> = sqlx::query_as(
        "SELECT reset_at FROM retrain_breaker_resets WHERE model = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(model)
    .fetch_optional(&mut *conn)
    .await?;
    let reset_at = reset.map(|(t,)| parse_time(&t)).transpose()?;
    let (active,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE state IN ('pending', 'running')")
            .fetch_one(&mut *conn)
            .await?;
    let mut history = History {
        active_all_models: u32::try_from(active).unwrap_or(u32::MAX),
        ..History::default()
    };
    let day_ago = now - chrono::Duration::hours(24);
    let mut counting_failures = true;
    for (state, created, finished) in rows {
        let created = parse_time(&created)?;
        if created > day_ago {
            history.started_last_day.push(created);
        }
        if let Some(f) = finished.as_deref().map(parse_time).transpose()? {
            history.last_finished =
                Some(history.last_finished.map_or(f, |l: DateTime<Utc>| l.max(f)));
        }
        // Failures count back to the last success or the last reset.
        if counting_failures {
            if state == JobState::Succeeded.as_str() || reset_at.is_some_and(|r| created <= r) {
                counting_failures = false;
            } else if state == JobState::Failed.as_str() {
                history.consecutive_failures += 1;
            }
        }
    }
    Ok(history)
}

const DRIFT_COLUMNS: &str = "id, model, created_at, requested_by, dataset_drift, drifted_share, \
                             recommended_action, format, report";

/// A `drift_reports` row.
#[derive(sqlx::FromRow)]
struct DriftRow {
    id: String,
    model: String,
    created_at: String,
    requested_by: String,
    dataset_drift: i64,
    drifted_share: f64,
    recommended_action: String,
    format: i64,
    report: String,
}

impl DriftRow {
    fn into_record(self) -> Result<DriftRecord, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("drift report {}: {what}", self.id));
        Ok(DriftRecord {
            checked_at: parse_time(&self.created_at)?,
            recommended_action: RecommendedAction::parse(&self.recommended_action)
                .ok_or_else(|| corrupt("unknown recommended action"))?,
            format: u32::try_from(self.format).map_err(|_| corrupt("bad format"))?,
            dataset_drift: self.dataset_drift != 0,
            drifted_share: self.drifted_share,
            requested_by: self.requested_by,
            model: self.model,
            document: self.report,
            id: self.id,
        })
    }
}

fn parse_spec(json: &str) -> Result<ModelSpec, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("model spec: {e}")))
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("timestamp `{s}`: {e}")))
}

const JOB_COLUMNS: &str = "id, model, backend, state, raw_state, reason, drift_report_id, \
    idempotency_key, requested_by, params, external_id, external_url, progress, message, \
    produced_version, trace_id, created_at, started_at, finished_at, updated_at";

#[derive(FromRow)]
struct JobRow {
    id: String,
    model: String,
    backend: String,
    state: String,
    raw_state: Option<String>,
    reason: String,
    drift_report_id: Option<String>,
    idempotency_key: Option<String>,
    requested_by: String,
    params: String,
    external_id: Option<String>,
    external_url: Option<String>,
    progress: Option<f64>,
    message: Option<String>,
    produced_version: Option<String>,
    trace_id: Option<String>,
    created_at: String,
    started_at: Option<String>,
    finished_at: Option<String>,
    updated_at: String,
}

impl JobRow {
    fn into_job(self) -> Result<Job, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("{what} of job {}", self.id));
        let state = JobState::parse(&self.state).ok_or_else(|| corrupt("state"))?;
        let params = serde_json::from_str(&self.params).map_err(|_| corrupt("params"))?;
        let optional_time = |t: &Option<String>| t.as_deref().map(parse_time).transpose();
        Ok(Job {
            state,
            params,
            created_at: parse_time(&self.created_at)?,
            started_at: optional_time(&self.started_at)?,
            finished_at: optional_time(&self.finished_at)?,
            updated_at: parse_time(&self.updated_at)?,
            id: self.id,
            model: self.model,
            backend: self.backend,
            raw_state: self.raw_state,
            reason: self.reason,
            drift_report_id: self.drift_report_id,
            idempotency_key: self.idempotency_key,
            requested_by: self.requested_by,
            external_id: self.external_id,
            external_url: self.external_url,
            progress: self.progress,
            message: self.message,
            produced_version: self.produced_version,
            trace_id: self.trace_id,
        })
    }
}

#[derive(FromRow)]
struct VersionRow {
    model: String,
    version: String,
    metrics: String,
    artifact_uri: String,
    artifact_digest: String,
    training_job: Option<String>,
    data_snapshot: Option<String>,
    created_by: String,
    created_at: String,
    baseline_version: Option<String>,
    baseline_metrics: Option<String>,
}

impl VersionRow {
    fn into_version(self) -> Result<ModelVersion, StoreError> {
        let corrupt = |what: &str, e: serde_json::Error| {
            StoreError::Corrupt(format!("{what} of {}: {e}", self.version))
        };
        let metrics: BTreeMap<String, f64> =
            serde_json::from_str(&self.metrics).map_err(|e| corrupt("metrics", e))?;
        let baseline = match (self.baseline_version, self.baseline_metrics.as_deref()) {
            (Some(version), Some(m)) => Some(Baseline {
                version,
                metrics: serde_json::from_str(m).map_err(|e| corrupt("baseline metrics", e))?,
            }),
            _ => None,
        };
        Ok(ModelVersion {
            baseline,
            created_at: parse_time(&self.created_at)?,
            model: self.model,
            version: self.version,
            metrics,
            artifact_uri: self.artifact_uri,
            artifact_digest: self.artifact_digest,
            training_job: self.training_job,
            data_snapshot: self.data_snapshot,
            created_by: self.created_by,
        })
    }
}

#[derive(FromRow)]
struct TraceRow {
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
