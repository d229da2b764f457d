//! The typed lifecycle policy: the exact JSON ECR accepts, with equality that means "same effect".

use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::registry::StorageClass;

/// An ECR lifecycle policy: a list of rules, each selecting images and expiring (or archiving) some of them.
///
/// The serde form is ECR's JSON exactly (`rules[].rulePriority`, `selection.tagPrefixList`, …); unknown fields
/// are rejected, as ECR rejects them. Prefer [`LifecyclePolicy::parse`] or [`LifecyclePolicy::from_json`] to
/// read text: they name every unknown or mistyped field with its path instead of stopping at the first.
///
/// # Equality
///
/// `==` and `Hash` compare what a policy *does*, so a policy read back from ECR equals the one that was put:
/// - rule order is ignored (ECR stores rules re-ordered by `rulePriority`);
/// - descriptions are ignored: they document a rule and change nothing ECR does ([`diff`](super::diff) still
///   reports a changed description, so a description-only edit can be put on purpose);
/// - `tagPrefixList` and `tagPatternList` compare as sets (every entry must match, so order and repeats do not
///   matter);
/// - an omitted `selection.storageClass` equals `"standard"`, its default.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecyclePolicy {
    /// The rules, in any order; ECR applies them by ascending `rulePriority`.
    pub rules: Vec<LifecycleRule>,
}

/// One rule of a lifecycle policy.
///
/// Equality ignores `description` (see [`LifecyclePolicy`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LifecycleRule {
    /// Unique within the policy; the lowest number is applied first. Numbers need not be consecutive.
    pub rule_priority: u32,
    /// Free text shown in the ECR console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Which images the rule looks at, and which of them it acts on.
    pub selection: RuleSelection,
    /// What happens to the images the rule acts on.
    pub action: RuleAction,
}

/// The `selection` of a rule.
///
/// Equality treats the tag lists as sets and an omitted storage class as `standard`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleSelection {
    /// Tagged, untagged, or any image.
    pub tag_status: TagStatus,
    /// With `tagged`: an image matches when *every* prefix starts at least one of its tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_prefix_list: Option<Vec<String>>,
    /// With `tagged`, instead of prefixes: patterns where `*` matches any run of characters (at most four `*`);
    /// an image matches when *every* pattern matches at least one of its tags whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_pattern_list: Option<Vec<String>>,
    /// How `countNumber` is read: an image count, or an age in days.
    pub count_type: CountType,
    /// `days`, with the time-based count types only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count_unit: Option<CountUnit>,
    /// How many images to keep, or the age in days; at least 1.
    pub count_number: u32,
    /// Which storage class the rule looks at; omitted means `standard`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<StorageClass>,
}

/// The `action` of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleAction {
    /// Expire (delete) or transition (archive).
    #[serde(rename = "type")]
    pub kind: ActionType,
    /// `archive`, with `transition` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_storage_class: Option<StorageClass>,
}

/// `selection.tagStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TagStatus {
    /// Images with at least one tag matching the prefix or pattern list.
    Tagged,
    /// Images without any tag.
    Untagged,
    /// Every image; such a rule must come last.
    Any,
}

/// `selection.countType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CountType {
    /// Keep the `countNumber` most recently pushed images, act on the rest.
    ImageCountMoreThan,
    /// Act on images pushed more than `countNumber` days ago.
    SinceImagePushed,
    /// Act on images last pulled (or, never pulled, pushed) more than `countNumber` days ago; transition only.
    SinceImagePulled,
    /// Act on images archived more than `countNumber` days ago; archive storage class and expire only.
    SinceImageTransitioned,
}

/// `selection.countUnit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CountUnit {
    /// The only unit ECR knows.
    Days,
}

/// `action.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionType {
    /// Delete the image.
    Expire,
    /// Move the image to another storage class (`targetStorageClass`).
    Transition,
}

impl TagStatus {
    /// The JSON word.
    pub fn as_str(self) -> &'static str {
        match self {
            TagStatus::Tagged => "tagged",
            TagStatus::Untagged => "untagged",
            TagStatus::Any => "any",
        }
    }
}

impl CountType {
    /// The JSON word.
    pub fn as_str(self) -> &'static str {
        match self {
            CountType::ImageCountMoreThan => "imageCountMoreThan",
            CountType::SinceImagePushed => "sinceImagePushed",
            CountType::SinceImagePulled => "sinceImagePulled",
            CountType::SinceImageTransitioned => "sinceImageTransitioned",
        }
    }

    /// Whether `countNumber` is an age in days (and `countUnit` is required).
    pub fn is_time_based(self) -> bool {
        !matches!(self, CountType::ImageCountMoreThan)
    }
}

impl ActionType {
    /// The JSON word.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionType::Expire => "expire",
            ActionType::Transition => "transition",
        }
    }
}

