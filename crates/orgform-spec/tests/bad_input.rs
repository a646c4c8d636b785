//! The bad-input catalogue of spec loading (issue 12): each hostile input
//! ends in clear, located diagnostics (or a valid spec, where YAML allows
//! it), never a panic, in bounded work and memory. Big inputs are generated
//! here, never committed. The traps `specs.rs` already covers are not
//! repeated: a leading BOM, Latin-1, UTF-16, an empty file, the size cap of
//! one file, 10,000-deep block sequences, the billion-laughs bomb, flow
//! sequences too deep for the parser.
//!
//! No test here reads a clock (issue 16): each input took quadratic time or
//! gigabytes before the fix it guards; the tests bound the work by counts
//! (a million elements, a million located diagnostics) and check every
//! result, and timing figures belong to the benchmarks.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use orgform_spec::{Diagnostics, LoadOptions, ValidatedSpec, load};

type Loaded = Result<ValidatedSpec, Diagnostics>;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write a test file");
    path
}

/// Loads `bytes` as one spec file.
#[track_caller]
fn load_bytes(bytes: &[u8]) -> Loaded {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = write(dir.path(), "spec.yaml", bytes);
    load(&path, &LoadOptions::default())
}

#[track_caller]
fn load_text(text: &str) -> Loaded {
    load_bytes(text.as_bytes())
}

/// The diagnostics of a refused spec (panics on a valid one), checked to be
/// well formed: at least one error, each located (a problem with a whole
/// file names the file instead), rendering fine.
#[track_caller]
fn refused(loaded: Loaded) -> Diagnostics {
    let diags = match loaded {
        Ok(_) => panic!("the spec was accepted"),
        Err(d) => d,
    };
    assert!(diags.has_errors(), "refused without an error:\n{diags}");
    for d in diags.iter() {
        if matches!(d.code, "fileTooLarge" | "unreadable" | "noYamlFiles") {
            continue;
        }
        let loc = d
            .location
            .as_ref()
            .unwrap_or_else(|| panic!("no location: {d:?}"));
        assert!(loc.line >= 1 && loc.column >= 1, "{d:?}");
    }
    assert!(!diags.render(false).is_empty());
    diags
}

fn codes(diags: &Diagnostics) -> BTreeSet<&'static str> {
    diags.iter().map(|d| d.code).collect()
}

/// A user line in flow style.
fn user(i: usize, extra: &str) -> String {
    format!("  - {{externalId: E{i}, firstName: F, lastName: L, email: e{i}@example.com{extra}}}\n")
}

