//! `rollout history`: a Deployment's revisions, with their images, change-causes, creation times,
//! health marks, and which one is current.

use rollout_core::history::{History, history};

use crate::exit::Exit;
use crate::output::Out;
use crate::{Failure, GlobalArgs, clients, render};

/// Options of `rollout history`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The Deployment: NAME or deployment/NAME.
    #[arg(value_name = "DEPLOYMENT")]
    deployment: String,
}

/// Runs `rollout history`.
pub async fn run(args: Args, global: &GlobalArgs, out: Out) -> Result<Exit, Failure> {
    clients::check_workloads([&args.deployment], "DEPLOYMENT")?;
    let cluster = clients::cluster(global, "history").await?;
    let target = cluster.workload(&args.deployment, "DEPLOYMENT")?;
    let found = history(&cluster.client, &target).await?;
    out.result(&found, || table(&found))?;
    Ok(Exit::Success)
}

/// The table: REVISION, IMAGES, CHANGE-CAUSE, CREATED, HEALTHY, CURRENT, oldest first.
pub fn table(h: &History) -> String {
    if h.revisions.is_empty() {
        return format!("no rollout history found for {}", h.target);
    }
    let rows: Vec<Vec<String>> = h
        .revisions
        .iter()
        .map(|r| {
            let images = match r.images.as_slice() {
                [one] => one.image.clone(),
                many => many.iter().map(|c| format!("{}={}", c.container, c.image)).collect::<Vec<_>>().join(","),
            };
            vec![
                r.revision.to_string(),
                images,
                r.change_cause.clone().unwrap_or_else(|| "<none>".into()),
                r.created_at.map(render::time).unwrap_or_else(|| "-".into()),
                if r.healthy_at.is_some() { "yes".into() } else { "-".into() },
                if r.current { "*".into() } else { String::new() },
            ]
        })
        .collect();
    render::table(&["REVISION", "IMAGES", "CHANGE-CAUSE", "CREATED", "HEALTHY", "CURRENT"], &rows)
}
