//! The PostgreSQL store (DESIGN section 9): one database holds many named
//! states, each a row per version, with its history as rows and its lock a
//! session advisory lock plus a holder row.
//!
//! Location: `postgres://USER@HOST:PORT/DB?name=acme` (or `postgresql://`),
//! query keys `name` (required), `schema` (default `orgform`), `sslmode`
//! (`disable` only to a loopback host, `require`, `verify-full`: the
//! default), `keep` (versions kept, default 20) and `sslrootcert` (a PEM
//! file of CA certificates for `verify-full`; without it the system's roots).
//! Any other key is refused, so a typo never silently changes the target. A
//! missing user is `PGUSER`, else `USER`; a missing port 5432; a missing
//! database the user's name (as libpq does). The password comes only from
//! `PGPASSWORD` or `~/.pgpass` (libpq's format; refused unless `0600`); a
//! URL carrying one is refused with the password masked.
//!
//! Tables, in the schema (created and migrated by orgform, inside one
//! transaction holding an advisory lock keyed by the schema only, so that
//! creating one schema never waits on another: hashicorp/terraform#33217):
//! - `orgform_schema_version (version)`: the table layout's version;
//! - `states (name, serial, lineage, state, written_at)`: one row per
//!   version; the state is its JSON text, exactly as the file holds it;
//!   the last `keep` versions of a name are kept;
//! - `history (id, name, entry, written_at)`: one `jsonb` row per history
//!   line (query it: `entry->>'outcome'`, `entry->'deleted'->'users'`);
//! - `locks (name, holder, backend_pid, backend_start, heartbeat_at)`: who
//!   holds the lock, shown to the next run.
//!
//! Reads (`plan`, `state show`, `history`) open a connection, read one row
//! (MVCC: always a whole version), and take no lock; on a database where
//! orgform never wrote they find no state, and create nothing.
//!
//! The lock: `pg_try_advisory_lock` with a 64-bit key from SHA-256 of
//! (schema, name), on one dedicated connection kept for the run's whole
//! life (never pooled), with TCP keepalives both ways and a heartbeat
//! every 2 s that also stamps `heartbeat_at`. A crashed run's lock ends with
//! its session; the holder row it leaves is overwritten by the next run. The
//! commit is one transaction on that session: it checks that the session
//! still holds the advisory lock and the holder row is still this run's,
//! that the newest version is of the same lineage with a lower serial
//! (compare-and-swap), inserts the version (and the history line, when
//! given), and drops versions beyond `keep`. A lost session commits
//! nothing; history lines are written over a fresh connection, so a
//! `maybeApplied` line still lands.

use std::fmt;
use std::fs;
use std::future::Future;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::runtime::Runtime;
use tokio_postgres::{Client, NoTls};

use crate::error::StateError;
use crate::history::HistoryEntry;
use crate::holder::{Liveness, LockHolder, LockStatus};
use crate::state::{self, State, Version};

/// The table layout this build creates and reads.
pub const SCHEMA_VERSION: i32 = 1;
/// Versions kept per name unless the URL says `keep=N`.
pub const DEFAULT_KEEP: u32 = 20;
/// The schema unless the URL says `schema=NAME`.
pub const DEFAULT_SCHEMA: &str = "orgform";

/// How long one liveness query of the lock session may take.
const ALIVE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the heartbeat runs on the lock session.
const HEARTBEAT: Duration = Duration::from_secs(2);
/// Connecting (TCP, TLS, authentication) may take this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest any one database operation may take before it is an error.
const OP_TIMEOUT: Duration = Duration::from_secs(300);

/// `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP: only to a loopback host.
    Disable,
    /// TLS, the certificate not checked (libpq's `require`).
    Require,
    /// TLS, the certificate checked against the roots and the host name.
    VerifyFull,
}

impl SslMode {
    fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Require => "require",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// A parsed `postgres://` state location (never holds a password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgUrl {
    /// The database user.
    pub user: String,
    /// The server's host name or address.
    pub host: String,
    /// The server's port.
    pub port: u16,
    /// The database.
    pub dbname: String,
    /// The state's name within the schema.
    pub name: String,
    /// The schema holding orgform's tables.
    pub schema: String,
    /// TLS.
    pub sslmode: SslMode,
    /// Versions kept.
    pub keep: u32,
    /// CA certificates for `verify-full`.
    pub sslrootcert: Option<PathBuf>,
}

