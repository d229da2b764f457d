//! Validation of pod specs and pod templates, as pkg/apis/core/validation does it in Kubernetes 1.32
//! (`ValidatePodTemplateSpec`, `ValidatePodSpec`, `validateContainers`, `validateProbe`, …), in the
//! same order so errors come out in the order the real server lists them.
//!
//! Covered: termination grace period, volumes (names, one source, the common sources' required
//! fields), containers and init containers (names, images, ports, env, envFrom, volume mounts, pull
//! and termination message policies, probes, lifecycle hooks, host port conflicts), restart and DNS
//! policies, DNS config, node selector, readiness gates, names of the service account, node and
//! priority class, active deadline, hostname, tolerations, pod update rules. Not covered: resource
//! quantities, security contexts, affinity, topology spread, volume devices, and the per-source
//! rules of the rarer volume types.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde_json::{Map, Value};

use super::reader::{Check, IntOrStr, Obj, child, index};
use super::render::{self, NIL};
use super::syntax;
use super::validation::{annotations, labels, normalized};

/// Which probe is being checked: the three differ in one rule each.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ProbeKind {
    Liveness,
    Readiness,
    Startup,
}

const PROBES: [(&str, ProbeKind); 3] = [
    ("livenessProbe", ProbeKind::Liveness),
    ("readinessProbe", ProbeKind::Readiness),
    ("startupProbe", ProbeKind::Startup),
];

/// Handler fields a probe may use, in the order the server checks them.
const PROBE_HANDLERS: &[&str] = &["exec", "httpGet", "tcpSocket", "grpc"];
/// Handler fields a lifecycle hook may use.
const LIFECYCLE_HANDLERS: &[&str] = &["exec", "httpGet", "tcpSocket", "sleep"];

