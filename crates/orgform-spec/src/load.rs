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
use crate::split;
use crate::yaml::{Doc, TOP_KEYS};
use crate::{LoadOptions, ValidatedSpec, finish};

/// Loads, decodes and validates a spec. See [`crate::load`].
pub(crate) fn load(path: &Path, options: &LoadOptions) -> Result<ValidatedSpec, Diagnostics> {
    let mut diags: Vec<Diagnostic> = Vec::new();
    let paths = match spec_files(path) {
        Ok(p) => p,
        Err(d) => return Err(Diagnostics::from_sorted(d)),
    };
    let in_directory = path.is_dir();
    let mut files = Files::default();
    for p in paths {
        if let Some(text) = read_text(&p, in_directory, options, &mut diags) {
            files.files.push(SourceFile::new(p, text));
        }
    }
    if files.files.is_empty() {
        return Err(Diagnostics::from_sorted(diags));
    }
    let mut positions = Positions::default();
    let mut docs: Vec<Doc> = Vec::with_capacity(files.files.len());
    // Decoded side by side (split.rs), appended in file order: the same
    // positions and diagnostics as one file after another.
    for ((i, f), decoded) in files
        .files
        .iter()
        .enumerate()
        .zip(split::decode_all(&files))
    {
        let file = u32::try_from(i).unwrap_or(u32::MAX);
        positions.append(decoded.positions);
        diags.extend(decoded.diags);
        let doc = decoded.doc;
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
    if docs.iter().any(|d| d.incomplete) {
        return Err(Diagnostics::from_sorted(syntax_first(diags)));
    }
    let org = merge(docs, &files, &mut diags);
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

/// The codes of problems after which a file cannot be read on.
const FATAL_CODES: &[&str] = &[
    "yamlSyntax",
    "tooDeep",
    "aliasBudget",
    "unknownAlias",
    "multipleDocuments",
];

/// What is reported when a file could not be read to its end: only the
/// problems that stopped a reading (and the files that could not be read at
/// all). The org is partial, so what a shape or rule check would say about
/// it (a missing `version`, a required field that sits after the error, a
/// wrong type seen half-way) follows from the partial read, not from the
/// spec: it is left out until the YAML parses. The same goes for the other
/// files of a directory: fix the YAML first, then everything else is
/// checked at once.
pub(crate) fn syntax_first(diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diags
        .into_iter()
        .filter(|d| FATAL_CODES.contains(&d.code) || is_unreadable(d))
        .collect()
}

fn is_unreadable(d: &Diagnostic) -> bool {
    matches!(
        d.code,
        "unreadable" | "fileTooLarge" | "notUtf8" | "notRegularFile"
    )
}

/// The files of a spec: the file itself, or a directory's `*.yaml`/`*.yml`
/// files (not hidden, not in subdirectories), sorted by name.
///
/// In a directory only regular files are read: a `*.yaml`/`*.yml` entry
/// that is a symlink, FIFO, device or socket is an error naming it (judged
/// by `symlink_metadata` of the entry, so it is never opened). A pull
/// request that adds `zz.yaml -> /etc/shadow` gets a refusal, not the
/// file's lines in the diagnostics. Every such entry is named at once and
/// no file of the directory is read. A path given on the command line may
/// be a symlink (the user chose it), but it must lead to a regular file or
/// a directory.
pub(crate) fn spec_files(path: &Path) -> Result<Vec<PathBuf>, Vec<Diagnostic>> {
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
    let meta = meta.map_err(|d| vec![d])?;
    if !meta.is_dir() {
        if let Some(kind) = special_kind(&meta.file_type()) {
            return Err(vec![not_regular(path, kind, false)]);
        }
        return Ok(vec![path.to_path_buf()]);
    }
    let listing_error = |e: std::io::Error| {
        vec![Diagnostic::error(
            "unreadable",
            format!(
                "cannot list the directory `{}`: {}",
                path.display(),
                io_message(&e)
            ),
        )]
    };
    let mut names: Vec<String> = Vec::new();
    let mut refused: Vec<(String, &'static str)> = Vec::new();
    for entry in fs::read_dir(path).map_err(listing_error)? {
        let entry = entry.map_err(listing_error)?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let lower = name.to_ascii_lowercase();
        if name.starts_with('.') || !(lower.ends_with(".yaml") || lower.ends_with(".yml")) {
            continue;
        }
        // `file_type` of a directory entry does not follow symlinks.
        let file_type = match entry.file_type() {
            Ok(t) => t,
            Err(e) => return Err(listing_error(e)),
        };
        if file_type.is_dir() {
            continue;
        }
        if let Some(kind) = special_kind(&file_type) {
            refused.push((name, kind));
            continue;
        }
        names.push(name);
    }
    if !refused.is_empty() {
        refused.sort();
        return Err(refused
            .into_iter()
            .map(|(name, kind)| not_regular(&path.join(name), kind, true))
            .collect());
    }
    if names.is_empty() {
        return Err(vec![Diagnostic::error(
            "noYamlFiles",
            format!("the directory `{}` holds no `*.yaml` or `*.yml` file", path.display()),
        )
        .with_hint("a directory spec is the `*.yaml`/`*.yml` files directly inside it (not in subdirectories)")]);
    }
    names.sort();
    Ok(names.into_iter().map(|n| path.join(n)).collect())
}

/// What a file type is when it is neither a regular file nor a directory.
fn special_kind(t: &fs::FileType) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if t.is_socket() {
            return Some("a socket");
        }
        if t.is_block_device() || t.is_char_device() {
            return Some("a device");
        }
    }
    if t.is_symlink() {
        return Some("a symbolic link");
    }
    if t.is_file() || t.is_dir() {
        None
    } else {
        Some("not a regular file")
    }
}

/// `notRegularFile`: a spec file that is a link, FIFO, device or socket.
fn not_regular(path: &Path, kind: &str, in_directory: bool) -> Diagnostic {
    let what = if kind.starts_with("not ") {
        kind.to_owned()
    } else {
        format!("is {kind}")
    };
    let d = Diagnostic::error(
        "notRegularFile",
        format!("`{}` {what}, not a regular file", path.display()),
    );
    if in_directory {
        d.with_hint(
            "a spec directory may hold only regular files: replace it with the file itself, \
             or rename it so that it does not end in `.yaml`/`.yml` (orgform never opens it)",
        )
    } else {
        d.with_hint("pass a regular spec file or a spec directory")
    }
}

/// Opens `path` for reading without blocking, and without following a
/// symlink when `no_follow`.
fn open_no_block(path: &Path, no_follow: bool) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use rustix::fs::OFlags;
        use std::os::unix::fs::OpenOptionsExt;
        let mut flags = OFlags::NONBLOCK;
        if no_follow {
            flags |= OFlags::NOFOLLOW;
        }
        options.custom_flags(flags.bits() as i32);
    }
    #[cfg(not(unix))]
    let _ = no_follow;
    options.open(path)
}

