//! `orgform plan --preflight`: drift detection (DESIGN sections 4, 10, 11).
//!
//! The desired org goes to the server with `validateOnly: true`, the token,
//! and the plan's request limits, whose deletion limits are the planned
//! deletion counts. What the server answers is one of:
//!
//! - **drift**: its `created`/`updated`/`deleted` counts differ from the
//!   plan's: it holds records the state does not know (the state was lost,
//!   an earlier apply landed without its state being written, someone else
//!   wrote to the account), or lacks records the state believes are there;
//!   a `limitExceeded` on a deletion limit is drift too (the server would
//!   delete records the plan never showed: typically a lost state);
//! - **a refusal**: the server rejects the request for what it contains (a
//!   phone taken, an email used in another company, an unknown group): the
//!   plan would not apply, and the advice says what to change;
//! - no drift, or "counts not reported" (the real API's answer body is
//!   undocumented): then the exit code is the plan's.
//!
//! Drift and refusals make `plan` exit 1, whatever `--detailed-exitcode`
//! says: CI must stop. A blocked plan is not sent at all.
//!
//! The token goes only where the operator, not the pull request, decides
//! (DESIGN section 11): `--endpoint`, `ORGFORM_ENDPOINT`, or the endpoint
//! the state was applied to. A spec's `target.endpoint` is used only when it
//! is that same endpoint; with no state and no operator's endpoint, the
//! real API's address. Everything goes to stderr, so `--format json` on
//! stdout stays parseable.

use std::fmt::Write as _;

use anyhow::{Context, bail};
use orgform_frankly::ClientError;
use orgform_frankly::wire::{ApiError, OrganizationRequest, codes};
use orgform_model::Kind;
use orgform_plan::Plan;
use orgform_spec::ValidatedSpec;
use orgform_state::{Outcome, State, Store};

use crate::commands::{
    self, ClientOverrides, Difference, Endpoint, EndpointSource, shown_endpoint,
};
use crate::output;

/// What a preflight found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The server's counts are the plan's.
    NoDrift,
    /// The server's counts differ from the plan's, or it would delete
    /// records the plan does not show.
    Drift,
    /// The server rejected what the plan sends (advice printed).
    Refused,
    /// The server accepted the plan but reported no counts: drift cannot be checked.
    CountsNotReported,
    /// The plan is blocked: nothing was sent.
    Skipped,
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

/// The endpoint a preflight may send the token to (module docs): the
/// operator's (`--endpoint`, `ORGFORM_ENDPOINT`), else the state's, else the
/// real API's; a spec's `target.endpoint` elsewhere is refused.
pub fn trusted_endpoint(
    flag: Option<&str>,
    spec: &ValidatedSpec,
    state: Option<&State>,
) -> anyhow::Result<Endpoint> {
    let chosen = commands::choose_endpoint(flag, spec, state);
    match chosen.source {
        EndpointSource::Flag
        | EndpointSource::Env
        | EndpointSource::State
        | EndpointSource::Default => Ok(chosen),
        EndpointSource::Spec => {
            let state_endpoint = state.and_then(|s| s.endpoint.as_deref());
            if state_endpoint == Some(chosen.url.as_str()) {
                return Ok(chosen);
            }
            bail!(
                "--preflight sends the API token, so it goes only to an endpoint the operator \
                 chose: the spec's target.endpoint `{}` is {}, and a pull request can edit the \
                 spec; pass --endpoint URL or set {} to send it there",
                shown_endpoint(&chosen.url),
                match state_endpoint {
                    Some(_) => "not the endpoint the state was applied to",
                    None => "not confirmed by a state",
                },
                commands::ENDPOINT_ENV
            )
        }
    }
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
    let endpoint = commands::check_endpoint(trusted_endpoint(endpoint_flag, spec, state)?)?;
    commands::check_endpoint_moved(state, &endpoint, false).context(
        "a preflight there would compare this state with another account (and send it this org)",
    )?;
    let token = commands::token_for(spec).context("--preflight needs the API token")?;
    let client = commands::client(spec, &endpoint, token, ClientOverrides::default())?;
    let runtime = commands::runtime()?;
    // A plan in waves is checked by its first wave: the later ones start
    // from organizations the server does not hold yet.
    let waves = plan.waves().len();
    let (org, limits) = if waves > 1 {
        (plan.wave_request(spec, 0), plan.wave_limits(0))
    } else {
        (spec.org().clone(), plan.request_limits())
    };
    let request = OrganizationRequest::from_desired(&org, limits, true);
    drop(org);
    if waves > 1 {
        output::print_stderr(&format!(
            "\nPreflight: the plan is applied in {waves} waves; sending wave 1 only to `{}` with \
             validateOnly: true (the later waves start from organizations the server does not \
             hold yet)…\n",
            shown_endpoint(&endpoint.url)
        ));
    } else {
        output::print_stderr(&format!(
            "\nPreflight: sending the desired org to `{}` with validateOnly: true…\n",
            shown_endpoint(&endpoint.url)
        ));
    }
    let answer = match runtime.block_on(client.send(&request)) {
        Ok(answer) => answer,
        Err(ClientError::Rejected { errors, .. }) => {
            return Ok(rejected(&errors, spec, store, plan));
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
    let Some(server) = commands::reported_counts(&answer) else {
        output::print_stderr(
            "Preflight: the server accepted the plan but reports no counts, so drift cannot be \
             checked; the exit code is the plan's.\n",
        );
        return Ok(Verdict::CountsNotReported);
    };
    let planned = match plan.waves().first() {
        Some(first) if waves > 1 => commands::wave_counts(first),
        _ => commands::planned_counts(plan.summary()),
    };
    let differences = commands::differences(&planned, &server);
    if differences.is_empty() {
        output::print_stderr(&format!(
            "Preflight: no drift. The server would make exactly the plan's changes ({}).\n",
            commands::counts_line(&server, None)
        ));
        return Ok(Verdict::NoDrift);
    }
    let mut text = format!(
        "DRIFT: the server's counts differ from the plan.\n  plan:   {}\n  server: {}\n",
        commands::counts_line(&planned, None),
        commands::counts_line(&server, None)
    );
    for d in &differences {
        let _ = writeln!(text, "  - {}", meaning(d));
    }
    text.push_str(&advice(store, plan));
    output::print_stderr(&text);
    Ok(Verdict::Drift)
}

/// A rejection: drift when the server would delete records the plan never
/// showed (a deletion limit exceeded), else a refusal of what the spec asks.
fn rejected(errors: &[ApiError], spec: &ValidatedSpec, store: &Store, plan: &Plan) -> Verdict {
    let drift = errors.iter().any(|e| deletion_limit_meaning(e).is_some());
    let mut text = if drift {
        String::from(
            "DRIFT: the server refused the plan because it holds records the state does not know:\n",
        )
    } else {
        String::from(
            "REFUSED: the server rejected the request, so this plan would not apply; no drift \
             was found, the spec (or the account) has to change:\n",
        )
    };
    text.push_str(&explain_rejection(errors, spec));
    if drift {
        text.push_str(&advice(store, plan));
    }
    output::print_stderr(&text);
    if drift {
        Verdict::Drift
    } else {
        Verdict::Refused
    }
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
