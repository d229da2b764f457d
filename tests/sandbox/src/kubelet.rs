//! The pod simulator: a scheduler that binds every pod to the one simulated node, and a kubelet that
//! runs its containers as discrete events on the scaled clock.
//!
//! Each container goes through the kubelet's steps with the kubelet's wording: image pull (with the
//! pull policy, `ErrImagePull` ⇄ `ImagePullBackOff` and a 10 s back-off doubling to 300 s),
//! `InvalidImageName`, `ErrImageNeverPull`, `CreateContainerConfigError`, start, the startup,
//! readiness and liveness probes (initial delay, period, success and failure thresholds; the first
//! probe runs at the initial delay), crashes and OOM kills with `CrashLoopBackOff` (the first restart
//! is immediate, then 10 s doubling to 300 s, reset after ten minutes of running), init containers in
//! order, graceful termination, events and logs. What each image does comes from `images`.
//!
//! Every step is processed at the simulated time it was due, and timestamps come from that time, so
//! a run does not depend on how promptly the host scheduled this task.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};

use crate::Shared;
use crate::clock::rfc3339;
use crate::events::{EventType, Recorder};
use crate::images::{ImageBehaviour, PullOutcome};
use crate::json;
use crate::kinds::Kind;
use crate::store::{EventType as Change, Noted, Subresource};

const BACKOFF_BASE: i64 = 10;
const BACKOFF_MAX: i64 = 300;
/// A container that ran this long before failing starts its back-off from the beginning again.
const BACKOFF_RESET: i64 = 600;

fn backoff(failures: u32) -> SignedDuration {
    let secs = BACKOFF_BASE.saturating_mul(1i64 << failures.saturating_sub(1).min(16)).min(BACKOFF_MAX);
    SignedDuration::from_secs(secs)
}

fn secs(s: f64) -> SignedDuration {
    SignedDuration::try_from_secs_f64(s.max(0.0)).unwrap_or(SignedDuration::MAX)
}

/// Whether an image reference is syntactically valid (the container runtime's `InvalidImageName`).
pub fn valid_image_reference(image: &str) -> bool {
    if image.is_empty() || image.len() > 4096 || image.chars().any(|c| c.is_whitespace()) {
        return false;
    }
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    if let Some(d) = digest {
        let Some((alg, hex)) = d.split_once(':') else { return false };
        if alg.is_empty() || hex.len() < 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return false;
        }
    }
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(t) = tag
        && (t.is_empty()
            || t.len() > 128
            || t.starts_with(['.', '-'])
            || !t.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return false;
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 1 && (parts[0].contains(['.', ':']) || parts[0] == "localhost") {
        let (host, port) = match parts[0].split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (parts[0], None),
        };
        let host_ok = !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'));
        if !host_ok || port.is_some_and(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit())) {
            return false;
        }
        parts.remove(0);
    }
    !parts.is_empty()
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
                && p.starts_with(|c: char| c.is_ascii_alphanumeric())
                && p.ends_with(|c: char| c.is_ascii_alphanumeric())
        })
}

#[derive(Debug, Clone)]
struct Probe {
    initial: i64,
    period: i64,
    success_threshold: u32,
    failure_threshold: u32,
    /// What a failure says, e.g. `dial tcp 10.244.0.5:8443: connect: connection refused`.
    failure: String,
}

impl Probe {
    fn from_json(p: &Value, pod_ip: &str) -> Self {
        let i = |k: &str, d: i64| p.get(k).and_then(Value::as_i64).unwrap_or(d);
        let failure = if let Some(t) = p.get("tcpSocket") {
            let port = t.get("port").map(port_text).unwrap_or_default();
            format!("dial tcp {pod_ip}:{port}: connect: connection refused")
        } else if let Some(h) = p.get("httpGet") {
            let port = h.get("port").map(port_text).unwrap_or_default();
            let path = h.get("path").and_then(Value::as_str).unwrap_or("/");
            let scheme = h.get("scheme").and_then(Value::as_str).unwrap_or("HTTP").to_ascii_lowercase();
            format!("Get \"{scheme}://{pod_ip}:{port}{path}\": dial tcp {pod_ip}:{port}: connect: connection refused")
        } else if p.get("grpc").is_some() {
            "timeout: failed to connect service within 1s".to_string()
        } else {
            "command terminated with exit code 1".to_string()
        };
        Self {
            initial: i("initialDelaySeconds", 0).max(0),
            period: i("periodSeconds", 10).max(1),
            success_threshold: i("successThreshold", 1).max(1) as u32,
            failure_threshold: i("failureThreshold", 3).max(1) as u32,
            failure,
        }
    }
}

