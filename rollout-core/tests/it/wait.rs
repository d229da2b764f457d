//! Waiting: fail-fast verdicts with reasons, timeouts, the progress deadline, other kinds, and a
//! soak under seeded fault schedules.

use std::time::{Duration, Instant};

use futures::future::join_all;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use kube::api::{Api, PostParams};
use rollout_core::Error;
use rollout_core::deploy::{DeployOptions, DeployRequest, deploy, deploy_all};
use rollout_core::report::Outcome;
use rollout_core::wait::{ProgressEvent, WaitOptions, WaitTarget, no_progress, wait, wait_all};
use rollout_core::workload::WorkloadRef;
use rollout_sandbox::{ErrorRule, FaultConfig, ImageBehaviour, Kind};
use serde_json::json;

use crate::cluster::{Collected, TestCluster, bounded};

const BOUND: Duration = Duration::from_secs(120);

fn request(cluster: &TestCluster, name: &str, image: &str) -> DeployRequest {
    DeployRequest::new(WorkloadRef::deployment(&cluster.namespace, name), vec![format!("app={image}").parse().unwrap()])
}

fn sim_seconds(from: jiff::Timestamp, to: jiff::Timestamp) -> i64 {
    to.duration_since(from).as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_missing_from_the_registry_fails_fast_with_the_pull_error() {
    let cluster = TestCluster::start("wait_unpullable").await;
    let Some(_) =
        cluster.sandbox_or_skip("the unpullable-image scenario", "an image tag that does not exist in its registry")
    else {
        return cluster.finish().await;
    };
    bounded(BOUND, async {
        let v1 = cluster.ecr_image("ms-account-management", "latest-release-1.0.0", true).unwrap();
        cluster.create_ready("web", &v1, 2, 600).await;
        // Never pushed: the sandbox registry answers the kubelet's pull with "not found".
        let bad = cluster.ecr_image("ms-account-management", "latest-release-1.0.1", false).unwrap();
        let started = cluster.now();
        let err = deploy(
            &cluster.client,
            &request(&cluster, "web", &bad),
            &DeployOptions::new(cluster.timeout(60)),
            &no_progress,
        )
        .await
        .unwrap_err();
        let Error::RolloutFailed { report } = err else { panic!("expected a failed rollout") };
        let elapsed = sim_seconds(started, cluster.now());
        assert!(matches!(report.reason.as_deref(), Some("ErrImagePull" | "ImagePullBackOff")), "{report:#?}");
        assert!(report.message.contains(&format!("{bad}: not found")), "{}", report.message);
        // The diagnosis gives up after three failed pulls (about 30 s) or 60 s, far before the 600 s deadline.
        assert!(elapsed <= 120, "failed after {elapsed} simulated seconds");
        let problem = &report.problems[0];
        assert!(problem.fatal && problem.container.as_deref() == Some("app"));
        assert!(problem.events.iter().any(|e| e.message.contains("Failed to pull image")), "{:?}", problem.events);
        assert_eq!(report.outcome, Outcome::Failed);
    })
    .await;
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_image_fails_with_crash_loop_back_off_and_its_log_lines() {
    let cluster = TestCluster::start("wait_crashing").await;
    let Some(_) =
        cluster.sandbox_or_skip("the crash-loop scenario", "an image whose container exits with an error at start")
    else {
        return cluster.finish().await;
    };
    bounded(BOUND, async {
        cluster.create_ready("web", &cluster.image(1), 2, 600).await;
        let bad = cluster.bad_image(
            "crashing",
            ImageBehaviour::crashing(3, 2.0, &["starting ms-account-management", "panic: missing DATABASE_URL"]),
        );
        let started = cluster.now();
        let err = deploy(
            &cluster.client,
            &request(&cluster, "web", &bad),
            &DeployOptions::new(cluster.timeout(60)),
            &no_progress,
        )
        .await
        .unwrap_err();
        let Error::RolloutFailed { report } = err else { panic!("expected a failed rollout") };
        assert_eq!(report.reason.as_deref(), Some("CrashLoopBackOff"), "{report:#?}");
        assert!(sim_seconds(started, cluster.now()) < 300, "far before the progress deadline");
        let problem = &report.problems[0];
        assert_eq!(problem.exit_code, Some(3));
        assert!(problem.restart_count >= 3);
        assert_eq!(problem.log_tail.last().map(String::as_str), Some("panic: missing DATABASE_URL"), "{problem:#?}");
        let json = serde_json::to_value(&*report).unwrap();
        assert_eq!(json["problems"][0]["log_tail"][1], "panic: missing DATABASE_URL");
    })
    .await;
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_never_ready_image_times_out_naming_the_failing_readiness_probe() {
    let cluster = TestCluster::start("wait_never_ready").await;
    let Some(_) =
        cluster.sandbox_or_skip("the never-ready scenario", "an image that runs but never listens on its probe port")
    else {
        return cluster.finish().await;
    };
    bounded(BOUND, async {
        cluster.create_ready("web", &cluster.image(1), 1, 3600).await;
        let bad = cluster.bad_image("never-ready", ImageBehaviour::never_ready());
        let timeout = Duration::from_secs(2);
        let started = Instant::now();
        let err = deploy(&cluster.client, &request(&cluster, "web", &bad), &DeployOptions::new(timeout), &no_progress)
            .await
            .unwrap_err();
        let waited = started.elapsed();
        let Error::RolloutTimedOut { report } = err else { panic!("expected a timeout") };
        assert_eq!(report.outcome, Outcome::TimedOut);
        assert_eq!(report.reason.as_deref(), Some("Timeout"));
        assert!(
            report.message.starts_with("timed out after 2s: Waiting for deployment \"web\" rollout to finish"),
            "{}",
            report.message
        );
        assert!(
            report.message.contains("ReadinessProbeFailed: Readiness probe failed: dial tcp"),
            "{}",
            report.message
        );
        assert_eq!(report.problems[0].reason, "ReadinessProbeFailed");
        // An upper bound that only catches a wait that ignores its timeout.
        assert!(waited < timeout + Duration::from_secs(1), "waited {waited:?}");
    })
    .await;
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_progress_deadline_fails_the_rollout_with_kubectls_message() {
    let cluster = TestCluster::start("wait_deadline").await;
    let Some(_) = cluster.sandbox_or_skip("the progress-deadline scenario", "an image that never becomes ready") else {
        return cluster.finish().await;
    };
    bounded(BOUND, async {
        cluster.create_ready("web", &cluster.image(1), 1, 30).await;
        let bad = cluster.bad_image("stuck", ImageBehaviour::never_ready());
        let mut options = DeployOptions::new(cluster.timeout(60));
        options.wait.fail_fast = false;
        let err = deploy(&cluster.client, &request(&cluster, "web", &bad), &options, &no_progress).await.unwrap_err();
        let Error::RolloutFailed { report } = err else { panic!("expected a failure") };
        assert_eq!(report.reason.as_deref(), Some("ProgressDeadlineExceeded"));
        assert!(
            report.message.starts_with("deployment \"web\" exceeded its progress deadline (ReplicaSet \"web-"),
            "{}",
            report.message
        );
    })
    .await;
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_wait_follows_kubectl_and_reports_a_missing_workload() {
    let cluster = TestCluster::start("wait_plain").await;
    bounded(BOUND, async {
        cluster.create(cluster.deployment("web", &cluster.image(1), 2, 600)).await;
        let options = WaitOptions::new(cluster.timeout(60));
        let report = wait(&cluster.client, &WorkloadRef::deployment(&cluster.namespace, "web"), &options, &no_progress)
            .await
            .unwrap();
        assert_eq!(report.message, "deployment \"web\" successfully rolled out");
        assert_eq!(report.images[0].new, cluster.image(1));
        let err = wait(&cluster.client, &WorkloadRef::deployment(&cluster.namespace, "nope"), &options, &no_progress)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::WorkloadNotFound { .. }), "{err}");
    })
    .await;
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statefulsets_are_judged_by_kubectls_rules() {
    let cluster = TestCluster::start("wait_statefulset").await;
    let Some(sandbox) =
        cluster.sandbox_or_skip("the StatefulSet status scenario", "a StatefulSet whose status the test sets")
    else {
        return cluster.finish().await;
    };
    bounded(BOUND, async {
        let api: Api<StatefulSet> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
        let sts: StatefulSet = serde_json::from_value(json!({
            "metadata": {"name": "db"},
            "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                     "updateStrategy": {"type": "RollingUpdate"},
                     "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": "registry.example/db:1"}]}}}
        }))
        .unwrap();
        api.create(&PostParams::default(), &sts).await.unwrap();
        // No StatefulSet controller runs in the sandbox: write the status a finished rollout has.
        write_status(sandbox, Kind::StatefulSet, &cluster.namespace, "db", json!({"observedGeneration": 1, "replicas": 2,
            "readyReplicas": 2, "currentReplicas": 2, "updatedReplicas": 2, "currentRevision": "db-1", "updateRevision": "db-1"}));
        let target = WorkloadRef::new(rollout_core::status::WorkloadKind::StatefulSet, &cluster.namespace, "db");
        let report = wait(&cluster.client, &target, &WaitOptions::new(cluster.timeout(30)), &no_progress).await.unwrap();
        assert_eq!(report.message, "statefulset rolling update complete 2 pods at revision db-1...");
    })
    .await;
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemonset_is_waited_for_until_every_node_runs_an_available_new_pod() {
    let cluster = TestCluster::start("wait_daemonset").await;
    let Some(sandbox) =
        cluster.sandbox_or_skip("the DaemonSet status scenario", "a DaemonSet whose status the test sets")
    else {
        return cluster.finish().await;
    };
    bounded(BOUND, async {
        let api: Api<DaemonSet> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
        let ds: DaemonSet = serde_json::from_value(json!({
            "metadata": {"name": "agent"},
            "spec": {"selector": {"matchLabels": {"app": "agent"}}, "updateStrategy": {"type": "RollingUpdate"},
                     "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "agent", "image": "registry.example/agent:2"}]}}}
        }))
        .unwrap();
        api.create(&PostParams::default(), &ds).await.unwrap();
        // No DaemonSet controller runs in the sandbox: the test writes the status of a rollout over two
        // nodes, halfway, then done.
        let set_status = |updated: i64, available: i64| {
            write_status(sandbox, Kind::DaemonSet, &cluster.namespace, "agent", json!({"observedGeneration": 1,
                "desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": available,
                "numberAvailable": available, "updatedNumberScheduled": updated}));
        };
        set_status(1, 1);
        let halfway = tokio::sync::Notify::new();
        let collected = Collected::default();
        let collect = collected.callback();
        let progress = |event: &ProgressEvent| {
            collect(event);
            if matches!(event, ProgressEvent::Status { .. }) {
                halfway.notify_one();
            }
        };
        let target = WorkloadRef::new(rollout_core::status::WorkloadKind::DaemonSet, &cluster.namespace, "agent");
        let options = WaitOptions::new(cluster.timeout(30));
        let finish = async {
            halfway.notified().await;
            set_status(2, 2);
        };
        let (report, ()) = tokio::join!(wait(&cluster.client, &target, &options, &progress), finish);
        let report = report.unwrap();
        assert_eq!(report.outcome, Outcome::Succeeded);
        assert_eq!(report.message, r#"daemon set "agent" successfully rolled out"#);
        let first = collected.events().into_iter().find_map(|e| match e {
            ProgressEvent::Status { status, .. } => Some(status.message()),
            _ => None,
        });
        assert_eq!(
            first.as_deref(),
            Some(r#"Waiting for daemon set "agent" rollout to finish: 1 out of 2 new pods have been updated..."#)
        );
    })
    .await;
    cluster.finish().await;
}

/// Writes the status of a workload no sandbox controller drives, as its controller would.
fn write_status(
    sandbox: &rollout_sandbox::Sandbox,
    kind: Kind,
    namespace: &str,
    name: &str,
    status: serde_json::Value,
) {
    sandbox
        .store()
        .modify(kind, namespace, name, rollout_sandbox::store::Subresource::Status, false, |cur| {
            let mut next = cur.clone();
            next["status"] = status.clone();
            Ok(next)
        })
        .unwrap();
}

/// One seeded fault schedule: healthy, crashing and never-ready rollouts with rollback, under
/// dropped watches, expired resource versions, throttling, server errors and write conflicts.
/// Returns how many 5xx answers, 409 conflicts and watch requests the client saw under faults.
async fn soak_run(seed: u64) -> (usize, usize, usize) {
    let mut cluster = TestCluster::start_with(&format!("soak_{seed}"), seed).await;
    cluster.expect_server_errors = true;
    let Some(sandbox) = cluster.sandbox_or_skip("the fault soak", "the sandbox's fault injection") else {
        cluster.finish().await;
        return (0, 0, 0);
    };
    let (v1, v2) = (cluster.image(1), cluster.image(2));
    let crashing = cluster.bad_image("soak-crash", ImageBehaviour::crashing(1, 1.0, &["boom"]));
    let stuck = cluster.bad_image("soak-stuck", ImageBehaviour::never_ready());
    let names = ["good-a", "good-b", "crash", "stuck"];
    for name in names {
        cluster.create_ready(name, &v1, 2, 3600).await;
    }
    let generations_before: Vec<i64> =
        join_all(names.iter().map(|n| cluster.get(n))).await.iter().map(|d| d.metadata.generation.unwrap()).collect();
    assert_eq!(generations_before, [1, 1, 1, 1]);

    let rule = |verb: Option<&str>, status: u16, probability: f64| ErrorRule {
        verb: verb.map(Into::into),
        resource: None,
        status,
        probability,
        retry_after_seconds: 1,
    };
    sandbox
        .faults()
        .set(FaultConfig {
            errors: vec![
                rule(None, 500, 0.03),
                rule(None, 503, 0.03),
                rule(Some("list"), 429, 0.05),
                rule(Some("patch"), 500, 0.1),
            ],
            write_conflict_probability: 0.3,
            drop_watch_after_events: Some(7),
            watch_expired_probability: 0.2,
            ..FaultConfig::default()
        })
        .unwrap();

    let requests = vec![
        request(&cluster, "good-a", &v2),
        request(&cluster, "good-b", &v2),
        request(&cluster, "crash", &crashing),
        request(&cluster, "stuck", &stuck),
    ];
    let timeout = Duration::from_secs(8);
    let mut options = DeployOptions::new(timeout);
    options.rollback_on_failure = true;
    options.rollback_timeout = Duration::from_secs(12);
    cluster.requests.clear();
    let started = Instant::now();
    let combined = deploy_all(&cluster.clusters(), &requests, &options, &no_progress).await.unwrap();
    let took = started.elapsed();
    sandbox.faults().clear();
    let seen = cluster.requests.all();
    let counts = (
        seen.iter().filter(|s| s.status.is_some_and(|c| c >= 500)).count(),
        seen.iter().filter(|s| s.status == Some(409)).count(),
        seen.iter().filter(|s| s.is_watch()).count(),
    );

    let summary: Vec<_> = combined
        .reports
        .iter()
        .map(|r| (r.target.name.clone(), r.outcome, r.reason.clone(), r.message.clone()))
        .collect();
    let outcomes: Vec<Outcome> = combined.reports.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [Outcome::Succeeded, Outcome::Succeeded, Outcome::RolledBack, Outcome::RolledBack],
        "seed {seed}: {summary:#?}"
    );
    assert_eq!(combined.reports[2].reason.as_deref(), Some("CrashLoopBackOff"), "seed {seed}: {summary:#?}");
    assert_eq!(combined.reports[3].reason.as_deref(), Some("Timeout"), "seed {seed}: {summary:#?}");
    for r in &combined.reports[2..] {
        let rollback = r.rollback.as_ref().expect("rolled back");
        assert_eq!(rollback.outcome, Outcome::Succeeded, "seed {seed}: {rollback:#?}");
        assert_eq!(rollback.images[0].new, v1);
    }
    // An upper bound that only catches a wait that overran its timeouts.
    assert!(took < timeout + options.rollback_timeout + Duration::from_secs(1), "seed {seed}: took {took:?}");

    // No write was applied twice: one image write each, plus one rollback for the failures.
    let after: Vec<Deployment> = join_all(names.iter().map(|n| cluster.get(n))).await;
    let generations: Vec<i64> = after.iter().map(|d| d.metadata.generation.unwrap()).collect();
    assert_eq!(generations, [2, 2, 3, 3], "seed {seed}");
    let revisions: Vec<String> = after
        .iter()
        .map(|d| d.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"].clone())
        .collect();
    assert_eq!(revisions, ["2", "2", "3", "3"], "seed {seed}");
    let image_of =
        |d: &Deployment| d.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0].image.clone().unwrap();
    assert_eq!(after.iter().map(image_of).collect::<Vec<_>>(), [v2.clone(), v2.clone(), v1.clone(), v1.clone()]);
    cluster.finish().await;
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollouts_stay_correct_under_seeded_fault_schedules() {
    bounded(Duration::from_secs(240), async {
        let counts = join_all((1..=4).map(soak_run)).await;
        if counts.iter().all(|c| *c == (0, 0, 0)) {
            return; // skipped on a real cluster
        }
        let total = counts.iter().fold((0, 0, 0), |a, c| (a.0 + c.0, a.1 + c.1, a.2 + c.2));
        // The faults really happened: server errors, conflicts, and watches restarted many times over.
        assert!(total.0 > 0 && total.1 > 0, "{counts:?}");
        assert!(total.2 > 4 * 6, "watches were restarted: {counts:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_for_many_workloads_return_one_combined_report() {
    let cluster = TestCluster::start("wait_many").await;
    bounded(BOUND, async {
        for name in ["a", "b", "c"] {
            cluster.create(cluster.deployment(name, &cluster.image(1), 1, 600)).await;
        }
        let targets: Vec<WaitTarget> = ["a", "b", "c", "d"]
            .iter()
            .map(|n| WaitTarget { workload: WorkloadRef::deployment(&cluster.namespace, *n), since: None })
            .collect();
        let combined = wait_all(&cluster.clusters(), &targets, &WaitOptions::new(cluster.timeout(60)), &no_progress)
            .await
            .unwrap();
        let outcomes: Vec<(Outcome, Option<&str>)> =
            combined.reports.iter().map(|r| (r.outcome, r.reason.as_deref())).collect();
        assert_eq!(
            outcomes,
            [
                (Outcome::Succeeded, None),
                (Outcome::Succeeded, None),
                (Outcome::Succeeded, None),
                (Outcome::Failed, Some("NotFound"))
            ]
        );
        assert_eq!(combined.outcome, Outcome::Failed);
        assert_eq!(cluster.requests.watches_of("deployments"), 1);
    })
    .await;
    cluster.finish().await;
}
