//! `orgform show PLANFILE`: renders a saved plan.
//!
//! Text, JSON and Markdown need only the file: they render the reviewed
//! plan's document. A saved plan holds the desired org and the plan, not
//! the state, so `--format diff` also reads the state (`--state`, else the
//! usual place) and uses it only when it is exactly the one the plan was
//! made against: it replans the saved org against it and checks that this
//! gives the reviewed plan (as `apply` does), then diffs. Otherwise it
//! says so and fails; `orgform plan --format diff` needs no saved plan.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use orgform_plan::SavedPlan;
use orgform_plan::review::Review;

use crate::args::{PlanFormat, ShowArgs};
use crate::commands::{load_state, plan::render_review, store};
use crate::output;

/// Reads a plan saved by `orgform plan --out` and checks that it agrees
/// with itself (not edited since it was saved).
pub fn read_saved(path: &Path) -> anyhow::Result<SavedPlan> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read the plan file `{}`", path.display()))?;
    let saved: SavedPlan = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "`{}` is not a plan saved by `orgform plan --out`",
            path.display()
        )
    })?;
    saved
        .check_integrity()
        .with_context(|| format!("cannot use the plan file `{}`", path.display()))?;
    Ok(saved)
}

/// Runs `orgform show`.
pub fn run(args: &ShowArgs) -> anyhow::Result<ExitCode> {
    let saved = read_saved(&args.planfile)?;
    let text = if args.format == PlanFormat::Diff {
        let store = store(args.state.state.as_deref());
        let state = load_state(&store)?;
        let lineage = state.as_ref().map(|s| s.lineage.as_str());
        let serial = state.as_ref().map_or(0, |s| s.serial);
        saved.check_base(lineage, serial).with_context(|| {
            format!(
                "--format diff needs the state the plan was made against (`{}` is not it); \
                 pass it with --state, or run `orgform plan SPEC --format diff`",
                store.path().display()
            )
        })?;
        let spec = orgform_spec::validate_org(saved.org().clone()).map_err(|d| {
            anyhow::anyhow!(
                "the saved plan's org is not valid:\n{}",
                d.render(output::stderr_color())
            )
        })?;
        let empty = orgform_model::EffectiveOrg::default();
        let before = state.as_ref().map_or(&empty, |s| &s.org);
        let plan = orgform_plan::plan(
            &spec,
            crate::commands::base(state.as_ref(), &empty),
            &saved.options(),
        );
        saved
            .verify(&plan)
            .context("the state and the saved org no longer give the reviewed plan")?;
        let review = Review::of_plan(&plan, before);
        render(&review, args)?
    } else {
        render(&Review::of_doc(saved.plan()), args)?
    };
    output::print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn render(review: &Review<'_>, args: &ShowArgs) -> anyhow::Result<String> {
    if args.redact {
        render_review(&review.redacted(), args.format)
    } else {
        render_review(review, args.format)
    }
}
