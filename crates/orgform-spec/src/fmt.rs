//! `orgform fmt`: one canonical key order and layout for spec files.
//!
//! What canonical means here:
//! - keys in the API's order: `version`, `target`, `settings`,
//!   `attributes`, `externalGroups`, `safety`, `groups`, `users` at the top;
//!   in a record `externalId` first, then the API reference's field order
//!   (users: `firstName`, `lastName`, `email`, `phone`, `active`,
//!   `timezone`, `language`, `accessInfo`, `externalProperties`, then
//!   orgform's `protected`; groups: `name`, `description`, `parent`,
//!   `protected`); `target`, `settings`, `safety`, `accessInfo` and
//!   long-form attributes likewise. Maps keyed by the user (`attributes`,
//!   `externalProperties`) and every list keep their order: moving people
//!   or groups around is the author's choice, not layout.
//! - block style with two-space indentation; lists of strings and
//!   attribute definitions on one line in flow style (`[a, b]`,
//!   `{required: true}`), empty collections as `[]`/`{}`;
//! - a string is written plain unless YAML (1.2, or the 1.1 that many tools
//!   still speak) could read it as something else or its characters need
//!   quotes: then double-quoted (`"0000897"`, `"+461234567"`, `"no"`,
//!   `"2024-01-31"`); booleans `true`/`false`, `null`, whole numbers in
//!   decimal; block scalars become one double-quoted line;
//! - one blank line kept where the author left one or more; `---`, `%YAML`
//!   directives and tags on collections dropped; LF line ends (CRLF kept
//!   when the file uses it), one final newline.
//!
//! Comments: the YAML parser reports no comments, so this module finds them
//! in the text between the parser's scalars (a `#` at a line's start or
//! after a blank, outside any scalar) and attaches each one to a record:
//! comments before the first key stay at the top of the file; a comment on
//! its own line goes with the key or list item below it; a comment at the
//! end of a line goes with the innermost key or item that started before
//! it on that line and stays at the end of that key's line (a second one is
//! moved above the key); a comment inside a `[...]`/`{...}` goes with the
//! key that holds it. Keys move with their comments.
//!
//! Never changing meaning is checked, not assumed: the formatted text is
//! decoded again and must give the very same records, and must hold the
//! very same comments; otherwise nothing is returned but an internal error.
//! Files this module refuses: ones that do not decode as a spec (the shape
//! errors of `orgform validate`: syntax, types, unknown fields, …; the
//! cross-record rules do not matter here) and ones with anchors or aliases
//! (`&x`, `*x`), which a rewrite would have to expand.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use saphyr_parser::{Event, Parser, ScalarStyle, Span, StrInput, Tag};
use sha2::{Digest, Sha256};

use crate::LoadOptions;
use crate::diag::{Diagnostic, Diagnostics};
use crate::source::{Files, Pos, Positions, SourceFile};
use crate::yaml::{
    self, ACCESS_KEYS, ATTRIBUTE_KEYS, Class, GROUP_KEYS, SAFETY_KEYS, SETTINGS_KEYS, TARGET_KEYS,
    TOP_KEYS, USER_KEYS, classify,
};

/// One file after formatting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Formatted {
    text: String,
    changed: bool,
}

impl Formatted {
    /// The canonical text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the canonical text differs from the file's bytes.
    pub fn is_changed(&self) -> bool {
        self.changed
    }

    /// The canonical text, by value.
    pub fn into_text(self) -> String {
        self.text
    }
}

/// The files a spec path stands for, as [`crate::load`] reads them: the
/// file itself, or a directory's `*.yaml`/`*.yml` files (sorted, hidden
/// files skipped).
pub fn spec_files(path: &Path) -> Result<Vec<PathBuf>, Diagnostics> {
    crate::load::spec_files(path).map_err(Diagnostics::from_sorted)
}

/// Reads one spec file (same size cap and encoding checks as
/// [`crate::load`]; a byte order mark is dropped) and formats it.
pub fn format_file(path: &Path, options: &LoadOptions) -> Result<Formatted, Diagnostics> {
    let mut diags = Vec::new();
    let Some(text) = crate::load::read_text(path, false, options, &mut diags) else {
        return Err(Diagnostics::from_sorted(diags));
    };
    let had_bom = diags.iter().any(|d| d.code == "byteOrderMark");
    let formatted = format_str(&text, path)?;
    Ok(Formatted {
        changed: had_bom || formatted != text,
        text: formatted,
    })
}

/// Formats the text of one spec file; `path` names it in diagnostics.
pub fn format_str(text: &str, path: &Path) -> Result<String, Diagnostics> {
    let files = Files {
        files: vec![SourceFile::new(path.to_path_buf(), text.to_owned())],
    };
    // Only fingerprints are kept, so that no two copies of a big spec's
    // records are in memory at once.
    let Some(before) = decode(text, &files)?.map(|r| fingerprint(&r)) else {
        // No document (empty, or only comments): nothing to order.
        return Ok(text.to_owned());
    };
    let tree = Builder::build(text, &files)?;
    let Some(tree) = tree else {
        return Ok(text.to_owned());
    };
    let mut out = Emitter::new(&tree).emit();
    if text.contains("\r\n") {
        out = out.replace('\n', "\r\n");
    }
    let mut comments_in = comment_texts(&tree.comments);
    drop(tree);
    // Never change meaning, never lose a comment: check both.
    let out_files = Files {
        files: vec![SourceFile::new(path.to_path_buf(), out.clone())],
    };
    let after = decode(&out, &out_files)
        .ok()
        .flatten()
        .map(|r| fingerprint(&r));
    let mut comments_out = comments_of(&out).unwrap_or_default();
    comments_in.sort();
    comments_out.sort();
    // A comment the scanner missed would vanish: no `#` may go missing.
    let hashes = |t: &str| t.matches('#').count();
    if hashes(&out) < hashes(text) {
        comments_out.push(String::new());
    }
    if after.as_ref() != Some(&before) || comments_in != comments_out {
        let what = if after.as_ref() != Some(&before) {
            "the formatted text would not read as the same spec"
        } else {
            "the formatted text would not keep every comment"
        };
        let d = Diagnostic::error(
            "fmtInternal",
            format!("cannot format `{}`: {what}", path.display()),
        )
        .with_hint("the file was left as it is; this is a bug in orgform fmt, please report it");
        return Err(Diagnostics::from_sorted(vec![d]));
    }
    Ok(out)
}

