//! The strategic-merge schema of the kinds the sandbox serves: which list fields merge, and by which key.
//!
//! The real API server reads this from the `patchStrategy` and `patchMergeKey` struct tags of the Go
//! types in `k8s.io/api` (core/v1, apps/v1, batch/v1) and `k8s.io/apimachinery` (meta/v1 ObjectMeta).
//! This table copies those tags for the fields reachable from the sandbox's kinds, as they stand in
//! Kubernetes 1.33. A type is a list of its tagged fields, each pointing at the type it holds, so the
//! same `PodSpec` table serves a Pod's `.spec`, a Deployment's `.spec.template.spec` and a CronJob's
//! `.spec.jobTemplate.spec.template.spec`.
//!
//! Fields not listed behave as untagged Go fields: maps merge recursively (no built-in type of these
//! kinds has `patchStrategy:"replace"` on a map) and lists are replaced wholesale. That covers, among
//! others, `tolerations`, a container's `resizePolicy` and `args`, pod `status.containerStatuses`,
//! CronJob `status.active` and Namespace `spec.finalizers`, which carry no tag. The `retainKeys`
//! strategy (Deployment `spec.strategy`, pod `volumes`) only shapes the patches clients compute; applying a
//! patch honours a `$retainKeys` directive wherever it appears, so it needs no entry here.
//!
//! Alpha fields newer than 1.33 (pod `evictionResponders`, Job `schedulingConfiguration.resourceClaims`,
//! pod status `nodeAllocatableResourceClaimStatuses`) are deliberately left out.

use crate::kinds::Kind;

/// How a list field merges under a strategic merge patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListStrategy {
    /// No `patchStrategy` tag: the patch's list replaces the live one.
    Replace,
    /// `patchStrategy:"merge"`: lists of maps merge item by item on `key` (`patchMergeKey`), lists of
    /// primitives (`finalizers`) are unioned.
    Merge {
        /// The `patchMergeKey`, absent for lists of primitives.
        key: Option<&'static str>,
    },
}

/// A Go struct type, reduced to its fields that matter to a strategic merge.
#[derive(Debug)]
pub(crate) struct Schema {
    fields: &'static [Field],
}

/// One field of a [`Schema`].
#[derive(Debug)]
struct Field {
    name: &'static str,
    strategy: ListStrategy,
    /// The type the field holds: for a list, the type of its items.
    schema: &'static Schema,
}

/// What a strategic merge needs to know about one field.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldMeta {
    /// How the field merges when it is a list.
    pub strategy: ListStrategy,
    /// The type the field holds (for a list, the type of its items).
    pub schema: &'static Schema,
}

impl FieldMeta {
    /// The merge key, when the field is a list of maps that merges item by item.
    pub fn merge_key(self) -> Option<&'static str> {
        match self.strategy {
            ListStrategy::Merge { key } => key,
            ListStrategy::Replace => None,
        }
    }
}

impl Schema {
    /// The merge behaviour of `name`; untagged and unknown fields replace lists and hold an opaque type.
    pub fn field(&'static self, name: &str) -> FieldMeta {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| FieldMeta { strategy: f.strategy, schema: f.schema })
            .unwrap_or(FieldMeta { strategy: ListStrategy::Replace, schema: &OPAQUE })
    }
}

/// The schema of a top-level object of `kind`.
pub(crate) fn root(kind: Kind) -> &'static Schema {
    match kind {
        Kind::Pod => &POD,
        Kind::Deployment | Kind::ReplicaSet | Kind::StatefulSet | Kind::DaemonSet | Kind::Job => &WORKLOAD,
        Kind::CronJob => &CRON_JOB,
        Kind::Namespace => &NAMESPACE,
        Kind::Event => &EVENT,
    }
}

/// A type with no tagged fields (or one the table does not describe).
pub(crate) static OPAQUE: Schema = Schema { fields: &[] };

const fn merge_by(name: &'static str, key: &'static str, schema: &'static Schema) -> Field {
    Field { name, strategy: ListStrategy::Merge { key: Some(key) }, schema }
}

const fn merge_primitives(name: &'static str) -> Field {
    Field { name, strategy: ListStrategy::Merge { key: None }, schema: &OPAQUE }
}

const fn holds(name: &'static str, schema: &'static Schema) -> Field {
    Field { name, strategy: ListStrategy::Replace, schema }
}

/// meta/v1 ObjectMeta.
static OBJECT_META: Schema =
    Schema { fields: &[merge_by("ownerReferences", "uid", &OPAQUE), merge_primitives("finalizers")] };

/// core/v1 Container; EphemeralContainer inlines the same tagged fields (EphemeralContainerCommon).
static CONTAINER: Schema = Schema {
    fields: &[
        merge_by("ports", "containerPort", &OPAQUE),
        merge_by("env", "name", &OPAQUE),
        merge_by("volumeMounts", "mountPath", &OPAQUE),
        merge_by("volumeDevices", "devicePath", &OPAQUE),
    ],
};

/// core/v1 PodSpec.
static POD_SPEC: Schema = Schema {
    fields: &[
        merge_by("volumes", "name", &OPAQUE),
        merge_by("initContainers", "name", &CONTAINER),
        merge_by("containers", "name", &CONTAINER),
        merge_by("ephemeralContainers", "name", &CONTAINER),
        merge_by("imagePullSecrets", "name", &OPAQUE),
        merge_by("hostAliases", "ip", &OPAQUE),
        merge_by("topologySpreadConstraints", "topologyKey", &OPAQUE),
        merge_by("schedulingGates", "name", &OPAQUE),
        merge_by("resourceClaims", "name", &OPAQUE),
    ],
};

