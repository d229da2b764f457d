//! `rollout deploy`: set a new image on workloads (or apply a manifest), check first, wait for the
//! rollout with fail-fast diagnosis, and roll a failure back if asked; in one cluster or several.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::builder::TypedValueParser;
use rollout_core::Error;
use rollout_core::deploy::{
    ApplyOptions, ApplyReport, CheckName, DeployOptions, DeployRequest, ImageChange, NewImage, RegistryLookup, apply,
    deploy_all,
};

use crate::clients::{self, pairs};
use crate::cmd::{DEFAULT_TIMEOUT, duration};
use crate::exit::{self, Exit};
use crate::output::Out;
use crate::progress::{Session, Task};
use crate::{Failure, GlobalArgs, text};

const NOTES: &str = "\
IMAGE is a full reference (123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1.0.1, repo/app:1.0.1,
nginx:1.27), or :TAG for a new tag of the image the container runs now (a word without '/', ':' or
'@' is a tag too, so `--image latest-release-1.0.1` works; write Docker Hub images with their tag).

Before changing anything, every workload passes the preflight checks: it exists (workload), the
containers exist (container), the new ECR images exist (image-exists, asking ECR in the image's
region unless --region says otherwise), the targeted containers have a readinessProbe
(readiness-probe), the update strategy keeps pods serving (strategy), the Deployment is not paused
(paused), and no image uses a floating tag such as latest (floating-tag).

With --context given several times, the same change rolls out to every cluster at once and one
combined report comes back; WORKLOAD is looked up in each context's namespace (or -n).";

/// Options of `rollout deploy`.
#[derive(Debug, clap::Args)]
#[command(after_help = format!("{NOTES}\n\n{}", exit::HELP))]
pub struct Args {
    /// The workloads: NAME (a Deployment) or KIND/NAME (deployment/web, statefulset/db, daemonset/agent).
    #[arg(value_name = "WORKLOAD", required_unless_present = "filename", conflicts_with = "filename")]
    workloads: Vec<String>,
    /// The new image, or :TAG for a new tag of the image the container runs now.
    #[arg(long, value_name = "IMAGE", required_unless_present = "filename", value_parser = parse_image)]
    image: Option<NewImage>,
    /// Apply this manifest (multi-document YAML; - reads stdin) like `kubectl apply -f`, then wait for
    /// its workloads; --image then overrides the manifest's image.
    #[arg(short = 'f', long = "filename", value_name = "MANIFEST")]
    filename: Option<PathBuf>,
    /// The container to set --image on (repeatable; * for every container) [default: the only app
    /// container].
    #[arg(long, value_name = "CONTAINER", requires = "image")]
    container: Vec<String>,
    /// Return once the change is written, without waiting for the rollout (outcome `started`).
    #[arg(long)]
    no_wait: bool,
    /// How long the whole deploy may take: checks, write and wait (90s, 10m, 1h30m).
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_TIMEOUT, value_parser = duration)]
    timeout: Duration,
    /// Roll a failed or timed-out rollout back to the last known good revision (and wait for that).
    #[arg(long, conflicts_with = "no_wait")]
    rollback_on_failure: bool,
    /// Switch a preflight check off (repeatable).
    #[arg(long, value_name = "CHECK", value_parser = check_name())]
    skip_preflight: Vec<CheckName>,
    /// Run the checks and show the change (the patch) without writing anything (outcome `dry_run`).
    #[arg(long)]
    dry_run: bool,
    /// The kubernetes.io/change-cause to record [default: rollout: CONTAINER=IMAGE …].
    #[arg(long, value_name = "TEXT")]
    change_cause: Option<String>,
    /// With -f: take over fields that other field managers own (server-side apply's force).
    #[arg(long, requires = "filename")]
    force_conflicts: bool,
}

fn parse_image(s: &str) -> Result<NewImage, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

fn check_name() -> impl TypedValueParser<Value = CheckName> {
    clap::builder::PossibleValuesParser::new(CheckName::ALL.map(CheckName::as_str))
        .map(|s| s.parse::<CheckName>().expect("one of the possible values"))
}

