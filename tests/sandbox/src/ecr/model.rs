//! The registry's data: repositories, images and their tags, lifecycle policies and previews, and
//! how they render as ECR's JSON shapes (`Repository`, `ImageDetail`, `ImageIdentifier`, …).
//!
//! Timestamps are kept at millisecond precision, as ECR reports them, and written as AWS JSON
//! protocols write timestamps: epoch seconds as a number with a fractional part.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};

use super::policy::{ActionType, Policy, StorageClass, wildcard_match};

/// The media type of a Docker image manifest (schema 2), the default for pushes without one.
pub const DOCKER_MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// A timestamp cut to whole milliseconds.
pub fn millis(t: Timestamp) -> Timestamp {
    Timestamp::from_millisecond(t.as_millisecond()).unwrap_or(t)
}

/// A timestamp as AWS JSON protocols write it: epoch seconds with milliseconds as the fraction.
pub fn epoch(t: Timestamp) -> Value {
    json!(epoch_seconds(t))
}

/// Seconds since the epoch with millisecond precision, as the awsJson1_1 protocol writes timestamps.
pub fn epoch_seconds(t: Timestamp) -> f64 {
    t.as_millisecond() as f64 / 1000.0
}

/// How a repository treats pushes of a tag that already points at another image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagMutability {
    /// Tags move freely.
    Mutable,
    /// Tags never move.
    Immutable,
    /// Tags move, except those matching an exclusion filter.
    MutableWithExclusion,
    /// Tags never move, except those matching an exclusion filter.
    ImmutableWithExclusion,
}

impl TagMutability {
    /// Every value ECR accepts.
    pub const ALL: [&'static str; 4] = ["MUTABLE", "IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION"];

    /// Parses ECR's name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "MUTABLE" => Self::Mutable,
            "IMMUTABLE" => Self::Immutable,
            "MUTABLE_WITH_EXCLUSION" => Self::MutableWithExclusion,
            "IMMUTABLE_WITH_EXCLUSION" => Self::ImmutableWithExclusion,
            _ => return None,
        })
    }

    /// ECR's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mutable => "MUTABLE",
            Self::Immutable => "IMMUTABLE",
            Self::MutableWithExclusion => "MUTABLE_WITH_EXCLUSION",
            Self::ImmutableWithExclusion => "IMMUTABLE_WITH_EXCLUSION",
        }
    }

    fn has_exclusions(self) -> bool {
        matches!(self, Self::MutableWithExclusion | Self::ImmutableWithExclusion)
    }
}

/// One image: a manifest, its digest, and the tags pointing at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Push order within the registry (higher is newer); the order of listings.
    pub seq: u64,
    /// `sha256:` and the hex SHA-256 of the manifest bytes.
    pub digest: String,
    /// Tags, in the order they were added.
    pub tags: Vec<String>,
    /// The manifest text as pushed.
    pub manifest: String,
    /// `imageManifestMediaType`.
    pub manifest_media_type: String,
    /// `artifactMediaType`: the media type of the manifest's config, if it has one.
    pub artifact_media_type: Option<String>,
    /// `imageSizeInBytes`: the compressed size of the layers (for a manifest list, its largest image).
    pub size_bytes: u64,
    /// `imagePushedAt`.
    pub pushed_at: Timestamp,
    /// `lastRecordedPullTime`, set by pulls.
    pub last_recorded_pull_time: Option<Timestamp>,
    /// When a lifecycle `transition` archived it.
    pub archived_at: Option<Timestamp>,
    /// The digests a manifest list or index refers to.
    pub children: Vec<String>,
}

impl Image {
    /// `imageStatus`.
    pub fn status(&self) -> &'static str {
        if self.archived_at.is_some() { "ARCHIVED" } else { "ACTIVE" }
    }

    /// The storage class it is in.
    pub fn storage_class(&self) -> StorageClass {
        if self.archived_at.is_some() { StorageClass::Archive } else { StorageClass::Standard }
    }

    /// The `ImageDetail` shape of DescribeImages.
    pub fn detail<'a>(&'a self, registry: &'a str, repository: &'a str) -> ImageDetail<'a> {
        ImageDetail {
            registry_id: registry,
            repository_name: repository,
            image_digest: &self.digest,
            image_tags: &self.tags,
            image_size_in_bytes: self.size_bytes,
            image_pushed_at: epoch_seconds(self.pushed_at),
            image_manifest_media_type: &self.manifest_media_type,
            artifact_media_type: self.artifact_media_type.as_deref(),
            image_status: self.status(),
            last_recorded_pull_time: self.last_recorded_pull_time.map(epoch_seconds),
            last_archived_at: self.archived_at.map(epoch_seconds),
        }
    }
}

