//! The local evaluator: which images a lifecycle policy would expire or archive, by which rule, and why.
//!
//! It reproduces the evaluation rules of the ECR User Guide ("Lifecycle policy evaluation rules") and its
//! worked examples:
//!
//! 1. every rule *identifies* (counts) every image its selection matches: tag status, prefix or pattern list,
//!    and storage class, whether or not another rule acts on the image;
//! 2. rules are *applied* by ascending `rulePriority`, and an image is acted on by at most one rule;
//! 3. an image that matches the selection of a rule cannot be acted on by a rule applied later.
//!
//! Together these mean that an image's fate is decided by the *first* rule (lowest priority number) whose
//! selection matches it: if that rule selects it (beyond the kept count, or older than the age), the rule acts
//! on it; if not, the image is kept, and later rules that would have selected it are reported as blocked.
//! Counts still include images that earlier rules claimed, which is why AWS's Example A expires only image A.
//!
//! `imageCountMoreThan` ranks a rule's matched images newest push first; equal push times are ordered by
//! digest (ECR does not document its tie-break). `sinceImagePushed` selects images pushed more than N days
//! (of 24 hours) before `now`; `sinceImagePulled` uses the last recorded pull, or the push time of an image
//! never pulled; `sinceImageTransitioned` uses the archive time and never acts before the 90-day minimum
//! archive storage duration. ECR acts "within 24 hours", so a preview is what the next pass would do at `now`.
//! Not modelled: images referenced by a manifest list (ECR keeps them while the list exists), which
//! `DescribeImages` does not link to their list.
//!
//! The evaluation sorts the images once and makes one pass over them, testing each rule per image: linear in
//! images × rules after the sort.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::model::{ActionType, CountType, LifecyclePolicy, LifecycleRule, TagStatus};
use crate::registry::{ImageRecord, StorageClass};

/// ECR keeps an archived image at least this many days before a policy may expire it (the minimum storage
/// duration of the archive class).
pub const MIN_ARCHIVE_DAYS: u32 = 90;

const SECONDS_PER_DAY: i64 = 86_400;

/// What the policy would do to a repository's images at a given time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Preview {
    /// The time the policy was evaluated at.
    pub evaluated_at: Timestamp,
    /// Counts, overall and per rule.
    pub summary: PreviewSummary,
    /// One verdict per image, newest push first.
    pub images: Vec<ImageVerdict>,
}

/// The counts of a [`Preview`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreviewSummary {
    /// How many images were evaluated.
    pub images: usize,
    /// How many would be expired.
    pub expiring: usize,
    /// How many would be transitioned to another storage class.
    pub transitioning: usize,
    /// How many would be kept.
    pub kept: usize,
    /// Per rule, by ascending priority.
    pub rules: Vec<RuleSummary>,
}

/// What one rule would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleSummary {
    /// The rule's `rulePriority`.
    pub rule_priority: u32,
    /// Images its selection matches (it counts all of them).
    pub matched: usize,
    /// Images it would act on.
    pub acted_on: usize,
    /// Images it selects but cannot act on, because an earlier rule matched them first and keeps them.
    pub blocked: usize,
}

/// What happens to an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Nothing.
    Keep,
    /// Deleted.
    Expire,
    /// Moved to the archive storage class.
    Transition,
}

/// Which time an age is measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgeBasis {
    /// The push time.
    PushedAt,
    /// The last recorded pull.
    LastPulledAt,
    /// The time the image was archived.
    ArchivedAt,
}

