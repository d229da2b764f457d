//! ECR lifecycle policies, as pure data and decisions: the typed policy with ECR's exact JSON, a builder,
//! validation that reports every violation, equality that ignores what ECR normalises, the local evaluator
//! ([`preview`]), the comparison of a current and a desired policy ([`diff`]), and the protection of images in
//! use ([`protect`]).
//!
//! It deliberately does no I/O: putting, getting and deleting policies and listing a repository's images go
//! through the ECR client elsewhere, which fetches the data, calls these functions and acts on the result.

mod builder;
mod diff;
mod model;
mod parse;
mod preview;
mod protect;
mod validate;

#[cfg(test)]
mod testing;

pub use builder::PolicyBuilder;
pub use diff::{FieldChange, PolicyDiff, RuleChange, diff};
pub use model::{
    ActionType, CountType, CountUnit, LifecyclePolicy, LifecycleRule, RuleAction, RuleSelection, TagStatus,
};
pub use preview::{
    AgeBasis, ImageVerdict, MIN_ARCHIVE_DAYS, Outcome, Preview, PreviewSummary, Reason, RuleSummary, preview,
};
pub use protect::{InUseImage, MatchedBy, ProtectionViolation, protect};
pub use validate::{MAX_PATTERN_WILDCARDS, MAX_POLICY_TEXT_CHARS, MAX_RULES, MIN_POLICY_TEXT_CHARS, PolicyViolation};

pub(crate) use validate::list_violations;
