//! `orgform apply`: the apply flow of DESIGN sections 5 and 10.
//!
//! 1. read the input (a spec, or a saved plan), lock the state, plan (a
//!    saved plan: [`SavedPlan::replan`], the one check that it is what was
//!    reviewed), choose the endpoint and refuse a moved one, check the token
//!    (before the plan is printed; nothing to send needs no token);
//! 2. print the plan; refuse a blocked one; ask for `yes` (a spec, unless
//!    `--auto-approve`; a saved plan only with `--confirm`);
//! 3. POST with `validateOnly: true`, compare the counts, then with
//!    `validateOnly: false`; the deletion limits sent are the planned
//!    deletion counts;
//! 4. only on success, write the new state (serial + 1).
//!
//! Every attempt, whatever its outcome, appends one history line
//! (`applied`, `failed`, `maybeApplied`, `refused`, `declined`,
//! `interrupted`). SIGINT and SIGTERM are handled at each step
//! ([`crate::signals`]): at the prompt the apply is declined; before a
//! request it stops; during the validation request it waits for the answer
//! and stops without sending the real one; during the real request it waits
//! for the answer (a second signal abandons it: `maybeApplied`), commits the
//! state if it succeeded, and stops. The exit code is then 130 (SIGINT) or
//! 143 (SIGTERM), the lock is released and the state is whole.

use std::io::{BufRead, IsTerminal};
use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use orgform_frankly::wire::OrganizationRequest;
use orgform_frankly::{Answer, Client, ClientError};
use orgform_model::EffectiveOrg;
use orgform_plan::{Action, Plan, PlanDoc, PlanOptions, SavedPlan};
use orgform_spec::ValidatedSpec;
use orgform_state::{ChangeCounts, HistoryEntry, Outcome, RecordIds, State, StateLock, Store};
use tokio::runtime::Runtime;

use crate::args::ApplyArgs;
use crate::commands::{
    self, ClientOverrides, Endpoint, base, load_spec, load_state, preflight, shown_endpoint, store,
};
use crate::output;
use crate::signals::{Kind as Signal, Signals};

/// What `apply` was given.
enum Input {
    Spec(Box<ValidatedSpec>),
    Saved(Box<SavedPlan>),
}

/// Runs `orgform apply`.
pub fn run(args: &ApplyArgs) -> anyhow::Result<ExitCode> {
    let signals = Signals::install()?;
    let input = read_input(&args.input)?;
    let store = store(args.state.state.as_deref());
    let lock = store
        .lock("orgform apply", args.lock_timeout)
        .with_context(|| format!("cannot lock the state `{}`", store.describe()))?;
    let state = load_state(&store)?;
    pause_at("locked");
    let mut history = History {
        store: &store,
        command: command_line(args),
        endpoint: None,
        lineage: state.as_ref().map(|s| s.lineage.clone()),
        serial_before: state.as_ref().map_or(0, |s| s.serial),
        doc: None,
        wave: None,
        offset: 0,
    };
    let (spec, plan, rollout) = match make_plan(args, input, state.as_ref()) {
        Ok(made) => made,
        Err(refusal) => return Err(history.refused(refusal)),
    };
    history.doc = Some(plan.doc().clone());
    history.offset = rollout.offset;
    let session = Session {
        args,
        store: &store,
        lock: &lock,
        state: state.as_ref(),
        spec: &spec,
        plan: &plan,
        rollout: &rollout,
        signals: &signals,
        lineage: std::cell::RefCell::new(None),
    };
    let result = session.run(&mut history);
    drop(lock);
    result
}

/// Everything one apply works with once the plan is made.
struct Session<'a> {
    args: &'a ApplyArgs,
    store: &'a Store,
    lock: &'a StateLock,
    state: Option<&'a State>,
    spec: &'a ValidatedSpec,
    plan: &'a Plan,
    rollout: &'a Rollout,
    signals: &'a Signals,
    /// The lineage this run committed (a first apply in waves creates it
    /// with its first wave; the later waves keep it).
    lineage: std::cell::RefCell<Option<String>>,
}

