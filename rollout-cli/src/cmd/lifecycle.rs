//! `rollout lifecycle put|get|diff|preview|check`: ECR lifecycle policies that never expire an image
//! in use.

use std::path::PathBuf;

use rollout_core::clients::kube_client;
use rollout_core::inuse::{Namespaces, in_use_images};
use rollout_core::lifecycle::{InUseImage, LifecyclePolicy, Outcome, PolicyDiff};
use rollout_core::registry::PutOptions;
use rollout_core::{Error, RepositoryName};
use serde_json::json;

use crate::exit::Exit;
use crate::output::Out;
use crate::render;
use crate::{Failure, GlobalArgs};

/// The lifecycle subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Put a policy on repositories, refusing when it would expire an image in use (unless --force).
    Put(PutArgs),
    /// Print a repository's current policy.
    Get(RepoArgs),
    /// Compare a repository's policy with the desired one: exit 0 when equal, 1 when they differ.
    Diff(PolicyArgs),
    /// Evaluate a policy locally against a repository's live images.
    Preview(PolicyArgs),
    /// Exit 1 when the policy would expire an image in use.
    Check(CheckArgs),
}

/// Repositories to act on.
#[derive(Debug, clap::Args)]
pub struct RepoArgs {
    /// An ECR repository (repeatable).
    #[arg(long, short = 'r', required = true)]
    repository: Vec<RepositoryName>,
}

/// Where the policy comes from: a file, or the seed-style flags.
#[derive(Debug, clap::Args)]
pub struct PolicyArgs {
    #[command(flatten)]
    repos: RepoArgs,
    /// The policy as ECR's JSON.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["keep_tagged", "keep_untagged"])]
    policy_file: Option<PathBuf>,
    /// Keep this many newest tagged images (with --prefix), expire the rest.
    #[arg(long, value_name = "N", requires = "prefix")]
    keep_tagged: Option<u32>,
    /// Tag prefix for --keep-tagged (repeatable: an image must carry every prefix).
    #[arg(long, value_name = "P")]
    prefix: Vec<String>,
    /// Keep this many newest untagged images, expire the rest.
    #[arg(long, value_name = "M")]
    keep_untagged: Option<u32>,
}

/// Images that must survive.
#[derive(Debug, clap::Args)]
pub struct InUseArgs {
    /// An image reference in use that the policy must not expire (repeatable).
    #[arg(long, value_name = "IMAGE")]
    in_use: Vec<String>,
    /// Also protect every image the clusters use: the workloads' templates, the ReplicaSets kept for
    /// rollback, CronJobs, Jobs and pods of each --context (or the current context), in the -n
    /// namespaces (repeatable; default: the context's) or, with -A, in all of them.
    #[arg(long)]
    protect_in_use: bool,
    /// With --protect-in-use: scan every namespace.
    #[arg(short = 'A', long, requires = "protect_in_use", conflicts_with = "namespace")]
    all_namespaces: bool,
}

/// Options of `lifecycle put`.
#[derive(Debug, clap::Args)]
pub struct PutArgs {
    #[command(flatten)]
    policy: PolicyArgs,
    #[command(flatten)]
    in_use: InUseArgs,
    /// Put even where images in use would expire.
    #[arg(long)]
    force: bool,
    /// How many repositories to update at once.
    #[arg(long, default_value_t = rollout_core::registry::DEFAULT_CONCURRENCY)]
    concurrency: usize,
}

/// Options of `lifecycle check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    policy: PolicyArgs,
    #[command(flatten)]
    in_use: InUseArgs,
}

