//! The `orgform` binary: glue only; everything lives in `orgform-cli`.

fn main() -> std::process::ExitCode {
    orgform_cli::main()
}
