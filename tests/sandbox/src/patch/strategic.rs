//! Strategic merge patch application, following apimachinery's `pkg/util/strategicpatch/patch.go`
//! (`StrategicMergeMapPatch` with the options the API server uses: parallel lists merged, unmatched
//! nulls ignored).
//!
//! The order of operations in one map is the library's: `$patch` first (the map is replaced or
//! emptied), then `$retainKeys` (live keys not listed are cleared), then every `$setElementOrder/<list>`
//! together with its list, then the other keys, then every `$deleteFromPrimitiveList/<list>`. Merged
//! lists are ordered as the library orders them: items named by the patch in the patch's order,
//! the live-only items interleaved where the live order puts them.
//!
//! Where the library would keep a directive or a `null` in the result (it relies on the decode into
//! the Go type to drop them), this engine removes them, and it answers 400 where the library fails with
//! a plain error that the real server turns into a 500 (a missing merge key, an unknown `$patch` value,
//! mismatched list item types). One deliberate difference: a map carrying `$patch: replace` under a key
//! the live object lacks keeps its content here, where the library drops the whole key.

use serde_json::{Map, Value};

use super::schema::{FieldMeta, ListStrategy, OPAQUE, Schema};
use super::{PatchError, join_path, json_type_name};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";

type Result<T> = std::result::Result<T, PatchError>;

/// Applies `patch` to `original` with the merge keys of `schema`.
pub(super) fn apply(original: &Value, patch: &Value, schema: &'static Schema) -> Result<Value> {
    let Value::Object(patch) = patch else {
        return Err(PatchError::bad_request(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            json_type_name(patch)
        )));
    };
    let original = match original {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    merge_map(original, patch.clone(), schema, "").map(Value::Object)
}

/// Merges a patch map into an original map (the library's `mergeMap`).
fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    schema: &'static Schema,
    path: &str,
) -> Result<Map<String, Value>> {
    if let Some(directive) = patch.remove(DIRECTIVE) {
        return match directive.as_str() {
            // The patch's content becomes the map, cleaned of directives and nulls as a new value is.
            Some("replace") => merge_map(Map::new(), patch, schema, path),
            Some("delete") => Ok(Map::new()),
            _ => Err(PatchError::bad_request(format!(
                "unknown patch type {directive} in map at {}: $patch in a map accepts \"replace\" or \"delete\"",
                describe(path)
            ))),
        };
    }

    if let Some(retain) = patch.remove(RETAIN_KEYS) {
        retain_keys(&mut original, &patch, &retain)?;
    }

    let keys: Vec<String> = patch.keys().cloned().collect();
    for key in keys.iter().filter(|k| k.starts_with(SET_ELEMENT_ORDER)) {
        let Some(order) = patch.remove(key) else { continue };
        merge_with_element_order(&mut original, &mut patch, key, order, schema, path)?;
    }

    let mut deletions = Vec::new();
    let keys: Vec<String> = patch.keys().cloned().collect();
    for key in keys {
        let Some(value) = patch.remove(&key) else { continue };
        if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            deletions.push((key, value));
        } else if key.starts_with('$') {
            return Err(PatchError::bad_request(format!(
                "unknown directive {key} in map at {}: strategic merge patch directives are $patch, $retainKeys, \
                 $setElementOrder/<list> and $deleteFromPrimitiveList/<list>",
                describe(path)
            )));
        } else {
            merge_field(&mut original, key, value, schema, path)?;
        }
    }

    for (key, value) in deletions {
        delete_from_primitive_list(&mut original, &key, value, path)?;
    }
    Ok(original)
}

/// Merges one ordinary field of a patch map into the original map.
fn merge_field(
    original: &mut Map<String, Value>,
    key: String,
    patch_value: Value,
    schema: &'static Schema,
    path: &str,
) -> Result<()> {
    let field_path = join_path(path, &key);
    let meta = schema.field(&key);
    if patch_value.is_null() {
        original.remove(&key);
        return Ok(());
    }
    let merged = match (original.get_mut(&key), patch_value) {
        (Some(Value::Object(live)), Value::Object(patch)) => {
            Some(Value::Object(merge_map(std::mem::take(live), patch, meta.schema, &field_path)?))
        }
        (Some(Value::Array(live)), Value::Array(patch)) => {
            Some(Value::Array(merge_list(std::mem::take(live), patch, meta, &field_path)?))
        }
        // Absent in the original, or of another type: the patch value is taken as it is, cleaned.
        (_, patch) => new_value(patch, meta, &field_path)?,
    };
    match merged {
        Some(merged) => original.insert(key, merged),
        None => original.remove(&key),
    };
    Ok(())
}

