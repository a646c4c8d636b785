//! The endpoint: checked before anything else, never echoed with a
//! credential in it (DESIGN section 11).
//!
//! - [`checked_endpoint`]: the one check every endpoint goes through (the
//!   [`Client`](crate::Client) calls it too). It refuses credentials first:
//!   userinfo (`https://user:TOKEN@host/…`) or a query key, compared
//!   without regard to case, among [`CREDENTIAL_KEYS`]; then anything but
//!   `https`, except `http` to a loopback address (`127.0.0.0/8`, `::1`,
//!   `localhost`; **not** `localhost.`, which a resolver may send
//!   elsewhere). Its `Ok` value is the normalised URL that is safe to store
//!   (in the state, a saved plan, the history) and to print.
//! - [`mask_endpoint`]: an endpoint as it may be shown when it was refused
//!   or cannot be parsed: userinfo, every query value and the fragment
//!   replaced by `***`, control characters made visible. Every error of
//!   this module shows the endpoint through it.
//!
//! ```
//! use orgform_frankly::{checked_endpoint, mask_endpoint};
//! assert!(checked_endpoint("https://org.api.example.com/v1/organization").is_ok());
//! let err = checked_endpoint("https://me:s3cr3t-T0ken@example.com/v1").unwrap_err();
//! assert!(!err.to_string().contains("s3cr3t"));
//! assert!(checked_endpoint("https://example.com/v1?API_KEY=s3cr3t").is_err());
//! assert_eq!(mask_endpoint("https://a:b@h/p?token=x#f"), "https://***@h/p?token=***#***");
//! ```

use std::net::IpAddr;

use reqwest::Url;

use crate::ClientError;

/// Query keys that carry a credential (compared without regard to case).
pub const CREDENTIAL_KEYS: [&str; 10] = [
    "api_key",
    "apikey",
    "key",
    "token",
    "access_token",
    "auth",
    "password",
    "secret",
    "sig",
    "signature",
];

/// Checks an endpoint (see the module docs); `Ok` is the normalised URL,
/// safe to store and print.
pub fn checked_endpoint(endpoint: &str) -> Result<String, ClientError> {
    check_endpoint(endpoint).map(String::from)
}

/// [`checked_endpoint`] as a parsed URL, for the client.
pub(crate) fn check_endpoint(endpoint: &str) -> Result<Url, ClientError> {
    let masked = || mask_endpoint(endpoint);
    let invalid = |reason: String| ClientError::InvalidEndpoint {
        endpoint: masked(),
        reason,
    };
    // `url` error messages never quote the input.
    let url = Url::parse(endpoint.trim()).map_err(|e| invalid(e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "credentials in the URL are not allowed (they would be shown and stored); the token \
             comes from its environment variable"
                .to_owned(),
        ));
    }
    if let Some(key) = url.query_pairs().map(|(k, _)| k).find(|k| {
        CREDENTIAL_KEYS
            .iter()
            .any(|c| c.eq_ignore_ascii_case(k.trim()))
    }) {
        return Err(invalid(format!(
            "the query key `{}` carries a credential, which would be shown and stored; the token \
             comes from its environment variable",
            key.trim().to_ascii_lowercase()
        )));
    }
    let Some(host) = url.host_str() else {
        return Err(invalid("no host".to_owned()));
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(host) => Ok(url),
        "http" => Err(ClientError::InsecureEndpoint { endpoint: masked() }),
        other => Err(invalid(format!(
            "the scheme `{}` is not supported: use https (or http to a loopback address)",
            orgform_model::text::clean(other)
        ))),
    }
}