/// Whether a location names a PostgreSQL store.
pub fn is_postgres_location(location: &str) -> bool {
    let lower = location.get(..13).unwrap_or(location).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// `location` with any password (in the userinfo or a `password` query
/// key) replaced by `***`, for error messages. Works on text that does not
/// parse as a URL, too.
pub fn mask_location(location: &str) -> String {
    let mut out = location.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let at = rest_start + at;
            if let Some(colon) = out[rest_start..at].find(':') {
                out.replace_range(rest_start + colon + 1..at, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let masked: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out = format!("{head}{}", masked.join("&"));
    }
    out
}

/// `location` as a URL with the `postgres` scheme and no password in it.
fn checked_url(location: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(location).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return Err("the scheme must be `postgres://`".to_owned());
    }
    if url.password().is_some() {
        return Err(
            "it carries a password; remove it from the URL and give it in `PGPASSWORD` or \
             `~/.pgpass` (a URL is shown in logs and process lists)"
                .to_owned(),
        );
    }
    Ok(url)
}

/// The URL's host: a name or an address; none is an error.
fn host_of(url: &url::Url) -> Result<String, String> {
    match url.host() {
        Some(url::Host::Domain(d)) if !d.is_empty() => Ok(d.to_owned()),
        Some(url::Host::Ipv4(ip)) => Ok(ip.to_string()),
        Some(url::Host::Ipv6(ip)) => Ok(ip.to_string()),
        _ => Err("it names no host (`postgres://USER@HOST:PORT/DB?name=acme`)".to_owned()),
    }
}

/// The user (the URL's, else `PGUSER`, else `USER`) and the database (the
/// URL's path, else the user's name).
fn user_and_dbname(url: &url::Url) -> Result<(String, String), String> {
    let user = match percent_decode(url.username()) {
        u if !u.is_empty() => u,
        _ => env_nonempty("PGUSER")
            .or_else(|| env_nonempty("USER"))
            .ok_or_else(|| "it names no user and neither `PGUSER` nor `USER` is set".to_owned())?,
    };
    let dbname = match percent_decode(url.path().trim_start_matches('/')) {
        d if !d.is_empty() => d,
        _ => user.clone(),
    };
    if dbname.contains('/') {
        return Err(format!("`{dbname}` is not a database name"));
    }
    Ok((user, dbname))
}

/// The query keys of a state URL, each at most once, none unknown.
#[derive(Default)]
struct QueryKeys {
    name: Option<String>,
    schema: Option<String>,
    sslmode: Option<SslMode>,
    keep: Option<u32>,
    sslrootcert: Option<PathBuf>,
}

impl QueryKeys {
    /// Reads the query; a key given twice, an unknown key, a bad value or
    /// a password is an error.
    fn read(url: &url::Url) -> Result<QueryKeys, String> {
        let mut keys = QueryKeys::default();
        for (key, value) in url.query_pairs() {
            let value = value.into_owned();
            match &*key {
                "name" => set_once(&mut keys.name, value, &key)?,
                "schema" => set_once(&mut keys.schema, value, &key)?,
                "sslmode" => set_once(&mut keys.sslmode, parse_sslmode(&value)?, &key)?,
                "keep" => {
                    let n: u32 = value.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                        format!("`keep={value}` must be a whole number of at least 1")
                    })?;
                    set_once(&mut keys.keep, n, &key)?;
                }
                "sslrootcert" => set_once(&mut keys.sslrootcert, PathBuf::from(value), &key)?,
                "password" => {
                    return Err(
                        "it carries a password; give it in `PGPASSWORD` or `~/.pgpass` instead"
                            .to_owned(),
                    );
                }
                other => {
                    return Err(format!(
                        "unknown query key `{other}` (known: name, schema, sslmode, keep, \
                         sslrootcert)"
                    ));
                }
            }
        }
        Ok(keys)
    }

    /// Checks the name, schema and TLS mode (defaults filled in) and builds
    /// the location.
    fn finish(
        self,
        user: String,
        host: String,
        port: u16,
        dbname: String,
    ) -> Result<PgUrl, String> {
        let name = self.name.filter(|n| !n.trim().is_empty()).ok_or_else(|| {
            "it names no state: add `?name=NAME` (one database holds many named states)".to_owned()
        })?;
        if name.len() > 200 || name.chars().any(char::is_control) {
            return Err(format!(
                "the state name `{}` must be at most 200 characters, without control characters",
                name.escape_debug()
            ));
        }
        let schema = self.schema.unwrap_or_else(|| DEFAULT_SCHEMA.to_owned());
        if !is_identifier(&schema) {
            return Err(format!(
                "the schema `{}` must be a lower-case identifier (letters, digits, `_`, at most 63)",
                schema.escape_debug()
            ));
        }
        let sslmode = self.sslmode.unwrap_or(SslMode::VerifyFull);
        if sslmode == SslMode::Disable && !is_loopback(&host) {
            return Err(format!(
                "`sslmode=disable` is allowed only to a loopback host, not `{host}`: the state \
                 holds personal data; use `sslmode=verify-full`"
            ));
        }
        Ok(PgUrl {
            user,
            host,
            port,
            dbname,
            name,
            schema,
            sslmode,
            keep: self.keep.unwrap_or(DEFAULT_KEEP),
            sslrootcert: self.sslrootcert,
        })
    }
}

/// Fills `slot` with `value`, or fails when `key` was given before.
fn set_once<T>(slot: &mut Option<T>, value: T, key: &str) -> Result<(), String> {
    match slot.replace(value) {
        Some(_) => Err(format!("the query key `{key}` is given twice")),
        None => Ok(()),
    }
}

/// An `sslmode` value orgform supports.
fn parse_sslmode(value: &str) -> Result<SslMode, String> {
    match value {
        "disable" => Ok(SslMode::Disable),
        "require" => Ok(SslMode::Require),
        "verify-full" => Ok(SslMode::VerifyFull),
        other => Err(format!(
            "`sslmode={other}` is not supported: use `verify-full` (the default), `require`, or \
             `disable` (loopback only)"
        )),
    }
}

impl PgUrl {
    /// Parses and checks a state URL; every error names the URL masked.
    /// The steps, in the order their errors are reported: the URL itself
    /// ([`checked_url`]), the host, the user and database
    /// ([`user_and_dbname`]), the query keys ([`QueryKeys::read`]), then
    /// the name, schema and TLS mode they give ([`QueryKeys::finish`]).
    pub fn parse(location: &str) -> Result<PgUrl, StateError> {
        let bad = |detail: String| StateError::BadLocation {
            location: mask_location(location),
            detail,
        };
        let url = checked_url(location).map_err(bad)?;
        let host = host_of(&url).map_err(bad)?;
        let (user, dbname) = user_and_dbname(&url).map_err(bad)?;
        let keys = QueryKeys::read(&url).map_err(bad)?;
        keys.finish(user, host, url.port().unwrap_or(5432), dbname)
            .map_err(bad)
    }

    /// The URL as shown to users: no password (there is none), every
    /// query key that matters.
    pub fn describe(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!(
            "postgres://{}@{host}:{}/{}?name={}&schema={}&sslmode={}",
            self.user,
            self.port,
            self.dbname,
            self.name,
            self.schema,
            self.sslmode.as_str()
        )
    }

    /// The advisory lock key of this (schema, name).
    fn lock_key(&self) -> i64 {
        key_of(&["orgform-state", &self.schema, &self.name])
    }
}

/// A 64-bit advisory lock key: the first 8 bytes of SHA-256 over the parts.
fn key_of(parts: &[&str]) -> i64 {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
        hash.update([0u8]);
    }
    let digest = hash.finalize();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && s.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

// ------------------------------------------------------------ password

