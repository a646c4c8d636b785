//! HTTP on top of the engine: hyper 1 directly (not a framework), because
//! one fault needs to close a connection without answering, which a hyper
//! service does by returning an error.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use orgform_frankly::wire::{ApiError, ErrorResponse};
use serde::Serialize;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::codes;
use crate::engine::{self, Account, Managed};
use crate::faults::{Faults, FaultsBody};
use crate::store;

/// The API's path (the real API's is the same).
pub(crate) const API_PATH: &str = "/v1/organization";
/// The emulator-only faults endpoint.
pub(crate) const FAULTS_PATH: &str = "/_sim/faults";
/// Larger bodies are refused (20 000 users fit comfortably).
const MAX_BODY: usize = 512 * 1024 * 1024;
/// The longest string (in bytes, as sent) a request may hold: a real
/// field is a few hundred bytes at most.
const MAX_STRING: usize = 64 * 1024;
/// Connections served at once; further ones wait in the listen backlog
/// until one closes (an idle or half-open one within [`HEADER_TIMEOUT`]).
const MAX_CONNECTIONS: usize = 512;
/// A connection that does not send a complete request head within this is
/// closed (also an idle keep-alive connection).
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Everything the connections share.
pub(crate) struct Shared {
    pub token: String,
    pub account: Account,
    /// The managed records; one request at a time holds the lock from
    /// reading to committing, so concurrent requests are serialized.
    pub state: tokio::sync::Mutex<Managed>,
    pub faults: std::sync::Mutex<Faults>,
    pub data_file: Option<PathBuf>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("token", &"<redacted>")
            .field("data_file", &self.data_file)
            .finish_non_exhaustive()
    }
}

type Resp = Response<Full<Bytes>>;

/// Returned by the service to make hyper close the connection unanswered.
#[derive(Debug)]
struct DropConnection;

impl fmt::Display for DropConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("fault injected: connection dropped after commit")
    }
}

impl std::error::Error for DropConnection {}

/// Accepts connections until `shutdown` completes, then waits (up to a
/// grace period) for requests in flight.
pub(crate) async fn run(
    shared: Arc<Shared>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        // At the cap, stop accepting until a connection closes.
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let shared = Arc::clone(&shared);
                    let service = service_fn(move |req| handle(Arc::clone(&shared), req));
                    let conn = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_TIMEOUT)
                        .serve_connection(TokioIo::new(stream), service);
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!("connection closed: {e}");
                        }
                        drop(slot);
                    });
                }
                Err(e) => {
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("requests still running after {SHUTDOWN_GRACE:?}; stopping anyway");
        }
    }
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Resp, DropConnection> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = match (&method, path.as_str()) {
        (&Method::POST, API_PATH) => return api(shared, req).await,
        (&Method::GET, API_PATH) => match authorize(&shared, &req) {
            Ok(()) => read_view(&shared).await,
            Err(message) => token_refused(message),
        },
        (&Method::GET | &Method::POST, FAULTS_PATH) => match authorize(&shared, &req) {
            Ok(()) => faults_endpoint(&shared, req).await,
            Err(message) => token_refused(message),
        },
        (_, API_PATH | FAULTS_PATH) => {
            let mut resp = errors(
                StatusCode::METHOD_NOT_ALLOWED,
                vec![simple(
                    codes::METHOD_NOT_ALLOWED,
                    format!("`{method}` is not allowed on `{path}` (GET or POST)"),
                )],
            );
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
            resp
        }
        _ => errors(
            StatusCode::NOT_FOUND,
            vec![simple(
                codes::NOT_FOUND,
                format!("nothing at `{path}`; the API is POST {API_PATH}"),
            )],
        ),
    };
    tracing::info!("{method} {path} -> {}", response.status().as_u16());
    Ok(response)
}

