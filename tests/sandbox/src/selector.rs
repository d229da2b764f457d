//! Label and field selectors, parsed and matched as the API server does
//! (`k8s.io/apimachinery/pkg/labels` and `pkg/fields`).
//!
//! Label selectors support equality (`a=b`, `a==b`, `a!=b`), set-based requirements
//! (`a in (x,y)`, `a notin (x)`), existence (`a`, `!a`), combined with commas (AND). Field selectors
//! support `=`, `==` and `!=` on the fields each kind declares.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::ApiError;
use crate::json;
use crate::kinds::Kind;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Parses the `labelSelector` query parameter.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let mut requirements = Vec::new();
        for part in split_top_level(s) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            requirements.push(
                parse_requirement(part).map_err(|reason| {
                    ApiError::bad_request(format!("unable to parse requirement: {reason}: {part:?}"))
                })?,
            );
        }
        Ok(Self { requirements })
    }

    /// Whether the labels satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|l| vs.contains(l)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|l| !vs.contains(l)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
        })
    }

    /// Whether the selector has no requirement.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Builds the selector of a `metav1.LabelSelector` object (`matchLabels` and
    /// `matchExpressions`), as the controllers use it. `None` means the object is malformed.
    pub fn from_label_selector(sel: &Value) -> Option<Self> {
        let mut requirements = Vec::new();
        if let Some(m) = sel.get("matchLabels") {
            for (k, v) in m.as_object()? {
                requirements.push(Requirement::Equals(k.clone(), v.as_str()?.to_string()));
            }
        }
        if let Some(exprs) = sel.get("matchExpressions") {
            for e in exprs.as_array()? {
                let key = e.get("key")?.as_str()?.to_string();
                let values: Vec<String> = e
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                    .unwrap_or_default();
                requirements.push(match e.get("operator")?.as_str()? {
                    "In" => Requirement::In(key, values),
                    "NotIn" => Requirement::NotIn(key, values),
                    "Exists" => Requirement::Exists(key),
                    "DoesNotExist" => Requirement::DoesNotExist(key),
                    _ => return None,
                });
            }
        }
        Some(Self { requirements })
    }
}

impl std::fmt::Display for LabelSelector {
    /// The canonical string form (`app=web,tier in (a,b)`), as `metav1.FormatLabelSelector` prints it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .requirements
            .iter()
            .map(|r| match r {
                Requirement::Equals(k, v) => format!("{k}={v}"),
                Requirement::NotEquals(k, v) => format!("{k}!={v}"),
                Requirement::In(k, vs) => format!("{k} in ({})", vs.join(",")),
                Requirement::NotIn(k, vs) => format!("{k} notin ({})", vs.join(",")),
                Requirement::Exists(k) => k.clone(),
                Requirement::DoesNotExist(k) => format!("!{k}"),
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// Splits on commas that are not inside parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 317
        && k.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && k.matches('/').count() <= 1
}

fn valid_value(v: &str) -> bool {
    v.len() <= 63 && v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    if let Some(key) = part.strip_prefix('!') {
        let key = key.trim();
        return if valid_key(key) {
            Ok(Requirement::DoesNotExist(key.into()))
        } else {
            Err("invalid label key".into())
        };
    }
    for (op, ctor) in [
        ("!=", Requirement::NotEquals as fn(String, String) -> Requirement),
        ("==", Requirement::Equals),
        ("=", Requirement::Equals),
    ] {
        if let Some((k, v)) = part.split_once(op) {
            let (k, v) = (k.trim(), v.trim());
            if !valid_key(k) {
                return Err("invalid label key".into());
            }
            if !valid_value(v) {
                return Err("invalid label value".into());
            }
            return Ok(ctor(k.into(), v.into()));
        }
    }
    let words: Vec<&str> = part.splitn(2, char::is_whitespace).collect();
    if words.len() == 2 {
        let key = words[0];
        let rest = words[1].trim_start();
        let (op, list) = if let Some(l) = rest.strip_prefix("notin") {
            ("notin", l)
        } else if let Some(l) = rest.strip_prefix("in") {
            ("in", l)
        } else {
            return Err("found unexpected operator, expected one of: in, notin, =, ==, !=".into());
        };
        let list = list.trim();
        let inner = list
            .strip_prefix('(')
            .and_then(|l| l.strip_suffix(')'))
            .ok_or_else(|| "expected a parenthesised list of values".to_string())?;
        let values: Vec<String> = inner.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect();
        if !valid_key(key) {
            return Err("invalid label key".into());
        }
        if values.is_empty() && op == "in" {
            return Err("for 'in' operator, values set can't be empty".into());
        }
        if let Some(bad) = values.iter().find(|v| !valid_value(v)) {
            return Err(format!("invalid label value {bad:?}"));
        }
        return Ok(if op == "in" {
            Requirement::In(key.into(), values)
        } else {
            Requirement::NotIn(key.into(), values)
        });
    }
    if valid_key(part) { Ok(Requirement::Exists(part.into())) } else { Err("invalid label key".into()) }
}

/// A parsed field selector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    terms: Vec<(String, bool, String)>,
}

/// The fields each kind can be selected by, beyond `metadata.name` and `metadata.namespace`.
fn selectable_fields(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Pod => &["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "status.phase", "status.podIP"],
        Kind::Event => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        Kind::Namespace => &["status.phase"],
        Kind::ReplicaSet | Kind::StatefulSet => &["status.replicas"],
        Kind::Job => &["status.successful"],
        _ => &[],
    }
}

impl FieldSelector {
    /// Parses the `fieldSelector` query parameter for a kind.
    pub fn parse(s: &str, kind: Kind) -> Result<Self, ApiError> {
        let mut terms = Vec::new();
        for part in s.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (field, equal, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(ApiError::bad_request(format!("invalid selector: '{s}'; can't understand '{part}'")));
            };
            let field = field.trim();
            if !matches!(field, "metadata.name" | "metadata.namespace") && !selectable_fields(kind).contains(&field) {
                return Err(ApiError::bad_request(format!("field label not supported: {field}")));
            }
            terms.push((field.to_string(), equal, value.trim().to_string()));
        }
        Ok(Self { terms })
    }

