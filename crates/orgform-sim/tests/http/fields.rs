//! The omitted/given table of DESIGN section 2, row by row, as the emulator
//! resolves each field into the effective record.

use orgform_model::AttributeDef;
use orgform_sim::{Fixture, FixtureGroup};
use serde_json::{Value, json};

use crate::common::{Sim, counts, group, user, with};

async fn sim_with_groups() -> Sim {
    let fixture = Fixture {
        groups: vec![FixtureGroup::new("MANUAL", "Created by hand")],
        ..Fixture::default()
    };
    let sim = Sim::with_fixture(fixture).await;
    sim.apply(json!({"groups": [group("G1", "One"), group("G2", "Two"), group("G3", "Three")]}))
        .await;
    sim
}

/// Sends one user (groups not sent) and returns (its counts, its record).
async fn send_user(sim: &Sim, u: Value) -> (Value, Value) {
    let id = u["externalId"].as_str().unwrap().to_owned();
    let answer = sim.apply(json!({"users": [u]})).await;
    (answer["users"].clone(), sim.user(&id).await)
}

async fn send_group(sim: &Sim, g: Value) -> (Value, Value) {
    let id = g["externalId"].as_str().unwrap().to_owned();
    let answer = sim
        .apply(json!({"groups": [group("P", "Parent"), g]}))
        .await;
    (answer["groups"].clone(), sim.group(&id).await)
}

#[tokio::test]
async fn access_lists_omitted_are_kept_given_are_set_and_empty_clears() {
    let sim = sim_with_groups().await;
    let lists = json!({"memberOf": ["G1", "MANUAL"], "adminOf": ["G1"],
                       "inheritedAdminOf": ["G2"], "interestOf": ["G3"]});
    let (c, a) = send_user(&sim, with(user("A", "Ann"), json!({"accessInfo": lists}))).await;
    assert_eq!(c, counts(1, 0, 0, 0));
    assert_eq!(a["memberOf"], json!(["G1", "MANUAL"]));
    assert_eq!(a["adminOf"], json!(["G1"]));
    assert_eq!(a["inheritedAdminOf"], json!(["G2"]));
    assert_eq!(a["interestOf"], json!(["G3"]));

    // Omitted lists (and omitted accessInfo): left as is.
    let (c, same) = send_user(&sim, user("A", "Ann")).await;
    assert_eq!(c, counts(0, 0, 0, 1));
    assert_eq!(same, a);
    let (c, same) = send_user(&sim, with(user("A", "Ann"), json!({"accessInfo": {}}))).await;
    assert_eq!(c, counts(0, 0, 0, 1));
    assert_eq!(same, a);

    // Given: set for managed groups; memberships of manual groups are kept
    // ("will clear all other memberships of managed groups not set here").
    let (c, b) = send_user(
        &sim,
        with(
            user("A", "Ann"),
            json!({"accessInfo": {"memberOf": ["G2"]}}),
        ),
    )
    .await;
    assert_eq!(c, counts(0, 1, 0, 0));
    assert_eq!(b["memberOf"], json!(["G2", "MANUAL"]));
    assert_eq!(b["adminOf"], json!(["G1"]), "other lists untouched");

    // []: clears every managed group, still keeps the manual one.
    let empty = json!({"memberOf": [], "adminOf": [], "inheritedAdminOf": [], "interestOf": []});
    let (c, cleared) = send_user(&sim, with(user("A", "Ann"), json!({"accessInfo": empty}))).await;
    assert_eq!(c, counts(0, 1, 0, 0));
    assert_eq!(cleared["memberOf"], json!(["MANUAL"]));
    for list in ["adminOf", "inheritedAdminOf", "interestOf"] {
        assert!(cleared.get(list).is_none(), "{list}: {cleared}");
    }
}

#[tokio::test]
async fn role_omitted_is_user_on_create_then_left_as_is() {
    let sim = Sim::start().await;
    let (_, a) = send_user(&sim, user("A", "Ann")).await;
    assert_eq!(a["role"], "User");
    let (c, a) = send_user(
        &sim,
        with(user("A", "Ann"), json!({"accessInfo": {"role": "Manager"}})),
    )
    .await;
    assert_eq!(c, counts(0, 1, 0, 0));
    assert_eq!(a["role"], "Manager");
    let (c, a) = send_user(&sim, user("A", "Ann")).await;
    assert_eq!(c, counts(0, 0, 0, 1), "omitted role: unchanged");
    assert_eq!(a["role"], "Manager");
    let (_, b) = send_user(
        &sim,
        with(
            user("A", "Ann"),
            json!({"accessInfo": {"role": "Administrator"}}),
        ),
    )
    .await;
    assert_eq!(b["role"], "Administrator");
}

