//! In-process benchmarks of each phase (divan). Not built by CI: run with
//! `cargo bench -p orgform-gen --features bench` (see BENCHMARKS.md).
//!
//! Each size is generated once per run into a temp directory (spec/,
//! next/, state.json); every benchmark then measures one phase on it.
//! `ORGFORM_BENCH_USERS=10000,100000` picks the sizes (default 100000).

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use divan::Bencher;
use orgform_gen::GenOptions;
use orgform_plan::{Base, Plan, PlanOptions, render};
use orgform_spec::{LoadOptions, ValidatedSpec};
use orgform_state::{State, Store};

fn main() {
    divan::main();
}

fn sizes() -> Vec<usize> {
    std::env::var("ORGFORM_BENCH_USERS")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| vec![100_000])
}

/// One generated size, written once, with its loaded inputs.
struct Fixture {
    _dir: tempfile::TempDir,
    spec_dir: PathBuf,
    state_path: PathBuf,
    next: ValidatedSpec,
    state: State,
}

impl Fixture {
    fn plan(&self) -> Plan {
        orgform_plan::plan(&self.next, self.base(), &PlanOptions::default())
    }

    fn base(&self) -> Base<'_> {
        Base {
            lineage: Some(&self.state.lineage),
            serial: self.state.serial,
            org: &self.state.org,
        }
    }
}

fn fixture(users: usize) -> &'static Fixture {
    static ALL: OnceLock<Mutex<Vec<(usize, &'static Fixture)>>> = OnceLock::new();
    let all = ALL.get_or_init(|| Mutex::new(Vec::new()));
    let mut all = all.lock().expect("fixture lock");
    if let Some((_, f)) = all.iter().find(|(n, _)| *n == users) {
        return f;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    orgform_gen::write_dir(
        &GenOptions {
            users,
            seed: 1,
            users_per_file: None,
        },
        dir.path(),
    )
    .expect("generate");
    let next_dir = dir.path().join("next");
    let state_path = dir.path().join("state.json");
    let f: &'static Fixture = Box::leak(Box::new(Fixture {
        spec_dir: dir.path().join("spec"),
        next: orgform_spec::load(&next_dir, &LoadOptions::default()).expect("valid"),
        state: Store::new(state_path.clone())
            .load()
            .expect("state")
            .expect("state"),
        state_path,
        _dir: dir,
    }));
    all.push((users, f));
    f
}

const SAMPLES: u32 = 5;

#[divan::bench(args = sizes(), sample_count = SAMPLES, sample_size = 1)]
fn spec_load_and_validate(b: Bencher, users: usize) {
    let f = fixture(users);
    b.bench(|| orgform_spec::load(&f.spec_dir, &LoadOptions::default()).expect("valid"));
}

#[divan::bench(args = sizes(), sample_count = SAMPLES, sample_size = 1)]
fn serde_yaml_baseline(b: Bencher, users: usize) {
    let f = fixture(users);
    b.bench(|| orgform_gen::baseline::parse(&f.spec_dir).expect("parses"));
}

#[divan::bench(args = sizes(), sample_count = SAMPLES, sample_size = 1)]
fn state_load(b: Bencher, users: usize) {
    let f = fixture(users);
    let store = Store::new(f.state_path.clone());
    b.bench(|| store.load().expect("state"));
}

#[divan::bench(args = sizes(), sample_count = SAMPLES, sample_size = 1)]
fn state_save(b: Bencher, users: usize) {
    // The apply case: a state exists (its header is checked and it becomes
    // the backup); the next serial is committed under the lock.
    let f = fixture(users);
    let next = f
        .state
        .next(f.state.org.clone(), &f.state.spec_digest, None);
    b.with_inputs(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("state.json");
        std::fs::copy(&f.state_path, &path).expect("copy state");
        (dir, Store::new(path))
    })
    .bench_local_values(|(dir, store)| {
        let lock = store.lock("bench", None).expect("lock");
        lock.commit(&next).expect("commit");
        drop(lock);
        dir
    });
}

#[divan::bench(args = sizes(), sample_count = SAMPLES, sample_size = 1)]
fn plan(b: Bencher, users: usize) {
    let f = fixture(users);
    b.bench(|| f.plan());
}

#[divan::bench(args = sizes(), sample_count = SAMPLES, sample_size = 1)]
fn render_text(b: Bencher, users: usize) {
    let p = fixture(users).plan();
    b.bench(|| render::text(&p, &render::TextOptions { color: false }));
}

#[divan::bench(args = sizes(), sample_count = SAMPLES, sample_size = 1)]
fn render_json(b: Bencher, users: usize) {
    let p = fixture(users).plan();
    b.bench(|| render::json(&p));
}

#[divan::bench(args = sizes(), sample_count = SAMPLES, sample_size = 1)]
fn request_body(b: Bencher, users: usize) {
    let f = fixture(users);
    let p = f.plan();
    b.bench(|| {
        let req = orgform_frankly::wire::OrganizationRequest::from_desired(
            f.next.org(),
            p.request_limits(),
            false,
        );
        serde_json::to_vec(&req).expect("encodes")
    });
}
