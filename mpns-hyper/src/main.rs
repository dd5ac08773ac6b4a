//! `mpns`: the command-line tool. Everything lives in [`mpns_hyper::cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    mpns_hyper::cli::run()
}
