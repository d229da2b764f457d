//! API errors, shaped as the Kubernetes API server shapes them: a `Status` object with the same HTTP
//! code, a machine-readable `reason`, and the message texts clients (kubectl, kube-rs) know.

use serde_json::{Value, json};

use crate::kinds::KindInfo;

/// The type of one field-level validation failure, as `k8s.io/apimachinery/pkg/util/validation/field`
/// names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorType {
    /// `FieldValueRequired`: "Required value".
    Required,
    /// `FieldValueInvalid`: "Invalid value".
    Invalid,
    /// `FieldValueNotSupported`: "Unsupported value".
    NotSupported,
    /// `FieldValueForbidden`: "Forbidden".
    Forbidden,
    /// `FieldValueDuplicate`: "Duplicate value".
    Duplicate,
    /// `FieldValueTooLong`: "Too long".
    TooLong,
}

impl FieldErrorType {
    /// The `reason` of a Status cause.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Required => "FieldValueRequired",
            Self::Invalid => "FieldValueInvalid",
            Self::NotSupported => "FieldValueNotSupported",
            Self::Forbidden => "FieldValueForbidden",
            Self::Duplicate => "FieldValueDuplicate",
            Self::TooLong => "FieldValueTooLong",
        }
    }

    fn text(self) -> &'static str {
        match self {
            Self::Required => "Required value",
            Self::Invalid => "Invalid value",
            Self::NotSupported => "Unsupported value",
            Self::Forbidden => "Forbidden",
            Self::Duplicate => "Duplicate value",
            Self::TooLong => "Too long",
        }
    }
}

/// One field-level validation failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// What kind of failure.
    pub error_type: FieldErrorType,
    /// The field path, e.g. `spec.template.metadata.labels`.
    pub field: String,
    /// The rejected value rendered the way the API server renders it (`3`, `"abc"`,
    /// `map[string]string{"app":"web"}`), when the message shows one.
    pub bad_value: Option<String>,
    /// What is wrong and what is allowed.
    pub detail: String,
}

impl FieldError {
    /// A `FieldValueInvalid` error.
    pub fn invalid(field: impl Into<String>, bad_value: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            error_type: FieldErrorType::Invalid,
            field: field.into(),
            bad_value: Some(bad_value.into()),
            detail: detail.into(),
        }
    }

    /// A `FieldValueRequired` error.
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { error_type: FieldErrorType::Required, field: field.into(), bad_value: None, detail: detail.into() }
    }

    /// The cause message without the field: `Invalid value: 3: must be …`.
    pub fn cause_message(&self) -> String {
        let mut s = self.error_type.text().to_string();
        if let Some(v) = &self.bad_value {
            s.push_str(": ");
            s.push_str(v);
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }

    /// The full message: `spec.replicas: Invalid value: -1: must be …`.
    pub fn message(&self) -> String {
        format!("{}: {}", self.field, self.cause_message())
    }
}

