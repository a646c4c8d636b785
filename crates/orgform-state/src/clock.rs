//! The one place the crate reads the clock (a leaf module).

use std::time::SystemTime;

/// The current time, RFC 3339 UTC, whole seconds.
pub(crate) fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}
