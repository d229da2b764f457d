//! Setting images and applying manifests: success, no-ops, preflight failures, many at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::api::{Api, ListParams};
use rollout_core::deploy::{
    ApplyAction, ApplyOptions, CheckName, CheckStatus, DeployOptions, DeployRequest, ImageLookup, apply, deploy,
    deploy_all,
};
use rollout_core::history::healthy_at;
use rollout_core::report::{Operation, Outcome};
use rollout_core::wait::{WaitOptions, WaitTarget, no_progress, wait_all};
use rollout_core::workload::WorkloadRef;
use rollout_core::{Error, ImageRef};

use crate::cluster::{Collected, TestCluster, bounded};

const BOUND: Duration = Duration::from_secs(120);

fn request(cluster: &TestCluster, name: &str, image: &str) -> DeployRequest {
    DeployRequest::new(WorkloadRef::deployment(&cluster.namespace, name), vec![format!("app={image}").parse().unwrap()])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploying_a_new_image_rolls_out_records_the_change_and_marks_it_healthy() {
    let cluster = TestCluster::start("deploy_success").await;
    bounded(BOUND, async {
        let (v1, v2) = (cluster.image(1), cluster.image(2));
        cluster.create_ready("web", &v1, 3, 600).await;
        let events = Collected::default();
        let callback = events.callback();
        let report = deploy(
            &cluster.client,
            &request(&cluster, "web", &v2),
            &DeployOptions::new(cluster.timeout(60)),
            &callback,
        )
        .await
        .expect("the rollout succeeds");

        assert_eq!(report.outcome, Outcome::Succeeded);
        assert_eq!(report.operation, Operation::Deploy);
        assert_eq!(report.message, "deployment \"web\" successfully rolled out");
        assert_eq!(report.images.len(), 1);
        assert_eq!(
            (report.images[0].previous.as_deref(), report.images[0].new.as_str()),
            (Some(v1.as_str()), v2.as_str())
        );
        assert_eq!((report.previous_revision, report.revision), (Some(1), Some(2)));
        let cause = format!("rollout: app={v2}");
        assert_eq!(report.change_cause.as_deref(), Some(cause.as_str()));
        assert_eq!(report.preflight.len(), 7);
        assert!(report.preflight.iter().all(|c| c.status != CheckStatus::Failed));
        assert!(report.duration_ms > 0 || report.finished_at >= report.started_at);

        let d = cluster.get("web").await;
        assert_eq!(d.metadata.generation, Some(2), "one write");
        assert_eq!(d.metadata.annotations.as_ref().unwrap()["kubernetes.io/change-cause"], cause);
        let sets = Api::<ReplicaSet>::namespaced(cluster.client.clone(), &cluster.namespace)
            .list(&ListParams::default())
            .await
            .unwrap();
        let new_rs =
            sets.items.iter().find(|rs| Some(rs.metadata.name.clone().unwrap()) == report.new_replica_set).unwrap();
        assert!(healthy_at(new_rs).is_some(), "the new ReplicaSet is marked healthy");
        assert_eq!(new_rs.metadata.annotations.as_ref().unwrap()["kubernetes.io/change-cause"], cause);

        let kinds: Vec<String> = events
            .events()
            .iter()
            .map(|e| serde_json::to_value(e).unwrap()["event"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(kinds.first().map(String::as_str), Some("preflight"));
        assert!(kinds.contains(&"updated".to_owned()) && kinds.contains(&"status".to_owned()), "{kinds:?}");
        assert_eq!(kinds.last().map(String::as_str), Some("finished"));
    })
    .await;
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redeploying_the_same_image_writes_nothing() {
    let cluster = TestCluster::start("deploy_same_image").await;
    bounded(BOUND, async {
        let v1 = cluster.image(1);
        let before = cluster.create_ready("web", &v1, 2, 600).await;
        cluster.requests.clear();
        let report = deploy(
            &cluster.client,
            &request(&cluster, "web", &v1),
            &DeployOptions::new(cluster.timeout(30)),
            &no_progress,
        )
        .await
        .unwrap();
        assert_eq!(report.outcome, Outcome::Unchanged);
        assert_eq!(report.reason.as_deref(), Some("AlreadyAtImage"));
        let after = cluster.get("web").await;
        assert_eq!(after.metadata.generation, before.metadata.generation);
        let writes: Vec<_> = cluster.requests.all().into_iter().filter(|s| s.method != "GET").collect();
        assert!(writes.is_empty(), "no write at all: {writes:?}");
    })
    .await;
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_preflight_changes_nothing_and_lists_every_failed_check() {
    let cluster = TestCluster::start("deploy_preflight").await;
    bounded(BOUND, async {
        let mut manifest = cluster.deployment("web", &cluster.image(1), 2, 600);
        manifest["spec"]["template"]["spec"]["containers"][0].as_object_mut().unwrap().remove("readinessProbe");
        manifest["spec"]["paused"] = serde_json::json!(true);
        cluster.create(manifest).await;
        let err = deploy(
            &cluster.client,
            &request(&cluster, "web", "registry.example/shop/app:latest"),
            &DeployOptions::new(cluster.timeout(30)),
            &no_progress,
        )
        .await
        .unwrap_err();
        let Error::PreflightFailed { checks } = &err else { panic!("{err}") };
        let names: Vec<CheckName> = checks.iter().map(|f| f.check.check).collect();
        assert_eq!(names, [CheckName::ReadinessProbe, CheckName::Paused, CheckName::FloatingTag]);
        assert!(err.to_string().starts_with("preflight failed, nothing was changed: "), "{err}");
        assert_eq!(cluster.get("web").await.metadata.generation, Some(1), "nothing was written");

        // Switched off, the same deploy goes through (the image runs; the Deployment stays paused).
        let mut options = DeployOptions::new(Duration::from_millis(300));
        options.skip_checks = [CheckName::ReadinessProbe, CheckName::Paused, CheckName::FloatingTag].into();
        let err = deploy(
            &cluster.client,
            &request(&cluster, "web", "registry.example/shop/app:latest"),
            &options,
            &no_progress,
        )
        .await
        .unwrap_err();
        let Error::RolloutTimedOut { report } = err else { panic!("a paused deployment does not roll out") };
        assert_eq!(
            report.preflight.iter().filter(|c| c.status == CheckStatus::Skipped).count(),
            4,
            "{:?}",
            report.preflight
        );
        assert_eq!(cluster.get("web").await.metadata.generation, Some(2));
    })
    .await;
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_containers_and_workloads_are_errors_naming_what_exists() {
    let cluster = TestCluster::start("deploy_unknown").await;
    bounded(BOUND, async {
        cluster.create(cluster.deployment("web", &cluster.image(1), 1, 600)).await;
        let options = DeployOptions::new(cluster.timeout(30));
        let mut req = request(&cluster, "web", &cluster.image(2));
        req.images = vec![format!("nope={}", cluster.image(2)).parse().unwrap()];
        let err = deploy(&cluster.client, &req, &options, &no_progress).await.unwrap_err();
        let Error::ContainerNotFound { container, available, .. } = &err else { panic!("{err}") };
        assert_eq!((container.as_str(), available.as_slice()), ("nope", ["app".to_owned()].as_slice()));

        let err = deploy(&cluster.client, &request(&cluster, "missing", &cluster.image(2)), &options, &no_progress)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::WorkloadNotFound { .. }), "{err}");
        let mut options = options.clone();
        options.skip_checks.insert(CheckName::Workload);
        let report = deploy(&cluster.client, &request(&cluster, "missing", &cluster.image(2)), &options, &no_progress)
            .await
            .unwrap();
        assert_eq!((report.outcome, report.reason.as_deref()), (Outcome::Unchanged, Some("NotFound")));
    })
    .await;
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ecr_image_missing_from_the_registry_is_refused_before_any_change() {
    let cluster = TestCluster::start("deploy_image_exists").await;
    if cluster.is_real() {
        eprintln!("skipping the ECR preflight scenario on a real cluster: it pushes images to the sandbox registry");
        return cluster.finish().await;
    }
    bounded(BOUND, async {
        let v1 = cluster.ecr_image("ms-account-management", "latest-release-1.0.0", true).unwrap();
        let v2 = cluster.ecr_image("ms-account-management", "latest-release-1.0.1", false).unwrap();
        cluster.create_ready("web", &v1, 1, 600).await;
        let mut options = DeployOptions::new(cluster.timeout(30));
        options.image_lookup = Some(Arc::new(cluster.registry().await));
        let err = deploy(&cluster.client, &request(&cluster, "web", &v2), &options, &no_progress).await.unwrap_err();
        let Error::PreflightFailed { checks } = err else { panic!("the image is missing") };
        assert_eq!(checks[0].check.check, CheckName::ImageExists);
        assert_eq!(checks[0].check.message, format!("{v2} does not exist in its ECR repository"));
        assert_eq!(cluster.get("web").await.metadata.generation, Some(1));

        // A registry that refuses our credentials is not a verdict on the image: the deploy ends in
        // the registry's own error, which names what to fix, and still changes nothing.
        let mut refused = DeployOptions::new(cluster.timeout(30));
        refused.image_lookup = Some(Arc::new(RefusedCredentials));
        let err = deploy(&cluster.client, &request(&cluster, "web", &v2), &refused, &no_progress).await.unwrap_err();
        assert!(matches!(&err, Error::Credentials { profile: Some(p), .. } if p == "ci"), "{err:?}");
        let cause = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(cause.as_deref(), Some("the security token included in the request is expired"));
        assert_eq!(cluster.get("web").await.metadata.generation, Some(1));

        cluster.ecr_image("ms-account-management", "latest-release-1.0.1", true);
        let report = deploy(&cluster.client, &request(&cluster, "web", &v2), &options, &no_progress).await.unwrap();
        let check = report.preflight.iter().find(|c| c.check == CheckName::ImageExists).unwrap();
        assert_eq!(
            (check.status, check.message.as_str()),
            (CheckStatus::Passed, format!("found in ECR: {v2}").as_str())
        );
        assert_eq!(report.outcome, Outcome::Succeeded);
    })
    .await;
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applying_the_seed_manifest_creates_updates_and_then_changes_nothing() {
    let cluster = TestCluster::start("deploy_apply").await;
    bounded(BOUND, async {
        if cluster.is_real() && std::env::var("ROLLOUT_TEST_PORT").as_deref() != Ok("8443") {
            eprintln!("skipping the seed-manifest scenario on a real cluster: its probes need images serving on port 8443 (ROLLOUT_TEST_IMAGES with ROLLOUT_TEST_PORT=8443)");
            return;
        }
        let seed = include_str!("../../../examples/seed/deployment.yaml");
        let mut options = ApplyOptions::new(&cluster.namespace, cluster.timeout(60));
        options.image_overrides = vec![format!("ms-account-management={}", cluster.image(1)).parse().unwrap()];
        let first = apply(&cluster.client, seed, &options, &no_progress).await.unwrap();
        assert_eq!(first.applied[0].action, ApplyAction::Created);
        assert_eq!(first.rollouts.outcome, Outcome::Succeeded, "{:#?}", first.rollouts);

        options.image_overrides = vec![format!("ms-account-management={}", cluster.image(2)).parse().unwrap()];
        let second = apply(&cluster.client, seed, &options, &no_progress).await.unwrap();
        assert_eq!(second.applied[0].action, ApplyAction::Configured);
        let report = &second.rollouts.reports[0];
        assert_eq!(report.outcome, Outcome::Succeeded, "{report:#?}");
        assert_eq!(report.images[0].previous.as_deref(), Some(cluster.image(1).as_str()));
        assert_eq!(report.revision, Some(2));
        let cause = format!("rollout: ms-account-management={}", cluster.image(2));
        assert_eq!(report.change_cause.as_deref(), Some(cause.as_str()));

        let third = apply(&cluster.client, seed, &options, &no_progress).await.unwrap();
        assert_eq!(third.applied[0].action, ApplyAction::Unchanged);
        assert_eq!(third.rollouts.outcome, Outcome::Unchanged);
        assert_eq!(cluster.get("ms-account-management").await.metadata.generation, Some(2));
    })
    .await;
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_deployments_roll_out_concurrently_with_one_watch_per_kind() {
    let cluster = TestCluster::start("deploy_fifty").await;
    bounded(Duration::from_secs(300), async {
        let (v1, v2) = (cluster.image(1), cluster.image(2));
        let names: Vec<String> = (0..50).map(|i| format!("svc-{i:02}")).collect();
        for name in &names {
            cluster.create(cluster.deployment(name, &v1, 1, 600)).await;
        }
        let targets: Vec<WaitTarget> = names
            .iter()
            .map(|n| WaitTarget { workload: WorkloadRef::deployment(&cluster.namespace, n), since: None })
            .collect();
        let created = wait_all(&cluster.clusters(), &targets, &WaitOptions::new(cluster.timeout(120)), &no_progress)
            .await
            .unwrap();
        assert_eq!(created.outcome, Outcome::Succeeded);
        let first: Vec<DeployRequest> = names.iter().map(|n| request(&cluster, n, &v2)).collect();
        cluster.requests.clear();
        let options = DeployOptions::new(cluster.timeout(120));
        let combined = deploy_all(&cluster.clusters(), &first, &options, &no_progress).await.unwrap();
        assert_eq!(
            combined.outcome,
            Outcome::Succeeded,
            "{:?}",
            combined.reports.iter().map(|r| (&r.target.name, r.outcome, &r.message)).collect::<Vec<_>>()
        );
        assert_eq!(combined.reports.len(), 50);
        assert!(combined.reports.iter().all(|r| r.revision == Some(2)));

        // One watch per kind for the whole namespace (a dropped stream may be resumed once or twice).
        for plural in ["deployments", "replicasets", "pods", "events"] {
            let watches = cluster.requests.watches_of(plural);
            assert!((1..=3).contains(&watches), "{plural}: {watches} watch requests for 50 deployments");
            assert!(cluster.requests.lists_of(plural) <= 3, "{plural}: lists");
        }
        let patches =
            cluster.requests.all().iter().filter(|s| s.method == "PATCH" && s.path.contains("/deployments/")).count();
        assert_eq!(patches, 50, "one image write per deployment");
    })
    .await;
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployments_in_two_contexts_are_awaited_together() {
    let a = TestCluster::start_with("deploy_two_contexts", 1).await;
    let b = TestCluster::start_with("deploy_two_contexts", 2).await;
    if a.is_real() {
        eprintln!("skipping the two-context scenario on a real cluster: it needs two clusters");
        a.finish().await;
        b.finish().await;
        return;
    }
    bounded(BOUND, async {
        a.create(a.deployment("web", &a.image(1), 1, 600)).await;
        b.create(b.deployment("web", &b.image(1), 1, 600)).await;
        let clusters = vec![("a".to_owned(), a.client.clone()), ("b".to_owned(), b.client.clone())];
        let requests = vec![
            DeployRequest::new(
                WorkloadRef::deployment(&a.namespace, "web").in_context("a"),
                vec![format!("app={}", a.image(2)).parse().unwrap()],
            ),
            DeployRequest::new(
                WorkloadRef::deployment(&b.namespace, "web").in_context("b"),
                vec![format!("app={}", b.image(3)).parse().unwrap()],
            ),
        ];
        let combined =
            deploy_all(&clusters, &requests, &DeployOptions::new(a.timeout(60)), &no_progress).await.unwrap();
        assert_eq!(combined.outcome, Outcome::Succeeded);
        let targets: Vec<String> = combined.reports.iter().map(|r| r.target.to_string()).collect();
        assert_eq!(targets, [format!("a/{}/deployment/web", a.namespace), format!("b/{}/deployment/web", b.namespace)]);
        let images: BTreeMap<String, String> =
            combined.reports.iter().map(|r| (r.target.context.clone().unwrap(), r.images[0].new.clone())).collect();
        assert_eq!(images["b"], b.image(3));
    })
    .await;
    a.finish().await;
    b.finish().await;
}

/// A registry lookup whose credentials the registry refuses.
struct RefusedCredentials;

impl ImageLookup for RefusedCredentials {
    fn image_exists<'a>(&'a self, _image: &'a ImageRef) -> BoxFuture<'a, rollout_core::Result<bool>> {
        Box::pin(async {
            Err(Error::Credentials {
                profile: Some("ci".into()),
                source: rollout_core::error::Cause::new("the security token included in the request is expired"),
            })
        })
    }
}

/// A registry lookup that, like another writer racing us, changes the Deployment between our read and
/// our write.
struct RacingWriter {
    client: kube::Client,
    namespace: String,
    patch: serde_json::Value,
}

impl ImageLookup for RacingWriter {
    fn image_exists<'a>(&'a self, _image: &'a ImageRef) -> BoxFuture<'a, rollout_core::Result<bool>> {
        Box::pin(async move {
            let api: Api<k8s_openapi::api::apps::v1::Deployment> =
                Api::namespaced(self.client.clone(), &self.namespace);
            let params = kube::api::PatchParams::apply("other-writer").force();
            let mut patch = self.patch.clone();
            patch["apiVersion"] = "apps/v1".into();
            patch["kind"] = "Deployment".into();
            api.patch("web", &params, &kube::api::Patch::Apply(&patch)).await.expect("the racing write lands");
            Ok(true)
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_writer_is_never_silently_overwritten() {
    let cluster = TestCluster::start("deploy_race").await;
    bounded(BOUND, async {
        if cluster.is_real() {
            eprintln!("skipping the racing-writer scenario on a real cluster: it pushes images to the sandbox registry");
            return;
        }
        for tag in ["1.0.0", "1.0.1", "1.0.2"] {
            cluster.ecr_image("app", tag, true);
        }
        let ecr = cluster.ecr_image("app", "1.0.0", false).unwrap();
        let ecr = ecr.trim_end_matches(":1.0.0");
        cluster.create_ready("web", &format!("{ecr}:1.0.0"), 1, 600).await;
        let race = |patch: serde_json::Value| {
            let mut options = DeployOptions::new(cluster.timeout(60));
            options.image_lookup = Some(Arc::new(RacingWriter { client: cluster.client.clone(), namespace: cluster.namespace.clone(), patch }));
            options
        };

        // Someone scales the Deployment meanwhile: our image write is made again on top of theirs.
        let scale = race(serde_json::json!({"metadata": {"name": "web"}, "spec": {"replicas": 2}}));
        let report = deploy(&cluster.client, &request(&cluster, "web", &format!("{ecr}:1.0.1")), &scale, &no_progress).await.unwrap();
        assert_eq!(report.outcome, Outcome::Succeeded);
        let d = cluster.get("web").await;
        assert_eq!(d.spec.as_ref().unwrap().replicas, Some(2), "their change is kept");
        // Our first write met the race; a retry may meet the controller's status write too before one lands.
        let conflicts: Vec<_> = cluster.requests.all().into_iter().filter(|s| s.status == Some(409)).collect();
        assert!(!conflicts.is_empty(), "our first write met the race");
        assert!(
            conflicts.iter().all(|s| s.method == "PATCH" && s.path.ends_with("/deployments/web")),
            "only our image write conflicted: {conflicts:?}"
        );
        assert_eq!(d.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0].image.as_deref(), Some(format!("{ecr}:1.0.1").as_str()));

        // Someone sets another image on our container meanwhile: we refuse to overwrite it.
        let theirs = "registry.example/shop/app:hotfix";
        let image = race(serde_json::json!({"metadata": {"name": "web"}, "spec": {"template": {"spec": {"containers": [{"name": "app", "image": theirs}]}}}}));
        let err = deploy(&cluster.client, &request(&cluster, "web", &format!("{ecr}:1.0.2")), &image, &no_progress).await.unwrap_err();
        assert!(matches!(err, Error::ConcurrentModification { .. }), "{err}");
        assert!(err.to_string().contains("container app changed meanwhile"), "{err}");
        let d = cluster.get("web").await;
        assert_eq!(d.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0].image.as_deref(), Some(theirs));
    })
    .await;
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_writes_nothing_and_not_waiting_returns_once_the_change_is_written() {
    let cluster = TestCluster::start("deploy_dry_run_no_wait").await;
    bounded(BOUND, async {
        let (v1, v2) = (cluster.image(1), cluster.image(2));
        cluster.create_ready("web", &v1, 2, 600).await;
        let before = cluster.get("web").await;
        cluster.requests.clear();

        let mut options = DeployOptions::new(cluster.timeout(30));
        options.dry_run = true;
        let report = deploy(&cluster.client, &request(&cluster, "web", &v2), &options, &no_progress).await.unwrap();
        assert_eq!(report.outcome, Outcome::DryRun);
        assert_eq!(report.preflight.len(), 7);
        let patch = report.patch.as_ref().expect("the patch that would be sent");
        assert_eq!(patch["spec"]["template"]["spec"]["containers"][0]["image"], serde_json::json!(v2));
        assert_eq!(patch["metadata"]["resourceVersion"], serde_json::json!(before.metadata.resource_version));
        let writes: Vec<_> = cluster.requests.all().into_iter().filter(|s| s.method != "GET").collect();
        assert!(writes.is_empty(), "a dry run writes nothing: {writes:?}");

        // A tag alone keeps the repository the container runs.
        let tag = v2.rsplit_once(':').unwrap().1.to_owned();
        let mut tagged = DeployRequest::new(WorkloadRef::deployment(&cluster.namespace, "web"), Vec::new());
        tagged.tags = vec![format!(":{tag}").parse().unwrap()];
        let mut options = DeployOptions::new(cluster.timeout(30));
        options.no_wait = true;
        let events = Collected::default();
        let callback = events.callback();
        let report = deploy(&cluster.client, &tagged, &options, &callback).await.unwrap();
        assert_eq!(report.outcome, Outcome::Started, "{}", report.message);
        assert_eq!(report.images[0].new, v2);
        assert_eq!(report.previous_revision, Some(1));
        let kinds: Vec<String> = events
            .events()
            .iter()
            .map(|e| serde_json::to_value(e).unwrap()["event"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(kinds, ["preflight", "updated"], "no wait: no status events");
        assert_eq!(cluster.get("web").await.metadata.generation, Some(2), "the change was written");

        // The rollout goes on without us; a wait afterwards sees it through.
        let target = WorkloadRef::deployment(&cluster.namespace, "web");
        let done =
            rollout_core::wait::wait(&cluster.client, &target, &WaitOptions::new(cluster.timeout(60)), &no_progress)
                .await
                .unwrap();
        assert_eq!(done.outcome, Outcome::Succeeded);

        options.rollback_on_failure = true;
        let err = deploy(&cluster.client, &tagged, &options, &no_progress).await.unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    })
    .await;
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applying_with_a_dry_run_asks_the_api_server_and_persists_nothing() {
    let cluster = TestCluster::start("deploy_apply_dry_run").await;
    bounded(BOUND, async {
        if cluster.is_real() && std::env::var("ROLLOUT_TEST_PORT").as_deref() != Ok("8443") {
            eprintln!(
                "skipping the seed-manifest scenario on a real cluster: its probes need images serving on port 8443"
            );
            return;
        }
        let seed = include_str!("../../../examples/seed/deployment.yaml");
        let mut options = ApplyOptions::new(&cluster.namespace, cluster.timeout(60));
        options.image_overrides = vec![format!("ms-account-management={}", cluster.image(1)).parse().unwrap()];
        options.deploy.dry_run = true;
        let report = apply(&cluster.client, seed, &options, &no_progress).await.unwrap();
        assert_eq!(report.applied[0].action, ApplyAction::Created);
        assert_eq!(report.rollouts.reports[0].outcome, Outcome::DryRun);
        assert!(report.rollouts.reports[0].patch.is_some());
        let api: Api<k8s_openapi::api::apps::v1::Deployment> =
            Api::namespaced(cluster.client.clone(), &cluster.namespace);
        assert!(api.get_opt("ms-account-management").await.unwrap().is_none(), "nothing was created");

        options.deploy.dry_run = false;
        apply(&cluster.client, seed, &options, &no_progress).await.unwrap();
        options.deploy.dry_run = true;
        options.image_overrides.clear();
        let tag = cluster.image(2).rsplit_once(':').unwrap().1.to_owned();
        options.tag_overrides = vec![format!(":{tag}").parse().unwrap()];
        let report = apply(&cluster.client, seed, &options, &no_progress).await.unwrap();
        assert_eq!(report.applied[0].action, ApplyAction::Configured);
        assert_eq!(report.rollouts.reports[0].outcome, Outcome::DryRun);
        assert_eq!(cluster.get("ms-account-management").await.metadata.generation, Some(1));
    })
    .await;
    cluster.finish().await;
}
