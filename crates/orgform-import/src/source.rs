//! Sources: CSV and JSON exports read into tables of cells, each cell
//! with the place it was written (`FILE:LINE:COLUMN`, columns counting
//! characters, lines counting the physical lines of multi-line cells).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use orgform_spec::{Diagnostic, Location};

use crate::json;
use crate::mapping::Delimiter;

/// The largest cell accepted: an HR value is a name, an id, a date; a
/// longer one is a broken export (or an attack), reported at its cell.
pub const MAX_CELL_BYTES: usize = 64 * 1024;

/// One source as read from disk (or given by a test): the path as the user
/// wrote it on the command line, and its bytes.
#[derive(Debug, Clone)]
pub struct SourceInput {
    /// The path, as given (diagnostics and the generated header show it).
    pub path: PathBuf,
    /// The file's content.
    pub bytes: Vec<u8>,
}

/// The rows of one source.
#[derive(Debug)]
pub(crate) struct Table {
    pub path: PathBuf,
    /// Header names as written (trimmed).
    pub columns: Vec<String>,
    /// Lower-cased, trimmed header name -> column index (the first of duplicates).
    pub index: HashMap<String, usize>,
    /// Lower-cased names written twice in the header.
    pub duplicated: Vec<String>,
    /// Cells, one vector per row; a missing JSON key is `None`.
    pub rows: Vec<Vec<Option<String>>>,
    pos: Positions,
}

#[derive(Debug)]
enum Positions {
    Csv {
        text: String,
        delimiter: u8,
        /// Per row: byte offset of its first character and its 1-based line.
        starts: Vec<(usize, u32)>,
        /// Byte offset and line of the header row.
        header: (usize, u32),
    },
    Json {
        /// Per row: the object's position, then each column's value position.
        cells: Vec<(Pos, Vec<Option<Pos>>)>,
        /// Each column's first key position.
        header: Vec<Pos>,
        root: Pos,
        /// The document, and the byte offset of each line's start.
        lines: Lines,
    },
}

/// A text and where its lines start, to draw the line of a position.
#[derive(Debug)]
pub(crate) struct Lines {
    text: String,
    starts: Vec<usize>,
}

impl Lines {
    pub(crate) fn new(text: &str) -> Lines {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines {
            text: text.to_owned(),
            starts,
        }
    }

    /// The 1-based line `line`, without its line end (empty past the end).
    fn line(&self, line: u32) -> &str {
        let i = usize::try_from(line)
            .unwrap_or(usize::MAX)
            .saturating_sub(1);
        let Some(&start) = self.starts.get(i) else {
            return "";
        };
        let end = self.starts.get(i + 1).map_or(self.text.len(), |e| e - 1);
        line_text(&self.text[start..end.max(start)])
    }

    /// The place of a JSON value or key at `p`: its line, the token underlined.
    fn place(&self, file: &Path, p: Pos) -> Place<'_> {
        let line = self.line(p.line);
        let len = json_token_len(line, p.col);
        Place {
            loc: Location {
                file: file.to_owned(),
                line: p.line,
                column: p.col,
            },
            line: Some((line, len)),
        }
    }
}

/// A line without a final `\r`.
fn line_text(s: &str) -> &str {
    s.strip_suffix('\r').unwrap_or(s)
}

