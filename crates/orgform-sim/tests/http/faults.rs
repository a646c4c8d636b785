//! Injected faults: latency, 503s, a connection dropped after commit; set
//! at start (`--fault`) or at run time (`POST /_sim/faults`).

use std::time::{Duration, Instant};

use orgform_sim::{Faults, SimConfig};
use serde_json::json;

use crate::common::{Sim, TOKEN, codes, counts, real, user};

#[tokio::test]
async fn latency_delays_every_api_request() {
    let faults = Faults {
        latency: Duration::from_millis(300),
        ..Faults::default()
    };
    let sim = Sim::with(SimConfig {
        faults,
        ..SimConfig::new(TOKEN)
    })
    .await;
    for _ in 0..2 {
        let start = Instant::now();
        sim.apply(json!({"users": [user("A", "Ann")]})).await;
        assert!(
            start.elapsed() >= Duration::from_millis(300),
            "{:?}",
            start.elapsed()
        );
    }
    // The emulator-only endpoints are not delayed: with the largest
    // latency (10 minutes) in force, they still answer (the guard only
    // catches a hang; it is no timing claim).
    sim.set_faults(json!({"latencyMs": 600_000})).await;
    let answered = tokio::time::timeout(Duration::from_secs(120), sim.get()).await;
    assert!(answered.is_ok(), "GET was delayed by the API latency");
    // Off at run time.
    let now = sim.set_faults(json!({"latencyMs": 0})).await;
    assert_eq!(now["latencyMs"], 0);
    sim.apply(json!({"users": [user("A", "Ann")]})).await;
}

#[tokio::test]
async fn fail_answers_503_for_the_next_n_requests_and_changes_nothing() {
    let mut faults = Faults::default();
    faults.apply_spec("fail=2").unwrap();
    let sim = Sim::with(SimConfig {
        faults,
        ..SimConfig::new(TOKEN)
    })
    .await;
    let body = real(json!({"users": [user("A", "Ann")]}));
    for _ in 0..2 {
        let (status, answer) = sim.post(&body).await;
        assert_eq!(status, 503);
        assert_eq!(
            codes(answer["errors"].as_array().unwrap()),
            ["serviceUnavailable"]
        );
        assert!(sim.managed_user_ids().await.is_empty());
    }
    let (status, answer) = sim.post(&body).await;
    assert_eq!(status, 200);
    assert_eq!(answer["users"], counts(1, 0, 0, 0));
    // A request without a token is refused first and consumes no fault
    // (DESIGN section 11): the fault still fails the next good request.
    sim.set_faults(json!({"failNext": 1})).await;
    let (status, _) = sim.post_raw(None, "{}").await;
    assert_eq!(status, 400);
    let (status, _) = sim.post(&body).await;
    assert_eq!(status, 503);
    let (status, _) = sim.post(&body).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn drop_after_commit_commits_then_closes_the_connection_unanswered() {
    let dir = tempfile::tempdir().unwrap();
    let data_file = dir.path().join("sim.json");
    let mut faults = Faults::default();
    faults.apply_spec("drop-after-commit=1").unwrap();
    let config = SimConfig {
        faults,
        data_file: Some(data_file.clone()),
        ..SimConfig::new(TOKEN)
    };
    let sim = Sim::with(config).await;

    // A preflight and a rejected request are answered and do not use it up.
    let (status, _) = sim
        .post(&json!({"data": {"users": [user("A", "Ann")]}}))
        .await;
    assert_eq!(status, 200);
    sim.reject(json!({"users": [{"externalId": "A", "firstName": "", "lastName": "B", "email": "a@example.com"}]}))
        .await;

    let err = sim
        .client
        .post(sim.handle.url())
        .header("Authorization", TOKEN)
        .body(real(json!({"users": [user("A", "Ann")]})).to_string())
        .send()
        .await
        .expect_err("the connection is dropped without an answer");
    assert!(
        err.is_request() || err.is_connect() || err.is_body(),
        "{err:?}"
    );
    assert!(err.status().is_none(), "no status line was sent: {err:?}");

    // The change was committed and persisted.
    assert_eq!(sim.managed_user_ids().await, ["A"]);
    let stored = std::fs::read_to_string(&data_file).unwrap();
    assert!(stored.contains("\"A\""), "{stored}");

    // Used up: the same request now answers, and finds nothing to do.
    let answer = sim.apply(json!({"users": [user("A", "Ann")]})).await;
    assert_eq!(answer["users"], counts(0, 0, 0, 1));
}

#[tokio::test]
async fn faults_are_read_and_set_at_run_time() {
    let sim = Sim::start().await;
    let none = sim.set_faults(json!({})).await;
    assert_eq!(
        none,
        json!({"latencyMs": 0, "failNext": 0, "dropAfterCommitNext": 0})
    );
    let set = sim
        .set_faults(json!({"failNext": 3, "dropAfterCommitNext": 1}))
        .await;
    assert_eq!(
        set,
        json!({"latencyMs": 0, "failNext": 3, "dropAfterCommitNext": 1})
    );
    let resp = sim
        .client
        .get(format!("{}/_sim/faults", sim.handle.base_url()))
        .header("Authorization", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(crate::common::json_body(resp).await, set);
    // The read endpoint is never faulted.
    sim.get().await;
    let resp = sim
        .client
        .post(format!("{}/_sim/faults", sim.handle.base_url()))
        .header("Authorization", TOKEN)
        .body(r#"{"fail": 3}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400, "unknown keys are refused");
}
