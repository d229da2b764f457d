//! rollout-core: zero-downtime Kubernetes rollouts of container images stored in AWS ECR.
//!
//! Every behaviour of rollout lives in this crate; the `rollout` CLI and the Python module
//! `rollout` only translate arguments and render the reports defined here.

pub mod error;
pub mod lifecycle;
pub mod registry;

pub use error::{Error, Result};
pub use lifecycle::{
    InUseImage, LifecyclePolicy, LifecycleRule, PolicyDiff, PolicyViolation, Preview, diff, preview, protect,
};
pub use registry::{ImageRecord, PreviousQuery, PreviousStrategy, PreviousTag, StorageClass, previous_tag};