fn port_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Running {
        started_at: Timestamp,
    },
    Terminated {
        exit_code: i32,
        reason: String,
        started_at: Option<Timestamp>,
        finished_at: Timestamp,
        container_id: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    Pull,
    PullDone,
    PullBackOff,
    Create,
    Exit,
    Complete,
    Restart,
    StartupTick,
    ReadinessTick,
    LivenessTick,
}

#[derive(Debug)]
struct Container {
    name: String,
    image: String,
    init: bool,
    pull_policy: String,
    behaviour: ImageBehaviour,
    readiness: Option<Probe>,
    liveness: Option<Probe>,
    startup: Option<Probe>,
    state: State,
    last_state: Option<State>,
    restart_count: i32,
    ready: bool,
    started: bool,
    /// Incremented on every start, so steps scheduled for an earlier instance are ignored.
    instance: u32,
    pull_failures: u32,
    config_failures: u32,
    crash_failures: u32,
    ok_streak: u32,
    ready_fail_streak: u32,
    live_fail_streak: u32,
    startup_passed: bool,
    image_id: String,
    container_id: String,
}

impl Container {
    fn field_path(&self) -> String {
        if self.init {
            format!("spec.initContainers{{{}}}", self.name)
        } else {
            format!("spec.containers{{{}}}", self.name)
        }
    }

    fn app_up(&self, at: Timestamp) -> bool {
        match self.state {
            State::Running { started_at } => at >= started_at + secs(self.behaviour.start_delay_seconds),
            _ => false,
        }
    }

    fn status_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name));
        m.insert("state".into(), state_json(&self.state));
        m.insert("lastState".into(), self.last_state.as_ref().map(state_json).unwrap_or(json!({})));
        m.insert("ready".into(), json!(self.ready));
        m.insert("restartCount".into(), json!(self.restart_count));
        m.insert("image".into(), json!(self.image));
        m.insert("imageID".into(), json!(self.image_id));
        if !self.container_id.is_empty() {
            m.insert("containerID".into(), json!(self.container_id));
        }
        m.insert("started".into(), json!(matches!(self.state, State::Running { .. }) && self.startup_passed));
        Value::Object(m)
    }
}

fn state_json(s: &State) -> Value {
    match s {
        State::Waiting { reason, message } => {
            let mut w = json!({"reason": reason});
            if let Some(m) = message {
                w["message"] = json!(m);
            }
            json!({"waiting": w})
        }
        State::Running { started_at } => json!({"running": {"startedAt": rfc3339(*started_at)}}),
        State::Terminated { exit_code, reason, started_at, finished_at, container_id } => json!({"terminated": {
            "exitCode": exit_code,
            "reason": reason,
            "startedAt": started_at.map(rfc3339),
            "finishedAt": rfc3339(*finished_at),
            "containerID": container_id,
        }}),
    }
}

/// A step due: (time, sequence, container index, container instance, action).
type Step = Reverse<(Timestamp, u64, usize, u32, Action)>;

#[derive(Debug)]
struct PodRun {
    ns: String,
    name: String,
    uid: String,
    ip: String,
    restart_policy: String,
    grace: i64,
    containers: Vec<Container>,
    scheduled_at: Option<Timestamp>,
    initialized_at: Option<Timestamp>,
    terminating: bool,
    /// Steps due: (time, sequence, container index, instance, action).
    steps: BinaryHeap<Step>,
    conditions: BTreeMap<&'static str, (bool, Timestamp)>,
    remove_at: Option<Timestamp>,
}

struct Kubelet {
    shared: Arc<Shared>,
    recorder: Recorder,
    pods: HashMap<String, PodRun>,
    wake: BinaryHeap<Reverse<(Timestamp, String)>>,
    present: HashSet<String>,
    seq: u64,
    next_ip: u32,
}

/// Runs the scheduler and kubelet until shutdown, driven by `feed` (the store's change feed,
/// subscribed before any pod it must run is created).
pub async fn run(shared: Arc<Shared>, mut feed: tokio::sync::mpsc::UnboundedReceiver<Arc<crate::store::WatchEvent>>) {
    let mut pauses = shared.faults.pauses();
    let mut k = Kubelet {
        recorder: Recorder::new(shared.store.clone()),
        shared: shared.clone(),
        pods: HashMap::new(),
        wake: BinaryHeap::new(),
        present: HashSet::new(),
        seq: 0,
        next_ip: 4,
    };
    loop {
        while let Ok(ev) = feed.try_recv() {
            k.observe(&ev);
        }
        if pauses.borrow().1 {
            tokio::select! {
                _ = shared.shutdown.cancelled() => return,
                _ = pauses.changed() => {}
                ev = feed.recv() => if let Some(ev) = ev { k.observe(&ev) },
            }
            continue;
        }
        let now = shared.store.clock().now();
        let mut did = false;
        while let Some(Reverse((at, uid))) = k.wake.peek().cloned() {
            if at > now {
                break;
            }
            k.wake.pop();
            k.advance(&uid, now);
            did = true;
        }
        if did {
            tokio::task::yield_now().await;
            continue;
        }
        let next = k.wake.peek().map(|Reverse((at, _))| shared.store.clock().real_instant(*at));
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = pauses.changed() => {}
            ev = feed.recv() => match ev {
                Some(ev) => k.observe(&ev),
                None => return,
            },
            _ = async { match next {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            } } => {}
        }
    }
}