/// The records a text decodes to, or the shape errors; `None` for a file
/// without a document.
fn decode(text: &str, files: &Files) -> Result<Option<Records>, Diagnostics> {
    let mut positions = Positions::default();
    let mut diags = Vec::new();
    let doc = yaml::decode(text, 0, files, &mut positions, &mut diags);
    diags.retain(|d| d.severity.is_error());
    if doc.incomplete {
        return Err(Diagnostics::from_sorted(crate::load::syntax_first(diags)));
    }
    if !diags.is_empty() {
        return Err(Diagnostics::from_sorted(diags));
    }
    if doc.empty {
        return Ok(None);
    }
    Ok(Some(Records {
        version: doc.version,
        target: doc.target,
        settings: doc.settings,
        attributes: doc.attributes,
        external_groups: doc.external_groups,
        safety: doc.safety,
        groups: doc.groups,
        users: doc.users,
    }))
}

/// Everything a file says, for the before/after comparison.
#[derive(Debug, PartialEq, serde::Serialize)]
struct Records {
    version: Option<u32>,
    target: Option<orgform_model::Target>,
    settings: Option<orgform_model::Settings>,
    attributes: Option<std::collections::BTreeMap<String, orgform_model::AttributeDef>>,
    external_groups: Option<std::collections::BTreeSet<String>>,
    safety: Option<orgform_model::Safety>,
    groups: Option<Vec<orgform_model::DesiredGroup>>,
    users: Option<Vec<orgform_model::DesiredUser>>,
}

/// SHA-256 of the records' JSON: equal exactly when the records are
/// (every field is written, omitted ones as absent).
fn fingerprint(records: &Records) -> [u8; 32] {
    struct Hasher(Sha256);
    impl std::io::Write for Hasher {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut h = Hasher(Sha256::new());
    // Serializing plain data into a sink that cannot fail does not fail;
    // if it ever did, the fingerprints would differ and fmt would refuse.
    if serde_json::to_writer(&mut h, records).is_err() {
        return [0; 32];
    }
    h.0.finalize().into()
}

/// The comments of a text, without building its tree.
fn comments_of(text: &str) -> Option<Vec<String>> {
    let mut parser = Parser::new_from_str(text);
    let mut scalars = Vec::new();
    while let Some(next) = parser.next_event() {
        let (ev, span) = next.ok()?;
        if let Event::Scalar(_, style, ..) = ev {
            scalars.push((span.start.index(), span.end.index(), Style::of(style)));
        }
    }
    Some(comment_texts(&scan(text, &scalars).0))
}

fn comment_texts(comments: &[Comment]) -> Vec<String> {
    comments.iter().map(|c| c.text.clone()).collect()
}

// ------------------------------------------------------------------ tree

#[derive(Debug)]
struct Scalar {
    value: String,
    style: ScalarStyle,
    tag: Option<Tag>,
}

#[derive(Debug)]
enum Node {
    Scalar(Scalar),
    Seq(Vec<Item>),
    Map(Vec<Entry>),
}

#[derive(Debug)]
struct Entry {
    key: String,
    value: Node,
    meta: usize,
}

#[derive(Debug)]
struct Item {
    node: Node,
    meta: usize,
}

/// Where a key or list item starts (16 bytes: a 100k-user spec has
/// millions).
#[derive(Debug, Default)]
struct Meta {
    /// Character index of its first character.
    start: usize,
    /// Written in block style (not inside `[...]`/`{...}`).
    block: bool,
    /// The source line above it is blank.
    blank_before: bool,
}

/// The comments a key or list item carries (indexes into the comments).
#[derive(Debug, Default)]
struct Notes {
    /// Own-line comments written above it.
    leading: Vec<usize>,
    /// The comment at the end of its first line.
    trailing: Option<usize>,
}

impl Notes {
    /// A comment for the end of the line, or above it when that is taken.
    fn push_end_of_line(&mut self, comment: usize) {
        if self.trailing.is_some() {
            self.leading.push(comment);
        } else {
            self.trailing = Some(comment);
        }
    }
}

#[derive(Debug, Clone)]
struct Comment {
    /// From `#` to the end of the line, trailing blanks removed.
    text: String,
    /// Character index of the `#`.
    start: usize,
    /// Nothing but blanks before it on its line.
    own_line: bool,
    /// The source line above it is blank.
    blank_before: bool,
}

#[derive(Debug)]
struct Tree {
    root: Node,
    metas: Vec<Meta>,
    /// Comments by meta; only the few keys and items that have some.
    notes: HashMap<usize, Notes>,
    comments: Vec<Comment>,
    header: Vec<usize>,
    footer: Vec<usize>,
}

/// A `[...]`/`{...}` written inside block style: its character range and
/// the block key or item that holds it.
#[derive(Debug)]
struct Flow {
    start: usize,
    end: usize,
    owner: Option<usize>,
}

struct Builder<'a> {
    parser: Parser<'a, StrInput<'a>>,
    files: &'a Files,
    metas: Vec<Meta>,
    /// Character ranges of every scalar (keys included), in order, and
    /// their style.
    scalars: Vec<(usize, usize, Style)>,
    flows: Vec<Flow>,
    owner: Option<usize>,
}

