//! The sandbox's own control API under `/sandbox/v1/`, so scripts and other languages can do what
//! the Rust handle does: read the sandbox's facts, set image behaviours, inject faults and expire
//! resourceVersions.
//!
//! - `GET /sandbox/v1/info`: URL, time scale, seed, simulated time, resourceVersion, registry host.
//! - `GET|PUT|DELETE /sandbox/v1/faults`: the fault configuration (camelCase JSON).
//! - `GET /sandbox/v1/images`; `PUT /sandbox/v1/images` with `{"image": "<ref or prefix*>", …behaviour}`;
//!   `DELETE /sandbox/v1/images?image=<ref>`.
//! - `/sandbox/v1/ecr/…`: the registry's control calls (see `ecr::admin`).
//! - `POST /sandbox/v1/compact`: drop the watch history, so every watch from an older
//!   resourceVersion gets 410 Expired.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{Value, json};

use crate::Shared;
use crate::api::{Body, Query, json_response};
use crate::error::ApiError;
use crate::faults::FaultConfig;
use crate::images::ImageBehaviour;

async fn body(req: Request<Incoming>) -> Result<Bytes, ApiError> {
    req.into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .map_err(|e| ApiError::bad_request(format!("reading the request body failed: {e}")))
}

/// Answers a request under `/sandbox/v1/`.
pub async fn handle(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    rest: &[String],
    query: &Query,
) -> Result<Response<Body>, ApiError> {
    let method = req.method().clone();
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    match (method, rest.as_slice()) {
        (Method::GET, ["info"]) => Ok(json_response(
            StatusCode::OK,
            &json!({
                "url": format!("http://{}", shared.addr),
                "timeScale": shared.store.clock().scale(),
                "seed": shared.seed,
                "simulatedTime": shared.store.clock().now().to_string(),
                "resourceVersion": shared.store.resource_version().to_string(),
                "node": crate::NODE_NAME,
                "registry": shared.ecr.registry_host(),
                "ecrEndpoint": format!("http://{}", shared.addr),
                "ecrAccount": shared.ecr.account(),
                "ecrRegion": shared.ecr.region(),
            }),
        )),
        (Method::GET, ["faults"]) => Ok(json_response(StatusCode::OK, &to_json(&shared.faults.config()))),
        (Method::PUT, ["faults"]) => {
            let bytes = body(req).await?;
            let cfg: FaultConfig = serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::bad_request(format!("invalid fault configuration: {e}")))?;
            shared
                .faults
                .set(cfg.clone())
                .map_err(|e| ApiError::bad_request(format!("invalid fault configuration: {e}")))?;
            Ok(json_response(StatusCode::OK, &to_json(&cfg)))
        }
        (Method::DELETE, ["faults"]) => {
            shared.faults.clear();
            Ok(json_response(StatusCode::OK, &to_json(&FaultConfig::default())))
        }
        (Method::GET, ["images"]) => {
            let rules: Vec<Value> = shared
                .images
                .rules()
                .into_iter()
                .map(|(image, b)| {
                    let mut v = to_json(&b);
                    v["image"] = json!(image);
                    v
                })
                .collect();
            Ok(json_response(StatusCode::OK, &json!({"images": rules})))
        }
        (Method::PUT, ["images"]) => {
            let bytes = body(req).await?;
            let mut v: Value = serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::bad_request(format!("invalid image behaviour: {e}")))?;
            let image = v
                .as_object_mut()
                .and_then(|m| m.remove("image"))
                .and_then(|i| i.as_str().map(str::to_string))
                .ok_or_else(|| ApiError::bad_request("invalid image behaviour: the field \"image\" (a reference or a prefix ending in *) is required"))?;
            let b: ImageBehaviour = serde_json::from_value(v)
                .map_err(|e| ApiError::bad_request(format!("invalid image behaviour: {e}")))?;
            shared
                .images
                .set(&image, b.clone())
                .map_err(|e| ApiError::bad_request(format!("invalid image behaviour: {e}")))?;
            let mut out = to_json(&b);
            out["image"] = json!(image);
            Ok(json_response(StatusCode::OK, &out))
        }
        (Method::DELETE, ["images"]) => {
            let image = query
                .non_empty("image")
                .ok_or_else(|| ApiError::bad_request("the query parameter \"image\" is required"))?;
            let removed = shared.images.remove(image);
            Ok(json_response(StatusCode::OK, &json!({"image": image, "removed": removed})))
        }
        (_, ["ecr", ecr_rest @ ..]) => crate::ecr::admin::handle(shared, req, ecr_rest, query).await,
        (Method::POST, ["compact"]) => {
            shared.store.compact();
            Ok(json_response(StatusCode::OK, &json!({"compactedThrough": shared.store.resource_version().to_string()})))
        }
        (m, _) => Err(ApiError::path_not_found(&format!("{m} /sandbox/v1/{}", rest.join("/")))),
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("plain data always serialises")
}