/// The password: `PGPASSWORD`, else the first matching `~/.pgpass` line,
/// else none (the server may not ask for one).
fn password(url: &PgUrl, location: &str) -> Result<Option<String>, StateError> {
    if let Some(p) = env_nonempty("PGPASSWORD") {
        return Ok(Some(p));
    }
    let Some(home) = env_nonempty("HOME") else {
        return Ok(None);
    };
    let path = Path::new(&home).join(".pgpass");
    let meta = match fs::metadata(&path) {
        Ok(m) => m,
        Err(_) => return Ok(None),
    };
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(StateError::BadLocation {
            location: location.to_owned(),
            detail: format!(
                "`{}` is readable by other users; make it private: `chmod 0600 {}`",
                path.display(),
                path.display()
            ),
        });
    }
    let text = fs::read_to_string(&path).map_err(|e| StateError::io("read", &path, e))?;
    Ok(pgpass_lookup(&text, url))
}

/// libpq's `.pgpass`: `host:port:database:user:password`, `*` matches
/// anything, `\:` and `\\` escape, `#` starts a comment line.
fn pgpass_lookup(text: &str, url: &PgUrl) -> Option<String> {
    let port = url.port.to_string();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .find_map(|line| {
            let fields = split_pgpass(line);
            let [host, p, db, user, password] = fields.as_slice() else {
                return None;
            };
            let ok = |pattern: &str, value: &str| pattern == "*" || pattern == value;
            (ok(host, &url.host) && ok(p, &port) && ok(db, &url.dbname) && ok(user, &url.user))
                .then(|| password.clone())
        })
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next()
                    && let Some(last) = fields.last_mut()
                {
                    last.push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(last) = fields.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    fields
}

// ------------------------------------------------------------ runtime

/// The runtime every PostgreSQL operation runs on: one worker thread, made
/// once per process, never dropped. Callers wait on a channel, so a store
/// works from any thread, inside another runtime or not.
fn runtime() -> Result<&'static Runtime, StateError> {
    static RT: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("orgform-postgres")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| StateError::Database {
        action: "start the PostgreSQL client",
        location: String::new(),
        detail: e.clone(),
    })
}

/// Runs `fut` on the store's runtime and waits for it.
fn block<T: Send + 'static>(
    fut: impl Future<Output = Result<T, StateError>> + Send + 'static,
) -> Result<T, StateError> {
    let rt = runtime()?;
    let (tx, rx) = mpsc::channel();
    rt.spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv().unwrap_or_else(|_| {
        Err(StateError::Database {
            action: "finish a database operation",
            location: String::new(),
            detail: "the operation was abandoned".to_owned(),
        })
    })
}

// ------------------------------------------------------------ connections

/// The parts of a store every async operation needs.
#[derive(Debug)]
struct Target {
    url: PgUrl,
    described: String,
}

impl Target {
    fn db_err(&self, action: &'static str, e: impl fmt::Display) -> StateError {
        StateError::Database {
            action,
            location: self.described.clone(),
            detail: e.to_string(),
        }
    }

    fn q(&self, table: &str) -> String {
        format!("\"{}\".{table}", self.url.schema)
    }
}

fn tls_config(t: &Target) -> Result<rustls::ClientConfig, StateError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| t.db_err("set up TLS", e))?;
    let config = match t.url.sslmode {
        SslMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
            .with_no_client_auth(),
        _ => {
            let mut roots = rustls::RootCertStore::empty();
            match &t.url.sslrootcert {
                Some(path) => {
                    let pem = fs::read(path).map_err(|e| StateError::io("read", path, e))?;
                    let mut reader = std::io::Cursor::new(pem);
                    for cert in rustls::pki_types::pem::PemObject::pem_reader_iter(&mut reader) {
                        let cert: rustls::pki_types::CertificateDer<'static> =
                            cert.map_err(|e| t.db_err("read the CA certificates", e))?;
                        roots
                            .add(cert)
                            .map_err(|e| t.db_err("read the CA certificates", e))?;
                    }
                }
                None => {
                    for cert in rustls_native_certs::load_native_certs().certs {
                        let _ = roots.add(cert);
                    }
                }
            }
            if roots.is_empty() {
                return Err(t.db_err(
                    "verify the server's certificate",
                    "no CA certificates found: give them with `sslrootcert=FILE`",
                ));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    Ok(config)
}

/// `sslmode=require`: encrypted, the certificate not checked (as libpq).
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// An open connection and the flag its driver task clears when it ends.
struct Conn {
    client: Client,
    closed: Arc<Mutex<Option<String>>>,
}

async fn connect(t: &Target, purpose: &str) -> Result<Conn, StateError> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(&t.url.host)
        .port(t.url.port)
        .user(&t.url.user)
        .dbname(&t.url.dbname)
        .application_name(format!("orgform {purpose}"))
        .connect_timeout(CONNECT_TIMEOUT)
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(5))
        .keepalives_interval(Duration::from_secs(2))
        .keepalives_retries(3)
        .tcp_user_timeout(Duration::from_secs(15))
        // The server notices a vanished client as fast, and frees its lock.
        .options("-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3");
    if let Some(p) = password(&t.url, &t.described)? {
        config.password(p);
    }
    let closed = Arc::new(Mutex::new(None));
    let client = match t.url.sslmode {
        SslMode::Disable => {
            config.ssl_mode(tokio_postgres::config::SslMode::Disable);
            connect_with(t, &config, NoTls, &closed).await?
        }
        _ => {
            config.ssl_mode(tokio_postgres::config::SslMode::Require);
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(t)?);
            connect_with(t, &config, tls, &closed).await?
        }
    };
    Ok(Conn { client, closed })
}

/// Connects over `tls` and drives the connection in a task that records in
/// `closed` why it ended.
async fn connect_with<T>(
    t: &Target,
    config: &tokio_postgres::Config,
    tls: T,
    closed: &Arc<Mutex<Option<String>>>,
) -> Result<Client, StateError>
where
    T: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>,
    T::Stream: Send + 'static,
{
    let (client, connection) = config
        .connect(tls)
        .await
        .map_err(|e| t.db_err("connect to", pg_detail(&e)))?;
    let flag = Arc::clone(closed);
    tokio::spawn(async move {
        let why = match connection.await {
            Ok(()) => "the connection was closed".to_owned(),
            Err(e) => pg_detail(&e),
        };
        if let Ok(mut f) = flag.lock() {
            *f = Some(why);
        }
    });
    Ok(client)
}

