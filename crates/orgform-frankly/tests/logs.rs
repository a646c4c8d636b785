//! With every `tracing` event and every `log` record captured at trace
//! level (reqwest logs through `log`, the client through `tracing`), a run
//! through success, retries, rejection and failures never logs the token,
//! a header value or a request body. One test: the subscriber and the
//! logger are process-wide.

#![allow(clippy::unwrap_used)] // test code

mod support;

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use orgform_frankly::{Client, ClientConfig};
use support::*;

static TRACING: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct TracingSink;

impl Write for TracingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        TRACING.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct LogSink;

impl log::Log for LogSink {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        LOG.lock().unwrap().push(format!(
            "{} {} {}",
            record.level(),
            record.target(),
            record.args()
        ));
    }
    fn flush(&self) {}
}

static LOGGER: LogSink = LogSink;

/// Sends one real request with `config`; it must fail.
async fn send_failing(config: ClientConfig) {
    Client::new(config)
        .unwrap()
        .send(&request(false))
        .await
        .unwrap_err();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_logged_at_trace_holds_the_token_headers_or_bodies() {
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(|| TracingSink)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();
    log::set_logger(&LOGGER).unwrap();
    log::set_max_level(log::LevelFilter::Trace);

    let server = Server::start(vec![
        Reply::new(503, ""),
        Reply::new(200, &counts_body(true)),
        Reply::new(
            400,
            r#"{"errors":[{"code":"unknownGroup","externalId":"E1","message":"x"}]}"#,
        ),
        Reply::new(401, ""),
    ])
    .await;
    let client = Client::new(fast_config(&server.url)).unwrap();
    client.send(&request(true)).await.unwrap();
    client.send(&request(true)).await.unwrap_err();
    client.send(&request(true)).await.unwrap_err();

    let (url, _) = drop_after_read().await;
    let mut config = fast_config(&url);
    config.retry.max_retries = 1;
    send_failing(config).await;

    let slow = Server::start(vec![Reply::new(200, "").delayed(Duration::from_secs(5))]).await;
    let mut config = fast_config(&slow.url);
    config.request_timeout = Duration::from_millis(50);
    config.retry.max_retries = 0;
    send_failing(config).await;

    let mut config = fast_config(&refused_url().await);
    config.retry.max_retries = 1;
    send_failing(config).await;

    let traced = String::from_utf8(TRACING.lock().unwrap().clone()).unwrap();
    let logged = LOG.lock().unwrap().join("\n");

    // The capture works: the client's per-attempt events, reqwest's records.
    assert!(traced.contains("organization request answered"), "{traced}");
    assert!(traced.contains("attempt=2"), "{traced}");
    assert!(traced.contains("status=503"), "{traced}");
    assert!(traced.contains("outcome=\"timeout\""), "{traced}");
    assert!(traced.contains("outcome=\"connection-closed\""), "{traced}");
    assert!(traced.contains("outcome=\"connect\""), "{traced}");
    assert!(traced.contains("elapsed_ms="), "{traced}");
    assert!(
        logged.contains("starting new connection"),
        "reqwest's log records are captured: {logged}"
    );

    for (name, text) in [("tracing", &traced), ("log", &logged)] {
        assert!(
            !text.contains(TOKEN),
            "{name} output holds the token:\n{text}"
        );
        assert!(
            !text.contains("ada@example.com"),
            "{name} output holds a request body:\n{text}"
        );
        assert!(
            !text.to_ascii_lowercase().contains("authorization:"),
            "{name} output holds a header:\n{text}"
        );
    }
}
