//! Pure: a Deployment's revisions as `kubectl rollout history` finds them, the health marks rollout
//! records on ReplicaSets, and the choice of a rollback target.

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::workload::{
    CHANGE_CAUSE_ANNOTATION, ContainerImage, POD_TEMPLATE_HASH, WorkloadRef, is_controlled_by, new_replica_set,
    pod_images, replica_set_revision,
};

/// The prefix of the annotation rollout writes on a ReplicaSet whose rollout it saw succeed.
///
/// The full key is `rollout.dev/healthy.<pod-template-hash>` and its value
/// `{"replicaSet":"<name>","at":"<RFC 3339 time>"}`. It goes on the ReplicaSet, not on the Deployment,
/// because the Deployment controller copies a Deployment's annotations onto every new ReplicaSet
/// (and keeps overwriting them there), and `kubectl rollout undo` copies a ReplicaSet's annotations
/// onto the Deployment. The hash in the key and the name in the value make any such copy harmless:
/// a mark counts only on the ReplicaSet whose hash label and name it carries.
pub const HEALTHY_ANNOTATION_PREFIX: &str = "rollout.dev/healthy.";

/// The health mark to write on a ReplicaSet: `(key, value)`; `None` without a template hash.
pub(crate) fn healthy_annotation(rs_name: &str, hash: Option<&str>, at: Timestamp) -> Option<(String, String)> {
    let hash = hash.filter(|h| !h.is_empty())?;
    let value = serde_json::json!({"replicaSet": rs_name, "at": at.to_string()}).to_string();
    Some((format!("{HEALTHY_ANNOTATION_PREFIX}{hash}"), value))
}

/// When a ReplicaSet was recorded healthy, if it carries its own mark (not a copy made for another).
pub fn healthy_at(rs: &ReplicaSet) -> Option<Timestamp> {
    let hash = rs.metadata.labels.as_ref()?.get(POD_TEMPLATE_HASH)?;
    let value = rs.metadata.annotations.as_ref()?.get(&format!("{HEALTHY_ANNOTATION_PREFIX}{hash}"))?;
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Mark {
        replica_set: String,
        at: Timestamp,
    }
    let mark: Mark = serde_json::from_str(value).ok()?;
    (Some(&mark.replica_set) == rs.metadata.name.as_ref()).then_some(mark.at)
}

/// One revision of a Deployment: a ReplicaSet it controls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revision {
    /// The revision number (`deployment.kubernetes.io/revision` of the ReplicaSet).
    pub revision: i64,
    /// The ReplicaSet's name.
    pub replica_set: String,
    /// The ReplicaSet's `kubernetes.io/change-cause`, as `kubectl rollout history` shows it.
    pub change_cause: Option<String>,
    /// The images of its template.
    pub images: Vec<ContainerImage>,
    /// When the ReplicaSet was created.
    pub created_at: Option<Timestamp>,
    /// Whether its template is the Deployment's current one.
    pub current: bool,
    /// When rollout recorded it healthy, if it did.
    pub healthy_at: Option<Timestamp>,
    /// Its pods (`status.replicas`).
    pub replicas: i32,
}

/// The revisions of a Deployment, oldest first, each with its ReplicaSet, as kubectl finds them:
/// ReplicaSets controlled by the Deployment's uid, with a revision annotation that parses (a missing
/// one reads as 0).
pub(crate) fn revisions<'a>(
    deployment: &Deployment,
    replica_sets: &'a [ReplicaSet],
) -> Vec<(Revision, &'a ReplicaSet)> {
    let Some(uid) = deployment.metadata.uid.as_deref() else { return Vec::new() };
    let current = new_replica_set(deployment, replica_sets).and_then(|rs| rs.metadata.uid.clone());
    let mut out: Vec<(Revision, &ReplicaSet)> = replica_sets
        .iter()
        .filter(|rs| is_controlled_by(&rs.metadata, uid))
        .filter_map(|rs| {
            let revision = replica_set_revision(rs)?;
            let template = rs.spec.as_ref().and_then(|s| s.template.as_ref());
            Some((
                Revision {
                    revision,
                    replica_set: rs.metadata.name.clone().unwrap_or_default(),
                    change_cause: rs
                        .metadata
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get(CHANGE_CAUSE_ANNOTATION))
                        .cloned(),
                    images: pod_images(template.and_then(|t| t.spec.as_ref())),
                    created_at: rs.metadata.creation_timestamp.as_ref().map(|t| t.0),
                    current: current.is_some() && rs.metadata.uid == current,
                    healthy_at: healthy_at(rs),
                    replicas: rs.status.as_ref().map_or(0, |s| s.replicas),
                },
                rs,
            ))
        })
        .collect();
    out.sort_by(|(a, _), (b, _)| (a.revision, &a.replica_set).cmp(&(b.revision, &b.replica_set)));
    out
}

