//! Store-level tests in one process. Tests with real child processes (lock
//! contention, SIGKILL during writes) are in `tests/processes.rs`.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use orgform_model::{EffGroup, EffUser, EffectiveOrg};

use super::*;

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().mode() & 0o777
}

fn org(n: usize) -> EffectiveOrg {
    let mut org = EffectiveOrg::default();
    org.groups
        .insert("G1".to_owned(), EffGroup::new("G1", "Sales"));
    for i in 0..n {
        let id = format!("E{i:04}");
        let mut u = EffUser::new(&id, "Ada", "Lovelace", &format!("ada{i}@example.com"));
        u.member_of.insert("G1".to_owned());
        org.users.insert(id, u);
    }
    org
}

fn names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// A store in a fresh temp dir, at `<tmp>/.orgform/state.json`.
fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().join(".orgform/state.json"));
    (dir, store)
}

/// Commits `state` under a fresh lock.
fn commit(store: &Store, state: &State) -> Result<(), StateError> {
    store.lock("test", None)?.commit(state)
}

#[test]
fn resolve_path_prefers_flag_then_env_then_default() {
    let env = Some(OsString::from("/env/state.json"));
    let flag = Path::new("/flag/state.json");
    assert_eq!(resolve_path_from(Some(flag), env.clone()), flag);
    assert_eq!(
        resolve_path_from(None, env.clone()),
        Path::new("/env/state.json")
    );
    assert_eq!(
        resolve_path_from(Some(Path::new("")), env),
        Path::new("/env/state.json")
    );
    assert_eq!(
        resolve_path_from(None, Some(OsString::new())),
        Path::new(".orgform/state.json")
    );
    assert_eq!(resolve_path_from(None, None), Path::new(DEFAULT_STATE_PATH));
}

#[test]
fn companions_live_beside_the_state() {
    let store = Store::new(PathBuf::from("ci/state.json"));
    assert_eq!(store.lock_path(), Path::new("ci/state.json.lock"));
    assert_eq!(store.backup_path(), Path::new("ci/state.json.backup"));
    assert_eq!(store.history_path(), Path::new("ci/history.jsonl"));
    assert_eq!(
        Store::new(PathBuf::from("state.json")).history_path(),
        Path::new("./history.jsonl")
    );
}

#[test]
fn no_file_is_no_state_and_commits_round_trip_with_a_backup() {
    let (_dir, store) = store();
    assert_eq!(store.load().unwrap(), None);
    let first = State::first(
        org(3),
        "sha256:a",
        Some("http://127.0.0.1:9/v1/organization"),
    );
    commit(&store, &first).unwrap();
    assert_eq!(store.load().unwrap().as_ref(), Some(&first));
    assert!(
        !store.backup_path().exists(),
        "nothing to back up on the first write"
    );

    let second = first.next(org(5), "sha256:b", None);
    commit(&store, &second).unwrap();
    assert_eq!(store.load().unwrap().as_ref(), Some(&second));
    let backup = fs::read(store.backup_path()).unwrap();
    assert_eq!(
        state::parse(store.backup_path(), &backup, None).unwrap(),
        first
    );

    // Only the files of the contract remain: no temp files, no lock.
    let dir = store.path().parent().unwrap();
    assert_eq!(
        names(dir),
        BTreeSet::from(["state.json".to_owned(), "state.json.backup".to_owned()])
    );
}

#[test]
fn every_file_is_0600_and_the_directory_0700() {
    let (_dir, store) = store();
    let lock = store.lock("orgform apply", None).unwrap();
    assert_eq!(mode(store.path().parent().unwrap()), 0o700);
    assert_eq!(mode(store.lock_path()), 0o600);
    let first = State::first(org(1), "sha256:a", None);
    lock.commit(&first).unwrap();
    lock.commit(&first.next(org(2), "sha256:b", None)).unwrap();
    drop(lock);
    store
        .append_history(&HistoryEntry::new(
            "orgform apply",
            Outcome::Applied,
            "p",
            "s",
        ))
        .unwrap();
    assert_eq!(mode(store.path()), 0o600);
    assert_eq!(mode(store.backup_path()), 0o600);
    assert_eq!(mode(&store.history_path()), 0o600);
}

