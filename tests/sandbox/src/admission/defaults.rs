//! Defaulting: the values the API server fills in when a client leaves a field out.
//!
//! Follows Kubernetes 1.32: `SetDefaults_*` in pkg/apis/apps/v1, pkg/apis/batch/v1 and
//! pkg/apis/core/v1 (defaults.go and the generated per-field defaults), plus the pod mutations of the
//! admission plugins every cluster runs (ServiceAccount, Priority, DefaultTolerationSeconds). A field
//! is filled only when it is missing or `null` (or, for Go fields that are not pointers, `""` or `0`),
//! so defaulting a stored object again changes nothing. A field holding a value of the wrong type is
//! left alone for validation to report.
//!
//! Not done here: what the registries do on create beyond the Namespace finalizer (Job selector
//! generation needs the object's uid; status resets are the server's), resource quantity
//! canonicalisation, and the service-account token volume the ServiceAccount plugin mounts.

use serde_json::{Map, Value, json};

use super::image;
use super::reader::Obj;
use crate::kinds::Kind;

/// The sources a volume can name; a volume with none of them becomes an `emptyDir`.
pub(super) const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

/// Fills in the defaults of `kind` in `obj`, as the API server does on every create and update.
pub fn apply_defaults(kind: Kind, obj: &mut Value) {
    let Some(root) = obj.as_object_mut() else { return };
    match kind {
        Kind::Deployment => deployment(root),
        Kind::ReplicaSet => replica_set(root),
        Kind::StatefulSet => stateful_set(root),
        Kind::DaemonSet => daemon_set(root),
        Kind::Job => job(root),
        Kind::CronJob => cron_job(root),
        Kind::Pod => pod(root),
        Kind::Namespace => namespace(root),
        Kind::Event => {}
    }
}

/// `m[k]` as an object to fill in, created when missing or null; `None` when it has another type.
fn ensure<'a>(m: &'a mut Obj, k: &str) -> Option<&'a mut Obj> {
    let v = m.entry(k).or_insert(Value::Null);
    if v.is_null() {
        *v = Value::Object(Map::new());
    }
    v.as_object_mut()
}

/// `m[k]` when it is an object.
fn existing<'a>(m: &'a mut Obj, k: &str) -> Option<&'a mut Obj> {
    m.get_mut(k).and_then(Value::as_object_mut)
}

/// Sets a Go pointer field: when missing or null.
fn default_ptr(m: &mut Obj, k: &str, v: Value) {
    if m.get(k).is_none_or(Value::is_null) {
        m.insert(k.to_string(), v);
    }
}

/// Sets a Go string field: when missing, null or empty.
fn default_str(m: &mut Obj, k: &str, s: &str) {
    let unset = match m.get(k) {
        None | Some(Value::Null) => true,
        Some(Value::String(x)) => x.is_empty(),
        Some(_) => false,
    };
    if unset {
        m.insert(k.to_string(), Value::String(s.to_string()));
    }
}

/// Sets a Go integer field that is not a pointer: when missing, null or zero.
fn default_int(m: &mut Obj, k: &str, n: i64) {
    let unset = match m.get(k) {
        None | Some(Value::Null) => true,
        Some(Value::Number(x)) => x.as_f64() == Some(0.0),
        Some(_) => false,
    };
    if unset {
        m.insert(k.to_string(), json!(n));
    }
}

/// Calls `f` on every object in the array `m[k]`.
fn each_obj(m: &mut Obj, k: &str, mut f: impl FnMut(&mut Obj)) {
    if let Some(Value::Array(a)) = m.get_mut(k) {
        for v in a.iter_mut() {
            if let Some(o) = v.as_object_mut() {
                f(o);
            }
        }
    }
}

fn str_of<'a>(m: &'a Obj, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str)
}