impl Kubelet {
    fn observe(&mut self, ev: &crate::store::WatchEvent) {
        if ev.kind != Kind::Pod {
            return;
        }
        let pod = &ev.object;
        let uid = json::uid(pod).to_string();
        if ev.event_type == Change::Deleted {
            self.pods.remove(&uid);
            self.shared.logs.forget(&uid);
            return;
        }
        let now = self.shared.store.clock().now();
        if !self.pods.contains_key(&uid) {
            if json::is_deleting(pod) {
                // Deleted before the kubelet saw it: nothing runs, remove it at once.
                self.shared.store.remove(Kind::Pod, json::namespace(pod), json::name(pod));
                return;
            }
            if matches!(json::get_str(pod, &["status", "phase"]), Some("Succeeded" | "Failed")) {
                return;
            }
            let run = self.admit(pod);
            self.pods.insert(uid.clone(), run);
            self.wake.push(Reverse((now, uid)));
            return;
        }
        if json::is_deleting(pod)
            && let Some(run) = self.pods.get_mut(&uid)
            && !run.terminating
        {
            run.terminating = true;
            self.wake.push(Reverse((now, uid)));
        }
    }

    fn admit(&mut self, pod: &Value) -> PodRun {
        let ip = format!("10.244.{}.{}", (self.next_ip / 250) % 250, self.next_ip % 250 + 2);
        self.next_ip += 1;
        let mut containers = Vec::new();
        for (list, init) in [("initContainers", true), ("containers", false)] {
            for c in json::get(pod, &["spec", list]).and_then(Value::as_array).into_iter().flatten() {
                let image = c.get("image").and_then(Value::as_str).unwrap_or("").to_string();
                let probe = |k: &str| if init { None } else { c.get(k).map(|p| Probe::from_json(p, &ip)) };
                containers.push(Container {
                    name: c.get("name").and_then(Value::as_str).unwrap_or("").to_string(),
                    pull_policy: c.get("imagePullPolicy").and_then(Value::as_str).unwrap_or("IfNotPresent").to_string(),
                    behaviour: self.shared.images.behaviour(&image),
                    readiness: probe("readinessProbe"),
                    liveness: probe("livenessProbe"),
                    startup: probe("startupProbe"),
                    image,
                    init,
                    state: State::Waiting {
                        reason: if init { "PodInitializing".into() } else { "ContainerCreating".into() },
                        message: None,
                    },
                    last_state: None,
                    restart_count: 0,
                    ready: false,
                    started: false,
                    instance: 0,
                    pull_failures: 0,
                    config_failures: 0,
                    crash_failures: 0,
                    ok_streak: 0,
                    ready_fail_streak: 0,
                    live_fail_streak: 0,
                    startup_passed: false,
                    image_id: String::new(),
                    container_id: String::new(),
                });
            }
        }
        PodRun {
            ns: json::namespace(pod).to_string(),
            name: json::name(pod).to_string(),
            uid: json::uid(pod).to_string(),
            ip,
            restart_policy: json::get_str(pod, &["spec", "restartPolicy"]).unwrap_or("Always").to_string(),
            grace: json::get_i64(pod, &["spec", "terminationGracePeriodSeconds"]).unwrap_or(30).max(0),
            containers,
            scheduled_at: None,
            initialized_at: None,
            terminating: false,
            steps: BinaryHeap::new(),
            conditions: BTreeMap::new(),
            remove_at: None,
        }
    }

    fn schedule(&mut self, uid: &str, at: Timestamp, c: usize, action: Action) {
        self.seq += 1;
        if let Some(run) = self.pods.get_mut(uid) {
            let instance = run.containers.get(c).map_or(0, |c| c.instance);
            run.steps.push(Reverse((at, self.seq, c, instance, action)));
            self.wake.push(Reverse((at, uid.to_string())));
        }
    }

    fn event(&self, pod: &Value, field: Option<&str>, t: EventType, reason: &str, message: &str, at: Timestamp) {
        self.recorder.record(pod, field, t, reason, message, "kubelet", at);
    }

