//! Applying manifests, the seed workflow's `kubectl apply -f` path: multi-document YAML, server-side
//! apply with field manager `rollout`, an optional image override, the same preflight checks as
//! setting images, then a wait for the Deployments, StatefulSets and DaemonSets among them.

use std::collections::BTreeMap;

use jiff::Timestamp;
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{Scope, pinned_kind};
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use super::patch::{ALL_CONTAINERS, ContainerChange, Resolution, SetImage, SetTag, default_change_cause};
use super::preflight::{CheckName, CheckStatus, FailedCheck, PreflightInput, run_checks};
use super::{DeployOptions, DeployRequest, Planned, look_up, read_workload, refusal, roll_back_failures};
use crate::cluster::{api_error, is_not_found, retry};
use crate::error::{Error, Result};
use crate::image::ImageRef;
use crate::report::{CombinedReport, Operation, Outcome, RolloutReport};
use crate::status::WorkloadKind;
use crate::wait::{Progress, ProgressEvent, Watch, cluster_index, watch_all};
use crate::workload::{CHANGE_CAUSE_ANNOTATION, FIELD_MANAGER, Workload, WorkloadRef, pod_images, selector_string};

/// How to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// The namespace of documents that name none.
    pub namespace: String,
    /// Take over fields other field managers own (server-side apply's `force`).
    pub force: bool,
    /// Images to set in the manifests before applying, by container name (in every workload that has
    /// such a container; a name that matches none is an error). A change without a name applies to
    /// the only app container of the only workload.
    pub image_overrides: Vec<SetImage>,
    /// New tags to set in the manifests before applying, for the image each named container has in
    /// them (as [`ApplyOptions::image_overrides`] name containers).
    pub tag_overrides: Vec<SetTag>,
    /// The change-cause to record on workloads whose images change; by default
    /// `rollout: <container>=<image> …`.
    pub change_cause: Option<String>,
    /// The checks, the wait and the rollback, as for setting images.
    pub deploy: DeployOptions,
}

impl ApplyOptions {
    /// Options for the given default namespace and timeout.
    pub fn new(namespace: impl Into<String>, timeout: std::time::Duration) -> Self {
        ApplyOptions {
            namespace: namespace.into(),
            force: false,
            image_overrides: Vec::new(),
            tag_overrides: Vec::new(),
            change_cause: None,
            deploy: DeployOptions::new(timeout),
        }
    }
}

/// What server-side apply did to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyAction {
    /// It did not exist.
    Created,
    /// It changed.
    Configured,
    /// It was already as the manifest says.
    Unchanged,
}

/// One applied object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedObject {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// The namespace, for namespaced kinds.
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
    /// What happened.
    pub action: ApplyAction,
}

/// What an apply did: the objects, and the rollouts of the workloads among them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApplyReport {
    /// Every object, in manifest order.
    pub applied: Vec<AppliedObject>,
    /// The rollout of every Deployment, StatefulSet and DaemonSet applied.
    pub rollouts: CombinedReport,
}

/// Splits multi-document YAML into objects: empty documents are skipped and `kind: List` documents
/// are expanded. Every object needs `apiVersion`, `kind` and `metadata.name`.
pub fn parse_manifests(text: &str) -> Result<Vec<Value>> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text)
        .map_err(|e| Error::InvalidManifest { document: 1, reason: format!("not valid YAML: {e}") })?;
    let mut out = Vec::new();
    for (i, doc) in docs.into_iter().enumerate() {
        let document = i + 1;
        match doc {
            Value::Null => {}
            Value::Object(_) if doc.get("kind").and_then(Value::as_str) == Some("List") => {
                for item in doc.get("items").and_then(Value::as_array).into_iter().flatten() {
                    out.push(checked(item.clone(), document)?);
                }
            }
            Value::Object(_) => out.push(checked(doc, document)?),
            other => {
                return Err(Error::InvalidManifest {
                    document,
                    reason: format!(
                        "expected a mapping with apiVersion, kind and metadata, found {}",
                        type_name(&other)
                    ),
                });
            }
        }
    }
    Ok(out)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn checked(doc: Value, document: usize) -> Result<Value> {
    for (pointer, field) in [("/apiVersion", "apiVersion"), ("/kind", "kind"), ("/metadata/name", "metadata.name")] {
        if doc.pointer(pointer).and_then(Value::as_str).is_none_or(str::is_empty) {
            return Err(Error::InvalidManifest { document, reason: format!("{field} is missing or not a string") });
        }
    }
    Ok(doc)
}

