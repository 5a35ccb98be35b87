//! CSV files (a header row, then one row per record), read record by record into typed columns.
//!
//! Most files are plain — no quoted cells, lines ended by `\n` or `\r\n` — and are split on the
//! commas and newlines memchr finds, several times faster than a general CSV parser. Any other
//! file, and any plain file with something to report (a short row, text in a numeric column,
//! bytes that are not UTF-8), is read again by the `csv` crate, whose errors name the row.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

use super::{Cell, ReadError, Schema, Table, TableBuilder, decimal, short_cells};

/// Bytes the plain reader takes from the file at a time.
const BLOCK: usize = 1 << 20;

/// Reads `path`. `schema` fixes the kind of the named columns; others are inferred.
pub fn read(path: &Path, schema: &Schema) -> Result<Table, ReadError> {
    let file = path.display().to_string();
    let fail = |message: String| ReadError::new(file.clone(), message);
    let open = || std::fs::File::open(path).map_err(|e| fail(format!("cannot read the file: {e}")));
    let file_bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if let Some(table) = read_plain(open()?, schema, BLOCK, file_bytes)
        .map_err(|e| fail(format!("cannot read the file: {e}")))?
    {
        return Ok(table);
    }
    read_from(open()?, schema).map_err(fail)
}

/// Reads a plain CSV file (see the module notes), or `None` when the general reader must read
/// it: quotes, a byte-order mark, a lone carriage return, text that is not UTF-8, a header the
/// general reader refuses, a row of another width, a cell its column refuses, or no rows.
/// `file_bytes` (0 when unknown) sizes the numeric columns from the rows of the first block.
fn read_plain(
    mut input: impl Read,
    schema: &Schema,
    block: usize,
    file_bytes: u64,
) -> std::io::Result<Option<Table>> {
    let mut buf: Vec<u8> = Vec::with_capacity(block + 4096);
    let mut table: Option<TableBuilder> = None;
    loop {
        let before = buf.len();
        (&mut input).take(block as u64).read_to_end(&mut buf)?;
        let eof = buf.len() - before < block;
        // Complete lines only; the rest waits for the next block.
        let end = match memchr::memrchr(b'\n', &buf) {
            _ if eof => buf.len(),
            Some(i) => i + 1,
            None => continue,
        };
        let lines = buf.get(..end).unwrap_or_default();
        if memchr::memchr(b'"', lines).is_some() {
            return Ok(None);
        }
        // `\r` only as part of `\r\n` (a lone one ends a record for the general reader).
        let crlf = memchr::memchr(b'\r', lines).is_some();
        if crlf && memchr::memchr_iter(b'\r', lines).any(|i| lines.get(i + 1) != Some(&b'\n')) {
            return Ok(None);
        }
        let Ok(text) = std::str::from_utf8(lines) else {
            return Ok(None);
        };
        let body = match &mut table {
            Some(t) => {
                if !plain_rows(text, t, crlf) {
                    return Ok(None);
                }
                None
            }
            None => {
                let (header, body) = text.split_once('\n').unwrap_or((text, ""));
                let header = header.strip_suffix('\r').unwrap_or(header);
                if header.starts_with('\u{feff}') || header.is_empty() {
                    return Ok(None);
                }
                let mut seen = BTreeSet::new();
                let mut t = TableBuilder::new(schema);
                for name in header.split(',') {
                    if !seen.insert(name) {
                        return Ok(None);
                    }
                    t.column(name);
                }
                Some((t, body))
            }
        };
        if let Some((mut t, body)) = body {
            if !plain_rows(body, &mut t, crlf) {
                return Ok(None);
            }
            // The rest of the file at the first block's bytes per row, and a sixteenth more:
            // numeric columns then grow without copying (capacity not written is not memory).
            // A row takes at least two bytes, which bounds a guess from odd first rows.
            if !eof && t.rows > 0 {
                let rest = file_bytes.saturating_sub(end as u64);
                let rows = rest as f64 * t.rows as f64 / end as f64 * 17.0 / 16.0;
                t.reserve((rows as u64).min(rest / 2) as usize);
            }
            table = Some(t);
        }
        buf.drain(..end);
        if eof {
            break;
        }
    }
    Ok(table.filter(|t| t.rows > 0).map(TableBuilder::finish))
}

