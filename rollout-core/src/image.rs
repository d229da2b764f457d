//! Container image references and their parts: [`ImageRef`], [`ImageTag`], [`RepositoryName`], [`Digest`].
//!
//! This module owns the grammar of image references, validated once at the boundary so the rest of the
//! crate works with values that are known to be well-formed. The grammar is the Docker distribution
//! reference grammar (`[registry/]path[:tag][@digest]`, as docker/distribution's `reference` package
//! defines it), with ECR's registry hosts recognised so the account id and region can be read off a
//! reference. It deliberately does not expand Docker Hub short names (`nginx` stays `nginx`, not
//! `docker.io/library/nginx`): a reference is kept exactly as the user wrote it, and [`ImageRef::registry`]
//! is `None` when no registry was written. It does not talk to any registry either.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// Longest tag Docker and ECR accept.
pub const MAX_TAG_LEN: usize = 128;

/// Longest name (registry host and path, without tag or digest) Docker accepts.
const MAX_NAME_LEN: usize = 255;

/// Implements `Serialize` and `Deserialize` as the `Display` and `FromStr` string forms.
macro_rules! serde_as_string {
    ($ty:ty, $expecting:literal) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
                struct Visitor;
                impl serde::de::Visitor<'_> for Visitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<$ty, E> {
                        v.parse().map_err(E::custom)
                    }
                }
                deserializer.deserialize_str(Visitor)
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------------------
// ImageTag

/// An image tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`, the grammar Docker and ECR share.
///
/// ```
/// use rollout_core::ImageTag;
/// let tag: ImageTag = "latest-release-1.0.0".parse().unwrap();
/// assert_eq!(tag.as_str(), "latest-release-1.0.0");
/// assert!("feature/x".parse::<ImageTag>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageTag(String);

impl ImageTag {
    /// The tag as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tag as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Whether `c` may appear in a tag after its first character.
pub(crate) fn is_tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// Whether `c` may start a tag.
pub(crate) fn is_tag_start(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Describes every way `value` breaks the tag grammar, or `None` when it is a valid tag.
///
/// Positions count characters from 1, as an editor's columns do, so the message can be acted on.
pub(crate) fn tag_violations(value: &str) -> Option<String> {
    if value.is_empty() {
        return Some("a tag cannot be empty; allowed: 1 to 128 of A-Z a-z 0-9 _ . - not starting with . or -".into());
    }
    let mut problems = Vec::new();
    let bad: Vec<(usize, char)> =
        value.chars().enumerate().filter(|&(_, c)| !is_tag_char(c)).map(|(i, c)| (i + 1, c)).collect();
    if !bad.is_empty() {
        const SHOWN: usize = 10;
        let mut list: Vec<String> = bad.iter().take(SHOWN).map(|(pos, c)| format!("{c:?} at position {pos}")).collect();
        if bad.len() > SHOWN {
            list.push(format!("and {} more", bad.len() - SHOWN));
        }
        problems.push(format!("characters not allowed: {}", list.join(", ")));
    }
    let first = value.chars().next().unwrap_or('_');
    if is_tag_char(first) && !is_tag_start(first) {
        problems.push(format!("it starts with {first:?}"));
    }
    let len = value.chars().count();
    if len > MAX_TAG_LEN {
        problems.push(format!("it is {len} characters long, the limit is {MAX_TAG_LEN}"));
    }
    if problems.is_empty() {
        None
    } else {
        Some(format!("{}; allowed: 1 to 128 of A-Z a-z 0-9 _ . - not starting with . or -", problems.join("; ")))
    }
}

impl FromStr for ImageTag {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match tag_violations(s) {
            None => Ok(ImageTag(s.to_owned())),
            Some(reason) => Err(Error::InvalidTag { value: s.to_owned(), reason }),
        }
    }
}

impl fmt::Display for ImageTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ImageTag {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

serde_as_string!(ImageTag, "an image tag");

// ---------------------------------------------------------------------------------------------------------
// Digest

/// A content digest: `sha256:` followed by 64 lowercase hex digits.
///
/// Only sha256 is accepted: it is the only algorithm ECR uses for image manifests.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(String);

impl Digest {
    /// The whole digest, `sha256:<hex>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The algorithm, always `sha256`.
    pub fn algorithm(&self) -> &str {
        "sha256"
    }

