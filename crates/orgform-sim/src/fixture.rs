//! The account an emulator starts with: its custom attributes, defaults,
//! other companies' emails, and the users and groups created by hand
//! (outside the API), which the API never touches.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use orgform_model::{AccessList, AttributeDef, Role};
use serde::{Deserialize, Serialize};

use crate::checks::{cycles, format_cycle, is_e164};
use crate::error::SimError;

/// The account the emulator serves, read from a JSON file (`--fixture`).
///
/// Every key is optional; unknown keys are an error (a typo should not
/// silently change what the emulator accepts):
///
/// ```json
/// {
///   "attributes": {
///     "gender": {"values": ["Male", "Female", "Non-binary", "Not-specified"]},
///     "city": {},
///     "hireDate": {"required": true}
///   },
///   "defaults": {"timezone": "Europe/Stockholm", "language": "sv"},
///   "otherCompanyEmails": ["someone@example.org"],
///   "groups": [
///     {"externalId": "0000689", "name": "Acme"},
///     {"externalId": "0000754", "name": "Board", "description": "The board", "parent": "0000689"}
///   ],
///   "users": [
///     {"firstName": "Mia", "lastName": "Manual", "email": "mia@example.com",
///      "phone": "+46701234567", "role": "Administrator", "memberOf": ["0000689"]}
///   ]
/// }
/// ```
///
/// - `attributes`: the account's custom attributes (the keys
///   `externalProperties` may use), each with optional allowed `values`
///   (exact match) and `required` (must be set on every active user,
///   the HR guide's "Required if active"). **Absent** means the account's
///   attributes are not modelled and any key and value is accepted (an
///   emulator convenience); `{}` means the account has none, so every key
///   is rejected with `validateExternalProperties`.
/// - `defaults`: the company's default `timezone` and `language`, used
///   where a user omits them (the effective record stores "absent").
/// - `otherCompanyEmails`: emails of users in other companies;
///   a request user with one of them (case-insensitive) is rejected with
///   `validateDuplicateMailInAnotherCompany`.
/// - `groups`: groups created by hand, with their externalIds (so requests
///   may reference them); a `parent` must be another fixture group.
/// - `users`: users created by hand; `externalId` is optional. Other fields
///   as in the effective form (`phone`, `active` (default true), `timezone`,
///   `language`, `role` (default `User`), `memberOf`, `adminOf`,
///   `inheritedAdminOf`, `interestOf` naming fixture groups,
///   `externalProperties`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fixture {
    /// The account's custom attributes; `None` = not modelled (anything goes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<BTreeMap<String, AttributeDef>>,
    /// The company's default timezone and language.
    #[serde(default)]
    pub defaults: AccountDefaults,
    /// Emails held by users of other companies (compared case-insensitively).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_company_emails: Vec<String>,
    /// Groups created by hand.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<FixtureGroup>,
    /// Users created by hand.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<FixtureUser>,
}

/// The company's defaults, applied where a user omits a field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountDefaults {
    /// IANA timezone, e.g. `Europe/Stockholm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// ISO 639-1 code, e.g. `sv`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// A group created by hand (never touched by the API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FixtureGroup {
    /// Its externalId, which requests may reference.
    pub external_id: String,
    /// Display name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Another fixture group; `None` = a root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

/// A user created by hand (never touched by the API), in the effective form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FixtureUser {
    /// Manually created users often have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Email.
    pub email: String,
    /// E.164 phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Default true.
    #[serde(default = "yes")]
    pub active: bool,
    /// `None` = the account default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// `None` = the account default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Memberships (fixture groups).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub member_of: BTreeSet<String>,
    /// Ownerships (fixture groups).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub admin_of: BTreeSet<String>,
    /// Administrator rights (fixture groups).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub inherited_admin_of: BTreeSet<String>,
    /// Read rights (fixture groups).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub interest_of: BTreeSet<String>,
    /// Default `User`.
    #[serde(default)]
    pub role: Role,
    /// Custom attributes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub external_properties: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