impl<'a> Builder<'a> {
    fn build(text: &'a str, files: &'a Files) -> Result<Option<Tree>, Diagnostics> {
        let mut b = Builder {
            parser: Parser::new_from_str(text),
            files,
            metas: Vec::new(),
            scalars: Vec::new(),
            flows: Vec::new(),
            owner: None,
        };
        let root = b
            .document()
            .map_err(|d| Diagnostics::from_sorted(vec![*d]))?;
        let Some(root) = root else {
            return Ok(None);
        };
        let (comments, blank_lines) = scan(text, &b.scalars);
        let mut tree = Tree {
            root,
            metas: b.metas,
            notes: HashMap::new(),
            comments,
            header: Vec::new(),
            footer: Vec::new(),
        };
        let line_of = line_index(text);
        for m in &mut tree.metas {
            let line = line_of(m.start);
            m.blank_before = line > 1 && blank_lines.contains(&(line - 1));
        }
        for c in &mut tree.comments {
            let line = line_of(c.start);
            c.blank_before = line > 1 && blank_lines.contains(&(line - 1));
        }
        attach(&mut tree, &b.flows)
            .map_err(|d| Diagnostics::from_sorted(vec![files.at(d.0, d.1)]))?;
        Ok(Some(tree))
    }

    fn pos(&self, span: &Span) -> Pos {
        let (s, e) = (span.start, span.end);
        Pos {
            file: 0,
            line: u32::try_from(s.line()).unwrap_or(u32::MAX),
            col: u32::try_from(s.col() + 1).unwrap_or(u32::MAX),
            len: u32::try_from(e.index().saturating_sub(s.index()).max(1)).unwrap_or(1),
        }
    }

    fn next(&mut self) -> Result<(Event<'a>, Span), Box<Diagnostic>> {
        match self.parser.next_event() {
            Some(Ok(x)) => Ok(x),
            Some(Err(e)) => Err(Box::new(Diagnostic::error(
                "yamlSyntax",
                format!("YAML syntax error: {}", e.info()),
            ))),
            None => Ok((Event::StreamEnd, Span::default())),
        }
    }

    fn alias(&self, span: &Span) -> Box<Diagnostic> {
        let d = Diagnostic::error(
            "fmtAlias",
            "orgform fmt does not rewrite YAML anchors and aliases (`&name`, `*name`)",
        )
        .with_hint(
            "write the values out where the alias is used; a rewrite would have to expand them",
        );
        Box::new(self.files.at(d, self.pos(span)))
    }

    fn document(&mut self) -> Result<Option<Node>, Box<Diagnostic>> {
        loop {
            let (ev, span) = self.next()?;
            match ev {
                Event::StreamStart | Event::DocumentStart(_) | Event::Nothing => {}
                Event::StreamEnd | Event::DocumentEnd => return Ok(None),
                _ => return self.node(ev, span, false).map(Some),
            }
        }
    }

    fn new_meta(&mut self, start: usize, block: bool) -> usize {
        self.metas.push(Meta {
            start,
            block,
            ..Meta::default()
        });
        self.metas.len() - 1
    }

    fn node(&mut self, ev: Event<'a>, span: Span, in_flow: bool) -> Result<Node, Box<Diagnostic>> {
        match ev {
            Event::Scalar(value, style, anchor, tag) => {
                if anchor != 0 {
                    return Err(self.alias(&span));
                }
                self.scalars
                    .push((span.start.index(), span.end.index(), Style::of(style)));
                Ok(Node::Scalar(Scalar {
                    value: value.into_owned(),
                    style,
                    tag: tag.map(|t| t.into_owned()),
                }))
            }
            Event::Alias(_) => Err(self.alias(&span)),
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if anchor != 0 {
                    return Err(self.alias(&span));
                }
                let is_map = matches!(ev, Event::MappingStart(..));
                let flow = span.end.index() > span.start.index();
                let inner_flow = in_flow || flow;
                let start = span.start.index();
                let mut items = Vec::new();
                let mut entries = Vec::new();
                let end = loop {
                    let (ev, span) = self.next()?;
                    match ev {
                        Event::SequenceEnd | Event::MappingEnd => break span.start.index() + 1,
                        Event::StreamEnd => {
                            return Err(Box::new(Diagnostic::error(
                                "fmtInternal",
                                "the YAML ended inside a collection",
                            )));
                        }
                        _ => {}
                    }
                    let meta = self.new_meta(span.start.index(), !inner_flow);
                    let saved = self.owner;
                    if !inner_flow {
                        self.owner = Some(meta);
                    }
                    if is_map {
                        let key = match ev {
                            Event::Scalar(k, style, ..) => {
                                self.scalars.push((
                                    span.start.index(),
                                    span.end.index(),
                                    Style::of(style),
                                ));
                                k.into_owned()
                            }
                            _ => {
                                return Err(Box::new(Diagnostic::error(
                                    "fmtInternal",
                                    "a key is not a plain name",
                                )));
                            }
                        };
                        let (vev, vspan) = self.next()?;
                        let value = self.node(vev, vspan, inner_flow)?;
                        entries.push(Entry { key, value, meta });
                    } else {
                        let node = self.node(ev, span, inner_flow)?;
                        items.push(Item { node, meta });
                    }
                    self.owner = saved;
                };
                if flow && !in_flow {
                    self.flows.push(Flow {
                        start,
                        end,
                        owner: self.owner,
                    });
                }
                Ok(if is_map {
                    Node::Map(entries)
                } else {
                    Node::Seq(items)
                })
            }
            Event::SequenceEnd
            | Event::MappingEnd
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd
            | Event::Nothing => Err(Box::new(Diagnostic::error(
                "fmtInternal",
                "unexpected YAML structure",
            ))),
        }
    }
}

/// A function from a character index to its 1-based line.
fn line_index(text: &str) -> impl Fn(usize) -> usize {
    let mut starts = vec![0usize];
    for (i, c) in text.chars().enumerate() {
        if c == '\n' {
            starts.push(i + 1);
        }
    }
    move |idx| starts.partition_point(|s| *s <= idx)
}

/// How a scalar is written, for finding where it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Style {
    Plain,
    Quoted,
    Block,
    /// Its end was measured from the text.
    Measured,
}

