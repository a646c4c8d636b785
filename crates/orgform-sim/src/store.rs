//! Persistence of the managed records (`--data FILE`): read at start when
//! the file exists, written atomically (temp file in the same directory,
//! fsync, rename, fsync of the directory) after every committed request, so
//! a killed emulator restarts from the last answer it gave (or, after a
//! dropped connection, from the last commit it made).
//!
//! The file holds only the managed records; the fixture is read afresh at
//! every start.

use std::collections::BTreeMap;
use std::path::Path;

use orgform_model::{EffGroup, EffUser};
use serde::{Deserialize, Serialize};

use crate::engine::Managed;
use crate::error::SimError;

/// The version of the data file's format.
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DataFile {
    format_version: u32,
    #[serde(default)]
    users: BTreeMap<String, EffUser>,
    #[serde(default)]
    groups: BTreeMap<String, EffGroup>,
}

/// The managed records in `path`, or `None` when there is no such file.
pub(crate) fn load(path: &Path) -> Result<Option<Managed>, SimError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(SimError::DataRead {
                path: path.to_owned(),
                source,
            });
        }
    };
    let invalid = |message: String| SimError::DataInvalid {
        path: path.to_owned(),
        message,
    };
    let file: DataFile = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    if file.format_version != FORMAT_VERSION {
        return Err(invalid(format!(
            "format version {} is not supported (expected {FORMAT_VERSION})",
            file.format_version
        )));
    }
    for (id, u) in &file.users {
        if *id != u.external_id {
            return Err(invalid(format!(
                "user key `{id}` differs from its externalId"
            )));
        }
    }
    for (id, g) in &file.groups {
        if *id != g.external_id {
            return Err(invalid(format!(
                "group key `{id}` differs from its externalId"
            )));
        }
    }
    Ok(Some(Managed {
        users: file.users,
        groups: file.groups,
    }))
}

/// The bytes of the data file for `managed`.
pub(crate) fn encode(managed: &Managed) -> Vec<u8> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Out<'a> {
        format_version: u32,
        users: &'a BTreeMap<String, EffUser>,
        groups: &'a BTreeMap<String, EffGroup>,
    }
    let mut bytes = serde_json::to_vec_pretty(&Out {
        format_version: FORMAT_VERSION,
        users: &managed.users,
        groups: &managed.groups,
    })
    .unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// Replaces `path` with `bytes` atomically and durably
/// ([`orgform_files::write_atomic`]: temp file beside it, fsync, rename,
/// fsync of the directory), mode `0600` (the records are personal data): a
/// reader sees the old file or the new one, never a mix, even if the
/// process dies half way. On a failed write the old file stays as it was
/// and the temp file is removed.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SimError> {
    orgform_files::write_atomic(path, bytes, orgform_files::PRIVATE_FILE).map_err(|source| {
        SimError::DataWrite {
            path: path.to_owned(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_file_loads_back_and_a_missing_one_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sim.json");
        assert_eq!(load(&path).unwrap(), None);
        let mut managed = Managed::default();
        managed.users.insert(
            "E1".into(),
            EffUser::new("E1", "Ada", "Lovelace", "ada@example.com"),
        );
        managed
            .groups
            .insert("G1".into(), EffGroup::new("G1", "Engineering"));
        write_atomically(&path, &encode(&managed)).unwrap();
        assert_eq!(load(&path).unwrap(), Some(managed));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "no temp file left: {leftovers:?}");
    }

    #[test]
    fn the_file_is_private_and_a_failed_write_leaves_the_old_one() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sim.json");
        write_atomically(&path, b"old").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{mode:o}");
        // A directory in the way: the rename fails, nothing is replaced and
        // no temp file is left.
        let blocked = dir.path().join("blocked");
        std::fs::create_dir(&blocked).unwrap();
        std::fs::write(blocked.join("inside"), "x").unwrap();
        let err = write_atomically(&blocked, b"new").unwrap_err().to_string();
        assert!(err.contains("cannot write the data file"), "{err}");
        assert!(err.contains("blocked"), "{err}");
        assert!(blocked.is_dir());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["blocked", "sim.json"]);
    }

    #[test]
    fn a_corrupt_or_foreign_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sim.json");
        for (text, want) in [
            ("{", "EOF"),
            (r#"{"formatVersion": 9}"#, "format version 9"),
            (
                r#"{"formatVersion": 1, "groups": {"A": {"externalId": "B", "name": "x"}}}"#,
                "group key `A`",
            ),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = load(&path).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
            assert!(err.contains("sim.json"), "{err}");
        }
    }
}
