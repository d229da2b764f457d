//! The ECR side of the registry: fetching a repository's images and lifecycle policy through the ECR API, then
//! calling the pure decisions ([`previous_tag`](super::previous_tag), [`preview`], [`protect`], [`diff`]) and
//! acting on their result.
//!
//! This module owns the API calls, their paging, and the mapping of ECR's errors onto [`Error`]. It deliberately
//! decides nothing itself: every choice lives in a pure function that is tested without a registry. Building the
//! client (region, credentials, endpoint) lives in [`clients`](crate::clients).

use std::collections::HashSet;

use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecr::types::{DescribeImagesFilter, ImageDetail, ImageIdentifier, ImageStatusFilter};
use futures::stream::{self, StreamExt};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{ImageRecord, PreviousQuery, PreviousStrategy, PreviousTag, StorageClass};
use crate::clients::AwsOptions;
use crate::error::{Cause, Error, Result};
use crate::image::{ImageRef, ImageTag, RepositoryName};
use crate::lifecycle::{
    InUseImage, LifecyclePolicy, PolicyDiff, Preview, PreviewSummary, ProtectionViolation, diff, preview, protect,
};

/// ECR's largest `DescribeImages` page: one request per 1,000 images instead of per 100.
const PAGE_SIZE: i32 = 1000;

/// How many repositories [`Registry::put_lifecycle_policies`] works on at once unless told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// Which images to list, by tag status (`DescribeImages`' `filter.tagStatus`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TagStatusFilter {
    /// Every image (no filter is sent, as the aws CLI sends none).
    #[default]
    Any,
    /// Images with at least one tag.
    Tagged,
    /// Images without tags.
    Untagged,
}

impl TagStatusFilter {
    fn to_sdk(self) -> Option<aws_sdk_ecr::types::TagStatus> {
        match self {
            TagStatusFilter::Any => None,
            TagStatusFilter::Tagged => Some(aws_sdk_ecr::types::TagStatus::Tagged),
            TagStatusFilter::Untagged => Some(aws_sdk_ecr::types::TagStatus::Untagged),
        }
    }

    fn admits(self, image: &ImageRecord) -> bool {
        match self {
            TagStatusFilter::Any => true,
            TagStatusFilter::Tagged => !image.is_untagged(),
            TagStatusFilter::Untagged => image.is_untagged(),
        }
    }
}

/// What [`Registry::check_tag_unique`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TagCheck {
    /// No image carries the tag yet.
    Free,
    /// The tag already names exactly the given digest: pushing again changes nothing.
    SameImage,
}

/// Options of [`Registry::put_lifecycle_policies`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutOptions {
    /// Put even where the policy would expire or archive an image in [`PutOptions::in_use`].
    pub force: bool,
    /// Images that must survive: what workloads run and may roll back to. Entries are matched to a repository
    /// by the repository path of their `reference`; an entry whose reference cannot be parsed is checked
    /// against every repository.
    pub in_use: Vec<InUseImage>,
    /// How many repositories are read and written at once (at least 1).
    pub concurrency: usize,
}

impl Default for PutOptions {
    fn default() -> Self {
        PutOptions { force: false, in_use: Vec::new(), concurrency: DEFAULT_CONCURRENCY }
    }
}

/// What happened to one repository in [`Registry::put_lifecycle_policies`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PutOutcome {
    /// The policy was put.
    Put,
    /// The repository already had exactly this policy (descriptions included); nothing was written.
    Unchanged,
    /// The repository could not be read or written; the others went ahead.
    Failed {
        /// The error, with its causes.
        reason: String,
    },
}

/// One repository's line of a [`PutReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepositoryPut {
    /// The repository.
    pub repository: String,
    /// What happened.
    #[serde(flatten)]
    pub outcome: PutOutcome,
    /// What the policy does to the repository's current images (absent when they could not be read).
    pub preview: Option<PreviewSummary>,
    /// Images in use that the policy acts on: accepted with `force`, or left as they are because the policy
    /// was already in place.
    pub in_use: Vec<ProtectionViolation>,
}

