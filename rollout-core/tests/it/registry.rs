//! `Registry` against moto 5.2.5: listing, existence, previous tags, tag uniqueness and lifecycle policies.
//!
//! moto's ECR differs from ECR in ways these tests work around or pin down (each test names the gap it meets):
//! - `DescribeImages` ignores `maxResults`, `nextToken` and `filter`: every image comes back in one page, and
//!   untagged images come back under a `TAGGED` filter. Paging is therefore not exercised here (the sandbox ECR
//!   pages for real); rollout re-applies the tag filter itself, so its answers are right anyway.
//! - `imagePushedAt` has one-second resolution: the harness gives moto a clock that moves one hour per push.
//! - Digests are hashed from the layer digests only, so every image here gets layers of its own.
//! - Moving a tag away from an image that has no other tag deletes that image (ECR leaves it untagged), so
//!   untagged images are made by pushing without a tag.
//! - `PutImage` to a missing repository answers HTTP 500 instead of `RepositoryNotFoundException`: the tests
//!   create repositories first.
//! - Lifecycle policies are stored verbatim and never applied, and the preview API is missing: rollout previews
//!   locally, which the tests check over moto's live images.
//! - moto validates lifecycle policies only partly: rollout validates first and never sends an invalid one.

use aws_sdk_ecr::types::ImageIdentifier;
use jiff::Timestamp;
use rollout_core::lifecycle::{InUseImage, LifecyclePolicy, MatchedBy, Outcome};
use rollout_core::registry::{PreviousQuery, PutOptions, PutOutcome, TagCheck, TagStatusFilter};
use rollout_core::{Error, ImageRef, RepositoryName};
use sha2::{Digest as _, Sha256};

use crate::moto;
use crate::moto::{ACCOUNT, REGION};

// ---------------------------------------------------------------------------------------------------------
// fixtures

fn name(repository: &str) -> RepositoryName {
    repository.parse().expect("a valid repository name")
}

async fn create(client: &aws_sdk_ecr::Client, repository: &str) -> RepositoryName {
    client.create_repository().repository_name(repository).send().await.expect("create repository");
    name(repository)
}

fn sha256(text: &str) -> String {
    let hash = Sha256::digest(text.as_bytes());
    format!("sha256:{}", hash.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// A Docker schema-2 manifest whose layer is unique to `seed`, so moto gives it a digest of its own.
fn manifest(seed: &str) -> String {
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1469,
            "digest": sha256(&format!("config {seed}")),
        },
        "layers": [{
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "size": 2_811_478,
            "digest": sha256(&format!("layer {seed}")),
        }],
    })
    .to_string()
}

/// Push the image `seed` with `tags` (in that order; none: untagged) and return its digest.
async fn push(client: &aws_sdk_ecr::Client, repository: &str, seed: &str, tags: &[&str]) -> String {
    let body = manifest(&format!("{repository}/{seed}"));
    let mut digest = None;
    let tags: Vec<Option<&str>> = if tags.is_empty() { vec![None] } else { tags.iter().copied().map(Some).collect() };
    for tag in tags {
        let output = client
            .put_image()
            .repository_name(repository)
            .image_manifest(&body)
            .set_image_tag(tag.map(str::to_owned))
            .send()
            .await
            .unwrap_or_else(|e| panic!("push {seed} {tag:?}: {e:?}"));
        digest = output.image().and_then(|i| i.image_id()).and_then(|id| id.image_digest()).map(str::to_owned);
    }
    digest.expect("moto returns the image digest")
}

fn image_ref(repository: &str, tail: &str) -> ImageRef {
    format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{repository}{tail}").parse().expect("a valid image reference")
}

fn release_policy(keep: u32) -> LifecyclePolicy {
    LifecyclePolicy::builder().keep_most_recent_tagged(keep, ["latest"]).keep_most_recent_untagged(2).build().unwrap()
}

// ---------------------------------------------------------------------------------------------------------
// listing

