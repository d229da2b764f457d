//! Rolling-update guarantees, checked on every change of a rollout for a grid of replica counts and
//! strategies: the pods never exceed `replicas + maxSurge`, and once the Deployment was available,
//! the available pods never drop below `replicas - maxUnavailable`.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use rollout_sandbox::store::{EventType, Subresource, WatchStart};
use rollout_sandbox::{Kind, Sandbox, json};
use serde_json::{Value, json};

use crate::controller::{complete, wait_for};

struct Case {
    name: String,
    replicas: i32,
    surge: &'static str,
    unavailable: &'static str,
}

impl Case {
    /// The fenceposts the controller uses, computed independently: surge rounds up, unavailable
    /// rounds down, both zero means one unavailable, and unavailable never exceeds the replicas.
    fn limits(&self) -> (i32, i32) {
        let scaled = |v: &str, up: bool| match v.strip_suffix('%') {
            Some(p) => {
                let x = f64::from(p.parse::<i32>().unwrap()) * f64::from(self.replicas) / 100.0;
                (if up { x.ceil() } else { x.floor() }) as i32
            }
            None => v.parse().unwrap(),
        };
        let surge = scaled(self.surge, true);
        let mut unavailable = scaled(self.unavailable, false);
        if surge == 0 && unavailable == 0 {
            unavailable = 1;
        }
        (surge, unavailable.min(self.replicas))
    }
}

fn deployment(c: &Case, image: &str) -> Value {
    let int_or_pct = |v: &str| if v.ends_with('%') { json!(v) } else { json!(v.parse::<i32>().unwrap()) };
    json!({
        "metadata": {"name": c.name},
        "spec": {
            "replicas": c.replicas,
            "selector": {"matchLabels": {"app": c.name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": int_or_pct(c.surge), "maxUnavailable": int_or_pct(c.unavailable)}},
            "template": {
                "metadata": {"labels": {"app": c.name}},
                "spec": {"containers": [{
                    "name": "app",
                    "image": image,
                    "readinessProbe": {"tcpSocket": {"port": 8080}, "initialDelaySeconds": 1, "periodSeconds": 1}
                }]}
            }
        }
    })
}

#[derive(Default)]
struct Counts {
    /// Pods that are not terminating, by name, with their readiness.
    pods: BTreeMap<String, bool>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_updates_respect_surge_and_unavailability_on_every_change() {
    let sb = Sandbox::builder().time_scale(0.02).seed(11).start().await.unwrap();
    let store = sb.store().clone();
    let mut cases = Vec::new();
    for replicas in [1, 2, 3, 5, 10] {
        for surge in ["0", "1", "25%", "100%"] {
            for unavailable in ["0", "1", "25%", "50%"] {
                if surge == "0" && unavailable == "0" {
                    continue; // rejected by validation: both may not be zero
                }
                let name = format!("inv-{replicas}-{}-{}", surge.replace('%', "p"), unavailable.replace('%', "p"));
                cases.push(Case { name, replicas, surge, unavailable });
            }
        }
    }
    for c in &cases {
        store.create(Kind::Deployment, "default", deployment(c, "app:1"), false).unwrap();
    }
    for c in &cases {
        wait_for(&sb, Duration::from_secs(60), || complete(&store, &c.name)).await;
    }

    // From here on, every change is checked. The subscription and the starting set of pods are
    // taken together, so no change falls between them.
    let sub = store.watch(Kind::Pod, Some("default"), WatchStart::Current).unwrap();
    let mut feed = sub.live;
    let by_name: HashMap<&str, &Case> = cases.iter().map(|c| (c.name.as_str(), c)).collect();
    let mut counts: HashMap<String, Counts> = HashMap::new();
    for ev in &sub.initial {
        let p = &ev.object;
        if json::is_deleting(p) {
            continue;
        }
        let app = json::labels(p).get("app").cloned().unwrap_or_default();
        counts.entry(app).or_default().pods.insert(json::name(p).to_string(), is_ready(p));
    }
    for c in &cases {
        store
            .modify(Kind::Deployment, "default", &c.name, Subresource::Main, false, |d| {
                let mut d = d.clone();
                d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("app:2");
                Ok(d)
            })
            .unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut checked = 0u64;
    loop {
        if cases.iter().all(|c| complete(&store, &c.name)) {
            break;
        }
        let ev = tokio::select! {
            ev = feed.recv() => ev.expect("the subscription keeps up with the store"),
            _ = tokio::time::sleep_until(deadline) => panic!("the rollouts did not complete within 120 s"),
        };
        if ev.kind != Kind::Pod {
            continue;
        }
        let app = json::labels(&ev.object).get("app").cloned().unwrap_or_default();
        let Some(case) = by_name.get(app.as_str()) else { continue };
        let entry = counts.entry(app.clone()).or_default();
        let name = json::name(&ev.object).to_string();
        if ev.event_type == EventType::Deleted || json::is_deleting(&ev.object) {
            entry.pods.remove(&name);
        } else {
            entry.pods.insert(name, is_ready(&ev.object));
        }
        let (surge, unavailable) = case.limits();
        let total = entry.pods.len() as i32;
        let available = entry.pods.values().filter(|r| **r).count() as i32;
        assert!(
            total <= case.replicas + surge,
            "{}: {total} pods exceed replicas {} + maxSurge {surge}",
            case.name,
            case.replicas
        );
        assert!(
            available >= case.replicas - unavailable,
            "{}: {available} available pods are below replicas {} - maxUnavailable {unavailable}",
            case.name,
            case.replicas
        );
        checked += 1;
    }
    assert!(checked > cases.len() as u64 * 3, "only {checked} pod changes were checked");
    assert_eq!(sb.internal_errors(), Vec::<String>::new());
    sb.shutdown().await;
}

fn is_ready(pod: &Value) -> bool {
    json::get(pod, &["status", "conditions"])
        .and_then(Value::as_array)
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}
