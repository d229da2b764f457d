//! The registry side of rollout: what ECR says about the images of a repository, and the pure decisions taken
//! over it.
//!
//! This module owns [`ImageRecord`] (one image as `DescribeImages` reports it) and the previous-tag selection
//! ([`previous_tag`]), both pure, and [`Registry`], the thin I/O layer that fetches images and lifecycle policies
//! through the ECR API and hands them to those decisions. The `deployed` strategy (the previous *healthy
//! deployed* release) lives with the cluster history, because it needs more than a list of image records.

mod ecr;
mod select;

pub use ecr::{
    DEFAULT_CONCURRENCY, InUseViolations, PutOptions, PutOutcome, PutReport, Registry, RepositoryPut, TagCheck,
    TagStatusFilter,
};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use select::{
    DEFAULT_FLOATING_TAGS, DEFAULT_SEMVER_PATTERN, PreviousQuery, PreviousStrategy, PreviousTag, SkipReason,
    SkippedImage, previous_tag,
};

/// The storage class of an image, as ECR's archive feature names it.
///
/// The same lowercase words are used by `DescribeImages` records here and by lifecycle policies
/// (`selection.storageClass`, `action.targetStorageClass`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageClass {
    /// The default class: the image can be pulled.
    Standard,
    /// Archived: cheaper storage, the image must be restored before it can be pulled.
    Archive,
}

impl StorageClass {
    /// The word used in JSON: `standard` or `archive`.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageClass::Standard => "standard",
            StorageClass::Archive => "archive",
        }
    }
}

impl std::fmt::Display for StorageClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One image of a repository, as ECR's `DescribeImages` reports it (`imageDetails[]`).
///
/// Only the fields rollout decides on are kept. The order of `tags` is whatever the registry returned: ECR does
/// not document it, so no decision here depends on it except the `cli-compatible` previous-tag strategy, which
/// copies the aws CLI on purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct ImageRecord {
    /// The manifest digest (`imageDigest`), e.g. `sha256:…`.
    pub digest: String,
    /// The image's tags (`imageTags`); empty for an untagged image.
    #[serde(default)]
    pub tags: Vec<String>,
    /// When the manifest was pushed (`imagePushedAt`). Re-tagging an existing manifest does not change it.
    pub pushed_at: Timestamp,
    /// The compressed size (`imageSizeInBytes`), when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    /// The last recorded pull (`lastRecordedPullTime`); ECR refreshes it only about once a day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_pulled_at: Option<Timestamp>,
    /// The manifest media type (`imageManifestMediaType`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The storage class; `None` means not reported, which is treated as [`StorageClass::Standard`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<StorageClass>,
    /// When the image was last archived (`lastArchivedAt`); used by `sinceImageTransitioned` lifecycle rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_at: Option<Timestamp>,
}

impl ImageRecord {
    /// A record with a digest, tags and push time, every optional field left unset.
    pub fn new(
        digest: impl Into<String>,
        tags: impl IntoIterator<Item = impl Into<String>>,
        pushed_at: Timestamp,
    ) -> Self {
        ImageRecord {
            digest: digest.into(),
            tags: tags.into_iter().map(Into::into).collect(),
            pushed_at,
            size_bytes: None,
            last_pulled_at: None,
            media_type: None,
            storage_class: None,
            archived_at: None,
        }
    }

    /// The storage class, defaulting to standard when the registry did not report one.
    pub fn storage_class(&self) -> StorageClass {
        self.storage_class.unwrap_or(StorageClass::Standard)
    }

    /// Whether the image has no tag.
    pub fn is_untagged(&self) -> bool {
        self.tags.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_record_round_trips_through_snake_case_json() {
        let mut image = ImageRecord::new("sha256:aa", ["1.0.0", "latest"], "2024-05-01T10:00:00Z".parse().unwrap());
        image.size_bytes = Some(1234);
        image.storage_class = Some(StorageClass::Archive);
        let json = serde_json::to_value(&image).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "digest": "sha256:aa",
                "tags": ["1.0.0", "latest"],
                "pushed_at": "2024-05-01T10:00:00Z",
                "size_bytes": 1234,
                "storage_class": "archive",
            })
        );
        assert_eq!(serde_json::from_value::<ImageRecord>(json).unwrap(), image);
    }

    #[test]
    fn image_record_without_tags_or_storage_class_is_untagged_and_standard() {
        let image: ImageRecord =
            serde_json::from_str(r#"{"digest":"sha256:bb","pushed_at":"2024-05-01T10:00:00Z"}"#).unwrap();
        assert!(image.is_untagged());
        assert_eq!(image.storage_class(), StorageClass::Standard);
    }
}
