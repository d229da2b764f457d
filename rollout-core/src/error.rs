//! The one error type of rollout-core.
//!
//! Each variant names a domain failure and carries the context a user needs to act on it. Display
//! texts are lowercase, without a trailing period, and never repeat their source: the edges print
//! the whole chain. The CLI maps every variant to an exit code and the Python module to an exception
//! class, each with one exhaustive `match`, so a new variant cannot be forgotten at an edge.

/// Everything that can go wrong in rollout-core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An argument or input file was rejected before anything was changed.
    #[error("invalid {field} {value:?}: {reason}")]
    InvalidInput {
        /// The name of the bad argument or field, as the user wrote it.
        field: String,
        /// The rejected value.
        value: String,
        /// What is allowed instead.
        reason: String,
    },

    // --- images, project versions and tag derivation (modules `image`, `version`, `tag`) ---
    /// An image tag breaks the tag grammar `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}` shared by Docker and ECR.
    #[error("invalid image tag {value:?}: {reason}")]
    InvalidTag {
        /// The rejected tag.
        value: String,
        /// Which characters or which rule failed, and what is allowed.
        reason: String,
    },
    /// An image reference (`[registry/]repository[:tag][@digest]`) could not be parsed.
    #[error("invalid image reference {value:?}: {reason}")]
    InvalidImageRef {
        /// The rejected reference.
        value: String,
        /// Which part is wrong and what is allowed.
        reason: String,
    },
    /// A repository name breaks ECR's repository naming rules.
    #[error("invalid repository name {value:?}: {reason}")]
    InvalidRepositoryName {
        /// The rejected name.
        value: String,
        /// Which rule failed and what is allowed.
        reason: String,
    },
    /// A content digest is not `sha256:` followed by 64 lowercase hex digits.
    #[error("invalid digest {value:?}: {reason}")]
    InvalidDigest {
        /// The rejected digest.
        value: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// No project version could be read from a path, or the chosen source has none.
    #[error("no project version in {}: {reason}", .path.display())]
    VersionNotFound {
        /// The directory or file that was searched.
        path: std::path::PathBuf,
        /// What was looked for and what to do instead.
        reason: String,
    },
    /// A `${property}` in a Maven pom has no value in the pom, its parents, `.mvn/maven.config` or the overrides.
    #[error(
        "unresolved property ${{{property}}} in {}: define it in <properties>, as -D{property}=... in \
         .mvn/maven.config, or pass it as an override",
        .file.display()
    )]
    UnresolvedProperty {
        /// The property name, without `${` and `}`.
        property: String,
        /// The pom whose version needed it.
        file: std::path::PathBuf,
    },
    /// Maven properties refer to each other in a cycle, so none of them has a value.
    #[error("property cycle in {}: {cycle}", .file.display())]
    PropertyCycle {
        /// The properties in the cycle, as `a -> b -> a`.
        cycle: String,
        /// The pom whose version needed them.
        file: std::path::PathBuf,
    },
    /// A version file (pom.xml, Cargo.toml, package.json, pyproject.toml, .mvn/maven.config) is not well-formed.
    #[error("malformed {}:{line}:{column}: {reason}", .file.display())]
    MalformedFile {
        /// The file.
        file: std::path::PathBuf,
        /// The 1-based line of the problem.
        line: usize,
        /// The 1-based column of the problem.
        column: usize,
        /// What the parser expected.
        reason: String,
    },
    /// A file could not be read.
    #[error("cannot read {}", .path.display())]
    ReadFile {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// git could not be run or refused a command (for example: not a repository, no commits yet).
    #[error("git {args} in {}: {reason}", .dir.display())]
    Git {
        /// The git arguments, space-separated, for the message only.
        args: String,
        /// The directory git ran in.
        dir: std::path::PathBuf,
        /// git's own message, or why it could not run.
        reason: String,
        /// The I/O error when git could not be started.
        #[source]
        source: Option<std::io::Error>,
    },
    /// A tag template is malformed (an unclosed `{`, a lone `}`, an empty placeholder or no text at all).
    #[error("invalid tag template {template:?}: {reason}")]
    InvalidTemplate {
        /// The template as given.
        template: String,
        /// What is wrong and how to write it instead.
        reason: String,
    },
    /// A tag template names a placeholder that does not exist.
    #[error("unknown placeholder {{{placeholder}}} in tag template {template:?}: known placeholders are {known}")]
    UnknownPlaceholder {
        /// The unknown name, without braces.
        placeholder: String,
        /// The template as given.
        template: String,
        /// The known placeholders, comma-separated.
        known: String,
    },
    /// A placeholder used by a tag template has no value for this project (e.g. `{patch}` of version `1.0`).
    #[error("tag template placeholder {{{placeholder}}} has no value: {reason}")]
    MissingTemplateValue {
        /// The placeholder, without braces.
        placeholder: String,
        /// Why it has no value and what to do instead.
        reason: String,
    },
    /// The derived tag is a floating tag such as `latest`, which a release must never get.
    #[error(
        "derived tag {tag:?} is a floating tag (one of {floating}); releases need an immutable tag, \
         so change the template or allow floating tags explicitly"
    )]
    FloatingTag {
        /// The derived tag.
        tag: String,
        /// The floating tag names that are refused, comma-separated.
        floating: String,
    },
    // --- end of images, project versions and tag derivation ---
    // --- registry and lifecycle policies (previous-tag selection, policy parsing and validation) ---
    /// No image qualifies as "previous" under the asked previous-tag strategy and tag rules.
    #[error("no previous image {query}: {detail}")]
    NoPreviousImage {
        /// What was asked, e.g. `by push time among tags starting with "release-"`.
        query: String,
        /// Why nothing qualifies, with the counts.
        detail: String,
    },
    /// No image of the repository carries the tag a lookup is anchored on.
    #[error("no image carries tag {tag:?} ({images} images listed)")]
    TagNotFound {
        /// The tag that was asked for.
        tag: String,
        /// How many images were searched.
        images: usize,
    },
    /// A regular expression given as an option is invalid or has the wrong shape.
    #[error("invalid pattern {pattern:?} for {field}: {reason}")]
    InvalidPattern {
        /// The option that carried the pattern.
        field: String,
        /// The rejected pattern.
        pattern: String,
        /// What is wrong and what is expected.
        reason: String,
        /// The regular-expression parser's error, when it rejected the pattern.
        #[source]
        source: Option<regex::Error>,
    },
    /// A lifecycle policy text is not well-formed JSON.
    #[error("lifecycle policy is not valid JSON (line {line}, column {column})")]
    PolicySyntax {
        /// The 1-based line of the error.
        line: usize,
        /// The 1-based column of the error.
        column: usize,
        /// The JSON parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A lifecycle policy breaks ECR's rules; every violation is listed, not just the first.
    #[error("invalid lifecycle policy: {}", crate::lifecycle::list_violations(violations))]
    InvalidPolicy {
        /// Every violation found, in rule order.
        violations: Vec<crate::lifecycle::PolicyViolation>,
    },
    // --- end of registry and lifecycle policies ---
    // --- clients and registry operations (modules `clients`, `registry::ecr`) ---
    /// No AWS region is configured, so no ECR endpoint can be chosen.
    #[error(
        "no aws region configured{}: pass --region, or set AWS_REGION or AWS_DEFAULT_REGION, or set region in \
         the aws profile",
        crate::error::for_profile(.profile.as_deref())
    )]
    MissingRegion {
        /// The aws profile in use, if one was chosen.
        profile: Option<String>,
    },
    /// No AWS credentials could be found, or the credential provider failed.
    #[error(
        "no usable aws credentials{}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or choose a profile \
         with AWS_PROFILE or --profile (run `aws sso login` first for an sso profile), or run with a web \
         identity or instance role",
        crate::error::for_profile(.profile.as_deref())
    )]
    Credentials {
        /// The aws profile in use, if one was chosen.
        profile: Option<String>,
        /// What the credential provider chain said, with anything that looks like a secret removed.
        #[source]
        source: crate::error::Cause,
    },
    /// The Kubernetes client configuration could not be loaded from a kubeconfig or the in-cluster environment,
    /// or the client could not be built from it.
    #[error(
        "cannot load the kubernetes configuration from {}{}",
        crate::error::kubeconfig_origin(.kubeconfig.as_deref()),
        .context.as_deref().map(|c| format!(" (context {c:?})")).unwrap_or_default()
    )]
    Kubeconfig {
        /// The kubeconfig file given explicitly; `None` means `KUBECONFIG`, `~/.kube/config` or in-cluster.
        kubeconfig: Option<std::path::PathBuf>,
        /// The context asked for, if any.
        context: Option<String>,
        /// kube's error, with anything that looks like a secret removed.
        #[source]
        source: crate::error::Cause,
    },
    /// An ECR repository does not exist in the registry and region the client talks to.
    #[error(
        "ecr repository {repository:?} not found in {}{}: check the name, the region (--region, AWS_REGION) and \
         the account",
        .registry_id.as_deref().map(|id| format!("registry {id}")).unwrap_or_else(|| "the caller's registry".to_owned()),
        .region.as_deref().map(|r| format!(" in region {r}")).unwrap_or_default()
    )]
    RepositoryNotFound {
        /// The repository name.
        repository: String,
        /// The registry (account id) asked, when not the caller's own.
        registry_id: Option<String>,
        /// The region the request went to.
        region: Option<String>,
    },
    /// An ECR API call failed for another reason (access denied, throttled beyond the retries, network, …).
    #[error(
        "ecr {operation} failed{}",
        .repository.as_deref().map(|r| format!(" for repository {r:?}")).unwrap_or_default()
    )]
    Ecr {
        /// The API operation, e.g. `DescribeImages`.
        operation: String,
        /// The repository the call was about, if any.
        repository: Option<String>,
        /// ECR's error code (`AccessDeniedException`, `ThrottlingException`, …), when the service answered.
        code: Option<String>,
        /// The service's message or the transport failure, with anything that looks like a secret removed.
        #[source]
        source: crate::error::Cause,
    },
    /// A release tag already names a different image in the repository: tags must never be moved.
    #[error(
        "tag {tag:?} already exists in repository {repository:?} on image {existing_digest}{}: derive a new tag \
         (bump the version) instead of moving it",
        .digest.as_deref().map(|d| format!(", not on {d}")).unwrap_or_default()
    )]
    TagAlreadyExists {
        /// The repository.
        repository: String,
        /// The tag.
        tag: String,
        /// The digest of the image that carries it now.
        existing_digest: String,
        /// The digest the tag was meant for, when known.
        digest: Option<String>,
    },
    /// Putting a lifecycle policy was refused because it would expire or archive images that are in use.
    #[error(
        "lifecycle policy would act on {} image{} in use: {}; keep them with a higher-priority rule, or put with \
         force to accept it",
        crate::error::count_in_use(.repositories),
        if crate::error::count_in_use(.repositories) == 1 { "" } else { "s" },
        crate::error::list_in_use(.repositories)
    )]
    PolicyWouldExpireInUse {
        /// Every affected repository with every in-use image the policy would act on.
        repositories: Vec<crate::registry::InUseViolations>,
    },
    // --- end of clients and registry operations ---
    // --- workloads: deploy, wait, history, rollback and the in-use scan ---
    /// The workload to deploy to, wait for or roll back does not exist.
    #[error("{workload} not found")]
    WorkloadNotFound {
        /// The workload, as `[context/]namespace/kind/name`.
        workload: Box<crate::workload::WorkloadRef>,
    },
    /// A container named in an image change is not in the workload's pod template.
    #[error("container {container:?} not found in {workload}: the containers there are {}", list_or_none(.available))]
    ContainerNotFound {
        /// The workload, as `[context/]namespace/kind/name`.
        workload: Box<crate::workload::WorkloadRef>,
        /// The name that was asked for.
        container: String,
        /// The containers of the pod template, init containers first, as `kubectl set image` searches them.
        available: Vec<String>,
    },
    /// One or more preflight checks failed, so nothing was changed.
    #[error("preflight failed, nothing was changed: {}", crate::deploy::list_failed_checks(.checks))]
    PreflightFailed {
        /// Every failed check, with the workload it was run for.
        checks: Vec<crate::deploy::FailedCheck>,
    },
    /// A rollout failed (its pods are doomed, or the progress deadline passed); the report says why and
    /// whether it was rolled back.
    #[error("{}", .report.summary())]
    RolloutFailed {
        /// What happened, with the problems, events, log tails and any rollback.
        report: Box<crate::report::RolloutReport>,
    },
    /// A rollout did not finish within the wait's timeout; the report says where it stood and whether it
    /// was rolled back.
    #[error("{}", .report.summary())]
    RolloutTimedOut {
        /// What happened, with the last status, the problems and any rollback.
        report: Box<crate::report::RolloutReport>,
    },
    /// A call to the Kubernetes API failed after the retries transient failures get.
    #[error(
        "kubernetes API call failed: {operation}{}",
        .status.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
    )]
    Kubernetes {
        /// What was being done, e.g. `patch deployment shop/web`.
        operation: String,
        /// The HTTP status the API server answered with, when it answered.
        status: Option<u16>,
        /// kube's error, with anything that looks like a secret removed.
        #[source]
        source: crate::error::Cause,
    },
    /// The asked revision is not in the workload's rollout history.
    #[error("{reason} ({workload}: the revisions there are {})", list_or_none(.available))]
    RevisionNotFound {
        /// The workload.
        workload: Box<crate::workload::WorkloadRef>,
        /// What was looked for and not found, e.g. `unable to find the specified revision 7 in history`.
        reason: String,
        /// The revisions that exist, oldest first.
        available: Vec<i64>,
    },
    /// A paused Deployment cannot be rolled back (kubectl refuses too).
    #[error(
        "you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again \
         ({workload})"
    )]
    PausedDeployment {
        /// The workload.
        workload: Box<crate::workload::WorkloadRef>,
    },
    /// Another writer changed the workload's spec or annotations between our read and our write, so our
    /// write was refused by its resourceVersion precondition instead of overwriting theirs.
    #[error("{workload} was changed by another writer during {operation}; nothing was overwritten, retry")]
    ConcurrentModification {
        /// The workload.
        workload: Box<crate::workload::WorkloadRef>,
        /// What we were doing, e.g. `rollback to revision 2`.
        operation: String,
    },
    /// A manifest given to apply is not well-formed or lacks a field the API needs.
    #[error("invalid manifest (document {document}): {reason}")]
    InvalidManifest {
        /// The 1-based index of the YAML document in the input.
        document: usize,
        /// What is wrong and what is expected.
        reason: String,
    },
    // --- end of workloads ---
}

