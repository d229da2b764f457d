//! Lifecycle evaluation: which images a policy expires (or archives), and by which rule.
//!
//! It follows the evaluation rules of the ECR User Guide ("Lifecycle policy evaluation rules"):
//! - every rule looks at the images of its storage class whose tags meet its tagging requirements
//!   and *counts* all of them, including images other rules expire;
//! - `imageCountMoreThan` keeps the `countNumber` most recently pushed of those and selects the
//!   rest; the time-based count types select those older than `countNumber` days (by push time,
//!   last pull time or else push time, or archive time);
//! - rules are applied lowest `rulePriority` first, each image is acted on by at most one rule, and a
//!   rule never acts on an image whose tags meet the tagging requirements of a rule with a lower
//!   priority number (which is what makes "keep" rules work);
//! - an image referenced by a manifest list in the repository is never acted on;
//! - within a rule, images are acted on oldest push first.
//!
//! Images pushed in the same millisecond are ordered by the order they were pushed. This module
//! is pure: it neither reads the clock nor changes the repository.

use jiff::{SignedDuration, Timestamp};

use super::policy::{ActionType, CountType, Policy, Rule, StorageClass};

/// What the evaluator needs to know about one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalImage {
    /// The image digest.
    pub digest: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// When it was pushed.
    pub pushed_at: Timestamp,
    /// Push order within the repository, breaking ties between equal push times (higher is newer).
    pub seq: u64,
    /// When it was last pulled.
    pub last_pulled_at: Option<Timestamp>,
    /// When it was archived, if it is.
    pub archived_at: Option<Timestamp>,
    /// Whether a manifest list in the repository refers to it.
    pub in_manifest_list: bool,
}

impl EvalImage {
    fn storage_class(&self) -> StorageClass {
        if self.archived_at.is_some() { StorageClass::Archive } else { StorageClass::Standard }
    }
}

/// One image a policy acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The index of the image in the evaluated slice.
    pub index: usize,
    /// The image digest.
    pub digest: String,
    /// What happens to it.
    pub action: ActionType,
    /// The rule that decided it.
    pub rule_priority: u32,
}

