//! Full sync by externalId, managed versus manual records, omitted kinds.

use orgform_sim::{Fixture, FixtureGroup, FixtureUser};
use serde_json::json;

use crate::common::{Sim, counts, group, ids, user, with};

fn fixture_with_manual_records() -> Fixture {
    let mut mia = FixtureUser::new("Mia", "Manual", "mia@example.com");
    mia.phone = Some("+46701234567".into());
    mia.member_of.insert("HANDMADE".into());
    Fixture {
        groups: vec![FixtureGroup::new("HANDMADE", "Book club")],
        users: vec![mia],
        ..Fixture::default()
    }
}

#[tokio::test]
async fn send_abc_then_abd_renames_b_removes_c_adds_d() {
    let sim = Sim::start().await;
    let first = sim
        .apply(json!({"users": [user("A", "Ann"), user("B", "Bob"), user("C", "Cat")]}))
        .await;
    assert_eq!(first["users"], counts(3, 0, 0, 0));
    assert_eq!(first["groups"], counts(0, 0, 0, 0));
    assert_eq!(first["validateOnly"], false);

    let second = sim
        .apply(json!({"users": [user("A", "Ann"), user("B", "Bobby"), user("D", "Dan")]}))
        .await;
    assert_eq!(second["users"], counts(1, 1, 1, 1));
    assert_eq!(sim.managed_user_ids().await, ["A", "B", "D"]);
    assert_eq!(sim.user("B").await["firstName"], "Bobby");
}

#[tokio::test]
async fn groups_sync_the_same_way() {
    let sim = Sim::start().await;
    let first = sim
        .apply(json!({"groups": [group("A", "Alpha"), group("B", "Beta"), group("C", "Gamma")]}))
        .await;
    assert_eq!(first["groups"], counts(3, 0, 0, 0));
    assert_eq!(first["users"], counts(0, 0, 0, 0));
    let second = sim
        .apply(json!({"groups": [group("A", "Alpha"), group("B", "Beta 2"), group("D", "Delta")]}))
        .await;
    assert_eq!(second["groups"], counts(1, 1, 1, 1));
    assert_eq!(sim.managed_group_ids().await, ["A", "B", "D"]);
    assert_eq!(sim.group("B").await["name"], "Beta 2");
}

#[tokio::test]
async fn an_omitted_kind_is_not_managed_by_the_request() {
    let sim = Sim::start().await;
    sim.apply(json!({"users": [user("A", "Ann")], "groups": [group("G", "Gee")]}))
        .await;

    let only_groups = sim
        .apply(json!({"groups": [group("G", "Gee"), group("H", "Aitch")]}))
        .await;
    assert_eq!(
        only_groups["users"],
        counts(0, 0, 0, 0),
        "users not sent: nothing counted"
    );
    assert_eq!(only_groups["groups"], counts(1, 0, 0, 1));
    assert_eq!(
        sim.managed_user_ids().await,
        ["A"],
        "users not sent: nothing deleted"
    );

    let only_users = sim.apply(json!({"users": [user("A", "Annie")]})).await;
    assert_eq!(only_users["groups"], counts(0, 0, 0, 0));
    assert_eq!(only_users["users"], counts(0, 1, 0, 0));
    assert_eq!(sim.managed_group_ids().await, ["G", "H"]);

    let nothing = sim.apply(json!({})).await;
    assert_eq!(nothing["users"], counts(0, 0, 0, 0));
    assert_eq!(nothing["groups"], counts(0, 0, 0, 0));
    assert_eq!(sim.managed_user_ids().await, ["A"]);
}

#[tokio::test]
async fn an_empty_list_deletes_every_managed_record_and_no_manual_one() {
    let sim = Sim::with_fixture(fixture_with_manual_records()).await;
    sim.apply(json!({
        "users": [user("A", "Ann"), user("B", "Bob")],
        "groups": [group("G", "Gee")],
    }))
    .await;
    let answer = sim.apply(json!({"users": [], "groups": []})).await;
    assert_eq!(
        answer["users"],
        counts(0, 0, 2, 0),
        "manual users are not counted"
    );
    assert_eq!(answer["groups"], counts(0, 0, 1, 0));
    let data = sim.get().await;
    assert!(ids(&data["users"], true).is_empty());
    assert!(ids(&data["groups"], true).is_empty());
    let users = data["users"].as_array().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["email"], "mia@example.com");
    assert_eq!(users[0]["managed"], false);
    assert_eq!(
        users[0]["memberOf"],
        json!(["HANDMADE"]),
        "manual user untouched"
    );
    assert_eq!(ids(&data["groups"], false), ["HANDMADE"]);
}