fn pseudo_random(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Aliases and nesting.

#[test]
fn aliases_that_amplify_bytes_are_refused_at_once() {
    // One anchored megabyte aliased 2000 times: few events, 2 GB of text
    // (it took 17 s and 3.9 GB before the byte budget).
    let mut text = format!(
        "version: 1\ngroups:\n  - externalId: G1\n    name: &big {}\n",
        "x".repeat(1_000_000)
    );
    for i in 2..2002 {
        text.push_str(&format!("  - {{externalId: G{i}, name: *big}}\n"));
    }
    let d = refused(load_text(&text));
    assert_eq!(codes(&d), BTreeSet::from(["aliasBudget"]), "{d}");

    // Nested: a megabyte in a list of ten, ten of those, ten of those.
    let text = format!(
        "version: 1\nlol:\n  - &a {}\n  - &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n  - &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n  - [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
        "y".repeat(1_000_000)
    );
    let d = refused(load_text(&text));
    assert!(codes(&d).contains("aliasBudget"), "{d}");

    // Short values aliased many times are fine.
    let mut text = String::from("version: 1\ngroups:\n  - externalId: G1\n    name: &n Sales\n");
    for i in 2..5002 {
        text.push_str(&format!("  - {{externalId: G{i}, name: *n}}\n"));
    }
    let spec = load_text(&text).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(spec.org().groups.as_ref().map(Vec::len), Some(5001));
}

#[test]
fn ten_thousand_deep_nesting_fails_fast_in_every_style() {
    let n = 10_000;
    let cases = [
        (
            "flow mappings",
            format!(
                "version: 1\nusers: {}x{}\n",
                "{a: ".repeat(n),
                "}".repeat(n)
            ),
        ),
        (
            "flow sequences and mappings",
            format!(
                "version: 1\nusers: {}1{}\n",
                "[{a: ".repeat(n / 2),
                "}]".repeat(n / 2)
            ),
        ),
        (
            "inside a user",
            format!(
                "version: 1\nusers:\n  - externalId: E1\n    accessInfo:\n      memberOf: {}G1{}\n",
                "[".repeat(n),
                "]".repeat(n)
            ),
        ),
        (
            "block mappings",
            (0..200).fold(String::from("version: 1\nsafety:\n"), |mut s, i| {
                s.push_str(&" ".repeat(i + 1));
                s.push_str("a:\n");
                s
            }),
        ),
        (
            // Each anchor is shallow; replaying them nests past the limit.
            "nested by aliases",
            {
                let mut s = String::from("version: 1\nx:\n  - &l0 [a]\n");
                for i in 1..80 {
                    s.push_str(&format!("  - &l{i} [*l{}]\n", i - 1));
                }
                s
            },
        ),
    ];
    for (what, text) in cases {
        let d = refused(load_text(&text));
        assert!(codes(&d).contains("tooDeep"), "{what}: {d}");
    }
}

// ---------------------------------------------------------------------------
// Bytes that are not a spec.

#[test]
fn binary_garbage_is_refused_with_a_location() {
    for (seed, len) in [(1u64, 1usize), (2, 7), (3, 100), (4, 4096), (5, 1 << 20)] {
        let bytes = pseudo_random(len, seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let d = refused(load_bytes(&bytes));
        assert!(d.error_count() >= 1, "seed {seed}");
    }
    // NUL and other control characters.
    let d = refused(load_text("version: 1\0\nusers: []\n"));
    let first = d.iter().next().expect("a diagnostic");
    assert_eq!(
        (first.code, first.location.as_ref().map(|l| l.line)),
        ("yamlSyntax", Some(1))
    );
    // A control character inside a quoted value is text (the renderers
    // escape it when printing).
    let spec = load_text(
        "version: 1\nusers:\n  - {externalId: E1, firstName: \"A\\x01\\eda\", lastName: B, email: a@example.com}\n",
    )
    .unwrap_or_else(|d| panic!("{d}"));
    let users = spec.org().users.as_ref().expect("users");
    assert_eq!(users[0].first_name, "A\u{1}\u{1b}da");
}

#[test]
fn invalid_utf8_is_located_deep_in_a_long_file() {
    let mut bytes = b"version: 1\nusers:\n".to_vec();
    for i in 0..10_000 {
        bytes.extend_from_slice(user(i, "").as_bytes());
    }
    bytes.extend_from_slice(
        b"  - {externalId: X, firstName: J\xF6rg, lastName: L, email: x@example.com}\n",
    );
    let d = refused(load_bytes(&bytes));
    let first = d.iter().next().expect("a diagnostic");
    assert_eq!(first.code, "notUtf8", "{d}");
    assert_eq!(first.location.as_ref().map(|l| l.line), Some(10_003), "{d}");
}

#[test]
fn tabs_in_indentation_are_located_syntax_errors() {
    let cases = [
        (
            "version: 1\nusers:\n\t- {externalId: E1, firstName: A, lastName: B, email: a@example.com}\n",
            3,
        ),
        (
            "version: 1\nusers:\n  - externalId: E1\n\tfirstName: Ada\n",
            4,
        ),
        (
            "version: 1\ngroups:\n  - externalId: G1\n\t  name: Sales\n",
            4,
        ),
    ];
    for (text, line) in cases {
        let d = refused(load_text(text));
        let first = d.iter().next().expect("a diagnostic");
        assert_eq!(first.code, "yamlSyntax", "{d}");
        let at = first.location.as_ref().map_or(0, |l| l.line);
        // The parser reports some tabs at the end of the line before: the
        // diagnostic is moved to the tab itself.
        assert_eq!(at, line, "{d}");
        assert_eq!(d.len(), 1, "nothing follows a syntax error: {d}");
    }
    // A tab inside a quoted value is text.
    let spec = load_text(
        "version: 1\nusers:\n  - {externalId: E1, firstName: \"A\tda\", lastName: B, email: a@example.com}\n",
    )
    .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(
        spec.org().users.as_ref().expect("users")[0].first_name,
        "A\tda"
    );
}

#[test]
fn byte_order_marks_elsewhere() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let spec_dir = dir.path().join("spec");
    std::fs::create_dir(&spec_dir).unwrap();
    write(
        &spec_dir,
        "a.yaml",
        b"version: 1\ngroups:\n  - {externalId: G1, name: Sales}\n",
    );
    write(
        &spec_dir,
        "b.yaml",
        b"\xEF\xBB\xBFusers:\n  - {externalId: E1, firstName: A, lastName: B, email: a@example.com}\n",
    );
    // A BOM starting the second file of a directory: stripped, with a warning.
    let spec = load(&spec_dir, &LoadOptions::default()).unwrap_or_else(|d| panic!("{d}"));
    let bom: Vec<_> = spec
        .warnings()
        .iter()
        .filter(|d| d.code == "byteOrderMark")
        .collect();
    assert_eq!(bom.len(), 1, "{}", spec.warnings());
    assert!(
        bom[0]
            .location
            .as_ref()
            .is_some_and(|l| l.file.ends_with("b.yaml"))
    );
    // U+FEFF inside a value is a character of that value.
    let spec = load_text(
        "version: 1\nusers:\n  - {externalId: E1, firstName: \"A\u{feff}da\", lastName: B, email: a@example.com}\n",
    )
    .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(
        spec.org().users.as_ref().expect("users")[0].first_name,
        "A\u{feff}da"
    );
    // Two BOMs: the second is not a mark, and the file is not a spec.
    let mut twice = b"\xEF\xBB\xBF\xEF\xBB\xBF".to_vec();
    twice.extend_from_slice(b"version: 1\n");
    let loaded = load_bytes(&twice);
    if let Err(d) = &loaded {
        assert!(d.has_errors());
    }
}

// ---------------------------------------------------------------------------
// Keys and types.

#[test]
fn duplicate_keys_are_errors_at_every_level() {
    let text = "\
version: 1
version: 1
target:
  endpoint: https://example.com/v1/organization
  endpoint: https://example.com/v1/organization
settings:
  maxUsersCreated: 5
  maxUsersCreated: 6
safety:
  minPopulation: 3
  minPopulation: 4
attributes:
  city: {}
  city: {}
  gender:
    values: [Male]
    values: [Female]
externalGroups: [X1]
groups:
  - externalId: G1
    name: Sales
    name: Support
users:
  - externalId: E1
    firstName: Ada
    lastName: Lovelace
    email: ada@example.com
    email: ada2@example.com
    accessInfo:
      role: User
      role: Manager
";
    let d = refused(load_text(text));
    let lines: Vec<u32> = d
        .iter()
        .filter(|d| d.code == "duplicateKey")
        .filter_map(|d| d.location.as_ref().map(|l| l.line))
        .collect();
    assert_eq!(lines, [2, 5, 8, 11, 14, 17, 22, 28, 31], "{d}");
}

/// The kind of value a field takes, to know which values are wrong for it.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Text,
    Int,
    Bool,
    List,
    Map,
    /// An attribute: `{values, required}`, or the list of its values.
    Attribute,
}

