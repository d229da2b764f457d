//! `rollout status`, `rollout history`, `rollout rollback` and `rollout previous --strategy deployed`
//! against the sandbox.

use crate::deploy::{REPORT_FIELDS, assert_combined, keys};
use crate::support::{normalise, snapshot, with_deployment};

const V1: &str = "registry.example/shop/web:1.0.0";
const V2: &str = "registry.example/shop/web:1.0.1";
const V3: &str = "registry.example/shop/web:1.0.2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_once_prints_kubectls_message_and_waiting_prints_the_report() {
    let (sb, r) = with_deployment(31, "web", V1, 2).await;
    let out = r.run(&["status", "deployment/web", "--watch=false"]).await;
    out.code(0);
    assert_eq!(out.stdout, "deployment \"web\" successfully rolled out\n");
    let v = r.run(&["status", "deploy/web", "--watch=false", "-o", "json"]).await.json();
    assert_eq!(keys(&v[0]), ["status", "target"]);
    assert_eq!(v[0]["status"]["state"], "complete");
    assert_eq!(v[0]["status"]["message"], "deployment \"web\" successfully rolled out");

    let out = r.run(&["status", "web", "--timeout", "90s"]).await;
    out.code(0);
    assert!(out.stdout.starts_with("default/deployment/web: succeeded in "), "{}", out.stdout);
    let out = r.run(&["status", "web", "-o", "json"]).await;
    out.code(0);
    let v = out.json();
    assert_combined(&v, 1);
    assert_eq!(v["reports"][0]["operation"], "wait");
    assert_eq!(v["reports"][0]["outcome"], "succeeded");
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_a_table_of_revisions_with_health_and_the_current_one() {
    let (sb, r) = with_deployment(32, "web", V1, 1).await;
    r.run(&["deploy", "web", "--image", V2, "-q"]).await.code(0);
    r.run(&["deploy", "web", "--image", V3, "-q", "--change-cause", "release 1.0.2"]).await.code(0);
    let out = r.run(&["history", "web"]).await;
    out.code(0);
    snapshot("history-table", &normalise(&out.stdout));
    let v = r.run(&["history", "deployment/web", "-o", "json"]).await.json();
    assert_eq!(keys(&v), ["revisions", "target"]);
    assert_eq!(
        keys(&v["revisions"][0]),
        ["change_cause", "created_at", "current", "healthy_at", "images", "replica_set", "replicas", "revision"]
    );
    assert_eq!(v["revisions"][2]["current"], true);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_goes_to_the_last_known_good_release_by_default() {
    let (sb, r) = with_deployment(33, "web", V1, 1).await;
    r.run(&["deploy", "web", "--image", V2, "-q"]).await.code(0);
    let out = r.run(&["rollback", "web"]).await;
    out.code(0);
    assert!(out.stdout.starts_with("default/deployment/web: succeeded in "), "{}", out.stdout);
    assert!(out.stdout.contains(&format!("  app: {V2} -> {V1}")), "{}", out.stdout);

    let out = r.run(&["rollback", "web", "--to-tag", "1.0.1", "-o", "json"]).await;
    out.code(0);
    let v = out.json();
    assert_eq!(keys(&v), REPORT_FIELDS);
    assert_eq!(v["operation"], "rollback");
    assert_eq!(v["images"][0]["new"], V2);

    let out = r.run(&["rollback", "web", "--to-previous", "--no-wait", "-o", "json"]).await;
    out.code(0);
    assert_eq!(out.json()["outcome"], "started");
    r.run(&["status", "web", "-q"]).await.code(0);

    // Going back to where it already is changes nothing.
    let current = r.run(&["status", "web", "--watch=false", "-o", "json"]).await.json();
    assert_eq!(current[0]["status"]["state"], "complete");
    let out = r.run(&["rollback", "web", "--to-revision", "5", "-o", "json"]).await;
    out.code(0);
    assert_eq!(out.json()["outcome"], "unchanged");
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deployed_strategy_reads_the_previous_healthy_tag_from_the_cluster() {
    let (sb, r) = with_deployment(34, "web", V1, 1).await;
    r.run(&["deploy", "web", "--image", V2, "-q"]).await.code(0);
    let out = r.run(&["previous", "--strategy", "deployed", "--deployment", "web"]).await;
    out.code(0);
    assert_eq!(out.stdout, "1.0.0\n");
    assert!(out.stderr.contains("revision 1"), "{}", out.stderr);
    let v = r.run(&["previous", "--deployment", "web", "-o", "json"]).await.json();
    assert_eq!(keys(&v), ["healthy", "image", "replica_set", "revision", "tag"]);
    assert_eq!((v["tag"].as_str(), v["image"].as_str(), v["healthy"].as_bool()), (Some("1.0.0"), Some(V1), Some(true)));
    let out = r.run(&["previous", "--deployment", "web", "--strategy", "semver"]).await;
    out.code(2);
    assert!(out.stderr.contains("--deployment goes with --strategy deployed"), "{}", out.stderr);
    sb.shutdown().await;
}
