//! Rows to a desired org: the mapping applied to every exported row, with
//! the cell each field came from (so a later problem points back at it).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use orgform_model::{AttributeDef, DesiredGroup, DesiredOrg, DesiredUser, ParentRef, Role};
use orgform_spec::{Diagnostic, Location};

use crate::mapping::{
    AttributeForm, Field, GroupKind, GroupListField, Invalid, MappingFile, ParentSpec, PhoneField,
    Required, SourceRef,
};
use crate::phone::{self, Problem};
use crate::source::{At, Place, Table, column_key};

/// A cell: table, row, column (`None`: the row as a whole).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct CellRef {
    pub table: u32,
    pub row: u32,
    pub col: Option<u32>,
}

impl CellRef {
    pub fn loc(self, tables: &[Table]) -> Location {
        self.place(tables).loc
    }

    /// The cell's place, with its source line.
    pub fn place(self, tables: &[Table]) -> Place<'_> {
        tables[self.table as usize].cell_place(self.row as usize, self.col.map(|c| c as usize))
    }
}

/// Where a user's fields came from.
#[derive(Debug, Clone)]
pub(crate) struct UserOrigin {
    pub row: CellRef,
    /// Spec path (`email`, `accessInfo.memberOf`) -> cell: a handful per
    /// user, so a list (a map of owned paths per user was a good part of
    /// the import's time and memory at 100k rows).
    fields: Vec<(&'static str, CellRef)>,
    /// `externalProperties` key (shared with the mapping's) -> cell.
    props: Vec<(std::sync::Arc<str>, CellRef)>,
}

impl UserOrigin {
    fn new(row: CellRef) -> UserOrigin {
        UserOrigin {
            row,
            fields: Vec::new(),
            props: Vec::new(),
        }
    }

    /// Records the cell of the field at `path` (the last one wins).
    fn set(&mut self, path: &'static str, cell: CellRef) {
        match self.fields.iter_mut().find(|(p, _)| *p == path) {
            Some(slot) => slot.1 = cell,
            None => self.fields.push((path, cell)),
        }
    }

    fn set_prop(&mut self, key: &std::sync::Arc<str>, cell: CellRef) {
        match self.props.iter_mut().find(|(k, _)| **k == **key) {
            Some(slot) => slot.1 = cell,
            None => self.props.push((key.clone(), cell)),
        }
    }

    /// The cell of the field at `path` (`email`, `accessInfo.memberOf`).
    pub fn get(&self, path: &str) -> Option<CellRef> {
        self.fields
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, c)| *c)
    }

    /// The cell of the external property `key`.
    pub fn prop(&self, key: &str) -> Option<CellRef> {
        self.props
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, c)| *c)
    }
}

/// The result of converting the rows.
#[derive(Debug)]
pub(crate) struct Built {
    pub org: DesiredOrg,
    /// Where each of `org.users` came from, in the same order.
    pub users: Vec<UserOrigin>,
    /// Group externalId -> the first cell that named it.
    pub groups: HashMap<String, CellRef>,
    /// Fixed parents named by the mapping (expected in `externalGroups`).
    pub fixed_parents: BTreeSet<String>,
    /// Rows (table, row) that already have an import error: validation
    /// problems of their users would only repeat it.
    pub bad_rows: HashSet<(u32, u32)>,
}

/// A column or template resolved against one table's header.
#[derive(Debug, Clone)]
enum Src {
    Col(usize),
    Tpl(Vec<Part>),
}

#[derive(Debug, Clone)]
enum Part {
    Lit(String),
    Col(usize),
}

/// Splits a template into literal text and `{Column}` names.
fn template_parts(t: &str) -> Result<Vec<(bool, String)>, String> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                lit.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                lit.push('}');
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => name.push(c),
                        None => return Err(format!("the template `{t}` has a `{{` without `}}`")),
                    }
                }
                if !lit.is_empty() {
                    out.push((false, std::mem::take(&mut lit)));
                }
                out.push((true, name));
            }
            '}' => {
                return Err(format!(
                    "the template `{t}` has a `}}` without `{{` (write `}}}}`)"
                ));
            }
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        out.push((false, lit));
    }
    Ok(out)
}

/// Resolves column names against one table, collecting missing ones.
struct Resolver<'t> {
    table: &'t Table,
    tix: u32,
    missing: BTreeMap<String, String>,
}

impl Resolver<'_> {
    fn col(&mut self, name: &str, used_by: &str) -> Option<usize> {
        let c = self.table.index.get(&column_key(name)).copied();
        if c.is_none() {
            self.missing
                .entry(name.trim().to_owned())
                .or_insert_with(|| used_by.to_owned());
        }
        c
    }

    fn src(&mut self, r: SourceRef<'_>, used_by: &str, diags: &mut Vec<Diagnostic>) -> Option<Src> {
        match r {
            SourceRef::Column(c) => self.col(c, used_by).map(Src::Col),
            SourceRef::Template(t) => self.template(t, used_by, diags),
        }
    }

    fn template(&mut self, t: &str, used_by: &str, diags: &mut Vec<Diagnostic>) -> Option<Src> {
        let parts = match template_parts(t) {
            Ok(p) => p,
            Err(m) => {
                if self.tix == 0 {
                    diags.push(Diagnostic::error("invalidMapping", m).with_hint(
                        "a template names columns in braces: \"{First name} {Last name}\"",
                    ));
                }
                return None;
            }
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (is_col, s) in parts {
            if is_col {
                match self.col(&s, used_by) {
                    Some(c) => out.push(Part::Col(c)),
                    None => ok = false,
                }
            } else {
                out.push(Part::Lit(s));
            }
        }
        ok.then_some(Src::Tpl(out))
    }
}

