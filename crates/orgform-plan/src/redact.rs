//! `--redact`: masks personal data once, on the data, before any renderer
//! sees it (DESIGN section 4: emails, phones, first and last names and
//! externalProperties values; externalIds stay).
//!
//! What is masked, and how:
//!
//! - every sensitive value becomes [`MASK`] (`[redacted]`);
//! - where a before and an after value of the same field stand side by
//!   side and differ (an update's field, a record in the diff's before and
//!   after states), they become [`MASK_OLD`] and [`MASK_NEW`], so a reviewer
//!   still sees *that* a value changes, never what it was or becomes;
//! - a user's label (`First Last <email>`) becomes [`MASK`]; a group's name,
//!   description and parent are not personal data and stay;
//! - warning and blocked-reason messages quote values in backticks: a
//!   quoted span is masked when it is one of the sensitive values of the
//!   plan or its states, when it looks like an email (has an `@`) or a
//!   phone (`+` and digits), and, in a message about a sensitive field
//!   (`path` is `email`, `externalProperties.…`, …), every quoted span
//!   other than the path and the externalId (the old value it names may be
//!   in no record of a saved plan).
//!
//! The masks never depend on the value (no hash: emails and names are easy
//! to guess, so a hash would be a lookup table), and equal values are not
//! numbered, so nothing about a value's identity leaks beyond "it changed".

use std::collections::{BTreeMap, HashSet};

use orgform_model::{EffUser, EffectiveOrg};
use serde_json::Value;

use crate::doc::{BlockedReason, Change, FieldChange, PlanDoc, Record, Warning};

/// What a masked value reads.
pub const MASK: &str = "[redacted]";
/// A masked value that differs from the [`MASK_NEW`] beside it.
pub const MASK_OLD: &str = "[redacted: old]";
/// A masked value that differs from the [`MASK_OLD`] beside it.
pub const MASK_NEW: &str = "[redacted: new]";

/// Whether a spec field path holds personal data that `--redact` masks.
pub fn is_sensitive_path(path: &str) -> bool {
    matches!(path, "firstName" | "lastName" | "email" | "phone")
        || path.starts_with("externalProperties.")
}

/// The sensitive values seen in a plan and its states, to find them in
/// free text.
#[derive(Debug, Default)]
pub(crate) struct Secrets {
    values: HashSet<String>,
}

impl Secrets {
    fn add(&mut self, s: &str) {
        if !s.is_empty() {
            self.values.insert(s.to_owned());
        }
    }

    fn add_user(&mut self, u: &EffUser) {
        self.add(&u.first_name);
        self.add(&u.last_name);
        self.add(&u.email);
        if let Some(p) = &u.phone {
            self.add(p);
        }
        for v in u.external_properties.values() {
            self.add(v);
        }
        self.add(&format!("{} {}", u.first_name, u.last_name));
    }

    fn add_value(&mut self, v: &Value) {
        match v {
            Value::String(s) => self.add(s),
            Value::Array(items) => items.iter().for_each(|i| self.add_value(i)),
            _ => {}
        }
    }

    /// Collects every sensitive value of a plan document.
    pub(crate) fn of_doc(doc: &PlanDoc) -> Secrets {
        let mut s = Secrets::default();
        s.extend_doc(doc);
        s
    }

    pub(crate) fn extend_doc(&mut self, doc: &PlanDoc) {
        for c in &doc.changes {
            for r in [&c.after, &c.before].into_iter().flatten() {
                if let Record::User(u) = r {
                    self.add_user(u);
                }
            }
            for f in &c.fields {
                if is_sensitive_path(&f.path) {
                    for v in [&f.before, &f.after].into_iter().flatten() {
                        self.add_value(v);
                    }
                }
            }
            if c.kind == orgform_model::Kind::User {
                self.add(&c.label);
            }
        }
    }

    pub(crate) fn extend_org(&mut self, org: &EffectiveOrg) {
        for u in org.users.values() {
            self.add_user(u);
        }
    }

