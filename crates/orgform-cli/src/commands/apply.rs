//! `orgform apply`: the apply flow of DESIGN section 5.
//!
//! 1. validate (a spec, or a saved plan's org), lock the state, plan, and for
//!    a saved plan check it is neither stale nor altered;
//! 2. refuse a blocked plan; show the plan; ask for `yes` unless `--auto-approve`;
//! 3. POST with `validateOnly: true`, then with `validateOnly: false`;
//! 4. the deletion limits sent are the planned deletion counts;
//! 5. only on success, write the new state (serial + 1); a history line for
//!    every attempt, whatever its outcome.

use std::io::{BufRead, IsTerminal};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use orgform_frankly::wire::{Counts, OrganizationRequest};
use orgform_frankly::{Answer, Client, ClientConfig, ClientError, Token};
use orgform_model::EffectiveOrg;
use orgform_plan::{Plan, PlanOptions, SavedPlan};
use orgform_spec::ValidatedSpec;
use orgform_state::{ChangeCounts, HistoryEntry, KindCounts, Outcome, State, StateLock, Store};

use crate::args::ApplyArgs;
use crate::commands::{base, load_spec, load_state, preflight, store};
use crate::output;

/// What `apply` was given.
enum Input {
    Spec(ValidatedSpec),
    Saved(Box<SavedPlan>, ValidatedSpec),
}

