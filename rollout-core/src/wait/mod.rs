//! Waiting for rollouts: many workloads at once, in one cluster or several, until each is complete,
//! has failed, or the timeout passes, with typed progress events on the way.
//!
//! This module owns the watching: per cluster and namespace it runs ONE watch per kind it needs
//! (the workloads' kind, ReplicaSets, pods and pod events), never one per workload, through kube's
//! `watcher` with its default back-off, so dropped streams reconnect, `410 Gone` relists and
//! throttling backs off. Every change re-judges the workloads of its namespace with the pure
//! decisions of [`crate::status`] (kubectl's status, guarded by our own write's [`StatusContext`]) and
//! [`crate::diagnosis`] (the new ReplicaSet's pods and their events), so a doomed rollout fails within
//! seconds with its reason instead of waiting out the progress deadline; failing containers get their
//! last log lines. When a Deployment's wait succeeds, its new ReplicaSet is marked healthy
//! ([`crate::history::HEALTHY_ANNOTATION_PREFIX`]) for later rollbacks to the last known good release.
//!
//! Every wait has a timeout (there is no way to wait forever), and the future is cancellation-safe:
//! dropping it drops every watch; nothing is spawned. It deliberately changes nothing but the health
//! mark: writing images and rolling back live in [`crate::deploy`] and [`crate::history`].

mod judge;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Debug;
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt};
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, LogParams, Patch, PatchParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, watcher};
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

pub use judge::describe_problem;
use judge::{Judgement, NewReplicaSet, Related, Verdict, judge, timeout_message};

use crate::cluster::{ServerClock, api_error, latest_time, remaining};
use crate::deploy::PreflightCheck;
use crate::diagnosis::{ContainerProblem, DiagnosisPolicy};
use crate::error::{Error, Result};
use crate::report::{CombinedReport, ImageUpdate, Operation, Outcome, RolloutReport, TIMEOUT_REASON};
use crate::status::{StatusContext, WorkloadKind, WorkloadStatus};
use crate::workload::{ContainerImage, FIELD_MANAGER, Workload, WorkloadRef};

/// Where progress events go: a callback run on the waiting task, so it should be quick.
pub type Progress<'a> = &'a (dyn Fn(&ProgressEvent) + Send + Sync);

/// A progress callback that ignores every event.
pub fn no_progress(_: &ProgressEvent) {}

/// Something that happened during a deploy, apply, wait or rollback, as it happened.
///
/// Serialized with an `event` tag: `{"event":"status","target":{…},"status":{…}}`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ProgressEvent {
    /// The preflight checks of a workload ran.
    Preflight {
        /// The workload.
        target: WorkloadRef,
        /// Every check with its result.
        checks: Vec<PreflightCheck>,
    },
    /// The workload was changed.
    Updated {
        /// The workload.
        target: WorkloadRef,
        /// The generation the change produced.
        generation: Option<i64>,
        /// The recorded change-cause.
        change_cause: Option<String>,
        /// The images before and after.
        images: Vec<ImageUpdate>,
    },
    /// The rollout status changed (kubectl's message is in `status.message`).
    Status {
        /// The workload.
        target: WorkloadRef,
        /// The new status.
        status: WorkloadStatus,
    },
    /// A new problem appeared in the rollout's pods (normal start-up steps are not reported).
    Problem {
        /// The workload.
        target: WorkloadRef,
        /// The problem.
        problem: ContainerProblem,
    },
    /// Something went wrong that rollout works around (a watch failed and is retried, a health mark
    /// could not be written, logs could not be read).
    Warning {
        /// The kube context, when several are in play.
        context: Option<String>,
        /// The namespace concerned.
        namespace: String,
        /// What went wrong.
        message: String,
    },
    /// A failed rollout is being rolled back.
    RollingBack {
        /// The workload.
        target: WorkloadRef,
        /// The revision it goes back to (`None` when the images are set back directly).
        to_revision: Option<i64>,
        /// Why.
        reason: String,
    },
    /// A workload's wait ended.
    Finished {
        /// The workload.
        target: WorkloadRef,
        /// How it ended.
        outcome: Outcome,
        /// Why, in words.
        message: String,
    },
}

impl ProgressEvent {
    /// One line of text for a terminal.
    pub fn message(&self) -> String {
        match self {
            ProgressEvent::Preflight { target, checks } => {
                let failed = checks.iter().filter(|c| c.status == crate::deploy::CheckStatus::Failed).count();
                format!("{target}: preflight: {} checks, {failed} failed", checks.len())
            }
            ProgressEvent::Updated { target, images, .. } => {
                let list: Vec<String> = images.iter().map(|i| format!("{}={}", i.container, i.new)).collect();
                format!("{target}: updated {}", list.join(" "))
            }
            ProgressEvent::Status { target, status } => format!("{target}: {}", status.message()),
            ProgressEvent::Problem { target, problem } => format!("{target}: {}", describe_problem(problem)),
            ProgressEvent::Warning { context, namespace, message } => match context {
                Some(c) if !c.is_empty() => format!("warning: {c}/{namespace}: {message}"),
                _ => format!("warning: {namespace}: {message}"),
            },
            ProgressEvent::RollingBack { target, to_revision, reason } => match to_revision {
                Some(r) => format!("{target}: rolling back to revision {r}: {reason}"),
                None => format!("{target}: rolling back to the previous images: {reason}"),
            },
            ProgressEvent::Finished { target, outcome, message } => format!("{target}: {outcome}: {message}"),
        }
    }
}

/// How to wait.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitOptions {
    /// How long to wait at most, from the start of the call. Required: nothing waits forever.
    pub timeout: Duration,
    /// When the new pods' problems count as fatal.
    pub diagnosis: DiagnosisPolicy,
    /// Fail as soon as the diagnosis says the rollout is doomed (default). When false, only kubectl's
    /// own verdict (the progress deadline) or the timeout ends a wait.
    pub fail_fast: bool,
    /// How many log lines to fetch for each failing container. Default 25.
    pub log_lines: i64,
    /// Mark the new ReplicaSet of a Deployment healthy when its wait succeeds. Default true.
    pub record_healthy: bool,
}

