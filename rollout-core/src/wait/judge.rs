//! The pure verdict of a wait over one workload at one instant: kubectl's status of the object, and the
//! diagnosis of the pods of its newest template, combined.
//!
//! It owns which pods belong to the rollout (the new ReplicaSet's for a Deployment, the update
//! revision's for a StatefulSet, the current template generation's for a DaemonSet) and the wording
//! of failures. It fetches nothing and remembers nothing.

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Event, Pod};

use crate::diagnosis::{ContainerProblem, Diagnosis, DiagnosisPolicy, diagnose};
use crate::status::{FailReason, RolloutState, StatusContext, WorkloadStatus};
use crate::workload::{POD_TEMPLATE_HASH, Workload, is_controlled_by, new_replica_set, replica_set_revision};

/// The label the StatefulSet and DaemonSet controllers put on pods: their controller revision.
const CONTROLLER_REVISION_HASH: &str = "controller-revision-hash";
/// The label the DaemonSet controller puts on pods: the generation of the template they run.
const POD_TEMPLATE_GENERATION: &str = "pod-template-generation";

/// What a wait should do about a workload now.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    /// Keep waiting.
    Pending,
    /// The rollout is complete.
    Succeeded,
    /// The rollout failed; waiting longer will not help.
    Failed {
        /// Machine-readable reason (`ProgressDeadlineExceeded`, a kubelet reason, `UnsupportedStrategy`).
        reason: String,
        /// What happened, in words.
        message: String,
    },
}

/// The Deployment's new ReplicaSet, as far as a wait needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewReplicaSet {
    pub name: String,
    pub uid: String,
    pub hash: Option<String>,
    pub revision: Option<i64>,
}

/// Everything judged about a workload at one instant.
#[derive(Debug, Clone)]
pub(crate) struct Judgement {
    pub status: WorkloadStatus,
    pub new_replica_set: Option<NewReplicaSet>,
    pub diagnosis: Diagnosis,
    pub verdict: Verdict,
}

/// The objects around a workload: its namespace's ReplicaSets, pods and pod events.
pub(crate) struct Related<'a> {
    pub replica_sets: &'a [ReplicaSet],
    pub pods: &'a [&'a Pod],
    pub events: &'a [&'a Event],
}

/// Judges a workload: `replica_sets`, `pods` and `events` may hold everything of the namespace; only
/// what belongs to the workload's newest template is looked at.
pub(crate) fn judge(
    workload: &Workload,
    related: &Related<'_>,
    since: Option<&StatusContext>,
    now: Timestamp,
    policy: &DiagnosisPolicy,
    fail_fast: bool,
) -> Judgement {
    let Related { replica_sets, pods, events } = *related;
    let new_rs = match workload {
        Workload::Deployment(d) => new_replica_set(d, replica_sets).map(|rs| NewReplicaSet {
            name: rs.metadata.name.clone().unwrap_or_default(),
            uid: rs.metadata.uid.clone().unwrap_or_default(),
            hash: rs.metadata.labels.as_ref().and_then(|l| l.get(POD_TEMPLATE_HASH)).cloned(),
            revision: replica_set_revision(rs),
        }),
        _ => None,
    };
    let context = since.map(|ctx| {
        let mut ctx = ctx.clone();
        if ctx.new_replica_set_name.is_none() {
            ctx.new_replica_set_name = new_rs.as_ref().map(|rs| rs.name.clone());
        }
        ctx
    });
    let status = workload.status(context.as_ref());

    let own_pods: Vec<Pod> =
        pods.iter().filter(|p| belongs_to_rollout(workload, new_rs.as_ref(), p)).map(|p| (*p).clone()).collect();
    let names: Vec<&str> = own_pods.iter().filter_map(|p| p.metadata.name.as_deref()).collect();
    let own_events: Vec<Event> = events
        .iter()
        .filter(|e| e.involved_object.name.as_deref().is_some_and(|n| names.contains(&n)))
        .map(|e| (*e).clone())
        .collect();
    let diagnosis = diagnose(&own_pods, &own_events, now, policy);

    let verdict = match &status.state {
        RolloutState::Complete(_) => Verdict::Succeeded,
        RolloutState::Failed(FailReason::ProgressDeadlineExceeded { condition_message, .. }) => {
            let mut message = status.message();
            if let Some(cond) = condition_message {
                message.push_str(&format!(" ({cond})"));
            }
            if let Some(problem) = diagnosis.problems().iter().find(|p| !p.transient) {
                message.push_str(&format!("; {}", describe_problem(problem)));
            }
            Verdict::Failed { reason: "ProgressDeadlineExceeded".to_owned(), message }
        }
        RolloutState::Unsupported { .. } => {
            Verdict::Failed { reason: "UnsupportedStrategy".to_owned(), message: status.message() }
        }
        RolloutState::ObservingSpec | RolloutState::Progressing(_) => match &diagnosis {
            Diagnosis::Failing(problems) if fail_fast => {
                let first = problems.iter().find(|p| p.fatal).or(problems.first());
                Verdict::Failed {
                    reason: first.map_or_else(|| "PodFailure".to_owned(), |p| p.reason.clone()),
                    message: failing_message(problems),
                }
            }
            _ => Verdict::Pending,
        },
    };
    Judgement { status, new_replica_set: new_rs, diagnosis, verdict }
}

