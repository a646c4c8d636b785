//! `orgform show PLANFILE`: renders a saved plan.
//!
//! Text and JSON need only the file: they render the reviewed plan's
//! document. A saved plan holds the desired org and the plan, not the
//! state, so `--format diff` also reads the state (`--state`, else the
//! usual place) and uses it only when it is exactly the one the plan was
//! made against: it replans the saved org against it and checks that this
//! gives the reviewed plan (as `apply` does), then diffs; otherwise it says
//! so and fails (`orgform plan --format diff` needs no saved plan).
//! Markdown does the same when it can, so `show` prints the very comment
//! `plan` printed; without that state it renders the saved document alone,
//! where a deactivated user's groups are listed only if the plan changes
//! them.

use std::process::ExitCode;

use anyhow::Context;
use orgform_model::EffectiveOrg;
use orgform_plan::review::Review;
use orgform_plan::{Plan, SavedPlan, SavedPlanError};
use orgform_state::State;

use crate::args::{PlanFormat, ShowArgs};
use crate::commands::review::{read_saved, render_review};
use crate::commands::{base, load_state, store};
use crate::output;

/// Runs `orgform show`.
pub fn run(args: &ShowArgs) -> anyhow::Result<ExitCode> {
    let saved = read_saved(&args.planfile)?;
    let endpoint = endpoint_of(&saved);
    let text = match args.format {
        PlanFormat::Text | PlanFormat::Json => render(&Review::of_doc(saved.plan()), args)?,
        PlanFormat::Markdown => match replan(&saved, args) {
            // The state the plan was made against gives the full comment
            // (a deactivated user's groups); without it, the saved plan's.
            Ok((plan, state)) => {
                let empty = EffectiveOrg::default();
                let before = state.as_ref().map_or(&empty, |s| &s.org);
                render(
                    &Review::of_plan(&plan, before).with_endpoint(&endpoint),
                    args,
                )?
            }
            Err(_) => render(&Review::of_doc(saved.plan()).with_endpoint(&endpoint), args)?,
        },
        PlanFormat::Diff => {
            let (plan, state) = replan(&saved, args)?;
            let empty = EffectiveOrg::default();
            let before = state.as_ref().map_or(&empty, |s| &s.org);
            render(&Review::of_plan(&plan, before), args)?
        }
    };
    output::print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// The endpoint applying the saved plan would use by default:
/// `ORGFORM_ENDPOINT`, else its org's `target.endpoint`, else the endpoint
/// its base state was applied to, else the real API's.
fn endpoint_of(saved: &SavedPlan) -> String {
    [
        std::env::var(super::ENDPOINT_ENV).ok(),
        saved.org().target.endpoint.clone(),
        saved.base().endpoint.clone(),
    ]
    .into_iter()
    .flatten()
    .map(|e| e.trim().to_owned())
    .find(|e| !e.is_empty())
    .unwrap_or_else(|| orgform_frankly::DEFAULT_ENDPOINT.to_owned())
}

/// Replans the saved org against the state, which must be the plan's
/// base, and checks that this gives the reviewed plan (the one check apply
/// makes too: [`SavedPlan::replan`]).
fn replan(saved: &SavedPlan, args: &ShowArgs) -> anyhow::Result<(Plan, Option<State>)> {
    let store = store(args.state.state.as_deref());
    let state = load_state(&store)?;
    let empty = EffectiveOrg::default();
    let (_, plan) = saved
        .replan(base(state.as_ref(), &empty))
        .inspect_err(|err| {
            if let SavedPlanError::InvalidOrg(diags) = err {
                output::print_stderr(&diags.render(output::stderr_color()));
            }
        })
        .with_context(|| {
            format!(
                "this needs the state the plan was made against (`{}` does not give the \
                 reviewed plan); pass it with --state, or run `orgform plan SPEC --format diff`",
                store.describe()
            )
        })?;
    Ok((plan, state))
}

fn render(review: &Review<'_>, args: &ShowArgs) -> anyhow::Result<String> {
    if args.redact {
        render_review(&review.redacted(), args.format)
    } else {
        render_review(review, args.format)
    }
}
