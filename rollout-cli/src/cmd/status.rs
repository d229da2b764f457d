//! `rollout status`: wait for the rollouts of workloads, like `kubectl rollout status`, with
//! fail-fast diagnosis; or, with `--watch=false`, print where they stand now.

use std::time::Duration;

use rollout_core::wait::{WaitOptions, WaitTarget, current_status, wait_all};

use crate::clients::{self, pairs};
use crate::cmd::{DEFAULT_TIMEOUT, duration};
use crate::exit::{self, Exit};
use crate::output::Out;
use crate::progress::{Session, Task};
use crate::{Failure, GlobalArgs, text};

/// Options of `rollout status`.
#[derive(Debug, clap::Args)]
#[command(after_help = exit::HELP)]
pub struct Args {
    /// The workloads: NAME (a Deployment) or KIND/NAME (deployment/web, deploy/web, statefulset/db,
    /// sts/db, daemonset/agent, ds/agent).
    #[arg(value_name = "WORKLOAD", required = true)]
    workloads: Vec<String>,
    /// How long to wait at most (90s, 10m, 1h30m).
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_TIMEOUT, value_parser = duration)]
    timeout: Duration,
    /// Wait until the rollouts finish (fail fast when the new pods are doomed); --watch=false prints
    /// the current status once and exits 0, like kubectl.
    #[arg(
        short = 'w',
        long,
        value_name = "BOOL",
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    watch: bool,
}

/// Runs `rollout status`.
pub async fn run(args: Args, global: &GlobalArgs, out: Out, session: &Session) -> Result<Exit, Failure> {
    session.set_task(Task::Wait);
    clients::check_workloads(&args.workloads, "WORKLOAD")?;
    let clusters = clients::clusters(global).await?;
    let mut targets = Vec::new();
    for cluster in &clusters {
        for arg in &args.workloads {
            targets.push(cluster.workload(arg, "WORKLOAD")?);
        }
    }
    if !args.watch {
        let now = current_status(&pairs(&clusters), &targets).await?;
        let several = now.len() > 1;
        out.result(&now, || {
            now.iter()
                .map(|s| if several { format!("{}: {}", s.target, s.status.message()) } else { s.status.message() })
                .collect::<Vec<_>>()
                .join("\n")
        })?;
        // kubectl fails for a rollout past its progress deadline, or one it cannot follow.
        let stuck = now.iter().any(|s| s.status.is_failed() || (s.status.is_terminal() && !s.status.is_complete()));
        return Ok(if stuck { Exit::Failed } else { Exit::Success });
    }
    let targets: Vec<WaitTarget> = targets.into_iter().map(|workload| WaitTarget { workload, since: None }).collect();
    let progress = crate::cmd::progress(session);
    let report = wait_all(&pairs(&clusters), &targets, &WaitOptions::new(args.timeout), &progress).await?;
    session.finish();
    out.result(&report, || text::combined(&report))?;
    crate::output::failed_rollouts(out, &report);
    Ok(exit::for_combined(&report))
}
