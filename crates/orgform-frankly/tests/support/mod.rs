//! Small local servers on 127.0.0.1 for the client tests: a scripted axum
//! server that answers from a list, and raw TCP servers that misbehave.

#![allow(dead_code)] // each test binary uses part of it
#![allow(clippy::unwrap_used)] // test scaffolding: a failure here is a failed test

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use orgform_frankly::wire::OrganizationRequest;
use orgform_frankly::{ClientConfig, ClientError, RetryPolicy, Token};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The token every test uses; no output may ever contain it.
pub const TOKEN: &str = "tok-7Hq2-SECRET-9xZ";

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(&'static str, String)>,
    pub delay: Duration,
}

impl Reply {
    pub fn new(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: body.to_owned(),
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Reply {
        self.headers.push((name, value.to_owned()));
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// The emulator's success body.
pub fn counts_body(validate_only: bool) -> String {
    format!(
        r#"{{"validateOnly":{validate_only},
            "users":{{"created":2,"updated":1,"deleted":0,"unchanged":5}},
            "groups":{{"created":1,"updated":0,"deleted":3,"unchanged":4}}}}"#
    )
}

/// A request the scripted server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Debug, Default)]
struct Script {
    replies: Vec<Reply>,
    seen: Vec<Seen>,
}

/// A scripted server: request `n` gets reply `n`; the last reply repeats.
#[derive(Debug, Clone)]
pub struct Server {
    pub url: String,
    script: Arc<Mutex<Script>>,
}

impl Server {
    pub async fn start(replies: Vec<Reply>) -> Server {
        assert!(!replies.is_empty());
        let script = Arc::new(Mutex::new(Script {
            replies,
            seen: Vec::new(),
        }));
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(script.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Server {
            url: format!("http://{addr}/v1/organization"),
            script,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.script.lock().unwrap().seen.clone()
    }

    pub fn hits(&self) -> usize {
        self.script.lock().unwrap().seen.len()
    }
}

async fn answer(
    State(script): State<Arc<Mutex<Script>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = {
        let mut s = script.lock().unwrap();
        s.seen.push(Seen { headers, body });
        let i = (s.seen.len() - 1).min(s.replies.len() - 1);
        s.replies[i].clone()
    };
    tokio::time::sleep(reply.delay).await;
    let mut response = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    for (name, value) in reply.headers {
        response
            .headers_mut()
            .insert(name, axum::http::HeaderValue::from_str(&value).unwrap());
    }
    response
}

/// Reads one HTTP/1.1 request (headers and a `Content-Length` body); returns it.
pub async fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.unwrap();
        if n == 0 {
            return buf;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return buf;
            }
        }
    }
}

/// A server that reads each whole request, then closes the connection
/// without answering. Returns its URL and the requests it read.
pub async fn drop_after_read() -> (String, Arc<Mutex<Vec<Vec<u8>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let request = read_request(&mut stream).await;
            seen.lock().unwrap().push(request);
            drop(stream);
        }
    });
    (format!("http://{addr}/v1/organization"), requests)
}

/// A server that writes `raw` bytes as soon as a connection opens, reads
/// nothing, then closes. Counts connections.
pub async fn raw_replier(raw: &'static [u8]) -> (std::net::SocketAddr, Arc<Mutex<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(Mutex::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            *seen.lock().unwrap() += 1;
            let _ = stream.write_all(raw).await;
            let _ = stream.shutdown().await;
        }
    });
    (addr, count)
}

/// A loopback address nothing listens on (bound, then released).
pub async fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/v1/organization")
}

/// Short budgets: tests finish in tens of milliseconds.
pub fn fast_config(url: &str) -> ClientConfig {
    let mut config = ClientConfig::new(url, Token::new(TOKEN.to_owned()));
    config.connect_timeout = Duration::from_millis(500);
    config.request_timeout = Duration::from_millis(500);
    config.retry = RetryPolicy {
        max_retries: 3,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        budget: Duration::from_secs(2),
    };
    config
}

/// A small request (validate only unless said otherwise).
pub fn request(validate_only: bool) -> OrganizationRequest {
    let mut request = OrganizationRequest::default();
    request.settings.validate_only = Some(validate_only);
    request.data.users = Some(vec![orgform_frankly::wire::WireUser {
        external_id: "E1".into(),
        first_name: "Ada".into(),
        last_name: "Example".into(),
        email: "ada@example.com".into(),
        ..Default::default()
    }]);
    request
}

/// Neither the error's `Display` nor its `Debug` holds the token.
pub fn assert_clean(err: &ClientError) {
    let text = format!("{err} / {err:?}");
    assert!(!text.contains(TOKEN), "token leaked: {text}");
}
