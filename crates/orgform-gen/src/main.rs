//! `orgform-gen --users N [--seed S] --out DIR`: writes `DIR/spec/`,
//! `DIR/next/` and `DIR/state.json` (see the `orgform_gen` crate docs).

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: orgform-gen --users N [--seed S] [--users-per-file K] --out DIR\n\
    writes DIR/spec/ (the org), DIR/state.json (the state after applying it)\n\
    and DIR/next/ (about 2% of the users changed, 1% removed, 1% added)\n";

fn parse() -> Result<(orgform_gen::GenOptions, PathBuf), String> {
    let mut users = None;
    let mut seed = 1;
    let mut out = None;
    let mut users_per_file = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("`{name}` needs a value"));
        match arg.as_str() {
            "--users" => {
                let v = value("--users")?;
                users = Some(
                    v.replace('_', "")
                        .parse::<usize>()
                        .map_err(|_| format!("`--users` wants a number of users, not `{v}`"))?,
                );
            }
            "--seed" => {
                let v = value("--seed")?;
                seed = v
                    .parse()
                    .map_err(|_| format!("`--seed` wants a number, not `{v}`"))?;
            }
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            "--users-per-file" => {
                let v = value("--users-per-file")?;
                users_per_file = Some(v.parse::<usize>().ok().filter(|n| *n > 0).ok_or(
                    format!("`--users-per-file` wants a positive number, not `{v}`"),
                )?);
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    match (users, out) {
        (Some(users), Some(out)) => Ok((
            orgform_gen::GenOptions {
                users,
                seed,
                users_per_file,
            },
            out,
        )),
        _ => Err("`--users` and `--out` are required".to_owned()),
    }
}

fn main() -> ExitCode {
    let (opts, out) = match parse() {
        Ok(v) => v,
        Err(msg) if msg.is_empty() => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprint!("error: {msg}\n{USAGE}");
            return ExitCode::from(1);
        }
    };
    match orgform_gen::write_dir(&opts, &out) {
        Ok(g) => {
            let s = g.stats;
            let groups = g.current.groups.as_ref().map_or(0, Vec::len);
            println!(
                "{}: {} users, {groups} groups (seed {}); next: {} users changed, {} removed, \
                 {} added; groups {} renamed, {} moved, {} removed, {} added",
                out.display(),
                opts.users,
                opts.seed,
                s.users_changed,
                s.users_removed,
                s.users_added,
                s.groups_renamed,
                s.groups_moved,
                s.groups_removed,
                s.groups_added
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
