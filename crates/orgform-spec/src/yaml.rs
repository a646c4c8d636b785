//! The only module that knows YAML: a typed decoder over `saphyr-parser`
//! events.
//!
//! Why a hand-written decoder (measured, see ARCHITECTURE.md): every scalar
//! arrives with its position, its literal text and its style, so this module
//! decides itself, with a located diagnostic each time:
//! - YAML 1.2 core schema only: `yes`/`no`/`on` are strings (`language: no`
//!   stays "no"), and a boolean field accepts only `true`/`false`;
//! - a plain scalar that YAML reads as a number (`0000897`, `+46701234567`)
//!   in a string field is an error with a hint to quote it, never a silent
//!   `897`;
//! - duplicate keys are errors everywhere, unknown fields get "did you
//!   mean", `null` is never "omitted";
//! - nesting deeper than [`MAX_DEPTH`](crate::events::MAX_DEPTH) stops at once, and alias expansion
//!   has a budget (aliases are replayed from recorded events, never copied
//!   into a tree), so alias bombs and 10,000-deep nesting fail fast with
//!   bounded memory.
//!
//! The decoder builds orgform-model records directly (no intermediate tree)
//! and records each field's position in a compact table ([`Positions`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use orgform_model::{
    AttributeDef, DesiredAccess, DesiredGroup, DesiredUser, Kind, LimitName, ParentRef, Role,
    Safety, Settings, Target,
};
use saphyr_parser::{ScalarStyle, Tag};

use crate::diag::Diagnostic;
use crate::events::{Ev, K, Reader};
use crate::source::{ELEMENT, FieldPos, Files, Pos, Positions, RecordSrc, field_id};
use crate::suggest::did_you_mean;

/// Stops decoding a file after a fatal problem (already reported).
#[derive(Debug)]
pub(crate) struct Stop;

type R<T> = Result<T, Stop>;

/// The top-level keys of a spec, in documentation order.
pub(crate) const TOP_KEYS: &[&str] = &[
    "version",
    "target",
    "settings",
    "attributes",
    "externalGroups",
    "safety",
    "groups",
    "users",
];
pub(crate) use crate::source::{ACCESS_KEYS, GROUP_KEYS, USER_KEYS};
pub(crate) const TARGET_KEYS: &[&str] = &[
    "endpoint",
    "tokenEnv",
    "tokenHeader",
    "connectTimeoutSecs",
    "requestTimeoutSecs",
    "maxRetries",
    "retryBudgetSecs",
    "maxPerRequest",
];
pub(crate) const SETTINGS_KEYS: &[&str] = &[
    "forceSetLanguage",
    "maxUsersCreated",
    "maxUsersUpdated",
    "maxUsersDeleted",
    "maxGroupsCreated",
    "maxGroupsUpdated",
    "maxGroupsDeleted",
];
pub(crate) const SAFETY_KEYS: &[&str] = &[
    "maxUserDeletionPercent",
    "maxGroupDeletionPercent",
    "minPopulation",
    "maxMembershipLossPercent",
    "minAdministrators",
];
pub(crate) const ATTRIBUTE_KEYS: &[&str] = &["values", "required"];

/// One file's top level, decoded. `keys` holds where each top-level key was
/// written, for the directory merge.
#[derive(Debug, Default)]
pub(crate) struct Doc {
    pub version: Option<u32>,
    pub target: Option<Target>,
    pub settings: Option<Settings>,
    pub attributes: Option<BTreeMap<String, AttributeDef>>,
    pub external_groups: Option<BTreeSet<String>>,
    pub safety: Option<Safety>,
    pub groups: Option<Vec<DesiredGroup>>,
    pub users: Option<Vec<DesiredUser>>,
    pub keys: Vec<(&'static str, Pos)>,
    /// The file could not be read to its end (syntax error, limit).
    pub incomplete: bool,
    /// The file holds no document at all.
    pub empty: bool,
    /// The text used an anchor or an alias (see `split.rs`).
    pub anchors: bool,
}

/// What YAML 1.2's core schema makes of a scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Null,
    Bool(bool),
    Int,
    Float,
    Str,
}

pub(crate) fn classify(value: &str, style: ScalarStyle, tag: Option<&Tag>) -> Class {
    if let Some(t) = tag
        && t.is_yaml_core_schema()
        && t.suffix == "str"
    {
        return Class::Str;
    }
    if style != ScalarStyle::Plain {
        return Class::Str;
    }
    match value {
        "" | "~" | "null" | "Null" | "NULL" => return Class::Null,
        "true" | "True" | "TRUE" => return Class::Bool(true),
        "false" | "False" | "FALSE" => return Class::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => return Class::Float,
        _ => {}
    }
    let b = value.as_bytes();
    if let Some(rest) = value.strip_prefix("0o")
        && !rest.is_empty()
        && rest.bytes().all(|c| (b'0'..=b'7').contains(&c))
    {
        return Class::Int;
    }
    if let Some(rest) = value.strip_prefix("0x")
        && !rest.is_empty()
        && rest.bytes().all(|c| c.is_ascii_hexdigit())
    {
        return Class::Int;
    }
    let digits = match b.first() {
        Some(b'-' | b'+') => &b[1..],
        _ => b,
    };
    if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
        return Class::Int;
    }
    // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
    let mut i = 0;
    let n = digits.len();
    let mut mantissa = 0;
    while i < n && digits[i].is_ascii_digit() {
        i += 1;
        mantissa += 1;
    }
    if i < n && digits[i] == b'.' {
        i += 1;
        while i < n && digits[i].is_ascii_digit() {
            i += 1;
            mantissa += 1;
        }
    }
    if mantissa == 0 {
        return Class::Str;
    }
    if i < n && (digits[i] == b'e' || digits[i] == b'E') {
        i += 1;
        if i < n && (digits[i] == b'-' || digits[i] == b'+') {
            i += 1;
        }
        let start = i;
        while i < n && digits[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Class::Str;
        }
    }
    if i == n { Class::Float } else { Class::Str }
}