/// Why an image gets its [`Outcome`], from the point of view of the rule that decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// No rule's selection matches the image.
    NoRuleMatches,
    /// Number `rank` (1 = newest) of the images the rule matches, beyond the `count_number` it keeps.
    CountExceeded {
        /// The image's rank among the rule's matched images, newest push first.
        rank: usize,
        /// How many the rule keeps.
        count_number: u32,
    },
    /// Number `rank` of the images the rule matches, within the `count_number` it keeps.
    WithinCount {
        /// The image's rank among the rule's matched images, newest push first.
        rank: usize,
        /// How many the rule keeps.
        count_number: u32,
    },
    /// Older than the rule's age.
    OlderThan {
        /// The time the age is measured from.
        basis: AgeBasis,
        /// The image's age in whole days.
        age_days: i64,
        /// The age limit applied, in days.
        days: u32,
    },
    /// Not older than the rule's age.
    NotOlderThan {
        /// The time the age is measured from.
        basis: AgeBasis,
        /// The image's age in whole days.
        age_days: i64,
        /// The age limit applied, in days.
        days: u32,
    },
    /// A `sinceImageTransitioned` rule matches an archived image whose archive time is unknown; it is kept.
    ArchiveTimeUnknown,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let since = |basis: &AgeBasis| match basis {
            AgeBasis::PushedAt => "pushed",
            AgeBasis::LastPulledAt => "last pulled",
            AgeBasis::ArchivedAt => "archived",
        };
        match self {
            Reason::NoRuleMatches => f.write_str("no rule matches it"),
            Reason::CountExceeded { rank, count_number } => {
                write!(f, "number {rank} by push time of the images the rule matches, which keeps {count_number}")
            }
            Reason::WithinCount { rank, count_number } => {
                write!(f, "number {rank} by push time of the images the rule matches, which keeps {count_number}")
            }
            Reason::OlderThan { basis, age_days, days } => {
                write!(f, "{} {age_days} days ago, more than {days}", since(basis))
            }
            Reason::NotOlderThan { basis, age_days, days } => {
                write!(f, "{} {age_days} days ago, not more than {days}", since(basis))
            }
            Reason::ArchiveTimeUnknown => f.write_str("archived at an unknown time"),
        }
    }
}

/// The verdict on one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageVerdict {
    /// The image's digest.
    pub digest: String,
    /// The image's tags.
    pub tags: Vec<String>,
    /// The image's push time.
    pub pushed_at: Timestamp,
    /// What happens to it.
    pub outcome: Outcome,
    /// The rule that decides: the one acting on it, or for a kept image the first rule matching it (which
    /// shields it from later rules); `None` when no rule matches.
    pub rule_priority: Option<u32>,
    /// Why, in the terms of that rule.
    pub reason: Reason,
    /// For a kept image: later rules that select it but cannot act on it, because the deciding rule matched it
    /// first and keeps it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocked_rules: Vec<u32>,
}

impl Preview {
    /// The verdicts of the images the policy would expire or transition.
    pub fn acted_on(&self) -> impl Iterator<Item = &ImageVerdict> {
        self.images.iter().filter(|v| v.outcome != Outcome::Keep)
    }
}

/// Evaluate `policy` over a repository's `images` at time `now`, as ECR's next lifecycle pass would.
///
/// The policy should be valid ([`LifecyclePolicy::validate`]); an invalid one is still evaluated, without
/// panicking: rules are applied by ascending priority, then by position, and a `tagged` rule without a tag list
/// matches every tagged image. The result does not depend on the order of `images` as long as digests are
/// unique, as they are in a repository.
pub fn preview(policy: &LifecyclePolicy, images: &[ImageRecord], now: Timestamp) -> Preview {
    let rules: Vec<CompiledRule<'_>> =
        policy.rules_by_priority().into_iter().map(|r| CompiledRule::new(r, now)).collect();
    let order = newest_first(images);
    let mut summaries: Vec<RuleSummary> =
        rules.iter().map(|r| RuleSummary { rule_priority: r.priority, matched: 0, acted_on: 0, blocked: 0 }).collect();
    let mut verdicts = Vec::with_capacity(order.len());
    let (mut expiring, mut transitioning) = (0, 0);
    for image in order.into_iter().map(|i| &images[i]) {
        let mut decided: Option<(usize, Decision)> = None;
        let mut blocked_rules = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            if !rule.matches(image) {
                continue;
            }
            let summary = &mut summaries[index];
            summary.matched += 1;
            let decision = rule.decide(image, summary.matched, now);
            if decided.is_none() {
                if decision.selected {
                    summary.acted_on += 1;
                }
                decided = Some((index, decision));
            } else if decision.selected && decided.as_ref().is_some_and(|(_, d)| !d.selected) {
                summary.blocked += 1;
                blocked_rules.push(rule.priority);
            }
        }
        let (outcome, rule_priority, reason) = match decided {
            None => (Outcome::Keep, None, Reason::NoRuleMatches),
            Some((index, decision)) => {
                let outcome = if decision.selected { rules[index].action } else { Outcome::Keep };
                (outcome, Some(rules[index].priority), decision.reason)
            }
        };
        match outcome {
            Outcome::Expire => expiring += 1,
            Outcome::Transition => transitioning += 1,
            Outcome::Keep => {}
        }
        verdicts.push(ImageVerdict {
            digest: image.digest.clone(),
            tags: image.tags.clone(),
            pushed_at: image.pushed_at,
            outcome,
            rule_priority,
            reason,
            blocked_rules,
        });
    }
    Preview {
        evaluated_at: now,
        summary: PreviewSummary {
            images: verdicts.len(),
            expiring,
            transitioning,
            kept: verdicts.len() - expiring - transitioning,
            rules: summaries,
        },
        images: verdicts,
    }
}

