//! The last-applied state: an atomic file store, a lock, and a history log.
//!
//! - [`Store`]: where one state lives (`--state`, else `ORGFORM_STATE`,
//!   else `./.orgform/state.json`; see [`resolve_path`]). Reading
//!   ([`Store::load`]) takes no lock: writes are atomic renames, so a reader
//!   sees the old or the new file, never a mix. That is why `plan` takes no
//!   lock.
//! - [`StateLock`]: the lock `<state>.lock`, taken by [`Store::lock`]; the
//!   only way to write the state ([`StateLock::commit`]). [`LockHolder`] says
//!   who holds it.
//! - [`State`]: what the server holds after the last apply (the *effective*
//!   records), with lineage, serial, endpoint, spec digest and time.
//! - [`HistoryEntry`]: one line of `history.jsonl` per apply attempt.
//! - [`write_private_atomic`]: the `0600` atomic writer, also used for saved
//!   plan files.
//! - [`StateError`]: every failure, with the advice a user needs.
//!
//! Files: the state `state.json` (`0600`, pretty JSON, `formatVersion: 1`),
//! its previous copy `state.json.backup` (`0600`), the lock
//! `state.json.lock` (`0600`, JSON naming the holder), and
//! `history.jsonl` (`0600`) in the same directory (created `0700`). Nothing
//! here can hold a token.
//!
//! ```
//! use orgform_model::EffectiveOrg;
//! use orgform_state::{State, Store};
//!
//! # let dir = tempfile::tempdir()?;
//! let store = Store::new(dir.path().join(".orgform/state.json"));
//! assert!(store.load()?.is_none()); // no file = empty state
//!
//! let lock = store.lock("orgform apply", None)?;
//! let first = State::first(EffectiveOrg::default(), "sha256:00", None);
//! lock.commit(&first)?;
//! drop(lock); // releases the lock
//!
//! let loaded = store.load()?.expect("written above");
//! assert_eq!(loaded.serial, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Unix only: file modes, `kill(pid, 0)` for stale locks, directory fsync.

mod clock;
mod error;
mod file;
mod fsio;
mod history;
mod holder;
mod lock;
pub mod postgres;
mod state;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use file::{FileLock, FileStore};
use postgres::{PgLock, PgStore, PgUrl};

pub use error::StateError;
pub use fsio::write_private_atomic;
pub use history::{
    Actor, ChangeCounts, CiIdentity, HISTORY_FILE, HistoryEntry, KindCounts, Outcome, RecordIds,
};
pub use holder::{Liveness, LockHolder, LockStatus};
pub use state::{FORMAT_VERSION, Rollout, State, Version};

/// The env var naming the state file when `--state` is not given.
pub const STATE_ENV: &str = "ORGFORM_STATE";
/// The state file when neither `--state` nor `ORGFORM_STATE` is given.
pub const DEFAULT_STATE_PATH: &str = ".orgform/state.json";

/// The state file to use: `flag` (`--state`), else `ORGFORM_STATE` when set
/// and non-empty, else `./.orgform/state.json`. An empty `flag` counts as
/// not given.
pub fn resolve_path(flag: Option<&Path>) -> PathBuf {
    resolve_path_from(flag, std::env::var_os(STATE_ENV))
}

fn resolve_path_from(flag: Option<&Path>, env: Option<OsString>) -> PathBuf {
    match (flag, env) {
        (Some(flag), _) if !flag.as_os_str().is_empty() => flag.to_owned(),
        (_, Some(env)) if !env.is_empty() => PathBuf::from(env),
        _ => PathBuf::from(DEFAULT_STATE_PATH),
    }
}

/// Where a state lives, and how to reach it: a file ([`Store::new`]) or a
/// PostgreSQL database ([`Store::open`] with a `postgres://` URL). The CLI
/// uses it without knowing which.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Debug, Clone)]
enum Backend {
    File(FileStore),
    Postgres(Arc<PgStore>),
    /// A location that could not be used: every operation returns why (so
    /// that [`Store::open`] can stay infallible for its callers).
    Invalid(Arc<Invalid>),
}

#[derive(Debug)]
struct Invalid {
    location: String,
    path: PathBuf,
    detail: String,
}

impl Store {
    /// The file store for the state file at `path` (nothing is read yet).
    pub fn new(path: PathBuf) -> Store {
        Store {
            backend: Backend::File(FileStore::new(path)),
        }
    }

