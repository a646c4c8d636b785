//! The file store's file-system policy, on top of `orgform-files` (the one
//! atomic writer, the non-blocking regular-file open).
//!
//! Every file this crate writes holds personal data (names, emails, phones),
//! so every one is created `0600` and every directory it creates `0700`.
//!
//! The state directory may be prepared by someone else (a shared runner, a
//! pull request's checkout), so (DESIGN section 11):
//! - **a symlinked state path is refused**, with the real path in the
//!   advice. The alternative, resolving the link once and locking the real
//!   path, was rejected: the lock, backup and history live beside the path
//!   the user gave, and a link that is re-pointed between two runs would
//!   still give one state two locks. Refusing keeps "one path, one lock"
//!   true without a resolution step anyone can race. A symlinked *directory*
//!   is fine: every file of the store is then in one real directory, so
//!   every spelling takes the same lock.
//! - the state file, its lock and `history.jsonl` are opened with
//!   `O_NOFOLLOW | O_NONBLOCK` and checked with fstat: a symlink, FIFO,
//!   device or directory there is [`StateError::Unsafe`] with advice, never
//!   followed, never waited on.
//! - **a state directory writable by others** (mode `o+w`, sticky or not)
//!   is refused with the advice `chmod 700`: anyone could plant a lock, a
//!   history symlink or a new state there. A group-writable directory is
//!   accepted: with user private groups (umask 002, the default on Debian
//!   and Ubuntu) every checkout is `0775`, and refusing it would refuse
//!   `--state state.json` in most repositories.

use std::fs::{self, DirBuilder, File};
use std::io::{self, BufWriter};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use orgform_files::{AtomicFile, FileError, FileKind};
use tempfile::NamedTempFile;

pub(crate) use orgform_files::{parent_dir, sync_dir, temp_prefix};

use crate::error::StateError;

/// Mode of every file this crate writes.
pub(crate) const FILE_MODE: u32 = orgform_files::PRIVATE_FILE;
/// Mode of every directory this crate creates.
pub(crate) const DIR_MODE: u32 = orgform_files::PRIVATE_DIR;
/// The largest state file read (a 100k-user state is ~60 MB).
pub(crate) const MAX_STATE_BYTES: u64 = 2 << 30;
/// The largest lock file read (a holder is ~300 bytes).
pub(crate) const MAX_LOCK_BYTES: u64 = 64 << 10;

/// Writes `bytes` to `path` atomically and durably, readable only by the
/// owner: a temp file in the same directory (mode `0600`), write, fsync,
/// rename over `path`, fsync of the directory. At every instant `path` holds
/// either its old content or all of `bytes`.
///
/// The directory must exist. Prefer `orgform_files::write_atomic`, which
/// this calls with mode `0600`; kept for callers of this crate.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("plan.json");
/// orgform_state::write_private_atomic(&path, b"{}\n")?;
/// assert_eq!(std::fs::read(&path)?, b"{}\n");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_private_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    orgform_files::write_atomic(path, bytes, FILE_MODE)
}

/// Writes the content into a fresh `0600` temp file beside `path`; the
/// caller renames it into place with [`persist`].
pub(crate) fn write_temp(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<&File>) -> io::Result<()>,
) -> io::Result<AtomicFile> {
    let mut temp = AtomicFile::create(path, FILE_MODE)?;
    temp.write_with(fill)?;
    Ok(temp)
}

/// fsyncs the temp file and renames it over its target (then fsyncs the
/// directory).
pub(crate) fn persist(temp: AtomicFile, _path: &Path) -> io::Result<()> {
    temp.commit()
}

/// A new, empty, `0600` temp file in `path`'s directory, named
/// `.<file name>.<random>.tmp` so that leftovers are recognizable.
pub(crate) fn temp_file_beside(path: &Path) -> io::Result<NamedTempFile> {
    orgform_files::temp_file_beside(path, FILE_MODE)
}

/// Creates `dir` (and missing parents) with mode `0700`; an existing
/// directory is left as it is.
pub(crate) fn ensure_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// `path` with `suffix` appended to its file name (`state.json` +
/// `.lock` = `state.json.lock`).
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Refuses a state path that is a symlink or not a regular file, and a
/// state directory writable by others (see the module docs). A missing
/// path or directory is fine (the first apply creates them).
pub(crate) fn check_state_path(path: &Path) -> Result<(), StateError> {
    check_dir(&parent_dir(path))?;
    match orgform_files::kind_at(path) {
        Ok(None | Some(FileKind::Regular)) => Ok(()),
        Ok(Some(FileKind::Symlink)) => {
            let target = fs::canonicalize(path)
                .map(|real| format!("`{}`", orgform_model::text::clean(&real.to_string_lossy())))
                .unwrap_or_else(|_| "the file it points to".to_owned());
            Err(StateError::Unsafe {
                path: path.to_owned(),
                problem: "the state path is a symbolic link".to_owned(),
                advice: format!(
                    "orgform locks a state by its path, so two spellings of one state would take \
                     two locks, and a write would replace the link instead of its target: pass \
                     the real path {target} to --state (or ORGFORM_STATE)"
                ),
            })
        }
        Ok(Some(kind)) => Err(StateError::Unsafe {
            path: path.to_owned(),
            problem: format!("the state path is a {kind}, not a state file"),
            advice: "pass the path of a state file (or of one to create) to --state".to_owned(),
        }),
        Err(e) => Err(StateError::io("inspect the state file", path, e)),
    }
}

