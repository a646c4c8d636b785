//! The orgform command line: clap definitions ([`args`]), one module per
//! command ([`commands`]), and the printer ([`output`]). The only crate that
//! talks to the user.
//!
//! Exit codes (DESIGN section 4): 0 ok; 1 any error, usage errors included
//! (clap's 2 is mapped to 1 so CI never reads a typo as "changes"); 2 only
//! for `plan --detailed-exitcode` when there are changes.
//!
//! ```no_run
//! std::process::exit(match orgform_cli::main() { _ => 0 });
//! ```

pub mod args;
pub mod commands;
pub mod output;
pub mod signals;

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use crate::args::{Cli, Command};

/// Runs orgform with the process's arguments and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return match err.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => ExitCode::from(1),
                _ => ExitCode::from(1),
            };
        }
    };
    init_tracing();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            if output::is_broken_pipe(&err) {
                // `orgform plan | head`: the reader left; that is not an error.
                return ExitCode::SUCCESS;
            }
            output::print_error(&err);
            ExitCode::from(1)
        }
    }
}

/// Dispatches a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate(a) => commands::validate::run(&a),
        Command::Plan(a) => commands::plan::run(&a),
        Command::Apply(a) => commands::apply::run(&a),
        Command::Show(a) => commands::show::run(&a),
        Command::State(a) => commands::state::run(&a),
        Command::ForceUnlock(a) => commands::state::force_unlock(&a),
        Command::History(a) => commands::history::run(&a),
        Command::Sim(a) => commands::sim::run(&a),
        Command::Fmt(a) => commands::fmt::run(&a),
        Command::Graph(a) => commands::graph::run(&a),
        Command::Import(a) => commands::import::run(&a),
        Command::Schema(a) => commands::schema::run(&a),
        Command::Completions(a) => commands::schema::completions(&a),
    }
}

/// Debug logs go to stderr, filtered by `RUST_LOG` (off by default). No
/// layer ever sees a token: the client marks it sensitive and logs no headers.
fn init_tracing() {
    let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG") else {
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(output::stderr_color())
        .try_init();
}
