//! The object store: what etcd and the API server's registry are to a real cluster.
//!
//! It owns every object, the global resourceVersion counter, the bounded event history that watches
//! replay from, and the API server's write semantics (`generation`, status subresources, no-op
//! updates, resourceVersion preconditions, graceful pod deletion, namespace existence). Defaulting and
//! validation are delegated to `admission`; patch documents to `patch`. It does not speak HTTP and
//! runs no controller: the API layer and the controllers call it alike, so every write — a client's
//! or a controller's — produces one watch event with a new resourceVersion.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use crate::admission;
use crate::clock::{Clock, rfc3339};
use crate::error::ApiError;
use crate::json;
use crate::kinds::{KINDS, Kind};
use crate::rng::Rng;

/// The type of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// `ADDED`.
    Added,
    /// `MODIFIED`.
    Modified,
    /// `DELETED`.
    Deleted,
}

impl EventType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change to one object, as it is kept in the history and sent to watchers.
#[derive(Debug)]
pub struct WatchEvent {
    /// The resourceVersion this change produced.
    pub rv: u64,
    /// The kind of the object.
    pub kind: Kind,
    /// What happened.
    pub event_type: EventType,
    /// The object after the change (for `DELETED`, the last state with the deletion's resourceVersion).
    pub object: Arc<Value>,
    /// The object before the change, for `MODIFIED`, so selector-filtered watches can tell objects
    /// entering and leaving their selection.
    pub old: Option<Arc<Value>>,
}

/// Which part of an object an update writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subresource {
    /// The object itself: spec and metadata; status is kept from the stored object.
    Main,
    /// `/status`: status (and annotations); spec and labels are kept from the stored object.
    Status,
}

/// How an object is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    /// Remove the object now; the garbage collector removes its dependents afterwards (kubectl's default).
    #[default]
    Background,
    /// Remove dependents first (the object stays, with a `foregroundDeletion` finalizer, until they are gone).
    Foreground,
    /// Keep dependents, removing their owner references.
    Orphan,
}

/// Options of a delete.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// Grace period for pods; `Some(0)` deletes at once.
    pub grace_period_seconds: Option<i64>,
    /// Precondition on the uid.
    pub uid: Option<String>,
    /// Precondition on the resourceVersion.
    pub resource_version: Option<String>,
    /// Dependent handling.
    pub propagation: Propagation,
    /// Validate only.
    pub dry_run: bool,
}

/// A page of a list.
#[derive(Debug)]
pub struct ListPage {
    /// The objects, in namespace/name order.
    pub items: Vec<Arc<Value>>,
    /// The resourceVersion of the list.
    pub rv: u64,
    /// The token to ask for the next page, if more objects match.
    pub continue_token: Option<String>,
    /// How many matching objects are left after this page.
    pub remaining: usize,
}

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchStart {
    /// Synthetic `ADDED` events for every existing object, then changes (resourceVersion unset or `0`).
    Current,
    /// Only changes after this resourceVersion, replayed from the history.
    After(u64),
}

/// A watch subscription: events to replay, then the live channel.
#[derive(Debug)]
pub struct Subscription {
    /// Events to send first, in order.
    pub initial: Vec<Arc<WatchEvent>>,
    /// Live events; every event with a resourceVersion above `start_rv` arrives here, in order.
    pub live: broadcast::Receiver<Arc<WatchEvent>>,
    /// The store's resourceVersion when the subscription was taken.
    pub start_rv: u64,
}

type Key = (String, String);

#[derive(Debug, Default)]
struct State {
    rv: u64,
    objects: BTreeMap<Kind, BTreeMap<Key, Arc<Value>>>,
    history: VecDeque<Arc<WatchEvent>>,
    /// The highest resourceVersion whose event has been dropped from the history: watches from an
    /// older version cannot be served and get `410 Expired`.
    compacted_through: u64,
    observers: Vec<mpsc::UnboundedSender<Arc<WatchEvent>>>,
    /// Writes of the simulated controllers and kubelet that the API server rejected.
    internal_errors: Vec<String>,
}

/// The object store. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Store {
    state: Mutex<State>,
    live: broadcast::Sender<Arc<WatchEvent>>,
    history_limit: usize,
    clock: Clock,
    rng: Arc<Rng>,
}