fn deployment(root: &mut Obj) {
    let Some(spec) = ensure(root, "spec") else { return };
    default_ptr(spec, "replicas", json!(1));
    if let Some(strategy) = ensure(spec, "strategy") {
        default_str(strategy, "type", "RollingUpdate");
        if str_of(strategy, "type") == Some("RollingUpdate")
            && let Some(ru) = ensure(strategy, "rollingUpdate")
        {
            default_ptr(ru, "maxUnavailable", json!("25%"));
            default_ptr(ru, "maxSurge", json!("25%"));
        }
    }
    default_ptr(spec, "revisionHistoryLimit", json!(10));
    default_ptr(spec, "progressDeadlineSeconds", json!(600));
    pod_template(spec);
}

fn replica_set(root: &mut Obj) {
    let Some(spec) = ensure(root, "spec") else { return };
    default_ptr(spec, "replicas", json!(1));
    pod_template(spec);
}

fn daemon_set(root: &mut Obj) {
    let Some(spec) = ensure(root, "spec") else { return };
    if let Some(us) = ensure(spec, "updateStrategy") {
        default_str(us, "type", "RollingUpdate");
        if str_of(us, "type") == Some("RollingUpdate")
            && let Some(ru) = ensure(us, "rollingUpdate")
        {
            default_ptr(ru, "maxUnavailable", json!(1));
            default_ptr(ru, "maxSurge", json!(0));
        }
    }
    default_ptr(spec, "revisionHistoryLimit", json!(10));
    pod_template(spec);
}

fn stateful_set(root: &mut Obj) {
    let Some(spec) = ensure(root, "spec") else { return };
    default_str(spec, "podManagementPolicy", "OrderedReady");
    if let Some(us) = ensure(spec, "updateStrategy") {
        let unset = match us.get("type") {
            None | Some(Value::Null) => true,
            Some(Value::String(t)) => t.is_empty(),
            Some(_) => false,
        };
        if unset {
            us.insert("type".into(), json!("RollingUpdate"));
            ensure(us, "rollingUpdate");
        }
        if str_of(us, "type") == Some("RollingUpdate")
            && let Some(ru) = existing(us, "rollingUpdate")
        {
            default_ptr(ru, "partition", json!(0));
        }
    }
    if let Some(policy) = ensure(spec, "persistentVolumeClaimRetentionPolicy") {
        default_str(policy, "whenDeleted", "Retain");
        default_str(policy, "whenScaled", "Retain");
    }
    default_ptr(spec, "replicas", json!(1));
    default_ptr(spec, "revisionHistoryLimit", json!(10));
    pod_template(spec);
    each_obj(spec, "volumeClaimTemplates", |pvc| {
        if let Some(s) = ensure(pvc, "spec") {
            default_ptr(s, "volumeMode", json!("Filesystem"));
        }
        if let Some(s) = ensure(pvc, "status") {
            default_str(s, "phase", "Pending");
        }
    });
}

fn job(root: &mut Obj) {
    let template_labels = root
        .get("spec")
        .and_then(|s| s.get("template"))
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("labels"))
        .filter(|l| l.is_object())
        .cloned();
    let Some(spec) = ensure(root, "spec") else { return };
    let has = |m: &Obj, k: &str| m.get(k).is_some_and(|v| !v.is_null());
    if !has(spec, "completions") && !has(spec, "parallelism") {
        spec.insert("completions".into(), json!(1));
        spec.insert("parallelism".into(), json!(1));
    }
    default_ptr(spec, "parallelism", json!(1));
    let backoff = if has(spec, "backoffLimitPerIndex") { i64::from(i32::MAX) } else { 6 };
    default_ptr(spec, "backoffLimit", json!(backoff));
    default_ptr(spec, "completionMode", json!("NonIndexed"));
    default_ptr(spec, "suspend", json!(false));
    if let Some(policy) = existing(spec, "podFailurePolicy") {
        each_obj(policy, "rules", |rule| {
            each_obj(rule, "onPodConditions", |pattern| default_str(pattern, "status", "True"));
        });
    }
    let replacement = if has(spec, "podFailurePolicy") { "Failed" } else { "TerminatingOrFailed" };
    default_ptr(spec, "podReplacementPolicy", json!(replacement));
    pod_template(spec);
    // A Job without labels takes its pod template's labels.
    if let Some(labels) = template_labels
        && let Some(meta) = ensure(root, "metadata")
    {
        let empty = match meta.get("labels") {
            None | Some(Value::Null) => true,
            Some(Value::Object(l)) => l.is_empty(),
            Some(_) => false,
        };
        if empty {
            meta.insert("labels".into(), labels);
        }
    }
}

