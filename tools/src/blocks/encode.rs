//! Ingested rows → one Parquet block (zstd, dictionary-encoded categories). Column 0 is the
//! rows' timestamps (TIMESTAMP(MICROS), UTC); the others are the rows' fields in the order they
//! first appear. A field's block type follows its values: integers are INT64, other
//! numbers (or integers mixed with them: those read back as floats, which the drift statistics
//! and the quality metrics treat alike) DOUBLE, booleans BOOLEAN, strings UTF-8; a field that
//! mixes other kinds keeps each value as its JSON text, so reading gives back what was sent.

use std::sync::Arc;

use parquet::basic::{
    Compression, ConvertedType, LogicalType, Repetition, TimeUnit, Type as Physical, ZstdLevel,
};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use serde_json::Value;

use super::JSON_COLUMNS;
use crate::records::Rows;

/// A field's type in a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Int,
    Double,
    Bool,
    Text,
    /// Mixed kinds: each value as JSON text.
    Json,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Int => "int64",
            Kind::Double => "double",
            Kind::Bool => "bool",
            Kind::Text => "text",
            Kind::Json => "json",
        }
    }

    /// The kind of a column that held `self` so far and now also `v` (not null).
    fn with(self, v: &Value) -> Kind {
        match (self, kind_of(v)) {
            (a, b) if a == b => a,
            (Kind::Int, Kind::Double) | (Kind::Double, Kind::Int) => Kind::Double,
            _ => Kind::Json,
        }
    }
}

/// An encoded block.
pub(super) struct Encoded {
    pub bytes: Vec<u8>,
    /// `[[name, kind], ...]` as JSON, for the catalog.
    pub columns: String,
}

/// The block kind of a column (`None`: always null).
fn column_kind(values: &[Value]) -> Option<Kind> {
    values
        .iter()
        .filter(|v| !v.is_null())
        .fold(None, |kind, v| {
            Some(kind.map_or_else(|| kind_of(v), |k| k.with(v)))
        })
}

/// The kind of one value (not null).
fn kind_of(v: &Value) -> Kind {
    match v {
        Value::Number(n) if n.is_i64() => Kind::Int,
        Value::Number(_) => Kind::Double,
        Value::Bool(_) => Kind::Bool,
        Value::String(_) => Kind::Text,
        _ => Kind::Json,
    }
}

/// Encodes `rows` (at least one) as a block.
pub(super) fn encode(rows: &Rows) -> Result<Encoded, String> {
    let fail = |e: parquet::errors::ParquetError| e.to_string();
    let kinds: Vec<Kind> = rows
        .columns
        .iter()
        .map(|(_, values)| column_kind(values).unwrap_or(Kind::Text))
        .collect();
    let mut leaves = vec![Arc::new(
        Type::primitive_type_builder(super::TIMESTAMP_COLUMN, Physical::INT64)
            .with_repetition(Repetition::REQUIRED)
            .with_logical_type(Some(LogicalType::Timestamp {
                is_adjusted_to_u_t_c: true,
                unit: TimeUnit::MICROS,
            }))
            .build()
            .map_err(fail)?,
    )];
    for ((name, _), kind) in rows.columns.iter().zip(&kinds) {
        let physical = match kind {
            Kind::Int => Physical::INT64,
            Kind::Double => Physical::DOUBLE,
            Kind::Bool => Physical::BOOLEAN,
            Kind::Text | Kind::Json => Physical::BYTE_ARRAY,
        };
        let mut leaf =
            Type::primitive_type_builder(name, physical).with_repetition(Repetition::OPTIONAL);
        if physical == Physical::BYTE_ARRAY {
            leaf = leaf.with_converted_type(ConvertedType::UTF8);
        }
        leaves.push(Arc::new(leaf.build().map_err(fail)?));
    }
    let schema = Type::group_type_builder("block")
        .with_fields(leaves)
        .build()
        .map_err(fail)?;
    let json_columns: Vec<usize> = kinds
        .iter()
        .enumerate()
        .filter(|(_, k)| **k == Kind::Json)
        .map(|(i, _)| i + 1)
        .collect();
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).map_err(fail)?))
        .set_max_row_group_size(rows.len().max(1))
        .set_key_value_metadata(Some(vec![KeyValue::new(
            JSON_COLUMNS.to_owned(),
            serde_json::to_string(&json_columns).unwrap_or_default(),
        )]))
        .build();
    let mut out = Vec::new();
    let mut writer =
        SerializedFileWriter::new(&mut out, Arc::new(schema), Arc::new(props)).map_err(fail)?;
    let mut group = writer.next_row_group().map_err(fail)?;
    if let Some(mut column) = group.next_column().map_err(fail)? {
        let ts: Vec<i64> = rows
            .timestamps
            .iter()
            .map(|t| t.timestamp_micros())
            .collect();
        column
            .typed::<Int64Type>()
            .write_batch(&ts, None, None)
            .map_err(fail)?;
        column.close().map_err(fail)?;
    }
    for ((_, values), kind) in rows.columns.iter().zip(&kinds) {
        let Some(mut column) = group.next_column().map_err(fail)? else {
            return Err("the block has fewer columns than the rows".into());
        };
        let defs: Vec<i16> = values.iter().map(|v| i16::from(!v.is_null())).collect();
        let present = values.iter().filter(|v| !v.is_null());
        match kind {
            Kind::Int => {
                let v: Vec<i64> = present.filter_map(Value::as_i64).collect();
                column
                    .typed::<Int64Type>()
                    .write_batch(&v, Some(&defs), None)
            }
            Kind::Double => {
                let v: Vec<f64> = present.map(|x| x.as_f64().unwrap_or(f64::NAN)).collect();
                column
                    .typed::<DoubleType>()
                    .write_batch(&v, Some(&defs), None)
            }
            Kind::Bool => {
                let v: Vec<bool> = present.map(|x| x.as_bool().unwrap_or(false)).collect();
                column
                    .typed::<BoolType>()
                    .write_batch(&v, Some(&defs), None)
            }
            Kind::Text => {
                let v: Vec<ByteArray> = present
                    .map(|x| ByteArray::from(x.as_str().unwrap_or_default()))
                    .collect();
                column
                    .typed::<ByteArrayType>()
                    .write_batch(&v, Some(&defs), None)
            }
            Kind::Json => {
                let v: Vec<ByteArray> = present
                    .map(|x| ByteArray::from(x.to_string().into_bytes()))
                    .collect();
                column
                    .typed::<ByteArrayType>()
                    .write_batch(&v, Some(&defs), None)
            }
        }
        .map_err(fail)?;
        column.close().map_err(fail)?;
    }
    group.close().map_err(fail)?;
    writer.close().map_err(fail)?;
    let columns: Vec<(&str, &str)> = rows
        .columns
        .iter()
        .zip(&kinds)
        .map(|((n, _), k)| (n.as_str(), k.name()))
        .collect();
    Ok(Encoded {
        bytes: out,
        columns: serde_json::to_string(&columns).unwrap_or_default(),
    })
}