/// An error answered as a `Status` object.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status code, also `Status.code`.
    pub code: u16,
    /// `Status.reason`, e.g. `NotFound`.
    pub reason: &'static str,
    /// `Status.message`.
    pub message: String,
    /// `Status.details`, when the real server sends them.
    pub details: Option<Value>,
    /// Seconds for the `Retry-After` header (429 and 503 answers).
    pub retry_after: Option<u32>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self { code, reason, message: message.into(), details: None, retry_after: None }
    }

    fn with_details(mut self, info: &KindInfo, name: &str) -> Self {
        self.details = Some(json!({ "name": name, "group": info.group, "kind": info.plural }));
        self
    }

    /// 404 for an object: `deployments.apps "web" not found`.
    pub fn not_found(info: &KindInfo, name: &str) -> Self {
        Self::new(404, "NotFound", format!("{} \"{}\" not found", info.qualified_resource(), name))
            .with_details(info, name)
    }

    /// 404 for a namespace that does not exist, as the NamespaceLifecycle admission answers it.
    pub fn namespace_not_found(namespace: &str) -> Self {
        let info = crate::kinds::Kind::Namespace.info();
        Self::new(404, "NotFound", format!("namespaces \"{namespace}\" not found")).with_details(info, namespace)
    }

    /// 404 for a URL the server does not serve.
    pub fn path_not_found(path: &str) -> Self {
        Self::new(404, "NotFound", format!("the server could not find the requested resource ({path})"))
    }

    /// 409 AlreadyExists.
    pub fn already_exists(info: &KindInfo, name: &str) -> Self {
        Self::new(409, "AlreadyExists", format!("{} \"{}\" already exists", info.qualified_resource(), name))
            .with_details(info, name)
    }

    /// 409 Conflict on a stale resourceVersion or a raced write.
    pub fn conflict(info: &KindInfo, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
                info.qualified_resource(),
                name
            ),
        )
        .with_details(info, name)
    }

    /// 409 Conflict with a custom message (precondition failures).
    pub fn conflict_msg(info: &KindInfo, name: &str, message: impl Into<String>) -> Self {
        Self::new(409, "Conflict", message).with_details(info, name)
    }

    /// 422 Invalid with one cause per field error.
    pub fn invalid(info: &KindInfo, name: &str, errors: &[FieldError]) -> Self {
        let list = if errors.len() == 1 {
            errors[0].message()
        } else {
            format!("[{}]", errors.iter().map(FieldError::message).collect::<Vec<_>>().join(", "))
        };
        let causes: Vec<Value> = errors
            .iter()
            .map(|e| json!({ "reason": e.error_type.reason(), "message": e.cause_message(), "field": e.field }))
            .collect();
        let mut err = Self::new(422, "Invalid", format!("{} \"{}\" is invalid: {}", info.qualified_kind(), name, list));
        err.details = Some(json!({ "name": name, "group": info.group, "kind": info.name, "causes": causes }));
        err
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 401 Unauthorized.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(method: &str, what: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({method} {what})"),
        )
    }

    /// 410 Expired: the requested resourceVersion is older than the event history.
    pub fn expired(requested: u64, oldest: u64) -> Self {
        Self::new(410, "Expired", format!("too old resource version: {requested} ({oldest})"))
    }

    /// 415 UnsupportedMediaType for a PATCH body type the server does not know.
    pub fn unsupported_patch(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format ({content_type}) - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json"
            ),
        )
    }

    /// 415 for a create or update body that is not JSON.
    pub fn unsupported_body(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format ({content_type}) - accepted media types include: application/json, application/yaml"
            ),
        )
    }

    /// 422 with a plain message (e.g. a failed JSON patch `test`).
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(422, "Invalid", message)
    }

    /// 429 TooManyRequests with Retry-After.
    pub fn too_many_requests(retry_after: u32) -> Self {
        let mut e = Self::new(
            429,
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later",
        );
        e.retry_after = Some(retry_after);
        e.details = Some(json!({ "retryAfterSeconds": retry_after }));
        e
    }

    /// 500 InternalError.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", format!("Internal error occurred: {}", message.into()))
    }

    /// 503 ServiceUnavailable.
    pub fn service_unavailable(retry_after: u32) -> Self {
        let mut e = Self::new(503, "ServiceUnavailable", "the server is currently unable to handle the request");
        e.retry_after = Some(retry_after);
        e
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            status["details"] = d.clone();
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;

    #[test]
    fn not_found_names_the_qualified_resource() {
        let e = ApiError::not_found(Kind::Deployment.info(), "web");
        assert_eq!(e.message, "deployments.apps \"web\" not found");
        let s = e.to_status();
        assert_eq!(s["code"], 404);
        assert_eq!(s["details"]["kind"], "deployments");
        assert_eq!(s["details"]["group"], "apps");
    }

    #[test]
    fn invalid_lists_every_cause() {
        let errs = vec![
            FieldError::invalid("spec.replicas", "-1", "must be greater than or equal to 0"),
            FieldError::required("spec.selector", ""),
        ];
        let e = ApiError::invalid(Kind::Deployment.info(), "web", &errs);
        assert_eq!(
            e.message,
            "Deployment.apps \"web\" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal to 0, spec.selector: Required value]"
        );
        let s = e.to_status();
        assert_eq!(s["details"]["causes"][0]["reason"], "FieldValueInvalid");
        assert_eq!(s["details"]["causes"][1]["field"], "spec.selector");
        assert_eq!(s["details"]["kind"], "Deployment");
    }

    #[test]
    fn a_single_cause_is_not_bracketed() {
        let errs = vec![FieldError::required("metadata.name", "name or generateName is required")];
        let e = ApiError::invalid(Kind::Pod.info(), "", &errs);
        assert_eq!(e.message, "Pod \"\" is invalid: metadata.name: Required value: name or generateName is required");
    }
}
