//! The exception tree of the module and the mapping from the core's error enum to it.
//!
//! Every exception derives from `rollout.RolloutError`; two also derive from the built-in they mean,
//! so callers can catch them by either: `InvalidInputError` is a `ValueError` (a bad argument, nothing
//! was changed) and `NotFoundError` a `LookupError` (the thing asked for does not exist). Those two
//! need two bases, which `create_exception!` cannot express, so they are made once with `type(...)`.
//!
//! [`to_pyerr`] maps each variant of [`rollout_core::Error`] by one exhaustive `match` with no
//! catch-all arm, so a variant added to the core fails to compile here until someone decides its
//! class. The message is the error's text followed by its sources (`: ` between), since Python shows
//! only the message: the core's Display texts never embed their source.
//!
//! It deliberately does not build exceptions for Python-side mistakes of type (a `str` where a `list`
//! is wanted): those stay `TypeError`, as Python code expects.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyLookupError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use rollout_core::Error;

create_exception!(
    rollout,
    RolloutError,
    PyException,
    "Base class of every error rollout raises. Catch it to handle any of them."
);
create_exception!(
    rollout,
    RolloutFailedError,
    RolloutError,
    "The rollout ran and failed (whether or not it was rolled back); `.report` holds the rollout report, \
     `.result` the whole result of a call over several workloads."
);
create_exception!(
    rollout,
    RolloutTimeoutError,
    RolloutError,
    "Waiting for a rollout timed out; `.report` holds the rollout report as it stood, `.result` the whole \
     result of a call over several workloads."
);
create_exception!(
    rollout,
    KubernetesError,
    RolloutError,
    "The Kubernetes API failed or refused a request, or could not be reached."
);
create_exception!(rollout, EcrError, RolloutError, "The ECR API failed or refused a request, or could not be reached.");
create_exception!(
    rollout,
    ConfigError,
    RolloutError,
    "A kubeconfig, AWS profile or credential could not be found or used."
);

static INVALID_INPUT: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static NOT_FOUND: PyOnceLock<Py<PyType>> = PyOnceLock::new();

const INVALID_INPUT_DOC: &str = "An argument or input file was rejected before anything was changed; the message names \
    the argument and value and says what is allowed. Also a ValueError.";
const NOT_FOUND_DOC: &str = "What was asked for does not exist (a project version, an image, a previous release). \
    Also a LookupError.";

/// A class deriving from `RolloutError` and `builtin`, made with `type(name, bases, namespace)`.
fn dual_base_type(py: Python<'_>, name: &str, builtin: Bound<'_, PyType>, doc: &str) -> PyResult<Py<PyType>> {
    let bases = PyTuple::new(py, [py.get_type::<RolloutError>(), builtin])?;
    let namespace = PyDict::new(py);
    namespace.set_item("__module__", "rollout")?;
    namespace.set_item("__doc__", doc)?;
    let class = py.get_type::<PyType>().call1((name, bases, namespace))?;
    Ok(class.cast_into::<PyType>()?.unbind())
}

/// `rollout.InvalidInputError`.
pub fn invalid_input_error(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    INVALID_INPUT
        .get_or_try_init(py, || {
            let class = dual_base_type(py, "InvalidInputError", py.get_type::<PyValueError>(), INVALID_INPUT_DOC)?;
            // Set on the instances of a rejected policy; the class default keeps it readable on any.
            class.bind(py).setattr("violations", PyTuple::empty(py))?;
            Ok::<_, PyErr>(class)
        })
        .map(|t| t.bind(py))
}

/// `rollout.NotFoundError`.
pub fn not_found_error(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    NOT_FOUND
        .get_or_try_init(py, || dual_base_type(py, "NotFoundError", py.get_type::<PyLookupError>(), NOT_FOUND_DOC))
        .map(|t| t.bind(py))
}

/// The exception class an error of the core maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// `InvalidInputError` (a `ValueError`).
    InvalidInput,
    /// `NotFoundError` (a `LookupError`).
    NotFound,
    /// `RolloutFailedError`, carrying the report.
    RolloutFailed,
    /// `RolloutTimeoutError`, carrying the report.
    RolloutTimeout,
    /// `KubernetesError`.
    Kubernetes,
    /// `EcrError`.
    Ecr,
    /// `ConfigError`.
    Config,
}

