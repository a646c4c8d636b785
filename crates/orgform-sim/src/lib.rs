//! A faithful local emulator of the &frankly organization API
//! (`orgform sim`), for tests and for trying orgform without an account.
//!
//! Main types: [`SimConfig`] (token, data file, [`Fixture`], [`Faults`]),
//! [`serve`] (run on a listener until a shutdown future completes),
//! [`start`] and [`SimHandle`] (run in the background, for tests),
//! [`FaultSpec`] (one `--fault` argument), [`SimError`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), orgform_sim::SimError> {
//! use orgform_sim::{SimConfig, start};
//! let sim = start(SimConfig::new("test-token"), "127.0.0.1:0".parse().unwrap()).await?;
//! println!("POST your organization to {}", sim.url()); // http://127.0.0.1:PORT/v1/organization
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Endpoints
//!
//! Plain HTTP/1.1, meant for loopback. Every endpoint wants the token, raw,
//! in the `Authorization` header (exact match).
//!
//! - `POST /v1/organization`: the API, as its reference documents it.
//! - `GET /v1/organization` (**emulator-only**; the real API has no read
//!   endpoint): `{"defaults": {…}, "groups": [...], "users": [...]}`, every
//!   group and user, managed or manual, in the effective form (users carry
//!   `memberOf`, `adminOf`, `inheritedAdminOf`, `interestOf` and `role` at
//!   the top level; absent fields left out) with a `managed` flag, sorted by
//!   externalId (manual users without one last, by email).
//! - `GET|POST /_sim/faults` (**emulator-only**): read or set the faults at
//!   run time: `{"latencyMs": 200, "failNext": 3, "dropAfterCommitNext": 1}`,
//!   every key optional, given ones replace; the answer shows all three.
//!
//! # Answers (the emulator's format; the real API's body is undocumented)
//!
//! - `200 {"validateOnly": bool, "users": {"created", "updated", "deleted",
//!   "unchanged"}, "groups": {…}}` ([`orgform_frankly::wire::OrganizationResponse`]).
//! - `400 {"errors": [{"code", "externalId"?, "message", "setting"?,
//!   "limit"?, "requested"?}]}` for every rejection, listing every problem
//!   found, not just the first; nothing is changed. Codes ([`codes`]):
//!   `apiTokenValidation` (token missing or wrong; reported alone, the body
//!   is not read), `validateThatPhoneNumberIsCorrect`,
//!   `validateNoPhoneDuplicates`, `validateDuplicateMailInAnotherCompany`,
//!   `validateExternalProperties`, `unknownGroup`, `limitExceeded`,
//!   `invalidRequest`, and the emulator's own `manualRecordConflict` and
//!   `groupCycle`.
//! - `503 {"errors": [{"code": "serviceUnavailable"}]}` only when injected
//!   (`fail=N`); `500 internalError` when the data file cannot be written
//!   (nothing changed); `404 notFound`, `405 methodNotAllowed`.
//!
//! # Semantics of `POST /v1/organization`
//!
//! Records created through the API are **managed**; the fixture's records
//! are **manual** and never touched (not updated, deleted or counted).
//! Identity is `externalId`; every request is a full sync of the kinds it
//! sends: send A,B,C then A,b,D and B is updated, C deleted, D created.
//!
//! - `data.users` / `data.groups` omitted: that kind is not managed by this
//!   request (nothing created, changed or deleted, counts all 0), except
//!   that memberships in groups this request deletes vanish from every
//!   user. `[]` deletes every managed one. `null` is `invalidRequest`.
//! - Settings: `validateOnly` omitted = `true` (answer the counts, change
//!   nothing); `forceSetLanguage` default `false`; the six limits default
//!   200 and must be in `0..=20000` (else `invalidRequest`); a count above
//!   its limit (equal is fine) is `limitExceeded` with `setting`, `limit`
//!   and `requested`, listing every exceeded limit.
//! - All or nothing: the complete next state is computed and validated
//!   before anything is stored; one lock serializes requests.
//! - "Updated" = the record's effective form changes; counted over the
//!   records sent; "deleted" = managed records of a sent kind not sent.
//!
//! A user's effective record, field by field (E = the current record, if
//! any; D = the request's):
//!
//! | field | omitted | given |
//! |---|---|---|
//! | `firstName`, `lastName`, `email` | (required) | set |
//! | `phone` | none (same as `""`) | set (E.164) |
//! | `active` | `true`: a deactivated user is reactivated | set |
//! | `timezone` | account default (stored absent), also for existing users | set |
//! | `language` | account default on create; never changed later | set on create; later only with `forceSetLanguage` |
//! | `accessInfo` list | E's list as is | given ∪ (E's entries that are not managed groups), per the reference: "will clear all other memberships of managed groups not set here" |
//! | `role` | as is (`User` on create) | set (exactly `Administrator`, `Manager`, `User`) |
//! | an `externalProperties` key | as is | set |
//!
//! Entries naming a group this request deletes vanish from lists kept as
//! is; a user sent whose record changes only because of that counts as
//! updated. A group's `description` omitted or `""` = none; `parent`
//! omitted = as is (root on create), `null` = root, an id = set.
//!
//! Validation (all problems reported together):
//! - `validateThatPhoneNumberIsCorrect`: a phone that is not `+` and 8 to
//!   15 digits, the country code not starting with 0 (`""` = no phone).
//! - `validateNoPhoneDuplicates`: a phone another user has after the
//!   request: in the request, a manual user, or a managed user that stays.
//! - `validateDuplicateMailInAnotherCompany`: an email (case-insensitive)
//!   among the fixture's `otherCompanyEmails`.
//! - `validateExternalProperties`: a key the account does not define, a
//!   value not allowed, an empty value (the API cannot clear an attribute),
//!   or a required attribute missing on an active user after the merge.
//!   Without `attributes` in the fixture, keys and values are not checked.
//! - `unknownGroup`: a `parent` or accessInfo entry naming a group that
//!   neither the request nor the account has after the request, including
//!   a parent left as is that this request deletes.
//! - `groupCycle` (emulator): the group hierarchy would have a cycle.
//! - `manualRecordConflict` (emulator): a request user or group whose
//!   externalId, or a user whose email (case-insensitive), belongs to a
//!   manual record. The API never changes manual records, and adopting one
//!   silently would be worse than refusing; reference manual groups by id
//!   without sending them.
//! - `invalidRequest`: malformed JSON or body, a limit out of range, an
//!   empty or duplicate externalId, an empty required field, two request
//!   users with one email, an unknown role, `null` for a list.
//!
//! Timezones and language codes are stored as given, not checked against
//! IANA or ISO 639-1 (orgform's spec validation does that).
//!
//! # Faults and persistence
//!
//! See [`Faults`] and [`FaultSpec`]. With a data file, the managed records
//! are loaded at start (when the file exists) and written atomically after
//! every committed request, before the answer is sent.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;

