//! `orgform sim`: the local emulator of the &frankly organization API.

use std::process::ExitCode;

use anyhow::{Context, bail};
use orgform_sim::{Faults, Fixture, SimConfig};

use crate::args::SimArgs;
use crate::output;

/// Runs `orgform sim` until Ctrl-C or SIGTERM.
pub fn run(args: &SimArgs) -> anyhow::Result<ExitCode> {
    let token = match (&args.token, &args.token_env) {
        (Some(t), _) => t.clone(),
        (None, Some(var)) => match std::env::var(var) {
            Ok(t) if !t.is_empty() => t,
            _ => bail!("the environment variable `{var}` (--token-env) is not set or empty"),
        },
        (None, None) => bail!("pass --token or --token-env"),
    };
    if !args.listen.ip().is_loopback() {
        output::print_stderr(&format!(
            "warning: the emulator listens on `{}`, not a loopback address; it speaks plain HTTP\n",
            args.listen
        ));
    }
    let fixture = match &args.fixture {
        Some(path) => Some(
            Fixture::load(path)
                .with_context(|| format!("cannot load the fixture `{}`", path.display()))?,
        ),
        None => None,
    };
    let mut faults = Faults::default();
    for spec in &args.fault {
        faults
            .apply_spec(spec)
            .with_context(|| format!("bad --fault `{spec}`"))?;
    }
    let config = SimConfig {
        token,
        data_file: args.data.clone(),
        fixture,
        faults,
        max_per_request: args.max_per_request,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on `{}`", args.listen))?;
        let addr = listener.local_addr()?;
        // The first line is the URL, so scripts and tests can read it.
        output::print_stdout(&format!("http://{addr}/v1/organization\n"))?;
        orgform_sim::serve(config, listener, shutdown_signal())
            .await
            .context("the emulator stopped")?;
        output::print_stderr("emulator stopped\n");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
