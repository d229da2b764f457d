//! Small accessors over `serde_json::Value` objects, so that the stored objects can be read and
//! written without round-tripping them through typed structs.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// The value at a path of object keys, if every step exists.
pub fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

/// The string at a path.
pub fn get_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    get(v, path).and_then(Value::as_str)
}

/// The integer at a path.
pub fn get_i64(v: &Value, path: &[&str]) -> Option<i64> {
    get(v, path).and_then(Value::as_i64)
}

/// A mutable reference to the object at `path`, creating empty objects along the way (and replacing
/// non-object values on the way).
pub fn ensure_obj<'a>(v: &'a mut Value, path: &[&str]) -> &'a mut Map<String, Value> {
    let mut cur = v;
    for k in path {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        cur = cur.as_object_mut().expect("just made an object").entry(k.to_string()).or_insert(Value::Null);
    }
    if !cur.is_object() {
        *cur = Value::Object(Map::new());
    }
    cur.as_object_mut().expect("just made an object")
}

/// Sets the value at `path`, creating objects along the way.
pub fn set(v: &mut Value, path: &[&str], value: Value) {
    let (last, parent) = path.split_last().expect("a non-empty path");
    ensure_obj(v, parent).insert(last.to_string(), value);
}

/// Removes the value at `path`, if present.
pub fn remove(v: &mut Value, path: &[&str]) -> Option<Value> {
    let (last, parent) = path.split_last()?;
    let mut cur = v;
    for k in parent {
        cur = cur.get_mut(*k)?;
    }
    cur.as_object_mut()?.remove(*last)
}

/// Removes every `null` member of every object, recursively. The API server decodes bodies into
/// typed structs, where `null` and absent are the same thing; storing what it would store keeps
/// equality checks (a rolled-back template against its ReplicaSet's) from tripping over
/// `"creationTimestamp": null`, which kubectl sends in pod templates.
pub fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// `metadata.name`.
pub fn name(v: &Value) -> &str {
    get_str(v, &["metadata", "name"]).unwrap_or("")
}

/// `metadata.namespace`.
pub fn namespace(v: &Value) -> &str {
    get_str(v, &["metadata", "namespace"]).unwrap_or("")
}

/// `metadata.uid`.
pub fn uid(v: &Value) -> &str {
    get_str(v, &["metadata", "uid"]).unwrap_or("")
}

/// A string map such as `metadata.labels` (non-string values are skipped).
pub fn string_map(v: &Value, path: &[&str]) -> BTreeMap<String, String> {
    get(v, path)
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect())
        .unwrap_or_default()
}

/// `metadata.labels`.
pub fn labels(v: &Value) -> BTreeMap<String, String> {
    string_map(v, &["metadata", "labels"])
}

/// `metadata.annotations`.
pub fn annotations(v: &Value) -> BTreeMap<String, String> {
    string_map(v, &["metadata", "annotations"])
}

/// One annotation.
pub fn annotation<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    get(v, &["metadata", "annotations", key]).and_then(Value::as_str)
}

/// Sets or removes one annotation.
pub fn set_annotation(v: &mut Value, key: &str, value: Option<String>) {
    match value {
        Some(s) => {
            ensure_obj(v, &["metadata", "annotations"]).insert(key.to_string(), Value::String(s));
        }
        None => {
            if let Some(m) = v.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut) {
                m.remove(key);
            }
        }
    }
}

/// The uid of the controller owner reference, if any.
pub fn controller_uid(v: &Value) -> Option<&str> {
    get(v, &["metadata", "ownerReferences"])?
        .as_array()?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .and_then(|r| r.get("uid"))
        .and_then(Value::as_str)
}

/// Whether `metadata.deletionTimestamp` is set.
pub fn is_deleting(v: &Value) -> bool {
    get(v, &["metadata", "deletionTimestamp"]).is_some_and(|t| !t.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_are_created_and_removed() {
        let mut v = json!({});
        set(&mut v, &["metadata", "annotations", "a"], json!("1"));
        assert_eq!(annotation(&v, "a"), Some("1"));
        set_annotation(&mut v, "b", Some("2".into()));
        assert_eq!(annotations(&v).len(), 2);
        set_annotation(&mut v, "a", None);
        assert_eq!(annotation(&v, "a"), None);
        assert_eq!(remove(&mut v, &["metadata", "annotations", "b"]), Some(json!("2")));
        assert_eq!(remove(&mut v, &["nope", "x"]), None);
    }

    #[test]
    fn nulls_are_stripped_at_every_depth() {
        let mut v = json!({"a": null, "b": {"c": null, "d": [{"e": null, "f": 1}]}});
        strip_nulls(&mut v);
        assert_eq!(v, json!({"b": {"d": [{"f": 1}]}}));
    }

    #[test]
    fn the_controller_reference_is_found_among_owners() {
        let v = json!({"metadata": {"ownerReferences": [
            {"uid": "a", "controller": false}, {"uid": "b", "controller": true}
        ]}});
        assert_eq!(controller_uid(&v), Some("b"));
        assert_eq!(controller_uid(&json!({})), None);
    }
}