/// The indices of `images`, newest push first, equal push times by digest (then by index, for repeated
/// digests). The sort runs over compact keys, push time and the digest's first 16 bytes, so that it never reads
/// the records; only runs of keys that are equal are then ordered by their whole digests.
fn newest_first(images: &[ImageRecord]) -> Vec<usize> {
    let mut keys: Vec<(i128, u128, usize)> = images
        .iter()
        .enumerate()
        .map(|(i, image)| (-image.pushed_at.as_nanosecond(), digest_prefix(&image.digest), i))
        .collect();
    keys.sort_unstable();
    let mut start = 0;
    while start < keys.len() {
        let (at, prefix, _) = keys[start];
        let end = start + keys[start..].iter().take_while(|(a, p, _)| *a == at && *p == prefix).count();
        if end - start > 1 {
            keys[start..end]
                .sort_unstable_by(|(_, _, a), (_, _, b)| images[*a].digest.cmp(&images[*b].digest).then(a.cmp(b)));
        }
        start = end;
    }
    keys.into_iter().map(|(_, _, i)| i).collect()
}

/// The first 16 bytes of a digest, zero-padded, as a big-endian number: when two prefixes differ they order
/// like the strings do; when they are equal the strings must be compared.
fn digest_prefix(digest: &str) -> u128 {
    let mut bytes = [0u8; 16];
    let head = &digest.as_bytes()[..digest.len().min(16)];
    bytes[..head.len()].copy_from_slice(head);
    u128::from_be_bytes(bytes)
}

struct Decision {
    selected: bool,
    reason: Reason,
}

enum Criterion {
    /// Keep this many.
    Count(u32),
    /// Older than `cutoff` (`None`: the limit reaches before any representable time, so nothing is older).
    Age { basis: AgeBasis, days: u32, cutoff: Option<Timestamp> },
}

struct CompiledRule<'p> {
    priority: u32,
    storage_class: StorageClass,
    tag_status: TagStatus,
    prefixes: &'p [String],
    patterns: Vec<Wildcard<'p>>,
    criterion: Criterion,
    action: Outcome,
}

impl<'p> CompiledRule<'p> {
    fn new(rule: &'p LifecycleRule, now: Timestamp) -> Self {
        let selection = &rule.selection;
        let age = |basis: AgeBasis, days: u32| {
            let cutoff = now.checked_sub(SignedDuration::from_secs(i64::from(days) * SECONDS_PER_DAY)).ok();
            Criterion::Age { basis, days, cutoff }
        };
        let criterion = match selection.count_type {
            CountType::ImageCountMoreThan => Criterion::Count(selection.count_number),
            CountType::SinceImagePushed => age(AgeBasis::PushedAt, selection.count_number),
            CountType::SinceImagePulled => age(AgeBasis::LastPulledAt, selection.count_number),
            CountType::SinceImageTransitioned => {
                age(AgeBasis::ArchivedAt, selection.count_number.max(MIN_ARCHIVE_DAYS))
            }
        };
        CompiledRule {
            priority: rule.rule_priority,
            storage_class: selection.storage_class(),
            tag_status: selection.tag_status,
            prefixes: selection.tag_prefix_list.as_deref().unwrap_or_default(),
            patterns: selection.tag_pattern_list.iter().flatten().map(|p| Wildcard::new(p)).collect(),
            criterion,
            action: match rule.action.kind {
                ActionType::Expire => Outcome::Expire,
                ActionType::Transition => Outcome::Transition,
            },
        }
    }

    /// Whether the rule's selection (storage class and tags) matches the image. Every prefix must start one
    /// of the image's tags, and every pattern must match one of them whole (AND semantics, as in the User
    /// Guide's example with `["alpha", "beta"]`).
    fn matches(&self, image: &ImageRecord) -> bool {
        if image.storage_class() != self.storage_class {
            return false;
        }
        match self.tag_status {
            TagStatus::Any => true,
            TagStatus::Untagged => image.tags.is_empty(),
            TagStatus::Tagged => {
                !image.tags.is_empty()
                    && self.prefixes.iter().all(|p| image.tags.iter().any(|t| t.starts_with(p.as_str())))
                    && self.patterns.iter().all(|p| image.tags.iter().any(|t| p.matches(t)))
            }
        }
    }

