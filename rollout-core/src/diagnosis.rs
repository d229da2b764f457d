//! Pod diagnosis: why the new pods of a rollout are not becoming ready, and whether they never will.
//!
//! This module owns one pure decision over the new ReplicaSet's pods and their events at a given
//! instant: [`diagnose`] says whether the rollout is healthy, still pending (with the reasons), or
//! failing (with the fatal problems), so a wait can stop within seconds of a doomed rollout instead
//! of sitting out the 600 s progress deadline as `kubectl rollout status` does. Each problem carries
//! what a user needs to act: the container, its waiting or termination reason and message, exit code,
//! restart count, since when, and the relevant events, deduplicated.
//!
//! It deliberately does not fetch pods, events or logs (log tails are attached later by the caller
//! into [`ContainerProblem::log_tail`]), does not decide when a rollout is complete (that is
//! [`crate::status`]), and keeps no memory between calls: persistence is measured from timestamps
//! and counts the API already records, so the same inputs always give the same verdict.
//!
//! # What is fatal
//!
//! The signals are those the kubelet reports (container `state.waiting.reason`,
//! `lastState.terminated`, and its events), judged the way Shopify's krane judges them, but with
//! thresholds, because fail-fast tools are also blamed for failing rollouts that a retry would have
//! fixed (krane issue 819, "fails unnecessarily on temporary image pull error"):
//!
//! - **At once**: `InvalidImageName`, `ErrImageNeverPull`. Nothing but a spec change fixes them.
//! - **After a short grace** ([`DiagnosisPolicy::start_error_grace`]): `CreateContainerConfigError`,
//!   `CreateContainerError`, `RunContainerError` and the hook errors. A missing ConfigMap or Secret is
//!   effectively fatal, but one applied together with the Deployment can appear moments after the pod,
//!   so it gets a grace. The kubelet's "failed to sync configmap cache" variant is transient by nature
//!   and is never fatal by itself (as krane decided).
//! - **Once it persists**: `ErrImagePull` / `ImagePullBackOff` (and `RegistryUnavailable`,
//!   `SignatureValidationFailed`, `ImageInspectError`) after [`DiagnosisPolicy::pull_error_attempts`]
//!   failed pulls or [`DiagnosisPolicy::pull_error_after`] of failing; `CrashLoopBackOff` (or a
//!   terminated container) with `restartCount ≥` [`DiagnosisPolicy::crash_loop_restarts`]; a last
//!   termination `OOMKilled` after [`DiagnosisPolicy::oom_kills`] terminations.
//! - **Never by itself**: failing readiness probes (reported; the wait's timeout decides, since a slow
//!   start is not a broken one), unschedulable pods (an autoscaler may add a node), evicted or failed
//!   pods (their ReplicaSet replaces them), and the normal steps `ContainerCreating`,
//!   `PodInitializing` and not-yet-ready containers.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{
    ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, Event, Pod,
};
use serde::{Serialize, Serializer};

/// Thresholds of the diagnosis. The defaults suit the kubelet's own retry timings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiagnosisPolicy {
    /// Failed image pulls of one container after which a pull error is fatal. Default 3: the kubelet
    /// retries after 10 s and 20 s, so this is about 30 s, long enough for a registry hiccup.
    pub pull_error_attempts: i32,
    /// How long a pull error may persist before it is fatal, whatever the attempt count. Default 60 s.
    #[serde(serialize_with = "seconds")]
    pub pull_error_after: Duration,
    /// How long a container may fail to be created or started (missing ConfigMap or Secret, hook
    /// failure) before it is fatal. Default 30 s.
    #[serde(serialize_with = "seconds")]
    pub start_error_grace: Duration,
    /// Restarts after which a crash-looping container is fatal. Default 3: the kubelet's back-off
    /// (10 s, 20 s, 40 s) puts that about a minute in, and one or two restarts are commonly a
    /// dependency (a database, a sidecar proxy) still coming up.
    pub crash_loop_restarts: i32,
    /// Terminations after which a container last killed for exceeding its memory limit is fatal.
    /// Default 2: an OOM kill is rarely a fluke, but one can be a start-up spike. Only the last
    /// termination's reason is recorded by Kubernetes, so this counts terminations whose latest was
    /// an OOM kill.
    pub oom_kills: i32,
    /// How recent a container's last termination must be to count against a container that runs
    /// now. Default 10 min, the time after which the kubelet forgets a crash back-off.
    #[serde(serialize_with = "seconds")]
    pub restart_window: Duration,
    /// The most events kept per problem (the most recent). Default 10.
    pub max_events: usize,
    /// Fail only when every pod has a fatal problem (krane's rule: one bad pod out of ten does not
    /// doom the rollout) instead of when any pod has one. Default false: pods of one template fail
    /// alike, and a single doomed pod still stalls the rollout until its deadline.
    pub require_all_pods: bool,
}

impl Default for DiagnosisPolicy {
    fn default() -> Self {
        Self {
            pull_error_attempts: 3,
            pull_error_after: Duration::from_secs(60),
            start_error_grace: Duration::from_secs(30),
            crash_loop_restarts: 3,
            oom_kills: 2,
            restart_window: Duration::from_secs(600),
            max_events: 10,
            require_all_pods: false,
        }
    }
}

fn seconds<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// The verdict over a rollout's new pods.
///
/// Serialized as `{"verdict":"failing","problems":[…]}` (`{"verdict":"healthy"}` when healthy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", content = "problems", rename_all = "snake_case")]
pub enum Diagnosis {
    /// Every container of every pod is ready and nothing is wrong.
    Healthy,
    /// Not everything is ready yet, and the rollout is not doomed: every reason, including normal
    /// start-up steps (marked [`ContainerProblem::transient`]) and problems not fatal yet. Fatal
    /// problems appear here only under [`DiagnosisPolicy::require_all_pods`] while some pod is fine.
    Pending(Vec<ContainerProblem>),
    /// The rollout will not succeed without a change: the fatal problems first, then the other real
    /// problems (normal start-up steps are left out).
    Failing(Vec<ContainerProblem>),
}

impl Diagnosis {
    /// Whether the verdict is [`Diagnosis::Failing`].
    pub fn is_failing(&self) -> bool {
        matches!(self, Diagnosis::Failing(_))
    }

    /// The problems behind the verdict (none when healthy).
    pub fn problems(&self) -> &[ContainerProblem] {
        match self {
            Diagnosis::Healthy => &[],
            Diagnosis::Pending(problems) | Diagnosis::Failing(problems) => problems,
        }
    }

    /// The problems behind the verdict, mutably, e.g. to attach log tails.
    pub fn problems_mut(&mut self) -> &mut [ContainerProblem] {
        match self {
            Diagnosis::Healthy => &mut [],
            Diagnosis::Pending(problems) | Diagnosis::Failing(problems) => problems,
        }
    }
}

/// One reason why a pod (or one of its containers) is not ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerProblem {
    /// The pod's name.
    pub pod: String,
    /// The container's name; `None` when the problem concerns the whole pod (scheduling, eviction).
    pub container: Option<String>,
    /// Whether the container is an init container.
    pub init: bool,
    /// The kubelet's reason (`ImagePullBackOff`, `CrashLoopBackOff`, `Unschedulable`, …) or one of
    /// ours for states the kubelet gives no reason for: `ReadinessProbeFailed`, `LivenessProbeFailed`,
    /// `StartupProbeFailed`, `NotReady`, `Initializing`, `PodPending`, `Restarted`.
    pub reason: String,
    /// The kubelet's or scheduler's message, if any.
    pub message: Option<String>,
    /// The exit code of the current or last termination.
    pub exit_code: Option<i32>,
    /// The reason of the current or last termination (`Error`, `OOMKilled`, …).
    pub last_termination_reason: Option<String>,
    /// The container's restart count.
    pub restart_count: i32,
    /// Since when the problem is known to exist (earliest related event, else the best timestamp the
    /// pod records).
    pub since: Option<Timestamp>,
    /// Whether the problem dooms the rollout.
    pub fatal: bool,
    /// Whether this is a normal step of starting up rather than a problem.
    pub transient: bool,
    /// The related events, routine ones dropped, deduplicated by reason and message.
    pub events: Vec<EventSummary>,
    /// The container's last log lines; empty here, filled by the caller that fetches logs.
    pub log_tail: Vec<String>,
}

