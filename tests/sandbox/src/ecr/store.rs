//! The registry's state and the operations on it, performed as ECR performs them: digests are the
//! SHA-256 of the manifest bytes, a moved tag leaves its old image in place (untagged if that was
//! its last tag), immutable tags refuse to move, deleting an image's last tag deletes the image,
//! listings page with opaque tokens, and lifecycle policies are validated, stored normalised,
//! previewed and run.
//!
//! It does not speak HTTP (see `api`) and does not read the clock: callers pass `now`. It keeps
//! no layers or blobs, so it cannot answer `LayersNotFoundException`.

use std::collections::{BTreeMap, HashSet};

use jiff::Timestamp;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::EcrError;
use super::evaluate::{EvalImage, evaluate};
use super::model::{
    DOCKER_MANIFEST_V2, Image, LifecyclePolicy, LifecycleResult, Preview, Repository, TagMutability, millis,
};
use super::policy::{ActionType, Policy};

/// The longest manifest `PutImage` accepts, in bytes.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

/// The `sha256:<hex>` digest of a manifest text, as ECR computes it.
pub fn digest_of(manifest: &str) -> String {
    let hash = Sha256::digest(manifest.as_bytes());
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in hash {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Whether a string has the shape of an image digest (`<algorithm>:<hex>`), as ECR's API model
/// requires.
pub fn valid_digest(d: &str) -> bool {
    match d.split_once(':') {
        Some((alg, hex)) => {
            !alg.is_empty()
                && alg.chars().all(|c| c.is_ascii_alphanumeric() || "-_+.".contains(c))
                && !hex.is_empty()
                && hex.chars().all(|c| c.is_ascii_hexdigit())
        }
        None => false,
    }
}

/// Checks an image tag: 1 to 300 characters (ECR's API model) from the OCI distribution grammar
/// `[A-Za-z0-9_][A-Za-z0-9._-]*`.
pub fn check_tag(member: &str, tag: &str) -> Result<(), EcrError> {
    if tag.is_empty() {
        return Err(EcrError::invalid_parameter(member, "Member must have length greater than or equal to 1"));
    }
    if tag.chars().count() > 300 {
        return Err(EcrError::invalid_parameter(member, "Member must have length less than or equal to 300"));
    }
    let mut chars = tag.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
        return Err(EcrError::invalid_parameter(
            member,
            format!("must satisfy regular expression '[a-zA-Z0-9_][a-zA-Z0-9._-]*' (the tag {tag:?} does not)"),
        ));
    }
    Ok(())
}

/// Checks a repository name against ECR's rules: 2 to 256 characters, lowercase path components of
/// letters and digits separated by `.`, `_`, `-` and `/`.
pub fn check_repository_name(name: &str) -> Result<(), EcrError> {
    let len = name.chars().count();
    if len < 2 {
        return Err(EcrError::invalid_parameter(
            "repositoryName",
            "Member must have length greater than or equal to 2",
        ));
    }
    if len > 256 {
        return Err(EcrError::invalid_parameter("repositoryName", "Member must have length less than or equal to 256"));
    }
    let component_ok = |c: &str| {
        let b = c.as_bytes();
        !b.is_empty()
            && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
            && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
            && b.iter().all(|&x| x.is_ascii_lowercase() || x.is_ascii_digit() || b"._-".contains(&x))
            && !b.windows(2).any(|w| b"._-".contains(&w[0]) && b"._-".contains(&w[1]))
    };
    if !name.split('/').all(component_ok) {
        return Err(EcrError::invalid_parameter(
            "repositoryName",
            "must satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*'",
        ));
    }
    Ok(())
}

/// Which images a listing includes, by tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TagFilter {
    /// Images with at least one tag.
    Tagged,
    /// Images without tags.
    Untagged,
    /// Every image (the default).
    #[default]
    Any,
}

impl TagFilter {
    /// Parses ECR's `TagStatus` name.
    pub fn parse(s: &str) -> Result<Self, EcrError> {
        match s {
            "TAGGED" => Ok(Self::Tagged),
            "UNTAGGED" => Ok(Self::Untagged),
            "ANY" => Ok(Self::Any),
            other => Err(EcrError::invalid_parameter(
                "filter.tagStatus",
                format!("Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY] (got {other:?})"),
            )),
        }
    }

    /// Whether an image with these tags passes.
    pub fn admits(self, tags: &[String]) -> bool {
        match self {
            Self::Tagged => !tags.is_empty(),
            Self::Untagged => tags.is_empty(),
            Self::Any => true,
        }
    }
}

/// Which images a listing includes, by `imageStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusFilter {
    /// Images in standard storage (the default: archived images are left out).
    #[default]
    Active,
    /// Archived images only.
    Archived,
    /// Images being restored from the archive (the sandbox has none).
    Activating,
    /// Every image.
    Any,
}

impl StatusFilter {
    /// Parses ECR's `ImageStatusFilter` name.
    pub fn parse(s: &str) -> Result<Self, EcrError> {
        match s {
            "ACTIVE" => Ok(Self::Active),
            "ARCHIVED" => Ok(Self::Archived),
            "ACTIVATING" => Ok(Self::Activating),
            "ANY" => Ok(Self::Any),
            other => Err(EcrError::invalid_parameter(
                "filter.imageStatus",
                format!("Member must satisfy enum value set: [ACTIVE, ARCHIVED, ACTIVATING, ANY] (got {other:?})"),
            )),
        }
    }

