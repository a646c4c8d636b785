//! Reading sources and writing the generated files, through orgform-files'
//! policy (regular files only, never a symlink, FIFO or device; atomic
//! writes).

use std::io::Read;
use std::path::Path;

use crate::emit::GENERATED_MARK;
use crate::{ImportError, Imported, MAX_SOURCE_BYTES, SourceInput};

/// Reads one source: a regular file of at most [`MAX_SOURCE_BYTES`]
/// (a FIFO, device or directory is refused without blocking).
pub fn read_source(path: &Path) -> Result<SourceInput, ImportError> {
    let bytes = orgform_files::read_regular(path, MAX_SOURCE_BYTES)?;
    Ok(SourceInput {
        path: path.to_owned(),
        bytes,
    })
}

/// The largest mapping file read.
pub const MAX_MAPPING_BYTES: u64 = 1024 * 1024;

/// Reads a mapping file's text: a regular UTF-8 file of at most
/// [`MAX_MAPPING_BYTES`].
pub fn read_mapping_text(path: &Path) -> Result<String, ImportError> {
    let bytes = orgform_files::read_regular(path, MAX_MAPPING_BYTES)?;
    String::from_utf8(bytes).map_err(|_| ImportError::Io {
        action: "read",
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "the mapping is not UTF-8"),
    })
}

/// Writes the generated files into `dir` (created `0700` when missing).
/// Every target is checked first: it may be missing or a regular file
/// whose first line carries [`GENERATED_MARK`]; anything else (a hand
/// file, a symlink, a FIFO, a device, one of `forbidden`) stops the
/// write before any file is touched. Each file is then written
/// atomically with mode `0600`.
pub fn write_output(
    dir: &Path,
    imported: &Imported,
    forbidden: &[&Path],
) -> Result<(), ImportError> {
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(ImportError::Io {
                action: "use the output directory",
                path: dir.to_owned(),
                source: std::io::Error::other("it is not a directory"),
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            create_private_dir(dir)?;
        }
        Err(e) => {
            return Err(ImportError::Io {
                action: "inspect",
                path: dir.to_owned(),
                source: e,
            });
        }
    }
    for f in &imported.files {
        let path = dir.join(f.name);
        orgform_files::check_output_path(&path, forbidden)?;
        if path.exists() && !carries_mark(&path)? {
            return Err(ImportError::NotGenerated { path });
        }
    }
    for f in &imported.files {
        let path = dir.join(f.name);
        orgform_files::write_atomic(&path, f.text.as_bytes(), 0o600).map_err(|source| {
            ImportError::Io {
                action: "write",
                path: path.clone(),
                source,
            }
        })?;
    }
    Ok(())
}

fn create_private_dir(dir: &Path) -> Result<(), ImportError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| ImportError::Io {
            action: "create",
            path: dir.to_owned(),
            source,
        })
}

/// Whether the regular file at `path` starts with the generated mark.
fn carries_mark(path: &Path) -> Result<bool, ImportError> {
    let (file, _) = orgform_files::open_regular(path, u64::MAX)?;
    let mut head = Vec::with_capacity(GENERATED_MARK.len());
    file.take(GENERATED_MARK.len() as u64)
        .read_to_end(&mut head)
        .map_err(|source| ImportError::Io {
            action: "read",
            path: path.to_owned(),
            source,
        })?;
    Ok(head == GENERATED_MARK.as_bytes())
}
