//! The one masking step for server texts (DESIGN section 11). A server (or
//! anything answering at the endpoint) may echo the token back in any
//! encoding, so every text the client quotes from an answer (a body
//! excerpt, a rejection's fields, a redirect target, a transport error)
//! goes through [`Masker::server_text`]:
//!
//! 1. **decode** the body ([`decode_body`]): a UTF-16 body (LE or BE, with
//!    or without a byte-order mark) is read as UTF-16, anything else as
//!    UTF-8 (invalid bytes replaced);
//! 2. **unwrap** the encodings a server may apply, repeated until nothing
//!    changes (at most four rounds, so `%2526` and `&amp;#x61;` unwrap too):
//!    JSON `\uXXXX` (and `\/`, `\"`, `\\`) escapes, percent-encoding, HTML
//!    character references (named `&amp;`-style, decimal `&#97;`, hex
//!    `&#x61;`);
//! 3. **strip** control and format characters
//!    ([`orgform_model::text::dangerous`]): a token with a NUL, an ESC or a
//!    zero-width space between its characters becomes whole again;
//! 4. **mask** every form of the token with `<redacted>`: as is, and
//!    mis-decoded (its UTF-8 bytes read as Latin-1 or Windows-1252), also
//!    compared without regard to ASCII case;
//! 5. **drop**: when a piece of 8 or more consecutive characters of the
//!    token (or of a mis-decoded form, or its hex or base64) is still
//!    there, the whole text is replaced by [`DROPPED`]. A token shorter
//!    than 8 characters is masked whole only.
//!
//! The result has no control or format character left, so it is also
//! terminal-safe.

use std::borrow::Cow;
use std::collections::HashSet;

/// What a server text becomes when a piece of the token survives masking.
pub const DROPPED: &str = "(the server's text was dropped: it contained part of the API token)";
/// The replacement of a masked token.
pub const REDACTED: &str = "<redacted>";
/// The shortest piece of the token that drops a text.
const PIECE: usize = 8;
/// Unwrapping rounds (`%25` of `%25` of …).
const ROUNDS: usize = 4;

/// Masks one token's every form in server texts.
#[derive(Clone)]
pub(crate) struct Masker {
    /// Forms replaced by `<redacted>` (the token, mis-decoded forms),
    /// longest first.
    forms: Vec<Vec<char>>,
    /// Every 8-character piece (ASCII-lowercased) of the masked forms and
    /// of the token's hex and base64: one of them left drops a text.
    pieces: HashSet<Vec<char>>,
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Masker(<redacted>)")
    }
}

impl Masker {
    /// The masker for `secret`; an empty secret masks nothing.
    pub(crate) fn new(secret: &str) -> Masker {
        if secret.is_empty() {
            return Masker {
                forms: Vec::new(),
                pieces: HashSet::new(),
            };
        }
        let mut forms: Vec<String> = vec![secret.to_owned()];
        let bytes = secret.as_bytes();
        forms.push(bytes.iter().map(|&b| char::from(b)).collect()); // Latin-1
        forms.push(bytes.iter().map(|&b| windows_1252(b)).collect());
        // Mis-decoded forms hold C1 controls, which stripping removes: the
        // stripped forms are masked too.
        let stripped: Vec<String> = forms
            .iter()
            .map(|f| orgform_model::text::strip(f))
            .filter(|f| !f.is_empty())
            .collect();
        forms.extend(stripped);
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        forms.dedup();
        let mut pieces = forms.clone();
        pieces.push(hex(bytes, b"0123456789abcdef"));
        pieces.push(hex(bytes, b"0123456789ABCDEF"));
        pieces.push(base64(bytes, b'+', b'/'));
        pieces.push(base64(bytes, b'-', b'_'));
        let pieces = pieces
            .iter()
            .flat_map(|form| {
                let chars: Vec<char> = form.chars().map(|c| c.to_ascii_lowercase()).collect();
                chars
                    .windows(PIECE)
                    .map(<[char]>::to_vec)
                    .collect::<Vec<_>>()
            })
            .collect();
        Masker {
            forms: forms.iter().map(|f| f.chars().collect()).collect(),
            pieces,
        }
    }