/// Events with the same reason and message, merged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventSummary {
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// The event's reason (`Failed`, `BackOff`, `Unhealthy`, …).
    pub reason: String,
    /// The event's message.
    pub message: String,
    /// How many times it happened, over all merged events.
    pub count: i32,
    /// When it first happened.
    pub first_seen: Option<Timestamp>,
    /// When it last happened.
    pub last_seen: Option<Timestamp>,
}

/// Event reasons that say things went as planned; they explain nothing about a failure.
const ROUTINE_EVENT_REASONS: &[&str] = &[
    "Scheduled",
    "Pulling",
    "Pulled",
    "Created",
    "Started",
    "SuccessfulCreate",
    "SuccessfulDelete",
    "ScalingReplicaSet",
    "SuccessfulAttachVolume",
    "SuccessfulMountVolume",
];

/// Reasons of problems that are normal steps of starting up.
const TRANSIENT_REASONS: &[&str] = &["ContainerCreating", "PodInitializing", "NotReady", "Initializing", "PodPending"];

/// Whether an event explains a problem rather than record routine progress.
///
/// Routine reasons (`Scheduled`, `Pulling`, `Pulled`, `Created`, `Started`, `SuccessfulCreate`,
/// `ScalingReplicaSet`, …) are dropped. `Killing` is kept only when a probe failure caused it (the
/// kubelet's message then says the container "will be restarted"), since a pod stopped by a
/// scale-down is routine. Everything else (`Failed`, `BackOff`, `Unhealthy`, `FailedScheduling`,
/// `FailedMount`, `Evicted`, …) is kept.
pub fn is_relevant_event(event: &Event) -> bool {
    let reason = event.reason.as_deref().unwrap_or_default();
    if ROUTINE_EVENT_REASONS.contains(&reason) {
        return false;
    }
    if reason == "Killing" {
        return event.message.as_deref().is_some_and(|m| m.contains("will be restarted"));
    }
    true
}

/// Merges events with the same reason and message, drops routine ones ([`is_relevant_event`]), and
/// keeps the `max` most recent, oldest first.
pub fn summarize_events<'a>(events: impl IntoIterator<Item = &'a Event>, max: usize) -> Vec<EventSummary> {
    let mut out: Vec<EventSummary> = Vec::new();
    for event in events.into_iter().filter(|e| is_relevant_event(e)) {
        let reason = event.reason.clone().unwrap_or_default();
        let message = event.message.clone().unwrap_or_default();
        let (first, last, count) = (first_seen(event), last_seen(event), event_count(event));
        match out.iter_mut().find(|s| s.reason == reason && s.message == message) {
            Some(s) => {
                s.count = s.count.saturating_add(count);
                s.first_seen = min_time(s.first_seen, first);
                s.last_seen = max_time(s.last_seen, last);
            }
            None => out.push(EventSummary {
                type_: event.type_.clone(),
                reason,
                message,
                count,
                first_seen: first,
                last_seen: last,
            }),
        }
    }
    out.sort_by_key(|s| s.last_seen);
    let excess = out.len().saturating_sub(max);
    out.drain(..excess);
    out
}

/// Diagnoses a rollout's new pods at the instant `now`.
///
/// `pods` should be the pods of the new ReplicaSet (label `pod-template-hash` of the new RS): old
/// pods say nothing about the new template. `events` may be all events of the namespace; those not
/// about one of the pods are ignored. Pods being deleted, and pods that succeeded, are skipped. With
/// no pods left the verdict is [`Diagnosis::Healthy`]: there is nothing wrong to report, and whether
/// the rollout is complete is [`crate::status`]'s question.
pub fn diagnose(pods: &[Pod], events: &[Event], now: Timestamp, policy: &DiagnosisPolicy) -> Diagnosis {
    let mut problems = Vec::new();
    let mut pods_seen = 0usize;
    let mut pods_doomed = 0usize;
    for pod in pods {
        if pod.metadata.deletion_timestamp.is_some()
            || pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Succeeded")
        {
            continue;
        }
        pods_seen += 1;
        let found = diagnose_pod(pod, events, now, policy);
        if found.iter().any(|p| p.fatal) {
            pods_doomed += 1;
        }
        problems.extend(found);
    }
    let failing = if policy.require_all_pods { pods_doomed > 0 && pods_doomed == pods_seen } else { pods_doomed > 0 };
    if failing {
        problems.retain(|p| !p.transient);
        problems.sort_by_key(|p| !p.fatal);
        Diagnosis::Failing(problems)
    } else if problems.is_empty() {
        Diagnosis::Healthy
    } else {
        Diagnosis::Pending(problems)
    }
}

/// What a problem is found in: the pod, its events, and the moment of judgement.
struct PodView<'a> {
    pod: &'a Pod,
    name: String,
    events: Vec<&'a Event>,
    now: Timestamp,
    policy: &'a DiagnosisPolicy,
}

impl<'a> PodView<'a> {
    fn new(pod: &'a Pod, events: &'a [Event], now: Timestamp, policy: &'a DiagnosisPolicy) -> Self {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let events = events.iter().filter(|e| is_about_pod(e, pod, &name)).collect();
        Self { pod, name, events, now, policy }
    }

    /// When the pod began: the kubelet's start time, else its creation.
    fn started(&self) -> Option<Timestamp> {
        let status_start = self.pod.status.as_ref().and_then(|s| s.start_time.as_ref());
        status_start.or(self.pod.metadata.creation_timestamp.as_ref()).map(|t| t.0)
    }

    /// Events about one container (`None`: about the pod as a whole).
    fn events_of(&self, container: Option<(&str, bool)>) -> impl Iterator<Item = &'a Event> + '_ {
        let wanted = container.map(|(name, init)| {
            let list = if init { "initContainers" } else { "containers" };
            format!("spec.{list}{{{name}}}")
        });
        self.events.iter().copied().filter(move |e| {
            let path = e.involved_object.field_path.as_deref().filter(|p| !p.is_empty());
            path == wanted.as_deref()
        })
    }

    /// The events shown with a problem: the container's and the pod's own.
    fn summary(&self, container: Option<(&str, bool)>) -> Vec<EventSummary> {
        let own = self.events_of(container);
        let pod_level = container.is_some().then(|| self.events_of(None)).into_iter().flatten();
        summarize_events(own.chain(pod_level), self.policy.max_events)
    }

    fn persisted(&self, since: Option<Timestamp>, threshold: Duration) -> bool {
        let threshold = SignedDuration::try_from(threshold).unwrap_or(SignedDuration::MAX);
        since.is_some_and(|since| self.now.duration_since(since) >= threshold)
    }

    fn recent(&self, at: Option<Timestamp>) -> bool {
        at.is_some_and(|at| !self.persisted(Some(at), self.policy.restart_window))
    }

    fn problem(&self, container: Option<(&str, bool)>, reason: &str, message: Option<String>) -> ContainerProblem {
        ContainerProblem {
            pod: self.name.clone(),
            container: container.map(|(name, _)| name.to_owned()),
            init: container.is_some_and(|(_, init)| init),
            reason: reason.to_owned(),
            message,
            exit_code: None,
            last_termination_reason: None,
            restart_count: 0,
            since: None,
            fatal: false,
            transient: TRANSIENT_REASONS.contains(&reason),
            events: self.summary(container),
            log_tail: Vec::new(),
        }
    }
}