/// Whether a pod runs the workload's newest template.
fn belongs_to_rollout(workload: &Workload, new_rs: Option<&NewReplicaSet>, pod: &Pod) -> bool {
    let label = |key: &str| pod.metadata.labels.as_ref().and_then(|l| l.get(key)).map(String::as_str);
    match workload {
        Workload::Deployment(_) => new_rs.is_some_and(|rs| is_controlled_by(&pod.metadata, &rs.uid)),
        Workload::StatefulSet(sts) => {
            let owned = workload.uid().is_some_and(|uid| is_controlled_by(&pod.metadata, uid));
            let update_revision = sts.status.as_ref().and_then(|s| s.update_revision.as_deref());
            owned && update_revision.is_none_or(|rev| label(CONTROLLER_REVISION_HASH) == Some(rev))
        }
        Workload::DaemonSet(_) => {
            let owned = workload.uid().is_some_and(|uid| is_controlled_by(&pod.metadata, uid));
            let generation = workload.generation().map(|g| g.to_string());
            owned && generation.is_none_or(|g| label(POD_TEMPLATE_GENERATION).is_none_or(|l| l == g))
        }
    }
}

/// `pod web-7d9f-x container app: CrashLoopBackOff (exit code 1, 3 restarts): back-off 40s …`.
pub fn describe_problem(p: &ContainerProblem) -> String {
    let mut s = format!("pod {}", p.pod);
    if let Some(c) = &p.container {
        s.push_str(&format!(" {}container {c}", if p.init { "init " } else { "" }));
    }
    s.push_str(&format!(": {}", p.reason));
    let mut details = Vec::new();
    if let Some(code) = p.exit_code {
        details.push(format!("exit code {code}"));
    }
    if let Some(last) = p.last_termination_reason.as_deref().filter(|r| *r != p.reason) {
        details.push(format!("last terminated: {last}"));
    }
    if p.restart_count > 0 {
        details.push(format!("{} restarts", p.restart_count));
    }
    if !details.is_empty() {
        s.push_str(&format!(" ({})", details.join(", ")));
    }
    let message = p.message.as_deref().or_else(|| p.events.last().map(|e| e.message.as_str()));
    if let Some(m) = message.filter(|m| !m.is_empty()) {
        s.push_str(&format!(": {m}"));
    }
    s
}

/// The message of a failing diagnosis: the first fatal problem, and how many more there are.
fn failing_message(problems: &[ContainerProblem]) -> String {
    let fatal: Vec<&ContainerProblem> = problems.iter().filter(|p| p.fatal).collect();
    let Some(first) = fatal.first().copied().or(problems.first()) else {
        return "the new pods are failing".to_owned();
    };
    let mut s = describe_problem(first);
    if fatal.len() > 1 {
        s.push_str(&format!(" (and {} more failing containers)", fatal.len() - 1));
    }
    s
}