/// An `ImageDetail`, borrowed from its image and serialised as it is: a DescribeImages page carries
/// up to 1,000 of them, so they are written straight to the answer rather than built as JSON values.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageDetail<'a> {
    registry_id: &'a str,
    repository_name: &'a str,
    image_digest: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    image_tags: &'a [String],
    image_size_in_bytes: u64,
    image_pushed_at: f64,
    image_manifest_media_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    artifact_media_type: Option<&'a str>,
    image_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_recorded_pull_time: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_archived_at: Option<f64>,
}

/// An `ImageIdentifier`.
pub fn image_id(digest: &str, tag: Option<&str>) -> Value {
    match tag {
        Some(t) => json!({"imageDigest": digest, "imageTag": t}),
        None => json!({"imageDigest": digest}),
    }
}

/// A stored lifecycle policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecyclePolicy {
    /// The validated policy.
    pub policy: Policy,
    /// The normalised text ECR returns.
    pub text: String,
    /// When the policy last ran.
    pub last_evaluated_at: Option<Timestamp>,
}

/// One image a lifecycle policy acts on (in a preview) or acted on (in a run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleResult {
    /// The image digest.
    pub digest: String,
    /// Its tags at the time of the preview.
    pub tags: Vec<String>,
    /// When it was pushed.
    pub pushed_at: Timestamp,
    /// What the policy would do.
    pub action: ActionType,
    /// The rule that decided it.
    pub rule_priority: u32,
    /// The storage class it is in.
    pub storage_class: StorageClass,
}

impl LifecycleResult {
    /// The `LifecyclePolicyPreviewResult` shape.
    pub fn to_json(&self) -> Value {
        let action = match self.action {
            ActionType::Expire => json!({"type": "EXPIRE"}),
            ActionType::Transition => json!({"type": "TRANSITION", "targetStorageClass": "ARCHIVE"}),
        };
        let mut v = json!({
            "imageDigest": self.digest,
            "imagePushedAt": epoch(self.pushed_at),
            "action": action,
            "appliedRulePriority": self.rule_priority,
            "storageClass": match self.storage_class {
                StorageClass::Standard => "STANDARD",
                StorageClass::Archive => "ARCHIVE",
            },
        });
        if !self.tags.is_empty() {
            v["imageTags"] = json!(self.tags);
        }
        v
    }
}

/// The latest lifecycle policy preview of a repository (complete as soon as it starts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// The normalised text of the previewed policy.
    pub text: String,
    /// The images it would act on.
    pub results: Vec<LifecycleResult>,
}

/// One repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// `repositoryName`.
    pub name: String,
    /// `createdAt`.
    pub created_at: Timestamp,
    /// `imageTagMutability`.
    pub mutability: TagMutability,
    /// `imageTagMutabilityExclusionFilters` (wildcard filters).
    pub exclusion_filters: Vec<String>,
    /// The images, oldest push first.
    pub images: Vec<Image>,
    /// The lifecycle policy.
    pub lifecycle: Option<LifecyclePolicy>,
    /// The latest preview.
    pub preview: Option<Preview>,
}

impl Repository {
    /// Whether a push may not move `tag` to another image.
    pub fn tag_is_immutable(&self, tag: &str) -> bool {
        let excluded =
            self.mutability.has_exclusions() && self.exclusion_filters.iter().any(|f| wildcard_match(f, tag));
        match self.mutability {
            TagMutability::Mutable => false,
            TagMutability::Immutable => true,
            TagMutability::ImmutableWithExclusion => !excluded,
            TagMutability::MutableWithExclusion => excluded,
        }
    }

