//! Lifecycle policy texts: parsing into a typed policy, the validation ECR applies when a policy is
//! put or previewed, and the normalised text ECR stores (rules ordered by `rulePriority`).
//!
//! The rules come from the ECR User Guide ("Lifecycle policy properties", "Archiving an image") and
//! the API model (`LifecyclePolicyText` is 100 to 30,720 characters):
//! - the text is a JSON object whose only key is `rules`, a list of 1 to 50 rule objects;
//! - a rule has `rulePriority` (an integer ≥ 1, unique), an optional `description`, a `selection`
//!   and an `action`, and nothing else;
//! - `selection.tagStatus` is `tagged`, `untagged` or `any`; `tagged` needs exactly one of
//!   `tagPrefixList` and `tagPatternList` (non-empty lists of non-empty strings, a pattern with at
//!   most four `*`), `untagged` and `any` take neither;
//! - `countType` is `imageCountMoreThan` (no `countUnit`) or one of the time-based
//!   `sinceImagePushed`, `sinceImagePulled`, `sinceImageTransitioned` (with `countUnit: days`);
//!   `countNumber` is an integer ≥ 1;
//! - `action.type` is `expire` or `transition`; `transition` needs `targetStorageClass: archive`,
//!   `expire` takes none; `sinceImagePulled` is only allowed with `transition`,
//!   `sinceImageTransitioned` only with `expire` and `storageClass: archive`; the other count types
//!   select `standard` images only;
//! - at most one rule has `tagStatus: any`, and it has the highest `rulePriority`; at most one rule
//!   per storage class selects `untagged` images.
//!
//! ECR answers the first violation it finds; so does this validator, with the rule's position and
//! priority and the field path in the message. It does not evaluate policies (see `evaluate`).

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

/// The shortest policy text ECR accepts, in characters.
pub const MIN_TEXT_LEN: usize = 100;
/// The longest policy text ECR accepts, in characters.
pub const MAX_TEXT_LEN: usize = 30_720;
/// The most rules a policy may have.
pub const MAX_RULES: usize = 50;
/// The most `*` wildcards in one tag pattern.
pub const MAX_WILDCARDS: usize = 4;

/// Which images a rule selects by their tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagStatus {
    /// Images with at least one tag matching every prefix or pattern.
    Tagged,
    /// Images without tags.
    Untagged,
    /// Every image.
    Any,
}

/// Where an image is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageClass {
    /// The default.
    Standard,
    /// Archived by a `transition` rule.
    Archive,
}

/// How a rule counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountType {
    /// Keep the `countNumber` newest matching images, select the rest.
    ImageCountMoreThan,
    /// Select images pushed more than `countNumber` days ago.
    SinceImagePushed,
    /// Select images last pulled (or, never pulled, pushed) more than `countNumber` days ago.
    SinceImagePulled,
    /// Select archived images archived more than `countNumber` days ago.
    SinceImageTransitioned,
}

impl CountType {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ImageCountMoreThan => "imageCountMoreThan",
            Self::SinceImagePushed => "sinceImagePushed",
            Self::SinceImagePulled => "sinceImagePulled",
            Self::SinceImageTransitioned => "sinceImageTransitioned",
        }
    }

    fn is_time_based(self) -> bool {
        self != Self::ImageCountMoreThan
    }
}

/// What a rule does to the images it selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionType {
    /// Delete them.
    Expire,
    /// Move them to the archive storage class.
    Transition,
}

/// One validated rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `rulePriority`: lower numbers are applied first.
    pub priority: u32,
    /// `description`.
    pub description: Option<String>,
    /// `selection.tagStatus`.
    pub tag_status: TagStatus,
    /// `selection.tagPrefixList` (every prefix must match one of an image's tags).
    pub tag_prefixes: Option<Vec<String>>,
    /// `selection.tagPatternList` (every pattern must match one of an image's tags).
    pub tag_patterns: Option<Vec<String>>,
    /// `selection.storageClass` as written (absent means `standard`).
    pub storage_class: Option<StorageClass>,
    /// `selection.countType`.
    pub count_type: CountType,
    /// `selection.countNumber`: images to keep, or days.
    pub count_number: u32,
    /// `action.type`.
    pub action: ActionType,
}

impl Rule {
    /// The storage class the rule selects from.
    pub fn selects_from(&self) -> StorageClass {
        self.storage_class.unwrap_or(StorageClass::Standard)
    }

