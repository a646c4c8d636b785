//! Tests of the review outputs (Markdown, diff, deletions report,
//! redaction, compare) on representative plans, through one helper,
//! [`case`]: a spec applied first (the base state) and the spec planned.

use orgform_model::{DesiredOrg, EffectiveOrg};
use serde_json::Value;

use crate::compare::compare;
use crate::diff::{self, DiffOptions};
use crate::markdown::{self, MAX_CHARS, MarkdownOptions};
use crate::render::{self, TextOptions};
use crate::report;
use crate::review::Review;
use crate::{Base, Plan, PlanOptions};

const LINEAGE: &str = "7c1f0e2a-lineage";

fn org(yaml: &str) -> orgform_spec::ValidatedSpec {
    let v: Value = serde_yaml::from_str(yaml).expect("test spec is YAML");
    let org: DesiredOrg = serde_json::from_value(v).expect("test spec decodes");
    orgform_spec::validate_org(org)
        .unwrap_or_else(|d| panic!("invalid test spec:\n{}", d.render(false)))
}

/// Plans `before` from nothing (unblocked), then `spec` against what it
/// left: (the base state's records, the plan).
fn case(before: &str, spec: &str) -> (EffectiveOrg, Plan) {
    let first = crate::plan(&org(before), Base::empty(), &PlanOptions::default());
    assert!(
        !first.is_blocked(),
        "{}",
        render::text(&first, &TextOptions::default())
    );
    let base = first.effective_after().clone();
    let plan = crate::plan(
        &org(spec),
        Base {
            lineage: Some(LINEAGE),
            serial: 1,
            org: &base,
        },
        &PlanOptions::default(),
    );
    (base, plan)
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({
        snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/../../snapshots/orgform-plan"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, text);
    });
}

const MIXED_BEFORE: &str = r#"
groups:
  - {externalId: G1, name: Sales}
  - {externalId: G2, name: Support, parent: G1}
  - {externalId: G3, name: Old Team, parent: G1}
users:
  - {externalId: E1, firstName: Annika, lastName: Ashworth, email: annika@example.com,
     phone: "+46701234501", accessInfo: {memberOf: [G1], role: Manager},
     externalProperties: {city: Hammerfest}}
  - {externalId: E2, firstName: Bertil, lastName: Birchwood, email: bertil@example.com,
     accessInfo: {memberOf: [G2]}}
  - {externalId: E3, firstName: Cecilia, lastName: Cedarholm, email: cecilia@example.com,
     phone: "+46701234503", accessInfo: {memberOf: [G3]}, externalProperties: {city: Bergen}}
  - {externalId: E4, firstName: Dagny, lastName: Dogwoodson, email: dagny@example.com,
     externalProperties: {city: Trondheim}}
"#;

const MIXED: &str = r#"
groups:
  - {externalId: G1, name: Sales}
  - {externalId: G2, name: Customer Support, parent: G1}
  - {externalId: G4, name: New Team, parent: G1}
users:
  - {externalId: E1, firstName: Annika, lastName: Ashworth-Berg, email: annika.ab@example.com,
     phone: "+46701234501", accessInfo: {memberOf: [G1, G4], role: Manager},
     externalProperties: {city: Stavanger}}
  - {externalId: E2, firstName: Bertil, lastName: Birchwood, email: bertil@example.com,
     active: false, accessInfo: {memberOf: [G2]}}
  - {externalId: E4, firstName: Dagny, lastName: Dogwoodson, email: dagny@example.com}
  - {externalId: E5, firstName: Evelina, lastName: Elmqvist, email: evelina@example.com,
     phone: "+46701234505", accessInfo: {memberOf: [G4]}, externalProperties: {city: Narvik}}
"#;

/// Every personal value of the mixed case: none may survive `--redact`.
const PERSONAL: [&str; 22] = [
    "Annika",
    "Ashworth",
    "annika@example.com",
    "annika.ab@example.com",
    "+46701234501",
    "Hammerfest",
    "Stavanger",
    "Bertil",
    "Birchwood",
    "bertil@example.com",
    "Cecilia",
    "Cedarholm",
    "cecilia@example.com",
    "+46701234503",
    "Bergen",
    "Dagny",
    "Dogwoodson",
    "Trondheim",
    "Evelina",
    "Elmqvist",
    "+46701234505",
    "Narvik",
];

const BLOCKED_BEFORE: &str = r#"
groups:
  - {externalId: G1, name: Head Office, protected: true}
  - {externalId: G2, name: Branch}
