//! Watch streams: `?watch=true` on a list URL.
//!
//! The wire format is what both kubectl (client-go's streaming decoder) and kube-rs (a line codec)
//! accept: HTTP 200, chunked, one JSON event per line. A watch from a resourceVersion replays the
//! history after it, or — when the history no longer reaches back that far — answers a single
//! `ERROR` event carrying a 410 `Expired` Status, which is what makes both clients relist (an HTTP
//! 410 on the request itself makes kube-rs retry forever instead). Streaming lists
//! (`sendInitialEvents=true`) send `ADDED` for every object, then a bookmark annotated
//! `k8s.io/initial-events-end`. Objects entering or leaving a selector are sent as `ADDED` or
//! `DELETED`, as the API server's watch cache does.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

use super::{Body, Query, matches, selectors};
use crate::Shared;
use crate::error::ApiError;
use crate::json;
use crate::kinds::Kind;
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::{EventType, WatchEvent, WatchStart};

/// The watch timeout when the client sends none, as the API server's default request timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// How often (in simulated time) an idle watch with bookmarks allowed receives one, like the API
/// server's roughly once-a-minute bookmarks.
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);

struct Filter {
    kind: Kind,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    /// `kubectl get -w` asks for every object as a one-row Table.
    as_table: bool,
}

impl Filter {
    fn passes(&self, obj: &Value) -> bool {
        self.namespace.as_deref().is_none_or(|ns| json::namespace(obj) == ns)
            && matches(obj, &self.labels, &self.fields)
    }

    /// The line for a store event, if anything is sent.
    fn line(&self, ev: &WatchEvent, now: jiff::Timestamp) -> Option<Bytes> {
        let (t, obj) = self.render(ev)?;
        if self.as_table {
            let rv = json::get_str(&obj, &["metadata", "resourceVersion"]).unwrap_or("").to_string();
            return Some(line(t.as_str(), &super::table::table(self.kind, &[&obj], &rv, None, now)));
        }
        Some(line(t.as_str(), &obj))
    }

    /// What to send for a store event, if anything.
    fn render(&self, ev: &WatchEvent) -> Option<(EventType, Arc<Value>)> {
        if ev.kind != self.kind {
            return None;
        }
        let now = self.passes(&ev.object);
        match (ev.event_type, ev.old.as_ref()) {
            (EventType::Modified, Some(old)) => match (self.passes(old), now) {
                (true, true) => Some((EventType::Modified, ev.object.clone())),
                (false, true) => Some((EventType::Added, ev.object.clone())),
                (true, false) => {
                    let mut gone = (**old).clone();
                    json::set(&mut gone, &["metadata", "resourceVersion"], json!(ev.rv.to_string()));
                    Some((EventType::Deleted, Arc::new(gone)))
                }
                (false, false) => None,
            },
            (t, _) => now.then(|| (t, ev.object.clone())),
        }
    }
}

