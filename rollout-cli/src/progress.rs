//! Progress on stderr while a deploy, rollback or wait runs, and what the cluster was left in when
//! the run is interrupted.
//!
//! Two displays: on a terminal, one line per workload, redrawn in place (its phase, counters such as
//! `2/3 updated, 1 available`, and the latest problem); when stderr is not a terminal, when `CI` is
//! set, or with `TERM=dumb`, plain lines with a UTC timestamp, one per event, which read well in a CI
//! log. `-q` shows neither. The same events feed a small record of what was written to which
//! workload, so Ctrl-C can say exactly what state the cluster was left in and which command follows
//! or undoes it.
//!
//! It deliberately judges nothing: every word about a rollout comes from rollout-core's progress
//! events.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use rollout_core::ProgressEvent;
use rollout_core::deploy::CheckStatus;
use rollout_core::report::{ImageUpdate, Outcome};
use rollout_core::status::WorkloadKind;
use rollout_core::workload::WorkloadRef;

use crate::output::Out;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Not at all (`-q`).
    Off,
    /// One timestamped line per event.
    Lines,
    /// One line per workload, redrawn in place.
    Live,
}

impl Mode {
    /// The mode for this process: live on a terminal, plain lines in CI or a pipe, off with `-q`.
    pub fn detect(quiet: bool) -> Mode {
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        match (quiet, ci || dumb || !std::io::stderr().is_terminal()) {
            (true, _) => Mode::Off,
            (false, true) => Mode::Lines,
            (false, false) => Mode::Live,
        }
    }
}

/// What the command does, for the words of the interruption message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Changes images or applies manifests.
    Deploy,
    /// Rolls back.
    Rollback,
    /// Only watches.
    Wait,
    /// Anything else: nothing to say about workloads.
    Other,
}

/// What is known of one workload.
#[derive(Debug, Clone)]
struct Tracked {
    target: WorkloadRef,
    /// The preflight checks ran (so a write may follow at any moment).
    checked: bool,
    /// The images written by this run (the latest write: a rollback replaces the deploy's).
    written: Option<Vec<ImageUpdate>>,
    /// The first images written (the deploy's, whose `previous` is what the workload had).
    first_written: Option<Vec<ImageUpdate>>,
    generation: Option<i64>,
    /// A rollback was started, to this revision if known.
    rolling_back: Option<Option<i64>>,
    /// The phase word for the live line.
    phase: String,
    /// `2/3 updated, 1 available`.
    counters: String,
    /// The latest problem, one line.
    problem: Option<String>,
    finished: Option<Outcome>,
}

struct State {
    task: Task,
    workloads: Vec<Tracked>,
    /// Lines of the live display drawn last time.
    drawn: usize,
}

/// The progress display and record of one run.
pub struct Session {
    mode: Mode,
    state: Mutex<State>,
}

impl Session {
    /// A session that shows progress as `out` and the terminal allow.
    pub fn new(out: Out) -> Self {
        Self::with_mode(Mode::detect(out.quiet))
    }

    /// A session with a given display mode.
    pub fn with_mode(mode: Mode) -> Self {
        Session { mode, state: Mutex::new(State { task: Task::Other, workloads: Vec::new(), drawn: 0 }) }
    }

