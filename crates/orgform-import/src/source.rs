//! Sources: CSV and JSON exports read into tables of cells, each cell
//! with the place it was written (`FILE:LINE:COLUMN`, columns counting
//! characters, lines counting the physical lines of multi-line cells).

use std::collections::HashMap;
use std::path::PathBuf;

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
    },
}

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub line: u32,
    pub col: u32,
}

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

    /// Where the header names column `col` (the file's start for JSON
    /// columns never seen).
    pub fn header_loc(&self, col: Option<usize>) -> Location {
        match &self.pos {
            Positions::Csv {
                text,
                delimiter,
                header,
                ..
            } => {
                let p = cell_pos(text, *delimiter, header.0, header.1, col.unwrap_or(0));
                self.loc(p)
            }
            Positions::Json { header, root, .. } => {
                self.loc(col.and_then(|c| header.get(c).copied()).unwrap_or(*root))
            }
        }
    }

    /// Where row `row` starts.
    pub fn row_loc(&self, row: usize) -> Location {
        match &self.pos {
            Positions::Csv {
                text,
                delimiter,
                starts,
                ..
            } => {
                let (b, l) = starts.get(row).copied().unwrap_or((0, 1));
                self.loc(cell_pos(text, *delimiter, b, l, 0))
            }
            Positions::Json { cells, root, .. } => self.loc(cells.get(row).map_or(*root, |c| c.0)),
        }
    }

    /// Where the cell of `row` in column `col` is (for a missing JSON key,
    /// the row's object).
    pub fn cell_loc(&self, row: usize, col: usize) -> Location {
        match &self.pos {
            Positions::Csv {
                text,
                delimiter,
                starts,
                ..
            } => {
                let (b, l) = starts.get(row).copied().unwrap_or((0, 1));
                self.loc(cell_pos(text, *delimiter, b, l, col))
            }
            Positions::Json { cells, root, .. } => {
                self.loc(cells.get(row).map_or(*root, |(obj, v)| {
                    v.get(col).copied().flatten().unwrap_or(*obj)
                }))
            }
        }
    }
}

/// The position of field `col` of the CSV record starting at byte `start`
/// on line `line`: walks the record as RFC 4180 reads it (quotes, doubled
/// quotes, line ends inside quotes).
fn cell_pos(text: &str, delimiter: u8, start: usize, line: u32, col: usize) -> Pos {
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
    Pos {
        line,
        col: u32::try_from(column + 1).unwrap_or(u32::MAX),
    }
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
                .with_location(at(to_u32(line), to_u32(col))),
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
        || text.trim_start().starts_with(['[', '{']);
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
            .with_location(table.header_loc(None)),
        );
        return None;
    }
    Some(table)
}

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
                let (line, col) = e.position().map_or((before.line(), 1), |p| (p.line(), 1));
                diags.push(
                    Diagnostic::error("csvSyntax", format!("the CSV cannot be read: {e}"))
                        .with_hint("check the quoting of this row: a quote inside a quoted cell is written twice (\"\")")
                        .with_location(Location {
                            file: input.path.clone(),
                            line: to_u32(usize::try_from(line).unwrap_or(usize::MAX)),
                            column: col,
                        }),
                );
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
            Some(t) => {
                let row = t.rows.len();
                if let Positions::Csv { starts, .. } = &mut t.pos {
                    starts.push(start);
                }
                if record.len() == 1
                    && record.get(0).is_some_and(|c| c.trim().is_empty())
                    && width > 1
                {
                    // A blank line inside the data: nothing to import.
                    t.rows.push(Vec::new());
                    continue;
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
                    d = d.with_location(t.cell_loc(row, col));
                    diags.push(d);
                    t.rows.push(Vec::new());
                    continue;
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
                            .with_location(t.cell_loc(row, c)),
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
        }
    }
    table
}

fn read_json(input: &SourceInput, text: &str, diags: &mut Vec<Diagnostic>) -> Option<Table> {
    let at = |p: Pos| Location {
        file: input.path.clone(),
        line: p.line,
        column: p.col,
    };
    let root = match json::parse(text) {
        Ok(v) => v,
        Err((msg, p)) => {
            diags.push(
                Diagnostic::error("jsonSyntax", format!("the JSON cannot be read: {msg}"))
                    .with_hint("export the report again, or check it with a JSON validator")
                    .with_location(at(p)),
            );
            return None;
        }
    };
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
                        .with_location(at(root.pos)),
                    );
                    return None;
                }
            }
        }
        _ => {
            diags.push(
                Diagnostic::error("jsonShape", "the JSON is not an array of objects")
                    .with_hint("an export is an array of objects, one per employee")
                    .with_location(at(root.pos)),
            );
            return None;
        }
    };
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
                    .with_location(at(row.pos)),
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
                    .with_location(at(*key_pos)),
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
                        .with_location(at(v.pos)),
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
                    .with_location(at(v.pos)),
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
        },
    );
    t.rows = out_rows;
    Some(t)
}
