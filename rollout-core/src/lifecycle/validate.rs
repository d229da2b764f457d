//! Validation of a lifecycle policy against ECR's rules, reporting every violation with its rule and field.
//!
//! The rules come from the ECR User Guide ("Lifecycle policy properties", "Lifecycle policy evaluation rules"),
//! the `PutLifecyclePolicy` API model (text length) and the archive launch (storage classes, `transition`).
//! Where a rule is documented but its enforcement by ECR is unverified, the check says so; where the
//! documentation is ambiguous, the narrower reading is enforced, so that a policy accepted here is accepted
//! by ECR.

use serde::Serialize;

use super::model::{ActionType, CountType, LifecyclePolicy, LifecycleRule, TagStatus};
use crate::error::{Error, Result};
use crate::registry::StorageClass;

/// The longest policy text ECR accepts, in characters (`LifecyclePolicyText` in the API model).
pub const MAX_POLICY_TEXT_CHARS: usize = 30_720;
/// The shortest policy text ECR accepts, in characters (`LifecyclePolicyText` in the API model).
pub const MIN_POLICY_TEXT_CHARS: usize = 100;
/// The most rules a policy may hold. From an older ECR quota table; the current quota page only lists the
/// text length, so this limit is unverified (moto accepts 51 rules).
pub const MAX_RULES: usize = 50;
/// The most `*` wildcards one `tagPatternList` entry may hold.
pub const MAX_PATTERN_WILDCARDS: usize = 4;

/// One broken rule of a lifecycle policy: where it is and what is wrong.
///
/// Displays as `rules[0] (priority 1): selection.tagPrefixList: required when tagStatus is "tagged" …`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyViolation {
    /// The index of the rule in `rules[]` as written; `None` for the policy as a whole.
    pub rule: Option<usize>,
    /// The rule's `rulePriority`, when it could be read.
    pub rule_priority: Option<u32>,
    /// The field's path inside the rule (`selection.countUnit`), or at the top (`rules`, `policy text`).
    pub field: String,
    /// What is wrong, and what is allowed.
    pub message: String,
}

impl PolicyViolation {
    pub(super) fn policy(field: impl Into<String>, message: impl Into<String>) -> Self {
        PolicyViolation { rule: None, rule_priority: None, field: field.into(), message: message.into() }
    }

    fn rule(index: usize, rule: &LifecycleRule, field: impl Into<String>, message: impl Into<String>) -> Self {
        PolicyViolation {
            rule: Some(index),
            rule_priority: Some(rule.rule_priority),
            field: field.into(),
            message: message.into(),
        }
    }

    /// The full JSON path of the field, e.g. `rules[0].selection.tagPrefixList`.
    pub fn path(&self) -> String {
        match (self.rule, self.field.is_empty()) {
            (Some(i), true) => format!("rules[{i}]"),
            (Some(i), false) => format!("rules[{i}].{}", self.field),
            (None, _) => self.field.clone(),
        }
    }
}

impl std::fmt::Display for PolicyViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(index) = self.rule {
            write!(f, "rules[{index}]")?;
            if let Some(priority) = self.rule_priority {
                write!(f, " (priority {priority})")?;
            }
            f.write_str(": ")?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

/// The text of [`Error::InvalidPolicy`]: the count, then every violation.
pub(crate) fn list_violations(violations: &[PolicyViolation]) -> String {
    let count = violations.len();
    let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
    format!("{count} violation{}: {}", if count == 1 { "" } else { "s" }, list.join("; "))
}

impl LifecyclePolicy {
    /// Every way this policy breaks ECR's rules, in rule order, then the policy-wide ones; empty when valid.
    ///
    /// Checked: unique priorities of at least 1; at most one `any` rule, with the highest priority; `tagged`
    /// needs a non-empty `tagPrefixList` or `tagPatternList` but not both, `untagged`/`any` take neither; at
    /// most four `*` per pattern; `countUnit` exactly with the time-based count types; `countNumber` of at least
    /// 1; `sinceImagePulled` only with `transition`; `transition` needs `targetStorageClass: archive`, `expire`
    /// takes none; `sinceImageTransitioned` needs `storageClass: archive` and `expire`, other count types only
    /// `standard`; one `untagged` rule per storage class; at least one and at most 50 rules; a canonical text of
    /// 100 to 30,720 characters.
    pub fn violations(&self) -> Vec<PolicyViolation> {
        let rules: Vec<(usize, &LifecycleRule)> = self.rules.iter().enumerate().collect();
        rule_violations(&rules, Some(self.rules.len()), Some(self.to_json().chars().count()))
    }