fn describe(ev: &Ev) -> String {
    match &ev.kind {
        K::MapStart => "a mapping".to_owned(),
        K::SeqStart => "a list".to_owned(),
        K::Scalar(v, style, tag) => match classify(v, *style, tag.as_ref()) {
            Class::Null => "`null`".to_owned(),
            Class::Bool(b) => format!("the boolean `{b}`"),
            Class::Int | Class::Float => format!("the number `{v}`"),
            Class::Str => format!("the string `{v}`"),
        },
        _ => "the end of a block".to_owned(),
    }
}

/// The keys a mapping may hold, where each was first given, and the keys
/// that unknown ones were taken for ("did you mean").
struct Fields {
    keys: &'static [&'static str],
    context: String,
    seen: Vec<Option<Pos>>,
    /// Known keys an unknown key was probably meant to be: a misspelt
    /// required field is one error (`unknownField`, did you mean), not a
    /// second `missingField` too.
    meant: Vec<&'static str>,
}

impl Fields {
    fn new(keys: &'static [&'static str], context: impl Into<String>) -> Self {
        Fields {
            keys,
            context: context.into(),
            seen: vec![None; keys.len()],
            meant: Vec::new(),
        }
    }

    /// The keys an unknown key was meant to be that were not given.
    fn meant_but_missing(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.meant.iter().copied().filter(|m| {
            self.keys
                .iter()
                .position(|k| k == m)
                .is_some_and(|i| self.seen[i].is_none())
        })
    }
}

/// How a string was written, for the hint that quotes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    /// `field: value`
    Value,
    /// An entry of a flow list: `field: [value]`
    FlowItem,
    /// An entry of a block list: `- value`
    BlockItem,
}

impl Written {
    /// The value quoted, as it would be written.
    fn quoted(self, field: &str, v: &str) -> String {
        match self {
            Written::Value => format!("{field}: \"{v}\""),
            Written::FlowItem => format!("{field}: [\"{v}\"]"),
            Written::BlockItem => format!("- \"{v}\""),
        }
    }
}

/// The hint for `null` in a field.
fn null_hint(field: &str) -> String {
    match field {
        "users" => "remove the key to leave users unmanaged, or write `users: []` to delete every \
                    managed user"
            .to_owned(),
        "groups" => "remove the key to leave groups unmanaged, or write `groups: []` to delete \
                     every managed group"
            .to_owned(),
        "memberOf" | "adminOf" | "inheritedAdminOf" | "interestOf" => format!(
            "remove the key to leave the server's `{field}` as is, or write `{field}: []` to clear it"
        ),
        "phone" => "write `phone: \"\"` for no phone, or remove the key".to_owned(),
        "description" => "write `description: \"\"` for none, or remove the key".to_owned(),
        "parent" => "`parent: null` is only for a group's parent".to_owned(),
        "timezone" | "language" => {
            format!("remove the key to use the account's default {field}")
        }
        _ => format!("give `{field}` a value, or remove the key"),
    }
}

/// Decodes one file. Diagnostics go to `diags`, positions to `positions`.
pub(crate) fn decode(
    text: &str,
    file: u32,
    files: &Files,
    positions: &mut Positions,
    diags: &mut Vec<Diagnostic>,
) -> Doc {
    decode_with(
        Reader::new(text, file),
        files,
        positions,
        diags,
        Decoder::document,
    )
}

/// Decodes a piece of a file that holds nothing but items of its top-level
/// `users` list (`split.rs` cut it there), read by `reader`: the users, in
/// `Doc::users`. The piece is one block sequence; anything else in it is a
/// problem reported as usual, and the caller then decodes the whole file.
pub(crate) fn decode_users_piece(
    reader: Reader<'_>,
    files: &Files,
    positions: &mut Positions,
    diags: &mut Vec<Diagnostic>,
) -> Doc {
    decode_with(reader, files, positions, diags, Decoder::users_piece)
}

/// Runs `read` over the events of `reader`; a reading that stopped early
/// marks the document incomplete.
fn decode_with<'a, 'f>(
    reader: Reader<'a>,
    files: &'f Files,
    positions: &'f mut Positions,
    diags: &'f mut Vec<Diagnostic>,
    read: fn(&mut Decoder<'a, 'f>) -> R<()>,
) -> Doc {
    let mut d = Decoder {
        r: reader,
        files,
        pos: positions,
        diags,
        doc: Doc::default(),
    };
    if read(&mut d).is_err() {
        d.doc.incomplete = true;
    }
    d.doc.anchors = d.r.anchors_seen;
    d.doc
}

struct Decoder<'a, 'f> {
    r: Reader<'a>,
    files: &'f Files,
    pos: &'f mut Positions,
    diags: &'f mut Vec<Diagnostic>,
    doc: Doc,
}

/// A scalar string read from a field, or `None` after a reported problem.
type Str = Option<(String, Pos)>;

impl Decoder<'_, '_> {
    fn next(&mut self) -> R<Ev> {
        match self.r.next() {
            Ok(ev) => Ok(ev),
            Err(f) => {
                let d = Diagnostic::error(f.code, f.message).with_hint(f.hint);
                self.diags.push(self.files.at(d, f.pos));
                Err(Stop)
            }
        }
    }