/// How many characters of `line` from column `col` the JSON token there
/// takes (a string to its closing quote, a number or word to its end, an
/// array or object to the end of the line when it does not close on it).
fn json_token_len(line: &str, col: u32) -> u32 {
    let skip = usize::try_from(col).unwrap_or(usize::MAX).saturating_sub(1);
    let rest: Vec<char> = line.chars().skip(skip).collect();
    let len = match rest.first() {
        None => 1,
        Some('"') => {
            let mut escaped = false;
            rest.iter()
                .enumerate()
                .skip(1)
                .find(|&(_, &c)| {
                    let end = c == '"' && !escaped;
                    escaped = c == '\\' && !escaped;
                    end
                })
                .map_or(rest.len(), |(i, _)| i + 1)
        }
        Some(&open @ ('[' | '{')) => {
            let close = if open == '[' { ']' } else { '}' };
            rest.iter()
                .position(|&c| c == close)
                .map_or(rest.len(), |i| i + 1)
        }
        Some(_) => rest
            .iter()
            .position(|c| matches!(c, ',' | '}' | ']' | ' ' | '\t' | ':'))
            .unwrap_or(rest.len())
            .max(1),
    };
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Where a diagnostic points in a source: the location and, where the
/// text is at hand, the physical line and how many characters to underline.
#[derive(Debug, Clone)]
pub(crate) struct Place<'t> {
    pub loc: Location,
    line: Option<(&'t str, u32)>,
}

/// Places a diagnostic at a [`Place`], drawing its source line as spec
/// diagnostics do (rustc style).
pub(crate) trait At {
    fn at(self, place: Place<'_>) -> Self;
}

impl At for Diagnostic {
    fn at(self, place: Place<'_>) -> Self {
        match place.line {
            Some((text, len)) => self.with_source_line(place.loc, text, len),
            None => self.with_location(place.loc),
        }
    }
}

pub(crate) use crate::pos::Pos;

/// Normalises a column name for matching: trimmed, lower-cased.
pub(crate) fn column_key(name: &str) -> String {
    name.trim().to_lowercase()
}

impl Table {
    fn new(path: PathBuf, columns: Vec<String>, pos: Positions) -> Table {
        let mut index = HashMap::new();
        let mut duplicated = Vec::new();
        for (i, c) in columns.iter().enumerate() {
            let k = column_key(c);
            match index.entry(k) {
                std::collections::hash_map::Entry::Occupied(e) => duplicated.push(e.key().clone()),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(i);
                }
            }
        }
        Table {
            path,
            columns,
            index,
            duplicated,
            rows: Vec::new(),
            pos,
        }
    }

    fn loc(&self, p: Pos) -> Location {
        Location {
            file: self.path.clone(),
            line: p.line,
            column: p.col,
        }
    }

    /// Where the header names column `col` (the whole header line for
    /// `None`; the file's start for JSON columns never seen).
    pub fn header_place(&self, col: Option<usize>) -> Place<'_> {
        match &self.pos {
            Positions::Csv {
                text,
                delimiter,
                header,
                ..
            } => self.csv_place(text, *delimiter, *header, col),
            Positions::Json {
                header,
                root,
                lines,
                ..
            } => lines.place(
                &self.path,
                col.and_then(|c| header.get(c).copied()).unwrap_or(*root),
            ),
        }
    }

    /// Where the cell of `row` in column `col` is (`None`: the row as a
    /// whole; for a missing JSON key, the row's object).
    pub fn cell_place(&self, row: usize, col: Option<usize>) -> Place<'_> {
        match &self.pos {
            Positions::Csv {
                text,
                delimiter,
                starts,
                ..
            } => {
                let start = starts.get(row).copied().unwrap_or((0, 1));
                self.csv_place(text, *delimiter, start, col)
            }
            Positions::Json {
                cells, root, lines, ..
            } => {
                let p = cells.get(row).map_or(*root, |(obj, v)| {
                    col.and_then(|c| v.get(c).copied().flatten())
                        .unwrap_or(*obj)
                });
                lines.place(&self.path, p)
            }
        }
    }

    fn csv_place<'t>(
        &self,
        text: &'t str,
        delimiter: u8,
        (start, line): (usize, u32),
        col: Option<usize>,
    ) -> Place<'t> {
        let (pos, line_start, field_start) =
            cell_pos(text, delimiter, start, line, col.unwrap_or(0));
        let rest = &text[line_start.min(text.len())..];
        let line_text = line_text(rest.split('\n').next().unwrap_or(""));
        let len = match col {
            None => line_text.chars().count(),
            Some(_) => csv_cell_len(text.get(field_start..).unwrap_or(""), delimiter),
        };
        Place {
            loc: self.loc(pos),
            line: Some((line_text, u32::try_from(len).unwrap_or(u32::MAX))),
        }
    }
}

/// How many characters the CSV cell at the start of `rest` takes on its
/// first line (a quoted cell with its quotes).
fn csv_cell_len(rest: &str, delimiter: u8) -> usize {
    let mut n = 0;
    let mut chars = rest.chars().peekable();
    if rest.starts_with('"') {
        chars.next();
        n += 1;
        while let Some(c) = chars.next() {
            if c == '\n' || c == '\r' {
                return n;
            }
            n += 1;
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    n += 1;
                } else {
                    return n;
                }
            }
        }
        return n;
    }
    for c in chars {
        if c == char::from(delimiter) || c == '\n' || c == '\r' {
            break;
        }
        n += 1;
    }
    n
}