/// The message of a wait that ran out of time: kubectl's status, then the most telling problem.
pub(crate) fn timeout_message(
    timeout: std::time::Duration,
    status: Option<&WorkloadStatus>,
    problems: &[ContainerProblem],
) -> String {
    let mut s = format!("timed out after {}", crate::wait::format_duration(timeout));
    if let Some(status) = status {
        s.push_str(&format!(": {}", status.message()));
    }
    if let Some(p) = problems.iter().find(|p| !p.transient).or(problems.first()) {
        s.push_str(&format!("; {}", describe_problem(p)));
    }
    s
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::Deployment;
    use serde_json::{Value, json};

    use super::*;

    const NOW: &str = "2025-01-01T00:10:00Z";

    fn deployment(generation: i64, status: Value) -> Workload {
        Workload::Deployment(
            serde_json::from_value::<Deployment>(json!({
                "metadata": {"name": "web", "namespace": "shop", "uid": "d-1", "generation": generation},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                         "template": {"metadata": {"labels": {"app": "web"}},
                                      "spec": {"containers": [{"name": "app", "image": "app:2"}]}}},
                "status": status,
            }))
            .unwrap(),
        )
    }

    fn replica_set(name: &str, uid: &str, image: &str, revision: &str) -> ReplicaSet {
        serde_json::from_value(json!({
            "metadata": {"name": name, "uid": uid, "creationTimestamp": "2025-01-01T00:00:00Z",
                         "labels": {"app": "web", "pod-template-hash": name.trim_start_matches("web-")},
                         "annotations": {"deployment.kubernetes.io/revision": revision},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                              "uid": "d-1", "controller": true}]},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web", "pod-template-hash": name.trim_start_matches("web-")}},
                                  "spec": {"containers": [{"name": "app", "image": image}]}}}
        }))
        .unwrap()
    }

    fn crashing_pod(name: &str, owner_uid: &str, restarts: i32) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "shop", "uid": format!("{name}-uid"),
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                                              "uid": owner_uid, "controller": true}]},
            "status": {"phase": "Running", "startTime": "2025-01-01T00:00:00Z",
                       "containerStatuses": [{"name": "app", "image": "app:2", "imageID": "", "ready": false,
                           "restartCount": restarts,
                           "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container=app"}},
                           "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                                        "finishedAt": "2025-01-01T00:09:00Z"}}}]}
        }))
        .unwrap()
    }

    fn progressing_status() -> Value {
        json!({"observedGeneration": 3, "replicas": 3, "updatedReplicas": 1, "availableReplicas": 2})
    }

    #[test]
    fn crash_looping_new_pods_fail_the_rollout_with_the_kubelet_reason() {
        let sets = [replica_set("web-old", "rs-1", "app:1", "1"), replica_set("web-new", "rs-2", "app:2", "2")];
        let bad = crashing_pod("web-new-a", "rs-2", 5);
        let old = crashing_pod("web-old-a", "rs-1", 9);
        let j = judge(
            &deployment(3, progressing_status()),
            &Related { replica_sets: &sets, pods: &[&bad, &old], events: &[] },
            None,
            NOW.parse().unwrap(),
            &DiagnosisPolicy::default(),
            true,
        );
        assert_eq!(j.new_replica_set.as_ref().map(|r| r.name.as_str()), Some("web-new"));
        assert_eq!(j.new_replica_set.as_ref().and_then(|r| r.revision), Some(2));
        let Verdict::Failed { reason, message } = &j.verdict else { panic!("{:?}", j.verdict) };
        assert_eq!(reason, "CrashLoopBackOff");
        assert_eq!(
            message,
            "pod web-new-a container app: CrashLoopBackOff (exit code 1, last terminated: Error, 5 restarts): \
             back-off 40s restarting failed container=app"
        );
        assert_eq!(j.diagnosis.problems().len(), 1, "old pods are not diagnosed");
    }

    #[test]
    fn without_fail_fast_a_doomed_rollout_keeps_waiting() {
        let sets = [replica_set("web-new", "rs-2", "app:2", "2")];
        let bad = crashing_pod("web-new-a", "rs-2", 5);
        let j = judge(
            &deployment(3, progressing_status()),
            &Related { replica_sets: &sets, pods: &[&bad], events: &[] },
            None,
            NOW.parse().unwrap(),
            &DiagnosisPolicy::default(),
            false,
        );
        assert_eq!(j.verdict, Verdict::Pending);
        assert!(j.diagnosis.is_failing());
    }

    #[test]
    fn complete_status_succeeds_and_stale_deadline_is_ignored_after_our_write() {
        let done = json!({"observedGeneration": 3, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2});
        let j = judge(
            &deployment(3, done),
            &Related { replica_sets: &[], pods: &[], events: &[] },
            None,
            NOW.parse().unwrap(),
            &DiagnosisPolicy::default(),
            true,
        );
        assert_eq!(j.verdict, Verdict::Succeeded);

        let stale = json!({"observedGeneration": 3, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1,
            "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                            "message": "ReplicaSet \"web-bad\" has timed out progressing.",
                            "lastUpdateTime": "2025-01-01T00:05:00Z", "lastTransitionTime": "2025-01-01T00:05:00Z"}]});
        let sets = [replica_set("web-new", "rs-2", "app:2", "4")];
        let since = StatusContext { expected_generation: Some(3), ..Default::default() };
        let j = judge(
            &deployment(3, stale.clone()),
            &Related { replica_sets: &sets, pods: &[], events: &[] },
            Some(&since),
            NOW.parse().unwrap(),
            &DiagnosisPolicy::default(),
            true,
        );
        assert_eq!(j.verdict, Verdict::Pending, "the condition names another ReplicaSet");
        let j = judge(
            &deployment(3, stale),
            &Related { replica_sets: &sets, pods: &[], events: &[] },
            None,
            NOW.parse().unwrap(),
            &DiagnosisPolicy::default(),
            true,
        );
        let Verdict::Failed { reason, message } = j.verdict else { panic!() };
        assert_eq!(reason, "ProgressDeadlineExceeded");
        assert_eq!(
            message,
            "deployment \"web\" exceeded its progress deadline (ReplicaSet \"web-bad\" has timed out progressing.)"
        );
    }
}
