//! The seven comparisons, one module each, and what they share: the run's context and the timing of
//! alternating whole-process contenders against one sandbox.

pub mod deploy;
pub mod lifecycle;
pub mod many;
pub mod previous;
pub mod python;
pub mod startup;
pub mod status;

use std::path::PathBuf;

use anyhow::Result;
use rollout_sandbox::RequestCounts;
use tokio::runtime::Runtime;

use crate::cluster::Cluster;
use crate::procs::{self, Cmd, Run};
use crate::report::Table;
use crate::stats::{Ratio, Samples, Summary};

/// The comparisons' titles, by number.
pub const TITLES: [&str; 7] = [
    "Status of a complete Deployment",
    "Deploy and wait: reaction latency",
    "Previous tag",
    "Many workloads at once",
    "Lifecycle preview",
    "Python overhead",
    "CLI start-up",
];

/// The comparisons' targets, by number.
pub const TARGETS: [&str; 7] = [
    "rollout ≤ 0.3× kubectl's wall time",
    "rollout's reaction ≤ 5 ms median",
    "rollout ≤ 0.1× the aws CLI at every size",
    "wall time ≤ 1.1× the slowest single rollout; peak RSS ≤ 100 MB at 500; one watch per namespace and kind",
    "100k images in ≤ 50 ms, linear growth",
    "≤ 50 µs overhead per call; `import rollout` ≤ 50 ms",
    "none (for reference)",
];

/// What every comparison may use.
pub struct Ctx {
    /// The runtime the sandboxes and in-process measurements run on (two workers).
    pub rt: Runtime,
    /// The checkout (the working directory).
    pub root: PathBuf,
    /// Scratch files.
    pub scratch: PathBuf,
    /// Fewer rounds.
    pub quick: bool,
    /// This program, for child processes.
    pub exe: PathBuf,
    /// The rollout binary.
    pub rollout: PathBuf,
    /// kubectl binaries by name.
    pub kubectls: Vec<(String, PathBuf)>,
    /// The aws CLI.
    pub aws: PathBuf,
    /// Python with the `rollout` module.
    pub python: PathBuf,
    /// The sizes comparison 4 is limited to (empty: all).
    pub many_sizes: Vec<usize>,
}

impl Ctx {
    /// `full` rounds, or a quarter of them (at least 2) in a quick run.
    pub fn rounds(&self, full: usize) -> usize {
        if self.quick { (full / 4).max(2) } else { full }
    }

    /// A rollout command line.
    pub fn rollout(&self, args: &[&str]) -> Cmd {
        Cmd::new(&self.rollout, args)
    }

    /// Whether `rollout <subcommand>` exists in the binary measured.
    pub fn has_subcommand(&self, subcommand: &str) -> bool {
        procs::run(&self.rollout(&[subcommand, "--help"]), &[]).is_ok_and(|r| r.success)
    }

    /// A scratch directory of its own for a comparison.
    pub fn dir(&self, name: &str) -> PathBuf {
        self.scratch.join(name)
    }
}

/// One whole-process contender's measurements.
#[derive(Debug, Default)]
pub struct Timed {
    /// Its name in the tables.
    pub label: String,
    /// Spawn to exit of each timed run, in seconds.
    pub wall: Samples,
    /// The requests of each timed run, as the sandbox counted them.
    pub requests: Vec<RequestCounts>,
    /// The last run's output.
    pub last: Option<Run>,
}

impl Timed {
    /// A contender with no runs yet.
    pub fn new(label: &str) -> Timed {
        Timed { label: label.into(), ..Default::default() }
    }

    /// The median wall time.
    pub fn median(&self) -> f64 {
        self.wall.summary().map_or(f64::NAN, |s| s.median)
    }

    /// The summary of the wall times.
    pub fn summary(&self) -> Option<Summary> {
        self.wall.summary()
    }

    /// The median number of requests per run (of the kinds `filter` keeps).
    pub fn requests_per_run(&self, filter: impl Fn(&RequestCounts) -> u64) -> String {
        let mut s = Samples::new();
        for r in &self.requests {
            s.push_value(filter(r) as f64);
        }
        s.summary().map_or("–".into(), |s| count(s.median))
    }

    /// The kinds of request in the last run, e.g. `get deployments 1, watch deployments 1`.
    pub fn request_kinds(&self) -> String {
        let Some(last) = self.requests.last() else { return "–".into() };
        last.by_kind.iter().map(|(k, n)| format!("{k} ×{n}")).collect::<Vec<_>>().join(", ")
    }
}

/// A count: whole numbers as they are, a median between two counts with one decimal.
pub fn count(v: f64) -> String {
    if v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v:.1}") }
}

/// Runs simple contenders (one command each, always the same) alternating, `warmup` untimed rounds
/// first; each run must succeed. The sandbox counts each run's requests.
pub fn alternate_commands(
    cluster: &Cluster,
    contenders: &[(String, Cmd)],
    warmup: usize,
    rounds: usize,
) -> Result<Vec<Timed>> {
    let mut timed: Vec<Timed> = contenders.iter().map(|(label, _)| Timed::new(label)).collect();
    procs::alternate(contenders.len(), warmup, rounds, |round, c| {
        let before = cluster.requests();
        let run = procs::run_ok(&contenders[c].1, &cluster.env)?;
        let requests = cluster.requests().since(&before);
        if round.is_some() {
            timed[c].wall.push_value(run.seconds());
            timed[c].requests.push(requests);
            timed[c].last = Some(run);
        }
        Ok(())
    })?;
    Ok(timed)
}

/// A table of contenders' wall times with their ratio to the first one and their requests per run.
pub fn wall_table(timed: &[Timed], with_requests: bool) -> Table {
    let mut headers = vec!["tool", "wall time, median (IQR)", "min", "runs", "ratio to the first"];
    if with_requests {
        headers.extend(["requests per run", "requests of the last run"]);
    }
    let mut table = Table::new(&headers);
    let base = timed.first().map(Timed::median).unwrap_or(f64::NAN);
    for t in timed {
        let Some(s) = t.summary() else { continue };
        let mut row = vec![
            t.label.clone(),
            s.time(),
            crate::stats::time(s.min),
            s.n.to_string(),
            Ratio::of(s.median, base).map_or("–".into(), |r| r.to_string()),
        ];
        if with_requests {
            row.push(t.requests_per_run(RequestCounts::total));
            row.push(t.request_kinds());
        }
        table.row(row);
    }
    table
}
