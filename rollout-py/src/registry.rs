//! `rollout.ImageRecord` and `rollout.previous_tag`: a repository's images and the pure previous-tag
//! selection over them (rollout-core's `registry` module).
//!
//! Images may be given as `ImageRecord` objects or as dicts, either in the core's JSON form
//! (`digest`, `tags`, `pushed_at`, …) or as ECR's `DescribeImages` reports them (`imageDigest`,
//! `imageTags`, `imagePushedAt`, …, what boto3's `describe_images()["imageDetails"]` holds), so a
//! script can pass boto3's answer straight in. The ECR-backed lookup, which lists the images itself,
//! is `Client.previous_tag` (module `client`); this is the selection alone.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use rollout_core::registry::{
    ImageRecord, PreviousQuery, PreviousStrategy, StorageClass, previous_tag as core_previous_tag,
};
use serde_json::Value;

use crate::convert::{from_value, opt_timestamp, repr, timestamp, to_value};
use crate::error::{IntoPyResult, invalid_argument};
use crate::report::{self, PreviousTag};

/// One image of a repository, as ECR's `DescribeImages` reports it.
#[pyclass(frozen, eq, name = "ImageRecord", module = "rollout")]
#[derive(Clone, PartialEq)]
pub struct PyImageRecord(pub ImageRecord);

#[pymethods]
impl PyImageRecord {
    /// An image with its manifest digest, tags (empty when untagged) and push time (an aware datetime).
    #[new]
    #[pyo3(signature = (digest, tags, pushed_at, *, size_bytes = None, last_pulled_at = None, media_type = None, storage_class = None, archived_at = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        digest: String,
        tags: Vec<String>,
        pushed_at: &Bound<'_, PyAny>,
        size_bytes: Option<u64>,
        last_pulled_at: Option<&Bound<'_, PyAny>>,
        media_type: Option<String>,
        storage_class: Option<&str>,
        archived_at: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let storage_class = match storage_class {
            None => None,
            Some("standard") => Some(StorageClass::Standard),
            Some("archive") => Some(StorageClass::Archive),
            Some(other) => return Err(invalid_argument(py, "storage_class", other, "allowed: standard, archive")),
        };
        let mut record = ImageRecord::new(digest, tags, timestamp("pushed_at", pushed_at)?);
        record.size_bytes = size_bytes;
        record.last_pulled_at = opt_timestamp("last_pulled_at", last_pulled_at)?;
        record.media_type = media_type;
        record.storage_class = storage_class;
        record.archived_at = opt_timestamp("archived_at", archived_at)?;
        Ok(Self(record))
    }

    /// An image from a dict in the core's JSON form or in ECR's `DescribeImages` form.
    #[staticmethod]
    fn from_dict(data: &Bound<'_, PyAny>) -> PyResult<Self> {
        image_record("data", data).map(Self)
    }

    /// The manifest digest.
    #[getter]
    fn digest(&self) -> &str {
        &self.0.digest
    }

    /// The tags, in the registry's order; empty for an untagged image.
    #[getter]
    fn tags(&self) -> Vec<String> {
        self.0.tags.clone()
    }

    /// When the manifest was pushed.
    #[getter]
    fn pushed_at(&self) -> jiff::Timestamp {
        self.0.pushed_at
    }

    /// The compressed size, when reported.
    #[getter]
    fn size_bytes(&self) -> Option<u64> {
        self.0.size_bytes
    }

    /// The last recorded pull, when reported.
    #[getter]
    fn last_pulled_at(&self) -> Option<jiff::Timestamp> {
        self.0.last_pulled_at
    }

    /// The manifest media type, when reported.
    #[getter]
    fn media_type(&self) -> Option<&str> {
        self.0.media_type.as_deref()
    }

    /// `standard` or `archive` (`standard` when the registry did not say).
    #[getter]
    fn storage_class(&self) -> &'static str {
        self.0.storage_class().as_str()
    }

    /// When the image was last archived, when reported.
    #[getter]
    fn archived_at(&self) -> Option<jiff::Timestamp> {
        self.0.archived_at
    }

    /// The image in the core's JSON form.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let value = serde_json::to_value(&self.0)
            .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(format!("cannot serialize the image: {e}")))?;
        from_value(py, &value)
    }

    fn __repr__(&self) -> String {
        format!("ImageRecord(digest={:?}, tags={:?}, pushed_at={})", self.0.digest, self.0.tags, self.0.pushed_at)
    }
}

