//! `orgform plan`: what apply would change. Reads the state, takes no lock,
//! changes nothing (except `--out` and `--deletions-report` files).

use std::process::ExitCode;

use anyhow::{Context, bail};
use orgform_model::EffectiveOrg;
use orgform_plan::review::Review;
use orgform_plan::{Plan, PlanOptions, SavedPlan, diff, markdown, report};

use crate::args::{PlanArgs, PlanFormat};
use crate::commands::{Diagnostics, base, load_spec_with, load_state, preflight, store};
use crate::output;

/// Runs `orgform plan`.
pub fn run(args: &PlanArgs) -> anyhow::Result<ExitCode> {
    let store = store(args.state.state.as_deref());
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
        Some(path) => Some((path, super::show::read_saved(path)?)),
        None => None,
    };
    let state = state?;
    let empty = EffectiveOrg::default();
    let plan = orgform_plan::plan(
        &spec,
        base(state.as_ref(), &empty),
        &PlanOptions { force: args.force },
    );

    // Masking happens once, on the data, before any renderer sees it.
    let before = state.as_ref().map_or(&empty, |s| &s.org);
    let mut review = Review::of_plan(&plan, before);
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
    output::print_stdout(&render_review(review, args.format)?)?;

    if let Some(path) = &args.deletions_report {
        let rows = report::deletions(review);
        orgform_state::write_private_atomic(path, report::csv(&rows).as_bytes())
            .with_context(|| format!("cannot write the deletions report `{}`", path.display()))?;
        output::print_stderr(&format!(
            "Wrote {} deletion{} and deactivation{} to `{}`{}.\n",
            rows.len(),
            if rows.len() == 1 { "" } else { "s" },
            if rows.len() == 1 { "" } else { "s" },
            path.display(),
            if args.redact {
                " (personal data masked)"
            } else {
                ""
            }
        ));
    }

    if let Some(out) = &args.out {
        let endpoint = state.as_ref().and_then(|s| s.endpoint.as_deref());
        let saved = SavedPlan::new(&plan, &spec, endpoint);
        let bytes = serde_json::to_vec_pretty(&saved).context("cannot encode the saved plan")?;
        orgform_state::write_private_atomic(out, &bytes)
            .with_context(|| format!("cannot write the plan file `{}`", out.display()))?;
        output::print_stderr(&format!(
            "Saved the plan to `{}`. Apply exactly this plan with: orgform apply {}\n",
            out.display(),
            out.display()
        ));
    }
    if args.preflight {
        let verdict = preflight::run(
            &spec,
            &plan,
            state.as_ref(),
            &store,
            args.endpoint.as_deref(),
        )?;
        if verdict == preflight::Verdict::Drift {
            // Drift stops CI whatever --detailed-exitcode says.
            return Ok(ExitCode::from(1));
        }
    }
    let code = exit_code(&plan, args.detailed_exitcode);
    // The process ends right after this: freeing a 100k-user spec, state
    // and plan one allocation at a time would only delay the exit.
    std::mem::forget((spec, state, plan));
    Ok(code)
}

/// A reviewed plan in the chosen format. A comparison (`--compare`) is
/// appended to text, included in Markdown, added as a `comparison` key to
/// the JSON document, and printed to stderr beside a diff (which stays a
/// pure diff).
pub fn render_review(review: &Review<'_>, format: PlanFormat) -> anyhow::Result<String> {
    let comparison = review.comparison();
    Ok(match format {
        PlanFormat::Text => {
            let mut out = orgform_plan::render::text_doc(
                review.doc(),
                &orgform_plan::render::TextOptions {
                    color: output::stdout_color(),
                },
            );
            if let Some((c, source)) = comparison {
                out.push('\n');
                out.push_str(&c.text(source));
            }
            out
        }
        PlanFormat::Json => match comparison {
            None => orgform_plan::render::json_doc(review.doc()),
            Some((c, _)) => {
                let mut doc =
                    serde_json::to_value(review.doc()).context("cannot encode the plan")?;
                if let Some(object) = doc.as_object_mut() {
                    object.insert(
                        "comparison".to_owned(),
                        serde_json::to_value(c).context("cannot encode the comparison")?,
                    );
                }
                let mut out =
                    serde_json::to_string_pretty(&doc).context("cannot encode the plan")?;
                out.push('\n');
                out
            }
        },
        PlanFormat::Markdown => markdown::render(review, &markdown::MarkdownOptions::default()),
        PlanFormat::Diff => {
            let options = diff::DiffOptions {
                color: output::stdout_color(),
                ..diff::DiffOptions::default()
            };
            let Some(out) = diff::render(review, &options) else {
                bail!(
                    "--format diff needs the state the plan was made against; run `orgform \
                     plan SPEC --format diff`, or `orgform show PLANFILE --format diff --state \
                     PATH` with that state"
                );
            };
            if let Some((c, source)) = comparison {
                output::print_stderr(&c.text(source));
            }
            if review.doc().blocked {
                // The diff shows what the plan would do; say it may not.
                let mut note = String::from("This plan is BLOCKED; apply will refuse it:\n");
                for r in &review.doc().blocked_reasons {
                    note.push_str(&format!("  - [{}] {}\n", r.code, r.message));
                }
                output::print_stderr(&note);
            }
            out
        }
    })
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
