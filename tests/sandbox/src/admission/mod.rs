//! Admission: the defaulting and validation the Kubernetes API server applies to every object it
//! is asked to create or update, for the kinds the sandbox serves.
//!
//! [`apply_defaults`] fills in what a client left out (a Deployment's `replicas: 1`, RollingUpdate
//! with 25% surge and unavailability, a container's `imagePullPolicy`, probe timings, …) and
//! [`validate`] lists every rule the object breaks, with the field paths and message texts of the
//! real server (Kubernetes 1.32, the version the sandbox reports), so clients see the same `422
//! Invalid` answers. Both are pure functions over `serde_json::Value`: no I/O, no state.
//!
//! This module owns the rules of the API types. It deliberately does not own what the server does
//! around them: naming objects from `generateName`, setting `uid`, `resourceVersion`, `generation`
//! and timestamps, resetting or carrying over `status` and `spec` for the status subresource,
//! generating a Job's selector, or turning the errors into a `Status` answer
//! ([`crate::error::ApiError::invalid`] does that).
//!
//! Like the real server, the caller prepares the object before validating it: the name generated
//! from `generateName`, `metadata.namespace` set from the request URL (and cleared for cluster-scoped
//! kinds such as Namespace), a missing `uid` on update taken from the stored object. Validation
//! reports what `ValidateObjectMeta` would report otherwise (`metadata.namespace: Required value`).
//!
//! Known differences from the real server, kept small on purpose: a field of the wrong JSON type is
//! a `must be of type …` field error here where the real server fails to decode the body (400);
//! "Not found" errors (a volume mount naming no volume) are reported as invalid values because the
//! sandbox's error type has no such kind; values the server prints as large Go structures (a pod
//! template, a toleration, owner references) are shown in a shorter form, and the pod update error
//! names the changed spec fields where the server prints a structure diff.
//!
//! The server calls, on create and on update alike:
//!
//! ```
//! use rollout_sandbox::admission::{apply_defaults, validate};
//! use rollout_sandbox::kinds::Kind;
//!
//! let mut obj = serde_json::json!({
//!     "metadata": {"name": "web", "namespace": "default"},
//!     "spec": {"replicas": -1, "selector": {"matchLabels": {"app": "web"}},
//!              "template": {"metadata": {"labels": {"app": "web"}},
//!                           "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}
//! });
//! apply_defaults(Kind::Deployment, &mut obj);
//! let errors = validate(Kind::Deployment, &obj, None);
//! assert_eq!(errors[0].message(), "spec.replicas: Invalid value: -1: must be greater than or equal to 0");
//! ```

mod defaults;
mod image;
mod pod;
mod reader;
mod render;
mod syntax;
mod validation;

