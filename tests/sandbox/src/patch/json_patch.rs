//! JSON patch application (RFC 6902), following `evanphx/json-patch` v4, the library the Kubernetes
//! API server applies `application/json-patch+json` with, including its departures from the RFC and
//! its error texts.
//!
//! Departures kept on purpose, because clients that work against a real cluster rely on them:
//! - `replace` of an absent object member adds it (kubectl `rollout undo` replaces
//!   `/metadata/annotations`, which a Deployment may not have);
//! - array indices may be negative, counted from the end (`-1` is the last item, or for `add` the
//!   slot after it);
//! - `test` of an absent member succeeds when the expected value is `null`;
//! - an operation without `value` uses `null`.
//!
//! A document that is not an array of objects is a 400; an operation that does not apply is a 422,
//! with the library's message (`testing value /metadata/resourceVersion failed: test failed`).

use serde_json::{Map, Value};

use super::{PatchError, json_type_name};

/// The most operations one patch may hold, as the API server limits it.
const MAX_OPERATIONS: usize = 10_000;

type Result<T> = std::result::Result<T, PatchError>;

/// Applies `patch` (a JSON array of operations) to a copy of `original`.
pub(super) fn apply(original: &Value, patch: &Value) -> Result<Value> {
    let Value::Array(operations) = patch else {
        return Err(PatchError::bad_request(format!(
            "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
            json_type_name(patch)
        )));
    };
    let operations = operations
        .iter()
        .map(|op| match op {
            Value::Object(op) => Ok(op),
            other => Err(PatchError::bad_request(format!(
                "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
                json_type_name(other)
            ))),
        })
        .collect::<Result<Vec<_>>>()?;
    if operations.len() > MAX_OPERATIONS {
        return Err(PatchError::too_large(format!(
            "The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {}",
            operations.len()
        )));
    }
    let mut doc = original.clone();
    for op in operations {
        apply_operation(&mut doc, op).map_err(PatchError::unprocessable)?;
    }
    Ok(doc)
}

/// Applies one operation; the error is the library's message.
fn apply_operation(doc: &mut Value, op: &Map<String, Value>) -> std::result::Result<(), String> {
    let kind = op.get("op").and_then(Value::as_str).unwrap_or("unknown");
    match kind {
        "add" => {
            let path = string_field(op, "path").map_err(|_| "add operation failed to decode path: missing value")?;
            let (container, key) = find_container(doc, &path).ok_or_else(|| {
                format!("add operation does not apply: doc is missing path: \"{path}\": missing value")
            })?;
            add(container, &key, value(op)).map_err(|e| format!("error in add for path: '{path}': {e}"))
        }
        "remove" => {
            let path = string_field(op, "path").map_err(|_| "remove operation failed to decode path: missing value")?;
            let (container, key) = find_container(doc, &path).ok_or_else(|| {
                format!("remove operation does not apply: doc is missing path: \"{path}\": missing value")
            })?;
            remove(container, &key).map(drop).map_err(|e| format!("error in remove for path: '{path}': {e}"))
        }
        "replace" => {
            let path = string_field(op, "path").map_err(|e| format!("replace operation failed to decode path: {e}"))?;
            let new = value(op);
            if path.is_empty() {
                if !new.is_object() && !new.is_array() {
                    return Err("replace operation value must be object or array".to_string());
                }
                *doc = new;
                return Ok(());
            }
            let (container, key) = find_container(doc, &path).ok_or_else(|| {
                format!("replace operation does not apply: doc is missing path: {path}: missing value")
            })?;
            match container {
                // The library's object lookup never fails, so an absent member is added.
                Value::Object(map) => {
                    map.insert(key, new);
                    Ok(())
                }
                Value::Array(items) => {
                    let at = existing_index(&key, items.len()).map_err(|_| {
                        format!("replace operation does not apply: doc is missing key: {path}: missing value")
                    })?;
                    items[at] = new;
                    Ok(())
                }
                _ => Err(format!("replace operation does not apply: doc is missing path: {path}: missing value")),
            }
        }
        "move" => {
            let from = string_field(op, "from").map_err(|e| format!("move operation failed to decode from: {e}"))?;
            let (container, key) = find_container(doc, &from).ok_or_else(|| {
                format!("move operation does not apply: doc is missing from path: {from}: missing value")
            })?;
            let moved = remove(container, &key).map_err(|e| format!("error in move for path: '{key}': {e}"))?;
            let path = string_field(op, "path").map_err(|e| format!("move operation failed to decode path: {e}"))?;
            let (container, key) = find_container(doc, &path).ok_or_else(|| {
                format!("move operation does not apply: doc is missing destination path: {path}: missing value")
            })?;
            add(container, &key, moved).map_err(|e| format!("error in move for path: '{path}': {e}"))
        }
        "copy" => {
            let from = string_field(op, "from").map_err(|e| format!("copy operation failed to decode from: {e}"))?;
            let (container, key) = find_container(doc, &from).ok_or_else(|| {
                format!("copy operation does not apply: doc is missing from path: {from}: missing value")
            })?;
            let copied = get(container, &key)
                .map_err(|e| format!("error in copy for from: '{from}': {e}"))?
                .cloned()
                .ok_or_else(|| {
                format!("copy operation does not apply: doc is missing from path: {from}: missing value")
            })?;
            let path = string_field(op, "path").map_err(|_| "copy operation failed to decode path: missing value")?;
            let (container, key) = find_container(doc, &path).ok_or_else(|| {
                format!("copy operation does not apply: doc is missing destination path: {path}: missing value")
            })?;
            add(container, &key, copied).map_err(|e| format!("error while adding value during copy: {e}"))
        }
        "test" => {
            let path = string_field(op, "path").map_err(|e| format!("test operation failed to decode path: {e}"))?;
            let expected = value(op);
            let failed = || format!("testing value {path} failed: test failed");
            if path.is_empty() {
                return if *doc == expected { Ok(()) } else { Err(failed()) };
            }
            let (container, key) = find_container(doc, &path)
                .ok_or_else(|| format!("test operation does not apply: is missing path: {path}: missing value"))?;
            let actual = get(container, &key).map_err(|e| format!("error in test for path: '{path}': {e}"))?;
            // The library cannot tell an absent member from a null one, and treats both as null.
            let matches = match actual {
                None | Some(Value::Null) => expected.is_null(),
                Some(actual) => *actual == expected,
            };
            if matches { Ok(()) } else { Err(failed()) }
        }
        other => Err(format!("Unexpected kind: {other}")),
    }
}

