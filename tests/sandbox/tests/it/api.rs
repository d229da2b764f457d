//! The emulated API server over raw HTTP: discovery, every verb on every served resource and
//! subresource, selectors, paging, resourceVersions and generations, the `Status` errors, the four
//! patch types, authentication, dry runs, the admin API and fault injection with its determinism.
//!
//! Watch streams are tested in `watcher`; kubectl's own view of the server in `kubectl`.

use http::{Method, header};
use rollout_sandbox::{ErrorRule, FaultConfig, ImageBehaviour, Kind, Sandbox};
use serde_json::{Value, json};

use crate::api_support::{Raw, deployment, deployments, enc, pod, rv, sandbox, wait_rolled_out, wait_until};

fn raw(sb: &Sandbox) -> Raw {
    Raw::new(&sb.url(), None)
}

/// Stops the controllers so that tests of pure API semantics race with nothing.
fn pause_controllers(sb: &Sandbox) {
    sb.faults().set(FaultConfig { pause_controllers: true, ..Default::default() }).unwrap();
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|i| {
            let m = &i["metadata"];
            match m["namespace"].as_str() {
                Some(ns) if !ns.is_empty() => format!("{ns}/{}", m["name"].as_str().unwrap()),
                _ => m["name"].as_str().unwrap().to_string(),
            }
        })
        .collect()
}

fn resource<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no resource {name} in {list}"))
}

