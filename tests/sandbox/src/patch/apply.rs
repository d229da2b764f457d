//! Server-side apply (`application/apply-patch+yaml`) reduced to a merge, without field ownership.
//!
//! The real server tracks which field manager owns which field, removes fields a manager stops
//! applying and reports conflicts between managers; that needs `managedFields` and is deliberately
//! not emulated. What is kept is what a single applier observes: the object is created from the
//! applied configuration, later applies merge into it (list items matched on the same keys a strategic
//! merge uses), fields the configuration omits stay, and the checks the real server makes before
//! merging (`apiVersion`, `managedFields`, uid on create) answer with its status codes.

use serde_json::{Map, Value};

use super::schema::{self, FieldMeta, ListStrategy, Schema};
use super::{PatchError, join_path, json_type_name, prune_nulls};
use crate::kinds::Kind;

type Result<T> = std::result::Result<T, PatchError>;

/// Applies `applied` for `kind`, creating the object when `live` is `None`.
pub(super) fn apply(live: Option<&Value>, applied: &Value, kind: Kind) -> Result<Value> {
    let info = kind.info();
    let Value::Object(config) = applied else {
        return Err(PatchError::bad_request(format!(
            "error decoding YAML: the apply configuration must be an object, got {}",
            json_type_name(applied)
        )));
    };
    reject_directives(config, "")?;

    let expected_version = info.api_version();
    let version = config.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    if version != expected_version {
        return Err(PatchError::bad_request(format!(
            "Incorrect version specified in apply patch. Specified patch version: {version}, expected: \
             {expected_version}"
        )));
    }
    let applied_kind = config.get("kind").and_then(Value::as_str).unwrap_or_default();
    if applied_kind != info.name {
        return Err(PatchError::bad_request(format!(
            "the apply configuration's kind {applied_kind:?} does not match the resource's kind {:?}",
            info.name
        )));
    }
    let metadata = config.get("metadata");
    if metadata.and_then(|m| m.get("managedFields")).is_some_and(|f| !f.is_null()) {
        return Err(PatchError::bad_request("metadata.managedFields must be nil"));
    }

    let Some(live) = live else {
        if let Some(uid) = metadata.and_then(|m| m.get("uid")).and_then(Value::as_str).filter(|u| !u.is_empty()) {
            let name = metadata.and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or_default();
            return Err(PatchError::conflict(format!(
                "Operation cannot be fulfilled on {} \"{name}\": uid mismatch: the provided object specified uid \
                 {uid}, and no existing object was found",
                info.qualified_resource()
            )));
        }
        let mut created = applied.clone();
        prune_nulls(&mut created);
        return Ok(created);
    };
    let mut merged = if live.is_object() { live.clone() } else { Value::Object(Map::new()) };
    if let Value::Object(target) = &mut merged {
        merge_map(target, config, schema::root(kind), "")?;
    }
    Ok(merged)
}

/// Rejects `$` keys anywhere in the configuration: strategic-merge directives have no meaning in an
/// apply, and no field of a built-in type starts with `$`.
fn reject_directives(map: &Map<String, Value>, path: &str) -> Result<()> {
    for (key, value) in map {
        let field_path = join_path(path, key);
        if key.starts_with('$') {
            return Err(PatchError::bad_request(format!(
                ".{field_path}: field not declared in schema (directives such as $patch are not allowed in an apply \
                 configuration)"
            )));
        }
        reject_directives_in(value, &field_path)?;
    }
    Ok(())
}

fn reject_directives_in(value: &Value, path: &str) -> Result<()> {
    match value {
        Value::Object(map) => reject_directives(map, path),
        Value::Array(items) => items.iter().try_for_each(|item| reject_directives_in(item, path)),
        _ => Ok(()),
    }
}

fn merge_map(
    target: &mut Map<String, Value>,
    config: &Map<String, Value>,
    schema: &'static Schema,
    path: &str,
) -> Result<()> {
    for (key, value) in config {
        if value.is_null() {
            target.remove(key);
            continue;
        }
        let field_path = join_path(path, key);
        let meta = schema.field(key);
        match (target.get_mut(key), value) {
            (Some(Value::Object(live)), Value::Object(applied)) => merge_map(live, applied, meta.schema, &field_path)?,
            (Some(Value::Array(live)), Value::Array(applied)) => merge_list(live, applied, meta, &field_path)?,
            (_, applied) => {
                let mut applied = applied.clone();
                prune_nulls(&mut applied);
                target.insert(key.clone(), applied);
            }
        }
    }
    Ok(())
}

