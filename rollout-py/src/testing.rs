//! The native half of `rollout.testing`: the in-process sandbox on the shared runtime, and hooks for
//! the module's own tests.
//!
//! `NativeSandbox` starts `rollout_sandbox::Sandbox` (the emulated Kubernetes API, controllers and pod
//! simulator) on the module's runtime, so it keeps serving while Python runs, and exposes its controls
//! with Python conventions (keyword arguments, seconds or timedeltas). The friendly wrapper, a context
//! manager with a kubeconfig file and a pytest fixture, is `rollout.testing.Sandbox` in Python.
//!
//! The test hooks (`_block_for`, `_blocks_in_flight`, `_Latch`) exist to test the runtime helper:
//! Ctrl-C during a long call, the future being dropped, and the interpreter being released. They are
//! not part of the API.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use rollout_core::registry::{ImageRecord, StorageClass};
use rollout_sandbox::ecr::{ActionType, EcrError, PushOptions};
use rollout_sandbox::{FaultConfig, ImageBehaviour, Sandbox};
use serde_json::Value;

use crate::convert::{camel_case, duration, from_value, opt_timestamp, repr, seconds, to_value};
use crate::error::{invalid_argument, to_pyerr};
use crate::registry::PyImageRecord;
use crate::runtime::block_on;

/// A running sandbox; `shutdown()` stops it (dropping it does too).
#[pyclass(frozen, name = "NativeSandbox", module = "rollout._rollout")]
pub struct NativeSandbox {
    sandbox: Mutex<Option<Sandbox>>,
    url: String,
    kubeconfig: String,
    time_scale: f64,
    seed: u64,
    registry_host: String,
    ecr_account: String,
    ecr_region: String,
}

impl NativeSandbox {
    /// Runs `f` on the running sandbox, or fails when it was shut down.
    fn with<R>(&self, f: impl FnOnce(&Sandbox) -> R) -> PyResult<R> {
        let guard = self.sandbox.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(sandbox) => Ok(f(sandbox)),
            None => Err(PyRuntimeError::new_err("the sandbox was shut down")),
        }
    }
}

/// Simulated seconds from an optional argument, or the default.
fn seconds_or(field: &str, value: Option<&Bound<'_, PyAny>>, default: f64) -> PyResult<f64> {
    match value {
        Some(v) if !v.is_none() => seconds(field, v),
        _ => Ok(default),
    }
}

/// JSON with every object key in camelCase, for the sandbox's camelCase configuration types.
fn camel_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (camel_case(&k), camel_keys(v))).collect()),
        Value::Array(items) => Value::Array(items.into_iter().map(camel_keys).collect()),
        other => other,
    }
}

/// The behaviour keyword arguments shared by `set_image_behaviour` and `push_image`, every one optional.
struct BehaviourArgs<'a, 'py> {
    pull_seconds: Option<&'a Bound<'py, PyAny>>,
    start_delay: Option<&'a Bound<'py, PyAny>>,
    crash_after: Option<&'a Bound<'py, PyAny>>,
    exit_code: Option<i32>,
    oom_killed: Option<bool>,
    log_lines: Option<Vec<String>>,
    never_ready: Option<bool>,
    liveness_fails: Option<bool>,
    config_error: Option<String>,
    pull_error: Option<String>,
    run_seconds: Option<&'a Bound<'py, PyAny>>,
    stop_seconds: Option<&'a Bound<'py, PyAny>>,
    size_bytes: Option<u64>,
}

impl BehaviourArgs<'_, '_> {
    /// Whether any argument was given.
    fn any(&self) -> bool {
        let given = |v: Option<&Bound<'_, PyAny>>| v.is_some_and(|v| !v.is_none());
        given(self.pull_seconds)
            || given(self.start_delay)
            || given(self.crash_after)
            || given(self.run_seconds)
            || given(self.stop_seconds)
            || self.exit_code.is_some()
            || self.oom_killed.is_some()
            || self.log_lines.is_some()
            || self.never_ready.is_some()
            || self.liveness_fails.is_some()
            || self.config_error.is_some()
            || self.pull_error.is_some()
            || self.size_bytes.is_some()
    }