// ---------------------------------------------------------------------------------------------
// Discovery
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_reports_minor_32_to_raw_and_kube_clients() {
    let sb = sandbox().await;
    let v = raw(&sb).get("/version?timeout=5s").await.expect(200);
    assert_eq!((v["major"].as_str(), v["minor"].as_str()), (Some("1"), Some("32")));
    assert!(v["gitVersion"].as_str().unwrap().starts_with("v1.32."), "{v}");
    let info = crate::api_support::kube_client(&sb).await.apiserver_version().await.unwrap();
    assert_eq!(info.minor, "32");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_discovery_lists_pods_events_and_namespaces() {
    let sb = sandbox().await;
    let c = raw(&sb);
    let api = c.get("/api?timeout=32s").await.expect(200);
    assert_eq!(api["kind"], "APIVersions");
    assert_eq!(api["versions"], json!(["v1"]));
    let v1 = c.get("/api/v1").await.expect(200);
    assert_eq!((v1["kind"].as_str(), v1["groupVersion"].as_str()), (Some("APIResourceList"), Some("v1")));
    let pods = resource(&v1, "pods");
    assert_eq!(pods["shortNames"], json!(["po"]));
    assert_eq!(pods["singularName"], "pod");
    assert_eq!(pods["categories"], json!(["all"]));
    assert_eq!(pods["namespaced"], true);
    assert_eq!(resource(&v1, "pods/log")["verbs"], json!(["get"]));
    resource(&v1, "pods/status");
    assert_eq!(resource(&v1, "events")["kind"], "Event");
    let ns = resource(&v1, "namespaces");
    assert_eq!((ns["namespaced"].as_bool(), ns["kind"].as_str()), (Some(false), Some("Namespace")));
    assert_eq!(ns["shortNames"], json!(["ns"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_discovery_has_short_names_categories_and_the_autoscaling_scale() {
    let sb = sandbox().await;
    let c = raw(&sb);
    let apis = c.get("/apis?timeout=32s").await.expect(200);
    assert_eq!(apis["kind"], "APIGroupList");
    let apps = apis["groups"].as_array().unwrap().iter().find(|g| g["name"] == "apps").expect("apps is listed");
    assert_eq!(apps["preferredVersion"]["groupVersion"], "apps/v1");
    assert_eq!(apps["versions"][0]["version"], "v1");
    let list = c.get("/apis/apps/v1?timeout=32s").await.expect(200);
    assert_eq!(list["groupVersion"], "apps/v1");
    let d = resource(&list, "deployments");
    assert_eq!(d["shortNames"], json!(["deploy"]));
    assert_eq!(d["singularName"], "deployment");
    assert_eq!(d["categories"], json!(["all"]));
    assert_eq!(d["kind"], "Deployment");
    assert_eq!(d["namespaced"], true);
    for verb in ["create", "delete", "get", "list", "patch", "update", "watch"] {
        assert!(d["verbs"].as_array().unwrap().contains(&json!(verb)), "deployments lack the verb {verb}");
    }
    resource(&list, "deployments/status");
    let scale = resource(&list, "deployments/scale");
    assert_eq!(
        (scale["group"].as_str(), scale["version"].as_str(), scale["kind"].as_str()),
        (Some("autoscaling"), Some("v1"), Some("Scale"))
    );
    let rs = resource(&list, "replicasets");
    assert_eq!(rs["shortNames"], json!(["rs"]));
    assert_eq!(rs["singularName"], "replicaset");
    resource(&list, "replicasets/status");
    c.get("/apis/apps/v2").await.expect_status(404, "NotFound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_v3_serves_a_stub_kubectl_can_validate_with_and_v2_is_not_found() {
    let sb = sandbox().await;
    let c = raw(&sb);
    let index = c.get("/openapi/v3").await.expect(200);
    let url = index["paths"]["apis/apps/v1"]["serverRelativeURL"].as_str().expect("apps/v1 is indexed");
    assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="), "{url}");
    let doc = c.get(url).await.expect(200);
    let patch = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert_eq!(
        patch["x-kubernetes-group-version-kind"],
        json!({"group": "apps", "version": "v1", "kind": "Deployment"})
    );
    assert!(
        patch["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "fieldValidation" && p["in"] == "query"),
        "{patch}"
    );
    assert!(doc["components"]["schemas"].is_object());
    c.get("/openapi/v2").await.expect_status(404, "NotFound");
}

// ---------------------------------------------------------------------------------------------
// Object semantics
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_verb_works_on_deployments_and_answers_whole_objects() {
    let sb = sandbox().await;
    pause_controllers(&sb);
    let c = raw(&sb);
    let base = deployments("default");

    let created = c.post(&base, &deployment("web", 1, "repo/web:1")).await;
    assert_eq!(created.content_type(), "application/json");
    assert!(created.headers.contains_key(header::CONTENT_LENGTH), "normal answers carry Content-Length");
    let created = created.expect(201);
    assert_eq!((created["apiVersion"].as_str(), created["kind"].as_str()), (Some("apps/v1"), Some("Deployment")));
    let meta = &created["metadata"];
    assert_eq!(meta["namespace"], "default");
    assert_eq!(meta["generation"], 1);
    assert!(meta["uid"].as_str().is_some_and(|u| u.len() == 36), "{meta}");
    assert!(meta["creationTimestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{meta}");
    rv(&created);

    let got = c.get(&format!("{base}/web")).await.expect(200);
    assert_eq!(got, created);

    let list = c.get(&format!("{base}?limit=500")).await.expect(200);
    assert_eq!((list["kind"].as_str(), list["apiVersion"].as_str()), (Some("DeploymentList"), Some("apps/v1")));
    assert!(rv(&list) >= rv(&created));
    assert_eq!(names(&list), ["default/web"]);

    let mut changed = got.clone();
    changed["spec"]["replicas"] = json!(2);
    let put = c.put(&format!("{base}/web"), &changed).await.expect(200);
    assert_eq!(put["spec"]["replicas"], 2);
    assert_eq!(put["metadata"]["generation"], 2);
    assert!(rv(&put) > rv(&created));

    let patched =
        c.patch(&format!("{base}/web"), "application/merge-patch+json", &json!({"spec": {"replicas": 3}})).await;
    let patched = patched.expect(200);
    assert_eq!(patched["spec"]["replicas"], 3);
    assert!(rv(&patched) > rv(&put));

    c.put(&format!("{base}/absent"), &deployment("absent", 1, "repo/web:1")).await.expect_status(404, "NotFound");
    c.post(&format!("{base}/web"), &deployment("web", 1, "repo/web:1")).await.expect_status(405, "MethodNotAllowed");

    let deleted = c.delete(&format!("{base}/web")).await.expect(200);
    assert_eq!((deleted["kind"].as_str(), deleted["status"].as_str()), (Some("Status"), Some("Success")));
    assert_eq!(deleted["details"]["name"], "web");
    assert_eq!(deleted["details"]["uid"], created["metadata"]["uid"]);
    c.get(&format!("{base}/web")).await.expect_status(404, "NotFound");

    for n in ["x1", "x2", "keep"] {
        let mut d = deployment(n, 1, "repo/x:1");
        d["metadata"]["labels"]["batch"] = json!(if n == "keep" { "no" } else { "yes" });
        c.post(&base, &d).await.expect(201);
    }
    let swept = c.send(Method::DELETE, &format!("{base}?labelSelector={}", enc("batch=yes")), None, Vec::new()).await;
    assert_eq!(swept.expect(200)["status"], "Success");
    assert_eq!(names(&c.get(&format!("{base}?limit=500&timeout=32s&pretty=true")).await.expect(200)), ["default/keep"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_versions_rise_with_every_write_of_any_kind() {
    let sb = sandbox().await;
    pause_controllers(&sb);
    let c = raw(&sb);
    let mut seen = vec![rv(&c.get("/api/v1/namespaces").await.expect(200))];
    seen.push(rv(&c.post("/api/v1/namespaces", &json!({"metadata": {"name": "team"}})).await.expect(201)));
    seen.push(rv(&c.post(&deployments("team"), &deployment("web", 1, "repo/web:1")).await.expect(201)));
    let p = pod("solo", json!({"app": "solo"}), json!([{"name": "app", "image": "repo/solo:1"}]));
    seen.push(rv(&c.post("/api/v1/namespaces/team/pods", &p).await.expect(201)));
    let web = format!("{}/web", deployments("team"));
    seen.push(rv(&c
        .patch(&web, "application/merge-patch+json", &json!({"metadata": {"labels": {"x": "1"}}}))
        .await
        .expect(200)));
    seen.push(rv(&c
        .patch(&format!("{web}/status"), "application/merge-patch+json", &json!({"status": {"replicas": 1}}))
        .await
        .expect(200)));
    seen.push(rv(&c.get(&deployments("team")).await.expect(200)));
    seen.push(rv(&c.post(&deployments("team"), &deployment("api", 1, "repo/api:1")).await.expect(201)));
    seen.push(rv(&c.get("/apis/apps/v1/deployments").await.expect(200)));
    for pair in seen.windows(2) {
        assert!(pair[0] <= pair[1], "resourceVersions went backwards: {seen:?}");
    }
    let writes: Vec<u64> = [seen[1], seen[2], seen[3], seen[4], seen[5], seen[7]].into();
    for pair in writes.windows(2) {
        assert!(pair[0] < pair[1], "every write gets a new, higher resourceVersion: {writes:?}");
    }
    assert_eq!(seen[8], seen[7], "a list after the last write carries its resourceVersion");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generation_moves_on_spec_and_annotation_changes_only() {
    let sb = sandbox().await;
    pause_controllers(&sb);
    let c = raw(&sb);
    let web = format!("{}/web", deployments("default"));
    c.post(&deployments("default"), &deployment("web", 1, "repo/web:1")).await.expect(201);
    let merge = |body: Value| {
        let c = c.clone();
        let web = web.clone();
        async move { c.patch(&web, "application/merge-patch+json", &body).await.expect(200) }
    };
    let generation = |d: &Value| d["metadata"]["generation"].as_i64().unwrap();
    assert_eq!(generation(&merge(json!({"spec": {"replicas": 2}})).await), 2, "a spec change");
    assert_eq!(generation(&merge(json!({"metadata": {"annotations": {"a": "b"}}})).await), 3, "an annotation");
    assert_eq!(generation(&merge(json!({"metadata": {"labels": {"tier": "x"}}})).await), 3, "a label");
    let status = c
        .patch(&format!("{web}/status"), "application/merge-patch+json", &json!({"status": {"replicas": 7}}))
        .await
        .expect(200);
    assert_eq!((generation(&status), status["status"]["replicas"].as_i64()), (3, Some(7)), "a status change");
    let ignored = merge(json!({"status": {"replicas": 9}})).await;
    assert_eq!(ignored["status"]["replicas"], 7, "the main resource does not write status");
    assert_eq!(generation(&ignored), 3);
    let unchanged = merge(json!({"spec": {"replicas": 2}})).await;
    assert_eq!((generation(&unchanged), rv(&unchanged)), (3, rv(&ignored)), "a no-op patch writes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_status_writes_keep_the_spec_and_main_writes_keep_the_status() {
    let sb = sandbox().await;
    pause_controllers(&sb);
    let c = raw(&sb);
    let web = format!("{}/web", deployments("default"));
    c.post(&deployments("default"), &deployment("web", 1, "repo/web:1")).await.expect(201);
    let mut d = c.get(&format!("{web}/status")).await.expect(200);
    assert_eq!(d["kind"], "Deployment");
    d["spec"]["replicas"] = json!(5);
    d["status"] = json!({"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1});
    let put = c.put(&format!("{web}/status"), &d).await.expect(200);
    assert_eq!((put["spec"]["replicas"].as_i64(), put["status"]["updatedReplicas"].as_i64()), (Some(1), Some(1)));
    let mut main = put.clone();
    main["status"] = json!({"replicas": 42});
    main["metadata"]["labels"]["via"] = json!("main");
    let put = c.put(&web, &main).await.expect(200);
    assert_eq!(put["status"]["replicas"], 1);
    assert_eq!(put["metadata"]["labels"]["via"], "main");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_scale_is_read_and_written_as_an_autoscaling_scale() {
    let sb = sandbox().await;
    pause_controllers(&sb);
    let c = raw(&sb);
    let web = format!("{}/web", deployments("default"));
    c.post(&deployments("default"), &deployment("web", 3, "repo/web:1")).await.expect(201);
    let scale = c.get(&format!("{web}/scale")).await.expect(200);
    assert_eq!((scale["kind"].as_str(), scale["apiVersion"].as_str()), (Some("Scale"), Some("autoscaling/v1")));
    assert_eq!(scale["metadata"]["name"], "web");
    assert_eq!(scale["spec"]["replicas"], 3);
    assert_eq!(scale["status"]["selector"], "app=web");

    let put = json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web", "namespace": "default"}, "spec": {"replicas": 5}});
    assert_eq!(c.put(&format!("{web}/scale"), &put).await.expect(200)["spec"]["replicas"], 5);
    let d = c.get(&web).await.expect(200);
    assert_eq!((d["spec"]["replicas"].as_i64(), d["metadata"]["generation"].as_i64()), (Some(5), Some(2)));

    let patched = c
        .patch(&format!("{web}/scale"), "application/merge-patch+json", &json!({"spec": {"replicas": 2}}))
        .await
        .expect(200);
    assert_eq!(patched["spec"]["replicas"], 2);
    let strategic = c
        .patch(&format!("{web}/scale"), "application/strategic-merge-patch+json", &json!({"spec": {"replicas": 4}}))
        .await
        .expect(200);
    assert_eq!(strategic["spec"]["replicas"], 4);
    assert_eq!(c.get(&web).await.expect(200)["spec"]["replicas"], 4);

    let stale = json!({"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": {"name": "web", "resourceVersion": scale["metadata"]["resourceVersion"]}, "spec": {"replicas": 1}});
    c.put(&format!("{web}/scale"), &stale).await.expect_status(409, "Conflict");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicasets_and_their_status_are_served() {
    let sb = sandbox().await;
    pause_controllers(&sb);
    let c = raw(&sb);
    let base = "/apis/apps/v1/namespaces/default/replicasets";
    let mut rs = deployment("web-abc", 0, "repo/web:1");
    rs["kind"] = json!("ReplicaSet");
    rs["spec"]
        .as_object_mut()
        .unwrap()
        .retain(|k, _| ["replicas", "selector", "template", "minReadySeconds"].contains(&k.as_str()));
    let created = c.post(base, &rs).await.expect(201);
    assert_eq!((created["kind"].as_str(), created["metadata"]["generation"].as_i64()), (Some("ReplicaSet"), Some(1)));
    let status = c
        .patch(
            &format!("{base}/web-abc/status"),
            "application/merge-patch+json",
            &json!({"status": {"replicas": 0, "observedGeneration": 1, "fullyLabeledReplicas": 0}}),
        )
        .await
        .expect(200);
    assert_eq!(status["status"]["observedGeneration"], 1);
    assert_eq!(c.get(&format!("{base}/web-abc/status")).await.expect(200)["status"], status["status"]);
    let list = c.get(&format!("{base}?labelSelector={}", enc("app=web-abc"))).await.expect(200);
    assert_eq!(list["kind"], "ReplicaSetList");
    assert_eq!(names(&list), ["default/web-abc"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_are_created_listed_and_deleted_with_their_contents() {
    let sb = sandbox().await;
    let c = raw(&sb);
    let ns = c
        .post("/api/v1/namespaces", &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}))
        .await
        .expect(201);
    assert_eq!(ns["status"]["phase"], "Active");
    assert_eq!(c.get("/api/v1/namespaces/team").await.expect(200)["metadata"]["uid"], ns["metadata"]["uid"]);
    let all = names(&c.get("/api/v1/namespaces").await.expect(200));
    for n in ["default", "kube-system", "team"] {
        assert!(all.contains(&n.to_string()), "{n} missing from {all:?}");
    }
    c.post(&deployments("team"), &deployment("web", 1, "repo/web:1")).await.expect(201);
    let deleting = c.delete("/api/v1/namespaces/team").await.expect(200);
    assert_eq!(deleting["status"]["phase"], "Terminating");
    wait_until(sb.store(), "namespace team and its deployment are gone", |s| {
        s.get(Kind::Namespace, "", "team").is_err() && s.get(Kind::Deployment, "team", "web").is_err()
    })
    .await;
    c.get("/api/v1/namespaces/team").await.expect_status(404, "NotFound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_to_a_namespace_that_does_not_exist_are_not_found() {
    let sb = sandbox().await;
    let c = raw(&sb);
    let s = c.post(&deployments("nowhere"), &deployment("web", 1, "repo/web:1")).await.expect_status(404, "NotFound");
    assert_eq!(s["message"], "namespaces \"nowhere\" not found");
    assert_eq!(s["details"]["kind"], "namespaces");
    c.get(&format!("{}/web", deployments("nowhere"))).await.expect_status(404, "NotFound");
    let apply = c
        .patch(
            &format!("{}/web?fieldManager=t", deployments("nowhere")),
            "application/apply-patch+yaml",
            &deployment("web", 1, "repo/web:1"),
        )
        .await;
    apply.expect_status(404, "NotFound");
}

// ---------------------------------------------------------------------------------------------
// Selectors, cluster-wide lists and paging
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_selectors_support_every_operator() {
    let sb = sandbox().await;
    pause_controllers(&sb);
    let c = raw(&sb);
    for (name, labels) in [
        ("a", json!({"app": "web", "tier": "front", "env": "prod"})),
        ("b", json!({"app": "web", "tier": "back"})),
        ("c", json!({"app": "db", "tier": "back", "env": "dev"})),
        ("d", json!({"app": "db"})),
    ] {
        let mut d = deployment(name, 1, "repo/x:1");
        d["metadata"]["labels"] = labels;
        c.post(&deployments("default"), &d).await.expect(201);
    }
    let table: &[(&str, &[&str])] = &[
        ("app=web", &["a", "b"]),
        ("app==web", &["a", "b"]),
        ("app!=web", &["c", "d"]),
        ("tier in (front,back)", &["a", "b", "c"]),
        ("tier notin (front)", &["b", "c", "d"]),
        ("env", &["a", "c"]),
        ("!env", &["b", "d"]),
        ("app=db,env", &["c"]),
        ("app in (web), tier!=front", &["b"]),
        ("app=nothing", &[]),
        ("", &["a", "b", "c", "d"]),
    ];
    for (selector, want) in table {
        let list = c.get(&format!("{}?labelSelector={}", deployments("default"), enc(selector))).await.expect(200);
        let want: Vec<String> = want.iter().map(|n| format!("default/{n}")).collect();
        assert_eq!(names(&list), want, "labelSelector {selector:?}");
    }
    for bad in ["app in", "app in ()", "a b c", "app=(x)"] {
        c.get(&format!("{}?labelSelector={}", deployments("default"), enc(bad))).await.expect_status(400, "BadRequest");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_selectors_pick_by_name_and_namespace_and_reject_other_fields() {
    let sb = sandbox().await;
    pause_controllers(&sb);
    let c = raw(&sb);
    c.post("/api/v1/namespaces", &json!({"metadata": {"name": "prod"}})).await.expect(201);
    c.post(&deployments("default"), &deployment("web", 1, "repo/web:1")).await.expect(201);
    c.post(&deployments("default"), &deployment("api", 1, "repo/api:1")).await.expect(201);
    c.post(&deployments("prod"), &deployment("web", 1, "repo/web:1")).await.expect(201);
    let table: &[(&str, &[&str])] = &[
        ("metadata.name=web", &["default/web", "prod/web"]),
        ("metadata.name==web", &["default/web", "prod/web"]),
        ("metadata.name!=web", &["default/api"]),
        ("metadata.namespace=prod", &["prod/web"]),
        ("metadata.name=web,metadata.namespace=default", &["default/web"]),
        ("metadata.name=nothing", &[]),
    ];
    for (selector, want) in table {
        let list = c.get(&format!("/apis/apps/v1/deployments?&fieldSelector={}", enc(selector))).await.expect(200);
        assert_eq!(names(&list), *want, "fieldSelector {selector:?}");
    }
    let s = c
        .get(&format!("{}?fieldSelector={}", deployments("default"), enc("spec.replicas=1")))
        .await
        .expect_status(400, "BadRequest");
    assert!(s["message"].as_str().unwrap().contains("spec.replicas"), "the message names the field: {s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_wide_lists_span_every_namespace() {
    let sb = sandbox().await;
    pause_controllers(&sb);
    let c = raw(&sb);
    c.post("/api/v1/namespaces", &json!({"metadata": {"name": "prod"}})).await.expect(201);
    c.post(&deployments("default"), &deployment("web", 1, "repo/web:1")).await.expect(201);
    c.post(&deployments("prod"), &deployment("web", 1, "repo/web:1")).await.expect(201);
    let p = pod("solo", json!({"app": "solo"}), json!([{"name": "app", "image": "repo/solo:1"}]));
    c.post("/api/v1/namespaces/prod/pods", &p).await.expect(201);
    let all = c.get("/apis/apps/v1/deployments").await.expect(200);
    assert_eq!(all["kind"], "DeploymentList");
    assert_eq!(names(&all), ["default/web", "prod/web"]);
    assert_eq!(names(&c.get(&deployments("prod")).await.expect(200)), ["prod/web"]);
    assert_eq!(names(&c.get("/api/v1/pods").await.expect(200)), ["prod/solo"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_with_limit_and_continue() {
    let sb = sandbox().await;
    pause_controllers(&sb);
    let c = raw(&sb);
    for i in 0..5 {
        c.post(&deployments("default"), &deployment(&format!("d{i}"), 1, "repo/x:1")).await.expect(201);
    }
    let mut seen = Vec::new();
    let mut remaining = Vec::new();
    let mut url = format!("{}?limit=2", deployments("default"));
    loop {
        let page = c.get(&url).await.expect(200);
        let items = names(&page);
        assert!(items.len() <= 2, "a page holds at most `limit` items: {items:?}");
        seen.extend(items);
        match page["metadata"]["continue"].as_str() {
            Some(token) => {
                remaining.push(page["metadata"]["remainingItemCount"].as_i64().unwrap());
                url = format!("{}?limit=2&continue={}", deployments("default"), enc(token));
            }
            None => {
                assert!(page["metadata"].get("remainingItemCount").is_none(), "{page}");
                break;
            }
        }
    }
    assert_eq!(seen, ["default/d0", "default/d1", "default/d2", "default/d3", "default/d4"]);
    assert_eq!(remaining, [3, 1]);
    c.get(&format!("{}?limit=2&continue=garbage", deployments("default"))).await.expect_status(400, "BadRequest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_clients_read_and_write_with_every_verb_and_patch_type() {
    use k8s_openapi::api::apps::v1::Deployment;
    use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};

    let sb = sandbox().await;
    pause_controllers(&sb);
    let api: kube::Api<Deployment> = kube::Api::default_namespaced(crate::api_support::kube_client(&sb).await);
    let image =
        |d: &Deployment| d.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0].image.clone().unwrap();
    let d: Deployment = serde_json::from_value(deployment("web", 1, "repo/web:1")).unwrap();
    let created = api.create(&PostParams::default(), &d).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    let listed = api.list(&ListParams::default().labels("app=web")).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert!(listed.metadata.resource_version.is_some());
    assert!(api.list(&ListParams::default().fields("metadata.name=other")).await.unwrap().items.is_empty());

    let set_image = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "repo/web:2"}]}}}});
    let d = api.patch("web", &PatchParams::default(), &Patch::Strategic(&set_image)).await.unwrap();
    assert_eq!(image(&d), "repo/web:2");
    let d = api.patch("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 2}}))).await.unwrap();
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(2));
    let ops = json!([{"op": "test", "path": "/spec/replicas", "value": 2}, {"op": "replace", "path": "/spec/replicas", "value": 3}]);
    let d = api
        .patch("web", &PatchParams::default(), &Patch::Json::<()>(serde_json::from_value(ops).unwrap()))
        .await
        .unwrap();
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(3));
    let failing = json!([{"op": "test", "path": "/spec/replicas", "value": 9}]);
    let e = api
        .patch("web", &PatchParams::default(), &Patch::Json::<()>(serde_json::from_value(failing).unwrap()))
        .await
        .unwrap_err();
    assert!(matches!(&e, kube::Error::Api(s) if s.code == 422), "{e}");

    let applied: Deployment = serde_json::from_value(deployment("api", 2, "repo/api:1")).unwrap();
    let ssa = PatchParams::apply("test-manager").force();
    let api_d = api.patch("api", &ssa, &Patch::Apply(&applied)).await.unwrap();
    assert_eq!((api_d.metadata.generation, image(&api_d)), (Some(1), "repo/api:1".to_string()));

    let mut replaced = api.get("web").await.unwrap();
    replaced.metadata.labels.as_mut().unwrap().insert("tier".into(), "front".into());
    let replaced = api.replace("web", &PostParams::default(), &replaced).await.unwrap();
    assert_eq!(replaced.metadata.labels.as_ref().unwrap()["tier"], "front");
    let e = api.replace("web", &PostParams::default(), &d).await.unwrap_err();
    assert!(matches!(&e, kube::Error::Api(s) if s.code == 409 && s.reason == "Conflict"), "{e}");

    let scale = api.get_scale("web").await.unwrap();
    assert_eq!(scale.spec.as_ref().unwrap().replicas, Some(3));
    let scale =
        api.patch_scale("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 1}}))).await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(1));
    let status = json!({"status": {"observedGeneration": 1, "replicas": 1}});
    let d = api.patch_status("web", &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
    assert_eq!(d.status.unwrap().replicas, Some(1));
    assert_eq!(api.get_status("web").await.unwrap().status.unwrap().observed_generation, Some(1));

    let dry = api.delete("web", &DeleteParams::default().dry_run()).await.unwrap();
    assert!(dry.is_right(), "a Deployment without finalizers is deleted with a Status");
    assert!(api.get_opt("web").await.unwrap().is_some(), "a dry run deletes nothing");
    api.delete("web", &DeleteParams::background()).await.unwrap();
    assert!(api.get_opt("web").await.unwrap().is_none());
    let e = api.get("web").await.unwrap_err();
    assert!(matches!(&e, kube::Error::Api(s) if s.code == 404 && s.reason == "NotFound"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Pods, logs and events
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_logs_are_served_by_container_with_previous_and_tail_lines() {
    let sb = sandbox().await;
    sb.images().set("repo/crasher:1", ImageBehaviour::crashing(3, 2.0, &["one", "two", "panic: three"])).unwrap();
    let c = raw(&sb);
    let p = pod(
        "p",
        json!({"app": "p"}),
        json!([{"name": "app", "image": "repo/crasher:1"}, {"name": "side", "image": "repo/side:1"}]),
    );
    c.post("/api/v1/namespaces/default/pods", &p).await.expect(201);
    wait_until(sb.store(), "the crashing container restarted", |s| {
        s.get(Kind::Pod, "default", "p").is_ok_and(|p| {
            p["status"]["containerStatuses"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|c| c["name"] == "app" && c["restartCount"].as_i64().unwrap_or(0) >= 1))
        })
    })
    .await;
    let log = "/api/v1/namespaces/default/pods/p/log";
    let s = c.get(log).await.expect_status(400, "BadRequest");
    assert!(s["message"].as_str().unwrap().contains("[app side]"), "{s}");
    let all = c.get(&format!("{log}?container=app")).await;
    assert_eq!(all.status, 200);
    assert!(all.content_type().starts_with("text/plain"), "{}", all.content_type());
    assert_eq!(all.text(), "one\ntwo\npanic: three\n");
    assert_eq!(c.get(&format!("{log}?container=app&tailLines=1")).await.text(), "panic: three\n");
    let previous = c.get(&format!("{log}?container=app&previous=true")).await;
    assert_eq!((previous.status.as_u16(), previous.text()), (200, "one\ntwo\npanic: three\n".to_string()));
    assert_eq!(c.get(&format!("{log}?container=side")).await.text(), "");
    c.get(&format!("{log}?container=side&previous=true")).await.expect_status(400, "BadRequest");
    c.get(&format!("{log}?container=nope")).await.expect_status(400, "BadRequest");
    c.get("/api/v1/namespaces/default/pods/missing/log").await.expect_status(404, "NotFound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_are_selected_by_phase_and_deleted_gracefully() {
    let sb = sandbox().await;
    let c = raw(&sb);
    let pods = "/api/v1/namespaces/default/pods";
    for n in ["a", "b"] {
        c.post(pods, &pod(n, json!({"app": n}), json!([{"name": "app", "image": "repo/app:1"}]))).await.expect(201);
    }
    wait_until(sb.store(), "both pods run", |s| {
        ["a", "b"].iter().all(|n| s.get(Kind::Pod, "default", n).is_ok_and(|p| p["status"]["phase"] == "Running"))
    })
    .await;
    let running =
        c.get(&format!("{pods}?fieldSelector={}", enc("status.phase=Running,spec.nodeName=sandbox-node"))).await;
    assert_eq!(names(&running.expect(200)), ["default/a", "default/b"]);

    let deleting = c.delete(&format!("{pods}/a")).await.expect(200);
    assert_eq!(deleting["kind"], "Pod");
    assert!(deleting["metadata"]["deletionTimestamp"].is_string(), "{deleting}");
    assert_eq!(deleting["metadata"]["deletionGracePeriodSeconds"], 30);
    c.delete(&format!("{pods}/b?gracePeriodSeconds=0")).await.expect(200);
    c.get(&format!("{pods}/b")).await.expect_status(404, "NotFound");
    wait_until(sb.store(), "the terminating pod is gone", |s| s.get(Kind::Pod, "default", "a").is_err()).await;
    assert_eq!(names(&c.get(pods).await.expect(200)), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_leaves_events_that_field_selectors_find() {
    let sb = sandbox().await;
    let c = raw(&sb);
    c.post(&deployments("default"), &deployment("web", 2, "repo/web:1")).await.expect(201);
    wait_rolled_out(sb.store(), "default", "web").await;
    let events = "/api/v1/namespaces/default/events";
    let sel = enc("involvedObject.kind=Deployment,involvedObject.name=web");
    let list = c.get(&format!("{events}?fieldSelector={sel}")).await.expect(200);
    assert_eq!(list["kind"], "EventList");
    let items = list["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|e| e["involvedObject"]["name"] == "web" && e["involvedObject"]["kind"] == "Deployment"));
    assert!(items.iter().any(|e| e["reason"] == "ScalingReplicaSet"), "{list}");
    let pod_events = c.get(&format!("{events}?fieldSelector={}", enc("involvedObject.kind=Pod"))).await.expect(200);
    let reasons: Vec<&str> =
        pod_events["items"].as_array().unwrap().iter().filter_map(|e| e["reason"].as_str()).collect();
    for r in ["Scheduled", "Pulled", "Started"] {
        assert!(reasons.contains(&r), "no {r} pod event in {reasons:?}");
    }
    assert!(rv(&c.get("/api/v1/events").await.expect(200)) >= rv(&list));
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_status_objects_with_the_real_codes_and_reasons() {
    let sb = sandbox().await;
    pause_controllers(&sb);
    let c = raw(&sb);
    let base = deployments("default");

    let s = c.get(&format!("{base}/nope")).await.expect_status(404, "NotFound");
    assert_eq!(s["message"], "deployments.apps \"nope\" not found");
    assert_eq!(s["details"], json!({"name": "nope", "group": "apps", "kind": "deployments"}));
    c.get("/apis/apps/v1/namespaces/default/widgets").await.expect_status(404, "NotFound");

    let created = c.post(&base, &deployment("web", 1, "repo/web:1")).await.expect(201);
    let s = c.post(&base, &deployment("web", 1, "repo/web:1")).await.expect_status(409, "AlreadyExists");
    assert_eq!(s["message"], "deployments.apps \"web\" already exists");

    let mut stale = created.clone();
    stale["spec"]["replicas"] = json!(2);
    c.put(&format!("{base}/web"), &stale).await.expect(200);
    stale["spec"]["replicas"] = json!(3);
    let s = c.put(&format!("{base}/web"), &stale).await.expect_status(409, "Conflict");
    assert!(s["message"].as_str().unwrap().contains("the object has been modified"), "{s}");
    let precondition =
        json!({"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}, "spec": {"replicas": 4}});
    c.patch(&format!("{base}/web"), "application/merge-patch+json", &precondition).await.expect_status(409, "Conflict");

    let s =
        c.patch(&format!("{base}/web"), "application/xml", &json!({})).await.expect_status(415, "UnsupportedMediaType");
    assert!(s["message"].as_str().unwrap().contains("application/xml"), "{s}");
    c.put(&format!("{base}/web"), &json!({"kind": "Pod", "metadata": {"name": "web"}}))
        .await
        .expect_status(400, "BadRequest");
    c.send(Method::POST, &base, Some("application/json"), b"{not json".to_vec()).await.expect_status(400, "BadRequest");
    assert_eq!(c.get(&format!("{base}/web")).await.expect(200)["spec"]["replicas"], 2, "failed writes change nothing");
}

/// Depends on the admission helper's validation: it fails until validation is merged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_validation_reports_field_causes() {
    let sb = sandbox().await;
    pause_controllers(&sb);
    let c = raw(&sb);
    type Spoil = fn(&mut Value);
    let cases: &[(&str, Spoil, &str)] = &[
        (
            "selector-mismatch",
            |d| d["spec"]["template"]["metadata"]["labels"] = json!({"app": "other"}),
            "spec.template.metadata.labels",
        ),
        (
            "zero-surge-zero-unavailable",
            |d| d["spec"]["strategy"]["rollingUpdate"] = json!({"maxSurge": 0, "maxUnavailable": 0}),
            "spec.strategy.rollingUpdate.maxUnavailable",
        ),
        (
            "deadline-not-above-min-ready",
            |d| {
                d["spec"]["minReadySeconds"] = json!(30);
                d["spec"]["progressDeadlineSeconds"] = json!(30);
            },
            "spec.progressDeadlineSeconds",
        ),
        ("negative-replicas", |d| d["spec"]["replicas"] = json!(-1), "spec.replicas"),
    ];
    for (name, spoil, field) in cases {
        let mut d = deployment(name, 1, "repo/web:1");
        spoil(&mut d);
        let s = c.post(&deployments("default"), &d).await.expect_status(422, "Invalid");
        let message = s["message"].as_str().unwrap();
        assert!(message.starts_with(&format!("Deployment.apps \"{name}\" is invalid: ")), "{message}");
        assert!(message.contains(field), "{message}");
        assert_eq!((s["details"]["name"].as_str(), s["details"]["kind"].as_str()), (Some(*name), Some("Deployment")));
        let causes = s["details"]["causes"].as_array().unwrap_or_else(|| panic!("no causes in {s}"));
        assert!(
            causes
                .iter()
                .any(|k| k["field"] == *field && k["reason"].as_str().is_some_and(|r| r.starts_with("FieldValue"))),
            "no cause for {field} in {s}"
        );
        c.get(&format!("{}/{name}", deployments("default"))).await.expect_status(404, "NotFound");
    }
    // An update is validated too, and leaves the stored object as it was.
    c.post(&deployments("default"), &deployment("web", 1, "repo/web:1")).await.expect(201);
    let spoil = json!({"spec": {"template": {"metadata": {"labels": {"app": "other"}}}}});
    let s = c
        .patch(&format!("{}/web", deployments("default")), "application/merge-patch+json", &spoil)
        .await
        .expect_status(422, "Invalid");
    assert!(s["details"]["causes"].as_array().is_some_and(|c| !c.is_empty()), "{s}");
    let d = c.get(&format!("{}/web", deployments("default"))).await.expect(200);
    assert_eq!(d["spec"]["template"]["metadata"]["labels"]["app"], "web");
}

// ---------------------------------------------------------------------------------------------
// Patches
// ---------------------------------------------------------------------------------------------

fn two_container_deployment() -> Value {
    let mut d = deployment("web", 1, "repo/web:1");
    d["metadata"]["labels"]["team"] = json!("blue");
    d["spec"]["template"]["spec"]["containers"] = json!([
        {"name": "web", "image": "repo/web:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
         "ports": [{"containerPort": 8443, "protocol": "TCP"}]},
        {"name": "sidecar", "image": "repo/sidecar:1"}
    ]);
    d
}

fn containers(d: &Value) -> &Vec<Value> {
    d["spec"]["template"]["spec"]["containers"].as_array().unwrap()
}

fn assert_no_directives(v: &Value) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                assert!(!k.starts_with('$'), "a directive {k} leaked into the stored object");
                assert_no_directives(v);
            }
        }
        Value::Array(a) => a.iter().for_each(assert_no_directives),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strategic_merge_patches_merge_containers_by_name_and_drop_directives() {
    let sb = sandbox().await;
    pause_controllers(&sb);
    let c = raw(&sb);
    c.post(&deployments("default"), &two_container_deployment()).await.expect(201);
    let web = format!("{}/web?fieldManager=kubectl-set", deployments("default"));
    let smp = "application/strategic-merge-patch+json";
    // What `kubectl set image deployment/web web=repo/web:2` sends.
    let set_image = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
        "containers": [{"image": "repo/web:2", "name": "web"}]}}}});
    let d = c.patch(&web, smp, &set_image).await.expect(200);
    assert_no_directives(&d);
    let cs = containers(&d);
    assert_eq!(cs.len(), 2);
    assert_eq!((cs[0]["name"].as_str(), cs[0]["image"].as_str()), (Some("web"), Some("repo/web:2")));
    assert_eq!(cs[0]["env"], json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]), "env is kept");
    assert_eq!(cs[1]["image"], "repo/sidecar:1");
    assert_eq!(d["metadata"]["generation"], 2);

    let env = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "env": [{"name": "B", "value": "3"}]}]}}},
                     "metadata": {"labels": {"team": null}}});
    let d = c.patch(&web, smp, &env).await.expect(200);
    assert_eq!(containers(&d)[0]["env"], json!([{"name": "A", "value": "1"}, {"name": "B", "value": "3"}]));
    assert!(d["metadata"]["labels"].get("team").is_none(), "null deletes a key");

    let delete = json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}});
    let d = c.patch(&web, smp, &delete).await.expect(200);
    assert_no_directives(&d);
    assert_eq!(containers(&d).iter().map(|c| c["name"].as_str().unwrap()).collect::<Vec<_>>(), ["web"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_patches_apply_operations_and_a_failing_test_is_unprocessable() {
    let sb = sandbox().await;
    pause_controllers(&sb);
    let c = raw(&sb);
    c.post(&deployments("default"), &two_container_deployment()).await.expect(201);
    let web = format!("{}/web", deployments("default"));
    let jp = "application/json-patch+json";
    let ops = json!([
        {"op": "test", "path": "/spec/replicas", "value": 1},
        {"op": "replace", "path": "/spec/replicas", "value": 3},
        {"op": "add", "path": "/metadata/labels/tier", "value": "front"},
        {"op": "remove", "path": "/metadata/labels/team"},
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "repo/web:2"}
    ]);
    let d = c.patch(&web, jp, &ops).await.expect(200);
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(d["metadata"]["labels"], json!({"app": "web", "tier": "front"}));
    assert_eq!(containers(&d)[0]["image"], "repo/web:2");

    let failing = json!([
        {"op": "test", "path": "/spec/replicas", "value": 99},
        {"op": "replace", "path": "/spec/replicas", "value": 5}
    ]);
    c.patch(&web, jp, &failing).await.expect_status(422, "Invalid");
    let missing = json!([{"op": "remove", "path": "/metadata/labels/nothing"}]);
    c.patch(&web, jp, &missing).await.expect_status(422, "Invalid");
    let after = c.get(&web).await.expect(200);
    assert_eq!((after["spec"]["replicas"].as_i64(), rv(&after)), (Some(3), rv(&d)), "a rejected patch writes nothing");
    c.patch(&web, jp, &json!({"op": "replace"})).await.expect_status(400, "BadRequest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_patches_replace_lists_and_delete_with_null() {
    let sb = sandbox().await;
    pause_controllers(&sb);
    let c = raw(&sb);
    c.post(&deployments("default"), &two_container_deployment()).await.expect(201);
    let web = format!("{}/web", deployments("default"));
    let patch = json!({
        "metadata": {"labels": {"team": null, "tier": "front"}},
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "repo/web:2"}]}}}
    });
    let d = c.patch(&web, "application/merge-patch+json", &patch).await.expect(200);
    assert_eq!(d["metadata"]["labels"], json!({"app": "web", "tier": "front"}));
    let images: Vec<(&str, &str)> =
        containers(&d).iter().map(|c| (c["name"].as_str().unwrap(), c["image"].as_str().unwrap())).collect();
    assert_eq!(images, [("web", "repo/web:2")], "lists are replaced whole");
    assert_eq!(containers(&d)[0]["imagePullPolicy"], "IfNotPresent", "the replaced list is defaulted again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_creates_when_missing_and_requires_a_field_manager() {
    let sb = sandbox().await;
    pause_controllers(&sb);
    let c = raw(&sb);
    let api = format!("{}/api", deployments("default"));
    let ssa = "application/apply-patch+yaml";
    let s = c.patch(&api, ssa, &deployment("api", 2, "repo/api:1")).await.expect_status(400, "BadRequest");
    assert!(s["message"].as_str().unwrap().contains("fieldManager"), "{s}");
    c.get(&api).await.expect_status(404, "NotFound");

    let created = c
        .patch(
            &format!("{api}?fieldManager=kubectl&fieldValidation=Strict&force=false"),
            ssa,
            &deployment("api", 2, "repo/api:1"),
        )
        .await
        .expect(201);
    assert_eq!((created["metadata"]["generation"].as_i64(), created["spec"]["replicas"].as_i64()), (Some(1), Some(2)));
    assert!(created["metadata"]["uid"].is_string());

    let yaml = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 4\n";
    let applied = c
        .send(Method::PATCH, &format!("{api}?fieldManager=test&force=true"), Some(ssa), yaml.as_bytes().to_vec())
        .await
        .expect(200);
    assert_eq!(applied["spec"]["replicas"], 4);
    assert_eq!(containers(&applied)[0]["image"], "repo/api:1", "fields the configuration leaves out are kept");
    assert_eq!(applied["metadata"]["uid"], created["metadata"]["uid"]);
    assert_eq!(applied["metadata"]["generation"], 2);
}

// ---------------------------------------------------------------------------------------------
// Authentication, dry runs and the admin API
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_token_is_required_on_everything_but_version() {
    let sb = Sandbox::builder().time_scale(0.01).token("t").start().await.unwrap();
    let with = Raw::new(&sb.url(), Some("t"));
    let without = with.anonymous();
    let wrong = with.with_token("u");
    assert_eq!(without.get("/version").await.expect(200)["minor"], "32");
    let default_deployments = deployments("default");
    for c in [&without, &wrong] {
        for path in ["/api", "/apis/apps/v1", "/api/v1/namespaces", default_deployments.as_str(), "/sandbox/v1/info"] {
            let s = c.get(path).await.expect_status(401, "Unauthorized");
            assert_eq!(s["message"], "Unauthorized");
        }
    }
    with.get(&deployments("default")).await.expect(200);
    with.post(&deployments("default"), &deployment("web", 1, "repo/web:1")).await.expect(201);
    // The kubeconfig carries the token, so a kube client built from it is let in.
    let client = crate::api_support::kube_client(&sb).await;
    let api: kube::Api<k8s_openapi::api::apps::v1::Deployment> = kube::Api::default_namespaced(client);
    assert_eq!(api.get("web").await.unwrap().metadata.name.as_deref(), Some("web"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_writes_answer_the_result_and_store_nothing() {
    let sb = sandbox().await;
    pause_controllers(&sb);
    let c = raw(&sb);
    let base = deployments("default");
    let before = sb.store().resource_version();
    let dry = c.post(&format!("{base}?dryRun=All"), &deployment("web", 1, "repo/web:1")).await.expect(201);
    assert_eq!(dry["metadata"]["name"], "web");
    c.get(&format!("{base}/web")).await.expect_status(404, "NotFound");
    assert_eq!(sb.store().resource_version(), before);

    let stored = c.post(&base, &deployment("web", 1, "repo/web:1")).await.expect(201);
    let at = sb.store().resource_version();
    let patched = c
        .patch(&format!("{base}/web?dryRun=All"), "application/merge-patch+json", &json!({"spec": {"replicas": 5}}))
        .await
        .expect(200);
    assert_eq!(patched["spec"]["replicas"], 5);
    let mut put = stored.clone();
    put["spec"]["replicas"] = json!(6);
    assert_eq!(c.put(&format!("{base}/web?dryRun=All"), &put).await.expect(200)["spec"]["replicas"], 6);
    c.patch(
        &format!("{base}/web?dryRun=All&fieldManager=m"),
        "application/apply-patch+yaml",
        &deployment("web", 7, "repo/web:1"),
    )
    .await
    .expect(200);
    c.delete(&format!("{base}/web?dryRun=All")).await.expect(200);
    assert_eq!(c.get(&format!("{base}/web")).await.expect(200), stored);
    assert_eq!(sb.store().resource_version(), at, "no dry run wrote anything");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_reports_facts_and_sets_faults_and_images() {
    let sb = Sandbox::builder().time_scale(0.01).seed(99).start().await.unwrap();
    let c = raw(&sb);
    let info = c.get("/sandbox/v1/info").await.expect(200);
    assert_eq!(info["url"], sb.url());
    assert_eq!(info["seed"], 99);
    assert_eq!(info["timeScale"], 0.01);
    assert!(info["resourceVersion"].as_str().is_some_and(|r| r.parse::<u64>().is_ok()), "{info}");

    let faults = json!({"errors": [{"verb": "get", "resource": "deployments", "status": 429, "probability": 1.0, "retryAfterSeconds": 3}], "latencyMs": 1});
    c.put("/sandbox/v1/faults", &faults).await.expect(200);
    assert_eq!(c.get("/sandbox/v1/faults").await.expect(200), faults);
    assert_eq!(sb.faults().config().errors[0].retry_after_seconds, 3);
    let s =
        c.put("/sandbox/v1/faults", &json!({"writeConflictProbability": 2.0})).await.expect_status(400, "BadRequest");
    assert!(s["message"].as_str().unwrap().contains("writeConflictProbability"), "{s}");
    c.put("/sandbox/v1/faults", &json!({"noSuchFault": true})).await.expect_status(400, "BadRequest");
    c.delete("/sandbox/v1/faults").await.expect(200);
    assert_eq!(sb.faults().config(), FaultConfig::default());

    c.put("/sandbox/v1/images", &json!({"image": "repo/slow:*", "neverReady": true})).await.expect(200);
    let images = c.get("/sandbox/v1/images").await.expect(200);
    assert!(
        images["images"].as_array().unwrap().iter().any(|i| i["image"] == "repo/slow:*" && i["neverReady"] == true),
        "{images}"
    );
    c.put("/sandbox/v1/images", &json!({"neverReady": true})).await.expect_status(400, "BadRequest");
    let removed = c.delete(&format!("/sandbox/v1/images?image={}", enc("repo/slow:*"))).await.expect(200);
    assert_eq!(removed["removed"], true);
    assert_eq!(c.get("/sandbox/v1/images").await.expect(200)["images"], json!([]));

    let compacted = c.send(Method::POST, "/sandbox/v1/compact", None, Vec::new()).await.expect(200);
    assert_eq!(compacted["compactedThrough"], info["resourceVersion"]);
    c.get("/sandbox/v1/nothing").await.expect_status(404, "NotFound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubeconfig_points_at_the_sandbox_and_shutdown_stops_it() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    sb.write_kubeconfig(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, sb.kubeconfig());
    assert!(
        text.contains(&format!("server: {}", sb.url())) && text.contains("current-context: rollout-sandbox"),
        "{text}"
    );
    let client = crate::api_support::kube_client(&sb).await;
    assert_eq!(client.default_namespace(), "default");
    let nss: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client);
    assert!(nss.get("kube-system").await.is_ok());
    let addr = sb.addr();
    assert!(addr.ip().is_loopback(), "the server binds to loopback only");
    sb.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "nothing listens after shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_requests_are_counted_by_verb_and_resource() {
    let sb = sandbox().await;
    let before = sb.requests();
    let r = raw(&sb);
    r.get("/version").await.expect(200);
    r.get("/apis/apps/v1").await.expect(200);
    r.get("/apis/apps/v1/namespaces/default/deployments").await.expect(200);
    r.get("/apis/apps/v1/namespaces/default/deployments/missing").await.expect(404);
    r.get("/apis/apps/v1/namespaces/default/deployments/missing/status").await.expect(404);
    // A watch from a version the server has not reached ends at once (504), and still counts.
    r.get("/api/v1/namespaces/default/pods?watch=true&resourceVersion=999999999").await.expect(504);
    r.get("/no/such/path").await.expect(404);
    let counts = sb.requests().since(&before);
    let expected = [
        ("discovery", 1),
        ("get deployments", 1),
        ("get deployments/status", 1),
        ("list deployments", 1),
        ("unknown", 1),
        ("version", 1),
        ("watch pods", 1),
    ];
    let expected = expected.into_iter().map(|(k, n)| (k.to_string(), n)).collect();
    assert_eq!(counts.by_kind, expected);
    assert_eq!(counts.starting_with("watch "), 1);
    assert!(counts.connections >= 1, "{counts:?}");
}

// ---------------------------------------------------------------------------------------------
// Fault injection
// ---------------------------------------------------------------------------------------------

fn rule(verb: Option<&str>, resource: Option<&str>, status: u16, probability: f64) -> ErrorRule {
    ErrorRule {
        verb: verb.map(Into::into),
        resource: resource.map(Into::into),
        status,
        probability,
        retry_after_seconds: 2,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_errors_answer_429_503_and_500_for_their_verb_and_resource_only() {
    let sb = sandbox().await;
    let c = raw(&sb);
    c.post(&deployments("default"), &deployment("web", 1, "repo/web:1")).await.expect(201);
    let web = format!("{}/web", deployments("default"));
    for (status, reason, retry_after) in
        [(429, "TooManyRequests", Some("2")), (503, "ServiceUnavailable", Some("2")), (500, "InternalError", None)]
    {
        sb.faults()
            .set(FaultConfig {
                errors: vec![rule(Some("get"), Some("deployments"), status, 1.0)],
                ..Default::default()
            })
            .unwrap();
        let r = c.get(&web).await;
        r.expect_status(status, reason);
        assert_eq!(
            r.headers.get(header::RETRY_AFTER).map(|v| v.to_str().unwrap()),
            retry_after,
            "Retry-After of {status}"
        );
        c.get(&deployments("default")).await.expect(200);
        c.get("/api/v1/namespaces/default").await.expect(200);
        c.get("/version").await.expect(200);
    }
    sb.faults().clear();
    c.get(&web).await.expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_write_conflicts_answer_409_and_leave_the_object_alone() {
    let sb = sandbox().await;
    let c = raw(&sb);
    c.post(&deployments("default"), &deployment("web", 1, "repo/web:1")).await.expect(201);
    let web = format!("{}/web", deployments("default"));
    sb.faults().set(FaultConfig { write_conflict_probability: 1.0, ..Default::default() }).unwrap();
    let s = c
        .patch(&web, "application/merge-patch+json", &json!({"spec": {"replicas": 2}}))
        .await
        .expect_status(409, "Conflict");
    assert!(s["message"].as_str().unwrap().contains("please apply your changes to the latest version"), "{s}");
    let d = c.get(&web).await.expect(200);
    assert_eq!(d["spec"]["replicas"], 1);
    c.put(&web, &d).await.expect_status(409, "Conflict");
    sb.faults().clear();
    c.patch(&web, "application/merge-patch+json", &json!({"spec": {"replicas": 2}})).await.expect(200);
}

/// The status codes a fixed sequence of requests gets from a sandbox seeded with `seed` whose
/// faults fail about half of all requests.
async fn fault_pattern(seed: u64) -> Vec<u16> {
    let sb = Sandbox::builder().time_scale(0.01).seed(seed).start().await.unwrap();
    let c = raw(&sb);
    c.post(&deployments("default"), &deployment("web", 1, "repo/web:1")).await.expect(201);
    sb.faults()
        .set(FaultConfig {
            errors: vec![rule(Some("get"), None, 429, 0.3), rule(None, Some("deployments"), 500, 0.3)],
            write_conflict_probability: 0.5,
            ..Default::default()
        })
        .unwrap();
    let web = format!("{}/web", deployments("default"));
    let mut codes = Vec::new();
    for i in 0..16 {
        codes.push(c.get(&web).await.status.as_u16());
        codes.push(c.get(&deployments("default")).await.status.as_u16());
        let patch = json!({"metadata": {"annotations": {"step": i.to_string()}}});
        codes.push(c.patch(&web, "application/merge-patch+json", &patch).await.status.as_u16());
        codes.push(c.get("/api/v1/namespaces/default").await.status.as_u16());
    }
    sb.shutdown().await;
    codes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_and_requests_give_the_same_faults() {
    let first = fault_pattern(42).await;
    let second = fault_pattern(42).await;
    assert_eq!(first, second);
    for code in [200, 409, 429, 500] {
        assert!(first.contains(&code), "the pattern exercises {code}: {first:?}");
    }
    assert_ne!(fault_pattern(43).await, first, "another seed fails other requests");
}