    /// The `Repository` shape.
    pub fn to_json(&self, registry: &str, region: &str, host: &str) -> Value {
        let mut v = json!({
            "repositoryArn": format!("arn:aws:ecr:{region}:{registry}:repository/{}", self.name),
            "registryId": registry,
            "repositoryName": self.name,
            "repositoryUri": format!("{host}/{}", self.name),
            "createdAt": epoch(self.created_at),
            "imageTagMutability": self.mutability.as_str(),
            "imageScanningConfiguration": {"scanOnPush": false},
            "encryptionConfiguration": {"encryptionType": "AES256"},
        });
        if self.mutability.has_exclusions() {
            v["imageTagMutabilityExclusionFilters"] = self.exclusion_filters_json();
        }
        v
    }

    /// The `imageTagMutabilityExclusionFilters` shape.
    pub fn exclusion_filters_json(&self) -> Value {
        json!(self.exclusion_filters.iter().map(|f| json!({"filterType": "WILDCARD", "filter": f})).collect::<Vec<_>>())
    }

    /// The image with a digest.
    pub fn by_digest(&self, digest: &str) -> Option<usize> {
        self.images.iter().position(|i| i.digest == digest)
    }

    /// The image a tag points at.
    pub fn by_tag(&self, tag: &str) -> Option<usize> {
        self.images.iter().position(|i| i.tags.iter().any(|t| t == tag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_detail_has_the_fields_ecr_writes_and_leaves_out_the_empty_ones() {
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        let mut image = Image {
            seq: 1,
            digest: "sha256:ab".into(),
            tags: vec!["1.0.0".into()],
            manifest: "{}".into(),
            manifest_media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            artifact_media_type: Some("application/vnd.oci.image.config.v1+json".into()),
            size_bytes: 42,
            pushed_at: at("2026-01-02T03:04:05.678Z"),
            last_recorded_pull_time: Some(at("2026-01-03T00:00:00Z")),
            archived_at: None,
            children: Vec::new(),
        };
        assert_eq!(
            serde_json::to_value(image.detail("123456789012", "app")).unwrap(),
            json!({
                "registryId": "123456789012",
                "repositoryName": "app",
                "imageDigest": "sha256:ab",
                "imageTags": ["1.0.0"],
                "imageSizeInBytes": 42,
                "imagePushedAt": 1_767_323_045.678,
                "imageManifestMediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactMediaType": "application/vnd.oci.image.config.v1+json",
                "imageStatus": "ACTIVE",
                "lastRecordedPullTime": 1_767_398_400.0,
            })
        );
        image.tags.clear();
        image.artifact_media_type = None;
        image.last_recorded_pull_time = None;
        image.archived_at = Some(at("2026-02-01T00:00:00Z"));
        let detail = serde_json::to_value(image.detail("123456789012", "app")).unwrap();
        let keys: Vec<&str> = detail.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "imageDigest",
                "imageManifestMediaType",
                "imagePushedAt",
                "imageSizeInBytes",
                "imageStatus",
                "lastArchivedAt",
                "registryId",
                "repositoryName"
            ]
        );
        assert_eq!(
            (detail["imageStatus"].as_str(), detail["lastArchivedAt"].as_f64()),
            (Some("ARCHIVED"), Some(1_769_904_000.0))
        );
    }

    fn repo(m: TagMutability, filters: &[&str]) -> Repository {
        Repository {
            name: "app".into(),
            created_at: Timestamp::UNIX_EPOCH,
            mutability: m,
            exclusion_filters: filters.iter().map(|s| s.to_string()).collect(),
            images: Vec::new(),
            lifecycle: None,
            preview: None,
        }
    }

    #[test]
    fn exclusion_filters_invert_the_repository_setting_for_matching_tags() {
        assert!(!repo(TagMutability::Mutable, &[]).tag_is_immutable("latest"));
        assert!(repo(TagMutability::Immutable, &[]).tag_is_immutable("latest"));
        let r = repo(TagMutability::ImmutableWithExclusion, &["latest*"]);
        assert!(!r.tag_is_immutable("latest"));
        assert!(r.tag_is_immutable("1.0.0"));
        let r = repo(TagMutability::MutableWithExclusion, &["release-*"]);
        assert!(r.tag_is_immutable("release-1"));
        assert!(!r.tag_is_immutable("dev"));
    }

    #[test]
    fn timestamps_are_epoch_seconds_with_milliseconds() {
        let t: Timestamp = "2026-03-04T05:06:07.123456Z".parse().unwrap();
        assert_eq!(epoch(millis(t)).to_string(), "1772600767.123");
        assert_eq!(millis(t).subsec_nanosecond(), 123_000_000);
    }
}
