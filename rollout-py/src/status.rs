//! `rollout.rollout_status` and `rollout.diagnose`: the pure decisions over Kubernetes objects
//! (rollout-core's `status` and `diagnosis` modules).
//!
//! Objects come as dicts in either form the user has at hand: `kubectl get -o json` (camelCase) or
//! the official Python client's `to_dict()` (snake_case, `datetime` values), or the client's model
//! objects themselves. Lists may be plain lists or List objects (`{"items": [...]}`).

use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Event, Pod};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use rollout_core::diagnosis::{DiagnosisPolicy, diagnose as core_diagnose};
use rollout_core::status::{daemonset_status, rollout_status as deployment_status, statefulset_status};
use serde_json::Value;

use crate::convert::{duration, kubernetes_object, kubernetes_value, opt_timestamp, to_value};
use crate::error::invalid_argument;
use crate::report::{self, Diagnosis, WorkloadStatus};

/// The rollout status of a Deployment (or StatefulSet or DaemonSet, by its `kind`), decided exactly as
/// `kubectl rollout status` decides it.
///
/// `workload` is the object as `kubectl get -o json` prints it, as the kubernetes client's `to_dict()`
/// returns it, or the client's model object. Without `kind` it is taken as a Deployment.
#[pyfunction]
pub fn rollout_status(py: Python<'_>, workload: &Bound<'_, PyAny>) -> PyResult<Py<WorkloadStatus>> {
    let kind = workload_kind(workload)?;
    let status = match kind.as_deref() {
        None | Some("Deployment") => {
            deployment_status(&kubernetes_object::<Deployment>("workload", "Deployment", workload)?)
        }
        Some("StatefulSet") => {
            statefulset_status(&kubernetes_object::<StatefulSet>("workload", "StatefulSet", workload)?)
        }
        Some("DaemonSet") => daemonset_status(&kubernetes_object::<DaemonSet>("workload", "DaemonSet", workload)?),
        Some(other) => {
            return Err(invalid_argument(py, "workload.kind", other, "allowed: Deployment, StatefulSet, DaemonSet"));
        }
    };
    report::new::<WorkloadStatus, _>(py, &status)
}

/// The `kind` of a workload argument, if it names one.
fn workload_kind(workload: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    let dict = if workload.is_instance_of::<PyDict>() {
        workload.clone()
    } else if workload.hasattr("to_dict")? {
        workload.call_method0("to_dict")?
    } else {
        return Err(PyTypeError::new_err(format!(
            "workload must be a dict (kubectl's JSON or the kubernetes client's to_dict()), not {}",
            workload.get_type().name()?
        )));
    };
    match dict.cast::<PyDict>()?.get_item("kind")? {
        Some(kind) if !kind.is_none() => Ok(Some(kind.cast::<PyString>()?.to_str()?.to_owned())),
        _ => Ok(None),
    }
}

/// A list argument of Kubernetes objects: a list, or a List object with `items`.
fn objects<T: serde::de::DeserializeOwned>(field: &str, kind: &str, value: &Bound<'_, PyAny>) -> PyResult<Vec<T>> {
    let json = kubernetes_value(to_value(field, value)?);
    let items = match json {
        Value::Array(items) => items,
        Value::Object(mut map) => match map.remove("items") {
            Some(Value::Array(items)) => items,
            _ => {
                return Err(PyTypeError::new_err(format!(
                    "{field} must be a list of {kind}s or a {kind}List with items"
                )));
            }
        },
        _ => return Err(PyTypeError::new_err(format!("{field} must be a list of {kind}s or a {kind}List with items"))),
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            serde_json::from_value(item).map_err(|e| {
                invalid_argument(
                    value.py(),
                    &format!("{field}[{i}]"),
                    format!("a {kind}"),
                    format!("not a valid {kind}: {e}"),
                )
            })
        })
        .collect()
}

/// Why the new pods of a rollout are not becoming ready, and whether they never will.
///
/// `pods` are the pods of the new ReplicaSet and `events` the namespace's events (either may be a List
/// object); `now` (an aware datetime, default the current time) is the instant judged. The thresholds
/// default to the core's (`pull_error_attempts=3`, `pull_error_after=60 s`, `start_error_grace=30 s`,
/// `crash_loop_restarts=3`, `oom_kills=2`, `restart_window=600 s`, `max_events=10`,
/// `require_all_pods=False`); durations are seconds, timedeltas or texts such as `"90s"`.
#[pyfunction]
#[pyo3(signature = (pods, events = None, *, now = None, pull_error_attempts = None, pull_error_after = None, start_error_grace = None, crash_loop_restarts = None, oom_kills = None, restart_window = None, max_events = None, require_all_pods = None))]
#[allow(clippy::too_many_arguments)]
pub fn diagnose(
    py: Python<'_>,
    pods: &Bound<'_, PyAny>,
    events: Option<&Bound<'_, PyAny>>,
    now: Option<&Bound<'_, PyAny>>,
    pull_error_attempts: Option<i32>,
    pull_error_after: Option<&Bound<'_, PyAny>>,
    start_error_grace: Option<&Bound<'_, PyAny>>,
    crash_loop_restarts: Option<i32>,
    oom_kills: Option<i32>,
    restart_window: Option<&Bound<'_, PyAny>>,
    max_events: Option<usize>,
    require_all_pods: Option<bool>,
) -> PyResult<Py<Diagnosis>> {
    let pods: Vec<Pod> = objects("pods", "Pod", pods)?;
    let events: Vec<Event> = match events {
        Some(events) if !events.is_none() => objects("events", "Event", events)?,
        _ => Vec::new(),
    };
    let now = opt_timestamp("now", now)?.unwrap_or_else(jiff::Timestamp::now);
    let mut policy = DiagnosisPolicy::default();
    let set = |target: &mut Duration, field: &str, value: Option<&Bound<'_, PyAny>>| -> PyResult<()> {
        if let Some(v) = value.filter(|v| !v.is_none()) {
            *target = duration(field, v)?;
        }
        Ok(())
    };
    set(&mut policy.pull_error_after, "pull_error_after", pull_error_after)?;
    set(&mut policy.start_error_grace, "start_error_grace", start_error_grace)?;
    set(&mut policy.restart_window, "restart_window", restart_window)?;
    for (target, value) in [
        (&mut policy.pull_error_attempts, pull_error_attempts),
        (&mut policy.crash_loop_restarts, crash_loop_restarts),
        (&mut policy.oom_kills, oom_kills),
    ] {
        if let Some(v) = value {
            *target = v;
        }
    }
    if let Some(v) = max_events {
        policy.max_events = v;
    }
    if let Some(v) = require_all_pods {
        policy.require_all_pods = v;
    }
    let verdict = py.detach(|| core_diagnose(&pods, &events, now, &policy));
    report::new::<Diagnosis, _>(py, &verdict)
}
