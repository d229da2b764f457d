//! Deploy a new image to the seed's Deployment and wait for the rolling update, printing progress and
//! the JSON report.
//!
//! `cargo run -p rollout-examples --example deploy_and_wait`

use std::time::Duration;

use rollout_core::deploy::{ApplyOptions, DeployOptions, DeployRequest, apply, deploy};
use rollout_core::workload::WorkloadRef;
use rollout_examples::{SEED_DEPLOYMENT, SEED_NAME, connect, print_progress};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cluster = connect().await?;
    let release = |version: &str| cluster.publish(&format!("latest-release-{version}"), None);

    // The Deployment as the seed workflow creates it (kubectl apply -f), at release 1.0.0.
    let mut options = ApplyOptions::new(&cluster.namespace, Duration::from_secs(300));
    options.image_overrides = vec![format!("{SEED_NAME}={}", release("1.0.0")?).parse()?];
    let applied = apply(&cluster.client, SEED_DEPLOYMENT, &options, &print_progress).await?;
    eprintln!("{}", applied.rollouts.reports[0].summary());

    // The rolling update to release 1.0.1: one write, then a wait that fails fast if the pods cannot run.
    let request = DeployRequest::new(
        WorkloadRef::deployment(&cluster.namespace, SEED_NAME),
        vec![format!("{SEED_NAME}={}", release("1.0.1")?).parse()?],
    );
    let report =
        deploy(&cluster.client, &request, &DeployOptions::new(Duration::from_secs(600)), &print_progress).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