impl Style {
    fn of(style: ScalarStyle) -> Style {
        match style {
            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => Style::Quoted,
            ScalarStyle::Literal | ScalarStyle::Folded => Style::Block,
            _ => Style::Plain,
        }
    }
}

/// Finds the comments outside the scalars, and the blank lines (1-based).
///
/// The parser's span of a quoted scalar can run past its closing quote
/// (over the blanks and a comment after it), and a block scalar's span over
/// the less indented comment lines after it, so their ends are measured
/// here from the text.
fn scan(text: &str, scalars: &[(usize, usize, Style)]) -> (Vec<Comment>, HashSet<usize>) {
    let mut spans = scalars.to_vec();
    spans.sort_unstable();
    let mut comments = Vec::new();
    let mut blank = HashSet::new();
    let mut k = 0;
    let mut line = 1usize;
    let mut line_start = 0usize;
    let mut content = false;
    let mut prev_blank = true;
    let mut chars = text.char_indices().enumerate().peekable();
    while let Some((i, (b, c))) = chars.next() {
        while k < spans.len() && spans[k].1 <= i {
            k += 1;
        }
        if k < spans.len() && spans[k].0 == i {
            match spans[k].2 {
                Style::Quoted => spans[k].1 = i + quoted_len(&text[b..]),
                Style::Block => spans[k].1 = i + block_len(&text[b..], i - line_start),
                Style::Plain | Style::Measured => {}
            }
            spans[k].2 = Style::Measured;
        }
        let inside = k < spans.len() && spans[k].0 <= i;
        if c == '\n' {
            if !content && !inside {
                blank.insert(line);
            }
            line += 1;
            line_start = i + 1;
            content = false;
            prev_blank = true;
            continue;
        }
        if inside {
            content = true;
            prev_blank = false;
            continue;
        }
        if c == '#' && prev_blank {
            let end = text[b..].find('\n').map_or(text.len(), |n| b + n);
            let body = text[b..end].trim_end();
            comments.push(Comment {
                text: body.to_owned(),
                start: i,
                own_line: !content,
                blank_before: false,
            });
            // Skip the rest of the line (the newline itself is handled above).
            while chars.peek().is_some_and(|(_, (_, c))| *c != '\n') {
                chars.next();
            }
            content = true;
            continue;
        }
        if c == ' ' || c == '\t' || c == '\r' {
            prev_blank = true;
        } else {
            prev_blank = false;
            content = true;
        }
    }
    (comments, blank)
}

/// The length in characters of the block scalar content `rest` starts
/// with (its first line is indented `indent` characters): every following
/// line indented at least as much, or blank, up to the last such non-blank
/// line.
fn block_len(rest: &str, indent: usize) -> usize {
    let mut lines = rest.split('\n');
    let mut n = lines.next().map_or(0, |l| l.chars().count());
    let mut end = n;
    for l in lines {
        n += 1 + l.chars().count();
        let body = l.trim_end_matches(['\r', ' ', '\t']);
        if body.is_empty() {
            continue;
        }
        if body.chars().take_while(|c| *c == ' ').count() >= indent {
            end = n;
        } else {
            break;
        }
    }
    end
}

/// The length in characters of the quoted scalar `rest` starts with,
/// quotes included (to the end of the text when it is not closed).
fn quoted_len(rest: &str) -> usize {
    let mut chars = rest.chars();
    let Some(quote) = chars.next() else {
        return 0;
    };
    let mut n = 1;
    let mut escaped = false;
    let mut chars = chars.peekable();
    while let Some(c) = chars.next() {
        n += 1;
        if quote == '"' {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                return n;
            }
        } else if c == '\'' {
            if chars.peek() == Some(&'\'') {
                chars.next();
                n += 1;
            } else {
                return n;
            }
        }
    }
    n
}

