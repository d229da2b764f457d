//! `rollout previous` and `rollout lifecycle` against the sandbox registry.

use jiff::SignedDuration;
use rollout_sandbox::Sandbox;
use rollout_sandbox::ecr::PushOptions;

use crate::support::Rollout;

const SEED_POLICY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/seed/lifecycle-policy.json");

/// A sandbox whose repository `app` has `releases` tagged releases (`latest-release-1.0.N`, one a
/// day) with an untagged build after each.
async fn registry_with_releases(releases: i64) -> (Sandbox, Rollout) {
    let sb = Sandbox::builder().time_scale(0.01).seed(1).start().await.unwrap();
    sb.ecr().ensure_repository("app").unwrap();
    let start = sb.clock().now() - SignedDuration::from_hours(24 * 100);
    for i in 0..releases {
        let at = |h| Some(start + SignedDuration::from_hours(24 * i + h));
        let tag = format!("latest-release-1.0.{i}");
        sb.ecr().push_image("app", &[&tag], PushOptions { pushed_at: at(0), ..Default::default() }).unwrap();
        sb.ecr().push_image("app", &[], PushOptions { pushed_at: at(1), ..Default::default() }).unwrap();
    }
    let r = Rollout::for_sandbox(&sb);
    (sb, r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previous_prints_the_release_before_the_newest() {
    let (_sb, r) = registry_with_releases(4).await;
    let out = r.run(&["previous", "--repository", "app"]).await;
    out.code(0);
    assert_eq!(out.stdout, "latest-release-1.0.2\n");
    let out =
        r.run(&["previous", "--repository", "app", "--strategy", "before", "--before", "latest-release-1.0.2"]).await;
    out.code(0);
    assert_eq!(out.stdout, "latest-release-1.0.1\n");
    let v = r.run(&["previous", "-r", "app", "--strategy", "semver", "-o", "json"]).await.json();
    assert_eq!(v["tag"], "latest-release-1.0.2");
    assert_eq!(v["strategy"]["name"], "semver");
    assert!(v["digest"].as_str().unwrap().starts_with("sha256:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previous_in_a_missing_repository_is_invalid_input() {
    let (_sb, r) = registry_with_releases(1).await;
    let out = r.run(&["previous", "--repository", "nope"]).await;
    out.code(2);
    assert!(out.stderr.contains("nope"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_put_get_and_diff_round_trip_the_seed_policy() {
    let (_sb, r) = registry_with_releases(3).await;
    let diff = r.run(&["lifecycle", "diff", "-r", "app", "--policy-file", SEED_POLICY]).await;
    diff.code(1);
    assert!(diff.stdout.contains("no policy yet"), "{}", diff.stdout);
    r.run(&["lifecycle", "put", "-r", "app", "--policy-file", SEED_POLICY]).await.code(0);
    let get = r.run(&["lifecycle", "get", "-r", "app", "-o", "json"]).await;
    get.code(0);
    assert_eq!(get.json()["policy"]["rules"].as_array().map(Vec::len), Some(2));
    // The same policy written with flags is equal: rule order and descriptions aside.
    let flags = ["lifecycle", "diff", "-r", "app", "--keep-tagged", "5", "--prefix", "latest", "--keep-untagged", "2"];
    let out = r.run(&flags).await;
    assert_ne!(out.code, 2, "{}", out.stderr);
    r.run(&["lifecycle", "diff", "-r", "app", "--policy-file", SEED_POLICY]).await.code(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_preview_shows_what_would_expire() {
    let (_sb, r) = registry_with_releases(8).await;
    let out = r.run(&["lifecycle", "preview", "-r", "app", "--policy-file", SEED_POLICY]).await;
    out.code(0);
    assert!(out.stdout.starts_with("app: 16 images, 9 expire, 7 kept"), "{}", out.stdout);
    assert!(out.stdout.contains("TAGS"), "a table: {}", out.stdout);
    let v = r.run(&["lifecycle", "preview", "-r", "app", "--policy-file", SEED_POLICY, "-o", "json"]).await.json();
    assert_eq!(v[0]["preview"]["summary"]["expiring"], 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_in_use_blocks_the_put_and_fails_the_check() {
    let (sb, r) = registry_with_releases(8).await;
    let oldest = format!("{}/app:latest-release-1.0.0", sb.registry_host());
    let check = r.run(&["lifecycle", "check", "-r", "app", "--policy-file", SEED_POLICY, "--in-use", &oldest]).await;
    check.code(1);
    assert!(check.stdout.contains("latest-release-1.0.0"), "{}", check.stdout);
    let put = r.run(&["lifecycle", "put", "-r", "app", "--policy-file", SEED_POLICY, "--in-use", &oldest]).await;
    put.code(1);
    assert!(put.stderr.contains("latest-release-1.0.0"), "{}", put.stderr);
    assert!(sb.ecr().registry().lifecycle_policy("app").is_err(), "nothing was put");
    r.run(&["lifecycle", "put", "-r", "app", "--policy-file", SEED_POLICY, "--in-use", &oldest, "--force"])
        .await
        .code(0);
    let newest = format!("{}/app:latest-release-1.0.7", sb.registry_host());
    r.run(&["lifecycle", "check", "-r", "app", "--policy-file", SEED_POLICY, "--in-use", &newest]).await.code(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_the_cluster_runs_are_protected_when_asked() {
    let (sb, r) = registry_with_releases(8).await;
    let host = sb.registry_host();
    // `web` runs the oldest release; `other` runs a tag of the same name from another repository.
    sb.ecr().ensure_repository("other").unwrap();
    sb.ecr().push_image("other", &["latest-release-1.0.1"], PushOptions::default()).unwrap();
    for (name, image) in
        [("web", format!("{host}/app:latest-release-1.0.0")), ("other", format!("{host}/other:latest-release-1.0.1"))]
    {
        let manifest = r.file(&format!("{name}.yaml"), &crate::support::deployment(name, &image, 1, 600));
        r.run(&["deploy", "-f", &manifest, "-q"]).await.code(0);
    }
    let check = r.run(&["lifecycle", "check", "-r", "app", "--policy-file", SEED_POLICY, "--protect-in-use"]).await;
    check.code(1);
    assert!(
        check.stdout.contains("latest-release-1.0.0") && check.stdout.contains("default/deployment/web"),
        "{}",
        check.stdout
    );
    assert!(
        !check.stdout.contains("latest-release-1.0.1"),
        "another repository's tag protects nothing here: {}",
        check.stdout
    );
    assert!(
        check.stderr.contains("image references in use in namespace default of the current context"),
        "{}",
        check.stderr
    );

    let all = r
        .run(&["lifecycle", "check", "-r", "app", "--policy-file", SEED_POLICY, "--protect-in-use", "-A", "-o", "json"])
        .await;
    all.code(1);
    assert_eq!(all.json()[0]["violation"]["used_by"], "default/deployment/web (revision 1)");
    let elsewhere = r
        .run(&[
            "lifecycle",
            "check",
            "-r",
            "app",
            "--policy-file",
            SEED_POLICY,
            "--protect-in-use",
            "-n",
            "kube-system",
            "-n",
            "shop",
        ])
        .await;
    elsewhere.code(0);

    let put = r.run(&["lifecycle", "put", "-r", "app", "--policy-file", SEED_POLICY, "--protect-in-use"]).await;
    put.code(1);
    assert!(put.stderr.contains("default/deployment/web"), "{}", put.stderr);
    let out = r.run(&["lifecycle", "check", "-r", "app", "--policy-file", SEED_POLICY, "-A"]).await;
    out.code(2);
    assert!(out.stderr.contains("--protect-in-use"), "{}", out.stderr);
}
