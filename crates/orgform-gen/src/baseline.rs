//! The floor of the performance targets (`--features bench` only): parse a
//! spec into the model's serde structs with serde_yaml, nothing more.

use std::path::{Path, PathBuf};

use orgform_model::DesiredOrg;

fn files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut out: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    out.sort();
    Ok(out)
}

/// Parses a spec file, or every `*.yaml`/`*.yml` file of a directory in
/// name order, into one [`DesiredOrg`] (the `users` and `groups` lists
/// concatenated). No validation, positions, sorting or digest.
pub fn parse(path: &Path) -> Result<DesiredOrg, String> {
    let mut org = DesiredOrg::default();
    for file in files(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))? {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read `{}`: {e}", file.display()))?;
        let part: DesiredOrg =
            serde_yaml::from_str(&text).map_err(|e| format!("`{}`: {e}", file.display()))?;
        if let Some(users) = part.users {
            org.users.get_or_insert_with(Vec::new).extend(users);
        }
        if let Some(groups) = part.groups {
            org.groups.get_or_insert_with(Vec::new).extend(groups);
        }
    }
    Ok(org)
}
