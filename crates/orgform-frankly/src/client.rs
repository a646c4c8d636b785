//! The async client: one `POST` of an [`OrganizationRequest`], the answer
//! rules of DESIGN section 5, and retries.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};

use crate::endpoint::check_endpoint;
use crate::secret::decode_body;
use crate::wire::{ErrorResponse, OrganizationRequest, OrganizationResponse, codes};
use crate::{ClientConfig, ClientError, RetryPolicy, Token};

/// The most of an answer body that is read. The emulator's answers are a
/// few hundred bytes, but a rejection lists every error (12,000
/// `validateExternalProperties` errors are 1.7 MB), so the cap is far
/// above that; a larger answer is "too large to read", never a token error.
const MAX_BODY: usize = 64 << 20;
/// The most of a body's text that is unwrapped and masked for an excerpt
/// (the excerpt itself is [`EXCERPT_CHARS`]).
const EXCERPT_SOURCE_CHARS: usize = 16 * EXCERPT_CHARS;
/// The most of a body quoted in [`ClientError::Unexpected`].
const EXCERPT_CHARS: usize = 300;
const USER_AGENT: &str = concat!("orgform/", env!("CARGO_PKG_VERSION"));

/// What the server said to a request it accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A `2xx` with the emulator's JSON: what the server did (or, with
    /// `validateOnly: true`, would do).
    Reported(OrganizationResponse),
    /// A `2xx` with an empty or unknown body: success, counts not reported
    /// (the real API's answer body is undocumented).
    CountsNotReported {
        /// The HTTP status.
        status: u16,
    },
}

impl Answer {
    /// The counts, when the server reported them.
    pub fn counts(&self) -> Option<&OrganizationResponse> {
        match self {
            Answer::Reported(r) => Some(r),
            Answer::CountsNotReported { .. } => None,
        }
    }
}

/// A retry about to happen, for the observer set with
/// [`Client::with_retry_observer`]. `Display` gives the line the CLI prints:
/// `attempt 2 of 5 in 1.2s: server answered 503`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryEvent {
    /// The attempt about to be made (2 for the first retry).
    pub attempt: u32,
    /// The most attempts the policy allows (`max_retries + 1`).
    pub max_attempts: u32,
    /// The wait before it.
    pub delay: Duration,
    /// What went wrong with the previous attempt, in words.
    pub reason: String,
    /// Whether the previous attempt may have reached the server and been
    /// applied (it timed out, lost its connection, or got a `5xx` other than
    /// `503`); always false for a `validateOnly: true` request.
    pub may_have_applied: bool,
}

impl fmt::Display for RetryEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "attempt {} of {} in {}: {}",
            self.attempt,
            self.max_attempts,
            short_duration(self.delay),
            self.reason
        )
    }
}

type Observer = Arc<dyn Fn(&RetryEvent) + Send + Sync>;

/// The &frankly organization API client. Build it once, send many requests.
///
/// `Debug` shows the endpoint and settings, never the token.
pub struct Client {
    http: reqwest::Client,
    url: Url,
    token: Token,
    header_name: HeaderName,
    header_value: HeaderValue,
    request_timeout: Duration,
    retry: RetryPolicy,
    observer: Option<Observer>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.url.as_str())
            .field("token_header", &self.header_name.as_str())
            .field("token", &self.token)
            .field("request_timeout", &self.request_timeout)
            .field("retry", &self.retry)
            .field("observer", &self.observer.is_some())
            .finish_non_exhaustive()
    }
}

/// Headers the token must not replace: they frame the request itself.
const RESERVED_HEADERS: [&str; 7] = [
    "host",
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
    "accept",
    "user-agent",
];