/// Pushes the rows of `text` (complete lines, the last one possibly without its newline) into
/// `table`; false when the general reader must take over. Blank lines are skipped, as the `csv`
/// crate skips them.
///
/// A cell of a column of fractions is read by [`number_prefix`] (fast-float's partial parser, or
/// [`decimal::fraction`] for the common shape), which stops at the end of the number: when the
/// next byte ends the cell, the cell is that number and its end was found without a separate
/// scan. A short cell of a column of categories that is a category the column has counted
/// before is counted at once ([`short_cells`]). Every other cell is delimited with memchr and
/// given to its column's type inference as text.
fn plain_rows(text: &str, table: &mut TableBuilder, crlf: bool) -> bool {
    let bytes = text.as_bytes();
    let width = table.columns.len();
    let mut at = 0;
    while let Some(rest) = bytes.get(at..).filter(|r| !r.is_empty()) {
        match rest {
            [b'\n', ..] => {
                at += 1;
                continue;
            }
            [b'\r', b'\n', ..] => {
                at += 2;
                continue;
            }
            _ => {}
        }
        let row = table.rows + 2;
        for (col, builder) in table.columns.iter_mut().enumerate() {
            let last = col + 1 == width;
            let rest = bytes.get(at..).unwrap_or_default();
            if builder.takes_floats()
                && let Some((x, n)) = number_prefix(rest)
            {
                let delimiter = match rest.get(n) {
                    Some(b',') if !last => Some(1),
                    Some(b'\n') if last => Some(1),
                    Some(b'\r') if last => Some(2),
                    None if last => Some(0),
                    _ => None,
                };
                if let Some(skip) = delimiter {
                    builder.push_float(x);
                    at += n + skip;
                    continue;
                }
            }
            // A short cell of a column of categories: counted at once when it is a category
            // seen before, else learned after the push below.
            let mut short = None;
            if builder.counts_categories() {
                // Every `\r` is followed by `\n` in a file read as `crlf`.
                let (delimiter, skip) = match (last, crlf) {
                    (false, _) => (b',', 1),
                    (true, false) => (b'\n', 1),
                    (true, true) => (b'\r', 2),
                };
                if let Some((key, len)) = short_cells::split(rest, delimiter) {
                    if builder.push_known(key) {
                        at += len + skip;
                        continue;
                    }
                    short = Some((key, len));
                }
            }
            let end = match last {
                true => memchr::memchr(b'\n', rest),
                false => memchr::memchr2(b',', b'\n', rest),
            };
            let end = end.unwrap_or(rest.len());
            if !last && rest.get(end) != Some(&b',') {
                return false;
            }
            let Some(mut cell) = text.get(at..at + end) else {
                return false;
            };
            if last {
                if crlf {
                    cell = cell.strip_suffix('\r').unwrap_or(cell);
                }
                if memchr::memchr(b',', cell.as_bytes()).is_some() {
                    return false;
                }
            }
            if builder.push(Cell::Raw(cell), row).is_err() {
                return false;
            }
            if let Some((key, len)) = short
                && len == cell.len()
            {
                builder.learn(cell, key);
            }
            at += end + 1;
        }
        table.rows += 1;
    }
    true
}

