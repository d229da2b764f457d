//! The sandbox every comparison runs against, the environment the tools get, the workloads the
//! comparisons roll, and a tracker that notes, on the sandbox side, when each rollout starts and
//! when it is complete.
//!
//! The tracker reads the store's lossless change feed on a thread of its own (not a tokio task), so
//! the instant it notes for "complete" trails the store's write by a channel hand-off only, whatever
//! the runtime is busy with. "Complete" is kubectl's rule (rollout_status.go's Deployment viewer):
//! the controller observed the latest generation and every replica is updated and available, with no
//! old replica left.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, PostParams};
use rollout_sandbox::store::EventType;
use rollout_sandbox::{Kind, RequestCounts, Sandbox, Store};
use serde_json::{Value, json};
use tokio::runtime::Runtime;

/// The container name of every benchmark workload.
pub const CONTAINER: &str = "app";

/// A running sandbox with a kube client, the tools' environment and a rollout tracker.
pub struct Cluster {
    /// The sandbox.
    pub sandbox: Sandbox,
    /// A kube client for setting things up.
    pub client: Client,
    /// The environment every tool runs with: kubeconfig, kubectl's cache, the ECR endpoint and
    /// dummy credentials (the same variables `rollout sandbox` exports).
    pub env: Vec<(String, String)>,
    /// When rollouts start and complete.
    pub tracker: Tracker,
}

impl Cluster {
    /// Starts a sandbox with the given time scale, its files under `dir`.
    pub fn start(rt: &Runtime, time_scale: f64, dir: &Path) -> Result<Cluster> {
        std::fs::create_dir_all(dir)?;
        let sandbox = rt.block_on(Sandbox::builder().time_scale(time_scale).seed(7).start())?;
        let tracker = Tracker::start(sandbox.store());
        let kubeconfig = dir.join("kubeconfig");
        sandbox.write_kubeconfig(&kubeconfig)?;
        let (aws_config, aws_credentials) = (dir.join("aws-config"), dir.join("aws-credentials"));
        std::fs::write(&aws_config, "")?;
        std::fs::write(&aws_credentials, "")?;
        let region = sandbox.ecr().region().to_string();
        let path = |p: &PathBuf| p.display().to_string();
        let env = vec![
            ("KUBECONFIG".into(), path(&kubeconfig)),
            ("KUBECACHEDIR".into(), path(&dir.join("kubecache"))),
            ("AWS_ENDPOINT_URL_ECR".into(), sandbox.ecr_endpoint()),
            ("AWS_REGION".into(), region.clone()),
            ("AWS_DEFAULT_REGION".into(), region),
            ("AWS_ACCESS_KEY_ID".into(), "sandbox".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "sandbox".into()),
            // Nothing from the user's own AWS setup, and no instance metadata probe.
            ("AWS_CONFIG_FILE".into(), path(&aws_config)),
            ("AWS_SHARED_CREDENTIALS_FILE".into(), path(&aws_credentials)),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
            ("AWS_PAGER".into(), String::new()),
        ];
        let client = rt.block_on(async {
            let kubeconfig = kube::config::Kubeconfig::from_yaml(&sandbox.kubeconfig())?;
            let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
            anyhow::Ok(Client::try_from(config)?)
        })?;
        Ok(Cluster { sandbox, client, env, tracker })
    }

    /// Stops the sandbox and waits for its tasks.
    pub fn shutdown(self, rt: &Runtime) {
        rt.block_on(self.sandbox.shutdown());
    }

    /// The requests the sandbox answered so far.
    pub fn requests(&self) -> RequestCounts {
        self.sandbox.requests()
    }

    /// The sandbox registry's image reference for a repository and tag.
    pub fn ecr_image(&self, repository: &str, tag: &str) -> String {
        format!("{}/{repository}:{tag}", self.sandbox.registry_host())
    }

    /// Creates a namespace.
    pub fn create_namespace(&self, rt: &Runtime, name: &str) -> Result<()> {
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}}))?;
        rt.block_on(Api::<Namespace>::all(self.client.clone()).create(&PostParams::default(), &ns))?;
        Ok(())
    }

    /// Creates Deployments shaped like the seed workflow's (a tcpSocket readiness probe on 8443 after 5 s,
    /// then every 10 s; surge one pod at a time, none unavailable; a 600 s progress deadline).
    pub fn create_deployments(
        &self,
        rt: &Runtime,
        ns: &str,
        names: &[String],
        image: &str,
        replicas: i32,
    ) -> Result<()> {
        let api = Api::<Deployment>::namespaced(self.client.clone(), ns);
        rt.block_on(async {
            for name in names {
                let d: Deployment = serde_json::from_value(deployment(name, image, replicas))?;
                api.create(&PostParams::default(), &d).await.with_context(|| format!("creating {ns}/{name}"))?;
            }
            anyhow::Ok(())
        })
    }

    /// Waits until every named Deployment is complete at its latest generation.
    pub fn wait_complete(&self, ns: &str, names: &[String], timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        for name in names {
            let generation = self.generation(ns, name)?;
            self.tracker.wait_complete(ns, name, generation, deadline)?;
        }
        Ok(())
    }

    /// A Deployment's current generation, from the store.
    pub fn generation(&self, ns: &str, name: &str) -> Result<i64> {
        let obj = self.sandbox.store().get(Kind::Deployment, ns, name).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        Ok(obj["metadata"]["generation"].as_i64().unwrap_or(0))
    }
}

