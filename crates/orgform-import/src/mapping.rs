//! The mapping file: how an HR export's columns become spec fields.
//!
//! YAML, `version: 1`, decoded with serde_yaml into the types below (every
//! type refuses unknown fields, so a typo is an error at its line and
//! column). The same types give the mapping's JSON Schema
//! ([`crate::mapping_schema`], `orgform schema --mapping`).

use std::collections::BTreeMap;
use std::path::Path;

use orgform_spec::{Diagnostic, Diagnostics, Location};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

/// A whole mapping file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(
    title = "orgform import mapping",
    description = "How `orgform import` turns the rows of an HR export (CSV or JSON) into spec \
                   files: which rows count, which column or template gives each user field, \
                   which org-unit columns become groups, and the custom attributes."
)]
pub struct MappingFile {
    /// The mapping format: always `1`.
    pub version: u32,
    /// The CSV delimiter: `,`, `;` or `tab`; omitted = detected from the header row.
    #[serde(default)]
    pub delimiter: Option<Delimiter>,
    /// Which rows count; omitted = every row. Cells of rows left out are not checked.
    #[serde(default)]
    pub only: Option<RowFilter>,
    /// Where each user field comes from.
    pub users: UserFields,
    /// One entry per kind of org unit (organization, office, team, ...).
    #[serde(default)]
    pub groups: Vec<GroupKind>,
    /// `externalProperties` keys and the column (or template) of each.
    #[serde(default)]
    pub external_properties: BTreeMap<String, Field>,
    /// The account's custom attributes, in the spec's forms: a list of
    /// allowed values, `{}` for any string, or `{values: [...], required: true}`.
    /// Properties without an entry are declared as any string.
    #[serde(default)]
    pub attributes: BTreeMap<String, AttributeForm>,
}

/// The CSV delimiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum Delimiter {
    /// `,`
    #[serde(rename = ",")]
    Comma,
    /// `;`
    #[serde(rename = ";")]
    Semicolon,
    /// A tab.
    #[serde(rename = "tab", alias = "\t")]
    Tab,
}

impl Delimiter {
    /// The byte.
    pub fn byte(self) -> u8 {
        match self {
            Delimiter::Comma => b',',
            Delimiter::Semicolon => b';',
            Delimiter::Tab => b'\t',
        }
    }
}

/// `only: {column: Status, equals: Active}`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RowFilter {
    /// The column to look at.
    pub column: String,
    /// The value a row must have there (trimmed, compared case-insensitively).
    pub equals: String,
}

/// Where the user fields come from.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserFields {
    /// The user's identity: the HR system's employee id (never a name or email).
    pub external_id: Field,
    /// Given name.
    pub first_name: Field,
    /// Family name.
    pub last_name: Field,
    /// Work email.
    pub email: Field,
    /// Work phone, normalised to E.164.
    #[serde(default)]
    pub phone: Option<PhoneField>,
    /// `true`/`false` after the value map; omitted = every exported user is active.
    #[serde(default)]
    pub active: Option<Field>,
    /// IANA time zone.
    #[serde(default)]
    pub timezone: Option<Field>,
    /// ISO 639-1 language.
    #[serde(default)]
    pub language: Option<Field>,
    /// `Administrator`, `Manager` or `User` after the value map.
    #[serde(default)]
    pub role: Option<Field>,
    /// Groups the user administers: externalIds, or with `kind` unit names of that kind.
    #[serde(default)]
    pub admin_of: Option<GroupListField>,
    /// Groups the user follows: externalIds, or with `kind` unit names of that kind.
    #[serde(default)]
    pub interest_of: Option<GroupListField>,
}

/// A value from a column or a template, with an optional value map.
///
/// A plain string is a column name, or a template when it holds `{`:
/// `"{First name} {Last name}"` (`{{` and `}}` are literal braces).
#[derive(Debug, Clone, JsonSchema)]
#[schemars(untagged)]
pub enum Field {
    /// A column name, or a template with `{Column}` placeholders.
    Short(String),
    /// The long form.
    Long(FieldLong),
}

/// The long form of a [`Field`].
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldLong {
    /// The column.
    #[serde(default)]
    pub from: Option<String>,
    /// A template instead of a column: `"{First name}"`.
    #[serde(default)]
    pub template: Option<String>,
    /// Value map: HR value -> spec value. Keys match exactly, else after
    /// trimming, lower-casing and treating runs of spaces, `-` and `_` as one space.
    #[serde(default)]
    pub map: BTreeMap<String, String>,
    /// The value for a cell the map does not list (and for an empty cell).
    #[serde(default)]
    pub default: Option<String>,
    /// `active`: an active user's cell must not be empty (the HR guide's
    /// "Required if active"). Only for `externalProperties`.
    #[serde(default)]
    pub required: Option<Required>,
}

