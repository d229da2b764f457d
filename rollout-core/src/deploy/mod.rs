//! Rolling updates: set images on existing workloads (or apply manifests), after preflight checks,
//! then wait for the rollout and, if asked, roll a failure back.
//!
//! This module owns the writes that start a rollout. Setting images is ONE strategic merge patch per
//! workload, with field manager `rollout`, that also records `kubernetes.io/change-cause`, and that
//! carries the resourceVersion the change was decided on, so a concurrent writer is never silently
//! overwritten (a conflict makes us read again and decide again). A workload already at the asked
//! images is not written at all (`unchanged`). Before any write, every preflight check runs for every
//! workload; one failure and nothing changes ([`Error::PreflightFailed`]).
//!
//! The decisions are pure and live in [`patch`] (which containers, what patch) and [`preflight`]
//! (each check); waiting lives in [`crate::wait`], rollback in [`crate::history`]. Looking images up in
//! ECR goes through the small [`ImageLookup`] trait, so this module needs no registry client.

mod apply;
mod patch;
mod preflight;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{StreamExt, stream};
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde_json::Value;
use tokio::time::Instant;

pub use apply::{AppliedObject, ApplyAction, ApplyOptions, ApplyReport, apply, parse_manifests};
pub use patch::{
    ALL_CONTAINERS, ContainerChange, ImageChange, NewImage, Resolution, SetImage, SetTag, default_change_cause,
    image_patch, resolve_changes, retag,
};
pub use preflight::{
    CheckName, CheckStatus, FailedCheck, ImageExistence, PreflightCheck, PreflightInput, list_failed_checks, run_checks,
};

use crate::cluster::{api_error, is_conflict, is_not_found, retry};
use crate::error::{Error, Result};
use crate::history::{RollbackTo, start_rollback, status_context};
use crate::image::ImageRef;
use crate::report::{CombinedReport, ImageUpdate, Operation, Outcome, RolloutReport};
use crate::status::WorkloadKind;
use crate::wait::{NOT_FOUND_REASON, Progress, ProgressEvent, WaitOptions, Watch, Watched, cluster_index, watch_all};
use crate::workload::{CHANGE_CAUSE_ANNOTATION, FIELD_MANAGER, Workload, WorkloadRef, selector_string};

/// Answers whether an image exists in its registry; the preflight check `image-exists` asks it about
/// every new image whose host is ECR.
pub trait ImageLookup: Send + Sync {
    /// Whether `image` (by tag or digest) exists in its repository.
    fn image_exists<'a>(&'a self, image: &'a ImageRef) -> BoxFuture<'a, Result<bool>>;
}

impl ImageLookup for crate::registry::Registry {
    fn image_exists<'a>(&'a self, image: &'a ImageRef) -> BoxFuture<'a, Result<bool>> {
        Box::pin(crate::registry::Registry::image_exists(self, image))
    }
}

/// The `image-exists` lookup for a run whose images are not known up front: it builds its ECR client
/// on the first image it is asked about, so a deploy of images outside ECR needs no AWS configuration
/// at all. The region is `options.region` when given, else the region in the image's registry host
/// (`<account>.dkr.ecr.<region>.amazonaws.com`); credentials and the endpoint come from the options
/// and the usual chains ([`crate::clients::ecr_client`]). A client that cannot be built makes each
/// lookup fail, which fails the check and ends the deploy, before any change, in that error (switch
/// the check off to deploy anyway).
pub struct RegistryLookup {
    options: crate::clients::AwsOptions,
    registry: tokio::sync::OnceCell<crate::registry::Registry>,
}

impl RegistryLookup {
    /// A lookup that builds its client from `options` when first used.
    pub fn new(options: crate::clients::AwsOptions) -> Self {
        RegistryLookup { options, registry: tokio::sync::OnceCell::new() }
    }
}

impl fmt::Debug for RegistryLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryLookup").field("options", &self.options).finish_non_exhaustive()
    }
}

impl ImageLookup for RegistryLookup {
    fn image_exists<'a>(&'a self, image: &'a ImageRef) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let registry = self
                .registry
                .get_or_try_init(|| async {
                    let mut options = self.options.clone();
                    if options.region.is_none() {
                        options.region = image.ecr_region().map(str::to_owned);
                    }
                    crate::registry::Registry::from_options(&options).await
                })
                .await?;
            registry.image_exists(image).await
        })
    }
}