    /// `base` with every given argument applied.
    fn apply(self, base: ImageBehaviour) -> PyResult<ImageBehaviour> {
        Ok(ImageBehaviour {
            pull_seconds: seconds_or("pull_seconds", self.pull_seconds, base.pull_seconds)?,
            start_delay_seconds: seconds_or("start_delay", self.start_delay, base.start_delay_seconds)?,
            crash_after_seconds: match self.crash_after {
                Some(v) if !v.is_none() => Some(seconds("crash_after", v)?),
                _ => base.crash_after_seconds,
            },
            exit_code: self.exit_code.unwrap_or(base.exit_code),
            oom_killed: self.oom_killed.unwrap_or(base.oom_killed),
            log_lines: self.log_lines.unwrap_or(base.log_lines),
            never_ready: self.never_ready.unwrap_or(base.never_ready),
            liveness_fails: self.liveness_fails.unwrap_or(base.liveness_fails),
            config_error: self.config_error.or(base.config_error),
            pull_error: self.pull_error.or(base.pull_error),
            run_seconds: seconds_or("run_seconds", self.run_seconds, base.run_seconds)?,
            stop_seconds: seconds_or("stop_seconds", self.stop_seconds, base.stop_seconds)?,
            size_bytes: self.size_bytes.unwrap_or(base.size_bytes),
        })
    }
}