/// Which plan the waves belong to: this run's plan, or the saved plan it
/// continues (DESIGN section 7: a saved plan stopped after some waves is
/// resumed where it stopped, and its waves keep their numbers).
#[derive(Debug, Clone)]
struct Rollout {
    /// The digest of the plan whose waves these are.
    digest: String,
    /// The serial of the state that plan was made against.
    base_serial: u64,
    /// Waves of it applied before this run.
    offset: usize,
    /// Its waves in all.
    total: usize,
}

impl Rollout {
    fn of(plan: &Plan, state: Option<&State>) -> Rollout {
        Rollout {
            digest: plan.digest(),
            base_serial: state.map_or(0, |s| s.serial),
            offset: 0,
            total: plan.waves().len(),
        }
    }
}

/// How a request in flight ended.
enum Sent {
    /// The client finished (with an answer or an error).
    Done(Result<Answer, ClientError>),
    /// A second signal came while waiting: nobody knows the outcome.
    Abandoned,
}

/// Which of the two requests is in flight.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Validate,
    Commit,
}

impl Session<'_> {
    fn run(&self, history: &mut History<'_>) -> anyhow::Result<ExitCode> {
        let chosen =
            commands::choose_endpoint(self.args.endpoint.as_deref(), self.spec, self.state);
        history.endpoint = Some(shown_endpoint(&chosen.url));
        // Credentials in the endpoint are refused before anything else.
        let endpoint = match commands::check_endpoint(chosen) {
            Ok(endpoint) => endpoint,
            Err(err) => return Err(history.refused(err)),
        };
        history.endpoint = Some(endpoint.url.clone());
        if let Err(err) =
            commands::check_endpoint_moved(self.state, &endpoint, self.args.endpoint_moved)
        {
            return Err(history.refused(err));
        }
        let sends = self.plan.has_changes() && !self.plan.is_blocked();
        // The token is checked before the plan is printed: a run that
        // cannot send should say so first, not after a long plan.
        let client = if sends {
            match self.client(&endpoint) {
                Ok(client) => Some(client),
                Err(err) => return Err(history.refused(err)),
            }
        } else {
            None
        };
        self.print_plan()?;
        if self.plan.is_blocked() {
            return Err(history.refused(self.blocked_error()));
        }
        let Some(client) = client else {
            return self.nothing_to_send(history, &endpoint);
        };
        if let Some(code) = self.confirm(history, &endpoint)? {
            return Ok(code);
        }
        if let Some(signal) = self.signals.received() {
            return Ok(self.interrupted(history, signal, "before any request was sent"));
        }
        self.send_and_commit(history, &client, &endpoint)
    }

    fn client(&self, endpoint: &Endpoint) -> anyhow::Result<Client> {
        let token = commands::token_for(self.spec).context("cannot apply without a token")?;
        commands::client(
            self.spec,
            endpoint,
            token,
            ClientOverrides {
                max_retries: self.args.max_retries,
                retry_budget: self.args.retry_budget,
                request_timeout: self.args.request_timeout,
            },
        )
    }

    fn print_plan(&self) -> anyhow::Result<()> {
        output::print_stdout(&orgform_plan::render::text(
            self.plan,
            &orgform_plan::render::TextOptions {
                color: output::stdout_color(),
            },
        ))?;
        Ok(())
    }

    fn blocked_error(&self) -> anyhow::Error {
        let codes = self
            .plan
            .blocked_reasons()
            .iter()
            .map(|r| r.code.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let forceable = self
            .plan
            .blocked_reasons()
            .iter()
            .all(|r| r.code.forceable());
        let how = if forceable {
            "; only the safety thresholds block it: review the plan, then make one that passes \
             them knowingly with `orgform plan SPEC --force --out PLANFILE` and apply that file"
        } else {
            "; change the spec (see the reasons above) and plan again"
        };
        anyhow!("the plan is blocked ({codes}); nothing was sent{how}")
    }

    /// No request needed: nothing changes, or only orgform-side facts do.
    fn nothing_to_send(
        &self,
        history: &History<'_>,
        endpoint: &Endpoint,
    ) -> anyhow::Result<ExitCode> {
        let empty = EffectiveOrg::default();
        let before = self.state.map_or(&empty, |s| &s.org);
        if before == self.plan.effective_after() {
            output::print_stdout("\nNo changes. Nothing to apply.\n")?;
            return Ok(ExitCode::SUCCESS);
        }
        // Only orgform-side facts changed (a protection set or lifted).
        let serial = self.write_state(endpoint)?;
        history.record(Outcome::Applied, |e| {
            e.serial_after = Some(serial);
            e.message = Some("state-only change (protection); nothing sent".to_owned());
        });
        output::print_stdout(
            "\nNo changes on the server; the state records the new protections.\n",
        )?;
        Ok(ExitCode::SUCCESS)
    }

    /// Asks for `yes` where that is the rule; `Some(code)` ends the run.
    fn confirm(
        &self,
        history: &History<'_>,
        endpoint: &Endpoint,
    ) -> anyhow::Result<Option<ExitCode>> {
        let saved = is_saved_plan(&self.args.input);
        let ask = if saved {
            self.args.confirm
        } else {
            !self.args.auto_approve
        };
        if !ask {
            return Ok(None);
        }
        if !std::io::stdin().is_terminal() {
            return Err(history.refused(anyhow!(
                "refusing to apply without confirmation: stdin is not a terminal; review the plan \
                 and pass --auto-approve, or save it with `orgform plan --out PLANFILE` and apply \
                 that file (a saved plan was reviewed: it is applied without asking)"
            )));
        }
        output::print_stderr(&format!(
            "\nDo you want to apply these changes to `{}`?\n  Only `yes` will be accepted to approve.\n\n  Enter a value: ",
            shown_endpoint(&endpoint.url)
        ));
        match read_answer(self.signals) {
            Reply::Line(line) if line.trim() == "yes" => Ok(None),
            Reply::Line(_) | Reply::Closed => {
                history.record(Outcome::Declined, |e| {
                    e.message = Some("not confirmed".to_owned())
                });
                bail!("apply cancelled: only `yes` approves; nothing was sent")
            }
            Reply::Signal(signal) => {
                output::print_stderr("\n");
                history.record(Outcome::Declined, |e| {
                    e.message = Some(format!("{} at the confirmation prompt", signal.name()));
                });
                output::print_error(&anyhow!(
                    "apply cancelled by {} at the prompt; nothing was sent, the state and the lock \
                     are as before the run",
                    signal.name()
                ));
                Ok(Some(signal.exit_code()))
            }
        }
    }

    /// Wave by wave (one wave for an ordinary plan): the validation
    /// request, then the real one, then the state. A signal between waves
    /// stops after the wave in flight.
    fn send_and_commit(
        &self,
        history: &History<'_>,
        client: &Client,
        endpoint: &Endpoint,
    ) -> anyhow::Result<ExitCode> {
        let runtime = commands::runtime()?;
        let here = self.plan.waves().len();
        let (offset, total) = (self.rollout.offset, self.rollout.total);
        if total > 1 {
            let from = if offset > 0 {
                format!("; continuing the saved plan after wave {offset}")
            } else {
                String::new()
            };
            output::print_stderr(&format!(
                "Applying in {total} waves (the API takes at most {} changes of a kind per request); \
                 the state is committed after each{from}.\n",
                self.plan.max_per_request()
            ));
        }
        for k in 0..here {
            if k > 0 {
                self.lock
                    .check_alive()
                    .context("the state lock was lost between waves")?;
                if let Some(signal) = self.signals.received() {
                    let n = offset + k;
                    return Ok(self.interrupted(
                        &history.wave(k, total),
                        signal,
                        &format!(
                            "between waves: waves 1 to {n} of {total} are applied and in the state, \
                             wave {} was not sent; run `orgform apply` again to continue",
                            n + 1
                        ),
                    ));
                }
            }
            let wave = history.wave(k, total);
            if let Some(code) = self.apply_wave(&wave, &runtime, client, endpoint, k)? {
                return Ok(code);
            }
        }
        output::print_stdout(&format!(
            "\nApply complete! {}\nState written to `{}` (serial {}).\n",
            plan_summary(self.plan),
            self.store.describe(),
            self.state.map_or(0, |s| s.serial) + here as u64,
        ))?;
        Ok(ExitCode::SUCCESS)
    }

    /// One wave: `Ok(Some(code))` when a signal ends the run after it.
    fn apply_wave(
        &self,
        history: &History<'_>,
        runtime: &Runtime,
        client: &Client,
        endpoint: &Endpoint,
        k: usize,
    ) -> anyhow::Result<Option<ExitCode>> {
        let (offset, total) = (self.rollout.offset, self.rollout.total);
        let planned = commands::wave_counts(&self.plan.waves()[k]);
        let limits = self.plan.wave_limits(k);
        let org = self.plan.wave_request(self.spec, k);
        let of = if total > 1 {
            format!(" (wave {} of {total})", offset + k + 1)
        } else {
            String::new()
        };

        self.lock
            .check_alive()
            .context("the state lock was lost before the request")?;
        // One request, sent twice: validated, then (the same body with
        // validateOnly: false) committed. The wave's desired org is dropped
        // once it is encoded, so one wave's copy is held at a time.
        let mut request = OrganizationRequest::from_desired(&org, limits, true);
        drop(org);
        output::print_stderr(&format!(
            "Validating with the server{of} (validateOnly: true)…\n"
        ));
        let answer = match self.send(runtime, client, &request, Phase::Validate) {
            Sent::Done(Ok(answer)) => answer,
            Sent::Done(Err(err)) => return Err(self.failed(history, err)),
            // Not reached: a validation request is awaited to its end.
            Sent::Abandoned => return Ok(Some(self.abandoned(history))),
        };
        let reported = commands::reported_counts(&answer);
        report_counts("The server's validation", reported.as_ref(), &planned);
        if let Some(signal) = self.signals.received() {
            return Ok(Some(self.interrupted(
                history,
                signal,
                "after the validation request (validateOnly: true, which applies nothing); the \
                 real request was not sent",
            )));
        }
        if let Some(err) = more_than_planned(reported.as_ref(), &planned) {
            history.record(Outcome::Failed, |e| {
                e.reported = reported;
                e.message = Some(err.to_string());
            });
            return Err(err);
        }
        pause_at("preflight");
        if let Some(signal) = self.signals.received() {
            return Ok(Some(self.interrupted(
                history,
                signal,
                "before the real request was sent",
            )));
        }

        self.lock
            .check_alive()
            .context("the state lock was lost before the real request")?;
        request.settings.validate_only = Some(false);
        output::print_stderr(&format!("Applying{of} (validateOnly: false)…\n"));
        let answer = match self.send(runtime, client, &request, Phase::Commit) {
            Sent::Done(Ok(answer)) => answer,
            Sent::Done(Err(err)) => return Err(self.failed(history, err)),
            Sent::Abandoned => return Ok(Some(self.abandoned(history))),
        };
        drop(request);
        let reported = commands::reported_counts(&answer);
        self.commit(history, endpoint, reported, &planned, k)?;
        if let Some(signal) = self.signals.received() {
            let rest = if offset + k + 1 < total {
                format!(
                    "; waves {} to {total} were not sent: run `orgform apply` again to continue",
                    offset + k + 2
                )
            } else {
                String::new()
            };
            output::print_error(&anyhow!(
                "stopped by {}: the request that was in flight was applied and the state records \
                 it{rest}",
                signal.name()
            ));
            return Ok(Some(signal.exit_code()));
        }
        Ok(None)
    }

    /// Sends one request, watching for signals: the first one is told what
    /// happens next; during the real request a second one abandons it.
    fn send(
        &self,
        runtime: &Runtime,
        client: &Client,
        request: &OrganizationRequest,
        phase: Phase,
    ) -> Sent {
        runtime.block_on(async {
            // No request is sent once a signal has been seen (every step
            // checks first), so any signal counted now came during this
            // request, even one that landed before this line ran.
            let seen = 0;
            let send = client.send(request);
            tokio::pin!(send);
            tokio::select! {
                result = &mut send => return Sent::Done(result),
                () = self.signals.beyond(seen) => {}
            }
            let name = self.signals.received().map_or("a signal", Signal::name);
            match phase {
                Phase::Validate => output::print_stderr(&format!(
                    "\n{name} received: waiting for the answer to the validation request \
                     (validateOnly: true applies nothing), then stopping without sending the \
                     real request…\n"
                )),
                Phase::Commit => output::print_stderr(&format!(
                    "\n{name} received while the real request is in flight: waiting for the \
                     server's answer, so that the state records what was applied. A second \
                     signal abandons the request, and then nobody knows whether it was applied.\n"
                )),
            }
            if phase == Phase::Validate {
                return Sent::Done(send.await);
            }
            tokio::select! {
                result = &mut send => Sent::Done(result),
                () = self.signals.beyond(seen + 1) => Sent::Abandoned,
            }
        })
    }

    /// Writes the state after the server applied wave `k`.
    fn commit(
        &self,
        history: &History<'_>,
        endpoint: &Endpoint,
        reported: Option<ChangeCounts>,
        planned: &ChangeCounts,
        k: usize,
    ) -> anyhow::Result<()> {
        pause_at("state-write");
        let total = self.rollout.total;
        let serial = match self.write_state_after(endpoint, k) {
            Ok(serial) => serial,
            Err(err) => {
                history.record(Outcome::MaybeApplied, |e| {
                    e.reported = reported;
                    e.message = Some(
                        "the server applied the plan but the state could not be written".to_owned(),
                    );
                });
                return Err(err.context(
                    "the server APPLIED the plan, but the new state could not be written; the old \
                     state is intact: fix the cause and run `orgform apply` again (it converges: \
                     the request is the full desired org)",
                ));
            }
        };
        history.record(Outcome::Applied, |e| {
            e.serial_after = Some(serial);
            e.reported = reported;
        });
        report_counts("Applied. The server reports", reported.as_ref(), planned);
        if total > 1 {
            output::print_stderr(&format!(
                "Wave {} of {total} applied; state serial {serial}.\n",
                self.rollout.offset + k + 1
            ));
        }
        if let Some(r) = reported {
            let differences = commands::differences(planned, &r);
            if !differences.is_empty() {
                output::print_stderr(
                    "warning: the server reports fewer changes than planned (see above): an earlier \
                     attempt was applied without its state being written, or the account holds data \
                     the state did not know about; the state now records what the plan predicts\n",
                );
            }
        }
        Ok(())
    }

    /// Writes the state that the plan predicts (serial + 1, same lineage).
    fn write_state(&self, endpoint: &Endpoint) -> anyhow::Result<u64> {
        self.write_state_after(endpoint, 0)
    }

    /// Writes the state after wave `k` of this run's plan (serial + 1 for
    /// every wave), with the `rollout` record of a plan in waves.
    fn write_state_after(&self, endpoint: &Endpoint, k: usize) -> anyhow::Result<u64> {
        let last = k + 1 >= self.plan.waves().len();
        let org = if last {
            self.plan.effective_after().clone()
        } else {
            self.plan.effective_after_wave(k)
        };
        // The checked, normalised URL: no credentials can be in it.
        let shown = endpoint.url.clone();
        let total = self.rollout.total;
        let mut next = match self.state {
            Some(prev) => prev.next(org, self.spec.digest(), Some(&shown)),
            None => State::first(org, self.spec.digest(), Some(&shown)),
        };
        // The waves of one run are one lineage: the first commit's.
        if let Some(lineage) = self.lineage.borrow().as_ref() {
            next.lineage.clone_from(lineage);
        }
        if let Some(prev) = self.state {
            // Every wave's commit is serial + 1 from the one before.
            next.serial = prev.serial + k as u64 + 1;
        } else {
            next.serial = k as u64 + 1;
        }
        if total > 1 {
            next = next.with_rollout(orgform_state::Rollout {
                plan_digest: self.rollout.digest.clone(),
                base_serial: self.rollout.base_serial,
                waves_done: (self.rollout.offset + k + 1) as u32,
                waves_total: total as u32,
            });
        }
        self.lock
            .commit(&next)
            .context("cannot write the new state")?;
        *self.lineage.borrow_mut() = Some(next.lineage.clone());
        Ok(next.serial)
    }

    /// A signal stopped the run where nothing was applied.
    fn interrupted(&self, history: &History<'_>, signal: Signal, when: &str) -> ExitCode {
        history.record(Outcome::Interrupted, |e| {
            e.message = Some(format!("{} {when}", signal.name()));
        });
        output::print_error(&anyhow!(
            "apply stopped by {} {when}: nothing was applied; the state is unchanged and the lock \
             is released; run `orgform apply` again when ready",
            signal.name()
        ));
        signal.exit_code()
    }

    /// A second signal abandoned the real request.
    fn abandoned(&self, history: &History<'_>) -> ExitCode {
        let signal = self.signals.received().unwrap_or(Signal::Interrupt);
        history.record(Outcome::MaybeApplied, |e| {
            e.message = Some(format!(
                "{} twice: the real request was abandoned before its answer",
                signal.name()
            ));
        });
        output::print_error(&anyhow!(
            "apply abandoned by a second signal while the real request was in flight: the server \
             MAY HAVE APPLIED it; the state is unchanged and the lock is released; run `orgform \
             apply` again (it converges: the request is the full desired org), or `orgform plan \
             --preflight` to see what the server holds"
        ));
        signal.exit_code()
    }

    /// Records a failed request and turns it into the error to print.
    fn failed(&self, history: &History<'_>, err: ClientError) -> anyhow::Error {
        // A validate-only request can have applied nothing, unless the server
        // answered it as a real one (`ValidateOnlyMismatch`): the client knows.
        let maybe = err.may_have_applied();
        let outcome = if maybe {
            Outcome::MaybeApplied
        } else {
            Outcome::Failed
        };
        history.record(outcome, |e| e.message = Some(err.to_string()));
        if let ClientError::Rejected { errors, .. } = &err {
            let mut text = String::from("The server refused the plan:\n");
            text.push_str(&preflight::explain_rejection(errors, self.spec));
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

/// A server reporting more changes than planned would do what nobody
/// reviewed: stop before the real request.
fn more_than_planned(
    reported: Option<&ChangeCounts>,
    planned: &ChangeCounts,
) -> Option<anyhow::Error> {
    let reported = reported?;
    let more: Vec<String> = commands::differences(planned, reported)
        .into_iter()
        .filter(|d| d.server > d.planned)
        .map(|d| {
            format!(
                "{} {} {} (planned {})",
                d.server,
                match d.kind {
                    orgform_model::Kind::User => "users",
                    orgform_model::Kind::Group => "groups",
                },
                d.action,
                d.planned
            )
        })
        .collect();
    if more.is_empty() {
        return None;
    }
    Some(anyhow!(
        "the server's validation reports more changes than the plan ({}): it holds data the state \
         does not know about; nothing was applied; run `orgform plan --preflight` to see the drift",
        more.join(", ")
    ))
}

/// The history line of this run, filled in as the run learns things.
#[derive(Clone)]
struct History<'a> {
    store: &'a Store,
    command: String,
    endpoint: Option<String>,
    lineage: Option<String>,
    serial_before: u64,
    /// The plan (or the saved plan's document, for a refused saved plan).
    doc: Option<PlanDoc>,
    /// For a plan in waves: the wave (0-based, of this run's plan) and the
    /// total of the rollout.
    wave: Option<(usize, usize)>,
    /// Waves of the rollout applied before this run.
    offset: usize,
}

impl History<'_> {
    /// The lines of wave `k` of `total`: that wave's serial before, counts
    /// and ids.
    fn wave(&self, k: usize, total: usize) -> History<'_> {
        History {
            serial_before: self.serial_before + k as u64,
            wave: Some((k, total)),
            ..self.clone()
        }
    }

    /// Appends one line with `outcome`, after `fill` adds what it knows.
    fn record(&self, outcome: Outcome, fill: impl FnOnce(&mut HistoryEntry)) {
        let (plan_digest, spec_digest) = self
            .doc
            .as_ref()
            .map_or((String::new(), String::new()), |d| {
                (d.digest(), d.spec_digest.clone())
            });
        let mut entry = HistoryEntry::new("orgform apply", outcome, &plan_digest, &spec_digest);
        entry.command.clone_from(&self.command);
        entry.lineage.clone_from(&self.lineage);
        entry.serial_before = self.serial_before;
        entry.endpoint.clone_from(&self.endpoint);
        if let Some(doc) = &self.doc {
            entry.forced = doc.forced;
            match self.wave {
                Some((k, total)) => {
                    if let Some(w) = doc.waves.get(k) {
                        entry.planned = commands::wave_counts(w);
                    }
                    (entry.created, entry.deleted, entry.deactivated) =
                        ids_of(doc, Some(k as u32 + 1));
                    entry.wave = Some((self.offset + k + 1) as u32);
                    entry.waves = Some(total as u32);
                }
                None => {
                    entry.planned = commands::planned_counts(&doc.summary);
                    (entry.created, entry.deleted, entry.deactivated) = ids_of(doc, None);
                    entry.waves = Some(doc.waves.len() as u32);
                }
            }
        }
        fill(&mut entry);
        if let Err(err) = self.store.append_history(&entry) {
            output::print_stderr(&format!(
                "warning: cannot append to the history `{}`: {err}\n",
                self.store.describe()
            ));
        }
    }

    /// Records a refusal and hands the error back.
    fn refused(&self, err: anyhow::Error) -> anyhow::Error {
        self.record(Outcome::Refused, |e| {
            e.message = Some(format!("{err:#}"));
        });
        err
    }
}

