//! JSON merge patch application (RFC 7386), as the API server applies `application/merge-patch+json`.
//!
//! Objects merge recursively, `null` removes a member, and any other value (lists included) replaces
//! the target. Values the patch inserts lose their `null` members at every depth, lists included;
//! the real server gets the same effect by decoding the result into its Go type, and pruning them the
//! same way everywhere keeps the patch idempotent. The top-level patch must be an object: the server
//! rejects `null` and scalars with `Invalid JSON Patch`, and a list could never decode into an object.

use serde_json::Value;

use super::{PatchError, prune_nulls};

/// Applies `patch` to a copy of `original`; a non-object `original` is treated as `{}`.
pub(super) fn apply(original: &Value, patch: &Value) -> Result<Value, PatchError> {
    if !patch.is_object() {
        return Err(PatchError::bad_request("Invalid JSON Patch"));
    }
    let mut target = if original.is_object() { original.clone() } else { Value::Object(Default::default()) };
    merge(&mut target, patch);
    Ok(target)
}

/// RFC 7386 `MergePatch(target, patch)`, in place.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        let mut replacement = patch.clone();
        prune_nulls(&mut replacement);
        *target = replacement;
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let Value::Object(map) = target else { return };
    for (key, value) in patch {
        if value.is_null() {
            map.remove(key);
        } else {
            merge(map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_replaces_a_containers_list_wholesale() {
        let deploy = json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [
            {"name": "web", "image": "repo:tag1", "ports": [{"containerPort": 8443}]},
            {"name": "sidecar", "image": "proxy:1"},
        ]}}}});
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "repo:tag2"}]}}}});
        let out = apply(&deploy, &patch).unwrap();
        assert_eq!(out["spec"]["template"]["spec"]["containers"], json!([{"name": "web", "image": "repo:tag2"}]));
        assert_eq!(out["spec"]["replicas"], 2);
    }

    #[test]
    fn null_removes_members_and_new_objects_lose_their_nulls() {
        let out = apply(
            &json!({"metadata": {"labels": {"app": "web", "tier": "front"}}}),
            &json!({"metadata": {"labels": {"tier": null}, "annotations": {"a": "1", "b": null}}}),
        )
        .unwrap();
        assert_eq!(out, json!({"metadata": {"labels": {"app": "web"}, "annotations": {"a": "1"}}}));
    }

    #[test]
    fn kube_rs_restart_annotation_is_added_to_the_template() {
        let out = apply(
            &json!({"spec": {"template": {"metadata": {"labels": {"app": "web"}}}}}),
            &json!({"spec": {"template": {"metadata": {"annotations": {
                "kube.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"
            }}}}}),
        )
        .unwrap();
        assert_eq!(out["spec"]["template"]["metadata"]["labels"]["app"], "web");
        assert_eq!(
            out["spec"]["template"]["metadata"]["annotations"]["kube.kubernetes.io/restartedAt"],
            "2025-01-01T00:00:00Z"
        );
    }

    #[test]
    fn rfc_7386_appendix_a_examples_hold() {
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "b"}), json!({"b": "c"}), json!({"a": "b", "b": "c"})),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (json!({"a": "b", "b": "c"}), json!({"a": null}), json!({"b": "c"})),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (json!({"a": {"b": "c"}}), json!({"a": {"b": "d", "c": null}}), json!({"a": {"b": "d"}})),
            (json!({"a": [{"b": "c"}]}), json!({"a": [1]}), json!({"a": [1]})),
            (json!({"e": null}), json!({"a": 1}), json!({"e": null, "a": 1})),
            (json!({}), json!({"a": {"bb": {"ccc": null}}}), json!({"a": {"bb": {}}})),
        ];
        for (original, patch, expected) in cases {
            assert_eq!(apply(&original, &patch).unwrap(), expected, "{original} + {patch}");
        }
    }

    #[test]
    fn non_object_patches_are_bad_requests() {
        for patch in [json!(null), json!(3), json!("x"), json!([1])] {
            let err = apply(&json!({}), &patch).unwrap_err();
            assert_eq!((err.code, err.message.as_str()), (400, "Invalid JSON Patch"), "{patch}");
        }
    }
}
