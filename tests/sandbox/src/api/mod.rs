//! The HTTP face of the emulated API server: routing, content negotiation, authentication, fault
//! injection, and the handlers for every verb.
//!
//! It speaks HTTP/1.1 with keep-alive on loopback, JSON only (protobuf and Table requests are
//! answered with JSON, which kubectl accepts), and answers errors as `Status` objects. Object
//! semantics live in `store`; this module only translates requests into store calls.

mod discovery;
mod query;
mod table;
mod watch;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde_json::{Value, json};

pub use query::Query;

use crate::Shared;
use crate::error::ApiError;
use crate::json;
use crate::kinds::Kind;
use crate::patch;
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::{DeleteOptions, Propagation, Subresource};

/// The body type of every response.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// The largest request body accepted, as the real API server limits it (3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

/// A JSON response.
pub fn json_response(status: StatusCode, v: &Value) -> Response<Body> {
    let body = serde_json::to_vec(v).expect("a Value always serialises");
    let mut resp = Response::new(full(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// A `Status` error response.
pub fn error_response(e: &ApiError) -> Response<Body> {
    let mut resp =
        json_response(StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), &e.to_status());
    if let Some(s) = e.retry_after {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    resp
}

fn text_response(status: StatusCode, text: String) -> Response<Body> {
    let mut resp = Response::new(full(text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}

/// Answers one request.
pub async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let result = route(&shared, req).await;
    Ok(result.unwrap_or_else(|e| error_response(&e)))
}

/// What a URL addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    kind: Kind,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

async fn route(shared: &Arc<Shared>, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path().to_string();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let query = Query::parse(req.uri().query());

    // ECR calls (awsJson1_1: `POST /` with an ECR `X-Amz-Target`) share the port. They carry their
    // own SigV4 credentials instead of the bearer token, so they are answered before anything else.
    if crate::ecr::api::is_ecr_request(&req) {
        let target = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
        shared.requests.record(format!("ecr {}", target.rsplit('.').next().unwrap_or("")));
        return Ok(crate::ecr::api::handle(shared, req).await);
    }

    // Health and version answer without credentials, as the real server's public-info role allows.
    match segs.as_slice() {
        ["version"] => {
            shared.requests.record("version");
            return Ok(json_response(StatusCode::OK, &discovery::version()));
        }
        ["healthz" | "livez" | "readyz"] => {
            shared.requests.record("version");
            return Ok(text_response(StatusCode::OK, "ok".into()));
        }
        _ => {}
    }
    if let Some(token) = &shared.token {
        let expected = format!("Bearer {token}");
        let ok = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(expected.as_str());
        if !ok {
            return Err(ApiError::unauthorized());
        }
    }
    if let ["sandbox", "v1", rest @ ..] = segs.as_slice() {
        shared.requests.record("admin");
        let rest: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
        return crate::admin::handle(shared, req, &rest, &query).await;
    }

    let addr = shared.addr.to_string();
    let doc = match segs.as_slice() {
        ["api"] => Some(discovery::core_versions(&addr)),
        ["apis"] => Some(discovery::group_list()),
        ["api", v] => Some(discovery::resource_list("", v).ok_or_else(|| ApiError::path_not_found(&path))?),
        ["apis", g] => Some(discovery::group(g).ok_or_else(|| ApiError::path_not_found(&path))?),
        ["apis", g, v] => Some(discovery::resource_list(g, v).ok_or_else(|| ApiError::path_not_found(&path))?),
        ["openapi", "v3"] => Some(discovery::openapi_index()),
        ["openapi", "v3", "api", v] => {
            Some(discovery::openapi_group_version("", v).ok_or_else(|| ApiError::path_not_found(&path))?)
        }
        ["openapi", "v3", "apis", g, v] => {
            Some(discovery::openapi_group_version(g, v).ok_or_else(|| ApiError::path_not_found(&path))?)
        }
        _ => None,
    };
    if let Some(doc) = doc {
        shared.requests.record("discovery");
        if req.method() != Method::GET {
            return Err(ApiError::method_not_allowed(req.method().as_str(), &path));
        }
        return Ok(json_response(StatusCode::OK, &doc));
    }

    let Some(target) = parse_target(&segs) else {
        shared.requests.record("unknown");
        return Err(ApiError::path_not_found(&path));
    };
    let verb = verb_of(req.method(), &target, &query);
    shared.requests.record(match &target.subresource {
        Some(sub) => format!("{verb} {}/{sub}", target.kind.info().plural),
        None => format!("{verb} {}", target.kind.info().plural),
    });
    if let Some(latency) = shared.faults.latency() {
        tokio::time::sleep(latency).await;
    }
    if let Some(e) = shared.faults.request_error(verb, Some(target.kind)) {
        return Err(e);
    }
    dispatch(shared, req, target, verb, query).await
}

fn parse_target(segs: &[&str]) -> Option<Target> {
    let (group, version, rest) = match segs {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return None,
    };
    let kind_of = |plural: &str| Kind::from_path(group, version, plural);
    let own = |s: &&str| Some(s.to_string());
    match rest {
        ["namespaces", ns, plural, tail @ ..] if kind_of(plural).is_some_and(|k| k.info().namespaced) => {
            let kind = kind_of(plural)?;
            match tail {
                [] => Some(Target { kind, namespace: own(ns), name: None, subresource: None }),
                [name] => Some(Target { kind, namespace: own(ns), name: own(name), subresource: None }),
                [name, sub] if kind.info().subresources.contains(sub) => {
                    Some(Target { kind, namespace: own(ns), name: own(name), subresource: own(sub) })
                }
                _ => None,
            }
        }
        [plural] => Some(Target { kind: kind_of(plural)?, namespace: None, name: None, subresource: None }),
        [plural, name] => {
            let kind = kind_of(plural)?;
            (!kind.info().namespaced).then(|| Target { kind, namespace: None, name: own(name), subresource: None })
        }
        [plural, name, sub] => {
            let kind = kind_of(plural)?;
            (!kind.info().namespaced && kind.info().subresources.contains(sub)).then(|| Target {
                kind,
                namespace: None,
                name: own(name),
                subresource: own(sub),
            })
        }
        _ => None,
    }
}

fn verb_of(method: &Method, t: &Target, q: &Query) -> &'static str {
    match (method.as_str(), t.name.is_some()) {
        ("GET", false) if q.flag("watch") => "watch",
        ("GET", false) => "list",
        ("GET", true) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", false) => "deletecollection",
        ("DELETE", true) => "delete",
        _ => "unknown",
    }
}

async fn read_body(req: Request<Incoming>) -> Result<(Option<String>, Bytes), ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    let body = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                ApiError {
                    code: 413,
                    reason: "RequestEntityTooLarge",
                    message: "the request is too large".into(),
                    details: None,
                    retry_after: None,
                }
            } else {
                ApiError::bad_request(format!("reading the request body failed: {e}"))
            }
        })?
        .to_bytes();
    Ok((content_type, body))
}