    /// Masks quoted spans of a message (see the module docs).
    pub(crate) fn message(&self, text: &str, sensitive_field: Option<&[&str]>) -> String {
        let mut out = String::with_capacity(text.len());
        let mut parts = text.split('`').peekable();
        let mut quoted = false;
        while let Some(part) = parts.next() {
            if quoted && parts.peek().is_none() {
                // An unbalanced backtick: the rest is plain text.
                out.push('`');
                out.push_str(&self.plain(part));
                break;
            }
            if quoted {
                out.push('`');
                let masked = self.values.contains(part)
                    || part.contains('@')
                    || looks_like_phone(part)
                    || sensitive_field.is_some_and(|keep| !keep.contains(&part));
                out.push_str(if masked { MASK } else { part });
                out.push('`');
            } else {
                out.push_str(&self.plain(part));
            }
            quoted = !quoted;
        }
        out
    }

    /// Free text outside backticks: emails are long and unique enough to
    /// be found anywhere; other values only when quoted.
    fn plain(&self, text: &str) -> String {
        if !text.contains('@') {
            return text.to_owned();
        }
        text.split(' ')
            .map(|w| {
                if w.contains('@') {
                    let trimmed = w.trim_matches(|c: char| !c.is_alphanumeric());
                    if trimmed.contains('@') {
                        return w.replace(trimmed, MASK);
                    }
                }
                w.to_owned()
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn looks_like_phone(s: &str) -> bool {
    s.strip_prefix('+')
        .is_some_and(|d| d.len() >= 4 && d.chars().all(|c| c.is_ascii_digit()))
}

/// A masked copy of a plan document.
pub fn doc(doc: &PlanDoc) -> PlanDoc {
    doc_with(doc, &Secrets::of_doc(doc))
}

pub(crate) fn doc_with(doc: &PlanDoc, secrets: &Secrets) -> PlanDoc {
    PlanDoc {
        changes: doc.changes.iter().map(change).collect(),
        warnings: doc.warnings.iter().map(|w| warning(w, secrets)).collect(),
        blocked_reasons: doc
            .blocked_reasons
            .iter()
            .map(|r| blocked(r, secrets))
            .collect(),
        ..doc.clone()
    }
}

fn change(c: &Change) -> Change {
    Change {
        label: if c.kind == orgform_model::Kind::User {
            MASK.to_owned()
        } else {
            c.label.clone()
        },
        fields: c.fields.iter().map(field).collect(),
        after: c.after.as_ref().map(record),
        before: c.before.as_ref().map(record),
        ..c.clone()
    }
}

fn record(r: &Record) -> Record {
    match r {
        Record::User(u) => Record::User(Box::new(user(u))),
        Record::Group(g) => Record::Group(g.clone()),
    }
}

/// A user with every sensitive field masked.
pub fn user(u: &EffUser) -> EffUser {
    user_against(u, None)
}

/// `u` masked, with [`MASK_OLD`]/[`MASK_NEW`] (by `is_old`) on the fields
/// that differ from `other`, the same user on the other side.
fn user_against(u: &EffUser, other: Option<(&EffUser, bool)>) -> EffUser {
    let mask = |mine: &str, theirs: Option<&str>| -> String {
        match other {
            Some((_, is_old)) if theirs.is_some_and(|t| t != mine) => {
                if is_old { MASK_OLD } else { MASK_NEW }.to_owned()
            }
            _ => MASK.to_owned(),
        }
    };
    let o = other.map(|(o, _)| o);
    EffUser {
        first_name: mask(&u.first_name, o.map(|o| o.first_name.as_str())),
        last_name: mask(&u.last_name, o.map(|o| o.last_name.as_str())),
        email: mask(&u.email, o.map(|o| o.email.as_str())),
        phone: u
            .phone
            .as_deref()
            .map(|p| mask(p, o.and_then(|o| o.phone.as_deref()))),
        external_properties: u
            .external_properties
            .iter()
            .map(|(k, v)| {
                let theirs = o
                    .and_then(|o| o.external_properties.get(k))
                    .map(String::as_str);
                (k.clone(), mask(v, theirs))
            })
            .collect::<BTreeMap<_, _>>(),
        ..u.clone()
    }
}

fn field(f: &FieldChange) -> FieldChange {
    if !is_sensitive_path(&f.path) {
        return f.clone();
    }
    let differ = matches!((&f.before, &f.after), (Some(a), Some(b)) if a != b);
    let masked = |v: &Option<Value>, side: &str| {
        v.as_ref()
            .map(|_| Value::String(if differ { side } else { MASK }.to_owned()))
    };
    FieldChange {
        path: f.path.clone(),
        before: masked(&f.before, MASK_OLD),
        after: masked(&f.after, MASK_NEW),
    }
}

fn warning(w: &Warning, secrets: &Secrets) -> Warning {
    let keep: Vec<&str> = w
        .path
        .iter()
        .chain(w.external_id.iter())
        .map(String::as_str)
        .collect();
    let sensitive = w.path.as_deref().is_some_and(is_sensitive_path);
    Warning {
        message: secrets.message(&w.message, sensitive.then_some(keep.as_slice())),
        ..w.clone()
    }
}

fn blocked(r: &BlockedReason, secrets: &Secrets) -> BlockedReason {
    BlockedReason {
        message: secrets.message(&r.message, None),
        ..r.clone()
    }
}

/// Masked copies of the states before and after a plan: a field that
/// differs between the two sides of the same user reads [`MASK_OLD`] before
/// and [`MASK_NEW`] after.
pub fn states(before: &EffectiveOrg, after: &EffectiveOrg) -> (EffectiveOrg, EffectiveOrg) {
    let side = |org: &EffectiveOrg, other: &EffectiveOrg, is_old: bool| EffectiveOrg {
        users: org
            .users
            .iter()
            .map(|(id, u)| {
                let o = other.users.get(id).map(|o| (o, is_old));
                (id.clone(), user_against(u, o))
            })
            .collect(),
        groups: org.groups.clone(),
        protected: org.protected.clone(),
    };
    (side(before, after, true), side(after, before, false))
}

/// An endpoint URL without what may carry a credential: the userinfo
/// (`user:password@`), the query and the fragment. Scheme, host, port and
/// path stay (they say where the plan goes).
pub fn endpoint(url: &str) -> String {
    let url = url.trim();
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    match scheme {
        Some(scheme) => format!("{scheme}://{host}{path}"),
        None => format!("{host}{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_mask_quoted_values_emails_and_phones_only() {
        let mut s = Secrets::default();
        s.add("Female");
        let m = s.message(
            "`externalProperties.gender` of user `E1` keeps `Female`; mail ann@example.com, \
             call `+46701234567`, group `G1`",
            None,
        );
        assert_eq!(
            m,
            "`externalProperties.gender` of user `E1` keeps `[redacted]`; mail [redacted], \
             call `[redacted]`, group `G1`"
        );
    }

    #[test]
    fn a_message_about_a_sensitive_field_keeps_only_its_path_and_record() {
        let s = Secrets::default();
        let keep = ["externalProperties.city", "E1"];
        let m = s.message(
            "`externalProperties.city` of user `E1` is omitted, so the server keeps `Oslo`",
            Some(&keep),
        );
        assert!(!m.contains("Oslo"), "{m}");
        assert!(m.contains("`E1`") && m.contains("`externalProperties.city`"));
    }

    #[test]
    fn endpoints_lose_userinfo_query_and_fragment() {
        let cases = [
            (
                "https://org.api.example.com/v1/organization",
                "https://org.api.example.com/v1/organization",
            ),
            (
                "https://bot:s3cret@org.example.com:8443/v1/organization?api_key=k#x",
                "https://org.example.com:8443/v1/organization",
            ),
            ("http://a@b@127.0.0.1:9/v1?token=t", "http://127.0.0.1:9/v1"),
            ("https://host?sig=abc", "https://host"),
            ("user:pw@host/path", "host/path"),
        ];
        for (url, want) in cases {
            assert_eq!(endpoint(url), want, "{url}");
        }
    }

    #[test]
    fn an_unbalanced_backtick_does_not_swallow_text() {
        let s = Secrets::default();
        assert_eq!(s.message("a `b` c `d", None), "a `b` c `d");
    }

    #[test]
    fn differing_values_side_by_side_are_old_and_new() {
        let f = FieldChange {
            path: "email".into(),
            before: Some(Value::String("a@example.com".into())),
            after: Some(Value::String("b@example.com".into())),
        };
        let m = field(&f);
        assert_eq!(m.before, Some(Value::String(MASK_OLD.into())));
        assert_eq!(m.after, Some(Value::String(MASK_NEW.into())));
        let added = FieldChange {
            path: "phone".into(),
            before: None,
            after: Some(Value::String("+46701234567".into())),
        };
        assert_eq!(field(&added).after, Some(Value::String(MASK.into())));
        let role = FieldChange {
            path: "accessInfo.role".into(),
            before: Some(Value::String("User".into())),
            after: Some(Value::String("Manager".into())),
        };
        assert_eq!(field(&role), role);
    }
}