impl WaitOptions {
    /// Options with the given timeout and the defaults.
    pub fn new(timeout: Duration) -> Self {
        WaitOptions {
            timeout,
            diagnosis: DiagnosisPolicy::default(),
            fail_fast: true,
            log_lines: 25,
            record_healthy: true,
        }
    }
}

/// One workload to wait for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitTarget {
    /// The workload; its `context` picks the cluster.
    pub workload: WorkloadRef,
    /// What we know of our own write to it, to judge the status against that write.
    pub since: Option<StatusContext>,
}

/// Waits for one workload's rollout, judging the status as kubectl does (without knowledge of a write
/// of ours) plus the pod diagnosis.
///
/// Returns the report for a success; [`Error::RolloutFailed`] / [`Error::RolloutTimedOut`] carry it
/// otherwise; [`Error::WorkloadNotFound`] when the workload does not exist.
///
/// ```no_run
/// # async fn demo(client: kube::Client) -> rollout_core::Result<()> {
/// use std::time::Duration;
/// use rollout_core::wait::{WaitOptions, no_progress, wait};
/// use rollout_core::workload::WorkloadRef;
/// let report = wait(&client, &WorkloadRef::deployment("shop", "web"), &WaitOptions::new(Duration::from_secs(300)), &no_progress).await?;
/// println!("{}", report.message);
/// # Ok(()) }
/// ```
pub async fn wait(
    client: &Client,
    workload: &WorkloadRef,
    options: &WaitOptions,
    progress: Progress<'_>,
) -> Result<RolloutReport> {
    let context = workload.context.clone().unwrap_or_default();
    let target = WaitTarget { workload: workload.clone(), since: None };
    let mut combined = wait_all(&[(context, client.clone())], &[target], options, progress).await?;
    let report = combined.reports.remove(0);
    if report.reason.as_deref() == Some(NOT_FOUND_REASON) {
        return Err(Error::WorkloadNotFound { workload: Box::new(workload.clone()) });
    }
    report.into_result()
}

/// Waits for many workloads at once, across the given clusters (kube context name and client), and
/// returns one combined report. Each target's `workload.context` names its cluster; with one cluster,
/// a target without a context belongs to it.
///
/// Uses one watch per cluster, namespace and kind. Failures of individual workloads are outcomes in
/// the combined report, not errors; an error means the call itself was invalid.
pub async fn wait_all(
    clusters: &[(String, Client)],
    targets: &[WaitTarget],
    options: &WaitOptions,
    progress: Progress<'_>,
) -> Result<CombinedReport> {
    let started_at = Timestamp::now();
    let deadline = Instant::now() + options.timeout;
    let mut watches = Vec::with_capacity(targets.len());
    for t in targets {
        let cluster = cluster_index(clusters, &t.workload)?;
        watches.push(Watch { workload: t.workload.clone(), cluster, since: t.since.clone(), selector: None });
    }
    let results = watch_all(clusters, watches, options, deadline, progress).await;
    let reports = targets
        .iter()
        .zip(results)
        .map(|(t, w)| {
            let mut report = RolloutReport::begin(Operation::Wait, t.workload.clone(), started_at);
            w.fill(&mut report, None);
            report
        })
        .collect();
    Ok(CombinedReport::new(started_at, reports))
}

/// A workload's rollout status as it is now, read once.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurrentStatus {
    /// The workload.
    pub target: WorkloadRef,
    /// Its status, as kubectl's `rollout status --watch=false` judges it (with kubectl's message).
    pub status: WorkloadStatus,
}

/// Reads each workload once and judges its rollout status as `kubectl rollout status --watch=false`
/// does: no waiting, no pod diagnosis. Each target's `context` names its cluster, as for [`wait_all`].
///
/// Errors: [`Error::WorkloadNotFound`] for a workload that does not exist.
pub async fn current_status(clusters: &[(String, Client)], targets: &[WorkloadRef]) -> Result<Vec<CurrentStatus>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut out = Vec::with_capacity(targets.len());
    for target in targets {
        let client = &clusters[cluster_index(clusters, target)?].1;
        let workload = crate::deploy::read_workload(client, target, deadline)
            .await?
            .ok_or_else(|| Error::WorkloadNotFound { workload: Box::new(target.clone()) })?;
        out.push(CurrentStatus { target: target.clone(), status: workload.status(None) });
    }
    Ok(out)
}

/// The index of the cluster a workload lives in.
pub(crate) fn cluster_index(clusters: &[(String, Client)], workload: &WorkloadRef) -> Result<usize> {
    let known = || clusters.iter().map(|(c, _)| format!("{c:?}")).collect::<Vec<_>>().join(", ");
    match &workload.context {
        Some(context) => {
            if let Some(i) = clusters.iter().position(|(c, _)| c == context) {
                Ok(i)
            } else if clusters.len() == 1 && clusters[0].0.is_empty() {
                Ok(0)
            } else {
                Err(Error::InvalidInput {
                    field: "context".into(),
                    value: context.clone(),
                    reason: format!("no client was given for this kube context; the contexts given are {}", known()),
                })
            }
        }
        None if clusters.len() == 1 => Ok(0),
        None => Err(Error::InvalidInput {
            field: "context".into(),
            value: String::new(),
            reason: format!("{workload} names no kube context, but several were given: {}", known()),
        }),
    }
}

/// The reason of a report whose workload does not exist.
pub(crate) const NOT_FOUND_REASON: &str = "NotFound";

/// One workload for the engine.
#[derive(Debug, Clone)]
pub(crate) struct Watch {
    pub workload: WorkloadRef,
    pub cluster: usize,
    pub since: Option<StatusContext>,
    /// The workload's pod selector, when known, to narrow the pod watch of a namespace with one workload.
    pub selector: Option<String>,
}

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitOutcome {
    Succeeded,
    Failed,
    TimedOut,
}

/// What the engine found for one workload.
#[derive(Debug, Clone)]
pub(crate) struct Watched {
    pub outcome: WaitOutcome,
    pub reason: Option<String>,
    pub message: String,
    pub status: Option<WorkloadStatus>,
    pub problems: Vec<ContainerProblem>,
    pub new_replica_set: Option<String>,
    pub revision: Option<i64>,
    pub images: Vec<ContainerImage>,
}

