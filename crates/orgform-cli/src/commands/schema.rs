//! `orgform schema` and `orgform completions`.

use std::process::ExitCode;

use std::io::Write;

use clap::CommandFactory;

use crate::args::{Cli, CompletionsArgs, SchemaArgs};

/// Runs `orgform schema`: prints the spec's JSON Schema (the same text as
/// the committed `schema/orgform.schema.json`), or with `--mapping` the
/// schema of an `orgform import` mapping.
pub fn run(args: &SchemaArgs) -> anyhow::Result<ExitCode> {
    let text = if args.mapping {
        orgform_import::mapping_schema_text()
    } else {
        orgform_spec::spec_schema_text()
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `orgform completions SHELL`.
pub fn completions(args: &CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cmd, "orgform", &mut out);
    Ok(ExitCode::SUCCESS)
}
