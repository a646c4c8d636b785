//! Source positions: the loaded files while validating, and the compact
//! [`SourceMap`] a [`crate::ValidatedSpec`] keeps afterwards.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use orgform_model::Kind;

use crate::diag::{Diagnostic, Location, Snippet};

/// A position inside one loaded file (1-based line and column, in
/// characters) and how many characters the token spans (for underlining).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Pos {
    pub file: u32,
    pub line: u32,
    pub col: u32,
    pub len: u32,
}

/// One loaded file: its path as the user gave it and its text (BOM removed).
#[derive(Debug)]
pub(crate) struct SourceFile {
    pub path: PathBuf,
    pub text: String,
    line_starts: OnceLock<Vec<usize>>,
    /// Per long line (over [`SHORT_LINE`] bytes), the byte offset of every
    /// [`STRIDE`]-th character and the line's length in characters, built on
    /// first use: a diagnostic on a long line then costs what it costs on a
    /// short one, so a million problems on one 2 MB line stay linear.
    long_lines: Mutex<HashMap<u32, (Vec<usize>, usize)>>,
}

/// Lines up to this many bytes are walked character by character.
const SHORT_LINE: usize = 4096;
/// Characters between two offsets of a long line's index.
const STRIDE: usize = 256;

impl SourceFile {
    pub fn new(path: PathBuf, text: String) -> Self {
        SourceFile {
            path,
            text,
            line_starts: OnceLock::new(),
            long_lines: Mutex::new(HashMap::new()),
        }
    }

    /// The text of a 1-based line, without its line end.
    pub fn line(&self, line: u32) -> Option<&str> {
        let starts = self.line_starts.get_or_init(|| {
            let mut v = vec![0];
            v.extend(self.text.match_indices('\n').map(|(i, _)| i + 1));
            v
        });
        let idx = (line as usize).checked_sub(1)?;
        let start = *starts.get(idx)?;
        let end = starts.get(idx + 1).map_or(self.text.len(), |e| e - 1);
        let l = self.text.get(start..end)?;
        Some(l.strip_suffix('\r').unwrap_or(l))
    }

    /// `take` characters of a 1-based line from the 0-based character
    /// `skip`, and the line's length in characters.
    pub fn chars(&self, line: u32, skip: usize, take: usize) -> Option<(String, usize)> {
        let text = self.line(line)?;
        if text.len() <= SHORT_LINE {
            let total = text.chars().count();
            return Some((text.chars().skip(skip).take(take).collect(), total));
        }
        // A poisoned cache only means another thread panicked while filling
        // it; its entries are still whole (each is inserted at once).
        let mut cache = self
            .long_lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (marks, total) = cache.entry(line).or_insert_with(|| {
            let mut marks = Vec::with_capacity(text.len() / STRIDE + 1);
            let mut total = 0;
            for (i, (at, _)) in text.char_indices().enumerate() {
                if i % STRIDE == 0 {
                    marks.push(at);
                }
                total = i + 1;
            }
            (marks, total)
        });
        let from = marks.get(skip / STRIDE).copied().unwrap_or(text.len());
        let rest = text.get(from..).unwrap_or_default();
        let part = rest.chars().skip(skip % STRIDE).take(take).collect();
        Some((part, *total))
    }

    /// The characters a position spans on its line.
    pub fn token(&self, pos: Pos) -> Option<String> {
        self.chars(
            pos.line,
            pos.col.saturating_sub(1) as usize,
            pos.len as usize,
        )
        .map(|(token, _)| token)
    }
}

/// The files of one load, turning positions into locations with snippets.
#[derive(Debug, Default)]
pub(crate) struct Files {
    pub files: Vec<SourceFile>,
}

impl Files {
    pub fn location(&self, pos: Pos) -> Location {
        Location {
            file: self
                .files
                .get(pos.file as usize)
                .map(|f| f.path.clone())
                .unwrap_or_default(),
            line: pos.line,
            column: pos.col,
        }
    }

    /// The source line of `pos`, for the renderer to place (it trims long
    /// lines around the column itself). A line over [`SHORT_LINE`] bytes is
    /// kept as a window of [`WINDOW`] characters around the column: a
    /// million diagnostics on one 9 MB line would otherwise hold a copy
    /// each.
    fn snippet(&self, pos: Pos) -> Option<Snippet> {
        /// Characters kept of a long line.
        const WINDOW: usize = 120;
        let file = self.files.get(pos.file as usize)?;
        let text = file.line(pos.line)?;
        if text.len() <= SHORT_LINE {
            return Some(Snippet::new(text, pos.col, pos.len));
        }
        let skip = (pos.col as usize).saturating_sub(WINDOW / 2 + 1);
        let (window, _) = file.chars(pos.line, skip, WINDOW)?;
        let skip = u32::try_from(skip).ok()?;
        let mut snippet = Snippet::new(&window, pos.col - skip, pos.len);
        snippet.skip = skip;
        Some(snippet)
    }

