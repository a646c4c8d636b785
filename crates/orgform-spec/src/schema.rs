//! The JSON Schema of a spec file, for editors (`orgform schema`).
//!
//! The schema is generated, not hand-written: `schemars` derives it from
//! the model's record types ([`DesiredUser`], [`DesiredGroup`],
//! [`Settings`], [`Target`], [`Safety`], …) and from [`SpecFile`] below,
//! which states the few places where a spec file differs from the model
//! (`version`, the short forms of `attributes`). The validation rules that
//! live in this crate then refine it, from the same tables and constants
//! the loader uses: E.164 phones, plausible emails, the ISO 639-1 codes,
//! the IANA time zones, environment variable names, http(s) endpoints.
//!
//! What a schema describes is one *file*: a directory spec's files are
//! checked one by one, so `version` is not required here (the loader wants
//! it in at least one file of the spec), and cross-record rules (unique
//! ids and emails, group references, cycles, declared attributes) are left
//! to `orgform validate`. A schema is never stricter than the loader (an
//! editor must not flag a spec that `validate` accepts): so no
//! `uniqueItems`, since a string listed twice in a set (`memberOf`,
//! `externalGroups`, allowed values) is only a warning for the loader.
//! `tests/schema.rs` checks this over generated specs.
//!
//! Draft 7, the JSON Schema version every YAML/JSON editor plugin supports.

use std::collections::{BTreeMap, BTreeSet};

use orgform_model::{AttributeDef, DesiredGroup, DesiredUser, MAX_LIMIT, Safety, Settings, Target};
use schemars::{JsonSchema, Schema, SchemaGenerator, generate::SchemaSettings, json_schema};
use serde_json::{Map, Value, json};

use crate::tables::{LANGUAGES, TIME_ZONES};

/// The schema's `$id`: where the committed copy (`schema/orgform.schema.json`)
/// is published.
pub const SCHEMA_ID: &str = "https://example.com/orgform/schema/orgform.schema.json";

/// E.164 as the loader checks it (`invalidPhone`): `+`, a first digit that
/// is not 0, 8 to 15 digits in all; `""` means "no phone".
pub(crate) const PHONE_PATTERN: &str = r"^(\+[1-9][0-9]{7,14})?$";
/// The loader's plausibility check of an email (`invalidEmail`): one `@`,
/// something before it, a dotted domain without empty labels, no spaces.
/// The part before the `@` neither starts nor ends with a dot, nor has two
/// in a row.
pub(crate) const EMAIL_PATTERN: &str = r"^[^@\s.]+(\.[^@\s.]+)*@[^@\s.]+(\.[^@\s.]+)+$";
/// An environment variable name (`invalidTokenEnv`).
pub(crate) const TOKEN_ENV_PATTERN: &str = r"^[A-Za-z_][A-Za-z0-9_]*$";
/// An http(s) URL with something where its host goes (`invalidEndpoint`;
/// the loader's check of the host is finer).
pub(crate) const ENDPOINT_PATTERN: &str = r"^https?://[^/?#]";
/// An HTTP header name: an RFC 7230 token (`invalidTokenHeader`).
pub(crate) const TOKEN_HEADER_PATTERN: &str = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";

/// One spec file: the top level of `orgform.yaml`, in the API's key order.
/// Only the schema uses this type; the loader decodes straight into the
/// model.
#[derive(JsonSchema)]
#[schemars(
    rename_all = "camelCase",
    deny_unknown_fields,
    title = "orgform spec",
    description = "The desired users and groups of an &frankly organization, for `orgform \
                   plan` and `orgform apply`. Field names are the &frankly organization API's. \
                   A spec is one file, or a directory of *.yaml files whose `users` and \
                   `groups` lists are concatenated."
)]
#[allow(dead_code)] // only its schema is used
struct SpecFile {
    /// The spec format: always `1`. Required in a single-file spec; in a
    /// directory spec, in at least one of its files.
    version: Option<SpecVersion>,
    /// Where `apply` sends the org (never sent to the API).
    target: Option<Target>,
    /// The API's settings, same names and defaults.
    settings: Option<Settings>,
    /// The account's custom attributes (the keys of `externalProperties`);
    /// omitted = keys are not checked.
    attributes: Option<BTreeMap<String, AttributeSpec>>,
    /// Groups that exist in &frankly but are not managed here; users and
    /// groups may refer to them.
    external_groups: Option<BTreeSet<String>>,
    /// Client-side guard rails (never sent to the API).
    safety: Option<Safety>,
    /// The managed groups; omitted = groups are not managed, `[]` deletes
    /// every managed group.
    groups: Option<Vec<DesiredGroup>>,
    /// The managed users; omitted = users are not managed, `[]` deletes
    /// every managed user.
    users: Option<Vec<DesiredUser>>,
}

