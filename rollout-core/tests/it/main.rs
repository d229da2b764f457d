//! Integration tests of rollout-core.
