//! `orgform validate`: every diagnostic at once; exit 0 when valid, 1 otherwise.
//! Text output sums up the diagnostics past the first three of one code
//! (`--all` draws every one; JSON always has all) and ends with the total
//! ("2 errors, 3 warnings") on stderr.
//! `--format markdown` prints a pull-request comment instead (with the plan
//! comment's marker, so CI posts it in the plan comment's place when the
//! spec does not validate).

use std::process::ExitCode;

use orgform_spec::LoadOptions;

use crate::args::{DiagnosticFormat, ValidateArgs};
use crate::output;

/// Runs `orgform validate`.
pub fn run(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let result = orgform_spec::load(&args.spec, &LoadOptions::default());
    let (valid, diagnostics) = match &result {
        Ok(spec) => (true, spec.warnings()),
        Err(diags) => (false, diags),
    };
    match args.format {
        DiagnosticFormat::Json => {
            let doc = serde_json::json!({
                "formatVersion": 1,
                "valid": valid,
                "diagnostics": diagnostics.to_json(),
            });
            output::print_stdout(&format!("{}\n", serde_json::to_string_pretty(&doc)?))?;
        }
        DiagnosticFormat::Markdown => {
            // A PR comment either way; the exit code still says valid or not.
            let spec = args.spec.display().to_string();
            let options = orgform_plan::markdown::MarkdownOptions::default();
            let comment = match &result {
                Ok(spec_ok) => {
                    orgform_plan::markdown::valid_spec(&spec, spec_ok.warnings(), &options)
                }
                Err(diags) => orgform_plan::markdown::invalid_spec(&spec, diags, &options),
            };
            output::print_stdout(&comment)?;
        }
        DiagnosticFormat::Text => {
            let color = output::stderr_color();
            if !diagnostics.is_empty() {
                let drawn = if args.all {
                    diagnostics.render_all(color)
                } else {
                    diagnostics.render(color)
                };
                output::print_stderr(&drawn);
                // The closing total (like cargo's), after a blank line.
                let total = if valid {
                    format!(
                        "\nthe spec `{}` is valid: {}\n",
                        args.spec.display(),
                        diagnostics.total()
                    )
                } else {
                    format!(
                        "\n{}: the spec `{}` is invalid: {}\n",
                        orgform_model::palette::paint(
                            color,
                            orgform_model::palette::ERROR,
                            "error"
                        ),
                        args.spec.display(),
                        diagnostics.total()
                    )
                };
                output::print_stderr(&total);
            }
            if let Ok(spec) = &result {
                let org = spec.org();
                let users = org
                    .users
                    .as_ref()
                    .map_or("not managed".to_owned(), |u| u.len().to_string());
                let groups = org
                    .groups
                    .as_ref()
                    .map_or("not managed".to_owned(), |g| g.len().to_string());
                output::print_stdout(&format!(
                    "The spec `{}` is valid (users: {users}, groups: {groups}).\n",
                    args.spec.display()
                ))?;
            }
        }
    }
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
