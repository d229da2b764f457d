//! The ReplicaSet controller, after `k8s.io/kubernetes/pkg/controller/replicaset`: it claims pods
//! by selector and controller reference, creates pods from the template (`SuccessfulCreate` events)
//! or deletes the least valuable ones first (the `ActivePods` ranking, `SuccessfulDelete` events),
//! and writes the status counts — `availableReplicas` honouring `minReadySeconds` with a timer for
//! pods that will become available later.

use std::cmp::Ordering;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::model::Rs;
use super::{Ctx, Requeue, Work};
use crate::clock::parse_time;
use crate::events::EventType;
use crate::json;
use crate::kinds::Kind;
use crate::selector::LabelSelector;
use crate::store::{DeleteOptions, Noted, Subresource};

const COMPONENT: &str = "replicaset-controller";

/// Whether a pod counts: not finished and not being deleted (`controller.FilterActivePods`).
pub fn is_active(pod: &Value) -> bool {
    !json::is_deleting(pod) && !matches!(json::get_str(pod, &["status", "phase"]), Some("Succeeded" | "Failed"))
}

fn ready_condition(pod: &Value) -> Option<&Value> {
    json::get(pod, &["status", "conditions"])?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
}

/// `IsPodReady`.
pub fn is_ready(pod: &Value) -> bool {
    ready_condition(pod).and_then(|c| c.get("status")).and_then(Value::as_str) == Some("True")
}

fn ready_since(pod: &Value) -> Option<Timestamp> {
    ready_condition(pod).and_then(|c| c.get("lastTransitionTime")).and_then(Value::as_str).and_then(parse_time)
}

/// `IsPodAvailable`: ready for at least `minReadySeconds`.
pub fn is_available(pod: &Value, min_ready_seconds: i64, now: Timestamp) -> bool {
    if !is_ready(pod) {
        return false;
    }
    if min_ready_seconds == 0 {
        return true;
    }
    ready_since(pod).is_some_and(|t| t + SignedDuration::from_secs(min_ready_seconds) < now)
}

fn phase_rank(pod: &Value) -> u8 {
    match json::get_str(pod, &["status", "phase"]) {
        Some("Pending") => 0,
        Some("Unknown") | None => 1,
        Some("Running") => 2,
        _ => 3,
    }
}

fn restarts(pod: &Value) -> i64 {
    json::get(pod, &["status", "containerStatuses"])
        .and_then(Value::as_array)
        .map(|cs| cs.iter().filter_map(|c| c.get("restartCount").and_then(Value::as_i64)).max().unwrap_or(0))
        .unwrap_or(0)
}

fn deletion_cost(pod: &Value) -> i64 {
    json::annotation(pod, "controller.kubernetes.io/pod-deletion-cost").and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// The `ActivePods` order: the pod that should be deleted first sorts first.
pub fn deletion_order(a: &Value, b: &Value) -> Ordering {
    let assigned = |p: &Value| json::get_str(p, &["spec", "nodeName"]).is_some_and(|n| !n.is_empty());
    let created = |p: &Value| json::get_str(p, &["metadata", "creationTimestamp"]).and_then(parse_time);
    assigned(a)
        .cmp(&assigned(b))
        .then_with(|| phase_rank(a).cmp(&phase_rank(b)))
        .then_with(|| is_ready(a).cmp(&is_ready(b)))
        .then_with(|| deletion_cost(a).cmp(&deletion_cost(b)))
        // Ready for a shorter time first.
        .then_with(|| if is_ready(a) && is_ready(b) { ready_since(b).cmp(&ready_since(a)) } else { Ordering::Equal })
        .then_with(|| restarts(b).cmp(&restarts(a)))
        // Newer first.
        .then_with(|| created(b).cmp(&created(a)))
        .then_with(|| json::name(a).cmp(json::name(b)))
}

/// Syncs one ReplicaSet (`syncReplicaSet`).
pub fn sync(ctx: &Ctx<'_>, ns: &str, name: &str) -> Requeue {
    let Ok(obj) = ctx.store.get(Kind::ReplicaSet, ns, name) else { return Vec::new() };
    let rs = Rs::from_json(&obj);
    let Some(selector) = LabelSelector::from_label_selector(&rs.selector).filter(|s| !s.is_empty()) else {
        return Vec::new();
    };
    let pods = claim_pods(ctx, &obj, &rs, &selector);
    let active: Vec<Arc<Value>> = pods.into_iter().filter(|p| is_active(p)).collect();
    let failure = if rs.deleting { None } else { manage_replicas(ctx, &obj, &rs, &active) };
    write_status(ctx, &rs, &active, failure)
}

fn claim_pods(ctx: &Ctx<'_>, obj: &Value, rs: &Rs, selector: &LabelSelector) -> Vec<Arc<Value>> {
    let Ok(page) = ctx.store.list(Kind::Pod, Some(&rs.ns), &|_| true, None, None) else { return Vec::new() };
    let mut owned = Vec::new();
    for pod in page.items {
        let matches = selector.matches(&json::labels(&pod));
        match json::controller_uid(&pod) {
            Some(uid) if uid == rs.uid => {
                if matches {
                    owned.push(pod);
                } else if !rs.deleting {
                    let uid = rs.uid.clone();
                    ctx.store
                        .modify(Kind::Pod, &rs.ns, json::name(&pod), Subresource::Main, false, |cur| {
                            let mut n = cur.clone();
                            if let Some(a) = n.pointer_mut("/metadata/ownerReferences").and_then(Value::as_array_mut) {
                                a.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid.as_str()));
                            }
                            Ok(n)
                        })
                        .noted(ctx.store, "releasing a pod");
                }
            }
            None if matches && !rs.deleting && !json::is_deleting(&pod) => {
                let owner = owner_ref(obj);
                if let Some((adopted, _)) = ctx
                    .store
                    .modify(Kind::Pod, &rs.ns, json::name(&pod), Subresource::Main, false, |cur| {
                        let mut n = cur.clone();
                        let refs =
                            json::ensure_obj(&mut n, &["metadata"]).entry("ownerReferences").or_insert(json!([]));
                        if let Some(a) = refs.as_array_mut() {
                            a.push(owner);
                        }
                        Ok(n)
                    })
                    .noted(ctx.store, "adopting a pod")
                {
                    owned.push(adopted);
                }
            }
            _ => {}
        }
    }
    owned
}