#[tokio::test]
async fn list_images_returns_every_image_in_push_order() {
    let moto = moto!();
    let client = moto.client();
    let repository = create(&client, "it-list/many").await;
    // More than ECR's default page of 100, so a client that sent no maxResults would see a second page in ECR.
    let mut digests = Vec::new();
    for n in 0..120 {
        let tags: &[&str] = if n % 10 == 9 { &[] } else { &[&format!("build-{n}")] };
        digests.push(push(&client, repository.as_str(), &n.to_string(), tags).await);
    }
    let registry = moto.registry().await;

    let all = registry.list_images(&repository, TagStatusFilter::Any).await.unwrap();
    assert_eq!(all.iter().map(|i| i.digest.clone()).collect::<Vec<_>>(), digests);
    assert!(all.windows(2).all(|w| w[0].pushed_at < w[1].pushed_at), "the harness clock orders pushes");
    assert_eq!(all[0].tags, ["build-0"]);
    assert!(all[9].is_untagged());
    assert_eq!(all[0].media_type.as_deref(), Some("application/vnd.docker.distribution.manifest.v2+json"));

    // moto ignores the tagStatus filter of DescribeImages; rollout filters again, so the answer is right.
    let tagged = registry.list_images(&repository, TagStatusFilter::Tagged).await.unwrap();
    let untagged = registry.list_images(&repository, TagStatusFilter::Untagged).await.unwrap();
    assert_eq!((tagged.len(), untagged.len()), (108, 12));
    assert!(tagged.iter().all(|i| !i.is_untagged()) && untagged.iter().all(|i| i.is_untagged()));
}

/// Pins moto's paging gap: if moto starts paging, paging can be tested here too.
#[tokio::test]
async fn moto_ignores_max_results_so_one_page_holds_every_image() {
    let moto = moto!();
    let client = moto.client();
    let repository = create(&client, "it-list/one-page").await;
    for n in 0..7 {
        push(&client, repository.as_str(), &n.to_string(), &[&format!("v{n}")]).await;
    }
    let page = client.describe_images().repository_name(repository.as_str()).max_results(2).send().await.unwrap();
    assert_eq!(page.image_details().len(), 7);
    assert_eq!(page.next_token(), None);
}

#[tokio::test]
async fn listing_a_missing_repository_names_it() {
    let moto = moto!();
    let registry = moto.registry().await;
    let error = registry.list_images(&name("it-list/missing"), TagStatusFilter::Any).await.unwrap_err();
    assert!(
        matches!(&error, Error::RepositoryNotFound { repository, region: Some(region), .. }
            if repository == "it-list/missing" && region == REGION),
        "{error:?}"
    );
}

// ---------------------------------------------------------------------------------------------------------
// image exists

#[tokio::test]
async fn image_exists_by_tag_and_digest_and_not_for_unknown_ones() {
    let moto = moto!();
    let client = moto.client();
    let repository = create(&client, "it-exists/app").await;
    let digest = push(&client, repository.as_str(), "a", &["1.0.0"]).await;
    let registry = moto.registry().await;

    let unknown_digest = sha256("never pushed");
    let cases = [
        (":1.0.0".to_owned(), true),
        (format!("@{digest}"), true),
        (format!(":1.0.0@{digest}"), true),
        (":2.0.0".to_owned(), false),
        (format!("@{unknown_digest}"), false),
        // No tag means Docker's `latest`, which this repository does not have.
        (String::new(), false),
    ];
    for (tail, expected) in cases {
        let image = image_ref(repository.as_str(), &tail);
        assert_eq!(registry.image_exists(&image).await.unwrap(), expected, "{image}");
    }
}

#[tokio::test]
async fn image_exists_reports_a_missing_repository_as_such() {
    let moto = moto!();
    let registry = moto.registry().await;
    let error = registry.image_exists(&image_ref("it-exists/missing", ":1.0.0")).await.unwrap_err();
    assert!(
        matches!(&error, Error::RepositoryNotFound { repository, registry_id: Some(id), .. }
            if repository == "it-exists/missing" && id == ACCOUNT),
        "{error:?}"
    );
}

#[tokio::test]
async fn image_exists_refuses_images_outside_ecr() {
    let moto = moto!();
    let registry = moto.registry().await;
    let error = registry.image_exists(&"docker.io/library/nginx:1.27".parse().unwrap()).await.unwrap_err();
    assert!(matches!(&error, Error::InvalidInput { field, .. } if field == "image"), "{error:?}");
}

// ---------------------------------------------------------------------------------------------------------
// previous tag