/// Decodes a create or update body: JSON, or YAML when the content type says so.
fn decode_object(content_type: Option<&str>, body: &[u8]) -> Result<Value, ApiError> {
    match content_type {
        None | Some("application/json" | "") => serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}"))),
        Some("application/yaml" | "application/x-yaml" | "text/yaml") => decode_yaml(body),
        Some(other) => Err(ApiError::unsupported_body(other)),
    }
}

fn decode_yaml(body: &[u8]) -> Result<Value, ApiError> {
    if let Ok(v) = serde_json::from_slice(body) {
        return Ok(v);
    }
    let text = std::str::from_utf8(body).map_err(|_| ApiError::bad_request("the request body is not UTF-8"))?;
    serde_saphyr::from_str(text).map_err(|e| ApiError::bad_request(format!("the request body is not valid YAML: {e}")))
}

fn object_status(created: bool) -> StatusCode {
    if created { StatusCode::CREATED } else { StatusCode::OK }
}

async fn dispatch(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    t: Target,
    verb: &'static str,
    q: Query,
) -> Result<Response<Body>, ApiError> {
    let store = &shared.store;
    let ns = t.namespace.clone().unwrap_or_default();
    let as_table = table::wants_table(req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let dry_run = q.get("dryRun").is_some_and(|v| v == "All");
    let info = t.kind.info();
    match (verb, t.subresource.as_deref()) {
        ("list", None) => list(shared, &t, &q, as_table),
        ("watch", None) => watch::serve(shared.clone(), t.kind, t.namespace.clone(), &q, as_table),
        ("get", None | Some("status")) => {
            let obj = store.get(t.kind, &ns, t.name.as_deref().unwrap_or(""))?;
            if as_table && t.subresource.is_none() {
                let rv = json::get_str(&obj, &["metadata", "resourceVersion"]).unwrap_or("").to_string();
                return Ok(json_response(
                    StatusCode::OK,
                    &table::table(t.kind, &[&obj], &rv, None, store.clock().now()),
                ));
            }
            Ok(json_response(StatusCode::OK, &obj))
        }
        ("get", Some("scale")) => {
            let obj = store.get(t.kind, &ns, t.name.as_deref().unwrap_or(""))?;
            Ok(json_response(StatusCode::OK, &scale_of(&obj)))
        }
        ("get", Some("log")) => pod_log(shared, &ns, t.name.as_deref().unwrap_or(""), &q),
        ("create", Some("binding")) => {
            let (ct, body) = read_body(req).await?;
            let binding = decode_object(ct.as_deref(), &body)?;
            let node = json::get_str(&binding, &["target", "name"]).filter(|n| !n.is_empty()).ok_or_else(|| {
                ApiError::unprocessable("Binding.meta.k8s.io \"\" is invalid: target.name: Required value")
            })?;
            store.bind(&ns, t.name.as_deref().unwrap_or(""), node)?;
            Ok(json_response(
                StatusCode::CREATED,
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
            ))
        }
        ("create", None) => {
            if t.name.is_some() {
                return Err(ApiError::method_not_allowed("POST", info.plural));
            }
            let (ct, body) = read_body(req).await?;
            let obj = decode_object(ct.as_deref(), &body)?;
            check_kind(&obj, t.kind)?;
            let created = store.create(t.kind, &ns, obj, dry_run)?;
            Ok(json_response(StatusCode::CREATED, &created))
        }
        ("update", sub @ (None | Some("status") | Some("scale"))) => {
            let name = t.name.clone().unwrap_or_default();
            let (ct, body) = read_body(req).await?;
            let obj = decode_object(ct.as_deref(), &body)?;
            if shared.faults.write_conflict() {
                return Err(ApiError::conflict(info, &name));
            }
            if sub == Some("scale") {
                let replicas = json::get_i64(&obj, &["spec", "replicas"]).unwrap_or(0);
                let rv = json::get_str(&obj, &["metadata", "resourceVersion"]).map(str::to_string);
                let (updated, _) = store.modify(t.kind, &ns, &name, Subresource::Main, dry_run, |cur| {
                    let mut n = cur.clone();
                    if let Some(rv) = &rv {
                        json::set(&mut n, &["metadata", "resourceVersion"], json!(rv));
                    }
                    json::set(&mut n, &["spec", "replicas"], json!(replicas));
                    Ok(n)
                })?;
                return Ok(json_response(StatusCode::OK, &scale_of(&updated)));
            }
            check_kind(&obj, t.kind)?;
            let subres = if sub == Some("status") { Subresource::Status } else { Subresource::Main };
            let updated = store.update(t.kind, &ns, &name, obj, subres, dry_run)?;
            Ok(json_response(StatusCode::OK, &updated))
        }
        ("patch", sub @ (None | Some("status") | Some("scale"))) => {
            let name = t.name.clone().unwrap_or_default();
            let (ct, body) = read_body(req).await?;
            let ct = ct.unwrap_or_default();
            if shared.faults.write_conflict() {
                return Err(ApiError::conflict(info, &name));
            }
            patch_object(shared, &t, &ns, &name, sub, &ct, &body, &q, dry_run)
        }
        ("delete", None) => {
            let name = t.name.clone().unwrap_or_default();
            let (_, body) = read_body(req).await?;
            let opts = delete_options(&q, &body, dry_run)?;
            let left = store.delete(t.kind, &ns, &name, &opts)?;
            if t.kind == Kind::Pod || json::is_deleting(&left) {
                return Ok(json_response(StatusCode::OK, &left));
            }
            Ok(json_response(
                StatusCode::OK,
                &json!({
                    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                    "details": {"name": name, "group": info.group, "kind": info.plural, "uid": json::uid(&left)}
                }),
            ))
        }
        ("deletecollection", None) => {
            let (_, body) = read_body(req).await?;
            let opts = delete_options(&q, &body, dry_run)?;
            let (labels, fields) = selectors(&q, t.kind)?;
            let page = store.list(t.kind, t.namespace.as_deref(), &|o| matches(o, &labels, &fields), None, None)?;
            for obj in &page.items {
                // An object removed concurrently is already gone: that is the goal.
                let _ = store.delete(t.kind, json::namespace(obj), json::name(obj), &opts);
            }
            Ok(json_response(
                StatusCode::OK,
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}),
            ))
        }
        _ => Err(ApiError::method_not_allowed(verb, &format!("{}/{}", info.plural, t.subresource.unwrap_or_default()))),
    }
}