impl Watched {
    /// Writes what the wait found into a report. `previous` gives the images before a change, by
    /// container name, when the report is about a change; otherwise the template's images are listed.
    pub(crate) fn fill(self, report: &mut RolloutReport, previous: Option<&[ImageUpdate]>) {
        let outcome = match self.outcome {
            WaitOutcome::Succeeded => Outcome::Succeeded,
            WaitOutcome::Failed => Outcome::Failed,
            WaitOutcome::TimedOut => Outcome::TimedOut,
        };
        report.status = self.status;
        report.problems = self.problems;
        report.new_replica_set = self.new_replica_set.or(report.new_replica_set.take());
        report.revision = self.revision.or(report.revision);
        if previous.is_none() && report.images.is_empty() {
            report.images = self
                .images
                .into_iter()
                .map(|c| ImageUpdate { container: c.container, init: c.init, previous: None, new: c.image })
                .collect();
        }
        report.finish(outcome, self.reason, self.message);
    }
}

/// One object cache fed by a watcher, with the watcher's relist protocol: objects listed during a
/// re-initialisation replace the cache at `InitDone`.
///
/// Two indexes keep every lookup of a wait proportional to the objects of one workload rather than to
/// the whole namespace (a namespace of hundreds of workloads holds thousands of pods and events): keys
/// by object name, and keys by parent, where an object's parents are what `parents` says (the uids of
/// the controllers owning a ReplicaSet or a pod, the name of the pod an event is about).
struct Cache<K> {
    ready: bool,
    items: BTreeMap<String, K>,
    buffer: Option<BTreeMap<String, K>>,
    names: HashMap<String, String>,
    parents: fn(&K) -> Vec<String>,
    children: HashMap<String, BTreeSet<String>>,
}

impl<K: Resource> Cache<K> {
    fn new(wanted: bool, parents: fn(&K) -> Vec<String>) -> Self {
        Cache {
            ready: !wanted,
            items: BTreeMap::new(),
            buffer: None,
            names: HashMap::new(),
            parents,
            children: HashMap::new(),
        }
    }

    fn key(obj: &K) -> String {
        let meta = obj.meta();
        meta.uid.clone().or_else(|| meta.name.clone()).unwrap_or_default()
    }

    /// Applies a watcher event; returns whether the cache is ready and something may have changed.
    fn apply(&mut self, event: watcher::Event<K>) -> bool {
        match event {
            watcher::Event::Init => {
                self.buffer = Some(BTreeMap::new());
                false
            }
            watcher::Event::InitApply(obj) => {
                let key = Self::key(&obj);
                self.buffer.get_or_insert_with(BTreeMap::new).insert(key, obj);
                false
            }
            watcher::Event::InitDone => {
                if let Some(buffer) = self.buffer.take() {
                    self.items = buffer;
                    self.names.clear();
                    self.children.clear();
                    let keys: Vec<String> = self.items.keys().cloned().collect();
                    for key in keys {
                        self.index(&key);
                    }
                }
                self.ready = true;
                true
            }
            watcher::Event::Apply(obj) => {
                let key = Self::key(&obj);
                if let Some(old) = self.items.insert(key.clone(), obj) {
                    self.unindex(&key, &old);
                }
                self.index(&key);
                self.ready
            }
            watcher::Event::Delete(obj) => {
                let key = Self::key(&obj);
                if let Some(old) = self.items.remove(&key) {
                    self.unindex(&key, &old);
                }
                self.ready
            }
        }
    }

    fn index(&mut self, key: &str) {
        let Some(obj) = self.items.get(key) else { return };
        if let Some(name) = obj.meta().name.clone() {
            self.names.insert(name, key.to_owned());
        }
        for parent in (self.parents)(obj) {
            self.children.entry(parent).or_default().insert(key.to_owned());
        }
    }

    fn unindex(&mut self, key: &str, old: &K) {
        if let Some(name) = old.meta().name.as_deref()
            && self.names.get(name).is_some_and(|k| k == key)
        {
            self.names.remove(name);
        }
        for parent in (self.parents)(old) {
            if let Some(keys) = self.children.get_mut(&parent) {
                keys.remove(key);
                if keys.is_empty() {
                    self.children.remove(&parent);
                }
            }
        }
    }

    fn find(&self, name: &str) -> Option<&K> {
        self.names.get(name).and_then(|key| self.items.get(key))
    }

    /// The objects with any of these parents, in key order (the order of `items`).
    fn children_of<'a>(&self, parents: impl IntoIterator<Item = &'a str>) -> Vec<&K> {
        let mut keys: Vec<&String> = parents.into_iter().filter_map(|p| self.children.get(p)).flatten().collect();
        keys.sort_unstable();
        keys.dedup();
        keys.into_iter().filter_map(|k| self.items.get(k)).collect()
    }
}

/// The objects a cache of workloads indexes under: none.
fn no_parents<K>(_: &K) -> Vec<String> {
    Vec::new()
}

/// The uids of the controllers owning an object.
fn controller_uids<K: Resource>(obj: &K) -> Vec<String> {
    let owners = obj.meta().owner_references.iter().flatten();
    owners.filter(|o| o.controller == Some(true)).map(|o| o.uid.clone()).collect()
}

/// The name of the object an event is about.
fn involved_name(event: &Event) -> Vec<String> {
    event.involved_object.name.iter().cloned().collect()
}

/// The workload that controls an object, by its owner reference.
fn controlling_workload(meta: &ObjectMeta) -> Option<(WorkloadKind, String)> {
    let owner = meta.owner_references.iter().flatten().find(|o| o.controller == Some(true))?;
    let kind = match owner.kind.as_str() {
        "Deployment" => WorkloadKind::Deployment,
        "StatefulSet" => WorkloadKind::StatefulSet,
        "DaemonSet" => WorkloadKind::DaemonSet,
        _ => return None,
    };
    Some((kind, owner.name.clone()))
}

/// Which workloads of a scope a change may concern, so only those are judged again.
enum Touched {
    /// None: the change cannot alter any judgement (yet).
    Nothing,
    /// Every workload (a relist).
    All,
    /// This one.
    One(WorkloadKind, String),
}

