//! rollout-bench: rollout side by side with kubectl and the aws CLI, and the scale of its waits and
//! lifecycle evaluation, written to BENCHMARKS.md.
//!
//! `rollout-bench run` runs the seven comparisons of the benchmark issue against in-process sandboxes,
//! each tool alternating with the others within every round, and writes the page and a JSON file of
//! the raw figures. The other subcommands are the child processes some comparisons need, so that
//! their memory is measured apart from the sandbox's. It deliberately asserts nothing about times:
//! the figures are reported, with the targets beside them, never checked by a test.

mod cluster;
mod cmp;
mod machine;
mod probe;
mod procs;
mod report;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::cmp::Ctx;
use crate::procs::Cmd;
use crate::report::{Report, Section};

#[derive(Debug, Parser)]
#[command(name = "rollout-bench", about = "Benchmarks of rollout against kubectl and the aws CLI")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the comparisons and write BENCHMARKS.md.
    Run(RunArgs),
    /// (child process) Deploy-and-wait many Deployments with the library; print the figures as JSON.
    ManyClient(cmp::many::ClientArgs),
    /// (child process) Time a lifecycle preview over synthetic images; print the figures as JSON.
    PreviewChild(cmp::lifecycle::ChildArgs),
}

/// Options of `rollout-bench run`.
#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Fewer rounds: rougher figures in a few minutes, for trying the suite out.
    #[arg(long)]
    quick: bool,
    /// Only these comparisons (numbers 1–7, comma-separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<u8>,
    /// The page to write.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// The JSON file of raw figures to write.
    #[arg(long, default_value = "target/bench/results.json")]
    json: PathBuf,
    /// Scratch files (kubeconfigs, kubectl's cache).
    #[arg(long, default_value = "target/bench/scratch")]
    scratch: PathBuf,
    /// The rollout binary [default: `rollout` next to this program].
    #[arg(long)]
    rollout: Option<PathBuf>,
    /// kubectl binaries to compare with, as NAME=PATH [default: kubectl.1.32 of the Google Cloud SDK when
    /// installed, and `kubectl` on PATH].
    #[arg(long = "kubectl")]
    kubectl: Vec<String>,
    /// The aws CLI.
    #[arg(long, default_value = "aws")]
    aws: PathBuf,
    /// The Python with the `rollout` module installed.
    #[arg(long, default_value = "python3")]
    python: PathBuf,
    /// Only these numbers of Deployments in comparison 4 (of 1, 10, 100, 500), to look into one size.
    #[arg(long, value_delimiter = ',')]
    many_sizes: Vec<usize>,
    /// The command line BENCHMARKS.md names as the one that produced it.
    #[arg(long, default_value = "./scripts/bench")]
    command_line: String,
    /// How long the build before the run took, in seconds, to print on the page.
    #[arg(long)]
    build_seconds: Option<f64>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::ManyClient(args) => cmp::many::client(args),
        Command::PreviewChild(args) => cmp::lifecycle::child(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The kubectl binaries to compare: the 1.32 binary itself and the dispatcher on PATH.
fn default_kubectls() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let direct = PathBuf::from("/usr/lib/google-cloud-sdk/bin/kubectl.1.32");
    if direct.exists() {
        out.push(("kubectl.1.32".to_string(), direct.clone()));
    }
    if let Some(on_path) = which("kubectl") {
        let same = std::fs::canonicalize(&on_path).ok() == std::fs::canonicalize(&direct).ok();
        if !same {
            let label = if out.is_empty() { "kubectl" } else { "kubectl (dispatcher)" };
            out.push((label.to_string(), on_path));
        }
    }
    out
}

/// A program's path on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

/// One comparison: it runs against the context and answers its section of the page.
type Comparison = fn(&Ctx) -> Result<Section>;

fn run(args: RunArgs) -> Result<()> {
    let started = Instant::now();
    let started_at = jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M UTC").to_string();
    let exe = std::env::current_exe().context("finding this program")?;
    let rollout = args.rollout.clone().unwrap_or_else(|| exe.with_file_name("rollout"));
    let kubectls = if args.kubectl.is_empty() {
        default_kubectls()
    } else {
        args.kubectl
            .iter()
            .map(|s| match s.split_once('=') {
                Some((name, path)) => (name.to_string(), PathBuf::from(path)),
                None => (s.clone(), PathBuf::from(s)),
            })
            .collect()
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let ctx = Ctx {
        rt,
        root: std::env::current_dir()?,
        scratch: args.scratch.clone(),
        quick: args.quick,
        exe,
        rollout: rollout.clone(),
        kubectls: kubectls.clone(),
        aws: args.aws.clone(),
        python: args.python.clone(),
        many_sizes: args.many_sizes.clone(),
    };
    let _ = std::fs::remove_dir_all(&ctx.scratch);
    std::fs::create_dir_all(&ctx.scratch)?;

    let mut tools: Vec<(String, Cmd)> = vec![
        ("rollout".into(), Cmd::new(&rollout, &["--version"])),
        ("rustc".into(), Cmd::new("rustc", &["--version"])),
    ];
    for (name, path) in &kubectls {
        tools.push((name.clone(), Cmd::new(path, &["version", "--client"])));
    }
    tools.push(("aws CLI".into(), Cmd::new(&args.aws, &["--version"])));
    tools.push(("Python".into(), Cmd::new(&args.python, &["--version"])));
    let machine = machine::describe(&tools);
    eprintln!("rollout-bench: {} on {} cores, load {}", machine.cpu, machine.cores, machine.load_at_start);

    let wanted = |n: u8| args.only.is_empty() || args.only.contains(&n);
    let mut sections: Vec<Section> = Vec::new();
    let all: [(u8, Comparison); 7] = [
        (1, cmp::status::run),
        (2, cmp::deploy::run),
        (3, cmp::previous::run),
        (4, cmp::many::run),
        (5, cmp::lifecycle::run),
        (6, cmp::python::run),
        (7, cmp::startup::run),
    ];
    for (n, f) in all {
        if !wanted(n) {
            continue;
        }
        eprintln!("rollout-bench: comparison {n}");
        let t = Instant::now();
        let mut section = match f(&ctx) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("rollout-bench: comparison {n} failed: {e:#}");
                Section::not_measured(
                    n,
                    cmp::TITLES[usize::from(n) - 1],
                    cmp::TARGETS[usize::from(n) - 1],
                    format!("not measured: the run failed: {e:#}"),
                )
            }
        };
        section.seconds = t.elapsed().as_secs_f64();
        eprintln!("rollout-bench: comparison {n} took {:.0} s: {:?}", section.seconds, section.verdict);
        sections.push(section);
    }

    let report = Report {
        command: args.command_line.clone(),
        started: started_at,
        seconds: started.elapsed().as_secs_f64(),
        build_seconds: args.build_seconds,
        quick: args.quick,
        machine,
        load_at_end: machine::load_average(),
        sections,
    };
    if let Some(dir) = args.json.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.json, serde_json::to_string_pretty(&report)?)?;
    std::fs::write(&args.out, report::markdown(&report))?;
    eprintln!(
        "rollout-bench: wrote {} and {} in {}",
        args.out.display(),
        args.json.display(),
        report::minutes(report.seconds)
    );
    Ok(())
}
