//! Server-side printing: `meta.k8s.io/v1` Tables for the human output of `kubectl get`.
//!
//! kubectl asks for a Table when it prints for people and falls back to plain objects, printing only
//! NAME and AGE. The sandbox answers Tables with the columns the real API server prints for the kinds
//! that matter when watching a rollout, and computes ages on the simulated clock, so a sandbox with a
//! fast clock shows sensible ages.

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::clock::parse_time;
use crate::json;
use crate::kinds::Kind;
use crate::selector::LabelSelector;

/// Whether an Accept header asks for a Table.
pub fn wants_table(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.split(',').next().is_some_and(|first| first.contains("as=Table")))
}

fn col(name: &str, type_: &str, priority: u8, description: &str) -> Value {
    let format = if name == "Name" { "name" } else { "" };
    json!({"name": name, "type": type_, "format": format, "description": description, "priority": priority})
}

fn columns(kind: Kind) -> Vec<Value> {
    let name = col("Name", "string", 0, "Name must be unique within a namespace.");
    let age = col(
        "Age",
        "string",
        0,
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
    );
    match kind {
        Kind::Deployment => vec![
            name,
            col("Ready", "string", 0, "Number of the pod with ready state"),
            col(
                "Up-to-date",
                "integer",
                0,
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            ),
            col(
                "Available",
                "integer",
                0,
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            ),
            age,
            col("Containers", "string", 1, "Names of each container in the template."),
            col("Images", "string", 1, "Images referenced by each container in the template."),
            col("Selector", "string", 1, "Label selector for pods."),
        ],
        Kind::ReplicaSet => vec![
            name,
            col("Desired", "integer", 0, "Number of desired pods."),
            col("Current", "integer", 0, "Number of actual replicas."),
            col("Ready", "integer", 0, "The number of ready replicas for this replica set."),
            age,
            col("Containers", "string", 1, "Names of each container in the template."),
            col("Images", "string", 1, "Images referenced by each container in the template."),
            col("Selector", "string", 1, "Label selector for pods."),
        ],
        Kind::Pod => vec![
            name,
            col("Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic."),
            col("Status", "string", 0, "The aggregate status of the containers in this pod."),
            col("Restarts", "string", 0, "The number of times the containers in this pod have been restarted."),
            age,
            col("IP", "string", 1, "IP address allocated to the pod."),
            col("Node", "string", 1, "Name of the node the pod is assigned to."),
        ],
        Kind::Namespace => vec![name, col("Status", "string", 0, "The status of the namespace"), age],
        Kind::Event => vec![
            col("Last Seen", "string", 0, "Time when last this event was seen."),
            col("Type", "string", 0, "Type of this event."),
            col("Reason", "string", 0, "Reason why this event was generated."),
            col("Object", "string", 0, "The object that this event is about."),
            col("Message", "string", 0, "A human-readable description of the status of this event."),
            col("Name", "string", 1, "Name must be unique within a namespace."),
        ],
        _ => vec![name, age],
    }
}

/// kubectl's `HumanDuration`: `45s`, `3m20s`, `15m`, `2h10m`, `30h`, `3d4h`, `20d`, `2y`.
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86_400);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        let r = s % 60;
        if r == 0 { format!("{m}m") } else { format!("{m}m{r}s") }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        let r = m % 60;
        if r == 0 { format!("{h}h") } else { format!("{h}h{r}m") }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 192 {
        let r = h % 24;
        if r == 0 { format!("{d}d") } else { format!("{d}d{r}h") }
    } else if d < 365 * 2 {
        format!("{d}d")
    } else {
        format!("{}y", d / 365)
    }
}

fn age(obj: &Value, field: &[&str], now: Timestamp) -> String {
    match json::get_str(obj, field).and_then(parse_time) {
        Some(t) => human_duration(now.duration_since(t).as_secs()),
        None => "<unknown>".into(),
    }
}

fn i(obj: &Value, path: &[&str]) -> i64 {
    json::get_i64(obj, path).unwrap_or(0)
}

