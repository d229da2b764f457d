//! Talking to a cluster: the retries transient API failures get, the mapping of client errors to
//! [`Error::Kubernetes`], paginated lists, and an estimate of the API server's clock.
//!
//! It owns no decision about workloads. It deliberately builds no client (the caller passes a
//! `kube::Client`, built from the environment or explicit options elsewhere), and it never retries a
//! write blindly: writes carry a resourceVersion precondition, and their callers decide what a
//! conflict means.

use std::future::Future;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, ObjectMeta};
use kube::api::{Api, ListParams};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::error::{Error, Result};

/// The first pause before retrying a transient failure; it doubles up to [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(50);
/// The longest pause between two retries.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(2);
/// How many times one call is tried at most.
const MAX_ATTEMPTS: u32 = 8;

/// Wraps a client error with what was being done.
pub(crate) fn api_error(operation: impl Into<String>, source: kube::Error) -> Error {
    let status = status_code(&source);
    Error::Kubernetes { operation: operation.into(), status, source: crate::error::Cause::from_error(&source) }
}

/// The HTTP status of an API error answer, if the error is one.
pub(crate) fn status_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// Whether a failure may go away by itself: throttling (429), server errors (5xx), and failures to
/// reach the server or read its answer. (kube's own retry layer already retried 429, 503 and 504.)
pub(crate) fn is_transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(status) => status.code == 429 || status.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => true,
        _ => false,
    }
}

/// Whether a write was refused by its precondition: a 409 Conflict, or a JSON-patch `test` operation
/// that failed (the API server answers 422 for it).
pub(crate) fn is_conflict(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(status) => {
            status.code == 409 || (status.code == 422 && status.message.contains("test failed"))
        }
        _ => false,
    }
}

/// Whether the API answered 404 Not Found.
pub(crate) fn is_not_found(e: &kube::Error) -> bool {
    status_code(e) == Some(404)
}

/// Runs `call` until it succeeds, fails for good, the attempts are used up, or `deadline` passes,
/// pausing with exponential back-off between attempts. Only transient failures ([`is_transient`])
/// are retried, so it suits reads, and writes whose precondition makes a repeat harmless.
pub(crate) async fn retry<T, F, Fut>(deadline: Instant, mut call: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut delay = FIRST_RETRY_DELAY;
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) if is_transient(&e) && attempt < MAX_ATTEMPTS && Instant::now() + delay < deadline => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_RETRY_DELAY);
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Every object a list returns, following `continue` tokens, each page retried on transient failures.
pub(crate) async fn list_all<K>(api: &Api<K>, params: &ListParams, deadline: Instant) -> Result<Vec<K>, kube::Error>
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let mut out = Vec::new();
    let mut params = params.clone();
    if params.limit.is_none() {
        params.limit = Some(500);
    }
    loop {
        let page = retry(deadline, || api.list(&params)).await?;
        out.extend(page.items);
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params.continue_token = Some(token),
            None => return Ok(out),
        }
    }
}

/// The latest time an object records: its creation, its managed-fields entries, and the timestamps
/// of its status conditions (given by the caller, since their types differ per kind).
pub(crate) fn latest_time(meta: &ObjectMeta, others: impl IntoIterator<Item = Timestamp>) -> Option<Timestamp> {
    let created = meta.creation_timestamp.as_ref().map(|t| t.0);
    let managed = meta.managed_fields.iter().flatten().filter_map(|m| m.time.as_ref().map(|t| t.0));
    created.into_iter().chain(managed).chain(others).max()
}

/// When our own field manager last wrote the object, as the API server recorded it in `managedFields`.
pub(crate) fn write_time(meta: &ObjectMeta, manager: &str) -> Option<Timestamp> {
    meta.managed_fields
        .iter()
        .flatten()
        .filter(|m: &&ManagedFieldsEntry| m.manager.as_deref() == Some(manager))
        .filter_map(|m| m.time.as_ref().map(|t| t.0))
        .max()
}

/// An estimate of the API server's clock that never runs ahead of it.
///
/// Judging whether a pod problem has persisted compares the pod's and its events' timestamps, which
/// the server writes, with "now"; this machine's clock may be skewed, and an emulated cluster may run
/// a scaled clock. So "now" is the latest timestamp seen in the cluster's objects plus the real time
/// elapsed since it was seen: on a real cluster that tracks the server's clock, and on a cluster
/// whose clock runs faster it lags, which only ever delays a verdict, never hastens one.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServerClock {
    latest: Option<(Timestamp, Instant)>,
}

impl ServerClock {
    /// Takes note of a timestamp read from the cluster.
    pub(crate) fn observe(&mut self, at: Timestamp) {
        if self.latest.is_none_or(|(latest, _)| at > latest) {
            self.latest = Some((at, Instant::now()));
        }
    }

    /// The estimated server time now; this machine's clock if nothing was observed yet.
    pub(crate) fn now(&self) -> Timestamp {
        match self.latest {
            Some((at, seen)) => {
                let elapsed = SignedDuration::try_from(seen.elapsed()).unwrap_or(SignedDuration::ZERO);
                at.checked_add(elapsed).unwrap_or(at)
            }
            None => Timestamp::now(),
        }
    }
}

/// The time left until `deadline`, at least zero.
pub(crate) fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

#[cfg(test)]
mod tests {
    use kube::core::Status;

    use super::*;

    fn api(code: u16, message: &str) -> kube::Error {
        kube::Error::Api(Box::new(Status::failure(message, "x").with_code(code)))
    }

    #[test]
    fn transient_failures_are_throttling_server_errors_and_transport() {
        assert!(is_transient(&api(429, "slow down")));
        assert!(is_transient(&api(500, "boom")));
        assert!(is_transient(&api(503, "unavailable")));
        assert!(!is_transient(&api(404, "missing")));
        assert!(!is_transient(&api(409, "conflict")));
        assert!(!is_transient(&api(422, "invalid")));
    }

    #[test]
    fn conflicts_include_failed_json_patch_tests() {
        assert!(is_conflict(&api(409, "the object has been modified")));
        assert!(is_conflict(&api(422, "testing value /metadata/resourceVersion failed: test failed")));
        assert!(!is_conflict(&api(422, "spec.replicas: Invalid value")));
        assert!(is_not_found(&api(404, "not found")));
    }

    #[tokio::test]
    async fn retry_stops_at_the_first_permanent_failure() {
        let mut calls = 0;
        let result: Result<(), kube::Error> = retry(Instant::now() + Duration::from_secs(10), || {
            calls += 1;
            let n = calls;
            async move { if n < 3 { Err(api(500, "boom")) } else { Err(api(404, "gone")) } }
        })
        .await;
        assert_eq!(status_code(&result.unwrap_err()), Some(404));
        assert_eq!(calls, 3);
    }

    #[test]
    fn server_clock_never_goes_back() {
        let mut clock = ServerClock::default();
        let t: Timestamp = "2020-01-01T00:00:10Z".parse().unwrap();
        clock.observe(t);
        clock.observe("2020-01-01T00:00:05Z".parse().unwrap());
        assert!(clock.now() >= t);
        assert!(clock.now() < t + SignedDuration::from_secs(60));
    }
}
