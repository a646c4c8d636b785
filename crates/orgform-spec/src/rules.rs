//! The semantic rules of DESIGN section 1, over a decoded org.
//!
//! The same code runs for a loaded spec (with positions: each diagnostic
//! points at its field) and for [`crate::validate_org`] (without). Every
//! check is linear in the size of the org: uniqueness and references use
//! hash maps, the hierarchy check visits each group once.

use std::collections::HashMap;

use orgform_model::{
    AccessList, DesiredGroup, DesiredOrg, DesiredUser, Kind, LimitName, MAX_APPLY_LIMIT, MAX_LIMIT,
    ParentRef,
};

use crate::diag::Diagnostic;
use crate::source::{ELEMENT, Files, Pos, Positions, field_id};
use crate::suggest::did_you_mean;
use crate::tables::{LANGUAGES, TIME_ZONES};
use crate::yaml::unquote;

const PHONE_API: &str = "validateThatPhoneNumberIsCorrect";
const PHONE_DUP_API: &str = "validateNoPhoneDuplicates";
const PROPS_API: &str = "validateExternalProperties";

/// Where the org came from, when it came from YAML.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub files: &'a Files,
    pub pos: &'a Positions,
}

struct Checker<'a> {
    ctx: Option<Ctx<'a>>,
    out: Vec<Diagnostic>,
    /// "Did you mean" lookups left: each may compare against thousands of
    /// candidates (group ids, time zones), and a spec may hold a million
    /// mistakes; past the limit the generic hint is given (as clang's
    /// `-fspell-checking-limit` does).
    suggestions_left: u32,
}

/// How many "did you mean" lookups one validation makes at most.
const SUGGESTION_LIMIT: u32 = 100;

/// How many allowed values a hint lists before "and N more".
const LISTED_VALUES: usize = 20;

fn key(kind: Kind, path: &str) -> u16 {
    field_id(kind, path).unwrap_or(u16::MAX)
}

impl Checker<'_> {
    /// The position of a field, or of its record when the field is absent.
    fn at(&self, kind: Kind, i: usize, path: &str) -> Option<Pos> {
        let ctx = self.ctx?;
        let k = if let Some(prop) = path.strip_prefix("externalProperties.") {
            *ctx.pos.prop_ids.get(prop)?
        } else {
            key(kind, path)
        };
        ctx.pos
            .field(kind, i, k)
            .or_else(|| ctx.pos.record(kind, i).map(|r| r.pos))
    }

    fn record(&self, kind: Kind, i: usize) -> Option<Pos> {
        self.ctx?.pos.record(kind, i).map(|r| r.pos)
    }

    /// Whether the decoder already reported a problem with this field.
    fn bad(&self, kind: Kind, i: usize, path: &str) -> bool {
        let Some(ctx) = self.ctx else { return false };
        let k = key(kind, path);
        k < 32
            && ctx
                .pos
                .record(kind, i)
                .is_some_and(|r| r.bad & (1 << k) != 0)
    }

    /// The position of each of `values` among the elements of a list field
    /// (the first element written with that value), found in one pass over
    /// the record's fields: a list may have a million unknown entries.
    /// Values not found (or without positions) are left out.
    fn elements(&self, kind: Kind, i: usize, path: &str, values: &[&str]) -> HashMap<String, Pos> {
        let mut out = HashMap::with_capacity(values.len());
        let Some(ctx) = self.ctx else { return out };
        let Some(rec) = ctx.pos.record(kind, i) else {
            return out;
        };
        let wanted: std::collections::HashSet<&str> = values.iter().copied().collect();
        let k = ELEMENT + key(kind, path);
        for f in ctx.pos.fields(rec).iter().filter(|f| f.key == k) {
            let p = f.pos(rec.pos.file);
            if let Some(t) = ctx.files.token(p) {
                let v = unquote(&t);
                if wanted.contains(v.as_str()) && !out.contains_key(v.as_str()) {
                    out.insert(v, p);
                }
            }
        }
        out
    }

    /// The candidate closest to `word`, while lookups are left.
    fn suggest<'c>(&mut self, word: &str, candidates: &[&'c str]) -> Option<&'c str> {
        self.suggestions_left = self.suggestions_left.checked_sub(1)?;
        did_you_mean(word, candidates)
    }

    fn push(&mut self, d: Diagnostic, pos: Option<Pos>) {
        let d = match (self.ctx, pos) {
            (Some(ctx), Some(p)) => ctx.files.at(d, p),
            _ => d,
        };
        self.out.push(d);
    }

    fn push_with(&mut self, d: Diagnostic, pos: Option<Pos>, related: &[(Option<Pos>, String)]) {
        let mut d = match (self.ctx, pos) {
            (Some(ctx), Some(p)) => ctx.files.at(d, p),
            _ => d,
        };
        if let Some(ctx) = self.ctx {
            for (p, label) in related {
                if let Some(p) = p {
                    d = ctx.files.related(d, *p, label.clone());
                }
            }
        }
        self.out.push(d);
    }

    fn top(&self, path: &str) -> Option<Pos> {
        self.ctx?.pos.top(path)
    }
}