/// `a, b, c`, or `none` for an empty list.
fn list_or_none<T: std::fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        return "none".to_owned();
    }
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// Shorthand for results of rollout-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The cause of an error that came from another library (the AWS SDK, kube), kept as text with anything that
/// looks like a credential removed.
///
/// The SDKs' own errors can carry secrets: a credential process's output, a kubeconfig line quoted by the YAML
/// parser, a signed request. rollout keeps neither the original error value nor its `Debug` output, only its
/// message chain passed through [`redact`](crate::clients::redact), so neither `Display` nor `Debug` of an
/// [`Error`] can leak one.
#[derive(Clone, PartialEq, Eq)]
pub struct Cause {
    text: String,
}

impl Cause {
    /// The cause with text `message` after redaction.
    pub fn new(message: impl AsRef<str>) -> Self {
        Cause { text: crate::clients::redact(message.as_ref()) }
    }

    /// The cause of `error`: its message and the messages of its whole source chain, joined by `: `, redacted.
    pub fn from_error(error: &(dyn std::error::Error + 'static)) -> Self {
        let mut text = error.to_string();
        let mut next = error.source();
        while let Some(source) = next {
            let message = source.to_string();
            // Many errors embed their source's message; print each message once.
            if !text.ends_with(&message) {
                text.push_str(": ");
                text.push_str(&message);
            }
            next = source.source();
        }
        Cause::new(text)
    }

    /// The redacted text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::fmt::Debug for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Cause").field(&self.text).finish()
    }
}