fn check_kind(obj: &Value, kind: Kind) -> Result<(), ApiError> {
    let info = kind.info();
    let body_kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    if !body_kind.is_empty() && body_kind != info.name {
        return Err(ApiError::bad_request(format!(
            "the kind in the request body ({body_kind}) does not match the resource in the URL ({}, kind {})",
            info.qualified_resource(),
            info.name
        )));
    }
    let body_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if !body_version.is_empty() && body_version != info.api_version() {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({body_version}) does not match the expected API version ({})",
            info.api_version()
        )));
    }
    Ok(())
}

fn selectors(q: &Query, kind: Kind) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let labels = LabelSelector::parse(q.get("labelSelector").unwrap_or(""))?;
    let fields = FieldSelector::parse(q.get("fieldSelector").unwrap_or(""), kind)?;
    Ok((labels, fields))
}

/// Whether an object passes a watch or list's selectors.
pub(crate) fn matches(obj: &Value, labels: &LabelSelector, fields: &FieldSelector) -> bool {
    (labels.is_empty() || labels.matches(&json::labels(obj))) && fields.matches(obj)
}

fn list(shared: &Shared, t: &Target, q: &Query, as_table: bool) -> Result<Response<Body>, ApiError> {
    let (labels, fields) = selectors(q, t.kind)?;
    let limit = q.int("limit")?.filter(|l| *l > 0).map(|l| l as usize);
    let page = shared.store.list(
        t.kind,
        t.namespace.as_deref(),
        &|o| matches(o, &labels, &fields),
        limit,
        q.non_empty("continue"),
    )?;
    let info = t.kind.info();
    if as_table {
        let items: Vec<&Value> = page.items.iter().map(|a| a.as_ref()).collect();
        let rv = page.rv.to_string();
        let now = shared.store.clock().now();
        return Ok(json_response(
            StatusCode::OK,
            &table::table(t.kind, &items, &rv, page.continue_token.as_deref(), now),
        ));
    }
    let mut metadata = json!({"resourceVersion": page.rv.to_string()});
    if let Some(c) = page.continue_token {
        metadata["continue"] = json!(c);
        metadata["remainingItemCount"] = json!(page.remaining);
    }
    let items: Vec<&Value> = page.items.iter().map(|a| a.as_ref()).collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({"kind": format!("{}List", info.name), "apiVersion": info.api_version(), "metadata": metadata, "items": items}),
    ))
}