/// Runs `rollout deploy`.
pub async fn run(args: Args, global: &GlobalArgs, out: Out, session: &Session) -> Result<Exit, Failure> {
    session.set_task(if args.dry_run { Task::Other } else { Task::Deploy });
    let mut options = DeployOptions::new(args.timeout);
    options.rollback_on_failure = args.rollback_on_failure;
    options.no_wait = args.no_wait;
    options.dry_run = args.dry_run;
    options.skip_checks = args.skip_preflight.iter().copied().collect();
    if !options.skip_checks.contains(&CheckName::ImageExists) {
        options.image_lookup = Some(Arc::new(RegistryLookup::new(clients::aws_options(global))));
    }
    let containers: Vec<Option<&str>> =
        if args.container.is_empty() { vec![None] } else { args.container.iter().map(|c| Some(c.as_str())).collect() };
    let progress = crate::cmd::progress(session);

    if let Some(path) = &args.filename {
        let cluster = clients::cluster(global, "deploy -f").await?;
        let manifest = read_manifest(path)?;
        let mut apply_options = ApplyOptions::new(cluster.namespace.clone(), args.timeout);
        apply_options.deploy = options;
        apply_options.force = args.force_conflicts;
        apply_options.change_cause = args.change_cause.clone();
        if let Some(image) = &args.image {
            for c in &containers {
                match image.for_container(*c) {
                    ImageChange::Image(set) => apply_options.image_overrides.push(set),
                    ImageChange::Tag(set) => apply_options.tag_overrides.push(set),
                }
            }
        }
        let report = apply(&cluster.client, &manifest, &apply_options, &progress).await?;
        session.finish();
        out.result(&report, || apply_text(&report))?;
        let code = exit::for_combined(&report.rollouts);
        crate::output::failed_rollouts(out, &report.rollouts);
        return Ok(code);
    }

    let image = args.image.as_ref().expect("clap requires --image without -f");
    clients::check_workloads(&args.workloads, "WORKLOAD")?;
    let clusters = clients::clusters(global).await?;
    let mut requests = Vec::new();
    for cluster in &clusters {
        for arg in &args.workloads {
            let mut request = DeployRequest::new(cluster.workload(arg, "WORKLOAD")?, Vec::new());
            request.change_cause = args.change_cause.clone();
            for c in &containers {
                request = request.with_change(image.for_container(*c));
            }
            requests.push(request);
        }
    }
    let report = deploy_all(&pairs(&clusters), &requests, &options, &progress).await?;
    session.finish();
    out.result(&report, || text::combined(&report))?;
    crate::output::failed_rollouts(out, &report);
    Ok(exit::for_combined(&report))
}

/// The manifest's text, from a file or stdin.
fn read_manifest(path: &PathBuf) -> Result<String, Failure> {
    let read = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map(|_| s)
    } else {
        std::fs::read_to_string(path)
    };
    read.map_err(|e| Failure::Core(Error::ReadFile { path: path.clone(), source: e }))
}

/// `deployment.apps/web configured` per object, like kubectl apply, then the rollouts.
fn apply_text(report: &ApplyReport) -> String {
    let mut lines: Vec<String> = report
        .applied
        .iter()
        .map(|o| {
            let group = o.api_version.split_once('/').map(|(g, _)| format!(".{g}")).unwrap_or_default();
            let action = serde_json::to_value(o.action).ok().and_then(|v| v.as_str().map(str::to_owned));
            let dry = if report.rollouts.reports.iter().any(|r| r.outcome == rollout_core::Outcome::DryRun) {
                " (server dry run)"
            } else {
                ""
            };
            format!("{}{group}/{} {}{dry}", o.kind.to_lowercase(), o.name, action.unwrap_or_default())
        })
        .collect();
    if !report.rollouts.reports.is_empty() {
        lines.push(text::combined(&report.rollouts));
    }
    lines.join("\n")
}
