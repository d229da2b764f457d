//! `rollout.Client`: the cluster and registry operations of rollout-core on one kube context and one
//! ECR registry: deploy, apply, wait, status, history, rollback (`deploy`, `wait`, `history`), the
//! ECR-backed previous tag, image checks and lifecycle policies (`registry::ecr`), and the in-use scan
//! (`inuse`).
//!
//! Clients are built lazily and cached: the Kubernetes client on the first call that needs the
//! cluster, the ECR client on the first call that needs the registry (including the `image-exists`
//! preflight check of a deploy, and only when a new image is in ECR), so a script that only deploys
//! needs no AWS configuration unless it deploys ECR images. Image lookups without a configured region
//! ask the region of the image's registry host, as the core's `RegistryLookup` (the CLI's) does. Both are built from the constructor's
//! arguments alone where those suffice (an explicit kubeconfig; explicit credentials and region), so
//! two clients in one process never share configuration through the environment.
//!
//! Every call runs on the shared runtime with the interpreter released ([`crate::runtime::block_on`]):
//! Ctrl-C raises `KeyboardInterrupt` and drops the in-flight work. Progress callbacks are called on
//! the calling thread, holding the GIL, in the order the core emits the events; the first exception a
//! callback raises stops the call at its next await (the wait in flight is dropped) and is raised from
//! it. A callback cannot veto a change: a write the core has already started completes.
//!
//! It deliberately decides nothing about workloads or images: arguments are converted, one core
//! function is called, and its result becomes a report (or its error an exception).

use std::collections::BTreeSet;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use rollout_core::clients::{AwsOptions, KubeOptions, ecr_client_from_config, kube_client, load_aws_config, redact};
use rollout_core::deploy::{ApplyOptions, CheckName, DeployOptions, DeployRequest, ImageChange, ImageLookup, NewImage};
use rollout_core::history::RollbackTo;
use rollout_core::inuse::Namespaces;
use rollout_core::registry::{PutOptions, Registry};
use rollout_core::status::WorkloadKind;
use rollout_core::wait::{ProgressEvent, WaitOptions, WaitTarget};
use rollout_core::workload::WorkloadRef;
use rollout_core::{CombinedReport, Error, ImageRef, LifecyclePolicy, RepositoryName};
use tokio::sync::{Notify, OnceCell};

use crate::convert::{duration, kubernetes_value, opt_timestamp, repr, to_value};
use crate::error::{IntoPyResult, invalid_argument, to_pyerr, to_pyerr_with_result};
use crate::image::PyImageRef;
use crate::lifecycle::{PyLifecyclePolicy, in_use_images};
use crate::registry::previous_query;
use crate::report;
use crate::runtime::block_on_with;

/// The default timeout of calls that wait for a rollout: the default progress deadline of a Deployment.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// Who an in-use image given by reference is used by, in reports.
const GIVEN_IN_USE: &str = "given by the caller";

// ---------------------------------------------------------------------------------------------------------
// connections

/// The configuration of a client and its lazily built, cached connections.
struct Connections {
    kube_options: KubeOptions,
    aws_options: AwsOptions,
    credentials: Option<Credentials>,
    kube: OnceCell<(kube::Client, String)>,
    registry: OnceCell<Registry>,
    lookup_registry: OnceCell<Registry>,
}

impl Connections {
    /// The Kubernetes client and its namespace, built on first use.
    async fn kube(&self) -> Result<&(kube::Client, String), Error> {
        self.kube.get_or_try_init(|| kube_client(&self.kube_options)).await
    }

    /// The ECR registry, built on first use.
    async fn registry(&self) -> Result<&Registry, Error> {
        self.registry.get_or_try_init(|| self.build_registry(&self.aws_options)).await
    }

    /// The registry of the `image-exists` preflight check: the client's, or, when no region was given,
    /// one in the region of the first image checked, as the core's `RegistryLookup` (the CLI's) does.
    async fn lookup_registry(&self, image: &ImageRef) -> Result<&Registry, Error> {
        match (&self.aws_options.region, image.ecr_region()) {
            (None, Some(region)) => {
                self.lookup_registry
                    .get_or_try_init(|| async {
                        let options = AwsOptions { region: Some(region.to_owned()), ..self.aws_options.clone() };
                        self.build_registry(&options).await
                    })
                    .await
            }
            _ => self.registry().await,
        }
    }

    /// A registry from `options` and the client's credentials.
    async fn build_registry(&self, options: &AwsOptions) -> Result<Registry, Error> {
        let config = match (&self.credentials, &options.region, &options.profile) {
            // Everything is given: nothing is read from the environment or the aws files.
            (Some(credentials), Some(region), None) => SdkConfig::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new(region.clone()))
                .credentials_provider(SharedCredentialsProvider::new(credentials.clone()))
                .build(),
            (Some(credentials), _, _) => load_aws_config(options)
                .await
                .to_builder()
                .credentials_provider(SharedCredentialsProvider::new(credentials.clone()))
                .build(),
            (None, _, _) => load_aws_config(options).await,
        };
        ecr_client_from_config(&config, options).await.map(Registry::new)
    }
}

/// The `image-exists` preflight check's lookup: the client's registry, built only when a deploy has
/// an ECR image to check.
struct LazyRegistry(Arc<Connections>);

impl ImageLookup for LazyRegistry {
    fn image_exists<'a>(
        &'a self,
        image: &'a ImageRef,
    ) -> Pin<Box<dyn Future<Output = rollout_core::Result<bool>> + Send + 'a>> {
        Box::pin(async move { self.0.lookup_registry(image).await?.image_exists(image).await })
    }
}

// ---------------------------------------------------------------------------------------------------------
// progress

/// The progress callback of one call.
///
/// Each event of the core becomes a `ProgressEvent` report passed to the Python callable, on the thread
/// that polls the call's future: the calling thread, since [`block_on`] drives the future there. The
/// first exception the callable raises is kept, later events are not delivered, and [`Callback::run`]
/// stops the call and raises it.
struct Callback {
    callable: Option<Py<PyAny>>,
    failure: Mutex<Option<PyErr>>,
    failed: Notify,
}