fn diagnose_pod(pod: &Pod, events: &[Event], now: Timestamp, policy: &DiagnosisPolicy) -> Vec<ContainerProblem> {
    let view = PodView::new(pod, events, now, policy);
    let status = pod.status.as_ref();

    if status.and_then(|s| s.phase.as_deref()) == Some("Failed") {
        // Evicted, preempted, node shutdown: the ReplicaSet replaces the pod.
        let reason = status.and_then(|s| s.reason.as_deref()).unwrap_or("Failed");
        let mut p = view.problem(None, reason, status.and_then(|s| s.message.clone()));
        p.since = view.started();
        return vec![p];
    }

    let conditions = status.and_then(|s| s.conditions.as_deref()).unwrap_or_default();
    if let Some(unscheduled) = conditions.iter().find(|c| c.type_ == "PodScheduled" && c.status == "False") {
        let reason = unscheduled.reason.as_deref().unwrap_or("Unschedulable");
        let mut p = view.problem(None, reason, unscheduled.message.clone());
        p.since = unscheduled.last_transition_time.as_ref().map(|t| t.0).or_else(|| view.started());
        return vec![p];
    }

    let init_statuses = status.and_then(|s| s.init_container_statuses.as_deref()).unwrap_or_default();
    let app_statuses = status.and_then(|s| s.container_statuses.as_deref()).unwrap_or_default();
    if init_statuses.is_empty() && app_statuses.is_empty() {
        let mut p =
            view.problem(None, "PodPending", Some("the kubelet has not reported container statuses yet".into()));
        p.since = view.started();
        return vec![p];
    }

    let mut problems: Vec<ContainerProblem> = init_statuses
        .iter()
        .map(|c| (c, true))
        .chain(app_statuses.iter().map(|c| (c, false)))
        .filter_map(|(c, init)| container_problem(&view, c, init))
        .collect();

    if problems.is_empty()
        && let Some(unready) = conditions.iter().find(|c| c.type_ == "Ready" && c.status == "False")
    {
        // Every container is ready, yet the pod is not: readiness gates or a status not caught up yet.
        let mut p = view.problem(None, "NotReady", unready.message.clone());
        p.since = unready.last_transition_time.as_ref().map(|t| t.0);
        problems.push(p);
    }
    problems
}

/// One container status of a pod under diagnosis.
struct ContainerView<'v, 'a> {
    pod: &'v PodView<'a>,
    status: &'a ContainerStatus,
    init: bool,
}

impl<'a> ContainerView<'_, 'a> {
    fn key(&self) -> Option<(&'a str, bool)> {
        Some((self.status.name.as_str(), self.init))
    }

    fn last_terminated(&self) -> Option<&'a ContainerStateTerminated> {
        self.status.last_state.as_ref().and_then(|s| s.terminated.as_ref())
    }

    fn last_finished(&self) -> Option<Timestamp> {
        self.last_terminated().and_then(|t| t.finished_at.as_ref()).map(|t| t.0)
    }

    /// A problem of this container, with its restart count and last termination filled in.
    fn problem(&self, reason: &str, message: Option<String>) -> ContainerProblem {
        let mut p = self.pod.problem(self.key(), reason, message);
        p.restart_count = self.status.restart_count;
        p.exit_code = self.last_terminated().map(|t| t.exit_code);
        p.last_termination_reason = self.last_terminated().and_then(|t| t.reason.clone());
        p
    }

    /// The first time one of this container's events matching `filter` happened.
    fn earliest(&self, filter: impl Fn(&Event) -> bool) -> Option<Timestamp> {
        self.pod.events_of(self.key()).filter(|e| filter(e)).filter_map(first_seen).min()
    }

    /// Whether the latest of `terminations` was an OOM kill, recent, and there were enough of them.
    fn oom_fatal(&self, reason: Option<&str>, terminations: i32, at: Option<Timestamp>) -> bool {
        reason == Some("OOMKilled") && terminations >= self.pod.policy.oom_kills && self.pod.recent(at)
    }
}

fn container_problem(view: &PodView<'_>, status: &ContainerStatus, init: bool) -> Option<ContainerProblem> {
    let c = ContainerView { pod: view, status, init };
    let state = status.state.as_ref();
    if let Some(waiting) = state.and_then(|s| s.waiting.as_ref()) {
        Some(waiting_problem(&c, waiting))
    } else if let Some(terminated) = state.and_then(|s| s.terminated.as_ref()) {
        terminated_problem(&c, terminated)
    } else {
        running_problem(&c, state.and_then(|s| s.running.as_ref()))
    }
}

fn waiting_problem(c: &ContainerView<'_, '_>, waiting: &ContainerStateWaiting) -> ContainerProblem {
    let policy = c.pod.policy;
    let reason = waiting.reason.as_deref().unwrap_or("Waiting");
    let mut p = c.problem(reason, waiting.message.clone());
    match reason {
        "ContainerCreating" | "PodInitializing" => p.since = c.pod.started(),
        "InvalidImageName" | "ErrImageNeverPull" => {
            p.since = c.earliest(|_| true).or_else(|| c.pod.started());
            p.fatal = true;
        }
        "ErrImagePull"
        | "ImagePullBackOff"
        | "RegistryUnavailable"
        | "SignatureValidationFailed"
        | "ImageInspectError" => {
            // Each failed attempt is one "Failed to pull image" event (aggregated by count); the
            // "Error: ErrImagePull" and back-off events that accompany it are not attempts.
            let failed_pull = |e: &Event| message_starts(e, "Failed", "Failed to pull image");
            let attempts = c
                .pod
                .events_of(c.key())
                .filter(|e| failed_pull(e))
                .fold(0i32, |n, e| n.saturating_add(event_count(e)))
                .max(1);
            p.since = c
                .earliest(|e| failed_pull(e) || message_starts(e, "BackOff", "Back-off pulling image"))
                .or_else(|| c.pod.started());
            p.fatal = attempts >= policy.pull_error_attempts || c.pod.persisted(p.since, policy.pull_error_after);
        }
        "CreateContainerConfigError"
        | "CreateContainerError"
        | "RunContainerError"
        | "PreCreateHookError"
        | "PreStartHookError"
        | "PostStartHookError" => {
            let cache_not_synced = reason == "CreateContainerConfigError"
                && waiting.message.as_deref().is_some_and(|m| m.contains("failed to sync"));
            p.since = c.earliest(|e| e.reason.as_deref() == Some("Failed")).or_else(|| c.pod.started());
            p.fatal = !cache_not_synced && c.pod.persisted(p.since, policy.start_error_grace);
        }
        "CrashLoopBackOff" => {
            let restarts = c.status.restart_count;
            p.since = c.earliest(|e| message_starts(e, "BackOff", "Back-off restarting")).or(c.last_finished());
            p.fatal = restarts >= policy.crash_loop_restarts
                || c.oom_fatal(p.last_termination_reason.as_deref(), restarts, c.last_finished());
        }
        _ => p.since = c.earliest(|_| true),
    }
    p
}

fn terminated_problem(c: &ContainerView<'_, '_>, terminated: &ContainerStateTerminated) -> Option<ContainerProblem> {
    if c.init && terminated.exit_code == 0 {
        return None; // an init container that completed
    }
    let restarts = c.status.restart_count;
    let mut p = c.problem(terminated.reason.as_deref().unwrap_or("Terminated"), terminated.message.clone());
    p.exit_code = Some(terminated.exit_code);
    p.last_termination_reason = terminated.reason.clone();
    let finished = terminated.finished_at.as_ref().map(|t| t.0);
    p.since = terminated.started_at.as_ref().map(|t| t.0).or(finished);
    // The current termination counts too: it will become the next restart.
    p.fatal = restarts >= c.pod.policy.crash_loop_restarts
        || c.oom_fatal(terminated.reason.as_deref(), restarts.saturating_add(1), finished);
    Some(p)
}

