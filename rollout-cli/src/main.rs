//! The `rollout` command: zero-downtime Kubernetes rollouts of ECR images from the shell.
//!
//! Argument parsing and output only; every behaviour lives in rollout-core (and, for
//! `rollout sandbox`, in rollout-sandbox).

mod clients;
mod cmd;
mod exit;
mod output;
mod progress;
mod render;
mod text;

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::exit::Exit;
use crate::output::{Format, Out};

/// Zero-downtime Kubernetes rollouts of container images stored in AWS ECR.
#[derive(Debug, Parser)]
#[command(name = "rollout", version, about, long_about = None, after_help = exit::HELP)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Flags every subcommand accepts, named after kubectl's and the aws CLI's.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config].
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (repeat to roll out to several clusters at once).
    #[arg(long, global = true)]
    pub context: Vec<String>,
    /// Kubernetes namespace [default: the context's] (repeatable only for `lifecycle put|check
    /// --protect-in-use`).
    #[arg(short = 'n', long, global = true)]
    pub namespace: Vec<String>,
    /// AWS region of the ECR registry [env: AWS_REGION, AWS_DEFAULT_REGION].
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// AWS profile [env: AWS_PROFILE].
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// ECR endpoint URL [env: AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL].
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Output format of the result on stdout.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// More detail on stderr (repeatable).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only the result and errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Derive a release's image tag from the project version (pom.xml, Cargo.toml, package.json,
    /// pyproject.toml, VERSION or git).
    Tag(cmd::tag::Args),
    /// Set a new image on workloads (or apply a manifest), check first, wait, roll back on failure.
    Deploy(cmd::deploy::Args),
    /// Wait for workloads' rollouts, failing fast with the reason; or print where they stand.
    Status(cmd::status::Args),
    /// A Deployment's revisions: images, change-cause, creation, health, current.
    History(cmd::history::Args),
    /// Roll a Deployment back to its last known good revision (or a given one) and wait.
    Rollback(cmd::rollback::Args),
    /// The tag of the release before the current one, from ECR (or the cluster's history).
    Previous(cmd::previous::Args),
    /// ECR lifecycle policies: put, get, diff, preview, check.
    #[command(subcommand)]
    Lifecycle(cmd::lifecycle::Command),
    /// Run an emulated Kubernetes API on 127.0.0.1 to try rollout and kubectl without a cluster.
    Sandbox(cmd::sandbox::Args),
    /// Show the whole seed workflow on an in-process sandbox: tag, push, lifecycle policy, deploy,
    /// fail-fast and automatic rollback, previous release, history.
    Demo(cmd::demo::Args),
    /// Print a shell completion script.
    Completions(cmd::completions::Args),
}

/// Why a command did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// An error of rollout-core: its exit code follows from its kind.
    Core(rollout_core::Error),
    /// Anything else (I/O of the CLI itself, runtime start-up).
    Other(anyhow::Error),
}

impl From<rollout_core::Error> for Failure {
    fn from(e: rollout_core::Error) -> Self {
        Failure::Core(e)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Other(e.into())
    }
}

fn print_error(err: &dyn std::error::Error) {
    let mut msg = format!("error: {err}");
    let mut source = err.source();
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    eprintln!("{msg}");
}

/// Runs a subcommand that talks to a cluster, a registry or the sandbox, on a tokio runtime, and
/// stops it cleanly on Ctrl-C.
fn run_async(command: Command, global: GlobalArgs, out: Out) -> Result<Exit, Failure> {
    let rt = runtime()?;
    let session = progress::Session::new(out);
    rt.block_on(async {
        // Listen before any work starts, so a Ctrl-C at any moment is ours to handle, never the
        // default action that kills the process mid-write.
        let interrupt = Interrupt::listen();
        let work = async {
            match command {
                Command::Deploy(args) => cmd::deploy::run(args, &global, out, &session).await,
                Command::Status(args) => cmd::status::run(args, &global, out, &session).await,
                Command::History(args) => cmd::history::run(args, &global, out).await,
                Command::Rollback(args) => cmd::rollback::run(args, &global, out, &session).await,
                Command::Tag(args) => cmd::tag::run(args, &global, out).await,
                Command::Previous(args) => cmd::previous::run(args, &global, out).await,
                Command::Lifecycle(cmd) => cmd::lifecycle::run(cmd, &global, out).await,
                Command::Demo(args) => cmd::demo::run(args).await.map_err(Failure::Other),
                Command::Sandbox(_) | Command::Completions(_) => unreachable!("run elsewhere"),
            }
        };
        tokio::select! {
            r = work => r,
            _ = interrupt.received() => {
                eprintln!("{}", session.interrupted_message());
                Ok(Exit::Interrupted)
            }
        }
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Other(anyhow::anyhow!("starting the async runtime failed: {e}")))
}

/// Ctrl-C and SIGTERM, listened to from the moment `listen` is called (inside the runtime).
struct Interrupt {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Interrupt {
    fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signals = signal(SignalKind::interrupt()).ok().zip(signal(SignalKind::terminate()).ok());
            Interrupt { signals }
        }
        #[cfg(not(unix))]
        Interrupt {}
    }

    /// Resolves when one of the signals arrives.
    async fn received(self) {
        #[cfg(unix)]
        if let Some((mut int, mut term)) = self.signals {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Logs go to stderr: warnings by default, more with each `-v`, errors only with `-q`;
/// `ROLLOUT_LOG` (tracing's filter syntax) overrides.
fn init_logging(verbose: u8, quiet: bool) {
    // Our own crates at the chosen level; libraries (the AWS SDK, kube) only with -vvv, since their
    // warnings (such as an EC2 metadata lookup failing off EC2) are noise on a workstation.
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "rollout=warn,rollout_core=warn,rollout_sandbox=warn,error",
        (false, 1) => "rollout=info,rollout_core=info,rollout_sandbox=info,error",
        (false, 2) => "rollout=debug,rollout_core=debug,rollout_sandbox=debug,warn",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ROLLOUT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(io::stderr).with_target(false).try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.global.verbose, cli.global.quiet);
    let out = Out { format: cli.global.output, quiet: cli.global.quiet };
    let global = cli.global;
    let result = match cli.command {
        Command::Completions(args) => cmd::completions::run(args),
        // The sandbox stops on Ctrl-C by design and handles the signal itself.
        Command::Sandbox(args) => runtime().and_then(|rt| rt.block_on(cmd::sandbox::run(args)).map_err(Failure::Other)),
        command => run_async(command, global, out),
    };
    match result {
        Ok(code) => code.into(),
        Err(Failure::Core(e)) => {
            print_error(&e);
            exit::for_error(&e).into()
        }
        Err(Failure::Other(e)) => {
            // A closed stdout (`rollout … | head`) is not an error.
            if e.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            Exit::Api.into()
        }
    }
}