/// The result of [`Registry::put_lifecycle_policies`]: one line per repository, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PutReport {
    /// How many repositories got the policy.
    pub put: usize,
    /// How many already had it.
    pub unchanged: usize,
    /// How many failed.
    pub failed: usize,
    /// Each repository.
    pub repositories: Vec<RepositoryPut>,
}

impl PutReport {
    fn new(repositories: Vec<RepositoryPut>) -> Self {
        let count = |f: fn(&PutOutcome) -> bool| repositories.iter().filter(|r| f(&r.outcome)).count();
        PutReport {
            put: count(|o| matches!(o, PutOutcome::Put)),
            unchanged: count(|o| matches!(o, PutOutcome::Unchanged)),
            failed: count(|o| matches!(o, PutOutcome::Failed { .. })),
            repositories,
        }
    }

    /// Whether every repository has the policy now.
    pub fn succeeded(&self) -> bool {
        self.failed == 0
    }
}

/// The in-use images a policy would act on in one repository; see [`Error::PolicyWouldExpireInUse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InUseViolations {
    /// The repository.
    pub repository: String,
    /// Each in-use image the policy would expire or archive.
    pub violations: Vec<ProtectionViolation>,
}

/// An ECR registry: the repositories one client (one account and region) can reach.
///
/// Cheap to clone; clones share the connection pool.
///
/// ```no_run
/// # async fn demo() -> rollout_core::Result<()> {
/// use rollout_core::clients::AwsOptions;
/// use rollout_core::registry::{PreviousQuery, Registry};
///
/// let registry = Registry::from_options(&AwsOptions::default()).await?;
/// let repository = "ms-account-management".parse()?;
/// let previous = registry.previous_tag(&repository, &PreviousQuery::pushed().with_prefix("latest-release-")).await?;
/// println!("{}", previous.tag.unwrap_or_default());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Registry {
    client: aws_sdk_ecr::Client,
}

impl std::fmt::Debug for Registry {
    /// Only the region: the client's configuration holds the credentials provider.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("region", &self.region()).finish_non_exhaustive()
    }
}

impl Registry {
    /// A registry over an existing client.
    pub fn new(client: aws_sdk_ecr::Client) -> Self {
        Registry { client }
    }

    /// A registry over a client built by [`ecr_client`](crate::clients::ecr_client).
    pub async fn from_options(options: &AwsOptions) -> Result<Self> {
        Ok(Registry::new(crate::clients::ecr_client(options).await?))
    }

    /// The underlying client.
    pub fn client(&self) -> &aws_sdk_ecr::Client {
        &self.client
    }

    /// The client's region.
    pub fn region(&self) -> Option<String> {
        self.client.config().region().map(|r| r.as_ref().to_owned())
    }

    /// Every image of `repository` that `filter` admits, all pages merged in the order ECR returned them.
    ///
    /// Pages of 1,000 (`maxResults`, ECR's largest) with the tag status filtered by ECR; the filter is applied
    /// again to the records, so the answer is right even from an emulator that ignores it. Archived images are
    /// not listed (ECR's default image status, which the aws CLI shares).
    pub async fn list_images(&self, repository: &RepositoryName, filter: TagStatusFilter) -> Result<Vec<ImageRecord>> {
        self.describe_images(repository, filter, false).await
    }

    /// Like [`Registry::list_images`], with archived images too (`filter.imageStatus` `ANY`); they carry
    /// [`StorageClass::Archive`].
    pub async fn list_images_including_archived(
        &self,
        repository: &RepositoryName,
        filter: TagStatusFilter,
    ) -> Result<Vec<ImageRecord>> {
        self.describe_images(repository, filter, true).await
    }

