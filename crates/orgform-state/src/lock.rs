//! The lock file `<state>.lock`: [`LockHolder`] says who holds it,
//! [`StateLock`] is the held lock (the only way to write the state).

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use orgform_model::text::clean;
use serde::{Deserialize, Serialize};

use crate::error::StateError;
use crate::file::{FileStore as Store, StateLockInner};
use crate::fsio;
use crate::state::{State, now_rfc3339};

/// A waiting [`Store::lock`] looks again after this, then twice as long
/// each time, up to [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(25);
/// The longest pause between two looks at a held lock.
const MAX_POLL: Duration = Duration::from_millis(500);
/// How many times creating the lock may fail while no holder can be read
/// before the lock is called unreadable (a real race ends in one or two).
const MAX_LOST_RACES: u32 = 20;

/// Who holds a lock: the content of the lock file (pretty JSON).
///
/// Displays as "`alice` on `ci-3` (pid 4242, `orgform apply`, since
/// 2026-11-23T10:00:00Z)".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockHolder {
    /// Unique per acquisition (uuid v4): releasing removes the lock only
    /// when the file still carries this id.
    pub id: String,
    /// `$USER`, else `uid <n>`.
    pub user: String,
    /// The host name (`uname -n`).
    pub host: String,
    /// The holding process.
    pub pid: u32,
    /// What it is doing, e.g. `orgform apply`.
    pub command: String,
    /// Since when, RFC 3339 UTC.
    pub time: String,
}

impl LockHolder {
    /// This process, now, doing `command`.
    pub fn current(command: &str) -> LockHolder {
        LockHolder {
            id: uuid::Uuid::new_v4().to_string(),
            user: current_user(),
            host: current_host(),
            pid: std::process::id(),
            command: command.to_owned(),
            time: now_rfc3339(),
        }
    }

    /// Whether the holder ran on this host and its process is gone: the
    /// lock is left over from a crash. A lock from another host is never
    /// called stale (its process cannot be checked from here); a pid reused
    /// by an unrelated process hides a stale lock.
    pub fn is_stale(&self) -> bool {
        self.host == current_host() && !pid_alive(self.pid)
    }
}

impl LockHolder {
    /// Whether the holder ran on this host and its process still exists:
    /// `force-unlock` refuses such a lock without `--force`.
    pub fn is_alive_here(&self) -> bool {
        self.host == current_host() && pid_alive(self.pid)
    }
}

impl fmt::Display for LockHolder {
    /// Every field comes from the lock file, which anyone who can write
    /// the state directory can write: each goes through the one escaping
    /// function (`orgform_model::text::clean`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` on `{}` (pid {}, `{}`, since {})",
            clean(&self.user),
            clean(&self.host),
            self.pid,
            clean(&self.command),
            clean(&self.time)
        )
    }
}

/// The held lock on a state. Only a `StateLock` can write the state
/// ([`StateLock::commit`]); dropping it releases the lock, if the lock file
/// is still this one's (a `force-unlock` and a new holder are left alone).
#[derive(Debug)]
pub struct StateLock {
    pub(crate) inner: StateLockInner,
}

impl StateLock {
    /// Who holds this lock (this process).
    pub fn holder(&self) -> &LockHolder {
        &self.inner.holder
    }

    /// The store this lock is on.
    pub fn store(&self) -> &Store {
        &self.inner.store
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
        self.check_ours()?;
        self.inner.store.write_state(state)
    }

    /// Releases the lock now, reporting errors (dropping releases too, but
    /// silently).
    pub fn release(mut self) -> Result<(), StateError> {
        self.inner.released = true;
        release(&self.inner.store, &self.inner.holder)
    }

