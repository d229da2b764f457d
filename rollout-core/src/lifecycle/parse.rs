//! Reading a lifecycle policy's JSON text with every shape error reported, each with its path.
//!
//! serde's derived `Deserialize` stops at the first problem and does not say which rule it was in, so the text
//! is first read as a JSON value and walked here; the derived implementation stays for callers that embed a
//! policy in their own serde types, and a property test keeps the two in agreement.

use serde_json::{Map, Value};

use super::model::{
    ActionType, CountType, CountUnit, LifecyclePolicy, LifecycleRule, RuleAction, RuleSelection, TagStatus,
};
use super::validate::{PolicyViolation, rule_violations};
use crate::error::{Error, Result};
use crate::registry::StorageClass;

const POLICY_FIELDS: &[&str] = &["rules"];
const RULE_FIELDS: &[&str] = &["rulePriority", "description", "selection", "action"];
const SELECTION_FIELDS: &[&str] =
    &["tagStatus", "tagPrefixList", "tagPatternList", "countType", "countUnit", "countNumber", "storageClass"];
const ACTION_FIELDS: &[&str] = &["type", "targetStorageClass"];

pub(super) fn from_json(text: &str, validate: bool) -> Result<LifecyclePolicy> {
    let value: Value = serde_json::from_str(text).map_err(|source| Error::PolicySyntax {
        line: source.line(),
        column: source.column(),
        source,
    })?;
    let mut violations = Vec::new();
    let (rules, rule_count, complete) = read_policy(&value, &mut violations);
    if validate {
        // Rules with shape errors are left out; the others are still checked, so one pass reports everything.
        let checked: Vec<(usize, &LifecycleRule)> = rules.iter().map(|(i, r)| (*i, r)).collect();
        let canonical_len = complete.then(|| {
            LifecyclePolicy { rules: rules.iter().map(|(_, r)| r.clone()).collect() }.to_json().chars().count()
        });
        violations.extend(rule_violations(&checked, rule_count, canonical_len));
        violations.sort_by_key(|v| v.rule.unwrap_or(usize::MAX));
    }
    if violations.is_empty() {
        Ok(LifecyclePolicy { rules: rules.into_iter().map(|(_, r)| r).collect() })
    } else {
        Err(Error::InvalidPolicy { violations })
    }
}

/// The rules that could be read, with their index; how many rules there are, when the `rules` array could be
/// read; and whether everything could be read.
fn read_policy(value: &Value, out: &mut Vec<PolicyViolation>) -> (Vec<(usize, LifecycleRule)>, Option<usize>, bool) {
    let Some(object) = value.as_object() else {
        out.push(PolicyViolation::policy(
            "policy",
            format!("must be a JSON object with a \"rules\" array, got {}", kind(value)),
        ));
        return (Vec::new(), None, false);
    };
    unknown_fields(object, POLICY_FIELDS, &Context::policy(), "", out);
    let rules = match present(object, "rules") {
        None => {
            out.push(PolicyViolation::policy("rules", "required".to_owned()));
            return (Vec::new(), None, false);
        }
        Some(Value::Array(rules)) => rules,
        Some(other) => {
            out.push(PolicyViolation::policy("rules", format!("must be an array of rules, got {}", kind(other))));
            return (Vec::new(), None, false);
        }
    };
    let before = out.len();
    let read: Vec<(usize, LifecycleRule)> =
        rules.iter().enumerate().filter_map(|(index, rule)| read_rule(index, rule, out).map(|r| (index, r))).collect();
    let complete = read.len() == rules.len() && out.len() == before;
    (read, Some(rules.len()), complete)
}

/// Where a violation is: which rule, and its priority when it could be read.
struct Context {
    rule: Option<usize>,
    priority: Option<u32>,
}

impl Context {
    fn policy() -> Self {
        Context { rule: None, priority: None }
    }