/// The position of field `col` of the CSV record starting at byte `start`
/// on line `line`: walks the record as RFC 4180 reads it (quotes, doubled
/// quotes, line ends inside quotes), with the byte offsets of the start
/// of the field's physical line and of the field.
fn cell_pos(text: &str, delimiter: u8, start: usize, line: u32, col: usize) -> (Pos, usize, usize) {
    let bytes = text.as_bytes();
    let mut line = line;
    let mut line_start = text[..start.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let mut i = start.min(bytes.len());
    let mut field = 0;
    let mut in_quotes = false;
    let mut field_start = i;
    while i < bytes.len() && field < col {
        let b = bytes[i];
        if in_quotes {
            if b == b'"' {
                if bytes.get(i + 1) == Some(&b'"') {
                    i += 1;
                } else {
                    in_quotes = false;
                }
            } else if b == b'\n' {
                line += 1;
                line_start = i + 1;
            }
        } else if b == b'"' && i == field_start {
            in_quotes = true;
        } else if b == delimiter {
            field += 1;
            field_start = i + 1;
        } else if b == b'\n' || b == b'\r' {
            break;
        }
        i += 1;
    }
    let start = if field == col { field_start } else { i };
    let column = text
        .get(line_start..start.min(text.len()))
        .map_or(0, |s| s.chars().count());
    let pos = Pos {
        line,
        col: u32::try_from(column + 1).unwrap_or(u32::MAX),
    };
    (pos, line_start, start)
}

/// Reads every source; problems (encoding, shape, ragged rows, huge cells)
/// go to `diags`, and a source that cannot be read at all gives no table.
pub(crate) fn read(
    input: &SourceInput,
    delimiter: Option<Delimiter>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Table> {
    let at = |line: u32, col: u32| Location {
        file: input.path.clone(),
        line,
        column: col,
    };
    let bytes = &input.bytes;
    let errors_before = diags.len();
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        diags.push(
            Diagnostic::error(
                "notUtf8",
                format!("`{}` is UTF-16, not UTF-8", input.path.display()),
            )
            .with_hint("export the report as UTF-8 (in a spreadsheet: \"CSV UTF-8\")")
            .with_location(at(1, 1)),
        );
        return None;
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = &bytes[..e.valid_up_to()];
            let valid = std::str::from_utf8(valid).unwrap_or_default();
            let line = valid.matches('\n').count() + 1;
            let col = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            let byte = bytes.get(e.valid_up_to()).copied().unwrap_or(0);
            diags.push(
                Diagnostic::error(
                    "notUtf8",
                    format!(
                        "`{}` is not UTF-8: byte 0x{byte:02X} here is not a UTF-8 character",
                        input.path.display()
                    ),
                )
                .with_hint(
                    "the file is probably Latin-1 or Windows-1252; export it as UTF-8 (in a \
                     spreadsheet: \"CSV UTF-8\"), or convert it: iconv -f WINDOWS-1252 -t UTF-8",
                )
                .with_source_line(
                    at(to_u32(line), to_u32(col)),
                    &String::from_utf8_lossy(
                        bytes[valid.rfind('\n').map_or(0, |i| i + 1)..]
                            .split(|b| *b == b'\n')
                            .next()
                            .unwrap_or_default(),
                    ),
                    1,
                ),
            );
            return None;
        }
    };
    if text.trim().is_empty() {
        diags.push(
            Diagnostic::error(
                "emptySource",
                format!("`{}` is empty", input.path.display()),
            )
            .with_hint("export the employee report again; an empty export would delete every user")
            .with_location(at(1, 1)),
        );
        return None;
    }
    let is_json = input
        .path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        || text.trim_start().starts_with(JSON_OPENERS);
    let table = if is_json {
        read_json(input, text, diags)?
    } else {
        read_csv(input, text, delimiter, diags)?
    };
    if table.rows.iter().all(Vec::is_empty) && diags.len() == errors_before {
        diags.push(
            Diagnostic::error(
                "noRows",
                format!("`{}` has a header but no rows", input.path.display()),
            )
            .with_hint("export the employee report again; an empty export would delete every user")
            .at(table.header_place(None)),
        );
        return None;
    }
    Some(table)
}

/// A source whose text starts with one of these is JSON.
const JSON_OPENERS: [char; 2] = ['[', '{'];

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// `,`, `;` or tab: the one the header line holds most of (outside quotes);
/// `,` on a tie or when there is none.
fn detect_delimiter(text: &str) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for b in text.bytes() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = [b',', b';', b'\t']
        .into_iter()
        .zip(counts)
        .fold(
            (b',', 0),
            |best, (d, n)| if n > best.1 { (d, n) } else { best },
        );
    best.0
}