/// An endpoint as it may be shown (see the module docs). Works on text that
/// does not parse as a URL too.
pub fn mask_endpoint(endpoint: &str) -> String {
    let text = endpoint.trim();
    let (scheme, rest) = match text.find("://") {
        Some(i) => text.split_at(i + 3),
        None => ("", text),
    };
    let (rest, fragment) = match rest.find('#') {
        Some(i) => (&rest[..i], Some(())),
        None => (rest, None),
    };
    let (before_query, query) = match rest.find('?') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let authority_end = before_query.find('/').unwrap_or(before_query.len());
    let (authority, path) = before_query.split_at(authority_end);
    let mut out = String::from(scheme);
    match authority.rfind('@') {
        Some(at) => {
            out.push_str("***");
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    out.push_str(path);
    if let Some(query) = query {
        out.push('?');
        let masked: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) => format!("{k}=***"),
                None if pair.is_empty() => String::new(),
                None => "***".to_owned(),
            })
            .collect();
        out.push_str(&masked.join("&"));
    }
    if fragment.is_some() {
        out.push_str("#***");
    }
    orgform_model::text::clean(&out)
}

/// `127.0.0.0/8`, `::1` (also IPv4-mapped) and `localhost` (exactly: not
/// `localhost.`, a fully qualified name a resolver may send elsewhere).
pub(crate) fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "Zq9xV7mR2pL4";

    #[test]
    fn loopback_hosts() {
        for host in [
            "127.0.0.1",
            "127.8.9.10",
            "[::1]",
            "localhost",
            "LOCALHOST",
            "[::ffff:127.0.0.1]",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "10.0.0.1",
            "0.0.0.0",
            "[::]",
            "example.com",
            "localhost.",
            "localhost.example.com",
            "127.0.0.1.example.com",
            "[::ffff:10.0.0.1]",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
        assert!(matches!(
            checked_endpoint("http://localhost./v1/organization"),
            Err(ClientError::InsecureEndpoint { .. })
        ));
    }

    #[test]
    fn credentials_are_refused_first_and_never_echoed() {
        for endpoint in [
            format!("https://user:{SECRET}@example.com/v1"),
            format!("https://{SECRET}@example.com/v1"),
            format!("http://user:{SECRET}@10.0.0.1/v1"),
            format!("https://example.com/v1?api_key={SECRET}"),
            format!("https://example.com/v1?x=1&ApiKey={SECRET}"),
            format!("https://example.com/v1?TOKEN={SECRET}"),
            format!("https://example.com/v1?Access_Token={SECRET}"),
            format!("https://example.com/v1?sig={SECRET}"),
            format!("https://example.com/v1?signature={SECRET}&key=1"),
            format!("https://example.com/v1?password={SECRET}"),
            format!("https://example.com/v1?secret={SECRET}"),
            format!("https://example.com/v1?auth={SECRET}"),
            // Unparsable: the parse error must not echo it either.
            format!("https://user:{SECRET}@exa mple.com/v1"),
            format!("ftp://user:{SECRET}@example.com/v1"),
        ] {
            let err = checked_endpoint(&endpoint).unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(!text.contains(SECRET), "{endpoint}: {text}");
            assert!(!text.contains("Zq9x"), "{endpoint}: {text}");
        }
        let err = checked_endpoint(&format!("https://example.com/v1?apiKey={SECRET}")).unwrap_err();
        assert!(err.to_string().contains("`apikey`"), "{err}");
    }

    #[test]
    fn ordinary_endpoints_pass_normalised() {
        assert_eq!(
            checked_endpoint(" https://Org.Example.com/v1/organization ").unwrap(),
            "https://org.example.com/v1/organization"
        );
        assert!(checked_endpoint("http://127.0.0.1:8080/v1/organization?region=eu").is_ok());
    }

    #[test]
    fn masking_hides_userinfo_query_values_and_fragments() {
        assert_eq!(mask_endpoint("user:pw@host/x"), "***@host/x");
        assert_eq!(
            mask_endpoint("https://h/p?a=1&b&=c"),
            "https://h/p?a=***&***&=***"
        );
        assert_eq!(
            mask_endpoint("https://h/p\u{1b}[2J"),
            "https://h/p\\u{1b}[2J"
        );
        assert_eq!(mask_endpoint("https://h/p"), "https://h/p");
    }
}
