//! `orgform plan`: what apply would change. Reads the state, takes no lock,
//! changes nothing (except `--out` and `--deletions-report` files).

use std::process::ExitCode;

use anyhow::{Context, bail};
use orgform_model::EffectiveOrg;
use orgform_plan::{Plan, PlanOptions, SavedPlan};

use crate::args::{PlanArgs, PlanFormat};
use crate::commands::{base, load_spec, load_state, preflight, store};
use crate::output;

/// Runs `orgform plan`.
pub fn run(args: &PlanArgs) -> anyhow::Result<ExitCode> {
    if args.redact || args.deletions_report.is_some() {
        bail!("--redact and --deletions-report are not available yet in this build");
    }
    let spec = load_spec(&args.spec)?;
    let store = store(args.state.state.as_deref());
    let state = load_state(&store)?;
    let empty = EffectiveOrg::default();
    let plan = orgform_plan::plan(
        &spec,
        base(state.as_ref(), &empty),
        &PlanOptions { force: args.force },
    );

    output::print_stdout(&render(&plan, args.format)?)?;

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
    Ok(exit_code(&plan, args.detailed_exitcode))
}

/// A plan in the chosen format.
pub fn render(plan: &Plan, format: PlanFormat) -> anyhow::Result<String> {
    Ok(match format {
        PlanFormat::Text => orgform_plan::render::text(
            plan,
            &orgform_plan::render::TextOptions {
                color: output::stdout_color(),
            },
        ),
        PlanFormat::Json => orgform_plan::render::json(plan),
        PlanFormat::Markdown | PlanFormat::Diff => {
            bail!("--format markdown and --format diff are not available yet in this build")
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
