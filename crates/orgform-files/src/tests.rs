#![allow(clippy::unwrap_used)]

use std::os::unix::fs::symlink;
use std::os::unix::net::UnixListener;
use std::process::Command;

use super::*;

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().mode() & 0o777
}

fn names(dir: &Path) -> Vec<OsString> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    names
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(ok.success());
}

#[test]
fn write_atomic_replaces_content_with_the_given_mode_and_leaves_no_temp() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    fs::write(&path, b"old").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    write_atomic(&path, b"new content", PRIVATE_FILE).unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"new content");
    assert_eq!(mode(&path), 0o600);
    write_atomic_with(&path, 0o640, |w| w.write_all(b"streamed")).unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"streamed");
    assert_eq!(mode(&path), 0o640);
    assert_eq!(names(dir.path()), vec![OsString::from("plan.json")]);
}

#[test]
fn write_atomic_needs_an_existing_directory_and_a_failed_fill_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let err = write_atomic(&dir.path().join("no/such/plan.json"), b"x", 0o600).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    let path = dir.path().join("state.json");
    fs::write(&path, b"old").unwrap();
    let err = write_atomic_with(&path, 0o600, |w| {
        w.write_all(b"half")?;
        Err(io::Error::other("encoder failed"))
    })
    .unwrap_err();
    assert_eq!(err.to_string(), "encoder failed");
    assert_eq!(fs::read(&path).unwrap(), b"old");
    assert_eq!(names(dir.path()), vec![OsString::from("state.json")]);
}

#[test]
fn write_atomic_replaces_a_symlink_itself_never_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.txt");
    fs::write(&target, b"keep").unwrap();
    let link = dir.path().join("link.json");
    symlink(&target, &link).unwrap();
    write_atomic(&link, b"new", 0o600).unwrap();
    assert_eq!(fs::read(&target).unwrap(), b"keep");
    assert_eq!(kind_at(&link).unwrap(), Some(FileKind::Regular));
}

#[test]
fn temp_names_are_random_and_recognisable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let a = AtomicFile::create(&path, 0o600).unwrap();
    let b = AtomicFile::create(&path, 0o600).unwrap();
    assert_ne!(a.temp_path(), b.temp_path());
    for t in [&a, &b] {
        let name = t.temp_path().file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with(".state.json.") && name.ends_with(".tmp"));
        assert!(!name.contains(&std::process::id().to_string()), "{name}");
    }
    drop((a, b));
    assert!(names(dir.path()).is_empty());
    assert_eq!(parent_dir(Path::new("state.json")), PathBuf::from("."));
    assert_eq!(parent_dir(Path::new("a/state.json")), PathBuf::from("a"));
}

#[test]
fn open_regular_reads_a_regular_file_within_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.yaml");
    fs::write(&path, b"version: 1\n").unwrap();
    let (_, meta) = open_regular(&path, 11).unwrap();
    assert_eq!(meta.len(), 11);
    assert_eq!(read_regular(&path, 11).unwrap(), b"version: 1\n");
    let err = read_regular(&path, 10).unwrap_err();
    assert!(
        matches!(
            err,
            FileError::TooLarge {
                size: Some(11),
                max: 10,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("larger than the limit of 10 bytes")
    );
}

#[test]
fn open_regular_names_every_other_kind_and_never_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    fs::write(&secret, b"FRANKLY_API_TOKEN=x").unwrap();
    let link = dir.path().join("link.yaml");
    symlink(&secret, &link).unwrap();
    let dangling = dir.path().join("dangling.yaml");
    symlink(dir.path().join("nowhere"), &dangling).unwrap();
    let fifo = dir.path().join("fifo.yaml");
    mkfifo(&fifo);
    let socket = dir.path().join("socket.yaml");
    let _listener = UnixListener::bind(&socket).unwrap();
    let cases = [
        (link.as_path(), FileKind::Symlink),
        (dangling.as_path(), FileKind::Symlink),
        (fifo.as_path(), FileKind::Fifo),
        (socket.as_path(), FileKind::Socket),
        (Path::new("/dev/zero"), FileKind::CharDevice),
        (dir.path(), FileKind::Directory),
    ];
    for (path, kind) in cases {
        let err = read_regular(path, 1 << 20).unwrap_err();
        assert_eq!(err.kind(), Some(kind), "{}: {err:?}", path.display());
        let message = err.to_string();
        assert!(message.contains(&format!("is a {kind}")), "{message}");
        assert!(!message.contains("FRANKLY_API_TOKEN"), "{message}");
    }
    let err = read_regular(&dir.path().join("missing.yaml"), 1).unwrap_err();
    assert_eq!(err.io_kind(), Some(io::ErrorKind::NotFound));
}

