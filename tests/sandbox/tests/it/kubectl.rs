//! Conformance of the sandbox with the real `kubectl`: each test runs kubectl's own commands
//! (apply, get, set image, rollout status/history/undo/pause/resume/restart, scale, delete, logs,
//! describe) against a sandbox and checks both what kubectl prints and what the sandbox stored.
//!
//! kubectl's texts asserted here are its own (`rollout_status.go`, `rollback.go`, the `apply`,
//! `scale` and `rollout` printers); the ReplicaSet step sequence is the one the upstream Deployment
//! controller produces (`rolling.go`, `sync.go`). The tests never sleep: they wait on the sandbox's
//! store, or on kubectl itself (`rollout status` watches until the rollout ends).
//!
//! Without kubectl these tests are skipped, or fail under CI (see `kubectl_support`).

use std::collections::BTreeSet;

use rollout_sandbox::{ImageBehaviour, Kind, Sandbox};
use serde_json::{Value, json};

use crate::kubectl_support::{
    EventLog, Kubectl, annotation, deployment, pods, progressing_reason, replica_sets, rolled_out, start,
    template_image, wait_for,
};

/// Simulated seconds last this many real seconds: a default image pull (1 s) takes 20 ms and a
/// 600 s progress deadline 12 s, fast enough for tests and slow enough to stay ordered on a loaded
/// machine.
const SCALE: f64 = 0.02;

/// A Deployment named `name` whose one container is also named `name` and has a readiness probe (so
/// an image that never gets ready keeps its pods unready), with the rollout fields the API server
/// would default written out (the tests depend on them).
fn web(name: &str, image: &str, replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "progressDeadlineSeconds": 600,
            "revisionHistoryLimit": 10,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{
                    "name": name,
                    "image": image,
                    "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 2}
                }]}
            }
        }
    })
}

/// The revision annotations of a Deployment's ReplicaSets, ascending.
fn revisions(sb: &Sandbox, name: &str) -> Vec<i64> {
    let mut revs: Vec<i64> = replica_sets(sb.store(), name)
        .iter()
        .map(|rs| annotation(rs, "deployment.kubernetes.io/revision").and_then(|r| r.parse().ok()).unwrap_or(0))
        .collect();
    revs.sort_unstable();
    revs
}

