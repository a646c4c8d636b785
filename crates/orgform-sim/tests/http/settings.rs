//! Settings (validateOnly, the six limits), all or nothing, and concurrent
//! requests.

use serde_json::{Value, json};

use crate::common::{Sim, TOKEN, codes, counts, group, user};

fn users(prefix: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| user(&format!("{prefix}{i:05}"), "Many"))
        .collect()
}

#[tokio::test]
async fn validate_only_omitted_means_validate_only() {
    let sim = Sim::start().await;
    for settings in [
        json!({}),
        json!({"validateOnly": true}),
        json!({"forceSetLanguage": false}),
    ] {
        let (status, answer) = sim
            .post(&json!({"settings": settings, "data": {"users": [user("A", "Ann")], "groups": [group("G", "Gee")]}}))
            .await;
        assert_eq!(status, 200);
        assert_eq!(answer["validateOnly"], true, "{settings}");
        assert_eq!(answer["users"], counts(1, 0, 0, 0));
        assert_eq!(answer["groups"], counts(1, 0, 0, 0));
    }
    // No settings object at all.
    let (status, answer) = sim
        .post(&json!({"data": {"users": [user("A", "Ann")]}}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(answer["validateOnly"], true);
    assert!(
        sim.managed_user_ids().await.is_empty(),
        "nothing was changed"
    );

    // A preflight still reports every problem.
    let (status, answer) = sim
        .post(&json!({"data": {"users": [{"externalId": "A", "firstName": "A", "lastName": "B", "email": "a@example.com", "phone": "1"}]}}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        codes(answer["errors"].as_array().unwrap()),
        ["validateThatPhoneNumberIsCorrect"]
    );
}

#[tokio::test]
async fn the_default_limit_is_200_and_equal_is_fine() {
    let sim = Sim::start().await;
    let errors = sim.reject(json!({"users": users("U", 201)})).await;
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0],
        json!({"code": "limitExceeded", "setting": "maxUsersCreated", "limit": 200, "requested": 201,
               "message": errors[0]["message"]})
    );
    assert!(
        sim.managed_user_ids().await.is_empty(),
        "over a limit: nothing changed"
    );
    let answer = sim.apply(json!({"users": users("U", 200)})).await;
    assert_eq!(answer["users"], counts(200, 0, 0, 0));
}

#[tokio::test]
async fn every_exceeded_limit_is_listed_and_nothing_changes() {
    let sim = Sim::start().await;
    sim.apply(
        json!({"users": users("OLD", 3), "groups": [group("G1", "One"), group("G2", "Two")]}),
    )
    .await;
    let before = sim.get().await;
    let body = json!({
        "settings": {"validateOnly": false, "maxUsersCreated": 1, "maxUsersUpdated": 0,
                     "maxUsersDeleted": 1, "maxGroupsCreated": 0, "maxGroupsUpdated": 0,
                     "maxGroupsDeleted": 0},
        "data": {
            "users": [user("OLD00000", "Renamed"), user("NEW1", "N"), user("NEW2", "N")],
            "groups": [{"externalId": "G1", "name": "One!"}, group("G3", "Three")],
        },
    });
    let errors = sim.reject_body(&body).await;
    let exceeded: Vec<(&str, i64, u64)> = errors
        .iter()
        .map(|e| {
            assert_eq!(e["code"], "limitExceeded");
            (
                e["setting"].as_str().unwrap(),
                e["limit"].as_i64().unwrap(),
                e["requested"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        exceeded,
        [
            ("maxUsersCreated", 1, 2),
            ("maxUsersUpdated", 0, 1),
            ("maxUsersDeleted", 1, 2),
            ("maxGroupsCreated", 0, 1),
            ("maxGroupsUpdated", 0, 1),
            ("maxGroupsDeleted", 0, 1),
        ]
    );
    assert_eq!(sim.get().await, before);
    // validateOnly over a limit is refused too.
    let mut preflight = body.clone();
    preflight["settings"]["validateOnly"] = json!(true);
    assert_eq!(sim.reject_body(&preflight).await.len(), 6);
}

#[tokio::test]
async fn limits_outside_0_to_20000_are_invalid() {
    let sim = Sim::start().await;
    for (value, ok) in [
        (0, true),
        (20000, true),
        (-1, false),
        (20001, false),
        (i64::MAX, false),
    ] {
        let body = json!({"settings": {"maxGroupsDeleted": value}, "data": {}});
        let (status, answer) = sim.post(&body).await;
        if ok {
            assert_eq!(status, 200, "{value}: {answer}");
        } else {
            assert_eq!(status, 400, "{value}");
            let e = &answer["errors"][0];
            assert_eq!(e["code"], "invalidRequest");
            assert_eq!(e["setting"], "maxGroupsDeleted");
            assert_eq!(e["limit"], value);
        }
    }
    // A limit of 0 with nothing to do is fine; with something to do it is not.
    sim.apply(json!({"users": [user("A", "Ann")]})).await;
    let body =
        json!({"settings": {"validateOnly": false, "maxUsersDeleted": 0}, "data": {"users": []}});
    let errors = sim.reject_body(&body).await;
    assert_eq!(codes(&errors), ["limitExceeded"]);
    assert_eq!(sim.managed_user_ids().await, ["A"]);
}

#[tokio::test]
async fn a_large_org_within_raised_limits_is_accepted() {
    let sim = Sim::start().await;
    let body = json!({"settings": {"validateOnly": false, "maxUsersCreated": 20000},
                      "data": {"users": users("U", 2500)}});
    let (status, answer) = sim.post(&body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["users"], counts(2500, 0, 0, 0));
}

#[tokio::test]
async fn one_bad_record_among_good_ones_changes_nothing() {
    let sim = Sim::start().await;
    sim.apply(
        json!({"users": [user("A", "Ann"), user("B", "Bob")], "groups": [group("G", "Gee")]}),
    )
    .await;
    let before = sim.get().await;
    let mut bad = user("C", "Cat");
    bad["phone"] = json!("not a phone");
    sim.reject(json!({"users": [user("A", "Annie"), bad], "groups": [group("H", "Aitch")]}))
        .await;
    assert_eq!(sim.get().await, before);
}

#[tokio::test]
async fn concurrent_requests_are_serialized() {
    let sim = Sim::start().await;
    // Sixteen clients each send user A with a different name and their own
    // group, at once. Serialized, exactly one creates A and the rest update
    // it (or find it unchanged); every client's group replaced the last.
    let mut tasks = Vec::new();
    for i in 0..16 {
        let client = sim.client.clone();
        let url = sim.handle.url();
        tasks.push(tokio::spawn(async move {
            let body = json!({"settings": {"validateOnly": false},
                              "data": {"users": [user("A", &format!("Ann{i}"))],
                                       "groups": [group(&format!("G{i:02}"), "Own")]}});
            let resp = client
                .post(url)
                .header("Authorization", TOKEN)
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), 200);
            let answer: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
            answer
        }));
    }
    let mut created = 0;
    let mut users_updated = 0;
    let mut groups_created = 0;
    let mut groups_deleted = 0;
    for t in tasks {
        let a = t.await.unwrap();
        created += a["users"]["created"].as_u64().unwrap();
        users_updated += a["users"]["updated"].as_u64().unwrap();
        groups_created += a["groups"]["created"].as_u64().unwrap();
        groups_deleted += a["groups"]["deleted"].as_u64().unwrap();
    }
    assert_eq!(created, 1, "exactly one request created A");
    assert_eq!(users_updated, 15, "every other request renamed A");
    assert_eq!(groups_created, 16);
    assert_eq!(
        groups_deleted, 15,
        "each request deleted its predecessor's group"
    );
    let data = sim.get().await;
    assert_eq!(data["users"].as_array().unwrap().len(), 1);
    assert_eq!(data["groups"].as_array().unwrap().len(), 1);
}