/// `version: 1`.
struct SpecVersion;

impl JsonSchema for SpecVersion {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SpecVersion".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "integer", "const": 1})
    }
}

/// An attribute: a list of allowed values, or the long form
/// ([`AttributeDef`]: `{}`, `{required: true}`, `{values: [...], required: true}`).
struct AttributeSpec;

impl JsonSchema for AttributeSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "AttributeSpec".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let long = generator.subschema_for::<AttributeDef>();
        json_schema!({
            "description": "An attribute's allowed values (exact match), e.g. `[Male, Female]`; \
                or `{}` for any string, `{required: true}` when every active user must have it, \
                `{values: [...], required: true}` for both.",
            "anyOf": [
                {"type": "array", "items": {"type": "string"}},
                long
            ]
        })
    }
}

/// The JSON Schema of a spec file.
pub fn spec_schema() -> Value {
    let generator = SchemaGenerator::new(SchemaSettings::draft07());
    let mut root = generator.into_root_schema_for::<SpecFile>().to_value();
    strip_option_nulls(&mut root);
    refine(&mut root);
    omitted_not_none(&mut root);
    for (pointer, text) in DESCRIPTIONS {
        describe(&mut root, pointer, text);
    }
    if let Some(obj) = root.as_object_mut() {
        obj.insert("$id".to_owned(), Value::String(SCHEMA_ID.to_owned()));
    }
    root
}

/// [`spec_schema`] as the committed file holds it: pretty JSON and a final
/// newline.
pub fn spec_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&spec_schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// A spec never accepts `null` for an omitted field (the loader reports
/// `nullValue`): `Option` means "may be omitted". schemars makes every
/// `Option` nullable (`"type": [T, "null"]` or `anyOf: [T, {"type": "null"}]`);
/// undo that everywhere. `parent`, the one field where `null` means
/// something, says so with `oneOf`, which this leaves alone.
fn strip_option_nulls(v: &mut Value) {
    match v {
        Value::Object(obj) => {
            if let Some(Value::Array(types)) = obj.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    obj.insert("type".to_owned(), only);
                }
            }
            if let Some(Value::Array(values)) = obj.get_mut("enum")
                && values.iter().any(Value::is_null)
            {
                values.retain(|x| !x.is_null());
                if values.len() == 1 {
                    let only = values.remove(0);
                    obj.remove("enum");
                    obj.insert("const".to_owned(), only);
                }
            }
            if let Some(Value::Array(any)) = obj.get("anyOf")
                && any.len() == 2
                && any.iter().any(|s| s == &json!({"type": "null"}))
            {
                let keep = any
                    .iter()
                    .find(|s| *s != &json!({"type": "null"}))
                    .cloned()
                    .unwrap_or(Value::Bool(true));
                obj.remove("anyOf");
                match keep {
                    // Draft 7 ignores the siblings of a `$ref` (the
                    // description): keep the reference in an `allOf`.
                    Value::Object(inner) if inner.contains_key("$ref") => {
                        obj.insert("allOf".to_owned(), Value::Array(vec![Value::Object(inner)]));
                    }
                    Value::Object(inner) => {
                        for (k, x) in inner {
                            obj.entry(k).or_insert(x);
                        }
                    }
                    _ => {}
                }
            }
            for x in obj.values_mut() {
                strip_option_nulls(x);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_option_nulls),
        _ => {}
    }
}

