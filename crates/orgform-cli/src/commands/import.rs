//! `orgform import`: an HR export to spec files (DESIGN section 8).
//!
//! Every problem is reported at once (text on stderr, or `--format json`
//! on stdout) and nothing is written unless the whole import is valid.
//! The output files never replace a source or the mapping, nor a file that
//! import did not generate (orgform-import's `write_output`).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use orgform_import::{Mapping, PRESETS};

use crate::args::{ImportArgs, ImportFormat};
use crate::output;

/// Runs `orgform import`.
pub fn run(args: &ImportArgs) -> anyhow::Result<ExitCode> {
    if let Some(name) = &args.print_preset {
        let Some(text) = orgform_import::preset_text(name) else {
            bail!(
                "there is no preset `{name}`; the presets are: {}",
                PRESETS.join(", ")
            );
        };
        output::print_stdout(text)?;
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(out), false) = (&args.out, args.sources.is_empty()) else {
        bail!("give the exports to import and --out DIR (see `orgform import --help`)");
    };
    let mapping = match (&args.preset, &args.mapping) {
        (Some(name), _) => match Mapping::preset(name) {
            Some(m) => m,
            None => bail!(
                "there is no preset `{name}`; the presets are: {}",
                PRESETS.join(", ")
            ),
        },
        (None, Some(path)) => {
            let text = orgform_import::read_mapping_text(path)
                .with_context(|| format!("cannot read the mapping `{}`", path.display()))?;
            match Mapping::parse(path, &text) {
                Ok(m) => m,
                Err(diags) => {
                    report(args.format, false, &diags)?;
                    bail!(
                        "the mapping `{}` is invalid; nothing was written",
                        path.display()
                    );
                }
            }
        }
        (None, None) => bail!("give --preset NAME or --mapping FILE"),
    };
    let mut sources = Vec::with_capacity(args.sources.len());
    for path in &args.sources {
        let s = orgform_import::read_source(path).with_context(|| {
            format!(
                "cannot read the export `{}`; nothing was written",
                path.display()
            )
        })?;
        sources.push(s);
    }
    let imported = match orgform_import::import(&sources, &mapping) {
        Ok(i) => i,
        Err(diags) => {
            report(args.format, false, &diags)?;
            let errors = diags.error_count();
            bail!(
                "the import found {errors} error{}; nothing was written",
                if errors == 1 { "" } else { "s" }
            );
        }
    };
    report(args.format, true, &imported.warnings)?;
    let mut forbidden: Vec<&Path> = args.sources.iter().map(|p| p.as_path()).collect();
    if let Some(m) = &args.mapping {
        forbidden.push(m);
    }
    orgform_import::write_output(out, &imported, &forbidden)
        .with_context(|| format!("cannot write the spec files into `{}`", out.display()))?;
    output::print_stderr(&format!(
        "Imported {} user{} and {} group{} into {} (users.yaml, groups.yaml, attributes.yaml).\n",
        imported.users,
        if imported.users == 1 { "" } else { "s" },
        imported.groups,
        if imported.groups == 1 { "" } else { "s" },
        out.display()
    ));
    Ok(ExitCode::SUCCESS)
}

fn report(format: ImportFormat, ok: bool, diags: &orgform_spec::Diagnostics) -> anyhow::Result<()> {
    match format {
        ImportFormat::Json => {
            let doc = serde_json::json!({
                "formatVersion": 1,
                "ok": ok,
                "diagnostics": diags.to_json(),
            });
            output::print_stdout(&format!("{}\n", serde_json::to_string_pretty(&doc)?))?;
        }
        ImportFormat::Text => {
            if !diags.is_empty() {
                output::print_stderr(&diags.render(output::stderr_color()));
            }
        }
    }
    Ok(())
}