    /// Places a diagnostic at `pos`, with its source line.
    pub fn at(&self, mut d: Diagnostic, pos: Pos) -> Diagnostic {
        d.set_primary(self.location(pos), self.snippet(pos));
        d
    }

    /// Adds a related place with its source line.
    pub fn related(&self, mut d: Diagnostic, pos: Pos, label: impl Into<String>) -> Diagnostic {
        d.push_related(self.location(pos), label.into(), self.snippet(pos));
        d
    }

    /// The source text of a token (for finding a list element by value).
    pub fn token(&self, pos: Pos) -> Option<String> {
        self.files.get(pos.file as usize)?.token(pos)
    }
}

/// The keys of a user, in the API reference's order: the one table of
/// user field names (the decoder, `fmt` and the source map use it).
pub(crate) const USER_KEYS: &[&str] = &[
    "externalId",
    "firstName",
    "lastName",
    "email",
    "phone",
    "active",
    "timezone",
    "language",
    "accessInfo",
    "externalProperties",
    "protected",
];
/// The keys of `accessInfo`.
pub(crate) const ACCESS_KEYS: &[&str] = &[
    "memberOf",
    "adminOf",
    "inheritedAdminOf",
    "interestOf",
    "role",
];
/// The keys of a group.
pub(crate) const GROUP_KEYS: &[&str] =
    &["externalId", "name", "description", "parent", "protected"];

/// Key ids for list elements: `ELEMENT + key of the list`.
pub(crate) const ELEMENT: u16 = 1 << 14;
/// First key id of interned `externalProperties.<key>` paths.
pub(crate) const PROP_BASE: u16 = 64;

/// The id of a known field path of a record: a key's index in
/// [`USER_KEYS`] or [`GROUP_KEYS`]; `accessInfo.<key>` comes after the
/// user keys (every id stays below 32, for [`RecordSrc::bad`]).
pub(crate) fn field_id(kind: Kind, path: &str) -> Option<u16> {
    let at = |keys: &[&str], key: &str| keys.iter().position(|k| *k == key);
    let i = match kind {
        Kind::Group => at(GROUP_KEYS, path)?,
        Kind::User => match path.strip_prefix("accessInfo.") {
            Some(key) => USER_KEYS.len() + at(ACCESS_KEYS, key)?,
            None => at(USER_KEYS, path)?,
        },
    };
    u16::try_from(i).ok()
}

/// One field's position, 12 bytes: at 100k users with ~15 fields each, the
/// map costs about 18 MB (see ARCHITECTURE.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldPos {
    pub key: u16,
    pub len: u16,
    pub line: u32,
    pub col: u32,
}

impl FieldPos {
    pub fn new(key: u16, pos: Pos) -> Self {
        FieldPos {
            key,
            len: u16::try_from(pos.len).unwrap_or(u16::MAX),
            line: pos.line,
            col: pos.col,
        }
    }

    pub fn pos(self, file: u32) -> Pos {
        Pos {
            file,
            line: self.line,
            col: self.col,
            len: u32::from(self.len),
        }
    }
}

/// Where one record is: its mapping, and a range of [`FieldPos`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordSrc {
    pub pos: Pos,
    pub fields_start: u32,
    pub fields_len: u32,
    /// Bit `i` set: field `i` of the path table was given but unusable (a
    /// diagnostic was already reported), so later rules stay quiet about it.
    pub bad: u32,
}

/// Positions of every record and field of a loaded spec, per file.
#[derive(Debug, Default)]
pub(crate) struct Positions {
    pub users: Vec<RecordSrc>,
    pub groups: Vec<RecordSrc>,
    pub fields: Vec<FieldPos>,
    /// `externalProperties.<key>` → key id (`PROP_BASE + index`).
    pub prop_ids: HashMap<String, u16>,
    pub prop_names: Vec<String>,
    /// Top-level and settings paths: `version`, `settings.maxUsersCreated`,
    /// `attributes.gender`, `externalGroups`, ...
    pub top: Vec<(String, Pos)>,
}

impl Positions {
    pub fn prop_id(&mut self, key: &str) -> u16 {
        if let Some(id) = self.prop_ids.get(key) {
            return *id;
        }
        let id = u16::try_from(self.prop_names.len())
            .ok()
            .and_then(|n| n.checked_add(PROP_BASE))
            .filter(|id| *id < ELEMENT)
            .unwrap_or(u16::MAX);
        if id != u16::MAX {
            self.prop_ids.insert(key.to_owned(), id);
            self.prop_names.push(key.to_owned());
        }
        id
    }

