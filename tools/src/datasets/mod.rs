//! Monitoring data where it already lives: a partitioned Parquet dataset on local disk or in
//! object storage. A window reads only the objects of the hive-style `dt=YYYY-MM-DD`
//! partitions it meets and, with a `time_column`, only the row groups whose statistics meet it;
//! objects without a `dt` partition are always listed in. A partition or row group is read
//! whole: rows of it outside the window are compared too (windows align with partitions).

mod location;
mod partitions;

use bytes::Bytes;
use futures_util::TryStreamExt;
use object_store::{ObjectMeta, ObjectStoreExt};

use crate::blocks::decode::Block;
use crate::drift::source::{Schema, Table, TableBuilder};
use crate::records::Window;

pub use location::{Location, is_dataset, open};

/// What a dataset read took in.
#[derive(Debug)]
pub struct DatasetTable {
    pub table: Table,
    /// Objects under the location, and those read.
    pub listed: usize,
    pub read: usize,
    /// Row groups in the objects read, and those read.
    pub groups: usize,
    pub groups_read: usize,
}

impl DatasetTable {
    /// One line for messages and logs.
    pub fn describe(&self, display: &str) -> String {
        format!(
            "{} rows of dataset {display} ({} of {} objects, {} of {} row groups)",
            self.table.rows, self.read, self.listed, self.groups_read, self.groups
        )
    }
}

/// What kind of failure `e` is, without its text (which may quote a server's answer): at most
/// the HTTP status the store answered.
pub(crate) fn kind(e: &object_store::Error) -> String {
    use object_store::Error as E;
    match e {
        E::NotFound { .. } => "not found".into(),
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => {
            "access refused (check the credentials in the server's environment)".into()
        }
        E::InvalidPath { .. } => "an invalid path".into(),
        E::NotSupported { .. } | E::NotImplemented { .. } => "not supported by this store".into(),
        _ => match http_status(&e.to_string()) {
            Some(status) => format!("the object store answered HTTP {status}"),
            None => "the object store failed".into(),
        },
    }
}

/// The three digits after the first "status " in `text`.
fn http_status(text: &str) -> Option<&str> {
    let at = text.find("status ")? + "status ".len();
    let digits = text.get(at..at + 3)?;
    digits.bytes().all(|b| b.is_ascii_digit()).then_some(digits)
}

/// The Parquet objects of `location` a window meets (all without a window), in key order.
async fn select(
    location: &Location,
    window: Option<Window>,
) -> Result<(Vec<ObjectMeta>, usize), String> {
    let fail = |e: object_store::Error| format!("listing {}: {}", location.display, kind(&e));
    let mut objects: Vec<ObjectMeta> = location
        .store
        .list(Some(&location.prefix))
        .try_collect()
        .await
        .map_err(fail)?;
    objects.retain(|o| {
        let key = o.location.as_ref();
        let name = key.rsplit('/').next().unwrap_or(key);
        name.ends_with(".parquet")
            && !name.starts_with(['.', '_'])
            && location.pattern.as_ref().is_none_or(|p| p.matches(key))
    });
    objects.sort_by(|a, b| a.location.cmp(&b.location));
    let listed = objects.len();
    if let Some(w) = window {
        objects.retain(|o| partitions::meets(o.location.as_ref(), w));
    }
    Ok((objects, listed))
}

/// An object's key for a message: it comes from the bucket, so control characters are escaped.
fn key(object: &ObjectMeta) -> String {
    object.location.as_ref().escape_debug().to_string()
}

async fn fetch(location: &Location, object: &ObjectMeta) -> Result<Bytes, String> {
    let fail = |e: object_store::Error| {
        format!(
            "reading {} (object {}): {}",
            location.display,
            key(object),
            kind(&e)
        )
    };
    location
        .store
        .get(&object.location)
        .await
        .map_err(fail)?
        .bytes()
        .await
        .map_err(fail)
}

/// The dataset's rows in `window` (every row without one) as a drift table, refused once the
/// row groups read pass `max_rows`; `None` when no object meets the window.
pub async fn table(
    location: &Location,
    window: Option<Window>,
    time_column: Option<&str>,
    schema: &Schema,
    max_rows: usize,
) -> Result<Option<DatasetTable>, String> {
    let (objects, listed) = select(location, window).await?;
    let mut builder = TableBuilder::new(schema);
    let (mut groups, mut groups_read) = (0, 0);
    let mut next = match objects.first() {
        Some(o) => Some(fetch(location, o).await?),
        None => return Ok(None),
    };
    for (i, object) in objects.iter().enumerate() {
        let Some(bytes) = next.take() else { break };
        let column = time_column.map(str::to_owned);
        let decode = tokio::task::spawn_blocking(move || {
            let block = Block::open_file(bytes)?;
            let all = block.row_groups();
            let keep = match (&column, window) {
                (Some(c), Some(w)) => block.groups_meeting(c, w)?,
                _ => (0..all).collect(),
            };
            let adding = block.rows_of(&keep);
            if builder.rows.saturating_add(adding) > max_rows {
                return Err(format!(
                    "the window reaches more than {max_rows} rows (limits.max_window_rows, a bound on memory); narrow it or raise the limit"
                ));
            }
            block.push_groups(&mut builder, &keep)?;
            Ok::<_, String>((builder, all, keep.len()))
        });
        let fetch_next = async {
            match objects.get(i + 1) {
                Some(o) => fetch(location, o).await.map(Some),
                None => Ok(None),
            }
        };
        let (decoded, fetched) = tokio::join!(decode, fetch_next);
        let (b, all, kept) = decoded
            .map_err(|e| format!("the reader stopped: {e}"))?
            .map_err(|e| format!("{}: {e}", key(object)))?;
        (builder, groups, groups_read) = (b, groups + all, groups_read + kept);
        next = fetched?;
    }
    let read = objects.len();
    let table = tokio::task::spawn_blocking(move || builder.finish())
        .await
        .map_err(|e| format!("the reader stopped: {e}"))?;
    Ok(Some(DatasetTable {
        table,
        listed,
        read,
        groups,
        groups_read,
    }))
}