fn template_columns(obj: &Value) -> (String, String, String) {
    let containers = json::get(obj, &["spec", "template", "spec", "containers"]).and_then(Value::as_array);
    let pick = |k: &str| {
        containers
            .map(|cs| cs.iter().filter_map(|c| c.get(k).and_then(Value::as_str)).collect::<Vec<_>>().join(","))
            .unwrap_or_default()
    };
    let selector = json::get(obj, &["spec", "selector"])
        .and_then(LabelSelector::from_label_selector)
        .map(|s| s.to_string())
        .unwrap_or_default();
    (pick("name"), pick("image"), selector)
}

/// kubectl's pod STATUS column: the pod's reason, or the most telling container state.
pub fn pod_status(pod: &Value) -> String {
    if json::is_deleting(pod) {
        return "Terminating".into();
    }
    let mut reason = json::get_str(pod, &["status", "reason"])
        .or_else(|| json::get_str(pod, &["status", "phase"]))
        .unwrap_or("Pending")
        .to_string();
    let inits = json::get(pod, &["status", "initContainerStatuses"]).and_then(Value::as_array);
    let init_total = json::get(pod, &["spec", "initContainers"]).and_then(Value::as_array).map_or(0, Vec::len);
    if let Some(inits) = inits {
        for (n, c) in inits.iter().enumerate() {
            if let Some(t) = json::get(c, &["state", "terminated"]) {
                if t.get("exitCode").and_then(Value::as_i64) == Some(0) {
                    continue;
                }
                let r = t.get("reason").and_then(Value::as_str).unwrap_or("Error");
                return format!("Init:{r}");
            }
            if let Some(w) = json::get_str(c, &["state", "waiting", "reason"])
                && w != "PodInitializing"
            {
                return format!("Init:{w}");
            }
            return format!("Init:{n}/{init_total}");
        }
    }
    let mut has_running = false;
    if let Some(cs) = json::get(pod, &["status", "containerStatuses"]).and_then(Value::as_array) {
        for c in cs.iter().rev() {
            if let Some(w) = json::get_str(c, &["state", "waiting", "reason"]).filter(|w| !w.is_empty()) {
                reason = w.to_string();
            } else if let Some(t) = json::get(c, &["state", "terminated"]) {
                reason =
                    t.get("reason").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| {
                        format!("ExitCode:{}", t.get("exitCode").and_then(Value::as_i64).unwrap_or(0))
                    });
            } else if json::get(c, &["state", "running"]).is_some()
                && c.get("ready").and_then(Value::as_bool) == Some(true)
            {
                has_running = true;
            }
        }
        if reason == "Completed" && has_running {
            reason = "Running".into();
        }
    }
    reason
}

fn cells(kind: Kind, obj: &Value, now: Timestamp) -> Vec<Value> {
    let name = json!(json::name(obj));
    let created = age(obj, &["metadata", "creationTimestamp"], now);
    match kind {
        Kind::Deployment => {
            let (c, im, sel) = template_columns(obj);
            vec![
                name,
                json!(format!("{}/{}", i(obj, &["status", "readyReplicas"]), i(obj, &["spec", "replicas"]))),
                json!(i(obj, &["status", "updatedReplicas"])),
                json!(i(obj, &["status", "availableReplicas"])),
                json!(created),
                json!(c),
                json!(im),
                json!(sel),
            ]
        }
        Kind::ReplicaSet => {
            let (c, im, sel) = template_columns(obj);
            vec![
                name,
                json!(i(obj, &["spec", "replicas"])),
                json!(i(obj, &["status", "replicas"])),
                json!(i(obj, &["status", "readyReplicas"])),
                json!(created),
                json!(c),
                json!(im),
                json!(sel),
            ]
        }
        Kind::Pod => {
            let statuses = json::get(obj, &["status", "containerStatuses"]).and_then(Value::as_array);
            let total = json::get(obj, &["spec", "containers"]).and_then(Value::as_array).map_or(0, Vec::len);
            let ready = statuses
                .map_or(0, |cs| cs.iter().filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true)).count());
            let restarts: i64 =
                statuses.map_or(0, |cs| cs.iter().filter_map(|c| c.get("restartCount").and_then(Value::as_i64)).sum());
            let last_restart = statuses
                .into_iter()
                .flatten()
                .filter_map(|c| json::get_str(c, &["lastState", "terminated", "finishedAt"]).and_then(parse_time))
                .max();
            let restarts = match last_restart {
                Some(t) if restarts > 0 => {
                    format!("{restarts} ({} ago)", human_duration(now.duration_since(t).as_secs()))
                }
                _ => restarts.to_string(),
            };
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(pod_status(obj)),
                json!(restarts),
                json!(created),
                json!(json::get_str(obj, &["status", "podIP"]).unwrap_or("<none>")),
                json!(json::get_str(obj, &["spec", "nodeName"]).unwrap_or("<none>")),
            ]
        }
        Kind::Namespace => vec![name, json!(json::get_str(obj, &["status", "phase"]).unwrap_or("")), json!(created)],
        Kind::Event => {
            let involved = obj.get("involvedObject").cloned().unwrap_or(Value::Null);
            let object = format!(
                "{}/{}",
                json::get_str(&involved, &["kind"]).unwrap_or("").to_ascii_lowercase(),
                json::get_str(&involved, &["name"]).unwrap_or("")
            );
            vec![
                json!(age(obj, &["lastTimestamp"], now)),
                json!(obj.get("type").and_then(Value::as_str).unwrap_or("")),
                json!(obj.get("reason").and_then(Value::as_str).unwrap_or("")),
                json!(object),
                json!(obj.get("message").and_then(Value::as_str).unwrap_or("")),
                name,
            ]
        }
        _ => vec![name, json!(created)],
    }
}

