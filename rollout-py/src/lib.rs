//! rollout-py: the Python module `rollout`, a thin face over rollout-core.
//!
//! This crate builds the native part, `rollout._rollout`; the pure-Python package around it
//! (`python/rollout`) re-exports it with the exception classes, the testing helpers and the type
//! stubs. Each binding file mirrors a core module and only converts values and maps errors: the core
//! decides, this face translates. Calls release the interpreter; anything that awaits or blocks runs
//! on the one shared runtime through [`runtime::block_on`], so Ctrl-C raises `KeyboardInterrupt`.

pub mod client;
pub mod convert;
pub mod error;
pub mod image;
pub mod lifecycle;
pub mod registry;
pub mod report;
pub mod runtime;
pub mod status;
pub mod tag;
pub mod testing;

use pyo3::prelude::*;

/// Parse a kubectl-style duration (`90s`, `10m`, `1h30m`, `250ms`) into a `datetime.timedelta`.
#[pyfunction]
fn parse_duration(py: Python<'_>, text: &str) -> PyResult<std::time::Duration> {
    rollout_core::duration::parse_duration(text).map_err(|e| {
        error::invalid_argument(
            py,
            "duration",
            text,
            format!("{} (use a number with a unit, e.g. 90s, 10m, 1h30m)", e.reason),
        )
    })
}

/// The native module, `rollout._rollout`.
#[pymodule]
mod _rollout {
    #[pymodule_export]
    use super::client::PyClient;
    #[pymodule_export]
    use super::image::PyImageRef;
    #[pymodule_export]
    use super::lifecycle::{PyLifecyclePolicy, PyPolicyBuilder};
    #[pymodule_export]
    use super::parse_duration;
    #[pymodule_export]
    use super::registry::{PyImageRecord, previous_tag};
    #[pymodule_export]
    use super::status::{diagnose, rollout_status};
    #[pymodule_export]
    use super::tag::derive_tag;
    #[pymodule_export]
    use super::testing::{Latch, NativeSandbox, block_for, blocks_in_flight};

    use pyo3::prelude::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        super::error::register(m)?;
        super::report::register(m)?;
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        Ok(())
    }
}
