//! `rollout.LifecyclePolicy` and its builder: ECR lifecycle policies as values, with validation, local
//! preview, diff and in-use protection (rollout-core's `lifecycle` module).
//!
//! A policy is frozen; the builder is too, each step returning a new builder, so a half-built policy
//! can be shared and extended without surprises. Equality and hashing are the core's: what a policy
//! *does* (rule order, descriptions and tag-list order are ignored), so a policy read back from ECR
//! equals the one put.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};
use rollout_core::ImageRef;
use rollout_core::lifecycle::{
    InUseImage, LifecyclePolicy, PolicyBuilder, RuleAction, RuleSelection, diff, preview, protect,
};

use crate::convert::{from_value, opt_timestamp, repr, to_value};
use crate::error::{IntoPyResult, invalid_argument};
use crate::image::PyImageRef;
use crate::registry::image_records;
use crate::report::{self, PolicyDiff, PolicyViolation, Preview, ProtectionViolation};

/// A whole number argument that must fit the core's `u32`, named in the error.
fn count(py: Python<'_>, field: &str, value: i64) -> PyResult<u32> {
    u32::try_from(value)
        .map_err(|_| invalid_argument(py, field, value.to_string(), "use a whole number from 0 to 4294967295"))
}

/// The JSON text of a dict argument, for the core's path-reporting policy reader.
fn json_text(field: &str, data: &Bound<'_, PyAny>) -> PyResult<String> {
    Ok(to_value(field, data)?.to_string())
}

/// An ECR lifecycle policy: rules that select a repository's images and expire (or archive) some.
#[pyclass(frozen, eq, hash, name = "LifecyclePolicy", module = "rollout")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyLifecyclePolicy(pub LifecyclePolicy);

#[pymethods]
impl PyLifecyclePolicy {
    /// A builder that adds rules in priority order (the first rule added gets priority 1).
    #[staticmethod]
    fn builder() -> PyPolicyBuilder {
        PyPolicyBuilder(LifecyclePolicy::builder())
    }

    /// Read a policy's JSON text (ECR's format). With `validate` (the default) every ECR rule is
    /// checked and all violations are reported together; without, only the shape (known fields, right
    /// types), as for a policy read back from ECR.
    #[staticmethod]
    #[pyo3(signature = (text, *, validate = true))]
    fn from_json(py: Python<'_>, text: &str, validate: bool) -> PyResult<Self> {
        let policy = if validate { LifecyclePolicy::parse(text) } else { LifecyclePolicy::from_json(text) };
        policy.py_err(py).map(Self)
    }

    /// Read a policy from a dict in ECR's JSON format (`{"rules": [...]}`); see `from_json`.
    #[staticmethod]
    #[pyo3(signature = (data, *, validate = true))]
    fn from_dict(py: Python<'_>, data: &Bound<'_, PyAny>, validate: bool) -> PyResult<Self> {
        Self::from_json(py, &json_text("data", data)?, validate)
    }

    /// The canonical JSON text, the one rollout puts: rules by priority, compact; indented by `indent`
    /// spaces when given.
    #[pyo3(signature = (indent = None))]
    fn to_json(&self, py: Python<'_>, indent: Option<usize>) -> PyResult<String> {
        match indent {
            None => Ok(self.0.to_json()),
            Some(indent) => crate::convert::indent_json(py, &self.0.to_json(), indent),
        }
    }

