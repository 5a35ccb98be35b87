//! Parquet files, read column by column with the `parquet` crate's column readers (no Arrow).
//! Doubles and floats are numbers; 32- and 64-bit integers are integers (pandas' int dtype);
//! strings (UTF-8 byte arrays) and booleans are categories; dates, times, timestamps, decimals,
//! other binary and nested columns are reported as untestable, as Evidently leaves them out.

use std::fs::File;
use std::path::Path;

use parquet::basic::{ConvertedType, LogicalType, Type as Physical};
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{ByteArray, ByteArrayType, DataType};
use parquet::file::reader::{FileReader, RowGroupReader, SerializedFileReader};
use parquet::schema::types::ColumnDescriptor;

use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;

use super::{Cell, ColumnBuilder, ReadError, Schema, Table};

const BATCH: usize = 64 * 1024;

/// Reads `path`. `schema` fixes the kind of the named columns; others are inferred.
pub fn read(path: &Path, schema: &Schema) -> Result<Table, ReadError> {
    let file = path.display().to_string();
    let fail = |message: String| ReadError::new(file.clone(), message);
    let handle = File::open(path).map_err(|e| fail(format!("cannot read the file: {e}")))?;
    let reader = SerializedFileReader::new(handle)
        .map_err(|e| fail(format!("not a readable Parquet file: {e}")))?;
    let meta = reader.metadata();
    let descr = meta.file_metadata().schema_descr();
    let groups: Vec<usize> = meta
        .row_groups()
        .iter()
        .map(|g| g.num_rows().max(0) as usize)
        .collect();
    let rows: usize = groups.iter().sum();
    if rows == 0 {
        return Err(fail("the file holds no rows".into()));
    }
    // Columns are independent: read them on every core, each with its own file handle (the
    // parquet crate reads a `File` through clones that share one read position).
    let open = || {
        File::open(path)
            .map_err(|e| e.to_string())
            .and_then(|f| SerializedFileReader::new(f).map_err(|e| e.to_string()))
    };
    let columns = (0..descr.num_columns())
        .into_par_iter()
        .map(|i| {
            let reader = open().map_err(|e| format!("cannot read the file: {e}"))?;
            let name = descr.column(i).path().string();
            let mut builder = ColumnBuilder::new(&name, schema.get(&name).copied());
            let mut first_row = 0;
            for (g, &group_rows) in groups.iter().enumerate() {
                let group = reader
                    .get_row_group(g)
                    .map_err(|e| format!("row group {g}: {e}"))?;
                read_column(&*group, i, &mut builder, first_row)
                    .map_err(|e| format!("column `{name}` (row group {g}): {e}"))?;
                first_row += group_rows;
            }
            Ok((name, builder.finish(rows)))
        })
        .collect::<Result<Vec<_>, String>>()
        .map_err(fail)?;
    Ok(Table { rows, columns })
}

/// What a leaf column's values are, from its physical and logical types.
fn unsupported(d: &ColumnDescriptor) -> Option<&'static str> {
    if d.max_rep_level() > 0 || d.path().parts().len() > 1 {
        return Some("nested values");
    }
    match (d.logical_type_ref(), d.converted_type()) {
        (Some(LogicalType::Date), _) | (_, ConvertedType::DATE) => Some("dates"),
        (Some(LogicalType::Time { .. }), _)
        | (_, ConvertedType::TIME_MILLIS | ConvertedType::TIME_MICROS) => Some("times"),
        (Some(LogicalType::Timestamp { .. }), _)
        | (_, ConvertedType::TIMESTAMP_MILLIS | ConvertedType::TIMESTAMP_MICROS) => {
            Some("timestamps")
        }
        (Some(LogicalType::Decimal { .. }), _) | (_, ConvertedType::DECIMAL) => Some("decimals"),
        _ => match d.physical_type() {
            Physical::INT96 => Some("timestamps"),
            Physical::FIXED_LEN_BYTE_ARRAY => Some("fixed-length binary values"),
            _ => None,
        },
    }
}