impl PolicyArgs {
    fn policy(&self) -> Result<LifecyclePolicy, Failure> {
        if let Some(path) = &self.policy_file {
            let text = std::fs::read_to_string(path).map_err(|e| Error::ReadFile { path: path.clone(), source: e })?;
            return Ok(LifecyclePolicy::parse(&text)?);
        }
        let mut b = LifecyclePolicy::builder();
        if let Some(n) = self.keep_tagged {
            b = b.keep_most_recent_tagged(n, self.prefix.clone());
        }
        if let Some(m) = self.keep_untagged {
            b = b.keep_most_recent_untagged(m);
        }
        if self.keep_tagged.is_none() && self.keep_untagged.is_none() {
            return Err(Failure::Core(Error::InvalidInput {
                field: "--policy-file".into(),
                value: String::new(),
                reason: "give a policy: --policy-file FILE, or --keep-tagged N --prefix P and/or --keep-untagged M"
                    .into(),
            }));
        }
        Ok(b.build()?)
    }
}

/// The images to protect: the `--in-use` ones, and with `--protect-in-use` every image the clusters use.
async fn in_use(args: &InUseArgs, global: &GlobalArgs, out: Out) -> Result<Vec<InUseImage>, Failure> {
    let mut used = args
        .in_use
        .iter()
        .map(|r| InUseImage::from_reference(r, "--in-use"))
        .collect::<rollout_core::Result<Vec<_>>>()?;
    if !args.protect_in_use {
        return Ok(used);
    }
    let contexts: Vec<Option<&str>> =
        if global.context.is_empty() { vec![None] } else { global.context.iter().map(|c| Some(c.as_str())).collect() };
    for context in contexts {
        let mut options = crate::clients::kube_options(global, context);
        options.namespace = None;
        let (client, default_namespace) = kube_client(&options).await?;
        let (namespaces, scope) = if args.all_namespaces {
            (Namespaces::All, "all namespaces".to_owned())
        } else if global.namespace.is_empty() {
            (Namespaces::Only(vec![default_namespace.clone()]), format!("namespace {default_namespace}"))
        } else {
            (Namespaces::Only(global.namespace.clone()), format!("namespaces {}", global.namespace.join(", ")))
        };
        let name = context.unwrap_or_default().to_owned();
        let found = in_use_images(&[(name, client)], &namespaces).await?;
        let cluster = context.map(|c| format!("context {c}")).unwrap_or_else(|| "the current context".into());
        out.note(format!("{} image references in use in {scope} of {cluster}", found.len()));
        used.extend(found);
    }
    Ok(used)
}

