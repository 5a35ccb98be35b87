//! Data sources for the drift engine: CSV, Parquet and JSON-lines files, and rows ingested into
//! the store. Every source streams its cells into one [`ColumnBuilder`] per column, which keeps
//! only what the tests need — the numeric values (sorted at the end) or the count of each
//! category — so a table never holds its cells as strings.
//!
//! Column types follow Evidently 0.7's inference on the pandas dtypes the file would get:
//! floats are numeric; integers (a column of integers with no missing cell) are categorical when
//! they take at most 10 distinct values, else numeric; strings are categorical, or free text when
//! more than half the values are distinct (text is reported, not drift-tested); a schema from the
//! model's config overrides the inference. Errors name the file, the column and the row.

pub mod csv;
pub mod decimal;
pub mod jsonl;
pub mod parquet;
pub mod short_cells;

use std::collections::BTreeMap;

use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;
use std::path::Path;
use std::sync::Arc;

use super::column::Column;
use super::{Counts, NumKey};
use mlops_domain::FeatureKind;
use short_cells::{ShortCells, ShortKey};

/// Evidently's `INTEGER_CARDINALITY_LIMIT`.
pub const INTEGER_AS_CATEGORY: usize = 10;

/// Column kinds that override inference, by column name.
pub type Schema = BTreeMap<String, FeatureKind>;

/// One column reduced to what the drift tests need.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnProfile {
    pub kind: FeatureKind,
    /// Rows in the table (cells, missing or not).
    pub rows: usize,
    /// Missing cells (empty, NA, null, NaN).
    pub missing: usize,
    /// Values without missing or infinite ones: sorted numbers, or category counts.
    pub column: Column,
    /// True for a column pandas would hold as integers (every cell an integer, none missing).
    pub integer: bool,
    /// Why the column cannot be tested, when it cannot (free text, nested values, binary data).
    pub untestable: Option<String>,
}

impl ColumnProfile {
    /// The same data as `kind`, as Evidently applies the current data's types to the reference.
    /// Numbers become categories by their text; categories become numbers when every category is
    /// a number, else the category that is not is the error.
    pub fn coerce(&self, kind: FeatureKind) -> Result<ColumnProfile, String> {
        if self.kind == kind || self.untestable.is_some() {
            return Ok(ColumnProfile {
                kind,
                ..self.clone()
            });
        }
        let mut out = ColumnProfile {
            kind,
            column: Column::Categorical(Counts::new()),
            untestable: None,
            ..self.clone()
        };
        match (&self.column, kind) {
            (_, FeatureKind::Text) => {
                out.untestable = Some(text_reason());
            }
            (Column::Numeric(values), FeatureKind::Categorical) => {
                let mut counts = Counts::new();
                for run in values.chunk_by(|a, b| a == b) {
                    *counts.entry(number_text(run[0])).or_insert(0) += run.len() as u64;
                }
                out.column = Column::Categorical(counts);
            }
            (Column::Categorical(counts), FeatureKind::Numeric) => {
                let mut values = Vec::new();
                for (key, &n) in counts {
                    match parse_number(key) {
                        Some(x) => {
                            values.extend(std::iter::repeat_n(x, n as usize));
                        }
                        None => return Err(key.clone()),
                    }
                }
                out.column = Column::numeric(values);
            }
            _ => out.column = self.column.clone(),
        }
        Ok(out)
    }
}

fn text_reason() -> String {
    "free text (more than half the values distinct); Evidently tests text with a domain \
     classifier, which this server does not reproduce"
        .into()
}

/// The text a number gets when it is used as a category (integers without a fraction).
pub fn number_text(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// A table of named columns, in source order.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub rows: usize,
    pub columns: Vec<(String, ColumnProfile)>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|(n, _)| n == name).map(|(_, c)| c)
    }

    /// Kinds by column name (to read another sample the same way).
    pub fn schema(&self) -> Schema {
        self.columns
            .iter()
            .map(|(n, c)| (n.clone(), c.kind))
            .collect()
    }

    /// Approximate heap size, for cache accounting.
    pub fn heap_bytes(&self) -> usize {
        self.columns
            .iter()
            .map(|(n, c)| {
                n.len()
                    + match &c.column {
                        Column::Numeric(v) => v.len() * 8,
                        Column::Categorical(m) => m.keys().map(|k| k.len() + 48).sum(),
                    }
            })
            .sum()
    }
}

