//! Workloads: which one is meant ([`WorkloadRef`]), and the pure facts rollout reads from one
//! ([`Workload`]): its pod template, containers and images, generation, selector, and how a
//! ReplicaSet's template compares with a Deployment's.
//!
//! It deliberately does not fetch anything and decides nothing about rollouts: status lives in
//! [`crate::status`], changes in [`crate::deploy`], history in [`crate::history`].

use std::fmt;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::status::{StatusContext, WorkloadKind, WorkloadStatus};

/// The label the Deployment controller adds to a ReplicaSet and its pods: the hash of the pod template.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";
/// The annotation holding a Deployment's (or ReplicaSet's) revision number.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// The annotation `kubectl rollout history` shows as CHANGE-CAUSE.
pub const CHANGE_CAUSE_ANNOTATION: &str = "kubernetes.io/change-cause";
/// The field manager of every write rollout makes.
pub const FIELD_MANAGER: &str = "rollout";

/// A workload in a cluster: `[context/]namespace/kind/name`.
///
/// `context` names the kube context (cluster) when several are in play; `None` means the one client
/// the call was given.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WorkloadRef {
    /// The kube context the workload lives in, when known.
    pub context: Option<String>,
    /// The namespace.
    pub namespace: String,
    /// The kind.
    pub kind: WorkloadKind,
    /// The name.
    pub name: String,
}

impl WorkloadRef {
    /// A workload of any kind, in the client's own cluster.
    pub fn new(kind: WorkloadKind, namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self { context: None, namespace: namespace.into(), kind, name: name.into() }
    }

    /// A Deployment in the client's own cluster.
    pub fn deployment(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self::new(WorkloadKind::Deployment, namespace, name)
    }

    /// The same workload, in the named kube context.
    pub fn in_context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }

    /// The kind as `kubectl` spells its resource: `deployment`, `statefulset`, `daemonset`.
    pub fn kind_name(&self) -> &'static str {
        kind_name(self.kind)
    }

    /// A workload as kubectl's commands take one, in `namespace`: `KIND/NAME` with the kind written
    /// as kubectl accepts it (`deployment`, `deployments`, `deploy`, `deployment.apps`,
    /// `deployment.v1.apps`; likewise `statefulset`/`sts` and `daemonset`/`ds`; any case), or a bare
    /// `NAME`, which means a Deployment.
    ///
    /// Errors: [`Error::InvalidInput`] naming `field` for an unknown kind or a name that is not a
    /// valid object name (lowercase letters, digits, `-` and `.`, at most 253 characters).
    ///
    /// ```
    /// use rollout_core::workload::WorkloadRef;
    /// let w = WorkloadRef::from_arg("sts/db", "shop", "WORKLOAD").unwrap();
    /// assert_eq!(w.to_string(), "shop/statefulset/db");
    /// assert_eq!(WorkloadRef::from_arg("web", "shop", "WORKLOAD").unwrap().to_string(), "shop/deployment/web");
    /// ```
    pub fn from_arg(arg: &str, namespace: &str, field: &str) -> crate::error::Result<Self> {
        let invalid = |reason: String| crate::error::Error::InvalidInput {
            field: field.to_owned(),
            value: arg.to_owned(),
            reason,
        };
        let (kind, name) = match arg.split_once('/') {
            Some((kind, name)) => {
                let kind = parse_kind(kind).ok_or_else(|| {
                    invalid(format!(
                        "unknown kind {kind:?}: write deployment/NAME (or deploy/NAME), statefulset/NAME (sts), \
                         daemonset/NAME (ds), or just NAME for a deployment"
                    ))
                })?;
                (kind, name)
            }
            None => (WorkloadKind::Deployment, arg),
        };
        if let Some(reason) = object_name_violation(name) {
            return Err(invalid(reason));
        }
        Ok(WorkloadRef::new(kind, namespace, name))
    }
}

/// A kind as kubectl accepts it on the command line: singular, plural or short name, optionally
/// with `.apps` or `.v1.apps`, in any case.
fn parse_kind(text: &str) -> Option<WorkloadKind> {
    let lower = text.to_ascii_lowercase();
    let base = lower.strip_suffix(".v1.apps").or_else(|| lower.strip_suffix(".apps")).unwrap_or(&lower);
    match base {
        "deployment" | "deployments" | "deploy" => Some(WorkloadKind::Deployment),
        "statefulset" | "statefulsets" | "sts" => Some(WorkloadKind::StatefulSet),
        "daemonset" | "daemonsets" | "ds" => Some(WorkloadKind::DaemonSet),
        _ => None,
    }
}

