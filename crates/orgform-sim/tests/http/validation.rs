//! Every rejection: the HR guide's codes, `unknownGroup`, the emulator's
//! own, and `invalidRequest`; all problems reported together, nothing
//! changed.

use std::collections::{BTreeMap, BTreeSet};

use orgform_model::AttributeDef;
use orgform_sim::{Fixture, FixtureGroup, FixtureUser};
use serde_json::{Value, json};

use crate::common::{Sim, TOKEN, codes, group, real, user, with};

fn attributes() -> BTreeMap<String, AttributeDef> {
    let gender = AttributeDef {
        values: Some(
            ["Male", "Female", "Non-binary", "Not-specified"]
                .map(String::from)
                .into(),
        ),
        required: false,
    };
    let hire = AttributeDef {
        values: None,
        required: true,
    };
    [
        ("gender".to_owned(), gender),
        ("hireDate".to_owned(), hire),
        ("city".to_owned(), AttributeDef::default()),
    ]
    .into_iter()
    .collect()
}

fn strict_fixture() -> Fixture {
    let mut manual = FixtureUser::new("Mia", "Manual", "mia@example.com");
    manual.phone = Some("+46700000001".into());
    Fixture {
        attributes: Some(attributes()),
        other_company_emails: vec!["Taken@Example.org".into()],
        groups: vec![FixtureGroup::new("MANUAL", "By hand")],
        users: vec![manual],
        ..Fixture::default()
    }
}

/// A user the strict fixture accepts.
fn hired(id: &str) -> Value {
    with(
        user(id, id),
        json!({"externalProperties": {"hireDate": "2024-01-01"}}),
    )
}