    /// `Ok` when the policy is valid, else [`Error::InvalidPolicy`] listing every violation.
    pub fn validate(&self) -> Result<()> {
        let violations = self.violations();
        if violations.is_empty() { Ok(()) } else { Err(Error::InvalidPolicy { violations }) }
    }
}

/// The checks over `rules` (each with its index as written). `rule_count` is how many rules the policy has
/// (some may be missing from `rules` after shape errors); `text_chars` the canonical text's length, when known.
pub(super) fn rule_violations(
    rules: &[(usize, &LifecycleRule)],
    rule_count: Option<usize>,
    text_chars: Option<usize>,
) -> Vec<PolicyViolation> {
    let mut out = Vec::new();
    for (position, &(index, rule)) in rules.iter().enumerate() {
        let earlier = &rules[..position];
        let violation = |field: &str, message: String| PolicyViolation::rule(index, rule, field, message);
        let priority = rule.rule_priority;
        let selection = &rule.selection;

        if priority == 0 {
            out.push(violation("rulePriority", "must be 1 or more, got 0".to_owned()));
        }
        if let Some((other, _)) = earlier.iter().find(|(_, r)| r.rule_priority == priority) {
            out.push(violation(
                "rulePriority",
                format!("{priority} is already the priority of rules[{other}]; priorities must be unique"),
            ));
        }

        match selection.tag_status {
            TagStatus::Tagged => {
                match (&selection.tag_prefix_list, &selection.tag_pattern_list) {
                    (None, None) => out.push(violation(
                        "selection.tagPrefixList",
                        "required when tagStatus is \"tagged\" (or give tagPatternList instead)".to_owned(),
                    )),
                    (Some(_), Some(_)) => out.push(violation(
                        "selection.tagPatternList",
                        "cannot be combined with tagPrefixList; give one of the two".to_owned(),
                    )),
                    _ => {}
                }
                // An empty list selects nothing useful; ECR's schema is not documented on this point, so the
                // narrower reading is enforced.
                for (field, list) in [
                    ("selection.tagPrefixList", &selection.tag_prefix_list),
                    ("selection.tagPatternList", &selection.tag_pattern_list),
                ] {
                    if list.as_ref().is_some_and(Vec::is_empty) {
                        out.push(violation(field, "must not be empty when tagStatus is \"tagged\"".to_owned()));
                    }
                }
            }
            TagStatus::Untagged | TagStatus::Any => {
                for (field, list) in [
                    ("selection.tagPrefixList", &selection.tag_prefix_list),
                    ("selection.tagPatternList", &selection.tag_pattern_list),
                ] {
                    if list.is_some() {
                        out.push(violation(
                            field,
                            format!("must be omitted when tagStatus is \"{}\"", selection.tag_status.as_str()),
                        ));
                    }
                }
            }
        }
        for (k, pattern) in selection.tag_pattern_list.iter().flatten().enumerate() {
            let wildcards = pattern.matches('*').count();
            if wildcards > MAX_PATTERN_WILDCARDS {
                out.push(violation(
                    &format!("selection.tagPatternList[{k}]"),
                    format!("{pattern:?} has {wildcards} wildcards (*); at most {MAX_PATTERN_WILDCARDS} are allowed"),
                ));
            }
        }

        if selection.tag_status == TagStatus::Any {
            if let Some((other, _)) = earlier.iter().find(|(_, r)| r.selection.tag_status == TagStatus::Any) {
                out.push(violation(
                    "selection.tagStatus",
                    format!("only one rule may have tagStatus \"any\"; rules[{other}] has it too"),
                ));
            }
            let higher = rules
                .iter()
                .filter(|(i, r)| *i != index && r.rule_priority >= priority)
                .max_by_key(|(i, r)| (r.rule_priority, std::cmp::Reverse(*i)));
            if let Some((other, r)) = higher {
                out.push(violation(
                    "rulePriority",
                    format!(
                        "a rule with tagStatus \"any\" must have the highest rulePriority, but rules[{other}] has {}",
                        r.rule_priority
                    ),
                ));
            }
        }
        // "Only one rule is allowed to select untagged images" (User Guide); since the archive launch the text
        // reads "per storage class", so two untagged rules are allowed when they look at different classes.
        // Whether an `any` rule counts is not documented; common policies combine both, so it does not count.
        if selection.tag_status == TagStatus::Untagged
            && let Some((other, _)) = earlier.iter().find(|(_, r)| {
                r.selection.tag_status == TagStatus::Untagged
                    && r.selection.storage_class() == selection.storage_class()
            })
        {
            out.push(violation(
                "selection.tagStatus",
                format!(
                    "only one rule may select untagged images in the {} storage class; rules[{other}] does too",
                    selection.storage_class()
                ),
            ));
        }
        // The User Guide also asks for "a unique set of tag prefixes" across rules; what ECR enforces is
        // unverified and the keep-forever pattern relies on overlapping rules, so it is not checked.

        let count_type = selection.count_type;
        match (count_type.is_time_based(), selection.count_unit) {
            (true, None) => out.push(violation(
                "selection.countUnit",
                format!("required when countType is \"{}\"; use \"days\"", count_type.as_str()),
            )),
            (false, Some(_)) => out.push(violation(
                "selection.countUnit",
                format!("must be omitted when countType is \"{}\"", count_type.as_str()),
            )),
            _ => {}
        }
        if selection.count_number == 0 {
            out.push(violation("selection.countNumber", "must be 1 or more, got 0".to_owned()));
        }

        let action = rule.action.kind;
        if count_type == CountType::SinceImagePulled && action != ActionType::Transition {
            out.push(violation(
                "selection.countType",
                "\"sinceImagePulled\" is only allowed with action.type \"transition\"".to_owned(),
            ));
        }
        if count_type == CountType::SinceImageTransitioned {
            if selection.storage_class != Some(StorageClass::Archive) {
                out.push(violation(
                    "selection.storageClass",
                    "must be \"archive\" when countType is \"sinceImageTransitioned\"".to_owned(),
                ));
            }
            if action != ActionType::Expire {
                out.push(violation(
                    "action.type",
                    "must be \"expire\" when countType is \"sinceImageTransitioned\"".to_owned(),
                ));
            }
        } else if selection.storage_class == Some(StorageClass::Archive) {
            out.push(violation(
                "selection.storageClass",
                format!(
                    "\"archive\" is only allowed with countType \"sinceImageTransitioned\", not \"{}\"",
                    count_type.as_str()
                ),
            ));
        }
        match (action, rule.action.target_storage_class) {
            (ActionType::Transition, None) => out.push(violation(
                "action.targetStorageClass",
                "required when action.type is \"transition\"; use \"archive\"".to_owned(),
            )),
            (ActionType::Transition, Some(StorageClass::Standard)) => {
                out.push(violation("action.targetStorageClass", "must be \"archive\", got \"standard\"".to_owned()))
            }
            (ActionType::Expire, Some(_)) => out.push(violation(
                "action.targetStorageClass",
                "must be omitted when action.type is \"expire\"".to_owned(),
            )),
            _ => {}
        }
    }

    if let Some(count) = rule_count {
        // At least one rule: probable (an empty policy is also shorter than the API's minimum text length).
        if count == 0 {
            out.push(PolicyViolation::policy("rules", "at least one rule is required"));
        }
        if count > MAX_RULES {
            out.push(PolicyViolation::policy("rules", format!("at most {MAX_RULES} rules are allowed, found {count}")));
        }
        if let Some(chars) = text_chars.filter(|_| count > 0) {
            if chars < MIN_POLICY_TEXT_CHARS {
                out.push(PolicyViolation::policy(
                    "policy text",
                    format!("{chars} characters once serialized; at least {MIN_POLICY_TEXT_CHARS} are required"),
                ));
            }
            if chars > MAX_POLICY_TEXT_CHARS {
                out.push(PolicyViolation::policy(
                    "policy text",
                    format!(
                        "{chars} characters once serialized; at most {MAX_POLICY_TEXT_CHARS} are allowed \
                         (shorten descriptions or merge rules)"
                    ),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::testing::SEED_POLICY;
    use super::*;

    /// A valid rule to start each case from.
    fn untagged(priority: u32) -> Value {
        json!({"rulePriority": priority, "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan",
            "countNumber": 1}, "action": {"type": "expire"}})
    }

    fn tagged(priority: u32, selection: Value) -> Value {
        let mut rule = json!({"rulePriority": priority, "selection": {"tagStatus": "tagged",
            "countType": "imageCountMoreThan", "countNumber": 3}, "action": {"type": "expire"}});
        for (key, value) in selection.as_object().unwrap() {
            rule["selection"][key] = value.clone();
        }
        rule
    }

    fn with(mut rule: Value, path: &[&str], value: Value) -> Value {
        let (last, parents) = path.split_last().unwrap();
        let mut at = &mut rule;
        for key in parents {
            at = &mut at[*key];
        }
        if value.is_null() {
            at.as_object_mut().unwrap().remove(*last);
        } else {
            at[*last] = value;
        }
        rule
    }

    fn check(rules: Vec<Value>) -> Vec<String> {
        let text = json!({ "rules": rules }).to_string();
        match LifecyclePolicy::parse(&text) {
            Ok(policy) => {
                assert!(policy.violations().is_empty());
                Vec::new()
            }
            Err(Error::InvalidPolicy { violations }) => {
                // The typed path finds the same, when the shape is right.
                if let Ok(policy) = LifecyclePolicy::from_json(&text) {
                    assert_eq!(policy.violations(), violations);
                }
                violations.iter().map(ToString::to_string).collect()
            }
            Err(other) => panic!("unexpected error {other}"),
        }
    }

    #[test]
    fn the_seed_policy_is_valid() {
        assert!(LifecyclePolicy::parse(SEED_POLICY).unwrap().validate().is_ok());
    }

    #[test]
    fn validation_covers_every_rule_of_ecr() {
        let pulled =
            json!({"tagStatus": "any", "countType": "sinceImagePulled", "countUnit": "days", "countNumber": 30});
        let transitioned = json!({"tagStatus": "any", "countType": "sinceImageTransitioned", "countUnit": "days",
            "countNumber": 30, "storageClass": "archive"});
        let archive = json!({"type": "transition", "targetStorageClass": "archive"});
        let cases: Vec<(&str, Vec<Value>, Vec<&str>)> = vec![
            (
                "priorities must be unique",
                vec![tagged(1, json!({"tagPrefixList": ["a"]})), untagged(1)],
                vec![
                    "rules[1] (priority 1): rulePriority: 1 is already the priority of rules[0]; priorities must be unique",
                ],
            ),
            (
                "priorities start at 1",
                vec![untagged(0)],
                vec!["rules[0] (priority 0): rulePriority: must be 1 or more, got 0"],
            ),
            (
                "priorities need not be consecutive",
                vec![tagged(10, json!({"tagPrefixList": ["a"]})), untagged(20)],
                vec![],
            ),
            (
                "an any rule must have the highest priority",
                vec![
                    with(untagged(2), &["selection", "tagStatus"], json!("any")),
                    tagged(1, json!({"tagPrefixList": ["a"]})),
                    tagged(3, json!({"tagPrefixList": ["b"]})),
                ],
                vec![
                    "rules[0] (priority 2): rulePriority: a rule with tagStatus \"any\" must have the highest rulePriority, but rules[2] has 3",
                ],
            ),
            (
                "an any rule last is fine",
                vec![
                    tagged(1, json!({"tagPrefixList": ["a"]})),
                    with(untagged(2), &["selection", "tagStatus"], json!("any")),
                ],
                vec![],
            ),
            (
                "only one any rule",
                vec![
                    with(untagged(1), &["selection", "tagStatus"], json!("any")),
                    with(untagged(2), &["selection", "tagStatus"], json!("any")),
                ],
                vec![
                    "rules[0] (priority 1): rulePriority: a rule with tagStatus \"any\" must have the highest rulePriority, but rules[1] has 2",
                    "rules[1] (priority 2): selection.tagStatus: only one rule may have tagStatus \"any\"; rules[0] has it too",
                ],
            ),
            (
                "tagged needs a list",
                vec![tagged(1, json!({}))],
                vec![
                    "rules[0] (priority 1): selection.tagPrefixList: required when tagStatus is \"tagged\" (or give tagPatternList instead)",
                ],
            ),
            (
                "tagged takes prefixes or patterns, not both",
                vec![tagged(1, json!({"tagPrefixList": ["a"], "tagPatternList": ["a*"]}))],
                vec![
                    "rules[0] (priority 1): selection.tagPatternList: cannot be combined with tagPrefixList; give one of the two",
                ],
            ),
            (
                "tagged with an empty list",
                vec![tagged(1, json!({"tagPrefixList": []}))],
                vec!["rules[0] (priority 1): selection.tagPrefixList: must not be empty when tagStatus is \"tagged\""],
            ),
            (
                "untagged takes no list",
                vec![with(untagged(1), &["selection", "tagPrefixList"], json!(["a"]))],
                vec!["rules[0] (priority 1): selection.tagPrefixList: must be omitted when tagStatus is \"untagged\""],
            ),
            (
                "any takes no list",
                vec![with(
                    with(untagged(1), &["selection", "tagStatus"], json!("any")),
                    &["selection", "tagPatternList"],
                    json!([]),
                )],
                vec!["rules[0] (priority 1): selection.tagPatternList: must be omitted when tagStatus is \"any\""],
            ),
            ("four wildcards are allowed", vec![tagged(1, json!({"tagPatternList": ["*test*1*2*3"]}))], vec![]),
            (
                "six wildcards are not",
                vec![tagged(1, json!({"tagPatternList": ["ok*", "test*1*2*3*4*5*6"]}))],
                vec![
                    "rules[0] (priority 1): selection.tagPatternList[1]: \"test*1*2*3*4*5*6\" has 6 wildcards (*); at most 4 are allowed",
                ],
            ),
            (
                "countUnit only with time-based count types",
                vec![with(untagged(1), &["selection", "countUnit"], json!("days"))],
                vec![
                    "rules[0] (priority 1): selection.countUnit: must be omitted when countType is \"imageCountMoreThan\"",
                ],
            ),
            (
                "time-based count types need countUnit",
                vec![with(untagged(1), &["selection", "countType"], json!("sinceImagePushed"))],
                vec![
                    "rules[0] (priority 1): selection.countUnit: required when countType is \"sinceImagePushed\"; use \"days\"",
                ],
            ),
            (
                "countNumber of at least 1",
                vec![with(untagged(1), &["selection", "countNumber"], json!(0))],
                vec!["rules[0] (priority 1): selection.countNumber: must be 1 or more, got 0"],
            ),
            (
                "sinceImagePulled only transitions",
                vec![with(untagged(1), &["selection"], pulled.clone())],
                vec![
                    "rules[0] (priority 1): selection.countType: \"sinceImagePulled\" is only allowed with action.type \"transition\"",
                ],
            ),
            (
                "sinceImagePulled transitions to archive",
                vec![with(with(untagged(1), &["selection"], pulled.clone()), &["action"], archive.clone())],
                vec![],
            ),
            (
                "transition needs a target",
                vec![with(untagged(1), &["action", "type"], json!("transition"))],
                vec![
                    "rules[0] (priority 1): action.targetStorageClass: required when action.type is \"transition\"; use \"archive\"",
                ],
            ),
            (
                "transition targets archive only",
                vec![with(
                    with(untagged(1), &["action", "type"], json!("transition")),
                    &["action", "targetStorageClass"],
                    json!("standard"),
                )],
                vec!["rules[0] (priority 1): action.targetStorageClass: must be \"archive\", got \"standard\""],
            ),
            (
                "expire takes no target",
                vec![with(untagged(1), &["action", "targetStorageClass"], json!("archive"))],
                vec![
                    "rules[0] (priority 1): action.targetStorageClass: must be omitted when action.type is \"expire\"",
                ],
            ),
            (
                "sinceImageTransitioned expires archived images",
                vec![with(untagged(1), &["selection"], transitioned.clone())],
                vec![],
            ),
            (
                "sinceImageTransitioned needs the archive class and expire",
                vec![with(
                    with(
                        with(untagged(1), &["selection"], transitioned.clone()),
                        &["selection", "storageClass"],
                        Value::Null,
                    ),
                    &["action"],
                    archive.clone(),
                )],
                vec![
                    "rules[0] (priority 1): selection.storageClass: must be \"archive\" when countType is \"sinceImageTransitioned\"",
                    "rules[0] (priority 1): action.type: must be \"expire\" when countType is \"sinceImageTransitioned\"",
                ],
            ),
            (
                "the archive class only with sinceImageTransitioned",
                vec![with(untagged(1), &["selection", "storageClass"], json!("archive"))],
                vec![
                    "rules[0] (priority 1): selection.storageClass: \"archive\" is only allowed with countType \"sinceImageTransitioned\", not \"imageCountMoreThan\"",
                ],
            ),
            (
                "one untagged rule per storage class",
                vec![untagged(1), untagged(2)],
                vec![
                    "rules[1] (priority 2): selection.tagStatus: only one rule may select untagged images in the standard storage class; rules[0] does too",
                ],
            ),
            (
                "untagged rules for two storage classes",
                vec![
                    untagged(1),
                    with(
                        with(untagged(2), &["selection"], transitioned.clone()),
                        &["selection", "tagStatus"],
                        json!("untagged"),
                    ),
                ],
                vec![],
            ),
            (
                "an untagged rule and an any rule",
                vec![untagged(1), with(untagged(2), &["selection", "tagStatus"], json!("any"))],
                vec![],
            ),
            ("at least one rule", vec![], vec!["rules: at least one rule is required"]),
            (
                "at most 50 rules",
                (1..=51).map(|p| tagged(p, json!({"tagPrefixList": [format!("t{p}")]}))).collect(),
                vec!["rules: at most 50 rules are allowed, found 51"],
            ),
        ];
        for (name, rules, expected) in cases {
            assert_eq!(check(rules), expected, "{name}");
        }
    }

    #[test]
    fn validation_limits_the_canonical_text_length() {
        let bare = LifecyclePolicy::from_json(&json!({ "rules": [untagged(1)] }).to_string()).unwrap().to_json();
        let room = MAX_POLICY_TEXT_CHARS - bare.len() - r#""description":"","#.len();
        // Exactly at the limit is fine (non-ASCII characters count once), one more character is not.
        let at_limit = format!("é{}", "d".repeat(room - 1));
        assert_eq!(check(vec![with(untagged(1), &["description"], json!(at_limit))]), Vec::<String>::new());
        let over = "d".repeat(room + 1);
        assert_eq!(
            check(vec![with(untagged(1), &["description"], json!(over))]),
            ["policy text: 30721 characters once serialized; at most 30720 are allowed \
              (shorten descriptions or merge rules)"]
        );
    }

    #[test]
    fn validation_reports_every_violation_of_a_policy_at_once() {
        let policy = LifecyclePolicy::builder()
            .keep_most_recent(3)
            .keep_most_recent_tagged(0, ["release"])
            .keep_most_recent_untagged(1)
            .keep_most_recent_untagged(2)
            .build()
            .unwrap_err();
        let Error::InvalidPolicy { violations } = &policy else { panic!("{policy:?}") };
        let paths: Vec<String> = violations.iter().map(PolicyViolation::path).collect();
        assert_eq!(
            paths,
            ["rules[0].rulePriority", "rules[1].selection.countNumber", "rules[3].selection.tagStatus"],
            "{policy}"
        );
        assert!(policy.to_string().starts_with("invalid lifecycle policy: 3 violations: rules[0] (priority 1): "));
        let json = serde_json::to_value(&violations[1]).unwrap();
        assert_eq!(
            json,
            json!({"rule": 1, "rule_priority": 2, "field": "selection.countNumber", "message": "must be 1 or more, got 0"})
        );
    }
}