    /// The store a location names: a `postgres://` (or `postgresql://`) URL,
    /// else a file path. Nothing is read or connected yet; a URL that
    /// cannot be used gives a store whose every operation fails with
    /// [`StateError::BadLocation`] (use [`Store::try_open`] to fail now).
    pub fn open(location: PathBuf) -> Store {
        match Store::try_open(location.clone()) {
            Ok(store) => store,
            Err(err) => {
                let masked = postgres::mask_location(&location.to_string_lossy());
                Store {
                    backend: Backend::Invalid(Arc::new(Invalid {
                        path: PathBuf::from(&masked),
                        location: masked,
                        detail: err.to_string(),
                    })),
                }
            }
        }
    }

    /// [`Store::open`], failing at once on a URL that cannot be used.
    pub fn try_open(location: PathBuf) -> Result<Store, StateError> {
        match location.to_str() {
            Some(text) if postgres::is_postgres_location(text) => Ok(Store {
                backend: Backend::Postgres(Arc::new(PgStore::new(PgUrl::parse(text)?))),
            }),
            _ => Ok(Store::new(location)),
        }
    }

    /// The store `--state` (`flag`) names, else `ORGFORM_STATE`, else
    /// `./.orgform/state.json`.
    pub fn resolve(flag: Option<&Path>) -> Store {
        Store::open(resolve_path(flag))
    }