impl Src {
    /// The value (cells trimmed) and the column to point at.
    fn get(&self, row: &[Option<String>]) -> (String, Option<usize>) {
        let cell = |c: usize| row.get(c).and_then(|v| v.as_deref()).unwrap_or("").trim();
        match self {
            Src::Col(c) => (cell(*c).to_owned(), Some(*c)),
            Src::Tpl(parts) => {
                let mut s = String::new();
                let mut first = None;
                for p in parts {
                    match p {
                        Part::Lit(l) => s.push_str(l),
                        Part::Col(c) => {
                            first.get_or_insert(*c);
                            s.push_str(cell(*c));
                        }
                    }
                }
                (s.trim().to_owned(), first)
            }
        }
    }
}

/// A value map key, as matched the second time: trimmed, lower-cased,
/// runs of spaces, `-` and `_` as one space.
fn loose(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.trim().chars() {
        if c.is_whitespace() || c == '-' || c == '_' {
            space = true;
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// A unit name for its derived id: trimmed, inner whitespace collapsed, lower-cased.
pub(crate) fn unit_key(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A field's value map and default, prepared for lookups.
#[derive(Debug, Clone, Default)]
struct ValueMap {
    exact: HashMap<String, String>,
    loose: HashMap<String, String>,
    default: Option<String>,
}

impl ValueMap {
    fn of(f: &Field) -> ValueMap {
        let Some(l) = f.long() else {
            return ValueMap::default();
        };
        ValueMap {
            exact: l.map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            loose: l.map.iter().map(|(k, v)| (loose(k), v.clone())).collect(),
            default: l.default.clone(),
        }
    }

    fn apply(&self, raw: String) -> String {
        if raw.is_empty() {
            return self.default.clone().unwrap_or_default();
        }
        if let Some(v) = self.exact.get(&raw) {
            return v.clone();
        }
        if !self.loose.is_empty()
            && let Some(v) = self.loose.get(&loose(&raw))
        {
            return v.clone();
        }
        self.default.clone().unwrap_or(raw)
    }
}

/// One group kind resolved against a table.
struct KindCols {
    name: Src,
    id: Option<Src>,
}

/// A plain field resolved against a table.
struct FieldCols {
    path: &'static str,
    src: Src,
    map: ValueMap,
}

struct Prop {
    key: std::sync::Arc<str>,
    src: Src,
    map: ValueMap,
    required: bool,
}

struct TableCols {
    only: Option<(usize, String)>,
    fields: Vec<FieldCols>,
    phone: Option<(Src, Option<phone::National>, Invalid)>,
    kinds: Vec<Option<KindCols>>,
    admin_of: Option<usize>,
    interest_of: Option<usize>,
    props: Vec<Prop>,
}

/// A unit with an id: externalId, name, first cell.
type Unit = (String, String, CellRef);

/// Accumulates one group over the rows that name it.
#[derive(Debug)]
struct GroupAcc {
    kind: usize,
    derived: bool,
    /// Spelling -> (rows, first cell).
    names: BTreeMap<String, (usize, CellRef)>,
    parent: Option<(String, CellRef)>,
    first: CellRef,
}

fn split_cell(value: &str, sep: Option<&str>) -> Vec<String> {
    match sep {
        Some(sep) if !sep.is_empty() => value
            .split(sep)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        _ if value.is_empty() => Vec::new(),
        _ => vec![value.to_owned()],
    }
}

/// A pending `adminOf`/`interestOf` of unit names of a kind: the user's
/// index, the field's path, the names, the cell, the kind.
type PendingList = (usize, &'static str, Vec<String>, CellRef, usize);

/// The conversion's state over every table and row.
struct Conv<'a> {
    tables: &'a [Table],
    m: &'a MappingFile,
    diags: &'a mut Vec<Diagnostic>,
    users: Vec<DesiredUser>,
    origins: Vec<UserOrigin>,
    by_id: HashMap<String, usize>,
    groups: BTreeMap<String, GroupAcc>,
    pending_lists: Vec<PendingList>,
    exported_rows: usize,
    bad_rows: HashSet<(u32, u32)>,
    rows_seen: usize,
    /// The current table's phones, by row ([`phones_of`]).
    phones: Vec<Option<Result<String, Problem>>>,
    attributes: BTreeMap<String, AttributeDef>,
    id_column_in: Vec<Vec<bool>>,
}

/// One row being converted.
#[derive(Clone, Copy)]
struct Row<'r> {
    tref: u32,
    ri: usize,
    cells: &'r [Option<String>],
    cols: &'r TableCols,
}

impl Row<'_> {
    /// A cell of this row (`None`: the row as a whole).
    fn cell(&self, col: Option<usize>) -> CellRef {
        CellRef {
            table: self.tref,
            row: u32::try_from(self.ri).unwrap_or(u32::MAX),
            col: col.and_then(|c| u32::try_from(c).ok()),
        }
    }
}

/// What the groups step gives: the groups, the cell of each, the fixed parents.
type GroupsOut = (
    Vec<DesiredGroup>,
    HashMap<String, CellRef>,
    BTreeSet<String>,
);

/// Applies the mapping to every table.
pub(crate) fn convert(
    tables: &[Table],
    m: &MappingFile,
    diags: &mut Vec<Diagnostic>,
) -> Option<Built> {
    if let Some(PhoneField::Long(p)) = &m.users.phone
        && let Some(country) = p.default_country.as_deref().and_then(phone::region)
        && phone::National::new(&country).is_none()
    {
        diags.push(
            Diagnostic::error(
                "invalidMapping",
                format!("libphonenumber has no numbering plan for `defaultCountry: {country}`"),
            )
            .with_hint("write national numbers of that country in international form (`+…`) and drop `defaultCountry`"),
        );
        return None;
    }
    let mut c = Conv {
        tables,
        m,
        diags,
        users: Vec::new(),
        origins: Vec::new(),
        by_id: HashMap::new(),
        groups: BTreeMap::new(),
        pending_lists: Vec::new(),
        exported_rows: 0,
        bad_rows: HashSet::new(),
        rows_seen: 0,
        phones: Vec::new(),
        attributes: attribute_defs(m),
        id_column_in: vec![Vec::new(); m.groups.len()],
    };
    for (tix, table) in tables.iter().enumerate() {
        c.table(tix, table);
    }
    c.check_exported();
    c.check_id_columns();
    let groups = c.build_groups();
    c.resolve_pending_lists();
    Some(c.finish(groups))
}

/// Every row's phone normalised (`None`: no phone column, or an empty
/// cell), on two cores: a national number costs the crate's parser a few
/// microseconds, a good part of the import of 100k rows on one core. Rows
/// that `only` leaves out are normalised too, and never looked at.
fn phones_of(table: &Table, cols: &TableCols) -> Vec<Option<Result<String, Problem>>> {
    let Some((src, country, _)) = &cols.phone else {
        return Vec::new();
    };
    let one = |cells: &Vec<Option<String>>| {
        let (raw, _) = src.get(cells);
        (!raw.is_empty()).then(|| phone::normalize(&raw, country.as_ref()))
    };
    let rows = &table.rows;
    if rows.len() < 2048 {
        return rows.iter().map(one).collect();
    }
    let (a, b) = rows.split_at(rows.len() / 2);
    std::thread::scope(|scope| {
        let second = scope.spawn(|| b.iter().map(one).collect::<Vec<_>>());
        let mut out: Vec<_> = a.iter().map(one).collect();
        // A panic there is a bug: raised here as it was, as `import` does
        // for its other thread, not hidden by doing the work again.
        out.extend(
            second
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        );
        out
    })
}

impl Conv<'_> {
    /// One table: its header checked against the mapping, then its rows.
    fn table(&mut self, tix: usize, table: &Table) {
        let (m, diags) = (self.m, &mut *self.diags);
        let tref = u32::try_from(tix).unwrap_or(u32::MAX);
        for dup in &table.duplicated {
            diags.push(
                Diagnostic::warning(
                    "duplicateColumn",
                    format!("the column `{dup}` is in the header twice; the first one is used"),
                )
                .at(table.header_place(table.index.get(dup).copied())),
            );
        }
        let mut r = Resolver {
            table,
            tix: tref,
            missing: BTreeMap::new(),
        };
        let Some(cols) = resolve(&mut r, m, diags, &mut self.id_column_in) else {
            return;
        };
        if !r.missing.is_empty() {
            let found: Vec<&str> = table.columns.iter().map(String::as_str).take(30).collect();
            for (name, used_by) in &r.missing {
                diags.push(
                    Diagnostic::error(
                        "missingColumn",
                        format!("`{}` has no column `{name}` (the mapping's `{used_by}`)", table.path.display()),
                    )
                    .with_hint(format!(
                        "the header has: {}; export the report with that column, or change the mapping",
                        found.join(", ")
                    ))
                    .at(table.header_place(None)),
                );
            }
            return;
        }
        self.phones = phones_of(table, &cols);
        for (ri, cells) in table.rows.iter().enumerate() {
            if cells.is_empty() {
                continue;
            }
            self.rows_seen += 1;
            self.row(Row {
                tref,
                ri,
                cells,
                cols: &cols,
            });
        }
    }

    /// One row: filtered by `only`, then a user with its groups.
    fn row(&mut self, r: Row<'_>) {
        if let Some((c, equals)) = &r.cols.only {
            let v = r
                .cells
                .get(*c)
                .and_then(|v| v.as_deref())
                .unwrap_or("")
                .trim();
            if !v.eq_ignore_ascii_case(equals.trim()) {
                return;
            }
        }
        self.exported_rows += 1;
        let diags_before = self.diags.len();
        let mut origin = UserOrigin::new(r.cell(None));
        let mut user = self.row_user(r, &mut origin);
        self.row_phone(r, &mut user, &mut origin);
        self.row_props(r, &mut user, &mut origin);
        let (member_of, row_units) = self.row_units(r);
        self.row_parents(r, &row_units);
        let pending = self.row_lists(r, member_of, &mut user, &mut origin);
        if self.diags[diags_before..]
            .iter()
            .any(|d| d.severity.is_error())
        {
            self.bad_rows.insert((r.tref, origin.row.row));
            if user.external_id.is_empty() {
                return;
            }
        }
        self.add_user(user, origin, pending);
    }

    /// The plain fields, `active` and `role`.
    fn row_user(&mut self, r: Row<'_>, origin: &mut UserOrigin) -> DesiredUser {
        let (tables, diags) = (self.tables, &mut *self.diags);
        let (row, cols, rref) = (r.cells, r.cols, |c| r.cell(c));
        let mut values: HashMap<&'static str, String> = HashMap::new();
        for f in &cols.fields {
            let (raw, col) = f.src.get(row);
            let v = f.map.apply(raw);
            origin.set(f.path, rref(col));
            if v.is_empty() {
                if matches!(f.path, "externalId" | "firstName" | "lastName" | "email") {
                    diags.push(
                        Diagnostic::error("emptyCell", format!("the user's `{}` is empty", f.path))
                            .with_hint(format!(
                                "`{}` is required; fill the cell in the HR system, or leave the row out with `only`",
                                f.path
                            ))
                            .at(rref(col).place(tables)),
                    );
                }
                continue;
            }
            values.insert(f.path, v);
        }
        let get = |k: &str| values.get(k).cloned().unwrap_or_default();
        let mut user = DesiredUser::new(
            &get("externalId"),
            &get("firstName"),
            &get("lastName"),
            &get("email"),
        );
        user.timezone = values.get("timezone").cloned();
        user.language = values.get("language").cloned();
        if let Some(v) = values.get("active") {
            match v.as_str() {
                "true" => user.active = Some(true),
                "false" => user.active = Some(false),
                other => diags.push(
                    Diagnostic::error("invalidValue", format!("`active` is `{other}`, not `true` or `false`"))
                        .with_hint("map the HR values: active: {from: Status, map: {Active: \"true\"}, default: \"false\"}")
                        .at(origin.get("active").unwrap_or(origin.row).place(tables)),
                ),
            }
        }
        if let Some(v) = values.get("role") {
            match Role::parse(v) {
                Some(role) => user.access_info.role = Some(role),
                None => diags.push(
                    Diagnostic::error(
                        "invalidRole",
                        format!("the role `{v}` is none of `Administrator`, `Manager`, `User`"),
                    )
                    .with_hint(format!(
                        "map it: role: {{from: ..., map: {{{v}: User}}, default: User}}"
                    ))
                    .at(origin.get("role").unwrap_or(origin.row).place(tables)),
                ),
            }
        }
        user
    }

    /// The phone, normalised to E.164.
    fn row_phone(&mut self, r: Row<'_>, user: &mut DesiredUser, origin: &mut UserOrigin) {
        let (tables, diags) = (self.tables, &mut *self.diags);
        let (row, cols, rref) = (r.cells, r.cols, |c| r.cell(c));
        if let Some((src, country, invalid)) = &cols.phone {
            let (raw, col) = src.get(row);
            origin.set("phone", rref(col));
            if !raw.is_empty() {
                let normalized = match self.phones.get_mut(r.ri).and_then(Option::take) {
                    Some(done) => done,
                    None => phone::normalize(&raw, country.as_ref()),
                };
                match normalized {
                    Ok(p) => user.phone = Some(p),
                    Err(problem) => {
                        let why = match &problem {
                            Problem::NotANumber => {
                                "holds characters that are no part of a phone number".to_owned()
                            }
                            Problem::National => {
                                "is a national number and the mapping has no `defaultCountry`"
                                    .to_owned()
                            }
                            Problem::NotValidFor(country) => {
                                format!(
                                    "is not a valid {country} number (the mapping's `defaultCountry`)"
                                )
                            }
                            Problem::Length(n) => format!(
                                "has {n} digits with its country code; E.164 allows 8 to 15"
                            ),
                        };
                        let msg = format!("the phone `{raw}` {why}");
                        let hint = match problem {
                            Problem::NotValidFor(_) => {
                                "check the number in the HR system (a digit too many or too few, or a \
                                 range the country does not use), write it in international form if it \
                                 is of another country, or leave it blank; a mapping may set `invalid: blank`"
                            }
                            _ => {
                                "write it in international form (`+46 70 123 45 67`) in the HR system, \
                                 or leave it blank; a mapping may set `defaultCountry` or `invalid: blank`"
                            }
                        };
                        let d = match invalid {
                            Invalid::Error => Diagnostic::error("invalidPhone", msg)
                                .with_api_error("validateThatPhoneNumberIsCorrect"),
                            Invalid::Blank => Diagnostic::warning(
                                "phoneLeftBlank",
                                format!("{msg}; it is left out"),
                            ),
                        };
                        diags.push(d.with_hint(hint).at(rref(col).place(tables)));
                    }
                }
            }
        }
    }

    /// The external properties, checked against the attributes.
    fn row_props(&mut self, r: Row<'_>, user: &mut DesiredUser, origin: &mut UserOrigin) {
        let (tables, diags, attributes) = (self.tables, &mut *self.diags, &self.attributes);
        let (row, cols, rref) = (r.cells, r.cols, |c| r.cell(c));
        let active = user.active != Some(false);
        for p in &cols.props {
            let (raw, col) = p.src.get(row);
            let v = p.map.apply(raw);
            origin.set_prop(&p.key, rref(col));
            if v.is_empty() {
                if p.required && active {
                    diags.push(
                        Diagnostic::error(
                            "requiredAttributeMissing",
                            format!("the attribute `{}` is required on active users and this cell is empty", p.key),
                        )
                        .with_hint("fill it in the HR system: the HR guide marks it \"Required if active\"")
                        .with_api_error("validateExternalProperties")
                        .at(rref(col).place(tables)),
                    );
                }
                continue;
            }
            if let Some(Some(allowed)) = attributes.get(&*p.key).map(|a| a.values.as_ref())
                && !allowed.contains(&v)
            {
                let list: Vec<&str> = allowed.iter().map(String::as_str).collect();
                diags.push(
                    Diagnostic::error(
                        "attributeValueNotAllowed",
                        format!("`{v}` is not an allowed value of the attribute `{}`", p.key),
                    )
                    .with_hint(format!(
                        "allowed: {}; map the HR value to one of them in the mapping's `map`",
                        list.join(", ")
                    ))
                    .with_api_error("validateExternalProperties")
                    .at(rref(col).place(tables)),
                );
                continue;
            }
            user.external_properties.insert(p.key.to_string(), v);
        }
    }

    /// The row's units of every kind: the groups it is a member of, and
    /// per kind the externalIds.
    fn row_units(&mut self, r: Row<'_>) -> (BTreeSet<String>, Vec<Vec<String>>) {
        let (tables, m, diags, groups) = (self.tables, self.m, &mut *self.diags, &mut self.groups);
        let (row, cols, rref) = (r.cells, r.cols, |c| r.cell(c));
        // The row's units.
        let mut member_of: BTreeSet<String> = BTreeSet::new();
        let mut row_units: Vec<Vec<String>> = vec![Vec::new(); m.groups.len()];
        for (k, kind) in m.groups.iter().enumerate() {
            let Some(kc) = &cols.kinds[k] else { continue };
            let (names_raw, name_col) = kc.name.get(row);
            let names = split_cell(&names_raw, kind.split.as_deref());
            let ids: Option<(Vec<String>, Option<usize>)> = kc.id.as_ref().map(|s| {
                let (v, c) = s.get(row);
                (split_cell(&v, kind.split.as_deref()), c)
            });
            if let Some((ids, id_col)) = &ids
                && ids.len() != names.len()
            {
                diags.push(
                    Diagnostic::error(
                        "unitIdsMisaligned",
                        format!(
                            "this row has {} {} name{} and {} id{}; they must align",
                            names.len(),
                            kind.kind,
                            if names.len() == 1 { "" } else { "s" },
                            ids.len(),
                            if ids.len() == 1 { "" } else { "s" }
                        ),
                    )
                    .with_hint("the id cell lists one id per name, in the same order and with the same separator")
                    .at(rref(*id_col).place(tables)),
                );
                continue;
            }
            for (i, name) in names.iter().enumerate() {
                let (id, derived, cell) = match &ids {
                    Some((ids, id_col)) => (ids[i].clone(), false, rref(*id_col)),
                    None => (
                        format!("{}:{}", kind.kind, unit_key(name)),
                        true,
                        rref(name_col),
                    ),
                };
                let acc = groups.entry(id.clone()).or_insert_with(|| GroupAcc {
                    kind: k,
                    derived,
                    names: BTreeMap::new(),
                    parent: None,
                    first: rref(name_col),
                });
                if acc.kind != k {
                    diags.push(
                        Diagnostic::error(
                            "duplicateExternalId",
                            format!(
                                "the externalId `{id}` is both a {} and a {}",
                                m.groups[acc.kind].kind, kind.kind
                            ),
                        )
                        .with_hint(format!(
                            "give each kind its own ids, e.g. `id: \"{}-{{...}}\"` instead of `idColumn`",
                            kind.kind
                        ))
                        .at(cell.place(tables))
                        .with_related(acc.first.loc(tables), "first used here"),
                    );
                    continue;
                }
                let e = acc.names.entry(name.clone()).or_insert((0, rref(name_col)));
                e.0 += 1;
                member_of.insert(id.clone());
                row_units[k].push(id);
            }
        }
        (member_of, row_units)
    }

    /// Parents, now that the row's units are known.
    fn row_parents(&mut self, r: Row<'_>, row_units: &[Vec<String>]) {
        let (tables, m, diags, groups) = (self.tables, self.m, &mut *self.diags, &mut self.groups);
        let (row, cols, rref) = (r.cells, r.cols, |c| r.cell(c));
        // Parents, now that the row's units are known.
        for (k, kind) in m.groups.iter().enumerate() {
            let Some(Some(ParentSpec::Kind(pk))) = &kind.parent else {
                continue;
            };
            let Some(pi) = m.groups.iter().position(|g| g.kind == pk.kind) else {
                continue;
            };
            for id in &row_units[k] {
                let cell = cols.kinds[pi]
                    .as_ref()
                    .map_or(rref(None), |kc| rref(kc.name.get(row).1));
                let parent = match row_units[pi].as_slice() {
                    [one] => one.clone(),
                    [] => {
                        diags.push(
                            Diagnostic::error(
                                "missingParent",
                                format!(
                                    "the {} `{id}` needs its parent {}, and this row has none",
                                    kind.kind, pk.kind
                                ),
                            )
                            .with_hint(format!("fill the {} cell", pk.kind))
                            .at(cell.place(tables)),
                        );
                        continue;
                    }
                    _ => {
                        diags.push(
                            Diagnostic::error(
                                "ambiguousParent",
                                format!("this row has several {} units; the parent of `{id}` must be one", pk.kind),
                            )
                            .with_hint("a parent kind needs one unit per row")
                            .at(cell.place(tables)),
                        );
                        continue;
                    }
                };
                if let Some(acc) = groups.get_mut(id) {
                    match &acc.parent {
                        None => acc.parent = Some((parent, cell)),
                        Some((p, first)) if *p != parent => {
                            diags.push(
                                Diagnostic::error(
                                    "conflictingParent",
                                    format!("the {} `{id}` has the parent `{parent}` here and `{p}` in another row", kind.kind),
                                )
                                .with_hint("a group has one parent; fix the HR data so every row agrees")
                                .at(cell.place(tables))
                                .with_related(first.loc(tables), "the other parent"),
                            );
                        }
                        Some(_) => {}
                    }
                }
            }
        }
    }

    /// `memberOf`, and `adminOf`/`interestOf` (those naming units of a kind
    /// are resolved once every group is known).
    fn row_lists(
        &mut self,
        r: Row<'_>,
        member_of: BTreeSet<String>,
        user: &mut DesiredUser,
        origin: &mut UserOrigin,
    ) -> Vec<PendingList> {
        let m = self.m;
        let (row, cols, rref) = (r.cells, r.cols, |c| r.cell(c));
        let mut pending = Vec::new();
        if !m.groups.is_empty() {
            origin.set("accessInfo.memberOf", rref(None));
            user.access_info.member_of = Some(member_of);
        }
        for (field, list, col) in [
            ("adminOf", &m.users.admin_of, cols.admin_of),
            ("interestOf", &m.users.interest_of, cols.interest_of),
        ] {
            let (Some(GroupListField { split, kind, .. }), Some(c)) = (list, col) else {
                continue;
            };
            let cell = row.get(c).and_then(|v| v.as_deref()).unwrap_or("").trim();
            let items = split_cell(cell, Some(split.as_deref().unwrap_or(",")));
            let path: &'static str = if field == "adminOf" {
                "accessInfo.adminOf"
            } else {
                "accessInfo.interestOf"
            };
            origin.set(path, rref(Some(c)));
            let kind_ix = kind
                .as_ref()
                .and_then(|k| m.groups.iter().position(|g| &g.kind == k));
            match kind_ix {
                Some(ki) => pending.push((usize::MAX, path, items, rref(Some(c)), ki)),
                None => {
                    let set: BTreeSet<String> = items.into_iter().collect();
                    if field == "adminOf" {
                        user.access_info.admin_of = Some(set);
                    } else {
                        user.access_info.interest_of = Some(set);
                    }
                }
            }
        }
        pending
    }

    /// Adds the row's user, or reports the same employee exported twice.
    fn add_user(&mut self, user: DesiredUser, origin: UserOrigin, pending: Vec<PendingList>) {
        let (tables, diags) = (self.tables, &mut *self.diags);
        let (users, origins, by_id) = (&mut self.users, &mut self.origins, &mut self.by_id);
        match by_id.get(&user.external_id) {
            Some(&first) => {
                if users[first] == user {
                    diags.push(
                        Diagnostic::warning(
                            "duplicateRow",
                            format!("the employee `{}` is exported twice with the same data; one is kept", user.external_id),
                        )
                        .at(origin.row.place(tables))
                        .with_related(origins[first].row.loc(tables), "first exported here"),
                    );
                } else {
                    let here = origin.get("externalId").unwrap_or(origin.row);
                    let there = origins[first]
                        .get("externalId")
                        .unwrap_or(origins[first].row);
                    diags.push(
                        Diagnostic::error(
                            "duplicateExternalId",
                            format!(
                                "two rows have the employee id `{}` and differ",
                                user.external_id
                            ),
                        )
                        .with_hint(
                            "an employee id is the user's identity; each person needs their own",
                        )
                        .at(here.place(tables))
                        .with_related(there.loc(tables), "first used here"),
                    );
                }
            }
            None => {
                let index = users.len();
                by_id.insert(user.external_id.clone(), index);
                users.push(user);
                origins.push(origin);
                // Only a user kept gets its lists (a duplicate row's would
                // land on the next user).
                self.pending_lists
                    .extend(pending.into_iter().map(|p| (index, p.1, p.2, p.3, p.4)));
            }
        }
    }

    /// An export whose rows all fail `only` is an error.
    fn check_exported(&mut self) {
        let (tables, m, diags) = (self.tables, self.m, &mut *self.diags);
        let (rows_seen, exported_rows) = (self.rows_seen, self.exported_rows);
        if rows_seen > 0 && exported_rows == 0 && !diags.iter().any(|d| d.severity.is_error()) {
            let only = m.only.as_ref().map_or(String::new(), |o| {
                format!("`{}` = `{}`", o.column, o.equals)
            });
            let mut d = Diagnostic::error(
                "noRowsExported",
                format!("no row passes the filter {only}; the spec would delete every user"),
            )
            .with_hint("check the export (the wrong report?) or the mapping's `only`");
            if let Some(t) = tables.first() {
                let c = m
                    .only
                    .as_ref()
                    .and_then(|o| t.index.get(&column_key(&o.column)).copied());
                d = d.at(t.header_place(c));
            }
            diags.push(d);
        }
    }

    /// An id column in some sources only would give one unit two externalIds.
    fn check_id_columns(&mut self) {
        let (tables, m, diags, id_column_in) =
            (self.tables, self.m, &mut *self.diags, &self.id_column_in);
        for (k, kind) in m.groups.iter().enumerate() {
            let seen = &id_column_in[k];
            if seen.iter().any(|b| *b) && seen.iter().any(|b| !*b) {
                let with: Vec<usize> = (0..seen.len()).filter(|i| seen[*i]).collect();
                let without: Vec<usize> = (0..seen.len()).filter(|i| !seen[*i]).collect();
                if let (Some(&w), Some(&wo)) = (with.first(), without.first()) {
                    diags.push(
                        Diagnostic::error(
                            "inconsistentSources",
                            format!(
                                "`{}` has the id column `{}` and `{}` does not: the same {} would get two externalIds",
                                tables[w].path.display(),
                                kind.id_column.as_deref().unwrap_or(""),
                                tables[wo].path.display(),
                                kind.kind
                            ),
                        )
                        .with_hint("export every source with the same columns")
                        .at(tables[wo].header_place(None)),
                    );
                }
            }
        }
    }

    /// Groups: a name per id, warnings about spellings and derived ids.
    fn build_groups(&mut self) -> GroupsOut {
        let (tables, m, diags, groups) = (self.tables, self.m, &mut *self.diags, &self.groups);
        let mut out_groups: Vec<DesiredGroup> = Vec::with_capacity(groups.len());
        let mut group_origin: HashMap<String, CellRef> = HashMap::new();
        let mut derived_kinds: BTreeMap<usize, (String, CellRef)> = BTreeMap::new();
        let mut by_loose: BTreeMap<(usize, String), Vec<Unit>> = BTreeMap::new();
        let mut fixed_parents = BTreeSet::new();
        for (id, acc) in groups {
            let kind: &GroupKind = &m.groups[acc.kind];
            let name = group_name(acc);
            if acc.derived {
                derived_kinds
                    .entry(acc.kind)
                    .or_insert((id.clone(), acc.first));
                diags.extend(spelling_variants(kind, acc, &name, tables));
            } else {
                diags.extend(id_with_two_names(kind, id, acc, tables));
                by_loose
                    .entry((acc.kind, unit_key(&name)))
                    .or_default()
                    .push((id.clone(), name.clone(), acc.first));
            }
            out_groups.push(desired_group(kind, id, acc, &name, &mut fixed_parents));
            group_origin.insert(id.clone(), acc.first);
        }
        for (k, (example, cell)) in derived_kinds {
            diags.push(derived_id_warning(&m.groups[k], &example, cell, tables));
        }
        for ((k, _), list) in by_loose {
            diags.extend(similar_units(&m.groups[k], &list, tables));
        }
        (out_groups, group_origin, fixed_parents)
    }

    /// adminOf / interestOf given as unit names of a kind.
    fn resolve_pending_lists(&mut self) {
        let (tables, m, diags, groups) = (self.tables, self.m, &mut *self.diags, &self.groups);
        let pending_lists = std::mem::take(&mut self.pending_lists);
        let users = &mut self.users;
        if pending_lists.is_empty() {
            return;
        }
        // The first group (in externalId order) of each kind and unit name:
        // one lookup per item instead of a scan of every group.
        let mut by_name: HashMap<(usize, String), &String> = HashMap::new();
        for (id, acc) in groups {
            for n in acc.names.keys() {
                by_name.entry((acc.kind, unit_key(n))).or_insert(id);
            }
        }
        for (ui, path, items, cell, ki) in pending_lists {
            let mut set = BTreeSet::new();
            for item in items {
                let named = by_name.get(&(ki, unit_key(&item))).copied();
                let by_id = groups
                    .get_key_value(&item)
                    .filter(|(_, acc)| acc.kind == ki)
                    .map(|(id, _)| id);
                // The first in externalId order, as a scan would find it.
                match named.into_iter().chain(by_id).min() {
                    Some(id) => {
                        set.insert(id.clone());
                    }
                    None => diags.push(
                        Diagnostic::error(
                            "unknownGroup",
                            format!(
                                "`{path}` names the {} `{item}`, which no exported row belongs to",
                                m.groups[ki].kind
                            ),
                        )
                        .with_hint("a unit becomes a group only when an exported row is in it")
                        .at(cell.place(tables)),
                    ),
                }
            }
            if let Some(u) = users.get_mut(ui) {
                if path == "accessInfo.adminOf" {
                    u.access_info.admin_of = Some(set);
                } else {
                    u.access_info.interest_of = Some(set);
                }
            }
        }
    }

    /// The org, users sorted by externalId, with the cells they came from.
    fn finish(self, (out_groups, group_origin, fixed_parents): GroupsOut) -> Built {
        let (m, mut users, origins, attributes, bad_rows) = (
            self.m,
            self.users,
            self.origins,
            self.attributes,
            self.bad_rows,
        );
        // externalIds are unique here (a second row of one is dropped).
        let mut pairs: Vec<(DesiredUser, UserOrigin)> = std::mem::take(&mut users)
            .into_iter()
            .zip(origins)
            .collect();
        pairs.sort_unstable_by(|a, b| a.0.external_id.cmp(&b.0.external_id));
        let (sorted, user_origin): (Vec<DesiredUser>, Vec<UserOrigin>) = pairs.into_iter().unzip();
        users = sorted;
        let org = DesiredOrg {
            attributes: (!attributes.is_empty()).then_some(attributes),
            groups: (!m.groups.is_empty()).then_some(out_groups),
            users: Some(users),
            ..DesiredOrg::default()
        };
        Built {
            org,
            users: user_origin,
            groups: group_origin,
            fixed_parents,
            bad_rows,
        }
    }
}

