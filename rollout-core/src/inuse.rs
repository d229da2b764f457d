//! The images workloads use, so a lifecycle policy never expires one of them: Deployments (their
//! template and the ReplicaSets kept for rollback, within `revisionHistoryLimit`), StatefulSets,
//! DaemonSets, CronJobs, Jobs and Pods (with the digests they run), in chosen namespaces or all,
//! across several clusters.
//!
//! The extraction from listed objects is pure ([`images_in_use`]); [`in_use_images`] only lists the
//! objects. Matching the result against a policy preview is [`crate::lifecycle::protect`]'s job.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use futures::future::try_join_all;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::cluster::{api_error, list_all};
use crate::error::Result;
use crate::image::ImageRef;
use crate::lifecycle::InUseImage;
use crate::workload::{new_replica_set, pod_images, replica_set_revision};

/// The revisions the Deployment controller keeps when `revisionHistoryLimit` is not set.
const DEFAULT_REVISION_HISTORY_LIMIT: i32 = 10;

/// Which namespaces to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Namespaces {
    /// Every namespace (one cluster-wide list per kind).
    All,
    /// Only these.
    Only(Vec<String>),
}

/// The objects of one cluster that can hold images.
#[derive(Debug, Clone, Default)]
pub struct ClusterObjects {
    /// Deployments.
    pub deployments: Vec<Deployment>,
    /// ReplicaSets.
    pub replica_sets: Vec<ReplicaSet>,
    /// StatefulSets.
    pub stateful_sets: Vec<StatefulSet>,
    /// DaemonSets.
    pub daemon_sets: Vec<DaemonSet>,
    /// CronJobs.
    pub cron_jobs: Vec<CronJob>,
    /// Jobs.
    pub jobs: Vec<Job>,
    /// Pods.
    pub pods: Vec<Pod>,
}

