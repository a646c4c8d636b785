//! `orgform plan`: what apply would change. Reads the state, takes no lock,
//! changes nothing (except `--out` and `--deletions-report` files).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use orgform_model::EffectiveOrg;
use orgform_plan::review::Review;
use orgform_plan::{Plan, PlanOptions, SavedPlan, report};
use orgform_spec::ValidatedSpec;

use crate::args::{PlanArgs, PlanFormat};
use crate::commands::review::render_review;
use crate::commands::{Diagnostics, base, load_spec_with, load_state, preflight, store};
use crate::output;

/// Runs `orgform plan`.
pub fn run(args: &PlanArgs) -> anyhow::Result<ExitCode> {
    let store = store(args.state.state.as_deref());
    check_output_paths(args, &store)?;
    // The state is read on a second thread while the spec is parsed (at
    // 100k users that hides the state's ~0.2 s); errors keep their order.
    let (spec, state) = std::thread::scope(|s| {
        let state = s.spawn(|| load_state(&store));
        let shown = if args.redact {
            Diagnostics::Redacted
        } else {
            Diagnostics::Full
        };
        let spec = load_spec_with(&args.spec, shown);
        let state = state
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (spec, state)
    });
    let spec = spec?;
    // The reviewed plan is read first: a wrong path fails before any output.
    let previous = match &args.compare {
        Some(path) => Some((path, super::review::read_saved(path)?)),
        None => None,
    };
    let state = state?;
    let empty = EffectiveOrg::default();
    // The spec's digest (a hash of its whole canonical JSON) is computed on
    // a second thread while the plan is made; the plan takes it last.
    let plan = std::thread::scope(|s| {
        s.spawn(|| spec.digest().len());
        orgform_plan::plan(
            &spec,
            base(state.as_ref(), &empty),
            &PlanOptions { force: args.force },
        )
    });

    // Masking happens once, on the data, before any renderer sees it.
    let before = state.as_ref().map_or(&empty, |s| &s.org);
    // The comment names the endpoint apply would send to (never credentials).
    let endpoint = super::choose_endpoint(args.endpoint.as_deref(), &spec, state.as_ref());
    let mut review = Review::of_plan(&plan, before).with_endpoint(&endpoint.url);
    if let Some((path, saved)) = &previous {
        let comparison = orgform_plan::compare::compare(saved.plan(), plan.doc());
        review = review.with_comparison(comparison, &path.display().to_string());
    }
    let redacted;
    let review = if args.redact {
        redacted = review.redacted();
        &redacted
    } else {
        &review
    };
    // JSON and text are streamed: an empty-state plan is as large as the org.
    match (args.format, review.comparison()) {
        (PlanFormat::Json, None) => output::print_json_stdout(review.doc())?,
        (PlanFormat::Text, None) => output::print_parts_stdout(|sink| {
            let options = orgform_plan::render::TextOptions {
                color: output::stdout_color(),
            };
            orgform_plan::render::text_doc_to(review.doc(), &options, sink);
        })?,
        _ => output::print_stdout(&render_review(review, args.format)?)?,
    }
    if let Some(r) = state.as_ref().and_then(|s| s.unfinished_rollout()) {
        output::print_stderr(&format!(
            "warning[rolloutUnfinished]: the last apply stopped after wave {} of {} of plan `{}`; \
             the state holds that intermediate organization: `orgform apply` finishes it (this \
             plan is the rest of the change)\n",
            r.waves_done,
            r.waves_total,
            orgform_model::text::clean(&r.plan_digest)
        ));
    }

    if let Some(path) = &args.deletions_report {
        write_deletions_report(path, review, args.redact)?;
    }
    if let Some(out) = &args.out {
        let endpoint = state.as_ref().and_then(|s| s.endpoint.as_deref());
        save_plan(out, &plan, &spec, endpoint)?;
    }
    if args.preflight {
        let verdict = preflight::run(
            &spec,
            &plan,
            state.as_ref(),
            &store,
            args.endpoint.as_deref(),
        )?;
        if matches!(
            verdict,
            preflight::Verdict::Drift | preflight::Verdict::Refused
        ) {
            // Drift and refusals stop CI whatever --detailed-exitcode says.
            return Ok(ExitCode::from(1));
        }
    }
    let code = exit_code(&plan, args.detailed_exitcode);
    // The process ends right after this: freeing a 100k-user spec, state
    // and plan one allocation at a time would only delay the exit.
    std::mem::forget((spec, state, plan));
    Ok(code)
}