/// A group's name: the spelling most rows use (ties: the smallest).
fn group_name(acc: &GroupAcc) -> String {
    acc.names
        .iter()
        .fold(
            None::<(&String, usize)>,
            |best, (n, (count, _))| match best {
                Some((_, c)) if c >= *count => best,
                _ => Some((n, *count)),
            },
        )
        .map(|(n, _)| n.clone())
        .unwrap_or_default()
}

/// A derived group written in several spellings: one group, a warning.
fn spelling_variants(
    kind: &GroupKind,
    acc: &GroupAcc,
    name: &str,
    tables: &[Table],
) -> Option<Diagnostic> {
    if acc.names.len() < 2 {
        return None;
    }
    let spellings: Vec<String> = acc
        .names
        .iter()
        .map(|(n, (c, _))| format!("`{n}` ({c} row{})", if *c == 1 { "" } else { "s" }))
        .collect();
    let other = acc
        .names
        .iter()
        .find(|(n, _)| n.as_str() != name)
        .map(|(_, (_, c))| *c);
    let mut d = Diagnostic::warning(
        "unitNameVariants",
        format!(
            "the {} `{name}` is written in {} ways that differ only by case or spaces: {}; they are one group, named `{name}`",
            kind.kind,
            acc.names.len(),
            spellings.join(", ")
        ),
    )
    .with_hint("make the spelling consistent in the HR system");
    if let Some(c) = other {
        d = d.at(c.place(tables));
    }
    Some(d)
}

