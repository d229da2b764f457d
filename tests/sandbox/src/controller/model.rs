//! Typed views of Deployments and ReplicaSets for the controllers, the fencepost arithmetic, the
//! pod-template hash and the condition helpers, as `k8s.io/kubernetes/pkg/controller/deployment/util`
//! defines them. Everything here is pure.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::clock::{parse_time, rfc3339};
use crate::json;

/// `deployment.kubernetes.io/revision`.
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// `deployment.kubernetes.io/revision-history`.
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
/// `deployment.kubernetes.io/desired-replicas`.
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
/// `deployment.kubernetes.io/max-replicas`.
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// The label that ties a ReplicaSet and its pods to one pod template.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";
/// The longest `revision-history` annotation the controller keeps, in characters.
pub const MAX_REVISION_HISTORY_CHARS: usize = 2000;

/// Deployment annotations the controller never copies onto ReplicaSets.
pub const SKIP_COPY: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

/// A Deployment or ReplicaSet condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// `type`.
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// `reason`.
    pub reason: String,
    /// `message`.
    pub message: String,
    /// `lastUpdateTime` (Deployments only).
    pub last_update: Option<String>,
    /// `lastTransitionTime`.
    pub last_transition: Option<String>,
}

impl Condition {
    /// A new condition stamped with `now` (`NewDeploymentCondition`).
    pub fn new(type_: &str, status: &str, reason: &str, message: String, now: Timestamp) -> Self {
        let t = rfc3339(now);
        Self {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message,
            last_update: Some(t.clone()),
            last_transition: Some(t),
        }
    }

    fn from_json(v: &Value) -> Option<Self> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Some(Self {
            type_: s("type")?,
            status: s("status").unwrap_or_default(),
            reason: s("reason").unwrap_or_default(),
            message: s("message").unwrap_or_default(),
            last_update: s("lastUpdateTime"),
            last_transition: s("lastTransitionTime"),
        })
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), json!(self.type_));
        m.insert("status".into(), json!(self.status));
        if let Some(t) = &self.last_update {
            m.insert("lastUpdateTime".into(), json!(t));
        }
        if let Some(t) = &self.last_transition {
            m.insert("lastTransitionTime".into(), json!(t));
        }
        if !self.reason.is_empty() {
            m.insert("reason".into(), json!(self.reason));
        }
        if !self.message.is_empty() {
            m.insert("message".into(), json!(self.message));
        }
        Value::Object(m)
    }
}

/// `SetDeploymentCondition`: a no-op when status and reason are unchanged; keeps
/// `lastTransitionTime` when only the reason changes; the condition moves to the end of the list.
pub fn set_condition(conditions: &mut Vec<Condition>, mut c: Condition) {
    if let Some(cur) = conditions.iter().find(|x| x.type_ == c.type_) {
        if cur.status == c.status && cur.reason == c.reason {
            return;
        }
        if cur.status == c.status {
            c.last_transition = cur.last_transition.clone();
        }
    }
    conditions.retain(|x| x.type_ != c.type_);
    conditions.push(c);
}

/// `RemoveDeploymentCondition`.
pub fn remove_condition(conditions: &mut Vec<Condition>, type_: &str) {
    conditions.retain(|x| x.type_ != type_);
}

/// `GetDeploymentCondition`.
pub fn get_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|x| x.type_ == type_)
}

/// A Deployment's status, as the controller computes and compares it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeploymentStatus {
    /// `observedGeneration`.
    pub observed_generation: i64,
    /// `replicas`: pods of every ReplicaSet (not terminating).
    pub replicas: i32,
    /// `updatedReplicas`: pods of the new ReplicaSet.
    pub updated: i32,
    /// `readyReplicas`.
    pub ready: i32,
    /// `availableReplicas`.
    pub available: i32,
    /// `unavailableReplicas`.
    pub unavailable: i32,
    /// `collisionCount`.
    pub collision_count: Option<i32>,
    /// `conditions`.
    pub conditions: Vec<Condition>,
}