fn running_problem(c: &ContainerView<'_, '_>, running: Option<&ContainerStateRunning>) -> Option<ContainerProblem> {
    let restarts = c.status.restart_count;
    let recently_restarted = restarts > 0 && c.pod.recent(c.last_finished());
    if c.status.ready && !recently_restarted {
        return None;
    }
    let probe_failures = |kind: &str| {
        let prefix = format!("{kind} probe");
        let mut failures: Vec<&Event> = c
            .pod
            .events_of(c.key())
            .filter(|e| e.reason.as_deref() == Some("Unhealthy"))
            .filter(|e| e.message.as_deref().is_some_and(|m| m.starts_with(&prefix)))
            .collect();
        failures.sort_by_key(|e| last_seen(e));
        failures
    };
    let probes = [
        ("ReadinessProbeFailed", probe_failures("Readiness")),
        ("StartupProbeFailed", probe_failures("Startup")),
        ("LivenessProbeFailed", probe_failures("Liveness")),
    ];
    let mut p = if c.status.ready {
        let last = c.last_terminated();
        c.problem(last.and_then(|t| t.reason.as_deref()).unwrap_or("Restarted"), last.and_then(|t| t.message.clone()))
    } else if let Some((reason, failures)) = probes.into_iter().find(|(_, failures)| !failures.is_empty()) {
        let mut p = c.problem(reason, failures.last().and_then(|e| e.message.clone()));
        p.since = failures.iter().filter_map(|e| first_seen(e)).min();
        p
    } else {
        let mut p = c.problem(if c.init { "Initializing" } else { "NotReady" }, None);
        p.since = running.and_then(|r| r.started_at.as_ref()).map(|t| t.0);
        p
    };
    if recently_restarted {
        p.since = p.since.or(c.last_finished());
        p.transient = false;
        p.fatal = c.oom_fatal(p.last_termination_reason.as_deref(), restarts, c.last_finished());
    } else {
        p.exit_code = None;
        p.last_termination_reason = None;
    }
    Some(p)
}

/// Whether an event is about this pod: a `Pod` object of the same name, namespace and uid (where the
/// event and the pod both record them).
fn is_about_pod(event: &Event, pod: &Pod, name: &str) -> bool {
    let obj = &event.involved_object;
    let same = |a: Option<&String>, b: Option<&String>| match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    obj.kind.as_deref().is_none_or(|k| k == "Pod")
        && obj.name.as_deref() == Some(name)
        && same(obj.namespace.as_ref(), pod.metadata.namespace.as_ref())
        && same(obj.uid.as_ref(), pod.metadata.uid.as_ref())
}

fn message_starts(event: &Event, reason: &str, prefix: &str) -> bool {
    event.reason.as_deref() == Some(reason) && event.message.as_deref().is_some_and(|m| m.starts_with(prefix))
}

/// When an event first happened: `firstTimestamp`, else `eventTime` (newer reporters), else creation.
fn first_seen(event: &Event) -> Option<Timestamp> {
    event
        .first_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| event.event_time.as_ref().map(|t| t.0))
        .or_else(|| event.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// When an event last happened: `lastTimestamp`, else its series' last observation, else first seen.
fn last_seen(event: &Event) -> Option<Timestamp> {
    event
        .last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| event.series.as_ref().and_then(|s| s.last_observed_time.as_ref()).map(|t| t.0))
        .or_else(|| first_seen(event))
}

/// How many times an event happened: `count`, else its series' count, and at least once.
fn event_count(event: &Event) -> i32 {
    event.count.or_else(|| event.series.as_ref().and_then(|s| s.count)).unwrap_or(1).max(1)
}

