//! The file store: `state.json`, its `.backup`, its `.lock` and
//! `history.jsonl` in one directory (DESIGN section 3). The lock file is
//! handled in `lock.rs` (by path), the atomic writes in `fsio.rs`, the
//! history file in `history.rs`; this module ties them together behind
//! [`crate::Store`], with [`FileLock`], the held lock.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::StateError;
use crate::history::{self, HISTORY_FILE, HistoryEntry};
use crate::holder::LockHolder;
use crate::state::{self, State, Version};
use crate::{fsio, lock};

/// One state file and its companions (backup, lock, history).
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
    backup_path: PathBuf,
    lock_path: PathBuf,
}

/// The held lock on a file state. Only a `FileLock` can write the state
/// ([`FileLock::commit`]); dropping it releases the lock, if the lock file
/// is still this one's (a `force-unlock` and a new holder are left alone).
#[derive(Debug)]
pub struct FileLock {
    store: FileStore,
    holder: LockHolder,
    released: bool,
}

impl FileLock {
    /// Who holds this lock (this process).
    pub fn holder(&self) -> &LockHolder {
        &self.holder
    }

    /// The store this lock is on.
    pub fn store(&self) -> &FileStore {
        &self.store
    }

    /// Writes `state` as the new state: atomically, durably, `0600`, the
    /// previous file kept as `<state>.backup`.
    ///
    /// Refuses, writing nothing, when this lock was removed meanwhile
    /// ([`StateError::LockLost`]), when the file on disk is not an earlier
    /// state of the same lineage ([`StateError::Conflict`]: someone else
    /// wrote it), when it is damaged or of a newer format, or when `state`
    /// itself could not be read back ([`StateError::InvalidState`]). A
    /// missing file may be (re)created by any state.
    pub fn commit(&self, state: &State) -> Result<(), StateError> {
        self.check_alive()?;
        self.store.write_state(state)
    }

    /// Fails with [`StateError::LockLost`] unless the lock file still
    /// carries this lock's id.
    pub fn check_alive(&self) -> Result<(), StateError> {
        lock::check_ours(&self.store.lock_path, &self.holder)
    }

    /// Releases the lock now, reporting errors (dropping releases too, but
    /// silently).
    pub fn release(mut self) -> Result<(), StateError> {
        self.released = true;
        lock::release(&self.store.lock_path, &self.holder)
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        if !self.released {
            // Nothing useful can be done with an error here; the next run
            // reports a lock left behind.
            let _ = lock::release(&self.store.lock_path, &self.holder);
        }
    }
}

