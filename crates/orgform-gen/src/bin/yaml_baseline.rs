//! `yaml-baseline SPEC`: the floor the performance targets are ratios to.
//! It merely parses a spec (a file, or a directory of `*.yaml` files, in
//! name order) into the model's serde structs with serde_yaml, merges the
//! `users` and `groups` lists, and prints the counts. No validation, no
//! positions, no sorting, no digest.
//!
//! Like `orgform`, it does not free the org at exit (`mem::forget`), so
//! that the comparison is of the work, not of the allocator's teardown.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: yaml-baseline SPEC");
        return ExitCode::from(1);
    };
    match orgform_gen::baseline::parse(Path::new(&path)) {
        Ok(org) => {
            println!(
                "{} users, {} groups",
                org.users.as_ref().map_or(0, Vec::len),
                org.groups.as_ref().map_or(0, Vec::len)
            );
            std::mem::forget(org);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
