//! `orgform import`: an HR system's export (CSV or JSON) to spec files,
//! through a mapping (DESIGN section 8).
//!
//! - [`SourceInput`]: one export, its path as given and its bytes
//!   ([`read_source`] reads one from disk: a regular file, at most
//!   [`MAX_SOURCE_BYTES`]).
//! - [`Mapping`]: a mapping file ([`Mapping::parse`]) or a preset shipped
//!   in the binary ([`Mapping::preset`], [`preset_text`]: `alexis`, the HR
//!   guide's own mapping). [`mapping_schema_text`] is its JSON Schema.
//! - [`import`] applies the mapping to every row and returns the three
//!   files ([`Imported`]: `users.yaml`, `groups.yaml`, `attributes.yaml`)
//!   and the warnings, or every problem at once as [`Diagnostics`] at the
//!   `FILE:LINE:COLUMN` of the cell (a quoted multi-line CSV cell counts its
//!   physical lines) or JSON value. The generated org is then validated like
//!   any spec; a problem found there points back at the cells it came from.
//! - [`write_output`] writes them into a directory: each file atomically
//!   (temp file in the same directory, fsync, rename; `0600`: personal
//!   data), only after every file passed the checks, and never over a file
//!   that does not carry the generated header, nor over a symlink, device
//!   or FIFO.
//!
//! ```
//! use orgform_import::{Mapping, SourceInput, import};
//!
//! let csv = "Employee ID,First name,Last name,Work email,Work phone,Time zone,Role,Status,\
//! Organization,Office,Department,Teams,Employment type,City,Country,Legal gender,Employment date\n\
//! E1,Ada,Lovelace,ada@example.com,+46 70 123 45 67,Europe/Stockholm,Owner,Active,\
//! Acme,Stockholm,Sales,\"BDR, SDR\",Permanent,Stockholm,Sweden,Female,2020-01-01\n";
//! let sources = [SourceInput { path: "export.csv".into(), bytes: csv.into() }];
//! let mapping = Mapping::preset("alexis").unwrap();
//! let out = import(&sources, &mapping).unwrap();
//! let users = &out.files[0].text;
//! assert!(users.contains("phone: \"+46701234567\""));
//! assert!(users.contains("role: Administrator"));
//! assert!(out.files[1].text.contains("externalId: team:bdr\n"));
//! ```
//!
//! Choices where the contract is silent:
//! - Column names match case-insensitively with surrounding spaces
//!   ignored, in presets and mappings alike; `only` compares the trimmed
//!   cell case-insensitively. Cells are trimmed.
//! - Value maps match a key exactly, else loosely (trimmed, lower-cased,
//!   runs of spaces, `-` and `_` as one space): that is how the preset maps
//!   "not specified" in any case or spacing to `Not-specified`. A value the
//!   map does not list becomes `default` when there is one, else stays.
//! - An export with no rows, or whose rows all fail `only`, is an error:
//!   its spec would delete every user.
//! - The same employee exported twice with identical data (two overlapping
//!   sources) is kept once, with a warning; with different data it is an
//!   error at both rows.
//! - Phones (`phone.rs`): an international number (`+` or `00`) is kept
//!   when it has 8 to 15 digits, with no numbering plan consulted; a
//!   national one is read as a number of the mapping's `defaultCountry`
//!   (any region of libphonenumber's metadata, through the `phonenumber`
//!   crate) and must be a valid number of that country: one that is not
//!   (a digit short, an unused range) is an error at its cell that says
//!   so, or left out with a warning under `invalid: blank`. An unknown
//!   `defaultCountry` is an error in the mapping, at its line.
//! - Two rows with one email or one phone are errors (the spec rules and
//!   the API refuse them: `validateNoPhoneDuplicates`), located at both cells.
//! - A group kind's `description` template sees the unit's `{name}` and
//!   `{id}` (a group spans many rows, so row columns are not available).
//! - A kind's `parent` omitted leaves the parent as is in &frankly (the
//!   preset does so: "without a parent"); `null` makes the groups roots.
//! - An id column is used where a source has it; several sources of which
//!   only some have it are an error (one unit would get two externalIds).
//! - Every user gets `memberOf` when the mapping has groups (`[]` for a
//!   row without units: the import is the source of truth).
//! - Every generated file carries `version: 1`, so each is a valid spec
//!   alone and a directory spec accepts the repetition.
//! - JSON values: numbers as written, booleans `true`/`false`, `null`
//!   empty, an array of scalars joined with `, ` (split it with `split`).
//! - A cell over [`MAX_CELL_BYTES`] is an error at the cell.
//! - The generated files are byte for byte what `orgform fmt` writes
//!   (strings through orgform-spec's `yaml_scalar`, the formatter's own
//!   scalar writer: plain unless a YAML 1.1 or 1.2 reader could read them
//!   as something else), so `orgform fmt --check` passes on the output
//!   directory and a formatter run in CI never rewrites them.
//! - Every diagnostic at a cell draws the cell's physical line with the
//!   cell underlined, as spec diagnostics do; a quoted multi-line cell is
//!   drawn on the line where it starts, a JSON value with its token
//!   underlined; a problem about a whole row or header underlines the
//!   line. Related places (the first of two duplicates) are named without
//!   their line.

