//! The text form of rollout-core's reports: one line per workload that went well, and a failure
//! block for one that did not, as Krane prints its failure summary: the reason, the failing pods'
//! containers with their events and last log lines, and whether a rollback happened and how it went.
//!
//! It only lays out what the reports say; the JSON form is the reports serialized as they are.

use std::time::Duration;

use rollout_core::diagnosis::ContainerProblem;
use rollout_core::report::{CombinedReport, ImageUpdate, Operation, Outcome, RolloutReport};
use rollout_core::status::WorkloadKind;

/// The text of a combined report: each workload's report, separated by a blank line when one of them
/// has a failure block.
pub fn combined(c: &CombinedReport) -> String {
    let blocks: Vec<String> = c.reports.iter().map(report).collect();
    let sep = if blocks.iter().any(|b| b.contains('\n')) { "\n\n" } else { "\n" };
    let mut out = blocks.join(sep);
    if c.reports.len() > 1 {
        let count = |o: Outcome| c.reports.iter().filter(|r| r.outcome == o).count();
        let mut parts = Vec::new();
        for o in [
            Outcome::Succeeded,
            Outcome::Unchanged,
            Outcome::Started,
            Outcome::DryRun,
            Outcome::RolledBack,
            Outcome::TimedOut,
            Outcome::Failed,
        ] {
            let n = count(o);
            if n > 0 {
                parts.push(format!("{n} {o}"));
            }
        }
        out.push_str(&format!("\n{} workloads: {} ({})", c.reports.len(), parts.join(", "), seconds(c.duration_ms)));
    }
    out
}

/// The text of one report: a line for a success, a failure block otherwise.
pub fn report(r: &RolloutReport) -> String {
    if r.outcome.is_success() { success(r) } else { failure(r) }
}

/// `shop/deployment/web: succeeded in 4.2s: deployment "web" successfully rolled out (revision 1 -> 2)`
/// and the images that changed.
fn success(r: &RolloutReport) -> String {
    let mut line = match r.outcome {
        Outcome::Succeeded => format!("{}: succeeded in {}: {}", r.target, seconds(r.duration_ms), r.message),
        // The message of a dry run starts with "dry run".
        Outcome::DryRun => format!("{}: {}", r.target, r.message),
        _ => format!("{}: {}: {}", r.target, r.outcome, r.message),
    };
    if let Some(rev) = revisions(r) {
        line.push_str(&format!(" ({rev})"));
    }
    let mut lines = vec![line];
    if r.outcome != Outcome::Unchanged {
        lines.extend(images(&r.images, r.operation));
    }
    if r.outcome == Outcome::DryRun {
        for c in &r.preflight {
            let status = serde_json::to_value(c.status).ok().and_then(|v| v.as_str().map(str::to_owned));
            lines.push(format!("  check {}: {}: {}", c.check, status.unwrap_or_default(), c.message));
        }
    }
    if let Some(patch) = &r.patch {
        lines.push(format!("  patch: {patch}"));
    }
    lines.join("\n")
}

fn revisions(r: &RolloutReport) -> Option<String> {
    match (r.previous_revision, r.revision) {
        (Some(a), Some(b)) if a != b => Some(format!("revision {a} -> {b}")),
        (_, Some(b)) => Some(format!("revision {b}")),
        _ => None,
    }
}

/// `  app: repo/app:1.0.0 -> repo/app:1.0.1` for each changed container.
fn images(images: &[ImageUpdate], operation: Operation) -> Vec<String> {
    images
        .iter()
        .filter(|i| i.previous.as_deref() != Some(i.new.as_str()) || operation == Operation::Wait)
        .map(|i| {
            let init = if i.init { " (init)" } else { "" };
            match &i.previous {
                Some(p) if p != &i.new => format!("  {}{init}: {p} -> {}", i.container, i.new),
                _ => format!("  {}{init}: {}", i.container, i.new),
            }
        })
        .collect()
}

/// The failure block.
fn failure(r: &RolloutReport) -> String {
    let heading = match (r.outcome, r.reason.as_deref()) {
        (Outcome::RolledBack, Some("Timeout")) => "TIMED OUT, ROLLED BACK",
        (Outcome::RolledBack, _) => "FAILED, ROLLED BACK",
        (Outcome::TimedOut, _) => "TIMED OUT",
        _ => "FAILED",
    };
    let reason = r.reason.as_deref().map(|x| format!(" ({x})")).unwrap_or_default();
    let mut lines = vec![format!("{heading}: {}{reason} after {}", r.target, seconds(r.duration_ms))];
    lines.push(format!("  {}", r.message));
    let changed = images(&r.images, r.operation);
    if !changed.is_empty() {
        lines.push("  images:".into());
        lines.extend(changed.into_iter().map(|l| format!("  {l}")));
    }
    if let Some(status) = &r.status {
        let c = &status.replicas;
        let desired = c.desired.map(|d| format!("/{d}")).unwrap_or_default();
        lines.push(format!(
            "  status: {} ({}{desired} updated, {} ready, {} available)",
            status.message(),
            c.updated,
            c.ready,
            c.available
        ));
    }
    for p in &r.problems {
        lines.extend(problem(p));
    }
    lines.push(rollback(r));
    lines.join("\n")
}

