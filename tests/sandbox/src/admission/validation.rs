//! Validation: the field errors the API server answers a create or update with (422 Invalid).
//!
//! Follows Kubernetes 1.32: pkg/apis/apps/validation (Deployment, ReplicaSet, StatefulSet,
//! DaemonSet), pkg/apis/batch/validation (Job, CronJob), pkg/apis/core/validation (Pod, Namespace,
//! Event, object metadata) and the registry strategies' update rules (selectors are immutable in
//! apps/v1). Checks run in the server's order so the list reads like the real message.
//!
//! On update the server validates the new object against the stored one, and for the status
//! subresource validates the status. This module is called for both without knowing which, so on
//! every update it checks the spec and metadata rules and the status rules (status counts that are
//! negative or exceed `status.replicas`, a decremented collision count, a namespace phase that does
//! not match its deletion). A status update keeps the stored spec, so the spec rules pass there.
//!
//! The server-owned metadata (`resourceVersion`, `generation`, `creationTimestamp`) is not checked:
//! the server sets it before validating, as the real one does.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::pod;
use super::reader::{Check, IntOrStr, Obj, Selector, child, index};
use super::render;
use super::syntax::{self, IMMUTABLE};
use crate::error::FieldError;
use crate::kinds::Kind;

/// Every violation in `obj` (a `kind` being created, or updated from the stored `old`), in the order
/// the real server reports them; empty when the object is valid. Apply defaults first, as the server
/// does. A field of the wrong JSON type is reported as an invalid value ("must be of type int32").
pub fn validate(kind: Kind, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut c = Check::default();
    let Some(root) = obj.as_object() else {
        c.invalid("", render::json(obj), "must be of type object");
        return c.finish();
    };
    let old = old.and_then(Value::as_object);
    match old {
        None => object_meta(&mut c, root, kind),
        Some(old) => object_meta_update(&mut c, root, old),
    }
    let empty = Map::new();
    let spec = c.obj(root, "spec", "spec").unwrap_or(&empty);
    match kind {
        Kind::Deployment => {
            deployment_spec(&mut c, spec);
            if let Some(old) = old {
                selector_immutable(&mut c, root, old);
                deployment_status(&mut c, root, old);
            }
        }
        Kind::ReplicaSet => {
            replica_set_spec(&mut c, spec);
            if let Some(old) = old {
                selector_immutable(&mut c, root, old);
                replica_set_status(&mut c, root);
            }
        }
        Kind::DaemonSet => {
            daemon_set_spec(&mut c, spec);
            if let Some(old) = old {
                selector_immutable(&mut c, root, old);
                daemon_set_status(&mut c, root, old);
            }
        }
        Kind::StatefulSet => {
            stateful_set_spec(&mut c, spec);
            if let Some(old) = old {
                stateful_set_update(&mut c, root, old);
                stateful_set_status(&mut c, root, old);
            }
        }
        Kind::Job => {
            job_spec(&mut c, spec, "spec");
            if let Some(old) = old {
                job_update(&mut c, root, old);
                counts_nonnegative(&mut c, root, &["active", "succeeded", "failed"]);
            }
        }
        Kind::CronJob => cron_job(&mut c, root, spec),
        Kind::Pod => {
            pod::pod(&mut c, root, old.is_none());
            if let Some(old) = old {
                pod::pod_update(&mut c, root, old);
            }
        }
        Kind::Namespace => {
            if old.is_none() {
                namespace_finalizers(&mut c, spec);
            } else {
                namespace_status(&mut c, root);
            }
        }
        Kind::Event => event(&mut c, root),
    }
    c.finish()
}

/// The name rule of `kind` (`ValidateDeploymentName`, `ValidatePodName`, …).
fn name_rule(kind: Kind) -> fn(&str, bool) -> Vec<String> {
    match kind {
        Kind::Namespace | Kind::StatefulSet => syntax::name_is_dns_label,
        _ => syntax::name_is_dns_subdomain,
    }
}

/// `ValidateLabels`: each key a qualified name, each value a label value.
pub(super) fn labels(c: &mut Check, m: Option<&BTreeMap<String, String>>, path: &str) {
    for (k, v) in m.into_iter().flatten() {
        c.each_invalid_str(path, k, syntax::qualified_name(k));
        c.each_invalid_str(path, v, syntax::label_value(v));
    }
}

/// `ValidateAnnotations`: keys are qualified names in any case, and all of them take at most 256 KiB.
pub(super) fn annotations(c: &mut Check, m: Option<&BTreeMap<String, String>>, path: &str) {
    let Some(m) = m else { return };
    for k in m.keys() {
        c.each_invalid_str(path, k, syntax::qualified_name(&k.to_lowercase()));
    }
    let size: usize = m.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > 256 * 1024 {
        c.too_long(path, 256 * 1024);
    }
}

/// `ValidateObjectMeta` (with the core finalizer check) on create.
fn object_meta(c: &mut Check, root: &Obj, kind: Kind) {
    let empty = Map::new();
    let meta = c.obj(root, "metadata", "metadata").unwrap_or(&empty);
    let rule = name_rule(kind);
    let generate_name = c.string(meta, "generateName", "metadata.generateName");
    if !generate_name.is_empty() {
        c.each_invalid_str("metadata.generateName", generate_name, rule(generate_name, true));
    }
    let name = c.string(meta, "name", "metadata.name");
    if name.is_empty() {
        c.required("metadata.name", "name or generateName is required");
    } else {
        c.each_invalid_str("metadata.name", name, rule(name, false));
    }
    let namespace = c.string(meta, "namespace", "metadata.namespace");
    if kind.info().namespaced {
        if namespace.is_empty() {
            c.required("metadata.namespace", "");
        } else {
            c.each_invalid_str("metadata.namespace", namespace, syntax::name_is_dns_label(namespace, false));
        }
    } else if !namespace.is_empty() {
        c.forbidden("metadata.namespace", "not allowed on this type");
    }
    if let Some(g) = c.i64(meta, "generation", "metadata.generation") {
        c.nonnegative("metadata.generation", g);
    }
    meta_common(c, meta);
    let finalizers = c.string_list(meta, "finalizers", "metadata.finalizers").unwrap_or_default();
    for f in &finalizers {
        c.each_invalid_str("metadata.finalizers", f, syntax::qualified_name(f));
    }
    if finalizers.iter().any(|f| f == "orphan") && finalizers.iter().any(|f| f == "foregroundDeletion") {
        c.invalid(
            "metadata.finalizers",
            render::string_slice(Some(&finalizers)),
            "finalizer orphan and foregroundDeletion cannot be both set",
        );
    }
    kube_finalizer_names(c, &finalizers);
}

/// Labels, annotations and owner references, checked on create and update alike.
fn meta_common(c: &mut Check, meta: &Obj) {
    let l = c.string_map(meta, "labels", "metadata.labels");
    labels(c, l.as_ref(), "metadata.labels");
    let a = c.string_map(meta, "annotations", "metadata.annotations");
    annotations(c, a.as_ref(), "metadata.annotations");
    owner_references(c, meta);
}

/// `validateKubeFinalizerName`: a finalizer without a `/` must be one Kubernetes defines.
fn kube_finalizer_names(c: &mut Check, finalizers: &[String]) {
    for (i, f) in finalizers.iter().enumerate() {
        if !f.contains('/') && !matches!(f.as_str(), "kubernetes" | "orphan" | "foregroundDeletion") {
            c.invalid_str(
                &index("metadata.finalizers", i),
                f,
                "name is neither a standard finalizer name nor is it fully qualified",
            );
        }
    }
}

/// `ValidateOwnerReferences`.
fn owner_references(c: &mut Check, meta: &Obj) {
    let path = "metadata.ownerReferences";
    let mut controller: Option<String> = None;
    for (_, rp, r) in c.items(meta, "ownerReferences", path) {
        let api_version = c.string(r, "apiVersion", &child(&rp, "apiVersion"));
        let kind = c.string(r, "kind", &child(&rp, "kind"));
        let name = c.string(r, "name", &child(&rp, "name"));
        let uid = c.string(r, "uid", &child(&rp, "uid"));
        // schema.ParseGroupVersion: "v1", "apps/v1"; anything else has no version.
        let (group, version) = match api_version.split('/').collect::<Vec<_>>().as_slice() {
            [v] => ("", *v),
            [g, v] => (*g, *v),
            _ => ("", ""),
        };
        if version.is_empty() {
            c.invalid_str(&child(path, "apiVersion"), api_version, "version must not be empty");
        }
        if kind.is_empty() {
            c.invalid_str(&child(path, "kind"), kind, "kind must not be empty");
        }
        if name.is_empty() {
            c.invalid_str(&child(path, "name"), name, "name must not be empty");
        }
        if uid.is_empty() {
            c.invalid_str(&child(path, "uid"), uid, "uid must not be empty");
        }
        if group.is_empty() && version == "v1" && kind == "Event" {
            c.invalid(
                path,
                render::json(&Value::Object(r.clone())),
                "/v1, Kind=Event is disallowed from being an owner",
            );
        }
        if c.bool(r, "controller", &child(&rp, "controller")) == Some(true) {
            let current = format!("{kind}/{name}");
            match &controller {
                Some(first) => {
                    let all = meta.get("ownerReferences").map(render::json).unwrap_or_default();
                    c.invalid(
                        path,
                        all,
                        format!(
                            "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"
                        ),
                    );
                }
                None => controller = Some(current),
            }
        }
    }
}

