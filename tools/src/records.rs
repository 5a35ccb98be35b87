//! Rows ingested over HTTP (`POST /v1/models/{model}/records`) for drift checks over a time
//! window. A request body is JSON lines (one object per line) or CSV (a header row); every row
//! has a `timestamp` (RFC 3339, or seconds since the Unix epoch). A request is parsed whole
//! before anything is stored, so a malformed request stores nothing.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Map, Number, Value};

use crate::drift::source;
use crate::records_parquet::Numbered;

/// The field every row carries.
pub const TIMESTAMP: &str = "timestamp";

pub use mlops_domain::record::{NewLabel, NewRecord};

/// The optional column that names an ingested row.
pub const ROW_ID: &str = "id";

/// Longest row id accepted.
const MAX_ROW_ID_CHARS: usize = 128;

/// A row id as text: a string or an integer, 1-128 printable characters.
fn row_id(v: &Value) -> Result<String, String> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        other => return Err(format!("`{ROW_ID}` {other} is not a string or an integer")),
    };
    if text.is_empty()
        || text.chars().count() > MAX_ROW_ID_CHARS
        || text.chars().any(char::is_control)
    {
        return Err(format!(
            "`{ROW_ID}` must be 1-{MAX_ROW_ID_CHARS} printable characters"
        ));
    }
    Ok(text)
}

/// The id of a stored row (its `id` field), if it has a valid one.
pub fn row_id_of(row: &Map<String, Value>) -> Option<String> {
    row.get(ROW_ID)
        .filter(|v| !v.is_null())
        .and_then(|v| row_id(v).ok())
}

/// Parses a labels request: JSON lines or CSV of `id`, `label` and optionally `labelled_at`
/// (a time, as `timestamp` is given); the first problem is the error, naming the line.
pub fn parse_labels(body: &[u8], format: BodyFormat) -> Result<Vec<NewLabel>, String> {
    let objects: Numbered = match format {
        BodyFormat::JsonLines => json_objects(body)?,
        BodyFormat::Parquet => crate::records_parquet::objects(body)?,
        BodyFormat::ArrowStream | BodyFormat::ArrowFile => {
            let file = format == BodyFormat::ArrowFile;
            numbered(crate::records_arrow::columns(body, file)?.1)
        }
        BodyFormat::Csv => {
            let mut reader = csv::ReaderBuilder::new().from_reader(body);
            let headers: Vec<String> = reader
                .headers()
                .map_err(|e| format!("cannot read the header row: {e}"))?
                .iter()
                .map(str::to_owned)
                .collect();
            let mut out = Vec::new();
            for (i, row) in reader.records().enumerate() {
                let row = row.map_err(|e| format!("line {}: {e}", i + 2))?;
                let mut object = Map::new();
                for (name, cell) in headers.iter().zip(row.iter()) {
                    let value = if name == ROW_ID || name == "labelled_at" {
                        Value::String(cell.to_owned())
                    } else {
                        csv_value(cell)
                    };
                    object.insert(name.clone(), value);
                }
                out.push((i + 2, object));
            }
            out
        }
    };
    let mut seen = BTreeSet::new();
    let mut labels = Vec::with_capacity(objects.len());
    for (line, object) in objects {
        let id = row_id(object.get(ROW_ID).unwrap_or(&Value::Null))
            .map_err(|e| format!("line {line}: {e}"))?;
        if !seen.insert(id.clone()) {
            return Err(format!(
                "line {line}: the id {id:?} is labelled twice in this request"
            ));
        }
        let label = match object.get("label") {
            Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
            Some(Value::String(s)) if s.trim().parse::<f64>().is_ok() => s.trim().to_owned(),
            _ => {
                return Err(format!(
                    "line {line}: `label` must be a number or true/false"
                ));
            }
        };
        let labelled_at = match object.get("labelled_at") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(v) => Some(
                parse_timestamp(v)
                    .map_err(|e| format!("line {line}: {}", e.replace(TIMESTAMP, "labelled_at")))?,
            ),
        };
        labels.push(NewLabel {
            row_id: id,
            label,
            labelled_at,
        });
    }
    if labels.is_empty() {
        return Err("the body holds no labels".into());
    }
    Ok(labels)
}

/// Body formats, by `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    Csv,
    JsonLines,
    Parquet,
    /// Arrow IPC, the stream format.
    ArrowStream,
    /// Arrow IPC, the file format.
    ArrowFile,
}