    /// Fails with [`StateError::LockLost`] unless the lock file still
    /// carries this lock's id.
    fn check_ours(&self) -> Result<(), StateError> {
        let store = &self.inner.store;
        match read_holder(store.lock_path()) {
            Ok(Some(h)) if h.id == self.inner.holder.id => Ok(()),
            Ok(now) => Err(StateError::LockLost {
                lock: store.lock_path().to_owned(),
                now: now.map(Box::new),
            }),
            Err(StateError::UnreadableLock { .. }) => Err(StateError::LockLost {
                lock: store.lock_path().to_owned(),
                now: None,
            }),
            Err(e) => Err(e),
        }
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        if !self.inner.released {
            // Nothing useful can be done with an error here; the next run
            // reports a lock left behind.
            let _ = release(&self.inner.store, &self.inner.holder);
        }
    }
}

/// Takes the lock for `store`, failing at once or polling until `wait`
/// passes. A stale lock is refused at once, since waiting cannot help.
pub(crate) fn acquire(
    store: &Store,
    command: &str,
    wait: Option<Duration>,
) -> Result<StateLock, StateError> {
    let lock_path = store.lock_path();
    fsio::check_state_path(store.path())?;
    let dir = fsio::parent_dir(lock_path);
    fsio::ensure_dir(&dir).map_err(|e| StateError::io("create the state directory", &dir, e))?;
    let holder = LockHolder::current(command);
    let bytes = encode_holder(&holder, lock_path)?;
    let start = Instant::now();
    let mut poll = FIRST_POLL;
    // Creations that failed although no lock could be read: a real race
    // ends in a few; anything more is an odd file, not a busy loop.
    let mut lost_races = 0u32;
    loop {
        // Look before trying: no temp file is written while the lock is held.
        let current = match read_holder(lock_path)? {
            Some(current) => current,
            None if try_create(lock_path, &bytes)? => {
                return Ok(StateLock {
                    inner: StateLockInner {
                        store: store.clone(),
                        holder,
                        released: false,
                    },
                });
            }
            // Someone else took it in between: look again.
            None => {
                lost_races += 1;
                if lost_races > MAX_LOST_RACES
                    || wait.is_none_or(|limit| start.elapsed() >= limit) && lost_races > 3
                {
                    return Err(StateError::UnreadableLock {
                        lock: lock_path.to_owned(),
                        detail: "it cannot be created although no lock can be read (an odd \
                                 file that comes and goes?)"
                            .to_owned(),
                    });
                }
                thread::sleep(FIRST_POLL);
                continue;
            }
        };
        let stale = current.is_stale();
        let waited = start.elapsed();
        match wait {
            Some(limit) if !stale && waited < limit => {
                thread::sleep(poll.min(limit - waited));
                poll = (poll * 2).min(MAX_POLL);
            }
            _ => {
                return Err(StateError::Locked {
                    lock: lock_path.to_owned(),
                    holder: Box::new(current),
                    stale,
                    waited: wait.map(|_| waited),
                });
            }
        }
    }
}

/// Creates the lock file with its full content in one step: the content is
/// written to a temp file, which is then hard-linked to the lock path (a
/// link fails if the path exists). Returns `false` when the lock is held.
fn try_create(lock_path: &Path, bytes: &[u8]) -> Result<bool, StateError> {
    let io_err = |e| StateError::io("create the lock file", lock_path, e);
    let temp = fsio::temp_file_beside(lock_path).map_err(io_err)?;
    (|| {
        let mut file = temp.as_file();
        file.write_all(bytes)?;
        // Durable content: a lock file emptied by a power loss would be
        // unreadable.
        file.sync_all()
    })()
    .map_err(io_err)?;
    match fs::hard_link(temp.path(), lock_path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io_err(e)),
    }
    // The temp file is removed when `temp` drops; the lock keeps the inode.
}