/// Whether orgform's tables exist, checking their version: `false` when
/// orgform never wrote to this schema.
async fn tables_exist(t: &Target, c: &Client) -> Result<bool, StateError> {
    let row = c
        .query_one(
            "SELECT to_regclass($1)::text",
            &[&format!("\"{}\".orgform_schema_version", t.url.schema)],
        )
        .await
        .map_err(|e| t.db_err("read from", pg_detail(&e)))?;
    let exists: Option<String> = row.get(0);
    if exists.is_none() {
        return Ok(false);
    }
    let row = c
        .query_one(
            &format!("SELECT max(version) FROM {}", t.q("orgform_schema_version")),
            &[],
        )
        .await
        .map_err(|e| t.db_err("read from", pg_detail(&e)))?;
    let version: Option<i32> = row.get(0);
    check_schema_version(t, version.unwrap_or(0))?;
    Ok(version.is_some())
}

fn check_schema_version(t: &Target, found: i32) -> Result<(), StateError> {
    if found > SCHEMA_VERSION {
        return Err(StateError::NewerSchema {
            location: t.described.clone(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Creates or migrates the tables, under an advisory lock keyed by the
/// schema alone (another schema never waits).
async fn ensure_tables(t: &Target, c: &mut Client) -> Result<(), StateError> {
    if tables_exist(t, c).await? {
        return Ok(());
    }
    let err = |e: tokio_postgres::Error| t.db_err("create orgform's tables in", pg_detail(&e));
    let tx = c.transaction().await.map_err(err)?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&key_of(&["orgform-migrate", &t.url.schema])],
    )
    .await
    .map_err(err)?;
    let s = &t.url.schema;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS \"{s}\";
         CREATE TABLE IF NOT EXISTS \"{s}\".orgform_schema_version (
             version integer NOT NULL,
             migrated_at timestamptz NOT NULL DEFAULT now());"
    ))
    .await
    .map_err(err)?;
    let row = tx
        .query_one(
            &format!("SELECT coalesce(max(version), 0) FROM \"{s}\".orgform_schema_version"),
            &[],
        )
        .await
        .map_err(err)?;
    let version: i32 = row.get(0);
    check_schema_version(t, version)?;
    if version < 1 {
        tx.batch_execute(&format!(
            "CREATE TABLE \"{s}\".states (
                 name text NOT NULL,
                 serial bigint NOT NULL,
                 lineage text NOT NULL,
                 state text NOT NULL,
                 written_at timestamptz NOT NULL DEFAULT now(),
                 PRIMARY KEY (name, serial));
             CREATE TABLE \"{s}\".history (
                 id bigserial PRIMARY KEY,
                 name text NOT NULL,
                 entry jsonb NOT NULL,
                 written_at timestamptz NOT NULL DEFAULT now());
             CREATE INDEX history_name_id ON \"{s}\".history (name, id);
             CREATE TABLE \"{s}\".locks (
                 name text PRIMARY KEY,
                 holder jsonb NOT NULL,
                 backend_pid integer NOT NULL,
                 backend_start timestamptz NOT NULL,
                 heartbeat_at timestamptz NOT NULL DEFAULT now());
             INSERT INTO \"{s}\".orgform_schema_version (version) VALUES (1);"
        ))
        .await
        .map_err(err)?;
    }
    tx.commit().await.map_err(err)
}

async fn with_timeout<T>(
    t: &Target,
    action: &'static str,
    limit: Duration,
    fut: impl Future<Output = Result<T, StateError>>,
) -> Result<T, StateError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r,
        Err(_) => Err(t.db_err(action, format!("no answer within {}s", limit.as_secs()))),
    }
}

// ------------------------------------------------------------ the store

/// A PostgreSQL store (no connection is held between operations; a
/// [`PgLock`] holds its own).
#[derive(Debug)]
pub(crate) struct PgStore {
    target: Arc<Target>,
    described_path: PathBuf,
}

impl PgStore {
    pub(crate) fn new(url: PgUrl) -> PgStore {
        let described = url.describe();
        PgStore {
            described_path: PathBuf::from(&described),
            target: Arc::new(Target { url, described }),
        }
    }

    pub(crate) fn describe(&self) -> &str {
        &self.target.described
    }

    pub(crate) fn described_path(&self) -> &Path {
        &self.described_path
    }