/// Runs every rule; diagnostics in the order found (the caller sorts).
pub(crate) fn check(org: &DesiredOrg, ctx: Option<Ctx<'_>>) -> Vec<Diagnostic> {
    let mut c = Checker {
        ctx,
        out: Vec::new(),
        suggestions_left: SUGGESTION_LIMIT,
    };
    let groups: &[DesiredGroup] = org.groups.as_deref().unwrap_or(&[]);
    let users: &[DesiredUser] = org.users.as_deref().unwrap_or(&[]);
    settings(&mut c, org);
    let group_index = check_groups(&mut c, org, groups);
    check_users(&mut c, org, users, &group_index);
    c.out
}

fn settings(c: &mut Checker<'_>, org: &DesiredOrg) {
    for name in LimitName::ALL {
        let v = org.settings.limits.get(name);
        if v > MAX_APPLY_LIMIT {
            let d = Diagnostic::error(
                "limitOutOfRange",
                format!("`{name}` is `{v}`, outside 0..={MAX_APPLY_LIMIT}"),
            )
            .with_hint(format!(
                "a limit bounds one apply, at most {MAX_APPLY_LIMIT}; above {MAX_LIMIT} \
                 a kind the apply goes in waves of at most {MAX_LIMIT} a request"
            ));
            let pos = c.top(&format!("settings.{name}"));
            c.push(d, pos);
        }
    }
    if let Some(v) = org.target.max_per_request
        && !(1..=MAX_LIMIT).contains(&v)
    {
        let d = Diagnostic::error(
            "limitOutOfRange",
            format!("`maxPerRequest` is `{v}`, outside 1..={MAX_LIMIT}"),
        )
        .with_hint(format!(
            "the API takes at most {MAX_LIMIT} changes of a kind per request; \
             use a whole number from 1 to {MAX_LIMIT}, or leave it out for {MAX_LIMIT}"
        ));
        let pos = c.top("target.maxPerRequest");
        c.push(d, pos);
    }
    let s = &org.safety;
    for (name, v) in [
        ("maxUserDeletionPercent", s.max_user_deletion_percent),
        ("maxGroupDeletionPercent", s.max_group_deletion_percent),
        ("maxMembershipLossPercent", s.max_membership_loss_percent),
    ] {
        if let Some(v) = v.filter(|v| *v > 100) {
            let d = Diagnostic::error(
                "percentOutOfRange",
                format!("`safety.{name}` is `{v}`, outside 0..=100"),
            )
            .with_hint("a percentage is a whole number from 0 to 100");
            let pos = c.top(&format!("safety.{name}"));
            c.push(d, pos);
        }
    }
    if let Some(endpoint) = &org.target.endpoint
        && let Some(problem) = endpoint_problem(endpoint)
    {
        let d = Diagnostic::error(
            "invalidEndpoint",
            format!("the endpoint `{endpoint}` {problem}"),
        )
        .with_hint("write e.g. `https://org.api.andfrankly.com/v1/organization`");
        let pos = c.top("target.endpoint");
        c.push(d, pos);
    }
    if let Some(header) = &org.target.token_header
        && !is_token(header)
    {
        let d = Diagnostic::error(
            "invalidTokenHeader",
            format!("`{header}` is not an HTTP header name"),
        )
        .with_hint(
            "a header name is one or more letters, digits and `!#$%&'*+-.^_`|~` (RFC 7230 \
             token characters), no spaces; leave `tokenHeader` out for the API's own header",
        );
        let pos = c.top("target.tokenHeader");
        c.push(d, pos);
    }
    if let Some(var) = &org.target.token_env {
        let ok = !var.is_empty()
            && !var.starts_with(|ch: char| ch.is_ascii_digit())
            && var
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
        if !ok {
            let d = Diagnostic::error(
                "invalidTokenEnv",
                format!("`{var}` is not an environment variable name"),
            )
            .with_hint(
                "`tokenEnv` names the variable that holds the token (e.g. FRANKLY_API_TOKEN), \
                 never the token itself",
            );
            let pos = c.top("target.tokenEnv");
            c.push(d, pos);
        }
    }
}