impl Callback {
    fn new(callable: Option<Py<PyAny>>) -> Self {
        Callback { callable, failure: Mutex::new(None), failed: Notify::new() }
    }

    fn failure(&self) -> std::sync::MutexGuard<'_, Option<PyErr>> {
        self.failure.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Delivers one event; a no-op without a callable or after a failure.
    fn deliver(&self, event: &ProgressEvent) {
        let Some(callable) = &self.callable else { return };
        if self.failure().is_some() {
            return;
        }
        let result = Python::attach(|py| {
            let event = report::with_text::<report::ProgressEvent, _>(py, event, event.message())?;
            callable.call1(py, (event,)).map(drop)
        });
        if let Err(e) = result {
            *self.failure() = Some(e);
            self.failed.notify_one();
        }
    }

    /// Runs `fut` until it ends or the callable fails; the callable's exception wins over the result.
    async fn run<T>(&self, fut: impl Future<Output = T>) -> PyResult<T> {
        let out = tokio::select! {
            biased;
            out = fut => Some(out),
            _ = self.failed.notified() => None,
        };
        match (self.failure().take(), out) {
            (Some(e), _) => Err(e),
            (None, Some(out)) => Ok(out),
            (None, None) => Err(PyRuntimeError::new_err("the progress callback failed without an exception")),
        }
    }
}

/// Runs the core future `make` makes, reporting progress through `callback`, on the shared runtime with
/// the interpreter released; the core's error becomes its exception. The future is made on the calling
/// thread once the interpreter is released ([`block_on_with`]).
fn call<T, M, F>(py: Python<'_>, callback: &Callback, make: M) -> PyResult<T>
where
    M: FnOnce() -> F + Send,
    F: Future<Output = Result<T, Error>>,
    T: Send,
{
    block_on_with(py, move || callback.run(make()))?.py_err(py)
}

/// Runs a core future without progress on the shared runtime with the interpreter released.
fn run<T, M, F>(py: Python<'_>, make: M) -> PyResult<T>
where
    M: FnOnce() -> F + Send,
    F: Future<Output = Result<T, Error>>,
    T: Send,
{
    block_on_with(py, move || async move { Ok(make().await) })?.py_err(py)
}

// ---------------------------------------------------------------------------------------------------------
// arguments

/// A workload argument before its namespace is known.
struct Target {
    kind: WorkloadKind,
    name: String,
    namespace: Option<String>,
}

impl Target {
    /// The workload in `namespace` (the call's or the client's), unless it names its own.
    fn resolve(self, namespace: &str) -> WorkloadRef {
        WorkloadRef::new(self.kind, self.namespace.unwrap_or_else(|| namespace.to_owned()), self.name)
    }
}

/// A workload argument: `NAME` (a Deployment), kubectl's `KIND/NAME` (`statefulset/db`, `sts/db`), as
/// the core reads it (`WorkloadRef::from_arg`), or a `WorkloadRef` from a report. `field` names it in
/// errors.
fn target(field: &str, value: &Bound<'_, PyAny>) -> PyResult<Target> {
    let py = value.py();
    if let Ok(reference) = value.cast::<report::WorkloadRef>() {
        let parsed: WorkloadRef = serde_json::from_value(reference.as_super().get().value().clone())
            .map_err(|e| invalid_argument(py, field, repr(value), e.to_string()))?;
        return Ok(Target { kind: parsed.kind, name: parsed.name, namespace: Some(parsed.namespace) });
    }
    let Ok(text) = value.cast::<PyString>() else {
        return Err(PyTypeError::new_err(format!(
            "{field} must be a workload name such as 'web' or 'statefulset/db', or a WorkloadRef, not {}",
            value.get_type().name()?
        )));
    };
    // The namespace is filled in once the client's is known; the core parses kind and name.
    let parsed = WorkloadRef::from_arg(text.to_str()?, "", field).py_err(py)?;
    Ok(Target { kind: parsed.kind, name: parsed.name, namespace: None })
}

/// Workload arguments, at least one; element `i` is named `field[i]` in errors, and `shown` is how
/// an empty list is shown in that error.
fn target_list<'py>(
    py: Python<'py>,
    field: &str,
    shown: &str,
    items: impl IntoIterator<Item = PyResult<Bound<'py, PyAny>>>,
) -> PyResult<Vec<Target>> {
    let targets = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| target(&format!("{field}[{i}]"), &item?))
        .collect::<PyResult<Vec<_>>>()?;
    if targets.is_empty() {
        return Err(invalid_argument(py, field, shown, "name at least one workload"));
    }
    Ok(targets)
}

/// One workload argument or a list (or tuple) of them; `true` with the list, which must not be empty.
fn targets(field: &str, value: &Bound<'_, PyAny>) -> PyResult<(Vec<Target>, bool)> {
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        return Ok((target_list(value.py(), field, "[]", value.try_iter()?)?, true));
    }
    Ok((vec![target(field, value)?], false))
}

/// An image argument: a reference text or an `ImageRef`; `field` names it in errors.
fn image_ref(field: &str, value: &Bound<'_, PyAny>) -> PyResult<ImageRef> {
    let py = value.py();
    if let Ok(image) = value.cast::<PyImageRef>() {
        return Ok(image.get().0.clone());
    }
    let Ok(text) = value.cast::<PyString>() else {
        return Err(PyTypeError::new_err(format!(
            "{field} must be an image reference (str or ImageRef), not {}",
            value.get_type().name()?
        )));
    };
    let text = text.to_str()?;
    text.parse::<ImageRef>().map_err(|e| named(py, field, text, e))
}

/// A new image argument of a deploy or apply: an `ImageRef`, a reference text, or `":TAG"` for a new
/// tag of the image the container runs now, as the core reads it (`NewImage`, the CLI's `--image`).
fn new_image(field: &str, value: &Bound<'_, PyAny>) -> PyResult<NewImage> {
    let py = value.py();
    if let Ok(image) = value.cast::<PyImageRef>() {
        return Ok(NewImage::Reference(image.get().0.clone()));
    }
    let Ok(text) = value.cast::<PyString>() else {
        return Err(PyTypeError::new_err(format!(
            "{field} must be an image reference (str or ImageRef) or ':TAG', not {}",
            value.get_type().name()?
        )));
    };
    let text = text.to_str()?;
    text.parse::<NewImage>().map_err(|e| named(py, field, text, e))
}