#[test]
fn a_wrong_type_anywhere_is_a_located_error() {
    // Every field of a spec, one per line: (line text, shape).
    let template: &[(&str, Shape)] = &[
        ("version: 1", Shape::Int),
        ("target:", Shape::Map),
        (
            "  endpoint: https://example.com/v1/organization",
            Shape::Text,
        ),
        ("  tokenEnv: FRANKLY_API_TOKEN", Shape::Text),
        ("settings:", Shape::Map),
        ("  forceSetLanguage: false", Shape::Bool),
        ("  maxUsersCreated: 5", Shape::Int),
        ("safety:", Shape::Map),
        ("  minPopulation: 3", Shape::Int),
        ("attributes:", Shape::Map),
        ("  city: {}", Shape::Attribute),
        ("  gender:", Shape::Attribute),
        ("    values: [Male, Female]", Shape::List),
        ("    required: false", Shape::Bool),
        ("externalGroups: [X1]", Shape::List),
        ("groups:", Shape::List),
        ("  - externalId: G1", Shape::Text),
        ("    name: Sales", Shape::Text),
        ("    description: Everyone", Shape::Text),
        ("    parent: X1", Shape::Text),
        ("    protected: false", Shape::Bool),
        ("users:", Shape::List),
        ("  - externalId: E1", Shape::Text),
        ("    firstName: Ada", Shape::Text),
        ("    lastName: Lovelace", Shape::Text),
        ("    email: ada@example.com", Shape::Text),
        ("    phone: \"+46701234567\"", Shape::Text),
        ("    active: true", Shape::Bool),
        ("    timezone: Europe/Stockholm", Shape::Text),
        ("    language: sv", Shape::Text),
        ("    accessInfo:", Shape::Map),
        ("      memberOf: [G1]", Shape::List),
        ("      adminOf: [G1]", Shape::List),
        ("      inheritedAdminOf: [X1]", Shape::List),
        ("      interestOf: []", Shape::List),
        ("      role: Manager", Shape::Text),
        ("    externalProperties:", Shape::Map),
        ("      city: London", Shape::Text),
        ("    protected: false", Shape::Bool),
    ];
    let valid: String = template.iter().map(|(l, _)| format!("{l}\n")).collect();
    load_text(&valid).unwrap_or_else(|d| panic!("the template is valid:\n{d}"));

    // Wrong values: a list, a map, a number, a boolean, a word, null.
    let wrong = [
        ("[a, b]", Shape::List),
        ("{a: b}", Shape::Map),
        ("12", Shape::Int),
        ("true", Shape::Bool),
        ("\"word\"", Shape::Text),
    ];
    let mut checked = 0;
    for (i, (line, shape)) in template.iter().enumerate() {
        let (key, rest) = line.split_once(':').expect("a key");
        // A block parent (`groups:`, `  - externalId: G1` starts an item)
        // is replaced as a whole only for the line itself.
        let block_parent = rest.trim().is_empty();
        for (value, value_shape) in wrong.iter().chain([("null", Shape::Text)].iter()) {
            let fits = *value_shape == *shape
                || (*shape == Shape::Attribute && matches!(value_shape, Shape::List | Shape::Map));
            if fits && *value != "null" {
                continue;
            }
            // `parent: null` makes a root: not a mistake.
            if *value == "null" && key.trim() == "parent" {
                continue;
            }
            // Replacing a block parent's value drops its children: skip the
            // children so the text stays YAML.
            let mut lines: Vec<String> = Vec::new();
            let indent = line.len() - line.trim_start().len();
            let mut skipping = false;
            for (j, (other, _)) in template.iter().enumerate() {
                if j == i {
                    lines.push(format!("{key}: {value}"));
                    skipping = block_parent;
                    continue;
                }
                if skipping {
                    let other_indent = other.len() - other.trim_start().len();
                    if other_indent > indent
                        || (other_indent == indent && other.trim_start().starts_with("- "))
                    {
                        continue;
                    }
                    skipping = false;
                }
                lines.push((*other).to_owned());
            }
            let text = lines.join("\n") + "\n";
            let what = format!("line {} `{key}: {value}`", i + 1);
            let d = match load_text(&text) {
                Ok(_) => panic!("{what} was accepted:\n{text}"),
                Err(d) => d,
            };
            assert!(d.has_errors(), "{what}");
            let at = i as u32 + 1;
            assert!(
                d.iter()
                    .any(|d| d.location.as_ref().is_some_and(|l| l.line == at)),
                "{what}: no diagnostic on its line:\n{d}"
            );
            checked += 1;
        }
    }
    assert!(checked > 150, "{checked}");
}

