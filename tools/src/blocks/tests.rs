//! Blocks give back exactly the rows that went in: as a drift table (the same table the rows
//! make as JSON objects) and as rows.

use bytes::Bytes;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Map, Value, json};

use super::decode::Block;
use super::encode::encode;
use super::{NewRecord, Window};
use crate::drift::source::{Schema, TableBuilder, jsonl};
use crate::model::FeatureKind;
use crate::records::Rows;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()
}

/// Rows whose fields mix everything a block must keep apart.
fn rows() -> Vec<NewRecord> {
    let values = [
        json!({"id": "a", "amount": 1, "score": 0.5, "mixed": 1, "flag": true, "channel": "web", "json": "x"}),
        json!({"id": 7, "amount": 2, "score": 2, "mixed": 2.5, "flag": false, "channel": null, "json": 3}),
        json!({"amount": null, "score": 1e300, "channel": "pos", "json": true, "late": "only here"}),
        json!({"amount": 4, "score": -0.0, "mixed": -3, "flag": null, "channel": "web", "json": null}),
    ];
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let Value::Object(data) = v else { panic!() };
            NewRecord {
                timestamp: t0() + Duration::minutes(i as i64),
                id: crate::records::row_id_of(&data),
                data,
            }
        })
        .collect()
}

fn bytes(rows: &[NewRecord]) -> Bytes {
    Bytes::from(encode(&Rows::from_records(rows.to_vec())).unwrap().bytes)
}

fn json_table(rows: &[NewRecord], schema: &Schema) -> crate::drift::source::Table {
    let mut b = TableBuilder::new(schema);
    for (i, r) in rows.iter().enumerate() {
        jsonl::push_object(&mut b, &r.data, i + 1, &[]).unwrap();
    }
    b.finish()
}

fn block_table(
    blocks: &[&[NewRecord]],
    window: Option<Window>,
    schema: &Schema,
) -> crate::drift::source::Table {
    let mut b = TableBuilder::new(schema);
    for rows in blocks {
        let block = Block::open(bytes(rows)).unwrap();
        let mask = window.map(|w| block.mask(w).unwrap());
        block.push_into(&mut b, mask.as_deref()).unwrap();
    }
    b.finish()
}

#[test]
fn a_block_reads_back_as_the_table_its_rows_make() {
    let rows = rows();
    let schema = Schema::new();
    assert_eq!(
        block_table(&[&rows], None, &schema),
        json_table(&rows, &schema)
    );
    // Declared kinds apply the same way.
    let declared: Schema = [("mixed".to_owned(), FeatureKind::Categorical)].into();
    assert_eq!(
        block_table(&[&rows], None, &declared),
        json_table(&rows, &declared)
    );
    // Split over blocks that each see only some of the columns.
    assert_eq!(
        block_table(&[&rows[..1], &rows[1..3], &rows[3..]], None, &schema),
        json_table(&rows, &schema)
    );
}

#[test]
fn a_window_keeps_only_its_rows() {
    let rows = rows();
    let window = Window {
        from: t0() + Duration::minutes(1),
        to: t0() + Duration::minutes(3),
    };
    let table = block_table(&[&rows], Some(window), &Schema::new());
    assert_eq!(table, json_table(&rows[1..3], &Schema::new()));
    assert_eq!(table.rows, 2);
}

#[test]
fn rows_come_back_with_every_field() {
    let rows = rows();
    let block = Block::open(bytes(&rows)).unwrap();
    let window = Window {
        from: t0(),
        to: t0() + Duration::hours(1),
    };
    let back = block.objects(window).unwrap();
    assert_eq!(back.len(), rows.len());
    for ((at, object), row) in back.iter().zip(&rows) {
        assert_eq!(*at, row.timestamp);
        // Fields a row lacked come back as null; every other value exactly, except that a
        // column mixing integers with fractions gives every value as a float.
        let mut expected: Map<String, Value> =
            object.keys().map(|k| (k.clone(), Value::Null)).collect();
        expected.extend(row.data.clone());
        for mixed in ["mixed", "score"] {
            if let Some(x) = expected.get(mixed).and_then(Value::as_f64) {
                expected.insert(mixed.into(), json!(x));
            }
        }
        assert_eq!(object, &expected);
    }
    assert_eq!(back[1].1["id"], json!(7));
    assert_eq!(back[0].1["json"], json!("x"));
    assert_eq!(back[1].1["json"], json!(3));
}

#[test]
fn the_catalog_lists_each_columns_block_type() {
    let columns: Vec<(String, String)> =
        serde_json::from_str(&encode(&Rows::from_records(rows())).unwrap().columns).unwrap();
    let kind = |name: &str| {
        columns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, k)| k.as_str())
    };
    assert_eq!(
        [
            kind("amount"),
            kind("score"),
            kind("mixed"),
            kind("flag"),
            kind("channel"),
            kind("json")
        ],
        [
            Some("int64"),
            Some("double"),
            Some("double"),
            Some("bool"),
            Some("text"),
            Some("json")
        ]
    );
}
