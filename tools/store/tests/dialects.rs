//! The SQLite and PostgreSQL migrations build the same schema: the same tables, columns,
//! NOT NULL constraints, primary keys, unique constraints and foreign keys. PostgreSQL's `rowid`
//! columns stand in for SQLite's implicit row id and are the one expected difference.
//!
//! Needs `MLOPS_TEST_POSTGRES` (`.ci/run` sets it); without it the test fails under `CI=true`
//! and says so otherwise.

#![allow(clippy::unwrap_used, reason = "a test stops at the call that failed")]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{AnyPool, Row};

/// One table: its columns with whether each is NOT NULL, and its keys.
#[derive(Debug, Default, PartialEq, Eq)]
struct Table {
    columns: BTreeMap<String, bool>,
    primary_key: BTreeSet<String>,
    unique: BTreeSet<Vec<String>>,
    foreign_keys: BTreeSet<(String, String, String)>,
}

type Schema = BTreeMap<String, Table>;

async fn sqlite_schema(pool: &AnyPool) -> Schema {
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut schema = Schema::new();
    for (name,) in tables {
        let mut t = Table::default();
        for row in sqlx::query(&format!("PRAGMA table_info({name})"))
            .fetch_all(pool)
            .await
            .unwrap()
        {
            let column: String = row.try_get("name").unwrap();
            let pk: i64 = row.try_get("pk").unwrap();
            let not_null: i64 = row.try_get("notnull").unwrap();
            // A SQLite primary key never holds NULL once it is an INTEGER PRIMARY KEY or declared
            // NOT NULL; PostgreSQL makes every primary key column NOT NULL.
            t.columns.insert(column.clone(), not_null != 0 || pk != 0);
            if pk != 0 {
                t.primary_key.insert(column);
            }
        }
        for row in sqlx::query(&format!("PRAGMA index_list({name})"))
            .fetch_all(pool)
            .await
            .unwrap()
        {
            let unique: i64 = row.try_get("unique").unwrap();
            let origin: String = row.try_get("origin").unwrap();
            if unique == 0 || origin == "pk" {
                continue;
            }
            let index: String = row.try_get("name").unwrap();
            let cols: Vec<(String,)> = sqlx::query_as(&format!(
                "SELECT name FROM pragma_index_info('{index}') ORDER BY seqno"
            ))
            .fetch_all(pool)
            .await
            .unwrap();
            t.unique.insert(cols.into_iter().map(|(c,)| c).collect());
        }
        for row in sqlx::query(&format!("PRAGMA foreign_key_list({name})"))
            .fetch_all(pool)
            .await
            .unwrap()
        {
            let from: String = row.try_get("from").unwrap();
            let table: String = row.try_get("table").unwrap();
            let to: Option<String> = row.try_get("to").unwrap();
            t.foreign_keys.insert((from, table, to.unwrap_or_default()));
        }
        schema.insert(name, t);
    }
    schema
}

