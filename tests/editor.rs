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
    let names: Vec<String> = list
        .lines()
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
        schema["definitions"]["Settings"]["properties"]["maxUsersDeleted"]["maximum"],
        20000
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
    assert!(out.stderr().contains("bash"), "{}", out.stderr());
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