impl Touched {
    fn of<K>(event: &watcher::Event<K>, find: impl FnOnce(&K) -> Option<(WorkloadKind, String)>) -> Touched {
        match event {
            watcher::Event::Apply(obj) | watcher::Event::Delete(obj) => {
                find(obj).map_or(Touched::Nothing, |(kind, name)| Touched::One(kind, name))
            }
            watcher::Event::InitDone => Touched::All,
            watcher::Event::Init | watcher::Event::InitApply(_) => Touched::Nothing,
        }
    }
}

/// What a watch stream delivers, by kind.
enum Change {
    Deployment(watcher::Event<Deployment>),
    ReplicaSet(watcher::Event<ReplicaSet>),
    StatefulSet(watcher::Event<StatefulSet>),
    DaemonSet(watcher::Event<DaemonSet>),
    Pod(watcher::Event<Pod>),
    Event(watcher::Event<Event>),
}

/// The objects of one namespace of one cluster.
struct Scope {
    cluster: usize,
    namespace: String,
    deployments: Cache<Deployment>,
    replica_sets: Cache<ReplicaSet>,
    stateful_sets: Cache<StatefulSet>,
    daemon_sets: Cache<DaemonSet>,
    pods: Cache<Pod>,
    events: Cache<Event>,
    last_error: Option<String>,
    /// Every workload must be judged again.
    dirty_all: bool,
    /// These workloads must be judged again.
    dirty: HashSet<(WorkloadKind, String)>,
}

impl Scope {
    fn ready(&self) -> bool {
        self.deployments.ready
            && self.replica_sets.ready
            && self.stateful_sets.ready
            && self.daemon_sets.ready
            && self.pods.ready
            && self.events.ready
    }

    fn workload(&self, kind: WorkloadKind, name: &str) -> Option<Workload> {
        match kind {
            WorkloadKind::Deployment => self.deployments.find(name).cloned().map(Workload::Deployment),
            WorkloadKind::StatefulSet => self.stateful_sets.find(name).cloned().map(Workload::StatefulSet),
            WorkloadKind::DaemonSet => self.daemon_sets.find(name).cloned().map(Workload::DaemonSet),
        }
    }

    /// The workload controlling a pod: its ReplicaSet's Deployment, or its StatefulSet or DaemonSet. A pod
    /// whose ReplicaSet is not known yet concerns nothing until that ReplicaSet arrives.
    fn pod_workload(&self, pod: &ObjectMeta) -> Option<(WorkloadKind, String)> {
        let owner = pod.owner_references.iter().flatten().find(|o| o.controller == Some(true))?;
        if owner.kind == "ReplicaSet" {
            controlling_workload(&self.replica_sets.find(&owner.name)?.metadata)
        } else {
            controlling_workload(pod)
        }
    }

    /// Which workloads a change concerns, judged before it is applied.
    fn touched(&self, change: &Change) -> Touched {
        let named = |kind: WorkloadKind, meta: &ObjectMeta| meta.name.clone().map(|n| (kind, n));
        match change {
            Change::Deployment(e) => Touched::of(e, |d| named(WorkloadKind::Deployment, &d.metadata)),
            Change::StatefulSet(e) => Touched::of(e, |s| named(WorkloadKind::StatefulSet, &s.metadata)),
            Change::DaemonSet(e) => Touched::of(e, |d| named(WorkloadKind::DaemonSet, &d.metadata)),
            Change::ReplicaSet(e) => Touched::of(e, |rs| controlling_workload(&rs.metadata)),
            Change::Pod(e) => Touched::of(e, |p| self.pod_workload(&p.metadata)),
            Change::Event(e) => Touched::of(e, |ev| {
                let pod = self.pods.find(ev.involved_object.name.as_deref()?)?;
                self.pod_workload(&pod.metadata)
            }),
        }
    }

    /// Whether a workload must be judged again.
    fn is_dirty(&self, workload: &WorkloadRef) -> bool {
        self.dirty_all || self.dirty.contains(&(workload.kind, workload.name.clone()))
    }

    /// Applies a change; returns whether some of the scope's workloads should be judged again.
    fn apply(&mut self, change: Change, clock: &mut ServerClock) -> bool {
        let touched = self.touched(&change);
        let changed = match change {
            Change::Deployment(e) => {
                observe_event(&e, clock, deployment_times);
                self.deployments.apply(e)
            }
            Change::ReplicaSet(e) => {
                observe_event(&e, clock, |_| Vec::new());
                self.replica_sets.apply(e)
            }
            Change::StatefulSet(e) => {
                observe_event(&e, clock, |_| Vec::new());
                self.stateful_sets.apply(e)
            }
            Change::DaemonSet(e) => {
                observe_event(&e, clock, |_| Vec::new());
                self.daemon_sets.apply(e)
            }
            Change::Pod(e) => {
                observe_event(&e, clock, pod_times);
                self.pods.apply(e)
            }
            Change::Event(e) => {
                observe_event(&e, clock, event_times);
                self.events.apply(e)
            }
        };
        if changed {
            match touched {
                Touched::Nothing => {}
                Touched::All => self.dirty_all = true,
                Touched::One(kind, name) => {
                    self.dirty.insert((kind, name));
                }
            }
        }
        self.ready() && (self.dirty_all || !self.dirty.is_empty())
    }
}

/// Takes note of the timestamps an object carries, for the server clock estimate.
fn observe_event<K: Resource>(
    event: &watcher::Event<K>,
    clock: &mut ServerClock,
    times: impl Fn(&K) -> Vec<Timestamp>,
) {
    if let watcher::Event::Apply(obj) | watcher::Event::InitApply(obj) = event
        && let Some(t) = latest_time(obj.meta(), times(obj))
    {
        clock.observe(t);
    }
}

fn deployment_times(d: &Deployment) -> Vec<Timestamp> {
    let conditions = d.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions
        .into_iter()
        .flatten()
        .flat_map(|c| [c.last_update_time.as_ref(), c.last_transition_time.as_ref()])
        .flatten()
        .map(|t| t.0)
        .collect()
}

