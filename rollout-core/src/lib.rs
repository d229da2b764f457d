//! rollout-core: zero-downtime Kubernetes rollouts of container images stored in AWS ECR.
//!
//! Every behaviour of rollout lives in this crate; the `rollout` CLI and the Python module
//! `rollout` only translate arguments and render the reports defined here.

pub mod clients;
mod cluster;
pub mod deploy;
pub mod diagnosis;
pub mod duration;
pub mod error;
pub mod history;
pub mod image;
pub mod inuse;
pub mod lifecycle;
pub mod registry;
pub mod report;
pub mod status;
pub mod tag;
pub mod version;
pub mod wait;
pub mod workload;

pub use deploy::{DeployOptions, DeployRequest, ImageLookup, SetImage};
pub use diagnosis::{ContainerProblem, Diagnosis, DiagnosisPolicy, EventSummary, diagnose};
pub use error::{Error, Result};
pub use history::{History, RollbackTo};
pub use image::{Digest, ImageRef, ImageTag, RepositoryName};
pub use lifecycle::{
    InUseImage, LifecyclePolicy, LifecycleRule, PolicyDiff, PolicyViolation, Preview, diff, preview, protect,
};
pub use registry::{ImageRecord, PreviousQuery, PreviousStrategy, PreviousTag, StorageClass, previous_tag};
pub use registry::{PutOptions, PutReport, Registry, TagStatusFilter};
pub use report::{CombinedReport, Outcome, RolloutReport};
pub use status::{RolloutState, StatusContext, WorkloadStatus, rollout_status, rollout_status_since};
pub use tag::{DeriveOptions, DerivedTag, TagTemplate, derive_tag};
pub use version::{GitInfo, ProjectVersion, VersionParts, VersionSource, read_version};
pub use wait::{ProgressEvent, WaitOptions};
pub use workload::WorkloadRef;
