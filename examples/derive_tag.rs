//! Derive a release's image tag from a project's version, as the seed workflow does with its Maven
//! pom: template `latest-release-{version}` over version 1.0.0 gives `latest-release-1.0.0`.
//!
//! ```sh
//! cargo run -p rollout-examples --example derive_tag -- [PROJECT_DIR] [TEMPLATE]
//! ```

use rollout_core::{DeriveOptions, ImageRef, derive_tag};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/seed").to_string());
    let template = args.next().unwrap_or_else(|| "latest-release-{version}".to_string());

    let derived = derive_tag(&DeriveOptions::new(&dir).template(template.parse()?))?;
    println!("version {} from {}", derived.version.version, derived.version.source);
    println!("tag     {}", derived.tag);
    for warning in &derived.warnings {
        println!("warning {warning}");
    }

    // The full reference the Deployment will run.
    let repo: ImageRef = "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/ms-account-management".parse()?;
    let image = repo.with_tag(derived.tag);
    println!("image   {image} (ECR account {:?}, region {:?})", image.ecr_account(), image.ecr_region());
    Ok(())
}
