//! The sandbox control calls for its registry, under `/sandbox/v1/ecr/`, so scripts can do what the
//! Rust handle does:
//!
//! - `POST /sandbox/v1/ecr/repositories` with `{"name": "app", "imageTagMutability"?: "IMMUTABLE"}`;
//! - `POST /sandbox/v1/ecr/images` with `{"repository": "app", "tags": ["1.0.0"], "pushedAt"?:
//!   "<RFC 3339>", "sizeBytes"?: n, "manifest"?: "<text>", "behaviour"?: {…camelCase behaviour}}`,
//!   answering the digest and the pullable reference;
//! - `GET /sandbox/v1/ecr/images?repository=app`: the images as DescribeImages details;
//! - `POST /sandbox/v1/ecr/lifecycle/run?repository=app`: runs the lifecycle policy now and answers
//!   what it expired and archived.
//!
//! Errors are Kubernetes-style `Status` answers like the rest of `/sandbox/v1/`, carrying ECR's code
//! and message.

use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::{Value, json};

use super::PushOptions;
use super::error::EcrError;
use super::model::{LifecycleResult, TagMutability};
use super::policy::ActionType;
use crate::Shared;
use crate::api::{Body, Query, json_response};
use crate::error::ApiError;
use crate::images::ImageBehaviour;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewRepository {
    name: String,
    #[serde(default)]
    image_tag_mutability: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewImage {
    repository: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    pushed_at: Option<jiff::Timestamp>,
    #[serde(default)]
    size_bytes: Option<u64>,
    #[serde(default)]
    manifest: Option<String>,
    #[serde(default)]
    behaviour: Option<ImageBehaviour>,
}

fn api_error(e: EcrError) -> ApiError {
    let (code, reason) = if e.code.ends_with("NotFoundException") {
        (404, "NotFound")
    } else if e.code.ends_with("AlreadyExistsException") {
        (409, "AlreadyExists")
    } else {
        (400, "BadRequest")
    };
    ApiError { code, reason, message: e.to_string(), details: None, retry_after: None }
}

async fn json_body<T: serde::de::DeserializeOwned>(req: Request<Incoming>, what: &str) -> Result<T, ApiError> {
    let bytes = req
        .into_body()
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the request body failed: {e}")))?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(format!("invalid {what}: {e}")))
}

fn result_json(r: &LifecycleResult) -> Value {
    json!({
        "imageDigest": r.digest,
        "imageTags": r.tags,
        "imagePushedAt": r.pushed_at.to_string(),
        "appliedRulePriority": r.rule_priority,
    })
}

/// Answers a request under `/sandbox/v1/ecr/`.
pub(crate) async fn handle(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    rest: &[&str],
    query: &Query,
) -> Result<Response<Body>, ApiError> {
    let ecr = &shared.ecr;
    let method = req.method().clone();
    match (method, rest) {
        (Method::POST, ["repositories"]) => {
            let body: NewRepository = json_body(req, "repository").await?;
            let m = match body.image_tag_mutability.as_deref() {
                None => TagMutability::Mutable,
                Some(s) => TagMutability::parse(s).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "invalid repository: imageTagMutability {s:?} is not one of {}",
                        TagMutability::ALL.join(", ")
                    ))
                })?,
            };
            let now = ecr.now();
            let mut reg = ecr.registry();
            let repo = reg.create_repository(&body.name, m, Vec::new(), now).map_err(api_error)?;
            Ok(json_response(
                StatusCode::CREATED,
                &json!({
                    "name": repo.name,
                    "uri": format!("{}/{}", ecr.registry_host(), repo.name),
                    "imageTagMutability": repo.mutability.as_str(),
                }),
            ))
        }
        (Method::POST, ["images"]) => {
            let body: NewImage = json_body(req, "image push").await?;
            let tags: Vec<&str> = body.tags.iter().map(String::as_str).collect();
            let digest = ecr
                .push_image(
                    &body.repository,
                    &tags,
                    PushOptions {
                        pushed_at: body.pushed_at,
                        size_bytes: body.size_bytes,
                        manifest: body.manifest,
                        behaviour: body.behaviour,
                    },
                )
                .map_err(api_error)?;
            Ok(json_response(
                StatusCode::CREATED,
                &json!({
                    "repository": body.repository,
                    "tags": body.tags,
                    "digest": digest,
                    "image": format!("{}/{}@{digest}", ecr.registry_host(), body.repository),
                }),
            ))
        }
        (Method::GET, ["images"]) => {
            let repo = query
                .non_empty("repository")
                .ok_or_else(|| ApiError::bad_request("the query parameter \"repository\" is required"))?;
            let images = ecr.images(repo).map_err(api_error)?;
            let details: Vec<_> = images.iter().map(|i| i.detail(ecr.account(), repo)).collect();
            Ok(json_response(StatusCode::OK, &json!({"repository": repo, "images": details})))
        }
        (Method::POST, ["lifecycle", "run"]) => {
            let repo = query
                .non_empty("repository")
                .ok_or_else(|| ApiError::bad_request("the query parameter \"repository\" is required"))?;
            let results = ecr.run_lifecycle(repo).map_err(api_error)?;
            let of = |a: ActionType| results.iter().filter(|r| r.action == a).map(result_json).collect::<Vec<_>>();
            Ok(json_response(
                StatusCode::OK,
                &json!({"repository": repo, "expired": of(ActionType::Expire), "archived": of(ActionType::Transition)}),
            ))
        }
        (m, _) => Err(ApiError::path_not_found(&format!("{m} /sandbox/v1/ecr/{}", rest.join("/")))),
    }
}