fn owner_ref(rs: &Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": json::name(rs), "uid": json::uid(rs),
        "controller": true, "blockOwnerDeletion": true
    })
}

/// `manageReplicas`: creates or deletes pods to match `spec.replicas`. Returns a failure message
/// for the `ReplicaFailure` condition when a create or delete failed.
fn manage_replicas(ctx: &Ctx<'_>, obj: &Value, rs: &Rs, active: &[Arc<Value>]) -> Option<(String, String)> {
    let diff = active.len() as i64 - i64::from(rs.replicas);
    if diff < 0 {
        let template = &rs.template;
        for _ in 0..(-diff).min(500) {
            let mut metadata = json!({
                "generateName": format!("{}-", rs.name),
                "namespace": rs.ns,
                "ownerReferences": [owner_ref(obj)],
            });
            for field in ["labels", "annotations"] {
                if let Some(v) = json::get(template, &["metadata", field]) {
                    metadata[field] = v.clone();
                }
            }
            let pod = json!({"metadata": metadata, "spec": template.get("spec").cloned().unwrap_or(json!({}))});
            match ctx.store.create(Kind::Pod, &rs.ns, pod, false) {
                Ok(p) => ctx.events.record(
                    obj,
                    None,
                    EventType::Normal,
                    "SuccessfulCreate",
                    &format!("Created pod: {}", json::name(&p)),
                    COMPONENT,
                    ctx.now,
                ),
                Err(e) => {
                    let msg = format!("Error creating: {}", e.message);
                    ctx.events.record(obj, None, EventType::Warning, "FailedCreate", &msg, COMPONENT, ctx.now);
                    return Some(("FailedCreate".into(), msg));
                }
            }
        }
    } else if diff > 0 {
        let mut victims: Vec<&Arc<Value>> = active.iter().collect();
        victims.sort_by(|a, b| deletion_order(a, b));
        for pod in victims.into_iter().take(diff as usize) {
            match ctx.store.delete(Kind::Pod, &rs.ns, json::name(pod), &DeleteOptions::default()) {
                Ok(_) => ctx.events.record(
                    obj,
                    None,
                    EventType::Normal,
                    "SuccessfulDelete",
                    &format!("Deleted pod: {}", json::name(pod)),
                    COMPONENT,
                    ctx.now,
                ),
                Err(e) if e.code == 404 => {}
                Err(e) => {
                    let msg = format!("Error deleting: {}", e.message);
                    ctx.events.record(obj, None, EventType::Warning, "FailedDelete", &msg, COMPONENT, ctx.now);
                    return Some(("FailedDelete".into(), msg));
                }
            }
        }
    }
    None
}