/// The `autoscaling/v1` Scale view of a workload.
fn scale_of(obj: &Value) -> Value {
    let selector = json::get(obj, &["spec", "selector"])
        .and_then(LabelSelector::from_label_selector)
        .map(|s| s.to_string())
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": json::name(obj),
            "namespace": json::namespace(obj),
            "uid": json::uid(obj),
            "resourceVersion": json::get_str(obj, &["metadata", "resourceVersion"]),
            "creationTimestamp": json::get(obj, &["metadata", "creationTimestamp"]),
        },
        "spec": {"replicas": json::get_i64(obj, &["spec", "replicas"]).unwrap_or(0)},
        "status": {"replicas": json::get_i64(obj, &["status", "replicas"]).unwrap_or(0), "selector": selector},
    })
}

#[allow(clippy::too_many_arguments)]
fn patch_object(
    shared: &Shared,
    t: &Target,
    ns: &str,
    name: &str,
    sub: Option<&str>,
    content_type: &str,
    body: &[u8],
    q: &Query,
    dry_run: bool,
) -> Result<Response<Body>, ApiError> {
    let store = &shared.store;
    let kind = t.kind;
    let patch_doc: Value = match content_type {
        "application/apply-patch+yaml" => decode_yaml(body)?,
        "application/json-patch+json" | "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
            serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("the patch is not valid JSON: {e}")))?
        }
        other => return Err(ApiError::unsupported_patch(other)),
    };
    let apply = |cur: &Value| -> Result<Value, ApiError> {
        let result = match content_type {
            "application/json-patch+json" => patch::json_patch(cur, &patch_doc),
            "application/merge-patch+json" => patch::merge_patch(cur, &patch_doc),
            "application/strategic-merge-patch+json" => patch::strategic_merge_patch(cur, &patch_doc, kind),
            _ => patch::apply_patch(Some(cur), &patch_doc, kind),
        };
        result.map_err(|e| match e.code {
            422 => ApiError::unprocessable(e.message),
            409 => ApiError::conflict_msg(kind.info(), name, e.message),
            _ => ApiError::bad_request(e.message),
        })
    };
    if sub == Some("scale") {
        let (updated, _) = store.modify(kind, ns, name, Subresource::Main, dry_run, |cur| {
            let scaled = apply(&scale_of(cur))?;
            let mut n = cur.clone();
            let replicas = json::get_i64(&scaled, &["spec", "replicas"]).unwrap_or(0);
            json::set(&mut n, &["spec", "replicas"], json!(replicas));
            Ok(n)
        })?;
        return Ok(json_response(StatusCode::OK, &scale_of(&updated)));
    }
    if content_type == "application/apply-patch+yaml" {
        if q.non_empty("fieldManager").is_none() {
            return Err(ApiError::bad_request(
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            ));
        }
        check_kind(&patch_doc, kind)?;
        let (obj, created) = store.upsert(kind, ns, name, dry_run, |cur| match cur {
            Some(cur) => apply(cur),
            None => {
                let mut obj =
                    patch::apply_patch(None, &patch_doc, kind).map_err(|e| ApiError::bad_request(e.message))?;
                json::set(&mut obj, &["metadata", "name"], json!(name));
                Ok(obj)
            }
        })?;
        return Ok(json_response(object_status(created), &obj));
    }
    let subres = if sub == Some("status") { Subresource::Status } else { Subresource::Main };
    let (obj, _) = store.modify(kind, ns, name, subres, dry_run, apply)?;
    Ok(json_response(StatusCode::OK, &obj))
}

