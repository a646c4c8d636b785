//! Editor and shell ergonomics through the real binary (issue 10): the
//! spec's JSON Schema and its committed copy, shell completions, `--help`
//! with an example for every command, `--version`, and `orgform fmt`.

mod common;

use common::{Work, root};

/// Runs orgform in a fresh temp directory.
fn run(args: &[&str]) -> common::Run {
    Work::new().run_env(args, &[])
}

/// The subcommands `orgform --help` lists (clap's own `help` left out).
fn subcommands() -> Vec<String> {
    let help = run(&["--help"]);
    help.expect_code(0);
    let out = help.stdout();
    let list = out
        .split("Commands:\n")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .expect("a Commands: section");
    // A command's line is indented by two spaces; a wrapped description
    // continues further right.
    let names: Vec<String> = list
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(str::to_owned)
        .collect();
    for expected in [
        "validate",
        "plan",
        "apply",
        "show",
        "state",
        "force-unlock",
        "history",
        "sim",
        "schema",
        "completions",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    names
}

// ---------------------------------------------------------------- schema

#[test]
fn committed_schema_is_what_orgform_schema_prints() {
    let printed = run(&["schema"]);
    printed.expect_code(0);
    let path = root().join("schema/orgform.schema.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        printed.stdout() == committed,
        "{} is out of date with `orgform schema`; regenerate it with\n\n    \
         cargo run -q -- schema > schema/orgform.schema.json\n",
        path.display()
    );
    let schema: serde_json::Value = serde_json::from_str(&committed).expect("schema JSON");
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(
        schema["$id"],
        "https://example.com/orgform/schema/orgform.schema.json"
    );
    assert_eq!(schema["title"], "orgform spec");
    assert_eq!(schema["additionalProperties"], false);
    // Generated from the types: the user's fields, roles and limits are there.
    assert_eq!(
        schema["definitions"]["DesiredUser"]["required"],
        serde_json::json!(["externalId", "firstName", "lastName", "email"])
    );
    assert_eq!(
        schema["definitions"]["Settings"]["properties"]["maxUsersDeleted"]["maximum"], 10_000_000,
        "settings bound one apply; waves keep each request within 20,000"
    );
}

/// Every example spec file names the schema on its first line, with a path
/// that resolves, so editors validate and complete it.
#[test]
fn example_specs_point_editors_at_the_schema() {
    let files = [
        "specs/quickstart/orgform.yaml",
        "specs/acme/org.yaml",
        "specs/acme/groups.yaml",
        "specs/acme/users.yaml",
    ];
    for file in files {
        let path = root().join(file);
        let text = std::fs::read_to_string(&path).expect("example spec");
        let first = text.lines().next().unwrap_or_default();
        let target = first
            .strip_prefix("# yaml-language-server: $schema=")
            .unwrap_or_else(|| panic!("{file}: first line `{first}`"));
        let schema = path.parent().expect("parent").join(target);
        let resolved = schema.canonicalize().expect("the schema path resolves");
        assert_eq!(
            resolved,
            root()
                .join("schema/orgform.schema.json")
                .canonicalize()
                .expect("schema file")
        );
    }
    // Every YAML file of specs/acme is listed above.
    let acme = std::fs::read_dir(root().join("specs/acme"))
        .expect("specs/acme")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        })
        .count();
    assert_eq!(acme, 3);
}

// ----------------------------------------------------------- completions

#[test]
fn completions_name_every_subcommand_in_each_shell() {
    let names = subcommands();
    for shell in ["bash", "zsh", "fish"] {
        let out = run(&["completions", shell]);
        out.expect_code(0);
        let script = out.stdout();
        assert!(script.len() > 1000, "{shell}: a real script");
        for name in &names {
            assert!(
                script.contains(name.as_str()),
                "{shell} script lacks `{name}`"
            );
        }
        // Options and values complete too.
        for word in ["--detailed-exitcode", "markdown", "--auto-approve"] {
            assert!(
                script.contains(word.trim_start_matches('-')),
                "{shell}: {word}"
            );
        }
    }
    // Shell-specific entry points, so the scripts are what each shell loads.
    assert!(
        run(&["completions", "bash"])
            .stdout()
            .contains("complete -F _orgform")
    );
    assert!(
        run(&["completions", "zsh"])
            .stdout()
            .starts_with("#compdef orgform")
    );
    assert!(
        run(&["completions", "fish"])
            .stdout()
            .contains("complete -c orgform")
    );
}