#[tokio::test]
async fn external_properties_given_keys_are_set_and_others_kept() {
    let sim = Sim::start().await;
    let (_, a) = send_user(
        &sim,
        with(
            user("A", "Ann"),
            json!({"externalProperties": {"city": "Lund", "gender": "Female"}}),
        ),
    )
    .await;
    assert_eq!(
        a["externalProperties"],
        json!({"city": "Lund", "gender": "Female"})
    );
    let (c, a) = send_user(
        &sim,
        with(
            user("A", "Ann"),
            json!({"externalProperties": {"city": "Malmö"}}),
        ),
    )
    .await;
    assert_eq!(c, counts(0, 1, 0, 0));
    assert_eq!(
        a["externalProperties"],
        json!({"city": "Malmö", "gender": "Female"})
    );
    let (c, a) = send_user(&sim, user("A", "Ann")).await;
    assert_eq!(c, counts(0, 0, 0, 1));
    assert_eq!(
        a["externalProperties"],
        json!({"city": "Malmö", "gender": "Female"})
    );
}

#[tokio::test]
async fn active_omitted_is_true_and_reactivates() {
    let sim = Sim::start().await;
    let (_, a) = send_user(&sim, user("A", "Ann")).await;
    assert_eq!(a["active"], true);
    let (c, a) = send_user(&sim, with(user("A", "Ann"), json!({"active": false}))).await;
    assert_eq!(c, counts(0, 1, 0, 0), "deactivation is an update");
    assert_eq!(a["active"], false);
    let (c, a) = send_user(&sim, user("A", "Ann")).await;
    assert_eq!(c, counts(0, 1, 0, 0), "omitted active reactivates");
    assert_eq!(a["active"], true);
}

#[tokio::test]
async fn timezone_omitted_is_the_account_default_also_for_existing_users() {
    let sim = Sim::start().await;
    let (_, a) = send_user(&sim, user("A", "Ann")).await;
    assert!(a.get("timezone").is_none(), "stored as absent: {a}");
    let (c, a) = send_user(
        &sim,
        with(user("A", "Ann"), json!({"timezone": "Europe/Stockholm"})),
    )
    .await;
    assert_eq!(c, counts(0, 1, 0, 0));
    assert_eq!(a["timezone"], "Europe/Stockholm");
    let (c, a) = send_user(&sim, user("A", "Ann")).await;
    assert_eq!(c, counts(0, 1, 0, 0), "omitted resets to the default");
    assert!(a.get("timezone").is_none(), "{a}");
}

#[tokio::test]
async fn language_is_set_on_create_and_later_only_when_forced() {
    let sim = Sim::start().await;
    let (_, a) = send_user(&sim, user("A", "Ann")).await;
    assert!(
        a.get("language").is_none(),
        "omitted on create: the account default"
    );

    // Not forced: an existing user keeps their language; nothing changes.
    let (c, a) = send_user(&sim, with(user("A", "Ann"), json!({"language": "en"}))).await;
    assert_eq!(c, counts(0, 0, 0, 1));
    assert!(a.get("language").is_none(), "{a}");

    // Forced: set.
    let forced = |u: Value| json!({"settings": {"validateOnly": false, "forceSetLanguage": true}, "data": {"users": [u]}});
    let (status, answer) = sim
        .post(&forced(with(user("A", "Ann"), json!({"language": "en"}))))
        .await;
    assert_eq!(status, 200);
    assert_eq!(answer["users"], counts(0, 1, 0, 0));
    assert_eq!(sim.user("A").await["language"], "en");

    // Forced but omitted: never changed later.
    let (status, answer) = sim.post(&forced(user("A", "Ann"))).await;
    assert_eq!(status, 200);
    assert_eq!(answer["users"], counts(0, 0, 0, 1));
    assert_eq!(sim.user("A").await["language"], "en");

    // Not forced again: kept.
    let (c, a) = send_user(&sim, with(user("A", "Ann"), json!({"language": "sv"}))).await;
    assert_eq!(c, counts(0, 0, 0, 1));
    assert_eq!(a["language"], "en");

    // Given on create: set.
    let answer = sim
        .apply(
            json!({"users": [user("A", "Ann"), with(user("B", "Bob"), json!({"language": "sv"}))]}),
        )
        .await;
    assert_eq!(answer["users"], counts(1, 0, 0, 1));
    assert_eq!(sim.user("B").await["language"], "sv");
}

