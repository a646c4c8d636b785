//! `orgform plan --preflight`: drift detection (DESIGN section 4, issue 7).
//!
//! The desired org goes to the server with `validateOnly: true`, the token,
//! and the plan's request limits, whose deletion limits are the planned
//! deletion counts. The server's `created`/`updated`/`deleted` counts are
//! then compared with the plan's. Drift is:
//!
//! - a count that differs: the server holds records the state does not know
//!   (the state was lost, an earlier apply landed without its state being
//!   written, or someone else wrote to the account), or lacks records the
//!   state believes are there;
//! - a refusal: `limitExceeded` on a deletion limit is the classic case (the
//!   server would delete records the plan never showed, typically because
//!   the state was lost); any other refusal (a phone taken, an unknown
//!   group) also means the plan would not apply as shown.
//!
//! Drift makes `plan` exit 1, whatever `--detailed-exitcode` says: CI must
//! stop. Where the server reports no counts (the real API's answer body is
//! undocumented) the preflight says it cannot tell and the exit code is the
//! plan's. A blocked plan is not sent at all (it cannot be applied anyway,
//! and the server would refuse it for the same reason).
//!
//! Everything goes to stderr, so `--format json` on stdout stays parseable.
//! The token, the endpoint rules and the retry settings are apply's: the
//! spec's `target` (`tokenEnv`, `maxRetries`, `retryBudgetSecs`,
//! `requestTimeoutSecs`, `connectTimeoutSecs`), and the request is never
//! sent to an endpoint other than the one the state was applied to.

use std::fmt::Write as _;

use anyhow::{Context, bail};
use orgform_frankly::wire::{ApiError, OrganizationRequest, OrganizationResponse, codes};
use orgform_frankly::{Answer, Client, ClientConfig, ClientError, Token};
use orgform_model::Kind;
use orgform_plan::{KindSummary, Plan};
use orgform_spec::ValidatedSpec;
use orgform_state::{Outcome, State, Store};

use crate::output;

/// What a preflight found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The server's counts are the plan's.
    NoDrift,
    /// The server's counts differ from the plan's, or it refused the plan.
    Drift,
    /// The server accepted the plan but reported no counts: drift cannot be checked.
    CountsNotReported,
    /// The plan is blocked: nothing was sent.
    Skipped,
}

/// One count on which the server and the plan disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Difference {
    /// Users or groups.
    pub kind: Kind,
    /// `created`, `updated` or `deleted`.
    pub action: &'static str,
    /// What the plan counted.
    pub planned: u64,
    /// What the server reported.
    pub server: u64,
}

/// Every count of `server` that differs from the plan's, users first, then
/// created, updated, deleted.
pub fn compare(plan: &Plan, server: &OrganizationResponse) -> Vec<Difference> {
    let summary = plan.summary();
    let mut out = Vec::new();
    for (kind, planned, got) in [
        (Kind::User, &summary.users, &server.users),
        (Kind::Group, &summary.groups, &server.groups),
    ] {
        for (action, p, s) in [
            ("created", planned.create, got.created),
            ("updated", planned.update, got.updated),
            ("deleted", planned.delete, got.deleted),
        ] {
            let p = p as u64;
            if p != s {
                out.push(Difference {
                    kind,
                    action,
                    planned: p,
                    server: s,
                });
            }
        }
    }
    out
}

/// `users 3 created, 0 updated, 0 deleted; groups 0 created, 0 updated, 0 deleted`
pub fn counts_line(server: &OrganizationResponse) -> String {
    format!(
        "users {} created, {} updated, {} deleted; groups {} created, {} updated, {} deleted",
        server.users.created,
        server.users.updated,
        server.users.deleted,
        server.groups.created,
        server.groups.updated,
        server.groups.deleted
    )
}

fn plan_line(plan: &Plan) -> String {
    let s = plan.summary();
    let k = |k: &KindSummary| {
        format!(
            "{} created, {} updated, {} deleted",
            k.create, k.update, k.delete
        )
    };
    format!("users {}; groups {}", k(&s.users), k(&s.groups))
}

fn kind_plural(kind: Kind) -> &'static str {
    match kind {
        Kind::User => "users",
        Kind::Group => "groups",
    }
}

