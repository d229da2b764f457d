//! History and rollback: last known good, revision N, tags, paused Deployments, the stale deadline
//! after a rollback, and a cross-check with the real kubectl.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use rollout_core::Error;
use rollout_core::deploy::{DeployOptions, DeployRequest, deploy};
use rollout_core::history::{RollbackTo, deployed_previous_tag, history, rollback};
use rollout_core::report::Outcome;
use rollout_core::wait::{WaitOptions, no_progress};
use rollout_core::workload::WorkloadRef;
use rollout_sandbox::ImageBehaviour;

use crate::cluster::{TestCluster, bounded};

const BOUND: Duration = Duration::from_secs(120);

fn request(cluster: &TestCluster, image: &str) -> DeployRequest {
    DeployRequest::new(
        WorkloadRef::deployment(&cluster.namespace, "web"),
        vec![format!("app={image}").parse().unwrap()],
    )
}

fn web(cluster: &TestCluster) -> WorkloadRef {
    WorkloadRef::deployment(&cluster.namespace, "web")
}

fn template_image(d: &k8s_openapi::api::apps::v1::Deployment) -> String {
    d.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0].image.clone().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_rollback_returns_to_the_last_healthy_release_and_waits_for_it() {
    let cluster = TestCluster::start("history_auto_rollback").await;
    let Some(_) = cluster.sandbox_or_skip("the automatic-rollback scenario", "a never-ready and a crashing image")
    else {
        return cluster.finish().await;
    };
    bounded(BOUND, async {
        let v1 = cluster.image(1);
        cluster.create_ready("web", &v1, 2, 3600).await;
        // Revision 2 never became healthy: it timed out and was left as it was.
        let slow = cluster.bad_image("never-ready", ImageBehaviour::never_ready());
        let err = deploy(
            &cluster.client,
            &request(&cluster, &slow),
            &DeployOptions::new(Duration::from_secs(1)),
            &no_progress,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::RolloutTimedOut { .. }), "{err}");

        // Revision 3 crashes; the rollback skips the unhealthy revision 2 and goes back to revision 1.
        let crashing = cluster.bad_image("crashing", ImageBehaviour::crashing(1, 1.0, &["boom"]));
        let mut options = DeployOptions::new(cluster.timeout(60));
        options.rollback_on_failure = true;
        let err = deploy(&cluster.client, &request(&cluster, &crashing), &options, &no_progress).await.unwrap_err();
        let Error::RolloutFailed { report } = err else { panic!("the rollout failed") };
        assert_eq!(report.outcome, Outcome::RolledBack);
        assert_eq!(report.reason.as_deref(), Some("CrashLoopBackOff"));
        let rollback = report.rollback.as_ref().expect("a rollback report");
        assert_eq!(rollback.outcome, Outcome::Succeeded, "{rollback:#?}");
        assert_eq!(rollback.images[0].new, v1);
        assert_eq!(rollback.images[0].previous.as_deref(), Some(crashing.as_str()));
        assert_eq!(rollback.revision, Some(4), "revision 1 comes back as revision 4");
        assert_eq!(template_image(&cluster.get("web").await), v1);
        assert!(
            report.summary().contains("; rollback succeeded: deployment \"web\" successfully rolled out"),
            "{}",
            report.summary()
        );

        let h = history(&cluster.client, &web(&cluster)).await.unwrap();
        let numbers: Vec<i64> = h.revisions.iter().map(|r| r.revision).collect();
        assert_eq!(numbers, [2, 3, 4]);
        assert!(h.current().unwrap().healthy_at.is_some());
    })
    .await;
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_goes_to_revision_n_to_a_tag_and_skips_when_already_there() {
    let cluster = TestCluster::start("history_rollback_to").await;
    bounded(BOUND, async {
        let (v1, v2, v3) = (cluster.image(1), cluster.image(2), cluster.image(3));
        cluster.create_ready("web", &v1, 2, 600).await;
        let options = DeployOptions::new(cluster.timeout(60));
        deploy(&cluster.client, &request(&cluster, &v2), &options, &no_progress).await.unwrap();
        deploy(&cluster.client, &request(&cluster, &v3), &options, &no_progress).await.unwrap();
        let wait = WaitOptions::new(cluster.timeout(60));

        let report =
            rollback(&cluster.client, &web(&cluster), &RollbackTo::Revision { revision: 1 }, &wait, &no_progress)
                .await
                .unwrap();
        assert_eq!((report.outcome, report.revision), (Outcome::Succeeded, Some(4)));
        assert_eq!(template_image(&cluster.get("web").await), v1);
        assert_eq!(report.change_cause, None, "revision 1 was created without a change-cause");

        let tag = v2.rsplit_once(':').unwrap().1.to_owned();
        let report =
            rollback(&cluster.client, &web(&cluster), &RollbackTo::Tag { tag: tag.clone() }, &wait, &no_progress)
                .await
                .unwrap();
        assert_eq!(report.outcome, Outcome::Succeeded);
        let d = cluster.get("web").await;
        assert_eq!(template_image(&d), v2);
        let cause = format!("rollout: app={v2}");
        assert_eq!(report.change_cause.as_deref(), Some(cause.as_str()));
        let annotations = d.metadata.annotations.unwrap();
        assert_eq!(annotations["kubernetes.io/change-cause"], cause, "the change-cause comes back with the template");

        let again =
            rollback(&cluster.client, &web(&cluster), &RollbackTo::Tag { tag }, &wait, &no_progress).await.unwrap();
        assert_eq!(again.outcome, Outcome::Unchanged);
        assert!(
            again.message.starts_with("skipped rollback (current template already matches revision"),
            "{}",
            again.message
        );

        let err =
            rollback(&cluster.client, &web(&cluster), &RollbackTo::Revision { revision: 42 }, &wait, &no_progress)
                .await
                .unwrap_err();
        let Error::RevisionNotFound { reason, available, .. } = err else { panic!("revision 42 does not exist") };
        assert_eq!(reason, "unable to find specified revision 42 in history");
        assert_eq!(available, [3, 4, 5]);

        // The deployed previous-tag strategy: the release before the current one that became healthy.
        let previous = deployed_previous_tag(&history(&cluster.client, &web(&cluster)).await.unwrap(), None).unwrap();
        assert_eq!(previous.image, v1);
        assert!(previous.healthy);
    })
    .await;
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_deployment_is_not_rolled_back() {
    let cluster = TestCluster::start("history_paused").await;
    bounded(BOUND, async {
        cluster.create_ready("web", &cluster.image(1), 1, 600).await;
        deploy(
            &cluster.client,
            &request(&cluster, &cluster.image(2)),
            &DeployOptions::new(cluster.timeout(60)),
            &no_progress,
        )
        .await
        .unwrap();
        let api: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
            kube::Api::namespaced(cluster.client.clone(), &cluster.namespace);
        let pause = serde_json::json!({"spec": {"paused": true}});
        api.patch("web", &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&pause)).await.unwrap();
        let err = rollback(
            &cluster.client,
            &web(&cluster),
            &RollbackTo::Previous,
            &WaitOptions::new(cluster.timeout(30)),
            &no_progress,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::PausedDeployment { .. }));
        assert!(
            err.to_string()
                .starts_with("you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume'")
        );
        assert_eq!(template_image(&cluster.get("web").await), cluster.image(2));
    })
    .await;
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_progress_deadline_after_a_rollback_is_not_misread() {
    let cluster = TestCluster::start("history_stale_deadline").await;
    let Some(_) = cluster.sandbox_or_skip("the stale-deadline scenario", "an image that never becomes ready") else {
        return cluster.finish().await;
    };
    bounded(BOUND, async {
        let v1 = cluster.image(1);
        cluster.create_ready("web", &v1, 1, 20).await;
        let stuck = cluster.bad_image("stuck", ImageBehaviour::never_ready());
        let mut options = DeployOptions::new(cluster.timeout(60));
        options.wait.fail_fast = false;
        let err = deploy(&cluster.client, &request(&cluster, &stuck), &options, &no_progress).await.unwrap_err();
        let Error::RolloutFailed { report } = err else { panic!("the deadline passes") };
        assert_eq!(report.reason.as_deref(), Some("ProgressDeadlineExceeded"));

        let d = cluster.get("web").await;
        let conditions = d.status.as_ref().unwrap().conditions.clone().unwrap_or_default();
        let progressing = conditions.iter().find(|c| c.type_ == "Progressing").unwrap();
        assert_eq!(progressing.reason.as_deref(), Some("ProgressDeadlineExceeded"), "the trap is set");

        // The Deployment now carries Progressing=False/ProgressDeadlineExceeded; after the rollback to
        // the existing ReplicaSet the controller keeps it for a while. The wait must not fail on it.
        let report = rollback(
            &cluster.client,
            &web(&cluster),
            &RollbackTo::LastKnownGood,
            &WaitOptions::new(cluster.timeout(60)),
            &no_progress,
        )
        .await
        .expect("the rollback's rollout succeeds");
        assert_eq!(report.outcome, Outcome::Succeeded);
        assert_eq!(report.images[0].new, v1);
        assert_eq!(template_image(&cluster.get("web").await), v1);
    })
    .await;
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_conflicts_that_never_end_fail_the_rollback_instead_of_overwriting() {
    let cluster = TestCluster::start("history_conflicts").await;
    let Some(sandbox) = cluster.sandbox_or_skip("the write-conflict scenario", "the sandbox's fault injection") else {
        return cluster.finish().await;
    };
    bounded(BOUND, async {
        cluster.create_ready("web", &cluster.image(1), 1, 600).await;
        deploy(
            &cluster.client,
            &request(&cluster, &cluster.image(2)),
            &DeployOptions::new(cluster.timeout(60)),
            &no_progress,
        )
        .await
        .unwrap();
        sandbox
            .faults()
            .set(rollout_sandbox::FaultConfig { write_conflict_probability: 1.0, ..Default::default() })
            .unwrap();
        let err = rollback(
            &cluster.client,
            &web(&cluster),
            &RollbackTo::Previous,
            &WaitOptions::new(cluster.timeout(30)),
            &no_progress,
        )
        .await
        .unwrap_err();
        sandbox.faults().clear();
        assert!(matches!(err, Error::ConcurrentModification { .. }), "{err}");
        assert_eq!(template_image(&cluster.get("web").await), cluster.image(2), "nothing was overwritten");
    })
    .await;
    cluster.finish().await;
}

/// The kubectl to cross-check with: `ROLLOUT_TEST_KUBECTL`, else `kubectl` on PATH. Missing, the test
/// fails when `CI` is set and is skipped otherwise.
fn kubectl() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("ROLLOUT_TEST_KUBECTL") {
        return Some(PathBuf::from(path));
    }
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join("kubectl")).find(|p| p.is_file()));
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "kubectl is needed in CI: set ROLLOUT_TEST_KUBECTL or put kubectl on PATH"
        );
        eprintln!("skipping the kubectl cross-check: no kubectl (set ROLLOUT_TEST_KUBECTL or put kubectl on PATH)");
    }
    found
}

