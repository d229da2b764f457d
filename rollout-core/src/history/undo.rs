//! Pure: the JSON patch of a rollback, built as `kubectl rollout undo` builds it.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::workload::{POD_TEMPLATE_HASH, WorkloadRef};

/// The Deployment annotations `kubectl rollout undo` keeps (and never takes from the ReplicaSet), as
/// its `annotationsToSkip` lists them.
pub const ANNOTATIONS_TO_SKIP: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

/// The annotations a rollback gives the Deployment, as kubectl's rollbacker computes them: the
/// Deployment's own annotations among [`ANNOTATIONS_TO_SKIP`], plus every other annotation of the
/// target ReplicaSet (its change-cause among them). Other Deployment annotations are dropped.
pub fn undo_annotations(deployment: &Deployment, target: &ReplicaSet) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(own) = &deployment.metadata.annotations {
        for key in ANNOTATIONS_TO_SKIP {
            if let Some(v) = own.get(key) {
                out.insert(key.to_owned(), v.clone());
            }
        }
    }
    for (k, v) in target.metadata.annotations.iter().flatten() {
        if !ANNOTATIONS_TO_SKIP.contains(&k.as_str()) {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// The JSON patch that rolls `deployment` back to `target`'s template, as `kubectl rollout undo`
/// sends it (`replace /spec/template` with the ReplicaSet's template minus its `pod-template-hash`
/// label, and `replace /metadata/annotations` with [`undo_annotations`]), preceded by a `test` of
/// `/metadata/resourceVersion`, so that a write by anyone else since we read the Deployment makes the
/// patch fail instead of being overwritten. When the Deployment has no annotations at all the second
/// operation is an `add` (RFC 6902's `replace` needs the member to exist; the API server's JSON-patch
/// library accepts either).
pub fn undo_patch(workload: &WorkloadRef, deployment: &Deployment, target: &ReplicaSet) -> Result<json_patch::Patch> {
    let invalid = |reason: &str| Error::InvalidInput {
        field: "replicaset".into(),
        value: target.metadata.name.clone().unwrap_or_default(),
        reason: reason.to_owned(),
    };
    let resource_version = deployment.metadata.resource_version.as_deref().ok_or_else(|| Error::InvalidInput {
        field: "deployment".into(),
        value: workload.to_string(),
        reason: "the deployment as read has no resourceVersion to guard the rollback with".into(),
    })?;
    let mut template = target
        .spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .ok_or_else(|| invalid("the replica set has no pod template to roll back to"))?;
    if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(POD_TEMPLATE_HASH);
    }
    let annotations_op = if deployment.metadata.annotations.is_some() { "replace" } else { "add" };
    let ops = json!([
        {"op": "test", "path": "/metadata/resourceVersion", "value": resource_version},
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": annotations_op, "path": "/metadata/annotations", "value": undo_annotations(deployment, target)},
    ]);
    serde_json::from_value(ops).map_err(|e| invalid(&format!("the rollback patch could not be built: {e}")))
}

/// The patch as JSON, for inspection and dry runs.
pub fn patch_json(patch: &json_patch::Patch) -> Value {
    serde_json::to_value(patch).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(annotations: Option<Value>) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "uid": "d-1", "resourceVersion": "41", "annotations": annotations},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "app", "image": "app:2"}]}}}
        }))
        .unwrap()
    }

    fn target() -> ReplicaSet {
        serde_json::from_value(json!({
            "metadata": {"name": "web-abc", "annotations": {
                "deployment.kubernetes.io/revision": "1",
                "deployment.kubernetes.io/desired-replicas": "3",
                "kubernetes.io/change-cause": "rollout: app=app:1",
                "team": "shop"}},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}},
                                  "spec": {"containers": [{"name": "app", "image": "app:1"}]}}}
        }))
        .unwrap()
    }

    #[test]
    fn undo_patch_is_kubectls_guarded_by_the_resource_version() {
        let d = deployment(Some(json!({
            "deployment.kubernetes.io/revision": "2",
            "kubectl.kubernetes.io/last-applied-configuration": "{}",
            "kubernetes.io/change-cause": "rollout: app=app:2",
            "owner": "someone"
        })));
        let patch = undo_patch(&WorkloadRef::deployment("shop", "web"), &d, &target()).unwrap();
        assert_eq!(
            patch_json(&patch),
            json!([
                {"op": "test", "path": "/metadata/resourceVersion", "value": "41"},
                {"op": "replace", "path": "/spec/template", "value": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "app", "image": "app:1"}]}}},
                {"op": "replace", "path": "/metadata/annotations", "value": {
                    "deployment.kubernetes.io/revision": "2",
                    "kubectl.kubernetes.io/last-applied-configuration": "{}",
                    "kubernetes.io/change-cause": "rollout: app=app:1",
                    "team": "shop"}},
            ])
        );
    }

    #[test]
    fn undo_adds_annotations_to_a_deployment_without_any() {
        let patch = undo_patch(&WorkloadRef::deployment("shop", "web"), &deployment(None), &target()).unwrap();
        let v = patch_json(&patch);
        assert_eq!(v[2]["op"], "add");
        assert_eq!(v[2]["value"], json!({"kubernetes.io/change-cause": "rollout: app=app:1", "team": "shop"}));
    }

    #[test]
    fn undo_needs_a_resource_version_and_a_template() {
        let mut d = deployment(None);
        d.metadata.resource_version = None;
        assert!(undo_patch(&WorkloadRef::deployment("shop", "web"), &d, &target()).is_err());
        let mut rs = target();
        rs.spec.as_mut().unwrap().template = None;
        let err = undo_patch(&WorkloadRef::deployment("shop", "web"), &deployment(None), &rs).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid replicaset \"web-abc\": the replica set has no pod template to roll back to"
        );
    }
}
