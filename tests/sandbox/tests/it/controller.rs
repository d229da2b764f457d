//! The simulated controllers end to end: condition timelines, progress deadlines, pause and resume,
//! rollback renumbering, history cleanup, Recreate ordering and proportional scaling, each checked
//! against what the upstream controller does.

use std::time::Duration;

use rollout_sandbox::store::{EventType, Store, Subresource};
use rollout_sandbox::{ImageBehaviour, Kind, Sandbox, json};
use serde_json::{Value, json};

/// Waits until `cond` holds, re-checking on every change in the store; panics after `timeout`
/// (real time), which only bounds a failing test.
pub async fn wait_for(sb: &Sandbox, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let mut feed = sb.store().observe();
    let deadline = tokio::time::Instant::now() + timeout;
    while !cond() {
        tokio::select! {
            ev = feed.recv() => { ev.expect("the store outlives the test"); }
            _ = tokio::time::sleep_until(deadline) => panic!("condition not met within {timeout:?}"),
        }
    }
}

/// kubectl's "successfully rolled out": observed, all replicas updated, no old ones left, all available.
pub fn complete(store: &Store, name: &str) -> bool {
    let Ok(d) = store.get(Kind::Deployment, "default", name) else { return false };
    let g = |p: &[&str]| json::get_i64(&d, p).unwrap_or(0);
    let replicas = g(&["spec", "replicas"]);
    g(&["metadata", "generation"]) <= g(&["status", "observedGeneration"])
        && g(&["status", "updatedReplicas"]) == replicas
        && g(&["status", "replicas"]) == replicas
        && g(&["status", "availableReplicas"]) == replicas
}

fn deployment(name: &str, replicas: i32, image: &str) -> Value {
    json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{
                    "name": "app",
                    "image": image,
                    "readinessProbe": {"tcpSocket": {"port": 8080}, "initialDelaySeconds": 2, "periodSeconds": 2}
                }]}
            }
        }
    })
}

fn set_image(store: &Store, name: &str, image: &str) {
    store
        .modify(Kind::Deployment, "default", name, Subresource::Main, false, |d| {
            let mut d = d.clone();
            d["spec"]["template"]["spec"]["containers"][0]["image"] = json!(image);
            Ok(d)
        })
        .unwrap();
}

fn condition(d: &Value, type_: &str) -> Option<(String, String, String)> {
    json::get(d, &["status", "conditions"])?.as_array()?.iter().find(|c| c["type"] == type_).map(|c| {
        let s = |k: &str| c[k].as_str().unwrap_or("").to_string();
        (s("status"), s("reason"), s("message"))
    })
}

fn replica_sets(store: &Store, app: &str) -> Vec<Value> {
    store
        .list(
            Kind::ReplicaSet,
            Some("default"),
            &|rs| json::labels(rs).get("app").map(String::as_str) == Some(app),
            None,
            None,
        )
        .unwrap()
        .items
        .iter()
        .map(|a| (**a).clone())
        .collect()
}

fn rs_with_image<'a>(sets: &'a [Value], image: &str) -> &'a Value {
    sets.iter()
        .find(|rs| rs["spec"]["template"]["spec"]["containers"][0]["image"] == image)
        .unwrap_or_else(|| panic!("no replica set runs {image}"))
}

