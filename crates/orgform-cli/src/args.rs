//! The command line, as clap types. Every command's `--help` carries a short example.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Terraform-style plan/apply for the users and groups of an &frankly organization.
#[derive(Debug, Parser)]
#[command(
    name = "orgform",
    version,
    about,
    long_about = "Terraform-style plan/apply for the users and groups of an &frankly organization.\n\n\
        Keep your people and org structure as a YAML spec in Git; orgform diffs it against the \
        last applied state, shows a create/update/delete plan, checks it against safety limits \
        and the group hierarchy, and applies it through the &frankly organization API.",
    after_help = "Examples:\n  orgform validate specs/acme\n  orgform plan specs/acme --out acme.orgplan\n  orgform apply acme.orgplan"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a spec: every problem at once, each with file:line:column and a hint.
    #[command(after_help = "Example:\n  orgform validate specs/acme --format json")]
    Validate(ValidateArgs),
    /// Show what apply would change, without changing anything.
    #[command(
        after_help = "Examples:\n  orgform plan specs/acme\n  orgform plan specs/acme --format json --out acme.orgplan\n  orgform plan --detailed-exitcode   # exit 0: no changes, 2: changes, 1: error"
    )]
    Plan(PlanArgs),
    /// Apply a spec or a saved plan to &frankly, after showing the plan.
    #[command(
        after_help = "Examples:\n  orgform apply specs/acme\n  orgform apply acme.orgplan --auto-approve\n  FRANKLY_API_TOKEN=… orgform apply --endpoint http://127.0.0.1:8080/v1/organization"
    )]
    Apply(ApplyArgs),
    /// Render a saved plan.
    #[command(after_help = "Example:\n  orgform show acme.orgplan --format markdown")]
    Show(ShowArgs),
    /// Inspect the last applied state.
    #[command(
        subcommand,
        after_help = "Examples:\n  orgform state show\n  orgform state list"
    )]
    State(StateCommand),
    /// Remove a state lock left behind by a crashed run.
    #[command(after_help = "Example:\n  orgform force-unlock --state .orgform/state.json")]
    ForceUnlock(ForceUnlockArgs),
    /// The audit trail: who applied what, and when.
    #[command(
        after_help = "Examples:\n  orgform history\n  orgform history --id E001060          # who created or deleted E001060, and when\n  orgform history --since 2026-11-01 --format json"
    )]
    History(HistoryArgs),
    /// Run a local emulator of the &frankly organization API.
    #[command(
        after_help = "Example:\n  orgform sim --listen 127.0.0.1:0 --token-env SIM_TOKEN --data sim.json"
    )]
    Sim(SimArgs),
    /// Rewrite spec files in the canonical key order and layout (comments kept).
    #[command(
        after_help = "Examples:\n  orgform fmt specs/acme\n  orgform fmt --check specs/acme   # CI: exit 1 and list the files fmt would change\n  orgform fmt --fix specs/acme     # also quote bare numeric ids and phones, yes/no -> true/false"
    )]
    Fmt(FmtArgs),
    /// Draw the group hierarchy (after the plan) as Mermaid or Graphviz DOT.
    #[command(
        after_help = "Examples:\n  orgform graph specs/acme --changes > tree.mmd\n  orgform graph specs/acme --format dot | dot -Tsvg > tree.svg"
    )]
    Graph(GraphArgs),
    /// Turn an HR system's export (CSV or JSON) into spec files, through a preset or a mapping.
    #[command(
        after_help = "Examples:\n  orgform import export.csv --preset alexis --out specs/acme\n  orgform import --print-preset alexis > mapping.yaml\n  orgform import a.csv b.json --mapping mapping.yaml --out specs/acme"
    )]
    Import(ImportArgs),
    /// Print the JSON Schema of the spec (or of an import mapping), for editors.
    #[command(
        after_help = "Examples:\n  orgform schema > orgform.schema.json\n  orgform schema --mapping > orgform-mapping.schema.json"
    )]
    Schema(SchemaArgs),
    /// Print a shell completion script.
    #[command(after_help = "Example:\n  orgform completions bash > /etc/bash_completion.d/orgform")]
    Completions(CompletionsArgs),
}

/// Where the state lives.
#[derive(Debug, Args, Clone)]
pub struct StateArg {
    /// The state file, or a PostgreSQL URL `postgres://USER@HOST:PORT/DB?name=NAME` (password
    /// from PGPASSWORD or ~/.pgpass) [default: $ORGFORM_STATE, else ./.orgform/state.json].
    #[arg(long, value_name = "PATH|URL")]
    pub state: Option<PathBuf>,
}

/// `orgform validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// A spec file, or a directory of *.yaml/*.yml files.
    #[arg(value_name = "SPEC", default_value = "orgform.yaml")]
    pub spec: PathBuf,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = DiagnosticFormat::Text)]
    pub format: DiagnosticFormat,
    /// Draw every diagnostic (text output sums up those past the first three of one code; JSON always has all).
    #[arg(long)]
    pub all: bool,
}