#[test]
fn a_directory_with_one_file_over_the_cap_names_it() {
    let dir = tempfile::tempdir().expect("a temp dir");
    write(dir.path(), "a.yaml", b"version: 1\n");
    write(
        dir.path(),
        "b.yaml",
        format!("users:\n{}", user(1, "")).as_bytes(),
    );
    let options = LoadOptions { max_file_bytes: 40 };
    let d = refused(load(dir.path(), &options));
    let big: Vec<_> = d.iter().filter(|d| d.code == "fileTooLarge").collect();
    assert_eq!(big.len(), 1, "{d}");
    assert!(big[0].message.contains("b.yaml"), "{d}");
    // Exactly at the cap is fine.
    let exact = LoadOptions { max_file_bytes: 11 };
    write(dir.path(), "b.yaml", b"users: []\n");
    load(dir.path(), &exact).unwrap_or_else(|d| panic!("{d}"));
}

// ---------------------------------------------------------------------------
// Huge strings and long lists.

#[test]
fn ten_megabyte_strings_load_or_fail_in_bounded_time() {
    let mb10 = |c: &str| c.repeat(10_000_000);
    // Valid: a 10 MB name.
    let text = format!(
        "version: 1\nusers:\n  - {{externalId: E1, firstName: {}, lastName: L, email: e1@example.com}}\n",
        mb10("n")
    );
    let spec = load_text(&text).unwrap_or_else(|d| panic!("{}", d.error_count()));
    assert_eq!(
        spec.org().users.as_ref().expect("users")[0]
            .first_name
            .len(),
        10_000_000
    );

    let mut groups = String::from("groups:\n");
    for i in 0..1000 {
        groups.push_str(&format!("  - {{externalId: G{i}, name: N{i}}}\n"));
    }
    let cases = [
        (
            "an unknown key",
            format!(
                "version: 1\nusers:\n{}",
                user(1, &format!(", {}: 1", mb10("k")))
            ),
            "unknownField",
        ),
        (
            "an unknown group among 1000",
            format!(
                "version: 1\n{groups}users:\n{}",
                user(1, &format!(", accessInfo: {{memberOf: [{}]}}", mb10("g")))
            ),
            "unknownGroup",
        ),
        (
            "an email",
            format!(
                "version: 1\nusers:\n{}",
                user(1, "").replace("e1@example.com", &mb10("e"))
            ),
            "invalidEmail",
        ),
        (
            "a phone",
            format!(
                "version: 1\nusers:\n{}",
                user(1, &format!(", phone: \"+{}\"", mb10("4")))
            ),
            "invalidPhone",
        ),
        (
            "a time zone",
            format!(
                "version: 1\nusers:\n{}",
                user(1, &format!(", timezone: {}", mb10("z")))
            ),
            "invalidTimezone",
        ),
        (
            "a role",
            format!(
                "version: 1\nusers:\n{}",
                user(1, &format!(", accessInfo: {{role: {}}}", mb10("r")))
            ),
            "invalidRole",
        ),
        (
            "an attribute value",
            format!(
                "version: 1\nattributes:\n  city: {{values: [A, B]}}\nusers:\n{}",
                user(1, &format!(", externalProperties: {{city: {}}}", mb10("c")))
            ),
            "attributeValueNotAllowed",
        ),
    ];
    for (what, text, code) in cases {
        let d = refused(load_text(&text));
        assert_eq!(codes(&d), BTreeSet::from([code]), "{what}");
        // The hint never repeats the value; the message says it once.
        for diag in d.iter() {
            assert!(
                diag.hint.as_ref().is_none_or(|h| h.len() < 10_000),
                "{what}: hint of {} bytes",
                diag.hint.as_ref().map_or(0, String::len)
            );
        }
    }
}