/// `missingField` for each required field left empty (unless the decoder
/// already reported it), `blankField` for one that is only whitespace
/// (the API would store a name nobody can see, or an id that looks empty).
fn required_fields(
    c: &mut Checker<'_>,
    kind: Kind,
    i: usize,
    who: &str,
    fields: &[(&str, &String)],
) {
    let record = match kind {
        Kind::User => "user",
        Kind::Group => "group",
    };
    for (path, value) in fields {
        let d = if value.is_empty() {
            if c.bad(kind, i, path) {
                continue;
            }
            Diagnostic::error(
                "missingField",
                format!("{who} has no `{path}` (it is required)"),
            )
            .with_hint(format!("add `{path}: ...` to this {record}"))
        } else if value.trim().is_empty() {
            Diagnostic::error(
                "blankField",
                format!("the `{path}` of {who} is only whitespace"),
            )
            .with_hint(format!("give `{path}` a visible value"))
        } else {
            continue;
        };
        let pos = c.at(kind, i, path);
        c.push(d, pos);
    }
}

/// Checks the groups; returns externalId → index of its first occurrence.
fn check_groups<'o>(
    c: &mut Checker<'_>,
    org: &'o DesiredOrg,
    groups: &'o [DesiredGroup],
) -> HashMap<&'o str, usize> {
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(groups.len());
    for (i, g) in groups.iter().enumerate() {
        let who = group_label(g);
        let fields = [("externalId", &g.external_id), ("name", &g.name)];
        required_fields(c, Kind::Group, i, &who, &fields);
        if g.external_id.is_empty() {
            continue;
        }
        unique_external_id(c, Kind::Group, &mut index, i, &g.external_id);
        if org.external_groups.contains(&g.external_id) {
            let d = Diagnostic::error(
                "externalGroupManaged",
                format!(
                    "the group `{}` is both managed here and listed in `externalGroups`",
                    g.external_id
                ),
            )
            .with_hint(
                "`externalGroups` is for groups that exist in &frankly but are not managed by \
                 this spec: remove it from one of the two",
            );
            let pos = c.at(Kind::Group, i, "externalId");
            let other = c.top("externalGroups");
            c.push_with(d, pos, &[(other, "listed in externalGroups".to_owned())]);
        }
    }
    // References and self-parents.
    let mut parent: Vec<Option<usize>> = vec![None; groups.len()];
    let mut sorted: Option<Vec<&str>> = None;
    for (i, g) in groups.iter().enumerate() {
        let ParentRef::Group(p) = &g.parent else {
            continue;
        };
        if *p == g.external_id {
            let d = Diagnostic::error("selfParent", format!("the group `{p}` is its own parent"))
                .with_hint("set `parent` to another group, or `parent: null` to make it a root");
            let pos = c.at(Kind::Group, i, "parent");
            c.push(d, pos);
            continue;
        }
        match index.get(p.as_str()) {
            Some(&pi) => {
                if index.get(g.external_id.as_str()) == Some(&i) {
                    parent[i] = Some(pi);
                }
            }
            None if org.external_groups.contains(p) => {}
            None => {
                let ids = sorted.get_or_insert_with(|| sorted_ids(&index));
                let hint = c.suggest(p, ids);
                let what = format!("the parent of group `{}`", g.external_id);
                let d = unknown_group(p, &what, hint);
                let pos = c.at(Kind::Group, i, "parent");
                c.push(d, pos);
            }
        }
    }
    // Cycles: each group has at most one parent, so walking up from every
    // group, and never walking through a group twice, is linear.
    const NEW: u8 = 0;
    const ON_PATH: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![NEW; groups.len()];
    let mut path: Vec<usize> = Vec::new();
    for start in 0..groups.len() {
        let mut at = Some(start);
        path.clear();
        while let Some(n) = at {
            match state[n] {
                NEW => {
                    state[n] = ON_PATH;
                    path.push(n);
                    at = parent[n];
                }
                ON_PATH => {
                    let from = path.iter().position(|&x| x == n).unwrap_or(0);
                    let mut cycle: Vec<usize> = path[from..].to_vec();
                    // Start at the smallest externalId, for stable output.
                    let min = (0..cycle.len())
                        .min_by(|&a, &b| {
                            groups[cycle[a]]
                                .external_id
                                .cmp(&groups[cycle[b]].external_id)
                        })
                        .unwrap_or(0);
                    cycle.rotate_left(min);
                    report_cycle(c, groups, &cycle);
                    break;
                }
                _ => break,
            }
        }
        for &n in &path {
            state[n] = DONE;
        }
    }
    index
}

fn group_label(g: &DesiredGroup) -> String {
    match (g.external_id.is_empty(), g.name.is_empty()) {
        (false, _) => format!("group `{}`", g.external_id),
        (true, false) => format!("the group named `{}`", g.name),
        (true, true) => "a group".to_owned(),
    }
}

