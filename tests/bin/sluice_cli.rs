//! The `sluice` command line as a binary of the test crate, so tests can run it as a child
//! process with an environment of its own (a host build's binary is not visible to them).

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(sluice::cli::main(std::env::args_os()))
}