/// `POST /v1/organization`: token, faults, body, then the engine. The
/// token comes first, so a request with a wrong one consumes no fault.
async fn api(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Resp, DropConnection> {
    if let Err(message) = authorize(&shared, &req) {
        tracing::info!("POST {API_PATH} -> 400 (token refused)");
        return Ok(token_refused(message));
    }
    let latency = lock_faults(&shared).latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    {
        let mut faults = lock_faults(&shared);
        if faults.fail_next > 0 {
            faults.fail_next -= 1;
            tracing::info!("POST {API_PATH} -> 503 (fault injected)");
            return Ok(errors(
                StatusCode::SERVICE_UNAVAILABLE,
                vec![simple(
                    codes::SERVICE_UNAVAILABLE,
                    "fault injected: service unavailable; nothing was changed".to_owned(),
                )],
            ));
        }
    }
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return Ok(errors(
                StatusCode::BAD_REQUEST,
                vec![simple(
                    codes::INVALID_REQUEST,
                    format!("cannot read the body: {e}"),
                )],
            ));
        }
    };
    if let Some(len) = string_over(&body, MAX_STRING) {
        return Ok(errors(
            StatusCode::BAD_REQUEST,
            vec![simple(
                codes::INVALID_REQUEST,
                format!(
                    "a string in the request is {len} bytes or more; the longest allowed is \
                     {MAX_STRING} bytes"
                ),
            )],
        ));
    }
    // The critical section runs in its own task, so a client that goes away
    // cannot cancel it between writing the data file and swapping the state.
    let task = tokio::spawn(async move { commit(&shared, &body).await });
    let (response, drop_connection) = match task.await {
        Ok(r) => r,
        Err(e) => (
            errors(
                StatusCode::INTERNAL_SERVER_ERROR,
                vec![simple(
                    codes::INTERNAL_ERROR,
                    format!("the request failed inside the emulator: {e}"),
                )],
            ),
            false,
        ),
    };
    if drop_connection {
        tracing::info!("POST {API_PATH} -> committed, connection dropped (fault injected)");
        return Err(DropConnection);
    }
    tracing::info!("POST {API_PATH} -> {}", response.status().as_u16());
    Ok(response)
}

/// Runs the engine under the state lock; stores the result of an accepted
/// real request (data file first, then memory). Returns the answer and
/// whether to drop the connection instead of sending it.
async fn commit(shared: &Shared, body: &[u8]) -> (Resp, bool) {
    let mut state = shared.state.lock().await;
    let outcome = match engine::process(&shared.account, &state, body) {
        Ok(o) => o,
        Err(errs) => return (errors(StatusCode::BAD_REQUEST, errs), false),
    };
    if outcome.response.validate_only {
        return (json(StatusCode::OK, &outcome.response), false);
    }
    if let Some(path) = &shared.data_file {
        let bytes = store::encode(&outcome.next);
        let path = path.clone();
        let written =
            tokio::task::spawn_blocking(move || store::write_atomically(&path, &bytes)).await;
        let failure = match written {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(message) = failure {
            tracing::error!("{message}");
            return (
                errors(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    vec![simple(
                        codes::INTERNAL_ERROR,
                        format!("{message}; nothing was changed"),
                    )],
                ),
                false,
            );
        }
    }
    *state = outcome.next;
    drop(state);
    let drop_connection = {
        let mut faults = lock_faults(shared);
        let hit = faults.drop_after_commit_next > 0;
        if hit {
            faults.drop_after_commit_next -= 1;
        }
        hit
    };
    (json(StatusCode::OK, &outcome.response), drop_connection)
}

fn lock_faults(shared: &Shared) -> std::sync::MutexGuard<'_, Faults> {
    shared.faults.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The token is read raw from `Authorization` and must match exactly.
/// `Err` holds the refusal's message.
fn authorize<B>(shared: &Shared, req: &Request<B>) -> Result<(), &'static str> {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    match given {
        Some(given) if constant_time_eq(given, shared.token.as_bytes()) => Ok(()),
        Some(_) => Err("the API token is not valid"),
        None => Err("no API token: send it raw in the `Authorization` header"),
    }
}

fn token_refused(message: &str) -> Resp {
    errors(
        StatusCode::BAD_REQUEST,
        vec![simple(codes::API_TOKEN_VALIDATION, message.to_owned())],
    )
}

/// Compares without stopping at the first difference (the length leaks).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `GET /v1/organization` (emulator-only).
async fn read_view(shared: &Shared) -> Resp {
    let state = shared.state.lock().await;
    let view = view(&shared.account, &state);
    drop(state);
    json(StatusCode::OK, &view)
}

