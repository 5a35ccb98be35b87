//! JSON-lines files: one JSON object per line, keys are columns. A key absent from a line is a
//! missing cell; `null` is missing; numbers, strings and booleans keep their JSON types (a string
//! is never read as a number, as pandas' `read_json` does).

use std::io::BufRead;
use std::path::Path;

use serde_json::Value;

use super::{Cell, ReadError, Schema, Table, TableBuilder};

/// Reads `path`. `schema` fixes the kind of the named columns; others are inferred.
pub fn read(path: &Path, schema: &Schema) -> Result<Table, ReadError> {
    let file = path.display().to_string();
    let fail = |message: String| ReadError::new(file.clone(), message);
    let reader =
        std::fs::File::open(path).map_err(|e| fail(format!("cannot read the file: {e}")))?;
    let mut table = TableBuilder::new(schema);
    for (i, line) in std::io::BufReader::with_capacity(1 << 20, reader)
        .lines()
        .enumerate()
    {
        let row = i + 1;
        let line = line.map_err(|e| fail(format!("line {row}: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let object: serde_json::Map<String, Value> = serde_json::from_str(&line)
            .map_err(|e| fail(format!("line {row}: not a JSON object: {e}")))?;
        push_object(&mut table, &object, row, &[]).map_err(fail)?;
    }
    if table.rows == 0 {
        return Err(fail("the file holds no rows".into()));
    }
    Ok(table.finish())
}

/// The cell a JSON value is.
pub fn cell(value: &Value) -> Cell<'_> {
    match value {
        Value::Null => Cell::Missing,
        Value::Bool(b) => Cell::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Cell::Integer(i),
            None => Cell::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Cell::Str(s),
        Value::Array(_) => Cell::Unsupported("lists"),
        Value::Object(_) => Cell::Unsupported("nested objects"),
    }
}

/// Adds one row (an object) to `table`, skipping the keys in `skip` (e.g. the timestamp).
pub fn push_object(
    table: &mut TableBuilder,
    object: &serde_json::Map<String, Value>,
    row: usize,
    skip: &[&str],
) -> Result<(), String> {
    let before = table.rows;
    for (key, value) in object {
        if skip.contains(&key.as_str()) {
            continue;
        }
        let i = table.column(key);
        let builder = &mut table.columns[i];
        // Columns first seen on this row were missing on every earlier row.
        for _ in builder.rows_seen()..before {
            builder.push(Cell::Missing, row)?;
        }
        builder.push(cell(value), row)?;
    }
    table.rows += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::column::Column;
    use mlops_domain::FeatureKind;

    #[test]
    fn reads_typed_values_and_absent_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.jsonl");
        let lines: String = (0..30)
            .map(|i| {
                if i == 3 {
                    "{\"x\": null, \"c\": \"b\"}\n".to_owned()
                } else {
                    format!(
                        "{{\"x\": {}.5, \"c\": \"{}\", \"n\": {}}}\n",
                        i,
                        ["a", "b"][i % 2],
                        i % 3
                    )
                }
            })
            .collect();
        std::fs::write(&p, lines).unwrap();
        let t = read(&p, &Schema::new()).unwrap();
        assert_eq!(t.rows, 30);
        let x = t.column("x").unwrap();
        assert_eq!(
            (x.kind, x.missing, x.column.len()),
            (FeatureKind::Numeric, 1, 29)
        );
        let n = t.column("n").unwrap();
        // One row lacks `n`: pandas would make it float, so it stays numeric.
        assert_eq!((n.kind, n.missing), (FeatureKind::Numeric, 1));
        let c = t.column("c").unwrap();
        assert!(matches!(&c.column, Column::Categorical(m) if m.len() == 2));

        std::fs::write(&p, "{\"x\": 1}\n[1, 2]\n").unwrap();
        let e = read(&p, &Schema::new()).unwrap_err().to_string();
        assert!(e.contains("d.jsonl") && e.contains("line 2"), "{e}");
    }
}
