//! `rollout previous`: the tag of the release before the current one, from ECR, or with
//! `--strategy deployed` from the cluster's rollout history (the previous healthy revision).

use rollout_core::RepositoryName;
use rollout_core::registry::{PreviousQuery, PreviousStrategy};

use crate::exit::Exit;
use crate::output::Out;
use crate::render;
use crate::{Failure, GlobalArgs};

/// How "previous" is meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Strategy {
    /// The second-newest tagged image by push time (the seed query, made deterministic).
    Pushed,
    /// The newest image pushed before the one carrying --before.
    Before,
    /// The previous semantic version among the tags.
    Semver,
    /// Exactly what `aws ecr describe-images --query 'sort_by(imageDetails,& imagePushedAt)[-2].imageTags[0]'` prints.
    CliCompatible,
    /// The tag of the previous revision of --deployment that became healthy, from the cluster (not ECR).
    Deployed,
}

/// Options of `rollout previous`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ECR repository (not with --strategy deployed).
    #[arg(long, short = 'r', required_unless_present_any = ["deployment", "strategy"], conflicts_with = "deployment")]
    repository: Option<RepositoryName>,
    /// What "previous" means [default: pushed; deployed with --deployment].
    #[arg(long, value_enum)]
    strategy: Option<Strategy>,
    /// The current release's tag: with --strategy before (required) or semver.
    #[arg(long, value_name = "TAG")]
    before: Option<String>,
    /// Only tags starting with this prefix.
    #[arg(long, conflicts_with = "pattern")]
    prefix: Option<String>,
    /// Only tags matching this regular expression.
    #[arg(long)]
    pattern: Option<String>,
    /// Also consider floating tags such as `latest`.
    #[arg(long)]
    include_floating: bool,
    /// With --strategy deployed: the Deployment (NAME or deployment/NAME) whose history to read.
    #[arg(long, value_name = "DEPLOYMENT")]
    deployment: Option<String>,
    /// With --strategy deployed: the container whose image counts [default: the only app container].
    #[arg(long, value_name = "CONTAINER", requires = "deployment")]
    container: Option<String>,
}

/// Runs `rollout previous`.
pub async fn run(args: Args, global: &GlobalArgs, out: Out) -> Result<Exit, Failure> {
    let strategy =
        args.strategy.unwrap_or(if args.deployment.is_some() { Strategy::Deployed } else { Strategy::Pushed });
    if strategy == Strategy::Deployed || args.deployment.is_some() {
        return deployed(strategy, args, global, out).await;
    }
    let Some(repository) = args.repository.clone() else {
        return Err(crate::clients::usage(
            "--repository",
            "",
            &format!(
                "--strategy {} looks in an ECR repository: give --repository",
                format!("{strategy:?}").to_lowercase()
            ),
        ));
    };
    let mut query = match (strategy, &args.before) {
        (Strategy::Pushed, None) => PreviousQuery::pushed(),
        (Strategy::Before, Some(tag)) => PreviousQuery::before(tag.clone()),
        (Strategy::Before, None) => return Err(usage("--before TAG is required with --strategy before")),
        (Strategy::Semver, before) => {
            PreviousQuery::new(PreviousStrategy::Semver { pattern: None, before: before.clone() })
        }
        (Strategy::CliCompatible, None) => PreviousQuery::cli_compatible(),
        (Strategy::Deployed, _) => unreachable!("handled above"),
        (_, Some(_)) => return Err(usage("--before only goes with --strategy before or semver")),
    };
    if let Some(p) = args.prefix {
        query = query.with_prefix(p);
    }
    if let Some(p) = args.pattern {
        query = query.with_pattern(p);
    }
    if args.include_floating {
        query = query.including_floating();
    }
    let registry = crate::clients::registry(global).await?;
    let found = registry.previous_tag(&repository, &query).await?;
    if let (Some(digest), Some(pushed)) = (&found.digest, found.pushed_at) {
        out.note(format!(
            "{}  {}  pushed {}  ({} images considered, {} skipped)",
            found.tag.as_deref().unwrap_or("None"),
            render::short_digest(digest),
            render::time(pushed),
            found.considered,
            found.skipped.len()
        ));
    }
    // The seed query prints "None" when there is no answer; cli-compatible keeps that contract.
    out.result(&found, || found.tag.clone().unwrap_or_else(|| "None".into()))?;
    Ok(Exit::Success)
}

/// `--strategy deployed`: the previous healthy revision's tag, from the cluster.
async fn deployed(strategy: Strategy, args: Args, global: &GlobalArgs, out: Out) -> Result<Exit, Failure> {
    let Some(deployment) = &args.deployment else {
        return Err(crate::clients::usage("--deployment", "", "--strategy deployed needs --deployment DEPLOYMENT"));
    };
    if strategy != Strategy::Deployed {
        return Err(crate::clients::usage(
            "--strategy",
            &format!("{strategy:?}").to_lowercase(),
            "--deployment goes with --strategy deployed",
        ));
    }
    if args.before.is_some() || args.prefix.is_some() || args.pattern.is_some() {
        return Err(crate::clients::usage(
            "--strategy",
            "deployed",
            "--before, --prefix and --pattern select among ECR tags; the deployed strategy reads the cluster's history",
        ));
    }
    crate::clients::check_workloads([deployment], "--deployment")?;
    let cluster = crate::clients::cluster(global, "previous --strategy deployed").await?;
    let target = cluster.workload(deployment, "--deployment")?;
    let history = rollout_core::history::history(&cluster.client, &target).await?;
    let found = rollout_core::history::deployed_previous_tag(&history, args.container.as_deref())?;
    let health =
        if found.healthy { "healthy" } else { "not recorded healthy: the newest earlier revision with another tag" };
    out.note(format!("{}  revision {} ({})  {}", found.tag, found.revision, found.replica_set, health));
    out.result(&found, || found.tag.clone())?;
    Ok(Exit::Success)
}

fn usage(reason: &str) -> Failure {
    Failure::Core(rollout_core::Error::InvalidInput {
        field: "--before".into(),
        value: String::new(),
        reason: reason.into(),
    })
}