/// Whether an open failed because `O_NOFOLLOW` met a symlink (`ELOOP`).
fn is_symlink_refusal(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
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

/// Reads one file as UTF-8 text.
///
/// The file is opened without blocking (`O_NONBLOCK`: a FIFO that slipped
/// in between the listing and the open cannot hang the read) and, for a
/// directory entry (`in_directory`), without following a symlink
/// (`O_NOFOLLOW`). Its type and size are then checked on the open file
/// (`fstat`), and at most the cap plus one byte is read, so neither a
/// device such as `/dev/zero` nor a file growing while it is read can take
/// unbounded memory.
pub(crate) fn read_text(
    path: &Path,
    in_directory: bool,
    options: &LoadOptions,
    diags: &mut Vec<Diagnostic>,
) -> Option<String> {
    let read = read_capped(path, in_directory, options).and_then(|bytes| utf8_text(path, bytes));
    match read {
        Ok((text, bom)) => {
            if bom {
                diags.push(
                    Diagnostic::warning(
                        "byteOrderMark",
                        format!("`{}` starts with a UTF-8 byte order mark", path.display()),
                    )
                    .with_hint("it was ignored; save the file as UTF-8 without BOM to silence this")
                    .with_location(at(path, 1, 1)),
                );
            }
            Some(text)
        }
        Err(d) => {
            diags.push(*d);
            None
        }
    }
}

/// A location in `path`.
fn at(path: &Path, line: u32, column: u32) -> crate::diag::Location {
    crate::diag::Location {
        file: path.to_path_buf(),
        line,
        column,
    }
}

/// The bytes of a regular file of at most `options.max_file_bytes` (see
/// [`read_text`]).
fn read_capped(
    path: &Path,
    in_directory: bool,
    options: &LoadOptions,
) -> Result<Vec<u8>, Box<Diagnostic>> {
    let unreadable = |e: std::io::Error| {
        Box::new(Diagnostic::error(
            "unreadable",
            format!("cannot read `{}`: {}", path.display(), io_message(&e)),
        ))
    };
    let too_large = |size: u64| {
        Box::new(
            Diagnostic::error(
                "fileTooLarge",
                format!(
                    "`{}` is {size} bytes, over the limit of {} bytes",
                    path.display(),
                    options.max_file_bytes
                ),
            )
            .with_hint("split the spec into a directory of several files, or raise the limit"),
        )
    };
    let file = match open_no_block(path, in_directory) {
        Ok(f) => f,
        Err(e) if is_symlink_refusal(&e) => {
            return Err(Box::new(not_regular(path, "a symbolic link", in_directory)));
        }
        Err(e) => return Err(unreadable(e)),
    };
    let meta = file.metadata().map_err(unreadable)?;
    if let Some(kind) = special_kind(&meta.file_type()) {
        return Err(Box::new(not_regular(path, kind, in_directory)));
    }
    if meta.is_dir() {
        return Err(Box::new(not_regular(
            path,
            "not a regular file (a directory)",
            in_directory,
        )));
    }
    if meta.len() > options.max_file_bytes {
        return Err(too_large(meta.len()));
    }
    let capacity = usize::try_from(meta.len()).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    file.take(options.max_file_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > options.max_file_bytes {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// The text of a file's bytes, without a UTF-8 byte order mark (and
/// whether there was one); UTF-16 and invalid UTF-8 are located errors.
fn utf8_text(path: &Path, mut bytes: Vec<u8>) -> Result<(String, bool), Box<Diagnostic>> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(Box::new(
            Diagnostic::error(
                "notUtf8",
                format!("`{}` is UTF-16, not UTF-8", path.display()),
            )
            .with_hint("save the file as UTF-8")
            .with_location(at(path, 1, 1)),
        ));
    }
    let bom = bytes.starts_with(&[0xEF, 0xBB, 0xBF]);
    if bom {
        bytes.drain(..3);
    }
    match String::from_utf8(bytes) {
        Ok(t) => Ok((t, bom)),
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
            let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            let col = String::from_utf8_lossy(&valid[line_start..])
                .chars()
                .count()
                + 1;
            Err(Box::new(
                Diagnostic::error(
                    "notUtf8",
                    format!("`{}` is not valid UTF-8", path.display()),
                )
                .with_hint("save the file as UTF-8 (it may be Latin-1 or Windows-1252)")
                .with_location(at(
                    path,
                    u32::try_from(line).unwrap_or(u32::MAX),
                    u32::try_from(col).unwrap_or(u32::MAX),
                )),
            ))
        }
    }
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
