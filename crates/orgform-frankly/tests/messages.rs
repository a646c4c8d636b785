//! The words users read: every error variant and a retry line, snapshotted
//! for review, and checked for the token.

#![allow(clippy::unwrap_used)] // test code

mod support;

use std::time::Duration;

use orgform_frankly::wire::ApiError;
use orgform_frankly::{Client, ClientError, RetryEvent};
use support::*;

/// Ports the OS picked are hidden by the testkit's common filters.
fn snapshot(name: &str, text: &str) {
    orgform_testkit::assert_snapshot!("orgform-frankly", name, text);
}

/// One of every variant, with `may_have_applied` beside each.
fn every_variant() -> Vec<ClientError> {
    vec![
        ClientError::MissingToken {
            var: "FRANKLY_API_TOKEN".into(),
        },
        ClientError::MalformedToken {
            var: "FRANKLY_API_TOKEN".into(),
        },
        ClientError::MalformedToken { var: String::new() },
        ClientError::InvalidConfig {
            reason: "the request timeout is zero".into(),
        },
        ClientError::InsecureEndpoint {
            endpoint: "http://org.example.com/v1/organization".into(),
        },
        ClientError::InvalidEndpoint {
            endpoint: "org.example.com".into(),
            reason: "relative URL without a base".into(),
        },
        ClientError::InvalidToken { status: 401 },
        ClientError::Rejected {
            status: 400,
            errors: vec![ApiError {
                code: "validateThatPhoneNumberIsCorrect".into(),
                external_id: Some("E001084".into()),
                message: "phone `12` is not valid".into(),
                ..ApiError::default()
            }],
        },
        ClientError::Rejected {
            status: 400,
            errors: vec![
                ApiError {
                    code: "validateNoPhoneDuplicates".into(),
                    external_id: Some("E1".into()),
                    ..ApiError::default()
                },
                ApiError {
                    code: "limitExceeded".into(),
                    setting: Some("maxUsersDeleted".into()),
                    limit: Some(0),
                    requested: Some(3),
                    ..ApiError::default()
                },
            ],
        },
        ClientError::Unexpected {
            status: 404,
            excerpt: "<h1>Not Found</h1>".into(),
        },
        ClientError::Unexpected {
            status: 405,
            excerpt: String::new(),
        },
        ClientError::ValidateOnlyMismatch {
            sent: false,
            answered: true,
        },
        ClientError::ValidateOnlyMismatch {
            sent: true,
            answered: false,
        },
        ClientError::NotSent {
            cause: "cannot connect: Connection refused (os error 111)".into(),
            attempts: 5,
        },
        ClientError::MaybeApplied {
            cause: "no answer within 60.0s (the request timeout)".into(),
            attempts: 1,
            validate_only: false,
        },
        ClientError::MaybeApplied {
            cause: "no answer within 60.0s (the request timeout)".into(),
            attempts: 2,
            validate_only: true,
        },
        ClientError::ServerError {
            status: 503,
            attempts: 5,
            may_have_applied: false,
        },
        ClientError::ServerError {
            status: 502,
            attempts: 3,
            may_have_applied: true,
        },
    ]
}

#[test]
fn every_error_message() {
    let mut text = String::new();
    for err in every_variant() {
        assert_clean(&err);
        text.push_str(&format!(
            "[may_have_applied: {}]\n{err}\n\n",
            err.may_have_applied()
        ));
    }
    let event = RetryEvent {
        attempt: 2,
        max_attempts: 5,
        delay: Duration::from_millis(1234),
        reason: "server answered 503".into(),
        may_have_applied: false,
    };
    text.push_str(&format!("[retry line]\n{event}\n"));
    snapshot("error_messages", &text);
}

/// The messages real failures produce (Linux wording of OS errors).
#[tokio::test]
async fn messages_of_real_failures() {
    let mut text = String::new();
    let mut record = |what: &str, err: ClientError| {
        assert_clean(&err);
        text.push_str(&format!("[{what}]\n{err}\n\n"));
    };

    let mut config = fast_config(&refused_url().await);
    config.retry.max_retries = 1;
    record(
        "connection refused",
        Client::new(config)
            .unwrap()
            .send(&request(false))
            .await
            .unwrap_err(),
    );

    let (url, _) = drop_after_read().await;
    let mut config = fast_config(&url);
    config.retry.max_retries = 0;
    record(
        "dropped after the request was read",
        Client::new(config)
            .unwrap()
            .send(&request(false))
            .await
            .unwrap_err(),
    );

    let slow = Server::start(vec![Reply::new(200, "").delayed(Duration::from_secs(5))]).await;
    let mut config = fast_config(&slow.url);
    config.request_timeout = Duration::from_millis(40);
    config.retry.max_retries = 0;
    record(
        "timeout",
        Client::new(config)
            .unwrap()
            .send(&request(false))
            .await
            .unwrap_err(),
    );

    let (addr, _) = raw_replier(b"not tls at all").await;
    let config = fast_config(&format!("https://{addr}/v1/organization"));
    record(
        "tls handshake",
        Client::new(config)
            .unwrap()
            .send(&request(false))
            .await
            .unwrap_err(),
    );

    let server = Server::start(vec![
        Reply::new(302, "").header("location", "https://login.example.com/sso"),
    ])
    .await;
    record(
        "redirect",
        Client::new(fast_config(&server.url))
            .unwrap()
            .send(&request(false))
            .await
            .unwrap_err(),
    );

    snapshot("real_failures", &text);
}
