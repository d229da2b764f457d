//! Reports: what a deploy, apply, wait or rollback did, as one serializable structure.
//!
//! [`RolloutReport`] is the one structure the CLI prints (`--output json`) and the Python module
//! returns; its snake_case JSON field names are a contract covered by tests. A report carries the
//! target, the images before and after, the revision, the outcome and why, the timings, every
//! preflight check, the problems found in the new pods (with their events and log tails), the patch
//! a dry run computed, and the report of an automatic rollback, nested. [`CombinedReport`] gathers
//! the reports of many workloads handled in one call.
//!
//! The `outcome` field is one of `succeeded`, `failed`, `timed_out`, `rolled_back`, `unchanged`,
//! `started` (the change was written and, as asked, not waited for: the rollout goes on in the
//! cluster) and `dry_run` (the checks passed and the change was computed, in `patch`, but not
//! written). The last two are successes: they say exactly what was done, no more.
//!
//! This module only describes results; it decides nothing and fetches nothing.

use std::fmt;

use jiff::Timestamp;
use serde::Serialize;

use crate::deploy::PreflightCheck;
use crate::diagnosis::ContainerProblem;
use crate::error::{Error, Result};
use crate::status::WorkloadStatus;
use crate::workload::WorkloadRef;

/// What was done to the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Images were set on an existing workload.
    Deploy,
    /// Manifests were applied (server-side apply).
    Apply,
    /// An existing rollout was only watched.
    Wait,
    /// The workload was rolled back to an earlier revision.
    Rollback,
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The rollout completed: every replica updated and available.
    Succeeded,
    /// The rollout failed (doomed pods, the progress deadline, a deleted workload) and was not rolled back.
    Failed,
    /// The rollout did not finish within the timeout and was not rolled back.
    TimedOut,
    /// The rollout failed or timed out and was rolled back; the nested report tells how the rollback went.
    RolledBack,
    /// Nothing had to change (the images were already set, or the rollback target is already current).
    Unchanged,
    /// The change was written and, as asked (`no_wait`), not waited for: the rollout continues in the
    /// cluster, and nothing is known yet about how it ends.
    Started,
    /// A dry run: the checks passed and the change was computed (the report's `patch`), but nothing
    /// was written.
    DryRun,
}

impl Outcome {
    /// The word used in JSON: `succeeded`, `failed`, `timed_out`, `rolled_back`, `unchanged`,
    /// `started`, `dry_run`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed_out",
            Outcome::RolledBack => "rolled_back",
            Outcome::Unchanged => "unchanged",
            Outcome::Started => "started",
            Outcome::DryRun => "dry_run",
        }
    }

    /// Whether the outcome is a success: succeeded, unchanged, or (as asked) only started or only
    /// computed in a dry run.
    pub fn is_success(self) -> bool {
        matches!(self, Outcome::Succeeded | Outcome::Unchanged | Outcome::Started | Outcome::DryRun)
    }

    /// How bad it is, for combining outcomes: a failure (rolled back or not) outranks a timeout, which
    /// outranks a rollout only started, which outranks a finished success.
    fn severity(self) -> u8 {
        match self {
            Outcome::Unchanged => 0,
            Outcome::DryRun => 1,
            Outcome::Succeeded => 2,
            Outcome::Started => 3,
            Outcome::TimedOut => 4,
            Outcome::RolledBack => 5,
            Outcome::Failed => 6,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str().replace('_', " "))
    }
}

/// One container's image before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageUpdate {
    /// The container's name.
    pub container: String,
    /// Whether it is an init container.
    pub init: bool,
    /// The image before the change (`None` when unknown, e.g. a workload created by apply, or a wait).
    pub previous: Option<String>,
    /// The image after the change.
    pub new: String,
}

/// What happened to one workload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RolloutReport {
    /// What was done.
    pub operation: Operation,
    /// The workload.
    pub target: WorkloadRef,
    /// How it ended.
    pub outcome: Outcome,
    /// A machine-readable reason for a failure, timeout or no-op: the kubelet's reason of the first
    /// fatal problem (`CrashLoopBackOff`, `ImagePullBackOff`, …), `ProgressDeadlineExceeded`,
    /// `Timeout`, `Deleted`, `NotFound`, `AlreadyAtImage`, `AlreadyAtRevision`, `UnsupportedStrategy`.
    pub reason: Option<String>,
    /// What happened, in words: kubectl's status message on success, the cause of a failure.
    pub message: String,
    /// The images of the containers that were targeted (for a wait or rollback: of the whole template).
    pub images: Vec<ImageUpdate>,
    /// The `kubernetes.io/change-cause` recorded with the change.
    pub change_cause: Option<String>,
    /// The Deployment revision the rollout produced or ended at.
    pub revision: Option<i64>,
    /// The Deployment revision before the change.
    pub previous_revision: Option<i64>,
    /// The Deployment's new ReplicaSet, once known.
    pub new_replica_set: Option<String>,
    /// When the operation started (this machine's clock).
    pub started_at: Timestamp,
    /// When it finished (this machine's clock).
    pub finished_at: Timestamp,
    /// `finished_at - started_at`, in milliseconds.
    pub duration_ms: u64,
    /// Every preflight check, in a fixed order, with its result (empty for waits and rollbacks).
    pub preflight: Vec<PreflightCheck>,
    /// The last rollout status seen, with kubectl's message.
    pub status: Option<WorkloadStatus>,
    /// The problems of the new pods: fatal ones first, each with its events and log tail.
    pub problems: Vec<ContainerProblem>,
    /// The change a dry run computed and did not send: for setting images, the strategic merge patch;
    /// for apply, the document server-side apply was given (with `dryRun=All`). `None` otherwise.
    pub patch: Option<serde_json::Value>,
    /// The automatic rollback that followed a failure, if one was made.
    pub rollback: Option<Box<RolloutReport>>,
}

