//! The cluster the scenario tests run against, and helpers to build workloads in it.
//!
//! By default every test starts its own in-process sandbox with a scaled clock (1 simulated second =
//! 10 ms). When `ROLLOUT_TEST_KUBECONFIG` is set, the scenarios run against that real cluster instead
//! (context `ROLLOUT_TEST_CONTEXT`, or the kubeconfig's current one), each in a fresh namespace
//! (`ROLLOUT_TEST_NAMESPACE` to use a given one instead), with the images listed in
//! `ROLLOUT_TEST_IMAGES` (comma-separated, at least three distinct tags of an image that listens on
//! `ROLLOUT_TEST_PORT`; default nginx 1.25–1.27 on port 80). Scenarios that need the sandbox's image
//! behaviours (unpullable, crashing, never ready) are skipped there with a message naming the images
//! they would need.
//!
//! Every request the tests' kube client sends goes through a counting layer ([`Requests`]), which is
//! how tests assert that many waits share one watch per namespace and kind, and that no request
//! ended in an unexpected server error.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use rollout_sandbox::{ImageBehaviour, Sandbox};
use serde_json::{Value, json};

/// The time scale of test sandboxes: a simulated second lasts 10 ms.
pub const TIME_SCALE: f64 = 0.01;

/// One request seen by the counting layer.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: Option<u16>,
}

impl Seen {
    pub fn is_watch(&self) -> bool {
        self.query.split('&').any(|p| p == "watch=true" || p == "watch=1")
    }
}

/// The requests a client sent.
#[derive(Debug, Clone, Default)]
pub struct Requests(Arc<Mutex<Vec<Seen>>>);

impl Requests {
    pub fn all(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }

    /// How many watch requests went to paths ending in `/<plural>`.
    pub fn watches_of(&self, plural: &str) -> usize {
        self.all().iter().filter(|s| s.is_watch() && s.path.ends_with(&format!("/{plural}"))).count()
    }

    /// How many non-watch GETs of collections went to paths ending in `/<plural>`.
    pub fn lists_of(&self, plural: &str) -> usize {
        self.all()
            .iter()
            .filter(|s| s.method == "GET" && !s.is_watch() && s.path.ends_with(&format!("/{plural}")))
            .count()
    }

    /// Requests answered with a 5xx.
    pub fn server_errors(&self) -> Vec<Seen> {
        self.all().into_iter().filter(|s| s.status.is_some_and(|c| c >= 500)).collect()
    }
}

/// A tower layer that records every request of a kube client.
#[derive(Clone)]
pub struct CountLayer(pub Requests);

impl<S> tower::Layer<S> for CountLayer {
    type Service = CountService<S>;

    fn layer(&self, inner: S) -> CountService<S> {
        CountService { inner, requests: self.0.clone() }
    }
}

#[derive(Clone)]
pub struct CountService<S> {
    inner: S,
    requests: Requests,
}

impl<S, B, RB> tower::Service<http::Request<B>> for CountService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let seen = Seen {
            method: req.method().to_string(),
            path: req.uri().path().to_owned(),
            query: req.uri().query().unwrap_or_default().to_owned(),
            status: None,
        };
        let index = {
            let mut all = self.requests.0.lock().unwrap();
            all.push(seen);
            all.len() - 1
        };
        let requests = self.requests.clone();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let result = fut.await;
            if let Ok(resp) = &result {
                requests.0.lock().unwrap()[index].status = Some(resp.status().as_u16());
            }
            result
        })
    }
}

/// A client built from kubeconfig YAML, with requests counted.
pub async fn counted_client(kubeconfig: Kubeconfig, context: Option<String>) -> (Client, Requests) {
    let options = KubeConfigOptions { context, ..KubeConfigOptions::default() };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.expect("kubeconfig is usable");
    let requests = Requests::default();
    let client = kube::client::ClientBuilder::try_from(config)
        .expect("client builds")
        .with_layer(&CountLayer(requests.clone()))
        .build();
    (client, requests)
}

/// The cluster of one test.
pub struct TestCluster {
    pub sandbox: Option<Sandbox>,
    pub client: Client,
    pub requests: Requests,
    pub namespace: String,
    /// Whether the namespace was created by the test (and is deleted at the end).
    created_namespace: bool,
    pub kubeconfig: String,
    pub context: Option<String>,
    images: Vec<String>,
    port: i64,
    /// The test configured server errors on purpose, so 5xx answers are expected.
    pub expect_server_errors: bool,
}

impl TestCluster {
    /// A sandbox (or the configured real cluster) with a fresh namespace for test `name`.
    pub async fn start(name: &str) -> TestCluster {
        Self::start_with(name, 7).await
    }

