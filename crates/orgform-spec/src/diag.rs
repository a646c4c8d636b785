//! Diagnostics: what is wrong, where, what to do, and how it is drawn.

use std::fmt;
use std::path::PathBuf;

use annotate_snippets::{AnnotationKind, Element, Level, Origin, Renderer, Snippet as AsSnippet};
use orgform_model::palette;
use orgform_model::text::{clean, dangerous};
use serde_json::{Map, Value, json};

/// A place in a spec file: 1-based line and column (columns count
/// characters, so a CRLF file or a UTF-8 BOM does not shift them).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// The file, as the user gave it (a directory spec joins the directory
    /// and the file name).
    pub file: PathBuf,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// How bad a diagnostic is: errors make a spec invalid, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The spec is invalid.
    Error,
    /// Worth reading; the spec is still valid.
    Warning,
}

impl Severity {
    /// Whether this is [`Severity::Error`].
    pub fn is_error(self) -> bool {
        self == Severity::Error
    }

    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The source line a location points into, kept with the diagnostic so it
/// can be drawn without the file (which may be gone, or huge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snippet {
    /// The line without its line end, or a window of a long line.
    pub text: String,
    /// How many characters to underline from `col` (at least 1).
    pub len: u32,
    /// The 1-based column (in characters, within `text`) the underline
    /// starts at.
    pub col: u32,
    /// How many characters of the line were cut before `text` (a window).
    pub skip: u32,
}

impl Snippet {
    /// A snippet of `line`, underlining `len` characters from `col`
    /// (clamped to the line, at least one).
    pub fn new(line: &str, col: u32, len: u32) -> Self {
        let chars = u32::try_from(line.chars().count()).unwrap_or(u32::MAX);
        let col = col.clamp(1, chars.saturating_add(1));
        let room = chars.saturating_add(1).saturating_sub(col).max(1);
        Snippet {
            text: line.to_owned(),
            len: len.clamp(1, room),
            col,
            skip: 0,
        }
    }
}

/// One problem (or warning) found in a spec.
///
/// `code` is a stable camelCase identifier (the list is in the crate docs);
/// `api_error` names the &frankly API error the problem would cause, where
/// there is one; `related` points at other places involved (the first of a
/// duplicate, the other members of a cycle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable camelCase code, e.g. `unknownField`.
    pub code: &'static str,
    /// What is wrong, one sentence, user values in backticks.
    pub message: String,
    /// Where; `None` for problems without a place (a directory without YAML,
    /// an org validated without its YAML).
    pub location: Option<Location>,
    /// What to do about it.
    pub hint: Option<String>,
    /// The &frankly API error this prevents, e.g. `validateNoPhoneDuplicates`.
    pub api_error: Option<&'static str>,
    /// Other places involved, each with a short label.
    pub related: Vec<(Location, String)>,
    snippet: Option<Snippet>,
    related_snippets: Vec<Option<Snippet>>,
}