impl Client {
    /// Checks the configuration and prepares the HTTP stack; connects to nothing.
    ///
    /// Refuses an endpoint that is not `https://`, except `http://` to a
    /// loopback host (`127.0.0.0/8`, `::1`, `localhost`), an endpoint with
    /// credentials in it (they would be printed in messages; the token has
    /// its own variable), a token header that is not a plain header name,
    /// and zero timeouts. Redirects are never followed (a redirect answer
    /// is an error naming its target: a `POST` must not silently become a
    /// `GET`, nor the token travel to another host). Proxies from the
    /// environment (`HTTPS_PROXY`…) apply to `https` endpoints only: a token
    /// for a loopback `http` endpoint never goes through a proxy in clear.
    ///
    /// Installs rustls's `ring` crypto provider as the process default if
    /// none is installed yet.
    pub fn new(config: ClientConfig) -> Result<Client, ClientError> {
        let url = check_endpoint(&config.endpoint)?;
        let header_name = HeaderName::from_bytes(config.token_header.as_bytes()).map_err(|_| {
            ClientError::InvalidConfig {
                reason: format!(
                    "`{}` is not a valid HTTP header name for the token",
                    config.token_header
                ),
            }
        })?;
        if RESERVED_HEADERS.contains(&header_name.as_str()) {
            return Err(ClientError::InvalidConfig {
                reason: format!(
                    "the token cannot go in the `{}` header: it frames the request itself",
                    config.token_header
                ),
            });
        }
        let mut header_value = HeaderValue::from_str(config.token.secret()).map_err(|_| {
            ClientError::MalformedToken {
                var: config.token.var().to_owned(),
            }
        })?;
        if config.token.secret().trim().is_empty() {
            return Err(ClientError::MissingToken {
                var: config.token.var().to_owned(),
            });
        }
        // hyper and reqwest print sensitive values as `Sensitive`, never the bytes.
        header_value.set_sensitive(true);
        for (name, value) in [
            ("connect timeout", config.connect_timeout),
            ("request timeout", config.request_timeout),
        ] {
            if value.is_zero() {
                return Err(ClientError::InvalidConfig {
                    reason: format!("the {name} is zero"),
                });
            }
        }

        install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT);
        if url.scheme() == "http" {
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(|e| ClientError::InvalidConfig {
            reason: format!("the HTTP stack failed to start: {}", innermost(&e)),
        })?;
        Ok(Client {
            http,
            url,
            token: config.token,
            header_name,
            header_value,
            request_timeout: config.request_timeout,
            retry: config.retry,
            observer: None,
        })
    }

