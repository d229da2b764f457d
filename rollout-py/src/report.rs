//! Reports: the core's serializable results as frozen Python objects.
//!
//! Every report is an instance of a subclass of `rollout.Report`, which holds the core's serde output
//! (the JSON `rollout … -o json` prints) and nothing else. `to_dict()` and `to_json()` return that
//! output, so the Python face and the CLI cannot drift apart; the typed attributes of each subclass are
//! read from the same JSON when accessed (nested objects become nested reports, times become aware
//! `datetime`s in UTC). A field the core leaves out (an empty optional) reads as `None`, or `[]` for a
//! list.
//!
//! It deliberately does not compute anything from the data beyond the few `is_…` conveniences that
//! name a state the JSON already spells out.

use pyo3::prelude::*;
use pyo3::types::PyList;
use serde::Serialize;
use serde_json::Value;

use crate::convert::{from_value, time_from_value};

/// The base class of every report.
#[pyclass(frozen, subclass, name = "Report", module = "rollout")]
pub struct Report {
    /// The core's output, for attribute access and equality.
    value: Value,
    /// The same output as compact JSON text, in the core's field order.
    json: String,
    /// The attribute names of the subclass, for `repr()`.
    fields: &'static [&'static str],
    /// A one-line text the core wrote for the value (a progress event's line), when it has one.
    text: Option<String>,
}

impl Report {
    /// The value of one field; `None` when the core left it out.
    pub fn field(&self, key: &str) -> Option<&Value> {
        self.value.get(key)
    }

    /// The whole output.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The core's one-line text, when the report was made with one.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }
}

/// Serializes a value of the core into the two forms a report keeps.
fn serialize<T: Serialize + ?Sized>(data: &T) -> PyResult<(Value, String)> {
    let value = serde_json::to_value(data)
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(format!("cannot serialize the report: {e}")))?;
    let json = serde_json::to_string(data)
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(format!("cannot serialize the report: {e}")))?;
    Ok((value, json))
}

#[pymethods]
impl Report {
    /// The report as plain data (dicts, lists, str, int, float, bool, None), exactly the JSON the CLI
    /// prints with `-o json`. Times are RFC 3339 texts here.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("json")?.call_method1("loads", (&self.json,))
    }

    /// The report as JSON text: compact by default, indented by `indent` spaces when given (with
    /// `indent=2` it is the text `rollout … -o json` prints).
    #[pyo3(signature = (indent = None))]
    fn to_json(&self, py: Python<'_>, indent: Option<usize>) -> PyResult<String> {
        match indent {
            None => Ok(self.json.clone()),
            Some(indent) => crate::convert::indent_json(py, &self.json, indent),
        }
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let name = slf.get_type().name()?;
        let parts = slf
            .get()
            .fields
            .iter()
            .map(|f| Ok(format!("{f}={}", slf.getattr(*f)?.repr()?)))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(format!("{name}({})", parts.join(", ")))
    }

    fn __eq__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let Ok(other) = other.cast::<Report>() else {
            return Ok(py.NotImplemented());
        };
        let same_class = slf.get_type().is(other.get_type());
        Ok((same_class && slf.get().value == other.get().value).into_pyobject(py)?.to_owned().into_any().unbind())
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        // The sorted-key text of the value: equal values give equal texts.
        self.value.to_string().hash(&mut h);
        h.finish()
    }
}

/// A report class: a `Report` subclass with typed attributes read from the JSON.
pub trait ReportClass: pyo3::PyClass<BaseType = Report> + Sized {
    /// The attribute names, for `repr()`.
    const FIELDS: &'static [&'static str];
    /// The (data-less) subclass value.
    fn make() -> Self;
}

/// A new report of class `C` holding the serde output of `data`.
pub fn new<C: ReportClass, T: Serialize + ?Sized>(py: Python<'_>, data: &T) -> PyResult<Py<C>> {
    let (value, json) = serialize(data)?;
    from_parts::<C>(py, value, json, None)
}

