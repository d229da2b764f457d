//! Protection of images in use: which images a policy would expire or archive although something runs them.
//!
//! ECR's lifecycle evaluation knows nothing about workloads (users have asked for it for years), so a policy
//! can delete the image a Deployment runs or would roll back to; the next pod start then fails to pull. This
//! check is pure: the caller gathers the images in use (a cluster scan, rollout history, or a list given by
//! hand) for the repository that was previewed.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::preview::{Outcome, Preview};

/// An image something uses, to be kept out of a policy's reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InUseImage {
    /// The image reference as the user wrote it (`…/repo:tag` or `…/repo@sha256:…`), for messages.
    pub reference: String,
    /// The tag it is pulled by, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The digest it runs or is pinned to, if known (a pod's `imageID` gives it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Who uses it, e.g. `deployment/shop/ms-account-management (revision 7)`.
    pub used_by: String,
}

impl InUseImage {
    /// An in-use image named by a reference (`…/repo:tag` or `…/repo@sha256:…`), e.g. given on the
    /// command line; the tag and digest come from the reference.
    pub fn from_reference(reference: &str, used_by: impl Into<String>) -> crate::Result<Self> {
        let image: crate::ImageRef = reference.parse()?;
        Ok(Self {
            reference: reference.to_string(),
            tag: image.tag().map(ToString::to_string),
            digest: image.digest().map(ToString::to_string),
            used_by: used_by.into(),
        })
    }
}

/// How an in-use image was recognised in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    /// The in-use digest is the image's digest: exactly what runs.
    Digest,
    /// The in-use tag is one of the image's tags: what the next pull of that tag would fetch.
    Tag,
}

/// An image the policy would act on although it is in use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProtectionViolation {
    /// The registry image's digest.
    pub digest: String,
    /// The registry image's tags.
    pub tags: Vec<String>,
    /// What the policy would do to it.
    pub outcome: Outcome,
    /// The rule that would do it.
    pub rule_priority: Option<u32>,
    /// The in-use reference.
    pub reference: String,
    /// Who uses it.
    pub used_by: String,
    /// How the two were matched.
    pub matched_by: MatchedBy,
}

/// Every image of `preview` that would be expired or transitioned while `in_use` lists it, by digest or by
/// tag. An in-use entry whose digest and tag point at two different images (the tag moved since the pods
/// started) reports both: the running image and the one the next pull would fetch. Ordered like the preview
/// (newest push first), then like `in_use`.
pub fn protect(preview: &Preview, in_use: &[InUseImage]) -> Vec<ProtectionViolation> {
    // Index the (few) in-use entries, then scan the (many) verdicts once.
    let mut by_digest: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut by_tag: HashMap<&str, Vec<usize>> = HashMap::new();
    for (use_index, image) in in_use.iter().enumerate() {
        if let Some(digest) = &image.digest {
            by_digest.entry(digest).or_default().push(use_index);
        }
        if let Some(tag) = &image.tag {
            by_tag.entry(tag).or_default().push(use_index);
        }
    }
    let mut out = Vec::new();
    let mut hits: Vec<(usize, MatchedBy)> = Vec::new();
    for verdict in preview.images.iter().filter(|v| v.outcome != Outcome::Keep) {
        hits.clear();
        hits.extend(by_digest.get(verdict.digest.as_str()).into_iter().flatten().map(|&i| (i, MatchedBy::Digest)));
        for tag in &verdict.tags {
            for &use_index in by_tag.get(tag.as_str()).into_iter().flatten() {
                // Matched by digest already, or by another of the image's tags: one violation per entry.
                if !hits.iter().any(|(i, _)| *i == use_index) {
                    hits.push((use_index, MatchedBy::Tag));
                }
            }
        }
        hits.sort_by_key(|(use_index, _)| *use_index);
        out.extend(hits.iter().map(|&(use_index, matched_by)| {
            let image = &in_use[use_index];
            ProtectionViolation {
                digest: verdict.digest.clone(),
                tags: verdict.tags.clone(),
                outcome: verdict.outcome,
                rule_priority: verdict.rule_priority,
                reference: image.reference.clone(),
                used_by: image.used_by.clone(),
                matched_by,
            }
        }));
    }
    out
}