    /// The 64 hex digits after `sha256:`.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }
}

impl FromStr for Digest {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let err = |reason: String| Error::InvalidDigest { value: s.to_owned(), reason };
        let Some(hex) = s.strip_prefix("sha256:") else {
            return Err(err("a digest is sha256: followed by 64 lowercase hex digits".into()));
        };
        if hex.len() != 64 {
            return Err(err(format!("sha256 digests have 64 hex digits, this one has {}", hex.chars().count())));
        }
        if let Some((i, c)) = hex.chars().enumerate().find(|&(_, c)| !matches!(c, '0'..='9' | 'a'..='f')) {
            return Err(err(format!(
                "{c:?} at position {} of the hex part is not a lowercase hex digit (0-9, a-f)",
                i + 1
            )));
        }
        Ok(Digest(s.to_owned()))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

serde_as_string!(Digest, "a digest sha256:<64 hex digits>");

// ---------------------------------------------------------------------------------------------------------
// RepositoryName

/// An ECR repository name: 2 to 256 characters of
/// `(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*`, as ECR's CreateRepository documents.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RepositoryName(String);

impl RepositoryName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

const REPOSITORY_RULE: &str = "allowed: 2 to 256 characters, path components of lowercase letters and digits \
     separated by single '.', '_' or '-', joined by '/'";

/// Checks one ECR path component: `[a-z0-9]+(?:[._-][a-z0-9]+)*`.
fn ecr_component_problem(component: &str) -> Option<String> {
    if component.is_empty() {
        return Some("it has an empty path component (a leading, trailing or doubled '/')".into());
    }
    let mut prev_sep = true; // the start behaves like a separator: a component cannot start with one
    for c in component.chars() {
        match c {
            'a'..='z' | '0'..='9' => prev_sep = false,
            '.' | '_' | '-' if !prev_sep => prev_sep = true,
            '.' | '_' | '-' => {
                return Some(format!("component {component:?} has {c:?} at its start or next to another separator"));
            }
            'A'..='Z' => return Some(format!("component {component:?} has the uppercase letter {c:?}")),
            _ => return Some(format!("component {component:?} has the character {c:?}")),
        }
    }
    if prev_sep {
        return Some(format!("component {component:?} ends with a separator"));
    }
    None
}

fn repository_problem(s: &str) -> Option<String> {
    let len = s.chars().count();
    if !(2..=256).contains(&len) {
        return Some(format!("its length is {len}"));
    }
    s.split('/').find_map(ecr_component_problem)
}

impl FromStr for RepositoryName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match repository_problem(s) {
            None => Ok(RepositoryName(s.to_owned())),
            Some(problem) => Err(Error::InvalidRepositoryName {
                value: s.to_owned(),
                reason: format!("{problem}; {REPOSITORY_RULE}"),
            }),
        }
    }
}

impl fmt::Display for RepositoryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for RepositoryName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

serde_as_string!(RepositoryName, "an ECR repository name");

// ---------------------------------------------------------------------------------------------------------
// ECR registry hosts

/// What an ECR registry host says about itself: `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct EcrHost {
    account: String,
    region: String,
    fips: bool,
}

/// Recognises an ECR registry host. The port, if any, is ignored; DNS names compare case-insensitively.
fn parse_ecr_host(host: &str) -> Option<EcrHost> {
    let hostname = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
    let rest = hostname.strip_suffix(".amazonaws.com").or_else(|| hostname.strip_suffix(".amazonaws.com.cn"))?;
    let (account, rest) = rest.split_once('.')?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (fips, region) = if let Some(region) = rest.strip_prefix("dkr.ecr.") {
        (false, region)
    } else {
        (true, rest.strip_prefix("dkr.ecr-fips.")?)
    };
    // Region names are lowercase words and a number joined by '-', e.g. ap-southeast-2, us-gov-west-1.
    let plausible = region.contains('-')
        && region.split('-').all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    plausible.then(|| EcrHost { account: account.to_owned(), region: region.to_owned(), fips })
}

// ---------------------------------------------------------------------------------------------------------
// ImageRef

