//! ECR's wire protocol, awsJson1_1: `POST /` with `X-Amz-Target:
//! AmazonEC2ContainerRegistry_V20150921.<Operation>` and a JSON body, answered with JSON
//! (`application/x-amz-json-1.1`), errors as HTTP 400 with `{"__type", "message"}` and timestamps as
//! epoch seconds. This is what aws-sdk-ecr and the aws CLI (botocore) send and parse.
//!
//! Requests must carry a SigV4 `Authorization` header scoped to the `ecr` service; its signature is
//! not checked (there are no secrets to check it against). Injected faults apply to every call:
//! `latencyMs`, and `ecrThrottleProbability` answering `ThrottlingException`, which the AWS SDKs
//! classify as a throttling error and retry with back-off.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::error::EcrError;
use super::model::{ImageDetail, TagMutability, epoch, image_id};
use super::store::{Failure, ImageQuery, PutImage, StatusFilter, TagFilter};
use super::{Ecr, policy::ActionType};
use crate::Shared;
use crate::api::Body;

/// The `X-Amz-Target` prefix of ECR operations.
pub const TARGET_PREFIX: &str = "AmazonEC2ContainerRegistry_V20150921.";

/// The content type of requests and answers.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// The largest request body accepted: a 4 MiB manifest, JSON-escaped.
const MAX_BODY: usize = 10 * 1024 * 1024;

/// Whether a request is an ECR call: `POST /` with an ECR `X-Amz-Target`.
pub fn is_ecr_request<B>(req: &Request<B>) -> bool {
    req.method() == Method::POST
        && req.uri().path() == "/"
        && req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with(TARGET_PREFIX))
}

/// Answers an ECR call.
pub async fn handle(shared: &Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let request_id = shared.store.rng().uuid();
    let result = answer(shared, req).await;
    let (status, body) = match result {
        Ok(v) => (StatusCode::OK, v),
        Err(e) => (StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST), Answer::Json(e.body())),
    };
    let bytes = match body {
        Answer::Json(value) => serde_json::to_vec(&value).expect("a Value always serialises"),
        Answer::Serialized(bytes) => bytes,
    };
    let mut resp = Response::new(Full::new(Bytes::from(bytes)).boxed_unsync());
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}

async fn answer(shared: &Arc<Shared>, req: Request<Incoming>) -> Result<Answer, EcrError> {
    let target = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let op = target.strip_prefix(TARGET_PREFIX).unwrap_or("").to_string();
    check_auth(req.headers())?;
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let content_type = content_type.split(';').next().unwrap_or("").trim();
    if content_type != CONTENT_TYPE && content_type != "application/json" {
        return Err(EcrError::serialization(format!(
            "the content type {content_type:?} is not supported; send {CONTENT_TYPE}"
        )));
    }
    let body = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| EcrError::serialization(format!("reading the request body failed: {e}")))?
        .to_bytes();
    if let Some(latency) = shared.faults.latency() {
        tokio::time::sleep(latency).await;
    }
    if shared.faults.ecr_throttle() {
        shared.ecr.count_throttled();
        return Err(EcrError::throttling());
    }
    let input: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&body).map_err(|e| EcrError::serialization(format!("the body is not JSON: {e}")))?
    };
    let Value::Object(input) = input else {
        return Err(EcrError::serialization("the body must be a JSON object"));
    };
    call(&shared.ecr, &op, &input)
}

/// Checks that a SigV4 `Authorization` header is present and scoped to ECR (without verifying the
/// signature), answering the errors AWS answers for a missing or malformed one.
pub fn check_auth(headers: &HeaderMap) -> Result<(), EcrError> {
    let Some(auth) = headers.get(header::AUTHORIZATION) else {
        return Err(EcrError::new("MissingAuthenticationTokenException", "Missing Authentication Token"));
    };
    let auth = auth.to_str().unwrap_or("");
    let Some(params) = auth.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return Err(EcrError::new(
            "IncompleteSignatureException",
            "Authorization header must use the AWS4-HMAC-SHA256 (Signature Version 4) scheme",
        ));
    };
    let mut credential = None;
    let mut missing = vec!["Credential", "SignedHeaders", "Signature"];
    for p in params.split(',') {
        if let Some((k, v)) = p.trim().split_once('=') {
            missing.retain(|m| *m != k);
            if k == "Credential" {
                credential = Some(v);
            }
        }
    }
    if !missing.is_empty() {
        let text: Vec<String> =
            missing.iter().map(|m| format!("Authorization header requires '{m}' parameter.")).collect();
        return Err(EcrError::new("IncompleteSignatureException", format!("{} Authorization={auth}", text.join(" "))));
    }
    let scope: Vec<&str> = credential.unwrap_or("").split('/').collect();
    if scope.len() != 5 || scope[4] != "aws4_request" {
        return Err(EcrError::new(
            "IncompleteSignatureException",
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term",
        ));
    }
    if scope[3] != "ecr" {
        return Err(EcrError::new(
            "InvalidSignatureException",
            format!("Credential should be scoped to correct service: 'ecr'. (the scope says '{}')", scope[3]),
        ));
    }
    Ok(())
}

