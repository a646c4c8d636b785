//! The event reader under the YAML decoder: pulls `saphyr-parser` events
//! with their positions, replays aliases from recorded events (never
//! copied into a tree), and enforces the depth and alias budgets. A syntax
//! error comes out as one [`Fatal`], placed on the line at fault where the
//! parser's position is known to lag (a tab at the start of a line, a key
//! without `: `, an unclosed flow collection), never past the last line,
//! and explained in words.

use std::collections::HashMap;
use std::rc::Rc;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, StrInput, Tag};

use crate::source::Pos;

/// The deepest nesting a spec may have (a real one needs 5).
pub(crate) const MAX_DEPTH: usize = 64;
/// Alias expansion may replay at most this many events, plus ten per event
/// parsed: a linear budget that any exponential alias bomb exceeds at once.
const REPLAY_BASE: usize = 1_000_000;
/// Alias expansion may also replay at most this many bytes of scalar text,
/// plus ten per byte of the file: counting events alone lets one anchored
/// megabyte, aliased a thousand times, take gigabytes.
const REPLAY_BYTES_BASE: usize = 16 * 1024 * 1024;

/// The kind of one event.
#[derive(Debug, Clone)]
pub(crate) enum K {
    Scalar(String, ScalarStyle, Option<Tag>),
    SeqStart,
    SeqEnd,
    MapStart,
    MapEnd,
    DocStart,
    DocEnd,
    StreamStart,
    StreamEnd,
}

/// One event and where it was written.
#[derive(Debug, Clone)]
pub(crate) struct Ev {
    pub kind: K,
    pub pos: Pos,
}

/// A problem after which nothing more of the file can be read.
pub(crate) struct Fatal {
    pub code: &'static str,
    pub message: String,
    pub hint: String,
    pub pos: Pos,
}

struct Recording {
    id: usize,
    depth: usize,
    events: Vec<Ev>,
}