    /// Appends the positions of a file (or a piece of one) decoded on its
    /// own, as if it had been decoded after everything already here: its
    /// record field ranges move past the fields held, and its property key
    /// ids are renumbered in the order they were first seen there, as one
    /// decode of both would have numbered them.
    pub fn append(&mut self, other: Positions) {
        if self.users.is_empty()
            && self.groups.is_empty()
            && self.fields.is_empty()
            && self.top.is_empty()
            && self.prop_names.is_empty()
        {
            *self = other;
            return;
        }
        let shift = u32::try_from(self.fields.len()).unwrap_or(u32::MAX);
        let moved = |r: RecordSrc| RecordSrc {
            fields_start: r.fields_start.saturating_add(shift),
            ..r
        };
        self.users.extend(other.users.into_iter().map(moved));
        self.groups.extend(other.groups.into_iter().map(moved));
        let renumbered: Vec<u16> = other
            .prop_names
            .iter()
            .map(|name| self.prop_id(name))
            .collect();
        self.fields.reserve(other.fields.len());
        for mut f in other.fields {
            if (PROP_BASE..ELEMENT).contains(&f.key) {
                let index = usize::from(f.key - PROP_BASE);
                f.key = renumbered.get(index).copied().unwrap_or(u16::MAX);
            }
            self.fields.push(f);
        }
        self.top.extend(other.top);
    }

    pub fn record(&self, kind: Kind, index: usize) -> Option<&RecordSrc> {
        match kind {
            Kind::User => self.users.get(index),
            Kind::Group => self.groups.get(index),
        }
    }

    pub fn fields(&self, rec: &RecordSrc) -> &[FieldPos] {
        let start = rec.fields_start as usize;
        self.fields
            .get(start..start + rec.fields_len as usize)
            .unwrap_or(&[])
    }

    /// The first position stored under `key` in a record.
    pub fn field(&self, kind: Kind, index: usize, key: u16) -> Option<Pos> {
        let rec = self.record(kind, index)?;
        self.fields(rec)
            .iter()
            .find(|f| f.key == key)
            .map(|f| f.pos(rec.pos.file))
    }

    pub fn top(&self, path: &str) -> Option<Pos> {
        self.top
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, pos)| *pos)
    }
}

/// Where each record and field of a validated spec was written.
///
/// Kept compact (12 bytes per field) because a 100k-user spec has over a
/// million fields; [`Location`]s are built on request, so the lookups
/// return owned values.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<PathBuf>,
    users: Vec<(Box<str>, RecordSrc)>,
    groups: Vec<(Box<str>, RecordSrc)>,
    fields: Vec<FieldPos>,
    prop_ids: HashMap<String, u16>,
    top: Vec<(String, Pos)>,
}

impl SourceMap {
    pub(crate) fn build(
        files: Vec<PathBuf>,
        positions: Positions,
        user_ids: impl Iterator<Item = String>,
        group_ids: impl Iterator<Item = String>,
    ) -> Self {
        fn keyed(
            ids: impl Iterator<Item = String>,
            recs: Vec<RecordSrc>,
        ) -> Vec<(Box<str>, RecordSrc)> {
            let mut v: Vec<(Box<str>, RecordSrc)> =
                ids.map(String::into_boxed_str).zip(recs).collect();
            // Stable: the first of a duplicate (only possible in tests) wins.
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v.dedup_by(|later, earlier| later.0 == earlier.0);
            v
        }
        SourceMap {
            files,
            users: keyed(user_ids, positions.users),
            groups: keyed(group_ids, positions.groups),
            fields: positions.fields,
            prop_ids: positions.prop_ids,
            top: positions.top,
        }
    }

    fn find(&self, kind: Kind, external_id: &str) -> Option<&RecordSrc> {
        let list = match kind {
            Kind::User => &self.users,
            Kind::Group => &self.groups,
        };
        let i = list
            .binary_search_by(|(id, _)| (**id).cmp(external_id))
            .ok()?;
        list.get(i).map(|(_, r)| r)
    }

    fn location(&self, pos: Pos) -> Location {
        Location {
            file: self
                .files
                .get(pos.file as usize)
                .cloned()
                .unwrap_or_default(),
            line: pos.line,
            column: pos.col,
        }
    }

    /// Where a record starts (its first key).
    pub fn record(&self, kind: Kind, external_id: &str) -> Option<Location> {
        self.find(kind, external_id).map(|r| self.location(r.pos))
    }

    /// Where a field's value is, by spec path: `phone`, `accessInfo.memberOf`,
    /// `externalProperties.gender`.
    pub fn field(&self, kind: Kind, external_id: &str, path: &str) -> Option<Location> {
        let rec = self.find(kind, external_id)?;
        let key = match field_id(kind, path) {
            Some(k) => k,
            None => *self
                .prop_ids
                .get(path.strip_prefix("externalProperties.")?)?,
        };
        let start = rec.fields_start as usize;
        self.fields
            .get(start..start + rec.fields_len as usize)?
            .iter()
            .find(|f| f.key == key)
            .map(|f| self.location(f.pos(rec.pos.file)))
    }

    /// Where a top-level value or setting is: `version`, `users`, `groups`,
    /// `externalGroups`, `settings.maxUsersDeleted`, `attributes.gender`,
    /// `safety.minAdministrators`, `target.endpoint`.
    pub fn top_level(&self, path: &str) -> Option<Location> {
        self.top
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, pos)| self.location(*pos))
    }

    /// The files of the spec, in load order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}
