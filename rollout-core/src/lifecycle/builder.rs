//! A builder for the common lifecycle policies, assigning rule priorities in the order rules are added.

use super::model::{
    ActionType, CountType, CountUnit, LifecyclePolicy, LifecycleRule, RuleAction, RuleSelection, TagStatus,
};
use crate::error::Result;
use crate::registry::StorageClass;

/// Builds a [`LifecyclePolicy`] rule by rule; the first rule gets priority 1, the next 2, and so on, so rules
/// added first win (ECR applies the lowest priority first, and an image claimed by a rule is safe from later
/// ones). Each rule gets a description saying what it does; [`PolicyBuilder::described`] replaces it.
///
/// ```
/// use rollout_core::lifecycle::LifecyclePolicy;
///
/// let policy = LifecyclePolicy::builder()
///     .keep_most_recent_tagged(5, ["latest"])
///     .keep_most_recent_untagged(2)
///     .build()?;
/// assert_eq!(policy.rules.len(), 2);
/// # Ok::<(), rollout_core::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until build() is called"]
pub struct PolicyBuilder {
    rules: Vec<LifecycleRule>,
}

impl LifecyclePolicy {
    /// Start building a policy.
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder::default()
    }
}

fn strings(items: impl IntoIterator<Item = impl Into<String>>) -> Vec<String> {
    items.into_iter().map(Into::into).collect()
}

fn images(count: u32) -> &'static str {
    if count == 1 { "image" } else { "images" }
}

fn days(count: u32) -> &'static str {
    if count == 1 { "day" } else { "days" }
}

/// `latest*` or `latest* and prod*`, for descriptions.
fn prefixes_text(prefixes: &[String]) -> String {
    prefixes.iter().map(|p| format!("{p}*")).collect::<Vec<_>>().join(" and ")
}

fn patterns_text(patterns: &[String]) -> String {
    patterns.join(" and ")
}

impl PolicyBuilder {
    /// Add any rule; its priority is the next one.
    pub fn rule(mut self, description: impl Into<String>, selection: RuleSelection, action: RuleAction) -> Self {
        let rule_priority = self.rules.last().map_or(1, |r| r.rule_priority.saturating_add(1));
        self.rules.push(LifecycleRule { rule_priority, description: Some(description.into()), selection, action });
        self
    }

    /// Replace the description of the rule added last (no effect before the first rule).
    pub fn described(mut self, description: impl Into<String>) -> Self {
        if let Some(rule) = self.rules.last_mut() {
            rule.description = Some(description.into());
        }
        self
    }

    fn count_rule(
        self,
        description: String,
        tag_status: TagStatus,
        prefixes: Option<Vec<String>>,
        patterns: Option<Vec<String>>,
        count_type: CountType,
        count_number: u32,
    ) -> Self {
        let selection = RuleSelection {
            tag_status,
            tag_prefix_list: prefixes,
            tag_pattern_list: patterns,
            count_type,
            count_unit: count_type.is_time_based().then_some(CountUnit::Days),
            count_number,
            storage_class: None,
        };
        self.rule(description, selection, RuleAction { kind: ActionType::Expire, target_storage_class: None })
    }

    /// Keep the `count` most recently pushed images carrying a tag with each of `prefixes`; expire the others.
    /// The seed policy's first rule is `keep_most_recent_tagged(5, ["latest"])`.
    pub fn keep_most_recent_tagged(self, count: u32, prefixes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let prefixes = strings(prefixes);
        let description = format!(
            "Keep only the {count} most recent {} tagged {}, expire the others",
            images(count),
            prefixes_text(&prefixes)
        );
        self.count_rule(description, TagStatus::Tagged, Some(prefixes), None, CountType::ImageCountMoreThan, count)
    }

    /// Keep the `count` most recently pushed images with a tag matching each of `patterns` (`*` wildcards);
    /// expire the others.
    pub fn keep_most_recent_tagged_matching(
        self,
        count: u32,
        patterns: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        let patterns = strings(patterns);
        let description = format!(
            "Keep only the {count} most recent {} tagged {}, expire the others",
            images(count),
            patterns_text(&patterns)
        );
        self.count_rule(description, TagStatus::Tagged, None, Some(patterns), CountType::ImageCountMoreThan, count)
    }

    /// Keep the `count` most recently pushed untagged images; expire the others. The seed policy's second rule
    /// is `keep_most_recent_untagged(2)`.
    pub fn keep_most_recent_untagged(self, count: u32) -> Self {
        let description = format!("Keep only the {count} most recent untagged {}, expire the others", images(count));
        self.count_rule(description, TagStatus::Untagged, None, None, CountType::ImageCountMoreThan, count)
    }

    /// Keep the `count` most recently pushed images of any kind; expire the others. A rule on any image must
    /// be the last one.
    pub fn keep_most_recent(self, count: u32) -> Self {
        let description = format!("Keep only the {count} most recent {}, expire the others", images(count));
        self.count_rule(description, TagStatus::Any, None, None, CountType::ImageCountMoreThan, count)
    }

    /// Expire untagged images pushed more than `days` days ago.
    pub fn expire_untagged_older_than(self, days_old: u32) -> Self {
        let description = format!("Expire untagged images pushed more than {days_old} {} ago", days(days_old));
        self.count_rule(description, TagStatus::Untagged, None, None, CountType::SinceImagePushed, days_old)
    }

    /// Expire images carrying a tag with each of `prefixes`, pushed more than `days` days ago.
    pub fn expire_tagged_older_than(
        self,
        days_old: u32,
        prefixes: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        let prefixes = strings(prefixes);
        let description = format!(
            "Expire images tagged {} pushed more than {days_old} {} ago",
            prefixes_text(&prefixes),
            days(days_old)
        );
        self.count_rule(description, TagStatus::Tagged, Some(prefixes), None, CountType::SinceImagePushed, days_old)
    }