/// The externalIds a plan (or one wave of it, 1-based) creates, deletes
/// and deactivates.
fn ids_of(doc: &PlanDoc, wave: Option<u32>) -> (RecordIds, RecordIds, RecordIds) {
    let mut created = RecordIds::default();
    let mut deleted = RecordIds::default();
    let mut deactivated = RecordIds::default();
    for change in doc
        .changes
        .iter()
        .filter(|c| wave.is_none_or(|w| c.wave == w))
    {
        let target = match change.action {
            Action::Create => &mut created,
            Action::Delete => &mut deleted,
            Action::Update if change.deactivates() => &mut deactivated,
            Action::Update => continue,
        };
        let list = match change.kind {
            orgform_model::Kind::User => &mut target.users,
            orgform_model::Kind::Group => &mut target.groups,
        };
        list.push(change.external_id.clone());
    }
    for ids in [&mut created, &mut deleted, &mut deactivated] {
        ids.users.sort();
        ids.groups.sort();
    }
    (created, deleted, deactivated)
}

/// `orgform apply SPEC|PLANFILE` as run (flags that change what is sent).
fn command_line(args: &ApplyArgs) -> String {
    let mut line = format!("orgform apply {}", args.input.display());
    for (on, flag) in [
        (args.auto_approve, "--auto-approve"),
        (args.confirm, "--confirm"),
        (args.force, "--force"),
        (args.endpoint_moved, "--endpoint-moved"),
    ] {
        if on {
            line.push(' ');
            line.push_str(flag);
        }
    }
    orgform_model::text::clean(&line)
}