    /// Says what the command does (for the interruption message).
    pub fn set_task(&self, task: Task) {
        self.lock().task = task;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes one progress event of rollout-core.
    pub fn event(&self, event: &ProgressEvent) {
        let mut st = self.lock();
        let warning = record(&mut st, event);
        let mut err = std::io::stderr().lock();
        match self.mode {
            Mode::Off => {}
            Mode::Lines => {
                let _ = writeln!(err, "{}", stamped(Mode::Lines, &event.message()));
            }
            Mode::Live => {
                clear(&mut err, st.drawn);
                if let Some(w) = warning {
                    let _ = writeln!(err, "{w}");
                }
                st.drawn = draw(&mut err, &st.workloads);
            }
        }
    }

    /// Ends the live display: its last lines stay on screen.
    pub fn finish(&self) {
        let mut st = self.lock();
        st.drawn = 0;
    }

    /// What state the cluster was left in, for an interrupted run: one line per workload.
    pub fn interrupted_message(&self) -> String {
        let mut st = self.lock();
        st.drawn = 0;
        interruption(st.task, &st.workloads)
    }
}

/// A timestamp in front of a line in `Lines` mode.
fn stamped(mode: Mode, text: &str) -> String {
    match mode {
        Mode::Lines => {
            let now = jiff::Timestamp::now();
            let now = jiff::Timestamp::from_second(now.as_second()).unwrap_or(now);
            format!("{now} {text}")
        }
        _ => text.to_owned(),
    }
}

/// Updates the record with an event; returns a line to print above the live display, if any.
fn record(st: &mut State, event: &ProgressEvent) -> Option<String> {
    let target = match event {
        ProgressEvent::Preflight { target, .. }
        | ProgressEvent::Updated { target, .. }
        | ProgressEvent::Status { target, .. }
        | ProgressEvent::Problem { target, .. }
        | ProgressEvent::RollingBack { target, .. }
        | ProgressEvent::Finished { target, .. } => target,
        ProgressEvent::Warning { .. } => return Some(event.message()),
    };
    let i = match st.workloads.iter().position(|w| &w.target == target) {
        Some(i) => i,
        None => {
            st.workloads.push(Tracked {
                target: target.clone(),
                checked: false,
                written: None,
                first_written: None,
                generation: None,
                rolling_back: None,
                phase: "starting".into(),
                counters: String::new(),
                problem: None,
                finished: None,
            });
            st.workloads.len() - 1
        }
    };
    let w = &mut st.workloads[i];
    match event {
        ProgressEvent::Preflight { checks, .. } => {
            w.checked = true;
            let failed = checks.iter().filter(|c| c.status == CheckStatus::Failed).count();
            w.phase = if failed == 0 {
                format!(
                    "preflight: {} checks passed",
                    checks.iter().filter(|c| c.status == CheckStatus::Passed).count()
                )
            } else {
                format!("preflight: {failed} failed")
            };
        }
        ProgressEvent::Updated { images, generation, .. } => {
            if w.first_written.is_none() {
                w.first_written = Some(images.clone());
            }
            w.written = Some(images.clone());
            w.generation = *generation;
            w.finished = None;
            w.problem = None;
            w.phase = if w.rolling_back.is_some() { "rolling back".into() } else { "rolling out".into() };
        }
        ProgressEvent::Status { status, .. } => {
            let r = &status.replicas;
            w.counters = match r.desired {
                Some(d) => format!("{}/{d} updated, {} available", r.updated, r.available),
                None => format!("{} updated, {} available", r.updated, r.available),
            };
        }
        ProgressEvent::Problem { problem, .. } => {
            w.problem = Some(rollout_core::wait::describe_problem(problem));
        }
        ProgressEvent::RollingBack { to_revision, .. } => {
            w.rolling_back = Some(*to_revision);
            w.finished = None;
            w.phase = "rolling back".into();
        }
        ProgressEvent::Finished { outcome, message, .. } => {
            w.finished = Some(*outcome);
            w.phase = if w.rolling_back.is_some() { format!("rollback {outcome}") } else { outcome.to_string() };
            if !outcome.is_success() {
                w.problem = Some(message.clone());
            }
        }
        ProgressEvent::Warning { .. } => {}
    }
    None
}

/// The width of the live display's lines: `COLUMNS`, or 100.
fn width() -> usize {
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).filter(|w| *w > 20).unwrap_or(100)
}

/// Moves the cursor up over the last drawing and clears it.
fn clear(err: &mut impl Write, drawn: usize) {
    if drawn > 0 {
        let _ = write!(err, "\x1b[{drawn}A\x1b[J");
    }
}

/// Draws one line per workload; returns how many lines were drawn.
fn draw(err: &mut impl Write, workloads: &[Tracked]) -> usize {
    let width = width();
    for w in workloads {
        let _ = writeln!(err, "{}", truncate(&live_line(w), width - 1));
    }
    let _ = err.flush();
    workloads.len()
}

