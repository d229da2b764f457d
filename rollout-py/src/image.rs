//! `rollout.ImageRef`: a validated container image reference (rollout-core's `image` module).
//!
//! A frozen value: parsed once with the core's grammar, compared and hashed with the core's equality,
//! printed as the reference it was parsed from.

use pyo3::prelude::*;
use rollout_core::image::{Digest, ImageRef as CoreImageRef, ImageTag};

use crate::error::IntoPyResult;

/// A container image reference, `[registry/]repository[:tag][@digest]`, validated once.
///
/// ECR registry hosts (`<account>.dkr.ecr.<region>.amazonaws.com`) are recognised, so the account and
/// region can be read off the reference. Docker Hub short names are kept as written.
#[pyclass(frozen, eq, hash, name = "ImageRef", module = "rollout")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyImageRef(pub CoreImageRef);

#[pymethods]
impl PyImageRef {
    /// Parse a reference; `InvalidInputError` says which part is wrong and what is allowed.
    #[new]
    fn new(py: Python<'_>, reference: &str) -> PyResult<Self> {
        Self::parse(py, reference)
    }

    /// Parse a reference; the same as `ImageRef(reference)`.
    #[staticmethod]
    fn parse(py: Python<'_>, reference: &str) -> PyResult<Self> {
        reference.parse::<CoreImageRef>().py_err(py).map(Self)
    }

    /// The registry host (with port, if written), or `None` when the reference names none.
    #[getter]
    fn registry(&self) -> Option<&str> {
        self.0.registry()
    }

    /// The repository path, e.g. `ms-account-management` or `library/nginx`.
    #[getter]
    fn repository(&self) -> &str {
        self.0.repository()
    }

    /// The tag, if one was written.
    #[getter]
    fn tag(&self) -> Option<&str> {
        self.0.tag().map(ImageTag::as_str)
    }

    /// The digest (`sha256:…`), if one was written.
    #[getter]
    fn digest(&self) -> Option<&str> {
        self.0.digest().map(Digest::as_str)
    }

    /// The reference without tag or digest: `[registry/]repository`.
    #[getter]
    fn name(&self) -> String {
        self.0.name()
    }

    /// Whether the registry is an ECR registry host.
    #[getter]
    fn is_ecr(&self) -> bool {
        self.0.is_ecr()
    }

    /// Whether the registry is an ECR FIPS endpoint (`dkr.ecr-fips`).
    #[getter]
    fn is_ecr_fips(&self) -> bool {
        self.0.is_ecr_fips()
    }

    /// The 12-digit AWS account id of an ECR registry host.
    #[getter]
    fn ecr_account(&self) -> Option<&str> {
        self.0.ecr_account()
    }

    /// The AWS region of an ECR registry host.
    #[getter]
    fn ecr_region(&self) -> Option<&str> {
        self.0.ecr_region()
    }

    /// The same image name with `tag` and no digest (the digest pinned the old image).
    fn with_tag(&self, py: Python<'_>, tag: &str) -> PyResult<Self> {
        let tag = tag.parse::<ImageTag>().py_err(py)?;
        Ok(Self(self.0.with_tag(tag)))
    }

    /// The same image name and tag, pinned to `digest`.
    fn with_digest(&self, py: Python<'_>, digest: &str) -> PyResult<Self> {
        let digest = digest.parse::<Digest>().py_err(py)?;
        Ok(Self(self.0.with_digest(digest)))
    }

    fn __str__(&self) -> String {
        self.0.to_string()
    }

    fn __repr__(&self) -> String {
        format!("ImageRef({:?})", self.0.to_string())
    }
}
