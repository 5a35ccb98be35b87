//! Blocks → the rows of a window: into a drift table (column by column, on every core; a block
//! wholly inside the window is read by the drift engine's own Parquet column reader), or as
//! rows with their fields (for quality checks). Dataset files are read the same way, whole row
//! groups at a time.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use parquet::basic::{LogicalType, TimeUnit};
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::DataType;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::statistics::Statistics;
use rayon::prelude::*;
use serde_json::{Map, Number, Value};

use crate::drift::source::parquet::{drain_values, read_column};
use crate::drift::source::{Cell, ColumnBuilder, TableBuilder, jsonl};
use crate::records::Window;

use super::JSON_COLUMNS;

/// A row's time and fields.
pub(crate) type TimedRow = (DateTime<Utc>, Map<String, Value>);

/// One value of a block column.
enum Scalar {
    Int(i64),
    Double(f64),
    Bool(bool),
    Text(String),
}

/// An open block (or dataset file).
pub(crate) struct Block {
    bytes: Bytes,
    reader: SerializedFileReader<Bytes>,
    /// Per column: its values are JSON texts.
    json: Vec<bool>,
    /// The first data column (a block's column 0 is its timestamps).
    first: usize,
}

fn open(bytes: &Bytes) -> Result<SerializedFileReader<Bytes>, String> {
    SerializedFileReader::new(bytes.clone()).map_err(|e| format!("not a readable block: {e}"))
}

impl Block {
    pub(super) fn open(bytes: Bytes) -> Result<Self, String> {
        let reader = open(&bytes)?;
        let meta = reader.metadata().file_metadata();
        let listed: Vec<usize> = meta
            .key_value_metadata()
            .and_then(|kv| kv.iter().find(|k| k.key == JSON_COLUMNS))
            .and_then(|k| k.value.as_deref())
            .and_then(|v| serde_json::from_str(v).ok())
            .unwrap_or_default();
        let columns = meta.schema_descr().num_columns();
        let json = (0..columns).map(|i| listed.contains(&i)).collect();
        Ok(Self {
            bytes,
            reader,
            json,
            first: 1,
        })
    }

    /// A Parquet file of a dataset: every column is data.
    pub(crate) fn open_file(bytes: Bytes) -> Result<Self, String> {
        let reader = open(&bytes)?;
        let columns = reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .num_columns();
        Ok(Self {
            bytes,
            reader,
            json: vec![false; columns],
            first: 0,
        })
    }

    pub(crate) fn row_groups(&self) -> usize {
        self.reader.num_row_groups()
    }

    /// Rows in the row groups `groups`.
    pub(crate) fn rows_of(&self, groups: &[usize]) -> usize {
        let meta = self.reader.metadata();
        groups
            .iter()
            .map(|&g| usize::try_from(meta.row_group(g).num_rows()).unwrap_or(0))
            .sum()
    }

    /// The row groups whose statistics for the timestamp column `column` meet `window` (a group
    /// without statistics may hold anything).
    pub(crate) fn groups_meeting(
        &self,
        column: &str,
        window: Window,
    ) -> Result<Vec<usize>, String> {
        let meta = self.reader.metadata();
        let descr = meta.file_metadata().schema_descr();
        let i = (0..descr.num_columns())
            .find(|&i| descr.column(i).name() == column)
            .ok_or_else(|| format!("no column `{column}` (time_column)"))?;
        let per_second: i64 = match descr.column(i).logical_type_ref() {
            Some(LogicalType::Timestamp { unit, .. }) => match unit {
                TimeUnit::MILLIS => 1_000,
                TimeUnit::MICROS => 1_000_000,
                TimeUnit::NANOS => 1_000_000_000,
            },
            _ => {
                return Err(format!(
                    "`{column}` (time_column) is not a Parquet timestamp"
                ));
            }
        };
        let bound = |t: DateTime<Utc>| {
            t.timestamp()
                .saturating_mul(per_second)
                .saturating_add(i64::from(t.timestamp_subsec_nanos()) * per_second / 1_000_000_000)
        };
        let (from, to) = (bound(window.from), bound(window.to));
        Ok((0..meta.num_row_groups())
            .filter(|&g| match meta.row_group(g).column(i).statistics() {
                Some(Statistics::Int64(s)) => match (s.min_opt(), s.max_opt()) {
                    (Some(min), Some(max)) => *max >= from && *min < to,
                    _ => true,
                },
                _ => true,
            })
            .collect())
    }