/// Where a rollback goes.
///
/// In JSON: `{"to": "last_known_good"}`, `{"to": "previous"}`, `{"to": "revision", "revision": 3}`,
/// `{"to": "tag", "tag": "latest-release-1.0.0"}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum RollbackTo {
    /// The newest revision before the current one that rollout recorded healthy; without one, the
    /// previous revision. The default.
    #[default]
    LastKnownGood,
    /// The previous revision, as `kubectl rollout undo` picks it: the second-highest revision number.
    Previous,
    /// A given revision, as `kubectl rollout undo --to-revision=N`.
    Revision {
        /// The revision number.
        revision: i64,
    },
    /// The newest revision whose template uses an image with this tag.
    Tag {
        /// The tag.
        tag: String,
    },
}

impl std::fmt::Display for RollbackTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RollbackTo::LastKnownGood => f.write_str("the last known good revision"),
            RollbackTo::Previous => f.write_str("the previous revision"),
            RollbackTo::Revision { revision } => write!(f, "revision {revision}"),
            RollbackTo::Tag { tag } => write!(f, "the newest revision with tag {tag:?}"),
        }
    }
}

/// The tag of an image reference (`repo:tag`, `repo:tag@sha256:…`), if it has one.
pub(crate) fn image_tag(image: &str) -> Option<&str> {
    let without_digest = image.split_once('@').map_or(image, |(name, _)| name);
    let last_part = without_digest.rsplit_once('/').map_or(without_digest, |(_, last)| last);
    last_part.split_once(':').map(|(_, tag)| tag)
}

