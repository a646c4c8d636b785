//! `orgform import` through the real binary (issue 20): nothing written on
//! any error, no hand file overwritten, no symlink followed, the preset
//! printed, the mapping schema, the example's CI workflows, and import ->
//! plan -> apply -> re-import -> plan against the real emulator.

mod common;

use std::path::Path;

use common::{Sim, Work, root};

fn example(file: &str) -> String {
    root()
        .join("examples/hr-import")
        .join(file)
        .to_str()
        .expect("utf-8 path")
        .to_owned()
}

/// `orgform import` of the example export with its mapping into `spec`.
fn example_import() -> Vec<String> {
    let mut args = vec!["import".to_owned(), example("export.csv")];
    args.extend(["--mapping".to_owned(), example("mapping.yaml")]);
    args.extend(["--out".to_owned(), "spec".to_owned()]);
    args
}

/// The files under `dir`, with their content, sorted (nothing: empty).
fn snapshot_dir(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        std::fs::read(e.path()).unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

const HEADER: &str = "Employee ID,First name,Last name,Work email,Work phone,Time zone,Role,Status,\
Organization,Office,Department,Teams,Employment type,City,Country,Legal gender,Employment date";

fn row(id: &str, email: &str, phone: &str) -> String {
    format!(
        "{id},Ada,Lovelace,{email},{phone},Europe/Stockholm,Employee,Active,Acme,Stockholm,Sales,\"BDR, SDR\",\
         Permanent,Stockholm,Sweden,Female,2020-01-01"
    )
}

#[test]
fn bad_exports_write_nothing_and_say_where() {
    let work = Work::new();
    let good = format!(
        "{HEADER}\n{}\n",
        row("E1", "ada@example.com", "+46 70 174 06 11")
    );
    let huge = "x".repeat(1024 * 1024);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "missing column",
            good.replace("Work email", "Mail").into_bytes(),
            "bad.csv:1:1",
        ),
        (
            "bad phone",
            format!(
                "{HEADER}\n{}\n",
                row("E1", "ada@example.com", "070-174 06 11")
            )
            .into_bytes(),
            "bad.csv:2:33",
        ),
        (
            "duplicate email",
            format!(
                "{HEADER}\n{}\n{}\n",
                row("E1", "ada@example.com", ""),
                row("E2", "ada@example.com", "")
            )
            .into_bytes(),
            "bad.csv:3:17",
        ),
        (
            "bad encoding",
            [format!("{HEADER}\nE1,Ad").into_bytes(), b"\xe9le".to_vec()].concat(),
            "bad.csv:2:6",
        ),
        (
            "ragged row",
            format!("{HEADER}\nE1,Ada,Lovelace\n").into_bytes(),
            "bad.csv:2:16",
        ),
        ("empty file", Vec::new(), "bad.csv:1:1"),
        (
            "header only",
            format!("{HEADER}\n").into_bytes(),
            "bad.csv:1:1",
        ),
        (
            "1 MB cell",
            format!(
                "{HEADER}\n{}\n",
                row("E1", "ada@example.com", "").replace("Lovelace", &huge)
            )
            .into_bytes(),
            "bad.csv:2:8",
        ),
    ];
    let out = work.path().join("spec");
    for (name, bytes, at) in cases {
        std::fs::write(work.path().join("bad.csv"), &bytes).expect("write export");
        let run = work.run(&["import", "bad.csv", "--preset", "alexis", "--out", "spec"]);
        run.expect_code(1);
        let err = run.stderr();
        assert!(
            err.contains(&format!("--> {at}")),
            "{name}: no `{at}` in\n{err}"
        );
        assert!(err.contains("nothing was written"), "{name}:\n{err}");
        assert!(!out.exists(), "{name}: the output directory was created");
    }
    // Then a good import, and a bad one after it leaves the files as they were.
    std::fs::write(work.path().join("good.csv"), &good).expect("write export");
    work.run(&["import", "good.csv", "--preset", "alexis", "--out", "spec"])
        .expect_code(0);
    let before = snapshot_dir(&out);
    assert_eq!(before.len(), 3);
    std::fs::write(work.path().join("bad.csv"), format!("{HEADER}\n")).expect("write");
    work.run(&["import", "bad.csv", "--preset", "alexis", "--out", "spec"])
        .expect_code(1);
    assert_eq!(snapshot_dir(&out), before);
    // JSON diagnostics on stdout.
    let json = work.run(&[
        "import", "bad.csv", "--preset", "alexis", "--out", "spec", "--format", "json",
    ]);
    json.expect_code(1);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout()).expect("JSON");
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["diagnostics"][0]["code"], "noRows");
}

