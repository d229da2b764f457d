//! Watches: the raw wire behaviour (replay from a resourceVersion, bookmarks, streaming lists,
//! bounded history answered with an `ERROR` 410 event, selector transitions, timeouts, injected
//! drops and expiries), then kube-rs's `watcher` following a Deployment through a rollout to
//! completion under each injected fault, alone and all together.
//!
//! Every kube-rs test runs two watchers side by side, one with the default list-then-watch
//! configuration and one with streaming lists, and checks on every event that no object's
//! resourceVersion ever goes backwards.

use std::collections::HashMap;

use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use rollout_sandbox::{ErrorRule, FaultConfig, ImageBehaviour, Kind, Sandbox};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::api_support::{
    PATIENCE, Raw, deployment, deployments, enc, kube_client, pod, rollout_complete, rv, sandbox, wait_rolled_out,
    wait_until,
};

/// Stops the controllers and the pod simulator, so only the test writes.
fn quiet(sb: &Sandbox) {
    sb.faults().set(FaultConfig { pause_controllers: true, pause_kubelet: true, ..Default::default() }).unwrap();
}

fn event_name(ev: &Value) -> (String, String) {
    (
        ev["type"].as_str().unwrap_or_default().to_string(),
        ev["object"]["metadata"]["name"].as_str().unwrap_or_default().to_string(),
    )
}

fn merge(labels: Value) -> Value {
    json!({"metadata": {"labels": labels}})
}