/// A release history with the pitfalls of the seed's query: an untagged build, `latest` listed first on the
/// current release, and a hotfix of an old line pushed last.
async fn release_history(client: &aws_sdk_ecr::Client, repository: &str) -> Vec<String> {
    vec![
        push(client, repository, "1.0.0", &["latest-release-1.0.0"]).await,
        push(client, repository, "1.1.0", &["latest-release-1.1.0"]).await,
        push(client, repository, "ci-build", &[]).await,
        push(client, repository, "1.2.0", &["latest", "latest-release-1.2.0"]).await,
        push(client, repository, "1.0.1", &["latest-release-1.0.1"]).await,
    ]
}

#[tokio::test]
async fn previous_tag_strategies_over_a_realistic_history() {
    let moto = moto!();
    let client = moto.client();
    let repository = create(&client, "it-previous/history").await;
    let digests = release_history(&client, repository.as_str()).await;
    let registry = moto.registry().await;
    let prefix = "latest-release-";

    let cases = [
        // Second-newest release push: the hotfix 1.0.1 is newest, so 1.2.0 (never `latest`).
        (PreviousQuery::pushed().with_prefix(prefix), "latest-release-1.2.0", 3),
        (PreviousQuery::pushed(), "latest-release-1.2.0", 3),
        // What a rollback from 1.2.0 needs: the release pushed before it, skipping the untagged build.
        (PreviousQuery::before("latest-release-1.2.0"), "latest-release-1.1.0", 1),
        // By version: below the highest (1.2.0) comes 1.1.0; below 1.1.0 comes the hotfix 1.0.1.
        (PreviousQuery::semver(), "latest-release-1.1.0", 1),
        (
            PreviousQuery::new(rollout_core::PreviousStrategy::Semver {
                pattern: None,
                before: Some("latest-release-1.1.0".into()),
            }),
            "latest-release-1.0.1",
            4,
        ),
    ];
    for (query, tag, digest_index) in cases {
        let previous = registry.previous_tag(&repository, &query).await.unwrap();
        assert_eq!(previous.tag.as_deref(), Some(tag), "{query:?}");
        assert_eq!(previous.digest.as_deref(), Some(digests[digest_index].as_str()), "{query:?}");
    }
}

/// What `aws ecr describe-images --query 'sort_by(imageDetails,& imagePushedAt)[-2].imageTags[0]' --output json`
/// prints: computed here straight from moto's raw answer, as the CLI's JMESPath does (a stable sort by push time
/// over the merged pages, the second-last image, its first tag or null).
async fn cli_answer(client: &aws_sdk_ecr::Client, repository: &str) -> Option<String> {
    let mut details = Vec::new();
    let mut pages = client.describe_images().repository_name(repository).into_paginator().send();
    while let Some(page) = pages.next().await {
        details.extend(page.unwrap().image_details().iter().cloned());
    }
    details.sort_by_key(|d| d.image_pushed_at().cloned());
    let second_last = details.len().checked_sub(2).map(|i| &details[i])?;
    second_last.image_tags().first().cloned()
}

#[tokio::test]
async fn previous_tag_cli_compatible_prints_what_the_aws_cli_prints() {
    let moto = moto!();
    let client = moto.client();
    let registry = moto.registry().await;

    // The current release lists `latest` first, and so does the CLI.
    let history = create(&client, "it-cli/history").await;
    let digests = release_history(&client, history.as_str()).await;
    let previous = registry.previous_tag(&history, &PreviousQuery::cli_compatible()).await.unwrap();
    assert_eq!(previous.tag, cli_answer(&client, history.as_str()).await);
    assert_eq!(previous.tag.as_deref(), Some("latest"));
    assert_eq!(previous.digest.as_deref(), Some(digests[3].as_str()));

    // An untagged second-newest image: the CLI prints null.
    let untagged = create(&client, "it-cli/untagged").await;
    push(&client, untagged.as_str(), "a", &["1.0.0"]).await;
    let middle = push(&client, untagged.as_str(), "b", &[]).await;
    push(&client, untagged.as_str(), "c", &["1.1.0"]).await;
    let previous = registry.previous_tag(&untagged, &PreviousQuery::cli_compatible()).await.unwrap();
    assert_eq!(previous.tag, cli_answer(&client, untagged.as_str()).await);
    assert_eq!((previous.tag, previous.digest), (None, Some(middle)));

    // A single image: null too.
    let single = create(&client, "it-cli/single").await;
    push(&client, single.as_str(), "a", &["1.0.0"]).await;
    let previous = registry.previous_tag(&single, &PreviousQuery::cli_compatible()).await.unwrap();
    assert_eq!(previous.tag, cli_answer(&client, single.as_str()).await);
    assert_eq!((previous.tag, previous.digest, previous.considered), (None, None, 1));
}