#[test]
fn million_element_lists_stay_linear() {
    let n = 1_000_000;
    // Valid: a million external groups, all named by one user.
    let ids: Vec<String> = (0..n).map(|i| format!("X{i}")).collect();
    let list = ids.join(", ");
    let text = format!(
        "version: 1\nexternalGroups: [{list}]\nusers:\n{}",
        user(1, &format!(", accessInfo: {{memberOf: [{list}]}}"))
    );
    let spec = load_text(&text).unwrap_or_else(|d| panic!("{}", d.error_count()));
    assert_eq!(spec.org().external_groups.len(), n);

    // A million unknown references on one 9 MB line: a million located
    // errors (before the fix, each took time proportional to the line and
    // the list: days).
    let refs: Vec<String> = (0..n).map(|i| format!("G{i}")).collect();
    let text = format!(
        "version: 1\nusers:\n{}",
        user(
            1,
            &format!(", accessInfo: {{memberOf: [{}]}}", refs.join(", "))
        )
    );
    let d = refused(load_text(&text));
    assert_eq!(d.error_count(), n);
    assert_eq!(codes(&d), BTreeSet::from(["unknownGroup"]));
    let last = d.iter().last().expect("a diagnostic");
    assert!(
        last.location.as_ref().is_some_and(|l| l.column > 8_000_000),
        "{last:?}"
    );
}