mod convert;
mod emit;
mod json;
mod mapping;
mod output;
mod phone;
mod pos;
mod source;

use std::path::PathBuf;

use source::At as _;

use orgform_spec::{Diagnostic, Diagnostics, LoadOptions};

pub use emit::{GENERATED_MARK, OutputFile};
pub use mapping::{Mapping, MappingFile};
pub use output::{MAX_MAPPING_BYTES, read_mapping_text, read_source, write_output};
pub use source::{MAX_CELL_BYTES, SourceInput};

/// The largest source file accepted (checked before reading).
pub const MAX_SOURCE_BYTES: u64 = 256 * 1024 * 1024;

/// The presets shipped in the binary.
pub const PRESETS: &[&str] = &["alexis"];

/// A preset's mapping text (what `orgform import --print-preset` prints).
pub fn preset_text(name: &str) -> Option<&'static str> {
    match name {
        "alexis" => Some(include_str!("../presets/alexis.yaml")),
        _ => None,
    }
}

/// Every failure of this crate other than diagnostics on the data.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A source or output path cannot be used.
    #[error(transparent)]
    File(#[from] orgform_files::FileError),
    /// An output file exists and was not generated by import.
    #[error(
        "`{path}` exists and was not generated by orgform import (its first line is not `{GENERATED_MARK} ...`); \
         nothing was written: move it away or choose another --out"
    )]
    NotGenerated {
        /// The file.
        path: PathBuf,
    },
    /// The output directory cannot be created or written.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The generated files and what was found on the way.
#[derive(Debug, Clone)]
pub struct Imported {
    /// `users.yaml`, `groups.yaml`, `attributes.yaml`, in that order.
    pub files: Vec<OutputFile>,
    /// Warnings (derived group ids, name variants, duplicate rows, blanked phones).
    pub warnings: Diagnostics,
    /// How many users and groups the files hold.
    pub users: usize,
    /// See `users`.
    pub groups: usize,
}

/// Applies `mapping` to the rows of every source (concatenated, in order)
/// and validates the result like a spec.
///
/// `Err` holds every problem (and the warnings), sorted by file, line and
/// column; nothing is meant to be written then.
pub fn import(sources: &[SourceInput], mapping: &Mapping) -> Result<Imported, Diagnostics> {
    let mut diags: Vec<Diagnostic> = Vec::new();
    let mut tables = Vec::with_capacity(sources.len());
    std::thread::scope(|scope| {
        // libphonenumber's metadata is loaded on first use (about 0.2 s):
        // on another core while the sources are read.
        if let Some(mapping::PhoneField::Long(p)) = &mapping.file.users.phone
            && p.default_country.is_some()
        {
            scope.spawn(phone::load_metadata);
        }
        for s in sources {
            if let Some(t) = source::read(s, mapping.file.delimiter, &mut diags) {
                tables.push(t);
            }
        }
    });
    let labels: Vec<String> = sources
        .iter()
        .map(|s| s.path.display().to_string())
        .collect();
    let built = if tables.is_empty() {
        None
    } else {
        convert::convert(&tables, &mapping.file, &mut diags)
    };
    let Some(mut built) = built else {
        return Err(sorted(diags));
    };
    let users = built.org.users.as_ref().map_or(0, Vec::len);
    let groups = built.org.groups.as_ref().map_or(0, Vec::len);
    // Validate like any spec (fixed parents are expected in a hand-written
    // file's externalGroups, which the generated files do not hold), by
    // reference, while another thread writes the files.
    built
        .org
        .external_groups
        .extend(built.fixed_parents.iter().cloned());
    let (files, checked) = std::thread::scope(|scope| {
        let emitting = scope.spawn(|| emit::emit(&built, &mapping.label, &labels));
        let checked = orgform_spec::check_org(&built.org);
        (emitting.join(), checked)
    });
    let files = files.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    if checked.has_errors() {
        diags.extend(located_validation(&files, &built, &tables, checked));
    } else {
        diags.extend(checked);
    }
    // The rows and the org (two million strings at 100k rows) are freed on
    // another thread: the caller writes the files meanwhile.
    let big = (built, tables);
    // Without a thread (spawn failed), they are freed here.
    let _detached = std::thread::Builder::new().spawn(move || drop(big));
    if diags.iter().any(|d| d.severity.is_error()) {
        return Err(sorted(diags));
    }
    Ok(Imported {
        users,
        groups,
        files,
        warnings: sorted(diags),
    })
}