/// Pulls events from the parser, replays aliases, and enforces the depth
/// and alias budgets.
pub(crate) struct Reader<'a> {
    text: &'a str,
    parser: Parser<'a, StrInput<'a>>,
    file: u32,
    /// An event looked at and left to be read again.
    pub peeked: Option<Ev>,
    anchors: HashMap<usize, Rc<Vec<Ev>>>,
    recording: Vec<Recording>,
    replay: Vec<(Rc<Vec<Ev>>, usize)>,
    parsed: usize,
    replayed: usize,
    /// Bytes of scalar text replayed, against `REPLAY_BYTES_BASE + 10 * text_len`.
    replayed_bytes: usize,
    text_len: usize,
    depth: usize,
    last: Pos,
    /// Added to the line of every event: a piece of a file parsed on its
    /// own (see `split.rs`) starts at this line of the file. A syntax
    /// error's position is not moved: a piece with any problem is thrown
    /// away and the whole file decoded again, so it is never shown.
    line_base: u32,
    /// An anchor or an alias was read: a piece of a file cannot be read on
    /// its own then (an alias may name an anchor in another piece, and the
    /// budgets are per file).
    pub anchors_seen: bool,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(text: &'a str, file: u32) -> Self {
        Self::piece(text, file, 0, 0)
    }

    /// A reader of `text` that sits at line `line_base + 1` of file `file`,
    /// nested `depth` levels deep there (for the depth budget).
    pub(crate) fn piece(text: &'a str, file: u32, line_base: u32, depth: usize) -> Self {
        Reader {
            text,
            parser: Parser::new_from_str(text),
            file,
            peeked: None,
            anchors: HashMap::new(),
            recording: Vec::new(),
            replay: Vec::new(),
            parsed: 0,
            replayed: 0,
            replayed_bytes: 0,
            text_len: text.len(),
            depth,
            line_base,
            anchors_seen: false,
            last: Pos {
                file,
                line: line_base.saturating_add(1),
                col: 1,
                len: 1,
            },
        }
    }

    fn pos(&self, span: &Span) -> Pos {
        let (s, e) = (span.start, span.end);
        let len = if e.line() == s.line() {
            e.col().saturating_sub(s.col())
        } else {
            0
        };
        Pos {
            file: self.file,
            line: u32::try_from(s.line())
                .unwrap_or(u32::MAX)
                .saturating_add(self.line_base),
            col: u32::try_from(s.col() + 1).unwrap_or(u32::MAX),
            len: u32::try_from(len).unwrap_or(u32::MAX),
        }
    }

    fn fatal(&self, code: &'static str, message: String, hint: &str, pos: Pos) -> Fatal {
        Fatal {
            code,
            message,
            hint: hint.to_owned(),
            pos,
        }
    }

    fn track_depth(&mut self, ev: &Ev) -> Result<(), Fatal> {
        match ev.kind {
            K::SeqStart | K::MapStart => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(self.fatal(
                        "tooDeep",
                        format!("the YAML nests deeper than {MAX_DEPTH} levels"),
                        "a spec needs about 5 levels; this file is not an orgform spec, or is broken",
                        ev.pos,
                    ));
                }
            }
            K::SeqEnd | K::MapEnd => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
        Ok(())
    }

    /// The next event (aliases replayed), or what stopped the reading.
    pub(crate) fn next(&mut self) -> Result<Ev, Fatal> {
        if let Some(ev) = self.peeked.take() {
            return Ok(ev);
        }
        loop {
            // Replaying an alias?
            if let Some((events, idx)) = self.replay.last_mut() {
                match events.get(*idx).cloned() {
                    Some(ev) => {
                        *idx += 1;
                        self.replayed += 1;
                        if self.replayed > REPLAY_BASE + 10 * self.parsed {
                            return Err(self.fatal(
                                "aliasBudget",
                                format!(
                                    "aliases expand to more than {} YAML events",
                                    REPLAY_BASE + 10 * self.parsed
                                ),
                                "this looks like an alias bomb (aliases of aliases); write the values out",
                                ev.pos,
                            ));
                        }
                        if let K::Scalar(ref v, _, _) = ev.kind {
                            self.replayed_bytes = self.replayed_bytes.saturating_add(v.len());
                            let budget =
                                REPLAY_BYTES_BASE.saturating_add(self.text_len.saturating_mul(10));
                            if self.replayed_bytes > budget {
                                return Err(self.fatal(
                                    "aliasBudget",
                                    format!("aliases expand to more than {budget} bytes of text"),
                                    "an anchored value is repeated through aliases far more than a \
                                     spec needs; write the values out",
                                    ev.pos,
                                ));
                            }
                        }
                        if let K::Scalar(ref v, _, _) = ev.kind
                            && let Some(id) = v.strip_prefix('\0').and_then(|s| s.parse().ok())
                        {
                            // A nested alias inside a recorded node.
                            self.push_alias(id, ev.pos)?;
                            continue;
                        }
                        self.track_depth(&ev)?;
                        return Ok(ev);
                    }
                    None => {
                        self.replay.pop();
                        continue;
                    }
                }
            }
            let Some(next) = self.parser.next_event() else {
                return Ok(Ev {
                    kind: K::StreamEnd,
                    pos: self.last,
                });
            };
            let (event, span) = match next {
                Ok(x) => x,
                Err(e) => {
                    let m = e.marker();
                    if e.info().contains("recursion limit") {
                        let pos = Pos {
                            file: self.file,
                            line: u32::try_from(m.line()).unwrap_or(u32::MAX),
                            col: u32::try_from(m.col() + 1).unwrap_or(u32::MAX),
                            len: 1,
                        };
                        return Err(self.fatal(
                            "tooDeep",
                            "the YAML nests too deeply".to_owned(),
                            "a spec needs about 5 levels; this file is not an orgform spec, or \
                             is broken",
                            pos,
                        ));
                    }
                    return Err(syntax_error(self.text, self.file, m.index(), e.info()));
                }
            };
            self.parsed += 1;
            let pos = self.pos(&span);
            self.last = pos;
            let (kind, anchor) = match event {
                Event::Alias(id) => {
                    self.anchors_seen = true;
                    // Record the alias itself (as a marker) in open recordings.
                    let marker = Ev {
                        kind: K::Scalar(format!("\0{id}"), ScalarStyle::Plain, None),
                        pos,
                    };
                    for r in &mut self.recording {
                        r.events.push(marker.clone());
                    }
                    self.push_alias(id, pos)?;
                    continue;
                }
                Event::Scalar(v, style, anchor, tag) => (
                    K::Scalar(v.into_owned(), style, tag.map(|t| t.into_owned())),
                    anchor,
                ),
                Event::SequenceStart(anchor, _) => (K::SeqStart, anchor),
                Event::MappingStart(anchor, _) => (K::MapStart, anchor),
                Event::SequenceEnd => (K::SeqEnd, 0),
                Event::MappingEnd => (K::MapEnd, 0),
                Event::DocumentStart(_) => (K::DocStart, 0),
                Event::DocumentEnd => (K::DocEnd, 0),
                Event::StreamStart => (K::StreamStart, 0),
                Event::StreamEnd | Event::Nothing => (K::StreamEnd, 0),
            };
            let ev = Ev { kind, pos };
            self.anchors_seen |= anchor != 0;
            self.track_depth(&ev)?;
            if !self.recording.is_empty() || anchor != 0 {
                self.record(&ev, anchor);
            }
            return Ok(ev);
        }
    }

    fn push_alias(&mut self, id: usize, pos: Pos) -> Result<(), Fatal> {
        match self.anchors.get(&id) {
            Some(events) => {
                let events = Rc::clone(events);
                self.replay.push((events, 0));
                Ok(())
            }
            None => Err(self.fatal(
                "unknownAlias",
                "this alias refers to an anchor that is not complete here".to_owned(),
                "an alias (`*name`) may only refer to an anchor (`&name`) defined before it, \
                 outside itself",
                pos,
            )),
        }
    }

    fn record(&mut self, ev: &Ev, anchor: usize) {
        for r in &mut self.recording {
            r.events.push(ev.clone());
        }
        if anchor != 0 {
            match ev.kind {
                K::SeqStart | K::MapStart => self.recording.push(Recording {
                    id: anchor,
                    depth: self.depth - 1,
                    events: vec![ev.clone()],
                }),
                _ => {
                    self.anchors.insert(anchor, Rc::new(vec![ev.clone()]));
                }
            }
        }
        if matches!(ev.kind, K::SeqEnd | K::MapEnd) {
            while let Some(r) = self.recording.last() {
                if r.depth == self.depth {
                    if let Some(r) = self.recording.pop() {
                        self.anchors.insert(r.id, Rc::new(r.events));
                    }
                } else {
                    break;
                }
            }
        }
    }
}