/// Reads column `i` of a row group into `builder` (`first_row`: rows before the group, for
/// messages); nulls become missing cells.
pub fn read_column(
    group: &dyn RowGroupReader,
    i: usize,
    builder: &mut ColumnBuilder,
    first_row: usize,
) -> Result<(), String> {
    let descr = group.metadata().column(i).column_descr_ptr();
    if let Some(what) = unsupported(&descr) {
        let rows = group.metadata().num_rows().max(0) as usize;
        for r in 0..rows {
            builder.push(Cell::Unsupported(what), first_row + r + 1)?;
        }
        return Ok(());
    }
    let reader = group.get_column_reader(i).map_err(|e| e.to_string())?;
    let max_def = descr.max_def_level();
    match reader {
        ColumnReader::DoubleColumnReader(r) => {
            drain(r, max_def, builder, first_row, |x| Ok(Cell::Float(*x)))
        }
        ColumnReader::FloatColumnReader(r) => drain(r, max_def, builder, first_row, |x| {
            Ok(Cell::Float(f64::from(*x)))
        }),
        ColumnReader::Int32ColumnReader(r) => drain(r, max_def, builder, first_row, |x| {
            Ok(Cell::Integer(i64::from(*x)))
        }),
        ColumnReader::Int64ColumnReader(r) => {
            drain(r, max_def, builder, first_row, |x| Ok(Cell::Integer(*x)))
        }
        ColumnReader::BoolColumnReader(r) => {
            drain(r, max_def, builder, first_row, |x| Ok(Cell::Bool(*x)))
        }
        ColumnReader::ByteArrayColumnReader(r) if builder.counts_text() => {
            drain_text(r, max_def, builder, first_row)
        }
        ColumnReader::ByteArrayColumnReader(r) => drain(r, max_def, builder, first_row, |x| {
            x.as_utf8()
                .map(Cell::Str)
                .map_err(|_| "holds bytes that are not UTF-8 text".to_owned())
        }),
        ColumnReader::Int96ColumnReader(_) | ColumnReader::FixedLenByteArrayColumnReader(_) => {
            Err("unsupported physical type".into())
        }
    }
}

/// Reads a column chunk batch by batch: `each` gets the non-null values, the definition levels
/// (nullable columns) and the number of rows before the batch.
pub fn batches<T: DataType>(
    mut reader: ColumnReaderImpl<T>,
    max_def: i16,
    first_row: usize,
    mut each: impl FnMut(&[T::T], Option<&[i16]>, usize) -> Result<(), String>,
) -> Result<(), String> {
    let mut values: Vec<T::T> = Vec::with_capacity(BATCH);
    let mut defs: Vec<i16> = Vec::with_capacity(BATCH);
    let nullable = max_def > 0;
    let mut row = first_row;
    loop {
        values.clear();
        defs.clear();
        let (records, _, _) = reader
            .read_records(BATCH, nullable.then_some(&mut defs), None, &mut values)
            .map_err(|e| e.to_string())?;
        if records == 0 {
            return Ok(());
        }
        each(&values, nullable.then_some(&defs[..]), row)?;
        row += records;
    }
}

/// Appends every value of one column chunk to `out`, each through `value`; a null row gets
/// `missing()`.
pub fn drain_values<T: DataType, V>(
    reader: ColumnReaderImpl<T>,
    max_def: i16,
    out: &mut Vec<V>,
    missing: impl Fn() -> V,
    value: impl Fn(&T::T) -> Result<V, String>,
) -> Result<(), String> {
    batches(reader, max_def, 0, |values, defs, _| {
        match defs {
            Some(defs) => {
                let mut next = values.iter();
                for &d in defs {
                    out.push(match (d == max_def).then(|| next.next()).flatten() {
                        Some(v) => value(v)?,
                        None => missing(),
                    });
                }
            }
            None => {
                for v in values {
                    out.push(value(v)?);
                }
            }
        }
        Ok(())
    })
}

/// Reads every value of one column chunk into `builder`; nulls become missing cells.
fn drain<T: DataType>(
    reader: ColumnReaderImpl<T>,
    max_def: i16,
    builder: &mut ColumnBuilder,
    first_row: usize,
    cell: impl Fn(&T::T) -> Result<Cell<'_>, String>,
) -> Result<(), String> {
    batches(reader, max_def, first_row, |values, defs, mut row| {
        match defs {
            Some(defs) => {
                let mut next = values.iter();
                for &d in defs {
                    row += 1;
                    let c = match (d == max_def).then(|| next.next()).flatten() {
                        Some(v) => cell(v).map_err(|e| format!("row {row} {e}"))?,
                        None => Cell::Missing,
                    };
                    builder.push(c, row)?;
                }
            }
            None => {
                for v in values {
                    row += 1;
                    builder.push(cell(v).map_err(|e| format!("row {row} {e}"))?, row)?;
                }
            }
        }
        Ok(())
    })
}

