//! rollout-sandbox: an in-process emulator of the Kubernetes API and of ECR for testing rollout.
//!
//! It serves the Kubernetes API over plain HTTP/1.1 on 127.0.0.1 (JSON only), runs the Deployment
//! and ReplicaSet controllers as Kubernetes implements them and a pod simulator with probes, image
//! pulls, crash loops, events and logs, all on a scaled clock, with seeded fault injection. The real
//! `kubectl` and kube-rs work against it unchanged. The same port serves an emulated ECR (`ecr`)
//! that aws-sdk-ecr and the aws CLI accept; the simulated kubelet pulls images under its registry
//! host only if they were pushed there.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use rollout_sandbox::{ImageBehaviour, PushOptions, Sandbox};
//!
//! let sandbox = Sandbox::builder().time_scale(0.01).seed(7).start().await?;
//! sandbox.images().set("registry.example/app:broken", ImageBehaviour::crashing(1, 2.0, &["panic: no config"])).unwrap();
//! sandbox.ecr().create_repository("app").unwrap();
//! sandbox.ecr().push_image("app", &["1.0.0"], PushOptions::default()).unwrap(); // <registry_host>/app:1.0.0
//! sandbox.write_kubeconfig("/tmp/kubeconfig")?; // KUBECONFIG=/tmp/kubeconfig kubectl get deploy
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

pub mod admin;
pub mod admission;
pub mod api;
pub mod clock;
pub mod controller;
pub mod ecr;
pub mod error;
pub mod events;
pub mod faults;
pub mod images;
pub mod json;
pub mod kinds;
pub mod kubelet;
pub mod logs;
pub mod patch;
pub mod requests;
pub mod rng;
pub mod selector;
pub mod store;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use clock::Clock;
pub use ecr::{Ecr, PushOptions};
pub use faults::{ErrorRule, FaultConfig, Faults};
pub use images::{ImageBehaviour, ImagePuller, Images, PullOutcome};
pub use kinds::Kind;
pub use requests::{RequestCounter, RequestCounts};
pub use store::Store;

/// The name of the cluster, context and user in the kubeconfig the sandbox writes.
pub const CONTEXT: &str = "rollout-sandbox";

/// The name of the simulated node every pod is scheduled to.
pub const NODE_NAME: &str = "sandbox-node";

/// State shared by the API server, the controllers and the pod simulator.
#[derive(Debug)]
pub struct Shared {
    /// The objects.
    pub store: Arc<Store>,
    /// Fault injection.
    pub faults: Arc<Faults>,
    /// Image behaviours and the pull hook.
    pub images: Arc<Images>,
    /// Container logs.
    pub logs: Arc<logs::LogStore>,
    /// The bearer token clients must present, if any.
    pub token: Option<String>,
    /// Where the API server listens.
    pub addr: SocketAddr,
    /// Cancelled on shutdown.
    pub shutdown: CancellationToken,
    /// The seed of every random decision.
    pub seed: u64,
    /// The emulated ECR registry.
    pub ecr: Arc<Ecr>,
    /// How many requests of each kind were answered.
    pub requests: RequestCounter,
}

/// Configures and starts a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxBuilder {
    port: u16,
    time_scale: f64,
    seed: u64,
    token: Option<String>,
    history_limit: usize,
    ecr_account: String,
    ecr_region: String,
}

impl Default for SandboxBuilder {
    fn default() -> Self {
        Self {
            port: 0,
            time_scale: 1.0,
            seed: 0,
            token: None,
            history_limit: store::DEFAULT_HISTORY_LIMIT,
            ecr_account: ecr::DEFAULT_ACCOUNT.to_string(),
            ecr_region: ecr::DEFAULT_REGION.to_string(),
        }
    }
}

impl SandboxBuilder {
    /// The port to listen on (127.0.0.1 only); 0, the default, picks a free one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The factor simulated durations are multiplied by to get real ones: 0.01 makes a 10 s probe
    /// delay last 100 ms. Default 1 (real time).
    pub fn time_scale(mut self, scale: f64) -> Self {
        self.time_scale = scale;
        self
    }

    /// The seed of names, uids and fault decisions. Default 0.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Requires `Authorization: Bearer <token>` on every request but `/version` and health checks.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// How many changes the watch history keeps; watches from older resourceVersions get 410 Expired.
    pub fn history_limit(mut self, limit: usize) -> Self {
        self.history_limit = limit;
        self
    }

    /// The AWS account of the sandbox registry (12 digits; default `123456789012`).
    pub fn ecr_account(mut self, account: impl Into<String>) -> Self {
        self.ecr_account = account.into();
        self
    }

    /// The AWS region of the sandbox registry (default `ap-southeast-2`).
    pub fn ecr_region(mut self, region: impl Into<String>) -> Self {
        self.ecr_region = region.into();
        self
    }