impl DeploymentStatus {
    fn from_json(v: Option<&Value>) -> Self {
        let Some(v) = v else { return Self::default() };
        let i = |k: &str| v.get(k).and_then(Value::as_i64).unwrap_or(0) as i32;
        Self {
            observed_generation: v.get("observedGeneration").and_then(Value::as_i64).unwrap_or(0),
            replicas: i("replicas"),
            updated: i("updatedReplicas"),
            ready: i("readyReplicas"),
            available: i("availableReplicas"),
            unavailable: i("unavailableReplicas"),
            collision_count: v.get("collisionCount").and_then(Value::as_i64).map(|c| c as i32),
            conditions: v
                .get("conditions")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Condition::from_json).collect())
                .unwrap_or_default(),
        }
    }

    /// The JSON the API server would store: zero counts are omitted, as `omitempty` does.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        let mut put = |k: &str, v: i64| {
            if v != 0 {
                m.insert(k.into(), json!(v));
            }
        };
        put("observedGeneration", self.observed_generation);
        put("replicas", self.replicas.into());
        put("updatedReplicas", self.updated.into());
        put("readyReplicas", self.ready.into());
        put("availableReplicas", self.available.into());
        put("unavailableReplicas", self.unavailable.into());
        if let Some(c) = self.collision_count {
            m.insert("collisionCount".into(), json!(c));
        }
        if !self.conditions.is_empty() {
            m.insert("conditions".into(), Value::Array(self.conditions.iter().map(Condition::to_json).collect()));
        }
        Value::Object(m)
    }
}

/// `intstr.IntOrString` as a fencepost: a count or a percentage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntOrPercent {
    /// An absolute number.
    Int(i32),
    /// A percentage of the desired replicas.
    Percent(i32),
}

impl IntOrPercent {
    /// Reads a JSON number or `"25%"` string; `None` for anything else.
    pub fn from_json(v: &Value) -> Option<Self> {
        match v {
            Value::Number(n) => n.as_i64().map(|n| Self::Int(n as i32)),
            Value::String(s) => match s.strip_suffix('%') {
                Some(p) => p.parse().ok().map(Self::Percent),
                None => s.parse().ok().map(Self::Int),
            },
            _ => None,
        }
    }

    /// `GetScaledValueFromIntOrPercent`: percentages round up or down as asked.
    pub fn scaled(self, total: i32, round_up: bool) -> i32 {
        match self {
            Self::Int(n) => n,
            Self::Percent(p) => {
                let v = f64::from(p) * f64::from(total) / 100.0;
                if round_up { v.ceil() as i32 } else { v.floor() as i32 }
            }
        }
    }
}

/// `ResolveFenceposts`: (maxSurge, maxUnavailable) for `desired` replicas. Surge rounds up,
/// unavailable rounds down, and when both come out zero unavailable becomes one.
pub fn resolve_fenceposts(max_surge: IntOrPercent, max_unavailable: IntOrPercent, desired: i32) -> (i32, i32) {
    let surge = max_surge.scaled(desired, true);
    let mut unavailable = max_unavailable.scaled(desired, false);
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable)
}

/// A Deployment as the controller reads it, with defaults filled in.
#[derive(Debug, Clone)]
pub struct Dep {
    /// Namespace.
    pub ns: String,
    /// Name.
    pub name: String,
    /// uid.
    pub uid: String,
    /// `metadata.generation`.
    pub generation: i64,
    /// `metadata.annotations`.
    pub annotations: BTreeMap<String, String>,
    /// `spec.replicas`.
    pub replicas: i32,
    /// Whether the strategy is Recreate.
    pub recreate: bool,
    /// `spec.strategy.rollingUpdate.maxSurge`.
    pub max_surge_spec: IntOrPercent,
    /// `spec.strategy.rollingUpdate.maxUnavailable`.
    pub max_unavailable_spec: IntOrPercent,
    /// `spec.minReadySeconds`.
    pub min_ready_seconds: i64,
    /// `spec.progressDeadlineSeconds`; `None` means no deadline (unset or MaxInt32).
    pub progress_deadline: Option<i64>,
    /// `spec.revisionHistoryLimit`; `None` keeps every revision.
    pub revision_history_limit: Option<i64>,
    /// `spec.paused`.
    pub paused: bool,
    /// `spec.selector`.
    pub selector: Value,
    /// `spec.template`.
    pub template: Value,
    /// Whether it is being deleted.
    pub deleting: bool,
    /// The status.
    pub status: DeploymentStatus,
}

