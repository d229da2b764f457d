//! Discovery documents: `/version`, legacy `/api` and `/apis` discovery, and the minimal OpenAPI v3
//! documents that let `kubectl apply` validate by default.
//!
//! Legacy (non-aggregated) discovery is served: kubectl falls back to it and then asks for each
//! `APIResourceList`. `shortNames`, `singularName` and `categories` are required in practice —
//! without them `kubectl get deploy` and `kubectl get all` do not resolve the resources.

use serde_json::{Value, json};

use crate::kinds::{KINDS, KindInfo};

/// The Kubernetes version the sandbox reports; kubectl's version dispatcher picks its 1.32 binary by
/// the minor version.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": "v1.32.4-rollout-sandbox",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.8",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// `GET /api`.
pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]
    })
}

fn groups() -> Vec<&'static str> {
    let mut gs: Vec<&str> = KINDS.iter().map(|k| k.group).filter(|g| !g.is_empty()).collect();
    gs.dedup();
    gs
}

fn group_doc(name: &str) -> Value {
    let gv = json!({"groupVersion": format!("{name}/v1"), "version": "v1"});
    json!({"name": name, "versions": [gv.clone()], "preferredVersion": gv})
}

/// `GET /apis`.
pub fn group_list() -> Value {
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups().into_iter().map(group_doc).collect::<Vec<_>>()})
}

/// `GET /apis/{group}`.
pub fn group(name: &str) -> Option<Value> {
    groups().contains(&name).then(|| {
        let mut g = group_doc(name);
        g["kind"] = json!("APIGroup");
        g["apiVersion"] = json!("v1");
        g
    })
}

fn resource_entries(info: &KindInfo) -> Vec<Value> {
    let mut out = vec![json!({
        "name": info.plural,
        "singularName": info.singular,
        "namespaced": info.namespaced,
        "kind": info.name,
        "verbs": info.verbs(),
        "shortNames": info.short_names,
        "categories": info.categories,
    })];
    for sub in info.subresources {
        let mut e = json!({
            "name": format!("{}/{}", info.plural, sub),
            "singularName": "",
            "namespaced": info.namespaced,
            "kind": info.name,
            "verbs": ["get", "patch", "update"],
        });
        match *sub {
            "scale" => {
                e["group"] = json!("autoscaling");
                e["version"] = json!("v1");
                e["kind"] = json!("Scale");
            }
            "log" => {
                e["kind"] = json!("Pod");
                e["verbs"] = json!(["get"]);
            }
            _ => {}
        }
        out.push(e);
    }
    out
}

/// `GET /api/v1` or `GET /apis/{group}/{version}`.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let resources: Vec<Value> =
        KINDS.iter().filter(|k| k.group == group && k.version == version).flat_map(resource_entries).collect();
    if resources.is_empty() {
        return None;
    }
    let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}))
}

/// `GET /openapi/v3`: one path per served group-version.
pub fn openapi_index() -> Value {
    let mut paths = serde_json::Map::new();
    paths.insert("api/v1".into(), json!({"serverRelativeURL": "/openapi/v3/api/v1?hash=5A4D1E2B"}));
    for g in groups() {
        let key = format!("apis/{g}/v1");
        paths.insert(key.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash=5A4D1E2B")}));
    }
    json!({"paths": paths})
}

/// `GET /openapi/v3/api/v1` or `/openapi/v3/apis/{group}/{version}`: just enough for kubectl to find
/// the kinds and the `fieldValidation` parameter, so it validates on the server (`fieldValidation=Strict`).
/// Schemas are left empty; the server validates what it stores.
pub fn openapi_group_version(group: &str, version: &str) -> Option<Value> {
    let kinds: Vec<&KindInfo> = KINDS.iter().filter(|k| k.group == group && k.version == version).collect();
    if kinds.is_empty() {
        return None;
    }
    let prefix = if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{group}/{version}") };
    let mut paths = serde_json::Map::new();
    for k in kinds {
        let gvk = json!({"group": group, "version": version, "kind": k.name});
        let op = |verb: &str| {
            json!({
                "operationId": format!("{verb}{}", k.name),
                "x-kubernetes-action": verb,
                "x-kubernetes-group-version-kind": gvk,
                "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}}]
            })
        };
        let item = if k.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", k.plural)
        } else {
            format!("{prefix}/{}/{{name}}", k.plural)
        };
        let collection = if k.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}", k.plural)
        } else {
            format!("{prefix}/{}", k.plural)
        };
        paths.insert(item, json!({"get": op("get"), "put": op("put"), "patch": op("patch"), "delete": op("delete")}));
        paths.insert(collection, json!({"get": op("list"), "post": op("post")}));
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.4"},
        "paths": paths,
        "components": {"schemas": {}}
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployments_are_discoverable_by_short_name_and_category() {
        let apps = resource_list("apps", "v1").unwrap();
        let deploy = apps["resources"].as_array().unwrap().iter().find(|r| r["name"] == "deployments").unwrap();
        assert_eq!(deploy["shortNames"], json!(["deploy"]));
        assert_eq!(deploy["categories"], json!(["all"]));
        assert_eq!(deploy["singularName"], "deployment");
        let scale = apps["resources"].as_array().unwrap().iter().find(|r| r["name"] == "deployments/scale").unwrap();
        assert_eq!(scale["group"], "autoscaling");
        assert!(resource_list("apps", "v2").is_none());
    }

    #[test]
    fn the_openapi_stub_declares_field_validation_for_deployment_patches() {
        let doc = openapi_group_version("apps", "v1").unwrap();
        let patch = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "Deployment");
        assert_eq!(patch["parameters"][0]["name"], "fieldValidation");
        assert!(openapi_index()["paths"]["apis/apps/v1"]["serverRelativeURL"].as_str().is_some());
    }

    #[test]
    fn the_version_has_minor_32() {
        assert_eq!(version()["minor"], "32");
    }
}