/// Gives every comment its place (see the module docs).
fn attach(tree: &mut Tree, flows: &[Flow]) -> Result<(), Box<(Diagnostic, Pos)>> {
    let first = tree.metas.iter().position(|m| m.block);
    let first_key = first.map(|m| tree.metas[m].start);
    // The comments above the first key are the file's header, except a
    // block glued to that key below a blank line: that one is about the key.
    let above: Vec<usize> = (0..tree.comments.len())
        .filter(|&ci| first_key.is_none_or(|s| tree.comments[ci].start < s))
        .collect();
    let glued_from = match first {
        Some(m) if !tree.metas[m].blank_before => above
            .iter()
            .rposition(|&ci| tree.comments[ci].blank_before)
            .filter(|&k| k > 0)
            .unwrap_or(above.len()),
        _ => above.len(),
    };
    for (k, &ci) in above.iter().enumerate() {
        match first {
            Some(m) if k >= glued_from => tree.notes.entry(m).or_default().leading.push(ci),
            _ => tree.header.push(ci),
        }
    }
    for (ci, c) in tree.comments.iter().enumerate() {
        if first_key.is_none_or(|s| c.start < s) {
            continue;
        }
        // Flows and metas are in source order: binary searches keep this
        // linear-logarithmic on a 100k-user spec.
        let last_flow = flows.partition_point(|f| f.start <= c.start);
        if let Some(f) = last_flow
            .checked_sub(1)
            .map(|n| &flows[n])
            .filter(|f| c.start < f.end)
        {
            match f.owner {
                Some(owner) => {
                    let notes = tree.notes.entry(owner).or_default();
                    if c.own_line {
                        notes.leading.push(ci);
                    } else {
                        notes.push_end_of_line(ci);
                    }
                    continue;
                }
                None => {
                    let d = Diagnostic::error(
                        "fmtComment",
                        "orgform fmt cannot keep a comment inside a top-level `{...}` or `[...]`",
                    )
                    .with_hint(
                        "move the comment above the first key, or write the spec in block style",
                    );
                    let pos = Pos {
                        file: 0,
                        line: 1,
                        col: 1,
                        len: 1,
                    };
                    return Err(Box::new((d, pos)));
                }
            }
        }
        let split = tree.metas.partition_point(|m| m.start <= c.start);
        if c.own_line {
            let below = tree.metas[split..].iter().position(|m| m.block);
            match below.map(|n| split + n) {
                Some(m) => tree.notes.entry(m).or_default().leading.push(ci),
                None => tree.footer.push(ci),
            }
        } else {
            match tree.metas[..split].iter().rposition(|m| m.block) {
                Some(m) => tree.notes.entry(m).or_default().push_end_of_line(ci),
                None => tree.header.push(ci),
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- output

/// What a mapping or list holds, for key order and layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Top,
    Target,
    Settings,
    Safety,
    Attributes,
    AttributeDef,
    Groups,
    Group,
    Users,
    User,
    Access,
    Other,
}

impl Ctx {
    /// The context of the value under `key`.
    fn child(self, key: &str) -> Ctx {
        match (self, key) {
            (Ctx::Top, "target") => Ctx::Target,
            (Ctx::Top, "settings") => Ctx::Settings,
            (Ctx::Top, "safety") => Ctx::Safety,
            (Ctx::Top, "attributes") => Ctx::Attributes,
            (Ctx::Top, "groups") => Ctx::Groups,
            (Ctx::Top, "users") => Ctx::Users,
            (Ctx::Attributes, _) => Ctx::AttributeDef,
            (Ctx::User, "accessInfo") => Ctx::Access,
            _ => Ctx::Other,
        }
    }

    /// The context of an item of a list in this context.
    fn item(self) -> Ctx {
        match self {
            Ctx::Groups => Ctx::Group,
            Ctx::Users => Ctx::User,
            _ => Ctx::Other,
        }
    }

    /// The canonical key order; `None` keeps the author's order.
    fn order(self) -> Option<&'static [&'static str]> {
        match self {
            Ctx::Top => Some(TOP_KEYS),
            Ctx::Target => Some(TARGET_KEYS),
            Ctx::Settings => Some(SETTINGS_KEYS),
            Ctx::Safety => Some(SAFETY_KEYS),
            Ctx::AttributeDef => Some(ATTRIBUTE_KEYS),
            Ctx::Group => Some(GROUP_KEYS),
            Ctx::User => Some(USER_KEYS),
            Ctx::Access => Some(ACCESS_KEYS),
            Ctx::Attributes | Ctx::Groups | Ctx::Users | Ctx::Other => None,
        }
    }
}

struct Emitter<'t> {
    tree: &'t Tree,
    out: String,
    /// Nothing emitted yet in the current collection (no blank line first).
    fresh: bool,
}

impl<'t> Emitter<'t> {
    fn new(tree: &'t Tree) -> Self {
        Emitter {
            tree,
            out: String::new(),
            fresh: true,
        }
    }

    fn emit(mut self) -> String {
        for &c in &self.tree.header {
            self.comment_line(c, 0);
        }
        match &self.tree.root {
            Node::Map(entries) if !entries.is_empty() => {
                self.block_map(entries, Ctx::Top, 0, None, None);
            }
            other => {
                let text = self.flow(other, Ctx::Top);
                self.out.push_str(&text);
                self.out.push('\n');
            }
        }
        self.fresh = false;
        for &c in &self.tree.footer {
            self.comment_line(c, 0);
        }
        self.out
    }

    fn line(&mut self, blank_before: bool, text: &str) {
        if blank_before && !self.fresh && !self.out.is_empty() {
            self.out.push('\n');
        }
        self.out.push_str(text);
        self.out.push('\n');
        self.fresh = false;
    }

    fn comment_line(&mut self, c: usize, indent: usize) {
        let comment = &self.tree.comments[c];
        let text = format!("{}{}", spaces(indent), comment.text);
        self.line(comment.blank_before, &text);
    }

    fn leading(&mut self, meta: usize, indent: usize) {
        let tree = self.tree;
        if let Some(notes) = tree.notes.get(&meta) {
            for &c in &notes.leading {
                self.comment_line(c, indent);
            }
        }
    }

    fn trailing_of(&self, meta: usize) -> Option<usize> {
        self.tree.notes.get(&meta).and_then(|n| n.trailing)
    }

    fn trailing(&self, meta: usize) -> String {
        match self.trailing_of(meta) {
            Some(c) => format!(" {}", self.tree.comments[c].text),
            None => String::new(),
        }
    }

    fn sorted<'e>(&self, entries: &'e [Entry], ctx: Ctx) -> Vec<&'e Entry> {
        let mut v: Vec<&Entry> = entries.iter().collect();
        if let Some(order) = ctx.order() {
            v.sort_by_key(|e| {
                order
                    .iter()
                    .position(|k| *k == e.key)
                    .unwrap_or(order.len())
            });
        }
        v
    }

    /// A block mapping at `indent`. `dash` is the prefix of the first
    /// line for a list item (`"  - "`), whose comments the caller wrote;
    /// `extra` is the item's own end-of-line comment.
    fn block_map(
        &mut self,
        entries: &[Entry],
        ctx: Ctx,
        indent: usize,
        dash: Option<String>,
        extra: Option<usize>,
    ) {
        let mut dash = dash;
        for (n, e) in self.sorted(entries, ctx).into_iter().enumerate() {
            // A list item's first line: the caller wrote its comments and
            // its blank line.
            let (prefix, blank) = match dash.take() {
                Some(d) => (d, false),
                None => {
                    self.leading(e.meta, indent);
                    (spaces(indent), self.tree.metas[e.meta].blank_before)
                }
            };
            let mut trailing = self.trailing(e.meta);
            if n == 0
                && let Some(c) = extra
            {
                trailing = format!(" {}", self.tree.comments[c].text);
            }
            let key = render_key(&e.key);
            let child = ctx.child(&e.key);
            match self.inline(&e.value, child) {
                Some(v) => self.line(blank, &format!("{prefix}{key}: {v}{trailing}")),
                None => {
                    self.line(blank, &format!("{prefix}{key}:{trailing}"));
                    self.fresh = true;
                    self.block(&e.value, child, indent + 2);
                    self.fresh = false;
                }
            }
        }
    }

    fn block(&mut self, node: &Node, ctx: Ctx, indent: usize) {
        match node {
            Node::Map(entries) => self.block_map(entries, ctx, indent, None, None),
            Node::Seq(items) => self.block_seq(items, ctx, indent),
            Node::Scalar(_) => {
                let text = format!("{}{}", spaces(indent), self.flow(node, ctx));
                self.line(false, &text);
            }
        }
    }

    fn block_seq(&mut self, items: &[Item], ctx: Ctx, indent: usize) {
        let item_ctx = ctx.item();
        for item in items {
            let meta = &self.tree.metas[item.meta];
            let blank = meta.blank_before;
            match &item.node {
                Node::Map(entries) if !entries.is_empty() => {
                    self.leading(item.meta, indent);
                    // The first key's comments go above the dash too, and
                    // the item's end-of-line comment to the first line,
                    // unless that key has its own.
                    let sorted = self.sorted(entries, item_ctx);
                    let first = sorted.first().map(|e| e.meta);
                    let mut extra = self.trailing_of(item.meta);
                    if let Some(f) = first {
                        self.leading(f, indent);
                        if self.trailing_of(f).is_some()
                            && let Some(c) = extra.take()
                        {
                            self.comment_line(c, indent);
                        }
                    }
                    if blank && !self.fresh {
                        self.out.push('\n');
                    }
                    let dash = format!("{}- ", spaces(indent));
                    self.block_map(entries, item_ctx, indent + 2, Some(dash), extra);
                }
                node => {
                    self.leading(item.meta, indent);
                    let trailing = self.trailing(item.meta);
                    match self.inline(node, item_ctx) {
                        Some(v) => {
                            let text = format!("{}- {v}{trailing}", spaces(indent));
                            self.line(blank, &text);
                        }
                        None => {
                            // A list in a list: not a spec shape; keep it in flow style.
                            let v = self.flow(node, item_ctx);
                            let text = format!("{}- {v}{trailing}", spaces(indent));
                            self.line(blank, &text);
                        }
                    }
                }
            }
        }
    }

    /// The one-line form of a value, when it has one: scalars, empty
    /// collections, lists of strings and attribute definitions without
    /// comments inside.
    fn inline(&self, node: &Node, ctx: Ctx) -> Option<String> {
        match node {
            Node::Scalar(s) => Some(render_scalar(s, false)),
            Node::Seq(items) if items.is_empty() => Some("[]".to_owned()),
            Node::Map(entries) if entries.is_empty() => Some("{}".to_owned()),
            Node::Seq(items)
                if items
                    .iter()
                    .all(|i| matches!(i.node, Node::Scalar(_)) && !self.has_comments(i.meta)) =>
            {
                Some(self.flow(node, ctx))
            }
            Node::Map(_) if ctx == Ctx::AttributeDef && !self.any_comments(node) => {
                Some(self.flow(node, ctx))
            }
            _ => None,
        }
    }

    fn has_comments(&self, meta: usize) -> bool {
        self.tree
            .notes
            .get(&meta)
            .is_some_and(|n| !n.leading.is_empty() || n.trailing.is_some())
    }

    fn any_comments(&self, node: &Node) -> bool {
        match node {
            Node::Scalar(_) => false,
            Node::Seq(items) => items
                .iter()
                .any(|i| self.has_comments(i.meta) || self.any_comments(&i.node)),
            Node::Map(entries) => entries
                .iter()
                .any(|e| self.has_comments(e.meta) || self.any_comments(&e.value)),
        }
    }

    /// Flow style on one line.
    fn flow(&self, node: &Node, ctx: Ctx) -> String {
        match node {
            Node::Scalar(s) => render_scalar(s, true),
            Node::Seq(items) => {
                let inner: Vec<String> = items
                    .iter()
                    .map(|i| self.flow(&i.node, ctx.item()))
                    .collect();
                format!("[{}]", inner.join(", "))
            }
            Node::Map(entries) => {
                let inner: Vec<String> = self
                    .sorted(entries, ctx)
                    .into_iter()
                    .map(|e| {
                        format!(
                            "{}: {}",
                            render_key_flow(&e.key),
                            self.flow(&e.value, ctx.child(&e.key))
                        )
                    })
                    .collect();
                format!("{{{}}}", inner.join(", "))
            }
        }
    }
}