    /// What to call this store in messages: the state file's path, or the
    /// URL (never with a password).
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::File(f) => f.path().display().to_string(),
            Backend::Postgres(p) => p.describe().to_owned(),
            Backend::Invalid(i) => i.location.clone(),
        }
    }

    /// Whether this is the file store.
    pub fn is_file(&self) -> bool {
        matches!(self.backend, Backend::File(_))
    }

    /// The state file; for a PostgreSQL store, [`Store::describe`] as a
    /// path (kept for callers written before the PostgreSQL store: prefer
    /// `describe`).
    pub fn path(&self) -> &Path {
        match &self.backend {
            Backend::File(f) => f.path(),
            Backend::Postgres(p) => p.described_path(),
            Backend::Invalid(i) => &i.path,
        }
    }

    /// `<state>.backup`: the state before the last commit; for a PostgreSQL
    /// store, its URL (earlier versions are rows: `orgform state show
    /// --serial N`).
    pub fn backup_path(&self) -> &Path {
        match &self.backend {
            Backend::File(f) => f.backup_path(),
            _ => self.path(),
        }
    }

    /// `<state>.lock`; for a PostgreSQL store, its URL.
    pub fn lock_path(&self) -> &Path {
        match &self.backend {
            Backend::File(f) => f.lock_path(),
            _ => self.path(),
        }
    }

    /// `history.jsonl` in the state file's directory (shared by every state
    /// file of that directory; each line names its lineage); for a
    /// PostgreSQL store, its URL (history lines are rows).
    pub fn history_path(&self) -> PathBuf {
        match &self.backend {
            Backend::File(f) => f.history_path(),
            _ => self.path().to_owned(),
        }
    }

    fn invalid(i: &Invalid) -> StateError {
        StateError::BadLocation {
            location: i.location.clone(),
            detail: i
                .detail
                .split_once(" is not usable: ")
                .map_or(i.detail.clone(), |(_, d)| d.to_owned()),
        }
    }

    /// Reads the current state. None yet = `Ok(None)`. A damaged state is
    /// [`StateError::Corrupt`], never an empty state; a newer format
    /// [`StateError::NewerFormat`]. Takes no lock and always sees a whole
    /// state.
    pub fn load(&self) -> Result<Option<State>, StateError> {
        match &self.backend {
            Backend::File(f) => f.load(),
            Backend::Postgres(p) => p.load(),
            Backend::Invalid(i) => Err(Store::invalid(i)),
        }
    }

    /// The version with this serial, if it is kept: PostgreSQL keeps the
    /// last `keep`; the file store the current state and its backup.
    pub fn load_serial(&self, serial: u64) -> Result<Option<State>, StateError> {
        match &self.backend {
            Backend::File(f) => f.load_serial(serial),
            Backend::Postgres(p) => p.load_serial(serial),
            Backend::Invalid(i) => Err(Store::invalid(i)),
        }
    }

    /// The kept versions, oldest first.
    pub fn versions(&self) -> Result<Vec<Version>, StateError> {
        match &self.backend {
            Backend::File(f) => f.versions(),
            Backend::Postgres(p) => p.versions(),
            Backend::Invalid(i) => Err(Store::invalid(i)),
        }
    }

    /// Drops all but the newest `keep` versions (PostgreSQL); returns how
    /// many were dropped. The file store keeps only a backup:
    /// [`StateError::Unsupported`].
    pub fn prune(&self, keep: u32) -> Result<u64, StateError> {
        match &self.backend {
            Backend::File(f) => Err(StateError::Unsupported {
                what: "`state prune`",
                location: f.path().display().to_string(),
                detail: "the file store keeps only the current state and its backup".to_owned(),
            }),
            Backend::Postgres(p) => p.prune(keep.max(1)),
            Backend::Invalid(i) => Err(Store::invalid(i)),
        }
    }

    /// Takes the lock for an apply. Without `wait`, fails at once with
    /// [`StateError::Locked`] naming the holder; with it, polls until the
    /// lock is free or `wait` passes. File store: a stale lock (its process
    /// is gone) fails at once, whatever `wait`: only `orgform force-unlock`
    /// removes it. PostgreSQL: the lock is held by a dedicated session for
    /// the lock's whole life and ends with it.
    pub fn lock(&self, command: &str, wait: Option<Duration>) -> Result<StateLock, StateError> {
        let inner = match &self.backend {
            Backend::File(f) => LockInner::File(f.lock(command, wait)?),
            Backend::Postgres(p) => LockInner::Postgres(p.lock(command, wait)?),
            Backend::Invalid(i) => return Err(Store::invalid(i)),
        };
        Ok(StateLock { inner })
    }

    /// Who holds the lock now, if anyone. An unreadable lock is
    /// [`StateError::UnreadableLock`].
    pub fn lock_holder(&self) -> Result<Option<LockHolder>, StateError> {
        Ok(self.lock_status()?.map(|s| s.holder))
    }

    /// Who holds the lock now and whether they are still running.
    pub fn lock_status(&self) -> Result<Option<LockStatus>, StateError> {
        match &self.backend {
            Backend::File(f) => Ok(f.lock_holder()?.map(|holder| LockStatus {
                session: holder.liveness(),
                holder,
            })),
            Backend::Postgres(p) => p.lock_status(),
            Backend::Invalid(i) => Err(Store::invalid(i)),
        }
    }

    /// Removes the lock, whoever holds it, and returns who did (`None` when
    /// there was no lock, or when the lock file was unreadable: it is
    /// removed anyway). PostgreSQL: clears the holder row of a session that
    /// is gone; a live session is [`StateError::LockAlive`] (see
    /// [`Store::force_unlock_terminate`]). The caller confirms with the user
    /// first.
    pub fn force_unlock(&self) -> Result<Option<LockHolder>, StateError> {
        match &self.backend {
            Backend::File(f) => f.force_unlock(),
            Backend::Postgres(p) => {
                let holder = p.lock_status()?.map(|s| s.holder);
                p.force_unlock(None, false)?;
                Ok(holder)
            }
            Backend::Invalid(i) => Err(Store::invalid(i)),
        }
    }

    /// Removes the lock only if `expected` still holds it (the holder the
    /// user confirmed); returns whether it did. PostgreSQL: only when that
    /// holder's session is gone, else [`StateError::LockAlive`].
    pub fn force_unlock_if(&self, expected: &LockHolder) -> Result<bool, StateError> {
        match &self.backend {
            Backend::File(f) => f.force_unlock_if(expected),
            Backend::Postgres(p) => p.force_unlock(Some(expected), false),
            Backend::Invalid(i) => Err(Store::invalid(i)),
        }
    }

    /// [`Store::force_unlock_if`], and a live PostgreSQL holder's session
    /// is ended (`pg_terminate_backend`) first: that run then commits
    /// nothing. For the file store this is `force_unlock_if` (a live
    /// process is not killed; its commit is refused since the lock file no
    /// longer carries its id).
    pub fn force_unlock_terminate(&self, expected: &LockHolder) -> Result<bool, StateError> {
        match &self.backend {
            Backend::File(f) => f.force_unlock_if(expected),
            Backend::Postgres(p) => p.force_unlock(Some(expected), true),
            Backend::Invalid(i) => Err(Store::invalid(i)),
        }
    }

    /// Appends one history line: to `history.jsonl` (`O_APPEND`, fsync,
    /// `0600`), or as a row over a fresh connection (so it works when the
    /// lock session is gone). Takes no lock.
    pub fn append_history(&self, entry: &HistoryEntry) -> Result<(), StateError> {
        match &self.backend {
            Backend::File(f) => f.append_history(entry),
            Backend::Postgres(p) => p.append_history(entry),
            Backend::Invalid(i) => Err(Store::invalid(i)),
        }
    }

    /// Every history entry of this state, oldest first; none = empty. The
    /// file store returns every line of its directory's `history.jsonl`. A
    /// damaged line is [`StateError::CorruptHistory`] naming it.
    pub fn read_history(&self) -> Result<Vec<HistoryEntry>, StateError> {
        match &self.backend {
            Backend::File(f) => f.read_history(),
            Backend::Postgres(p) => p.read_history(),
            Backend::Invalid(i) => Err(Store::invalid(i)),
        }
    }

    /// `orgform state push`: writes `state` as the new current state, under
    /// the lock (taken here, not waited for), checked like a commit: with
    /// no state yet any lineage is taken; otherwise it must be the same
    /// lineage with a higher serial ([`StateError::Conflict`]).
    pub fn push(&self, state: &State, command: &str) -> Result<(), StateError> {
        let lock = self.lock(command, None)?;
        lock.commit(state)?;
        lock.release()
    }
}

