//! The sandbox ECR through the clients that use it: aws-sdk-ecr (rollout's own client), the aws CLI,
//! the simulated kubelet's pulls, and the admin API.

use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_ecr::Client;
use aws_sdk_ecr::client::Waiters;
use aws_sdk_ecr::config::{Credentials, Region};
use aws_sdk_ecr::error::ProvideErrorMetadata;
use aws_sdk_ecr::types::{
    DescribeImagesFilter, ImageActionType, ImageIdentifier, ImageTagMutability, LifecyclePolicyPreviewStatus,
    ListImagesFilter, TagStatus,
};
use aws_smithy_http_client::tls;
use jiff::{SignedDuration, Timestamp};
use rollout_sandbox::{FaultConfig, ImageBehaviour, Kind, PushOptions, Sandbox};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The seed's lifecycle policy, with its rules in reverse priority order (ECR stores them sorted).
const SEED_POLICY: &str = r#"{"rules":[
  {"rulePriority":2,"description":"Keep 2 untagged images","selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":2},"action":{"type":"expire"}},
  {"rulePriority":1,"description":"Keep the 5 newest latest images","selection":{"tagStatus":"tagged","tagPrefixList":["latest"],"countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}
]}"#;

async fn sandbox() -> Sandbox {
    Sandbox::builder().time_scale(0.01).seed(11).start().await.expect("the sandbox starts")
}

async fn client_with(sb: &Sandbox, retry: RetryConfig) -> Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .build_https();
    let conf = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(sb.ecr().region().to_string()))
        .credentials_provider(Credentials::new("sandbox", "sandbox", None, None, "sandbox"))
        .endpoint_url(sb.ecr_endpoint())
        .http_client(http)
        .retry_config(retry)
        .load()
        .await;
    Client::new(&conf)
}

async fn client(sb: &Sandbox) -> Client {
    client_with(sb, RetryConfig::standard().with_max_attempts(1)).await
}

/// A Docker schema 2 manifest unique to `n`, whose layers total `size` bytes.
fn manifest(n: u32, size: u64) -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":7023,"digest":"sha256:{n:064x}"}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":{size},"digest":"sha256:{:064x}"}}]}}"#,
        n + 1_000_000
    )
}

fn sha256_digest(text: &str) -> String {
    rollout_sandbox::ecr::store::digest_of(text)
}

fn tag_id(tag: &str) -> ImageIdentifier {
    ImageIdentifier::builder().image_tag(tag).build()
}

fn digest_id(digest: &str) -> ImageIdentifier {
    ImageIdentifier::builder().image_digest(digest).build()
}