/// A string member of an operation, or the library's message when it is absent or not a string.
fn string_field(op: &Map<String, Value>, name: &str) -> std::result::Result<String, String> {
    match op.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        None | Some(Value::Null) if name == "from" => Err("operation, missing from field: missing value".to_string()),
        None | Some(Value::Null) => Err(format!("operation missing {name} field: missing value")),
        Some(other) => Err(format!("json: cannot unmarshal {} into Go value of type string", json_type_name(other))),
    }
}

/// An operation's `value`, `null` when absent.
fn value(op: &Map<String, Value>) -> Value {
    op.get("value").cloned().unwrap_or(Value::Null)
}

/// Resolves all but the last token of `path` (the library's `findObject`): the container the
/// operation acts on, and the decoded last token. `None` when the path is empty, or a token does not
/// resolve, resolves to `null`, or leads to a scalar.
fn find_container<'d>(doc: &'d mut Value, path: &str) -> Option<(&'d mut Value, String)> {
    let tokens: Vec<&str> = path.split('/').collect();
    if tokens.len() < 2 {
        return None;
    }
    let (last, parents) = tokens[1..].split_last()?;
    let mut current = doc;
    for token in parents {
        let token = unescape(token);
        current = match current {
            Value::Object(map) => map.get_mut(&token)?,
            Value::Array(items) => {
                let at = existing_index(&token, items.len()).ok()?;
                &mut items[at]
            }
            _ => return None,
        };
        if current.is_null() {
            return None;
        }
    }
    (current.is_object() || current.is_array()).then(|| (current, unescape(last)))
}

/// Decodes a JSON Pointer reference token: `~1` is `/` and `~0` is `~` (RFC 6901 §4).
fn unescape(token: &str) -> String {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('~', Some('0')) => {
                chars.next();
                out.push('~');
            }
            ('~', Some('1')) => {
                chars.next();
                out.push('/');
            }
            _ => out.push(c),
        }
    }
    out
}

/// Parses an array index the way Go's `strconv.Atoi` does.
fn parse_index(token: &str) -> std::result::Result<i64, String> {
    token.parse::<i64>().map_err(|_| format!("strconv.Atoi: parsing {token:?}: invalid syntax"))
}