users:
  - {externalId: U01, firstName: Ulla, lastName: One, email: u01@example.com, accessInfo: {memberOf: [G2]}}
  - {externalId: U02, firstName: Ulf, lastName: Two, email: u02@example.com}
  - {externalId: U03, firstName: Una, lastName: Three, email: u03@example.com}
  - {externalId: U04, firstName: Uno, lastName: Four, email: u04@example.com}
  - {externalId: U05, firstName: Ursa, lastName: Five, email: u05@example.com}
  - {externalId: U06, firstName: Uwe, lastName: Six, email: u06@example.com}
  - {externalId: U07, firstName: Ute, lastName: Seven, email: u07@example.com}
  - {externalId: U08, firstName: Uma, lastName: Eight, email: u08@example.com}
  - {externalId: U09, firstName: Ugo, lastName: Nine, email: u09@example.com}
  - {externalId: U10, firstName: Ulrika, lastName: Ten, email: u10@example.com}
  - {externalId: U11, firstName: Urban, lastName: Eleven, email: u11@example.com}
  - {externalId: U12, firstName: Ursula, lastName: Twelve, email: u12@example.com}
"#;

const BLOCKED: &str = r#"
settings: {forceSetLanguage: false, maxUsersCreated: 0, maxUsersUpdated: 200,
           maxUsersDeleted: 200, maxGroupsCreated: 200, maxGroupsUpdated: 200,
           maxGroupsDeleted: 200}
groups:
  - {externalId: G2, name: Branch}
users:
  - {externalId: U01, firstName: Ulla, lastName: One, email: u01@example.com, accessInfo: {memberOf: [G2]}}
  - {externalId: U02, firstName: Ulf, lastName: Two, email: u02@example.com}
  - {externalId: U03, firstName: Una, lastName: Three, email: u03@example.com}
  - {externalId: U04, firstName: Uno, lastName: Four, email: u04@example.com}
  - {externalId: U05, firstName: Ursa, lastName: Five, email: u05@example.com}
  - {externalId: U06, firstName: Uwe, lastName: Six, email: u06@example.com}
  - {externalId: U07, firstName: Ute, lastName: Seven, email: u07@example.com}
  - {externalId: U08, firstName: Uma, lastName: Eight, email: u08@example.com}
  - {externalId: U13, firstName: Ulv, lastName: Thirteen, email: u13@example.com}
"#;

/// `n` users, each in one of a few groups, with a phone and a city.
fn many(n: usize, keep: usize, extra: &str) -> (String, String) {
    let mut before = String::from(
        "safety: {maxUserDeletionPercent: 100}\nsettings: {forceSetLanguage: false, \
         maxUsersCreated: 20000, maxUsersUpdated: 20000, maxUsersDeleted: 20000, \
         maxGroupsCreated: 200, maxGroupsUpdated: 200, maxGroupsDeleted: 200}\ngroups:\n  - \
         {externalId: T1, name: Team One}\n  - {externalId: T2, name: Team Two}\nusers:\n",
    );
    let mut after = before.clone();
    for i in 0..n {
        let line = format!(
            "  - {{externalId: P{i:05}, firstName: Person{i}, lastName: Longername{i}, email: \
             person.number{i}@example.com, phone: \"+4670{i:07}\", accessInfo: {{memberOf: \
             [T{}]}}, externalProperties: {{city: City{i}}}}}\n",
            1 + i % 2
        );
        before.push_str(&line);
        if i < keep {
            after.push_str(&line.replace("Longername", "Renamed"));
        }
    }
    after.push_str(extra);
    (before, after)
}

#[test]
fn markdown_of_a_mixed_plan() {
    let (base, plan) = case(MIXED_BEFORE, MIXED);
    let md = markdown::render(&Review::of_plan(&plan, &base), &MarkdownOptions::default());
    snapshot("markdown_mixed", &md);
    // Deletions come before the folded creates and updates, expanded.
    let deletions = md.find("Deletions and deactivations").unwrap();
    assert!(deletions < md.find("<details>").unwrap());
    assert!(md.starts_with(markdown::MARKER));
    // A deactivated user is listed with their groups.
    assert!(
        md.contains("| user | <code>E2</code> | Bertil Birchwood |"),
        "{md}"
    );
    assert!(md.contains("drops its historic results"));
}

