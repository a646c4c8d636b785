//! [`StateError`]: every way reading or writing the state can fail, each
//! message carrying the advice a user needs.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::holder::LockHolder;

/// Everything that can go wrong in this crate. Messages are lowercase, name
/// paths in backticks, and say what to do.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A filesystem call failed.
    #[error("cannot {action} `{}`", path.display())]
    Io {
        /// What was being done, e.g. `read the state file`.
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The state file exists but is not a complete, valid state: never read
    /// as empty (that would plan to create everything again).
    #[error("{}", corrupt_message(path, detail, backup.as_deref()))]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it (truncated, not JSON, a missing field, …).
        detail: String,
        /// `state.json.backup`, when it exists.
        backup: Option<PathBuf>,
    },

    /// The state file was written by a newer orgform, with a format this one
    /// does not know.
    #[error(
        "state file `{}` has formatVersion {found}, but this orgform ({}) reads only \
         formatVersion {supported}: it was written by a newer orgform; upgrade orgform to use \
         it (the file was left untouched)",
        path.display(),
        env!("CARGO_PKG_VERSION")
    )]
    NewerFormat {
        /// The state file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The newest version this build reads ([`crate::FORMAT_VERSION`]).
        supported: u32,
    },

    /// Another run holds the lock (or a crashed run left it behind).
    #[error("{}", LockedMessage { lock, holder, stale: *stale, waited: *waited })]
    Locked {
        /// The lock file, `<state>.lock`.
        lock: PathBuf,
        /// Who holds it.
        holder: Box<LockHolder>,
        /// The holder ran on this host and its process is gone: the lock is
        /// left over from a crash. Still refused until `orgform force-unlock`.
        stale: bool,
        /// How long this run waited for it (`--lock-timeout`), if at all.
        waited: Option<Duration>,
    },

    /// The lock file exists but does not say who holds it (for example,
    /// emptied by a power loss).
    #[error(
        "the state is locked, but the lock file `{}` cannot be read ({detail}); if no orgform \
         is running for this state, remove the lock with `orgform force-unlock`",
        lock.display()
    )]
    UnreadableLock {
        /// The lock file.
        lock: PathBuf,
        /// What is wrong with it.
        detail: String,
    },

    /// The lock this run held was removed (by `orgform force-unlock`) before
    /// the state was written; nothing was written.
    #[error("{}", lock_lost_message(lock, now.as_deref()))]
    LockLost {
        /// The lock file.
        lock: PathBuf,
        /// Who holds the lock now, if anyone.
        now: Option<Box<LockHolder>>,
    },

    /// The state file changed under the lock: it is no longer the state this
    /// run started from, so writing would lose someone else's apply.
    #[error(
        "state file `{}` changed while this run held the lock: it now holds lineage `{}` serial \
         {}, and this run would write lineage `{}` serial {}; the state was not overwritten: \
         another run wrote it (after an `orgform force-unlock`?) or it was replaced by hand; \
         run `orgform plan` against the current state",
        path.display(),
        on_disk.0,
        on_disk.1,
        writing.0,
        writing.1
    )]
    Conflict {
        /// The state file.
        path: PathBuf,
        /// Lineage and serial of the file on disk.
        on_disk: (String, u64),
        /// Lineage and serial of the state being written.
        writing: (String, u64),
    },

    /// A caller asked to write a state that could not be read back (a bug in
    /// the caller, never the user's doing).
    #[error("refusing to write an invalid state to `{}`: {detail}", path.display())]
    InvalidState {
        /// The state file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },

    /// A history line cannot be read.
    #[error(
        "history `{}` line {line} cannot be read ({detail}); the other lines are intact: fix or \
         delete that line (a run that crashed while appending can leave one half-written)",
        path.display()
    )]
    CorruptHistory {
        /// `history.jsonl`.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong with it.
        detail: String,
    },

    /// A state, lock or history path is something orgform must not read or
    /// write through (a symlink, a FIFO, a directory writable by others):
    /// refused before anything was read or written.
    #[error("refusing `{}`: {problem}; {advice}", path.display())]
    Unsafe {
        /// The path concerned.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
        /// What to do.
        advice: String,
    },

    /// A state location (`--state`, `ORGFORM_STATE`) that cannot be used.
    #[error("state location `{location}` is not usable: {detail}")]
    BadLocation {
        /// The location, any password masked.
        location: String,
        /// What is wrong and what to do.
        detail: String,
    },

    /// A database operation failed (PostgreSQL store).
    #[error("cannot {action} `{location}`: {detail}")]
    Database {
        /// What was being done, e.g. `read the state from`.
        action: &'static str,
        /// The store, without a password.
        location: String,
        /// The driver's or server's message.
        detail: String,
    },

    /// The PostgreSQL session holding this run's lock is gone (the network,
    /// the server, or `orgform force-unlock --force`): nothing was committed.
    #[error(
        "the lock session on `{location}` was lost ({detail}); nothing was committed on it, and \
         another run may hold the lock now: check `orgform state show` and `orgform history`, \
         then plan again"
    )]
    LockSessionLost {
        /// The store.
        location: String,
        /// Why.
        detail: String,
    },

    /// `force-unlock` of a lock whose session is alive.
    #[error(
        "the lock on `{location}` is held by {holder}, whose database session is alive: that run \
         is still going; wait for it, or pass --force to end its session (it then commits \
         nothing, and what it was sending may have applied)"
    )]
    LockAlive {
        /// The store.
        location: String,
        /// Who holds it.
        holder: Box<LockHolder>,
    },

    /// orgform's tables were made by a newer orgform.
    #[error(
        "the orgform tables in `{location}` have schema version {found}, but this orgform ({}) \
         knows only version {supported}: upgrade orgform (nothing was changed)",
        env!("CARGO_PKG_VERSION")
    )]
    NewerSchema {
        /// The store.
        location: String,
        /// The version found.
        found: i32,
        /// The newest version this build knows.
        supported: i32,
    },

    /// An operation this kind of store cannot do.
    #[error("{what} is not possible on `{location}`: {detail}")]
    Unsupported {
        /// The operation, e.g. `state prune`.
        what: &'static str,
        /// The store.
        location: String,
        /// Why, and what to do instead.
        detail: String,
    },

    /// Encoding a value as JSON failed.
    #[error("cannot encode {what} for `{}`", path.display())]
    Encode {
        /// What was encoded.
        what: &'static str,
        /// Where it was going.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
}

