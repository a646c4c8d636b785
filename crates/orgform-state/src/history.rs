//! The audit log `history.jsonl`: one [`HistoryEntry`] per apply attempt.

use std::fmt;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::clock::now_rfc3339;
use crate::error::StateError;
use crate::fsio;

/// How an apply attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// The server applied it and the new state was written.
    Applied,
    /// Nothing changed on the server (a rejection, a failure before the
    /// real request).
    Failed,
    /// The server may have applied it (no answer came back after the real
    /// request was sent, or the state could not be written after success).
    MaybeApplied,
    /// orgform refused it (a blocked, stale or altered plan).
    Refused,
    /// The operator did not confirm it.
    Declined,
    /// A signal (SIGINT, SIGTERM) stopped it before anything was applied,
    /// or after the last request in flight was answered.
    Interrupted,
}

impl Outcome {
    /// The spelling in the history file, e.g. `maybeApplied`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Failed => "failed",
            Outcome::MaybeApplied => "maybeApplied",
            Outcome::Refused => "refused",
            Outcome::Declined => "declined",
            Outcome::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The history file's name, in the state file's directory.
pub const HISTORY_FILE: &str = "history.jsonl";

/// Changes of one kind of record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KindCounts {
    /// Created.
    #[serde(default)]
    pub create: u64,
    /// Updated.
    #[serde(default)]
    pub update: u64,
    /// Deleted.
    #[serde(default)]
    pub delete: u64,
    /// Left as they were.
    #[serde(default)]
    pub unchanged: u64,
}

/// Users' and groups' changes: planned, or as the server reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeCounts {
    /// Users.
    #[serde(default)]
    pub users: KindCounts,
    /// Groups.
    #[serde(default)]
    pub groups: KindCounts,
}

/// Who ran an attempt: the local user and host, and the CI job when there
/// is one (DESIGN section 10).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    /// The login name (`USER`, else `LOGNAME`, else the uid).
    #[serde(default)]
    pub user: String,
    /// The host name.
    #[serde(default)]
    pub host: String,
    /// The CI job, where the environment names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<CiIdentity>,
}

/// A CI job's identity, read from the variables its CI system sets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CiIdentity {
    /// `github` or `gitlab`.
    pub system: String,
    /// Who triggered the job (`GITHUB_ACTOR`, `GITLAB_USER_LOGIN`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// The run or pipeline (`GITHUB_RUN_ID`, `CI_PIPELINE_ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The commit the job ran on (`GITHUB_SHA`, `CI_COMMIT_SHA`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_sha: Option<String>,
}

impl Actor {
    /// The actor of this process, from its environment.
    pub fn current() -> Actor {
        Actor::from_env(|name| std::env::var(name).ok())
    }

    /// The actor described by `var` (an environment lookup); empty values
    /// count as unset. GitHub is recognised by `GITHUB_ACTIONS=true`, GitLab
    /// by `GITLAB_CI=true`.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Actor {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let user = get("USER")
            .or_else(|| get("LOGNAME"))
            .unwrap_or_else(|| format!("uid {}", rustix::process::getuid().as_raw()));
        let host = rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned();
        let ci = if get("GITHUB_ACTIONS").is_some_and(|v| v == "true") {
            Some(CiIdentity {
                system: "github".to_owned(),
                actor: get("GITHUB_ACTOR"),
                run_id: get("GITHUB_RUN_ID"),
                commit_sha: get("GITHUB_SHA"),
            })
        } else if get("GITLAB_CI").is_some_and(|v| v == "true") {
            Some(CiIdentity {
                system: "gitlab".to_owned(),
                actor: get("GITLAB_USER_LOGIN"),
                run_id: get("CI_PIPELINE_ID"),
                commit_sha: get("CI_COMMIT_SHA"),
            })
        } else {
            None
        };
        Actor { user, host, ci }
    }
}

/// externalIds of one kind of change, users and groups, each sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordIds {
    /// User externalIds.
    #[serde(default)]
    pub users: Vec<String>,
    /// Group externalIds.
    #[serde(default)]
    pub groups: Vec<String>,
}

impl RecordIds {
    /// Whether neither list has an id.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }

    /// Whether `id` is in either list.
    pub fn contains(&self, id: &str) -> bool {
        self.users.iter().chain(&self.groups).any(|x| x == id)
    }
}

