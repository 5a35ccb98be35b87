//! The SQLite store: models, the embedded registry and its alias history survive a reopen.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use mlops_tools::model::{CHAMPION, NewVersion};
use mlops_tools::store::SqliteStore;
use mlops_tools::{ModelSpec, Store, StoreError};

fn spec(name: &str) -> ModelSpec {
    toml::from_str(&format!("name = \"{name}\"\nowner = \"team\"")).unwrap()
}

fn version(model: &str, v: &str, auc: f64) -> NewVersion {
    NewVersion {
        model: model.into(),
        version: v.into(),
        metrics: BTreeMap::from([("roc_auc".to_owned(), auc)]),
        artifact_uri: format!("file:///a/{v}"),
        artifact_digest: format!("sha256:{v}"),
        training_job: None,
        data_snapshot: None,
        created_by: "test".into(),
    }
}

#[tokio::test]
async fn registry_round_trip_and_alias_history() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    {
        let store = SqliteStore::open(&url).await.unwrap();
        store.sync_model(&spec("m")).await.unwrap();
        store
            .register_version(&version("m", "v1", 0.8))
            .await
            .unwrap();
        store
            .register_version(&version("m", "v2", 0.9))
            .await
            .unwrap();
        store
            .set_alias("m", CHAMPION, "v1", "alice", "first")
            .await
            .unwrap();
        store
            .set_alias("m", CHAMPION, "v2", "bob", "better")
            .await
            .unwrap();

        assert!(matches!(
            store.register_version(&version("m", "v1", 0.1)).await,
            Err(StoreError::VersionExists { .. })
        ));
        assert!(matches!(
            store.register_version(&version("ghost", "v1", 0.1)).await,
            Err(StoreError::UnknownModel(m)) if m == "ghost"
        ));
        assert!(matches!(
            store.set_alias("m", CHAMPION, "v9", "x", "y").await,
            Err(StoreError::UnknownVersion { .. })
        ));
    }
    // Reopen: nothing lost.
    let store = SqliteStore::open(&url).await.unwrap();
    let m = store.get_model("m").await.unwrap().unwrap();
    assert_eq!(m.versions.len(), 2);
    assert_eq!(m.aliased(CHAMPION).map(|v| v.version.as_str()), Some("v2"));
    assert_eq!(m.aliased(CHAMPION).map(|v| v.metrics["roc_auc"]), Some(0.9));
    let history = store.alias_history("m").await.unwrap();
    let moves: Vec<_> = history
        .iter()
        .map(|h| {
            (
                h.previous_version.as_deref(),
                h.version.as_str(),
                h.set_by.as_str(),
            )
        })
        .collect();
    assert_eq!(moves, [(None, "v1", "alice"), (Some("v1"), "v2", "bob")]);
    assert!(store.get_model("nope").await.unwrap().is_none());

    // Re-syncing a changed spec updates it and keeps the registry.
    let mut changed = spec("m");
    changed.owner = "new-team".into();
    store.sync_model(&changed).await.unwrap();
    let m = store.get_model("m").await.unwrap().unwrap();
    assert_eq!((m.spec.owner.as_str(), m.versions.len()), ("new-team", 2));
}