/// The ReplicaSet of `name` whose template runs `image`.
fn rs_with_image(sb: &Sandbox, name: &str, image: &str) -> Value {
    replica_sets(sb.store(), name)
        .into_iter()
        .find(|rs| template_image(rs) == image)
        .unwrap_or_else(|| panic!("no ReplicaSet of {name} runs {image}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_apply_creates_then_reports_unchanged_then_configured() {
    let Some((sb, kubectl)) = start(SCALE).await else { return };
    let file = kubectl.write("web.json", &web("web", "repo/web:1", 2));

    assert_eq!(kubectl.ok(&["apply", "-f", &file]).await.trim(), "deployment.apps/web created");
    assert_eq!(kubectl.ok(&["apply", "-f", &file]).await.trim(), "deployment.apps/web unchanged");
    kubectl.write("web.json", &web("web", "repo/web:2", 2));
    assert_eq!(kubectl.ok(&["apply", "-f", &file]).await.trim(), "deployment.apps/web configured");

    let d = deployment(sb.store(), "web");
    assert_eq!(template_image(&d), "repo/web:2");
    let last_applied: Value =
        serde_json::from_str(annotation(&d, "kubectl.kubernetes.io/last-applied-configuration").unwrap()).unwrap();
    assert_eq!(template_image(&last_applied), "repo/web:2");
    assert_eq!(d["metadata"]["generation"], 2, "the template change bumps the generation once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_creates_and_updates() {
    let Some((sb, kubectl)) = start(SCALE).await else { return };
    let file = kubectl.write("web.json", &web("web", "repo/web:1", 2));

    assert_eq!(
        kubectl.ok(&["apply", "--server-side", "-f", &file]).await.trim(),
        "deployment.apps/web serverside-applied"
    );
    assert_eq!(template_image(&deployment(sb.store(), "web")), "repo/web:1");
    kubectl.write("web.json", &web("web", "repo/web:2", 3));
    assert_eq!(
        kubectl.ok(&["apply", "--server-side", "-f", &file]).await.trim(),
        "deployment.apps/web serverside-applied"
    );

    let d = deployment(sb.store(), "web");
    assert_eq!((template_image(&d), d["spec"]["replicas"].as_i64()), ("repo/web:2", Some(3)));
    wait_for(&sb, "the applied Deployment to roll out", |s| rolled_out(s, "web").then_some(())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_json_returns_the_stored_deployment() {
    let Some((sb, kubectl)) = start(SCALE).await else { return };
    let file = kubectl.write("web.json", &web("web", "repo/web:1", 1));
    kubectl.ok(&["apply", "-f", &file]).await;

    let got: Value = serde_json::from_str(&kubectl.ok(&["get", "deployment", "web", "-o", "json"]).await).unwrap();
    let stored = deployment(sb.store(), "web");
    assert_eq!((got["apiVersion"].as_str(), got["kind"].as_str()), (Some("apps/v1"), Some("Deployment")));
    assert_eq!(got["metadata"]["uid"], stored["metadata"]["uid"]);
    assert_eq!(got["spec"]["template"], stored["spec"]["template"]);
    assert_eq!(template_image(&got), "repo/web:1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_deploy_prints_the_deployment_table_columns() {
    let Some((sb, kubectl)) = start(SCALE).await else { return };
    let file = kubectl.write("web.json", &web("web", "repo/web:1", 2));
    kubectl.ok(&["apply", "-f", &file]).await;
    wait_for(&sb, "web to roll out", |s| rolled_out(s, "web").then_some(())).await;

    let out = kubectl.ok(&["get", "deploy"]).await;
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 2, "a header and one row:\n{out}");
    assert_eq!(rows[0], ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
    assert_eq!(rows[1][..4], ["web", "2/2", "2", "2"]);
    assert!(!rows[1][4].contains("invalid"), "the age is computed from a past timestamp: {out}");

    let wide = kubectl.ok(&["get", "deploy", "web", "-o", "wide"]).await;
    let header: Vec<&str> = wide.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]);
    assert!(wide.contains("repo/web:1") && wide.contains("app=web"), "{wide}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_all_lists_the_deployment_its_replica_set_and_its_pods() {
    let Some((sb, kubectl)) = start(SCALE).await else { return };
    let file = kubectl.write("web.json", &web("web", "repo/web:1", 2));
    kubectl.ok(&["apply", "-f", &file]).await;
    wait_for(&sb, "web to roll out", |s| rolled_out(s, "web").then_some(())).await;

    let out = kubectl.ok(&["get", "all"]).await;
    let rs = &replica_sets(sb.store(), "web")[0];
    assert!(out.contains("deployment.apps/web"), "{out}");
    assert!(out.contains(&format!("replicaset.apps/{}", rs["metadata"]["name"].as_str().unwrap())), "{out}");
    for pod in pods(sb.store(), "web") {
        assert!(out.contains(&format!("pod/{}", pod["metadata"]["name"].as_str().unwrap())), "{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_image_then_rollout_status_reports_success() {
    let Some((sb, kubectl)) = start(SCALE).await else { return };
    let file = kubectl.write("web.json", &web("web", "repo/web:1", 3));
    kubectl.ok(&["apply", "-f", &file]).await;
    let out = kubectl.ok(&["rollout", "status", "deployment/web"]).await;
    assert!(out.ends_with("deployment \"web\" successfully rolled out\n"), "{out}");

    let out = kubectl.ok(&["set", "image", "deployment/web", "web=repo/web:2"]).await;
    assert_eq!(out.trim(), "deployment.apps/web image updated");
    let out = kubectl.ok(&["rollout", "status", "deployment/web"]).await;
    assert!(out.ends_with("deployment \"web\" successfully rolled out\n"), "{out}");

    let d = deployment(sb.store(), "web");
    assert_eq!(d["status"]["updatedReplicas"], 3);
    assert_eq!(d["status"]["availableReplicas"], 3);
    let new_rs = rs_with_image(&sb, "web", "repo/web:2");
    assert_eq!(new_rs["spec"]["replicas"], 3);
    assert_eq!(rs_with_image(&sb, "web", "repo/web:1")["spec"]["replicas"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_status_fails_once_the_progress_deadline_is_exceeded() {
    let Some((sb, kubectl)) = start(SCALE).await else { return };
    sb.images().set("repo/web:broken", ImageBehaviour::never_ready()).unwrap();
    let mut manifest = web("web", "repo/web:1", 2);
    manifest["spec"]["progressDeadlineSeconds"] = json!(30);
    let file = kubectl.write("web.json", &manifest);
    kubectl.ok(&["apply", "-f", &file]).await;
    kubectl.ok(&["rollout", "status", "deployment/web"]).await;

    kubectl.ok(&["set", "image", "deployment/web", "web=repo/web:broken"]).await;
    let run = kubectl.fails(&["rollout", "status", "deployment/web"]).await;
    assert!(run.stderr.contains("error: deployment \"web\" exceeded its progress deadline"), "{run}");

    let d = deployment(sb.store(), "web");
    assert_eq!(progressing_reason(&d).as_deref(), Some("ProgressDeadlineExceeded"));
    assert_eq!(d["status"]["availableReplicas"], 2, "the old pods keep serving");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_status_with_a_timeout_gives_up_on_a_stuck_rollout() {
    let Some((sb, kubectl)) = start(SCALE).await else { return };
    sb.images().set("repo/web:broken", ImageBehaviour::never_ready()).unwrap();
    let mut manifest = web("web", "repo/web:broken", 1);
    // MaxInt32: no progress deadline, so only kubectl's own timeout can end the wait.
    manifest["spec"]["progressDeadlineSeconds"] = json!(i32::MAX);
    let file = kubectl.write("web.json", &manifest);
    kubectl.ok(&["apply", "-f", &file]).await;

    let run = kubectl.fails(&["rollout", "status", "deployment/web", "--timeout=2s"]).await;
    assert!(run.stdout.contains("Waiting for deployment \"web\" rollout to finish"), "{run}");
    assert!(run.stderr.contains("error: timed out waiting for the condition"), "{run}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_history_lists_revisions_with_their_change_cause() {
    let Some((sb, kubectl)) = start(SCALE).await else { return };
    let file = kubectl.write("web.json", &web("web", "repo/web:1", 1));
    kubectl.ok(&["apply", "-f", &file]).await;
    kubectl.ok(&["rollout", "status", "deployment/web"]).await;
    kubectl.ok(&["set", "image", "deployment/web", "web=repo/web:2"]).await;
    kubectl.ok(&["annotate", "deployment/web", "kubernetes.io/change-cause=upgrade to 2"]).await;
    kubectl.ok(&["rollout", "status", "deployment/web"]).await;
    // The controller copies the cause onto the new ReplicaSet, which is where history reads it.
    wait_for(&sb, "the change cause on the new ReplicaSet", |_| {
        (annotation(&rs_with_image(&sb, "web", "repo/web:2"), "kubernetes.io/change-cause") == Some("upgrade to 2"))
            .then_some(())
    })
    .await;

    let out = kubectl.ok(&["rollout", "history", "deployment/web"]).await;
    let lines: Vec<&str> = out.lines().map(str::trim_end).filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], "deployment.apps/web", "{out}");
    assert_eq!(lines[1].split_whitespace().collect::<Vec<_>>(), ["REVISION", "CHANGE-CAUSE"], "{out}");
    let rows: Vec<(&str, &str)> =
        lines[2..].iter().map(|l| l.split_once(char::is_whitespace).map(|(r, c)| (r, c.trim())).unwrap()).collect();
    assert_eq!(rows, [("1", "<none>"), ("2", "upgrade to 2")], "{out}");

    let out = kubectl.ok(&["rollout", "history", "deployment/web", "--revision=1"]).await;
    assert!(out.contains("deployment.apps/web with revision #1"), "{out}");
    assert!(out.contains("repo/web:1") && !out.contains("repo/web:2"), "{out}");
}

/// Rolls `web` through images `repo/web:1`, `:2`, `:3` (revisions 1, 2, 3) with kubectl.
async fn three_revisions(kubectl: &Kubectl) {
    let file = kubectl.write("web.json", &web("web", "repo/web:1", 2));
    kubectl.ok(&["apply", "-f", &file]).await;
    kubectl.ok(&["rollout", "status", "deployment/web"]).await;
    for tag in ["2", "3"] {
        kubectl.ok(&["set", "image", "deployment/web", &format!("web=repo/web:{tag}")]).await;
        kubectl.ok(&["rollout", "status", "deployment/web"]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_undo_to_a_revision_renumbers_it_and_skips_when_already_there() {
    let Some((sb, kubectl)) = start(SCALE).await else { return };
    three_revisions(&kubectl).await;
    assert_eq!(revisions(&sb, "web"), [1, 2, 3]);

    let out = kubectl.ok(&["rollout", "undo", "deployment/web", "--to-revision=1"]).await;
    assert_eq!(out.trim(), "deployment.apps/web rolled back");
    kubectl.ok(&["rollout", "status", "deployment/web"]).await;
    wait_for(&sb, "the revisions to settle", |_| (revisions(&sb, "web") == [2, 3, 4]).then_some(())).await;

    let d = deployment(sb.store(), "web");
    assert_eq!(template_image(&d), "repo/web:1");
    assert_eq!(annotation(&d, "deployment.kubernetes.io/revision"), Some("4"));
    let rolled_back = rs_with_image(&sb, "web", "repo/web:1");
    assert_eq!(annotation(&rolled_back, "deployment.kubernetes.io/revision"), Some("4"));
    assert_eq!(annotation(&rolled_back, "deployment.kubernetes.io/revision-history"), Some("1"));
    assert_eq!(rolled_back["spec"]["replicas"], 2);
    assert!(
        d["spec"]["template"]["metadata"]["labels"].get("pod-template-hash").is_none(),
        "kubectl strips the hash label from the template it restores"
    );

    let out = kubectl.ok(&["rollout", "undo", "deployment/web", "--to-revision=4"]).await;
    assert_eq!(out.trim(), "deployment.apps/web skipped rollback (current template already matches revision 4)");
    let run = kubectl.fails(&["rollout", "undo", "deployment/web", "--to-revision=9"]).await;
    assert!(run.stderr.contains("unable to find specified revision 9 in history"), "{run}");
    assert_eq!(revisions(&sb, "web"), [2, 3, 4], "neither a skipped nor a failed undo writes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_undo_returns_to_the_previous_revision() {
    let Some((sb, kubectl)) = start(SCALE).await else { return };
    three_revisions(&kubectl).await;

    let out = kubectl.ok(&["rollout", "undo", "deployment/web"]).await;
    assert_eq!(out.trim(), "deployment.apps/web rolled back");
    let out = kubectl.ok(&["rollout", "status", "deployment/web"]).await;
    assert!(out.ends_with("deployment \"web\" successfully rolled out\n"), "{out}");
    wait_for(&sb, "the revisions to settle", |_| (revisions(&sb, "web") == [1, 3, 4]).then_some(())).await;

    let d = deployment(sb.store(), "web");
    assert_eq!(template_image(&d), "repo/web:2");
    assert_eq!(annotation(&d, "deployment.kubernetes.io/revision"), Some("4"));
    let back = rs_with_image(&sb, "web", "repo/web:2");
    assert_eq!(annotation(&back, "deployment.kubernetes.io/revision-history"), Some("2"));
    assert_eq!(rs_with_image(&sb, "web", "repo/web:3")["spec"]["replicas"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_resizes_the_deployment_and_its_pods_follow() {
    let Some((sb, kubectl)) = start(SCALE).await else { return };
    let file = kubectl.write("web.json", &web("web", "repo/web:1", 2));
    kubectl.ok(&["apply", "-f", &file]).await;
    kubectl.ok(&["rollout", "status", "deployment/web"]).await;

    assert_eq!(kubectl.ok(&["scale", "deployment/web", "--replicas=4"]).await.trim(), "deployment.apps/web scaled");
    let out = kubectl.ok(&["rollout", "status", "deployment/web"]).await;
    assert!(out.ends_with("deployment \"web\" successfully rolled out\n"), "{out}");
    assert_eq!(deployment(sb.store(), "web")["status"]["availableReplicas"], 4);
    assert_eq!(pods(sb.store(), "web").len(), 4);

    assert_eq!(kubectl.ok(&["scale", "deployment/web", "--replicas=1"]).await.trim(), "deployment.apps/web scaled");
    wait_for(&sb, "the surplus pods to be removed", |s| (pods(s, "web").len() == 1).then_some(())).await;
    let d = deployment(sb.store(), "web");
    assert_eq!((d["spec"]["replicas"].as_i64(), d["status"]["replicas"].as_i64()), (Some(1), Some(1)));
    assert_eq!(revisions(&sb, "web"), [1], "scaling is not a new revision");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_deployment_does_not_roll_until_resumed() {
    let Some((sb, kubectl)) = start(SCALE).await else { return };
    let file = kubectl.write("web.json", &web("web", "repo/web:1", 2));
    kubectl.ok(&["apply", "-f", &file]).await;
    kubectl.ok(&["rollout", "status", "deployment/web"]).await;

    assert_eq!(kubectl.ok(&["rollout", "pause", "deployment/web"]).await.trim(), "deployment.apps/web paused");
    kubectl.ok(&["set", "image", "deployment/web", "web=repo/web:2"]).await;
    let generation = deployment(sb.store(), "web")["metadata"]["generation"].as_i64().unwrap();
    let d = wait_for(&sb, "the controller to observe the paused change", |s| {
        let d = deployment(s, "web");
        (d["status"]["observedGeneration"].as_i64() >= Some(generation)).then_some(d)
    })
    .await;
    assert_eq!(progressing_reason(&d).as_deref(), Some("DeploymentPaused"));
    let rss = replica_sets(sb.store(), "web");
    assert_eq!(rss.len(), 1, "no new ReplicaSet while paused");
    assert_eq!(template_image(&rss[0]), "repo/web:1");

    assert_eq!(kubectl.ok(&["rollout", "resume", "deployment/web"]).await.trim(), "deployment.apps/web resumed");
    let out = kubectl.ok(&["rollout", "status", "deployment/web"]).await;
    assert!(out.ends_with("deployment \"web\" successfully rolled out\n"), "{out}");
    assert_eq!(rs_with_image(&sb, "web", "repo/web:2")["spec"]["replicas"], 2);
    assert_eq!(revisions(&sb, "web"), [1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_restart_replaces_every_pod() {
    let Some((sb, kubectl)) = start(SCALE).await else { return };
    let file = kubectl.write("web.json", &web("web", "repo/web:1", 2));
    kubectl.ok(&["apply", "-f", &file]).await;
    kubectl.ok(&["rollout", "status", "deployment/web"]).await;
    let before: BTreeSet<String> =
        pods(sb.store(), "web").iter().map(|p| p["metadata"]["uid"].as_str().unwrap().to_string()).collect();

    assert_eq!(kubectl.ok(&["rollout", "restart", "deployment/web"]).await.trim(), "deployment.apps/web restarted");
    kubectl.ok(&["rollout", "status", "deployment/web"]).await;

    let d = deployment(sb.store(), "web");
    assert!(d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].is_string(), "{d:#}");
    assert_eq!(revisions(&sb, "web"), [1, 2]);
    let after = wait_for(&sb, "the old pods to be removed", |s| {
        let p = pods(s, "web");
        (p.len() == 2).then_some(p)
    })
    .await;
    for pod in after {
        assert!(!before.contains(pod["metadata"]["uid"].as_str().unwrap()), "pod {} survived", pod["metadata"]["name"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_garbage_collects_the_replica_sets_and_pods() {
    let Some((sb, kubectl)) = start(SCALE).await else { return };
    let file = kubectl.write("web.json", &web("web", "repo/web:1", 2));
    kubectl.ok(&["apply", "-f", &file]).await;
    kubectl.ok(&["rollout", "status", "deployment/web"]).await;
    kubectl.ok(&["set", "image", "deployment/web", "web=repo/web:2"]).await;
    kubectl.ok(&["rollout", "status", "deployment/web"]).await;
    let rs_names: Vec<String> =
        replica_sets(sb.store(), "web").iter().map(|r| r["metadata"]["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(rs_names.len(), 2);

    assert_eq!(kubectl.ok(&["delete", "deployment", "web"]).await.trim(), "deployment.apps \"web\" deleted");
    wait_for(&sb, "the ReplicaSets and pods to be collected", |s| {
        let rs_left = rs_names.iter().any(|n| s.get(Kind::ReplicaSet, "default", n).is_ok());
        (!rs_left && pods(s, "web").is_empty()).then_some(())
    })
    .await;
    let run = kubectl.run(&["get", "deployment", "web"]).await;
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.stderr.contains("deployments.apps \"web\" not found"), "{run}");
    let out = kubectl.run(&["get", "replicasets,pods"]).await;
    assert!(out.stderr.contains("No resources found in default namespace."), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_show_a_crashing_containers_lines_and_its_previous_instance() {
    let Some((sb, kubectl)) = start(SCALE).await else { return };
    sb.images().set("repo/web:crash", ImageBehaviour::crashing(3, 2.0, &["starting web", "panic: boom"])).unwrap();
    let file = kubectl.write("web.json", &web("web", "repo/web:crash", 1));
    kubectl.ok(&["apply", "-f", &file]).await;
    let pod = wait_for(&sb, "the container to restart", |s| {
        pods(s, "web").into_iter().find(|p| p["status"]["containerStatuses"][0]["restartCount"].as_i64() >= Some(1))
    })
    .await;
    let name = pod["metadata"]["name"].as_str().unwrap();

    let out = kubectl.ok(&["logs", name]).await;
    assert_eq!(out.lines().collect::<Vec<_>>(), ["starting web", "panic: boom"]);
    let out = kubectl.ok(&["logs", name, "--previous"]).await;
    assert_eq!(out.lines().collect::<Vec<_>>(), ["starting web", "panic: boom"]);
    let last = &pod["status"]["containerStatuses"][0]["lastState"]["terminated"];
    assert_eq!((last["exitCode"].as_i64(), last["reason"].as_str()), (Some(3), Some("Error")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_pod_shows_the_pods_events() {
    let Some((sb, kubectl)) = start(SCALE).await else { return };
    let file = kubectl.write("web.json", &web("web", "repo/web:1", 1));
    kubectl.ok(&["apply", "-f", &file]).await;
    kubectl.ok(&["rollout", "status", "deployment/web"]).await;
    let name = pods(sb.store(), "web")[0]["metadata"]["name"].as_str().unwrap().to_string();

    let out = kubectl.ok(&["describe", "pod", &name]).await;
    assert_eq!(out.lines().next().map(|l| l.split_whitespace().collect::<Vec<_>>()), Some(vec!["Name:", &name]));
    let events = &out[out.find("Events:").unwrap_or_else(|| panic!("no Events section:\n{out}"))..];
    for (reason, message) in [
        ("Scheduled", format!("Successfully assigned default/{name} to sandbox-node")),
        ("Pulling", "Pulling image \"repo/web:1\"".to_string()),
        ("Pulled", "Successfully pulled image \"repo/web:1\"".to_string()),
        // The wording of kubelets since 1.32 (older ones say "Created container web").
        ("Created", "Created container: web".to_string()),
        ("Started", "Started container: web".to_string()),
    ] {
        assert!(
            events.lines().any(|l| l.contains(&format!(" {reason} ")) && l.contains(&message)),
            "no {reason} event with {message:?}:\n{events}"
        );
    }
}

/// The Done-when scenario of the sandbox: the seed's Deployment (3 replicas, tcpSocket probes on
/// 8443, default 25%/25% strategy, i.e. maxSurge 1 and maxUnavailable 0) applied, rolled to a new
/// tag, watched and undone, all with kubectl, stepping exactly as the upstream controller does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_deployment_rolls_forward_and_back_in_the_controllers_steps() {
    let Some((sb, kubectl)) = start(SCALE).await else { return };
    const REPO: &str = "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/ms-account-management";
    const NAME: &str = "ms-account-management";
    let (v1, v2) = (format!("{REPO}:latest-release-1.0.0"), format!("{REPO}:latest-release-1.0.1"));
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/seed/deployment.yaml");
    // The seed's images live in the sandbox registry, whose pulls succeed only for pushed tags.
    sb.ecr().create_repository(NAME).unwrap();
    for tag in ["latest-release-1.0.0", "latest-release-1.0.1"] {
        sb.ecr().push_image(NAME, &[tag], Default::default()).unwrap();
    }
    let mut events = EventLog::start(sb.store());

    assert_eq!(kubectl.ok(&["apply", "-f", seed]).await.trim(), format!("deployment.apps/{NAME} created"));
    let d = deployment(sb.store(), NAME);
    assert_eq!((d["spec"]["replicas"].as_i64(), template_image(&d)), (Some(3), v1.as_str()), "the seed manifest");
    let probe = &d["spec"]["template"]["spec"]["containers"][0]["readinessProbe"];
    assert_eq!((probe["tcpSocket"]["port"].as_i64(), probe["initialDelaySeconds"].as_i64()), (Some(8443), Some(5)));
    let out = kubectl.ok(&["rollout", "status", &format!("deployment/{NAME}")]).await;
    assert!(out.ends_with(&format!("deployment \"{NAME}\" successfully rolled out\n")), "{out}");
    let a = rs_with_image(&sb, NAME, &v1)["metadata"]["name"].as_str().unwrap().to_string();
    assert_eq!(events.messages("ScalingReplicaSet", NAME), [format!("Scaled up replica set {a} to 3")]);

    let out = kubectl.ok(&["set", "image", &format!("deployment/{NAME}"), &format!("{NAME}={v2}")]).await;
    assert_eq!(out.trim(), format!("deployment.apps/{NAME} image updated"));
    let out = kubectl.ok(&["rollout", "status", &format!("deployment/{NAME}")]).await;
    assert!(out.ends_with(&format!("deployment \"{NAME}\" successfully rolled out\n")), "{out}");
    let b = rs_with_image(&sb, NAME, &v2)["metadata"]["name"].as_str().unwrap().to_string();
    // maxSurge 1, maxUnavailable 0: one new pod at a time, an old one removed only once it is available.
    let forward = [
        format!("Scaled up replica set {b} to 1"),
        format!("Scaled down replica set {a} to 2 from 3"),
        format!("Scaled up replica set {b} to 2 from 1"),
        format!("Scaled down replica set {a} to 1 from 2"),
        format!("Scaled up replica set {b} to 3 from 2"),
        format!("Scaled down replica set {a} to 0 from 1"),
    ];
    assert_eq!(events.messages("ScalingReplicaSet", NAME)[1..], forward);
    assert_eq!(revisions(&sb, NAME), [1, 2]);

    assert_eq!(
        kubectl.ok(&["rollout", "undo", &format!("deployment/{NAME}")]).await.trim(),
        format!("deployment.apps/{NAME} rolled back")
    );
    let out = kubectl.ok(&["rollout", "status", &format!("deployment/{NAME}")]).await;
    assert!(out.ends_with(&format!("deployment \"{NAME}\" successfully rolled out\n")), "{out}");
    // The old ReplicaSet comes back from zero, so even its first step reports where it came from.
    let back = [
        format!("Scaled up replica set {a} to 1 from 0"),
        format!("Scaled down replica set {b} to 2 from 3"),
        format!("Scaled up replica set {a} to 2 from 1"),
        format!("Scaled down replica set {b} to 1 from 2"),
        format!("Scaled up replica set {a} to 3 from 2"),
        format!("Scaled down replica set {b} to 0 from 1"),
    ];
    assert_eq!(events.messages("ScalingReplicaSet", NAME)[7..], back);

    wait_for(&sb, "the revisions to settle", |_| (revisions(&sb, NAME) == [2, 3]).then_some(())).await;
    let d = deployment(sb.store(), NAME);
    assert_eq!(template_image(&d), v1);
    assert_eq!(annotation(&d, "deployment.kubernetes.io/revision"), Some("3"));
    let restored = rs_with_image(&sb, NAME, &v1);
    assert_eq!(annotation(&restored, "deployment.kubernetes.io/revision-history"), Some("1"));
    wait_for(&sb, "only the restored pods to remain", |s| {
        let p = pods(s, NAME);
        (p.len() == 3 && p.iter().all(|p| template_image(p) == v1)).then_some(())
    })
    .await;
    let out = kubectl.ok(&["rollout", "history", &format!("deployment/{NAME}")]).await;
    let revs: Vec<&str> = out.lines().skip(2).filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(revs, ["2", "3"], "{out}");
}