/// A patch value inserted where the original has nothing to merge with, cleaned of directives and
/// nulls (the library's `discardNullValuesFromPatch` then `removeDirectives`). `None` drops the key.
fn new_value(value: Value, meta: FieldMeta, path: &str) -> Result<Option<Value>> {
    match value {
        Value::Object(map) => {
            if map.get(DIRECTIVE).and_then(Value::as_str) == Some("delete") {
                return Ok(None);
            }
            merge_map(Map::new(), map, meta.schema, path).map(|m| Some(Value::Object(m)))
        }
        Value::Array(items) => new_list(items, meta.schema, path).map(|l| Some(Value::Array(l))),
        scalar => Ok(Some(scalar)),
    }
}

/// A patch list inserted as it is (a new list, or one that replaces the original): its items with a
/// `$patch` marker are dropped and the others cleaned.
fn new_list(items: Vec<Value>, item_schema: &'static Schema, path: &str) -> Result<Vec<Value>> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if let Some(directive) = item.get(DIRECTIVE) {
            list_directive(directive, path)?;
            continue;
        }
        match item {
            Value::Object(map) => out.push(Value::Object(merge_map(Map::new(), map, item_schema, path)?)),
            Value::Array(nested) => out.push(Value::Array(new_list(nested, &OPAQUE, path)?)),
            other => out.push(other),
        }
    }
    Ok(out)
}

/// Checks the value of a `$patch` marker inside a list item.
fn list_directive(directive: &Value, path: &str) -> Result<ListDirective> {
    match directive.as_str() {
        Some("delete") => Ok(ListDirective::Delete),
        Some("replace") => Ok(ListDirective::Replace),
        Some("merge") => Err(PatchError::bad_request(format!(
            "merging lists cannot yet be specified in the patch (a $patch: merge item in {})",
            describe(path)
        ))),
        _ => Err(PatchError::bad_request(format!(
            "unknown patch type {directive} in a list item of {}: $patch in a list accepts \"replace\" or \"delete\"",
            describe(path)
        ))),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListDirective {
    Delete,
    Replace,
}

/// Applies `$retainKeys`: every key the patch sets must be listed, and original keys not listed are
/// cleared (the library's `applyRetainKeysDirective`).
fn retain_keys(original: &mut Map<String, Value>, patch: &Map<String, Value>, retain: &Value) -> Result<()> {
    let invalid = || PatchError::bad_request("invalid patch format of retainKeys");
    let Value::Array(retain) = retain else { return Err(invalid()) };
    let listed = |key: &str| retain.iter().any(|k| k.as_str() == Some(key));
    let unlisted = patch.iter().any(|(k, v)| {
        !v.is_null() && !k.starts_with(DELETE_FROM_PRIMITIVE_LIST) && !k.starts_with(SET_ELEMENT_ORDER) && !listed(k)
    });
    if unlisted {
        return Err(invalid());
    }
    original.retain(|k, _| listed(k));
    Ok(())
}

/// The list name after a `$setElementOrder/` or `$deleteFromPrimitiveList/` prefix.
fn directive_target<'k>(key: &'k str, prefix: &str) -> Option<&'k str> {
    let (head, tail) = key.split_once('/')?;
    (head == prefix).then_some(tail)
}

/// Handles `$setElementOrder/<list>` and the patch's `<list>` together, then orders the merged list by
/// the directive (the library's `mergePatchIntoOriginal`).
fn merge_with_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    directive_key: &str,
    order: Value,
    schema: &'static Schema,
    path: &str,
) -> Result<()> {
    let invalid = || PatchError::bad_request("invalid patch format of setElementOrder list");
    let key = directive_target(directive_key, SET_ELEMENT_ORDER).ok_or_else(invalid)?.to_string();
    let Value::Array(order) = order else { return Err(invalid()) };
    let field_path = join_path(path, &key);
    let meta = schema.field(&key);
    let merge_key = meta.merge_key();

    let live = match original.get(&key) {
        None => None,
        Some(Value::Array(items)) => Some(items.clone()),
        Some(other) => return Err(not_a_list(&field_path, "the live object", other)),
    };
    let patched = match patch.remove(&key) {
        None => None,
        Some(Value::Array(items)) => Some(items),
        Some(other) => return Err(not_a_list(&field_path, "the patch", &other)),
    };
    if let Some(patched) = &patched {
        check_patch_follows_order(patched, &order, merge_key, &field_path)?;
    }

    let merged = match (&live, patched) {
        (None, None) => return Ok(()),
        (Some(live), None) => live.clone(),
        (None, Some(patched)) => new_list(patched, meta.schema, &field_path)?,
        (Some(live), Some(patched)) => merge_list(live.clone(), patched, meta, &field_path)?,
    };
    let live = live.unwrap_or_default();
    if merged.is_empty() {
        original.insert(key, Value::Array(merged));
        return Ok(());
    }
    let item_kind = element_kind(&[&live, &merged], &field_path)?;
    let (in_order, server_only) = partition(merged, &order, merge_key, item_kind, &field_path)?;
    let ordered = normalize_element_order(in_order, server_only, &order, &live, merge_key, item_kind, &field_path)?;
    original.insert(key, Value::Array(ordered));
    Ok(())
}

