//! Store-level tests in one process. Tests with real child processes (lock
//! contention, SIGKILL during writes) are in `tests/processes.rs`.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
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
fn commit_refuses_to_overwrite_a_state_it_did_not_start_from() {
    let (_dir, store) = store();
    let first = State::first(org(1), "sha256:a", None);
    let second = first.next(org(2), "sha256:b", None);
    commit(&store, &second).unwrap();
    // An older serial, the same serial, another lineage: all refused.
    for bad in [
        first.clone(),
        second.clone(),
        State::first(org(1), "sha256:c", None)
            .next(org(1), "sha256:c", None)
            .next(org(1), "sha256:c", None),
    ] {
        match commit(&store, &bad) {
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
    commit(&store, &fourth).unwrap();
}

#[test]
fn commit_refuses_states_it_could_not_read_back() {
    let (_dir, store) = store();
    let mut bad = State::first(org(1), "sha256:a", None);
    bad.serial = 0;
    assert!(matches!(
        commit(&store, &bad),
        Err(StateError::InvalidState { .. })
    ));
    let mut bad = State::first(org(1), "sha256:a", None);
    bad.format_version = 9;
    assert!(matches!(
        commit(&store, &bad),
        Err(StateError::InvalidState { .. })
    ));
    let mut bad = State::first(org(1), "sha256:a", None);
    let user = bad.org.users.remove("E0000").unwrap();
    bad.org.users.insert("other".to_owned(), user);
    assert!(matches!(
        commit(&store, &bad),
        Err(StateError::InvalidState { .. })
    ));
    assert!(!store.path().exists());
}

#[test]
fn a_second_lock_fails_naming_the_holder_and_drop_releases() {
    let (_dir, store) = store();
    let lock = store.lock("orgform apply", None).unwrap();
    assert_eq!(store.lock_holder().unwrap().as_ref(), Some(lock.holder()));
    match store.lock("orgform apply", None) {
        Err(StateError::Locked {
            holder,
            stale: false,
            waited: None,
            ..
        }) => assert_eq!(&*holder, lock.holder()),
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(lock);
    assert!(!store.lock_path().exists());
    assert_eq!(store.lock_holder().unwrap(), None);
    store
        .lock("orgform apply", None)
        .unwrap()
        .release()
        .unwrap();
    assert!(!store.lock_path().exists());
}

#[test]
fn waiting_for_a_lock_times_out_naming_the_holder() {
    let (_dir, store) = store();
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

#[test]
fn waiting_for_a_lock_gets_it_once_released() {
    let (_dir, store) = store();
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

#[test]
fn force_unlock_removes_any_lock_and_a_lost_lock_cannot_write() {
    let (_dir, store) = store();
    assert_eq!(store.force_unlock().unwrap(), None);
    let old = store.lock("orgform apply", None).unwrap();
    let removed = store.force_unlock().unwrap();
    assert_eq!(removed.as_ref(), Some(old.holder()));
    assert!(!store.lock_path().exists());

    let new = store.lock("orgform apply", None).unwrap();
    match old.commit(&State::first(org(1), "sha256:a", None)) {
        Err(StateError::LockLost { now: Some(h), .. }) => assert_eq!(&*h, new.holder()),
        other => panic!("expected LockLost, got {other:?}"),
    }
    assert!(!store.path().exists());
    // Dropping the old lock leaves the new holder's lock alone.
    drop(old);
    assert_eq!(store.lock_holder().unwrap().as_ref(), Some(new.holder()));
    new.commit(&State::first(org(1), "sha256:a", None)).unwrap();
}

#[test]
fn force_unlock_if_only_removes_the_confirmed_holder() {
    let (_dir, store) = store();
    let first = store.lock("orgform apply", None).unwrap();
    let confirmed = first.holder().clone();
    store.force_unlock().unwrap();
    let second = store.lock("orgform apply", None).unwrap();
    assert!(!store.force_unlock_if(&confirmed).unwrap());
    assert_eq!(store.lock_holder().unwrap().as_ref(), Some(second.holder()));
    assert!(store.force_unlock_if(second.holder()).unwrap());
    assert!(!store.lock_path().exists());
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
fn history_goes_beside_the_state() {
    let (_dir, store) = store();
    assert!(store.read_history().unwrap().is_empty());
    let mut e = HistoryEntry::new("orgform apply", Outcome::Failed, "sha256:p", "sha256:s");
    e.message = Some("the server refused the plan".to_owned());
    store.append_history(&e).unwrap();
    let mut e2 = HistoryEntry::new("orgform apply", Outcome::Applied, "sha256:p", "sha256:s");
    e2.serial_after = Some(1);
    store.append_history(&e2).unwrap();
    assert_eq!(store.read_history().unwrap(), vec![e, e2]);
    assert!(
        store
            .path()
            .parent()
            .unwrap()
            .join("history.jsonl")
            .is_file()
    );
}

#[test]
fn error_messages_give_advice() {
    let holder = LockHolder {
        id: "0b7f8a9e-0000-4000-8000-000000000002".to_owned(),
        user: "alice".to_owned(),
        host: "ci-3".to_owned(),
        pid: 4242,
        command: "orgform apply".to_owned(),
        time: "2026-11-23T10:00:00Z".to_owned(),
    };
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
    insta::with_settings!({
        snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/../../snapshots/orgform-state"),
        prepend_module_to_snapshot => false,
        filters => vec![(r"this orgform \([^)]*\)", "this orgform ([VERSION])")],
    }, {
        insta::assert_snapshot!("error_messages", text);
    });
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