    async fn describe_images(
        &self,
        repository: &RepositoryName,
        filter: TagStatusFilter,
        include_archived: bool,
    ) -> Result<Vec<ImageRecord>> {
        let mut request = self.client.describe_images().repository_name(repository.as_str()).max_results(PAGE_SIZE);
        if filter != TagStatusFilter::Any || include_archived {
            let mut sdk_filter = DescribeImagesFilter::builder().set_tag_status(filter.to_sdk());
            if include_archived {
                sdk_filter = sdk_filter.image_status(ImageStatusFilter::Any);
            }
            request = request.filter(sdk_filter.build());
        }
        let mut pages = request.into_paginator().send();
        let mut images = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.error("DescribeImages", Some(repository), None, e))?;
            images.extend(page.image_details().iter().filter_map(image_record).filter(|i| filter.admits(i)));
        }
        Ok(images)
    }

    /// Whether `image` exists in its ECR repository: by digest when the reference has one (what a kubelet
    /// pulls then), else by tag, else by `latest` (Docker's default tag). The image's account is asked as the
    /// registry, and its region's endpoint when it differs from the client's.
    ///
    /// Errors: [`Error::InvalidInput`] for an image outside ECR (it cannot be checked here),
    /// [`Error::RepositoryNotFound`] when the repository itself is missing.
    pub async fn image_exists(&self, image: &ImageRef) -> Result<bool> {
        let Some(repository) = image.ecr_repository() else {
            return Err(Error::InvalidInput {
                field: "image".into(),
                value: image.to_string(),
                reason: "only images in an ECR registry (<account>.dkr.ecr.<region>.amazonaws.com/<repository>) can \
                         be checked"
                    .into(),
            });
        };
        let id = match (image.digest(), image.tag()) {
            (Some(digest), _) => ImageIdentifier::builder().image_digest(digest.as_str()),
            (None, Some(tag)) => ImageIdentifier::builder().image_tag(tag.as_str()),
            (None, None) => ImageIdentifier::builder().image_tag("latest"),
        };
        let client = self.client_for_region(image.ecr_region());
        let registry_id = image.ecr_account().map(str::to_owned);
        let answer = client
            .describe_images()
            .repository_name(repository.as_str())
            .set_registry_id(registry_id.clone())
            .image_ids(id.build())
            .send()
            .await;
        match answer {
            Ok(output) => Ok(!output.image_details().is_empty()),
            Err(e) if e.code() == Some("ImageNotFoundException") => Ok(false),
            Err(e) => Err(error_for(
                "DescribeImages",
                Some(&repository),
                registry_id,
                client.config().region().map(|r| r.as_ref().to_owned()),
                e,
            )),
        }
    }

    fn client_for_region(&self, region: Option<&str>) -> aws_sdk_ecr::Client {
        match region {
            Some(region) if self.region().as_deref() != Some(region) => {
                let config =
                    self.client.config().to_builder().region(aws_sdk_ecr::config::Region::new(region.to_owned()));
                aws_sdk_ecr::Client::from_conf(config.build())
            }
            _ => self.client.clone(),
        }
    }

    /// The previous tag of `repository` as `query` asks (see [`previous_tag`](super::previous_tag)), over every
    /// image of the repository.
    ///
    /// The `cli-compatible` strategy lists every image, tagged or not, in ECR's page order, exactly as the aws
    /// CLI's unfiltered `describe-images` does before its json output merges the pages; the other strategies
    /// only look at tagged images and list those.
    pub async fn previous_tag(&self, repository: &RepositoryName, query: &PreviousQuery) -> Result<PreviousTag> {
        let filter = match query.strategy {
            PreviousStrategy::CliCompatible => TagStatusFilter::Any,
            _ => TagStatusFilter::Tagged,
        };
        let images = self.list_images(repository, filter).await?;
        super::previous_tag(&images, query)
    }

    /// Check that `tag` does not already name an image of `repository` other than `digest`: release tags are
    /// never moved. With no digest, any image carrying the tag is a conflict.
    ///
    /// Errors: [`Error::TagAlreadyExists`] on a conflict, [`Error::RepositoryNotFound`].
    pub async fn check_tag_unique(
        &self,
        repository: &RepositoryName,
        tag: &ImageTag,
        digest: Option<&str>,
    ) -> Result<TagCheck> {
        let answer = self
            .client
            .describe_images()
            .repository_name(repository.as_str())
            .image_ids(ImageIdentifier::builder().image_tag(tag.as_str()).build())
            .send()
            .await;
        let output = match answer {
            Ok(output) => output,
            Err(e) if e.code() == Some("ImageNotFoundException") => return Ok(TagCheck::Free),
            Err(e) => return Err(self.error("DescribeImages", Some(repository), None, e)),
        };
        let Some(existing) = output.image_details().iter().find_map(|d| d.image_digest()) else {
            return Ok(TagCheck::Free);
        };
        if digest == Some(existing) {
            return Ok(TagCheck::SameImage);
        }
        Err(Error::TagAlreadyExists {
            repository: repository.to_string(),
            tag: tag.to_string(),
            existing_digest: existing.to_owned(),
            digest: digest.map(str::to_owned),
        })
    }

    // --- lifecycle policies ---

    /// The repository's lifecycle policy, or `None` when it has none. The text is read with
    /// [`LifecyclePolicy::from_json`] (shape only), as ECR may store what a newer validator would reject.
    pub async fn get_lifecycle_policy(&self, repository: &RepositoryName) -> Result<Option<LifecyclePolicy>> {
        let answer = self.client.get_lifecycle_policy().repository_name(repository.as_str()).send().await;
        match answer {
            Ok(output) => output.lifecycle_policy_text().map(LifecyclePolicy::from_json).transpose(),
            Err(e) if e.code() == Some("LifecyclePolicyNotFoundException") => Ok(None),
            Err(e) => Err(self.error("GetLifecyclePolicy", Some(repository), None, e)),
        }
    }

    /// Delete the repository's lifecycle policy. Idempotent: `false` when it had none.
    pub async fn delete_lifecycle_policy(&self, repository: &RepositoryName) -> Result<bool> {
        let answer = self.client.delete_lifecycle_policy().repository_name(repository.as_str()).send().await;
        match answer {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("LifecyclePolicyNotFoundException") => Ok(false),
            Err(e) => Err(self.error("DeleteLifecyclePolicy", Some(repository), None, e)),
        }
    }

    /// The difference between the repository's policy and `desired`.
    pub async fn diff_lifecycle_policy(
        &self,
        repository: &RepositoryName,
        desired: &LifecyclePolicy,
    ) -> Result<PolicyDiff> {
        let current = self.get_lifecycle_policy(repository).await?;
        Ok(diff(current.as_ref(), desired))
    }

    /// What `policy` would do to the repository's images at `now`, evaluated locally (no preview API call: it
    /// is instant and works where the preview API is missing). The policy is validated first.
    pub async fn preview_lifecycle_policy(
        &self,
        repository: &RepositoryName,
        policy: &LifecyclePolicy,
        now: Timestamp,
    ) -> Result<Preview> {
        policy.validate()?;
        let images = self.images_for_policy(repository, policy).await?;
        Ok(preview(policy, &images, now))
    }

    /// The images in use that `policy` would expire or archive in `repository` at `now`: the local preview
    /// matched against the entries of `in_use` that concern this repository (an entry of another
    /// repository never matches, however equal its tag).
    pub async fn check_lifecycle_policy(
        &self,
        repository: &RepositoryName,
        policy: &LifecyclePolicy,
        in_use: &[InUseImage],
        now: Timestamp,
    ) -> Result<Vec<ProtectionViolation>> {
        let preview = self.preview_lifecycle_policy(repository, policy, now).await?;
        let concerned: Vec<InUseImage> = in_use.iter().filter(|image| concerns(image, repository)).cloned().collect();
        Ok(protect(&preview, &concerned))
    }

    /// Archived images matter only to a policy with rules over the archive class.
    async fn images_for_policy(
        &self,
        repository: &RepositoryName,
        policy: &LifecyclePolicy,
    ) -> Result<Vec<ImageRecord>> {
        if policy.rules.iter().any(|r| r.selection.storage_class() == StorageClass::Archive) {
            self.list_images_including_archived(repository, TagStatusFilter::Any).await
        } else {
            self.list_images(repository, TagStatusFilter::Any).await
        }
    }

    /// Put `policy` on every repository of `repositories`, safely.
    ///
    /// 1. The policy is validated: an invalid policy is refused with every violation, and nothing is read or
    ///    written.
    /// 2. Each repository's images and current policy are read and the policy previewed over them; the images
    ///    it would expire or archive are checked against [`PutOptions::in_use`].
    /// 3. Unless [`PutOptions::force`] is set, any in-use image the policy would act on in a repository that
    ///    would change refuses the whole put with [`Error::PolicyWouldExpireInUse`], listing every such image
    ///    of every repository; nothing is written.
    /// 4. Repositories whose policy already equals `policy` are left alone ([`PutOutcome::Unchanged`]); the
    ///    others get it.
    ///
    /// Steps 2 and 4 run for up to [`PutOptions::concurrency`] repositories at once. A repository that cannot
    /// be read or written is reported as [`PutOutcome::Failed`] and the others go ahead; throttling is retried
    /// by the SDK first.
    pub async fn put_lifecycle_policies(
        &self,
        repositories: &[RepositoryName],
        policy: &LifecyclePolicy,
        options: &PutOptions,
    ) -> Result<PutReport> {
        policy.validate()?;
        if options.concurrency == 0 {
            return Err(Error::InvalidInput {
                field: "concurrency".into(),
                value: "0".into(),
                reason: "allowed: at least 1".into(),
            });
        }
        if repositories.is_empty() {
            return Err(Error::InvalidInput {
                field: "repositories".into(),
                value: String::new(),
                reason: "name at least one repository".into(),
            });
        }
        let mut seen = HashSet::new();
        let repositories: Vec<&RepositoryName> = repositories.iter().filter(|r| seen.insert(*r)).collect();
        let now = Timestamp::now();

        let plans: Vec<Plan> = stream::iter(repositories.iter().copied())
            .map(|repository| self.plan(repository, policy, &options.in_use, now))
            .buffered(options.concurrency)
            .collect()
            .await;

        if !options.force {
            let refused: Vec<InUseViolations> = plans
                .iter()
                .filter_map(|plan| match &plan.state {
                    PlanState::Ready { change: true, violations, .. } if !violations.is_empty() => {
                        Some(InUseViolations {
                            repository: plan.repository.to_string(),
                            violations: violations.clone(),
                        })
                    }
                    _ => None,
                })
                .collect();
            if !refused.is_empty() {
                return Err(Error::PolicyWouldExpireInUse { repositories: refused });
            }
        }

        let text = policy.to_json();
        let lines: Vec<RepositoryPut> =
            stream::iter(plans).map(|plan| self.apply(plan, &text)).buffered(options.concurrency).collect().await;
        Ok(PutReport::new(lines))
    }

    async fn plan(
        &self,
        repository: &RepositoryName,
        policy: &LifecyclePolicy,
        in_use: &[InUseImage],
        now: Timestamp,
    ) -> Plan {
        let read =
            futures::try_join!(self.get_lifecycle_policy(repository), self.images_for_policy(repository, policy));
        let state = match read {
            Ok((current, images)) => {
                let change = !diff(current.as_ref(), policy).equal;
                let result = preview(policy, &images, now);
                let relevant: Vec<InUseImage> =
                    in_use.iter().filter(|image| concerns(image, repository)).cloned().collect();
                let violations = protect(&result, &relevant);
                PlanState::Ready { change, summary: result.summary, violations }
            }
            Err(error) => PlanState::Failed(error_chain(&error)),
        };
        Plan { repository: repository.clone(), state }
    }

    async fn apply(&self, plan: Plan, text: &str) -> RepositoryPut {
        let (change, summary, violations) = match plan.state {
            PlanState::Failed(reason) => {
                return RepositoryPut {
                    repository: plan.repository.to_string(),
                    outcome: PutOutcome::Failed { reason },
                    preview: None,
                    in_use: Vec::new(),
                };
            }
            PlanState::Ready { change, summary, violations } => (change, summary, violations),
        };
        let outcome = if change {
            let answer = self
                .client
                .put_lifecycle_policy()
                .repository_name(plan.repository.as_str())
                .lifecycle_policy_text(text)
                .send()
                .await;
            match answer {
                Ok(_) => PutOutcome::Put,
                Err(e) => PutOutcome::Failed {
                    reason: error_chain(&self.error("PutLifecyclePolicy", Some(&plan.repository), None, e)),
                },
            }
        } else {
            PutOutcome::Unchanged
        };
        RepositoryPut { repository: plan.repository.to_string(), outcome, preview: Some(summary), in_use: violations }
    }

    fn error<E>(
        &self,
        operation: &str,
        repository: Option<&RepositoryName>,
        registry_id: Option<String>,
        error: SdkError<E, aws_sdk_ecr::config::http::HttpResponse>,
    ) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        error_for(operation, repository, registry_id, self.region(), error)
    }
}