/// A behaviour dict in the admin API's form (camelCase) or with snake_case keys.
fn behaviour_dict(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<ImageBehaviour> {
    let json = camel_keys(to_value("behaviour", value)?);
    serde_json::from_value(json).map_err(|e| invalid_argument(py, "behaviour", repr(value), e.to_string()))
}

/// The exception for a refusal of the sandbox registry: a missing repository is `NotFoundError`,
/// anything else a bad argument `field` of value `value`.
fn ecr_error(py: Python<'_>, sandbox: &NativeSandbox, field: &str, value: &str, e: EcrError) -> PyErr {
    if e.code == "RepositoryNotFoundException" {
        return to_pyerr(
            py,
            rollout_core::Error::RepositoryNotFound {
                repository: value.to_owned(),
                registry_id: Some(sandbox.ecr_account.clone()),
                region: Some(sandbox.ecr_region.clone()),
            },
        );
    }
    invalid_argument(py, field, value, e.to_string())
}

/// A tags argument: none, one tag, or an iterable of tags.
fn tag_list(value: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    match value {
        None => Ok(Vec::new()),
        Some(v) if v.is_none() => Ok(Vec::new()),
        Some(v) => match v.cast::<PyString>() {
            Ok(one) => Ok(vec![one.to_str()?.to_owned()]),
            Err(_) => v
                .extract()
                .map_err(|_| PyTypeError::new_err(format!("tags must be a str or a list of str, not {}", repr(v)))),
        },
    }
}

#[pymethods]
impl NativeSandbox {
    /// Starts a sandbox on 127.0.0.1: `time_scale` multiplies every simulated duration (0.01 makes a
    /// 10 s probe delay last 100 ms), `seed` fixes generated names and injected faults, `token`
    /// requires a bearer token, `port` 0 picks a free port.
    ///
    /// The sandbox registry is ECR account `ecr_account` (default `123456789012`) in region
    /// `ecr_region` (default `ap-southeast-2`).
    #[new]
    #[pyo3(signature = (*, time_scale, seed = 0, token = None, port = 0, history_limit = None, ecr_account = None, ecr_region = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        time_scale: f64,
        seed: u64,
        token: Option<String>,
        port: u16,
        history_limit: Option<usize>,
        ecr_account: Option<String>,
        ecr_region: Option<String>,
    ) -> PyResult<Self> {
        if !(time_scale.is_finite() && time_scale > 0.0) {
            return Err(invalid_argument(
                py,
                "time_scale",
                time_scale.to_string(),
                "use a positive number such as 0.01",
            ));
        }
        let mut builder = Sandbox::builder().time_scale(time_scale).seed(seed).port(port);
        if let Some(token) = token {
            builder = builder.token(token);
        }
        if let Some(limit) = history_limit {
            builder = builder.history_limit(limit);
        }
        let account = ecr_account.unwrap_or_else(|| rollout_sandbox::ecr::DEFAULT_ACCOUNT.to_owned());
        let region = ecr_region.unwrap_or_else(|| rollout_sandbox::ecr::DEFAULT_REGION.to_owned());
        if let Err(reason) = rollout_sandbox::ecr::check_account_and_region(&account, &region) {
            let (field, value) =
                if reason.starts_with("ECR account") { ("ecr_account", &account) } else { ("ecr_region", &region) };
            return Err(invalid_argument(py, field, value.as_str(), reason));
        }
        builder = builder.ecr_account(account.clone()).ecr_region(region.clone());
        let sandbox = block_on(py, async move { builder.start().await.map_err(PyErr::from) })?;
        Ok(Self {
            url: sandbox.url(),
            kubeconfig: sandbox.kubeconfig(),
            time_scale: sandbox.clock().scale(),
            seed,
            registry_host: sandbox.registry_host(),
            ecr_account: account,
            ecr_region: region,
            sandbox: Mutex::new(Some(sandbox)),
        })
    }

    /// The API server's base URL, `http://127.0.0.1:<port>`.
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    /// A kubeconfig (YAML) with one context, `rollout-sandbox`, namespace `default`.
    #[getter]
    fn kubeconfig_yaml(&self) -> &str {
        &self.kubeconfig
    }

    /// The factor simulated durations are multiplied by to get real ones.
    #[getter]
    fn time_scale(&self) -> f64 {
        self.time_scale
    }

    /// The seed of generated names and injected faults.
    #[getter]
    fn seed(&self) -> u64 {
        self.seed
    }

    /// Whether the sandbox is still running.
    #[getter]
    fn running(&self) -> bool {
        self.sandbox.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Writes the kubeconfig to `path`.
    fn write_kubeconfig(&self, path: PathBuf) -> PyResult<()> {
        std::fs::write(&path, &self.kubeconfig).map_err(PyErr::from)
    }

    /// The sandbox's simulated time, an aware datetime in UTC.
    fn now(&self) -> PyResult<jiff::Timestamp> {
        self.with(|s| s.clock().now())
    }

    /// Sets how containers of `image` behave (a pattern ending in `*` matches a prefix). Durations are
    /// simulated seconds, or timedeltas; arguments left out keep the sandbox's defaults.
    #[pyo3(signature = (image, *, pull_seconds = None, start_delay = None, crash_after = None, exit_code = None, oom_killed = None, log_lines = None, never_ready = None, liveness_fails = None, config_error = None, pull_error = None, run_seconds = None, stop_seconds = None, size_bytes = None))]
    #[allow(clippy::too_many_arguments)]
    fn set_image_behaviour(
        &self,
        py: Python<'_>,
        image: &str,
        pull_seconds: Option<&Bound<'_, PyAny>>,
        start_delay: Option<&Bound<'_, PyAny>>,
        crash_after: Option<&Bound<'_, PyAny>>,
        exit_code: Option<i32>,
        oom_killed: Option<bool>,
        log_lines: Option<Vec<String>>,
        never_ready: Option<bool>,
        liveness_fails: Option<bool>,
        config_error: Option<String>,
        pull_error: Option<String>,
        run_seconds: Option<&Bound<'_, PyAny>>,
        stop_seconds: Option<&Bound<'_, PyAny>>,
        size_bytes: Option<u64>,
    ) -> PyResult<()> {
        let args = BehaviourArgs {
            pull_seconds,
            start_delay,
            crash_after,
            exit_code,
            oom_killed,
            log_lines,
            never_ready,
            liveness_fails,
            config_error,
            pull_error,
            run_seconds,
            stop_seconds,
            size_bytes,
        };
        let behaviour = args.apply(ImageBehaviour::default())?;
        if image.is_empty() {
            return Err(invalid_argument(py, "image", image, "name an image reference, or a prefix ending in *"));
        }
        self.with(|s| s.images().set(image, behaviour))?
            .map_err(|reason| invalid_argument(py, "image behaviour", image, reason))
    }

    // --- ECR ---

    /// The ECR endpoint URL (the same server as the Kubernetes API), for rollout, boto3 and the aws CLI.
    #[getter]
    fn ecr_endpoint(&self) -> &str {
        &self.url
    }

    /// The sandbox registry's host, `<account>.dkr.ecr.<region>.amazonaws.com`.
    #[getter]
    fn registry_host(&self) -> &str {
        &self.registry_host
    }

    /// The sandbox registry's AWS account id.
    #[getter]
    fn ecr_account(&self) -> &str {
        &self.ecr_account
    }

    /// The sandbox registry's AWS region.
    #[getter]
    fn ecr_region(&self) -> &str {
        &self.ecr_region
    }

    /// Creates a repository (an error when it exists).
    fn create_repository(&self, py: Python<'_>, repository: &str) -> PyResult<()> {
        self.with(|s| s.ecr().create_repository(repository))?
            .map_err(|e| ecr_error(py, self, "repository", repository, e))
    }

    /// Pushes a new image with `tags` (none: untagged) to `repository`, creating the repository when it
    /// is missing, and returns its digest. `pushed_at` (an aware datetime; default the simulated now)
    /// and `size_bytes` describe the image; `behaviour` (a dict, camelCase or snake_case) and the
    /// behaviour keywords of `set_image_behaviour` set how its containers behave, for every tag and the
    /// digest.
    #[pyo3(signature = (repository, tags = None, *, pushed_at = None, size_bytes = None, behaviour = None, pull_seconds = None, start_delay = None, crash_after = None, exit_code = None, oom_killed = None, log_lines = None, never_ready = None, liveness_fails = None, config_error = None, pull_error = None, run_seconds = None, stop_seconds = None))]
    #[allow(clippy::too_many_arguments)]
    fn push_image(
        &self,
        py: Python<'_>,
        repository: &str,
        tags: Option<&Bound<'_, PyAny>>,
        pushed_at: Option<&Bound<'_, PyAny>>,
        size_bytes: Option<u64>,
        behaviour: Option<&Bound<'_, PyAny>>,
        pull_seconds: Option<&Bound<'_, PyAny>>,
        start_delay: Option<&Bound<'_, PyAny>>,
        crash_after: Option<&Bound<'_, PyAny>>,
        exit_code: Option<i32>,
        oom_killed: Option<bool>,
        log_lines: Option<Vec<String>>,
        never_ready: Option<bool>,
        liveness_fails: Option<bool>,
        config_error: Option<String>,
        pull_error: Option<String>,
        run_seconds: Option<&Bound<'_, PyAny>>,
        stop_seconds: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<String> {
        let tags = tag_list(tags)?;
        let args = BehaviourArgs {
            pull_seconds,
            start_delay,
            crash_after,
            exit_code,
            oom_killed,
            log_lines,
            never_ready,
            liveness_fails,
            config_error,
            pull_error,
            run_seconds,
            stop_seconds,
            // The image's size, when given, is also the size its pull events report.
            size_bytes: None,
        };
        let base = match behaviour.filter(|b| !b.is_none()) {
            Some(dict) => Some(behaviour_dict(py, dict)?),
            None => None,
        };
        let behaviour = match (base, args.any()) {
            (Some(base), _) => Some(args.apply(base)?),
            (None, true) => Some(args.apply(ImageBehaviour::default())?),
            (None, false) => None,
        }
        .map(|mut b| {
            if let Some(size) = size_bytes {
                b.size_bytes = size;
            }
            b
        });
        let options =
            PushOptions { pushed_at: opt_timestamp("pushed_at", pushed_at)?, size_bytes, manifest: None, behaviour };
        let tag_refs: Vec<&str> = tags.iter().map(String::as_str).collect();
        self.with(|s| {
            s.ecr().ensure_repository(repository).map_err(|e| ecr_error(py, self, "repository", repository, e))?;
            s.ecr()
                .push_image(repository, &tag_refs, options)
                .map_err(|e| ecr_error(py, self, "tags", &tags.join(", "), e))
        })?
    }

    /// Runs the repository's lifecycle policy now, as ECR's periodic pass would, and returns what it
    /// did: one dict per image acted on (`digest`, `tags`, `pushed_at`, `action` `expire` or
    /// `transition`, `rule_priority`, `storage_class`).
    fn run_lifecycle<'py>(&self, py: Python<'py>, repository: &str) -> PyResult<Bound<'py, PyList>> {
        let results = self
            .with(|s| s.ecr().run_lifecycle(repository))?
            .map_err(|e| ecr_error(py, self, "repository", repository, e))?;
        let list = PyList::empty(py);
        for r in results {
            let item = PyDict::new(py);
            item.set_item("digest", r.digest)?;
            item.set_item("tags", r.tags)?;
            item.set_item("pushed_at", r.pushed_at)?;
            let action = match r.action {
                ActionType::Expire => "expire",
                ActionType::Transition => "transition",
            };
            item.set_item("action", action)?;
            item.set_item("rule_priority", r.rule_priority)?;
            let class = match r.storage_class {
                rollout_sandbox::ecr::policy::StorageClass::Standard => "standard",
                rollout_sandbox::ecr::policy::StorageClass::Archive => "archive",
            };
            item.set_item("storage_class", class)?;
            list.append(item)?;
        }
        Ok(list)
    }

    /// The repository's images, oldest push first, as `ImageRecord`s.
    fn images<'py>(&self, py: Python<'py>, repository: &str) -> PyResult<Bound<'py, PyList>> {
        let images =
            self.with(|s| s.ecr().images(repository))?.map_err(|e| ecr_error(py, self, "repository", repository, e))?;
        let list = PyList::empty(py);
        for image in images {
            let mut record = ImageRecord::new(image.digest, image.tags, image.pushed_at);
            record.size_bytes = Some(image.size_bytes);
            record.last_pulled_at = image.last_recorded_pull_time;
            record.media_type = Some(image.manifest_media_type);
            record.storage_class =
                Some(if image.archived_at.is_some() { StorageClass::Archive } else { StorageClass::Standard });
            record.archived_at = image.archived_at;
            list.append(PyImageRecord(record))?;
        }
        Ok(list)
    }

    /// Removes the behaviour set for `image` (the exact pattern); whether there was one.
    fn remove_image_behaviour(&self, image: &str) -> PyResult<bool> {
        self.with(|s| s.images().remove(image))
    }

    /// Every behaviour set, by pattern, in the admin API's JSON form (camelCase).
    fn image_behaviours<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let rules = self.with(|s| s.images().rules())?;
        let dict = PyDict::new(py);
        for (pattern, behaviour) in rules {
            dict.set_item(pattern, from_value(py, &serde_json::to_value(behaviour).unwrap_or(Value::Null))?)?;
        }
        Ok(dict)
    }

    /// The behaviour of an image nobody configured, in the admin API's JSON form.
    #[staticmethod]
    fn default_image_behaviour(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        from_value(py, &serde_json::to_value(ImageBehaviour::default()).unwrap_or(Value::Null))
    }

    /// Replaces the fault configuration with `config`, a dict in the admin API's form (camelCase) or
    /// with snake_case keys.
    fn set_faults(&self, py: Python<'_>, config: &Bound<'_, PyAny>) -> PyResult<()> {
        let value = camel_keys(to_value("faults", config)?);
        let config: FaultConfig =
            serde_json::from_value(value).map_err(|e| invalid_argument(py, "faults", repr(config), e.to_string()))?;
        self.with(|s| s.faults().set(config))?
            .map_err(|reason| invalid_argument(py, "faults", "the configuration", reason))
    }

    /// Removes every fault.
    fn clear_faults(&self) -> PyResult<()> {
        self.with(|s| s.faults().clear())
    }

    /// The current fault configuration, in the admin API's form (camelCase, defaults left out).
    fn faults<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let config = self.with(|s| s.faults().config())?;
        from_value(py, &serde_json::to_value(config).unwrap_or(Value::Null))
    }

    /// Writes of the simulated controllers and kubelet the API server rejected: empty unless the
    /// sandbox has a bug. Tests assert it stays empty.
    fn internal_errors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let errors = self.with(|s| s.internal_errors())?;
        PyList::new(py, errors)
    }

    /// Stops the API server, controllers and pod simulator and waits for them; a no-op when stopped.
    fn shutdown(&self, py: Python<'_>) -> PyResult<()> {
        let taken = self.sandbox.lock().unwrap_or_else(|p| p.into_inner()).take();
        match taken {
            Some(sandbox) => block_on(py, async move {
                sandbox.shutdown().await;
                Ok(())
            }),
            None => Ok(()),
        }
    }

    fn __repr__(&self) -> String {
        format!("<NativeSandbox {} time_scale={} running={}>", self.url, self.time_scale, self.running())
    }
}