    /// The canonical form as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("json")?.call_method1("loads", (self.0.to_json(),))
    }

    /// The rules as dicts in ECR's format, in the order they were written or added.
    #[getter]
    fn rules<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for rule in &self.0.rules {
            let value = serde_json::to_value(rule)
                .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(format!("cannot serialize a rule: {e}")))?;
            list.append(from_value(py, &value)?)?;
        }
        Ok(list)
    }

    /// Raise `InvalidInputError` listing every way the policy breaks ECR's rules (also in its
    /// `.violations`); return `None` for a valid policy.
    fn validate(&self, py: Python<'_>) -> PyResult<()> {
        self.0.validate().py_err(py)
    }

    /// Every way the policy breaks ECR's rules, in rule order; empty for a valid policy.
    fn violations<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        report::list_of::<PolicyViolation, _>(py, &self.0.violations())
    }

    /// What the policy would do to a repository's `images` (ImageRecords, or dicts in the core's or
    /// ECR's form) at `now` (an aware datetime; default: the current time), as ECR's next lifecycle pass
    /// would.
    #[pyo3(signature = (images, now = None))]
    fn preview(
        &self,
        py: Python<'_>,
        images: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<Preview>> {
        let images = image_records(images)?;
        let now = opt_timestamp("now", now)?.unwrap_or_else(jiff::Timestamp::now);
        let result = py.detach(|| preview(&self.0, &images, now));
        report::new::<Preview, _>(py, &result)
    }

    /// Compare the policy a repository has (`current`; `None` when it has none) with this one, the
    /// desired policy, rule by rule (rules are paired by priority).
    #[pyo3(signature = (current))]
    fn diff(&self, py: Python<'_>, current: Option<PyRef<'_, PyLifecyclePolicy>>) -> PyResult<Py<PolicyDiff>> {
        let result = diff(current.as_ref().map(|c| &c.0), &self.0);
        report::new::<PolicyDiff, _>(py, &result)
    }

    /// The images in use that this policy would expire or archive among `images` at `now`.
    ///
    /// `in_use` lists image references (str or ImageRef, matched by tag and digest) or dicts with
    /// `reference`, `used_by` and optionally `tag` and `digest` (read off the reference when both are
    /// left out).
    #[pyo3(signature = (images, in_use, now = None))]
    fn protect<'py>(
        &self,
        py: Python<'py>,
        images: &Bound<'py, PyAny>,
        in_use: &Bound<'py, PyAny>,
        now: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let images = image_records(images)?;
        let in_use = in_use_images(in_use)?;
        let now = opt_timestamp("now", now)?.unwrap_or_else(jiff::Timestamp::now);
        let violations = py.detach(|| protect(&preview(&self.0, &images, now), &in_use));
        report::list_of::<ProtectionViolation, _>(py, &violations)
    }

    fn __repr__(&self) -> String {
        format!("LifecyclePolicy.from_json({:?})", self.0.to_json())
    }

    fn __str__(&self) -> String {
        self.0.to_json()
    }

    fn __len__(&self) -> usize {
        self.0.rules.len()
    }
}

/// The in-use images argument of `protect` and `Client.put_lifecycle_policy`: image references (str
/// or ImageRef) or dicts (and reports such as `InUseImage`) with `reference` and `used_by`.
pub(crate) fn in_use_images(in_use: &Bound<'_, PyAny>) -> PyResult<Vec<InUseImage>> {
    let py = in_use.py();
    if in_use.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err("in_use must be a list of image references or dicts, not a str"));
    }
    let mut out = Vec::new();
    for (i, item) in in_use.try_iter()?.enumerate() {
        let item = item?;
        let field = format!("in_use[{i}]");
        let reference = if let Ok(r) = item.cast::<PyImageRef>() {
            Some(r.get().0.clone())
        } else if let Ok(s) = item.cast::<PyString>() {
            Some(s.to_str()?.parse::<ImageRef>().py_err(py)?)
        } else {
            None
        };
        let image = match reference {
            Some(r) => InUseImage {
                reference: r.to_string(),
                tag: r.tag().map(|t| t.to_string()),
                digest: r.digest().map(|d| d.to_string()),
                used_by: "given by the caller".to_owned(),
            },
            None => {
                let mut image: InUseImage = serde_json::from_value(to_value(&field, &item)?).map_err(|e| {
                    invalid_argument(
                        py,
                        &field,
                        repr(&item),
                        format!("not an in-use image: {e}; give reference and used_by"),
                    )
                })?;
                // Without tag and digest nothing would match: read them off the reference.
                if image.tag.is_none()
                    && image.digest.is_none()
                    && let Ok(parsed) = image.reference.parse::<ImageRef>()
                {
                    image.tag = parsed.tag().map(|t| t.to_string());
                    image.digest = parsed.digest().map(|d| d.to_string());
                }
                image
            }
        };
        out.push(image);
    }
    Ok(out)
}

/// Builds a `LifecyclePolicy` rule by rule; each step returns a new builder.
#[pyclass(frozen, name = "PolicyBuilder", module = "rollout")]
#[derive(Clone)]
pub struct PyPolicyBuilder(PolicyBuilder);

impl PyPolicyBuilder {
    fn then(&self, step: impl FnOnce(PolicyBuilder) -> PolicyBuilder) -> Self {
        Self(step(self.0.clone()))
    }
}

