//! [`State`]: the last-applied state and its file format.

use std::io::Write;
use std::path::Path;

use orgform_model::EffectiveOrg;
use serde::{Deserialize, Serialize};

use crate::clock::now_rfc3339;
use crate::error::StateError;

/// The state file format this build writes and reads.
///
/// Additions that an older orgform may safely ignore (and drop when it
/// rewrites the file) keep this number; anything else raises it, and an
/// older orgform then refuses the file with "upgrade orgform".
pub const FORMAT_VERSION: u32 = 1;

/// The last-applied state: what the server holds after the last successful
/// apply, and where that came from.
///
/// The file is pretty-printed JSON in this field order (stable, sorted maps,
/// one field per line, so that `git diff` of a state kept in Git is
/// readable); unknown fields are ignored when reading the same
/// `formatVersion`. Nothing here can hold a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// [`FORMAT_VERSION`] when written by this build.
    pub format_version: u32,
    /// Identifies one history of applies (a uuid v4, set by the first
    /// apply, kept by every later one). A saved plan made against another
    /// lineage is refused.
    pub lineage: String,
    /// 1 after the first apply, one more after each apply.
    pub serial: u64,
    /// The organization endpoint the state was applied to; `None` = unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The digest of the validated spec that was applied (`sha256:…`).
    pub spec_digest: String,
    /// When the apply finished, RFC 3339 UTC (`2026-11-23T10:00:00Z`).
    pub applied_at: String,
    /// The orgform version that wrote the file.
    pub tool_version: String,
    /// An apply in waves that this state is part of (DESIGN section 7):
    /// written after each wave of a plan of more than one request, kept
    /// after its last wave (so the same saved plan reads "already
    /// applied"), cleared by the next commit of any other plan
    /// ([`State::next`]). A file without it reads fine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
    /// The effective records: what the server holds after the apply.
    pub org: EffectiveOrg,
}

/// How far an apply in waves has come: `{"planDigest", "baseSerial",
/// "wavesDone", "wavesTotal"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollout {
    /// The digest of the plan being applied (`Plan::digest`).
    pub plan_digest: String,
    /// The serial of the state the plan was made against (0 = no state).
    pub base_serial: u64,
    /// Waves committed so far (this state is the commit of the last one).
    pub waves_done: u32,
    /// Waves in the plan.
    pub waves_total: u32,
}

impl Rollout {
    /// Whether waves remain to be applied.
    pub fn is_unfinished(&self) -> bool {
        self.waves_done < self.waves_total
    }
}

impl State {
    /// The state after the first apply: a new lineage, serial 1, now.
    pub fn first(org: EffectiveOrg, spec_digest: &str, endpoint: Option<&str>) -> State {
        State::written_now(
            uuid::Uuid::new_v4().to_string(),
            1,
            org,
            spec_digest,
            endpoint,
        )
    }

    /// This state as the commit of a wave: with `rollout` recorded. The
    /// apply loop writes `State::first(..)` or `previous.next(..)`, then
    /// `.with_rollout(Rollout { plan_digest, base_serial, waves_done: k + 1,
    /// waves_total })` after wave `k` (0-based) of a plan of several waves.
    pub fn with_rollout(mut self, rollout: Rollout) -> State {
        self.rollout = Some(rollout);
        self
    }

    /// The rollout still open (waves remain), for the `rolloutUnfinished`
    /// warning of `plan` and `state show`.
    pub fn unfinished_rollout(&self) -> Option<&Rollout> {
        self.rollout.as_ref().filter(|r| r.is_unfinished())
    }

    /// The state after the next apply: same lineage, serial + 1, now, no
    /// `rollout` (a wave's commit adds it with [`State::with_rollout`]).
    pub fn next(&self, org: EffectiveOrg, spec_digest: &str, endpoint: Option<&str>) -> State {
        let serial = self.serial.saturating_add(1);
        State::written_now(self.lineage.clone(), serial, org, spec_digest, endpoint)
    }