/// The held lock on a state: the only way to write it
/// ([`StateLock::commit`]). Dropping it releases the lock (file: if the
/// lock file is still this one's; PostgreSQL: the session unlocks and
/// closes).
#[derive(Debug)]
pub struct StateLock {
    inner: LockInner,
}

#[derive(Debug)]
enum LockInner {
    File(FileLock),
    Postgres(PgLock),
}

impl StateLock {
    /// Who holds this lock (this process).
    pub fn holder(&self) -> &LockHolder {
        match &self.inner {
            LockInner::File(l) => l.holder(),
            LockInner::Postgres(l) => l.holder(),
        }
    }

    /// Writes `state` as the new state. File: atomically, durably, `0600`,
    /// the previous file kept as `<state>.backup`. PostgreSQL: one
    /// compare-and-swap transaction on the lock session.
    ///
    /// Refuses, writing nothing, when this lock was lost meanwhile
    /// ([`StateError::LockLost`], [`StateError::LockSessionLost`]), when
    /// the current state is not an earlier state of the same lineage
    /// ([`StateError::Conflict`]: someone else wrote it), when it is
    /// damaged or of a newer format, or when `state` itself could not be
    /// read back ([`StateError::InvalidState`]). With no state yet, any
    /// state may be written.
    pub fn commit(&self, state: &State) -> Result<(), StateError> {
        match &self.inner {
            LockInner::File(l) => l.commit(state),
            LockInner::Postgres(l) => l.commit(state, None),
        }
    }

    /// [`StateLock::commit`] with its history line: PostgreSQL writes both
    /// in the one transaction (the line exactly when the state); the file
    /// store commits, then appends the line.
    pub fn commit_with_history(
        &self,
        state: &State,
        entry: &HistoryEntry,
    ) -> Result<(), StateError> {
        match &self.inner {
            LockInner::File(l) => {
                l.commit(state)?;
                l.store().append_history(entry)
            }
            LockInner::Postgres(l) => l.commit(state, Some(entry)),
        }
    }

    /// Whether this run still holds the lock: the lock file still carries
    /// this lock's id, or the lock session answers a query within a few
    /// seconds. Call it before every request: a lost lock means the run
    /// must stop before sending anything more.
    pub fn check_alive(&self) -> Result<(), StateError> {
        match &self.inner {
            LockInner::File(l) => l.check_alive(),
            LockInner::Postgres(l) => l.check_alive(),
        }
    }

    /// Releases the lock now, reporting errors (dropping releases too, but
    /// silently).
    pub fn release(self) -> Result<(), StateError> {
        match self.inner {
            LockInner::File(l) => l.release(),
            LockInner::Postgres(mut l) => l.release(),
        }
    }
}

#[cfg(test)]
mod tests;
