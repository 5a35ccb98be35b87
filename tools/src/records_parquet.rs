//! Parquet bodies of the data endpoints (`application/vnd.apache.parquet`): each row of the
//! file becomes the object a JSON-lines row would be, and goes through the same checks. Flat
//! columns only: booleans, integers, floats (NaN and infinities become missing, as JSON has
//! none), strings, and timestamps (`TIMESTAMP(MILLIS|MICROS)`, and `DATE` as midnight UTC),
//! which become seconds since the epoch. Anything else (nested groups, lists, maps, raw bytes,
//! decimals) is refused with the column's name.

use bytes::Bytes;
use parquet::basic::{ConvertedType, LogicalType, TimeUnit, Type as Physical};
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::DataType;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::schema::types::ColumnDescriptor;

use crate::drift::source::parquet::drain_values;
use parquet::record::Field;
use serde_json::{Map, Number, Value};

/// Rows of a body as objects, each with its row (or line) number.
pub(crate) type Numbered = Vec<(usize, Map<String, Value>)>;

fn number(x: f64) -> Value {
    Number::from_f64(x).map_or(Value::Null, Value::Number)
}

fn value(column: &str, field: &Field) -> Result<Value, String> {
    Ok(match field {
        Field::Null => Value::Null,
        Field::Bool(b) => Value::Bool(*b),
        Field::Byte(v) => Value::from(*v),
        Field::Short(v) => Value::from(*v),
        Field::Int(v) => Value::from(*v),
        Field::Long(v) => Value::from(*v),
        Field::UByte(v) => Value::from(*v),
        Field::UShort(v) => Value::from(*v),
        Field::UInt(v) => Value::from(*v),
        Field::ULong(v) => Value::from(*v),
        Field::Float(v) => number(f64::from(*v)),
        Field::Double(v) => number(*v),
        Field::Str(s) => Value::String(s.clone()),
        Field::TimestampMillis(ms) => number(*ms as f64 / 1e3),
        Field::TimestampMicros(us) => number(*us as f64 / 1e6),
        Field::Date(days) => Value::from(i64::from(*days) * 86_400),
        _ => {
            return Err(format!(
                "column `{column}` has a type rows cannot hold (nested, binary or decimal)"
            ));
        }
    })
}

/// Columns by name, each with one value per row.
pub(crate) type NamedColumns = Vec<(String, Vec<Value>)>;

/// How a leaf column's values become JSON values.
#[derive(Clone, Copy)]
enum Convert {
    Plain,
    Unsigned,
    /// Divide by this many units per second.
    Time(f64),
    /// Days since the epoch.
    Date,
}

/// What a leaf column's values become, or why it cannot be read.
fn convert(c: &ColumnDescriptor) -> Result<Convert, String> {
    let refuse = || {
        format!(
            "column `{}` has a type rows cannot hold (nested, binary or decimal)",
            c.path().string()
        )
    };
    if c.max_rep_level() > 0 || c.path().parts().len() > 1 {
        return Err(refuse());
    }
    Ok(
        match (c.physical_type(), c.logical_type_ref(), c.converted_type()) {
            (_, Some(LogicalType::Decimal { .. }), _) | (_, _, ConvertedType::DECIMAL) => {
                return Err(refuse());
            }
            (_, Some(LogicalType::Time { .. }), _)
            | (_, _, ConvertedType::TIME_MILLIS | ConvertedType::TIME_MICROS) => {
                return Err(refuse());
            }
            (Physical::INT32, Some(LogicalType::Date), _)
            | (Physical::INT32, _, ConvertedType::DATE) => Convert::Date,
            (Physical::INT64, Some(LogicalType::Timestamp { unit, .. }), _) => {
                Convert::Time(match unit {
                    TimeUnit::MILLIS => 1e3,
                    TimeUnit::MICROS => 1e6,
                    TimeUnit::NANOS => 1e9,
                })
            }
            (Physical::INT64, _, ConvertedType::TIMESTAMP_MILLIS) => Convert::Time(1e3),
            (Physical::INT64, _, ConvertedType::TIMESTAMP_MICROS) => Convert::Time(1e6),
            (
                _,
                Some(LogicalType::Integer {
                    is_signed: false, ..
                }),
                _,
            )
            | (
                _,
                _,
                ConvertedType::UINT_8
                | ConvertedType::UINT_16
                | ConvertedType::UINT_32
                | ConvertedType::UINT_64,
            ) => Convert::Unsigned,
            (
                Physical::BYTE_ARRAY,
                Some(LogicalType::String | LogicalType::Enum | LogicalType::Json),
                _,
            )
            | (
                Physical::BYTE_ARRAY,
                _,
                ConvertedType::UTF8 | ConvertedType::ENUM | ConvertedType::JSON,
            ) => Convert::Plain,
            (Physical::BYTE_ARRAY | Physical::FIXED_LEN_BYTE_ARRAY, ..) => return Err(refuse()),
            _ => Convert::Plain,
        },
    )
}