impl FileStore {
    /// The store for the state file at `path` (nothing is read yet).
    pub fn new(path: PathBuf) -> FileStore {
        FileStore {
            backup_path: fsio::with_suffix(&path, ".backup"),
            lock_path: fsio::with_suffix(&path, ".lock"),
            path,
        }
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `<state>.backup`: the state before the last commit.
    pub fn backup_path(&self) -> &Path {
        &self.backup_path
    }

    /// `<state>.lock`.
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    /// `history.jsonl` in the state file's directory (shared by every state
    /// file of that directory; each line names its lineage).
    pub fn history_path(&self) -> PathBuf {
        fsio::parent_dir(&self.path).join(HISTORY_FILE)
    }

    /// Reads the state. No file = `Ok(None)` (nothing applied yet). A
    /// damaged, truncated or non-state file is [`StateError::Corrupt`]
    /// (naming the backup when it exists), never an empty state; a newer
    /// format is [`StateError::NewerFormat`]. Takes no lock.
    pub fn load(&self) -> Result<Option<State>, StateError> {
        let Some(bytes) = self.read_state_bytes()? else {
            return Ok(None);
        };
        state::parse(&self.path, &bytes, self.existing_backup()).map(Some)
    }

    /// The state with this serial: the current file or its backup.
    pub(crate) fn load_serial(&self, serial: u64) -> Result<Option<State>, StateError> {
        if let Some(current) = self.load()?
            && current.serial == serial
        {
            return Ok(Some(current));
        }
        match fs::read(&self.backup_path) {
            Ok(bytes) => {
                let backup = state::parse(&self.backup_path, &bytes, None)?;
                Ok((backup.serial == serial).then_some(backup))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StateError::io("read the backup", &self.backup_path, e)),
        }
    }

    /// The backup (when readable) and the current state, oldest first.
    pub(crate) fn versions(&self) -> Result<Vec<Version>, StateError> {
        let mut out = Vec::new();
        let stamp = |path: &Path| {
            fs::metadata(path)
                .and_then(|m| m.modified())
                .map(|t| humantime::format_rfc3339_seconds(t).to_string())
                .unwrap_or_default()
        };
        if let Ok(bytes) = fs::read(&self.backup_path)
            && let Ok((lineage, serial)) = state::parse_header(&self.backup_path, &bytes, None)
        {
            out.push(Version {
                serial,
                lineage,
                written_at: stamp(&self.backup_path),
            });
        }
        if let Some(bytes) = self.read_state_bytes()? {
            let (lineage, serial) =
                state::parse_header(&self.path, &bytes, self.existing_backup())?;
            out.push(Version {
                serial,
                lineage,
                written_at: stamp(&self.path),
            });
        }
        Ok(out)
    }

    /// Takes the lock for an apply. Without `wait`, fails at once with
    /// [`StateError::Locked`] naming the holder; with it, polls until the
    /// lock is free or `wait` passes. A stale lock (its process is gone)
    /// fails at once, whatever `wait`: only `orgform force-unlock` removes
    /// it. Creates the state directory (`0700`) if missing.
    pub fn lock(&self, command: &str, wait: Option<Duration>) -> Result<FileLock, StateError> {
        let holder = lock::acquire(&self.path, &self.lock_path, command, wait)?;
        Ok(FileLock {
            store: self.clone(),
            holder,
            released: false,
        })
    }

    /// Who holds the lock now, if anyone. An unreadable lock file is
    /// [`StateError::UnreadableLock`].
    pub fn lock_holder(&self) -> Result<Option<LockHolder>, StateError> {
        lock::read_holder(&self.lock_path)
    }

    /// Removes the lock, whoever holds it, and returns who did (`None` when
    /// there was no lock, or when the lock file was unreadable: it is
    /// removed anyway). The caller confirms with the user first.
    pub fn force_unlock(&self) -> Result<Option<LockHolder>, StateError> {
        let holder = match lock::read_holder(&self.lock_path) {
            Ok(h) => h,
            Err(StateError::UnreadableLock { .. }) => None,
            Err(e) => return Err(e),
        };
        lock::remove_lock(&self.lock_path)?;
        Ok(holder)
    }

    /// Removes the lock only if `expected` still holds it (the holder the
    /// user confirmed); returns whether it did. Use this after a
    /// confirmation prompt, so that a lock taken in between is left alone.
    pub fn force_unlock_if(&self, expected: &LockHolder) -> Result<bool, StateError> {
        match lock::read_holder(&self.lock_path)? {
            Some(h) if h.id == expected.id => {
                lock::remove_lock(&self.lock_path)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Appends one line to [`FileStore::history_path`]: `O_APPEND`, fsync,
    /// `0600`. Takes no lock (appends do not interleave).
    pub fn append_history(&self, entry: &HistoryEntry) -> Result<(), StateError> {
        history::append(&self.history_path(), entry)
    }

    /// Every history entry, oldest first; no file = none. A damaged line is
    /// [`StateError::CorruptHistory`] naming it.
    pub fn read_history(&self) -> Result<Vec<HistoryEntry>, StateError> {
        history::read(&self.history_path())
    }

    /// The state file's bytes; `None` when there is none.
    /// Refuses a symlinked or odd state path and a state directory
    /// writable by others first (`fsio::check_state_path`).
    fn read_state_bytes(&self) -> Result<Option<Vec<u8>>, StateError> {
        fsio::read_state_file(&self.path)
    }

    fn existing_backup(&self) -> Option<&Path> {
        self.backup_path
            .is_file()
            .then_some(self.backup_path.as_path())
    }

    /// The write behind [`FileLock::commit`] (the caller holds the lock).
    pub(crate) fn write_state(&self, state: &State) -> Result<(), StateError> {
        if let Some(problem) = state.write_problem() {
            return Err(self.invalid(problem));
        }
        let old = self.read_state_bytes()?;
        if let Some(bytes) = &old {
            let on_disk = state::parse_header(&self.path, bytes, self.existing_backup())?;
            if on_disk.0 != state.lineage || on_disk.1 >= state.serial {
                return Err(StateError::Conflict {
                    path: self.path.clone(),
                    on_disk,
                    writing: (state.lineage.clone(), state.serial),
                });
            }
        }
        drop(old);
        let dir = fsio::parent_dir(&self.path);
        fsio::ensure_dir(&dir)
            .map_err(|e| StateError::io("create the state directory", &dir, e))?;
        self.remove_leftovers(&dir);

        let io_err = |e| StateError::io("write the state file", &self.path, e);
        let temp = fsio::write_temp(&self.path, |w| state.write_json(w)).map_err(io_err)?;
        // The backup is in place before the rename: the state path holds the
        // old or the new file at every instant, and a backup always exists
        // once a second state was written.
        self.keep_backup()
            .map_err(|e| StateError::io("write the backup", &self.backup_path, e))?;
        fsio::persist(temp, &self.path).map_err(io_err)?;
        fsio::sync_dir(&dir).map_err(|e| StateError::io("sync the directory", &dir, e))
    }

    /// Makes `<state>.backup` the current state file (`0600`), replacing
    /// the previous backup atomically: a hard link renamed into place, or a
    /// copy where links are not possible. Nothing to do without a state.
    fn keep_backup(&self) -> io::Result<()> {
        if !self.path.is_file() {
            return Ok(());
        }
        let temp = fsio::temp_file_beside(&self.backup_path)?;
        let link = temp.path().with_extension("link");
        drop(temp);
        let linked = fs::hard_link(&self.path, &link).and_then(|()| {
            // The link shares the state file's inode: tighten its mode too
            // (a state checked out from Git is 0644); it is replaced next.
            fs::set_permissions(&link, fs::Permissions::from_mode(fsio::FILE_MODE))
        });
        match linked {
            // When the backup already names the state's inode (a writer was
            // killed between linking and replacing), POSIX makes this rename a
            // no-op that leaves `link` in place: remove it either way.
            Ok(()) => {
                let renamed = fs::rename(&link, &self.backup_path);
                let _ = fs::remove_file(&link);
                renamed
            }
            Err(_) => {
                let _ = fs::remove_file(&link);
                let bytes = fs::read(&self.path)?;
                let copy =
                    fsio::write_temp(&self.backup_path, |w| std::io::Write::write_all(w, &bytes))?;
                fsio::persist(copy, &self.backup_path)
            }
        }
    }

    /// Removes temp files that a killed writer of this state left behind
    /// (`.<name>.<random>.tmp`, `.<name>.backup.<random>.tmp|.link`). Safe:
    /// only a lock holder writes them, and the caller holds the lock; the
    /// lock's own temp files (`.<name>.lock.<random>.tmp`) are left alone,
    /// since another process may be trying to take the lock. Best effort.
    fn remove_leftovers(&self, dir: &Path) {
        let prefixes = [
            fsio::temp_prefix(&self.path),
            fsio::temp_prefix(&self.backup_path),
        ];
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if prefixes.iter().any(|p| is_temp_name(&name, p)) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    fn invalid(&self, detail: String) -> StateError {
        StateError::InvalidState {
            path: self.path.clone(),
            detail,
        }
    }
}

/// Whether `name` is `<prefix><random>.tmp` or `<prefix><random>.link`,
/// the random part being letters and digits only.
fn is_temp_name(name: &std::ffi::OsStr, prefix: &std::ffi::OsStr) -> bool {
    let Some(rest) = name
        .as_encoded_bytes()
        .strip_prefix(prefix.as_encoded_bytes())
    else {
        return false;
    };
    let random = rest
        .strip_suffix(b".tmp")
        .or_else(|| rest.strip_suffix(b".link"));
    matches!(random, Some(r) if !r.is_empty() && r.iter().all(u8::is_ascii_alphanumeric))
}