    fn peek(&mut self) -> R<&Ev> {
        if self.r.peeked.is_none() {
            let ev = self.next()?;
            self.r.peeked = Some(ev);
        }
        self.r.peeked.as_ref().ok_or(Stop)
    }

    fn report(&mut self, d: Diagnostic, pos: Pos) {
        self.diags.push(self.files.at(d, pos));
    }

    /// Consumes the rest of a node whose first event is `first`.
    fn skip(&mut self, first: &Ev) -> R<()> {
        if !matches!(first.kind, K::MapStart | K::SeqStart) {
            return Ok(());
        }
        let mut depth = 1usize;
        while depth > 0 {
            match self.next()?.kind {
                K::MapStart | K::SeqStart => depth += 1,
                K::MapEnd | K::SeqEnd => depth -= 1,
                K::StreamEnd => return Err(Stop),
                _ => {}
            }
        }
        Ok(())
    }

    fn wrong_type(&mut self, ev: &Ev, field: &str, expected: &str, hint: String) -> R<()> {
        let d = Diagnostic::error(
            "wrongType",
            format!("`{field}` must be {expected}, found {}", describe(ev)),
        )
        .with_hint(hint);
        self.report(d, ev.pos);
        self.skip(ev)
    }

    fn null_value(&mut self, ev: &Ev, field: &str, expected: &str) {
        let d = Diagnostic::error(
            "nullValue",
            format!("`{field}` is null; {expected} is expected"),
        )
        .with_hint(null_hint(field));
        self.report(d, ev.pos);
    }

    fn document(&mut self) -> R<()> {
        // StreamStart, then DocStart or StreamEnd.
        let mut ev = self.next()?;
        if matches!(ev.kind, K::StreamStart) {
            ev = self.next()?;
        }
        if matches!(ev.kind, K::StreamEnd) {
            self.doc.empty = true;
            return Ok(());
        }
        let root = self.next()?;
        match &root.kind {
            K::MapStart => self.top(root.pos)?,
            K::Scalar(v, style, tag)
                if classify(v, *style, tag.as_ref()) == Class::Null && v.is_empty() =>
            {
                self.doc.empty = true;
            }
            _ => {
                let d = Diagnostic::error(
                    "wrongType",
                    format!(
                        "a spec must be a mapping of keys, found {}",
                        describe(&root)
                    ),
                )
                .with_hint("start with `version: 1`, then `users:`, `groups:` and the other keys");
                self.report(d, root.pos);
                self.skip(&root)?;
            }
        }
        // DocEnd, then StreamEnd; another document is an error.
        loop {
            let ev = self.next()?;
            match ev.kind {
                K::DocEnd => {}
                K::StreamEnd => return Ok(()),
                _ => {
                    let d = Diagnostic::error(
                        "multipleDocuments",
                        "this file holds more than one YAML document",
                    )
                    .with_hint(
                        "keep one document per file (no second `---`); a directory spec can \
                         spread the spec over several files",
                    );
                    self.report(d, ev.pos);
                    return Err(Stop);
                }
            }
        }
    }

    /// A piece of the `users` list: stream, document, one sequence of
    /// users, then the ends. Anything else marks the piece incomplete.
    fn users_piece(&mut self) -> R<()> {
        let starts = [self.next()?, self.next()?];
        if !matches!(starts[0].kind, K::StreamStart) || !matches!(starts[1].kind, K::DocStart) {
            return Err(Stop);
        }
        let users = self.records("users", Self::user)?;
        self.doc.incomplete = users.is_none();
        self.doc.users = users;
        for _ in 0..2 {
            if !matches!(self.next()?.kind, K::DocEnd | K::StreamEnd) {
                return Err(Stop);
            }
        }
        Ok(())
    }

    /// Reads the next key of a mapping; `None` at its end. Non-scalar keys
    /// are reported and skipped with their values.
    fn key(&mut self) -> R<Option<(String, Pos)>> {
        loop {
            let ev = self.next()?;
            match ev.kind {
                K::MapEnd => return Ok(None),
                K::Scalar(v, _, _) => return Ok(Some((v, ev.pos))),
                K::StreamEnd => return Err(Stop),
                _ => {
                    let d = Diagnostic::error(
                        "wrongType",
                        format!("a key must be a plain name, found {}", describe(&ev)),
                    )
                    .with_hint("write `name: value`");
                    self.report(d, ev.pos);
                    self.skip(&ev)?;
                    let value = self.next()?;
                    self.skip(&value)?;
                }
            }
        }
    }

    /// Reports an unknown key and skips its value; returns the known key
    /// it was probably meant to be.
    fn unknown_field(
        &mut self,
        key: &str,
        pos: Pos,
        known: &[&'static str],
        context: &str,
    ) -> R<Option<&'static str>> {
        let mut d = Diagnostic::error(
            "unknownField",
            format!("unknown field `{key}` in {context}"),
        );
        let meant = did_you_mean(key, known);
        d = match meant {
            Some(s) => d.with_hint(format!("did you mean `{s}`?")),
            None => d.with_hint(format!("the fields of {context} are: {}", known.join(", "))),
        };
        if context == "settings" && key == "validateOnly" {
            d = d.with_hint(
                "remove it: orgform sends `validateOnly` itself (true for plan --preflight, \
                 false for apply)",
            );
        }
        self.report(d, pos);
        let value = self.next()?;
        self.skip(&value)?;
        Ok(meant)
    }