fn partial(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata").cloned().unwrap_or(json!({}))})
}

/// A Table of objects of one kind.
pub fn table(kind: Kind, objects: &[&Value], rv: &str, continue_token: Option<&str>, now: Timestamp) -> Value {
    let rows: Vec<Value> =
        objects.iter().map(|o| json!({"cells": cells(kind, o, now), "object": partial(o)})).collect();
    let mut metadata = json!({"resourceVersion": rv});
    if let Some(c) = continue_token {
        metadata["continue"] = json!(c);
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": columns(kind),
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_print_like_kubectl() {
        let cases = [
            (5, "5s"),
            (119, "119s"),
            (125, "2m5s"),
            (600, "10m"),
            (7200, "120m"),
            (3 * 3600 + 600, "3h10m"),
            (30 * 3600, "30h"),
            (3 * 86_400 + 4 * 3600, "3d4h"),
            (20 * 86_400, "20d"),
            (800 * 86_400, "2y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
    }

    #[test]
    fn only_table_first_accept_headers_get_tables() {
        assert!(wants_table(Some("application/json;as=Table;v=v1;g=meta.k8s.io,application/json")));
        assert!(!wants_table(Some("application/json, */*")));
        assert!(!wants_table(None));
    }

    #[test]
    fn pod_status_shows_the_waiting_reason_and_terminating() {
        let crash = json!({"status": {"phase": "Running", "containerStatuses": [{"state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        assert_eq!(pod_status(&crash), "CrashLoopBackOff");
        let running =
            json!({"status": {"phase": "Running", "containerStatuses": [{"ready": true, "state": {"running": {}}}]}});
        assert_eq!(pod_status(&running), "Running");
        let mut deleting = running.clone();
        deleting["metadata"] = json!({"deletionTimestamp": "2026-01-01T00:00:00Z"});
        assert_eq!(pod_status(&deleting), "Terminating");
        let init = json!({"spec": {"initContainers": [{}]}, "status": {"phase": "Pending", "initContainerStatuses": [{"state": {"running": {}}}]}});
        assert_eq!(pod_status(&init), "Init:0/1");
    }

    #[test]
    fn deployment_rows_carry_ready_and_selector() {
        let d = json!({"metadata": {"name": "web", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": {"spec": {"containers": [{"name": "web", "image": "a:1"}]}}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
        let now: Timestamp = "2026-01-01T00:05:00Z".parse().unwrap();
        let t = table(Kind::Deployment, &[&d], "7", None, now);
        assert_eq!(t["rows"][0]["cells"], json!(["web", "2/3", 3, 2, "5m", "web", "a:1", "app=web"]));
        assert_eq!(t["columnDefinitions"].as_array().unwrap().len(), 8);
    }
}