fn spaces(n: usize) -> String {
    " ".repeat(n)
}

fn render_key(key: &str) -> String {
    render_string(key, false)
}

fn render_key_flow(key: &str) -> String {
    render_string(key, true)
}

/// A scalar as the decoder reads it, in canonical spelling.
fn render_scalar(s: &Scalar, flow: bool) -> String {
    match classify(&s.value, s.style, s.tag.as_ref()) {
        Class::Str => render_string(&s.value, flow),
        Class::Null => "null".to_owned(),
        Class::Bool(b) => b.to_string(),
        Class::Int => match s.value.parse::<i64>() {
            Ok(n) => n.to_string(),
            Err(_) => s.value.clone(),
        },
        Class::Float => s.value.clone(),
    }
}

/// A string: plain when every YAML reader reads it back as this string,
/// double-quoted otherwise.
fn render_string(s: &str, flow: bool) -> String {
    yaml_scalar(s, flow).into_owned()
}

/// A string value or key as `orgform fmt` writes it, the one scalar
/// writer for every generator of spec text (`orgform import`,
/// orgform-gen): plain when YAML 1.2 and YAML 1.1 readers both read it
/// back as this very string (never a number, boolean, null or date), else
/// double-quoted with escapes. `flow` is for a scalar inside `[...]` or
/// `{...}`, where `,`, `:` and brackets need quotes too. Text written
/// with it is what `orgform fmt` would write, so `fmt --check` passes.
///
/// ```
/// use orgform_spec::yaml_scalar;
/// assert_eq!(yaml_scalar("Sales, EMEA", false), "Sales, EMEA");
/// assert_eq!(yaml_scalar("Sales, EMEA", true), "\"Sales, EMEA\"");
/// assert_eq!(yaml_scalar("007", false), "\"007\"");
/// assert_eq!(yaml_scalar("yes", false), "\"yes\"");
/// ```
pub fn yaml_scalar(s: &str, flow: bool) -> std::borrow::Cow<'_, str> {
    if plain_ok(s, flow) {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(double_quoted(s))
    }
}

