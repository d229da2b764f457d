//! Building rollout-core's clients from the global flags: one kube client per `--context` (or the
//! kubeconfig's current context), and the ECR registry.
//!
//! It deliberately decides nothing about workloads or images; the core's `clients` module does the
//! work (kubeconfig inference, exec plugins, the AWS chains).

use rollout_core::Error;
use rollout_core::clients::{AwsOptions, KubeOptions, kube_client};
use rollout_core::registry::Registry;
use rollout_core::workload::WorkloadRef;

use crate::{Failure, GlobalArgs};

/// The AWS options the global flags give.
pub fn aws_options(g: &GlobalArgs) -> AwsOptions {
    AwsOptions { region: g.region.clone(), profile: g.profile.clone(), endpoint_url: g.endpoint_url.clone() }
}

/// The kube options for one context (or the kubeconfig's current one), with the first `-n`.
pub fn kube_options(g: &GlobalArgs, context: Option<&str>) -> KubeOptions {
    KubeOptions {
        kubeconfig: g.kubeconfig.clone(),
        context: context.map(str::to_string),
        namespace: g.namespace.first().cloned(),
    }
}

/// The ECR registry client.
pub async fn registry(g: &GlobalArgs) -> rollout_core::Result<Registry> {
    Registry::from_options(&aws_options(g)).await
}

/// One cluster to work in: its kube context name (empty for the kubeconfig's current context when
/// no `--context` was given), its client, and the namespace `-n` or the context gives.
pub struct Cluster {
    /// The `--context` given, or empty.
    pub context: String,
    /// The client.
    pub client: kube::Client,
    /// The namespace to work in.
    pub namespace: String,
}

impl Cluster {
    /// The workload an argument such as `deployment/web` names in this cluster, with the context
    /// set when one was given.
    pub fn workload(&self, arg: &str, field: &str) -> Result<WorkloadRef, Failure> {
        let w = WorkloadRef::from_arg(arg, &self.namespace, field)?;
        Ok(if self.context.is_empty() { w } else { w.in_context(self.context.clone()) })
    }
}

/// Checks workload arguments before connecting anywhere, so a typo is reported as such (exit 2)
/// whether or not a cluster is reachable.
pub fn check_workloads<'a>(args: impl IntoIterator<Item = &'a String>, field: &str) -> Result<(), Failure> {
    for arg in args {
        WorkloadRef::from_arg(arg, "default", field)?;
    }
    Ok(())
}

/// The clusters the global flags name: one per `--context`, or the current context.
pub async fn clusters(g: &GlobalArgs) -> Result<Vec<Cluster>, Failure> {
    single_namespace(g)?;
    let contexts: Vec<Option<&str>> =
        if g.context.is_empty() { vec![None] } else { g.context.iter().map(|c| Some(c.as_str())).collect() };
    let mut out = Vec::with_capacity(contexts.len());
    for context in contexts {
        if let Some(c) = context
            && out.iter().any(|k: &Cluster| k.context == c)
        {
            return Err(usage("--context", c, "the same context is given twice"));
        }
        let (client, namespace) = kube_client(&kube_options(g, context)).await?;
        out.push(Cluster { context: context.unwrap_or_default().to_owned(), client, namespace });
    }
    Ok(out)
}

/// The one cluster of a command that reads or changes a single cluster.
pub async fn cluster(g: &GlobalArgs, command: &str) -> Result<Cluster, Failure> {
    if g.context.len() > 1 {
        return Err(usage(
            "--context",
            &g.context.join(","),
            &format!("`rollout {command}` works on one cluster; give --context once"),
        ));
    }
    Ok(clusters(g).await?.remove(0))
}

/// The clusters as the core's multi-cluster functions take them.
pub fn pairs(clusters: &[Cluster]) -> Vec<(String, kube::Client)> {
    clusters.iter().map(|c| (c.context.clone(), c.client.clone())).collect()
}

/// Refuses several `-n` where one namespace is meant.
pub fn single_namespace(g: &GlobalArgs) -> Result<(), Failure> {
    if g.namespace.len() > 1 {
        return Err(usage(
            "--namespace",
            &g.namespace.join(","),
            "give one namespace; only `lifecycle put|check --protect-in-use` scans several",
        ));
    }
    Ok(())
}

/// An invalid-input failure naming the argument.
pub fn usage(field: &str, value: &str, reason: &str) -> Failure {
    Failure::Core(Error::InvalidInput { field: field.into(), value: value.into(), reason: reason.into() })
}