/// A container image reference: `[registry/]repository[:tag][@digest]`.
///
/// Parsed with the Docker reference grammar: the first path component is a registry host only if it
/// contains `.` or `:` or is `localhost` (so `nginx` and `library/nginx` have no registry, while
/// `localhost:5000/app` and `123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/app` do). Repository path
/// components are lowercase letters and digits separated by `.`, `_`, `__` or runs of `-`; under an ECR
/// host the path must also be a valid ECR [`RepositoryName`].
///
/// ```
/// use rollout_core::ImageRef;
/// let image: ImageRef = "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/ms-account-management:latest-release-1.0.0"
///     .parse()
///     .unwrap();
/// assert_eq!(image.ecr_account(), Some("123456789012"));
/// assert_eq!(image.ecr_region(), Some("ap-southeast-2"));
/// assert_eq!(image.repository(), "ms-account-management");
/// assert_eq!(image.tag().unwrap().as_str(), "latest-release-1.0.0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    registry: Option<String>,
    repository: String,
    tag: Option<ImageTag>,
    digest: Option<Digest>,
    ecr: Option<EcrHost>,
}

impl ImageRef {
    /// The registry host (with port, if written), or `None` when the reference names none (Docker Hub).
    pub fn registry(&self) -> Option<&str> {
        self.registry.as_deref()
    }

    /// The repository path, e.g. `ms-account-management` or `library/nginx`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The repository as an ECR repository name, when the registry is an ECR host.
    pub fn ecr_repository(&self) -> Option<RepositoryName> {
        // Validated against ECR's rules at parse time whenever the host is ECR's.
        self.ecr.as_ref().map(|_| RepositoryName(self.repository.clone()))
    }

    /// The tag, if one was written.
    pub fn tag(&self) -> Option<&ImageTag> {
        self.tag.as_ref()
    }

    /// The digest, if one was written.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The reference without tag or digest: `[registry/]repository`, what `kubectl set image` and ECR's
    /// repository URI call the image name.
    pub fn name(&self) -> String {
        match &self.registry {
            Some(registry) => format!("{registry}/{}", self.repository),
            None => self.repository.clone(),
        }
    }

    /// The same image name with `tag` and no digest: the digest pinned the old image, which the new tag
    /// may not point to.
    pub fn with_tag(&self, tag: ImageTag) -> ImageRef {
        ImageRef { tag: Some(tag), digest: None, ..self.clone() }
    }

    /// The same image name and tag, pinned to `digest`.
    pub fn with_digest(&self, digest: Digest) -> ImageRef {
        ImageRef { digest: Some(digest), ..self.clone() }
    }

    /// Whether the registry is an ECR registry host (`<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]`).
    pub fn is_ecr(&self) -> bool {
        self.ecr.is_some()
    }

    /// The 12-digit AWS account id of an ECR registry host.
    pub fn ecr_account(&self) -> Option<&str> {
        self.ecr.as_ref().map(|e| e.account.as_str())
    }

    /// The AWS region of an ECR registry host.
    pub fn ecr_region(&self) -> Option<&str> {
        self.ecr.as_ref().map(|e| e.region.as_str())
    }

    /// Whether the registry is an ECR FIPS endpoint (`dkr.ecr-fips`).
    pub fn is_ecr_fips(&self) -> bool {
        self.ecr.as_ref().is_some_and(|e| e.fips)
    }
}

/// Checks a registry host: DNS labels (`[A-Za-z0-9]` or `[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]`) joined by
/// `.`, or a bracketed IPv6 address, with an optional numeric port.
fn host_problem(host: &str) -> Option<String> {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let Some((addr, after)) = rest.split_once(']') else {
            return Some(format!("registry host {host:?} opens '[' without closing it"));
        };
        if addr.is_empty() || !addr.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.') {
            return Some(format!("registry host {host:?} has an invalid IPv6 address"));
        }
        match after {
            "" => return None,
            _ => match after.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None => return Some(format!("registry host {host:?} has text after its IPv6 address")),
            },
        }
    } else {
        match host.split_once(':') {
            Some((name, port)) => (Some(name), Some(port)),
            None => (Some(host), None),
        }
    };
    if let Some(port) = port
        && (port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return Some(format!("registry port {port:?} must be a number"));
    }
    if let Some(name) = name {
        for label in name.split('.') {
            let ok = !label.is_empty()
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if !ok {
                return Some(format!(
                    "registry host {host:?} has the label {label:?}; host labels are letters, digits and inner '-', \
                     joined by '.'"
                ));
            }
        }
    }
    None
}

