//! Reading a spec from disk: one file or a directory of `*.yaml`/`*.yml`,
//! the loading traps (size cap, encoding, BOM, empty files), and the
//! directory merge.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use orgform_model::DesiredOrg;

use crate::diag::{Diagnostic, Diagnostics};
use crate::rules::{self, Ctx};
use crate::source::{Files, Pos, Positions, SourceFile, SourceMap};
use crate::yaml::{self, Doc, TOP_KEYS};
use crate::{LoadOptions, ValidatedSpec, finish};

/// Loads, decodes and validates a spec. See [`crate::load`].
pub(crate) fn load(path: &Path, options: &LoadOptions) -> Result<ValidatedSpec, Diagnostics> {
    let mut diags: Vec<Diagnostic> = Vec::new();
    let paths = match spec_files(path) {
        Ok(p) => p,
        Err(d) => return Err(Diagnostics::from_sorted(vec![*d])),
    };
    let mut files = Files::default();
    for p in paths {
        if let Some(text) = read_text(&p, options, &mut diags) {
            files.files.push(SourceFile::new(p, text));
        }
    }
    if files.files.is_empty() {
        return Err(Diagnostics::from_sorted(diags));
    }
    let mut positions = Positions::default();
    let mut docs: Vec<Doc> = Vec::with_capacity(files.files.len());
    for (i, f) in files.files.iter().enumerate() {
        let file = u32::try_from(i).unwrap_or(u32::MAX);
        let doc = yaml::decode(&f.text, file, &files, &mut positions, &mut diags);
        if doc.empty {
            let d = Diagnostic::error(
                "emptyFile",
                format!("`{}` holds no YAML document", f.path.display()),
            )
            .with_hint("write at least `version: 1`, or delete the file");
            diags.push(files.at(
                d,
                Pos {
                    file,
                    line: 1,
                    col: 1,
                    len: 1,
                },
            ));
        }
        docs.push(doc);
    }
    let incomplete = docs.iter().any(|d| d.incomplete);
    let org = merge(docs, &files, &mut diags);
    if incomplete {
        // The org is partial: cross-record rules would only add noise.
        return Err(Diagnostics::from_sorted(diags));
    }
    diags.extend(rules::check(
        &org,
        Some(Ctx {
            files: &files,
            pos: &positions,
        }),
    ));
    if diags.iter().any(|d| d.severity.is_error()) {
        return Err(Diagnostics::from_sorted(diags));
    }
    let user_ids: Vec<String> = org
        .users
        .iter()
        .flatten()
        .map(|u| u.external_id.clone())
        .collect();
    let group_ids: Vec<String> = org
        .groups
        .iter()
        .flatten()
        .map(|g| g.external_id.clone())
        .collect();
    let file_paths: Vec<PathBuf> = files.files.into_iter().map(|f| f.path).collect();
    let sources = SourceMap::build(
        file_paths,
        positions,
        user_ids.into_iter(),
        group_ids.into_iter(),
    );
    Ok(finish(org, sources, Diagnostics::from_sorted(diags)))
}

/// The files of a spec: the file itself, or a directory's `*.yaml`/`*.yml`
/// files (not hidden, not in subdirectories), sorted by name.
pub(crate) fn spec_files(path: &Path) -> Result<Vec<PathBuf>, Box<Diagnostic>> {
    let meta = fs::metadata(path).map_err(|e| {
        let d = Diagnostic::error(
            "unreadable",
            format!("cannot read `{}`: {}", path.display(), io_message(&e)),
        );
        if e.kind() == std::io::ErrorKind::NotFound {
            d.with_hint(
                "pass the path of a spec file or directory; without one, orgform reads \
                 `orgform.yaml` in the current directory",
            )
        } else {
            d
        }
    });
    let meta = meta.map_err(Box::new)?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = fs::read_dir(path).map_err(|e| {
        Box::new(Diagnostic::error(
            "unreadable",
            format!(
                "cannot list the directory `{}`: {}",
                path.display(),
                io_message(&e)
            ),
        ))
    })?;
    let mut names: Vec<String> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| {
            Box::new(Diagnostic::error(
                "unreadable",
                format!(
                    "cannot list the directory `{}`: {}",
                    path.display(),
                    io_message(&e)
                ),
            ))
        })?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let lower = name.to_ascii_lowercase();
        if name.starts_with('.') || !(lower.ends_with(".yaml") || lower.ends_with(".yml")) {
            continue;
        }
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        names.push(name);
    }
    if names.is_empty() {
        return Err(Box::new(Diagnostic::error(
            "noYamlFiles",
            format!("the directory `{}` holds no `*.yaml` or `*.yml` file", path.display()),
        )
        .with_hint("a directory spec is the `*.yaml`/`*.yml` files directly inside it (not in subdirectories)")));
    }
    names.sort();
    Ok(names.into_iter().map(|n| path.join(n)).collect())
}

fn io_message(e: &std::io::Error) -> String {
    let s = e.to_string();
    // "No such file or directory (os error 2)" -> "no such file or directory (os error 2)"
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_lowercase().chain(c).collect(),
        None => s,
    }
}

