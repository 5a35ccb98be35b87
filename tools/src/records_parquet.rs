//! Parquet bodies of the data endpoints (`application/vnd.apache.parquet`): each row of the
//! file becomes the object a JSON-lines row would be, and goes through the same checks. Flat
//! columns only: booleans, integers, floats (NaN and infinities become missing, as JSON has
//! none), strings, and timestamps (`TIMESTAMP(MILLIS|MICROS)`, and `DATE` as midnight UTC),
//! which become seconds since the epoch. Anything else (nested groups, lists, maps, raw bytes,
//! decimals) is refused with the column's name.

use bytes::Bytes;
use parquet::basic::{LogicalType, TimeUnit};
use parquet::file::reader::{FileReader, SerializedFileReader};
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
}
