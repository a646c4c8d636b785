//! The client against small local servers on 127.0.0.1: the answer rules,
//! retries, timeouts, dropped connections, and the token's safety.

#![allow(clippy::unwrap_used)] // helpers below are test code too

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use orgform_frankly::wire::{ApiError, Counts};
use orgform_frankly::{Answer, Client, ClientConfig, ClientError, RetryEvent, RetryPolicy, Token};
use support::*;

fn client(config: ClientConfig) -> Client {
    Client::new(config).unwrap()
}

/// A client whose retry events are collected.
fn observed(config: ClientConfig) -> (Client, Arc<Mutex<Vec<RetryEvent>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let client = client(config).with_retry_observer(move |e| sink.lock().unwrap().push(e.clone()));
    (client, events)
}

async fn send_to(server: &Server) -> Result<Answer, ClientError> {
    client(fast_config(&server.url)).send(&request(true)).await
}

// ---- success -------------------------------------------------------------

#[tokio::test]
async fn counts_are_parsed_and_the_request_is_json() {
    let server = Server::start(vec![Reply::new(200, &counts_body(false))]).await;
    let answer = client(fast_config(&server.url))
        .send(&request(false))
        .await
        .unwrap();
    let Answer::Reported(r) = &answer else {
        panic!("{answer:?}")
    };
    assert!(!r.validate_only);
    assert_eq!(
        r.users,
        Counts {
            created: 2,
            updated: 1,
            deleted: 0,
            unchanged: 5
        }
    );
    assert_eq!(r.groups.deleted, 3);
    assert_eq!(answer.counts(), Some(r));

    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].headers["content-type"], "application/json");
    let sent: serde_json::Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(sent, serde_json::to_value(request(false)).unwrap());
    assert_eq!(sent["settings"]["validateOnly"], false, "always explicit");
}

#[tokio::test]
async fn the_token_is_sent_raw_in_the_authorization_header() {
    let server = Server::start(vec![Reply::new(200, "")]).await;
    send_to(&server).await.unwrap();
    let seen = server.seen();
    assert_eq!(seen[0].headers["authorization"], TOKEN, "raw, no `Bearer`");
}

#[tokio::test]
async fn the_token_header_is_configurable() {
    let server = Server::start(vec![Reply::new(200, "")]).await;
    let mut config = fast_config(&server.url);
    config.token_header = "X-Api-Key".into();
    client(config).send(&request(true)).await.unwrap();
    let seen = server.seen();
    assert_eq!(seen[0].headers["x-api-key"], TOKEN);
    assert!(seen[0].headers.get("authorization").is_none());
}

#[tokio::test]
async fn empty_and_unknown_2xx_bodies_are_success_without_counts() {
    let cases = [
        (200, ""),
        (204, ""),
        (200, "   \n"),
        (200, r#"{"ok": true}"#),
        (201, r#"{"users": {"created": 1}}"#),
        (200, "<html>done</html>"),
        (200, "[]"),
    ];
    for (status, body) in cases {
        let server = Server::start(vec![Reply::new(status, body)]).await;
        let answer = send_to(&server).await.unwrap();
        assert_eq!(
            answer,
            Answer::CountsNotReported { status },
            "{status} {body:?}"
        );
        assert_eq!(answer.counts(), None);
        assert_eq!(server.hits(), 1);
    }
}

#[tokio::test]
async fn a_contradicting_validate_only_echo_is_an_error() {
    // Sent validateOnly: false, the server says it only validated.
    let server = Server::start(vec![Reply::new(200, &counts_body(true))]).await;
    let err = client(fast_config(&server.url))
        .send(&request(false))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::ValidateOnlyMismatch {
                sent: false,
                answered: true
            }
        ),
        "{err:?}"
    );
    assert!(!err.may_have_applied());

    // Sent validateOnly: true, the server says it applied.
    let server = Server::start(vec![Reply::new(200, &counts_body(false))]).await;
    let err = send_to(&server).await.unwrap_err();
    assert!(err.may_have_applied(), "{err:?}");
    assert!(err.to_string().contains("may have APPLIED"), "{err}");
}

