//! Typed reading of untrusted JSON for validation, and the list of field errors being built.
//!
//! The real API server decodes a request into Go structs before validating it, so a field of the
//! wrong JSON type never reaches validation there (the request fails to decode). The sandbox
//! validates the JSON itself: each read below returns the value when it has the expected type, treats
//! a missing field or `null` as absent, and records a `FieldValueInvalid` error ("must be of type …")
//! for anything else, so a malformed object is reported instead of panicking or being half-checked.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::render;
use super::syntax;
use crate::error::{FieldError, FieldErrorType};

/// A JSON object.
pub(super) type Obj = Map<String, Value>;

/// `path.key`, or `key` at the root.
pub(super) fn child(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// `path[i]`.
pub(super) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// `path[key]`, the form field paths use for map keys.
pub(super) fn key(path: &str, k: &str) -> String {
    format!("{path}[{k}]")
}

/// A value that may be an integer or a string (`intstr.IntOrString`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum IntOrStr {
    /// A JSON number.
    Int(i64),
    /// A JSON string.
    Str(String),
}

impl IntOrStr {
    /// The value as apps validation's `getIntOrPercentValue` reads it: a valid percentage's number,
    /// an integer, or a string parsed as an integer (0 when it is not one).
    pub(super) fn int_or_percent_value(&self) -> i64 {
        match self {
            IntOrStr::Int(i) => *i,
            IntOrStr::Str(s) if syntax::is_percent(s) => s[..s.len() - 1].parse().unwrap_or(i64::MAX),
            IntOrStr::Str(s) => s.parse::<i32>().map(i64::from).unwrap_or(0),
        }
    }

    /// The percentage, when this is a valid percent string.
    pub(super) fn percent(&self) -> Option<i64> {
        match self {
            IntOrStr::Str(s) if syntax::is_percent(s) => Some(s[..s.len() - 1].parse().unwrap_or(i64::MAX)),
            _ => None,
        }
    }
}

/// One `matchExpressions` entry of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Requirement {
    pub key: String,
    pub operator: String,
    pub values: Option<Vec<String>>,
}

/// A `metav1.LabelSelector`, as far as it could be read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Selector {
    pub match_labels: Option<BTreeMap<String, String>>,
    pub match_expressions: Option<Vec<Requirement>>,
}

impl Selector {
    /// Whether the selector has no requirement at all (it then selects everything).
    pub(super) fn is_empty(&self) -> bool {
        self.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
            && self.match_expressions.as_ref().is_none_or(Vec::is_empty)
    }

    /// Whether `labels` satisfy every requirement, as `labels.Selector.Matches` decides.
    pub(super) fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k));
        let labels_ok = self.match_labels.iter().flatten().all(|(k, v)| get(k) == Some(v));
        let exprs_ok = self.match_expressions.iter().flatten().all(|r| {
            let values = r.values.as_deref().unwrap_or(&[]);
            match (r.operator.as_str(), get(&r.key)) {
                ("In", Some(v)) => values.contains(v),
                ("In", None) => false,
                ("NotIn", Some(v)) => !values.contains(v),
                ("NotIn", None) => true,
                ("Exists", found) => found.is_some(),
                ("DoesNotExist", found) => found.is_none(),
                _ => false,
            }
        });
        labels_ok && exprs_ok
    }
}

/// The field errors found so far, and typed reads that add an error for a value of the wrong type.
#[derive(Debug, Default)]
pub(super) struct Check {
    errs: Vec<FieldError>,
}

impl Check {
    /// The errors, each reported once, in the order they were found. The real server reports each
    /// distinct message once too (`ErrorList.ToAggregate`).
    pub(super) fn finish(self) -> Vec<FieldError> {
        let mut out: Vec<FieldError> = Vec::with_capacity(self.errs.len());
        for e in self.errs {
            if !out.contains(&e) {
                out.push(e);
            }
        }
        out
    }

    /// How many errors were recorded so far; comparing two counts tells whether a check added any.
    pub(super) fn len(&self) -> usize {
        self.errs.len()
    }