impl RolloutReport {
    /// A report of `operation` on `target` that started at `started_at` and has not ended yet.
    pub(crate) fn begin(operation: Operation, target: WorkloadRef, started_at: Timestamp) -> Self {
        RolloutReport {
            operation,
            target,
            outcome: Outcome::Unchanged,
            reason: None,
            message: String::new(),
            images: Vec::new(),
            change_cause: None,
            revision: None,
            previous_revision: None,
            new_replica_set: None,
            started_at,
            finished_at: started_at,
            duration_ms: 0,
            preflight: Vec::new(),
            status: None,
            problems: Vec::new(),
            patch: None,
            rollback: None,
        }
    }

    /// Sets the outcome and the end time.
    pub(crate) fn finish(&mut self, outcome: Outcome, reason: Option<String>, message: String) {
        self.outcome = outcome;
        self.reason = reason;
        self.message = message;
        self.finished_at = Timestamp::now().max(self.started_at);
        let elapsed = self.finished_at.duration_since(self.started_at);
        self.duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(0);
    }

    /// One line: the target, the outcome and the message, plus the rollback's outcome.
    pub fn summary(&self) -> String {
        let mut s = format!("{}: {}: {}", self.target, self.outcome, self.message);
        if let Some(rollback) = &self.rollback {
            s.push_str(&format!("; rollback {}: {}", rollback.outcome, rollback.message));
        }
        s
    }

    /// `Ok(self)` for a success; [`Error::RolloutTimedOut`] when the rollout timed out (whether or not
    /// it was rolled back), [`Error::RolloutFailed`] for any other failure.
    pub fn into_result(self) -> Result<RolloutReport> {
        match self.outcome {
            Outcome::Succeeded | Outcome::Unchanged | Outcome::Started | Outcome::DryRun => Ok(self),
            Outcome::TimedOut => Err(Error::RolloutTimedOut { report: Box::new(self) }),
            Outcome::RolledBack if self.reason.as_deref() == Some(TIMEOUT_REASON) => {
                Err(Error::RolloutTimedOut { report: Box::new(self) })
            }
            Outcome::RolledBack | Outcome::Failed => Err(Error::RolloutFailed { report: Box::new(self) }),
        }
    }
}

/// The reason of a report whose wait timed out.
pub const TIMEOUT_REASON: &str = "Timeout";

/// The reports of many workloads handled in one call, with the worst outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CombinedReport {
    /// The worst outcome of all reports: failed, then rolled back, timed out, started, succeeded,
    /// dry run, unchanged.
    pub outcome: Outcome,
    /// When the call started (this machine's clock).
    pub started_at: Timestamp,
    /// When it finished.
    pub finished_at: Timestamp,
    /// `finished_at - started_at`, in milliseconds.
    pub duration_ms: u64,
    /// One report per workload, in the order they were asked for.
    pub reports: Vec<RolloutReport>,
}

impl CombinedReport {
    /// Combines reports; an empty list is `unchanged`.
    pub fn new(started_at: Timestamp, reports: Vec<RolloutReport>) -> Self {
        let outcome = reports.iter().map(|r| r.outcome).max_by_key(|o| o.severity()).unwrap_or(Outcome::Unchanged);
        let finished_at = Timestamp::now().max(started_at);
        let duration_ms = u64::try_from(finished_at.duration_since(started_at).as_millis()).unwrap_or(0);
        CombinedReport { outcome, started_at, finished_at, duration_ms, reports }
    }