/// The images `policy` acts on at `now`, grouped by rule (lowest priority number first), oldest
/// push first within a rule.
pub fn evaluate(policy: &Policy, images: &[EvalImage], now: Timestamp) -> Vec<Verdict> {
    let mut rules: Vec<&Rule> = policy.rules.iter().collect();
    rules.sort_by_key(|r| r.priority);
    let matched: Vec<Vec<bool>> = rules
        .iter()
        .map(|r| images.iter().map(|i| i.storage_class() == r.selects_from() && r.matches_tags(&i.tags)).collect())
        .collect();
    let mut marked = vec![false; images.len()];
    let mut out = Vec::new();
    for (ri, rule) in rules.iter().enumerate() {
        let mut candidates: Vec<usize> = (0..images.len()).filter(|&i| matched[ri][i]).collect();
        // Newest first, for counting.
        candidates.sort_by(|&a, &b| (images[b].pushed_at, images[b].seq).cmp(&(images[a].pushed_at, images[a].seq)));
        let cutoff = || now.checked_sub(SignedDuration::from_hours(24 * i64::from(rule.count_number))).ok();
        let mut selected: Vec<usize> = match rule.count_type {
            CountType::ImageCountMoreThan => candidates.into_iter().skip(rule.count_number as usize).collect(),
            CountType::SinceImagePushed => match cutoff() {
                Some(c) => candidates.into_iter().filter(|&i| images[i].pushed_at < c).collect(),
                None => Vec::new(),
            },
            CountType::SinceImagePulled => match cutoff() {
                Some(c) => candidates
                    .into_iter()
                    .filter(|&i| images[i].last_pulled_at.unwrap_or(images[i].pushed_at) < c)
                    .collect(),
                None => Vec::new(),
            },
            CountType::SinceImageTransitioned => match cutoff() {
                Some(c) => candidates.into_iter().filter(|&i| images[i].archived_at.is_some_and(|a| a < c)).collect(),
                None => Vec::new(),
            },
        };
        selected.reverse(); // oldest first
        for i in selected {
            let protected = (0..ri).any(|earlier| matched[earlier][i]);
            if marked[i] || protected || images[i].in_manifest_list {
                continue;
            }
            marked[i] = true;
            out.push(Verdict {
                index: i,
                digest: images[i].digest.clone(),
                action: rule.action,
                rule_priority: rule.priority,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Timestamp {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    /// An image pushed `day` days after `t0`.
    fn img(name: &str, day: i64, tags: &[&str]) -> EvalImage {
        EvalImage {
            digest: format!("sha256:{name}"),
            tags: tags.iter().map(|s| s.to_string()).collect(),
            pushed_at: t0() + SignedDuration::from_hours(24 * day),
            seq: day as u64,
            last_pulled_at: None,
            archived_at: None,
            in_manifest_list: false,
        }
    }

    fn count_rule(priority: u32, selection: &str, n: u32) -> String {
        format!(
            r#"{{"rulePriority":{priority},"description":"rule {priority} of a test policy","selection":{{{selection},"countType":"imageCountMoreThan","countNumber":{n}}},"action":{{"type":"expire"}}}}"#
        )
    }

    fn policy(rules: &[String]) -> Policy {
        Policy::parse(&format!("{{\"rules\":[{}]}}", rules.join(","))).unwrap()
    }

    fn expired(p: &Policy, images: &[EvalImage], now: Timestamp) -> Vec<(String, u32)> {
        evaluate(p, images, now)
            .into_iter()
            .map(|v| (v.digest.trim_start_matches("sha256:").to_string(), v.rule_priority))
            .collect()
    }

    fn example_images() -> Vec<EvalImage> {
        vec![img("A", 1, &["beta-1", "prod-1"]), img("B", 2, &["beta-2", "prod-2"]), img("C", 3, &["beta-3"])]
    }

    #[test]
    fn aws_example_a_expires_only_the_oldest_image() {
        // prod at priority 1 protects B from the beta rule; A is expired by the prod rule first.
        let p = policy(&[
            count_rule(1, r#""tagStatus":"tagged","tagPrefixList":["prod"]"#, 1),
            count_rule(2, r#""tagStatus":"tagged","tagPrefixList":["beta"]"#, 1),
        ]);
        assert_eq!(expired(&p, &example_images(), t0()), [("A".to_string(), 1)]);
    }

    #[test]
    fn aws_example_b_with_priorities_swapped_expires_two_images() {
        let p = policy(&[
            count_rule(1, r#""tagStatus":"tagged","tagPrefixList":["beta"]"#, 1),
            count_rule(2, r#""tagStatus":"tagged","tagPrefixList":["prod"]"#, 1),
        ]);
        assert_eq!(expired(&p, &example_images(), t0()), [("A".to_string(), 1), ("B".to_string(), 1)]);
    }

    #[test]
    fn the_seed_policy_keeps_five_releases_and_two_untagged_images() {
        // A release history: every release gets latest-release-<v>; a rebuilt release moves its tag,
        // leaving the old build untagged; one image carries a non-release tag.
        let mut images = Vec::new();
        for v in 0..9 {
            images.push(img(&format!("r{v}"), v * 2, &[&format!("latest-release-1.{v}.0")]));
        }
        images.push(img("u1", 1, &[]));
        images.push(img("u2", 3, &[]));
        images.push(img("u3", 5, &[]));
        images.push(img("dev", 4, &["dev-abc"]));
        let p = policy(&[
            count_rule(1, r#""tagStatus":"tagged","tagPrefixList":["latest"]"#, 5),
            count_rule(2, r#""tagStatus":"untagged""#, 2),
        ]);
        let got = expired(&p, &images, t0() + SignedDuration::from_hours(24 * 30));
        let want: Vec<(String, u32)> =
            [("r0", 1), ("r1", 1), ("r2", 1), ("r3", 1), ("u1", 2)].iter().map(|(d, p)| (d.to_string(), *p)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_keep_forever_rule_protects_matching_images_from_later_rules() {
        let p = policy(&[
            count_rule(1, r#""tagStatus":"tagged","tagPrefixList":["prod"]"#, 9999),
            count_rule(2, r#""tagStatus":"any""#, 1),
        ]);
        let images = vec![img("p1", 1, &["prod-1"]), img("x", 2, &["x"]), img("p2", 3, &["prod-2"]), img("y", 4, &[])];
        // The any rule counts all four, keeps y, and may expire only x.
        assert_eq!(expired(&p, &images, t0()), [("x".to_string(), 2)]);
    }

    #[test]
    fn age_rules_select_images_older_than_the_count_in_days() {
        let p = Policy::parse(
            r#"{"rules":[{"rulePriority":1,"description":"expire old untagged","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}"#,
        )
        .unwrap();
        let images = vec![img("old", 0, &[]), img("edge", 6, &[]), img("new", 10, &[]), img("tagged", 0, &["v1"])];
        let now = t0() + SignedDuration::from_hours(24 * 20);
        assert_eq!(expired(&p, &images, now), [("old".to_string(), 1)]);
    }

    #[test]
    fn pull_age_falls_back_to_push_time_and_transitions_then_expire_archived_images() {
        let p = Policy::parse(
            r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":30},"action":{"type":"transition","targetStorageClass":"archive"}},{"rulePriority":2,"selection":{"tagStatus":"untagged","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90},"action":{"type":"expire"}}]}"#,
        );
        // `any` must be the highest priority: this policy is invalid as written.
        assert!(p.is_err());
        let p = Policy::parse(
            r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90},"action":{"type":"expire"}},{"rulePriority":2,"selection":{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":30},"action":{"type":"transition","targetStorageClass":"archive"}}]}"#,
        )
        .unwrap();
        let now = t0() + SignedDuration::from_hours(24 * 200);
        let mut pulled = img("pulled", 0, &["v1"]);
        pulled.last_pulled_at = Some(now - SignedDuration::from_hours(24));
        let stale = img("stale", 0, &["v2"]);
        let mut archived = img("archived", 0, &[]);
        archived.archived_at = Some(now - SignedDuration::from_hours(24 * 100));
        let mut fresh_archive = img("fresh", 0, &[]);
        fresh_archive.archived_at = Some(now - SignedDuration::from_hours(24 * 10));
        let v = evaluate(&p, &[pulled, stale, archived, fresh_archive], now);
        let got: Vec<(&str, ActionType)> = v.iter().map(|v| (v.digest.as_str(), v.action)).collect();
        assert_eq!(got, [("sha256:archived", ActionType::Expire), ("sha256:stale", ActionType::Transition)]);
    }

    #[test]
    fn images_in_a_manifest_list_are_counted_but_never_expired() {
        let p = policy(&[count_rule(1, r#""tagStatus":"untagged""#, 1)]);
        let mut child = img("child", 0, &[]);
        child.in_manifest_list = true;
        let images = vec![child, img("old", 1, &[]), img("new", 2, &[])];
        assert_eq!(expired(&p, &images, t0()), [("old".to_string(), 1)]);
    }

    #[test]
    fn equal_push_times_are_ordered_by_push_order() {
        let p = policy(&[count_rule(1, r#""tagStatus":"untagged""#, 1)]);
        let mut a = img("first", 1, &[]);
        let mut b = img("second", 1, &[]);
        a.seq = 1;
        b.seq = 2;
        assert_eq!(expired(&p, &[b, a], t0()), [("first".to_string(), 1)]);
    }
}