/// The position of an existing item: `0..len`, or `-len..0` counted from the end.
fn existing_index(token: &str, len: usize) -> std::result::Result<usize, String> {
    let idx = parse_index(token)?;
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    let at = if idx < 0 { idx + len } else { idx };
    if !(0..len).contains(&at) {
        return Err(format!("Unable to access invalid index: {idx}: invalid index referenced"));
    }
    usize::try_from(at).map_err(|_| format!("Unable to access invalid index: {idx}: invalid index referenced"))
}

/// Looks up a member or item; an absent object member is `None`, an invalid index an error.
fn get<'c>(container: &'c Value, key: &str) -> std::result::Result<Option<&'c Value>, String> {
    match container {
        Value::Object(map) => Ok(map.get(key)),
        Value::Array(items) => existing_index(key, items.len()).map(|at| Some(&items[at])),
        _ => Ok(None),
    }
}

fn add(container: &mut Value, key: &str, value: Value) -> std::result::Result<(), String> {
    match container {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
            Ok(())
        }
        Value::Array(items) => {
            if key == "-" {
                items.push(value);
                return Ok(());
            }
            let idx = parse_index(key).map_err(|e| format!("value was not a proper array index: '{key}': {e}"))?;
            // Inserting may target one past the end: positions run over `0..=len`, or `-(len+1)..0`.
            let slots = i64::try_from(items.len()).unwrap_or(i64::MAX) + 1;
            let at = if idx < 0 { idx + slots } else { idx };
            if !(0..slots).contains(&at) {
                return Err(format!("Unable to access invalid index: {idx}: invalid index referenced"));
            }
            let at = usize::try_from(at).map_err(|_| format!("Unable to access invalid index: {idx}"))?;
            items.insert(at, value);
            Ok(())
        }
        _ => Err("unknown object type".to_string()),
    }
}