/// Diagnostic output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagnosticFormat {
    /// For people: rustc-like, with the offending snippet.
    Text,
    /// For machines.
    Json,
    /// A pull-request comment (the plan comment's marker), for CI.
    Markdown,
}

/// Plan output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// Terraform-like, for terminals.
    Text,
    /// For pull-request comments.
    Markdown,
    /// The versioned JSON contract.
    Json,
    /// A unified diff of the effective state before and after the plan.
    Diff,
}

/// `orgform plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// A spec file, or a directory of *.yaml/*.yml files.
    #[arg(value_name = "SPEC", default_value = "orgform.yaml")]
    pub spec: PathBuf,
    #[command(flatten)]
    pub state: StateArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Save the plan, to apply exactly it later with `orgform apply PLANFILE`.
    #[arg(long, value_name = "PLANFILE")]
    pub out: Option<PathBuf>,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Pass client-side safety thresholds knowingly (never a protected record or an API limit).
    #[arg(long)]
    pub force: bool,
    /// Also send the plan to the server with validateOnly and compare its counts (drift).
    #[arg(long)]
    pub preflight: bool,
    /// The endpoint for --preflight [default: the spec's target.endpoint, else &frankly's].
    #[arg(long, value_name = "URL", requires = "preflight")]
    pub endpoint: Option<String>,
    /// Mask emails, phones, names and attribute values in every output.
    #[arg(long)]
    pub redact: bool,
    /// Write a CSV of every user or group to be deleted or deactivated.
    #[arg(long, value_name = "FILE")]
    pub deletions_report: Option<PathBuf>,
    /// Compare with a plan saved earlier (the reviewed one): what changed since it.
    #[arg(long, value_name = "PREVIOUS_PLANFILE")]
    pub compare: Option<PathBuf>,
}

/// `orgform apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A spec (file or directory), or a plan saved with `orgform plan --out`.
    #[arg(value_name = "SPEC|PLANFILE", default_value = "orgform.yaml")]
    pub input: PathBuf,
    #[command(flatten)]
    pub state: StateArg,
    /// Apply a spec without asking for confirmation (required without a terminal).
    #[arg(long)]
    pub auto_approve: bool,
    /// Ask for `yes` before applying a saved plan too (a saved plan was reviewed: by default it is applied without asking).
    #[arg(long, conflicts_with = "auto_approve")]
    pub confirm: bool,
    /// The organization endpoint [default: $ORGFORM_ENDPOINT, else the spec's target.endpoint, else the state's, else &frankly's].
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Send this state's records to an endpoint other than the one it was applied to.
    #[arg(long)]
    pub endpoint_moved: bool,
    /// Pass client-side safety thresholds knowingly (recorded in the history).
    #[arg(long)]
    pub force: bool,
    /// Wait this long for the state lock instead of failing at once (e.g. 30s, 2m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub lock_timeout: Option<Duration>,
    /// Retries of timeouts, connection errors and 5xx [default: the spec's target.maxRetries, else 4].
    #[arg(long, value_name = "N")]
    pub max_retries: Option<u32>,
    /// Total time all retries of one request may take (e.g. 60s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub retry_budget: Option<Duration>,
    /// Time to wait for one request (e.g. 30s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub request_timeout: Option<Duration>,
}

/// `orgform show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan saved with `orgform plan --out`.
    #[arg(value_name = "PLANFILE")]
    pub planfile: PathBuf,
    /// For --format diff: the state the plan was made against.
    #[command(flatten)]
    pub state: StateArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Mask emails, phones, names and attribute values.
    #[arg(long)]
    pub redact: bool,
}

/// `orgform state …`.
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Serial, lineage, counts and the last apply.
    #[command(
        after_help = "Examples:\n  orgform state show --state .orgform/state.json\n  orgform state show --serial 41 --state 'postgres://ops@db.example.com/orgform?name=acme'"
    )]
    Show(StateShowArgs),
    /// The managed users and groups.
    #[command(after_help = "Example:\n  orgform state list | grep E001")]
    List(StateArg),
    /// Print the current state as JSON on stdout (any store).
    #[command(
        after_help = "Example:\n  orgform state pull --state 'postgres://ops@db.example.com/orgform?name=acme' > state.json"
    )]
    Pull(StateArg),
    /// Write a state file into the store, checked like a commit (same lineage, higher serial;
    /// a store without a state takes any).
    #[command(
        after_help = "Example (move a file state to PostgreSQL):\n  orgform state push .orgform/state.json --state 'postgres://ops@db.example.com/orgform?name=acme'"
    )]
    Push(StatePushArgs),
    /// Drop all but the newest N versions (PostgreSQL store).
    #[command(
        after_help = "Example:\n  orgform state prune --keep 5 --state 'postgres://ops@db.example.com/orgform?name=acme'"
    )]
    Prune(StatePruneArgs),
}

/// `orgform state show`.
#[derive(Debug, Args)]
pub struct StateShowArgs {
    #[command(flatten)]
    pub state: StateArg,
    /// Show this kept version instead of the current one (PostgreSQL keeps the last `keep`; a
    /// file, the current state and its backup).
    #[arg(long, value_name = "N")]
    pub serial: Option<u64>,
}