/// Calls of `_block_for` whose future is still alive.
static BLOCKS_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Counts a `_block_for` future while it is alive.
struct InFlight;

impl InFlight {
    fn enter() -> Self {
        BLOCKS_IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        BLOCKS_IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Calls `callback` on another thread: the calling thread stays in the wait, so a signal arriving
/// after the callback ran can only be seen by the wait's own signal checks. A failing callback prints
/// its exception.
fn announce(callback: Py<PyAny>) {
    tokio::task::spawn_blocking(move || {
        Python::attach(|py| {
            if let Err(e) = callback.call0(py) {
                e.print(py);
            }
        })
    });
}

/// Test hook: block for `seconds` through the runtime helper, like a long wait would. `on_enter` is
/// called once the interpreter has been released and the wait has begun.
#[pyfunction]
#[pyo3(name = "_block_for", signature = (seconds, on_enter = None))]
pub fn block_for(py: Python<'_>, seconds: &Bound<'_, PyAny>, on_enter: Option<Py<PyAny>>) -> PyResult<()> {
    let wait = duration("seconds", seconds)?;
    block_on(py, async move {
        let _in_flight = InFlight::enter();
        if let Some(callback) = on_enter {
            announce(callback);
        }
        tokio::time::sleep(wait).await;
        Ok(())
    })
}

/// Test hook: how many `_block_for` futures are alive (0 once an interrupted one was dropped).
#[pyfunction]
#[pyo3(name = "_blocks_in_flight")]
pub fn blocks_in_flight() -> usize {
    BLOCKS_IN_FLIGHT.load(Ordering::SeqCst)
}

/// Test hook: a latch one thread waits on (with the interpreter released) and another opens.
#[pyclass(frozen, name = "_Latch", module = "rollout._rollout")]
pub struct Latch(tokio::sync::watch::Sender<bool>);

#[pymethods]
impl Latch {
    #[new]
    fn new() -> Self {
        Latch(tokio::sync::watch::channel(false).0)
    }

    /// Waits until the latch is opened; `True`, or `False` after `timeout` seconds. `on_enter` is
    /// called (from another thread) once the interpreter has been released and the wait has begun.
    #[pyo3(signature = (timeout, on_enter = None))]
    fn wait(&self, py: Python<'_>, timeout: &Bound<'_, PyAny>, on_enter: Option<Py<PyAny>>) -> PyResult<bool> {
        let limit = duration("timeout", timeout)?;
        let mut opened = self.0.subscribe();
        block_on(py, async move {
            if let Some(callback) = on_enter {
                announce(callback);
            }
            Ok(tokio::time::timeout(limit, opened.wait_for(|open| *open)).await.is_ok())
        })
    }

    /// Opens the latch.
    fn open(&self) {
        self.0.send_replace(true);
    }
}