/// One line of `history.jsonl` (or one history row of another store): one
/// attempt, whatever its outcome (DESIGN section 10).
///
/// Make one with [`HistoryEntry::new`] and fill in the rest. Fields may be
/// added later; readers ignore fields they do not know, and every field
/// added after the first release has a default, so old lines still read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// When, RFC 3339 UTC.
    pub time: String,
    /// The orgform version that wrote the line.
    #[serde(default)]
    pub tool_version: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Who ran it.
    #[serde(default)]
    pub actor: Actor,
    /// The command, e.g. `orgform apply` or `orgform apply plan.orgplan`.
    pub command: String,
    /// Where the requests went (or would have gone), without credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The state's lineage (after the apply, for a first apply that wrote
    /// one; `None` when there was no state and none was written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<String>,
    /// The plan's digest.
    pub plan_digest: String,
    /// The spec's digest.
    pub spec_digest: String,
    /// The serial of the state the attempt started from (0 = none).
    #[serde(default)]
    pub serial_before: u64,
    /// The serial written, when a new state was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_after: Option<u64>,
    /// The wave this line is about (1-based), for a plan sent in waves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wave: Option<u32>,
    /// How many waves the plan has (1 for an ordinary plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waves: Option<u32>,
    /// What the plan (or this wave of it) counted.
    #[serde(default)]
    pub planned: ChangeCounts,
    /// What the server reported, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported: Option<ChangeCounts>,
    /// The records this attempt created (or would have), by externalId.
    #[serde(default)]
    pub created: RecordIds,
    /// The records this attempt deleted (or would have).
    #[serde(default)]
    pub deleted: RecordIds,
    /// The users this attempt deactivated (or would have).
    #[serde(default)]
    pub deactivated: RecordIds,
    /// Whether `--force` overrode the safety thresholds.
    #[serde(default)]
    pub forced: bool,
    /// A one-line explanation (an error, a reason for refusing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl HistoryEntry {
    /// An entry timed now, by the current [`Actor`], with no base state,
    /// no counts, no ids and no message.
    pub fn new(
        command: &str,
        outcome: Outcome,
        plan_digest: &str,
        spec_digest: &str,
    ) -> HistoryEntry {
        HistoryEntry {
            time: now_rfc3339(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            outcome,
            actor: Actor::current(),
            command: command.to_owned(),
            endpoint: None,
            lineage: None,
            plan_digest: plan_digest.to_owned(),
            spec_digest: spec_digest.to_owned(),
            serial_before: 0,
            serial_after: None,
            wave: None,
            waves: None,
            planned: ChangeCounts::default(),
            reported: None,
            created: RecordIds::default(),
            deleted: RecordIds::default(),
            deactivated: RecordIds::default(),
            forced: false,
            message: None,
        }
    }

    /// Whether this line names `id` as created, deleted or deactivated.
    pub fn mentions(&self, id: &str) -> bool {
        self.created.contains(id) || self.deleted.contains(id) || self.deactivated.contains(id)
    }
}

/// Appends one line: `O_APPEND`, one `write` call, fsync; a file created
/// here is `0600` (and its directory `0700`). A half-written last line left
/// by a crash is closed with a newline first, so it damages only itself.
pub(crate) fn append(path: &Path, entry: &HistoryEntry) -> Result<(), StateError> {
    let io_err = |e| StateError::io("append to the history", path, e);
    let mut line = serde_json::to_vec(entry).map_err(|source| StateError::Encode {
        what: "a history entry",
        path: path.to_owned(),
        source,
    })?;
    line.push(b'\n');
    let dir = fsio::parent_dir(path);
    fsio::ensure_dir(&dir).map_err(|e| StateError::io("create the state directory", &dir, e))?;
    fsio::check_dir(&dir)?;
    // Never through a planted symlink, never blocked on a planted FIFO.
    let mut file = orgform_files::open_append_private(path, fsio::FILE_MODE)
        .map_err(|e| fsio::file_error(e, "the history", "append to the history"))?;
    let len = file.metadata().map_err(io_err)?.len();
    if len > 0 {
        let mut last = [0u8; 1];
        file.read_exact_at(&mut last, len - 1).map_err(io_err)?;
        if last[0] != b'\n' {
            line.insert(0, b'\n');
        }
    }
    file.write_all(&line).map_err(io_err)?;
    file.sync_all().map_err(io_err)
}