    /// A server text made safe to quote: unwrapped, stripped, masked, or
    /// [`DROPPED`] (see the module docs).
    pub(crate) fn server_text(&self, text: &str) -> String {
        let mut current: Cow<'_, str> = Cow::Borrowed(text);
        for _ in 0..ROUNDS {
            let next = unwrap_once(&current);
            if next == current {
                break;
            }
            current = Cow::Owned(next);
        }
        let masked = self.mask(&current);
        let stripped = orgform_model::text::strip(&masked);
        let masked = self.mask(&stripped);
        if self.has_piece(&masked) {
            DROPPED.to_owned()
        } else {
            masked
        }
    }

    /// `text` with every form of the token (ASCII case ignored) replaced.
    fn mask(&self, text: &str) -> String {
        if self.forms.is_empty() {
            return text.to_owned();
        }
        let chars: Vec<char> = text.chars().collect();
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        'outer: while i < chars.len() {
            for form in &self.forms {
                if starts_with_ignore_case(&chars[i..], form) {
                    out.push_str(REDACTED);
                    i += form.len();
                    continue 'outer;
                }
            }
            out.push(chars[i]);
            i += 1;
        }
        out
    }

    /// Whether a piece of [`PIECE`] characters of any form is in `text`
    /// (ASCII case ignored): one pass over `text`, the pieces in a set.
    fn has_piece(&self, text: &str) -> bool {
        if self.pieces.is_empty() {
            return false;
        }
        let chars: Vec<char> = text.chars().map(|c| c.to_ascii_lowercase()).collect();
        chars.windows(PIECE).any(|w| self.pieces.contains(w))
    }
}

fn starts_with_ignore_case(text: &[char], form: &[char]) -> bool {
    text.len() >= form.len()
        && text
            .iter()
            .zip(form)
            .all(|(a, b)| a.eq_ignore_ascii_case(b))
}

/// The body as text: UTF-16 when it looks like UTF-16 (a byte-order mark,
/// or NUL bytes in most even or most odd positions), else UTF-8 with
/// invalid bytes replaced.
pub(crate) fn decode_body(body: &[u8]) -> String {
    let utf16 = |big_endian: bool, bytes: &[u8]| -> String {
        let units = bytes.chunks_exact(2).map(|p| {
            if big_endian {
                u16::from_be_bytes([p[0], p[1]])
            } else {
                u16::from_le_bytes([p[0], p[1]])
            }
        });
        char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect()
    };
    match body {
        [0xff, 0xfe, rest @ ..] => return utf16(false, rest),
        [0xfe, 0xff, rest @ ..] => return utf16(true, rest),
        [0xef, 0xbb, 0xbf, rest @ ..] => return String::from_utf8_lossy(rest).into_owned(),
        _ => {}
    }
    if body.len() >= 4 {
        let pairs = body.len() / 2;
        let zero_at = |parity: usize| {
            body.chunks_exact(2)
                .filter(|p| p[parity] == 0 && p[1 - parity] != 0)
                .count()
        };
        // ASCII text in UTF-16LE has its NULs at odd positions.
        if zero_at(1) * 10 >= pairs * 3 {
            return utf16(false, body);
        }
        if zero_at(0) * 10 >= pairs * 3 {
            return utf16(true, body);
        }
    }
    String::from_utf8_lossy(body).into_owned()
}

/// One round of unwrapping: JSON escapes, then percent-encoding, then HTML
/// character references.
fn unwrap_once(text: &str) -> String {
    let text = json_unescape(text);
    let text = percent_decode(&text);
    html_unescape(&text)
}