/// Why `name` is not a valid name for a Deployment, StatefulSet or DaemonSet (a DNS-1123 subdomain,
/// as the API server's `IsDNS1123Subdomain` checks it), or `None`.
fn object_name_violation(name: &str) -> Option<String> {
    let allowed = "allowed: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, \
                   at most 253 characters";
    if name.is_empty() {
        return Some(format!("the name is empty; {allowed}"));
    }
    let bytes = name.as_bytes();
    let ok = bytes.len() <= 253
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'.')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric);
    (!ok).then(|| format!("not a valid name; {allowed}"))
}

/// The kind as `kubectl` spells its resource: `deployment`, `statefulset`, `daemonset`.
pub fn kind_name(kind: WorkloadKind) -> &'static str {
    match kind {
        WorkloadKind::Deployment => "deployment",
        WorkloadKind::StatefulSet => "statefulset",
        WorkloadKind::DaemonSet => "daemonset",
    }
}

impl fmt::Display for WorkloadRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(context) = &self.context {
            write!(f, "{context}/")?;
        }
        write!(f, "{}/{}/{}", self.namespace, self.kind_name(), self.name)
    }
}

/// One container's image in a pod template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerImage {
    /// The container's name.
    pub container: String,
    /// Whether it is an init container.
    pub init: bool,
    /// The image reference as written in the template.
    pub image: String,
}

/// The images of a pod spec: init containers first, then app containers, in template order (the order
/// `kubectl set image` searches them in).
pub fn pod_images(spec: Option<&PodSpec>) -> Vec<ContainerImage> {
    let Some(spec) = spec else { return Vec::new() };
    let init = spec.init_containers.iter().flatten().map(|c| (c, true));
    init.chain(spec.containers.iter().map(|c| (c, false)))
        .map(|(c, init)| ContainerImage { container: c.name.clone(), init, image: c.image.clone().unwrap_or_default() })
        .collect()
}

/// A workload object of one of the kinds rollout follows.
#[derive(Debug, Clone, PartialEq)]
pub enum Workload {
    /// A Deployment.
    Deployment(Deployment),
    /// A StatefulSet.
    StatefulSet(StatefulSet),
    /// A DaemonSet.
    DaemonSet(DaemonSet),
}

impl Workload {
    /// The kind.
    pub fn kind(&self) -> WorkloadKind {
        match self {
            Workload::Deployment(_) => WorkloadKind::Deployment,
            Workload::StatefulSet(_) => WorkloadKind::StatefulSet,
            Workload::DaemonSet(_) => WorkloadKind::DaemonSet,
        }
    }

    fn meta(&self) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        match self {
            Workload::Deployment(d) => &d.metadata,
            Workload::StatefulSet(s) => &s.metadata,
            Workload::DaemonSet(d) => &d.metadata,
        }
    }

    /// The name (empty when the object has none).
    pub fn name(&self) -> &str {
        self.meta().name.as_deref().unwrap_or_default()
    }

    /// `metadata.generation`.
    pub fn generation(&self) -> Option<i64> {
        self.meta().generation
    }

    /// `metadata.resourceVersion`.
    pub fn resource_version(&self) -> Option<&str> {
        self.meta().resource_version.as_deref()
    }

    /// `metadata.uid`.
    pub fn uid(&self) -> Option<&str> {
        self.meta().uid.as_deref()
    }

    /// An annotation's value.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.meta().annotations.as_ref().and_then(|a| a.get(key)).map(String::as_str)
    }

    /// The Deployment's revision annotation, parsed (`None` for other kinds or when absent).
    pub fn revision(&self) -> Option<i64> {
        match self {
            Workload::Deployment(_) => self.annotation(REVISION_ANNOTATION).and_then(|r| r.parse().ok()),
            _ => None,
        }
    }

    /// The pod template.
    pub fn template(&self) -> Option<&PodTemplateSpec> {
        match self {
            Workload::Deployment(d) => d.spec.as_ref().map(|s| &s.template),
            Workload::StatefulSet(s) => s.spec.as_ref().map(|s| &s.template),
            Workload::DaemonSet(d) => d.spec.as_ref().map(|s| &s.template),
        }
    }

    /// The pod spec of the template.
    pub fn pod_spec(&self) -> Option<&PodSpec> {
        self.template().and_then(|t| t.spec.as_ref())
    }

    /// The images of the template ([`pod_images`]).
    pub fn images(&self) -> Vec<ContainerImage> {
        pod_images(self.pod_spec())
    }

    /// The label selector of the workload's pods.
    pub fn selector(&self) -> Option<&LabelSelector> {
        match self {
            Workload::Deployment(d) => d.spec.as_ref().map(|s| &s.selector),
            Workload::StatefulSet(s) => s.spec.as_ref().map(|s| &s.selector),
            Workload::DaemonSet(d) => d.spec.as_ref().map(|s| &s.selector),
        }
    }

    /// The rollout status, as kubectl decides it, guarded by `since` for a Deployment
    /// ([`crate::status::rollout_status_since`]).
    pub fn status(&self, since: Option<&StatusContext>) -> WorkloadStatus {
        match self {
            Workload::Deployment(d) => crate::status::rollout_status_since(d, since),
            Workload::StatefulSet(s) => crate::status::statefulset_status(s),
            Workload::DaemonSet(d) => crate::status::daemonset_status(d),
        }
    }
}