    /// The next key of a mapping that is one of `fields.keys` and given for
    /// the first time, with its position; `None` at the mapping's end.
    /// Unknown keys (with "did you mean") and repeated keys are reported
    /// and skipped with their values: the one key loop of every mapping
    /// with fixed keys.
    fn field_key(&mut self, fields: &mut Fields) -> R<Option<(&'static str, Pos)>> {
        while let Some((key, kpos)) = self.key()? {
            let Some(i) = fields.keys.iter().position(|k| *k == key) else {
                if let Some(meant) = self.unknown_field(&key, kpos, fields.keys, &fields.context)? {
                    fields.meant.push(meant);
                }
                continue;
            };
            let name = fields.keys[i];
            if let Some(first) = fields.seen[i] {
                self.duplicate_key(name, kpos, first)?;
                continue;
            }
            fields.seen[i] = Some(kpos);
            return Ok(Some((name, kpos)));
        }
        Ok(None)
    }

    fn duplicate_key(&mut self, key: &str, pos: Pos, first: Pos) -> R<()> {
        let d = Diagnostic::error("duplicateKey", format!("the key `{key}` is given twice"))
            .with_hint("keep one of them: YAML tools disagree on which one wins");
        let d = self.files.at(d, pos);
        let d = self.files.related(d, first, "first given here");
        self.diags.push(d);
        let value = self.next()?;
        self.skip(&value)
    }

    /// A mapping's start, or `None` after reporting what else was there.
    fn expect_map(&mut self, field: &str, hint: &str) -> R<Option<Pos>> {
        let ev = self.next()?;
        match &ev.kind {
            K::MapStart => Ok(Some(ev.pos)),
            K::Scalar(v, s, t) if classify(v, *s, t.as_ref()) == Class::Null => {
                self.null_value(&ev, field, "a mapping");
                Ok(None)
            }
            _ => {
                self.wrong_type(&ev, field, "a mapping", hint.to_owned())?;
                Ok(None)
            }
        }
    }

    /// A string value. Plain scalars that YAML reads as null, a boolean or
    /// a number are errors (with a hint to quote them).
    fn string(&mut self, field: &str) -> R<Str> {
        self.string_as(field, Written::Value)
    }

    /// A string value written as `how` (the hint to quote it shows it
    /// that way: `memberOf: ["0000897"]` for an entry of a flow list).
    fn string_as(&mut self, field: &str, how: Written) -> R<Str> {
        let ev = self.next()?;
        let K::Scalar(v, style, tag) = &ev.kind else {
            self.wrong_type(&ev, field, "a string", format!("write `{field}: \"...\"`"))?;
            return Ok(None);
        };
        if let Some(t) = tag
            && !(t.is_yaml_core_schema() && t.suffix == "str")
        {
            let d = Diagnostic::error("unsupportedTag", format!("the tag `{t}` is not supported"))
                .with_hint("remove the tag; quote the value if it must stay text");
            self.report(d, ev.pos);
            return Ok(None);
        }
        match classify(v, *style, tag.as_ref()) {
            Class::Str => Ok(Some((v.clone(), ev.pos))),
            Class::Null => {
                self.null_value(&ev, field, "a string");
                Ok(None)
            }
            Class::Bool(_) => {
                let d = Diagnostic::error(
                    "wrongType",
                    format!("`{field}` must be a string, found the boolean `{v}`"),
                )
                .with_hint(format!(
                    "quote it if it is text: `{}`",
                    how.quoted(field, v)
                ));
                self.report(d, ev.pos);
                Ok(None)
            }
            Class::Int | Class::Float => {
                let d = Diagnostic::error(
                    "numberNotString",
                    format!("`{field}` must be a string, but YAML reads `{v}` as a number"),
                )
                .with_hint(format!(
                    "quote it: `{}` (YAML tools would turn a bare `{v}` into a different \
                     value, e.g. drop leading zeros or a `+`; `orgform fmt --fix` quotes it)",
                    how.quoted(field, v)
                ));
                self.report(d, ev.pos);
                Ok(None)
            }
        }
    }

    fn boolean(&mut self, field: &str) -> R<Option<(bool, Pos)>> {
        let ev = self.next()?;
        let K::Scalar(v, style, tag) = &ev.kind else {
            self.wrong_type(
                &ev,
                field,
                "`true` or `false`",
                format!("write `{field}: true`"),
            )?;
            return Ok(None);
        };
        match classify(v, *style, tag.as_ref()) {
            Class::Bool(b) => Ok(Some((b, ev.pos))),
            Class::Null => {
                self.null_value(&ev, field, "`true` or `false`");
                Ok(None)
            }
            Class::Str
                if *style == ScalarStyle::Plain
                    && matches!(
                        v.to_ascii_lowercase().as_str(),
                        "yes" | "no" | "on" | "off" | "y" | "n"
                    ) =>
            {
                let d = Diagnostic::error(
                    "notABoolean",
                    format!(
                        "`{field}: {v}` is not a boolean: YAML 1.2 knows only `true` and `false`"
                    ),
                )
                .with_hint(format!(
                    "write `{field}: true` or `{field}: false` (`orgform fmt --fix` rewrites it)"
                ));
                self.report(d, ev.pos);
                Ok(None)
            }
            _ => {
                let d = Diagnostic::error(
                    "wrongType",
                    format!(
                        "`{field}` must be `true` or `false`, found {}",
                        describe(&ev)
                    ),
                )
                .with_hint(format!(
                    "write `{field}: true` or `{field}: false` (unquoted)"
                ));
                self.report(d, ev.pos);
                Ok(None)
            }
        }
    }