/// One unit id with two names: an error at both cells.
fn id_with_two_names(
    kind: &GroupKind,
    id: &str,
    acc: &GroupAcc,
    tables: &[Table],
) -> Option<Diagnostic> {
    let mut it = acc.names.iter();
    let (Some((a, (_, ca))), Some((b, (_, cb)))) = (it.next(), it.next()) else {
        return None;
    };
    Some(
        Diagnostic::error(
            "unitIdTwoNames",
            format!("the {} id `{id}` has two names: `{a}` and `{b}`", kind.kind),
        )
        .with_hint("one id is one unit; fix the name or the id in the HR system")
        .at(cb.place(tables))
        .with_related(ca.loc(tables), format!("named `{a}` here")),
    )
}

/// The desired group of a unit; a fixed parent is noted in `fixed_parents`.
fn desired_group(
    kind: &GroupKind,
    id: &str,
    acc: &GroupAcc,
    name: &str,
    fixed_parents: &mut BTreeSet<String>,
) -> DesiredGroup {
    let mut g = DesiredGroup::new(id, name);
    if let Some(t) = &kind.description {
        g.description = Some(t.replace("{name}", name).replace("{id}", id));
    }
    g.parent = match &kind.parent {
        None => ParentRef::Omitted,
        Some(None) => ParentRef::Root,
        Some(Some(ParentSpec::Fixed(p))) => {
            fixed_parents.insert(p.clone());
            ParentRef::Group(p.clone())
        }
        Some(Some(ParentSpec::Kind(_))) => match &acc.parent {
            Some((p, _)) => ParentRef::Group(p.clone()),
            None => ParentRef::Omitted,
        },
    };
    g.protected = kind.protected;
    g
}