/// `ValidateObjectMetaUpdate`: name, namespace and uid cannot change, finalizers cannot be added
/// during deletion, and labels, annotations and owner references stay valid.
fn object_meta_update(c: &mut Check, root: &Obj, old: &Obj) {
    let empty = Map::new();
    let meta = c.obj(root, "metadata", "metadata").unwrap_or(&empty);
    let old_meta = old.get("metadata").and_then(Value::as_object).unwrap_or(&empty);
    let old_str = |k: &str| old_meta.get(k).and_then(Value::as_str).unwrap_or_default();
    let finalizers = c.string_list(meta, "finalizers", "metadata.finalizers").unwrap_or_default();
    if Check::has(old_meta, "deletionTimestamp") {
        let old_finalizers: BTreeSet<&str> = old_meta
            .get("finalizers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let extra: BTreeSet<String> =
            finalizers.iter().filter(|f| !old_finalizers.contains(f.as_str())).cloned().collect();
        if !extra.is_empty() {
            let extra: Vec<String> = extra.into_iter().collect();
            c.forbidden(
                "metadata.finalizers",
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers {}",
                    render::string_slice(Some(&extra))
                ),
            );
        }
    }
    for field in ["name", "namespace"] {
        let path = child("metadata", field);
        let new = c.string(meta, field, &path);
        if new != old_str(field) {
            c.invalid_str(&path, new, IMMUTABLE);
        }
    }
    // The server fills in a missing uid from the stored object before validating.
    let uid = c.string(meta, "uid", "metadata.uid");
    if !uid.is_empty() && uid != old_str("uid") {
        c.invalid_str("metadata.uid", uid, IMMUTABLE);
    }
    meta_common(c, meta);
    kube_finalizer_names(c, &finalizers);
}

/// The selector a workload's template is checked against.
enum SelectorOutcome {
    /// No selector: it selects nothing, so no template matches (`labels.Nothing()`).
    Nothing,
    /// A valid selector.
    Valid(Selector),
    /// A selector that does not convert (`LabelSelectorAsSelector` fails).
    Invalid(Selector),
}