#[test]
fn a_world_readable_state_from_git_is_backed_up_0600() {
    let (_dir, store) = store();
    let first = State::first(org(1), "sha256:a", None);
    commit(&store, &first).unwrap();
    // `git checkout` creates files 0644.
    fs::set_permissions(store.path(), fs::Permissions::from_mode(0o644)).unwrap();
    commit(&store, &first.next(org(1), "sha256:b", None)).unwrap();
    assert_eq!(mode(store.path()), 0o600);
    assert_eq!(mode(store.backup_path()), 0o600);
}

#[test]
fn damaged_files_are_errors_that_name_the_backup() {
    let (_dir, store) = store();
    let first = State::first(org(2), "sha256:a", None);
    commit(&store, &first).unwrap();
    let text = fs::read(store.path()).unwrap();
    fs::write(store.path(), &text[..text.len() - 20]).unwrap();
    match store.load() {
        Err(StateError::Corrupt {
            backup: None,
            detail,
            ..
        }) => assert!(detail.contains("truncated"), "{detail}"),
        other => panic!("expected Corrupt without backup, got {other:?}"),
    }
    // With a backup, the message points at it.
    fs::write(store.path(), &text).unwrap();
    commit(&store, &first.next(org(2), "sha256:b", None)).unwrap();
    fs::write(store.path(), b"").unwrap();
    let err = store.load().unwrap_err();
    match &err {
        StateError::Corrupt {
            backup: Some(b),
            detail,
            ..
        } => {
            assert_eq!(b, store.backup_path());
            assert_eq!(detail, "the file is empty");
        }
        other => panic!("expected Corrupt with backup, got {other:?}"),
    }
    assert!(err.to_string().contains("state.json.backup"));
}

#[test]
fn a_newer_format_is_never_read_nor_overwritten() {
    let (_dir, store) = store();
    let first = State::first(org(1), "sha256:a", None);
    commit(&store, &first).unwrap();
    let newer = fs::read_to_string(store.path()).unwrap().replacen(
        "\"formatVersion\": 1",
        "\"formatVersion\": 2",
        1,
    );
    fs::write(store.path(), &newer).unwrap();
    assert!(matches!(
        store.load(),
        Err(StateError::NewerFormat { found: 2, .. })
    ));
    let err = commit(&store, &first.next(org(1), "sha256:b", None)).unwrap_err();
    assert!(
        matches!(err, StateError::NewerFormat { found: 2, .. }),
        "{err:?}"
    );
    assert_eq!(fs::read_to_string(store.path()).unwrap(), newer);
    assert!(err.to_string().contains("upgrade orgform"));
}

#[test]
fn an_unreadable_lock_is_reported_and_force_unlock_removes_it() {
    let (_dir, store) = store();
    fs::create_dir_all(store.path().parent().unwrap()).unwrap();
    fs::write(store.lock_path(), b"").unwrap();
    assert!(matches!(
        store.lock_holder(),
        Err(StateError::UnreadableLock { .. })
    ));
    let err = store.lock("orgform apply", None).unwrap_err();
    assert!(matches!(err, StateError::UnreadableLock { .. }), "{err:?}");
    assert!(err.to_string().contains("orgform force-unlock"));
    assert_eq!(store.force_unlock().unwrap(), None);
    assert!(!store.lock_path().exists());
    store.lock("orgform apply", None).unwrap();
}

#[test]
fn commit_removes_a_killed_writers_leftovers_but_not_lock_attempts() {
    let (_dir, store) = store();
    let dir = store.path().parent().unwrap().to_owned();
    fs::create_dir_all(&dir).unwrap();
    for leftover in [
        ".state.json.Ab12Cd.tmp",
        ".state.json.backup.Xy98Zw.link",
        ".state.json.backup.Xy98Zw.tmp",
    ] {
        fs::write(dir.join(leftover), b"partial").unwrap();
    }
    let keep = [
        ".state.json.lock.Qw34Er.tmp",
        ".state.json.notes",
        "other.tmp",
    ];
    for k in keep {
        fs::write(dir.join(k), b"x").unwrap();
    }
    commit(&store, &State::first(org(1), "sha256:a", None)).unwrap();
    let mut expected: BTreeSet<String> = keep.iter().map(|s| s.to_string()).collect();
    expected.insert("state.json".to_owned());
    assert_eq!(names(&dir), expected);
}