async fn sandbox() -> Sandbox {
    Sandbox::builder().time_scale(0.02).seed(3).start().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_deployment_walks_through_the_controller_conditions() {
    let sb = sandbox().await;
    let store = sb.store().clone();
    let mut feed = store.observe();
    store.create(Kind::Deployment, "default", deployment("web", 3, "web:1"), false).unwrap();
    wait_for(&sb, Duration::from_secs(30), || complete(&store, "web")).await;
    let mut progressing = Vec::new();
    let mut available = Vec::new();
    while let Ok(ev) = feed.try_recv() {
        if ev.kind != Kind::Deployment || ev.event_type == EventType::Deleted {
            continue;
        }
        if let Some((_, reason, _)) = condition(&ev.object, "Progressing")
            && progressing.last() != Some(&reason)
        {
            progressing.push(reason);
        }
        if let Some((status, reason, _)) = condition(&ev.object, "Available")
            && available.last() != Some(&(status.clone(), reason.clone()))
        {
            available.push((status, reason));
        }
    }
    assert_eq!(progressing.first().map(String::as_str), Some("NewReplicaSetCreated"));
    assert_eq!(progressing.last().map(String::as_str), Some("NewReplicaSetAvailable"));
    assert!(
        progressing
            .iter()
            .all(|r| ["NewReplicaSetCreated", "ReplicaSetUpdated", "NewReplicaSetAvailable"].contains(&r.as_str()))
    );
    assert_eq!(
        available,
        [
            ("False".to_string(), "MinimumReplicasUnavailable".to_string()),
            ("True".to_string(), "MinimumReplicasAvailable".to_string())
        ]
    );
    let d = store.get(Kind::Deployment, "default", "web").unwrap();
    let rs = &replica_sets(&store, "web")[0];
    let (_, _, message) = condition(&d, "Progressing").unwrap();
    assert_eq!(message, format!("ReplicaSet \"{}\" has successfully progressed.", json::name(rs)));
    assert_eq!(json::annotation(&d, "deployment.kubernetes.io/revision"), Some("1"));
    assert_eq!(json::annotation(rs, "deployment.kubernetes.io/desired-replicas"), Some("3"));
    assert_eq!(json::annotation(rs, "deployment.kubernetes.io/max-replicas"), Some("4"));
    assert!(sb.internal_errors().is_empty(), "{:?}", sb.internal_errors());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_rollout_exceeds_its_progress_deadline_while_old_pods_keep_serving() {
    let sb = sandbox().await;
    let store = sb.store().clone();
    sb.images().set("web:stuck", ImageBehaviour::never_ready()).unwrap();
    let mut d = deployment("web", 2, "web:1");
    d["spec"]["progressDeadlineSeconds"] = json!(30);
    store.create(Kind::Deployment, "default", d, false).unwrap();
    wait_for(&sb, Duration::from_secs(30), || complete(&store, "web")).await;
    set_image(&store, "web", "web:stuck");
    let timed_out = || {
        let d = store.get(Kind::Deployment, "default", "web").unwrap();
        condition(&d, "Progressing").is_some_and(|(s, r, _)| s == "False" && r == "ProgressDeadlineExceeded")
    };
    wait_for(&sb, Duration::from_secs(30), timed_out).await;
    let d = store.get(Kind::Deployment, "default", "web").unwrap();
    let sets = replica_sets(&store, "web");
    let new_rs = rs_with_image(&sets, "web:stuck");
    let (_, _, message) = condition(&d, "Progressing").unwrap();
    assert_eq!(message, format!("ReplicaSet \"{}\" has timed out progressing.", json::name(new_rs)));
    assert_eq!(condition(&d, "Available").unwrap().0, "True", "the old pods keep the Deployment available");
    assert_eq!(json::get_i64(&d, &["status", "availableReplicas"]), Some(2));
    assert!(sb.internal_errors().is_empty(), "{:?}", sb.internal_errors());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_deployment_creates_no_replica_set_until_resumed() {
    let sb = sandbox().await;
    let store = sb.store().clone();
    store.create(Kind::Deployment, "default", deployment("web", 2, "web:1"), false).unwrap();
    wait_for(&sb, Duration::from_secs(30), || complete(&store, "web")).await;
    let pause = |paused: bool| {
        store
            .modify(Kind::Deployment, "default", "web", Subresource::Main, false, |d| {
                let mut d = d.clone();
                d["spec"]["paused"] = json!(paused);
                Ok(d)
            })
            .unwrap()
    };
    pause(true);
    set_image(&store, "web", "web:2");
    let paused_condition = || {
        let d = store.get(Kind::Deployment, "default", "web").unwrap();
        let observed =
            json::get_i64(&d, &["status", "observedGeneration"]) == json::get_i64(&d, &["metadata", "generation"]);
        observed && condition(&d, "Progressing").is_some_and(|(s, r, _)| s == "Unknown" && r == "DeploymentPaused")
    };
    wait_for(&sb, Duration::from_secs(30), paused_condition).await;
    assert_eq!(replica_sets(&store, "web").len(), 1, "no new replica set while paused");
    pause(false);
    wait_for(&sb, Duration::from_secs(30), || complete(&store, "web")).await;
    let sets = replica_sets(&store, "web");
    assert_eq!(sets.len(), 2);
    assert_eq!(rs_with_image(&sets, "web:2")["spec"]["replicas"], 2);
    assert!(sb.internal_errors().is_empty(), "{:?}", sb.internal_errors());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_reuses_the_old_replica_set_and_renumbers_it() {
    let sb = sandbox().await;
    let store = sb.store().clone();
    store.create(Kind::Deployment, "default", deployment("web", 2, "web:1"), false).unwrap();
    wait_for(&sb, Duration::from_secs(30), || complete(&store, "web")).await;
    set_image(&store, "web", "web:2");
    wait_for(&sb, Duration::from_secs(30), || complete(&store, "web")).await;
    // What `kubectl rollout undo` does: put back revision 1's template, without its hash label.
    let sets = replica_sets(&store, "web");
    let mut template = rs_with_image(&sets, "web:1")["spec"]["template"].clone();
    template["metadata"]["labels"].as_object_mut().unwrap().remove("pod-template-hash");
    template["metadata"]["creationTimestamp"] = Value::Null;
    store
        .modify(Kind::Deployment, "default", "web", Subresource::Main, false, |d| {
            let mut d = d.clone();
            d["spec"]["template"] = template.clone();
            Ok(d)
        })
        .unwrap();
    wait_for(&sb, Duration::from_secs(30), || {
        complete(&store, "web")
            && store
                .get(Kind::Deployment, "default", "web")
                .is_ok_and(|d| json::annotation(&d, "deployment.kubernetes.io/revision") == Some("3"))
    })
    .await;
    let sets = replica_sets(&store, "web");
    assert_eq!(sets.len(), 2, "no third replica set: the old one is reused");
    let old = rs_with_image(&sets, "web:1");
    assert_eq!(json::annotation(old, "deployment.kubernetes.io/revision"), Some("3"));
    assert_eq!(json::annotation(old, "deployment.kubernetes.io/revision-history"), Some("1"));
    assert_eq!(old["spec"]["replicas"], 2);
    assert_eq!(rs_with_image(&sets, "web:2")["spec"]["replicas"], 0);
    assert!(sb.internal_errors().is_empty(), "{:?}", sb.internal_errors());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_revision_history_limit_deletes_the_oldest_idle_replica_sets() {
    let sb = sandbox().await;
    let store = sb.store().clone();
    let mut d = deployment("web", 1, "web:1");
    d["spec"]["revisionHistoryLimit"] = json!(1);
    store.create(Kind::Deployment, "default", d, false).unwrap();
    wait_for(&sb, Duration::from_secs(30), || complete(&store, "web")).await;
    for tag in ["web:2", "web:3", "web:4"] {
        set_image(&store, "web", tag);
        wait_for(&sb, Duration::from_secs(30), || complete(&store, "web")).await;
    }
    wait_for(&sb, Duration::from_secs(30), || replica_sets(&store, "web").len() == 2).await;
    let sets = replica_sets(&store, "web");
    let mut revisions: Vec<&str> =
        sets.iter().filter_map(|rs| json::annotation(rs, "deployment.kubernetes.io/revision")).collect();
    revisions.sort();
    assert_eq!(revisions, ["3", "4"], "the newest idle one is kept beside the live one");
    assert!(sb.internal_errors().is_empty(), "{:?}", sb.internal_errors());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreate_starts_no_new_pod_while_an_old_one_exists() {
    let sb = sandbox().await;
    let store = sb.store().clone();
    let mut d = deployment("web", 3, "web:1");
    d["spec"]["strategy"] = json!({"type": "Recreate"});
    store.create(Kind::Deployment, "default", d, false).unwrap();
    wait_for(&sb, Duration::from_secs(30), || complete(&store, "web")).await;
    let mut feed = store.observe();
    set_image(&store, "web", "web:2");
    wait_for(&sb, Duration::from_secs(30), || complete(&store, "web")).await;
    let sets = replica_sets(&store, "web");
    let old_hash = json::labels(rs_with_image(&sets, "web:1"))["pod-template-hash"].clone();
    // Replay the change feed: the first new pod must appear after the last old pod was removed.
    let mut old_pods = std::collections::BTreeSet::new();
    let mut last_old_gone = None;
    let mut first_new = None;
    let mut seen_old = false;
    let mut i = 0u64;
    while let Ok(ev) = feed.try_recv() {
        i += 1;
        if ev.kind != Kind::Pod {
            continue;
        }
        let hash = json::labels(&ev.object).get("pod-template-hash").cloned().unwrap_or_default();
        let name = json::name(&ev.object).to_string();
        if hash == old_hash {
            seen_old = true;
            match ev.event_type {
                EventType::Deleted => {
                    old_pods.remove(&name);
                    if old_pods.is_empty() {
                        last_old_gone = Some(i);
                    }
                }
                _ => {
                    old_pods.insert(name);
                }
            }
        } else if ev.event_type == EventType::Added && first_new.is_none() {
            first_new = Some(i);
        }
    }
    assert!(seen_old);
    assert!(first_new.is_some_and(|n| last_old_gone.is_some_and(|g| n > g)), "new pods before the old ones were gone");
    assert!(sb.internal_errors().is_empty(), "{:?}", sb.internal_errors());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_in_the_middle_of_a_rollout_is_proportional() {
    let sb = sandbox().await;
    let store = sb.store().clone();
    sb.images().set("web:stuck", ImageBehaviour::never_ready()).unwrap();
    let mut d = deployment("web", 10, "web:1");
    d["spec"]["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}});
    store.create(Kind::Deployment, "default", d, false).unwrap();
    wait_for(&sb, Duration::from_secs(30), || complete(&store, "web")).await;
    set_image(&store, "web", "web:stuck");
    // The rollout stalls with 8 old and 5 new (never ready) replicas: 13 = 10 + maxSurge, and the
    // old side may not drop below 10 - maxUnavailable.
    let sizes = |store: &Store| {
        let sets = replica_sets(store, "web");
        let size = |image: &str| {
            sets.iter()
                .find(|rs| rs["spec"]["template"]["spec"]["containers"][0]["image"] == image)
                .and_then(|rs| rs["spec"]["replicas"].as_i64())
        };
        (size("web:1"), size("web:stuck"))
    };
    wait_for(&sb, Duration::from_secs(30), || sizes(&store) == (Some(8), Some(5))).await;
    store
        .modify(Kind::Deployment, "default", "web", Subresource::Main, false, |d| {
            let mut d = d.clone();
            d["spec"]["replicas"] = json!(20);
            Ok(d)
        })
        .unwrap();
    // 23 allowed, 10 to add: 8 * 23 / 13 = 14.2 -> 14 old, 5 * 23 / 13 = 8.8 -> 9 new.
    wait_for(&sb, Duration::from_secs(30), || sizes(&store) == (Some(14), Some(9))).await;
    assert!(sb.internal_errors().is_empty(), "{:?}", sb.internal_errors());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_become_available_only_min_ready_seconds_after_they_are_ready() {
    let sb = sandbox().await;
    let store = sb.store().clone();
    let mut d = deployment("web", 2, "web:1");
    d["spec"]["minReadySeconds"] = json!(20);
    store.create(Kind::Deployment, "default", d, false).unwrap();
    let counts = || {
        let d = store.get(Kind::Deployment, "default", "web").unwrap();
        (
            json::get_i64(&d, &["status", "readyReplicas"]).unwrap_or(0),
            json::get_i64(&d, &["status", "availableReplicas"]).unwrap_or(0),
        )
    };
    wait_for(&sb, Duration::from_secs(30), || counts().0 == 2).await;
    let ready_at = sb.clock().now();
    assert_eq!(counts().1, 0, "ready is not yet available");
    wait_for(&sb, Duration::from_secs(30), || complete(&store, "web")).await;
    let waited = sb.clock().now().duration_since(ready_at);
    assert!(
        waited >= jiff::SignedDuration::from_secs(19),
        "available after {waited:?} of simulated time, not minReadySeconds"
    );
    assert!(sb.internal_errors().is_empty(), "{:?}", sb.internal_errors());
}