    /// `field.Invalid`; `value` is already rendered.
    pub(super) fn invalid(&mut self, path: &str, value: String, detail: impl Into<String>) {
        self.errs.push(FieldError::invalid(path, value, detail));
    }

    /// `field.Invalid` with a string value.
    pub(super) fn invalid_str(&mut self, path: &str, value: &str, detail: impl Into<String>) {
        self.invalid(path, render::quote(value), detail);
    }

    /// `field.Required`.
    pub(super) fn required(&mut self, path: &str, detail: impl Into<String>) {
        self.errs.push(FieldError::required(path, detail));
    }

    /// `field.Forbidden`.
    pub(super) fn forbidden(&mut self, path: &str, detail: impl Into<String>) {
        self.errs.push(FieldError {
            error_type: FieldErrorType::Forbidden,
            field: path.to_string(),
            bad_value: None,
            detail: detail.into(),
        });
    }

    /// `field.NotSupported`: `supported values: "A", "B"`.
    pub(super) fn not_supported(&mut self, path: &str, value: String, supported: &[&str]) {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            format!("supported values: {}", supported.iter().map(|s| render::quote(s)).collect::<Vec<_>>().join(", "))
        };
        self.errs.push(FieldError {
            error_type: FieldErrorType::NotSupported,
            field: path.to_string(),
            bad_value: Some(value),
            detail,
        });
    }

    /// `field.Duplicate`.
    pub(super) fn duplicate(&mut self, path: &str, value: String) {
        self.errs.push(FieldError {
            error_type: FieldErrorType::Duplicate,
            field: path.to_string(),
            bad_value: Some(value),
            detail: String::new(),
        });
    }

    /// `field.TooLong` (the value is never shown).
    pub(super) fn too_long(&mut self, path: &str, max: usize) {
        self.errs.push(FieldError {
            error_type: FieldErrorType::TooLong,
            field: path.to_string(),
            bad_value: None,
            detail: format!("may not be more than {max} bytes"),
        });
    }

    /// `field.NotFound`. The sandbox's error type has no "Not found" kind, so this is reported as an
    /// invalid value with the detail `not found`.
    pub(super) fn not_found(&mut self, path: &str, value: &str) {
        self.invalid_str(path, value, "not found");
    }

    /// `ValidateNonnegativeField`.
    pub(super) fn nonnegative(&mut self, path: &str, v: i64) {
        if v < 0 {
            self.invalid(path, v.to_string(), syntax::NEGATIVE);
        }
    }

    /// Adds one `Invalid` error per message.
    pub(super) fn each_invalid_str(&mut self, path: &str, value: &str, msgs: Vec<String>) {
        for m in msgs {
            self.invalid_str(path, value, m);
        }
    }

    fn type_error(&mut self, path: &str, v: &Value, ty: &str) {
        self.invalid(path, render::json(v), format!("must be of type {ty}"));
    }

    /// The present, non-null value of `m[k]`.
    fn present<'a>(m: &'a Obj, k: &str) -> Option<&'a Value> {
        m.get(k).filter(|v| !v.is_null())
    }

    /// Whether `m[k]` is present and not null.
    pub(super) fn has(m: &Obj, k: &str) -> bool {
        Self::present(m, k).is_some()
    }

    /// `m[k]` as an object.
    pub(super) fn obj<'a>(&mut self, m: &'a Obj, k: &str, path: &str) -> Option<&'a Obj> {
        let v = Self::present(m, k)?;
        match v.as_object() {
            Some(o) => Some(o),
            None => {
                self.type_error(path, v, "object");
                None
            }
        }
    }

    /// `m[k]` as an array.
    pub(super) fn arr<'a>(&mut self, m: &'a Obj, k: &str, path: &str) -> Option<&'a [Value]> {
        let v = Self::present(m, k)?;
        match v.as_array() {
            Some(a) => Some(a),
            None => {
                self.type_error(path, v, "array");
                None
            }
        }
    }

    /// The objects of the array `m[k]`, each with its index and path; other entries are type errors.
    pub(super) fn items<'a>(&mut self, m: &'a Obj, k: &str, path: &str) -> Vec<(usize, String, &'a Obj)> {
        let mut out = Vec::new();
        for (i, v) in self.arr(m, k, path).unwrap_or(&[]).iter().enumerate() {
            let p = index(path, i);
            match v.as_object() {
                Some(o) => out.push((i, p, o)),
                None => self.type_error(&p, v, "object"),
            }
        }
        out
    }

    /// `m[k]` as a string.
    pub(super) fn str<'a>(&mut self, m: &'a Obj, k: &str, path: &str) -> Option<&'a str> {
        let v = Self::present(m, k)?;
        match v.as_str() {
            Some(s) => Some(s),
            None => {
                self.type_error(path, v, "string");
                None
            }
        }
    }

    /// `m[k]` as a string, `""` when absent (a Go string field's zero value).
    pub(super) fn string<'a>(&mut self, m: &'a Obj, k: &str, path: &str) -> &'a str {
        self.str(m, k, path).unwrap_or("")
    }

    fn int_in(&mut self, m: &Obj, k: &str, path: &str, lo: i64, hi: i64, ty: &str) -> Option<i64> {
        let v = Self::present(m, k)?;
        match v.as_i64().filter(|i| (lo..=hi).contains(i)) {
            Some(i) => Some(i),
            None => {
                self.type_error(path, v, ty);
                None
            }
        }
    }

    /// `m[k]` as an int32.
    pub(super) fn i32(&mut self, m: &Obj, k: &str, path: &str) -> Option<i64> {
        self.int_in(m, k, path, i64::from(i32::MIN), i64::from(i32::MAX), "int32")
    }

    /// `m[k]` as an int64.
    pub(super) fn i64(&mut self, m: &Obj, k: &str, path: &str) -> Option<i64> {
        self.int_in(m, k, path, i64::MIN, i64::MAX, "int64")
    }

    /// `m[k]` as a boolean.
    pub(super) fn bool(&mut self, m: &Obj, k: &str, path: &str) -> Option<bool> {
        let v = Self::present(m, k)?;
        match v.as_bool() {
            Some(b) => Some(b),
            None => {
                self.type_error(path, v, "boolean");
                None
            }
        }
    }

    /// `m[k]` as a `map[string]string` (labels, annotations, node selectors).
    pub(super) fn string_map(&mut self, m: &Obj, k: &str, path: &str) -> Option<BTreeMap<String, String>> {
        let o = self.obj(m, k, path)?;
        let mut out = BTreeMap::new();
        for (name, v) in o {
            match v {
                Value::String(s) => {
                    out.insert(name.clone(), s.clone());
                }
                // A null value decodes to "" in Go.
                Value::Null => {
                    out.insert(name.clone(), String::new());
                }
                other => self.type_error(&key(path, name), other, "string"),
            }
        }
        Some(out)
    }

    /// `m[k]` as a `[]string`.
    pub(super) fn string_list(&mut self, m: &Obj, k: &str, path: &str) -> Option<Vec<String>> {
        let a = self.arr(m, k, path)?;
        let mut out = Vec::with_capacity(a.len());
        for (i, v) in a.iter().enumerate() {
            match v {
                Value::String(s) => out.push(s.clone()),
                Value::Null => out.push(String::new()),
                other => self.type_error(&index(path, i), other, "string"),
            }
        }
        Some(out)
    }

    /// `m[k]` as an `intstr.IntOrString`.
    pub(super) fn int_or_string(&mut self, m: &Obj, k: &str, path: &str) -> Option<IntOrStr> {
        let v = Self::present(m, k)?;
        match v {
            Value::String(s) => Some(IntOrStr::Str(s.clone())),
            Value::Number(n) => match n.as_i64().filter(|i| i32::try_from(*i).is_ok()) {
                Some(i) => Some(IntOrStr::Int(i)),
                None => {
                    self.type_error(path, v, "int-or-string");
                    None
                }
            },
            other => {
                self.type_error(path, other, "int-or-string");
                None
            }
        }
    }

    /// `m[k]` as a label selector.
    pub(super) fn selector(&mut self, m: &Obj, k: &str, path: &str) -> Option<Selector> {
        let o = self.obj(m, k, path)?;
        let match_labels = self.string_map(o, "matchLabels", &child(path, "matchLabels"));
        let exprs_path = child(path, "matchExpressions");
        let match_expressions = self.arr(o, "matchExpressions", &exprs_path).map(|_| {
            self.items(o, "matchExpressions", &exprs_path)
                .into_iter()
                .map(|(_, p, e)| Requirement {
                    key: self.string(e, "key", &child(&p, "key")).to_string(),
                    operator: self.string(e, "operator", &child(&p, "operator")).to_string(),
                    values: self.string_list(e, "values", &child(&p, "values")),
                })
                .collect()
        });
        Some(Selector { match_labels, match_expressions })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Obj {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn a_value_of_the_wrong_type_is_reported_and_read_as_absent() {
        let m = obj(json!({"replicas": "3", "name": 5, "labels": {"a": 1, "b": "x"}, "n": null}));
        let mut c = Check::default();
        assert_eq!(c.i32(&m, "replicas", "spec.replicas"), None);
        assert_eq!(c.str(&m, "name", "metadata.name"), None);
        assert_eq!(c.i32(&m, "n", "n"), None);
        let labels = c.string_map(&m, "labels", "metadata.labels").unwrap();
        assert_eq!(labels.len(), 1);
        let msgs: Vec<String> = c.finish().iter().map(FieldError::message).collect();
        assert_eq!(
            msgs,
            vec![
                "spec.replicas: Invalid value: \"3\": must be of type int32",
                "metadata.name: Invalid value: 5: must be of type string",
                "metadata.labels[a]: Invalid value: 1: must be of type string",
            ]
        );
    }

    #[test]
    fn int32_rejects_fractions_and_overflow() {
        let m = obj(json!({"a": 2.5, "b": 4294967296i64, "c": -7}));
        let mut c = Check::default();
        assert_eq!(c.i32(&m, "a", "a"), None);
        assert_eq!(c.i32(&m, "b", "b"), None);
        assert_eq!(c.i32(&m, "c", "c"), Some(-7));
        assert_eq!(c.finish().len(), 2);
    }

    #[test]
    fn int_or_percent_values_follow_apps_validation() {
        assert_eq!(IntOrStr::Int(3).int_or_percent_value(), 3);
        assert_eq!(IntOrStr::Str("25%".into()).int_or_percent_value(), 25);
        assert_eq!(IntOrStr::Str("7".into()).int_or_percent_value(), 7);
        assert_eq!(IntOrStr::Str("x".into()).int_or_percent_value(), 0);
        assert_eq!(IntOrStr::Str("25%".into()).percent(), Some(25));
        assert_eq!(IntOrStr::Int(25).percent(), None);
    }

    #[test]
    fn selectors_match_like_label_selectors() {
        let mut c = Check::default();
        let m = obj(json!({"s": {"matchLabels": {"app": "web"}, "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["a", "b"]},
            {"key": "canary", "operator": "DoesNotExist"}
        ]}}));
        let sel = c.selector(&m, "s", "s").unwrap();
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        assert!(sel.matches(Some(&labels(&[("app", "web"), ("tier", "a")]))));
        assert!(!sel.matches(Some(&labels(&[("app", "web"), ("tier", "c")]))));
        assert!(!sel.matches(Some(&labels(&[("app", "web"), ("tier", "a"), ("canary", "1")]))));
        assert!(!sel.matches(None));
        assert!(!sel.is_empty());
        assert!(Selector::default().is_empty());
        assert!(c.finish().is_empty());
    }

    #[test]
    fn duplicate_errors_are_reported_once() {
        let mut c = Check::default();
        c.required("spec.selector", "");
        c.required("spec.selector", "");
        c.required("spec.template", "");
        assert_eq!(c.finish().len(), 2);
    }
}