fn cron_job(root: &mut Obj) {
    let Some(spec) = ensure(root, "spec") else { return };
    default_str(spec, "concurrencyPolicy", "Allow");
    default_ptr(spec, "suspend", json!(false));
    default_ptr(spec, "successfulJobsHistoryLimit", json!(3));
    default_ptr(spec, "failedJobsHistoryLimit", json!(1));
    if let Some(jt) = ensure(spec, "jobTemplate")
        && let Some(js) = ensure(jt, "spec")
    {
        pod_template(js);
    }
}

const NOT_READY: &str = "node.kubernetes.io/not-ready";
const UNREACHABLE: &str = "node.kubernetes.io/unreachable";

fn pod(root: &mut Obj) {
    let Some(spec) = ensure(root, "spec") else { return };
    pod_spec(spec);
    // SetDefaults_Pod: requests default to limits.
    for list in ["containers", "initContainers"] {
        each_obj(spec, list, |c| {
            let Some(res) = existing(c, "resources") else { return };
            let limits = match res.get("limits") {
                Some(Value::Object(l)) if !l.is_empty() => l.clone(),
                _ => return,
            };
            if let Some(req) = ensure(res, "requests") {
                for (k, v) in limits {
                    req.entry(k).or_insert(v);
                }
            }
        });
    }
    default_ptr(spec, "enableServiceLinks", json!(true));
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        for list in ["containers", "initContainers"] {
            each_obj(spec, list, |c| {
                each_obj(c, "ports", |p| {
                    let container_port = p.get("containerPort").cloned();
                    if let Some(cp) = container_port {
                        default_int(p, "hostPort", 0);
                        if p.get("hostPort").and_then(Value::as_i64) == Some(0) {
                            p.insert("hostPort".into(), cp);
                        }
                    }
                });
            });
        }
    }
    // ServiceAccount admission: pods run as the namespace's default service account.
    default_str(spec, "serviceAccountName", "default");
    if let Some(sa) = spec.get("serviceAccountName").filter(|v| v.is_string()).cloned() {
        default_str(spec, "serviceAccount", sa.as_str().unwrap_or_default());
    }
    // Priority admission: no class (and no global default class) means priority 0.
    let class = str_of(spec, "priorityClassName").unwrap_or_default().to_string();
    let priority = match class.as_str() {
        "" => Some(0),
        "system-cluster-critical" => Some(2_000_000_000),
        "system-node-critical" => Some(2_000_001_000),
        _ => None,
    };
    if let Some(p) = priority {
        default_ptr(spec, "priority", json!(p));
        default_ptr(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
    }
    // DefaultTolerationSeconds admission: tolerate not-ready and unreachable nodes for 300 s.
    let (mut not_ready, mut unreachable) = (false, false);
    if let Some(Value::Array(tols)) = spec.get("tolerations") {
        for t in tols {
            let key = t.get("key").and_then(Value::as_str).unwrap_or_default();
            let effect = t.get("effect").and_then(Value::as_str).unwrap_or_default();
            let no_execute = effect.is_empty() || effect == "NoExecute";
            not_ready |= (key.is_empty() || key == NOT_READY) && no_execute;
            unreachable |= (key.is_empty() || key == UNREACHABLE) && no_execute;
        }
    }
    let toleration =
        |key: &str| json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300});
    for (tolerated, key) in [(not_ready, NOT_READY), (unreachable, UNREACHABLE)] {
        if tolerated {
            continue;
        }
        match spec.entry("tolerations").or_insert(Value::Null) {
            Value::Array(a) => a.push(toleration(key)),
            v @ Value::Null => *v = json!([toleration(key)]),
            _ => {}
        }
    }
}