#[tokio::test]
async fn memberships_in_deleted_groups_vanish_from_every_user_even_when_users_are_not_sent() {
    let sim = Sim::start().await;
    sim.apply(json!({
        "groups": [group("G", "Gee"), group("H", "Aitch")],
        "users": [with(user("A", "Ann"), json!({"accessInfo": {
            "memberOf": ["G", "H"], "adminOf": ["G"], "inheritedAdminOf": ["G"], "interestOf": ["G", "H"]}}))],
    }))
    .await;
    let answer = sim.apply(json!({"groups": [group("H", "Aitch")]})).await;
    assert_eq!(
        answer["users"],
        counts(0, 0, 0, 0),
        "users were not sent: not counted"
    );
    assert_eq!(answer["groups"], counts(0, 0, 1, 1));
    let a = sim.user("A").await;
    assert_eq!(a["memberOf"], json!(["H"]));
    assert_eq!(a["interestOf"], json!(["H"]));
    assert!(a.get("adminOf").is_none(), "{a}");
    assert!(a.get("inheritedAdminOf").is_none(), "{a}");
}

#[tokio::test]
async fn a_user_sent_that_changes_only_because_its_group_is_deleted_counts_as_updated() {
    let sim = Sim::start().await;
    let ann = with(user("A", "Ann"), json!({"accessInfo": {"memberOf": ["G"]}}));
    sim.apply(json!({"groups": [group("G", "Gee")], "users": [ann]}))
        .await;
    // Ann sent with her list omitted: it is kept, minus the deleted group.
    let answer = sim
        .apply(json!({"groups": [], "users": [user("A", "Ann"), ]}))
        .await;
    assert_eq!(answer["users"], counts(0, 1, 0, 0));
    assert_eq!(answer["groups"], counts(0, 0, 1, 0));
    assert!(sim.user("A").await.get("memberOf").is_none());
}

#[tokio::test]
async fn records_colliding_with_manual_ones_are_refused() {
    let mut fixture = fixture_with_manual_records();
    fixture.users.push(FixtureUser {
        external_id: Some("M1".into()),
        ..FixtureUser::new("Max", "Manual", "max@example.com")
    });
    let sim = Sim::with_fixture(fixture).await;
    let errors = sim
        .reject(json!({
            "groups": [group("HANDMADE", "Mine now")],
            "users": [
                user("M1", "Max"),
                with(user("X", "Mia"), json!({"email": "MIA@example.com"})),
            ],
        }))
        .await;
    let found: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap(),
                e["externalId"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("manualRecordConflict", "HANDMADE"),
            ("manualRecordConflict", "M1"),
            ("manualRecordConflict", "X"),
        ]
    );
    assert!(sim.managed_user_ids().await.is_empty());
    assert!(sim.managed_group_ids().await.is_empty());
}

#[tokio::test]
async fn manual_groups_can_be_referenced_without_being_sent() {
    let sim = Sim::with_fixture(fixture_with_manual_records()).await;
    let answer = sim
        .apply(json!({
            "groups": [with(group("G", "Gee"), json!({"parent": "HANDMADE"}))],
            "users": [with(user("A", "Ann"), json!({"accessInfo": {"memberOf": ["HANDMADE", "G"]}}))],
        }))
        .await;
    assert_eq!(answer["groups"], counts(1, 0, 0, 0));
    assert_eq!(sim.group("G").await["parent"], "HANDMADE");
    assert_eq!(sim.user("A").await["memberOf"], json!(["G", "HANDMADE"]));
    assert_eq!(sim.group("HANDMADE").await["managed"], false);
}

#[tokio::test]
async fn the_read_endpoint_lists_everything_sorted_with_a_managed_flag() {
    let mut fixture = fixture_with_manual_records();
    fixture.users.push(FixtureUser {
        external_id: Some("B0".into()),
        ..FixtureUser::new("Bea", "Manual", "bea@example.com")
    });
    let sim = Sim::with_fixture(fixture).await;
    sim.apply(
        json!({"users": [user("C", "Cat"), user("A", "Ann")], "groups": [group("Z", "Zed")]}),
    )
    .await;
    let data = sim.get().await;
    let users: Vec<(Option<&str>, bool)> = data["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["externalId"].as_str(), u["managed"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        users,
        [
            (Some("A"), true),
            (Some("B0"), false),
            (Some("C"), true),
            (None, false)
        ]
    );
    let groups: Vec<&str> = data["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["externalId"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["HANDMADE", "Z"]);
}
