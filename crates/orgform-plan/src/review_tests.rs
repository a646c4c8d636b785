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
    orgform_testkit::assert_snapshot!("orgform-plan", name, text);
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
    let deletions = md.find("### 🗑️ 2 deletions, 1 deactivation").unwrap();
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
    let (head, items) = crate::markdown::comparison_parts(&c, "reviewed.orgplan");
    snapshot("compare_markdown", &format!("{head}{}", items.concat()));
    let same = compare(reviewed.doc(), reviewed.doc());
    assert!(same.is_identical() && same.records.is_empty());
    assert_eq!(same.headline(), "identical to the reviewed plan");
}

const REORG_BEFORE: &str = r#"
externalGroups: [X1]
groups:
  - {externalId: G1, name: Acme}
  - {externalId: G2, name: Sales, parent: G1}
  - {externalId: G3, name: Marketing, parent: G1}
  - {externalId: G4, name: Office Tokyo, parent: X1}
  - {externalId: G5, name: Support, parent: G1}
  - {externalId: G6, name: Finance, parent: G1}
users:
  - {externalId: E1, firstName: Ann, lastName: Ash, email: ann@example.com,
     accessInfo: {memberOf: [G2, G4]}}
  - {externalId: E2, firstName: Bo, lastName: Birch, email: bo@example.com,
     accessInfo: {memberOf: [G5]}}
"#;

/// Sales moves under Marketing, Team BDR is new under Sales, Office Tokyo
/// goes, Support is renamed; Finance stays out of the picture.
const REORG: &str = r#"
externalGroups: [X1]
groups:
  - {externalId: G1, name: Acme}
  - {externalId: G2, name: Sales, parent: G3}
  - {externalId: G3, name: Marketing, parent: G1}
  - {externalId: G5, name: Customer Care, parent: G1}
  - {externalId: G6, name: Finance, parent: G1}
  - {externalId: G7, name: Team BDR, parent: G2}
users:
  - {externalId: E1, firstName: Ann, lastName: Ash, email: ann@example.com,
     accessInfo: {memberOf: [G2, G7]}}
  - {externalId: E2, firstName: Bo, lastName: Birch, email: bo@example.com,
     active: false, accessInfo: {memberOf: []}}
"#;

#[test]
fn markdown_draws_the_changed_part_of_the_tree() {
    let (base, plan) = case(REORG_BEFORE, REORG);
    let review = Review::of_plan(&plan, &base)
        .with_endpoint("https://bot:hunter2@org.api.example.com/v1/organization?api_key=k3y");
    let md = markdown::render(&review, &MarkdownOptions::default());
    snapshot("markdown_diagram_reorg", &md);
    let diagram = mermaid_block(&md);
    // The changed groups, their ancestors and the external parent; not Finance.
    for label in [
        "Acme",
        "+ Team BDR",
        "- Office Tokyo",
        "~ Sales",
        "~ Customer Care",
        "was#58; Support",
        "X1",
    ] {
        assert!(diagram.contains(label), "{label} missing:\n{diagram}");
    }
    assert!(!diagram.contains("Finance"), "{diagram}");
    assert_eq!(diagram.matches("-. old parent .->").count(), 1);
    // The diagram comes before the deletions; the endpoint has no secret.
    assert!(md.find("```mermaid").unwrap() < md.find("### 🗑️").unwrap());
    assert!(
        md.contains("Target: <code>https&#58;//org.api.example.com/v1/organization</code>"),
        "{md}"
    );
    for secret in ["hunter2", "bot", "k3y", "api_key"] {
        assert!(!md.contains(secret), "`{secret}` in the comment");
    }
    // Title and deletions section count the same rows; the deleted group
    // shows its parent; the deactivated user the groups they had.
    assert!(
        md.contains("## orgform plan: 1 to create, 3 to update, 1 deletion, 1 deactivation"),
        "{md}"
    );
    assert!(md.contains("### 🗑️ 1 deletion, 1 deactivation"), "{md}");
    assert!(
        md.contains("| group | <code>G4</code> | Office Tokyo |  |  | <code>X1</code> |"),
        "{md}"
    );
    assert!(
        md.contains(
            "| user | <code>E2</code> | Bo Birch | bo&#64;example.com | <code>G5</code> |  |"
        ),
        "{md}"
    );
    // A saved plan's document alone still draws the changed groups.
    let doc_only = markdown::render(&Review::of_doc(plan.doc()), &MarkdownOptions::default());
    assert!(mermaid_block(&doc_only).contains("+ Team BDR"));
    assert!(doc_only.contains("Drawn from the saved plan alone"));
}

#[test]
fn markdown_of_a_large_reorg_says_so_instead_of_drawing() {
    let mut before = String::from("groups:\n  - {externalId: R, name: Root}\n");
    let mut after = before.clone();
    for i in 0..70 {
        before.push_str(&format!(
            "  - {{externalId: D{i:02}, name: Dept {i}, parent: R}}\n"
        ));
        after.push_str(&format!(
            "  - {{externalId: D{i:02}, name: Department {i}, parent: R}}\n"
        ));
    }
    let (base, plan) = case(&before, &after);
    let md = markdown::render(&Review::of_plan(&plan, &base), &MarkdownOptions::default());
    assert!(!md.contains("```mermaid"));
    assert!(
        md.contains("has 71 groups with their ancestors, more than the 60"),
        "{md}"
    );
    let section = &md[md.find("### 🌳").unwrap()..md.find("### Deletions").unwrap()];
    snapshot("markdown_diagram_large", section);
}