/// Descriptions for editors where the model's doc comments speak to Rust
/// readers rather than to spec authors (JSON pointers into the schema).
const DESCRIPTIONS: &[(&str, &str)] = &[
    (
        "/definitions/DesiredUser",
        "A user, as an item of the API's `users`; `externalId`, `firstName`, `lastName` and \
         `email` are required. An omitted field is not a cleared one: see each field.",
    ),
    (
        "/definitions/DesiredAccess",
        "The user's group references (externalIds of groups of the spec or of \
         `externalGroups`) and role, as the API's `accessInfo`.",
    ),
    (
        "/definitions/DesiredGroup/properties/description",
        "The group's description; omitted or `\"\"` = none.",
    ),
    (
        "/definitions/Settings/properties/maxUsersCreated",
        "The most users one apply may create, 0..=10000000 (the API's default: 200). A plan \
         over it is blocked; above 20000 (or `target.maxPerRequest`) it goes in waves.",
    ),
    (
        "/definitions/Settings/properties/maxUsersUpdated",
        "The most users one apply may update, 0..=10000000 (the API's default: 200). A plan \
         over it is blocked; above 20000 (or `target.maxPerRequest`) it goes in waves.",
    ),
    (
        "/definitions/Settings/properties/maxUsersDeleted",
        "The most users one apply may delete, 0..=10000000 (the API's default: 200). A plan \
         over it is blocked; above 20000 (or `target.maxPerRequest`) it goes in \
         waves; apply sends the planned count, so the server never deletes more than \
         was reviewed.",
    ),
    (
        "/definitions/Settings/properties/maxGroupsCreated",
        "The most groups one apply may create, 0..=10000000 (the API's default: 200). A plan \
         over it is blocked; above 20000 (or `target.maxPerRequest`) it goes in waves.",
    ),
    (
        "/definitions/Settings/properties/maxGroupsUpdated",
        "The most groups one apply may update, 0..=10000000 (the API's default: 200). A plan \
         over it is blocked; above 20000 (or `target.maxPerRequest`) it goes in waves.",
    ),
    (
        "/definitions/Settings/properties/maxGroupsDeleted",
        "The most groups one apply may delete, 0..=10000000 (the API's default: 200). A plan \
         over it is blocked; above 20000 (or `target.maxPerRequest`) it goes in \
         waves; apply sends the planned count, so the server never deletes more than \
         was reviewed.",
    ),
    (
        "/definitions/Target/properties/maxPerRequest",
        "orgform-only, never sent: the most changes of a kind one request carries, \
         1..=20000 (default 20000, the API's cap). A plan above it is applied in waves.",
    ),
    (
        "/definitions/Settings/properties/forceSetLanguage",
        "Also set `language` on existing users (it resets their own choice); otherwise \
         `language` applies only when a user is created.",
    ),
    (
        "/definitions/DesiredUser/properties/protected",
        "orgform-only, never sent: `true` blocks every plan that would delete this user, \
         even after its entry is removed from the spec; `false` lifts the protection.",
    ),
    (
        "/definitions/DesiredGroup/properties/protected",
        "orgform-only, never sent: `true` blocks every plan that would delete this group, \
         even after its entry is removed from the spec; `false` lifts the protection.",
    ),
    (
        "/definitions/DesiredAccess/properties/memberOf",
        "externalIds of the groups the user is a member of; omitted = left as is on the \
         server, `[]` = none.",
    ),
    (
        "/definitions/DesiredAccess/properties/adminOf",
        "externalIds of the groups the user owns; omitted = left as is on the server, \
         `[]` = none.",
    ),
    (
        "/definitions/DesiredAccess/properties/inheritedAdminOf",
        "externalIds of the groups the user administers, with their subgroups; omitted = \
         left as is on the server, `[]` = none.",
    ),
    (
        "/definitions/DesiredAccess/properties/interestOf",
        "externalIds of the groups whose results the user may read; omitted = left as is \
         on the server, `[]` = none.",
    ),
    (
        "/definitions/DesiredAccess/properties/role",
        "`Administrator`, `Manager` or `User` (case-sensitive); omitted = left as is \
         (`User` on create).",
    ),
];

/// Sets the description at `pointer`; false when the pointer names nothing.
fn describe(root: &mut Value, pointer: &str, text: &str) -> bool {
    match root.pointer_mut(pointer).and_then(Value::as_object_mut) {
        Some(obj) => {
            obj.insert("description".to_owned(), Value::String(text.to_owned()));
            true
        }
        None => false,
    }
}