    fn violation(&self, field: impl Into<String>, message: impl Into<String>) -> PolicyViolation {
        PolicyViolation { rule: self.rule, rule_priority: self.priority, field: field.into(), message: message.into() }
    }
}

fn read_rule(index: usize, value: &Value, out: &mut Vec<PolicyViolation>) -> Option<LifecycleRule> {
    let mut cx = Context { rule: Some(index), priority: None };
    let Some(object) = value.as_object() else {
        out.push(cx.violation("", format!("must be an object, got {}", kind(value))));
        return None;
    };
    let errors = out.len();
    let priority = match present(object, "rulePriority") {
        None => {
            out.push(cx.violation("rulePriority", "required"));
            None
        }
        Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) => Some(n),
            None => {
                out.push(cx.violation("rulePriority", format!("must be a positive integer, got {}", short(v))));
                None
            }
        },
    };
    cx.priority = priority;
    // Violations found before the priority was known get it too.
    for violation in &mut out[errors..] {
        violation.rule_priority = priority;
    }
    unknown_fields(object, RULE_FIELDS, &cx, "", out);
    let description = match present(object, "description") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            out.push(cx.violation("description", format!("must be a string, got {}", kind(other))));
            None
        }
    };
    let selection = read_object(object, "selection", &cx, out).and_then(|s| read_selection(s, &cx, out));
    let action = read_object(object, "action", &cx, out).and_then(|a| read_action(a, &cx, out));
    if out.len() > errors {
        return None;
    }
    Some(LifecycleRule { rule_priority: priority?, description, selection: selection?, action: action? })
}

fn read_selection(object: &Map<String, Value>, cx: &Context, out: &mut Vec<PolicyViolation>) -> Option<RuleSelection> {
    let errors = out.len();
    unknown_fields(object, SELECTION_FIELDS, cx, "selection.", out);
    let tag_status = read_enum(
        object,
        "selection.",
        "tagStatus",
        &[("tagged", TagStatus::Tagged), ("untagged", TagStatus::Untagged), ("any", TagStatus::Any)],
        cx,
        out,
    );
    let tag_prefix_list = read_strings(object, "tagPrefixList", cx, out);
    let tag_pattern_list = read_strings(object, "tagPatternList", cx, out);
    let count_type = read_enum(
        object,
        "selection.",
        "countType",
        &[
            ("imageCountMoreThan", CountType::ImageCountMoreThan),
            ("sinceImagePushed", CountType::SinceImagePushed),
            ("sinceImagePulled", CountType::SinceImagePulled),
            ("sinceImageTransitioned", CountType::SinceImageTransitioned),
        ],
        cx,
        out,
    );
    let count_unit = optional_enum(object, "selection.", "countUnit", &[("days", CountUnit::Days)], cx, out);
    let count_number = match present(object, "countNumber") {
        None => {
            out.push(cx.violation("selection.countNumber", "required"));
            None
        }
        Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) => Some(n),
            None => {
                out.push(
                    cx.violation("selection.countNumber", format!("must be a positive integer, got {}", short(v))),
                );
                None
            }
        },
    };
    let storage_class = optional_enum(object, "selection.", "storageClass", STORAGE_CLASSES, cx, out);
    if out.len() > errors {
        return None;
    }
    Some(RuleSelection {
        tag_status: tag_status??,
        tag_prefix_list: tag_prefix_list?,
        tag_pattern_list: tag_pattern_list?,
        count_type: count_type??,
        count_unit: count_unit?,
        count_number: count_number?,
        storage_class: storage_class?,
    })
}

const STORAGE_CLASSES: &[(&str, StorageClass)] =
    &[("standard", StorageClass::Standard), ("archive", StorageClass::Archive)];