/// (code, externalId) of each error.
fn pairs(errors: &[Value]) -> Vec<(String, String)> {
    errors
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap().to_owned(),
                e["externalId"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_refused_and_nothing_changes() {
    let sim = Sim::start().await;
    let body = real(json!({"users": [user("A", "Ann")]})).to_string();
    for token in [
        None,
        Some("wrong"),
        Some(""),
        Some(&format!("Bearer {TOKEN}")[..]),
    ] {
        let (status, answer) = sim.post_raw(token, &body).await;
        assert_eq!(status, 400, "{token:?}");
        assert_eq!(
            codes(answer["errors"].as_array().unwrap()),
            ["apiTokenValidation"]
        );
        assert!(
            !answer.to_string().contains(TOKEN),
            "the token is never echoed"
        );
    }
    // The body is not even read: a malformed one still says only "token".
    let (_, answer) = sim.post_raw(Some("wrong"), "{not json").await;
    assert_eq!(
        codes(answer["errors"].as_array().unwrap()),
        ["apiTokenValidation"]
    );
    // The read and faults endpoints want the token too.
    for url in [
        sim.handle.url(),
        format!("{}/_sim/faults", sim.handle.base_url()),
    ] {
        let resp = sim
            .client
            .get(&url)
            .header("Authorization", "wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{url}");
    }
    assert!(sim.managed_user_ids().await.is_empty());
}

#[tokio::test]
async fn phones_must_be_e164_and_empty_means_none() {
    let sim = Sim::start().await;
    let bad = [
        "0701234567",
        "+46 70 123 45 67",
        "+1234567",
        "+1234567890123456",
        "+0461234567",
        "phone",
    ];
    let users: Vec<Value> = bad
        .iter()
        .enumerate()
        .map(|(i, p)| with(user(&format!("U{i}"), "Ub"), json!({"phone": p})))
        .collect();
    let errors = sim.reject(json!({"users": users})).await;
    assert_eq!(
        pairs(&errors),
        (0..bad.len())
            .map(|i| (
                "validateThatPhoneNumberIsCorrect".to_owned(),
                format!("U{i}")
            ))
            .collect::<Vec<_>>()
    );
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("`0701234567`")
    );
    let good = ["+461234567", "+12345678", "+123456789012345", ""];
    let users: Vec<Value> = good
        .iter()
        .enumerate()
        .map(|(i, p)| with(user(&format!("U{i}"), "Ug"), json!({"phone": p})))
        .collect();
    sim.apply(json!({"users": users})).await;
}

#[tokio::test]
async fn phone_duplicates_within_the_request_and_against_manual_users_are_refused() {
    let sim = Sim::with_fixture(strict_fixture()).await;
    let errors = sim
        .reject(json!({"users": [
            with(hired("A"), json!({"phone": "+46701234567"})),
            with(hired("B"), json!({"phone": "+46701234567"})),
            with(hired("C"), json!({"phone": "+46700000001"})),
        ]}))
        .await;
    assert_eq!(
        pairs(&errors),
        [
            ("validateNoPhoneDuplicates".to_owned(), "A".to_owned()),
            ("validateNoPhoneDuplicates".to_owned(), "B".to_owned()),
            ("validateNoPhoneDuplicates".to_owned(), "C".to_owned()),
        ]
    );
    assert!(
        errors[0]["message"].as_str().unwrap().contains("user `B`"),
        "{errors:?}"
    );
    assert!(
        errors[2]["message"]
            .as_str()
            .unwrap()
            .contains("manually created user"),
        "{errors:?}"
    );
}

#[tokio::test]
async fn a_phone_may_move_from_a_user_this_request_deletes() {
    let sim = Sim::with_fixture(strict_fixture()).await;
    sim.apply(json!({"users": [with(hired("C"), json!({"phone": "+46701234567"}))]}))
        .await;
    // Kept managed users count: C stays (users sent again with C), D clashes.
    let errors = sim
        .reject(json!({"users": [
            with(hired("C"), json!({"phone": "+46701234567"})),
            with(hired("D"), json!({"phone": "+46701234567"})),
        ]}))
        .await;
    assert_eq!(
        codes(&errors),
        ["validateNoPhoneDuplicates", "validateNoPhoneDuplicates"]
    );
    // C deleted in the same request: its phone is free.
    sim.apply(json!({"users": [with(hired("D"), json!({"phone": "+46701234567"}))]}))
        .await;
    assert_eq!(sim.managed_user_ids().await, ["D"]);
}

#[tokio::test]
async fn an_email_of_another_company_is_refused_case_insensitively() {
    let sim = Sim::with_fixture(strict_fixture()).await;
    let errors = sim
        .reject(json!({"users": [with(hired("A"), json!({"email": "taken@EXAMPLE.org"}))]}))
        .await;
    assert_eq!(
        pairs(&errors),
        [(
            "validateDuplicateMailInAnotherCompany".to_owned(),
            "A".to_owned()
        )]
    );
}

#[tokio::test]
async fn external_properties_must_be_defined_allowed_non_empty_and_required_ones_present() {
    let sim = Sim::with_fixture(strict_fixture()).await;
    let errors = sim
        .reject(json!({"users": [
            with(user("A", "A"), json!({"externalProperties": {"hireDate": "2024-01-01", "shoeSize": "42"}})),
            with(user("B", "B"), json!({"externalProperties": {"hireDate": "2024-01-01", "gender": "not specified"}})),
            with(user("C", "C"), json!({"externalProperties": {"gender": "Female"}})),
            with(user("D", "D"), json!({"externalProperties": {"hireDate": "2024-01-01", "city": ""}})),
        ]}))
        .await;
    assert_eq!(
        pairs(&errors),
        ["A", "B", "C", "D"].map(|id| ("validateExternalProperties".to_owned(), id.to_owned()))
    );
    let messages: Vec<&str> = errors
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(messages[0].contains("`shoeSize`"), "{messages:?}");
    assert!(
        messages[1].contains("`not specified`") && messages[1].contains("Not-specified"),
        "{messages:?}"
    );
    assert!(
        messages[2].contains("required attribute `hireDate`"),
        "{messages:?}"
    );
    assert!(messages[3].contains("empty"), "{messages:?}");

    // Inactive users need no required attribute; a kept value satisfies it.
    sim.apply(json!({"users": [with(user("C", "C"), json!({"active": false})), hired("E")]}))
        .await;
    sim.apply(json!({"users": [with(user("C", "C"), json!({"active": false})), user("E", "E")]}))
        .await;
    // Reactivating C without the attribute is refused.
    let errors = sim
        .reject(json!({"users": [user("C", "C"), user("E", "E")]}))
        .await;
    assert_eq!(
        pairs(&errors),
        [("validateExternalProperties".to_owned(), "C".to_owned())]
    );
}

#[tokio::test]
async fn an_account_without_modelled_attributes_accepts_any_key_but_an_empty_fixture_list_none() {
    let sim = Sim::start().await;
    sim.apply(json!({"users": [with(user("A", "A"), json!({"externalProperties": {"anything": "goes"}}))]}))
        .await;
    let sim = Sim::with_fixture(Fixture {
        attributes: Some(BTreeMap::new()),
        ..Fixture::default()
    })
    .await;
    let errors = sim
        .reject(json!({"users": [with(user("A", "A"), json!({"externalProperties": {"anything": "goes"}}))]}))
        .await;
    assert_eq!(codes(&errors), ["validateExternalProperties"]);
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("defined: none")
    );
}