/// A new report of class `C` holding the serde output of `data` and the core's one-line `text` for it.
pub fn with_text<C: ReportClass, T: Serialize + ?Sized>(py: Python<'_>, data: &T, text: String) -> PyResult<Py<C>> {
    let (value, json) = serialize(data)?;
    from_parts::<C>(py, value, json, Some(text))
}

fn from_parts<C: ReportClass>(py: Python<'_>, value: Value, json: String, text: Option<String>) -> PyResult<Py<C>> {
    let init = PyClassInitializer::from(Report { value, json, fields: C::FIELDS, text }).add_subclass(C::make());
    Py::new(py, init)
}

/// A nested report of class `C` over a part of another report's JSON.
pub fn nested<C: ReportClass>(py: Python<'_>, value: &Value) -> PyResult<Py<C>> {
    let json = value.to_string();
    from_parts::<C>(py, value.clone(), json, None)
}

/// A list of reports of class `C`, one per item of `items`.
pub fn list_of<'py, C: ReportClass, T: Serialize>(py: Python<'py>, items: &[T]) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for item in items {
        list.append(new::<C, T>(py, item)?)?;
    }
    Ok(list)
}

/// Field readers: how one JSON field becomes a Python attribute.
pub mod read {
    use super::*;

    /// Plain data; a missing field is `None`.
    pub fn plain<'py>(py: Python<'py>, v: Option<&Value>) -> PyResult<Bound<'py, PyAny>> {
        from_value(py, v.unwrap_or(&Value::Null))
    }

    /// A list of plain data; a missing field is `[]`.
    pub fn list<'py>(py: Python<'py>, v: Option<&Value>) -> PyResult<Bound<'py, PyAny>> {
        match v {
            None | Some(Value::Null) => Ok(PyList::empty(py).into_any()),
            Some(v) => from_value(py, v),
        }
    }

    /// An aware `datetime` in UTC; a missing field is `None`.
    pub fn time<'py>(py: Python<'py>, v: Option<&Value>) -> PyResult<Bound<'py, PyAny>> {
        time_from_value(py, v.unwrap_or(&Value::Null))
    }

    /// A nested report; a missing field is `None`.
    pub fn object<'py, C: ReportClass>(py: Python<'py>, v: Option<&Value>) -> PyResult<Bound<'py, PyAny>> {
        match v {
            None | Some(Value::Null) => Ok(py.None().into_bound(py)),
            Some(v) => Ok(nested::<C>(py, v)?.into_bound(py).into_any()),
        }
    }

    /// A list of nested reports; a missing field is `[]`.
    pub fn objects<'py, C: ReportClass>(py: Python<'py>, v: Option<&Value>) -> PyResult<Bound<'py, PyAny>> {
        let list = PyList::empty(py);
        if let Some(Value::Array(items)) = v {
            for item in items {
                list.append(nested::<C>(py, item)?)?;
            }
        }
        Ok(list.into_any())
    }
}

/// Declares a report class: a frozen `Report` subclass whose attributes read JSON fields.
///
/// Each attribute is `name: reader` (the JSON key is the name) or `name = "key": reader`; readers are
/// the functions of [`read`], `object::<Class>` and `objects::<Class>` included. Extra methods may
/// follow the attribute list in braces.
macro_rules! report_class {
    (
        $(#[$doc:meta])*
        $rust:ident as $py_name:literal {
            $( $field:ident $(= $key:literal)? : $reader:ident $(::<$class:ty>)? ),* $(,)?
        }
        $( extra { $($extra:tt)* } )?
    ) => {
        $(#[$doc])*
        #[pyclass(frozen, extends = crate::report::Report, name = $py_name, module = "rollout")]
        pub struct $rust;

        impl crate::report::ReportClass for $rust {
            const FIELDS: &'static [&'static str] = &[$(report_class!(@key $field $($key)?)),*];
            fn make() -> Self {
                $rust
            }
        }

        #[pymethods]
        impl $rust {
            $(
                #[getter]
                // A JSON field may be called `new` (an image update's new image).
                #[allow(clippy::new_ret_no_self)]
                fn $field<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
                    let key = report_class!(@key $field $($key)?);
                    crate::report::read::$reader $(::<$class>)? (slf.py(), slf.as_super().get().field(key))
                }
            )*
            $($($extra)*)?
        }
    };
    (@key $field:ident) => { stringify!($field) };
    (@key $field:ident $key:literal) => { $key };
}

