//! Previous-tag selection: which image, and which of its tags, is "the release before" in a repository.
//!
//! The workflow rollout replaces looked the previous tag up with
//! `aws ecr describe-images --query 'sort_by(imageDetails,& imagePushedAt)[-2].imageTags[0]'`. That query has
//! pitfalls: with text output the CLI runs it once per page (one line per 100 images), it prints `None` when the
//! second-newest image is untagged or the repository holds fewer than two images, `imageTags[0]` may be a
//! floating tag such as `latest`, images pushed in the same instant are ordered only by the response, and
//! "second-newest push" is not "previous release" (a hotfix of an old line pushed last, or a re-tag, which keeps
//! the original push time). The strategies here answer the question on purpose instead:
//!
//! - [`PreviousStrategy::Pushed`]: the seed's meaning made deterministic.
//! - [`PreviousStrategy::Before`]: the newest image pushed before the one carrying a given tag (rollback).
//! - [`PreviousStrategy::Semver`]: by semantic version extracted from tags.
//! - [`PreviousStrategy::CliCompatible`]: exactly the aws CLI's json-mode answer, for migration.
//!
//! Everything is a pure function over [`ImageRecord`]s, in one linear pass where possible. Listing the images
//! and the `deployed` strategy (which needs the cluster's history) live elsewhere.

use std::cmp::Ordering;

use jiff::Timestamp;
use regex::Regex;
use serde::{Deserialize, Serialize};

use super::{ImageRecord, StorageClass};
use crate::error::{Error, Result};

/// Tags that usually move from image to image, so they never name a release. They are never returned unless
/// [`PreviousQuery::include_floating`] is set; the list can be replaced with [`PreviousQuery::floating_tags`].
pub const DEFAULT_FLOATING_TAGS: &[&str] = &["latest", "stable", "edge", "nightly", "main", "master"];

/// The default version extractor of the `semver` strategy: a trailing `MAJOR.MINOR.PATCH` with an optional
/// `-prerelease` (image tags cannot carry `+build`), so `latest-release-1.2.0` and `v1.2.0-rc.1` both work.
pub const DEFAULT_SEMVER_PATTERN: &str = r"(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$";

/// How "previous" is decided.
///
/// In JSON the strategy is an object tagged by `name`: `{"name": "before", "tag": "1.2.0"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum PreviousStrategy {
    /// The second-newest qualifying image by push time. Ties in push time are broken by digest (the smaller
    /// digest counts as newer), untagged and archived images are skipped, and so are images without a tag that
    /// passes the query's prefix, pattern and floating-tag rules.
    Pushed,
    /// The newest qualifying image pushed before the image that carries `tag` (in the same order as `Pushed`):
    /// what a rollback from the current release needs. It is an error if no image carries `tag`.
    Before {
        /// The tag of the current release.
        tag: String,
    },
    /// The image with the highest semantic version below the highest version found, or below `before`.
    /// Versions compare by semver precedence (so `1.2.0-rc.1` < `1.2.0`); an image's version is the highest
    /// one among its eligible tags; equal versions are broken by push time, newest first.
    Semver {
        /// A regular expression with exactly one capture group that extracts the version from a tag.
        /// Defaults to [`DEFAULT_SEMVER_PATTERN`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pattern: Option<String>,
        /// Look for the highest version below this one instead of below the highest. A tag (the pattern is
        /// applied) or a bare version.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<String>,
    },
    /// Exactly what `aws ecr describe-images --query 'sort_by(imageDetails,& imagePushedAt)[-2].imageTags[0]'
    /// --output json` prints over all pages merged: a stable sort by push time that keeps the response order of
    /// ties, the second-last image, and its first tag as returned. The tag is `None` (the CLI's `null`) when the
    /// repository holds fewer than two images or that image is untagged, and it may be a floating tag such as
    /// `latest`. Archived images are left out, as the CLI's request (no image-status filter) does not return
    /// them. Use it to migrate scripts, then switch to another strategy.
    CliCompatible,
}

impl PreviousStrategy {
    /// The strategy's name as the CLI spells it: `pushed`, `before`, `semver`, `cli-compatible`.
    pub fn name(&self) -> &'static str {
        match self {
            PreviousStrategy::Pushed => "pushed",
            PreviousStrategy::Before { .. } => "before",
            PreviousStrategy::Semver { .. } => "semver",
            PreviousStrategy::CliCompatible => "cli-compatible",
        }
    }
}

fn default_floating_tags() -> Vec<String> {
    DEFAULT_FLOATING_TAGS.iter().map(|t| (*t).to_owned()).collect()
}

/// What to look for: a strategy plus the rules that decide which tags may be returned.
///
/// ```
/// use rollout_core::registry::{ImageRecord, PreviousQuery, previous_tag};
///
/// let at = |s: &str| s.parse().unwrap();
/// let images = vec![
///     ImageRecord::new("sha256:a1", ["latest-release-1.0.0"], at("2024-05-01T10:00:00Z")),
///     ImageRecord::new("sha256:b2", ["latest-release-1.1.0"], at("2024-05-08T10:00:00Z")),
///     ImageRecord::new("sha256:c3", ["latest", "latest-release-1.2.0"], at("2024-05-15T10:00:00Z")),
/// ];
/// let query = PreviousQuery::pushed().with_prefix("latest-release-");
/// let previous = previous_tag(&images, &query)?;
/// assert_eq!(previous.tag.as_deref(), Some("latest-release-1.1.0"));
/// # Ok::<(), rollout_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousQuery {
    /// How "previous" is decided.
    pub strategy: PreviousStrategy,
    /// Only tags starting with this prefix are eligible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_prefix: Option<String>,
    /// Only tags matching this regular expression (unanchored: write `^…$` for a whole-tag match) are eligible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_pattern: Option<String>,
    /// Allow floating tags to be returned, when an image has no other eligible tag.
    #[serde(default)]
    pub include_floating: bool,
    /// The tags treated as floating; defaults to [`DEFAULT_FLOATING_TAGS`].
    #[serde(default = "default_floating_tags")]
    pub floating_tags: Vec<String>,
}