impl StateError {
    /// An [`StateError::Io`] for `path`.
    pub(crate) fn io(action: &'static str, path: &Path, source: io::Error) -> StateError {
        StateError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    }
}

fn corrupt_message(path: &Path, detail: &str, backup: Option<&Path>) -> String {
    let path = path.display();
    let advice = match backup {
        Some(backup) => format!(
            "the state before the last apply is in `{}`: check it and copy it over `{path}`, or \
             restore `{path}` from Git (the backup is one apply old, so the next plan may show \
             changes that are already applied: applying them again converges)",
            backup.display()
        ),
        None => format!(
            "restore `{path}` from Git or your backups; do not delete it: without a state, \
             orgform would plan to create every user and group again"
        ),
    };
    format!("state file `{path}` is damaged ({detail}); it was not read as empty: {advice}")
}

fn lock_lost_message(lock: &Path, now: Option<&LockHolder>) -> String {
    let who = match now {
        Some(holder) => format!(" and is now held by {holder}"),
        None => String::new(),
    };
    format!(
        "this run no longer holds the lock `{}`: it was removed (by `orgform force-unlock`?){who}; \
         the state was not written: check what the other run did (`orgform state show`), then \
         plan again",
        lock.display()
    )
}

/// The message of [`StateError::Locked`].
struct LockedMessage<'a> {
    lock: &'a Path,
    holder: &'a LockHolder,
    stale: bool,
    waited: Option<Duration>,
}

impl fmt::Display for LockedMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lock = self.lock.display();
        let holder = self.holder;
        if self.stale {
            return write!(
                f,
                "the state is locked by {holder}, but that process is gone (a crashed run?); if \
                 no orgform is running for this state, remove the lock `{lock}` with `orgform \
                 force-unlock`"
            );
        }
        match self.waited {
            Some(waited) => write!(
                f,
                "the state is still locked by {holder} after waiting {}; wait longer \
                 (--lock-timeout) or, if that run is gone, remove the lock `{lock}` with \
                 `orgform force-unlock`",
                seconds(waited)
            ),
            None => write!(
                f,
                "the state is locked by {holder}: another run is using it; wait for it to \
                 finish (--lock-timeout waits), or, if that run is gone, remove the lock \
                 `{lock}` with `orgform force-unlock`"
            ),
        }
    }
}

/// `250ms`, `30.0s`.
fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}
