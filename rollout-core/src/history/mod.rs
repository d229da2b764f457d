//! Rollout history and rollback of Deployments, with "last known good" releases.
//!
//! This module owns the revisions of a Deployment as `kubectl rollout history` lists them (the
//! ReplicaSets it controls, by their revision annotation), plus their images, creation time and health
//! marks; the rollback, with `kubectl rollout undo`'s exact JSON patch, guarded by a `test` of the
//! resourceVersion so that a concurrent writer makes it fail rather than be overwritten; and the
//! `deployed` previous-tag strategy (the tag of the previous healthy revision).
//!
//! **Last known good.** When a wait for a Deployment succeeds, rollout records it on the new
//! ReplicaSet, under the annotation `rollout.dev/healthy.<pod-template-hash>` with the value
//! `{"replicaSet":"<name>","at":"<time>"}` ([`HEALTHY_ANNOTATION_PREFIX`]). The default rollback target
//! ([`RollbackTo::LastKnownGood`]) is the newest revision before the current one that carries its own
//! mark, and the previous revision when none does. The mark lives on the ReplicaSet because the
//! Deployment controller copies Deployment annotations onto every new ReplicaSet, and `kubectl rollout
//! undo` copies ReplicaSet annotations onto the Deployment: keyed by hash and naming its ReplicaSet,
//! a mark copied anywhere else never counts.
//!
//! StatefulSets and DaemonSets keep their history in ControllerRevisions, which this module does not
//! read; a failed rollout of one is rolled back by setting its previous images again
//! ([`crate::deploy`]).

mod revisions;
mod undo;

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde::Serialize;
use tokio::time::Instant;

pub use revisions::{HEALTHY_ANNOTATION_PREFIX, Revision, RollbackTo, healthy_at, select_target};
pub(crate) use revisions::{healthy_annotation, image_tag};
pub use undo::{ANNOTATIONS_TO_SKIP, patch_json, undo_annotations, undo_patch};

use crate::cluster::{api_error, is_conflict, is_not_found, list_all, retry, write_time};
use crate::error::{Error, Result};
use crate::report::{ImageUpdate, Operation, Outcome, RolloutReport};
use crate::status::{StatusContext, WorkloadKind};
use crate::wait::{Progress, ProgressEvent, WaitOptions, Watch, watch_all};
use crate::workload::{
    FIELD_MANAGER, Workload, WorkloadRef, pod_images, selector_string, templates_equal_ignoring_hash,
};

/// How many times a rollback re-reads and retries after its precondition failed only because the
/// controller updated the Deployment's status in between.
const MAX_WRITE_ATTEMPTS: u32 = 5;

/// The rollout history of a Deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct History {
    /// The Deployment.
    pub target: WorkloadRef,
    /// Its revisions, oldest first.
    pub revisions: Vec<Revision>,
}

impl History {
    /// The revision whose template is the Deployment's current one.
    pub fn current(&self) -> Option<&Revision> {
        self.revisions.iter().find(|r| r.current)
    }

    /// The history as `kubectl rollout history deployment/<name>` prints it.
    pub fn kubectl_text(&self) -> String {
        if self.revisions.is_empty() {
            return "No rollout history found.\n".to_owned();
        }
        let mut out = format!("deployment.apps/{} \nREVISION  CHANGE-CAUSE\n", self.target.name);
        for r in &self.revisions {
            out.push_str(&format!("{}         {}\n", r.revision, r.change_cause.as_deref().unwrap_or("<none>")));
        }
        out
    }
}

