//! Exit codes, in one place. Every error of rollout-core maps to one by an exhaustive match, and
//! every outcome of a report by another, so a new error kind or outcome cannot reach the shell with
//! an arbitrary code.
//!
//! The rule: 2 means rollout refused before changing anything (bad arguments, a workload, container,
//! repository or revision that is not there, a failed preflight check, a paused Deployment); 1 means
//! the change was made and the rollout failed, or a check found a problem; 3 means the wait ran out
//! of time; 4 means the Kubernetes or AWS API, credentials or the network failed, including another
//! writer changing a workload under us (retrying is the fix).

use std::process::ExitCode;

use rollout_core::Error;
use rollout_core::report::{CombinedReport, Outcome, RolloutReport};

/// What the process tells its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success, including "unchanged".
    Success = 0,
    /// The operation ran and failed: the rollout failed (rolled back or not), the policies differ,
    /// a check found a violation, no previous image exists.
    Failed = 1,
    /// Invalid input or usage: nothing was changed.
    Usage = 2,
    /// A wait timed out.
    TimedOut = 3,
    /// The Kubernetes or AWS API, credentials or the network failed.
    Api = 4,
    /// Interrupted by Ctrl-C or SIGTERM.
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// The text of `--help`'s exit-code section.
pub const HELP: &str = "\
Exit codes:
  0    success (also when nothing had to change, with --no-wait once written, and for --dry-run)
  1    the rollout failed (whether or not it was rolled back), policies differ, a check failed
  2    invalid input or usage, or a preflight check failed; nothing was changed
  3    timed out waiting (whether or not it was rolled back)
  4    Kubernetes API, AWS API, credential or network error
  130  interrupted (Ctrl-C); the state the cluster was left in is printed";

/// The exit code for an error.
pub fn for_error(e: &Error) -> Exit {
    match e {
        Error::InvalidInput { .. }
        | Error::InvalidTag { .. }
        | Error::InvalidImageRef { .. }
        | Error::InvalidRepositoryName { .. }
        | Error::InvalidDigest { .. }
        | Error::VersionNotFound { .. }
        | Error::UnresolvedProperty { .. }
        | Error::PropertyCycle { .. }
        | Error::MalformedFile { .. }
        | Error::ReadFile { .. }
        | Error::Git { .. }
        | Error::InvalidTemplate { .. }
        | Error::UnknownPlaceholder { .. }
        | Error::MissingTemplateValue { .. }
        | Error::FloatingTag { .. }
        | Error::InvalidPattern { .. }
        | Error::PolicySyntax { .. }
        | Error::InvalidPolicy { .. }
        | Error::MissingRegion { .. }
        | Error::RepositoryNotFound { .. }
        | Error::WorkloadNotFound { .. }
        | Error::ContainerNotFound { .. }
        | Error::RevisionNotFound { .. }
        | Error::InvalidManifest { .. } => Exit::Usage,
        // Refused before anything changed: the workload is not in a state the change fits (a paused
        // Deployment, no readiness probe, an image that was never pushed); fix it and run again.
        Error::PreflightFailed { .. } | Error::PausedDeployment { .. } => Exit::Usage,
        Error::NoPreviousImage { .. }
        | Error::TagNotFound { .. }
        | Error::TagAlreadyExists { .. }
        | Error::PolicyWouldExpireInUse { .. } => Exit::Failed,
        Error::RolloutFailed { report } => for_report(report),
        Error::RolloutTimedOut { report } => for_report(report),
        // Another writer changed the workload between our read and our write; nothing was
        // overwritten, and running again is the fix, as for a failed API call.
        Error::ConcurrentModification { .. } => Exit::Api,
        Error::Credentials { .. } | Error::Kubeconfig { .. } | Error::Ecr { .. } | Error::Kubernetes { .. } => {
            Exit::Api
        }
    }
}

/// The exit code for one workload's report: 0 for every success (`succeeded`, `unchanged`,
/// `started`, `dry_run`), 1 for a failed rollout (rolled back or not), 3 for a timeout (rolled back
/// or not), 4 when the write itself failed, 2 when the workload does not exist.
pub fn for_report(r: &RolloutReport) -> Exit {
    match r.outcome {
        Outcome::Succeeded | Outcome::Unchanged | Outcome::Started | Outcome::DryRun => Exit::Success,
        Outcome::TimedOut => Exit::TimedOut,
        Outcome::RolledBack if r.reason.as_deref() == Some(rollout_core::report::TIMEOUT_REASON) => Exit::TimedOut,
        Outcome::RolledBack => Exit::Failed,
        Outcome::Failed => match r.reason.as_deref() {
            Some("WriteFailed") => Exit::Api,
            Some("NotFound") => Exit::Usage,
            _ => Exit::Failed,
        },
    }
}

