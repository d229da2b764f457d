//! Tag derivation: from a project version and a template to a valid, immutable image tag.
//!
//! This module owns tag templates ([`TagTemplate`]), their rendering, the sanitisation that turns any
//! rendered text into a valid [`ImageTag`], and the guard against floating tags; [`derive_tag`] puts them
//! together over a version read by [`crate::version`]. It is pure apart from reading that version (and
//! git, when a template needs a commit or branch). It deliberately does not look at a registry: whether
//! the tag already exists on another image is the registry module's question.
//!
//! Sanitisation follows docker/metadata-action's rule (a run of characters outside `[A-Za-z0-9._-]`
//! becomes one `-`, so branch `feature/x` gives `feature-x`) and adds the two rules Docker enforces
//! that it leaves out: a tag starts with `[A-Za-z0-9_]` (leading `.` and `-` are removed) and has at
//! most 128 characters. A longer tag is cut and given a short hash of the whole tag, so two long branch
//! names that share their first 119 characters still give two tags.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};
use crate::image::{ImageTag, MAX_TAG_LEN, is_tag_char, is_tag_start};
use crate::version::{ProjectVersion, VersionParts, VersionSource, read_git, read_version};

/// Tags that name a moving target rather than a release, refused by [`derive_tag`] unless
/// [`DeriveOptions::allow_floating`] is set. Compared case-insensitively and exactly (`latest-release-1.0.0`
/// is fine, `Latest` is not). A release tag that moves is what made the original workflow delete and
/// recreate Deployments: Kubernetes sees no change in the pod template and rolls nothing out.
pub const FLOATING_TAGS: [&str; 8] = ["latest", "stable", "main", "master", "dev", "edge", "nightly", "head"];

/// Hex digits of the hash appended to a truncated tag.
const HASH_LEN: usize = 8;

/// A placeholder of a [`TagTemplate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placeholder {
    /// `{version}`: the project version exactly as read.
    Version,
    /// `{major}`: the first number of the version.
    Major,
    /// `{minor}`: the second number of the version.
    Minor,
    /// `{patch}`: the third number of the version.
    Patch,
    /// `{prerelease}`: the qualifier after the numbers (`SNAPSHOT`, `rc.1`); empty when there is none.
    Prerelease,
    /// `{build}`: the build metadata after `+`; empty when there is none.
    Build,
    /// `{sha}`: the full commit id of HEAD.
    Sha,
    /// `{short_sha}`: the first 7 characters of the commit id.
    ShortSha,
    /// `{branch}`: the checked-out branch, or the one given in [`DeriveOptions::branch`].
    Branch,
    /// `{date}`: today's date in UTC, `YYYYMMDD`.
    Date,
}

impl Placeholder {
    /// Every placeholder, in the order the documentation lists them.
    pub const ALL: [Placeholder; 10] = [
        Self::Version,
        Self::Major,
        Self::Minor,
        Self::Patch,
        Self::Prerelease,
        Self::Build,
        Self::Sha,
        Self::ShortSha,
        Self::Branch,
        Self::Date,
    ];

    /// The name written between braces.
    pub fn name(self) -> &'static str {
        match self {
            Self::Version => "version",
            Self::Major => "major",
            Self::Minor => "minor",
            Self::Patch => "patch",
            Self::Prerelease => "prerelease",
            Self::Build => "build",
            Self::Sha => "sha",
            Self::ShortSha => "short_sha",
            Self::Branch => "branch",
            Self::Date => "date",
        }
    }

    fn known() -> String {
        Self::ALL.map(|p| format!("{{{}}}", p.name())).join(", ")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Segment {
    Literal(String),
    Placeholder(Placeholder),
}

/// A parsed tag template: literal text and `{placeholder}`s, with `{{` and `}}` for literal braces.
///
/// Parsed once; an unknown placeholder is an error that lists the known ones. The default is `{version}`.
///
/// ```
/// use rollout_core::tag::TagTemplate;
/// let template: TagTemplate = "latest-release-{version}".parse().unwrap();
/// assert_eq!(template.to_string(), "latest-release-{version}");
/// assert!("release-{verison}".parse::<TagTemplate>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TagTemplate {
    text: String,
    segments: Vec<Segment>,
}

impl TagTemplate {
    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the template uses `placeholder`.
    pub fn uses(&self, placeholder: Placeholder) -> bool {
        self.segments.contains(&Segment::Placeholder(placeholder))
    }