/// `shop/deployment/web  rolling out  2/3 updated, 1 available  pod web-1 …: ImagePullBackOff`.
fn live_line(w: &Tracked) -> String {
    let mut parts = vec![w.target.to_string(), w.phase.clone()];
    if !w.counters.is_empty() {
        parts.push(w.counters.clone());
    }
    if let Some(p) = &w.problem {
        parts.push(p.clone());
    }
    parts.join("  ")
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// `-n shop` plus `--context prod` when the workload names one.
fn scope_flags(target: &WorkloadRef) -> String {
    match &target.context {
        Some(c) if !c.is_empty() => format!("-n {} --context {c}", target.namespace),
        _ => format!("-n {}", target.namespace),
    }
}

fn kind_and_name(target: &WorkloadRef) -> String {
    format!("{}/{}", target.kind_name(), target.name)
}

fn images_text(images: &[ImageUpdate]) -> String {
    images.iter().map(|i| format!("{}={}", i.container, i.new)).collect::<Vec<_>>().join(" ")
}

/// The interruption message: what was changed and how to follow or undo it, per workload.
fn interruption(task: Task, workloads: &[Tracked]) -> String {
    if workloads.is_empty() {
        return match task {
            Task::Deploy | Task::Rollback => "interrupted before anything was changed".into(),
            Task::Wait => "interrupted; rollout changed nothing (any rollout goes on in the cluster)".into(),
            Task::Other => "interrupted: stopped before finishing; nothing further was changed".into(),
        };
    }
    let lines: Vec<String> = workloads.iter().map(|w| interruption_line(task, w)).collect();
    lines.join("\n")
}

fn interruption_line(task: Task, w: &Tracked) -> String {
    let t = &w.target;
    let flags = scope_flags(t);
    let follow = format!("`rollout status {} {flags}` to follow it", kind_and_name(t));
    let generation = w.generation.map(|g| format!(" (generation {g})")).unwrap_or_default();
    let undo = || match (t.kind, &w.first_written) {
        (WorkloadKind::Deployment, _) => format!("`rollout rollback {} {flags}` to undo", t.name),
        (_, Some(images)) => {
            let previous: Vec<String> = images
                .iter()
                .filter_map(|i| i.previous.as_ref().map(|p| format!("--container {} --image {p}", i.container)))
                .collect();
            format!("`rollout deploy {} {} {flags}` to undo", kind_and_name(t), previous.join(" "))
        }
        (_, None) => "set the previous images again to undo".into(),
    };
    if let Some(outcome) = w.finished {
        let what = if w.rolling_back.is_some() { "its rollback" } else { "its rollout" };
        return format!("interrupted after {t} finished ({what} {outcome})");
    }
    match (task, &w.written, w.rolling_back) {
        (Task::Wait, _, _) => {
            format!("interrupted while waiting for {t}; nothing was changed, the rollout goes on: {follow}")
        }
        (_, Some(images), Some(revision)) => {
            let to = revision.map(|r| format!(" to revision {r}")).unwrap_or_default();
            format!(
                "interrupted after {t} was rolled back{to} ({}){generation}; the rollback continues in the cluster: {follow}",
                images_text(images)
            )
        }
        (_, None, Some(_)) => {
            format!("interrupted while rolling back {t}; it may or may not have been written: {follow}")
        }
        (_, Some(images), None) => format!(
            "interrupted after {} {} was patched to {}{generation}; the rollout continues in the cluster: {follow}, {}",
            t.kind_name(),
            t.context
                .as_ref()
                .map(|c| format!("{c}/{}/{}", t.namespace, t.name))
                .unwrap_or_else(|| format!("{}/{}", t.namespace, t.name)),
            images_text(images),
            undo()
        ),
        (_, None, None) if w.checked => format!(
            "interrupted while {t} was being written; it may or may not have changed: `rollout history {} {flags}` shows",
            kind_and_name(t)
        ),
        (_, None, None) => format!("interrupted before {t} was changed"),
    }
}

#[cfg(test)]
mod tests {
    use rollout_core::deploy::{CheckName, PreflightCheck};

    use super::*;

    fn web() -> WorkloadRef {
        WorkloadRef::deployment("shop", "web")
    }

    fn updated(previous: &str, new: &str) -> ProgressEvent {
        ProgressEvent::Updated {
            target: web(),
            generation: Some(4),
            change_cause: None,
            images: vec![ImageUpdate {
                container: "app".into(),
                init: false,
                previous: Some(previous.into()),
                new: new.into(),
            }],
        }
    }

    fn session(events: &[ProgressEvent], task: Task) -> Session {
        let s = Session::with_mode(Mode::Off);
        s.set_task(task);
        for e in events {
            s.event(e);
        }
        s
    }

    #[test]
    fn an_interrupted_deploy_says_what_was_patched_and_how_to_follow_or_undo_it() {
        let s = session(&[updated("repo/app:1.0.0", "repo/app:1.0.1")], Task::Deploy);
        assert_eq!(
            s.interrupted_message(),
            "interrupted after deployment shop/web was patched to app=repo/app:1.0.1 (generation 4); the rollout \
             continues in the cluster: `rollout status deployment/web -n shop` to follow it, `rollout rollback web \
             -n shop` to undo"
        );
    }

    #[test]
    fn an_interruption_before_any_write_says_nothing_changed() {
        assert_eq!(session(&[], Task::Deploy).interrupted_message(), "interrupted before anything was changed");
        let checked = ProgressEvent::Preflight {
            target: web(),
            checks: vec![PreflightCheck {
                check: CheckName::Paused,
                status: CheckStatus::Passed,
                message: "ok".into(),
            }],
        };
        let msg = session(&[checked], Task::Deploy).interrupted_message();
        assert!(msg.starts_with("interrupted while shop/deployment/web was being written"), "{msg}");
    }

    #[test]
    fn an_interrupted_rollback_says_it_continues() {
        let events = [
            updated("repo/app:1.0.0", "repo/app:bad"),
            ProgressEvent::Finished { target: web(), outcome: Outcome::Failed, message: "CrashLoopBackOff".into() },
            ProgressEvent::RollingBack { target: web(), to_revision: Some(1), reason: "failed".into() },
            updated("repo/app:bad", "repo/app:1.0.0"),
        ];
        let msg = session(&events, Task::Deploy).interrupted_message();
        assert_eq!(
            msg,
            "interrupted after shop/deployment/web was rolled back to revision 1 (app=repo/app:1.0.0) (generation 4); \
             the rollback continues in the cluster: `rollout status deployment/web -n shop` to follow it"
        );
    }

    #[test]
    fn a_statefulset_is_undone_by_setting_its_previous_image() {
        let sts = WorkloadRef::new(WorkloadKind::StatefulSet, "shop", "db").in_context("prod");
        let event = ProgressEvent::Updated {
            target: sts,
            generation: None,
            change_cause: None,
            images: vec![ImageUpdate {
                container: "db".into(),
                init: false,
                previous: Some("pg:15".into()),
                new: "pg:16".into(),
            }],
        };
        let msg = session(&[event], Task::Deploy).interrupted_message();
        assert!(
            msg.ends_with(
                "`rollout deploy statefulset/db --container db --image pg:15 -n shop --context prod` to undo"
            ),
            "{msg}"
        );
    }

    #[test]
    fn live_lines_show_counters_and_the_latest_problem() {
        let mut st = State { task: Task::Deploy, workloads: Vec::new(), drawn: 0 };
        record(&mut st, &updated("a:1", "a:2"));
        let status: rollout_core::WorkloadStatus = {
            let d: k8s_openapi::api::apps::v1::Deployment = serde_json::from_value(serde_json::json!({
                "metadata": {"name": "web", "generation": 2},
                "spec": {"replicas": 3, "selector": {}, "template": {}},
                "status": {"observedGeneration": 2, "replicas": 4, "updatedReplicas": 2, "readyReplicas": 3, "availableReplicas": 1}
            }))
            .unwrap();
            rollout_core::rollout_status(&d)
        };
        record(&mut st, &ProgressEvent::Status { target: web(), status });
        assert_eq!(live_line(&st.workloads[0]), "shop/deployment/web  rolling out  2/3 updated, 1 available");
        assert_eq!(truncate("abcdef", 4), "abc…");
    }
}
