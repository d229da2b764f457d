//! Rollout status of a workload, decided exactly as `kubectl rollout status` decides it.
//!
//! This module owns the pure decision "is this Deployment, StatefulSet or DaemonSet rolled out, still
//! progressing, or failed?" over the object alone, with kubectl's messages, plus the rolling-update
//! fenceposts (maximum surge and unavailability) the Deployment controller derives from the strategy.
//! It also owns the guard against the stale `ProgressDeadlineExceeded` condition that makes kubectl
//! fail right after a rollback ([`rollout_status_since`]).
//!
//! It deliberately does not look at pods, ReplicaSets or events (the pod diagnosis in
//! [`crate::diagnosis`] does), does not fetch or watch anything, and knows nothing about timeouts:
//! kubectl's status is a function of the object, and so is ours.

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, DeploymentCondition, DeploymentStatus, StatefulSet};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The strategy type under which kubectl (and we) can follow a rollout.
const ROLLING_UPDATE: &str = "RollingUpdate";
/// The reason the Deployment controller writes on `Progressing` once the progress deadline passed.
const PROGRESS_DEADLINE_EXCEEDED: &str = "ProgressDeadlineExceeded";

/// The kinds of workload whose rollout status can be followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkloadKind {
    /// `apps/v1` Deployment.
    Deployment,
    /// `apps/v1` StatefulSet.
    StatefulSet,
    /// `apps/v1` DaemonSet.
    DaemonSet,
}

/// The rollout status of one workload: its state, the replica counts behind it, and kubectl's text.
///
/// Serialized as one flat object, for example
/// `{"kind":"deployment","name":"web","state":"progressing","reason":"updating_replicas","updated":1,
/// "desired":3,"message":"Waiting for deployment \"web\" rollout to finish: …","replicas":{…}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadStatus {
    /// What kind of workload this is.
    pub kind: WorkloadKind,
    /// The workload's name (empty when the object has none).
    pub name: String,
    /// Where the rollout stands.
    pub state: RolloutState,
    /// The counts read from the object, for progress reporting.
    pub replicas: ReplicaCounts,
}

impl WorkloadStatus {
    /// kubectl's text for this status, without its trailing newline.
    ///
    /// For a failed Deployment this is the text kubectl prints after `error: `; for a workload whose
    /// strategy kubectl cannot follow, the text of kubectl's error.
    pub fn message(&self) -> String {
        let name = go_quote(&self.name);
        match &self.state {
            RolloutState::ObservingSpec => match self.kind {
                WorkloadKind::Deployment => "Waiting for deployment spec update to be observed...".to_owned(),
                WorkloadKind::StatefulSet => "Waiting for statefulset spec update to be observed...".to_owned(),
                WorkloadKind::DaemonSet => "Waiting for daemon set spec update to be observed...".to_owned(),
            },
            RolloutState::Progressing(wait) => wait.message(&name),
            RolloutState::Complete(Completion::RolledOut) => match self.kind {
                WorkloadKind::Deployment => format!("deployment {name} successfully rolled out"),
                WorkloadKind::DaemonSet => format!("daemon set {name} successfully rolled out"),
                // kubectl never says this for a StatefulSet; the variant is not produced for one.
                WorkloadKind::StatefulSet => format!("statefulset {name} successfully rolled out"),
            },
            RolloutState::Complete(Completion::PartitionedRollout { updated }) => {
                format!("partitioned roll out complete: {updated} new pods have been updated...")
            }
            RolloutState::Complete(Completion::RevisionRollout { current, revision }) => {
                format!("statefulset rolling update complete {current} pods at revision {revision}...")
            }
            RolloutState::Failed(FailReason::ProgressDeadlineExceeded { .. }) => {
                format!("deployment {name} exceeded its progress deadline")
            }
            RolloutState::Unsupported { .. } => {
                format!("rollout status is only available for {ROLLING_UPDATE} strategy type")
            }
        }
    }

    /// Whether the rollout finished successfully.
    pub fn is_complete(&self) -> bool {
        matches!(self.state, RolloutState::Complete(_))
    }

    /// Whether the rollout failed.
    pub fn is_failed(&self) -> bool {
        matches!(self.state, RolloutState::Failed(_))
    }

    /// Whether waiting longer cannot change the answer for this object: complete, failed, or a
    /// strategy kubectl cannot follow.
    pub fn is_terminal(&self) -> bool {
        !matches!(self.state, RolloutState::ObservingSpec | RolloutState::Progressing(_))
    }
}

impl Serialize for WorkloadStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Flat<'a> {
            kind: WorkloadKind,
            name: &'a str,
            #[serde(flatten)]
            state: &'a RolloutState,
            message: String,
            replicas: &'a ReplicaCounts,
        }
        Flat {
            kind: self.kind,
            name: &self.name,
            state: &self.state,
            message: self.message(),
            replicas: &self.replicas,
        }
        .serialize(serializer)
    }
}

/// Where a rollout stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RolloutState {
    /// The controller has not yet observed the latest spec (`observedGeneration` behind).
    ObservingSpec,
    /// The controller works on it; the reason says what it waits for.
    Progressing(WaitReason),
    /// The rollout finished.
    Complete(Completion),
    /// The rollout failed.
    Failed(FailReason),
    /// The workload's update strategy (e.g. `OnDelete`) has no rollout kubectl can follow.
    Unsupported {
        /// The strategy type found.
        strategy: String,
    },
}

/// What a progressing rollout waits for, with the counts kubectl prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum WaitReason {
    /// Deployment: fewer updated replicas than desired.
    UpdatingReplicas {
        /// `status.updatedReplicas`.
        updated: i32,
        /// `spec.replicas`.
        desired: i32,
    },
    /// Deployment: old replicas still counted in `status.replicas` (Terminating pods are not counted).
    OldReplicasPendingTermination {
        /// `status.replicas - status.updatedReplicas`.
        old_pending: i32,
    },
    /// Deployment: some updated replicas are not available yet.
    UpdatedReplicasUnavailable {
        /// `status.availableReplicas`.
        available: i32,
        /// `status.updatedReplicas`.
        updated: i32,
    },
    /// DaemonSet: fewer nodes run the updated pod than should.
    UpdatingPods {
        /// `status.updatedNumberScheduled`.
        updated: i32,
        /// `status.desiredNumberScheduled`.
        desired: i32,
    },
    /// DaemonSet: some pods are not available yet.
    UpdatedPodsUnavailable {
        /// `status.numberAvailable`.
        available: i32,
        /// `status.desiredNumberScheduled`.
        desired: i32,
    },
    /// StatefulSet: some pods are not ready.
    PodsNotReady {
        /// `spec.replicas - status.readyReplicas`.
        not_ready: i32,
    },
    /// StatefulSet with a partition: fewer pods updated than the partition allows.
    PartitionedRollout {
        /// `status.updatedReplicas`.
        updated: i32,
        /// `spec.replicas - partition`.
        target: i32,
    },
    /// StatefulSet: the update revision is not yet the current revision.
    RevisionRollout {
        /// `status.updatedReplicas`.
        updated: i32,
        /// `status.updateRevision`.
        update_revision: String,
    },
}