fn pod_times(p: &Pod) -> Vec<Timestamp> {
    let Some(status) = p.status.as_ref() else { return Vec::new() };
    let mut out: Vec<Timestamp> = status.start_time.iter().map(|t| t.0).collect();
    out.extend(status.conditions.iter().flatten().filter_map(|c| c.last_transition_time.as_ref()).map(|t| t.0));
    let statuses = status.container_statuses.iter().flatten().chain(status.init_container_statuses.iter().flatten());
    for cs in statuses {
        for state in [cs.state.as_ref(), cs.last_state.as_ref()].into_iter().flatten() {
            out.extend(state.running.as_ref().and_then(|r| r.started_at.as_ref()).map(|t| t.0));
            if let Some(t) = &state.terminated {
                out.extend(t.finished_at.as_ref().map(|t| t.0));
                out.extend(t.started_at.as_ref().map(|t| t.0));
            }
        }
    }
    out
}

fn event_times(e: &Event) -> Vec<Timestamp> {
    let series = e.series.as_ref().and_then(|s| s.last_observed_time.as_ref()).map(|t| t.0);
    [
        e.first_timestamp.as_ref().map(|t| t.0),
        e.last_timestamp.as_ref().map(|t| t.0),
        e.event_time.as_ref().map(|t| t.0),
        series,
    ]
    .into_iter()
    .flatten()
    .collect()
}

type Tagged = (usize, std::result::Result<Change, (Source, watcher::Error)>);

/// What a watch stream watches, to tell which one failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Workloads,
    Pods,
    Events,
}

fn watch_stream<K>(
    api: Api<K>,
    config: watcher::Config,
    scope: usize,
    source: Source,
    wrap: fn(watcher::Event<K>) -> Change,
) -> BoxStream<'static, Tagged>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    watcher(api, config).default_backoff().map(move |r| (scope, r.map(wrap).map_err(|e| (source, e)))).boxed()
}

/// Whether a watch failed because the client may not list or watch that kind.
fn forbidden(e: &watcher::Error) -> bool {
    let client_error = match e {
        watcher::Error::InitialListFailed(e) | watcher::Error::WatchStartFailed(e) | watcher::Error::WatchFailed(e) => {
            e
        }
        watcher::Error::WatchError(status) => return status.code == 403,
        watcher::Error::NoResourceVersion => return false,
    };
    crate::cluster::status_code(client_error) == Some(403)
}

/// The state of one workload during the wait.
struct Tracked {
    watch: Watch,
    scope: usize,
    last_message: Option<String>,
    seen_problems: HashSet<(String, Option<String>, String)>,
    last: Option<Judgement>,
    images: Vec<ContainerImage>,
    result: Option<Watched>,
    /// Whether the `Finished` event was emitted.
    finished: bool,
}

