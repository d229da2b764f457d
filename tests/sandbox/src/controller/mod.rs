//! The simulated controller manager: the Deployment and ReplicaSet controllers, the garbage
//! collector and the namespace controller, driven by one work queue.
//!
//! Like kube-controller-manager, each controller reacts to changes of the objects it watches (here
//! the store's ordered change feed) and to timers (the progress-deadline check, minReadySeconds), and
//! writes through the same store the API server uses, so every step is visible to clients as watch
//! events. Unlike it, everything runs on one task, in order, which keeps runs with the same seed and
//! inputs reproducible; the store is read directly, so there are no stale informer caches and no
//! "expectations" bookkeeping is needed.

pub mod deployment;
pub mod gc;
pub mod model;
pub mod replicaset;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet, VecDeque};
use std::sync::Arc;

use jiff::Timestamp;
use serde_json::Value;

use crate::Shared;
use crate::events::Recorder;
use crate::json;
use crate::kinds::Kind;
use crate::selector::LabelSelector;
use crate::store::{EventType, Store, WatchEvent};

/// One unit of work.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Work {
    /// Sync a Deployment.
    Deployment(String, String),
    /// Sync a ReplicaSet.
    ReplicaSet(String, String),
    /// Handle dependents of an object that was deleted, or is being deleted with a
    /// foreground/orphan finalizer (kind, namespace, name, uid).
    Owner(Kind, String, String, String),
    /// Remove an object whose owners are all gone.
    Orphan(Kind, String, String),
    /// Empty and remove a terminating namespace.
    Namespace(String),
}

/// The pending work, without duplicates. ReplicaSet and garbage-collection work runs before
/// Deployment work: a Deployment sync then always sees its ReplicaSets' pods as the ReplicaSet
/// controller has left them (an old ReplicaSet scaled down has had its pods deleted), so the new
/// ReplicaSet is never grown while old pods that are about to go still run. In a real cluster the two
/// controllers race, and that window exists; the sandbox closes it so the surge limit holds on every
/// change, deterministically.
#[derive(Debug, Default)]
struct WorkQueue {
    first: VecDeque<Work>,
    deployments: VecDeque<Work>,
    queued: HashSet<Work>,
}

impl WorkQueue {
    fn push(&mut self, w: Work) {
        if self.queued.insert(w.clone()) {
            match w {
                Work::Deployment(..) => self.deployments.push_back(w),
                _ => self.first.push_back(w),
            }
        }
    }

    fn pop(&mut self) -> Option<Work> {
        let w = self.first.pop_front().or_else(|| self.deployments.pop_front())?;
        self.queued.remove(&w);
        Some(w)
    }
}

/// What a sync asks for beyond its writes: work to run again at a simulated time.
pub type Requeue = Vec<(Timestamp, Work)>;

/// The context every sync gets.
pub struct Ctx<'a> {
    /// The store.
    pub store: &'a Store,
    /// The event recorder.
    pub events: &'a Recorder,
    /// Simulated time at the start of this sync.
    pub now: Timestamp,
}

/// Runs the controllers until shutdown, driven by `feed` (the store's change feed, subscribed
/// before any change the controllers must see).
pub async fn run(shared: Arc<Shared>, mut feed: tokio::sync::mpsc::UnboundedReceiver<Arc<WatchEvent>>) {
    let store = shared.store.clone();
    let recorder = Recorder::new(store.clone());
    let mut pauses = shared.faults.pauses();
    let mut queue = WorkQueue::default();
    let mut timers: BinaryHeap<Reverse<(Timestamp, u64, Work)>> = BinaryHeap::new();
    let mut seq = 0u64;
    // Like an informer's initial list: everything that already exists is synced once.
    for (kind, make) in
        [(Kind::Deployment, Work::Deployment as fn(String, String) -> Work), (Kind::ReplicaSet, Work::ReplicaSet)]
    {
        if let Ok(page) = store.list(kind, None, &|_| true, None, None) {
            for obj in page.items {
                queue.push(make(json::namespace(&obj).to_string(), json::name(&obj).to_string()));
            }
        }
    }
    loop {
        while let Ok(ev) = feed.try_recv() {
            for w in work_for(&store, &ev) {
                queue.push(w);
            }
        }
        if pauses.borrow().0 {
            tokio::select! {
                _ = shared.shutdown.cancelled() => return,
                _ = pauses.changed() => continue,
                ev = feed.recv() => {
                    if let Some(ev) = ev {
                        for w in work_for(&store, &ev) {
                            queue.push(w);
                        }
                    }
                    continue;
                }
            }
        }
        let now = store.clock().now();
        while timers.peek().is_some_and(|Reverse((at, _, _))| *at <= now) {
            let Reverse((_, _, w)) = timers.pop().expect("peeked");
            queue.push(w);
        }
        if let Some(w) = queue.pop() {
            let ctx = Ctx { store: &store, events: &recorder, now: store.clock().now() };
            let requeue = match &w {
                Work::Deployment(ns, name) => deployment::sync(&ctx, ns, name),
                Work::ReplicaSet(ns, name) => replicaset::sync(&ctx, ns, name),
                Work::Owner(kind, ns, name, uid) => gc::sync_owner(&ctx, *kind, ns, name, uid),
                Work::Orphan(kind, ns, name) => gc::sync_orphan(&ctx, *kind, ns, name),
                Work::Namespace(name) => gc::sync_namespace(&ctx, name),
            };
            for (at, w) in requeue {
                seq += 1;
                timers.push(Reverse((at, seq, w)));
            }
            tokio::task::yield_now().await;
            continue;
        }
        let next = timers.peek().map(|Reverse((at, _, _))| store.clock().real_instant(*at));
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = pauses.changed() => {}
            ev = feed.recv() => match ev {
                Some(ev) => for w in work_for(&store, &ev) {
                    queue.push(w);
                },
                None => return,
            },
            _ = async { match next {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            } } => {}
        }
    }
}

