//! The sandbox's ECR: an emulated Amazon Elastic Container Registry that aws-sdk-ecr and the aws CLI
//! use unchanged, served on the same port as the Kubernetes API, and the registry the simulated
//! kubelet pulls from.
//!
//! - `api`: the awsJson1_1 protocol (`POST /` with `X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<Op>`),
//!   SigV4 `Authorization` required but not verified, throttling and latency faults.
//! - `store`: repositories, images and tags, paging, and the operations as ECR performs them.
//! - `policy` and `evaluate`: lifecycle policy validation and evaluation, written from the ECR User
//!   Guide independently of rollout-core's, so that each can check the other.
//! - `admin`: the `/sandbox/v1/ecr/…` control calls.
//!
//! The `Ecr` handle pushes images with chosen push times, sizes and container behaviours, runs
//! lifecycle policies on demand (as ECR's periodic pass would), and answers the kubelet's pulls:
//! an image under the registry host (`<account>.dkr.ecr.<region>.amazonaws.com`) pulls only if
//! its repository has that tag or digest. It keeps no layers, and does not implement replication,
//! scanning, repository policies or authorization tokens.

pub(crate) mod admin;
pub mod api;
pub mod error;
pub mod evaluate;
pub mod model;
pub mod policy;
pub mod store;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use jiff::Timestamp;

pub use error::EcrError;
pub use model::{Image, LifecycleResult, TagMutability};
pub use policy::{ActionType, Policy};
pub use store::{PutImage, Registry};

use crate::clock::Clock;
use crate::images::{ImageBehaviour, ImagePuller, Images, PullOutcome};

/// The account of the sandbox registry unless the builder says otherwise.
pub const DEFAULT_ACCOUNT: &str = "123456789012";
/// The region of the sandbox registry unless the builder says otherwise.
pub const DEFAULT_REGION: &str = "ap-southeast-2";

/// The image size of pushes that do not give one (the same as the default image behaviour's).
pub const DEFAULT_IMAGE_SIZE: u64 = 52_428_800;

/// Checks an account id (12 digits) and a region name (lowercase letters, digits and dashes, such as
/// `ap-southeast-2`), naming the bad one.
pub fn check_account_and_region(account: &str, region: &str) -> Result<(), String> {
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("ECR account {account:?} is not a 12-digit AWS account id"));
    }
    let parts: Vec<&str> = region.split('-').collect();
    let ok = parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit());
    if !ok {
        return Err(format!("ECR region {region:?} is not an AWS region name such as \"ap-southeast-2\""));
    }
    Ok(())
}

/// How `Ecr::push_image` pushes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PushOptions {
    /// The push time (default: the simulated now). Only a push that creates the image uses it.
    pub pushed_at: Option<Timestamp>,
    /// The image size in bytes (default 50 MiB); with a generated manifest, its one layer's size.
    pub size_bytes: Option<u64>,
    /// The manifest text (default: a Docker schema 2 manifest unique to this push).
    pub manifest: Option<String>,
    /// If given, the behaviour of containers running the image, registered for
    /// `<host>/<repo>:<tag>` for every tag and for `<host>/<repo>@<digest>`.
    pub behaviour: Option<ImageBehaviour>,
}

/// The sandbox registry.
#[derive(Debug)]
pub struct Ecr {
    account: String,
    region: String,
    host: String,
    clock: Clock,
    images: Arc<Images>,
    registry: Mutex<Registry>,
    pushes: AtomicU64,
    throttled: AtomicU64,
}

impl Ecr {
    /// An empty registry of `account` in `region`, on the sandbox's clock, registering behaviours in
    /// `images`.
    pub fn new(account: &str, region: &str, clock: Clock, images: Arc<Images>) -> Self {
        Self {
            account: account.to_string(),
            region: region.to_string(),
            host: format!("{account}.dkr.ecr.{region}.amazonaws.com"),
            clock,
            images,
            registry: Mutex::new(Registry::new(account)),
            pushes: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
        }
    }

    /// The account (registry id).
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The registry host, `<account>.dkr.ecr.<region>.amazonaws.com`.
    pub fn registry_host(&self) -> &str {
        &self.host
    }

    /// How many calls were answered with an injected `ThrottlingException`.
    pub fn throttled_calls(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    pub(crate) fn count_throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }

