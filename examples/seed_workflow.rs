//! The seed workflow end to end, done with rollout: tag the release from the Maven pom, check the
//! lifecycle policy against what the cluster uses, roll the release out with kubectl-apply semantics,
//! and roll back to the previous *healthy deployed* release instead of the second-newest push.
//!
//! `cargo run -p rollout-examples --example seed_workflow`

use std::path::Path;
use std::time::Duration;

use rollout_core::deploy::{ApplyOptions, DeployOptions, DeployRequest, apply, deploy};
use rollout_core::history::{deployed_previous_tag, history};
use rollout_core::inuse::{Namespaces, in_use_images};
use rollout_core::registry::ImageRecord;
use rollout_core::tag::{DeriveOptions, derive_tag};
use rollout_core::workload::WorkloadRef;
use rollout_core::{LifecyclePolicy, preview, protect};
use rollout_examples::{SEED_DEPLOYMENT, SEED_LIFECYCLE_POLICY, SEED_NAME, connect, print_progress};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cluster = connect().await?;

    // 1. Tag: latest-release-<pom version>, from the module's pom.xml.
    let seed_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seed");
    let derived = derive_tag(&DeriveOptions::new(&seed_dir).template("latest-release-{version}".parse()?))?;
    eprintln!("release tag {} from {}", derived.tag, derived.version.source);
    let image = |tag: &str| cluster.publish(tag, None);

    // 2. Rolling update: apply the Deployment with the new tag (no delete, no downtime), then the next release.
    let mut options = ApplyOptions::new(&cluster.namespace, Duration::from_secs(600));
    options.image_overrides = vec![format!("{SEED_NAME}={}", image(derived.tag.as_str())?).parse()?];
    let applied = apply(&cluster.client, SEED_DEPLOYMENT, &options, &print_progress).await?;
    eprintln!("{}", applied.rollouts.reports[0].summary());
    let target = WorkloadRef::deployment(&cluster.namespace, SEED_NAME);
    let next =
        DeployRequest::new(target.clone(), vec![format!("{SEED_NAME}={}", image("latest-release-1.0.1")?).parse()?]);
    let report = deploy(&cluster.client, &next, &DeployOptions::new(Duration::from_secs(600)), &print_progress).await?;
    eprintln!("{}", report.summary());

    // 3. Lifecycle: would the seed's policy expire an image the cluster runs or would roll back to?
    let policy = LifecyclePolicy::parse(SEED_LIFECYCLE_POLICY)?;
    let now = jiff::Timestamp::now();
    let day = jiff::SignedDuration::from_hours(24);
    let mut images: Vec<ImageRecord> = (0..8)
        .map(|i| {
            let tag = format!("latest-release-0.9.{i}");
            ImageRecord::new(format!("sha256:{:064x}", i + 1), [tag], now - day * (20 - i))
        })
        .collect();
    images.push(ImageRecord::new(format!("sha256:{:064x}", 100), ["latest-release-1.0.0"], now - day * 3));
    images.push(ImageRecord::new(format!("sha256:{:064x}", 101), ["latest-release-1.0.1"], now - day));
    let evaluation = preview(&policy, &images, now);
    let clusters = [(String::from("seed"), cluster.client.clone())];
    let in_use = in_use_images(&clusters, &Namespaces::Only(vec![cluster.namespace.clone()])).await?;
    let violations = protect(&evaluation, &in_use);
    eprintln!(
        "the policy expires {} images; {} of them are in use",
        evaluation.images.iter().filter(|v| v.outcome != rollout_core::lifecycle::Outcome::Keep).count(),
        violations.len()
    );

    // 4. Rollback: the previous release that was deployed and healthy, not the second-newest push.
    let previous = deployed_previous_tag(&history(&cluster.client, &target).await?, Some(SEED_NAME))?;
    eprintln!("previous healthy release: {} (revision {})", previous.tag, previous.revision);
    let back = DeployRequest::new(target, vec![format!("{SEED_NAME}={}", previous.image).parse()?]);
    let report = deploy(&cluster.client, &back, &DeployOptions::new(Duration::from_secs(600)), &print_progress).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