/// `\uXXXX` (with surrogate pairs), `\/`, `\"`, `\\`, `\n`, `\t`, `\r`:
/// decoded wherever they appear. Anything else is kept.
fn json_unescape(text: &str) -> String {
    if !text.contains('\\') {
        return text.to_owned();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && i + 1 < chars.len() {
            match chars[i + 1] {
                'u' => {
                    if let Some(unit) = hex_at(&chars, i + 2, 4) {
                        let unit = unit as u32;
                        // A surrogate pair: `\uD83D\uDE00`.
                        if (0xd800..0xdc00).contains(&unit)
                            && chars.get(i + 6) == Some(&'\\')
                            && chars.get(i + 7) == Some(&'u')
                            && let Some(low) = hex_at(&chars, i + 8, 4)
                            && (0xdc00..0xe000).contains(&(low as u32))
                        {
                            let c = 0x10000 + ((unit - 0xd800) << 10) + (low as u32 - 0xdc00);
                            out.push(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
                            i += 12;
                            continue;
                        }
                        out.push(char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER));
                        i += 6;
                        continue;
                    }
                }
                c @ ('/' | '"' | '\\') => {
                    out.push(c);
                    i += 2;
                    continue;
                }
                'n' | 't' | 'r' => {
                    out.push(' ');
                    i += 2;
                    continue;
                }
                _ => {}
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// The value of `len` hex digits at `at`, if they are there.
fn hex_at(chars: &[char], at: usize, len: usize) -> Option<u64> {
    let digits = chars.get(at..at + len)?;
    digits.iter().try_fold(0u64, |acc, c| {
        c.to_digit(16).map(|d| acc * 16 + u64::from(d))
    })
}

/// `%XX` sequences decoded as bytes, the result read as UTF-8 (invalid
/// sequences replaced); `+` is left alone (it is a `+` outside forms).
fn percent_decode(text: &str) -> String {
    if !text.contains('%') {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex_digit(bytes[i + 1]), hex_digit(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// HTML character references: `&#97;`, `&#x61;` (with or without the
/// final `;`), and the named ones a server uses for ASCII (`&amp;`,
/// `&lt;`, `&gt;`, `&quot;`, `&apos;`, `&nbsp;`, and the named punctuation
/// of HTML 5 that tokens are made of).
fn html_unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '&'
            && let Some((c, used)) = html_reference(&chars[i + 1..])
        {
            out.push(c);
            i += 1 + used;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// The character a reference after `&` stands for, and how many characters
/// of `rest` it used.
fn html_reference(rest: &[char]) -> Option<(char, usize)> {
    if rest.first() == Some(&'#') {
        let (radix, start) = match rest.get(1) {
            Some('x' | 'X') => (16, 2),
            _ => (10, 1),
        };
        let digits = rest[start..]
            .iter()
            .take(8)
            .take_while(|c| c.is_digit(radix))
            .count();
        if digits == 0 {
            return None;
        }
        let value: String = rest[start..start + digits].iter().collect();
        let c = u32::from_str_radix(&value, radix)
            .ok()
            .and_then(char::from_u32)?;
        let used = start + digits + usize::from(rest.get(start + digits) == Some(&';'));
        return Some((c, used));
    }
    let name_len = rest
        .iter()
        .take(12)
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    if rest.get(name_len) != Some(&';') {
        return None;
    }
    let name: String = rest[..name_len].iter().collect();
    let c = match name.as_str() {
        "amp" | "AMP" => '&',
        "lt" | "LT" => '<',
        "gt" | "GT" => '>',
        "quot" | "QUOT" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "excl" => '!',
        "num" => '#',
        "dollar" => '$',
        "percnt" => '%',
        "lpar" => '(',
        "rpar" => ')',
        "ast" | "midast" => '*',
        "plus" => '+',
        "comma" => ',',
        "period" => '.',
        "sol" => '/',
        "colon" => ':',
        "semi" => ';',
        "equals" => '=',
        "quest" => '?',
        "commat" => '@',
        "lsqb" | "lbrack" => '[',
        "bsol" => '\\',
        "rsqb" | "rbrack" => ']',
        "Hat" => '^',
        "lowbar" | "UnderBar" => '_',
        "grave" | "DiacriticalGrave" => '`',
        "lcub" | "lbrace" => '{',
        "verbar" | "vert" | "VerticalLine" => '|',
        "rcub" | "rbrace" => '}',
        "tilde" => '~',
        "hyphen" | "dash" => '-',
        _ => return None,
    };
    Some((c, name_len + 1))
}

/// A byte as Windows-1252 reads it (0x80-0x9F are letters and signs there;
/// the five undefined ones read as their C1 controls, as browsers do).
fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9f => HIGH[usize::from(b - 0x80)],
        b => char::from(b),
    }
}

fn hex(bytes: &[u8], digits: &[u8; 16]) -> String {
    bytes
        .iter()
        .flat_map(|b| [digits[usize::from(b >> 4)], digits[usize::from(b & 15)]])
        .map(char::from)
        .collect()
}

/// Base64 without padding (standard alphabet with `62`/`63` given).
fn base64(bytes: &[u8], c62: u8, c63: u8) -> String {
    let mut alphabet = *b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789++";
    alphabet[62] = c62;
    alphabet[63] = c63;
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "tok-Zq9xV7mR2pL4wK8s";

    fn masker() -> Masker {
        Masker::new(TOKEN)
    }

    fn utf16le(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    fn utf16be(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_be_bytes).collect()
    }

    #[test]
    fn every_echoed_form_is_masked() {
        let json: String = TOKEN
            .chars()
            .map(|c| format!("\\u{:04x}", c as u32))
            .collect();
        let percent: String = TOKEN.bytes().map(|b| format!("%{b:02X}")).collect();
        let html_dec: String = TOKEN.chars().map(|c| format!("&#{};", c as u32)).collect();
        let html_hex: String = TOKEN
            .chars()
            .map(|c| format!("&#x{:x}", c as u32))
            .collect();
        let controls: String = TOKEN.chars().flat_map(|c| [c, '\u{1}']).collect();
        let zero_width: String = TOKEN.chars().flat_map(|c| [c, '\u{200b}']).collect();
        let double_percent = percent.replace('%', "%25");
        for echoed in [
            TOKEN.to_owned(),
            TOKEN.to_uppercase(),
            json,
            percent,
            double_percent,
            html_dec,
            html_hex,
            controls,
            zero_width,
            TOKEN.replace('-', "&hyphen;"),
        ] {
            let text = format!("bad token {echoed} here");
            let shown = masker().server_text(&text);
            assert_eq!(shown, "bad token <redacted> here", "{text:?}");
        }
    }

    #[test]
    fn utf16_bodies_are_decoded_before_masking() {
        let text = format!("{{\"error\": \"bad {TOKEN}\"}}");
        for body in [utf16le(&text), utf16be(&text), {
            let mut b = vec![0xff, 0xfe];
            b.extend(utf16le(&text));
            b
        }] {
            let decoded = decode_body(&body);
            assert_eq!(decoded, text);
            assert!(!masker().server_text(&decoded).contains("Zq9x"));
        }
        assert_eq!(decode_body("plain é".as_bytes()), "plain é");
    }

    #[test]
    fn a_long_piece_of_the_token_drops_the_text_and_short_ones_stay() {
        let m = masker();
        let piece = &TOKEN[3..11];
        assert_eq!(m.server_text(&format!("x {piece} y")), DROPPED);
        let short = &TOKEN[3..10];
        assert_eq!(
            m.server_text(&format!("x {short} y")),
            format!("x {short} y")
        );
        let hex_token = hex(TOKEN.as_bytes(), b"0123456789abcdef");
        assert_eq!(m.server_text(&format!("h={hex_token}")), DROPPED);
        let b64 = base64(TOKEN.as_bytes(), b'+', b'/');
        assert_eq!(m.server_text(&format!("b={b64}")), DROPPED);
    }

    #[test]
    fn a_non_ascii_token_is_masked_mis_decoded_too() {
        let token = "pässwörd-€-12345";
        let m = Masker::new(token);
        let latin1: String = token.bytes().map(char::from).collect();
        let cp1252: String = token.bytes().map(windows_1252).collect();
        for echoed in [token.to_owned(), latin1, cp1252] {
            let shown = m.server_text(&format!("[{echoed}]"));
            assert_eq!(shown, "[<redacted>]", "{echoed:?}");
        }
    }

    #[test]
    fn ordinary_texts_pass_and_control_characters_go() {
        let m = masker();
        assert_eq!(m.server_text("Not found"), "Not found");
        assert_eq!(m.server_text("a &amp; b &lt;c&gt;"), "a & b <c>");
        assert_eq!(m.server_text("\u{1b}[31mred\u{7}"), "[31mred");
        assert_eq!(m.server_text("100% sure"), "100% sure");
        assert_eq!(Masker::new("").server_text("text"), "text");
        assert_eq!(base64(b"Man", b'+', b'/'), "TWFu");
        assert_eq!(base64(b"Ma", b'+', b'/'), "TWE");
    }
}