impl PreviousQuery {
    /// A query with the given strategy and the default tag rules.
    pub fn new(strategy: PreviousStrategy) -> Self {
        PreviousQuery {
            strategy,
            tag_prefix: None,
            tag_pattern: None,
            include_floating: false,
            floating_tags: default_floating_tags(),
        }
    }

    /// [`PreviousStrategy::Pushed`].
    pub fn pushed() -> Self {
        Self::new(PreviousStrategy::Pushed)
    }

    /// [`PreviousStrategy::Before`] the image carrying `tag`.
    pub fn before(tag: impl Into<String>) -> Self {
        Self::new(PreviousStrategy::Before { tag: tag.into() })
    }

    /// [`PreviousStrategy::Semver`] with the default pattern, below the highest version.
    pub fn semver() -> Self {
        Self::new(PreviousStrategy::Semver { pattern: None, before: None })
    }

    /// [`PreviousStrategy::CliCompatible`].
    pub fn cli_compatible() -> Self {
        Self::new(PreviousStrategy::CliCompatible)
    }

    /// Only tags starting with `prefix` are eligible.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.tag_prefix = Some(prefix.into());
        self
    }

    /// Only tags matching the regular expression `pattern` are eligible.
    pub fn with_pattern(mut self, pattern: impl Into<String>) -> Self {
        self.tag_pattern = Some(pattern.into());
        self
    }

    /// Floating tags may be returned when an image has nothing else.
    pub fn including_floating(mut self) -> Self {
        self.include_floating = true;
        self
    }

    /// Replace the list of floating tags.
    pub fn with_floating_tags(mut self, tags: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.floating_tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// A short description for error messages, e.g. `by push time among tags starting with "release-"`.
    fn describe(&self) -> String {
        let mut text = match &self.strategy {
            PreviousStrategy::Pushed => "by push time".to_owned(),
            PreviousStrategy::Before { tag } => format!("pushed before the image tagged {tag:?}"),
            PreviousStrategy::Semver { pattern, before } => {
                let mut text = "by semantic version".to_owned();
                if let Some(pattern) = pattern {
                    text.push_str(&format!(" extracted by {pattern:?}"));
                }
                if let Some(before) = before {
                    text.push_str(&format!(" below {before:?}"));
                }
                text
            }
            PreviousStrategy::CliCompatible => "as the aws CLI query prints it".to_owned(),
        };
        if let Some(prefix) = &self.tag_prefix {
            text.push_str(&format!(" among tags starting with {prefix:?}"));
        }
        if let Some(pattern) = &self.tag_pattern {
            text.push_str(&format!(" among tags matching {pattern:?}"));
        }
        text
    }
}

/// Why an image was not a candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SkipReason {
    /// The image has no tag.
    Untagged,
    /// The image is archived and cannot be pulled without a restore.
    Archived,
    /// No tag passes the query's prefix or pattern.
    NoMatchingTag,
    /// Every eligible tag is floating (such as `latest`) and floating tags were not asked for.
    OnlyFloatingTags,
    /// The version pattern extracts nothing from any eligible tag.
    NoVersion,
    /// The version pattern extracted text that is not a semantic version.
    InvalidVersion {
        /// The tag the text came from.
        tag: String,
        /// The extracted text.
        text: String,
    },
}

/// An image that was not a candidate, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedImage {
    /// The image's digest.
    pub digest: String,
    /// Why it was skipped.
    #[serde(flatten)]
    pub reason: SkipReason,
}

/// The answer of [`previous_tag`].
///
/// For every strategy but `cli-compatible`, `tag`, `digest` and `pushed_at` are always set. The `cli-compatible`
/// strategy copies the aws CLI, which prints `null`: `tag` is `None` when the chosen image is untagged, and all
/// three are `None` when the repository holds fewer than two images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreviousTag {
    /// The strategy that produced the answer.
    pub strategy: PreviousStrategy,
    /// The chosen tag.
    pub tag: Option<String>,
    /// The chosen image's digest; deploy by digest to be immune to tags moving later.
    pub digest: Option<String>,
    /// The chosen image's push time.
    pub pushed_at: Option<Timestamp>,
    /// Every tag of the chosen image, as returned by the registry.
    pub image_tags: Vec<String>,
    /// The semantic version of the chosen image (`semver` strategy only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// How many images were candidates (qualifying images; for `cli-compatible`, every non-archived image).
    pub considered: usize,
    /// The images that were not candidates, and why; `considered + skipped.len()` is the number of images.
    pub skipped: Vec<SkippedImage>,
}

