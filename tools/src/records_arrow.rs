//! Arrow IPC bodies of the data endpoints (`application/vnd.apache.arrow.stream`, or the file
//! format `application/vnd.apache.arrow.file`), read column by column into the values a
//! JSON-lines row would carry, as Parquet bodies are: booleans, integers, floats (NaN and
//! infinities become missing), strings (also dictionary-encoded, as pandas' categoricals are),
//! timestamps and dates (as seconds since the epoch). Any other column type is refused by name.

use std::io::Cursor;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrowPrimitiveType, RecordBatch};
use arrow_ipc::reader::{FileReader, StreamReader};
use arrow_schema::{DataType, TimeUnit};
use serde_json::{Number, Value};

use crate::records_parquet::NamedColumns;

fn number(x: f64) -> Value {
    Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// Appends a primitive array's values, each through `value` (nulls as null).
fn primitive<T: ArrowPrimitiveType>(
    array: &dyn Array,
    out: &mut Vec<Value>,
    value: impl Fn(T::Native) -> Value,
) {
    out.extend(
        array
            .as_primitive::<T>()
            .iter()
            .map(|v| v.map_or(Value::Null, &value)),
    );
}

/// Appends `array`'s values (column `name`) to `out`.
fn append(name: &str, array: &dyn Array, out: &mut Vec<Value>) -> Result<(), String> {
    let text = |s: Option<&str>| s.map_or(Value::Null, |s| Value::String(s.to_owned()));
    match array.data_type() {
        DataType::Null => out.extend((0..array.len()).map(|_| Value::Null)),
        DataType::Boolean => out.extend(
            array
                .as_boolean()
                .iter()
                .map(|b| b.map_or(Value::Null, Value::Bool)),
        ),
        DataType::Int8 => primitive::<Int8Type>(array, out, Value::from),
        DataType::Int16 => primitive::<Int16Type>(array, out, Value::from),
        DataType::Int32 => primitive::<Int32Type>(array, out, Value::from),
        DataType::Int64 => primitive::<Int64Type>(array, out, Value::from),
        DataType::UInt8 => primitive::<UInt8Type>(array, out, Value::from),
        DataType::UInt16 => primitive::<UInt16Type>(array, out, Value::from),
        DataType::UInt32 => primitive::<UInt32Type>(array, out, Value::from),
        DataType::UInt64 => primitive::<UInt64Type>(array, out, Value::from),
        DataType::Float32 => primitive::<Float32Type>(array, out, |x| number(f64::from(x))),
        DataType::Float64 => primitive::<Float64Type>(array, out, number),
        DataType::Utf8 => out.extend(array.as_string::<i32>().iter().map(text)),
        DataType::LargeUtf8 => out.extend(array.as_string::<i64>().iter().map(text)),
        DataType::Utf8View => out.extend(array.as_string_view().iter().map(text)),
        DataType::Timestamp(unit, _) => match unit {
            TimeUnit::Second => primitive::<TimestampSecondType>(array, out, Value::from),
            TimeUnit::Millisecond => {
                primitive::<TimestampMillisecondType>(array, out, |x| number(x as f64 / 1e3));
            }
            TimeUnit::Microsecond => {
                primitive::<TimestampMicrosecondType>(array, out, |x| number(x as f64 / 1e6));
            }
            TimeUnit::Nanosecond => {
                primitive::<TimestampNanosecondType>(array, out, |x| number(x as f64 / 1e9));
            }
        },
        DataType::Date32 => {
            primitive::<Date32Type>(array, out, |d| Value::from(i64::from(d) * 86_400))
        }
        DataType::Date64 => primitive::<Date64Type>(array, out, |ms| number(ms as f64 / 1e3)),
        DataType::Dictionary(..) => {
            let dictionary = array.as_any_dictionary();
            let mut values = Vec::with_capacity(dictionary.values().len());
            append(name, dictionary.values().as_ref(), &mut values)?;
            for (i, key) in dictionary.normalized_keys().into_iter().enumerate() {
                out.push(match dictionary.is_null(i) {
                    true => Value::Null,
                    false => values.get(key).cloned().unwrap_or(Value::Null),
                });
            }
        }
        other => {
            return Err(format!(
                "column `{name}` has a type rows cannot hold ({other}); send booleans, numbers, strings, timestamps or dates"
            ));
        }
    }
    Ok(())
}

/// An Arrow IPC body (the stream format, or the file format when `file`) column by column: its
/// rows and each column's name and values, in the schema's order.
pub(crate) fn columns(body: &[u8], file: bool) -> Result<(usize, NamedColumns), String> {
    let fail = |e: arrow_schema::ArrowError| {
        format!(
            "the body is not an Arrow IPC {}: {e}",
            if file { "file" } else { "stream" }
        )
    };
    let (schema, batches): (_, Vec<RecordBatch>) = if file {
        let reader = FileReader::try_new(Cursor::new(body), None).map_err(fail)?;
        let schema = reader.schema();
        (schema, reader.collect::<Result<_, _>>().map_err(fail)?)
    } else {
        let reader = StreamReader::try_new(Cursor::new(body), None).map_err(fail)?;
        let schema = reader.schema();
        (schema, reader.collect::<Result<_, _>>().map_err(fail)?)
    };
    let rows = batches.iter().map(RecordBatch::num_rows).sum();
    let mut out = Vec::with_capacity(schema.fields().len());
    for (i, field) in schema.fields().iter().enumerate() {
        let mut values = Vec::with_capacity(rows);
        for batch in &batches {
            let column = batch
                .columns()
                .get(i)
                .ok_or_else(|| format!("a record batch lacks column `{}`", field.name()))?;
            append(field.name(), column.as_ref(), &mut values)?;
        }
        out.push((field.name().clone(), values));
    }
    Ok((rows, out))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{
        DictionaryArray, Float64Array, Int64Array, ListArray, StringArray,
        TimestampMillisecondArray,
    };
    use arrow_ipc::writer::{FileWriter, StreamWriter};
    use arrow_schema::{Field, Schema};

    use super::*;

    fn batch() -> RecordBatch {
        let categories: DictionaryArray<Int32Type> =
            vec![Some("web"), None, Some("pos")].into_iter().collect();
        RecordBatch::try_from_iter(vec![
            (
                "timestamp",
                Arc::new(
                    TimestampMillisecondArray::from(vec![1_700_000_000_500, 1, 2])
                        .with_timezone("UTC"),
                ) as Arc<dyn Array>,
            ),
            (
                "amount",
                Arc::new(Float64Array::from(vec![Some(1.5), Some(f64::NAN), None])),
            ),
            ("n", Arc::new(Int64Array::from(vec![1, 2, 3]))),
            ("id", Arc::new(StringArray::from(vec!["a", "b", "c"]))),
            ("channel", Arc::new(categories)),
        ])
        .unwrap()
    }

    #[test]
    fn stream_and_file_bodies_give_json_values() {
        let b = batch();
        let mut stream = Vec::new();
        let mut w = StreamWriter::try_new(&mut stream, &b.schema()).unwrap();
        w.write(&b).unwrap();
        w.write(&b).unwrap();
        w.finish().unwrap();
        drop(w);
        let mut file = Vec::new();
        let mut w = FileWriter::try_new(&mut file, &b.schema()).unwrap();
        w.write(&b).unwrap();
        w.finish().unwrap();
        drop(w);
        let (rows, read) = columns(&stream, false).unwrap();
        assert_eq!(rows, 6);
        let column = |name: &str| read.iter().find(|(n, _)| n == name).unwrap().1.clone();
        assert_eq!(column("timestamp")[0], serde_json::json!(1_700_000_000.5));
        assert_eq!(
            column("amount")[..3],
            [serde_json::json!(1.5), Value::Null, Value::Null]
        );
        assert_eq!(
            column("channel")[..3],
            [Value::from("web"), Value::Null, Value::from("pos")]
        );
        assert_eq!(column("n")[5], Value::from(3));
        assert_eq!(columns(&file, true).unwrap().0, 3);
        // Each format read as the other is refused; so is a nested column.
        assert!(columns(&file, false).is_err() && columns(&stream, true).is_err());
        let list = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![Some(vec![Some(1)])]);
        let nested = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "xs",
                list.data_type().clone(),
                true,
            )])),
            vec![Arc::new(list)],
        )
        .unwrap();
        let mut body = Vec::new();
        let mut w = StreamWriter::try_new(&mut body, &nested.schema()).unwrap();
        w.write(&nested).unwrap();
        w.finish().unwrap();
        drop(w);
        let e = columns(&body, false).unwrap_err();
        assert!(e.contains("`xs`"), "{e}");
    }

    #[test]
    fn labels_come_as_arrow_too() {
        let b = RecordBatch::try_from_iter(vec![
            (
                "id",
                Arc::new(StringArray::from(vec!["a", "b"])) as Arc<dyn Array>,
            ),
            ("label", Arc::new(Int64Array::from(vec![1, 0]))),
        ])
        .unwrap();
        let mut body = Vec::new();
        let mut w = StreamWriter::try_new(&mut body, &b.schema()).unwrap();
        w.write(&b).unwrap();
        w.finish().unwrap();
        drop(w);
        let labels =
            crate::records::parse_labels(&body, crate::records::BodyFormat::ArrowStream).unwrap();
        let got: Vec<(&str, &str)> = labels
            .iter()
            .map(|l| (l.row_id.as_str(), l.label.as_str()))
            .collect();
        assert_eq!(got, [("a", "1"), ("b", "0")]);
    }
}