/// Runs `orgform apply`.
pub fn run(args: &ApplyArgs) -> anyhow::Result<ExitCode> {
    let input = read_input(&args.input)?;
    let store = store(args.state.state.as_deref());
    let lock = store
        .lock("orgform apply", args.lock_timeout)
        .with_context(|| format!("cannot lock the state `{}`", store.path().display()))?;
    let state = load_state(&store)?;
    pause_at("locked");
    let spec = match &input {
        Input::Spec(spec) | Input::Saved(_, spec) => spec,
    };

    let endpoint = args
        .endpoint
        .clone()
        .or_else(|| spec.org().target.endpoint.clone())
        .unwrap_or_else(|| orgform_frankly::DEFAULT_ENDPOINT.to_owned());
    if let Input::Saved(saved, _) = &input {
        saved
            .check_base(
                state.as_ref().map(|s| s.lineage.as_str()),
                state.as_ref().map_or(0, |s| s.serial),
            )
            .context("refusing to apply the saved plan")?;
    }
    if let Some(applied_to) = state.as_ref().and_then(|s| s.endpoint.as_deref())
        && applied_to != endpoint
        && !args.endpoint_moved
    {
        bail!(
            "the state was applied to `{applied_to}`, not `{endpoint}`: refusing to send one \
             account's records to another; if the API really moved, pass --endpoint-moved"
        );
    }

    let empty = EffectiveOrg::default();
    let plan = orgform_plan::plan(
        spec,
        base(state.as_ref(), &empty),
        // A saved plan is re-made with the options it was reviewed with (a
        // plan saved with --force stays forced); a spec uses the flags.
        &match &input {
            Input::Saved(saved, _) => saved.options(),
            Input::Spec(_) => PlanOptions { force: args.force },
        },
    );
    if let Input::Saved(saved, _) = &input {
        saved
            .verify(&plan)
            .context("refusing to apply the saved plan: it is not what this state and org give")?;
    }

    let mut attempt = Attempt {
        store: &store,
        plan: &plan,
        state: state.as_ref(),
        endpoint: &endpoint,
        forced: plan.doc().forced,
        server: None,
        serial_after: None,
    };

    output::print_stdout(&orgform_plan::render::text(
        &plan,
        &orgform_plan::render::TextOptions {
            color: output::stdout_color(),
        },
    ))?;

    if plan.is_blocked() {
        attempt.record(Outcome::Refused, Some("the plan is blocked"));
        bail!(
            "the plan is blocked ({}); nothing was sent",
            plan.blocked_reasons()
                .iter()
                .map(|r| r.code.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    if !plan.has_changes() {
        let unchanged_state = state.as_ref().map(|s| &s.org);
        if unchanged_state == Some(plan.effective_after())
            || (state.is_none() && plan.effective_after() == &empty)
        {
            output::print_stdout("\nNo changes. Nothing to apply.\n")?;
            return Ok(ExitCode::SUCCESS);
        }
        // Only orgform-side facts changed (a protection set or lifted): no request needed.
        write_state(&lock, state.as_ref(), &plan, spec, &endpoint)?;
        attempt.serial_after = Some(state.as_ref().map_or(1, |s| s.serial + 1));
        attempt.record(
            Outcome::Applied,
            Some("state-only change (protection); nothing sent"),
        );
        output::print_stdout(
            "\nNo changes on the server; the state records the new protections.\n",
        )?;
        return Ok(ExitCode::SUCCESS);
    }

    // Everything that can fail before any request fails here.
    let token_env = spec
        .org()
        .target
        .token_env
        .clone()
        .unwrap_or_else(|| orgform_frankly::DEFAULT_TOKEN_ENV.to_owned());
    let token = Token::from_env(&token_env).context("cannot apply without a token")?;
    let mut config = ClientConfig::from_target(&spec.org().target, Some(&endpoint), token);
    if let Some(n) = args.max_retries {
        config.retry.max_retries = n;
    }
    if let Some(budget) = args.retry_budget {
        config.retry.budget = budget;
    }
    if let Some(timeout) = args.request_timeout {
        config.request_timeout = timeout;
    }
    let client = Client::new(config)
        .context("cannot set up the &frankly client")?
        .with_retry_observer(|event| output::print_stderr(&format!("{event}\n")));

    if !args.auto_approve && !confirm(&endpoint)? {
        attempt.record(Outcome::Declined, Some("not confirmed"));
        bail!("apply cancelled: only `yes` approves; nothing was sent");
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;

    let limits = plan.request_limits();
    // 3a. The server's own validation, with the same limits as the real request.
    let check = OrganizationRequest::from_desired(spec.org(), limits, true);
    output::print_stderr("Validating with the server (validateOnly: true)…\n");
    let answer = match runtime.block_on(client.send(&check)) {
        Ok(answer) => answer,
        Err(err) => return Err(attempt.failed(err, spec)),
    };
    report_counts("The server's validation", &plan, &answer);
    pause_at("preflight");

    // 3b. The real request.
    let request = OrganizationRequest::from_desired(spec.org(), limits, false);
    output::print_stderr("Applying (validateOnly: false)…\n");
    let answer = match runtime.block_on(client.send(&request)) {
        Ok(answer) => answer,
        Err(err) => return Err(attempt.failed(err, spec)),
    };
    attempt.server = counts_of(&answer);

    // 5. Only now does the state move.
    pause_at("state-write");
    if let Err(err) = write_state(&lock, state.as_ref(), &plan, spec, &endpoint) {
        attempt.record(
            Outcome::MaybeApplied,
            Some("the server applied the plan but the state could not be written"),
        );
        return Err(err.context(
            "the server APPLIED the plan, but the new state could not be written; the old state \
             is intact: fix the cause and run `orgform apply` again (it converges: the request \
             is the full desired org)",
        ));
    }
    attempt.serial_after = Some(state.as_ref().map_or(1, |s| s.serial + 1));
    attempt.record(Outcome::Applied, None);
    let differs = report_counts("Applied. The server reports", &plan, &answer);
    output::print_stdout(&format!(
        "\nApply complete! {}\nState written to `{}` (serial {}).\n",
        plan_summary(&plan),
        store.path().display(),
        state.as_ref().map_or(1, |s| s.serial + 1)
    ))?;
    if differs {
        output::print_stderr(
            "warning: the server's counts differ from the plan (see above): it holds data the \
             state did not know about, or an earlier attempt was applied; run `orgform plan \
             --preflight` to check for drift\n",
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A test hook, compiled into debug builds only (a release build has an
/// empty function): with `ORGFORM_TEST_PAUSE_AT=STEP` (`locked`, `preflight`
/// or `state-write`), apply prints `orgform-test: paused at STEP` to stderr
/// when it reaches that step and waits for a line (or the end) of stdin.
/// The reliability suite (`tests/reliability.rs`, `tests/failure.rs`) uses
/// it to SIGKILL apply, or change the emulator's faults, at an exact step.
#[cfg(debug_assertions)]
fn pause_at(step: &str) {
    if std::env::var("ORGFORM_TEST_PAUSE_AT").is_ok_and(|s| s == step) {
        output::print_stderr(&format!("orgform-test: paused at {step}\n"));
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
    }
}

/// Release builds have no test hook.
#[cfg(not(debug_assertions))]
fn pause_at(_step: &str) {}

/// Reads a saved plan (JSON with a `planDigest`) or loads a spec.
fn read_input(path: &Path) -> anyhow::Result<Input> {
    if path.is_file()
        && starts_with_brace(path)
        && let Ok(bytes) = std::fs::read(path)
    {
        let saved: SavedPlan = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "`{}` looks like a saved plan but cannot be read",
                path.display()
            )
        })?;
        let spec = orgform_spec::validate_org(saved.org().clone()).map_err(|diags| {
            output::print_stderr(&diags.render(output::stderr_color()));
            anyhow!(
                "the org in the saved plan `{}` is not valid: it was altered or made by an \
                 incompatible version",
                path.display()
            )
        })?;
        return Ok(Input::Saved(Box::new(saved), spec));
    }
    Ok(Input::Spec(load_spec(path)?))
}

/// Whether a file's first byte is `{` (a saved plan is JSON). Reads that
/// byte only: a spec is read by the spec loader, whose size cap refuses a
/// huge file before reading it (reading the whole file here first made
/// `apply` of a huge spec use as much memory as the file is big).
fn starts_with_brace(path: &Path) -> bool {
    let mut first = [0u8; 1];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut first))
        .is_ok()
        && first[0] == b'{'
}

/// Asks on the terminal; only `yes` approves. Without a terminal, refuses.
fn confirm(endpoint: &str) -> anyhow::Result<bool> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!(
            "refusing to apply without confirmation: stdin is not a terminal; review the plan \
             and pass --auto-approve (CI: apply a saved plan with `orgform apply PLANFILE --auto-approve`)"
        );
    }
    output::print_stderr(&format!(
        "\nDo you want to apply these changes to `{endpoint}`?\n  Only `yes` will be accepted to approve.\n\n  Enter a value: "
    ));
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read the answer")?;
    Ok(line.trim() == "yes")
}

/// Writes the state that the plan predicts (serial + 1, same lineage).
fn write_state(
    lock: &StateLock,
    previous: Option<&State>,
    plan: &Plan,
    spec: &ValidatedSpec,
    endpoint: &str,
) -> anyhow::Result<()> {
    let org = plan.effective_after().clone();
    let next = match previous {
        Some(prev) => prev.next(org, spec.digest(), Some(endpoint)),
        None => State::first(org, spec.digest(), Some(endpoint)),
    };
    lock.commit(&next).context("cannot write the new state")
}

/// What one apply attempt records in the history, whatever happens.
struct Attempt<'a> {
    store: &'a Store,
    plan: &'a Plan,
    state: Option<&'a State>,
    endpoint: &'a str,
    forced: bool,
    server: Option<ChangeCounts>,
    serial_after: Option<u64>,
}

