//! `--data FILE`: loaded at start, written atomically after every commit;
//! and a clean shutdown.

use std::path::Path;

use orgform_sim::{Fixture, FixtureGroup, SimConfig, SimError};
use serde_json::json;

use crate::common::{Sim, TOKEN, client, group, user, with};

fn config(path: &Path) -> SimConfig {
    SimConfig {
        data_file: Some(path.to_owned()),
        ..SimConfig::new(TOKEN)
    }
}

#[tokio::test]
async fn a_restarted_emulator_has_the_data_it_committed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested-ok.json");
    let sim = Sim::with(config(&path)).await;
    // validateOnly writes nothing.
    let (status, _) = sim
        .post(&json!({"data": {"users": [user("A", "Ann")]}}))
        .await;
    assert_eq!(status, 200);
    assert!(!path.exists(), "a preflight writes nothing");
    sim.apply(json!({
        "groups": [group("G", "Gee")],
        "users": [with(user("A", "Ann"), json!({"accessInfo": {"memberOf": ["G"]}}))],
    }))
    .await;
    let before = sim.get().await;
    sim.handle.shutdown().await;

    let again = Sim::with(config(&path)).await;
    assert_eq!(again.get().await, before);
    // And it carries on from there.
    let answer = again
        .apply(json!({"users": [user("A", "Ann"), user("B", "Bob")]}))
        .await;
    assert_eq!(answer["users"]["created"], 1);
    assert_eq!(answer["users"]["unchanged"], 1);
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(stored["formatVersion"], 1);
    assert_eq!(stored["users"]["B"]["firstName"], "Bob");
    assert_eq!(stored["groups"]["G"]["name"], "Gee");
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 1, "no temp files left behind");
}

#[tokio::test]
async fn a_corrupt_data_file_or_one_that_contradicts_the_fixture_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.json");
    std::fs::write(&path, "{\"formatVersion\": 1, \"users\": [").unwrap();
    let err = orgform_sim::start(config(&path), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, SimError::DataInvalid { .. }), "{err}");

    std::fs::write(
        &path,
        r#"{"formatVersion": 1, "groups": {"G": {"externalId": "G", "name": "Gee", "parent": "GONE"}}}"#,
    )
    .unwrap();
    let err = orgform_sim::start(config(&path), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("`GONE`"), "{err}");

    std::fs::write(
        &path,
        r#"{"formatVersion": 1, "groups": {"M": {"externalId": "M", "name": "Mine"}}}"#,
    )
    .unwrap();
    let fixture = Fixture {
        groups: vec![FixtureGroup::new("M", "Manual")],
        ..Fixture::default()
    };
    let err = orgform_sim::start(
        SimConfig {
            fixture: Some(fixture),
            ..config(&path)
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("manual"), "{err}");
}

#[tokio::test]
async fn an_unwritable_data_file_fails_the_request_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("sim.json");
    let sim = Sim::with(config(&path)).await;
    let (status, answer) = sim
        .post(&json!({"settings": {"validateOnly": false}, "data": {"users": [user("A", "Ann")]}}))
        .await;
    assert_eq!(status, 500);
    assert_eq!(answer["errors"][0]["code"], "internalError");
    assert!(sim.managed_user_ids().await.is_empty());
}

#[tokio::test]
async fn shutdown_stops_accepting_and_returns() {
    let sim = Sim::start().await;
    let url = sim.handle.url();
    sim.apply(json!({"users": [user("A", "Ann")]})).await;
    tokio::time::timeout(std::time::Duration::from_secs(15), sim.handle.shutdown())
        .await
        .expect("shutdown returns");
    let err = client()
        .get(&url)
        .header("Authorization", TOKEN)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
}

