//! `orgform fmt [--check] [--fix] [SPEC]`: the canonical key order and
//! layout of spec files (orgform-spec's `format_file` decides what
//! canonical is), and with `--fix` their mechanical problems fixed
//! (orgform-spec's `fix_file`).
//!
//! - A directory spec: each of its `*.yaml`/`*.yml` files, as `load` reads
//!   them (a symlink, FIFO or device among them is refused, as `load`
//!   refuses it).
//! - Without `--check`: every file that is not canonical is rewritten and
//!   its path printed on stdout. Writes are atomic (`orgform_files`: a temp
//!   file with a random name beside it, fsync, rename, fsync of the
//!   directory) and keep the file's permissions (a spec is not private
//!   data, unlike the state); a symlink given as the spec is followed and
//!   its target rewritten.
//! - `--check`: nothing is written; the paths of the files `fmt` would
//!   change are printed on stdout, and the exit code is 1 when there is
//!   one. Comments are part of the check: they are kept by `fmt`, so a
//!   file is canonical only with its comments in their canonical places.
//! - `--fix`: numbers written where strings belong (`externalId: 0000897`,
//!   `phone: +46701234567`, `memberOf: [0000897]`) are quoted and
//!   `yes`/`no`/`on`/`off` where a boolean belongs become `true`/`false`,
//!   token by token, comments kept; a file left without errors is then
//!   formatted too. What `--fix` does not fix (a syntax error, an unknown
//!   field, a wrong type) is printed with its diagnostics, the file keeps
//!   the fixes that were mechanical, and the exit code is 1. With
//!   `--check` too, nothing is written and the files `--fix` would change
//!   are listed.
//! - A file that cannot be formatted (a shape error `validate` reports, an
//!   anchor or alias) is reported with its diagnostics and left as it is;
//!   the other files are still formatted, and the exit code is 1.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use orgform_spec::{Diagnostics, LoadOptions};

use crate::args::FmtArgs;
use crate::output;

/// What one file came to.
enum Outcome {
    /// The new text, if it differs, and the errors left (`--fix`).
    Done {
        text: Option<String>,
        fixed: usize,
        left: Option<Diagnostics>,
    },
    /// Could not be formatted or fixed; its diagnostics were printed.
    Failed,
}

/// Runs `orgform fmt`.
pub fn run(args: &FmtArgs) -> anyhow::Result<ExitCode> {
    let files = match orgform_spec::spec_files(&args.spec) {
        Ok(f) => f,
        Err(diags) => {
            output::print_stderr(&diags.render(output::stderr_color()));
            bail!("nothing to format at `{}`", args.spec.display());
        }
    };
    let mut changed = 0usize;
    let mut failed = 0usize;
    let mut fixed_total = 0usize;
    let mut left_total = 0usize;
    let mut with_left = 0usize;
    for path in &files {
        let (text, fixed, left) = match one_file(path, args.fix) {
            Outcome::Done { text, fixed, left } => (text, fixed, left),
            Outcome::Failed => {
                failed += 1;
                continue;
            }
        };
        fixed_total += fixed;
        if let Some(left) = left.filter(|l| !l.is_empty()) {
            output::print_stderr(&left.render(output::stderr_color()));
            left_total += left.len();
            with_left += 1;
        }
        let Some(text) = text else { continue };
        if !args.check {
            write_keeping_mode(path, text.as_bytes())
                .with_context(|| format!("cannot write `{}`", path.display()))?;
        }
        output::print_stdout(&format!("{}\n", path.display()))?;
        changed += 1;
    }
    let unchanged = files.len() - changed - failed;
    let files_word = |n: usize| if n == 1 { "file" } else { "files" };
    let mut summary = if args.check {
        format!(
            "{changed} {} would be {}, {unchanged} already formatted",
            files_word(changed),
            if args.fix {
                "fixed or reformatted"
            } else {
                "reformatted"
            },
        )
    } else {
        format!(
            "{changed} {} {}, {unchanged} left unchanged",
            files_word(changed),
            if args.fix {
                "fixed or reformatted"
            } else {
                "reformatted"
            },
        )
    };
    if args.fix {
        summary.push_str(&format!(
            "; {fixed_total} problem{} {}fixed",
            if fixed_total == 1 { "" } else { "s" },
            if args.check { "would be " } else { "" }
        ));
    }
    if failed > 0 {
        bail!(
            "{failed} {} could not be formatted and {} left as {} ({summary})",
            files_word(failed),
            if failed == 1 { "was" } else { "were" },
            if failed == 1 { "it is" } else { "they are" },
        );
    }
    if left_total > 0 {
        bail!(
            "{left_total} problem{} left in {with_left} {} that `fmt --fix` does not fix: \
             edit them as the diagnostics above say, then run `orgform validate` ({summary})",
            if left_total == 1 { "" } else { "s" },
            files_word(with_left),
        );
    }
    output::print_stderr(&format!("{summary}\n"));
    if args.check && changed > 0 {
        output::print_stderr(&format!(
            "run `orgform fmt{} {}` to {} {}\n",
            if args.fix { " --fix" } else { "" },
            args.spec.display(),
            if args.fix { "fix" } else { "format" },
            if changed == 1 { "it" } else { "them" }
        ));
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Formats (or fixes) one file; its diagnostics are printed on failure.
fn one_file(path: &Path, fix: bool) -> Outcome {
    let options = LoadOptions::default();
    let result = if fix {
        orgform_spec::fix_file(path, &options).map(|f| {
            let text = f.is_changed().then(|| f.text().to_owned());
            (text, f.fixed(), Some(f.left().clone()))
        })
    } else {
        orgform_spec::format_file(path, &options).map(|f| {
            let changed = f.is_changed();
            (changed.then(|| f.into_text()), 0, None)
        })
    };
    match result {
        Ok((text, fixed, left)) => Outcome::Done { text, fixed, left },
        Err(diags) => {
            output::print_stderr(&diags.render(output::stderr_color()));
            Outcome::Failed
        }
    }
}

/// Replaces `path`'s content atomically, keeping its permissions.
fn write_keeping_mode(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    // Rewrite a symlink's target, not the link.
    let path = fs::canonicalize(path)?;
    let mode = fs::metadata(&path)?.permissions().mode() & 0o7777;
    orgform_files::write_atomic(&path, bytes, mode)
}