impl BodyFormat {
    /// `text/csv` is CSV; `application/x-ndjson`, `application/jsonl`, `application/json-seq`
    /// and `application/json` are JSON lines; `application/vnd.apache.arrow.stream` and
    /// `application/vnd.apache.arrow.file` are Arrow IPC; `application/vnd.apache.parquet` (or
    /// `application/x-parquet`) is a Parquet file.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let media = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "text/csv" => Some(BodyFormat::Csv),
            "application/x-ndjson"
            | "application/jsonl"
            | "application/x-jsonlines"
            | "application/json" => Some(BodyFormat::JsonLines),
            "application/vnd.apache.parquet" | "application/x-parquet" => Some(BodyFormat::Parquet),
            "application/vnd.apache.arrow.stream" => Some(BodyFormat::ArrowStream),
            "application/vnd.apache.arrow.file" => Some(BodyFormat::ArrowFile),
            _ => None,
        }
    }
}

/// A timestamp as a row gives it.
pub fn parse_timestamp(value: &Value) -> Result<DateTime<Utc>, String> {
    match value {
        Value::String(s) => DateTime::parse_from_rfc3339(s.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                format!("`{TIMESTAMP}` {s:?} is not an RFC 3339 time (e.g. 2026-11-22T08:00:00Z)")
            }),
        Value::Number(n) => n
            .as_f64()
            .filter(|s| s.is_finite())
            .and_then(|s| {
                let micros = (s * 1e6).round();
                (micros.abs() < 9e18).then(|| Utc.timestamp_micros(micros as i64).single())?
            })
            .ok_or_else(|| format!("`{TIMESTAMP}` {n} is not a time in seconds since the epoch")),
        Value::Null => Err(format!("`{TIMESTAMP}` is missing")),
        other => Err(format!("`{TIMESTAMP}` {other} is not a time")),
    }
}

/// What to do with a column the model does not declare.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnknownColumns {
    /// Store the row without it, and name it in the answer.
    #[default]
    Drop,
    /// Refuse the request.
    Refuse,
}

/// What a model accepts of an ingested request.
#[derive(Debug, Clone)]
pub struct Rules {
    /// The columns the model declares; `None` accepts any.
    pub columns: Option<BTreeSet<String>>,
    pub unknown: UnknownColumns,
    /// Rows must have `not_before <= timestamp <= not_after`.
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// Most rows the model may hold.
    pub max_rows: u64,
}

impl Rules {
    /// Rules that accept everything (tests, and models without declared features).
    pub fn any() -> Self {
        Self {
            columns: None,
            unknown: UnknownColumns::Drop,
            not_before: DateTime::<Utc>::MIN_UTC,
            not_after: DateTime::<Utc>::MAX_UTC,
            max_rows: u64::MAX,
        }
    }
}

/// A parsed request: the rows to store and the columns dropped from them.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub rows: Rows,
    pub dropped_columns: BTreeSet<String>,
}

/// Rows by column, as a block is written: each row's time and id, and each field's values (null
/// where a row lacks the field) in the order fields first appear.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub timestamps: Vec<DateTime<Utc>>,
    pub ids: Vec<Option<String>>,
    pub columns: Vec<(String, Vec<Value>)>,
    index: HashMap<String, usize>,
}

impl Rows {
    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }

    /// The index of column `name`, added (null on every earlier row) if new.
    fn column(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        self.columns
            .push((name.to_owned(), vec![Value::Null; self.len()]));
        self.index.insert(name.to_owned(), self.columns.len() - 1);
        self.columns.len() - 1
    }

    /// Adds `value` to column `i` on row `row` (nulls before it where rows lacked it).
    fn put(&mut self, i: usize, row: usize, value: Value) {
        if let Some((_, column)) = self.columns.get_mut(i) {
            column.resize(row, Value::Null);
            column.push(value);
        }
    }

    /// Adds a row given as an object.
    pub fn push(&mut self, record: NewRecord) {
        let row = self.len();
        for (name, value) in record.data {
            let i = self.column(&name);
            self.put(i, row, value);
        }
        self.timestamps.push(record.timestamp);
        self.ids.push(record.id);
    }

    /// Every column as long as the rows.
    fn pad(mut self) -> Self {
        let rows = self.len();
        for (_, values) in &mut self.columns {
            values.resize(rows, Value::Null);
        }
        self
    }

    pub fn from_records(records: impl IntoIterator<Item = NewRecord>) -> Self {
        let mut rows = Rows::default();
        for r in records {
            rows.push(r);
        }
        rows.pad()
    }

    /// Row `i` as an object (a field it lacks as null).
    pub fn object(&self, i: usize) -> Map<String, Value> {
        self.columns
            .iter()
            .filter_map(|(name, values)| values.get(i).map(|v| (name.clone(), v.clone())))
            .collect()
    }
}

