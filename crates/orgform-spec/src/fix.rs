//! `orgform fmt --fix`: the mechanical problems of a spec file rewritten in
//! place, everything else left byte for byte as it was.
//!
//! What is mechanical (the value's meaning is not in doubt, only its YAML
//! spelling):
//! - `numberNotString`: a plain scalar that YAML reads as a number where a
//!   string belongs (an externalId `0000897`, a phone `+46701234567`, an
//!   entry of a group list) is double-quoted: `"0000897"`, in a flow list
//!   too (`[0000897]` becomes `["0000897"]`);
//! - `notABoolean`: `yes`/`no`/`on`/`off`/`y`/`n` (any case) where a
//!   boolean belongs become `true`/`false`.
//!
//! Each fix replaces the one token the diagnostic points at; comments,
//! layout and every other byte stay. The result is checked, not assumed:
//! decoded again, it must have exactly the diagnostics of the original
//! minus the fixed ones (same codes, same lines), or nothing is returned
//! but an internal error. When no error is left, the fixed text is also
//! formatted (as `orgform fmt` does). Anything else (a syntax error, an
//! unknown field, a wrong type, a rule of `orgform validate`) is not
//! guessed at: the errors left are returned for the CLI to print.

use std::path::Path;

use crate::LoadOptions;
use crate::diag::{Diagnostic, Diagnostics};
use crate::source::{Files, Positions, SourceFile};
use crate::yaml;

/// One file after `fmt --fix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixed {
    text: String,
    changed: bool,
    fixed: usize,
    left: Diagnostics,
}

impl Fixed {
    /// The fixed text (formatted too when no error is left).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the text differs from the file's.
    pub fn is_changed(&self) -> bool {
        self.changed
    }

    /// How many problems were fixed.
    pub fn fixed(&self) -> usize {
        self.fixed
    }

    /// The errors `--fix` does not fix (empty when the file decodes
    /// cleanly now). Cross-record rules (`orgform validate`) are not
    /// checked here.
    pub fn left(&self) -> &Diagnostics {
        &self.left
    }
}

/// Reads one spec file (as [`crate::format_file`] does) and fixes it.
pub fn fix_file(path: &Path, options: &LoadOptions) -> Result<Fixed, Diagnostics> {
    let mut diags = Vec::new();
    let Some(text) = crate::load::read_text(path, false, options, &mut diags) else {
        return Err(Diagnostics::from_sorted(diags));
    };
    let had_bom = diags.iter().any(|d| d.code == "byteOrderMark");
    let mut fixed = fix_str(&text, path)?;
    fixed.changed |= had_bom;
    Ok(fixed)
}

/// Fixes the text of one spec file; `path` names it in diagnostics. `Err`
/// when the file cannot be read as YAML (the syntax error) or when the
/// fixed text would not check out (an internal error).
pub fn fix_str(text: &str, path: &Path) -> Result<Fixed, Diagnostics> {
    let before = shape_errors(text, path)?;
    let mut edits: Vec<Edit> = Vec::new();
    let mut left: Vec<Diagnostic> = Vec::new();
    for d in before {
        match edit_for(text, &d) {
            Some(e) => edits.push(e),
            None => left.push(d),
        }
    }
    let fixed_count = edits.len();
    let mut out = text.to_owned();
    // From the end, so that earlier offsets stay right.
    edits.sort_by_key(|e| std::cmp::Reverse(e.start));
    for e in &edits {
        out.replace_range(e.start..e.end, &e.with);
    }
    let after = shape_errors(&out, path).map_err(|d| internal(path, &d))?;
    let key = |d: &Diagnostic| (d.code, d.location.as_ref().map(|l| l.line));
    let mut want: Vec<_> = left.iter().map(key).collect();
    let mut got: Vec<_> = after.iter().map(key).collect();
    want.sort();
    got.sort();
    if want != got {
        return Err(internal(path, &Diagnostics::from_sorted(after)));
    }
    if after.is_empty() {
        out = crate::fmt::format_str(&out, path)?;
    }
    Ok(Fixed {
        changed: out != text,
        text: out,
        fixed: fixed_count,
        left: Diagnostics::from_sorted(after),
    })
}

/// One token replaced: bytes `start..end` of the text by `with`.
#[derive(Debug)]
struct Edit {
    start: usize,
    end: usize,
    with: String,
}

/// The errors a file decodes with (warnings dropped), or the syntax error.
fn shape_errors(text: &str, path: &Path) -> Result<Vec<Diagnostic>, Diagnostics> {
    let files = Files {
        files: vec![SourceFile::new(path.to_path_buf(), text.to_owned())],
    };
    let mut positions = Positions::default();
    let mut diags = Vec::new();
    let doc = yaml::decode(text, 0, &files, &mut positions, &mut diags);
    if doc.incomplete {
        return Err(Diagnostics::from_sorted(crate::load::syntax_first(diags)));
    }
    diags.retain(|d| d.severity.is_error());
    Ok(diags)
}