/// The class of each error of the core: one arm per variant, no catch-all, so a new variant must be
/// placed here before the module compiles.
pub fn class_of(e: &Error) -> Class {
    match e {
        // Arguments and input files that cannot be used: nothing was changed.
        Error::InvalidInput { .. }
        | Error::InvalidTag { .. }
        | Error::InvalidImageRef { .. }
        | Error::InvalidRepositoryName { .. }
        | Error::InvalidDigest { .. }
        | Error::UnresolvedProperty { .. }
        | Error::PropertyCycle { .. }
        | Error::MalformedFile { .. }
        | Error::InvalidTemplate { .. }
        | Error::UnknownPlaceholder { .. }
        | Error::MissingTemplateValue { .. }
        | Error::FloatingTag { .. }
        | Error::InvalidPattern { .. }
        | Error::PolicySyntax { .. }
        | Error::InvalidPolicy { .. } => Class::InvalidInput,
        // git refusing the directory (not a repository, no commits) is a bad `path`, like a bad file.
        Error::Git { .. } => Class::InvalidInput,
        // A file that is not there is a lookup that found nothing; any other read failure (permissions,
        // a directory where a file was expected) makes the input unusable.
        Error::ReadFile { source, .. } if source.kind() == std::io::ErrorKind::NotFound => Class::NotFound,
        Error::ReadFile { .. } => Class::InvalidInput,
        // Lookups that found nothing.
        Error::VersionNotFound { .. }
        | Error::NoPreviousImage { .. }
        | Error::TagNotFound { .. }
        | Error::RepositoryNotFound { .. }
        | Error::WorkloadNotFound { .. }
        | Error::RevisionNotFound { .. } => Class::NotFound,
        // A container name that is not in the template is a bad argument of the call (the CLI treats it
        // as a usage error too), not a lookup: the workload itself was found.
        Error::ContainerNotFound { .. } => Class::InvalidInput,
        // Requests refused before anything changed: the input does not fit the state it meets.
        Error::TagAlreadyExists { .. }
        | Error::PolicyWouldExpireInUse { .. }
        | Error::PreflightFailed { .. }
        | Error::PausedDeployment { .. }
        | Error::InvalidManifest { .. } => Class::InvalidInput,
        // Where to connect and as whom.
        Error::MissingRegion { .. } | Error::Credentials { .. } | Error::Kubeconfig { .. } => Class::Config,
        Error::Ecr { .. } => Class::Ecr,
        Error::Kubernetes { .. } | Error::ConcurrentModification { .. } => Class::Kubernetes,
        Error::RolloutFailed { .. } => Class::RolloutFailed,
        Error::RolloutTimedOut { .. } => Class::RolloutTimeout,
    }
}