/// Most dropped column names an answer lists (each cut to 64 characters).
const MAX_DROPPED_NAMES: usize = 20;

/// Parses a whole request body under `rules`; the first problem is the error, naming the line
/// and field.
pub fn parse(body: &[u8], format: BodyFormat, rules: &Rules) -> Result<Parsed, String> {
    let mut dropped = BTreeSet::new();
    let rows = match format {
        BodyFormat::JsonLines => objects_to_rows(json_objects(body)?, rules, &mut dropped)?,
        BodyFormat::Parquet => {
            columns_to_rows(crate::records_parquet::columns(body)?, rules, &mut dropped)?
        }
        BodyFormat::ArrowStream | BodyFormat::ArrowFile => {
            let file = format == BodyFormat::ArrowFile;
            columns_to_rows(
                crate::records_arrow::columns(body, file)?,
                rules,
                &mut dropped,
            )?
        }
        BodyFormat::Csv => parse_csv(body, rules, &mut dropped)?,
    };
    if rows.is_empty() {
        return Err("the body holds no rows".into());
    }
    Ok(Parsed {
        rows,
        dropped_columns: dropped,
    })
}

fn objects_to_rows(
    objects: Numbered,
    rules: &Rules,
    dropped: &mut BTreeSet<String>,
) -> Result<Rows, String> {
    let mut rows = Rows::default();
    for (line, object) in objects {
        rows.push(record(object, line, rules, dropped)?);
    }
    Ok(rows.pad())
}

/// Columns as objects, one per row, numbered from 1.
fn numbered(columns: crate::records_parquet::NamedColumns) -> Numbered {
    let rows = columns.first().map_or(0, |(_, v)| v.len());
    (0..rows)
        .map(|i| {
            let object = columns
                .iter()
                .filter_map(|(name, values)| values.get(i).map(|v| (name.clone(), v.clone())))
                .collect();
            (i + 1, object)
        })
        .collect()
}

/// A columnar body (Parquet, Arrow IPC) as rows: which columns are kept is decided once, as for
/// CSV.
fn columns_to_rows(
    (count, columns): (usize, crate::records_parquet::NamedColumns),
    rules: &Rules,
    dropped: &mut BTreeSet<String>,
) -> Result<Rows, String> {
    let Some(ts) = columns.iter().rposition(|(name, _)| name == TIMESTAMP) else {
        // Every row lacks it: the first row's error, as for JSON lines.
        return match count {
            0 => Ok(Rows::default()),
            _ => Err(format!("line 1: `{TIMESTAMP}` is missing")),
        };
    };
    let mut rows = Rows::default();
    let times = columns
        .get(ts)
        .map(|(_, v)| v.as_slice())
        .unwrap_or_default();
    for (i, t) in times.iter().enumerate() {
        let line = i + 1;
        let timestamp = parse_timestamp(t).map_err(|e| format!("line {line}: {e}"))?;
        check_time(timestamp, line, rules)?;
        rows.timestamps.push(timestamp);
    }
    let last: HashMap<&str, usize> = columns
        .iter()
        .enumerate()
        .map(|(c, (name, _))| (name.as_str(), c))
        .collect();
    let keep: Vec<bool> = columns
        .iter()
        .enumerate()
        .map(|(c, (name, _))| {
            let repeated = last.get(name.as_str()) != Some(&c);
            Ok(!repeated && name != TIMESTAMP && keep_column(name, 1, rules, dropped)?)
        })
        .collect::<Result<_, String>>()?;
    for ((name, values), kept) in columns.into_iter().zip(keep) {
        if !kept {
            continue;
        }
        if name == ROW_ID {
            for (i, v) in values.iter().enumerate() {
                let id = match v {
                    Value::Null => None,
                    v => Some(row_id(v).map_err(|e| format!("line {}: {e}", i + 1))?),
                };
                rows.ids.push(id);
            }
        }
        rows.index.insert(name.clone(), rows.columns.len());
        rows.columns.push((name, values));
    }
    rows.ids.resize(rows.len(), None);
    Ok(rows)
}