impl WaitReason {
    fn message(&self, name: &str) -> String {
        match self {
            WaitReason::UpdatingReplicas { updated, desired } => format!(
                "Waiting for deployment {name} rollout to finish: {updated} out of {desired} new replicas have been updated..."
            ),
            WaitReason::OldReplicasPendingTermination { old_pending } => format!(
                "Waiting for deployment {name} rollout to finish: {old_pending} old replicas are pending termination..."
            ),
            WaitReason::UpdatedReplicasUnavailable { available, updated } => format!(
                "Waiting for deployment {name} rollout to finish: {available} of {updated} updated replicas are available..."
            ),
            WaitReason::UpdatingPods { updated, desired } => format!(
                "Waiting for daemon set {name} rollout to finish: {updated} out of {desired} new pods have been updated..."
            ),
            WaitReason::UpdatedPodsUnavailable { available, desired } => format!(
                "Waiting for daemon set {name} rollout to finish: {available} of {desired} updated pods are available..."
            ),
            WaitReason::PodsNotReady { not_ready } => format!("Waiting for {not_ready} pods to be ready..."),
            WaitReason::PartitionedRollout { updated, target } => format!(
                "Waiting for partitioned roll out to finish: {updated} out of {target} new pods have been updated..."
            ),
            WaitReason::RevisionRollout { updated, update_revision } => format!(
                "waiting for statefulset rolling update to complete {updated} pods at revision {update_revision}..."
            ),
        }
    }
}

/// How a rollout completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Completion {
    /// Deployment or DaemonSet: every replica is updated and available.
    RolledOut,
    /// StatefulSet with a `rollingUpdate` section: every pod above the partition is updated.
    PartitionedRollout {
        /// `status.updatedReplicas`.
        updated: i32,
    },
    /// StatefulSet without a `rollingUpdate` section: the update revision became current.
    RevisionRollout {
        /// `status.currentReplicas`.
        current: i32,
        /// `status.currentRevision`.
        revision: String,
    },
}

/// Why a rollout failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum FailReason {
    /// The Deployment controller marked `Progressing=False/ProgressDeadlineExceeded`.
    ProgressDeadlineExceeded {
        /// The condition's message, e.g. `ReplicaSet "web-7d9f" has timed out progressing.`.
        condition_message: Option<String>,
        /// The condition's `lastUpdateTime`: when the controller declared the timeout.
        last_update_time: Option<Timestamp>,
    },
}

/// The replica counts of a workload as its status reports them (missing fields read as 0).
///
/// For a DaemonSet, `desired` is `desiredNumberScheduled` and the others are the `…NumberScheduled`,
/// `numberReady` and `numberAvailable` counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReplicaCounts {
    /// The desired number of replicas, when the object says.
    pub desired: Option<i32>,
    /// Replicas (non-terminating pods) that exist.
    pub current: i32,
    /// Replicas at the latest template.
    pub updated: i32,
    /// Ready replicas.
    pub ready: i32,
    /// Available replicas (ready for at least `minReadySeconds`).
    pub available: i32,
}

/// What we know about our own write to a Deployment, so that a status read afterwards is judged
/// against that write rather than against an earlier rollout.
///
/// Every field is optional; a field left out makes the corresponding check fall back to kubectl's
/// behaviour.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusContext {
    /// The name of the Deployment's new ReplicaSet after our write (the one whose template equals the
    /// Deployment's).
    pub new_replica_set_name: Option<String>,
    /// When our write was applied, ideally by the API server's clock (for example the time of our
    /// field manager's entry in `managedFields`), since it is compared with a controller timestamp.
    pub patched_at: Option<Timestamp>,
    /// The `metadata.generation` our write produced.
    pub expected_generation: Option<i64>,
}

impl StatusContext {
    /// Whether a `ProgressDeadlineExceeded` condition belongs to the rollout our write started.
    ///
    /// The condition outlives the rollout it was written for: after a rollback to an existing
    /// ReplicaSet the controller only replaces it on a later sync, so the first status it writes
    /// after observing our change can still carry the old timeout. The condition is current when its
    /// message names our new ReplicaSet (the controller writes `ReplicaSet "<name>" has timed out
    /// progressing.`), or when its `lastUpdateTime` lies after our write. Condition times have
    /// whole-second precision, so the comparison is made in whole seconds: a timeout in the same
    /// second as our write is taken as stale, which is safe because a timeout of our own rollout comes
    /// at least one progress deadline (≥ 1 s) after it. With neither fact known, the condition is
    /// current, as kubectl takes it; with a fact known but not confirming, it is stale (a false
    /// failure could trigger a needless rollback, while a missed one still ends at the wait's timeout).
    pub fn timed_out_condition_is_current(&self, condition: &DeploymentCondition) -> bool {
        let names_new_rs = self.new_replica_set_name.as_deref().map(|rs| {
            let prefix = format!("ReplicaSet {} ", go_quote(rs));
            condition.message.as_deref().is_some_and(|m| m.starts_with(&prefix))
        });
        let after_patch = self
            .patched_at
            .map(|patched| condition.last_update_time.as_ref().is_some_and(|t| t.0.as_second() > patched.as_second()));
        match (names_new_rs, after_patch) {
            (None, None) => true,
            (names, after) => names.unwrap_or(false) || after.unwrap_or(false),
        }
    }
}

/// The rollout status of a Deployment, exactly as `kubectl rollout status` decides it.
///
/// As kubectl's `rollout_status.go` does: once `metadata.generation <= status.observedGeneration`,
/// a `Progressing` condition with reason `ProgressDeadlineExceeded` fails the rollout; otherwise it
/// waits while fewer replicas are updated than `spec.replicas`, while `status.replicas` exceeds the
/// updated ones (old pods not yet gone; Terminating pods are not counted there), and while fewer
/// updated replicas are available than exist; then it is complete. Missing fields read as 0, as
/// they do in Go.
///
/// This is kubectl's procedure without knowledge of our own write; after a write use
/// [`rollout_status_since`], which cannot be fooled by the previous rollout's status.
///
/// ```
/// # let deployment: k8s_openapi::api::apps::v1::Deployment = serde_json::from_value(serde_json::json!({
/// #     "metadata": {"name": "web", "generation": 2},
/// #     "spec": {"replicas": 3, "selector": {}, "template": {}},
/// #     "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1, "availableReplicas": 3}
/// # })).unwrap();
/// let status = rollout_core::status::rollout_status(&deployment);
/// assert_eq!(
///     status.message(),
///     r#"Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated..."#
/// );
/// ```
pub fn rollout_status(deployment: &Deployment) -> WorkloadStatus {
    rollout_status_since(deployment, None)
}

