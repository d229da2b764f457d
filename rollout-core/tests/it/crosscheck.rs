//! Two independent answers to the same question must agree:
//!
//! - `previous_tag` with the cli-compatible strategy against what the aws CLI itself prints for the
//!   seed's query (`sort_by(imageDetails,& imagePushedAt)[-2].imageTags[0]`, `--output json`), on the
//!   same repositories of the sandbox registry, including every pitfall of that query;
//! - the local lifecycle preview against the sandbox registry's own evaluation, which was written
//!   separately from the same documentation, as ECR's periodic pass would run it.

use std::collections::BTreeSet;

use jiff::SignedDuration;
use rollout_core::RepositoryName;
use rollout_core::clients::{AwsOptions, ecr_client_with_static_credentials};
use rollout_core::lifecycle::{LifecyclePolicy, Outcome};
use rollout_core::registry::{PreviousQuery, Registry};
use rollout_sandbox::Sandbox;
use rollout_sandbox::ecr::PushOptions;

async fn registry(sb: &Sandbox) -> Registry {
    let options = AwsOptions {
        region: Some(sb.ecr().region().to_string()),
        endpoint_url: Some(sb.ecr_endpoint()),
        ..Default::default()
    };
    let client = ecr_client_with_static_credentials(&options, "sandbox", "sandbox").await;
    Registry::new(client.expect("an ECR client for the sandbox"))
}

/// Pushes images `(tags, minutes after the start)` in order; an empty tag list pushes an untagged image.
fn push(sb: &Sandbox, repo: &str, images: &[(&[&str], i64)]) {
    sb.ecr().ensure_repository(repo).unwrap();
    let start = sb.clock().now() - SignedDuration::from_hours(24 * 400);
    for (tags, minutes) in images {
        let at = start + SignedDuration::from_mins(*minutes);
        sb.ecr().push_image(repo, tags, PushOptions { pushed_at: Some(at), ..Default::default() }).unwrap();
    }
}

