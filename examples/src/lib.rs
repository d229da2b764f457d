//! Shared helpers for the runnable examples of rollout.
//!
//! Every example runs against an in-process sandbox by default (a fast simulated cluster, nothing to
//! install), or against a real cluster when `KUBECONFIG` or `ROLLOUT_EXAMPLE_REAL_CLUSTER` is set
//! (then `ROLLOUT_EXAMPLE_NAMESPACE` picks the namespace and `ROLLOUT_EXAMPLE_REPOSITORY` the image
//! repository whose tags the examples deploy).

use rollout_core::wait::ProgressEvent;
use rollout_sandbox::ecr::PushOptions;
use rollout_sandbox::{ImageBehaviour, Sandbox};

/// The seed workflow's Deployment manifest.
pub const SEED_DEPLOYMENT: &str = include_str!("../seed/deployment.yaml");
/// The seed workflow's ECR lifecycle policy.
pub const SEED_LIFECYCLE_POLICY: &str = include_str!("../seed/lifecycle-policy.json");
/// The seed workflow's Deployment and container name.
pub const SEED_NAME: &str = "ms-account-management";
/// The seed workflow's ECR repository.
pub const SEED_REPOSITORY: &str = "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/ms-account-management";

/// Where an example runs.
pub struct Cluster {
    /// The client.
    pub client: kube::Client,
    /// The namespace to work in.
    pub namespace: String,
    /// The sandbox, when the example runs in one (dropping it stops it).
    pub sandbox: Option<Sandbox>,
    /// The image repository to deploy tags of.
    pub repository: String,
}

impl Cluster {
    /// The image `<repository>:<tag>`, made pullable first in a sandbox by pushing it to the sandbox's
    /// ECR registry (with `behaviour`, e.g. a crash, if given). A real registry must have it already.
    pub fn publish(&self, tag: &str, behaviour: Option<ImageBehaviour>) -> anyhow::Result<String> {
        let image = format!("{}:{tag}", self.repository);
        if let Some(sandbox) = &self.sandbox
            && let Some(repository) = self.repository.strip_prefix(&format!("{}/", sandbox.registry_host()))
        {
            sandbox.ecr().ensure_repository(repository).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let options = PushOptions { behaviour, ..PushOptions::default() };
            sandbox.ecr().push_image(repository, &[tag], options).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        }
        Ok(image)
    }
}

/// Connects to the real cluster when asked to, otherwise starts a sandbox whose simulated clock runs
/// a hundred times faster than real time.
pub async fn connect() -> anyhow::Result<Cluster> {
    let repository = std::env::var("ROLLOUT_EXAMPLE_REPOSITORY").unwrap_or_else(|_| SEED_REPOSITORY.to_owned());
    if std::env::var_os("KUBECONFIG").is_some() || std::env::var_os("ROLLOUT_EXAMPLE_REAL_CLUSTER").is_some() {
        let client = kube::Client::try_default().await?;
        let namespace =
            std::env::var("ROLLOUT_EXAMPLE_NAMESPACE").unwrap_or_else(|_| client.default_namespace().to_owned());
        eprintln!("using the cluster of the current kube context, namespace {namespace}");
        return Ok(Cluster { client, namespace, sandbox: None, repository });
    }
    let sandbox = Sandbox::builder().time_scale(0.01).seed(1).start().await?;
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&sandbox.kubeconfig())?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    let client = kube::Client::try_from(config)?;
    eprintln!(
        "using an in-process sandbox at {} (set ROLLOUT_EXAMPLE_REAL_CLUSTER to use your cluster)",
        sandbox.url()
    );
    Ok(Cluster { client, namespace: "default".to_owned(), sandbox: Some(sandbox), repository })
}

/// Prints a progress event on stderr.
pub fn print_progress(event: &ProgressEvent) {
    eprintln!("  {}", event.message());
}
