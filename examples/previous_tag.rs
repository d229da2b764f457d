//! Look up the tag before the current release in an ECR repository, with each previous-tag strategy.
//!
//! Replaces `aws ecr describe-images --repository-name R --query 'sort_by(imageDetails,& imagePushedAt)[-2].imageTags[0]'`:
//!
//! ```text
//! cargo run -p rollout-examples --example previous_tag -- --repository ms-account-management \
//!     [--prefix latest-release-] [--before latest-release-1.2.0] [--region ap-southeast-2] [--endpoint-url URL]
//! ```
//!
//! Every option also reads an environment variable: `ROLLOUT_REPOSITORY`, `ROLLOUT_TAG_PREFIX`, `ROLLOUT_BEFORE`,
//! and the AWS ones (`AWS_REGION`, `AWS_PROFILE`, `AWS_ENDPOINT_URL_ECR`, credentials). Against the sandbox, source
//! the env file `rollout sandbox` writes first.

use rollout_core::clients::AwsOptions;
use rollout_core::registry::{PreviousQuery, Registry};
use rollout_core::{Error, RepositoryName};

/// `--name value` from the command line, else the environment variable `env`.
fn option(name: &str, env: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned()).or_else(|| std::env::var(env).ok())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let repository: RepositoryName = option("--repository", "ROLLOUT_REPOSITORY")
        .ok_or_else(|| anyhow::anyhow!("pass --repository NAME or set ROLLOUT_REPOSITORY"))?
        .parse()?;
    let prefix = option("--prefix", "ROLLOUT_TAG_PREFIX");
    let before = option("--before", "ROLLOUT_BEFORE");
    let aws = AwsOptions {
        region: option("--region", "ROLLOUT_REGION"),
        profile: option("--profile", "ROLLOUT_PROFILE"),
        endpoint_url: option("--endpoint-url", "ROLLOUT_ENDPOINT_URL"),
    };
    let registry = Registry::from_options(&aws).await?;

    let with_prefix = |query: PreviousQuery| match &prefix {
        Some(prefix) => query.with_prefix(prefix.clone()),
        None => query,
    };
    let mut queries = vec![
        ("pushed", with_prefix(PreviousQuery::pushed())),
        ("semver", with_prefix(PreviousQuery::semver())),
        // The seed's query, exactly as the aws CLI's json output prints it (null included), for comparison.
        ("cli-compatible", PreviousQuery::cli_compatible()),
    ];
    if let Some(tag) = &before {
        queries.insert(1, ("before", with_prefix(PreviousQuery::before(tag.clone()))));
    }

    for (name, query) in queries {
        match registry.previous_tag(&repository, &query).await {
            Ok(previous) => println!(
                "{name:>14}: {} ({}, {} candidates)",
                previous.tag.as_deref().unwrap_or("null"),
                previous.digest.as_deref().unwrap_or("no image"),
                previous.considered
            ),
            // A strategy finding nothing is an answer too; anything else (credentials, a missing repository) ends.
            Err(error @ (Error::NoPreviousImage { .. } | Error::TagNotFound { .. })) => {
                println!("{name:>14}: none: {error}")
            }
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}
