//! The emulator agrees with the planner (issue 12): random sequences of
//! valid specs (the generator of `orgform-plan/tests/support/orgs.rs`) are
//! planned against the state the last accepted one left, and sent over HTTP
//! to an emulator on 127.0.0.1 exactly as `orgform apply` sends them
//! (`OrganizationRequest::from_desired` with the plan's `request_limits()`,
//! first `validateOnly: true`, then `false`, through the real client).
//!
//! Two independent implementations of one semantics ("updated" = the
//! effective record changes, DESIGN section 2) must then agree:
//! - a plan the server would refuse (a hierarchy cycle, a group left with a
//!   deleted parent, a list naming a deleted group, a create or update
//!   limit passed) is refused by the emulator with the matching codes, and
//!   nothing changes;
//! - every other plan is accepted with the plan's created, updated, deleted
//!   and unchanged counts, and the emulator's managed records (the
//!   emulator-only `GET /v1/organization`) are exactly `effective_after`.
//!
//! Client-only guard rails (protected records, thresholds) do not stop the
//! request here: the point is to compare the counts of every change.
//! Each case is a few HTTP round trips, so there are fewer cases than in
//! the pure property tests (`PROPTEST_CASES` raises them).

#[path = "support/account.rs"]
mod account;
#[path = "../../orgform-plan/tests/support/orgs.rs"]
mod orgs;

use std::collections::{BTreeMap, BTreeSet};

use orgform_frankly::wire::{Counts, OrganizationRequest};
use orgform_frankly::{Answer, Client, ClientConfig, ClientError, Token};
use orgform_model::{EffGroup, EffUser, EffectiveOrg, LimitName};
use orgform_plan::{Base, BlockedCode, KindSummary, Plan, PlanOptions};
use orgform_sim::{Fixture, SimConfig, SimHandle};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::Value;

const TOKEN: &str = "agreement-test-token-41c9";

/// Random sequences per run (overridden by `PROPTEST_CASES`).
const CASES: u32 = 64;

/// The account: the generator's external groups exist as manual groups.
fn fixture() -> Fixture {
    account::with_manual_groups(&orgs::EXTERNAL_IDS)
}

/// The emulator's error codes the plan's blocked reasons predict.
fn expected_refusal(plan: &Plan) -> BTreeSet<String> {
    let mut codes = BTreeSet::new();
    for r in plan.blocked_reasons() {
        match r.code {
            BlockedCode::HierarchyCycle => {
                codes.insert("groupCycle".to_owned());
            }
            BlockedCode::OrphanGroup | BlockedCode::DeletedGroupReferenced => {
                codes.insert("unknownGroup".to_owned());
            }
            _ => {}
        }
    }
    // The deletion limits sent are the planned deletions, so only a create
    // or update limit can be passed on the server.
    let deletion = [LimitName::UsersDeleted, LimitName::GroupsDeleted];
    if plan
        .limits()
        .iter()
        .any(|l| !l.ok && !deletion.contains(&l.name))
    {
        codes.insert("limitExceeded".to_owned());
    }
    codes
}

fn counts(k: &KindSummary) -> Counts {
    Counts {
        created: k.create as u64,
        updated: k.update as u64,
        deleted: k.delete as u64,
        unchanged: k.unchanged as u64,
    }
}

/// The emulator's managed records.
async fn managed(
    http: &reqwest::Client,
    sim: &SimHandle,
) -> (BTreeMap<String, EffUser>, BTreeMap<String, EffGroup>) {
    let text = http
        .get(sim.url())
        .header("Authorization", TOKEN)
        .send()
        .await
        .expect("GET the emulator")
        .text()
        .await
        .expect("the emulator's answer");
    let body: Value = serde_json::from_str(&text).expect("the emulator's JSON");
    let pick = |kind: &str| -> Vec<Value> {
        body[kind]
            .as_array()
            .expect("a list")
            .iter()
            .filter(|r| r["managed"] == Value::Bool(true))
            .cloned()
            .collect()
    };
    let users = pick("users")
        .into_iter()
        .map(|u| {
            let u: EffUser = serde_json::from_value(u).expect("a user");
            (u.external_id.clone(), u)
        })
        .collect();
    let groups = pick("groups")
        .into_iter()
        .map(|g| {
            let g: EffGroup = serde_json::from_value(g).expect("a group");
            (g.external_id.clone(), g)
        })
        .collect();
    (users, groups)
}

/// What one request brought back: the counts, or the refusal's codes.
fn outcome(
    result: Result<Answer, ClientError>,
) -> Result<Result<(Counts, Counts), BTreeSet<String>>, TestCaseError> {
    match result {
        Ok(Answer::Reported(r)) => Ok(Ok((r.users, r.groups))),
        Ok(other) => Err(TestCaseError::fail(format!(
            "the emulator did not report counts: {other:?}"
        ))),
        Err(ClientError::Rejected { errors, .. }) => {
            Ok(Err(errors.into_iter().map(|e| e.code).collect()))
        }
        Err(e) => Err(TestCaseError::fail(format!("the request failed: {e}"))),
    }
}