/// A label selector in the API's query syntax (`app=web,tier in (a,b),!legacy`), as
/// `metav1.LabelSelectorAsSelector` writes it. `None` for an empty selector (which selects everything)
/// or an operator the API does not define.
pub fn selector_string(selector: &LabelSelector) -> Option<String> {
    let mut parts: Vec<String> = selector.match_labels.iter().flatten().map(|(k, v)| format!("{k}={v}")).collect();
    for req in selector.match_expressions.iter().flatten() {
        let values = req.values.clone().unwrap_or_default().join(",");
        parts.push(match req.operator.as_str() {
            "In" => format!("{} in ({values})", req.key),
            "NotIn" => format!("{} notin ({values})", req.key),
            "Exists" => req.key.clone(),
            "DoesNotExist" => format!("!{}", req.key),
            _ => return None,
        });
    }
    (!parts.is_empty()).then(|| parts.join(","))
}

/// Whether two pod templates are the same template, ignoring the `pod-template-hash` label, as the
/// Deployment controller's `EqualIgnoreHash` decides which ReplicaSet is the new one. Empty and
/// absent maps and lists count as equal, as Kubernetes' semantic equality has them.
pub fn templates_equal_ignoring_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    normalized_template(a) == normalized_template(b)
}

/// A template as JSON without the hash label and without empty values, for comparisons.
pub(crate) fn normalized_template(t: &PodTemplateSpec) -> Value {
    let mut v = serde_json::to_value(t).unwrap_or(Value::Null);
    if let Some(labels) = v.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
        labels.remove(POD_TEMPLATE_HASH);
    }
    prune_empty(&mut v);
    v
}

/// Removes nulls, empty objects and empty arrays, recursively.
fn prune_empty(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for child in map.values_mut() {
                prune_empty(child);
            }
            map.retain(|_, child| !is_empty_value(child));
        }
        Value::Array(items) => items.iter_mut().for_each(prune_empty),
        _ => {}
    }
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Whether `rs` is controlled by the object with `uid` (an ownerReference with `controller: true`), as
/// `metav1.IsControlledBy` decides it.
pub fn is_controlled_by(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, uid: &str) -> bool {
    meta.owner_references.iter().flatten().any(|o| o.controller == Some(true) && o.uid == uid)
}

/// The revision annotation of a ReplicaSet: missing reads as 0, unparsable as `None` (kubectl skips
/// such a ReplicaSet).
pub fn replica_set_revision(rs: &ReplicaSet) -> Option<i64> {
    match rs.metadata.annotations.as_ref().and_then(|a| a.get(REVISION_ANNOTATION)) {
        None => Some(0),
        Some(r) => r.parse().ok(),
    }
}