/// The error's text followed by the texts of its sources, separated by `: `.
pub fn message(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// An instance of `class` with `message`.
fn new_error(py: Python<'_>, class: Class, message: String) -> PyErr {
    let class = match class {
        Class::InvalidInput => match invalid_input_error(py) {
            Ok(t) => t.clone(),
            Err(e) => return e,
        },
        Class::NotFound => match not_found_error(py) {
            Ok(t) => t.clone(),
            Err(e) => return e,
        },
        Class::RolloutFailed => py.get_type::<RolloutFailedError>(),
        Class::RolloutTimeout => py.get_type::<RolloutTimeoutError>(),
        Class::Kubernetes => py.get_type::<KubernetesError>(),
        Class::Ecr => py.get_type::<EcrError>(),
        Class::Config => py.get_type::<ConfigError>(),
    };
    PyErr::from_type(class, message)
}

/// The Python exception for an error of the core.
///
/// An `InvalidPolicy` error also carries `.violations`, the list of every violation as
/// `PolicyViolation` reports, so a caller can show them one per line; `RolloutFailed` and
/// `RolloutTimedOut` carry `.report`, the `RolloutReport` of the rollout.
pub fn to_pyerr(py: Python<'_>, e: Error) -> PyErr {
    let err = new_error(py, class_of(&e), message(&e));
    let attached = match &e {
        Error::InvalidPolicy { violations } => {
            crate::report::list_of::<crate::report::PolicyViolation, _>(py, violations)
                .and_then(|list| err.value(py).setattr("violations", list))
        }
        Error::RolloutFailed { report } | Error::RolloutTimedOut { report } => {
            crate::report::new::<crate::report::RolloutReport, _>(py, report.as_ref())
                .and_then(|r| err.value(py).setattr("report", r))
        }
        _ => Ok(()),
    };
    match attached {
        Ok(()) => err,
        Err(failed) => failed,
    }
}

/// [`to_pyerr`], with `.result` set to the whole result of a call over several workloads (the
/// `CombinedReport` of a wait, the `ApplyReport` of an apply) whose failing workload `e` is about.
pub fn to_pyerr_with_result(py: Python<'_>, e: Error, result: Bound<'_, PyAny>) -> PyErr {
    let err = to_pyerr(py, e);
    match err.value(py).setattr("result", result) {
        Ok(()) => err,
        Err(failed) => failed,
    }
}

/// An `InvalidInputError` for an argument of a Python call, worded as the core words `InvalidInput`.
pub fn invalid_argument(py: Python<'_>, field: &str, value: impl Into<String>, reason: impl Into<String>) -> PyErr {
    to_pyerr(py, Error::InvalidInput { field: field.to_owned(), value: value.into(), reason: reason.into() })
}

/// Extension for results of the core: `.py_err(py)?` turns the core's error into its exception.
pub trait IntoPyResult<T> {
    /// Maps the error with [`to_pyerr`].
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, Error> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_pyerr(py, e))
    }
}

/// Adds the exception classes to the module.
pub fn register(m: &Bound<'_, pyo3::types::PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("RolloutError", py.get_type::<RolloutError>())?;
    m.add("InvalidInputError", invalid_input_error(py)?)?;
    m.add("NotFoundError", not_found_error(py)?)?;
    // `.report` is set on every raised instance, `.result` on those of calls over several workloads; the
    // class defaults keep them readable on any.
    for class in [py.get_type::<RolloutFailedError>(), py.get_type::<RolloutTimeoutError>()] {
        class.setattr("report", py.None())?;
        class.setattr("result", py.None())?;
    }
    m.add("RolloutFailedError", py.get_type::<RolloutFailedError>())?;
    m.add("RolloutTimeoutError", py.get_type::<RolloutTimeoutError>())?;
    m.add("KubernetesError", py.get_type::<KubernetesError>())?;
    m.add("EcrError", py.get_type::<EcrError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: std::io::ErrorKind) -> Error {
        Error::ReadFile { path: "pom.xml".into(), source: std::io::Error::from(kind) }
    }

    #[test]
    fn a_missing_file_is_not_found_and_an_unreadable_one_invalid_input() {
        assert_eq!(class_of(&io(std::io::ErrorKind::NotFound)), Class::NotFound);
        assert_eq!(class_of(&io(std::io::ErrorKind::PermissionDenied)), Class::InvalidInput);
    }

    #[test]
    fn an_unknown_container_is_a_bad_argument() {
        let e = Error::ContainerNotFound {
            workload: Box::new(rollout_core::WorkloadRef::deployment("shop", "web")),
            container: "side".into(),
            available: vec!["app".into()],
        };
        assert_eq!(class_of(&e), Class::InvalidInput);
    }

    #[test]
    fn lookups_that_find_nothing_are_not_found() {
        let e = Error::NoPreviousImage { query: "by push time".into(), detail: "1 of 1 images qualify".into() };
        assert_eq!(class_of(&e), Class::NotFound);
        assert_eq!(class_of(&Error::TagNotFound { tag: "1.0".into(), images: 3 }), Class::NotFound);
    }

    #[test]
    fn message_appends_every_source_after_the_error_text() {
        let text = message(&io(std::io::ErrorKind::NotFound));
        assert!(text.starts_with("cannot read pom.xml: "), "{text}");
        assert!(text.len() > "cannot read pom.xml: ".len(), "{text}");
    }
}