fn read_action(object: &Map<String, Value>, cx: &Context, out: &mut Vec<PolicyViolation>) -> Option<RuleAction> {
    let errors = out.len();
    unknown_fields(object, ACTION_FIELDS, cx, "action.", out);
    let kind = read_enum(
        object,
        "action.",
        "type",
        &[("expire", ActionType::Expire), ("transition", ActionType::Transition)],
        cx,
        out,
    );
    let target_storage_class = optional_enum(object, "action.", "targetStorageClass", STORAGE_CLASSES, cx, out);
    if out.len() > errors {
        return None;
    }
    Some(RuleAction { kind: kind??, target_storage_class: target_storage_class? })
}

/// A field's value; JSON `null` counts as absent, as serde's `Option` reads it.
fn present<'a>(object: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    object.get(field).filter(|v| !v.is_null())
}

fn unknown_fields(
    object: &Map<String, Value>,
    allowed: &[&str],
    cx: &Context,
    prefix: &str,
    out: &mut Vec<PolicyViolation>,
) {
    for key in object.keys().filter(|k| !allowed.contains(&k.as_str())) {
        let message = format!("unknown field; allowed fields are {}", allowed.join(", "));
        let field = format!("{prefix}{key}");
        out.push(match cx.rule {
            Some(_) => cx.violation(field, message),
            None => PolicyViolation::policy(field, message),
        });
    }
}

fn read_object<'a>(
    object: &'a Map<String, Value>,
    field: &str,
    cx: &Context,
    out: &mut Vec<PolicyViolation>,
) -> Option<&'a Map<String, Value>> {
    match present(object, field) {
        None => {
            out.push(cx.violation(field, "required"));
            None
        }
        Some(Value::Object(inner)) => Some(inner),
        Some(other) => {
            out.push(cx.violation(field, format!("must be an object, got {}", kind(other))));
            None
        }
    }
}

/// `Some(Some(v))` when read, `Some(None)` never (required), `None` after a violation.
fn read_enum<T: Copy>(
    object: &Map<String, Value>,
    prefix: &str,
    field: &str,
    values: &[(&str, T)],
    cx: &Context,
    out: &mut Vec<PolicyViolation>,
) -> Option<Option<T>> {
    if present(object, field).is_none() {
        out.push(cx.violation(format!("{prefix}{field}"), format!("required; one of {}", quoted(values))));
        return None;
    }
    optional_enum(object, prefix, field, values, cx, out)
}

/// `Some(None)` when absent, `Some(Some(v))` when read, `None` after a violation.
fn optional_enum<T: Copy>(
    object: &Map<String, Value>,
    prefix: &str,
    field: &str,
    values: &[(&str, T)],
    cx: &Context,
    out: &mut Vec<PolicyViolation>,
) -> Option<Option<T>> {
    let Some(value) = present(object, field) else { return Some(None) };
    let found = value.as_str().and_then(|s| values.iter().find(|(name, _)| *name == s)).map(|(_, v)| *v);
    if found.is_none() {
        out.push(
            cx.violation(
                format!("{prefix}{field}"),
                format!("must be one of {}, got {}", quoted(values), short(value)),
            ),
        );
        return None;
    }
    Some(found)
}

fn read_strings(
    object: &Map<String, Value>,
    field: &str,
    cx: &Context,
    out: &mut Vec<PolicyViolation>,
) -> Option<Option<Vec<String>>> {
    let Some(value) = present(object, field) else { return Some(None) };
    let strings = value.as_array().and_then(|items| items.iter().map(|i| i.as_str().map(str::to_owned)).collect());
    if strings.is_none() {
        out.push(
            cx.violation(format!("selection.{field}"), format!("must be an array of strings, got {}", short(value))),
        );
        return None;
    }
    Some(strings)
}

fn quoted<T>(values: &[(&str, T)]) -> String {
    values.iter().map(|(name, _)| format!("\"{name}\"")).collect::<Vec<_>>().join(", ")
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value for an error message, cut short so a huge value cannot flood it.
fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 60 {
        return text;
    }
    let cut: String = text.chars().take(57).collect();
    format!("{cut}...")
}

