//! Helpers shared by the API and watcher tests: a raw HTTP client that shows every status code (no
//! retries, no error mapping), a line reader for watch streams, a typed kube client, a realistic
//! Deployment manifest, and waits on store conditions bounded by a generous real-time timeout.
//!
//! Nothing here sleeps: waits wake on every store change and re-check their condition.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use rollout_sandbox::{Sandbox, Store};
use serde_json::{Value, json};

/// How long any wait may take before the test fails; it only bounds a failure.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A sandbox with a fast clock (a simulated second lasts 10 ms).
pub async fn sandbox() -> Sandbox {
    Sandbox::builder().time_scale(0.01).seed(7).start().await.expect("the sandbox starts")
}

/// One answer of the API server.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("the body is not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts the status and returns the JSON body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "unexpected answer: {}", self.text());
        self.json()
    }

    /// Asserts that the answer is a `Status` failure with this code and reason, and returns it.
    #[track_caller]
    pub fn expect_status(&self, code: u16, reason: &str) -> Value {
        let s = self.expect(code);
        assert_eq!(s["kind"], "Status", "{s}");
        assert_eq!(s["apiVersion"], "v1", "{s}");
        assert_eq!(s["status"], "Failure", "{s}");
        assert_eq!(s["code"], code, "{s}");
        assert_eq!(s["reason"], reason, "{s}");
        s
    }

    /// The `Content-Type` header.
    pub fn content_type(&self) -> &str {
        self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

/// A raw HTTP client: kube's transport without its retry layer, so every 409, 429 or 5xx is seen.
#[derive(Clone)]
pub struct Raw {
    client: kube::Client,
    token: Option<String>,
}

impl Raw {
    /// A client for the sandbox, sending its bearer token if it has one.
    pub fn new(url: &str, token: Option<&str>) -> Self {
        let mut cfg = kube::Config::new(url.parse().expect("the sandbox URL is a URI"));
        cfg.default_retry = false;
        Self { client: kube::Client::try_from(cfg).expect("a plain-http client builds"), token: token.map(Into::into) }
    }

    /// The same client without credentials.
    pub fn anonymous(&self) -> Self {
        Self { client: self.client.clone(), token: None }
    }

    /// The same client with other credentials.
    pub fn with_token(&self, token: &str) -> Self {
        Self { client: self.client.clone(), token: Some(token.into()) }
    }

    async fn send_raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> http::Response<kube::client::Body> {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        if let Some(t) = &self.token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = req.body(kube::client::Body::from(body)).expect("a valid request");
        tokio::time::timeout(PATIENCE, self.client.send(req))
            .await
            .unwrap_or_else(|_| panic!("no answer to {path} within {PATIENCE:?}"))
            .unwrap_or_else(|e| panic!("the request to {path} failed: {e}"))
    }

    /// Sends a request and reads the whole answer.
    pub async fn send(&self, method: Method, path: &str, content_type: Option<&str>, body: Vec<u8>) -> Reply {
        let resp = self.send_raw(method, path, content_type, body).await;
        let (parts, body) = resp.into_parts();
        let body = tokio::time::timeout(PATIENCE, body.collect())
            .await
            .unwrap_or_else(|_| panic!("the body of {path} did not end within {PATIENCE:?}"))
            .unwrap_or_else(|e| panic!("reading the body of {path} failed: {e}"))
            .to_bytes();
        Reply { status: parts.status, headers: parts.headers, body }
    }

    /// `GET`.
    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None, Vec::new()).await
    }

    /// `POST` of a JSON object.
    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::POST, path, Some("application/json"), body.to_string().into_bytes()).await
    }

    /// `PUT` of a JSON object.
    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::PUT, path, Some("application/json"), body.to_string().into_bytes()).await
    }

    /// `PATCH` with a content type.
    pub async fn patch(&self, path: &str, content_type: &str, body: &Value) -> Reply {
        self.send(Method::PATCH, path, Some(content_type), body.to_string().into_bytes()).await
    }

    /// `DELETE`.
    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None, Vec::new()).await
    }

    /// Starts a watch (`path` includes `watch=true`); the answer must be 200.
    pub async fn watch(&self, path: &str) -> WatchLines {
        let resp = self.send_raw(Method::GET, path, None, Vec::new()).await;
        assert_eq!(resp.status(), StatusCode::OK, "watching {path}");
        assert_eq!(resp.headers().get(header::CONTENT_TYPE).unwrap(), "application/json");
        WatchLines { body: resp.into_body(), buf: Vec::new(), path: path.to_string() }
    }
}