/// Reads a column chunk of strings into a column that counts them. A dictionary-encoded chunk
/// (the usual encoding of a category column) gives every occurrence of a value as a view of the
/// same dictionary entry, so the values of a batch are first counted by where their bytes are;
/// each distinct entry is then checked for UTF-8 and counted once per batch. (Within a batch
/// every value is alive, so equal addresses and lengths mean equal bytes; values of a plain-
/// encoded chunk simply all have their own.)
fn drain_text(
    reader: ColumnReaderImpl<ByteArrayType>,
    max_def: i16,
    builder: &mut ColumnBuilder,
    first_row: usize,
) -> Result<(), String> {
    let mut seen: HashMap<(usize, usize), (usize, u64)> = HashMap::default();
    batches(reader, max_def, first_row, |values, defs, row| {
        seen.clear();
        for (k, v) in values.iter().enumerate() {
            let bytes: &[u8] = v.as_ref();
            seen.entry((bytes.as_ptr() as usize, bytes.len()))
                .or_insert((k, 0))
                .1 += 1;
        }
        for &(k, n) in seen.values() {
            let Some(Ok(text)) = values.get(k).map(ByteArray::as_utf8) else {
                // The row of the k-th value: nulls have no value.
                let at = defs
                    .and_then(|d| d.iter().enumerate().filter(|(_, d)| **d == max_def).nth(k))
                    .map_or(k, |(r, _)| r);
                return Err(format!(
                    "row {} holds bytes that are not UTF-8 text",
                    row + at + 1
                ));
            };
            builder.push_text(text, n);
        }
        let rows = defs.map_or(values.len(), <[i16]>::len);
        builder.push_missing(rows - values.len());
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use parquet::data_type::{DoubleType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;

    use super::*;
    use crate::column::Column;
    use mlops_domain::FeatureKind;

    /// Writes x (optional double), n (required int64), c (optional string), d (date).
    pub(crate) fn write_sample(path: &Path, rows: usize) {
        let schema = Arc::new(
            parse_message_type(
                "message m { optional double x; required int64 n; optional binary c (UTF8); optional int32 d (DATE); }",
            )
            .unwrap(),
        );
        let props = Arc::new(WriterProperties::builder().build());
        let mut w = SerializedFileWriter::new(File::create(path).unwrap(), schema, props).unwrap();
        let mut g = w.next_row_group().unwrap();
        let defs: Vec<i16> = (0..rows).map(|i| i16::from(i % 10 != 0)).collect();
        let xs: Vec<f64> = (0..rows)
            .filter(|i| i % 10 != 0)
            .map(|i| i as f64 * 0.5)
            .collect();
        let mut col = g.next_column().unwrap().unwrap();
        col.typed::<DoubleType>()
            .write_batch(&xs, Some(&defs), None)
            .unwrap();
        col.close().unwrap();
        let ns: Vec<i64> = (0..rows as i64).map(|i| i % 4).collect();
        let mut col = g.next_column().unwrap().unwrap();
        col.typed::<Int64Type>()
            .write_batch(&ns, None, None)
            .unwrap();
        col.close().unwrap();
        let cs: Vec<ByteArray> = (0..rows)
            .filter(|i| i % 10 != 0)
            .map(|i| ByteArray::from(["a", "b", "c"][i % 3]))
            .collect();
        let mut col = g.next_column().unwrap().unwrap();
        col.typed::<ByteArrayType>()
            .write_batch(&cs, Some(&defs), None)
            .unwrap();
        col.close().unwrap();
        let ds: Vec<i32> = (0..rows)
            .filter(|i| i % 10 != 0)
            .map(|i| i as i32)
            .collect();
        let mut col = g.next_column().unwrap().unwrap();
        col.typed::<parquet::data_type::Int32Type>()
            .write_batch(&ds, Some(&defs), None)
            .unwrap();
        col.close().unwrap();
        g.close().unwrap();
        w.close().unwrap();
    }

    #[test]
    fn columns_read_in_parallel_keep_their_own_values() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wide.parquet");
        let fields: String = (0..16).map(|k| format!("required double c{k}; ")).collect();
        let schema = Arc::new(parse_message_type(&format!("message m {{ {fields}}}")).unwrap());
        let props = Arc::new(WriterProperties::builder().build());
        let mut w = SerializedFileWriter::new(File::create(&p).unwrap(), schema, props).unwrap();
        for group in 0..3 {
            let mut g = w.next_row_group().unwrap();
            for k in 0..16 {
                let values: Vec<f64> = (0..20_000)
                    .map(|i| f64::from(k * 1000 + group) + f64::from(i) * 1e-6)
                    .collect();
                let mut col = g.next_column().unwrap().unwrap();
                col.typed::<DoubleType>()
                    .write_batch(&values, None, None)
                    .unwrap();
                col.close().unwrap();
            }
            g.close().unwrap();
        }
        w.close().unwrap();
        for _ in 0..5 {
            let t = read(&p, &Schema::new()).unwrap();
            for k in 0..16 {
                let Column::Numeric(v) = &t.column(&format!("c{k}")).unwrap().column else {
                    panic!("c{k} is not numeric")
                };
                assert_eq!(v.len(), 60_000);
                assert!(
                    v.iter().all(|x| (x - f64::from(k * 1000)).abs() < 3.0),
                    "column c{k}"
                );
            }
        }
    }

    /// One optional string column `s`; `None` cells are nulls.
    fn write_strings(path: &Path, cells: &[Option<&[u8]>], dictionary: bool) {
        let schema =
            Arc::new(parse_message_type("message m { optional binary s (UTF8); }").unwrap());
        let props = WriterProperties::builder()
            .set_dictionary_enabled(dictionary)
            .build();
        let mut w = SerializedFileWriter::new(File::create(path).unwrap(), schema, Arc::new(props))
            .unwrap();
        let mut g = w.next_row_group().unwrap();
        let defs: Vec<i16> = cells.iter().map(|c| i16::from(c.is_some())).collect();
        let values: Vec<ByteArray> = cells
            .iter()
            .flatten()
            .map(|b| ByteArray::from(*b))
            .collect();
        let mut col = g.next_column().unwrap().unwrap();
        col.typed::<ByteArrayType>()
            .write_batch(&values, Some(&defs), None)
            .unwrap();
        col.close().unwrap();
        g.close().unwrap();
        w.close().unwrap();
    }

    #[test]
    fn strings_are_counted_alike_with_and_without_a_dictionary() {
        let dir = tempfile::tempdir().unwrap();
        let words: [&[u8]; 4] = [b"red", b"green", b"blue", b"\xc3\xa9t\xc3\xa9"];
        let cells: Vec<Option<&[u8]>> = (0..150_000)
            .map(|i| (i % 7 != 0).then(|| words[(i * i) % 4]))
            .collect();
        let mut expected = crate::Counts::new();
        for w in cells.iter().flatten() {
            *expected
                .entry(String::from_utf8(w.to_vec()).unwrap())
                .or_insert(0) += 1;
        }
        let mut profiles = Vec::new();
        for dictionary in [true, false] {
            let p = dir.path().join(format!("s{dictionary}.parquet"));
            write_strings(&p, &cells, dictionary);
            let t = read(&p, &Schema::new()).unwrap();
            let s = t.column("s").unwrap().clone();
            assert_eq!((t.rows, s.missing), (150_000, 150_000 / 7 + 1));
            assert_eq!(s.column, Column::Categorical(expected.clone()));
            profiles.push(s);
        }
        assert_eq!(profiles[0], profiles[1]);
        // Bytes that are not UTF-8 are refused with their row (nulls counted).
        let mut bad = cells[..20].to_vec();
        bad[15] = Some(b"\xff\xfe");
        let p = dir.path().join("bad.parquet");
        write_strings(&p, &bad, true);
        let e = read(&p, &Schema::new()).unwrap_err().to_string();
        assert!(e.contains("row 16") && e.contains("UTF-8"), "{e}");
    }

    #[test]
    fn reads_typed_columns_with_nulls() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.parquet");
        write_sample(&p, 100);
        let t = read(&p, &Schema::new()).unwrap();
        assert_eq!(t.rows, 100);
        let x = t.column("x").unwrap();
        assert_eq!(
            (x.kind, x.missing, x.column.len()),
            (FeatureKind::Numeric, 10, 90)
        );
        let n = t.column("n").unwrap();
        assert_eq!(n.kind, FeatureKind::Categorical);
        assert!(matches!(&n.column, Column::Categorical(m) if m.get("3") == Some(&25)));
        let c = t.column("c").unwrap();
        assert_eq!((c.kind, c.missing), (FeatureKind::Categorical, 10));
        let d = t.column("d").unwrap();
        assert!(d.untestable.as_deref().unwrap_or("").contains("dates"));

        std::fs::write(&p, b"not parquet").unwrap();
        let e = read(&p, &Schema::new()).unwrap_err().to_string();
        assert!(e.contains("d.parquet") && e.contains("Parquet"), "{e}");
    }
}