#[test]
fn completions_for_an_unknown_shell_is_a_usage_error_exit_1() {
    let out = run(&["completions", "tcsh"]);
    out.expect_code(1);
    out.expect_stderr("bash");
}

// ------------------------------------------------------- help and version

#[test]
fn every_command_has_help_with_an_example() {
    let mut commands: Vec<Vec<String>> = subcommands().into_iter().map(|n| vec![n]).collect();
    commands.push(vec!["state".into(), "show".into()]);
    commands.push(vec!["state".into(), "list".into()]);
    for cmd in commands {
        let mut args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        args.push("--help");
        let out = run(&args);
        out.expect_code(0);
        let help = out.stdout();
        let invocation = format!("orgform {}", cmd.join(" "));
        let example = help
            .split_once("Example")
            .map(|(_, rest)| rest)
            .unwrap_or_else(|| panic!("`{invocation} --help` has no example:\n{help}"));
        assert!(
            example.contains(&invocation),
            "`{invocation} --help`: the example does not run it:\n{help}"
        );
    }
    // The top level shows the main loop.
    let top = run(&["--help"]).stdout();
    assert!(top.contains("Examples:\n  orgform validate"), "{top}");
}

#[test]
fn version_prints_the_build_version() {
    for flag in ["--version", "-V"] {
        let out = run(&[flag]);
        out.expect_code(0);
        assert_eq!(
            out.stdout(),
            format!("orgform {}\n", env!("CARGO_PKG_VERSION"))
        );
    }
}

// ------------------------------------------------------------------- fmt

/// Copies the example specs into a temp dir: `quickstart.yaml` and `acme/`.
fn examples(work: &Work) {
    std::fs::copy(
        root().join("specs/quickstart/orgform.yaml"),
        work.path().join("quickstart.yaml"),
    )
    .expect("copy quickstart");
    std::fs::create_dir(work.path().join("acme")).expect("acme dir");
    for name in ["org.yaml", "groups.yaml", "users.yaml"] {
        std::fs::copy(
            root().join("specs/acme").join(name),
            work.path().join("acme").join(name),
        )
        .expect("copy acme");
    }
}

/// The spec digest `plan` reports (no state: offline).
fn digest(work: &Work, spec: &str) -> String {
    let out = work.run_env(&["plan", spec, "--format", "json"], &[]);
    out.expect_code(0);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout()).expect("plan JSON");
    plan["specDigest"].as_str().expect("specDigest").to_owned()
}

fn read(work: &Work, name: &str) -> String {
    std::fs::read_to_string(work.path().join(name)).expect("read")
}

/// The text of every example file [`examples`] copied, in one order.
fn example_texts(work: &Work) -> Vec<String> {
    [
        "quickstart.yaml",
        "acme/org.yaml",
        "acme/groups.yaml",
        "acme/users.yaml",
    ]
    .iter()
    .map(|f| read(work, f))
    .collect()
}

#[test]
fn fmt_is_idempotent_and_keeps_meaning_on_every_example() {
    let work = Work::new();
    examples(&work);
    for spec in ["quickstart.yaml", "acme"] {
        let before = digest(&work, spec);
        work.run_env(&["fmt", spec], &[]).expect_code(0);
        let once = example_texts(&work);
        // A second run has nothing to do, and --check agrees.
        let again = work.run_env(&["fmt", spec], &[]);
        again.expect_code(0);
        assert_eq!(again.stdout(), "", "{spec}: the second fmt changed files");
        let check = work.run_env(&["fmt", "--check", spec], &[]);
        check.expect_code(0);
        assert_eq!(check.stdout(), "");
        let twice = example_texts(&work);
        assert_eq!(once, twice, "{spec}: not idempotent");
        // Same validated org, so the same digest.
        assert_eq!(
            digest(&work, spec),
            before,
            "{spec}: fmt changed the meaning"
        );
    }
    // Comments survive, the editor modeline first.
    for f in [
        "quickstart.yaml",
        "acme/org.yaml",
        "acme/groups.yaml",
        "acme/users.yaml",
    ] {
        let text = read(&work, f);
        assert!(
            text.starts_with("# yaml-language-server: $schema=../../schema/orgform.schema.json\n"),
            "{f}"
        );
    }
    assert!(read(&work, "acme/org.yaml").contains("hireDate: {required: true} # HR guide"));
}