    /// Expire images with a tag matching each of `patterns` (`*` wildcards), pushed more than `days` days ago.
    pub fn expire_tagged_matching_older_than(
        self,
        days_old: u32,
        patterns: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        let patterns = strings(patterns);
        let description = format!(
            "Expire images tagged {} pushed more than {days_old} {} ago",
            patterns_text(&patterns),
            days(days_old)
        );
        self.count_rule(description, TagStatus::Tagged, None, Some(patterns), CountType::SinceImagePushed, days_old)
    }

    /// Expire every image pushed more than `days` days ago. A rule on any image must be the last one.
    pub fn expire_older_than(self, days_old: u32) -> Self {
        let description = format!("Expire images pushed more than {days_old} {} ago", days(days_old));
        self.count_rule(description, TagStatus::Any, None, None, CountType::SinceImagePushed, days_old)
    }

    /// Archive every image not pulled (or, never pulled, pushed) for more than `days` days. A rule on any image
    /// must be the last one.
    pub fn archive_not_pulled_for(self, days_old: u32) -> Self {
        let description = format!("Archive images not pulled for more than {days_old} {}", days(days_old));
        let selection = RuleSelection {
            tag_status: TagStatus::Any,
            tag_prefix_list: None,
            tag_pattern_list: None,
            count_type: CountType::SinceImagePulled,
            count_unit: Some(CountUnit::Days),
            count_number: days_old,
            storage_class: None,
        };
        let action = RuleAction { kind: ActionType::Transition, target_storage_class: Some(StorageClass::Archive) };
        self.rule(description, selection, action)
    }

    /// The policy, validated: [`crate::Error::InvalidPolicy`] lists every violation (a count of 0, a rule on
    /// any image that is not last, …).
    pub fn build(self) -> Result<LifecyclePolicy> {
        let policy = LifecyclePolicy { rules: self.rules };
        policy.validate()?;
        Ok(policy)
    }

    /// The policy, not validated.
    pub fn build_unchecked(self) -> LifecyclePolicy {
        LifecyclePolicy { rules: self.rules }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn builder_assigns_priorities_in_order_and_describes_each_rule() {
        let policy = LifecyclePolicy::builder()
            .keep_most_recent_tagged(5, ["latest"])
            .keep_most_recent_tagged_matching(1, ["prod-*", "*-eu"])
            .expire_tagged_older_than(30, ["dev", "feature"])
            .expire_tagged_matching_older_than(1, ["tmp-*"])
            .keep_most_recent_untagged(2)
            .expire_older_than(365)
            .build_unchecked();
        let described: Vec<(u32, &str)> =
            policy.rules.iter().map(|r| (r.rule_priority, r.description.as_deref().unwrap())).collect();
        assert_eq!(
            described,
            [
                (1, "Keep only the 5 most recent images tagged latest*, expire the others"),
                (2, "Keep only the 1 most recent image tagged prod-* and *-eu, expire the others"),
                (3, "Expire images tagged dev* and feature* pushed more than 30 days ago"),
                (4, "Expire images tagged tmp-* pushed more than 1 day ago"),
                (5, "Keep only the 2 most recent untagged images, expire the others"),
                (6, "Expire images pushed more than 365 days ago"),
            ]
        );
        // Two untagged rules would be invalid; here there is one untagged and one any rule, last.
        assert_eq!(policy.violations(), []);
        let rule = &policy.rules[2].selection;
        assert_eq!(
            (rule.tag_status, rule.count_type, rule.count_unit, rule.count_number),
            (TagStatus::Tagged, CountType::SinceImagePushed, Some(CountUnit::Days), 30)
        );
        assert_eq!(rule.tag_prefix_list.as_deref(), Some(&["dev".to_owned(), "feature".to_owned()][..]));
    }

    #[test]
    fn builder_output_is_the_json_ecr_expects() {
        let policy = LifecyclePolicy::builder()
            .keep_most_recent_tagged(5, ["latest"])
            .keep_most_recent_untagged(2)
            .described("two")
            .archive_not_pulled_for(90)
            .build()
            .unwrap();
        assert_eq!(
            serde_json::to_value(&policy).unwrap(),
            serde_json::json!({"rules": [
                {"rulePriority": 1, "description": "Keep only the 5 most recent images tagged latest*, expire the others",
                 "selection": {"tagStatus": "tagged", "tagPrefixList": ["latest"], "countType": "imageCountMoreThan",
                    "countNumber": 5}, "action": {"type": "expire"}},
                {"rulePriority": 2, "description": "two", "selection": {"tagStatus": "untagged",
                    "countType": "imageCountMoreThan", "countNumber": 2}, "action": {"type": "expire"}},
                {"rulePriority": 3, "description": "Archive images not pulled for more than 90 days",
                 "selection": {"tagStatus": "any", "countType": "sinceImagePulled", "countUnit": "days", "countNumber": 90},
                 "action": {"type": "transition", "targetStorageClass": "archive"}},
            ]})
        );
    }

    #[test]
    fn builder_refuses_an_invalid_policy_listing_every_violation() {
        let err = LifecyclePolicy::builder()
            .keep_most_recent(3)
            .keep_most_recent_tagged(0, Vec::<String>::new())
            .build()
            .unwrap_err();
        let Error::InvalidPolicy { violations } = &err else { panic!("{err:?}") };
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["rulePriority", "selection.tagPrefixList", "selection.countNumber"]);
    }

    #[test]
    fn described_before_any_rule_does_nothing() {
        assert!(LifecyclePolicy::builder().described("nothing").build_unchecked().rules.is_empty());
    }
}