/// Refuses a directory writable by others; a missing one is fine.
pub(crate) fn check_dir(dir: &Path) -> Result<(), StateError> {
    let meta = match fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StateError::io("inspect the state directory", dir, e)),
    };
    let mode = meta.permissions().mode();
    if mode & 0o002 != 0 {
        return Err(StateError::Unsafe {
            path: dir.to_owned(),
            problem: format!(
                "the state directory is writable by others (mode {:04o})",
                mode & 0o7777
            ),
            advice: format!(
                "anyone on this machine could replace the state or plant a lock or history file \
                 there: run `chmod 700 {}`, or keep the state in a private directory",
                dir.display()
            ),
        });
    }
    Ok(())
}

/// The state file's bytes, read through [`orgform_files::read_regular`]
/// after [`check_state_path`]; `None` when there is none.
pub(crate) fn read_state_file(path: &Path) -> Result<Option<Vec<u8>>, StateError> {
    check_state_path(path)?;
    match orgform_files::read_regular(path, MAX_STATE_BYTES) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.io_kind() == Some(io::ErrorKind::NotFound) => Ok(None),
        Err(e) => Err(file_error(e, "the state file", "read the state file")),
    }
}

/// A `FileError` as the [`StateError`] a user can act on; `what` names
/// the file ("the lock file").
pub(crate) fn file_error(e: FileError, what: &str, action: &'static str) -> StateError {
    match e {
        FileError::NotRegular { path, kind } => {
            let advice = match kind {
                FileKind::Symlink => format!(
                    "orgform never follows a symbolic link there; if you did not create it, \
                     someone else may have: inspect it, then remove it (`rm {}`)",
                    path.display()
                ),
                _ => format!(
                    "orgform reads only regular files there; move it away (`mv {} …`) once no \
                     orgform is running",
                    path.display()
                ),
            };
            StateError::Unsafe {
                problem: format!("{what} is a {kind}, not a regular file"),
                path,
                advice,
            }
        }
        FileError::TooLarge { path, max, .. } => StateError::Unsafe {
            problem: format!("{what} is larger than {max} bytes"),
            path,
            advice: "it cannot be an orgform file: check what wrote it".to_owned(),
        },
        FileError::Io { path, source, .. } => StateError::io(action, &path, source),
        other => StateError::io(action, Path::new(""), io::Error::other(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;
    use std::os::unix::fs::{MetadataExt, symlink};

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().mode() & 0o777
    }

    #[test]
    fn write_private_atomic_replaces_content_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        fs::write(&path, b"old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        write_private_atomic(&path, b"new content").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new content");
        assert_eq!(mode(&path), 0o600);
        // No temp file is left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![OsString::from("plan.json")]);
    }

    #[test]
    fn bare_file_names_live_in_the_current_directory() {
        assert_eq!(parent_dir(Path::new("state.json")), PathBuf::from("."));
        assert_eq!(
            with_suffix(Path::new("a/state.json"), ".lock"),
            PathBuf::from("a/state.json.lock")
        );
        assert_eq!(
            temp_prefix(Path::new("a/state.json")),
            OsString::from(".state.json.")
        );
    }

    #[test]
    fn ensure_dir_creates_0700_and_leaves_existing_ones_alone() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        ensure_dir(&nested).unwrap();
        assert_eq!(mode(&nested), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        fs::set_permissions(&nested, fs::Permissions::from_mode(0o750)).unwrap();
        ensure_dir(&nested).unwrap();
        assert_eq!(mode(&nested), 0o750);
    }

    #[test]
    fn a_symlinked_state_path_is_refused_naming_the_real_path() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        fs::write(&real, b"{}").unwrap();
        let link = dir.path().join("state.json");
        symlink(&real, &link).unwrap();
        let err = read_state_file(&link).unwrap_err().to_string();
        assert!(err.contains("is a symbolic link"), "{err}");
        assert!(err.contains("real.json"), "{err}");
        assert!(read_state_file(&real).unwrap().is_some());
        assert!(
            read_state_file(&dir.path().join("none.json"))
                .unwrap()
                .is_none()
        );
        // A symlinked directory is fine: one real directory, one lock.
        let alias = dir.path().join("alias");
        symlink(dir.path(), &alias).unwrap();
        assert!(read_state_file(&alias.join("real.json")).unwrap().is_some());
    }

    #[test]
    fn a_directory_writable_by_others_is_refused_with_chmod_advice() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let err = read_state_file(&state).unwrap_err().to_string();
        assert!(err.contains("writable by others (mode 0777)"), "{err}");
        assert!(err.contains("chmod 700"), "{err}");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o775)).unwrap();
        assert!(read_state_file(&state).unwrap().is_none());
        assert_eq!(fs::metadata(dir.path()).unwrap().mode() & 0o777, 0o775);
    }
}