/// The property `prop` of the definition `def`.
fn property<'a>(root: &'a mut Value, def: &str, prop: &str) -> Option<&'a mut Map<String, Value>> {
    root.pointer_mut(&format!("/definitions/{def}/properties/{prop}"))
        .and_then(Value::as_object_mut)
}

fn set(root: &mut Value, def: &str, prop: &str, entries: Value) {
    if let (Some(p), Value::Object(entries)) = (property(root, def, prop), entries) {
        p.extend(entries);
    }
}

/// Adds the constraints the loader's rules check on single fields.
fn refine(root: &mut Value) {
    set(
        root,
        "DesiredUser",
        "phone",
        json!({"pattern": PHONE_PATTERN}),
    );
    set(
        root,
        "DesiredUser",
        "email",
        json!({"pattern": EMAIL_PATTERN, "maxLength": 254}),
    );
    set(root, "DesiredUser", "language", json!({"enum": LANGUAGES}));
    set(root, "DesiredUser", "timezone", json!({"enum": TIME_ZONES}));
    set(
        root,
        "DesiredUser",
        "externalProperties",
        json!({"additionalProperties": {"type": "string", "minLength": 1}}),
    );
    set(
        root,
        "Target",
        "tokenEnv",
        json!({"pattern": TOKEN_ENV_PATTERN}),
    );
    set(
        root,
        "Target",
        "endpoint",
        json!({"pattern": ENDPOINT_PATTERN}),
    );
    set(
        root,
        "Target",
        "tokenHeader",
        json!({"pattern": TOKEN_HEADER_PATTERN}),
    );
    // Whole numbers the loader reads as u32 (`outOfRange` above that).
    limit_uint32(root);
    // A set listed with a repeat is a warning for the loader, not an error.
    drop_unique_items(root);
    debug_assert_eq!(MAX_LIMIT, 20_000);
    debug_assert_eq!(orgform_model::MAX_APPLY_LIMIT, 10_000_000);
}

/// schemars gives every set (`BTreeSet`) `"uniqueItems": true`; the loader
/// only warns about a repeated entry (`duplicateListEntry`), so the schema
/// must not reject it.
fn drop_unique_items(v: &mut Value) {
    match v {
        Value::Object(obj) => {
            obj.remove("uniqueItems");
            obj.values_mut().for_each(drop_unique_items);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_unique_items),
        _ => {}
    }
}

/// schemars marks a `u32` with `"format": "uint32"`, which validators
/// ignore; say `maximum` where no smaller one is set.
fn limit_uint32(v: &mut Value) {
    match v {
        Value::Object(obj) => {
            if obj.get("format").and_then(Value::as_str) == Some("uint32") {
                obj.entry("maximum").or_insert(json!(u32::MAX));
            }
            obj.values_mut().for_each(limit_uint32);
        }
        Value::Array(items) => items.iter_mut().for_each(limit_uint32),
        _ => {}
    }
}

/// The model's doc comments say "`None` = …" for an omitted field; in a
/// spec, that is an omitted key.
fn omitted_not_none(v: &mut Value) {
    match v {
        Value::Object(obj) => {
            for (k, x) in obj.iter_mut() {
                if k == "description"
                    && let Value::String(s) = x
                {
                    *s = s.replace("`None`", "omitted");
                } else {
                    omitted_not_none(x);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(omitted_not_none),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_description_override_lands() {
        let mut root = spec_schema();
        for (pointer, _) in DESCRIPTIONS {
            assert!(describe(&mut root, pointer, "x"), "{pointer} names nothing");
        }
    }

    #[test]
    fn version_is_the_constant_one() {
        assert_eq!(
            spec_schema().pointer("/properties/version/const"),
            Some(&json!(1))
        );
    }

    #[test]
    fn no_option_is_nullable_but_parent() {
        let text = spec_schema_text();
        let nulls = text.matches("\"null\"").count();
        assert_eq!(nulls, 1, "only `parent` accepts null:\n{text}");
        let parent = spec_schema()
            .pointer("/definitions/DesiredGroup/properties/parent")
            .cloned();
        assert!(parent.is_some_and(|p| p.to_string().contains("null")));
    }
}
