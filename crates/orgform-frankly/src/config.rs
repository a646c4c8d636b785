//! Where and how the client talks: endpoint, token header, timeouts, retries.

use std::time::Duration;

use orgform_model::Target;

use crate::{DEFAULT_ENDPOINT, DEFAULT_TOKEN_HEADER, Token};

/// How long to wait for a connection (TCP and TLS) by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one attempt may take, from sending to the last byte of the
/// answer, by default. A full org of 20 000 users is a large body for the
/// server to check, hence generous.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// When and how often a failed request is sent again.
///
/// Only timeouts, connection errors and `5xx` answers are retried: the
/// request is a full desired state, so sending it twice does no harm. The
/// delay before retry `n` (1-based) is `min(max_backoff, initial_backoff ×
/// 2^(n-1))`, of which the upper half is random ("equal jitter": never
/// close to zero against a struggling server, yet spread out). A `503`'s
/// `Retry-After` in seconds is honoured up to `max_backoff`.
///
/// Two bounds, whichever comes first: at most `max_retries` retries, and no
/// retry that would start later than `budget` after the first attempt
/// began. An attempt that starts within the budget runs to its own request
/// timeout, so the worst case is about `budget + request_timeout`.
///
/// The default (4 retries, 500 ms doubling up to 8 s, 120 s budget) rides
/// out a minute-long outage; `RetryPolicy::none()` sends once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (`0` = send once).
    pub max_retries: u32,
    /// The delay before the first retry, before jitter.
    pub initial_backoff: Duration,
    /// The longest delay between two attempts.
    pub max_backoff: Duration,
    /// No retry starts later than this after the first attempt began.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            budget: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// Send once, never retry.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The delay before retry `retry` (1-based), given a random `unit` in
    /// `[0, 1)`: half fixed, half jitter.
    pub(crate) fn delay(&self, retry: u32, unit: f64) -> Duration {
        let doubling = 2u32.saturating_pow(retry.saturating_sub(1));
        let base = self
            .initial_backoff
            .saturating_mul(doubling)
            .min(self.max_backoff);
        let half = base / 2;
        half + half.mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// Everything the client needs. Build it with [`ClientConfig::new`] or
/// [`ClientConfig::from_target`], then adjust fields (the CLI's flags win).
///
/// `Debug` shows the token as `<redacted>` and the endpoint masked
/// ([`crate::mask_endpoint`]).
#[derive(Clone)]
pub struct ClientConfig {
    /// The full URL the organization request is POSTed to.
    pub endpoint: String,
    /// The API token.
    pub token: Token,
    /// The header the token goes in, raw (no `Bearer`); default `Authorization`.
    pub token_header: String,
    /// The limit on connecting (TCP and TLS handshake).
    pub connect_timeout: Duration,
    /// The limit on one attempt, from sending to the last byte of the answer.
    pub request_timeout: Duration,
    /// Retries of timeouts, connection errors and `5xx`.
    pub retry: RetryPolicy,
}

impl ClientConfig {
    /// The defaults for `endpoint`: `Authorization` header, the default
    /// timeouts and [`RetryPolicy::default`].
    pub fn new(endpoint: impl Into<String>, token: Token) -> ClientConfig {
        ClientConfig {
            endpoint: endpoint.into(),
            token,
            token_header: DEFAULT_TOKEN_HEADER.to_owned(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            retry: RetryPolicy::default(),
        }
    }

    /// The configuration a spec's `target` asks for. The endpoint is
    /// `endpoint_override` (the `--endpoint` flag), else `target.endpoint`,
    /// else [`DEFAULT_ENDPOINT`]; every other setting the target leaves out
    /// keeps its default. (`target.tokenEnv` is the caller's business: it
    /// reads the token with [`Token::from_env`] before calling this.)
    pub fn from_target(
        target: &Target,
        endpoint_override: Option<&str>,
        token: Token,
    ) -> ClientConfig {
        let endpoint = endpoint_override
            .map(str::to_owned)
            .or_else(|| target.endpoint.clone())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
        let mut config = ClientConfig::new(endpoint, token);
        if let Some(header) = &target.token_header {
            config.token_header = header.clone();
        }
        let secs = |s: u32| Duration::from_secs(u64::from(s));
        if let Some(s) = target.connect_timeout_secs {
            config.connect_timeout = secs(s);
        }
        if let Some(s) = target.request_timeout_secs {
            config.request_timeout = secs(s);
        }
        if let Some(n) = target.max_retries {
            config.retry.max_retries = n;
        }
        if let Some(s) = target.retry_budget_secs {
            config.retry.budget = secs(s);
        }
        config
    }
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("endpoint", &crate::mask_endpoint(&self.endpoint))
            .field("token", &self.token)
            .field("token_header", &self.token_header)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_with_half_jitter() {
        let p = RetryPolicy {
            max_retries: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
            budget: Duration::from_secs(10),
        };
        let ms = |d: Duration| d.as_millis();
        assert_eq!(ms(p.delay(1, 0.0)), 50);
        assert_eq!(ms(p.delay(1, 0.999_999)), 99);
        assert_eq!(ms(p.delay(2, 0.0)), 100);
        assert_eq!(ms(p.delay(3, 0.5)), 300);
        assert_eq!(ms(p.delay(4, 0.0)), 250, "capped at max_backoff");
        assert_eq!(ms(p.delay(60, 1.0)), 500, "no overflow");
    }

    #[test]
    fn target_settings_fill_in_and_the_flag_wins() {
        let target = Target {
            endpoint: Some("https://spec.example.com/v1/organization".into()),
            token_header: Some("X-Api-Key".into()),
            request_timeout_secs: Some(7),
            max_retries: Some(1),
            retry_budget_secs: Some(9),
            ..Target::default()
        };
        let c = ClientConfig::from_target(&target, None, Token::new("t".into()));
        assert_eq!(c.endpoint, "https://spec.example.com/v1/organization");
        assert_eq!(c.token_header, "X-Api-Key");
        assert_eq!(c.request_timeout, Duration::from_secs(7));
        assert_eq!(c.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(c.retry.max_retries, 1);
        assert_eq!(c.retry.budget, Duration::from_secs(9));
        assert_eq!(
            c.retry.initial_backoff,
            RetryPolicy::default().initial_backoff
        );

        let c = ClientConfig::from_target(
            &target,
            Some("http://127.0.0.1:1/v1/organization"),
            Token::new("t".into()),
        );
        assert_eq!(c.endpoint, "http://127.0.0.1:1/v1/organization");

        let c = ClientConfig::from_target(&Target::default(), None, Token::new("t".into()));
        assert_eq!(c.endpoint, DEFAULT_ENDPOINT);
        assert_eq!(c.token_header, "Authorization");
        assert_eq!(c.retry, RetryPolicy::default());
        assert_eq!(c.request_timeout, DEFAULT_REQUEST_TIMEOUT);
    }
}
