//! `rollout.derive_tag`: the release tag of a project, from its version (rollout-core's `tag` module).
//!
//! The arguments are those of `rollout tag`, as keywords, and so is the branch fallback: without
//! `branch`, the CI system's variables name it on a detached HEAD, exactly as the CLI reads them. The
//! result is the same `DerivedTag` report the CLI prints with `-o json`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use pyo3::prelude::*;
use rollout_core::version::branch_from_ci_env;
use rollout_core::{DeriveOptions, TagTemplate, VersionSource, derive_tag as core_derive_tag};

use crate::convert::opt_timestamp;
use crate::error::IntoPyResult;
use crate::report::{self, DerivedTag};
use crate::runtime::blocking;

/// Derive the image tag of the project at `path` from its version.
///
/// `template` holds literal text and placeholders ({version} {major} {minor} {patch} {prerelease}
/// {build} {sha} {short_sha} {branch} {date}); `source` picks the version file (pom, cargo, npm,
/// pyproject, version-file, git) instead of detecting it; `overrides` are Maven properties, like
/// `mvn -Dkey=value`; `strict` refuses a tag that needs sanitising; `allow_floating` allows tags such
/// as `latest`; `branch` fills {branch} (default: git's, or the CI system's on a detached HEAD);
/// `now` (an aware datetime) fixes {date}.
#[pyfunction]
#[pyo3(
    signature = (path = PathBuf::from("."), template = "{version}", source = None, overrides = None, strict = false, allow_floating = false, branch = None, now = None),
    text_signature = "(path='.', template='{version}', source=None, overrides=None, strict=False, allow_floating=False, branch=None, now=None)"
)]
#[allow(clippy::too_many_arguments)]
pub fn derive_tag(
    py: Python<'_>,
    path: PathBuf,
    template: &str,
    source: Option<&str>,
    overrides: Option<BTreeMap<String, String>>,
    strict: bool,
    allow_floating: bool,
    branch: Option<String>,
    now: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<DerivedTag>> {
    let template: TagTemplate = template.parse().py_err(py)?;
    let mut opts = DeriveOptions::new(path).template(template).strict(strict).allow_floating(allow_floating);
    if let Some(source) = source {
        opts = opts.source(source.parse::<VersionSource>().py_err(py)?);
    }
    opts.overrides = overrides.unwrap_or_default();
    if let Some(branch) = branch.or_else(|| branch_from_ci_env(|k| std::env::var(k).ok())) {
        opts = opts.branch(branch);
    }
    if let Some(now) = opt_timestamp("now", now)? {
        opts = opts.now(now);
    }
    // Reading files and running git block, so they run off the interpreter, interruptible by Ctrl-C.
    let derived = blocking(py, move || core_derive_tag(&opts))?.py_err(py)?;
    report::new::<DerivedTag, _>(py, &derived)
}
