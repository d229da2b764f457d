//! Check a lifecycle policy against ECR repositories, then put it only where it is safe.
//!
//! ```text
//! cargo run -p rollout-examples --example lifecycle -- --repository shop/api,shop/web \
//!     [--policy policy.json] [--in-use IMAGE_REF] [--put] [--force] [--region ap-southeast-2] [--endpoint-url URL]
//! ```
//!
//! Without `--policy` the seed's policy is used (keep the five newest images tagged `latest*`, and two untagged
//! ones). For each repository it prints the difference with the current policy and what the policy would expire
//! today, evaluated locally over the live images. With `--put` it puts the policy on every repository at once,
//! refusing if an image passed with `--in-use` would be expired (unless `--force`). Options also read
//! `ROLLOUT_REPOSITORY`, `ROLLOUT_POLICY`, `ROLLOUT_IN_USE` and the AWS environment variables.

use rollout_core::clients::AwsOptions;
use rollout_core::lifecycle::{InUseImage, LifecyclePolicy};
use rollout_core::registry::{PutOptions, PutOutcome, Registry};
use rollout_core::{ImageRef, RepositoryName};

const SEED_POLICY: &str = include_str!("seed/lifecycle-policy.json");

fn option(name: &str, env: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned()).or_else(|| std::env::var(env).ok())
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let repositories = option("--repository", "ROLLOUT_REPOSITORY")
        .ok_or_else(|| anyhow::anyhow!("pass --repository NAME[,NAME…] or set ROLLOUT_REPOSITORY"))?
        .split(',')
        .map(str::parse)
        .collect::<Result<Vec<RepositoryName>, _>>()?;
    let text = match option("--policy", "ROLLOUT_POLICY") {
        Some(path) => std::fs::read_to_string(path)?,
        None => SEED_POLICY.to_owned(),
    };
    // Validates the policy completely: every violation is listed with its rule and field.
    let policy = LifecyclePolicy::parse(&text)?;
    let in_use = match option("--in-use", "ROLLOUT_IN_USE") {
        Some(reference) => {
            let image: ImageRef = reference.parse()?;
            vec![InUseImage {
                reference: image.to_string(),
                tag: image.tag().map(ToString::to_string),
                digest: image.digest().map(ToString::to_string),
                used_by: "--in-use".into(),
            }]
        }
        None => Vec::new(),
    };
    let aws = AwsOptions {
        region: option("--region", "ROLLOUT_REGION"),
        profile: option("--profile", "ROLLOUT_PROFILE"),
        endpoint_url: option("--endpoint-url", "ROLLOUT_ENDPOINT_URL"),
    };
    let registry = Registry::from_options(&aws).await?;

    for repository in &repositories {
        let diff = registry.diff_lifecycle_policy(repository, &policy).await?;
        let preview = registry.preview_lifecycle_policy(repository, &policy, jiff::Timestamp::now()).await?;
        let state = match (diff.current_exists, diff.equal) {
            (false, _) => "no policy yet".to_owned(),
            (true, true) => "already in place".to_owned(),
            (true, false) => format!(
                "{} rules added, {} removed, {} changed",
                diff.added.len(),
                diff.removed.len(),
                diff.changed.len()
            ),
        };
        println!(
            "{repository}: {state}; of {} images {} would expire",
            preview.summary.images, preview.summary.expiring
        );
        for verdict in preview.acted_on() {
            let tags = if verdict.tags.is_empty() { "untagged".to_owned() } else { verdict.tags.join(", ") };
            println!("  {} ({tags}): {}", verdict.digest, verdict.reason);
        }
    }

    if flag("--put") {
        let options = PutOptions { force: flag("--force"), in_use, ..Default::default() };
        let report = registry.put_lifecycle_policies(&repositories, &policy, &options).await?;
        for line in &report.repositories {
            match &line.outcome {
                PutOutcome::Put => println!("{}: put", line.repository),
                PutOutcome::Unchanged => println!("{}: unchanged", line.repository),
                PutOutcome::Failed { reason } => println!("{}: failed: {reason}", line.repository),
            }
        }
        anyhow::ensure!(report.succeeded(), "{} of {} repositories failed", report.failed, report.repositories.len());
    }
    Ok(())
}