#[tokio::test]
async fn previous_tag_errors_when_nothing_qualifies_or_the_anchor_tag_is_missing() {
    let moto = moto!();
    let client = moto.client();
    let repository = create(&client, "it-previous/sparse").await;
    push(&client, repository.as_str(), "a", &["latest-release-1.0.0", "latest"]).await;
    let registry = moto.registry().await;

    let error = registry.previous_tag(&repository, &PreviousQuery::pushed()).await.unwrap_err();
    assert!(matches!(error, Error::NoPreviousImage { .. }), "{error:?}");
    let error = registry.previous_tag(&repository, &PreviousQuery::before("latest-release-9.9.9")).await.unwrap_err();
    assert!(matches!(&error, Error::TagNotFound { tag, .. } if tag == "latest-release-9.9.9"), "{error:?}");
}

// ---------------------------------------------------------------------------------------------------------
// tag uniqueness

#[tokio::test]
async fn check_tag_unique_allows_new_tags_and_the_same_image_but_not_a_moved_tag() {
    let moto = moto!();
    let client = moto.client();
    let repository = create(&client, "it-tags/unique").await;
    let digest = push(&client, repository.as_str(), "a", &["latest-release-1.0.0"]).await;
    let registry = moto.registry().await;
    let tag = |t: &str| t.parse::<rollout_core::ImageTag>().unwrap();

    let fresh = registry.check_tag_unique(&repository, &tag("latest-release-1.0.1"), Some(&digest)).await.unwrap();
    assert_eq!(fresh, TagCheck::Free);
    let same = registry.check_tag_unique(&repository, &tag("latest-release-1.0.0"), Some(&digest)).await.unwrap();
    assert_eq!(same, TagCheck::SameImage);

    let other = sha256("another build");
    for intended in [Some(other.as_str()), None] {
        let error = registry.check_tag_unique(&repository, &tag("latest-release-1.0.0"), intended).await.unwrap_err();
        let Error::TagAlreadyExists { tag, existing_digest, digest: asked, .. } = &error else { panic!("{error:?}") };
        assert_eq!((tag.as_str(), existing_digest, asked.as_deref()), ("latest-release-1.0.0", &digest, intended));
    }
}

// ---------------------------------------------------------------------------------------------------------
// lifecycle policies

#[tokio::test]
async fn lifecycle_put_get_diff_delete_across_repositories_concurrently() {
    let moto = moto!();
    let client = moto.client();
    let mut repositories = Vec::new();
    for n in 0..5 {
        let repository = create(&client, &format!("it-lifecycle/crud-{n}")).await;
        push(&client, repository.as_str(), "a", &["latest-release-1.0.0"]).await;
        repositories.push(repository);
    }
    let registry = moto.registry().await;
    let seed = LifecyclePolicy::parse(include_str!("../../../examples/seed/lifecycle-policy.json")).unwrap();
    let options = PutOptions { concurrency: 2, ..Default::default() };

    for repository in &repositories {
        assert_eq!(registry.get_lifecycle_policy(repository).await.unwrap(), None);
        assert!(!registry.diff_lifecycle_policy(repository, &seed).await.unwrap().current_exists);
    }

    let report = registry.put_lifecycle_policies(&repositories, &seed, &options).await.unwrap();
    assert_eq!((report.put, report.unchanged, report.failed), (5, 0, 0), "{report:#?}");
    let names: Vec<&str> = report.repositories.iter().map(|r| r.repository.as_str()).collect();
    assert_eq!(names, repositories.iter().map(RepositoryName::as_str).collect::<Vec<_>>(), "input order");

    for repository in &repositories {
        let stored = registry.get_lifecycle_policy(repository).await.unwrap().expect("a stored policy");
        assert_eq!(stored, seed);
        assert!(registry.diff_lifecycle_policy(repository, &seed).await.unwrap().equal);
    }

    // The same policy again writes nothing.
    let again = registry.put_lifecycle_policies(&repositories, &seed, &options).await.unwrap();
    assert_eq!((again.put, again.unchanged), (0, 5));
    assert!(again.repositories.iter().all(|r| r.outcome == PutOutcome::Unchanged));

    // A changed count shows in the diff, then is put on one repository only.
    let desired = release_policy(10);
    let difference = registry.diff_lifecycle_policy(&repositories[0], &desired).await.unwrap();
    assert!(!difference.equal && difference.changed.len() == 2, "{difference:#?}");
    let one = registry.put_lifecycle_policies(&repositories[..1], &desired, &options).await.unwrap();
    assert_eq!(one.put, 1);
    assert_eq!(registry.get_lifecycle_policy(&repositories[0]).await.unwrap(), Some(desired));

    for repository in &repositories {
        assert!(registry.delete_lifecycle_policy(repository).await.unwrap());
        assert!(!registry.delete_lifecycle_policy(repository).await.unwrap(), "a second delete is a no-op");
        assert_eq!(registry.get_lifecycle_policy(repository).await.unwrap(), None);
    }
}

