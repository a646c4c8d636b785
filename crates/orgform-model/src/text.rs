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
    if c.is_ascii() {
        // The only dangerous ASCII characters are the C0 controls and DEL.
        return c < ' ' || c == '\x7f';
    }
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
    push_quoted(&mut out, s);
    out
}

/// Free text with every [`dangerous`] character shown as `\u{…}`.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_clean(&mut out, s);
    out
}

/// [`quote`], appended to `out` (no allocation of its own: for renderers
/// that draw many values into one buffer).
pub fn push_quoted(out: &mut String, s: &str) {
    out.push('"');
    push_escaped(out, s, &QUOTED_STOPS);
    out.push('"');
}

/// [`clean`], appended to `out`.
pub fn push_clean(out: &mut String, s: &str) {
    push_escaped(out, s, &FREE_STOPS);
}

/// The bytes that end a run [`push_escaped`] copies as it is: the C0
/// controls, DEL, every byte of a non-ASCII character (decoded and looked
/// up) and, in a quoted string, `"` and `\`.
const fn stops(quoted: bool) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = b < 0x20 || b >= 0x7f || (quoted && (b == 0x22 || b == 0x5c));
        b += 1;
    }
    table
}

static QUOTED_STOPS: [bool; 256] = stops(true);
static FREE_STOPS: [bool; 256] = stops(false);

/// Appends `s` to `out`, escaped. Runs of characters that need nothing
/// (the whole string, almost always) are found by a byte scan and copied
/// as they are; only a non-ASCII character is decoded and looked up.
fn push_escaped(out: &mut String, s: &str, stops: &[bool; 256]) {
    let bytes = s.as_bytes();
    let mut run = 0; // the start of the run not yet copied
    let mut i = 0;
    loop {
        let rest = bytes.get(i..).unwrap_or_default();
        i += rest
            .iter()
            .position(|&b| stops[usize::from(b)])
            .unwrap_or(rest.len());
        let Some(&b) = bytes.get(i) else {
            break;
        };
        if b.is_ascii() {
            // A control, DEL, or (quoted) `"` or `\`.
            out.push_str(&s[run..i]);
            if b == b'"' || b == b'\\' {
                out.push('\\');
                out.push(char::from(b));
            } else {
                push_code(out, char::from(b));
            }
            i += 1;
            run = i;
        } else {
            // `i` is at a character boundary: runs end only before a
            // non-ASCII character's first byte.
            let Some(c) = s[i..].chars().next() else {
                break;
            };
            let next = i + c.len_utf8();
            if dangerous(c) {
                out.push_str(&s[run..i]);
                push_code(out, c);
                run = next;
            }
            i = next;
        }
    }
    out.push_str(&s[run..]);
}

/// `c` as `\u{…}` (lowercase hexadecimal).
fn push_code(out: &mut String, c: char) {
    let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
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

    /// The escaping of every character on its own, as [`quote`] and
    /// [`clean`] are specified (the fast path must give the same bytes).
    fn one_by_one(s: &str, quoted: bool) -> String {
        let mut out = String::new();
        for c in s.chars() {
            match c {
                '"' | '\\' if quoted => {
                    out.push('\\');
                    out.push(c);
                }
                c if dangerous(c) => {
                    let _ = write!(out, "\\u{{{:x}}}", c as u32);
                }
                c => out.push(c),
            }
        }
        out
    }

    #[test]
    fn the_fast_path_gives_the_bytes_of_escaping_one_by_one() {
        // Every string of up to three of these, at the start, middle and end.
        let alphabet = [
            "a",
            "Z",
            " ",
            "\"",
            "\\",
            "\u{1b}",
            "\u{7f}",
            "\n",
            "ë",
            "日",
            "\u{9b}",
            "\u{202e}",
            "\u{e0041}",
            "🙂",
            "\u{a0}",
        ];
        let mut strings = vec![String::new()];
        for _ in 0..3 {
            let longer: Vec<String> = strings
                .iter()
                .flat_map(|s| alphabet.iter().map(move |a| format!("{s}{a}")))
                .collect();
            strings.extend(longer);
        }
        strings.sort();
        strings.dedup();
        assert!(strings.len() > 3000);
        for s in &strings {
            assert_eq!(quote(s), format!("\"{}\"", one_by_one(s, true)), "{s:?}");
            assert_eq!(clean(s), one_by_one(s, false), "{s:?}");
            let mut out = String::from("kept ");
            push_quoted(&mut out, s);
            push_clean(&mut out, s);
            assert_eq!(out, format!("kept {}{}", quote(s), clean(s)));
        }
    }

    #[test]
    fn ascii_is_dangerous_only_below_space_and_at_del() {
        for b in 0u8..=0x7f {
            let c = char::from(b);
            assert_eq!(dangerous(c), c.is_control(), "{b:#x}");
        }
    }
}
