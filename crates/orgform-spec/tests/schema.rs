//! The generated JSON Schema against the example specs: it accepts every
//! valid one, rejects the invalid ones a per-file schema can catch, and
//! never rejects what the loader accepts. YAML is read with serde_yaml, as
//! an editor's YAML parser would, and validated with the `jsonschema` crate.

use std::path::{Path, PathBuf};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn validator() -> jsonschema::Validator {
    let schema = orgform_spec::spec_schema();
    jsonschema::meta::validate(&schema).expect("the schema is a valid draft 7 schema");
    jsonschema::validator_for(&schema).expect("compile the schema")
}

/// `None` when serde_yaml cannot read the YAML at all.
fn yaml_to_json(text: &str) -> Option<Value> {
    serde_yaml::from_str::<Value>(text).ok()
}

/// The schema's complaints about a YAML text (`Err` when it is not YAML).
fn errors(v: &jsonschema::Validator, text: &str) -> Result<Vec<String>, ()> {
    let json = yaml_to_json(text).ok_or(())?;
    Ok(v.iter_errors(&json)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect())
}

fn example_files() -> Vec<PathBuf> {
    let mut files = vec![root().join("specs/quickstart/orgform.yaml")];
    let mut acme: Vec<PathBuf> = std::fs::read_dir(root().join("specs/acme"))
        .expect("list specs/acme")
        .map(|e| e.expect("list specs/acme").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    acme.sort();
    assert_eq!(acme.len(), 3, "acme's spec files: {acme:?}");
    files.extend(acme);
    files
}

#[test]
fn every_example_spec_is_valid() {
    let v = validator();
    for path in example_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            errors(&v, &text),
            Ok(vec![]),
            "{} against the schema",
            path.display()
        );
        // And orgform agrees that the example is valid.
        assert!(orgform_spec::load(path.parent().unwrap(), &Default::default()).is_ok());
    }
}

/// What a per-file schema can say about each spec of `specs/invalid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// The schema rejects it.
    Schema,
    /// Not YAML an editor's parser reads (syntax, an alias bomb, nesting).
    NotYaml,
    /// Valid for the schema: only `orgform validate` catches it (a rule
    /// across records or files, a duplicate key that YAML parsers keep).
    RulesOnly,
}

const INVALID: &[(&str, Verdict)] = &[
    ("alias-bomb.yaml", Verdict::NotYaml),
    ("attribute-value-not-allowed.yaml", Verdict::RulesOnly),
    ("bare-number.yaml", Verdict::Schema),
    ("duplicate-email.yaml", Verdict::RulesOnly),
    ("duplicate-external-id.yaml", Verdict::RulesOnly),
    ("duplicate-key.yaml", Verdict::RulesOnly),
    ("duplicate-phone.yaml", Verdict::RulesOnly),
    ("empty-attribute-value.yaml", Verdict::Schema),
    ("empty-file.yaml", Verdict::Schema),
    ("external-group-managed.yaml", Verdict::RulesOnly),
    ("invalid-email.yaml", Verdict::Schema),
    ("invalid-language.yaml", Verdict::Schema),
    ("invalid-phone.yaml", Verdict::Schema),
    ("invalid-role.yaml", Verdict::Schema),
    ("invalid-target.yaml", Verdict::Schema),
    ("invalid-timezone.yaml", Verdict::Schema),
    ("limit-out-of-range.yaml", Verdict::Schema),
    ("missing-required.yaml", Verdict::Schema),
    ("missing-version.yaml", Verdict::RulesOnly),
    ("multiple-documents.yaml", Verdict::NotYaml),
    ("not-a-boolean.yaml", Verdict::Schema),
    ("null-values.yaml", Verdict::Schema),
    ("parent-cycle.yaml", Verdict::RulesOnly),
    ("percent-out-of-range.yaml", Verdict::Schema),
    ("required-attribute-missing.yaml", Verdict::RulesOnly),
    ("self-parent.yaml", Verdict::RulesOnly),
    ("too-deep.yaml", Verdict::NotYaml),
    ("undeclared-attribute.yaml", Verdict::RulesOnly),
    ("unknown-field.yaml", Verdict::Schema),
    ("unknown-group.yaml", Verdict::RulesOnly),
    ("unsupported-version.yaml", Verdict::Schema),
    ("wrong-type.yaml", Verdict::Schema),
    ("yaml-syntax.yaml", Verdict::NotYaml),
];

