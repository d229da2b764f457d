//! Comparing the policy a repository has with the one wanted.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::model::{LifecyclePolicy, LifecycleRule};

/// The difference between a repository's current policy and the desired one, rule by rule.
///
/// Rules are paired by `rulePriority` (ECR's identity for a rule, and the order it stores them in), so
/// re-numbering rules shows as changes. Rule order and the order of tag lists never show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyDiff {
    /// Whether the repository has a policy at all.
    pub current_exists: bool,
    /// No difference at all, descriptions included: nothing to put.
    pub equal: bool,
    /// The policies act the same (`current == desired`); only descriptions may differ.
    pub same_effect: bool,
    /// Rules of the desired policy whose priority the current one lacks.
    pub added: Vec<LifecycleRule>,
    /// Rules of the current policy whose priority the desired one lacks.
    pub removed: Vec<LifecycleRule>,
    /// Rules present in both with different contents.
    pub changed: Vec<RuleChange>,
}

/// One rule that differs between the current and the desired policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleChange {
    /// The priority both rules share.
    pub rule_priority: u32,
    /// The fields that differ.
    pub fields: Vec<FieldChange>,
    /// The current rule.
    pub current: LifecycleRule,
    /// The desired rule.
    pub desired: LifecycleRule,
}

/// One field that differs; `None` means absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// The field's path inside the rule, e.g. `selection.countNumber`.
    pub field: String,
    /// Its current value.
    pub current: Option<Value>,
    /// Its desired value.
    pub desired: Option<Value>,
}

/// Compare `current` (`None`: the repository has no policy) with `desired`.
pub fn diff(current: Option<&LifecyclePolicy>, desired: &LifecyclePolicy) -> PolicyDiff {
    let Some(current) = current else {
        return PolicyDiff {
            current_exists: false,
            equal: false,
            same_effect: false,
            added: desired.rules_by_priority().into_iter().cloned().collect(),
            removed: Vec::new(),
            changed: Vec::new(),
        };
    };
    // Repeated priorities only occur in invalid policies; they are paired in order of appearance.
    let mut pairs: BTreeMap<u32, (Vec<&LifecycleRule>, Vec<&LifecycleRule>)> = BTreeMap::new();
    for rule in current.rules_by_priority() {
        pairs.entry(rule.rule_priority).or_default().0.push(rule);
    }
    for rule in desired.rules_by_priority() {
        pairs.entry(rule.rule_priority).or_default().1.push(rule);
    }
    let (mut added, mut removed, mut changed) = (Vec::new(), Vec::new(), Vec::new());
    for (priority, (old, new)) in pairs {
        let paired = old.len().min(new.len());
        for (a, b) in old.iter().zip(&new) {
            let fields = field_changes(a, b);
            if !fields.is_empty() {
                changed.push(RuleChange {
                    rule_priority: priority,
                    fields,
                    current: (*a).clone(),
                    desired: (*b).clone(),
                });
            }
        }
        removed.extend(old[paired..].iter().map(|r| (*r).clone()));
        added.extend(new[paired..].iter().map(|r| (*r).clone()));
    }
    let equal = added.is_empty() && removed.is_empty() && changed.is_empty();
    PolicyDiff { current_exists: true, equal, same_effect: current == desired, added, removed, changed }
}

fn field_changes(current: &LifecycleRule, desired: &LifecycleRule) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let mut compare = |field: &str, a: Option<Value>, b: Option<Value>, same: bool| {
        if !same {
            out.push(FieldChange { field: field.to_owned(), current: a, desired: b });
        }
    };
    let (a, b) = (&current.selection, &desired.selection);
    compare(
        "description",
        current.description.as_ref().map(json),
        desired.description.as_ref().map(json),
        current.description == desired.description,
    );
    compare("selection.tagStatus", Some(json(&a.tag_status)), Some(json(&b.tag_status)), a.tag_status == b.tag_status);
    compare(
        "selection.tagPrefixList",
        a.tag_prefix_list.as_ref().map(json),
        b.tag_prefix_list.as_ref().map(json),
        same_set(a.tag_prefix_list.as_deref(), b.tag_prefix_list.as_deref()),
    );
    compare(
        "selection.tagPatternList",
        a.tag_pattern_list.as_ref().map(json),
        b.tag_pattern_list.as_ref().map(json),
        same_set(a.tag_pattern_list.as_deref(), b.tag_pattern_list.as_deref()),
    );
    compare("selection.countType", Some(json(&a.count_type)), Some(json(&b.count_type)), a.count_type == b.count_type);
    compare(
        "selection.countUnit",
        a.count_unit.as_ref().map(json),
        b.count_unit.as_ref().map(json),
        a.count_unit == b.count_unit,
    );
    compare(
        "selection.countNumber",
        Some(json(&a.count_number)),
        Some(json(&b.count_number)),
        a.count_number == b.count_number,
    );
    compare(
        "selection.storageClass",
        a.storage_class.as_ref().map(json),
        b.storage_class.as_ref().map(json),
        a.storage_class() == b.storage_class(),
    );
    let (a, b) = (&current.action, &desired.action);
    compare("action.type", Some(json(&a.kind)), Some(json(&b.kind)), a.kind == b.kind);
    compare(
        "action.targetStorageClass",
        a.target_storage_class.as_ref().map(json),
        b.target_storage_class.as_ref().map(json),
        a.target_storage_class == b.target_storage_class,
    );
    out
}