    /// `rank` is the image's position (1 = newest) among the images this rule matches.
    fn decide(&self, image: &ImageRecord, rank: usize, now: Timestamp) -> Decision {
        match self.criterion {
            Criterion::Count(count_number) => {
                let selected = rank > count_number as usize;
                let reason = if selected {
                    Reason::CountExceeded { rank, count_number }
                } else {
                    Reason::WithinCount { rank, count_number }
                };
                Decision { selected, reason }
            }
            Criterion::Age { basis, days, cutoff } => {
                let since = match basis {
                    AgeBasis::PushedAt => Some(image.pushed_at),
                    // Never pulled: ECR measures from the push.
                    AgeBasis::LastPulledAt => Some(image.last_pulled_at.unwrap_or(image.pushed_at)),
                    AgeBasis::ArchivedAt => image.archived_at,
                };
                let Some(since) = since else {
                    return Decision { selected: false, reason: Reason::ArchiveTimeUnknown };
                };
                let basis = match (basis, image.last_pulled_at) {
                    (AgeBasis::LastPulledAt, None) => AgeBasis::PushedAt,
                    _ => basis,
                };
                let age_days = now.duration_since(since).as_secs().div_euclid(SECONDS_PER_DAY);
                let selected = cutoff.is_some_and(|cutoff| since < cutoff);
                let reason = if selected {
                    Reason::OlderThan { basis, age_days, days }
                } else {
                    Reason::NotOlderThan { basis, age_days, days }
                };
                Decision { selected, reason }
            }
        }
    }
}

/// A `tagPatternList` entry: `*` matches any run of characters (including none), everything else itself; the
/// whole tag must match.
struct Wildcard<'p> {
    parts: Vec<&'p str>,
}

impl<'p> Wildcard<'p> {
    fn new(pattern: &'p str) -> Self {
        Wildcard { parts: pattern.split('*').collect() }
    }

    fn matches(&self, text: &str) -> bool {
        let (first, rest) = match self.parts.split_first() {
            Some(split) => split,
            None => return text.is_empty(),
        };
        let Some(mut remaining) = text.strip_prefix(first) else { return false };
        let Some((last, middle)) = rest.split_last() else { return remaining.is_empty() };
        // Greedy left-to-right search of the middle parts is exact for `*`-only patterns.
        for part in middle {
            match remaining.find(part) {
                Some(at) => remaining = &remaining[at + part.len()..],
                None => return false,
            }
        }
        remaining.ends_with(last)
    }
}