// ---------------------------------------------------------------------------------------------------------
// tag

report_class! {
    /// A derived tag and how it was derived (`rollout tag -o json`).
    DerivedTag as "DerivedTag" {
        tag: plain,
        version: object::<ProjectVersion>,
        template: plain,
        sanitised: plain,
        warnings: list,
    }
    extra {
        fn __str__(slf: &Bound<'_, Self>) -> String {
            slf.as_super().get().field("tag").and_then(Value::as_str).unwrap_or_default().to_owned()
        }
    }
}

report_class! {
    /// A project version and where it was read.
    ProjectVersion as "ProjectVersion" {
        source: plain,
        file: plain,
        version: plain,
        git: object::<GitInfo>,
    }
}

report_class! {
    /// The state of the git repository a version or tag was derived in.
    GitInfo as "GitInfo" {
        describe: plain,
        sha: plain,
        short_sha: plain,
        branch: plain,
        dirty: plain,
    }
}

// ---------------------------------------------------------------------------------------------------------
// status and diagnosis

report_class! {
    /// The rollout status of a workload, as `kubectl rollout status` decides it.
    WorkloadStatus as "WorkloadStatus" {
        kind: plain,
        name: plain,
        state: plain,
        reason: plain,
        message: plain,
        replicas: object::<ReplicaCounts>,
    }
    extra {
        /// Whether the rollout finished successfully.
        #[getter]
        fn is_complete(slf: &Bound<'_, Self>) -> bool {
            state(slf.as_super()) == Some("complete")
        }
        /// Whether the rollout failed.
        #[getter]
        fn is_failed(slf: &Bound<'_, Self>) -> bool {
            state(slf.as_super()) == Some("failed")
        }
        /// Whether waiting longer cannot change the answer: complete, failed, or a strategy kubectl
        /// cannot follow.
        #[getter]
        fn is_terminal(slf: &Bound<'_, Self>) -> bool {
            !matches!(state(slf.as_super()), Some("observing_spec" | "progressing"))
        }
    }
}

fn state<'a>(report: &'a Bound<'_, Report>) -> Option<&'a str> {
    report.get().field("state").and_then(Value::as_str)
}

report_class! {
    /// Replica counts as a workload's status reports them.
    ReplicaCounts as "ReplicaCounts" {
        desired: plain,
        current: plain,
        updated: plain,
        ready: plain,
        available: plain,
    }
}

report_class! {
    /// The verdict over a rollout's new pods: healthy, pending or failing, with the problems.
    Diagnosis as "Diagnosis" {
        verdict: plain,
        problems: objects::<ContainerProblem>,
    }
    extra {
        /// Whether the rollout is doomed without a change.
        #[getter]
        fn is_failing(slf: &Bound<'_, Self>) -> bool {
            slf.as_super().get().field("verdict").and_then(Value::as_str) == Some("failing")
        }
    }
}

report_class! {
    /// One reason why a pod or container is not ready.
    ContainerProblem as "ContainerProblem" {
        pod: plain,
        container: plain,
        init: plain,
        reason: plain,
        message: plain,
        exit_code: plain,
        last_termination_reason: plain,
        restart_count: plain,
        since: time,
        fatal: plain,
        transient: plain,
        events: objects::<EventSummary>,
        log_tail: list,
    }
}

report_class! {
    /// Events with the same reason and message, merged.
    EventSummary as "EventSummary" {
        r#type = "type": plain,
        reason: plain,
        message: plain,
        count: plain,
        first_seen: time,
        last_seen: time,
    }
}

