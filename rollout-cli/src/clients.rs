//! Building rollout-core's clients from the global flags.

use rollout_core::clients::{AwsOptions, KubeOptions};
use rollout_core::registry::Registry;

use crate::GlobalArgs;

/// The AWS options the global flags give.
pub fn aws_options(g: &GlobalArgs) -> AwsOptions {
    AwsOptions { region: g.region.clone(), profile: g.profile.clone(), endpoint_url: g.endpoint_url.clone() }
}

/// The kube options for one context (or the kubeconfig's current one).
#[allow(dead_code)] // used by the cluster-facing subcommands
pub fn kube_options(g: &GlobalArgs, context: Option<&str>) -> KubeOptions {
    KubeOptions {
        kubeconfig: g.kubeconfig.clone(),
        context: context.map(str::to_string),
        namespace: g.namespace.clone(),
    }
}

/// The ECR registry client.
pub async fn registry(g: &GlobalArgs) -> rollout_core::Result<Registry> {
    Registry::from_options(&aws_options(g)).await
}