#[tokio::test]
async fn references_to_groups_nobody_has_are_refused() {
    let sim = Sim::with_fixture(strict_fixture()).await;
    let errors = sim
        .reject(json!({
            "groups": [group("G", "Gee"), with(group("H", "Aitch"), json!({"parent": "NOPE"}))],
            "users": [with(hired("A"), json!({"accessInfo": {
                "memberOf": ["G", "MANUAL", "M1"], "adminOf": ["A1"],
                "inheritedAdminOf": ["I1"], "interestOf": ["R1"]}}))],
        }))
        .await;
    assert_eq!(codes(&errors), ["unknownGroup"; 5]);
    let messages: Vec<&str> = errors
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    for (m, want) in messages.iter().zip([
        "`NOPE`",
        "`M1` in accessInfo.memberOf",
        "`A1` in accessInfo.adminOf",
        "`I1` in accessInfo.inheritedAdminOf",
        "`R1` in accessInfo.interestOf",
    ]) {
        assert!(m.contains(want), "{m} lacks {want}");
    }
    // A group created in the same request, or a manual one, is fine.
    sim.apply(json!({
        "groups": [group("G", "Gee"), with(group("H", "Aitch"), json!({"parent": "G"}))],
        "users": [with(hired("A"), json!({"accessInfo": {"memberOf": ["H", "MANUAL"]}}))],
    }))
    .await;
}

#[tokio::test]
async fn deleting_a_group_still_referenced_is_refused() {
    let sim = Sim::start().await;
    sim.apply(json!({"groups": [group("P", "Parent"), with(group("C", "Child"), json!({"parent": "P"}))]}))
        .await;
    // The child's parent is left as is, but the request deletes it.
    let errors = sim.reject(json!({"groups": [group("C", "Child")]})).await;
    assert_eq!(
        pairs(&errors),
        [("unknownGroup".to_owned(), "C".to_owned())]
    );
    assert!(
        errors[0]["message"].as_str().unwrap().contains("deletes"),
        "{errors:?}"
    );
    // A given list naming a group this request deletes.
    let errors = sim
        .reject(json!({
            "groups": [],
            "users": [with(user("A", "A"), json!({"accessInfo": {"memberOf": ["P", "C"]}}))],
        }))
        .await;
    assert_eq!(codes(&errors), ["unknownGroup", "unknownGroup"]);
    // Re-parenting first, or to null, works.
    sim.apply(json!({"groups": [with(group("C", "Child"), json!({"parent": null}))]}))
        .await;
    assert_eq!(sim.managed_group_ids().await, ["C"]);
}

