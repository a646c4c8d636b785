//! `orgform fmt [--check] [SPEC]`: the canonical key order and layout of
//! spec files (orgform-spec's `format_file` decides what canonical is).
//!
//! - A directory spec: each of its `*.yaml`/`*.yml` files, as `load` reads
//!   them.
//! - Without `--check`: every file that is not canonical is rewritten and
//!   its path printed on stdout. Writes are atomic (a temp file beside it,
//!   fsync, rename, fsync of the directory) and keep the file's permissions
//!   (a spec is not private data, unlike the state); a symlink is followed
//!   and its target rewritten.
//! - `--check`: nothing is written; the paths of the files `fmt` would
//!   change are printed on stdout, and the exit code is 1 when there is
//!   one. Comments are part of the check: they are kept by `fmt`, so a
//!   file is canonical only with its comments in their canonical places.
//! - A file that cannot be formatted (a shape error `validate` reports, an
//!   anchor or alias) is reported with its diagnostics and left as it is;
//!   the other files are still formatted, and the exit code is 1.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use orgform_spec::LoadOptions;

use crate::args::FmtArgs;
use crate::output;

/// Runs `orgform fmt`.
pub fn run(args: &FmtArgs) -> anyhow::Result<ExitCode> {
    let files = match orgform_spec::spec_files(&args.spec) {
        Ok(f) => f,
        Err(diags) => {
            output::print_stderr(&diags.render(output::stderr_color()));
            bail!("nothing to format at `{}`", args.spec.display());
        }
    };
    let mut changed = Vec::new();
    let mut failed = 0usize;
    for path in &files {
        let formatted = match orgform_spec::format_file(path, &LoadOptions::default()) {
            Ok(f) => f,
            Err(diags) => {
                output::print_stderr(&diags.render(output::stderr_color()));
                failed += 1;
                continue;
            }
        };
        if !formatted.is_changed() {
            continue;
        }
        if !args.check {
            write_keeping_mode(path, formatted.text().as_bytes())
                .with_context(|| format!("cannot write `{}`", path.display()))?;
        }
        output::print_stdout(&format!("{}\n", path.display()))?;
        changed.push(path.clone());
    }
    let unchanged = files.len() - changed.len() - failed;
    let files_word = |n: usize| if n == 1 { "file" } else { "files" };
    let summary = if args.check {
        format!(
            "{} {} would be reformatted, {} already formatted",
            changed.len(),
            files_word(changed.len()),
            unchanged
        )
    } else {
        format!(
            "{} {} reformatted, {} left unchanged",
            changed.len(),
            files_word(changed.len()),
            unchanged
        )
    };
    if failed > 0 {
        bail!(
            "{failed} {} could not be formatted and {} left as {} ({summary})",
            files_word(failed),
            if failed == 1 { "was" } else { "were" },
            if failed == 1 { "it is" } else { "they are" },
        );
    }
    output::print_stderr(&format!("{summary}\n"));
    if args.check && !changed.is_empty() {
        output::print_stderr(&format!(
            "run `orgform fmt {}` to format {}\n",
            args.spec.display(),
            if changed.len() == 1 { "it" } else { "them" }
        ));
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Replaces `path`'s content atomically, keeping its permissions.
fn write_keeping_mode(path: &Path, bytes: &[u8]) -> io::Result<()> {
    // Rewrite a symlink's target, not the link.
    let path = fs::canonicalize(path)?;
    let permissions = fs::metadata(&path)?.permissions();
    let dir = path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.fmt-{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        fs::set_permissions(&temp, permissions)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, &path)?;
        // The rename is durable once the directory is synced.
        fs::File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}