    /// Whether an image with these tags meets the rule's tagging requirements.
    pub fn matches_tags(&self, tags: &[String]) -> bool {
        match self.tag_status {
            TagStatus::Any => true,
            TagStatus::Untagged => tags.is_empty(),
            TagStatus::Tagged => {
                let prefixes = self.tag_prefixes.as_deref().unwrap_or_default();
                let patterns = self.tag_patterns.as_deref().unwrap_or_default();
                !tags.is_empty()
                    && prefixes.iter().all(|p| tags.iter().any(|t| t.starts_with(p.as_str())))
                    && patterns.iter().all(|p| tags.iter().any(|t| wildcard_match(p, t)))
            }
        }
    }
}

/// A validated policy, rules ordered by priority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The rules, lowest `rulePriority` first.
    pub rules: Vec<Rule>,
}

/// The first violation found in a policy text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// Where: `rules[1] (rulePriority 2): selection.countUnit`, or empty for the whole text.
    pub location: String,
    /// What is wrong and what is allowed.
    pub problem: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.location.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "{}: {}", self.location, self.problem)
        }
    }
}

impl std::error::Error for PolicyError {}

/// Whether `text` matches `pattern`, where `*` matches any run of characters (also none) and every
/// other character matches itself; the whole text must match.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if text.len() < first.len() + last.len() || !text.starts_with(first) || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

fn err(location: impl Into<String>, problem: impl Into<String>) -> PolicyError {
    PolicyError { location: location.into(), problem: problem.into() }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn wrong_type(location: &str, v: &Value, allowed: &str) -> PolicyError {
    err(
        location,
        format!(
            "instance type ({}) does not match any allowed primitive type (allowed: [\"{allowed}\"])",
            type_name(v)
        ),
    )
}

fn not_in_enum(location: &str, v: &str, allowed: &[&str]) -> PolicyError {
    let list = allowed.iter().map(|a| format!("\"{a}\"")).collect::<Vec<_>>().join(",");
    err(location, format!("instance value (\"{v}\") not found in enum (possible values: [{list}])"))
}

fn check_keys(
    location: &str,
    obj: &Map<String, Value>,
    allowed: &[&str],
    required: &[&str],
) -> Result<(), PolicyError> {
    let mut missing: Vec<&str> = required.iter().copied().filter(|k| !obj.contains_key(*k)).collect();
    missing.sort_unstable();
    if !missing.is_empty() {
        let list = missing.iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(",");
        return Err(err(location, format!("object has missing required properties ([{list}])")));
    }
    let mut unknown: Vec<&str> = obj.keys().map(String::as_str).filter(|k| !allowed.contains(k)).collect();
    unknown.sort_unstable();
    if !unknown.is_empty() {
        let list = unknown.iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(",");
        let allowed = allowed.join(", ");
        return Err(err(
            location,
            format!(
                "object instance has properties which are not allowed by the schema: ([{list}]); allowed: {allowed}"
            ),
        ));
    }
    Ok(())
}

fn string_in<'a>(location: &str, v: &'a Value, allowed: &[&str]) -> Result<&'a str, PolicyError> {
    let s = v.as_str().ok_or_else(|| wrong_type(location, v, "string"))?;
    if !allowed.contains(&s) {
        return Err(not_in_enum(location, s, allowed));
    }
    Ok(s)
}

fn positive_int(location: &str, v: &Value) -> Result<u32, PolicyError> {
    let Some(n) = v.as_i64().or_else(|| v.as_u64().map(|u| u.min(i64::MAX as u64) as i64)) else {
        return Err(wrong_type(location, v, "integer"));
    };
    if n < 1 {
        return Err(err(
            location,
            format!("numeric instance is lower than the required minimum (minimum: 1, found: {n})"),
        ));
    }
    if n > i64::from(i32::MAX) {
        return Err(err(
            location,
            format!("numeric instance is greater than the required maximum (maximum: {}, found: {n})", i32::MAX),
        ));
    }
    Ok(n as u32)
}