fn owner_name(obj: &Value, kind: &str) -> Option<String> {
    json::get(obj, &["metadata", "ownerReferences"])?
        .as_array()?
        .iter()
        .find(|r| {
            r.get("controller").and_then(Value::as_bool) == Some(true)
                && r.get("kind").and_then(Value::as_str) == Some(kind)
        })
        .and_then(|r| r.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Objects of `kind` in `ns` whose selector matches `labels`: candidates to adopt an orphan.
fn selecting(store: &Store, kind: Kind, ns: &str, labels: &std::collections::BTreeMap<String, String>) -> Vec<String> {
    store
        .list(
            kind,
            Some(ns),
            &|o| {
                json::get(o, &["spec", "selector"])
                    .and_then(LabelSelector::from_label_selector)
                    .is_some_and(|s| !s.is_empty() && s.matches(labels))
            },
            None,
            None,
        )
        .map(|p| p.items.iter().map(|o| json::name(o).to_string()).collect())
        .unwrap_or_default()
}

/// Which work a change calls for: the informer event handlers of each controller.
fn work_for(store: &Store, ev: &WatchEvent) -> Vec<Work> {
    let obj = &ev.object;
    let ns = json::namespace(obj).to_string();
    let name = json::name(obj).to_string();
    let mut out = Vec::new();
    match ev.kind {
        Kind::Deployment => out.push(Work::Deployment(ns.clone(), name.clone())),
        Kind::ReplicaSet => {
            out.push(Work::ReplicaSet(ns.clone(), name.clone()));
            match owner_name(obj, "Deployment") {
                Some(d) => out.push(Work::Deployment(ns.clone(), d)),
                None if ev.event_type != EventType::Deleted => out.extend(
                    selecting(store, Kind::Deployment, &ns, &json::labels(obj))
                        .into_iter()
                        .map(|d| Work::Deployment(ns.clone(), d)),
                ),
                None => {}
            }
        }
        Kind::Pod => match owner_name(obj, "ReplicaSet") {
            Some(rs) => out.push(Work::ReplicaSet(ns.clone(), rs)),
            None if ev.event_type != EventType::Deleted => out.extend(
                selecting(store, Kind::ReplicaSet, &ns, &json::labels(obj))
                    .into_iter()
                    .map(|r| Work::ReplicaSet(ns.clone(), r)),
            ),
            None => {}
        },
        Kind::Namespace if json::is_deleting(obj) && ev.event_type != EventType::Deleted => {
            out.push(Work::Namespace(name.clone()))
        }
        _ => {}
    }
    let uid = json::uid(obj).to_string();
    let has_gc_finalizer = json::get(obj, &["metadata", "finalizers"])
        .and_then(Value::as_array)
        .is_some_and(|f| f.iter().any(|x| x == "foregroundDeletion" || x == "orphan"));
    if ev.event_type == EventType::Deleted || (json::is_deleting(obj) && has_gc_finalizer) {
        out.push(Work::Owner(ev.kind, ns.clone(), name.clone(), uid));
    }
    if ev.event_type == EventType::Added && json::get(obj, &["metadata", "ownerReferences"]).is_some() {
        out.push(Work::Orphan(ev.kind, ns, name));
    }
    out
}