/// One workload to update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployRequest {
    /// The workload; its `context` picks the cluster.
    pub target: WorkloadRef,
    /// The image changes.
    pub images: Vec<SetImage>,
    /// Tag changes: the image each named container runs now, with a new tag. They are turned into
    /// image changes ([`retag`]) against the workload as it is read, then checked like `images`.
    pub tags: Vec<SetTag>,
    /// The change-cause to record; by default `rollout: <container>=<image> …`.
    pub change_cause: Option<String>,
}

impl DeployRequest {
    /// A request with the default change-cause.
    pub fn new(target: WorkloadRef, images: Vec<SetImage>) -> Self {
        DeployRequest { target, images, tags: Vec::new(), change_cause: None }
    }

    /// The same request with one more change, of a whole image or of a tag.
    pub fn with_change(mut self, change: ImageChange) -> Self {
        match change {
            ImageChange::Image(set) => self.images.push(set),
            ImageChange::Tag(set) => self.tags.push(set),
        }
        self
    }
}

/// How to deploy.
#[derive(Clone)]
pub struct DeployOptions {
    /// How to wait for the rollout; its timeout bounds the whole deploy (checks, write and wait).
    pub wait: WaitOptions,
    /// Roll a failed or timed-out rollout back to the last known good revision and wait for that.
    pub rollback_on_failure: bool,
    /// How long the rollback's rollout may take. Defaults to the deploy's timeout.
    pub rollback_timeout: Duration,
    /// Preflight checks to switch off.
    pub skip_checks: BTreeSet<CheckName>,
    /// Where to look images up for the `image-exists` check; without one the check is skipped.
    pub image_lookup: Option<Arc<dyn ImageLookup>>,
    /// How many workloads are read and written at the same time. Default 16.
    pub concurrency: usize,
    /// Write the change and return without waiting for the rollout: the report's outcome is
    /// `started` (or `unchanged`). Cannot be combined with `rollback_on_failure`, which needs the wait.
    pub no_wait: bool,
    /// Read, check and compute the change, and write nothing: the report's outcome is `dry_run` (or
    /// `unchanged`) and its `patch` holds what would have been sent.
    pub dry_run: bool,
}

impl DeployOptions {
    /// Options with the given timeout and the defaults.
    pub fn new(timeout: Duration) -> Self {
        DeployOptions {
            wait: WaitOptions::new(timeout),
            rollback_on_failure: false,
            rollback_timeout: timeout,
            skip_checks: BTreeSet::new(),
            image_lookup: None,
            concurrency: 16,
            no_wait: false,
            dry_run: false,
        }
    }

    /// Refuses contradictory options: a rollback on failure needs the wait.
    fn check(&self) -> Result<()> {
        if self.no_wait && self.rollback_on_failure && !self.dry_run {
            return Err(Error::InvalidInput {
                field: "rollback_on_failure".into(),
                value: "true".into(),
                reason: "a rollback on failure needs to wait for the rollout; drop no_wait, or the rollback".into(),
            });
        }
        Ok(())
    }
}

impl fmt::Debug for DeployOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeployOptions")
            .field("wait", &self.wait)
            .field("rollback_on_failure", &self.rollback_on_failure)
            .field("rollback_timeout", &self.rollback_timeout)
            .field("skip_checks", &self.skip_checks)
            .field("image_lookup", &self.image_lookup.as_ref().map(|_| "configured"))
            .field("concurrency", &self.concurrency)
            .field("no_wait", &self.no_wait)
            .field("dry_run", &self.dry_run)
            .finish()
    }
}

