//! Injected faults, for testing how a client copes with a bad network or a
//! struggling server. They apply to `POST /v1/organization` only; the
//! emulator-only endpoints are never faulted, so a test can always look and
//! reset.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::SimError;

/// The longest latency a fault may add: a bigger one would hang every
/// request (DESIGN section 11), so it is refused.
pub const MAX_LATENCY: Duration = Duration::from_secs(600);

/// The faults in force. The default is none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Added before each API request with a valid token is handled (at
    /// most [`MAX_LATENCY`]).
    pub latency: Duration,
    /// The next N API requests answer `503` and change nothing.
    pub fail_next: u32,
    /// The next N requests that commit (`validateOnly: false`, accepted)
    /// commit and persist, then the connection is closed without an answer,
    /// as if the network failed after the server did the work.
    pub drop_after_commit_next: u32,
}

/// One `--fault` argument:
///
/// | spec | effect |
/// |---|---|
/// | `latency=200ms` | every API request waits this long first (humantime: `1s`, `1500ms`, `0s`) |
/// | `fail=3` | the next 3 API requests answer `503`, changing nothing |
/// | `drop-after-commit=1` | the next request that commits drops its connection without an answer |
///
/// ```
/// use orgform_sim::{FaultSpec, Faults};
/// let mut faults = Faults::default();
/// faults.apply("fail=2".parse::<FaultSpec>().unwrap());
/// faults.apply_spec("latency=50ms").unwrap();
/// assert_eq!(faults.fail_next, 2);
/// assert_eq!(faults.latency.as_millis(), 50);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultSpec {
    /// `latency=DURATION`
    Latency(Duration),
    /// `fail=N`
    Fail(u32),
    /// `drop-after-commit=N`
    DropAfterCommit(u32),
}

impl FromStr for FaultSpec {
    type Err = SimError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason: String| SimError::FaultSpec {
            spec: s.to_owned(),
            reason,
        };
        let Some((name, value)) = s.split_once('=') else {
            return Err(bad(
                "expected NAME=VALUE: latency=200ms, fail=3 or drop-after-commit=1".to_owned(),
            ));
        };
        let count = |value: &str| {
            value
                .trim()
                .parse::<u32>()
                .map_err(|_| bad(format!("`{value}` is not a count (0, 1, 2, …)")))
        };
        match name.trim() {
            "latency" => match humantime::parse_duration(value.trim()) {
                Ok(d) if d > MAX_LATENCY => Err(bad(format!(
                    "`{value}` is more than the largest latency, 10m"
                ))),
                Ok(d) => Ok(FaultSpec::Latency(d)),
                Err(e) => Err(bad(format!(
                    "`{value}` is not a duration ({e}; e.g. 200ms, 1s)"
                ))),
            },
            "fail" => count(value).map(FaultSpec::Fail),
            "drop-after-commit" => count(value).map(FaultSpec::DropAfterCommit),
            other => Err(bad(format!(
                "unknown fault `{other}` (known: latency, fail, drop-after-commit)"
            ))),
        }
    }
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultSpec::Latency(d) => write!(f, "latency={}", humantime::format_duration(*d)),
            FaultSpec::Fail(n) => write!(f, "fail={n}"),
            FaultSpec::DropAfterCommit(n) => write!(f, "drop-after-commit={n}"),
        }
    }
}

impl Faults {
    /// Sets the fault a spec names (a later spec of the same kind wins).
    pub fn apply(&mut self, spec: FaultSpec) {
        match spec {
            FaultSpec::Latency(d) => self.latency = d,
            FaultSpec::Fail(n) => self.fail_next = n,
            FaultSpec::DropAfterCommit(n) => self.drop_after_commit_next = n,
        }
    }

    /// Parses one `--fault` spec (see [`FaultSpec`]) and applies it.
    pub fn apply_spec(&mut self, spec: &str) -> Result<(), SimError> {
        self.apply(spec.parse()?);
        Ok(())
    }
}

/// The JSON of `POST /_sim/faults` (every key optional; given ones replace
/// the current value) and of its answer (every key).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultsBody {
    /// Added latency in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// The next N API requests answer 503.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_next: Option<u32>,
    /// The next N commits drop the connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_after_commit_next: Option<u32>,
}

impl FaultsBody {
    /// Applies the given keys; a `latencyMs` above [`MAX_LATENCY`] is
    /// refused, changing nothing.
    pub(crate) fn apply_to(&self, faults: &mut Faults) -> Result<(), String> {
        if let Some(ms) = self.latency_ms {
            let latency = Duration::from_millis(ms);
            if latency > MAX_LATENCY {
                return Err(format!(
                    "`latencyMs` {ms} is more than the largest latency, 600000 (10 minutes)"
                ));
            }
            faults.latency = latency;
        }
        if let Some(n) = self.fail_next {
            faults.fail_next = n;
        }
        if let Some(n) = self.drop_after_commit_next {
            faults.drop_after_commit_next = n;
        }
        Ok(())
    }

    /// Every key of the faults in force.
    pub(crate) fn of(faults: &Faults) -> Self {
        FaultsBody {
            latency_ms: Some(u64::try_from(faults.latency.as_millis()).unwrap_or(u64::MAX)),
            fail_next: Some(faults.fail_next),
            drop_after_commit_next: Some(faults.drop_after_commit_next),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_display_round_trip() {
        for s in [
            "latency=200ms",
            "fail=3",
            "drop-after-commit=1",
            "latency=1s",
        ] {
            let spec: FaultSpec = s.parse().unwrap();
            assert_eq!(spec.to_string(), s);
        }
        assert_eq!(
            "latency=1500ms".parse::<FaultSpec>().unwrap(),
            FaultSpec::Latency(Duration::from_millis(1500))
        );
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let cases = [
            ("latency", "expected NAME=VALUE"),
            ("fail=-1", "is not a count"),
            ("fail=x", "is not a count"),
            ("latency=fast", "is not a duration"),
            ("latency=11m", "more than the largest latency"),
            ("explode=1", "unknown fault `explode`"),
        ];
        for (spec, want) in cases {
            let err = spec.parse::<FaultSpec>().unwrap_err().to_string();
            assert!(err.contains(want), "{spec}: {err}");
            assert!(err.contains(&format!("`{spec}`")), "{spec}: {err}");
        }
    }

    #[test]
    fn a_latency_above_ten_minutes_is_refused_changing_nothing() {
        let mut faults = Faults::default();
        let ok = FaultsBody {
            latency_ms: Some(600_000),
            ..FaultsBody::default()
        };
        ok.apply_to(&mut faults).unwrap();
        assert_eq!(faults.latency, MAX_LATENCY);
        let too_much = FaultsBody {
            latency_ms: Some(u64::MAX),
            fail_next: Some(3),
            ..FaultsBody::default()
        };
        let err = too_much.apply_to(&mut faults).unwrap_err();
        assert!(err.contains("10 minutes"), "{err}");
        assert_eq!(faults.latency, MAX_LATENCY);
        assert_eq!(faults.fail_next, 0);
    }

    #[test]
    fn later_specs_replace_earlier_ones() {
        let mut f = Faults::default();
        f.apply_spec("fail=3").unwrap();
        f.apply_spec("fail=1").unwrap();
        f.apply_spec("drop-after-commit=2").unwrap();
        assert_eq!(
            f,
            Faults {
                latency: Duration::ZERO,
                fail_next: 1,
                drop_after_commit_next: 2
            }
        );
    }
}
