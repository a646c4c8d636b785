//! The API token: a secret that never prints.

use std::fmt;

use reqwest::header::HeaderValue;

use crate::ClientError;
use crate::secret::Masker;

/// The &frankly API token.
///
/// `Debug` and `Display` print `<redacted>`; there is no `Serialize`, no
/// `PartialEq` and no public accessor, so the secret can only leave through
/// the header [`Client`](crate::Client) sends it in.
///
/// ```
/// use orgform_frankly::Token;
/// let token = Token::new("s3cr3t".to_owned());
/// assert_eq!(format!("{token} {token:?}"), "<redacted> <redacted>");
/// ```
#[derive(Clone)]
pub struct Token {
    secret: String,
    /// The environment variable it came from, for error messages.
    var: Option<String>,
    /// Masks the secret's every form in server texts.
    masker: Masker,
}

impl Token {
    /// A token given directly (tests, or a caller that read it elsewhere).
    /// The value is used exactly as given.
    pub fn new(secret: String) -> Token {
        Token {
            masker: Masker::new(&secret),
            secret,
            var: None,
        }
    }

    /// Reads the token from the environment variable `var`.
    ///
    /// Surrounding whitespace is trimmed (a secret pasted with a trailing
    /// newline is the common case; no valid token starts or ends with
    /// whitespace). A variable that is missing, empty or only whitespace is
    /// [`ClientError::MissingToken`]; one that is not UTF-8 or holds
    /// characters an HTTP header cannot carry is
    /// [`ClientError::MalformedToken`]. Errors name the variable, never its value.
    pub fn from_env(var: &str) -> Result<Token, ClientError> {
        if var.is_empty() || var.contains(['=', '\0']) {
            return Err(ClientError::InvalidConfig {
                reason: format!("`{var}` is not a valid environment variable name"),
            });
        }
        Token::from_var_value(var, std::env::var_os(var))
    }

    /// [`Token::from_env`]'s rules on a value already read.
    fn from_var_value(var: &str, raw: Option<std::ffi::OsString>) -> Result<Token, ClientError> {
        let Some(raw) = raw else {
            return Err(ClientError::MissingToken {
                var: var.to_owned(),
            });
        };
        let Some(text) = raw.to_str() else {
            return Err(ClientError::MalformedToken {
                var: var.to_owned(),
            });
        };
        let secret = text.trim();
        if secret.is_empty() {
            return Err(ClientError::MissingToken {
                var: var.to_owned(),
            });
        }
        if HeaderValue::from_str(secret).is_err() {
            return Err(ClientError::MalformedToken {
                var: var.to_owned(),
            });
        }
        Ok(Token {
            masker: Masker::new(secret),
            secret: secret.to_owned(),
            var: Some(var.to_owned()),
        })
    }

    /// The secret, for the header and for redaction. Crate-private on purpose.
    pub(crate) fn secret(&self) -> &str {
        &self.secret
    }

    /// The environment variable it came from; empty for [`Token::new`].
    pub(crate) fn var(&self) -> &str {
        self.var.as_deref().unwrap_or("")
    }

    /// A server text made safe to quote: decoded forms unwrapped, control
    /// and format characters removed, the secret in every form replaced by
    /// `<redacted>`, and the whole text dropped when a piece of 8 or more
    /// characters of it survives (see `secret.rs`).
    pub(crate) fn redact(&self, text: &str) -> String {
        self.masker.server_text(text)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;

    const VAR: &str = "ORGFORM_TEST_TOKEN";

    fn read(value: Option<&str>) -> Result<Token, ClientError> {
        Token::from_var_value(VAR, value.map(OsString::from))
    }

    #[test]
    fn missing_empty_and_blank_values_name_the_variable() {
        for value in [None, Some(""), Some("  \n")] {
            let err = read(value).unwrap_err();
            assert!(
                matches!(&err, ClientError::MissingToken { var } if var == VAR),
                "{value:?}: {err:?}"
            );
            assert!(err.to_string().contains("`ORGFORM_TEST_TOKEN`"), "{err}");
        }
    }

    #[test]
    fn surrounding_whitespace_is_trimmed_and_inner_control_characters_refused() {
        let token = read(Some("  tok-123\n")).unwrap();
        assert_eq!(token.secret(), "tok-123");
        assert_eq!(token.var(), VAR);

        let err = read(Some("zq9\nx7")).unwrap_err();
        assert!(
            matches!(&err, ClientError::MalformedToken { var } if var == VAR),
            "{err:?}"
        );
        let text = format!("{err} {err:?}");
        assert!(
            !text.contains("zq9") && !text.contains("x7"),
            "the value never shows: {text}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_value_that_is_not_utf8_is_malformed() {
        use std::os::unix::ffi::OsStringExt;
        let raw = OsString::from_vec(vec![b't', 0xff, b'k']);
        let err = Token::from_var_value(VAR, Some(raw)).unwrap_err();
        assert!(matches!(err, ClientError::MalformedToken { .. }), "{err:?}");
    }

    #[test]
    fn from_env_reads_a_missing_variable_and_rejects_bad_names() {
        let err = Token::from_env("ORGFORM_FRANKLY_SURELY_UNSET_4F1C").unwrap_err();
        assert!(matches!(err, ClientError::MissingToken { .. }), "{err:?}");
        for bad in ["", "A=B"] {
            let err = Token::from_env(bad).unwrap_err();
            assert!(
                matches!(err, ClientError::InvalidConfig { .. }),
                "{bad:?}: {err:?}"
            );
        }
    }

    #[test]
    fn redaction_replaces_every_occurrence() {
        let token = Token::new("abc".into());
        assert_eq!(token.redact("xabcyabc"), "x<redacted>y<redacted>");
        assert_eq!(format!("{token:?}/{token}"), "<redacted>/<redacted>");
        assert_eq!(Token::new(String::new()).redact("text"), "text");
    }
}