fn delete_options(q: &Query, body: &[u8], dry_run: bool) -> Result<DeleteOptions, ApiError> {
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("the DeleteOptions body is not valid JSON: {e}")))?
    };
    let policy = q
        .non_empty("propagationPolicy")
        .map(str::to_string)
        .or_else(|| body.get("propagationPolicy").and_then(Value::as_str).map(str::to_string));
    let orphan = q.flag("orphanDependents") || body.get("orphanDependents").and_then(Value::as_bool) == Some(true);
    let propagation = match policy.as_deref() {
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some("Background") | None if !orphan => Propagation::Background,
        None => Propagation::Orphan,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "propagationPolicy: Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
    };
    let grace = match q.int("gracePeriodSeconds")? {
        Some(g) => Some(g),
        None => body.get("gracePeriodSeconds").and_then(Value::as_i64),
    };
    let pre = body.get("preconditions");
    Ok(DeleteOptions {
        grace_period_seconds: grace,
        uid: pre.and_then(|p| p.get("uid")).and_then(Value::as_str).map(str::to_string),
        resource_version: pre.and_then(|p| p.get("resourceVersion")).and_then(Value::as_str).map(str::to_string),
        propagation,
        dry_run: dry_run || body.get("dryRun").and_then(Value::as_array).is_some_and(|a| a.iter().any(|v| v == "All")),
    })
}