// ---------------------------------------------------------------------------------------------------------
// lifecycle

report_class! {
    /// One way a lifecycle policy breaks ECR's rules.
    PolicyViolation as "PolicyViolation" {
        rule: plain,
        rule_priority: plain,
        field: plain,
        message: plain,
    }
}

report_class! {
    /// What a lifecycle policy would do to a repository's images at a given time.
    Preview as "Preview" {
        evaluated_at: time,
        summary: object::<PreviewSummary>,
        images: objects::<ImageVerdict>,
    }
    extra {
        /// The verdicts of the images the policy would expire or transition.
        #[getter]
        fn acted_on<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyList>> {
            let py = slf.py();
            let list = PyList::empty(py);
            if let Some(Value::Array(images)) = slf.as_super().get().field("images") {
                for image in images.iter().filter(|i| i.get("outcome").and_then(Value::as_str) != Some("keep")) {
                    list.append(nested::<ImageVerdict>(py, image)?)?;
                }
            }
            Ok(list)
        }
    }
}

report_class! {
    /// The counts of a preview, overall and per rule.
    PreviewSummary as "PreviewSummary" {
        images: plain,
        expiring: plain,
        transitioning: plain,
        kept: plain,
        rules: objects::<RuleSummary>,
    }
}

report_class! {
    /// What one rule of a previewed policy would do.
    RuleSummary as "RuleSummary" {
        rule_priority: plain,
        matched: plain,
        acted_on: plain,
        blocked: plain,
    }
}

report_class! {
    /// The verdict of a previewed policy on one image.
    ImageVerdict as "ImageVerdict" {
        digest: plain,
        tags: list,
        pushed_at: time,
        outcome: plain,
        rule_priority: plain,
        reason: plain,
        blocked_rules: list,
    }
}

report_class! {
    /// The difference between a repository's current lifecycle policy and the desired one.
    PolicyDiff as "PolicyDiff" {
        current_exists: plain,
        equal: plain,
        same_effect: plain,
        added: list,
        removed: list,
        changed: objects::<RuleChange>,
    }
}

report_class! {
    /// One rule that differs between the current and the desired policy.
    RuleChange as "RuleChange" {
        rule_priority: plain,
        fields: objects::<FieldChange>,
        current: plain,
        desired: plain,
    }
}

report_class! {
    /// One field that differs between two rules; `None` means absent.
    FieldChange as "FieldChange" {
        field: plain,
        current: plain,
        desired: plain,
    }
}

report_class! {
    /// An image a policy would expire or archive although something uses it.
    ProtectionViolation as "ProtectionViolation" {
        digest: plain,
        tags: list,
        outcome: plain,
        rule_priority: plain,
        reference: plain,
        used_by: plain,
        matched_by: plain,
    }
}

// ---------------------------------------------------------------------------------------------------------
// registry

report_class! {
    /// The previous image and tag chosen among a repository's images.
    PreviousTag as "PreviousTag" {
        strategy: plain,
        tag: plain,
        digest: plain,
        pushed_at: time,
        image_tags: list,
        version: plain,
        considered: plain,
        skipped: objects::<SkippedImage>,
    }
}

report_class! {
    /// An image that was not a candidate for "previous", and why.
    SkippedImage as "SkippedImage" {
        digest: plain,
        reason: plain,
        tag: plain,
        text: plain,
    }
}

// ---------------------------------------------------------------------------------------------------------
// deploy, wait, rollback and history

/// Whether a report's `outcome` field is a success (succeeded, unchanged, or as asked only started or
/// only computed in a dry run), as the core's `Outcome::is_success` says.
fn is_success(report: &Bound<'_, Report>) -> bool {
    matches!(
        report.get().field("outcome").and_then(Value::as_str),
        Some("succeeded" | "unchanged" | "started" | "dry_run")
    )
}