#[test]
fn invalid_specs_get_the_expected_verdict() {
    let v = validator();
    let dir = root().join("specs/invalid");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            continue; // directory specs: each file is valid on its own
        }
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let Some((_, want)) = INVALID.iter().find(|(n, _)| *n == name) else {
            panic!("classify {name} in INVALID");
        };
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let got = match errors(&v, &text) {
            Err(()) => Verdict::NotYaml,
            Ok(e) if e.is_empty() => Verdict::RulesOnly,
            Ok(_) => Verdict::Schema,
        };
        assert_eq!(got, *want, "{name}: {:?}", errors(&v, &text));
        // Whatever the schema says, orgform itself rejects it.
        assert!(
            orgform_spec::load(&path, &Default::default()).is_err(),
            "{name}"
        );
        seen.push(name);
    }
    assert_eq!(seen.len(), INVALID.len(), "a listed spec is missing");
}

/// Small specs, each breaking one thing the schema must catch.
#[test]
fn the_schema_rejects_each_shape_error() {
    let v = validator();
    let user = "users:\n  - {externalId: E1, firstName: A, lastName: B, email: a@example.com";
    let cases = [
        ("version: 2\n", "/version"),
        ("versio: 1\n", ""),
        (
            "settings: {maxUsersDeleted: 10000001}\n",
            "/settings/maxUsersDeleted",
        ),
        ("target: {maxPerRequest: 0}\n", "/target/maxPerRequest"),
        ("target: {maxPerRequest: 20001}\n", "/target/maxPerRequest"),
        (
            "settings: {maxUsersDeleted: -1}\n",
            "/settings/maxUsersDeleted",
        ),
        ("settings: {validateOnly: true}\n", "/settings"),
        (
            "safety: {maxUserDeletionPercent: 101}\n",
            "/safety/maxUserDeletionPercent",
        ),
        (
            "safety: {minPopulation: 4294967296}\n",
            "/safety/minPopulation",
        ),
        ("target: {tokenEnv: \"abc def\"}\n", "/target/tokenEnv"),
        ("attributes: {gender: Male}\n", "/attributes/gender"),
        (
            "attributes: {gender: {values: [a], requird: true}}\n",
            "/attributes/gender",
        ),
        ("groups: [{externalId: G1}]\n", "/groups/0"),
        (
            "groups: [{externalId: G1, name: g, parent: 7}]\n",
            "/groups/0/parent",
        ),
        ("groups: null\n", "/groups"),
        (
            &format!("{user}, accessInfo: {{role: manager}}}}\n"),
            "/users/0/accessInfo/role",
        ),
        (
            &format!("{user}, phone: \"+4670 123\"}}\n"),
            "/users/0/phone",
        ),
        (&format!("{user}, phone: null}}\n"), "/users/0/phone"),
        (&format!("{user}, language: sv-SE}}\n"), "/users/0/language"),
        (&format!("{user}, timezone: CET+1}}\n"), "/users/0/timezone"),
        (&format!("{user}, active: \"true\"}}\n"), "/users/0/active"),
        (
            &format!("{user}, externalProperties: {{city: \"\"}}}}\n"),
            "/users/0/externalProperties/city",
        ),
        (
            &format!("{user}, accessInfo: {{memberOf: null}}}}\n"),
            "/users/0/accessInfo/memberOf",
        ),
        (&format!("{user}, department: Sales}}\n"), "/users/0"),
        (
            "users:\n  - {externalId: E1, firstName: A, lastName: B, email: a.example.com}\n",
            "/users/0/email",
        ),
    ];
    for (yaml, path) in cases {
        let errs = errors(&v, yaml).expect("YAML");
        assert!(
            errs.iter().any(|e| e.starts_with(&format!("{path}: "))),
            "{yaml:?} should fail at `{path}`, got {errs:?}"
        );
    }
}

/// The shapes the loader accepts, including the ones that differ from the
/// model's serde shape.
#[test]
fn the_schema_accepts_every_accepted_shape() {
    let v = validator();
    let yaml = r#"
version: 1
target: {endpoint: "http://127.0.0.1:8080/v1/organization", tokenEnv: SIM_TOKEN, tokenHeader: X-Token,
         connectTimeoutSecs: 5, requestTimeoutSecs: 30, maxRetries: 0, retryBudgetSecs: 60}
settings: {forceSetLanguage: true, maxUsersCreated: 0, maxGroupsDeleted: 20000}
attributes:
  gender: [Male, Female]
  city: {}
  hireDate: {required: true}
  level: {values: [A, B], required: false}
externalGroups: []
safety: {maxUserDeletionPercent: 100, maxGroupDeletionPercent: 0, minPopulation: 10,
         maxMembershipLossPercent: 50, minAdministrators: 1}
groups:
  - {externalId: G1, name: Root, parent: null, description: "", protected: true}
  - {externalId: G2, name: Child, parent: G1}
users:
  - externalId: E1
    firstName: Ada
    lastName: Lovelace
    email: ada@example.com
    phone: ""
    active: false
    timezone: Europe/Stockholm
    language: "no"
    protected: false
    accessInfo: {memberOf: [], adminOf: [G1], inheritedAdminOf: [G2], interestOf: [G1], role: Administrator}
    externalProperties: {gender: Female, city: London, hireDate: "2020-01-01"}
  - {externalId: E2, firstName: B, lastName: C, email: b@example.com, phone: "+461234567",
     externalProperties: {hireDate: "2021-02-03"}}
"#;
    assert_eq!(errors(&v, yaml), Ok(vec![]));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spec.yaml");
    std::fs::write(&path, yaml).unwrap();
    let loaded = orgform_spec::load(&path, &Default::default());
    assert!(
        loaded.is_ok(),
        "{:?}",
        loaded.err().map(|d| d.render(false))
    );
}