/// Choose the previous image and tag among `images` (one repository's images, all pages merged, in the order
/// the registry returned them) as `query` asks.
///
/// Errors: [`Error::NoPreviousImage`] when no image qualifies, [`Error::TagNotFound`] when `before` names a tag
/// no image carries, [`Error::InvalidPattern`] for a bad regular expression, and [`Error::InvalidInput`] for a
/// `before` version that cannot be read or a tag filter given to `cli-compatible`.
pub fn previous_tag(images: &[ImageRecord], query: &PreviousQuery) -> Result<PreviousTag> {
    match &query.strategy {
        PreviousStrategy::CliCompatible => cli_compatible(images, query),
        PreviousStrategy::Pushed => {
            let filter = TagFilter::compile(query)?;
            let (candidates, skipped) = filter.partition(images);
            let mut newest: Option<&Candidate> = None;
            let mut second: Option<&Candidate> = None;
            for candidate in &candidates {
                if newest.is_none_or(|n| is_newer(candidate.image, n.image)) {
                    second = newest;
                    newest = Some(candidate);
                } else if second.is_none_or(|s| is_newer(candidate.image, s.image)) {
                    second = Some(candidate);
                }
            }
            let Some(chosen) = second else {
                return Err(Error::NoPreviousImage {
                    query: query.describe(),
                    detail: format!("{} of {} images qualify, 2 are needed", candidates.len(), images.len()),
                });
            };
            Ok(answer(query, chosen.image, chosen.preferred_tag(), None, candidates.len(), skipped))
        }
        PreviousStrategy::Before { tag } => {
            let filter = TagFilter::compile(query)?;
            let anchor = images
                .iter()
                .filter(|image| image.tags.iter().any(|t| t == tag))
                .reduce(|a, b| if is_newer(b, a) { b } else { a })
                .ok_or_else(|| Error::TagNotFound { tag: tag.clone(), images: images.len() })?;
            let (candidates, skipped) = filter.partition(images);
            let chosen = candidates
                .iter()
                .filter(|c| c.image.digest != anchor.digest && is_newer(anchor, c.image))
                .reduce(|a, b| if is_newer(b.image, a.image) { b } else { a });
            let Some(chosen) = chosen else {
                return Err(Error::NoPreviousImage {
                    query: query.describe(),
                    detail: format!(
                        "no qualifying image was pushed before it ({} of {} images qualify)",
                        candidates.len(),
                        images.len()
                    ),
                });
            };
            Ok(answer(query, chosen.image, chosen.preferred_tag(), None, candidates.len(), skipped))
        }
        PreviousStrategy::Semver { pattern, before } => {
            let filter = TagFilter::compile(query)?;
            let extractor = compile_version_pattern(pattern.as_deref())?;
            let bound = before.as_deref().map(|b| parse_bound(&extractor, b)).transpose()?;
            let (candidates, mut skipped) = filter.partition(images);
            let mut versioned: Vec<(&Candidate, &str, semver::Version)> = Vec::with_capacity(candidates.len());
            for candidate in &candidates {
                match candidate.version(&extractor) {
                    Ok((tag, version)) => versioned.push((candidate, tag, version)),
                    Err(reason) => skipped.push(SkippedImage { digest: candidate.image.digest.clone(), reason }),
                }
            }
            let threshold = match bound {
                Some(bound) => Some(bound),
                None => versioned.iter().map(|(_, _, v)| v).max_by(|a, b| a.cmp_precedence(b)).cloned(),
            };
            let chosen = threshold.as_ref().and_then(|threshold| {
                versioned.iter().filter(|(_, _, v)| v.cmp_precedence(threshold) == Ordering::Less).reduce(
                    |a, b| match b.2.cmp_precedence(&a.2) {
                        Ordering::Greater => b,
                        Ordering::Less => a,
                        Ordering::Equal if is_newer(b.0.image, a.0.image) => b,
                        Ordering::Equal => a,
                    },
                )
            });
            let Some((candidate, tag, version)) = chosen else {
                let below = match &threshold {
                    Some(v) => format!("no version below {v}"),
                    None => "no version".to_owned(),
                };
                return Err(Error::NoPreviousImage {
                    query: query.describe(),
                    detail: format!("{below} among {} versioned of {} images", versioned.len(), images.len()),
                });
            };
            Ok(answer(query, candidate.image, tag, Some(version.to_string()), versioned.len(), skipped))
        }
    }
}

fn answer(
    query: &PreviousQuery,
    image: &ImageRecord,
    tag: &str,
    version: Option<String>,
    considered: usize,
    mut skipped: Vec<SkippedImage>,
) -> PreviousTag {
    // Report skipped images in a stable order whatever the response order was.
    skipped.sort_by(|a, b| a.digest.cmp(&b.digest));
    PreviousTag {
        strategy: query.strategy.clone(),
        tag: Some(tag.to_owned()),
        digest: Some(image.digest.clone()),
        pushed_at: Some(image.pushed_at),
        image_tags: image.tags.clone(),
        version,
        considered,
        skipped,
    }
}

/// The order of every strategy but `cli-compatible`: newer push first, and for equal push times the smaller
/// digest first, so the answer never depends on the order of the registry's response.
fn is_newer(a: &ImageRecord, b: &ImageRecord) -> bool {
    match a.pushed_at.cmp(&b.pushed_at) {
        Ordering::Greater => true,
        Ordering::Less => false,
        Ordering::Equal => a.digest < b.digest,
    }
}

fn cli_compatible(images: &[ImageRecord], query: &PreviousQuery) -> Result<PreviousTag> {
    for (field, value) in [("tag_prefix", &query.tag_prefix), ("tag_pattern", &query.tag_pattern)] {
        if let Some(value) = value {
            return Err(Error::InvalidInput {
                field: field.to_owned(),
                value: value.clone(),
                reason: "the cli-compatible strategy reproduces the aws CLI query exactly and takes no tag filter; \
                         use the pushed strategy to filter tags"
                    .to_owned(),
            });
        }
    }
    let mut skipped = Vec::new();
    let mut listed: Vec<&ImageRecord> = Vec::with_capacity(images.len());
    for image in images {
        if image.storage_class() == StorageClass::Archive {
            skipped.push(SkippedImage { digest: image.digest.clone(), reason: SkipReason::Archived });
        } else {
            listed.push(image);
        }
    }
    // JMESPath's sort_by is stable: equal push times keep the response order.
    listed.sort_by_key(|image| image.pushed_at);
    let chosen = listed.len().checked_sub(2).map(|i| listed[i]);
    Ok(PreviousTag {
        strategy: query.strategy.clone(),
        tag: chosen.and_then(|image| image.tags.first().cloned()),
        digest: chosen.map(|image| image.digest.clone()),
        pushed_at: chosen.map(|image| image.pushed_at),
        image_tags: chosen.map(|image| image.tags.clone()).unwrap_or_default(),
        version: None,
        considered: listed.len(),
        skipped,
    })
}