/// The images the objects of one cluster use, each with who uses it:
/// `context/namespace/deployment/name (revision 3)`, `context/namespace/pod/name`, … (without the
/// `context/` part when `context` is empty). ReplicaSets of a Deployment count only within its
/// `revisionHistoryLimit` (newest first; the current one and those with pods always count), as the
/// controller keeps them for rollback. A pod's entries carry the digest it runs (from `imageID`).
pub fn images_in_use(context: &str, objects: &ClusterObjects) -> Vec<InUseImage> {
    let mut out = Vec::new();
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut push = |reference: &str, digest: Option<String>, used_by: String| {
        if reference.is_empty() || !seen.insert((reference.to_owned(), used_by.clone())) {
            return;
        }
        let parsed = reference.parse::<ImageRef>().ok();
        let tag = match &parsed {
            Some(r) => r.tag().map(|t| t.as_str().to_owned()),
            None => crate::history::image_tag(reference).map(str::to_owned),
        };
        let digest = digest.or_else(|| parsed.as_ref().and_then(|r| r.digest()).map(|d| d.as_str().to_owned()));
        out.push(InUseImage { reference: reference.to_owned(), tag, digest, used_by });
    };
    let who = |meta: &ObjectMeta, kind: &str, name: &str| {
        let ns = meta.namespace.as_deref().unwrap_or_default();
        if context.is_empty() { format!("{ns}/{kind}/{name}") } else { format!("{context}/{ns}/{kind}/{name}") }
    };
    let name = |meta: &ObjectMeta| meta.name.clone().unwrap_or_default();

    for d in &objects.deployments {
        let revision = d.metadata.annotations.as_ref().and_then(|a| a.get(crate::workload::REVISION_ANNOTATION));
        let suffix = revision.map(|r| format!(" (revision {r})")).unwrap_or_default();
        for c in pod_images(d.spec.as_ref().and_then(|s| s.template.spec.as_ref())) {
            push(&c.image, None, format!("{}{suffix}", who(&d.metadata, "deployment", &name(&d.metadata))));
        }
    }

    // ReplicaSets, grouped by the Deployment that controls them.
    let mut by_owner: BTreeMap<String, Vec<&ReplicaSet>> = BTreeMap::new();
    for rs in &objects.replica_sets {
        let owner = rs
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true) && o.kind == "Deployment");
        match owner {
            Some(o) => by_owner.entry(o.uid.clone()).or_default().push(rs),
            None => {
                for c in pod_images(rs.spec.as_ref().and_then(|s| s.template.as_ref()).and_then(|t| t.spec.as_ref())) {
                    push(&c.image, None, who(&rs.metadata, "replicaset", &name(&rs.metadata)));
                }
            }
        }
    }
    for (uid, mut sets) in by_owner {
        let deployment = objects.deployments.iter().find(|d| d.metadata.uid.as_deref() == Some(uid.as_str()));
        let owner_name = sets[0]
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.uid == uid)
            .map(|o| o.name.clone())
            .unwrap_or_default();
        let limit = deployment
            .and_then(|d| d.spec.as_ref())
            .map_or(i32::MAX, |s| s.revision_history_limit.unwrap_or(DEFAULT_REVISION_HISTORY_LIMIT));
        let owned: Vec<ReplicaSet> = sets.iter().map(|rs| (*rs).clone()).collect();
        let current = deployment.and_then(|d| new_replica_set(d, &owned)).and_then(|rs| rs.metadata.uid.clone());
        sets.sort_by_key(|rs| std::cmp::Reverse(replica_set_revision(rs).unwrap_or(0)));
        let mut old_kept = 0;
        for rs in sets {
            let is_current = current.is_some() && rs.metadata.uid == current;
            let has_pods = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0) > 0
                || rs.status.as_ref().is_some_and(|s| s.replicas > 0);
            if !is_current && !has_pods {
                if old_kept >= limit {
                    continue;
                }
                old_kept += 1;
            }
            let revision = replica_set_revision(rs).unwrap_or(0);
            let used_by = format!("{} (revision {revision})", who(&rs.metadata, "deployment", &owner_name));
            for c in pod_images(rs.spec.as_ref().and_then(|s| s.template.as_ref()).and_then(|t| t.spec.as_ref())) {
                push(&c.image, None, used_by.clone());
            }
        }
    }

    let mut templates = |meta: &ObjectMeta, kind: &str, spec: Option<&PodSpec>| {
        for c in pod_images(spec) {
            push(&c.image, None, who(meta, kind, &name(meta)));
        }
    };
    for s in &objects.stateful_sets {
        templates(&s.metadata, "statefulset", s.spec.as_ref().and_then(|s| s.template.spec.as_ref()));
    }
    for d in &objects.daemon_sets {
        templates(&d.metadata, "daemonset", d.spec.as_ref().and_then(|s| s.template.spec.as_ref()));
    }
    for c in &objects.cron_jobs {
        let spec = c.spec.as_ref().and_then(|s| s.job_template.spec.as_ref()).and_then(|j| j.template.spec.as_ref());
        templates(&c.metadata, "cronjob", spec);
    }
    for j in &objects.jobs {
        templates(&j.metadata, "job", j.spec.as_ref().and_then(|s| s.template.spec.as_ref()));
    }
    for p in &objects.pods {
        let statuses = p.status.as_ref().map(|s| {
            s.container_statuses.iter().flatten().chain(s.init_container_statuses.iter().flatten()).collect::<Vec<_>>()
        });
        for c in pod_images(p.spec.as_ref()) {
            let digest =
                statuses.iter().flatten().find(|s| s.name == c.container).and_then(|s| digest_of_image_id(&s.image_id));
            push(&c.image, digest, who(&p.metadata, "pod", &name(&p.metadata)));
        }
    }
    out
}

/// The digest in a container status's `imageID` (`docker-pullable://repo@sha256:…`, `repo@sha256:…`
/// or `sha256:…`).
fn digest_of_image_id(id: &str) -> Option<String> {
    let digest = id.rsplit_once('@').map_or(id, |(_, d)| d);
    digest.starts_with("sha256:").then(|| digest.to_owned())
}

/// Lists every object of a kind in the chosen namespaces.
async fn list<K>(client: &Client, namespaces: &Namespaces, deadline: Instant, context: &str) -> Result<Vec<K>>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    let params = ListParams::default();
    let plural = K::plural(&K::DynamicType::default()).into_owned();
    match namespaces {
        Namespaces::All => {
            let api: Api<K> = Api::all(client.clone());
            list_all(&api, &params, deadline).await.map_err(|e| api_error(format!("list {plural} in {context}"), e))
        }
        Namespaces::Only(names) => {
            let mut out = Vec::new();
            for ns in names {
                let api: Api<K> = Api::namespaced(client.clone(), ns);
                let items = list_all(&api, &params, deadline)
                    .await
                    .map_err(|e| api_error(format!("list {plural} in {context}/{ns}"), e))?;
                out.extend(items);
            }
            Ok(out)
        }
    }
}

/// Lists what can hold images in one cluster.
pub async fn cluster_objects(client: &Client, namespaces: &Namespaces, context: &str) -> Result<ClusterObjects> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let (deployments, replica_sets, stateful_sets, daemon_sets, cron_jobs, jobs, pods) = futures::try_join!(
        list::<Deployment>(client, namespaces, deadline, context),
        list::<ReplicaSet>(client, namespaces, deadline, context),
        list::<StatefulSet>(client, namespaces, deadline, context),
        list::<DaemonSet>(client, namespaces, deadline, context),
        list::<CronJob>(client, namespaces, deadline, context),
        list::<Job>(client, namespaces, deadline, context),
        list::<Pod>(client, namespaces, deadline, context),
    )?;
    Ok(ClusterObjects { deployments, replica_sets, stateful_sets, daemon_sets, cron_jobs, jobs, pods })
}