/// Checks that the patch list's items appear in the `$setElementOrder` list, in the same relative
/// order (the library's `validatePatchWithSetOrderList`).
fn check_patch_follows_order(patched: &[Value], order: &[Value], merge_key: Option<&str>, path: &str) -> Result<()> {
    if patched.is_empty() || order.is_empty() {
        return Ok(());
    }
    let kept: Vec<&Value> = match merge_key {
        Some(_) => {
            patched.iter().filter(|item| item.get(DIRECTIVE).and_then(Value::as_str) != Some("delete")).collect()
        }
        None => patched.iter().collect(),
    };
    let (mut p, mut o) = (0, 0);
    while p < kept.len() && o < order.len() {
        if kept[p].get(DIRECTIVE).is_some() {
            p += 1;
            continue;
        }
        let same = match merge_key {
            None => kept[p] == &order[o],
            Some(key) => merge_key_value(kept[p], key, path)? == merge_key_value(&order[o], key, path)?,
        };
        if same {
            p += 1;
        }
        o += 1;
    }
    if p < kept.len() {
        return Err(PatchError::bad_request(format!(
            "the order in the patch list of {} doesn't match its $setElementOrder list: {}",
            describe(path),
            Value::Array(order.to_vec())
        )));
    }
    Ok(())
}

/// Deletes the listed values from a list (`$deleteFromPrimitiveList/<list>`), whatever the list's
/// patch strategy.
fn delete_from_primitive_list(
    original: &mut Map<String, Value>,
    directive_key: &str,
    value: Value,
    path: &str,
) -> Result<()> {
    let invalid = || PatchError::bad_request("invalid patch format of primitive list");
    let key = directive_target(directive_key, DELETE_FROM_PRIMITIVE_LIST).ok_or_else(invalid)?;
    let Value::Array(to_delete) = value else { return Err(invalid()) };
    let field_path = join_path(path, key);
    let Some(Value::Array(live)) = original.get_mut(key) else { return Ok(()) };
    if live.is_empty() && to_delete.is_empty() {
        return Ok(());
    }
    if element_kind(&[live.as_slice(), &to_delete], &field_path)? == ItemKind::Map {
        return Err(PatchError::bad_request(format!(
            "$deleteFromPrimitiveList/{key} applies to lists of primitive values, and {} holds maps",
            describe(&field_path)
        )));
    }
    live.retain(|item| !to_delete.contains(item));
    Ok(())
}