impl FixtureUser {
    /// An active manual `User` without externalId.
    pub fn new(first_name: &str, last_name: &str, email: &str) -> Self {
        FixtureUser {
            external_id: None,
            first_name: first_name.to_owned(),
            last_name: last_name.to_owned(),
            email: email.to_owned(),
            phone: None,
            active: true,
            timezone: None,
            language: None,
            member_of: BTreeSet::new(),
            admin_of: BTreeSet::new(),
            inherited_admin_of: BTreeSet::new(),
            interest_of: BTreeSet::new(),
            role: Role::User,
            external_properties: BTreeMap::new(),
        }
    }

    /// One of the four lists.
    pub fn list(&self, which: AccessList) -> &BTreeSet<String> {
        match which {
            AccessList::MemberOf => &self.member_of,
            AccessList::AdminOf => &self.admin_of,
            AccessList::InheritedAdminOf => &self.inherited_admin_of,
            AccessList::InterestOf => &self.interest_of,
        }
    }

    /// How messages name this user: its externalId, else its email.
    pub(crate) fn label(&self) -> String {
        match &self.external_id {
            Some(id) => format!("`{id}`"),
            None => format!("`{}` (no externalId)", self.email),
        }
    }
}

impl FixtureGroup {
    /// A root group without description.
    pub fn new(external_id: &str, name: &str) -> Self {
        FixtureGroup {
            external_id: external_id.to_owned(),
            name: name.to_owned(),
            description: None,
            parent: None,
        }
    }
}

impl Fixture {
    /// Reads and checks a fixture file (see [`Fixture`] for the format).
    pub fn load(path: &Path) -> Result<Fixture, SimError> {
        let text = std::fs::read_to_string(path).map_err(|source| SimError::FixtureRead {
            path: path.to_owned(),
            source,
        })?;
        let fixture: Fixture =
            serde_json::from_str(&text).map_err(|source| SimError::FixtureParse {
                path: path.to_owned(),
                source,
            })?;
        let problems = fixture.problems();
        if problems.is_empty() {
            Ok(fixture)
        } else {
            Err(SimError::FixtureInvalid {
                origin: format!("`{}`", path.display()),
                problems: problems.join("; "),
            })
        }
    }

    /// Every inconsistency, in a fixed order: duplicate externalIds, emails
    /// or phones, malformed phones, references to groups the fixture lacks,
    /// cycles among its groups.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut group_ids = BTreeSet::new();
        for g in &self.groups {
            if g.external_id.is_empty() {
                problems.push(format!("group `{}` has an empty externalId", g.name));
            } else if !group_ids.insert(g.external_id.as_str()) {
                problems.push(format!("group `{}` is listed twice", g.external_id));
            }
        }
        for g in &self.groups {
            if let Some(p) = &g.parent
                && !group_ids.contains(p.as_str())
            {
                problems.push(format!(
                    "group `{}` has parent `{p}`, which is not a fixture group",
                    g.external_id
                ));
            }
        }
        let parents: BTreeMap<&str, &str> = self
            .groups
            .iter()
            .filter_map(|g| Some((g.external_id.as_str(), g.parent.as_deref()?)))
            .collect();
        for cycle in cycles(&parents) {
            problems.push(format!(
                "the fixture's groups form a cycle: {}",
                format_cycle(&cycle)
            ));
        }
        let mut user_ids = BTreeSet::new();
        let mut emails = BTreeSet::new();
        let mut phones = BTreeSet::new();
        for u in &self.users {
            if let Some(id) = &u.external_id
                && !user_ids.insert(id.as_str())
            {
                problems.push(format!("user `{id}` is listed twice"));
            }
            if !emails.insert(u.email.to_lowercase()) {
                problems.push(format!("email `{}` is used by two users", u.email));
            }
            if let Some(phone) = u.phone.as_deref().filter(|p| !p.is_empty()) {
                if !is_e164(phone) {
                    problems.push(format!(
                        "user {} has phone `{phone}`, which is not in E.164 form",
                        u.label()
                    ));
                }
                if !phones.insert(phone) {
                    problems.push(format!("phone `{phone}` is used by two users"));
                }
            }
            for list in AccessList::ALL {
                for g in u.list(list) {
                    if !group_ids.contains(g.as_str()) {
                        problems.push(format!(
                            "user {} names group `{g}` in {}, which is not a fixture group",
                            u.label(),
                            list.field()
                        ));
                    }
                }
            }
        }
        problems
    }
}