/// Checks one Docker path component: `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`.
fn docker_component_problem(component: &str) -> Option<String> {
    const RULE: &str = "path components are lowercase letters and digits separated by '.', '_', '__' or '-'";
    if component.is_empty() {
        return Some("the repository has an empty path component (a leading, trailing or doubled '/')".into());
    }
    let bytes = component.as_bytes();
    let mut i = 0;
    let mut expect_alnum = true;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            expect_alnum = false;
            i += 1;
            continue;
        }
        if !matches!(c, b'.' | b'_' | b'-') {
            let ch = component[i..].chars().next().unwrap_or('?');
            let what = if ch.is_ascii_uppercase() { "the uppercase letter" } else { "the character" };
            return Some(format!("component {component:?} has {what} {ch:?}; {RULE}"));
        }
        if expect_alnum {
            return Some(format!("component {component:?} has a separator at its start or after another; {RULE}"));
        }
        let sep_len = match c {
            b'_' if bytes.get(i + 1) == Some(&b'_') => 2,
            b'-' => bytes[i..].iter().take_while(|&&b| b == b'-').count(),
            _ => 1,
        };
        i += sep_len;
        expect_alnum = true;
    }
    if expect_alnum {
        return Some(format!("component {component:?} ends with a separator; {RULE}"));
    }
    None
}