impl Attempt<'_> {
    fn record(&self, outcome: Outcome, message: Option<&str>) {
        let mut entry = HistoryEntry::new(
            "orgform apply",
            outcome,
            &self.plan.digest(),
            self.plan.spec_digest(),
        );
        entry.lineage = self.state.map(|s| s.lineage.clone());
        entry.serial_before = self.state.map_or(0, |s| s.serial);
        entry.serial_after = self.serial_after;
        entry.endpoint = Some(self.endpoint.to_owned());
        entry.planned = planned_counts(self.plan);
        entry.reported = self.server;
        entry.forced = self.forced;
        entry.message = message.map(str::to_owned);
        if let Err(err) = self.store.append_history(&entry) {
            output::print_stderr(&format!(
                "warning: cannot append to the history `{}`: {err}\n",
                self.store.history_path().display()
            ));
        }
    }

    /// Records a failed request and turns it into the error to print.
    fn failed(&self, err: ClientError, spec: &ValidatedSpec) -> anyhow::Error {
        // A validate-only request can have applied nothing, unless the server
        // answered it as a real one (`ValidateOnlyMismatch`): the client knows.
        let maybe = err.may_have_applied();
        let outcome = if maybe {
            Outcome::MaybeApplied
        } else {
            Outcome::Failed
        };
        self.record(outcome, Some(&err.to_string()));
        if let ClientError::Rejected { errors, .. } = &err {
            let mut text = String::from("The server refused the plan:\n");
            text.push_str(&preflight::explain_rejection(errors, spec));
            output::print_stderr(&text);
        }
        let what = if maybe {
            "the server may have applied this plan (it may have received the request, but no \
             success came back); the state is unchanged: run `orgform apply` again, it converges \
             because the request is the full desired org (`orgform plan --preflight` shows what \
             the server holds)"
        } else {
            "nothing was changed on the server and the state is untouched"
        };
        anyhow::Error::new(err).context(format!("apply failed: {what}"))
    }
}