/// Words YAML 1.1 readers take for booleans or null.
const YAML11_WORDS: &[&str] = &[
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~",
];

/// Whether `s` may be written plain: no YAML 1.1 or 1.2 reader takes it
/// for anything but this string. One pass over the characters after the
/// checks of its start (every generated file puts each value through here:
/// `orgform import` at 100k rows, about two million values).
fn plain_ok(s: &str, flow: bool) -> bool {
    let b = s.as_bytes();
    let Some(&first) = b.first() else {
        return false;
    };
    // Numbers, dates and times in any YAML version start like this.
    if first.is_ascii_digit()
        || (matches!(first, b'+' | b'-' | b'.')
            && b.get(1).is_none_or(|c| c.is_ascii_digit() || *c == b'.'))
    {
        return false;
    }
    if b"-?:,[]{}#&*!|>'\"%@`. ".contains(&first)
        || s.ends_with([' ', ':'])
        || (s.len() <= 5 && YAML11_WORDS.iter().any(|w| s.eq_ignore_ascii_case(w)))
        || s == "<<"
        || s == "="
    {
        return false;
    }
    let mut prev = '\0';
    for c in s.chars() {
        if c.is_control()
            || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}')
            || (prev == ':' && c == ' ')
            || (prev == ' ' && c == '#')
            || (flow && matches!(c, ',' | '[' | ']' | '{' | '}' | ':'))
        {
            return false;
        }
        prev = c;
    }
    classify(s, ScalarStyle::Plain, None) == Class::Str
}

fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if c.is_control() || c == '\u{feff}' => {
                out.push_str(&format!("\\u{:04X}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `plain_ok` as it was written first (checks in the order of the
    /// rules), the oracle of the one-pass version.
    fn plain_ok_reference(s: &str, flow: bool) -> bool {
        let Some(first) = s.chars().next() else {
            return false;
        };
        if classify(s, ScalarStyle::Plain, None) != Class::Str
            || YAML11_WORDS.contains(&s.to_ascii_lowercase().as_str())
            || s == "<<"
            || s == "="
        {
            return false;
        }
        let mut chars = s.chars();
        let second = {
            chars.next();
            chars.next()
        };
        if first.is_ascii_digit()
            || (matches!(first, '+' | '-' | '.')
                && second.is_none_or(|c| c.is_ascii_digit() || c == '.'))
        {
            return false;
        }
        if "-?:,[]{}#&*!|>'\"%@`. ".contains(first)
            || s.ends_with([' ', ':'])
            || s.contains(": ")
            || s.contains(" #")
            || s.contains('\t')
        {
            return false;
        }
        if flow && s.contains([',', '[', ']', '{', '}', ':']) {
            return false;
        }
        s.chars()
            .all(|c| !c.is_control() && !matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}'))
    }

    #[test]
    fn plain_ok_is_the_reference_rule() {
        let alphabet: Vec<char> = "aZ0 9+-.:#,[]{}<=~'\"\t\n\u{85}\u{feff}\u{2028}é_xeEnNoOyY"
            .chars()
            .collect();
        let mut words: Vec<String> = [
            "",
            "yes",
            "No",
            "ON",
            "off",
            "null",
            "Null",
            "~",
            "true",
            "FALSE",
            "y",
            "n",
            "<<",
            "=",
            "0o17",
            "0x1F",
            "1e3",
            ".5",
            "+.inf",
            "-.NaN",
            "2020-01-01",
            "12:30",
            "a: b",
            "a #b",
            "a#b",
            "a:b",
            "Sales, EMEA",
            "x ",
            "x:",
            "-x",
            "- x",
            "+46701234567",
            "Malmö, Skåne",
            "team:a: b",
            "[x]",
            "department:customer support",
            "Not-specified",
            "ab\u{202f}c",
        ]
        .iter()
        .map(|w| (*w).to_owned())
        .collect();
        for a in &alphabet {
            words.push(a.to_string());
            for b in &alphabet {
                words.push(format!("{a}{b}"));
                for c in &alphabet {
                    words.push(format!("{a}{b}{c}"));
                    words.push(format!("x{a}{b}{c}y"));
                }
            }
        }
        for w in &words {
            for flow in [false, true] {
                assert_eq!(
                    plain_ok(w, flow),
                    plain_ok_reference(w, flow),
                    "{w:?} flow={flow}"
                );
            }
        }
    }

    fn fmt(text: &str) -> String {
        match format_str(text, Path::new("t.yaml")) {
            Ok(t) => t,
            Err(d) => panic!("{}", d.render(false)),
        }
    }

    #[track_caller]
    fn check(input: &str, expect: &str) {
        let once = fmt(input);
        assert_eq!(once, expect, "formatted:\n{once}");
        assert_eq!(fmt(&once), once, "not idempotent");
    }

    #[test]
    fn orders_keys_and_lays_out_records() {
        check(
            "users:\n- {email: a@example.com, lastName: B, externalId: E1, firstName: A,\n   accessInfo: {role: User, memberOf: [G1]}}\ngroups: [{name: g, externalId: G1, parent: null}]\nversion: 1\n",
            "version: 1\ngroups:\n  - externalId: G1\n    name: g\n    parent: null\nusers:\n  - externalId: E1\n    firstName: A\n    lastName: B\n    email: a@example.com\n    accessInfo:\n      memberOf: [G1]\n      role: User\n",
        );
    }

    #[test]
    fn quotes_only_what_needs_quotes() {
        check(
            "version: 1\nexternalGroups: ['0000689', \"A\", 'Sales, EMEA', \"no\", '2024-01-31', '+46', x#y]\nattributes:\n  level: {required: true, values: [\"1\", B]}\n  city:\n    {}\n",
            "version: 1\nattributes:\n  level: {values: [\"1\", B], required: true}\n  city: {}\nexternalGroups: [\"0000689\", A, \"Sales, EMEA\", \"no\", \"2024-01-31\", \"+46\", x#y]\n",
        );
    }

    #[test]
    fn canonical_scalars() {
        check(
            "version: +1\nsettings: {maxUsersDeleted: 010, forceSetLanguage: True}\ngroups:\n  - externalId: !!str 12\n    name: |\n      two\n      lines\n    parent: ~\n",
            "version: 1\nsettings:\n  forceSetLanguage: true\n  maxUsersDeleted: 10\ngroups:\n  - externalId: \"12\"\n    name: \"two\\nlines\\n\"\n    parent: null\n",
        );
    }

    #[test]
    fn keeps_comments_with_their_keys() {
        check(
            "# header\n\n# about users\nusers: []   # none yet\n\n# the version\nversion: 1\nattributes:\n  # size\n  shoe: {}  # any\n  hair: [a,  # first\n    b]\n# footer\n",
            "# header\n\n# the version\nversion: 1\nattributes:\n  # size\n  shoe: {} # any\n  hair: [a, b] # first\n\n# about users\nusers: [] # none yet\n# footer\n",
        );
    }

    #[test]
    fn comments_in_records_move_with_their_keys() {
        check(
            "version: 1\ngroups:\n  # the root\n  - name: Root # display\n    # identity\n    externalId: R\n\n  - externalId: C   # child\n    parent: R\n    name: Child\n",
            "version: 1\ngroups:\n  # the root\n  # identity\n  - externalId: R\n    name: Root # display\n\n  - externalId: C # child\n    name: Child\n    parent: R\n",
        );
    }

    #[test]
    fn a_list_with_item_comments_stays_in_block_style() {
        check(
            "version: 1\nexternalGroups:\n  - A # manual\n  - B\n",
            "version: 1\nexternalGroups:\n  - A # manual\n  - B\n",
        );
    }

    #[test]
    fn comments_after_quoted_scalars_are_kept() {
        check(
            "version: 1\nexternalGroups: [\"A\"]  # c1\ngroups:\n  - externalId: \"q\\\"#\"  # c2\n    'name': 'It''s # x'   # c3\n    description: \"two\n      lines # y\"  # c4\n",
            "version: 1\nexternalGroups: [A] # c1\ngroups:\n  - externalId: q\"# # c2\n    name: \"It's # x\" # c3\n    description: \"two lines # y\" # c4\n",
        );
    }

    #[test]
    fn comments_after_block_scalars_are_kept() {
        check(
            "version: 1\ngroups:\n  - externalId: G1\n    name: >  # folded\n      folded\n\n      # still text\n    # before parent\n    parent: null\n    description: |\n      d\n# end\n",
            "version: 1\ngroups:\n  - externalId: G1\n    name: \"folded\\n# still text\\n\" # folded\n    description: \"d\\n\"\n    # before parent\n    parent: null\n# end\n",
        );
    }

    #[test]
    fn hashes_inside_strings_are_not_comments() {
        check(
            "version: 1\ngroups:\n  - externalId: \"A # 1\"\n    name: 'x #y'\n    description: |\n      # not a comment\n",
            "version: 1\ngroups:\n  - externalId: \"A # 1\"\n    name: \"x #y\"\n    description: \"# not a comment\\n\"\n",
        );
    }

    #[test]
    fn crlf_files_stay_crlf() {
        check("users: []\r\nversion: 1\r\n", "version: 1\r\nusers: []\r\n");
    }

    #[test]
    fn empty_and_comment_only_files_are_left_alone() {
        check("", "");
        check("# nothing yet\n", "# nothing yet\n");
    }

    #[test]
    fn refuses_shape_errors_and_aliases() {
        let err = |t: &str| {
            format_str(t, Path::new("t.yaml"))
                .err()
                .map(|d| d.iter().map(|d| d.code).collect::<Vec<_>>())
        };
        assert_eq!(
            err("version: 1\nusers: [{fistName: A}]\n")
                .as_deref()
                .map(|c| c.contains(&"unknownField")),
            Some(true)
        );
        assert_eq!(
            err("version: 1\nexternalGroups: &g [A]\n"),
            Some(vec!["fmtAlias"])
        );
        assert!(err("version: [\n").is_some_and(|c| c.contains(&"yamlSyntax")));
    }

    #[test]
    fn plain_strings_read_back_as_themselves() {
        for s in [
            "E001084",
            "Sales Department",
            "john.doe@example.com",
            "Europe/Stockholm",
            "OFF-STO",
            "x#y",
            "Ünïcödé",
        ] {
            assert!(plain_ok(s, true), "{s}");
        }
        assert!(plain_ok(
            "https://org.api.andfrankly.com/v1/organization",
            false
        ));
        for s in [
            "",
            " a",
            "a ",
            "0000897",
            "+461234567",
            "-1",
            ".5",
            "1e3",
            "no",
            "Yes",
            "ON",
            "null",
            "~",
            "true",
            "a: b",
            "a #b",
            "- a",
            "? a",
            "&a",
            "*a",
            "!a",
            "|",
            ">",
            "'a",
            "\"a",
            "%a",
            "@a",
            "`a",
            "[a",
            "{a",
            "a:",
            "tab\there",
            "line\nbreak",
            "...",
            "<<",
        ] {
            assert!(!plain_ok(s, false), "{s:?}");
        }
        assert!(plain_ok("a:b", false) && !plain_ok("a:b", true));
        assert!(plain_ok("Sales, EMEA", false));
        assert!(!plain_ok("Sales, EMEA", true));
    }
}