/// One line of `text`: its number (1-based), start offset and content
/// (without the line end).
fn lines(text: &str) -> impl Iterator<Item = (usize, usize, &str)> {
    let mut start = 0;
    text.split_inclusive('\n').enumerate().map(move |(i, l)| {
        let s = start;
        start += l.len();
        (i + 1, s, l.trim_end_matches(['\n', '\r']))
    })
}

/// The 1-based (line, column in characters) of byte `index` of `text`,
/// clamped into the text: never past its last line.
fn line_col(text: &str, index: usize) -> (usize, usize) {
    let mut index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    let mut found = (1, 1);
    for (n, start, line) in lines(text) {
        if start > index {
            break;
        }
        let within = (index - start).min(line.len());
        let mut within = within;
        while !line.is_char_boundary(within) {
            within -= 1;
        }
        found = (n, line[..within].chars().count() + 1);
    }
    found
}

fn pos_at(text: &str, file: u32, index: usize) -> Pos {
    let (line, col) = line_col(text, index);
    Pos {
        file,
        line: u32::try_from(line).unwrap_or(u32::MAX),
        col: u32::try_from(col).unwrap_or(u32::MAX),
        len: 1,
    }
}

/// The byte offset of the first tab in the indentation of a line at or
/// after `index` (the parser reports such a tab at the end of the line
/// before it, or after it).
fn indenting_tab(text: &str, index: usize) -> Option<usize> {
    let at_line = raw_line(text, index);
    for (n, start, line) in lines(text) {
        if n < at_line {
            continue;
        }
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        if let Some(t) = line[..indent].find('\t') {
            return Some(start + t);
        }
        if n > at_line {
            break;
        }
    }
    // A tab elsewhere (after a value): point at the first one from here.
    text.get(index..)?.find('\t').map(|t| index + t)
}

/// The line `index` is on, counting a position just after the last line
/// end as the (empty) line after it.
fn raw_line(text: &str, index: usize) -> usize {
    let upto = text
        .as_bytes()
        .get(..index.min(text.len()))
        .unwrap_or_default();
    upto.iter().filter(|b| **b == b'\n').count() + 1
}

/// The offset of the last line before the line of `index` that holds
/// something other than blanks and a comment (the line a lagging error is
/// about), and that line.
fn previous_content_line(text: &str, index: usize) -> Option<(usize, &str)> {
    let at_line = raw_line(text, index);
    let mut found = None;
    for (n, start, line) in lines(text) {
        if n >= at_line {
            break;
        }
        let content = line.trim_start();
        if !content.is_empty() && !content.starts_with('#') {
            found = Some((start + line.len() - content.len(), line));
        }
    }
    found
}