/// The images in use across clusters (kube context name and client), in the chosen namespaces.
///
/// ```no_run
/// # async fn demo(prod: kube::Client, staging: kube::Client) -> rollout_core::Result<()> {
/// use rollout_core::inuse::{Namespaces, in_use_images};
/// let clusters = [("prod".to_owned(), prod), ("staging".to_owned(), staging)];
/// for image in in_use_images(&clusters, &Namespaces::All).await? {
///     println!("{} used by {}", image.reference, image.used_by);
/// }
/// # Ok(()) }
/// ```
pub async fn in_use_images(clusters: &[(String, Client)], namespaces: &Namespaces) -> Result<Vec<InUseImage>> {
    let per_cluster = try_join_all(clusters.iter().map(|(context, client)| async move {
        let objects = cluster_objects(client, namespaces, context).await?;
        Ok::<_, crate::Error>(images_in_use(context, &objects))
    }))
    .await?;
    Ok(per_cluster.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn deployment(limit: Option<i32>) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "shop", "uid": "d-1",
                         "annotations": {"deployment.kubernetes.io/revision": "4"}},
            "spec": {"revisionHistoryLimit": limit, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "app", "image": "repo/app:4"}]}}}
        }))
        .unwrap()
    }

    fn rs(revision: i64, replicas: i32) -> ReplicaSet {
        serde_json::from_value(json!({
            "metadata": {"name": format!("web-{revision}"), "namespace": "shop", "uid": format!("rs-{revision}"),
                         "annotations": {"deployment.kubernetes.io/revision": revision.to_string()},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                              "uid": "d-1", "controller": true}]},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web", "pod-template-hash": format!("h{revision}")}},
                                  "spec": {"containers": [{"name": "app", "image": format!("repo/app:{revision}")}]}}}
        }))
        .unwrap()
    }

    fn pod(value: Value) -> Pod {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn deployments_count_their_template_and_rollback_history_within_the_limit() {
        let objects = ClusterObjects {
            deployments: vec![deployment(Some(2))],
            replica_sets: vec![rs(1, 0), rs(2, 0), rs(3, 0), rs(4, 3)],
            ..Default::default()
        };
        let found: Vec<(String, String)> =
            images_in_use("prod", &objects).into_iter().map(|i| (i.reference, i.used_by)).collect();
        assert_eq!(
            found,
            [
                ("repo/app:4".into(), "prod/shop/deployment/web (revision 4)".into()),
                ("repo/app:3".into(), "prod/shop/deployment/web (revision 3)".into()),
                ("repo/app:2".into(), "prod/shop/deployment/web (revision 2)".into()),
            ],
            "revision 1 is beyond revisionHistoryLimit 2; the template's entry and revision 4's are the same"
        );
    }

    #[test]
    fn pods_carry_the_digest_they_run_and_other_kinds_their_templates() {
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let objects = ClusterObjects {
            pods: vec![pod(json!({
                "metadata": {"name": "web-x", "namespace": "shop"},
                "spec": {"containers": [{"name": "app", "image": "repo/app:4"}]},
                "status": {"containerStatuses": [{"name": "app", "image": "repo/app:4", "imageID": format!("docker-pullable://repo/app@{digest}"),
                                                  "ready": true, "restartCount": 0}]}
            }))],
            cron_jobs: vec![
                serde_json::from_value(json!({
                    "metadata": {"name": "nightly", "namespace": "ops"},
                    "spec": {"schedule": "0 0 * * *", "jobTemplate": {"spec": {"template": {"spec": {
                        "containers": [{"name": "job", "image": "repo/job:1"}], "restartPolicy": "Never"}}}}}
                }))
                .unwrap(),
            ],
            ..Default::default()
        };
        let found = images_in_use("", &objects);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].used_by, "ops/cronjob/nightly");
        assert_eq!(found[0].tag.as_deref(), Some("1"));
        assert_eq!(found[1].used_by, "shop/pod/web-x");
        assert_eq!(found[1].digest.as_deref(), Some(digest));
    }

    #[test]
    fn image_ids_give_digests() {
        assert_eq!(digest_of_image_id("sha256:abc").as_deref(), Some("sha256:abc"));
        assert_eq!(digest_of_image_id("repo@sha256:abc").as_deref(), Some("sha256:abc"));
        assert_eq!(digest_of_image_id("docker://abc"), None);
    }
}
