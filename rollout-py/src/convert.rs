//! Value conversion between Python and the core's types: JSON-like data, times and durations.
//!
//! Python hands us plain data (dicts, lists, strings, numbers, `datetime`, `timedelta`) and the core
//! reads serde types, so most conversions go through `serde_json::Value`: Python → `Value` →
//! `serde_json::from_value`, and the core's serde output → `Value` → Python. Times must be
//! timezone-aware (`datetime` with a UTC offset), because a naive time means a different instant on
//! every machine; durations are seconds (`int`/`float`), `timedelta`, or a kubectl-style text
//! (`"90s"`, `"1h30m"`) read by the core's parser.
//!
//! Kubernetes objects come as the JSON of `kubectl get -o json` (camelCase keys) or as the dicts of
//! the official Python client's `to_dict()` (snake_case keys, `datetime` values, `None` for absent
//! fields); [`kubernetes_value`] turns either into the API's JSON. It deliberately does not validate
//! objects: the core's types do that when they deserialize.

use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDelta, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

use crate::error::invalid_argument;

/// The `repr()` of a Python value, for messages.
pub fn repr(value: &Bound<'_, PyAny>) -> String {
    value.repr().map(|r| r.to_string()).unwrap_or_else(|_| "<unprintable>".to_owned())
}

/// Whether `value` is a `datetime.datetime`.
fn is_datetime(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    let datetime = value.py().import("datetime")?.getattr("datetime")?;
    value.is_instance(&datetime)
}

/// A timezone-aware `datetime` as a timestamp; `field` names the argument in errors.
pub fn timestamp(field: &str, value: &Bound<'_, PyAny>) -> PyResult<jiff::Timestamp> {
    let py = value.py();
    if !is_datetime(value)? {
        return Err(PyTypeError::new_err(format!(
            "{field} must be a timezone-aware datetime.datetime, not {}",
            value.get_type().name()?
        )));
    }
    if value.call_method0("utcoffset")?.is_none() {
        return Err(invalid_argument(
            py,
            field,
            repr(value),
            "the datetime is naive (it has no tzinfo), so it names a different instant on every machine; pass a \
             timezone-aware datetime such as datetime.now(timezone.utc)",
        ));
    }
    let utc = py.import("datetime")?.getattr("timezone")?.getattr("utc")?;
    let text: String = value.call_method1("astimezone", (utc,))?.call_method0("isoformat")?.extract()?;
    text.parse::<jiff::Timestamp>().map_err(|e| invalid_argument(py, field, text.clone(), e.to_string()))
}

/// An optional timestamp argument: `None` is `None`.
pub fn opt_timestamp(field: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<jiff::Timestamp>> {
    match value {
        Some(v) if !v.is_none() => timestamp(field, v).map(Some),
        _ => Ok(None),
    }
}

/// A duration argument: seconds (`int` or `float`), a `datetime.timedelta`, or a text such as `90s`.
pub fn duration(field: &str, value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    let py = value.py();
    let negative = || invalid_argument(py, field, repr(value), "a duration cannot be negative");
    let seconds: f64 = if let Ok(delta) = value.cast::<PyDelta>() {
        delta.call_method0("total_seconds")?.extract()?
    } else if let Ok(text) = value.cast::<PyString>() {
        let text = text.to_str()?;
        return rollout_core::duration::parse_duration(text).map_err(|e| {
            invalid_argument(py, field, text, format!("{} (use a number with a unit, e.g. 90s, 10m, 1h30m)", e.reason))
        });
    } else if value.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "{field} must be seconds, a timedelta or a text like '90s', not bool"
        )));
    } else if value.is_instance_of::<PyInt>() || value.is_instance_of::<PyFloat>() {
        value.extract()?
    } else {
        return Err(PyTypeError::new_err(format!(
            "{field} must be seconds (int or float), a datetime.timedelta or a text like '90s', not {}",
            value.get_type().name()?
        )));
    };
    if seconds < 0.0 {
        return Err(negative());
    }
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| invalid_argument(py, field, repr(value), "use a finite number of seconds"))
}

/// A duration as seconds, for the sandbox's simulated durations.
pub fn seconds(field: &str, value: &Bound<'_, PyAny>) -> PyResult<f64> {
    duration(field, value).map(|d| d.as_secs_f64())
}