    /// A state of `lineage` at `serial` written by this build now, with
    /// no `rollout`.
    fn written_now(
        lineage: String,
        serial: u64,
        org: EffectiveOrg,
        spec_digest: &str,
        endpoint: Option<&str>,
    ) -> State {
        State {
            format_version: FORMAT_VERSION,
            lineage,
            serial,
            endpoint: endpoint.map(str::to_owned),
            spec_digest: spec_digest.to_owned(),
            applied_at: now_rfc3339(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            rollout: None,
            org,
        }
    }

    /// Why this state must not be written, if it must not: a format this
    /// build does not write, or a [`State::problem`]. Both stores check it
    /// before they write anything.
    pub(crate) fn write_problem(&self) -> Option<String> {
        if self.format_version != FORMAT_VERSION {
            return Some(format!(
                "formatVersion {} (this build writes {FORMAT_VERSION})",
                self.format_version
            ));
        }
        self.problem()
    }

    /// Why this state could not be read back, if it could not: the checks
    /// [`crate::Store::load`] makes beyond the JSON shape.
    pub(crate) fn problem(&self) -> Option<String> {
        if self.lineage.trim().is_empty() {
            return Some("`lineage` is empty".to_owned());
        }
        if self.serial == 0 {
            return Some("`serial` is 0; the first apply writes 1".to_owned());
        }
        if self.serial >= MAX_SERIAL {
            // Refused at load, before any request: the next apply could not
            // write serial + 1 (and JSON readers lose precision above 2^53).
            return Some(format!(
                "`serial` {} is 2^53 or more, which no apply writes (the next serial could not \
                 be stored exactly)",
                self.serial
            ));
        }
        if let Some((key, user)) = self.org.users.iter().find(|(k, u)| **k != u.external_id) {
            return Some(format!(
                "user key `{key}` does not match its externalId `{}`",
                user.external_id
            ));
        }
        if let Some((key, group)) = self.org.groups.iter().find(|(k, g)| **k != g.external_id) {
            return Some(format!(
                "group key `{key}` does not match its externalId `{}`",
                group.external_id
            ));
        }
        None
    }

    /// Streams the file content (pretty JSON and a final newline).
    pub(crate) fn write_json(&self, w: &mut impl Write) -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *w, self)?;
        w.write_all(b"\n")
    }
}

/// One kept version of a state (PostgreSQL keeps `keep` of them; the file
/// store the current one and its backup).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Its serial.
    pub serial: u64,
    /// Its lineage.
    pub lineage: String,
    /// When it was written, RFC 3339 UTC (the file's time for a file).
    pub written_at: String,
}

/// 2^53: serials stay below it, so that every JSON reader reads them
/// exactly and the next apply has a serial to write.
pub(crate) const MAX_SERIAL: u64 = 1 << 53;

/// The fields of a state file that identify it, read without building the
/// records (the org is skipped).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    format_version: u32,
    lineage: String,
    serial: u64,
    #[allow(dead_code)]
    org: serde::de::IgnoredAny,
}

/// Only the version, for telling "newer format" from "damaged".
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionProbe {
    format_version: u32,
}

/// Parses a state file's bytes: a complete, valid state of a format this
/// build reads, or the error that says why not.
pub(crate) fn parse(path: &Path, bytes: &[u8], backup: Option<&Path>) -> Result<State, StateError> {
    // The detail may quote the file's values: escaped for the terminal.
    let corrupt = |detail: String| StateError::Corrupt {
        path: path.to_owned(),
        detail: orgform_model::text::clean(&detail),
        backup: backup.map(Path::to_owned),
    };
    match serde_json::from_slice::<State>(bytes) {
        Ok(state) => {
            check_version(path, state.format_version, backup)?;
            match state.problem() {
                Some(problem) => Err(corrupt(problem)),
                None => Ok(state),
            }
        }
        Err(err) => {
            // A newer format may have changed anything; say "upgrade", not
            // "damaged", whenever the version can still be read.
            if let Ok(probe) = serde_json::from_slice::<VersionProbe>(bytes) {
                check_version(path, probe.format_version, backup)?;
            }
            Err(corrupt(describe(bytes, &err)))
        }
    }
}