/// Refuses a row time outside the rules' bounds.
fn check_time(timestamp: DateTime<Utc>, line: usize, rules: &Rules) -> Result<(), String> {
    if timestamp > rules.not_after {
        return Err(format!(
            "line {line}: `{TIMESTAMP}` {} is in the future (more than limits.ingest_max_future_secs past now)",
            timestamp.to_rfc3339()
        ));
    }
    if timestamp < rules.not_before {
        return Err(format!(
            "line {line}: `{TIMESTAMP}` {} is older than limits.ingest_max_age_days allows",
            timestamp.to_rfc3339()
        ));
    }
    Ok(())
}

/// What to do with a column named `key` under `rules`: keep it (true), drop it (false, noted in
/// `dropped`), or refuse the request.
fn keep_column(
    key: &str,
    line: usize,
    rules: &Rules,
    dropped: &mut BTreeSet<String>,
) -> Result<bool, String> {
    let Some(columns) = &rules.columns else {
        return Ok(true);
    };
    if columns.contains(key) {
        return Ok(true);
    }
    if rules.unknown == UnknownColumns::Refuse {
        let name: String = key.chars().take(64).collect();
        return Err(format!(
            "line {line}: column `{name}` is not declared by the model (its columns: {})",
            columns.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    if dropped.len() < MAX_DROPPED_NAMES {
        dropped.insert(key.chars().take(64).collect());
    }
    Ok(false)
}

fn record(
    mut object: Map<String, Value>,
    line: usize,
    rules: &Rules,
    dropped: &mut BTreeSet<String>,
) -> Result<NewRecord, String> {
    let timestamp = parse_timestamp(object.get(TIMESTAMP).unwrap_or(&Value::Null))
        .map_err(|e| format!("line {line}: {e}"))?;
    check_time(timestamp, line, rules)?;
    object.remove(TIMESTAMP);
    let mut unknown = Vec::new();
    for key in object.keys() {
        if !keep_column(key, line, rules, dropped)? {
            unknown.push(key.clone());
        }
    }
    for key in unknown {
        object.remove(&key);
    }
    if let Some((key, _)) = object
        .iter()
        .find(|(_, v)| matches!(v, Value::Array(_) | Value::Object(_)))
    {
        return Err(format!(
            "line {line}: `{key}` holds a list or an object; send scalar values"
        ));
    }
    let id = match object.get(ROW_ID) {
        None | Some(Value::Null) => None,
        Some(v) => Some(row_id(v).map_err(|e| format!("line {line}: {e}"))?),
    };
    Ok(NewRecord {
        timestamp,
        id,
        data: object,
    })
}

/// Objects of a body, each with its line number.
/// Each non-blank line of a JSON-lines body as an object, with its line number.
fn json_objects(body: &[u8]) -> Result<Numbered, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("the body is not UTF-8: {e}"))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let object: Map<String, Value> = serde_json::from_str(line)
            .map_err(|e| format!("line {}: not a JSON object: {e}", i + 1))?;
        out.push((i + 1, object));
    }
    Ok(out)
}

/// A CSV cell as a JSON value, by the same rules as a CSV file: missing markers are null,
/// numbers are numbers (infinities become null, as JSON has none), anything else is text.
fn csv_value(cell: &str) -> Value {
    if source::is_missing(cell) {
        return Value::Null;
    }
    let t = cell.trim();
    if let Ok(i) = t.parse::<i64>()
        && !t.starts_with('+')
    {
        return Value::Number(i.into());
    }
    match source::parse_number(cell) {
        Some(x) => Number::from_f64(x).map_or(Value::Null, Value::Number),
        None => Value::String(cell.to_owned()),
    }
}

/// A CSV timestamp cell: seconds since the epoch, or a time as text.
fn csv_timestamp(cell: &str) -> Result<DateTime<Utc>, String> {
    match cell.trim().parse::<f64>().ok().and_then(Number::from_f64) {
        Some(n) => parse_timestamp(&Value::Number(n)),
        None => parse_timestamp(&Value::String(cell.to_owned())),
    }
}

