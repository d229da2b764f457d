//! `rollout rollback`: roll a Deployment back to its last known good revision (or a given one), the
//! zero-downtime way, and wait for it.

use std::time::Duration;

use rollout_core::history::{rollback, rollback_no_wait};
use rollout_core::wait::WaitOptions;
use rollout_core::{Error, ImageTag, RollbackTo};

use crate::cmd::{DEFAULT_TIMEOUT, duration};
use crate::exit::{self, Exit};
use crate::output::Out;
use crate::progress::{Session, Task};
use crate::{Failure, GlobalArgs, clients, text};

/// Options of `rollout rollback`.
#[derive(Debug, clap::Args)]
#[command(after_help = exit::HELP)]
#[command(group = clap::ArgGroup::new("target").multiple(false))]
pub struct Args {
    /// The Deployment: NAME or deployment/NAME.
    #[arg(value_name = "DEPLOYMENT")]
    deployment: String,
    /// Roll back to this revision (see `rollout history`).
    #[arg(long, value_name = "N", group = "target", value_parser = clap::value_parser!(i64).range(1..))]
    to_revision: Option<i64>,
    /// Roll back to the newest revision whose image has this tag.
    #[arg(long, value_name = "TAG", group = "target", value_parser = parse_tag)]
    to_tag: Option<ImageTag>,
    /// Roll back to the newest earlier revision rollout saw become healthy, else the previous one
    /// (the default).
    #[arg(long, group = "target")]
    to_last_good: bool,
    /// Roll back to the previous revision, as `kubectl rollout undo` does.
    #[arg(long, group = "target")]
    to_previous: bool,
    /// Return once the rollback is written, without waiting for its rollout (outcome `started`).
    #[arg(long)]
    no_wait: bool,
    /// How long the rollback may take (90s, 10m, 1h30m).
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_TIMEOUT, value_parser = duration)]
    timeout: Duration,
}

fn parse_tag(s: &str) -> Result<ImageTag, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

/// Runs `rollout rollback`.
pub async fn run(args: Args, global: &GlobalArgs, out: Out, session: &Session) -> Result<Exit, Failure> {
    session.set_task(Task::Rollback);
    clients::check_workloads([&args.deployment], "DEPLOYMENT")?;
    let cluster = clients::cluster(global, "rollback").await?;
    let target = cluster.workload(&args.deployment, "DEPLOYMENT")?;
    let to = match (args.to_revision, args.to_tag, args.to_previous) {
        (Some(revision), _, _) => RollbackTo::Revision { revision },
        (_, Some(tag), _) => RollbackTo::Tag { tag: tag.to_string() },
        (_, _, true) => RollbackTo::Previous,
        _ => RollbackTo::LastKnownGood,
    };
    let progress = crate::cmd::progress(session);
    let result = if args.no_wait {
        rollback_no_wait(&cluster.client, &target, &to, args.timeout, &progress).await
    } else {
        rollback(&cluster.client, &target, &to, &WaitOptions::new(args.timeout), &progress).await
    };
    session.finish();
    let report = match result {
        Ok(report) => report,
        Err(Error::RolloutFailed { report } | Error::RolloutTimedOut { report }) => *report,
        Err(e) => return Err(e.into()),
    };
    out.result(&report, || text::report(&report))?;
    if out.format == crate::output::Format::Json && !report.outcome.is_success() {
        eprintln!("error: {}", report.summary());
    }
    Ok(exit::for_report(&report))
}