/// Reads a Deployment and the ReplicaSets it controls.
async fn read(client: &Client, workload: &WorkloadRef, deadline: Instant) -> Result<(Deployment, Vec<ReplicaSet>)> {
    if workload.kind != WorkloadKind::Deployment {
        return Err(Error::InvalidInput {
            field: "kind".into(),
            value: workload.kind_name().into(),
            reason: "rollout history and rollback to a revision are available for deployments only".into(),
        });
    }
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &workload.namespace);
    let deployment = match retry(deadline, || deployments.get(&workload.name)).await {
        Ok(d) => d,
        Err(e) if is_not_found(&e) => return Err(Error::WorkloadNotFound { workload: Box::new(workload.clone()) }),
        Err(e) => return Err(api_error(format!("get {workload}"), e)),
    };
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), &workload.namespace);
    let mut params = ListParams::default();
    if let Some(selector) = deployment.spec.as_ref().and_then(|s| selector_string(&s.selector)) {
        params = params.labels(&selector);
    }
    let sets = list_all(&replica_sets, &params, deadline)
        .await
        .map_err(|e| api_error(format!("list replicasets of {workload}"), e))?;
    Ok((deployment, sets))
}

/// The rollout history of a Deployment, as `kubectl rollout history` finds it, with images, creation
/// times and health marks.
pub async fn history(client: &Client, workload: &WorkloadRef) -> Result<History> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let (deployment, sets) = read(client, workload, deadline).await?;
    let revisions = revisions::revisions(&deployment, &sets).into_iter().map(|(r, _)| r).collect();
    Ok(History { target: workload.clone(), revisions })
}

/// The tag the `deployed` previous-tag strategy found: the release before the current one that was
/// deployed and became healthy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeployedTag {
    /// The tag.
    pub tag: String,
    /// The full image reference of that revision's container.
    pub image: String,
    /// The revision it was found in.
    pub revision: i64,
    /// That revision's ReplicaSet.
    pub replica_set: String,
    /// Whether rollout recorded the revision healthy; false when no earlier revision was, and the
    /// newest earlier one with another tag was taken instead.
    pub healthy: bool,
}

/// The `deployed` previous-tag strategy, pure: among the revisions before the current one, the newest
/// healthy one whose container (`None`: the only app container) runs a tag other than the current
/// one; without a healthy one, the newest earlier one with another tag.
pub fn deployed_previous_tag(history: &History, container: Option<&str>) -> Result<DeployedTag> {
    let current = history.current().or_else(|| history.revisions.iter().max_by_key(|r| r.revision));
    let pick_container = |r: &Revision| -> Option<String> {
        let app: Vec<_> = r.images.iter().filter(|c| !c.init).collect();
        match container {
            Some(name) => r.images.iter().find(|c| c.container == name).map(|c| c.image.clone()),
            None if app.len() == 1 => Some(app[0].image.clone()),
            None => None,
        }
    };
    let no_previous =
        |detail: String| Error::NoPreviousImage { query: format!("deployed in {}", history.target), detail };
    let Some(current) = current else { return Err(no_previous("the deployment has no revisions".into())) };
    let current_image = pick_container(current).ok_or_else(|| {
        let names: Vec<&str> = current.images.iter().map(|c| c.container.as_str()).collect();
        Error::InvalidInput {
            field: "container".into(),
            value: container.unwrap_or_default().into(),
            reason: format!("name one of the containers {}", names.join(", ")),
        }
    })?;
    let current_tag = revisions::image_tag(&current_image).map(str::to_owned);
    let earlier = || {
        history.revisions.iter().rev().filter(|r| r.revision < current.revision).filter_map(|r| {
            let image = pick_container(r)?;
            let tag = revisions::image_tag(&image)?.to_owned();
            (Some(&tag) != current_tag.as_ref()).then_some((r, image, tag))
        })
    };
    let found = earlier().find(|(r, _, _)| r.healthy_at.is_some()).or_else(|| earlier().next());
    let (r, image, tag) = found.ok_or_else(|| {
        no_previous(format!(
            "no revision before {} runs another tag ({} revisions listed)",
            current.revision,
            history.revisions.len()
        ))
    })?;
    Ok(DeployedTag {
        tag,
        image,
        revision: r.revision,
        replica_set: r.replica_set.clone(),
        healthy: r.healthy_at.is_some(),
    })
}