/// What a difference means, in words.
fn meaning(d: &Difference) -> String {
    let kinds = kind_plural(d.kind);
    match (d.action, d.server < d.planned) {
        ("created", true) => format!(
            "the server already holds {} of the {kinds} the plan would create: the state does \
             not know them",
            d.planned - d.server
        ),
        ("created", false) => format!(
            "the server would create {} {kinds} more than the plan: {kinds} the state believes \
             exist are gone from the server (deleted outside orgform?)",
            d.server - d.planned
        ),
        ("updated", _) => format!(
            "the server would update {} {kinds}, the plan {}: records on the server differ from \
             what the state says (changed outside orgform, or an apply the state did not record)",
            d.server, d.planned
        ),
        ("deleted", true) => format!(
            "{} of the {kinds} the plan would delete are already gone from the server",
            d.planned - d.server
        ),
        _ => format!(
            "the server would delete {} {kinds}, the plan {}",
            d.server, d.planned
        ),
    }
}

/// What a `limitExceeded` on a deletion limit means when the limit sent was
/// the planned deletion count.
fn deletion_limit_meaning(error: &ApiError) -> Option<String> {
    if error.code != codes::LIMIT_EXCEEDED {
        return None;
    }
    let setting = error.setting.as_deref()?;
    let kinds = match setting {
        "maxUsersDeleted" => "users",
        "maxGroupsDeleted" => "groups",
        _ => return None,
    };
    let limit = u64::try_from(error.limit?).ok()?;
    let requested = error.requested?;
    let unseen = requested.checked_sub(limit).filter(|n| *n > 0)?;
    Some(format!(
        "the server would delete {requested} managed {kinds}, the plan {limit}: it holds \
         {unseen} managed {kinds} that the state does not know and the spec does not list (the \
         state was lost or is out of date, or another tool created them)"
    ))
}

/// The server's reasons for refusing, one a line, each with the record's
/// place in the spec and what to do.
pub fn explain_rejection(errors: &[ApiError], spec: &ValidatedSpec) -> String {
    let mut text = String::new();
    for e in errors {
        let _ = write!(text, "  - {}", e.code);
        if let Some(id) = &e.external_id {
            let _ = write!(text, " for `{id}`");
            if let Some(loc) = spec
                .sources()
                .record(Kind::User, id)
                .or_else(|| spec.sources().record(Kind::Group, id))
            {
                let _ = write!(text, " ({loc})");
            }
        }
        if !e.message.is_empty() {
            let _ = write!(text, ": {}", e.message);
        }
        text.push('\n');
        if let Some(meaning) = deletion_limit_meaning(e) {
            let _ = writeln!(text, "    what this means: {meaning}");
        }
        if let Some(advice) = orgform_frankly::advice(&e.code) {
            let _ = writeln!(text, "    what to do: {advice}");
        }
    }
    text
}

/// The endpoint a command uses: the flag, else the spec's `target.endpoint`,
/// else the real API's.
pub fn endpoint_for(flag: Option<&str>, spec: &ValidatedSpec) -> String {
    flag.map(str::to_owned)
        .or_else(|| spec.org().target.endpoint.clone())
        .unwrap_or_else(|| orgform_frankly::DEFAULT_ENDPOINT.to_owned())
}

/// The token named by the spec's `target.tokenEnv` (default `FRANKLY_API_TOKEN`).
pub fn token_for(spec: &ValidatedSpec) -> Result<Token, ClientError> {
    let var = spec
        .org()
        .target
        .token_env
        .clone()
        .unwrap_or_else(|| orgform_frankly::DEFAULT_TOKEN_ENV.to_owned());
    Token::from_env(&var)
}