// ---------------------------------------------------------------------------------------------
// Raw watches
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_from_a_resource_version_replays_only_later_changes_in_order() {
    let sb = sandbox().await;
    quiet(&sb);
    let c = Raw::new(&sb.url(), None);
    let base = deployments("default");
    let a = c.post(&base, &deployment("a", 1, "repo/a:1")).await.expect(201);
    c.post(&base, &deployment("b", 1, "repo/b:1")).await.expect(201);
    c.patch(&format!("{base}/a"), "application/merge-patch+json", &merge(json!({"x": "1"}))).await.expect(200);
    c.delete(&format!("{base}/b")).await.expect(200);

    let mut w = c.watch(&format!("{base}?&watch=true&resourceVersion={}", rv(&a))).await;
    let mut replay = Vec::new();
    for _ in 0..3 {
        replay.push(w.next().await.expect("the replay is sent"));
    }
    let kinds: Vec<(String, String)> = replay.iter().map(event_name).collect();
    assert_eq!(
        kinds,
        [("ADDED".into(), "b".into()), ("MODIFIED".into(), "a".into()), ("DELETED".into(), "b".into())],
        "{replay:?}"
    );
    for ev in &replay {
        assert_eq!(
            (ev["object"]["kind"].as_str(), ev["object"]["apiVersion"].as_str()),
            (Some("Deployment"), Some("apps/v1"))
        );
    }
    let rvs: Vec<u64> = replay.iter().map(|e| rv(&e["object"])).collect();
    assert!(rvs.windows(2).all(|p| p[0] < p[1]) && rvs[0] > rv(&a), "{rvs:?}");

    let live =
        c.patch(&format!("{base}/a"), "application/merge-patch+json", &merge(json!({"x": "2"}))).await.expect(200);
    let ev = w.next().await.expect("the live change is sent");
    assert_eq!(event_name(&ev), ("MODIFIED".into(), "a".into()));
    assert_eq!(ev["object"]["metadata"]["labels"]["x"], "2");
    assert_eq!(rv(&ev["object"]), rv(&live));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_watch_replays_exactly_what_an_open_watch_saw_during_a_rollout() {
    let sb = sandbox().await;
    let c = Raw::new(&sb.url(), None);
    let pods = "/api/v1/namespaces/default/pods";
    let start = rv(&c.get(pods).await.expect(200));
    let mut open = c.watch(&format!("{pods}?watch=true&resourceVersion={start}")).await;
    c.post(&deployments("default"), &deployment("web", 3, "repo/web:1")).await.expect(201);
    wait_rolled_out(sb.store(), "default", "web").await;
    let mut resumed = c.watch(&format!("{pods}?watch=true&resourceVersion={start}")).await;
    quiet(&sb);
    c.post(pods, &pod("marker", json!({"marker": "yes"}), json!([{"name": "m", "image": "repo/m:1"}])))
        .await
        .expect(201);
    let mut sequences = Vec::new();
    for w in [&mut open, &mut resumed] {
        let mut seq = Vec::new();
        loop {
            let ev = w.next().await.expect("the stream stays open");
            let (t, name) = event_name(&ev);
            seq.push((t, name.clone(), rv(&ev["object"])));
            if name == "marker" {
                break;
            }
        }
        assert!(seq.windows(2).all(|p| p[0].2 < p[1].2), "resourceVersions rise strictly: {seq:?}");
        sequences.push(seq);
    }
    assert!(sequences[0].len() > 10, "the rollout's pods changed many times: {:?}", sequences[0]);
    assert_eq!(sequences[0], sequences[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_without_a_resource_version_starts_with_the_current_objects_of_its_scope() {
    let sb = sandbox().await;
    quiet(&sb);
    let c = Raw::new(&sb.url(), None);
    c.post("/api/v1/namespaces", &json!({"metadata": {"name": "prod"}})).await.expect(201);
    c.post(&deployments("default"), &deployment("web", 1, "repo/web:1")).await.expect(201);
    c.post(&deployments("prod"), &deployment("api", 1, "repo/api:1")).await.expect(201);

    let mut ns = c.watch(&format!("{}?watch=true", deployments("default"))).await;
    let mut all = c.watch("/apis/apps/v1/deployments?watch=1&resourceVersion=0").await;
    assert_eq!(event_name(&ns.next().await.unwrap()), ("ADDED".into(), "web".into()));
    let mut initial = vec![event_name(&all.next().await.unwrap()), event_name(&all.next().await.unwrap())];
    initial.sort();
    assert_eq!(initial, [("ADDED".into(), "api".into()), ("ADDED".into(), "web".into())]);

    // A change in another namespace reaches the cluster-wide watch only; the namespaced watch sees
    // its own next change first.
    c.post(&deployments("prod"), &deployment("db", 1, "repo/db:1")).await.expect(201);
    c.post(&deployments("default"), &deployment("cache", 1, "repo/cache:1")).await.expect(201);
    assert_eq!(event_name(&all.next().await.unwrap()), ("ADDED".into(), "db".into()));
    assert_eq!(event_name(&all.next().await.unwrap()), ("ADDED".into(), "cache".into()));
    assert_eq!(event_name(&ns.next().await.unwrap()), ("ADDED".into(), "cache".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_filter_by_field_and_label_selectors() {
    let sb = sandbox().await;
    quiet(&sb);
    let c = Raw::new(&sb.url(), None);
    let base = deployments("default");
    let start = c.get(&base).await.expect(200);
    // What `kubectl rollout status deployment/web` sends.
    let by_name = format!(
        "{base}?allowWatchBookmarks=true&fieldSelector={}&resourceVersion={}&timeoutSeconds=300&watch=true",
        enc("metadata.name=web"),
        rv(&start)
    );
    let mut named = c.watch(&by_name).await;
    let mut labelled = c
        .watch(&format!("{base}?watch=true&resourceVersion={}&labelSelector={}", rv(&start), enc("tier in (front)")))
        .await;
    c.post(&base, &deployment("other", 1, "repo/o:1")).await.expect(201);
    let mut front = deployment("front", 1, "repo/f:1");
    front["metadata"]["labels"]["tier"] = json!("front");
    c.post(&base, &front).await.expect(201);
    c.post(&base, &deployment("web", 1, "repo/web:1")).await.expect(201);
    assert_eq!(event_name(&named.next_change().await.unwrap()), ("ADDED".into(), "web".into()));
    assert_eq!(event_name(&labelled.next_change().await.unwrap()), ("ADDED".into(), "front".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_entering_and_leaving_a_label_selector_arrive_as_added_and_deleted() {
    let sb = sandbox().await;
    quiet(&sb);
    let c = Raw::new(&sb.url(), None);
    let base = deployments("default");
    let start = rv(&c.get(&base).await.expect(200));
    let mut w =
        c.watch(&format!("{base}?watch=true&resourceVersion={start}&labelSelector={}", enc("tier=front"))).await;
    let mut a = deployment("a", 1, "repo/a:1");
    a["metadata"]["labels"]["tier"] = json!("back");
    c.post(&base, &a).await.expect(201);
    let a_url = format!("{base}/a");
    let entered = c.patch(&a_url, "application/merge-patch+json", &merge(json!({"tier": "front"}))).await.expect(200);
    c.patch(&a_url, "application/merge-patch+json", &merge(json!({"x": "1"}))).await.expect(200);
    let left = c.patch(&a_url, "application/merge-patch+json", &merge(json!({"tier": "back"}))).await.expect(200);
    c.patch(&a_url, "application/merge-patch+json", &merge(json!({"x": "2"}))).await.expect(200);
    let mut b = deployment("b", 1, "repo/b:1");
    b["metadata"]["labels"]["tier"] = json!("front");
    c.post(&base, &b).await.expect(201);

    let added = w.next_change().await.unwrap();
    assert_eq!(event_name(&added), ("ADDED".into(), "a".into()), "the object enters the selection: {added}");
    assert_eq!(rv(&added["object"]), rv(&entered));
    assert_eq!(event_name(&w.next_change().await.unwrap()), ("MODIFIED".into(), "a".into()));
    let deleted = w.next_change().await.unwrap();
    assert_eq!(event_name(&deleted), ("DELETED".into(), "a".into()), "the object leaves the selection: {deleted}");
    assert_eq!(rv(&deleted["object"]), rv(&left), "the DELETED event carries the change's resourceVersion");
    assert_eq!(event_name(&w.next_change().await.unwrap()), ("ADDED".into(), "b".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_watches_that_allow_bookmarks_receive_them() {
    let sb = sandbox().await;
    quiet(&sb);
    let c = Raw::new(&sb.url(), None);
    let start = rv(&c.get(&deployments("default")).await.expect(200));
    let mut w = c
        .watch(&format!("{}?watch=true&allowWatchBookmarks=true&resourceVersion={start}", deployments("default")))
        .await;
    let ev = w.next().await.unwrap();
    assert_eq!(ev["type"], "BOOKMARK", "{ev}");
    let obj = &ev["object"];
    assert_eq!((obj["kind"].as_str(), obj["apiVersion"].as_str()), (Some("Deployment"), Some("apps/v1")));
    assert!(rv(obj) >= start);
    assert!(obj["metadata"].get("annotations").is_none(), "only a streaming list's bookmark is annotated: {ev}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_end_when_their_timeout_expires_and_send_bookmarks_only_when_allowed() {
    let sb = sandbox().await;
    quiet(&sb);
    let c = Raw::new(&sb.url(), None);
    c.post(&deployments("default"), &deployment("web", 1, "repo/web:1")).await.expect(201);
    let start = sb.store().resource_version();
    let mut w =
        c.watch(&format!("{}?watch=true&timeoutSeconds=1&resourceVersion={start}", deployments("default"))).await;
    assert_eq!(w.rest().await, Vec::<Value>::new(), "an idle watch without bookmarks sends nothing, then ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_lists_send_every_object_then_the_initial_events_end_bookmark() {
    let sb = sandbox().await;
    quiet(&sb);
    let c = Raw::new(&sb.url(), None);
    let base = deployments("default");
    for n in ["c", "a", "b"] {
        c.post(&base, &deployment(n, 1, "repo/x:1")).await.expect(201);
    }
    let last = sb.store().resource_version();
    // What kube-rs's `streaming_lists()` sends.
    let url = format!(
        "{base}?&watch=true&timeoutSeconds=290&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=0"
    );
    let mut w = c.watch(&url).await;
    let mut added = Vec::new();
    for _ in 0..3 {
        let ev = w.next().await.unwrap();
        assert_eq!(ev["type"], "ADDED", "{ev}");
        added.push(ev["object"]["metadata"]["name"].as_str().unwrap().to_string());
    }
    added.sort();
    assert_eq!(added, ["a", "b", "c"]);
    let end = w.next().await.unwrap();
    assert_eq!(end["type"], "BOOKMARK", "{end}");
    assert_eq!(end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
    assert!(rv(&end["object"]) >= last);
    c.patch(&format!("{base}/b"), "application/merge-patch+json", &merge(json!({"x": "1"}))).await.expect(200);
    assert_eq!(event_name(&w.next_change().await.unwrap()), ("MODIFIED".into(), "b".into()));

    let selected = format!("{url}&labelSelector={}", enc("app=a"));
    let mut w = c.watch(&selected).await;
    assert_eq!(event_name(&w.next().await.unwrap()), ("ADDED".into(), "a".into()));
    assert_eq!(w.next().await.unwrap()["type"], "BOOKMARK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_lists_require_not_older_than_and_bookmarks() {
    let sb = sandbox().await;
    let c = Raw::new(&sb.url(), None);
    let base = deployments("default");
    for q in [
        "watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersion=0",
        "watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=Exact&resourceVersion=0",
        "watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=0",
    ] {
        let s = c.get(&format!("{base}?{q}")).await.expect_status(422, "Invalid");
        assert!(s["message"].as_str().unwrap().contains("sendInitialEvents"), "{s}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_from_before_the_bounded_history_gets_a_single_expired_error_event() {
    let sb = Sandbox::builder().time_scale(0.01).history_limit(5).start().await.unwrap();
    quiet(&sb);
    let c = Raw::new(&sb.url(), None);
    let base = deployments("default");
    let old = sb.store().resource_version();
    for i in 0..8 {
        c.post(&base, &deployment(&format!("d{i}"), 1, "repo/x:1")).await.expect(201);
    }
    let mut w = c.watch(&format!("{base}?watch=true&allowWatchBookmarks=true&resourceVersion={old}")).await;
    let events = w.rest().await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "ERROR");
    let status = &events[0]["object"];
    assert_eq!(
        (status["kind"].as_str(), status["code"].as_i64(), status["reason"].as_str()),
        (Some("Status"), Some(410), Some("Expired"))
    );
    assert!(status["message"].as_str().unwrap().starts_with("too old resource version"), "{status}");

    // A resourceVersion still within the history replays from there.
    let recent = sb.store().resource_version() - 2;
    let mut w = c.watch(&format!("{base}?watch=true&resourceVersion={recent}")).await;
    assert_eq!(event_name(&w.next().await.unwrap()), ("ADDED".into(), "d6".into()));
    assert_eq!(event_name(&w.next().await.unwrap()), ("ADDED".into(), "d7".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_expires_every_older_resource_version_but_not_the_current_one() {
    let sb = sandbox().await;
    quiet(&sb);
    let c = Raw::new(&sb.url(), None);
    let base = deployments("default");
    let old = rv(&c.post(&base, &deployment("a", 1, "repo/a:1")).await.expect(201));
    c.post(&base, &deployment("b", 1, "repo/b:1")).await.expect(201);
    sb.store().compact();
    let now = sb.store().resource_version();
    let events = c.watch(&format!("{base}?watch=true&resourceVersion={old}")).await.rest().await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!((events[0]["type"].as_str(), events[0]["object"]["code"].as_i64()), (Some("ERROR"), Some(410)));
    let mut current = c.watch(&format!("{base}?watch=true&resourceVersion={now}")).await;
    c.post(&base, &deployment("c", 1, "repo/c:1")).await.expect(201);
    assert_eq!(event_name(&current.next().await.unwrap()), ("ADDED".into(), "c".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_watch_faults_drop_streams_and_expire_resource_versions() {
    let sb = sandbox().await;
    let set =
        |f: FaultConfig| sb.faults().set(FaultConfig { pause_controllers: true, pause_kubelet: true, ..f }).unwrap();
    set(FaultConfig::default());
    let c = Raw::new(&sb.url(), None);
    let base = deployments("default");
    for n in ["a", "b", "c"] {
        c.post(&base, &deployment(n, 0, "repo/x:1")).await.expect(201);
    }

    set(FaultConfig { drop_watch_after_events: Some(2), ..Default::default() });
    let events = c.watch(&format!("{base}?watch=true")).await.rest().await;
    assert_eq!(
        events.iter().map(event_name).collect::<Vec<_>>(),
        [("ADDED".into(), "a".into()), ("ADDED".into(), "b".into())]
    );

    set(FaultConfig { drop_watch_after_ms: Some(20), ..Default::default() });
    let now = sb.store().resource_version();
    assert_eq!(c.watch(&format!("{base}?watch=true&resourceVersion={now}")).await.rest().await, Vec::<Value>::new());

    set(FaultConfig { watch_expired_probability: 1.0, ..Default::default() });
    let events = c.watch(&format!("{base}?watch=true&resourceVersion={now}")).await.rest().await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!((events[0]["type"].as_str(), events[0]["object"]["reason"].as_str()), (Some("ERROR"), Some("Expired")));
    // A watch without a resourceVersion has nothing to expire.
    let mut fresh = c.watch(&format!("{base}?watch=true")).await;
    assert_eq!(fresh.next().await.unwrap()["type"], "ADDED");
}

// ---------------------------------------------------------------------------------------------
// kube-rs watchers following a rollout under faults
// ---------------------------------------------------------------------------------------------

const OLD_IMAGE: &str = "repo/web:1";
const NEW_IMAGE: &str = "repo/web:2";

/// What a watcher reports to the test while it runs.
#[derive(Debug)]
enum Note {
    /// It completed an initial list (or relist).
    Synced(&'static str),
    /// It yielded an error.
    Failed(&'static str),
}

/// What one watcher saw until it observed the completed rollout.
#[derive(Debug)]
struct Seen {
    name: &'static str,
    errors: Vec<String>,
    inits: usize,
    events: usize,
    last: Deployment,
}

/// A sandbox with `web` (3 replicas of `OLD_IMAGE`) rolled out, whose new image takes 20 simulated
/// seconds to pull, so that a rollout lasts long enough (about 0.6 s) for faults to strike during it.
struct Bed {
    sb: Sandbox,
    api: Api<Deployment>,
}

impl Bed {
    async fn new(seed: u64) -> Self {
        let sb = Sandbox::builder().time_scale(0.01).seed(seed).start().await.unwrap();
        sb.images().set(NEW_IMAGE, ImageBehaviour { pull_seconds: 20.0, ..Default::default() }).unwrap();
        Raw::new(&sb.url(), None).post(&deployments("default"), &deployment("web", 3, OLD_IMAGE)).await.expect(201);
        wait_rolled_out(sb.store(), "default", "web").await;
        let api = Api::default_namespaced(kube_client(&sb).await);
        Self { sb, api }
    }

    fn faults(&self, f: FaultConfig) {
        self.sb.faults().set(f).unwrap();
    }

    /// Starts the two watchers: list-then-watch and streaming lists.
    fn watch(&self) -> (Vec<JoinHandle<Seen>>, mpsc::UnboundedReceiver<Note>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let configs =
            [("list-watch", watcher::Config::default()), ("streaming", watcher::Config::default().streaming_lists())];
        let handles = configs
            .into_iter()
            .map(|(name, cfg)| {
                let stream = watcher::watcher(self.api.clone(), cfg).default_backoff();
                tokio::spawn(follow(name, stream, tx.clone()))
            })
            .collect();
        (handles, rx)
    }

    /// Sets the new image as `kubectl set image` does, retrying the conflicts and internal errors
    /// the faults inject (kube's client retries 429 and 503 by itself). Returns the status codes of the
    /// attempts that failed.
    async fn roll(&self) -> Vec<u16> {
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}],
            "containers": [{"name": "web", "image": NEW_IMAGE}]}}}});
        let params = PatchParams { field_manager: Some("kubectl-set".into()), ..Default::default() };
        let mut failures = Vec::new();
        loop {
            match self.api.patch("web", &params, &Patch::Strategic(&patch)).await {
                Ok(d) => {
                    assert_eq!(image_of(&d), NEW_IMAGE);
                    return failures;
                }
                Err(kube::Error::Api(s)) if matches!(s.code, 409 | 500) && failures.len() < 50 => failures.push(s.code),
                Err(e) => panic!("setting the image failed after {failures:?}: {e}"),
            }
        }
    }

    /// The stored Deployment is rolled out to the new image.
    fn assert_rolled_out(&self) {
        let d = self.sb.store().get(Kind::Deployment, "default", "web").unwrap();
        assert!(rollout_complete(&d), "{d}");
        assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["image"], NEW_IMAGE);
    }
}

fn image_of(d: &Deployment) -> &str {
    d.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.first())
        .and_then(|c| c.image.as_deref())
        .unwrap_or("")
}

/// Whether a Deployment has completed the rollout of the new image, by the fields `kubectl rollout
/// status` reads.
fn rolled_out(d: &Deployment) -> bool {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(s) = &d.status else { return false };
    image_of(d) == NEW_IMAGE
        && s.observed_generation.is_some()
        && s.observed_generation == d.metadata.generation
        && s.updated_replicas == Some(want)
        && s.replicas == Some(want)
        && s.available_replicas == Some(want)
}

fn rv_of(d: &Deployment) -> u64 {
    d.metadata
        .resource_version
        .as_deref()
        .and_then(|r| r.parse().ok())
        .expect("every object has a numeric resourceVersion")
}

/// Drives one watcher until it observes the rollout of the new image complete, checking that the
/// resourceVersions it sees for each object never go backwards.
async fn follow(
    name: &'static str,
    stream: impl Stream<Item = Result<Event<Deployment>, watcher::Error>>,
    notes: mpsc::UnboundedSender<Note>,
) -> Seen {
    let mut stream = std::pin::pin!(stream);
    let mut newest: HashMap<String, u64> = HashMap::new();
    let mut seen = Seen { name, errors: Vec::new(), inits: 0, events: 0, last: Deployment::default() };
    while let Some(item) = stream.next().await {
        let obj = match item {
            Err(e) => {
                let _ = notes.send(Note::Failed(name));
                seen.errors.push(e.to_string());
                continue;
            }
            Ok(Event::Init) => {
                seen.inits += 1;
                continue;
            }
            Ok(Event::InitDone) => {
                let _ = notes.send(Note::Synced(name));
                continue;
            }
            Ok(Event::InitApply(d) | Event::Apply(d) | Event::Delete(d)) => d,
        };
        seen.events += 1;
        let uid = obj.metadata.uid.clone().expect("every object has a uid");
        let rv = rv_of(&obj);
        let before = newest.insert(uid, rv).unwrap_or(0);
        assert!(rv >= before, "{name} saw resourceVersion {rv} after {before}: an event out of order");
        if rolled_out(&obj) {
            seen.last = obj;
            return seen;
        }
    }
    panic!("the {name} watcher's stream ended");
}

/// Waits until every watcher has reported a failure (`failed`) or a completed (re)list at least once
/// among the notes not read yet.
async fn wait_notes(notes: &mut mpsc::UnboundedReceiver<Note>, failed: bool) {
    let mut pending = vec!["list-watch", "streaming"];
    let waiting = async {
        while !pending.is_empty() {
            match notes.recv().await.expect("the watchers run") {
                Note::Synced(n) if !failed => pending.retain(|p| *p != n),
                Note::Failed(n) if failed => pending.retain(|p| *p != n),
                _ => {}
            }
        }
    };
    tokio::time::timeout(PATIENCE, waiting).await.unwrap_or_else(|_| {
        panic!("the watchers did not all {} within {PATIENCE:?}", if failed { "fail" } else { "sync" })
    });
}

async fn finish(handles: Vec<JoinHandle<Seen>>) -> Vec<Seen> {
    let mut out = Vec::new();
    for h in handles {
        let seen = tokio::time::timeout(PATIENCE, h)
            .await
            .unwrap_or_else(|_| panic!("a watcher did not observe the completed rollout within {PATIENCE:?}"))
            .expect("the watcher task does not panic");
        assert!(rolled_out(&seen.last));
        out.push(seen);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_follow_a_rollout_to_completion_without_faults() {
    let bed = Bed::new(1).await;
    let (handles, mut notes) = bed.watch();
    wait_notes(&mut notes, false).await;
    assert_eq!(bed.roll().await, Vec::<u16>::new());
    for seen in finish(handles).await {
        assert!(seen.errors.is_empty(), "{seen:?}");
        assert_eq!(seen.inits, 1, "{} never relisted: {seen:?}", seen.name);
    }
    bed.assert_rolled_out();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_follow_a_rollout_through_streams_dropped_after_a_few_events() {
    let bed = Bed::new(2).await;
    bed.faults(FaultConfig { drop_watch_after_events: Some(3), ..Default::default() });
    let (handles, mut notes) = bed.watch();
    wait_notes(&mut notes, false).await;
    bed.roll().await;
    for seen in finish(handles).await {
        assert!(seen.events > 3, "{} needed more than one stream: {seen:?}", seen.name);
        assert!(seen.errors.is_empty(), "a dropped stream is resumed, not an error: {seen:?}");
    }
    bed.assert_rolled_out();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_follow_a_rollout_through_streams_dropped_after_a_time() {
    let bed = Bed::new(3).await;
    bed.faults(FaultConfig { drop_watch_after_ms: Some(50), ..Default::default() });
    let (handles, mut notes) = bed.watch();
    wait_notes(&mut notes, false).await;
    bed.roll().await;
    for seen in finish(handles).await {
        assert!(seen.errors.is_empty(), "a dropped stream is resumed, not an error: {seen:?}");
    }
    bed.assert_rolled_out();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_relist_after_expired_resource_versions_and_compaction() {
    let bed = Bed::new(4).await;
    // Every watch from a resourceVersion expires until both watchers have seen it happen …
    // (streams end after three events so that the streaming watcher, whose first watch has no
    // resourceVersion to expire, watches again from one)
    bed.faults(FaultConfig { watch_expired_probability: 1.0, drop_watch_after_events: Some(3), ..Default::default() });
    let (handles, mut notes) = bed.watch();
    wait_notes(&mut notes, true).await;
    // … then a fraction of them, while the history is also compacted under the watchers mid-rollout.
    bed.faults(FaultConfig { watch_expired_probability: 0.3, drop_watch_after_events: Some(4), ..Default::default() });
    wait_notes(&mut notes, false).await;
    bed.roll().await;
    wait_until(bed.sb.store(), "the new ReplicaSet has a ready pod", |s| {
        s.list(
            Kind::ReplicaSet,
            Some("default"),
            &|rs| {
                rs["spec"]["template"]["spec"]["containers"][0]["image"] == NEW_IMAGE
                    && rs["status"]["readyReplicas"].as_i64().unwrap_or(0) >= 1
            },
            None,
            None,
        )
        .is_ok_and(|p| !p.items.is_empty())
    })
    .await;
    bed.sb.store().compact();
    for seen in finish(handles).await {
        assert!(seen.errors.iter().any(|e| e.contains("410") || e.contains("too old")), "{seen:?}");
        assert!(seen.inits >= 2, "{} relisted after the expiry: {seen:?}", seen.name);
    }
    bed.assert_rolled_out();
}

fn error_rule(verb: Option<&str>, status: u16, probability: f64, retry_after_seconds: u32) -> ErrorRule {
    ErrorRule {
        verb: verb.map(Into::into),
        resource: Some("deployments".into()),
        status,
        probability,
        retry_after_seconds,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_and_writes_ride_out_429_and_503_through_kube_client_retries() {
    let bed = Bed::new(5).await;
    bed.faults(FaultConfig {
        errors: vec![error_rule(None, 429, 0.15, 1), error_rule(None, 503, 0.15, 0)],
        ..Default::default()
    });
    // The faults are live: a client without retries sees them …
    let raw = Raw::new(&bed.sb.url(), None);
    let mut codes = Vec::new();
    for _ in 0..20 {
        codes.push(raw.get(&format!("{}/web", deployments("default"))).await.status.as_u16());
    }
    assert!(codes.contains(&429) || codes.contains(&503), "{codes:?}");
    // … and kube's client retries them, so no watcher or write ever sees one.
    let (handles, mut notes) = bed.watch();
    wait_notes(&mut notes, false).await;
    for _ in 0..10 {
        bed.api.get("web").await.expect("kube retries 429 and 503");
    }
    assert_eq!(bed.roll().await, Vec::<u16>::new());
    for seen in finish(handles).await {
        assert!(seen.errors.is_empty(), "{seen:?}");
    }
    bed.assert_rolled_out();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_recover_from_internal_errors_with_the_default_backoff() {
    let bed = Bed::new(6).await;
    // Every list and watch fails until both watchers have yielded the error …
    bed.faults(FaultConfig {
        errors: vec![error_rule(Some("list"), 500, 1.0, 0), error_rule(Some("watch"), 500, 1.0, 0)],
        ..Default::default()
    });
    let (handles, mut notes) = bed.watch();
    wait_notes(&mut notes, true).await;
    // … then a fraction of every request on deployments, writes included.
    bed.faults(FaultConfig { errors: vec![error_rule(None, 500, 0.2, 0)], ..Default::default() });
    wait_notes(&mut notes, false).await;
    bed.roll().await;
    for seen in finish(handles).await {
        assert!(seen.errors.iter().any(|e| e.contains("500") || e.contains("Internal")), "{seen:?}");
    }
    bed.assert_rolled_out();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_follow_a_rollout_with_added_latency() {
    let bed = Bed::new(7).await;
    bed.faults(FaultConfig { latency_ms: 25, ..Default::default() });
    let (handles, mut notes) = bed.watch();
    wait_notes(&mut notes, false).await;
    bed.roll().await;
    for seen in finish(handles).await {
        assert!(seen.errors.is_empty(), "{seen:?}");
    }
    bed.assert_rolled_out();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicting_writes_are_retried_until_the_rollout_completes() {
    let bed = Bed::new(8).await;
    let (handles, mut notes) = bed.watch();
    wait_notes(&mut notes, false).await;
    // The first write always loses the race; later ones do half the time.
    bed.faults(FaultConfig { write_conflict_probability: 1.0, ..Default::default() });
    let params = PatchParams::default();
    let annotate = json!({"metadata": {"annotations": {"kubernetes.io/change-cause": "set image web"}}});
    let e = bed.api.patch("web", &params, &Patch::Merge(&annotate)).await.unwrap_err();
    assert!(matches!(&e, kube::Error::Api(s) if s.code == 409 && s.reason == "Conflict"), "{e}");
    bed.faults(FaultConfig { write_conflict_probability: 0.5, ..Default::default() });
    loop {
        match bed.api.patch("web", &params, &Patch::Merge(&annotate)).await {
            Ok(_) => break,
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => panic!("{e}"),
        }
    }
    bed.roll().await;
    let seen = finish(handles).await;
    for s in &seen {
        assert!(s.errors.is_empty(), "{s:?}");
        let ann = s.last.metadata.annotations.as_ref().and_then(|a| a.get("kubernetes.io/change-cause"));
        assert_eq!(ann.map(String::as_str), Some("set image web"));
    }
    bed.assert_rolled_out();
}

/// Creates a bare pod and waits until the kubelet reports it Ready: a fence that lets simulated time
/// pass while the controllers would have had every chance to act.
async fn fence(sb: &Sandbox, name: &str) {
    let p = pod(name, json!({"fence": name}), json!([{"name": "app", "image": "repo/fence:1"}]));
    Raw::new(&sb.url(), None).post("/api/v1/namespaces/default/pods", &p).await.expect(201);
    wait_until(sb.store(), &format!("pod {name} is ready"), |s| {
        s.get(Kind::Pod, "default", name).is_ok_and(|p| {
            p["status"]["conditions"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_controllers_hold_the_rollout_until_resumed() {
    let bed = Bed::new(9).await;
    let (handles, mut notes) = bed.watch();
    wait_notes(&mut notes, false).await;
    bed.faults(FaultConfig { pause_controllers: true, ..Default::default() });
    bed.roll().await;
    fence(&bed.sb, "fence").await;
    let d = bed.sb.store().get(Kind::Deployment, "default", "web").unwrap();
    assert_eq!(
        (d["metadata"]["generation"].as_i64(), d["status"]["observedGeneration"].as_i64()),
        (Some(2), Some(1)),
        "{d}"
    );
    let new_sets = bed
        .sb
        .store()
        .list(
            Kind::ReplicaSet,
            Some("default"),
            &|rs| rs["spec"]["template"]["spec"]["containers"][0]["image"] == NEW_IMAGE,
            None,
            None,
        )
        .unwrap();
    assert!(new_sets.items.is_empty(), "no ReplicaSet for the new template while paused");
    assert!(handles.iter().all(|h| !h.is_finished()), "no watcher saw a completed rollout while paused");
    bed.sb.faults().clear();
    for seen in finish(handles).await {
        assert!(seen.errors.is_empty(), "{seen:?}");
    }
    bed.assert_rolled_out();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_follow_a_rollout_under_every_fault_at_once() {
    let bed = Bed::new(10).await;
    let all = FaultConfig {
        errors: vec![
            error_rule(None, 429, 0.05, 1),
            error_rule(None, 503, 0.05, 0),
            error_rule(Some("list"), 500, 0.1, 0),
            error_rule(Some("watch"), 500, 0.1, 0),
            error_rule(Some("patch"), 500, 0.1, 0),
        ],
        latency_ms: 5,
        write_conflict_probability: 0.3,
        drop_watch_after_events: Some(4),
        drop_watch_after_ms: Some(150),
        watch_expired_probability: 0.2,
        ..FaultConfig::default()
    };
    bed.faults(all.clone());
    let (handles, mut notes) = bed.watch();
    wait_notes(&mut notes, false).await;
    bed.faults(FaultConfig { pause_controllers: true, ..all.clone() });
    bed.roll().await;
    fence(&bed.sb, "fence").await;
    bed.sb.store().compact();
    bed.faults(all);
    for seen in finish(handles).await {
        assert!(seen.events > 0, "{seen:?}");
    }
    bed.assert_rolled_out();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_from_a_resource_version_the_server_has_not_reached_is_a_timeout() {
    let sb = sandbox().await;
    let c = Raw::new(&sb.url(), None);
    let ahead = sb.store().resource_version() + 1000;
    let s = c
        .get(&format!("{}?watch=true&resourceVersion={ahead}", deployments("default")))
        .await
        .expect_status(504, "Timeout");
    assert_eq!(s["details"]["causes"][0]["reason"], "ResourceVersionTooLarge");
    assert!(s["message"].as_str().unwrap().starts_with(&format!("Too large resource version: {ahead}")));
}
