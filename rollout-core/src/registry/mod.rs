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

impl StorageClass {
    /// The storage class of an image whose ECR `imageStatus` is `status` (`ACTIVE`, `ARCHIVED`,
    /// `ACTIVATING`, any case): an image being restored cannot be pulled yet, so it still counts as
    /// archived.
    pub fn from_image_status(status: &str) -> StorageClass {
        if status.eq_ignore_ascii_case("archived") || status.eq_ignore_ascii_case("activating") {
            StorageClass::Archive
        } else {
            StorageClass::Standard
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

    /// An image as ECR's `DescribeImages` JSON describes it (`imageDigest`, `imageTags`,
    /// `imagePushedAt`, `imageSizeInBytes`, `lastRecordedPullTime`, `imageManifestMediaType`,
    /// `imageStatus`, `lastArchivedAt`): what the aws CLI prints with `--output json` and, with times
    /// turned into RFC 3339 text, what boto3's `describe_images()["imageDetails"]` holds. Times may be
    /// RFC 3339 text or epoch seconds; other fields are ignored.
    pub fn from_ecr_json(detail: &serde_json::Value) -> crate::Result<ImageRecord> {
        use serde_json::Value;
        let bad = |reason: String| crate::Error::InvalidInput {
            field: "image details".into(),
            value: detail.to_string().chars().take(120).collect(),
            reason,
        };
        let time = |key: &str| -> crate::Result<Option<Timestamp>> {
            match detail.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => {
                    s.parse().map(Some).map_err(|e| bad(format!("{key} {s:?} is not an RFC 3339 time: {e}")))
                }
                Some(Value::Number(n)) => n
                    .as_f64()
                    .and_then(|secs| Timestamp::from_microsecond((secs * 1e6).round() as i64).ok())
                    .map(Some)
                    .ok_or_else(|| bad(format!("{key} {n} is not a time in epoch seconds"))),
                Some(other) => Err(bad(format!("{key} must be a time, not {other}"))),
            }
        };
        let digest =
            detail.get("imageDigest").and_then(Value::as_str).ok_or_else(|| bad("imageDigest is missing".into()))?;
        let tags: Vec<String> = match detail.get("imageTags") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|t| t.as_str().map(str::to_owned).ok_or_else(|| bad(format!("imageTags holds {t}, not a tag"))))
                .collect::<crate::Result<_>>()?,
            Some(other) => return Err(bad(format!("imageTags must be a list, not {other}"))),
        };
        let pushed_at = time("imagePushedAt")?.ok_or_else(|| bad("imagePushedAt is missing".into()))?;
        let mut record = ImageRecord::new(digest, tags, pushed_at);
        record.size_bytes = detail.get("imageSizeInBytes").and_then(Value::as_u64);
        record.last_pulled_at = time("lastRecordedPullTime")?;
        record.media_type = detail.get("imageManifestMediaType").and_then(Value::as_str).map(str::to_owned);
        record.storage_class = detail.get("imageStatus").and_then(Value::as_str).map(StorageClass::from_image_status);
        record.archived_at = time("lastArchivedAt")?;
        Ok(record)
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

    #[test]
    fn ecr_image_details_read_from_cli_and_boto3_json() {
        // The aws CLI prints epoch seconds; boto3's datetimes arrive as RFC 3339 text.
        let cli = serde_json::json!({
            "registryId": "123456789012", "repositoryName": "app",
            "imageDigest": "sha256:aa", "imageTags": ["v1", "latest"],
            "imagePushedAt": 1714557600.25, "imageSizeInBytes": 1234,
            "imageManifestMediaType": "application/vnd.oci.image.manifest.v1+json", "imageStatus": "ACTIVE"
        });
        let r = ImageRecord::from_ecr_json(&cli).unwrap();
        assert_eq!((r.digest.as_str(), r.tags.len(), r.size_bytes), ("sha256:aa", 2, Some(1234)));
        assert_eq!(r.pushed_at.to_string(), "2024-05-01T10:00:00.25Z");
        assert_eq!(r.storage_class(), StorageClass::Standard);
        let boto = serde_json::json!({"imageDigest": "sha256:bb", "imagePushedAt": "2024-05-01T10:00:00+00:00",
            "imageStatus": "ACTIVATING", "lastRecordedPullTime": "2024-05-02T00:00:00Z"});
        let r = ImageRecord::from_ecr_json(&boto).unwrap();
        assert!(r.is_untagged());
        assert_eq!(r.storage_class(), StorageClass::Archive, "an image being restored cannot be pulled yet");
        assert!(r.last_pulled_at.is_some());
    }

    #[test]
    fn malformed_ecr_image_details_name_the_field() {
        for (detail, needle) in [
            (serde_json::json!({"imagePushedAt": 1}), "imageDigest is missing"),
            (serde_json::json!({"imageDigest": "sha256:aa"}), "imagePushedAt is missing"),
            (serde_json::json!({"imageDigest": "sha256:aa", "imagePushedAt": "yesterday"}), "not an RFC 3339 time"),
            (serde_json::json!({"imageDigest": "sha256:aa", "imagePushedAt": 1, "imageTags": [1]}), "not a tag"),
        ] {
            let e = ImageRecord::from_ecr_json(&detail).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
    }
}