fn namespace(root: &mut Obj) {
    let name = root
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    if let Some(name) = name
        && let Some(meta) = ensure(root, "metadata")
        && let Some(labels) = ensure(meta, "labels")
    {
        labels.insert("kubernetes.io/metadata.name".into(), json!(name));
    }
    // The namespace registry requires the `kubernetes` finalizer on create. A namespace without a
    // status phase is one being created; a stored one has a phase, so a namespace whose finalizer
    // was removed during deletion does not get it back.
    let creating = root.get("status").and_then(|s| s.get("phase")).and_then(Value::as_str).is_none_or(str::is_empty);
    if creating && let Some(spec) = ensure(root, "spec") {
        match spec.entry("finalizers").or_insert(Value::Null) {
            Value::Array(a) if !a.iter().any(|f| f == "kubernetes") => a.push(json!("kubernetes")),
            v @ Value::Null => *v = json!(["kubernetes"]),
            _ => {}
        }
    }
    if let Some(status) = ensure(root, "status") {
        default_str(status, "phase", "Active");
    }
}

/// The pod template of a workload: `spec.template.spec` gets the PodSpec defaults.
fn pod_template(spec: &mut Obj) {
    if let Some(t) = ensure(spec, "template")
        && let Some(ps) = ensure(t, "spec")
    {
        pod_spec(ps);
    }
}

/// `SetDefaults_PodSpec` and the defaults of everything a PodSpec contains.
fn pod_spec(ps: &mut Obj) {
    default_str(ps, "dnsPolicy", "ClusterFirst");
    default_str(ps, "restartPolicy", "Always");
    default_ptr(ps, "securityContext", json!({}));
    default_ptr(ps, "terminationGracePeriodSeconds", json!(30));
    default_str(ps, "schedulerName", "default-scheduler");
    each_obj(ps, "volumes", volume);
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        each_obj(ps, list, container);
    }
}

fn volume(v: &mut Obj) {
    if !VOLUME_SOURCES.iter().any(|k| v.get(*k).is_some_and(|s| !s.is_null())) {
        v.insert("emptyDir".into(), json!({}));
    }
    if let Some(s) = existing(v, "hostPath") {
        default_ptr(s, "type", json!(""));
    }
    for source in ["secret", "configMap"] {
        if let Some(s) = existing(v, source) {
            default_ptr(s, "defaultMode", json!(420));
        }
    }
    if let Some(s) = existing(v, "downwardAPI") {
        default_ptr(s, "defaultMode", json!(420));
        each_obj(s, "items", field_ref_item);
    }
    if let Some(s) = existing(v, "projected") {
        default_ptr(s, "defaultMode", json!(420));
        each_obj(s, "sources", |src| {
            if let Some(d) = existing(src, "downwardAPI") {
                each_obj(d, "items", field_ref_item);
            }
            if let Some(t) = existing(src, "serviceAccountToken") {
                default_ptr(t, "expirationSeconds", json!(3600));
            }
        });
    }
    if let Some(s) = existing(v, "ephemeral")
        && let Some(t) = existing(s, "volumeClaimTemplate")
        && let Some(spec) = existing(t, "spec")
    {
        default_ptr(spec, "volumeMode", json!("Filesystem"));
    }
    if let Some(s) = existing(v, "iscsi") {
        default_str(s, "iscsiInterface", "default");
    }
    if let Some(s) = existing(v, "rbd") {
        default_str(s, "pool", "rbd");
        default_str(s, "user", "admin");
        default_str(s, "keyring", "/etc/ceph/keyring");
    }
    if let Some(s) = existing(v, "azureDisk") {
        default_ptr(s, "cachingMode", json!("ReadWrite"));
        default_ptr(s, "fsType", json!("ext4"));
        default_ptr(s, "readOnly", json!(false));
        default_ptr(s, "kind", json!("Shared"));
    }
    if let Some(s) = existing(v, "scaleIO") {
        default_str(s, "storageMode", "ThinProvisioned");
        default_str(s, "fsType", "xfs");
    }
}