/// Lineage and serial of a state file, checking its version and shape but
/// not building its records.
pub(crate) fn parse_header(
    path: &Path,
    bytes: &[u8],
    backup: Option<&Path>,
) -> Result<(String, u64), StateError> {
    match serde_json::from_slice::<Header>(bytes) {
        Ok(h) => {
            check_version(path, h.format_version, backup)?;
            Ok((h.lineage, h.serial))
        }
        // The full parse gives the same errors a load would.
        Err(_) => parse(path, bytes, backup).map(|s| (s.lineage, s.serial)),
    }
}

fn check_version(path: &Path, found: u32, backup: Option<&Path>) -> Result<(), StateError> {
    if found > FORMAT_VERSION {
        return Err(StateError::NewerFormat {
            path: path.to_owned(),
            found,
            supported: FORMAT_VERSION,
        });
    }
    if found == 0 {
        return Err(StateError::Corrupt {
            path: path.to_owned(),
            detail: "formatVersion 0 was never written by orgform".to_owned(),
            backup: backup.map(Path::to_owned),
        });
    }
    Ok(())
}

/// A short, plain description of a JSON error.
fn describe(bytes: &[u8], err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return "the file is empty".to_owned();
    }
    match err.classify() {
        Category::Eof => format!(
            "the file ends early, at line {} column {}: it is truncated",
            err.line(),
            err.column()
        ),
        Category::Syntax => format!("it is not valid JSON: {err}"),
        Category::Data => format!("it is not an orgform state: {err}"),
        Category::Io => format!("it cannot be read: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orgform_model::{EffGroup, EffUser};

    fn sample() -> State {
        let mut org = EffectiveOrg::default();
        let mut user = EffUser::new("E001084", "Ada", "Lovelace", "ada.lovelace@example.com");
        user.member_of.insert("0000897".to_owned());
        org.users.insert(user.external_id.clone(), user);
        org.groups
            .insert("0000897".to_owned(), EffGroup::new("0000897", "Sales"));
        State {
            format_version: FORMAT_VERSION,
            lineage: "5a1c6b0e-0000-4000-8000-000000000001".to_owned(),
            serial: 3,
            endpoint: Some("https://org.api.example.com/v1/organization".to_owned()),
            spec_digest: "sha256:00ff".to_owned(),
            applied_at: "2026-11-23T10:00:00Z".to_owned(),
            tool_version: "0.1.0".to_owned(),
            rollout: None,
            org,
        }
    }

    fn encode(state: &State) -> Vec<u8> {
        let mut out = Vec::new();
        state.write_json(&mut out).unwrap();
        out
    }

    #[test]
    fn first_and_next_keep_lineage_and_count_serials() {
        let first = State::first(EffectiveOrg::default(), "sha256:aa", None);
        assert_eq!(first.serial, 1);
        assert_eq!(first.format_version, FORMAT_VERSION);
        assert!(uuid::Uuid::parse_str(&first.lineage).is_ok());
        assert!(humantime::parse_rfc3339(&first.applied_at).is_ok());
        let other = State::first(EffectiveOrg::default(), "sha256:aa", None);
        assert_ne!(first.lineage, other.lineage);
        let next = first.next(
            EffectiveOrg::default(),
            "sha256:bb",
            Some("http://127.0.0.1:1"),
        );
        assert_eq!(next.lineage, first.lineage);
        assert_eq!(next.serial, 2);
        assert_eq!(next.spec_digest, "sha256:bb");
        assert_eq!(next.endpoint.as_deref(), Some("http://127.0.0.1:1"));
    }

    #[test]
    fn a_rollout_is_written_before_org_read_back_and_cleared_by_the_next_plan() {
        let rollout = Rollout {
            plan_digest: "sha256:cc".to_owned(),
            base_serial: 3,
            waves_done: 1,
            waves_total: 3,
        };
        let state = sample().with_rollout(rollout.clone());
        assert_eq!(state.unfinished_rollout(), Some(&rollout));
        let text = String::from_utf8(encode(&state)).unwrap();
        let at = |key: &str| text.find(key).unwrap_or(usize::MAX);
        assert!(at("\"rollout\"") < at("\"org\""), "{text}");
        assert!(
            text.contains(
                "\"rollout\": {\n    \"planDigest\": \"sha256:cc\",\n    \"baseSerial\": 3,\n    \
                 \"wavesDone\": 1,\n    \"wavesTotal\": 3\n  }"
            ),
            "{text}"
        );
        let path = Path::new("s.json");
        assert_eq!(parse(path, text.as_bytes(), None).unwrap(), state);
        // An older file, without it, reads fine.
        assert_eq!(parse(path, &encode(&sample()), None).unwrap().rollout, None);
        // The last wave's commit keeps it, finished.
        let done = Rollout {
            waves_done: 3,
            ..rollout
        };
        let last = state
            .next(EffectiveOrg::default(), "sha256:dd", None)
            .with_rollout(done.clone());
        assert_eq!(last.rollout.as_ref(), Some(&done));
        assert_eq!(last.unfinished_rollout(), None);
        // Any other plan's commit clears it.
        assert_eq!(
            last.next(EffectiveOrg::default(), "sha256:ee", None)
                .rollout,
            None
        );
    }

    #[test]
    fn the_file_layout_is_stable() {
        let text = String::from_utf8(encode(&sample())).unwrap();
        // The sample's fixed tool version is part of the layout under test:
        // the testkit's folder and naming, no filters.
        let mut settings = orgform_testkit::settings("orgform-state");
        settings.clear_filters();
        settings.bind(|| orgform_testkit::insta::assert_snapshot!("state_file_layout", text));
    }

    #[test]
    fn round_trips_and_ignores_unknown_fields() {
        let state = sample();
        let path = Path::new("s.json");
        assert_eq!(parse(path, &encode(&state), None).unwrap(), state);
        let mut value: serde_json::Value = serde_json::from_slice(&encode(&state)).unwrap();
        value["addedLater"] = serde_json::json!({"x": 1});
        value["org"]["users"]["E001084"]["addedLater"] = serde_json::json!(true);
        let bytes = serde_json::to_vec(&value).unwrap();
        assert_eq!(parse(path, &bytes, None).unwrap(), state);
        assert_eq!(
            parse_header(path, &bytes, None).unwrap(),
            (state.lineage.clone(), 3)
        );
    }

    #[test]
    fn damaged_files_are_errors_never_empty_states() {
        let path = Path::new("s.json");
        let good = encode(&sample());
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", b"".to_vec()),
            ("truncated", good[..good.len() / 2].to_vec()),
            ("not json", b"lineage = 1\n".to_vec()),
            ("wrong shape", b"{\"formatVersion\": 1}".to_vec()),
            ("array", b"[]".to_vec()),
            (
                "mismatched key",
                String::from_utf8(good.clone())
                    .unwrap()
                    .replacen("\"E001084\": {", "\"E999\": {", 1)
                    .into_bytes(),
            ),
            (
                "serial 0",
                String::from_utf8(good.clone())
                    .unwrap()
                    .replacen("\"serial\": 3", "\"serial\": 0", 1)
                    .into_bytes(),
            ),
            (
                "version 0",
                String::from_utf8(good.clone())
                    .unwrap()
                    .replacen("\"formatVersion\": 1", "\"formatVersion\": 0", 1)
                    .into_bytes(),
            ),
        ];
        for (name, bytes) in cases {
            match parse(path, &bytes, None) {
                Err(StateError::Corrupt { detail, .. }) => {
                    assert!(!detail.is_empty(), "{name}")
                }
                other => panic!("{name}: expected Corrupt, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_newer_format_asks_for_an_upgrade_even_when_its_shape_changed() {
        let path = Path::new("s.json");
        let newer_same_shape = String::from_utf8(encode(&sample())).unwrap().replacen(
            "\"formatVersion\": 1",
            "\"formatVersion\": 2",
            1,
        );
        let newer_other_shape = br#"{"formatVersion": 7, "records": []}"#;
        for bytes in [newer_same_shape.as_bytes(), newer_other_shape] {
            for result in [
                parse(path, bytes, None).map(drop),
                parse_header(path, bytes, None).map(drop),
            ] {
                match result {
                    Err(StateError::NewerFormat {
                        supported: 1,
                        found,
                        ..
                    }) => {
                        assert!(found == 2 || found == 7)
                    }
                    other => panic!("expected NewerFormat, got {other:?}"),
                }
            }
        }
    }
}