    /// The placeholders the template uses, in order, repeats included.
    pub fn placeholders(&self) -> impl Iterator<Item = Placeholder> + '_ {
        self.segments.iter().filter_map(|s| match s {
            Segment::Placeholder(p) => Some(*p),
            Segment::Literal(_) => None,
        })
    }

    /// Fills the placeholders from `values`. The result is not yet a valid tag: see [`sanitise_tag`].
    pub fn render(&self, values: &TemplateValues<'_>) -> Result<String> {
        let parts = VersionParts::parse(values.version);
        let missing =
            |p: Placeholder, reason: String| Error::MissingTemplateValue { placeholder: p.name().into(), reason };
        let number = |p: Placeholder, part: &Option<String>, which: &str| {
            part.clone().ok_or_else(|| {
                missing(
                    p,
                    format!(
                        "version {:?} has no {which} number; use {{version}}, or a version with {which} part",
                        values.version
                    ),
                )
            })
        };
        let mut out = String::new();
        for segment in &self.segments {
            let p = match segment {
                Segment::Literal(text) => {
                    out.push_str(text);
                    continue;
                }
                Segment::Placeholder(p) => *p,
            };
            let value = match p {
                Placeholder::Version => values.version.to_owned(),
                Placeholder::Major => number(p, &parts.major, "major")?,
                Placeholder::Minor => number(p, &parts.minor, "minor")?,
                Placeholder::Patch => number(p, &parts.patch, "patch")?,
                Placeholder::Prerelease => parts.prerelease.clone().unwrap_or_default(),
                Placeholder::Build => parts.build.clone().unwrap_or_default(),
                Placeholder::Sha | Placeholder::ShortSha => {
                    let sha = values.sha.ok_or_else(|| missing(p, "no git commit is known".into()))?;
                    match p {
                        Placeholder::ShortSha => sha.chars().take(crate::version::SHORT_SHA_LEN).collect(),
                        _ => sha.to_owned(),
                    }
                }
                Placeholder::Branch => values.branch.map(str::to_owned).ok_or_else(|| {
                    missing(
                        p,
                        "HEAD is detached (as in most CI checkouts) and no branch was given; pass the branch".into(),
                    )
                })?,
                Placeholder::Date => values.now.to_zoned(jiff::tz::TimeZone::UTC).strftime("%Y%m%d").to_string(),
            };
            out.push_str(&value);
        }
        Ok(out)
    }
}

impl Default for TagTemplate {
    fn default() -> Self {
        TagTemplate { text: "{version}".into(), segments: vec![Segment::Placeholder(Placeholder::Version)] }
    }
}

impl FromStr for TagTemplate {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidTemplate { template: s.to_owned(), reason };
        if s.is_empty() {
            return Err(invalid("the template is empty; write literal text and placeholders such as {version}".into()));
        }
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut chars = s.chars().enumerate().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().is_some_and(|&(_, n)| n == '{') => {
                    chars.next();
                    literal.push('{');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some((_, '}')) => break,
                            Some((_, '{')) | None => {
                                return Err(invalid(format!(
                                    "the '{{' at position {} is never closed; write {{{{ for a literal '{{'",
                                    i + 1
                                )));
                            }
                            Some((_, c)) => name.push(c),
                        }
                    }
                    if name.is_empty() {
                        return Err(invalid(format!(
                            "empty placeholder {{}} at position {}; known placeholders are {}",
                            i + 1,
                            Placeholder::known()
                        )));
                    }
                    let Some(p) = Placeholder::ALL.into_iter().find(|p| p.name() == name) else {
                        return Err(Error::UnknownPlaceholder {
                            placeholder: name,
                            template: s.to_owned(),
                            known: Placeholder::known(),
                        });
                    };
                    if !literal.is_empty() {
                        segments.push(Segment::Literal(std::mem::take(&mut literal)));
                    }
                    segments.push(Segment::Placeholder(p));
                }
                '}' if chars.peek().is_some_and(|&(_, n)| n == '}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => {
                    return Err(invalid(format!(
                        "the '}}' at position {} closes nothing; write }}}} for a literal '}}'",
                        i + 1
                    )));
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            segments.push(Segment::Literal(literal));
        }
        Ok(TagTemplate { text: s.to_owned(), segments })
    }
}

impl fmt::Display for TagTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for TagTemplate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for TagTemplate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

