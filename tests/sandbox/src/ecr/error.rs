//! ECR's errors as the service shapes them: HTTP 400 with `{"__type": "<Code>", "message": "…"}`,
//! the codes and message texts real ECR answers with (the wording of the AWS API reference and of
//! answers observed from the service), so SDKs map them to their typed errors.
//!
//! Message texts are ECR's, verbatim where known; they are not rewritten to this project's
//! lowercase error style, because clients match on them.

use serde_json::{Value, json};

/// One ECR error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcrError {
    /// The HTTP status (400 for every error a client causes, 500 for `ServerException`).
    pub status: u16,
    /// The error code (`__type`), e.g. `RepositoryNotFoundException`.
    pub code: &'static str,
    /// ECR's message.
    pub message: String,
}

impl std::fmt::Display for EcrError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for EcrError {}

impl EcrError {
    /// An HTTP 400 error with a code and a message.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { status: 400, code, message: message.into() }
    }

    /// The JSON body of the answer.
    pub fn body(&self) -> Value {
        json!({"__type": self.code, "message": self.message})
    }

    /// `RepositoryNotFoundException`.
    pub fn repository_not_found(name: &str, registry: &str) -> Self {
        Self::new(
            "RepositoryNotFoundException",
            format!("The repository with name '{name}' does not exist in the registry with id '{registry}'"),
        )
    }

    /// `RepositoryAlreadyExistsException`.
    pub fn repository_already_exists(name: &str, registry: &str) -> Self {
        Self::new(
            "RepositoryAlreadyExistsException",
            format!("The repository with name '{name}' already exists in the registry with id '{registry}'"),
        )
    }

    /// `RepositoryNotEmptyException`.
    pub fn repository_not_empty(name: &str, registry: &str) -> Self {
        Self::new(
            "RepositoryNotEmptyException",
            format!(
                "The repository with name '{name}' in registry with id '{registry}' cannot be deleted because it still contains images"
            ),
        )
    }

    /// `ImageNotFoundException`, naming the image id the way ECR prints it
    /// (`{imageDigest:'null', imageTag:'1.0'}`).
    pub fn image_not_found(digest: Option<&str>, tag: Option<&str>, repository: &str, registry: &str) -> Self {
        Self::new(
            "ImageNotFoundException",
            format!(
                "The image with imageId {{imageDigest:'{}', imageTag:'{}'}} does not exist within the repository with name '{repository}' in the registry with id '{registry}'",
                digest.unwrap_or("null"),
                tag.unwrap_or("null")
            ),
        )
    }

    /// `ImageAlreadyExistsException`: the same manifest is already in the repository under the same tag
    /// (or untagged, for an untagged push).
    pub fn image_already_exists(digest: &str, tag: Option<&str>, repository: &str, registry: &str) -> Self {
        let message = match tag {
            Some(tag) => format!(
                "Image with digest '{digest}' and tag '{tag}' already exists in the repository with name '{repository}' in registry with id '{registry}'"
            ),
            None => format!(
                "Image with digest '{digest}' already exists in the repository with name '{repository}' in registry with id '{registry}'"
            ),
        };
        Self::new("ImageAlreadyExistsException", message)
    }

    /// `ImageTagAlreadyExistsException`: an immutable tag already points at another image.
    pub fn image_tag_already_exists(tag: &str, repository: &str) -> Self {
        Self::new(
            "ImageTagAlreadyExistsException",
            format!(
                "The image tag '{tag}' already exists in the '{repository}' repository and cannot be overwritten because the tag is immutable."
            ),
        )
    }

    /// `ImageDigestDoesNotMatchException`.
    pub fn image_digest_does_not_match(given: &str, actual: &str) -> Self {
        Self::new(
            "ImageDigestDoesNotMatchException",
            format!(
                "The specified image digest '{given}' does not match the digest '{actual}' calculated for the manifest"
            ),
        )
    }

    /// `LifecyclePolicyNotFoundException`.
    pub fn lifecycle_policy_not_found(repository: &str, registry: &str) -> Self {
        Self::new(
            "LifecyclePolicyNotFoundException",
            format!(
                "Lifecycle policy does not exist for the repository with name '{repository}' in the registry with id '{registry}'"
            ),
        )
    }

    /// `LifecyclePolicyPreviewNotFoundException`.
    pub fn lifecycle_policy_preview_not_found(repository: &str, registry: &str) -> Self {
        Self::new(
            "LifecyclePolicyPreviewNotFoundException",
            format!(
                "There is no dry run for the lifecycle policy of the repository with name '{repository}' in the registry with id '{registry}'"
            ),
        )
    }

    /// `InvalidParameterException` in the wording ECR uses for a constraint on a request member:
    /// `Invalid parameter at '<member>' failed to satisfy constraint: '<constraint>'`.
    pub fn invalid_parameter(member: &str, constraint: impl std::fmt::Display) -> Self {
        Self::new(
            "InvalidParameterException",
            format!("Invalid parameter at '{member}' failed to satisfy constraint: '{constraint}'"),
        )
    }

    /// `InvalidParameterException` for a lifecycle policy, wrapping the validator's finding as ECR
    /// wraps its schema validator's.
    pub fn invalid_lifecycle_policy(detail: impl std::fmt::Display) -> Self {
        Self::invalid_parameter("LifecyclePolicyText", format!("Lifecycle policy validation failure: {detail}"))
    }

    /// `SerializationException`: the request body is not the JSON the operation takes.
    pub fn serialization(detail: impl std::fmt::Display) -> Self {
        Self::new("SerializationException", detail.to_string())
    }

    /// `ThrottlingException`, the answer of a service over its request rate.
    pub fn throttling() -> Self {
        Self::new("ThrottlingException", "Rate exceeded")
    }

    /// `UnknownOperationException`: the `X-Amz-Target` names no ECR operation.
    pub fn unknown_operation(target: &str) -> Self {
        Self::new("UnknownOperationException", format!("The operation {target} is not supported by this endpoint"))
    }
}
