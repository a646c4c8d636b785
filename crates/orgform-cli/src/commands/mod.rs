//! One module per command. Each `run` returns the exit code, or an error
//! that `main` prints with its cause chain (exit 1).

pub mod apply;
pub mod fmt;
pub mod graph;
pub mod history;
pub mod import;
pub mod plan;
pub mod preflight;
pub mod review;
pub mod schema;
pub mod show;
pub mod sim;
pub mod state;
pub mod validate;

use std::path::Path;

use anyhow::{Context, bail};
use orgform_model::EffectiveOrg;
use orgform_spec::{LoadOptions, ValidatedSpec};
use orgform_state::{ChangeCounts, KindCounts, State, Store};

use crate::output;

/// How spec diagnostics reach stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Diagnostics {
    /// In full, with the offending snippets.
    Full,
    /// Counts only: snippets and messages quote personal data (`--redact`).
    Redacted,
}

/// Loads and validates a spec; diagnostics (errors and warnings) go to
/// stderr, and an invalid spec is an error.
pub fn load_spec(path: &Path) -> anyhow::Result<ValidatedSpec> {
    load_spec_with(path, Diagnostics::Full)
}

/// [`load_spec`], choosing how diagnostics are shown.
pub fn load_spec_with(path: &Path, shown: Diagnostics) -> anyhow::Result<ValidatedSpec> {
    let print = |diags: &orgform_spec::Diagnostics| match shown {
        Diagnostics::Full => output::print_stderr(&diags.render(output::stderr_color())),
        Diagnostics::Redacted => output::print_stderr(&format!(
            "{} diagnostic{} hidden by --redact (they quote the spec); run `orgform validate {}` \
             where the output is private\n",
            diags.len(),
            if diags.len() == 1 { "" } else { "s" },
            path.display()
        )),
    };
    match orgform_spec::load(path, &LoadOptions::default()) {
        Ok(spec) => {
            if !spec.warnings().is_empty() {
                print(spec.warnings());
            }
            Ok(spec)
        }
        Err(diags) => {
            print(&diags);
            let errors = diags.iter().filter(|d| d.severity.is_error()).count();
            bail!(
                "spec `{}` is invalid ({errors} error{}); nothing was planned or sent",
                path.display(),
                if errors == 1 { "" } else { "s" }
            )
        }
    }
}

/// The state store chosen by `--state`, `ORGFORM_STATE` or the default path:
/// a file path, or a `postgres://` URL. A URL that cannot be used fails at
/// the store's first operation, saying why (with any password masked).
pub fn store(flag: Option<&Path>) -> Store {
    Store::resolve(flag)
}

/// Reads the state (no lock: reading is safe, writes are atomic or
/// transactional).
pub fn load_state(store: &Store) -> anyhow::Result<Option<State>> {
    store
        .load()
        .with_context(|| format!("cannot read the state `{}`", store.describe()))
}

/// The planner's view of a state; `empty` stands in when there is none.
pub fn base<'a>(state: Option<&'a State>, empty: &'a EffectiveOrg) -> orgform_plan::Base<'a> {
    match state {
        Some(s) => orgform_plan::Base {
            lineage: Some(&s.lineage),
            serial: s.serial,
            org: &s.org,
        },
        None => orgform_plan::Base {
            lineage: None,
            serial: 0,
            org: empty,
        },
    }
}

/// The env var naming the endpoint when `--endpoint` is not given.
pub const ENDPOINT_ENV: &str = "ORGFORM_ENDPOINT";

/// Where an endpoint came from (DESIGN section 10's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointSource {
    /// `--endpoint`.
    Flag,
    /// `ORGFORM_ENDPOINT`.
    Env,
    /// The spec's `target.endpoint`.
    Spec,
    /// The endpoint the state was applied to.
    State,
    /// The real API's address.
    Default,
}

impl EndpointSource {
    /// Whether the operator (not a file a pull request can edit) chose it.
    pub fn is_operators(self) -> bool {
        matches!(self, EndpointSource::Flag | EndpointSource::Env)
    }
}

/// The endpoint a run sends to, and why that one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The URL.
    pub url: String,
    /// Where it came from.
    pub source: EndpointSource,
}

/// `--endpoint`, else `ORGFORM_ENDPOINT`, else the spec's
/// `target.endpoint`, else the endpoint the state was applied to, else the
/// real API's. Empty values count as unset.
pub fn choose_endpoint(
    flag: Option<&str>,
    spec: &ValidatedSpec,
    state: Option<&State>,
) -> Endpoint {
    let env = std::env::var(ENDPOINT_ENV).ok();
    choose_endpoint_from(
        flag,
        env.as_deref(),
        spec.org().target.endpoint.as_deref(),
        state,
    )
}