impl std::error::Error for Cause {}

pub(crate) fn for_profile(profile: Option<&str>) -> String {
    profile.map(|p| format!(" for aws profile {p:?}")).unwrap_or_default()
}

pub(crate) fn kubeconfig_origin(path: Option<&std::path::Path>) -> String {
    match path {
        Some(path) => format!("kubeconfig {}", path.display()),
        None => "KUBECONFIG, ~/.kube/config or the in-cluster service account".to_owned(),
    }
}

/// The distinct images (repository and digest) among the violations: one image run by a Deployment
/// and its pods is one image, reported once with every user.
pub(crate) fn count_in_use(repositories: &[crate::registry::InUseViolations]) -> usize {
    repositories
        .iter()
        .map(|r| r.violations.iter().map(|v| v.digest.as_str()).collect::<std::collections::BTreeSet<_>>().len())
        .sum()
}

pub(crate) fn list_in_use(repositories: &[crate::registry::InUseViolations]) -> String {
    let mut parts = Vec::new();
    for repository in repositories {
        let mut digests: Vec<&str> = Vec::new();
        for v in &repository.violations {
            if !digests.contains(&v.digest.as_str()) {
                digests.push(&v.digest);
            }
        }
        for digest in digests {
            let users: Vec<_> = repository.violations.iter().filter(|v| v.digest == digest).collect();
            let v = users[0];
            let tags = if v.tags.is_empty() { "untagged".to_owned() } else { v.tags.join(", ") };
            let action = match v.outcome {
                crate::lifecycle::Outcome::Transition => "archived",
                _ => "expired",
            };
            let rule = v.rule_priority.map(|p| format!(" by rule {p}")).unwrap_or_default();
            let used_by: Vec<String> = users.iter().map(|u| format!("{} (as {})", u.used_by, u.reference)).collect();
            parts.push(format!(
                "{}: {digest} ({tags}) would be {action}{rule} but is used by {}",
                repository.repository,
                used_by.join(", ")
            ));
        }
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{MatchedBy, Outcome, ProtectionViolation};
    use crate::registry::InUseViolations;

    #[test]
    fn an_image_used_by_a_deployment_and_its_pods_counts_once() {
        let v = |used_by: &str| ProtectionViolation {
            digest: "sha256:aa".into(),
            tags: vec!["v1".into()],
            outcome: Outcome::Expire,
            rule_priority: Some(1),
            reference: "app:v1".into(),
            used_by: used_by.into(),
            matched_by: MatchedBy::Tag,
        };
        let e = Error::PolicyWouldExpireInUse {
            repositories: vec![InUseViolations {
                repository: "app".into(),
                violations: vec![v("deployment/web"), v("pod/web-1"), v("pod/web-2")],
            }],
        };
        let text = e.to_string();
        assert!(text.starts_with("lifecycle policy would act on 1 image in use: app: sha256:aa (v1)"), "{text}");
        assert!(
            text.contains("is used by deployment/web (as app:v1), pod/web-1 (as app:v1), pod/web-2 (as app:v1)"),
            "{text}"
        );
    }
}
