//! A small JSON reader that keeps the line and column of every value
//! (serde_json gives none), for diagnostics at the JSON value. RFC 8259;
//! depth limited to 64 (an export is an array of flat objects).

use crate::pos::Pos;

/// A parsed value and where it starts.
#[derive(Debug)]
pub(crate) struct Node {
    pub pos: Pos,
    pub value: Value,
}

#[derive(Debug)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    /// The number as written.
    Number(String),
    String(String),
    Array(Vec<Node>),
    /// Members in order: key, key position, value.
    Object(Vec<(String, Pos, Node)>),
}

impl Node {
    /// The value as a cell: strings as they are, numbers as written,
    /// booleans `true`/`false`, `null` empty, an array of scalars joined
    /// with `, `; `None` for an object or nested array.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Null => Some(String::new()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.clone()),
            Value::String(s) => Some(s.clone()),
            Value::Array(items) => {
                let mut parts = Vec::with_capacity(items.len());
                for i in items {
                    match &i.value {
                        Value::Array(_) | Value::Object(_) => return None,
                        _ => parts.push(i.scalar_text()?),
                    }
                }
                Some(parts.join(", "))
            }
            Value::Object(_) => None,
        }
    }
}

const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    i: usize,
    line: u32,
    line_start: usize,
}

/// Parses a whole document; an error carries its message and position.
pub(crate) fn parse(text: &str) -> Result<Node, (String, Pos)> {
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        i: 0,
        line: 1,
        line_start: 0,
    };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i < p.bytes.len() {
        return Err(("text after the JSON value".into(), p.pos()));
    }
    Ok(v)
}

impl Parser<'_> {
    fn pos(&self) -> Pos {
        let col = self
            .text
            .get(self.line_start..self.i)
            .map_or(0, |s| s.chars().count());
        Pos {
            line: self.line,
            col: u32::try_from(col + 1).unwrap_or(u32::MAX),
        }
    }

    fn err<T>(&self, msg: &str) -> Result<T, (String, Pos)> {
        Err((msg.to_owned(), self.pos()))
    }

    fn ws(&mut self) {
        while let Some(&b) = self.bytes.get(self.i) {
            match b {
                b' ' | b'\t' | b'\r' => self.i += 1,
                b'\n' => {
                    self.i += 1;
                    self.line += 1;
                    self.line_start = self.i;
                }
                _ => break,
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, (String, Pos)> {
        if depth > MAX_DEPTH {
            return self.err("nested deeper than 64 levels");
        }
        let pos = self.pos();
        let value = match self.bytes.get(self.i) {
            None => return self.err("the document ends where a value is expected"),
            Some(b'{') => {
                self.i += 1;
                let mut members = Vec::new();
                self.ws();
                if self.bytes.get(self.i) == Some(&b'}') {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        let key_pos = self.pos();
                        if self.bytes.get(self.i) != Some(&b'"') {
                            return self.err("expected a key in double quotes");
                        }
                        let key = self.string()?;
                        self.ws();
                        if self.bytes.get(self.i) != Some(&b':') {
                            return self.err("expected `:` after the key");
                        }
                        self.i += 1;
                        self.ws();
                        let v = self.value(depth + 1)?;
                        members.push((key, key_pos, v));
                        self.ws();
                        match self.bytes.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b'}') => {
                                self.i += 1;
                                break;
                            }
                            _ => return self.err("expected `,` or `}`"),
                        }
                    }
                }
                Value::Object(members)
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.bytes.get(self.i) == Some(&b']') {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        items.push(self.value(depth + 1)?);
                        self.ws();
                        match self.bytes.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                break;
                            }
                            _ => return self.err("expected `,` or `]`"),
                        }
                    }
                }
                Value::Array(items)
            }
            Some(b'"') => Value::String(self.string()?),
            Some(b't') if self.text[self.i..].starts_with("true") => {
                self.i += 4;
                Value::Bool(true)
            }
            Some(b'f') if self.text[self.i..].starts_with("false") => {
                self.i += 5;
                Value::Bool(false)
            }
            Some(b'n') if self.text[self.i..].starts_with("null") => {
                self.i += 4;
                Value::Null
            }
            Some(b'-' | b'0'..=b'9') => {
                let start = self.i;
                while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') =
                    self.bytes.get(self.i)
                {
                    self.i += 1;
                }
                let n = &self.text[start..self.i];
                if n.parse::<f64>().is_err() {
                    self.i = start;
                    return self.err("not a number");
                }
                Value::Number(n.to_owned())
            }
            Some(_) => return self.err("expected a value"),
        };
        Ok(Node { pos, value })
    }

    /// A string at `"`; leaves `i` after the closing quote.
    fn string(&mut self) -> Result<String, (String, Pos)> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let start = self.i;
            while let Some(&b) = self.bytes.get(self.i) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.i += 1;
            }
            out.push_str(&self.text[start..self.i]);
            match self.bytes.get(self.i) {
                None => return self.err("the string is not closed"),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = match self.bytes.get(self.i) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.i += 1;
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if !self.text[self.i..].starts_with("\\u") {
                                    return self.err("a lone surrogate in a \\u escape");
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return self.err("a lone surrogate in a \\u escape");
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            match char::from_u32(code) {
                                Some(c) => {
                                    out.push(c);
                                    continue;
                                }
                                None => return self.err("a lone surrogate in a \\u escape"),
                            }
                        }
                        _ => return self.err("an unknown escape"),
                    };
                    self.i += 1;
                    out.push(c);
                }
                Some(_) => return self.err("a control character inside a string"),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, (String, Pos)> {
        let h = self
            .text
            .get(self.i..self.i + 4)
            .and_then(|h| u32::from_str_radix(h, 16).ok());
        match h {
            Some(v) => {
                self.i += 4;
                Ok(v)
            }
            None => self.err("expected four hex digits after \\u"),
        }
    }
}
