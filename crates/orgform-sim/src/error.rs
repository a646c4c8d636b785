//! [`SimError`]: the emulator's one error type (setup only; requests
//! are answered, never errors).

use std::net::SocketAddr;
use std::path::PathBuf;

/// Errors of the emulator's setup (requests are answered, never errors).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The fixture file cannot be read.
    #[error("cannot read the fixture `{}`", path.display())]
    FixtureRead {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The fixture file is not a fixture.
    #[error("the fixture `{}` is not valid: {source}", path.display())]
    FixtureParse {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The fixture contradicts itself.
    #[error("the fixture {origin} is inconsistent: {problems}")]
    FixtureInvalid {
        /// The file in backticks, or "given in memory".
        origin: String,
        /// Every problem, separated by `; `.
        problems: String,
    },
    /// The data file exists but cannot be read.
    #[error("cannot read the data file `{}`", path.display())]
    DataRead {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The data file is not one the emulator wrote, or contradicts the fixture.
    #[error("the data file `{}` is not valid: {message}", path.display())]
    DataInvalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The data file cannot be written.
    #[error("cannot write the data file `{}`", path.display())]
    DataWrite {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A `--fault` spec is malformed.
    #[error("bad fault `{spec}`: {reason}")]
    FaultSpec {
        /// The spec as given.
        spec: String,
        /// What is wrong.
        reason: String,
    },
    /// The address cannot be listened on.
    #[error("cannot listen on `{addr}`")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