#[test]
fn error_messages_give_advice() {
    let holder = LockHolder::sample();
    let state = PathBuf::from(".orgform/state.json");
    let lock = PathBuf::from(".orgform/state.json.lock");
    let holder = Box::new(holder);
    let errors = [
        StateError::Locked {
            lock: lock.clone(),
            holder: holder.clone(),
            stale: false,
            waited: None,
        },
        StateError::Locked {
            lock: lock.clone(),
            holder: holder.clone(),
            stale: false,
            waited: Some(Duration::from_millis(30_004)),
        },
        StateError::Locked {
            lock: lock.clone(),
            holder: holder.clone(),
            stale: true,
            waited: None,
        },
        StateError::UnreadableLock {
            lock: lock.clone(),
            detail: "it is empty".to_owned(),
        },
        StateError::LockLost {
            lock: lock.clone(),
            now: Some(holder),
        },
        StateError::Corrupt {
            path: state.clone(),
            detail: "the file ends early, at line 40 column 3: it is truncated".to_owned(),
            backup: Some(PathBuf::from(".orgform/state.json.backup")),
        },
        StateError::Corrupt {
            path: state.clone(),
            detail: "the file is empty".to_owned(),
            backup: None,
        },
        StateError::NewerFormat {
            path: state.clone(),
            found: 2,
            supported: 1,
        },
        StateError::Conflict {
            path: state.clone(),
            on_disk: ("L1".to_owned(), 7),
            writing: ("L1".to_owned(), 7),
        },
        StateError::CorruptHistory {
            path: PathBuf::from(".orgform/history.jsonl"),
            line: 12,
            detail: "EOF while parsing a string at line 1 column 40".to_owned(),
        },
        StateError::io(
            "read the state file",
            &state,
            io::Error::from(io::ErrorKind::PermissionDenied),
        ),
    ];
    let text: String = errors.iter().map(|e| format!("{e}\n\n")).collect();
    for e in &errors {
        let msg = e.to_string();
        assert!(msg.starts_with(|c: char| c.is_lowercase()), "{msg}");
        assert!(!msg.ends_with('.'), "{msg}");
    }
    // The tool version is hidden by the testkit's common filters.
    orgform_testkit::assert_snapshot!("orgform-state", "error_messages", text);
}

#[test]
fn a_backup_already_sharing_the_states_inode_leaves_no_link_behind() {
    // A writer killed after linking the backup but before replacing the
    // state leaves backup and state as one inode; the next commit must not
    // leave its `.link` temp file behind.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().join("state.json"));
    let lock = store.lock("test", None).unwrap();
    let first = State::first(EffectiveOrg::default(), "sha256:a", None);
    lock.commit(&first).unwrap();
    std::fs::remove_file(store.backup_path()).ok();
    std::fs::hard_link(store.path(), store.backup_path()).unwrap();
    lock.commit(&first.next(EffectiveOrg::default(), "sha256:b", None))
        .unwrap();
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".link")), "{names:?}");
    assert_eq!(store.load().unwrap().unwrap().serial, 2);
}

// ------------------------------------------------------------ both stores
//
// The store contract, run against the file store and against a throw-away
// PostgreSQL server (tests/support/pg.rs; skipped loudly outside CI when
// PostgreSQL is not installed, a failure in CI).

#[path = "../tests/support/pg.rs"]
mod pg;

/// Runs each named contract test against both stores.
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod file_store {
            $(
                #[test]
                fn $name() {
                    let (_dir, store) = super::store();
                    super::contract::$name(&store);
                }
            )*
        }
        mod pg_store {
            $(
                #[test]
                fn $name() {
                    let Some(server) = super::pg::server() else { return };
                    let store = super::Store::try_open(std::path::PathBuf::from(
                        server.url(stringify!($name)),
                    ))
                    .unwrap();
                    assert!(!store.is_file());
                    super::contract::$name(&store);
                }
            )*
        }
    };
}