async fn postgres_schema(pool: &AnyPool) -> Schema {
    let mut schema = Schema::new();
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, is_nullable::text \
         FROM information_schema.columns WHERE table_schema = 'public' \
         AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for (table, column, nullable) in columns {
        if column == "rowid" {
            continue;
        }
        let t = schema.entry(table).or_default();
        t.columns.insert(column, nullable == "NO");
    }
    // Every key constraint, with its columns in order.
    let keys: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT tc.table_name::text, tc.constraint_name::text, tc.constraint_type::text, \
                kcu.column_name::text \
         FROM information_schema.table_constraints tc \
         JOIN information_schema.key_column_usage kcu \
           ON tc.constraint_name = kcu.constraint_name AND tc.table_schema = kcu.table_schema \
         WHERE tc.table_schema = 'public' \
           AND tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE') \
         ORDER BY tc.constraint_name, kcu.ordinal_position",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut unique: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (table, constraint, kind, column) in keys {
        let Some(t) = schema.get_mut(&table) else {
            continue;
        };
        if kind == "PRIMARY KEY" {
            t.primary_key.insert(column);
        } else {
            unique.entry((table, constraint)).or_default().push(column);
        }
    }
    // Unique indexes made by CREATE UNIQUE INDEX (not constraints).
    let indexes: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT t.relname::text, i.relname::text, a.attname::text \
         FROM pg_index x \
         JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_class t ON t.oid = x.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord) ON true \
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
         WHERE n.nspname = 'public' AND x.indisunique AND NOT x.indisprimary \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) \
         ORDER BY i.relname, k.ord",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for (table, index, column) in indexes {
        unique.entry((table, index)).or_default().push(column);
    }
    for ((table, _), columns) in unique {
        if let Some(t) = schema.get_mut(&table) {
            t.unique.insert(columns);
        }
    }
    // Column pairs of each foreign key, matched by position (a composite key pairs its
    // columns one to one).
    let foreign: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT t.relname::text, a.attname::text, f.relname::text, af.attname::text \
         FROM pg_constraint c \
         JOIN pg_class t ON t.oid = c.conrelid \
         JOIN pg_class f ON f.oid = c.confrelid \
         JOIN pg_namespace n ON n.oid = c.connamespace \
         JOIN LATERAL unnest(c.conkey, c.confkey) AS k(col, fcol) ON true \
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.col \
         JOIN pg_attribute af ON af.attrelid = c.confrelid AND af.attnum = k.fcol \
         WHERE c.contype = 'f' AND n.nspname = 'public'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for (table, column, to_table, to_column) in foreign {
        if let Some(t) = schema.get_mut(&table) {
            t.foreign_keys.insert((column, to_table, to_column));
        }
    }
    schema
}

/// SQLite foreign keys that name no column point at the parent's primary key; PostgreSQL
/// always names it.
fn resolve_implicit_keys(schema: &mut Schema) {
    let primary: BTreeMap<String, String> = schema
        .iter()
        .filter(|(_, t)| t.primary_key.len() == 1)
        .filter_map(|(name, t)| Some((name.clone(), t.primary_key.first()?.clone())))
        .collect();
    for t in schema.values_mut() {
        t.foreign_keys = std::mem::take(&mut t.foreign_keys)
            .into_iter()
            .map(|(from, table, to)| {
                let to = if to.is_empty() {
                    primary.get(&table).cloned().unwrap_or_default()
                } else {
                    to
                };
                (from, table, to)
            })
            .collect();
    }
}

#[tokio::test]
async fn sqlite_and_postgres_migrations_build_the_same_schema() {
    let Ok(admin) = std::env::var("MLOPS_TEST_POSTGRES") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "MLOPS_TEST_POSTGRES is not set: .ci/run starts PostgreSQL and sets it"
        );
        eprintln!("skipped: set MLOPS_TEST_POSTGRES to compare the two dialects' schemas");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite://{}", dir.path().join("s.db").display());
    let postgres_url = common::fresh_database(&admin).await;
    let sqlite = mlops_store::SqlStore::open(&sqlite_url, common::key())
        .await
        .unwrap();
    let postgres = mlops_store::SqlStore::open(&postgres_url, common::key())
        .await
        .unwrap();
    let mut lite = sqlite_schema(sqlite.pool()).await;
    let pg = postgres_schema(postgres.pool()).await;
    resolve_implicit_keys(&mut lite);
    assert!(lite.len() >= 10, "tables found: {:?}", lite.keys());
    assert_eq!(
        lite.keys().collect::<Vec<_>>(),
        pg.keys().collect::<Vec<_>>(),
        "the dialects have different tables"
    );
    for (name, table) in &lite {
        assert_eq!(
            Some(table),
            pg.get(name),
            "table `{name}` differs (SQLite, PostgreSQL)"
        );
    }
}