fn planned_counts(plan: &Plan) -> ChangeCounts {
    let s = plan.summary();
    let c = |k: &orgform_plan::KindSummary| KindCounts {
        create: k.create as u64,
        update: k.update as u64,
        delete: k.delete as u64,
        unchanged: k.unchanged as u64,
    };
    ChangeCounts {
        users: c(&s.users),
        groups: c(&s.groups),
    }
}

fn counts_of(answer: &Answer) -> Option<ChangeCounts> {
    let c = |k: &Counts| KindCounts {
        create: k.created,
        update: k.updated,
        delete: k.deleted,
        unchanged: k.unchanged,
    };
    match answer {
        Answer::Reported(r) => Some(ChangeCounts {
            users: c(&r.users),
            groups: c(&r.groups),
        }),
        Answer::CountsNotReported { .. } => None,
    }
}

/// Prints the server's counts beside the plan's; returns whether they differ.
fn report_counts(what: &str, plan: &Plan, answer: &Answer) -> bool {
    let Some(got) = counts_of(answer) else {
        output::print_stderr(&format!(
            "{what}: success (the server reported no counts).\n"
        ));
        return false;
    };
    let want = planned_counts(plan);
    let mut differs = false;
    let mut line = |kind: &str, got: KindCounts, want: KindCounts| {
        let mut parts = Vec::new();
        for (name, g, w) in [
            ("created", got.create, want.create),
            ("updated", got.update, want.update),
            ("deleted", got.delete, want.delete),
        ] {
            if g == w {
                parts.push(format!("{g} {name}"));
            } else {
                differs = true;
                parts.push(format!("{g} {name} (PLANNED {w})"));
            }
        }
        format!("{kind}: {}", parts.join(", "))
    };
    let users = line("users", got.users, want.users);
    let groups = line("groups", got.groups, want.groups);
    output::print_stderr(&format!("{what}: {users}; {groups}.\n"));
    differs
}

fn plan_summary(plan: &Plan) -> String {
    let s = plan.summary();
    format!(
        "Users: {} created, {} updated, {} deleted. Groups: {} created, {} updated, {} deleted.",
        s.users.create,
        s.users.update,
        s.users.delete,
        s.groups.create,
        s.groups.update,
        s.groups.delete
    )
}