#[test]
fn import_refuses_hand_files_symlinks_and_fifos() {
    use std::os::unix::fs::PermissionsExt;
    let work = Work::new();
    std::fs::write(
        work.path().join("e.csv"),
        format!("{HEADER}\n{}\n", row("E1", "ada@example.com", "")),
    )
    .expect("write");
    let spec = work.path().join("spec");
    std::fs::create_dir(&spec).expect("mkdir");
    // A hand-written file where users.yaml goes.
    std::fs::write(spec.join("users.yaml"), "version: 1\nusers: []\n").expect("write");
    let run = work.run(&["import", "e.csv", "--preset", "alexis", "--out", "spec"]);
    run.expect_code(1);
    assert!(
        run.stderr().contains("was not generated by orgform import"),
        "{}",
        run.stderr()
    );
    assert_eq!(
        std::fs::read_to_string(spec.join("users.yaml")).expect("kept"),
        "version: 1\nusers: []\n"
    );
    assert!(!spec.join("groups.yaml").exists(), "nothing written");
    // A symlink where a file goes.
    std::fs::remove_file(spec.join("users.yaml")).expect("rm");
    std::os::unix::fs::symlink(work.path().join("elsewhere.yaml"), spec.join("groups.yaml"))
        .expect("symlink");
    let run = work.run(&["import", "e.csv", "--preset", "alexis", "--out", "spec"]);
    run.expect_code(1);
    assert!(run.stderr().contains("symbolic link"), "{}", run.stderr());
    assert!(!work.path().join("elsewhere.yaml").exists());
    assert!(!spec.join("users.yaml").exists(), "nothing written");
    std::fs::remove_file(spec.join("groups.yaml")).expect("rm");
    // Generated files are private and may be regenerated.
    work.run(&["import", "e.csv", "--preset", "alexis", "--out", "spec"])
        .expect_code(0);
    work.run(&["import", "e.csv", "--preset", "alexis", "--out", "spec"])
        .expect_code(0);
    for f in ["users.yaml", "groups.yaml", "attributes.yaml"] {
        let mode = std::fs::metadata(spec.join(f))
            .expect("file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    // The output never replaces a source.
    let run = work.run(&[
        "import",
        "spec/users.yaml",
        "--preset",
        "alexis",
        "--out",
        "spec",
    ]);
    run.expect_code(1);
}

#[test]
fn the_printed_preset_is_a_mapping_that_imports_the_same() {
    let work = Work::new();
    let printed = work.run(&["import", "--print-preset", "alexis"]);
    printed.expect_code(0);
    std::fs::write(work.path().join("mapping.yaml"), printed.stdout()).expect("write");
    std::fs::write(
        work.path().join("e.csv"),
        format!(
            "{HEADER}\n{}\n",
            row("E1", "ada@example.com", "+46 70 174 06 11")
        ),
    )
    .expect("write");
    work.run(&["import", "e.csv", "--preset", "alexis", "--out", "a"])
        .expect_code(0);
    work.run(&["import", "e.csv", "--mapping", "mapping.yaml", "--out", "b"])
        .expect_code(0);
    for f in ["users.yaml", "groups.yaml", "attributes.yaml"] {
        let a = std::fs::read_to_string(work.path().join("a").join(f)).expect("a");
        let b = std::fs::read_to_string(work.path().join("b").join(f)).expect("b");
        let body = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n");
        assert_eq!(body(&a), body(&b), "{f}");
        assert!(a.starts_with("# Generated by orgform import --preset alexis from e.csv."));
        assert!(b.starts_with("# Generated by orgform import --mapping mapping.yaml from e.csv."));
    }
    let unknown = work.run(&["import", "--print-preset", "nope"]);
    unknown.expect_code(1);
    assert!(unknown.stderr().contains("alexis"));
    let schema = work.run(&["schema", "--mapping"]);
    schema.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&schema.stdout()).expect("schema JSON");
    assert_eq!(v["title"], "orgform import mapping");
}

/// The import's output is what `orgform fmt` writes: `fmt --check` passes
/// on it, fresh and as committed beside the hand-written org.yaml.
#[test]
fn the_import_output_passes_fmt_check() {
    let work = Work::new();
    let import = example_import();
    work.run(&import.iter().map(String::as_str).collect::<Vec<_>>())
        .expect_code(0);
    let check = work.run(&["fmt", "--check", "spec"]);
    check.expect_code(0);
    assert!(
        check
            .stderr()
            .contains("0 files would be reformatted, 3 already formatted"),
        "{}",
        check.stderr()
    );
    let committed = work.run(&["fmt", "--check", &example("spec")]);
    committed.expect_code(0);
    assert!(
        committed.stderr().contains("4 already formatted"),
        "{}",
        committed.stderr()
    );
    // And a file quoted the old way is not: the check can fail.
    let users = std::fs::read_to_string(work.path().join("spec/users.yaml")).expect("users");
    std::fs::write(
        work.path().join("spec/users.yaml"),
        users.replace("firstName: Astrid", "firstName: \"Astrid\""),
    )
    .expect("write");
    work.run(&["fmt", "--check", "spec"]).expect_code(1);
}

/// import -> plan -> apply -> re-import -> plan: no changes, against the emulator.
#[test]
fn an_imported_spec_applies_and_a_reimport_plans_nothing() {
    let sim = Sim::start(&[]);
    let work = Work::new();
    let spec = work.path().join("spec");
    std::fs::create_dir(&spec).expect("mkdir");
    std::fs::copy(example("spec/org.yaml"), spec.join("org.yaml")).expect("copy org.yaml");
    let import = example_import();
    work.run(&import.iter().map(String::as_str).collect::<Vec<_>>())
        .expect_code(0);
    let plan = work.run(&["plan", "spec", "--detailed-exitcode"]);
    assert_eq!(plan.code(), 2, "{}\n{}", plan.stdout(), plan.stderr());
    assert!(plan.stdout().contains("37 to create"), "{}", plan.stdout());
    let apply = work.run(&["apply", "spec", "--auto-approve", "--endpoint", &sim.url]);
    apply.expect_code(0);
    let data = sim.data();
    assert_eq!(data["users"].as_array().map(Vec::len), Some(37), "{data}");
    // A fresh export in another row order: the same files, an empty plan.
    let csv = std::fs::read_to_string(example("export.csv")).expect("export");
    let mut lines: Vec<&str> = csv.lines().collect();
    let header = lines.remove(0);
    lines.reverse();
    std::fs::write(
        work.path().join("again.csv"),
        format!("{header}\n{}\n", lines.join("\n")),
    )
    .expect("write");
    let users_before = std::fs::read_to_string(spec.join("users.yaml")).expect("users");
    work.run(&[
        "import",
        "again.csv",
        "--mapping",
        &example("mapping.yaml"),
        "--out",
        "spec",
    ])
    .expect_code(0);
    let users_after = std::fs::read_to_string(spec.join("users.yaml")).expect("users");
    assert_eq!(
        users_before.lines().skip(1).collect::<Vec<_>>(),
        users_after.lines().skip(1).collect::<Vec<_>>()
    );
    let plan = work.run(&["plan", "spec", "--detailed-exitcode"]);
    assert_eq!(plan.code(), 0, "{}\n{}", plan.stdout(), plan.stderr());
}

/// The example workflows call only commands and flags that exist.
#[test]
fn the_hr_import_workflows_call_real_commands() {
    let work = Work::new();
    for file in ["github-actions/hr-import.yml", "gitlab-ci/.gitlab-ci.yml"] {
        let text = std::fs::read_to_string(example(file)).expect("workflow");
        let yaml: serde_yaml::Value =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut scripts = Vec::new();
        collect_scripts(&yaml, false, &mut scripts);
        let mut commands = 0;
        for script in scripts {
            for line in script.replace("\\\n", " ").lines() {
                let line = line.trim().trim_start_matches("set +e; ");
                if !line.starts_with("orgform ") {
                    continue;
                }
                let words: Vec<String> = line
                    .split(['>', ';', '|'])
                    .next()
                    .unwrap_or_default()
                    .split_whitespace()
                    .skip(1)
                    .map(|w| {
                        let w = w.trim_matches('"');
                        if w.contains('$') {
                            "value".to_owned()
                        } else {
                            w.to_owned()
                        }
                    })
                    .collect();
                let mut args: Vec<&str> = words.iter().map(String::as_str).collect();
                args.push("--help");
                let run = work.run_env(&args, &[]);
                assert_eq!(
                    run.code(),
                    0,
                    "{file}: `{line}` does not parse:\n{}",
                    run.stderr()
                );
                commands += 1;
            }
        }
        assert!(commands >= 2, "{file}: {commands} orgform commands");
        assert!(
            text.contains("<!-- orgform-plan -->"),
            "{file} finds its comment by the marker"
        );
        assert!(text.contains("ADAPT"), "{file} marks the part to adapt");
        assert!(text.contains("orgform import export.csv --preset alexis --out"));
    }
}

fn collect_scripts(v: &serde_yaml::Value, inside: bool, out: &mut Vec<String>) {
    match v {
        serde_yaml::Value::String(s) if inside => out.push(s.clone()),
        serde_yaml::Value::Sequence(items) => {
            items.iter().for_each(|i| collect_scripts(i, inside, out))
        }
        serde_yaml::Value::Mapping(m) => {
            for (k, v) in m {
                let key = k.as_str().unwrap_or("");
                collect_scripts(v, inside || matches!(key, "run" | "script"), out);
            }
        }
        _ => {}
    }
}