fn report_cycle(c: &mut Checker<'_>, groups: &[DesiredGroup], cycle: &[usize]) {
    let mut chain: Vec<&str> = cycle
        .iter()
        .map(|&i| groups[i].external_id.as_str())
        .collect();
    if let Some(first) = chain.first().copied() {
        chain.push(first);
    }
    let d = Diagnostic::error(
        "parentCycle",
        format!("the groups' parents form a cycle: {}", chain.join(" -> ")),
    )
    .with_hint(
        "the hierarchy must be a forest: set one of these parents to another group, or to \
         `null` to make that group a root",
    );
    let pos = cycle.first().and_then(|&i| c.at(Kind::Group, i, "parent"));
    let related: Vec<(Option<Pos>, String)> = cycle
        .iter()
        .skip(1)
        .map(|&i| {
            let g = &groups[i];
            let p = g.parent.group().unwrap_or_default();
            (
                c.at(Kind::Group, i, "parent"),
                format!("the parent of `{}` is `{p}`", g.external_id),
            )
        })
        .collect();
    c.push_with(d, pos, &related);
}

/// The externalIds of `index`, sorted: the candidates of "did you mean".
fn sorted_ids<'a>(index: &HashMap<&'a str, usize>) -> Vec<&'a str> {
    let mut ids: Vec<&str> = index.keys().copied().collect();
    ids.sort_unstable();
    ids
}

/// The values of an attribute, and how a hint lists them: the first
/// [`LISTED_VALUES`], then how many more there are.
fn listing(values: &std::collections::BTreeSet<String>) -> (Vec<&str>, String) {
    let all: Vec<&str> = values.iter().map(String::as_str).collect();
    let mut text = all[..all.len().min(LISTED_VALUES)].join(", ");
    if all.len() > LISTED_VALUES {
        text.push_str(&format!(" and {} more", all.len() - LISTED_VALUES));
    }
    (all, text)
}

fn unknown_group(id: &str, what: &str, suggestion: Option<&str>) -> Diagnostic {
    let d = Diagnostic::error(
        "unknownGroup",
        format!(
            "{what} names the group `{id}`, which is neither in `groups` nor in `externalGroups`"
        ),
    );
    // A near miss among the spec's groups is worth naming (the callers look
    // it up among the ids, sorted once per load: a spec may have a million
    // unknown references).
    match suggestion {
        Some(s) => d.with_hint(format!(
            "did you mean `{s}`? Otherwise add the group to `groups`, or to `externalGroups` if \
             it exists in &frankly but is not managed here"
        )),
        None => d.with_hint(
            "add the group to `groups`, or to `externalGroups` if it exists in &frankly but is \
             not managed here",
        ),
    }
}

/// What the user rules remember from one user to the next: the first user
/// of each externalId, email (lowercased) and phone; and what hints need,
/// built once per spec (a spec may hold a million mistakes): the sorted
/// group ids, the declared attribute names, the required ones, and per
/// attribute its allowed values with their listing.
struct UserIndex<'o> {
    ids: HashMap<&'o str, usize>,
    emails: HashMap<String, usize>,
    phones: HashMap<&'o str, usize>,
    group_ids: Option<Vec<&'o str>>,
    attr_names: Vec<&'o str>,
    required: Vec<&'o str>,
    allowed_values: HashMap<&'o str, (Vec<&'o str>, String)>,
}

impl<'o> UserIndex<'o> {
    fn new(org: &'o DesiredOrg, users: usize) -> Self {
        let attr_names: Vec<&str> = org
            .attributes
            .as_ref()
            .map(|a| a.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let required: Vec<&str> = org
            .attributes
            .as_ref()
            .map(|a| {
                a.iter()
                    .filter(|(_, d)| d.required)
                    .map(|(k, _)| k.as_str())
                    .collect()
            })
            .unwrap_or_default();
        UserIndex {
            ids: HashMap::with_capacity(users),
            emails: HashMap::with_capacity(users),
            phones: HashMap::new(),
            group_ids: None,
            attr_names,
            required,
            allowed_values: HashMap::new(),
        }
    }
}

/// One user under check: its index in `users`, its record, and how the
/// diagnostics name it.
struct UserAt<'o> {
    i: usize,
    u: &'o DesiredUser,
    who: String,
}