    /// Whether the object satisfies every term.
    pub fn matches(&self, obj: &Value) -> bool {
        self.terms.iter().all(|(field, equal, want)| {
            let got = field_value(obj, field);
            (got == *want) == *equal
        })
    }

    /// The value of `metadata.name=` if the selector pins one name, so a watch or list can skip the rest.
    pub fn pinned_name(&self) -> Option<&str> {
        self.terms.iter().find(|(f, eq, _)| f == "metadata.name" && *eq).map(|(_, _, v)| v.as_str())
    }
}

fn field_value(obj: &Value, field: &str) -> String {
    if field == "source" {
        return json::get_str(obj, &["source", "component"]).unwrap_or("").to_string();
    }
    let path: Vec<&str> = field.split('.').collect();
    match json::get(obj, &path) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn label_selectors_match_like_the_api_server() {
        let l = labels(&[("app", "web"), ("tier", "front")]);
        let cases = [
            ("", true),
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app=web,tier=back", false),
            ("tier in (front,back)", true),
            ("tier in (back)", false),
            ("tier notin (back)", true),
            ("missing notin (x)", true),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("app=web, tier in (front)", true),
        ];
        for (sel, want) in cases {
            assert_eq!(LabelSelector::parse(sel).unwrap().matches(&l), want, "{sel}");
        }
    }

    #[test]
    fn malformed_label_selectors_are_bad_requests() {
        for sel in ["app in x", "app=we b", "a b c", "tier in ()", "=x"] {
            let e = LabelSelector::parse(sel).unwrap_err();
            assert_eq!(e.code, 400, "{sel}");
        }
    }

    #[test]
    fn selectors_from_objects_format_canonically() {
        let s = LabelSelector::from_label_selector(&json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]
        }))
        .unwrap();
        assert_eq!(s.to_string(), "app=web,tier in (a,b)");
        assert!(LabelSelector::from_label_selector(&json!({"matchLabels": {"a": 1}})).is_none());
    }

    #[test]
    fn field_selectors_match_names_and_declared_fields() {
        let pod = json!({"metadata": {"name": "p", "namespace": "ns"}, "status": {"phase": "Running"}});
        assert!(FieldSelector::parse("metadata.name=p", Kind::Pod).unwrap().matches(&pod));
        assert!(FieldSelector::parse("metadata.name!=q,status.phase=Running", Kind::Pod).unwrap().matches(&pod));
        assert!(!FieldSelector::parse("metadata.namespace==x", Kind::Pod).unwrap().matches(&pod));
        let e = FieldSelector::parse("spec.replicas=1", Kind::Deployment).unwrap_err();
        assert_eq!(e.message, "field label not supported: spec.replicas");
        let ev = json!({"involvedObject": {"name": "p", "kind": "Pod"}});
        assert!(
            FieldSelector::parse("involvedObject.name=p,involvedObject.kind=Pod", Kind::Event).unwrap().matches(&ev)
        );
        assert_eq!(FieldSelector::parse("metadata.name=web", Kind::Deployment).unwrap().pinned_name(), Some("web"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn selector_parsers_never_panic(s in ".{0,64}") {
            let _ = LabelSelector::parse(&s);
            let _ = FieldSelector::parse(&s, Kind::Pod);
        }

        #[test]
        fn equality_selectors_round_trip(k in "[a-z][a-z0-9]{0,8}", v in "[a-z0-9]{0,8}") {
            let sel = LabelSelector::parse(&format!("{k}={v}")).unwrap();
            prop_assert_eq!(LabelSelector::parse(&sel.to_string()).unwrap(), sel);
        }
    }
}
