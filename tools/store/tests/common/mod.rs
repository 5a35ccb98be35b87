//! The database a storage test runs against: SQLite (a fresh file) by default, or, with
//! `MLOPS_TEST_STORE=postgres`, a fresh database on the PostgreSQL server named by
//! `MLOPS_TEST_POSTGRES` (`.ci/run` starts one and runs the storage suite both ways).

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers: each binary uses part of them, and a failure should stop the test"
)]

use sqlx::Connection;

/// A fresh, empty store location; a SQLite file lives as long as this value.
pub struct TestDb {
    url: String,
    _dir: tempfile::TempDir,
}

impl TestDb {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = match std::env::var("MLOPS_TEST_STORE").as_deref() {
            Ok("postgres") => fresh_postgres_database().await,
            Ok("sqlite") | Err(_) => format!("sqlite://{}", dir.path().join("s.db").display()),
            Ok(other) => panic!("MLOPS_TEST_STORE={other}: use sqlite or postgres"),
        };
        Self { url, _dir: dir }
    }

    /// A scratch directory that lives as long as this value.
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub async fn open(&self) -> mlops_store::SqlStore {
        mlops_store::SqlStore::open(&self.url, key()).await.unwrap()
    }
}

/// The chain key the storage tests chain their traces under.
pub fn key() -> mlops_domain::chain_key::ChainKey {
    mlops_domain::chain_key::ChainKey::from_bytes([42; 32])
}

/// Creates a database with a unique name on the `MLOPS_TEST_POSTGRES` server; returns its URL.
pub async fn fresh_postgres_database() -> String {
    let admin = std::env::var("MLOPS_TEST_POSTGRES").unwrap_or_else(|_| {
        panic!(
            "MLOPS_TEST_STORE=postgres needs MLOPS_TEST_POSTGRES=postgres://USER@HOST:PORT/postgres \
             (.ci/run starts Debian's postgresql and sets it)"
        )
    });
    fresh_database(&admin).await
}

/// Creates a database with a unique name on the server whose `postgres` database is at `admin`;
/// returns its URL.
pub async fn fresh_database(admin: &str) -> String {
    let name = format!("mlops_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(admin)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {admin}: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}
