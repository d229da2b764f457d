//! Shared helpers of the lifecycle tests.

/// The seed's lifecycle policy file, as shipped in the examples.
pub(super) const SEED_POLICY: &str = include_str!("../../../examples/seed/lifecycle-policy.json");