/// The user rules of DESIGN section 1, user by user; each user's
/// diagnostics in the order of these calls.
fn check_users<'o>(
    c: &mut Checker<'_>,
    org: &'o DesiredOrg,
    users: &'o [DesiredUser],
    groups: &HashMap<&'o str, usize>,
) {
    let mut seen = UserIndex::new(org, users.len());
    for (i, u) in users.iter().enumerate() {
        let at = UserAt {
            i,
            u,
            who: user_label(u),
        };
        let fields = [
            ("externalId", &u.external_id),
            ("firstName", &u.first_name),
            ("lastName", &u.last_name),
            ("email", &u.email),
        ];
        required_fields(c, Kind::User, i, &at.who, &fields);
        if !u.external_id.is_empty() {
            unique_external_id(c, Kind::User, &mut seen.ids, i, &u.external_id);
        }
        user_email(c, &mut seen.emails, users, &at);
        user_phone(c, &mut seen.phones, users, &at);
        user_timezone(c, &at);
        user_language(c, &at);
        user_group_refs(c, org, groups, &mut seen.group_ids, &at);
        user_attributes(c, org, &mut seen, &at);
        user_required_attributes(c, &seen.required, &at);
    }
}

fn user_label(u: &DesiredUser) -> String {
    if u.external_id.is_empty() {
        "a user".to_owned()
    } else {
        format!("user `{}`", u.external_id)
    }
}

/// `duplicateExternalId` (DESIGN section 1: unique user externalIds and
/// group externalIds): the second record with `id` of its kind points at
/// the first; the first of each id is recorded in `index`.
fn unique_external_id<'o>(
    c: &mut Checker<'_>,
    kind: Kind,
    index: &mut HashMap<&'o str, usize>,
    i: usize,
    id: &'o str,
) {
    let Some(&first) = index.get(id) else {
        index.insert(id, i);
        return;
    };
    let (records, hint) = match kind {
        Kind::User => (
            "users",
            "give each user their own externalId; it is the user's identity",
        ),
        Kind::Group => (
            "groups",
            "give each group its own externalId; it is the group's identity",
        ),
    };
    let d = Diagnostic::error(
        "duplicateExternalId",
        format!("two {records} have the externalId `{id}`"),
    )
    .with_hint(hint);
    push_duplicate(c, d, kind, i, first, "externalId");
}

/// Pushes `d` at the field `path` of record `i`, with the same field of
/// record `first` as "first used here" (a duplicate names both places).
fn push_duplicate(
    c: &mut Checker<'_>,
    d: Diagnostic,
    kind: Kind,
    i: usize,
    first: usize,
    path: &str,
) {
    let pos = c.at(kind, i, path);
    let first_pos = c.at(kind, first, path);
    c.push_with(d, pos, &[(first_pos, "first used here".to_owned())]);
}

/// `invalidEmail` (one plausible address) and `duplicateEmail` (DESIGN
/// section 1: emails unique, compared case-insensitively). An empty email
/// is `missingField`'s.
fn user_email(
    c: &mut Checker<'_>,
    emails: &mut HashMap<String, usize>,
    users: &[DesiredUser],
    at: &UserAt<'_>,
) {
    let (i, u, who) = (at.i, at.u, &at.who);
    if u.email.is_empty() {
        return;
    }
    if let Some(problem) = email_problem(&u.email) {
        let d = Diagnostic::error(
            "invalidEmail",
            format!("the email `{}` of {who} is not valid: {problem}", u.email),
        )
        .with_hint("write one address like `ada.lovelace@example.com`");
        let pos = c.at(Kind::User, i, "email");
        c.push(d, pos);
    }
    let lower = u.email.to_lowercase();
    if let Some(&first) = emails.get(&lower) {
        let d = Diagnostic::error(
            "duplicateEmail",
            format!(
                "{who} has the email `{}`, already used by user `{}` (emails are \
                 compared case-insensitively)",
                u.email, users[first].external_id
            ),
        )
        .with_hint("give each user their own email");
        push_duplicate(c, d, Kind::User, i, first, "email");
    } else {
        emails.insert(lower, i);
    }
}