#[cfg(test)]
mod tests {
    use std::collections::hash_map::DefaultHasher;
    use std::hash::{Hash, Hasher};

    use proptest::prelude::*;
    use serde_json::json;

    use super::super::testing::SEED_POLICY;
    use super::*;

    fn hash(policy: &LifecyclePolicy) -> u64 {
        let mut hasher = DefaultHasher::new();
        policy.hash(&mut hasher);
        hasher.finish()
    }

    fn violations(text: &str) -> Vec<String> {
        match LifecyclePolicy::from_json(text) {
            Err(Error::InvalidPolicy { violations }) => violations.iter().map(ToString::to_string).collect(),
            other => panic!("expected shape violations, got {other:?}"),
        }
    }

    #[test]
    fn seed_policy_file_equals_the_builder_policy_descriptions_aside() {
        let seed = LifecyclePolicy::parse(SEED_POLICY).unwrap();
        let built = LifecyclePolicy::builder()
            .keep_most_recent_tagged(5, ["latest"])
            .keep_most_recent_untagged(2)
            .build()
            .unwrap();
        assert_eq!(seed, built);
        assert_eq!(hash(&seed), hash(&built));
        // The descriptions differ, and only they: equality ignores them, the canonical text does not.
        assert_ne!(seed.to_json(), built.to_json());
        let described = LifecyclePolicy::builder()
            .keep_most_recent_tagged(5, ["latest"])
            .described("Keep only five tagged images, expire all others")
            .keep_most_recent_untagged(2)
            .described("Keep only two untagged image, expire all others")
            .build()
            .unwrap();
        assert_eq!(seed.to_json(), described.to_json());
    }

    #[test]
    fn policy_read_back_reordered_by_priority_equals_the_policy_put() {
        let put = LifecyclePolicy::parse(SEED_POLICY).unwrap();
        let mut stored = put.clone();
        stored.rules.reverse();
        assert_eq!(put, stored);
        assert_eq!(hash(&put), hash(&stored));
        assert_eq!(put.to_json(), stored.to_json(), "canonical text sorts rules by priority");
    }

    #[test]
    fn policy_equality_treats_tag_lists_as_sets_and_omitted_storage_class_as_standard() {
        let base = LifecyclePolicy::builder().keep_most_recent_tagged(3, ["prod", "release"]).build_unchecked();
        let mut other = base.clone();
        let selection = &mut other.rules[0].selection;
        selection.tag_prefix_list = Some(vec!["release".into(), "prod".into(), "prod".into()]);
        selection.storage_class = Some(StorageClass::Standard);
        assert_eq!(base, other);
        assert_eq!(hash(&base), hash(&other));
    }

    #[test]
    fn policy_equality_sees_every_field_that_changes_what_the_policy_does() {
        let base = LifecyclePolicy::builder().keep_most_recent_tagged(3, ["prod"]).build_unchecked();
        type Mutation = fn(&mut LifecycleRule);
        let mutations: Vec<(&str, Mutation)> = vec![
            ("priority", |r| r.rule_priority = 2),
            ("tagStatus", |r| r.selection.tag_status = TagStatus::Any),
            ("tagPrefixList", |r| r.selection.tag_prefix_list = Some(vec!["pro".into()])),
            ("tagPatternList", |r| r.selection.tag_pattern_list = Some(vec!["prod*".into()])),
            ("countType", |r| r.selection.count_type = CountType::SinceImagePushed),
            ("countUnit", |r| r.selection.count_unit = Some(CountUnit::Days)),
            ("countNumber", |r| r.selection.count_number = 4),
            ("storageClass", |r| r.selection.storage_class = Some(StorageClass::Archive)),
            ("action.type", |r| r.action.kind = ActionType::Transition),
            ("targetStorageClass", |r| r.action.target_storage_class = Some(StorageClass::Archive)),
        ];
        for (name, mutate) in mutations {
            let mut other = base.clone();
            mutate(&mut other.rules[0]);
            assert_ne!(base, other, "{name}");
        }
        let mut extra = base.clone();
        extra.rules.push(extra.rules[0].clone());
        assert_ne!(base, extra, "a repeated rule");
    }