    fn is_json(&self, i: usize) -> bool {
        self.json.get(i).copied().unwrap_or(false)
    }

    fn columns(&self) -> usize {
        self.json.len()
    }

    fn name(&self, i: usize) -> String {
        self.reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .column(i)
            .name()
            .to_owned()
    }

    /// Every value of column `i`, `None` for nulls.
    fn scalars(
        &self,
        reader: &SerializedFileReader<Bytes>,
        i: usize,
    ) -> Result<Vec<Option<Scalar>>, String> {
        let max_def = self
            .reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .column(i)
            .max_def_level();
        let mut out = Vec::new();
        for g in 0..reader.num_row_groups() {
            let group = reader.get_row_group(g).map_err(|e| e.to_string())?;
            let column = group.get_column_reader(i).map_err(|e| e.to_string())?;
            match column {
                ColumnReader::Int64ColumnReader(r) => {
                    drain(r, max_def, &mut out, |x| Scalar::Int(*x))
                }
                ColumnReader::DoubleColumnReader(r) => {
                    drain(r, max_def, &mut out, |x| Scalar::Double(*x))
                }
                ColumnReader::BoolColumnReader(r) => {
                    drain(r, max_def, &mut out, |x| Scalar::Bool(*x))
                }
                ColumnReader::ByteArrayColumnReader(r) => drain(r, max_def, &mut out, |x| {
                    Scalar::Text(String::from_utf8_lossy(x.data()).into_owned())
                }),
                _ => Err(format!("block column {i} has a type blocks do not use")),
            }?;
        }
        Ok(out)
    }

    /// The rows' timestamps (microseconds).
    fn timestamps(&self) -> Result<Vec<i64>, String> {
        Ok(self
            .scalars(&self.reader, 0)?
            .into_iter()
            .map(|s| match s {
                Some(Scalar::Int(t)) => t,
                _ => i64::MIN,
            })
            .collect())
    }

    /// Which rows fall in `window`.
    pub(super) fn mask(&self, window: Window) -> Result<Vec<bool>, String> {
        let (from, to) = (window.from.timestamp_micros(), window.to.timestamp_micros());
        Ok(self
            .timestamps()?
            .into_iter()
            .map(|t| from <= t && t < to)
            .collect())
    }

    /// Adds the rows `mask` keeps (all when `None`) to `table`.
    pub(crate) fn push_into(
        &self,
        table: &mut TableBuilder,
        mask: Option<&[bool]>,
    ) -> Result<(), String> {
        match mask {
            None => self.push_groups(table, &(0..self.row_groups()).collect::<Vec<_>>()),
            Some(mask) => {
                let kept = mask.iter().filter(|k| **k).count();
                self.push_columns(table, kept, |reader, i, builder, before| {
                    self.push_scalars(reader, i, builder, Some(mask), before)
                })
            }
        }
    }

    /// Adds every row of the row groups `groups` to `table`.
    pub(crate) fn push_groups(
        &self,
        table: &mut TableBuilder,
        groups: &[usize],
    ) -> Result<(), String> {
        let meta = self.reader.metadata();
        let rows = |g: usize| usize::try_from(meta.row_group(g).num_rows()).unwrap_or(0);
        let kept = self.rows_of(groups);
        let everything = groups.len() == self.row_groups();
        self.push_columns(table, kept, |reader, i, builder, before| {
            if self.is_json(i) && everything {
                return self.push_scalars(reader, i, builder, None, before);
            }
            let mut first_row = before;
            for &g in groups {
                let group = reader.get_row_group(g).map_err(|e| e.to_string())?;
                read_column(&*group, i, builder, first_row)?;
                first_row += rows(g);
            }
            Ok(())
        })
    }