#[tokio::test]
async fn a_cycle_in_the_hierarchy_is_refused() {
    let sim = Sim::start().await;
    let errors = sim
        .reject(json!({"groups": [
            with(group("B", "Bee"), json!({"parent": "C"})),
            with(group("C", "Cee"), json!({"parent": "A"})),
            with(group("A", "Ay"), json!({"parent": "B"})),
            with(group("S", "Self"), json!({"parent": "S"})),
        ]}))
        .await;
    assert_eq!(
        pairs(&errors),
        [
            ("groupCycle".to_owned(), "A".to_owned()),
            ("groupCycle".to_owned(), "S".to_owned())
        ]
    );
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("`A` -> `B` -> `C` -> `A`")
    );
}

#[tokio::test]
async fn malformed_requests_are_invalid() {
    let sim = Sim::start().await;
    for body in [
        "{not json",
        "",
        "[]",
        "\"text\"",
        r#"{"settings": []}"#,
        r#"{"data": {"users": "all"}}"#,
        r#"{"data": {"users": [["A", "Ann", "Ash", "a@example.com"]]}}"#,
        r#"{"data": {"users": [{"externalId": "A"}]}}"#,
        r#"{"data": {"users": [{"externalId": "A", "firstName": "A", "lastName": "B", "email": "a@example.com", "accessInfo": []}]}}"#,
        r#"{"data": {"groups": [{"externalId": "A", "name": "A", "parent": 7}]}}"#,
        r#"{"settings": {"maxUsersCreated": "many"}}"#,
        r#"{"settings": {"validateOnly": "no"}}"#,
    ] {
        let (status, answer) = sim.post_raw(Some(TOKEN), body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            codes(answer["errors"].as_array().unwrap()),
            ["invalidRequest"],
            "{body}: {answer}"
        );
    }
}

#[tokio::test]
async fn null_lists_are_invalid_never_a_silent_omission() {
    let sim = Sim::start().await;
    let errors = sim
        .reject(json!({
            "users": null,
            "groups": null,
        }))
        .await;
    assert_eq!(codes(&errors), ["invalidRequest", "invalidRequest"]);
    let errors = sim
        .reject(json!({"users": [with(user("A", "A"), json!({"accessInfo": {"memberOf": null, "adminOf": []}}))]}))
        .await;
    assert_eq!(
        pairs(&errors),
        [("invalidRequest".to_owned(), "A".to_owned())]
    );
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("accessInfo.memberOf")
    );
}