type Input = Map<String, Value>;

fn wrong_type(key: &str, want: &str) -> EcrError {
    EcrError::serialization(format!("the member {key} must be {want}"))
}

fn opt_str<'a>(input: &'a Input, key: &str) -> Result<Option<&'a str>, EcrError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(wrong_type(key, "a string")),
    }
}

fn req_str<'a>(input: &'a Input, key: &str) -> Result<&'a str, EcrError> {
    opt_str(input, key)?.ok_or_else(|| EcrError::invalid_parameter(key, "Member must not be null"))
}

fn opt_bool(input: &Input, key: &str) -> Result<bool, EcrError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(wrong_type(key, "a boolean")),
    }
}

/// `maxResults` within `1..=max`, or `default`.
fn page_size(input: &Input, max: usize, default: usize) -> Result<usize, EcrError> {
    match input.get("maxResults") {
        None | Some(Value::Null) => Ok(default),
        Some(v) => {
            let n = v.as_i64().ok_or_else(|| wrong_type("maxResults", "an integer"))?;
            if n < 1 {
                return Err(EcrError::invalid_parameter(
                    "maxResults",
                    "Member must have value greater than or equal to 1",
                ));
            }
            if n > max as i64 {
                return Err(EcrError::invalid_parameter(
                    "maxResults",
                    format!("Member must have value less than or equal to {max}"),
                ));
            }
            Ok(n as usize)
        }
    }
}

fn str_list(input: &Input, key: &str) -> Result<Option<Vec<String>>, EcrError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string).ok_or_else(|| wrong_type(key, "a list of strings")))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(wrong_type(key, "a list of strings")),
    }
}

fn image_ids(input: &Input) -> Result<Option<Vec<ImageQuery>>, EcrError> {
    match input.get("imageIds") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                let obj = i.as_object().ok_or_else(|| wrong_type("imageIds", "a list of image identifiers"))?;
                Ok(ImageQuery {
                    digest: opt_str(obj, "imageDigest")?.map(str::to_string),
                    tag: opt_str(obj, "imageTag")?.map(str::to_string),
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(wrong_type("imageIds", "a list of image identifiers")),
    }
}

/// `filter.tagStatus` and `filter.imageStatus`.
fn filter(input: &Input) -> Result<(TagFilter, StatusFilter), EcrError> {
    let Some(f) = input.get("filter").filter(|v| !v.is_null()) else {
        return Ok((TagFilter::Any, StatusFilter::Active));
    };
    let f = f.as_object().ok_or_else(|| wrong_type("filter", "an object"))?;
    let tags = opt_str(f, "tagStatus")?.map(TagFilter::parse).transpose()?.unwrap_or_default();
    let status = opt_str(f, "imageStatus")?.map(StatusFilter::parse).transpose()?.unwrap_or_default();
    Ok((tags, status))
}

fn mutability(input: &Input) -> Result<(Option<TagMutability>, Vec<String>), EcrError> {
    let m = opt_str(input, "imageTagMutability")?
        .map(|s| {
            TagMutability::parse(s).ok_or_else(|| {
                EcrError::invalid_parameter(
                    "imageTagMutability",
                    format!("Member must satisfy enum value set: [{}] (got {s:?})", TagMutability::ALL.join(", ")),
                )
            })
        })
        .transpose()?;
    let filters = match input.get("imageTagMutabilityExclusionFilters") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                let o = i
                    .as_object()
                    .ok_or_else(|| wrong_type("imageTagMutabilityExclusionFilters", "a list of filters"))?;
                match opt_str(o, "filterType")? {
                    Some("WILDCARD") | None => {}
                    Some(other) => {
                        return Err(EcrError::invalid_parameter(
                            "imageTagMutabilityExclusionFilters.filterType",
                            format!("Member must satisfy enum value set: [WILDCARD] (got {other:?})"),
                        ));
                    }
                }
                Ok(req_str(o, "filter")?.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(wrong_type("imageTagMutabilityExclusionFilters", "a list of filters")),
    };
    Ok((m, filters))
}

fn failures_json(failures: &[Failure]) -> Value {
    json!(
        failures
            .iter()
            .map(|f| {
                let mut id = Map::new();
                if let Some(d) = &f.id.digest {
                    id.insert("imageDigest".into(), json!(d));
                }
                if let Some(t) = &f.id.tag {
                    id.insert("imageTag".into(), json!(t));
                }
                json!({"imageId": id, "failureCode": f.code, "failureReason": f.reason})
            })
            .collect::<Vec<_>>()
    )
}

fn with_token(mut v: Value, token: Option<String>) -> Value {
    if let Some(t) = token {
        v["nextToken"] = json!(t);
    }
    v
}

/// What an operation answers: a JSON value, or for DescribeImages, whose pages carry up to 1,000
/// images, the JSON text written straight from the images.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A value, serialised on the way out.
    Json(Value),
    /// JSON text.
    Serialized(Vec<u8>),
}