/// The compiled tag rules of a query.
struct TagFilter<'q> {
    prefix: Option<&'q str>,
    pattern: Option<Regex>,
    floating: &'q [String],
    include_floating: bool,
}

/// A qualifying image. Its eligible tags are the ones passing the prefix and pattern that are not floating, or,
/// when it has none of those and floating tags were asked for, its floating ones; there is at least one.
struct Candidate<'a, 'q> {
    image: &'a ImageRecord,
    filter: &'q TagFilter<'q>,
    floating_only: bool,
}

impl<'a> Candidate<'a, '_> {
    fn tags(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.image
            .tags
            .iter()
            .map(String::as_str)
            .filter(|t| self.filter.matches(t) && self.filter.is_floating(t) == self.floating_only)
    }

    /// Among several eligible tags, the most specific: the longest, then the first in byte order. `v1.2.3` beats
    /// `v1.2` and `v1`; the registry's undocumented tag order never matters.
    fn preferred_tag(&self) -> &'a str {
        self.tags().reduce(|a, b| if prefer_tag(b, a) { b } else { a }).unwrap_or_default()
    }

    /// The highest version among the eligible tags, with the tag it came from.
    fn version(&self, extractor: &Regex) -> Result<(&'a str, semver::Version), SkipReason> {
        let mut best: Option<(&'a str, semver::Version)> = None;
        let mut invalid: Option<SkipReason> = None;
        for tag in self.tags() {
            let Some(text) = extractor.captures(tag).and_then(|c| c.get(1)) else { continue };
            match semver::Version::parse(text.as_str()) {
                Ok(version) => {
                    let better = match &best {
                        None => true,
                        Some((best_tag, best_version)) => match version.cmp_precedence(best_version) {
                            Ordering::Greater => true,
                            Ordering::Less => false,
                            Ordering::Equal => prefer_tag(tag, best_tag),
                        },
                    };
                    if better {
                        best = Some((tag, version));
                    }
                }
                Err(_) => {
                    invalid.get_or_insert(SkipReason::InvalidVersion {
                        tag: tag.to_owned(),
                        text: text.as_str().to_owned(),
                    });
                }
            }
        }
        best.ok_or_else(|| invalid.unwrap_or(SkipReason::NoVersion))
    }
}

fn prefer_tag(a: &str, b: &str) -> bool {
    a.len() > b.len() || (a.len() == b.len() && a < b)
}

impl<'q> TagFilter<'q> {
    fn compile(query: &'q PreviousQuery) -> Result<Self> {
        let pattern = query.tag_pattern.as_deref().map(|p| compile_regex("tag_pattern", p)).transpose()?;
        Ok(TagFilter {
            prefix: query.tag_prefix.as_deref(),
            pattern,
            floating: &query.floating_tags,
            include_floating: query.include_floating,
        })
    }

    fn matches(&self, tag: &str) -> bool {
        self.prefix.is_none_or(|p| tag.starts_with(p)) && self.pattern.as_ref().is_none_or(|p| p.is_match(tag))
    }

    fn is_floating(&self, tag: &str) -> bool {
        self.floating.iter().any(|f| f == tag)
    }

    fn classify<'a>(&'q self, image: &'a ImageRecord) -> Result<Candidate<'a, 'q>, SkipReason> {
        if image.storage_class() == StorageClass::Archive {
            return Err(SkipReason::Archived);
        }
        if image.is_untagged() {
            return Err(SkipReason::Untagged);
        }
        let (mut fixed, mut floating) = (false, false);
        for tag in image.tags.iter().filter(|t| self.matches(t)) {
            if self.is_floating(tag) {
                floating = true;
            } else {
                fixed = true;
                break;
            }
        }
        match (fixed, floating) {
            (true, _) => Ok(Candidate { image, filter: self, floating_only: false }),
            (false, true) if self.include_floating => Ok(Candidate { image, filter: self, floating_only: true }),
            (false, true) => Err(SkipReason::OnlyFloatingTags),
            (false, false) => Err(SkipReason::NoMatchingTag),
        }
    }

    fn partition<'a>(&'q self, images: &'a [ImageRecord]) -> (Vec<Candidate<'a, 'q>>, Vec<SkippedImage>) {
        let mut candidates = Vec::with_capacity(images.len());
        let mut skipped = Vec::new();
        for image in images {
            match self.classify(image) {
                Ok(candidate) => candidates.push(candidate),
                Err(reason) => skipped.push(SkippedImage { digest: image.digest.clone(), reason }),
            }
        }
        (candidates, skipped)
    }
}

fn compile_regex(field: &str, pattern: &str) -> Result<Regex> {
    Regex::new(pattern).map_err(|source| Error::InvalidPattern {
        field: field.to_owned(),
        pattern: pattern.to_owned(),
        reason: "not a valid regular expression".to_owned(),
        source: Some(source),
    })
}