    /// Like [`TestCluster::start`], with the sandbox's seed.
    pub async fn start_with(name: &str, seed: u64) -> TestCluster {
        let ns_name = format!("it-{}", name.replace('_', "-"));
        let ns_name: String = ns_name.chars().take(50).collect::<String>().trim_end_matches('-').to_owned();
        if let Ok(path) = std::env::var("ROLLOUT_TEST_KUBECONFIG") {
            let text = std::fs::read_to_string(&path).expect("ROLLOUT_TEST_KUBECONFIG is readable");
            let context = std::env::var("ROLLOUT_TEST_CONTEXT").ok();
            let (client, requests) = counted_client(Kubeconfig::from_yaml(&text).unwrap(), context.clone()).await;
            let (namespace, created) = match std::env::var("ROLLOUT_TEST_NAMESPACE") {
                Ok(ns) => (ns, false),
                Err(_) => {
                    let ns = format!("{ns_name}-{}", std::process::id());
                    create_namespace(&client, &ns).await;
                    (ns, true)
                }
            };
            let images = std::env::var("ROLLOUT_TEST_IMAGES")
                .unwrap_or_else(|_| "nginx:1.25-alpine,nginx:1.26-alpine,nginx:1.27-alpine".into())
                .split(',')
                .map(|s| s.trim().to_owned())
                .collect();
            let port = std::env::var("ROLLOUT_TEST_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(80);
            return TestCluster {
                sandbox: None,
                client,
                requests,
                namespace,
                created_namespace: created,
                kubeconfig: text,
                context,
                images,
                port,
                expect_server_errors: false,
            };
        }
        let sandbox = Sandbox::builder().time_scale(TIME_SCALE).seed(seed).start().await.expect("sandbox starts");
        let kubeconfig = sandbox.kubeconfig();
        let (client, requests) = counted_client(Kubeconfig::from_yaml(&kubeconfig).unwrap(), None).await;
        create_namespace(&client, &ns_name).await;
        TestCluster {
            sandbox: Some(sandbox),
            client,
            requests,
            namespace: ns_name,
            created_namespace: true,
            kubeconfig,
            context: None,
            images: (1..=5).map(|i| format!("registry.example/shop/app:1.0.{i}")).collect(),
            port: 8443,
            expect_server_errors: false,
        }
    }

    /// Whether this is a real cluster.
    pub fn is_real(&self) -> bool {
        self.sandbox.is_none()
    }

    /// The sandbox, for scenarios that need image behaviours; `None` (with a message) on a real
    /// cluster, where the test should return early.
    pub fn sandbox_or_skip(&self, test: &str, needs: &str) -> Option<&Sandbox> {
        if self.sandbox.is_none() {
            eprintln!("skipping {test} on a real cluster: it needs {needs}");
        }
        self.sandbox.as_ref()
    }

    /// The `n`-th healthy test image (1-based).
    pub fn image(&self, n: usize) -> String {
        self.images[(n - 1) % self.images.len()].clone()
    }

    /// A sandbox image with a given behaviour (never pulled on a real cluster).
    pub fn bad_image(&self, name: &str, behaviour: ImageBehaviour) -> String {
        let image = format!("registry.example/shop/app:{name}");
        if let Some(sb) = &self.sandbox {
            sb.images().set(&image, behaviour).unwrap();
        }
        image
    }

    /// An image of the sandbox's ECR registry, `<host>/<repository>:<tag>`, pushed there first when
    /// `push` is true (images under that host pull only if they were pushed). `None` on a real cluster.
    pub fn ecr_image(&self, repository: &str, tag: &str, push: bool) -> Option<String> {
        let sb = self.sandbox.as_ref()?;
        if push {
            sb.ecr().ensure_repository(repository).unwrap();
            sb.ecr().push_image(repository, &[tag], Default::default()).unwrap();
        } else {
            sb.ecr().ensure_repository(repository).unwrap();
        }
        Some(format!("{}/{repository}:{tag}", sb.registry_host()))
    }

    /// The sandbox's ECR registry through rollout's own ECR client.
    pub async fn registry(&self) -> rollout_core::registry::Registry {
        use aws_sdk_ecr::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
        let sb = self.sandbox.as_ref().expect("the sandbox registry");
        let config = aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(sb.ecr().region().to_string()))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::for_tests()))
            .build();
        let options = rollout_core::clients::AwsOptions { endpoint_url: Some(sb.ecr_endpoint()), ..Default::default() };
        rollout_core::registry::Registry::new(
            rollout_core::clients::ecr_client_from_config(&config, &options)
                .await
                .expect("an ECR client for the sandbox"),
        )
    }

    /// The simulated time now (the real time on a real cluster).
    pub fn now(&self) -> jiff::Timestamp {
        self.sandbox.as_ref().map_or_else(jiff::Timestamp::now, |sb| sb.clock().now())
    }

    /// A Deployment manifest in the test namespace: `replicas` pods of one container `app`, rolling
    /// update with maxSurge 1 / maxUnavailable 0, the seed's readiness probe, every field the
    /// controller reads given explicitly.
    pub fn deployment(&self, name: &str, image: &str, replicas: i32, progress_deadline: i64) -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": self.namespace, "labels": {"app": name}},
            "spec": {
                "replicas": replicas,
                "progressDeadlineSeconds": progress_deadline,
                "revisionHistoryLimit": 10,
                "minReadySeconds": 0,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{
                        "name": "app",
                        "image": image,
                        "ports": [{"containerPort": self.port}],
                        "readinessProbe": {"tcpSocket": {"port": self.port}, "initialDelaySeconds": 5, "periodSeconds": 10},
                    }]}
                }
            }
        })
    }

    /// Creates a Deployment from a manifest.
    pub async fn create(&self, manifest: Value) -> Deployment {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &self.namespace);
        let d: Deployment = serde_json::from_value(manifest).unwrap();
        api.create(&PostParams::default(), &d).await.expect("deployment is created")
    }

    /// Creates a Deployment and waits for its first rollout (which marks revision 1 healthy).
    pub async fn create_ready(&self, name: &str, image: &str, replicas: i32, progress_deadline: i64) -> Deployment {
        self.create(self.deployment(name, image, replicas, progress_deadline)).await;
        let options = rollout_core::wait::WaitOptions::new(self.timeout(60));
        let target = rollout_core::workload::WorkloadRef::deployment(&self.namespace, name);
        rollout_core::wait::wait(&self.client, &target, &options, &rollout_core::wait::no_progress)
            .await
            .expect("the first rollout succeeds");
        self.get(name).await
    }

    /// Reads a Deployment.
    pub async fn get(&self, name: &str) -> Deployment {
        Api::<Deployment>::namespaced(self.client.clone(), &self.namespace).get(name).await.unwrap()
    }

    /// A timeout of `sandbox_seconds` real seconds on the sandbox, ten times more on a real cluster.
    pub fn timeout(&self, sandbox_seconds: u64) -> Duration {
        Duration::from_secs(if self.is_real() { sandbox_seconds * 10 } else { sandbox_seconds })
    }

    /// The clusters argument of the multi-cluster functions: this cluster under its context name.
    pub fn clusters(&self) -> Vec<(String, Client)> {
        vec![(self.context.clone().unwrap_or_default(), self.client.clone())]
    }

    /// Ends the test: asserts that the sandbox recorded no internal error (a write of its own
    /// controllers or kubelet that it rejected) and that no request met a server error no fault
    /// injection asked for, then stops the sandbox or deletes the namespace the test created.
    pub async fn finish(self) {
        if let Some(sb) = &self.sandbox {
            let internal = sb.internal_errors();
            assert!(internal.is_empty(), "sandbox internal errors: {internal:#?}");
        }
        if !self.expect_server_errors {
            let errors = self.requests.server_errors();
            assert!(errors.is_empty(), "unexpected server errors: {errors:#?}");
        }
        match self.sandbox {
            Some(sb) => sb.shutdown().await,
            None if self.created_namespace => {
                let api: Api<Namespace> = Api::all(self.client.clone());
                let _ = api.delete(&self.namespace, &DeleteParams::default()).await;
            }
            None => {}
        }
    }
}

async fn create_namespace(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    match api.create(&PostParams::default(), &ns).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => panic!("creating namespace {name}: {e}"),
    }
}

/// Progress events collected by a test.
#[derive(Clone, Default)]
pub struct Collected(pub Arc<Mutex<Vec<rollout_core::wait::ProgressEvent>>>);

impl Collected {
    pub fn callback(&self) -> impl Fn(&rollout_core::wait::ProgressEvent) + Send + Sync + 'static {
        let events = self.0.clone();
        move |e| events.lock().unwrap().push(e.clone())
    }

    pub fn events(&self) -> Vec<rollout_core::wait::ProgressEvent> {
        self.0.lock().unwrap().clone()
    }
}

/// Runs `fut` under a real-time bound that only catches a hang.
pub async fn bounded<T>(limit: Duration, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, fut).await.expect("the test finished within its real-time bound")
}