/// The core's error about a reference or tag, reworded to name the argument it came from.
fn named(py: Python<'_>, field: &str, value: &str, e: Error) -> PyErr {
    match e {
        Error::InvalidImageRef { reason, .. } | Error::InvalidTag { reason, .. } => {
            invalid_argument(py, field, value, reason)
        }
        other => to_pyerr(py, other),
    }
}

/// The image changes of a deploy or apply: `image` for the only app container, `containers` by name
/// (`"*"` for every container).
fn image_changes(
    py: Python<'_>,
    image: Option<&Bound<'_, PyAny>>,
    containers: Option<&Bound<'_, PyAny>>,
    required: bool,
) -> PyResult<Vec<ImageChange>> {
    let image = image.filter(|v| !v.is_none());
    let containers = containers.filter(|v| !v.is_none());
    match (image, containers) {
        (Some(_), Some(_)) => Err(invalid_argument(
            py,
            "image",
            "and containers",
            "give image= for the only container, or containers={name: image} for named ones, not both",
        )),
        (Some(image), None) => Ok(vec![new_image("image", image)?.for_container(None)]),
        (None, Some(containers)) => {
            let Ok(map) = containers.cast::<PyDict>() else {
                return Err(PyTypeError::new_err(format!(
                    "containers must be a dict of container name to image, not {}",
                    containers.get_type().name()?
                )));
            };
            if map.is_empty() && required {
                return Err(invalid_argument(py, "containers", "{}", "name at least one container"));
            }
            let mut changes = Vec::with_capacity(map.len());
            for (name, image) in map.iter() {
                let name: String = name
                    .extract()
                    .map_err(|_| PyTypeError::new_err(format!("containers: names must be str, got {}", repr(&name))))?;
                let image = new_image(&format!("containers[{name:?}]"), &image)?;
                changes.push(image.for_container(Some(&name)));
            }
            Ok(changes)
        }
        (None, None) if required => Err(invalid_argument(
            py,
            "image",
            "None",
            "give the new image (image=...) or images by container name (containers={name: image})",
        )),
        (None, None) => Ok(Vec::new()),
    }
}

/// Names the argument in the error of an unknown container: the core reports it as a lookup in the
/// workload; for the caller it is a bad `containers` (or `image`) argument.
fn name_container_argument(e: Error, field: &str) -> Error {
    match e {
        Error::ContainerNotFound { workload, container, available } => Error::InvalidInput {
            field: field.to_owned(),
            value: container,
            reason: format!(
                "{workload} has no such container; its containers are {}",
                if available.is_empty() { "none".to_owned() } else { available.join(", ") }
            ),
        },
        other => other,
    }
}

/// A duration argument with a default when it is left out (or `None`).
fn timeout_or_default(value: Option<&Bound<'_, PyAny>>) -> PyResult<Duration> {
    match value {
        Some(v) if !v.is_none() => duration("timeout", v),
        _ => Ok(DEFAULT_TIMEOUT),
    }
}

/// The preflight checks to switch off: names as the CLI writes them (`image-exists`), `_` also
/// accepted; one name or an iterable of names.
fn skipped_checks(py: Python<'_>, value: Option<&Bound<'_, PyAny>>) -> PyResult<BTreeSet<CheckName>> {
    let Some(value) = value.filter(|v| !v.is_none()) else { return Ok(BTreeSet::new()) };
    let names: Vec<String> =
        if let Ok(one) = value.cast::<PyString>() { vec![one.to_str()?.to_owned()] } else { value.extract()? };
    let allowed = || CheckName::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ");
    names
        .iter()
        .map(|name| {
            name.replace('_', "-").parse::<CheckName>().map_err(|_| {
                invalid_argument(py, "skip_preflight", name.as_str(), format!("the checks are {}", allowed()))
            })
        })
        .collect()
}

/// A repository argument.
fn repository(py: Python<'_>, value: &str) -> PyResult<RepositoryName> {
    value.parse::<RepositoryName>().py_err(py)
}

/// The repositories argument: one name or an iterable of names.
fn repositories(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Vec<RepositoryName>> {
    let names: Vec<String> =
        if let Ok(one) = value.cast::<PyString>() { vec![one.to_str()?.to_owned()] } else { value.extract()? };
    names.iter().map(|n| repository(py, n)).collect()
}

/// A policy argument: a `LifecyclePolicy`, its JSON text, or a dict in ECR's format (both validated).
fn policy(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<LifecyclePolicy> {
    if let Ok(policy) = value.cast::<PyLifecyclePolicy>() {
        return Ok(policy.get().0.clone());
    }
    if let Ok(text) = value.cast::<PyString>() {
        return LifecyclePolicy::parse(text.to_str()?).py_err(py);
    }
    if value.is_instance_of::<PyDict>() {
        return LifecyclePolicy::parse(&to_value("policy", value)?.to_string()).py_err(py);
    }
    Err(PyTypeError::new_err(format!(
        "policy must be a LifecyclePolicy, its JSON text or a dict in ECR's format, not {}",
        value.get_type().name()?
    )))
}

/// The namespaces argument of the in-use scan: `None` for every namespace, one name, or several.
fn namespaces(py: Python<'_>, value: Option<&Bound<'_, PyAny>>) -> PyResult<Namespaces> {
    let Some(value) = value.filter(|v| !v.is_none()) else { return Ok(Namespaces::All) };
    let names: Vec<String> =
        if let Ok(one) = value.cast::<PyString>() { vec![one.to_str()?.to_owned()] } else { value.extract()? };
    if names.is_empty() {
        return Err(invalid_argument(py, "namespaces", "[]", "name at least one namespace, or pass None for all"));
    }
    Ok(Namespaces::Only(names))
}

/// The manifests argument of apply, as YAML text: YAML text itself, a path-like object (read), or
/// Kubernetes objects as dicts (kubectl's JSON or the kubernetes client's `to_dict()`), one or a list.
fn manifests(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(text.to_str()?.to_owned());
    }
    if value.hasattr("__fspath__")? {
        let path: PathBuf = value.extract()?;
        return std::fs::read_to_string(&path).map_err(|source| to_pyerr(py, Error::ReadFile { path, source }));
    }
    let objects: Vec<Bound<'_, PyAny>> = if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        value.try_iter()?.collect::<PyResult<_>>()?
    } else {
        vec![value.clone()]
    };
    let mut documents = Vec::with_capacity(objects.len());
    for (i, object) in objects.iter().enumerate() {
        let json = kubernetes_value(to_value(&format!("manifests[{i}]"), object)?);
        if !json.is_object() {
            return Err(PyTypeError::new_err(format!(
                "manifests must be YAML text, a path, or Kubernetes objects as dicts; manifests[{i}] is {}",
                object.get_type().name()?
            )));
        }
        // JSON is YAML: one document per object.
        documents.push(json.to_string());
    }
    Ok(documents.join("\n---\n"))
}

