//! `rollout tag`: derive the image tag of a release from the project's version.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rollout_core::version::branch_from_ci_env;
use rollout_core::{DeriveOptions, RepositoryName, TagTemplate, VersionSource, derive_tag};

use crate::exit::Exit;
use crate::output::Out;
use crate::{Failure, GlobalArgs};

/// Options of `rollout tag`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The project directory or version file.
    #[arg(default_value = ".")]
    path: PathBuf,
    /// Tag template: literal text and {version} {major} {minor} {patch} {prerelease} {build} {sha}
    /// {short_sha} {branch} {date}.
    #[arg(long, short = 't', default_value = "{version}", env = "ROLLOUT_TAG_TEMPLATE")]
    template: TagTemplate,
    /// Where the version comes from (pom, cargo, npm, pyproject, version-file, git); detected by default.
    #[arg(long)]
    source: Option<VersionSource>,
    /// A Maven property value, like mvn -Dkey=value (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_set)]
    set: Vec<(String, String)>,
    /// Refuse a tag that needs sanitising instead of fixing it.
    #[arg(long)]
    strict: bool,
    /// Allow deriving a floating tag such as `latest`.
    #[arg(long)]
    allow_floating: bool,
    /// The branch for {branch} [default: git's, or the CI system's on a detached HEAD].
    #[arg(long)]
    branch: Option<String>,
    /// Fail if the tag already exists in --repository (on a different digest than --digest).
    #[arg(long, requires = "repository")]
    check_unique: bool,
    /// The ECR repository for --check-unique.
    #[arg(long, short = 'r')]
    repository: Option<RepositoryName>,
    /// The digest about to be pushed: the tag may already name exactly this image.
    #[arg(long, requires = "check_unique")]
    digest: Option<String>,
}

fn parse_set(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

/// Runs `rollout tag`.
pub async fn run(args: Args, global: &GlobalArgs, out: Out) -> Result<Exit, Failure> {
    let mut opts =
        DeriveOptions::new(args.path).template(args.template).strict(args.strict).allow_floating(args.allow_floating);
    if let Some(s) = args.source {
        opts = opts.source(s);
    }
    opts.overrides = args.set.into_iter().collect::<BTreeMap<_, _>>();
    if let Some(b) = args.branch.or_else(|| branch_from_ci_env(|k| std::env::var(k).ok())) {
        opts = opts.branch(b);
    }
    let derived = derive_tag(&opts)?;
    if let (true, Some(repo)) = (args.check_unique, &args.repository) {
        let registry = crate::clients::registry(global).await?;
        registry.check_tag_unique(repo, &derived.tag, args.digest.as_deref()).await?;
        out.note(format!("{} is not taken in {repo}", derived.tag));
    }
    for w in &derived.warnings {
        out.warn(w);
    }
    let file = derived.version.file.as_ref().map(|f| f.display().to_string()).unwrap_or_else(|| "git".into());
    out.note(format!("{} from {} version {} ({})", derived.tag, derived.version.source, derived.version.version, file));
    out.result(&derived, || derived.tag.to_string())?;
    Ok(Exit::Success)
}
