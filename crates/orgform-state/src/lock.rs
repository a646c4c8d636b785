//! The lock file `<state>.lock`, by path: taking it ([`acquire`]), reading
//! who holds it ([`read_holder`]), checking it is still ours
//! ([`check_ours`]), releasing and removing it. The held lock, the only way
//! to write the state, is `file::FileLock`; this module knows nothing of
//! the store (so `file` uses `lock`, never the other way round).

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use orgform_model::text::clean;

use crate::error::StateError;
use crate::fsio;
use crate::holder::LockHolder;

/// A waiting `FileStore::lock` looks again after this, then twice as long
/// each time, up to [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(25);
/// The longest pause between two looks at a held lock.
const MAX_POLL: Duration = Duration::from_millis(500);
/// How many times creating the lock may fail while no holder can be read
/// before the lock is called unreadable (a real race ends in one or two).
const MAX_LOST_RACES: u32 = 20;

/// Takes the lock `lock_path` of the state `state_path` for `command`,
/// failing at once or polling until `wait` passes, and returns the holder
/// written into it. A stale lock is refused at once, since waiting cannot
/// help.
pub(crate) fn acquire(
    state_path: &Path,
    lock_path: &Path,
    command: &str,
    wait: Option<Duration>,
) -> Result<LockHolder, StateError> {
    fsio::check_state_path(state_path)?;
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
            None if try_create(lock_path, &bytes)? => return Ok(holder),
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

/// Fails with [`StateError::LockLost`] unless the lock file still carries
/// `holder`'s id (an unreadable lock file is not ours either).
pub(crate) fn check_ours(lock_path: &Path, holder: &LockHolder) -> Result<(), StateError> {
    match read_holder(lock_path) {
        Ok(Some(h)) if h.id == holder.id => Ok(()),
        Ok(now) => Err(StateError::LockLost {
            lock: lock_path.to_owned(),
            now: now.map(Box::new),
        }),
        Err(StateError::UnreadableLock { .. }) => Err(StateError::LockLost {
            lock: lock_path.to_owned(),
            now: None,
        }),
        Err(e) => Err(e),
    }
}

/// Removes the lock file if it still carries `holder`'s id.
pub(crate) fn release(lock_path: &Path, holder: &LockHolder) -> Result<(), StateError> {
    // Between this read and the removal, a force-unlock plus a new lock
    // could slip in; the window is a few microseconds, and force-unlock is
    // documented as "only when the holder is gone".
    match read_holder(lock_path) {
        Ok(Some(h)) if h.id == holder.id => remove_lock(lock_path),
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
