//! `rollout previous`: the tag of the release before the current one, in ECR.

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
}

/// Options of `rollout previous`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ECR repository.
    #[arg(long, short = 'r')]
    repository: RepositoryName,
    /// What "previous" means.
    #[arg(long, value_enum, default_value_t = Strategy::Pushed)]
    strategy: Strategy,
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
}

/// Runs `rollout previous`.
pub async fn run(args: Args, global: &GlobalArgs, out: Out) -> Result<Exit, Failure> {
    let mut query = match (args.strategy, &args.before) {
        (Strategy::Pushed, None) => PreviousQuery::pushed(),
        (Strategy::Before, Some(tag)) => PreviousQuery::before(tag.clone()),
        (Strategy::Before, None) => return Err(usage("--before TAG is required with --strategy before")),
        (Strategy::Semver, before) => {
            PreviousQuery::new(PreviousStrategy::Semver { pattern: None, before: before.clone() })
        }
        (Strategy::CliCompatible, None) => PreviousQuery::cli_compatible(),
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
    let found = registry.previous_tag(&args.repository, &query).await?;
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

fn usage(reason: &str) -> Failure {
    Failure::Core(rollout_core::Error::InvalidInput {
        field: "--before".into(),
        value: String::new(),
        reason: reason.into(),
    })
}