    /// Calls `f` before every retry, with what went wrong and when the next
    /// attempt starts. The CLI prints it; a library never talks to the user.
    pub fn with_retry_observer(mut self, f: impl Fn(&RetryEvent) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(f));
        self
    }

    /// The endpoint requests go to.
    pub fn endpoint(&self) -> &str {
        self.url.as_str()
    }

    /// `POST`s `request` as JSON, the token raw in the configured header,
    /// and applies the answer rules:
    ///
    /// | answer | result |
    /// |---|---|
    /// | `2xx` with the emulator's JSON | [`Answer::Reported`] (a contradicting `validateOnly` echo is [`ClientError::ValidateOnlyMismatch`]) |
    /// | `2xx`, empty or other body | [`Answer::CountsNotReported`] |
    /// | `400`/`401`/`403` naming the token, or with an empty or non-JSON body; any `401`; a `403` without `errors` | [`ClientError::InvalidToken`] |
    /// | other `4xx` with `{"errors": [...]}` | [`ClientError::Rejected`] |
    /// | any other `3xx`/`4xx` | [`ClientError::Unexpected`] |
    /// | `5xx`, timeout, connection error | retried; then [`ClientError::ServerError`], [`ClientError::MaybeApplied`] or [`ClientError::NotSent`] |
    ///
    /// A failed TLS handshake (a bad certificate) is not retried: it will
    /// not fix itself. Needs a tokio runtime with time and IO enabled.
    pub async fn send(&self, request: &OrganizationRequest) -> Result<Answer, ClientError> {
        let body = serde_json::to_vec(request).map_err(|e| ClientError::NotSent {
            cause: format!("cannot encode the request: {e}"),
            attempts: 0,
        })?;
        let sent_validate_only = request.settings.validate_only.unwrap_or(true);
        let max_attempts = self.retry.max_retries.saturating_add(1);
        let start = Instant::now();
        // Whether some attempt so far may have been applied by the server.
        let mut maybe_reached = false;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let began = Instant::now();
            let outcome = self.attempt(body.clone(), sent_validate_only).await;
            let elapsed_ms = millis(began.elapsed());
            let transient = match outcome {
                Outcome::Done(status, result) => {
                    tracing::debug!(
                        endpoint = %self.url,
                        validate_only = sent_validate_only,
                        attempt,
                        max_attempts,
                        status,
                        elapsed_ms,
                        ok = result.is_ok(),
                        "organization request answered"
                    );
                    return result;
                }
                Outcome::Fatal(cause) => {
                    tracing::debug!(
                        endpoint = %self.url,
                        validate_only = sent_validate_only,
                        attempt,
                        max_attempts,
                        elapsed_ms,
                        outcome = "tls",
                        "organization request failed; not retried"
                    );
                    return Err(ClientError::NotSent {
                        cause,
                        attempts: attempt,
                    });
                }
                Outcome::Transient(t) => t,
            };
            tracing::debug!(
                endpoint = %self.url,
                validate_only = sent_validate_only,
                attempt,
                max_attempts,
                status = transient.failure.status(),
                outcome = transient.failure.kind(),
                elapsed_ms,
                "organization request failed"
            );
            let reached_now = transient.failure.may_have_applied();
            maybe_reached |= reached_now;

            let delay = self.retry.delay(attempt, random_unit()).max(
                transient
                    .retry_after
                    .unwrap_or_default()
                    .min(self.retry.max_backoff),
            );
            let in_budget = start.elapsed().saturating_add(delay) <= self.retry.budget;
            if attempt >= max_attempts || !in_budget {
                tracing::debug!(
                    attempt,
                    max_attempts,
                    out_of_time = !in_budget,
                    "no more retries"
                );
                return Err(transient.failure.into_error(
                    attempt,
                    maybe_reached,
                    self.request_timeout,
                    sent_validate_only,
                ));
            }
            let event = RetryEvent {
                attempt: attempt + 1,
                max_attempts,
                delay,
                reason: transient
                    .failure
                    .reason(self.request_timeout, sent_validate_only),
                may_have_applied: reached_now && !sent_validate_only,
            };
            tracing::debug!(
                next_attempt = event.attempt,
                delay_ms = millis(delay),
                "retrying the organization request"
            );
            if let Some(observer) = &self.observer {
                observer(&event);
            }
            tokio::time::sleep(delay).await;
        }
    }

    /// One attempt.
    async fn attempt(&self, body: Vec<u8>, sent_validate_only: bool) -> Outcome {
        let response = self
            .http
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .header(self.header_name.clone(), self.header_value.clone())
            .body(body)
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            Err(e) => return self.transport_failure(&e),
        };
        let status = response.status();
        let retry_after = retry_after(&response);
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(|l| self.token.redact(l));
        let body = read_capped(response).await;
        let code = status.as_u16();
        if status.is_server_error() {
            return Outcome::Transient(Transient {
                failure: Failure::Status(code),
                retry_after,
            });
        }
        let result = self.classify(status, body, location, sent_validate_only);
        Outcome::Done(code, result)
    }

    fn transport_failure(&self, e: &reqwest::Error) -> Outcome {
        let detail = self.token.redact(&innermost(e));
        if let Some(tls) = tls_error(e) {
            let cause = format!(
                "the TLS handshake failed: {}",
                self.token.redact(&tls.to_string())
            );
            return Outcome::Fatal(cause);
        }
        let failure = if e.is_connect() {
            Failure::Connect(detail)
        } else if e.is_timeout() {
            Failure::Timeout
        } else {
            Failure::Dropped(detail)
        };
        Outcome::Transient(Transient {
            failure,
            retry_after: None,
        })
    }

    /// The rules for an answer that is not a `5xx`.
    fn classify(
        &self,
        status: StatusCode,
        body: Body,
        location: Option<String>,
        sent_validate_only: bool,
    ) -> Result<Answer, ClientError> {
        let code = status.as_u16();
        if status.is_success() {
            let parsed = match body {
                Body::Complete(b) => {
                    serde_json::from_str::<OrganizationResponse>(&decode_body(&b)).ok()
                }
                Body::TooLarge | Body::Failed(_) => None,
            };
            return match parsed {
                Some(r) if r.validate_only != sent_validate_only => {
                    Err(ClientError::ValidateOnlyMismatch {
                        sent: sent_validate_only,
                        answered: r.validate_only,
                    })
                }
                Some(r) => Ok(Answer::Reported(r)),
                None => Ok(Answer::CountsNotReported { status: code }),
            };
        }
        if status.is_redirection() {
            let excerpt = match location {
                Some(l) => format!(
                    "redirected to `{l}`; not followed: set the endpoint to the API's address"
                ),
                None => "a redirect without a target".to_owned(),
            };
            return Err(ClientError::Unexpected {
                status: code,
                excerpt,
            });
        }
        let body = match body {
            Body::Complete(b) => b,
            Body::TooLarge => {
                return Err(ClientError::Unexpected {
                    status: code,
                    excerpt: format!(
                        "the answer was too large to read (over {} MiB); it was not read as a \
                         token error",
                        MAX_BODY >> 20
                    ),
                });
            }
            Body::Failed(reason) => {
                return Err(ClientError::Unexpected {
                    status: code,
                    excerpt: format!(
                        "(the body could not be read: {})",
                        self.token.redact(&reason)
                    ),
                });
            }
        };
        // UTF-16 and the like decoded first: every later look (JSON, the
        // word "token", the excerpt) sees the text a reader would.
        let text = decode_body(&body);
        drop(body);
        let token_status = matches!(code, 400 | 401 | 403);
        let invalid_token = Err(ClientError::InvalidToken { status: code });
        if token_status && text.trim().is_empty() {
            return invalid_token;
        }
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
            return if token_status {
                invalid_token
            } else {
                Err(self.unexpected(code, &text))
            };
        };
        let errors = serde_json::from_value::<ErrorResponse>(json)
            .ok()
            .map(|r| r.errors)
            .filter(|errors| !errors.is_empty());
        match errors {
            Some(errors) => {
                let names_token = errors.iter().any(|e| {
                    e.code == codes::API_TOKEN_VALIDATION
                        || mentions_token(&e.code)
                        || (e.external_id.is_none() && mentions_token(&e.message))
                });
                if (token_status && names_token) || code == 401 {
                    return invalid_token;
                }
                Err(ClientError::Rejected {
                    status: code,
                    errors: errors
                        .into_iter()
                        .map(|mut e| {
                            e.code = self.token.redact(&e.code);
                            e.message = self.token.redact(&e.message);
                            e.external_id = e.external_id.map(|id| self.token.redact(&id));
                            e.setting = e.setting.map(|s| self.token.redact(&s));
                            e
                        })
                        .collect(),
                })
            }
            None if code == 401 || code == 403 || (code == 400 && mentions_token(&text)) => {
                invalid_token
            }
            None => Err(self.unexpected(code, &text)),
        }
    }

    fn unexpected(&self, status: u16, body: &str) -> ClientError {
        let head: String = body.chars().take(EXCERPT_SOURCE_CHARS).collect();
        ClientError::Unexpected {
            status,
            excerpt: excerpt(&self.token.redact(&head)),
        }
    }
}