#[test]
fn markdown_of_a_blocked_plan() {
    let (base, plan) = case(BLOCKED_BEFORE, BLOCKED);
    assert!(plan.is_blocked());
    let md = markdown::render(&Review::of_plan(&plan, &base), &MarkdownOptions::default());
    snapshot("markdown_blocked", &md);
    let caution = md.find("[!CAUTION]").unwrap();
    assert!(caution < md.find("| | users | groups |").unwrap());
    for code in [
        "limitExceeded",
        "protectedDeletion",
        "userDeletionThreshold",
    ] {
        assert!(md.contains(&format!("<code>{code}</code>")), "{code}");
    }
}

#[test]
fn markdown_without_changes() {
    let (base, plan) = case(MIXED, MIXED);
    let md = markdown::render(&Review::of_plan(&plan, &base), &MarkdownOptions::default());
    snapshot("markdown_no_changes", &md);
}

#[test]
fn markdown_over_the_size_cut_stops_between_rows_and_says_so() {
    let (before, after) = many(60, 10, "");
    let (base, plan) = case(&before, &after);
    let options = MarkdownOptions { max_chars: 6_000 };
    let md = markdown::render(&Review::of_plan(&plan, &base), &options);
    snapshot("markdown_cut", &md);
    assert!(md.chars().count() <= 6_000);
    assert!(md.contains("**This comment was cut**"));
    well_formed(&md);
}

#[test]
fn markdown_at_githubs_limit_never_passes_it() {
    let (before, after) = many(1_500, 300, "");
    let (base, plan) = case(&before, &after);
    let review = Review::of_plan(&plan, &base);
    let full = markdown::render(
        &review,
        &MarkdownOptions {
            max_chars: usize::MAX,
        },
    );
    assert!(
        full.chars().count() > MAX_CHARS,
        "the case must be over the cut"
    );
    let md = markdown::render(&review, &MarkdownOptions::default());
    let n = md.chars().count();
    assert!(n <= MAX_CHARS && n > MAX_CHARS - 5_000, "{n} characters");
    assert!(md.contains("**This comment was cut**"));
    assert!(
        md.contains("of 1,200 deletions and deactivations"),
        "{}",
        tail(&md)
    );
    assert!(md.contains("updates (300)"), "{}", tail(&md));
    well_formed(&md);
    snapshot("markdown_cut_at_limit_tail", &tail(&md));
}

fn tail(md: &str) -> String {
    let lines: Vec<&str> = md.lines().collect();
    lines[lines.len().saturating_sub(6)..].join("\n")
}

/// Balanced `<details>`, every table row whole, no open code tag.
fn well_formed(md: &str) {
    assert_eq!(
        md.matches("<details>").count(),
        md.matches("</details>").count()
    );
    assert_eq!(md.matches("<code>").count(), md.matches("</code>").count());
    for line in md.lines().filter(|l| l.starts_with('|')) {
        assert!(line.ends_with('|'), "a cut row: {line}");
    }
    assert!(md.ends_with("</sub>\n"));
}

#[test]
fn diff_of_a_mixed_plan() {
    let (base, plan) = case(MIXED_BEFORE, MIXED);
    let d = diff::render(&Review::of_plan(&plan, &base), &DiffOptions::default()).unwrap();
    snapshot("diff_mixed", &d);
    // The unforced fields and unchanged users show no change.
    assert!(!d.contains("-  firstName: \"Dagny\""));
    // A saved plan's document alone has no states.
    assert!(diff::render(&Review::of_doc(plan.doc()), &DiffOptions::default()).is_none());
}

#[test]
fn diff_of_a_blocked_plan_and_of_no_changes() {
    let (base, plan) = case(BLOCKED_BEFORE, BLOCKED);
    let d = diff::render(&Review::of_plan(&plan, &base), &DiffOptions::default()).unwrap();
    snapshot("diff_blocked", &d);
    let (base, plan) = case(MIXED, MIXED);
    let d = diff::render(&Review::of_plan(&plan, &base), &DiffOptions::default()).unwrap();
    assert_eq!(d, "");
}

#[test]
fn deletions_report_csv() {
    let (base, plan) = case(MIXED_BEFORE, MIXED);
    let rows = report::deletions(&Review::of_plan(&plan, &base));
    let csv = report::csv(&rows);
    let expected = [
        "kind,externalId,name,email,groups,reason",
        "user,E2,Bertil Birchwood,bertil@example.com,G2,deactivated (active: false): the \
         account stays but cannot log in and gets no questions",
        "user,E3,Cecilia Cedarholm,cecilia@example.com,G3,deleted: the user's account is \
         removed (surveys they already answered are kept)",
        "group,G3,Old Team,,G1,deleted: &frankly drops this group's historic results for good \
         (groupHistoryDropped)",
        "",
    ]
    .join("\r\n");
    assert_eq!(csv, expected);
    // The saved plan's document alone still names the deactivated user.
    let doc_rows = report::deletions(&Review::of_doc(plan.doc()));
    assert_eq!(doc_rows.len(), 3);
    assert_eq!(doc_rows[0].name, "Bertil Birchwood");
    assert_eq!(doc_rows[0].email, "bertil@example.com");
}

