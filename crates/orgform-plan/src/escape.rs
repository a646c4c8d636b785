//! Escaping user data for the review outputs: terminal text (the diff, the
//! comparison) and Markdown (the PR comment).

use std::fmt::Write as _;

/// The one terminal-escaping function lives in orgform-model (DESIGN
/// section 11): control, format and bidi characters, shown as `\u{…}`.
pub(crate) use orgform_model::text::{clean, dangerous, quote};

/// User data as inert Markdown: letters, digits, spaces and a few
/// harmless punctuation marks pass; every other ASCII punctuation mark
/// becomes an HTML character reference (so `|` cannot split a table cell,
/// `<` cannot open a tag, `@` cannot mention anyone, `#` cannot link an
/// issue, `*`, `_`, `` ` ``, `[` cannot format); dangerous characters are
/// shown as `\u{…}`; a line break becomes a space.
pub(crate) fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if dangerous(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c if c.is_alphanumeric()
                || matches!(
                    c,
                    ' ' | '.' | ',' | '-' | '\'' | '/' | '(' | ')' | '+' | '=' | '?' | '%'
                ) =>
            {
                out.push(c);
            }
            c if c.is_ascii_punctuation() => {
                let _ = write!(out, "&#{};", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// An identifier (externalId, field path, code) as inline code: `<code>`
/// with its content escaped (Markdown code spans cannot escape a backtick).
pub(crate) fn code(s: &str) -> String {
    format!("<code>{}</code>", md(s))
}

/// A planner message, whose values are quoted in backticks, as Markdown:
/// each quoted span becomes [`code`], the rest [`md`]. An unbalanced
/// backtick is shown as it is.
pub(crate) fn md_message(s: &str) -> String {
    let parts: Vec<&str> = s.split('`').collect();
    let mut out = String::with_capacity(s.len() + 16);
    for (i, part) in parts.iter().enumerate() {
        let quoted = i % 2 == 1;
        if quoted && i == parts.len() - 1 {
            out.push_str("&#96;");
            out.push_str(&md(part));
        } else if quoted {
            out.push_str(&code(part));
        } else {
            out.push_str(&md(part));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escaping_leaves_no_active_syntax() {
        let hostile = "<img src=x> | `code` *b* _i_ [l](u) @team #12 ![x] a\nb \u{202e}";
        let out = md(hostile);
        for bad in [
            "<img", ">", "|", "`", "*b*", "_i_", "[l]", "@team", " #12", "![", "\n", "\u{202e}",
        ] {
            assert!(!out.contains(bad), "`{bad}` survives in {out}");
        }
        assert_eq!(md("Zoë O'Neil-Smith (Sales)"), "Zoë O'Neil-Smith (Sales)");
    }

    #[test]
    fn messages_keep_their_code_spans() {
        assert_eq!(
            md_message("group `G<1>` is gone"),
            "group <code>G&#60;1&#62;</code> is gone"
        );
        assert_eq!(md_message("odd `tail"), "odd &#96;tail");
    }
}