// ---- rejections ----------------------------------------------------------

#[tokio::test]
async fn a_400_with_errors_is_rejected_with_every_error_and_not_retried() {
    let body = r#"{"errors": [
        {"code": "validateNoPhoneDuplicates", "externalId": "E1", "message": "phone in use"},
        {"code": "limitExceeded", "message": "too many", "setting": "maxUsersDeleted",
         "limit": 0, "requested": 2}
    ]}"#;
    let server = Server::start(vec![Reply::new(400, body)]).await;
    let err = send_to(&server).await.unwrap_err();
    let ClientError::Rejected { status, errors } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 400);
    assert_eq!(
        errors[0],
        ApiError {
            code: "validateNoPhoneDuplicates".into(),
            external_id: Some("E1".into()),
            message: "phone in use".into(),
            ..ApiError::default()
        }
    );
    assert_eq!(errors[1].setting.as_deref(), Some("maxUsersDeleted"));
    assert_eq!(errors[1].limit, Some(0));
    assert_eq!(errors[1].requested, Some(2));
    assert_eq!(server.hits(), 1, "never retried");
    assert!(!err.may_have_applied());
    assert_eq!(
        err.to_string(),
        "the server rejected the request (HTTP 400): 2 errors: validateNoPhoneDuplicates for \
         `E1`, limitExceeded"
    );
}

#[tokio::test]
async fn a_record_error_that_happens_to_say_token_is_still_a_rejection() {
    let body = r#"{"errors": [{"code": "validateExternalProperties", "externalId": "E1",
                   "message": "attribute badgeToken is not defined"}]}"#;
    let server = Server::start(vec![Reply::new(400, body)]).await;
    let err = send_to(&server).await.unwrap_err();
    assert!(matches!(err, ClientError::Rejected { .. }), "{err:?}");
}

