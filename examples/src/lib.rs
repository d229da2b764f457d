//! Shared helpers for the runnable examples of rollout.