/// The warning that a kind's externalIds are derived from names.
fn derived_id_warning(
    kind: &GroupKind,
    example: &str,
    cell: CellRef,
    tables: &[Table],
) -> Diagnostic {
    Diagnostic::warning(
        "derivedGroupId",
        format!(
            "the {} groups' externalIds are derived from their names (e.g. `{example}`): a rename in HR \
             becomes a delete plus a create, which drops the group's history in &frankly",
            kind.kind
        ),
    )
    .with_hint(match &kind.id_column {
        Some(c) => format!("export the `{c}` column too, so ids survive renames"),
        None => "map the unit's id column (`idColumn`), so ids survive renames".to_owned(),
    })
    .at(cell.place(tables))
}

/// Units with ids whose names differ only by case or spaces: a warning.
fn similar_units(kind: &GroupKind, list: &[Unit], tables: &[Table]) -> Option<Diagnostic> {
    if list.len() < 2 {
        return None;
    }
    let names: Vec<String> = list
        .iter()
        .map(|(id, n, _)| format!("`{n}` (`{id}`)"))
        .collect();
    Some(
        Diagnostic::warning(
            "unitNameVariants",
            format!(
                "{} {} units have names that differ only by case or spaces: {}",
                list.len(),
                kind.kind,
                names.join(", ")
            ),
        )
        .with_hint("if they are one unit, merge them in the HR system")
        .at(list[1].2.place(tables))
        .with_related(list[0].2.loc(tables), "the other one"),
    )
}

