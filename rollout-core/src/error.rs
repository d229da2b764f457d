//! The one error type of rollout-core.
//!
//! Each variant names a domain failure and carries the context a user needs to act on it. Display
//! texts are lowercase, without a trailing period, and never repeat their source: the edges print
//! the whole chain. The CLI maps every variant to an exit code and the Python module to an exception
//! class, each with one exhaustive `match`, so a new variant cannot be forgotten at an edge.

/// Everything that can go wrong in rollout-core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An argument or input file was rejected before anything was changed.
    #[error("invalid {field} {value:?}: {reason}")]
    InvalidInput {
        /// The name of the bad argument or field, as the user wrote it.
        field: String,
        /// The rejected value.
        value: String,
        /// What is allowed instead.
        reason: String,
    },

    // --- registry and lifecycle policies (previous-tag selection, policy parsing and validation) ---
    /// No image qualifies as "previous" under the asked previous-tag strategy and tag rules.
    #[error("no previous image {query}: {detail}")]
    NoPreviousImage {
        /// What was asked, e.g. `by push time among tags starting with "release-"`.
        query: String,
        /// Why nothing qualifies, with the counts.
        detail: String,
    },
    /// No image of the repository carries the tag a lookup is anchored on.
    #[error("no image carries tag {tag:?} ({images} images listed)")]
    TagNotFound {
        /// The tag that was asked for.
        tag: String,
        /// How many images were searched.
        images: usize,
    },
    /// A regular expression given as an option is invalid or has the wrong shape.
    #[error("invalid pattern {pattern:?} for {field}: {reason}")]
    InvalidPattern {
        /// The option that carried the pattern.
        field: String,
        /// The rejected pattern.
        pattern: String,
        /// What is wrong and what is expected.
        reason: String,
        /// The regular-expression parser's error, when it rejected the pattern.
        #[source]
        source: Option<regex::Error>,
    },
    /// A lifecycle policy text is not well-formed JSON.
    #[error("lifecycle policy is not valid JSON (line {line}, column {column})")]
    PolicySyntax {
        /// The 1-based line of the error.
        line: usize,
        /// The 1-based column of the error.
        column: usize,
        /// The JSON parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A lifecycle policy breaks ECR's rules; every violation is listed, not just the first.
    #[error("invalid lifecycle policy: {}", crate::lifecycle::list_violations(violations))]
    InvalidPolicy {
        /// Every violation found, in rule order.
        violations: Vec<crate::lifecycle::PolicyViolation>,
    },
    // --- end of registry and lifecycle policies ---
}

/// Shorthand for results of rollout-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;