    /// The simulated time.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The registry's state, locked.
    pub fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates a (mutable) repository.
    /// Creates a repository unless it exists already.
    pub fn ensure_repository(&self, name: &str) -> Result<(), EcrError> {
        match self.create_repository(name) {
            Err(e) if e.code == "RepositoryAlreadyExistsException" => Ok(()),
            other => other,
        }
    }

    /// Creates a repository (`RepositoryAlreadyExistsException` when it exists).
    pub fn create_repository(&self, name: &str) -> Result<(), EcrError> {
        let now = self.now();
        self.registry().create_repository(name, TagMutability::Mutable, Vec::new(), now).map(|_| ())
    }

    /// Pushes an image with `tags` (none: an untagged image) as `PutImage` calls would, one per
    /// tag, and answers its digest. Each call without a manifest pushes a new, distinct image.
    pub fn push_image(&self, repository: &str, tags: &[&str], options: PushOptions) -> Result<String, EcrError> {
        let n = self.pushes.fetch_add(1, Ordering::Relaxed);
        let size = options.size_bytes.unwrap_or(DEFAULT_IMAGE_SIZE);
        let given_manifest = options.manifest.is_some();
        let manifest = options.manifest.unwrap_or_else(|| generated_manifest(repository, n, size));
        let at = options.pushed_at.unwrap_or_else(|| self.now());
        let digest = {
            let mut reg = self.registry();
            let tag_list: Vec<Option<&str>> =
                if tags.is_empty() { vec![None] } else { tags.iter().map(|t| Some(*t)).collect() };
            let mut digest = String::new();
            for tag in tag_list {
                let put = PutImage { manifest: manifest.clone(), tag: tag.map(str::to_string), ..Default::default() };
                digest = reg.put_image(repository, put, at)?.digest;
            }
            if given_manifest && let Some(size) = options.size_bytes {
                let repo = reg.repo_mut(repository)?;
                if let Some(i) = repo.by_digest(&digest) {
                    repo.images[i].size_bytes = size;
                }
            }
            digest
        };
        if let Some(b) = options.behaviour {
            for tag in tags {
                self.images
                    .set(&format!("{}/{repository}:{tag}", self.host), b.clone())
                    .map_err(|e| EcrError::invalid_parameter("behaviour", e))?;
            }
            self.images
                .set(&format!("{}/{repository}@{digest}", self.host), b)
                .map_err(|e| EcrError::invalid_parameter("behaviour", e))?;
        }
        Ok(digest)
    }

    /// Runs the repository's lifecycle policy now, as ECR's periodic evaluation would: expires (and
    /// archives) what it selects and answers what it did. Without a policy it does nothing.
    pub fn run_lifecycle(&self, repository: &str) -> Result<Vec<LifecycleResult>, EcrError> {
        let now = self.now();
        self.registry().run_lifecycle(repository, now)
    }

    /// The images of a repository, oldest push first.
    pub fn images(&self, repository: &str) -> Result<Vec<Image>, EcrError> {
        Ok(self.registry().repo(repository)?.images.clone())
    }

    /// Pulls an image reference as containerd would from this registry: under the registry host it
    /// succeeds only for a tag or digest the repository has (and records the pull time); any other
    /// host pulls.
    pub fn pull(&self, image: &str) -> PullOutcome {
        let Some(rest) = image.strip_prefix(&self.host).and_then(|r| r.strip_prefix('/')) else {
            return PullOutcome::Pulled { digest: None, size_bytes: None };
        };
        let (name_tag, digest) = match rest.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (rest, None),
        };
        let (repository, tag) = match name_tag.rfind(':') {
            Some(i) => (&name_tag[..i], Some(&name_tag[i + 1..])),
            None => (name_tag, None),
        };
        let tag = if digest.is_none() { Some(tag.unwrap_or("latest")) } else { tag };
        let now = self.now();
        match self.registry().pull(repository, tag, digest, now) {
            Some((digest, size)) => PullOutcome::Pulled { digest: Some(digest), size_bytes: Some(size) },
            None => {
                let reference = match (tag, digest) {
                    (Some(t), Some(d)) => format!("{}/{repository}:{t}@{d}", self.host),
                    (Some(t), None) => format!("{}/{repository}:{t}", self.host),
                    (None, Some(d)) => format!("{}/{repository}@{d}", self.host),
                    (None, None) => image.to_string(),
                };
                PullOutcome::Failed(format!(
                    "rpc error: code = NotFound desc = failed to pull and unpack image \"{reference}\": failed to resolve reference \"{reference}\": {reference}: not found"
                ))
            }
        }
    }

    /// The pull hook to install in `Images`; it holds the registry weakly, so the two do not keep
    /// each other alive.
    pub fn puller(self: &Arc<Self>) -> Arc<dyn ImagePuller> {
        Arc::new(EcrPuller(Arc::downgrade(self)))
    }
}

