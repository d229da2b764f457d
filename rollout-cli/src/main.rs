//! The `rollout` command: zero-downtime Kubernetes rollouts of ECR images from the shell.
//!
//! Argument parsing and output only; every behaviour lives in rollout-core (and, for
//! `rollout sandbox`, in rollout-sandbox).

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Zero-downtime Kubernetes rollouts of container images stored in AWS ECR.
#[derive(Debug, Parser)]
#[command(name = "rollout", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run an emulated Kubernetes API (and, later, ECR) on 127.0.0.1 for trying rollout and kubectl
    /// without a cluster.
    Sandbox(cmd::sandbox::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime failed: {e}");
            return ExitCode::from(4);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Sandbox(args) => cmd::sandbox::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(4)
        }
    }
}