/// A Python value as JSON. `datetime`s become RFC 3339 texts in UTC (and must be aware), tuples become
/// arrays, dict keys must be strings, `None` values are kept. Objects with a `to_dict()` method (the
/// Kubernetes client's models, our own reports) are converted through it.
pub fn to_value(field: &str, value: &Bound<'_, PyAny>) -> PyResult<Value> {
    let py = value.py();
    if value.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = value.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if value.is_instance_of::<PyInt>() {
        if let Ok(i) = value.extract::<i64>() {
            return Ok(Value::Number(i.into()));
        }
        if let Ok(u) = value.extract::<u64>() {
            return Ok(Value::Number(u.into()));
        }
        return Err(invalid_argument(py, field, repr(value), "the integer does not fit in 64 bits"));
    }
    if let Ok(f) = value.cast::<PyFloat>() {
        return Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| invalid_argument(py, field, repr(value), "NaN and infinity have no JSON form"));
    }
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(Value::String(s.to_str()?.to_owned()));
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        let mut map = Map::new();
        for (k, v) in dict.iter() {
            let key = k
                .cast::<PyString>()
                .map_err(|_| PyTypeError::new_err(format!("{field}: dict keys must be strings, got {}", repr(&k))))?;
            let key = key.to_str()?.to_owned();
            let inner = to_value(&format!("{field}.{key}"), &v)?;
            map.insert(key, inner);
        }
        return Ok(Value::Object(map));
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        let items = value
            .try_iter()?
            .enumerate()
            .map(|(i, item)| to_value(&format!("{field}[{i}]"), &item?))
            .collect::<PyResult<Vec<_>>>()?;
        return Ok(Value::Array(items));
    }
    if is_datetime(value)? {
        let at = timestamp(field, value)?;
        return Ok(Value::String(at.to_string()));
    }
    if value.hasattr("to_dict")? {
        return to_value(field, &value.call_method0("to_dict")?);
    }
    Err(PyTypeError::new_err(format!(
        "{field}: cannot convert {} to JSON (use dicts, lists, str, int, float, bool, None and aware datetimes)",
        value.get_type().name()?
    )))
}

/// JSON text re-indented by `indent` spaces, keeping its key order (Python's `json` keeps it; serde's
/// `Value` would sort the keys).
pub fn indent_json(py: Python<'_>, text: &str, indent: usize) -> PyResult<String> {
    let json = py.import("json")?;
    let data = json.call_method1("loads", (text,))?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("indent", indent)?;
    kwargs.set_item("ensure_ascii", false)?;
    json.call_method("dumps", (data,), Some(&kwargs))?.extract()
}

