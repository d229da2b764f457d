//! Exit codes, in one place. Every error of rollout-core maps to one by an exhaustive match, so a
//! new error kind cannot reach the shell with an arbitrary code.

use std::process::ExitCode;

use rollout_core::Error;

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
  0    success (also when nothing had to change)
  1    the rollout failed (whether or not it was rolled back), policies differ, a check failed
  2    invalid input or usage; nothing was changed
  3    timed out waiting
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
        Error::NoPreviousImage { .. }
        | Error::TagNotFound { .. }
        | Error::TagAlreadyExists { .. }
        | Error::PolicyWouldExpireInUse { .. }
        | Error::PreflightFailed { .. }
        | Error::RolloutFailed { .. }
        | Error::PausedDeployment { .. }
        | Error::ConcurrentModification { .. } => Exit::Failed,
        Error::RolloutTimedOut { .. } => Exit::TimedOut,
        Error::Credentials { .. } | Error::Kubeconfig { .. } | Error::Ecr { .. } | Error::Kubernetes { .. } => {
            Exit::Api
        }
    }
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
}