fn choose_endpoint_from(
    flag: Option<&str>,
    env: Option<&str>,
    spec: Option<&str>,
    state: Option<&State>,
) -> Endpoint {
    let given = |v: Option<&str>| {
        v.map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let candidates = [
        (given(flag), EndpointSource::Flag),
        (given(env), EndpointSource::Env),
        (given(spec), EndpointSource::Spec),
        (
            given(state.and_then(|s| s.endpoint.as_deref())),
            EndpointSource::State,
        ),
    ];
    candidates
        .into_iter()
        .find_map(|(url, source)| url.map(|url| Endpoint { url, source }))
        .unwrap_or_else(|| Endpoint {
            url: orgform_frankly::DEFAULT_ENDPOINT.to_owned(),
            source: EndpointSource::Default,
        })
}

/// An endpoint as it may be printed: userinfo, query values and the
/// fragment masked (the one masking, [`orgform_frankly::mask_endpoint`]).
pub fn shown_endpoint(url: &str) -> String {
    orgform_frankly::mask_endpoint(url)
}

/// The endpoint checked before anything else is done with it: credentials
/// in it refused (the error shows it masked), plain `http` only to
/// loopback; on success the URL is the normalised form that is safe to
/// store and print.
pub fn check_endpoint(endpoint: Endpoint) -> anyhow::Result<Endpoint> {
    let url = orgform_frankly::checked_endpoint(&endpoint.url)
        .context("refusing the endpoint before anything was sent")?;
    Ok(Endpoint { url, ..endpoint })
}

/// The normalised form of an endpoint a state recorded (as it was, if it
/// no longer passes the check).
fn normalised(url: &str) -> String {
    orgform_frankly::checked_endpoint(url).unwrap_or_else(|_| url.to_owned())
}

/// Refuses to send a state's records to an endpoint other than the one it
/// was applied to, unless the operator says the API moved.
pub fn check_endpoint_moved(
    state: Option<&State>,
    endpoint: &Endpoint,
    moved: bool,
) -> anyhow::Result<()> {
    if let Some(applied_to) = state.and_then(|s| s.endpoint.as_deref())
        && normalised(applied_to) != normalised(&endpoint.url)
        && !moved
    {
        bail!(
            "the state was applied to `{}`, not `{}`: refusing to send one account's records to \
             another; if the API really moved, pass --endpoint-moved",
            shown_endpoint(applied_to),
            shown_endpoint(&endpoint.url)
        );
    }
    Ok(())
}

/// The token named by the spec's `target.tokenEnv` (default
/// `FRANKLY_API_TOKEN`).
pub fn token_for(
    spec: &ValidatedSpec,
) -> Result<orgform_frankly::Token, orgform_frankly::ClientError> {
    let var = spec
        .org()
        .target
        .token_env
        .clone()
        .unwrap_or_else(|| orgform_frankly::DEFAULT_TOKEN_ENV.to_owned());
    orgform_frankly::Token::from_env(&var)
}

/// Command-line overrides of the spec's client settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientOverrides {
    /// `--max-retries`.
    pub max_retries: Option<u32>,
    /// `--retry-budget`.
    pub retry_budget: Option<std::time::Duration>,
    /// `--request-timeout`.
    pub request_timeout: Option<std::time::Duration>,
}

/// The client for `endpoint`, with the spec's `target` settings and the
/// overrides; every retry is announced on stderr the same way for apply
/// and preflight.
pub fn client(
    spec: &ValidatedSpec,
    endpoint: &Endpoint,
    token: orgform_frankly::Token,
    overrides: ClientOverrides,
) -> anyhow::Result<orgform_frankly::Client> {
    let mut config =
        orgform_frankly::ClientConfig::from_target(&spec.org().target, Some(&endpoint.url), token);
    if let Some(n) = overrides.max_retries {
        config.retry.max_retries = n;
    }
    if let Some(budget) = overrides.retry_budget {
        config.retry.budget = budget;
    }
    if let Some(timeout) = overrides.request_timeout {
        config.request_timeout = timeout;
    }
    Ok(orgform_frankly::Client::new(config)
        .context("cannot set up the &frankly client")?
        .with_retry_observer(|event| output::print_stderr(&format!("retrying: {event}\n"))))
}

/// The single-threaded runtime the requests run on.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// A plan's (or a wave's) counts as the history records them.
pub fn planned_counts(summary: &orgform_plan::Summary) -> ChangeCounts {
    let c = |k: &orgform_plan::KindSummary| KindCounts {
        create: k.create as u64,
        update: k.update as u64,
        delete: k.delete as u64,
        unchanged: k.unchanged as u64,
    };
    ChangeCounts {
        users: c(&summary.users),
        groups: c(&summary.groups),
    }
}

/// One wave's counts, in the same shape (nothing "unchanged" per wave).
pub fn wave_counts(wave: &orgform_plan::Wave) -> ChangeCounts {
    let k = |c: &orgform_plan::WaveCounts| KindCounts {
        create: c.create as u64,
        update: c.update as u64,
        delete: c.delete as u64,
        unchanged: 0,
    };
    ChangeCounts {
        users: k(&wave.users),
        groups: k(&wave.groups),
    }
}