    /// A whole number that fits `u32`; `range_code` names what is out of range.
    fn integer(
        &mut self,
        field: &str,
        range_code: &'static str,
        max: u32,
    ) -> R<Option<(u32, Pos)>> {
        let ev = self.next()?;
        let K::Scalar(v, style, tag) = &ev.kind else {
            self.wrong_type(
                &ev,
                field,
                "a whole number",
                format!("write `{field}: 200`"),
            )?;
            return Ok(None);
        };
        match classify(v, *style, tag.as_ref()) {
            Class::Int
                if v.bytes()
                    .all(|c| c.is_ascii_digit() || c == b'-' || c == b'+') =>
            {
                match v.parse::<i64>().ok().and_then(|n| u32::try_from(n).ok()) {
                    Some(n) => Ok(Some((n, ev.pos))),
                    None => {
                        let d = Diagnostic::error(
                            range_code,
                            format!("`{field}` is `{v}`, outside 0..={max}"),
                        )
                        .with_hint(format!("use a whole number from 0 to {max}"));
                        self.report(d, ev.pos);
                        Ok(None)
                    }
                }
            }
            Class::Null => {
                self.null_value(&ev, field, "a whole number");
                Ok(None)
            }
            _ => {
                let d = Diagnostic::error(
                    "wrongType",
                    format!("`{field}` must be a whole number, found {}", describe(&ev)),
                )
                .with_hint(format!(
                    "write a plain decimal number from 0 to {max}, unquoted"
                ));
                self.report(d, ev.pos);
                Ok(None)
            }
        }
    }

    /// A list of strings; duplicates are warned about. `elements` receives
    /// each element's position.
    fn string_list(
        &mut self,
        field: &str,
        mut elements: impl FnMut(&mut Positions, Pos),
    ) -> R<Option<(BTreeSet<String>, Pos)>> {
        let ev = self.next()?;
        match &ev.kind {
            K::SeqStart => {}
            K::Scalar(v, s, t) if classify(v, *s, t.as_ref()) == Class::Null => {
                self.null_value(&ev, field, "a list");
                return Ok(None);
            }
            K::Scalar(v, _, _) => {
                let d = Diagnostic::error(
                    "wrongType",
                    format!("`{field}` must be a list, found {}", describe(&ev)),
                )
                .with_hint(format!("write a list: `{field}: [\"{v}\"]`"));
                self.report(d, ev.pos);
                return Ok(None);
            }
            _ => {
                self.wrong_type(&ev, field, "a list", format!("write `{field}: [\"...\"]`"))?;
                return Ok(None);
            }
        }
        // A flow list starts with `[` where its start event is.
        let how = if self.files.token(Pos { len: 1, ..ev.pos }).as_deref() == Some("[") {
            Written::FlowItem
        } else {
            Written::BlockItem
        };
        // Each entry's first position, to point a duplicate at it (one
        // lookup per entry: scanning the earlier ones, as before, was
        // quadratic in a long list ending in duplicates).
        let mut first_at: HashMap<String, Pos> = HashMap::new();
        loop {
            if matches!(self.peek()?.kind, K::SeqEnd) {
                self.next()?;
                break;
            }
            if let Some((s, p)) = self.string_as(field, how)? {
                elements(self.pos, p);
                match first_at.get(&s) {
                    Some(&first) => {
                        let mut d = Diagnostic::warning(
                            "duplicateListEntry",
                            format!("`{s}` is listed twice in `{field}`"),
                        )
                        .with_hint("remove one; a list is a set");
                        d = self.files.at(d, p);
                        d = self.files.related(d, first, "first listed here");
                        self.diags.push(d);
                    }
                    None => {
                        first_at.insert(s, p);
                    }
                }
            }
        }
        let set: BTreeSet<String> = first_at.into_keys().collect();
        Ok(Some((set, ev.pos)))
    }

    fn top(&mut self, _map: Pos) -> R<()> {
        let mut fields = Fields::new(TOP_KEYS, "the spec's top level");
        while let Some((name, kpos)) = self.field_key(&mut fields)? {
            self.doc.keys.push((name, kpos));
            let vpos = self.peek()?.pos;
            self.pos.top.push((name.to_owned(), vpos));
            match name {
                "version" => {
                    if let Some((v, p)) = self.integer("version", "unsupportedVersion", 1)? {
                        if v == 1 {
                            self.doc.version = Some(1);
                        } else {
                            let d = Diagnostic::error(
                                "unsupportedVersion",
                                format!("spec version `{v}` is not supported"),
                            )
                            .with_hint("this orgform reads `version: 1`");
                            self.report(d, p);
                        }
                    }
                }
                "target" => self.doc.target = self.target()?,
                "settings" => self.doc.settings = self.settings()?,
                "attributes" => self.doc.attributes = self.attributes()?,
                "externalGroups" => {
                    self.doc.external_groups = self
                        .string_list("externalGroups", |_, _| {})?
                        .map(|(s, _)| s);
                }
                "safety" => self.doc.safety = self.safety()?,
                "groups" => self.doc.groups = self.records("groups", Self::group)?,
                _ => self.doc.users = self.records("users", Self::user)?,
            }
        }
        Ok(())
    }

