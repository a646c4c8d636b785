//! Error codes of the emulator's answers: the wire codes shared with the
//! client, plus the emulator's own.

pub use orgform_frankly::wire::codes::*;

/// A request record collides with a manually created one (emulator).
pub const MANUAL_RECORD_CONFLICT: &str = "manualRecordConflict";
/// The group hierarchy would have a cycle (emulator).
pub const GROUP_CYCLE: &str = "groupCycle";
/// `503`: an injected fault; nothing was changed (emulator).
pub const SERVICE_UNAVAILABLE: &str = "serviceUnavailable";
/// `500`: the data file could not be written; nothing was changed.
pub const INTERNAL_ERROR: &str = "internalError";
/// `404`: no such endpoint.
pub const NOT_FOUND: &str = "notFound";
/// `405`: the endpoint does not take this method.
pub const METHOD_NOT_ALLOWED: &str = "methodNotAllowed";