/// Runs a lifecycle subcommand.
pub async fn run(cmd: Command, global: &GlobalArgs, out: Out) -> Result<Exit, Failure> {
    let registry = crate::clients::registry(global);
    match cmd {
        Command::Get(args) => {
            let registry = registry.await?;
            let mut found = Vec::new();
            for repo in &args.repository {
                let policy = registry.get_lifecycle_policy(repo).await?;
                found.push(json!({"repository": repo.to_string(), "policy": policy}));
            }
            let text = || {
                found
                    .iter()
                    .map(|f| match f["policy"].is_null() {
                        true => format!("{}: no lifecycle policy", f["repository"].as_str().unwrap_or("")),
                        false => serde_json::to_string_pretty(&f["policy"]).unwrap_or_default(),
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            if found.len() == 1 {
                out.result(&found[0], text)?;
            } else {
                out.result(&found, text)?;
            }
            Ok(Exit::Success)
        }
        Command::Diff(args) => {
            let desired = args.policy()?;
            let registry = registry.await?;
            let mut diffs = Vec::new();
            for repo in &args.repos.repository {
                diffs.push((repo.to_string(), registry.diff_lifecycle_policy(repo, &desired).await?));
            }
            let all_equal = diffs.iter().all(|(_, d)| d.equal);
            let doc: Vec<_> = diffs.iter().map(|(r, d)| json!({"repository": r, "diff": d})).collect();
            out.result(&doc, || diffs.iter().map(|(r, d)| diff_text(r, d)).collect::<Vec<_>>().join("\n"))?;
            Ok(if all_equal { Exit::Success } else { Exit::Failed })
        }
        Command::Preview(args) => {
            let policy = args.policy()?;
            let registry = registry.await?;
            let now = jiff::Timestamp::now();
            let mut previews = Vec::new();
            for repo in &args.repos.repository {
                previews.push((repo.to_string(), registry.preview_lifecycle_policy(repo, &policy, now).await?));
            }
            let doc: Vec<_> = previews.iter().map(|(r, p)| json!({"repository": r, "preview": p})).collect();
            out.result(&doc, || {
                previews
                    .iter()
                    .map(|(repo, p)| {
                        let rows: Vec<Vec<String>> = p
                            .images
                            .iter()
                            .map(|v| {
                                vec![
                                    render::tags(&v.tags),
                                    render::short_digest(&v.digest),
                                    render::time(v.pushed_at),
                                    outcome(v.outcome).into(),
                                    v.rule_priority.map(|r| r.to_string()).unwrap_or_else(|| "-".into()),
                                    v.reason.to_string(),
                                ]
                            })
                            .collect();
                        format!(
                            "{repo}: {} images, {} expire, {} kept\n{}",
                            p.summary.images,
                            p.summary.expiring,
                            p.summary.kept,
                            render::table(&["TAGS", "DIGEST", "PUSHED", "ACTION", "RULE", "WHY"], &rows)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n\n")
            })?;
            Ok(Exit::Success)
        }
        Command::Check(args) => {
            let policy = args.policy.policy()?;
            let used = in_use(&args.in_use, global, out).await?;
            let registry = registry.await?;
            let now = jiff::Timestamp::now();
            let mut all = Vec::new();
            for repo in &args.policy.repos.repository {
                for v in registry.check_lifecycle_policy(repo, &policy, &used, now).await? {
                    all.push((repo.to_string(), v));
                }
            }
            let doc: Vec<_> = all.iter().map(|(r, v)| json!({"repository": r, "violation": v})).collect();
            out.result(&doc, || {
                if all.is_empty() {
                    return "no image in use would be expired".into();
                }
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|(r, v)| vec![r.clone(), render::tags(&v.tags), outcome(v.outcome).into(), v.used_by.clone()])
                    .collect();
                render::table(&["REPOSITORY", "TAGS", "ACTION", "USED BY"], &rows)
            })?;
            Ok(if all.is_empty() { Exit::Success } else { Exit::Failed })
        }
        Command::Put(args) => {
            let policy = args.policy.policy()?;
            let options = PutOptions {
                force: args.force,
                in_use: in_use(&args.in_use, global, out).await?,
                concurrency: args.concurrency,
            };
            let registry = registry.await?;
            let report = registry.put_lifecycle_policies(&args.policy.repos.repository, &policy, &options).await?;
            out.result(&report, || {
                let rows: Vec<Vec<String>> = report
                    .repositories
                    .iter()
                    .map(|r| {
                        let v = serde_json::to_value(r).unwrap_or_default();
                        vec![
                            r.repository.clone(),
                            v["outcome"].as_str().unwrap_or("").to_string(),
                            v["reason"].as_str().unwrap_or("").to_string(),
                        ]
                    })
                    .collect();
                render::table(&["REPOSITORY", "OUTCOME", "REASON"], &rows)
            })?;
            Ok(if report.succeeded() { Exit::Success } else { Exit::Api })
        }
    }
}

fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Keep => "keep",
        Outcome::Expire => "expire",
        Outcome::Transition => "archive",
    }
}

fn diff_text(repo: &str, d: &PolicyDiff) -> String {
    if d.equal {
        return format!("{repo}: the policy is up to date");
    }
    let mut lines =
        vec![if d.current_exists { format!("{repo}: the policy differs") } else { format!("{repo}: no policy yet") }];
    for r in &d.added {
        lines.push(format!("+ rule {}", r.rule_priority));
    }
    for r in &d.removed {
        lines.push(format!("- rule {}", r.rule_priority));
    }
    for c in &d.changed {
        for f in &c.fields {
            let show =
                |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_else(|| "(none)".into());
            lines.push(format!(
                "~ rule {}: {}: {} -> {}",
                c.rule_priority,
                f.field,
                show(&f.current),
                show(&f.desired)
            ));
        }
    }
    lines.join("\n")
}
