//! How many requests the sandbox answered, by kind, and how many connections it accepted: what
//! benchmarks and tests read to compare how many calls different clients make for the same job.
//!
//! Counting happens on the server side, so it covers every client alike (kubectl, the aws CLI,
//! kube-rs, aws-sdk-ecr) without instrumenting any of them. It keeps counts only, never the requests
//! themselves, so it costs one short lock per request and no memory growth.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// The counter every request passes through.
#[derive(Debug, Default)]
pub struct RequestCounter {
    counts: Mutex<BTreeMap<String, u64>>,
    connections: AtomicU64,
}

impl RequestCounter {
    /// Counts one request of the given kind (see [`RequestCounts::by_kind`] for the keys).
    pub(crate) fn record(&self, kind: impl Into<String>) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry(kind.into()).or_default() += 1;
    }

    /// Counts one accepted TCP connection.
    pub(crate) fn connection(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts so far. Take one before and one after a client's run and subtract them with
    /// [`RequestCounts::since`] to get that run's requests.
    pub fn snapshot(&self) -> RequestCounts {
        let by_kind = self.counts.lock().unwrap_or_else(|e| e.into_inner()).clone();
        RequestCounts { by_kind, connections: self.connections.load(Ordering::Relaxed) }
    }
}

/// Request counts at one moment, or between two moments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RequestCounts {
    /// Requests by kind. Kubernetes API calls are `"<verb> <plural>"` with the API server's verbs
    /// (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`) and a
    /// subresource after a slash (`"patch deployments/status"`); ECR calls are `"ecr <Operation>"`
    /// (`"ecr DescribeImages"`); discovery and OpenAPI documents are `"discovery"`, `/version` and the
    /// health checks `"version"`, the sandbox's own admin API `"admin"`, and unknown paths `"unknown"`.
    pub by_kind: BTreeMap<String, u64>,
    /// TCP connections accepted.
    pub connections: u64,
}

impl RequestCounts {
    /// The requests counted after `earlier` was taken.
    pub fn since(&self, earlier: &RequestCounts) -> RequestCounts {
        let by_kind = self
            .by_kind
            .iter()
            .map(|(k, n)| (k.clone(), n.saturating_sub(earlier.get(k))))
            .filter(|(_, n)| *n > 0)
            .collect();
        RequestCounts { by_kind, connections: self.connections.saturating_sub(earlier.connections) }
    }

    /// The number of requests of exactly this kind.
    pub fn get(&self, kind: &str) -> u64 {
        self.by_kind.get(kind).copied().unwrap_or(0)
    }

    /// Every request counted.
    pub fn total(&self) -> u64 {
        self.by_kind.values().sum()
    }

    /// The requests whose kind starts with `prefix`: `"watch "` gives every watch, `"ecr "` every ECR call.
    pub fn starting_with(&self, prefix: &str) -> u64 {
        self.by_kind.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, n)| n).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_since_an_earlier_snapshot_keep_only_the_new_requests() {
        let counter = RequestCounter::default();
        counter.record("get deployments");
        counter.record("watch pods");
        let before = counter.snapshot();
        counter.record("watch pods");
        counter.record("watch deployments");
        counter.record("ecr DescribeImages");
        counter.connection();
        let diff = counter.snapshot().since(&before);
        assert_eq!(diff.get("get deployments"), 0);
        assert!(!diff.by_kind.contains_key("get deployments"));
        assert_eq!(diff.starting_with("watch "), 2);
        assert_eq!(diff.starting_with("ecr "), 1);
        assert_eq!(diff.total(), 3);
        assert_eq!(diff.connections, 1);
    }
}