impl Diagnostic {
    /// A new error without a location.
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, message.into())
    }

    /// A new warning without a location.
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, code, message.into())
    }

    fn new(severity: Severity, code: &'static str, message: String) -> Self {
        Diagnostic {
            severity,
            code,
            message,
            location: None,
            hint: None,
            api_error: None,
            related: Vec::new(),
            snippet: None,
            related_snippets: Vec::new(),
        }
    }

    /// Adds what to do.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Names the API error this prevents.
    pub fn with_api_error(mut self, api_error: &'static str) -> Self {
        self.api_error = Some(api_error);
        self
    }

    /// Sets the location (without a snippet).
    pub fn with_location(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    /// Adds a related place (without a snippet).
    pub fn with_related(mut self, location: Location, label: impl Into<String>) -> Self {
        self.related.push((location, label.into()));
        self.related_snippets.push(None);
        self
    }

    /// Sets the location with the source line it points into, for sources
    /// other than a spec file (an import's CSV row): `line_text` is the
    /// whole line, `len` how many characters from the location's column to
    /// underline. A line over 4096 bytes is not kept (the location alone is
    /// drawn).
    pub fn with_source_line(mut self, location: Location, line_text: &str, len: u32) -> Self {
        let snippet =
            (line_text.len() <= 4096).then(|| Snippet::new(line_text, location.column, len));
        self.set_primary(location, snippet);
        self
    }

    /// How many characters the primary place spans, when its line is kept.
    pub(crate) fn primary_len(&self) -> Option<u32> {
        self.snippet.as_ref().map(|s| s.len)
    }

    pub(crate) fn set_primary(&mut self, location: Location, snippet: Option<Snippet>) {
        self.location = Some(location);
        self.snippet = snippet;
    }

    pub(crate) fn push_related(
        &mut self,
        location: Location,
        label: String,
        snippet: Option<Snippet>,
    ) {
        self.related.push((location, label));
        self.related_snippets.push(snippet);
    }

    /// The JSON form (see [`Diagnostics::to_json`]).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("severity".into(), json!(self.severity.as_str()));
        m.insert("code".into(), json!(self.code));
        m.insert("message".into(), json!(self.message));
        if let Some(loc) = &self.location {
            location_json(&mut m, loc);
        }
        if let Some(hint) = &self.hint {
            m.insert("hint".into(), json!(hint));
        }
        if let Some(api) = self.api_error {
            m.insert("apiError".into(), json!(api));
        }
        if !self.related.is_empty() {
            let related: Vec<Value> = self
                .related
                .iter()
                .map(|(loc, label)| {
                    let mut r = Map::new();
                    location_json(&mut r, loc);
                    r.insert("message".into(), json!(label));
                    Value::Object(r)
                })
                .collect();
            m.insert("related".into(), Value::Array(related));
        }
        Value::Object(m)
    }

    /// The rustc-style drawing of this one diagnostic (see
    /// [`Diagnostics::render`]), without a final line end.
    pub fn render(&self, color: bool) -> String {
        let level = match self.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let message = clean(&self.message);
        let title = level.primary_title(message.as_str()).id(self.code);
        let mut elements: Vec<Element<'_>> = Vec::new();
        let primary = self
            .location
            .as_ref()
            .map(|l| (l, self.snippet.as_ref(), None));
        let related = self
            .related
            .iter()
            .zip(&self.related_snippets)
            .map(|((l, label), s)| (l, s.as_ref(), Some(label.as_str())));
        // Owned texts first, borrowed by the elements below.
        let drawn: Vec<Drawn> = primary
            .into_iter()
            .chain(related)
            .map(|(loc, snippet, label)| Drawn::new(loc, snippet, label))
            .collect();
        for (i, d) in drawn.iter().enumerate() {
            match &d.source {
                Some((text, span)) => {
                    let kind = if i == 0 && self.location.is_some() {
                        AnnotationKind::Primary
                    } else {
                        AnnotationKind::Context
                    };
                    let mut annotation = kind.span(span.clone());
                    if let Some(label) = &d.label {
                        annotation = annotation.label(label.as_str());
                    }
                    elements.push(
                        AsSnippet::source(text.as_str())
                            .line_start(d.line)
                            .path(d.path.as_str())
                            .annotation(annotation)
                            .into(),
                    );
                }
                None if i == 0 && self.location.is_some() => elements.push(
                    Origin::path(d.path.as_str())
                        .line(d.line)
                        .char_column(d.column)
                        .into(),
                ),
                None => elements.push(Level::NOTE.message(d.note.as_str()).into()),
            }
        }
        let hint = self.hint.as_deref().map(clean);
        if let Some(hint) = &hint {
            elements.push(Level::HELP.message(hint.as_str()).into());
        }
        let api = self
            .api_error
            .map(|api| format!("the &frankly API would reject this with `{api}`"));
        if let Some(api) = &api {
            elements.push(Level::NOTE.message(api.as_str()).into());
        }
        renderer(color).render(&[title.elements(elements)])
    }
}

/// One place of a diagnostic, made ready to draw: the source line with
/// dangerous characters escaped (tabs kept: the renderer widens them), the
/// byte span to underline in it, and the texts the elements borrow.
struct Drawn {
    path: String,
    line: usize,
    column: usize,
    source: Option<(String, std::ops::Range<usize>)>,
    label: Option<String>,
    /// For a related place without a source line: `label: file:line:col`.
    note: String,
}

impl Drawn {
    fn new(loc: &Location, snippet: Option<&Snippet>, label: Option<&str>) -> Self {
        let path = clean(&loc.file.display().to_string());
        let label = label.map(clean);
        let note = match &label {
            Some(l) => format!("{l}: {}", clean(&loc.to_string())),
            None => clean(&loc.to_string()),
        };
        Drawn {
            path,
            line: loc.line as usize,
            column: loc.column as usize,
            source: snippet.and_then(escaped_line),
            label,
            note,
        }
    }
}

/// Windows cut further than this from the line start are drawn without
/// their line (the location alone): the renderer is given the window
/// behind as many spaces as characters were cut, so that it counts the
/// column right, and that costs the cut's length.
const MAX_SKIP: u32 = 100_000;

