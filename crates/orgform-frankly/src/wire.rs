//! The JSON the organization API speaks, as the API reference documents it
//! (`POST /v1/organization`) plus the answer format the emulator documents
//! (the real API's answer body is undocumented).
//!
//! Every field the API lets a client omit is an `Option` so the emulator can
//! tell "omitted" from "given"; `parent` is a double option because `null`
//! (make the group a root) differs from omitted (leave as is).

use std::collections::{BTreeMap, BTreeSet};

use orgform_model::{DesiredGroup, DesiredOrg, DesiredUser, Limits, ParentRef};
use serde::{Deserialize, Serialize};

/// The request body of `POST /v1/organization`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationRequest {
    /// The `settings` object; omitted = every default.
    #[serde(default)]
    pub settings: WireSettings,
    /// The `data` object.
    #[serde(default)]
    pub data: WireData,
}

/// `settings`. The client sends every field; the server applies the API's
/// defaults (validateOnly true, forceSetLanguage false, limits 200) to
/// omitted ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireSettings {
    /// Validate without enacting. The API's default is `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validate_only: Option<bool>,
    /// Force `language` on existing users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_set_language: Option<bool>,
    /// `maxUsersCreated`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_users_created: Option<i64>,
    /// `maxUsersUpdated`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_users_updated: Option<i64>,
    /// `maxUsersDeleted`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_users_deleted: Option<i64>,
    /// `maxGroupsCreated`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_groups_created: Option<i64>,
    /// `maxGroupsUpdated`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_groups_updated: Option<i64>,
    /// `maxGroupsDeleted`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_groups_deleted: Option<i64>,
}

/// `data`: omitted `users` or `groups` = that kind is not managed by this request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireData {
    /// Managed users that should exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<WireUser>>,
    /// Managed groups that should exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<WireGroup>>,
}

/// One user of `data.users`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireUser {
    /// Customer unique identifier.
    pub external_id: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Email.
    pub email: String,
    /// Phone with country prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Active (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// IANA timezone; omitted = company default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// ISO 639-1; omitted = company default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Group references and role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_info: Option<WireAccessInfo>,
    /// Custom attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_properties: Option<BTreeMap<String, String>>,
}

/// `accessInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireAccessInfo {
    /// Memberships.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_of: Option<Vec<String>>,
    /// Ownerships.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_of: Option<Vec<String>>,
    /// Administrator rights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inherited_admin_of: Option<Vec<String>>,
    /// Read rights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interest_of: Option<Vec<String>>,
    /// `Administrator`, `Manager` or `User`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// One group of `data.groups`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireGroup {
    /// Customer chosen unique identifier.
    pub external_id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `None` = omitted (left as is); `Some(None)` = `null` (root).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub parent: Option<Option<String>>,
}

/// Per-kind counts in an answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Records created.
    pub created: u64,
    /// Records whose effective data changed.
    pub updated: u64,
    /// Records removed.
    pub deleted: u64,
    /// Records sent and left as they were.
    pub unchanged: u64,
}

/// The emulator's `200` answer (the real API's is undocumented).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationResponse {
    /// Echo of the effective `validateOnly`.
    pub validate_only: bool,
    /// User counts.
    pub users: Counts,
    /// Group counts.
    pub groups: Counts,
}

/// The emulator's `400` answer: every rejection of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorResponse {
    /// All problems found, not just the first.
    pub errors: Vec<ApiError>,
}

/// One rejection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    /// One of the codes in [`codes`].
    pub code: String,
    /// The record concerned, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Human-readable detail.
    #[serde(default)]
    pub message: String,
    /// For `limitExceeded`: the setting, e.g. `maxUsersDeleted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setting: Option<String>,
    /// For `limitExceeded`: the limit in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// For `limitExceeded`: what the request would have needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested: Option<u64>,
}

/// Error codes: the HR guide's, plus the emulator's documented additions.
pub mod codes {
    /// The token is invalid or the sending IP is not allowed (HR guide).
    pub const API_TOKEN_VALIDATION: &str = "apiTokenValidation";
    /// A phone number is not well formed (HR guide).
    pub const PHONE_INCORRECT: &str = "validateThatPhoneNumberIsCorrect";
    /// A phone number is used by another user (HR guide).
    pub const PHONE_DUPLICATE: &str = "validateNoPhoneDuplicates";
    /// An email is used by a user of another company (HR guide).
    pub const MAIL_IN_ANOTHER_COMPANY: &str = "validateDuplicateMailInAnotherCompany";
    /// An external property is undeclared, not allowed, or missing (HR guide).
    pub const EXTERNAL_PROPERTIES: &str = "validateExternalProperties";
    /// A reference to a group neither the request nor the account has (emulator).
    pub const UNKNOWN_GROUP: &str = "unknownGroup";
    /// A limit would be passed; nothing was changed (emulator).
    pub const LIMIT_EXCEEDED: &str = "limitExceeded";
    /// The body is not a valid organization request (emulator).
    pub const INVALID_REQUEST: &str = "invalidRequest";
}