/// Merges two lists (the library's `mergeSliceHandler` and `mergeSlice`).
fn merge_list(live: Vec<Value>, patch: Vec<Value>, meta: FieldMeta, path: &str) -> Result<Vec<Value>> {
    let ListStrategy::Merge { key } = meta.strategy else {
        return new_list(patch, meta.schema, path);
    };
    if live.is_empty() && patch.is_empty() {
        return Ok(live);
    }
    let item_kind = element_kind(&[&live, &patch], path)?;
    if item_kind != ItemKind::Map {
        let mut merged = live.clone();
        for item in &patch {
            if !merged.contains(item) {
                merged.push(item.clone());
            }
        }
        let (in_patch, server_only) = partition(merged, &patch, None, item_kind, path)?;
        return normalize_element_order(in_patch, server_only, &patch, &live, None, item_kind, path);
    }
    let Some(key) = key else {
        return Err(PatchError::bad_request(format!(
            "cannot merge lists without merge key for {}: its items are maps but the field has no patchMergeKey",
            describe(path)
        )));
    };

    // Items with a `$patch` marker first: deletions by merge key, or a replacement of the whole list.
    let mut live = live;
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let Some(directive) = item.get(DIRECTIVE) else {
            plain.push(item);
            continue;
        };
        match list_directive(directive, path)? {
            ListDirective::Delete => {
                let doomed = merge_key_value(&item, key, path)?.clone();
                live.retain(|l| l.get(key) != Some(&doomed));
            }
            ListDirective::Replace => replace = true,
        }
    }
    let (live, plain) = if replace { (new_list(plain, meta.schema, path)?, Vec::new()) } else { (live, plain) };

    let mut merged = live.clone();
    for item in &plain {
        let wanted = merge_key_value(item, key, path)?;
        let item_path = format!("{path}[{key}={wanted}]");
        let item_map = item.as_object().cloned().unwrap_or_default();
        // Every item is a map (checked by `element_kind`), so `as_object_mut` always finds one.
        match merged.iter_mut().find(|l| l.get(key) == Some(wanted)).and_then(Value::as_object_mut) {
            Some(live_map) => *live_map = merge_map(std::mem::take(live_map), item_map, meta.schema, &item_path)?,
            None => merged.push(Value::Object(merge_map(Map::new(), item_map, meta.schema, &item_path)?)),
        }
    }
    let (in_patch, server_only) = partition(merged, &plain, Some(key), ItemKind::Map, path)?;
    normalize_element_order(in_patch, server_only, &plain, &live, Some(key), ItemKind::Map, path)
}

/// The kind of the items of one or more lists, all of which must agree (the library's
/// `sliceElementType`). Numbers count as one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemKind {
    Map,
    String,
    Number,
    Bool,
}

fn element_kind(lists: &[&[Value]], path: &str) -> Result<ItemKind> {
    let mut kind = None;
    for item in lists.iter().flat_map(|l| l.iter()) {
        let this = match item {
            Value::Object(_) => ItemKind::Map,
            Value::String(_) => ItemKind::String,
            Value::Number(_) => ItemKind::Number,
            Value::Bool(_) => ItemKind::Bool,
            Value::Array(_) => return Err(PatchError::unprocessable("lists of lists are not supported")),
            Value::Null => {
                return Err(PatchError::bad_request(format!(
                    "{} holds a null item, which cannot be merged",
                    describe(path)
                )));
            }
        };
        match kind {
            None => kind = Some(this),
            Some(k) if k != this => {
                return Err(PatchError::bad_request(format!(
                    "list element types are not identical in {}: {:?} and {:?} items",
                    describe(path),
                    k,
                    this
                )));
            }
            Some(_) => {}
        }
    }
    kind.ok_or_else(|| PatchError::bad_request(format!("no elements in any of the lists of {}", describe(path))))
}

/// The merge key's value of a list item, which must be a map that has it.
fn merge_key_value<'v>(item: &'v Value, key: &str, path: &str) -> Result<&'v Value> {
    item.get(key).ok_or_else(|| {
        PatchError::bad_request(format!(
            "map: {item} does not contain declared merge key: {key} (in {})",
            describe(path)
        ))
    })
}

/// What `index` compares: the merge key's value for maps, the item itself for primitives.
fn identity<'v>(item: &'v Value, merge_key: Option<&str>, kind: ItemKind) -> Option<&'v Value> {
    match (kind, merge_key) {
        (ItemKind::Map, Some(key)) => item.get(key),
        (ItemKind::Map, None) => None,
        _ => Some(item),
    }
}

/// The position of `item` in `list`, compared by identity (the library's `index`).
fn index_of(list: &[Value], item: &Value, merge_key: Option<&str>, kind: ItemKind) -> Option<usize> {
    let wanted = identity(item, merge_key, kind);
    list.iter().position(|v| identity(v, merge_key, kind) == wanted)
}

/// Splits `merged` into the items present in `by` and the others, keeping their order (the
/// library's `partitionPrimitivesByPresentInList` and `partitionMapsByPresentInList`).
fn partition(
    merged: Vec<Value>,
    by: &[Value],
    merge_key: Option<&str>,
    kind: ItemKind,
    path: &str,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut present = Vec::with_capacity(merged.len());
    let mut absent = Vec::with_capacity(merged.len());
    for item in merged {
        let found = match merge_key {
            Some(key) if kind == ItemKind::Map => {
                let wanted = merge_key_value(&item, key, path)?;
                by.iter().any(|b| b.get(key) == Some(wanted))
            }
            _ => by.contains(&item),
        };
        if found { present.push(item) } else { absent.push(item) }
    }
    Ok((present, absent))
}

