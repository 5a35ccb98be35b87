//! Where a dataset lives: a local directory or glob, or an object-store URL (`s3://`, `gs://`,
//! `az://`), opened through the `object_store` crate with credentials from the usual
//! environment (`AWS_*`, `GOOGLE_*`, `AZURE_*`). Only the bucket and path are ever shown: a
//! URL's user, password or query never reaches a message.

use std::path::Path;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;

/// URL schemes read as object stores.
const SCHEMES: [&str; 6] = ["s3", "s3a", "gs", "az", "abfs", "abfss"];

/// An opened dataset location.
#[derive(Debug, Clone)]
pub struct Location {
    pub store: Arc<dyn ObjectStore>,
    /// The listing prefix (no glob in it).
    pub prefix: ObjectPath,
    /// Keys under the prefix must match this (relative to the store's root), if given.
    pub pattern: Option<glob::Pattern>,
    /// `scheme://bucket/path` or the local path, for messages.
    pub display: String,
}

/// Whether `data` names a dataset rather than one file: an object-store URL, a directory, or a
/// glob.
pub fn is_dataset(data: &Path) -> bool {
    let text = data.to_string_lossy();
    scheme(&text).is_some() || text.contains(['*', '?', '[']) || data.is_dir()
}

fn scheme(text: &str) -> Option<&str> {
    let (scheme, _) = text.split_once("://")?;
    SCHEMES.contains(&scheme).then_some(scheme)
}

/// The part of `path` before its first component with a glob character, and whether there
/// was one.
fn split_glob(path: &str) -> (String, bool) {
    let mut base = Vec::new();
    for part in path.split('/') {
        if part.contains(['*', '?', '[']) {
            return (base.join("/"), true);
        }
        base.push(part);
    }
    (path.trim_end_matches('/').to_owned(), false)
}

fn pattern(text: &str) -> Result<glob::Pattern, String> {
    glob::Pattern::new(text).map_err(|e| format!("the glob {text:?}: {e}"))
}

/// Opens `data` (a dataset per [`is_dataset`]).
pub fn open(data: &Path) -> Result<Location, String> {
    let text = data.to_string_lossy().into_owned();
    if let Some(scheme) = scheme(&text) {
        return open_url(scheme, &text);
    }
    let (base, globbed) = split_glob(&text);
    let root = if base.is_empty() {
        "/".to_owned()
    } else {
        base.clone()
    };
    let store = object_store::local::LocalFileSystem::new_with_prefix(&root)
        .map_err(|e| format!("{root}: {e}"))?;
    let pattern = if globbed {
        let rest = text[base.len()..].trim_start_matches('/');
        Some(pattern(rest)?)
    } else {
        None
    };
    Ok(Location {
        store: Arc::new(store),
        prefix: ObjectPath::default(),
        pattern,
        display: text,
    })
}

fn open_url(scheme: &str, text: &str) -> Result<Location, String> {
    let rest = &text[scheme.len() + 3..];
    // Drop anything after `?` or `#`, and any `user:password@` (never shown, never used).
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (bucket, path) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket = bucket.rsplit('@').next().unwrap_or(bucket);
    if bucket.is_empty() {
        return Err(format!("{scheme}:// names no bucket"));
    }
    let display = format!("{scheme}://{bucket}/{path}");
    let url = format!("{scheme}://{bucket}");
    let failed = |e: object_store::Error| format!("{display}: {}", super::kind(&e));
    let store: Arc<dyn ObjectStore> = match scheme {
        "s3" | "s3a" => Arc::new(
            object_store::aws::AmazonS3Builder::from_env()
                .with_url(url)
                .build()
                .map_err(failed)?,
        ),
        "gs" => Arc::new(
            object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_url(url)
                .build()
                .map_err(failed)?,
        ),
        _ => Arc::new(
            object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_url(url)
                .build()
                .map_err(failed)?,
        ),
    };
    let (base, globbed) = split_glob(path);
    let prefix = ObjectPath::parse(&base).map_err(|e| format!("{display}: {e}"))?;
    let pattern = if globbed { Some(pattern(path)?) } else { None };
    Ok(Location {
        store,
        prefix,
        pattern,
        display,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datasets_are_urls_directories_and_globs() {
        let dir = tempfile::tempdir().unwrap();
        assert!(is_dataset(Path::new("s3://bucket/preds/")));
        assert!(is_dataset(Path::new("data/dt=*/part-*.parquet")));
        assert!(is_dataset(dir.path()));
        assert!(!is_dataset(&dir.path().join("ref.parquet")));
        assert!(!is_dataset(Path::new("http://example.com/x.parquet")));
    }

    #[test]
    fn a_url_shows_bucket_and_path_only() {
        let l = open(Path::new(
            "s3://key:secret@bucket/preds/dt=*/x.parquet?token=t",
        ))
        .unwrap();
        assert_eq!(l.display, "s3://bucket/preds/dt=*/x.parquet");
        assert_eq!(l.prefix.as_ref(), "preds");
        assert!(l.pattern.unwrap().matches("preds/dt=2026-12-01/x.parquet"));
    }
}
