//! Who holds a lock ([`LockHolder`], the content of a file lock and of a
//! PostgreSQL holder row) and whether they still run ([`Liveness`],
//! [`LockStatus`]). A leaf of the crate's module graph: the errors, both
//! stores and the lock file all use it; it uses only the clock.

use std::fmt;

use orgform_model::text::clean;
use serde::{Deserialize, Serialize};

use crate::clock::now_rfc3339;

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

    /// Whether the holder ran on this host and its process still exists:
    /// `force-unlock` refuses such a lock without `--force`.
    pub fn is_alive_here(&self) -> bool {
        self.host == current_host() && pid_alive(self.pid)
    }

    /// Whether a file lock's holder still runs: [`Liveness::Unknown`] for
    /// another host (its process cannot be checked from here).
    pub fn liveness(&self) -> Liveness {
        if self.host != current_host() {
            Liveness::Unknown
        } else if pid_alive(self.pid) {
            Liveness::Alive
        } else {
            Liveness::Gone
        }
    }

    /// A fixed holder for tests: `alice` on `ci-3`, pid 4242.
    #[cfg(test)]
    pub(crate) fn sample() -> LockHolder {
        LockHolder {
            id: "0b7f8a9e-0000-4000-8000-000000000002".to_owned(),
            user: "alice".to_owned(),
            host: "ci-3".to_owned(),
            pid: 4242,
            command: "orgform apply".to_owned(),
            time: "2026-11-23T10:00:00Z".to_owned(),
        }
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

/// Whether a lock's holder is still running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// Running: its process on this host, or its database session, is alive.
    Alive,
    /// Gone: its process on this host, or its database session, has ended.
    Gone,
    /// Cannot be told from here (a file lock taken on another host).
    Unknown,
}

/// Who holds a lock, and whether they are still running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockStatus {
    /// The holder as recorded.
    pub holder: LockHolder,
    /// Whether it is still running.
    pub session: Liveness,
}

/// `$USER` when set and non-empty, else `uid <n>`.
fn current_user() -> String {
    match std::env::var("USER") {
        Ok(user) if !user.is_empty() => user,
        _ => format!("uid {}", rustix::process::getuid().as_raw()),
    }
}

/// The host name, as `uname -n` prints it.
fn current_host() -> String {
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

    #[test]
    fn holder_display_names_who_where_what_and_since_when() {
        assert_eq!(
            LockHolder::sample().to_string(),
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