#[pymethods]
impl PyPolicyBuilder {
    /// Keep the `count` most recently pushed images carrying a tag with each of `prefixes`; expire the
    /// others. The seed policy's first rule is `keep_most_recent_tagged(5, ["latest"])`.
    fn keep_most_recent_tagged(&self, py: Python<'_>, count: i64, prefixes: Vec<String>) -> PyResult<Self> {
        let n = self::count(py, "count", count)?;
        Ok(self.then(|b| b.keep_most_recent_tagged(n, prefixes)))
    }

    /// Keep the `count` most recently pushed images with a tag matching each of `patterns` (`*`
    /// wildcards); expire the others.
    fn keep_most_recent_tagged_matching(&self, py: Python<'_>, count: i64, patterns: Vec<String>) -> PyResult<Self> {
        let n = self::count(py, "count", count)?;
        Ok(self.then(|b| b.keep_most_recent_tagged_matching(n, patterns)))
    }

    /// Keep the `count` most recently pushed untagged images; expire the others.
    fn keep_most_recent_untagged(&self, py: Python<'_>, count: i64) -> PyResult<Self> {
        let n = self::count(py, "count", count)?;
        Ok(self.then(|b| b.keep_most_recent_untagged(n)))
    }

    /// Keep the `count` most recently pushed images of any kind; expire the others (must be last).
    fn keep_most_recent(&self, py: Python<'_>, count: i64) -> PyResult<Self> {
        let n = self::count(py, "count", count)?;
        Ok(self.then(|b| b.keep_most_recent(n)))
    }

    /// Expire untagged images pushed more than `days` days ago.
    fn expire_untagged_older_than(&self, py: Python<'_>, days: i64) -> PyResult<Self> {
        let n = count(py, "days", days)?;
        Ok(self.then(|b| b.expire_untagged_older_than(n)))
    }

    /// Expire images carrying a tag with each of `prefixes`, pushed more than `days` days ago.
    fn expire_tagged_older_than(&self, py: Python<'_>, days: i64, prefixes: Vec<String>) -> PyResult<Self> {
        let n = count(py, "days", days)?;
        Ok(self.then(|b| b.expire_tagged_older_than(n, prefixes)))
    }

    /// Expire images with a tag matching each of `patterns`, pushed more than `days` days ago.
    fn expire_tagged_matching_older_than(&self, py: Python<'_>, days: i64, patterns: Vec<String>) -> PyResult<Self> {
        let n = count(py, "days", days)?;
        Ok(self.then(|b| b.expire_tagged_matching_older_than(n, patterns)))
    }

    /// Expire every image pushed more than `days` days ago (must be last).
    fn expire_older_than(&self, py: Python<'_>, days: i64) -> PyResult<Self> {
        let n = count(py, "days", days)?;
        Ok(self.then(|b| b.expire_older_than(n)))
    }

    /// Archive every image not pulled (or, never pulled, pushed) for more than `days` days (must be last).
    fn archive_not_pulled_for(&self, py: Python<'_>, days: i64) -> PyResult<Self> {
        let n = count(py, "days", days)?;
        Ok(self.then(|b| b.archive_not_pulled_for(n)))
    }

    /// Add any rule: `selection` and `action` are dicts in ECR's format (`{"tagStatus": "tagged", …}`,
    /// `{"type": "expire"}`).
    fn rule(
        &self,
        py: Python<'_>,
        description: String,
        selection: &Bound<'_, PyAny>,
        action: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let selection: RuleSelection = serde_json::from_value(to_value("selection", selection)?)
            .map_err(|e| invalid_argument(py, "selection", repr(selection), e.to_string()))?;
        let action: RuleAction = serde_json::from_value(to_value("action", action)?)
            .map_err(|e| invalid_argument(py, "action", repr(action), e.to_string()))?;
        Ok(self.then(|b| b.rule(description, selection, action)))
    }

    /// Replace the description of the rule added last.
    fn described(&self, description: String) -> Self {
        self.then(|b| b.described(description))
    }

    /// The policy, validated: `InvalidInputError` lists every violation.
    fn build(&self, py: Python<'_>) -> PyResult<PyLifecyclePolicy> {
        self.0.clone().build().py_err(py).map(PyLifecyclePolicy)
    }

    /// The policy, not validated.
    fn build_unchecked(&self) -> PyLifecyclePolicy {
        PyLifecyclePolicy(self.0.clone().build_unchecked())
    }

    fn __repr__(&self) -> String {
        format!("<PolicyBuilder {}>", self.0.clone().build_unchecked().to_json())
    }
}