/// What a template's placeholders are filled with.
#[derive(Debug, Clone, Copy)]
pub struct TemplateValues<'a> {
    /// The project version; `{major}` and the other parts are read from it leniently.
    pub version: &'a str,
    /// The full commit id, for `{sha}` and `{short_sha}`.
    pub sha: Option<&'a str>,
    /// The branch, for `{branch}`.
    pub branch: Option<&'a str>,
    /// The clock, for `{date}`.
    pub now: jiff::Timestamp,
}

/// The result of [`sanitise_tag`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sanitised {
    /// The valid tag.
    pub tag: ImageTag,
    /// Whether the tag differs from the input.
    pub changed: bool,
    /// Whether the input was cut to 128 characters (and given a hash suffix).
    pub truncated: bool,
}

/// Turns any text into a valid tag: a run of characters outside `[A-Za-z0-9._-]` becomes one `-` (merged
/// with a `-` next to it), leading `.` and `-` are removed, and a result longer than 128 characters is
/// cut to 119, with trailing `.`/`-` removed, then given `-` and the first 8 hex digits of the SHA-256 of
/// the whole (sanitised, uncut) text. A valid tag is returned unchanged. Fails only when nothing usable
/// is left (the input had no letter, digit or `_`).
///
/// ```
/// use rollout_core::tag::sanitise_tag;
/// assert_eq!(sanitise_tag("feature/x-1.0").unwrap().tag.as_str(), "feature-x-1.0");
/// assert_eq!(sanitise_tag("-.release").unwrap().tag.as_str(), "release");
/// ```
pub fn sanitise_tag(raw: &str) -> Result<Sanitised> {
    let mut replaced = String::with_capacity(raw.len());
    let mut after_replacement = false;
    for c in raw.chars() {
        if is_tag_char(c) {
            if !(c == '-' && after_replacement) {
                replaced.push(c);
            }
            after_replacement = false;
        } else {
            if !replaced.ends_with('-') {
                replaced.push('-');
            }
            after_replacement = true;
        }
    }
    let trimmed = replaced.trim_start_matches(|c: char| !is_tag_start(c));
    if trimmed.is_empty() {
        return Err(Error::InvalidTag {
            value: raw.to_owned(),
            reason: "nothing is left after sanitising: a tag needs at least one of A-Z a-z 0-9 _".into(),
        });
    }
    // Only ASCII is left, so byte lengths are character counts.
    let truncated = trimmed.len() > MAX_TAG_LEN;
    let tag = if truncated {
        let hash = Sha256::digest(trimmed.as_bytes());
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        let prefix = trimmed[..MAX_TAG_LEN - HASH_LEN - 1].trim_end_matches(['-', '.']);
        format!("{prefix}-{}", &hex[..HASH_LEN])
    } else {
        trimmed.to_owned()
    };
    let changed = tag != raw;
    let tag = tag.parse::<ImageTag>()?;
    Ok(Sanitised { tag, changed, truncated })
}

/// Whether `tag` is one of [`FLOATING_TAGS`], ignoring case.
pub fn is_floating(tag: &str) -> bool {
    FLOATING_TAGS.iter().any(|f| f.eq_ignore_ascii_case(tag))
}

/// Options of [`derive_tag`], built with `Default` and the chained setters.
///
/// ```no_run
/// use rollout_core::tag::{DeriveOptions, derive_tag};
/// let derived = derive_tag(
///     &DeriveOptions::new("services/account").template("latest-release-{version}".parse().unwrap()),
/// )
/// .unwrap();
/// println!("{}", derived.tag);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeriveOptions {
    /// The project directory, or a version file in it. Default: the current directory.
    pub path: PathBuf,
    /// The tag template. Default: `{version}`.
    pub template: TagTemplate,
    /// The version source; `None` auto-detects (see [`crate::version`]).
    pub source: Option<VersionSource>,
    /// Maven property values that win over the pom's, like `mvn -Dkey=value`.
    pub overrides: BTreeMap<String, String>,
    /// Refuse a rendered tag that is not valid as it is, instead of sanitising it.
    pub strict: bool,
    /// Allow the result to be one of [`FLOATING_TAGS`].
    pub allow_floating: bool,
    /// The clock for `{date}`; `None` reads the system clock.
    pub now: Option<jiff::Timestamp>,
    /// The branch for `{branch}`, winning over git's. Needed on a detached HEAD; the faces fill it from
    /// CI variables with [`crate::version::branch_from_ci_env`].
    pub branch: Option<String>,
}