/// Appends a column chunk's values (null where a row has none) to `out`.
fn drain<T: DataType>(
    reader: ColumnReaderImpl<T>,
    max_def: i16,
    out: &mut Vec<Value>,
    value: impl Fn(&T::T) -> Result<Value, String>,
) -> Result<(), String> {
    drain_values(reader, max_def, out, || Value::Null, value)
}

/// A Parquet body column by column: its rows and each column's name and values (as
/// [`objects`] gives them), in the file's column order.
pub(crate) fn columns(body: &[u8]) -> Result<(usize, NamedColumns), String> {
    let reader = SerializedFileReader::new(Bytes::copy_from_slice(body))
        .map_err(|e| format!("the body is not a Parquet file: {e}"))?;
    let meta = reader.metadata();
    let descr = meta.file_metadata().schema_descr();
    let rows = usize::try_from(meta.file_metadata().num_rows()).unwrap_or(0);
    let mut out = Vec::with_capacity(descr.num_columns());
    for i in 0..descr.num_columns() {
        let c = descr.column(i);
        let (name, how, max_def) = (c.path().string(), convert(&c)?, c.max_def_level());
        let mut values = Vec::with_capacity(rows);
        for g in 0..meta.num_row_groups() {
            let group = reader
                .get_row_group(g)
                .map_err(|e| format!("the Parquet file cannot be read: {e}"))?;
            let column = group
                .get_column_reader(i)
                .map_err(|e| format!("the Parquet file cannot be read: {e}"))?;
            let integer = |x: i64| match how {
                Convert::Time(per_second) => number(x as f64 / per_second),
                Convert::Date => Value::from(x * 86_400),
                Convert::Unsigned | Convert::Plain => Value::from(x),
            };
            let read = match column {
                ColumnReader::BoolColumnReader(r) => {
                    drain(r, max_def, &mut values, |x| Ok(Value::Bool(*x)))
                }
                ColumnReader::Int32ColumnReader(r) => drain(r, max_def, &mut values, |x| {
                    Ok(match how {
                        Convert::Unsigned => Value::from(*x as u32),
                        _ => integer(i64::from(*x)),
                    })
                }),
                ColumnReader::Int64ColumnReader(r) => drain(r, max_def, &mut values, |x| {
                    Ok(match how {
                        Convert::Unsigned => Value::from(*x as u64),
                        _ => integer(*x),
                    })
                }),
                ColumnReader::Int96ColumnReader(r) => drain(r, max_def, &mut values, |x| {
                    Ok(number(x.to_nanos() as f64 / 1e9))
                }),
                ColumnReader::FloatColumnReader(r) => {
                    drain(r, max_def, &mut values, |x| Ok(number(f64::from(*x))))
                }
                ColumnReader::DoubleColumnReader(r) => {
                    drain(r, max_def, &mut values, |x| Ok(number(*x)))
                }
                ColumnReader::ByteArrayColumnReader(r) => drain(r, max_def, &mut values, |x| {
                    x.as_utf8()
                        .map(|s| Value::String(s.to_owned()))
                        .map_err(|_| format!("column `{name}` holds bytes that are not UTF-8 text"))
                }),
                ColumnReader::FixedLenByteArrayColumnReader(_) => Err(format!(
                    "column `{name}` has a type rows cannot hold (nested, binary or decimal)"
                )),
            };
            read.map_err(|e| format!("row group {g}: {e}"))?;
        }
        out.push((name, values));
    }
    Ok((rows, out))
}