/// `invalidPhone` (DESIGN section 1: E.164, `validateThatPhoneNumberIsCorrect`)
/// and, for a well-formed one, `duplicatePhone` (`validateNoPhoneDuplicates`).
/// `""` means no phone.
fn user_phone<'o>(
    c: &mut Checker<'_>,
    phones: &mut HashMap<&'o str, usize>,
    users: &[DesiredUser],
    at: &UserAt<'o>,
) {
    let (i, who) = (at.i, &at.who);
    let Some(phone) = at.u.phone.as_deref().filter(|p| !p.is_empty()) else {
        return;
    };
    if let Some((problem, fix)) = phone_problem(phone) {
        let d = Diagnostic::error(
            "invalidPhone",
            format!("the phone `{phone}` of {who} is not in E.164 form: {problem}"),
        )
        .with_api_error(PHONE_API);
        let d = match fix {
            Some(f) => d.with_hint(format!(
                "did you mean `{f}`? E.164 is `+`, the country code, then the \
                 number: 8 to 15 digits, no spaces; `\"\"` means no phone"
            )),
            None => d.with_hint(
                "write `+`, the country code, then the number: 8 to 15 digits, no \
                 spaces or dashes (e.g. `+46701234567`); `\"\"` means no phone",
            ),
        };
        let pos = c.at(Kind::User, i, "phone");
        c.push(d, pos);
    } else if let Some(&first) = phones.get(phone) {
        let d = Diagnostic::error(
            "duplicatePhone",
            format!(
                "{who} has the phone `{phone}`, already used by user `{}`",
                users[first].external_id
            ),
        )
        .with_hint("each user needs their own phone number, or none (`\"\"`)")
        .with_api_error(PHONE_DUP_API);
        push_duplicate(c, d, Kind::User, i, first, "phone");
    } else {
        phones.insert(phone, i);
    }
}

/// `invalidTimezone` (DESIGN section 1: a valid IANA name), with the
/// nearest name as a hint.
fn user_timezone(c: &mut Checker<'_>, at: &UserAt<'_>) {
    let Some(tz) = &at.u.timezone else { return };
    if TIME_ZONES.binary_search(&tz.as_str()).is_ok() {
        return;
    }
    let d = Diagnostic::error(
        "invalidTimezone",
        format!("`{tz}` ({}) is not an IANA time zone", at.who),
    );
    let d = match c.suggest(tz, TIME_ZONES) {
        Some(s) => d.with_hint(format!("did you mean `{s}`?")),
        None => d.with_hint(
            "use a name from the tz database, e.g. `Europe/Stockholm`, or remove the \
                 key to use the account's default",
        ),
    };
    let pos = c.at(Kind::User, at.i, "timezone");
    c.push(d, pos);
}

/// `invalidLanguage` (DESIGN section 1: a valid ISO 639-1 code); a tag such
/// as `en-GB` gets its two-letter code as the hint.
fn user_language(c: &mut Checker<'_>, at: &UserAt<'_>) {
    let Some(lang) = &at.u.language else { return };
    if LANGUAGES.binary_search(&lang.as_str()).is_ok() {
        return;
    }
    let d = Diagnostic::error(
        "invalidLanguage",
        format!("`{lang}` ({}) is not an ISO 639-1 language code", at.who),
    );
    let guess = lang
        .split(['-', '_'])
        .next()
        .map(str::to_ascii_lowercase)
        .filter(|g| LANGUAGES.binary_search(&g.as_str()).is_ok());
    let d = match guess {
        Some(g) => d.with_hint(format!(
            "did you mean `{g}`? The API takes the two-letter code only"
        )),
        None => d.with_hint(
            "use a two-letter lowercase code such as `sv`, `en` or `de`, or remove the \
                 key to use the account's default",
        ),
    };
    let pos = c.at(Kind::User, at.i, "language");
    c.push(d, pos);
}

/// `unknownGroup` for each accessInfo list entry that names neither a group
/// of the spec nor one of `externalGroups` (DESIGN section 1: every group
/// reference), at the entry itself when its position is known.
fn user_group_refs<'o>(
    c: &mut Checker<'_>,
    org: &DesiredOrg,
    groups: &HashMap<&'o str, usize>,
    group_ids: &mut Option<Vec<&'o str>>,
    at: &UserAt<'_>,
) {
    let (i, u, who) = (at.i, at.u, &at.who);
    for list in AccessList::ALL {
        let Some(set) = u.access_info.list(list) else {
            continue;
        };
        let unknown: Vec<&str> = set
            .iter()
            .filter(|g| !groups.contains_key(g.as_str()) && !org.external_groups.contains(*g))
            .map(String::as_str)
            .collect();
        if unknown.is_empty() {
            continue;
        }
        let ids = group_ids.get_or_insert_with(|| sorted_ids(groups));
        let places = c.elements(Kind::User, i, list.path(), &unknown);
        for g in unknown {
            let hint = c.suggest(g, ids);
            let d = unknown_group(g, &format!("`{}` of {who}", list.path()), hint);
            let pos = places
                .get(g)
                .copied()
                .or_else(|| c.at(Kind::User, i, list.path()));
            c.push(d, pos);
        }
    }
}

