//! `rollout deploy` against the sandbox: success in text and JSON, dry runs, not waiting, failures
//! with and without rollback, timeouts, refusals, several clusters at once, and Ctrl-C.

use std::time::Duration;

use rollout_sandbox::ImageBehaviour;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::support::{Rollout, deployment, normalise, sandbox, snapshot, with_deployment};

const V1: &str = "registry.example/shop/web:1.0.0";
const V2: &str = "registry.example/shop/web:1.0.1";

/// The field names of a rollout report: a contract of the JSON output.
pub const REPORT_FIELDS: [&str; 18] = [
    "change_cause",
    "duration_ms",
    "finished_at",
    "images",
    "message",
    "new_replica_set",
    "operation",
    "outcome",
    "patch",
    "preflight",
    "previous_revision",
    "problems",
    "reason",
    "revision",
    "rollback",
    "started_at",
    "status",
    "target",
];

/// The keys of a JSON object, sorted.
pub fn keys(v: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().expect("an object").keys().cloned().collect();
    k.sort();
    k
}

/// Asserts that `v` is a combined report of `n` rollout reports with every contract field.
pub fn assert_combined(v: &serde_json::Value, n: usize) {
    assert_eq!(keys(v), ["duration_ms", "finished_at", "outcome", "reports", "started_at"]);
    let reports = v["reports"].as_array().expect("reports");
    assert_eq!(reports.len(), n, "{v:#}");
    for r in reports {
        assert_eq!(keys(r), REPORT_FIELDS);
        assert_eq!(keys(&r["target"]), ["context", "kind", "name", "namespace"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_image_rolls_out_and_the_text_says_so() {
    let (sb, r) = with_deployment(11, "web", V1, 2).await;
    let out = r.run(&["deploy", "web", "--image", V2]).await;
    out.code(0);
    assert!(out.stdout.starts_with("default/deployment/web: succeeded in "), "the result on stdout: {}", out.stdout);
    assert!(out.stdout.contains("deployment \"web\" successfully rolled out (revision 1 -> 2)"), "{}", out.stdout);
    assert!(out.stdout.contains(&format!("  app: {V1} -> {V2}")), "{}", out.stdout);
    // Progress went to stderr as timestamped lines (stderr is not a terminal here).
    assert!(
        out.stderr.lines().any(|l| l.ends_with(&format!("default/deployment/web: updated app={V2}"))),
        "{}",
        out.stderr
    );
    assert!(out.stderr.lines().all(|l| l.starts_with("20")), "every progress line is timestamped: {}", out.stderr);

    // Deploying the same image again changes nothing and says so.
    let again = r.run(&["deploy", "web", "--image", V2, "-q"]).await;
    again.code(0);
    assert!(again.stdout.contains("unchanged: already at app="), "{}", again.stdout);
    assert!(again.stderr.is_empty(), "-q: no progress: {}", again.stderr);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_alone_keeps_the_repository_and_json_is_the_combined_report() {
    let (sb, r) = with_deployment(12, "web", V1, 1).await;
    let out = r.run(&["deploy", "web", "--image", ":1.0.1", "-o", "json"]).await;
    out.code(0);
    let v = out.json();
    assert_combined(&v, 1);
    assert_eq!(v["outcome"], "succeeded");
    let report = &v["reports"][0];
    assert_eq!(report["operation"], "deploy");
    assert_eq!(report["target"]["name"], "web");
    assert_eq!(report["images"][0]["previous"], V1);
    assert_eq!(report["images"][0]["new"], V2);
    assert_eq!((report["previous_revision"].as_i64(), report["revision"].as_i64()), (Some(1), Some(2)));
    assert_eq!(report["preflight"].as_array().map(Vec::len), Some(7));
    assert_eq!(report["change_cause"], format!("rollout: app={V2}"));

    // A bare tag is a tag too.
    let out = r.run(&["deploy", "deployment/web", "--image", "1.0.2", "--container", "app", "-o", "json"]).await;
    out.code(0);
    assert_eq!(out.json()["reports"][0]["images"][0]["new"], "registry.example/shop/web:1.0.2");
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_shows_the_checks_and_the_patch_and_changes_nothing() {
    let (sb, r) = with_deployment(13, "web", V1, 1).await;
    let out = r.run(&["deploy", "web", "--image", V2, "--dry-run"]).await;
    out.code(0);
    assert!(
        out.stdout.starts_with(&format!("default/deployment/web: dry run: the checks passed; would set app={V2}")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("  check readiness-probe: passed: every targeted container has a readinessProbe"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("  patch: {"), "{}", out.stdout);
    let v = r.run(&["deploy", "web", "--image", V2, "--dry-run", "-o", "json"]).await.json();
    assert_combined(&v, 1);
    assert_eq!(v["reports"][0]["outcome"], "dry_run");
    assert_eq!(v["reports"][0]["patch"]["spec"]["template"]["spec"]["containers"][0]["image"], V2);
    let now = r.run(&["status", "web", "--watch=false", "-o", "json"]).await.json();
    assert_eq!(now[0]["status"]["replicas"]["updated"], 1);
    let history = r.run(&["history", "web", "-o", "json"]).await.json();
    assert_eq!(history["revisions"].as_array().map(Vec::len), Some(1), "nothing was written");
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_waiting_returns_once_the_change_is_written() {
    let (sb, r) = with_deployment(14, "web", V1, 1).await;
    let out = r.run(&["deploy", "web", "--image", V2, "--no-wait", "-o", "json"]).await;
    out.code(0);
    let v = out.json();
    assert_eq!(v["outcome"], "started");
    assert!(v["reports"][0]["message"].as_str().unwrap().contains("not waiting for the rollout"), "{v:#}");
    let out = r.run(&["status", "web", "--timeout", "60s"]).await;
    out.code(0);
    assert!(out.stdout.contains("successfully rolled out"), "{}", out.stdout);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_release_fails_with_the_reason_and_log_lines_and_is_rolled_back_when_asked() {
    let (sb, r) = with_deployment(15, "web", V1, 2).await;
    let bad = "registry.example/shop/web:1.0.2";
    sb.images()
        .set(bad, ImageBehaviour::crashing(1, 2.0, &["starting web 1.0.2", "panic: missing config key db.url"]))
        .unwrap();

    let out = r.run(&["deploy", "web", "--image", bad]).await;
    out.code(1);
    assert!(out.stdout.starts_with("FAILED: default/deployment/web (CrashLoopBackOff) after "), "{}", out.stdout);
    assert!(out.stdout.contains("      | panic: missing config key db.url"), "the log tail: {}", out.stdout);
    assert!(out.stdout.contains("  not rolled back (deploy with --rollback-on-failure"), "{}", out.stdout);

    r.run(&["rollback", "web", "-q"]).await.code(0);
    let out = r.run(&["deploy", "web", "--image", bad, "--rollback-on-failure", "-o", "json"]).await;
    out.code(1);
    let v = out.json();
    assert_combined(&v, 1);
    let report = &v["reports"][0];
    assert_eq!(report["outcome"], "rolled_back");
    assert_eq!(report["reason"], "CrashLoopBackOff");
    assert_eq!(report["rollback"]["outcome"], "succeeded");
    assert_eq!(keys(&report["rollback"]), REPORT_FIELDS);
    let problem = &report["problems"][0];
    assert_eq!(
        keys(problem),
        [
            "container",
            "events",
            "exit_code",
            "fatal",
            "init",
            "last_termination_reason",
            "log_tail",
            "message",
            "pod",
            "reason",
            "restart_count",
            "since",
            "transient"
        ]
    );
    assert!(problem["log_tail"].as_array().unwrap().iter().any(|l| l == "panic: missing config key db.url"));
    assert!(
        out.stderr.contains("error: default/deployment/web: rolled back: "),
        "a JSON run says why on stderr: {}",
        out.stderr
    );

    let text = r.run(&["deploy", "web", "--image", bad, "--rollback-on-failure"]).await;
    text.code(1);
    assert!(
        text.stdout.starts_with("FAILED, ROLLED BACK: default/deployment/web (CrashLoopBackOff)"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("  rolled back (now revision "), "{}", text.stdout);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failure_block_lists_the_failing_container_with_its_events() {
    let (sb, r) = with_deployment(16, "web", V1, 1).await;
    let bad = "registry.example/shop/web:1.0.3";
    let behaviour =
        ImageBehaviour { config_error: Some("secret \"db-credentials\" not found".into()), ..Default::default() };
    sb.images().set(bad, behaviour).unwrap();
    let out = r.run(&["deploy", "web", "--image", bad]).await;
    out.code(1);
    snapshot("deploy-failure-block", &normalise(&out.stdout));
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_that_outlasts_the_timeout_exits_3() {
    let (sb, r) = with_deployment(17, "web", V1, 1).await;
    let slow = "registry.example/shop/web:1.0.4";
    sb.images().set(slow, ImageBehaviour::never_ready()).unwrap();
    let out = r.run(&["deploy", "web", "--image", slow, "--timeout", "1s"]).await;
    out.code(3);
    assert!(out.stdout.starts_with("TIMED OUT: default/deployment/web (Timeout) after "), "{}", out.stdout);
    assert!(out.stdout.contains("timed out after 1s"), "{}", out.stdout);
    let out = r.run(&["status", "web", "--timeout", "1s", "-o", "json"]).await;
    out.code(3);
    assert_eq!(out.json()["outcome"], "timed_out");
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_before_any_change_exit_2_and_name_what_is_wrong() {
    let (sb, r) = with_deployment(18, "web", V1, 1).await;
    let cases: [(&[&str], &str); 5] = [
        (
            &["deploy", "web", "--image", V2, "--container", "nope"],
            "container \"nope\" not found in default/deployment/web: the containers there are app",
        ),
        (&["deploy", "missing", "--image", V2], "default/deployment/missing not found"),
        (&["deploy", "web", "--image", "registry.example/shop/web:latest"], "floating-tag"),
        (&["rollback", "web", "--to-revision", "7"], "unable to find specified revision 7 in history"),
        (&["status", "missing", "--timeout", "30s"], "\"missing\" not found"),
    ];
    for (args, needle) in cases {
        let out = r.run(args).await;
        out.code(2);
        assert!(
            out.stderr.contains(needle) || out.stdout.contains(needle),
            "rollout {}: {needle:?} not in\n{}{}",
            args.join(" "),
            out.stdout,
            out.stderr
        );
    }
    let history = r.run(&["history", "web", "-o", "json"]).await.json();
    assert_eq!(history["revisions"].as_array().map(Vec::len), Some(1), "nothing was written");
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_never_pushed_ecr_image_is_refused_and_an_unreachable_ecr_is_an_api_error() {
    let sb = sandbox(19).await;
    sb.ecr().ensure_repository("web").unwrap();
    sb.ecr().push_image("web", &["1.0.0"], Default::default()).unwrap();
    let host = sb.registry_host();
    let r = Rollout::for_sandbox(&sb);
    let manifest = r.file("web.yaml", &deployment("web", &format!("{host}/web:1.0.0"), 1, 600));
    r.run(&["deploy", "-f", &manifest, "-q"]).await.code(0);
    let out = r.run(&["deploy", "web", "--image", ":1.0.1"]).await;
    out.code(2);
    assert!(
        out.stderr.contains(&format!("image-exists: {host}/web:1.0.1 does not exist in its ECR repository")),
        "{}",
        out.stderr
    );
    // Without credentials ECR cannot be asked: that is a credential error (exit 4), not a verdict on
    // the image, and it changes nothing either.
    let no_credentials = Rollout::for_sandbox(&sb).env("AWS_ACCESS_KEY_ID", "").env("AWS_SECRET_ACCESS_KEY", "");
    let out = no_credentials.run(&["deploy", "web", "--image", ":1.0.1"]).await;
    out.code(4);
    assert!(out.stderr.contains("no usable aws credentials: set AWS_ACCESS_KEY_ID"), "{}", out.stderr);
    let history = r.run(&["history", "web", "-o", "json"]).await.json();
    assert_eq!(history["revisions"].as_array().map(Vec::len), Some(1), "nothing was written");
    sb.ecr().push_image("web", &["1.0.1"], Default::default()).unwrap();
    let v = r.run(&["deploy", "web", "--image", ":1.0.1", "-o", "json"]).await.json();
    let check = v["reports"][0]["preflight"].as_array().unwrap().iter().find(|c| c["check"] == "image-exists").cloned();
    assert_eq!(check.unwrap()["status"], "passed");
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_deploy_rolls_out_to_two_clusters_with_one_combined_report() {
    let (a, b) = (sandbox(21).await, sandbox(22).await);
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: a\n  cluster:\n    server: {}\n- name: b\n  cluster:\n    server: {}\n\
         users:\n- name: u\n  user: {{}}\ncontexts:\n- name: staging\n  context: {{cluster: a, user: u, namespace: default}}\n\
         - name: prod\n  context: {{cluster: b, user: u, namespace: default}}\ncurrent-context: staging\n",
        a.url(),
        b.url()
    );
    let r = Rollout::with_kubeconfig(&a, &kubeconfig);
    let manifest = r.file("web.yaml", &deployment("web", V1, 1, 600));
    for context in ["staging", "prod"] {
        r.run(&["deploy", "-f", &manifest, "--context", context, "-q"]).await.code(0);
    }
    let out = r.run(&["deploy", "web", "--image", V2, "--context", "staging", "--context", "prod", "-o", "json"]).await;
    out.code(0);
    let v = out.json();
    assert_combined(&v, 2);
    let targets: Vec<String> = v["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{}/{}", r["target"]["context"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(targets, ["staging/succeeded", "prod/succeeded"]);
    let text = r.run(&["status", "web", "--context", "staging", "--context", "prod", "--watch=false"]).await;
    text.code(0);
    assert_eq!(
        text.stdout,
        "staging/default/deployment/web: deployment \"web\" successfully rolled out\n\
         prod/default/deployment/web: deployment \"web\" successfully rolled out\n"
    );
    // A command that reads one cluster refuses several.
    let out = r.run(&["history", "web", "--context", "staging", "--context", "prod"]).await;
    out.code(2);
    assert!(out.stderr.contains("give --context once"), "{}", out.stderr);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_the_wait_exits_130_and_says_what_the_cluster_was_left_in() {
    let (sb, r) = with_deployment(23, "web", V1, 1).await;
    let slow = "registry.example/shop/web:1.0.5";
    sb.images().set(slow, ImageBehaviour::never_ready()).unwrap();
    let mut child = r.spawn(&["deploy", "web", "--image", slow, "--timeout", "10m"]);
    let pid = child.id().expect("running");
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    // Bounded only so that a hang fails the test instead of blocking it.
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains("updated app=") {
                break;
            }
        }
    })
    .await
    .expect("the deploy writes its change");
    let kill = std::process::Command::new("kill").args(["-INT", &pid.to_string()]).status().unwrap();
    assert!(kill.success());
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait()).await.unwrap().unwrap();
    while let Some(line) = stderr.next_line().await.unwrap() {
        seen.push_str(&line);
        seen.push('\n');
    }
    let mut stdout = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).await.unwrap();
    assert_eq!(status.code(), Some(130), "{seen}");
    assert!(
        seen.contains(&format!(
            "interrupted after deployment default/web was patched to app={slow} (generation 2); the rollout continues \
             in the cluster: `rollout status deployment/web -n default` to follow it, `rollout rollback web -n \
             default` to undo"
        )),
        "{seen}"
    );
    assert!(stdout.is_empty(), "no result on stdout: {stdout}");
    sb.shutdown().await;
}