/// Rolls a Deployment back and waits for the rollback's rollout.
///
/// The target is picked by [`select_target`]; the write is `kubectl rollout undo`'s JSON patch
/// ([`undo_patch`]) guarded by the resourceVersion. A paused Deployment is refused
/// ([`Error::PausedDeployment`]); a Deployment already at the target's template is left alone and
/// reported `unchanged`. When another writer changes the Deployment's spec or annotations between
/// our read and our write, [`Error::ConcurrentModification`]; status updates in between are retried.
pub async fn rollback(
    client: &Client,
    workload: &WorkloadRef,
    to: &RollbackTo,
    options: &WaitOptions,
    progress: Progress<'_>,
) -> Result<RolloutReport> {
    let started_at = Timestamp::now();
    let deadline = Instant::now() + options.timeout;
    let mut report = RolloutReport::begin(Operation::Rollback, workload.clone(), started_at);
    let Some(written) = start_rollback(client, workload, to, deadline, &mut report, progress).await? else {
        return Ok(report);
    };
    let context = workload.context.clone().unwrap_or_default();
    let watch =
        Watch { workload: workload.clone(), cluster: 0, since: Some(written.since), selector: written.selector };
    let mut results = watch_all(&[(context, client.clone())], vec![watch], options, deadline, progress).await;
    let images = report.images.clone();
    results.remove(0).fill(&mut report, Some(&images));
    report.into_result()
}

/// Rolls a Deployment back like [`rollback`] and returns as soon as the rollback is written, without
/// waiting for its rollout: the report's outcome is `started` (or `unchanged` when the Deployment is
/// already at the target). `timeout` bounds the reads and the write.
pub async fn rollback_no_wait(
    client: &Client,
    workload: &WorkloadRef,
    to: &RollbackTo,
    timeout: Duration,
    progress: Progress<'_>,
) -> Result<RolloutReport> {
    let started_at = Timestamp::now();
    let deadline = Instant::now() + timeout;
    let mut report = RolloutReport::begin(Operation::Rollback, workload.clone(), started_at);
    if start_rollback(client, workload, to, deadline, &mut report, progress).await?.is_some() {
        let revision = report.revision.map(|r| format!(" to revision {r}")).unwrap_or_default();
        report.finish(
            Outcome::Started,
            None,
            format!("the rollback{revision} was written; not waiting for its rollout, which goes on in the cluster"),
        );
    }
    Ok(report)
}

/// What a started rollback wrote.
pub(crate) struct StartedRollback {
    pub since: StatusContext,
    pub selector: Option<String>,
}

