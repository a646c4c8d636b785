//! `orgform show PLANFILE`: renders a saved plan without the state.

use std::process::ExitCode;

use anyhow::{Context, bail};
use orgform_plan::SavedPlan;

use crate::args::{PlanFormat, ShowArgs};
use crate::output;

/// Runs `orgform show`.
pub fn run(args: &ShowArgs) -> anyhow::Result<ExitCode> {
    if args.redact {
        bail!("--redact is not available yet in this build");
    }
    let bytes = std::fs::read(&args.planfile)
        .with_context(|| format!("cannot read the plan file `{}`", args.planfile.display()))?;
    let saved: SavedPlan = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "`{}` is not a plan saved by `orgform plan --out`",
            args.planfile.display()
        )
    })?;
    let text = match args.format {
        PlanFormat::Text => saved.render_text(&orgform_plan::render::TextOptions {
            color: output::stdout_color(),
        }),
        PlanFormat::Json => saved.render_json(),
        PlanFormat::Markdown | PlanFormat::Diff => {
            bail!("--format markdown and --format diff are not available yet in this build")
        }
    };
    output::print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}