#[cfg(test)]
pub(super) fn wildcard_matches(pattern: &str, text: &str) -> bool {
    Wildcard::new(pattern).matches(text)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::super::testing::{SEED_POLICY, days_ago, image, now};
    use super::*;

    fn policy(rules: serde_json::Value) -> LifecyclePolicy {
        LifecyclePolicy::parse(&json!({ "rules": rules }).to_string()).unwrap()
    }

    fn keep(priority: u32, prefixes: &[&str], count: u32) -> serde_json::Value {
        json!({"rulePriority": priority, "selection": {"tagStatus": "tagged", "tagPrefixList": prefixes,
            "countType": "imageCountMoreThan", "countNumber": count}, "action": {"type": "expire"}})
    }

    /// The digests the preview acts on, sorted.
    fn acted(preview: &Preview) -> Vec<&str> {
        let mut digests: Vec<&str> = preview.acted_on().map(|v| v.digest.as_str()).collect();
        digests.sort_unstable();
        digests
    }

    fn verdict<'a>(preview: &'a Preview, digest: &str) -> &'a ImageVerdict {
        preview.images.iter().find(|v| v.digest == digest).unwrap()
    }

    /// The repository of the User Guide's "Filtering on multiple rules" examples.
    fn multiple_rules_repository() -> Vec<ImageRecord> {
        vec![
            image("A", &["beta-1", "prod-1"], 10.0),
            image("B", &["beta-2", "prod-2"], 9.0),
            image("C", &["beta-3"], 8.0),
        ]
    }

    #[test]
    fn aws_example_a_expires_only_image_a() {
        let preview = preview(
            &policy(json!([keep(1, &["prod"], 1), keep(2, &["beta"], 1)])),
            &multiple_rules_repository(),
            now(),
        );
        assert_eq!(acted(&preview), ["A"]);
        let a = verdict(&preview, "A");
        assert_eq!((a.outcome, a.rule_priority), (Outcome::Expire, Some(1)));
        assert_eq!(a.reason, Reason::CountExceeded { rank: 2, count_number: 1 });
        // Rule 2 would mark B, but B matches rule 1, which keeps it.
        let b = verdict(&preview, "B");
        assert_eq!((b.outcome, b.rule_priority, b.blocked_rules.as_slice()), (Outcome::Keep, Some(1), &[2][..]));
        assert_eq!(b.reason, Reason::WithinCount { rank: 1, count_number: 1 });
        let c = verdict(&preview, "C");
        assert_eq!((c.outcome, c.rule_priority), (Outcome::Keep, Some(2)));
        assert_eq!(
            preview.summary.rules,
            [
                RuleSummary { rule_priority: 1, matched: 2, acted_on: 1, blocked: 0 },
                RuleSummary { rule_priority: 2, matched: 3, acted_on: 0, blocked: 1 },
            ]
        );
    }

    #[test]
    fn aws_example_b_expires_images_a_and_b() {
        let preview = preview(
            &policy(json!([keep(1, &["beta"], 1), keep(2, &["prod"], 1)])),
            &multiple_rules_repository(),
            now(),
        );
        assert_eq!(acted(&preview), ["A", "B"]);
        assert!(preview.acted_on().all(|v| v.rule_priority == Some(1)));
        assert_eq!((preview.summary.expiring, preview.summary.kept), (2, 1));
    }

    #[test]
    fn aws_multiple_prefixes_must_all_match_by_age() {
        let images = vec![
            image("A", &["alpha-1"], 12.0),
            image("B", &["beta-1"], 11.0),
            image("C", &["alpha-2", "beta-2"], 10.0),
            image("D", &["alpha-3"], 4.0),
            image("E", &["beta-3"], 3.0),
            image("F", &["alpha-4", "beta-4"], 2.0),
        ];
        let rules = json!([{"rulePriority": 1, "selection": {"tagStatus": "tagged", "tagPrefixList": ["alpha", "beta"],
            "countType": "sinceImagePushed", "countNumber": 5, "countUnit": "days"}, "action": {"type": "expire"}}]);
        let preview = preview(&policy(rules), &images, now());
        assert_eq!(acted(&preview), ["C"]);
        assert_eq!(
            verdict(&preview, "C").reason,
            Reason::OlderThan { basis: AgeBasis::PushedAt, age_days: 10, days: 5 }
        );
        assert_eq!(verdict(&preview, "A").reason, Reason::NoRuleMatches);
    }

    #[test]
    fn aws_tags_are_not_exclusive() {
        let images = vec![
            image("A", &["alpha-1", "beta-1", "gamma-1"], 10.0),
            image("B", &["alpha-2", "beta-2"], 9.0),
            image("C", &["alpha-3", "beta-3", "gamma-2"], 8.0),
        ];
        let preview = preview(&policy(json!([keep(1, &["alpha", "beta"], 1)])), &images, now());
        assert_eq!(acted(&preview), ["A", "B"]);
    }

    /// Twelve releases tagged `latest-release-1.<n>.0`, one every two days; five untagged images (builds whose
    /// tag moved on); and one hotfix tagged without the `latest` prefix.
    fn seed_history() -> Vec<ImageRecord> {
        let mut images: Vec<ImageRecord> = (0..12)
            .map(|n| {
                image(&format!("sha256:r{n:02}"), &[&format!("latest-release-1.{n}.0")], 24.0 - 2.0 * f64::from(n))
            })
            .collect();
        images.extend((0..5).map(|n| image(&format!("sha256:u{n}"), &[], 23.0 - 4.0 * f64::from(n))));
        images.push(image("sha256:hotfix", &["hotfix-1.3.1"], 30.0));
        images
    }

    #[test]
    fn seed_policy_keeps_five_releases_and_two_untagged_images() {
        let seed = LifecyclePolicy::parse(SEED_POLICY).unwrap();
        let preview = preview(&seed, &seed_history(), now());
        let kept: Vec<&str> =
            preview.images.iter().filter(|v| v.outcome == Outcome::Keep).map(|v| v.digest.as_str()).collect();
        // Newest first: releases 1.11 to 1.7, the two newest untagged images, and the hotfix no rule matches.
        assert_eq!(
            kept,
            [
                "sha256:r11",
                "sha256:r10",
                "sha256:r09",
                "sha256:u4",
                "sha256:r08",
                "sha256:r07",
                "sha256:u3",
                "sha256:hotfix"
            ]
        );
        assert_eq!((preview.summary.images, preview.summary.expiring, preview.summary.kept), (18, 10, 8));
        let oldest_release = verdict(&preview, "sha256:r00");
        assert_eq!((oldest_release.outcome, oldest_release.rule_priority), (Outcome::Expire, Some(1)));
        assert_eq!(oldest_release.reason, Reason::CountExceeded { rank: 12, count_number: 5 });
        assert_eq!(verdict(&preview, "sha256:u0").rule_priority, Some(2));
        assert_eq!(verdict(&preview, "sha256:hotfix").reason, Reason::NoRuleMatches);
        assert_eq!(
            oldest_release.reason.to_string(),
            "number 12 by push time of the images the rule matches, which keeps 5"
        );
    }

    #[test]
    fn preview_serializes_each_verdict_with_its_rule_and_reason() {
        let seed = LifecyclePolicy::parse(SEED_POLICY).unwrap();
        let json = serde_json::to_value(preview(&seed, &seed_history(), now())).unwrap();
        assert_eq!(json["summary"]["expiring"], 10);
        assert_eq!(
            json["images"][17],
            json!({"digest": "sha256:hotfix", "tags": ["hotfix-1.3.1"], "pushed_at": "2024-05-02T12:00:00Z",
                "outcome": "keep", "rule_priority": null, "reason": {"kind": "no_rule_matches"}})
        );
        assert_eq!(json["images"][16]["reason"], json!({"kind": "count_exceeded", "rank": 12, "count_number": 5}));
    }

    #[test]
    fn an_earlier_rule_shields_images_from_an_any_rule() {
        // The keep-forever pattern: rule 1 keeps up to 1000 prod images, rule 2 keeps 2 images of any kind.
        let images: Vec<ImageRecord> = (0..6)
            .map(|n| image(&format!("i{n}"), &[if n % 2 == 0 { "prod-x" } else { "dev-x" }], f64::from(10 - n)))
            .collect();
        let rules = json!([keep(1, &["prod"], 1000), {"rulePriority": 2, "selection": {"tagStatus": "any",
            "countType": "imageCountMoreThan", "countNumber": 2}, "action": {"type": "expire"}}]);
        let preview = preview(&policy(rules), &images, now());
        // Newest first: i5 (dev), i4 (prod), i3 (dev), i2 (prod), i1 (dev), i0 (prod). The any rule counts
        // every image: i5 and i4 are within its 2; the prod images are shielded by rule 1.
        assert_eq!(acted(&preview), ["i1", "i3"]);
        assert_eq!(verdict(&preview, "i0").blocked_rules, [2]);
    }

    #[test]
    fn age_rules_select_strictly_older_images() {
        let images = vec![
            image("old", &[], 14.0 + 1e-6),
            image("edge", &[], 14.0),
            image("young", &[], 13.9),
            image("future", &[], -1.0),
        ];
        let expire = LifecyclePolicy::builder().expire_untagged_older_than(14).build().unwrap();
        let preview = preview(&expire, &images, now());
        assert_eq!(acted(&preview), ["old"]);
        assert_eq!(
            verdict(&preview, "edge").reason,
            Reason::NotOlderThan { basis: AgeBasis::PushedAt, age_days: 14, days: 14 }
        );
        assert_eq!(
            verdict(&preview, "future").reason,
            Reason::NotOlderThan { basis: AgeBasis::PushedAt, age_days: -1, days: 14 }
        );
    }

    #[test]
    fn since_image_pulled_uses_the_last_pull_or_else_the_push() {
        let mut pulled_recently = image("pulled-recently", &["a"], 100.0);
        pulled_recently.last_pulled_at = Some(days_ago(3.0));
        let mut pulled_long_ago = image("pulled-long-ago", &["b"], 100.0);
        pulled_long_ago.last_pulled_at = Some(days_ago(40.0));
        let never_pulled = image("never-pulled", &[], 50.0);
        let fresh = image("fresh", &[], 1.0);
        let archive = LifecyclePolicy::builder().archive_not_pulled_for(30).build().unwrap();
        let preview = preview(&archive, &[pulled_recently, pulled_long_ago, never_pulled, fresh], now());
        assert_eq!(acted(&preview), ["never-pulled", "pulled-long-ago"]);
        assert_eq!(preview.summary.transitioning, 2);
        assert_eq!(verdict(&preview, "pulled-long-ago").outcome, Outcome::Transition);
        assert_eq!(
            verdict(&preview, "pulled-long-ago").reason,
            Reason::OlderThan { basis: AgeBasis::LastPulledAt, age_days: 40, days: 30 }
        );
        assert_eq!(
            verdict(&preview, "never-pulled").reason,
            Reason::OlderThan { basis: AgeBasis::PushedAt, age_days: 50, days: 30 }
        );
    }

    #[test]
    fn archived_images_are_seen_only_by_archive_rules_after_the_minimum_duration() {
        let archived = |digest: &str, archived_days: Option<f64>| {
            let mut image = image(digest, &["v1"], 400.0);
            image.storage_class = Some(StorageClass::Archive);
            image.archived_at = archived_days.map(days_ago);
            image
        };
        let images = vec![
            archived("archived-long-ago", Some(120.0)),
            archived("archived-60-days-ago", Some(60.0)),
            archived("archived-when-unknown", None),
            image("standard", &["v2"], 400.0),
        ];
        let rules = json!([
            keep(1, &["v"], 1),
            {"rulePriority": 2, "selection": {"tagStatus": "any", "storageClass": "archive",
                "countType": "sinceImageTransitioned", "countUnit": "days", "countNumber": 30}, "action": {"type": "expire"}},
        ]);
        let preview = preview(&policy(rules), &images, now());
        // Rule 1 looks at the standard class only: it keeps the one standard image. Rule 2 waits 90 days.
        assert_eq!(acted(&preview), ["archived-long-ago"]);
        assert_eq!(
            verdict(&preview, "archived-60-days-ago").reason,
            Reason::NotOlderThan { basis: AgeBasis::ArchivedAt, age_days: 60, days: MIN_ARCHIVE_DAYS }
        );
        assert_eq!(verdict(&preview, "archived-when-unknown").reason, Reason::ArchiveTimeUnknown);
        assert_eq!(verdict(&preview, "standard").reason, Reason::WithinCount { rank: 1, count_number: 1 });
    }

    #[test]
    fn tag_patterns_match_whole_tags_with_wildcards() {
        let cases = [
            ("prod*", "prod", true),
            ("prod*", "prod-1", true),
            ("prod*", "xprod", false),
            ("*prod", "my-prod", true),
            ("*prod", "prod-1", false),
            ("*test*1*2*3", "a-test-1-2-3", true),
            ("*test*1*2*3", "test123", true),
            ("*test*1*2*3", "test-3-2-1", false),
            ("v*.*.*", "v1.2.3", true),
            ("v*.*.*", "v1.2", false),
            ("a*a", "a", false),
            ("a*a", "aa", true),
            ("exact", "exact", true),
            ("exact", "exact-1", false),
            ("*", "", true),
            ("", "", true),
            ("", "x", false),
        ];
        for (pattern, tag, expected) in cases {
            assert_eq!(wildcard_matches(pattern, tag), expected, "{pattern} ~ {tag}");
        }
        let images =
            vec![image("a", &["v1.2.3", "latest"], 3.0), image("b", &["v1.2.4"], 2.0), image("c", &["v1.3"], 1.0)];
        let rules = json!([{"rulePriority": 1, "selection": {"tagStatus": "tagged", "tagPatternList": ["v*.*.*"],
            "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}}]);
        assert_eq!(acted(&preview(&policy(rules), &images, now())), ["a"]);
    }

    #[test]
    fn push_time_ties_are_ranked_by_digest() {
        let images = vec![image("b", &[], 1.0), image("a", &[], 1.0), image("c", &[], 1.0)];
        let keep_two = LifecyclePolicy::builder().keep_most_recent_untagged(2).build().unwrap();
        assert_eq!(acted(&preview(&keep_two, &images, now())), ["c"]);
        // Digests equal in their first 16 bytes are still ordered by the whole digest.
        let long = |end: &str| format!("sha256:0123456789abcdef{end}");
        let images = vec![
            image(&long("2"), &[], 1.0),
            image(&long("1"), &[], 1.0),
            image(&long(""), &[], 1.0),
            image("sha256:0", &[], 0.5),
        ];
        let order: Vec<String> = preview(&keep_two, &images, now()).images.into_iter().map(|v| v.digest).collect();
        assert_eq!(order, ["sha256:0".to_owned(), long(""), long("1"), long("2")]);
    }

    fn arb_policy() -> impl Strategy<Value = LifecyclePolicy> {
        let rule = (
            1u32..6,
            prop_oneof![Just(TagStatus::Tagged), Just(TagStatus::Untagged), Just(TagStatus::Any)],
            proptest::option::of(proptest::collection::vec(prop_oneof![Just("v"), Just("rel"), Just("")], 0..3)),
            proptest::option::of(proptest::collection::vec(prop_oneof![Just("v*"), Just("*1*"), Just("*")], 0..3)),
            prop_oneof![
                Just(CountType::ImageCountMoreThan),
                Just(CountType::SinceImagePushed),
                Just(CountType::SinceImagePulled),
                Just(CountType::SinceImageTransitioned),
            ],
            0u32..8,
            proptest::option::of(prop_oneof![Just(StorageClass::Standard), Just(StorageClass::Archive)]),
            prop_oneof![Just(ActionType::Expire), Just(ActionType::Transition)],
        )
            .prop_map(
                |(priority, tag_status, prefixes, patterns, count_type, count_number, storage_class, kind)| {
                    LifecycleRule {
                        rule_priority: priority,
                        description: None,
                        selection: super::super::RuleSelection {
                            tag_status,
                            tag_prefix_list: prefixes.map(|l| l.into_iter().map(str::to_owned).collect()),
                            tag_pattern_list: patterns.map(|l| l.into_iter().map(str::to_owned).collect()),
                            count_type,
                            count_unit: None,
                            count_number,
                            storage_class,
                        },
                        action: super::super::RuleAction { kind, target_storage_class: None },
                    }
                },
            );
        proptest::collection::vec(rule, 0..5).prop_map(|rules| LifecyclePolicy { rules })
    }

    fn arb_images() -> impl Strategy<Value = Vec<ImageRecord>> {
        let one = (
            proptest::collection::vec(prop_oneof![Just("v1"), Just("rel-1"), Just("latest"), Just("x1y")], 0..3),
            0u32..20,
            proptest::option::of(0u32..20),
            any::<bool>(),
            proptest::option::of(0u32..200),
        );
        proptest::collection::vec(one, 0..30).prop_map(|images| {
            images
                .into_iter()
                .enumerate()
                .map(|(n, (tags, pushed, pulled, archived, archived_at))| {
                    let mut record = image(&format!("sha256:{n:03}"), &tags, f64::from(pushed));
                    record.last_pulled_at = pulled.map(|d| days_ago(f64::from(d)));
                    if archived {
                        record.storage_class = Some(StorageClass::Archive);
                        record.archived_at = archived_at.map(|d| days_ago(f64::from(d)));
                    }
                    record
                })
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn preview_acts_on_each_image_at_most_once_and_ignores_input_order(
            policy in arb_policy(),
            images in arb_images(),
            seed in any::<u64>(),
        ) {
            let result = preview(&policy, &images, now());
            prop_assert_eq!(result.images.len(), images.len());
            let mut digests: Vec<&str> = result.images.iter().map(|v| v.digest.as_str()).collect();
            digests.sort_unstable();
            digests.dedup();
            prop_assert_eq!(digests.len(), images.len(), "every image has exactly one verdict");
            let acted = result.acted_on().count();
            prop_assert!(acted <= images.len());
            prop_assert_eq!(acted, result.summary.expiring + result.summary.transitioning);
            prop_assert_eq!(result.summary.rules.iter().map(|r| r.acted_on).sum::<usize>(), acted);
            for verdict in &result.images {
                if verdict.outcome != Outcome::Keep {
                    prop_assert!(verdict.rule_priority.is_some());
                }
            }

            // A deterministic shuffle of the input gives the same preview.
            let mut shuffled = images.clone();
            let mut state = seed | 1;
            for i in (1..shuffled.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                shuffled.swap(i, (state % (i as u64 + 1)) as usize);
            }
            prop_assert_eq!(preview(&policy, &shuffled, now()), result);
        }

        #[test]
        fn typed_policies_round_trip_through_their_canonical_text(policy in arb_policy()) {
            let back = LifecyclePolicy::from_json(&policy.to_json()).unwrap();
            prop_assert_eq!(&back, &policy);
            prop_assert_eq!(back.to_json(), policy.to_json());
            let derived: LifecyclePolicy = serde_json::from_str(&policy.to_json()).unwrap();
            prop_assert_eq!(derived, policy);
        }
    }
}