/// What the aws CLI prints for the seed query, parsed: `Some(tag)` or `None` for `null`. `None` from
/// this function means the CLI is not installed (the test is skipped, or fails under CI).
async fn aws_cli_answer(sb: &Sandbox, repo: &str) -> Option<Option<String>> {
    let probe = tokio::process::Command::new("aws").arg("--version").output().await;
    if probe.is_err() {
        assert!(std::env::var_os("CI").is_none(), "the aws CLI is required when CI is set (scripts/test installs it)");
        eprintln!("skipped: the aws CLI is not installed (pip install awscli)");
        return None;
    }
    let out = tokio::process::Command::new("aws")
        .args(["ecr", "describe-images", "--repository-name", repo, "--output", "json"])
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
        .expect("aws runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "aws failed: {}{stdout}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("json output");
    Some(v.as_str().map(str::to_string))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_compatible_prints_what_the_aws_cli_prints_for_the_seed_query() {
    let sb = Sandbox::builder().seed(5).start().await.unwrap();
    let many: Vec<(Vec<String>, i64)> = (0..230).map(|i| (vec![format!("latest-release-1.0.{i}")], i)).collect();
    let many_refs: Vec<(Vec<&str>, i64)> =
        many.iter().map(|(t, m)| (t.iter().map(String::as_str).collect(), *m)).collect();
    let many_images: Vec<(&[&str], i64)> = many_refs.iter().map(|(t, m)| (t.as_slice(), *m)).collect();
    push(&sb, "paged", &many_images);
    // The second-newest image is untagged: the CLI prints null.
    push(&sb, "untagged-neighbour", &[(&["v1"], 1), (&[], 2), (&["v3"], 3)]);
    // One image: there is no [-2].
    push(&sb, "single", &[(&["v1"], 1)]);
    push(&sb, "empty", &[]);
    // Several tags on the image: the first one listed wins, whatever it is.
    push(&sb, "many-tags", &[(&["v1"], 1), (&["latest", "v2"], 2), (&["v3"], 3)]);
    // Equal push times: the response order decides.
    push(&sb, "ties", &[(&["a"], 5), (&["b"], 5), (&["c"], 5)]);

    let reg = registry(&sb).await;
    for repo in ["paged", "untagged-neighbour", "single", "empty", "many-tags", "ties"] {
        let Some(cli) = aws_cli_answer(&sb, repo).await else { return };
        let name: RepositoryName = repo.parse().unwrap();
        let ours = reg.previous_tag(&name, &PreviousQuery::cli_compatible()).await.unwrap();
        assert_eq!(ours.tag, cli, "{repo}: rollout's cli-compatible answer differs from the aws CLI's");
    }
    // And the deterministic strategy avoids the pitfalls the CLI falls into.
    let pushed = reg.previous_tag(&"untagged-neighbour".parse().unwrap(), &PreviousQuery::pushed()).await.unwrap();
    assert_eq!(pushed.tag.as_deref(), Some("v1"), "untagged images are skipped");
    let pushed = reg.previous_tag(&"many-tags".parse().unwrap(), &PreviousQuery::pushed()).await.unwrap();
    assert_eq!(pushed.tag.as_deref(), Some("v2"), "floating tags are never the answer");
    assert!(sb.internal_errors().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_preview_agrees_with_the_registrys_own_evaluation() {
    let sb = Sandbox::builder().seed(6).start().await.unwrap();
    let reg = registry(&sb).await;
    let seed = LifecyclePolicy::parse(include_str!("../../../examples/seed/lifecycle-policy.json")).unwrap();
    let policies: Vec<(&str, LifecyclePolicy)> = vec![
        ("seed", seed),
        (
            "mixed",
            LifecyclePolicy::builder()
                .keep_most_recent_tagged(2, ["prod"])
                .expire_untagged_older_than(30)
                .keep_most_recent_tagged_matching(3, ["latest-release-1.*"])
                .build()
                .unwrap(),
        ),
        ("age", LifecyclePolicy::builder().expire_older_than(200).build().unwrap()),
    ];
    for (name, policy) in policies {
        // A realistic history: releases every ten days, builds left untagged, hotfixes with two tags.
        let mut images: Vec<(Vec<String>, i64)> = Vec::new();
        for i in 0..24 {
            let day = i * 10;
            images.push((vec![format!("latest-release-1.{}.0", i / 4), format!("build-{i}")], day * 24 * 60));
            if i % 3 == 0 {
                images.push((vec![], day * 24 * 60 + 30));
            }
            if i % 5 == 0 {
                images.push((vec![format!("prod-{i}"), format!("latest-hotfix-{i}")], day * 24 * 60 + 60));
            }
        }
        let refs: Vec<(Vec<&str>, i64)> =
            images.iter().map(|(t, m)| (t.iter().map(String::as_str).collect(), *m)).collect();
        let pushes: Vec<(&[&str], i64)> = refs.iter().map(|(t, m)| (t.as_slice(), *m)).collect();
        let repo = format!("history-{name}");
        push(&sb, &repo, &pushes);
        let repository: RepositoryName = repo.parse().unwrap();
        let preview = reg.preview_lifecycle_policy(&repository, &policy, sb.ecr().now()).await.unwrap();
        let predicted: BTreeSet<String> =
            preview.images.iter().filter(|v| v.outcome == Outcome::Expire).map(|v| v.digest.clone()).collect();
        reg.put_lifecycle_policies(std::slice::from_ref(&repository), &policy, &Default::default()).await.unwrap();
        let expired: BTreeSet<String> = sb.ecr().run_lifecycle(&repo).unwrap().into_iter().map(|r| r.digest).collect();
        assert!(!predicted.is_empty(), "{name}: a policy that expires nothing checks nothing");
        assert_eq!(predicted, expired, "{name}: the local preview and the registry disagree");
    }
    assert!(sb.internal_errors().is_empty());
}
