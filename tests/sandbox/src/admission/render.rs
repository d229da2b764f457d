//! Renders rejected values the way the Kubernetes 1.32 API server prints them in field errors.
//!
//! apimachinery's `field.Error` prints integers and booleans plainly, strings with Go's `%q`, and
//! anything else with Go's `%#v` (after dereferencing a pointer). So a label map reads
//! `map[string]string{"app":"web"}`, a selector `v1.LabelSelector{MatchLabels:…, MatchExpressions:…}` and
//! an int-or-string `intstr.IntOrString{Type:1, IntVal:0, StrVal:"25%"}`. These functions produce the
//! same text from the JSON the sandbox stores. They do not render arbitrary Go structs: a value the
//! real server would print as a large struct is rendered by the caller in a simplified form.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::reader::{IntOrStr, Selector};

/// How a nil pointer is shown: the server replaces it with the string "null", then quotes it.
pub(super) const NIL: &str = "\"null\"";

/// A string quoted as Go's `strconv.Quote` does: printable characters kept, the usual backslash
/// escapes, `\x`, `\u` or `\U` for the rest.
pub(super) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_printable(c) => out.push(c),
            c if (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `unicode.IsPrint`: no control characters, no space other than U+0020,
/// no invisible formatting characters.
fn is_printable(c: char) -> bool {
    !(c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}'))
}

/// A `map[string]string` as `%#v` prints it: keys sorted, `map[string]string(nil)` when absent.
pub(super) fn string_map(m: Option<&BTreeMap<String, String>>) -> String {
    match m {
        None => "map[string]string(nil)".to_string(),
        Some(m) => {
            let pairs: Vec<String> = m.iter().map(|(k, v)| format!("{}:{}", quote(k), quote(v))).collect();
            format!("map[string]string{{{}}}", pairs.join(", "))
        }
    }
}

/// A `[]string` as `%#v` prints it.
pub(super) fn string_slice(v: Option<&[String]>) -> String {
    match v {
        None => "[]string(nil)".to_string(),
        Some(v) => format!("[]string{{{}}}", v.iter().map(|s| quote(s)).collect::<Vec<_>>().join(", ")),
    }
}

/// An `intstr.IntOrString` as `%#v` prints it (Type 0 is an integer, 1 a string).
pub(super) fn int_or_string(v: &IntOrStr) -> String {
    match v {
        IntOrStr::Int(i) => format!("intstr.IntOrString{{Type:0, IntVal:{i}, StrVal:\"\"}}"),
        IntOrStr::Str(s) => format!("intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}", quote(s)),
    }
}

/// A `metav1.LabelSelector` as `%#v` prints it.
pub(super) fn label_selector(sel: &Selector) -> String {
    let exprs = match &sel.match_expressions {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(list) => {
            let items: Vec<String> = list
                .iter()
                .map(|r| {
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        quote(&r.key),
                        quote(&r.operator),
                        string_slice(r.values.as_deref())
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    format!("v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{}}}", string_map(sel.match_labels.as_ref()), exprs)
}

/// Any JSON value, for errors about a value of the wrong type: strings Go-quoted, the rest compact
/// JSON.
pub(super) fn json(v: &Value) -> String {
    match v {
        Value::String(s) => quote(s),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::reader::Requirement;

    #[test]
    fn strings_are_quoted_like_go() {
        let cases = [
            ("web", "\"web\""),
            ("a\"b", "\"a\\\"b\""),
            ("back\\slash", "\"back\\\\slash\""),
            ("tab\there", "\"tab\\there\""),
            ("nl\n", "\"nl\\n\""),
            ("\u{1}", "\"\\x01\""),
            ("\u{7f}", "\"\\x7f\""),
            ("héllo", "\"héllo\""),
            ("\u{200b}", "\"\\u200b\""),
            ("", "\"\""),
        ];
        for (input, want) in cases {
            assert_eq!(quote(input), want, "input {input:?}");
        }
    }

    #[test]
    fn label_maps_render_sorted_or_as_nil() {
        let mut m = BTreeMap::new();
        m.insert("tier".to_string(), "front".to_string());
        m.insert("app".to_string(), "web".to_string());
        assert_eq!(string_map(Some(&m)), r#"map[string]string{"app":"web", "tier":"front"}"#);
        assert_eq!(string_map(Some(&BTreeMap::new())), "map[string]string{}");
        assert_eq!(string_map(None), "map[string]string(nil)");
    }

    #[test]
    fn int_or_string_renders_both_variants() {
        assert_eq!(int_or_string(&IntOrStr::Int(0)), r#"intstr.IntOrString{Type:0, IntVal:0, StrVal:""}"#);
        assert_eq!(
            int_or_string(&IntOrStr::Str("25%".into())),
            r#"intstr.IntOrString{Type:1, IntVal:0, StrVal:"25%"}"#
        );
    }

    #[test]
    fn label_selectors_render_like_the_api_server() {
        let mut labels = BTreeMap::new();
        labels.insert("app".to_string(), "web".to_string());
        let sel = Selector { match_labels: Some(labels), match_expressions: None };
        assert_eq!(
            label_selector(&sel),
            r#"v1.LabelSelector{MatchLabels:map[string]string{"app":"web"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"#
        );
        let sel = Selector {
            match_labels: None,
            match_expressions: Some(vec![Requirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["a".into(), "b".into()]),
            }]),
        };
        assert_eq!(
            label_selector(&sel),
            r#"v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"tier", Operator:"In", Values:[]string{"a", "b"}}}}"#
        );
    }

    #[test]
    fn json_values_render_compactly() {
        assert_eq!(json(&serde_json::json!("3")), "\"3\"");
        assert_eq!(json(&serde_json::json!({"a": [1, true]})), r#"{"a":[1,true]}"#);
    }
}
