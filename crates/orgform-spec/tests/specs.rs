//! Every example spec: the valid ones load cleanly, each broken one in
//! `specs/invalid/` gives the diagnostics in its snapshot.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use orgform_model::Kind;
use orgform_spec::{Diagnostics, LoadOptions, load};

/// `specs/` relative to the crate, so paths in snapshots are relative.
fn specs() -> PathBuf {
    Path::new("../../specs").to_path_buf()
}

/// The example specs' paths as a reader of the repository writes them.
const SPECS_FILTER: orgform_testkit::Filter = (r"\.\./\.\./specs/", "specs/");

fn snapshot(name: &str, text: &str) {
    orgform_testkit::assert_snapshot!("orgform-spec", name, text, &[SPECS_FILTER]);
}

fn errors(path: &Path) -> Diagnostics {
    match load(path, &LoadOptions::default()) {
        Ok(_) => panic!("`{}` should be invalid", path.display()),
        Err(d) => {
            assert!(d.has_errors(), "`{}`: no error in {d}", path.display());
            d
        }
    }
}

#[test]
fn valid_examples_load_without_diagnostics() {
    for name in ["quickstart/orgform.yaml", "acme"] {
        let spec = load(&specs().join(name), &LoadOptions::default())
            .unwrap_or_else(|d| panic!("{name}:\n{}", d.render(false)));
        assert!(
            spec.warnings().is_empty(),
            "{name}:\n{}",
            spec.warnings().render(false)
        );
        assert!(spec.digest().starts_with("sha256:"));
    }
    let acme = load(&specs().join("acme"), &LoadOptions::default()).unwrap();
    let org = acme.org();
    let users = org.users.as_ref().unwrap();
    assert!(users.len() >= 50, "acme has {} users", users.len());
    assert!(
        users
            .windows(2)
            .all(|w| w[0].external_id < w[1].external_id)
    );
    let loc = acme
        .sources()
        .field(Kind::User, "E001002", "email")
        .unwrap();
    assert_eq!(loc.file, specs().join("acme/users.yaml"));
    assert_eq!((loc.line, loc.column), (26, 12));
    let loc = acme
        .sources()
        .field(Kind::User, "E001002", "externalProperties.city")
        .unwrap();
    assert_eq!(loc.line, 36);
    let loc = acme.sources().record(Kind::Group, "TEAM-BDR").unwrap();
    assert_eq!(loc.file, specs().join("acme/groups.yaml"));
    assert!(
        acme.sources()
            .top_level("settings.maxUsersDeleted")
            .is_some()
    );
    // validate_org agrees with load, and digests the same org the same way.
    let again = orgform_spec::validate_org(org.clone()).unwrap();
    assert_eq!(again.digest(), acme.digest());
}

#[test]
fn every_invalid_spec_matches_its_snapshot() {
    let dir = specs().join("invalid");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(names.len() >= 30);
    for name in names {
        let path = dir.join(&name);
        let stem = name.trim_end_matches(".yaml");
        let d = errors(&path);
        snapshot(&format!("invalid-{stem}"), &d.render(false));
    }
}

#[test]
fn diagnostics_as_json() {
    let d = errors(&specs().join("invalid/duplicate-phone.yaml"));
    let json = serde_json::to_string_pretty(&d.to_json()).unwrap();
    snapshot("invalid-duplicate-phone-json", &json);
}

#[test]
fn diagnostics_are_sorted_by_file_and_line() {
    let d = errors(&specs().join("invalid/missing-required.yaml"));
    let lines: Vec<u32> = d
        .iter()
        .map(|d| d.location.as_ref().unwrap().line)
        .collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
}

#[test]
fn yaml_traps_keep_literal_text() {
    let d = errors(&specs().join("invalid/not-a-boolean.yaml"));
    // `language: no` is the string "no" (Norwegian): only `active: yes` is wrong.
    assert_eq!(
        d.iter().map(|d| d.code).collect::<Vec<_>>(),
        ["notABoolean"]
    );
    let d = errors(&specs().join("invalid/bare-number.yaml"));
    assert!(d.iter().all(|d| d.code == "numberNotString"));
    assert!(d.iter().any(|d| d.message.contains("0000897")));
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs::File::create(&path)
        .and_then(|mut f| f.write_all(bytes))
        .expect("write a test file");
    path
}