#[tokio::test]
async fn put_reports_a_missing_repository_and_puts_the_others() {
    let moto = moto!();
    let client = moto.client();
    let present = create(&client, "it-lifecycle/present").await;
    let missing = name("it-lifecycle/absent");
    let registry = moto.registry().await;
    let report = registry
        .put_lifecycle_policies(&[missing.clone(), present.clone()], &release_policy(5), &PutOptions::default())
        .await
        .unwrap();
    assert_eq!((report.put, report.failed), (1, 1));
    let PutOutcome::Failed { reason } = &report.repositories[0].outcome else { panic!("{report:#?}") };
    assert!(reason.contains("\"it-lifecycle/absent\" not found"), "{reason}");
    assert!(registry.get_lifecycle_policy(&present).await.unwrap().is_some());
}

/// Seven releases (oldest first) and three untagged builds.
async fn seven_releases(client: &aws_sdk_ecr::Client, repository: &str) -> Vec<String> {
    let mut digests = Vec::new();
    for minor in 0..7 {
        digests.push(push(client, repository, &format!("r{minor}"), &[&format!("latest-release-1.{minor}.0")]).await);
    }
    for n in 0..3 {
        push(client, repository, &format!("untagged-{n}"), &[]).await;
    }
    digests
}

#[tokio::test]
async fn put_is_refused_when_an_in_use_image_would_expire_and_accepted_with_force() {
    let moto = moto!();
    let client = moto.client();
    let safe = create(&client, "it-protect/safe").await;
    seven_releases(&client, safe.as_str()).await;
    let risky = create(&client, "it-protect/risky").await;
    let digests = seven_releases(&client, risky.as_str()).await;
    let registry = moto.registry().await;

    // The seed policy keeps 5 releases: 1.0.0 and 1.1.0 would expire. A Deployment still rolls back to 1.1.0,
    // and a CronJob runs 1.0.0 by digest; the same tag in the other repository is not that image.
    let in_use = vec![
        InUseImage {
            reference: image_ref(risky.as_str(), ":latest-release-1.1.0").to_string(),
            tag: Some("latest-release-1.1.0".into()),
            digest: None,
            used_by: "deployment/shop/api (revision 6)".into(),
        },
        InUseImage {
            reference: image_ref(risky.as_str(), &format!("@{}", digests[0])).to_string(),
            tag: None,
            digest: Some(digests[0].clone()),
            used_by: "cronjob/shop/report".into(),
        },
        InUseImage {
            reference: image_ref("it-protect/elsewhere", ":latest-release-1.0.0").to_string(),
            tag: Some("latest-release-1.0.0".into()),
            digest: None,
            used_by: "deployment/shop/other".into(),
        },
    ];
    let seed = release_policy(5);
    let repositories = [safe.clone(), risky.clone()];
    let options = PutOptions { in_use: in_use.clone(), ..Default::default() };

    let error = registry.put_lifecycle_policies(&repositories, &seed, &options).await.unwrap_err();
    let Error::PolicyWouldExpireInUse { repositories: refused } = &error else { panic!("{error:?}") };
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].repository, "it-protect/risky");
    let found: Vec<(&str, MatchedBy, Outcome)> =
        refused[0].violations.iter().map(|v| (v.used_by.as_str(), v.matched_by, v.outcome)).collect();
    assert_eq!(
        found,
        [
            ("deployment/shop/api (revision 6)", MatchedBy::Tag, Outcome::Expire),
            ("cronjob/shop/report", MatchedBy::Digest, Outcome::Expire),
        ]
    );
    assert!(error.to_string().contains("force"));
    for repository in &repositories {
        assert_eq!(registry.get_lifecycle_policy(repository).await.unwrap(), None, "nothing is put when refused");
    }

    let forced = PutOptions { force: true, ..options };
    let report = registry.put_lifecycle_policies(&repositories, &seed, &forced).await.unwrap();
    assert_eq!(report.put, 2);
    assert!(report.repositories[0].in_use.is_empty());
    assert_eq!(report.repositories[1].in_use.len(), 2, "the accepted risk stays in the report");
    let summary = report.repositories[1].preview.as_ref().unwrap();
    assert_eq!((summary.images, summary.expiring), (10, 3), "2 releases and 1 untagged build expire");
    assert_eq!(registry.get_lifecycle_policy(&risky).await.unwrap(), Some(seed));
}