/// One step's outcome: the (users, groups) counts, or the refusal's codes.
type Outcome = Result<(Counts, Counts), BTreeSet<String>>;

/// Plans and sends each draw in turn; the outcomes, which planner and
/// emulator agreed on.
async fn agree(draws: Vec<orgs::OrgGen>) -> Result<Vec<Outcome>, TestCaseError> {
    let config = SimConfig {
        fixture: Some(fixture()),
        ..SimConfig::new(TOKEN)
    };
    let sim = orgform_sim::start(config, "127.0.0.1:0".parse().expect("an address"))
        .await
        .map_err(|e| TestCaseError::fail(format!("start the emulator: {e}")))?;
    let client = Client::new(ClientConfig::new(sim.url(), Token::new(TOKEN.to_owned())))
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let http = reqwest::Client::new();

    let mut state = EffectiveOrg::default();
    let mut outcomes = Vec::new();
    for (serial, draw) in (1u64..).zip(&draws) {
        let org = draw.build(&state.groups);
        let spec =
            orgform_spec::validate_org(org).map_err(|d| TestCaseError::fail(d.render(false)))?;
        let base = Base {
            lineage: Some("lineage"),
            serial,
            org: &state,
        };
        let plan = orgform_plan::plan(&spec, base, &PlanOptions::default());
        let refusal = expected_refusal(&plan);
        let s = plan.summary();
        let expected: Outcome = if refusal.is_empty() {
            Ok((counts(&s.users), counts(&s.groups)))
        } else {
            Err(refusal)
        };

        for validate_only in [true, false] {
            let request =
                OrganizationRequest::from_desired(spec.org(), plan.request_limits(), validate_only);
            let got = outcome(client.send(&request).await)?;
            prop_assert_eq!(
                &got,
                &expected,
                "step {}, validateOnly {}: emulator (left) vs planner (right) as (users, groups) counts or refusal codes",
                serial,
                validate_only
            );
            let (users, groups) = managed(&http, &sim).await;
            let now = if validate_only || expected.is_err() {
                &state
            } else {
                plan.effective_after()
            };
            prop_assert_eq!(
                &groups,
                &now.groups,
                "step {}: emulator groups (left) vs planner (right)",
                serial
            );
            prop_assert_eq!(
                &users,
                &now.users,
                "step {}: emulator users (left) vs planner (right)",
                serial
            );
        }
        if expected.is_ok() {
            state = plan.effective_after().clone();
        }
        outcomes.push(expected);
    }
    sim.shutdown().await;
    Ok(outcomes)
}

fn runtime() -> tokio::runtime::Runtime {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

#[test]
fn emulator_agrees_with_the_planner_on_every_random_change() {
    let rt = runtime();
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(CASES);
    let config = ProptestConfig {
        cases,
        max_shrink_iters: 500,
        source_file: Some(file!()),
        ..ProptestConfig::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&orgs::org_sequence(3), |draws| {
        rt.block_on(agree(draws)).map(drop)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

fn group(id: usize, parent: orgs::ParentGen, rank: u8) -> orgs::GroupGen {
    orgs::GroupGen {
        id,
        name: 0,
        description: None,
        parent,
        rank,
        protected: None,
    }
}

fn groups_only(groups: Vec<orgs::GroupGen>) -> orgs::OrgGen {
    orgs::OrgGen {
        groups: Some(groups),
        users: None,
        force_language: false,
        extra_external: vec![false; orgs::GROUP_IDS.len()],
        low_limit: None,
        min_population: None,
    }
}

/// Random draws rarely make one, so every run checks a hierarchy cycle
/// once: `g1` keeps its parent `g0` (omitted), and `g0` now names `g1`.
#[test]
fn a_cycle_through_a_kept_parent_is_refused_by_both() {
    use orgs::ParentGen::{Omitted, Ref, Root, ServerChild};
    let draws = vec![
        groups_only(vec![group(0, Root, 0), group(1, Ref(0), 1)]),
        groups_only(vec![group(0, ServerChild(0), 0), group(1, Omitted, 1)]),
    ];
    let outcomes = runtime()
        .block_on(agree(draws))
        .unwrap_or_else(|e| panic!("{e}"));
    let created = Counts {
        created: 2,
        ..Counts::default()
    };
    assert_eq!(outcomes[0], Ok((Counts::default(), created)));
    assert_eq!(outcomes[1], Err(BTreeSet::from(["groupCycle".to_owned()])));
}
