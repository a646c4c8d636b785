//! `orgform schema` and `orgform completions`.

use std::process::ExitCode;

use anyhow::bail;
use clap::CommandFactory;

use crate::args::{Cli, CompletionsArgs};

/// Runs `orgform schema`.
pub fn run() -> anyhow::Result<ExitCode> {
    bail!("`orgform schema` is not available yet in this build")
}

/// Runs `orgform completions SHELL`.
pub fn completions(args: &CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cmd, "orgform", &mut out);
    Ok(ExitCode::SUCCESS)
}