/// The attributes a user sets (DESIGN section 1, `validateExternalProperties`):
/// `emptyAttributeValue` always; when `attributes` is given,
/// `undeclaredAttribute` and `attributeValueNotAllowed`.
fn user_attributes<'o>(
    c: &mut Checker<'_>,
    org: &'o DesiredOrg,
    seen: &mut UserIndex<'o>,
    at: &UserAt<'o>,
) {
    for (k, v) in &at.u.external_properties {
        if v.is_empty() {
            empty_attribute(c, at, k);
            continue;
        }
        let Some(defs) = &org.attributes else {
            continue;
        };
        match defs.get(k) {
            None => undeclared_attribute(c, &seen.attr_names, at, k),
            Some(def) => {
                if let Some(values) = &def.values
                    && !values.contains(v)
                {
                    let allowed = seen
                        .allowed_values
                        .entry(k.as_str())
                        .or_insert_with(|| listing(values));
                    value_not_allowed(c, allowed, at, k, v);
                }
            }
        }
    }
}

/// `emptyAttributeValue`: the API cannot clear an attribute, so `""` is
/// refused rather than sent.
fn empty_attribute(c: &mut Checker<'_>, at: &UserAt<'_>, k: &str) {
    let d = Diagnostic::error(
        "emptyAttributeValue",
        format!("the attribute `{k}` of {} is empty", at.who),
    )
    .with_hint(format!(
        "give `{k}` a value, or remove the key to leave it as is on the server (an \
         attribute cannot be cleared through the API)"
    ))
    .with_api_error(PROPS_API);
    let pos = c.at(Kind::User, at.i, &format!("externalProperties.{k}"));
    c.push(d, pos);
}

/// `undeclaredAttribute`: a key `attributes` does not declare, at the key.
fn undeclared_attribute(c: &mut Checker<'_>, attr_names: &[&str], at: &UserAt<'_>, k: &str) {
    let i = at.i;
    let d = Diagnostic::error(
        "undeclaredAttribute",
        format!(
            "{} sets the attribute `{k}`, which `attributes` does not declare",
            at.who
        ),
    )
    .with_api_error(PROPS_API);
    let d = match c.suggest(k, attr_names) {
        Some(s) => d.with_hint(format!("did you mean `{s}`?")),
        None => d.with_hint(format!(
            "declare `{k}` under `attributes` (and create it in &frankly under \
             Account > User management), or remove it from this user"
        )),
    };
    let pos = c.ctx.and_then(|ctx| {
        let rec = ctx.pos.record(Kind::User, i)?;
        let id = *ctx.pos.prop_ids.get(k)?;
        ctx.pos
            .fields(rec)
            .iter()
            .find(|f| f.key == id)
            .map(|f| f.pos(rec.pos.file))
    });
    let pos = pos.or_else(|| c.at(Kind::User, i, "externalProperties"));
    c.push(d, pos);
}

/// `attributeValueNotAllowed`: a value outside the attribute's declared
/// list (matched exactly), with the nearest allowed value as a hint.
fn value_not_allowed(
    c: &mut Checker<'_>,
    (allowed, listing): &(Vec<&str>, String),
    at: &UserAt<'_>,
    k: &str,
    v: &str,
) {
    let d = Diagnostic::error(
        "attributeValueNotAllowed",
        format!(
            "`{v}` is not an allowed value of the attribute `{k}` ({})",
            at.who
        ),
    )
    .with_api_error(PROPS_API);
    let d = match c.suggest(v, allowed) {
        Some(s) => d.with_hint(format!(
            "did you mean `{s}`? Values match exactly; allowed: {listing}"
        )),
        None => d.with_hint(format!(
            "use one of: {listing} (or add the value to `attributes.{k}` and \
             in &frankly)"
        )),
    };
    let pos = c.at(Kind::User, at.i, &format!("externalProperties.{k}"));
    c.push(d, pos);
}

/// `requiredAttributeMissing`: an active user without an attribute declared
/// `required: true` (DESIGN section 1, the HR guide's "Required if active");
/// left out when the decoder already reported `externalProperties`.
fn user_required_attributes(c: &mut Checker<'_>, required: &[&str], at: &UserAt<'_>) {
    let (i, u) = (at.i, at.u);
    if u.active == Some(false) || c.bad(Kind::User, i, "externalProperties") {
        return;
    }
    for k in required {
        if u.external_properties.contains_key(*k) {
            continue;
        }
        let d = Diagnostic::error(
            "requiredAttributeMissing",
            format!(
                "{} is active but has no `{k}` attribute, which is required",
                at.who
            ),
        )
        .with_hint(format!(
            "add `{k}: ...` under this user's `externalProperties` (required \
             attributes must be set on every active user)"
        ))
        .with_api_error(PROPS_API);
        let pos = c
            .ctx
            .and_then(|ctx| {
                ctx.pos
                    .field(Kind::User, i, key(Kind::User, "externalProperties"))
            })
            .or_else(|| c.record(Kind::User, i));
        c.push(d, pos);
    }
}

