//! ECR lifecycle policies, as pure data and decisions: the typed policy with ECR's exact JSON, a builder,
//! validation that reports every violation, and equality that ignores what ECR normalises.
//!
//! It deliberately does no I/O: putting, getting and deleting policies and listing a repository's images go
//! through the ECR client elsewhere, which fetches the data, calls these functions and acts on the result.

mod builder;
mod model;
mod parse;
mod validate;

#[cfg(test)]
mod testing;

pub use builder::PolicyBuilder;
pub use model::{
    ActionType, CountType, CountUnit, LifecyclePolicy, LifecycleRule, RuleAction, RuleSelection, TagStatus,
};
pub use validate::{MAX_PATTERN_WILDCARDS, MAX_POLICY_TEXT_CHARS, MAX_RULES, MIN_POLICY_TEXT_CHARS, PolicyViolation};

pub(crate) use validate::list_violations;
