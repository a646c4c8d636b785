//! Private, atomic, durable file writes.
//!
//! Every file this crate writes holds personal data (names, emails, phones),
//! so every one is created `0600` and every directory it creates `0700`.

use std::ffi::OsString;
use std::fs::{self, DirBuilder, File};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// Mode of every file this crate writes.
pub(crate) const FILE_MODE: u32 = 0o600;
/// Mode of every directory this crate creates.
pub(crate) const DIR_MODE: u32 = 0o700;

/// Writes `bytes` to `path` atomically and durably, readable only by the
/// owner: a temp file in the same directory (mode `0600`), write, fsync,
/// rename over `path`, fsync of the directory. At every instant `path` holds
/// either its old content or all of `bytes`.
///
/// The directory must exist. Used for the state and for saved plan files.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("plan.json");
/// orgform_state::write_private_atomic(&path, b"{}\n")?;
/// assert_eq!(std::fs::read(&path)?, b"{}\n");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_private_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// [`write_private_atomic`] with a writer callback that streams the content
/// into a buffered writer (no intermediate copy of the whole content).
pub(crate) fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<&File>) -> io::Result<()>,
) -> io::Result<()> {
    let temp = write_temp(path, fill)?;
    persist(temp, path)?;
    sync_dir(&parent_dir(path))
}

/// Writes the content into a fresh `0600` temp file beside `path` and
/// fsyncs it; the caller renames it into place.
pub(crate) fn write_temp(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<&File>) -> io::Result<()>,
) -> io::Result<NamedTempFile> {
    let temp = temp_file_beside(path)?;
    {
        let mut writer = BufWriter::with_capacity(1 << 16, temp.as_file());
        fill(&mut writer)?;
        writer.flush()?;
    }
    temp.as_file().sync_all()?;
    Ok(temp)
}

/// Renames a temp file over `path` (does not fsync the directory).
pub(crate) fn persist(temp: NamedTempFile, path: &Path) -> io::Result<()> {
    temp.persist(path).map(drop).map_err(|e| e.error)
}

/// A new, empty, `0600` temp file in `path`'s directory, named
/// `.<file name>.<random>.tmp` so that leftovers are recognizable.
pub(crate) fn temp_file_beside(path: &Path) -> io::Result<NamedTempFile> {
    let temp = tempfile::Builder::new()
        .prefix(&temp_prefix(path))
        .suffix(".tmp")
        .permissions(fs::Permissions::from_mode(FILE_MODE))
        .tempfile_in(parent_dir(path))?;
    // The mode given at creation is filtered by the umask, which can only
    // remove bits; set it exactly anyway, so a strange umask cannot leave the
    // file unreadable to its owner.
    temp.as_file()
        .set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
    Ok(temp)
}

/// `.<file name>.`: the prefix of every temp file written beside `path`.
pub(crate) fn temp_prefix(path: &Path) -> OsString {
    let mut prefix = OsString::from(".");
    prefix.push(path.file_name().unwrap_or_default());
    prefix.push(".");
    prefix
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Creates `dir` (and missing parents) with mode `0700`; an existing
/// directory is left as it is.
pub(crate) fn ensure_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// fsyncs a directory, making renames and links in it durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// `path` with `suffix` appended to its file name (`state.json` +
/// `.lock` = `state.json.lock`).
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

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
    fn write_private_atomic_needs_an_existing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_private_atomic(&dir.path().join("no/such/plan.json"), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn bare_file_names_live_in_the_current_directory() {
        assert_eq!(parent_dir(Path::new("state.json")), PathBuf::from("."));
        assert_eq!(parent_dir(Path::new("a/state.json")), PathBuf::from("a"));
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
}