/// What one attempt came to.
enum Outcome {
    /// A final answer (success or a non-retryable error), with its status.
    Done(u16, Result<Answer, ClientError>),
    /// A failure before sending that retrying cannot fix (TLS), in words.
    Fatal(String),
    /// Worth retrying.
    Transient(Transient),
}

struct Transient {
    failure: Failure,
    retry_after: Option<Duration>,
}

/// A retryable failure of one attempt.
enum Failure {
    /// Could not connect: the request was never written.
    Connect(String),
    /// No complete answer within the request timeout.
    Timeout,
    /// The connection failed after the request was (perhaps partly) written.
    Dropped(String),
    /// A `5xx` answer.
    Status(u16),
}

impl Failure {
    fn may_have_applied(&self) -> bool {
        match self {
            Failure::Connect(_) => false,
            Failure::Timeout | Failure::Dropped(_) => true,
            Failure::Status(s) => *s != 503,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Failure::Connect(_) => "connect",
            Failure::Timeout => "timeout",
            Failure::Dropped(_) => "connection-closed",
            Failure::Status(_) => "server-error",
        }
    }

    fn status(&self) -> Option<u16> {
        match self {
            Failure::Status(s) => Some(*s),
            _ => None,
        }
    }

    /// What went wrong, for a retry line.
    fn reason(&self, timeout: Duration, validate_only: bool) -> String {
        let maybe = if validate_only {
            ""
        } else {
            " (the server may have applied it)"
        };
        match self {
            Failure::Connect(d) => format!("cannot connect: {d}"),
            Failure::Timeout => format!("no answer within {}{maybe}", short_duration(timeout)),
            Failure::Dropped(d) => {
                format!("the connection failed before an answer came: {d}{maybe}")
            }
            Failure::Status(s) => format!("server answered {s}"),
        }
    }

