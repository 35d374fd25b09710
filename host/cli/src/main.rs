//! The `sluice` binary; the command line itself lives in [`sluice::cli`].

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(sluice::cli::main(std::env::args_os()))
}