/// Every entry, oldest first; no file = none.
pub(crate) fn read(path: &Path) -> Result<Vec<HistoryEntry>, StateError> {
    let text = match orgform_files::read_regular(path, u64::MAX) {
        Ok(bytes) => bytes,
        Err(e) if e.io_kind() == Some(io::ErrorKind::NotFound) => return Ok(Vec::new()),
        Err(e) => return Err(fsio::file_error(e, "the history", "read the history")),
    };
    text.split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .map(|(i, line)| {
            serde_json::from_slice(line).map_err(|e| StateError::CorruptHistory {
                path: path.to_owned(),
                line: i + 1,
                detail: orgform_model::text::clean(&e.to_string()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::{self, OpenOptions};

    fn entry(outcome: Outcome) -> HistoryEntry {
        let mut e = HistoryEntry::new("orgform apply", outcome, "sha256:p", "sha256:s");
        e.time = "2026-11-23T10:00:00Z".to_owned();
        e.tool_version = "0.0.0".to_owned();
        e.actor = Actor {
            user: "ops".to_owned(),
            host: "box".to_owned(),
            ci: None,
        };
        e
    }

    #[test]
    fn a_line_has_a_stable_shape() {
        let mut e = entry(Outcome::MaybeApplied);
        e.lineage = Some("L".to_owned());
        e.serial_before = 4;
        e.endpoint = Some("http://127.0.0.1:8080/v1/organization".to_owned());
        e.planned.users.create = 2;
        e.planned.groups.delete = 1;
        e.forced = true;
        e.wave = Some(2);
        e.waves = Some(3);
        e.created.users = vec!["E1".to_owned()];
        e.deleted.groups = vec!["G9".to_owned()];
        e.message = Some("no answer after the request was sent".to_owned());
        // The fixed endpoint (with its port) and tool version are part of
        // the line under test: the testkit's folder and naming, no filters.
        let mut settings = orgform_testkit::settings("orgform-state");
        settings.clear_filters();
        settings.bind(|| {
            orgform_testkit::insta::assert_snapshot!(
                "history_line",
                serde_json::to_string(&e).unwrap()
            );
        });
    }

    #[test]
    fn the_actor_names_the_ci_job() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let github = Actor::from_env(env(&[
            ("USER", "runner"),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_ACTOR", "octocat"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_SHA", "abc123"),
        ]));
        assert_eq!(github.user, "runner");
        let ci = github.ci.expect("a GitHub job");
        assert_eq!(
            (
                ci.system.as_str(),
                ci.actor.as_deref(),
                ci.run_id.as_deref()
            ),
            ("github", Some("octocat"), Some("42"))
        );
        assert_eq!(ci.commit_sha.as_deref(), Some("abc123"));
        let gitlab = Actor::from_env(env(&[
            ("GITLAB_CI", "true"),
            ("GITLAB_USER_LOGIN", "alice"),
            ("CI_PIPELINE_ID", "7"),
            ("CI_COMMIT_SHA", "def"),
        ]));
        let ci = gitlab.ci.expect("a GitLab job");
        assert_eq!(ci.system, "gitlab");
        assert_eq!(ci.actor.as_deref(), Some("alice"));
        assert!(gitlab.user.starts_with("uid "), "no USER: the uid");
        let local = Actor::from_env(env(&[("USER", "ops"), ("GITHUB_ACTOR", "x")]));
        assert_eq!(local.ci, None, "GITHUB_ACTOR alone is not a GitHub job");
    }

    #[test]
    fn an_old_line_without_the_new_fields_still_reads() {
        let old = r#"{"time":"2026-11-23T10:00:00Z","command":"orgform apply","outcome":"applied","serialBefore":0,"planDigest":"sha256:p","specDigest":"sha256:s"}"#;
        let e: HistoryEntry = serde_json::from_str(old).unwrap();
        assert_eq!(e.outcome, Outcome::Applied);
        assert!(e.created.is_empty() && e.actor.user.is_empty());
    }

    #[test]
    fn appends_and_reads_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/history.jsonl");
        assert!(read(&path).unwrap().is_empty());
        let mut applied = entry(Outcome::Applied);
        applied.serial_after = Some(1);
        applied.reported = Some(ChangeCounts::default());
        let all = [applied, entry(Outcome::Failed), entry(Outcome::Declined)];
        for e in &all {
            append(&path, e).unwrap();
        }
        assert_eq!(read(&path).unwrap(), all);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn a_torn_line_damages_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        append(&path, &entry(Outcome::Applied)).unwrap();
        // A crash in the middle of an append.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"time\":\"2026-").unwrap();
        append(&path, &entry(Outcome::Refused)).unwrap();
        match read(&path) {
            Err(StateError::CorruptHistory { line: 2, .. }) => {}
            other => panic!("expected line 2 to be reported, got {other:?}"),
        }
        let text = fs::read_to_string(&path).unwrap();
        let last = text.lines().last().unwrap();
        let parsed: HistoryEntry = serde_json::from_str(last).unwrap();
        assert_eq!(parsed.outcome, Outcome::Refused);
    }
}