    /// Whether an image passes.
    pub fn admits(self, image: &Image) -> bool {
        match self {
            Self::Active => image.archived_at.is_none(),
            Self::Archived => image.archived_at.is_some(),
            Self::Activating => false,
            Self::Any => true,
        }
    }
}

/// An `ImageIdentifier` in a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageQuery {
    /// `imageDigest`.
    pub digest: Option<String>,
    /// `imageTag`.
    pub tag: Option<String>,
}

/// A per-image failure of a batch call (`ImageFailure`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The image id as requested.
    pub id: ImageQuery,
    /// `failureCode`.
    pub code: &'static str,
    /// `failureReason`.
    pub reason: String,
}

impl Failure {
    fn new(id: &ImageQuery, code: &'static str, reason: impl Into<String>) -> Self {
        Self { id: id.clone(), code, reason: reason.into() }
    }
}

/// An image identifier in an answer: a digest, and the tag it was named by or carries.
pub type DigestAndTag = (String, Option<String>);

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// The token for the next page, if there is one.
    pub next_token: Option<String>,
}

/// The arguments of `PutImage`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutImage {
    /// `imageManifest`.
    pub manifest: String,
    /// `imageManifestMediaType`.
    pub media_type: Option<String>,
    /// `imageTag`.
    pub tag: Option<String>,
    /// `imageDigest`: if given, must equal the manifest's digest.
    pub digest: Option<String>,
}

/// An image as `BatchGetImage` answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedImage {
    /// The digest.
    pub digest: String,
    /// The tag it was asked for by, if any.
    pub tag: Option<String>,
    /// The manifest text.
    pub manifest: String,
    /// Its media type.
    pub media_type: String,
}

fn encode_token(op: &str, key: &str) -> String {
    format!("{op}\n{key}").bytes().map(|b| format!("{:02x}", b ^ 0x5a)).collect()
}

fn decode_token(op: &str, token: &str) -> Result<String, EcrError> {
    let invalid = || EcrError::invalid_parameter("nextToken", "Invalid NextToken");
    if !token.len().is_multiple_of(2) || !token.is_ascii() {
        return Err(invalid());
    }
    let bytes: Vec<u8> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&token[i..i + 2], 16).map(|b| b ^ 0x5a))
        .collect::<Result<_, _>>()
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    match text.split_once('\n') {
        Some((o, key)) if o == op => Ok(key.to_string()),
        _ => Err(invalid()),
    }
}

/// A key that pages are ordered by and that a page token carries.
pub trait PageKey: Ord + Sized {
    /// The key as the token writes it.
    fn to_token(&self) -> String;
    /// The key a token carries; `None` for text no page ever ended with.
    fn from_token(text: &str) -> Option<Self>;
}

impl PageKey for String {
    fn to_token(&self) -> String {
        self.clone()
    }

    fn from_token(text: &str) -> Option<Self> {
        Some(text.to_owned())
    }
}

/// A position in push order (an image's `seq`, a preview result's index).
impl PageKey for u64 {
    fn to_token(&self) -> String {
        self.to_string()
    }