/// A CSV body, straight into columns: the header decides once which columns are kept.
fn parse_csv(body: &[u8], rules: &Rules, dropped: &mut BTreeSet<String>) -> Result<Rows, String> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(body);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("cannot read the header row: {e}"))?
        .iter()
        .map(str::to_owned)
        .collect();
    let ts = headers
        .iter()
        .rposition(|h| h == TIMESTAMP)
        .ok_or_else(|| format!("the header row has no `{TIMESTAMP}` column"))?;
    // Each header's column among the kept ones (a repeated name: the last one counts).
    let mut rows = Rows::default();
    let last: HashMap<&str, usize> = headers
        .iter()
        .enumerate()
        .map(|(h, name)| (name.as_str(), h))
        .collect();
    let mut target: Vec<Option<usize>> = Vec::with_capacity(headers.len());
    for (h, name) in headers.iter().enumerate() {
        let repeated = last.get(name.as_str()) != Some(&h);
        let kept = !repeated && name != TIMESTAMP && keep_column(name, 2, rules, dropped)?;
        target.push(kept.then(|| rows.column(name)));
    }
    let id = headers
        .iter()
        .rposition(|h| h == ROW_ID)
        .filter(|&i| target.get(i).is_some_and(Option::is_some));
    let mut record = csv::StringRecord::new();
    let mut line = 1;
    loop {
        line += 1;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(format!("line {line}: {e}")),
        }
        if record.len() != headers.len() {
            return Err(format!(
                "line {line} has {} fields, the header has {}",
                record.len(),
                headers.len()
            ));
        }
        let cell = |i: usize| record.get(i).unwrap_or_default();
        let timestamp = csv_timestamp(cell(ts)).map_err(|e| format!("line {line}: {e}"))?;
        check_time(timestamp, line, rules)?;
        let row_id = match id.map(|i| csv_value(cell(i))) {
            None | Some(Value::Null) => None,
            Some(v) => Some(row_id(&v).map_err(|e| format!("line {line}: {e}"))?),
        };
        let row = rows.len();
        for (cell, column) in record.iter().zip(&target) {
            if let Some(c) = column {
                rows.put(*c, row, csv_value(cell));
            }
        }
        rows.timestamps.push(timestamp);
        rows.ids.push(row_id);
    }
    Ok(rows)
}

/// A half-open time window `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} to {}", self.from.to_rfc3339(), self.to.to_rfc3339())
    }
}