    /// Binds the port and starts the API server, the controllers and the pod simulator.
    pub async fn start(self) -> std::io::Result<Sandbox> {
        ecr::check_account_and_region(&self.ecr_account, &self.ecr_region)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await?;
        let addr = listener.local_addr()?;
        let clock = Clock::new(self.time_scale);
        let rng = Arc::new(rng::Rng::new(self.seed));
        let images = Arc::new(Images::default());
        let ecr = Arc::new(Ecr::new(&self.ecr_account, &self.ecr_region, clock.clone(), images.clone()));
        images.set_puller(ecr.puller());
        let store = Arc::new(Store::new(clock, rng, self.history_limit));
        let shared = Arc::new(Shared {
            store,
            faults: Faults::new(self.seed),
            images,
            logs: Arc::new(logs::LogStore::default()),
            token: self.token,
            addr,
            shutdown: CancellationToken::new(),
            seed: self.seed,
            ecr,
            requests: RequestCounter::default(),
        });
        // The controllers and the kubelet subscribe to the change feed before this returns, so no
        // change a caller makes after `start` can slip past them.
        let controller_feed = shared.store.observe();
        let kubelet_feed = shared.store.observe();
        let tasks = vec![
            tokio::spawn(serve(listener, shared.clone())),
            tokio::spawn(controller::run(shared.clone(), controller_feed)),
            tokio::spawn(kubelet::run(shared.clone(), kubelet_feed)),
        ];
        Ok(Sandbox { shared, tasks })
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let stream = tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("accepting a connection failed: {e}");
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        shared.requests.connection();
        let shared = shared.clone();
        tokio::spawn(async move {
            let svc = {
                let shared = shared.clone();
                service_fn(move |req| api::handle(shared.clone(), req))
            };
            let conn = http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = shared.shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
}

/// A running sandbox. Dropping it stops everything; `shutdown` also waits for the tasks to end.
#[derive(Debug)]
pub struct Sandbox {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Sandbox {
    /// A builder with the defaults: a free port, real time, seed 0, no authentication.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }

    /// The API server's base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// The address the API server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// A kubeconfig (YAML) with one context, `rollout-sandbox`, pointing at the sandbox.
    pub fn kubeconfig(&self) -> String {
        kubeconfig_yaml(&self.url(), self.shared.token.as_deref())
    }

    /// Writes the kubeconfig to a file.
    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig())
    }

    /// The shared state (store, faults, images, logs).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The object store.
    pub fn store(&self) -> &Arc<Store> {
        &self.shared.store
    }

    /// Image behaviours.
    pub fn images(&self) -> &Arc<Images> {
        &self.shared.images
    }

    /// Fault injection.
    pub fn faults(&self) -> &Arc<Faults> {
        &self.shared.faults
    }

    /// The emulated ECR registry: push images, run lifecycle policies, read what it holds.
    pub fn ecr(&self) -> &Arc<Ecr> {
        &self.shared.ecr
    }

    /// The sandbox registry's host, `<account>.dkr.ecr.<region>.amazonaws.com`: images under it pull
    /// only if they were pushed to the sandbox ECR.
    pub fn registry_host(&self) -> String {
        self.shared.ecr.registry_host().to_string()
    }

    /// The ECR endpoint URL for aws-sdk-ecr and the aws CLI (`AWS_ENDPOINT_URL_ECR`): the same server
    /// as the Kubernetes API.
    pub fn ecr_endpoint(&self) -> String {
        self.url()
    }

    /// The simulated clock.
    pub fn clock(&self) -> &Clock {
        self.shared.store.clock()
    }

    /// How many requests of each kind the sandbox answered so far, and how many connections it
    /// accepted: subtract two snapshots ([`RequestCounts::since`]) to count one client's calls.
    pub fn requests(&self) -> RequestCounts {
        self.shared.requests.snapshot()
    }

    /// Writes of the simulated controllers and kubelet that the API server rejected: empty unless
    /// the sandbox itself has a bug. Tests assert it stays empty.
    pub fn internal_errors(&self) -> Vec<String> {
        self.shared.store.internal_errors()
    }

    /// Stops the server, the controllers and the pod simulator, and waits for them.
    pub async fn shutdown(mut self) {
        self.shared.shutdown.cancel();
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

/// A kubeconfig for a server URL and an optional bearer token.
pub fn kubeconfig_yaml(url: &str, token: Option<&str>) -> String {
    let user_block = match token {
        Some(t) => format!("  user:\n    token: {t}\n"),
        None => "  user: {}\n".to_string(),
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {CONTEXT}\n  cluster:\n    server: {url}\ncontexts:\n- name: {CONTEXT}\n  context:\n    cluster: {CONTEXT}\n    user: {CONTEXT}\n    namespace: default\ncurrent-context: {CONTEXT}\nusers:\n- name: {CONTEXT}\n{user_block}preferences: {{}}\n"
    )
}