/// One repository's state between the read and the write of a put.
struct Plan {
    repository: RepositoryName,
    state: PlanState,
}

enum PlanState {
    Ready { change: bool, summary: PreviewSummary, violations: Vec<ProtectionViolation> },
    Failed(String),
}

/// Whether an in-use image belongs to `repository`: its reference names that repository path, or cannot be read
/// (then it is checked everywhere, erring on the side of keeping images).
fn concerns(image: &InUseImage, repository: &RepositoryName) -> bool {
    image.reference.parse::<ImageRef>().map_or(true, |r| r.repository() == repository.as_str())
}

/// An error's message followed by its causes, for a report line.
fn error_chain(error: &Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn timestamp(time: &aws_sdk_ecr::primitives::DateTime) -> Option<Timestamp> {
    Timestamp::new(time.secs(), i32::try_from(time.subsec_nanos()).ok()?).ok()
}

/// One `imageDetails` entry as an [`ImageRecord`]; entries without a digest (never sent by ECR) are dropped.
fn image_record(detail: &ImageDetail) -> Option<ImageRecord> {
    let digest = detail.image_digest()?;
    // ECR always sends the push time; an entry without one sorts as the oldest.
    let pushed_at = detail.image_pushed_at().and_then(timestamp).unwrap_or(Timestamp::UNIX_EPOCH);
    let mut record = ImageRecord::new(digest, detail.image_tags().iter().cloned(), pushed_at);
    record.size_bytes = detail.image_size_in_bytes().and_then(|n| u64::try_from(n).ok());
    record.last_pulled_at = detail.last_recorded_pull_time().and_then(timestamp);
    record.media_type = detail.image_manifest_media_type().map(str::to_owned);
    record.archived_at = detail.last_archived_at().and_then(timestamp);
    record.storage_class = detail.image_status().map(|status| StorageClass::from_image_status(status.as_str()));
    Some(record)
}

/// Map an SDK error onto [`Error`]: a missing repository becomes [`Error::RepositoryNotFound`], a failed
/// credential provider [`Error::Credentials`], everything else [`Error::Ecr`] with ECR's error code. Only
/// messages are kept, redacted (see [`Cause`]).
fn error_for<E, R>(
    operation: &str,
    repository: Option<&RepositoryName>,
    registry_id: Option<String>,
    region: Option<String>,
    error: SdkError<E, R>,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if let SdkError::ServiceError(service) = &error {
        let service = service.err();
        if let Some(code) = service.code() {
            if code == "RepositoryNotFoundException"
                && let Some(repository) = repository
            {
                return Error::RepositoryNotFound { repository: repository.to_string(), registry_id, region };
            }
            let message = service.message().unwrap_or("no message");
            return Error::Ecr {
                operation: operation.to_owned(),
                repository: repository.map(ToString::to_string),
                code: Some(code.to_owned()),
                source: Cause::new(format!("{code}: {message}")),
            };
        }
    }
    // The SDK reports a credential provider's failure as a dispatch failure; find it in the chain.
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(current) = next {
        if let Some(credentials) = current.downcast_ref::<aws_credential_types::provider::error::CredentialsError>() {
            return Error::Credentials { profile: None, source: Cause::from_error(credentials) };
        }
        next = current.source();
    }
    Error::Ecr {
        operation: operation.to_owned(),
        repository: repository.map(ToString::to_string),
        code: None,
        source: Cause::from_error(&error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecr::error::{ConnectorError, ErrorMetadata};
    use aws_sdk_ecr::operation::describe_images::DescribeImagesError;
    use aws_sdk_ecr::types::error::RepositoryNotFoundException;

    fn repository() -> RepositoryName {
        "shop/api".parse().unwrap()
    }

    fn service_error(code: &str, message: &str) -> SdkError<DescribeImagesError, ()> {
        let meta = ErrorMetadata::builder().code(code).message(message).build();
        let error = match code {
            "RepositoryNotFoundException" => DescribeImagesError::RepositoryNotFoundException(
                RepositoryNotFoundException::builder().message(message).meta(meta).build(),
            ),
            _ => DescribeImagesError::generic(meta),
        };
        SdkError::service_error(error, ())
    }

    fn map(error: SdkError<DescribeImagesError, ()>) -> Error {
        error_for("DescribeImages", Some(&repository()), None, Some("eu-west-1".into()), error)
    }

    #[test]
    fn a_missing_repository_maps_to_a_typed_error_naming_it_and_the_region() {
        let error =
            map(service_error("RepositoryNotFoundException", "The repository with name 'shop/api' does not exist"));
        assert!(
            matches!(&error, Error::RepositoryNotFound { repository, region: Some(region), registry_id: None }
                if repository == "shop/api" && region == "eu-west-1"),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("\"shop/api\"") && message.contains("eu-west-1"), "{message}");
    }

    #[test]
    fn other_service_errors_keep_the_operation_code_and_message() {
        let error = map(service_error("AccessDeniedException", "User is not authorized to perform ecr:DescribeImages"));
        let Error::Ecr { operation, repository, code, source } = &error else { panic!("{error:?}") };
        assert_eq!(
            (operation.as_str(), repository.as_deref(), code.as_deref()),
            ("DescribeImages", Some("shop/api"), Some("AccessDeniedException"))
        );
        assert!(source.as_str().contains("not authorized"));
        assert_eq!(error.to_string(), "ecr DescribeImages failed for repository \"shop/api\"");
    }

    #[test]
    fn a_transport_failure_maps_to_an_ecr_error_without_a_code() {
        let error = map(SdkError::dispatch_failure(ConnectorError::io("connection refused".into())));
        let Error::Ecr { code: None, source, .. } = &error else { panic!("{error:?}") };
        assert!(source.as_str().contains("connection refused"), "{source}");
    }

    #[test]
    fn a_failed_credential_provider_maps_to_a_credentials_error_without_secrets() {
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let credentials = aws_credential_types::provider::error::CredentialsError::provider_error(format!(
            "process output: {{\"SecretAccessKey\": \"{secret}\"}}"
        ));
        let error = map(SdkError::dispatch_failure(ConnectorError::other(Box::new(credentials), None)));
        assert!(matches!(error, Error::Credentials { .. }), "{error:?}");
        let all = format!("{error} {error:?} {}", std::error::Error::source(&error).unwrap());
        assert!(!all.contains(secret), "{all}");
        assert!(all.contains("AWS_ACCESS_KEY_ID"));
    }

    #[test]
    fn service_error_messages_are_redacted() {
        let error = map(service_error(
            "UnrecognizedClientException",
            "The security token FwoGZXIvYXdzEXAMPLE token: abc123 is invalid",
        ));
        let text = format!("{:?}", error);
        assert!(!text.contains("abc123"), "{text}");
    }

    #[test]
    fn image_details_become_records_with_storage_class_and_times() {
        use aws_sdk_ecr::primitives::DateTime;
        let detail = ImageDetail::builder()
            .image_digest("sha256:aa")
            .image_tags("1.0.0")
            .image_tags("latest")
            .image_pushed_at(DateTime::from_millis(1_714_557_600_123))
            .image_size_in_bytes(1234)
            .image_status(aws_sdk_ecr::types::ImageStatus::Archived)
            .last_archived_at(DateTime::from_secs(1_714_600_000))
            .image_manifest_media_type("application/vnd.oci.image.manifest.v1+json")
            .build();
        let record = image_record(&detail).unwrap();
        assert_eq!(record.tags, ["1.0.0", "latest"]);
        assert_eq!(record.pushed_at, "2024-05-01T10:00:00.123Z".parse::<Timestamp>().unwrap());
        assert_eq!(record.size_bytes, Some(1234));
        assert_eq!(record.storage_class, Some(StorageClass::Archive));
        assert_eq!(record.archived_at, Some(Timestamp::from_second(1_714_600_000).unwrap()));
        let untagged = ImageDetail::builder().image_digest("sha256:bb").build();
        let record = image_record(&untagged).unwrap();
        assert!(record.is_untagged() && record.storage_class.is_none() && record.pushed_at == Timestamp::UNIX_EPOCH);
        assert!(image_record(&ImageDetail::builder().build()).is_none());
    }

    #[test]
    fn registry_debug_shows_the_region_and_no_credentials() {
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let config = aws_sdk_ecr::Config::builder()
            .behavior_version(aws_sdk_ecr::config::BehaviorVersion::latest())
            .region(aws_sdk_ecr::config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_ecr::config::Credentials::new("AKIDEXAMPLE", secret, None, None, "test"))
            .build();
        let registry = Registry::new(aws_sdk_ecr::Client::from_conf(config));
        let debug = format!("{registry:?}");
        assert_eq!(debug, "Registry { region: Some(\"eu-west-1\"), .. }");
    }

    #[test]
    fn tag_status_filters_admit_what_they_name() {
        let tagged = ImageRecord::new("sha256:a", ["v1"], Timestamp::UNIX_EPOCH);
        let untagged = ImageRecord::new("sha256:b", Vec::<String>::new(), Timestamp::UNIX_EPOCH);
        let table = [
            (TagStatusFilter::Any, true, true),
            (TagStatusFilter::Tagged, true, false),
            (TagStatusFilter::Untagged, false, true),
        ];
        for (filter, admits_tagged, admits_untagged) in table {
            assert_eq!(
                (filter.admits(&tagged), filter.admits(&untagged)),
                (admits_tagged, admits_untagged),
                "{filter:?}"
            );
        }
    }

    #[test]
    fn in_use_images_are_matched_to_repositories_by_reference() {
        let use_of = |reference: &str| InUseImage {
            reference: reference.into(),
            tag: None,
            digest: None,
            used_by: "deployment/x".into(),
        };
        let repository = repository();
        assert!(concerns(&use_of("123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/api:1.0.0"), &repository));
        assert!(!concerns(&use_of("123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/web:1.0.0"), &repository));
        assert!(concerns(&use_of("not a reference"), &repository));
    }

    #[test]
    fn a_refusal_lists_every_in_use_image_per_repository() {
        let violation = |digest: &str, used_by: &str| ProtectionViolation {
            digest: digest.into(),
            tags: vec!["latest-release-1.0.0".into()],
            outcome: crate::lifecycle::Outcome::Expire,
            rule_priority: Some(1),
            reference: format!("shop/api@{digest}"),
            used_by: used_by.into(),
            matched_by: crate::lifecycle::MatchedBy::Digest,
        };
        let error = Error::PolicyWouldExpireInUse {
            repositories: vec![
                InUseViolations {
                    repository: "shop/api".into(),
                    violations: vec![violation("sha256:a", "deployment/shop/api")],
                },
                InUseViolations {
                    repository: "shop/web".into(),
                    violations: vec![violation("sha256:b", "cronjob/shop/report")],
                },
            ],
        };
        let message = error.to_string();
        for part in [
            "2 images",
            "shop/api: sha256:a",
            "shop/web: sha256:b",
            "deployment/shop/api",
            "cronjob/shop/report",
            "by rule 1",
            "force",
        ] {
            assert!(message.contains(part), "{part}: {message}");
        }
    }

    #[test]
    fn put_reports_serialize_in_snake_case_with_the_outcome_inline() {
        let report = PutReport::new(vec![
            RepositoryPut { repository: "a".into(), outcome: PutOutcome::Put, preview: None, in_use: Vec::new() },
            RepositoryPut {
                repository: "b".into(),
                outcome: PutOutcome::Failed { reason: "ecr PutLifecyclePolicy failed".into() },
                preview: None,
                in_use: Vec::new(),
            },
        ]);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "put": 1, "unchanged": 0, "failed": 1,
                "repositories": [
                    {"repository": "a", "outcome": "put", "preview": null, "in_use": []},
                    {"repository": "b", "outcome": "failed", "reason": "ecr PutLifecyclePolicy failed", "preview": null, "in_use": []},
                ]
            })
        );
        assert!(!report.succeeded());
    }
}