/// The events of a watch stream, one JSON document per line.
pub struct WatchLines {
    body: kube::client::Body,
    buf: Vec<u8>,
    path: String,
}

impl WatchLines {
    /// The next event, or `None` when the server ended the stream; fails the test if neither comes
    /// within `PATIENCE`.
    pub async fn next(&mut self) -> Option<Value> {
        let path = self.path.clone();
        tokio::time::timeout(PATIENCE, self.next_line())
            .await
            .unwrap_or_else(|_| panic!("no watch event on {path} within {PATIENCE:?}"))
    }

    async fn next_line(&mut self) -> Option<Value> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                let v: Value = serde_json::from_slice(&line).unwrap_or_else(|e| {
                    panic!("a watch line is not one JSON document ({e}): {}", String::from_utf8_lossy(&line))
                });
                return Some(v);
            }
            match self.body.frame().await {
                None => {
                    assert!(
                        self.buf.is_empty(),
                        "the stream ended inside a line: {}",
                        String::from_utf8_lossy(&self.buf)
                    );
                    return None;
                }
                Some(Err(e)) => panic!("reading the watch stream {} failed: {e}", self.path),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
            }
        }
    }

    /// The next event that is not a bookmark.
    pub async fn next_change(&mut self) -> Option<Value> {
        loop {
            let ev = self.next().await?;
            if ev["type"] != "BOOKMARK" {
                return Some(ev);
            }
        }
    }

    /// Every remaining event until the server ends the stream.
    pub async fn rest(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(ev) = self.next().await {
            out.push(ev);
        }
        out
    }
}

/// A typed kube client built from the sandbox's kubeconfig, as a user would build it.
pub async fn kube_client(sb: &Sandbox) -> kube::Client {
    let kc = kube::config::Kubeconfig::from_yaml(&sb.kubeconfig()).expect("the kubeconfig parses");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.expect("the kubeconfig loads");
    kube::Client::try_from(cfg).expect("the client builds")
}

/// A Deployment with every field the controller reads given explicitly (no defaulting is assumed):
/// a RollingUpdate of `replicas` pods running `image`, one surge pod and none unavailable.
pub fn deployment(name: &str, replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "minReadySeconds": 0,
            "progressDeadlineSeconds": 600,
            "revisionHistoryLimit": 10,
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [{"name": name, "image": image, "imagePullPolicy": "IfNotPresent"}],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 30
                }
            }
        }
    })
}

/// A bare pod.
pub fn pod(name: &str, labels: Value, containers: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": containers, "restartPolicy": "Always", "terminationGracePeriodSeconds": 30}
    })
}

/// Percent-encodes a query parameter value (selectors, continue tokens).
pub fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The URL of a namespace's deployments.
pub fn deployments(ns: &str) -> String {
    format!("/apis/apps/v1/namespaces/{ns}/deployments")
}

/// The resourceVersion of an object, as a number.
#[track_caller]
pub fn rv(obj: &Value) -> u64 {
    obj["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no numeric resourceVersion in {obj}"))
}

/// Waits until `cond` holds for the store, re-checking on every change; fails after `PATIENCE`.
pub async fn wait_until(store: &Store, what: &str, cond: impl Fn(&Store) -> bool) {
    let mut feed = store.observe();
    let waiting = async {
        while !cond(store) {
            if feed.recv().await.is_none() {
                panic!("the store stopped while waiting until {what}");
            }
        }
    };
    if tokio::time::timeout(PATIENCE, waiting).await.is_err() {
        panic!("waited {PATIENCE:?} in vain until {what}");
    }
}

/// Whether a Deployment's rollout is complete: every replica updated and available, and the
/// latest spec observed (the fields `kubectl rollout status` reads).
pub fn rollout_complete(d: &Value) -> bool {
    let want = d["spec"]["replicas"].as_i64().unwrap_or(1);
    let s = &d["status"];
    let n = |k: &str| s[k].as_i64().unwrap_or(0);
    d["metadata"]["generation"].as_i64().is_some()
        && s["observedGeneration"] == d["metadata"]["generation"]
        && n("updatedReplicas") == want
        && n("replicas") == want
        && n("availableReplicas") == want
}

/// Waits until the Deployment's rollout is complete.
pub async fn wait_rolled_out(store: &Store, ns: &str, name: &str) {
    wait_until(store, &format!("deployment {ns}/{name} is rolled out"), |s| {
        s.get(rollout_sandbox::Kind::Deployment, ns, name).is_ok_and(|d| rollout_complete(&d))
    })
    .await;
}