/// Every user and group, managed or manual, in the effective form with a
/// `managed` flag; sorted by externalId (manual users without one last,
/// by email).
pub(crate) fn view(account: &Account, managed: &Managed) -> Value {
    fn record<T: Serialize>(r: &T, is_managed: bool) -> Value {
        let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut v {
            map.insert("managed".to_owned(), Value::Bool(is_managed));
        }
        v
    }
    fn key(v: &Value) -> (bool, String, String) {
        let id = v.get("externalId").and_then(Value::as_str);
        let email = v.get("email").and_then(Value::as_str).unwrap_or_default();
        (
            id.is_none(),
            id.unwrap_or_default().to_owned(),
            email.to_lowercase(),
        )
    }
    let mut users: Vec<Value> = managed.users.values().map(|u| record(u, true)).collect();
    users.extend(account.fixture.users.iter().map(|u| record(u, false)));
    users.sort_by_key(key);
    let mut groups: Vec<Value> = managed.groups.values().map(|g| record(g, true)).collect();
    groups.extend(account.fixture.groups.iter().map(|g| record(g, false)));
    groups.sort_by_key(key);
    serde_json::json!({
        "defaults": account.fixture.defaults,
        "groups": groups,
        "users": users,
    })
}

/// `GET|POST /_sim/faults` (emulator-only).
async fn faults_endpoint(shared: &Shared, req: Request<Incoming>) -> Resp {
    if req.method() == Method::POST {
        let body = match Limited::new(req.into_body(), 64 * 1024).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                return errors(
                    StatusCode::BAD_REQUEST,
                    vec![simple(
                        codes::INVALID_REQUEST,
                        format!("cannot read the body: {e}"),
                    )],
                );
            }
        };
        let update: FaultsBody = match serde_json::from_slice(&body) {
            Ok(u) => u,
            Err(e) => {
                return errors(
                    StatusCode::BAD_REQUEST,
                    vec![simple(
                        codes::INVALID_REQUEST,
                        format!(
                            "expected {{\"latencyMs\": n, \"failNext\": n, \"dropAfterCommitNext\": n}} (each optional): {e}"
                        ),
                    )],
                );
            }
        };
        if let Err(message) = update.apply_to(&mut lock_faults(shared)) {
            return errors(
                StatusCode::BAD_REQUEST,
                vec![simple(codes::INVALID_REQUEST, message)],
            );
        }
    }
    let now = FaultsBody::of(&lock_faults(shared));
    json(StatusCode::OK, &now)
}

/// The length reached by the first JSON string longer than `cap` bytes (as
/// sent, escapes included), if any: one pass over the bytes, before any
/// parsing allocates it.
fn string_over(body: &[u8], cap: usize) -> Option<usize> {
    let mut in_string = false;
    let mut escaped = false;
    let mut len = 0usize;
    for &b in body {
        if !in_string {
            if b == b'"' {
                in_string = true;
                len = 0;
            }
            continue;
        }
        if escaped {
            escaped = false;
        } else if b == b'\\' {
            escaped = true;
        } else if b == b'"' {
            in_string = false;
            continue;
        }
        len += 1;
        if len > cap {
            return Some(len);
        }
    }
    None
}

fn simple(code: &str, message: String) -> ApiError {
    ApiError {
        code: code.to_owned(),
        message,
        ..ApiError::default()
    }
}

fn errors(status: StatusCode, errors: Vec<ApiError>) -> Resp {
    json(status, &ErrorResponse { errors })
}

fn json<T: Serialize>(status: StatusCode, body: &T) -> Resp {
    let mut bytes = serde_json::to_vec(body).unwrap_or_default();
    bytes.push(b'\n');
    let mut resp = Response::new(Full::new(Bytes::from(bytes)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_string_is_found_escapes_included() {
        assert_eq!(string_over(br#"{"a": "12345"}"#, 5), None);
        assert_eq!(string_over(br#"{"a": "123456"}"#, 5), Some(6));
        assert_eq!(string_over(br#"{"a": "1\"2", "b": "x"}"#, 5), None);
        assert_eq!(string_over(br#"{"abcdef": 1}"#, 5), Some(6));
        let long = format!("{{\"externalId\": \"{}\"}}", "x".repeat(10 << 20));
        assert_eq!(
            string_over(long.as_bytes(), MAX_STRING),
            Some(MAX_STRING + 1)
        );
    }
}
