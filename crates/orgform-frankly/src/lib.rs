//! The &frankly organization API: the only crate that knows its wire format.
//!
//! - [`wire`]: the request and answer types of `POST /v1/organization`,
//!   and [`wire::OrganizationRequest::from_desired`], which turns a desired
//!   org into the body the apply flow sends.
//! - [`Client`]: sends one [`wire::OrganizationRequest`] and applies the
//!   answer rules of DESIGN section 5, giving an [`Answer`] or a
//!   [`ClientError`] that says whether the server may have applied it.
//!   Configured by a [`ClientConfig`] (endpoint, [`Token`], token header,
//!   timeouts, [`RetryPolicy`]); retries are reported to an observer as
//!   [`RetryEvent`]s.
//! - [`advice`]: what to do about each error code, in plain words.
//!
//! - [`checked_endpoint`] / [`mask_endpoint`]: the endpoint check
//!   (credentials in it refused first, `http` only to loopback; `localhost.`
//!   is not loopback) and the masked form every message shows.
//!
//! The token never prints: [`Token`]'s `Debug` and `Display` are
//! `<redacted>`, the header carrying it is marked sensitive, and no error or
//! `tracing` event holds it. Every text quoted from a server (body excerpts,
//! a rejection's fields, a redirect target, transport errors) goes through
//! one masking step first (`secret.rs`): UTF-16 bodies decoded, JSON `\u`
//! escapes, percent-encoding and HTML references unwrapped, control and
//! format characters removed, the token masked as is and mis-decoded
//! (its UTF-8 read as Latin-1/Windows-1252), and the text dropped when a
//! piece of 8 or more characters of the token (or its hex or base64)
//! remains. Answers are read up to 64 MiB; a larger one is "the answer was
//! too large to read", never an invalid token.
//!
//! ```no_run
//! use orgform_frankly::wire::OrganizationRequest;
//! use orgform_frankly::{Answer, Client, ClientConfig, Token};
//!
//! # async fn run() -> Result<(), orgform_frankly::ClientError> {
//! let token = Token::from_env(orgform_frankly::DEFAULT_TOKEN_ENV)?;
//! let client = Client::new(ClientConfig::new("http://127.0.0.1:8080/v1/organization", token))?
//!     .with_retry_observer(|event| eprintln!("{event}"));
//! match client.send(&OrganizationRequest::default()).await {
//!     Ok(Answer::Reported(counts)) => println!("{} users created", counts.users.created),
//!     Ok(Answer::CountsNotReported { .. }) => println!("accepted; counts not reported"),
//!     Err(e) if e.may_have_applied() => eprintln!("{e}: apply again, it converges"),
//!     Err(e) => eprintln!("{e}: nothing was applied"),
//! }
//! # Ok(()) }
//! ```

mod client;
mod config;
mod endpoint;
mod error;
mod secret;
mod token;
pub mod wire;

pub use client::{Answer, Client, RetryEvent};
pub use config::{ClientConfig, DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, RetryPolicy};
pub use endpoint::{CREDENTIAL_KEYS, checked_endpoint, mask_endpoint};
pub use error::ClientError;
pub use token::Token;

/// The real API's address (the API reference's "API Endpoint").
pub const DEFAULT_ENDPOINT: &str = "https://org.api.andfrankly.com/v1/organization";
/// The environment variable holding the token unless `target.tokenEnv` names another.
pub const DEFAULT_TOKEN_ENV: &str = "FRANKLY_API_TOKEN";
/// The header the token is sent in, raw (no `Bearer`): the API declares an
/// `api_key`, and &frankly's sibling APIs document it as `Authorization`.
pub const DEFAULT_TOKEN_HEADER: &str = "Authorization";

/// What to do about an error code the server sent, in plain words; `None`
/// for a code this version does not know (show the server's message alone).
///
/// ```
/// use orgform_frankly::{advice, wire::codes};
/// assert!(advice(codes::PHONE_INCORRECT).unwrap().contains("+46"));
/// assert_eq!(advice("somethingNew"), None);
/// ```
pub fn advice(code: &str) -> Option<&'static str> {
    use wire::codes;
    let text = match code {
        codes::API_TOKEN_VALIDATION => {
            "the API token is not valid, or this machine's IP address may not use it: create a \
             new token in &frankly under Account -> API Access (only Administrators can), put \
             it in the token environment variable, and check any IP restrictions on the account"
        }
        codes::PHONE_INCORRECT => {
            "a phone number is not correctly formatted: write it in international form, `+` and \
             the country code then digits only (for example +46701234567), or leave it empty"
        }
        codes::PHONE_DUPLICATE => {
            "the phone number is already registered to another user in &frankly (perhaps one \
             created by hand): correct the number in the spec, or remove it from the other user"
        }
        codes::MAIL_IN_ANOTHER_COMPANY => {
            "the email address belongs to a user of another company in &frankly: check it for \
             typos and use the person's address at this company; if it really must move, ask \
             &frankly support (help@andfrankly.com)"
        }
        codes::EXTERNAL_PROPERTIES => {
            "an external property does not match the account's custom attributes: it is not \
             defined, its value is not an allowed option, or a required one is missing; add the \
             attribute and its options in &frankly under Account -> User management, or fix the \
             spec's `attributes` and the user's `externalProperties`"
        }
        codes::UNKNOWN_GROUP => {
            "a group reference (`parent` or an `accessInfo` list) names a group that neither the \
             spec nor the account has: fix the externalId, add the group to `groups`, or list it \
             in `externalGroups` if it exists in &frankly"
        }
        codes::LIMIT_EXCEEDED => {
            "the request would pass one of the limits, so nothing was changed; the deletion \
             limits sent are the planned deletions, so the server holds managed records the \
             state does not know about (run `orgform plan --preflight`); for other limits, \
             review the plan and raise the limit in the spec's `settings` if the change is intended"
        }
        codes::INVALID_REQUEST => {
            "the server could not read the request: most likely a bug in orgform or an API \
             change; please report it with the output of `orgform plan --format json`"
        }
        _ => return None,
    };
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_code_has_advice() {
        for code in [
            wire::codes::API_TOKEN_VALIDATION,
            wire::codes::PHONE_INCORRECT,
            wire::codes::PHONE_DUPLICATE,
            wire::codes::MAIL_IN_ANOTHER_COMPANY,
            wire::codes::EXTERNAL_PROPERTIES,
            wire::codes::UNKNOWN_GROUP,
            wire::codes::LIMIT_EXCEEDED,
            wire::codes::INVALID_REQUEST,
        ] {
            let text = advice(code).unwrap_or_default();
            assert!(text.len() > 40, "{code}: {text:?}");
            assert!(!text.ends_with('.'), "{code}: no trailing period");
        }
        assert_eq!(
            advice("APITOKENVALIDATION"),
            None,
            "codes are case-sensitive"
        );
    }
}