    /// Runs every step of one pod that is due by `now`, then writes its status once.
    fn advance(&mut self, uid: &str, now: Timestamp) {
        let Some(run) = self.pods.get(uid) else { return };
        let Ok(pod) = self.shared.store.get(Kind::Pod, &run.ns, &run.name) else {
            self.pods.remove(uid);
            return;
        };
        if json::uid(&pod) != uid {
            self.pods.remove(uid);
            return;
        }
        let mut dirty = false;
        if run.scheduled_at.is_none() {
            self.bind(uid, &pod, now);
            dirty = true;
        }
        let terminating = self.pods.get(uid).is_some_and(|r| r.terminating);
        if terminating {
            self.terminate(uid, &pod, now);
            return;
        }
        loop {
            let Some(run) = self.pods.get_mut(uid) else { return };
            let Some(Reverse((at, _, c, instance, action))) = run.steps.peek().cloned() else { break };
            if at > now {
                self.wake.push(Reverse((at, uid.to_string())));
                break;
            }
            run.steps.pop();
            if run.containers.get(c).is_none_or(|x| x.instance != instance) {
                continue;
            }
            self.step(uid, &pod, c, action, at);
            dirty = true;
        }
        if dirty {
            self.write_status(uid, now);
        }
    }

    fn bind(&mut self, uid: &str, pod: &Value, now: Timestamp) {
        let (ns, name) = {
            let run = self.pods.get(uid).expect("caller checked");
            (run.ns.clone(), run.name.clone())
        };
        // Bound by an earlier sandbox run of this pod, or by a client through pods/binding: both fine.
        let _ = self.shared.store.bind(&ns, &name, crate::NODE_NAME);
        self.recorder.record(
            pod,
            None,
            EventType::Normal,
            "Scheduled",
            &format!("Successfully assigned {ns}/{name} to {}", crate::NODE_NAME),
            "default-scheduler",
            now,
        );
        let run = self.pods.get_mut(uid).expect("caller checked");
        run.scheduled_at = Some(now);
        run.conditions.insert("PodScheduled", (true, now));
        run.conditions.insert("PodReadyToStartContainers", (true, now));
        let has_init = run.containers.iter().any(|c| c.init);
        if !has_init {
            run.initialized_at = Some(now);
            run.conditions.insert("Initialized", (true, now));
        }
        let first: Vec<usize> = if has_init {
            vec![run.containers.iter().position(|c| c.init).expect("checked")]
        } else {
            (0..run.containers.len()).collect()
        };
        for c in first {
            self.schedule(uid, now, c, Action::Pull);
        }
    }