/// `calculateStatus` + `updateReplicaSetStatus`, and the minReadySeconds timer.
fn write_status(ctx: &Ctx<'_>, rs: &Rs, active: &[Arc<Value>], failure: Option<(String, String)>) -> Requeue {
    let template_labels = json::string_map(&rs.template, &["metadata", "labels"]);
    let fully_labeled = active
        .iter()
        .filter(|p| {
            let l = json::labels(p);
            template_labels.iter().all(|(k, v)| l.get(k) == Some(v))
        })
        .count();
    let ready = active.iter().filter(|p| is_ready(p)).count();
    let available = active.iter().filter(|p| is_available(p, rs.min_ready_seconds, ctx.now)).count();
    let mut status = serde_json::Map::new();
    let mut put = |k: &str, v: usize| {
        if v != 0 {
            status.insert(k.into(), json!(v));
        }
    };
    put("replicas", active.len());
    put("fullyLabeledReplicas", fully_labeled);
    put("readyReplicas", ready);
    put("availableReplicas", available);
    status.insert("replicas".into(), json!(active.len()));
    status.insert("observedGeneration".into(), json!(rs.generation));
    let existing_failure = rs.conditions.iter().find(|c| c.type_ == "ReplicaFailure");
    if let Some((reason, message)) = failure {
        let since = match existing_failure {
            Some(c) if c.reason == reason => c.last_transition.clone(),
            _ => Some(crate::clock::rfc3339(ctx.now)),
        };
        status.insert(
            "conditions".into(),
            json!([{"type": "ReplicaFailure", "status": "True", "reason": reason, "message": message, "lastTransitionTime": since}]),
        );
    }
    let status = Value::Object(status);
    ctx.store
        .modify(Kind::ReplicaSet, &rs.ns, &rs.name, Subresource::Status, false, |cur| {
            let mut n = cur.clone();
            n["status"] = status;
            Ok(n)
        })
        .noted(ctx.store, "the replica set controller's status update");
    // Pods that are ready but not yet available become available when minReadySeconds have
    // passed since they became ready: check again then (the real controller re-queues too).
    let mut requeue = Vec::new();
    if rs.min_ready_seconds > 0 {
        let next = active
            .iter()
            .filter(|p| is_ready(p) && !is_available(p, rs.min_ready_seconds, ctx.now))
            .filter_map(|p| ready_since(p))
            .min();
        if let Some(t) = next {
            let at = t + SignedDuration::from_secs(rs.min_ready_seconds + 1);
            requeue.push((at, Work::ReplicaSet(rs.ns.clone(), rs.name.clone())));
        }
    }
    requeue
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, node: bool, phase: &str, ready: Option<&str>, restarts: i64, created: &str) -> Value {
        let mut p = json!({
            "metadata": {"name": name, "creationTimestamp": created},
            "spec": {},
            "status": {"phase": phase, "containerStatuses": [{"restartCount": restarts}]}
        });
        if node {
            p["spec"]["nodeName"] = json!("n");
        }
        if let Some(since) = ready {
            p["status"]["conditions"] = json!([{"type": "Ready", "status": "True", "lastTransitionTime": since}]);
        }
        p
    }

    #[test]
    fn deletion_prefers_unscheduled_pending_unready_then_newer_pods() {
        let t = "2026-01-01T00:00:00Z";
        let unscheduled = pod("a", false, "Pending", None, 0, t);
        let pending = pod("b", true, "Pending", None, 0, t);
        let running_unready = pod("c", true, "Running", None, 0, t);
        let ready_recent = pod("d", true, "Running", Some("2026-01-01T00:05:00Z"), 0, t);
        let ready_long = pod("e", true, "Running", Some("2026-01-01T00:01:00Z"), 0, t);
        let mut pods = [&ready_long, &ready_recent, &running_unready, &pending, &unscheduled];
        pods.sort_by(|a, b| deletion_order(a, b));
        let names: Vec<&str> = pods.iter().map(|p| json::name(p)).collect();
        assert_eq!(names, ["a", "b", "c", "d", "e"]);
        let crashy = pod("f", true, "Running", None, 5, t);
        assert_eq!(deletion_order(&crashy, &running_unready), Ordering::Less, "more restarts first");
        let newer = pod("g", true, "Running", None, 0, "2026-01-01T01:00:00Z");
        assert_eq!(deletion_order(&newer, &running_unready), Ordering::Less, "newer first");
    }

    #[test]
    fn availability_waits_for_min_ready_seconds() {
        let now: Timestamp = "2026-01-01T00:00:10Z".parse().unwrap();
        let p = pod("a", true, "Running", Some("2026-01-01T00:00:05Z"), 0, "2026-01-01T00:00:00Z");
        assert!(is_available(&p, 0, now));
        assert!(is_available(&p, 4, now));
        assert!(!is_available(&p, 5, now), "ready + minReadySeconds must be strictly before now");
        assert!(!is_available(&pod("b", true, "Running", None, 0, "x"), 0, now));
    }

    #[test]
    fn finished_and_terminating_pods_are_not_active() {
        let t = "2026-01-01T00:00:00Z";
        assert!(is_active(&pod("a", true, "Running", None, 0, t)));
        assert!(!is_active(&pod("a", true, "Succeeded", None, 0, t)));
        let mut deleting = pod("a", true, "Running", None, 0, t);
        deleting["metadata"]["deletionTimestamp"] = json!(t);
        assert!(!is_active(&deleting));
    }
}