/// Picks the target, writes the undo patch, and fills `report` with the images, revisions and, for a
/// rollback that is not needed, the `unchanged` outcome (then `None` is returned).
pub(crate) async fn start_rollback(
    client: &Client,
    workload: &WorkloadRef,
    to: &RollbackTo,
    deadline: Instant,
    report: &mut RolloutReport,
    progress: Progress<'_>,
) -> Result<Option<StartedRollback>> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), &workload.namespace);
    let (mut deployment, mut sets) = read(client, workload, deadline).await?;
    let decided_generation = deployment.metadata.generation;
    for attempt in 1..=MAX_WRITE_ATTEMPTS {
        let listed = revisions::revisions(&deployment, &sets);
        let history: Vec<Revision> = listed.iter().map(|(r, _)| r.clone()).collect();
        let target = select_target(&history, to, workload)?;
        let target_rs = listed.iter().find(|(r, _)| r.replica_set == target.replica_set).map(|(_, rs)| *rs);
        let target_rs = target_rs.expect("the target was chosen among the listed revisions");
        if deployment.spec.as_ref().and_then(|s| s.paused) == Some(true) {
            return Err(Error::PausedDeployment { workload: Box::new(workload.clone()) });
        }
        let current_images = Workload::Deployment(deployment.clone()).images();
        let target_images =
            pod_images(target_rs.spec.as_ref().and_then(|s| s.template.as_ref()).and_then(|t| t.spec.as_ref()));
        report.images = target_images
            .iter()
            .map(|t| ImageUpdate {
                container: t.container.clone(),
                init: t.init,
                previous: current_images.iter().find(|c| c.container == t.container).map(|c| c.image.clone()),
                new: t.image.clone(),
            })
            .collect();
        report.previous_revision = history.iter().find(|r| r.current).map(|r| r.revision);
        report.revision = Some(target.revision);
        report.new_replica_set = Some(target.replica_set.clone());
        report.change_cause = target.change_cause.clone();

        let current_template = deployment.spec.as_ref().map(|s| &s.template);
        let target_template = target_rs.spec.as_ref().and_then(|s| s.template.as_ref());
        if let (Some(a), Some(b)) = (current_template, target_template)
            && templates_equal_ignoring_hash(a, b)
        {
            // kubectl prints the flag's value here (0 for a plain undo); we print the revision found.
            let message = format!("skipped rollback (current template already matches revision {})", target.revision);
            report.finish(Outcome::Unchanged, Some("AlreadyAtRevision".into()), message);
            return Ok(None);
        }
        progress(&ProgressEvent::RollingBack {
            target: workload.clone(),
            to_revision: Some(target.revision),
            reason: format!("rolling back to {to}"),
        });
        let patch = undo_patch(workload, &deployment, target_rs)?;
        let params = PatchParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..PatchParams::default() };
        let body = Patch::Json::<()>(patch);
        let written = retry(deadline, || api.patch(&workload.name, &params, &body)).await;
        let target_name = target.replica_set.clone();
        let target_template = target_template.cloned();
        match written {
            Ok(d) => return Ok(Some(started(d, target_name, report, progress, workload))),
            Err(e) if is_conflict(&e) && attempt < MAX_WRITE_ATTEMPTS => {
                let (fresh, fresh_sets) = read(client, workload, deadline).await?;
                let applied = match (fresh.spec.as_ref().map(|s| &s.template), target_template.as_ref()) {
                    (Some(a), Some(b)) => templates_equal_ignoring_hash(a, b),
                    _ => false,
                };
                if applied && fresh.metadata.generation != decided_generation {
                    // Our own earlier attempt went through (its answer was lost and it was retried).
                    return Ok(Some(started(fresh, target_name, report, progress, workload)));
                }
                if fresh.metadata.generation != decided_generation {
                    return Err(Error::ConcurrentModification {
                        workload: Box::new(workload.clone()),
                        operation: format!("rollback to revision {}", report.revision.unwrap_or_default()),
                    });
                }
                // Only the status moved (the controller writes it all the time): decide again and retry.
                deployment = fresh;
                sets = fresh_sets;
            }
            Err(e) if is_conflict(&e) => {
                return Err(Error::ConcurrentModification {
                    workload: Box::new(workload.clone()),
                    operation: format!("rollback to revision {}", report.revision.unwrap_or_default()),
                });
            }
            Err(e) => return Err(api_error(format!("patch {workload} (rollback)"), e)),
        }
    }
    unreachable!("the last attempt returns")
}

fn started(
    d: Deployment,
    target_rs: String,
    report: &RolloutReport,
    progress: Progress<'_>,
    workload: &WorkloadRef,
) -> StartedRollback {
    let since = status_context(&d, Some(target_rs));
    progress(&ProgressEvent::Updated {
        target: workload.clone(),
        generation: d.metadata.generation,
        change_cause: report.change_cause.clone(),
        images: report.images.clone(),
    });
    let selector = d.spec.as_ref().and_then(|s| selector_string(&s.selector));
    StartedRollback { since, selector }
}