/// The exception for a call over several workloads whose combined outcome is not a success: the core's
/// error for the first workload with the worst outcome, with `.result` set to `result`.
fn combined_failure(py: Python<'_>, combined: &CombinedReport, result: Bound<'_, PyAny>) -> Option<PyErr> {
    if combined.is_success() {
        return None;
    }
    let worst = combined.reports.iter().find(|r| r.outcome == combined.outcome)?;
    let error = worst.clone().into_result().err()?;
    Some(to_pyerr_with_result(py, error, result))
}

// ---------------------------------------------------------------------------------------------------------
// the client

/// A client of one Kubernetes cluster (a kube context) and one ECR registry (an AWS account and region).
#[pyclass(frozen, name = "Client", module = "rollout")]
pub struct PyClient {
    connections: Arc<Connections>,
    endpoint: Option<String>,
}

impl PyClient {
    fn connections(&self) -> &Connections {
        &self.connections
    }
}

#[pymethods]
impl PyClient {
    /// A client; nothing is read or connected until a call needs it.
    ///
    /// Kubernetes: `kubeconfig` (a file; default `KUBECONFIG` or `~/.kube/config`, else the in-cluster
    /// service account), `context` (default the kubeconfig's current one), `namespace` (default the
    /// context's, else `default`). ECR: `region` and `profile` (default the AWS chain: `AWS_REGION`,
    /// `AWS_PROFILE`, the aws config files, instance metadata), `ecr_endpoint` (an emulator or VPC
    /// endpoint URL), and explicit credentials `aws_access_key_id` and `aws_secret_access_key` (with
    /// `aws_session_token`), which replace the credential chain.
    #[new]
    #[pyo3(signature = (kubeconfig = None, context = None, namespace = None, region = None, profile = None, ecr_endpoint = None, *, aws_access_key_id = None, aws_secret_access_key = None, aws_session_token = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        kubeconfig: Option<PathBuf>,
        context: Option<String>,
        namespace: Option<String>,
        region: Option<String>,
        profile: Option<String>,
        ecr_endpoint: Option<String>,
        aws_access_key_id: Option<String>,
        aws_secret_access_key: Option<String>,
        aws_session_token: Option<String>,
    ) -> PyResult<Self> {
        let credentials = match (aws_access_key_id, aws_secret_access_key) {
            (Some(id), Some(secret)) => Some(Credentials::new(id, secret, aws_session_token, None, "rollout.Client")),
            (None, None) if aws_session_token.is_none() => None,
            (None, _) => {
                return Err(invalid_argument(
                    py,
                    "aws_access_key_id",
                    "None",
                    "explicit credentials need both aws_access_key_id and aws_secret_access_key",
                ));
            }
            (Some(_), None) => {
                return Err(invalid_argument(
                    py,
                    "aws_secret_access_key",
                    "None",
                    "explicit credentials need both aws_access_key_id and aws_secret_access_key",
                ));
            }
        };
        let connections = Connections {
            kube_options: KubeOptions { kubeconfig, context, namespace },
            aws_options: AwsOptions { region, profile, endpoint_url: ecr_endpoint.clone() },
            credentials,
            kube: OnceCell::new(),
            registry: OnceCell::new(),
            lookup_registry: OnceCell::new(),
        };
        Ok(PyClient { connections: Arc::new(connections), endpoint: ecr_endpoint })
    }

    /// The kubeconfig file given, if any.
    #[getter]
    fn kubeconfig(&self) -> Option<PathBuf> {
        self.connections().kube_options.kubeconfig.clone()
    }

    /// The kube context given, if any.
    #[getter]
    fn context(&self) -> Option<String> {
        self.connections().kube_options.context.clone()
    }

    /// The namespace given, if any (calls use the context's namespace, else `default`, without one).
    #[getter]
    fn namespace(&self) -> Option<String> {
        self.connections().kube_options.namespace.clone()
    }

    /// The AWS region given, if any.
    #[getter]
    fn region(&self) -> Option<String> {
        self.connections().aws_options.region.clone()
    }

    /// The AWS profile given, if any.
    #[getter]
    fn profile(&self) -> Option<String> {
        self.connections().aws_options.profile.clone()
    }

    /// The ECR endpoint URL given, if any.
    #[getter]
    fn ecr_endpoint(&self) -> Option<String> {
        self.endpoint.clone()
    }

    /// Set a workload's image(s), wait for the rollout, and return its `RolloutReport`.
    ///
    /// `deployment` is a name (a Deployment), kubectl's `KIND/NAME` (`statefulset/db`), or a
    /// `WorkloadRef`; a list of them rolls the same change out to each at once, after every one passed
    /// its checks, and returns a `CombinedReport` (watched together, one watch per kind). Give `image` for its only container, or `containers={"app": image, ...}` (`"*"`
    /// for every container); an image is a reference (or `ImageRef`), or `":TAG"` for a new tag of the
    /// image the container runs now. Every preflight check runs first (`skip_preflight` switches some off
    /// by name: workload, container, image-exists, readiness-probe, strategy, paused, floating-tag); one
    /// failure and nothing changes. `timeout` (seconds, a timedelta or a text such as `"10m"`) bounds the
    /// whole call. A failed or timed-out rollout raises `RolloutFailedError` / `RolloutTimeoutError`
    /// with `.report`, after rolling back to the last known good revision when `rollback_on_failure`.
    /// With `wait=False` the call returns once the change is written (outcome `started`); with
    /// `dry_run=True` nothing is written and the report holds the `patch` that would be sent (outcome
    /// `dry_run`). `on_progress` is called with each `ProgressEvent`, on this thread, as it happens.
    /// With several workloads, a failure raises with the worst workload's `.report` and the
    /// `CombinedReport` as `.result`.
    #[pyo3(
        signature = (deployment, image = None, *, containers = None, namespace = None, timeout = None, rollback_on_failure = false, skip_preflight = None, wait = true, dry_run = false, change_cause = None, on_progress = None),
        text_signature = "($self, deployment, image=None, *, containers=None, namespace=None, timeout=600, rollback_on_failure=False, skip_preflight=(), wait=True, dry_run=False, change_cause=None, on_progress=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn deploy<'py>(
        &self,
        py: Python<'py>,
        deployment: &Bound<'py, PyAny>,
        image: Option<&Bound<'py, PyAny>>,
        containers: Option<&Bound<'py, PyAny>>,
        namespace: Option<String>,
        timeout: Option<&Bound<'py, PyAny>>,
        rollback_on_failure: bool,
        skip_preflight: Option<&Bound<'py, PyAny>>,
        wait: bool,
        dry_run: bool,
        change_cause: Option<String>,
        on_progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (targets, several) = targets("deployment", deployment)?;
        let changes = image_changes(py, image, containers, true)?;
        let container_field = if containers.is_some_and(|c| !c.is_none()) { "containers" } else { "image" };
        let timeout = timeout_or_default(timeout)?;
        let skip = skipped_checks(py, skip_preflight)?;
        let mut options = DeployOptions::new(timeout);
        options.rollback_on_failure = rollback_on_failure;
        options.skip_checks = skip;
        options.no_wait = !wait;
        options.dry_run = dry_run;
        options.image_lookup = Some(Arc::new(LazyRegistry(self.connections.clone())));
        let connections = self.connections();
        let callback = Callback::new(on_progress);
        let progress = |event: &ProgressEvent| callback.deliver(event);
        let request = |target: Target, namespace: &str| {
            let request = changes
                .iter()
                .cloned()
                .fold(DeployRequest::new(target.resolve(namespace), Vec::new()), DeployRequest::with_change);
            DeployRequest { change_cause: change_cause.clone(), ..request }
        };
        if !several {
            let target = targets.into_iter().next().expect("one target");
            let report = call(py, &callback, || async {
                let (client, default_namespace) = connections.kube().await?;
                let request = request(target, namespace.as_deref().unwrap_or(default_namespace));
                rollout_core::deploy::deploy(client, &request, &options, &progress)
                    .await
                    .map_err(|e| name_container_argument(e, container_field))
            })?;
            return Ok(report::new::<report::RolloutReport, _>(py, &report)?.into_bound(py).into_any());
        }
        let combined = call(py, &callback, || async {
            let (client, default_namespace) = connections.kube().await?;
            let ns = namespace.as_deref().unwrap_or(default_namespace);
            let requests: Vec<DeployRequest> = targets.into_iter().map(|t| request(t, ns)).collect();
            rollout_core::deploy::deploy_all(&[(String::new(), client.clone())], &requests, &options, &progress)
                .await
                .map_err(|e| name_container_argument(e, container_field))
        })?;
        let result = report::new::<report::CombinedReport, _>(py, &combined)?.into_bound(py).into_any();
        match combined_failure(py, &combined, result.clone()) {
            Some(error) => Err(error),
            None => Ok(result),
        }
    }

    /// Apply Kubernetes manifests (server-side apply, as `kubectl apply --server-side`), then wait for
    /// the Deployments, StatefulSets and DaemonSets among them; return an `ApplyReport`.
    ///
    /// `manifests` is YAML text (several documents allowed), a path (`pathlib.Path`) to a YAML file, or
    /// Kubernetes objects as dicts (one or a list). `image` sets the image of the only container of the
    /// only workload, `containers={"app": image}` by container name, before applying. `namespace` is the
    /// namespace of documents that name none. `force` takes over fields other managers own. The checks,
    /// `timeout`, `rollback_on_failure`, `wait`, `dry_run` (server-side dry run: nothing is persisted)
    /// and `on_progress` are those of `deploy`; when a rollout does not succeed, `RolloutFailedError` /
    /// `RolloutTimeoutError` carry its `.report` and the `ApplyReport` as `.result`.
    #[pyo3(
        signature = (manifests, *, image = None, containers = None, namespace = None, force = false, timeout = None, rollback_on_failure = false, skip_preflight = None, wait = true, dry_run = false, change_cause = None, on_progress = None),
        text_signature = "($self, manifests, *, image=None, containers=None, namespace=None, force=False, timeout=600, rollback_on_failure=False, skip_preflight=(), wait=True, dry_run=False, change_cause=None, on_progress=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &self,
        py: Python<'_>,
        manifests: &Bound<'_, PyAny>,
        image: Option<&Bound<'_, PyAny>>,
        containers: Option<&Bound<'_, PyAny>>,
        namespace: Option<String>,
        force: bool,
        timeout: Option<&Bound<'_, PyAny>>,
        rollback_on_failure: bool,
        skip_preflight: Option<&Bound<'_, PyAny>>,
        wait: bool,
        dry_run: bool,
        change_cause: Option<String>,
        on_progress: Option<Py<PyAny>>,
    ) -> PyResult<Py<report::ApplyReport>> {
        let text = self::manifests(py, manifests)?;
        let overrides = image_changes(py, image, containers, false)?;
        let timeout = timeout_or_default(timeout)?;
        let skip = skipped_checks(py, skip_preflight)?;
        let connections = self.connections();
        let lookup = LazyRegistry(self.connections.clone());
        let callback = Callback::new(on_progress);
        let progress = |event: &ProgressEvent| callback.deliver(event);
        let applied = call(py, &callback, || async {
            let (client, default_namespace) = connections.kube().await?;
            let mut options = ApplyOptions::new(namespace.as_deref().unwrap_or(default_namespace), timeout);
            options.force = force;
            for change in overrides {
                match change {
                    ImageChange::Image(set) => options.image_overrides.push(set),
                    ImageChange::Tag(set) => options.tag_overrides.push(set),
                }
            }
            options.change_cause = change_cause;
            options.deploy.rollback_on_failure = rollback_on_failure;
            options.deploy.no_wait = !wait;
            options.deploy.dry_run = dry_run;
            options.deploy.skip_checks = skip;
            options.deploy.image_lookup = Some(Arc::new(lookup));
            rollout_core::deploy::apply(client, &text, &options, &progress).await
        })?;
        let result = report::new::<report::ApplyReport, _>(py, &applied)?;
        if let Some(error) = combined_failure(py, &applied.rollouts, result.bind(py).clone().into_any()) {
            return Err(error);
        }
        Ok(result)
    }

    /// Wait for workloads' rollouts until each is complete, has failed (within seconds, with the
    /// reason, when its pods are doomed) or `timeout` passes.
    ///
    /// Workloads are names (Deployments), `TYPE/NAME` texts or `WorkloadRef`s. One workload gives its
    /// `RolloutReport`; several give a `CombinedReport` (watched together, one watch per kind). A rollout
    /// that fails or times out raises `RolloutFailedError` / `RolloutTimeoutError` with `.report` (and,
    /// for several, the `CombinedReport` as `.result`); a missing workload raises `NotFoundError` when it
    /// is the only one. `timeout` is required: nothing waits forever.
    #[pyo3(signature = (*workloads, timeout, namespace = None, on_progress = None))]
    fn wait<'py>(
        &self,
        py: Python<'py>,
        workloads: Vec<Bound<'py, PyAny>>,
        timeout: &Bound<'py, PyAny>,
        namespace: Option<String>,
        on_progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let targets = target_list(py, "workloads", "", workloads.into_iter().map(Ok))?;
        let options = WaitOptions::new(duration("timeout", timeout)?);
        let connections = self.connections();
        let callback = Callback::new(on_progress);
        let progress = |event: &ProgressEvent| callback.deliver(event);
        if targets.len() == 1 {
            let target = targets.into_iter().next().expect("one target");
            let report = call(py, &callback, || async {
                let (client, default_namespace) = connections.kube().await?;
                let workload = target.resolve(namespace.as_deref().unwrap_or(default_namespace));
                rollout_core::wait::wait(client, &workload, &options, &progress).await
            })?;
            return Ok(report::new::<report::RolloutReport, _>(py, &report)?.into_bound(py).into_any());
        }
        let combined = call(py, &callback, || async {
            let (client, default_namespace) = connections.kube().await?;
            let ns = namespace.as_deref().unwrap_or(default_namespace);
            let targets: Vec<WaitTarget> =
                targets.into_iter().map(|t| WaitTarget { workload: t.resolve(ns), since: None }).collect();
            rollout_core::wait::wait_all(&[(String::new(), client.clone())], &targets, &options, &progress).await
        })?;
        let result = report::new::<report::CombinedReport, _>(py, &combined)?.into_bound(py).into_any();
        match combined_failure(py, &combined, result.clone()) {
            Some(error) => Err(error),
            None => Ok(result),
        }
    }

    /// The rollout status of a workload as it stands, without waiting (`kubectl rollout status
    /// --watch=false`): a `WorkloadStatus`. `NotFoundError` when it does not exist.
    #[pyo3(signature = (workload, *, namespace = None))]
    fn status(
        &self,
        py: Python<'_>,
        workload: &Bound<'_, PyAny>,
        namespace: Option<String>,
    ) -> PyResult<Py<report::WorkloadStatus>> {
        let target = target("workload", workload)?;
        let connections = self.connections();
        let status = run(py, || async {
            let (client, default_namespace) = connections.kube().await?;
            let workload = target.resolve(namespace.as_deref().unwrap_or(default_namespace));
            let mut found = rollout_core::wait::current_status(&[(String::new(), client.clone())], &[workload]).await?;
            Ok(found.remove(0).status)
        })?;
        report::new::<report::WorkloadStatus, _>(py, &status)
    }

    /// The rollout history of a Deployment (`kubectl rollout history`), with each revision's images,
    /// creation time and health mark: a `History`.
    #[pyo3(signature = (deployment, *, namespace = None))]
    fn history(
        &self,
        py: Python<'_>,
        deployment: &Bound<'_, PyAny>,
        namespace: Option<String>,
    ) -> PyResult<Py<report::History>> {
        let target = target("deployment", deployment)?;
        let connections = self.connections();
        let history = run(py, || async {
            let (client, default_namespace) = connections.kube().await?;
            let workload = target.resolve(namespace.as_deref().unwrap_or(default_namespace));
            rollout_core::history::history(client, &workload).await
        })?;
        report::new::<report::History, _>(py, &history)
    }

    /// Roll a Deployment back and wait for the rollback's rollout; return its `RolloutReport`.
    ///
    /// The target is `to_revision` (a revision number, as `kubectl rollout undo --to-revision`), else
    /// `to_tag` (the newest revision running an image with that tag), else the last revision rollout
    /// recorded healthy (`to_last_good`, the default), else, with `to_last_good=False`, the previous
    /// revision (`kubectl rollout undo`). A Deployment already there is left alone (outcome
    /// `unchanged`). Failures raise as for `deploy`; with `wait=False` the call returns once the
    /// rollback is written (outcome `started`).
    #[pyo3(
        signature = (deployment, *, to_revision = None, to_tag = None, to_last_good = true, namespace = None, timeout = None, wait = true, on_progress = None),
        text_signature = "($self, deployment, *, to_revision=None, to_tag=None, to_last_good=True, namespace=None, timeout=600, wait=True, on_progress=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn rollback(
        &self,
        py: Python<'_>,
        deployment: &Bound<'_, PyAny>,
        to_revision: Option<i64>,
        to_tag: Option<String>,
        to_last_good: bool,
        namespace: Option<String>,
        timeout: Option<&Bound<'_, PyAny>>,
        wait: bool,
        on_progress: Option<Py<PyAny>>,
    ) -> PyResult<Py<report::RolloutReport>> {
        let target = target("deployment", deployment)?;
        let to = match (to_revision, to_tag) {
            (Some(revision), None) => RollbackTo::Revision { revision },
            (None, Some(tag)) => RollbackTo::Tag { tag },
            (None, None) if to_last_good => RollbackTo::LastKnownGood,
            (None, None) => RollbackTo::Previous,
            (Some(revision), Some(_)) => {
                return Err(invalid_argument(
                    py,
                    "to_revision",
                    revision.to_string(),
                    "give to_revision or to_tag, not both",
                ));
            }
        };
        let options = WaitOptions::new(timeout_or_default(timeout)?);
        let connections = self.connections();
        let callback = Callback::new(on_progress);
        let progress = |event: &ProgressEvent| callback.deliver(event);
        let report = call(py, &callback, || async {
            let (client, default_namespace) = connections.kube().await?;
            let workload = target.resolve(namespace.as_deref().unwrap_or(default_namespace));
            if wait {
                rollout_core::history::rollback(client, &workload, &to, &options, &progress).await
            } else {
                rollout_core::history::rollback_no_wait(client, &workload, &to, options.timeout, &progress).await
            }
        })?;
        report::new::<report::RolloutReport, _>(py, &report)
    }

    /// The tag of the release before the current one.
    ///
    /// From ECR (`repository` required): strategies `pushed` (the second-newest qualifying push),
    /// `before` (the newest qualifying image pushed before the one tagged `before`), `semver` and
    /// `cli-compatible`, with the options of `rollout.previous_tag`; a `PreviousTag` report. From the
    /// cluster: `strategy="deployed"` with `deployment=` (and `container=` when it has several) reads
    /// the Deployment's history for the newest earlier revision recorded healthy that runs another
    /// tag; a `DeployedTag` report.
    #[pyo3(signature = (repository = None, strategy = "pushed", *, before = None, pattern = None, tag_prefix = None, tag_pattern = None, include_floating = false, floating_tags = None, deployment = None, container = None, namespace = None))]
    #[allow(clippy::too_many_arguments)]
    fn previous_tag<'py>(
        &self,
        py: Python<'py>,
        repository: Option<String>,
        strategy: &str,
        before: Option<String>,
        pattern: Option<String>,
        tag_prefix: Option<String>,
        tag_pattern: Option<String>,
        include_floating: bool,
        floating_tags: Option<Vec<String>>,
        deployment: Option<&Bound<'py, PyAny>>,
        container: Option<String>,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let connections = self.connections();
        if strategy.eq_ignore_ascii_case("deployed") {
            if let Some(repository) = repository {
                return Err(invalid_argument(
                    py,
                    "repository",
                    repository,
                    "the deployed strategy reads the deployment's history, not ECR: pass deployment= and leave \
                     repository out",
                ));
            }
            let ecr_only = [
                ("before", before.is_some()),
                ("pattern", pattern.is_some()),
                ("tag_prefix", tag_prefix.is_some()),
                ("tag_pattern", tag_pattern.is_some()),
                ("floating_tags", floating_tags.is_some()),
            ];
            if let Some((field, _)) = ecr_only.iter().find(|(_, given)| *given) {
                return Err(invalid_argument(py, field, "given", "only the ECR strategies take it, not deployed"));
            }
            let Some(deployment) = deployment.filter(|d| !d.is_none()) else {
                return Err(invalid_argument(
                    py,
                    "deployment",
                    "None",
                    "the deployed strategy needs the deployment whose history to read",
                ));
            };
            let target = target("deployment", deployment)?;
            let found = run(py, || async {
                let (client, default_namespace) = connections.kube().await?;
                let workload = target.resolve(namespace.as_deref().unwrap_or(default_namespace));
                let history = rollout_core::history::history(client, &workload).await?;
                rollout_core::history::deployed_previous_tag(&history, container.as_deref())
            })?;
            return Ok(report::new::<report::DeployedTag, _>(py, &found)?.into_bound(py).into_any());
        }
        for (field, given) in [
            ("deployment", deployment.is_some_and(|d| !d.is_none())),
            ("container", container.is_some()),
            ("namespace", namespace.is_some()),
        ] {
            if given {
                return Err(invalid_argument(py, field, "given", "only the deployed strategy reads a deployment"));
            }
        }
        let Some(repository) = repository else {
            return Err(invalid_argument(
                py,
                "repository",
                "None",
                "name the ECR repository (or use strategy='deployed' with deployment=)",
            ));
        };
        let repository = self::repository(py, &repository)?;
        let query =
            previous_query(py, strategy, before, pattern, tag_prefix, tag_pattern, include_floating, floating_tags)?;
        let found = run(py, || async { connections.registry().await?.previous_tag(&repository, &query).await })?;
        Ok(report::new::<report::PreviousTag, _>(py, &found)?.into_bound(py).into_any())
    }

    /// Whether `image` (a reference text or `ImageRef` in an ECR registry) exists: by digest when it has
    /// one, else by tag, else `latest`. Without a configured region, the region of the image's registry
    /// host is asked. `NotFoundError` when its repository does not exist, `InvalidInputError` for an
    /// image outside ECR.
    fn image_exists(&self, py: Python<'_>, image: &Bound<'_, PyAny>) -> PyResult<bool> {
        let image = image_ref("image", image)?;
        let connections = self.connections();
        run(py, || async { connections.lookup_registry(&image).await?.image_exists(&image).await })
    }

    /// Put a lifecycle policy on repositories, safely, and return a `PutReport`.
    ///
    /// `policy` is a `LifecyclePolicy`, its JSON text or a dict; it is validated first. Images the
    /// policy would expire or archive are checked against `in_use` (references, `ImageRef`s, dicts or
    /// `InUseImage`s) and, with `protect_in_use`, against every image the cluster's workloads use or
    /// may roll back to (in `namespaces`: one, several, or `None` for all); unless `force`, any such
    /// image refuses the whole put with `InvalidInputError` and nothing is written. Repositories that
    /// already have the policy are left alone.
    #[pyo3(
        signature = (repositories, policy, *, force = false, in_use = None, protect_in_use = false, namespaces = None),
        text_signature = "($self, repositories, policy, *, force=False, in_use=(), protect_in_use=False, namespaces=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn put_lifecycle_policy(
        &self,
        py: Python<'_>,
        repositories: &Bound<'_, PyAny>,
        policy: &Bound<'_, PyAny>,
        force: bool,
        in_use: Option<&Bound<'_, PyAny>>,
        protect_in_use: bool,
        namespaces: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<report::PutReport>> {
        let repositories = self::repositories(py, repositories)?;
        let policy = self::policy(py, policy)?;
        let mut given = match in_use.filter(|v| !v.is_none()) {
            Some(in_use) => in_use_images(in_use)?,
            None => Vec::new(),
        };
        for image in &mut given {
            if image.used_by.is_empty() {
                image.used_by = GIVEN_IN_USE.to_owned();
            }
        }
        if namespaces.is_some_and(|n| !n.is_none()) && !protect_in_use {
            return Err(invalid_argument(
                py,
                "namespaces",
                repr(namespaces.expect("checked")),
                "namespaces picks where protect_in_use=True scans; pass protect_in_use=True too",
            ));
        }
        let namespaces = self::namespaces(py, namespaces)?;
        let connections = self.connections();
        let report = run(py, || async {
            let mut options = PutOptions { force, in_use: given, ..PutOptions::default() };
            if protect_in_use {
                let (client, _) = connections.kube().await?;
                let clusters = [(String::new(), client.clone())];
                options.in_use.extend(rollout_core::inuse::in_use_images(&clusters, &namespaces).await?);
            }
            connections.registry().await?.put_lifecycle_policies(&repositories, &policy, &options).await
        })?;
        report::new::<report::PutReport, _>(py, &report)
    }

    /// The repository's lifecycle policy, or `None` when it has none.
    fn get_lifecycle_policy(&self, py: Python<'_>, repository: &str) -> PyResult<Option<PyLifecyclePolicy>> {
        let repository = self::repository(py, repository)?;
        let connections = self.connections();
        let found = run(py, || async { connections.registry().await?.get_lifecycle_policy(&repository).await })?;
        Ok(found.map(PyLifecyclePolicy))
    }

    /// The difference between the repository's lifecycle policy and `policy` (the desired one): a
    /// `PolicyDiff`.
    fn diff_lifecycle_policy(
        &self,
        py: Python<'_>,
        repository: &str,
        policy: &Bound<'_, PyAny>,
    ) -> PyResult<Py<report::PolicyDiff>> {
        let repository = self::repository(py, repository)?;
        let policy = self::policy(py, policy)?;
        let connections = self.connections();
        let diff =
            run(py, || async { connections.registry().await?.diff_lifecycle_policy(&repository, &policy).await })?;
        report::new::<report::PolicyDiff, _>(py, &diff)
    }

    /// What `policy` would do to the repository's images at `now` (an aware datetime; default the
    /// current time), evaluated locally over the images ECR lists: a `Preview`.
    #[pyo3(signature = (repository, policy, now = None))]
    fn preview_lifecycle_policy(
        &self,
        py: Python<'_>,
        repository: &str,
        policy: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<report::Preview>> {
        let repository = self::repository(py, repository)?;
        let policy = self::policy(py, policy)?;
        let now = opt_timestamp("now", now)?.unwrap_or_else(jiff::Timestamp::now);
        let connections = self.connections();
        let preview = run(py, || async {
            connections.registry().await?.preview_lifecycle_policy(&repository, &policy, now).await
        })?;
        report::new::<report::Preview, _>(py, &preview)
    }

    /// Every image the cluster's workloads use or may roll back to, each with who uses it: Deployments
    /// (and the ReplicaSets they keep for rollback), StatefulSets, DaemonSets, CronJobs, Jobs and Pods
    /// (with the digests they run), in `namespaces` (one, several, or `None` for all): `InUseImage`s.
    #[pyo3(signature = (namespaces = None))]
    fn images_in_use<'py>(
        &self,
        py: Python<'py>,
        namespaces: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let namespaces = self::namespaces(py, namespaces)?;
        let connections = self.connections();
        let images = run(py, || async {
            let (client, _) = connections.kube().await?;
            rollout_core::inuse::in_use_images(&[(String::new(), client.clone())], &namespaces).await
        })?;
        report::list_of::<report::InUseImage, _>(py, &images)
    }

    fn __repr__(&self) -> String {
        let c = self.connections();
        let show = |v: &Option<String>| v.as_deref().map(|s| format!("{:?}", redact(s))).unwrap_or("None".to_owned());
        format!(
            "Client(kubeconfig={}, context={}, namespace={}, region={}, profile={}, ecr_endpoint={})",
            show(&c.kube_options.kubeconfig.as_ref().map(|p| p.display().to_string())),
            show(&c.kube_options.context),
            show(&c.kube_options.namespace),
            show(&c.aws_options.region),
            show(&c.aws_options.profile),
            show(&self.endpoint),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_container_becomes_a_bad_argument_naming_it() {
        let e = Error::ContainerNotFound {
            workload: Box::new(WorkloadRef::deployment("shop", "web")),
            container: "side".into(),
            available: vec!["app".into(), "proxy".into()],
        };
        let named = name_container_argument(e, "containers");
        assert_eq!(
            named.to_string(),
            "invalid containers \"side\": shop/deployment/web has no such container; its containers are app, proxy"
        );
        let other = name_container_argument(Error::TagNotFound { tag: "1".into(), images: 0 }, "image");
        assert!(matches!(other, Error::TagNotFound { .. }));
    }
}