/// The server's counts, when it reported them.
pub fn reported_counts(answer: &orgform_frankly::Answer) -> Option<ChangeCounts> {
    let c = |k: &orgform_frankly::wire::Counts| KindCounts {
        create: k.created,
        update: k.updated,
        delete: k.deleted,
        unchanged: k.unchanged,
    };
    match answer {
        orgform_frankly::Answer::Reported(r) => Some(ChangeCounts {
            users: c(&r.users),
            groups: c(&r.groups),
        }),
        orgform_frankly::Answer::CountsNotReported { .. } => None,
    }
}

/// One count on which the server and the plan disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Difference {
    /// Users or groups.
    pub kind: orgform_model::Kind,
    /// `created`, `updated` or `deleted`.
    pub action: &'static str,
    /// What the plan counted.
    pub planned: u64,
    /// What the server reported.
    pub server: u64,
}

/// Every count of `server` that differs from `planned`: users first, then
/// created, updated, deleted.
pub fn differences(planned: &ChangeCounts, server: &ChangeCounts) -> Vec<Difference> {
    let mut out = Vec::new();
    for (kind, p, s) in [
        (orgform_model::Kind::User, &planned.users, &server.users),
        (orgform_model::Kind::Group, &planned.groups, &server.groups),
    ] {
        for (action, p, s) in [
            ("created", p.create, s.create),
            ("updated", p.update, s.update),
            ("deleted", p.delete, s.delete),
        ] {
            if p != s {
                out.push(Difference {
                    kind,
                    action,
                    planned: p,
                    server: s,
                });
            }
        }
    }
    out
}

/// `users 3 created, 0 updated, 0 deleted; groups …`, with `(planned N)`
/// after each count the server reported differently.
pub fn counts_line(server: &ChangeCounts, planned: Option<&ChangeCounts>) -> String {
    let kind = |name: &str, got: &KindCounts, want: Option<&KindCounts>| {
        let parts: Vec<String> = [
            ("created", got.create, want.map(|w| w.create)),
            ("updated", got.update, want.map(|w| w.update)),
            ("deleted", got.delete, want.map(|w| w.delete)),
        ]
        .into_iter()
        .map(|(action, g, w)| match w {
            Some(w) if w != g => format!("{g} {action} (planned {w})"),
            _ => format!("{g} {action}"),
        })
        .collect();
        format!("{name} {}", parts.join(", "))
    };
    format!(
        "{}; {}",
        kind("users", &server.users, planned.map(|p| &p.users)),
        kind("groups", &server.groups, planned.map(|p| &p.groups))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_comes_from_the_flag_then_env_then_spec_then_state() {
        let state = State::first(
            EffectiveOrg::default(),
            "sha256:00",
            Some("http://127.0.0.1:1/s"),
        );
        let pick = |flag, env, spec, state| choose_endpoint_from(flag, env, spec, state);
        let all = pick(Some("f"), Some("e"), Some("s"), Some(&state));
        assert_eq!((all.url.as_str(), all.source), ("f", EndpointSource::Flag));
        let env = pick(Some(" "), Some("e"), Some("s"), Some(&state));
        assert_eq!(env.source, EndpointSource::Env, "a blank flag is no flag");
        assert_eq!(
            pick(None, None, Some("s"), Some(&state)).source,
            EndpointSource::Spec
        );
        let from_state = pick(None, Some(""), None, Some(&state));
        assert_eq!(
            (from_state.url.as_str(), from_state.source),
            ("http://127.0.0.1:1/s", EndpointSource::State)
        );
        let default = pick(None, None, None, None);
        assert_eq!(default.url, orgform_frankly::DEFAULT_ENDPOINT);
        assert_eq!(default.source, EndpointSource::Default);
    }

    #[test]
    fn a_shown_endpoint_has_no_credentials() {
        assert_eq!(
            shown_endpoint("https://user:s3cret@api.example.com/v1/organization?api_key=s3cret#x"),
            "https://***@api.example.com/v1/organization?api_key=***#***"
        );
        let err = check_endpoint(Endpoint {
            url: "https://user:s3cret@api.example.com/v1".to_owned(),
            source: EndpointSource::Flag,
        })
        .unwrap_err();
        assert!(!format!("{err:#}").contains("s3cret"), "{err:#}");
        assert_eq!(
            shown_endpoint("http://127.0.0.1:8080/v1/organization"),
            "http://127.0.0.1:8080/v1/organization"
        );
        assert!(!shown_endpoint("tok@en?key=s3cret").contains("s3cret"));
    }

    #[test]
    fn differences_name_each_count_that_differs() {
        let mut planned = ChangeCounts::default();
        planned.users.create = 3;
        let mut server = planned;
        assert!(differences(&planned, &server).is_empty());
        server.users.create = 1;
        server.groups.delete = 2;
        let d = differences(&planned, &server);
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].action, d[0].planned, d[0].server), ("created", 3, 1));
        assert_eq!(
            counts_line(&server, Some(&planned)),
            "users 1 created (planned 3), 0 updated, 0 deleted; groups 0 created, 0 updated, 2 deleted (planned 0)"
        );
    }
}