fn string_list(location: &str, v: &Value) -> Result<Vec<String>, PolicyError> {
    let items = v.as_array().ok_or_else(|| wrong_type(location, v, "array"))?;
    if items.is_empty() {
        return Err(err(location, "array is too short: must have at least 1 elements but instance has 0 elements"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let at = format!("{location}[{i}]");
            let s = item.as_str().ok_or_else(|| wrong_type(&at, item, "string"))?;
            if s.is_empty() {
                return Err(err(at, "string \"\" is too short (length: 0, required minimum: 1)"));
            }
            Ok(s.to_string())
        })
        .collect()
}

impl Policy {
    /// Parses and validates a policy text, answering the first violation.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let len = text.chars().count();
        if len < MIN_TEXT_LEN {
            return Err(err(
                "",
                format!("the policy text is {len} characters long; it must have {MIN_TEXT_LEN} to {MAX_TEXT_LEN}"),
            ));
        }
        if len > MAX_TEXT_LEN {
            return Err(err(
                "",
                format!("the policy text is {len} characters long; it must have at most {MAX_TEXT_LEN}"),
            ));
        }
        let doc: Value = serde_json::from_str(text)
            .map_err(|e| err("", format!("Could not map policyString into LifecyclePolicy: {e}")))?;
        let obj = doc.as_object().ok_or_else(|| {
            err(
                "",
                format!(
                    "Could not map policyString into LifecyclePolicy: the policy is a JSON {}, not an object with a \"rules\" list",
                    type_name(&doc)
                ),
            )
        })?;
        check_keys("the policy", obj, &["rules"], &["rules"])?;
        let rules = obj["rules"].as_array().ok_or_else(|| wrong_type("rules", &obj["rules"], "array"))?;
        if rules.is_empty() {
            return Err(err("rules", "array is too short: must have at least 1 elements but instance has 0 elements"));
        }
        if rules.len() > MAX_RULES {
            return Err(err("rules", format!("a policy has {} rules; at most {MAX_RULES} are allowed", rules.len())));
        }
        let mut parsed = Vec::with_capacity(rules.len());
        for (i, rule) in rules.iter().enumerate() {
            parsed.push(parse_rule(i, rule)?);
        }
        check_across_rules(&parsed)?;
        let mut rules: Vec<Rule> = parsed.into_iter().map(|(_, r)| r).collect();
        rules.sort_by_key(|r| r.priority);
        Ok(Policy { rules })
    }

    /// The text ECR stores and returns from `GetLifecyclePolicy`: compact JSON, rules ordered by
    /// `rulePriority`, each rule's keys in the order of ECR's documentation.
    pub fn normalised(&self) -> String {
        #[derive(Serialize)]
        struct Doc<'a> {
            rules: Vec<RuleOut<'a>>,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct RuleOut<'a> {
            rule_priority: u32,
            #[serde(skip_serializing_if = "Option::is_none")]
            description: Option<&'a str>,
            selection: SelectionOut<'a>,
            action: ActionOut,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct SelectionOut<'a> {
            tag_status: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            tag_pattern_list: Option<&'a [String]>,
            #[serde(skip_serializing_if = "Option::is_none")]
            tag_prefix_list: Option<&'a [String]>,
            #[serde(skip_serializing_if = "Option::is_none")]
            storage_class: Option<&'static str>,
            count_type: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            count_unit: Option<&'static str>,
            count_number: u32,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct ActionOut {
            r#type: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            target_storage_class: Option<&'static str>,
        }
        let storage = |s: StorageClass| match s {
            StorageClass::Standard => "standard",
            StorageClass::Archive => "archive",
        };
        let doc = Doc {
            rules: self
                .rules
                .iter()
                .map(|r| RuleOut {
                    rule_priority: r.priority,
                    description: r.description.as_deref(),
                    selection: SelectionOut {
                        tag_status: match r.tag_status {
                            TagStatus::Tagged => "tagged",
                            TagStatus::Untagged => "untagged",
                            TagStatus::Any => "any",
                        },
                        tag_pattern_list: r.tag_patterns.as_deref(),
                        tag_prefix_list: r.tag_prefixes.as_deref(),
                        storage_class: r.storage_class.map(storage),
                        count_type: r.count_type.as_str(),
                        count_unit: r.count_type.is_time_based().then_some("days"),
                        count_number: r.count_number,
                    },
                    action: match r.action {
                        ActionType::Expire => ActionOut { r#type: "expire", target_storage_class: None },
                        ActionType::Transition => {
                            ActionOut { r#type: "transition", target_storage_class: Some("archive") }
                        }
                    },
                })
                .collect(),
        };
        serde_json::to_string(&doc).expect("plain data always serialises")
    }
}

fn parse_rule(i: usize, v: &Value) -> Result<(usize, Rule), PolicyError> {
    let at = format!("rules[{i}]");
    let obj = v.as_object().ok_or_else(|| wrong_type(&at, v, "object"))?;
    check_keys(
        &at,
        obj,
        &["rulePriority", "description", "selection", "action"],
        &["rulePriority", "selection", "action"],
    )?;
    let priority = positive_int(&format!("{at}.rulePriority"), &obj["rulePriority"])?;
    let at = format!("rules[{i}] (rulePriority {priority})");
    let description = match obj.get("description") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => return Err(wrong_type(&format!("{at}: description"), other, "string")),
    };

    let sel_at = format!("{at}: selection");
    let sel = obj["selection"].as_object().ok_or_else(|| wrong_type(&sel_at, &obj["selection"], "object"))?;
    check_keys(
        &sel_at,
        sel,
        &["tagStatus", "tagPrefixList", "tagPatternList", "storageClass", "countType", "countUnit", "countNumber"],
        &["tagStatus", "countType", "countNumber"],
    )?;
    let tag_status = match string_in(&format!("{sel_at}.tagStatus"), &sel["tagStatus"], &["tagged", "untagged", "any"])?
    {
        "tagged" => TagStatus::Tagged,
        "untagged" => TagStatus::Untagged,
        _ => TagStatus::Any,
    };
    let tag_prefixes =
        sel.get("tagPrefixList").map(|v| string_list(&format!("{sel_at}.tagPrefixList"), v)).transpose()?;
    let tag_patterns =
        sel.get("tagPatternList").map(|v| string_list(&format!("{sel_at}.tagPatternList"), v)).transpose()?;
    match (tag_status, &tag_prefixes, &tag_patterns) {
        (TagStatus::Tagged, Some(_), Some(_)) => {
            return Err(err(&sel_at, "tagPrefixList and tagPatternList cannot both be given; use one of them"));
        }
        (TagStatus::Tagged, None, None) => {
            return Err(err(&sel_at, "tagStatus \"tagged\" requires a tagPrefixList or a tagPatternList"));
        }
        (TagStatus::Untagged | TagStatus::Any, Some(_), _) => {
            return Err(err(
                format!("{sel_at}.tagPrefixList"),
                format!("only allowed with tagStatus \"tagged\", not {:?}", status_name(tag_status)),
            ));
        }
        (TagStatus::Untagged | TagStatus::Any, _, Some(_)) => {
            return Err(err(
                format!("{sel_at}.tagPatternList"),
                format!("only allowed with tagStatus \"tagged\", not {:?}", status_name(tag_status)),
            ));
        }
        _ => {}
    }
    if let Some(patterns) = &tag_patterns {
        for (j, p) in patterns.iter().enumerate() {
            let stars = p.matches('*').count();
            if stars > MAX_WILDCARDS {
                return Err(err(
                    format!("{sel_at}.tagPatternList[{j}]"),
                    format!("the pattern {p:?} has {stars} wildcards (*); at most {MAX_WILDCARDS} are allowed"),
                ));
            }
        }
    }
    let count_type = match string_in(
        &format!("{sel_at}.countType"),
        &sel["countType"],
        &["imageCountMoreThan", "sinceImagePushed", "sinceImagePulled", "sinceImageTransitioned"],
    )? {
        "imageCountMoreThan" => CountType::ImageCountMoreThan,
        "sinceImagePushed" => CountType::SinceImagePushed,
        "sinceImagePulled" => CountType::SinceImagePulled,
        _ => CountType::SinceImageTransitioned,
    };
    match (count_type.is_time_based(), sel.get("countUnit")) {
        (false, Some(_)) => {
            return Err(err(
                format!("{sel_at}.countUnit"),
                "not allowed with countType \"imageCountMoreThan\" (it counts images, not days)",
            ));
        }
        (true, None) => {
            return Err(err(&sel_at, format!("countType {:?} requires countUnit \"days\"", count_type.as_str())));
        }
        (true, Some(unit)) => {
            string_in(&format!("{sel_at}.countUnit"), unit, &["days"])?;
        }
        (false, None) => {}
    }
    let count_number = positive_int(&format!("{sel_at}.countNumber"), &sel["countNumber"])?;
    let storage_class = match sel.get("storageClass") {
        None => None,
        Some(v) => Some(match string_in(&format!("{sel_at}.storageClass"), v, &["standard", "archive"])? {
            "archive" => StorageClass::Archive,
            _ => StorageClass::Standard,
        }),
    };

    let act_at = format!("{at}: action");
    let act = obj["action"].as_object().ok_or_else(|| wrong_type(&act_at, &obj["action"], "object"))?;
    check_keys(&act_at, act, &["type", "targetStorageClass"], &["type"])?;
    let action = match string_in(&format!("{act_at}.type"), &act["type"], &["expire", "transition"])? {
        "transition" => ActionType::Transition,
        _ => ActionType::Expire,
    };
    match (action, act.get("targetStorageClass")) {
        (ActionType::Transition, None) => {
            return Err(err(&act_at, "action type \"transition\" requires targetStorageClass \"archive\""));
        }
        (ActionType::Transition, Some(t)) => {
            string_in(&format!("{act_at}.targetStorageClass"), t, &["archive"])?;
        }
        (ActionType::Expire, Some(_)) => {
            return Err(err(format!("{act_at}.targetStorageClass"), "only allowed with action type \"transition\""));
        }
        (ActionType::Expire, None) => {}
    }

    let class = storage_class.unwrap_or(StorageClass::Standard);
    match count_type {
        CountType::SinceImagePulled if action != ActionType::Transition => {
            return Err(err(&at, "countType \"sinceImagePulled\" is only allowed with action type \"transition\""));
        }
        CountType::SinceImageTransitioned if action != ActionType::Expire => {
            return Err(err(&at, "countType \"sinceImageTransitioned\" is only allowed with action type \"expire\""));
        }
        CountType::SinceImageTransitioned if class != StorageClass::Archive => {
            return Err(err(&sel_at, "countType \"sinceImageTransitioned\" requires storageClass \"archive\""));
        }
        CountType::ImageCountMoreThan | CountType::SinceImagePushed | CountType::SinceImagePulled
            if class != StorageClass::Standard =>
        {
            return Err(err(
                format!("{sel_at}.storageClass"),
                format!(
                    "storageClass \"archive\" is only allowed with countType \"sinceImageTransitioned\", not {:?}",
                    count_type.as_str()
                ),
            ));
        }
        _ => {}
    }

    Ok((
        i,
        Rule {
            priority,
            description,
            tag_status,
            tag_prefixes,
            tag_patterns,
            storage_class,
            count_type,
            count_number,
            action,
        },
    ))
}

fn status_name(s: TagStatus) -> &'static str {
    match s {
        TagStatus::Tagged => "tagged",
        TagStatus::Untagged => "untagged",
        TagStatus::Any => "any",
    }
}

fn check_across_rules(rules: &[(usize, Rule)]) -> Result<(), PolicyError> {
    for (a, (i, r)) in rules.iter().enumerate() {
        if let Some((j, _)) = rules[..a].iter().find(|(_, o)| o.priority == r.priority) {
            return Err(err(
                format!("rules[{i}].rulePriority"),
                format!("{} is also the rulePriority of rules[{j}]; rule priorities must be unique", r.priority),
            ));
        }
    }
    let any: Vec<&(usize, Rule)> = rules.iter().filter(|(_, r)| r.tag_status == TagStatus::Any).collect();
    if any.len() > 1 {
        return Err(err(
            format!("rules[{}] (rulePriority {})", any[1].0, any[1].1.priority),
            format!("only one rule may have tagStatus \"any\"; rules[{}] has it too", any[0].0),
        ));
    }
    if let Some((i, r)) = any.first() {
        let highest = rules.iter().map(|(_, o)| o.priority).max().unwrap_or(r.priority);
        if r.priority != highest {
            return Err(err(
                format!("rules[{i}] (rulePriority {})", r.priority),
                format!(
                    "a rule with tagStatus \"any\" must have the highest rulePriority of the policy ({highest} is higher)"
                ),
            ));
        }
    }
    for class in [StorageClass::Standard, StorageClass::Archive] {
        let untagged: Vec<&(usize, Rule)> =
            rules.iter().filter(|(_, r)| r.tag_status == TagStatus::Untagged && r.selects_from() == class).collect();
        if untagged.len() > 1 {
            return Err(err(
                format!("rules[{}] (rulePriority {})", untagged[1].0, untagged[1].1.priority),
                format!(
                    "only one rule per storage class may select untagged images; rules[{}] already does",
                    untagged[0].0
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rule's JSON, padded with a description so the policy passes the 100-character minimum.
    fn policy(rules: &[&str]) -> String {
        format!("{{\"rules\":[{}]}}", rules.join(","))
    }

    const KEEP_5_LATEST: &str = r#"{"rulePriority":1,"description":"keep the five newest releases","selection":{"tagStatus":"tagged","tagPrefixList":["latest"],"countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}"#;
    const KEEP_2_UNTAGGED: &str = r#"{"rulePriority":2,"description":"keep two untagged images","selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":2},"action":{"type":"expire"}}"#;

    fn rule(priority: u32, selection: &str, action: &str) -> String {
        format!(
            r#"{{"rulePriority":{priority},"description":"a rule long enough for the minimum length","selection":{selection},"action":{action}}}"#
        )
    }

    #[test]
    fn the_seed_policy_is_valid_and_normalised_by_priority() {
        let p = Policy::parse(&policy(&[KEEP_2_UNTAGGED, KEEP_5_LATEST])).unwrap();
        assert_eq!(p.rules.iter().map(|r| r.priority).collect::<Vec<_>>(), [1, 2]);
        let text = p.normalised();
        assert!(text.starts_with(r#"{"rules":[{"rulePriority":1,"description":"keep the five newest releases","selection":{"tagStatus":"tagged","tagPrefixList":["latest"],"countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}"#), "{text}");
        assert_eq!(Policy::parse(&text).unwrap(), p);
    }

    #[test]
    fn the_validation_matrix_names_each_violation() {
        let expire = r#"{"type":"expire"}"#;
        let count = r#""countType":"imageCountMoreThan","countNumber":3"#;
        let untagged = format!(r#"{{"tagStatus":"untagged",{count}}}"#);
        let cases: Vec<(String, &str)> = vec![
            ("{\"rules\": []}".to_string(), "characters long"),
            (format!("{}{}", policy(&[KEEP_5_LATEST]), " ".repeat(MAX_TEXT_LEN)), "at most 30720"),
            (format!("[{}]", " ".repeat(120)), "Could not map policyString"),
            (format!("{{\"rules\":[], \"x\":\"{}\"}}", "y".repeat(100)), "not allowed by the schema: ([\"x\"])"),
            (format!("{{\"other\":\"{}\"}}", "y".repeat(100)), "missing required properties ([\"rules\"])"),
            (format!("{{\"rules\":[]{}}}", " ".repeat(100)), "at least 1 elements"),
            (
                format!("{{\"rules\":[\"{}\"]}}", "r".repeat(100)),
                "(string) does not match any allowed primitive type (allowed: [\"object\"])",
            ),
            (
                policy(&[&rule(1, &untagged, expire).replace("\"action\"", "\"priority\":1,\"action\"")]),
                "not allowed by the schema: ([\"priority\"])",
            ),
            (
                policy(&[&rule(0, &untagged, expire)]),
                "rules[0].rulePriority: numeric instance is lower than the required minimum (minimum: 1, found: 0)",
            ),
            (
                policy(&[&rule(1, &untagged, expire).replace("\"rulePriority\":1", "\"rulePriority\":\"1\"")]),
                "rules[0].rulePriority: instance type (string)",
            ),
            (
                policy(&[&rule(1, &untagged, expire), &rule(1, &untagged.replace("untagged", "any"), expire)]),
                "rules[1].rulePriority: 1 is also the rulePriority of rules[0]",
            ),
            (
                policy(&[&rule(2, &untagged.replace("untagged", "any"), expire), &rule(3, &untagged, expire)]),
                "must have the highest rulePriority",
            ),
            (
                policy(&[
                    &rule(2, &untagged.replace("untagged", "any"), expire),
                    &rule(3, &untagged.replace("untagged", "any"), expire),
                ]),
                "only one rule may have tagStatus \"any\"",
            ),
            (
                policy(&[&rule(1, &untagged, expire), &rule(2, &untagged, expire)]),
                "only one rule per storage class may select untagged images",
            ),
            (
                policy(&[&rule(1, &format!(r#"{{"tagStatus":"tagged",{count}}}"#), expire)]),
                "requires a tagPrefixList or a tagPatternList",
            ),
            (
                policy(&[&rule(
                    1,
                    &format!(r#"{{"tagStatus":"tagged","tagPrefixList":["a"],"tagPatternList":["a*"],{count}}}"#),
                    expire,
                )]),
                "cannot both be given",
            ),
            (
                policy(&[&rule(1, &format!(r#"{{"tagStatus":"untagged","tagPrefixList":["a"],{count}}}"#), expire)]),
                "tagPrefixList: only allowed with tagStatus \"tagged\"",
            ),
            (
                policy(&[&rule(1, &format!(r#"{{"tagStatus":"any","tagPatternList":["a*"],{count}}}"#), expire)]),
                "tagPatternList: only allowed with tagStatus \"tagged\"",
            ),
            (
                policy(&[&rule(1, &format!(r#"{{"tagStatus":"tagged","tagPrefixList":[],{count}}}"#), expire)]),
                "tagPrefixList: array is too short",
            ),
            (
                policy(&[&rule(
                    1,
                    &format!(r#"{{"tagStatus":"tagged","tagPatternList":["test*1*2*3*4*5*6"],{count}}}"#),
                    expire,
                )]),
                "tagPatternList[0]: the pattern \"test*1*2*3*4*5*6\" has 6 wildcards (*); at most 4 are allowed",
            ),
            (
                policy(&[&rule(
                    1,
                    r#"{"tagStatus":"maybe","countType":"imageCountMoreThan","countNumber":1}"#,
                    expire,
                )]),
                "instance value (\"maybe\") not found in enum",
            ),
            (
                policy(&[&rule(
                    1,
                    r#"{"tagStatus":"untagged","countType":"imageCountMoreThan","countUnit":"days","countNumber":1}"#,
                    expire,
                )]),
                "countUnit: not allowed with countType \"imageCountMoreThan\"",
            ),
            (
                policy(&[&rule(
                    1,
                    r#"{"tagStatus":"untagged","countType":"sinceImagePushed","countNumber":1}"#,
                    expire,
                )]),
                "requires countUnit \"days\"",
            ),
            (
                policy(&[&rule(
                    1,
                    r#"{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"weeks","countNumber":1}"#,
                    expire,
                )]),
                "instance value (\"weeks\") not found in enum (possible values: [\"days\"])",
            ),
            (
                policy(&[&rule(
                    1,
                    r#"{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":"3"}"#,
                    expire,
                )]),
                "countNumber: instance type (string) does not match any allowed primitive type (allowed: [\"integer\"])",
            ),
            (
                policy(&[&rule(
                    1,
                    r#"{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1.5}"#,
                    expire,
                )]),
                "countNumber: instance type (number)",
            ),
            (
                policy(&[&rule(
                    1,
                    r#"{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":0}"#,
                    expire,
                )]),
                "countNumber: numeric instance is lower than the required minimum (minimum: 1, found: 0)",
            ),
            (
                policy(&[&rule(1, r#"{"tagStatus":"untagged","countType":"everything","countNumber":1}"#, expire)]),
                "countType: instance value (\"everything\")",
            ),
            (
                policy(&[&rule(1, r#"{"tagStatus":"untagged","countNumber":1}"#, expire)]),
                "missing required properties ([\"countType\"])",
            ),
            (
                policy(&[&rule(1, &untagged, r#"{"type":"delete"}"#)]),
                "action.type: instance value (\"delete\") not found in enum (possible values: [\"expire\",\"transition\"])",
            ),
            (policy(&[&rule(1, &untagged, r#"{"type":"transition"}"#)]), "requires targetStorageClass \"archive\""),
            (
                policy(&[&rule(1, &untagged, r#"{"type":"expire","targetStorageClass":"archive"}"#)]),
                "targetStorageClass: only allowed with action type \"transition\"",
            ),
            (
                policy(&[&rule(
                    1,
                    r#"{"tagStatus":"untagged","countType":"sinceImagePulled","countUnit":"days","countNumber":30}"#,
                    expire,
                )]),
                "\"sinceImagePulled\" is only allowed with action type \"transition\"",
            ),
            (
                policy(&[&rule(
                    1,
                    r#"{"tagStatus":"untagged","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90}"#,
                    r#"{"type":"transition","targetStorageClass":"archive"}"#,
                )]),
                "\"sinceImageTransitioned\" is only allowed with action type \"expire\"",
            ),
            (
                policy(&[&rule(
                    1,
                    r#"{"tagStatus":"untagged","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90}"#,
                    expire,
                )]),
                "requires storageClass \"archive\"",
            ),
            (
                policy(&[&rule(
                    1,
                    r#"{"tagStatus":"untagged","storageClass":"archive","countType":"imageCountMoreThan","countNumber":9}"#,
                    expire,
                )]),
                "storageClass \"archive\" is only allowed with countType \"sinceImageTransitioned\"",
            ),
            (
                policy(&[&rule(1, &untagged, r#"{"kind":"expire"}"#)]),
                "action: object has missing required properties ([\"type\"])",
            ),
        ];
        for (text, want) in &cases {
            let e = Policy::parse(text).map(|_| ()).unwrap_err().to_string();
            assert!(e.contains(want), "policy {text}\nerror: {e}\nwanted: {want}");
        }
        let many: Vec<String> = (1..=51)
            .map(|p| rule(p, &format!(r#"{{"tagStatus":"tagged","tagPrefixList":["r{p}"],{count}}}"#), expire))
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(Policy::parse(&policy(&many)).unwrap_err().to_string().contains("at most 50 are allowed"));
        assert!(Policy::parse(&policy(&many[..50])).is_ok());
    }

    #[test]
    fn valid_policies_of_every_kind_parse() {
        let ok = [
            policy(&[KEEP_5_LATEST, KEEP_2_UNTAGGED]),
            policy(&[&rule(
                1,
                r#"{"tagStatus":"tagged","tagPatternList":["*test*1*2*3"],"countType":"sinceImagePushed","countUnit":"days","countNumber":14}"#,
                r#"{"type":"expire"}"#,
            )]),
            policy(&[
                &rule(
                    1,
                    r#"{"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"sinceImagePulled","countUnit":"days","countNumber":30}"#,
                    r#"{"type":"transition","targetStorageClass":"archive"}"#,
                ),
                &rule(
                    2,
                    r#"{"tagStatus":"untagged","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90}"#,
                    r#"{"type":"expire"}"#,
                ),
                &rule(
                    3,
                    r#"{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1}"#,
                    r#"{"type":"expire"}"#,
                ),
                &rule(
                    10,
                    r#"{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":100}"#,
                    r#"{"type":"expire"}"#,
                ),
            ]),
        ];
        for text in &ok {
            let p = Policy::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(Policy::parse(&p.normalised()).unwrap(), p);
        }
    }

    #[test]
    fn wildcards_match_any_run_of_characters() {
        for (pattern, text, want) in [
            ("latest*", "latest-release-1.0.0", true),
            ("*release*", "latest-release-1.0.0", true),
            ("*1.0.0", "latest-release-1.0.0", true),
            ("release", "latest-release-1.0.0", false),
            ("*", "", true),
            ("a*b*c", "abc", true),
            ("a*b*c", "acb", false),
            ("ab*ba", "aba", false),
            ("prod", "prod", true),
        ] {
            assert_eq!(wildcard_match(pattern, text), want, "{pattern} vs {text}");
        }
    }

    #[test]
    fn prefix_and_pattern_lists_require_every_entry_to_match_some_tag() {
        let p = Policy::parse(&policy(&[&rule(
            1,
            r#"{"tagStatus":"tagged","tagPrefixList":["alpha","beta"],"countType":"imageCountMoreThan","countNumber":1}"#,
            r#"{"type":"expire"}"#,
        )]))
        .unwrap();
        let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(p.rules[0].matches_tags(&tags(&["alpha-1", "beta-1"])));
        assert!(!p.rules[0].matches_tags(&tags(&["alpha-1"])));
        assert!(!p.rules[0].matches_tags(&[]));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn parsing_never_panics(text in "\\PC{0,300}") {
            let _ = Policy::parse(&text);
        }

        #[test]
        fn parsing_mutated_valid_policies_never_panics(cut in 0usize..400, insert in "[\\[\\]{}\",:0-9a-z*]{0,4}") {
            let mut text = policy(&[KEEP_5_LATEST, KEEP_2_UNTAGGED]);
            let cut = cut.min(text.len());
            text.insert_str(cut, &insert);
            let _ = Policy::parse(&text);
        }

        #[test]
        fn wildcard_matching_never_panics(pattern in "[a*é]{0,8}", text in "[a*é]{0,8}") {
            let _ = wildcard_match(&pattern, &text);
        }
    }
}