fn min_time(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_time(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    a.max(b)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    const NOW: &str = "2025-01-01T12:10:00Z";

    fn now() -> Timestamp {
        NOW.parse().unwrap()
    }

    /// The time `secs` seconds before [`NOW`], as the API writes it.
    fn ago(secs: i64) -> String {
        now().checked_sub(SignedDuration::from_secs(secs)).unwrap().to_string()
    }

    /// A pod "web-abc" of the new ReplicaSet, started `started` seconds ago, with these statuses.
    fn pod_with(name: &str, started: i64, init: Value, containers: Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "shop", "uid": format!("uid-{name}"),
                         "creationTimestamp": ago(started + 1)},
            "spec": {"containers": [{"name": "app"}]},
            "status": {
                "phase": "Pending",
                "startTime": ago(started),
                "conditions": [{"type": "PodScheduled", "status": "True"}],
                "initContainerStatuses": init,
                "containerStatuses": containers,
            }
        }))
        .expect("fixture is a Pod")
    }

    fn pod(started: i64, containers: Value) -> Pod {
        pod_with("web-abc", started, Value::Null, containers)
    }

    fn status(name: &str, ready: bool, restarts: i32, state: Value, last_state: Value) -> Value {
        json!({"name": name, "image": "repo/app:1.0.1", "imageID": "", "ready": ready,
               "restartCount": restarts, "state": state, "lastState": last_state})
    }

    fn waiting(reason: &str, message: &str) -> Value {
        json!({"waiting": {"reason": reason, "message": message}})
    }

    fn running(started_ago: i64) -> Value {
        json!({"running": {"startedAt": ago(started_ago)}})
    }

    fn terminated(reason: &str, exit_code: i32, finished_ago: i64) -> Value {
        json!({"terminated": {"reason": reason, "exitCode": exit_code,
                              "startedAt": ago(finished_ago + 5), "finishedAt": ago(finished_ago)}})
    }

    /// A kubelet event about the app container of pod "web-abc" (or the pod itself with `path: None`).
    fn event(path: Option<&str>, type_: &str, reason: &str, message: &str, count: i32, first: i64, last: i64) -> Event {
        event_for("web-abc", path, type_, reason, message, count, first, last)
    }

    #[allow(clippy::too_many_arguments)]
    fn event_for(
        pod: &str,
        path: Option<&str>,
        type_: &str,
        reason: &str,
        message: &str,
        count: i32,
        first: i64,
        last: i64,
    ) -> Event {
        serde_json::from_value(json!({
            "metadata": {"name": format!("{pod}.{reason}.{first}"), "namespace": "shop"},
            "involvedObject": {"kind": "Pod", "name": pod, "namespace": "shop", "uid": format!("uid-{pod}"),
                               "fieldPath": path},
            "type": type_, "reason": reason, "message": message, "count": count,
            "firstTimestamp": ago(first), "lastTimestamp": ago(last),
        }))
        .expect("fixture is an Event")
    }

    const APP: Option<&str> = Some("spec.containers{app}");

    fn run(pods: &[Pod], events: &[Event]) -> Diagnosis {
        diagnose(pods, events, now(), &DiagnosisPolicy::default())
    }

    fn only(diagnosis: &Diagnosis) -> &ContainerProblem {
        assert_eq!(diagnosis.problems().len(), 1, "{diagnosis:#?}");
        &diagnosis.problems()[0]
    }

    fn ready_pod() -> Pod {
        let mut pod = pod(120, json!([status("app", true, 0, running(100), Value::Null)]));
        pod.status.as_mut().unwrap().phase = Some("Running".into());
        pod
    }

    #[test]
    fn ready_pods_are_healthy() {
        assert_eq!(run(&[ready_pod(), ready_pod()], &[]), Diagnosis::Healthy);
        assert_eq!(run(&[], &[]), Diagnosis::Healthy);
    }

    #[test]
    fn container_creating_is_transient() {
        let d = run(&[pod(5, json!([status("app", false, 0, waiting("ContainerCreating", ""), Value::Null)]))], &[]);
        let p = only(&d);
        assert!(matches!(d, Diagnosis::Pending(_)));
        assert_eq!((p.reason.as_str(), p.transient, p.fatal), ("ContainerCreating", true, false));
        assert_eq!(p.container.as_deref(), Some("app"));
    }

    #[test]
    fn container_creating_shows_pod_level_mount_failures() {
        let events = [event(None, "Warning", "FailedMount", "MountVolume.SetUp failed for volume \"cfg\"", 4, 90, 10)];
        let d =
            run(&[pod(100, json!([status("app", false, 0, waiting("ContainerCreating", ""), Value::Null)]))], &events);
        let p = only(&d);
        assert!(!p.fatal);
        assert_eq!(p.events.len(), 1);
        assert_eq!((p.events[0].reason.as_str(), p.events[0].count), ("FailedMount", 4));
    }

    #[test]
    fn pod_without_container_statuses_is_pending() {
        let d = run(&[pod(1, Value::Null)], &[]);
        let p = only(&d);
        assert_eq!((p.reason.as_str(), p.transient, p.container.clone()), ("PodPending", true, None));
    }

    #[test]
    fn invalid_image_name_fails_at_once() {
        let d = run(
            &[pod(
                1,
                json!([status(
                    "app",
                    false,
                    0,
                    waiting("InvalidImageName", "couldn't parse image name \"repo/app:Bad Tag\""),
                    Value::Null
                )]),
            )],
            &[],
        );
        assert!(d.is_failing());
        assert!(only(&d).fatal);
        let d = run(
            &[pod(
                1,
                json!([status(
                    "app",
                    false,
                    0,
                    waiting("ErrImageNeverPull", "image not present with pull policy of Never"),
                    Value::Null
                )]),
            )],
            &[],
        );
        assert!(d.is_failing());
    }

    fn pull_error_pod(started: i64, reason: &str) -> Pod {
        let message = "rpc error: code = NotFound desc = failed to pull and unpack image \"repo/app:1.0.1\": not found";
        pod(started, json!([status("app", false, 0, waiting(reason, message), Value::Null)]))
    }

    #[test]
    fn single_pull_error_that_a_retry_may_fix_is_not_fatal() {
        let events = [
            event(APP, "Normal", "Pulling", "Pulling image \"repo/app:1.0.1\"", 1, 6, 6),
            event(APP, "Warning", "Failed", "Failed to pull image \"repo/app:1.0.1\": i/o timeout", 1, 5, 5),
            event(APP, "Warning", "Failed", "Error: ErrImagePull", 1, 5, 5),
        ];
        let d = run(&[pull_error_pod(8, "ErrImagePull")], &events);
        let p = only(&d);
        assert!(matches!(d, Diagnosis::Pending(_)));
        assert!(!p.fatal && !p.transient);
        assert_eq!(p.since, Some(now().checked_sub(SignedDuration::from_secs(5)).unwrap()));
    }

    #[test]
    fn repeated_pull_failures_are_fatal_with_deduplicated_events() {
        let events = [
            event(None, "Normal", "Scheduled", "Successfully assigned shop/web-abc to node-1", 1, 40, 40),
            event(APP, "Normal", "Pulling", "Pulling image \"repo/app:1.0.1\"", 3, 38, 2),
            event(APP, "Warning", "Failed", "Failed to pull image \"repo/app:1.0.1\": not found", 2, 37, 12),
            event(APP, "Warning", "Failed", "Failed to pull image \"repo/app:1.0.1\": not found", 1, 2, 2),
            event(APP, "Warning", "Failed", "Error: ErrImagePull", 3, 37, 2),
            event(APP, "Normal", "BackOff", "Back-off pulling image \"repo/app:1.0.1\"", 4, 36, 1),
            event(APP, "Warning", "Failed", "Error: ImagePullBackOff", 4, 36, 1),
        ];
        let d = run(&[pull_error_pod(40, "ImagePullBackOff")], &events);
        assert!(d.is_failing());
        let p = only(&d);
        assert!(p.fatal);
        assert_eq!(p.reason, "ImagePullBackOff");
        let summary: Vec<(&str, &str, i32)> =
            p.events.iter().map(|e| (e.reason.as_str(), e.message.as_str(), e.count)).collect();
        assert_eq!(
            summary,
            [
                ("Failed", "Failed to pull image \"repo/app:1.0.1\": not found", 3),
                ("Failed", "Error: ErrImagePull", 3),
                ("BackOff", "Back-off pulling image \"repo/app:1.0.1\"", 4),
                ("Failed", "Error: ImagePullBackOff", 4),
            ],
            "routine events dropped, duplicates merged, oldest last-seen first"
        );
        let failed_pull = &p.events[0];
        assert_eq!(failed_pull.first_seen, Some(now().checked_sub(SignedDuration::from_secs(37)).unwrap()));
        assert_eq!(failed_pull.last_seen, Some(now().checked_sub(SignedDuration::from_secs(2)).unwrap()));
    }

    #[test]
    fn pull_error_persisting_past_the_threshold_is_fatal_with_few_attempts() {
        let events = [event(APP, "Warning", "Failed", "Failed to pull image \"repo/app:1.0.1\": timeout", 1, 70, 70)];
        assert!(run(&[pull_error_pod(75, "ImagePullBackOff")], &events).is_failing());
        let events = [event(APP, "Warning", "Failed", "Failed to pull image \"repo/app:1.0.1\": timeout", 1, 50, 50)];
        assert!(!run(&[pull_error_pod(75, "ImagePullBackOff")], &events).is_failing());
    }

    #[test]
    fn pull_error_without_events_is_measured_from_pod_start() {
        assert!(!run(&[pull_error_pod(10, "ErrImagePull")], &[]).is_failing());
        let d = run(&[pull_error_pod(120, "ErrImagePull")], &[]);
        assert!(d.is_failing());
        assert_eq!(only(&d).since, Some(now().checked_sub(SignedDuration::from_secs(120)).unwrap()));
    }

    #[test]
    fn pull_thresholds_are_configurable() {
        let events = [event(APP, "Warning", "Failed", "Failed to pull image \"repo/app:1.0.1\": not found", 1, 1, 1)];
        let eager = DiagnosisPolicy { pull_error_attempts: 1, ..DiagnosisPolicy::default() };
        assert!(diagnose(&[pull_error_pod(2, "ErrImagePull")], &events, now(), &eager).is_failing());
        let patient = DiagnosisPolicy { pull_error_after: Duration::from_secs(300), ..DiagnosisPolicy::default() };
        assert!(!diagnose(&[pull_error_pod(120, "ErrImagePull")], &[], now(), &patient).is_failing());
    }

    fn config_error_pod(message: &str) -> Pod {
        pod(300, json!([status("app", false, 0, waiting("CreateContainerConfigError", message), Value::Null)]))
    }

    #[test]
    fn missing_config_map_gets_a_short_grace() {
        let message = "configmap \"app-config\" not found";
        let early = [event(APP, "Warning", "Failed", "Error: configmap \"app-config\" not found", 2, 5, 1)];
        let d = run(&[config_error_pod(message)], &early);
        assert!(matches!(d, Diagnosis::Pending(_)), "the ConfigMap may be applied moments later");
        let late = [event(APP, "Warning", "Failed", "Error: configmap \"app-config\" not found", 6, 40, 1)];
        let d = run(&[config_error_pod(message)], &late);
        assert!(d.is_failing());
        let p = only(&d);
        assert_eq!(p.message.as_deref(), Some(message));
        assert_eq!(p.events[0].message, "Error: configmap \"app-config\" not found");
    }

    #[test]
    fn config_cache_not_synced_is_never_fatal_by_itself() {
        let message = "failed to sync configmap cache: timed out waiting for the condition";
        let events = [event(APP, "Warning", "Failed", &format!("Error: {message}"), 9, 280, 1)];
        let d = run(&[config_error_pod(message)], &events);
        assert!(matches!(d, Diagnosis::Pending(_)));
        assert!(!only(&d).transient);
    }

    #[test]
    fn run_container_error_is_fatal_after_the_grace() {
        let message = "exec: \"/app/server\": stat /app/server: no such file or directory";
        let p = pod(60, json!([status("app", false, 1, waiting("RunContainerError", message), Value::Null)]));
        assert!(run(std::slice::from_ref(&p), &[]).is_failing(), "measured from pod start without events");
        let events = [event(APP, "Warning", "Failed", &format!("Error: {message}"), 1, 3, 3)];
        assert!(!run(&[p], &events).is_failing());
    }

    fn crash_pod(restarts: i32, last: Value) -> Pod {
        let message = "back-off 40s restarting failed container=app pod=web-abc_shop(uid-web-abc)";
        let mut pod = pod(200, json!([status("app", false, restarts, waiting("CrashLoopBackOff", message), last)]));
        pod.status.as_mut().unwrap().phase = Some("Running".into());
        pod
    }

    #[test]
    fn crash_loop_below_the_restart_threshold_is_pending() {
        let d = run(&[crash_pod(1, terminated("Error", 1, 8))], &[]);
        assert!(matches!(d, Diagnosis::Pending(_)));
        let p = only(&d);
        assert_eq!((p.reason.as_str(), p.restart_count, p.exit_code, p.fatal), ("CrashLoopBackOff", 1, Some(1), false));
        assert_eq!(p.since, Some(now().checked_sub(SignedDuration::from_secs(8)).unwrap()));
    }

    #[test]
    fn crash_loop_at_the_restart_threshold_is_fatal_with_exit_code() {
        let events = [
            event(
                APP,
                "Warning",
                "BackOff",
                "Back-off restarting failed container app in pod web-abc_shop(uid-web-abc)",
                5,
                90,
                2,
            ),
            event(APP, "Normal", "Started", "Started container app", 4, 120, 20),
        ];
        let d = run(&[crash_pod(3, terminated("Error", 2, 20))], &events);
        assert!(d.is_failing());
        let p = only(&d);
        assert!(p.fatal && !p.init);
        assert_eq!((p.exit_code, p.last_termination_reason.as_deref(), p.restart_count), (Some(2), Some("Error"), 3));
        assert_eq!(p.since, Some(now().checked_sub(SignedDuration::from_secs(90)).unwrap()));
        assert_eq!(p.events.len(), 1, "Started is routine");
        assert!(p.log_tail.is_empty());
    }

    #[test]
    fn repeated_oom_kills_are_fatal_before_the_crash_threshold() {
        let d = run(&[crash_pod(2, terminated("OOMKilled", 137, 10))], &[]);
        assert!(d.is_failing());
        assert_eq!(only(&d).last_termination_reason.as_deref(), Some("OOMKilled"));
        assert!(!run(&[crash_pod(1, terminated("OOMKilled", 137, 10))], &[]).is_failing());
    }

    #[test]
    fn terminated_container_uses_the_crash_threshold() {
        let p = |restarts| pod(200, json!([status("app", false, restarts, terminated("Error", 1, 1), Value::Null)]));
        let d = run(&[p(0)], &[]);
        assert!(matches!(d, Diagnosis::Pending(_)));
        assert_eq!((only(&d).reason.as_str(), only(&d).exit_code), ("Error", Some(1)));
        assert!(run(&[p(3)], &[]).is_failing());
        let oom = pod(200, json!([status("app", false, 1, terminated("OOMKilled", 137, 1), Value::Null)]));
        assert!(run(&[oom], &[]).is_failing(), "the current termination counts: two OOM kills");
    }

    #[test]
    fn restarts_long_ago_then_recovered_are_healthy() {
        let mut p = pod(7200, json!([status("app", true, 5, running(3000), terminated("Error", 1, 3000))]));
        p.status.as_mut().unwrap().phase = Some("Running".into());
        assert_eq!(run(&[p], &[]), Diagnosis::Healthy);
        let mut p = pod(7200, json!([status("app", true, 4, running(3000), terminated("OOMKilled", 137, 3000))]));
        p.status.as_mut().unwrap().phase = Some("Running".into());
        assert_eq!(run(&[p], &[]), Diagnosis::Healthy, "old OOM kills do not count");
    }

    #[test]
    fn recent_restart_of_a_ready_container_is_reported_not_fatal() {
        let p = pod(300, json!([status("app", true, 1, running(50), terminated("Error", 137, 55))]));
        let d = run(&[p], &[]);
        assert!(matches!(d, Diagnosis::Pending(_)));
        let problem = only(&d);
        assert_eq!(
            (problem.reason.as_str(), problem.exit_code, problem.fatal, problem.transient),
            ("Error", Some(137), false, false)
        );
    }

    #[test]
    fn recent_oom_kills_of_a_running_container_are_fatal() {
        let p = pod(300, json!([status("app", true, 2, running(50), terminated("OOMKilled", 137, 55))]));
        assert!(run(&[p], &[]).is_failing());
    }

    #[test]
    fn failing_readiness_probe_is_reported_but_never_fatal() {
        let events = [
            event(
                APP,
                "Warning",
                "Unhealthy",
                "Readiness probe failed: dial tcp 10.0.0.7:8443: connect: connection refused",
                50,
                500,
                30,
            ),
            event(APP, "Warning", "Unhealthy", "Readiness probe failed: dial tcp 10.0.0.7:8443: i/o timeout", 3, 20, 5),
        ];
        let p = pod(600, json!([status("app", false, 0, running(590), Value::Null)]));
        let d = run(&[p], &events);
        assert!(matches!(d, Diagnosis::Pending(_)));
        let problem = only(&d);
        assert_eq!(problem.reason, "ReadinessProbeFailed");
        assert!(!problem.fatal && !problem.transient);
        assert_eq!(problem.message.as_deref(), Some("Readiness probe failed: dial tcp 10.0.0.7:8443: i/o timeout"));
        assert_eq!(problem.since, Some(now().checked_sub(SignedDuration::from_secs(500)).unwrap()));
    }

    #[test]
    fn readiness_failures_of_a_container_now_ready_are_ignored() {
        let events = [event(APP, "Warning", "Unhealthy", "Readiness probe failed: connection refused", 2, 60, 50)];
        let mut p = pod(100, json!([status("app", true, 0, running(90), Value::Null)]));
        p.status.as_mut().unwrap().conditions = Some(vec![]);
        assert_eq!(run(&[p], &events), Diagnosis::Healthy);
    }

    #[test]
    fn liveness_failures_are_reported_with_the_kill_event() {
        let events = [
            event(
                APP,
                "Warning",
                "Unhealthy",
                "Liveness probe failed: dial tcp 10.0.0.7:8443: connection refused",
                5,
                100,
                10,
            ),
            event(APP, "Normal", "Killing", "Container app failed liveness probe, will be restarted", 1, 10, 10),
            event(APP, "Normal", "Killing", "Stopping container app", 1, 9, 9),
        ];
        let p = pod(200, json!([status("app", false, 0, running(150), Value::Null)]));
        let d = run(&[p], &events);
        let problem = only(&d);
        assert_eq!(problem.reason, "LivenessProbeFailed");
        let reasons: Vec<&str> = problem.events.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "Liveness probe failed: dial tcp 10.0.0.7:8443: connection refused",
                "Container app failed liveness probe, will be restarted"
            ]
        );
    }

    #[test]
    fn running_container_not_ready_yet_is_transient() {
        let p = pod(6, json!([status("app", false, 0, running(4), Value::Null)]));
        let d = run(&[p], &[]);
        let problem = only(&d);
        assert_eq!((problem.reason.as_str(), problem.transient), ("NotReady", true));
        assert_eq!(problem.since, Some(now().checked_sub(SignedDuration::from_secs(4)).unwrap()));
    }

    #[test]
    fn init_container_crash_loop_fails_as_init_and_hides_pod_initializing() {
        let init = json!([status(
            "migrate",
            false,
            3,
            waiting("CrashLoopBackOff", "back-off 40s restarting failed container=migrate"),
            terminated("Error", 3, 10)
        )]);
        let app = json!([status("app", false, 0, waiting("PodInitializing", ""), Value::Null)]);
        let events = [event_for(
            "web-abc",
            Some("spec.initContainers{migrate}"),
            "Warning",
            "BackOff",
            "Back-off restarting failed container migrate",
            4,
            80,
            3,
        )];
        let d = run(&[pod_with("web-abc", 200, init, app)], &events);
        assert!(d.is_failing());
        let p = only(&d);
        assert_eq!((p.container.as_deref(), p.init, p.exit_code), (Some("migrate"), true, Some(3)));
        assert_eq!(p.events.len(), 1);
    }

    #[test]
    fn init_container_in_progress_is_transient() {
        let init = json!([status("migrate", false, 0, running(10), Value::Null)]);
        let app = json!([status("app", false, 0, waiting("PodInitializing", ""), Value::Null)]);
        let d = run(&[pod_with("web-abc", 12, init, app)], &[]);
        assert!(matches!(d, Diagnosis::Pending(_)));
        let reasons: Vec<(&str, bool, bool)> =
            d.problems().iter().map(|p| (p.reason.as_str(), p.init, p.transient)).collect();
        assert_eq!(reasons, [("Initializing", true, true), ("PodInitializing", false, true)]);
    }

    #[test]
    fn init_pull_errors_are_diagnosed_like_app_containers() {
        let init = json!([status("migrate", false, 0, waiting("InvalidImageName", "bad"), Value::Null)]);
        let app = json!([status("app", false, 0, waiting("PodInitializing", ""), Value::Null)]);
        let d = run(&[pod_with("web-abc", 5, init, app)], &[]);
        assert!(d.is_failing());
        assert!(only(&d).init);
    }

    #[test]
    fn completed_init_containers_are_fine() {
        let init = json!([status("migrate", false, 0, terminated("Completed", 0, 60), Value::Null)]);
        let app = json!([status("app", true, 0, running(50), Value::Null)]);
        assert_eq!(run(&[pod_with("web-abc", 100, init, app)], &[]), Diagnosis::Healthy);
    }

    #[test]
    fn unschedulable_pod_is_pending_with_the_scheduler_message() {
        let mut p = pod(0, Value::Null);
        p.status = Some(
            serde_json::from_value(json!({
                "phase": "Pending",
                "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                "message": "0/3 nodes are available: 3 Insufficient memory.",
                                "lastTransitionTime": ago(400)}]
            }))
            .unwrap(),
        );
        let events = [event(
            None,
            "Warning",
            "FailedScheduling",
            "0/3 nodes are available: 3 Insufficient memory.",
            12,
            400,
            20,
        )];
        let d = run(&[p], &events);
        assert!(matches!(d, Diagnosis::Pending(_)));
        let problem = only(&d);
        assert_eq!(
            (problem.reason.as_str(), problem.container.as_deref(), problem.fatal),
            ("Unschedulable", None, false)
        );
        assert_eq!(problem.events[0].count, 12);
        assert_eq!(problem.since, Some(now().checked_sub(SignedDuration::from_secs(400)).unwrap()));
    }

    #[test]
    fn terminating_and_succeeded_pods_are_skipped() {
        let mut terminating = crash_pod(9, terminated("Error", 1, 5));
        terminating.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now()));
        let mut succeeded = crash_pod(9, terminated("Error", 1, 5));
        succeeded.status.as_mut().unwrap().phase = Some("Succeeded".into());
        assert_eq!(run(&[terminating, succeeded, ready_pod()], &[]), Diagnosis::Healthy);
    }

    #[test]
    fn evicted_pod_is_reported_not_fatal() {
        let mut p = pod(100, Value::Null);
        let status = p.status.as_mut().unwrap();
        status.phase = Some("Failed".into());
        status.reason = Some("Evicted".into());
        status.message = Some("The node was low on resource: memory.".into());
        let d = run(&[p], &[]);
        let problem = only(&d);
        assert_eq!((problem.reason.as_str(), problem.fatal), ("Evicted", false));
    }

    #[test]
    fn ready_containers_in_an_unready_pod_report_the_pod_condition() {
        let mut p = ready_pod();
        p.status.as_mut().unwrap().conditions = Some(
            serde_json::from_value(json!([{"type": "Ready", "status": "False", "reason": "ReadinessGatesNotReady",
                                           "message": "readiness gate \"lb\" does not exist."}]))
            .unwrap(),
        );
        let d = run(&[p], &[]);
        assert_eq!((only(&d).reason.as_str(), only(&d).transient), ("NotReady", true));
    }

    #[test]
    fn any_doomed_pod_fails_unless_all_pods_are_required() {
        let doomed = crash_pod(5, terminated("Error", 1, 5));
        let pods = [doomed.clone(), ready_pod()];
        assert!(run(&pods, &[]).is_failing());
        let krane = DiagnosisPolicy { require_all_pods: true, ..DiagnosisPolicy::default() };
        assert!(!diagnose(&pods, &[], now(), &krane).is_failing());
        assert!(diagnose(&[doomed.clone(), doomed], &[], now(), &krane).is_failing());
    }

    #[test]
    fn failing_lists_fatal_problems_first_and_drops_startup_steps() {
        let starting = pod_with(
            "web-def",
            3,
            Value::Null,
            json!([status("app", false, 0, waiting("ContainerCreating", ""), Value::Null)]),
        );
        let slow = pod_with(
            "web-ghi",
            60,
            Value::Null,
            json!([status("app", false, 1, waiting("CrashLoopBackOff", ""), terminated("Error", 1, 3))]),
        );
        let doomed = pod_with(
            "web-jkl",
            60,
            Value::Null,
            json!([status("app", false, 0, waiting("InvalidImageName", ""), Value::Null)]),
        );
        let d = run(&[starting, slow, doomed], &[]);
        let order: Vec<(&str, bool)> = d.problems().iter().map(|p| (p.pod.as_str(), p.fatal)).collect();
        assert_eq!(order, [("web-jkl", true), ("web-ghi", false)]);
    }

    #[test]
    fn events_of_other_pods_or_earlier_pods_of_the_same_name_are_ignored() {
        let mut other_uid = event(APP, "Warning", "Failed", "Failed to pull image \"x\": not found", 9, 30, 1);
        other_uid.involved_object.uid = Some("uid-older".into());
        let other_pod =
            event_for("web-zzz", APP, "Warning", "Failed", "Failed to pull image \"x\": not found", 9, 30, 1);
        let mut replica_set = event(None, "Normal", "FailedCreate", "x", 1, 1, 1);
        replica_set.involved_object.kind = Some("ReplicaSet".into());
        let d = run(&[pull_error_pod(8, "ErrImagePull")], &[other_uid, other_pod, replica_set]);
        assert!(!d.is_failing());
        assert!(only(&d).events.is_empty());
    }

    #[test]
    fn event_summaries_keep_the_most_recent() {
        let events: Vec<Event> =
            (0..5).map(|i| event(APP, "Warning", "Failed", &format!("Error: {i}"), 1, 100 - i, 100 - i)).collect();
        let summary = summarize_events(&events, 2);
        let messages: Vec<&str> = summary.iter().map(|s| s.message.as_str()).collect();
        assert_eq!(messages, ["Error: 3", "Error: 4"]);
        assert!(summarize_events(&events, 0).is_empty());
    }

    #[test]
    fn events_without_legacy_timestamps_use_event_time_and_series() {
        let e: Event = serde_json::from_value(json!({
            "metadata": {"name": "e", "namespace": "shop"},
            "involvedObject": {"kind": "Pod", "name": "web-abc"},
            "type": "Warning", "reason": "BackOff", "message": "Back-off pulling image \"x\"",
            "eventTime": "2025-01-01T12:00:00.000000Z",
            "series": {"count": 7, "lastObservedTime": "2025-01-01T12:09:00.000000Z"},
        }))
        .unwrap();
        let s = &summarize_events([&e], 10)[0];
        assert_eq!(s.count, 7);
        assert_eq!(s.first_seen, Some("2025-01-01T12:00:00Z".parse().unwrap()));
        assert_eq!(s.last_seen, Some("2025-01-01T12:09:00Z".parse().unwrap()));
    }

    #[test]
    fn diagnosis_serializes_with_snake_case_fields() {
        assert_eq!(serde_json::to_value(Diagnosis::Healthy).unwrap(), json!({"verdict": "healthy"}));
        let events = [event(APP, "Warning", "Failed", "Failed to pull image \"x\": not found", 3, 30, 1)];
        let value = serde_json::to_value(run(&[pull_error_pod(40, "ErrImagePull")], &events)).unwrap();
        assert_eq!(value["verdict"], "failing");
        let problem = &value["problems"][0];
        assert_eq!(problem["pod"], "web-abc");
        assert_eq!(problem["container"], "app");
        assert_eq!(problem["reason"], "ErrImagePull");
        assert_eq!(problem["restart_count"], 0);
        assert_eq!(problem["since"], ago(30));
        assert_eq!(problem["log_tail"], json!([]));
        assert_eq!(problem["events"][0]["type"], "Warning");
        assert_eq!(problem["events"][0]["first_seen"], ago(30));
        let policy = serde_json::to_value(DiagnosisPolicy::default()).unwrap();
        assert_eq!(policy["pull_error_after"], 60.0);
    }

    const WAITING_REASONS: &[&str] = &[
        "ContainerCreating",
        "PodInitializing",
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "CreateContainerConfigError",
        "RunContainerError",
        "CrashLoopBackOff",
        "Whatever",
    ];

    fn timestamp() -> impl Strategy<Value = String> {
        (-20_000_000_000i64..20_000_000_000).prop_map(|s| Timestamp::from_second(s).unwrap().to_string())
    }

    fn container_status() -> impl Strategy<Value = Value> {
        let state = prop_oneof![
            (prop::sample::select(WAITING_REASONS), prop::option::of(".*"))
                .prop_map(|(r, m)| json!({"waiting": {"reason": r, "message": m}})),
            (
                any::<i32>(),
                prop::option::of(prop::sample::select(&["Error", "OOMKilled", "Completed"][..])),
                prop::option::of(timestamp())
            )
                .prop_map(|(code, r, at)| json!({"terminated": {"exitCode": code, "reason": r, "finishedAt": at}})),
            prop::option::of(timestamp()).prop_map(|at| json!({"running": {"startedAt": at}})),
            Just(json!({})),
        ];
        let last = prop::option::of(
            (
                any::<i32>(),
                prop::option::of(prop::sample::select(&["Error", "OOMKilled"][..])),
                prop::option::of(timestamp()),
            )
                .prop_map(|(code, r, at)| json!({"terminated": {"exitCode": code, "reason": r, "finishedAt": at}})),
        );
        (prop::sample::select(&["app", "side", "init"][..]), any::<bool>(), any::<i32>(), prop::option::of(state), last)
            .prop_map(|(name, ready, restarts, state, last)| {
                json!({"name": name, "image": "", "imageID": "", "ready": ready, "restartCount": restarts,
                       "state": state, "lastState": last})
            })
    }

    fn arbitrary_pod() -> impl Strategy<Value = Pod> {
        (
            prop::sample::select(&["web-a", "web-b"][..]),
            prop::option::of(prop::sample::select(&["Pending", "Running", "Failed", "Succeeded"][..])),
            prop::option::of(timestamp()),
            prop::option::of(prop::collection::vec(container_status(), 0..3)),
            prop::option::of(prop::collection::vec(container_status(), 0..3)),
            prop::option::of((prop::sample::select(&["PodScheduled", "Ready"][..]), any::<bool>())),
        )
            .prop_map(|(name, phase, start, init, containers, cond)| {
                let conditions = cond.map(|(t, ok)| json!([{"type": t, "status": if ok { "True" } else { "False" }}]));
                serde_json::from_value(json!({
                    "metadata": {"name": name},
                    "status": {"phase": phase, "startTime": start, "initContainerStatuses": init,
                               "containerStatuses": containers, "conditions": conditions}
                }))
                .unwrap()
            })
    }

    fn arbitrary_event() -> impl Strategy<Value = Event> {
        (
            prop::sample::select(&["web-a", "web-b"][..]),
            prop::option::of(prop::sample::select(&["spec.containers{app}", "spec.initContainers{init}", ""][..])),
            prop::sample::select(&["Failed", "BackOff", "Unhealthy", "Killing", "Pulled"][..]),
            prop::option::of(prop_oneof![
                Just("Failed to pull image \"x\"".to_owned()),
                Just("Readiness probe failed: no".to_owned()),
                ".*"
            ]),
            prop::option::of(any::<i32>()),
            prop::option::of(timestamp()),
            prop::option::of(timestamp()),
        )
            .prop_map(|(pod, path, reason, message, count, first, last)| {
                serde_json::from_value(json!({
                    "metadata": {},
                    "involvedObject": {"kind": "Pod", "name": pod, "fieldPath": path},
                    "reason": reason, "message": message, "count": count,
                    "firstTimestamp": first, "lastTimestamp": last,
                }))
                .unwrap()
            })
    }

    fn arbitrary_policy() -> impl Strategy<Value = DiagnosisPolicy> {
        (any::<i32>(), any::<u64>(), any::<u64>(), any::<i32>(), any::<i32>(), any::<u64>(), 0usize..5, any::<bool>())
            .prop_map(|(attempts, after, grace, restarts, ooms, window, max_events, all)| DiagnosisPolicy {
                pull_error_attempts: attempts,
                pull_error_after: Duration::from_secs(after),
                start_error_grace: Duration::from_secs(grace),
                crash_loop_restarts: restarts,
                oom_kills: ooms,
                restart_window: Duration::from_secs(window),
                max_events,
                require_all_pods: all,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn diagnose_never_panics(
            pods in prop::collection::vec(arbitrary_pod(), 0..4),
            events in prop::collection::vec(arbitrary_event(), 0..6),
            now in -20_000_000_000i64..20_000_000_000,
            policy in prop_oneof![Just(DiagnosisPolicy::default()), arbitrary_policy()],
        ) {
            let d = diagnose(&pods, &events, Timestamp::from_second(now).unwrap(), &policy);
            let _ = serde_json::to_string(&d).unwrap();
            match &d {
                Diagnosis::Failing(problems) => prop_assert!(problems.iter().any(|p| p.fatal)),
                Diagnosis::Pending(problems) => {
                    prop_assert!(problems.iter().all(|p| !p.fatal || policy.require_all_pods))
                }
                Diagnosis::Healthy => {}
            }
            for p in d.problems() {
                prop_assert!(p.events.len() <= policy.max_events);
            }
        }
    }
}
