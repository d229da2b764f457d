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
}

/// Shorthand for results of rollout-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;