fn compile_version_pattern(pattern: Option<&str>) -> Result<Regex> {
    let text = pattern.unwrap_or(DEFAULT_SEMVER_PATTERN);
    let regex = compile_regex("pattern", text)?;
    // captures_len counts the implicit whole-match group 0.
    if regex.captures_len() != 2 {
        return Err(Error::InvalidPattern {
            field: "pattern".to_owned(),
            pattern: text.to_owned(),
            reason: format!(
                "needs exactly one capture group around the version, found {}; use (?:…) for other groups",
                regex.captures_len() - 1
            ),
            source: None,
        });
    }
    Ok(regex)
}

/// `before` may be a tag (the version pattern is applied) or a bare version.
fn parse_bound(extractor: &Regex, before: &str) -> Result<semver::Version> {
    let extracted = extractor.captures(before).and_then(|c| c.get(1)).map(|m| m.as_str());
    extracted
        .and_then(|text| semver::Version::parse(text).ok())
        .or_else(|| semver::Version::parse(before).ok())
        .ok_or_else(|| Error::InvalidInput {
            field: "before".to_owned(),
            value: before.to_owned(),
            reason: "expected a semantic version such as 1.2.0, or a tag the version pattern extracts one from"
                .to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + second).unwrap()
    }

    fn img(digest: &str, tags: &[&str], second: i64) -> ImageRecord {
        ImageRecord::new(digest, tags.iter().copied(), at(second))
    }

    fn tag_of(images: &[ImageRecord], query: &PreviousQuery) -> Option<String> {
        previous_tag(images, query).unwrap().tag
    }

    /// A clean release history: 1.0.0, 1.1.0, then 1.2.0 also tagged latest.
    fn clean() -> Vec<ImageRecord> {
        vec![img("sha256:a", &["1.0.0"], 1), img("sha256:b", &["1.1.0"], 2), img("sha256:c", &["latest", "1.2.0"], 3)]
    }

    #[test]
    fn every_strategy_agrees_on_a_clean_history() {
        let images = clean();
        for query in [
            PreviousQuery::pushed(),
            PreviousQuery::before("1.2.0"),
            PreviousQuery::before("latest"),
            PreviousQuery::semver(),
            PreviousQuery::cli_compatible(),
        ] {
            assert_eq!(tag_of(&images, &query).as_deref(), Some("1.1.0"), "{}", query.strategy.name());
        }
    }

    #[test]
    fn previous_tag_reports_what_it_considered_and_skipped() {
        let mut images = clean();
        images.push(img("sha256:d", &[], 4));
        images.push(img("sha256:e", &["latest-dev"], 0));
        let answer = previous_tag(&images, &PreviousQuery::pushed().with_pattern(r"^\d")).unwrap();
        assert_eq!(answer.tag.as_deref(), Some("1.1.0"));
        assert_eq!(answer.digest.as_deref(), Some("sha256:b"));
        assert_eq!(answer.pushed_at, Some(at(2)));
        assert_eq!(answer.considered, 3);
        assert_eq!(
            answer.skipped,
            vec![
                SkippedImage { digest: "sha256:d".into(), reason: SkipReason::Untagged },
                SkippedImage { digest: "sha256:e".into(), reason: SkipReason::NoMatchingTag },
            ]
        );
    }

    #[test]
    fn previous_tag_serializes_with_the_strategy_name() {
        let answer = previous_tag(&clean(), &PreviousQuery::before("1.2.0")).unwrap();
        let json = serde_json::to_value(&answer).unwrap();
        assert_eq!(json["strategy"], serde_json::json!({"name": "before", "tag": "1.2.0"}));
        assert_eq!(json["tag"], "1.1.0");
        assert_eq!(json["considered"], 3);
    }

    #[test]
    fn queries_round_trip_through_json_with_default_floating_tags() {
        let query: PreviousQuery =
            serde_json::from_str(r#"{"strategy":{"name":"semver","before":"1.2.0"},"tag_prefix":"r-"}"#).unwrap();
        assert_eq!(
            query,
            PreviousQuery::new(PreviousStrategy::Semver { pattern: None, before: Some("1.2.0".into()) })
                .with_prefix("r-")
        );
        let back: PreviousQuery = serde_json::from_value(serde_json::to_value(&query).unwrap()).unwrap();
        assert_eq!(back, query);
    }

    // ---- the pushed strategy ----

    #[test]
    fn previous_tag_skips_untagged_images() {
        let images = vec![img("sha256:a", &["1.0.0"], 1), img("sha256:b", &[], 2), img("sha256:c", &["1.1.0"], 3)];
        assert_eq!(tag_of(&images, &PreviousQuery::pushed()).as_deref(), Some("1.0.0"));
    }

    #[test]
    fn pushed_chooses_tags_by_prefix_pattern_and_floating_rules() {
        let images = vec![
            img("sha256:a", &["latest-release-1.0.0", "sha-aaa"], 1),
            img("sha256:b", &["latest-release-1.1.0", "sha-bbb"], 2),
            img("sha256:c", &["nightly"], 3),
            img("sha256:d", &["latest", "latest-release-1.2.0", "sha-ddd"], 4),
        ];
        let cases: &[(PreviousQuery, &str)] = &[
            // The most specific eligible tag, never the floating one.
            (PreviousQuery::pushed(), "latest-release-1.1.0"),
            (PreviousQuery::pushed().with_prefix("sha-"), "sha-bbb"),
            (PreviousQuery::pushed().with_pattern("^sha-"), "sha-bbb"),
            (PreviousQuery::pushed().with_prefix("latest-release-"), "latest-release-1.1.0"),
            // Asked for: the floating-only image counts, and becomes "previous".
            (PreviousQuery::pushed().including_floating(), "nightly"),
            // Replacing the list of floating tags makes nightly an ordinary tag.
            (PreviousQuery::pushed().with_floating_tags(["latest"]), "nightly"),
        ];
        for (query, expected) in cases {
            assert_eq!(tag_of(&images, query).as_deref(), Some(*expected), "{query:?}");
        }
    }

    #[test]
    fn pushed_breaks_push_time_ties_by_digest_not_response_order() {
        let images = vec![img("sha256:c", &["c"], 5), img("sha256:a", &["a"], 5), img("sha256:b", &["b"], 5)];
        let mut reversed = images.clone();
        reversed.reverse();
        // Newest first is a, b, c: the smaller digest counts as newer.
        assert_eq!(tag_of(&images, &PreviousQuery::pushed()).as_deref(), Some("b"));
        assert_eq!(tag_of(&reversed, &PreviousQuery::pushed()).as_deref(), Some("b"));
    }

    #[test]
    fn pushed_with_one_qualifying_image_names_the_query_in_its_error() {
        let images = vec![img("sha256:a", &["latest"], 1), img("sha256:b", &["release-1"], 2)];
        let err = previous_tag(&images, &PreviousQuery::pushed().with_prefix("release-")).unwrap_err();
        assert!(matches!(err, Error::NoPreviousImage { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "no previous image by push time among tags starting with \"release-\": \
             1 of 2 images qualify, 2 are needed"
        );
    }

    #[test]
    fn previous_tag_rejects_a_bad_tag_pattern_naming_it() {
        let err = previous_tag(&clean(), &PreviousQuery::pushed().with_pattern("(unclosed")).unwrap_err();
        assert!(matches!(&err, Error::InvalidPattern { field, .. } if field == "tag_pattern"), "{err:?}");
        assert!(err.to_string().contains("\"(unclosed\""), "{err}");
        assert!(std::error::Error::source(&err).is_some());
    }

    // ---- the before strategy ----

    #[test]
    fn before_finds_the_newest_qualifying_image_pushed_before_the_tagged_one() {
        let images = vec![
            img("sha256:a", &["1.0.0"], 1),
            img("sha256:b", &["1.1.0"], 2),
            img("sha256:u", &[], 3),
            img("sha256:c", &["1.2.0"], 4),
            img("sha256:d", &["1.3.0", "latest"], 5),
        ];
        let cases = [("1.3.0", "1.2.0"), ("latest", "1.2.0"), ("1.2.0", "1.1.0"), ("1.1.0", "1.0.0")];
        for (tag, expected) in cases {
            assert_eq!(tag_of(&images, &PreviousQuery::before(tag)).as_deref(), Some(expected), "before {tag}");
        }
        let err = previous_tag(&images, &PreviousQuery::before("1.0.0")).unwrap_err();
        assert!(matches!(err, Error::NoPreviousImage { .. }), "{err:?}");
    }

    #[test]
    fn before_an_unknown_tag_is_an_error_naming_it() {
        let err = previous_tag(&clean(), &PreviousQuery::before("9.9.9")).unwrap_err();
        assert!(matches!(&err, Error::TagNotFound { tag, images: 3 } if tag == "9.9.9"), "{err:?}");
        assert_eq!(err.to_string(), "no image carries tag \"9.9.9\" (3 images listed)");
    }

    // ---- the semver strategy ----

    #[test]
    fn semver_orders_by_precedence_not_push_time() {
        let images = vec![
            img("sha256:a", &["latest-release-1.0.0"], 1),
            img("sha256:b", &["latest-release-1.10.0"], 2),
            img("sha256:c", &["latest-release-1.9.0"], 3),
            img("sha256:d", &["latest-release-2.0.0-rc.1"], 4),
            img("sha256:e", &["latest-release-2.0.0"], 5),
            img("sha256:f", &["latest-release-1.9.1"], 6),
            img("sha256:g", &["sha-1234567"], 7),
        ];
        let semver_before = |before: &str| {
            PreviousQuery::new(PreviousStrategy::Semver { pattern: None, before: Some(before.to_owned()) })
        };
        let cases: &[(PreviousQuery, &str, &str)] = &[
            (PreviousQuery::semver(), "latest-release-2.0.0-rc.1", "2.0.0-rc.1"),
            (semver_before("2.0.0-rc.1"), "latest-release-1.10.0", "1.10.0"),
            (semver_before("latest-release-1.10.0"), "latest-release-1.9.1", "1.9.1"),
            (semver_before("v1.9.1"), "latest-release-1.9.0", "1.9.0"),
            (semver_before("99.0.0"), "latest-release-2.0.0", "2.0.0"),
        ];
        for (query, tag, version) in cases {
            let answer = previous_tag(&images, query).unwrap();
            assert_eq!(answer.tag.as_deref(), Some(*tag), "{query:?}");
            assert_eq!(answer.version.as_deref(), Some(*version), "{query:?}");
        }
        let answer = previous_tag(&images, &PreviousQuery::semver()).unwrap();
        assert_eq!(answer.considered, 6);
        assert_eq!(answer.skipped, vec![SkippedImage { digest: "sha256:g".into(), reason: SkipReason::NoVersion }]);
    }

    #[test]
    fn semver_uses_a_custom_pattern_and_reports_unparsable_versions() {
        let images = vec![
            img("sha256:a", &["app-1.0"], 1),
            img("sha256:b", &["app-01.2.0"], 2),
            img("sha256:c", &["app-1.2.0"], 3),
            img("sha256:d", &["app-1.3.0"], 4),
        ];
        let query = PreviousQuery::new(PreviousStrategy::Semver { pattern: Some(r"^app-(.+)$".into()), before: None });
        let answer = previous_tag(&images, &query).unwrap();
        assert_eq!(answer.tag.as_deref(), Some("app-1.2.0"));
        assert_eq!(answer.considered, 2);
        assert_eq!(
            answer.skipped,
            vec![
                SkippedImage {
                    digest: "sha256:a".into(),
                    reason: SkipReason::InvalidVersion { tag: "app-1.0".into(), text: "1.0".into() }
                },
                SkippedImage {
                    digest: "sha256:b".into(),
                    reason: SkipReason::InvalidVersion { tag: "app-01.2.0".into(), text: "01.2.0".into() }
                },
            ]
        );
    }

    #[test]
    fn semver_patterns_need_exactly_one_capture_group() {
        for (pattern, ok) in [(r"(\d+)\.(\d+)", false), (r"\d+\.\d+\.\d+", false), (r"v(?:ersion)?(\S+)", true)] {
            let query =
                PreviousQuery::new(PreviousStrategy::Semver { pattern: Some(pattern.to_owned()), before: None });
            let result = previous_tag(&clean(), &query);
            assert_eq!(!matches!(result, Err(Error::InvalidPattern { .. })), ok, "{pattern}: {result:?}");
        }
    }

    #[test]
    fn semver_rejects_an_unreadable_before_naming_it() {
        let query = PreviousQuery::new(PreviousStrategy::Semver { pattern: None, before: Some("yesterday".into()) });
        let err = previous_tag(&clean(), &query).unwrap_err();
        assert!(matches!(&err, Error::InvalidInput { field, value, .. } if field == "before" && value == "yesterday"));
    }

    #[test]
    fn semver_breaks_equal_versions_by_push_time() {
        let images =
            vec![img("sha256:a", &["1.0.0"], 1), img("sha256:b", &["v1.0.0"], 2), img("sha256:c", &["1.1.0"], 3)];
        assert_eq!(tag_of(&images, &PreviousQuery::semver()).as_deref(), Some("v1.0.0"));
    }

    // ---- the cli-compatible strategy ----

    #[test]
    fn cli_compatible_takes_no_tag_filter() {
        let err = previous_tag(&clean(), &PreviousQuery::cli_compatible().with_prefix("x")).unwrap_err();
        assert!(matches!(&err, Error::InvalidInput { field, .. } if field == "tag_prefix"), "{err:?}");
    }

    // ---- every pitfall of the seed's `sort_by(imageDetails,& imagePushedAt)[-2].imageTags[0]` ----

    /// Pitfall 1: with text output the CLI evaluates the query on each page of 100 images. The json answer over
    /// merged pages (what cli-compatible copies) is one value, and so is ours.
    #[test]
    fn pitfall_per_page_answers_do_not_happen_over_merged_pages() {
        let images: Vec<ImageRecord> =
            (0..2000).map(|i| img(&format!("sha256:{i:05}"), &[&format!("b{i}")], i)).collect();
        let per_page: Vec<Option<String>> =
            images.chunks(100).map(|page| tag_of(page, &PreviousQuery::cli_compatible())).collect();
        assert_eq!(per_page.len(), 20, "text mode prints one line per page");
        assert_eq!(per_page[0].as_deref(), Some("b98"));
        assert_eq!(tag_of(&images, &PreviousQuery::cli_compatible()).as_deref(), Some("b1998"));
        assert_eq!(tag_of(&images, &PreviousQuery::pushed()).as_deref(), Some("b1998"));
    }

    /// Pitfall 2: an untagged image at [-2] prints `None`.
    #[test]
    fn pitfall_untagged_second_newest_is_null_for_the_cli_and_skipped_by_us() {
        let images = vec![img("sha256:a", &["1.0.0"], 1), img("sha256:u", &[], 2), img("sha256:b", &["1.1.0"], 3)];
        let cli = previous_tag(&images, &PreviousQuery::cli_compatible()).unwrap();
        assert_eq!((cli.tag, cli.digest.as_deref()), (None, Some("sha256:u")));
        assert_eq!(tag_of(&images, &PreviousQuery::pushed()).as_deref(), Some("1.0.0"));
    }

    /// Pitfall 3: fewer than two images, or none, print `None` with exit code 0.
    #[test]
    fn pitfall_too_few_images_is_null_for_the_cli_and_an_error_for_us() {
        for images in [vec![], vec![img("sha256:a", &["1.0.0"], 1)]] {
            let cli = previous_tag(&images, &PreviousQuery::cli_compatible()).unwrap();
            assert!(serde_json::to_value(&cli).unwrap()["tag"].is_null(), "the CLI prints null");
            assert_eq!((cli.tag, cli.digest, cli.pushed_at), (None, None, None));
            for query in [PreviousQuery::pushed(), PreviousQuery::semver()] {
                let err = previous_tag(&images, &query).unwrap_err();
                assert!(matches!(err, Error::NoPreviousImage { .. }), "{err:?}");
            }
        }
    }

    /// Pitfall 4: `imageTags[0]` is whichever tag comes first, possibly `latest`.
    #[test]
    fn pitfall_first_tag_may_be_latest_for_the_cli_never_for_us() {
        let images = vec![img("sha256:a", &["latest", "2.0.0"], 1), img("sha256:b", &["2.1.0"], 2)];
        assert_eq!(tag_of(&images, &PreviousQuery::cli_compatible()).as_deref(), Some("latest"));
        assert_eq!(tag_of(&images, &PreviousQuery::pushed()).as_deref(), Some("2.0.0"));
        assert_eq!(tag_of(&images, &PreviousQuery::semver()).as_deref(), Some("2.0.0"));
    }

    /// Pitfall 5: ties in push time keep the response order, so the CLI's answer depends on it.
    #[test]
    fn pitfall_push_time_ties_follow_response_order_for_the_cli_only() {
        let forward = vec![img("sha256:a", &["1.0.0"], 1), img("sha256:b", &["b"], 2), img("sha256:c", &["c"], 2)];
        let backward = vec![forward[0].clone(), forward[2].clone(), forward[1].clone()];
        assert_eq!(tag_of(&forward, &PreviousQuery::cli_compatible()).as_deref(), Some("b"));
        assert_eq!(tag_of(&backward, &PreviousQuery::cli_compatible()).as_deref(), Some("c"));
        assert_eq!(tag_of(&forward, &PreviousQuery::pushed()), tag_of(&backward, &PreviousQuery::pushed()));
    }

    /// Pitfall 6: "previous" is the second most recently pushed manifest, not the previous release. A hotfix of
    /// an older line pushed last, and a re-tag (which keeps the original push time), both fool it.
    #[test]
    fn pitfall_second_newest_push_is_not_the_previous_release() {
        // 1.1.1 is a hotfix of the old line, pushed after 1.2.0.
        let images =
            vec![img("sha256:a", &["1.1.0"], 1), img("sha256:b", &["1.2.0"], 2), img("sha256:c", &["1.1.1"], 3)];
        assert_eq!(tag_of(&images, &PreviousQuery::cli_compatible()).as_deref(), Some("1.2.0"));
        assert_eq!(tag_of(&images, &PreviousQuery::semver()).as_deref(), Some("1.1.1"));
        assert_eq!(tag_of(&images, &PreviousQuery::before("1.2.0")).as_deref(), Some("1.1.0"));

        // Releasing an unchanged build re-tags the existing manifest: no new image, no new push time. The CLI
        // then answers with the image that is running now.
        let retagged = vec![
            img("sha256:a", &["1.0.0"], 1),
            img("sha256:b", &["1.1.0", "1.3.0"], 2),
            img("sha256:c", &["1.2.0"], 3),
        ];
        let cli = previous_tag(&retagged, &PreviousQuery::cli_compatible()).unwrap();
        assert_eq!((cli.tag.as_deref(), cli.digest.as_deref()), (Some("1.1.0"), Some("sha256:b")));
        let semver = previous_tag(&retagged, &PreviousQuery::semver()).unwrap();
        assert_eq!((semver.tag.as_deref(), semver.digest.as_deref()), (Some("1.2.0"), Some("sha256:c")));
    }

    /// Pitfall 7: archived images are not returned by the CLI's request; we skip them too, but say so.
    #[test]
    fn pitfall_archived_images_are_left_out_and_reported() {
        let mut images = clean();
        images[1].storage_class = Some(StorageClass::Archive);
        let cli = previous_tag(&images, &PreviousQuery::cli_compatible()).unwrap();
        assert_eq!(cli.tag.as_deref(), Some("1.0.0"));
        let ours = previous_tag(&images, &PreviousQuery::pushed()).unwrap();
        assert_eq!(ours.tag.as_deref(), Some("1.0.0"));
        assert_eq!(ours.skipped, vec![SkippedImage { digest: "sha256:b".into(), reason: SkipReason::Archived }]);
    }

    fn arb_image() -> impl Strategy<Value = ImageRecord> {
        let tag = prop_oneof![
            Just("latest".to_owned()),
            "[a-z]{0,3}-?[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,2}(-rc\\.[0-9])?",
            "[a-zA-Z0-9_.-]{1,8}",
        ];
        (0u32..40, proptest::collection::vec(tag, 0..3), 0i64..20, any::<bool>()).prop_map(
            |(digest, tags, second, archived)| {
                let mut image = ImageRecord::new(format!("sha256:{digest:04}"), tags, at(second));
                if archived && digest % 5 == 0 {
                    image.storage_class = Some(StorageClass::Archive);
                }
                image
            },
        )
    }

    fn arb_query() -> impl Strategy<Value = PreviousQuery> {
        let strategy = prop_oneof![
            Just(PreviousStrategy::Pushed),
            "\\PC{0,6}".prop_map(|tag| PreviousStrategy::Before { tag }),
            Just(PreviousStrategy::Before { tag: "latest".into() }),
            (proptest::option::of("\\PC{0,12}"), proptest::option::of("\\PC{0,8}"))
                .prop_map(|(pattern, before)| PreviousStrategy::Semver { pattern, before }),
            Just(PreviousStrategy::CliCompatible),
        ];
        (strategy, proptest::option::of("[a-z0-9.-]{0,3}"), proptest::option::of("\\PC{0,8}"), any::<bool>()).prop_map(
            |(strategy, prefix, pattern, floating)| {
                let mut query = PreviousQuery::new(strategy);
                query.tag_prefix = prefix;
                query.tag_pattern = pattern;
                query.include_floating = floating;
                query
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn previous_tag_never_panics_and_accounts_for_every_image(
            images in proptest::collection::vec(arb_image(), 0..12),
            query in arb_query(),
        ) {
            if let Ok(answer) = previous_tag(&images, &query) {
                prop_assert_eq!(answer.considered + answer.skipped.len(), images.len());
                if !matches!(query.strategy, PreviousStrategy::CliCompatible) {
                    prop_assert!(answer.tag.is_some());
                }
            }
        }

        #[test]
        fn previous_tag_ignores_response_order_except_when_cli_compatible(
            images in proptest::collection::vec(arb_image(), 0..12),
            query in arb_query(),
        ) {
            // Digests are unique in a repository.
            let mut seen = std::collections::HashSet::new();
            let images: Vec<ImageRecord> = images.into_iter().filter(|i| seen.insert(i.digest.clone())).collect();
            let mut reversed = images.clone();
            reversed.reverse();
            if !matches!(query.strategy, PreviousStrategy::CliCompatible) {
                let a = previous_tag(&images, &query).ok();
                let b = previous_tag(&reversed, &query).ok();
                prop_assert_eq!(a, b);
            }
        }
    }
}