/// Plans a spec, or checks a saved plan against the state (stale, altered,
/// another lineage: a refusal); a saved plan whose waves the state's
/// `rollout` shows partly applied is resumed where it stopped.
fn make_plan(
    args: &ApplyArgs,
    input: Input,
    state: Option<&State>,
) -> anyhow::Result<(ValidatedSpec, Plan, Rollout)> {
    let empty = EffectiveOrg::default();
    let saved = match input {
        Input::Spec(spec) => {
            let spec = *spec;
            let plan = orgform_plan::plan(
                &spec,
                base(state, &empty),
                &PlanOptions { force: args.force },
            );
            let rollout = Rollout::of(&plan, state);
            return Ok((spec, plan, rollout));
        }
        Input::Saved(saved) => saved,
    };
    if args.force {
        bail!(
            "--force belongs to `orgform plan`: a saved plan is applied exactly as it was \
             reviewed; make a plan that passes the safety thresholds knowingly with `orgform \
             plan SPEC --force --out PLANFILE`, review it, and apply that file"
        );
    }
    let continues = state
        .and_then(|s| s.rollout.as_ref())
        .filter(|r| r.plan_digest == saved.plan_digest() && r.base_serial == saved.base().serial);
    let result = match continues {
        Some(r) => saved
            .resume(base(state, &empty), r.waves_done as usize)
            .map(|(spec, plan)| {
                let rollout = Rollout {
                    digest: saved.plan_digest().to_owned(),
                    base_serial: saved.base().serial,
                    offset: r.waves_done as usize,
                    total: saved.plan().waves.len(),
                };
                (spec, plan, rollout)
            }),
        None => saved.replan(base(state, &empty)).map(|(spec, plan)| {
            let rollout = Rollout::of(&plan, state);
            (spec, plan, rollout)
        }),
    };
    result.map_err(|err| {
        if let orgform_plan::SavedPlanError::InvalidOrg(diags) = &err {
            output::print_stderr(&diags.render(output::stderr_color()));
        }
        anyhow::Error::new(err).context(format!(
            "refusing to apply the saved plan `{}`",
            args.input.display()
        ))
    })
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
    if is_saved_plan(path) {
        return Ok(Input::Saved(Box::new(commands::review::read_saved(path)?)));
    }
    Ok(Input::Spec(Box::new(load_spec(path)?)))
}

