//! The patch engine: the four PATCH content types of the Kubernetes API, as pure functions over
//! `serde_json::Value`.
//!
//! - `application/strategic-merge-patch+json` → [`strategic_merge_patch`], what kubectl `set image`,
//!   `rollout restart|pause|resume` and client-side `apply` send;
//! - `application/json-patch+json` → [`json_patch`] (RFC 6902), what kubectl `rollout undo` sends;
//! - `application/merge-patch+json` → [`merge_patch`] (RFC 7386), what kube-rs sends for `Patch::Merge`;
//! - `application/apply-patch+yaml` → [`apply_patch`], server-side apply reduced to a merge.
//!
//! Each follows the library the real API server uses (apimachinery's `strategicpatch`,
//! `evanphx/json-patch` v4) closely enough that a patch the real server accepts gives the same object
//! here, and a patch it rejects is rejected too, with the same HTTP status where the server answers a
//! 4xx (where the library fails with an untyped error, which the real server reports as a 500, this
//! engine answers 400 and names the field).
//!
//! Strategic merge and apply results never contain directives (`$patch`, `$setElementOrder/…`,
//! `$retainKeys`, `$deleteFromPrimitiveList/…`), and strategic, merge and apply patches drop the
//! `null` members of the values they insert. JSON patch values are inserted exactly as sent.
//!
//! What the server does *after* applying a patch is deliberately not here: decoding into the typed
//! object (which drops unknown fields and leftover `null`s), defaulting, validation, `resourceVersion`
//! preconditions, generation bumps and `managedFields` belong to the API server that calls these
//! functions.

use serde_json::Value;

use crate::kinds::Kind;

mod apply;
mod json_patch;
mod merge;
mod schema;
mod strategic;

/// A patch that could not be applied, with the HTTP status and message the real API server answers.
///
/// `code` is 400 for a malformed patch document, 422 for a JSON-patch operation that does not apply
/// (a failed `test`, a path that does not exist) and for lists of lists in a strategic merge, 409
/// where the real server answers Conflict, and 413 for a JSON patch with too many operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("patch rejected with status {code}: {message}")]
pub struct PatchError {
    /// The HTTP status code of the answer.
    pub code: u16,
    /// The message of the `Status` object the server sends.
    pub message: String,
}

impl PatchError {
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self { code: 400, message: message.into() }
    }

    pub(crate) fn unprocessable(message: impl Into<String>) -> Self {
        Self { code: 422, message: message.into() }
    }

    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self { code: 409, message: message.into() }
    }

    pub(crate) fn too_large(message: impl Into<String>) -> Self {
        Self { code: 413, message: message.into() }
    }
}

/// Applies an `application/strategic-merge-patch+json` patch to `original`, with the merge keys and
/// strategies of the built-in type `kind`.
///
/// Maps merge recursively and `null` deletes a key; lists with a merge key merge item by item and
/// primitive lists with the merge strategy (`finalizers`) are unioned; other lists are replaced. The
/// directives `$patch` (`replace`, `delete`), `$setElementOrder/<list>`, `$retainKeys` and
/// `$deleteFromPrimitiveList/<list>` are honoured and never appear in the result. A non-object
/// `original` is treated as `{}`.
///
/// ```
/// use rollout_sandbox::{kinds::Kind, patch::strategic_merge_patch};
/// use serde_json::json;
///
/// let live = json!({"spec": {"template": {"spec": {"containers": [
///     {"name": "web", "image": "repo:tag1"},
///     {"name": "sidecar", "image": "proxy:1"},
/// ]}}}});
/// // What `kubectl set image deployment/web web=repo:tag2` sends.
/// let patch = json!({"spec": {"template": {"spec": {
///     "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
///     "containers": [{"image": "repo:tag2", "name": "web"}],
/// }}}});
/// let patched = strategic_merge_patch(&live, &patch, Kind::Deployment).unwrap();
/// assert_eq!(patched["spec"]["template"]["spec"]["containers"][0]["image"], "repo:tag2");
/// assert_eq!(patched["spec"]["template"]["spec"]["containers"][1]["image"], "proxy:1");
/// ```
pub fn strategic_merge_patch(original: &Value, patch: &Value, kind: Kind) -> Result<Value, PatchError> {
    strategic::apply(original, patch, schema::root(kind))
}