    fn step(&mut self, uid: &str, pod: &Value, ci: usize, action: Action, at: Timestamp) {
        let run = self.pods.get_mut(uid).expect("caller checked");
        let pod_ref = format!("{}_{}({})", run.name, run.ns, run.uid);
        let c = &mut run.containers[ci];
        let field = c.field_path();
        let image = c.image.clone();
        let b = c.behaviour.clone();
        let mut events: Vec<(EventType, &'static str, String)> = Vec::new();
        let mut next: Vec<(Timestamp, Action)> = Vec::new();
        let mut init_completed = false;
        match action {
            Action::Pull => {
                if !valid_image_reference(&image) {
                    let msg = format!(
                        "Failed to apply default image tag {image:?}: couldn't parse image name {image:?}: invalid reference format"
                    );
                    c.state = State::Waiting { reason: "InvalidImageName".into(), message: Some(msg.clone()) };
                    events.push((EventType::Warning, "InspectFailed", msg));
                    events.push((EventType::Warning, "Failed", "Error: InvalidImageName".into()));
                } else if c.pull_policy == "Never" && !self.present.contains(&image) {
                    let msg = format!("Container image {image:?} is not present with pull policy of Never");
                    c.state = State::Waiting { reason: "ErrImageNeverPull".into(), message: Some(msg.clone()) };
                    events.push((EventType::Warning, "ErrImageNeverPull", msg));
                    events.push((EventType::Warning, "Failed", "Error: ErrImageNeverPull".into()));
                } else if c.pull_policy != "Always" && self.present.contains(&image) {
                    events.push((
                        EventType::Normal,
                        "Pulled",
                        format!("Container image {image:?} already present on machine"),
                    ));
                    next.push((at, Action::Create));
                } else {
                    events.push((EventType::Normal, "Pulling", format!("Pulling image {image:?}")));
                    next.push((at + secs(b.pull_seconds), Action::PullDone));
                }
            }
            Action::PullDone => match self.shared.images.pull(&image) {
                PullOutcome::Pulled { digest, size_bytes } => {
                    self.present.insert(image.clone());
                    let digest = digest.unwrap_or_else(|| fake_digest(&image));
                    let repo = image.split('@').next().unwrap_or(&image);
                    let repo = match repo.rfind(':') {
                        Some(i) if !repo[i..].contains('/') => &repo[..i],
                        _ => repo,
                    };
                    c.image_id = format!("{repo}@{digest}");
                    let took = format_go_duration(b.pull_seconds);
                    let size = size_bytes.unwrap_or(b.size_bytes);
                    events.push((
                        EventType::Normal,
                        "Pulled",
                        format!("Successfully pulled image {image:?} in {took} ({took} including waiting). Image size: {size} bytes."),
                    ));
                    c.pull_failures = 0;
                    next.push((at, Action::Create));
                }
                PullOutcome::Failed(msg) => {
                    c.pull_failures += 1;
                    let text = format!("Failed to pull image {image:?}: {msg}");
                    c.state = State::Waiting { reason: "ErrImagePull".into(), message: Some(text.clone()) };
                    events.push((EventType::Warning, "Failed", text));
                    events.push((EventType::Warning, "Failed", "Error: ErrImagePull".into()));
                    next.push((at + SignedDuration::from_secs(1), Action::PullBackOff));
                }
            },
            Action::PullBackOff => {
                let msg = match &c.state {
                    State::Waiting { message: Some(m), .. } => {
                        m.strip_prefix(&format!("Failed to pull image {image:?}: ")).unwrap_or(m).to_string()
                    }
                    _ => String::new(),
                };
                c.state = State::Waiting {
                    reason: "ImagePullBackOff".into(),
                    message: Some(format!("Back-off pulling image {image:?}: ErrImagePull: {msg}")),
                };
                events.push((EventType::Normal, "BackOff", format!("Back-off pulling image {image:?}")));
                events.push((EventType::Warning, "Failed", "Error: ImagePullBackOff".into()));
                next.push((at - SignedDuration::from_secs(1) + backoff(c.pull_failures), Action::Pull));
            }
            Action::Create => {
                if let Some(msg) = &b.config_error {
                    c.config_failures += 1;
                    c.state =
                        State::Waiting { reason: "CreateContainerConfigError".into(), message: Some(msg.clone()) };
                    events.push((EventType::Warning, "Failed", format!("Error: {msg}")));
                    next.push((at + backoff(c.config_failures), Action::Create));
                } else {
                    c.instance += 1;
                    c.started = true;
                    c.container_id = format!(
                        "containerd://{}",
                        fake_digest(&format!("{uid}/{}/{}", c.name, c.instance)).trim_start_matches("sha256:")
                    );
                    c.state = State::Running { started_at: at };
                    c.ok_streak = 0;
                    c.ready_fail_streak = 0;
                    c.live_fail_streak = 0;
                    c.startup_passed = c.startup.is_none();
                    events.push((EventType::Normal, "Created", format!("Created container: {}", c.name)));
                    events.push((EventType::Normal, "Started", format!("Started container: {}", c.name)));
                    self.shared.logs.start_instance(uid, &c.name);
                    self.shared.logs.append(uid, &c.name, at, &b.log_lines);
                    if c.init {
                        match b.crash_after_seconds {
                            Some(after) => next.push((at + secs(after), Action::Exit)),
                            None => next.push((at + secs(b.run_seconds), Action::Complete)),
                        }
                    } else {
                        if let Some(after) = b.crash_after_seconds.or(if b.oom_killed { Some(1.0) } else { None }) {
                            next.push((at + secs(after), Action::Exit));
                        }
                        if let Some(p) = &c.startup {
                            next.push((at + SignedDuration::from_secs(p.initial), Action::StartupTick));
                        } else {
                            start_probes(c, at, at, &mut next);
                        }
                    }
                }
            }
            Action::Exit | Action::Complete => {
                let completed = action == Action::Complete;
                let (exit_code, reason) = if completed {
                    (0, "Completed")
                } else if b.oom_killed {
                    (137, "OOMKilled")
                } else if b.exit_code == 0 {
                    (0, "Completed")
                } else {
                    (b.exit_code, "Error")
                };
                let ran_since = match c.state {
                    State::Running { started_at } => Some(started_at),
                    _ => None,
                };
                c.state = State::Terminated {
                    exit_code,
                    reason: reason.into(),
                    started_at: ran_since,
                    finished_at: at,
                    container_id: c.container_id.clone(),
                };
                c.ready = false;
                if c.init && exit_code == 0 {
                    init_completed = true;
                } else {
                    restart_or_stop(c, &run.restart_policy, ran_since, at, &pod_ref, &mut events, &mut next);
                }
            }
            Action::Restart => {
                c.restart_count += 1;
                if matches!(c.state, State::Terminated { .. }) {
                    c.last_state = Some(c.state.clone());
                }
                next.push((at, Action::Pull));
            }
            Action::StartupTick => {
                let p = c.startup.clone().expect("scheduled only with a startup probe");
                if c.app_up(at) && !b.liveness_fails {
                    c.startup_passed = true;
                    let started = match c.state {
                        State::Running { started_at } => started_at,
                        _ => at,
                    };
                    start_probes(c, started, at, &mut next);
                } else {
                    c.live_fail_streak += 1;
                    events.push((EventType::Warning, "Unhealthy", format!("Startup probe failed: {}", p.failure)));
                    if c.live_fail_streak >= p.failure_threshold {
                        events.push((
                            EventType::Normal,
                            "Killing",
                            format!("Container {} failed startup probe, will be restarted", c.name),
                        ));
                        kill(c, at, &run.restart_policy, &pod_ref, &mut events, &mut next);
                    } else {
                        next.push((at + SignedDuration::from_secs(p.period), Action::StartupTick));
                    }
                }
            }
            Action::ReadinessTick => {
                let p = c.readiness.clone().expect("scheduled only with a readiness probe");
                if c.app_up(at) && !b.never_ready {
                    c.ok_streak += 1;
                    c.ready_fail_streak = 0;
                    if c.ok_streak >= p.success_threshold {
                        c.ready = true;
                    } else {
                        next.push((at + SignedDuration::from_secs(p.period), Action::ReadinessTick));
                    }
                } else {
                    c.ok_streak = 0;
                    c.ready_fail_streak += 1;
                    let msg = if b.never_ready && c.app_up(at) {
                        p.failure.replace("connect: connection refused", "i/o timeout")
                    } else {
                        p.failure.clone()
                    };
                    events.push((EventType::Warning, "Unhealthy", format!("Readiness probe failed: {msg}")));
                    if c.ready && c.ready_fail_streak >= p.failure_threshold {
                        c.ready = false;
                    }
                    next.push((at + SignedDuration::from_secs(p.period), Action::ReadinessTick));
                }
            }
            Action::LivenessTick => {
                let p = c.liveness.clone().expect("scheduled only with a liveness probe");
                if c.app_up(at) && !b.liveness_fails {
                    // A healthy application keeps passing: no further ticks can change anything.
                    c.live_fail_streak = 0;
                } else {
                    c.live_fail_streak += 1;
                    events.push((EventType::Warning, "Unhealthy", format!("Liveness probe failed: {}", p.failure)));
                    if c.live_fail_streak >= p.failure_threshold {
                        events.push((
                            EventType::Normal,
                            "Killing",
                            format!("Container {} failed liveness probe, will be restarted", c.name),
                        ));
                        kill(c, at, &run.restart_policy, &pod_ref, &mut events, &mut next);
                    } else {
                        next.push((at + SignedDuration::from_secs(p.period), Action::LivenessTick));
                    }
                }
            }
        }
        for (t, reason, msg) in &events {
            self.event(pod, Some(&field), *t, reason, msg, at);
        }
        for (t, a) in next {
            self.schedule(uid, t, ci, a);
        }
        if init_completed {
            let run = self.pods.get_mut(uid).expect("caller checked");
            let next_init = run.containers.iter().enumerate().skip(ci + 1).find(|(_, c)| c.init).map(|(i, _)| i);
            match next_init {
                Some(i) => self.schedule(uid, at, i, Action::Pull),
                None => {
                    run.initialized_at = Some(at);
                    run.conditions.insert("Initialized", (true, at));
                    let mains: Vec<usize> = (0..run.containers.len()).filter(|i| !run.containers[*i].init).collect();
                    for i in mains {
                        self.schedule(uid, at, i, Action::Pull);
                    }
                }
            }
        }
    }

    fn terminate(&mut self, uid: &str, pod: &Value, now: Timestamp) {
        let run = self.pods.get_mut(uid).expect("caller checked");
        if let Some(at) = run.remove_at {
            if now >= at {
                let (ns, name) = (run.ns.clone(), run.name.clone());
                self.shared.store.remove(Kind::Pod, &ns, &name);
                self.pods.remove(uid);
                self.shared.logs.forget(uid);
            } else {
                self.wake.push(Reverse((at, uid.to_string())));
            }
            return;
        }
        run.steps.clear();
        let mut stop = 0.0f64;
        let mut killing = Vec::new();
        for c in &run.containers {
            if matches!(c.state, State::Running { .. }) {
                stop = stop.max(c.behaviour.stop_seconds);
                killing.push((c.field_path(), format!("Stopping container {}", c.name)));
            }
        }
        let grace = run.grace as f64;
        let at = now + secs(stop.min(grace));
        run.remove_at = Some(at);
        for (field, msg) in killing {
            self.event(pod, Some(&field), EventType::Normal, "Killing", &msg, now);
        }
        self.wake.push(Reverse((at, uid.to_string())));
    }

    /// Writes the pod's status as the kubelet's status manager would.
    fn write_status(&mut self, uid: &str, now: Timestamp) {
        let Some(run) = self.pods.get_mut(uid) else { return };
        let mains: Vec<&Container> = run.containers.iter().filter(|c| !c.init).collect();
        let inits: Vec<&Container> = run.containers.iter().filter(|c| c.init).collect();
        let initialized = run.initialized_at.is_some();
        let all_ready = initialized && !mains.is_empty() && mains.iter().all(|c| c.ready);
        let mut set = |k: &'static str, v: bool| match run.conditions.get(k) {
            Some((cur, _)) if *cur == v => {}
            _ => {
                run.conditions.insert(k, (v, now));
            }
        };
        set("ContainersReady", all_ready);
        set("Ready", all_ready);
        if !inits.is_empty() && !initialized {
            set("Initialized", false);
        }
        let phase = if !initialized {
            if inits.iter().any(|c| matches!(&c.state, State::Terminated { exit_code, .. } if *exit_code != 0))
                && run.restart_policy == "Never"
            {
                "Failed"
            } else {
                "Pending"
            }
        } else {
            let never_ran = mains.iter().filter(|c| !c.started).count();
            let running = mains.iter().filter(|c| matches!(c.state, State::Running { .. })).count();
            let restarting = mains.iter().filter(|c| c.started && matches!(c.state, State::Waiting { .. })).count();
            let terminated: Vec<i32> = mains
                .iter()
                .filter_map(|c| match &c.state {
                    State::Terminated { exit_code, .. } => Some(*exit_code),
                    _ => None,
                })
                .collect();
            if never_ran > 0 {
                "Pending"
            } else if running > 0 || restarting > 0 {
                "Running"
            } else if terminated.len() == mains.len() && terminated.iter().all(|e| *e == 0) {
                "Succeeded"
            } else if terminated.len() == mains.len() {
                "Failed"
            } else {
                "Running"
            }
        };
        let unready: Vec<&str> = mains.iter().filter(|c| !c.ready).map(|c| c.name.as_str()).collect();
        let incomplete: Vec<&str> = inits
            .iter()
            .filter(|c| !matches!(&c.state, State::Terminated { exit_code: 0, .. }))
            .map(|c| c.name.as_str())
            .collect();
        let mut conditions = Vec::new();
        for (k, (v, t)) in &run.conditions {
            let mut c = json!({"type": k, "status": if *v { "True" } else { "False" }, "lastProbeTime": null, "lastTransitionTime": rfc3339(*t)});
            if !*v {
                match *k {
                    "Ready" | "ContainersReady" => {
                        c["reason"] = json!("ContainersNotReady");
                        c["message"] = json!(format!("containers with unready status: [{}]", unready.join(" ")));
                    }
                    "Initialized" => {
                        c["reason"] = json!("ContainersNotInitialized");
                        c["message"] = json!(format!("containers with incomplete status: [{}]", incomplete.join(" ")));
                    }
                    _ => {}
                }
            }
            conditions.push(c);
        }
        let order = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"];
        conditions.sort_by_key(|c| order.iter().position(|o| c["type"] == *o).unwrap_or(order.len()));
        let mut status = json!({
            "phase": phase,
            "conditions": conditions,
            "hostIP": "10.0.0.2",
            "hostIPs": [{"ip": "10.0.0.2"}],
            "podIP": run.ip,
            "podIPs": [{"ip": run.ip}],
            "startTime": run.scheduled_at.map(rfc3339),
            "containerStatuses": mains.iter().map(|c| c.status_json()).collect::<Vec<_>>(),
            "qosClass": "BestEffort",
        });
        if !inits.is_empty() {
            status["initContainerStatuses"] = Value::Array(inits.iter().map(|c| c.status_json()).collect());
        }
        let (ns, name) = (run.ns.clone(), run.name.clone());
        let store = &self.shared.store;
        store
            .modify(Kind::Pod, &ns, &name, Subresource::Status, false, |cur| {
                let mut n = cur.clone();
                n["status"] = status;
                Ok(n)
            })
            .noted(store, "the kubelet's pod status update");
    }
}