fn line(event_type: &str, object: &Value) -> Bytes {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(event_type.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    serde_json::to_writer(&mut out, object).expect("a Value always serialises");
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

fn bookmark(kind: Kind, rv: u64, initial_events_end: bool) -> Bytes {
    let info = kind.info();
    let mut metadata = json!({"resourceVersion": rv.to_string(), "creationTimestamp": null});
    if initial_events_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    line("BOOKMARK", &json!({"kind": info.name, "apiVersion": info.api_version(), "metadata": metadata}))
}

fn streaming(rx: mpsc::Receiver<Bytes>) -> Response<Body> {
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    let mut resp = Response::new(StreamBody::new(stream).boxed_unsync());
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn expired_response(e: &ApiError) -> Response<Body> {
    let (tx, rx) = mpsc::channel(1);
    let _ = tx.try_send(line("ERROR", &e.to_status()));
    streaming(rx)
}

/// Starts a watch and answers with its stream.
pub fn serve(
    shared: Arc<Shared>,
    kind: Kind,
    namespace: Option<String>,
    q: &Query,
    as_table: bool,
) -> Result<Response<Body>, ApiError> {
    let (labels, fields) = selectors(q, kind)?;
    let send_initial = q.flag("sendInitialEvents");
    let allow_bookmarks = q.flag("allowWatchBookmarks");
    if send_initial && (q.get("resourceVersionMatch") != Some("NotOlderThan") || !allow_bookmarks) {
        return Err(ApiError::unprocessable(
            "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents requires \
             setting resourceVersionMatch to NotOlderThan and allowWatchBookmarks to true",
        ));
    }
    let rv = match q.non_empty("resourceVersion") {
        None => None,
        Some(s) => {
            Some(s.parse::<u64>().map_err(|_| ApiError::bad_request(format!("invalid resource version: {s:?}")))?)
        }
    };
    let timeout = match q.int("timeoutSeconds")? {
        Some(s) if s > 0 => Duration::from_secs(s as u64),
        _ => DEFAULT_TIMEOUT,
    };
    let start = match rv {
        _ if send_initial => WatchStart::Current,
        None | Some(0) => WatchStart::Current,
        Some(n) => WatchStart::After(n),
    };
    if let WatchStart::After(n) = start
        && n > shared.store.resource_version()
    {
        // The API server's watch cache waits a moment for a version it has not reached, then gives up.
        return Err(ApiError {
            code: 504,
            reason: "Timeout",
            message: format!("Too large resource version: {n}, current: {}", shared.store.resource_version()),
            details: Some(
                json!({"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}], "retryAfterSeconds": 1}),
            ),
            retry_after: Some(1),
        });
    }
    if let WatchStart::After(n) = start
        && shared.faults.watch_expired()
    {
        return Ok(expired_response(&ApiError::expired(n, shared.store.resource_version())));
    }
    let sub = match shared.store.watch(kind, namespace.as_deref(), start) {
        Ok(s) => s,
        Err(e) if e.code == 410 => return Ok(expired_response(&e)),
        Err(e) => return Err(e),
    };
    let filter = Filter { kind, namespace, labels, fields, as_table };
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(run(shared, filter, sub, send_initial, allow_bookmarks, timeout, tx));
    Ok(streaming(rx))
}

async fn run(
    shared: Arc<Shared>,
    filter: Filter,
    sub: crate::store::Subscription,
    send_initial: bool,
    allow_bookmarks: bool,
    timeout: Duration,
    tx: mpsc::Sender<Bytes>,
) {
    let (drop_after_events, drop_after) = shared.faults.watch_limits();
    let deadline = Instant::now() + drop_after.map_or(timeout, |d| d.min(timeout));
    let mut budget = drop_after_events.map(|n| n as u64);
    let mut last_rv = sub.start_rv;
    let mut live = sub.live;
    // Sends one line; false when the stream must end (client gone or the injected event budget spent).
    let send = |bytes: Bytes, budget: &mut Option<u64>| {
        let tx = tx.clone();
        let stop = match budget {
            Some(0) => return futures::future::Either::Left(std::future::ready(false)),
            Some(n) => {
                *n -= 1;
                *n == 0
            }
            None => false,
        };
        futures::future::Either::Right(async move { tx.send(bytes).await.is_ok() && !stop })
    };
    let clock = shared.store.clock().clone();
    for ev in &sub.initial {
        if let Some(l) = filter.line(ev, clock.now())
            && !send(l, &mut budget).await
        {
            return;
        }
    }
    if send_initial && !send(bookmark(filter.kind, last_rv, true), &mut budget).await {
        return;
    }
    let every = shared.store.clock().real_duration(BOOKMARK_EVERY).max(Duration::from_millis(50));
    let mut ticker = tokio::time::interval_at(Instant::now() + every, every);
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return,
            _ = shared.shutdown.cancelled() => return,
            _ = tx.closed() => return,
            _ = ticker.tick(), if allow_bookmarks => {
                if !send(bookmark(filter.kind, last_rv, false), &mut budget).await {
                    return;
                }
            }
            r = live.recv() => match r {
                Ok(ev) => {
                    last_rv = ev.rv;
                    if let Some(l) = filter.line(&ev, clock.now())
                        && !send(l, &mut budget).await
                    {
                        return;
                    }
                }
                // A watcher too slow to keep up is cut off; it resumes from its last resourceVersion.
                Err(broadcast::error::RecvError::Lagged(_) | broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event_type: EventType, obj: Value, old: Option<Value>) -> WatchEvent {
        WatchEvent { rv: 9, kind: Kind::Pod, event_type, object: Arc::new(obj), old: old.map(Arc::new) }
    }

    fn pod(app: &str) -> Value {
        json!({"metadata": {"name": "p", "namespace": "default", "labels": {"app": app}}})
    }

    #[test]
    fn objects_entering_and_leaving_a_selector_are_added_and_deleted() {
        let f = Filter {
            kind: Kind::Pod,
            namespace: Some("default".into()),
            labels: LabelSelector::parse("app=web").unwrap(),
            fields: FieldSelector::default(),
            as_table: false,
        };
        let (t, _) = f.render(&ev(EventType::Modified, pod("web"), Some(pod("x")))).unwrap();
        assert_eq!(t, EventType::Added);
        let (t, o) = f.render(&ev(EventType::Modified, pod("x"), Some(pod("web")))).unwrap();
        assert_eq!(t, EventType::Deleted);
        assert_eq!(o["metadata"]["resourceVersion"], "9");
        assert_eq!(o["metadata"]["labels"]["app"], "web");
        assert!(f.render(&ev(EventType::Modified, pod("x"), Some(pod("y")))).is_none());
        assert_eq!(f.render(&ev(EventType::Modified, pod("web"), Some(pod("web")))).unwrap().0, EventType::Modified);
    }

    #[test]
    fn events_are_one_json_document_per_line() {
        let l = line("ADDED", &json!({"a": 1}));
        assert_eq!(&l[..], b"{\"type\":\"ADDED\",\"object\":{\"a\":1}}\n");
        let b = bookmark(Kind::Deployment, 5, true);
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
        assert_eq!(v["object"]["kind"], "Deployment");
    }
}
