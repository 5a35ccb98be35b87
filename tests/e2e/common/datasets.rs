//! Partitioned Parquet datasets for tests: a CSV file's rows spread over hive-style day
//! partitions (`dt=YYYY-MM-DD/part-0.parquet`), each file in row groups that cover equal parts
//! of its day, with the rows' times in a TIMESTAMP(MICROS) column `ts`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use parquet::basic::{ConvertedType, LogicalType, Repetition, TimeUnit, Type as Physical};
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;

/// A CSV column's values, typed as pandas would read them.
enum Values {
    Int(Vec<i64>),
    Double(Vec<f64>),
    Text(Vec<String>),
}

fn typed(cells: &[&str]) -> Values {
    if let Some(v) = cells
        .iter()
        .map(|c| c.parse().ok())
        .collect::<Option<Vec<i64>>>()
    {
        return Values::Int(v);
    }
    if let Some(v) = cells
        .iter()
        .map(|c| c.parse().ok())
        .collect::<Option<Vec<f64>>>()
    {
        return Values::Double(v);
    }
    Values::Text(cells.iter().map(|c| (*c).to_owned()).collect())
}

fn column(name: &str, physical: Physical) -> Arc<Type> {
    let mut b = Type::primitive_type_builder(name, physical).with_repetition(Repetition::REQUIRED);
    if physical == Physical::BYTE_ARRAY {
        b = b.with_converted_type(ConvertedType::UTF8);
    }
    if name == "ts" {
        b = b.with_logical_type(Some(LogicalType::Timestamp {
            is_adjusted_to_u_t_c: true,
            unit: TimeUnit::MICROS,
        }));
    }
    Arc::new(b.build().unwrap())
}

/// Writes `rows` (CSV records under `header`) of `day` as one file in `groups` row groups.
fn write_day(path: &Path, header: &[&str], rows: &[Vec<&str>], day: NaiveDate, groups: usize) {
    let start = Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap());
    let per_group = rows.len().div_ceil(groups);
    let step = 86_400_000_000 / rows.len().max(1) as i64;
    let mut fields = vec![column("ts", Physical::INT64)];
    let columns: Vec<Values> = (0..header.len())
        .map(|c| typed(&rows.iter().map(|r| r[c]).collect::<Vec<_>>()))
        .collect();
    for (name, values) in header.iter().zip(&columns) {
        fields.push(column(
            name,
            match values {
                Values::Int(_) => Physical::INT64,
                Values::Double(_) => Physical::DOUBLE,
                Values::Text(_) => Physical::BYTE_ARRAY,
            },
        ));
    }
    let schema = Arc::new(
        Type::group_type_builder("schema")
            .with_fields(fields)
            .build()
            .unwrap(),
    );
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let props = Arc::new(WriterProperties::builder().build());
    let mut writer = SerializedFileWriter::new(file, schema, props).unwrap();
    for g in 0..groups {
        let range = (g * per_group).min(rows.len())..((g + 1) * per_group).min(rows.len());
        let mut group = writer.next_row_group().unwrap();
        let ts: Vec<i64> = range
            .clone()
            .map(|i| start.timestamp_micros() + i as i64 * step)
            .collect();
        let mut c = group.next_column().unwrap().unwrap();
        c.typed::<Int64Type>().write_batch(&ts, None, None).unwrap();
        c.close().unwrap();
        for values in &columns {
            let mut c = group.next_column().unwrap().unwrap();
            match values {
                Values::Int(v) => c
                    .typed::<Int64Type>()
                    .write_batch(&v[range.clone()], None, None),
                Values::Double(v) => {
                    c.typed::<DoubleType>()
                        .write_batch(&v[range.clone()], None, None)
                }
                Values::Text(v) => {
                    let v: Vec<ByteArray> =
                        v[range.clone()].iter().map(|s| s.as_str().into()).collect();
                    c.typed::<ByteArrayType>().write_batch(&v, None, None)
                }
            }
            .unwrap();
            c.close().unwrap();
        }
        group.close().unwrap();
    }
    writer.close().unwrap();
}

/// Spreads the rows of `csv` over one partition per day of `days` under `dir`; returns the
/// files written, relative to `dir`.
pub fn write_partitioned(
    csv: &Path,
    dir: &Path,
    days: &[NaiveDate],
    groups: usize,
) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(csv).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let per_day = rows.len().div_ceil(days.len());
    days.iter()
        .zip(rows.chunks(per_day))
        .map(|(day, rows)| {
            let relative = PathBuf::from(format!("dt={}/part-0.parquet", day.format("%Y-%m-%d")));
            write_day(&dir.join(&relative), &header, rows, *day, groups);
            relative
        })
        .collect()
}