/// A source that cannot be used, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ReadError {
    pub file: String,
    pub message: String,
}

impl ReadError {
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            message: message.into(),
        }
    }
}

/// File formats, chosen by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Parquet,
    JsonLines,
}

impl Format {
    pub fn of(path: &Path) -> Result<Format, ReadError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") | Some("txt") => Ok(Format::Csv),
            Some("parquet") | Some("pq") => Ok(Format::Parquet),
            Some("jsonl") | Some("ndjson") | Some("json") => Ok(Format::JsonLines),
            _ => Err(ReadError::new(
                path.display().to_string(),
                "unknown format; use a .csv, .parquet or .jsonl file",
            )),
        }
    }
}

/// Reads a file of any supported format.
pub fn read(path: &Path, schema: &Schema) -> Result<Table, ReadError> {
    match Format::of(path)? {
        Format::Csv => csv::read(path, schema),
        Format::Parquet => parquet::read(path, schema),
        Format::JsonLines => jsonl::read(path, schema),
    }
}

/// Reads a reference and a current file at once (one thread each) and gives the reference the
/// current data's column types, as Evidently does.
pub fn read_pair(
    reference: &Path,
    current: &Path,
    schema: &Schema,
) -> Result<(Table, Table), ReadError> {
    let (r, c) = std::thread::scope(|s| {
        let r = s.spawn(|| read(reference, schema));
        let c = read(current, schema);
        (r.join(), c)
    });
    let r = r.map_err(|_| ReadError::new(reference.display().to_string(), "the reader stopped"))?;
    let (r, c) = (r?, c?);
    Ok((align(r, &c, Some(reference))?, c))
}

/// [`align`] for a shared (cached) reference: the same table when no column changes type, so a
/// cached profile is not copied.
pub fn align_shared(
    reference: Arc<Table>,
    current: &Table,
    path: Option<&Path>,
) -> Result<Arc<Table>, ReadError> {
    let changes = reference
        .columns
        .iter()
        .any(|(name, col)| current.column(name).is_some_and(|c| c.kind != col.kind));
    match changes {
        true => Ok(Arc::new(align(Table::clone(&reference), current, path)?)),
        false => Ok(reference),
    }
}

/// The reference with each column coerced to the current data's type (the others are moved,
/// not copied). When a column the current data makes numeric holds text in the reference, that
/// is an error; a reference file (`path`) is read again with the current data's types so the
/// error names the row.
pub fn align(reference: Table, current: &Table, path: Option<&Path>) -> Result<Table, ReadError> {
    let mut columns = Vec::with_capacity(reference.columns.len());
    for (name, col) in reference.columns {
        let coerced = match current.column(&name) {
            Some(c) if c.kind != col.kind => {
                let text_as_number =
                    c.kind == FeatureKind::Numeric && col.kind == FeatureKind::Text;
                match col.coerce(c.kind) {
                    Ok(coerced) if !text_as_number => coerced,
                    failed => match path {
                        Some(path) => return read(path, &current.schema()),
                        None => {
                            let holds = failed.err().map(|v| format!(" {v:?}")).unwrap_or_default();
                            return Err(ReadError::new(
                                "reference rows",
                                format!(
                                    "column `{name}` is numeric in the current data, but the reference holds text{holds}"
                                ),
                            ));
                        }
                    },
                }
            }
            _ => col,
        };
        columns.push((name, coerced));
    }
    Ok(Table {
        rows: reference.rows,
        columns,
    })
}

/// Cells pandas reads as missing by default.
const MISSING: &[&str] = &[
    "", "NA", "N/A", "NaN", "nan", "NULL", "null", "None", "n/a", "<NA>", "-NaN", "-nan", "#N/A",
    "#NA", "-1.#IND", "-1.#QNAN", "1.#IND", "1.#QNAN", "#N/A N/A",
];

pub fn is_missing(cell: &str) -> bool {
    MISSING.contains(&cell.trim())
}

/// A number as pandas parses it (including inf and infinity in any case).
pub fn parse_number(cell: &str) -> Option<f64> {
    // Rust's parser takes "inf", "infinity" and "nan" in any case, with a sign, as pandas does.
    trimmed(cell).parse::<f64>().ok()
}