/// The workload kind of an object, if it is one rollout follows.
fn workload_kind(doc: &Value) -> Option<WorkloadKind> {
    if doc.get("apiVersion").and_then(Value::as_str) != Some("apps/v1") {
        return None;
    }
    match doc.get("kind").and_then(Value::as_str)? {
        "Deployment" => Some(WorkloadKind::Deployment),
        "StatefulSet" => Some(WorkloadKind::StatefulSet),
        "DaemonSet" => Some(WorkloadKind::DaemonSet),
        _ => None,
    }
}

/// Sets the override images and tags in the workload documents. Every override must match a container.
fn override_images(docs: &mut [Value], overrides: &[SetImage], tags: &[SetTag]) -> Result<()> {
    for o in overrides {
        let image = o.image.to_string();
        override_containers(docs, o.container.as_deref(), &o.to_string(), |_| Ok(image.clone()))?;
    }
    for t in tags {
        let text = t.to_string();
        override_containers(docs, t.container.as_deref(), &text, |current| {
            let current: ImageRef = current.parse().map_err(|e: Error| Error::InvalidInput {
                field: "image".into(),
                value: text.clone(),
                reason: format!("the manifest's image {current:?} cannot be re-tagged: {e}"),
            })?;
            Ok(current.with_tag(t.tag.clone()).to_string())
        })?;
    }
    Ok(())
}

/// Replaces the image of the containers `container` names (`*`: all; `None`: the only app container
/// of the only workload) with what `new_image` makes of the current one.
fn override_containers(
    docs: &mut [Value],
    container: Option<&str>,
    text: &str,
    new_image: impl Fn(&str) -> Result<String>,
) -> Result<()> {
    let workloads: Vec<usize> = (0..docs.len()).filter(|&i| workload_kind(&docs[i]).is_some()).collect();
    let mut matched = false;
    for &i in &workloads {
        for list in ["initContainers", "containers"] {
            let pointer = format!("/spec/template/spec/{list}");
            let Some(containers) = docs[i].pointer_mut(&pointer).and_then(Value::as_array_mut) else { continue };
            let single = list == "containers" && containers.len() == 1 && workloads.len() == 1;
            for c in containers.iter_mut() {
                let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
                let hit = match container {
                    Some(ALL_CONTAINERS) => true,
                    Some(wanted) => wanted == name,
                    None => single,
                };
                if hit {
                    let current = c.get("image").and_then(Value::as_str).unwrap_or_default().to_owned();
                    c["image"] = Value::String(new_image(&current)?);
                    matched = true;
                }
            }
        }
    }
    if !matched {
        return Err(Error::InvalidInput {
            field: "image".into(),
            value: text.to_owned(),
            reason: match container {
                Some(name) => format!("no workload in the manifests has a container named {name:?}"),
                None => "name the container: the manifests do not hold exactly one workload with one container".into(),
            },
        });
    }
    Ok(())
}