/// Picks the revision a rollback goes to, among `history` (oldest first, as [`revisions`] gives it).
pub fn select_target<'a>(history: &'a [Revision], to: &RollbackTo, workload: &WorkloadRef) -> Result<&'a Revision> {
    let available = || history.iter().map(|r| r.revision).collect::<Vec<_>>();
    let not_found = |reason: String| Error::RevisionNotFound {
        workload: Box::new(workload.clone()),
        reason,
        available: available(),
    };
    // kubectl: the second-highest revision.
    let previous = || {
        let mut numbers: Vec<&Revision> = history.iter().collect();
        numbers.sort_by_key(|r| std::cmp::Reverse(r.revision));
        numbers
            .get(1)
            .copied()
            .ok_or_else(|| not_found(format!("no rollout history found for deployment {:?}", workload.name)))
    };
    match to {
        RollbackTo::Previous => previous(),
        RollbackTo::Revision { revision } if *revision < 0 => {
            Err(not_found(format!("unable to find specified revision {revision} in history")))
        }
        RollbackTo::Revision { revision: 0 } => previous(),
        RollbackTo::Revision { revision } => history
            .iter()
            .find(|r| r.revision == *revision)
            .ok_or_else(|| not_found(format!("unable to find specified revision {revision} in history"))),
        RollbackTo::Tag { tag } => history
            .iter()
            .filter(|r| r.images.iter().any(|c| image_tag(&c.image) == Some(tag.as_str())))
            .max_by_key(|r| r.revision)
            .ok_or_else(|| not_found(format!("no revision uses an image with tag {tag:?}"))),
        RollbackTo::LastKnownGood => {
            let reference = history
                .iter()
                .find(|r| r.current)
                .or_else(|| history.iter().max_by_key(|r| r.revision))
                .map(|r| r.revision);
            let healthy = history
                .iter()
                .filter(|r| r.healthy_at.is_some() && reference.is_some_and(|cur| r.revision < cur))
                .max_by_key(|r| r.revision);
            match healthy {
                Some(r) => Ok(r),
                None => previous(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment(image: &str) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "uid": "d-1"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "app", "image": image}]}}}
        }))
        .unwrap()
    }

    fn rs(hash: &str, revision: &str, image: &str, healthy: Option<&str>) -> ReplicaSet {
        let name = format!("web-{hash}");
        let mut annotations = json!({"deployment.kubernetes.io/revision": revision,
                                     "kubernetes.io/change-cause": format!("rollout: app={image}")});
        if let Some(mark_for) = healthy {
            annotations[format!("rollout.dev/healthy.{hash}")] =
                json!(json!({"replicaSet": mark_for, "at": "2025-01-01T00:00:00Z"}).to_string());
        }
        serde_json::from_value(json!({
            "metadata": {"name": name, "uid": format!("uid-{hash}"), "creationTimestamp": "2025-01-01T00:00:00Z",
                         "labels": {"app": "web", "pod-template-hash": hash}, "annotations": annotations,
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                              "uid": "d-1", "controller": true}]},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web", "pod-template-hash": hash}},
                                  "spec": {"containers": [{"name": "app", "image": image}]}}}
        }))
        .unwrap()
    }

    fn history(current_image: &str, sets: &[ReplicaSet]) -> Vec<Revision> {
        revisions(&deployment(current_image), sets).into_iter().map(|(r, _)| r).collect()
    }

    fn pick(history: &[Revision], to: RollbackTo) -> Result<i64> {
        select_target(history, &to, &WorkloadRef::deployment("shop", "web")).map(|r| r.revision)
    }

    #[test]
    fn revisions_are_sorted_and_carry_change_cause_images_and_health() {
        let sets = [
            rs("c", "3", "app:1.2.0", None),
            rs("a", "1", "app:1.0.0", Some("web-a")),
            rs("b", "2", "app:1.1.0", Some("web-a")),
            rs("x", "oops", "app:0.9.0", None),
        ];
        let h = history("app:1.2.0", &sets);
        assert_eq!(h.iter().map(|r| r.revision).collect::<Vec<_>>(), [1, 2, 3], "unparsable revisions are skipped");
        assert_eq!(h[0].change_cause.as_deref(), Some("rollout: app=app:1.0.0"));
        assert!(h[0].healthy_at.is_some());
        assert!(h[1].healthy_at.is_none(), "a mark copied from web-a does not count for web-b");
        assert!(h[2].current && !h[1].current);
        assert_eq!(h[2].images[0].image, "app:1.2.0");
    }

    #[test]
    fn rollback_targets_are_chosen_like_kubectl_and_by_health() {
        let sets = [
            rs("a", "1", "app:1.0.0", Some("web-a")),
            rs("b", "2", "app:1.1.0", None),
            rs("c", "3", "app:1.2.0", None),
        ];
        let h = history("app:1.2.0", &sets);
        let cases = [
            (RollbackTo::Previous, Ok(2)),
            (RollbackTo::Revision { revision: 0 }, Ok(2)),
            (RollbackTo::Revision { revision: 1 }, Ok(1)),
            (RollbackTo::Tag { tag: "1.1.0".into() }, Ok(2)),
            (RollbackTo::LastKnownGood, Ok(1)),
            (RollbackTo::Revision { revision: 7 }, Err("unable to find specified revision 7 in history")),
            (RollbackTo::Revision { revision: -1 }, Err("unable to find specified revision -1 in history")),
            (RollbackTo::Tag { tag: "9.9.9".into() }, Err("no revision uses an image with tag \"9.9.9\"")),
        ];
        for (to, expected) in cases {
            match (pick(&h, to.clone()), expected) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{to:?}"),
                (Err(Error::RevisionNotFound { reason, available, .. }), Err(want)) => {
                    assert_eq!(reason, want);
                    assert_eq!(available, [1, 2, 3]);
                }
                (got, want) => panic!("{to:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn last_known_good_falls_back_to_the_previous_revision_and_ignores_later_marks() {
        let unmarked = [rs("a", "1", "app:1", None), rs("b", "2", "app:2", None), rs("c", "3", "app:3", None)];
        assert_eq!(pick(&history("app:3", &unmarked), RollbackTo::LastKnownGood).unwrap(), 2);
        // The current revision is 2 (rolled back to, not yet renumbered): a healthy 3 is not "earlier".
        let marked_later =
            [rs("a", "1", "app:1", Some("web-a")), rs("b", "2", "app:2", None), rs("c", "3", "app:3", Some("web-c"))];
        assert_eq!(pick(&history("app:2", &marked_later), RollbackTo::LastKnownGood).unwrap(), 1);
        let single = [rs("a", "1", "app:1", Some("web-a"))];
        let err = pick(&history("app:1", &single), RollbackTo::LastKnownGood).unwrap_err().to_string();
        assert_eq!(
            err,
            "no rollout history found for deployment \"web\" (shop/deployment/web: the revisions there are 1)"
        );
    }

    #[test]
    fn health_marks_name_their_replica_set() {
        let at: Timestamp = "2025-02-03T04:05:06Z".parse().unwrap();
        let (key, value) = healthy_annotation("web-abc", Some("abc"), at).unwrap();
        assert_eq!(key, "rollout.dev/healthy.abc");
        assert_eq!(value, r#"{"at":"2025-02-03T04:05:06Z","replicaSet":"web-abc"}"#);
        assert!(healthy_annotation("web", None, at).is_none());
        let mut marked = rs("abc", "1", "app:1", None);
        marked.metadata.annotations.as_mut().unwrap().insert(key, value);
        assert_eq!(healthy_at(&marked), Some(at));
        let mut garbled = rs("abc", "1", "app:1", None);
        garbled.metadata.annotations.as_mut().unwrap().insert("rollout.dev/healthy.abc".into(), "yes".into());
        assert_eq!(healthy_at(&garbled), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        #[test]
        fn health_marks_and_image_tags_never_panic(value in ".{0,80}", image in ".{0,80}") {
            let mut marked = rs("abc", "1", "app:1", None);
            marked.metadata.annotations.as_mut().unwrap().insert("rollout.dev/healthy.abc".into(), value);
            let _ = healthy_at(&marked);
            let _ = image_tag(&image);
        }
    }

    #[test]
    fn image_tags_are_read_after_the_last_path_component() {
        assert_eq!(image_tag("repo/app:1.0"), Some("1.0"));
        assert_eq!(image_tag("localhost:5000/app"), None);
        assert_eq!(image_tag("localhost:5000/app:2@sha256:abc"), Some("2"));
        assert_eq!(image_tag("app"), None);
    }
}