fn encode_holder(holder: &LockHolder, lock_path: &Path) -> Result<Vec<u8>, StateError> {
    let mut bytes = serde_json::to_vec_pretty(holder).map_err(|source| StateError::Encode {
        what: "the lock holder",
        path: lock_path.to_owned(),
        source,
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// The holder recorded in the lock file; `None` when there is no lock.
///
/// The lock file is opened without following a symlink and without
/// blocking, and must be a small regular file: a dangling symlink, a FIFO,
/// a directory or a device there is [`StateError::UnreadableLock`] naming
/// what it is (at once, never a busy loop or a blocked read), which
/// `force-unlock` may remove.
pub(crate) fn read_holder(lock_path: &Path) -> Result<Option<LockHolder>, StateError> {
    let bytes = match orgform_files::read_regular(lock_path, fsio::MAX_LOCK_BYTES) {
        Ok(b) => b,
        Err(e) if e.io_kind() == Some(io::ErrorKind::NotFound) => return Ok(None),
        Err(orgform_files::FileError::NotRegular { kind, .. }) => {
            return Err(StateError::UnreadableLock {
                lock: lock_path.to_owned(),
                detail: format!(
                    "it is a {kind}, not a regular file; orgform never follows or waits on one"
                ),
            });
        }
        Err(orgform_files::FileError::TooLarge { max, .. }) => {
            return Err(StateError::UnreadableLock {
                lock: lock_path.to_owned(),
                detail: format!("it is larger than {max} bytes"),
            });
        }
        Err(e) => return Err(fsio::file_error(e, "the lock file", "read the lock file")),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| StateError::UnreadableLock {
            lock: lock_path.to_owned(),
            detail: if bytes.is_empty() {
                "it is empty".to_owned()
            } else {
                format!("it is not an orgform lock: {}", clean(&e.to_string()))
            },
        })
}

/// Removes the lock file if it still carries `holder`'s id.
fn release(store: &Store, holder: &LockHolder) -> Result<(), StateError> {
    // Between this read and the removal, a force-unlock plus a new lock
    // could slip in; the window is a few microseconds, and force-unlock is
    // documented as "only when the holder is gone".
    match read_holder(store.lock_path()) {
        Ok(Some(h)) if h.id == holder.id => remove_lock(store.lock_path()),
        Ok(_) | Err(StateError::UnreadableLock { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes the lock file; a missing one is fine.
pub(crate) fn remove_lock(lock_path: &Path) -> Result<(), StateError> {
    match fs::remove_file(lock_path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StateError::io("remove the lock file", lock_path, e)),
    }
}

/// `$USER` when set and non-empty, else `uid <n>`.
fn current_user() -> String {
    match std::env::var("USER") {
        Ok(user) if !user.is_empty() => user,
        _ => format!("uid {}", rustix::process::getuid().as_raw()),
    }
}

/// The host name, as `uname -n` prints it.
pub(crate) fn current_host() -> String {
    let name = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    if name.is_empty() {
        "unknown-host".to_owned()
    } else {
        name
    }
}

/// Whether a process with this pid exists on this host (`kill(pid, 0)`;
/// "not permitted" means it exists, owned by someone else).
fn pid_alive(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        Err(e) => e != rustix::io::Errno::SRCH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder() -> LockHolder {
        LockHolder {
            id: "0b7f8a9e-0000-4000-8000-000000000002".to_owned(),
            user: "alice".to_owned(),
            host: "ci-3".to_owned(),
            pid: 4242,
            command: "orgform apply".to_owned(),
            time: "2026-11-23T10:00:00Z".to_owned(),
        }
    }

    #[test]
    fn holder_display_names_who_where_what_and_since_when() {
        assert_eq!(
            holder().to_string(),
            "`alice` on `ci-3` (pid 4242, `orgform apply`, since 2026-11-23T10:00:00Z)"
        );
    }

    #[test]
    fn current_holder_is_this_process_and_alive() {
        let me = LockHolder::current("orgform apply");
        assert_eq!(me.pid, std::process::id());
        assert!(!me.user.is_empty());
        assert!(!me.host.is_empty());
        assert!(!me.is_stale());
        assert_ne!(me.id, LockHolder::current("orgform apply").id);
    }

    #[test]
    fn a_dead_pid_on_this_host_is_stale_and_other_hosts_never_are() {
        // Reap a child so that its pid is known to be gone.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        child.wait().unwrap();
        let mut h = LockHolder::current("x");
        h.pid = child.id();
        assert!(h.is_stale());
        h.host = format!("{}-elsewhere", h.host);
        assert!(!h.is_stale());
        h.host = current_host();
        h.pid = 0;
        assert!(h.is_stale());
    }
}
