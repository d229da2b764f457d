//! The in-use scan across two clusters.

use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use rollout_core::deploy::{DeployOptions, DeployRequest, deploy};
use rollout_core::inuse::{Namespaces, in_use_images};
use rollout_core::wait::no_progress;
use rollout_core::workload::WorkloadRef;
use serde_json::json;

use crate::cluster::{TestCluster, bounded};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_use_scan_finds_templates_rollback_history_jobs_and_pods_across_contexts() {
    let prod = TestCluster::start_with("inuse_scan", 11).await;
    let staging = TestCluster::start_with("inuse_scan", 12).await;
    if prod.is_real() {
        eprintln!("skipping the two-context scan on a real cluster: it needs two clusters");
        prod.finish().await;
        staging.finish().await;
        return;
    }
    bounded(Duration::from_secs(120), async {
        prod.create_ready("web", &prod.image(1), 1, 600).await;
        let request = DeployRequest::new(WorkloadRef::deployment(&prod.namespace, "web"), vec![format!("app={}", prod.image(2)).parse().unwrap()]);
        deploy(&prod.client, &request, &DeployOptions::new(prod.timeout(60)), &no_progress).await.unwrap();

        let ns = staging.namespace.clone();
        let cron: CronJob = serde_json::from_value(json!({
            "metadata": {"name": "nightly"},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "Never", "containers": [{"name": "report", "image": "registry.example/shop/report:2.1.0"}]}}}}}
        }))
        .unwrap();
        Api::<CronJob>::namespaced(staging.client.clone(), &ns).create(&PostParams::default(), &cron).await.unwrap();
        let job: Job = serde_json::from_value(json!({
            "metadata": {"name": "migrate"},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "migrate", "image": "registry.example/shop/migrate:7"}]}}}
        }))
        .unwrap();
        Api::<Job>::namespaced(staging.client.clone(), &ns).create(&PostParams::default(), &job).await.unwrap();
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "debug"},
            "spec": {"containers": [{"name": "shell", "image": "registry.example/tools/shell:1"}]}
        }))
        .unwrap();
        Api::<Pod>::namespaced(staging.client.clone(), &ns).create(&PostParams::default(), &pod).await.unwrap();

        let clusters = vec![("prod".to_owned(), prod.client.clone()), ("staging".to_owned(), staging.client.clone())];
        let found = in_use_images(&clusters, &Namespaces::Only(vec![prod.namespace.clone()])).await.unwrap();
        let used_by: Vec<(String, String)> = found.iter().map(|i| (i.reference.clone(), i.used_by.clone())).collect();
        let p = &prod.namespace;
        assert!(used_by.contains(&(prod.image(2), format!("prod/{p}/deployment/web (revision 2)"))), "{used_by:#?}");
        assert!(used_by.contains(&(prod.image(1), format!("prod/{p}/deployment/web (revision 1)"))), "rollback image: {used_by:#?}");
        assert!(used_by.iter().any(|(r, u)| *r == prod.image(2) && u.starts_with(&format!("prod/{p}/pod/web-"))), "{used_by:#?}");
        assert!(found.iter().any(|i| i.tag.as_deref() == Some("1.0.1")));

        let all = in_use_images(&clusters, &Namespaces::All).await.unwrap();
        let staging_refs: Vec<(&str, &str)> =
            all.iter().filter(|i| i.used_by.starts_with("staging/")).map(|i| (i.reference.as_str(), i.used_by.as_str())).collect();
        assert_eq!(
            staging_refs,
            [
                ("registry.example/shop/report:2.1.0", format!("staging/{ns}/cronjob/nightly").as_str()),
                ("registry.example/shop/migrate:7", format!("staging/{ns}/job/migrate").as_str()),
                ("registry.example/tools/shell:1", format!("staging/{ns}/pod/debug").as_str()),
            ]
        );
    })
    .await;
    prod.finish().await;
    staging.finish().await;
}