/// `ValidateLabelSelector` (strict: no invalid label values).
fn label_selector(c: &mut Check, sel: &Selector, path: &str) {
    labels(c, sel.match_labels.as_ref(), &child(path, "matchLabels"));
    let exprs_path = child(path, "matchExpressions");
    for (i, r) in sel.match_expressions.iter().flatten().enumerate() {
        let rp = index(&exprs_path, i);
        let values = r.values.as_deref().unwrap_or(&[]);
        match r.operator.as_str() {
            "In" | "NotIn" => {
                if values.is_empty() {
                    c.required(&child(&rp, "values"), "must be specified when `operator` is 'In' or 'NotIn'");
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    c.forbidden(
                        &child(&rp, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    );
                }
            }
            other => c.invalid_str(&child(&rp, "operator"), other, "not a valid selector operator"),
        }
        c.each_invalid_str(&child(&rp, "key"), &r.key, syntax::qualified_name(&r.key));
        for (vi, v) in values.iter().enumerate() {
            c.each_invalid_str(&index(&child(&rp, "values"), vi), v, syntax::label_value(v));
        }
    }
}

/// The selector checks of Deployments, ReplicaSets and StatefulSets: required, valid, not empty.
fn required_selector(c: &mut Check, spec: &Obj, what: &str) -> SelectorOutcome {
    let present = Check::has(spec, "selector");
    let Some(sel) = c.selector(spec, "selector", "spec.selector") else {
        if !present {
            c.required("spec.selector", "");
        }
        return SelectorOutcome::Nothing;
    };
    let mark = c.len();
    label_selector(c, &sel, "spec.selector");
    let invalid = c.len() > mark;
    if sel.is_empty() {
        c.invalid("spec.selector", render::label_selector(&sel), format!("empty selector is invalid for {what}"));
    }
    if invalid { SelectorOutcome::Invalid(sel) } else { SelectorOutcome::Valid(sel) }
}

/// The template's labels, read without reporting (the template check reports type problems).
fn template_labels(spec: &Obj) -> Option<BTreeMap<String, String>> {
    let labels = spec.get("template")?.get("metadata")?.get("labels")?.as_object()?;
    Some(labels.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
}

/// "`selector` does not match template `labels`" when `sel` does not select the template.
fn template_match(c: &mut Check, spec: &Obj, sel: Option<&Selector>) {
    let labels = template_labels(spec);
    let matches = match sel {
        None => false,
        Some(s) => s.is_empty() || s.matches(labels.as_ref()),
    };
    if !matches {
        c.invalid(
            "spec.template.metadata.labels",
            render::string_map(labels.as_ref()),
            "`selector` does not match template `labels`",
        );
    }
}

/// `ValidatePodTemplateSpecForReplicaSet`, used by Deployments and ReplicaSets alike.
fn replica_set_template(c: &mut Check, spec: &Obj, sel: Option<&Selector>) {
    template_match(c, spec, sel);
    let empty = Map::new();
    let template = c.obj(spec, "template", "spec.template").unwrap_or(&empty);
    pod::template_spec(c, template, "spec.template");
    always_restarts(c, template, "ReplicaSet");
}

/// The restart policy of a long-running workload's pods must be `Always`, with no active deadline.
fn always_restarts(c: &mut Check, template: &Obj, what: &str) {
    let ps = template.get("spec").and_then(Value::as_object);
    let policy = ps.and_then(|s| s.get("restartPolicy")).and_then(Value::as_str).unwrap_or_default();
    if policy != "Always" {
        c.not_supported("spec.template.spec.restartPolicy", render::quote(policy), &["Always"]);
    }
    if ps.is_some_and(|s| Check::has(s, "activeDeadlineSeconds")) {
        c.forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            format!("activeDeadlineSeconds in {what} is not Supported"),
        );
    }
}

/// `ValidateDeploymentSpec`.
fn deployment_spec(c: &mut Check, spec: &Obj) {
    if let Some(r) = c.i32(spec, "replicas", "spec.replicas") {
        c.nonnegative("spec.replicas", r);
    }
    match required_selector(c, spec, "deployment") {
        SelectorOutcome::Invalid(sel) => {
            c.invalid("spec.selector", render::label_selector(&sel), "invalid label selector");
        }
        SelectorOutcome::Valid(sel) => replica_set_template(c, spec, Some(&sel)),
        SelectorOutcome::Nothing => replica_set_template(c, spec, None),
    }
    deployment_strategy(c, spec);
    let min_ready = c.i32(spec, "minReadySeconds", "spec.minReadySeconds").unwrap_or(0);
    c.nonnegative("spec.minReadySeconds", min_ready);
    if let Some(r) = c.i32(spec, "revisionHistoryLimit", "spec.revisionHistoryLimit") {
        c.nonnegative("spec.revisionHistoryLimit", r);
    }
    if let Some(d) = c.i32(spec, "progressDeadlineSeconds", "spec.progressDeadlineSeconds") {
        c.nonnegative("spec.progressDeadlineSeconds", d);
        if d <= min_ready {
            c.invalid("spec.progressDeadlineSeconds", d.to_string(), "must be greater than minReadySeconds");
        }
    }
}

/// `ValidateDeploymentStrategy`.
fn deployment_strategy(c: &mut Check, spec: &Obj) {
    let empty = Map::new();
    let s = c.obj(spec, "strategy", "spec.strategy").unwrap_or(&empty);
    let ty = c.string(s, "type", "spec.strategy.type");
    let has_rolling = Check::has(s, "rollingUpdate");
    match ty {
        "Recreate" => {
            if has_rolling {
                c.forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'");
            }
        }
        "RollingUpdate" => match c.obj(s, "rollingUpdate", "spec.strategy.rollingUpdate") {
            Some(ru) => rolling_update_deployment(c, ru),
            None if !has_rolling => {
                c.required("spec.strategy.rollingUpdate", "this should be defaulted and never be nil");
            }
            None => {}
        },
        other => {
            let ru = if has_rolling { "0xc000010000" } else { "nil" };
            c.not_supported(
                "spec.strategy",
                format!(
                    "apps.DeploymentStrategy{{Type:{}, RollingUpdate:(*apps.RollingUpdateDeployment)({ru})}}",
                    render::quote(other)
                ),
                &["Recreate", "RollingUpdate"],
            );
        }
    }
}

/// `ValidatePositiveIntOrPercent`.
fn positive_int_or_percent(c: &mut Check, v: &IntOrStr, path: &str) {
    match v {
        IntOrStr::Str(s) => {
            for m in syntax::percent(s) {
                c.invalid(path, render::int_or_string(v), m);
            }
        }
        IntOrStr::Int(i) => c.nonnegative(path, *i),
    }
}

/// `IsNotMoreThan100Percent`.
fn not_more_than_100_percent(c: &mut Check, v: &IntOrStr, path: &str) {
    if v.percent().is_some_and(|p| p > 100) {
        c.invalid(path, render::int_or_string(v), "must not be greater than 100%");
    }
}

/// `ValidateRollingUpdateDeployment`.
fn rolling_update_deployment(c: &mut Check, ru: &Obj) {
    let mu_path = "spec.strategy.rollingUpdate.maxUnavailable";
    let ms_path = "spec.strategy.rollingUpdate.maxSurge";
    // A missing value is the zero IntOrString once converted to the internal type.
    let mu = c.int_or_string(ru, "maxUnavailable", mu_path).unwrap_or(IntOrStr::Int(0));
    let ms = c.int_or_string(ru, "maxSurge", ms_path).unwrap_or(IntOrStr::Int(0));
    positive_int_or_percent(c, &mu, mu_path);
    positive_int_or_percent(c, &ms, ms_path);
    if mu.int_or_percent_value() == 0 && ms.int_or_percent_value() == 0 {
        c.invalid(mu_path, render::int_or_string(&mu), "may not be 0 when `maxSurge` is 0");
    }
    not_more_than_100_percent(c, &mu, mu_path);
}

/// The update rule of the apps/v1 registries: `spec.selector` cannot change.
fn selector_immutable(c: &mut Check, root: &Obj, old: &Obj) {
    let new_sel = root.get("spec").and_then(|s| s.get("selector")).unwrap_or(&Value::Null);
    let old_sel = old.get("spec").and_then(|s| s.get("selector")).unwrap_or(&Value::Null);
    if normalized(new_sel) != normalized(old_sel) {
        let empty = Map::new();
        let spec = root.get("spec").and_then(Value::as_object).unwrap_or(&empty);
        let rendered = match Check::default().selector(spec, "selector", "spec.selector") {
            Some(sel) => render::label_selector(&sel),
            None => render::NIL.to_string(),
        };
        c.invalid("spec.selector", rendered, IMMUTABLE);
    }
}

/// Reads `status.<field>` as an int32 (0 when absent), checking it is not negative.
fn status_count(c: &mut Check, status: &Obj, field: &str) -> i64 {
    let path = child("status", field);
    let v = c.i32(status, field, &path).unwrap_or(0);
    c.nonnegative(&path, v);
    v
}

fn status_of(root: &Obj) -> &Obj {
    static EMPTY: std::sync::OnceLock<Obj> = std::sync::OnceLock::new();
    root.get("status").and_then(Value::as_object).unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

/// Non-negative counts in `status`.
fn counts_nonnegative(c: &mut Check, root: &Obj, fields: &[&str]) {
    let status = status_of(root);
    for f in fields {
        status_count(c, status, f);
    }
}

/// `status.collisionCount` is not negative and never decreases (`IsDecremented`).
fn collision_count(c: &mut Check, root: &Obj, old: &Obj) {
    let status = status_of(root);
    let new = c.i32(status, "collisionCount", "status.collisionCount");
    if let Some(n) = new {
        c.nonnegative("status.collisionCount", n);
    }
    let old = status_of(old).get("collisionCount").and_then(Value::as_i64);
    let decremented = match (new, old) {
        (None, Some(_)) => true,
        (Some(n), Some(o)) => n < o,
        _ => false,
    };
    if decremented {
        c.invalid("status.collisionCount", new.unwrap_or(0).to_string(), "cannot be decremented");
    }
}

/// "cannot be greater than status.replicas" for each of `fields`.
fn not_above_replicas(c: &mut Check, values: &[(&str, i64)], replicas: i64) {
    for (field, v) in values {
        if *v > replicas {
            c.invalid(&child("status", field), v.to_string(), "cannot be greater than status.replicas");
        }
    }
}

/// `ValidateDeploymentStatus` and the collision count rule.
fn deployment_status(c: &mut Check, root: &Obj, old: &Obj) {
    let status = status_of(root);
    if let Some(g) = c.i64(status, "observedGeneration", "status.observedGeneration") {
        c.nonnegative("status.observedGeneration", g);
    }
    let replicas = status_count(c, status, "replicas");
    let updated = status_count(c, status, "updatedReplicas");
    let ready = status_count(c, status, "readyReplicas");
    let available = status_count(c, status, "availableReplicas");
    status_count(c, status, "unavailableReplicas");
    collision_count(c, root, old);
    not_above_replicas(
        c,
        &[("updatedReplicas", updated), ("readyReplicas", ready), ("availableReplicas", available)],
        replicas,
    );
    if available > ready {
        c.invalid("status.availableReplicas", available.to_string(), "cannot be greater than readyReplicas");
    }
}

/// `ValidateReplicaSetSpec`.
fn replica_set_spec(c: &mut Check, spec: &Obj) {
    if let Some(r) = c.i32(spec, "replicas", "spec.replicas") {
        c.nonnegative("spec.replicas", r);
    }
    if let Some(m) = c.i32(spec, "minReadySeconds", "spec.minReadySeconds") {
        c.nonnegative("spec.minReadySeconds", m);
    }
    // The real server says "deployment" here too.
    match required_selector(c, spec, "deployment") {
        SelectorOutcome::Invalid(sel) => {
            c.invalid("spec.selector", render::label_selector(&sel), "invalid label selector");
        }
        SelectorOutcome::Valid(sel) => replica_set_template(c, spec, Some(&sel)),
        SelectorOutcome::Nothing => replica_set_template(c, spec, None),
    }
}

/// `ValidateReplicaSetStatus`.
fn replica_set_status(c: &mut Check, root: &Obj) {
    let status = status_of(root);
    let replicas = status_count(c, status, "replicas");
    let labeled = status_count(c, status, "fullyLabeledReplicas");
    let ready = status_count(c, status, "readyReplicas");
    let available = status_count(c, status, "availableReplicas");
    if let Some(g) = c.i64(status, "observedGeneration", "status.observedGeneration") {
        c.nonnegative("status.observedGeneration", g);
    }
    not_above_replicas(
        c,
        &[("fullyLabeledReplicas", labeled), ("readyReplicas", ready), ("availableReplicas", available)],
        replicas,
    );
    if available > ready {
        c.invalid("status.availableReplicas", available.to_string(), "cannot be greater than readyReplicas");
    }
}

/// `ValidateDaemonSetSpec`.
fn daemon_set_spec(c: &mut Check, spec: &Obj) {
    let sel = c.selector(spec, "selector", "spec.selector");
    let mut valid = true;
    if let Some(s) = &sel {
        let mark = c.len();
        label_selector(c, s, "spec.selector");
        valid = c.len() == mark;
    }
    if valid {
        template_match(c, spec, sel.as_ref());
    }
    if let Some(s) = sel.as_ref().filter(|s| s.is_empty()) {
        c.invalid("spec.selector", render::label_selector(s), "empty selector is invalid for daemonset");
    }
    let empty = Map::new();
    let template = c.obj(spec, "template", "spec.template").unwrap_or(&empty);
    pod::template_spec(c, template, "spec.template");
    always_restarts(c, template, "DaemonSet");
    for f in ["minReadySeconds", "templateGeneration"] {
        let p = child("spec", f);
        if let Some(v) = c.i64(spec, f, &p) {
            c.nonnegative(&p, v);
        }
    }
    let us = c.obj(spec, "updateStrategy", "spec.updateStrategy").unwrap_or(&empty);
    match c.string(us, "type", "spec.updateStrategy.type") {
        "OnDelete" => {}
        "RollingUpdate" => match c.obj(us, "rollingUpdate", "spec.updateStrategy.rollingUpdate") {
            None => c.required("spec.updateStrategy.rollingUpdate", ""),
            Some(ru) => {
                let mu_path = "spec.updateStrategy.rollingUpdate.maxUnavailable";
                let ms_path = "spec.updateStrategy.rollingUpdate.maxSurge";
                let mu = c.int_or_string(ru, "maxUnavailable", mu_path).unwrap_or(IntOrStr::Int(0));
                let ms = c.int_or_string(ru, "maxSurge", ms_path).unwrap_or(IntOrStr::Int(0));
                positive_int_or_percent(c, &mu, mu_path);
                positive_int_or_percent(c, &ms, ms_path);
                not_more_than_100_percent(c, &mu, mu_path);
                not_more_than_100_percent(c, &ms, ms_path);
                match (mu.int_or_percent_value() != 0, ms.int_or_percent_value() != 0) {
                    (true, true) => {
                        c.invalid(
                            ms_path,
                            render::int_or_string(&ms),
                            "may not be set when maxUnavailable is non-zero",
                        );
                    }
                    (false, false) => c.required(mu_path, "cannot be 0 when maxSurge is 0"),
                    _ => {}
                }
            }
        },
        other => {
            let ru = if Check::has(us, "rollingUpdate") { "0xc000010000" } else { "nil" };
            c.not_supported(
                "spec.updateStrategy",
                format!(
                    "apps.DaemonSetUpdateStrategy{{Type:{}, RollingUpdate:(*apps.RollingUpdateDaemonSet)({ru})}}",
                    render::quote(other)
                ),
                &["RollingUpdate", "OnDelete"],
            );
        }
    }
    if let Some(r) = c.i32(spec, "revisionHistoryLimit", "spec.revisionHistoryLimit") {
        c.nonnegative("spec.revisionHistoryLimit", r);
    }
}

/// `validateDaemonSetStatus` and the collision count rule.
fn daemon_set_status(c: &mut Check, root: &Obj, old: &Obj) {
    counts_nonnegative(
        c,
        root,
        &[
            "currentNumberScheduled",
            "numberMisscheduled",
            "desiredNumberScheduled",
            "numberReady",
            "observedGeneration",
            "updatedNumberScheduled",
            "numberAvailable",
            "numberUnavailable",
        ],
    );
    collision_count(c, root, old);
}

/// `ValidateStatefulSetSpec`. Like the real server, it checks the pod template's labels and
/// annotations but not its pod spec.
fn stateful_set_spec(c: &mut Check, spec: &Obj) {
    match c.string(spec, "podManagementPolicy", "spec.podManagementPolicy") {
        "" => c.required("spec.podManagementPolicy", ""),
        "OrderedReady" | "Parallel" => {}
        other => c.invalid_str("spec.podManagementPolicy", other, "must be 'OrderedReady' or 'Parallel'"),
    }
    let empty = Map::new();
    let us = c.obj(spec, "updateStrategy", "spec.updateStrategy").unwrap_or(&empty);
    let ru_path = "spec.updateStrategy.rollingUpdate";
    match c.string(us, "type", "spec.updateStrategy.type") {
        "" => c.required("spec.updateStrategy", ""),
        "OnDelete" => {
            if let Some(ru) = c.obj(us, "rollingUpdate", ru_path) {
                c.invalid(
                    ru_path,
                    render::json(&Value::Object(ru.clone())),
                    "only allowed for updateStrategy 'RollingUpdate'",
                );
            }
        }
        "RollingUpdate" => {
            if let Some(ru) = c.obj(us, "rollingUpdate", ru_path) {
                let pp = child(ru_path, "partition");
                let partition = c.i32(ru, "partition", &pp).unwrap_or(0);
                c.nonnegative(&pp, partition);
                let mu_path = child(ru_path, "maxUnavailable");
                if let Some(mu) = c.int_or_string(ru, "maxUnavailable", &mu_path) {
                    positive_int_or_percent(c, &mu, &mu_path);
                    if mu.int_or_percent_value() == 0 {
                        c.invalid(&mu_path, render::int_or_string(&mu), "cannot be 0");
                    }
                    not_more_than_100_percent(c, &mu, &mu_path);
                }
            }
        }
        other => {
            let ru = if Check::has(us, "rollingUpdate") { "0xc000010000" } else { "nil" };
            c.invalid(
                "spec.updateStrategy",
                format!(
                    "apps.StatefulSetUpdateStrategy{{Type:{}, RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy)({ru})}}",
                    render::quote(other)
                ),
                "must be 'RollingUpdate' or 'OnDelete'",
            );
        }
    }
    let policy_path = "spec.persistentVolumeClaimRetentionPolicy";
    if let Some(policy) = c.obj(spec, "persistentVolumeClaimRetentionPolicy", policy_path) {
        for f in ["whenDeleted", "whenScaled"] {
            let p = child(policy_path, f);
            let v = c.string(policy, f, &p);
            if !matches!(v, "Retain" | "Delete") {
                c.not_supported(&p, render::quote(v), &["Retain", "Delete"]);
            }
        }
    }
    for f in ["replicas", "minReadySeconds"] {
        let p = child("spec", f);
        if let Some(v) = c.i32(spec, f, &p) {
            c.nonnegative(&p, v);
        }
    }
    if let Some(ordinals) = c.obj(spec, "ordinals", "spec.ordinals")
        && let Some(start) = c.i32(ordinals, "start", "spec.ordinals.start")
    {
        c.nonnegative("spec.ordinals.start", start);
    }
    let outcome = required_selector(c, spec, "statefulset");
    let sel = match outcome {
        SelectorOutcome::Invalid(sel) => {
            c.invalid("spec.selector", render::label_selector(&sel), "");
            None
        }
        SelectorOutcome::Valid(sel) => Some(Some(sel)),
        SelectorOutcome::Nothing => Some(None),
    };
    if let Some(sel) = sel {
        template_match(c, spec, sel.as_ref());
        let template = c.obj(spec, "template", "spec.template").unwrap_or(&empty);
        let meta = c.obj(template, "metadata", "spec.template.metadata").unwrap_or(&empty);
        let l = c.string_map(meta, "labels", "spec.template.metadata.labels");
        labels(c, l.as_ref(), "spec.template.labels");
        let a = c.string_map(meta, "annotations", "spec.template.metadata.annotations");
        annotations(c, a.as_ref(), "spec.template.annotations");
    }
    let template = spec.get("template").and_then(Value::as_object).unwrap_or(&empty);
    always_restarts(c, template, "StatefulSet");
}

/// A StatefulSet update may change only some spec fields.
fn stateful_set_update(c: &mut Check, root: &Obj, old: &Obj) {
    const MUTABLE: [&str; 6] = [
        "replicas",
        "ordinals",
        "template",
        "updateStrategy",
        "persistentVolumeClaimRetentionPolicy",
        "minReadySeconds",
    ];
    let strip = |o: &Obj| {
        let mut spec = o.get("spec").cloned().unwrap_or(Value::Null);
        if let Some(s) = spec.as_object_mut() {
            for f in MUTABLE {
                s.remove(f);
            }
        }
        normalized(&spec)
    };
    if strip(root) != strip(old) {
        c.forbidden(
            "spec",
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        );
    }
}

/// `ValidateStatefulSetStatus` and the collision count rule.
fn stateful_set_status(c: &mut Check, root: &Obj, old: &Obj) {
    let status = status_of(root);
    let replicas = status_count(c, status, "replicas");
    let ready = status_count(c, status, "readyReplicas");
    let current = status_count(c, status, "currentReplicas");
    let updated = status_count(c, status, "updatedReplicas");
    let available = status_count(c, status, "availableReplicas");
    if let Some(g) = c.i64(status, "observedGeneration", "status.observedGeneration") {
        c.nonnegative("status.observedGeneration", g);
    }
    collision_count(c, root, old);
    not_above_replicas(
        c,
        &[
            ("readyReplicas", ready),
            ("currentReplicas", current),
            ("updatedReplicas", updated),
            ("availableReplicas", available),
        ],
        replicas,
    );
    if available > ready {
        c.invalid("status.availableReplicas", available.to_string(), "cannot be greater than status.readyReplicas");
    }
}

/// `validateJobSpec` plus the selector checks of a Job. The API server generates a Job's selector
/// from its uid when the client gives none, so a missing selector is not an error here.
fn job_spec(c: &mut Check, spec: &Obj, path: &str) {
    for f in ["parallelism", "completions", "backoffLimit"] {
        let p = child(path, f);
        if let Some(v) = c.i32(spec, f, &p) {
            c.nonnegative(&p, v);
        }
    }
    let ads_path = child(path, "activeDeadlineSeconds");
    if let Some(v) = c.i64(spec, "activeDeadlineSeconds", &ads_path) {
        c.nonnegative(&ads_path, v);
    }
    let tp = child(path, "template");
    let empty = Map::new();
    let template = c.obj(spec, "template", &tp).unwrap_or(&empty);
    pod::template_spec(c, template, &tp);
    let policy = template.get("spec").and_then(|s| s.get("restartPolicy")).and_then(Value::as_str).unwrap_or_default();
    if !matches!(policy, "OnFailure" | "Never") {
        c.not_supported(&child(&tp, "spec.restartPolicy"), render::quote(policy), &["OnFailure", "Never"]);
    }
    if path == "spec"
        && let Some(sel) = c.selector(spec, "selector", "spec.selector")
    {
        let mark = c.len();
        label_selector(c, &sel, "spec.selector");
        if c.len() == mark {
            template_match(c, spec, Some(&sel));
        }
    }
}

/// `ValidateJobSpecUpdate`: completions, selector and template cannot change.
fn job_update(c: &mut Check, root: &Obj, old: &Obj) {
    let get = |o: &Obj, f: &str| normalized(o.get("spec").and_then(|s| s.get(f)).unwrap_or(&Value::Null));
    for f in ["completions", "selector", "template"] {
        if get(root, f) != get(old, f) {
            let v = root.get("spec").and_then(|s| s.get(f)).map(render::json).unwrap_or_else(|| render::NIL.into());
            c.invalid(&child("spec", f), v, IMMUTABLE);
        }
    }
}

/// `ValidateCronJobSpec` and the name length limit of CronJobs (their Jobs append a suffix).
fn cron_job(c: &mut Check, root: &Obj, spec: &Obj) {
    let name = root.get("metadata").and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or_default();
    if name.len() > 52 {
        c.invalid_str("metadata.name", name, "must be no more than 52 characters");
    }
    let schedule = c.string(spec, "schedule", "spec.schedule");
    if schedule.is_empty() {
        c.required("spec.schedule", "");
    } else if let Some(e) = schedule_error(schedule) {
        c.invalid_str("spec.schedule", schedule, e);
    }
    if let Some(v) = c.i64(spec, "startingDeadlineSeconds", "spec.startingDeadlineSeconds") {
        c.nonnegative("spec.startingDeadlineSeconds", v);
    }
    match c.string(spec, "concurrencyPolicy", "spec.concurrencyPolicy") {
        "Allow" | "Forbid" | "Replace" => {}
        "" => c.required("spec.concurrencyPolicy", ""),
        other => c.not_supported("spec.concurrencyPolicy", render::quote(other), &["Allow", "Forbid", "Replace"]),
    }
    for f in ["successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
        let p = child("spec", f);
        if let Some(v) = c.i32(spec, f, &p) {
            c.nonnegative(&p, v);
        }
    }
    let empty = Map::new();
    let jt = c.obj(spec, "jobTemplate", "spec.jobTemplate").unwrap_or(&empty);
    let js = c.obj(jt, "spec", "spec.jobTemplate.spec").unwrap_or(&empty);
    job_spec(c, js, "spec.jobTemplate.spec");
    if let Some(sel) = c.selector(js, "selector", "spec.jobTemplate.spec.selector") {
        c.invalid("spec.jobTemplate.spec.selector", render::label_selector(&sel), "`selector` will be auto-generated");
    }
    if c.bool(js, "manualSelector", "spec.jobTemplate.spec.manualSelector") == Some(true) {
        c.not_supported("spec.jobTemplate.spec.manualSelector", "true".to_string(), &["nil", "false"]);
    }
}

/// The error of the cron parser Kubernetes uses (robfig/cron, standard five fields), for the
/// problems it is most often given: a wrong number of fields or an unknown descriptor.
fn schedule_error(schedule: &str) -> Option<String> {
    if let Some(descriptor) = schedule.strip_prefix('@') {
        let known = ["yearly", "annually", "monthly", "weekly", "daily", "midnight", "hourly"];
        return if known.contains(&descriptor) || descriptor.starts_with("every ") {
            None
        } else {
            Some(format!("unrecognized descriptor: {schedule}"))
        };
    }
    let mut fields: Vec<&str> = schedule.split_whitespace().collect();
    if fields.first().is_some_and(|f| f.starts_with("TZ=") || f.starts_with("CRON_TZ=")) {
        fields.remove(0);
    }
    if fields.len() != 5 {
        return Some(format!("expected exactly 5 fields, found {}: [{}]", fields.len(), fields.join(" ")));
    }
    None
}

/// `ValidateNamespace`: the spec's finalizers.
fn namespace_finalizers(c: &mut Check, spec: &Obj) {
    let finalizers = c.string_list(spec, "finalizers", "spec.finalizers").unwrap_or_default();
    for f in &finalizers {
        c.each_invalid_str("spec.finalizers", f, syntax::qualified_name(f));
        if !f.contains('/') && !matches!(f.as_str(), "kubernetes" | "orphan" | "foregroundDeletion") {
            c.invalid_str("spec.finalizers", f, "name is neither a standard finalizer name nor is it fully qualified");
        }
    }
}

/// `ValidateNamespaceStatusUpdate`: Active unless being deleted, then Terminating.
fn namespace_status(c: &mut Check, root: &Obj) {
    let deleting = root.get("metadata").and_then(Value::as_object).is_some_and(|m| Check::has(m, "deletionTimestamp"));
    let empty = Map::new();
    let status = c.obj(root, "status", "status").unwrap_or(&empty);
    let phase = c.string(status, "phase", "status.phase");
    if !deleting && phase != "Active" {
        c.invalid_str("status.Phase", phase, "may only be 'Active' if `deletionTimestamp` is empty");
    } else if deleting && phase != "Terminating" {
        c.invalid_str("status.Phase", phase, "may only be 'Terminating' if `deletionTimestamp` is not empty");
    }
}

/// The core/v1 Event rule: the involved object lives in the event's namespace.
fn event(c: &mut Check, root: &Obj) {
    let empty = Map::new();
    let namespace = root.get("metadata").and_then(|m| m.get("namespace")).and_then(Value::as_str).unwrap_or_default();
    let involved = c.obj(root, "involvedObject", "involvedObject").unwrap_or(&empty);
    let involved_ns = c.string(involved, "namespace", "involvedObject.namespace");
    let mismatch =
        if involved_ns.is_empty() { !namespace.is_empty() && namespace != "default" } else { namespace != involved_ns };
    if mismatch {
        c.invalid_str("involvedObject.namespace", involved_ns, "does not match event.namespace");
    }
}

/// A JSON value with the Go zero values left out (`null`, `false`, `0`, `""`, empty lists and
/// maps), so two objects that decode to equal Go structs compare equal, as `apiequality.Semantic`
/// compares them.
pub(super) fn normalized(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), normalized(v))).filter(|(_, v)| !is_zero(v)).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::admission::apply_defaults;
    use crate::admission::tests::seed;
    use crate::error::ApiError;

    const DNS_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    const DNS_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    const SEED_LABELS: &str = r#"map[string]string{"app":"ms-account-management"}"#;
    const C0: &str = "spec.template.spec.containers[0]";

    fn defaulted(kind: Kind, edit: impl FnOnce(&mut Value)) -> Value {
        let mut obj = seed(kind);
        edit(&mut obj);
        apply_defaults(kind, &mut obj);
        obj
    }

    /// The messages for a created `kind` after `edit`.
    fn create_errors(kind: Kind, edit: impl FnOnce(&mut Value)) -> Vec<String> {
        validate(kind, &defaulted(kind, edit), None).iter().map(FieldError::message).collect()
    }

    /// The messages for an update of the defaulted seed by `edit`.
    fn update_errors(kind: Kind, edit: impl FnOnce(&mut Value)) -> Vec<String> {
        let old = defaulted(kind, |_| {});
        let mut new = old.clone();
        edit(&mut new);
        apply_defaults(kind, &mut new);
        validate(kind, &new, Some(&old)).iter().map(FieldError::message).collect()
    }

    fn container(d: &mut Value) -> &mut Value {
        &mut d["spec"]["template"]["spec"]["containers"][0]
    }

    type Edit = fn(&mut Value);

    #[test]
    fn deployment_rules_report_the_api_server_messages() {
        let cases: Vec<(&str, Edit, Vec<String>)> = vec![
            ("negative replicas", |d| d["spec"]["replicas"] = json!(-1), vec![
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0".into(),
            ]),
            ("no name", |d| d["metadata"].as_object_mut().unwrap().clear(), vec![
                "metadata.name: Required value: name or generateName is required".into(),
                "metadata.namespace: Required value".into(),
            ]),
            ("name not a DNS subdomain", |d| d["metadata"]["name"] = json!("Web_App"), vec![format!(
                "metadata.name: Invalid value: \"Web_App\": {DNS_SUBDOMAIN_MSG}"
            )]),
            ("name too long", |d| d["metadata"]["name"] = json!("a".repeat(254)), vec![format!(
                "metadata.name: Invalid value: \"{}\": must be no more than 253 characters",
                "a".repeat(254)
            )]),
            ("bad label key", |d| d["metadata"]["labels"]["-bad"] = json!("x"), vec![
                "metadata.labels: Invalid value: \"-bad\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')".into(),
            ]),
            ("bad label value", |d| d["metadata"]["labels"]["tier"] = json!("front end"), vec![
                "metadata.labels: Invalid value: \"front end\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".into(),
            ]),
            ("bad annotation key", |d| d["metadata"]["annotations"] = json!({"a/b/c": "x"}), vec![
                "metadata.annotations: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')".into(),
            ]),
            ("no selector", |d| { d["spec"].as_object_mut().unwrap().remove("selector"); }, vec![
                "spec.selector: Required value".into(),
                format!("spec.template.metadata.labels: Invalid value: {SEED_LABELS}: `selector` does not match template `labels`"),
            ]),
            ("empty selector", |d| d["spec"]["selector"] = json!({}), vec![
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment".into(),
            ]),
            ("selector not matching the template", |d| d["spec"]["selector"]["matchLabels"]["app"] = json!("other"), vec![
                format!("spec.template.metadata.labels: Invalid value: {SEED_LABELS}: `selector` does not match template `labels`"),
            ]),
            ("selector expression not matching", |d| d["spec"]["selector"]["matchExpressions"] = json!([{"key": "tier", "operator": "Exists"}]), vec![
                format!("spec.template.metadata.labels: Invalid value: {SEED_LABELS}: `selector` does not match template `labels`"),
            ]),
            ("invalid selector operator", |d| d["spec"]["selector"]["matchExpressions"] = json!([{"key": "app", "operator": "Like", "values": ["x"]}]), vec![
                "spec.selector.matchExpressions[0].operator: Invalid value: \"Like\": not a valid selector operator".into(),
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"ms-account-management\"}, MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:\"app\", Operator:\"Like\", Values:[]string{\"x\"}}}}: invalid label selector".into(),
            ]),
            ("In without values", |d| d["spec"]["selector"]["matchExpressions"] = json!([{"key": "app", "operator": "In"}]), vec![
                "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'".into(),
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"ms-account-management\"}, MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:\"app\", Operator:\"In\", Values:[]string(nil)}}}: invalid label selector".into(),
            ]),
            ("maxSurge and maxUnavailable both zero", |d| d["spec"]["strategy"] = json!({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}), vec![
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0".into(),
            ]),
            ("zero percentages", |d| d["spec"]["strategy"] = json!({"rollingUpdate": {"maxSurge": "0%", "maxUnavailable": "0%"}}), vec![
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"0%\"}: may not be 0 when `maxSurge` is 0".into(),
            ]),
            ("maxUnavailable above 100%", |d| d["spec"]["strategy"] = json!({"rollingUpdate": {"maxUnavailable": "150%"}}), vec![
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"150%\"}: must not be greater than 100%".into(),
            ]),
            ("percentage without %", |d| d["spec"]["strategy"] = json!({"rollingUpdate": {"maxSurge": "1"}}), vec![
                "spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"1\"}: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')".into(),
            ]),
            ("negative maxSurge", |d| d["spec"]["strategy"] = json!({"rollingUpdate": {"maxSurge": -1}}), vec![
                "spec.strategy.rollingUpdate.maxSurge: Invalid value: -1: must be greater than or equal to 0".into(),
            ]),
            ("rollingUpdate with Recreate", |d| d["spec"]["strategy"] = json!({"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}), vec![
                "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'".into(),
            ]),
            ("unknown strategy type", |d| d["spec"]["strategy"] = json!({"type": "BlueGreen"}), vec![
                "spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:\"BlueGreen\", RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: \"Recreate\", \"RollingUpdate\"".into(),
            ]),
            ("progress deadline not above minReadySeconds", |d| { d["spec"]["minReadySeconds"] = json!(10); d["spec"]["progressDeadlineSeconds"] = json!(10); }, vec![
                "spec.progressDeadlineSeconds: Invalid value: 10: must be greater than minReadySeconds".into(),
            ]),
            ("negative minReadySeconds", |d| d["spec"]["minReadySeconds"] = json!(-1), vec![
                "spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0".into(),
            ]),
            ("negative revisionHistoryLimit", |d| d["spec"]["revisionHistoryLimit"] = json!(-1), vec![
                "spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0".into(),
            ]),
            ("restartPolicy Never", |d| d["spec"]["template"]["spec"]["restartPolicy"] = json!("Never"), vec![
                "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"".into(),
            ]),
            ("unknown restartPolicy", |d| d["spec"]["template"]["spec"]["restartPolicy"] = json!("Sometimes"), vec![
                "spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"".into(),
                "spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\"".into(),
            ]),
            ("active deadline in a template", |d| d["spec"]["template"]["spec"]["activeDeadlineSeconds"] = json!(30), vec![
                "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported".into(),
            ]),
            ("no containers", |d| d["spec"]["template"]["spec"]["containers"] = json!([]), vec![
                "spec.template.spec.containers: Required value".into(),
            ]),
            ("container without name", |d| { container(d).as_object_mut().unwrap().remove("name"); }, vec![
                format!("{C0}.name: Required value"),
            ]),
            ("container name not a DNS label", |d| container(d)["name"] = json!("app.v1"), vec![
                format!("{C0}.name: Invalid value: \"app.v1\": must not contain dots"),
            ]),
            ("container name with capitals", |d| container(d)["name"] = json!("App"), vec![
                format!("{C0}.name: Invalid value: \"App\": {DNS_LABEL_MSG}"),
            ]),
            ("duplicate container names", |d| {
                let c = container(d).clone();
                d["spec"]["template"]["spec"]["containers"].as_array_mut().unwrap().push(c);
            }, vec![
                "spec.template.spec.containers[1].name: Duplicate value: \"ms-account-management\"".into(),
            ]),
            ("container without image", |d| { container(d).as_object_mut().unwrap().remove("image"); }, vec![
                format!("{C0}.image: Required value"),
            ]),
            ("container port out of range", |d| container(d)["ports"][0]["containerPort"] = json!(70000), vec![
                format!("{C0}.ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"),
            ]),
            ("container port missing", |d| container(d)["ports"] = json!([{"name": "https"}]), vec![
                format!("{C0}.ports[0].containerPort: Required value"),
            ]),
            ("bad port name", |d| container(d)["ports"][0]["name"] = json!("8443"), vec![
                format!("{C0}.ports[0].name: Invalid value: \"8443\": must contain at least one letter (a-z)"),
            ]),
            ("unknown protocol", |d| container(d)["ports"][0]["protocol"] = json!("HTTP"), vec![
                format!("{C0}.ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\""),
            ]),
            ("probe with two handlers", |d| container(d)["readinessProbe"]["httpGet"] = json!({"port": 8443}), vec![
                format!("{C0}.readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type"),
            ]),
            ("probe without handler", |d| container(d)["readinessProbe"] = json!({"periodSeconds": 10}), vec![
                format!("{C0}.readinessProbe: Required value: must specify a handler type"),
            ]),
            ("negative probe period", |d| container(d)["livenessProbe"]["periodSeconds"] = json!(-1), vec![
                format!("{C0}.livenessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0"),
            ]),
            ("liveness success threshold", |d| container(d)["livenessProbe"]["successThreshold"] = json!(2), vec![
                format!("{C0}.livenessProbe.successThreshold: Invalid value: 2: must be 1"),
            ]),
            ("probe port zero", |d| container(d)["readinessProbe"]["tcpSocket"]["port"] = json!(0), vec![
                format!("{C0}.readinessProbe.tcpSocket.port: Invalid value: 0: must be between 1 and 65535, inclusive"),
            ]),
            ("probe port name", |d| container(d)["readinessProbe"]["tcpSocket"]["port"] = json!("HTTPS"), vec![
                format!("{C0}.readinessProbe.tcpSocket.port: Invalid value: \"HTTPS\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"),
                format!("{C0}.readinessProbe.tcpSocket.port: Invalid value: \"HTTPS\": must contain at least one letter (a-z)"),
            ]),
            ("readiness grace period", |d| container(d)["readinessProbe"]["terminationGracePeriodSeconds"] = json!(5), vec![
                format!("{C0}.readinessProbe.terminationGracePeriodSeconds: Invalid value: 5: must not be set for readinessProbes"),
            ]),
            ("exec probe without command", |d| container(d)["livenessProbe"] = json!({"exec": {}}), vec![
                format!("{C0}.livenessProbe.exec.command: Required value"),
            ]),
            ("http probe scheme", |d| container(d)["livenessProbe"] = json!({"httpGet": {"port": 80, "scheme": "FTP"}}), vec![
                format!("{C0}.livenessProbe.httpGet.scheme: Unsupported value: \"FTP\": supported values: \"HTTP\", \"HTTPS\""),
            ]),
            ("unknown pull policy", |d| container(d)["imagePullPolicy"] = json!("Sometimes"), vec![
                format!("{C0}.imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\""),
            ]),
            ("mount of an unknown volume", |d| container(d)["volumeMounts"] = json!([{"name": "data", "mountPath": "/data"}]), vec![
                format!("{C0}.volumeMounts[0].name: Invalid value: \"data\": not found"),
            ]),
            ("env var from nothing", |d| container(d)["env"] = json!([{"name": "A", "valueFrom": {}}]), vec![
                format!("{C0}.env[0].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"),
            ]),
            ("env var name with =", |d| container(d)["env"] = json!([{"name": "A=B", "value": "x"}]), vec![
                format!("{C0}.env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='"),
            ]),
            ("unsupported downward API field", |d| container(d)["env"] = json!([{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "status.phase"}}}]), vec![
                format!("{C0}.env[0].valueFrom.fieldRef.fieldPath: Unsupported value: \"status.phase\": supported values: \"metadata.name\", \"metadata.namespace\", \"metadata.uid\", \"spec.nodeName\", \"spec.serviceAccountName\", \"status.hostIP\", \"status.hostIPs\", \"status.podIP\", \"status.podIPs\""),
            ]),
            ("volume without name", |d| d["spec"]["template"]["spec"]["volumes"] = json!([{"emptyDir": {}}]), vec![
                "spec.template.spec.volumes[0].name: Required value".into(),
            ]),
            ("volume with two sources", |d| d["spec"]["template"]["spec"]["volumes"] = json!([{"name": "v", "emptyDir": {}, "configMap": {"name": "c"}}]), vec![
                "spec.template.spec.volumes[0].configMap: Forbidden: may not specify more than 1 volume type".into(),
            ]),
            ("invalid template label", |d| {
                d["spec"]["template"]["metadata"]["labels"]["bad key"] = json!("x");
            }, vec![
                "spec.template.labels: Invalid value: \"bad key\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')".into(),
            ]),
            ("replicas of the wrong type", |d| d["spec"]["replicas"] = json!("3"), vec![
                "spec.replicas: Invalid value: \"3\": must be of type int32".into(),
            ]),
            ("containers of the wrong type", |d| d["spec"]["template"]["spec"]["containers"] = json!({"name": "x"}), vec![
                "spec.template.spec.containers: Invalid value: {\"name\":\"x\"}: must be of type array".into(),
            ]),
        ];
        for (name, edit, want) in cases {
            assert_eq!(create_errors(Kind::Deployment, edit), want, "case: {name}");
        }
    }

    #[test]
    fn deployment_update_rules_report_the_api_server_messages() {
        let cases: Vec<(&str, Edit, Vec<String>)> = vec![
            ("new image", |d| container(d)["image"] = json!("nginx:1.27"), vec![]),
            ("scaled", |d| d["spec"]["replicas"] = json!(10), vec![]),
            ("selector changed", |d| {
                d["spec"]["selector"]["matchLabels"]["app"] = json!("web");
                d["spec"]["template"]["metadata"]["labels"]["app"] = json!("web");
            }, vec![
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable".into(),
            ]),
            ("selector removed", |d| { d["spec"].as_object_mut().unwrap().remove("selector"); }, vec![
                "spec.selector: Required value".into(),
                format!("spec.template.metadata.labels: Invalid value: {SEED_LABELS}: `selector` does not match template `labels`"),
                "spec.selector: Invalid value: \"null\": field is immutable".into(),
            ]),
            ("selector given an empty expression list", |d| d["spec"]["selector"]["matchExpressions"] = json!([]), vec![]),
            ("renamed", |d| d["metadata"]["name"] = json!("web"), vec![
                "metadata.name: Invalid value: \"web\": field is immutable".into(),
            ]),
            ("status with more available than ready", |d| d["status"] = json!({"replicas": 3, "readyReplicas": 1, "availableReplicas": 2}), vec![
                "status.availableReplicas: Invalid value: 2: cannot be greater than readyReplicas".into(),
            ]),
            ("status above replicas", |d| d["status"] = json!({"replicas": 1, "updatedReplicas": 2}), vec![
                "status.updatedReplicas: Invalid value: 2: cannot be greater than status.replicas".into(),
            ]),
            ("complete status", |d| d["status"] = json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3}), vec![]),
        ];
        for (name, edit, want) in cases {
            assert_eq!(update_errors(Kind::Deployment, edit), want, "case: {name}");
        }
    }

    #[test]
    fn a_decremented_collision_count_is_refused() {
        let mut old = defaulted(Kind::Deployment, |_| {});
        old["status"] = json!({"collisionCount": 2});
        let mut new = old.clone();
        new["status"]["collisionCount"] = json!(1);
        let msgs: Vec<String> = validate(Kind::Deployment, &new, Some(&old)).iter().map(FieldError::message).collect();
        assert_eq!(msgs, vec!["status.collisionCount: Invalid value: 1: cannot be decremented"]);
    }

    #[test]
    fn the_whole_answer_reads_like_kubectl_shows_it() {
        let obj = defaulted(Kind::Deployment, |d| {
            d["spec"]["replicas"] = json!(-1);
            d["spec"].as_object_mut().unwrap().remove("selector");
        });
        let errs = validate(Kind::Deployment, &obj, None);
        let answer = ApiError::invalid(Kind::Deployment.info(), "ms-account-management", &errs);
        assert_eq!(answer.code, 422);
        assert_eq!(
            answer.message,
            format!(
                "Deployment.apps \"ms-account-management\" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal to 0, spec.selector: Required value, spec.template.metadata.labels: Invalid value: {SEED_LABELS}: `selector` does not match template `labels`]"
            )
        );
        assert_eq!(answer.to_status()["details"]["causes"][1]["reason"], "FieldValueRequired");
    }

    #[test]
    fn replica_sets_check_selector_template_and_replicas() {
        assert_eq!(
            create_errors(Kind::ReplicaSet, |d| {
                d["spec"]["replicas"] = json!(-2);
                d["spec"]["selector"]["matchLabels"]["pod-template-hash"] = json!("6d4f8b7c9");
            }),
            vec![
                "spec.replicas: Invalid value: -2: must be greater than or equal to 0".to_string(),
                format!(
                    "spec.template.metadata.labels: Invalid value: {SEED_LABELS}: `selector` does not match template `labels`"
                ),
            ]
        );
        assert_eq!(
            create_errors(Kind::ReplicaSet, |d| d["spec"]["selector"] = json!({"matchLabels": {}})),
            vec![
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"
            ]
        );
        assert_eq!(
            create_errors(Kind::ReplicaSet, |d| d["metadata"]["ownerReferences"][0]["uid"] = json!("")),
            vec!["metadata.ownerReferences.uid: Invalid value: \"\": uid must not be empty"]
        );
        assert_eq!(
            update_errors(Kind::ReplicaSet, |d| d["status"] =
                json!({"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 4})),
            vec!["status.readyReplicas: Invalid value: 4: cannot be greater than status.replicas"]
        );
        assert_eq!(
            update_errors(Kind::ReplicaSet, |d| d["spec"]["selector"]["matchLabels"]["x"] = json!("y")),
            vec![
                format!("spec.template.metadata.labels: Invalid value: {SEED_LABELS}: `selector` does not match template `labels`"),
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"ms-account-management\", \"x\":\"y\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable".to_string(),
            ]
        );
    }

    #[test]
    fn pods_check_containers_names_and_images() {
        assert_eq!(
            create_errors(Kind::Pod, |p| p["spec"]["containers"] = json!([])),
            vec!["spec.containers: Required value"]
        );
        assert_eq!(
            create_errors(Kind::Pod, |p| p["spec"]["containers"][0]["image"] = json!(" nginx")),
            vec!["spec.containers[0].image: Invalid value: \" nginx\": must not have leading or trailing whitespace"]
        );
        assert_eq!(
            create_errors(Kind::Pod, |p| p["spec"]["containers"][0]
                .as_object_mut()
                .unwrap()
                .remove("image")
                .map(drop)
                .unwrap_or(())),
            vec!["spec.containers[0].image: Required value"]
        );
        assert_eq!(
            create_errors(Kind::Pod, |p| p["spec"]["initContainers"] =
                json!([{"name": "ms-account-management", "image": "busybox"}])),
            vec!["spec.initContainers[0].name: Duplicate value: \"ms-account-management\""]
        );
        assert_eq!(
            create_errors(Kind::Pod, |p| p["spec"]["initContainers"] = json!([{"name": "init", "image": "busybox",
                "readinessProbe": {"exec": {"command": ["true"]}}}])),
            vec![
                "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always"
            ]
        );
        assert_eq!(
            create_errors(Kind::Pod, |p| p["metadata"]["name"] = json!("Pod1")),
            vec![format!("metadata.name: Invalid value: \"Pod1\": {DNS_SUBDOMAIN_MSG}")]
        );
    }

    #[test]
    fn pod_updates_may_change_only_images_deadlines_and_tolerations() {
        assert_eq!(
            update_errors(Kind::Pod, |p| p["spec"]["containers"][0]["image"] = json!("nginx:2")),
            Vec::<String>::new()
        );
        assert_eq!(update_errors(Kind::Pod, |p| p["status"] = json!({"phase": "Running"})), Vec::<String>::new());
        let errs = update_errors(Kind::Pod, |p| p["spec"]["containers"][0]["ports"][0]["containerPort"] = json!(9443));
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].starts_with(
                "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
            ),
            "{errs:?}"
        );
        assert!(errs[0].ends_with("\nchanged: spec.containers"), "{errs:?}");
        assert_eq!(
            update_errors(Kind::Pod, |p| p["spec"]["containers"]
                .as_array_mut()
                .unwrap()
                .push(json!({"name": "b", "image": "b"}))),
            vec!["spec.containers: Forbidden: pod updates may not add or remove containers"]
        );
        assert_eq!(
            update_errors(Kind::Pod, |p| p["spec"]["tolerations"][0]["operator"] = json!("Equal")),
            vec!["spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"]
        );
        assert_eq!(
            update_errors(Kind::Pod, |p| p["spec"]["tolerations"][0]["tolerationSeconds"] = json!(60)),
            Vec::<String>::new()
        );
    }

    #[test]
    fn namespaces_need_a_dns_label_name() {
        assert_eq!(
            create_errors(Kind::Namespace, |n| n["metadata"]["name"] = json!("team.a")),
            vec!["metadata.name: Invalid value: \"team.a\": must not contain dots"]
        );
        assert_eq!(
            create_errors(Kind::Namespace, |n| n["metadata"]["namespace"] = json!("default")),
            vec!["metadata.namespace: Forbidden: not allowed on this type"]
        );
        assert_eq!(
            create_errors(Kind::Namespace, |n| n["spec"] = json!({"finalizers": ["custom"]})),
            vec![
                "spec.finalizers: Invalid value: \"custom\": name is neither a standard finalizer name nor is it fully qualified"
            ]
        );
        assert_eq!(
            update_errors(Kind::Namespace, |n| n["status"]["phase"] = json!("Terminating")),
            vec!["status.Phase: Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is empty"]
        );
    }

    #[test]
    fn events_need_a_name_in_the_involved_objects_namespace() {
        assert_eq!(
            create_errors(Kind::Event, |e| {
                e["metadata"].as_object_mut().unwrap().remove("name");
            }),
            vec!["metadata.name: Required value: name or generateName is required"]
        );
        assert_eq!(
            create_errors(Kind::Event, |e| e["involvedObject"]["namespace"] = json!("other")),
            vec!["involvedObject.namespace: Invalid value: \"other\": does not match event.namespace"]
        );
    }

    #[test]
    fn stored_workload_kinds_check_their_main_rules() {
        assert_eq!(
            create_errors(Kind::StatefulSet, |s| s["metadata"]["name"] = json!("db.primary")),
            vec!["metadata.name: Invalid value: \"db.primary\": must not contain dots"]
        );
        assert_eq!(
            create_errors(Kind::StatefulSet, |s| s["spec"]["podManagementPolicy"] = json!("Random")),
            vec!["spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'"]
        );
        assert_eq!(
            update_errors(Kind::StatefulSet, |s| s["spec"]["serviceName"] = json!("other")),
            vec![
                "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
            ]
        );
        assert_eq!(
            create_errors(Kind::DaemonSet, |s| s["spec"]["updateStrategy"] =
                json!({"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}})),
            vec!["spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"]
        );
        assert_eq!(
            create_errors(Kind::DaemonSet, |s| s["spec"]["template"]["spec"]["containers"] = json!([])),
            vec!["spec.template.spec.containers: Required value"]
        );
        assert_eq!(
            create_errors(Kind::Job, |j| j["spec"]["template"]["spec"]["restartPolicy"] = json!("Always")),
            vec![
                "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
            ]
        );
        assert_eq!(
            create_errors(Kind::Job, |j| j["spec"]["backoffLimit"] = json!(-1)),
            vec!["spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0"]
        );
        assert_eq!(
            create_errors(Kind::CronJob, |j| j["spec"]["schedule"] = json!("every minute")),
            vec!["spec.schedule: Invalid value: \"every minute\": expected exactly 5 fields, found 2: [every minute]"]
        );
        assert_eq!(
            create_errors(Kind::CronJob, |j| {
                j["spec"].as_object_mut().unwrap().remove("schedule");
            }),
            vec!["spec.schedule: Required value"]
        );
    }

    #[test]
    fn metadata_rules_apply_to_every_kind() {
        for info in crate::kinds::KINDS {
            let errs =
                create_errors(info.kind, |o| o["metadata"]["finalizers"] = json!(["orphan", "foregroundDeletion"]));
            assert_eq!(
                errs,
                vec![
                    "metadata.finalizers: Invalid value: []string{\"orphan\", \"foregroundDeletion\"}: finalizer orphan and foregroundDeletion cannot be both set"
                ],
                "{:?}",
                info.kind
            );
            let mut old = defaulted(info.kind, |o| o["metadata"]["uid"] = json!("uid-1"));
            old["metadata"]["uid"] = json!("uid-1");
            let mut changed = old.clone();
            changed["metadata"]["uid"] = json!("uid-2");
            let msgs: Vec<String> = validate(info.kind, &changed, Some(&old)).iter().map(FieldError::message).collect();
            assert_eq!(msgs, vec!["metadata.uid: Invalid value: \"uid-2\": field is immutable"], "{:?}", info.kind);
            let mut omitted = old.clone();
            omitted["metadata"].as_object_mut().unwrap().remove("uid");
            assert!(validate(info.kind, &omitted, Some(&old)).is_empty(), "a missing uid is the stored one");
        }
    }

    #[test]
    fn finalizers_cannot_be_added_while_deleting() {
        let mut old = defaulted(Kind::Deployment, |_| {});
        old["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
        let mut new = old.clone();
        new["metadata"]["finalizers"] = json!(["example.com/hold"]);
        let msgs: Vec<String> = validate(Kind::Deployment, &new, Some(&old)).iter().map(FieldError::message).collect();
        assert_eq!(
            msgs,
            vec![
                "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"example.com/hold\"}"
            ]
        );
    }

    #[test]
    fn zero_values_compare_equal_to_missing_fields() {
        assert_eq!(normalized(&json!({"a": [], "b": {}, "c": null, "d": false, "e": 0, "f": ""})), json!({}));
        assert_eq!(normalized(&json!({"a": {"b": [1, {"c": null}]}})), json!({"a": {"b": [1, {}]}}));
    }

    #[test]
    fn a_non_object_is_one_type_error() {
        let msgs: Vec<String> = validate(Kind::Pod, &json!([1]), None).iter().map(FieldError::message).collect();
        assert_eq!(msgs, vec![": Invalid value: [1]: must be of type object"]);
    }
}