report_class! {
    /// A workload in a cluster: `[context/]namespace/kind/name`.
    WorkloadRef as "WorkloadRef" {
        context: plain,
        namespace: plain,
        kind: plain,
        name: plain,
    }
}

report_class! {
    /// One container's image before and after a change.
    ImageUpdate as "ImageUpdate" {
        container: plain,
        init: plain,
        previous: plain,
        new: plain,
    }
}

report_class! {
    /// One preflight check and its result.
    PreflightCheck as "PreflightCheck" {
        check: plain,
        status: plain,
        message: plain,
    }
}

report_class! {
    /// What a deploy, apply, wait or rollback did to one workload (`rollout deploy -o json`).
    RolloutReport as "RolloutReport" {
        operation: plain,
        target: object::<WorkloadRef>,
        outcome: plain,
        reason: plain,
        message: plain,
        images: objects::<ImageUpdate>,
        change_cause: plain,
        revision: plain,
        previous_revision: plain,
        new_replica_set: plain,
        started_at: time,
        finished_at: time,
        duration_ms: plain,
        preflight: objects::<PreflightCheck>,
        status: object::<WorkloadStatus>,
        problems: objects::<ContainerProblem>,
        patch: plain,
        rollback: object::<RolloutReport>,
    }
    extra {
        /// Whether the rollout succeeded, had nothing to change, or (as asked) was only started or only
        /// computed in a dry run.
        #[getter]
        fn is_success(slf: &Bound<'_, Self>) -> bool {
            is_success(slf.as_super())
        }
    }
}

report_class! {
    /// The reports of many workloads handled in one call, with the worst outcome.
    CombinedReport as "CombinedReport" {
        outcome: plain,
        started_at: time,
        finished_at: time,
        duration_ms: plain,
        reports: objects::<RolloutReport>,
    }
    extra {
        /// Whether every workload succeeded or was unchanged.
        #[getter]
        fn is_success(slf: &Bound<'_, Self>) -> bool {
            is_success(slf.as_super())
        }
    }
}

report_class! {
    /// What an apply did: every object, and the rollouts of the workloads among them.
    ApplyReport as "ApplyReport" {
        applied: objects::<AppliedObject>,
        rollouts: object::<CombinedReport>,
    }
}

report_class! {
    /// One object server-side apply handled.
    AppliedObject as "AppliedObject" {
        api_version: plain,
        kind: plain,
        namespace: plain,
        name: plain,
        action: plain,
    }
}

report_class! {
    /// Something that happened during a deploy, apply, wait or rollback, as it happened.
    ///
    /// `event` names the kind (`preflight`, `updated`, `status`, `problem`, `warning`, `rolling_back`,
    /// `finished`); attributes a kind does not carry read as `None` (or `[]`). `text` is the core's
    /// one-line description, as the CLI prints it.
    ProgressEvent as "ProgressEvent" {
        event: plain,
        target: object::<WorkloadRef>,
        checks: objects::<PreflightCheck>,
        generation: plain,
        change_cause: plain,
        images: objects::<ImageUpdate>,
        status: object::<WorkloadStatus>,
        problem: object::<ContainerProblem>,
        context: plain,
        namespace: plain,
        message: plain,
        to_revision: plain,
        reason: plain,
        outcome: plain,
    }
    extra {
        /// One line describing the event, the one the CLI prints on stderr.
        #[getter]
        fn text(slf: &Bound<'_, Self>) -> String {
            slf.as_super().get().text().unwrap_or_default().to_owned()
        }

        fn __str__(slf: &Bound<'_, Self>) -> String {
            slf.as_super().get().text().unwrap_or_default().to_owned()
        }
    }
}

report_class! {
    /// The rollout history of a Deployment, as `kubectl rollout history` finds it.
    History as "History" {
        target: object::<WorkloadRef>,
        revisions: objects::<Revision>,
    }
    extra {
        /// The revision whose template is the Deployment's current one.
        #[getter]
        fn current<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
            let py = slf.py();
            let revisions = slf.as_super().get().field("revisions").and_then(Value::as_array);
            let current = revisions.into_iter().flatten().find(|r| r.get("current") == Some(&Value::Bool(true)));
            read::object::<Revision>(py, current)
        }
    }
}

