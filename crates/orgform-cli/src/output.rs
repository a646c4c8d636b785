//! The printer: colour decisions, error chains, and writes that treat a
//! closed pipe as the end of the conversation rather than a failure.

use std::io::{self, IsTerminal, Write};

/// Whether `NO_COLOR` is set to a non-empty value (<https://no-color.org>).
fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Colour on stdout: only on a terminal, and never with `NO_COLOR`.
pub fn stdout_color() -> bool {
    !no_color() && io::stdout().is_terminal()
}

/// Colour on stderr: only on a terminal, and never with `NO_COLOR`.
pub fn stderr_color() -> bool {
    !no_color() && io::stderr().is_terminal()
}

/// Writes all of `text` to stdout.
pub fn print_stdout(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Writes `value` to stdout as pretty JSON and a newline, as it is encoded:
/// a 100k-user plan's document is never held whole as text.
pub fn print_json_stdout<T: serde::Serialize>(value: &T) -> io::Result<()> {
    let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, value).map_err(io::Error::from)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Writes to stdout the parts that `draw` hands on, as they come (the
/// first write error ends the writing and is returned).
pub fn print_parts_stdout(draw: impl FnOnce(&mut dyn FnMut(&str))) -> io::Result<()> {
    let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut failed: Option<io::Error> = None;
    draw(&mut |part: &str| {
        if failed.is_none()
            && let Err(e) = out.write_all(part.as_bytes())
        {
            failed = Some(e);
        }
    });
    match failed {
        Some(e) => Err(e),
        None => out.flush(),
    }
}

/// Writes all of `text` to stderr, ignoring failures (there is nowhere left to report them).
pub fn print_stderr(text: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// Prints an error and its cause chain, one cause a line. Every line goes
/// through the one escaping step ([`orgform_model::text::clean`]): an error
/// can quote a spec, a state, a lock file or a server.
pub fn print_error(err: &anyhow::Error) {
    use orgform_model::palette::{self, EMPHASIS, ERROR};
    let on = stderr_color();
    let mut text = format!(
        "{}{}\n",
        palette::paint(on, ERROR, "error"),
        palette::paint(
            on,
            EMPHASIS,
            &format!(": {}", escaped_lines(&err.to_string()))
        )
    );
    for cause in err.chain().skip(1) {
        text.push_str(&format!(
            "  caused by: {}\n",
            escaped_lines(&cause.to_string())
        ));
    }
    print_stderr(&text);
}

/// `clean` on each line, the line breaks kept.
fn escaped_lines(text: &str) -> String {
    text.split('\n')
        .map(orgform_model::text::clean)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether an error is a write to a pipe whose reader has gone.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}