const VALID: &str = "version: 1\nusers:\n  - externalId: E1\n    firstName: Ada\n    lastName: Lovelace\n    email: ada@example.com\n";

#[test]
fn loading_traps() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut out = String::new();
    let mut show = |title: &str, r: Result<orgform_spec::ValidatedSpec, Diagnostics>| {
        let text = match r {
            Ok(s) => format!("valid; warnings:\n{}", s.warnings().render(false)),
            Err(d) => format!("invalid:\n{}", d.render(false)),
        };
        out.push_str(&format!("## {title}\n{text}\n"));
    };
    // A BOM is accepted, with a warning.
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(VALID.as_bytes());
    let p = write(dir, "bom.yaml", &bom);
    let r = load(&p, &LoadOptions::default());
    assert!(r.is_ok());
    show("UTF-8 byte order mark", r);
    // CRLF line ends: accepted, and columns are right.
    let crlf = VALID
        .replace('\n', "\r\n")
        .replace("ada@example.com", "ada@example");
    let p = write(dir, "crlf.yaml", crlf.as_bytes());
    let r = load(&p, &LoadOptions::default());
    let d = r.as_ref().unwrap_err();
    let loc = d.iter().next().unwrap().location.clone().unwrap();
    assert_eq!((loc.line, loc.column), (6, 12));
    show("CRLF line ends (one bad email)", r);
    // Not UTF-8: the first bad byte is located.
    let p = write(
        dir,
        "latin1.yaml",
        b"version: 1\nusers:\n  - externalId: E1\n    firstName: Bj\xF6rn\n",
    );
    show("Latin-1", load(&p, &LoadOptions::default()));
    let p = write(dir, "utf16.yaml", b"\xFF\xFEv\x00");
    show("UTF-16", load(&p, &LoadOptions::default()));
    // Empty file.
    let p = write(dir, "empty.yaml", b"");
    show("empty file", load(&p, &LoadOptions::default()));
    // Over the size cap: refused before reading.
    let p = write(dir, "big.yaml", VALID.as_bytes());
    show(
        "over the size cap",
        load(&p, &LoadOptions { max_file_bytes: 16 }),
    );
    // Missing file.
    show(
        "missing file",
        load(&dir.join("nope.yaml"), &LoadOptions::default()),
    );
    let _ = &mut show;
    snapshot("loading-traps", &out);
}

#[test]
fn alias_bomb_and_deep_nesting_fail_fast() {
    for (name, code) in [
        ("alias-bomb.yaml", "aliasBudget"),
        ("too-deep.yaml", "tooDeep"),
    ] {
        let d = errors(&specs().join("invalid").join(name));
        assert!(d.iter().any(|d| d.code == code), "{name}: {d}");
    }
    // Block style nests without the parser's own flow limit: ours stops it.
    let tmp = tempfile::tempdir().unwrap();
    let deep = format!("version: 1\nusers:\n{}x\n", "- ".repeat(10_000));
    let p = write(tmp.path(), "deep.yaml", deep.as_bytes());
    let d = errors(&p);
    assert!(d.iter().any(|d| d.code == "tooDeep"), "{d}");
}

#[test]
fn anchors_and_aliases_work_within_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let text = "version: 1\ngroups:\n  - externalId: G1\n    name: Sales\nusers:\n  - externalId: E1\n    firstName: Ada\n    lastName: Lovelace\n    email: ada@example.com\n    accessInfo: &sales\n      memberOf: [G1]\n      role: Manager\n  - externalId: E2\n    firstName: Bo\n    lastName: Ek\n    email: bo@example.com\n    accessInfo: *sales\n";
    let p = write(tmp.path(), "alias.yaml", text.as_bytes());
    let spec = load(&p, &LoadOptions::default()).unwrap_or_else(|d| panic!("{d}"));
    let users = spec.org().users.as_ref().unwrap();
    assert_eq!(users[0].access_info, users[1].access_info);
    assert!(
        users[1]
            .access_info
            .member_of
            .as_ref()
            .unwrap()
            .contains("G1")
    );
}
