//! The tag of a container image reference, as the API server reads it to default `imagePullPolicy`.
//!
//! Kubernetes calls `parsers.ParseImageName`, which parses the reference with the Docker reference
//! grammar (`ParseNormalizedNamed`) and answers `latest` when the reference has neither a tag nor a
//! digest. A reference that does not parse has no tag, so its policy becomes `IfNotPresent`. This
//! module implements that grammar closely enough for the defaulting decision; it is not a general
//! image reference type (rollout-core has its own).

/// The tag the API server sees in `image`: the explicit tag, `latest` when there is neither tag nor
/// digest, and `None` when the reference is malformed or has only a digest.
pub(super) fn tag(image: &str) -> Option<String> {
    let (name_and_tag, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    if let Some(d) = digest
        && !is_digest(d)
    {
        return None;
    }
    // A tag follows the last ':' that comes after the last '/'; an earlier ':' is a registry port.
    let last_slash = name_and_tag.rfind('/');
    let (name, tag) = match name_and_tag.rfind(':') {
        Some(i) if last_slash.is_none_or(|s| i > s) => (&name_and_tag[..i], Some(&name_and_tag[i + 1..])),
        _ => (name_and_tag, None),
    };
    if let Some(t) = tag
        && !is_tag(t)
    {
        return None;
    }
    if !is_name(name) {
        return None;
    }
    match (tag, digest) {
        (Some(t), _) => Some(t.to_string()),
        (None, None) => Some("latest".to_string()),
        (None, Some(_)) => None,
    }
}

/// The pull policy the API server defaults for `image`: `Always` for the `latest` tag (explicit or
/// implied), `IfNotPresent` otherwise.
pub(super) fn default_pull_policy(image: &str) -> &'static str {
    if tag(image).as_deref() == Some("latest") { "Always" } else { "IfNotPresent" }
}

/// `algorithm:hex` for the digests the API server accepts.
fn is_digest(d: &str) -> bool {
    let Some((alg, hex)) = d.split_once(':') else { return false };
    let len = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return false,
    };
    hex.len() == len && hex.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

/// `[\w][\w.-]{0,127}`.
fn is_tag(t: &str) -> bool {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let b = t.as_bytes();
    !b.is_empty() && b.len() <= 128 && word(b[0]) && b.iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

/// A repository name: an optional registry host (with port), then lowercase path components.
fn is_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 255 {
        return false;
    }
    // A 64-character hex string is refused so it cannot be mistaken for an image id.
    if name.len() == 64 && name.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)) {
        return false;
    }
    // As Docker's splitDockerDomain: the first component is a registry host when it contains '.'
    // or ':', is `localhost`, or has an uppercase letter.
    let (domain, path) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" || first.to_lowercase() != first => {
            (Some(first), rest)
        }
        _ => (None, name),
    };
    if let Some(d) = domain
        && !is_domain(d)
    {
        return false;
    }
    path.split('/').all(is_path_component)
}

/// `host(:port)?` with DNS-like host components (uppercase allowed).
fn is_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit())) {
        return false;
    }
    host.split('.').all(|c| {
        let b = c.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
    })
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`.
fn is_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    let mut i = 0;
    loop {
        let start = i;
        while i < b.len() && alnum(b[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == b.len() {
            return true;
        }
        match b[i] {
            b'.' => i += 1,
            b'_' => i += if b.get(i + 1) == Some(&b'_') { 2 } else { 1 },
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn pull_policy_follows_the_tag() {
        let cases = [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1.25", "IfNotPresent"),
            ("library/nginx:latest", "Always"),
            ("localhost:5000/app", "Always"),
            ("localhost:5000/app:v2", "IfNotPresent"),
            (
                "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/ms-account-management:latest-release-1.0.0",
                "IfNotPresent",
            ),
            ("123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/ms-account-management", "Always"),
            (&format!("nginx@{DIGEST}"), "IfNotPresent"),
            (&format!("nginx:latest@{DIGEST}"), "Always"),
            (&format!("nginx:1.0@{DIGEST}"), "IfNotPresent"),
            ("nginx@sha256:short", "IfNotPresent"),
            ("Nginx", "IfNotPresent"),
            ("", "IfNotPresent"),
            ("nginx:", "IfNotPresent"),
            ("nginx:-bad", "IfNotPresent"),
            ("a__b/c-d--e.f", "Always"),
            ("a___b", "IfNotPresent"),
            ("MyRegistry:5000/app", "Always"),
        ];
        for (image, want) in cases {
            assert_eq!(default_pull_policy(image), want, "image {image:?}");
        }
    }

    #[test]
    fn tags_are_read_after_the_last_slash() {
        assert_eq!(tag("registry:5000/team/app:1.0").as_deref(), Some("1.0"));
        assert_eq!(tag("registry:5000/team/app").as_deref(), Some("latest"));
        assert_eq!(tag(&format!("app@{DIGEST}")), None);
    }
}