impl FromStr for ImageRef {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let err = |reason: String| Error::InvalidImageRef { value: s.to_owned(), reason };
        if s.is_empty() {
            return Err(
                err("an image reference cannot be empty; expected [registry/]repository[:tag][@digest]".into()),
            );
        }
        if let Some(c) = s.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(err(format!("it contains {c:?}; references have no whitespace")));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((rest, digest)) => {
                let digest = digest.parse::<Digest>().map_err(|e| err(e.to_string()))?;
                (rest, Some(digest))
            }
            None => (s, None),
        };
        // A ':' after the last '/' separates the tag; one before it belongs to a registry port.
        let last_slash = rest.rfind('/');
        let (name, tag) = match rest.rfind(':') {
            Some(colon) if last_slash.is_none_or(|slash| colon > slash) => {
                let tag = rest[colon + 1..].parse::<ImageTag>().map_err(|e| err(e.to_string()))?;
                (&rest[..colon], Some(tag))
            }
            _ => (rest, None),
        };
        if name.is_empty() {
            return Err(err("the repository is missing; expected [registry/]repository[:tag][@digest]".into()));
        }
        if name.chars().count() > MAX_NAME_LEN {
            return Err(err(format!(
                "the name (registry and repository) is {} characters long, the limit is {MAX_NAME_LEN}",
                name.chars().count()
            )));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path)) if first.contains(['.', ':']) || first == "localhost" => (Some(first), path),
            _ => (None, name),
        };
        if let Some(problem) = registry.and_then(host_problem) {
            return Err(err(problem));
        }
        if let Some(problem) = repository.split('/').find_map(docker_component_problem) {
            return Err(err(problem));
        }
        let ecr = registry.and_then(parse_ecr_host);
        if ecr.is_some()
            && let Some(problem) = repository_problem(repository)
        {
            return Err(err(format!("ECR repository {repository:?}: {problem}; {REPOSITORY_RULE}")));
        }
        Ok(ImageRef { registry: registry.map(str::to_owned), repository: repository.to_owned(), tag, digest, ecr })
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(registry) = &self.registry {
            write!(f, "{registry}/")?;
        }
        f.write_str(&self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

serde_as_string!(ImageRef, "an image reference [registry/]repository[:tag][@digest]");

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    macro_rules! digest {
        () => {
            "sha256:8b1a9953c4611296a827abf8c47804d7e6c49c6b4d5d1c1e1e4b1b1d7c8f6e2a"
        };
    }
    const DIGEST: &str = digest!();

    /// One expected parse: the input and the parts it must give.
    struct Case {
        input: &'static str,
        registry: Option<&'static str>,
        repository: &'static str,
        tag: Option<&'static str>,
        digest: bool,
        ecr: Option<(&'static str, &'static str)>,
    }

    const fn case(
        input: &'static str,
        registry: Option<&'static str>,
        repository: &'static str,
        tag: Option<&'static str>,
    ) -> Case {
        Case { input, registry, repository, tag, digest: false, ecr: None }
    }

    #[test]
    fn real_references_parse_into_their_parts_and_display_unchanged() {
        const SEED_HOST: &str = "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com";
        let rows = [
            Case {
                ecr: Some(("123456789012", "ap-southeast-2")),
                ..case(
                    "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/ms-account-management:latest-release-1.0.0",
                    Some(SEED_HOST),
                    "ms-account-management",
                    Some("latest-release-1.0.0"),
                )
            },
            Case {
                ecr: Some(("210987654321", "cn-north-1")),
                ..case(
                    "210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn/a/b",
                    Some("210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn"),
                    "a/b",
                    None,
                )
            },
            Case {
                ecr: Some(("123456789012", "us-gov-west-1")),
                ..case(
                    "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/svc:1",
                    Some("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com"),
                    "svc",
                    Some("1"),
                )
            },
            Case {
                ecr: Some(("123456789012", "us-east-1")),
                digest: true,
                ..case(
                    concat!("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:v1@", digest!()),
                    Some("123456789012.dkr.ecr.us-east-1.amazonaws.com"),
                    "team/app",
                    Some("v1"),
                )
            },
            case("nginx", None, "nginx", None),
            case("nginx:1.27-alpine", None, "nginx", Some("1.27-alpine")),
            case("library/nginx:latest", None, "library/nginx", Some("latest")),
            case("bitnami/redis", None, "bitnami/redis", None),
            case("docker.io/library/busybox:1.36", Some("docker.io"), "library/busybox", Some("1.36")),
            case("localhost:5000/app:dev", Some("localhost:5000"), "app", Some("dev")),
            case("localhost/app", Some("localhost"), "app", None),
            // Without a '/', "localhost:5000" is repository "localhost" with tag "5000", as Docker reads it.
            case("localhost:5000", None, "localhost", Some("5000")),
            case(
                "ghcr.io/owner/some_app__x--y:sha-abc1234",
                Some("ghcr.io"),
                "owner/some_app__x--y",
                Some("sha-abc1234"),
            ),
            case("[::1]:5000/app", Some("[::1]:5000"), "app", None),
            Case { digest: true, ..case(concat!("nginx@", digest!()), None, "nginx", None) },
            // Look-alikes that are not ECR registry hosts.
            case(
                "12345678901.dkr.ecr.us-east-1.amazonaws.com/app",
                Some("12345678901.dkr.ecr.us-east-1.amazonaws.com"),
                "app",
                None,
            ),
            case("public.ecr.aws/nginx/nginx:1", Some("public.ecr.aws"), "nginx/nginx", Some("1")),
        ];
        for row in rows {
            let name = row.input;
            let image: ImageRef = row.input.parse().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(image.registry(), row.registry, "{name}");
            assert_eq!(image.repository(), row.repository, "{name}");
            assert_eq!(image.tag().map(ImageTag::as_str), row.tag, "{name}");
            assert_eq!(image.digest().is_some(), row.digest, "{name}");
            assert_eq!(image.ecr_account(), row.ecr.map(|e| e.0), "{name}");
            assert_eq!(image.ecr_region(), row.ecr.map(|e| e.1), "{name}");
            assert_eq!(image.is_ecr(), row.ecr.is_some(), "{name}");
            assert_eq!(image.to_string(), row.input, "{name}");
            let json = serde_json::to_string(&image).unwrap();
            assert_eq!(serde_json::from_str::<ImageRef>(&json).unwrap(), image, "{name}");
        }
    }

    #[test]
    fn fips_endpoints_are_flagged() {
        let fips: ImageRef = "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com/app:1".parse().unwrap();
        let plain: ImageRef = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1".parse().unwrap();
        assert!(fips.is_ecr_fips());
        assert!(!plain.is_ecr_fips());
    }

    #[test]
    fn ecr_hosts_are_recognised_with_a_port_and_in_any_case() {
        let image: ImageRef = "123456789012.DKR.ECR.eu-west-1.AMAZONAWS.COM:443/app".parse().unwrap();
        assert_eq!(image.ecr_region(), Some("eu-west-1"));
        assert_eq!(image.registry(), Some("123456789012.DKR.ECR.eu-west-1.AMAZONAWS.COM:443"));
    }

    #[test]
    fn bad_references_are_rejected_with_the_reason() {
        let rows = [
            ("", "cannot be empty"),
            ("Nginx", "uppercase letter 'N'"),
            ("nginx:", "tag cannot be empty"),
            ("nginx:-x", "starts with '-'"),
            ("nginx:a+b", "'+' at position 2"),
            ("nginx:a/b", "port \"a\""),
            ("a//b", "empty path component"),
            ("app/", "empty path component"),
            ("registry.example.com/", "empty path component"),
            (":tag", "repository is missing"),
            ("a_.b", "separator at its start or after another"),
            ("a___b", "separator at its start or after another"),
            ("app-", "ends with a separator"),
            ("nginx@sha256:abc", "64 hex digits"),
            ("nginx@md5:abc", "sha256: followed by 64"),
            ("bad_host.com:80x/app", "port \"80x\""),
            ("-bad.com/app", "label \"-bad\""),
            ("my app", "whitespace"),
            ("123456789012.dkr.ecr.us-east-1.amazonaws.com/a__b", "ECR repository"),
            ("123456789012.dkr.ecr.us-east-1.amazonaws.com/a", "length is 1"),
        ];
        for (input, expected) in rows {
            let err = input.parse::<ImageRef>().expect_err(input).to_string();
            assert!(err.contains(expected), "{input:?}: {err}");
        }
        let long = format!("example.com/{}", "a".repeat(250));
        assert!(long.parse::<ImageRef>().unwrap_err().to_string().contains("limit is 255"));
    }

    #[test]
    fn with_tag_replaces_the_tag_and_drops_the_digest() {
        let image: ImageRef = format!("localhost:5000/app:old@{DIGEST}").parse().unwrap();
        let retagged = image.with_tag("new".parse().unwrap());
        assert_eq!(retagged.to_string(), "localhost:5000/app:new");
        assert_eq!(retagged.name(), "localhost:5000/app");
        let pinned = retagged.with_digest(DIGEST.parse().unwrap());
        assert_eq!(pinned.to_string(), format!("localhost:5000/app:new@{DIGEST}"));
    }

    #[test]
    fn ecr_repository_is_given_only_for_ecr_hosts() {
        let ecr: ImageRef = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:1".parse().unwrap();
        assert_eq!(ecr.ecr_repository().unwrap().as_str(), "team/app");
        let hub: ImageRef = "team/app:1".parse().unwrap();
        assert_eq!(hub.ecr_repository(), None);
    }

    #[test]
    fn tags_follow_the_docker_grammar() {
        let max = "a".repeat(128);
        for ok in ["latest", "_x", "1.0.0", "v1.2.3-rc.1", "A_b.C-d", max.as_str()] {
            assert_eq!(ok.parse::<ImageTag>().unwrap().as_str(), ok);
        }
        let too_long = "a".repeat(129);
        let rows = [
            ("", "cannot be empty"),
            (".hidden", "starts with '.'"),
            ("-x", "starts with '-'"),
            ("feature/x", "'/' at position 8"),
            ("a b+c", "' ' at position 2, '+' at position 4"),
            ("é", "'é' at position 1"),
            (too_long.as_str(), "129 characters long"),
        ];
        for (input, expected) in rows {
            let err = input.parse::<ImageTag>().expect_err(input).to_string();
            assert!(err.contains(expected), "{input:?}: {err}");
            assert!(err.contains("allowed:"), "{input:?}: {err}");
        }
    }

    #[test]
    fn repository_names_follow_ecr_rules() {
        for ok in ["ab", "ms-account-management", "team/app", "a.b_c-d/e0", &"a".repeat(256)] {
            assert_eq!(ok.parse::<RepositoryName>().unwrap().as_str(), ok);
        }
        let too_long = "a".repeat(257);
        let rows = [
            ("a", "length is 1"),
            (too_long.as_str(), "length is 257"),
            ("Team/app", "uppercase letter 'T'"),
            ("team//app", "empty path component"),
            ("/app", "empty path component"),
            ("a--b", "next to another separator"),
            ("a__b", "next to another separator"),
            ("ab-", "ends with a separator"),
            ("a b", "the character ' '"),
        ];
        for (input, expected) in rows {
            let err = input.parse::<RepositoryName>().expect_err(input).to_string();
            assert!(err.contains(expected), "{input:?}: {err}");
        }
    }

    #[test]
    fn digests_are_sha256_with_64_lowercase_hex_digits() {
        let digest: Digest = DIGEST.parse().unwrap();
        assert_eq!(digest.algorithm(), "sha256");
        assert_eq!(digest.hex().len(), 64);
        let upper = DIGEST.to_ascii_uppercase().replace("SHA256", "sha256");
        assert!(upper.parse::<Digest>().unwrap_err().to_string().contains("not a lowercase hex digit"));
    }

    #[test]
    fn newtypes_serialize_as_strings() {
        let tag: ImageTag = "v1".parse().unwrap();
        assert_eq!(serde_json::to_string(&tag).unwrap(), "\"v1\"");
        let name: RepositoryName = serde_json::from_str("\"team/app\"").unwrap();
        assert_eq!(name.as_str(), "team/app");
        let digest: Digest = serde_json::from_str(&format!("\"{DIGEST}\"")).unwrap();
        assert_eq!(digest.as_str(), DIGEST);
        let bad = serde_json::from_str::<ImageTag>("\"a/b\"").unwrap_err().to_string();
        assert!(bad.contains("invalid image tag"), "{bad}");
    }

    fn component() -> impl Strategy<Value = String> {
        "[a-z0-9]{1,6}((\\.|_|__|-{1,2})[a-z0-9]{1,6}){0,2}"
    }

    fn ecr_component() -> impl Strategy<Value = String> {
        "[a-z0-9]{2,6}([._-][a-z0-9]{1,6}){0,2}"
    }

    fn docker_path() -> impl Strategy<Value = String> {
        prop::collection::vec(component(), 1..3).prop_map(|c| c.join("/"))
    }

    fn valid_ref() -> impl Strategy<Value = String> {
        // Without a registry, the first component must not look like a host (no '.').
        let hub = ("[a-z0-9]{1,6}((_|__|-{1,2})[a-z0-9]{1,6}){0,2}", prop::option::of(docker_path()))
            .prop_map(|(first, rest)| rest.map_or(first.clone(), |rest| format!("{first}/{rest}")));
        let other =
            ("(localhost|localhost:[0-9]{1,5}|[a-z][a-z0-9-]{0,8}[a-z0-9]\\.[a-z]{2,5}(:[0-9]{2,4})?)", docker_path())
                .prop_map(|(host, path)| format!("{host}/{path}"));
        let ecr = (
            "[0-9]{12}",
            "dkr\\.ecr|dkr\\.ecr-fips",
            "(us|eu|ap)-[a-z]{4,9}-[1-3]",
            "com|com\\.cn",
            prop::collection::vec(ecr_component(), 1..3),
        )
            .prop_map(|(account, svc, region, tld, path)| {
                format!("{account}.{svc}.{region}.amazonaws.{tld}/{}", path.join("/"))
            });
        let name = prop_oneof![hub, other, ecr];
        let tag = prop::option::of("[A-Za-z0-9_][A-Za-z0-9._-]{0,20}");
        let digest = prop::option::of("[0-9a-f]{64}");
        (name, tag, digest).prop_map(|(name, tag, digest)| {
            let mut s = name;
            if let Some(tag) = tag {
                s.push(':');
                s.push_str(&tag);
            }
            if let Some(hex) = digest {
                s.push_str("@sha256:");
                s.push_str(&hex);
            }
            s
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn parsers_never_panic(s in "\\PC{0,80}") {
            let _ = s.parse::<ImageRef>();
            let _ = s.parse::<ImageTag>();
            let _ = s.parse::<RepositoryName>();
            let _ = s.parse::<Digest>();
        }

        #[test]
        fn parsers_never_panic_on_reference_like_text(s in "[a-zA-Z0-9./:@_\\[\\]-]{0,80}") {
            let _ = s.parse::<ImageRef>();
            let _ = s.parse::<ImageTag>();
            let _ = s.parse::<RepositoryName>();
        }

        #[test]
        fn display_of_a_parsed_valid_reference_is_the_input(s in valid_ref()) {
            let image: ImageRef = s.parse().map_err(|e: Error| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(image.to_string(), s);
        }
    }
}