/// A small deterministic generator (xorshift), so a failure names its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// The first (valid, ordinary) value half the time, else any.
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        if self.chance(2) {
            return from[0];
        }
        from[(self.next() % from.len() as u64) as usize]
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.next().is_multiple_of(one_in)
    }
}

/// Values a field may take, valid and invalid, plain and quoted, including
/// the ones where the schema and the loader could disagree: repeats in a
/// set, bounds of the ranges, empty strings, whitespace, non-ASCII, YAML's
/// number and boolean look-alikes.
const IDS: &[&str] = &[
    "G1",
    "G2",
    "G3",
    "\"0000897\"",
    "0000897",
    "\"G1\"",
    "' G1'",
    "\"\"",
    "\" \"",
    "G-ö",
    "yes",
];
const NAMES: &[&str] = &[
    "Sales", "\"Zoë\"", "\"\"", "\"  \"", "太郎", "\"no\"", "no", "12", "\"a\tb\"",
];
const EMAILS: &[&str] = &[
    "a@example.com",
    "a.b@example.com",
    "a.@example.com",
    ".a@example.com",
    "a@example",
    "a@@example.com",
    "\"a b@example.com\"",
    "Ada@Example.COM",
    "a@ex..com",
];
const PHONES: &[&str] = &[
    "\"+461234567\"",
    "+461234567",
    "\"\"",
    "\"+0461234567\"",
    "\"+46 12 34 56 7\"",
    "\"+1234567\"",
    "\"+123456789012345\"",
    "\"+1234567890123456\"",
];
const BOOLS: &[&str] = &["true", "false", "yes", "\"true\"", "1", "null"];
const LISTS: &[&str] = &[
    "[]",
    "[X1]",
    "[X1, X1]",
    "[X1, X2, X1]",
    "[\"0000897\", \"0000897\"]",
    "[0000897]",
    "G1",
    "null",
];
const LIMITS: &[&str] = &[
    "0", "1", "200", "20000", "20001", "10000000", "10000001", "-1", "2.5", "\"5\"",
];
const PER_REQUEST: &[&str] = &["0", "1", "20000", "20001"];
const ENDPOINTS: &[&str] = &[
    "\"https://org.api.example.com/v1/organization\"",
    "\"http://127.0.0.1:8080/v1/organization\"",
    "\"https://\"",
    "\"https:///x\"",
    "\"ftp://example.com\"",
    "\"https://[::1]:8080/v1\"",
    "\"https://:80/\"",
];
const HEADERS: &[&str] = &[
    "X-Token",
    "\"\"",
    "\"X Token\"",
    "Authorization",
    "\"X:Token\"",
    "\"x~!#$%&'*+.^_`|\"",
];
const TIMEZONES: &[&str] = &["Europe/Stockholm", "UTC", "Mars/Base", "\"\""];
const LANGUAGES: &[&str] = &["sv", "\"no\"", "no", "xx", "EN"];
const ROLES: &[&str] = &["User", "Manager", "Administrator", "user", "Admin"];
const ALLOWED: &[&str] = &[
    "[Male, Female]",
    "[Male, Male]",
    "{}",
    "{required: true}",
    "{values: [A, A], required: false}",
];

