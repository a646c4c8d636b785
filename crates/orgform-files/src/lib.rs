//! File-system safety shared by orgform's crates. A spec directory, a state
//! directory and an output path may all be prepared by an attacker (a pull
//! request is untrusted, DESIGN section 11), so every file orgform touches
//! goes through one of these:
//!
//! - [`write_atomic`] / [`write_atomic_with`] / [`AtomicFile`]: the one
//!   atomic writer. A temp file in the same directory (a random name
//!   `.<name>.<random>.tmp`, never pid-based), created with the given mode
//!   (set exactly, whatever the umask), written, fsynced, renamed over the
//!   target, then the directory fsynced. At every instant the target holds
//!   its old content or all of the new. The rename replaces a symlink
//!   itself, never its target.
//! - [`open_regular`] / [`read_regular`]: open a file for reading without
//!   ever blocking or following a final symlink (`O_NONBLOCK | O_NOFOLLOW |
//!   O_CLOEXEC | O_NOCTTY`), then check on the *open* file (fstat, so no
//!   swap between check and read) that it is a regular file within a size
//!   cap. A symlink, FIFO, device, socket or directory is
//!   [`FileError::NotRegular`] naming its [`FileKind`]; a file over the cap
//!   is [`FileError::TooLarge`]. [`read_regular`] also stops at the cap
//!   when the file grows while it is read.
//! - [`open_append_private`]: create-or-append without following a
//!   symlink (the audit log), refusing anything but a regular file.
//! - [`check_output_path`]: the output-path policy of `--out`,
//!   `--deletions-report` and `import --out`. Only a new path or an
//!   existing regular file; never a symlink, device, FIFO, socket or
//!   directory; never one of the `forbidden` paths (the state, its backup,
//!   lock and history, the spec's files). Paths are compared after
//!   resolving the parent directory with `canonicalize`, and existing files
//!   also by device and inode, so two spellings of one file (`./a/../s.json`,
//!   a symlinked directory, a hard link) are the same file.
//!
//! ```
//! use orgform_files::{FileKind, FileError, check_output_path, read_regular, write_atomic};
//! # let dir = tempfile::tempdir()?;
//! let state = dir.path().join("state.json");
//! write_atomic(&state, b"{}\n", 0o600)?;
//! assert_eq!(read_regular(&state, 1024)?, b"{}\n");
//!
//! // The state can never be an output path, however it is spelled.
//! let spelled = dir.path().join(".").join("state.json");
//! assert!(check_output_path(&spelled, &[&state]).is_err());
//! check_output_path(&dir.path().join("plan.json"), &[&state])?;
//!
//! let err = read_regular(dir.path(), 1024).unwrap_err();
//! assert!(matches!(err, FileError::NotRegular { kind: FileKind::Directory, .. }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Unix only (modes, `O_NOFOLLOW`, directory fsync). Libraries never print:
//! every outcome is a value.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File, Metadata};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::OFlags;
use tempfile::NamedTempFile;

/// `0600`: the mode of every file holding personal data.
pub const PRIVATE_FILE: u32 = 0o600;
/// `0700`: the mode of every directory orgform creates for such files.
pub const PRIVATE_DIR: u32 = 0o700;

/// What a path is, as `lstat` or `fstat` sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A symbolic link (dangling or not).
    Symlink,
    /// A named pipe.
    Fifo,
    /// A character device (`/dev/zero`, `/dev/null`, a terminal).
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A Unix socket.
    Socket,
    /// Anything else.
    Other,
}

impl FileKind {
    /// The kind of a file type.
    pub fn of(file_type: fs::FileType) -> FileKind {
        if file_type.is_file() {
            FileKind::Regular
        } else if file_type.is_dir() {
            FileKind::Directory
        } else if file_type.is_symlink() {
            FileKind::Symlink
        } else if file_type.is_fifo() {
            FileKind::Fifo
        } else if file_type.is_char_device() {
            FileKind::CharDevice
        } else if file_type.is_block_device() {
            FileKind::BlockDevice
        } else if file_type.is_socket() {
            FileKind::Socket
        } else {
            FileKind::Other
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Regular => "regular file",
            FileKind::Directory => "directory",
            FileKind::Symlink => "symbolic link",
            FileKind::Fifo => "FIFO (named pipe)",
            FileKind::CharDevice => "character device",
            FileKind::BlockDevice => "block device",
            FileKind::Socket => "socket",
            FileKind::Other => "special file",
        })
    }
}