#[tokio::test]
async fn duplicates_empty_fields_and_unknown_roles_are_invalid() {
    let sim = Sim::start().await;
    let errors = sim
        .reject(json!({
            "groups": [group("G", "Gee"), group("G", "Gee again"), group("E", "")],
            "users": [
                user("A", "Ann"),
                with(user("A", "Ann"), json!({"email": "other@example.com"})),
                with(user("B", "Bob"), json!({"email": "A@EXAMPLE.com"})),
                with(user("C", ""), json!({"accessInfo": {"role": "manager"}})),
                with(user("", "Nobody"), json!({"email": "nobody@example.com"})),
            ],
        }))
        .await;
    assert_eq!(
        pairs(&errors),
        [
            ("invalidRequest", "E"),
            ("invalidRequest", "G"),
            ("invalidRequest", ""),
            ("invalidRequest", "A"),
            ("invalidRequest", "B"),
            ("invalidRequest", "C"),
            ("invalidRequest", "C"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
}

#[tokio::test]
async fn every_problem_is_reported_at_once_and_nothing_changes() {
    let sim = Sim::with_fixture(strict_fixture()).await;
    sim.apply(json!({"groups": [group("OLD", "Old")], "users": [hired("KEEP")]}))
        .await;
    let before = sim.get().await;
    let mut users: Vec<Value> = vec![
        with(hired("P1"), json!({"phone": "12345"})),
        with(hired("P2"), json!({"phone": "+46700000001"})),
        with(hired("M1"), json!({"email": "taken@example.org"})),
        with(
            user("X1", "X"),
            json!({"externalProperties": {"shoeSize": "42"}}),
        ),
        with(hired("G1"), json!({"accessInfo": {"memberOf": ["NOPE"]}})),
        with(hired("R1"), json!({"accessInfo": {"role": "Boss"}})),
    ];
    users.extend((0..3).map(|i| hired(&format!("N{i}"))));
    let body = json!({
        "settings": {"validateOnly": false, "maxUsersCreated": 2, "maxUsersDeleted": 0, "maxGroupsUpdated": -1},
        "data": {"users": users, "groups": [group("NEW", "New")]},
    });
    let errors = sim.reject_body(&body).await;
    orgform_testkit::assert_json_snapshot!("orgform-sim", "every_problem_at_once", errors);
    let found: BTreeSet<&str> = codes(&errors).into_iter().collect();
    let want: BTreeSet<&str> = [
        "invalidRequest",
        "validateThatPhoneNumberIsCorrect",
        "validateNoPhoneDuplicates",
        "validateDuplicateMailInAnotherCompany",
        "validateExternalProperties",
        "unknownGroup",
        "limitExceeded",
    ]
    .into();
    assert_eq!(found, want);
    assert_eq!(sim.get().await, before, "all or nothing");
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_json_errors() {
    let sim = Sim::start().await;
    let resp = sim
        .client
        .get(format!("{}/v2/nothing", sim.handle.base_url()))
        .header("Authorization", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let resp = sim
        .client
        .delete(sim.handle.url())
        .header("Authorization", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    assert_eq!(resp.headers()["allow"], "GET, POST");
}

#[tokio::test]
async fn the_example_body_of_the_api_reference_is_accepted_as_is() {
    // Copied verbatim from the API reference ("Request Example").
    const EXAMPLE: &str = r#"{
"settings": {
"validateOnly": true,
"forceSetLanguage": false,
"maxUsersCreated": 500,
"maxUsersUpdated": 500,
"maxUsersDeleted": 500,
"maxGroupsCreated": 500,
"maxGroupsUpdated": 500,
"maxGroupsDeleted": 500
},
"data": {
"users": [
{
"externalId": "E001084",
"firstName": "John",
"lastName": "Doe",
"email": "john.doe@company.co",
"phone": "+461234567",
"active": true,
"timezone": "Europe/Stockholm",
"language": "sv",
"accessInfo": {
"memberOf": [
"0000897"
],
"adminOf": [
"0000689"
],
"inheritedAdminOf": [
"0000689"
],
"interestOf": [
"0000754"
],
"role": "Manager"
},
"externalProperties": {
"gender": "Male"
}
}
],
"groups": [
{
"externalId": "0000897",
"name": "Sales Department",
"description": "Everyone in Sales",
"parent": "0000689"
}
]
}
}"#;
    let gender = AttributeDef {
        values: Some(["Male", "Female"].map(String::from).into()),
        required: false,
    };
    let fixture = Fixture {
        attributes: Some([("gender".to_owned(), gender)].into_iter().collect()),
        groups: vec![
            FixtureGroup::new("0000689", "Company"),
            FixtureGroup::new("0000754", "Board"),
        ],
        ..Fixture::default()
    };
    let sim = Sim::with_fixture(fixture).await;
    let (status, answer) = sim.post_raw(Some(TOKEN), EXAMPLE).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({"validateOnly": true,
               "users": {"created": 1, "updated": 0, "deleted": 0, "unchanged": 0},
               "groups": {"created": 1, "updated": 0, "deleted": 0, "unchanged": 0}})
    );
    assert!(
        sim.managed_user_ids().await.is_empty(),
        "validateOnly: nothing stored"
    );

    let real = EXAMPLE.replace(r#""validateOnly": true"#, r#""validateOnly": false"#);
    let (status, _) = sim.post_raw(Some(TOKEN), &real).await;
    assert_eq!(status, 200);
    let data = sim.get().await;
    orgform_testkit::assert_json_snapshot!("orgform-sim", "api_reference_example_applied", data);

    // The same body without the fixture's groups is refused.
    let bare = Sim::start().await;
    let (status, answer) = bare.post_raw(Some(TOKEN), EXAMPLE).await;
    assert_eq!(status, 400);
    assert_eq!(
        codes(answer["errors"].as_array().unwrap()),
        ["unknownGroup"; 4]
    );
}
