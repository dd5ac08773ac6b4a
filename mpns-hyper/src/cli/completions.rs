//! `mpns completions SHELL`: a completion script made by clap_complete from
//! the same definition the parser uses, so it never lags behind the flags.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, CliError};

/// `mpns completions SHELL`.
#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, elvish, fish, powershell or zsh
    pub shell: Shell,
}

impl CompletionsArgs {
    /// Writes the script to stdout.
    pub fn run(&self) -> Result<(), CliError> {
        let mut script = Vec::new();
        clap_complete::generate(self.shell, &mut Cli::command(), "mpns", &mut script);
        super::write_stdout(&script)
    }
}