    fn records<T>(
        &mut self,
        field: &str,
        mut one: impl FnMut(&mut Self) -> R<Option<T>>,
    ) -> R<Option<Vec<T>>> {
        let ev = self.next()?;
        match &ev.kind {
            K::SeqStart => {}
            K::Scalar(v, s, t) if classify(v, *s, t.as_ref()) == Class::Null => {
                self.null_value(&ev, field, "a list");
                return Ok(None);
            }
            _ => {
                self.wrong_type(
                    &ev,
                    field,
                    "a list",
                    format!("write `{field}:` then one `- ` item per record"),
                )?;
                return Ok(None);
            }
        }
        let mut out = Vec::new();
        loop {
            if matches!(self.peek()?.kind, K::SeqEnd) {
                self.next()?;
                return Ok(Some(out));
            }
            if let Some(rec) = one(self)? {
                out.push(rec);
            }
        }
    }

    fn field(&mut self, key: u16, pos: Pos) {
        self.pos.fields.push(FieldPos::new(key, pos));
    }

    fn user(&mut self) -> R<Option<DesiredUser>> {
        let ev = self.next()?;
        if !matches!(ev.kind, K::MapStart) {
            self.wrong_type(
                &ev,
                "users",
                "a list of mappings",
                "each user is a mapping: `- externalId: ...` with `firstName:`, `lastName:`, \
                 `email:` below it"
                    .to_owned(),
            )?;
            return Ok(None);
        }
        let fields_start = self.pos.fields.len();
        let mut bad = 0u32;
        let mut u = DesiredUser::new("", "", "", "");
        let id = |p: &str| field_id(Kind::User, p).unwrap_or(u16::MAX);
        let mut fields = Fields::new(USER_KEYS, "a user");
        while let Some((name, _)) = self.field_key(&mut fields)? {
            let key_id = id(name);
            let before = self.diags.len();
            match name {
                "active" | "protected" => {
                    if let Some((b, p)) = self.boolean(name)? {
                        self.field(key_id, p);
                        if name == "active" {
                            u.active = Some(b);
                        } else {
                            u.protected = Some(b);
                        }
                    }
                }
                "accessInfo" => {
                    if let Some(p) = self.expect_map(
                        "accessInfo",
                        "write `accessInfo:` with `memberOf: [...]`, `role: ...` below it",
                    )? {
                        self.field(key_id, p);
                        u.access_info = self.access(&mut bad)?;
                    }
                }
                "externalProperties" => {
                    if let Some(p) = self.expect_map(
                        "externalProperties",
                        "write `externalProperties:` with `name: value` pairs below it",
                    )? {
                        self.field(key_id, p);
                        u.external_properties = self.properties(&mut bad)?;
                    }
                }
                _ => {
                    if let Some((s, p)) = self.string(name)? {
                        self.field(key_id, p);
                        match name {
                            "externalId" => u.external_id = s,
                            "firstName" => u.first_name = s,
                            "lastName" => u.last_name = s,
                            "email" => u.email = s,
                            "phone" => u.phone = Some(s),
                            "timezone" => u.timezone = Some(s),
                            _ => u.language = Some(s),
                        }
                    }
                }
            }
            if self.diags.len() > before && key_id < 32 {
                bad |= 1 << key_id;
            }
        }
        // `fistName: Ada` is reported once, as an unknown field.
        for meant in fields.meant_but_missing() {
            let k = id(meant);
            if k < 32 {
                bad |= 1 << k;
            }
        }
        let fields_len = self.pos.fields.len() - fields_start;
        self.pos.users.push(RecordSrc {
            pos: ev.pos,
            fields_start: u32::try_from(fields_start).unwrap_or(u32::MAX),
            fields_len: u32::try_from(fields_len).unwrap_or(0),
            bad,
        });
        Ok(Some(u))
    }

    fn access(&mut self, bad: &mut u32) -> R<DesiredAccess> {
        let mut a = DesiredAccess::default();
        let mut fields = Fields::new(ACCESS_KEYS, "`accessInfo`");
        while let Some((name, _)) = self.field_key(&mut fields)? {
            let key_id = field_id(Kind::User, &format!("accessInfo.{name}")).unwrap_or(u16::MAX);
            if name == "role" {
                if let Some((s, p)) = self.string("role")? {
                    self.field(key_id, p);
                    match Role::parse(&s) {
                        Some(r) => a.role = Some(r),
                        None => {
                            let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
                            let mut d =
                                Diagnostic::error("invalidRole", format!("`{s}` is not a role"));
                            d = match did_you_mean(&s, &names) {
                                Some(r) => d.with_hint(format!(
                                    "did you mean `{r}`? Roles are case-sensitive: \
                                     Administrator, Manager or User"
                                )),
                                None => d.with_hint(
                                    "use exactly `Administrator`, `Manager` or `User` \
                                     (case-sensitive)",
                                ),
                            };
                            self.report(d, p);
                            *bad |= 1 << key_id;
                        }
                    }
                }
                continue;
            }
            let list = self.string_list(name, |pos, p| {
                pos.fields.push(FieldPos::new(ELEMENT + key_id, p));
            })?;
            match list {
                Some((set, p)) => {
                    self.field(key_id, p);
                    match name {
                        "memberOf" => a.member_of = Some(set),
                        "adminOf" => a.admin_of = Some(set),
                        "inheritedAdminOf" => a.inherited_admin_of = Some(set),
                        _ => a.interest_of = Some(set),
                    }
                }
                None => *bad |= 1 << key_id,
            }
        }
        Ok(a)
    }

