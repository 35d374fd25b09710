//! The `sluice` command line as a binary of the test crate, so tests can run it as a child
//! process with an environment of its own (a host build's binary is not visible to them).

// A test reads best as one story, so the 60-line limit for host/ functions is not applied.
#![allow(clippy::too_many_lines)]

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(sluice::cli::main(std::env::args_os()))
}