fn field_ref_item(item: &mut Obj) {
    if let Some(f) = existing(item, "fieldRef") {
        default_str(f, "apiVersion", "v1");
    }
}

/// `SetDefaults_Container` and the defaults of its ports, env, probes and lifecycle hooks.
fn container(c: &mut Obj) {
    let policy = image::default_pull_policy(str_of(c, "image").unwrap_or_default());
    default_str(c, "imagePullPolicy", policy);
    default_str(c, "terminationMessagePath", "/dev/termination-log");
    default_str(c, "terminationMessagePolicy", "File");
    each_obj(c, "ports", |p| default_str(p, "protocol", "TCP"));
    each_obj(c, "env", |e| {
        if let Some(vf) = existing(e, "valueFrom") {
            field_ref_item(vf);
        }
    });
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = existing(c, probe) {
            default_int(p, "timeoutSeconds", 1);
            default_int(p, "periodSeconds", 10);
            default_int(p, "successThreshold", 1);
            default_int(p, "failureThreshold", 3);
            if let Some(h) = existing(p, "httpGet") {
                http_get(h);
            }
            if let Some(g) = existing(p, "grpc") {
                default_ptr(g, "service", json!(""));
            }
        }
    }
    if let Some(l) = existing(c, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = existing(l, hook)
                && let Some(g) = existing(h, "httpGet")
            {
                http_get(g);
            }
        }
    }
}