    /// Runs `f` on a fresh connection; `tables` says whether to create the
    /// tables first (writes) or to answer `missing` when there are none
    /// (reads).
    fn on_fresh<T: Send + 'static, F, Fut>(
        &self,
        purpose: &'static str,
        create: bool,
        missing: impl FnOnce() -> T + Send + 'static,
        f: F,
    ) -> Result<T, StateError>
    where
        F: FnOnce(Arc<Target>, Client) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, StateError>> + Send,
    {
        let t = Arc::clone(&self.target);
        block(async move {
            let t2 = Arc::clone(&t);
            with_timeout(&t, "finish an operation on", OP_TIMEOUT, async move {
                let mut conn = connect(&t2, purpose).await?;
                if create {
                    ensure_tables(&t2, &mut conn.client).await?;
                } else if !tables_exist(&t2, &conn.client).await? {
                    return Ok(missing());
                }
                f(t2, conn.client).await
            })
            .await
        })
    }

    pub(crate) fn load(&self) -> Result<Option<State>, StateError> {
        self.load_where(None)
    }

    pub(crate) fn load_serial(&self, serial: u64) -> Result<Option<State>, StateError> {
        self.load_where(Some(serial))
    }

    fn load_where(&self, serial: Option<u64>) -> Result<Option<State>, StateError> {
        let text = self.on_fresh(
            "read",
            false,
            || None,
            move |t, c| async move {
                let rows = match serial {
                    None => {
                        c.query(
                            &format!(
                                "SELECT state FROM {} WHERE name = $1 ORDER BY serial DESC LIMIT 1",
                                t.q("states")
                            ),
                            &[&t.url.name],
                        )
                        .await
                    }
                    Some(n) => {
                        c.query(
                            &format!(
                                "SELECT state FROM {} WHERE name = $1 AND serial = $2",
                                t.q("states")
                            ),
                            &[&t.url.name, &to_i64(n)],
                        )
                        .await
                    }
                }
                .map_err(|e| t.db_err("read the state from", pg_detail(&e)))?;
                Ok(rows.first().map(|r| r.get::<_, String>(0)))
            },
        )?;
        text.map(|text| state::parse(&self.described_path, text.as_bytes(), None))
            .transpose()
    }

    pub(crate) fn versions(&self) -> Result<Vec<Version>, StateError> {
        self.on_fresh("read", false, Vec::new, |t, c| async move {
            let rows = c
                .query(
                    &format!(
                        "SELECT serial, lineage, to_char(written_at AT TIME ZONE 'UTC', \
                         'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM {} WHERE name = $1 ORDER BY serial",
                        t.q("states")
                    ),
                    &[&t.url.name],
                )
                .await
                .map_err(|e| t.db_err("read the versions from", pg_detail(&e)))?;
            Ok(rows
                .iter()
                .map(|r| Version {
                    serial: u64::try_from(r.get::<_, i64>(0)).unwrap_or(0),
                    lineage: r.get(1),
                    written_at: r.get(2),
                })
                .collect())
        })
    }

    pub(crate) fn prune(&self, keep: u32) -> Result<u64, StateError> {
        self.on_fresh(
            "prune",
            true,
            || 0,
            move |t, c| async move {
                prune_rows(&t, &c, keep)
                    .await
                    .map_err(|e| t.db_err("prune old versions in", pg_detail(&e)))
            },
        )
    }

    pub(crate) fn append_history(&self, entry: &HistoryEntry) -> Result<(), StateError> {
        let line = history_json(entry, &self.target.described)?;
        self.on_fresh(
            "history",
            true,
            || (),
            move |t, c| async move {
                c.execute(
                    &format!(
                        "INSERT INTO {} (name, entry) VALUES ($1, $2::text::jsonb)",
                        t.q("history")
                    ),
                    &[&t.url.name, &line],
                )
                .await
                .map_err(|e| t.db_err("append to the history in", pg_detail(&e)))?;
                Ok(())
            },
        )
    }

    pub(crate) fn read_history(&self) -> Result<Vec<HistoryEntry>, StateError> {
        let rows = self.on_fresh("read", false, Vec::new, |t, c| async move {
            let rows = c
                .query(
                    &format!(
                        "SELECT id, entry::text FROM {} WHERE name = $1 ORDER BY id",
                        t.q("history")
                    ),
                    &[&t.url.name],
                )
                .await
                .map_err(|e| t.db_err("read the history from", pg_detail(&e)))?;
            Ok(rows
                .iter()
                .map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1)))
                .collect::<Vec<_>>())
        })?;
        rows.into_iter()
            .map(|(id, text)| {
                serde_json::from_str(&text).map_err(|e| StateError::CorruptHistory {
                    path: self.described_path.clone(),
                    line: usize::try_from(id).unwrap_or(0),
                    detail: e.to_string(),
                })
            })
            .collect()
    }

    /// The holder row and whether its session still holds the lock.
    pub(crate) fn lock_status(&self) -> Result<Option<LockStatus>, StateError> {
        self.on_fresh(
            "read",
            false,
            || None,
            |t, c| async move {
                let held = lock_is_held(&t, &c).await?;
                let holder = read_holder_row(&t, &c).await?;
                Ok(match (holder, held) {
                    (Some((holder, _, _)), true) => Some(LockStatus {
                        holder,
                        session: Liveness::Alive,
                    }),
                    (Some((holder, _, _)), false) => Some(LockStatus {
                        holder,
                        session: Liveness::Gone,
                    }),
                    (None, true) => Some(LockStatus {
                        holder: unknown_holder(),
                        session: Liveness::Alive,
                    }),
                    (None, false) => None,
                })
            },
        )
    }

    /// Clears the holder row `expected` when its session is gone; a live
    /// session is [`StateError::LockAlive`] unless `terminate`, which ends
    /// that session (`pg_terminate_backend`) first.
    pub(crate) fn force_unlock(
        &self,
        expected: Option<&LockHolder>,
        terminate: bool,
    ) -> Result<bool, StateError> {
        let expected = expected.cloned();
        self.on_fresh(
            "force-unlock",
            false,
            || false,
            move |t, c| async move {
                let Some((holder, pid, start)) = read_holder_row(&t, &c).await? else {
                    return Ok(false);
                };
                if expected.as_ref().is_some_and(|e| e.id != holder.id) {
                    return Ok(false);
                }
                if lock_is_held(&t, &c).await? {
                    if !terminate {
                        return Err(StateError::LockAlive {
                            location: t.described.clone(),
                            holder: Box::new(holder),
                        });
                    }
                    c.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE pid = $1 AND backend_start = $2::text::timestamptz",
                        &[&pid, &start],
                    )
                    .await
                    .map_err(|e| t.db_err("end the holder's session in", pg_detail(&e)))?;
                    let deadline = Instant::now() + Duration::from_secs(10);
                    while lock_is_held(&t, &c).await? {
                        if Instant::now() > deadline {
                            return Err(t.db_err(
                                "end the holder's session in",
                                "the lock is still held 10s after ending its session",
                            ));
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                let n = c
                    .execute(
                        &format!(
                            "DELETE FROM {} WHERE name = $1 AND holder->>'id' = $2",
                            t.q("locks")
                        ),
                        &[&t.url.name, &holder.id],
                    )
                    .await
                    .map_err(|e| t.db_err("remove the lock holder in", pg_detail(&e)))?;
                Ok(n > 0)
            },
        )
    }

    /// Takes the lock on a dedicated connection kept until release.
    pub(crate) fn lock(&self, command: &str, wait: Option<Duration>) -> Result<PgLock, StateError> {
        let holder = LockHolder::current(command);
        let t = Arc::clone(&self.target);
        let h = holder.clone();
        let session = block(async move { acquire(t, h, wait).await })?;
        Ok(PgLock {
            target: Arc::clone(&self.target),
            described_path: self.described_path.clone(),
            holder,
            session: Some(session),
        })
    }
}

fn unknown_holder() -> LockHolder {
    LockHolder {
        id: String::new(),
        user: "(unknown)".to_owned(),
        host: "(unknown)".to_owned(),
        pid: 0,
        command: "a run that has not recorded itself yet".to_owned(),
        time: "(unknown)".to_owned(),
    }
}

/// The server's message where there is one (the driver's own Display of a
/// server error is only "db error").
fn pg_detail(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A history line as JSON text `jsonb` accepts (it refuses `\u0000`).
fn history_json(entry: &HistoryEntry, location: &str) -> Result<String, StateError> {
    serde_json::to_string(entry)
        .map(|s| s.replace("\\u0000", "\\ufffd"))
        .map_err(|source| StateError::Encode {
            what: "a history entry",
            path: PathBuf::from(location),
            source,
        })
}

async fn lock_is_held(t: &Target, c: &Client) -> Result<bool, StateError> {
    // Another session's session-level lock shows in pg_locks: classid is
    // the key's high half, objid its low half, objsubid 1 for a bigint key.
    let key = t.url.lock_key();
    let row = c
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1 \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))",
            &[&((key >> 32) & 0xffff_ffff), &(key & 0xffff_ffff)],
        )
        .await
        .map_err(|e| t.db_err("read the lock in", pg_detail(&e)))?;
    Ok(row.get(0))
}