fn run_kubectl(
    kubectl: &PathBuf,
    kubeconfig: &std::path::Path,
    context: Option<&str>,
    args: &[&str],
) -> (bool, String) {
    let mut cmd = Command::new(kubectl);
    cmd.arg("--kubeconfig").arg(kubeconfig);
    if let Some(c) = context {
        cmd.args(["--context", c]);
    }
    let out = cmd.args(args).output().expect("kubectl runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_rollout_history_and_status_agree_with_our_reports() {
    let Some(kubectl) = kubectl() else { return };
    let cluster = TestCluster::start("history_kubectl").await;
    bounded(BOUND, async {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, &cluster.kubeconfig).unwrap();
        let (v1, v2) = (cluster.image(1), cluster.image(2));
        cluster.create_ready("web", &v1, 2, 600).await;
        let report =
            deploy(&cluster.client, &request(&cluster, &v2), &DeployOptions::new(cluster.timeout(60)), &no_progress)
                .await
                .unwrap();
        let rolled = rollback(
            &cluster.client,
            &web(&cluster),
            &RollbackTo::Previous,
            &WaitOptions::new(cluster.timeout(60)),
            &no_progress,
        )
        .await
        .unwrap();

        let ns = cluster.namespace.as_str();
        let context = cluster.context.as_deref();
        let (ok, text) =
            run_kubectl(&kubectl, &kubeconfig, context, &["-n", ns, "rollout", "history", "deployment/web"]);
        assert!(ok, "{text}");
        let ours = history(&cluster.client, &web(&cluster)).await.unwrap();
        let rows: Vec<(i64, String)> = text
            .lines()
            .skip_while(|l| !l.starts_with("REVISION"))
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let (n, cause) = l.trim().split_once(char::is_whitespace).unwrap_or((l.trim(), ""));
                (n.parse().unwrap(), cause.trim().to_owned())
            })
            .collect();
        let expected: Vec<(i64, String)> = ours
            .revisions
            .iter()
            .map(|r| (r.revision, r.change_cause.clone().unwrap_or_else(|| "<none>".into())))
            .collect();
        assert_eq!(rows, expected, "kubectl printed:\n{text}");
        assert_eq!(rows.last().map(|r| r.0), rolled.revision, "our rollback report names kubectl's latest revision");
        assert_eq!(rows.iter().find(|r| r.0 == 2).map(|r| r.1.clone()), report.change_cause, "{text}");

        let (ok, text) = run_kubectl(
            &kubectl,
            &kubeconfig,
            context,
            &["-n", ns, "rollout", "status", "deployment/web", "--timeout=30s"],
        );
        assert!(ok, "{text}");
        assert_eq!(text.lines().last(), Some(rolled.message.as_str()), "kubectl printed:\n{text}");
    })
    .await;
    cluster.finish().await;
}