/// The number at the start of `bytes` and its length, as fast-float's partial parser reads it,
/// or `None` when the fast path leaves the cell to the general one. The common shape of a
/// fraction is read by [`decimal::fraction`], with the same result in fewer steps.
///
/// A leading minus is taken off before fast-float sees the cell and put back by flipping the
/// sign bit of the result: in a column of signed values a branch on the sign (fast-float has
/// one) is mispredicted every other cell. For the same reason nothing here branches on the
/// minus; a cell that starts with a sign after it (`--5`, which fast-float would read as 5
/// here) or with a plus is left to the general path.
#[inline]
fn number_prefix(bytes: &[u8]) -> Option<(f64, usize)> {
    let minus = usize::from(bytes.first() == Some(&b'-'));
    let unsigned = bytes.get(minus..)?;
    if matches!(unsigned.first(), Some(b'-' | b'+')) {
        return None;
    }
    let (x, n) = match decimal::fraction(unsigned) {
        Some(read) => read,
        None => fast_float2::parse_partial::<f64, _>(unsigned)
            .ok()
            .filter(|&(_, n)| n > 0)?,
    };
    Some((
        f64::from_bits(x.to_bits() ^ ((minus as u64) << 63)),
        n + minus,
    ))
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
mod tests {
    use super::*;
    use mlops_domain::FeatureKind;

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

    /// The plain reader gives what the general reader gives, whatever the block size.
    fn same_as_general(text: &str, schema: &Schema) -> Option<Table> {
        let general = read_from(text.as_bytes(), schema).ok();
        let mut plain = None;
        for block in [1, 2, 7, 64, BLOCK] {
            let t = read_plain(text.as_bytes(), schema, block, text.len() as u64).unwrap();
            // A wrong size only sizes the columns wrongly (no memory for "huge" is not an error).
            for wrong in [0, 1 << 40, u64::MAX] {
                let w = read_plain(text.as_bytes(), schema, block, wrong).unwrap();
                assert_eq!(w, t, "block {block}, {wrong} bytes: {text:?}");
            }
            if block > 1 {
                assert_eq!(t, plain, "block {block}: {text:?}");
            }
            plain = t;
        }
        if let Some(t) = &plain {
            assert_eq!(Some(t), general.as_ref(), "{text:?}");
        }
        plain
    }

    #[test]
    fn plain_files_read_as_the_csv_crate_reads_them() {
        let schema = Schema::new();
        let plain = [
            "a,b\n1,x\n2.5,y\n,z\nnan,x\n -3 ,y\n1e3,x\ninf,y\n-0,x\n0.0,y\n7,NA\n8,x\n9,y\n",
            "a,b\r\n1,x\r\n2.5,y\r\n\r\n3,z",
            "only\n1\n\n2\n3.5\n\n",
            "n,c\n1,1\n2,1\n3,2\n4,2\n5,1.5\n6,level\n7,level\n8,1\n9,x\n10,x\n11,y\n",
            "x,y,z\n,,\n1,2,3\n-0,0,-0.0\n",
            "name,\u{e9}t\u{e9}\n\u{e9}l\u{e8}ve,1\nb,2\n",
            "x,y\r\n0.5,1.5\r\n1.5e,2.5\r\n nan,inf\r\n2.5 ,-infinity\r\n1e400,+3\r\n.5,5.\r\n",
            "x,y\n0.5,1.5\n2.5,x\n3.5,NaN\n,\n4.5,4.5",
            "a,b\n-1.5,-0.25\n-0,-.5\n-inf,-1e-3\n-nan,+2.5\n-7,8\n",
            "a,b\n-1.5,x\n--5,y\n-+5,x\n-,y\n-nan,x\n-.5,y\n-0,x\n-inf,y\n+-1,x\n",
        ];
        for text in plain {
            assert!(same_as_general(text, &schema).is_some(), "{text:?}");
        }
        let forced = Schema::from([("b".to_owned(), FeatureKind::Categorical)]);
        assert!(same_as_general(plain[0], &forced).is_some());
        // Left to the general reader: quotes, a lone CR, a BOM, bad widths, refused cells, no rows.
        let numeric = Schema::from([("a".to_owned(), FeatureKind::Numeric)]);
        for (text, schema) in [
            ("a,b\n\"1\",x\n", &schema),
            ("a,b\r1,x\r", &schema),
            ("\u{feff}a,b\n1,x\n", &schema),
            ("a,b\n1,x,3\n", &schema),
            // A short row or an extra field right after categories the columns have learned.
            ("a,b\nx,y\nx,y\nx\ny,x\n", &schema),
            ("a,b\nx,y\nx,y\nx,y,z\n", &schema),
            ("a,b\r\nx,y\r\nx,y\r\nx\r\ny,x\r\n", &schema),
            ("a,b\r\nx,y\r\nx,y\r\nx,y,z\r\n", &schema),
            ("a,b\n1.5,2.5\n0.5,2.5,3\n", &schema),
            ("a,b\n1.5,2.5\n0.5\n", &schema),
            ("a,b\n1\n", &schema),
            ("a,a\n1,2\n", &schema),
            ("a,b\n1,x\nlots,y\n", &numeric),
            ("a,b\n", &schema),
            ("", &schema),
        ] {
            assert_eq!(same_as_general(text, schema), None, "{text:?}");
        }
        let bad_utf8 = b"a,b\n1,\xff\n";
        assert_eq!(read_plain(&bad_utf8[..], &schema, BLOCK, 0).unwrap(), None);
    }

    /// Short category cells, counted without a scan once seen, in any column position, with
    /// both line ends, and with cells that look like numbers or missing markers.
    #[test]
    fn short_categories_count_as_the_general_reader_counts_them() {
        let cells = [
            "a",
            "bb",
            "level_13",
            "fifteen_bytes__",
            "sixteen_bytes___",
            "1",
            "01",
            "1.0",
            "NA",
            "",
            " x",
            "\u{e9}t\u{e9}",
            "level_13 ",
            "-0",
            "nan",
        ];
        for crlf in [false, true] {
            let end = if crlf { "\r\n" } else { "\n" };
            let mut text = format!("x,c,y,last{end}");
            for i in 0..400_usize {
                let pick = |k: usize| cells[(i * 7 + k * 3 + i / 5) % cells.len()];
                let row = format!("{}.5,{},{},{}{end}", i, pick(0), pick(1), pick(2));
                text.push_str(&row);
            }
            for schema in [
                Schema::new(),
                Schema::from([
                    ("c".to_owned(), FeatureKind::Categorical),
                    ("last".to_owned(), FeatureKind::Categorical),
                ]),
            ] {
                let table = same_as_general(&text, &schema).unwrap();
                let column = &table.column("c").unwrap().column;
                let crate::column::Column::Categorical(counts) = column else {
                    panic!("not categorical: {column:?}")
                };
                assert!(counts.values().sum::<u64>() > 300, "{counts:?}");
            }
        }
    }

    proptest::proptest! {
        /// A cell the fast path reads whole is read the same by Rust's parser, which the general
        /// path uses (so the fast path never takes a cell the general path would call text).
        #[test]
        fn the_fast_path_agrees_with_the_standard_parser(cell in "[-+]{0,2}[0-9.eEinfatyINFATY_x ]{0,12}|[-+]{0,2}[0-9]{1,25}(\\.[0-9]{0,25})?([eE][-+]?[0-9]{1,4})?") {
            if let Some((x, n)) = number_prefix(cell.as_bytes())
                && n == cell.len()
            {
                let std = cell.parse::<f64>();
                proptest::prop_assert!(std.is_ok(), "{cell:?}: fast-float {x}, std refuses");
                let y = std.unwrap_or_default();
                proptest::prop_assert!(x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()), "{cell:?}: {x} vs {y}");
            }
        }
    }

    /// The minus taken off and put back gives what fast-float gives for the signed text; a cell
    /// with a plus, or a second sign, is left to the general path.
    #[test]
    fn the_minus_sign_is_read_as_fast_float_reads_it() {
        for cell in [
            "-0.3605414312876948,",
            "-2.8676381519480887\n",
            "0.345584192064786,",
            "-0",
            "-.5",
            "-5.",
            "-inf",
            "-infinity",
            "-nan",
            "-1e-3",
            "-1E400",
            "-1e-400",
            "-9007199254740993",
            "-x",
            "-",
        ] {
            let ours = number_prefix(cell.as_bytes()).map(|(x, n)| (x.to_bits(), n));
            let theirs = fast_float2::parse_partial::<f64, _>(cell)
                .ok()
                .filter(|&(_, n)| n > 0)
                .map(|(x, n)| (x.to_bits(), n));
            assert_eq!(ours, theirs, "{cell:?}");
        }
        for cell in ["--5", "-+5", "--inf", "+5", "+-5"] {
            assert_eq!(number_prefix(cell.as_bytes()), None, "{cell:?}");
        }
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