/// A failing container: its state, events and log tail.
fn problem(p: &ContainerProblem) -> Vec<String> {
    let mut lines = vec![];
    let who = match &p.container {
        Some(c) => format!("pod {}, {}container {c}", p.pod, if p.init { "init " } else { "" }),
        None => format!("pod {}", p.pod),
    };
    let mut details = vec![p.reason.clone()];
    if let Some(code) = p.exit_code {
        details.push(format!("exit code {code}"));
    }
    if let Some(last) = p.last_termination_reason.as_deref().filter(|l| *l != p.reason) {
        details.push(format!("last terminated: {last}"));
    }
    if p.restart_count > 0 {
        details.push(format!("{} restart{}", p.restart_count, if p.restart_count == 1 { "" } else { "s" }));
    }
    lines.push(format!("  {who}: {}", details.join(", ")));
    if let Some(m) = p.message.as_deref().filter(|m| !m.is_empty()) {
        lines.push(format!("    {m}"));
    }
    if !p.events.is_empty() {
        lines.push("    events:".into());
        for e in &p.events {
            let kind = e.type_.as_deref().unwrap_or("Normal");
            let times = if e.count > 1 { format!(" (x{})", e.count) } else { String::new() };
            lines.push(format!("      {kind} {}: {}{times}", e.reason, e.message));
        }
    }
    if !p.log_tail.is_empty() {
        let n = p.log_tail.len();
        lines.push(format!("    last {n} log line{}:", if n == 1 { "" } else { "s" }));
        lines.extend(p.log_tail.iter().map(|l| format!("      | {l}")));
    }
    lines
}

/// Whether the failure was rolled back, and how that went.
fn rollback(r: &RolloutReport) -> String {
    match &r.rollback {
        Some(rb) => {
            // Kubernetes renumbers the revision a rollback returns to, so say where it is now.
            let now = rb.revision.map(|v| format!(" (now revision {v})")).unwrap_or_default();
            let verdict = if rb.outcome.is_success() { "rolled back" } else { "rollback failed" };
            let mut s = format!("  {verdict}{now}: {}: {}", rb.outcome, rb.message);
            if !rb.outcome.is_success() {
                for p in &rb.problems {
                    s.push('\n');
                    s.push_str(&problem(p).join("\n"));
                }
            }
            s
        }
        None if r.operation == Operation::Rollback => "  this was a rollback; nothing further was done".into(),
        None if r.operation == Operation::Wait => "  not rolled back (rollout status only watches)".into(),
        None => {
            let flags = match &r.target.context {
                Some(c) if !c.is_empty() => format!("-n {} --context {c}", r.target.namespace),
                _ => format!("-n {}", r.target.namespace),
            };
            match r.target.kind {
                WorkloadKind::Deployment => format!(
                    "  not rolled back (deploy with --rollback-on-failure to roll back automatically; now: `rollout \
                     rollback {} {flags}`)",
                    r.target.name
                ),
                _ => "  not rolled back (deploy with --rollback-on-failure to roll back automatically)".into(),
            }
        }
    }
}

/// `4.2s`, `1m30s`.
pub fn seconds(ms: u64) -> String {
    let d = Duration::from_millis(ms);
    if ms < 60_000 {
        return format!("{:.1}s", d.as_secs_f64());
    }
    rollout_core::duration::format_duration(Duration::from_secs(d.as_secs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(name: &str, outcome: Outcome) -> RolloutReport {
        RolloutReport {
            operation: Operation::Deploy,
            target: rollout_core::workload::WorkloadRef::deployment("shop", name),
            outcome,
            reason: None,
            message: "done".into(),
            images: vec![ImageUpdate {
                container: "app".into(),
                init: false,
                previous: Some("a:1".into()),
                new: "a:2".into(),
            }],
            change_cause: None,
            revision: Some(2),
            previous_revision: Some(1),
            new_replica_set: None,
            started_at: jiff::Timestamp::UNIX_EPOCH,
            finished_at: jiff::Timestamp::UNIX_EPOCH,
            duration_ms: 1500,
            preflight: Vec::new(),
            status: None,
            problems: Vec::new(),
            patch: None,
            rollback: None,
        }
    }

    #[test]
    fn many_workloads_end_with_a_count_per_outcome() {
        let c = CombinedReport {
            outcome: Outcome::Succeeded,
            started_at: jiff::Timestamp::UNIX_EPOCH,
            finished_at: jiff::Timestamp::UNIX_EPOCH,
            duration_ms: 2000,
            reports: vec![report("web", Outcome::Succeeded), report("api", Outcome::Unchanged)],
        };
        assert_eq!(
            combined(&c),
            "shop/deployment/web: succeeded in 1.5s: done (revision 1 -> 2)\n  app: a:1 -> a:2\n\n\
             shop/deployment/api: unchanged: done (revision 1 -> 2)\n\
             2 workloads: 1 succeeded, 1 unchanged (2.0s)"
        );
    }

    #[test]
    fn a_failure_without_a_rollback_says_how_to_roll_back() {
        let text = report_text(Outcome::Failed);
        assert!(
            text.starts_with("FAILED: shop/deployment/web after 1.5s\n  done\n  images:\n    app: a:1 -> a:2"),
            "{text}"
        );
        assert!(text.ends_with("now: `rollout rollback web -n shop`)"), "{text}");
    }

    fn report_text(outcome: Outcome) -> String {
        super::report(&report("web", outcome))
    }

    #[test]
    fn short_durations_have_a_tenth_of_a_second() {
        assert_eq!(seconds(4230), "4.2s");
        assert_eq!(seconds(90_500), "1m30s");
    }
}
