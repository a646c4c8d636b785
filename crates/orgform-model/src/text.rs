//! The one terminal-escaping step for human-readable output (DESIGN
//! section 11): every value that comes from a spec, a state, a lock file or
//! a server goes through [`clean`] (free text) or [`quote`] (a value in
//! double quotes) before it is printed, to a terminal or not (a CI log is
//! read in a terminal later).
//!
//! [`dangerous`] characters are the ones that could colour, hide, move or
//! reorder what a reader sees: every control character (C0, DEL, C1: ESC,
//! BEL, CR, backspace, ...), every Unicode format character (category Cf:
//! bidirectional overrides such as U+202E, zero-width characters, the soft
//! hyphen, tag characters) and the line and paragraph separators. They are
//! shown as `\u{…}`, so the reader sees that they are there.
//!
//! ```
//! use orgform_model::text::{clean, quote};
//! assert_eq!(clean("Ada\u{1b}[2J"), "Ada\\u{1b}[2J");
//! assert_eq!(quote("a \"b\"\u{202e}"), "\"a \\\"b\\\"\\u{202e}\"");
//! assert_eq!(clean("Zoë"), "Zoë");
//! ```

use std::fmt::Write as _;

/// Whether `c` is a control character, a Unicode format character
/// (category Cf) or a line/paragraph separator.
pub fn dangerous(c: char) -> bool {
    c.is_control() || is_format(c) || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Unicode general category Cf (format), Unicode 16.
fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{890}'..='\u{891}'
            | '\u{8e2}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{110bd}'
            | '\u{110cd}'
            | '\u{13430}'..='\u{1343f}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0001}'
            | '\u{e0020}'..='\u{e007f}'
    )
}

/// A string in double quotes, `"` and `\` escaped, every [`dangerous`]
/// character shown as `\u{…}`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if dangerous(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Free text with every [`dangerous`] character shown as `\u{…}`.
pub fn clean(s: &str) -> String {
    if !s.chars().any(dangerous) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if dangerous(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// Free text with every [`dangerous`] character removed (not shown): for
/// server texts, where the characters carry nothing a reader needs and
/// could hide a secret's pieces from a masking step.
pub fn strip(s: &str) -> String {
    s.chars().filter(|c| !dangerous(*c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_attack_character_is_made_visible() {
        for c in [
            '\u{1b}',
            '\u{7}',
            '\r',
            '\u{8}',
            '\u{7f}',
            '\u{9b}',
            '\u{202e}',
            '\u{2066}',
            '\u{200b}',
            '\u{feff}',
            '\u{ad}',
            '\u{2028}',
            '\u{e0041}',
        ] {
            let s = format!("a{c}b");
            let shown = clean(&s);
            assert_eq!(shown, format!("a\\u{{{:x}}}b", c as u32));
            assert!(!quote(&s).contains(c));
            assert_eq!(strip(&s), "ab");
        }
    }

    #[test]
    fn ordinary_text_passes_unchanged() {
        for s in ["Zoë O'Neil-Smith", "日本語", "a b\u{a0}c", "émoji 🙂"] {
            assert_eq!(clean(s), s);
            assert_eq!(quote(s), format!("\"{s}\""));
        }
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