/// When a value must be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Required {
    /// On every active user.
    Active,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Short(String),
            Long(FieldLong),
        }
        match Raw::deserialize(d) {
            Ok(Raw::Short(s)) => Ok(Field::Short(s)),
            Ok(Raw::Long(l)) => Ok(Field::Long(l)),
            Err(_) => Err(serde::de::Error::custom(
                "expected a column name, a template such as \"{First name}\", or \
                 {from: COLUMN, map: {...}, default: VALUE}",
            )),
        }
    }
}

/// `phone: {from: Work phone, defaultCountry: SE, invalid: error}`, or just
/// the column name.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(untagged)]
pub enum PhoneField {
    /// The column (no default country, `invalid: error`).
    Short(String),
    /// The long form.
    Long(PhoneLong),
}

/// The long form of [`PhoneField`].
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PhoneLong {
    /// The column.
    pub from: String,
    /// ISO 3166-1 alpha-2 code (any case) of the country of national
    /// numbers (`070-123 45 67`), any region libphonenumber knows; such a
    /// number must be valid for that country. Omitted = a national number
    /// is an error.
    #[serde(default)]
    pub default_country: Option<String>,
    /// What a number that cannot be made E.164 does: `error` (default) or
    /// `blank` (left out, with a warning).
    #[serde(default)]
    pub invalid: Invalid,
}

/// What to do with a phone that cannot be normalised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Invalid {
    /// An error at its cell.
    #[default]
    Error,
    /// Left out, with a warning.
    Blank,
}

impl<'de> Deserialize<'de> for PhoneField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Short(String),
            Long(PhoneLong),
        }
        match Raw::deserialize(d) {
            Ok(Raw::Short(s)) => Ok(PhoneField::Short(s)),
            Ok(Raw::Long(l)) => Ok(PhoneField::Long(l)),
            Err(_) => Err(serde::de::Error::custom(
                "expected a column name or {from: COLUMN, defaultCountry: SE, invalid: \
                 error|blank}",
            )),
        }
    }
}

/// `adminOf: {from: Manages, split: ",", kind: department}`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupListField {
    /// The column.
    pub from: String,
    /// Separator of several entries in one cell (default `,`).
    #[serde(default)]
    pub split: Option<String>,
    /// The cells name units of this kind (of `groups`) instead of giving externalIds.
    #[serde(default)]
    pub kind: Option<String>,
}

/// One kind of org unit that becomes groups.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupKind {
    /// The kind: part of derived externalIds (`<kind>:<name>`), so never change it.
    pub kind: String,
    /// The column with the unit's name.
    #[serde(default)]
    pub column: Option<String>,
    /// A template for the name instead of `column`: `"{Organization} {City}"`.
    #[serde(default)]
    pub name: Option<String>,
    /// Separator of several units in one cell (`","` for Teams "BDR, SDR").
    #[serde(default)]
    pub split: Option<String>,
    /// The unit's id column (recommended: ids survive renames). Its cells
    /// split like the names and align with them. Used where the source has
    /// the column.
    #[serde(default)]
    pub id_column: Option<String>,
    /// A template for the externalId instead of an id column: `"office-{Office ID}"`.
    #[serde(default)]
    pub id: Option<String>,
    /// The description; `{name}` is the unit's name, `{id}` its externalId.
    #[serde(default)]
    pub description: Option<String>,
    /// The parent: `{kind: organization}` (that unit of the same row), a
    /// fixed externalId (declare it in `externalGroups` if it is not
    /// managed), or `null` (a root). Omitted = left as is in &frankly.
    #[serde(default, deserialize_with = "some")]
    #[schemars(with = "Option<ParentSpec>")]
    pub parent: Option<Option<ParentSpec>>,
    /// Deleting these groups blocks the plan.
    #[serde(default)]
    pub protected: Option<bool>,
}

fn some<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A group kind's parent.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ParentSpec {
    /// A fixed externalId.
    Fixed(String),
    /// The row's unit of another kind.
    Kind(ParentKind),
}

/// `{kind: organization}`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParentKind {
    /// The kind (of `groups`).
    pub kind: String,
}

/// An attribute as in a spec: allowed values, or the long form.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum AttributeForm {
    /// Allowed values, exact match.
    Values(Vec<String>),
    /// `{}`, `{required: true}`, `{values: [...], required: true}`.
    Long(AttributeLong),
}

/// The long form of [`AttributeForm`].
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttributeLong {
    /// Allowed values; omitted = any string.
    #[serde(default)]
    pub values: Option<Vec<String>>,
    /// Must be set on every active user.
    #[serde(default)]
    pub required: bool,
}