/// A snippet's line with every dangerous character but the tab escaped (as
/// `orgform_model::text::clean` does), and the byte range its underline
/// covers in the escaped text. A window of a long line stands behind
/// spaces in place of what was cut (the renderer trims them), so columns
/// count from the line's real start.
fn escaped_line(s: &Snippet) -> Option<(String, std::ops::Range<usize>)> {
    if s.skip > MAX_SKIP {
        return None;
    }
    let from = s.col.saturating_sub(1) as usize;
    let to = from + s.len.max(1) as usize;
    let mut text = " ".repeat(s.skip as usize);
    text.reserve(s.text.len());
    let (mut start, mut end) = (None, None);
    for (i, c) in s.text.chars().enumerate() {
        if i == from {
            start = Some(text.len());
        }
        if i == to {
            end = Some(text.len());
        }
        if c == '\t' || !dangerous(c) {
            text.push(c);
        } else {
            text.push_str(&clean(c.encode_utf8(&mut [0; 4])));
        }
    }
    let start = start.unwrap_or(text.len());
    let end = end.unwrap_or(text.len()).max(start);
    Some((text, start..end))
}

/// The renderer: annotate-snippets (what rustc and cargo draw with), in the
/// project's one palette when `color`.
fn renderer(color: bool) -> Renderer {
    if color {
        Renderer::styled()
            .error(palette::ERROR)
            .warning(palette::WARNING)
            .note(palette::NOTE)
            .help(palette::EMPHASIS)
            .line_num(palette::GUTTER)
            .emphasis(palette::EMPHASIS)
    } else {
        Renderer::plain()
    }
}

fn location_json(m: &mut Map<String, Value>, loc: &Location) {
    // Forward slashes on every platform, so JSON output is stable.
    let file = loc.file.to_string_lossy().replace('\\', "/");
    m.insert("file".into(), json!(file));
    m.insert("line".into(), json!(loc.line));
    m.insert("column".into(), json!(loc.column));
}

/// How many diagnostics of one code [`Diagnostics::render`] draws before it
/// sums the rest up.
pub const SHOWN_PER_CODE: usize = 3;

/// How many places a [`Folded`] summary lists before `…`.
const LISTED_PLACES: usize = 10;

/// What [`Diagnostics::grouped`] decided: the diagnostics to draw, in
/// order, and the rest summed up per code.
#[derive(Debug, Clone)]
pub struct Grouped<'a> {
    /// Drawn in full, in order.
    pub shown: Vec<&'a Diagnostic>,
    /// Summed up, one per severity and code, in the order the codes first
    /// appear.
    pub folded: Vec<Folded<'a>>,
}

/// The diagnostics of one code past the first [`SHOWN_PER_CODE`].
#[derive(Debug, Clone)]
pub struct Folded<'a> {
    /// Their severity.
    pub severity: Severity,
    /// Their code.
    pub code: &'static str,
    /// Every one of them, in order.
    pub rest: Vec<&'a Diagnostic>,
}

impl Folded<'_> {
    /// `and 27 more `numberNotString`: lines 40, 52, … (`orgform validate
    /// --all` shows every one)`; places in other files than the first are
    /// written `file:line`.
    pub fn summary(&self) -> String {
        let first_file = self
            .rest
            .iter()
            .find_map(|d| d.location.as_ref().map(|l| &l.file));
        let mut places: Vec<String> = Vec::new();
        for d in self.rest.iter().take(LISTED_PLACES) {
            match &d.location {
                Some(l) if Some(&l.file) == first_file => places.push(l.line.to_string()),
                Some(l) => places.push(clean(&format!("{}:{}", l.file.display(), l.line))),
                None => {}
            }
        }
        if self.rest.len() > LISTED_PLACES && !places.is_empty() {
            places.push("…".to_owned());
        }
        let at = match (&places[..], first_file) {
            ([], _) | (_, None) => String::new(),
            ([one], Some(file)) => {
                format!(": line {one} of `{}`", clean(&file.display().to_string()))
            }
            (_, Some(file)) => format!(
                ": lines {} of `{}`",
                places.join(", "),
                clean(&file.display().to_string())
            ),
        };
        format!(
            "and {} more `{}`{at} (`orgform validate --all` shows every one)",
            self.rest.len(),
            self.code
        )
    }
}