#[tokio::test]
async fn phone_and_description_omitted_or_empty_mean_none() {
    let sim = Sim::start().await;
    let (_, a) = send_user(
        &sim,
        with(user("A", "Ann"), json!({"phone": "+46701234567"})),
    )
    .await;
    assert_eq!(a["phone"], "+46701234567");
    let (c, a) = send_user(&sim, user("A", "Ann")).await;
    assert_eq!(c, counts(0, 1, 0, 0));
    assert!(a.get("phone").is_none(), "{a}");
    send_user(
        &sim,
        with(user("A", "Ann"), json!({"phone": "+46701234567"})),
    )
    .await;
    let (c, a) = send_user(&sim, with(user("A", "Ann"), json!({"phone": ""}))).await;
    assert_eq!(c, counts(0, 1, 0, 0));
    assert!(a.get("phone").is_none(), "{a}");

    let (_, g) = send_group(
        &sim,
        with(group("G", "Gee"), json!({"description": "Gee whiz"})),
    )
    .await;
    assert_eq!(g["description"], "Gee whiz");
    let (c, g) = send_group(&sim, group("G", "Gee")).await;
    assert_eq!(c, counts(0, 1, 0, 1));
    assert!(g.get("description").is_none(), "{g}");
    send_group(
        &sim,
        with(group("G", "Gee"), json!({"description": "Gee whiz"})),
    )
    .await;
    let (c, g) = send_group(&sim, with(group("G", "Gee"), json!({"description": ""}))).await;
    assert_eq!(c, counts(0, 1, 0, 1));
    assert!(g.get("description").is_none(), "{g}");
}

#[tokio::test]
async fn parent_omitted_is_root_on_create_then_as_is_null_is_root_an_id_sets() {
    let sim = Sim::start().await;
    let (_, g) = send_group(&sim, group("G", "Gee")).await;
    assert!(g.get("parent").is_none(), "root on create: {g}");
    let (c, g) = send_group(&sim, with(group("G", "Gee"), json!({"parent": "P"}))).await;
    assert_eq!(c, counts(0, 1, 0, 1));
    assert_eq!(g["parent"], "P");
    let (c, g) = send_group(&sim, group("G", "Gee")).await;
    assert_eq!(c, counts(0, 0, 0, 2), "omitted: left as is");
    assert_eq!(g["parent"], "P");
    let (c, g) = send_group(&sim, with(group("G", "Gee"), json!({"parent": null}))).await;
    assert_eq!(c, counts(0, 1, 0, 1));
    assert!(g.get("parent").is_none(), "null: root: {g}");
}

#[tokio::test]
async fn names_and_emails_are_set_and_identical_records_are_unchanged() {
    let sim = Sim::start().await;
    let full = with(
        user("A", "Ann"),
        json!({"phone": "+46701234567", "active": true, "timezone": "Europe/Stockholm",
               "language": "sv", "accessInfo": {"role": "Manager"},
               "externalProperties": {"city": "Lund"}}),
    );
    send_user(&sim, full.clone()).await;
    let (c, _) = send_user(&sim, full.clone()).await;
    assert_eq!(c, counts(0, 0, 0, 1));
    let (c, a) = send_user(
        &sim,
        with(
            full,
            json!({"lastName": "Other", "email": "ann.other@example.com"}),
        ),
    )
    .await;
    assert_eq!(c, counts(0, 1, 0, 0));
    assert_eq!(a["lastName"], "Other");
    assert_eq!(a["email"], "ann.other@example.com");
}

#[tokio::test]
async fn the_effective_form_has_every_resolved_field() {
    let fixture = Fixture {
        attributes: Some(
            [("city".to_owned(), AttributeDef::default())]
                .into_iter()
                .collect(),
        ),
        ..Fixture::default()
    };
    let sim = Sim::with_fixture(fixture).await;
    sim.apply(json!({
        "groups": [group("G", "Gee")],
        "users": [with(user("A", "Ann"), json!({"language": "sv", "accessInfo": {"memberOf": ["G"]},
                                                 "externalProperties": {"city": "Lund"}}))],
    }))
    .await;
    assert_eq!(
        sim.user("A").await,
        json!({
            "externalId": "A", "firstName": "Ann", "lastName": "Example",
            "email": "a@example.com", "active": true, "language": "sv",
            "memberOf": ["G"], "role": "User", "externalProperties": {"city": "Lund"},
            "managed": true,
        })
    );
}