/// The window a call asks for: `last` (a duration such as "24h" or "7d", ending now) or
/// `from` (to `to`, default now). `None` when it asks for none.
pub fn window(
    last: Option<&str>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Option<Window>, String> {
    match (last, from, to) {
        (None, None, None) => Ok(None),
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            Err("give either `last` or `from`/`to`, not both".into())
        }
        (Some(last), None, None) => {
            let d = humantime::parse_duration(last.trim())
                .ok()
                .and_then(|d| chrono::Duration::from_std(d).ok())
                .filter(|d| *d > chrono::Duration::zero())
                .ok_or_else(|| {
                    format!("last {last:?}: use a duration such as \"24h\", \"7d\" or \"90m\"")
                })?;
            let from = now
                .checked_sub_signed(d)
                .ok_or_else(|| format!("last {last:?} reaches before any time"))?;
            Ok(Some(Window { from, to: now }))
        }
        (None, None, Some(_)) => Err("`to` needs a `from`".into()),
        (None, Some(from), to) => {
            let to = to.unwrap_or(now);
            if from >= to {
                return Err(format!(
                    "`from` ({}) must be before `to` ({})",
                    from.to_rfc3339(),
                    to.to_rfc3339()
                ));
            }
            Ok(Some(Window { from, to }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_and_csv_bodies() {
        let body = b"{\"timestamp\": \"2026-11-22T08:00:00Z\", \"amount\": 12.5, \"channel\": \"web\"}\n\n{\"timestamp\": 1795334400, \"amount\": null, \"channel\": \"pos\"}\n";
        let rows = parse(body, BodyFormat::JsonLines, &Rules::any())
            .unwrap()
            .rows;
        assert_eq!(rows.len(), 2);
        assert_eq!(
            Value::Object(rows.object(0)).to_string(),
            r#"{"amount":12.5,"channel":"web"}"#
        );
        assert_eq!(rows.timestamps[1].timestamp(), 1_795_334_400);

        let csv = b"timestamp,amount,channel\n2026-11-22T08:00:00Z,12.5,web\n1795334400,,pos\n2026-11-22T09:00:00+01:00,inf,7\n";
        let rows = parse(csv, BodyFormat::Csv, &Rules::any()).unwrap().rows;
        assert_eq!(
            Value::Object(rows.object(0)).to_string(),
            r#"{"amount":12.5,"channel":"web"}"#
        );
        assert_eq!(
            Value::Object(rows.object(1)).to_string(),
            r#"{"amount":null,"channel":"pos"}"#
        );
        assert_eq!(
            Value::Object(rows.object(2)).to_string(),
            r#"{"amount":null,"channel":7}"#
        );
        assert_eq!(rows.timestamps[2], rows.timestamps[0]);
    }

    #[test]
    fn errors_name_the_line_and_the_field() {
        let cases: [(&[u8], BodyFormat, &str); 6] = [
            (
                b"{\"amount\": 1}\n",
                BodyFormat::JsonLines,
                "line 1: `timestamp` is missing",
            ),
            (
                b"{\"timestamp\": \"2026-11-22T08:00:00Z\"}\n{\"timestamp\": \"yesterday\"}\n",
                BodyFormat::JsonLines,
                "line 2: `timestamp` \"yesterday\"",
            ),
            (
                b"{\"timestamp\": 1, \"x\": [1]}\n",
                BodyFormat::JsonLines,
                "line 1: `x` holds a list",
            ),
            (
                b"not json\n",
                BodyFormat::JsonLines,
                "line 1: not a JSON object",
            ),
            (b"amount\n1\n", BodyFormat::Csv, "no `timestamp` column"),
            (b"", BodyFormat::JsonLines, "no rows"),
        ];
        for (body, format, expected) in cases {
            let e = parse(body, format, &Rules::any()).unwrap_err();
            assert!(e.contains(expected), "{e} (expected {expected})");
        }
    }

    #[test]
    fn timestamps_out_of_bounds_and_undeclared_columns() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        let mut rules = Rules {
            columns: Some(["amount".to_owned(), "channel".to_owned()].into()),
            unknown: UnknownColumns::Drop,
            not_before: now - chrono::Duration::days(400),
            not_after: now + chrono::Duration::seconds(300),
            max_rows: 10,
        };
        let body = b"{\"timestamp\": \"2026-11-22T08:00:00Z\", \"amount\": 1, \"pad1\": \"xxxxxxxx\", \"pad2\": 2}\n";
        let parsed = parse(body, BodyFormat::JsonLines, &rules).unwrap();
        assert_eq!(
            Value::Object(parsed.rows.object(0)).to_string(),
            r#"{"amount":1}"#
        );
        assert_eq!(
            parsed
                .dropped_columns
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            ["pad1", "pad2"]
        );
        rules.unknown = UnknownColumns::Refuse;
        let e = parse(body, BodyFormat::JsonLines, &rules).unwrap_err();
        assert!(e.contains("line 1: column `pad1` is not declared"), "{e}");
        for (ts, says) in [
            ("9999-01-01T00:00:00Z", "in the future"),
            ("2026-11-22T12:06:00Z", "in the future"),
            ("1970-01-01T00:00:00Z", "older than"),
        ] {
            let body = format!("timestamp,amount\n2026-11-22T08:00:00Z,1\n{ts},2\n");
            let e = parse(body.as_bytes(), BodyFormat::Csv, &rules).unwrap_err();
            assert!(e.contains("line 3") && e.contains(says), "{ts}: {e}");
        }
        // Many distinct undeclared names: the answer lists a bounded number of them.
        rules.unknown = UnknownColumns::Drop;
        let wide: String = (0..100)
            .map(|i| format!(", \"c{i}{}\": 1", "x".repeat(100)))
            .collect();
        let body = format!("{{\"timestamp\": \"2026-11-22T08:00:00Z\"{wide}}}\n");
        let parsed = parse(body.as_bytes(), BodyFormat::JsonLines, &rules).unwrap();
        assert_eq!(parsed.dropped_columns.len(), 20);
        assert!(
            parsed
                .dropped_columns
                .iter()
                .all(|c| c.chars().count() <= 64)
        );
        assert_eq!(Value::Object(parsed.rows.object(0)).to_string(), "{}");
    }

    #[test]
    fn windows() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        let w = window(Some("24h"), None, None, now).unwrap().unwrap();
        assert_eq!((w.to - w.from).num_hours(), 24);
        let from = now - chrono::Duration::days(2);
        assert_eq!(
            window(None, Some(from), None, now).unwrap(),
            Some(Window { from, to: now })
        );
        assert_eq!(window(None, None, None, now).unwrap(), None);
        for bad in [
            window(Some("soon"), None, None, now),
            window(Some("1h"), Some(from), None, now),
            window(None, Some(now), Some(from), now),
            window(None, None, Some(now), now),
        ] {
            assert!(bad.is_err());
        }
    }
}