/// What a Deployment as returned by our write says about that write: the generation it produced,
/// and when it happened by the server's clock (our field manager's `managedFields` time; without
/// one, the latest time the object records, which is no later than the write).
pub(crate) fn status_context(d: &Deployment, new_replica_set: Option<String>) -> StatusContext {
    let conditions = d.status.as_ref().and_then(|s| s.conditions.as_ref());
    let condition_times = conditions
        .into_iter()
        .flatten()
        .flat_map(|c| [c.last_update_time.as_ref(), c.last_transition_time.as_ref()])
        .flatten()
        .map(|t| t.0);
    let patched_at =
        write_time(&d.metadata, FIELD_MANAGER).or_else(|| crate::cluster::latest_time(&d.metadata, condition_times));
    StatusContext { new_replica_set_name: new_replica_set, patched_at, expected_generation: d.metadata.generation }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::workload::ContainerImage;

    fn revision(n: i64, image: &str, healthy: bool, current: bool) -> Revision {
        Revision {
            revision: n,
            replica_set: format!("web-{n}"),
            change_cause: None,
            images: vec![ContainerImage { container: "app".into(), init: false, image: image.into() }],
            created_at: None,
            current,
            healthy_at: healthy.then(|| "2025-01-01T00:00:00Z".parse().unwrap()),
            replicas: 0,
        }
    }

    fn history(revisions: Vec<Revision>) -> History {
        History { target: WorkloadRef::deployment("shop", "web"), revisions }
    }

    #[test]
    fn deployed_strategy_takes_the_previous_healthy_release() {
        let h = history(vec![
            revision(1, "repo/app:1.0.0", true, false),
            revision(2, "repo/app:1.1.0", false, false),
            revision(3, "repo/app:1.1.0", true, false),
            revision(4, "repo/app:1.2.0", false, true),
        ]);
        let got = deployed_previous_tag(&h, None).unwrap();
        assert_eq!((got.tag.as_str(), got.revision, got.healthy), ("1.1.0", 3, true));
        let h = history(vec![
            revision(1, "repo/app:1.0.0", true, false),
            revision(2, "repo/app:1.2.0", true, false),
            revision(3, "repo/app:1.2.0", false, true),
        ]);
        assert_eq!(deployed_previous_tag(&h, Some("app")).unwrap().tag, "1.0.0", "the current tag is skipped");
    }

    #[test]
    fn deployed_strategy_falls_back_to_an_unmarked_release_and_says_so() {
        let h = history(vec![revision(1, "repo/app:1.0.0", false, false), revision(2, "repo/app:1.1.0", false, true)]);
        let got = deployed_previous_tag(&h, None).unwrap();
        assert_eq!((got.tag.as_str(), got.healthy), ("1.0.0", false));
        let err = deployed_previous_tag(&history(vec![revision(1, "repo/app:1", true, true)]), None).unwrap_err();
        assert!(matches!(err, Error::NoPreviousImage { .. }), "{err}");
        let err = deployed_previous_tag(&h, Some("nope")).unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    }

    #[test]
    fn history_prints_like_kubectl() {
        let mut r1 = revision(1, "a:1", false, false);
        r1.change_cause = Some("rollout: app=a:1".into());
        let h = history(vec![r1, revision(2, "a:2", false, true)]);
        assert_eq!(
            h.kubectl_text(),
            "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         rollout: app=a:1\n2         <none>\n"
        );
        assert_eq!(history(vec![]).kubectl_text(), "No rollout history found.\n");
    }

    #[test]
    fn our_write_is_dated_by_our_managed_fields_entry() {
        let d: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "web", "generation": 4, "creationTimestamp": "2025-01-01T00:00:00Z",
                         "managedFields": [{"manager": "kubectl", "time": "2025-01-03T00:00:00Z"},
                                           {"manager": "rollout", "time": "2025-01-02T00:00:00Z"}]},
            "spec": {"selector": {}, "template": {}},
            "status": {"conditions": [{"type": "Progressing", "status": "False", "lastUpdateTime": "2025-01-01T12:00:00Z"}]}
        }))
        .unwrap();
        let ctx = status_context(&d, Some("web-1".into()));
        assert_eq!(ctx.patched_at, Some("2025-01-02T00:00:00Z".parse().unwrap()));
        assert_eq!(ctx.expected_generation, Some(4));
        let mut d = d;
        d.metadata.managed_fields = None;
        assert_eq!(status_context(&d, None).patched_at, Some("2025-01-01T12:00:00Z".parse().unwrap()));
    }
}