impl Dep {
    /// Reads a stored Deployment.
    pub fn from_json(v: &Value) -> Self {
        let spec = v.get("spec").cloned().unwrap_or(Value::Null);
        let ru = json::get(&spec, &["strategy", "rollingUpdate"]);
        let fp = |k: &str, default: &str| {
            ru.and_then(|r| r.get(k))
                .and_then(IntOrPercent::from_json)
                .unwrap_or_else(|| IntOrPercent::from_json(&json!(default)).expect("defaults are valid"))
        };
        let deadline = json::get_i64(&spec, &["progressDeadlineSeconds"]);
        Self {
            ns: json::namespace(v).to_string(),
            name: json::name(v).to_string(),
            uid: json::uid(v).to_string(),
            generation: json::get_i64(v, &["metadata", "generation"]).unwrap_or(1),
            annotations: json::annotations(v),
            replicas: json::get_i64(&spec, &["replicas"]).unwrap_or(1) as i32,
            recreate: json::get_str(&spec, &["strategy", "type"]) == Some("Recreate"),
            max_surge_spec: fp("maxSurge", "25%"),
            max_unavailable_spec: fp("maxUnavailable", "25%"),
            min_ready_seconds: json::get_i64(&spec, &["minReadySeconds"]).unwrap_or(0),
            progress_deadline: match deadline {
                Some(d) if d == i64::from(i32::MAX) => None,
                Some(d) => Some(d),
                None => None,
            },
            revision_history_limit: json::get_i64(&spec, &["revisionHistoryLimit"])
                .filter(|l| *l != i64::from(i32::MAX)),
            paused: json::get(&spec, &["paused"]).and_then(Value::as_bool).unwrap_or(false),
            selector: spec.get("selector").cloned().unwrap_or(Value::Null),
            template: spec.get("template").cloned().unwrap_or(Value::Null),
            deleting: json::is_deleting(v),
            status: DeploymentStatus::from_json(v.get("status")),
        }
    }

    /// `MaxSurge`: zero for Recreate.
    pub fn max_surge(&self) -> i32 {
        if self.recreate {
            return 0;
        }
        resolve_fenceposts(self.max_surge_spec, self.max_unavailable_spec, self.replicas).0
    }

    /// `MaxUnavailable`: zero for Recreate or zero replicas, and never more than the replicas.
    pub fn max_unavailable(&self) -> i32 {
        if self.recreate || self.replicas == 0 {
            return 0;
        }
        resolve_fenceposts(self.max_surge_spec, self.max_unavailable_spec, self.replicas).1.min(self.replicas)
    }

    /// `DeploymentComplete` for a status.
    pub fn complete(&self, s: &DeploymentStatus) -> bool {
        s.updated == self.replicas
            && s.replicas == self.replicas
            && s.available == self.replicas
            && s.observed_generation >= self.generation
    }
}