/// Sends pulls to the sandbox registry (see `Ecr::pull`).
#[derive(Debug)]
struct EcrPuller(Weak<Ecr>);

impl ImagePuller for EcrPuller {
    fn pull(&self, image: &str) -> PullOutcome {
        match self.0.upgrade() {
            Some(ecr) => ecr.pull(image),
            None => PullOutcome::Pulled { digest: None, size_bytes: None },
        }
    }
}

/// A Docker schema 2 manifest unique to push number `n`, with one layer of `size` bytes.
fn generated_manifest(repository: &str, n: u64, size: u64) -> String {
    let config = store::digest_of(&format!("config/{repository}/{n}"));
    let layer = store::digest_of(&format!("layer/{repository}/{n}"));
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":1469,"digest":"{config}"}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":{size},"digest":"{layer}"}}]}}"#,
        model::DOCKER_MANIFEST_V2
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ecr() -> Arc<Ecr> {
        Arc::new(Ecr::new(DEFAULT_ACCOUNT, DEFAULT_REGION, Clock::new(1.0), Arc::new(Images::default())))
    }

    #[test]
    fn pulls_under_the_registry_host_need_a_pushed_tag_or_digest() {
        let e = ecr();
        e.create_repository("app").unwrap();
        let digest = e.push_image("app", &["v1"], PushOptions { size_bytes: Some(123), ..Default::default() }).unwrap();
        let host = e.registry_host().to_string();
        assert_eq!(
            e.pull(&format!("{host}/app:v1")),
            PullOutcome::Pulled { digest: Some(digest.clone()), size_bytes: Some(123) }
        );
        assert!(e.images("app").unwrap()[0].last_recorded_pull_time.is_some());
        assert!(matches!(e.pull(&format!("{host}/app@{digest}")), PullOutcome::Pulled { .. }));
        let PullOutcome::Failed(msg) = e.pull(&format!("{host}/app")) else { panic!("latest is not pushed") };
        assert_eq!(
            msg,
            format!(
                "rpc error: code = NotFound desc = failed to pull and unpack image \"{host}/app:latest\": failed to resolve reference \"{host}/app:latest\": {host}/app:latest: not found"
            )
        );
        assert!(matches!(e.pull(&format!("{host}/other:v1")), PullOutcome::Failed(_)));
        assert!(matches!(e.pull("docker.io/library/nginx:1.27"), PullOutcome::Pulled { digest: None, .. }));
    }

    #[test]
    fn pushes_with_behaviours_register_them_for_each_tag_and_the_digest() {
        let e = ecr();
        e.create_repository("app").unwrap();
        let b = ImageBehaviour::never_ready();
        let digest = e
            .push_image("app", &["v1", "latest"], PushOptions { behaviour: Some(b.clone()), ..Default::default() })
            .unwrap();
        let host = e.registry_host();
        assert_eq!(e.images.behaviour(&format!("{host}/app:v1")), b);
        assert_eq!(e.images.behaviour(&format!("{host}/app:latest")), b);
        assert_eq!(e.images.behaviour(&format!("{host}/app@{digest}")), b);
        let images = e.images("app").unwrap();
        assert_eq!(images.len(), 1);
        assert_eq!(images[0].tags, ["v1", "latest"]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]
        #[test]
        fn pull_reference_parsing_never_panics(rest in "[a-z0-9:@/._-]{0,40}") {
            let e = ecr();
            let _ = e.pull(&format!("{}/{rest}", e.registry_host()));
            let _ = e.pull(&rest);
        }

        #[test]
        fn account_and_region_checks_never_panic(a in "\\PC{0,14}", r in "\\PC{0,20}") {
            let _ = check_account_and_region(&a, &r);
        }
    }

    #[test]
    fn accounts_and_regions_are_checked() {
        check_account_and_region("123456789012", "ap-southeast-2").unwrap();
        check_account_and_region("000000000000", "us-gov-west-1").unwrap();
        assert!(check_account_and_region("1234", "ap-southeast-2").unwrap_err().contains("12-digit"));
        assert!(check_account_and_region("123456789012", "Sydney").unwrap_err().contains("region"));
    }
}
