//! The SQL store: one implementation for SQLite (the default: one file, WAL journal, created
//! and migrated on first open) and PostgreSQL (several replicas share one database), through
//! sqlx's `Any` driver. The SQL is common to both (`$N` parameters, which SQLite also reads);
//! what differs is the connection set-up, the migrations and how a writer takes the lock
//! ([`SqlStore::write_tx`]).

mod alerts;
mod deliveries;
mod drift_reports;
mod job_history;
mod jobs;
mod labels;
mod models;
mod monitors;
mod overviews;
mod promotions;
mod quality_reports;
mod records;
mod replicas;
mod sessions;
mod store_impl;
mod traces;
mod validations;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor, Transaction};

use crate::chain_key::ChainKey;
use crate::model::ModelSpec;
use crate::{ModelOverview, StoreError};

pub use labels::AlreadyLabelled;

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

fn parse_spec(json: &str) -> Result<ModelSpec, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("model spec: {e}")))
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("timestamp `{s}`: {e}")))
}