pub use defaults::apply_defaults;
pub use validation::validate;

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;
    use crate::kinds::{KINDS, Kind};

    /// A valid object of each kind, before defaulting; the Deployment is the seed workflow's.
    pub(super) fn seed(kind: Kind) -> Value {
        let template = |restart: &str| {
            json!({
                "metadata": {"labels": {"app": "ms-account-management"}},
                "spec": {
                    "restartPolicy": restart,
                    "containers": [{
                        "name": "ms-account-management",
                        "image": "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/ms-account-management:latest-release-1.0.0",
                        "ports": [{"containerPort": 8443}],
                        "readinessProbe": {"tcpSocket": {"port": 8443}, "initialDelaySeconds": 5, "periodSeconds": 10},
                        "livenessProbe": {"tcpSocket": {"port": 8443}, "initialDelaySeconds": 15, "failureThreshold": 5, "periodSeconds": 20}
                    }]
                }
            })
        };
        let meta = json!({"name": "ms-account-management", "namespace": "default", "labels": {"app": "ms-account-management"}});
        let selector = json!({"matchLabels": {"app": "ms-account-management"}});
        match kind {
            Kind::Deployment => json!({
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
                "spec": {"replicas": 3, "selector": selector, "template": template("Always")}
            }),
            Kind::ReplicaSet => json!({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": "ms-account-management-6d4f8b7c9", "namespace": "default",
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "ms-account-management",
                        "uid": "0b1c2d3e-0000-4000-8000-000000000001", "controller": true, "blockOwnerDeletion": true}]},
                "spec": {"replicas": 3, "selector": selector, "template": template("Always")}
            }),
            Kind::StatefulSet => json!({
                "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta,
                "spec": {"serviceName": "db", "selector": selector, "template": template("Always")}
            }),
            Kind::DaemonSet => json!({
                "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta,
                "spec": {"selector": selector, "template": template("Always")}
            }),
            Kind::Job => json!({
                "apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
                "spec": {"template": template("Never")}
            }),
            Kind::CronJob => json!({
                "apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta,
                "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template("OnFailure")}}}
            }),
            Kind::Pod => {
                let t = template("Always");
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": t["spec"]})
            }
            Kind::Namespace => json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}),
            Kind::Event => json!({
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": "ms-account-management.17a8c3e2b1d4f5a6", "namespace": "default"},
                "involvedObject": {"kind": "Deployment", "name": "ms-account-management", "namespace": "default"},
                "reason": "ScalingReplicaSet", "message": "Scaled up replica set ms-account-management-6d4f8b7c9 to 3",
                "type": "Normal"
            }),
        }
    }

    fn messages(errs: &[crate::error::FieldError]) -> Vec<String> {
        errs.iter().map(crate::error::FieldError::message).collect()
    }

    #[test]
    fn every_seed_is_valid_once_defaulted_and_as_an_update_of_itself() {
        for info in KINDS {
            let mut obj = seed(info.kind);
            apply_defaults(info.kind, &mut obj);
            assert_eq!(messages(&validate(info.kind, &obj, None)), Vec::<String>::new(), "create {:?}", info.kind);
            assert_eq!(
                messages(&validate(info.kind, &obj, Some(&obj))),
                Vec::<String>::new(),
                "update {:?}",
                info.kind
            );
        }
    }

    /// Field names the kinds use, so generated objects reach deep into the checks.
    const KEYS: &[&str] = &[
        "metadata",
        "name",
        "namespace",
        "labels",
        "annotations",
        "generateName",
        "finalizers",
        "ownerReferences",
        "uid",
        "controller",
        "apiVersion",
        "kind",
        "deletionTimestamp",
        "spec",
        "status",
        "replicas",
        "selector",
        "matchLabels",
        "matchExpressions",
        "key",
        "operator",
        "values",
        "template",
        "containers",
        "initContainers",
        "ephemeralContainers",
        "image",
        "ports",
        "containerPort",
        "hostPort",
        "protocol",
        "strategy",
        "type",
        "rollingUpdate",
        "maxSurge",
        "maxUnavailable",
        "readinessProbe",
        "livenessProbe",
        "startupProbe",
        "tcpSocket",
        "httpGet",
        "exec",
        "grpc",
        "port",
        "path",
        "scheme",
        "command",
        "httpHeaders",
        "volumes",
        "volumeMounts",
        "mountPath",
        "subPath",
        "subPathExpr",
        "env",
        "envFrom",
        "prefix",
        "configMapRef",
        "secretRef",
        "valueFrom",
        "fieldRef",
        "fieldPath",
        "resourceFieldRef",
        "resource",
        "configMapKeyRef",
        "restartPolicy",
        "dnsPolicy",
        "dnsConfig",
        "nameservers",
        "searches",
        "options",
        "tolerations",
        "effect",
        "tolerationSeconds",
        "updateStrategy",
        "jobTemplate",
        "schedule",
        "involvedObject",
        "phase",
        "collisionCount",
        "hostNetwork",
        "lifecycle",
        "preStop",
        "postStart",
        "sleep",
        "seconds",
        "emptyDir",
        "configMap",
        "secret",
        "secretName",
        "hostPath",
        "projected",
        "sources",
        "items",
        "defaultMode",
        "progressDeadlineSeconds",
        "minReadySeconds",
        "revisionHistoryLimit",
        "terminationGracePeriodSeconds",
        "activeDeadlineSeconds",
        "imagePullPolicy",
        "terminationMessagePolicy",
        "podManagementPolicy",
        "persistentVolumeClaimRetentionPolicy",
        "volumeClaimTemplates",
        "priorityClassName",
        "schedulingGates",
        "resources",
        "limits",
        "requests",
        "podFailurePolicy",
        "rules",
        "onPodConditions",
        "backoffLimitPerIndex",
        "completions",
        "parallelism",
        "ordinals",
        "start",
        "partition",
        "readinessGates",
        "conditionType",
        "nodeSelector",
        "serviceAccountName",
        "hostname",
        "successThreshold",
        "periodSeconds",
        "readyReplicas",
        "availableReplicas",
        "observedGeneration",
        "claimName",
        "persistentVolumeClaim",
        "manualSelector",
    ];

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-70000i64..70000).prop_map(Value::from),
            any::<f64>().prop_map(|f| json!(f)),
            "[a-zA-Z0-9%:/@._ -]{0,16}".prop_map(Value::from),
            prop::sample::select(KEYS).prop_map(Value::from),
            prop::sample::select(&["Always", "RollingUpdate", "Recreate", "In", "Exists", "None", "25%", "TCP"][..])
                .prop_map(Value::from),
        ];
        leaf.prop_recursive(5, 96, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(prop::sample::select(KEYS).prop_map(String::from), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// JSON pointers to every value inside `v`.
    fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    pointers(child, format!("{at}/{k}"), out);
                }
            }
            Value::Array(a) => {
                for (i, child) in a.iter().enumerate() {
                    pointers(child, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
        out.push(at);
    }

    fn exercise(kind: Kind, obj: &Value, old: &Value) {
        let mut defaulted = obj.clone();
        apply_defaults(kind, &mut defaulted);
        let _ = validate(kind, obj, None);
        let _ = validate(kind, &defaulted, None);
        let _ = validate(kind, &defaulted, Some(old));
        let _ = validate(kind, old, Some(&defaulted));
        for e in validate(kind, &defaulted, None) {
            let _ = e.message();
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_json_never_panics(v in arb_json(), old in arb_json(), k in 0..KINDS.len()) {
            exercise(KINDS[k].kind, &v, &old);
            let wrapped = json!({"metadata": {"name": "x", "namespace": "default"}, "spec": v});
            exercise(KINDS[k].kind, &wrapped, &old);
        }

        #[test]
        fn any_value_at_any_known_field_never_panics(k in 0..KINDS.len(), pick in any::<prop::sample::Index>(), v in arb_json()) {
            let kind = KINDS[k].kind;
            let mut obj = seed(kind);
            apply_defaults(kind, &mut obj);
            let mut ptrs = Vec::new();
            pointers(&obj, String::new(), &mut ptrs);
            let ptr = pick.get(&ptrs).clone();
            let old = obj.clone();
            if ptr.is_empty() {
                obj = v;
            } else if let Some(slot) = obj.pointer_mut(&ptr) {
                *slot = v;
            }
            exercise(kind, &obj, &old);
        }
    }
}