/// Sets images on one workload, waits for the rollout, and rolls a failure back if asked.
///
/// Returns the report of a success (or of an unchanged workload). Errors: [`Error::WorkloadNotFound`],
/// [`Error::ContainerNotFound`], [`Error::PreflightFailed`] before anything changed (or, when the
/// `image-exists` check could not ask the registry, the registry's own error: credentials, network,
/// missing repository); [`Error::RolloutFailed`] / [`Error::RolloutTimedOut`] with the report (and its
/// rollback) after.
///
/// ```no_run
/// # async fn demo(client: kube::Client) -> rollout_core::Result<()> {
/// use std::time::Duration;
/// use rollout_core::deploy::{DeployOptions, DeployRequest, deploy};
/// use rollout_core::wait::no_progress;
/// use rollout_core::workload::WorkloadRef;
/// let request = DeployRequest::new(
///     WorkloadRef::deployment("shop", "ms-account-management"),
///     vec!["ms-account-management=123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/ms-account-management:latest-release-1.0.1".parse()?],
/// );
/// let mut options = DeployOptions::new(Duration::from_secs(600));
/// options.rollback_on_failure = true;
/// let report = deploy(&client, &request, &options, &no_progress).await?;
/// println!("{}", report.summary());
/// # Ok(()) }
/// ```
pub async fn deploy(
    client: &Client,
    request: &DeployRequest,
    options: &DeployOptions,
    progress: Progress<'_>,
) -> Result<RolloutReport> {
    let context = request.target.context.clone().unwrap_or_default();
    let clusters = [(context, client.clone())];
    let mut reports = run(&clusters, std::slice::from_ref(request), options, progress, true).await?;
    reports.remove(0).into_result()
}

/// Sets images on many workloads, across the given clusters (kube context name and client), waits for
/// all of them with one watch per cluster, namespace and kind, rolls failures back if asked, and
/// returns one combined report.
///
/// Every workload is read and checked first; if any is missing, names an unknown container, or fails
/// a preflight check, nothing is changed and the error says which. After that, a failed write or
/// rollout is an outcome in the combined report, not an error.
pub async fn deploy_all(
    clusters: &[(String, Client)],
    requests: &[DeployRequest],
    options: &DeployOptions,
    progress: Progress<'_>,
) -> Result<CombinedReport> {
    let started_at = Timestamp::now();
    let reports = run(clusters, requests, options, progress, false).await?;
    Ok(CombinedReport::new(started_at, reports))
}

/// A workload after planning: what it is and what changes.
struct Planned {
    cluster: usize,
    workload: Workload,
    resolution: Resolution,
    change_cause: String,
}