    /// Whether every workload succeeded or was unchanged.
    pub fn is_success(&self) -> bool {
        self.outcome.is_success()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::deploy::{CheckName, CheckStatus};

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn report() -> RolloutReport {
        let mut r = RolloutReport::begin(
            Operation::Deploy,
            WorkloadRef::deployment("shop", "web").in_context("prod"),
            at("2025-01-01T00:00:00Z"),
        );
        r.outcome = Outcome::RolledBack;
        r.reason = Some("CrashLoopBackOff".into());
        r.message = "pod web-1 container app: CrashLoopBackOff".into();
        r.images =
            vec![ImageUpdate { container: "app".into(), init: false, previous: Some("a:1".into()), new: "a:2".into() }];
        r.change_cause = Some("rollout: app=a:2".into());
        r.revision = Some(3);
        r.previous_revision = Some(2);
        r.new_replica_set = Some("web-7d9f".into());
        r.finished_at = at("2025-01-01T00:00:02Z");
        r.duration_ms = 2000;
        r.preflight =
            vec![PreflightCheck { check: CheckName::FloatingTag, status: CheckStatus::Passed, message: "ok".into() }];
        r
    }

    #[test]
    fn report_serialises_with_snake_case_field_names() {
        let mut r = report();
        let mut rollback = RolloutReport::begin(Operation::Rollback, r.target.clone(), at("2025-01-01T00:00:02Z"));
        rollback.outcome = Outcome::Succeeded;
        r.rollback = Some(Box::new(rollback));
        let v = serde_json::to_value(&r).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected = [
            "operation",
            "target",
            "outcome",
            "reason",
            "message",
            "images",
            "change_cause",
            "revision",
            "previous_revision",
            "new_replica_set",
            "started_at",
            "finished_at",
            "duration_ms",
            "preflight",
            "status",
            "problems",
            "patch",
            "rollback",
        ];
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(v["outcome"], "rolled_back");
        assert_eq!(v["operation"], "deploy");
        assert_eq!(v["target"], json!({"context": "prod", "namespace": "shop", "kind": "deployment", "name": "web"}));
        assert_eq!(v["images"][0], json!({"container": "app", "init": false, "previous": "a:1", "new": "a:2"}));
        assert_eq!(v["preflight"][0], json!({"check": "floating-tag", "status": "passed", "message": "ok"}));
        assert_eq!(v["started_at"], "2025-01-01T00:00:00Z");
        assert_eq!(v["rollback"]["outcome"], "succeeded");
        assert_eq!(v["rollback"]["operation"], "rollback");
        assert_eq!(v["rollback"]["rollback"], serde_json::Value::Null);
    }

    #[test]
    fn reports_turn_into_errors_by_outcome() {
        let mut r = report();
        assert!(matches!(r.clone().into_result(), Err(Error::RolloutFailed { .. })));
        r.reason = Some(TIMEOUT_REASON.into());
        assert!(matches!(r.clone().into_result(), Err(Error::RolloutTimedOut { .. })));
        r.outcome = Outcome::Failed;
        r.reason = None;
        let err = r.clone().into_result().unwrap_err();
        assert_eq!(err.to_string(), "prod/shop/deployment/web: failed: pod web-1 container app: CrashLoopBackOff");
        for ok in [Outcome::Unchanged, Outcome::Succeeded, Outcome::Started, Outcome::DryRun] {
            r.outcome = ok;
            assert!(r.clone().into_result().is_ok(), "{ok} is a success");
        }
    }

    #[test]
    fn outcomes_serialise_as_their_json_words() {
        for o in [
            Outcome::Succeeded,
            Outcome::Failed,
            Outcome::TimedOut,
            Outcome::RolledBack,
            Outcome::Unchanged,
            Outcome::Started,
            Outcome::DryRun,
        ] {
            assert_eq!(serde_json::to_value(o).unwrap(), json!(o.as_str()));
        }
        assert_eq!(Outcome::DryRun.to_string(), "dry run");
    }

    #[test]
    fn combined_outcome_is_the_worst() {
        let with = |o: Outcome| RolloutReport { outcome: o, ..report() };
        let cases = [
            (vec![], Outcome::Unchanged),
            (vec![with(Outcome::Unchanged), with(Outcome::Succeeded)], Outcome::Succeeded),
            (vec![with(Outcome::Succeeded), with(Outcome::TimedOut)], Outcome::TimedOut),
            (vec![with(Outcome::TimedOut), with(Outcome::RolledBack)], Outcome::RolledBack),
            (vec![with(Outcome::Failed), with(Outcome::RolledBack), with(Outcome::Succeeded)], Outcome::Failed),
            (vec![with(Outcome::Succeeded), with(Outcome::Started)], Outcome::Started),
            (vec![with(Outcome::Started), with(Outcome::TimedOut)], Outcome::TimedOut),
            (vec![with(Outcome::Unchanged), with(Outcome::DryRun)], Outcome::DryRun),
        ];
        for (reports, expected) in cases {
            assert_eq!(CombinedReport::new(at("2025-01-01T00:00:00Z"), reports).outcome, expected);
        }
    }
}