const MESSY: &str = "# Sales, by hand.\nusers:\n  - {email: ann@example.com, externalId: A, lastName: Ash, firstName: Ann,\n     accessInfo: {role: Manager, memberOf: ['G1']}}   # the lead\ngroups: [{name: Sales, externalId: G1, parent: null}]\nversion: 1\n";

const TIDY: &str = "# Sales, by hand.\nversion: 1\ngroups:\n  - externalId: G1\n    name: Sales\n    parent: null\nusers:\n  - externalId: A # the lead\n    firstName: Ann\n    lastName: Ash\n    email: ann@example.com\n    accessInfo:\n      memberOf: [G1]\n      role: Manager\n";

#[test]
fn fmt_check_lists_unformatted_files_and_changes_nothing() {
    let work = Work::new();
    let spec = work.spec("orgform.yaml", MESSY);
    let check = work.run_env(&["fmt", "--check"], &[]);
    check.expect_code(1);
    assert_eq!(check.stdout(), "orgform.yaml\n");
    check.expect_stderr("1 file would be reformatted");
    check.expect_stderr("run `orgform fmt orgform.yaml`");
    assert_eq!(std::fs::read_to_string(&spec).expect("spec"), MESSY);

    let before = digest(&work, "orgform.yaml");
    let fmt = work.run_env(&["fmt"], &[]);
    fmt.expect_code(0);
    assert_eq!(fmt.stdout(), "orgform.yaml\n");
    fmt.expect_stderr("1 file reformatted");
    assert_eq!(std::fs::read_to_string(&spec).expect("spec"), TIDY);
    assert_eq!(digest(&work, "orgform.yaml"), before);
    work.run_env(&["fmt", "--check"], &[]).expect_code(0);
}

#[cfg(unix)]
#[test]
fn fmt_keeps_the_file_mode_and_leaves_no_temp_file() {
    use std::os::unix::fs::PermissionsExt;
    let work = Work::new();
    let spec = work.spec("orgform.yaml", MESSY);
    std::fs::set_permissions(&spec, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    work.run_env(&["fmt"], &[]).expect_code(0);
    let mode = std::fs::metadata(&spec).expect("spec").permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    let names: Vec<String> = std::fs::read_dir(work.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["orgform.yaml".to_owned()]);
}

#[test]
fn fmt_leaves_a_broken_file_alone_and_formats_the_others() {
    let work = Work::new();
    std::fs::create_dir(work.path().join("spec")).expect("dir");
    let broken = "version: 1\nusers:\n  - externalId: A\n    fistName: Ann\n";
    std::fs::write(work.path().join("spec/a.yaml"), broken).expect("write");
    std::fs::write(
        work.path().join("spec/b.yaml"),
        MESSY.replace("version: 1\n", ""),
    )
    .expect("write");
    let out = work.run_env(&["fmt", "spec"], &[]);
    out.expect_code(1);
    out.expect_stderr("unknown field `fistName`");
    out.expect_stderr("1 file could not be formatted");
    assert_eq!(out.stdout(), "spec/b.yaml\n");
    assert_eq!(read(&work, "spec/a.yaml"), broken);
    assert_eq!(read(&work, "spec/b.yaml"), TIDY.replace("version: 1\n", ""));
}

#[test]
fn fmt_of_a_missing_spec_is_an_error() {
    let out = run(&["fmt", "nowhere.yaml"]);
    out.expect_code(1);
    out.expect_stderr("nowhere.yaml");
}

/// The repository's examples are kept formatted (`orgform fmt --check`).
#[test]
fn the_example_specs_are_formatted() {
    for spec in ["specs/quickstart/orgform.yaml", "specs/acme"] {
        let path = root().join(spec);
        let out = run(&["fmt", "--check", path.to_str().expect("utf-8 path")]);
        out.expect_code(0);
        assert_eq!(out.stdout(), "", "{spec} needs `orgform fmt`");
    }
}