/// Default number of events kept for watches to resume from.
pub const DEFAULT_HISTORY_LIMIT: usize = 10_000;

impl Store {
    /// An empty store with the namespaces every cluster has (`default`, `kube-system`, `kube-public`,
    /// `kube-node-lease`).
    pub fn new(clock: Clock, rng: Arc<Rng>, history_limit: usize) -> Self {
        let (live, _) = broadcast::channel(1 << 16);
        let store = Self { state: Mutex::new(State::default()), live, history_limit: history_limit.max(1), clock, rng };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            store
                .create(Kind::Namespace, "", json!({"metadata": {"name": ns}}), false)
                .expect("the built-in namespaces are valid");
        }
        store
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The simulated clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The seeded generator.
    pub fn rng(&self) -> &Arc<Rng> {
        &self.rng
    }

    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    /// A lossless, ordered feed of every change, for the controllers.
    pub fn observe(&self) -> mpsc::UnboundedReceiver<Arc<WatchEvent>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().observers.push(tx);
        rx
    }

    /// Drops the whole event history, as if etcd had compacted it: every watch from an older
    /// resourceVersion now gets `410 Expired`.
    pub fn compact(&self) {
        let mut st = self.lock();
        st.compacted_through = st.rv;
        st.history.clear();
    }

    /// Records a write of a simulated component that the API server rejected: always a sandbox bug
    /// when it is a validation or request error, so tests assert there are none.
    pub fn note(&self, what: &str, err: &ApiError) {
        if matches!(err.code, 400 | 415 | 422 | 500) {
            tracing::error!("sandbox: {what} was rejected: {}", err.message);
            self.lock().internal_errors.push(format!("{what}: {}", err.message));
        }
    }

    /// Every write of a simulated component that was rejected (see `note`); empty in a healthy sandbox.
    pub fn internal_errors(&self) -> Vec<String> {
        self.lock().internal_errors.clone()
    }

    /// One object.
    pub fn get(&self, kind: Kind, ns: &str, name: &str) -> Result<Arc<Value>, ApiError> {
        let st = self.lock();
        st.objects
            .get(&kind)
            .and_then(|m| m.get(&(scope(kind, ns), name.to_string())))
            .cloned()
            .ok_or_else(|| ApiError::not_found(kind.info(), name))
    }

    /// All objects of a kind (in a namespace, or everywhere with `None`) that pass `filter`, paged.
    pub fn list(
        &self,
        kind: Kind,
        ns: Option<&str>,
        filter: &dyn Fn(&Value) -> bool,
        limit: Option<usize>,
        continue_token: Option<&str>,
    ) -> Result<ListPage, ApiError> {
        let st = self.lock();
        let after = continue_token.map(decode_continue).transpose()?;
        let empty = BTreeMap::new();
        let objects = st.objects.get(&kind).unwrap_or(&empty);
        let ns = ns.map(|n| scope(kind, n));
        let mut items = Vec::new();
        let mut last_key = None;
        let mut remaining = 0;
        let iter = objects.iter().filter(|((n, _), _)| ns.as_ref().is_none_or(|want| want == n));
        for (key, obj) in iter {
            if after.as_ref().is_some_and(|a| key <= a) || !filter(obj) {
                continue;
            }
            if limit.is_some_and(|l| items.len() >= l) {
                remaining += 1;
                continue;
            }
            items.push(obj.clone());
            last_key = Some(key.clone());
        }
        let continue_token = if remaining > 0 { last_key.map(|k| encode_continue(&k)) } else { None };
        Ok(ListPage { items, rv: st.rv, continue_token, remaining })
    }

    /// Creates an object, applying defaults and validation. `ns` is ignored for cluster-scoped kinds.
    pub fn create(&self, kind: Kind, ns: &str, mut obj: Value, dry_run: bool) -> Result<Arc<Value>, ApiError> {
        let info = kind.info();
        if !obj.is_object() {
            return Err(ApiError::bad_request(format!("the body of a {} must be a JSON object", info.name)));
        }
        let mut st = self.lock();
        let ns = scope(kind, ns);
        if let Some(body_ns) = json::get_str(&obj, &["metadata", "namespace"])
            && info.namespaced
            && !body_ns.is_empty()
            && body_ns != ns
        {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        if info.namespaced
            && !st.objects.get(&Kind::Namespace).is_some_and(|m| m.contains_key(&(String::new(), ns.clone())))
        {
            return Err(ApiError::namespace_not_found(&ns));
        }
        if info.namespaced
            && let Some(nsobj) = st.objects.get(&Kind::Namespace).and_then(|m| m.get(&(String::new(), ns.clone())))
            && json::is_deleting(nsobj)
        {
            return Err(ApiError {
                code: 403,
                reason: "Forbidden",
                message: format!(
                    "{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                    info.qualified_resource(),
                    json::name(&obj)
                ),
                details: None,
                retry_after: None,
            });
        }
        let name = match json::get_str(&obj, &["metadata", "name"]).filter(|n| !n.is_empty()) {
            Some(n) => n.to_string(),
            None => match json::get_str(&obj, &["metadata", "generateName"]).filter(|n| !n.is_empty()) {
                Some(prefix) => {
                    let mut prefix = prefix.to_string();
                    prefix.truncate(58);
                    let candidate = format!("{prefix}{}", self.rng.name_suffix(5));
                    json::set(&mut obj, &["metadata", "name"], Value::String(candidate.clone()));
                    candidate
                }
                None => String::new(),
            },
        };
        let objects = st.objects.entry(kind).or_default();
        let key = (ns.clone(), name.clone());
        if !name.is_empty() && objects.contains_key(&key) {
            return Err(ApiError::already_exists(info, &name));
        }

        let now = rfc3339(self.clock.now());
        {
            let meta = json::ensure_obj(&mut obj, &["metadata"]);
            if info.namespaced {
                meta.insert("namespace".into(), Value::String(ns.clone()));
            } else {
                meta.remove("namespace");
            }
            meta.insert("uid".into(), Value::String(self.rng.uuid()));
            meta.insert("creationTimestamp".into(), Value::String(now));
            meta.remove("deletionTimestamp");
            meta.remove("deletionGracePeriodSeconds");
            if info.has_generation {
                meta.insert("generation".into(), json!(1));
            } else {
                meta.remove("generation");
            }
        }
        let obj_map = obj.as_object_mut().expect("checked above");
        obj_map.insert("apiVersion".into(), Value::String(info.api_version()));
        obj_map.insert("kind".into(), Value::String(info.name.into()));
        reset_status_on_create(kind, &mut obj);
        json::strip_nulls(&mut obj);
        admission::apply_defaults(kind, &mut obj);
        let errors = admission::validate(kind, &obj, None);
        if !errors.is_empty() {
            return Err(ApiError::invalid(info, &name, &errors));
        }
        if dry_run {
            return Ok(Arc::new(obj));
        }
        Ok(self.commit(&mut st, kind, key, Some(obj), EventType::Added))
    }

    /// Replaces an object (PUT), with the API server's rules for the given subresource.
    pub fn update(
        &self,
        kind: Kind,
        ns: &str,
        name: &str,
        obj: Value,
        sub: Subresource,
        dry_run: bool,
    ) -> Result<Arc<Value>, ApiError> {
        self.modify(kind, ns, name, sub, dry_run, |_| Ok(obj)).map(|(o, _)| o)
    }

    /// Reads the stored object, lets `f` compute the new one, and writes it atomically (a patch, or a
    /// controller's read-modify-write). Returns the stored object and whether anything changed.
    pub fn modify(
        &self,
        kind: Kind,
        ns: &str,
        name: &str,
        sub: Subresource,
        dry_run: bool,
        f: impl FnOnce(&Value) -> Result<Value, ApiError>,
    ) -> Result<(Arc<Value>, bool), ApiError> {
        let info = kind.info();
        let mut st = self.lock();
        let key = (scope(kind, ns), name.to_string());
        let old =
            st.objects.get(&kind).and_then(|m| m.get(&key)).cloned().ok_or_else(|| ApiError::not_found(info, name))?;
        let mut new = f(&old)?;
        if !new.is_object() {
            return Err(ApiError::bad_request(format!("the body of a {} must be a JSON object", info.name)));
        }
        let body_name = json::name(&new);
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        if let Some(rv) = json::get_str(&new, &["metadata", "resourceVersion"]).filter(|rv| !rv.is_empty())
            && rv != json::get_str(&old, &["metadata", "resourceVersion"]).unwrap_or("")
        {
            return Err(ApiError::conflict(info, name));
        }
        if let Some(uid) = json::get_str(&new, &["metadata", "uid"]).filter(|u| !u.is_empty())
            && uid != json::uid(&old)
        {
            return Err(ApiError::conflict_msg(
                info,
                name,
                format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {}", json::uid(&old)),
            ));
        }
        prepare_update(kind, &mut new, &old, sub);
        json::strip_nulls(&mut new);
        admission::apply_defaults(kind, &mut new);
        let errors = admission::validate(kind, &new, Some(&old));
        if !errors.is_empty() {
            return Err(ApiError::invalid(info, name, &errors));
        }
        if *old == new {
            return Ok((old, false));
        }
        if dry_run {
            return Ok((Arc::new(new), true));
        }
        // An object being deleted whose last finalizer was removed goes away now.
        if json::is_deleting(&new) && finalizers(&new).is_empty() && !matches!(kind, Kind::Pod | Kind::Namespace) {
            let out = self.commit(&mut st, kind, key, None, EventType::Deleted);
            return Ok((out, true));
        }
        Ok((self.commit(&mut st, kind, key, Some(new), EventType::Modified), true))
    }

    /// Binds a pod to a node, as the `pods/binding` subresource does: the only way `spec.nodeName`
    /// changes after creation. A pod bound elsewhere already is a conflict.
    pub fn bind(&self, ns: &str, name: &str, node: &str) -> Result<Arc<Value>, ApiError> {
        let info = Kind::Pod.info();
        let mut st = self.lock();
        let key = (ns.to_string(), name.to_string());
        let old = st
            .objects
            .get(&Kind::Pod)
            .and_then(|m| m.get(&key))
            .cloned()
            .ok_or_else(|| ApiError::not_found(info, name))?;
        if json::is_deleting(&old) {
            return Err(ApiError::conflict_msg(
                info,
                name,
                format!("pod {name} is being deleted, cannot be assigned to a host"),
            ));
        }
        match json::get_str(&old, &["spec", "nodeName"]).filter(|n| !n.is_empty()) {
            Some(n) if n == node => return Ok(old),
            Some(n) => {
                return Err(ApiError::conflict_msg(
                    info,
                    name,
                    format!("pod {name} is already assigned to node {n:?}"),
                ));
            }
            None => {}
        }
        let mut new = (*old).clone();
        json::set(&mut new, &["spec", "nodeName"], json!(node));
        Ok(self.commit(&mut st, Kind::Pod, key, Some(new), EventType::Modified))
    }

    /// Creates the object if it does not exist, otherwise modifies it: server-side apply.
    pub fn upsert(
        &self,
        kind: Kind,
        ns: &str,
        name: &str,
        dry_run: bool,
        f: impl FnOnce(Option<&Value>) -> Result<Value, ApiError>,
    ) -> Result<(Arc<Value>, bool), ApiError> {
        // The existence check and the write are two steps; a create racing in between makes the
        // create answer AlreadyExists, as the real server would answer a racing apply with a conflict.
        match self.get(kind, ns, name) {
            Ok(_) => {
                self.modify(kind, ns, name, Subresource::Main, dry_run, |old| f(Some(old))).map(|(o, _)| (o, false))
            }
            Err(e) if e.code == 404 && e.reason == "NotFound" => {
                let obj = f(None)?;
                self.create(kind, ns, obj, dry_run).map(|o| (o, true))
            }
            Err(e) => Err(e),
        }
    }

    /// Deletes an object. Pods bound to a node are deleted gracefully (they get a
    /// `deletionTimestamp` and the kubelet removes them when their containers have stopped); objects
    /// with finalizers wait for them; everything else goes at once. Returns the object as it was
    /// left: with a deletion timestamp, or as it was last stored.
    pub fn delete(&self, kind: Kind, ns: &str, name: &str, opts: &DeleteOptions) -> Result<Arc<Value>, ApiError> {
        let info = kind.info();
        let mut st = self.lock();
        let key = (scope(kind, ns), name.to_string());
        let old =
            st.objects.get(&kind).and_then(|m| m.get(&key)).cloned().ok_or_else(|| ApiError::not_found(info, name))?;
        if let Some(uid) = &opts.uid
            && uid != json::uid(&old)
        {
            return Err(ApiError::conflict_msg(
                info,
                name,
                format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {}", json::uid(&old)),
            ));
        }
        if let Some(rv) = &opts.resource_version
            && rv != json::get_str(&old, &["metadata", "resourceVersion"]).unwrap_or("")
        {
            return Err(ApiError::conflict_msg(
                info,
                name,
                format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    json::get_str(&old, &["metadata", "resourceVersion"]).unwrap_or("")
                ),
            ));
        }
        if opts.dry_run {
            return Ok(old);
        }
        let now = rfc3339(self.clock.now());
        let graceful_pod = kind == Kind::Pod
            && json::get_str(&old, &["spec", "nodeName"]).is_some_and(|n| !n.is_empty())
            && !matches!(json::get_str(&old, &["status", "phase"]), Some("Succeeded" | "Failed"));
        let grace = opts
            .grace_period_seconds
            .or_else(|| json::get_i64(&old, &["spec", "terminationGracePeriodSeconds"]))
            .unwrap_or(30)
            .max(0);
        let mut fins = finalizers(&old);
        match opts.propagation {
            Propagation::Foreground if kind != Kind::Pod => fins.push("foregroundDeletion".into()),
            Propagation::Orphan if kind != Kind::Pod => fins.push("orphan".into()),
            _ => {}
        }
        if kind == Kind::Namespace {
            // The namespace controller empties the namespace, then removes it.
            fins.push("kubernetes".into());
        }
        fins.dedup();
        let keep = (graceful_pod && grace > 0) || !fins.is_empty();
        if !keep {
            return Ok(self.commit(&mut st, kind, key, None, EventType::Deleted));
        }
        if json::is_deleting(&old) {
            // A second delete of a terminating object changes nothing, unless it forces a pod.
            if graceful_pod && opts.grace_period_seconds == Some(0) {
                return Ok(self.commit(&mut st, kind, key, None, EventType::Deleted));
            }
            return Ok(old);
        }
        let mut new = (*old).clone();
        {
            let meta = json::ensure_obj(&mut new, &["metadata"]);
            meta.insert("deletionTimestamp".into(), Value::String(now));
            if graceful_pod {
                meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
            } else {
                meta.insert("deletionGracePeriodSeconds".into(), json!(0));
            }
            let object_fins: Vec<String> = fins.iter().filter(|f| *f != "kubernetes").cloned().collect();
            if !object_fins.is_empty() {
                meta.insert("finalizers".into(), json!(object_fins));
            }
        }
        if kind == Kind::Namespace {
            json::set(&mut new, &["status", "phase"], json!("Terminating"));
        }
        Ok(self.commit(&mut st, kind, key, Some(new), EventType::Modified))
    }

    /// Removes an object now, whatever its finalizers or grace period (the kubelet's final delete,
    /// the garbage collector and the namespace controller use this).
    pub fn remove(&self, kind: Kind, ns: &str, name: &str) -> Option<Arc<Value>> {
        let mut st = self.lock();
        let key = (scope(kind, ns), name.to_string());
        st.objects.get(&kind)?.get(&key)?;
        Some(self.commit(&mut st, kind, key, None, EventType::Deleted))
    }

    /// Subscribes to changes of a kind.
    pub fn watch(&self, kind: Kind, ns: Option<&str>, start: WatchStart) -> Result<Subscription, ApiError> {
        let st = self.lock();
        let live = self.live.subscribe();
        let initial = match start {
            WatchStart::Current => {
                let ns = ns.map(|n| scope(kind, n));
                st.objects
                    .get(&kind)
                    .map(|m| {
                        m.iter()
                            .filter(|((n, _), _)| ns.as_ref().is_none_or(|want| want == n))
                            .map(|(_, obj)| {
                                Arc::new(WatchEvent {
                                    rv: object_rv(obj),
                                    kind,
                                    event_type: EventType::Added,
                                    object: obj.clone(),
                                    old: None,
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            }
            WatchStart::After(rv) => {
                if rv < st.compacted_through {
                    let oldest = st.history.front().map(|e| e.rv).unwrap_or(st.rv + 1);
                    return Err(ApiError::expired(rv, oldest.saturating_sub(1).max(st.compacted_through)));
                }
                let from = st.history.partition_point(|e| e.rv <= rv);
                st.history.iter().skip(from).filter(|e| e.kind == kind).cloned().collect()
            }
        };
        Ok(Subscription { initial, live, start_rv: st.rv })
    }

    fn commit(&self, st: &mut State, kind: Kind, key: Key, new: Option<Value>, event_type: EventType) -> Arc<Value> {
        st.rv += 1;
        let rv = st.rv;
        let objects = st.objects.entry(kind).or_default();
        let old = objects.get(&key).cloned();
        let stored = match new {
            Some(mut obj) => {
                json::set(&mut obj, &["metadata", "resourceVersion"], Value::String(rv.to_string()));
                let obj = Arc::new(obj);
                objects.insert(key, obj.clone());
                obj
            }
            None => {
                let mut last = old.as_deref().cloned().unwrap_or(Value::Null);
                objects.remove(&key);
                json::set(&mut last, &["metadata", "resourceVersion"], Value::String(rv.to_string()));
                Arc::new(last)
            }
        };
        let event = Arc::new(WatchEvent {
            rv,
            kind,
            event_type,
            object: stored.clone(),
            old: if event_type == EventType::Modified { old } else { None },
        });
        st.history.push_back(event.clone());
        while st.history.len() > self.history_limit {
            if let Some(dropped) = st.history.pop_front() {
                st.compacted_through = dropped.rv;
            }
        }
        st.observers.retain(|tx| tx.send(event.clone()).is_ok());
        // No receiver is not an error: nobody is watching.
        let _ = self.live.send(event);
        stored
    }
}

/// Records rejected internal writes instead of dropping them silently.
pub trait Noted<T> {
    /// The value, or `None` after recording the error with `Store::note`.
    fn noted(self, store: &Store, what: &str) -> Option<T>;
}

impl<T> Noted<T> for Result<T, ApiError> {
    fn noted(self, store: &Store, what: &str) -> Option<T> {
        match self {
            Ok(v) => Some(v),
            Err(e) => {
                store.note(what, &e);
                None
            }
        }
    }
}

/// The namespace key of an object of `kind`: empty for cluster-scoped kinds.
fn scope(kind: Kind, ns: &str) -> String {
    if kind.info().namespaced { ns.to_string() } else { String::new() }
}

/// The resourceVersion of a stored object.
pub fn object_rv(obj: &Value) -> u64 {
    json::get_str(obj, &["metadata", "resourceVersion"]).and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn finalizers(obj: &Value) -> Vec<String> {
    json::get(obj, &["metadata", "finalizers"])
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn encode_continue(key: &Key) -> String {
    // Opaque to clients; namespace and name cannot contain '/'.
    format!("{}/{}", key.0, key.1)
}

fn decode_continue(token: &str) -> Result<Key, ApiError> {
    token
        .split_once('/')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .ok_or_else(|| ApiError::bad_request(format!("invalid continue token {token:?}")))
}

/// The API server resets status on create (the status subresource owns it), except for the fields
/// it initialises itself.
fn reset_status_on_create(kind: Kind, obj: &mut Value) {
    let map = obj.as_object_mut().expect("objects are JSON objects");
    match kind {
        Kind::Deployment | Kind::ReplicaSet | Kind::StatefulSet | Kind::DaemonSet | Kind::CronJob => {
            map.insert("status".into(), json!({}));
        }
        Kind::Job => {
            map.insert("status".into(), json!({}));
        }
        Kind::Pod => {
            map.insert("status".into(), json!({"phase": "Pending", "qosClass": "BestEffort"}));
        }
        Kind::Namespace => {
            map.insert("status".into(), json!({"phase": "Active"}));
        }
        Kind::Event => {}
    }
}

/// What the API server's update strategies do before validating an update.
fn prepare_update(kind: Kind, new: &mut Value, old: &Value, sub: Subresource) {
    let info = kind.info();
    {
        let map = new.as_object_mut().expect("checked by the caller");
        map.insert("apiVersion".into(), Value::String(info.api_version()));
        map.insert("kind".into(), Value::String(info.name.into()));
    }
    // Fields the server owns are always taken from the stored object.
    for field in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace", "name"] {
        match json::get(old, &["metadata", field]) {
            Some(v) => json::set(new, &["metadata", field], v.clone()),
            None => {
                json::remove(new, &["metadata", field]);
            }
        }
    }
    json::set(
        new,
        &["metadata", "resourceVersion"],
        json::get(old, &["metadata", "resourceVersion"]).cloned().unwrap_or(Value::Null),
    );
    match sub {
        Subresource::Main => {
            if kind != Kind::Event {
                match old.get("status") {
                    Some(s) => json::set(new, &["status"], s.clone()),
                    None => {
                        json::remove(new, &["status"]);
                    }
                }
            }
        }
        Subresource::Status => {
            for field in ["spec"] {
                match old.get(field) {
                    Some(s) => json::set(new, &[field], s.clone()),
                    None => {
                        json::remove(new, &[field]);
                    }
                }
            }
            match json::get(old, &["metadata", "labels"]) {
                Some(l) => json::set(new, &["metadata", "labels"], l.clone()),
                None => {
                    json::remove(new, &["metadata", "labels"]);
                }
            }
        }
    }
    if info.has_generation {
        let old_gen = json::get_i64(old, &["metadata", "generation"]).unwrap_or(1);
        let spec_changed = new.get("spec") != old.get("spec");
        // Deployments also count annotation changes (the registry strategy compares both).
        let annotations_changed = kind == Kind::Deployment
            && json::get(new, &["metadata", "annotations"]) != json::get(old, &["metadata", "annotations"]);
        let bump = sub == Subresource::Main && (spec_changed || annotations_changed);
        json::set(new, &["metadata", "generation"], json!(if bump { old_gen + 1 } else { old_gen }));
    }
}

/// The kinds the store knows, for iteration.
pub fn all_kinds() -> impl Iterator<Item = Kind> {
    KINDS.iter().map(|k| k.kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        Store::new(Clock::new(1.0), Arc::new(Rng::new(1)), 5)
    }

    fn deployment(name: &str) -> Value {
        json!({"metadata": {"name": name, "labels": {"app": name}}, "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "app", "image": "app:1"}]}}
        }})
    }

    #[test]
    fn create_sets_server_fields_and_generation_one() {
        let s = store();
        let d = s.create(Kind::Deployment, "default", deployment("web"), false).unwrap();
        assert_eq!(d["apiVersion"], "apps/v1");
        assert_eq!(d["kind"], "Deployment");
        assert_eq!(d["metadata"]["generation"], 1);
        assert_eq!(d["metadata"]["namespace"], "default");
        assert!(d["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36));
        assert_eq!(d["status"], json!({}));
        let e = s.create(Kind::Deployment, "default", deployment("web"), false).unwrap_err();
        assert_eq!((e.code, e.reason), (409, "AlreadyExists"));
    }

    #[test]
    fn create_in_a_missing_namespace_is_not_found() {
        let e = store().create(Kind::Deployment, "nope", deployment("web"), false).unwrap_err();
        assert_eq!(e.code, 404);
        assert_eq!(e.message, "namespaces \"nope\" not found");
    }

    #[test]
    fn generation_moves_on_spec_and_annotation_changes_only() {
        let s = store();
        s.create(Kind::Deployment, "default", deployment("web"), false).unwrap();
        let change = |f: &dyn Fn(&mut Value), sub| {
            s.modify(Kind::Deployment, "default", "web", sub, false, |o| {
                let mut n = o.clone();
                f(&mut n);
                Ok(n)
            })
            .unwrap()
            .0
        };
        let d = change(&|d| d["spec"]["replicas"] = json!(2), Subresource::Main);
        assert_eq!(d["metadata"]["generation"], 2);
        let d = change(&|d| json::set_annotation(d, "a", Some("b".into())), Subresource::Main);
        assert_eq!(d["metadata"]["generation"], 3);
        let d = change(&|d| d["metadata"]["labels"]["x"] = json!("y"), Subresource::Main);
        assert_eq!(d["metadata"]["generation"], 3);
        let d = change(&|d| d["status"] = json!({"replicas": 2}), Subresource::Status);
        assert_eq!(d["metadata"]["generation"], 3);
        assert_eq!(d["status"]["replicas"], 2);
        // A status write through the main resource is ignored; a spec write through /status too.
        let d = change(&|d| d["status"] = json!({"replicas": 9}), Subresource::Main);
        assert_eq!(d["status"]["replicas"], 2);
        let d = change(&|d| d["spec"]["replicas"] = json!(9), Subresource::Status);
        assert_eq!(d["spec"]["replicas"], 2);
    }

    #[test]
    fn a_noop_update_writes_nothing() {
        let s = store();
        let d = s.create(Kind::Deployment, "default", deployment("web"), false).unwrap();
        let rv = s.resource_version();
        let (same, changed) =
            s.modify(Kind::Deployment, "default", "web", Subresource::Main, false, |o| Ok(o.clone())).unwrap();
        assert!(!changed);
        assert_eq!(same, d);
        assert_eq!(s.resource_version(), rv);
    }

    #[test]
    fn a_stale_resource_version_conflicts() {
        let s = store();
        let d = s.create(Kind::Deployment, "default", deployment("web"), false).unwrap();
        let mut stale = (*d).clone();
        stale["spec"]["replicas"] = json!(3);
        s.update(Kind::Deployment, "default", "web", stale.clone(), Subresource::Main, false).unwrap();
        let e = s.update(Kind::Deployment, "default", "web", stale, Subresource::Main, false).unwrap_err();
        assert_eq!((e.code, e.reason), (409, "Conflict"));
        assert!(e.message.contains("the object has been modified"));
    }

    #[test]
    fn watches_replay_history_and_expire_when_it_overflowed() {
        let s = store();
        let start = s.resource_version();
        s.create(Kind::Deployment, "default", deployment("a"), false).unwrap();
        s.create(Kind::Deployment, "default", deployment("b"), false).unwrap();
        let sub = s.watch(Kind::Deployment, Some("default"), WatchStart::After(start)).unwrap();
        assert_eq!(sub.initial.len(), 2);
        assert_eq!(sub.initial[0].event_type, EventType::Added);
        for n in ["c", "d", "e", "f", "g"] {
            s.create(Kind::Deployment, "default", deployment(n), false).unwrap();
        }
        let e = s.watch(Kind::Deployment, Some("default"), WatchStart::After(start)).unwrap_err();
        assert_eq!((e.code, e.reason), (410, "Expired"));
        let cur = s.watch(Kind::Deployment, None, WatchStart::Current).unwrap();
        assert_eq!(cur.initial.len(), 7);
    }

    #[test]
    fn lists_page_with_continue_tokens() {
        let s = store();
        for n in ["a", "b", "c"] {
            s.create(Kind::Deployment, "default", deployment(n), false).unwrap();
        }
        let p1 = s.list(Kind::Deployment, Some("default"), &|_| true, Some(2), None).unwrap();
        assert_eq!(p1.items.len(), 2);
        assert_eq!(p1.remaining, 1);
        let p2 = s.list(Kind::Deployment, Some("default"), &|_| true, Some(2), p1.continue_token.as_deref()).unwrap();
        assert_eq!(p2.items.len(), 1);
        assert_eq!(json::name(&p2.items[0]), "c");
        assert!(p2.continue_token.is_none());
    }

    #[test]
    fn bound_pods_are_deleted_gracefully() {
        let s = store();
        let pod = json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n", "containers": [{"name": "c", "image": "c:1"}]}});
        s.create(Kind::Pod, "default", pod, false).unwrap();
        let p = s.delete(Kind::Pod, "default", "p", &DeleteOptions::default()).unwrap();
        assert!(json::is_deleting(&p));
        assert_eq!(p["metadata"]["deletionGracePeriodSeconds"], 30);
        assert!(s.get(Kind::Pod, "default", "p").is_ok());
        s.delete(Kind::Pod, "default", "p", &DeleteOptions { grace_period_seconds: Some(0), ..Default::default() })
            .unwrap();
        assert!(s.get(Kind::Pod, "default", "p").is_err());
    }

    #[test]
    fn orphan_deletion_waits_for_its_finalizer() {
        let s = store();
        s.create(Kind::Deployment, "default", deployment("web"), false).unwrap();
        let opts = DeleteOptions { propagation: Propagation::Orphan, ..Default::default() };
        let d = s.delete(Kind::Deployment, "default", "web", &opts).unwrap();
        assert_eq!(d["metadata"]["finalizers"], json!(["orphan"]));
        s.modify(Kind::Deployment, "default", "web", Subresource::Main, false, |o| {
            let mut n = o.clone();
            json::remove(&mut n, &["metadata", "finalizers"]);
            Ok(n)
        })
        .unwrap();
        assert!(s.get(Kind::Deployment, "default", "web").is_err());
    }
}