/// The edit that fixes `d`, if it is mechanical and its token is where it
/// says, spelt as a plain scalar.
fn edit_for(text: &str, d: &Diagnostic) -> Option<Edit> {
    if !matches!(d.code, "numberNotString" | "notABoolean") {
        return None;
    }
    let loc = d.location.as_ref()?;
    let len = d.primary_len()? as usize;
    let start = offset(text, loc.line, loc.column)?;
    let token_len: usize = text
        .get(start..)?
        .chars()
        .take(len)
        .map(char::len_utf8)
        .sum();
    let end = start + token_len;
    let token = text.get(start..end)?;
    // Only a plain scalar on one line: never a quote, a bracket or a
    // comment inside what is replaced.
    let plain = !token.is_empty()
        && token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.' | '_'));
    if !plain {
        return None;
    }
    let with = if d.code == "numberNotString" {
        format!("\"{token}\"")
    } else {
        match token.to_ascii_lowercase().as_str() {
            "yes" | "on" | "y" => "true".to_owned(),
            "no" | "off" | "n" => "false".to_owned(),
            _ => return None,
        }
    };
    Some(Edit { start, end, with })
}

/// The byte offset of a 1-based line and character column.
fn offset(text: &str, line: u32, column: u32) -> Option<usize> {
    let mut start = 0usize;
    for _ in 1..line {
        start += text.get(start..)?.find('\n')? + 1;
    }
    let rest = text.get(start..)?;
    let skip = column.checked_sub(1)? as usize;
    rest.char_indices().nth(skip).map(|(i, _)| start + i)
}

fn internal(path: &Path, found: &Diagnostics) -> Diagnostics {
    let what = found
        .iter()
        .next()
        .map(|d| format!(" (`{}` at {})", d.code, loc_text(d)))
        .unwrap_or_default();
    let d = Diagnostic::error(
        "fmtInternal",
        format!(
            "cannot fix `{}`: the fixed text would not check out{what}",
            path.display()
        ),
    )
    .with_hint("the file was left as it is; this is a bug in orgform fmt --fix, please report it");
    Diagnostics::from_sorted(vec![d])
}

fn loc_text(d: &Diagnostic) -> String {
    d.location.as_ref().map_or_else(
        || "no place".to_owned(),
        |l| format!("{}:{}", l.line, l.column),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix(text: &str) -> Fixed {
        fix_str(text, Path::new("spec.yaml")).unwrap_or_else(|d| panic!("{d}"))
    }

    #[test]
    fn numbers_are_quoted_and_yes_no_become_booleans_comments_kept() {
        let text = "version: 1 # the format\ngroups:\n  - externalId: 0000897 # Sales\n    name: Sales\n    protected: yes\nusers:\n  - externalId: E1\n    firstName: Ada\n    lastName: Lovelace\n    email: ada@example.com\n    phone: +46701234567\n    active: Off\n    accessInfo:\n      memberOf: [0000897, 0000898]\n";
        let f = fix(text);
        assert_eq!(f.fixed(), 6, "{}", f.text());
        assert!(f.left().is_empty(), "{}", f.left());
        assert!(f.is_changed());
        for want in [
            "externalId: \"0000897\" # Sales",
            "protected: true",
            "phone: \"+46701234567\"",
            "active: false",
            "memberOf: [\"0000897\", \"0000898\"]",
            "# the format",
        ] {
            assert!(f.text().contains(want), "{want} not in:\n{}", f.text());
        }
        // Fixed and formatted: a second run changes nothing.
        let again = fix(f.text());
        assert_eq!(again.fixed(), 0);
        assert!(!again.is_changed(), "{}", again.text());
    }

    #[test]
    fn what_is_not_mechanical_is_left_and_reported() {
        let text = "version: 1\nusers:\n  - externalId: 42\n    fistName: Ada\n    lastName: [L]\n    email: a@example.com\n";
        let f = fix(text);
        assert_eq!(f.fixed(), 1);
        let left: Vec<&str> = f.left().iter().map(|d| d.code).collect();
        assert_eq!(left, ["unknownField", "wrongType"]);
        // Fixed in place, not formatted (an error is left): the rest of the
        // text is byte for byte what it was.
        assert_eq!(
            f.text(),
            text.replace("externalId: 42", "externalId: \"42\"")
        );
    }

    #[test]
    fn a_syntax_error_is_refused() {
        let Err(d) = fix_str("version: 1\nusers: [\n", Path::new("spec.yaml")) else {
            panic!("fixed a syntax error");
        };
        assert_eq!(d.iter().next().map(|d| d.code), Some("yamlSyntax"));
    }

    #[test]
    fn a_clean_file_is_unchanged() {
        let text = "version: 1\ngroups:\n  - externalId: \"0000897\"\n    name: Sales\n";
        let f = fix(text);
        assert_eq!((f.fixed(), f.is_changed()), (0, false));
    }
}