/// Applies an `application/json-patch+json` patch (RFC 6902: `add`, `remove`, `replace`, `move`,
/// `copy`, `test`, with JSON Pointer escapes `~0`, `~1` and the `-` index) to `original`.
///
/// Like the real server's library, it accepts negative array indices counted from the end, and a
/// `replace` of an absent object member adds it.
pub fn json_patch(original: &Value, patch: &Value) -> Result<Value, PatchError> {
    json_patch::apply(original, patch)
}

/// Applies an `application/merge-patch+json` patch (RFC 7386) to `original`.
pub fn merge_patch(original: &Value, patch: &Value) -> Result<Value, PatchError> {
    merge::apply(original, patch)
}

/// Applies an `application/apply-patch+yaml` body (server-side apply) for `kind`.
///
/// Without a `live` object the result is the applied configuration (the object is created). With one,
/// the applied configuration is merged into it: maps merge recursively, lists with a strategic merge
/// key merge item by item on that key (new items are appended), primitive lists with the merge
/// strategy are unioned, other lists and scalars are replaced, fields the configuration omits are
/// kept and fields it sets to `null` are removed. Field ownership is not tracked, so there are no
/// apply conflicts and nothing is removed merely because a manager stopped applying it.
///
/// The body must name the resource's `apiVersion` and `kind`, must not carry `metadata.managedFields`
/// or any `$` directive (400), and must not name a `metadata.uid` when nothing exists yet (409).
pub fn apply_patch(live: Option<&Value>, applied: &Value, kind: Kind) -> Result<Value, PatchError> {
    apply::apply(live, applied, kind)
}