#[tokio::test]
async fn serve_returns_when_its_shutdown_future_completes() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(orgform_sim::serve(
        SimConfig::new(TOKEN),
        listener,
        async move {
            let _ = stopped.await;
        },
    ));
    let resp = client()
        .get(format!("http://{addr}/v1/organization"))
        .header("Authorization", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    stop.send(()).unwrap();
    let result = tokio::time::timeout(std::time::Duration::from_secs(15), server).await;
    assert!(matches!(result, Ok(Ok(Ok(())))), "{result:?}");
}

#[tokio::test]
async fn a_fixture_file_loads_and_a_bad_one_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fixture.json");
    std::fs::write(
        &path,
        r#"{
  "attributes": {"gender": {"values": ["Male", "Female"]}, "hireDate": {"required": true}, "city": {}},
  "defaults": {"timezone": "Europe/Stockholm", "language": "sv"},
  "otherCompanyEmails": ["someone@example.org"],
  "groups": [{"externalId": "0000689", "name": "Acme"},
             {"externalId": "0000754", "name": "Board", "description": "The board", "parent": "0000689"}],
  "users": [{"firstName": "Mia", "lastName": "Manual", "email": "mia@example.com",
             "phone": "+46701234567", "role": "Administrator", "memberOf": ["0000689"]}]
}"#,
    )
    .unwrap();
    let fixture = Fixture::load(&path).unwrap();
    assert_eq!(fixture.groups.len(), 2);
    assert_eq!(fixture.defaults.language.as_deref(), Some("sv"));
    let sim = Sim::with_fixture(fixture).await;
    let data = sim.get().await;
    assert_eq!(
        data["defaults"],
        json!({"timezone": "Europe/Stockholm", "language": "sv"})
    );
    assert_eq!(data["users"][0]["role"], "Administrator");

    for (text, want) in [
        (r#"{"grups": []}"#, "unknown field `grups`"),
        (
            r#"{"groups": [{"externalId": "A", "name": "A", "parent": "Z"}]}"#,
            "parent `Z`",
        ),
        (
            r#"{"groups": [{"externalId": "A", "name": "A", "parent": "B"}, {"externalId": "B", "name": "B", "parent": "A"}]}"#,
            "cycle",
        ),
        (
            r#"{"users": [{"firstName": "A", "lastName": "B", "email": "a@example.com", "phone": "123"}]}"#,
            "E.164",
        ),
        (
            r#"{"users": [{"firstName": "A", "lastName": "B", "email": "a@example.com", "memberOf": ["X"]}]}"#,
            "group `X`",
        ),
        (
            r#"{"users": [{"firstName": "A", "lastName": "B", "email": "a@example.com"}, {"firstName": "C", "lastName": "D", "email": "A@example.com"}]}"#,
            "two users",
        ),
    ] {
        std::fs::write(&path, text).unwrap();
        let err = Fixture::load(&path).unwrap_err().to_string();
        assert!(err.contains(want), "{text}: {err}");
        assert!(err.contains("fixture.json"), "{err}");
    }
    assert!(matches!(
        Fixture::load(&dir.path().join("none.json")),
        Err(SimError::FixtureRead { .. })
    ));
}

#[tokio::test]
async fn the_token_never_shows_in_debug_output() {
    let config = SimConfig::new(TOKEN);
    assert!(!format!("{config:?}").contains(TOKEN));
    let sim = Sim::start().await;
    assert!(!format!("{:?}", sim.handle).contains(TOKEN));
}

#[tokio::test]
async fn a_plain_http_1_0_client_gets_an_answer_and_a_closed_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sim = Sim::start().await;
    sim.apply(json!({"users": [user("A", "Ann")]})).await;
    let addr = sim.handle.addr();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request =
        format!("GET /v1/organization HTTP/1.0\r\nHost: {addr}\r\nAuthorization: {TOKEN}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .expect("the server closes the connection after answering")
    .unwrap();
    assert!(
        response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200"),
        "{response}"
    );
    let body = response.split_once("\r\n\r\n").unwrap().1;
    let data: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(data["users"][0]["externalId"], "A");
}
