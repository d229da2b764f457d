//! `rollout completions SHELL`: print a shell completion script.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::exit::Exit;
use crate::{Cli, Failure};

/// Options of `rollout completions`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell: bash, zsh, fish, powershell or elvish.
    shell: Shell,
}

/// Prints the completion script on stdout.
pub fn run(args: Args) -> Result<Exit, Failure> {
    clap_complete::generate(args.shell, &mut Cli::command(), "rollout", &mut std::io::stdout());
    Ok(Exit::Success)
}