#[test]
fn open_append_private_creates_0600_and_refuses_symlinks_and_fifos() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.jsonl");
    let mut file = open_append_private(&path, 0o600).unwrap();
    file.write_all(b"one\n").unwrap();
    let mut file = open_append_private(&path, 0o600).unwrap();
    file.write_all(b"two\n").unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"one\ntwo\n");
    assert_eq!(mode(&path), 0o600);

    let victim = dir.path().join("victim");
    fs::write(&victim, b"keep").unwrap();
    let link = dir.path().join("link.jsonl");
    symlink(&victim, &link).unwrap();
    let err = open_append_private(&link, 0o600).unwrap_err();
    assert_eq!(err.kind(), Some(FileKind::Symlink), "{err:?}");
    assert_eq!(fs::read(&victim).unwrap(), b"keep");

    let fifo = dir.path().join("fifo.jsonl");
    mkfifo(&fifo);
    let err = open_append_private(&fifo, 0o600).unwrap_err();
    // Opening a FIFO for writing without a reader fails with ENXIO, which
    // names the FIFO too.
    assert_eq!(err.kind(), Some(FileKind::Fifo), "{err:?}");
}

#[test]
fn output_paths_may_be_new_or_regular_files_only() {
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("plan.json");
    check_output_path(&new, &[]).unwrap();
    fs::write(&new, b"old plan").unwrap();
    check_output_path(&new, &[]).unwrap();

    let target = dir.path().join("target");
    fs::write(&target, b"x").unwrap();
    let link = dir.path().join("link.json");
    symlink(&target, &link).unwrap();
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    for (path, kind) in [
        (link.as_path(), FileKind::Symlink),
        (fifo.as_path(), FileKind::Fifo),
        (Path::new("/dev/null"), FileKind::CharDevice),
        (dir.path(), FileKind::Directory),
    ] {
        let err = check_output_path(path, &[]).unwrap_err();
        assert_eq!(err.kind(), Some(kind), "{}: {err:?}", path.display());
    }
    assert!(matches!(
        check_output_path(Path::new("/"), &[]),
        Err(FileError::NoFileName { .. })
    ));
}

#[test]
fn an_output_path_is_never_a_forbidden_file_however_spelled() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    let state = dir.path().join("state.json");
    fs::write(&state, b"{}").unwrap();
    let lock = dir.path().join("state.json.lock"); // does not exist
    let hard = dir.path().join("hard.json");
    fs::hard_link(&state, &hard).unwrap();
    let dir_link = dir.path().join("alias");
    symlink(dir.path(), &dir_link).unwrap();
    let forbidden = [state.as_path(), lock.as_path()];
    for spelling in [
        state.clone(),
        sub.join("../state.json"),
        dir.path().join("./state.json"),
        dir_link.join("state.json"),
        hard.clone(),
        dir_link.join("state.json.lock"),
        sub.join("..").join("state.json.lock"),
    ] {
        let err = check_output_path(&spelling, &forbidden).unwrap_err();
        assert!(
            matches!(err, FileError::Forbidden { .. }),
            "{}: {err:?}",
            spelling.display()
        );
        assert!(err.to_string().contains("must not overwrite"), "{err}");
    }
    check_output_path(&sub.join("state.json"), &forbidden).unwrap();

    // A symlinked forbidden path protects its target too.
    let real = sub.join("real-state.json");
    fs::write(&real, b"{}").unwrap();
    let state_link = dir.path().join("linked-state.json");
    symlink(&real, &state_link).unwrap();
    let err = check_output_path(&real, &[&state_link]).unwrap_err();
    assert!(matches!(err, FileError::Forbidden { .. }), "{err:?}");
}