#[test]
fn hostile_group_names_stay_inside_their_labels() {
    let hostile = [
        r#""]:::x --> evil["pwn"#,
        "```\\n</details><img src=x onerror=alert(1)>",
        "#quot; #35; ﬂ°lt;¶ß %% end",
        "@team #12 [link](https://evil.example.com) | cell |",
        "\u{202e}reversed\u{1b}[31m",
        "A very long group name that goes on and on and on for far more than forty characters",
    ];
    let mut groups = String::from("groups:\n  - {externalId: R, name: Root}\n");
    for (i, name) in hostile.iter().enumerate() {
        let quoted = serde_json::to_string(name).unwrap();
        groups.push_str(&format!(
            "  - {{externalId: H{i}, name: {quoted}, parent: R}}\n"
        ));
    }
    let before = "groups:\n  - {externalId: R, name: Root}\n";
    let (base, plan) = case(before, &groups);
    let md = markdown::render(&Review::of_plan(&plan, &base), &MarkdownOptions::default());
    snapshot("markdown_diagram_hostile", &md);
    let diagram = mermaid_block(&md);
    let lines: Vec<&str> = diagram.lines().collect();
    // One line per node, edge and class; every label closes on its own line.
    assert_eq!(lines.len(), 1 + 7 + 6 + 2, "{diagram}");
    for line in lines.iter().filter(|l| l.contains("[\"")) {
        assert_eq!(line.matches('"').count(), 2, "{line}");
        assert!(
            line.ends_with("\"]:::created") || line.ends_with("\"]:::context"),
            "{line}"
        );
    }
    for bad in [
        "<img",
        "</details>",
        "```\n<",
        "\u{202e}",
        "\u{1b}",
        "-->  evil",
    ] {
        assert!(!diagram.contains(bad), "`{bad}` in the diagram");
    }
    // The comment outside the diagram is intact: one fence pair, details balanced.
    assert_eq!(md.matches("```").count(), 2);
    well_formed(&md);
    assert!(diagram.contains("+ A very long group name that goes on and…"));
}

/// The body of the comment's only Mermaid block.
fn mermaid_block(md: &str) -> String {
    let start = md.find("```mermaid\n").expect("a mermaid block") + "```mermaid\n".len();
    let len = md[start..].find("```").expect("the block closes");
    md[start..start + len].to_owned()
}

#[test]
fn the_diagram_is_left_out_before_any_deletion_row() {
    let (base, plan) = case(REORG_BEFORE, REORG);
    let review = Review::of_plan(&plan, &base);
    let full = markdown::render(
        &review,
        &MarkdownOptions {
            max_chars: usize::MAX,
        },
    );
    let without = full.chars().count() - 500;
    let md = markdown::render(&review, &MarkdownOptions { max_chars: without });
    assert!(!md.contains("```mermaid"), "{md}");
    assert!(
        md.contains("Not shown: the diagram of the group tree"),
        "{md}"
    );
    // Every deletion row is still there.
    assert!(md.contains("| group | <code>G4</code>") && md.contains("| user | <code>E2</code>"));
    assert!(md.chars().count() <= without);
    well_formed(&md);
}

#[test]
fn validation_comments_carry_the_marker_and_every_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "version: 1\nusers:\n  - {externalId: E1, firstName: A, lastName: B, email: a@example.com, fristName: x}\n  - {externalId: E1, firstName: \"<b>|\", lastName: B, email: a@example.com}\n",
    )
    .unwrap();
    let diags = match orgform_spec::load(&path, &orgform_spec::LoadOptions::default()) {
        Ok(_) => panic!("the spec is invalid"),
        Err(d) => d,
    };
    let md = markdown::invalid_spec("specs/bad.yaml", &diags, &MarkdownOptions::default());
    assert!(md.starts_with(markdown::MARKER));
    assert!(md.contains("the spec is invalid"), "{md}");
    assert_eq!(
        md.lines()
            .filter(|l| l.starts_with("| ❌") || l.starts_with("| ⚠️"))
            .count(),
        diags.len()
    );
    assert!(md.contains("bad.yaml&#58;3&#58;"), "{md}");
    assert!(!md.contains("a@example.com") && !md.contains("<b>"), "{md}");
    let snap = md.replace(&dir.path().display().to_string(), "<tmp>");
    snapshot("markdown_validate_invalid", &snap);
    let cut = markdown::invalid_spec(
        "specs/bad.yaml",
        &diags,
        &MarkdownOptions { max_chars: 1_500 },
    );
    assert!(
        cut.contains("This comment was cut") && cut.chars().count() <= 1_500,
        "{cut}"
    );
    let ok = markdown::valid_spec(
        "specs/ok.yaml",
        &orgform_spec::Diagnostics::new(),
        &MarkdownOptions::default(),
    );
    assert!(
        ok.starts_with(markdown::MARKER) && ok.contains("the spec is valid"),
        "{ok}"
    );
}

#[test]
fn graph_renders_the_whole_tree_as_mermaid_and_dot() {
    let (base, plan) = case(REORG_BEFORE, REORG);
    let whole = crate::graph::GroupGraph::whole(&plan.effective_after().groups);
    snapshot("graph_whole_mermaid", &whole.mermaid());
    let marked =
        crate::graph::GroupGraph::whole_with_changes(&base.groups, &plan.effective_after().groups);
    let dot = marked.dot();
    snapshot("graph_changes_dot", &dot);
    assert!(dot.starts_with("digraph {"), "{dot}");
    assert!(
        dot.contains("style = dashed label = \"old parent\""),
        "{dot}"
    );
    assert!(dot.contains("label = \"- Office Tokyo\""), "{dot}");
    assert!(whole.mermaid().contains("Finance"));
}
