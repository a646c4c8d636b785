//! Everything that can go wrong between a request and its answer.

use thiserror::Error;

use crate::wire::ApiError;

/// Why a request did not succeed.
///
/// The variants split on what the caller must tell the user: whether the
/// server can have applied the request ([`ClientError::may_have_applied`]),
/// and what to fix. No variant holds the token: server texts quoted in
/// [`ClientError::Unexpected`] and [`ClientError::Rejected`] have it
/// replaced by `<redacted>` should a server echo it.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The token's environment variable is missing, empty or only whitespace.
    #[error(
        "no API token: the environment variable `{var}` is not set or is empty; set it to the \
         &frankly API token (Account -> API Access)"
    )]
    MissingToken {
        /// The variable's name.
        var: String,
    },

    /// The token's environment variable holds something that cannot be sent
    /// in an HTTP header (not UTF-8, or control characters such as a newline
    /// inside it).
    #[error(
        "the API token{} contains characters an HTTP header cannot carry (a line break or other \
         control character inside it?); copy the token again",
        if .var.is_empty() { String::new() } else { format!(" in `{}`", .var) }
    )]
    MalformedToken {
        /// The variable's name; empty for a token given directly.
        var: String,
    },

    /// The configuration cannot work: a bad token header name, a zero
    /// timeout, or the HTTP stack failed to start.
    #[error("cannot set up the &frankly client: {reason}")]
    InvalidConfig {
        /// What is wrong, in words.
        reason: String,
    },

    /// A token would travel unencrypted to a host that is not this machine.
    #[error(
        "refusing to send the API token over plain http to `{endpoint}`: use https (plain http \
         is allowed only to a loopback address: 127.0.0.0/8, ::1 or localhost)"
    )]
    InsecureEndpoint {
        /// The endpoint as configured.
        endpoint: String,
    },

    /// The endpoint is not a usable http(s) URL.
    #[error("invalid endpoint `{endpoint}`: {reason}")]
    InvalidEndpoint {
        /// The endpoint as configured.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The server refused the token (a `400`, `401` or `403` that names the
    /// token, or carries no JSON explanation).
    #[error(
        "the server refused the API token (HTTP {status}): invalid token or sending IP not \
         allowed; check the token (Account -> API Access) and the account's IP restrictions"
    )]
    InvalidToken {
        /// The HTTP status.
        status: u16,
    },

    /// The server rejected the request with its reasons (`{"errors": [...]}`).
    /// Nothing was applied; not retried.
    #[error("the server rejected the request (HTTP {status}): {}", summary(.errors))]
    Rejected {
        /// The HTTP status (`400` from the emulator).
        status: u16,
        /// Every reason the server gave, in its order.
        errors: Vec<ApiError>,
    },

    /// An answer the rules do not cover (a redirect, a `404`, a `409`, a
    /// `4xx` without `errors`): not retried.
    #[error("unexpected answer from the server (HTTP {status}): {}", excerpt_or_empty(.excerpt))]
    Unexpected {
        /// The HTTP status.
        status: u16,
        /// The start of the body (or the redirect target), cleaned up.
        excerpt: String,
    },

    /// The server's `validateOnly` echo contradicts the request: it
    /// validated what should have been applied, or applied what should only
    /// have been validated.
    #[error(
        "the server answered `validateOnly: {answered}` to a request with `validateOnly: \
         {sent}`{}",
        if *.sent { "; it may have APPLIED a request that was only to be validated" } else { "; nothing was applied" }
    )]
    ValidateOnlyMismatch {
        /// What the request said.
        sent: bool,
        /// What the answer said.
        answered: bool,
    },

    /// The request certainly never reached the server: every attempt failed
    /// to connect (connection refused, DNS, TLS handshake, connect timeout).
    #[error(
        "could not reach the server ({}): {cause}; the request was never sent, so nothing was \
         applied",
        attempts_text(*.attempts)
    )]
    NotSent {
        /// The last failure, in words.
        cause: String,
        /// Attempts made.
        attempts: u32,
    },

    /// No answer came for a request the server may have received: a
    /// timeout, or the connection closed after the request was written
    /// (also when an earlier attempt may have reached the server and later
    /// ones could not connect). Unless the request was validate-only, the
    /// server may have applied it.
    #[error(
        "no answer from the server ({}): {cause}; {}",
        attempts_text(*.attempts),
        if *.validate_only {
            "the request was only to be validated (validateOnly: true), so nothing was applied"
        } else {
            "the server MAY HAVE APPLIED the request"
        }
    )]
    MaybeApplied {
        /// What happened, in words.
        cause: String,
        /// Attempts made.
        attempts: u32,
        /// The request said `validateOnly: true`: the server may have
        /// received it, but can have applied nothing.
        validate_only: bool,
    },

    /// The server kept answering `5xx` until the retries or the time budget
    /// ran out.
    #[error(
        "the server answered HTTP {status} ({}, retries exhausted){}",
        attempts_text(*.attempts),
        if *.may_have_applied {
            "; the server MAY HAVE APPLIED the request (an attempt timed out, lost its \
             connection, or got a server error other than 503)"
        } else {
            "; nothing was applied"
        }
    )]
    ServerError {
        /// The last status.
        status: u16,
        /// Attempts made.
        attempts: u32,
        /// An attempt may have been applied: one timed out or lost its
        /// connection, or got a `5xx` other than `503` (a gateway's `502`/`504`
        /// or a `500` can come after the work was done; a `503` means the
        /// server turned the request away). Never for a validate-only request.
        may_have_applied: bool,
    },
}

impl ClientError {
    /// Whether the server can have applied the request even though no
    /// success came back. The state must not move either way; this decides
    /// what the user is told ("nothing was applied" or "may have applied:
    /// apply again, it converges").
    pub fn may_have_applied(&self) -> bool {
        match self {
            ClientError::MaybeApplied { validate_only, .. } => !validate_only,
            ClientError::ServerError {
                may_have_applied, ..
            } => *may_have_applied,
            ClientError::ValidateOnlyMismatch { sent, .. } => *sent,
            ClientError::MissingToken { .. }
            | ClientError::MalformedToken { .. }
            | ClientError::InvalidConfig { .. }
            | ClientError::InsecureEndpoint { .. }
            | ClientError::InvalidEndpoint { .. }
            | ClientError::InvalidToken { .. }
            | ClientError::Rejected { .. }
            | ClientError::Unexpected { .. }
            | ClientError::NotSent { .. } => false,
        }
    }
}

fn attempts_text(n: u32) -> String {
    if n == 1 {
        "1 attempt".to_owned()
    } else {
        format!("{n} attempts")
    }
}

fn excerpt_or_empty(excerpt: &str) -> &str {
    if excerpt.is_empty() {
        "(empty body)"
    } else {
        excerpt
    }
}

/// `2 errors: validateNoPhoneDuplicates for `E1`, unknownGroup for `E2``
fn summary(errors: &[ApiError]) -> String {
    let items: Vec<String> = errors
        .iter()
        .map(|e| match &e.external_id {
            Some(id) => format!("{} for `{id}`", e.code),
            None => e.code.clone(),
        })
        .collect();
    let n = errors.len();
    let noun = if n == 1 { "error" } else { "errors" };
    format!("{n} {noun}: {}", items.join(", "))
}