/// Merges an applied list into a live one: item by item on the merge key, as a set for primitive
/// lists with the merge strategy, and otherwise replaced.
fn merge_list(live: &mut Vec<Value>, applied: &[Value], meta: FieldMeta, path: &str) -> Result<()> {
    let all_maps = live.iter().chain(applied).all(Value::is_object);
    match meta.strategy {
        ListStrategy::Merge { key: Some(key) } if all_maps => {
            for item in applied {
                let Some(wanted) = item.get(key) else {
                    return Err(PatchError::bad_request(format!(
                        "{path}: an item of the apply configuration has no {key:?}, which identifies the items of this \
                         list: {item}"
                    )));
                };
                let Value::Object(item_map) = item else { continue };
                match live.iter_mut().find(|l| l.get(key) == Some(wanted)).and_then(Value::as_object_mut) {
                    Some(live_map) => merge_map(live_map, item_map, meta.schema, &format!("{path}[{key}={wanted}]"))?,
                    None => {
                        let mut new = item.clone();
                        prune_nulls(&mut new);
                        live.push(new);
                    }
                }
            }
        }
        ListStrategy::Merge { key: None } if !all_maps => {
            for item in applied {
                if !live.contains(item) {
                    live.push(item.clone());
                }
            }
        }
        _ => {
            let mut replacement = applied.to_vec();
            replacement.iter_mut().for_each(prune_nulls);
            *live = replacement;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment(image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{
                        "name": "web",
                        "image": image,
                        "ports": [{"containerPort": 8443}],
                        "env": [{"name": "MODE", "value": "prod"}],
                    }]},
                },
            },
        })
    }

    #[test]
    fn apply_without_a_live_object_creates_it_from_the_configuration() {
        let config = deployment("repo:tag1");
        assert_eq!(apply(None, &config, Kind::Deployment).unwrap(), config);
    }

    #[test]
    fn apply_merges_into_the_live_object_and_keeps_what_it_omits() {
        let mut live = deployment("repo:tag1");
        live["metadata"]["uid"] = json!("u-1");
        live["metadata"]["resourceVersion"] = json!("12");
        live["status"] = json!({"replicas": 2});
        live["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "sidecar", "image": "proxy:1"}));
        live["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "INJECTED", "value": "1"}));

        let mut config = deployment("repo:tag2");
        config["spec"]["template"]["spec"]["containers"][0]["env"] = json!([{"name": "MODE", "value": "canary"}]);
        let out = apply(Some(&live), &config, Kind::Deployment).unwrap();

        let containers = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers[0]["image"], "repo:tag2");
        assert_eq!(
            containers[0]["env"],
            json!([{"name": "MODE", "value": "canary"}, {"name": "INJECTED", "value": "1"}])
        );
        assert_eq!(containers[1], json!({"name": "sidecar", "image": "proxy:1"}));
        assert_eq!(out["metadata"]["uid"], "u-1");
        assert_eq!(out["status"], json!({"replicas": 2}));
    }

    #[test]
    fn apply_replaces_lists_without_a_merge_key_and_unions_finalizers() {
        let mut live = deployment("repo:tag1");
        live["metadata"]["finalizers"] = json!(["a"]);
        live["spec"]["template"]["spec"]["tolerations"] = json!([{"key": "x", "operator": "Exists"}]);
        let mut config = deployment("repo:tag1");
        config["metadata"]["finalizers"] = json!(["b"]);
        config["spec"]["template"]["spec"]["tolerations"] = json!([{"key": "y", "operator": "Exists"}]);
        let out = apply(Some(&live), &config, Kind::Deployment).unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b"]));
        assert_eq!(out["spec"]["template"]["spec"]["tolerations"], json!([{"key": "y", "operator": "Exists"}]));
    }

    #[test]
    fn apply_rejects_directives_wrong_versions_and_managed_fields() {
        let mut config = deployment("repo:tag1");
        config["spec"]["template"]["spec"]["$setElementOrder/containers"] = json!([{"name": "web"}]);
        let err = apply(None, &config, Kind::Deployment).unwrap_err();
        assert_eq!(err.code, 400);
        assert!(err.message.contains("spec.template.spec.$setElementOrder/containers"), "{}", err.message);

        let mut config = deployment("repo:tag1");
        config["apiVersion"] = json!("apps/v1beta1");
        let err = apply(None, &config, Kind::Deployment).unwrap_err();
        assert_eq!(err.code, 400);
        assert_eq!(
            err.message,
            "Incorrect version specified in apply patch. Specified patch version: apps/v1beta1, expected: apps/v1"
        );

        let mut config = deployment("repo:tag1");
        config["metadata"]["managedFields"] = json!([]);
        assert_eq!(apply(None, &config, Kind::Deployment).unwrap_err().message, "metadata.managedFields must be nil");

        assert_eq!(apply(None, &deployment("repo:tag1"), Kind::Pod).unwrap_err().code, 400);
        assert_eq!(apply(None, &json!([1]), Kind::Pod).unwrap_err().code, 400);
    }

    #[test]
    fn apply_of_a_uid_with_nothing_live_is_a_conflict() {
        let mut config = deployment("repo:tag1");
        config["metadata"]["uid"] = json!("u-9");
        let err = apply(None, &config, Kind::Deployment).unwrap_err();
        assert_eq!(err.code, 409);
        assert!(err.message.contains("deployments.apps \"web\": uid mismatch"), "{}", err.message);
    }

    #[test]
    fn apply_removes_fields_the_configuration_sets_to_null() {
        let mut live = deployment("repo:tag1");
        live["metadata"]["annotations"] = json!({"a": "1", "b": "2"});
        let mut config = deployment("repo:tag1");
        config["metadata"]["annotations"] = json!({"a": null});
        let out = apply(Some(&live), &config, Kind::Deployment).unwrap();
        assert_eq!(out["metadata"]["annotations"], json!({"b": "2"}));
    }
}