async fn read_holder_row(
    t: &Target,
    c: &Client,
) -> Result<Option<(LockHolder, i32, String)>, StateError> {
    let rows = c
        .query(
            &format!(
                "SELECT holder::text, backend_pid, backend_start::text FROM {} WHERE name = $1",
                t.q("locks")
            ),
            &[&t.url.name],
        )
        .await
        .map_err(|e| t.db_err("read the lock holder in", pg_detail(&e)))?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let text: String = row.get(0);
    let holder = serde_json::from_str(&text).map_err(|e| StateError::UnreadableLock {
        lock: PathBuf::from(&t.described),
        detail: format!("the holder row is not an orgform lock: {e}"),
    })?;
    Ok(Some((holder, row.get(1), row.get(2))))
}

async fn prune_rows(
    t: &Target,
    c: &impl tokio_postgres::GenericClient,
    keep: u32,
) -> Result<u64, tokio_postgres::Error> {
    c.execute(
        &format!(
            "DELETE FROM {s} WHERE name = $1 AND serial < (SELECT coalesce(min(serial), 0) FROM \
             (SELECT serial FROM {s} WHERE name = $1 ORDER BY serial DESC LIMIT $2) newest)",
            s = t.q("states")
        ),
        &[&t.url.name, &i64::from(keep)],
    )
    .await
}

// ------------------------------------------------------------ the lock

/// The lock session: the connection holding the advisory lock, shared with
/// its heartbeat.
#[derive(Debug)]
struct Session {
    client: Arc<tokio::sync::Mutex<Client>>,
    /// Why the session is gone, once it is.
    lost: Arc<Mutex<Option<String>>>,
    /// Set when the run releases the lock: the heartbeat stops.
    stopping: Arc<AtomicBool>,
}

impl Session {
    fn lost_reason(&self) -> Option<String> {
        self.lost.lock().ok().and_then(|l| l.clone())
    }
}