/// `DescribeImages`' answer.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DescribeImagesAnswer<'a> {
    image_details: Vec<ImageDetail<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// Performs one operation on the registry.
pub fn call(ecr: &Ecr, op: &str, input: &Input) -> Result<Answer, EcrError> {
    let account = ecr.account().to_string();
    let region = ecr.region().to_string();
    let host = ecr.registry_host().to_string();
    let now = ecr.now();
    // A repository in another registry is not in this one.
    if let Some(other) = opt_str(input, "registryId")?.filter(|r| *r != account) {
        let name = opt_str(input, "repositoryName")?.unwrap_or("");
        return Err(EcrError::repository_not_found(name, other));
    }
    let mut reg = ecr.registry();
    let repo_name = || req_str(input, "repositoryName");
    let value = match op {
        "CreateRepository" => {
            let (m, filters) = mutability(input)?;
            let repo = reg.create_repository(repo_name()?, m.unwrap_or(TagMutability::Mutable), filters, now)?;
            Ok(json!({"repository": repo.to_json(&account, &region, &host)}))
        }
        "DescribeRepositories" => {
            let names = str_list(input, "repositoryNames")?;
            let token = opt_str(input, "nextToken")?;
            if let Some(names) = &names {
                if token.is_some() || input.get("maxResults").is_some_and(|v| !v.is_null()) {
                    return Err(EcrError::invalid_parameter(
                        "repositoryNames",
                        "nextToken and maxResults cannot be used with repositoryNames",
                    ));
                }
                if names.is_empty() || names.len() > 100 {
                    return Err(EcrError::invalid_parameter(
                        "repositoryNames",
                        "Member must have length between 1 and 100",
                    ));
                }
            }
            let max = page_size(input, 1000, 100)?;
            let page = reg.describe_repositories(names.as_deref(), token, max)?;
            let repos: Vec<Value> = page.items.iter().map(|r| r.to_json(&account, &region, &host)).collect();
            Ok(with_token(json!({"repositories": repos}), page.next_token))
        }
        "DeleteRepository" => {
            let repo = reg.delete_repository(repo_name()?, opt_bool(input, "force")?)?;
            Ok(json!({"repository": repo.to_json(&account, &region, &host)}))
        }
        "PutImage" => {
            let name = repo_name()?;
            let put = PutImage {
                manifest: req_str(input, "imageManifest")?.to_string(),
                media_type: opt_str(input, "imageManifestMediaType")?.map(str::to_string),
                tag: opt_str(input, "imageTag")?.map(str::to_string),
                digest: opt_str(input, "imageDigest")?.map(str::to_string),
            };
            let tag = put.tag.clone();
            let image = reg.put_image(name, put, now)?;
            Ok(json!({"image": {
                "registryId": account,
                "repositoryName": name,
                "imageId": image_id(&image.digest, tag.as_deref()),
                "imageManifest": image.manifest,
                "imageManifestMediaType": image.manifest_media_type,
            }}))
        }
        "BatchGetImage" => {
            let name = repo_name()?;
            let ids =
                image_ids(input)?.ok_or_else(|| EcrError::invalid_parameter("imageIds", "Member must not be null"))?;
            let (images, failures) = reg.batch_get_image(name, &ids, now)?;
            let images: Vec<Value> = images
                .into_iter()
                .map(|i| {
                    json!({
                        "registryId": account,
                        "repositoryName": name,
                        "imageId": image_id(&i.digest, i.tag.as_deref()),
                        "imageManifest": i.manifest,
                        "imageManifestMediaType": i.media_type,
                    })
                })
                .collect();
            Ok(json!({"images": images, "failures": failures_json(&failures)}))
        }
        "DescribeImages" => {
            let name = repo_name()?;
            let ids = image_ids(input)?;
            let token = opt_str(input, "nextToken")?;
            if ids.is_some() && (token.is_some() || input.get("maxResults").is_some_and(|v| !v.is_null())) {
                return Err(EcrError::invalid_parameter(
                    "imageIds",
                    "nextToken and maxResults cannot be used with imageIds",
                ));
            }
            let max = page_size(input, 1000, 100)?;
            let (tags, status) = filter(input)?;
            let page = reg.describe_images(name, ids.as_deref(), tags, status, token, max)?;
            let answer = DescribeImagesAnswer {
                image_details: page.items.iter().map(|i| i.detail(&account, name)).collect(),
                next_token: page.next_token,
            };
            return Ok(Answer::Serialized(serde_json::to_vec(&answer).expect("image details always serialise")));
        }
        "ListImages" => {
            let name = repo_name()?;
            let max = page_size(input, 1000, 100)?;
            let (tags, _) = filter(input)?;
            let page = reg.list_images(name, tags, opt_str(input, "nextToken")?, max)?;
            let ids: Vec<Value> = page.items.iter().map(|(d, t)| image_id(d, t.as_deref())).collect();
            Ok(with_token(json!({"imageIds": ids}), page.next_token))
        }
        "BatchDeleteImage" => {
            let name = repo_name()?;
            let ids =
                image_ids(input)?.ok_or_else(|| EcrError::invalid_parameter("imageIds", "Member must not be null"))?;
            let (deleted, failures) = reg.batch_delete_image(name, &ids)?;
            let deleted: Vec<Value> = deleted.iter().map(|(d, t)| image_id(d, t.as_deref())).collect();
            Ok(json!({"imageIds": deleted, "failures": failures_json(&failures)}))
        }
        "PutImageTagMutability" => {
            let name = repo_name()?;
            let (m, filters) = mutability(input)?;
            let m = m.ok_or_else(|| EcrError::invalid_parameter("imageTagMutability", "Member must not be null"))?;
            let repo = reg.put_tag_mutability(name, m, filters)?;
            let mut out = json!({"registryId": account, "repositoryName": name, "imageTagMutability": m.as_str()});
            if matches!(m, TagMutability::MutableWithExclusion | TagMutability::ImmutableWithExclusion) {
                out["imageTagMutabilityExclusionFilters"] = repo.exclusion_filters_json();
            }
            Ok(out)
        }
        "PutLifecyclePolicy" => {
            let name = repo_name()?;
            let text = req_str(input, "lifecyclePolicyText")?;
            reg.put_lifecycle_policy(name, text)?;
            Ok(json!({"registryId": account, "repositoryName": name, "lifecyclePolicyText": text}))
        }
        "GetLifecyclePolicy" | "DeleteLifecyclePolicy" => {
            let name = repo_name()?;
            let policy = if op == "GetLifecyclePolicy" {
                reg.lifecycle_policy(name)?.clone()
            } else {
                reg.delete_lifecycle_policy(name)?
            };
            let mut out = json!({"registryId": account, "repositoryName": name, "lifecyclePolicyText": policy.text});
            if let Some(t) = policy.last_evaluated_at {
                out["lastEvaluatedAt"] = epoch(t);
            }
            Ok(out)
        }
        "StartLifecyclePolicyPreview" => {
            let name = repo_name()?;
            let preview = reg.start_preview(name, opt_str(input, "lifecyclePolicyText")?, now)?;
            Ok(json!({
                "registryId": account,
                "repositoryName": name,
                "lifecyclePolicyText": preview.text,
                "status": "IN_PROGRESS",
            }))
        }
        "GetLifecyclePolicyPreview" => {
            let name = repo_name()?;
            let ids = image_ids(input)?;
            let token = opt_str(input, "nextToken")?;
            let max = page_size(input, 100, 100)?;
            let (tags, _) = filter(input)?;
            let preview = reg.preview(name)?;
            let results = preview.results.iter().enumerate().filter(|(_, r)| {
                tags.admits(&r.tags)
                    && ids.as_ref().is_none_or(|ids| {
                        ids.iter().any(|q| {
                            q.digest.as_ref().is_none_or(|d| *d == r.digest)
                                && q.tag.as_ref().is_none_or(|t| r.tags.contains(t))
                        })
                    })
            });
            let expiring = preview.results.iter().filter(|r| r.action == ActionType::Expire).count();
            let transitioning = preview.results.iter().filter(|r| r.action == ActionType::Transition).count();
            let page =
                super::store::paginate("GetLifecyclePolicyPreview", results.map(|(i, r)| (i as u64, r)), token, max)?;
            let mut summary = json!({"expiringImageTotalCount": expiring});
            if transitioning > 0 {
                summary["transitioningImageTotalCounts"] =
                    json!([{"targetStorageClass": "ARCHIVE", "imageTotalCount": transitioning}]);
            }
            Ok(with_token(
                json!({
                    "registryId": account,
                    "repositoryName": name,
                    "lifecyclePolicyText": preview.text,
                    "status": "COMPLETE",
                    "previewResults": page.items.iter().map(|r| r.to_json()).collect::<Vec<Value>>(),
                    "summary": summary,
                }),
                page.next_token,
            ))
        }
        _ => Err(EcrError::unknown_operation(&format!("{TARGET_PREFIX}{op}"))),
    };
    value.map(Answer::Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(a) = auth {
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(a).unwrap());
        }
        h
    }

    #[test]
    fn sigv4_headers_are_required_and_scoped_to_ecr() {
        let good = "AWS4-HMAC-SHA256 Credential=sandbox/20260101/ap-southeast-2/ecr/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
        check_auth(&headers(Some(good))).unwrap();
        assert_eq!(check_auth(&headers(None)).unwrap_err().code, "MissingAuthenticationTokenException");
        assert_eq!(check_auth(&headers(Some("Bearer x"))).unwrap_err().code, "IncompleteSignatureException");
        let no_sig = "AWS4-HMAC-SHA256 Credential=sandbox/20260101/ap-southeast-2/ecr/aws4_request, SignedHeaders=host";
        assert!(check_auth(&headers(Some(no_sig))).unwrap_err().message.contains("'Signature'"));
        let s3 = good.replace("/ecr/", "/s3/");
        assert_eq!(check_auth(&headers(Some(&s3))).unwrap_err().code, "InvalidSignatureException");
    }

    #[test]
    fn only_posts_to_the_root_with_an_ecr_target_are_ecr_calls() {
        let req = |m: Method, path: &str, target: Option<&str>| {
            let mut b = Request::builder().method(m).uri(path);
            if let Some(t) = target {
                b = b.header("x-amz-target", t);
            }
            b.body(()).unwrap()
        };
        let t = "AmazonEC2ContainerRegistry_V20150921.DescribeImages";
        assert!(is_ecr_request(&req(Method::POST, "/", Some(t))));
        assert!(!is_ecr_request(&req(Method::GET, "/", Some(t))));
        assert!(!is_ecr_request(&req(Method::POST, "/api/v1/pods", Some(t))));
        assert!(!is_ecr_request(&req(Method::POST, "/", Some("DynamoDB_20120810.GetItem"))));
        assert!(!is_ecr_request(&req(Method::POST, "/", None)));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn authorization_parsing_never_panics(tail in "[ -~]{0,120}") {
            let _ = check_auth(&headers(Some(&format!("AWS4-HMAC-SHA256 {tail}"))));
            let _ = check_auth(&headers(Some(&tail)));
        }
    }

    #[test]
    fn page_sizes_outside_the_allowed_range_name_the_bound() {
        let input = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(page_size(&input(json!({})), 1000, 100).unwrap(), 100);
        assert_eq!(page_size(&input(json!({"maxResults": 1000})), 1000, 100).unwrap(), 1000);
        assert!(
            page_size(&input(json!({"maxResults": 1001})), 1000, 100)
                .unwrap_err()
                .message
                .contains("less than or equal to 1000")
        );
        assert!(
            page_size(&input(json!({"maxResults": 0})), 1000, 100)
                .unwrap_err()
                .message
                .contains("greater than or equal to 1")
        );
        assert_eq!(
            page_size(&input(json!({"maxResults": "5"})), 1000, 100).unwrap_err().code,
            "SerializationException"
        );
    }
}