/// Schedules the first readiness and liveness probes of a container that started at `started`,
/// from `from` on (after a startup probe passed, probing resumes at once).
fn start_probes(c: &mut Container, started: Timestamp, from: Timestamp, next: &mut Vec<(Timestamp, Action)>) {
    match &c.readiness {
        Some(p) => next.push(((started + SignedDuration::from_secs(p.initial)).max(from), Action::ReadinessTick)),
        // Without a readiness probe a container is ready as soon as it runs.
        None => c.ready = true,
    }
    if let Some(p) = &c.liveness {
        // Only a probe that can fail needs simulating: the application fails it while it is not up
        // yet, or always when its behaviour says so.
        let first = (started + SignedDuration::from_secs(p.initial)).max(from);
        let up = started + secs(c.behaviour.start_delay_seconds);
        if c.behaviour.liveness_fails || up > first {
            next.push((first, Action::LivenessTick));
        }
    }
}

/// A container killed by a failing probe: terminated with SIGKILL's exit code, then restarted.
fn kill(
    c: &mut Container,
    at: Timestamp,
    policy: &str,
    pod_ref: &str,
    events: &mut Vec<(EventType, &'static str, String)>,
    next: &mut Vec<(Timestamp, Action)>,
) {
    let ran_since = match c.state {
        State::Running { started_at } => Some(started_at),
        _ => None,
    };
    c.state = State::Terminated {
        exit_code: 137,
        reason: "Error".into(),
        started_at: ran_since,
        finished_at: at,
        container_id: c.container_id.clone(),
    };
    c.ready = false;
    restart_or_stop(c, policy, ran_since, at, pod_ref, events, next);
}

/// After a container exited: restart it now (the first time) or after the crash-loop back-off,
/// as the restart policy allows.
fn restart_or_stop(
    c: &mut Container,
    policy: &str,
    ran_since: Option<Timestamp>,
    at: Timestamp,
    pod_ref: &str,
    events: &mut Vec<(EventType, &'static str, String)>,
    next: &mut Vec<(Timestamp, Action)>,
) {
    let failed = matches!(&c.state, State::Terminated { exit_code, .. } if *exit_code != 0);
    let restart = match policy {
        "Never" => false,
        "OnFailure" => failed,
        _ => true,
    };
    if !restart {
        return;
    }
    if ran_since.is_some_and(|s| at.duration_since(s) >= SignedDuration::from_secs(BACKOFF_RESET)) {
        c.crash_failures = 0;
    }
    c.crash_failures += 1;
    if c.crash_failures == 1 {
        next.push((at, Action::Restart));
        return;
    }
    let delay = backoff(c.crash_failures - 1);
    let terminated = std::mem::replace(
        &mut c.state,
        State::Waiting {
            reason: "CrashLoopBackOff".into(),
            message: Some(format!(
                "back-off {} restarting failed container={} pod={pod_ref}",
                format_go_duration(delay.as_secs_f64()),
                c.name
            )),
        },
    );
    c.last_state = Some(terminated);
    events.push((
        EventType::Warning,
        "BackOff",
        format!("Back-off restarting failed container {} in pod {pod_ref}", c.name),
    ));
    next.push((at + delay, Action::Restart));
}

/// Go's `time.Duration` formatting for whole and fractional seconds: `10s`, `1.5s`, `5m0s`.
pub fn format_go_duration(secs: f64) -> String {
    let d = Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or(Duration::ZERO);
    let total = d.as_secs();
    let frac = d.subsec_millis();
    let s = total % 60;
    let m = (total / 60) % 60;
    let h = total / 3600;
    let sec = if frac > 0 { format!("{s}.{}", format!("{frac:03}").trim_end_matches('0')) } else { s.to_string() };
    match (h, m) {
        (0, 0) => format!("{sec}s"),
        (0, m) => format!("{m}m{sec}s"),
        (h, m) => format!("{h}h{m}m{sec}s"),
    }
}

fn fake_digest(seed: &str) -> String {
    // Not cryptographic: a stable 64-hex-digit identifier derived from the text.
    let mut out = String::with_capacity(71);
    out.push_str("sha256:");
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for i in 0..4u64 {
        for b in seed.bytes().chain(i.to_le_bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01B3);
        }
        out.push_str(&format!("{h:016x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_are_checked_like_the_runtime() {
        for ok in [
            "nginx",
            "nginx:1.25",
            "library/nginx:latest",
            "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/ms-account-management:latest-release-1.0.0",
            "localhost:5000/app:v1",
            "registry.example/team/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert!(valid_image_reference(ok), "{ok}");
        }
        for bad in ["", "Nginx:1", "app:", "app:-x", "app name", "a//b", "app@sha256:zz", "app:tag:extra/x"] {
            assert!(!valid_image_reference(bad), "{bad}");
        }
    }

    #[test]
    fn backoff_doubles_from_ten_seconds_to_five_minutes() {
        let secs: Vec<i64> = (1..=7).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(secs, [10, 20, 40, 80, 160, 300, 300]);
    }

    #[test]
    fn durations_print_like_go() {
        assert_eq!(format_go_duration(10.0), "10s");
        assert_eq!(format_go_duration(300.0), "5m0s");
        assert_eq!(format_go_duration(1.5), "1.5s");
        assert_eq!(format_go_duration(3725.0), "1h2m5s");
    }

    #[test]
    fn probe_failures_name_the_endpoint() {
        let tcp = Probe::from_json(&json!({"tcpSocket": {"port": 8443}, "initialDelaySeconds": 5}), "10.244.0.9");
        assert_eq!(tcp.failure, "dial tcp 10.244.0.9:8443: connect: connection refused");
        assert_eq!((tcp.initial, tcp.period, tcp.failure_threshold), (5, 10, 3));
        let http = Probe::from_json(&json!({"httpGet": {"port": "http", "path": "/ready"}}), "10.244.0.9");
        assert!(http.failure.starts_with("Get \"http://10.244.0.9:http/ready\""), "{}", http.failure);
    }
}