fn remove(container: &mut Value, key: &str) -> std::result::Result<Value, String> {
    match container {
        Value::Object(map) => {
            map.remove(key).ok_or_else(|| format!("Unable to remove nonexistent key: {key}: missing value"))
        }
        Value::Array(items) => existing_index(key, items.len()).map(|at| items.remove(at)),
        _ => Err("unknown object type".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn patched(doc: Value, patch: Value) -> Value {
        apply(&doc, &patch).unwrap_or_else(|e| panic!("patch failed: {e}"))
    }

    fn rejected(doc: Value, patch: Value) -> PatchError {
        apply(&doc, &patch).expect_err("patch should be rejected")
    }

    #[test]
    fn rollout_undo_replaces_the_template_and_the_annotations() {
        let deploy = json!({
            "metadata": {"name": "web", "annotations": {"deployment.kubernetes.io/revision": "3", "team": "a"}},
            "spec": {"replicas": 2, "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "repo:tag3"}]},
            }},
        });
        let template = json!({
            "metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "repo:tag1"}]},
        });
        let patch = json!([
            {"op": "replace", "path": "/spec/template", "value": template},
            {"op": "replace", "path": "/metadata/annotations", "value": {"deployment.kubernetes.io/revision": "2"}},
        ]);
        let out = patched(deploy, patch);
        assert_eq!(out["spec"]["template"], template);
        assert_eq!(out["spec"]["replicas"], 2);
        assert_eq!(out["metadata"]["annotations"], json!({"deployment.kubernetes.io/revision": "2"}));
        assert_eq!(out["metadata"]["name"], "web");
    }

    #[test]
    fn replace_of_absent_annotations_adds_them_as_the_real_server_does() {
        let out = patched(
            json!({"metadata": {"name": "web"}}),
            json!([{"op": "replace", "path": "/metadata/annotations", "value": {"a": "b"}}]),
        );
        assert_eq!(out["metadata"]["annotations"], json!({"a": "b"}));
    }

    #[test]
    fn failed_resource_version_test_is_unprocessable_and_names_the_path() {
        let err = rejected(
            json!({"metadata": {"resourceVersion": "7"}, "spec": {"replicas": 1}}),
            json!([
                {"op": "test", "path": "/metadata/resourceVersion", "value": "5"},
                {"op": "replace", "path": "/spec/replicas", "value": 3},
            ]),
        );
        assert_eq!(err.code, 422);
        assert_eq!(err.message, "testing value /metadata/resourceVersion failed: test failed");
    }

    #[test]
    fn passing_test_lets_the_following_operations_apply() {
        let out = patched(
            json!({"metadata": {"resourceVersion": "7"}, "spec": {"replicas": 1}}),
            json!([
                {"op": "test", "path": "/metadata/resourceVersion", "value": "7"},
                {"op": "replace", "path": "/spec/replicas", "value": 3},
            ]),
        );
        assert_eq!(out["spec"]["replicas"], 3);
    }

    #[test]
    fn remove_of_a_missing_member_is_unprocessable() {
        let err = rejected(json!({"metadata": {}}), json!([{"op": "remove", "path": "/metadata/labels"}]));
        assert_eq!(err.code, 422);
        assert_eq!(
            err.message,
            "error in remove for path: '/metadata/labels': Unable to remove nonexistent key: labels: missing value"
        );
        let err = rejected(json!({"metadata": {}}), json!([{"op": "remove", "path": "/spec/replicas"}]));
        assert_eq!(err.code, 422);
        assert_eq!(
            err.message,
            "remove operation does not apply: doc is missing path: \"/spec/replicas\": missing value"
        );
    }

    #[test]
    fn pointer_escapes_address_annotation_keys_with_slashes_and_tildes() {
        let out = patched(
            json!({"metadata": {"annotations": {"kubernetes.io/change-cause": "old", "a~b": "x"}}}),
            json!([
                {"op": "replace", "path": "/metadata/annotations/kubernetes.io~1change-cause", "value": "new"},
                {"op": "remove", "path": "/metadata/annotations/a~0b"},
            ]),
        );
        assert_eq!(out["metadata"]["annotations"], json!({"kubernetes.io/change-cause": "new"}));
    }

    #[test]
    fn add_inserts_into_arrays_by_index_dash_and_negative_index() {
        let out = patched(
            json!({"a": [1, 2, 3]}),
            json!([
                {"op": "add", "path": "/a/0", "value": 0},
                {"op": "add", "path": "/a/-", "value": 9},
                {"op": "add", "path": "/a/-1", "value": 8},
                {"op": "add", "path": "/a/6", "value": 10},
            ]),
        );
        // `-1` on add inserts before the end slot, that is after the last item.
        assert_eq!(out, json!({"a": [0, 1, 2, 3, 9, 8, 10]}));
        let err = rejected(json!({"a": [1]}), json!([{"op": "add", "path": "/a/5", "value": 0}]));
        assert_eq!(err.code, 422);
        assert!(err.message.contains("Unable to access invalid index: 5"), "{}", err.message);
    }

    #[test]
    fn move_copy_and_remove_follow_rfc_6902() {
        let out = patched(
            json!({"a": {"x": 1}, "b": [1, 2]}),
            json!([
                {"op": "copy", "from": "/a/x", "path": "/c"},
                {"op": "move", "from": "/a/x", "path": "/b/1"},
                {"op": "remove", "path": "/b/0"},
            ]),
        );
        assert_eq!(out, json!({"a": {}, "b": [1, 2], "c": 1}));
    }

    #[test]
    fn test_compares_structurally_and_treats_absent_as_null() {
        let doc = json!({"a": {"b": [1, {"c": true}]}});
        patched(doc.clone(), json!([{"op": "test", "path": "/a", "value": {"b": [1, {"c": true}]}}]));
        patched(doc.clone(), json!([{"op": "test", "path": "/missing", "value": null}]));
        patched(doc.clone(), json!([{"op": "test", "path": "", "value": doc.clone()}]));
        assert_eq!(rejected(doc, json!([{"op": "test", "path": "/a/b/0", "value": "1"}])).code, 422);
    }

    #[test]
    fn malformed_documents_are_bad_requests_and_unknown_ops_unprocessable() {
        let doc = json!({});
        assert_eq!(rejected(doc.clone(), json!({"op": "add"})).code, 400);
        assert_eq!(rejected(doc.clone(), json!(["add"])).code, 400);
        let err = rejected(doc.clone(), json!([{"op": "frobnicate", "path": "/a"}]));
        assert_eq!((err.code, err.message.as_str()), (422, "Unexpected kind: frobnicate"));
        let err = rejected(doc, json!([{"op": "add", "value": 1}]));
        assert_eq!((err.code, err.message.as_str()), (422, "add operation failed to decode path: missing value"));
    }

    #[test]
    fn a_failing_operation_leaves_no_partial_result() {
        let original = json!({"a": 1});
        let err = rejected(
            original.clone(),
            json!([{"op": "add", "path": "/b", "value": 2}, {"op": "remove", "path": "/c"}]),
        );
        assert_eq!(err.code, 422);
        assert_eq!(original, json!({"a": 1}));
    }
}