    fn properties(&mut self, bad: &mut u32) -> R<BTreeMap<String, String>> {
        let mut map = BTreeMap::new();
        let mut nulls: Vec<String> = Vec::new();
        let start = self.pos.fields.len();
        let props_bit = field_id(Kind::User, "externalProperties").unwrap_or(0);
        while let Some((key, kpos)) = self.key()? {
            let key_id = self.pos.prop_id(&key);
            if map.contains_key(&key) || nulls.contains(&key) {
                let first = self.pos.fields[start..]
                    .iter()
                    .find(|f| f.key == key_id)
                    .map_or(kpos, |f| f.pos(kpos.file));
                let d = Diagnostic::error(
                    "duplicateKey",
                    format!("the attribute `{key}` is given twice"),
                )
                .with_hint("keep one of them: YAML tools disagree on which one wins")
                .with_api_error("validateExternalProperties");
                let d = self.files.at(d, kpos);
                let d = self.files.related(d, first, "first given here");
                self.diags.push(d);
                let v = self.next()?;
                self.skip(&v)?;
                continue;
            }
            let field = format!("externalProperties.{key}");
            let ev = self.peek()?.clone();
            if let K::Scalar(v, s, t) = &ev.kind
                && classify(v, *s, t.as_ref()) == Class::Null
            {
                self.next()?;
                let d = Diagnostic::error(
                    "emptyAttributeValue",
                    format!("the attribute `{key}` is null"),
                )
                .with_hint(format!(
                    "give `{key}` a value, or remove the key to leave it as is on the server \
                         (an attribute cannot be cleared through the API)"
                ))
                .with_api_error("validateExternalProperties");
                self.report(d, ev.pos);
                self.pos.fields.push(FieldPos::new(key_id, ev.pos));
                *bad |= 1 << props_bit;
                nulls.push(key);
                continue;
            }
            match self.string(&field)? {
                Some((s, p)) => {
                    self.pos.fields.push(FieldPos::new(key_id, p));
                    map.insert(key, s);
                }
                None => {
                    self.pos.fields.push(FieldPos::new(key_id, kpos));
                    *bad |= 1 << props_bit;
                    nulls.push(key);
                }
            }
        }
        Ok(map)
    }

    fn group(&mut self) -> R<Option<DesiredGroup>> {
        let ev = self.next()?;
        if !matches!(ev.kind, K::MapStart) {
            self.wrong_type(
                &ev,
                "groups",
                "a list of mappings",
                "each group is a mapping: `- externalId: ...` with `name:` below it".to_owned(),
            )?;
            return Ok(None);
        }
        let fields_start = self.pos.fields.len();
        let mut bad = 0u32;
        let mut g = DesiredGroup::new("", "");
        let mut fields = Fields::new(GROUP_KEYS, "a group");
        while let Some((name, _)) = self.field_key(&mut fields)? {
            let key_id = field_id(Kind::Group, name).unwrap_or(u16::MAX);
            let before = self.diags.len();
            match name {
                "protected" => {
                    if let Some((b, p)) = self.boolean(name)? {
                        self.field(key_id, p);
                        g.protected = Some(b);
                    }
                }
                "parent" => {
                    let ev = self.peek()?.clone();
                    let is_null = matches!(&ev.kind, K::Scalar(v, s, t)
                        if classify(v, *s, t.as_ref()) == Class::Null);
                    if is_null {
                        self.next()?;
                        self.field(key_id, ev.pos);
                        g.parent = ParentRef::Root;
                    } else if let Some((s, p)) = self.string(name)? {
                        self.field(key_id, p);
                        g.parent = ParentRef::Group(s);
                    }
                }
                _ => {
                    if let Some((s, p)) = self.string(name)? {
                        self.field(key_id, p);
                        match name {
                            "externalId" => g.external_id = s,
                            "name" => g.name = s,
                            _ => g.description = Some(s),
                        }
                    }
                }
            }
            if self.diags.len() > before && key_id < 32 {
                bad |= 1 << key_id;
            }
        }
        for meant in fields.meant_but_missing() {
            let k = field_id(Kind::Group, meant).unwrap_or(u16::MAX);
            if k < 32 {
                bad |= 1 << k;
            }
        }
        let fields_len = self.pos.fields.len() - fields_start;
        self.pos.groups.push(RecordSrc {
            pos: ev.pos,
            fields_start: u32::try_from(fields_start).unwrap_or(u32::MAX),
            fields_len: u32::try_from(fields_len).unwrap_or(0),
            bad,
        });
        Ok(Some(g))
    }

    fn target(&mut self) -> R<Option<Target>> {
        let Some(_) = self.expect_map("target", "write `target:` with `endpoint:` below it")?
        else {
            return Ok(None);
        };
        let mut t = Target::default();
        let mut fields = Fields::new(TARGET_KEYS, "`target`");
        while let Some((name, _)) = self.field_key(&mut fields)? {
            let vpos = self.peek()?.pos;
            self.pos.top.push((format!("target.{name}"), vpos));
            match name {
                "endpoint" | "tokenEnv" | "tokenHeader" => {
                    let s = self.string(name)?.map(|(s, _)| s);
                    match name {
                        "endpoint" => t.endpoint = s,
                        "tokenEnv" => t.token_env = s,
                        _ => t.token_header = s,
                    }
                }
                _ => {
                    let n = self.integer(name, "outOfRange", u32::MAX)?.map(|(n, _)| n);
                    match name {
                        "connectTimeoutSecs" => t.connect_timeout_secs = n,
                        "requestTimeoutSecs" => t.request_timeout_secs = n,
                        "maxRetries" => t.max_retries = n,
                        // Range (1..=20000) checked in rules.rs, located.
                        "maxPerRequest" => t.max_per_request = n,
                        _ => t.retry_budget_secs = n,
                    }
                }
            }
        }
        Ok(Some(t))
    }