/// A plain HTTP/1.1 exchange with the sandbox: the status and the JSON body.
async fn http(sb: &Sandbox, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    let mut stream = tokio::net::TcpStream::connect(sb.addr()).await.unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        sb.addr(),
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8(buf).unwrap();
    let status: u16 = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

async fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(t) = check() {
            return t;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repositories_are_created_paged_and_deleted_with_ecr_errors() {
    let sb = sandbox().await;
    let ecr = client(&sb).await;
    for name in ["alpha", "beta", "team/gamma", "delta", "epsilon"] {
        let out = ecr.create_repository().repository_name(name).send().await.unwrap();
        let repo = out.repository().unwrap();
        assert_eq!(repo.registry_id(), Some("123456789012"));
        assert_eq!(repo.repository_uri(), Some(format!("{}/{name}", sb.registry_host()).as_str()));
        assert_eq!(repo.image_tag_mutability(), Some(&ImageTagMutability::Mutable));
    }
    let e = ecr.create_repository().repository_name("alpha").send().await.unwrap_err().into_service_error();
    assert!(e.is_repository_already_exists_exception(), "{e:?}");
    assert_eq!(
        e.message(),
        Some("The repository with name 'alpha' already exists in the registry with id '123456789012'")
    );
    let e = ecr.create_repository().repository_name("Bad_Name").send().await.unwrap_err().into_service_error();
    assert!(e.is_invalid_parameter_exception(), "{e:?}");
    assert!(e.message().unwrap().contains("'repositoryName'"), "{e:?}");
    let immutable = ecr
        .create_repository()
        .repository_name("locked")
        .image_tag_mutability(ImageTagMutability::Immutable)
        .send()
        .await
        .unwrap();
    assert_eq!(immutable.repository().unwrap().image_tag_mutability(), Some(&ImageTagMutability::Immutable));

    let pages: Vec<_> = ecr.describe_repositories().max_results(2).into_paginator().send().try_collect().await.unwrap();
    assert_eq!(pages.iter().map(|p| p.repositories().len()).collect::<Vec<_>>(), [2, 2, 2]);
    let mut names: Vec<&str> =
        pages.iter().flat_map(|p| p.repositories()).filter_map(|r| r.repository_name()).collect();
    names.sort_unstable();
    assert_eq!(names, ["alpha", "beta", "delta", "epsilon", "locked", "team/gamma"]);
    let e = ecr
        .describe_repositories()
        .repository_names("alpha")
        .repository_names("missing")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_repository_not_found_exception(), "{e:?}");

    sb.ecr().push_image("alpha", &["v1"], PushOptions::default()).unwrap();
    let e = ecr.delete_repository().repository_name("alpha").send().await.unwrap_err().into_service_error();
    assert!(e.is_repository_not_empty_exception(), "{e:?}");
    ecr.delete_repository().repository_name("alpha").force(true).send().await.unwrap();
    ecr.delete_repository().repository_name("beta").send().await.unwrap();
    let e = ecr.delete_repository().repository_name("beta").send().await.unwrap_err().into_service_error();
    assert!(e.is_repository_not_found_exception(), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_five_hundred_images_page_through_describe_and_list_images() {
    let sb = sandbox().await;
    let ecr = client(&sb).await;
    sb.ecr().create_repository("big").unwrap();
    for i in 0..2_500 {
        // Every tenth push is untagged.
        let tag = format!("build-{i}");
        let tags: &[&str] = if i % 10 == 0 { &[] } else { &[tag.as_str()] };
        sb.ecr().push_image("big", tags, PushOptions::default()).unwrap();
    }

    let pages: Vec<_> = ecr
        .describe_images()
        .repository_name("big")
        .max_results(1000)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.iter().map(|p| p.image_details().len()).collect::<Vec<_>>(), [1000, 1000, 500]);
    let mut digests: Vec<&str> =
        pages.iter().flat_map(|p| p.image_details()).filter_map(|d| d.image_digest()).collect();
    digests.sort_unstable();
    digests.dedup();
    assert_eq!(digests.len(), 2_500);

    let default_pages: Vec<_> =
        ecr.describe_images().repository_name("big").into_paginator().send().try_collect().await.unwrap();
    assert_eq!(default_pages.len(), 25);
    assert!(default_pages.iter().all(|p| p.image_details().len() == 100));
    assert!(default_pages.last().unwrap().next_token().is_none());

    let tagged: Vec<_> = ecr
        .describe_images()
        .repository_name("big")
        .max_results(1000)
        .filter(DescribeImagesFilter::builder().tag_status(TagStatus::Tagged).build())
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(tagged.len(), 2_250);
    assert!(tagged.iter().all(|d| !d.image_tags().is_empty()));
    let untagged: Vec<_> = ecr
        .describe_images()
        .repository_name("big")
        .filter(DescribeImagesFilter::builder().tag_status(TagStatus::Untagged).build())
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(untagged.len(), 250);
    assert!(untagged.iter().all(|d| d.image_tags().is_empty()));

    let list_pages: Vec<_> =
        ecr.list_images().repository_name("big").max_results(1000).into_paginator().send().try_collect().await.unwrap();
    assert_eq!(list_pages.iter().map(|p| p.image_ids().len()).collect::<Vec<_>>(), [1000, 1000, 500]);
    let listed: Vec<_> = ecr
        .list_images()
        .repository_name("big")
        .filter(ListImagesFilter::builder().tag_status(TagStatus::Tagged).build())
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 2_250);
    assert!(listed.iter().all(|id| id.image_tag().is_some_and(|t| t.starts_with("build-"))));

    let e = ecr.describe_images().repository_name("big").max_results(1001).send().await.unwrap_err();
    let e = e.into_service_error();
    assert!(e.is_invalid_parameter_exception(), "{e:?}");
    assert!(e.message().unwrap().contains("less than or equal to 1000"), "{e:?}");
    let e = ecr.describe_images().repository_name("big").next_token("garbage").send().await.unwrap_err();
    assert!(e.into_service_error().is_invalid_parameter_exception());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_image_moves_tags_leaving_untagged_images_and_reports_details() {
    let sb = sandbox().await;
    let ecr = client(&sb).await;
    sb.ecr().create_repository("app").unwrap();
    let (m1, m2) = (manifest(1, 1_000), manifest(2, 2_000));
    let put = |m: &str, tag: &str| ecr.put_image().repository_name("app").image_manifest(m).image_tag(tag).send();
    let first = put(&m1, "latest").await.unwrap();
    let d1 = first.image().unwrap().image_id().unwrap().image_digest().unwrap().to_string();
    assert_eq!(d1, sha256_digest(&m1));
    put(&m2, "latest").await.unwrap();
    // The same manifest under a new tag adds the tag; the same tag and manifest again is refused.
    put(&m2, "1.0.0").await.unwrap();
    let e = put(&m2, "1.0.0").await.unwrap_err().into_service_error();
    assert!(e.is_image_already_exists_exception(), "{e:?}");

    let details = ecr.describe_images().repository_name("app").send().await.unwrap();
    let details = details.image_details();
    assert_eq!(details.len(), 2);
    let old = details.iter().find(|d| d.image_digest() == Some(d1.as_str())).unwrap();
    assert!(old.image_tags().is_empty(), "the old image stays, untagged: {old:?}");
    assert_eq!(old.image_size_in_bytes(), Some(1_000));
    let new = details.iter().find(|d| d.image_digest() != Some(d1.as_str())).unwrap();
    assert_eq!(new.image_tags(), ["latest", "1.0.0"]);
    assert_eq!(new.image_size_in_bytes(), Some(2_000));
    assert_eq!(new.image_manifest_media_type(), Some("application/vnd.docker.distribution.manifest.v2+json"));
    assert_eq!(new.artifact_media_type(), Some("application/vnd.docker.container.image.v1+json"));
    assert!(new.last_recorded_pull_time().is_none());

    // Push times keep their milliseconds.
    let at: Timestamp = "2026-01-02T03:04:05.678Z".parse().unwrap();
    let digest =
        sb.ecr().push_image("app", &["timed"], PushOptions { pushed_at: Some(at), ..Default::default() }).unwrap();
    let d = ecr.describe_images().repository_name("app").image_ids(tag_id("timed")).send().await.unwrap();
    let d = &d.image_details()[0];
    assert_eq!(d.image_digest(), Some(digest.as_str()));
    // The SDK parses epoch seconds through an f64, which keeps milliseconds but not nanoseconds.
    let pushed = d.image_pushed_at().unwrap();
    let millis = (pushed.as_nanos() as f64 / 1e6).round() as i64;
    assert_eq!(millis, at.as_millisecond());

    let e = ecr.describe_images().repository_name("app").image_ids(tag_id("nope")).send().await.unwrap_err();
    let e = e.into_service_error();
    assert!(e.is_image_not_found_exception(), "{e:?}");
    assert_eq!(
        e.message(),
        Some(
            "The image with imageId {imageDigest:'null', imageTag:'nope'} does not exist within the repository with name 'app' in the registry with id '123456789012'"
        )
    );

    // BatchGetImage is a pull: it answers the manifest and records the pull time.
    let got = ecr
        .batch_get_image()
        .repository_name("app")
        .image_ids(tag_id("1.0.0"))
        .image_ids(tag_id("missing"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.images()[0].image_manifest(), Some(m2.as_str()));
    assert_eq!(got.failures()[0].failure_code().map(|c| c.as_str()), Some("ImageNotFound"));
    let d = ecr.describe_images().repository_name("app").image_ids(tag_id("1.0.0")).send().await.unwrap();
    assert!(d.image_details()[0].last_recorded_pull_time().is_some());

    let e = ecr
        .put_image()
        .repository_name("app")
        .image_manifest(manifest(3, 1))
        .image_digest(&d1)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_image_digest_does_not_match_exception(), "{e:?}");
    let e = ecr.put_image().repository_name("nope").image_manifest(&m1).send().await.unwrap_err();
    assert!(e.into_service_error().is_repository_not_found_exception());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn immutable_repositories_refuse_to_move_a_tag() {
    let sb = sandbox().await;
    let ecr = client(&sb).await;
    sb.ecr().create_repository("app").unwrap();
    let out = ecr
        .put_image_tag_mutability()
        .repository_name("app")
        .image_tag_mutability(ImageTagMutability::Immutable)
        .send()
        .await
        .unwrap();
    assert_eq!(out.image_tag_mutability(), Some(&ImageTagMutability::Immutable));
    let put =
        |m: String, tag: &'static str| ecr.put_image().repository_name("app").image_manifest(m).image_tag(tag).send();
    put(manifest(1, 10), "1.0.0").await.unwrap();
    let e = put(manifest(2, 10), "1.0.0").await.unwrap_err().into_service_error();
    assert!(e.is_image_tag_already_exists_exception(), "{e:?}");
    assert_eq!(
        e.message(),
        Some(
            "The image tag '1.0.0' already exists in the 'app' repository and cannot be overwritten because the tag is immutable."
        )
    );
    // Another tag on the same manifest is a new tag, not a move.
    put(manifest(1, 10), "1.0.0-rc").await.unwrap();
    let images = sb.ecr().images("app").unwrap();
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].tags, ["1.0.0", "1.0.0-rc"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_delete_image_takes_at_most_100_ids_and_reports_failures_per_id() {
    let sb = sandbox().await;
    let ecr = client(&sb).await;
    sb.ecr().create_repository("app").unwrap();
    let two_tags = sb.ecr().push_image("app", &["a", "b"], PushOptions::default()).unwrap();
    let untagged = sb.ecr().push_image("app", &[], PushOptions::default()).unwrap();
    sb.ecr().push_image("app", &["keep"], PushOptions::default()).unwrap();

    let many: Vec<ImageIdentifier> = (0..101).map(|i| tag_id(&format!("t{i}"))).collect();
    let e = ecr.batch_delete_image().repository_name("app").set_image_ids(Some(many)).send().await.unwrap_err();
    let e = e.into_service_error();
    assert_eq!(e.code(), Some("InvalidParameterException"));
    assert!(e.message().unwrap().contains("less than or equal to 100"), "{e:?}");

    let out = ecr
        .batch_delete_image()
        .repository_name("app")
        .image_ids(digest_id(&two_tags))
        .image_ids(digest_id(&untagged))
        .image_ids(tag_id("missing"))
        .image_ids(digest_id("not-a-digest"))
        .image_ids(ImageIdentifier::builder().image_digest(sha256_digest("x")).image_tag("keep").build())
        .send()
        .await
        .unwrap();
    let deleted: Vec<(Option<&str>, Option<&str>)> =
        out.image_ids().iter().map(|i| (i.image_digest(), i.image_tag())).collect();
    assert_eq!(
        deleted,
        [(Some(two_tags.as_str()), Some("a")), (Some(two_tags.as_str()), Some("b")), (Some(untagged.as_str()), None)]
    );
    let failures: Vec<&str> = out.failures().iter().filter_map(|f| f.failure_code()).map(|c| c.as_str()).collect();
    assert_eq!(failures, ["ImageNotFound", "InvalidImageDigest", "ImageNotFound"]);
    let left = sb.ecr().images("app").unwrap();
    assert_eq!(left.iter().map(|i| i.tags.clone()).collect::<Vec<_>>(), [vec!["keep".to_string()]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_policies_are_validated_stored_sorted_by_priority_and_deleted() {
    let sb = sandbox().await;
    let ecr = client(&sb).await;
    sb.ecr().create_repository("app").unwrap();
    let e = ecr.get_lifecycle_policy().repository_name("app").send().await.unwrap_err().into_service_error();
    assert!(e.is_lifecycle_policy_not_found_exception(), "{e:?}");

    let rule = |priority: u32, selection: &str| {
        format!(
            r#"{{"rulePriority":{priority},"description":"a rule with a description","selection":{selection},"action":{{"type":"expire"}}}}"#
        )
    };
    let invalid = [
        (
            format!(
                "{{\"rules\":[{}]}}",
                rule(1, r#"{"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":5}"#)
            ),
            "requires a tagPrefixList or a tagPatternList",
        ),
        (
            format!(
                "{{\"rules\":[{}]}}",
                rule(
                    1,
                    r#"{"tagStatus":"untagged","countType":"imageCountMoreThan","countUnit":"days","countNumber":5}"#
                )
            ),
            "countUnit",
        ),
        (
            format!(
                "{{\"rules\":[{},{}]}}",
                rule(1, r#"{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":5}"#),
                rule(2, r#"{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":5}"#)
            ),
            "highest rulePriority",
        ),
        (
            format!(
                "{{\"rules\":[{},{}]}}",
                rule(3, r#"{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":5}"#),
                rule(
                    3,
                    r#"{"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":5}"#
                )
            ),
            "must be unique",
        ),
        (
            format!(
                "{{\"rules\":[{}]}}",
                rule(
                    1,
                    r#"{"tagStatus":"tagged","tagPatternList":["a*b*c*d*e*f"],"countType":"imageCountMoreThan","countNumber":5}"#
                )
            ),
            "at most 4",
        ),
        ("{\"rules\":[]}".to_string(), "characters long"),
    ];
    for (text, want) in &invalid {
        let e = ecr
            .put_lifecycle_policy()
            .repository_name("app")
            .lifecycle_policy_text(text)
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(e.is_invalid_parameter_exception(), "{text}: {e:?}");
        let msg = e.message().unwrap();
        assert!(msg.starts_with("Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint:"), "{msg}");
        assert!(msg.contains(want), "{text}: {msg} (wanted {want})");
    }
    let e = ecr.get_lifecycle_policy().repository_name("app").send().await.unwrap_err().into_service_error();
    assert!(e.is_lifecycle_policy_not_found_exception(), "an invalid policy changes nothing: {e:?}");

    let put =
        ecr.put_lifecycle_policy().repository_name("app").lifecycle_policy_text(SEED_POLICY).send().await.unwrap();
    assert_eq!(put.lifecycle_policy_text(), Some(SEED_POLICY));
    let got = ecr.get_lifecycle_policy().repository_name("app").send().await.unwrap();
    let stored: Value = serde_json::from_str(got.lifecycle_policy_text().unwrap()).unwrap();
    let priorities: Vec<i64> =
        stored["rules"].as_array().unwrap().iter().map(|r| r["rulePriority"].as_i64().unwrap()).collect();
    assert_eq!(priorities, [1, 2], "ECR stores the rules sorted by priority");
    assert_eq!(stored["rules"][0]["selection"]["tagPrefixList"], json!(["latest"]));
    assert!(got.last_evaluated_at().is_none());

    let deleted = ecr.delete_lifecycle_policy().repository_name("app").send().await.unwrap();
    assert_eq!(deleted.lifecycle_policy_text(), got.lifecycle_policy_text());
    let e = ecr.delete_lifecycle_policy().repository_name("app").send().await.unwrap_err().into_service_error();
    assert!(e.is_lifecycle_policy_not_found_exception(), "{e:?}");
    let e = ecr.get_lifecycle_policy().repository_name("gone").send().await.unwrap_err().into_service_error();
    assert!(e.is_repository_not_found_exception(), "{e:?}");
}

/// A release history: eight releases a day apart, each tagged `latest-release-1.<n>.0`, with an
/// untagged rebuild between releases, and a `dev` image. Answers the digests by name.
fn push_release_history(sb: &Sandbox, repo: &str) -> Vec<(String, String)> {
    sb.ecr().create_repository(repo).unwrap();
    let start = sb.clock().now() - SignedDuration::from_hours(24 * 30);
    let mut out = Vec::new();
    let mut push = |name: String, tags: &[&str], day: i64| {
        let at = start + SignedDuration::from_hours(24 * day);
        let d = sb.ecr().push_image(repo, tags, PushOptions { pushed_at: Some(at), ..Default::default() }).unwrap();
        out.push((name, d));
    };
    for n in 0..8 {
        push(format!("r{n}"), &[&format!("latest-release-1.{n}.0")], 2 * n);
        push(format!("u{n}"), &[], 2 * n + 1);
    }
    push("dev".to_string(), &["dev-3f2a"], 20);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_previews_list_what_the_seed_policy_would_expire() {
    let sb = sandbox().await;
    let ecr = client(&sb).await;
    let digests = push_release_history(&sb, "app");
    let name_of = |d: &str| digests.iter().find(|(_, x)| x == d).map(|(n, _)| n.clone()).unwrap();

    let e = ecr.start_lifecycle_policy_preview().repository_name("app").send().await.unwrap_err();
    assert!(e.into_service_error().is_lifecycle_policy_not_found_exception());
    let e = ecr.get_lifecycle_policy_preview().repository_name("app").send().await.unwrap_err();
    assert!(e.into_service_error().is_lifecycle_policy_preview_not_found_exception());

    ecr.start_lifecycle_policy_preview()
        .repository_name("app")
        .lifecycle_policy_text(SEED_POLICY)
        .send()
        .await
        .unwrap();
    ecr.wait_until_lifecycle_policy_preview_complete()
        .repository_name("app")
        .wait(Duration::from_secs(30))
        .await
        .unwrap();
    let preview = ecr.get_lifecycle_policy_preview().repository_name("app").send().await.unwrap();
    assert_eq!(preview.status(), Some(&LifecyclePolicyPreviewStatus::Complete));
    let results: Vec<(String, i32)> = preview
        .preview_results()
        .iter()
        .map(|r| (name_of(r.image_digest().unwrap()), r.applied_rule_priority().unwrap()))
        .collect();
    let want: Vec<(String, i32)> =
        [("r0", 1), ("r1", 1), ("r2", 1), ("u0", 2), ("u1", 2), ("u2", 2), ("u3", 2), ("u4", 2), ("u5", 2)]
            .iter()
            .map(|(n, p)| (n.to_string(), *p))
            .collect();
    assert_eq!(results, want);
    let first = &preview.preview_results()[0];
    assert_eq!(first.image_tags(), ["latest-release-1.0.0"]);
    assert_eq!(first.action().unwrap().r#type(), Some(&ImageActionType::Expire));
    assert!(first.image_pushed_at().is_some());
    assert_eq!(preview.summary().unwrap().expiring_image_total_count(), Some(9));

    let pages: Vec<_> = ecr
        .get_lifecycle_policy_preview()
        .repository_name("app")
        .max_results(4)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.iter().map(|p| p.preview_results().len()).collect::<Vec<_>>(), [4, 4, 1]);
    let untagged = ecr
        .get_lifecycle_policy_preview()
        .repository_name("app")
        .filter(aws_sdk_ecr::types::LifecyclePolicyPreviewFilter::builder().tag_status(TagStatus::Untagged).build())
        .send()
        .await
        .unwrap();
    assert_eq!(untagged.preview_results().len(), 6);

    // A preview changes nothing.
    assert_eq!(sb.ecr().images("app").unwrap().len(), 17);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_the_lifecycle_expires_what_the_preview_showed() {
    let sb = sandbox().await;
    let ecr = client(&sb).await;
    let digests = push_release_history(&sb, "app");
    ecr.put_lifecycle_policy().repository_name("app").lifecycle_policy_text(SEED_POLICY).send().await.unwrap();
    ecr.start_lifecycle_policy_preview().repository_name("app").send().await.unwrap();
    let preview = ecr.get_lifecycle_policy_preview().repository_name("app").send().await.unwrap();
    let previewed: Vec<&str> = preview.preview_results().iter().filter_map(|r| r.image_digest()).collect();

    let expired = sb.ecr().run_lifecycle("app").unwrap();
    assert_eq!(expired.iter().map(|r| r.digest.as_str()).collect::<Vec<_>>(), previewed);
    let left: Vec<String> = ecr
        .describe_images()
        .repository_name("app")
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap()
        .iter()
        .map(|d| digests.iter().find(|(_, x)| Some(x.as_str()) == d.image_digest()).unwrap().0.clone())
        .collect();
    assert_eq!(left, ["r3", "r4", "r5", "r6", "u6", "r7", "u7", "dev"]);
    let got = ecr.get_lifecycle_policy().repository_name("app").send().await.unwrap();
    assert!(got.last_evaluated_at().is_some());
    // Nothing is left to expire.
    assert!(sb.ecr().run_lifecycle("app").unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_calls_are_retried_by_the_sdk() {
    let sb = sandbox().await;
    sb.ecr().create_repository("app").unwrap();
    sb.faults().set(FaultConfig { ecr_throttle_probability: 1.0, ..Default::default() }).unwrap();
    let once = client(&sb).await;
    let e = once.describe_images().repository_name("app").send().await.unwrap_err().into_service_error();
    assert_eq!(e.code(), Some("ThrottlingException"));

    sb.faults().set(FaultConfig { ecr_throttle_probability: 0.4, latency_ms: 1, ..Default::default() }).unwrap();
    let patient =
        client_with(&sb, RetryConfig::standard().with_max_attempts(12).with_initial_backoff(Duration::from_millis(1)))
            .await;
    for i in 0..30 {
        patient
            .put_image()
            .repository_name("app")
            .image_manifest(manifest(i, 100))
            .image_tag(format!("t{i}"))
            .send()
            .await
            .unwrap();
    }
    assert!(sb.ecr().throttled_calls() > 1, "some calls were throttled: {}", sb.ecr().throttled_calls());
    let all: Vec<_> =
        patient.list_images().repository_name("app").into_paginator().items().send().try_collect().await.unwrap();
    assert_eq!(all.len(), 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecr_calls_need_a_sigv4_header_scoped_to_ecr() {
    let sb = sandbox().await;
    let target = ("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories");
    let ct = ("Content-Type", "application/x-amz-json-1.1");
    let (status, body) = http(&sb, "POST", "/", &[target, ct], "{}").await;
    assert_eq!((status, body["__type"].as_str()), (400, Some("MissingAuthenticationTokenException")));
    let s3 = (
        "Authorization",
        "AWS4-HMAC-SHA256 Credential=k/20260101/ap-southeast-2/s3/aws4_request, SignedHeaders=host, Signature=0",
    );
    let (status, body) = http(&sb, "POST", "/", &[target, ct, s3], "{}").await;
    assert_eq!((status, body["__type"].as_str()), (400, Some("InvalidSignatureException")));
    let ecr = (
        "Authorization",
        "AWS4-HMAC-SHA256 Credential=k/20260101/ap-southeast-2/ecr/aws4_request, SignedHeaders=host, Signature=0",
    );
    let (status, body) = http(&sb, "POST", "/", &[target, ct, ecr], "{}").await;
    assert_eq!((status, body), (200, json!({"repositories": []})));
    let unknown = ("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.GetDownloadUrlForLayer");
    let (status, body) = http(&sb, "POST", "/", &[unknown, ct, ecr], "{}").await;
    assert_eq!((status, body["__type"].as_str()), (400, Some("UnknownOperationException")));
}

fn deployment(name: &str, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "progressDeadlineSeconds": 600,
            "revisionHistoryLimit": 10,
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image, "imagePullPolicy": "IfNotPresent"}]}
            }
        }
    })
}

/// Creates a Deployment once the controllers run: they subscribe to the store's change feed when
/// their task first runs, so an object stored in the same instant as `start()` returns could be
/// missed; one request through the server gives them that chance.
async fn create_deployment(sb: &Sandbox, name: &str, image: &str) {
    let (status, _) = http(sb, "GET", "/version", &[], "").await;
    assert_eq!(status, 200);
    sb.store().create(Kind::Deployment, "default", deployment(name, image), false).unwrap();
}

/// The state of the first container of the pod labelled `app=<app>`, once there is one.
fn container_state(sb: &Sandbox, app: &str) -> Option<Value> {
    let pods = sb.store().list(Kind::Pod, Some("default"), &|_| true, None, None).ok()?;
    let pod = pods.items.iter().find(|p| p["metadata"]["labels"]["app"] == app)?;
    pod["status"]["containerStatuses"].get(0).cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubelet_pulls_only_images_pushed_to_the_sandbox_registry() {
    let sb = sandbox().await;
    let ecr = client(&sb).await;
    let host = sb.registry_host();
    assert_eq!(host, "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com");
    sb.ecr().create_repository("app").unwrap();
    let digest = sb.ecr().push_image("app", &["1.0.0"], PushOptions::default()).unwrap();

    sb.store().create(Kind::Deployment, "default", deployment("good", &format!("{host}/app:1.0.0")), false).unwrap();
    sb.store().create(Kind::Deployment, "default", deployment("bad", &format!("{host}/app:9.9.9")), false).unwrap();
    sb.store()
        .create(Kind::Deployment, "default", deployment("elsewhere", "docker.io/library/nginx:1.27"), false)
        .unwrap();

    let good = wait_for("the pushed image to run", || {
        container_state(&sb, "good").filter(|c| c["state"].get("running").is_some())
    })
    .await;
    assert_eq!(good["imageID"], json!(format!("{host}/app@{digest}")));
    let bad = wait_for("the missing tag to fail to pull", || {
        container_state(&sb, "bad")
            .filter(|c| matches!(c["state"]["waiting"]["reason"].as_str(), Some("ErrImagePull" | "ImagePullBackOff")))
    })
    .await;
    let msg = bad["state"]["waiting"]["message"].as_str().unwrap();
    let reference = format!("{host}/app:9.9.9");
    assert!(
        msg.contains(&format!(
            "rpc error: code = NotFound desc = failed to pull and unpack image \"{reference}\": failed to resolve reference \"{reference}\": {reference}: not found"
        )),
        "{msg}"
    );
    wait_for("an image from another registry to run", || {
        container_state(&sb, "elsewhere").filter(|c| c["state"].get("running").is_some())
    })
    .await;

    let d = ecr.describe_images().repository_name("app").image_ids(tag_id("1.0.0")).send().await.unwrap();
    let pulled = d.image_details()[0].last_recorded_pull_time().expect("the pull is recorded");
    let pushed = d.image_details()[0].image_pushed_at().unwrap();
    assert!(pulled.secs() >= pushed.secs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_with_a_behaviour_decide_how_the_containers_run() {
    let sb = sandbox().await;
    sb.ecr().create_repository("app").unwrap();
    let crash = ImageBehaviour::crashing(3, 1.0, &["panic: no config"]);
    sb.ecr().push_image("app", &["bad"], PushOptions { behaviour: Some(crash), ..Default::default() }).unwrap();
    let image = format!("{}/app:bad", sb.registry_host());
    create_deployment(&sb, "crashy", &image).await;
    let c = wait_for("the container to crash", || {
        container_state(&sb, "crashy").filter(|c| c["restartCount"].as_i64().unwrap_or(0) >= 1)
    })
    .await;
    assert_eq!(c["lastState"]["terminated"]["exitCode"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_pushes_images_and_runs_the_lifecycle() {
    let sb = sandbox().await;
    let (status, info) = http(&sb, "GET", "/sandbox/v1/info", &[], "").await;
    assert_eq!(status, 200);
    assert_eq!(info["registry"], json!(sb.registry_host()));
    assert_eq!(info["ecrEndpoint"], json!(sb.ecr_endpoint()));

    let (status, body) = http(&sb, "POST", "/sandbox/v1/ecr/repositories", &[], r#"{"name":"app"}"#).await;
    assert_eq!((status, body["uri"].clone()), (201, json!(format!("{}/app", sb.registry_host()))));
    let (status, body) = http(&sb, "POST", "/sandbox/v1/ecr/repositories", &[], r#"{"name":"app"}"#).await;
    assert_eq!(status, 409, "{body}");
    for (i, day) in [1, 2, 3].iter().enumerate() {
        let push = json!({"repository": "app", "tags": [format!("latest-{i}")], "pushedAt": format!("2026-01-0{day}T00:00:00.250Z"), "sizeBytes": 42});
        let (status, body) = http(&sb, "POST", "/sandbox/v1/ecr/images", &[], &push.to_string()).await;
        assert_eq!(status, 201, "{body}");
        assert!(body["digest"].as_str().unwrap().starts_with("sha256:"));
    }
    let images = sb.ecr().images("app").unwrap();
    assert_eq!(images.iter().map(|i| i.size_bytes).collect::<Vec<_>>(), [42, 42, 42]);
    assert_eq!(images[0].pushed_at, "2026-01-01T00:00:00.250Z".parse::<Timestamp>().unwrap());

    let (status, _) = http(&sb, "POST", "/sandbox/v1/ecr/lifecycle/run?repository=app", &[], "").await;
    assert_eq!(status, 200);
    let policy = r#"{"rules":[{"rulePriority":1,"description":"keep one latest image","selection":{"tagStatus":"tagged","tagPrefixList":["latest"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}"#;
    sb.ecr().registry().put_lifecycle_policy("app", policy).unwrap();
    let (status, body) = http(&sb, "POST", "/sandbox/v1/ecr/lifecycle/run?repository=app", &[], "").await;
    assert_eq!(status, 200);
    let expired: Vec<&str> =
        body["expired"].as_array().unwrap().iter().map(|e| e["imageTags"][0].as_str().unwrap()).collect();
    assert_eq!(expired, ["latest-0", "latest-1"]);
    let (status, body) = http(&sb, "POST", "/sandbox/v1/ecr/lifecycle/run?repository=nope", &[], "").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = http(&sb, "GET", "/sandbox/v1/ecr/images?repository=app", &[], "").await;
    assert_eq!((status, body["images"].as_array().map(Vec::len)), (200, Some(1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_cli_reads_the_sandbox_registry_across_pages() {
    let probe = tokio::process::Command::new("aws").arg("--version").output().await;
    if probe.is_err() {
        assert!(std::env::var_os("CI").is_none(), "the aws CLI is required when CI is set (pip install awscli)");
        eprintln!("skipped: the aws CLI is not installed (pip install awscli)");
        return;
    }
    let sb = sandbox().await;
    sb.ecr().create_repository("app").unwrap();
    let start = sb.clock().now() - SignedDuration::from_hours(24);
    // 150 images, so the CLI fetches two pages of the default 100 and json output merges them.
    for i in 0..150 {
        let at = start + SignedDuration::from_secs(60 * i);
        sb.ecr()
            .push_image("app", &[&format!("v{i}")], PushOptions { pushed_at: Some(at), ..Default::default() })
            .unwrap();
    }
    let out = tokio::process::Command::new("aws")
        .args(["ecr", "describe-images", "--repository-name", "app", "--output", "json"])
        .args(["--query", "sort_by(imageDetails,& imagePushedAt)[-2].imageTags[0]"])
        .args(["--endpoint-url", &sb.ecr_endpoint(), "--region", sb.ecr().region()])
        .env("AWS_ACCESS_KEY_ID", "sandbox")
        .env("AWS_SECRET_ACCESS_KEY", "sandbox")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "aws failed: {}{stdout}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.trim(), "\"v148\"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_account_and_region_are_chosen_by_the_builder() {
    let sb = Sandbox::builder().ecr_account("210987654321").ecr_region("us-west-2").start().await.unwrap();
    assert_eq!(sb.registry_host(), "210987654321.dkr.ecr.us-west-2.amazonaws.com");
    assert_eq!(sb.ecr_endpoint(), sb.url());
    let ecr = client(&sb).await;
    let out = ecr.create_repository().repository_name("app").send().await.unwrap();
    let repo = out.repository().unwrap();
    assert_eq!(repo.registry_id(), Some("210987654321"));
    assert_eq!(repo.repository_arn(), Some("arn:aws:ecr:us-west-2:210987654321:repository/app"));
    let e = Sandbox::builder().ecr_account("12345").start().await.unwrap_err();
    assert!(e.to_string().contains("12-digit"), "{e}");
}