/// `--deletions-report`: the deletions and deactivations as CSV.
fn write_deletions_report(path: &Path, review: &Review<'_>, redacted: bool) -> anyhow::Result<()> {
    let rows = report::deletions(review);
    orgform_state::write_private_atomic(path, report::csv(&rows).as_bytes())
        .with_context(|| format!("cannot write the deletions report `{}`", path.display()))?;
    let s = if rows.len() == 1 { "" } else { "s" };
    output::print_stderr(&format!(
        "Wrote {} deletion{s} and deactivation{s} to `{}`{}.\n",
        rows.len(),
        path.display(),
        if redacted {
            " (personal data masked)"
        } else {
            ""
        }
    ));
    Ok(())
}

/// `--out`: the plan saved for `orgform apply PLANFILE`.
fn save_plan(
    out: &Path,
    plan: &Plan,
    spec: &ValidatedSpec,
    endpoint: Option<&str>,
) -> anyhow::Result<()> {
    let saved = SavedPlan::new(plan, spec, endpoint);
    let bytes = serde_json::to_vec_pretty(&saved).context("cannot encode the saved plan")?;
    orgform_state::write_private_atomic(out, &bytes)
        .with_context(|| format!("cannot write the plan file `{}`", out.display()))?;
    if plan.is_blocked() {
        output::print_stderr(&format!(
            "Saved the plan to `{}`. It is BLOCKED, so apply will refuse it: change the spec, \
             or, where only the safety thresholds block it, make an unblocked plan knowingly \
             with `orgform plan --force --out PLANFILE`\n",
            out.display()
        ));
    } else {
        output::print_stderr(&format!(
            "Saved the plan to `{}`. Apply exactly this plan with: orgform apply {}\n",
            out.display(),
            out.display()
        ));
    }
    Ok(())
}

/// `--out` and `--deletions-report` (DESIGN section 11): checked before
/// anything is read or printed. Never the state, its backup, lock or
/// history, nor a file of the spec being read (every entry of a spec
/// directory); only a new path or an existing regular file, never a
/// symlink, device or FIFO (`orgform_files::check_output_path`).
fn check_output_paths(args: &PlanArgs, store: &orgform_state::Store) -> anyhow::Result<()> {
    let outputs = [
        (args.out.as_deref(), "--out"),
        (args.deletions_report.as_deref(), "--deletions-report"),
    ];
    if outputs.iter().all(|(p, _)| p.is_none()) {
        return Ok(());
    }
    let mut forbidden: Vec<std::path::PathBuf> = vec![args.spec.clone()];
    if store.is_file() {
        forbidden.extend([
            store.path().to_owned(),
            store.backup_path().to_owned(),
            store.lock_path().to_owned(),
            store.history_path(),
        ]);
    }
    if let Ok(entries) = std::fs::read_dir(&args.spec) {
        forbidden.extend(entries.flatten().map(|e| e.path()));
    }
    let forbidden: Vec<&std::path::Path> = forbidden.iter().map(|p| p.as_path()).collect();
    for (path, flag) in outputs {
        if let Some(path) = path {
            orgform_files::check_output_path(path, &forbidden).with_context(|| {
                format!(
                    "refusing {flag} `{}`: nothing was written; choose another path",
                    path.display()
                )
            })?;
        }
    }
    if let (Some(a), Some(b)) = (args.out.as_deref(), args.deletions_report.as_deref())
        && orgform_files::check_output_path(a, &[b]).is_err()
    {
        anyhow::bail!(
            "--out and --deletions-report name the same file `{}`",
            a.display()
        );
    }
    Ok(())
}

/// 1 for a blocked plan; with `--detailed-exitcode`, 2 for changes, else 0.
pub fn exit_code(plan: &Plan, detailed: bool) -> ExitCode {
    if plan.is_blocked() {
        ExitCode::from(1)
    } else if detailed && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}