async fn run(
    clusters: &[(String, Client)],
    requests: &[DeployRequest],
    options: &DeployOptions,
    progress: Progress<'_>,
    single: bool,
) -> Result<Vec<RolloutReport>> {
    options.check()?;
    let started_at = Timestamp::now();
    let deadline = Instant::now() + options.wait.timeout;
    let skip = &options.skip_checks;
    let concurrency = options.concurrency.max(1);
    let indices: Vec<usize> = requests.iter().map(|r| cluster_index(clusters, &r.target)).collect::<Result<_>>()?;

    // Read every workload.
    let read = stream::iter(requests.iter().zip(&indices))
        .map(|(r, &i)| read_workload(&clusters[i].1, &r.target, deadline))
        .buffered(concurrency)
        .collect::<Vec<_>>()
        .await;
    let mut reports: Vec<RolloutReport> =
        requests.iter().map(|r| RolloutReport::begin(Operation::Deploy, r.target.clone(), started_at)).collect();
    let mut planned: Vec<Option<Planned>> = Vec::with_capacity(requests.len());
    for ((request, found), (&cluster, report)) in requests.iter().zip(read).zip(indices.iter().zip(reports.iter_mut()))
    {
        let Some(workload) = found? else {
            if !skip.contains(&CheckName::Workload) {
                return Err(Error::WorkloadNotFound { workload: Box::new(request.target.clone()) });
            }
            let message = format!("{} not found; nothing changed (the workload check is switched off)", request.target);
            report.finish(Outcome::Unchanged, Some(NOT_FOUND_REASON.into()), message);
            planned.push(None);
            continue;
        };
        let mut sets = request.images.clone();
        if !request.tags.is_empty() {
            sets.extend(retag(&request.target, workload.pod_spec(), &request.tags)?);
        }
        let resolution =
            resolve_changes(&request.target, workload.pod_spec(), &sets, skip.contains(&CheckName::Container))?;
        let change_cause = request.change_cause.clone().unwrap_or_else(|| default_change_cause(&resolution.changes));
        planned.push(Some(Planned { cluster, workload, resolution, change_cause }));
    }

    // Look the new ECR images up, once each.
    let lookups = match (&options.image_lookup, skip.contains(&CheckName::ImageExists)) {
        (Some(lookup), false) => {
            let mut wanted: BTreeSet<String> = BTreeSet::new();
            for p in planned.iter().flatten() {
                for c in p.resolution.changes.iter().filter(|c| c.changes()) {
                    if c.new.parse::<ImageRef>().is_ok_and(|i| i.is_ecr()) {
                        wanted.insert(c.new.clone());
                    }
                }
            }
            Some(look_up(lookup.as_ref(), wanted, concurrency).await)
        }
        _ => None,
    };

    // Run every check before changing anything.
    let mut failed = Vec::new();
    for ((p, report), request) in planned.iter().zip(reports.iter_mut()).zip(requests) {
        let Some(p) = p else { continue };
        let input = PreflightInput {
            workload: &p.workload,
            exists: true,
            changes: &p.resolution.changes,
            unknown_containers: &p.resolution.unknown,
            lookups: lookups.as_ref().map(|l| &l.answers),
            skip,
        };
        report.preflight = run_checks(&input);
        progress(&ProgressEvent::Preflight { target: request.target.clone(), checks: report.preflight.clone() });
        failed.extend(
            report
                .preflight
                .iter()
                .filter(|c| c.status == CheckStatus::Failed)
                .map(|c| FailedCheck { workload: request.target.clone(), check: c.clone() }),
        );
    }
    if !failed.is_empty() {
        return Err(refusal(lookups, failed));
    }

    if options.dry_run {
        for (p, report) in planned.iter().zip(reports.iter_mut()) {
            let Some(p) = p else { continue };
            dry_run_report(p, report);
        }
        return Ok(reports);
    }

    // Write.
    let writes = stream::iter(planned.iter().zip(requests).enumerate())
        .map(|(i, (p, request))| async move {
            let Some(p) = p else { return (i, None) };
            if !p.resolution.changes.iter().any(ContainerChange::changes) {
                return (i, None);
            }
            let client = &clusters[p.cluster].1;
            (i, Some(write_images(client, &request.target, p, deadline).await))
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await;
    let mut written: Vec<Option<Written>> = (0..requests.len()).map(|_| None).collect();
    for (i, result) in writes {
        let report = &mut reports[i];
        let Some(p) = planned[i].as_ref() else { continue };
        report.images = p.resolution.changes.iter().map(ContainerChange::to_update).collect();
        report.previous_revision = p.workload.revision();
        match result {
            None => {
                let images: Vec<String> =
                    p.resolution.changes.iter().map(|c| format!("{}={}", c.container, c.new)).collect();
                report.status = Some(p.workload.status(None));
                report.revision = p.workload.revision();
                report.finish(
                    Outcome::Unchanged,
                    Some("AlreadyAtImage".into()),
                    format!("already at {}; nothing written", images.join(" ")),
                );
            }
            Some(Err(e)) if single => return Err(e),
            Some(Err(e)) => report.finish(Outcome::Failed, Some("WriteFailed".into()), error_chain(&e)),
            Some(Ok(w)) => {
                report.change_cause = Some(w.change_cause.clone());
                report.images = w.changes.iter().map(ContainerChange::to_update).collect();
                progress(&ProgressEvent::Updated {
                    target: requests[i].target.clone(),
                    generation: w.workload.generation(),
                    change_cause: report.change_cause.clone(),
                    images: report.images.clone(),
                });
                written[i] = Some(w);
            }
        }
    }

    if options.no_wait {
        for (report, w) in reports.iter_mut().zip(&written) {
            let Some(w) = w else { continue };
            let generation = w.workload.generation().map(|g| format!(" (generation {g})")).unwrap_or_default();
            report.finish(
                Outcome::Started,
                None,
                format!(
                    "the change was written{generation}; not waiting for the rollout, which goes on in the cluster"
                ),
            );
        }
        return Ok(reports);
    }

    // Wait for everything written, with one engine run.
    let order: Vec<usize> = (0..requests.len()).filter(|i| written[*i].is_some()).collect();
    let watches: Vec<Watch> = order
        .iter()
        .map(|&i| {
            let w = written[i].as_ref().expect("filtered");
            Watch {
                workload: requests[i].target.clone(),
                cluster: indices[i],
                since: w.since.clone(),
                selector: w.workload.selector().and_then(selector_string),
            }
        })
        .collect();
    let results = watch_all(clusters, watches, &options.wait, deadline, progress).await;
    for (&i, result) in order.iter().zip(results) {
        let images = reports[i].images.clone();
        result.fill(&mut reports[i], Some(&images));
    }

    if options.rollback_on_failure {
        roll_back_failures(clusters, requests, &indices, &planned, &mut reports, options, progress).await;
    }
    Ok(reports)
}

/// Fills the report of a dry run: the change and the patch that would be sent, nothing written.
fn dry_run_report(p: &Planned, report: &mut RolloutReport) {
    report.images = p.resolution.changes.iter().map(ContainerChange::to_update).collect();
    report.previous_revision = p.workload.revision();
    report.revision = p.workload.revision();
    report.status = Some(p.workload.status(None));
    match image_patch(&p.resolution.changes, &p.change_cause, p.workload.resource_version()) {
        Some(patch) => {
            report.change_cause = Some(p.change_cause.clone());
            report.patch = Some(patch);
            let images: Vec<String> = p
                .resolution
                .changes
                .iter()
                .filter(|c| c.changes())
                .map(|c| format!("{}={}", c.container, c.new))
                .collect();
            report.finish(
                Outcome::DryRun,
                Some("DryRun".into()),
                format!("dry run: the checks passed; would set {}; nothing was written", images.join(" ")),
            );
        }
        None => {
            let images: Vec<String> =
                p.resolution.changes.iter().map(|c| format!("{}={}", c.container, c.new)).collect();
            report.finish(
                Outcome::Unchanged,
                Some("AlreadyAtImage".into()),
                format!("already at {}; nothing written", images.join(" ")),
            );
        }
    }
}

/// The full error chain in one line, for a report message.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    s
}

/// What the registry said of each new ECR image, and the first error of a lookup that could not be made.
pub(crate) struct Lookups {
    pub(crate) answers: BTreeMap<String, ImageExistence>,
    pub(crate) error: Option<Error>,
}

/// The error a failed preflight ends in: the registry's own error when it could not be asked (its
/// credentials, network or repository are what to fix, and its class is what the caller branches on),
/// [`Error::PreflightFailed`] otherwise.
pub(crate) fn refusal(lookups: Option<Lookups>, checks: Vec<FailedCheck>) -> Error {
    lookups.and_then(|l| l.error).unwrap_or(Error::PreflightFailed { checks })
}

async fn look_up(lookup: &dyn ImageLookup, wanted: BTreeSet<String>, concurrency: usize) -> Lookups {
    // Keyed by image, so that the error kept is the same whichever lookup finishes first.
    let results: BTreeMap<String, Result<bool>> = stream::iter(wanted)
        .map(|image| async move {
            let answer = match image.parse::<ImageRef>() {
                Ok(r) => lookup.image_exists(&r).await,
                Err(e) => Err(e),
            };
            (image, answer)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let mut lookups = Lookups { answers: BTreeMap::new(), error: None };
    for (image, answer) in results {
        let existence = match answer {
            Ok(true) => ImageExistence::Found,
            Ok(false) => ImageExistence::Missing,
            Err(e) => {
                let existence = ImageExistence::LookupFailed(error_chain(&e));
                lookups.error.get_or_insert(e);
                existence
            }
        };
        lookups.answers.insert(image, existence);
    }
    lookups
}

/// Reads a workload; `None` when it does not exist.
pub(crate) async fn read_workload(
    client: &Client,
    target: &WorkloadRef,
    deadline: Instant,
) -> Result<Option<Workload>> {
    let ns = &target.namespace;
    let result = match target.kind {
        WorkloadKind::Deployment => {
            let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
            retry(deadline, || api.get(&target.name)).await.map(Workload::Deployment)
        }
        WorkloadKind::StatefulSet => {
            let api: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
            retry(deadline, || api.get(&target.name)).await.map(Workload::StatefulSet)
        }
        WorkloadKind::DaemonSet => {
            let api: Api<DaemonSet> = Api::namespaced(client.clone(), ns);
            retry(deadline, || api.get(&target.name)).await.map(Workload::DaemonSet)
        }
    };
    match result {
        Ok(w) => Ok(Some(w)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(api_error(format!("get {target}"), e)),
    }
}

/// Sends a strategic merge patch to a workload, retrying transient failures.
async fn patch_workload(
    client: &Client,
    target: &WorkloadRef,
    patch: &Value,
    deadline: Instant,
) -> Result<Workload, kube::Error> {
    let params = PatchParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..PatchParams::default() };
    let ns = &target.namespace;
    let body = Patch::Strategic(patch);
    match target.kind {
        WorkloadKind::Deployment => {
            let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
            retry(deadline, || api.patch(&target.name, &params, &body)).await.map(Workload::Deployment)
        }
        WorkloadKind::StatefulSet => {
            let api: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
            retry(deadline, || api.patch(&target.name, &params, &body)).await.map(Workload::StatefulSet)
        }
        WorkloadKind::DaemonSet => {
            let api: Api<DaemonSet> = Api::namespaced(client.clone(), ns);
            retry(deadline, || api.patch(&target.name, &params, &body)).await.map(Workload::DaemonSet)
        }
    }
}

/// What one image write produced.
struct Written {
    workload: Workload,
    changes: Vec<ContainerChange>,
    change_cause: String,
    since: Option<crate::status::StatusContext>,
}

/// How many times an image write re-reads and retries after its precondition failed.
const MAX_WRITE_ATTEMPTS: u32 = 5;

/// Writes the planned image change, guarded by the resourceVersion it was decided on. On a conflict
/// the workload is read again: if it already has the images and our change-cause, the write went
/// through (an answer lost and the request retried); if a targeted container's image changed
/// meanwhile, [`Error::ConcurrentModification`]; otherwise (the status, replicas or other containers
/// moved) the change is written again on the fresh object, at most [`MAX_WRITE_ATTEMPTS`] times.
async fn write_images(client: &Client, target: &WorkloadRef, planned: &Planned, deadline: Instant) -> Result<Written> {
    let mut workload = planned.workload.clone();
    let changes = planned.resolution.changes.clone();
    let cause = planned.change_cause.clone();
    for attempt in 1..=MAX_WRITE_ATTEMPTS {
        let Some(patch) = image_patch(&changes, &cause, workload.resource_version()) else {
            return Ok(written(workload, changes, cause));
        };
        match patch_workload(client, target, &patch, deadline).await {
            Ok(updated) => return Ok(written(updated, changes, cause)),
            Err(e) if is_conflict(&e) && attempt < MAX_WRITE_ATTEMPTS => {
                let fresh = read_workload(client, target, deadline)
                    .await?
                    .ok_or_else(|| Error::WorkloadNotFound { workload: Box::new(target.clone()) })?;
                let images = fresh.images();
                let applied =
                    changes.iter().all(|c| images.iter().any(|i| i.container == c.container && i.image == c.new));
                if applied && fresh.annotation(CHANGE_CAUSE_ANNOTATION) == Some(cause.as_str()) {
                    return Ok(written(fresh, changes, cause));
                }
                // Another writer changed the workload. Changes elsewhere (replicas, other containers, the
                // status) do not concern us: write again on top of them. A change of a container we target
                // would be overwritten without anyone knowing, so that one is refused.
                let moved: Vec<String> = changes
                    .iter()
                    .filter(|c| !images.iter().any(|i| i.container == c.container && i.image == c.previous))
                    .map(|c| c.container.clone())
                    .collect();
                if !moved.is_empty() {
                    return Err(Error::ConcurrentModification {
                        workload: Box::new(target.clone()),
                        operation: format!("setting images (container {} changed meanwhile)", moved.join(", ")),
                    });
                }
                workload = fresh;
            }
            Err(e) if is_conflict(&e) => {
                return Err(Error::ConcurrentModification {
                    workload: Box::new(target.clone()),
                    operation: "setting images".into(),
                });
            }
            Err(e) => return Err(api_error(format!("patch {target}"), e)),
        }
    }
    unreachable!("the last attempt returns")
}

fn written(workload: Workload, changes: Vec<ContainerChange>, change_cause: String) -> Written {
    let since = match &workload {
        Workload::Deployment(d) => Some(status_context(d, None)),
        _ => None,
    };
    Written { workload, changes, change_cause, since }
}

/// Rolls back every failed or timed-out rollout: a Deployment to its last known good revision, a
/// StatefulSet or DaemonSet to the images it had; then waits for all rollbacks at once.
async fn roll_back_failures(
    clusters: &[(String, Client)],
    requests: &[DeployRequest],
    indices: &[usize],
    planned: &[Option<Planned>],
    reports: &mut [RolloutReport],
    options: &DeployOptions,
    progress: Progress<'_>,
) {
    let deadline = Instant::now() + options.rollback_timeout;
    let started_at = Timestamp::now();
    let mut watches = Vec::new();
    let mut waiting = Vec::new();
    for i in 0..requests.len() {
        let failed = matches!(reports[i].outcome, Outcome::Failed | Outcome::TimedOut)
            && !matches!(reports[i].reason.as_deref(), Some("WriteFailed" | "Deleted" | NOT_FOUND_REASON));
        let Some(p) = planned[i].as_ref().filter(|_| failed) else { continue };
        let target = &requests[i].target;
        let client = &clusters[indices[i]].1;
        let mut rb = RolloutReport::begin(Operation::Rollback, target.clone(), started_at);
        let reason = format!("the rollout {}: {}", reports[i].outcome, reports[i].message);
        let started = match target.kind {
            WorkloadKind::Deployment => {
                start_rollback(client, target, &RollbackTo::LastKnownGood, deadline, &mut rb, progress)
                    .await
                    .map(|s| s.map(|s| (Some(s.since), s.selector)))
            }
            WorkloadKind::StatefulSet | WorkloadKind::DaemonSet => {
                progress(&ProgressEvent::RollingBack {
                    target: target.clone(),
                    to_revision: None,
                    reason: reason.clone(),
                });
                restore_images(client, target, p, &reports[i].images, deadline, &mut rb).await
            }
        };
        match started {
            Ok(Some((since, selector))) => {
                watches.push(Watch { workload: target.clone(), cluster: indices[i], since, selector });
                waiting.push(i);
            }
            Ok(None) => {}
            Err(e) => rb.finish(Outcome::Failed, Some("RollbackFailed".into()), error_chain(&e)),
        }
        reports[i].rollback = Some(Box::new(rb));
    }
    let results: Vec<Watched> = watch_all(clusters, watches, &options.wait, deadline, progress).await;
    for (&i, result) in waiting.iter().zip(results) {
        if let Some(rb) = reports[i].rollback.as_mut() {
            let images = rb.images.clone();
            result.fill(rb, Some(&images));
        }
    }
    for report in reports.iter_mut() {
        if let Some(rb) = &report.rollback
            && rb.outcome.is_success()
        {
            report.outcome = Outcome::RolledBack;
        }
    }
}

/// Sets a StatefulSet's or DaemonSet's images back to what they were before our change.
async fn restore_images(
    client: &Client,
    target: &WorkloadRef,
    planned: &Planned,
    images: &[ImageUpdate],
    deadline: Instant,
    report: &mut RolloutReport,
) -> Result<Option<(Option<crate::status::StatusContext>, Option<String>)>> {
    let current = read_workload(client, target, deadline)
        .await?
        .ok_or_else(|| Error::WorkloadNotFound { workload: Box::new(target.clone()) })?;
    let sets: Vec<SetImage> = images
        .iter()
        .filter_map(|i| i.previous.as_ref().map(|p| (i, p)))
        .map(|(i, p)| Ok(SetImage::new(i.container.clone(), p.parse()?)))
        .collect::<Result<_>>()?;
    let resolution = resolve_changes(target, current.pod_spec(), &sets, true)?;
    let cause =
        format!("rollout: rollback {}", default_change_cause(&resolution.changes).trim_start_matches("rollout: "));
    let plan = Planned { cluster: planned.cluster, workload: current, resolution, change_cause: cause };
    report.images = plan.resolution.changes.iter().map(ContainerChange::to_update).collect();
    if !plan.resolution.changes.iter().any(ContainerChange::changes) {
        report.finish(Outcome::Unchanged, Some("AlreadyAtImage".into()), "the previous images are already set".into());
        return Ok(None);
    }
    let w = write_images(client, target, &plan, deadline).await?;
    report.change_cause = Some(w.change_cause.clone());
    Ok(Some((w.since, w.workload.selector().and_then(selector_string))))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn web(image: &str) -> Workload {
        Workload::Deployment(
            serde_json::from_value(json!({
                "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "41", "generation": 3,
                             "annotations": {"deployment.kubernetes.io/revision": "2"}},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                         "template": {"metadata": {"labels": {"app": "web"}},
                                      "spec": {"containers": [{"name": "app", "image": image}]}}},
                "status": {"observedGeneration": 3, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2,
                           "availableReplicas": 2}
            }))
            .unwrap(),
        )
    }

    fn planned(current: &str, new: &str) -> Planned {
        let workload = web(current);
        let target = WorkloadRef::deployment("shop", "web");
        let sets = vec![format!("app={new}").parse().unwrap()];
        let resolution = resolve_changes(&target, workload.pod_spec(), &sets, false).unwrap();
        let change_cause = default_change_cause(&resolution.changes);
        Planned { cluster: 0, workload, resolution, change_cause }
    }

    fn begin() -> RolloutReport {
        RolloutReport::begin(Operation::Deploy, WorkloadRef::deployment("shop", "web"), Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn a_dry_run_reports_the_patch_it_would_send_and_the_revision_it_leaves() {
        let mut report = begin();
        dry_run_report(&planned("repo/app:1", "repo/app:2"), &mut report);
        assert_eq!(report.outcome, Outcome::DryRun);
        assert_eq!(report.message, "dry run: the checks passed; would set app=repo/app:2; nothing was written");
        assert_eq!(
            report.patch,
            Some(json!({
                "metadata": {"resourceVersion": "41", "annotations": {"kubernetes.io/change-cause": "rollout: app=repo/app:2"}},
                "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "repo/app:2"}]}}}
            }))
        );
        assert_eq!((report.previous_revision, report.revision), (Some(2), Some(2)));
        assert_eq!(report.images[0].previous.as_deref(), Some("repo/app:1"));
        assert!(report.clone().into_result().is_ok(), "a dry run is a success");
    }

    #[test]
    fn a_dry_run_of_the_current_image_is_unchanged_without_a_patch() {
        let mut report = begin();
        dry_run_report(&planned("repo/app:1", "repo/app:1"), &mut report);
        assert_eq!(report.outcome, Outcome::Unchanged);
        assert_eq!(report.reason.as_deref(), Some("AlreadyAtImage"));
        assert_eq!(report.patch, None);
    }

    #[test]
    fn not_waiting_and_rolling_back_on_failure_contradict_each_other() {
        let mut options = DeployOptions::new(Duration::from_secs(60));
        options.no_wait = true;
        assert!(options.check().is_ok());
        options.rollback_on_failure = true;
        let err = options.check().unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid rollback_on_failure \"true\": a rollback on failure needs to wait for the rollout; drop \
             no_wait, or the rollback"
        );
        options.dry_run = true;
        assert!(options.check().is_ok(), "a dry run neither waits nor rolls back");
    }

    #[test]
    fn requests_collect_image_and_tag_changes() {
        let request = DeployRequest::new(WorkloadRef::deployment("shop", "web"), Vec::new())
            .with_change("repo/app:2".parse::<NewImage>().unwrap().for_container(Some("app")))
            .with_change(":3".parse::<NewImage>().unwrap().for_container(Some("proxy")));
        assert_eq!(request.images.iter().map(ToString::to_string).collect::<Vec<_>>(), ["app=repo/app:2"]);
        assert_eq!(request.tags.iter().map(ToString::to_string).collect::<Vec<_>>(), ["proxy=:3"]);
    }
}
