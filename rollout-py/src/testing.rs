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

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use rollout_sandbox::{FaultConfig, ImageBehaviour, Sandbox};
use serde_json::Value;

use crate::convert::{camel_case, duration, from_value, repr, seconds, to_value};
use crate::error::invalid_argument;
use crate::runtime::block_on;

/// A running sandbox; `shutdown()` stops it (dropping it does too).
#[pyclass(frozen, name = "NativeSandbox", module = "rollout._rollout")]
pub struct NativeSandbox {
    sandbox: Mutex<Option<Sandbox>>,
    url: String,
    kubeconfig: String,
    time_scale: f64,
    seed: u64,
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

#[pymethods]
impl NativeSandbox {
    /// Starts a sandbox on 127.0.0.1: `time_scale` multiplies every simulated duration (0.01 makes a
    /// 10 s probe delay last 100 ms), `seed` fixes generated names and injected faults, `token`
    /// requires a bearer token, `port` 0 picks a free port.
    #[new]
    #[pyo3(signature = (*, time_scale, seed = 0, token = None, port = 0, history_limit = None))]
    fn new(
        py: Python<'_>,
        time_scale: f64,
        seed: u64,
        token: Option<String>,
        port: u16,
        history_limit: Option<usize>,
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
        let sandbox = block_on(py, async move { builder.start().await.map_err(PyErr::from) })?;
        Ok(Self {
            url: sandbox.url(),
            kubeconfig: sandbox.kubeconfig(),
            time_scale: sandbox.clock().scale(),
            seed,
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
        let d = ImageBehaviour::default();
        let behaviour = ImageBehaviour {
            pull_seconds: seconds_or("pull_seconds", pull_seconds, d.pull_seconds)?,
            start_delay_seconds: seconds_or("start_delay", start_delay, d.start_delay_seconds)?,
            crash_after_seconds: match crash_after {
                Some(v) if !v.is_none() => Some(seconds("crash_after", v)?),
                _ => d.crash_after_seconds,
            },
            exit_code: exit_code.unwrap_or(d.exit_code),
            oom_killed: oom_killed.unwrap_or(d.oom_killed),
            log_lines: log_lines.unwrap_or(d.log_lines),
            never_ready: never_ready.unwrap_or(d.never_ready),
            liveness_fails: liveness_fails.unwrap_or(d.liveness_fails),
            config_error: config_error.or(d.config_error),
            pull_error: pull_error.or(d.pull_error),
            run_seconds: seconds_or("run_seconds", run_seconds, d.run_seconds)?,
            stop_seconds: seconds_or("stop_seconds", stop_seconds, d.stop_seconds)?,
            size_bytes: size_bytes.unwrap_or(d.size_bytes),
        };
        if image.is_empty() {
            return Err(invalid_argument(py, "image", image, "name an image reference, or a prefix ending in *"));
        }
        self.with(|s| s.images().set(image, behaviour))?
            .map_err(|reason| invalid_argument(py, "image behaviour", image, reason))
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