    #[test]
    fn canonical_json_sorts_rules_and_omits_absent_fields() {
        let policy = LifecyclePolicy {
            rules: vec![
                LifecycleRule {
                    rule_priority: 2,
                    description: None,
                    selection: RuleSelection {
                        tag_status: TagStatus::Untagged,
                        tag_prefix_list: None,
                        tag_pattern_list: None,
                        count_type: CountType::SinceImagePushed,
                        count_unit: Some(CountUnit::Days),
                        count_number: 14,
                        storage_class: None,
                    },
                    action: RuleAction { kind: ActionType::Expire, target_storage_class: None },
                },
                LifecycleRule {
                    rule_priority: 1,
                    description: Some("keep".into()),
                    selection: RuleSelection {
                        tag_status: TagStatus::Tagged,
                        tag_prefix_list: None,
                        tag_pattern_list: Some(vec!["v*".into()]),
                        count_type: CountType::ImageCountMoreThan,
                        count_unit: None,
                        count_number: 3,
                        storage_class: None,
                    },
                    action: RuleAction { kind: ActionType::Expire, target_storage_class: None },
                },
            ],
        };
        assert_eq!(
            policy.to_json(),
            r#"{"rules":[{"rulePriority":1,"description":"keep","selection":{"tagStatus":"tagged","tagPatternList":["v*"],"countType":"imageCountMoreThan","countNumber":3},"action":{"type":"expire"}},{"rulePriority":2,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}"#
        );
        assert_eq!(policy.to_string(), policy.to_json());
        let back = LifecyclePolicy::from_json(&policy.to_json_pretty()).unwrap();
        assert_eq!(back, policy);
        assert_eq!(back.to_json(), policy.to_json());
    }

    #[test]
    fn archive_fields_round_trip() {
        let text = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":30},"action":{"type":"transition","targetStorageClass":"archive"}}]}"#;
        let policy = LifecyclePolicy::parse(text).unwrap();
        assert_eq!(policy.rules[0].action.target_storage_class, Some(StorageClass::Archive));
        assert_eq!(policy.to_json(), text);
    }

    #[test]
    fn from_json_reports_every_unknown_field_with_its_path() {
        let text = json!({
            "rules": [{
                "rulePriority": 1,
                "priority": 1,
                "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1, "tagPrefix": ["x"]},
                "action": {"type": "expire", "when": "now"},
            }],
            "version": 2,
        })
        .to_string();
        assert_eq!(
            violations(&text),
            vec![
                "version: unknown field; allowed fields are rules",
                "rules[0] (priority 1): priority: unknown field; allowed fields are rulePriority, description, selection, action",
                "rules[0] (priority 1): selection.tagPrefix: unknown field; allowed fields are tagStatus, tagPrefixList, \
                 tagPatternList, countType, countUnit, countNumber, storageClass",
                "rules[0] (priority 1): action.when: unknown field; allowed fields are type, targetStorageClass",
            ]
        );
    }