    /// Adds `kept` rows to `table`: each data column (on every core) by `push`, which gets its
    /// own reader, the column, its builder and the table's rows before.
    fn push_columns(
        &self,
        table: &mut TableBuilder,
        kept: usize,
        push: impl Fn(
            &SerializedFileReader<Bytes>,
            usize,
            &mut ColumnBuilder,
            usize,
        ) -> Result<(), String>
        + Sync,
    ) -> Result<(), String> {
        if kept == 0 {
            return Ok(());
        }
        let before = table.rows;
        let mut of_table: Vec<Option<usize>> = vec![None; table.columns.len()];
        for i in self.first..self.columns() {
            let t = table.column(&self.name(i));
            of_table.resize(table.columns.len(), None);
            if let Some(slot) = of_table.get_mut(t) {
                *slot = Some(i);
            }
        }
        table
            .columns
            .par_iter_mut()
            .zip(of_table.par_iter())
            .filter_map(|(builder, i)| i.map(|i| (builder, i)))
            .try_for_each(|(builder, i)| {
                // A column this block starts was missing on every earlier row.
                let gap = before.saturating_sub(builder.rows_seen());
                builder.push_missing(gap);
                let reader = open(&self.bytes)?;
                push(&reader, i, builder, before)
                    .map_err(|e| format!("column `{}`: {e}", builder.name()))
            })?;
        table.rows += kept;
        Ok(())
    }

    /// Pushes column `i` value by value (the rows `mask` keeps, or all).
    fn push_scalars(
        &self,
        reader: &SerializedFileReader<Bytes>,
        i: usize,
        builder: &mut ColumnBuilder,
        mask: Option<&[bool]>,
        before: usize,
    ) -> Result<(), String> {
        let mut row = before;
        for (r, value) in self.scalars(reader, i)?.into_iter().enumerate() {
            if mask.is_some_and(|m| !m.get(r).copied().unwrap_or(false)) {
                continue;
            }
            row += 1;
            match value {
                None => builder.push(Cell::Missing, row)?,
                Some(Scalar::Int(x)) => builder.push(Cell::Integer(x), row)?,
                Some(Scalar::Double(x)) => builder.push(Cell::Float(x), row)?,
                Some(Scalar::Bool(b)) => builder.push(Cell::Bool(b), row)?,
                Some(Scalar::Text(t)) if self.is_json(i) => {
                    let v: Value = serde_json::from_str(&t).map_err(|e| e.to_string())?;
                    builder.push(jsonl::cell(&v), row)?;
                }
                Some(Scalar::Text(t)) => builder.push(Cell::Str(&t), row)?,
            }
        }
        Ok(())
    }

    /// The rows in `window`, each with its timestamp and fields (nulls kept as null).
    pub(super) fn objects(&self, window: Window) -> Result<Vec<TimedRow>, String> {
        let mask = self.mask(window)?;
        let ts = self.timestamps()?;
        let mut rows: Vec<TimedRow> = ts
            .iter()
            .zip(&mask)
            .filter(|(_, keep)| **keep)
            .map(|(t, _)| {
                let at = DateTime::from_timestamp_micros(*t).unwrap_or_default();
                (at, Map::new())
            })
            .collect();
        for i in 1..self.columns() {
            let name = self.name(i);
            let values = self.scalars(&self.reader, i)?;
            let kept = values
                .into_iter()
                .zip(&mask)
                .filter(|(_, keep)| **keep)
                .map(|(v, _)| v);
            for ((_, object), value) in rows.iter_mut().zip(kept) {
                let value = match value {
                    None => Value::Null,
                    Some(Scalar::Int(x)) => Value::Number(x.into()),
                    Some(Scalar::Double(x)) => {
                        Number::from_f64(x).map_or(Value::Null, Value::Number)
                    }
                    Some(Scalar::Bool(b)) => Value::Bool(b),
                    Some(Scalar::Text(t)) if self.is_json(i) => {
                        serde_json::from_str(&t).map_err(|e| e.to_string())?
                    }
                    Some(Scalar::Text(t)) => Value::String(t),
                };
                object.insert(name.clone(), value);
            }
        }
        Ok(rows)
    }
}

/// Reads a column chunk's values into `out` (`None` for nulls).
fn drain<T: DataType>(
    reader: ColumnReaderImpl<T>,
    max_def: i16,
    out: &mut Vec<Option<Scalar>>,
    scalar: impl Fn(&T::T) -> Scalar,
) -> Result<(), String> {
    drain_values(reader, max_def, out, || None, |v| Ok(Some(scalar(v))))
}