/// The rollout status of a Deployment after our own write, guarded against stale status.
///
/// Same procedure and messages as [`rollout_status`], with two guards when `since` is given:
/// the spec counts as observed only once `status.observedGeneration` reaches the generation our write
/// produced (kube-rs's `is_deployment_completed` and early Krane releases reported success from the
/// previous rollout's status right after a patch); and a `ProgressDeadlineExceeded` condition fails
/// the rollout only if [`StatusContext::timed_out_condition_is_current`] says it belongs to our
/// rollout. A stale one is ignored and the replica counts decide, as they would have without it.
pub fn rollout_status_since(deployment: &Deployment, since: Option<&StatusContext>) -> WorkloadStatus {
    let name = deployment.metadata.name.clone().unwrap_or_default();
    let generation = deployment.metadata.generation.unwrap_or(0);
    let status = deployment.status.as_ref();
    let spec_replicas = deployment.spec.as_ref().and_then(|s| s.replicas);
    let get = |f: fn(&DeploymentStatus) -> Option<i32>| status.and_then(f).unwrap_or(0);
    let replicas = ReplicaCounts {
        desired: spec_replicas,
        current: get(|s| s.replicas),
        updated: get(|s| s.updated_replicas),
        ready: get(|s| s.ready_replicas),
        available: get(|s| s.available_replicas),
    };
    let observed = status.and_then(|s| s.observed_generation).unwrap_or(0);
    let required = since.and_then(|c| c.expected_generation).map_or(generation, |g| g.max(generation));

    let state = if required <= observed {
        // kubectl takes the first condition of type Progressing and looks only at its reason.
        let timed_out = status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|conds| conds.iter().find(|c| c.type_ == "Progressing"))
            .filter(|c| c.reason.as_deref() == Some(PROGRESS_DEADLINE_EXCEEDED))
            .filter(|c| since.is_none_or(|ctx| ctx.timed_out_condition_is_current(c)));
        if let Some(cond) = timed_out {
            RolloutState::Failed(FailReason::ProgressDeadlineExceeded {
                condition_message: cond.message.clone(),
                last_update_time: cond.last_update_time.as_ref().map(|t| t.0),
            })
        } else if let Some(desired) = spec_replicas.filter(|d| replicas.updated < *d) {
            RolloutState::Progressing(WaitReason::UpdatingReplicas { updated: replicas.updated, desired })
        } else if replicas.current > replicas.updated {
            RolloutState::Progressing(WaitReason::OldReplicasPendingTermination {
                old_pending: replicas.current.wrapping_sub(replicas.updated),
            })
        } else if replicas.available < replicas.updated {
            RolloutState::Progressing(WaitReason::UpdatedReplicasUnavailable {
                available: replicas.available,
                updated: replicas.updated,
            })
        } else {
            RolloutState::Complete(Completion::RolledOut)
        }
    } else {
        RolloutState::ObservingSpec
    };
    WorkloadStatus { kind: WorkloadKind::Deployment, name, state, replicas }
}

/// The rollout status of a StatefulSet, exactly as `kubectl rollout status` decides it.
///
/// As kubectl's `rollout_status.go` does: only the `RollingUpdate` strategy can be followed; the spec
/// must be observed (`observedGeneration` non-zero and not behind); then it waits for
/// `spec.replicas` ready pods; with a `rollingUpdate` section it waits until the pods above the
/// partition are updated (a partition of 0 included), and without one until `updateRevision` equals
/// `currentRevision`. StatefulSets have no progress deadline, so this never reports a failure.
///
/// An absent strategy type is read as `RollingUpdate`, the API server's default (kubectl would
/// reject it, but an object read from a server always has it).
pub fn statefulset_status(sts: &StatefulSet) -> WorkloadStatus {
    let name = sts.metadata.name.clone().unwrap_or_default();
    let generation = sts.metadata.generation.unwrap_or(0);
    let spec = sts.spec.as_ref();
    let spec_replicas = spec.and_then(|s| s.replicas);
    let strategy = spec.and_then(|s| s.update_strategy.as_ref());
    let status = sts.status.as_ref();
    let replicas = ReplicaCounts {
        desired: spec_replicas,
        current: status.map_or(0, |s| s.replicas),
        updated: status.and_then(|s| s.updated_replicas).unwrap_or(0),
        ready: status.and_then(|s| s.ready_replicas).unwrap_or(0),
        available: status.and_then(|s| s.available_replicas).unwrap_or(0),
    };
    let observed = status.and_then(|s| s.observed_generation).unwrap_or(0);
    let strategy_type = strategy.and_then(|s| s.type_.as_deref()).unwrap_or(ROLLING_UPDATE);

    let state = if strategy_type != ROLLING_UPDATE {
        RolloutState::Unsupported { strategy: strategy_type.to_owned() }
    } else if observed == 0 || generation > observed {
        RolloutState::ObservingSpec
    } else if let Some(desired) = spec_replicas.filter(|d| replicas.ready < *d) {
        RolloutState::Progressing(WaitReason::PodsNotReady { not_ready: desired.wrapping_sub(replicas.ready) })
    } else if let Some(rolling) = strategy.and_then(|s| s.rolling_update.as_ref()) {
        let target = spec_replicas.zip(rolling.partition).map(|(r, p)| r.wrapping_sub(p));
        match target.filter(|t| replicas.updated < *t) {
            Some(target) => {
                RolloutState::Progressing(WaitReason::PartitionedRollout { updated: replicas.updated, target })
            }
            None => RolloutState::Complete(Completion::PartitionedRollout { updated: replicas.updated }),
        }
    } else {
        let update_revision = status.and_then(|s| s.update_revision.clone()).unwrap_or_default();
        let current_revision = status.and_then(|s| s.current_revision.clone()).unwrap_or_default();
        if update_revision != current_revision {
            RolloutState::Progressing(WaitReason::RevisionRollout { updated: replicas.updated, update_revision })
        } else {
            RolloutState::Complete(Completion::RevisionRollout {
                current: status.and_then(|s| s.current_replicas).unwrap_or(0),
                revision: current_revision,
            })
        }
    };
    WorkloadStatus { kind: WorkloadKind::StatefulSet, name, state, replicas }
}