#[tokio::test]
async fn an_invalid_policy_is_refused_and_nothing_is_put() {
    let moto = moto!();
    let client = moto.client();
    let repository = create(&client, "it-invalid/app").await;
    let registry = moto.registry().await;
    // Two rules with priority 1, and a tagged rule without any tag list: moto would accept both.
    let invalid: LifecyclePolicy = serde_json::from_value(serde_json::json!({
        "rules": [
            {"rulePriority": 1, "selection": {"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 5}, "action": {"type": "expire"}},
            {"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 2}, "action": {"type": "expire"}},
        ]
    }))
    .unwrap();
    let error = registry
        .put_lifecycle_policies(
            std::slice::from_ref(&repository),
            &invalid,
            &PutOptions { force: true, ..Default::default() },
        )
        .await
        .unwrap_err();
    let Error::InvalidPolicy { violations } = &error else { panic!("{error:?}") };
    assert!(violations.len() >= 2, "{violations:#?}");
    assert_eq!(registry.get_lifecycle_policy(&repository).await.unwrap(), None);
    let error = registry.preview_lifecycle_policy(&repository, &invalid, Timestamp::now()).await.unwrap_err();
    assert!(matches!(error, Error::InvalidPolicy { .. }));
}

#[tokio::test]
async fn preview_evaluates_the_policy_over_the_live_images() {
    let moto = moto!();
    let client = moto.client();
    let repository = create(&client, "it-preview/app").await;
    let digests = seven_releases(&client, repository.as_str()).await;
    let registry = moto.registry().await;

    let preview = registry.preview_lifecycle_policy(&repository, &release_policy(5), Timestamp::now()).await.unwrap();
    assert_eq!((preview.summary.images, preview.summary.expiring, preview.summary.kept), (10, 3, 7));
    let expired: Vec<&str> = preview.acted_on().map(|v| v.digest.as_str()).collect();
    assert!(expired.contains(&digests[0].as_str()) && expired.contains(&digests[1].as_str()), "{expired:?}");

    // Age rules use moto's push times (one hour apart from 2024 on, per the harness clock).
    let old = LifecyclePolicy::builder().expire_untagged_older_than(1).build().unwrap();
    let preview = registry.preview_lifecycle_policy(&repository, &old, Timestamp::now()).await.unwrap();
    assert_eq!(preview.summary.expiring, 3);
}

#[tokio::test]
async fn lifecycle_operations_on_a_missing_repository_name_it() {
    let moto = moto!();
    let registry = moto.registry().await;
    let missing = name("it-lifecycle/nowhere");
    let get = registry.get_lifecycle_policy(&missing).await.unwrap_err();
    let delete = registry.delete_lifecycle_policy(&missing).await.unwrap_err();
    let preview = registry.preview_lifecycle_policy(&missing, &release_policy(5), Timestamp::now()).await.unwrap_err();
    for error in [get, delete, preview] {
        assert!(
            matches!(&error, Error::RepositoryNotFound { repository, .. } if repository == "it-lifecycle/nowhere"),
            "{error:?}"
        );
    }
}

/// The raw client agrees that `ImageIdentifier`s by digest are what `image_exists` sends.
#[tokio::test]
async fn describe_images_by_unknown_digest_is_image_not_found_in_moto() {
    let moto = moto!();
    let client = moto.client();
    let repository = create(&client, "it-exists/raw").await;
    push(&client, repository.as_str(), "a", &["1.0.0"]).await;
    let error = client
        .describe_images()
        .repository_name(repository.as_str())
        .image_ids(ImageIdentifier::builder().image_digest(sha256("unknown")).build())
        .send()
        .await
        .unwrap_err();
    assert!(error.into_service_error().is_image_not_found_exception());
}
