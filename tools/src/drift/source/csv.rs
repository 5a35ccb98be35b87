//! CSV files (a header row, then one row per record), read record by record into typed columns.

use std::collections::BTreeSet;
use std::path::Path;

use super::{Cell, ReadError, Schema, Table, TableBuilder};

/// Reads `path`. `schema` fixes the kind of the named columns; others are inferred.
pub fn read(path: &Path, schema: &Schema) -> Result<Table, ReadError> {
    let file = path.display().to_string();
    let fail = |message: String| ReadError::new(file.clone(), message);
    let reader =
        std::fs::File::open(path).map_err(|e| fail(format!("cannot read the file: {e}")))?;
    read_from(reader, schema).map_err(fail)
}

/// Reads CSV text from any reader (a file or an ingest request body).
pub fn read_from(reader: impl std::io::Read, schema: &Schema) -> Result<Table, String> {
    let mut reader = ::csv::ReaderBuilder::new()
        .buffer_capacity(1 << 20)
        .flexible(true)
        .from_reader(reader);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("cannot read the header row: {e}"))?
        .iter()
        .map(str::to_owned)
        .collect();
    if headers.is_empty() || headers.iter().all(String::is_empty) {
        return Err("the file is empty (no header row)".into());
    }
    let mut seen = BTreeSet::new();
    if let Some(dup) = headers.iter().find(|h| !seen.insert(h.as_str())) {
        return Err(format!("column `{dup}` appears twice in the header"));
    }
    let mut table = TableBuilder::new(schema);
    for h in &headers {
        table.column(h);
    }
    // A StringRecord checks UTF-8 once per row rather than once per field.
    let mut record = ::csv::StringRecord::new();
    let mut row = 1;
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(format!("row {}: {e}", row + 1)),
        }
        row += 1;
        if record.len() != headers.len() {
            return Err(format!(
                "row {row} has {} fields, the header has {}",
                record.len(),
                headers.len()
            ));
        }
        for (builder, text) in table.columns.iter_mut().zip(record.iter()) {
            builder.push(Cell::Raw(text), row)?;
        }
        table.rows += 1;
    }
    if table.rows == 0 {
        return Err("the file has a header but no rows".into());
    }
    Ok(table.finish())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::FeatureKind;

    fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn error(path: &Path, schema: &Schema) -> String {
        read(path, schema)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn infers_types_like_evidently() {
        let (_d, p) = write(
            "f,i,few,s\n1.5,100,1,a\n2.5,200,2,b\n,300,1,\nnan,400,3,c\n1e3,500,2,a\n6,6,1,b\n7,7,2,c\n8,8,1,a\n9,9,2,b\n10,10,1,c\n11,11,2,a\n12,12,1,b\n",
        );
        let t = read(&p, &Schema::new()).unwrap();
        let kinds: Vec<(String, FeatureKind, usize)> = t
            .columns
            .into_iter()
            .map(|(n, c)| (n, c.kind, c.missing))
            .collect();
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
        let schema = Schema::from([("x".to_owned(), FeatureKind::Numeric)]);
        let e = error(&p, &schema);
        assert!(
            e.contains("d.csv")
                && e.contains("column `x`")
                && e.contains("row 4")
                && e.contains("three"),
            "{e}"
        );
        let (_d, p) = write("");
        assert!(error(&p, &schema).contains("empty"));
        let (_d, p) = write("x,y\n");
        assert!(error(&p, &schema).contains("no rows"));
        let missing = error(Path::new("/nonexistent/file.csv"), &schema);
        assert!(
            missing.contains("/nonexistent/file.csv") && missing.contains("cannot read"),
            "{missing}"
        );
        let (_d, p) = write("x,y\n1,2,3\n");
        assert!(error(&p, &schema).contains("row 2"));
        let (_d, p) = write("x,x\n1,2\n");
        assert!(error(&p, &schema).contains("appears twice"));
    }
}