/// Waits for every workload of `watches` until each is done or `deadline` passes. Results come in
/// the order of `watches`.
pub(crate) async fn watch_all(
    clusters: &[(String, Client)],
    watches: Vec<Watch>,
    options: &WaitOptions,
    deadline: Instant,
    progress: Progress<'_>,
) -> Vec<Watched> {
    // Group the workloads by cluster and namespace.
    let mut scope_index: HashMap<(usize, String), usize> = HashMap::new();
    let mut scopes: Vec<Scope> = Vec::new();
    let mut tracked: Vec<Tracked> = Vec::with_capacity(watches.len());
    for w in watches {
        let key = (w.cluster, w.workload.namespace.clone());
        let scope = *scope_index.entry(key).or_insert_with(|| {
            scopes.push(Scope {
                cluster: w.cluster,
                namespace: w.workload.namespace.clone(),
                deployments: Cache::new(false, no_parents),
                replica_sets: Cache::new(false, controller_uids),
                stateful_sets: Cache::new(false, no_parents),
                daemon_sets: Cache::new(false, no_parents),
                pods: Cache::new(true, controller_uids),
                events: Cache::new(true, involved_name),
                last_error: None,
                dirty_all: false,
                dirty: HashSet::new(),
            });
            scopes.len() - 1
        });
        tracked.push(Tracked {
            watch: w,
            scope,
            last_message: None,
            seen_problems: HashSet::new(),
            last: None,
            images: Vec::new(),
            result: None,
            finished: false,
        });
    }

    // One watch per scope and kind.
    let mut streams: Vec<BoxStream<'static, Tagged>> = Vec::new();
    for (i, scope) in scopes.iter_mut().enumerate() {
        let client = clusters[scope.cluster].1.clone();
        let ns = scope.namespace.clone();
        let members: Vec<&Watch> = tracked.iter().filter(|t| t.scope == i).map(|t| &t.watch).collect();
        let of_kind =
            |kind: WorkloadKind| members.iter().copied().filter(|w| w.workload.kind == kind).collect::<Vec<_>>();
        let by_name = |ws: &[&Watch]| match ws {
            [only] => watcher::Config::default().fields(&format!("metadata.name={}", only.workload.name)),
            _ => watcher::Config::default(),
        };
        let by_selector = |ws: &[&Watch]| match ws {
            [only] if only.selector.is_some() => {
                watcher::Config::default().labels(only.selector.as_deref().unwrap_or(""))
            }
            _ => watcher::Config::default(),
        };
        let deployments = of_kind(WorkloadKind::Deployment);
        if !deployments.is_empty() {
            scope.deployments = Cache::new(true, no_parents);
            scope.replica_sets = Cache::new(true, controller_uids);
            streams.push(watch_stream(
                Api::<Deployment>::namespaced(client.clone(), &ns),
                by_name(&deployments),
                i,
                Source::Workloads,
                Change::Deployment,
            ));
            streams.push(watch_stream(
                Api::<ReplicaSet>::namespaced(client.clone(), &ns),
                by_selector(&deployments),
                i,
                Source::Workloads,
                Change::ReplicaSet,
            ));
        }
        let stateful_sets = of_kind(WorkloadKind::StatefulSet);
        if !stateful_sets.is_empty() {
            scope.stateful_sets = Cache::new(true, no_parents);
            streams.push(watch_stream(
                Api::<StatefulSet>::namespaced(client.clone(), &ns),
                by_name(&stateful_sets),
                i,
                Source::Workloads,
                Change::StatefulSet,
            ));
        }
        let daemon_sets = of_kind(WorkloadKind::DaemonSet);
        if !daemon_sets.is_empty() {
            scope.daemon_sets = Cache::new(true, no_parents);
            streams.push(watch_stream(
                Api::<DaemonSet>::namespaced(client.clone(), &ns),
                by_name(&daemon_sets),
                i,
                Source::Workloads,
                Change::DaemonSet,
            ));
        }
        streams.push(watch_stream(
            Api::<Pod>::namespaced(client.clone(), &ns),
            by_selector(&members),
            i,
            Source::Pods,
            Change::Pod,
        ));
        let events = watcher::Config::default().fields("involvedObject.kind=Pod");
        streams.push(watch_stream(Api::<Event>::namespaced(client, &ns), events, i, Source::Events, Change::Event));
    }
    let mut merged = stream::select_all(streams);
    let mut clocks: Vec<ServerClock> = vec![ServerClock::default(); clusters.len()];
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let sleep = tokio::time::sleep_until(deadline);
    tokio::pin!(sleep);

    loop {
        if tracked.iter().all(|t| t.result.is_some()) {
            break;
        }
        let rejudge: Option<usize> = tokio::select! {
            biased;
            () = &mut sleep => break,
            item = merged.next() => match item {
                Some((scope, Ok(change))) => {
                    let cluster = scopes[scope].cluster;
                    scopes[scope].last_error = None;
                    scopes[scope].apply(change, &mut clocks[cluster]).then_some(scope)
                }
                Some((scope, Err((source, e)))) if forbidden(&e) && source != Source::Workloads => {
                    // Pods and events only explain a rollout; without them the status still decides.
                    let s = &mut scopes[scope];
                    s.dirty_all = true;
                    let cache_was_ready = match source {
                        Source::Pods => std::mem::replace(&mut s.pods.ready, true),
                        _ => std::mem::replace(&mut s.events.ready, true),
                    };
                    if !cache_was_ready {
                        let what = if source == Source::Pods { "pods" } else { "events" };
                        progress(&ProgressEvent::Warning {
                            context: Some(clusters[s.cluster].0.clone()).filter(|c| !c.is_empty()),
                            namespace: s.namespace.clone(),
                            message: format!("not allowed to watch {what} ({e}); waiting without them, so failing pods are only noticed at the progress deadline"),
                        });
                    }
                    s.ready().then_some(scope)
                }
                Some((scope, Err((_, e)))) => {
                    let message = format!("watch failed, retrying with back-off: {e}");
                    if scopes[scope].last_error.as_deref() != Some(message.as_str()) {
                        let s = &scopes[scope];
                        progress(&ProgressEvent::Warning {
                            context: Some(clusters[s.cluster].0.clone()).filter(|c| !c.is_empty()),
                            namespace: s.namespace.clone(),
                            message: message.clone(),
                        });
                        scopes[scope].last_error = Some(message);
                    }
                    None
                }
                None => {
                    // Every stream ended, which watchers never do; wait out the deadline.
                    (&mut sleep).await;
                    break;
                }
            },
            _ = tick.tick() => Some(usize::MAX),
        };
        let Some(which) = rejudge else { continue };
        // A change judges again only the workloads it concerns; the tick judges every one, for the verdicts
        // that depend on the time alone.
        for t in tracked.iter_mut().filter(|t| t.result.is_none() && (which == usize::MAX || t.scope == which)) {
            let scope = &scopes[t.scope];
            if !scope.ready() || (which != usize::MAX && !scope.is_dirty(&t.watch.workload)) {
                continue;
            }
            let now = clocks[scope.cluster].now();
            if let Some(done) = judge_one(t, scope, now, options, progress) {
                t.result = Some(done);
            }
        }
        for scope in scopes.iter_mut().enumerate().filter(|(i, s)| s.ready() && (which == usize::MAX || *i == which)) {
            scope.1.dirty_all = false;
            scope.1.dirty.clear();
        }
        // Attach log tails to fresh failures, within the deadline, then report the end.
        for t in tracked.iter_mut().filter(|t| !t.finished) {
            let Some(result) = t.result.as_mut() else { continue };
            if result.outcome == WaitOutcome::Failed && !result.problems.is_empty() {
                let client = &clusters[t.watch.cluster].1;
                let budget = remaining(deadline).min(Duration::from_secs(5));
                attach_logs(client, &t.watch.workload, &mut result.problems, options.log_lines, budget, progress).await;
            }
            finish_event(&t.watch.workload, result, progress);
            t.finished = true;
        }
    }
    drop(merged);

    // Whatever is still open timed out.
    for t in tracked.iter_mut().filter(|t| t.result.is_none()) {
        let status = t.last.as_ref().map(|j| j.status.clone());
        let problems: Vec<ContainerProblem> =
            t.last.as_ref().map(|j| j.diagnosis.problems().to_vec()).unwrap_or_default();
        let not_ready = !scopes[t.scope].ready();
        let mut message = timeout_message(options.timeout, status.as_ref(), &problems);
        if not_ready && let Some(e) = &scopes[t.scope].last_error {
            message.push_str(&format!("; the watch never completed its first list: {e}"));
        }
        let mut problems: Vec<ContainerProblem> = problems.into_iter().filter(|p| !p.transient).collect();
        let client = &clusters[t.watch.cluster].1;
        // A bounded look at the logs of containers that restarted: never more than a moment past the timeout.
        if problems.iter().any(|p| p.restart_count > 0) {
            attach_logs(
                client,
                &t.watch.workload,
                &mut problems,
                options.log_lines,
                Duration::from_millis(500),
                progress,
            )
            .await;
        }
        let result = Watched {
            outcome: WaitOutcome::TimedOut,
            reason: Some(TIMEOUT_REASON.to_owned()),
            message,
            status,
            problems,
            new_replica_set: t.last.as_ref().and_then(|j| j.new_replica_set.as_ref()).map(|r| r.name.clone()),
            revision: t.last.as_ref().and_then(|j| j.new_replica_set.as_ref()).and_then(|r| r.revision),
            images: t.images.clone(),
        };
        finish_event(&t.watch.workload, &result, progress);
        t.result = Some(result);
    }

    // Mark the new ReplicaSets of the Deployments that succeeded as healthy.
    if options.record_healthy {
        let marks = tracked.iter().filter_map(|t| {
            let result = t.result.as_ref()?;
            let rs = t.last.as_ref()?.new_replica_set.as_ref()?;
            (result.outcome == WaitOutcome::Succeeded && t.watch.workload.kind == WorkloadKind::Deployment)
                .then_some((t, rs.clone()))
        });
        let marks: Vec<_> = marks
            .map(|(t, rs)| {
                let client = clusters[t.watch.cluster].1.clone();
                let now = clocks[t.watch.cluster].now();
                let workload = t.watch.workload.clone();
                async move {
                    let budget = remaining(deadline).max(Duration::from_millis(500));
                    match tokio::time::timeout(budget, mark_healthy(&client, &workload.namespace, &rs, now)).await {
                        Ok(Ok(())) => None,
                        Ok(Err(e)) => Some((workload, format!("could not record the healthy release: {e}"))),
                        Err(_) => Some((workload, "could not record the healthy release in time".to_owned())),
                    }
                }
            })
            .collect();
        for (workload, message) in futures::future::join_all(marks).await.into_iter().flatten() {
            progress(&ProgressEvent::Warning {
                context: workload.context.clone(),
                namespace: workload.namespace,
                message,
            });
        }
    }

    tracked.into_iter().map(|t| t.result.expect("every workload has a result")).collect()
}