async fn acquire(
    t: Arc<Target>,
    holder: LockHolder,
    wait: Option<Duration>,
) -> Result<Session, StateError> {
    let mut conn = connect(&t, "lock").await?;
    ensure_tables(&t, &mut conn.client).await?;
    let c = &conn.client;
    let key = t.url.lock_key();
    let start = Instant::now();
    let mut poll = Duration::from_millis(25);
    loop {
        if try_lock(&t, c, key).await? {
            break;
        }
        let waited = start.elapsed();
        match wait {
            Some(limit) if waited < limit => {
                tokio::time::sleep(poll.min(limit - waited)).await;
                poll = (poll * 2).min(Duration::from_millis(500));
            }
            _ => {
                // The holder writes its row just after taking the lock: give
                // it a moment to appear rather than naming nobody.
                let mut current = None;
                for _ in 0..40 {
                    current = read_holder_row(&t, c).await?.map(|(h, _, _)| h);
                    if current.is_some() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                if current.is_none() && try_lock(&t, c, key).await? {
                    break;
                }
                return Err(StateError::Locked {
                    lock: PathBuf::from(&t.described),
                    holder: Box::new(current.unwrap_or_else(unknown_holder)),
                    stale: false,
                    waited: wait.map(|_| start.elapsed()),
                });
            }
        }
    }
    let json = serde_json::to_string(&holder).map_err(|source| StateError::Encode {
        what: "the lock holder",
        path: PathBuf::from(&t.described),
        source,
    })?;
    c.execute(
        &format!(
            "INSERT INTO {} (name, holder, backend_pid, backend_start, heartbeat_at) \
             SELECT $1, $2::text::jsonb, pg_backend_pid(), backend_start, now() \
             FROM pg_stat_activity WHERE pid = pg_backend_pid() \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
             backend_pid = excluded.backend_pid, backend_start = excluded.backend_start, \
             heartbeat_at = excluded.heartbeat_at",
            t.q("locks")
        ),
        &[&t.url.name, &json],
    )
    .await
    .map_err(|e| t.db_err("record the lock holder in", pg_detail(&e)))?;

    let Conn { client, closed } = conn;
    let client = Arc::new(tokio::sync::Mutex::new(client));
    let stopping = Arc::new(AtomicBool::new(false));
    let session = Session {
        client: Arc::clone(&client),
        lost: Arc::clone(&closed),
        stopping: Arc::clone(&stopping),
    };
    tokio::spawn(heartbeat(t, client, closed, stopping));
    Ok(session)
}

async fn try_lock(t: &Target, c: &Client, key: i64) -> Result<bool, StateError> {
    let row = c
        .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
        .await
        .map_err(|e| t.db_err("take the lock in", pg_detail(&e)))?;
    Ok(row.get(0))
}

/// Every [`HEARTBEAT`]: a query on the lock session within
/// [`ALIVE_TIMEOUT`], stamping `heartbeat_at`; a failure marks it lost.
async fn heartbeat(
    t: Arc<Target>,
    client: Arc<tokio::sync::Mutex<Client>>,
    lost: Arc<Mutex<Option<String>>>,
    stopping: Arc<AtomicBool>,
) {
    let sql = format!(
        "UPDATE {} SET heartbeat_at = now() WHERE name = $1 AND backend_pid = pg_backend_pid()",
        t.q("locks")
    );
    loop {
        tokio::time::sleep(HEARTBEAT).await;
        if stopping.load(Ordering::SeqCst) || lost.lock().map(|l| l.is_some()).unwrap_or(true) {
            return;
        }
        // A commit in progress is proof of life enough.
        let Ok(c) = client.try_lock() else { continue };
        let answer = tokio::time::timeout(ALIVE_TIMEOUT, c.execute(&sql, &[&t.url.name])).await;
        drop(c);
        let why = match answer {
            Ok(Ok(_)) => continue,
            Ok(Err(e)) => pg_detail(&e),
            Err(_) => format!(
                "no answer to the heartbeat within {}s",
                ALIVE_TIMEOUT.as_secs()
            ),
        };
        if let Ok(mut l) = lost.lock() {
            l.get_or_insert(why);
        }
        return;
    }
}

/// A held PostgreSQL lock.
#[derive(Debug)]
pub(crate) struct PgLock {
    target: Arc<Target>,
    described_path: PathBuf,
    holder: LockHolder,
    session: Option<Session>,
}

impl PgLock {
    pub(crate) fn holder(&self) -> &LockHolder {
        &self.holder
    }

    fn lost(&self, detail: String) -> StateError {
        StateError::LockSessionLost {
            location: self.target.described.clone(),
            detail,
        }
    }

    /// The lock session answers a query within [`ALIVE_TIMEOUT`].
    pub(crate) fn check_alive(&self) -> Result<(), StateError> {
        let Some(s) = &self.session else {
            return Err(self.lost("the lock was released".to_owned()));
        };
        if let Some(why) = s.lost_reason() {
            return Err(self.lost(why));
        }
        let client = Arc::clone(&s.client);
        let lost = Arc::clone(&s.lost);
        let answer = block(async move {
            let c = client.lock().await;
            match tokio::time::timeout(ALIVE_TIMEOUT, c.simple_query("SELECT 1")).await {
                Ok(Ok(_)) => Ok(None),
                Ok(Err(e)) => Ok(Some(pg_detail(&e))),
                Err(_) => Ok(Some(format!(
                    "no answer within {}s",
                    ALIVE_TIMEOUT.as_secs()
                ))),
            }
        })?;
        match answer {
            None => Ok(()),
            Some(why) => {
                if let Ok(mut l) = lost.lock() {
                    l.get_or_insert(why.clone());
                }
                Err(self.lost(why))
            }
        }
    }

    /// The compare-and-swap commit on the lock session (module docs).
    pub(crate) fn commit(
        &self,
        state: &State,
        entry: Option<&HistoryEntry>,
    ) -> Result<(), StateError> {
        if let Some(problem) = state.write_problem() {
            return Err(self.invalid(problem));
        }
        let Some(s) = &self.session else {
            return Err(self.lost("the lock was released".to_owned()));
        };
        if let Some(why) = s.lost_reason() {
            return Err(self.lost(why));
        }
        let text = serde_json::to_string_pretty(state).map_err(|source| StateError::Encode {
            what: "the state",
            path: self.described_path.clone(),
            source,
        })? + "\n";
        let line = entry
            .map(|e| history_json(e, &self.target.described))
            .transpose()?;
        let t = Arc::clone(&self.target);
        let client = Arc::clone(&s.client);
        let lost = Arc::clone(&s.lost);
        let holder_id = self.holder.id.clone();
        let (lineage, serial) = (state.lineage.clone(), state.serial);
        let result = block(async move {
            let mut c = client.lock().await;
            let r = with_timeout(
                &t,
                "commit the state to",
                OP_TIMEOUT,
                cas_commit(
                    &t,
                    &mut c,
                    &holder_id,
                    &lineage,
                    serial,
                    &text,
                    line.as_deref(),
                ),
            )
            .await;
            // A failed transaction on a session that no longer answers is a
            // lost session (ended by force-unlock --force, the network, the
            // server), whatever the driver's error said.
            let closed = r.is_err()
                && (c.is_closed()
                    || !matches!(
                        tokio::time::timeout(ALIVE_TIMEOUT, c.simple_query("SELECT 1")).await,
                        Ok(Ok(_))
                    ));
            Ok((r, closed))
        })?;
        match result {
            (Ok(()), _) => Ok(()),
            (Err(e @ (StateError::Conflict { .. } | StateError::LockLost { .. })), _) => Err(e),
            (Err(e), closed) => {
                let why = e.to_string();
                if closed {
                    if let Ok(mut l) = lost.lock() {
                        l.get_or_insert(why.clone());
                    }
                    Err(self.lost(why))
                } else {
                    Err(e)
                }
            }
        }
    }

    fn invalid(&self, detail: String) -> StateError {
        StateError::InvalidState {
            path: self.described_path.clone(),
            detail,
        }
    }

    /// Unlocks, removes the holder row and closes the session.
    pub(crate) fn release(&mut self) -> Result<(), StateError> {
        let Some(s) = self.session.take() else {
            return Ok(());
        };
        s.stopping.store(true, Ordering::SeqCst);
        if s.lost_reason().is_some() {
            return Ok(());
        }
        let t = Arc::clone(&self.target);
        let id = self.holder.id.clone();
        let client = Arc::clone(&s.client);
        block(async move {
            let c = client.lock().await;
            let r = with_timeout(&t, "release the lock in", ALIVE_TIMEOUT, async {
                c.execute(
                    &format!(
                        "DELETE FROM {} WHERE name = $1 AND holder->>'id' = $2",
                        t.q("locks")
                    ),
                    &[&t.url.name, &id],
                )
                .await
                .map_err(|e| t.db_err("release the lock in", pg_detail(&e)))?;
                c.execute("SELECT pg_advisory_unlock($1)", &[&t.url.lock_key()])
                    .await
                    .map_err(|e| t.db_err("release the lock in", pg_detail(&e)))?;
                Ok(())
            })
            .await;
            drop(c);
            // Dropping the last client handle closes the session.
            drop(client);
            r
        })
    }
}

impl Drop for PgLock {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

async fn cas_commit(
    t: &Target,
    c: &mut Client,
    holder_id: &str,
    lineage: &str,
    serial: u64,
    text: &str,
    line: Option<&str>,
) -> Result<(), StateError> {
    let err = |e: tokio_postgres::Error| t.db_err("commit the state to", pg_detail(&e));
    let tx = c.transaction().await.map_err(err)?;
    let key = t.url.lock_key();
    let ours = tx
        .query_one(
            &format!(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted \
                 AND pid = pg_backend_pid() AND classid::bigint = $1 AND objid::bigint = $2 \
                 AND objsubid = 1), (SELECT holder->>'id' FROM {} WHERE name = $3)",
                t.q("locks")
            ),
            &[
                &((key >> 32) & 0xffff_ffff),
                &(key & 0xffff_ffff),
                &t.url.name,
            ],
        )
        .await
        .map_err(err)?;
    let held: bool = ours.get(0);
    let row_id: Option<String> = ours.get(1);
    if !held || row_id.as_deref() != Some(holder_id) {
        return Err(StateError::LockLost {
            lock: PathBuf::from(&t.described),
            now: None,
        });
    }
    let current = tx
        .query(
            &format!(
                "SELECT lineage, serial FROM {} WHERE name = $1 ORDER BY serial DESC LIMIT 1",
                t.q("states")
            ),
            &[&t.url.name],
        )
        .await
        .map_err(err)?;
    if let Some(row) = current.first() {
        let on_disk: (String, u64) = (row.get(0), u64::try_from(row.get::<_, i64>(1)).unwrap_or(0));
        if on_disk.0 != lineage || on_disk.1 >= serial {
            return Err(StateError::Conflict {
                path: PathBuf::from(&t.described),
                on_disk,
                writing: (lineage.to_owned(), serial),
            });
        }
    }
    tx.execute(
        &format!(
            "INSERT INTO {} (name, serial, lineage, state) VALUES ($1, $2, $3, $4)",
            t.q("states")
        ),
        &[&t.url.name, &to_i64(serial), &lineage, &text],
    )
    .await
    .map_err(err)?;
    if let Some(line) = line {
        tx.execute(
            &format!(
                "INSERT INTO {} (name, entry) VALUES ($1, $2::text::jsonb)",
                t.q("history")
            ),
            &[&t.url.name, &line],
        )
        .await
        .map_err(err)?;
    }
    prune_rows(t, &tx, t.url.keep).await.map_err(err)?;
    tx.commit().await.map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<PgUrl, String> {
        PgUrl::parse(s).map_err(|e| e.to_string())
    }

    #[test]
    fn a_full_url_parses_with_defaults() {
        let u = parse("postgres://ops@db.example.com:6432/orgform?name=acme").unwrap();
        assert_eq!(
            (u.user.as_str(), u.host.as_str(), u.port, u.dbname.as_str()),
            ("ops", "db.example.com", 6432, "orgform")
        );
        assert_eq!((u.name.as_str(), u.schema.as_str()), ("acme", "orgform"));
        assert_eq!((u.sslmode, u.keep), (SslMode::VerifyFull, 20));
        assert_eq!(
            u.describe(),
            "postgres://ops@db.example.com:6432/orgform?name=acme&schema=orgform&sslmode=verify-full"
        );
        let u = parse("postgresql://ops@127.0.0.1/db?name=a&schema=team_2&sslmode=disable&keep=3")
            .unwrap();
        assert_eq!((u.port, u.schema.as_str(), u.keep), (5432, "team_2", 3));
    }

    #[test]
    fn a_password_is_refused_and_masked() {
        for url in [
            "postgres://ops:hunter2secret@db.example.com/db?name=acme",
            "postgres://ops@db.example.com/db?name=acme&password=hunter2secret",
        ] {
            let err = parse(url).unwrap_err();
            assert!(!err.contains("hunter2secret"), "{err}");
            assert!(err.contains("***"), "{err}");
            assert!(err.contains("PGPASSWORD"), "{err}");
        }
        assert_eq!(
            mask_location("postgres://a:b@c:d@h/x?password=p&name=n"),
            "postgres://a:***@h/x?password=***&name=n"
        );
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        let cases = [
            ("postgres://ops@db.example.com/db", "add `?name=NAME`"),
            (
                "postgres://ops@db.example.com/db?name=a&sslmode=disable",
                "loopback",
            ),
            (
                "postgres://ops@db.example.com/db?name=a&sslmode=prefer",
                "not supported",
            ),
            (
                "postgres://ops@db.example.com/db?name=a&keep=0",
                "at least 1",
            ),
            (
                "postgres://ops@db.example.com/db?name=a&schema=Bad-Name",
                "identifier",
            ),
            (
                "postgres://ops@db.example.com/db?name=a&nmae=b",
                "unknown query key `nmae`",
            ),
            ("postgres://ops@db.example.com/db?name=a&name=b", "twice"),
            ("postgres:///db?name=a", "no host"),
        ];
        for (url, want) in cases {
            let err = parse(url).unwrap_err();
            assert!(err.contains(want), "{url}: {err}");
            assert!(err.starts_with("state location `postgres"), "{err}");
        }
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("localhost") && is_loopback("127.0.0.2") && is_loopback("[::1]"));
        assert!(!is_loopback("db.example.com") && !is_loopback("10.0.0.1"));
        assert!(is_postgres_location("postgres://x") && is_postgres_location("POSTGRESQL://x"));
        assert!(!is_postgres_location("./postgres/state.json"));
    }

    #[test]
    fn pgpass_lines_match_like_libpq() {
        let u = PgUrl::parse("postgres://ops@db.example.com:5432/orgform?name=a").unwrap();
        let text = "# comment\nother:5432:*:ops:nope\ndb.example.com:*:orgform:ops:pa\\:ss\\\\w\n*:*:*:*:fallback\n";
        assert_eq!(pgpass_lookup(text, &u).as_deref(), Some("pa:ss\\w"));
        assert_eq!(
            pgpass_lookup("*:*:*:*:fallback", &u).as_deref(),
            Some("fallback")
        );
        assert_eq!(pgpass_lookup("h:1:d:u:p", &u), None);
    }

    #[test]
    fn lock_keys_differ_by_schema_and_name() {
        let a = key_of(&["orgform-state", "s", "acme"]);
        assert_ne!(a, key_of(&["orgform-state", "s2", "acme"]));
        assert_ne!(a, key_of(&["orgform-state", "sa", "cme"]));
        assert_eq!(a, key_of(&["orgform-state", "s", "acme"]));
    }
}