/// The rollout status of a DaemonSet, exactly as `kubectl rollout status` decides it.
///
/// As kubectl's `rollout_status.go` does: only the `RollingUpdate` strategy can be followed; once
/// `metadata.generation <= status.observedGeneration` it waits until `updatedNumberScheduled` and
/// then `numberAvailable` reach `desiredNumberScheduled`. DaemonSets have no progress deadline, so this
/// never reports a failure. An absent strategy type is read as `RollingUpdate`, the API default.
pub fn daemonset_status(ds: &DaemonSet) -> WorkloadStatus {
    let name = ds.metadata.name.clone().unwrap_or_default();
    let generation = ds.metadata.generation.unwrap_or(0);
    let status = ds.status.as_ref();
    let desired = status.map_or(0, |s| s.desired_number_scheduled);
    let replicas = ReplicaCounts {
        desired: Some(desired),
        current: status.map_or(0, |s| s.current_number_scheduled),
        updated: status.and_then(|s| s.updated_number_scheduled).unwrap_or(0),
        ready: status.map_or(0, |s| s.number_ready),
        available: status.and_then(|s| s.number_available).unwrap_or(0),
    };
    let observed = status.and_then(|s| s.observed_generation).unwrap_or(0);
    let strategy_type = ds
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        .unwrap_or(ROLLING_UPDATE);

    let state = if strategy_type != ROLLING_UPDATE {
        RolloutState::Unsupported { strategy: strategy_type.to_owned() }
    } else if generation <= observed {
        if replicas.updated < desired {
            RolloutState::Progressing(WaitReason::UpdatingPods { updated: replicas.updated, desired })
        } else if replicas.available < desired {
            RolloutState::Progressing(WaitReason::UpdatedPodsUnavailable { available: replicas.available, desired })
        } else {
            RolloutState::Complete(Completion::RolledOut)
        }
    } else {
        RolloutState::ObservingSpec
    };
    WorkloadStatus { kind: WorkloadKind::DaemonSet, name, state, replicas }
}

/// Resolves a rolling update's `maxSurge` and `maxUnavailable` against a replica count, as the
/// Deployment controller's `ResolveFenceposts` does.
///
/// Returns `(surge, unavailable)`. A percentage of the replicas is rounded up for the surge and down
/// for unavailability; when both come out 0, unavailability becomes 1 so the rollout can move at all.
/// Values must be non-negative integers or percentages written `<digits>%`, and `maxUnavailable` may
/// not exceed 100%, as API validation requires.
///
/// ```
/// use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
/// use rollout_core::status::resolve_fenceposts;
/// let pct = IntOrString::String("25%".into());
/// assert_eq!(resolve_fenceposts(1, &pct, &pct).unwrap(), (1, 0));
/// assert_eq!(resolve_fenceposts(10, &pct, &pct).unwrap(), (3, 2));
/// ```
pub fn resolve_fenceposts(replicas: i32, max_surge: &IntOrString, max_unavailable: &IntOrString) -> Result<(i32, i32)> {
    resolve_named_fenceposts(replicas, ("maxSurge", max_surge), ("maxUnavailable", max_unavailable))
}

fn resolve_named_fenceposts(
    replicas: i32,
    (surge_field, max_surge): (&str, &IntOrString),
    (unavailable_field, max_unavailable): (&str, &IntOrString),
) -> Result<(i32, i32)> {
    let surge = scaled_value(surge_field, max_surge, replicas, Rounding::Up, None)?;
    let unavailable = scaled_value(unavailable_field, max_unavailable, replicas, Rounding::Down, Some(100))?;
    if surge == 0 && unavailable == 0 {
        // As the controller does: a surge might not work (quota), so allow one unavailable pod.
        return Ok((0, 1));
    }
    Ok((surge, unavailable))
}

/// The maximum number of unavailable pods the Deployment controller allows for this Deployment.
///
/// As the controller's `MaxUnavailable`: 0 unless the strategy is `RollingUpdate` and there are
/// replicas, and never more than the replicas. Absent fields take the API defaults (1 replica,
/// `RollingUpdate`, 25% / 25%). Unlike the controller, which treats an unparsable value as 0, an
/// invalid value is an error naming the field.
pub fn max_unavailable(deployment: &Deployment) -> Result<i32> {
    let (replicas, strategy) = rolling_parameters(deployment);
    let Some((surge, unavailable)) = strategy else { return Ok(0) };
    if replicas == 0 {
        return Ok(0);
    }
    let (_, unavailable) = resolve_named_fenceposts(
        replicas,
        ("spec.strategy.rollingUpdate.maxSurge", &surge),
        ("spec.strategy.rollingUpdate.maxUnavailable", &unavailable),
    )?;
    Ok(unavailable.min(replicas))
}

/// The maximum number of pods above the desired count the Deployment controller allows.
///
/// As the controller's `MaxSurge`: 0 unless the strategy is `RollingUpdate`. Absent fields take the
/// API defaults; an invalid value is an error naming the field.
pub fn max_surge(deployment: &Deployment) -> Result<i32> {
    let (replicas, strategy) = rolling_parameters(deployment);
    let Some((surge, unavailable)) = strategy else { return Ok(0) };
    let (surge, _) = resolve_named_fenceposts(
        replicas,
        ("spec.strategy.rollingUpdate.maxSurge", &surge),
        ("spec.strategy.rollingUpdate.maxUnavailable", &unavailable),
    )?;
    Ok(surge)
}

/// The replica count and, for a rolling update, its (maxSurge, maxUnavailable) with API defaults.
fn rolling_parameters(deployment: &Deployment) -> (i32, Option<(IntOrString, IntOrString)>) {
    let spec = deployment.spec.as_ref();
    let replicas = spec.and_then(|s| s.replicas).unwrap_or(1);
    let strategy = spec.and_then(|s| s.strategy.as_ref());
    if strategy.and_then(|s| s.type_.as_deref()).unwrap_or(ROLLING_UPDATE) != ROLLING_UPDATE {
        return (replicas, None);
    }
    let rolling = strategy.and_then(|s| s.rolling_update.as_ref());
    let default = || IntOrString::String("25%".to_owned());
    let surge = rolling.and_then(|r| r.max_surge.clone()).unwrap_or_else(default);
    let unavailable = rolling.and_then(|r| r.max_unavailable.clone()).unwrap_or_else(default);
    (replicas, Some((surge, unavailable)))
}

#[derive(Clone, Copy)]
enum Rounding {
    Up,
    Down,
}

/// An int-or-percentage scaled to `total`, as apimachinery's `GetScaledValueFromIntOrPercent`.
fn scaled_value(
    field: &str,
    value: &IntOrString,
    total: i32,
    rounding: Rounding,
    max_percent: Option<i64>,
) -> Result<i32> {
    let invalid =
        |value: String, reason: &str| Error::InvalidInput { field: field.to_owned(), value, reason: reason.to_owned() };
    match value {
        IntOrString::Int(n) if *n < 0 => Err(invalid(n.to_string(), "must be a non-negative integer or percentage")),
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(s) => {
            let digits = s.strip_suffix('%').filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
            let Some(digits) = digits else {
                return Err(invalid(s.clone(), "must be a non-negative integer or a percentage such as 25%"));
            };
            let Ok(percent) = digits.parse::<i64>() else {
                return Err(invalid(s.clone(), "percentage is too large"));
            };
            if let Some(max) = max_percent.filter(|max| percent > *max) {
                return Err(invalid(s.clone(), &format!("must not be greater than {max}%")));
            }
            let Some(product) = percent.checked_mul(i64::from(total)) else {
                return Err(invalid(s.clone(), "percentage is too large"));
            };
            let scaled = match rounding {
                Rounding::Up => product.div_euclid(100) + i64::from(product.rem_euclid(100) != 0),
                Rounding::Down => product.div_euclid(100),
            };
            i32::try_from(scaled).map_err(|_| invalid(s.clone(), "percentage is too large"))
        }
    }
}

