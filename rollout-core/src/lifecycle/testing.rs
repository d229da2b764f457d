//! Shared helpers of the lifecycle tests.

use jiff::{SignedDuration, Timestamp};

use crate::registry::ImageRecord;

/// The fixed "now" of the tests.
pub(super) fn now() -> Timestamp {
    "2024-06-01T12:00:00Z".parse().unwrap()
}

/// `days` days (possibly fractional, in hours) before [`now`].
pub(super) fn days_ago(days: f64) -> Timestamp {
    now() - SignedDuration::from_secs_f64(days * 86_400.0)
}

/// An image pushed `days` days before [`now`].
pub(super) fn image(digest: &str, tags: &[&str], days: f64) -> ImageRecord {
    ImageRecord::new(digest, tags.iter().copied(), days_ago(days))
}

/// The seed's lifecycle policy file, as shipped in the examples.
pub(super) const SEED_POLICY: &str = include_str!("../../../examples/seed/lifecycle-policy.json");