#[tokio::test]
async fn every_token_refusal_shape_is_invalid_token() {
    let cases = [
        (
            400,
            r#"{"errors":[{"code":"apiTokenValidation","message":"bad"}]}"#,
        ),
        (
            400,
            r#"{"errors":[{"code":"unauthorized","message":"Invalid API token"}]}"#,
        ),
        (400, r#"{"message": "missing token"}"#),
        (400, ""),
        (400, "Bad Request"),
        (401, ""),
        (401, r#"{"errors":[{"code":"denied","message":"no"}]}"#),
        (401, r#"{"message":"Unauthorized"}"#),
        (403, "<html><body>Forbidden</body></html>"),
        (403, r#"{"message":"Forbidden"}"#),
        (
            403,
            r#"{"errors":[{"code":"apiTokenValidation","message":"IP not allowed"}]}"#,
        ),
    ];
    for (status, body) in cases {
        let server = Server::start(vec![Reply::new(status, body)]).await;
        let err = send_to(&server).await.unwrap_err();
        assert!(
            matches!(err, ClientError::InvalidToken { status: s } if s == status),
            "{status} {body:?}: {err:?}"
        );
        assert!(
            err.to_string()
                .contains("invalid token or sending IP not allowed"),
            "{err}"
        );
        assert_eq!(server.hits(), 1, "{status} {body:?}: never retried");
        assert!(!err.may_have_applied());
        assert_clean(&err);
    }
}

#[tokio::test]
async fn a_403_that_explains_itself_without_the_token_is_a_rejection() {
    let body = r#"{"errors":[{"code":"accountSuspended","message":"contact support"}]}"#;
    let server = Server::start(vec![Reply::new(403, body)]).await;
    let err = send_to(&server).await.unwrap_err();
    assert!(
        matches!(err, ClientError::Rejected { status: 403, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn other_4xx_are_not_retried() {
    let cases = [
        (404, "<h1>Not Found</h1>", "unexpected"),
        (405, "", "unexpected"),
        (429, "slow down", "unexpected"),
        (400, r#"{"message": "bad shape"}"#, "unexpected"),
        (
            409,
            r#"{"errors":[{"code":"conflict","message":"busy"}]}"#,
            "rejected",
        ),
        (422, r#"{"errors":[]}"#, "unexpected"),
    ];
    for (status, body, want) in cases {
        let server = Server::start(vec![Reply::new(status, body)]).await;
        let err = send_to(&server).await.unwrap_err();
        let got = match &err {
            ClientError::Unexpected { status: s, .. } if *s == status => "unexpected",
            ClientError::Rejected { status: s, .. } if *s == status => "rejected",
            _ => "other",
        };
        assert_eq!(got, want, "{status} {body:?}: {err:?}");
        assert_eq!(server.hits(), 1, "{status}: never retried");
        assert!(!err.may_have_applied());
    }
    let server = Server::start(vec![Reply::new(404, "<h1>Not\n  Found</h1>")]).await;
    let err = send_to(&server).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "unexpected answer from the server (HTTP 404): <h1>Not Found</h1>"
    );
}

#[tokio::test]
async fn redirects_are_not_followed_and_the_token_stays_home() {
    let elsewhere = Server::start(vec![Reply::new(200, "")]).await;
    let server = Server::start(vec![Reply::new(307, "").header("location", &elsewhere.url)]).await;
    let err = send_to(&server).await.unwrap_err();
    let ClientError::Unexpected { status, excerpt } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 307);
    assert!(excerpt.contains(&elsewhere.url), "{excerpt}");
    assert_eq!(elsewhere.hits(), 0);
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn a_server_echoing_the_token_has_it_redacted() {
    let echo =
        format!(r#"{{"errors":[{{"code":"weird","externalId":"E1","message":"got {TOKEN}"}}]}}"#);
    let server = Server::start(vec![Reply::new(409, &echo)]).await;
    let err = send_to(&server).await.unwrap_err();
    let ClientError::Rejected { errors, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(errors[0].message, "got <redacted>");
    assert_clean(&err);

    let body = format!("header was Authorization: {TOKEN}");
    let server = Server::start(vec![Reply::new(404, &body)]).await;
    let err = send_to(&server).await.unwrap_err();
    assert!(
        err.to_string().contains("Authorization: <redacted>"),
        "{err}"
    );
    assert_clean(&err);
}

// ---- retries -------------------------------------------------------------

#[tokio::test]
async fn two_503s_then_success_retries_twice() {
    let server = Server::start(vec![
        Reply::new(503, "busy"),
        Reply::new(503, ""),
        Reply::new(200, &counts_body(true)),
    ])
    .await;
    let (client, events) = observed(fast_config(&server.url));
    let answer = client.send(&request(true)).await.unwrap();
    assert!(matches!(answer, Answer::Reported(_)), "{answer:?}");
    assert_eq!(server.hits(), 3);
    let events = events.lock().unwrap();
    assert_eq!(events.len(), 2, "observer called once per retry");
    assert_eq!((events[0].attempt, events[0].max_attempts), (2, 4));
    assert_eq!(events[1].attempt, 3);
    assert_eq!(events[0].reason, "server answered 503");
    assert!(!events[0].may_have_applied);
    // First retry: 5ms before jitter, so between 2.5ms and 5ms.
    assert!(
        events[0].delay <= Duration::from_millis(5),
        "{:?}",
        events[0].delay
    );
    assert!(
        events[0].to_string().starts_with("attempt 2 of 4 in "),
        "{}",
        events[0]
    );
    assert!(
        events[0].to_string().ends_with("ms: server answered 503"),
        "{}",
        events[0]
    );
    // The same request every time.
    let seen = server.seen();
    assert!(seen.windows(2).all(|w| w[0].body == w[1].body));
}

#[tokio::test]
async fn a_503_storm_longer_than_the_budget_fails_cleanly_and_quickly() {
    let server = Server::start(vec![Reply::new(503, "")]).await;
    let mut config = fast_config(&server.url);
    config.retry = RetryPolicy {
        max_retries: 1000,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        budget: Duration::from_millis(80),
    };
    let err = client(config).send(&request(false)).await.unwrap_err();
    let ClientError::ServerError {
        status,
        attempts,
        may_have_applied,
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(status, 503);
    assert!(!may_have_applied, "a 503 turns the request away");
    assert!(attempts >= 3, "{attempts} attempts");
    assert_eq!(attempts as usize, server.hits());
    // The budget stopped it, not the count: each retry waits at least 5 ms
    // of an 80 ms budget (a bound on work, not a wall-clock claim).
    assert!(attempts < 40, "{attempts} attempts");
}

#[tokio::test]
async fn retries_stop_at_the_count() {
    let server = Server::start(vec![Reply::new(503, "")]).await;
    let mut config = fast_config(&server.url);
    config.retry.max_retries = 2;
    let (client, events) = observed(config);
    let err = client.send(&request(true)).await.unwrap_err();
    assert!(
        matches!(err, ClientError::ServerError { attempts: 3, .. }),
        "{err:?}"
    );
    assert_eq!(server.hits(), 3);
    assert_eq!(events.lock().unwrap().len(), 2);
    assert_eq!(
        err.to_string(),
        "the server answered HTTP 503 (3 attempts, retries exhausted); nothing was applied"
    );

    let server = Server::start(vec![Reply::new(503, "")]).await;
    let mut config = fast_config(&server.url);
    config.retry = RetryPolicy::none();
    let err = client_send(config).await.unwrap_err();
    assert!(
        matches!(err, ClientError::ServerError { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(server.hits(), 1);
}

async fn client_send(config: ClientConfig) -> Result<Answer, ClientError> {
    client(config).send(&request(true)).await
}

#[tokio::test]
async fn a_500_storm_may_have_applied() {
    let server = Server::start(vec![Reply::new(500, "oops"), Reply::new(502, "")]).await;
    let mut config = fast_config(&server.url);
    config.retry.max_retries = 1;
    let err = client_send_false(config.clone()).await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::ServerError {
                status: 502,
                attempts: 2,
                may_have_applied: true
            }
        ),
        "{err:?}"
    );
    assert!(err.may_have_applied());
}

#[tokio::test]
async fn a_validate_only_request_can_have_applied_nothing() {
    let server = Server::start(vec![Reply::new(500, "oops"), Reply::new(502, "")]).await;
    let mut config = fast_config(&server.url);
    config.retry.max_retries = 1;
    let err = client_send(config).await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::ServerError {
                status: 502,
                may_have_applied: false,
                ..
            }
        ),
        "{err:?}"
    );

    let server = Server::start(vec![Reply::new(200, "").delayed(Duration::from_secs(5))]).await;
    let mut config = fast_config(&server.url);
    config.request_timeout = Duration::from_millis(40);
    config.retry.max_retries = 1;
    let (client, events) = observed(config);
    let err = client.send(&request(true)).await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::MaybeApplied {
                validate_only: true,
                attempts: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.may_have_applied());
    assert!(err.to_string().ends_with("so nothing was applied"), "{err}");
    let events = events.lock().unwrap();
    assert!(!events[0].may_have_applied);
    assert_eq!(events[0].reason, "no answer within 40ms");
}

#[tokio::test]
async fn retry_after_is_honoured_up_to_the_longest_backoff() {
    let server = Server::start(vec![
        Reply::new(503, "").header("retry-after", "30"),
        Reply::new(200, ""),
    ])
    .await;
    let (client, events) = observed(fast_config(&server.url));
    client.send(&request(true)).await.unwrap();
    let events = events.lock().unwrap();
    // Jitter alone gives at most 5ms; Retry-After (30s) is capped at max_backoff (20ms).
    assert_eq!(events[0].delay, Duration::from_millis(20));
}

// ---- no answer -----------------------------------------------------------

#[tokio::test]
async fn latency_beyond_the_request_timeout_may_have_applied() {
    let server = Server::start(vec![Reply::new(200, "").delayed(Duration::from_secs(5))]).await;
    let mut config = fast_config(&server.url);
    config.request_timeout = Duration::from_millis(60);
    config.retry.max_retries = 1;
    let (client, events) = observed(config);
    // Two attempts that both timed out: the 5 s reply never came in time.
    let err = client.send(&request(false)).await.unwrap_err();
    assert!(
        matches!(err, ClientError::MaybeApplied { attempts: 2, .. }),
        "{err:?}"
    );
    assert!(err.may_have_applied());
    assert_eq!(server.hits(), 2);
    let events = events.lock().unwrap();
    assert!(events[0].may_have_applied);
    assert_eq!(
        events[0].reason,
        "no answer within 60ms (the server may have applied it)"
    );
    assert!(err.to_string().contains("MAY HAVE APPLIED"), "{err}");
    assert_clean(&err);
}

#[tokio::test]
async fn a_timeout_then_success_is_success() {
    let server = Server::start(vec![
        Reply::new(200, "").delayed(Duration::from_secs(5)),
        Reply::new(200, &counts_body(false)),
    ])
    .await;
    let mut config = fast_config(&server.url);
    config.request_timeout = Duration::from_millis(60);
    let answer = client_send_false(config).await.unwrap();
    assert!(matches!(answer, Answer::Reported(_)));
    assert_eq!(server.hits(), 2);
}

async fn client_send_false(config: ClientConfig) -> Result<Answer, ClientError> {
    client(config).send(&request(false)).await
}

#[tokio::test]
async fn a_connection_dropped_after_the_request_was_read_may_have_applied() {
    let (url, requests) = drop_after_read().await;
    let mut config = fast_config(&url);
    config.retry.max_retries = 2;
    let (client, events) = observed(config);
    let err = client.send(&request(false)).await.unwrap_err();
    let ClientError::MaybeApplied {
        attempts,
        cause,
        validate_only: false,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*attempts, 3);
    assert!(
        cause.starts_with("the connection failed before an answer came"),
        "{cause}"
    );
    let requests = requests.lock().unwrap();
    assert_eq!(requests.len(), 3, "each attempt reached the server");
    let whole = String::from_utf8_lossy(&requests[0]);
    let body = whole
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    let sent: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        sent,
        serde_json::to_value(request(false)).unwrap(),
        "the whole body was read"
    );
    assert!(events.lock().unwrap().iter().all(|e| e.may_have_applied));
    assert_clean(&err);
}

#[tokio::test]
async fn connection_refused_is_not_sent_after_retrying() {
    let url = refused_url().await;
    let (client, events) = observed(fast_config(&url));
    let err = client.send(&request(false)).await.unwrap_err();
    let ClientError::NotSent { attempts, cause } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*attempts, 4, "connection errors are retried");
    assert!(cause.starts_with("cannot connect: "), "{cause}");
    assert!(!err.may_have_applied());
    let events = events.lock().unwrap();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| !e.may_have_applied));
    assert!(err.to_string().contains("nothing was applied"), "{err}");
}

#[tokio::test]
async fn refused_after_an_unanswered_attempt_may_have_applied() {
    // The first connection reads the request and hangs; then the server is gone.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/organization", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        drop(listener);
        read_request(&mut stream).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    let mut config = fast_config(&url);
    config.request_timeout = Duration::from_millis(60);
    config.retry.max_retries = 1;
    let err = client_send_false(config).await.unwrap_err();
    let ClientError::MaybeApplied {
        attempts: 2,
        cause,
        validate_only: false,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(
        cause.contains("an earlier attempt may have reached the server"),
        "{cause}"
    );
}

#[tokio::test]
async fn a_failed_tls_handshake_is_not_sent_and_not_retried() {
    let (addr, connections) = raw_replier(b"HTTP/1.1 400 Bad Request\r\n\r\nthis is not TLS").await;
    let url = format!("https://{addr}/v1/organization");
    let err = client_send(fast_config(&url)).await.unwrap_err();
    let ClientError::NotSent { attempts, cause } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*attempts, 1, "a TLS failure will not fix itself");
    assert!(cause.starts_with("the TLS handshake failed"), "{cause}");
    assert_eq!(*connections.lock().unwrap(), 1);
}

// ---- configuration -------------------------------------------------------

fn new_client(endpoint: &str) -> Result<Client, ClientError> {
    Client::new(ClientConfig::new(endpoint, Token::new(TOKEN.to_owned())))
}

#[tokio::test]
async fn plain_http_is_refused_unless_loopback() {
    for endpoint in [
        "http://example.com/v1/organization",
        "http://10.1.2.3:8080/v1/organization",
        "http://[2001:db8::1]/v1/organization",
        "http://localhost.example.com/v1/organization",
    ] {
        let err = new_client(endpoint).unwrap_err();
        assert!(
            matches!(&err, ClientError::InsecureEndpoint { endpoint: e } if e == endpoint),
            "{endpoint}: {err:?}"
        );
        assert_clean(&err);
    }
    for endpoint in [
        "http://127.0.0.1:9/v1/organization",
        "http://127.1.2.3/v1/organization",
        "http://[::1]:9/v1/organization",
        "http://localhost:9/v1/organization",
        "https://org.example.com/v1/organization",
        orgform_frankly::DEFAULT_ENDPOINT,
    ] {
        let client = new_client(endpoint).unwrap();
        assert_eq!(client.endpoint(), endpoint);
    }
}

#[test]
fn bad_endpoints_are_refused_without_echoing_credentials() {
    for (endpoint, want) in [
        ("not a url", "invalid endpoint `not a url`"),
        ("ftp://example.com/x", "the scheme `ftp` is not supported"),
        (
            "https://user:hunter2@example.com/v1",
            "credentials in the URL",
        ),
    ] {
        let err = new_client(endpoint).unwrap_err();
        assert!(
            matches!(err, ClientError::InvalidEndpoint { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains(want), "{err}");
        assert!(!format!("{err} {err:?}").contains("hunter2"), "{err}");
    }
}

#[test]
fn bad_settings_are_refused() {
    let url = "http://127.0.0.1:9/v1/organization";
    let mut config = ClientConfig::new(url, Token::new(TOKEN.to_owned()));
    config.token_header = "Not A Header".into();
    let err = Client::new(config.clone()).unwrap_err();
    assert!(
        err.to_string()
            .contains("`Not A Header` is not a valid HTTP header name"),
        "{err}"
    );
    config.token_header = "Content-Type".into();
    assert!(Client::new(config.clone()).is_err());
    config.token_header = "Authorization".into();
    config.request_timeout = Duration::ZERO;
    let err = Client::new(config.clone()).unwrap_err();
    assert!(
        err.to_string().contains("the request timeout is zero"),
        "{err}"
    );

    let err = Client::new(ClientConfig::new(url, Token::new("a\nb".into()))).unwrap_err();
    assert!(matches!(err, ClientError::MalformedToken { .. }), "{err:?}");
    let err = Client::new(ClientConfig::new(url, Token::new(" ".into()))).unwrap_err();
    assert!(matches!(err, ClientError::MissingToken { .. }), "{err:?}");
}

#[test]
fn debug_output_never_holds_the_token() {
    let config = fast_config("http://127.0.0.1:9/v1/organization");
    let client = Client::new(config.clone()).unwrap();
    let texts = [
        format!("{:?}", config.token),
        format!("{}", config.token),
        format!("{config:?}"),
        format!("{client:?}"),
    ];
    for text in &texts {
        assert!(!text.contains(TOKEN), "{text}");
    }
    assert!(texts[2].contains("<redacted>"), "{}", texts[2]);
    assert!(texts[3].contains("127.0.0.1:9"), "{}", texts[3]);
}

#[test]
fn the_ring_provider_is_installed_once_and_a_second_client_is_fine() {
    let a = new_client("https://org.example.com/v1/organization");
    let b = new_client("https://org.example.com/v1/organization");
    assert!(a.is_ok() && b.is_ok());
    assert!(rustls::crypto::CryptoProvider::get_default().is_some());
}
