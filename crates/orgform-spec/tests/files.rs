//! Issue 17 (DESIGN section 11): a spec directory is untrusted, so only its
//! regular files are read. A `*.yaml` that is a symlink, FIFO or device is
//! an error naming it and is never opened: the content of a link's target
//! never reaches a diagnostic, a FIFO never blocks, `/dev/zero` never fills
//! memory. Real links, a real FIFO and the real `/dev/zero` are used.

#![cfg(unix)]

use std::path::Path;
use std::process::Command;

use orgform_spec::{Diagnostics, LoadOptions, load};

const VALID: &str = "version: 1\ngroups:\n  - externalId: G1\n    name: Sales\n";
const SECRET: &str = "FRANKLY_API_TOKEN=do-not-print-me-0123456789";

fn refused(path: &Path) -> Diagnostics {
    match load(path, &LoadOptions::default()) {
        Ok(_) => panic!("`{}` was accepted", path.display()),
        Err(d) => d,
    }
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo failed");
}

/// Every diagnostic is `notRegularFile` naming one of `names`, the secret
/// appears nowhere (text or JSON), and each name is reported.
#[track_caller]
fn only_refusals(diags: &Diagnostics, names: &[&str]) {
    let text = diags.render(false);
    let json = diags.to_json().to_string();
    assert!(!text.contains(SECRET) && !json.contains(SECRET), "{text}");
    assert!(!text.contains("do-not-print"), "{text}");
    assert_eq!(diags.len(), names.len(), "{text}");
    for (d, name) in diags.iter().zip(names) {
        assert_eq!(d.code, "notRegularFile", "{text}");
        assert!(d.message.contains(name), "{text}");
        assert!(d.hint.is_some(), "{text}");
    }
}

#[test]
fn a_symlink_in_a_spec_directory_is_refused_and_never_read() {
    let outside = tempfile::tempdir().expect("a temp dir");
    let secret = outside.path().join("secret.yaml");
    // Valid YAML, so that reading it would show up as a merged file.
    std::fs::write(&secret, format!("# {SECRET}\nsafety: {{}}\n")).expect("write");
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("a.yaml"), VALID).expect("write");
    std::os::unix::fs::symlink(&secret, dir.path().join("zz.yaml")).expect("symlink");
    let diags = refused(dir.path());
    only_refusals(&diags, &["zz.yaml"]);
    assert!(diags.render(false).contains("symbolic link"));
}

#[test]
fn a_fifo_in_a_spec_directory_is_refused_without_blocking() {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("a.yaml"), VALID).expect("write");
    mkfifo(&dir.path().join("b.yaml"));
    // Opening the FIFO for reading would block until a writer came: the
    // test would hang here instead of failing.
    let diags = refused(dir.path());
    only_refusals(&diags, &["b.yaml"]);
    assert!(diags.render(false).contains("FIFO"));
}

#[test]
fn a_link_to_dev_zero_is_refused_and_every_bad_entry_named() {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("a.yaml"), VALID).expect("write");
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("c.yml")).expect("symlink");
    std::os::unix::fs::symlink("/nowhere/at/all", dir.path().join("d.yaml")).expect("symlink");
    mkfifo(&dir.path().join("e.yaml"));
    let diags = refused(dir.path());
    only_refusals(&diags, &["c.yml", "d.yaml", "e.yaml"]);
}

#[test]
fn entries_that_are_not_yaml_are_still_ignored() {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("a.yaml"), VALID).expect("write");
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("notes.txt")).expect("symlink");
    mkfifo(&dir.path().join("pipe"));
    std::fs::create_dir(dir.path().join("sub.yaml")).expect("mkdir");
    let spec = load(dir.path(), &LoadOptions::default()).expect("valid");
    assert_eq!(spec.org().groups.as_ref().map(Vec::len), Some(1));
}

#[test]
fn a_fifo_or_device_given_as_the_spec_is_refused() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let fifo = dir.path().join("spec.yaml");
    mkfifo(&fifo);
    let diags = refused(&fifo);
    only_refusals(&diags, &["spec.yaml"]);
    let diags = refused(Path::new("/dev/zero"));
    only_refusals(&diags, &["/dev/zero"]);
    assert!(diags.render(false).contains("device"));
    // Through a link given on the command line too (the link itself is the
    // user's choice; what it leads to must still be a regular file).
    let link = dir.path().join("zero.yaml");
    std::os::unix::fs::symlink("/dev/zero", &link).expect("symlink");
    only_refusals(&refused(&link), &["zero.yaml"]);
}

#[test]
fn a_symlink_given_as_the_spec_file_is_followed() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let real = dir.path().join("real.yaml");
    std::fs::write(&real, VALID).expect("write");
    let link = dir.path().join("link.yaml");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    let spec = load(&link, &LoadOptions::default()).expect("valid");
    assert_eq!(spec.org().groups.as_ref().map(Vec::len), Some(1));
}

#[test]
fn format_refuses_a_fifo_without_blocking() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let fifo = dir.path().join("spec.yaml");
    mkfifo(&fifo);
    let Err(diags) = orgform_spec::format_file(&fifo, &LoadOptions::default()) else {
        panic!("a FIFO was formatted");
    };
    only_refusals(&diags, &["spec.yaml"]);
    let Err(diags) = orgform_spec::spec_files(dir.path()) else {
        panic!("a FIFO was listed");
    };
    only_refusals(&diags, &["spec.yaml"]);
}