/// The volume sources in the order `validateVolumeSource` checks them, with the field name its
/// "more than 1 volume type" error uses (two are spelled differently there).
const VOLUME_SOURCES: &[(&str, &str)] = &[
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("configMap", "configMap"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
];

const FILE_MODE_MSG: &str = "must be a number between 0 and 0777 (octal), both inclusive";

/// `ValidatePodTemplateSpec`: labels and annotations (at `<path>.labels`, as the server names them),
/// the pod spec, and no ephemeral containers.
pub(super) fn template_spec(c: &mut Check, t: &Obj, path: &str) {
    let empty = Map::new();
    let meta_path = child(path, "metadata");
    let meta = c.obj(t, "metadata", &meta_path).unwrap_or(&empty);
    let l = c.string_map(meta, "labels", &child(&meta_path, "labels"));
    labels(c, l.as_ref(), &child(path, "labels"));
    let a = c.string_map(meta, "annotations", &child(&meta_path, "annotations"));
    annotations(c, a.as_ref(), &child(path, "annotations"));
    let spec_path = child(path, "spec");
    let spec = c.obj(t, "spec", &spec_path).unwrap_or(&empty);
    pod_specific_annotations(c, a.as_ref(), spec, &child(path, "annotations"));
    pod_spec(c, spec, &spec_path, false);
    if c.arr(spec, "ephemeralContainers", &child(&spec_path, "ephemeralContainers")).is_some_and(|a| !a.is_empty()) {
        c.forbidden(&child(&spec_path, "ephemeralContainers"), "ephemeral containers not allowed in pod template");
    }
}

/// The metadata and spec rules of a Pod (`validatePodMetadataAndSpec` minus the metadata itself,
/// which the caller checks).
pub(super) fn pod(c: &mut Check, root: &Obj, creating: bool) {
    let empty = Map::new();
    let meta = c.obj(root, "metadata", "metadata").unwrap_or(&empty);
    let spec = c.obj(root, "spec", "spec").unwrap_or(&empty);
    let a = c.string_map(meta, "annotations", "metadata.annotations");
    pod_specific_annotations(c, a.as_ref(), spec, "metadata.annotations");
    pod_spec(c, spec, "spec", true);
    for list in ["containers", "initContainers"] {
        for (_, p, ctr) in c.items(spec, list, &child("spec", list)) {
            let image = c.string(ctr, "image", &child(&p, "image"));
            if image.len() != image.trim().len() {
                c.invalid_str(&child(&p, "image"), image, "must not have leading or trailing whitespace");
            }
        }
    }
    if creating {
        if c.arr(spec, "ephemeralContainers", "spec.ephemeralContainers").is_some_and(|a| !a.is_empty()) {
            c.forbidden("spec.ephemeralContainers", "cannot be set on create");
        }
        let gated = c.arr(spec, "schedulingGates", "spec.schedulingGates").is_some_and(|a| !a.is_empty());
        if !c.string(spec, "nodeName", "spec.nodeName").is_empty() && gated {
            c.forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared");
        }
    }
}

/// `ValidatePodSpecificAnnotations`: the mirror-pod and deletion-cost annotations.
fn pod_specific_annotations(c: &mut Check, a: Option<&BTreeMap<String, String>>, spec: &Obj, path: &str) {
    let Some(a) = a else { return };
    if let Some(v) = a.get("kubernetes.io/config.mirror")
        && spec.get("nodeName").and_then(Value::as_str).is_none_or(str::is_empty)
    {
        c.invalid_str(
            &super::reader::key(path, "kubernetes.io/config.mirror"),
            v,
            "must set spec.nodeName if mirror pod annotation is set",
        );
    }
    if let Some(v) = a.get("controller.kubernetes.io/pod-deletion-cost")
        && v.parse::<i32>().is_err()
    {
        c.invalid_str(
            &super::reader::key(path, "controller.kubernetes.io/pod-deletion-cost"),
            v,
            "must be a 32bit integer",
        );
    }
}

/// `ValidatePodSpec`.
pub(super) fn pod_spec(c: &mut Check, s: &Obj, path: &str, is_pod: bool) {
    let tgps_path = child(path, "terminationGracePeriodSeconds");
    let grace = c.i64(s, "terminationGracePeriodSeconds", &tgps_path);
    if !Check::has(s, "terminationGracePeriodSeconds") {
        c.required(&tgps_path, "");
    }
    let volumes = volumes(c, s, &child(path, "volumes"));
    let regular_names = containers(c, s, &volumes, grace, &child(path, "containers"));
    init_containers(c, s, &volumes, grace, &child(path, "initContainers"), regular_names);
    host_network_deps(c, s, path, is_pod);

    let rp_path = child(path, "restartPolicy");
    match c.string(s, "restartPolicy", &rp_path) {
        "Always" | "OnFailure" | "Never" => {}
        "" => c.required(&rp_path, ""),
        other => c.not_supported(&rp_path, render::quote(other), &["Always", "OnFailure", "Never"]),
    }
    let dns_path = child(path, "dnsPolicy");
    let dns_policy = c.string(s, "dnsPolicy", &dns_path);
    match dns_policy {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => c.required(&dns_path, ""),
        other => c.not_supported(
            &dns_path,
            render::quote(other),
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        ),
    }
    let ns_path = child(path, "nodeSelector");
    let node_selector = c.string_map(s, "nodeSelector", &ns_path);
    labels(c, node_selector.as_ref(), &ns_path);
    dns_config(c, s, dns_policy, &child(path, "dnsConfig"));
    for (_, p, gate) in c.items(s, "readinessGates", &child(path, "readinessGates")) {
        let ct_path = child(&p, "conditionType");
        let ct = c.string(gate, "conditionType", &ct_path);
        c.each_invalid_str(&ct_path, ct, syntax::qualified_name(ct));
    }
    for (field, rule) in [
        ("serviceAccountName", syntax::name_is_dns_subdomain as fn(&str, bool) -> Vec<String>),
        ("nodeName", syntax::name_is_dns_subdomain),
    ] {
        let p = child(path, field);
        let v = c.string(s, field, &p);
        if !v.is_empty() {
            c.each_invalid_str(&p, v, rule(v, false));
        }
    }
    let ads_path = child(path, "activeDeadlineSeconds");
    if let Some(v) = c.i64(s, "activeDeadlineSeconds", &ads_path)
        && !(1..=i64::from(i32::MAX)).contains(&v)
    {
        c.invalid(&ads_path, v.to_string(), syntax::inclusive_range_error(1, i64::from(i32::MAX)));
    }
    for field in ["hostname", "subdomain"] {
        let p = child(path, field);
        let v = c.string(s, field, &p);
        if !v.is_empty() {
            c.each_invalid_str(&p, v, syntax::dns1123_label(v));
        }
    }
    tolerations(c, s, &child(path, "tolerations"));
    let pc_path = child(path, "priorityClassName");
    let pc = c.string(s, "priorityClassName", &pc_path);
    if !pc.is_empty() {
        c.each_invalid_str(&pc_path, pc, syntax::name_is_dns_subdomain(pc, false));
    }
}

/// `ValidateVolumes`: returns the names of the volumes that are valid, for volume mounts.
fn volumes(c: &mut Check, s: &Obj, path: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (_, vp, v) in c.items(s, "volumes", path) {
        let mark = c.len();
        volume_source(c, v, &vp);
        let name_path = child(&vp, "name");
        let name = c.string(v, "name", &name_path);
        if name.is_empty() {
            c.required(&name_path, "");
        } else {
            c.each_invalid_str(&name_path, name, syntax::dns1123_label(name));
        }
        if names.contains(name) {
            c.duplicate(&name_path, render::quote(name));
        }
        if c.len() == mark {
            names.insert(name.to_string());
        }
    }
    names
}

/// `validateVolumeSource`: exactly one source, and the required fields of the common ones.
fn volume_source(c: &mut Check, v: &Obj, vp: &str) {
    let mut count = 0;
    for (key, error_name) in VOLUME_SOURCES {
        let sp = child(vp, key);
        let Some(src) = c.obj(v, key, &sp) else { continue };
        if count > 0 {
            c.forbidden(&child(vp, error_name), "may not specify more than 1 volume type");
            continue;
        }
        count += 1;
        match *key {
            "hostPath" => {
                let p = child(&sp, "path");
                let hp = c.string(src, "path", &p);
                if hp.is_empty() {
                    c.required(&p, "");
                    continue;
                }
                no_backsteps(c, hp, &p);
                let tp = child(&sp, "type");
                if let Some(t) = c.str(src, "type", &tp) {
                    const TYPES: [&str; 8] = [
                        "",
                        "BlockDevice",
                        "CharDevice",
                        "Directory",
                        "DirectoryOrCreate",
                        "File",
                        "FileOrCreate",
                        "Socket",
                    ];
                    if !TYPES.contains(&t) {
                        c.not_supported(&tp, render::quote(t), &TYPES);
                    }
                }
            }
            "secret" | "configMap" => {
                let name_field = if *key == "secret" { "secretName" } else { "name" };
                let np = child(&sp, name_field);
                if c.string(src, name_field, &np).is_empty() {
                    c.required(&np, "");
                }
                let mp = child(&sp, "defaultMode");
                if let Some(m) = c.i32(src, "defaultMode", &mp)
                    && !(0..=0o777).contains(&m)
                {
                    c.invalid(&mp, m.to_string(), FILE_MODE_MSG);
                }
            }
            "persistentVolumeClaim" => {
                let np = child(&sp, "claimName");
                if c.string(src, "claimName", &np).is_empty() {
                    c.required(&np, "");
                }
            }
            _ => {}
        }
    }
    if count == 0 {
        c.required(vp, "must specify a volume type");
    }
}

/// `validatePathNoBacksteps`.
fn no_backsteps(c: &mut Check, p: &str, path: &str) {
    if p.split('/').any(|part| part == "..") {
        c.invalid_str(path, p, "must not contain '..'");
    }
}

/// `validateLocalDescendingPath`.
fn local_descending_path(c: &mut Check, p: &str, path: &str) {
    if p.starts_with('/') {
        c.invalid_str(path, p, "must be a relative path");
    }
    no_backsteps(c, p, path);
}

/// `validateContainers`: returns the container names, which init container names must not reuse.
fn containers(c: &mut Check, s: &Obj, volumes: &BTreeSet<String>, grace: Option<i64>, path: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    match c.arr(s, "containers", path) {
        Some([]) => {
            c.required(path, "");
            return names;
        }
        // Present with another type: already reported as such.
        None if Check::has(s, "containers") => return names,
        None => {
            c.required(path, "");
            return names;
        }
        Some(_) => {}
    }
    let items = c.items(s, "containers", path);
    for (_, cp, ctr) in &items {
        container_common(c, ctr, cp, volumes);
        let name = c.string(ctr, "name", &child(cp, "name"));
        if names.contains(name) {
            c.duplicate(&child(cp, "name"), render::quote(name));
        } else {
            names.insert(name.to_string());
        }
        lifecycle_and_probes(c, ctr, cp, grace);
        if Check::has(ctr, "restartPolicy") {
            c.forbidden(&child(cp, "restartPolicy"), "may not be set for non-init containers");
        }
    }
    host_port_conflicts(c, items.iter().map(|(_, _, ctr)| *ctr), path);
    names
}

/// `validateInitContainers`.
fn init_containers(
    c: &mut Check,
    s: &Obj,
    volumes: &BTreeSet<String>,
    grace: Option<i64>,
    path: &str,
    mut names: BTreeSet<String>,
) {
    for (_, ip, ctr) in c.items(s, "initContainers", path) {
        container_common(c, ctr, &ip, volumes);
        let rp_path = child(&ip, "restartPolicy");
        let restart_always = match c.str(ctr, "restartPolicy", &rp_path) {
            Some("Always") => true,
            Some(other) => {
                c.not_supported(&rp_path, render::quote(other), &["Always"]);
                false
            }
            None => false,
        };
        let name = c.string(ctr, "name", &child(&ip, "name"));
        if names.contains(name) {
            c.duplicate(&child(&ip, "name"), render::quote(name));
        } else if !name.is_empty() {
            names.insert(name.to_string());
        }
        // The server checks each init container's host ports on their own, under index 0.
        host_port_conflicts(c, std::iter::once(ctr), path);
        if restart_always {
            lifecycle_and_probes(c, ctr, &ip, grace);
        } else {
            for field in ["lifecycle", "livenessProbe", "readinessProbe", "startupProbe"] {
                if Check::has(ctr, field) {
                    c.forbidden(&child(&ip, field), "may not be set for init containers without restartPolicy=Always");
                }
            }
        }
    }
}

/// `validateContainerCommon`.
fn container_common(c: &mut Check, ctr: &Obj, cp: &str, volumes: &BTreeSet<String>) {
    let name_path = child(cp, "name");
    let name = c.string(ctr, "name", &name_path);
    if name.is_empty() {
        c.required(&name_path, "");
    } else {
        c.each_invalid_str(&name_path, name, syntax::dns1123_label(name));
    }
    let image_path = child(cp, "image");
    if c.string(ctr, "image", &image_path).is_empty() {
        c.required(&image_path, "");
    }
    let tmp_path = child(cp, "terminationMessagePolicy");
    match c.string(ctr, "terminationMessagePolicy", &tmp_path) {
        "File" | "FallbackToLogsOnError" => {}
        "" => c.required(&tmp_path, ""),
        other => c.not_supported(&tmp_path, render::quote(other), &["File", "FallbackToLogsOnError"]),
    }
    ports(c, ctr, &child(cp, "ports"));
    env(c, ctr, &child(cp, "env"));
    env_from(c, ctr, &child(cp, "envFrom"));
    volume_mounts(c, ctr, &child(cp, "volumeMounts"), volumes);
    let pp_path = child(cp, "imagePullPolicy");
    match c.string(ctr, "imagePullPolicy", &pp_path) {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => c.required(&pp_path, ""),
        other => c.not_supported(&pp_path, render::quote(other), &["Always", "IfNotPresent", "Never"]),
    }
}

/// `validateContainerPorts`.
fn ports(c: &mut Check, ctr: &Obj, path: &str) {
    let mut names = BTreeSet::new();
    for (_, pp, port) in c.items(ctr, "ports", path) {
        let name_path = child(&pp, "name");
        let name = c.string(port, "name", &name_path);
        if !name.is_empty() {
            let msgs = syntax::port_name(name);
            if !msgs.is_empty() {
                c.each_invalid_str(&name_path, name, msgs);
            } else if !names.insert(name.to_string()) {
                c.duplicate(&name_path, render::quote(name));
            }
        }
        let cport_path = child(&pp, "containerPort");
        match c.i32(port, "containerPort", &cport_path).unwrap_or(0) {
            0 => c.required(&cport_path, ""),
            n => {
                for m in syntax::port_num(n) {
                    c.invalid(&cport_path, n.to_string(), m);
                }
            }
        }
        let hport_path = child(&pp, "hostPort");
        let hport = c.i32(port, "hostPort", &hport_path).unwrap_or(0);
        if hport != 0 {
            for m in syntax::port_num(hport) {
                c.invalid(&hport_path, hport.to_string(), m);
            }
        }
        let proto_path = child(&pp, "protocol");
        match c.string(port, "protocol", &proto_path) {
            "TCP" | "UDP" | "SCTP" => {}
            "" => c.required(&proto_path, ""),
            other => c.not_supported(&proto_path, render::quote(other), &["SCTP", "TCP", "UDP"]),
        }
    }
}

/// `AccumulateUniqueHostPorts`: the same protocol, host IP and host port twice.
fn host_port_conflicts<'a>(c: &mut Check, containers: impl Iterator<Item = &'a Obj>, path: &str) {
    let mut seen = BTreeSet::new();
    for (ci, ctr) in containers.enumerate() {
        let ports = ctr.get("ports").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
        for (pi, port) in ports.iter().enumerate() {
            let host_port = port.get("hostPort").and_then(Value::as_i64).unwrap_or(0);
            if host_port == 0 {
                continue;
            }
            let proto = port.get("protocol").and_then(Value::as_str).unwrap_or_default();
            let ip = port.get("hostIP").and_then(Value::as_str).unwrap_or_default();
            let key = format!("{proto}/{ip}/{host_port}");
            if seen.contains(&key) {
                let p = child(&index(&child(&index(path, ci), "ports"), pi), "hostPort");
                c.duplicate(&p, render::quote(&key));
            } else {
                seen.insert(key);
            }
        }
    }
}

