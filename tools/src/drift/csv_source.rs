//! Reads a CSV file into typed columns, with Evidently's type inference (floats numeric,
//! integers with at most 10 distinct values categorical, strings categorical) unless a schema
//! says otherwise. Errors name the file, the column and the row.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::model::FeatureKind;

/// Cells pandas reads as missing by default.
const MISSING: &[&str] = &[
    "", "NA", "N/A", "NaN", "nan", "NULL", "null", "None", "n/a", "<NA>", "-NaN", "-nan",
];
/// Evidently's `INTEGER_CARDINALITY_LIMIT`.
const INTEGER_AS_CATEGORY: usize = 10;

/// One column as read: values with `None` for missing cells.
#[derive(Debug, Clone, PartialEq)]
pub enum RawColumn {
    Numeric(Vec<Option<f64>>),
    Categorical(Vec<Option<String>>),
}

impl RawColumn {
    pub fn kind(&self) -> FeatureKind {
        match self {
            RawColumn::Numeric(_) => FeatureKind::Numeric,
            RawColumn::Categorical(_) => FeatureKind::Categorical,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            RawColumn::Numeric(v) => v.len(),
            RawColumn::Categorical(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn missing(&self) -> usize {
        match self {
            RawColumn::Numeric(v) => v.iter().filter(|x| x.is_none()).count(),
            RawColumn::Categorical(v) => v.iter().filter(|x| x.is_none()).count(),
        }
    }
}

/// A table of named columns, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub rows: usize,
    pub columns: Vec<(String, RawColumn)>,
}

/// A file that cannot be used, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ReadError {
    pub file: String,
    pub message: String,
}

fn is_missing(cell: &str) -> bool {
    MISSING.contains(&cell.trim())
}

fn parse_number(cell: &str) -> Option<f64> {
    let t = cell.trim();
    match t.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        _ => t.parse().ok(),
    }
}

/// Reads `path`. `schema` fixes the kind of the named columns; others are inferred.
pub fn read(path: &Path, schema: &BTreeMap<String, FeatureKind>) -> Result<Table, ReadError> {
    let file = path.display().to_string();
    let fail = |message: String| ReadError {
        file: file.clone(),
        message,
    };
    let mut reader =
        csv::Reader::from_path(path).map_err(|e| fail(format!("cannot read the file: {e}")))?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| fail(format!("cannot read the header row: {e}")))?
        .iter()
        .map(str::to_owned)
        .collect();
    if headers.is_empty() || headers.iter().all(String::is_empty) {
        return Err(fail("the file is empty (no header row)".into()));
    }
    let mut seen = BTreeSet::new();
    if let Some(dup) = headers.iter().find(|h| !seen.insert(h.as_str())) {
        return Err(fail(format!("column `{dup}` appears twice in the header")));
    }
    let mut cells: Vec<Vec<String>> = vec![Vec::new(); headers.len()];
    for (i, record) in reader.records().enumerate() {
        let row = i + 2;
        let record = record.map_err(|e| fail(format!("row {row}: {e}")))?;
        if record.len() != headers.len() {
            return Err(fail(format!(
                "row {row} has {} fields, the header has {}",
                record.len(),
                headers.len()
            )));
        }
        for (col, cell) in record.iter().enumerate() {
            cells[col].push(cell.to_owned());
        }
    }
    let rows = cells.first().map_or(0, Vec::len);
    if rows == 0 {
        return Err(fail("the file has a header but no rows".into()));
    }
    let mut columns = Vec::with_capacity(headers.len());
    for (name, values) in headers.into_iter().zip(cells) {
        let column = match schema.get(&name) {
            Some(FeatureKind::Numeric) => numeric(&values).map_err(|row| {
                fail(format!(
                    "column `{name}` is numeric, but row {} holds {:?}",
                    row + 2,
                    values[row]
                ))
            })?,
            Some(FeatureKind::Categorical) => categorical(values),
            None => infer(values),
        };
        columns.push((name, column));
    }
    Ok(Table { rows, columns })
}

fn numeric(values: &[String]) -> Result<RawColumn, usize> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            if is_missing(v) {
                Ok(None)
            } else {
                parse_number(v).map(Some).ok_or(i)
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map(RawColumn::Numeric)
}

fn categorical(values: Vec<String>) -> RawColumn {
    RawColumn::Categorical(
        values
            .into_iter()
            .map(|v| (!is_missing(&v)).then_some(v))
            .collect(),
    )
}

fn infer(values: Vec<String>) -> RawColumn {
    let present: Vec<&String> = values.iter().filter(|v| !is_missing(v)).collect();
    let all_numbers = !present.is_empty() && present.iter().all(|v| parse_number(v).is_some());
    if !all_numbers {
        return categorical(values);
    }
    let all_integers = present.iter().all(|v| v.trim().parse::<i64>().is_ok());
    let distinct = present
        .iter()
        .map(|v| v.trim())
        .collect::<BTreeSet<_>>()
        .len();
    if all_integers && distinct <= INTEGER_AS_CATEGORY {
        // Evidently: an integer column with few values is a category; keep the numbers' text.
        return RawColumn::Categorical(
            values
                .into_iter()
                .map(|v| (!is_missing(&v)).then(|| v.trim().to_owned()))
                .collect(),
        );
    }
    numeric(&values).unwrap_or_else(|_| categorical(values))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn infers_types_like_evidently() {
        let (_d, p) = write(
            "f,i,few,s\n1.5,100,1,a\n2.5,200,2,b\n,300,1,\nnan,400,3,c\n1e3,500,2,a\n6,6,1,b\n7,7,2,c\n8,8,1,a\n9,9,2,b\n10,10,1,c\n11,11,2,a\n12,12,1,b\n",
        );
        let t = read(&p, &BTreeMap::new()).ok();
        let kinds: Vec<(String, FeatureKind, usize)> = t
            .map(|t| {
                t.columns
                    .into_iter()
                    .map(|(n, c)| (n, c.kind(), c.missing()))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            kinds,
            vec![
                ("f".into(), FeatureKind::Numeric, 2),
                ("i".into(), FeatureKind::Numeric, 0),
                ("few".into(), FeatureKind::Categorical, 0),
                ("s".into(), FeatureKind::Categorical, 1),
            ]
        );
    }

    #[test]
    fn errors_name_file_column_and_row() {
        let (_d, p) = write("x,y\n1,a\n2,b\nthree,c\n");
        let schema = BTreeMap::from([("x".to_owned(), FeatureKind::Numeric)]);
        let e = read(&p, &schema)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("d.csv")
                && e.contains("column `x`")
                && e.contains("row 4")
                && e.contains("three"),
            "{e}"
        );
        let (_d, p) = write("");
        assert!(
            read(&p, &schema)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
                .contains("empty")
        );
        let (_d, p) = write("x,y\n");
        assert!(
            read(&p, &schema)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
                .contains("no rows")
        );
        let missing = read(Path::new("/nonexistent/file.csv"), &schema)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            missing.contains("/nonexistent/file.csv") && missing.contains("cannot read"),
            "{missing}"
        );
        let (_d, p) = write("x,y\n1,2,3\n");
        assert!(
            read(&p, &schema)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
                .contains("row 2")
        );
    }
}