/// JSON as plain Python data: dicts, lists, str, int, float, bool and None.
pub fn from_value<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(from_value(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, from_value(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// A JSON time text (RFC 3339) as an aware `datetime` in UTC; anything else as plain data.
pub fn time_from_value<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    match value {
        Value::String(text) => match text.parse::<jiff::Timestamp>() {
            Ok(at) => Ok(at.into_pyobject(py)?.into_any()),
            Err(_) => from_value(py, value),
        },
        _ => from_value(py, value),
    }
}

/// Fields of the Kubernetes API whose values are free-form maps: their keys are data (label keys,
/// annotation keys, resource names), never field names, and are copied as they are.
const FREE_FORM_MAPS: &[&str] = &[
    "labels",
    "annotations",
    "matchLabels",
    "nodeSelector",
    "data",
    "binaryData",
    "stringData",
    "limits",
    "requests",
    "capacity",
    "allocatable",
    "volumeAttributes",
    "parameters",
    "hard",
    "used",
];

/// Field names whose camelCase form has an all-caps initialism, so the generic rule would miss them.
const INITIALISMS: &[(&str, &str)] = &[
    ("pod_ip", "podIP"),
    ("pod_ips", "podIPs"),
    ("host_ip", "hostIP"),
    ("host_ips", "hostIPs"),
    ("host_ipc", "hostIPC"),
    ("host_pid", "hostPID"),
    ("cluster_ip", "clusterIP"),
    ("cluster_ips", "clusterIPs"),
    ("external_ips", "externalIPs"),
    ("load_balancer_ip", "loadBalancerIP"),
    ("image_id", "imageID"),
    ("container_id", "containerID"),
    ("target_wwns", "targetWWNs"),
];

/// The API's name of a field named by the Python client: `observed_generation` → `observedGeneration`,
/// `_exec` → `exec` (the client prefixes Python keywords with `_`), `pod_ip` → `podIP`. A name without
/// `_` (every camelCase name) is returned as it is.
pub fn camel_case(name: &str) -> String {
    if !name.contains('_') {
        return name.to_owned();
    }
    if let Some((_, camel)) = INITIALISMS.iter().find(|(snake, _)| *snake == name) {
        return (*camel).to_owned();
    }
    let name = name.strip_prefix('_').unwrap_or(name);
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The API's JSON of a Kubernetes object given as either form: keys turned to camelCase outside
/// free-form maps, and `null` fields dropped (the Python client sets every absent field to `None`,
/// while the API leaves them out).
pub fn kubernetes_value(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    let key = camel_case(&k);
                    let v = if FREE_FORM_MAPS.contains(&key.as_str()) { v } else { kubernetes_value(v) };
                    (key, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(kubernetes_value).collect()),
        other => other,
    }
}

/// A Kubernetes object of type `T` from a dict (or a Kubernetes client model) in either form.
pub fn kubernetes_object<T: serde::de::DeserializeOwned>(
    field: &str,
    kind: &str,
    value: &Bound<'_, PyAny>,
) -> PyResult<T> {
    let json = kubernetes_value(to_value(field, value)?);
    if !json.is_object() {
        return Err(PyTypeError::new_err(format!(
            "{field} must be a {kind} as a dict (kubectl's JSON or the kubernetes client's to_dict()), not {}",
            value.get_type().name()?
        )));
    }
    serde_json::from_value(json).map_err(|e| {
        invalid_argument(value.py(), field, format!("a {kind}"), format!("not a valid {kind} object: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    #[test]
    fn camel_case_turns_client_names_into_api_names() {
        for (snake, camel) in [
            ("observed_generation", "observedGeneration"),
            ("api_version", "apiVersion"),
            ("progress_deadline_seconds", "progressDeadlineSeconds"),
            ("_exec", "exec"),
            ("pod_ip", "podIP"),
            ("host_pid", "hostPID"),
            ("replicas", "replicas"),
            ("observedGeneration", "observedGeneration"),
        ] {
            assert_eq!(camel_case(snake), camel, "{snake}");
        }
    }

    #[test]
    fn kubernetes_value_keeps_label_keys_and_drops_nulls() {
        let client_form = json!({
            "api_version": "apps/v1",
            "metadata": {"name": "web", "labels": {"app_name": "web"}, "deletion_timestamp": null},
            "spec": {"selector": {"match_labels": {"app_name": "web"}}},
            "status": {"conditions": [{"last_update_time": "2024-05-01T10:00:00Z", "type": "Progressing"}]},
        });
        assert_eq!(
            kubernetes_value(client_form),
            json!({
                "apiVersion": "apps/v1",
                "metadata": {"name": "web", "labels": {"app_name": "web"}},
                "spec": {"selector": {"matchLabels": {"app_name": "web"}}},
                "status": {"conditions": [{"lastUpdateTime": "2024-05-01T10:00:00Z", "type": "Progressing"}]},
            })
        );
    }

    /// Arbitrary JSON, keys drawn from snake_case, camelCase and odd names.
    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|i| Value::Number(i.into())),
            "\\PC{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("(_?[a-z]{1,6}(_[a-z]{1,6}){0,2}|labels|[a-zA-Z_:./]{0,10})", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn kubernetes_value_never_panics_and_is_idempotent(value in json()) {
            let once = kubernetes_value(value);
            prop_assert_eq!(kubernetes_value(once.clone()), once);
        }

        #[test]
        fn camel_case_never_panics_and_leaves_names_without_underscores_alone(name in "\\PC{0,24}") {
            let out = camel_case(&name);
            if !name.contains('_') {
                prop_assert_eq!(out, name);
            }
        }
    }
}