/// core/v1 PodStatus.
static POD_STATUS: Schema = Schema {
    fields: &[
        merge_by("conditions", "type", &OPAQUE),
        merge_by("hostIPs", "ip", &OPAQUE),
        merge_by("podIPs", "ip", &OPAQUE),
        merge_by("resourceClaimStatuses", "name", &OPAQUE),
    ],
};

/// core/v1 PodTemplateSpec.
static POD_TEMPLATE_SPEC: Schema = Schema { fields: &[holds("metadata", &OBJECT_META), holds("spec", &POD_SPEC)] };

/// The spec of a Deployment, ReplicaSet, StatefulSet, DaemonSet or Job: only its pod template has
/// tagged fields.
static WORKLOAD_SPEC: Schema = Schema { fields: &[holds("template", &POD_TEMPLATE_SPEC)] };

/// A status whose only tagged field is `conditions`, merged by `type`: Deployment, ReplicaSet,
/// StatefulSet, DaemonSet, Job and Namespace statuses.
static CONDITIONS_STATUS: Schema = Schema { fields: &[merge_by("conditions", "type", &OPAQUE)] };

/// batch/v1 JobTemplateSpec.
static JOB_TEMPLATE_SPEC: Schema = Schema { fields: &[holds("metadata", &OBJECT_META), holds("spec", &WORKLOAD_SPEC)] };

/// batch/v1 CronJobSpec.
static CRON_JOB_SPEC: Schema = Schema { fields: &[holds("jobTemplate", &JOB_TEMPLATE_SPEC)] };

static POD: Schema =
    Schema { fields: &[holds("metadata", &OBJECT_META), holds("spec", &POD_SPEC), holds("status", &POD_STATUS)] };

static WORKLOAD: Schema = Schema {
    fields: &[holds("metadata", &OBJECT_META), holds("spec", &WORKLOAD_SPEC), holds("status", &CONDITIONS_STATUS)],
};

static CRON_JOB: Schema = Schema { fields: &[holds("metadata", &OBJECT_META), holds("spec", &CRON_JOB_SPEC)] };

static NAMESPACE: Schema = Schema { fields: &[holds("metadata", &OBJECT_META), holds("status", &CONDITIONS_STATUS)] };

static EVENT: Schema = Schema { fields: &[holds("metadata", &OBJECT_META)] };

#[cfg(test)]
mod tests {
    use super::*;

    /// Follows a dotted path of field names from a kind's root; `[]` steps into list items.
    fn lookup(kind: Kind, path: &str) -> FieldMeta {
        let mut schema = root(kind);
        let mut meta = FieldMeta { strategy: ListStrategy::Replace, schema };
        for name in path.split('.') {
            meta = schema.field(name);
            schema = meta.schema;
        }
        meta
    }

    #[test]
    fn merge_keys_follow_the_kubernetes_struct_tags_at_every_position_of_a_pod_spec() {
        let cases: &[(Kind, &str, Option<&str>)] = &[
            (Kind::Pod, "spec.containers", Some("name")),
            (Kind::Deployment, "spec.template.spec.containers", Some("name")),
            (Kind::ReplicaSet, "spec.template.spec.initContainers", Some("name")),
            (Kind::StatefulSet, "spec.template.spec.volumes", Some("name")),
            (Kind::DaemonSet, "spec.template.spec.imagePullSecrets", Some("name")),
            (Kind::Job, "spec.template.spec.hostAliases", Some("ip")),
            (Kind::CronJob, "spec.jobTemplate.spec.template.spec.containers", Some("name")),
            (Kind::CronJob, "spec.jobTemplate.spec.template.spec.containers.env", Some("name")),
            (Kind::Deployment, "spec.template.spec.containers.ports", Some("containerPort")),
            (Kind::Deployment, "spec.template.spec.containers.volumeMounts", Some("mountPath")),
            (Kind::Deployment, "spec.template.spec.containers.volumeDevices", Some("devicePath")),
            (Kind::Deployment, "spec.template.spec.ephemeralContainers.env", Some("name")),
            (Kind::Deployment, "spec.template.spec.topologySpreadConstraints", Some("topologyKey")),
            (Kind::Deployment, "spec.template.spec.schedulingGates", Some("name")),
            (Kind::Deployment, "spec.template.spec.resourceClaims", Some("name")),
            (Kind::Deployment, "spec.template.metadata.ownerReferences", Some("uid")),
            (Kind::Deployment, "metadata.ownerReferences", Some("uid")),
            (Kind::Deployment, "status.conditions", Some("type")),
            (Kind::Pod, "status.conditions", Some("type")),
            (Kind::Pod, "status.podIPs", Some("ip")),
            (Kind::Namespace, "status.conditions", Some("type")),
            (Kind::Deployment, "spec.template.spec.tolerations", None),
            (Kind::Deployment, "spec.template.spec.containers.resizePolicy", None),
            (Kind::Deployment, "spec.template.spec.containers.args", None),
            (Kind::Pod, "status.containerStatuses", None),
            (Kind::Pod, "spec.template.spec.containers", None),
        ];
        for &(kind, path, key) in cases {
            assert_eq!(lookup(kind, path).merge_key(), key, "{kind:?} {path}");
        }
    }

    #[test]
    fn finalizers_merge_as_primitives_and_tolerations_are_replaced() {
        assert_eq!(lookup(Kind::Pod, "metadata.finalizers").strategy, ListStrategy::Merge { key: None });
        assert_eq!(lookup(Kind::Pod, "spec.tolerations").strategy, ListStrategy::Replace);
        assert_eq!(lookup(Kind::Namespace, "spec.finalizers").strategy, ListStrategy::Replace);
    }
}