#[test]
fn many_mistakes_against_large_candidate_sets_stay_linear() {
    // 200,000 wrong elements of a block list, each its own line: located in
    // one pass over the list (quadratic before: 40,000 took 2 minutes).
    let mut text = String::from(
        "version: 1\nusers:\n  - externalId: E1\n    firstName: F\n    lastName: L\n    email: e@example.com\n    accessInfo:\n      memberOf:\n",
    );
    for i in 0..200_000 {
        text.push_str(&format!("        - G{i}\n"));
    }
    let d = refused(load_text(&text));
    assert_eq!(d.error_count(), 200_000);
    assert_eq!(
        d.iter()
            .last()
            .and_then(|d| d.location.as_ref())
            .map(|l| l.line),
        Some(200_008)
    );

    // 100,000 distinct misspelt time zones (80 s before "did you mean" had a
    // per-load limit): the first ones get a suggestion, all get a hint.
    let mut text = String::from("version: 1\nusers:\n");
    for i in 0..100_000 {
        text.push_str(&user(i, &format!(", timezone: Europe/Stockholm{i}")));
    }
    let d = refused(load_text(&text));
    assert_eq!(d.error_count(), 100_000);
    assert!(d.iter().all(|d| d.hint.is_some()));
    assert!(d.iter().any(|d| {
        d.hint
            .as_deref()
            .is_some_and(|h| h.contains("did you mean"))
    }));

    // An attribute with 100,000 allowed values, missed by 10,000 users: each
    // hint lists 20 of them (it listed all 100,000, 1 MB per diagnostic).
    let values: Vec<String> = (0..100_000).map(|i| format!("v{i}")).collect();
    let mut text = format!(
        "version: 1\nattributes:\n  city: {{values: [{}]}}\nusers:\n",
        values.join(", ")
    );
    for i in 0..10_000 {
        text.push_str(&user(i, ", externalProperties: {city: nowhere}"));
    }
    let d = refused(load_text(&text));
    assert_eq!(d.error_count(), 10_000);
    for diag in d.iter() {
        let hint = diag.hint.as_deref().unwrap_or_default();
        assert!(
            hint.len() < 1000 && hint.contains("and 99980 more"),
            "{hint}"
        );
    }
}

#[test]
fn a_long_list_ending_in_duplicates_stays_linear() {
    // Found by the spec_file fuzz target (a 50 kB input timing out): each
    // duplicate entry looked for its first place by scanning the entries
    // before it. 100,000 distinct entries, then the same 100,000 again.
    let ids: Vec<String> = (0..100_000).map(|i| format!("X{i}")).collect();
    let list = ids.join(", ");
    let text = format!(
        "version: 1\nexternalGroups: [{list}]\nusers:\n{}",
        user(1, &format!(", accessInfo: {{memberOf: [{list}, {list}]}}"))
    );
    let spec = load_text(&text).unwrap_or_else(|d| panic!("{}", d.error_count()));
    let dups: Vec<_> = spec
        .warnings()
        .iter()
        .filter(|d| d.code == "duplicateListEntry")
        .collect();
    assert_eq!(dups.len(), 100_000);
    // Each points at its first place.
    let last = dups.last().expect("a warning");
    assert!(last.message.contains("`X99999`"), "{last:?}");
    assert_eq!(last.related.len(), 1, "{last:?}");
    assert!(last.related[0].0.column < last.location.as_ref().map_or(0, |l| l.column));
}