/// Runs the preflight of `plan` and prints what it finds to stderr.
///
/// Errors (no token, an endpoint other than the state's, the server
/// unreachable, the token refused) are errors, not drift: the caller exits 1
/// with them.
pub fn run(
    spec: &ValidatedSpec,
    plan: &Plan,
    state: Option<&State>,
    store: &Store,
    endpoint_flag: Option<&str>,
) -> anyhow::Result<Verdict> {
    if plan.is_blocked() {
        output::print_stderr(
            "\nPreflight skipped: the plan is blocked, so it was not sent to the server.\n",
        );
        return Ok(Verdict::Skipped);
    }
    let endpoint = endpoint_for(endpoint_flag, spec);
    if let Some(applied_to) = state
        .and_then(|s| s.endpoint.as_deref())
        .filter(|a| *a != endpoint)
    {
        bail!(
            "the state was applied to `{applied_to}`, not `{endpoint}`: a preflight there would \
             compare this state with another account (and send it this org); use the state's \
             endpoint, or apply with --endpoint-moved if the API really moved"
        );
    }
    let token = token_for(spec).context("--preflight needs the API token")?;
    let config = ClientConfig::from_target(&spec.org().target, Some(&endpoint), token);
    let client = Client::new(config)
        .context("cannot set up the &frankly client")?
        .with_retry_observer(|event| output::print_stderr(&format!("retrying: {event}\n")));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let request = OrganizationRequest::from_desired(spec.org(), plan.request_limits(), true);
    output::print_stderr(&format!(
        "\nPreflight: sending the desired org to `{endpoint}` with validateOnly: true…\n"
    ));
    let answer = match runtime.block_on(client.send(&request)) {
        Ok(answer) => answer,
        Err(ClientError::Rejected { errors, .. }) => {
            let mut text = String::from(
                "DRIFT: the server refused the plan, so it would not apply as shown:\n",
            );
            text.push_str(&explain_rejection(&errors, spec));
            text.push_str(&advice(store, plan));
            output::print_stderr(&text);
            return Ok(Verdict::Drift);
        }
        Err(err) => {
            if err.may_have_applied() {
                // Only a server that ignores validateOnly gets here.
                return Err(anyhow::Error::new(err).context(
                    "preflight failed, and the server may have APPLIED the org it was only to \
                     validate: check the account, then run `orgform apply` to record the state",
                ));
            }
            return Err(anyhow::Error::new(err)
                .context("preflight failed: drift could not be checked; nothing was changed"));
        }
    };
    let server = match answer {
        Answer::Reported(server) => server,
        Answer::CountsNotReported { status } => {
            output::print_stderr(&format!(
                "Preflight: the server accepted the plan (HTTP {status}) but reports no counts, \
                 so drift cannot be checked; the exit code is the plan's.\n"
            ));
            return Ok(Verdict::CountsNotReported);
        }
    };
    let differences = compare(plan, &server);
    if differences.is_empty() {
        output::print_stderr(&format!(
            "Preflight: no drift. The server would make exactly the plan's changes ({}).\n",
            counts_line(&server)
        ));
        return Ok(Verdict::NoDrift);
    }
    let mut text = format!(
        "DRIFT: the server's counts differ from the plan.\n  plan:   {}\n  server: {}\n",
        plan_line(plan),
        counts_line(&server)
    );
    for d in &differences {
        let _ = writeln!(text, "  - {}", meaning(d));
    }
    text.push_str(&advice(store, plan));
    output::print_stderr(&text);
    Ok(Verdict::Drift)
}

/// What to do about drift; names the last history line when it explains it.
fn advice(store: &Store, plan: &Plan) -> String {
    let mut text = String::from("What to do:\n");
    let last = store.read_history().ok().and_then(|h| h.into_iter().last());
    if let Some(last) = last.filter(|e| e.outcome == Outcome::MaybeApplied) {
        let _ = writeln!(
            text,
            "  - the last apply ({}) may have been applied without its state being written: \
             that explains drift of exactly its changes; `orgform apply` sends the full desired \
             org again and converges",
            last.time
        );
    }
    let _ = writeln!(
        text,
        "  - if the state was lost or damaged, restore it (`{}`, or from Git) and plan again",
        store.backup_path().display()
    );
    if plan.summary().users.delete == 0 && plan.summary().groups.delete == 0 {
        text.push_str(
            "  - to adopt what the server holds, `orgform apply` this spec: it deletes nothing \
             the plan does not show (the deletion limits sent are the planned deletions), and \
             the new state then knows the server's records\n",
        );
    } else {
        text.push_str(
            "  - `orgform apply` deletes nothing the plan does not show (the deletion limits \
             sent are the planned deletions)\n",
        );
    }
    text.push_str(
        "  - if someone changed the account outside orgform, find out who before applying: \
         `orgform apply` makes the account match the spec\n",
    );
    text
}