report_class! {
    /// One revision of a Deployment: a ReplicaSet it controls.
    Revision as "Revision" {
        revision: plain,
        replica_set: plain,
        change_cause: plain,
        images: objects::<ContainerImage>,
        created_at: time,
        current: plain,
        healthy_at: time,
        replicas: plain,
    }
}

report_class! {
    /// One container's image in a pod template.
    ContainerImage as "ContainerImage" {
        container: plain,
        init: plain,
        image: plain,
    }
}

report_class! {
    /// The previous release found in a Deployment's history: the newest earlier revision recorded
    /// healthy that runs another tag (the `deployed` previous-tag strategy).
    DeployedTag as "DeployedTag" {
        tag: plain,
        image: plain,
        revision: plain,
        replica_set: plain,
        healthy: plain,
    }
}

report_class! {
    /// An image a workload uses, and who uses it.
    InUseImage as "InUseImage" {
        reference: plain,
        tag: plain,
        digest: plain,
        used_by: plain,
    }
}

report_class! {
    /// What putting a lifecycle policy on repositories did (`rollout lifecycle put -o json`).
    PutReport as "PutReport" {
        put: plain,
        unchanged: plain,
        failed: plain,
        repositories: objects::<RepositoryPut>,
    }
    extra {
        /// Whether every repository has the policy now.
        #[getter]
        fn succeeded(slf: &Bound<'_, Self>) -> bool {
            slf.as_super().get().field("failed").and_then(Value::as_u64) == Some(0)
        }
    }
}

report_class! {
    /// One repository's line of a put: `put`, `unchanged` or `failed` (with the reason).
    RepositoryPut as "RepositoryPut" {
        repository: plain,
        outcome: plain,
        reason: plain,
        preview: object::<PreviewSummary>,
        in_use: objects::<ProtectionViolation>,
    }
}

/// Adds the report classes to the module.
pub fn register(m: &Bound<'_, pyo3::types::PyModule>) -> PyResult<()> {
    m.add_class::<Report>()?;
    m.add_class::<DerivedTag>()?;
    m.add_class::<ProjectVersion>()?;
    m.add_class::<GitInfo>()?;
    m.add_class::<WorkloadStatus>()?;
    m.add_class::<ReplicaCounts>()?;
    m.add_class::<Diagnosis>()?;
    m.add_class::<ContainerProblem>()?;
    m.add_class::<EventSummary>()?;
    m.add_class::<PolicyViolation>()?;
    m.add_class::<Preview>()?;
    m.add_class::<PreviewSummary>()?;
    m.add_class::<RuleSummary>()?;
    m.add_class::<ImageVerdict>()?;
    m.add_class::<PolicyDiff>()?;
    m.add_class::<RuleChange>()?;
    m.add_class::<FieldChange>()?;
    m.add_class::<ProtectionViolation>()?;
    m.add_class::<PreviousTag>()?;
    m.add_class::<SkippedImage>()?;
    m.add_class::<WorkloadRef>()?;
    m.add_class::<ImageUpdate>()?;
    m.add_class::<PreflightCheck>()?;
    m.add_class::<RolloutReport>()?;
    m.add_class::<CombinedReport>()?;
    m.add_class::<ApplyReport>()?;
    m.add_class::<AppliedObject>()?;
    m.add_class::<ProgressEvent>()?;
    m.add_class::<History>()?;
    m.add_class::<Revision>()?;
    m.add_class::<ContainerImage>()?;
    m.add_class::<DeployedTag>()?;
    m.add_class::<InUseImage>()?;
    m.add_class::<PutReport>()?;
    m.add_class::<RepositoryPut>()?;
    Ok(())
}
