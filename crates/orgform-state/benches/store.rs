//! Load and commit of a 100,000-user state: the file store against the
//! PostgreSQL store (issue 24). Never built by CI's test run; run it with
//!
//! ```sh
//! cargo bench -p orgform-state --bench store            # release
//! cargo bench -p orgform-state --bench store --profile dev
//! ```
//!
//! It starts a throw-away PostgreSQL server (tests/support/pg.rs) and
//! prints the median of 5 runs of each step.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/pg.rs"]
mod pg;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use orgform_model::{EffGroup, EffUser, EffectiveOrg};
use orgform_state::{State, Store};

const USERS: usize = 100_000;
const RUNS: usize = 5;

fn big_org() -> EffectiveOrg {
    let mut org = EffectiveOrg::default();
    for g in 0..200 {
        let id = format!("G{g:04}");
        org.groups
            .insert(id.clone(), EffGroup::new(&id, &format!("Group {g}")));
    }
    for i in 0..USERS {
        let id = format!("E{i:06}");
        let mut u = EffUser::new(
            &id,
            &format!("First{i}"),
            &format!("Last{i}"),
            &format!("user{i}@example.com"),
        );
        u.phone = Some(format!("+46{:09}", i));
        u.timezone = Some("Europe/Stockholm".to_owned());
        u.member_of.insert(format!("G{:04}", i % 200));
        u.external_properties
            .insert("city".to_owned(), format!("City {}", i % 13));
        org.users.insert(id, u);
    }
    org
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn measure(label: &str, store: &Store, org: &EffectiveOrg) {
    let lock = store.lock("bench", None).unwrap();
    let mut state = State::first(org.clone(), "sha256:bench", None);
    lock.commit(&state).unwrap();
    let mut commits = Vec::new();
    for _ in 0..RUNS {
        state = state.next(org.clone(), "sha256:bench", None);
        let t = Instant::now();
        lock.commit(&state).unwrap();
        commits.push(t.elapsed());
    }
    drop(lock);
    let mut loads = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let loaded = store.load().unwrap().unwrap();
        loads.push(t.elapsed());
        assert_eq!(loaded.serial, state.serial);
    }
    println!(
        "{label:<12} load median {:>9.2?}   commit median {:>9.2?}   ({RUNS} runs each, {USERS} users)",
        median(loads),
        median(commits)
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let org = big_org();
    let dir = tempfile::tempdir().unwrap();
    let file = Store::new(dir.path().join("state.json"));
    measure("file", &file, &org);
    let size = std::fs::metadata(dir.path().join("state.json"))
        .unwrap()
        .len();
    println!("state file: {:.1} MB", size as f64 / 1e6);
    let Some(server) = pg::server() else {
        println!("postgresql: skipped (not installed)");
        return;
    };
    let pg = Store::try_open(PathBuf::from(server.url("bench") + "&keep=3")).unwrap();
    measure("postgresql", &pg, &org);
}