#[test]
fn deletions_report_marks_protected_records() {
    let (base, plan) = case(BLOCKED_BEFORE, BLOCKED);
    let rows = report::deletions(&Review::of_plan(&plan, &base));
    let g1 = rows.iter().find(|r| r.external_id == "G1").unwrap();
    assert!(g1.protected && g1.reason.contains("BLOCKED"), "{g1:?}");
    assert_eq!(rows.iter().filter(|r| r.protected).count(), 1);
    assert_eq!(rows.len(), 5, "4 users and 1 group");
}

/// `--redact` in every format: text, JSON, Markdown, diff, CSV, compare.
#[test]
fn redact_masks_personal_data_in_every_format() {
    let (base, plan) = case(MIXED_BEFORE, MIXED);
    let previous = case(MIXED_BEFORE, MIXED_BEFORE).1;
    let review = Review::of_plan(&plan, &base)
        .with_comparison(compare(previous.doc(), plan.doc()), "reviewed.orgplan")
        .redacted();
    let outputs = [
        (
            "text",
            render::text_doc(review.doc(), &TextOptions::default()),
        ),
        ("json", render::json_doc(review.doc())),
        (
            "markdown",
            markdown::render(&review, &MarkdownOptions::default()),
        ),
        (
            "diff",
            diff::render(&review, &DiffOptions::default()).unwrap(),
        ),
        ("csv", report::csv(&report::deletions(&review))),
        (
            "compare",
            review.comparison().unwrap().0.text("reviewed.orgplan"),
        ),
    ];
    for (format, out) in &outputs {
        for value in PERSONAL {
            assert!(!out.contains(value), "{format} shows `{value}`:\n{out}");
        }
        assert!(out.contains("E3"), "{format} lost the externalIds");
        assert!(out.contains("[redacted"), "{format} shows no mask");
    }
    // The saved plan's document alone is masked the same way.
    let doc_only = Review::of_doc(plan.doc()).redacted();
    let md = markdown::render(&doc_only, &MarkdownOptions::default());
    for value in PERSONAL {
        assert!(!md.contains(value), "doc-only markdown shows `{value}`");
    }
    // A changed value is still visibly changed.
    let d = &outputs[3].1;
    assert!(d.contains("-  email: \"[redacted: old]\""), "{d}");
    assert!(d.contains("+  email: \"[redacted: new]\""), "{d}");
    snapshot("markdown_redacted", &outputs[2].1);
    snapshot("diff_redacted", d);
    // The digest is the plan's, not the masked copy's.
    assert_eq!(review.plan_digest(), plan.digest());
}

#[test]
fn compare_names_what_changed_since_the_reviewed_plan() {
    let (_, reviewed) = case(
        BLOCKED_BEFORE,
        BLOCKED_BEFORE
            .replace("protected: true", "protected: false")
            .as_str(),
    );
    // The reviewed plan deletes nothing; now three users go, one is renamed.
    let (_, reviewed2) = case(
        BLOCKED_BEFORE,
        &BLOCKED_BEFORE
            .replace("protected: true", "protected: false")
            .replace("firstName: Uno", "firstName: Uno-Renamed"),
    );
    let now_spec = BLOCKED_BEFORE
        .replace("protected: true", "protected: false")
        .replace("firstName: Uno", "firstName: Uno-Again")
        .lines()
        .filter(|l| !l.contains("U10") && !l.contains("U11") && !l.contains("U12"))
        .collect::<Vec<_>>()
        .join("\n");
    let (_, now) = case(BLOCKED_BEFORE, &now_spec);
    let c = compare(reviewed2.doc(), now.doc());
    assert_eq!(c.headline(), "+3 deletions since the reviewed plan");
    snapshot("compare_text", &c.text("reviewed.orgplan"));
    let (head, items) = c.markdown_parts("reviewed.orgplan");
    snapshot("compare_markdown", &format!("{head}{}", items.concat()));
    let same = compare(reviewed.doc(), reviewed.doc());
    assert!(same.is_identical() && same.records.is_empty());
    assert_eq!(same.headline(), "identical to the reviewed plan");
}
