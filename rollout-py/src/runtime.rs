//! The one tokio runtime of the module, and the one way Python code blocks on it.
//!
//! Every call that awaits runs through [`block_on`]: it detaches from the interpreter (so other Python
//! threads run meanwhile) and drives the future on the shared runtime, racing it against a 100 ms
//! loop that re-attaches briefly to run Python's signal handlers. When a handler raises (Ctrl-C
//! gives `KeyboardInterrupt`), the future is dropped, which cancels the in-flight work at its next
//! await point, and the exception propagates to the caller. This is the pattern of the lance and
//! delta-rs bindings.
//!
//! The runtime is created on first use and kept for the life of the process. A runtime does not
//! survive `fork` (its worker threads stay in the parent), so a forked child that calls in gets a
//! clear `RuntimeError` instead of a hang, as delta-rs does.
//!
//! It deliberately knows nothing about what the futures do; errors of the core are mapped in
//! [`crate::error`].

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::runtime::Runtime;

/// How often a blocked call looks for pending signals: the upper bound of the Ctrl-C latency.
pub const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// The runtime and the process that created it.
static RUNTIME: OnceLock<(u32, Runtime)> = OnceLock::new();

/// The shared multi-threaded runtime, created on first use.
///
/// Errors when the runtime cannot be built, or when this process is a fork of the one that built it.
pub fn rt() -> PyResult<&'static Runtime> {
    let (pid, runtime) = match RUNTIME.get() {
        Some(entry) => entry,
        None => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("rollout-runtime")
                .build()
                .map_err(|e| PyRuntimeError::new_err(format!("cannot start the rollout runtime: {e}")))?;
            // Another thread may have won the race; its runtime is kept and this one dropped.
            RUNTIME.get_or_init(|| (std::process::id(), runtime))
        }
    };
    let current = std::process::id();
    if *pid != current {
        return Err(PyRuntimeError::new_err(format!(
            "rollout was first used in process {pid} and this is a fork of it (process {current}); the runtime does \
             not survive fork: use rollout in the child only, or start children with the 'spawn' method of \
             multiprocessing"
        )));
    }
    Ok(runtime)
}

/// Runs `fut` to completion on the shared runtime with the interpreter released, or until a Python
/// signal handler raises (Ctrl-C: `KeyboardInterrupt`), in which case `fut` is dropped and the
/// handler's exception returned.
///
/// Signals are only delivered to the main thread, so a call made from another thread runs to
/// completion.
pub fn block_on<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = PyResult<T>> + Send,
    T: Send,
{
    block_on_with(py, move || fut)
}

/// [`block_on`] for a future made by `make` once the interpreter is released, on the calling thread.
///
/// The future itself need not be `Send`, only what `make` captures: rustc cannot prove some of the
/// core's futures `Send` (those that poll streams of closures over borrowed data), although they only
/// ever run on the thread that made them here.
pub fn block_on_with<M, F, T>(py: Python<'_>, make: M) -> PyResult<T>
where
    M: FnOnce() -> F + Send,
    F: Future<Output = PyResult<T>>,
    T: Send,
{
    // Blocking on the runtime from one of its own threads (a callback of an outer call that calls back
    // into rollout) would panic inside tokio; say what happened instead.
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(PyRuntimeError::new_err(
            "rollout cannot be called from inside another rollout call (such as a callback it runs); make the \
             call after the outer one returns",
        ));
    }
    let runtime = rt()?;
    py.detach(|| {
        let fut = make();
        runtime.block_on(async {
            tokio::pin!(fut);
            let mut checks = tokio::time::interval(SIGNAL_CHECK_INTERVAL);
            checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    biased;
                    out = &mut fut => return out,
                    _ = checks.tick() => {
                        // Interpreter shutting down: nothing can be raised any more, keep going.
                        if let Some(Err(e)) = Python::try_attach(|py| py.check_signals()) {
                            return Err(e);
                        }
                    }
                }
            }
        })
    })
}

/// Runs a blocking function (file reads, git) on the runtime's blocking pool through [`block_on`], so
/// the interpreter is released meanwhile and Ctrl-C returns at once (the function itself finishes in
/// the background, its result dropped).
pub fn blocking<F, R>(py: Python<'_>, f: F) -> PyResult<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    block_on(py, async move {
        tokio::task::spawn_blocking(f).await.map_err(|e| PyRuntimeError::new_err(format!("a rollout task failed: {e}")))
    })
}
