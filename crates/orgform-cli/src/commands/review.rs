//! What the review commands share: reading a saved plan, and drawing a
//! [`Review`] in the chosen format (`plan` and `show` print the same thing).

use std::path::Path;

use anyhow::{Context, bail};
use orgform_plan::review::Review;
use orgform_plan::{SavedPlan, diff, markdown};

use crate::args::PlanFormat;
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
