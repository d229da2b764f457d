//! The resource kinds the sandbox serves, with the metadata that discovery, routing and error
//! messages need.
//!
//! Deployments, ReplicaSets and pods are driven by simulated controllers; StatefulSets, DaemonSets,
//! Jobs and CronJobs are stored and served (so clients can create, read and watch them and tests can
//! set their status) but have no controller behind them.

/// A kind of object the sandbox stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// core/v1 Namespace (cluster-scoped).
    Namespace,
    /// core/v1 Pod.
    Pod,
    /// core/v1 Event.
    Event,
    /// apps/v1 Deployment.
    Deployment,
    /// apps/v1 ReplicaSet.
    ReplicaSet,
    /// apps/v1 StatefulSet (stored and served, no controller).
    StatefulSet,
    /// apps/v1 DaemonSet (stored and served, no controller).
    DaemonSet,
    /// batch/v1 Job (stored and served, no controller).
    Job,
    /// batch/v1 CronJob (stored and served, no controller).
    CronJob,
}

/// Static facts about a kind, as the real API server's discovery documents state them.
#[derive(Debug)]
pub struct KindInfo {
    /// The kind.
    pub kind: Kind,
    /// `kind` field value, e.g. `Deployment`.
    pub name: &'static str,
    /// API group, empty for the core group.
    pub group: &'static str,
    /// API version within the group.
    pub version: &'static str,
    /// Resource name in URLs, e.g. `deployments`.
    pub plural: &'static str,
    /// Singular resource name.
    pub singular: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Short names kubectl accepts (`deploy`).
    pub short_names: &'static [&'static str],
    /// Categories (`all`).
    pub categories: &'static [&'static str],
    /// Subresources served under `{name}/…`.
    pub subresources: &'static [&'static str],
    /// Whether the API server maintains `metadata.generation`.
    pub has_generation: bool,
}

const VERBS: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

/// Every kind, in discovery order.
pub static KINDS: &[KindInfo] = &[
    KindInfo {
        kind: Kind::Namespace,
        name: "Namespace",
        group: "",
        version: "v1",
        plural: "namespaces",
        singular: "namespace",
        namespaced: false,
        short_names: &["ns"],
        categories: &[],
        subresources: &["status"],
        has_generation: false,
    },
    KindInfo {
        kind: Kind::Pod,
        name: "Pod",
        group: "",
        version: "v1",
        plural: "pods",
        singular: "pod",
        namespaced: true,
        short_names: &["po"],
        categories: &["all"],
        subresources: &["status", "log", "binding"],
        has_generation: false,
    },
    KindInfo {
        kind: Kind::Event,
        name: "Event",
        group: "",
        version: "v1",
        plural: "events",
        singular: "event",
        namespaced: true,
        short_names: &["ev"],
        categories: &[],
        subresources: &[],
        has_generation: false,
    },
    KindInfo {
        kind: Kind::Deployment,
        name: "Deployment",
        group: "apps",
        version: "v1",
        plural: "deployments",
        singular: "deployment",
        namespaced: true,
        short_names: &["deploy"],
        categories: &["all"],
        subresources: &["status", "scale"],
        has_generation: true,
    },
    KindInfo {
        kind: Kind::ReplicaSet,
        name: "ReplicaSet",
        group: "apps",
        version: "v1",
        plural: "replicasets",
        singular: "replicaset",
        namespaced: true,
        short_names: &["rs"],
        categories: &["all"],
        subresources: &["status", "scale"],
        has_generation: true,
    },
    KindInfo {
        kind: Kind::StatefulSet,
        name: "StatefulSet",
        group: "apps",
        version: "v1",
        plural: "statefulsets",
        singular: "statefulset",
        namespaced: true,
        short_names: &["sts"],
        categories: &["all"],
        subresources: &["status", "scale"],
        has_generation: true,
    },
    KindInfo {
        kind: Kind::DaemonSet,
        name: "DaemonSet",
        group: "apps",
        version: "v1",
        plural: "daemonsets",
        singular: "daemonset",
        namespaced: true,
        short_names: &["ds"],
        categories: &["all"],
        subresources: &["status"],
        has_generation: true,
    },
    KindInfo {
        kind: Kind::Job,
        name: "Job",
        group: "batch",
        version: "v1",
        plural: "jobs",
        singular: "job",
        namespaced: true,
        short_names: &[],
        categories: &["all"],
        subresources: &["status"],
        has_generation: true,
    },
    KindInfo {
        kind: Kind::CronJob,
        name: "CronJob",
        group: "batch",
        version: "v1",
        plural: "cronjobs",
        singular: "cronjob",
        namespaced: true,
        short_names: &["cj"],
        categories: &["all"],
        subresources: &["status"],
        has_generation: true,
    },
];

impl Kind {
    /// The static facts about this kind.
    pub fn info(self) -> &'static KindInfo {
        KINDS.iter().find(|k| k.kind == self).expect("every kind is listed in KINDS")
    }

    /// Finds a kind by group, version and plural resource name, as they appear in a URL.
    pub fn from_path(group: &str, version: &str, plural: &str) -> Option<Kind> {
        KINDS.iter().find(|k| k.group == group && k.version == version && k.plural == plural).map(|k| k.kind)
    }

    /// Finds a kind by its `kind` field value.
    pub fn from_name(name: &str) -> Option<Kind> {
        KINDS.iter().find(|k| k.name == name).map(|k| k.kind)
    }
}

impl KindInfo {
    /// `apiVersion` field value: `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.to_string() } else { format!("{}/{}", self.group, self.version) }
    }

    /// The qualified resource used in error messages: `deployments.apps`, or `pods` in the core group.
    pub fn qualified_resource(&self) -> String {
        if self.group.is_empty() { self.plural.to_string() } else { format!("{}.{}", self.plural, self.group) }
    }

    /// The qualified kind used in validation messages: `Deployment.apps`, or `Pod`.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() { self.name.to_string() } else { format!("{}.{}", self.name, self.group) }
    }

    /// The verbs discovery advertises.
    pub fn verbs(&self) -> &'static [&'static str] {
        VERBS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_found_by_its_path_and_name() {
        for info in KINDS {
            assert_eq!(Kind::from_path(info.group, info.version, info.plural), Some(info.kind));
            assert_eq!(Kind::from_name(info.name), Some(info.kind));
            assert_eq!(info.kind.info().name, info.name);
        }
    }

    #[test]
    fn qualified_names_follow_the_api_server() {
        assert_eq!(Kind::Deployment.info().qualified_resource(), "deployments.apps");
        assert_eq!(Kind::Pod.info().qualified_resource(), "pods");
        assert_eq!(Kind::Deployment.info().qualified_kind(), "Deployment.apps");
        assert_eq!(Kind::Deployment.info().api_version(), "apps/v1");
        assert_eq!(Kind::Event.info().api_version(), "v1");
    }
}