    #[test]
    fn from_json_reports_every_mistyped_or_missing_field() {
        let cases: &[(serde_json::Value, &[&str])] = &[
            (json!([]), &["policy: must be a JSON object with a \"rules\" array, got an array"]),
            (json!({}), &["rules: required"]),
            (json!({"rules": {}}), &["rules: must be an array of rules, got an object"]),
            (json!({"rules": ["x"]}), &["rules[0]: must be an object, got a string"]),
            (
                json!({"rules": [{"rulePriority": -1, "description": 3, "selection": 1}]}),
                &[
                    "rules[0]: rulePriority: must be a positive integer, got -1",
                    "rules[0]: description: must be a string, got a number",
                    "rules[0]: selection: must be an object, got a number",
                    "rules[0]: action: required",
                ],
            ),
            (
                json!({"rules": [{"rulePriority": 2, "selection": {"tagStatus": "all", "tagPrefixList": "latest",
                    "countType": "imageCountLessThan", "countUnit": "weeks", "countNumber": "5", "storageClass": "cold"},
                    "action": {"type": "delete", "targetStorageClass": 1}}]}),
                &[
                    "rules[0] (priority 2): selection.tagStatus: must be one of \"tagged\", \"untagged\", \"any\", got \"all\"",
                    "rules[0] (priority 2): selection.tagPrefixList: must be an array of strings, got \"latest\"",
                    "rules[0] (priority 2): selection.countType: must be one of \"imageCountMoreThan\", \"sinceImagePushed\", \
                     \"sinceImagePulled\", \"sinceImageTransitioned\", got \"imageCountLessThan\"",
                    "rules[0] (priority 2): selection.countUnit: must be one of \"days\", got \"weeks\"",
                    "rules[0] (priority 2): selection.countNumber: must be a positive integer, got \"5\"",
                    "rules[0] (priority 2): selection.storageClass: must be one of \"standard\", \"archive\", got \"cold\"",
                    "rules[0] (priority 2): action.type: must be one of \"expire\", \"transition\", got \"delete\"",
                    "rules[0] (priority 2): action.targetStorageClass: must be one of \"standard\", \"archive\", got 1",
                ],
            ),
            (
                json!({"rules": [{"rulePriority": 1, "selection": {}, "action": {}}]}),
                &[
                    "rules[0] (priority 1): selection.tagStatus: required; one of \"tagged\", \"untagged\", \"any\"",
                    "rules[0] (priority 1): selection.countType: required; one of \"imageCountMoreThan\", \
                     \"sinceImagePushed\", \"sinceImagePulled\", \"sinceImageTransitioned\"",
                    "rules[0] (priority 1): selection.countNumber: required",
                    "rules[0] (priority 1): action.type: required; one of \"expire\", \"transition\"",
                ],
            ),
            (
                json!({"rules": [{"rulePriority": 4294967296u64, "selection": {"tagStatus": "any",
                    "countType": "imageCountMoreThan", "countNumber": 1.5}, "action": {"type": "expire"}}]}),
                &[
                    "rules[0]: rulePriority: must be a positive integer, got 4294967296",
                    "rules[0]: selection.countNumber: must be a positive integer, got 1.5",
                ],
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(violations(&value.to_string()), *expected, "{value}");
        }
    }

    #[test]
    fn from_json_reports_syntax_errors_with_line_and_column() {
        let err = LifecyclePolicy::from_json("{\n  \"rules\": [\n    {\"rulePriority\": 1,}\n  ]\n}").unwrap_err();
        assert!(matches!(err, Error::PolicySyntax { line: 3, .. }), "{err:?}");
        assert!(err.to_string().starts_with("lifecycle policy is not valid JSON (line 3, column"), "{err}");
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn parse_reports_shape_and_rule_violations_together() {
        let text = json!({"rules": [
            {"rulePriority": 1, "selection": {"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 0},
             "action": {"type": "expire"}},
            {"rulePriority": 2, "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 2,
             "extra": true}, "action": {"type": "expire"}},
        ]})
        .to_string();
        let Err(err @ Error::InvalidPolicy { .. }) = LifecyclePolicy::parse(&text) else {
            panic!("expected violations")
        };
        assert_eq!(
            err.to_string(),
            "invalid lifecycle policy: 3 violations: \
             rules[0] (priority 1): selection.tagPrefixList: required when tagStatus is \"tagged\" (or give tagPatternList instead); \
             rules[0] (priority 1): selection.countNumber: must be 1 or more, got 0; \
             rules[1] (priority 2): selection.extra: unknown field; allowed fields are tagStatus, tagPrefixList, \
             tagPatternList, countType, countUnit, countNumber, storageClass"
        );
        // Shape only: the semantic violations of the first rule are not reported.
        assert_eq!(violations(&text).len(), 1);
        assert!("not json".parse::<LifecyclePolicy>().is_err());
    }

    #[test]
    fn serde_deserialize_rejects_unknown_fields_naming_them() {
        let err =
            serde_json::from_str::<LifecyclePolicy>(r#"{"rules":[{"rulePriority":1,"selecton":{}}]}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `selecton`"), "{err}");
    }

    /// JSON values shaped like policies, with every kind of mistake mixed in.
    fn arb_policy_value() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let word = prop_oneof![
            Just("tagged"),
            Just("untagged"),
            Just("any"),
            Just("imageCountMoreThan"),
            Just("sinceImagePushed"),
            Just("sinceImagePulled"),
            Just("sinceImageTransitioned"),
            Just("days"),
            Just("expire"),
            Just("transition"),
            Just("archive"),
            Just("standard"),
            Just("bogus"),
        ]
        .prop_map(|w| Value::String(w.to_owned()));
        let leaf = prop_oneof![
            word.clone(),
            (-2i64..6).prop_map(Value::from),
            Just(Value::Null),
            Just(json!(["latest", "v*"])),
            Just(json!([1])),
            Just(json!(1.5)),
        ];
        let selection_key = prop_oneof![
            Just("tagStatus"),
            Just("tagPrefixList"),
            Just("tagPatternList"),
            Just("countType"),
            Just("countUnit"),
            Just("countNumber"),
            Just("storageClass"),
            Just("other"),
        ];
        let selection = proptest::collection::btree_map(selection_key, leaf.clone(), 0..8)
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()));
        let action_key = prop_oneof![Just("type"), Just("targetStorageClass"), Just("other")];
        let action = proptest::collection::btree_map(action_key, leaf.clone(), 0..3)
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()));
        let rule = (proptest::option::of(leaf.clone()), proptest::option::of(word), selection, action, any::<u8>())
            .prop_map(|(priority, description, selection, action, drop)| {
                let mut rule = serde_json::Map::new();
                if let Some(p) = priority {
                    rule.insert("rulePriority".into(), p);
                }
                if let Some(d) = description {
                    rule.insert("description".into(), d);
                }
                if drop % 7 != 0 {
                    rule.insert("selection".into(), selection);
                }
                if drop % 5 != 0 {
                    rule.insert("action".into(), action);
                }
                if drop == 255 {
                    rule.insert("unknown".into(), Value::Null);
                }
                Value::Object(rule)
            });
        prop_oneof![
            9 => proptest::collection::vec(rule, 0..4).prop_map(|rules| json!({"rules": rules})),
            1 => leaf,
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn from_json_never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
            let _ = LifecyclePolicy::from_json(&text);
            let _ = LifecyclePolicy::parse(&text);
        }

        #[test]
        fn from_json_agrees_with_serde_deserialize(value in arb_policy_value()) {
            let text = value.to_string();
            let ours = LifecyclePolicy::from_json(&text);
            let derived = serde_json::from_str::<LifecyclePolicy>(&text);
            match (ours, derived) {
                (Ok(ours), Ok(derived)) => {
                    prop_assert_eq!(&ours, &derived);
                    prop_assert_eq!(ours.to_json(), derived.to_json());
                    // The canonical text reads back to the same policy.
                    let back = LifecyclePolicy::from_json(&ours.to_json()).unwrap();
                    prop_assert_eq!(back.to_json(), ours.to_json());
                    let _ = LifecyclePolicy::parse(&text);
                }
                (Err(_), Err(_)) => {}
                (ours, derived) => prop_assert!(false, "disagree on {}: {:?} vs {:?}", text, ours, derived),
            }
        }
    }
}