fn read_csv(
    input: &SourceInput,
    text: &str,
    delimiter: Option<Delimiter>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Table> {
    let delimiter = delimiter.map_or_else(|| detect_delimiter(text), Delimiter::byte);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    let mut table: Option<Table> = None;
    let mut width = 0;
    loop {
        let before = reader.position().clone();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                diags.push(csv_syntax_error(input, text, &e, &before));
                return None;
            }
        }
        let pos = record.position().cloned().unwrap_or(before);
        let start = (
            usize::try_from(pos.byte()).unwrap_or(usize::MAX),
            to_u32(usize::try_from(pos.line()).unwrap_or(usize::MAX)),
        );
        match &mut table {
            None => {
                let columns: Vec<String> = record.iter().map(|c| c.trim().to_owned()).collect();
                width = columns.len();
                table = Some(Table::new(
                    input.path.clone(),
                    columns,
                    Positions::Csv {
                        text: text.to_owned(),
                        delimiter,
                        starts: Vec::new(),
                        header: start,
                    },
                ));
            }
            Some(t) => push_csv_row(t, &record, width, start, diags),
        }
    }
    table
}

/// A record the CSV reader refuses: an error at its line.
fn csv_syntax_error(
    input: &SourceInput,
    text: &str,
    e: &csv::Error,
    before: &csv::Position,
) -> Diagnostic {
    let (line, col) = e.position().map_or((before.line(), 1), |p| (p.line(), 1));
    let line = to_u32(usize::try_from(line).unwrap_or(usize::MAX));
    let line_text = Lines::new(text).line(line).to_owned();
    let len = u32::try_from(line_text.chars().count()).unwrap_or(u32::MAX);

    Diagnostic::error("csvSyntax", format!("the CSV cannot be read: {e}"))
        .with_hint(
            "check the quoting of this row: a quote inside a quoted cell is written twice (\"\")",
        )
        .with_source_line(
            Location {
                file: input.path.clone(),
                line,
                column: col,
            },
            &line_text,
            len,
        )
}

/// One data row of a CSV table: a blank line, a ragged row and a row with
/// a huge cell are kept as empty rows (so row numbers stay), with errors.
fn push_csv_row(
    t: &mut Table,
    record: &csv::StringRecord,
    width: usize,
    start: (usize, u32),
    diags: &mut Vec<Diagnostic>,
) {
    let row = t.rows.len();
    if let Positions::Csv { starts, .. } = &mut t.pos {
        starts.push(start);
    }
    if record.len() == 1 && record.get(0).is_some_and(|c| c.trim().is_empty()) && width > 1 {
        // A blank line inside the data: nothing to import.
        t.rows.push(Vec::new());
        return;
    }
    if record.len() != width {
        let col = record.len().min(width);
        let mut d = Diagnostic::error(
            "raggedRow",
            format!(
                "this row has {} cell{}, the header has {width}",
                record.len(),
                if record.len() == 1 { "" } else { "s" }
            ),
        )
        .with_hint(
            "every row needs one cell per header column; a cell holding the \
             delimiter must be quoted (\"Sales, Nordics\")",
        );
        d = d.at(t.cell_place(row, Some(col)));
        diags.push(d);
        t.rows.push(Vec::new());
        return;
    }
    let mut cells = Vec::with_capacity(width);
    for (c, cell) in record.iter().enumerate() {
        if cell.len() > MAX_CELL_BYTES {
            diags.push(
                Diagnostic::error(
                    "cellTooLarge",
                    format!(
                        "this cell holds {} bytes; the most a cell may hold is {MAX_CELL_BYTES}",
                        cell.len()
                    ),
                )
                .with_hint("the export is damaged (an unclosed quote swallows the rows after it?); export it again")
                .at(t.cell_place(row, Some(c))),
            );
            cells.push(None);
        } else {
            cells.push(Some(cell.to_owned()));
        }
    }
    // A row with a broken cell is left out: its other cells would only add noise.
    if cells.iter().any(Option::is_none) {
        cells.clear();
    }
    t.rows.push(cells);
}