/// `orgform state push`.
#[derive(Debug, Args)]
pub struct StatePushArgs {
    /// The state file to write into the store.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub state: StateArg,
}

/// `orgform state prune`.
#[derive(Debug, Args)]
pub struct StatePruneArgs {
    /// How many of the newest versions to keep (at least 1).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep: u32,
    #[command(flatten)]
    pub state: StateArg,
}

/// `orgform force-unlock`.
#[derive(Debug, Args)]
pub struct ForceUnlockArgs {
    #[command(flatten)]
    pub state: StateArg,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// Also when the holder is still running: a PostgreSQL holder's session is ended
    /// (pg_terminate_backend), so it commits nothing.
    #[arg(long)]
    pub force: bool,
}

/// `orgform history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub state: StateArg,
    /// Output format: text for people, json for the stored lines (one object per line).
    #[arg(long, value_enum, default_value_t = HistoryFormat::Text)]
    pub format: HistoryFormat,
    /// Only the attempts that created, deleted or deactivated this user or group.
    #[arg(long, value_name = "EXTERNALID")]
    pub id: Option<String>,
    /// Only the attempts at or after this time (RFC 3339: 2026-11-01 or 2026-11-01T10:00:00Z).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
}

/// `orgform history --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HistoryFormat {
    /// For people.
    Text,
    /// JSON Lines, as stored.
    Json,
}

/// `orgform sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// The address to listen on; port 0 picks a free one.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// The token clients must send (prefer --token-env: arguments are visible to other users).
    #[arg(
        long,
        value_name = "TOKEN",
        conflicts_with = "token_env",
        required_unless_present = "token_env"
    )]
    pub token: Option<String>,
    /// The environment variable holding the token.
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,
    /// Persist the emulator's data to this file (loaded at start when it exists).
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// A JSON fixture of the account: manual users and groups, attributes, other companies' emails.
    #[arg(long, value_name = "FILE")]
    pub fixture: Option<PathBuf>,
    /// Inject a fault: latency=200ms, fail=3 (next 3 answer 503), drop-after-commit=1.
    #[arg(long, value_name = "FAULT")]
    pub fault: Vec<String>,
    /// Take at most N changes of a kind per request (1..=20000, default 20000, the API's cap);
    /// a request whose limit is above N is refused (invalidRequest).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=20000))]
    pub max_per_request: Option<u32>,
}

/// `orgform graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// A spec file, or a directory of *.yaml/*.yml files.
    #[arg(value_name = "SPEC", default_value = "orgform.yaml")]
    pub spec: PathBuf,
    #[command(flatten)]
    pub state: StateArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
    /// Mark what the plan creates, deletes, renames and moves (old parents dashed).
    #[arg(long)]
    pub changes: bool,
}

/// `orgform graph` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// A Mermaid flowchart (GitHub and GitLab draw it in Markdown).
    Mermaid,
    /// Graphviz DOT (`dot -Tsvg`).
    Dot,
}

/// `orgform fmt`.
#[derive(Debug, Args)]
pub struct FmtArgs {
    /// A spec file, or a directory of *.yaml/*.yml files (each is formatted).
    #[arg(value_name = "SPEC", default_value = "orgform.yaml")]
    pub spec: PathBuf,
    /// Change nothing; list the files that are not formatted and exit 1 if there are any.
    #[arg(long)]
    pub check: bool,
    /// Also fix the mechanical problems in place: quote numbers where strings belong (ids,
    /// phones), turn yes/no/on/off into true/false; say what is left.
    #[arg(long)]
    pub fix: bool,
}

/// `orgform import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The exports: CSV (header row; `,` `;` or tab) or JSON (an array of objects), concatenated.
    #[arg(value_name = "SOURCE", required_unless_present = "print_preset")]
    pub sources: Vec<PathBuf>,
    /// A mapping shipped in orgform: `alexis` (Alexis HR's employee report).
    #[arg(long, value_name = "NAME", conflicts_with = "mapping", required_unless_present_any = ["mapping", "print_preset"])]
    pub preset: Option<String>,
    /// A mapping file (YAML; `orgform schema --mapping` is its schema).
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// The spec directory to write users.yaml, groups.yaml and attributes.yaml into.
    #[arg(long, value_name = "DIR", required_unless_present = "print_preset")]
    pub out: Option<PathBuf>,
    /// Print a preset's mapping (a start for your own) and exit.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["preset", "mapping", "out", "sources"])]
    pub print_preset: Option<String>,
    /// How to print diagnostics: `text` on stderr, or `json` on stdout.
    #[arg(long, value_enum, default_value_t = ImportFormat::Text)]
    pub format: ImportFormat,
}

/// `orgform import` diagnostic formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportFormat {
    /// For people: rustc-like, on stderr.
    Text,
    /// For machines: `{"formatVersion": 1, "ok": bool, "diagnostics": [...]}` on stdout.
    Json,
}

/// `orgform schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// The schema of an `orgform import` mapping file instead of a spec.
    #[arg(long)]
    pub mapping: bool,
}

/// `orgform completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 500ms, 30s, 2m)"))
}