/// Every diagnostic of one load or validation, sorted by file, line and
/// column (those without a location first, in the order found).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    /// No diagnostics at all.
    pub fn new() -> Self {
        Diagnostics(Vec::new())
    }

    pub(crate) fn from_sorted(mut list: Vec<Diagnostic>) -> Self {
        list.sort_by(|a, b| match (&a.location, &b.location) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, Some(_)) => std::cmp::Ordering::Less,
            (Some(_), None) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => x.cmp(y),
        });
        Diagnostics(list)
    }

    /// Adds one at the end (callers that want sorted output push in order).
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    /// Whether there is nothing to report.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many diagnostics there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether any is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity.is_error())
    }

    /// How many are errors.
    pub fn error_count(&self) -> usize {
        self.0.iter().filter(|d| d.severity.is_error()).count()
    }

    /// Every diagnostic, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    /// How many are warnings.
    pub fn warning_count(&self) -> usize {
        self.0.len() - self.error_count()
    }

    /// The closing total: `2 errors, 3 warnings` (`1 error, 0 warnings`).
    pub fn total(&self) -> String {
        let (e, w) = (self.error_count(), self.warning_count());
        format!(
            "{e} error{}, {w} warning{}",
            if e == 1 { "" } else { "s" },
            if w == 1 { "" } else { "s" }
        )
    }

    /// Which diagnostics are drawn and which are summed up: with
    /// `all == false`, the first [`SHOWN_PER_CODE`] of each severity and
    /// code are shown and the rest are folded into one [`Folded`] per code
    /// (in the order their codes first appear); with `all`, every one is
    /// shown.
    pub fn grouped(&self, all: bool) -> Grouped<'_> {
        let mut shown = Vec::new();
        let mut folded: Vec<Folded<'_>> = Vec::new();
        let mut seen: std::collections::HashMap<(Severity, &str), usize> =
            std::collections::HashMap::new();
        for d in &self.0 {
            let n = seen.entry((d.severity, d.code)).or_insert(0);
            *n += 1;
            if all || *n <= SHOWN_PER_CODE {
                shown.push(d);
                continue;
            }
            match folded
                .iter_mut()
                .find(|f| f.severity == d.severity && f.code == d.code)
            {
                Some(f) => f.rest.push(d),
                None => folded.push(Folded {
                    severity: d.severity,
                    code: d.code,
                    rest: vec![d],
                }),
            }
        }
        Grouped { shown, folded }
    }

    /// rustc-style text, drawn by annotate-snippets: `error[code]:
    /// message`, `--> file:line:column`, the source line with the offending
    /// part underlined (tabs and wide characters placed right), related
    /// places, then `= help:` and the API error it prevents. ANSI colours
    /// (the palette of `orgform_model::palette`) when `color`. Every value
    /// from the spec goes through `orgform_model::text::clean`.
    ///
    /// After [`SHOWN_PER_CODE`] diagnostics of one code, the rest are summed
    /// up at the end: `error: and 27 more `numberNotString`: lines 40, 52,
    /// …`. [`Diagnostics::render_all`] draws every one.
    pub fn render(&self, color: bool) -> String {
        self.render_grouped(&self.grouped(false), color)
    }

    /// Like [`Diagnostics::render`], with every diagnostic drawn (no
    /// summing up): `validate --all`.
    pub fn render_all(&self, color: bool) -> String {
        self.render_grouped(&self.grouped(true), color)
    }

    fn render_grouped(&self, grouped: &Grouped<'_>, color: bool) -> String {
        let mut out = String::new();
        for (i, d) in grouped.shown.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&d.render(color));
            out.push('\n');
        }
        if !grouped.folded.is_empty() {
            out.push('\n');
        }
        for f in &grouped.folded {
            let style = match f.severity {
                Severity::Error => palette::ERROR,
                Severity::Warning => palette::WARNING,
            };
            out.push_str(&palette::paint(color, style, f.severity.as_str()));
            out.push_str(&palette::paint(
                color,
                palette::EMPHASIS,
                &format!(": {}", f.summary()),
            ));
            out.push('\n');
        }
        out
    }

    /// A JSON array, one object per diagnostic, in order:
    ///
    /// ```json
    /// [{"severity": "error", "code": "duplicatePhone", "message": "…",
    ///   "file": "specs/acme/users.yaml", "line": 12, "column": 12,
    ///   "hint": "…", "apiError": "validateNoPhoneDuplicates",
    ///   "related": [{"file": "…", "line": 4, "column": 12, "message": "…"}]}]
    /// ```
    ///
    /// `severity` is `error` or `warning`; `file`/`line`/`column` (1-based,
    /// columns in characters), `hint`, `apiError` and `related` are left out
    /// when absent. Fields may be added, never renamed.
    pub fn to_json(&self) -> Value {
        Value::Array(self.0.iter().map(Diagnostic::to_json).collect())
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl std::error::Error for Diagnostics {}
