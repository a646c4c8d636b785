//! The orgform command line: clap definitions, one module per command, and
//! the printer. The only crate that talks to the user.

use std::process::ExitCode;

/// Runs orgform with the process's arguments and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    ExitCode::SUCCESS
}