impl Default for DeriveOptions {
    fn default() -> Self {
        DeriveOptions {
            path: PathBuf::from("."),
            template: TagTemplate::default(),
            source: None,
            overrides: BTreeMap::new(),
            strict: false,
            allow_floating: false,
            now: None,
            branch: None,
        }
    }
}

impl DeriveOptions {
    /// Options for the project at `path`, everything else default.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        DeriveOptions { path: path.into(), ..Self::default() }
    }

    /// Sets the template.
    pub fn template(mut self, template: TagTemplate) -> Self {
        self.template = template;
        self
    }

    /// Reads the version from `source` instead of auto-detecting.
    pub fn source(mut self, source: VersionSource) -> Self {
        self.source = Some(source);
        self
    }

    /// Sets a Maven property, winning over the pom and `.mvn/maven.config`.
    pub fn override_property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.overrides.insert(name.into(), value.into());
        self
    }

    /// Refuses invalid rendered tags instead of sanitising them.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// Allows a floating tag such as `latest` as the result.
    pub fn allow_floating(mut self, allow: bool) -> Self {
        self.allow_floating = allow;
        self
    }

    /// Fixes the clock for `{date}`.
    pub fn now(mut self, now: jiff::Timestamp) -> Self {
        self.now = Some(now);
        self
    }

    /// Sets the branch for `{branch}`.
    pub fn branch(mut self, branch: impl Into<String>) -> Self {
        self.branch = Some(branch.into());
        self
    }
}

/// A derived tag and how it was derived: what `rollout tag -o json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DerivedTag {
    /// The tag.
    pub tag: ImageTag,
    /// The version it was derived from, with its source and file.
    pub version: ProjectVersion,
    /// The template, as written.
    pub template: String,
    /// Whether the rendered template had to be sanitised.
    pub sanitised: bool,
    /// Things the caller should know: sanitisation, truncation, empty parts, a dirty work tree, a
    /// template without placeholders.
    pub warnings: Vec<String>,
}

/// Derives the image tag of the project at `opts.path`: reads its version, renders the template,
/// sanitises (or, in strict mode, validates) the result and refuses floating tags.
///
/// The seed workflow's tag is template `latest-release-{version}` over pom version `1.0.0`:
/// `latest-release-1.0.0`.
pub fn derive_tag(opts: &DeriveOptions) -> Result<DerivedTag> {
    let template = &opts.template;
    let mut version = read_version(&opts.path, opts.source, &opts.overrides)?;
    let mut warnings = Vec::new();

    let needs_sha = template.uses(Placeholder::Sha) || template.uses(Placeholder::ShortSha);
    let needs_git_branch = template.uses(Placeholder::Branch) && opts.branch.is_none();
    if (needs_sha || needs_git_branch) && version.git.is_none() {
        version.git = Some(read_git(&project_dir(&opts.path))?);
    }
    if let Some(git) = version.git.as_ref().filter(|git| needs_sha && git.dirty) {
        warnings.push(format!(
            "the work tree has uncommitted changes, so commit {} may not be what this image holds",
            git.short_sha
        ));
    }
    let parts = version.parts();
    for (p, part) in [(Placeholder::Prerelease, &parts.prerelease), (Placeholder::Build, &parts.build)] {
        if template.uses(p) && part.is_none() {
            warnings.push(format!("{{{}}} is empty: version {:?} has none", p.name(), version.version));
        }
    }
    if template.placeholders().next().is_none() {
        warnings.push(format!(
            "the template {:?} has no placeholder, so every release gets the same tag and the tag moves",
            template.as_str()
        ));
    }

    let values = TemplateValues {
        version: &version.version,
        sha: version.git.as_ref().map(|g| g.sha.as_str()),
        branch: opts.branch.as_deref().or_else(|| version.git.as_ref().and_then(|g| g.branch.as_deref())),
        now: match opts.now {
            Some(now) => now,
            None if template.uses(Placeholder::Date) => jiff::Timestamp::now(),
            None => jiff::Timestamp::UNIX_EPOCH,
        },
    };
    let rendered = template.render(&values)?;
    let (tag, sanitised) = if opts.strict {
        let tag = rendered.parse::<ImageTag>().map_err(|e| match e {
            Error::InvalidTag { value, reason } => {
                Error::InvalidTag { value, reason: format!("{reason} (strict mode does not sanitise)") }
            }
            other => other,
        })?;
        (tag, false)
    } else {
        let s = sanitise_tag(&rendered)?;
        if s.changed {
            warnings.push(format!("the rendered tag {rendered:?} was sanitised to {:?}", s.tag.as_str()));
        }
        if s.truncated {
            warnings.push(format!(
                "the tag was {} characters long: it was cut to {MAX_TAG_LEN}, ending in a hash of the whole tag",
                rendered.chars().count()
            ));
        }
        (s.tag, s.changed)
    };
    if !opts.allow_floating && is_floating(tag.as_str()) {
        return Err(Error::FloatingTag { tag: tag.into_string(), floating: FLOATING_TAGS.join(", ") });
    }
    Ok(DerivedTag { tag, version, template: template.to_string(), sanitised, warnings })
}