fn finish_event(workload: &WorkloadRef, result: &Watched, progress: Progress<'_>) {
    let outcome = match result.outcome {
        WaitOutcome::Succeeded => Outcome::Succeeded,
        WaitOutcome::Failed => Outcome::Failed,
        WaitOutcome::TimedOut => Outcome::TimedOut,
    };
    progress(&ProgressEvent::Finished { target: workload.clone(), outcome, message: result.message.clone() });
}

/// Judges one workload; returns its result when the wait for it is over.
fn judge_one(
    t: &mut Tracked,
    scope: &Scope,
    now: Timestamp,
    options: &WaitOptions,
    progress: Progress<'_>,
) -> Option<Watched> {
    let target = &t.watch.workload;
    let Some(workload) = scope.workload(target.kind, &target.name) else {
        let (reason, message) = if t.watch.since.is_some() || t.last.is_some() {
            ("Deleted", "object has been deleted".to_owned())
        } else {
            (
                NOT_FOUND_REASON,
                format!("{} {:?} not found in namespace {:?}", target.kind_name(), target.name, target.namespace),
            )
        };
        let result = Watched {
            outcome: WaitOutcome::Failed,
            reason: Some(reason.to_owned()),
            message,
            status: t.last.as_ref().map(|j| j.status.clone()),
            problems: Vec::new(),
            new_replica_set: None,
            revision: None,
            images: t.images.clone(),
        };
        return Some(result);
    };
    t.images = workload.images();
    // Only the workload's own objects: its ReplicaSets, the pods they (or it) control, and those pods' events.
    let uid = workload.uid().unwrap_or_default();
    let replica_sets: Vec<ReplicaSet> = match &workload {
        Workload::Deployment(_) => scope.replica_sets.children_of([uid]).into_iter().cloned().collect(),
        _ => Vec::new(),
    };
    let pods: Vec<&Pod> = match &workload {
        Workload::Deployment(_) => {
            scope.pods.children_of(replica_sets.iter().filter_map(|rs| rs.metadata.uid.as_deref()))
        }
        _ => scope.pods.children_of([uid]),
    };
    let events: Vec<&Event> = scope.events.children_of(pods.iter().filter_map(|p| p.metadata.name.as_deref()));
    let judgement = judge(
        &workload,
        &Related { replica_sets: &replica_sets, pods: &pods, events: &events },
        t.watch.since.as_ref(),
        now,
        &options.diagnosis,
        options.fail_fast,
    );

    let message = judgement.status.message();
    if t.last_message.as_deref() != Some(message.as_str()) {
        progress(&ProgressEvent::Status { target: target.clone(), status: judgement.status.clone() });
        t.last_message = Some(message);
    }
    for problem in judgement.diagnosis.problems().iter().filter(|p| !p.transient) {
        let key = (problem.pod.clone(), problem.container.clone(), problem.reason.clone());
        if t.seen_problems.insert(key) {
            progress(&ProgressEvent::Problem { target: target.clone(), problem: problem.clone() });
        }
    }
    let new_rs: Option<&NewReplicaSet> = judgement.new_replica_set.as_ref();
    let revision = new_rs.and_then(|r| r.revision).filter(|r| *r > 0).or_else(|| workload.revision());
    let result = match &judgement.verdict {
        Verdict::Pending => None,
        Verdict::Succeeded => Some(Watched {
            outcome: WaitOutcome::Succeeded,
            reason: None,
            message: judgement.status.message(),
            status: Some(judgement.status.clone()),
            problems: Vec::new(),
            new_replica_set: new_rs.map(|r| r.name.clone()),
            revision,
            images: t.images.clone(),
        }),
        Verdict::Failed { reason, message } => {
            let mut problems: Vec<ContainerProblem> =
                judgement.diagnosis.problems().iter().filter(|p| !p.transient).cloned().collect();
            problems.sort_by_key(|p| !p.fatal);
            Some(Watched {
                outcome: WaitOutcome::Failed,
                reason: Some(reason.clone()),
                message: message.clone(),
                status: Some(judgement.status.clone()),
                problems,
                new_replica_set: new_rs.map(|r| r.name.clone()),
                revision,
                images: t.images.clone(),
            })
        }
    };
    t.last = Some(judgement);
    result
}

/// Fetches the last log lines of the containers behind `problems` (at most five containers), within
/// `budget`. A container that restarted gets its previous instance's log, the one that crashed.
async fn attach_logs(
    client: &Client,
    workload: &WorkloadRef,
    problems: &mut [ContainerProblem],
    lines: i64,
    budget: Duration,
    progress: Progress<'_>,
) {
    if lines <= 0 {
        return;
    }
    let api: Api<Pod> = Api::namespaced(client.clone(), &workload.namespace);
    let wanted: Vec<usize> = problems
        .iter()
        .enumerate()
        .filter(|(_, p)| p.container.is_some() && (p.restart_count > 0 || p.exit_code.is_some() || !p.fatal))
        .map(|(i, _)| i)
        .take(5)
        .collect();
    let fetches = wanted.iter().map(|&i| {
        let p = &problems[i];
        let api = api.clone();
        let pod = p.pod.clone();
        let container = p.container.clone();
        let previous = p.restart_count > 0;
        async move {
            let params = |previous: bool| LogParams {
                container: container.clone(),
                tail_lines: Some(lines),
                previous,
                ..LogParams::default()
            };
            let first = api.logs(&pod, &params(previous)).await;
            let text = match first {
                Ok(text) if !text.is_empty() || !previous => Ok(text),
                _ => api.logs(&pod, &params(false)).await,
            };
            (i, text)
        }
    });
    match tokio::time::timeout(budget, futures::future::join_all(fetches)).await {
        Ok(results) => {
            for (i, text) in results {
                match text {
                    Ok(text) => problems[i].log_tail = text.lines().map(str::to_owned).collect(),
                    Err(e) => progress(&ProgressEvent::Warning {
                        context: workload.context.clone(),
                        namespace: workload.namespace.clone(),
                        message: format!("could not read the log of pod {}: {e}", problems[i].pod),
                    }),
                }
            }
        }
        Err(_) => progress(&ProgressEvent::Warning {
            context: workload.context.clone(),
            namespace: workload.namespace.clone(),
            message: "reading the failing containers' logs took too long; the report has none".to_owned(),
        }),
    }
}