/// One spec file from the generator: every section, each field drawn from
/// the tables above or left out.
fn generated(rng: &mut Rng) -> String {
    let mut s = String::from("version: 1\n");
    if rng.chance(2) {
        s.push_str(&format!(
            "target:\n  endpoint: {}\n  tokenEnv: FRANKLY_API_TOKEN\n",
            rng.pick(ENDPOINTS)
        ));
        if rng.chance(2) {
            s.push_str(&format!("  tokenHeader: {}\n", rng.pick(HEADERS)));
        }
        if rng.chance(2) {
            s.push_str(&format!("  maxPerRequest: {}\n", rng.pick(PER_REQUEST)));
        }
    }
    if rng.chance(2) {
        s.push_str(&format!(
            "settings:\n  forceSetLanguage: {}\n  maxUsersCreated: {}\n  maxGroupsDeleted: {}\n",
            rng.pick(BOOLS),
            rng.pick(LIMITS),
            rng.pick(LIMITS)
        ));
    }
    if rng.chance(2) {
        s.push_str(&format!("attributes:\n  gender: {}\n", rng.pick(ALLOWED)));
    }
    s.push_str(&format!(
        "externalGroups: {}\n",
        rng.pick(&["[X1, X2]", "[X1, X2, X1]", "[X1, X2, X2]"])
    ));
    s.push_str("groups:\n");
    let groups = rng.next() % 3;
    if groups == 0 {
        s.push_str("  []\n");
    }
    for g in 0..groups {
        s.push_str(&format!(
            "  - externalId: {}\n    name: {}\n",
            if rng.chance(2) {
                ["G1", "G2", "G3"][g as usize]
            } else {
                rng.pick(IDS)
            },
            rng.pick(NAMES)
        ));
        if rng.chance(2) {
            s.push_str(&format!(
                "    parent: {}\n",
                rng.pick(&["null", "G1", "G2", "\"\""])
            ));
        }
        if rng.chance(3) {
            s.push_str(&format!("    protected: {}\n", rng.pick(BOOLS)));
        }
    }
    s.push_str("users:\n");
    let users = rng.next() % 3;
    if users == 0 {
        s.push_str("  []\n");
    }
    for u in 0..users {
        s.push_str(&format!(
            "  - externalId: {}\n    firstName: {}\n    lastName: {}\n    email: {}\n",
            if rng.chance(2) {
                ["E1", "E2", "E3"][u as usize]
            } else {
                rng.pick(IDS)
            },
            rng.pick(NAMES),
            rng.pick(NAMES),
            if rng.chance(2) {
                format!("e{u}@example.com")
            } else {
                rng.pick(EMAILS).to_owned()
            }
        ));
        if rng.chance(2) {
            let phone = if rng.chance(2) {
                format!("\"+4612345{u:02}\"")
            } else {
                rng.pick(PHONES).to_owned()
            };
            s.push_str(&format!("    phone: {phone}\n"));
        }
        if rng.chance(2) {
            s.push_str(&format!("    active: {}\n", rng.pick(BOOLS)));
        }
        if rng.chance(3) {
            s.push_str(&format!("    timezone: {}\n", rng.pick(TIMEZONES)));
        }
        if rng.chance(3) {
            s.push_str(&format!("    language: {}\n", rng.pick(LANGUAGES)));
        }
        if rng.chance(2) {
            s.push_str(&format!(
                "    accessInfo:\n      memberOf: {}\n      adminOf: {}\n      role: {}\n",
                rng.pick(LISTS),
                rng.pick(LISTS),
                rng.pick(ROLES)
            ));
        }
        if rng.chance(3) {
            s.push_str(&format!(
                "    externalProperties: {{gender: {}}}\n",
                rng.pick(&["Male", "Female", "\"\"", "Other"])
            ));
        }
    }
    s
}

/// Issue 23: the schema is never stricter than the loader. 3,000 generated
/// specs (every section, valid and invalid values, the edges where the two
/// could disagree); on each one the loader accepts, the schema must find
/// nothing. Each accepted and each refused spec is counted, so the test
/// fails if the generator stops producing either.
#[test]
fn the_schema_is_never_stricter_than_the_loader() {
    let v = validator();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spec.yaml");
    let (mut accepted, mut refused) = (0, 0);
    for seed in 1..=3_000u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let text = generated(&mut rng);
        std::fs::write(&path, &text).unwrap();
        if orgform_spec::load(&path, &Default::default()).is_err() {
            refused += 1;
            continue;
        }
        accepted += 1;
        let errs = errors(&v, &text).expect("the loader read it, so it is YAML");
        assert!(
            errs.is_empty(),
            "seed {seed}: the loader accepts, the schema rejects: {errs:?}\n{text}"
        );
    }
    assert!(
        accepted >= 100 && refused >= 100,
        "{accepted} accepted, {refused} refused"
    );
}

/// The single edits that used to split the two (`uniqueItems`): a repeat
/// in `memberOf`, in `externalGroups`, in an attribute's allowed values.
#[test]
fn a_repeated_set_entry_is_a_warning_for_both() {
    let v = validator();
    let yaml = "version: 1\nattributes:\n  gender: [Male, Male]\nexternalGroups: [X1, X1]\ngroups:\n  - {externalId: G1, name: Sales}\nusers:\n  - {externalId: E1, firstName: A, lastName: B, email: a@example.com, accessInfo: {memberOf: [G1, G1]}}\n";
    assert_eq!(errors(&v, yaml), Ok(vec![]));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spec.yaml");
    std::fs::write(&path, yaml).unwrap();
    let spec = orgform_spec::load(&path, &Default::default()).unwrap_or_else(|d| panic!("{d}"));
    let codes: Vec<&str> = spec.warnings().iter().map(|d| d.code).collect();
    assert_eq!(codes, ["duplicateListEntry"; 3]);
}