/// A decoded, checked mapping, and where it came from.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub(crate) file: MappingFile,
    /// `--preset alexis` or `--mapping PATH`, for the generated header.
    pub(crate) label: String,
}

impl Mapping {
    /// Decodes and checks a mapping file's text; errors at `path:line:column`.
    pub fn parse(path: &Path, text: &str) -> Result<Mapping, Diagnostics> {
        let label = format!("--mapping {}", path.display());
        parse_with_label(path, text, label)
    }

    /// A mapping shipped in the binary (`alexis`), or `None`.
    pub fn preset(name: &str) -> Option<Mapping> {
        let text = crate::preset_text(name)?;
        parse_with_label(
            Path::new(&format!("<preset {name}>")),
            text,
            format!("--preset {name}"),
        )
        .ok()
    }

    /// How the header of generated files names this mapping.
    pub fn label(&self) -> &str {
        &self.label
    }
}

fn parse_with_label(path: &Path, text: &str, label: String) -> Result<Mapping, Diagnostics> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let file = decode(path, text)?;
    let mut ds = Diagnostics::new();
    let top = Location {
        file: path.to_owned(),
        line: 1,
        column: 1,
    };
    let mut problem = |msg: String, hint: &str| {
        ds.push(
            Diagnostic::error("invalidMapping", msg)
                .with_hint(hint.to_owned())
                .with_location(top.clone()),
        );
    };
    if file.version != 1 {
        problem(
            format!(
                "the mapping's `version` is `{}`; this orgform reads version 1",
                file.version
            ),
            "write `version: 1`",
        );
    }
    check_groups(&file, &mut problem);
    check_fields(&file, &mut problem);
    if let Some(d) = check_default_country(&file, path, text) {
        ds.push(d);
    }
    if ds.has_errors() {
        return Err(ds);
    }
    Ok(Mapping { file, label })
}

/// The mapping file decoded by serde_yaml; a syntax or shape error at its
/// line and column, with that line drawn.
fn decode(path: &Path, text: &str) -> Result<MappingFile, Diagnostics> {
    let loc = |line: usize, column: usize| Location {
        file: path.to_owned(),
        line: u32::try_from(line).unwrap_or(u32::MAX),
        column: u32::try_from(column).unwrap_or(u32::MAX),
    };
    serde_yaml::from_str(text).map_err(|e| {
        let d = Diagnostic::error(
            "invalidMapping",
            format!(
                "the mapping is invalid: {}",
                strip_position(&e.to_string())
            ),
        )
        .with_hint(
            "see `orgform schema --mapping` for the format, or start from `orgform import --print-preset alexis`",
        );
        let d = match e.location() {
            Some(l) => {
                let line = text.lines().nth(l.line().saturating_sub(1)).unwrap_or("");
                d.with_source_line(loc(l.line(), l.column()), line, 1)
            }
            None => d.with_location(loc(1, 1)),
        };
        let mut ds = Diagnostics::new();
        ds.push(d);
        ds
    })
}

/// The group kinds: names, one of `column`/`name`, parents, list kinds.
fn check_groups(file: &MappingFile, problem: &mut impl FnMut(String, &str)) {
    let kinds: Vec<&str> = file.groups.iter().map(|g| g.kind.as_str()).collect();
    for (i, g) in file.groups.iter().enumerate() {
        if g.kind.trim().is_empty() || g.kind.contains(':') {
            problem(
                format!(
                    "the group kind `{}` must be a non-empty word without `:`",
                    g.kind
                ),
                "use a short word such as `team`",
            );
        }
        if kinds[..i].contains(&g.kind.as_str()) {
            problem(
                format!("the group kind `{}` is listed twice", g.kind),
                "give each kind one entry",
            );
        }
        if g.column.is_some() == g.name.is_some() {
            problem(
                format!(
                    "the group kind `{}` needs exactly one of `column` and `name`",
                    g.kind
                ),
                "`column: Department`, or `name: \"{Organization} {City}\"`",
            );
        }
        if g.id_column.is_some() && g.id.is_some() {
            problem(
                format!("the group kind `{}` has both `idColumn` and `id`", g.kind),
                "keep one of them",
            );
        }
        if let Some(Some(ParentSpec::Kind(p))) = &g.parent
            && (!kinds.contains(&p.kind.as_str()) || p.kind == g.kind)
        {
            {
                problem(
                    format!(
                        "the parent kind `{}` of `{}` is not another kind of `groups`",
                        p.kind, g.kind
                    ),
                    "name one of the kinds listed under `groups`",
                );
            }
        }
    }
    for (field, list) in [
        ("adminOf", &file.users.admin_of),
        ("interestOf", &file.users.interest_of),
    ] {
        if let Some(GroupListField { kind: Some(k), .. }) = list
            && !kinds.contains(&k.as_str())
        {
            {
                problem(
                    format!("`users.{field}.kind` names `{k}`, which is not a kind of `groups`"),
                    "name one of the kinds listed under `groups`",
                );
            }
        }
    }
}