/// The exit code for many workloads: the worst of their codes, failures first (1, then 4, 2 and 3).
pub fn for_combined(c: &CombinedReport) -> Exit {
    let codes: Vec<Exit> = c.reports.iter().map(for_report).collect();
    [Exit::Failed, Exit::Api, Exit::Usage, Exit::TimedOut]
        .into_iter()
        .find(|e| codes.contains(e))
        .unwrap_or(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_input_exits_two_and_a_missing_previous_image_one() {
        let e = Error::InvalidInput { field: "--timeout".into(), value: "x".into(), reason: "no".into() };
        assert_eq!(for_error(&e) as u8, 2);
        let e = Error::NoPreviousImage { query: "pushed".into(), detail: "none".into() };
        assert_eq!(for_error(&e) as u8, 1);
    }

    #[test]
    fn refusals_before_any_change_exit_two_and_a_racing_writer_four() {
        let w = || Box::new(rollout_core::workload::WorkloadRef::deployment("shop", "web"));
        assert_eq!(for_error(&Error::PreflightFailed { checks: vec![] }), Exit::Usage);
        assert_eq!(for_error(&Error::PausedDeployment { workload: w() }), Exit::Usage);
        assert_eq!(for_error(&Error::ConcurrentModification { workload: w(), operation: "x".into() }), Exit::Api);
    }

    fn report(outcome: Outcome, reason: Option<&str>) -> RolloutReport {
        RolloutReport {
            operation: rollout_core::report::Operation::Deploy,
            target: rollout_core::workload::WorkloadRef::deployment("shop", "web"),
            outcome,
            reason: reason.map(str::to_owned),
            message: String::new(),
            images: Vec::new(),
            change_cause: None,
            revision: None,
            previous_revision: None,
            new_replica_set: None,
            started_at: jiff::Timestamp::UNIX_EPOCH,
            finished_at: jiff::Timestamp::UNIX_EPOCH,
            duration_ms: 0,
            preflight: Vec::new(),
            status: None,
            problems: Vec::new(),
            patch: None,
            rollback: None,
        }
    }

    #[test]
    fn report_outcomes_map_to_exit_codes() {
        let cases = [
            (Outcome::Succeeded, None, Exit::Success),
            (Outcome::Unchanged, Some("AlreadyAtImage"), Exit::Success),
            (Outcome::Started, None, Exit::Success),
            (Outcome::DryRun, Some("DryRun"), Exit::Success),
            (Outcome::Failed, Some("CrashLoopBackOff"), Exit::Failed),
            (Outcome::RolledBack, Some("CrashLoopBackOff"), Exit::Failed),
            (Outcome::RolledBack, Some("Timeout"), Exit::TimedOut),
            (Outcome::TimedOut, Some("Timeout"), Exit::TimedOut),
            (Outcome::Failed, Some("WriteFailed"), Exit::Api),
            (Outcome::Failed, Some("NotFound"), Exit::Usage),
        ];
        for (outcome, reason, exit) in cases {
            assert_eq!(for_report(&report(outcome, reason)), exit, "{outcome} {reason:?}");
        }
    }

    #[test]
    fn many_workloads_exit_with_the_worst_code() {
        let combined = |outcomes: &[(Outcome, Option<&str>)]| CombinedReport {
            outcome: Outcome::Unchanged,
            started_at: jiff::Timestamp::UNIX_EPOCH,
            finished_at: jiff::Timestamp::UNIX_EPOCH,
            duration_ms: 0,
            reports: outcomes.iter().map(|(o, r)| report(*o, *r)).collect(),
        };
        assert_eq!(for_combined(&combined(&[])), Exit::Success);
        assert_eq!(for_combined(&combined(&[(Outcome::Succeeded, None), (Outcome::Started, None)])), Exit::Success);
        assert_eq!(for_combined(&combined(&[(Outcome::TimedOut, None), (Outcome::Succeeded, None)])), Exit::TimedOut);
        assert_eq!(for_combined(&combined(&[(Outcome::TimedOut, None), (Outcome::Failed, None)])), Exit::Failed);
    }
}