    fn settings(&mut self) -> R<Option<Settings>> {
        let Some(_) = self.expect_map(
            "settings",
            "write `settings:` with `maxUsersDeleted: 200` and the like below it",
        )?
        else {
            return Ok(None);
        };
        let mut s = Settings::default();
        let mut fields = Fields::new(SETTINGS_KEYS, "settings");
        while let Some((name, _)) = self.field_key(&mut fields)? {
            let vpos = self.peek()?.pos;
            self.pos.top.push((format!("settings.{name}"), vpos));
            if name == "forceSetLanguage" {
                if let Some((b, _)) = self.boolean(name)? {
                    s.force_set_language = b;
                }
            } else if let Some(limit) = LimitName::parse(name)
                && let Some((n, _)) =
                    self.integer(name, "limitOutOfRange", orgform_model::MAX_APPLY_LIMIT)?
            {
                s.limits.set(limit, n);
            }
        }
        Ok(Some(s))
    }

    fn safety(&mut self) -> R<Option<Safety>> {
        let Some(_) = self.expect_map(
            "safety",
            "write `safety:` with `maxUserDeletionPercent: 25` and the like below it",
        )?
        else {
            return Ok(None);
        };
        let mut s = Safety::default();
        let mut fields = Fields::new(SAFETY_KEYS, "`safety`");
        while let Some((name, _)) = self.field_key(&mut fields)? {
            let vpos = self.peek()?.pos;
            self.pos.top.push((format!("safety.{name}"), vpos));
            let percent = name.ends_with("Percent");
            let (code, max) = if percent {
                ("percentOutOfRange", 100)
            } else {
                ("outOfRange", u32::MAX)
            };
            let n = self.integer(name, code, max)?.map(|(n, _)| n);
            match name {
                "maxUserDeletionPercent" => s.max_user_deletion_percent = n,
                "maxGroupDeletionPercent" => s.max_group_deletion_percent = n,
                "minPopulation" => s.min_population = n,
                "maxMembershipLossPercent" => s.max_membership_loss_percent = n,
                _ => s.min_administrators = n,
            }
        }
        Ok(Some(s))
    }

    fn attributes(&mut self) -> R<Option<BTreeMap<String, AttributeDef>>> {
        let Some(_) = self.expect_map(
            "attributes",
            "write `attributes:` with one `name: [allowed, values]` or `name: {}` per attribute",
        )?
        else {
            return Ok(None);
        };
        let mut map: BTreeMap<String, AttributeDef> = BTreeMap::new();
        let mut places: HashMap<String, Pos> = HashMap::new();
        while let Some((key, kpos)) = self.key()? {
            if let Some(first) = places.get(&key).copied() {
                self.duplicate_key(&key, kpos, first)?;
                continue;
            }
            places.insert(key.clone(), kpos);
            let ev = self.peek()?.clone();
            self.pos.top.push((format!("attributes.{key}"), ev.pos));
            let def = match &ev.kind {
                K::SeqStart => self
                    .string_list(&key, |_, _| {})?
                    .map(|(values, _)| AttributeDef {
                        values: Some(values),
                        required: false,
                    }),
                K::MapStart => {
                    self.next()?;
                    self.attribute_def(&key)?
                }
                _ => {
                    let ev = self.next()?;
                    let hint = format!(
                        "write `{key}: [Allowed, Values]`, `{key}: {{}}` for any string, or \
                         `{key}: {{values: [...], required: true}}`"
                    );
                    if let K::Scalar(v, s, t) = &ev.kind
                        && classify(v, *s, t.as_ref()) == Class::Null
                    {
                        let d = Diagnostic::error(
                            "nullValue",
                            format!("the attribute `{key}` is null"),
                        )
                        .with_hint(hint);
                        self.report(d, ev.pos);
                        continue;
                    }
                    self.wrong_type(&ev, &key, "a list of allowed values or a mapping", hint)?;
                    None
                }
            };
            if let Some(def) = def {
                map.insert(key, def);
            }
        }
        Ok(Some(map))
    }

    fn attribute_def(&mut self, attr: &str) -> R<Option<AttributeDef>> {
        let mut def = AttributeDef::default();
        let mut fields = Fields::new(ATTRIBUTE_KEYS, format!("the attribute `{attr}`"));
        while let Some((name, _)) = self.field_key(&mut fields)? {
            if name == "values" {
                def.values = self.string_list("values", |_, _| {})?.map(|(v, _)| v);
            } else if let Some((b, _)) = self.boolean("required")? {
                def.required = b;
            }
        }
        Ok(Some(def))
    }
}

/// The value of a scalar token as written (quotes removed; escapes kept).
pub(crate) fn unquote(token: &str) -> String {
    let t = token.trim();
    for q in ['"', '\''] {
        if let Some(inner) = t.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner.to_owned();
        }
    }
    t.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_schema_classification() {
        let plain = |s| classify(s, ScalarStyle::Plain, None);
        assert_eq!(plain("no"), Class::Str);
        assert_eq!(plain("yes"), Class::Str);
        assert_eq!(plain("true"), Class::Bool(true));
        assert_eq!(plain("0000897"), Class::Int);
        assert_eq!(plain("+46701234567"), Class::Int);
        assert_eq!(plain("1e3"), Class::Float);
        assert_eq!(plain("2021-03-01"), Class::Str);
        assert_eq!(plain("E001084"), Class::Str);
        assert_eq!(plain("~"), Class::Null);
        assert_eq!(plain("."), Class::Str);
        assert_eq!(plain("1.5"), Class::Float);
        assert_eq!(plain("0x1F"), Class::Int);
        assert_eq!(
            classify("0000897", ScalarStyle::DoubleQuoted, None),
            Class::Str
        );
    }
}