/// Applies manifests (server-side apply, field manager `rollout`) and waits for the workloads among
/// them, after the preflight checks of every workload (a failure changes nothing).
///
/// Errors: [`Error::InvalidManifest`], [`Error::PreflightFailed`] (or the registry's error when the
/// `image-exists` check could not ask it) and API errors before or while applying. Rollout failures
/// are outcomes in [`ApplyReport::rollouts`].
///
/// With `deploy.dry_run`, every document is sent with server-side dry run (`dryRun=All`): the API
/// server validates and defaults it and persists nothing; the workloads' reports say `dry_run` (or
/// `unchanged`) and carry the document in `patch`. With `deploy.no_wait`, the workloads that changed
/// are reported `started` without a wait.
pub async fn apply(
    client: &Client,
    manifests: &str,
    options: &ApplyOptions,
    progress: Progress<'_>,
) -> Result<ApplyReport> {
    options.deploy.check()?;
    let started_at = Timestamp::now();
    let deadline = Instant::now() + options.deploy.wait.timeout;
    let mut docs = parse_manifests(manifests)?;
    override_images(&mut docs, &options.image_overrides, &options.tag_overrides)?;

    // The workloads among the documents, with what changes.
    struct Item {
        doc: usize,
        target: WorkloadRef,
        manifest: Workload,
        existing: Option<Workload>,
        changes: Vec<ContainerChange>,
    }
    let mut items = Vec::new();
    for (i, doc) in docs.iter_mut().enumerate() {
        let Some(kind) = workload_kind(doc) else { continue };
        if doc.pointer("/metadata/namespace").and_then(Value::as_str).is_none_or(str::is_empty) {
            doc["metadata"]["namespace"] = Value::String(options.namespace.clone());
        }
        let invalid = |e: serde_json::Error| Error::InvalidManifest { document: i + 1, reason: e.to_string() };
        let manifest = match kind {
            WorkloadKind::Deployment => Workload::Deployment(serde_json::from_value(doc.clone()).map_err(invalid)?),
            WorkloadKind::StatefulSet => Workload::StatefulSet(serde_json::from_value(doc.clone()).map_err(invalid)?),
            WorkloadKind::DaemonSet => Workload::DaemonSet(serde_json::from_value(doc.clone()).map_err(invalid)?),
        };
        let namespace = doc.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default();
        let target = WorkloadRef::new(kind, namespace, manifest.name());
        let existing = read_workload(client, &target, deadline).await?;
        let before = existing.as_ref().map(Workload::images).unwrap_or_default();
        let changes = pod_images(manifest.pod_spec())
            .into_iter()
            .map(|c| ContainerChange {
                previous: before
                    .iter()
                    .find(|b| b.container == c.container)
                    .map(|b| b.image.clone())
                    .unwrap_or_default(),
                container: c.container,
                init: c.init,
                new: c.image,
            })
            .collect();
        items.push(Item { doc: i, target, manifest, existing, changes });
    }

    // Checks, before anything is applied.
    let skip = &options.deploy.skip_checks;
    let lookups = match (&options.deploy.image_lookup, skip.contains(&CheckName::ImageExists)) {
        (Some(lookup), false) => {
            let wanted = items
                .iter()
                .flat_map(|it| it.changes.iter().filter(|c| c.changes()).map(|c| c.new.clone()))
                .filter(|i| i.parse::<ImageRef>().is_ok_and(|r| r.is_ecr()))
                .collect();
            Some(look_up(lookup.as_ref(), wanted, options.deploy.concurrency.max(1)).await)
        }
        _ => None,
    };
    let mut reports = Vec::new();
    let mut failed = Vec::new();
    for it in &items {
        let input = PreflightInput {
            workload: &it.manifest,
            exists: it.existing.is_some(),
            changes: &it.changes,
            unknown_containers: &[],
            lookups: lookups.as_ref().map(|l| &l.answers),
            skip,
        };
        let mut report = RolloutReport::begin(Operation::Apply, it.target.clone(), started_at);
        report.preflight = run_checks(&input);
        progress(&ProgressEvent::Preflight { target: it.target.clone(), checks: report.preflight.clone() });
        failed.extend(
            report
                .preflight
                .iter()
                .filter(|c| c.status == CheckStatus::Failed)
                .map(|c| FailedCheck { workload: it.target.clone(), check: c.clone() }),
        );
        report.images = it
            .changes
            .iter()
            .map(|c| {
                let mut u = c.to_update();
                u.previous = Some(c.previous.clone()).filter(|p| !p.is_empty());
                u
            })
            .collect();
        report.previous_revision = it.existing.as_ref().and_then(Workload::revision);
        reports.push(report);
    }
    if !failed.is_empty() {
        return Err(refusal(lookups, failed));
    }

    // Record the change-cause where images change; keep the recorded one where they do not, so that
    // applying the same manifests again changes nothing.
    for (it, report) in items.iter().zip(reports.iter_mut()) {
        let doc = &mut docs[it.doc];
        let own =
            doc.pointer(&format!("/metadata/annotations/{}", CHANGE_CAUSE_ANNOTATION.replace('/', "~1"))).cloned();
        let cause = if let Some(Value::String(own)) = own {
            Some(own)
        } else if it.changes.iter().any(ContainerChange::changes) {
            let changed: Vec<ContainerChange> = it.changes.iter().filter(|c| c.changes()).cloned().collect();
            Some(options.change_cause.clone().unwrap_or_else(|| default_change_cause(&changed)))
        } else {
            it.existing.as_ref().and_then(|w| w.annotation(CHANGE_CAUSE_ANNOTATION)).map(str::to_owned)
        };
        if let Some(cause) = &cause {
            let metadata = doc["metadata"].as_object_mut().expect("checked to be a mapping");
            let annotations = metadata.entry("annotations").or_insert_with(|| Value::Object(Default::default()));
            if let Some(map) = annotations.as_object_mut() {
                map.insert(CHANGE_CAUSE_ANNOTATION.to_owned(), Value::String(cause.clone()));
            }
        }
        report.change_cause = cause;
    }

    // Apply every document, in order.
    let mut params = PatchParams::apply(FIELD_MANAGER);
    params.force = options.force;
    params.dry_run = options.deploy.dry_run;
    let dry_run = options.deploy.dry_run;
    let mut applied = Vec::with_capacity(docs.len());
    let mut results: BTreeMap<usize, Value> = BTreeMap::new();
    let mut sent: BTreeMap<usize, Value> = BTreeMap::new();
    for (i, doc) in docs.iter().enumerate() {
        let (api_version, kind, name) = (
            doc["apiVersion"].as_str().unwrap_or_default().to_owned(),
            doc["kind"].as_str().unwrap_or_default().to_owned(),
            doc["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
        );
        let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
        let gvk = GroupVersionKind::gvk(group, version, &kind);
        let (resource, caps) = retry(deadline, || pinned_kind(client, &gvk))
            .await
            .map_err(|e| api_error(format!("discover {api_version} {kind}"), e))?;
        let namespaced = caps.scope == Scope::Namespaced;
        let namespace = namespaced.then(|| {
            doc.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or(&options.namespace)
                .to_owned()
        });
        let api: Api<DynamicObject> = match &namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        let mut doc = doc.clone();
        if let Some(ns) = &namespace {
            doc["metadata"]["namespace"] = Value::String(ns.clone());
        }
        let before_object = match retry(deadline, || api.get(&name)).await {
            Ok(o) => Some(o),
            Err(e) if is_not_found(&e) => None,
            Err(e) => return Err(api_error(format!("get {kind} {name}"), e)),
        };
        let before = before_object.as_ref().map(|o| o.metadata.resource_version.clone().unwrap_or_default());
        let body = Patch::Apply(&doc);
        let after = retry(deadline, || api.patch(&name, &params, &body))
            .await
            .map_err(|e| api_error(format!("apply {kind} {name}"), e))?;
        let action = match before {
            None => ApplyAction::Created,
            // A dry run persists nothing, so the resourceVersion never moves: compare the generations
            // (a spec change bumps it), and the objects themselves for kinds without one.
            Some(_) if dry_run => match &before_object {
                Some(b) if b.metadata.generation.is_some() && b.metadata.generation == after.metadata.generation => {
                    ApplyAction::Unchanged
                }
                Some(b) if b.metadata.generation.is_none() && b.data == after.data => ApplyAction::Unchanged,
                _ => ApplyAction::Configured,
            },
            Some(rv) if Some(&rv) == after.metadata.resource_version.as_ref() => ApplyAction::Unchanged,
            Some(_) => ApplyAction::Configured,
        };
        applied.push(AppliedObject { api_version, kind, namespace, name, action });
        results.insert(i, serde_json::to_value(&after).unwrap_or(Value::Null));
        if dry_run {
            sent.insert(i, doc);
        }
    }

    // Wait for the workloads that changed.
    let clusters = [(String::new(), client.clone())];
    let mut watches = Vec::new();
    let mut order = Vec::new();
    for (n, it) in items.iter().enumerate() {
        let action = applied[it.doc].action;
        let after = &results[&it.doc];
        let generation = after.pointer("/metadata/generation").and_then(Value::as_i64);
        let unchanged = action == ApplyAction::Unchanged
            || (it.existing.as_ref().and_then(Workload::generation) == generation && generation.is_some());
        if dry_run {
            let existing = it.existing.as_ref();
            reports[n].status = existing.map(|w| w.status(None));
            reports[n].revision = existing.and_then(Workload::revision);
            if unchanged {
                reports[n].finish(
                    Outcome::Unchanged,
                    Some("AlreadyApplied".into()),
                    "dry run: the manifest is already applied".into(),
                );
            } else {
                reports[n].patch = sent.remove(&it.doc);
                let what = if action == ApplyAction::Created { "create" } else { "configure" };
                reports[n].finish(
                    Outcome::DryRun,
                    Some("DryRun".into()),
                    format!("dry run: the checks passed and the API server accepted the manifest; would {what} {}; nothing was written", it.target),
                );
            }
            continue;
        }
        if unchanged {
            let existing = it.existing.as_ref();
            reports[n].status = existing.map(|w| w.status(None));
            reports[n].revision = existing.and_then(Workload::revision);
            reports[n].finish(
                Outcome::Unchanged,
                Some("AlreadyApplied".into()),
                "the manifest was already applied".into(),
            );
            continue;
        }
        let since = match it.target.kind {
            WorkloadKind::Deployment => {
                serde_json::from_value(after.clone()).ok().map(|d| crate::history::status_context(&d, None))
            }
            _ => None,
        };
        progress(&ProgressEvent::Updated {
            target: it.target.clone(),
            generation,
            change_cause: reports[n].change_cause.clone(),
            images: reports[n].images.clone(),
        });
        if options.deploy.no_wait {
            let generation = generation.map(|g| format!(" (generation {g})")).unwrap_or_default();
            reports[n].finish(
                Outcome::Started,
                None,
                format!(
                    "the manifest was applied{generation}; not waiting for the rollout, which goes on in the cluster"
                ),
            );
            continue;
        }
        let selector = it.manifest.selector().and_then(selector_string);
        watches.push(Watch {
            workload: it.target.clone(),
            cluster: cluster_index(&clusters, &it.target)?,
            since,
            selector,
        });
        order.push(n);
    }
    let results = watch_all(&clusters, watches, &options.deploy.wait, deadline, progress).await;
    for (&n, result) in order.iter().zip(results) {
        let images = reports[n].images.clone();
        result.fill(&mut reports[n], Some(&images));
    }

    if options.deploy.rollback_on_failure && !dry_run && !options.deploy.no_wait {
        let requests: Vec<DeployRequest> =
            items.iter().map(|it| DeployRequest::new(it.target.clone(), Vec::new())).collect();
        let indices = vec![0; items.len()];
        let planned: Vec<Option<Planned>> = items
            .iter()
            .map(|it| {
                it.existing.clone().map(|workload| Planned {
                    cluster: 0,
                    workload,
                    resolution: Resolution { changes: it.changes.clone(), unknown: Vec::new() },
                    change_cause: String::new(),
                })
            })
            .collect();
        roll_back_failures(&clusters, &requests, &indices, &planned, &mut reports, &options.deploy, progress).await;
    }
    Ok(ApplyReport { applied, rollouts: CombinedReport::new(started_at, reports) })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SEED: &str = include_str!("../../../examples/seed/deployment.yaml");

    #[test]
    fn manifests_split_into_objects_skipping_empty_documents_and_expanding_lists() {
        let text = format!(
            "{SEED}\n---\n# nothing here\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n"
        );
        let docs = parse_manifests(&text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0]["kind"], "Deployment");
        assert_eq!(docs[1]["metadata"]["name"], "a");
    }

    #[test]
    fn manifests_without_identity_are_refused_with_the_document_number() {
        let err = parse_manifests("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n").unwrap_err().to_string();
        assert_eq!(err, "invalid manifest (document 1): metadata.name is missing or not a string");
        let err =
            parse_manifests("---\napiVersion: v1\nkind: A\nmetadata: {name: a}\n---\n- 1\n").unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid manifest (document 2): expected a mapping with apiVersion, kind and metadata, found a list"
        );
        assert!(parse_manifests("a: [").is_err());
    }

    #[test]
    fn overrides_set_the_named_container_and_refuse_unknown_names() {
        let mut docs = parse_manifests(SEED).unwrap();
        let image = "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/ms-account-management:latest-release-1.0.1";
        override_images(&mut docs, &[format!("ms-account-management={image}").parse().unwrap()], &[]).unwrap();
        assert_eq!(docs[0]["spec"]["template"]["spec"]["containers"][0]["image"], json!(image));
        override_images(&mut docs, &[], &[":latest-release-1.0.2".parse().unwrap()]).unwrap();
        assert_eq!(
            docs[0]["spec"]["template"]["spec"]["containers"][0]["image"],
            json!(image.replace("1.0.1", "1.0.2")),
            "a tag override keeps the manifest's repository"
        );
        override_images(&mut docs, &["registry.example/x:2".parse().unwrap()], &[]).unwrap();
        assert_eq!(docs[0]["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example/x:2");
        let err = override_images(&mut docs, &["nope=registry.example/x:2".parse().unwrap()], &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid image \"nope=registry.example/x:2\": no workload in the manifests has a container named \"nope\""
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        #[test]
        fn manifest_parsing_never_panics(s in ".{0,200}") {
            let _ = parse_manifests(&s);
        }
    }
}