both_stores!(
    round_trip_and_kept_versions,
    commit_refuses_to_overwrite_a_state_it_did_not_start_from,
    commit_refuses_states_it_could_not_read_back,
    a_second_lock_fails_naming_the_holder_and_drop_releases,
    waiting_for_a_lock_times_out_naming_the_holder,
    waiting_for_a_lock_gets_it_once_released,
    a_removed_lock_cannot_write_and_leaves_the_new_holder_alone,
    force_unlock_if_only_removes_the_confirmed_holder,
    check_alive_notices_a_lost_lock,
    history_reads_back_in_order,
    push_checks_lineage_and_serial_like_a_commit,
);

mod contract {
    use super::*;

    pub fn round_trip_and_kept_versions(store: &Store) {
        assert_eq!(store.load().unwrap(), None);
        assert!(store.versions().unwrap().is_empty());
        let first = State::first(
            org(3),
            "sha256:a",
            Some("http://127.0.0.1:9/v1/organization"),
        );
        commit(store, &first).unwrap();
        assert_eq!(store.load().unwrap().as_ref(), Some(&first));
        let second = first.next(org(5), "sha256:b", None);
        commit(store, &second).unwrap();
        assert_eq!(store.load().unwrap().as_ref(), Some(&second));
        // Both kinds keep the previous version: the backup, or a row.
        assert_eq!(store.load_serial(1).unwrap().as_ref(), Some(&first));
        assert_eq!(store.load_serial(2).unwrap().as_ref(), Some(&second));
        assert_eq!(store.load_serial(3).unwrap(), None);
        let serials: Vec<u64> = store.versions().unwrap().iter().map(|v| v.serial).collect();
        assert_eq!(serials, [1, 2]);
        assert_eq!(store.lock_holder().unwrap(), None, "no lock is left");
    }

    pub fn commit_refuses_to_overwrite_a_state_it_did_not_start_from(store: &Store) {
        let first = State::first(org(1), "sha256:a", None);
        let second = first.next(org(2), "sha256:b", None);
        commit(store, &second).unwrap();
        // An older serial, the same serial, another lineage: all refused.
        for bad in [
            first.clone(),
            second.clone(),
            State::first(org(1), "sha256:c", None)
                .next(org(1), "sha256:c", None)
                .next(org(1), "sha256:c", None),
        ] {
            match commit(store, &bad) {
                Err(StateError::Conflict { on_disk, .. }) => {
                    assert_eq!(on_disk, (second.lineage.clone(), 2))
                }
                other => panic!("expected Conflict, got {other:?}"),
            }
        }
        assert_eq!(store.load().unwrap(), Some(second.clone()));
        // A newer serial of the same lineage is fine, even skipping one.
        let fourth = second
            .next(org(1), "sha256:d", None)
            .next(org(1), "sha256:d", None);
        commit(store, &fourth).unwrap();
        assert_eq!(store.load().unwrap().map(|s| s.serial), Some(4));
    }

    pub fn commit_refuses_states_it_could_not_read_back(store: &Store) {
        let mut bad = State::first(org(1), "sha256:a", None);
        bad.serial = 0;
        assert!(matches!(
            commit(store, &bad),
            Err(StateError::InvalidState { .. })
        ));
        let mut bad = State::first(org(1), "sha256:a", None);
        bad.format_version = 9;
        assert!(matches!(
            commit(store, &bad),
            Err(StateError::InvalidState { .. })
        ));
        let mut bad = State::first(org(1), "sha256:a", None);
        let user = bad.org.users.remove("E0000").unwrap();
        bad.org.users.insert("other".to_owned(), user);
        assert!(matches!(
            commit(store, &bad),
            Err(StateError::InvalidState { .. })
        ));
        assert_eq!(store.load().unwrap(), None, "nothing was written");
    }