/// Whether `path` is a file whose first byte is `{` (a saved plan is JSON).
/// Reads that byte only: a spec is read by the spec loader, whose size cap
/// refuses a huge file before reading it.
fn is_saved_plan(path: &Path) -> bool {
    let mut first = [0u8; 1];
    path.is_file()
        && std::fs::File::open(path)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut first))
            .is_ok()
        && first[0] == b'{'
}

/// What the prompt got.
enum Reply {
    Line(String),
    Closed,
    Signal(Signal),
}

/// Reads one line of stdin on a thread, so a signal is noticed at once.
fn read_answer(signals: &Signals) -> Reply {
    let (tx, rx) = mpsc::channel();
    // The thread may outlive the prompt (a signal came first); it only
    // reads stdin, and the process ends soon after.
    let _ = std::thread::Builder::new()
        .name("orgform-prompt".to_owned())
        .spawn(move || {
            let mut line = String::new();
            let got = std::io::stdin().lock().read_line(&mut line);
            let _ = tx.send(match got {
                Ok(0) | Err(_) => None,
                Ok(_) => Some(line),
            });
        });
    loop {
        if let Some(signal) = signals.received() {
            return Reply::Signal(signal);
        }
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(Some(line)) => return Reply::Line(line),
            Ok(None) | Err(mpsc::RecvTimeoutError::Disconnected) => return Reply::Closed,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
}

/// Prints the server's counts beside the plan's.
fn report_counts(what: &str, reported: Option<&ChangeCounts>, planned: &ChangeCounts) {
    match reported {
        None => output::print_stderr(&format!(
            "{what}: success (the server reported no counts).\n"
        )),
        Some(got) => output::print_stderr(&format!(
            "{what}: {}.\n",
            commands::counts_line(got, Some(planned))
        )),
    }
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