/// The Deployment's new ReplicaSet among `replica_sets`: the oldest one it controls whose template
/// equals the Deployment's (ignoring the hash label), as the controller's `FindNewReplicaSet` picks it.
pub fn new_replica_set<'a>(deployment: &Deployment, replica_sets: &'a [ReplicaSet]) -> Option<&'a ReplicaSet> {
    let uid = deployment.metadata.uid.as_deref()?;
    let template = normalized_template(&deployment.spec.as_ref()?.template);
    replica_sets
        .iter()
        .filter(|rs| is_controlled_by(&rs.metadata, uid))
        .filter(|rs| {
            rs.spec.as_ref().and_then(|s| s.template.as_ref()).is_some_and(|t| normalized_template(t) == template)
        })
        .min_by(|a, b| {
            let key =
                |rs: &ReplicaSet| (rs.metadata.creation_timestamp.as_ref().map(|t| t.0), rs.metadata.name.clone());
            key(a).cmp(&key(b))
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rs(name: &str, created: &str, uid_owner: &str, image: &str, hash: &str) -> ReplicaSet {
        serde_json::from_value(json!({
            "metadata": {"name": name, "creationTimestamp": created,
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                              "uid": uid_owner, "controller": true}]},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web", "pod-template-hash": hash}},
                                  "spec": {"containers": [{"name": "app", "image": image}]}}}
        }))
        .unwrap()
    }

    fn deployment(image: &str) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "uid": "d-1"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}, "annotations": {}},
                                  "spec": {"containers": [{"name": "app", "image": image}], "volumes": []}}}
        }))
        .unwrap()
    }

    #[test]
    fn new_replica_set_is_the_oldest_controlled_one_with_an_equal_template() {
        let sets = vec![
            rs("web-b", "2025-01-02T00:00:00Z", "d-1", "app:2", "b"),
            rs("web-a", "2025-01-01T00:00:00Z", "d-1", "app:1", "a"),
            rs("web-c", "2025-01-03T00:00:00Z", "d-1", "app:2", "c"),
            rs("other", "2024-01-01T00:00:00Z", "d-9", "app:2", "z"),
        ];
        assert_eq!(new_replica_set(&deployment("app:2"), &sets).unwrap().metadata.name.as_deref(), Some("web-b"));
        assert_eq!(new_replica_set(&deployment("app:1"), &sets).unwrap().metadata.name.as_deref(), Some("web-a"));
        assert!(new_replica_set(&deployment("app:3"), &sets).is_none());
    }

    #[test]
    fn selectors_are_written_in_the_api_query_syntax() {
        let sel: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"app": "web", "tier": "front"},
            "matchExpressions": [{"key": "env", "operator": "In", "values": ["a", "b"]},
                                 {"key": "legacy", "operator": "DoesNotExist"}]
        }))
        .unwrap();
        assert_eq!(selector_string(&sel).unwrap(), "app=web,tier=front,env in (a,b),!legacy");
        assert_eq!(selector_string(&LabelSelector::default()), None);
    }

    #[test]
    fn workload_refs_display_context_namespace_kind_and_name() {
        let r = WorkloadRef::deployment("shop", "web");
        assert_eq!(r.to_string(), "shop/deployment/web");
        assert_eq!(r.in_context("prod").to_string(), "prod/shop/deployment/web");
    }

    #[test]
    fn workload_arguments_take_kubectl_kinds_and_default_to_deployments() {
        let cases = [
            ("web", "shop/deployment/web"),
            ("deployment/web", "shop/deployment/web"),
            ("deploy/web", "shop/deployment/web"),
            ("Deployments.apps/web", "shop/deployment/web"),
            ("deployment.v1.apps/web", "shop/deployment/web"),
            ("sts/db", "shop/statefulset/db"),
            ("statefulsets/db", "shop/statefulset/db"),
            ("ds/agent", "shop/daemonset/agent"),
            ("daemonset/agent.v2", "shop/daemonset/agent.v2"),
        ];
        for (arg, want) in cases {
            assert_eq!(WorkloadRef::from_arg(arg, "shop", "WORKLOAD").unwrap().to_string(), want, "{arg}");
        }
        let err = WorkloadRef::from_arg("pod/web", "shop", "WORKLOAD").unwrap_err().to_string();
        assert!(err.starts_with("invalid WORKLOAD \"pod/web\": unknown kind \"pod\""), "{err}");
        for bad in ["Web", "deployment/", "web-", "deployment/b/c", ""] {
            let err = WorkloadRef::from_arg(bad, "shop", "WORKLOAD").unwrap_err().to_string();
            assert!(err.contains("allowed: lowercase letters"), "{bad}: {err}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        #[test]
        fn workload_argument_parsing_never_panics(s in ".{0,80}") {
            let _ = WorkloadRef::from_arg(&s, "default", "WORKLOAD");
        }
    }

    #[test]
    fn images_list_init_containers_first() {
        let spec: PodSpec = serde_json::from_value(json!({
            "initContainers": [{"name": "migrate", "image": "m:1"}],
            "containers": [{"name": "app", "image": "a:1"}, {"name": "side", "image": "s:1"}]
        }))
        .unwrap();
        let names: Vec<_> = pod_images(Some(&spec)).into_iter().map(|c| (c.container, c.init)).collect();
        assert_eq!(names, [("migrate".into(), true), ("app".into(), false), ("side".into(), false)]);
    }
}