#[cfg(test)]
mod reference_tests {
    use super::*;

    #[test]
    fn an_in_use_image_takes_its_tag_and_digest_from_the_reference() {
        let i = InUseImage::from_reference("1.dkr.ecr.r.amazonaws.com/app:v2", "given").unwrap();
        assert_eq!((i.tag.as_deref(), i.digest.as_deref(), i.used_by.as_str()), (Some("v2"), None, "given"));
        let d = format!("app@sha256:{}", "a".repeat(64));
        assert_eq!(InUseImage::from_reference(&d, "x").unwrap().digest.unwrap(), format!("sha256:{}", "a".repeat(64)));
        assert!(InUseImage::from_reference("Bad Ref", "x").is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{SEED_POLICY, image, now};
    use super::super::{LifecyclePolicy, preview};
    use super::*;

    fn in_use(reference: &str, tag: Option<&str>, digest: Option<&str>) -> InUseImage {
        InUseImage {
            reference: reference.into(),
            tag: tag.map(Into::into),
            digest: digest.map(Into::into),
            used_by: format!("deployment/{reference}"),
        }
    }

    #[test]
    fn protect_reports_in_use_images_the_policy_would_expire() {
        // Keep 1 release: r1 (newest) is kept, r0 and the older r-old are expired.
        let images = vec![
            image("sha256:old", &["latest-release-0.9.0"], 9.0),
            image("sha256:r0", &["latest-release-1.0.0"], 5.0),
            image("sha256:r1", &["latest-release-1.1.0"], 1.0),
        ];
        let policy = LifecyclePolicy::builder().keep_most_recent_tagged(1, ["latest"]).build().unwrap();
        let result = preview(&policy, &images, now());
        let uses = [
            in_use("running", None, Some("sha256:r1")),
            in_use("rollback", Some("latest-release-1.0.0"), None),
            in_use("pinned", None, Some("sha256:old")),
            in_use("elsewhere", Some("other"), Some("sha256:unknown")),
            // The tag moved to r1 after the pods started on r0: both images matter.
            in_use("moved", Some("latest-release-1.1.0"), Some("sha256:r0")),
        ];
        let violations = protect(&result, &uses);
        let found: Vec<(&str, &str, MatchedBy)> =
            violations.iter().map(|v| (v.digest.as_str(), v.reference.as_str(), v.matched_by)).collect();
        assert_eq!(
            found,
            [
                ("sha256:r0", "rollback", MatchedBy::Tag),
                ("sha256:r0", "moved", MatchedBy::Digest),
                ("sha256:old", "pinned", MatchedBy::Digest),
            ]
        );
    }

    #[test]
    fn protect_reports_an_entry_once_per_image() {
        let images = vec![image("sha256:a", &["v1", "stable"], 2.0), image("sha256:b", &["v2"], 1.0)];
        let policy = LifecyclePolicy::builder().keep_most_recent_tagged_matching(1, ["v*"]).build().unwrap();
        let result = preview(&policy, &images, now());
        let violations = protect(&result, &[in_use("app", Some("v1"), Some("sha256:a"))]);
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].matched_by, MatchedBy::Digest);
        assert_eq!((violations[0].outcome, violations[0].rule_priority), (Outcome::Expire, Some(1)));
        let json = serde_json::to_value(&violations[0]).unwrap();
        assert_eq!(json["matched_by"], "digest");
        assert_eq!(json["used_by"], "deployment/app");
    }

    #[test]
    fn protect_finds_nothing_when_in_use_images_are_kept() {
        let seed = LifecyclePolicy::parse(SEED_POLICY).unwrap();
        let images: Vec<_> = (0..8)
            .map(|n| image(&format!("sha256:{n}"), &[&format!("latest-release-1.{n}.0")], f64::from(10 - n)))
            .collect();
        let result = preview(&seed, &images, now());
        assert_eq!(result.summary.expiring, 3);
        let uses = [
            in_use("current", Some("latest-release-1.7.0"), Some("sha256:7")),
            in_use("previous", Some("latest-release-1.6.0"), None),
        ];
        assert!(protect(&result, &uses).is_empty());
        let uses = [in_use("ancient", Some("latest-release-1.0.0"), None)];
        assert_eq!(protect(&result, &uses).len(), 1);
    }
}