    pub fn a_second_lock_fails_naming_the_holder_and_drop_releases(store: &Store) {
        let lock = store.lock("orgform apply", None).unwrap();
        assert_eq!(store.lock_holder().unwrap().as_ref(), Some(lock.holder()));
        let status = store.lock_status().unwrap().unwrap();
        assert_eq!(status.session, Liveness::Alive);
        match store.lock("orgform apply", None) {
            Err(err @ StateError::Locked { .. }) => {
                let StateError::Locked {
                    holder,
                    stale: false,
                    waited: None,
                    ..
                } = &err
                else {
                    panic!("{err:?}")
                };
                assert_eq!(&**holder, lock.holder());
                assert!(err.to_string().contains("orgform force-unlock"), "{err}");
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(lock);
        assert_eq!(store.lock_holder().unwrap(), None);
        store
            .lock("orgform apply", None)
            .unwrap()
            .release()
            .unwrap();
        assert_eq!(store.lock_holder().unwrap(), None);
    }

    pub fn waiting_for_a_lock_times_out_naming_the_holder(store: &Store) {
        let lock = store.lock("orgform apply", None).unwrap();
        let start = Instant::now();
        match store.lock("orgform apply", Some(Duration::from_millis(250))) {
            Err(err @ StateError::Locked { .. }) => {
                let StateError::Locked { holder, waited, .. } = &err else {
                    unreachable!()
                };
                assert_eq!(&**holder, lock.holder());
                assert!(waited.unwrap() >= Duration::from_millis(250));
                assert!(err.to_string().contains("after waiting"), "{err}");
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        assert!(start.elapsed() >= Duration::from_millis(250));
    }

    pub fn waiting_for_a_lock_gets_it_once_released(store: &Store) {
        let lock = store.lock("orgform apply", None).unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(lock);
        });
        let start = Instant::now();
        let second = store.lock("second", Some(Duration::from_secs(20))).unwrap();
        assert!(start.elapsed() >= Duration::from_millis(250));
        assert_eq!(store.lock_holder().unwrap().as_ref(), Some(second.holder()));
        releaser.join().unwrap();
    }

    pub fn a_removed_lock_cannot_write_and_leaves_the_new_holder_alone(store: &Store) {
        let old = store.lock("orgform apply", None).unwrap();
        // File: the lock file is removed; PostgreSQL: the session is ended.
        assert!(store.force_unlock_terminate(old.holder()).unwrap());
        assert_eq!(store.lock_holder().unwrap(), None);

        let new = store.lock("orgform apply", None).unwrap();
        match old.commit(&State::first(org(1), "sha256:a", None)) {
            Err(StateError::LockLost { now: Some(h), .. }) => assert_eq!(&*h, new.holder()),
            Err(StateError::LockSessionLost { .. }) => assert!(!store.is_file()),
            other => panic!("expected a lost lock, got {other:?}"),
        }
        assert_eq!(store.load().unwrap(), None, "nothing was written");
        // Dropping the old lock leaves the new holder's lock alone.
        drop(old);
        assert_eq!(store.lock_holder().unwrap().as_ref(), Some(new.holder()));
        new.commit(&State::first(org(1), "sha256:a", None)).unwrap();
        assert_eq!(store.load().unwrap().map(|s| s.serial), Some(1));
    }

    pub fn force_unlock_if_only_removes_the_confirmed_holder(store: &Store) {
        assert!(store.force_unlock().unwrap().is_none(), "nothing to unlock");
        let first = store.lock("orgform apply", None).unwrap();
        let confirmed = first.holder().clone();
        assert!(store.force_unlock_terminate(&confirmed).unwrap());
        drop(first);
        let second = store.lock("orgform apply", None).unwrap();
        assert!(!store.force_unlock_if(&confirmed).unwrap());
        assert!(!store.force_unlock_terminate(&confirmed).unwrap());
        assert_eq!(store.lock_holder().unwrap().as_ref(), Some(second.holder()));
        assert!(store.force_unlock_terminate(second.holder()).unwrap());
        assert_eq!(store.lock_holder().unwrap(), None);
    }

    pub fn check_alive_notices_a_lost_lock(store: &Store) {
        let lock = store.lock("orgform apply", None).unwrap();
        lock.check_alive().unwrap();
        lock.check_alive().unwrap();
        assert!(store.force_unlock_terminate(lock.holder()).unwrap());
        let err = lock.check_alive().unwrap_err();
        assert!(
            matches!(
                err,
                StateError::LockLost { .. } | StateError::LockSessionLost { .. }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("lock"), "{err}");
    }

    pub fn history_reads_back_in_order(store: &Store) {
        assert!(store.read_history().unwrap().is_empty());
        let mut e = HistoryEntry::new("orgform apply", Outcome::Failed, "sha256:p", "sha256:s");
        e.message = Some("the server refused the plan".to_owned());
        store.append_history(&e).unwrap();
        // Written while a lock is held, and with a commit: both kinds.
        let lock = store.lock("orgform apply", None).unwrap();
        let first = State::first(org(1), "sha256:a", None);
        let mut e2 = HistoryEntry::new("orgform apply", Outcome::Applied, "sha256:p", "sha256:s");
        e2.serial_after = Some(1);
        lock.commit_with_history(&first, &e2).unwrap();
        let mut e3 = HistoryEntry::new(
            "orgform apply",
            Outcome::MaybeApplied,
            "sha256:q",
            "sha256:s",
        );
        e3.message = Some("a NUL \u{0} in a server's text".to_owned());
        store.append_history(&e3).unwrap();
        drop(lock);
        let read = store.read_history().unwrap();
        assert_eq!(read.len(), 3, "{read:?}");
        assert_eq!(read[..2], [e, e2]);
        assert_eq!(read[2].outcome, Outcome::MaybeApplied);
        assert_eq!(store.load().unwrap(), Some(first));
    }

    pub fn push_checks_lineage_and_serial_like_a_commit(store: &Store) {
        let other = State::first(org(1), "sha256:x", None).next(org(2), "sha256:y", None);
        // No state yet: any lineage, any serial.
        store.push(&other, "orgform state push").unwrap();
        assert_eq!(store.load().unwrap().as_ref(), Some(&other));
        let stranger = State::first(org(1), "sha256:z", None).next(org(1), "sha256:z", None);
        let stranger = stranger.next(org(1), "sha256:z", None);
        assert!(matches!(
            store.push(&stranger, "orgform state push"),
            Err(StateError::Conflict { .. })
        ));
        assert!(matches!(
            store.push(&other, "orgform state push"),
            Err(StateError::Conflict { .. })
        ));
        let next = other.next(org(3), "sha256:w", None);
        store.push(&next, "orgform state push").unwrap();
        assert_eq!(store.load().unwrap(), Some(next));
        // A push takes the lock: refused while another run holds it.
        let lock = store.lock("orgform apply", None).unwrap();
        let later = other
            .next(org(3), "sha256:w", None)
            .next(org(4), "sha256:v", None);
        assert!(matches!(
            store.push(&later, "orgform state push"),
            Err(StateError::Locked { .. })
        ));
        drop(lock);
    }
}

// ------------------------------------------------------------ PostgreSQL only

fn pg_store(prefix: &str) -> Option<(&'static pg::PgServer, Store)> {
    let server = pg::server()?;
    let url = server.url(prefix);
    Some((server, Store::try_open(PathBuf::from(url)).unwrap()))
}

#[test]
fn pg_keeps_the_last_keep_versions_and_prune_drops_older_ones() {
    let Some(server) = pg::server() else { return };
    let url = server.url("keep") + "&keep=3";
    let store = Store::try_open(PathBuf::from(&url)).unwrap();
    let lock = store.lock("orgform apply", None).unwrap();
    let mut state = State::first(org(1), "sha256:a", None);
    lock.commit(&state).unwrap();
    for _ in 0..5 {
        state = state.next(org(1), "sha256:a", None);
        lock.commit(&state).unwrap();
    }
    drop(lock);
    let serials: Vec<u64> = store.versions().unwrap().iter().map(|v| v.serial).collect();
    assert_eq!(serials, [4, 5, 6]);
    assert_eq!(store.load_serial(5).unwrap().map(|s| s.serial), Some(5));
    assert_eq!(store.load_serial(2).unwrap(), None);
    assert_eq!(store.prune(1).unwrap(), 2);
    let serials: Vec<u64> = store.versions().unwrap().iter().map(|v| v.serial).collect();
    assert_eq!(serials, [6]);
    assert_eq!(store.load().unwrap(), Some(state));
}

#[test]
fn pg_a_live_holder_is_not_force_unlocked_without_terminate() {
    let Some((_server, store)) = pg_store("alive") else {
        return;
    };
    let lock = store.lock("orgform apply", None).unwrap();
    let err = store.force_unlock_if(lock.holder()).unwrap_err();
    assert!(matches!(err, StateError::LockAlive { .. }), "{err:?}");
    assert!(err.to_string().contains("--force"), "{err}");
    assert!(matches!(
        store.force_unlock(),
        Err(StateError::LockAlive { .. })
    ));
    lock.check_alive().unwrap();
    lock.commit(&State::first(org(1), "sha256:a", None))
        .unwrap();
}

#[test]
fn pg_reads_of_an_untouched_database_create_nothing() {
    let Some(server) = pg::server() else { return };
    let url = server.url_in("untouched", "never_written");
    let store = Store::try_open(PathBuf::from(url)).unwrap();
    assert_eq!(store.load().unwrap(), None);
    assert!(store.read_history().unwrap().is_empty());
    assert_eq!(store.lock_status().unwrap(), None);
    assert_eq!(
        server.psql("SELECT count(*) FROM pg_namespace WHERE nspname = 'never_written'"),
        "0"
    );
}

#[test]
fn pg_schemas_are_separate_and_a_newer_schema_version_is_refused() {
    let Some(server) = pg::server() else { return };
    let a = Store::try_open(PathBuf::from(server.url_in("schemas", "team_a"))).unwrap();
    let name_a = a.describe();
    let state = State::first(org(2), "sha256:a", None);
    a.push(&state, "test").unwrap();
    // The same name in another schema is another state.
    let b_url = name_a.replace("schema=team_a", "schema=team_b");
    let b = Store::try_open(PathBuf::from(b_url)).unwrap();
    assert_eq!(b.load().unwrap(), None);
    // A lock on one does not block the other.
    let la = a.lock("x", None).unwrap();
    let lb = b.lock("x", None).unwrap();
    drop((la, lb));
    server.psql("INSERT INTO team_a.orgform_schema_version (version) VALUES (99)");
    let err = a.load().unwrap_err();
    assert!(
        matches!(err, StateError::NewerSchema { found: 99, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("upgrade orgform"), "{err}");
}

#[test]
fn pg_a_newer_state_format_is_never_read_nor_overwritten() {
    let Some((server, store)) = pg_store("newer") else {
        return;
    };
    let first = State::first(org(1), "sha256:a", None);
    store.push(&first, "test").unwrap();
    let name = store.describe();
    let name = name
        .split("name=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    server.psql(&format!(
        "UPDATE orgform.states SET state = replace(state, '\"formatVersion\": 1', \
         '\"formatVersion\": 2') WHERE name = '{name}'"
    ));
    assert!(matches!(
        store.load(),
        Err(StateError::NewerFormat { found: 2, .. })
    ));
}

#[test]
fn a_bad_location_fails_every_operation_with_the_password_masked() {
    let store = Store::open(PathBuf::from(
        "postgres://ops:s3cr3t-pw@db.example.com/orgform?name=acme",
    ));
    for err in [
        store.load().unwrap_err(),
        store.lock("x", None).unwrap_err(),
        store.read_history().unwrap_err(),
    ] {
        let text = err.to_string();
        assert!(matches!(err, StateError::BadLocation { .. }), "{err:?}");
        assert!(!text.contains("s3cr3t-pw"), "{text}");
        assert!(text.contains("PGPASSWORD"), "{text}");
    }
    assert!(!store.describe().contains("s3cr3t-pw"));
    assert!(Store::try_open(PathBuf::from("postgres://ops@db.example.com/x?name=a")).is_ok());
    assert!(
        Store::try_open(PathBuf::from("./state.json"))
            .unwrap()
            .is_file()
    );
}