/// A Deployment manifest like the seed's.
pub fn deployment(name: &str, image: &str, replicas: i32) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "progressDeadlineSeconds": 600,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "terminationGracePeriodSeconds": 0,
                    "containers": [{
                        "name": CONTAINER,
                        "image": image,
                        "ports": [{"containerPort": 8443}],
                        "readinessProbe": {"tcpSocket": {"port": 8443}, "initialDelaySeconds": 5, "periodSeconds": 10},
                    }],
                },
            },
        },
    })
}

/// One Deployment's latest rollout as the sandbox saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Track {
    /// The generation the rollout is for.
    pub generation: i64,
    /// When the store first held that generation.
    pub updated_at: Instant,
    /// When the store first held it complete.
    pub completed_at: Option<Instant>,
}

impl Track {
    /// From the change to completion.
    pub fn duration(&self) -> Option<Duration> {
        self.completed_at.map(|c| c - self.updated_at)
    }
}

type Tracks = HashMap<(String, String), Track>;

/// Notes when each Deployment's rollout starts and completes, from the store's change feed.
#[derive(Clone)]
pub struct Tracker(Arc<(Mutex<Tracks>, Condvar)>);

impl Tracker {
    /// Subscribes to the store's change feed and follows it on a thread of its own until the store is gone.
    pub fn start(store: &Store) -> Tracker {
        let mut feed = store.observe();
        let tracker = Tracker(Arc::new((Mutex::new(HashMap::new()), Condvar::new())));
        let shared = tracker.clone();
        std::thread::Builder::new()
            .name("rollout-tracker".into())
            .spawn(move || {
                while let Some(event) = feed.blocking_recv() {
                    let at = Instant::now();
                    if event.kind == Kind::Deployment && event.event_type != EventType::Deleted {
                        shared.note(&event.object, at);
                    }
                }
            })
            .expect("a thread can be spawned");
        tracker
    }

    fn note(&self, obj: &Value, at: Instant) {
        let meta = &obj["metadata"];
        let key =
            (meta["namespace"].as_str().unwrap_or("").to_string(), meta["name"].as_str().unwrap_or("").to_string());
        let generation = meta["generation"].as_i64().unwrap_or(0);
        let (lock, changed) = &*self.0;
        let mut tracks = lock.lock().unwrap_or_else(|e| e.into_inner());
        let track = tracks.entry(key).or_insert(Track { generation, updated_at: at, completed_at: None });
        if generation > track.generation {
            *track = Track { generation, updated_at: at, completed_at: None };
        }
        if track.completed_at.is_none() && generation == track.generation && complete(obj) {
            track.completed_at = Some(at);
            changed.notify_all();
        }
    }

    /// Waits until the Deployment is complete at `generation` or later.
    pub fn wait_complete(&self, ns: &str, name: &str, generation: i64, deadline: Instant) -> Result<Track> {
        let (lock, changed) = &*self.0;
        let key = (ns.to_string(), name.to_string());
        let mut tracks = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(t) = tracks.get(&key).filter(|t| t.generation >= generation && t.completed_at.is_some()) {
                return Ok(*t);
            }
            let now = Instant::now();
            if now >= deadline {
                bail!("{ns}/{name} did not complete generation {generation} in time: {:?}", tracks.get(&key));
            }
            tracks = changed.wait_timeout(tracks, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

/// kubectl's "successfully rolled out" for a Deployment object (rollout_status.go).
pub fn complete(d: &Value) -> bool {
    let int = |v: &Value| v.as_i64().unwrap_or(0);
    let status = &d["status"];
    if int(&d["metadata"]["generation"]) > int(&status["observedGeneration"]) {
        return false;
    }
    let deadline_exceeded = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Progressing" && c["reason"] == "ProgressDeadlineExceeded");
    let updated = int(&status["updatedReplicas"]);
    let wanted_unmet = d["spec"]["replicas"].as_i64().is_some_and(|r| updated < r);
    !deadline_exceeded
        && !wanted_unmet
        && int(&status["replicas"]) <= updated
        && int(&status["availableReplicas"]) >= updated
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment_with(generation: i64, status: Value) -> Value {
        json!({"metadata": {"generation": generation}, "spec": {"replicas": 2}, "status": status})
    }

    #[test]
    fn a_rollout_is_complete_only_when_every_replica_is_updated_and_available() {
        let cases = [
            (json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}), true),
            (json!({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}), false),
            (json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 3}), false),
            (json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1, "availableReplicas": 2}), false),
            (json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1}), false),
            (
                json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2,
                    "conditions": [{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}]}),
                false,
            ),
        ];
        for (status, want) in cases {
            assert_eq!(complete(&deployment_with(2, status.clone())), want, "{status}");
        }
    }
}