/// Orders a merged list: the patch's items by `patch_order`, the server-only items by `server_order`,
/// then the two interleaved by the server order (the library's `normalizeElementOrder`).
fn normalize_element_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: Option<&str>,
    kind: ItemKind,
    path: &str,
) -> Result<Vec<Value>> {
    let patch_items = normalize_slice_order(patch_items, patch_order, merge_key, kind, path)?;
    let server_only = normalize_slice_order(server_only, server_order, merge_key, kind, path)?;
    Ok(merge_sorted(server_only, patch_items, server_order, merge_key, kind))
}

/// Sorts `items` by their position in `order`, stably (the library's `normalizeSliceOrder`).
///
/// The library's comparison answers "less" whenever either item is missing from `order`, which is not
/// a consistent order; Go's stable sort then runs an insertion sort over lists of up to 20 items. The
/// same insertion sort runs here when an item is missing, so the outcome is the library's for such
/// lists; when every item is found the comparison is consistent and any stable sort agrees.
fn normalize_slice_order(
    items: Vec<Value>,
    order: &[Value],
    merge_key: Option<&str>,
    kind: ItemKind,
    path: &str,
) -> Result<Vec<Value>> {
    if kind == ItemKind::Map {
        let key = merge_key.unwrap_or_default();
        for item in items.iter().chain(order) {
            if !item.is_object() {
                return Err(PatchError::bad_request(format!("{} mixes maps and other values", describe(path))));
            }
            merge_key_value(item, key, path)?;
        }
    }
    let (deleted, kept): (Vec<Value>, Vec<Value>) = items
        .into_iter()
        .partition(|item| kind == ItemKind::Map && item.get(DIRECTIVE).and_then(Value::as_str) == Some("delete"));
    let mut keyed: Vec<(Option<usize>, Value)> =
        kept.into_iter().map(|item| (index_of(order, &item, merge_key, kind), item)).collect();
    if keyed.iter().all(|(at, _)| at.is_some()) {
        keyed.sort_by_key(|(at, _)| *at);
    } else {
        let less = |a: Option<usize>, b: Option<usize>| match (a, b) {
            (Some(a), Some(b)) => a < b,
            _ => true,
        };
        for i in 1..keyed.len() {
            let mut j = i;
            while j > 0 && less(keyed[j].0, keyed[j - 1].0) {
                keyed.swap(j, j - 1);
                j -= 1;
            }
        }
    }
    let mut sorted: Vec<Value> = keyed.into_iter().map(|(_, item)| item).collect();
    sorted.extend(deleted);
    Ok(sorted)
}