/// A JSON value's type as Go's `encoding/json` names it in its error messages.
fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Extends a dotted field path (`spec.template`) with `key`, for error messages.
fn join_path(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// Removes object members whose value is `null`, at every depth (inside lists too).
///
/// The real server decodes a patched object into its Go type, where an explicit `null` and an absent
/// field are the same thing; the sandbox stores JSON, so values a patch inserts are pruned instead.
fn prune_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(prune_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(prune_nulls),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Map, Value, json};

    use super::*;

    /// Keys that steer generated documents into the schema's merge lists and the directives.
    const KEYS: &[&str] = &[
        "spec",
        "template",
        "metadata",
        "containers",
        "env",
        "ports",
        "name",
        "containerPort",
        "finalizers",
        "labels",
        "status",
        "conditions",
        "type",
        "image",
        "$patch",
        "$retainKeys",
        "$setElementOrder/containers",
        "$setElementOrder/finalizers",
        "$deleteFromPrimitiveList/finalizers",
        "x",
    ];

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-3i64..100).prop_map(Value::from),
            prop::sample::select(vec!["web", "replace", "delete", "merge", "a", "name", "", "/spec", "/a/0", "-"])
                .prop_map(Value::from),
        ]
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![4 => prop::sample::select(KEYS).prop_map(str::to_string), 1 => "[a-z$/~01-]{0,6}"]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        scalar().prop_recursive(4, 48, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::vec((key(), inner), 0..5)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<String, Value>>())),
            ]
        })
    }

    fn json_object() -> impl Strategy<Value = Value> {
        prop::collection::vec((key(), json_value()), 0..6)
            .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<String, Value>>()))
    }

    /// A JSON patch made mostly of well-formed operations over a few paths.
    fn json_patch_document() -> impl Strategy<Value = Value> {
        let op = (
            prop::sample::select(vec!["add", "remove", "replace", "move", "copy", "test", "bogus"]),
            prop::sample::select(vec![
                "",
                "/",
                "/spec",
                "/spec/containers/0",
                "/spec/containers/-",
                "/x/-1",
                "/a~1b",
                "/spec/x/9",
            ]),
            prop::sample::select(vec!["/spec", "/x", "/spec/containers/0", "/nope"]),
            json_value(),
        )
            .prop_map(|(op, path, from, value)| json!({"op": op, "path": path, "from": from, "value": value}));
        prop_oneof![4 => prop::collection::vec(op, 0..5).prop_map(Value::Array), 1 => json_value()]
    }

    /// A Kubernetes-shaped document: maps over a few field names, `containers` and `env` lists of named
    /// items, string `finalizers`; with `directives`, sprinkled with well-formed strategic directives.
    fn shaped_document(directives: bool) -> impl Strategy<Value = Value> {
        const FIELDS: &[&str] = &["spec", "template", "metadata", "containers", "env", "finalizers", "labels", "x"];
        const NAMES: &[&str] = &["a", "b", "c"];
        let leaf = prop_oneof![
            1 => Just(Value::Null),
            3 => prop::sample::select(NAMES).prop_map(Value::from),
            1 => (0i64..3).prop_map(Value::from),
        ];
        let marker = if directives {
            prop::sample::select(vec![None, None, Some("delete"), Some("replace")]).boxed()
        } else {
            Just(None).boxed()
        };
        let item = (prop::sample::select(NAMES), leaf.clone(), marker).prop_map(|(name, image, marker)| {
            let mut item = json!({"name": name, "image": image});
            if let Some(marker) = marker {
                item["$patch"] = json!(marker);
            }
            item
        });
        let names = prop::collection::vec(prop::sample::select(NAMES), 0..4);
        leaf.prop_recursive(4, 64, 5, move |inner| {
            let entry = (prop::sample::select(FIELDS), inner, prop::collection::vec(item.clone(), 0..4), names.clone());
            let map_directives = (
                prop::sample::select(vec![None, None, None, Some("replace"), Some("delete")]),
                any::<bool>(),
                prop::option::of(names.clone()),
                prop::option::of(names.clone()),
            );
            (prop::collection::vec(entry, 0..5), map_directives).prop_map(
                move |(entries, (patch, retain, order, delete))| {
                    let mut map = Map::new();
                    for (field, value, items, names) in entries {
                        let value = match field {
                            "containers" | "env" => Value::Array(items),
                            "finalizers" => json!(names),
                            _ => value,
                        };
                        map.insert(field.to_string(), value);
                    }
                    if directives {
                        if retain {
                            let keys: Vec<String> = map.keys().cloned().collect();
                            map.insert("$retainKeys".into(), json!(keys));
                        }
                        if let Some(order) = order {
                            let order: Vec<Value> = order.iter().map(|n| json!({"name": n})).collect();
                            map.insert("$setElementOrder/containers".into(), Value::Array(order));
                        }
                        if let Some(delete) = delete {
                            map.insert("$deleteFromPrimitiveList/finalizers".into(), json!(delete));
                        }
                        if let Some(patch) = patch {
                            map.insert("$patch".into(), json!(patch));
                        }
                    }
                    Value::Object(map)
                },
            )
        })
    }

    const KINDS: &[Kind] = &[Kind::Pod, Kind::Deployment, Kind::CronJob, Kind::Namespace];

    fn has_dollar_key(value: &Value) -> bool {
        match value {
            Value::Object(map) => map.iter().any(|(k, v)| k.starts_with('$') || has_dollar_key(v)),
            Value::Array(items) => items.iter().any(has_dollar_key),
            _ => false,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn no_patch_function_panics_on_arbitrary_documents(
            original in json_value(),
            patch in json_value(),
            kind in prop::sample::select(KINDS),
        ) {
            let _ = strategic_merge_patch(&original, &patch, kind);
            let _ = json_patch(&original, &patch);
            let _ = merge_patch(&original, &patch);
            let _ = apply_patch(Some(&original), &patch, kind);
            let _ = apply_patch(None, &patch, kind);
        }

        #[test]
        fn json_patch_never_panics_on_generated_operations(original in json_object(), patch in json_patch_document()) {
            let _ = json_patch(&original, &patch);
        }

        #[test]
        fn strategic_merge_leaves_no_directive_in_its_result(
            original in shaped_document(false),
            patch in shaped_document(true),
            kind in prop::sample::select(KINDS),
        ) {
            if let Ok(result) = strategic_merge_patch(&original, &patch, kind) {
                prop_assert!(!has_dollar_key(&result), "{result}");
            }
        }

        #[test]
        fn strategic_merge_never_panics_on_shaped_documents(
            original in shaped_document(true),
            patch in shaped_document(true),
        ) {
            let _ = strategic_merge_patch(&original, &patch, Kind::Pod);
        }

        #[test]
        fn merge_patch_is_idempotent(original in json_value(), patch in json_object()) {
            let once = merge_patch(&original, &patch).unwrap();
            let twice = merge_patch(&once, &patch).unwrap();
            prop_assert_eq!(once, twice);
        }

        #[test]
        fn strategic_merge_of_an_empty_patch_is_the_identity(
            original in json_object(),
            kind in prop::sample::select(KINDS),
        ) {
            prop_assert_eq!(strategic_merge_patch(&original, &json!({}), kind).unwrap(), original);
        }
    }
}