/// One image argument: an `ImageRecord`, or a dict in either form. `field` names it in errors.
pub fn image_record(field: &str, item: &Bound<'_, PyAny>) -> PyResult<ImageRecord> {
    if let Ok(record) = item.cast::<PyImageRecord>() {
        return Ok(record.get().0.clone());
    }
    if !item.is_instance_of::<PyDict>() {
        return Err(PyTypeError::new_err(format!(
            "{field} must be an ImageRecord or a dict, not {}",
            item.get_type().name()?
        )));
    }
    let value = match to_value(field, item)? {
        // ECR's own form (boto3, the aws CLI): the core reads it.
        ecr @ Value::Object(_) if ecr.get("imageDigest").is_some() => {
            return ImageRecord::from_ecr_json(&ecr)
                .map_err(|e| invalid_argument(item.py(), field, repr(item), e.to_string()));
        }
        Value::Object(map) => Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    };
    serde_json::from_value(value).map_err(|e| {
        invalid_argument(
            item.py(),
            field,
            repr(item),
            format!(
                "not an image record: {e}; give digest, tags and pushed_at (an aware datetime or RFC 3339 text), or \
                 ECR's imageDigest, imageTags and imagePushedAt"
            ),
        )
    })
}

/// The images argument of a call: any iterable of `ImageRecord`s or dicts.
pub fn image_records(images: &Bound<'_, PyAny>) -> PyResult<Vec<ImageRecord>> {
    if images.is_instance_of::<PyString>() || images.is_instance_of::<PyDict>() {
        return Err(PyTypeError::new_err(format!(
            "images must be a list of ImageRecord objects or dicts, not {}",
            images.get_type().name()?
        )));
    }
    images.try_iter()?.enumerate().map(|(i, item)| image_record(&format!("images[{i}]"), &item?)).collect()
}

/// The strategy names `previous_tag` accepts.
pub(crate) const STRATEGIES: &str = "pushed, before, semver, cli-compatible";

/// The options of a previous-tag lookup, checked: `strategy` is one of [`STRATEGIES`] (case and `_`
/// versus `-` do not matter), `before` goes with `before` and `semver`, `pattern` with `semver` only.
#[allow(clippy::too_many_arguments)]
pub(crate) fn previous_query(
    py: Python<'_>,
    strategy: &str,
    before: Option<String>,
    pattern: Option<String>,
    tag_prefix: Option<String>,
    tag_pattern: Option<String>,
    include_floating: bool,
    floating_tags: Option<Vec<String>>,
) -> PyResult<PreviousQuery> {
    let name = strategy.to_ascii_lowercase().replace('_', "-");
    if let (Some(p), false) = (&pattern, name == "semver") {
        return Err(invalid_argument(
            py,
            "pattern",
            p.clone(),
            format!("pattern extracts versions for the semver strategy only, not for {strategy:?}"),
        ));
    }
    let strategy = match name.as_str() {
        "pushed" | "cli-compatible" if before.is_some() => {
            return Err(invalid_argument(
                py,
                "before",
                before.unwrap_or_default(),
                format!("the {name} strategy takes no 'before'; use strategy='before' or 'semver'"),
            ));
        }
        "pushed" => PreviousStrategy::Pushed,
        "cli-compatible" => PreviousStrategy::CliCompatible,
        "before" => {
            let Some(tag) = before else {
                return Err(invalid_argument(
                    py,
                    "before",
                    "None",
                    "the before strategy needs the tag of the current release, e.g. before='latest-release-1.2.0'",
                ));
            };
            PreviousStrategy::Before { tag }
        }
        "semver" => PreviousStrategy::Semver { pattern, before },
        _ => return Err(invalid_argument(py, "strategy", strategy, format!("allowed: {STRATEGIES}"))),
    };
    let mut query = PreviousQuery::new(strategy);
    query.tag_prefix = tag_prefix;
    query.tag_pattern = tag_pattern;
    query.include_floating = include_floating;
    if let Some(tags) = floating_tags {
        query.floating_tags = tags;
    }
    Ok(query)
}

/// Choose the image before the current release among a repository's `images`, and its tag.
///
/// Strategies: `pushed` (the second-newest qualifying push), `before` (the newest qualifying image
/// pushed before the one tagged `before`), `semver` (the highest semantic version below the highest,
/// or below `before`; `pattern` extracts the version from a tag) and `cli-compatible` (exactly what
/// `aws ecr describe-images --query 'sort_by(imageDetails,& imagePushedAt)[-2].imageTags[0]'` prints).
/// Only tags starting with `tag_prefix` and matching the regular expression `tag_pattern` are
/// eligible; floating tags such as `latest` are never returned unless `include_floating`.
#[pyfunction]
#[pyo3(signature = (images, strategy = "pushed", *, before = None, pattern = None, tag_prefix = None, tag_pattern = None, include_floating = false, floating_tags = None))]
#[allow(clippy::too_many_arguments)]
pub fn previous_tag(
    py: Python<'_>,
    images: &Bound<'_, PyAny>,
    strategy: &str,
    before: Option<String>,
    pattern: Option<String>,
    tag_prefix: Option<String>,
    tag_pattern: Option<String>,
    include_floating: bool,
    floating_tags: Option<Vec<String>>,
) -> PyResult<Py<PreviousTag>> {
    let images = image_records(images)?;
    let query =
        previous_query(py, strategy, before, pattern, tag_prefix, tag_pattern, include_floating, floating_tags)?;
    let chosen = py.detach(|| core_previous_tag(&images, &query)).py_err(py)?;
    report::new::<PreviousTag, _>(py, &chosen)
}