/// The directory git runs in for a project path that may name a file.
fn project_dir(path: &Path) -> PathBuf {
    if path.is_file() {
        match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        }
    } else {
        path.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::GitInfo;
    use proptest::prelude::*;

    fn values(version: &str) -> TemplateValues<'_> {
        TemplateValues {
            version,
            sha: Some("0123456789abcdef0123456789abcdef01234567"),
            branch: Some("feature/login"),
            now: "2026-03-09T23:30:00Z".parse().unwrap(),
        }
    }

    fn render(template: &str, version: &str) -> Result<String> {
        template.parse::<TagTemplate>()?.render(&values(version))
    }

    #[test]
    fn templates_render_every_placeholder() {
        let rows = [
            ("latest-release-{version}", "1.0.0", "latest-release-1.0.0"),
            ("{major}.{minor}", "2.3.4.RELEASE", "2.3"),
            ("v{major}-{minor}-{patch}-{prerelease}", "1.0.0-SNAPSHOT", "v1-0-0-SNAPSHOT"),
            ("{patch}+{build}", "1.2.3+exp.sha.5114f85", "3+exp.sha.5114f85"),
            ("{version}{prerelease}", "1.0.0", "1.0.0"),
            ("{sha}", "1", "0123456789abcdef0123456789abcdef01234567"),
            ("sha-{short_sha}", "1", "sha-0123456"),
            ("{branch}-{date}", "1", "feature/login-20260309"),
            ("{{literal}}-{version}", "1.0", "{literal}-1.0"),
            ("}}{{", "1", "}{"),
            ("plain", "1", "plain"),
        ];
        for (template, version, expected) in rows {
            assert_eq!(render(template, version).unwrap(), expected, "{template} over {version}");
        }
    }

    #[test]
    fn the_date_is_the_utc_day() {
        let template: TagTemplate = "{date}".parse().unwrap();
        let late = TemplateValues { now: "2026-03-09T23:30:00-05:00".parse().unwrap(), ..values("1") };
        assert_eq!(template.render(&late).unwrap(), "20260310");
    }

    #[test]
    fn missing_version_parts_are_errors_only_when_used() {
        assert_eq!(render("{major}.{minor}", "1.0").unwrap(), "1.0");
        let rows = [
            ("{patch}", "1.0", "patch", "no patch number"),
            ("{major}", "main", "major", "no major number"),
            ("{minor}", "7", "minor", "no minor number"),
        ];
        for (template, version, placeholder, reason) in rows {
            match render(template, version).unwrap_err() {
                Error::MissingTemplateValue { placeholder: p, reason: r } => {
                    assert_eq!(p, placeholder);
                    assert!(r.contains(reason) && r.contains(version), "{r}");
                }
                other => panic!("{template}: unexpected {other:?}"),
            }
        }
        let no_git = TemplateValues { sha: None, branch: None, ..values("1") };
        for (template, reason) in [("{short_sha}", "no git commit"), ("{branch}", "HEAD is detached")] {
            let err = template.parse::<TagTemplate>().unwrap().render(&no_git).unwrap_err().to_string();
            assert!(err.contains(reason), "{err}");
        }
    }

    #[test]
    fn template_errors_name_the_problem() {
        let rows = [
            ("", "the template is empty"),
            ("release-{verison}", "unknown placeholder {verison}"),
            ("{Version}", "unknown placeholder {Version}"),
            ("{ version }", "unknown placeholder { version }"),
            ("a{}", "empty placeholder {} at position 2"),
            ("v{version", "'{' at position 2 is never closed"),
            ("{ver{sion}}", "'{' at position 1 is never closed"),
            ("v}", "'}' at position 2 closes nothing"),
        ];
        for (template, expected) in rows {
            let err = template.parse::<TagTemplate>().unwrap_err().to_string();
            assert!(err.contains(expected), "{template:?}: {err}");
        }
        let unknown = "{tag}".parse::<TagTemplate>().unwrap_err().to_string();
        assert!(
            unknown.contains(
                "{version}, {major}, {minor}, {patch}, {prerelease}, {build}, {sha}, {short_sha}, {branch}, {date}"
            ),
            "{unknown}"
        );
    }

    #[test]
    fn templates_round_trip_and_report_their_placeholders() {
        let template: TagTemplate = "{{x}}-{branch}-{version}-{branch}".parse().unwrap();
        assert_eq!(template.to_string(), "{{x}}-{branch}-{version}-{branch}");
        let used: Vec<_> = template.placeholders().collect();
        assert_eq!(used, [Placeholder::Branch, Placeholder::Version, Placeholder::Branch]);
        assert!(template.uses(Placeholder::Version) && !template.uses(Placeholder::Sha));
        let json = serde_json::to_string(&template).unwrap();
        assert_eq!(serde_json::from_str::<TagTemplate>(&json).unwrap(), template);
        assert_eq!(TagTemplate::default().as_str(), "{version}");
    }

    #[test]
    fn sanitisation_makes_valid_tags() {
        let rows = [
            ("1.0.0", "1.0.0", false),
            ("feature/x", "feature-x", true),
            ("feature//x", "feature-x", true),
            ("a-/b", "a-b", true),
            ("a/-b", "a-b", true),
            ("a--b", "a--b", false),
            ("a--b/c", "a--b-c", true),
            ("fix #29: spaces", "fix-29-spaces", true),
            (".hidden", "hidden", true),
            ("-x", "x", true),
            ("/-.x", "x", true),
            ("_under", "_under", false),
            ("release/é", "release-", true),
            ("dependabot/npm_and_yarn/lodash-4.17.21", "dependabot-npm_and_yarn-lodash-4.17.21", true),
        ];
        for (raw, expected, changed) in rows {
            let s = sanitise_tag(raw).unwrap();
            assert_eq!(s.tag.as_str(), expected, "{raw:?}");
            assert_eq!(s.changed, changed, "{raw:?}");
            assert!(!s.truncated);
        }
        for raw in ["", "///", "-.-", "éé"] {
            let err = sanitise_tag(raw).unwrap_err().to_string();
            assert!(err.contains("nothing is left"), "{raw:?}: {err}");
        }
    }

    #[test]
    fn long_tags_are_cut_to_128_with_a_hash_that_keeps_them_distinct() {
        let base = format!("feature/{}", "very-long-branch-name-".repeat(8));
        let a = format!("{base}alpha-1.0.0");
        let b = format!("{base}bravo-1.0.0");
        let ta = sanitise_tag(&a).unwrap();
        let tb = sanitise_tag(&b).unwrap();
        for t in [&ta, &tb] {
            assert!(t.truncated && t.changed);
            assert!(t.tag.as_str().len() <= MAX_TAG_LEN, "{}", t.tag);
            assert!(!t.tag.as_str().contains("--"), "{}", t.tag);
        }
        assert_ne!(ta.tag, tb.tag);
        assert_eq!(ta.tag.as_str()[..100], tb.tag.as_str()[..100]);
        // Stable: the same input always gives the same tag, and the hash is of the sanitised text.
        assert_eq!(sanitise_tag(&a).unwrap(), ta);
        let hash = Sha256::digest(a.replace('/', "-").as_bytes());
        let hex: String = hash.iter().take(4).map(|b| format!("{b:02x}")).collect();
        assert!(ta.tag.as_str().ends_with(&format!("-{hex}")), "{}", ta.tag);
        // Exactly 128 stays as it is.
        let exact = "a".repeat(128);
        assert_eq!(sanitise_tag(&exact).unwrap().tag.as_str(), exact);
        assert_eq!(sanitise_tag(&"a".repeat(129)).unwrap().tag.as_str().len(), 128);
    }

    #[test]
    fn floating_tags_are_recognised_exactly_and_in_any_case() {
        for tag in ["latest", "LATEST", "Stable", "main", "master", "dev", "edge", "nightly", "HEAD"] {
            assert!(is_floating(tag), "{tag}");
        }
        for tag in ["latest-release-1.0.0", "latest1", "mainline", "develop", "1.0.0"] {
            assert!(!is_floating(tag), "{tag}");
        }
    }

    fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    const POM: &str = "<project><artifactId>a</artifactId><version>1.0.0</version></project>";

    #[test]
    fn the_seed_pom_gives_latest_release_1_0_0() {
        let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/seed");
        let opts = DeriveOptions::new(&seed).template("latest-release-{version}".parse().unwrap());
        let derived = derive_tag(&opts).unwrap();
        assert_eq!(derived.tag.as_str(), "latest-release-1.0.0");
        assert_eq!(derived.version.source, VersionSource::Pom);
        assert_eq!(derived.version.file, Some(seed.join("pom.xml")));
        assert_eq!(derived.template, "latest-release-{version}");
        assert!(!derived.sanitised);
        assert!(derived.warnings.is_empty(), "{:?}", derived.warnings);
    }

    #[test]
    fn derived_tags_serialize_with_snake_case_fields() {
        let dir = project(&[("VERSION", "2.0.0\n")]);
        let derived = derive_tag(&DeriveOptions::new(dir.path()).template("r-{version}".parse().unwrap())).unwrap();
        let json = serde_json::to_value(&derived).unwrap();
        assert_eq!(json["tag"], "r-2.0.0");
        assert_eq!(json["version"]["source"], "version-file");
        assert_eq!(json["version"]["version"], "2.0.0");
        assert_eq!(json["template"], "r-{version}");
        assert_eq!(json["sanitised"], false);
        assert_eq!(json["warnings"], serde_json::json!([]));
    }

    #[test]
    fn derivation_sanitises_and_warns_unless_strict() {
        let dir = project(&[("VERSION", "1.0.0\n")]);
        let opts = DeriveOptions::new(dir.path()).template("{branch}-{version}".parse().unwrap()).branch("feature/x");
        let derived = derive_tag(&opts).unwrap();
        assert_eq!(derived.tag.as_str(), "feature-x-1.0.0");
        assert!(derived.sanitised);
        assert!(
            derived.warnings.iter().any(|w| w.contains("sanitised to \"feature-x-1.0.0\"")),
            "{:?}",
            derived.warnings
        );

        match derive_tag(&opts.clone().strict(true)).unwrap_err() {
            Error::InvalidTag { value, reason } => {
                assert_eq!(value, "feature/x-1.0.0");
                assert!(reason.contains("'/' at position 8") && reason.contains("strict mode"), "{reason}");
            }
            other => panic!("unexpected {other:?}"),
        }
        let long = opts.clone().branch("b/".repeat(100));
        let derived = derive_tag(&long).unwrap();
        assert_eq!(derived.tag.as_str().len(), MAX_TAG_LEN);
        assert!(derived.warnings.iter().any(|w| w.contains("cut to 128")), "{:?}", derived.warnings);
        assert!(derive_tag(&long.strict(true)).unwrap_err().to_string().contains("limit is 128"));
    }

    #[test]
    fn floating_tags_are_refused_unless_allowed() {
        let dir = project(&[("VERSION", "1.0.0\n")]);
        for (template, branch) in [("latest", "x"), ("{branch}", "main"), ("{branch}", "Master")] {
            let opts = DeriveOptions::new(dir.path()).template(template.parse().unwrap()).branch(branch);
            match derive_tag(&opts).unwrap_err() {
                Error::FloatingTag { tag, floating } => {
                    assert!(is_floating(&tag));
                    assert!(floating.contains("latest, stable"), "{floating}");
                }
                other => panic!("{template}: unexpected {other:?}"),
            }
            assert!(is_floating(derive_tag(&opts.allow_floating(true)).unwrap().tag.as_str()));
        }
    }

    #[test]
    fn derivation_warns_about_constant_templates_and_empty_parts() {
        let dir = project(&[("VERSION", "1.0.0\n")]);
        let constant = derive_tag(&DeriveOptions::new(dir.path()).template("release".parse().unwrap())).unwrap();
        assert!(constant.warnings.iter().any(|w| w.contains("no placeholder")), "{:?}", constant.warnings);
        let empty =
            derive_tag(&DeriveOptions::new(dir.path()).template("{version}-{prerelease}".parse().unwrap())).unwrap();
        assert_eq!(empty.tag.as_str(), "1.0.0-");
        assert!(empty.warnings.iter().any(|w| w.contains("{prerelease} is empty")), "{:?}", empty.warnings);
    }

    #[test]
    fn derivation_uses_the_given_clock_source_and_overrides() {
        let dir = project(&[
            (
                "pom.xml",
                "<project><version>${revision}</version><properties><revision>1.0</revision></properties></project>",
            ),
            ("VERSION", "3.0.0\n"),
        ]);
        let now: jiff::Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
        let opts = DeriveOptions::new(dir.path()).template("{version}-{date}".parse().unwrap()).now(now);
        assert_eq!(derive_tag(&opts).unwrap().tag.as_str(), "1.0-20260102");
        let overridden = opts.clone().override_property("revision", "1.1");
        assert_eq!(derive_tag(&overridden).unwrap().tag.as_str(), "1.1-20260102");
        let chosen = opts.source(VersionSource::VersionFile);
        assert_eq!(derive_tag(&chosen).unwrap().tag.as_str(), "3.0.0-20260102");
    }

    #[test]
    fn derivation_reads_git_for_commit_and_branch_placeholders() {
        use crate::version::tests_support::{git, repo};
        let dir = repo();
        std::fs::write(dir.path().join("pom.xml"), POM).unwrap();
        git(dir.path(), &["add", "pom.xml"]);
        git(dir.path(), &["commit", "--quiet", "-m", "pom"]);
        git(dir.path(), &["checkout", "--quiet", "-b", "feature/login"]);
        let sha = git(dir.path(), &["rev-parse", "HEAD"]);

        let opts = DeriveOptions::new(dir.path()).template("{version}-{branch}-{short_sha}".parse().unwrap());
        let derived = derive_tag(&opts).unwrap();
        assert_eq!(derived.tag.as_str(), format!("1.0.0-feature-login-{}", &sha[..7]));
        assert_eq!(derived.version.source, VersionSource::Pom);
        let git_info: &GitInfo = derived.version.git.as_ref().unwrap();
        assert_eq!(git_info.sha, sha);

        // A file path works too: git runs in its directory.
        let by_file = DeriveOptions { path: dir.path().join("pom.xml"), ..opts.clone() };
        assert_eq!(derive_tag(&by_file).unwrap().tag, derived.tag);

        std::fs::write(dir.path().join("pom.xml"), POM.replace("1.0.0", "1.0.1")).unwrap();
        let dirty = derive_tag(&opts).unwrap();
        assert!(dirty.warnings.iter().any(|w| w.contains("uncommitted changes")), "{:?}", dirty.warnings);

        git(dir.path(), &["checkout", "--quiet", "--detach"]);
        let err = derive_tag(&opts).unwrap_err().to_string();
        assert!(err.contains("HEAD is detached"), "{err}");
        assert_eq!(
            derive_tag(&opts.branch("release/1")).unwrap().tag.as_str(),
            format!("1.0.1-release-1-{}", &sha[..7])
        );
    }

    #[test]
    fn templates_without_git_placeholders_do_not_need_git() {
        // A temporary directory is outside any repository; {version} must not run git.
        let dir = project(&[("package.json", r#"{"version": "0.1.0"}"#)]);
        let derived = derive_tag(&DeriveOptions::new(dir.path())).unwrap();
        assert_eq!(derived.tag.as_str(), "0.1.0");
        assert_eq!(derived.version.git, None);
        let err = derive_tag(&DeriveOptions::new(dir.path()).template("{sha}".parse().unwrap())).unwrap_err();
        assert!(matches!(err, Error::Git { .. }), "{err:?}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn template_parsing_never_panics(s in "[{}a-z_ ./-]{0,40}") {
            if let Ok(template) = s.parse::<TagTemplate>() {
                prop_assert_eq!(template.to_string(), s);
                let _ = template.render(&values("1.2.3-rc.1+b"));
            }
        }

        #[test]
        fn template_parsing_never_panics_on_any_text(s in "\\PC{0,40}") {
            let _ = s.parse::<TagTemplate>();
        }

        #[test]
        fn sanitised_output_is_always_a_valid_tag(s in "\\PC{0,300}") {
            if let Ok(sanitised) = sanitise_tag(&s) {
                let tag = sanitised.tag.as_str();
                prop_assert!(tag.parse::<ImageTag>().is_ok(), "{tag:?}");
                prop_assert_eq!(sanitised.changed, tag != s);
                // Sanitising is idempotent: a valid tag comes back unchanged.
                let again = sanitise_tag(tag).unwrap();
                prop_assert_eq!(again.tag.as_str(), tag);
                prop_assert!(!again.changed);
            }
        }

        #[test]
        fn valid_tags_pass_sanitisation_unchanged(s in "[A-Za-z0-9_][A-Za-z0-9._-]{0,127}") {
            let sanitised = sanitise_tag(&s).unwrap();
            prop_assert_eq!(sanitised.tag.as_str(), s.as_str());
            prop_assert!(!sanitised.changed);
        }
    }
}