impl OrganizationRequest {
    /// The request for a desired org: every setting explicit, `limits` as
    /// given (the apply flow passes the planned deletion counts as the
    /// deletion limits), orgform-only fields left out.
    pub fn from_desired(org: &DesiredOrg, limits: Limits, validate_only: bool) -> Self {
        OrganizationRequest {
            settings: WireSettings {
                validate_only: Some(validate_only),
                force_set_language: Some(org.settings.force_set_language),
                max_users_created: Some(limits.max_users_created.into()),
                max_users_updated: Some(limits.max_users_updated.into()),
                max_users_deleted: Some(limits.max_users_deleted.into()),
                max_groups_created: Some(limits.max_groups_created.into()),
                max_groups_updated: Some(limits.max_groups_updated.into()),
                max_groups_deleted: Some(limits.max_groups_deleted.into()),
            },
            data: WireData {
                users: org
                    .users
                    .as_ref()
                    .map(|us| us.iter().map(WireUser::from).collect()),
                groups: org
                    .groups
                    .as_ref()
                    .map(|gs| gs.iter().map(WireGroup::from).collect()),
            },
        }
    }
}

fn list(set: &Option<BTreeSet<String>>) -> Option<Vec<String>> {
    set.as_ref().map(|s| s.iter().cloned().collect())
}

impl From<&DesiredUser> for WireUser {
    fn from(u: &DesiredUser) -> Self {
        let a = &u.access_info;
        WireUser {
            external_id: u.external_id.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            email: u.email.clone(),
            phone: u.phone.clone(),
            active: u.active,
            timezone: u.timezone.clone(),
            language: u.language.clone(),
            access_info: (!a.is_empty()).then(|| WireAccessInfo {
                member_of: list(&a.member_of),
                admin_of: list(&a.admin_of),
                inherited_admin_of: list(&a.inherited_admin_of),
                interest_of: list(&a.interest_of),
                role: a.role.map(|r| r.as_str().to_owned()),
            }),
            external_properties: (!u.external_properties.is_empty())
                .then(|| u.external_properties.clone()),
        }
    }
}

impl From<&DesiredGroup> for WireGroup {
    fn from(g: &DesiredGroup) -> Self {
        WireGroup {
            external_id: g.external_id.clone(),
            name: g.name.clone(),
            description: g.description.clone(),
            parent: match &g.parent {
                ParentRef::Omitted => None,
                ParentRef::Root => Some(None),
                ParentRef::Group(p) => Some(Some(p.clone())),
            },
        }
    }
}

/// Serde helper: an absent key, `null` and a value are three states.
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, T: Serialize>(
        v: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(inner) => inner.serialize(s),
            // Only reached without `skip_serializing_if`; absent is the best we can do.
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_keeps_three_states_on_the_wire() {
        let body = r#"[{"externalId":"a","name":"A"},
                       {"externalId":"b","name":"B","parent":null},
                       {"externalId":"c","name":"C","parent":"a"}]"#;
        let groups: Vec<WireGroup> = serde_json::from_str(body).unwrap();
        assert_eq!(groups[0].parent, None);
        assert_eq!(groups[1].parent, Some(None));
        assert_eq!(groups[2].parent, Some(Some("a".into())));
        let back = serde_json::to_string(&groups).unwrap();
        assert!(back.contains(r#""externalId":"a","name":"A"}"#), "{back}");
        assert!(back.contains(r#""parent":null"#), "{back}");
    }

    #[test]
    fn request_sends_every_setting_and_no_orgform_only_field() {
        let mut org = DesiredOrg::default();
        let mut u = DesiredUser::new("E1", "Ada", "Lovelace", "ada@example.com");
        u.protected = Some(true);
        org.users = Some(vec![u]);
        let limits = Limits {
            max_users_deleted: 0,
            ..Limits::default()
        };
        let req = OrganizationRequest::from_desired(&org, limits, false);
        let json = serde_json::to_value(&req).unwrap();
        assert_eq!(json["settings"]["validateOnly"], false);
        assert_eq!(json["settings"]["maxUsersDeleted"], 0);
        assert_eq!(json["settings"]["maxGroupsCreated"], 200);
        assert!(
            json["data"].get("groups").is_none(),
            "omitted groups stay omitted"
        );
        assert!(json["data"]["users"][0].get("protected").is_none());
        assert!(json["data"]["users"][0].get("accessInfo").is_none());
    }
}
