//! `orgform schema` and `orgform completions`.

use std::process::ExitCode;

use std::io::Write;

use clap::CommandFactory;

use crate::args::{Cli, CompletionsArgs};

/// Runs `orgform schema`: prints the spec's JSON Schema (the same text as
/// the committed `schema/orgform.schema.json`).
pub fn run() -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    out.write_all(orgform_spec::spec_schema_text().as_bytes())?;
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