/// Tag lists compare as sets: every entry must match, so order and repeats change nothing.
fn same_set(a: Option<&[String]>, b: Option<&[String]>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.iter().collect::<BTreeSet<_>>() == b.iter().collect::<BTreeSet<_>>(),
        _ => false,
    }
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::SEED_POLICY;
    use super::*;

    fn seed() -> LifecyclePolicy {
        LifecyclePolicy::parse(SEED_POLICY).unwrap()
    }

    #[test]
    fn diff_without_a_current_policy_adds_every_rule() {
        let result = diff(None, &seed());
        assert!(!result.current_exists && !result.equal && !result.same_effect);
        assert_eq!(result.added.iter().map(|r| r.rule_priority).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn diff_of_a_policy_read_back_reordered_is_equal() {
        let mut stored = seed();
        stored.rules.reverse();
        let tags = stored.rules[1].selection.tag_prefix_list.as_mut().unwrap();
        tags.push("latest".into());
        let result = diff(Some(&stored), &seed());
        assert!(result.equal && result.same_effect, "{result:?}");
    }

    #[test]
    fn diff_reports_a_description_only_change_as_the_same_effect() {
        let built = LifecyclePolicy::builder()
            .keep_most_recent_tagged(5, ["latest"])
            .keep_most_recent_untagged(2)
            .build()
            .unwrap();
        let result = diff(Some(&seed()), &built);
        assert!(!result.equal && result.same_effect);
        assert_eq!(result.changed.len(), 2);
        assert_eq!(
            result.changed[0].fields,
            [FieldChange {
                field: "description".into(),
                current: Some(json!("Keep only five tagged images, expire all others")),
                desired: Some(json!("Keep only the 5 most recent images tagged latest*, expire the others")),
            }]
        );
    }

    #[test]
    fn diff_pairs_rules_by_priority_and_names_changed_fields() {
        let desired = LifecyclePolicy::builder()
            .keep_most_recent_tagged(10, ["latest"])
            .described("Keep only five tagged images, expire all others")
            .expire_untagged_older_than(14)
            .described("Keep only two untagged image, expire all others")
            .expire_older_than(365)
            .build()
            .unwrap();
        let result = diff(Some(&seed()), &desired);
        assert!(!result.equal && !result.same_effect);
        assert_eq!(result.added.iter().map(|r| r.rule_priority).collect::<Vec<_>>(), [3]);
        assert!(result.removed.is_empty());
        let fields: Vec<(u32, Vec<&str>)> = result
            .changed
            .iter()
            .map(|c| (c.rule_priority, c.fields.iter().map(|f| f.field.as_str()).collect()))
            .collect();
        assert_eq!(
            fields,
            [
                (1, vec!["selection.countNumber"]),
                (2, vec!["selection.countType", "selection.countUnit", "selection.countNumber"]),
            ]
        );
        assert_eq!(
            result.changed[1].fields[1],
            FieldChange { field: "selection.countUnit".into(), current: None, desired: Some(json!("days")) }
        );

        let back = diff(Some(&desired), &seed());
        assert_eq!(back.removed.iter().map(|r| r.rule_priority).collect::<Vec<_>>(), [3]);
        let json = serde_json::to_value(&back).unwrap();
        assert_eq!(json["removed"][0]["rulePriority"], 3);
        assert_eq!(json["changed"][0]["fields"][0]["field"], "selection.countNumber");
    }
}