/// A ReplicaSet as the controllers read it.
#[derive(Debug, Clone)]
pub struct Rs {
    /// Namespace.
    pub ns: String,
    /// Name.
    pub name: String,
    /// uid.
    pub uid: String,
    /// `metadata.creationTimestamp`.
    pub created: String,
    /// `metadata.generation`.
    pub generation: i64,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations`.
    pub annotations: BTreeMap<String, String>,
    /// The uid of its controller owner.
    pub controller_uid: Option<String>,
    /// `spec.replicas`.
    pub replicas: i32,
    /// `spec.minReadySeconds`.
    pub min_ready_seconds: i64,
    /// `spec.selector`.
    pub selector: Value,
    /// `spec.template`.
    pub template: Value,
    /// `status.replicas`.
    pub status_replicas: i32,
    /// `status.readyReplicas`.
    pub ready: i32,
    /// `status.availableReplicas`.
    pub available: i32,
    /// `status.observedGeneration`.
    pub observed_generation: i64,
    /// `status.conditions`.
    pub conditions: Vec<Condition>,
    /// Whether it is being deleted.
    pub deleting: bool,
}

impl Rs {
    /// Reads a stored ReplicaSet.
    pub fn from_json(v: &Value) -> Self {
        let st = v.get("status");
        let si = |k: &str| st.and_then(|s| s.get(k)).and_then(Value::as_i64).unwrap_or(0);
        Self {
            ns: json::namespace(v).to_string(),
            name: json::name(v).to_string(),
            uid: json::uid(v).to_string(),
            created: json::get_str(v, &["metadata", "creationTimestamp"]).unwrap_or("").to_string(),
            generation: json::get_i64(v, &["metadata", "generation"]).unwrap_or(1),
            labels: json::labels(v),
            annotations: json::annotations(v),
            controller_uid: json::controller_uid(v).map(str::to_string),
            replicas: json::get_i64(v, &["spec", "replicas"]).unwrap_or(1) as i32,
            min_ready_seconds: json::get_i64(v, &["spec", "minReadySeconds"]).unwrap_or(0),
            selector: json::get(v, &["spec", "selector"]).cloned().unwrap_or(Value::Null),
            template: json::get(v, &["spec", "template"]).cloned().unwrap_or(Value::Null),
            status_replicas: si("replicas") as i32,
            ready: si("readyReplicas") as i32,
            available: si("availableReplicas") as i32,
            observed_generation: si("observedGeneration"),
            conditions: st
                .and_then(|s| s.get("conditions"))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Condition::from_json).collect())
                .unwrap_or_default(),
            deleting: json::is_deleting(v),
        }
    }

    /// `deployment.kubernetes.io/revision`, 0 when missing or malformed.
    pub fn revision(&self) -> i64 {
        self.annotations.get(REVISION).and_then(|r| r.parse().ok()).unwrap_or(0)
    }

    /// Ordering key of `ReplicaSetsByCreationTimestamp`: oldest first, then by name.
    pub fn age_key(&self) -> (Option<Timestamp>, String) {
        (parse_time(&self.created), self.name.clone())
    }
}

/// `EqualIgnoreHash`: two pod templates are the same if they differ only in the
/// `pod-template-hash` label. Like apimachinery's semantic equality, empty and absent maps and
/// lists are the same (kubectl sends `"resources": {}` for a container without resources).
pub fn equal_ignore_hash(a: &Value, b: &Value) -> bool {
    let (mut a, mut b) = (strip_hash(a), strip_hash(b));
    prune_empty(&mut a);
    prune_empty(&mut b);
    a == b
}

/// Removes nulls and empty objects and arrays, recursively.
fn prune_empty(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.values_mut().for_each(prune_empty);
            m.retain(|_, x| {
                !(x.is_null() || x.as_object().is_some_and(Map::is_empty) || x.as_array().is_some_and(Vec::is_empty))
            });
        }
        Value::Array(a) => a.iter_mut().for_each(prune_empty),
        _ => {}
    }
}

fn strip_hash(t: &Value) -> Value {
    let mut t = t.clone();
    if let Some(labels) = t.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
        labels.remove(POD_TEMPLATE_HASH);
        if labels.is_empty() {
            json::remove(&mut t, &["metadata", "labels"]);
        }
    }
    t
}

/// `ComputeHash`: FNV-32a over a canonical dump of the pod template (plus the collision count),
/// then each decimal digit of the sum mapped into the same consonant-and-digit alphabet Kubernetes
/// uses, so hashes are label-safe and look like real ones (`7d4b9c8f6`).
pub fn pod_template_hash(template: &Value, collision_count: Option<i32>) -> String {
    let mut template = template.clone();
    prune_empty(&mut template);
    let mut bytes = Vec::new();
    canonical(&template, &mut bytes);
    if let Some(c) = collision_count {
        bytes.extend_from_slice(&(c as u64).to_le_bytes());
    }
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    h.to_string().bytes().map(|b| ALPHABET[(b as usize) % ALPHABET.len()] as char).collect()
}

fn canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(m) => {
            out.push(b'{');
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for k in keys {
                out.extend_from_slice(k.as_bytes());
                out.push(b':');
                canonical(&m[k], out);
                out.push(b',');
            }
            out.push(b'}');
        }
        Value::Array(a) => {
            out.push(b'[');
            for x in a {
                canonical(x, out);
                out.push(b',');
            }
            out.push(b']');
        }
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fenceposts_round_surge_up_and_unavailable_down() {
        let pct = |p| IntOrPercent::Percent(p);
        // replicas, surge, unavailable -> expected (surge, unavailable)
        let table = [
            (1, pct(25), pct(25), (1, 0)),
            (3, pct(25), pct(25), (1, 0)),
            (4, pct(25), pct(25), (1, 1)),
            (10, pct(25), pct(25), (3, 2)),
            (3, IntOrPercent::Int(0), IntOrPercent::Int(0), (0, 1)),
            (3, IntOrPercent::Int(1), IntOrPercent::Int(0), (1, 0)),
            (5, pct(0), pct(0), (0, 1)),
            (5, pct(100), pct(100), (5, 5)),
            (7, pct(30), pct(30), (3, 2)),
            (0, pct(25), pct(25), (0, 1)),
        ];
        for (replicas, surge, unavailable, want) in table {
            assert_eq!(resolve_fenceposts(surge, unavailable, replicas), want, "{replicas} {surge:?} {unavailable:?}");
        }
    }

    #[test]
    fn max_unavailable_never_exceeds_replicas_and_is_zero_for_recreate() {
        let mut d =
            Dep::from_json(&json!({"spec": {"replicas": 2, "strategy": {"rollingUpdate": {"maxUnavailable": 5}}}}));
        assert_eq!(d.max_unavailable(), 2);
        d.replicas = 0;
        assert_eq!(d.max_unavailable(), 0);
        let r = Dep::from_json(&json!({"spec": {"replicas": 3, "strategy": {"type": "Recreate"}}}));
        assert_eq!((r.max_surge(), r.max_unavailable()), (0, 0));
    }

    #[test]
    fn the_template_hash_is_stable_and_label_safe() {
        let t =
            json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "a:1"}]}});
        let same_keys_other_order: Value = serde_json::from_str(
            r#"{"spec": {"containers": [{"image": "a:1", "name": "web"}]}, "metadata": {"labels": {"app": "web"}}}"#,
        )
        .unwrap();
        let h = pod_template_hash(&t, None);
        assert_eq!(h, pod_template_hash(&same_keys_other_order, None));
        assert!(!h.is_empty() && h.len() <= 10);
        assert!(h.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
        assert_ne!(h, pod_template_hash(&t, Some(1)));
        let other =
            json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "a:2"}]}});
        assert_ne!(h, pod_template_hash(&other, None));
    }

    #[test]
    fn templates_equal_ignoring_the_hash_label() {
        let a = json!({"metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}}, "spec": {}});
        let b = json!({"metadata": {"labels": {"app": "web"}}, "spec": {}});
        assert!(equal_ignore_hash(&a, &b));
        let c = json!({"metadata": {"labels": {"app": "db"}}, "spec": {}});
        assert!(!equal_ignore_hash(&a, &c));
        let with_empty = json!({"metadata": {"labels": {"app": "web"}, "creationTimestamp": null},
            "spec": {"containers": [{"name": "a", "resources": {}, "env": []}]}});
        let without = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "a"}]}});
        assert!(equal_ignore_hash(&with_empty, &without), "empty and absent are semantically equal");
    }

    #[test]
    fn setting_a_condition_keeps_the_transition_time_when_only_the_reason_changes() {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let t1: Timestamp = "2026-01-01T00:01:00Z".parse().unwrap();
        let mut cs = vec![];
        set_condition(&mut cs, Condition::new("Progressing", "True", "NewReplicaSetCreated", "a".into(), t0));
        set_condition(&mut cs, Condition::new("Progressing", "True", "NewReplicaSetCreated", "b".into(), t1));
        assert_eq!(cs[0].message, "a", "same status and reason is a no-op");
        set_condition(&mut cs, Condition::new("Progressing", "True", "ReplicaSetUpdated", "c".into(), t1));
        assert_eq!(cs[0].last_transition.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(cs[0].last_update.as_deref(), Some("2026-01-01T00:01:00Z"));
        set_condition(&mut cs, Condition::new("Progressing", "False", "ProgressDeadlineExceeded", "d".into(), t1));
        assert_eq!(cs[0].last_transition.as_deref(), Some("2026-01-01T00:01:00Z"));
    }

    #[test]
    fn status_json_omits_zero_counts_like_omitempty() {
        let s = DeploymentStatus { observed_generation: 2, replicas: 3, available: 0, ..Default::default() };
        assert_eq!(s.to_json(), json!({"observedGeneration": 2, "replicas": 3}));
    }
}