fn read_json(input: &SourceInput, text: &str, diags: &mut Vec<Diagnostic>) -> Option<Table> {
    let lines = Lines::new(text);
    let at = |p: Pos| lines.place(&input.path, p);
    let root = match json::parse(text) {
        Ok(v) => v,
        Err((msg, p)) => {
            diags.push(
                Diagnostic::error("jsonSyntax", format!("the JSON cannot be read: {msg}"))
                    .with_hint("export the report again, or check it with a JSON validator")
                    .at(at(p)),
            );
            return None;
        }
    };
    let rows = json_rows(&root, &at, diags)?;
    let mut columns: Vec<String> = Vec::new();
    let mut header: Vec<Pos> = Vec::new();
    let mut col_of: HashMap<String, usize> = HashMap::new();
    let mut out_rows: Vec<Vec<Option<String>>> = Vec::with_capacity(rows.len());
    let mut cells: Vec<(Pos, Vec<Option<Pos>>)> = Vec::with_capacity(rows.len());
    for row in rows {
        let json::Value::Object(members) = &row.value else {
            diags.push(
                Diagnostic::error("jsonShape", "this entry is not an object")
                    .with_hint("each employee is an object: {\"Employee ID\": \"E1\", ...}")
                    .at(at(row.pos)),
            );
            out_rows.push(Vec::new());
            cells.push((row.pos, Vec::new()));
            continue;
        };
        let mut vals: Vec<Option<String>> = vec![None; columns.len()];
        let mut poss: Vec<Option<Pos>> = vec![None; columns.len()];
        for (key, key_pos, v) in members {
            let c = match col_of.get(key) {
                Some(&c) => c,
                None => {
                    col_of.insert(key.clone(), columns.len());
                    columns.push(key.trim().to_owned());
                    header.push(*key_pos);
                    vals.push(None);
                    poss.push(None);
                    columns.len() - 1
                }
            };
            if vals.len() < columns.len() {
                vals.resize(columns.len(), None);
                poss.resize(columns.len(), None);
            }
            if poss[c].is_some() {
                diags.push(
                    Diagnostic::error(
                        "duplicateKey",
                        format!("the key `{key}` is written twice in this object"),
                    )
                    .with_hint("keep one of them")
                    .at(at(*key_pos)),
                );
                continue;
            }
            poss[c] = Some(v.pos);
            match v.scalar_text() {
                Some(t) if t.len() > MAX_CELL_BYTES => {
                    diags.push(
                        Diagnostic::error(
                            "cellTooLarge",
                            format!(
                                "this value holds {} bytes; the most a cell may hold is {MAX_CELL_BYTES}",
                                t.len()
                            ),
                        )
                        .with_hint("the export is damaged; export it again")
                        .at(at(v.pos)),
                    );
                }
                Some(t) => vals[c] = Some(t),
                None => diags.push(
                    Diagnostic::error(
                        "jsonShape",
                        format!("the value of `{key}` is a nested object"),
                    )
                    .with_hint(
                        "map flat values only: strings, numbers, booleans, or arrays of them",
                    )
                    .at(at(v.pos)),
                ),
            }
        }
        out_rows.push(vals);
        cells.push((row.pos, poss));
    }
    for r in &mut out_rows {
        if !r.is_empty() {
            r.resize(columns.len(), None);
        }
    }
    for c in &mut cells {
        if !c.1.is_empty() {
            c.1.resize(columns.len(), None);
        }
    }
    let mut t = Table::new(
        input.path.clone(),
        columns,
        Positions::Json {
            cells,
            header,
            root: root.pos,
            lines,
        },
    );
    t.rows = out_rows;
    Some(t)
}

/// The array of employee objects: the document itself, or the one array
/// an object holds.
fn json_rows<'n, 'l>(
    root: &'n json::Node,
    at: &dyn Fn(Pos) -> Place<'l>,
    diags: &mut Vec<Diagnostic>,
) -> Option<&'n Vec<json::Node>> {
    let rows = match &root.value {
        json::Value::Array(items) => items,
        json::Value::Object(members) => {
            let arrays: Vec<&json::Node> = members
                .iter()
                .map(|(_, _, v)| v)
                .filter(|v| matches!(v.value, json::Value::Array(_)))
                .collect();
            match arrays.as_slice() {
                [one] => match &one.value {
                    json::Value::Array(items) => items,
                    _ => return None,
                },
                _ => {
                    diags.push(
                        Diagnostic::error(
                            "jsonShape",
                            format!(
                                "the JSON object holds {} arrays; an export is an array of \
                                 objects, or an object with one such array",
                                arrays.len()
                            ),
                        )
                        .with_hint("give the array of employees itself")
                        .at(at(root.pos)),
                    );
                    return None;
                }
            }
        }
        _ => {
            diags.push(
                Diagnostic::error("jsonShape", "the JSON is not an array of objects")
                    .with_hint("an export is an array of objects, one per employee")
                    .at(at(root.pos)),
            );
            return None;
        }
    };
    Some(rows)
}