/// Interleaves two sorted, disjoint lists (the library's `mergeSortedSlice`): an item of `left` goes
/// first only when both items are in `server_order` and it comes earlier there; otherwise the next item
/// of `right` goes first. Each list keeps its own relative order.
fn merge_sorted(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    merge_key: Option<&str>,
    kind: ItemKind,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => {
                let li = index_of(server_order, l, merge_key, kind);
                let ri = index_of(server_order, r, merge_key, kind);
                matches!((li, ri), (Some(li), Some(ri)) if li < ri)
            }
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

fn not_a_list(path: &str, side: &str, value: &Value) -> PatchError {
    PatchError::bad_request(format!(
        "expected a list at {} in {side}, but received {}",
        describe(path),
        json_type_name(value)
    ))
}

/// A field path for messages; the root is "the object".
fn describe(path: &str) -> String {
    if path.is_empty() { "the object".to_string() } else { path.to_string() }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::kinds::Kind;
    use crate::patch::schema::root;

    fn patched(kind: Kind, original: Value, patch: Value) -> Value {
        apply(&original, &patch, root(kind)).unwrap_or_else(|e| panic!("patch failed: {e}"))
    }

    fn rejected(kind: Kind, original: Value, patch: Value) -> PatchError {
        apply(&original, &patch, root(kind)).expect_err("patch should be rejected")
    }

    /// What `kubectl set image deployment/web web=repo:tag2` sends, verbatim.
    const SET_IMAGE: &str = r#"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"web"}],"containers":[{"image":"repo:tag2","name":"web"}]}}}}"#;

    /// What `kubectl rollout restart deployment/web` sends, verbatim.
    const RESTART: &str = r#"{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2025-05-01T10:00:00Z"}}}}}"#;

    fn wire(body: &str) -> Value {
        serde_json::from_str(body).expect("valid JSON")
    }

    /// A two-container Deployment, as the API server stores it.
    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}, "finalizers": ["a", "b"]},
            "spec": {
                "replicas": 2,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": "repo:tag1",
                                "ports": [{"containerPort": 8443, "protocol": "TCP"}, {"containerPort": 9090}],
                                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "1"}],
                            },
                            {"name": "sidecar", "image": "proxy:1"},
                        ],
                        "tolerations": [{"key": "x", "operator": "Exists"}],
                    },
                },
            },
        })
    }

    fn containers(object: &Value) -> &Value {
        &object["spec"]["template"]["spec"]["containers"]
    }

    #[test]
    fn kubectl_set_image_changes_only_that_image_and_keeps_the_other_container() {
        let patch = wire(SET_IMAGE);
        let out = patched(Kind::Deployment, deployment(), patch);
        let mut expected = deployment();
        expected["spec"]["template"]["spec"]["containers"][0]["image"] = json!("repo:tag2");
        assert_eq!(out, expected);
    }

    #[test]
    fn set_image_keeps_a_live_only_container_in_its_live_position() {
        let mut live = deployment();
        let list = live["spec"]["template"]["spec"]["containers"].as_array_mut().unwrap();
        list.reverse();
        let patch = wire(SET_IMAGE);
        let out = patched(Kind::Deployment, live, patch);
        assert_eq!(containers(&out)[0]["name"], "sidecar");
        assert_eq!(containers(&out)[1]["image"], "repo:tag2");
    }

    #[test]
    fn set_image_works_at_every_position_of_a_pod_spec() {
        let pod = json!({"spec": {"containers": [{"name": "web", "image": "a"}, {"name": "b", "image": "b"}]}});
        let patch = json!({"spec": {
            "$setElementOrder/containers": [{"name": "web"}, {"name": "b"}],
            "containers": [{"name": "web", "image": "z"}],
        }});
        let out = patched(Kind::Pod, pod, patch);
        assert_eq!(out["spec"]["containers"], json!([{"name": "web", "image": "z"}, {"name": "b", "image": "b"}]));

        let cron = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
            {"name": "job", "image": "a"}, {"name": "b", "image": "b"}
        ]}}}}}});
        let patch = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {
            "containers": [{"name": "job", "image": "z"}]
        }}}}}});
        let out = patched(Kind::CronJob, cron, patch);
        let list = &out["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"];
        assert_eq!(list, &json!([{"name": "job", "image": "z"}, {"name": "b", "image": "b"}]));
    }

    #[test]
    fn rollout_restart_adds_the_restarted_at_annotation_to_the_template() {
        let patch = wire(RESTART);
        let out = patched(Kind::Deployment, deployment(), patch);
        let mut expected = deployment();
        expected["spec"]["template"]["metadata"]["annotations"] =
            json!({"kubectl.kubernetes.io/restartedAt": "2025-05-01T10:00:00Z"});
        assert_eq!(out, expected);
    }

    #[test]
    fn rollout_pause_and_resume_set_spec_paused() {
        let paused = patched(Kind::Deployment, deployment(), wire(r#"{"spec":{"paused":true}}"#));
        assert_eq!(paused["spec"]["paused"], true);
        let resumed = patched(Kind::Deployment, paused, wire(r#"{"spec":{"paused":false}}"#));
        assert_eq!(resumed["spec"]["paused"], false);
        let resumed = patched(Kind::Deployment, resumed, json!({"spec":{"paused":null}}));
        assert_eq!(resumed, deployment());
    }

    #[test]
    fn null_deletes_a_key_and_is_ignored_where_there_is_nothing_to_delete() {
        let out =
            patched(Kind::Deployment, deployment(), json!({"metadata": {"labels": {"tier": null, "ghost": null}}}));
        assert_eq!(out["metadata"]["labels"], json!({"app": "web"}));
    }

    #[test]
    fn patch_delete_removes_a_container_by_name() {
        let patch = json!({"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}}});
        let out = patched(Kind::Deployment, deployment(), patch);
        assert_eq!(containers(&out).as_array().unwrap().len(), 1);
        assert_eq!(containers(&out)[0]["name"], "web");
    }

    #[test]
    fn patch_replace_replaces_a_map_and_a_list_wholesale() {
        let patch = json!({"spec": {"template": {"metadata": {"labels": {"$patch": "replace", "app": "web2"}}}}});
        let out = patched(Kind::Deployment, deployment(), patch);
        assert_eq!(out["spec"]["template"]["metadata"]["labels"], json!({"app": "web2"}));

        let patch = json!({"spec": {"template": {"spec": {
            "containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]
        }}}});
        let out = patched(Kind::Deployment, deployment(), patch);
        assert_eq!(containers(&out), &json!([{"name": "only", "image": "x"}]));
    }

    #[test]
    fn patch_delete_on_a_map_empties_it() {
        let out = patched(Kind::Deployment, deployment(), json!({"spec": {"strategy": {"$patch": "delete"}}}));
        assert_eq!(out["spec"]["strategy"], json!({}));
    }

    #[test]
    fn retain_keys_clears_the_fields_it_does_not_list() {
        let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": null}}});
        let out = patched(Kind::Deployment, deployment(), patch);
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));

        let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 2}}}});
        let err = rejected(Kind::Deployment, deployment(), patch);
        assert_eq!((err.code, err.message.as_str()), (400, "invalid patch format of retainKeys"));
    }

    #[test]
    fn env_merges_by_name_and_new_variables_go_first_as_the_library_orders_them() {
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "env": [
            {"name": "B", "value": "2"}, {"name": "C", "value": "3"}
        ]}]}}}});
        let out = patched(Kind::Deployment, deployment(), patch);
        assert_eq!(
            containers(&out)[0]["env"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "C", "value": "3"}])
        );

        let patch = json!({"spec": {"template": {"spec": {
            "containers": [{"name": "web", "env": [{"name": "C", "value": "3"}]}]
        }}}});
        let out = patched(Kind::Deployment, deployment(), patch);
        assert_eq!(
            containers(&out)[0]["env"],
            json!([{"name": "C", "value": "3"}, {"name": "A", "value": "1"}, {"name": "B", "value": "1"}])
        );
    }

    #[test]
    fn ports_merge_by_container_port() {
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
            "containers": [{"name": "web", "$setElementOrder/ports": [{"containerPort": 8443}, {"containerPort": 9090}],
                            "ports": [{"containerPort": 8443, "name": "https"}]}],
        }}}});
        let out = patched(Kind::Deployment, deployment(), patch);
        assert_eq!(
            containers(&out)[0]["ports"],
            json!([{"containerPort": 8443, "protocol": "TCP", "name": "https"}, {"containerPort": 9090}])
        );
    }

    #[test]
    fn finalizers_are_unioned_and_deleted_from_by_directive() {
        let out = patched(Kind::Deployment, deployment(), json!({"metadata": {"finalizers": ["b", "c"]}}));
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b", "c"]));

        let out = patched(
            Kind::Deployment,
            deployment(),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a", "z"]}}),
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["b"]));

        let patch = json!({"metadata": {
            "$setElementOrder/finalizers": ["b", "c"],
            "$deleteFromPrimitiveList/finalizers": ["a"],
            "finalizers": ["c"],
        }});
        let out = patched(Kind::Deployment, deployment(), patch);
        assert_eq!(out["metadata"]["finalizers"], json!(["b", "c"]));
    }

    #[test]
    fn lists_without_a_merge_key_are_replaced_and_cleaned() {
        let patch = json!({"spec": {"template": {"spec": {
            "tolerations": [{"key": "y", "operator": "Exists", "value": null}]
        }}}});
        let out = patched(Kind::Deployment, deployment(), patch);
        assert_eq!(out["spec"]["template"]["spec"]["tolerations"], json!([{"key": "y", "operator": "Exists"}]));
    }

    #[test]
    fn set_element_order_reorders_with_live_only_items_kept_in_place() {
        // apimachinery's "set elements order in a list with server-only items 2".
        let live = json!({"spec": {"containers": [
            {"name": "1", "other": "a"},
            {"name": "2", "value": 2},
            {"name": "9"},
            {"name": "3", "value": 3},
            {"name": "4", "value": 4},
        ]}});
        let patch = json!({"spec": {
            "$setElementOrder/containers": [{"name": "2"}, {"name": "1"}, {"name": "4"}, {"name": "3"}]
        }});
        let out = patched(Kind::Pod, live, patch);
        let names: Vec<&str> =
            out["spec"]["containers"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["2", "1", "9", "4", "3"]);
    }

    #[test]
    fn merged_lists_follow_the_patch_order_with_live_only_items_interleaved() {
        // apimachinery's "preserve the order from the patch in a merging list 2".
        let live = json!({"spec": {"containers": [{"name": "1"}, {"name": "2", "value": "b"}, {"name": "3"}]}});
        let patch = json!({"spec": {"containers": [{"name": "3", "value": "c"}, {"name": "1", "value": "a"}]}});
        let out = patched(Kind::Pod, live, patch);
        assert_eq!(
            out["spec"]["containers"],
            json!([{"name": "2", "value": "b"}, {"name": "3", "value": "c"}, {"name": "1", "value": "a"}])
        );
    }

    #[test]
    fn set_element_order_must_agree_with_the_patch_list() {
        let live = json!({"spec": {"containers": [{"name": "1"}, {"name": "3"}, {"name": "2"}]}});
        let patch = json!({"spec": {
            "$setElementOrder/containers": [{"name": "1"}, {"name": "2"}, {"name": "3"}],
            "containers": [{"name": "3", "value": 3}, {"name": "1", "value": 1}],
        }});
        let err = rejected(Kind::Pod, live, patch);
        assert_eq!(err.code, 400);
        assert!(err.message.contains("doesn't match"), "{}", err.message);
    }

    #[test]
    fn status_conditions_and_owner_references_merge_by_their_keys() {
        let live = json!({
            "metadata": {"ownerReferences": [{"uid": "u1", "name": "rs-1"}]},
            "status": {"conditions": [
                {"type": "Ready", "status": "False"},
                {"type": "PodScheduled", "status": "True"},
            ]},
        });
        let patch = json!({
            "metadata": {"ownerReferences": [{"uid": "u1", "controller": true}]},
            "status": {
                "$setElementOrder/conditions": [{"type": "Ready"}, {"type": "PodScheduled"}],
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        });
        let out = patched(Kind::Pod, live, patch);
        assert_eq!(out["metadata"]["ownerReferences"], json!([{"uid": "u1", "name": "rs-1", "controller": true}]));
        assert_eq!(
            out["status"]["conditions"],
            json!([{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}])
        );
    }

    #[test]
    fn directives_under_new_keys_never_reach_the_result() {
        let live = json!({"metadata": {"name": "web"}});
        let patch = json!({"spec": {"strategy": {"$patch": "replace", "type": "Recreate"}, "template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}],
            "containers": [
                {"name": "web", "image": "x", "args": null, "env": [{"name": "A", "value": null}]},
                {"name": "gone", "$patch": "delete"},
            ],
            "$deleteFromPrimitiveList/volumes": ["v"],
            "$retainKeys": ["containers"],
        }}}});
        let out = patched(Kind::Deployment, live, patch);
        assert_eq!(
            out,
            json!({"metadata": {"name": "web"}, "spec": {"strategy": {"type": "Recreate"}, "template": {"spec": {
                "containers": [{"name": "web", "image": "x", "env": [{"name": "A"}]}]
            }}}})
        );
    }

    #[test]
    fn malformed_patches_are_bad_requests_and_lists_of_lists_unprocessable() {
        let cases = [
            json!({"spec": {"$frobnicate": 1}}),
            json!({"spec": {"strategy": {"$patch": "merge"}}}),
            json!({"spec": {"template": {"spec": {"containers": [{"$patch": "merge"}]}}}}),
            json!({"spec": {"template": {"spec": {"containers": [{"image": "no-name"}]}}}}),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "x", "$patch": "explode"}]}}}}),
            json!({"spec": {"template": {"spec": {"containers": ["web"]}}}}),
            json!({"metadata": {"$deleteFromPrimitiveList": ["a"]}}),
            json!({"metadata": {"$setElementOrder": ["a"]}}),
            json!({"metadata": {"$setElementOrder/finalizers": "a"}}),
            json!({"spec": {"strategy": {"$retainKeys": "type"}}}),
            json!(["not", "an", "object"]),
        ];
        for patch in cases {
            let err = rejected(Kind::Deployment, deployment(), patch.clone());
            assert_eq!(err.code, 400, "{patch}: {}", err.message);
        }
        let err = rejected(
            Kind::Deployment,
            json!({"metadata": {"finalizers": [["a"]]}}),
            json!({"metadata": {"finalizers": [["b"]]}}),
        );
        assert_eq!((err.code, err.message.as_str()), (422, "lists of lists are not supported"));
    }

    #[test]
    fn an_empty_patch_is_the_identity() {
        assert_eq!(patched(Kind::Deployment, deployment(), json!({})), deployment());
    }

    #[test]
    fn a_whole_object_patch_replace_swaps_the_object() {
        let out = patched(Kind::Deployment, deployment(), json!({"$patch": "replace", "metadata": {"name": "x"}}));
        assert_eq!(out, json!({"metadata": {"name": "x"}}));
    }
}