/// The attributes block: the mapping's, plus every mapped property
/// (required when the property is `required: active`).
fn attribute_defs(m: &MappingFile) -> BTreeMap<String, AttributeDef> {
    let mut out: BTreeMap<String, AttributeDef> = m
        .attributes
        .iter()
        .map(|(k, a)| {
            let def = match a {
                AttributeForm::Values(v) => AttributeDef {
                    values: Some(v.iter().cloned().collect()),
                    required: false,
                },
                AttributeForm::Long(l) => AttributeDef {
                    values: l.values.as_ref().map(|v| v.iter().cloned().collect()),
                    required: l.required,
                },
            };
            (k.clone(), def)
        })
        .collect();
    for (k, f) in &m.external_properties {
        let def = out.entry(k.clone()).or_default();
        if f.long().and_then(|l| l.required) == Some(Required::Active) {
            def.required = true;
        }
    }
    out
}

/// Resolves every column the mapping names against one table. `None`
/// when the mapping itself is broken (reported once).
fn resolve(
    r: &mut Resolver<'_>,
    m: &MappingFile,
    diags: &mut Vec<Diagnostic>,
    id_column_in: &mut [Vec<bool>],
) -> Option<TableCols> {
    let only = match &m.only {
        Some(o) => r
            .col(&o.column, "only.column")
            .map(|c| (c, o.equals.clone())),
        None => None,
    };
    let mut fields = Vec::new();
    for (path, f) in crate::mapping::user_fields(&m.users) {
        let src = f.source().ok()?;
        if let Some(s) = r.src(src, &format!("users.{path}"), diags) {
            fields.push(FieldCols {
                path,
                src: s,
                map: ValueMap::of(f),
            });
        }
    }
    let phone = match &m.users.phone {
        None => None,
        Some(PhoneField::Short(c)) => r
            .col(c, "users.phone")
            .map(|c| (Src::Col(c), None, Invalid::Error)),
        Some(PhoneField::Long(p)) => r.col(&p.from, "users.phone.from").map(|c| {
            // An unknown country was refused when the mapping was parsed.
            let country = p
                .default_country
                .as_deref()
                .and_then(phone::region)
                .and_then(|c| phone::National::new(&c));
            (Src::Col(c), country, p.invalid)
        }),
    };
    let mut kinds = Vec::new();
    for (k, g) in m.groups.iter().enumerate() {
        let used = format!("groups[{k}]");
        let name = match (&g.column, &g.name) {
            (Some(c), _) => r.col(c, &used).map(Src::Col),
            (None, Some(t)) => r.template(t, &used, diags),
            (None, None) => None,
        };
        let id = match (&g.id_column, &g.id) {
            (Some(c), _) => {
                let present = r.table.index.get(&column_key(c)).copied();
                id_column_in[k].push(present.is_some());
                present.map(Src::Col)
            }
            (None, Some(t)) => r.template(t, &used, diags),
            (None, None) => None,
        };
        kinds.push(name.map(|name| KindCols { name, id }));
    }
    let admin_of = m
        .users
        .admin_of
        .as_ref()
        .and_then(|l| r.col(&l.from, "users.adminOf.from"));
    let interest_of = m
        .users
        .interest_of
        .as_ref()
        .and_then(|l| r.col(&l.from, "users.interestOf.from"));
    let mut props = Vec::new();
    for (key, f) in &m.external_properties {
        let src = f.source().ok()?;
        if let Some(s) = r.src(src, &format!("externalProperties.{key}"), diags) {
            props.push(Prop {
                key: key.as_str().into(),
                src: s,
                map: ValueMap::of(f),
                required: f.long().and_then(|l| l.required) == Some(Required::Active),
            });
        }
    }
    Some(TableCols {
        only,
        fields,
        phone,
        kinds,
        admin_of,
        interest_of,
        props,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_keys_and_loose_matching() {
        assert_eq!(unit_key("  Sales   Nordics "), "sales nordics");
        assert_eq!(loose("Not-Specified"), "not specified");
        assert_eq!(loose(" not   specified "), "not specified");
        assert_eq!(loose("NOT_SPECIFIED"), "not specified");
    }

    #[test]
    fn templates_split_into_columns_and_text() {
        let p = template_parts("{Organization} {City}").expect("template");
        assert_eq!(
            p,
            vec![
                (true, "Organization".into()),
                (false, " ".into()),
                (true, "City".into())
            ]
        );
        assert_eq!(
            template_parts("a{{b}}").expect("escapes"),
            vec![(false, "a{b}".into())]
        );
        assert!(template_parts("{open").is_err());
    }
}
