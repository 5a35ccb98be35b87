//! The labelled, scored rows a binary classifier's quality estimates are calibrated on: the
//! model's `calibration_data` (else its `reference_data`), CSV with a header row or JSON lines,
//! with the prediction and label columns. Rows missing either are skipped.

use std::path::Path;

use serde_json::Value;

use crate::quality::Labelled;

/// Why the rows cannot be read. Never quotes a cell: only files, columns and row numbers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalibrationRowsError {
    #[error("{file} is not CSV or JSON lines (.csv, .jsonl, .ndjson): estimates cannot read it")]
    Format { file: String },
    #[error("{file}: {message}")]
    Read { file: String, message: String },
    #[error("{file} has no `{column}` column")]
    NoColumn { file: String, column: String },
    #[error("{file} holds more than {limit} scored rows (limits.max_window_rows)")]
    TooMany { file: String, limit: usize },
}

fn cell_number(text: &str) -> Option<f64> {
    let t = text.trim();
    (!t.is_empty()).then(|| t.parse().ok()).flatten()
}

fn value_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::String(s) => cell_number(s),
        _ => None,
    }
}

/// Reads the rows of `path` that have both `prediction` and `label`, at most `limit`.
pub fn read(
    path: &Path,
    prediction: &str,
    label: &str,
    limit: usize,
) -> Result<Vec<Labelled>, CalibrationRowsError> {
    let file = path.display().to_string();
    let read_error = |message: String| CalibrationRowsError::Read {
        file: file.clone(),
        message,
    };
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut out = Vec::new();
    let mut push = |p: Option<f64>, y: Option<f64>| {
        if let (Some(prediction), Some(label)) = (p, y) {
            out.push(Labelled { prediction, label });
        }
        out.len() <= limit
    };
    match ext.as_str() {
        "csv" => {
            let mut reader = csv::Reader::from_path(path).map_err(|e| read_error(e.to_string()))?;
            let headers = reader
                .headers()
                .map_err(|e| read_error(e.to_string()))?
                .clone();
            let column = |name: &str| {
                headers.iter().position(|h| h == name).ok_or_else(|| {
                    CalibrationRowsError::NoColumn {
                        file: file.clone(),
                        column: name.to_owned(),
                    }
                })
            };
            let (p, l) = (column(prediction)?, column(label)?);
            for (i, record) in reader.records().enumerate() {
                let record = record.map_err(|_| read_error(format!("row {} is not CSV", i + 2)))?;
                let cell = |at: usize| record.get(at).and_then(cell_number);
                if !push(cell(p), cell(l)) {
                    return Err(CalibrationRowsError::TooMany { file, limit });
                }
            }
        }
        "jsonl" | "ndjson" => {
            let text = std::fs::read_to_string(path).map_err(|e| read_error(e.to_string()))?;
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let Ok(Value::Object(row)) = serde_json::from_str::<Value>(line) else {
                    return Err(read_error(format!("line {} is not a JSON object", i + 1)));
                };
                let number = |name: &str| row.get(name).and_then(value_number);
                if !push(number(prediction), number(label)) {
                    return Err(CalibrationRowsError::TooMany { file, limit });
                }
            }
        }
        _ => return Err(CalibrationRowsError::Format { file }),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_json_lines_keep_rows_with_both_columns() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("r.csv");
        std::fs::write(&csv, "prediction,y\n0.2,0\n0.9,\n0.7,1\n").unwrap();
        let rows = read(&csv, "prediction", "y", 10).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].prediction, 0.7);
        let jsonl = dir.path().join("r.jsonl");
        std::fs::write(
            &jsonl,
            "{\"prediction\":0.4,\"y\":true}\n\n{\"prediction\":0.1}\n",
        )
        .unwrap();
        assert_eq!(read(&jsonl, "prediction", "y", 10).unwrap().len(), 1);
    }

    #[test]
    fn refusals_name_the_file_and_column_never_a_cell() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("r.csv");
        std::fs::write(&csv, "score,y\n\u{1b}[31m,0\n").unwrap();
        let e = read(&csv, "prediction", "y", 10).unwrap_err();
        assert!(matches!(e, CalibrationRowsError::NoColumn { .. }), "{e}");
        std::fs::write(&csv, "prediction,y\n0.1,0\n0.2,1\n0.3,0\n").unwrap();
        let e = read(&csv, "prediction", "y", 2).unwrap_err().to_string();
        assert!(e.contains("more than 2"), "{e}");
        let parquet = dir.path().join("r.parquet");
        assert!(matches!(
            read(&parquet, "prediction", "y", 2),
            Err(CalibrationRowsError::Format { .. })
        ));
    }
}