/// Why an endpoint is not an http(s) URL with a host, if it is not.
fn endpoint_problem(endpoint: &str) -> Option<&'static str> {
    let rest = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"));
    let Some(rest) = rest else {
        return Some("is not an http(s) URL");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = if host_port.starts_with('[') {
        host_port.split(']').next().map_or("", |h| &h[1..])
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    if host.is_empty() {
        return Some("has no host");
    }
    None
}

/// Whether `s` is an RFC 7230 token (a header name): one or more of
/// ALPHA, DIGIT and `!#$%&'*+-.^_`|~`.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Why an email is not plausible, if it is not: exactly one `@`, a
/// non-empty local part, a domain with a dot and no empty labels, no
/// whitespace, at most 254 characters.
fn email_problem(email: &str) -> Option<&'static str> {
    if email.len() > 254 {
        return Some("it is longer than 254 characters");
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("it contains whitespace");
    }
    let mut parts = email.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Some("it needs exactly one `@`");
    };
    if local.is_empty() {
        return Some("nothing before the `@`");
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Some("the part before the `@` starts or ends with a `.`, or has two in a row");
    }
    if !domain.contains('.') {
        return Some("the domain has no `.`");
    }
    if domain.split('.').any(str::is_empty) {
        return Some("the domain has an empty part");
    }
    None
}

/// Why a phone is not E.164 (`+`, then 8 to 15 digits, the first not 0),
/// with a corrected form when only separators are in the way.
fn phone_problem(phone: &str) -> Option<(&'static str, Option<String>)> {
    let Some(digits) = phone.strip_prefix('+') else {
        let fix = phone
            .strip_prefix("00")
            .map(|rest| {
                format!(
                    "+{}",
                    rest.chars()
                        .filter(char::is_ascii_digit)
                        .collect::<String>()
                )
            })
            .filter(|f| phone_problem(f).is_none());
        return Some(("it must start with `+` and the country code", fix));
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        let only_separators = digits
            .chars()
            .all(|ch| ch.is_ascii_digit() || matches!(ch, ' ' | '-' | '.' | '(' | ')'));
        let fix = only_separators
            .then(|| {
                format!(
                    "+{}",
                    digits
                        .chars()
                        .filter(char::is_ascii_digit)
                        .collect::<String>()
                )
            })
            .filter(|f| phone_problem(f).is_none());
        return Some(("only digits may follow the `+`", fix));
    }
    if digits.starts_with('0') {
        return Some(("a country code never starts with 0", None));
    }
    if digits.len() < 8 {
        return Some(("it has fewer than 8 digits", None));
    }
    if digits.len() > 15 {
        return Some(("it has more than 15 digits", None));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_follow_e164_without_a_numbering_plan() {
        assert!(phone_problem("+461234567").is_none());
        assert!(phone_problem("+46701234567").is_none());
        assert!(phone_problem("+123456789012345").is_none());
        assert!(phone_problem("+1234567890123456").is_some());
        assert!(phone_problem("+1234567").is_some());
        assert!(phone_problem("+046701234567").is_some());
        assert_eq!(
            phone_problem("+46 70-123 45 67").and_then(|p| p.1),
            Some("+46701234567".to_owned())
        );
        assert_eq!(
            phone_problem("0046701234567").and_then(|p| p.1),
            Some("+46701234567".to_owned())
        );
        assert!(phone_problem("0701234567").is_some_and(|p| p.1.is_none()));
    }

    #[test]
    fn emails_need_one_at_and_a_dotted_domain() {
        assert!(email_problem("ada@example.com").is_none());
        assert!(email_problem("ada.example.com").is_some());
        assert!(email_problem("ada@@example.com").is_some());
        assert!(email_problem("ada@example").is_some());
        assert!(email_problem("ada@example..com").is_some());
        assert!(email_problem("ada lovelace@example.com").is_some());
        assert!(email_problem("@example.com").is_some());
        assert!(email_problem("a.@example.com").is_some());
        assert!(email_problem(".a@example.com").is_some());
        assert!(email_problem("a..b@example.com").is_some());
        assert!(email_problem("a.b@example.com").is_none());
    }

    #[test]
    fn tables_are_sorted_for_binary_search() {
        assert!(TIME_ZONES.windows(2).all(|w| w[0] < w[1]));
        assert!(LANGUAGES.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(LANGUAGES.len(), 184);
        assert!(TIME_ZONES.binary_search(&"Europe/Stockholm").is_ok());
        assert!(TIME_ZONES.binary_search(&"US/Eastern").is_ok());
        assert!(TIME_ZONES.binary_search(&"UTC").is_ok());
    }
}