fn http_get(h: &mut Obj) {
    default_str(h, "path", "/");
    default_str(h, "scheme", "HTTP");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaulted(kind: Kind, mut v: Value) -> Value {
        apply_defaults(kind, &mut v);
        v
    }

    #[test]
    fn a_minimal_deployment_gets_every_default() {
        let minimal = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]}
                }
            }
        });
        let expected = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600,
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [{
                            "name": "web",
                            "image": "nginx:1.25",
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "imagePullPolicy": "IfNotPresent",
                            "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "File"
                        }],
                        "restartPolicy": "Always",
                        "terminationGracePeriodSeconds": 30,
                        "dnsPolicy": "ClusterFirst",
                        "securityContext": {},
                        "schedulerName": "default-scheduler"
                    }
                }
            }
        });
        let once = defaulted(Kind::Deployment, minimal);
        assert_eq!(once, expected);
        assert_eq!(defaulted(Kind::Deployment, once.clone()), once, "defaulting twice changes nothing");
    }

    #[test]
    fn a_deployment_without_spec_still_gets_a_defaulted_template() {
        let d = defaulted(Kind::Deployment, json!({"metadata": {"name": "x"}}));
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(d["spec"]["template"]["spec"]["restartPolicy"], "Always");
        assert!(d["spec"].get("selector").is_none(), "apps/v1 never defaults the selector");
    }

    #[test]
    fn explicit_values_are_kept() {
        let d = defaulted(
            Kind::Deployment,
            json!({"spec": {
                "replicas": 0,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0}},
                "revisionHistoryLimit": 0,
                "template": {"spec": {"restartPolicy": "Never", "containers": [
                    {"name": "a", "image": "x", "imagePullPolicy": "Never"}
                ]}}
            }}),
        );
        assert_eq!(d["spec"]["replicas"], 0);
        assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], 0);
        assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], "25%");
        assert_eq!(d["spec"]["revisionHistoryLimit"], 0);
        assert_eq!(d["spec"]["template"]["spec"]["restartPolicy"], "Never");
        assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "Never");
    }

    #[test]
    fn recreate_deployments_get_no_rolling_update_parameters() {
        let d = defaulted(Kind::Deployment, json!({"spec": {"strategy": {"type": "Recreate"}}}));
        assert_eq!(d["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn image_pull_policy_depends_on_tag_and_digest() {
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let cases = [
            ("nginx".to_string(), "Always"),
            ("nginx:latest".to_string(), "Always"),
            ("nginx:1.25".to_string(), "IfNotPresent"),
            (format!("nginx@{digest}"), "IfNotPresent"),
            (format!("nginx:latest@{digest}"), "Always"),
            (
                "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/ms-account-management:latest-release-1.0.0"
                    .to_string(),
                "IfNotPresent",
            ),
        ];
        for (img, want) in cases {
            let d = defaulted(
                Kind::ReplicaSet,
                json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": img}],
                    "initContainers": [{"name": "i", "image": img}]}}}}),
            );
            let ps = &d["spec"]["template"]["spec"];
            assert_eq!(ps["containers"][0]["imagePullPolicy"], want, "image {img}");
            assert_eq!(ps["initContainers"][0]["imagePullPolicy"], want, "init image {img}");
        }
    }

    #[test]
    fn probes_get_timing_defaults_and_http_defaults() {
        let d = defaulted(
            Kind::Pod,
            json!({"spec": {"containers": [{"name": "c", "image": "x:1",
                "readinessProbe": {"tcpSocket": {"port": 8443}, "initialDelaySeconds": 5, "periodSeconds": 10},
                "livenessProbe": {"httpGet": {"port": 8080}, "failureThreshold": 5, "periodSeconds": 20},
                "startupProbe": {"grpc": {"port": 9000}},
                "lifecycle": {"preStop": {"httpGet": {"port": 80}}}
            }]}}),
        );
        let c = &d["spec"]["containers"][0];
        assert_eq!(
            c["readinessProbe"],
            json!({"tcpSocket": {"port": 8443}, "initialDelaySeconds": 5, "periodSeconds": 10,
                   "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(c["livenessProbe"]["failureThreshold"], 5);
        assert_eq!(c["livenessProbe"]["periodSeconds"], 20);
        assert_eq!(c["livenessProbe"]["httpGet"], json!({"port": 8080, "path": "/", "scheme": "HTTP"}));
        assert_eq!(c["startupProbe"]["grpc"], json!({"port": 9000, "service": ""}));
        assert_eq!(c["lifecycle"]["preStop"]["httpGet"]["scheme"], "HTTP");
    }

    #[test]
    fn pods_get_admission_defaults() {
        let d = defaulted(
            Kind::Pod,
            json!({"spec": {"containers": [{"name": "c", "image": "x:1",
                "resources": {"limits": {"cpu": "1"}, "requests": {"memory": "1Gi"}}}]}}),
        );
        let s = &d["spec"];
        assert_eq!(s["enableServiceLinks"], true);
        assert_eq!(s["serviceAccountName"], "default");
        assert_eq!(s["serviceAccount"], "default");
        assert_eq!(s["priority"], 0);
        assert_eq!(s["preemptionPolicy"], "PreemptLowerPriority");
        assert_eq!(s["containers"][0]["resources"]["requests"], json!({"cpu": "1", "memory": "1Gi"}));
        assert_eq!(
            s["tolerations"],
            json!([
                {"key": NOT_READY, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            ])
        );
        let again = defaulted(Kind::Pod, d.clone());
        assert_eq!(again, d, "defaulting a stored pod again adds nothing");
    }

    #[test]
    fn a_toleration_of_all_taints_suppresses_the_default_ones() {
        let d = defaulted(Kind::Pod, json!({"spec": {"tolerations": [{"operator": "Exists"}]}}));
        assert_eq!(d["spec"]["tolerations"], json!([{"operator": "Exists"}]));
    }

    #[test]
    fn host_network_pods_publish_container_ports_on_the_host() {
        let d = defaulted(
            Kind::Pod,
            json!({"spec": {"hostNetwork": true, "containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 53}]}]}}),
        );
        assert_eq!(d["spec"]["containers"][0]["ports"][0]["hostPort"], 53);
    }

    #[test]
    fn volumes_without_a_source_become_empty_dirs() {
        let d = defaulted(
            Kind::Pod,
            json!({"spec": {"volumes": [{"name": "a"}, {"name": "b", "configMap": {"name": "cm"}},
                {"name": "c", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}]}}),
        );
        let v = &d["spec"]["volumes"];
        assert_eq!(v[0], json!({"name": "a", "emptyDir": {}}));
        assert_eq!(v[1]["configMap"]["defaultMode"], 420);
        assert_eq!(v[2]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"], 3600);
    }

    #[test]
    fn namespaces_get_the_kubernetes_finalizer_only_on_create() {
        let d = defaulted(Kind::Namespace, json!({"metadata": {"name": "team-a"}}));
        assert_eq!(
            d,
            json!({"metadata": {"name": "team-a", "labels": {"kubernetes.io/metadata.name": "team-a"}},
                   "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
        );
        let finalized = json!({"metadata": {"name": "team-a"}, "spec": {}, "status": {"phase": "Terminating"}});
        let d = defaulted(Kind::Namespace, finalized);
        assert_eq!(d["spec"], json!({}));
        assert_eq!(d["status"]["phase"], "Terminating");
    }

    #[test]
    fn workload_kinds_get_their_defaults() {
        let ds = defaulted(Kind::DaemonSet, json!({}));
        assert_eq!(
            ds["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        );
        assert_eq!(ds["spec"]["revisionHistoryLimit"], 10);

        let sts =
            defaulted(Kind::StatefulSet, json!({"spec": {"volumeClaimTemplates": [{"metadata": {"name": "d"}}]}}));
        assert_eq!(sts["spec"]["podManagementPolicy"], "OrderedReady");
        assert_eq!(sts["spec"]["updateStrategy"], json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}));
        assert_eq!(
            sts["spec"]["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        assert_eq!(sts["spec"]["replicas"], 1);
        assert_eq!(sts["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"], "Filesystem");
        assert_eq!(sts["spec"]["volumeClaimTemplates"][0]["status"]["phase"], "Pending");

        let job = defaulted(Kind::Job, json!({"spec": {"template": {"metadata": {"labels": {"app": "batch"}}}}}));
        assert_eq!(job["spec"]["completions"], 1);
        assert_eq!(job["spec"]["parallelism"], 1);
        assert_eq!(job["spec"]["backoffLimit"], 6);
        assert_eq!(job["spec"]["completionMode"], "NonIndexed");
        assert_eq!(job["spec"]["suspend"], false);
        assert_eq!(job["spec"]["podReplacementPolicy"], "TerminatingOrFailed");
        assert_eq!(job["metadata"]["labels"], json!({"app": "batch"}));

        let parallel = defaulted(Kind::Job, json!({"spec": {"parallelism": 3, "backoffLimitPerIndex": 1}}));
        assert!(parallel["spec"].get("completions").is_none());
        assert_eq!(parallel["spec"]["backoffLimit"], i32::MAX);

        let cj = defaulted(Kind::CronJob, json!({"spec": {"schedule": "* * * * *"}}));
        assert_eq!(cj["spec"]["concurrencyPolicy"], "Allow");
        assert_eq!(cj["spec"]["successfulJobsHistoryLimit"], 3);
        assert_eq!(cj["spec"]["failedJobsHistoryLimit"], 1);
        assert_eq!(cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"], "ClusterFirst");
    }

    #[test]
    fn fields_of_the_wrong_type_are_left_alone() {
        let d = defaulted(Kind::Deployment, json!({"spec": {"replicas": "3", "strategy": "fast", "template": 7}}));
        assert_eq!(d["spec"]["replicas"], "3");
        assert_eq!(d["spec"]["strategy"], "fast");
        assert_eq!(d["spec"]["template"], 7);
        let mut not_an_object = json!([1, 2]);
        apply_defaults(Kind::Pod, &mut not_an_object);
        assert_eq!(not_an_object, json!([1, 2]));
    }
}
