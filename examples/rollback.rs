//! A release that crashes is rolled back automatically to the last release that was healthy; then
//! the history is listed and an explicit rollback to revision 1 is made.
//!
//! `cargo run -p rollout-examples --example rollback`
//!
//! On a real cluster, set `ROLLOUT_EXAMPLE_BAD_IMAGE` to an image that crashes at start.

use std::time::Duration;

use rollout_core::Error;
use rollout_core::deploy::{ApplyOptions, DeployOptions, DeployRequest, apply, deploy};
use rollout_core::history::{RollbackTo, history, rollback};
use rollout_core::wait::WaitOptions;
use rollout_core::workload::WorkloadRef;
use rollout_examples::{SEED_DEPLOYMENT, SEED_NAME, connect, print_progress};
use rollout_sandbox::ImageBehaviour;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cluster = connect().await?;
    let release = |version: &str| cluster.publish(&format!("latest-release-{version}"), None);
    let target = WorkloadRef::deployment(&cluster.namespace, SEED_NAME);

    let mut options = ApplyOptions::new(&cluster.namespace, Duration::from_secs(300));
    options.image_overrides = vec![format!("{SEED_NAME}={}", release("1.0.0")?).parse()?];
    apply(&cluster.client, SEED_DEPLOYMENT, &options, &print_progress).await?;
    let good = DeployRequest::new(target.clone(), vec![format!("{SEED_NAME}={}", release("1.0.1")?).parse()?]);
    deploy(&cluster.client, &good, &DeployOptions::new(Duration::from_secs(600)), &print_progress).await?;

    // Release 1.0.2 crashes at start.
    let bad_image = match &cluster.sandbox {
        Some(_) => {
            let behaviour =
                ImageBehaviour::crashing(1, 3.0, &["Starting AccountApplication", "APPLICATION FAILED TO START"]);
            cluster.publish("latest-release-1.0.2", Some(behaviour))?
        }
        None => std::env::var("ROLLOUT_EXAMPLE_BAD_IMAGE")?,
    };
    let bad = DeployRequest::new(target.clone(), vec![format!("{SEED_NAME}={bad_image}").parse()?]);
    let mut with_rollback = DeployOptions::new(Duration::from_secs(600));
    with_rollback.rollback_on_failure = true;
    match deploy(&cluster.client, &bad, &with_rollback, &print_progress).await {
        Err(Error::RolloutFailed { report }) => println!("{}", serde_json::to_string_pretty(&report)?),
        other => anyhow::bail!("the crashing release should have failed: {other:?}"),
    }

    let revisions = history(&cluster.client, &target).await?;
    print!("{}", revisions.kubectl_text());
    let report = rollback(
        &cluster.client,
        &target,
        &RollbackTo::Revision { revision: 1 },
        &WaitOptions::new(Duration::from_secs(600)),
        &print_progress,
    )
    .await?;
    eprintln!("{}", report.summary());
    Ok(())
}