/// Reads one file as UTF-8 text, checking the size cap before reading.
pub(crate) fn read_text(
    path: &Path,
    options: &LoadOptions,
    diags: &mut Vec<Diagnostic>,
) -> Option<String> {
    let unreadable = |e: std::io::Error| {
        Diagnostic::error(
            "unreadable",
            format!("cannot read `{}`: {}", path.display(), io_message(&e)),
        )
    };
    let too_large = |size: u64| {
        Diagnostic::error(
            "fileTooLarge",
            format!(
                "`{}` is {size} bytes, over the limit of {} bytes",
                path.display(),
                options.max_file_bytes
            ),
        )
        .with_hint("split the spec into a directory of several files, or raise the limit")
    };
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            diags.push(unreadable(e));
            return None;
        }
    };
    if meta.len() > options.max_file_bytes {
        diags.push(too_large(meta.len()));
        return None;
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    let read = fs::File::open(path).and_then(|f| {
        f.take(options.max_file_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
    });
    if let Err(e) = read {
        diags.push(unreadable(e));
        return None;
    }
    if bytes.len() as u64 > options.max_file_bytes {
        diags.push(too_large(bytes.len() as u64));
        return None;
    }
    let loc = |line: u32, col: u32| crate::diag::Location {
        file: path.to_path_buf(),
        line,
        column: col,
    };
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        diags.push(
            Diagnostic::error(
                "notUtf8",
                format!("`{}` is UTF-16, not UTF-8", path.display()),
            )
            .with_hint("save the file as UTF-8")
            .with_location(loc(1, 1)),
        );
        return None;
    }
    let mut bom = false;
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        bytes.drain(..3);
        bom = true;
    }
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
            let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            let col = String::from_utf8_lossy(&valid[line_start..])
                .chars()
                .count()
                + 1;
            diags.push(
                Diagnostic::error(
                    "notUtf8",
                    format!("`{}` is not valid UTF-8", path.display()),
                )
                .with_hint("save the file as UTF-8 (it may be Latin-1 or Windows-1252)")
                .with_location(loc(
                    u32::try_from(line).unwrap_or(u32::MAX),
                    u32::try_from(col).unwrap_or(u32::MAX),
                )),
            );
            return None;
        }
    };
    if bom {
        diags.push(
            Diagnostic::warning(
                "byteOrderMark",
                format!("`{}` starts with a UTF-8 byte order mark", path.display()),
            )
            .with_hint("it was ignored; save the file as UTF-8 without BOM to silence this")
            .with_location(loc(1, 1)),
        );
    }
    Some(text)
}

/// Merges the files of a spec: `users` and `groups` concatenate; any other
/// top-level key given in two files is an error naming both (an identical
/// `version` is allowed).
fn merge(docs: Vec<Doc>, files: &Files, diags: &mut Vec<Diagnostic>) -> DesiredOrg {
    let mut org = DesiredOrg::default();
    let mut first: Vec<Option<Pos>> = vec![None; TOP_KEYS.len()];
    let mut version = false;
    let (mut target_set, mut settings_set, mut attributes_set) = (None, None, None);
    let (mut external_set, mut safety_set) = (None, None);
    for doc in docs {
        for (name, kpos) in &doc.keys {
            if matches!(*name, "users" | "groups") {
                continue;
            }
            let Some(i) = TOP_KEYS.iter().position(|k| k == name) else {
                continue;
            };
            match first[i] {
                None => first[i] = Some(*kpos),
                Some(_) if *name == "version" => {}
                Some(prev) => {
                    let d = Diagnostic::error(
                        "duplicateTopLevelKey",
                        format!("`{name}` is defined in two files of the spec"),
                    )
                    .with_hint(format!(
                        "keep `{name}` in one file: only `users` and `groups` are merged across files"
                    ));
                    let d = files.at(d, *kpos);
                    diags.push(files.related(d, prev, "first defined here"));
                }
            }
        }
        let Doc {
            version: v,
            target,
            settings,
            attributes,
            external_groups,
            safety,
            groups,
            users,
            ..
        } = doc;
        version |= v.is_some();
        // A key given twice was reported above; the first file's value wins.
        target_set = target_set.or(target);
        settings_set = settings_set.or(settings);
        attributes_set = attributes_set.or(attributes.map(Some));
        external_set = external_set.or(external_groups);
        safety_set = safety_set.or(safety);
        if let Some(g) = groups {
            org.groups.get_or_insert_with(Vec::new).extend(g);
        }
        if let Some(u) = users {
            org.users.get_or_insert_with(Vec::new).extend(u);
        }
    }
    org.target = target_set.unwrap_or_default();
    org.settings = settings_set.unwrap_or_default();
    org.attributes = attributes_set.flatten();
    org.external_groups = external_set.unwrap_or_default();
    org.safety = safety_set.unwrap_or_default();
    if !version
        && !files.files.is_empty()
        && !diags
            .iter()
            .any(|d| matches!(d.code, "unsupportedVersion" | "emptyFile"))
    {
        let d = Diagnostic::error("missingVersion", "the spec has no `version`")
            .with_hint("add `version: 1` at the top of the spec");
        diags.push(files.at(
            d,
            Pos {
                file: 0,
                line: 1,
                col: 1,
                len: 1,
            },
        ));
    }
    org
}