mod checks;
pub mod codes;
mod engine;
mod error;
mod faults;
mod fixture;
mod server;
mod store;

pub use engine::Engine;
pub use error::SimError;
pub use faults::{FaultSpec, Faults, FaultsBody};
pub use fixture::{AccountDefaults, Fixture, FixtureGroup, FixtureUser};

/// How to run an emulator.
#[derive(Clone, Default)]
pub struct SimConfig {
    /// The token clients must send (never printed; `Debug` redacts it).
    pub token: String,
    /// Persist the managed records here (loaded at start when it exists).
    pub data_file: Option<PathBuf>,
    /// The account; `None` = an empty account with unmodelled attributes.
    pub fixture: Option<Fixture>,
    /// Faults in force at start.
    pub faults: Faults,
    /// The per-request cap (`--max-per-request`, `1..=20000`); `None` = the
    /// API's 20000. A request whose limit is above it is refused.
    pub max_per_request: Option<u32>,
}

impl SimConfig {
    /// A config with only a token: no data file, no fixture, no faults.
    pub fn new(token: &str) -> Self {
        SimConfig {
            token: token.to_owned(),
            ..SimConfig::default()
        }
    }
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("token", &"<redacted>")
            .field("data_file", &self.data_file)
            .field("fixture", &self.fixture)
            .field("faults", &self.faults)
            .field("max_per_request", &self.max_per_request)
            .finish()
    }
}

/// Checks the fixture, loads the data file, and builds the shared state.
fn prepare(config: SimConfig) -> Result<Arc<server::Shared>, SimError> {
    let fixture = config.fixture.unwrap_or_default();
    let problems = fixture.problems();
    if !problems.is_empty() {
        return Err(SimError::FixtureInvalid {
            origin: "given in memory".to_owned(),
            problems: problems.join("; "),
        });
    }
    let mut account = engine::Account::new(fixture);
    if let Some(cap) = config.max_per_request {
        account = account.with_max_per_request(cap);
    }
    let managed = match &config.data_file {
        Some(path) => {
            let managed = store::load(path)?.unwrap_or_default();
            let problems = account.check_managed(&managed);
            if !problems.is_empty() {
                return Err(SimError::DataInvalid {
                    path: path.clone(),
                    message: problems.join("; "),
                });
            }
            managed
        }
        None => engine::Managed::default(),
    };
    Ok(Arc::new(server::Shared {
        token: config.token,
        account,
        state: tokio::sync::Mutex::new(managed),
        faults: std::sync::Mutex::new(config.faults),
        data_file: config.data_file,
    }))
}

/// Serves the emulator on `listener` until `shutdown` completes, then lets
/// requests in flight finish (up to ten seconds) and returns.
///
/// Fails before serving when the fixture is inconsistent or the data file
/// cannot be read or contradicts the fixture.
pub async fn serve(
    config: SimConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SimError> {
    let shared = prepare(config)?;
    server::run(shared, listener, shutdown).await;
    Ok(())
}

/// Starts an emulator on `addr` (port 0 picks a free one) in the
/// background. It stops on [`SimHandle::shutdown`] or when the handle is
/// dropped.
pub async fn start(config: SimConfig, addr: SocketAddr) -> Result<SimHandle, SimError> {
    let shared = prepare(config)?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| SimError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| SimError::Bind { addr, source })?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server::run(shared, listener, async move {
        // A dropped sender stops the server too.
        let _ = stopped.await;
    }));
    Ok(SimHandle {
        addr,
        stop: Some(stop),
        task,
    })
}

/// A running background emulator (see [`start`]).
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl SimHandle {
    /// The API's URL, `http://127.0.0.1:PORT/v1/organization`.
    pub fn url(&self) -> String {
        format!("{}{}", self.base_url(), server::API_PATH)
    }

    /// `http://127.0.0.1:PORT`, for the emulator-only endpoints.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets requests in flight finish, and waits.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}
