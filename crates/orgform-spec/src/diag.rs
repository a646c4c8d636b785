//! Diagnostics: what is wrong, where, what to do, and how it is drawn.

use std::fmt;
use std::path::PathBuf;

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
    /// The whole line, without its line end.
    pub text: String,
    /// How many characters to underline from the location's column (at least 1).
    pub len: u32,
    /// The 1-based column of the location within `text` (differs from the
    /// location's column when a long line is cut to a window).
    pub col: u32,
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

    fn render_into(&self, out: &mut String, color: bool) {
        let p = Palette::new(color);
        let sev = match self.severity {
            Severity::Error => p.error,
            Severity::Warning => p.warning,
        };
        out.push_str(&format!(
            "{sev}{}[{}]{reset}{bold}: {}{reset}\n",
            self.severity,
            self.code,
            self.message,
            reset = p.reset,
            bold = p.bold
        ));
        let mut width = 1;
        let snippets = std::iter::once((self.location.as_ref(), self.snippet.as_ref())).chain(
            self.related
                .iter()
                .zip(&self.related_snippets)
                .map(|((l, _), s)| (Some(l), s.as_ref())),
        );
        for (loc, snip) in snippets {
            if let (Some(loc), Some(_)) = (loc, snip) {
                width = width.max(loc.line.to_string().len());
            }
        }
        let pad = " ".repeat(width);
        let gutter = |out: &mut String| {
            out.push_str(&format!("{pad} {}|{}\n", p.gutter, p.reset));
        };
        if let Some(loc) = &self.location {
            out.push_str(&format!("{pad}{}-->{} {loc}\n", p.gutter, p.reset));
            if let Some(s) = &self.snippet {
                draw_snippet(out, &p, width, loc, s, '^', sev, None);
            }
        }
        for (i, (loc, label)) in self.related.iter().enumerate() {
            match self.related_snippets.get(i).and_then(Option::as_ref) {
                Some(s) => {
                    out.push_str(&format!("{pad}{}:::{} {loc}\n", p.gutter, p.reset));
                    draw_snippet(out, &p, width, loc, s, '-', p.gutter, Some(label));
                }
                None => {
                    out.push_str(&format!(
                        "{pad} {}={} note: {label}: {loc}\n",
                        p.gutter, p.reset
                    ));
                }
            }
        }
        if self.location.is_some() && (self.hint.is_some() || self.api_error.is_some()) {
            gutter(out);
        }
        if let Some(hint) = &self.hint {
            out.push_str(&format!(
                "{pad} {}={} {}help{}: {hint}\n",
                p.gutter, p.reset, p.bold, p.reset
            ));
        }
        if let Some(api) = self.api_error {
            out.push_str(&format!(
                "{pad} {}={} {}note{}: the &frankly API would reject this with `{api}`\n",
                p.gutter, p.reset, p.bold, p.reset
            ));
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn draw_snippet(
    out: &mut String,
    p: &Palette,
    width: usize,
    loc: &Location,
    s: &Snippet,
    mark: char,
    mark_color: &str,
    label: Option<&String>,
) {
    let pad = " ".repeat(width);
    // Tabs are drawn as one space so the underline stays aligned.
    let text: String = s
        .text
        .chars()
        .map(|c| if c == '\t' { ' ' } else { c })
        .collect();
    out.push_str(&format!("{pad} {}|{}\n", p.gutter, p.reset));
    out.push_str(&format!(
        "{}{:>width$} |{} {}\n",
        p.gutter,
        loc.line,
        p.reset,
        text.trim_end()
    ));
    let lead = " ".repeat(s.col.saturating_sub(1) as usize);
    let marks: String = std::iter::repeat_n(mark, s.len.max(1) as usize).collect();
    let label = label.map(|l| format!(" {l}")).unwrap_or_default();
    out.push_str(&format!(
        "{pad} {}|{} {lead}{mark_color}{marks}{label}{}\n",
        p.gutter, p.reset, p.reset
    ));
}

fn location_json(m: &mut Map<String, Value>, loc: &Location) {
    // Forward slashes on every platform, so JSON output is stable.
    let file = loc.file.to_string_lossy().replace('\\', "/");
    m.insert("file".into(), json!(file));
    m.insert("line".into(), json!(loc.line));
    m.insert("column".into(), json!(loc.column));
}

struct Palette {
    error: &'static str,
    warning: &'static str,
    gutter: &'static str,
    bold: &'static str,
    reset: &'static str,
}

impl Palette {
    fn new(color: bool) -> Self {
        if color {
            Palette {
                error: "\x1b[1;31m",
                warning: "\x1b[1;33m",
                gutter: "\x1b[1;34m",
                bold: "\x1b[1m",
                reset: "\x1b[0m",
            }
        } else {
            Palette {
                error: "",
                warning: "",
                gutter: "",
                bold: "",
                reset: "",
            }
        }
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

    /// rustc-style text: `error[code]: message`, `--> file:line:column`, the
    /// source line with the offending part underlined, related places, then
    /// `= help:` and the API error it prevents. ANSI colours when `color`.
    pub fn render(&self, color: bool) -> String {
        let mut out = String::new();
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            d.render_into(&mut out, color);
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