/// Quotes a string as Go's `%q` verb does for the names kubectl prints.
///
/// Kubernetes names are plain ASCII, for which this equals Go's output; control characters are
/// escaped Go-style so that a hostile name cannot break a message across lines.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x80 && c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() && (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\U{:08x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::DeploymentCondition;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    fn deployment(value: Value) -> Deployment {
        serde_json::from_value(value).expect("fixture is a Deployment")
    }

    /// A Deployment "web" at generation 2, observed, with the given replica counts.
    fn web(spec_replicas: i32, replicas: i32, updated: i32, available: i32) -> Deployment {
        deployment(json!({
            "metadata": {"name": "web", "namespace": "shop", "generation": 2},
            "spec": {"replicas": spec_replicas, "selector": {}, "template": {}},
            "status": {
                "observedGeneration": 2,
                "replicas": replicas,
                "updatedReplicas": updated,
                "readyReplicas": available,
                "availableReplicas": available,
            }
        }))
    }

    fn timed_out(mut d: Deployment, rs: &str, last_update: &str) -> Deployment {
        let cond: DeploymentCondition = serde_json::from_value(json!({
            "type": "Progressing",
            "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": format!("ReplicaSet \"{rs}\" has timed out progressing."),
            "lastUpdateTime": last_update,
            "lastTransitionTime": last_update,
        }))
        .unwrap();
        let available: DeploymentCondition = serde_json::from_value(json!({
            "type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
        }))
        .unwrap();
        d.status.as_mut().unwrap().conditions = Some(vec![available, cond]);
        d
    }

    #[test]
    fn deployment_messages_match_kubectl() {
        let cases = [
            (
                web(3, 3, 1, 3),
                r#"Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated..."#,
            ),
            (
                web(3, 5, 3, 2),
                r#"Waiting for deployment "web" rollout to finish: 2 old replicas are pending termination..."#,
            ),
            (
                web(3, 3, 3, 1),
                r#"Waiting for deployment "web" rollout to finish: 1 of 3 updated replicas are available..."#,
            ),
            (web(3, 3, 3, 3), r#"deployment "web" successfully rolled out"#),
            (
                timed_out(web(3, 4, 1, 3), "web-5d8f", "2025-01-01T12:00:00Z"),
                r#"deployment "web" exceeded its progress deadline"#,
            ),
        ];
        for (d, expected) in cases {
            assert_eq!(rollout_status(&d).message(), expected);
        }
    }

    #[test]
    fn deployment_states_are_typed() {
        assert_eq!(
            rollout_status(&web(3, 3, 1, 3)).state,
            RolloutState::Progressing(WaitReason::UpdatingReplicas { updated: 1, desired: 3 })
        );
        assert_eq!(
            rollout_status(&web(3, 5, 3, 2)).state,
            RolloutState::Progressing(WaitReason::OldReplicasPendingTermination { old_pending: 2 })
        );
        assert_eq!(
            rollout_status(&web(3, 3, 3, 1)).state,
            RolloutState::Progressing(WaitReason::UpdatedReplicasUnavailable { available: 1, updated: 3 })
        );
        let done = rollout_status(&web(3, 3, 3, 3));
        assert!(done.is_complete() && done.is_terminal() && !done.is_failed());
        let failed = rollout_status(&timed_out(web(3, 4, 1, 3), "web-5d8f", "2025-01-01T12:00:00Z"));
        assert!(failed.is_failed() && failed.is_terminal());
        assert_eq!(
            failed.state,
            RolloutState::Failed(FailReason::ProgressDeadlineExceeded {
                condition_message: Some(r#"ReplicaSet "web-5d8f" has timed out progressing."#.into()),
                last_update_time: Some("2025-01-01T12:00:00Z".parse().unwrap()),
            })
        );
    }

    #[test]
    fn unobserved_generation_waits_for_the_spec_update() {
        let mut d = web(3, 3, 3, 3);
        d.metadata.generation = Some(3);
        let status = rollout_status(&d);
        assert_eq!(status.state, RolloutState::ObservingSpec);
        assert_eq!(status.message(), "Waiting for deployment spec update to be observed...");
        assert!(!status.is_terminal());
    }

    #[test]
    fn unobserved_generation_is_checked_before_the_progress_deadline() {
        let mut d = timed_out(web(3, 3, 1, 3), "web-5d8f", "2025-01-01T12:00:00Z");
        d.metadata.generation = Some(3);
        assert_eq!(rollout_status(&d).state, RolloutState::ObservingSpec);
    }

    #[test]
    fn previous_rollouts_complete_condition_is_no_success_right_after_a_patch() {
        // kube-rs's is_deployment_completed says yes here: the condition is the previous rollout's.
        let d = deployment(json!({
            "metadata": {"name": "web", "generation": 5},
            "spec": {"replicas": 3, "selector": {}, "template": {}},
            "status": {
                "observedGeneration": 4, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3,
                "conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]
            }
        }));
        assert_eq!(rollout_status(&d).state, RolloutState::ObservingSpec);
    }

    #[test]
    fn stale_read_of_an_object_older_than_our_write_waits_for_our_generation() {
        // A cached copy from before our patch looks observed and complete; our write made generation 3.
        let d = web(3, 3, 3, 3);
        let ctx = StatusContext { expected_generation: Some(3), ..StatusContext::default() };
        assert_eq!(rollout_status_since(&d, Some(&ctx)).state, RolloutState::ObservingSpec);
        let ctx = StatusContext { expected_generation: Some(2), ..StatusContext::default() };
        assert!(rollout_status_since(&d, Some(&ctx)).is_complete());
    }

    #[test]
    fn terminating_old_pods_do_not_block_success() {
        // status.replicas counts only non-terminating pods: two old pods still terminating are absent.
        let d = deployment(json!({
            "metadata": {"name": "web", "generation": 2},
            "spec": {"replicas": 3, "selector": {}, "template": {}},
            "status": {
                "observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3,
                "availableReplicas": 3, "terminatingReplicas": 2
            }
        }));
        assert_eq!(rollout_status(&d).message(), r#"deployment "web" successfully rolled out"#);
    }

    #[test]
    fn missing_spec_replicas_skips_the_updated_check_as_kubectl_does() {
        let d = deployment(json!({
            "metadata": {"name": "web", "generation": 1},
            "spec": {"selector": {}, "template": {}},
            "status": {"observedGeneration": 1, "replicas": 0, "updatedReplicas": 0}
        }));
        assert!(rollout_status(&d).is_complete());
        let bare = deployment(json!({"metadata": {"name": "web"}}));
        assert!(rollout_status(&bare).is_complete(), "Go zero values: generation 0 <= observed 0");
    }

    #[test]
    fn stale_timeout_naming_another_replica_set_is_ignored() {
        // After `rollout undo` to an existing ReplicaSet the old timeout survives the first sync.
        let d = timed_out(web(3, 3, 3, 3), "web-bad", "2025-01-01T12:00:00Z");
        assert!(rollout_status(&d).is_failed(), "kubectl is fooled");
        let ctx = StatusContext { new_replica_set_name: Some("web-good".into()), ..StatusContext::default() };
        let status = rollout_status_since(&d, Some(&ctx));
        assert_eq!(status.message(), r#"deployment "web" successfully rolled out"#);
        let d = timed_out(web(3, 3, 1, 3), "web-bad", "2025-01-01T12:00:00Z");
        assert_eq!(
            rollout_status_since(&d, Some(&ctx)).state,
            RolloutState::Progressing(WaitReason::UpdatingReplicas { updated: 1, desired: 3 })
        );
    }

    #[test]
    fn timeout_naming_our_replica_set_is_current() {
        let d = timed_out(web(3, 4, 1, 3), "web-new", "2025-01-01T12:00:00Z");
        let ctx = StatusContext {
            new_replica_set_name: Some("web-new".into()),
            patched_at: Some("2025-01-01T12:30:00Z".parse().unwrap()),
            expected_generation: Some(2),
        };
        assert!(rollout_status_since(&d, Some(&ctx)).is_failed());
    }

    #[test]
    fn replica_set_name_must_match_whole() {
        let d = timed_out(web(3, 4, 1, 3), "web-new2", "2025-01-01T12:00:00Z");
        let ctx = StatusContext { new_replica_set_name: Some("web-new".into()), ..StatusContext::default() };
        assert!(!rollout_status_since(&d, Some(&ctx)).is_failed());
    }

    #[test]
    fn timeout_after_our_patch_is_current_and_before_it_is_stale() {
        let d = timed_out(web(3, 4, 1, 3), "web-5d8f", "2025-01-01T12:10:00Z");
        let at = |t: &str| StatusContext { patched_at: Some(t.parse().unwrap()), ..StatusContext::default() };
        assert!(rollout_status_since(&d, Some(&at("2025-01-01T12:00:00Z"))).is_failed());
        assert!(!rollout_status_since(&d, Some(&at("2025-01-01T12:20:00Z"))).is_failed());
        // Same second: the condition's time is truncated to seconds, so it cannot be ours.
        assert!(!rollout_status_since(&d, Some(&at("2025-01-01T12:10:00.600Z"))).is_failed());
        assert!(rollout_status_since(&d, Some(&at("2025-01-01T12:09:59.900Z"))).is_failed());
    }

    #[test]
    fn either_fact_confirming_the_timeout_makes_it_current() {
        let d = timed_out(web(3, 4, 1, 3), "web-other", "2025-01-01T12:10:00Z");
        let ctx = StatusContext {
            new_replica_set_name: Some("web-new".into()),
            patched_at: Some("2025-01-01T12:00:00Z".parse().unwrap()),
            expected_generation: None,
        };
        assert!(rollout_status_since(&d, Some(&ctx)).is_failed());
    }

    #[test]
    fn empty_context_keeps_kubectls_reading_of_the_timeout() {
        let d = timed_out(web(3, 3, 3, 3), "web-bad", "2025-01-01T12:00:00Z");
        assert!(rollout_status_since(&d, Some(&StatusContext::default())).is_failed());
    }

    #[test]
    fn timeout_without_update_time_is_stale_when_only_the_patch_time_is_known() {
        let mut d = timed_out(web(3, 3, 3, 3), "web-bad", "2025-01-01T12:00:00Z");
        let conds = d.status.as_mut().unwrap().conditions.as_mut().unwrap();
        conds[1].last_update_time = None;
        let ctx = StatusContext { patched_at: Some("2025-01-01T12:00:00Z".parse().unwrap()), ..Default::default() };
        assert!(rollout_status_since(&d, Some(&ctx)).is_complete());
    }

    #[test]
    fn workload_status_serializes_flat_with_kubectls_message() {
        let value = serde_json::to_value(rollout_status(&web(3, 3, 1, 3))).unwrap();
        assert_eq!(
            value,
            json!({
                "kind": "deployment",
                "name": "web",
                "state": "progressing",
                "reason": "updating_replicas",
                "updated": 1,
                "desired": 3,
                "message": "Waiting for deployment \"web\" rollout to finish: 1 out of 3 new replicas have been updated...",
                "replicas": {"desired": 3, "current": 3, "updated": 1, "ready": 3, "available": 3}
            })
        );
        let failed = rollout_status(&timed_out(web(3, 4, 1, 3), "web-5d8f", "2025-01-01T12:00:00Z"));
        let value = serde_json::to_value(failed).unwrap();
        assert_eq!(value["state"], "failed");
        assert_eq!(value["reason"], "progress_deadline_exceeded");
        assert_eq!(value["last_update_time"], "2025-01-01T12:00:00Z");
        let done = serde_json::to_value(rollout_status(&web(3, 3, 3, 3))).unwrap();
        assert_eq!((done["state"].as_str(), done["reason"].as_str()), (Some("complete"), Some("rolled_out")));
    }

    fn statefulset(value: Value) -> StatefulSet {
        serde_json::from_value(value).expect("fixture is a StatefulSet")
    }

    /// A StatefulSet "db" with 3 replicas at generation 2 and the given strategy and status.
    fn db(strategy: Value, status: Value) -> StatefulSet {
        let mut status = status;
        status["observedGeneration"] = status.get("observedGeneration").cloned().unwrap_or(json!(2));
        statefulset(json!({
            "metadata": {"name": "db", "generation": 2},
            "spec": {"replicas": 3, "selector": {}, "template": {}, "serviceName": "db", "updateStrategy": strategy},
            "status": status,
        }))
    }

    #[test]
    fn statefulset_messages_match_kubectl() {
        let rolling = json!({"type": "RollingUpdate"});
        let partitioned = json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 1}});
        let cases = [
            (
                db(json!({"type": "OnDelete"}), json!({"replicas": 3})),
                "rollout status is only available for RollingUpdate strategy type",
            ),
            (
                db(rolling.clone(), json!({"replicas": 3, "observedGeneration": 0})),
                "Waiting for statefulset spec update to be observed...",
            ),
            (
                db(rolling.clone(), json!({"replicas": 3, "observedGeneration": 1})),
                "Waiting for statefulset spec update to be observed...",
            ),
            (db(rolling.clone(), json!({"replicas": 3, "readyReplicas": 1})), "Waiting for 2 pods to be ready..."),
            (
                db(partitioned.clone(), json!({"replicas": 3, "readyReplicas": 3, "updatedReplicas": 1})),
                "Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated...",
            ),
            (
                db(partitioned, json!({"replicas": 3, "readyReplicas": 3, "updatedReplicas": 2})),
                "partitioned roll out complete: 2 new pods have been updated...",
            ),
            (
                db(
                    rolling.clone(),
                    json!({"replicas": 3, "readyReplicas": 3, "updatedReplicas": 1, "currentReplicas": 2,
                           "currentRevision": "db-6f7c", "updateRevision": "db-8d9e"}),
                ),
                "waiting for statefulset rolling update to complete 1 pods at revision db-8d9e...",
            ),
            (
                db(
                    rolling,
                    json!({"replicas": 3, "readyReplicas": 3, "updatedReplicas": 3, "currentReplicas": 3,
                           "currentRevision": "db-8d9e", "updateRevision": "db-8d9e"}),
                ),
                "statefulset rolling update complete 3 pods at revision db-8d9e...",
            ),
        ];
        for (sts, expected) in cases {
            assert_eq!(statefulset_status(&sts).message(), expected);
        }
    }

    #[test]
    fn statefulset_on_delete_is_unsupported_and_terminal() {
        let status = statefulset_status(&db(json!({"type": "OnDelete"}), json!({"replicas": 3})));
        assert_eq!(status.state, RolloutState::Unsupported { strategy: "OnDelete".into() });
        assert!(status.is_terminal() && !status.is_complete() && !status.is_failed());
    }

    #[test]
    fn statefulset_with_rolling_update_section_completes_by_partition_even_at_zero() {
        let sts = db(
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
            json!({"replicas": 3, "readyReplicas": 3, "updatedReplicas": 3,
                   "currentRevision": "a", "updateRevision": "b"}),
        );
        let status = statefulset_status(&sts);
        assert_eq!(status.state, RolloutState::Complete(Completion::PartitionedRollout { updated: 3 }));
    }

    #[test]
    fn statefulset_without_strategy_type_is_read_as_rolling_update() {
        let sts = statefulset(json!({
            "metadata": {"name": "db", "generation": 1},
            "spec": {"replicas": 1, "selector": {}, "template": {}, "serviceName": "db"},
            "status": {"replicas": 1, "observedGeneration": 1, "readyReplicas": 0}
        }));
        assert_eq!(statefulset_status(&sts).message(), "Waiting for 1 pods to be ready...");
    }

    fn daemonset(strategy: &str, generation: i64, status: Value) -> DaemonSet {
        serde_json::from_value(json!({
            "metadata": {"name": "agent", "generation": generation},
            "spec": {"selector": {}, "template": {}, "updateStrategy": {"type": strategy}},
            "status": status,
        }))
        .expect("fixture is a DaemonSet")
    }

    #[test]
    fn daemonset_messages_match_kubectl() {
        let counts = |updated: i32, available: i32| {
            json!({"observedGeneration": 2, "desiredNumberScheduled": 3, "currentNumberScheduled": 3,
                   "numberMisscheduled": 0, "numberReady": available, "updatedNumberScheduled": updated,
                   "numberAvailable": available})
        };
        let cases = [
            (
                daemonset("OnDelete", 2, counts(3, 3)),
                "rollout status is only available for RollingUpdate strategy type",
            ),
            (daemonset("RollingUpdate", 3, counts(3, 3)), "Waiting for daemon set spec update to be observed..."),
            (
                daemonset("RollingUpdate", 2, counts(1, 3)),
                r#"Waiting for daemon set "agent" rollout to finish: 1 out of 3 new pods have been updated..."#,
            ),
            (
                daemonset("RollingUpdate", 2, counts(3, 2)),
                r#"Waiting for daemon set "agent" rollout to finish: 2 of 3 updated pods are available..."#,
            ),
            (daemonset("RollingUpdate", 2, counts(3, 3)), r#"daemon set "agent" successfully rolled out"#),
        ];
        for (ds, expected) in cases {
            assert_eq!(daemonset_status(&ds).message(), expected);
        }
        let on_delete = daemonset_status(&daemonset("OnDelete", 2, counts(3, 3)));
        assert_eq!(on_delete.state, RolloutState::Unsupported { strategy: "OnDelete".into() });
    }

    fn pct(s: &str) -> IntOrString {
        IntOrString::String(s.to_owned())
    }

    #[test]
    fn fenceposts_round_surge_up_and_unavailable_down() {
        let cases = [
            (1, pct("25%"), pct("25%"), (1, 0)),
            (3, pct("25%"), pct("25%"), (1, 0)),
            (4, pct("25%"), pct("25%"), (1, 1)),
            (10, pct("25%"), pct("25%"), (3, 2)),
            (10, pct("0%"), pct("100%"), (0, 10)),
            (3, pct("150%"), pct("0%"), (5, 0)),
            (5, IntOrString::Int(2), IntOrString::Int(0), (2, 0)),
            (1, IntOrString::Int(0), IntOrString::Int(0), (0, 1)),
            (0, pct("25%"), pct("25%"), (0, 1)),
            (1, IntOrString::Int(0), pct("50%"), (0, 1)),
        ];
        for (replicas, surge, unavailable, expected) in cases {
            assert_eq!(
                resolve_fenceposts(replicas, &surge, &unavailable).unwrap(),
                expected,
                "{replicas} {surge:?} {unavailable:?}"
            );
        }
    }

    #[test]
    fn invalid_fenceposts_name_the_field_and_value() {
        let cases = [
            (pct("25"), pct("25%"), "maxSurge", "25"),
            (pct("abc%"), pct("25%"), "maxSurge", "abc%"),
            (pct("-5%"), pct("25%"), "maxSurge", "-5%"),
            (pct(" 5%"), pct("25%"), "maxSurge", " 5%"),
            (IntOrString::Int(-1), pct("25%"), "maxSurge", "-1"),
            (pct("25%"), pct("101%"), "maxUnavailable", "101%"),
            (pct("25%"), pct("%"), "maxUnavailable", "%"),
            (pct("99999999999999999999%"), pct("1%"), "maxSurge", "99999999999999999999%"),
        ];
        for (surge, unavailable, field, value) in cases {
            match resolve_fenceposts(10, &surge, &unavailable) {
                Err(Error::InvalidInput { field: f, value: v, .. }) => {
                    assert_eq!((f.as_str(), v.as_str()), (field, value))
                }
                other => panic!("{surge:?}/{unavailable:?}: expected an invalid input error, got {other:?}"),
            }
        }
        let err = resolve_fenceposts(3, &pct("25%"), &pct("101%")).unwrap_err().to_string();
        assert_eq!(err, r#"invalid maxUnavailable "101%": must not be greater than 100%"#);
    }

    fn with_strategy(replicas: Option<i32>, strategy: Value) -> Deployment {
        deployment(json!({
            "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": {}, "template": {}, "strategy": strategy},
        }))
    }

    #[test]
    fn controller_fenceposts_follow_the_deployment_strategy() {
        let d = with_strategy(Some(3), json!({}));
        assert_eq!((max_surge(&d).unwrap(), max_unavailable(&d).unwrap()), (1, 0));
        let d = with_strategy(None, json!({"type": "RollingUpdate"}));
        assert_eq!((max_surge(&d).unwrap(), max_unavailable(&d).unwrap()), (1, 0), "one replica by default");
        let d = with_strategy(
            Some(10),
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "50%"}}),
        );
        assert_eq!((max_surge(&d).unwrap(), max_unavailable(&d).unwrap()), (0, 5));
        let d = with_strategy(Some(2), json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 5}}));
        assert_eq!(max_unavailable(&d).unwrap(), 2, "capped at the replicas");
        let d = with_strategy(Some(0), json!({"type": "RollingUpdate"}));
        assert_eq!(max_unavailable(&d).unwrap(), 0, "no replicas, nothing may be unavailable");
        let d = with_strategy(Some(3), json!({"type": "Recreate"}));
        assert_eq!((max_surge(&d).unwrap(), max_unavailable(&d).unwrap()), (0, 0));
        let d = with_strategy(
            Some(1),
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}),
        );
        assert_eq!(max_unavailable(&d).unwrap(), 1);
    }

    #[test]
    fn controller_fenceposts_reject_invalid_values_naming_the_spec_field() {
        let d = with_strategy(Some(3), json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "lots"}}));
        let err = max_surge(&d).unwrap_err().to_string();
        assert!(err.starts_with(r#"invalid spec.strategy.rollingUpdate.maxSurge "lots": "#), "{err}");
        assert!(max_unavailable(&d).is_err());
    }

    #[test]
    fn names_are_quoted_like_go() {
        assert_eq!(go_quote("web"), r#""web""#);
        assert_eq!(go_quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_quote("x\ny\u{1}"), r#""x\ny\x01""#);
        assert_eq!(go_quote("é"), "\"é\"");
    }

    fn int_or_string() -> impl Strategy<Value = IntOrString> {
        prop_oneof![
            any::<i32>().prop_map(IntOrString::Int),
            "[0-9]{0,12}%?".prop_map(IntOrString::String),
            ".*".prop_map(IntOrString::String),
        ]
    }

    fn arbitrary_deployment() -> impl Strategy<Value = Deployment> {
        let condition = (
            prop_oneof![Just("Progressing".to_owned()), Just("Available".to_owned()), ".*"],
            prop::option::of(prop_oneof![
                Just("ProgressDeadlineExceeded".to_owned()),
                Just("NewReplicaSetAvailable".to_owned()),
                ".*"
            ]),
            prop::option::of(".*"),
            prop::option::of(-100_000_000_000i64..100_000_000_000),
        )
            .prop_map(|(type_, reason, message, at)| DeploymentCondition {
                type_,
                status: "False".into(),
                reason,
                message,
                last_update_time: at
                    .map(|s| k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Timestamp::from_second(s).unwrap())),
                last_transition_time: None,
            });
        let status = (
            prop::array::uniform6(prop::option::of(any::<i32>())),
            prop::option::of(any::<i64>()),
            prop::option::of(prop::collection::vec(condition, 0..4)),
        )
            .prop_map(|(n, observed, conditions)| DeploymentStatus {
                replicas: n[0],
                updated_replicas: n[1],
                ready_replicas: n[2],
                available_replicas: n[3],
                unavailable_replicas: n[4],
                terminating_replicas: n[5],
                observed_generation: observed,
                conditions,
                collision_count: None,
            });
        (
            prop::option::of(".*"),
            prop::option::of(any::<i64>()),
            prop::option::of(prop::option::of(any::<i32>())),
            prop::option::of(status),
            prop::option::of((
                prop::option::of(".*"),
                prop::option::of(int_or_string()),
                prop::option::of(int_or_string()),
            )),
        )
            .prop_map(|(name, generation, spec_replicas, status, strategy)| {
                let mut d = Deployment::default();
                d.metadata.name = name;
                d.metadata.generation = generation;
                d.spec = spec_replicas.map(|replicas| {
                    let mut spec = k8s_openapi::api::apps::v1::DeploymentSpec { replicas, ..Default::default() };
                    spec.strategy = strategy.map(|(type_, max_surge, max_unavailable)| {
                        k8s_openapi::api::apps::v1::DeploymentStrategy {
                            type_,
                            rolling_update: Some(k8s_openapi::api::apps::v1::RollingUpdateDeployment {
                                max_surge,
                                max_unavailable,
                            }),
                        }
                    });
                    spec
                });
                d.status = status;
                d
            })
    }

    fn arbitrary_context() -> impl Strategy<Value = Option<StatusContext>> {
        prop::option::of(
            (
                prop::option::of(".*"),
                prop::option::of(-100_000_000_000i64..100_000_000_000),
                prop::option::of(any::<i64>()),
            )
                .prop_map(|(rs, at, generation)| StatusContext {
                    new_replica_set_name: rs,
                    patched_at: at.map(|s| Timestamp::from_second(s).unwrap()),
                    expected_generation: generation,
                }),
        )
    }

    fn strategy_type() -> impl Strategy<Value = String> {
        prop_oneof![Just("RollingUpdate".to_owned()), Just("OnDelete".to_owned()), ".*"]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn rollout_status_never_panics(d in arbitrary_deployment(), ctx in arbitrary_context()) {
            let status = rollout_status_since(&d, ctx.as_ref());
            let _ = status.message();
            let _ = serde_json::to_string(&status).unwrap();
            let _ = max_surge(&d);
            let _ = max_unavailable(&d);
            if ctx.is_none() {
                prop_assert_eq!(status, rollout_status(&d));
            }
        }

        #[test]
        fn workload_statuses_never_panic(
            replicas in prop::option::of(any::<i32>()),
            partition in prop::option::of(any::<i32>()),
            counts in prop::array::uniform6(any::<i32>()),
            generation in prop::option::of(any::<i64>()),
            observed in prop::option::of(any::<i64>()),
            strategy in prop::option::of(strategy_type()),
        ) {
            let sts = statefulset(json!({
                "metadata": {"name": "db", "generation": generation},
                "spec": {"replicas": replicas, "selector": {}, "template": {}, "serviceName": "db",
                         "updateStrategy": {"type": strategy,
                                            "rollingUpdate": partition.map(|p| json!({"partition": p}))}},
                "status": {"replicas": counts[0], "readyReplicas": counts[1], "updatedReplicas": counts[2],
                           "currentReplicas": counts[3], "observedGeneration": observed,
                           "currentRevision": "a", "updateRevision": "b"},
            }));
            let _ = statefulset_status(&sts).message();
            let ds = daemonset(strategy.as_deref().unwrap_or("RollingUpdate"), generation.unwrap_or(0), json!({
                "observedGeneration": observed, "desiredNumberScheduled": counts[0],
                "currentNumberScheduled": counts[1], "numberMisscheduled": counts[2],
                "numberReady": counts[3], "updatedNumberScheduled": counts[4],
                "numberAvailable": counts[5],
            }));
            let _ = daemonset_status(&ds).message();
        }

        #[test]
        fn fenceposts_never_panic(replicas in any::<i32>(), surge in int_or_string(), unavailable in int_or_string()) {
            if let Ok((s, u)) = resolve_fenceposts(replicas, &surge, &unavailable) {
                prop_assert!(s != 0 || u != 0);
            }
        }
    }
}