/// Each row of a Parquet body as an object, numbered from 1.
pub(crate) fn objects(body: &[u8]) -> Result<Numbered, String> {
    let reader = SerializedFileReader::new(Bytes::copy_from_slice(body))
        .map_err(|e| format!("the body is not a Parquet file: {e}"))?;
    let rows = reader.metadata().file_metadata().num_rows();
    // TIMESTAMP(NANOS) (pandas' default) reaches the rows as a plain integer: find those
    // columns by their logical type.
    let nanos: std::collections::BTreeSet<String> = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .filter(|c| {
            matches!(
                c.logical_type_ref(),
                Some(LogicalType::Timestamp {
                    unit: TimeUnit::NANOS,
                    ..
                })
            )
        })
        .map(|c| c.name().to_owned())
        .collect();
    let mut out = Vec::with_capacity(usize::try_from(rows).unwrap_or(0));
    let iter = reader
        .get_row_iter(None)
        .map_err(|e| format!("the Parquet file cannot be read: {e}"))?;
    for (i, row) in iter.enumerate() {
        let row = row.map_err(|e| format!("row {}: {e}", i + 1))?;
        let mut object = Map::new();
        for (name, field) in row.get_column_iter() {
            let v = match field {
                Field::Long(ns) if nanos.contains(name) => number(*ns as f64 / 1e9),
                other => value(name, other).map_err(|e| format!("row {}: {e}", i + 1))?,
            };
            object.insert(name.clone(), v);
        }
        out.push((i + 1, object));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_become_the_values_a_json_row_would_carry() {
        assert_eq!(value("x", &Field::Double(f64::NAN)).unwrap(), Value::Null);
        assert_eq!(value("x", &Field::Int(7)).unwrap(), Value::from(7));
        assert_eq!(
            value("t", &Field::TimestampMillis(1_700_000_000_500)).unwrap(),
            serde_json::json!(1_700_000_000.5)
        );
        assert_eq!(
            value("d", &Field::Date(2)).unwrap(),
            Value::from(2 * 86_400)
        );
        assert_eq!(
            value("s", &Field::Str("crypto".into())).unwrap(),
            Value::from("crypto")
        );
        let e = value("raw", &Field::Bytes(vec![1u8, 2].into())).unwrap_err();
        assert!(e.contains("`raw`"), "{e}");
        assert!(objects(b"PAR1").is_err());
    }

    /// A body with a timestamp (MILLIS), an id, a nullable double, an unsigned and a date.
    fn body() -> Vec<u8> {
        use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
        use parquet::file::writer::SerializedFileWriter;
        let schema = "message m { required int64 timestamp (TIMESTAMP(MILLIS,true)); \
            required binary id (UTF8); optional double amount; required int32 n (INTEGER(32,false)); \
            required int32 day (DATE); }";
        let schema =
            std::sync::Arc::new(parquet::schema::parser::parse_message_type(schema).unwrap());
        let mut out = Vec::new();
        let mut w = SerializedFileWriter::new(&mut out, schema, Default::default()).unwrap();
        let mut g = w.next_row_group().unwrap();
        let mut c = g.next_column().unwrap().unwrap();
        c.typed::<Int64Type>()
            .write_batch(&[1_700_000_000_500, 1_700_000_001_000], None, None)
            .unwrap();
        c.close().unwrap();
        let mut c = g.next_column().unwrap().unwrap();
        let ids = [ByteArray::from("a"), ByteArray::from("b")];
        c.typed::<ByteArrayType>()
            .write_batch(&ids, None, None)
            .unwrap();
        c.close().unwrap();
        let mut c = g.next_column().unwrap().unwrap();
        c.typed::<DoubleType>()
            .write_batch(&[2.5], Some(&[1, 0]), None)
            .unwrap();
        c.close().unwrap();
        for values in [[-1, 7], [2, 3]] {
            let mut c = g.next_column().unwrap().unwrap();
            c.typed::<Int32Type>()
                .write_batch(&values, None, None)
                .unwrap();
            c.close().unwrap();
        }
        g.close().unwrap();
        w.close().unwrap();
        out
    }

    #[test]
    fn columns_give_what_rows_give() {
        let body = body();
        let (rows, columns) = columns(&body).unwrap();
        let objects = objects(&body).unwrap();
        assert_eq!(rows, objects.len());
        for (i, (_, object)) in objects.iter().enumerate() {
            for (name, values) in &columns {
                assert_eq!(Some(&values[i]), object.get(name), "row {i}, `{name}`");
            }
        }
        assert_eq!(columns[3].1[0], Value::from(u32::MAX));
        assert_eq!(columns[4].1[1], Value::from(3 * 86_400));
    }
}