fn pod_log(shared: &Shared, ns: &str, name: &str, q: &Query) -> Result<Response<Body>, ApiError> {
    let pod = shared.store.get(Kind::Pod, ns, name)?;
    let mut names: Vec<String> = Vec::new();
    for list in ["initContainers", "containers"] {
        if let Some(cs) = json::get(&pod, &["spec", list]).and_then(Value::as_array) {
            names.extend(cs.iter().filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string)));
        }
    }
    let app: Vec<&String> = json::get(&pod, &["spec", "containers"])
        .and_then(Value::as_array)
        .map(|cs| cs.iter().filter_map(|c| c.get("name").and_then(Value::as_str)).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|n| names.iter().find(|m| *m == n))
        .collect();
    let container = match q.non_empty("container") {
        Some(c) => {
            if !names.iter().any(|n| n == c) {
                return Err(ApiError::bad_request(format!("container {c} is not valid for pod {name}")));
            }
            c.to_string()
        }
        None if app.len() == 1 => app[0].clone(),
        None => {
            let list = app.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{list}]"
            )));
        }
    };
    let previous = q.flag("previous");
    let lines = shared.logs.read(json::uid(&pod), &container, previous).ok_or_else(|| {
        ApiError::bad_request(format!("previous terminated container \"{container}\" in pod \"{name}\" not found"))
    })?;
    let tail = q.int("tailLines")?.filter(|n| *n >= 0).map(|n| n as usize);
    let start = tail.map(|n| lines.len().saturating_sub(n)).unwrap_or(0);
    let timestamps = q.flag("timestamps");
    let mut out = String::new();
    for l in &lines[start..] {
        if timestamps {
            out.push_str(&crate::clock::rfc3339_nanos(l.at));
            out.push(' ');
        }
        out.push_str(&l.text);
        out.push('\n');
    }
    if let Some(limit) = q.int("limitBytes")?.filter(|n| *n > 0) {
        let mut cut = (limit as usize).min(out.len());
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    Ok(text_response(StatusCode::OK, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(path: &str) -> Option<Target> {
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        parse_target(&segs)
    }

    #[test]
    fn urls_map_to_kinds_namespaces_and_subresources() {
        let d = t("/apis/apps/v1/namespaces/default/deployments/web/status").unwrap();
        assert_eq!(
            (d.kind, d.namespace.as_deref(), d.name.as_deref(), d.subresource.as_deref()),
            (Kind::Deployment, Some("default"), Some("web"), Some("status"))
        );
        let all = t("/apis/apps/v1/deployments").unwrap();
        assert_eq!((all.kind, all.namespace, all.name), (Kind::Deployment, None, None));
        let ns = t("/api/v1/namespaces/prod").unwrap();
        assert_eq!((ns.kind, ns.name.as_deref()), (Kind::Namespace, Some("prod")));
        let nss = t("/api/v1/namespaces/prod/status").unwrap();
        assert_eq!((nss.kind, nss.subresource.as_deref()), (Kind::Namespace, Some("status")));
        let pods = t("/api/v1/namespaces/prod/pods").unwrap();
        assert_eq!((pods.kind, pods.namespace.as_deref()), (Kind::Pod, Some("prod")));
        assert!(t("/apis/apps/v1/namespaces/default/deployments/web/log").is_none());
        assert!(t("/apis/apps/v2/deployments").is_none());
        assert!(t("/api/v1/deployments").is_none());
        assert!(t("/apis/apps/v1/deployments/web").is_none());
    }

    #[test]
    fn create_bodies_may_be_yaml() {
        let v = decode_object(Some("application/yaml"), b"metadata:\n  name: web\n").unwrap();
        assert_eq!(v["metadata"]["name"], "web");
        assert_eq!(decode_object(Some("application/xml"), b"<a/>").unwrap_err().code, 415);
        assert_eq!(decode_object(None, b"{").unwrap_err().code, 400);
    }

    #[test]
    fn delete_options_come_from_the_query_or_the_body() {
        let q = Query::parse(Some("propagationPolicy=Orphan"));
        assert_eq!(delete_options(&q, b"", false).unwrap().propagation, Propagation::Orphan);
        let body = br#"{"kind":"DeleteOptions","propagationPolicy":"Foreground","gracePeriodSeconds":0,"preconditions":{"resourceVersion":"7"}}"#;
        let o = delete_options(&Query::default(), body, false).unwrap();
        assert_eq!(o.propagation, Propagation::Foreground);
        assert_eq!(o.grace_period_seconds, Some(0));
        assert_eq!(o.resource_version.as_deref(), Some("7"));
        assert_eq!(delete_options(&Query::parse(Some("propagationPolicy=Later")), b"", false).unwrap_err().code, 400);
    }

    #[test]
    fn scale_views_carry_the_selector_string() {
        let d = json!({"metadata": {"name": "web", "namespace": "default", "uid": "u", "resourceVersion": "3"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}}, "status": {"replicas": 2}});
        let s = scale_of(&d);
        assert_eq!(s["spec"]["replicas"], 3);
        assert_eq!(s["status"]["selector"], "app=web");
        assert_eq!(s["kind"], "Scale");
    }
}