/// Every field names a column or a template; `required` only on properties.
fn check_fields(file: &MappingFile, problem: &mut impl FnMut(String, &str)) {
    for (name, f) in user_fields(&file.users) {
        if let Err(m) = f.source() {
            problem(
                format!("`users.{name}`: {m}"),
                "give `from: COLUMN` or `template: \"{COLUMN}\"`",
            );
        }
        if f.long().is_some_and(|l| l.required.is_some()) {
            problem(
                format!("`users.{name}` has `required`, which only `externalProperties` take"),
                "remove it (the required user fields are always required)",
            );
        }
    }
    for (name, f) in &file.external_properties {
        if let Err(m) = f.source() {
            problem(
                format!("`externalProperties.{name}`: {m}"),
                "give `from: COLUMN` or `template: \"{COLUMN}\"`",
            );
        }
    }
}

/// A `defaultCountry` libphonenumber's metadata has no region for: an
/// error at the line that names it (the file's start when no line does).
fn check_default_country(file: &MappingFile, path: &Path, text: &str) -> Option<Diagnostic> {
    let Some(PhoneField::Long(p)) = &file.users.phone else {
        return None;
    };
    let c = p.default_country.as_deref()?;
    if crate::phone::region(c).is_some() {
        return None;
    }
    let d = Diagnostic::error(
        "invalidMapping",
        format!("`defaultCountry: {c}` is not a country whose phone numbers orgform knows"),
    )
    .with_hint(
        "write the country's ISO 3166-1 alpha-2 code, as in `defaultCountry: SE` (Sweden), `DE`, `US`: \
         the two-letter codes of the ISO 3166 Online Browsing Platform (www.iso.org/obp) or of a \
         country's top-level domain (`UK` is `GB`)",
    );
    let found = text.lines().enumerate().find_map(|(i, l)| {
        let k = l.find("defaultCountry")?;
        // A comment that mentions the key is not where it is set.
        if l[..k].contains('#') {
            return None;
        }
        let v = l[k..].find(c.trim()).map_or(k, |j| k + j);
        Some((i, l, v))
    });
    Some(match found {
        Some((i, line, at)) => {
            let column = line[..at].chars().count() + 1;
            let len = if at == line.find("defaultCountry").unwrap_or(usize::MAX) {
                "defaultCountry".len()
            } else {
                c.trim().chars().count()
            };
            let to_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
            d.with_source_line(
                Location {
                    file: path.to_owned(),
                    line: to_u32(i + 1),
                    column: to_u32(column),
                },
                line,
                to_u32(len.max(1)),
            )
        }
        None => d.with_location(Location {
            file: path.to_owned(),
            line: 1,
            column: 1,
        }),
    })
}

/// serde_yaml appends " at line L column C"; the location is shown apart.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// The user fields that are plain [`Field`]s, with their spec names.
pub(crate) fn user_fields(u: &UserFields) -> Vec<(&'static str, &Field)> {
    let mut v: Vec<(&'static str, &Field)> = vec![
        ("externalId", &u.external_id),
        ("firstName", &u.first_name),
        ("lastName", &u.last_name),
        ("email", &u.email),
    ];
    for (name, f) in [
        ("active", &u.active),
        ("timezone", &u.timezone),
        ("language", &u.language),
        ("role", &u.role),
    ] {
        if let Some(f) = f {
            v.push((name, f));
        }
    }
    v
}

/// Where a field's raw value comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SourceRef<'a> {
    Column(&'a str),
    Template(&'a str),
}

impl Field {
    pub(crate) fn long(&self) -> Option<&FieldLong> {
        match self {
            Field::Long(l) => Some(l),
            Field::Short(_) => None,
        }
    }

    pub(crate) fn source(&self) -> Result<SourceRef<'_>, String> {
        match self {
            Field::Short(s) if s.contains('{') => Ok(SourceRef::Template(s)),
            Field::Short(s) => Ok(SourceRef::Column(s)),
            Field::Long(l) => match (&l.from, &l.template) {
                (Some(c), None) => Ok(SourceRef::Column(c)),
                (None, Some(t)) => Ok(SourceRef::Template(t)),
                (Some(_), Some(_)) => Err("give `from` or `template`, not both".into()),
                (None, None) => Err("needs `from` or `template`".into()),
            },
        }
    }
}