    fn from_token(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

/// An image's `seq` and the index of one of its tags.
impl PageKey for (u64, usize) {
    fn to_token(&self) -> String {
        format!("{}.{}", self.0, self.1)
    }

    fn from_token(text: &str) -> Option<Self> {
        let (seq, n) = text.split_once('.')?;
        Some((seq.parse().ok()?, n.parse().ok()?))
    }
}

/// Pages over items sorted by their keys, with opaque tokens bound to the operation `op`.
///
/// Items are taken lazily and keys compared as they are, so a page costs a key comparison per item
/// before it and nothing more: the last page of a large repository is as cheap to serve as the first.
pub fn paginate<K: PageKey, T>(
    op: &str,
    items: impl IntoIterator<Item = (K, T)>,
    token: Option<&str>,
    max: usize,
) -> Result<Page<T>, EcrError> {
    let after = match token {
        Some(t) => Some(
            K::from_token(&decode_token(op, t)?)
                .ok_or_else(|| EcrError::invalid_parameter("nextToken", "Invalid NextToken"))?,
        ),
        None => None,
    };
    let mut iter = items.into_iter().filter(|(k, _)| after.as_ref().is_none_or(|a| k > a)).peekable();
    let mut out = Vec::new();
    let mut last = None;
    while out.len() < max {
        match iter.next() {
            Some((k, v)) => {
                last = Some(k);
                out.push(v);
            }
            None => break,
        }
    }
    let next_token = match (iter.peek(), last) {
        (Some(_), Some(k)) => Some(encode_token(op, &k.to_token())),
        _ => None,
    };
    Ok(Page { items: out, next_token })
}

/// Everything the registry holds.
#[derive(Debug)]
pub struct Registry {
    account: String,
    repos: BTreeMap<String, Repository>,
    next_seq: u64,
}

impl Registry {
    /// An empty registry of an account.
    pub fn new(account: impl Into<String>) -> Self {
        Self { account: account.into(), repos: BTreeMap::new(), next_seq: 1 }
    }

    /// The registry id (the account).
    pub fn account(&self) -> &str {
        &self.account
    }

    /// A repository, or `RepositoryNotFoundException`.
    pub fn repo(&self, name: &str) -> Result<&Repository, EcrError> {
        self.repos.get(name).ok_or_else(|| EcrError::repository_not_found(name, &self.account))
    }

    /// A repository to change, or `RepositoryNotFoundException`.
    pub fn repo_mut(&mut self, name: &str) -> Result<&mut Repository, EcrError> {
        let account = &self.account;
        self.repos.get_mut(name).ok_or_else(|| EcrError::repository_not_found(name, account))
    }

    /// `CreateRepository`.
    pub fn create_repository(
        &mut self,
        name: &str,
        mutability: TagMutability,
        exclusion_filters: Vec<String>,
        now: Timestamp,
    ) -> Result<&Repository, EcrError> {
        check_repository_name(name)?;
        check_exclusions(mutability, &exclusion_filters)?;
        if self.repos.contains_key(name) {
            return Err(EcrError::repository_already_exists(name, &self.account));
        }
        let repo = Repository {
            name: name.to_string(),
            created_at: millis(now),
            mutability,
            exclusion_filters,
            images: Vec::new(),
            lifecycle: None,
            preview: None,
        };
        Ok(self.repos.entry(name.to_string()).or_insert(repo))
    }

    /// `DescribeRepositories`: the named repositories (every one must exist), or a page of all.
    pub fn describe_repositories(
        &self,
        names: Option<&[String]>,
        token: Option<&str>,
        max: usize,
    ) -> Result<Page<&Repository>, EcrError> {
        match names {
            Some(names) => {
                let mut out: Vec<&Repository> = Vec::new();
                for n in names {
                    let r = self.repo(n)?;
                    if !out.iter().any(|o| o.name == r.name) {
                        out.push(r);
                    }
                }
                Ok(Page { items: out, next_token: None })
            }
            None => paginate("DescribeRepositories", self.repos.iter().map(|(k, v)| (k.clone(), v)), token, max),
        }
    }

    /// `DeleteRepository`: refuses a repository with images unless `force`.
    pub fn delete_repository(&mut self, name: &str, force: bool) -> Result<Repository, EcrError> {
        let repo = self.repo(name)?;
        if !repo.images.is_empty() && !force {
            return Err(EcrError::repository_not_empty(name, &self.account));
        }
        Ok(self.repos.remove(name).expect("checked above"))
    }

    /// `PutImage`.
    pub fn put_image(&mut self, repo_name: &str, put: PutImage, now: Timestamp) -> Result<Image, EcrError> {
        if put.manifest.is_empty() {
            return Err(EcrError::invalid_parameter(
                "imageManifest",
                "Member must have length greater than or equal to 1",
            ));
        }
        if put.manifest.len() > MAX_MANIFEST_BYTES {
            return Err(EcrError::invalid_parameter(
                "imageManifest",
                format!("Member must have length less than or equal to {MAX_MANIFEST_BYTES}"),
            ));
        }
        if let Some(tag) = &put.tag {
            check_tag("imageTag", tag)?;
        }
        let account = self.account.clone();
        let repo = self.repo_mut(repo_name)?;
        let doc: Value = serde_json::from_str(&put.manifest)
            .map_err(|e| EcrError::invalid_parameter("ImageManifest", format!("Invalid JSON syntax: {e}")))?;
        if !doc.is_object() {
            return Err(EcrError::invalid_parameter("ImageManifest", "the manifest must be a JSON object"));
        }
        let digest = digest_of(&put.manifest);
        if let Some(given) = &put.digest
            && given != &digest
        {
            return Err(EcrError::image_digest_does_not_match(given, &digest));
        }
        let in_manifest = doc.get("mediaType").and_then(Value::as_str);
        let media_type = match (in_manifest, put.media_type.as_deref()) {
            (Some(m), Some(p)) if m != p => {
                return Err(EcrError::invalid_parameter(
                    "imageManifestMediaType",
                    format!("the media type {p:?} does not match the manifest's mediaType {m:?}"),
                ));
            }
            (Some(m), _) | (None, Some(m)) => m.to_string(),
            (None, None) => DOCKER_MANIFEST_V2.to_string(),
        };
        let existing = repo.by_digest(&digest);
        match &put.tag {
            None => {
                if existing.is_some() {
                    return Err(EcrError::image_already_exists(&digest, None, repo_name, &account));
                }
            }
            Some(tag) => {
                if let Some(holder) = repo.by_tag(tag) {
                    if Some(holder) == existing {
                        return Err(EcrError::image_already_exists(&digest, Some(tag), repo_name, &account));
                    }
                    if repo.tag_is_immutable(tag) {
                        return Err(EcrError::image_tag_already_exists(tag, repo_name));
                    }
                    // ECR leaves the image the tag moved away from in place, untagged if that was
                    // its last tag (moto deletes it).
                    repo.images[holder].tags.retain(|t| t != tag);
                }
            }
        }
        if let Some(i) = existing {
            let image = &mut repo.images[i];
            if let Some(tag) = put.tag {
                image.tags.push(tag);
            }
            return Ok(image.clone());
        }
        let children: Vec<String> = doc
            .get("manifests")
            .and_then(Value::as_array)
            .map(|ms| ms.iter().filter_map(|m| m.get("digest").and_then(Value::as_str).map(str::to_string)).collect())
            .unwrap_or_default();
        let size_bytes = if doc.get("manifests").is_some() {
            children.iter().filter_map(|c| repo.by_digest(c)).map(|i| repo.images[i].size_bytes).max().unwrap_or(0)
        } else {
            doc.get("layers")
                .and_then(Value::as_array)
                .map(|ls| ls.iter().filter_map(|l| l.get("size").and_then(Value::as_u64)).sum())
                .unwrap_or(0)
        };
        let image = Image {
            seq: self.next_seq,
            digest,
            tags: put.tag.into_iter().collect(),
            manifest: put.manifest,
            manifest_media_type: media_type,
            artifact_media_type: doc
                .get("config")
                .and_then(|c| c.get("mediaType"))
                .and_then(Value::as_str)
                .map(str::to_string),
            size_bytes,
            pushed_at: millis(now),
            last_recorded_pull_time: None,
            archived_at: None,
            children,
        };
        self.next_seq += 1;
        let repo = self.repo_mut(repo_name)?;
        repo.images.push(image.clone());
        Ok(image)
    }

    /// Finds the image an identifier names, or the failure ECR reports for it.
    pub fn resolve(repo: &Repository, q: &ImageQuery) -> Result<usize, Failure> {
        if let Some(d) = &q.digest
            && !valid_digest(d)
        {
            return Err(Failure::new(q, "InvalidImageDigest", "Invalid image digest"));
        }
        if let Some(t) = &q.tag
            && check_tag("imageTag", t).is_err()
        {
            return Err(Failure::new(q, "InvalidImageTag", "Invalid image tag"));
        }
        let not_found = || Failure::new(q, "ImageNotFound", "Requested image not found");
        match (&q.digest, &q.tag) {
            (None, None) => Err(Failure::new(
                q,
                "MissingDigestAndTag",
                "Invalid request parameters: both tag and digest cannot be null",
            )),
            (Some(d), tag) => {
                let i = repo.by_digest(d).ok_or_else(not_found)?;
                match tag {
                    Some(t) if !repo.images[i].tags.contains(t) => Err(Failure::new(
                        q,
                        "ImageTagDoesNotMatchDigest",
                        "Invalid request parameters: given tag does not map to the given digest",
                    )),
                    _ => Ok(i),
                }
            }
            (None, Some(t)) => repo.by_tag(t).ok_or_else(not_found),
        }
    }

    /// `BatchGetImage`, which is how a client pulls a manifest: it records the pull time.
    pub fn batch_get_image(
        &mut self,
        repo_name: &str,
        ids: &[ImageQuery],
        now: Timestamp,
    ) -> Result<(Vec<FetchedImage>, Vec<Failure>), EcrError> {
        check_id_count(ids)?;
        let repo = self.repo_mut(repo_name)?;
        let mut images = Vec::new();
        let mut failures = Vec::new();
        for q in ids {
            match Self::resolve(repo, q) {
                Ok(i) => {
                    let image = &mut repo.images[i];
                    image.last_recorded_pull_time = Some(millis(now));
                    images.push(FetchedImage {
                        digest: image.digest.clone(),
                        tag: q.tag.clone(),
                        manifest: image.manifest.clone(),
                        media_type: image.manifest_media_type.clone(),
                    });
                }
                Err(f) => failures.push(f),
            }
        }
        Ok((images, failures))
    }

    /// `DescribeImages`: the named images (every one must exist), or a page of those passing the
    /// filters, in push order.
    pub fn describe_images(
        &self,
        repo_name: &str,
        ids: Option<&[ImageQuery]>,
        tags: TagFilter,
        status: StatusFilter,
        token: Option<&str>,
        max: usize,
    ) -> Result<Page<&Image>, EcrError> {
        let repo = self.repo(repo_name)?;
        if let Some(ids) = ids {
            check_id_count(ids)?;
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            for q in ids {
                match Self::resolve(repo, q) {
                    Ok(i) => {
                        let image = &repo.images[i];
                        if seen.insert(i) && tags.admits(&image.tags) {
                            out.push(image);
                        }
                    }
                    Err(f) if f.code == "ImageNotFound" || f.code == "ImageTagDoesNotMatchDigest" => {
                        return Err(EcrError::image_not_found(
                            q.digest.as_deref(),
                            q.tag.as_deref(),
                            repo_name,
                            &self.account,
                        ));
                    }
                    Err(f) => return Err(EcrError::invalid_parameter("imageIds", f.reason)),
                }
            }
            return Ok(Page { items: out, next_token: None });
        }
        let items = repo.images.iter().filter(|i| tags.admits(&i.tags) && status.admits(i)).map(|i| (i.seq, i));
        paginate("DescribeImages", items, token, max)
    }

    /// `ListImages`: one entry per tag (an untagged image is one entry with its digest only).
    pub fn list_images(
        &self,
        repo_name: &str,
        tags: TagFilter,
        token: Option<&str>,
        max: usize,
    ) -> Result<Page<DigestAndTag>, EcrError> {
        let repo = self.repo(repo_name)?;
        let entries = repo.images.iter().filter(|i| tags.admits(&i.tags)).flat_map(|image| {
            let untagged = image.tags.is_empty().then_some(((image.seq, 0), (&image.digest, None)));
            let tagged = image.tags.iter().enumerate().map(|(n, t)| ((image.seq, n), (&image.digest, Some(t))));
            untagged.into_iter().chain(tagged)
        });
        let page = paginate("ListImages", entries, token, max)?;
        let items = page.items.into_iter().map(|(d, t)| (d.clone(), t.cloned())).collect();
        Ok(Page { items, next_token: page.next_token })
    }

    /// `BatchDeleteImage`: a tag deletes that tag (and the image with its last tag), a digest the
    /// image with all its tags. Answers what was deleted and why the rest was not.
    pub fn batch_delete_image(
        &mut self,
        repo_name: &str,
        ids: &[ImageQuery],
    ) -> Result<(Vec<DigestAndTag>, Vec<Failure>), EcrError> {
        check_id_count(ids)?;
        let repo = self.repo_mut(repo_name)?;
        let mut deleted = Vec::new();
        let mut failures = Vec::new();
        for q in ids {
            let i = match Self::resolve(repo, q) {
                Ok(i) => i,
                Err(f) => {
                    failures.push(f);
                    continue;
                }
            };
            let digest = repo.images[i].digest.clone();
            let removes_image = q.tag.is_none() || repo.images[i].tags.len() == 1;
            if removes_image && let Some(list) = repo.images.iter().find(|m| m.children.contains(&digest)) {
                failures.push(Failure::new(
                    q,
                    "ImageReferencedByManifestList",
                    format!("Requested image referenced by manifest list: [{}]", list.digest),
                ));
                continue;
            }
            match &q.tag {
                Some(tag) => {
                    repo.images[i].tags.retain(|t| t != tag);
                    deleted.push((digest, Some(tag.clone())));
                    if repo.images[i].tags.is_empty() {
                        repo.images.remove(i);
                    }
                }
                None => {
                    let image = repo.images.remove(i);
                    if image.tags.is_empty() {
                        deleted.push((digest.clone(), None));
                    }
                    deleted.extend(image.tags.into_iter().map(|t| (digest.clone(), Some(t))));
                }
            }
        }
        Ok((deleted, failures))
    }

    /// `PutImageTagMutability`.
    pub fn put_tag_mutability(
        &mut self,
        repo_name: &str,
        mutability: TagMutability,
        exclusion_filters: Vec<String>,
    ) -> Result<&Repository, EcrError> {
        check_exclusions(mutability, &exclusion_filters)?;
        let repo = self.repo_mut(repo_name)?;
        repo.mutability = mutability;
        repo.exclusion_filters = exclusion_filters;
        Ok(repo)
    }

    /// `PutLifecyclePolicy`: validates the text and stores it normalised.
    pub fn put_lifecycle_policy(&mut self, repo_name: &str, text: &str) -> Result<(), EcrError> {
        self.repo(repo_name)?;
        let policy = Policy::parse(text).map_err(EcrError::invalid_lifecycle_policy)?;
        let repo = self.repo_mut(repo_name)?;
        let last_evaluated_at = repo.lifecycle.as_ref().and_then(|l| l.last_evaluated_at);
        repo.lifecycle = Some(LifecyclePolicy { text: policy.normalised(), policy, last_evaluated_at });
        Ok(())
    }

    /// `GetLifecyclePolicy`.
    pub fn lifecycle_policy(&self, repo_name: &str) -> Result<&LifecyclePolicy, EcrError> {
        let repo = self.repo(repo_name)?;
        repo.lifecycle.as_ref().ok_or_else(|| EcrError::lifecycle_policy_not_found(repo_name, &self.account))
    }

    /// `DeleteLifecyclePolicy`.
    pub fn delete_lifecycle_policy(&mut self, repo_name: &str) -> Result<LifecyclePolicy, EcrError> {
        let account = self.account.clone();
        let repo = self.repo_mut(repo_name)?;
        repo.lifecycle.take().ok_or_else(|| EcrError::lifecycle_policy_not_found(repo_name, &account))
    }

    /// `StartLifecyclePolicyPreview`: evaluates `text` (or the stored policy) against the images now;
    /// the preview is complete at once.
    pub fn start_preview(&mut self, repo_name: &str, text: Option<&str>, now: Timestamp) -> Result<&Preview, EcrError> {
        let account = self.account.clone();
        let repo = self.repo_mut(repo_name)?;
        let policy = match text {
            Some(t) => Policy::parse(t).map_err(EcrError::invalid_lifecycle_policy)?,
            None => match &repo.lifecycle {
                Some(l) => l.policy.clone(),
                None => return Err(EcrError::lifecycle_policy_not_found(repo_name, &account)),
            },
        };
        let results = lifecycle_results(repo, &policy, now);
        Ok(repo.preview.insert(Preview { text: policy.normalised(), results }))
    }

    /// The latest preview, for `GetLifecyclePolicyPreview`.
    pub fn preview(&self, repo_name: &str) -> Result<&Preview, EcrError> {
        let repo = self.repo(repo_name)?;
        repo.preview.as_ref().ok_or_else(|| EcrError::lifecycle_policy_preview_not_found(repo_name, &self.account))
    }

    /// Runs the stored lifecycle policy now, as ECR's periodic evaluation does: expires and archives
    /// what it selects and records `lastEvaluatedAt`. Without a policy nothing happens.
    pub fn run_lifecycle(&mut self, repo_name: &str, now: Timestamp) -> Result<Vec<LifecycleResult>, EcrError> {
        let repo = self.repo_mut(repo_name)?;
        let Some(policy) = repo.lifecycle.as_ref().map(|l| l.policy.clone()) else {
            return Ok(Vec::new());
        };
        let results = lifecycle_results(repo, &policy, now);
        for r in &results {
            match r.action {
                ActionType::Expire => repo.images.retain(|i| i.digest != r.digest),
                ActionType::Transition => {
                    if let Some(i) = repo.by_digest(&r.digest) {
                        repo.images[i].archived_at = Some(millis(now));
                    }
                }
            }
        }
        if let Some(l) = repo.lifecycle.as_mut() {
            l.last_evaluated_at = Some(millis(now));
        }
        Ok(results)
    }

    /// Records a pull of `repository` by tag or digest: the image's digest and size if it exists
    /// (and is not archived).
    pub fn pull(
        &mut self,
        repo_name: &str,
        tag: Option<&str>,
        digest: Option<&str>,
        now: Timestamp,
    ) -> Option<(String, u64)> {
        let repo = self.repos.get_mut(repo_name)?;
        let i = match (digest, tag) {
            (Some(d), _) => repo.by_digest(d)?,
            (None, Some(t)) => repo.by_tag(t)?,
            (None, None) => return None,
        };
        let image = &mut repo.images[i];
        if image.archived_at.is_some() {
            return None;
        }
        image.last_recorded_pull_time = Some(millis(now));
        Some((image.digest.clone(), image.size_bytes))
    }
}

fn lifecycle_results(repo: &Repository, policy: &Policy, now: Timestamp) -> Vec<LifecycleResult> {
    let eval: Vec<EvalImage> = repo
        .images
        .iter()
        .map(|i| EvalImage {
            digest: i.digest.clone(),
            tags: i.tags.clone(),
            pushed_at: i.pushed_at,
            seq: i.seq,
            last_pulled_at: i.last_recorded_pull_time,
            archived_at: i.archived_at,
            in_manifest_list: repo.images.iter().any(|m| m.children.contains(&i.digest)),
        })
        .collect();
    evaluate(policy, &eval, now)
        .into_iter()
        .map(|v| {
            let image = &repo.images[v.index];
            LifecycleResult {
                digest: v.digest,
                tags: image.tags.clone(),
                pushed_at: image.pushed_at,
                action: v.action,
                rule_priority: v.rule_priority,
                storage_class: image.storage_class(),
            }
        })
        .collect()
}

fn check_id_count(ids: &[ImageQuery]) -> Result<(), EcrError> {
    if ids.is_empty() {
        return Err(EcrError::invalid_parameter("imageIds", "Member must have length greater than or equal to 1"));
    }
    if ids.len() > 100 {
        return Err(EcrError::invalid_parameter(
            "imageIds",
            format!("Member must have length less than or equal to 100 (got {})", ids.len()),
        ));
    }
    Ok(())
}

fn check_exclusions(m: TagMutability, filters: &[String]) -> Result<(), EcrError> {
    let with = matches!(m, TagMutability::MutableWithExclusion | TagMutability::ImmutableWithExclusion);
    if with && filters.is_empty() {
        return Err(EcrError::invalid_parameter(
            "imageTagMutabilityExclusionFilters",
            format!("at least one filter is required with imageTagMutability {}", m.as_str()),
        ));
    }
    if !with && !filters.is_empty() {
        return Err(EcrError::invalid_parameter(
            "imageTagMutabilityExclusionFilters",
            format!(
                "filters are only allowed with MUTABLE_WITH_EXCLUSION or IMMUTABLE_WITH_EXCLUSION, not {}",
                m.as_str()
            ),
        ));
    }
    if filters.len() > 5 {
        return Err(EcrError::invalid_parameter(
            "imageTagMutabilityExclusionFilters",
            "Member must have length less than or equal to 5",
        ));
    }
    for f in filters {
        let ok = (1..=128).contains(&f.len()) && f.chars().all(|c| c.is_ascii_alphanumeric() || "._*-".contains(c));
        if !ok {
            return Err(EcrError::invalid_parameter(
                "imageTagMutabilityExclusionFilters.filter",
                format!("must satisfy regular expression '^[0-9a-zA-Z._*-]{{1,128}}' (the filter {f:?} does not)"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    fn manifest(n: u32) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST_V2}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":7,"digest":"sha256:{n:064x}"}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":{},"digest":"sha256:{n:064x}"}}]}}"#,
            1000 + n
        )
    }

    fn registry() -> Registry {
        let mut r = Registry::new("123456789012");
        r.create_repository("app", TagMutability::Mutable, vec![], now()).unwrap();
        r
    }

    fn put(r: &mut Registry, n: u32, tag: Option<&str>) -> Result<Image, EcrError> {
        r.put_image(
            "app",
            PutImage { manifest: manifest(n), tag: tag.map(str::to_string), ..Default::default() },
            now(),
        )
    }

    #[test]
    fn digests_are_the_sha256_of_the_manifest_bytes() {
        assert_eq!(digest_of(""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        let mut r = registry();
        let image = put(&mut r, 1, Some("v1")).unwrap();
        assert_eq!(image.digest, digest_of(&manifest(1)));
        assert_eq!(image.size_bytes, 1001);
        assert_eq!(image.artifact_media_type.as_deref(), Some("application/vnd.docker.container.image.v1+json"));
    }

    #[test]
    fn moving_a_tag_leaves_the_old_image_untagged() {
        let mut r = registry();
        let old = put(&mut r, 1, Some("latest")).unwrap();
        put(&mut r, 2, Some("latest")).unwrap();
        let repo = r.repo("app").unwrap();
        assert_eq!(repo.images.len(), 2);
        assert!(repo.images[repo.by_digest(&old.digest).unwrap()].tags.is_empty());
    }

    #[test]
    fn pushing_again_adds_tags_or_answers_already_exists() {
        let mut r = registry();
        let a = put(&mut r, 1, Some("v1")).unwrap();
        let b = put(&mut r, 1, Some("v1-alias")).unwrap();
        assert_eq!((a.digest.clone(), a.pushed_at), (b.digest.clone(), b.pushed_at));
        assert_eq!(b.tags, ["v1", "v1-alias"]);
        assert_eq!(put(&mut r, 1, Some("v1")).unwrap_err().code, "ImageAlreadyExistsException");
        assert_eq!(put(&mut r, 1, None).unwrap_err().code, "ImageAlreadyExistsException");
    }

    #[test]
    fn immutable_tags_refuse_to_move_but_accept_new_tags() {
        let mut r = registry();
        r.put_tag_mutability("app", TagMutability::Immutable, vec![]).unwrap();
        put(&mut r, 1, Some("v1")).unwrap();
        let e = put(&mut r, 2, Some("v1")).unwrap_err();
        assert_eq!(e.code, "ImageTagAlreadyExistsException");
        assert!(e.message.contains("'v1'") && e.message.contains("'app'"), "{e}");
        put(&mut r, 1, Some("v1-again")).unwrap();
        r.put_tag_mutability("app", TagMutability::ImmutableWithExclusion, vec!["latest".into()]).unwrap();
        put(&mut r, 1, Some("latest")).unwrap();
        put(&mut r, 2, Some("latest")).unwrap();
    }

    #[test]
    fn invalid_pushes_name_the_parameter() {
        let mut r = registry();
        let bad = |r: &mut Registry, p: PutImage| r.put_image("app", p, now()).unwrap_err().message;
        assert!(bad(&mut r, PutImage { manifest: "{".into(), ..Default::default() }).contains("'ImageManifest'"));
        let e = bad(&mut r, PutImage { manifest: manifest(1), tag: Some("-x".into()), ..Default::default() });
        assert!(e.contains("'imageTag'"), "{e}");
        let e = bad(&mut r, PutImage { manifest: manifest(1), digest: Some("sha256:00".into()), ..Default::default() });
        assert!(e.contains("does not match"), "{e}");
        assert_eq!(
            r.put_image("nope", PutImage { manifest: manifest(1), ..Default::default() }, now()).unwrap_err().code,
            "RepositoryNotFoundException"
        );
    }

    #[test]
    fn repository_names_follow_ecr_rules() {
        for ok in ["ab", "team/app", "a-b_c.d/e2"] {
            check_repository_name(ok).unwrap();
        }
        for bad in ["a", "App", "a//b", "-ab", "ab-", "a--b", "/ab", &"a".repeat(257)] {
            assert_eq!(check_repository_name(bad).unwrap_err().code, "InvalidParameterException", "{bad}");
        }
    }

    #[test]
    fn pages_continue_where_the_token_says_even_after_deletions() {
        let mut r = registry();
        for n in 0..7 {
            put(&mut r, n, Some(&format!("t{n}"))).unwrap();
        }
        let p1 = r.describe_images("app", None, TagFilter::Any, StatusFilter::Active, None, 3).unwrap();
        let t1 = p1.next_token.clone().unwrap();
        assert_eq!(p1.items.len(), 3);
        let delete = [ImageQuery { tag: Some("t3".into()), ..Default::default() }];
        r.batch_delete_image("app", &delete).unwrap();
        let p2 = r.describe_images("app", None, TagFilter::Any, StatusFilter::Active, Some(&t1), 3).unwrap();
        let tags: Vec<&str> = p2.items.iter().map(|i| i.tags[0].as_str()).collect();
        assert_eq!(tags, ["t4", "t5", "t6"]);
        assert!(p2.next_token.is_none());
        let e = r.describe_images("app", None, TagFilter::Any, StatusFilter::Active, Some("zz"), 3).unwrap_err();
        assert_eq!(e.code, "InvalidParameterException");
        let list_token = r.list_images("app", TagFilter::Any, None, 2).unwrap().next_token.unwrap();
        assert!(r.describe_images("app", None, TagFilter::Any, StatusFilter::Active, Some(&list_token), 3).is_err());
    }

    #[test]
    fn list_pages_split_an_image_between_its_tags_and_go_on_from_there() {
        let mut r = registry();
        put(&mut r, 1, None).unwrap();
        for tag in ["a", "b", "c"] {
            put(&mut r, 2, Some(tag)).unwrap();
        }
        put(&mut r, 3, Some("d")).unwrap();
        let mut seen = Vec::new();
        let mut token = None;
        loop {
            let page = r.list_images("app", TagFilter::Any, token.as_deref(), 2).unwrap();
            seen.extend(page.items.into_iter().map(|(_, t)| t));
            match page.next_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        let tags: Vec<Option<&str>> = seen.iter().map(Option::as_deref).collect();
        assert_eq!(tags, [None, Some("a"), Some("b"), Some("c"), Some("d")]);
        // A token of the right operation whose position is not one a page ends at.
        let forged = encode_token("ListImages", "7");
        assert_eq!(
            r.list_images("app", TagFilter::Any, Some(&forged), 2).unwrap_err().code,
            "InvalidParameterException"
        );
    }

    #[test]
    fn batch_delete_reports_each_failure_and_deletes_images_with_their_last_tag() {
        let mut r = registry();
        let a = put(&mut r, 1, Some("a1")).unwrap();
        put(&mut r, 1, Some("a2")).unwrap();
        let b = put(&mut r, 2, None).unwrap();
        let q =
            |d: Option<&str>, t: Option<&str>| ImageQuery { digest: d.map(str::to_string), tag: t.map(str::to_string) };
        let (deleted, failures) = r
            .batch_delete_image(
                "app",
                &[
                    q(None, Some("a1")),
                    q(Some(&b.digest), None),
                    q(None, Some("gone")),
                    q(Some("nope"), None),
                    q(None, None),
                ],
            )
            .unwrap();
        assert_eq!(deleted, [(a.digest.clone(), Some("a1".to_string())), (b.digest.clone(), None)]);
        let codes: Vec<&str> = failures.iter().map(|f| f.code).collect();
        assert_eq!(codes, ["ImageNotFound", "InvalidImageDigest", "MissingDigestAndTag"]);
        assert_eq!(r.repo("app").unwrap().images.len(), 1);
        r.batch_delete_image("app", &[q(None, Some("a2"))]).unwrap();
        assert!(r.repo("app").unwrap().images.is_empty());
        let many: Vec<ImageQuery> = (0..101).map(|i| q(None, Some(&format!("t{i}")))).collect();
        let e = r.batch_delete_image("app", &many).unwrap_err();
        assert!(e.message.contains("less than or equal to 100"), "{e}");
    }

    #[test]
    fn lifecycle_runs_expire_what_the_preview_showed() {
        let mut r = registry();
        for n in 0..4 {
            put(&mut r, n, None).unwrap();
        }
        let text = r#"{"rules":[{"rulePriority":1,"description":"keep two untagged images","selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":2},"action":{"type":"expire"}}]}"#;
        r.put_lifecycle_policy("app", text).unwrap();
        let preview = r.start_preview("app", None, now()).unwrap().results.clone();
        assert_eq!(preview.len(), 2);
        let ran = r.run_lifecycle("app", now()).unwrap();
        assert_eq!(ran, preview);
        assert_eq!(r.repo("app").unwrap().images.len(), 2);
        assert_eq!(r.lifecycle_policy("app").unwrap().last_evaluated_at, Some(now()));
    }

    #[test]
    fn transition_rules_archive_images_which_listings_then_leave_out() {
        let mut r = registry();
        let old = put(&mut r, 1, Some("v1")).unwrap();
        let text = r#"{"rules":[{"rulePriority":1,"description":"archive what nobody pulled for 30 days","selection":{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":30},"action":{"type":"transition","targetStorageClass":"archive"}}]}"#;
        r.put_lifecycle_policy("app", text).unwrap();
        let later = now() + jiff::SignedDuration::from_hours(24 * 31);
        put(&mut r, 2, Some("v2")).unwrap();
        r.pull("app", Some("v2"), None, later).unwrap();
        let ran = r.run_lifecycle("app", later).unwrap();
        assert_eq!(
            ran.iter().map(|x| (x.digest.as_str(), x.action)).collect::<Vec<_>>(),
            [(old.digest.as_str(), ActionType::Transition)]
        );
        let listed =
            |r: &Registry, s| r.describe_images("app", None, TagFilter::Any, s, None, 100).unwrap().items.len();
        assert_eq!(
            (listed(&r, StatusFilter::Active), listed(&r, StatusFilter::Archived), listed(&r, StatusFilter::Any)),
            (1, 1, 2)
        );
        assert!(r.pull("app", Some("v1"), None, later).is_none(), "archived images do not pull");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn token_decoding_never_panics(token in "\\PC{0,40}") {
            let _ = decode_token("DescribeImages", &token);
        }

        #[test]
        fn tokens_round_trip(key in "\\PC{0,40}") {
            proptest::prop_assert_eq!(decode_token("ListImages", &encode_token("ListImages", &key)).unwrap(), key);
        }

        #[test]
        fn page_keys_round_trip_and_read_any_text_without_panicking(seq: u64, n: usize, text in "\\PC{0,30}") {
            proptest::prop_assert_eq!(u64::from_token(&seq.to_token()), Some(seq));
            proptest::prop_assert_eq!(<(u64, usize)>::from_token(&(seq, n).to_token()), Some((seq, n)));
            let _ = (u64::from_token(&text), <(u64, usize)>::from_token(&text));
        }

        #[test]
        fn name_and_tag_checks_never_panic(s in "\\PC{0,20}") {
            let _ = check_repository_name(&s);
            let _ = check_tag("imageTag", &s);
            let _ = valid_digest(&s);
        }
    }
}