    /// The error once no retry is left; `maybe_reached` covers every
    /// attempt; a validate-only request can have applied nothing.
    fn into_error(
        self,
        attempts: u32,
        maybe_reached: bool,
        timeout: Duration,
        validate_only: bool,
    ) -> ClientError {
        match self {
            Failure::Status(status) => ClientError::ServerError {
                status,
                attempts,
                may_have_applied: maybe_reached && !validate_only,
            },
            Failure::Connect(d) if maybe_reached => ClientError::MaybeApplied {
                cause: format!(
                    "cannot connect: {d}, and an earlier attempt may have reached the server"
                ),
                attempts,
                validate_only,
            },
            Failure::Connect(d) => ClientError::NotSent {
                cause: format!("cannot connect: {d}"),
                attempts,
            },
            Failure::Timeout => ClientError::MaybeApplied {
                cause: format!(
                    "no answer within {} (the request timeout)",
                    short_duration(timeout)
                ),
                attempts,
                validate_only,
            },
            Failure::Dropped(d) => ClientError::MaybeApplied {
                cause: format!("the connection failed before an answer came: {d}"),
                attempts,
                validate_only,
            },
        }
    }
}

/// Installs rustls's `ring` provider unless one is installed already.
fn install_crypto_provider() {
    // Err means another provider (or this one) is installed: fine either way.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An answer body as read.
enum Body {
    /// All of it.
    Complete(Vec<u8>),
    /// More than [`MAX_BODY`] bytes: not read further.
    TooLarge,
    /// Reading failed, in words.
    Failed(String),
}

/// Reads the body, up to [`MAX_BODY`] bytes.
async fn read_capped(mut response: reqwest::Response) -> Body {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY as u64)
    {
        return Body::TooLarge;
    }
    let mut buf = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if buf.len() + chunk.len() > MAX_BODY {
                    return Body::TooLarge;
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => return Body::Complete(buf),
            Err(e) if e.is_timeout() => return Body::Failed("timed out".to_owned()),
            Err(e) => return Body::Failed(innermost(&e)),
        }
    }
}

/// A `Retry-After` given in seconds (an HTTP date is ignored).
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The error and its causes, outermost first. `io::Error::source` skips
/// the error an `io::Error` wraps, so this looks inside with `get_ref`.
fn causes<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |err| match err.downcast_ref::<std::io::Error>() {
        Some(io) => io
            .get_ref()
            .map(|inner| inner as &(dyn std::error::Error + 'static)),
        None => err.source(),
    })
}

/// The deepest cause's message: the OS or protocol error, without the URL
/// that reqwest's own message adds.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    causes(e).last().map(|c| c.to_string()).unwrap_or_default()
}

/// The rustls error somewhere in the chain (a certificate problem), if any.
fn tls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    causes(e).find_map(|c| c.downcast_ref::<rustls::Error>())
}

fn mentions_token(text: &str) -> bool {
    text.to_ascii_lowercase().contains("token")
}

/// The start of a (masked) body on one line: whitespace collapsed, control
/// characters dropped, at most [`EXCERPT_CHARS`] characters.
fn excerpt(body: &str) -> String {
    let words: Vec<&str> = body.split_whitespace().collect();
    let line: String = words
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    if line.chars().count() > EXCERPT_CHARS {
        let cut: String = line.chars().take(EXCERPT_CHARS).collect();
        format!("{cut}…")
    } else {
        line
    }
}

/// A random number in `[0, 1)` for jitter, from std's per-process random
/// hasher keys (no RNG crate needed for this).
fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher, RandomState};
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(Instant::now().elapsed().as_nanos());
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `40ms`, `1.2s`.
fn short_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_one_short_line() {
        assert_eq!(excerpt("  <h1>Not\n found</h1>\r\n"), "<h1>Not found</h1>");
        let long = "x".repeat(1000);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
        assert!(e.ends_with('…'));
    }

    #[test]
    fn random_units_vary_and_stay_in_range() {
        let draws: Vec<f64> = (0..50).map(|_| random_unit()).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)));
        let first = draws[0];
        assert!(draws.iter().any(|u| *u != first), "jitter must vary");
    }

    #[test]
    fn durations_read_short() {
        assert_eq!(short_duration(Duration::from_millis(40)), "40ms");
        assert_eq!(short_duration(Duration::from_millis(1234)), "1.2s");
    }
}
