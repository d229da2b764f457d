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
