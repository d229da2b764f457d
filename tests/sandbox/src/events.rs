//! Kubernetes Events (`core/v1`), recorded by the simulated controllers, scheduler and kubelet the
//! way client-go's event recorder does: one Event object per distinct (object, reason, message,
//! source), whose `count` and `lastTimestamp` rise when it repeats.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::clock::rfc3339;
use crate::json;
use crate::kinds::Kind;
use crate::store::{Noted, Store, Subresource};

/// `Normal` or `Warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// A routine event.
    Normal,
    /// Something went wrong.
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

/// What makes two events the same: involved object uid, field path, reason, message, reporter.
type EventKey = (String, String, String, String, String);

/// Records events into the store, aggregating repeats.
#[derive(Debug)]
pub struct Recorder {
    store: Arc<Store>,
    seen: Mutex<HashMap<EventKey, (String, String)>>,
}

impl Recorder {
    /// A recorder writing into `store`.
    pub fn new(store: Arc<Store>) -> Self {
        Self { store, seen: Mutex::new(HashMap::new()) }
    }

    /// Records one event about `involved` (a stored object) at simulated time `at`. `field_path` names
    /// a container (`spec.containers{web}`); `component` is the reporter (`kubelet`,
    /// `deployment-controller`, …).
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &self,
        involved: &Value,
        field_path: Option<&str>,
        event_type: EventType,
        reason: &str,
        message: &str,
        component: &str,
        at: Timestamp,
    ) {
        let ns = match json::namespace(involved) {
            "" => "default".to_string(),
            ns => ns.to_string(),
        };
        let key = (
            json::uid(involved).to_string(),
            field_path.unwrap_or("").to_string(),
            reason.to_string(),
            message.to_string(),
            component.to_string(),
        );
        let now = rfc3339(at);
        let existing = self.seen.lock().unwrap_or_else(|p| p.into_inner()).get(&key).cloned();
        if let Some((ens, ename)) = existing {
            let bumped = self.store.modify(Kind::Event, &ens, &ename, Subresource::Main, false, |old| {
                let mut e = old.clone();
                let count = json::get_i64(old, &["count"]).unwrap_or(1) + 1;
                e["count"] = json!(count);
                e["lastTimestamp"] = json!(now);
                Ok(e)
            });
            if bumped.is_ok() {
                return;
            }
        }
        let host = if component == "kubelet" { crate::NODE_NAME } else { "" };
        let name =
            format!("{}.{:016x}", json::name(involved), at.as_nanosecond() as u64 ^ self.store.rng().next_u64() >> 8);
        let mut involved_ref = json!({
            "kind": involved.get("kind").and_then(Value::as_str).unwrap_or(""),
            "namespace": json::namespace(involved),
            "name": json::name(involved),
            "uid": json::uid(involved),
            "apiVersion": involved.get("apiVersion").and_then(Value::as_str).unwrap_or(""),
            "resourceVersion": json::get_str(involved, &["metadata", "resourceVersion"]).unwrap_or(""),
        });
        if let Some(fp) = field_path {
            involved_ref["fieldPath"] = json!(fp);
        }
        let mut source = json!({"component": component});
        if !host.is_empty() {
            source["host"] = json!(host);
        }
        let event = json!({
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": involved_ref,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": event_type.as_str(),
            "eventTime": null,
            "reportingComponent": component,
            "reportingInstance": host,
        });
        if self.store.create(Kind::Event, &ns, event, false).noted(&self.store, "recording an event").is_some() {
            self.seen.lock().unwrap_or_else(|p| p.into_inner()).insert(key, (ns, name));
        }
    }
}