/// The offset of the last `[` or `{` before `index` that is not closed
/// before it (quotes and comments skipped), if any.
fn unclosed_flow(text: &str, index: usize) -> Option<usize> {
    let upto = text.get(..index.min(text.len()))?;
    let mut open: Vec<usize> = Vec::new();
    let mut quote: Option<char> = None;
    let mut comment = false;
    let mut prev = '\n';
    for (i, c) in upto.char_indices() {
        if comment {
            comment = c != '\n';
        } else if let Some(q) = quote {
            if c == q {
                quote = None;
            }
        } else {
            match c {
                '#' if prev.is_whitespace() => comment = true,
                '"' | '\'' if matches!(prev, ' ' | '[' | '{' | ',' | ':' | '\n' | '\t') => {
                    quote = Some(c);
                }
                '[' | '{' => open.push(i),
                ']' | '}' => {
                    open.pop();
                }
                _ => {}
            }
        }
        prev = c;
    }
    open.pop()
}

/// A syntax error at byte `index` (the parser's position), moved to the
/// line at fault where the parser is known to lag, with a message and a
/// hint in words.
fn syntax_error(text: &str, file: u32, index: usize, info: &str) -> Fatal {
    let generic = "fix the YAML at this place; nothing after it was read";
    let make = |index: usize, message: String, hint: &str| Fatal {
        code: "yamlSyntax",
        message,
        hint: hint.to_owned(),
        pos: pos_at(text, file, index),
    };
    if info.contains("tab") {
        let at = indenting_tab(text, index).unwrap_or(index);
        return make(
            at,
            "YAML syntax error: a tab in the indentation (YAML forbids tabs for indenting)"
                .to_owned(),
            "indent with spaces only; a tab is allowed only inside a quoted value",
        );
    }
    if info.contains("simple key expect ':'") || info.contains("could not find expected ':'") {
        let at = previous_content_line(text, index).map_or(index, |(at, _)| at);
        return make(
            at,
            "YAML syntax error: a key without `: ` (this line is neither `key: value` nor a \
             list item)"
                .to_owned(),
            "write `key: value`, with a colon and a space after the key, or quote the line if \
             it is text that belongs to the value above",
        );
    }
    let flow = info.contains("flow");
    if flow && let Some(at) = unclosed_flow(text, index) {
        let bracket = text[at..].chars().next().unwrap_or('[');
        let (what, close) = if bracket == '{' {
            ("mapping", '}')
        } else {
            ("list", ']')
        };
        return make(
            at,
            format!(
                "YAML syntax error: the flow {what} opened here with `{bracket}` is not closed"
            ),
            &format!(
                "close it with `{close}` on the same line (or with correct indentation); the \
                 parser stopped at line {}: {info}",
                line_col(text, index).0
            ),
        );
    }
    if info.contains("trailing content") {
        return make(
            index,
            "YAML syntax error: text after a closing quote".to_owned(),
            "quote the whole value (`\"G1 x\"`), or remove what follows the quote",
        );
    }
    if info.contains("quoted scalar") || info.contains("found unexpected end of stream") {
        return make(
            index,
            format!("YAML syntax error: {info} (a quoted value that is not closed?)"),
            "close the quote on the same value; a quoted value that spans lines must indent \
             its continuation lines",
        );
    }
    if info.contains("misplaced bracket") {
        return make(
            index,
            "YAML syntax error: a `]` or `}` that closes nothing".to_owned(),
            "remove it, or add the `[`/`{` it was meant to close",
        );
    }
    if info.contains("mapping values are not allowed") {
        return make(
            index,
            "YAML syntax error: a `key: value` where YAML does not allow one".to_owned(),
            "align the key with the keys around it, or quote a value that contains `: `",
        );
    }
    if info.contains("anchor") || info.contains("alias") {
        return make(
            index,
            format!("YAML syntax error: {info}"),
            "an alias (`*name`) needs an anchor (`&name`) defined before it; one node has at \
             most one anchor",
        );
    }
    if info.contains("tag") || info.contains("handle") {
        return make(
            index,
            format!("YAML syntax error: {info}"),
            "remove the tag: an orgform spec needs none (quote a value that must stay text)",
        );
    }
    if info.contains("directive") || info.contains("document start") {
        return make(
            index,
            format!("YAML syntax error: {info}"),
            "remove the `%` directive line (an orgform spec needs none), or follow directives \
             with `---`",
        );
    }
    make(index, format!("YAML syntax error: {info}"), generic)
}