/// Records on a ReplicaSet that its pods became healthy (see [`crate::history::HEALTHY_ANNOTATION_PREFIX`]).
async fn mark_healthy(client: &Client, namespace: &str, rs: &NewReplicaSet, at: Timestamp) -> Result<()> {
    let Some((key, value)) = crate::history::healthy_annotation(&rs.name, rs.hash.as_deref(), at) else {
        return Ok(());
    };
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), namespace);
    let patch = serde_json::json!({"metadata": {"annotations": {key: value}}});
    let params = PatchParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..PatchParams::default() };
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = Patch::Merge(&patch);
    // The patch sets one annotation and carries no precondition, so repeating it after a conflict is safe.
    let mut attempts = 0;
    loop {
        match crate::cluster::retry(deadline, || api.patch(&rs.name, &params, &body)).await {
            Ok(_) => return Ok(()),
            Err(e) if crate::cluster::is_conflict(&e) && attempts < 3 => attempts += 1,
            Err(e) => return Err(api_error(format!("patch replicaset {namespace}/{}", rs.name), e)),
        }
    }
}

/// A duration as `90s`, `5m`, `1m30s`, `1.5s`.
pub(crate) fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        return format!("{}s", d.as_secs_f64());
    }
    let s = d.as_secs();
    match (s / 60, s % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_written_like_kubectl_flags() {
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_secs(300)), "5m");
        assert_eq!(format_duration(Duration::from_secs(7)), "7s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn progress_events_serialise_with_an_event_tag() {
        let e = ProgressEvent::Warning { context: None, namespace: "shop".into(), message: "x".into() };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"event": "warning", "context": null, "namespace": "shop", "message": "x"})
        );
        assert_eq!(e.message(), "warning: shop: x");
    }

    fn pod(uid: &str, name: &str, owner: Option<(&str, &str)>) -> Pod {
        let owners = owner.map(|(kind, uid)| {
            serde_json::json!([{"apiVersion": "apps/v1", "kind": kind, "name": "x", "uid": uid, "controller": true}])
        });
        serde_json::from_value(serde_json::json!({"metadata": {"uid": uid, "name": name, "ownerReferences": owners}}))
            .unwrap()
    }

    fn names(pods: &[&Pod]) -> Vec<String> {
        pods.iter().map(|p| p.metadata.name.clone().unwrap()).collect()
    }

    #[test]
    fn the_cache_indexes_follow_applies_deletes_and_relists() {
        let mut cache: Cache<Pod> = Cache::new(true, controller_uids);
        for e in [
            watcher::Event::Init,
            watcher::Event::InitApply(pod("u1", "a-1", Some(("ReplicaSet", "rs-a")))),
            watcher::Event::InitApply(pod("u2", "b-1", Some(("ReplicaSet", "rs-b")))),
        ] {
            assert!(!cache.apply(e), "nothing is ready before the list is done");
        }
        assert!(cache.apply(watcher::Event::InitDone));
        assert_eq!(names(&cache.children_of(["rs-a"])), ["a-1"]);
        assert!(cache.apply(watcher::Event::Apply(pod("u3", "a-2", Some(("ReplicaSet", "rs-a"))))));
        assert_eq!(names(&cache.children_of(["rs-a", "rs-b", "rs-a"])), ["a-1", "b-1", "a-2"], "key order, no repeats");
        // An orphaned pod leaves its former owner's children.
        assert!(cache.apply(watcher::Event::Apply(pod("u1", "a-1", None))));
        assert_eq!(names(&cache.children_of(["rs-a"])), ["a-2"]);
        assert!(cache.apply(watcher::Event::Delete(pod("u3", "a-2", Some(("ReplicaSet", "rs-a"))))));
        assert!(cache.children_of(["rs-a"]).is_empty());
        assert_eq!(cache.find("a-1").and_then(|p| p.metadata.uid.as_deref()), Some("u1"));
        assert!(cache.find("a-2").is_none());
        // A relist replaces everything, indexes included.
        cache.apply(watcher::Event::Init);
        cache.apply(watcher::Event::InitApply(pod("u4", "c-1", Some(("ReplicaSet", "rs-c")))));
        cache.apply(watcher::Event::InitDone);
        assert!(cache.find("a-1").is_none() && cache.children_of(["rs-b"]).is_empty());
        assert_eq!(names(&cache.children_of(["rs-c"])), ["c-1"]);
    }

    #[tokio::test]
    async fn targets_find_their_cluster_by_context() {
        let client = || {
            let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
            Client::try_from(config).unwrap()
        };
        let clusters = [("a".to_owned(), client()), ("b".to_owned(), client())];
        let w =
            |ctx: Option<&str>| WorkloadRef { context: ctx.map(Into::into), ..WorkloadRef::deployment("ns", "web") };
        assert_eq!(cluster_index(&clusters, &w(Some("b"))).unwrap(), 1);
        let err = cluster_index(&clusters, &w(Some("c"))).unwrap_err().to_string();
        assert_eq!(
            err,
            r#"invalid context "c": no client was given for this kube context; the contexts given are "a", "b""#
        );
        assert!(cluster_index(&clusters, &w(None)).is_err(), "ambiguous without a context");
        assert_eq!(cluster_index(&clusters[..1], &w(None)).unwrap(), 0);
    }
}