impl RuleSelection {
    /// The storage class the rule looks at (`standard` when omitted).
    pub fn storage_class(&self) -> StorageClass {
        self.storage_class.unwrap_or(StorageClass::Standard)
    }

    fn key(&self) -> SelectionKey<'_> {
        SelectionKey {
            tag_status: self.tag_status,
            prefixes: self.tag_prefix_list.as_deref().map(as_set),
            patterns: self.tag_pattern_list.as_deref().map(as_set),
            count_type: self.count_type,
            count_unit: self.count_unit,
            count_number: self.count_number,
            storage_class: self.storage_class(),
        }
    }
}

fn as_set(list: &[String]) -> Vec<&str> {
    let mut set: Vec<&str> = list.iter().map(String::as_str).collect();
    set.sort_unstable();
    set.dedup();
    set
}

/// What equality of a selection looks at.
#[derive(PartialEq, Eq, Hash, PartialOrd, Ord)]
struct SelectionKey<'a> {
    tag_status: TagStatus,
    prefixes: Option<Vec<&'a str>>,
    patterns: Option<Vec<&'a str>>,
    count_type: CountType,
    count_unit: Option<CountUnit>,
    count_number: u32,
    storage_class: StorageClass,
}

/// What equality of a rule looks at: everything but the description.
#[derive(PartialEq, Eq, Hash, PartialOrd, Ord)]
struct RuleKey<'a> {
    priority: u32,
    selection: SelectionKey<'a>,
    action: ActionType,
    target: Option<StorageClass>,
}

impl LifecycleRule {
    fn key(&self) -> RuleKey<'_> {
        RuleKey {
            priority: self.rule_priority,
            selection: self.selection.key(),
            action: self.action.kind,
            target: self.action.target_storage_class,
        }
    }
}

impl PartialEq for RuleSelection {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for RuleSelection {}

impl Hash for RuleSelection {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl PartialEq for LifecycleRule {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for LifecycleRule {}

impl Hash for LifecycleRule {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl LifecyclePolicy {
    /// The rules' keys sorted, so that rule order never matters (a multiset comparison, which stays
    /// well-defined for an invalid policy with repeated priorities).
    fn keys(&self) -> Vec<RuleKey<'_>> {
        let mut keys: Vec<RuleKey<'_>> = self.rules.iter().map(LifecycleRule::key).collect();
        keys.sort_unstable();
        keys
    }

    /// The rules sorted by priority, as ECR stores them (a stable sort: equal priorities keep their order).
    pub fn rules_by_priority(&self) -> Vec<&LifecycleRule> {
        let mut rules: Vec<&LifecycleRule> = self.rules.iter().collect();
        rules.sort_by_key(|r| r.rule_priority);
        rules
    }

    /// The canonical JSON text: rules sorted by priority as ECR stores them, fields in the order of ECR's
    /// template, omitted optional fields left out, no whitespace. This is the text rollout puts. Two equal
    /// policies have the same canonical text unless their descriptions or the order of their tag lists differ.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.canonical()).unwrap_or_default()
    }

    /// The canonical form, indented for a file or a terminal.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.canonical()).unwrap_or_default()
    }

    fn canonical(&self) -> CanonicalPolicy<'_> {
        CanonicalPolicy { rules: self.rules_by_priority() }
    }

    /// Read a policy's JSON text, checking its shape only: well-formed JSON, known fields, right types and
    /// values. Every unknown or mistyped field is reported, each with its path. ECR's other rules (unique
    /// priorities, which fields go together, …) are not checked: use [`LifecyclePolicy::parse`] for a policy
    /// about to be put, this for one read back from ECR.
    pub fn from_json(text: &str) -> Result<LifecyclePolicy> {
        super::parse::from_json(text, false)
    }

    /// Read and fully validate a policy's JSON text: shape and every rule of [`LifecyclePolicy::validate`],
    /// all violations reported together.
    pub fn parse(text: &str) -> Result<LifecyclePolicy> {
        super::parse::from_json(text, true)
    }
}

#[derive(Serialize)]
struct CanonicalPolicy<'a> {
    rules: Vec<&'a LifecycleRule>,
}

impl PartialEq for LifecyclePolicy {
    fn eq(&self, other: &Self) -> bool {
        self.rules.len() == other.rules.len() && self.keys() == other.keys()
    }
}

impl Eq for LifecyclePolicy {}

impl Hash for LifecyclePolicy {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.keys().hash(state);
    }
}

impl std::str::FromStr for LifecyclePolicy {
    type Err = crate::Error;

    /// Same as [`LifecyclePolicy::parse`]: shape and rules validated.
    fn from_str(text: &str) -> Result<Self> {
        LifecyclePolicy::parse(text)
    }
}

impl std::fmt::Display for LifecyclePolicy {
    /// The canonical JSON text.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_json())
    }
}