/// `ValidateEnv`.
fn env(c: &mut Check, ctr: &Obj, path: &str) {
    for (_, ep, ev) in c.items(ctr, "env", path) {
        let name_path = child(&ep, "name");
        let name = c.string(ev, "name", &name_path);
        if name.is_empty() {
            c.required(&name_path, "");
        } else {
            c.each_invalid_str(&name_path, name, syntax::env_var_name(name));
        }
        value_from(c, ev, &ep);
    }
}

/// Field paths an env var may read through the downward API.
const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

/// Every field path the downward API knows for pods (`ConvertDownwardAPIFieldLabel`).
const DOWNWARD_FIELD_PATHS: &[&str] = &[
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.serviceAccountName",
    "spec.schedulerName",
    "status.phase",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

const RESOURCE_FIELD_PATHS: &[&str] = &[
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

/// `validateEnvVarValueFrom` for the env var `ev` at `ep`.
fn value_from(c: &mut Check, ev: &Obj, ep: &str) {
    let path = &child(ep, "valueFrom");
    let Some(vf) = c.obj(ev, "valueFrom", path) else { return };
    let mut sources = 0;
    if let Some(fr) = c.obj(vf, "fieldRef", &child(path, "fieldRef")) {
        sources += 1;
        field_selector(c, fr, &child(path, "fieldRef"));
    }
    if let Some(rf) = c.obj(vf, "resourceFieldRef", &child(path, "resourceFieldRef")) {
        sources += 1;
        let rp = child(&child(path, "resourceFieldRef"), "resource");
        let resource = c.string(rf, "resource", &rp);
        if resource.is_empty() {
            c.required(&rp, "");
        } else if !RESOURCE_FIELD_PATHS.contains(&resource)
            && !resource.starts_with("requests.hugepages-")
            && !resource.starts_with("limits.hugepages-")
        {
            c.not_supported(&rp, render::quote(resource), RESOURCE_FIELD_PATHS);
        }
    }
    for key in ["configMapKeyRef", "secretKeyRef"] {
        let kp = child(path, key);
        if let Some(sel) = c.obj(vf, key, &kp) {
            sources += 1;
            let np = child(&kp, "name");
            let name = c.string(sel, "name", &np);
            c.each_invalid_str(&np, name, syntax::name_is_dns_subdomain(name, false));
            let key_path = child(&kp, "key");
            let k = c.string(sel, "key", &key_path);
            if k.is_empty() {
                c.required(&key_path, "");
            } else {
                c.each_invalid_str(&key_path, k, syntax::config_map_key(k));
            }
        }
    }
    let value = c.string(ev, "value", &child(ep, "value"));
    if sources == 0 {
        c.invalid_str(
            path,
            "",
            "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
        );
    } else if !value.is_empty() {
        c.invalid_str(path, "", "may not be specified when `value` is not empty");
    } else if sources > 1 {
        c.invalid_str(path, "", "may not have more than one field specified at a time");
    }
}

/// `metadata.annotations['key']` split into path and subscript (`SplitMaybeSubscriptedPath`).
fn split_subscript(p: &str) -> Option<(&str, &str)> {
    let inner = p.strip_suffix("']")?;
    let (path, sub) = inner.split_once("['")?;
    (!path.is_empty()).then_some((path, sub))
}

/// `validateObjectFieldSelector` for env vars.
fn field_selector(c: &mut Check, fr: &Obj, path: &str) {
    let av_path = child(path, "apiVersion");
    let api_version = c.string(fr, "apiVersion", &av_path);
    if api_version.is_empty() {
        c.required(&av_path, "");
        return;
    }
    let fp_path = child(path, "fieldPath");
    let field_path = c.string(fr, "fieldPath", &fp_path);
    if field_path.is_empty() {
        c.required(&fp_path, "");
        return;
    }
    let conversion_error = if api_version != "v1" {
        Some(format!("unsupported pod version: {api_version}"))
    } else if let Some((p, _)) = split_subscript(field_path) {
        (!matches!(p, "metadata.annotations" | "metadata.labels"))
            .then(|| format!("field label does not support subscript: {field_path}"))
    } else if !DOWNWARD_FIELD_PATHS.contains(&field_path) && field_path != "spec.host" {
        Some(format!("field label not supported: {field_path}"))
    } else {
        None
    };
    if let Some(e) = conversion_error {
        c.invalid_str(&fp_path, field_path, format!("error converting fieldPath: {e}"));
        return;
    }
    let internal = if field_path == "spec.host" { "spec.nodeName" } else { field_path };
    match split_subscript(internal) {
        Some(("metadata.annotations", sub)) => {
            let sub = sub.to_lowercase();
            c.each_invalid_str(path, &sub, syntax::qualified_name(&sub));
        }
        Some(("metadata.labels", sub)) => c.each_invalid_str(path, sub, syntax::qualified_name(sub)),
        Some((p, _)) => c.invalid_str(path, p, "does not support subscript"),
        None if !ENV_FIELD_PATHS.contains(&internal) => {
            c.not_supported(&fp_path, render::quote(internal), ENV_FIELD_PATHS)
        }
        None => {}
    }
}

/// `ValidateEnvFrom`.
fn env_from(c: &mut Check, ctr: &Obj, path: &str) {
    for (_, ep, ev) in c.items(ctr, "envFrom", path) {
        let prefix_path = child(&ep, "prefix");
        let prefix = c.string(ev, "prefix", &prefix_path);
        if !prefix.is_empty() {
            c.each_invalid_str(&prefix_path, prefix, syntax::env_var_name(prefix));
        }
        let mut sources = 0;
        for key in ["configMapRef", "secretRef"] {
            let kp = child(&ep, key);
            if let Some(r) = c.obj(ev, key, &kp) {
                sources += 1;
                let np = child(&kp, "name");
                let name = c.string(r, "name", &np);
                if name.is_empty() {
                    c.required(&np, "");
                } else {
                    c.each_invalid_str(&np, name, syntax::name_is_dns_subdomain(name, true));
                }
            }
        }
        if sources == 0 {
            c.invalid_str(path, "", "must specify one of: `configMapRef` or `secretRef`");
        } else if sources > 1 {
            c.invalid_str(path, "", "may not have more than one field specified at a time");
        }
    }
}

/// `ValidateVolumeMounts` (without volume devices and mount propagation).
fn volume_mounts(c: &mut Check, ctr: &Obj, path: &str, volumes: &BTreeSet<String>) {
    let mut mount_points = BTreeSet::new();
    for (_, mp, m) in c.items(ctr, "volumeMounts", path) {
        let name_path = child(&mp, "name");
        let name = c.string(m, "name", &name_path);
        if name.is_empty() {
            c.required(&name_path, "");
        }
        if !volumes.contains(name) {
            c.not_found(&name_path, name);
        }
        let mpath = child(&mp, "mountPath");
        let mount_path = c.string(m, "mountPath", &mpath);
        if mount_path.is_empty() {
            c.required(&mpath, "");
        }
        if !mount_points.insert(mount_path.to_string()) {
            c.invalid_str(&mpath, mount_path, "must be unique");
        }
        let sub_path = c.string(m, "subPath", &child(&mp, "subPath"));
        if !sub_path.is_empty() {
            local_descending_path(c, sub_path, &child(path, "subPath"));
        }
        let sub_expr_path = child(&mp, "subPathExpr");
        let sub_expr = c.string(m, "subPathExpr", &sub_expr_path);
        if !sub_expr.is_empty() {
            if !sub_path.is_empty() {
                c.invalid_str(&sub_expr_path, sub_expr, "subPathExpr and subPath are mutually exclusive");
            }
            local_descending_path(c, sub_expr, &child(path, "subPathExpr"));
        }
    }
}

/// Lifecycle hooks and the three probes of a regular (or restartable init) container.
fn lifecycle_and_probes(c: &mut Check, ctr: &Obj, cp: &str, grace: Option<i64>) {
    let lp = child(cp, "lifecycle");
    if let Some(l) = c.obj(ctr, "lifecycle", &lp) {
        for hook in ["postStart", "preStop"] {
            let hp = child(&lp, hook);
            if let Some(h) = c.obj(l, hook, &hp) {
                handler(c, h, &hp, grace, LIFECYCLE_HANDLERS);
            }
        }
    }
    for (field, kind) in PROBES {
        probe(c, ctr, field, kind, &child(cp, field), grace);
    }
}

/// `validateLivenessProbe`, `validateReadinessProbe`, `validateStartupProbe`.
fn probe(c: &mut Check, ctr: &Obj, field: &str, kind: ProbeKind, pp: &str, grace: Option<i64>) {
    let Some(p) = c.obj(ctr, field, pp) else { return };
    handler(c, p, pp, grace, PROBE_HANDLERS);
    for f in ["initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"] {
        let fp = child(pp, f);
        if let Some(v) = c.i32(p, f, &fp) {
            c.nonnegative(&fp, v);
        }
    }
    let tp = child(pp, "terminationGracePeriodSeconds");
    let probe_grace = c.i64(p, "terminationGracePeriodSeconds", &tp);
    if let Some(v) = probe_grace
        && v <= 0
    {
        c.invalid(&tp, v.to_string(), "must be greater than 0");
    }
    match kind {
        ProbeKind::Liveness | ProbeKind::Startup => {
            let sp = child(pp, "successThreshold");
            let v = c.i32(p, "successThreshold", &sp).unwrap_or(0);
            if v != 1 {
                c.invalid(&sp, v.to_string(), "must be 1");
            }
        }
        ProbeKind::Readiness => {
            if let Some(v) = probe_grace {
                c.invalid(&tp, v.to_string(), "must not be set for readinessProbes");
            }
        }
    }
}

/// `validateHandler`: exactly one handler, each valid.
fn handler(c: &mut Check, h: &Obj, path: &str, grace: Option<i64>, allowed: &[&str]) {
    let mut count = 0;
    for key in allowed {
        let kp = child(path, key);
        let Some(o) = c.obj(h, key, &kp) else { continue };
        if count > 0 {
            c.forbidden(&kp, "may not specify more than 1 handler type");
            continue;
        }
        count += 1;
        match *key {
            "exec" => {
                let cmd_path = child(&kp, "command");
                if c.arr(o, "command", &cmd_path).is_none_or(<[Value]>::is_empty) {
                    c.required(&cmd_path, "");
                }
            }
            "httpGet" => {
                let p = child(&kp, "path");
                if c.string(o, "path", &p).is_empty() {
                    c.required(&p, "");
                }
                port_num_or_name(c, o, &child(&kp, "port"));
                let sp = child(&kp, "scheme");
                let scheme = c.string(o, "scheme", &sp);
                if !matches!(scheme, "HTTP" | "HTTPS") {
                    c.not_supported(&sp, render::quote(scheme), &["HTTP", "HTTPS"]);
                }
                let headers_path = child(&kp, "httpHeaders");
                for (_, hp, header) in c.items(o, "httpHeaders", &headers_path) {
                    let name = c.string(header, "name", &child(&hp, "name"));
                    c.each_invalid_str(&headers_path, name, syntax::http_header_name(name));
                }
            }
            "tcpSocket" => port_num_or_name(c, o, &child(&kp, "port")),
            "grpc" => {
                let pp = child(&kp, "port");
                let port = c.i32(o, "port", &pp).unwrap_or(0);
                for m in syntax::port_num(port) {
                    c.invalid(&pp, port.to_string(), m);
                }
            }
            "sleep" => {
                let sp = child(&kp, "seconds");
                let secs = c.i64(o, "seconds", &sp).unwrap_or(0);
                if let Some(g) = grace
                    && (secs <= 0 || secs > g)
                {
                    c.invalid(
                        &kp,
                        secs.to_string(),
                        format!("must be greater than 0 and less than terminationGracePeriodSeconds ({g})"),
                    );
                }
            }
            _ => {}
        }
    }
    if count == 0 {
        c.required(path, "must specify a handler type");
    }
}

/// `ValidatePortNumOrName` for `port` in `o`.
fn port_num_or_name(c: &mut Check, o: &Obj, path: &str) {
    match c.int_or_string(o, "port", path).unwrap_or(IntOrStr::Int(0)) {
        IntOrStr::Int(n) => {
            for m in syntax::port_num(n) {
                c.invalid(path, n.to_string(), m);
            }
        }
        IntOrStr::Str(s) => {
            let msgs = syntax::port_name(&s);
            c.each_invalid_str(path, &s, msgs);
        }
    }
}

/// `validatePodHostNetworkDeps`: with host networking, host ports equal container ports.
fn host_network_deps(c: &mut Check, s: &Obj, path: &str, is_pod: bool) {
    if c.bool(s, "hostNetwork", &child(path, "hostNetwork")) != Some(true) {
        return;
    }
    for (_, cp, ctr) in c.items(s, "containers", &child(path, "containers")) {
        for (_, pp, port) in c.items(ctr, "ports", &child(&cp, "ports")) {
            let hp = c.i32(port, "hostPort", &child(&pp, "hostPort")).unwrap_or(0);
            let container_port = c.i32(port, "containerPort", &child(&pp, "containerPort")).unwrap_or(0);
            if (is_pod || hp != 0) && hp != container_port {
                c.invalid(
                    &child(&pp, "hostPort"),
                    hp.to_string(),
                    "must match `containerPort` when `hostNetwork` is true",
                );
            }
        }
    }
}

/// `validatePodDNSConfig`.
fn dns_config(c: &mut Check, s: &Obj, dns_policy: &str, path: &str) {
    let dc = c.obj(s, "dnsConfig", path);
    let ns_path = child(path, "nameservers");
    let nameservers = dc.and_then(|d| c.string_list(d, "nameservers", &ns_path)).unwrap_or_default();
    if dns_policy == "None" {
        if dc.is_none() {
            c.required(path, "must provide `dnsConfig` when `dnsPolicy` is None");
            return;
        }
        if nameservers.is_empty() {
            c.required(&ns_path, "must provide at least one DNS nameserver when `dnsPolicy` is None");
            return;
        }
    }
    let Some(dc) = dc else { return };
    if nameservers.len() > 3 {
        c.invalid(&ns_path, render::string_slice(Some(&nameservers)), "must not have more than 3 nameservers");
    }
    for (i, ns) in nameservers.iter().enumerate() {
        if ns.parse::<IpAddr>().is_err() {
            c.invalid_str(&index(&ns_path, i), ns, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
        }
    }
    let searches_path = child(path, "searches");
    let searches = c.string_list(dc, "searches", &searches_path).unwrap_or_default();
    if searches.len() > 32 {
        c.invalid(&searches_path, render::string_slice(Some(&searches)), "must not have more than 32 search paths");
    }
    if searches.join(" ").len() > 2048 {
        c.invalid(
            &searches_path,
            render::string_slice(Some(&searches)),
            "must not have more than 2048 characters (including spaces) in the search list",
        );
    }
    for (i, search) in searches.iter().enumerate() {
        let search = search.strip_suffix('.').unwrap_or(search);
        c.each_invalid_str(&index(&searches_path, i), search, syntax::dns1123_subdomain(search));
    }
    for (_, op, option) in c.items(dc, "options", &child(path, "options")) {
        if c.string(option, "name", &child(&op, "name")).is_empty() {
            c.required(&op, "must not be empty");
        }
    }
}

/// `ValidateTolerations`.
fn tolerations(c: &mut Check, s: &Obj, path: &str) {
    for (_, tp, t) in c.items(s, "tolerations", path) {
        let key_path = child(&tp, "key");
        let key = c.string(t, "key", &key_path);
        if !key.is_empty() {
            c.each_invalid_str(&key_path, key, syntax::qualified_name(key));
        }
        let op_path = child(&tp, "operator");
        let operator = c.string(t, "operator", &op_path);
        if key.is_empty() && operator != "Exists" {
            c.invalid_str(
                &op_path,
                operator,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            );
        }
        let effect_path = child(&tp, "effect");
        let effect = c.string(t, "effect", &effect_path);
        if Check::has(t, "tolerationSeconds") && effect != "NoExecute" {
            c.invalid_str(&effect_path, effect, "effect must be 'NoExecute' when `tolerationSeconds` is set");
        }
        let value = c.string(t, "value", &child(&tp, "value"));
        match operator {
            "Equal" | "" => {
                let errs = syntax::label_value(value);
                if !errs.is_empty() {
                    c.invalid_str(&op_path, value, errs.join(";"));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    let rendered = format!(
                        "core.Toleration{{Key:{}, Operator:\"Exists\", Value:{}, Effect:{}, TolerationSeconds:(*int64)(nil)}}",
                        render::quote(key),
                        render::quote(value),
                        render::quote(effect)
                    );
                    c.invalid(&op_path, rendered, "value must be empty when `operator` is 'Exists'");
                }
            }
            other => c.not_supported(&op_path, render::quote(other), &["Equal", "Exists"]),
        }
        if !effect.is_empty() && !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
            c.not_supported(&effect_path, render::quote(effect), &["NoSchedule", "PreferNoSchedule", "NoExecute"]);
        }
    }
}

/// The spec fields a pod update may change, as the server's message lists them.
const POD_UPDATABLE: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// The update rules of `ValidatePodUpdate`: only images, the active deadline, added tolerations and
/// removed scheduling gates may change. The message names the changed spec fields where the real
/// server prints a Go structure diff.
pub(super) fn pod_update(c: &mut Check, new: &Obj, old: &Obj) {
    let empty = Map::new();
    let new_spec = new.get("spec").and_then(Value::as_object).unwrap_or(&empty);
    let old_spec = old.get("spec").and_then(Value::as_object).unwrap_or(&empty);
    for list in ["containers", "initContainers"] {
        let path = child("spec", list);
        let new_list = new_spec.get(list).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
        let old_list = old_spec.get(list).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
        if new_list.len() != old_list.len() {
            c.forbidden(&path, "pod updates may not add or remove containers");
            return;
        }
        for (i, ctr) in new_list.iter().enumerate() {
            if ctr.get("image").and_then(Value::as_str).is_none_or(str::is_empty) {
                c.required(&child(&index(&path, i), "image"), "");
            }
        }
    }
    let ads = "spec.activeDeadlineSeconds";
    let new_ads = new_spec.get("activeDeadlineSeconds").and_then(Value::as_i64);
    let old_ads = old_spec.get("activeDeadlineSeconds").and_then(Value::as_i64);
    match (new_ads, old_ads) {
        (Some(n), _) if !(0..=i64::from(i32::MAX)).contains(&n) => {
            c.invalid(ads, n.to_string(), syntax::inclusive_range_error(0, i64::from(i32::MAX)));
            return;
        }
        (Some(n), Some(o)) if o < n => {
            c.invalid(ads, n.to_string(), "must be less than or equal to previous value");
            return;
        }
        (None, Some(_)) => c.invalid(ads, NIL.to_string(), "must not update from a positive integer to nil value"),
        _ => {}
    }
    let new_tols = new_spec.get("tolerations").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    let old_tols = old_spec.get("tolerations").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    let without_seconds = |t: &Value| {
        let mut t = t.clone();
        if let Some(o) = t.as_object_mut() {
            o.remove("tolerationSeconds");
        }
        normalized(&t)
    };
    let kept = old_tols.iter().all(|o| new_tols.iter().any(|n| without_seconds(n) == without_seconds(o)));
    if !kept {
        c.forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds");
    }
    let old_gates: BTreeSet<String> = old_spec
        .get("schedulingGates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|g| g.get("name").and_then(Value::as_str).map(str::to_string))
        .collect();
    if let Some(gates) = new_spec.get("schedulingGates").and_then(Value::as_array) {
        for (i, g) in gates.iter().enumerate() {
            let name = g.get("name").and_then(Value::as_str).unwrap_or_default();
            if !old_gates.contains(name) {
                c.forbidden(
                    &child(&index("spec.schedulingGates", i), "name"),
                    format!("only deletion is allowed, but found new scheduling gate '{name}'"),
                );
            }
        }
    }
    // Put back what may change, then compare the rest.
    let mut munged = new_spec.clone();
    for list in ["containers", "initContainers"] {
        if let (Some(Value::Array(n)), Some(Value::Array(o))) = (munged.get_mut(list), old_spec.get(list)) {
            for (nc, oc) in n.iter_mut().zip(o) {
                if let (Some(nc), Some(image)) = (nc.as_object_mut(), oc.get("image")) {
                    nc.insert("image".into(), image.clone());
                }
            }
        }
    }
    for field in ["activeDeadlineSeconds", "tolerations", "schedulingGates"] {
        match old_spec.get(field) {
            Some(v) => munged.insert(field.into(), v.clone()),
            None => munged.remove(field),
        };
    }
    let old_grace = old_spec.get("terminationGracePeriodSeconds").and_then(Value::as_i64);
    let new_grace = new_spec.get("terminationGracePeriodSeconds").and_then(Value::as_i64);
    if old_grace.is_some_and(|g| g < 0) && new_grace == Some(1) {
        munged.insert("terminationGracePeriodSeconds".into(), Value::from(old_grace));
    }
    let changed: Vec<&String> = munged
        .keys()
        .chain(old_spec.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| {
            normalized(munged.get(*k).unwrap_or(&Value::Null)) != normalized(old_spec.get(*k).unwrap_or(&Value::Null))
        })
        .collect();
    if !changed.is_empty() {
        let fields: Vec<String> = changed.iter().map(|k| format!("spec.{k}")).collect();
        c.forbidden(
            "spec",
            format!("pod updates may not change fields other than {POD_UPDATABLE}\nchanged: {}", fields.join(", ")),
        );
    }
}