/// Text without surrounding whitespace (checked on the end bytes first: most cells have none).
fn trimmed(cell: &str) -> &str {
    let b = cell.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) if !f.is_ascii_whitespace() && !l.is_ascii_whitespace() => cell,
        _ => cell.trim(),
    }
}

/// An integer written without a fraction or exponent (at most 18 digits, so it cannot
/// overflow; longer ones are read as floats).
fn parse_integer(t: &str) -> Option<i64> {
    let (negative, digits) = match t.as_bytes().first()? {
        b'-' => (true, &t.as_bytes()[1..]),
        b'+' => (false, &t.as_bytes()[1..]),
        _ => (false, t.as_bytes()),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut value: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + i64::from(b - b'0');
    }
    Some(if negative { -value } else { value })
}

/// One cell as a source delivers it.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    Missing,
    /// Text as written in a CSV file (may hold a number).
    Raw(&'a str),
    /// A string value of a typed source (JSON string, Parquet string): never a number.
    Str(&'a str),
    Integer(i64),
    Float(f64),
    Bool(bool),
    /// A value no drift test can use (nested JSON, binary, dates), with what it is.
    Unsupported(&'static str),
}

/// Accumulates one column, cell by cell.
#[derive(Debug)]
pub struct ColumnBuilder {
    name: String,
    forced: Option<FeatureKind>,
    rows: usize,
    missing: usize,
    numbers: Vec<f64>,
    /// Every value so far an integer.
    integers: bool,
    /// Distinct integers and their counts while there are at most INTEGER_AS_CATEGORY.
    small_ints: Option<Vec<(i64, u64)>>,
    /// Category counts, once the column holds text (or is declared categorical).
    text: Option<HashMap<String, u64>>,
    /// More counts of short categories of `text` (a fast path for CSV cells).
    short: Option<ShortCells>,
    unsupported: Option<&'static str>,
}

impl ColumnBuilder {
    pub fn new(name: &str, forced: Option<FeatureKind>) -> Self {
        Self {
            name: name.to_owned(),
            forced,
            rows: 0,
            missing: 0,
            numbers: Vec::new(),
            integers: true,
            small_ints: Some(Vec::new()),
            text: matches!(forced, Some(FeatureKind::Categorical)).then(HashMap::default),
            short: None,
            unsupported: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Cells pushed so far.
    pub fn rows_seen(&self) -> usize {
        self.rows
    }

    /// Adds `cell` (the `row` is only used in the error message).
    pub fn push(&mut self, cell: Cell<'_>, row: usize) -> Result<(), String> {
        self.rows += 1;
        if self.unsupported.is_some() || self.forced == Some(FeatureKind::Text) {
            if matches!(cell, Cell::Missing) {
                self.missing += 1;
            }
            return Ok(());
        }
        match cell {
            Cell::Missing => self.missing += 1,
            Cell::Unsupported(what) => self.unsupported = Some(what),
            Cell::Raw(text) => {
                // A category already counted is that category again (the key of a number is
                // its value's text, which reads back as the same value).
                if let Some(n) = self.text.as_mut().and_then(|t| t.get_mut(text)) {
                    *n += 1;
                    return Ok(());
                }
                // In a column of fractions most cells are fractions (an integer's value is the
                // same read either way; -0 becomes 0 in the finished column).
                if !self.integers
                    && self.text.is_none()
                    && let Ok(x) = text.parse::<f64>()
                {
                    if x.is_nan() {
                        self.missing += 1;
                    } else {
                        self.float(x);
                    }
                    return Ok(());
                }
                // Numbers first (the common case); "nan" parses as NaN, which is missing.
                let t = trimmed(text);
                if let Some(i) = parse_integer(t) {
                    self.integer(i);
                } else if let Ok(x) = t.parse::<f64>() {
                    if x.is_nan() {
                        self.missing += 1;
                    } else {
                        self.float(x);
                    }
                } else if is_missing(text) {
                    self.missing += 1;
                } else {
                    self.string(text, row)?;
                }
            }
            Cell::Str(text) => self.string(text, row)?,
            Cell::Integer(i) => self.integer(i),
            Cell::Float(x) if x.is_nan() => self.missing += 1,
            Cell::Float(x) => self.float(x),
            Cell::Bool(b) => self.string(if b { "True" } else { "False" }, row)?,
        }
        Ok(())
    }

    /// True while the column holds numbers, some with a fraction: a cell that reads as a number
    /// is then that number, with nothing to infer ([`Self::push_float`]).
    #[inline]
    pub fn takes_floats(&self) -> bool {
        !self.integers
            && self.text.is_none()
            && self.unsupported.is_none()
            && self.forced != Some(FeatureKind::Text)
    }

    /// A cell read as the number `x` in a column that [`Self::takes_floats`] (NaN is missing).
    #[inline]
    pub fn push_float(&mut self, x: f64) {
        self.rows += 1;
        if x.is_nan() {
            self.missing += 1;
        } else {
            self.numbers.push(x);
        }
    }

    /// True while the column counts categories: a cell that is a category already counted is
    /// that category again, with nothing to infer ([`Self::push_known`]).
    #[inline]
    pub fn counts_categories(&self) -> bool {
        self.text.is_some() && self.unsupported.is_none() && self.forced != Some(FeatureKind::Text)
    }

    /// A cell with the short `key`, in a column that [`Self::counts_categories`]: counted when it
    /// is a category [`Self::learn`]ed before; false (nothing counted) when the cell must be
    /// pushed.
    #[inline]
    pub fn push_known(&mut self, key: ShortKey) -> bool {
        let known = self.short.as_mut().is_some_and(|s| s.count(key));
        self.rows += usize::from(known);
        known
    }

    /// After `cell` (with the short `key`) was pushed: when the column counted it as a category
    /// of that text, later cells of it may be counted by [`Self::push_known`].
    pub fn learn(&mut self, cell: &str, key: ShortKey) {
        if !self.counts_categories() || self.short.as_ref().is_some_and(|s| !s.has_room_for(key)) {
            return;
        }
        if self.text.as_ref().is_some_and(|t| t.contains_key(cell)) {
            self.short
                .get_or_insert_with(ShortCells::default)
                .learn(key);
        }
    }

    /// True when a text cell is simply counted (not refused by a numeric column, and the column
    /// is not ignored), so [`Self::push_text`] may take many at once.
    pub fn counts_text(&self) -> bool {
        self.forced.is_none() || self.forced == Some(FeatureKind::Categorical)
    }

    /// `n` cells holding the string `text` (of a typed source) in a column that
    /// [`Self::counts_text`].
    pub fn push_text(&mut self, text: &str, n: u64) {
        self.rows += n as usize;
        if self.unsupported.is_some() {
            return;
        }
        self.count_text(text, n);
    }

    /// `n` missing cells.
    pub fn push_missing(&mut self, n: usize) {
        self.rows += n;
        self.missing += n;
    }

    fn integer(&mut self, i: i64) {
        if let Some(text) = &mut self.text {
            *text.entry(i.to_string()).or_insert(0) += 1;
            return;
        }
        self.numbers.push(i as f64);
        if let Some(small) = &mut self.small_ints {
            if let Some((_, n)) = small.iter_mut().find(|(v, _)| *v == i) {
                *n += 1;
            } else if small.len() < INTEGER_AS_CATEGORY {
                small.push((i, 1));
            } else {
                self.small_ints = None;
            }
        }
    }

    fn float(&mut self, x: f64) {
        if let Some(text) = &mut self.text {
            *text.entry(number_text(x)).or_insert(0) += 1;
            return;
        }
        self.integers = false;
        self.numbers.push(x);
    }

    fn string(&mut self, s: &str, row: usize) -> Result<(), String> {
        if self.forced == Some(FeatureKind::Numeric) {
            return Err(format!(
                "column `{}` is numeric, but row {row} holds {s:?}",
                self.name
            ));
        }
        self.count_text(s, 1);
        Ok(())
    }

    /// Counts `n` cells of the category `s`.
    fn count_text(&mut self, s: &str, n: u64) {
        let text = self.text.get_or_insert_with(HashMap::default);
        // A column of numbers that turns out to hold text: its numbers become categories (by
        // their value's text; pandas would keep the text as written).
        for x in self.numbers.drain(..) {
            *text.entry(number_text(x)).or_insert(0) += 1;
        }
        match text.get_mut(s) {
            Some(count) => *count += n,
            None => {
                text.insert(s.to_owned(), n);
            }
        }
    }

    /// The profile. `rows` pads a column that some rows lacked (JSON lines) with missing cells.
    pub fn finish(mut self, rows: usize) -> ColumnProfile {
        self.missing += rows.saturating_sub(self.rows);
        if let (Some(text), Some(short)) = (&mut self.text, &mut self.short) {
            for (category, n) in short.drain() {
                *text.entry(category).or_insert(0) += n;
            }
        }
        let integer = self.text.is_none() && self.integers && self.missing == 0;
        let mut profile = ColumnProfile {
            kind: FeatureKind::Numeric,
            rows,
            missing: self.missing,
            column: Column::Categorical(Counts::new()),
            integer,
            untestable: None,
        };
        if let Some(what) = self.unsupported {
            profile.kind = FeatureKind::Text;
            profile.untestable = Some(format!("holds {what}, which no drift test takes"));
            return profile;
        }
        if self.forced == Some(FeatureKind::Text) {
            profile.kind = FeatureKind::Text;
            profile.untestable = Some(text_reason());
            return profile;
        }
        if let Some(text) = self.text {
            let present: u64 = text.values().sum();
            let free_text = self.forced.is_none() && text.len() as f64 > 0.5 * present as f64;
            profile.kind = if free_text {
                profile.untestable = Some(text_reason());
                FeatureKind::Text
            } else {
                FeatureKind::Categorical
            };
            if !free_text {
                profile.column = Column::Categorical(text.into_iter().collect());
            }
            return profile;
        }
        let few_integers = integer && !self.numbers.is_empty() && self.small_ints.is_some();
        if self.forced == Some(FeatureKind::Categorical) || (self.forced.is_none() && few_integers)
        {
            // Declared categorical, or Evidently's integer column with few values.
            profile.kind = FeatureKind::Categorical;
            profile.column = Column::Categorical(
                self.small_ints
                    .map(|s| s.into_iter().map(|(v, n)| (v.to_string(), n)).collect())
                    .unwrap_or_else(|| {
                        let mut counts = Counts::new();
                        for x in &self.numbers {
                            *counts.entry(number_text(*x)).or_insert(0) += 1;
                        }
                        counts
                    }),
            );
            return profile;
        }
        profile.column = Column::numeric(self.numbers);
        profile
    }
}

/// Builds a table from columns in order; `forced` kinds come from `schema`.
pub struct TableBuilder {
    pub columns: Vec<ColumnBuilder>,
    by_name: HashMap<String, usize>,
    schema: Schema,
    pub rows: usize,
}

impl TableBuilder {
    pub fn new(schema: &Schema) -> Self {
        Self {
            columns: Vec::new(),
            by_name: HashMap::default(),
            schema: schema.clone(),
            rows: 0,
        }
    }

    /// Room for `rows` more numbers in each column that holds numbers so far, where memory
    /// allows (a hint: columns grow as needed without it).
    pub fn reserve(&mut self, rows: usize) {
        for c in &mut self.columns {
            if c.text.is_none() && c.unsupported.is_none() {
                let _ = c.numbers.try_reserve(rows);
            }
        }
    }

    /// The index of column `name`, added if new.
    pub fn column(&mut self, name: &str) -> usize {
        if let Some(&i) = self.by_name.get(name) {
            return i;
        }
        let i = self.columns.len();
        self.columns
            .push(ColumnBuilder::new(name, self.schema.get(name).copied()));
        self.by_name.insert(name.to_owned(), i);
        i
    }

    /// The table; columns are finished (numbers sorted) on every core.
    pub fn finish(self) -> Table {
        let rows = self.rows;
        Table {
            rows,
            columns: self
                .columns
                .into_par_iter()
                .map(|c| (c.name.clone(), c.finish(rows)))
                .collect(),
        }
    }
}

/// Counts of each value of a sorted numeric column (equal values are adjacent).
pub fn sorted_counts(sorted: &[f64]) -> Counts<NumKey> {
    sorted
        .chunk_by(|a, b| a == b)
        .map(|run| (NumKey(run[0]), run.len() as u64))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(cells: &[Cell<'_>], forced: Option<FeatureKind>) -> ColumnProfile {
        let mut b = ColumnBuilder::new("c", forced);
        for (i, c) in cells.iter().enumerate() {
            b.push(*c, i + 2).unwrap();
        }
        b.finish(cells.len())
    }

    #[test]
    fn integers_with_few_values_are_categories_unless_a_cell_is_missing() {
        let few: Vec<Cell<'_>> = ["1", "2", "1", "3"].iter().map(|s| Cell::Raw(s)).collect();
        let p = build(&few, None);
        assert_eq!(p.kind, FeatureKind::Categorical);
        assert_eq!(
            p.column,
            Column::Categorical(Counts::from([
                ("1".into(), 2),
                ("2".into(), 1),
                ("3".into(), 1)
            ]))
        );
        let mut with_gap = few.clone();
        with_gap.push(Cell::Raw(""));
        let p = build(&with_gap, None);
        assert_eq!(
            (p.kind, p.missing, p.integer),
            (FeatureKind::Numeric, 1, false)
        );
    }

    #[test]
    fn text_after_numbers_turns_the_column_categorical_and_free_text_is_untested() {
        let p = build(
            &[
                Cell::Raw("1.5"),
                Cell::Raw("x"),
                Cell::Raw("x"),
                Cell::Raw("1.5"),
            ],
            None,
        );
        assert_eq!(p.kind, FeatureKind::Categorical);
        assert_eq!(
            p.column,
            Column::Categorical(Counts::from([("1.5".into(), 2), ("x".into(), 2)]))
        );
        let p = build(&[Cell::Str("a"), Cell::Str("b"), Cell::Str("c")], None);
        assert_eq!(p.kind, FeatureKind::Text);
        assert!(p.untestable.is_some());
    }

    #[test]
    fn a_declared_numeric_column_refuses_text_with_the_row() {
        let mut b = ColumnBuilder::new("amount", Some(FeatureKind::Numeric));
        b.push(Cell::Raw("1"), 2).unwrap();
        let e = b.push(Cell::Raw("lots"), 3).unwrap_err();
        assert!(
            e.contains("`amount`") && e.contains("row 3") && e.contains("lots"),
            "{e}"
        );
    }

    #[test]
    fn a_shared_reference_is_copied_only_when_a_column_changes_type() {
        let table = |text: &str| csv::read_from(text.as_bytes(), &Schema::new()).unwrap();
        let many: String = (0..20).map(|i| format!("{i},a\n")).collect();
        let reference = Arc::new(table(&format!("x,c\n{many}")));
        let same = table(&format!("x,c\n{many}"));
        let kept = align_shared(reference.clone(), &same, None).unwrap();
        assert!(Arc::ptr_eq(&kept, &reference));
        // Few integers in the current data: categories there, so in the reference too.
        let few = table("x,c\n1,a\n2,b\n1,a\n");
        let aligned = align_shared(reference.clone(), &few, None).unwrap();
        assert!(!Arc::ptr_eq(&aligned, &reference));
        let x = aligned.column("x").unwrap();
        assert_eq!(x.kind, FeatureKind::Categorical);
        assert_eq!(reference.column("x").unwrap().kind, FeatureKind::Numeric);
        // Text in the reference where the current data has numbers: the error says so.
        let words = Arc::new(table("x,c\nlow,a\nhigh,a\nlow,b\n"));
        let err = align_shared(words, &same, None).unwrap_err().to_string();
        assert!(err.contains("column `x` is numeric"), "{err}");
    }

    #[test]
    fn coercion_follows_the_current_data() {
        let p = build(
            &(0..30).map(|i| Cell::Integer(i % 12)).collect::<Vec<_>>(),
            None,
        );
        assert_eq!(p.kind, FeatureKind::Numeric);
        let c = p.coerce(FeatureKind::Categorical).unwrap();
        let Column::Categorical(counts) = &c.column else {
            panic!("not categorical")
        };
        assert_eq!((counts.len(), counts.get("11")), (12, Some(&2)));
        let back = c.coerce(FeatureKind::Numeric).unwrap();
        assert_eq!(back.column, p.column);
        let words = build(
            &[
                Cell::Str("a"),
                Cell::Str("a"),
                Cell::Str("a"),
                Cell::Str("b"),
            ],
            None,
        );
        assert_eq!(words.coerce(FeatureKind::Numeric), Err("a".to_owned()));
    }
}