/// Every failure of this crate.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The path is not a regular file; nothing was read or written.
    #[error("`{path}` is a {kind}, not a regular file")]
    NotRegular {
        /// The path as given.
        path: PathBuf,
        /// What it is.
        kind: FileKind,
    },
    /// The file is larger than the cap; nothing was read.
    #[error("`{path}` is larger than the limit of {max} bytes")]
    TooLarge {
        /// The path as given.
        path: PathBuf,
        /// Its size when known (a file growing while read has none).
        size: Option<u64>,
        /// The cap.
        max: u64,
    },
    /// An output path names a file orgform reads or owns.
    #[error("`{path}` is the same file as `{forbidden}`, which orgform must not overwrite")]
    Forbidden {
        /// The output path as given.
        path: PathBuf,
        /// The protected path it resolves to.
        forbidden: PathBuf,
    },
    /// An output path without a file name (`/`, `..`).
    #[error("`{path}` does not name a file")]
    NoFileName {
        /// The output path as given.
        path: PathBuf,
    },
    /// An operating-system error.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        /// What was being done ("open", "read", "inspect").
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl FileError {
    fn io(action: &'static str, path: &Path, source: io::Error) -> FileError {
        FileError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    }

    /// The kind of a [`FileError::NotRegular`], else `None`.
    pub fn kind(&self) -> Option<FileKind> {
        match self {
            FileError::NotRegular { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// The I/O error kind of a [`FileError::Io`] (e.g. `NotFound`).
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            FileError::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

/// Writes `bytes` to `path` atomically and durably with file mode `mode`
/// (see the crate docs). The directory must exist.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    write_atomic_with(path, mode, |w| w.write_all(bytes))
}

/// [`write_atomic`] with a callback that streams the content into a
/// buffered writer (no copy of the whole content in memory).
pub fn write_atomic_with(
    path: &Path,
    mode: u32,
    fill: impl FnOnce(&mut BufWriter<&File>) -> io::Result<()>,
) -> io::Result<()> {
    let mut file = AtomicFile::create(path, mode)?;
    file.write_with(fill)?;
    file.commit()
}

/// An atomic write in steps, for callers with work between writing the
/// content and the rename (the state keeps its backup there). Dropping it
/// without [`AtomicFile::commit`] removes the temp file.
#[derive(Debug)]
pub struct AtomicFile {
    temp: NamedTempFile,
    target: PathBuf,
}

impl AtomicFile {
    /// A new, empty temp file beside `path` with mode `mode`.
    pub fn create(path: &Path, mode: u32) -> io::Result<AtomicFile> {
        Ok(AtomicFile {
            temp: temp_file_beside(path, mode)?,
            target: path.to_owned(),
        })
    }

    /// Streams content into the temp file (buffered), then flushes.
    pub fn write_with(
        &mut self,
        fill: impl FnOnce(&mut BufWriter<&File>) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut writer = BufWriter::with_capacity(1 << 16, self.temp.as_file());
        fill(&mut writer)?;
        writer.flush()
    }

    /// The open temp file.
    pub fn file(&self) -> &File {
        self.temp.as_file()
    }

    /// The temp file's path.
    pub fn temp_path(&self) -> &Path {
        self.temp.path()
    }

    /// fsync the content, rename it over the target, fsync the directory.
    pub fn commit(self) -> io::Result<()> {
        self.temp.as_file().sync_all()?;
        self.temp.persist(&self.target).map_err(|e| e.error)?;
        sync_dir(&parent_dir(&self.target))
    }
}

/// A new, empty temp file in `path`'s directory, named
/// `.<file name>.<random>.tmp` (see [`temp_prefix`]), mode exactly `mode`.
pub fn temp_file_beside(path: &Path, mode: u32) -> io::Result<NamedTempFile> {
    let temp = tempfile::Builder::new()
        .prefix(&temp_prefix(path))
        .suffix(".tmp")
        .permissions(fs::Permissions::from_mode(mode))
        .tempfile_in(parent_dir(path))?;
    // The umask can only remove bits; set the mode exactly anyway.
    temp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))?;
    Ok(temp)
}

/// `.<file name>.`: the prefix of every temp file written beside `path`, so
/// that a killed writer's leftovers are recognisable.
pub fn temp_prefix(path: &Path) -> OsString {
    let mut prefix = OsString::from(".");
    prefix.push(path.file_name().unwrap_or_default());
    prefix.push(".");
    prefix
}

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// fsyncs a directory, making renames and links in it durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// What is at `path` without following a final symlink; `None` when
/// nothing is there.
pub fn kind_at(path: &Path) -> io::Result<Option<FileKind>> {
    match fs::symlink_metadata(path) {
        Ok(m) => Ok(Some(FileKind::of(m.file_type()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The `open(2)` flags for a path someone else may have planted: never
/// block on a FIFO, never follow a final symlink, never take a terminal.
const UNTRUSTED_OPEN: OFlags = OFlags::NONBLOCK
    .union(OFlags::NOFOLLOW)
    .union(OFlags::NOCTTY);

/// Opens `path` for reading if it is a regular file of at most `max_bytes`
/// (see the crate docs). Never blocks (a FIFO is opened non-blocking and
/// then refused) and never follows a final symlink.
pub fn open_regular(path: &Path, max_bytes: u64) -> Result<(File, Metadata), FileError> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(UNTRUSTED_OPEN.bits() as i32)
        .open(path)
        .map_err(|e| open_error(path, e))?;
    let meta = regular_metadata(&file, path)?;
    if meta.len() > max_bytes {
        return Err(FileError::TooLarge {
            path: path.to_owned(),
            size: Some(meta.len()),
            max: max_bytes,
        });
    }
    Ok((file, meta))
}

/// The whole content of a regular file of at most `max_bytes`
/// ([`open_regular`]); a file that grows past the cap while it is read is
/// [`FileError::TooLarge`] too.
pub fn read_regular(path: &Path, max_bytes: u64) -> Result<Vec<u8>, FileError> {
    let (file, meta) = open_regular(path, max_bytes)?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| FileError::io("read", path, e))?;
    if bytes.len() as u64 > max_bytes {
        return Err(FileError::TooLarge {
            path: path.to_owned(),
            size: None,
            max: max_bytes,
        });
    }
    Ok(bytes)
}

/// Opens `path` for reading and appending, creating it with mode `mode`
/// when missing,
/// without following a symlink; anything but a regular file is
/// [`FileError::NotRegular`] (a planted FIFO or device is opened
/// non-blocking and refused).
pub fn open_append_private(path: &Path, mode: u32) -> Result<File, FileError> {
    let file = fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(mode)
        .custom_flags(UNTRUSTED_OPEN.bits() as i32)
        .open(path)
        .map_err(|e| open_error(path, e))?;
    regular_metadata(&file, path)?;
    Ok(file)
}

/// The metadata of an open `file` (opened from `path`), which must be a
/// regular file: anything else is [`FileError::NotRegular`].
fn regular_metadata(file: &File, path: &Path) -> Result<Metadata, FileError> {
    let meta = file
        .metadata()
        .map_err(|e| FileError::io("inspect", path, e))?;
    let kind = FileKind::of(meta.file_type());
    if kind != FileKind::Regular {
        return Err(FileError::NotRegular {
            path: path.to_owned(),
            kind,
        });
    }
    Ok(meta)
}

/// Turns an `open` failure into the error naming what the path is: with
/// `O_NOFOLLOW`, a final symlink fails with `ELOOP`; a socket with `ENXIO`.
fn open_error(path: &Path, e: io::Error) -> FileError {
    let errno = e.raw_os_error().map(rustix::io::Errno::from_raw_os_error);
    if matches!(
        errno,
        Some(rustix::io::Errno::LOOP | rustix::io::Errno::NXIO | rustix::io::Errno::OPNOTSUPP)
    ) && let Ok(Some(kind)) = kind_at(path)
        && kind != FileKind::Regular
    {
        return FileError::NotRegular {
            path: path.to_owned(),
            kind,
        };
    }
    FileError::io("open", path, e)
}

/// Checks that `path` may be written as an output file (see the crate
/// docs): nothing at `path`, or a regular file that is none of `forbidden`.
/// Forbidden paths that do not exist are compared by their resolved name.
pub fn check_output_path(path: &Path, forbidden: &[&Path]) -> Result<(), FileError> {
    let Some(resolved) = resolve_name(path)? else {
        return Err(FileError::NoFileName {
            path: path.to_owned(),
        });
    };
    let existing = match fs::symlink_metadata(path) {
        Ok(m) => {
            let kind = FileKind::of(m.file_type());
            if kind != FileKind::Regular {
                return Err(FileError::NotRegular {
                    path: path.to_owned(),
                    kind,
                });
            }
            Some(m)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(FileError::io("inspect", path, e)),
    };
    for &protected in forbidden {
        if is_same_file(&resolved, existing.as_ref(), protected) {
            return Err(FileError::Forbidden {
                path: path.to_owned(),
                forbidden: protected.to_owned(),
            });
        }
    }
    Ok(())
}

/// Whether the output (resolved name, metadata when it exists) is the
/// protected path: same resolved name, same resolved target when the
/// protected path is a symlink, or same device and inode.
fn is_same_file(resolved: &Path, existing: Option<&Metadata>, protected: &Path) -> bool {
    if let Ok(Some(name)) = resolve_name(protected)
        && name == resolved
    {
        return true;
    }
    if let Ok(real) = fs::canonicalize(protected)
        && real == resolved
    {
        return true;
    }
    match (existing, fs::metadata(protected)) {
        (Some(out), Ok(p)) => out.dev() == p.dev() && out.ino() == p.ino(),
        _ => false,
    }
}

/// `canonicalize(parent) / file name`; `None` when the path names no file.
/// A parent that does not exist is kept as given (made absolute).
fn resolve_name(path: &Path) -> Result<Option<PathBuf>, FileError> {
    let Some(name) = path.file_name() else {
        return Ok(None);
    };
    let parent = parent_dir(path);
    let dir = match fs::canonicalize(&parent) {
        Ok(dir) => dir,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::path::absolute(&parent).map_err(|e| FileError::io("resolve", &parent, e))?
        }
        Err(e) => return Err(FileError::io("resolve", &parent, e)),
    };
    Ok(Some(dir.join(name)))
}

#[cfg(test)]
mod tests;