/// Validation problems at the cells they came from: the generated files
/// are loaded from a private temp directory (only on this failure path),
/// and each diagnostic's line there is mapped to the cell of that line;
/// `unlocated` (what `validate_org` said) is the answer when that fails.
fn located_validation(
    files: &[OutputFile],
    built: &convert::Built,
    tables: &[source::Table],
    unlocated: Diagnostics,
) -> Vec<Diagnostic> {
    // Without the temp directory: the problems without their cells.
    let fallback = move || -> Vec<Diagnostic> { unlocated.into_iter().collect() };
    let Ok(dir) = tempfile::tempdir() else {
        return fallback();
    };
    for f in files {
        if std::fs::write(dir.path().join(f.name), &f.text).is_err() {
            return fallback();
        }
    }
    if !built.fixed_parents.is_empty() {
        let list: Vec<String> = built
            .fixed_parents
            .iter()
            .map(|p| orgform_spec::yaml_scalar(p, true).into_owned())
            .collect();
        let text = format!("externalGroups: [{}]\n", list.join(", "));
        if std::fs::write(dir.path().join("zz-external.yaml"), text).is_err() {
            return fallback();
        }
    }
    let Err(diags) = orgform_spec::load(dir.path(), &LoadOptions::default()) else {
        return fallback();
    };
    let remap = |loc: &orgform_spec::Location| -> Option<convert::CellRef> {
        let name = loc.file.file_name()?.to_str()?;
        let f = files.iter().find(|f| f.name == name)?;
        let line = usize::try_from(loc.line).ok()?.checked_sub(1)?;
        f.lines.get(line).copied().flatten()
    };
    diags
        .into_iter()
        .map(|d| {
            let mut n = if d.severity.is_error() {
                Diagnostic::error(d.code, d.message.clone())
            } else {
                Diagnostic::warning(d.code, d.message.clone())
            };
            if let Some(h) = &d.hint {
                n = n.with_hint(h.clone());
            }
            if let Some(a) = d.api_error {
                n = n.with_api_error(a);
            }
            let cell = d.location.as_ref().and_then(&remap);
            if let Some(c) = cell {
                n = n.at(c.place(tables));
            }
            for (l, label) in &d.related {
                if let Some(c) = remap(l) {
                    n = n.with_related(c.loc(tables), label.clone());
                }
            }
            (n, cell)
        })
        .filter(|(_, cell)| !cell.is_some_and(|c| built.bad_rows.contains(&(c.table, c.row))))
        .map(|(n, _)| n)
        .collect()
}

fn sorted(mut diags: Vec<Diagnostic>) -> Diagnostics {
    diags.sort_by(|a, b| match (&a.location, &b.location) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Less,
        (Some(_), None) => std::cmp::Ordering::Greater,
        (Some(x), Some(y)) => x.cmp(y),
    });
    let mut out = Diagnostics::new();
    for d in diags {
        out.push(d);
    }
    out
}

/// The JSON Schema (draft 7) of a mapping file, for editors (`orgform
/// schema --mapping`).
pub fn mapping_schema() -> serde_json::Value {
    let settings = schemars::generate::SchemaSettings::draft07();
    let schema = settings
        .into_generator()
        .into_root_schema_for::<MappingFile>();
    let mut v = serde_json::to_value(schema).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "$id".into(),
            serde_json::json!("https://example.com/orgform/schema/orgform-mapping.schema.json"),
        );
    }
    v
}

/// [`mapping_schema`] as pretty JSON with a final newline.
pub fn mapping_schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&mapping_schema()).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests;
