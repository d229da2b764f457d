//! Pure: which containers an image change targets, and the one strategic merge patch that makes it.

use std::fmt;
use std::str::FromStr;

use k8s_openapi::api::core::v1::PodSpec;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::image::{ImageRef, ImageTag};
use crate::report::ImageUpdate;
use crate::workload::{CHANGE_CAUSE_ANNOTATION, WorkloadRef};

/// The container name that targets every container, init containers included, as in `kubectl set image`.
pub const ALL_CONTAINERS: &str = "*";

/// One image change: `container=image`, `*=image` for every container, or a bare image for a workload
/// with a single app container.
///
/// ```
/// use rollout_core::deploy::SetImage;
/// let change: SetImage = "app=registry.example/app:1.2.0".parse().unwrap();
/// assert_eq!(change.container.as_deref(), Some("app"));
/// let only: SetImage = "registry.example/app:1.2.0".parse().unwrap();
/// assert_eq!(only.container, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetImage {
    /// The container's name, [`ALL_CONTAINERS`], or `None` for the only app container.
    pub container: Option<String>,
    /// The new image.
    pub image: ImageRef,
}

impl SetImage {
    /// Sets `image` on the named container.
    pub fn new(container: impl Into<String>, image: ImageRef) -> Self {
        SetImage { container: Some(container.into()), image }
    }

    /// Sets `image` on the workload's only app container.
    pub fn only(image: ImageRef) -> Self {
        SetImage { container: None, image }
    }

    /// Sets `image` on every container, init containers included.
    pub fn all(image: ImageRef) -> Self {
        SetImage { container: Some(ALL_CONTAINERS.to_owned()), image }
    }
}

impl FromStr for SetImage {
    type Err = Error;

    /// Parses `container=image` or a bare `image` (image references never contain `=`).
    fn from_str(s: &str) -> Result<Self> {
        match s.split_once('=') {
            Some((container, image)) => {
                if container.is_empty() {
                    return Err(Error::InvalidInput {
                        field: "image".into(),
                        value: s.into(),
                        reason: "write CONTAINER=IMAGE with a container name, * for every container, or just IMAGE"
                            .into(),
                    });
                }
                Ok(SetImage { container: Some(container.to_owned()), image: image.parse()? })
            }
            None => Ok(SetImage { container: None, image: s.parse()? }),
        }
    }
}

impl fmt::Display for SetImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.container {
            Some(c) => write!(f, "{c}={}", self.image),
            None => write!(f, "{}", self.image),
        }
    }
}

/// A new tag for the image a container runs now: `container=:tag`, `*=:tag`, or `:tag` for a
/// workload with a single app container. The repository stays what the container runs; only the tag
/// changes (and a digest pinning the old image is dropped).
///
/// ```
/// use rollout_core::deploy::SetTag;
/// let change: SetTag = "app=:latest-release-1.0.1".parse().unwrap();
/// assert_eq!(change.container.as_deref(), Some("app"));
/// assert_eq!(change.tag.as_str(), "latest-release-1.0.1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetTag {
    /// The container's name, [`ALL_CONTAINERS`], or `None` for the only app container.
    pub container: Option<String>,
    /// The new tag.
    pub tag: ImageTag,
}

impl SetTag {
    /// Sets `tag` on the named container's image.
    pub fn new(container: impl Into<String>, tag: ImageTag) -> Self {
        SetTag { container: Some(container.into()), tag }
    }

    /// Sets `tag` on the image of the workload's only app container.
    pub fn only(tag: ImageTag) -> Self {
        SetTag { container: None, tag }
    }
}

impl FromStr for SetTag {
    type Err = Error;

    /// Parses `container=:tag` or `:tag` (the leading colon may be left out).
    fn from_str(s: &str) -> Result<Self> {
        let (container, tag) = match s.split_once('=') {
            Some(("", _)) => {
                return Err(Error::InvalidInput {
                    field: "image".into(),
                    value: s.into(),
                    reason: "write CONTAINER=:TAG with a container name, * for every container, or just :TAG".into(),
                });
            }
            Some((container, tag)) => (Some(container.to_owned()), tag),
            None => (None, s),
        };
        Ok(SetTag { container, tag: tag.strip_prefix(':').unwrap_or(tag).parse()? })
    }
}

impl fmt::Display for SetTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.container {
            Some(c) => write!(f, "{c}=:{}", self.tag),
            None => write!(f, ":{}", self.tag),
        }
    }
}

/// What an image argument asks for: a whole image reference, or only a new tag for the image the
/// container runs now.
///
/// As text: `:TAG` is a tag; a word without `/`, `:` or `@` is a tag too (`latest-release-1.0.1`);
/// anything else is an image reference (`repo/app:1.0.1`, `nginx:1.27`,
/// `123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1.0.1`). So a Docker Hub library image needs
/// its tag or its registry written out (`nginx:1.27`, `docker.io/library/nginx`): a bare `nginx`
/// means the tag `nginx`.
///
/// ```
/// use rollout_core::deploy::NewImage;
/// assert!(matches!(":1.0.1".parse::<NewImage>().unwrap(), NewImage::Tag(_)));
/// assert!(matches!("latest-release-1.0.1".parse::<NewImage>().unwrap(), NewImage::Tag(_)));
/// assert!(matches!("repo/app:1.0.1".parse::<NewImage>().unwrap(), NewImage::Reference(_)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewImage {
    /// A whole image reference.
    Reference(ImageRef),
    /// A tag for the image the container runs now.
    Tag(ImageTag),
}

impl NewImage {
    /// The change of this image on `container` (`None`: the only app container).
    pub fn for_container(&self, container: Option<&str>) -> ImageChange {
        let container = container.map(str::to_owned);
        match self {
            NewImage::Reference(image) => ImageChange::Image(SetImage { container, image: image.clone() }),
            NewImage::Tag(tag) => ImageChange::Tag(SetTag { container, tag: tag.clone() }),
        }
    }
}

impl FromStr for NewImage {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        if let Some(tag) = s.strip_prefix(':') {
            return Ok(NewImage::Tag(tag.parse()?));
        }
        if !s.contains(['/', ':', '@']) {
            return Ok(NewImage::Tag(s.parse()?));
        }
        Ok(NewImage::Reference(s.parse()?))
    }
}

impl fmt::Display for NewImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NewImage::Reference(r) => write!(f, "{r}"),
            NewImage::Tag(t) => write!(f, ":{t}"),
        }
    }
}

/// One change of a container's image: a whole reference, or a new tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageChange {
    /// Set this image.
    Image(SetImage),
    /// Set this tag on the image the container runs.
    Tag(SetTag),
}

/// Turns tag changes into image changes against the pod spec the workload has now: each targeted
/// container (by name, `*` for all, init containers included, or the only app container) gets its
/// current image with the new tag.
///
/// Errors: [`Error::ContainerNotFound`] for a name that matches nothing, [`Error::InvalidInput`] for
/// a nameless change when there are several app containers, or when a container's current image
/// cannot be read as an image reference.
pub fn retag(workload: &WorkloadRef, spec: Option<&PodSpec>, tags: &[SetTag]) -> Result<Vec<SetImage>> {
    let containers: Vec<(&str, &str, bool)> = spec
        .into_iter()
        .flat_map(|s| {
            let init = s.init_containers.iter().flatten().map(|c| (c, true));
            init.chain(s.containers.iter().map(|c| (c, false)))
        })
        .map(|(c, init)| (c.name.as_str(), c.image.as_deref().unwrap_or_default(), init))
        .collect();
    let available = || containers.iter().map(|(n, _, _)| (*n).to_owned()).collect::<Vec<_>>();
    let mut out = Vec::new();
    for t in tags {
        let targets: Vec<&(&str, &str, bool)> = match t.container.as_deref() {
            Some(ALL_CONTAINERS) => containers.iter().collect(),
            Some(name) => containers.iter().filter(|(n, _, _)| *n == name).collect(),
            None => {
                let app: Vec<_> = containers.iter().filter(|(_, _, init)| !init).collect();
                if app.len() > 1 {
                    let names: Vec<&str> = app.iter().map(|(n, _, _)| *n).collect();
                    return Err(Error::InvalidInput {
                        field: "container".into(),
                        value: String::new(),
                        reason: format!(
                            "{workload} has {} containers ({}): name the container whose tag changes",
                            names.len(),
                            names.join(", ")
                        ),
                    });
                }
                app
            }
        };
        if targets.is_empty() {
            return Err(Error::ContainerNotFound {
                workload: Box::new(workload.clone()),
                container: t.container.clone().unwrap_or_default(),
                available: available(),
            });
        }
        for (name, image, _) in targets {
            let current: ImageRef = image.parse().map_err(|e: Error| Error::InvalidInput {
                field: "image".into(),
                value: t.to_string(),
                reason: format!("container {name} runs {image:?}, which cannot be re-tagged: {e}"),
            })?;
            out.push(SetImage::new(*name, current.with_tag(t.tag.clone())));
        }
    }
    Ok(out)
}

/// A targeted container, with its image before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerChange {
    /// The container's name.
    pub container: String,
    /// Whether it is an init container.
    pub init: bool,
    /// The image in the template now.
    pub previous: String,
    /// The image asked for.
    pub new: String,
}

impl ContainerChange {
    /// Whether the image actually changes.
    pub fn changes(&self) -> bool {
        self.previous != self.new
    }

    /// As a report entry.
    pub fn to_update(&self) -> ImageUpdate {
        ImageUpdate {
            container: self.container.clone(),
            init: self.init,
            previous: Some(self.previous.clone()),
            new: self.new.clone(),
        }
    }
}

/// The containers an image change targets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resolution {
    /// The targeted containers, in template order (init containers first).
    pub changes: Vec<ContainerChange>,
    /// Names that matched no container (only when unknown names are ignored).
    pub unknown: Vec<String>,
}

/// Finds the containers `sets` target in `spec`, as `kubectl set image` does: init containers, then
/// app containers, matching a name or `*`. A change without a name targets the only app container.
///
/// Errors: [`Error::InvalidInput`] for no change, `*` combined with other names, a name given twice, or
/// a nameless change when there are several app containers; [`Error::ContainerNotFound`] for an
/// unknown name unless `ignore_unknown` (kubectl's behaviour: the other names are still changed), and
/// always when nothing at all matched.
pub fn resolve_changes(
    workload: &WorkloadRef,
    spec: Option<&PodSpec>,
    sets: &[SetImage],
    ignore_unknown: bool,
) -> Result<Resolution> {
    let invalid = |value: String, reason: String| Error::InvalidInput { field: "images".into(), value, reason };
    if sets.is_empty() {
        return Err(invalid(String::new(), "give at least one CONTAINER=IMAGE".into()));
    }
    let listed = |s: &[SetImage]| s.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ");
    let init: Vec<(&str, &str)> = spec
        .into_iter()
        .flat_map(|s| s.init_containers.iter().flatten())
        .map(|c| (c.name.as_str(), c.image.as_deref().unwrap_or_default()))
        .collect();
    let app: Vec<(&str, &str)> = spec
        .into_iter()
        .flat_map(|s| s.containers.iter())
        .map(|c| (c.name.as_str(), c.image.as_deref().unwrap_or_default()))
        .collect();
    let available: Vec<String> = init.iter().chain(app.iter()).map(|(n, _)| (*n).to_owned()).collect();
    let not_found = |name: &str| Error::ContainerNotFound {
        workload: Box::new(workload.clone()),
        container: name.to_owned(),
        available: available.clone(),
    };

    let mut wanted: Vec<(Option<&str>, String)> = Vec::new();
    for set in sets {
        let name = set.container.as_deref();
        if name == Some(ALL_CONTAINERS) && sets.len() > 1 {
            return Err(invalid(listed(sets), "* cannot be combined with other container names".into()));
        }
        if wanted.iter().any(|(n, _)| *n == name) {
            return Err(invalid(
                listed(sets),
                format!("container {} is named twice", name.unwrap_or("(the only one)")),
            ));
        }
        if name.is_none() && sets.len() > 1 {
            return Err(invalid(listed(sets), "name the container of every image when changing several".into()));
        }
        wanted.push((name, set.image.to_string()));
    }

    let mut resolution = Resolution::default();
    let mut push = |name: &str, previous: &str, init: bool, new: &str| {
        resolution.changes.push(ContainerChange {
            container: name.to_owned(),
            init,
            previous: previous.to_owned(),
            new: new.to_owned(),
        });
    };
    match wanted.as_slice() {
        [(None, image)] => match app.as_slice() {
            [(name, previous)] => push(name, previous, false, image),
            [] => return Err(not_found("")),
            several => {
                let names: Vec<&str> = several.iter().map(|(n, _)| *n).collect();
                return Err(Error::InvalidInput {
                    field: "container".into(),
                    value: String::new(),
                    reason: format!(
                        "{workload} has {} containers ({}): write CONTAINER=IMAGE, or *=IMAGE for all",
                        names.len(),
                        names.join(", ")
                    ),
                });
            }
        },
        _ => {
            for (list, is_init) in [(&init, true), (&app, false)] {
                for (name, previous) in list.iter() {
                    let hit = wanted.iter().find(|(n, _)| *n == Some(ALL_CONTAINERS) || *n == Some(*name));
                    if let Some((_, image)) = hit {
                        push(name, previous, is_init, image);
                    }
                }
            }
            for (name, _) in &wanted {
                let name = name.unwrap_or_default();
                if name != ALL_CONTAINERS && !available.iter().any(|a| a == name) {
                    resolution.unknown.push(name.to_owned());
                }
            }
            if let Some(first) = resolution.unknown.first() {
                if !ignore_unknown || resolution.changes.is_empty() {
                    return Err(not_found(first));
                }
            } else if resolution.changes.is_empty() {
                return Err(not_found(ALL_CONTAINERS));
            }
        }
    }
    Ok(resolution)
}

/// The change-cause rollout records by default: `rollout: <container>=<image> …`.
pub fn default_change_cause(changes: &[ContainerChange]) -> String {
    let pairs: Vec<String> = changes.iter().map(|c| format!("{}={}", c.container, c.new)).collect();
    format!("rollout: {}", pairs.join(" "))
}

/// The strategic merge patch that sets the changed images and the change-cause in one write, with the
/// resourceVersion the change was decided on as a precondition (the API server answers 409 Conflict
/// if the object changed since). `None` when no image changes: nothing is written then, not even
/// the change-cause.
pub fn image_patch(changes: &[ContainerChange], change_cause: &str, resource_version: Option<&str>) -> Option<Value> {
    if !changes.iter().any(ContainerChange::changes) {
        return None;
    }
    let list = |init: bool| -> Vec<Value> {
        changes
            .iter()
            .filter(|c| c.init == init && c.changes())
            .map(|c| json!({"name": c.container, "image": c.new}))
            .collect()
    };
    let mut pod_spec = Map::new();
    let (app, init) = (list(false), list(true));
    if !init.is_empty() {
        pod_spec.insert("initContainers".into(), Value::Array(init));
    }
    if !app.is_empty() {
        pod_spec.insert("containers".into(), Value::Array(app));
    }
    let mut metadata = json!({"annotations": {CHANGE_CAUSE_ANNOTATION: change_cause}});
    if let Some(rv) = resource_version {
        metadata["resourceVersion"] = json!(rv);
    }
    Some(json!({"metadata": metadata, "spec": {"template": {"spec": pod_spec}}}))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn spec() -> PodSpec {
        serde_json::from_value(json!({
            "initContainers": [{"name": "migrate", "image": "repo/migrate:1"}],
            "containers": [{"name": "app", "image": "repo/app:1"}, {"name": "proxy", "image": "repo/proxy:1"}]
        }))
        .unwrap()
    }

    fn single() -> PodSpec {
        serde_json::from_value(json!({"containers": [{"name": "app", "image": "repo/app:1"}]})).unwrap()
    }

    fn web() -> WorkloadRef {
        WorkloadRef::deployment("shop", "web")
    }

    fn sets(items: &[&str]) -> Vec<SetImage> {
        items.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn targeted(r: &Resolution) -> Vec<(String, bool, String)> {
        r.changes.iter().map(|c| (c.container.clone(), c.init, c.new.clone())).collect()
    }

    #[test]
    fn container_selection_follows_kubectl_set_image() {
        let s = spec();
        let r = resolve_changes(&web(), Some(&s), &sets(&["app=repo/app:2"]), false).unwrap();
        assert_eq!(targeted(&r), [("app".into(), false, "repo/app:2".into())]);
        let r = resolve_changes(&web(), Some(&s), &sets(&["*=repo/all:2"]), false).unwrap();
        assert_eq!(
            targeted(&r),
            [
                ("migrate".into(), true, "repo/all:2".into()),
                ("app".into(), false, "repo/all:2".into()),
                ("proxy".into(), false, "repo/all:2".into())
            ]
        );
        let r =
            resolve_changes(&web(), Some(&s), &sets(&["proxy=repo/proxy:2", "migrate=repo/migrate:2"]), false).unwrap();
        assert_eq!(
            targeted(&r),
            [("migrate".into(), true, "repo/migrate:2".into()), ("proxy".into(), false, "repo/proxy:2".into())]
        );
        let r = resolve_changes(&web(), Some(&single()), &sets(&["repo/app:3"]), false).unwrap();
        assert_eq!(targeted(&r), [("app".into(), false, "repo/app:3".into())]);
        assert_eq!(r.changes[0].previous, "repo/app:1");
    }

    #[test]
    fn unknown_containers_name_the_ones_there_are() {
        let s = spec();
        let err = resolve_changes(&web(), Some(&s), &sets(&["nope=repo/app:2"]), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "container \"nope\" not found in shop/deployment/web: the containers there are migrate, app, proxy"
        );
        let r = resolve_changes(&web(), Some(&s), &sets(&["nope=repo/x:2", "app=repo/app:2"]), true).unwrap();
        assert_eq!(r.unknown, ["nope"]);
        assert_eq!(r.changes.len(), 1, "kubectl still changes the names it found");
        assert!(resolve_changes(&web(), Some(&s), &sets(&["nope=repo/x:2"]), true).is_err(), "nothing matched");
    }

    #[test]
    fn ambiguous_or_contradictory_changes_are_refused() {
        let s = spec();
        let cases: [(&[&str], &str); 4] = [
            (&["repo/app:2"], "has 2 containers (app, proxy)"),
            (&["*=repo/a:2", "app=repo/a:3"], "* cannot be combined"),
            (&["app=repo/a:2", "app=repo/a:3"], "container app is named twice"),
            (&[], "at least one"),
        ];
        for (input, expected) in cases {
            let err = resolve_changes(&web(), Some(&s), &sets(input), false).unwrap_err().to_string();
            assert!(err.contains(expected), "{input:?}: {err}");
        }
    }

    #[test]
    fn the_patch_sets_changed_images_and_the_change_cause_under_a_resource_version() {
        let s = spec();
        let r = resolve_changes(&web(), Some(&s), &sets(&["*=repo/app:1"]), false).unwrap();
        let cause = default_change_cause(&r.changes);
        assert_eq!(cause, "rollout: migrate=repo/app:1 app=repo/app:1 proxy=repo/app:1");
        assert_eq!(
            image_patch(&r.changes, &cause, Some("17")).unwrap(),
            json!({
                "metadata": {"resourceVersion": "17", "annotations": {"kubernetes.io/change-cause": cause}},
                "spec": {"template": {"spec": {
                    "initContainers": [{"name": "migrate", "image": "repo/app:1"}],
                    "containers": [{"name": "proxy", "image": "repo/app:1"}]
                }}}
            }),
            "app already runs repo/app:1, so only the others are in the patch"
        );
    }

    #[test]
    fn an_unchanged_image_produces_no_patch() {
        let s = single();
        let r = resolve_changes(&web(), Some(&s), &sets(&["app=repo/app:1"]), false).unwrap();
        assert_eq!(image_patch(&r.changes, "rollout: app=repo/app:1", Some("3")), None);
    }

    #[test]
    fn set_image_text_round_trips() {
        for text in [
            "app=repo/app:2",
            "repo/app:2",
            "*=registry.example/a/b:1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(text.parse::<SetImage>().unwrap().to_string(), text);
        }
        assert!("=repo/app:2".parse::<SetImage>().is_err());
        assert!("app=Repo/App".parse::<SetImage>().is_err());
    }

    #[test]
    fn a_tag_change_keeps_each_containers_repository() {
        let s = spec();
        let tags: Vec<SetTag> = vec!["*=:2".parse().unwrap()];
        let images: Vec<String> = retag(&web(), Some(&s), &tags).unwrap().iter().map(ToString::to_string).collect();
        assert_eq!(images, ["migrate=repo/migrate:2", "app=repo/app:2", "proxy=repo/proxy:2"]);
        let one = retag(&web(), Some(&s), &["proxy=:3".parse().unwrap()]).unwrap();
        assert_eq!(one[0].to_string(), "proxy=repo/proxy:3");
        let pinned: PodSpec = serde_json::from_value(json!({"containers": [{"name": "app", "image":
            "repo/app:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}]}))
        .unwrap();
        let only = retag(&web(), Some(&pinned), &[":1.0.1".parse().unwrap()]).unwrap();
        assert_eq!(only[0].to_string(), "app=repo/app:1.0.1", "the digest of the old image is dropped");
    }

    #[test]
    fn a_tag_change_names_a_container_that_exists() {
        let s = spec();
        let err = retag(&web(), Some(&s), &["nope=:2".parse().unwrap()]).unwrap_err().to_string();
        assert_eq!(
            err,
            "container \"nope\" not found in shop/deployment/web: the containers there are migrate, app, proxy"
        );
        let err = retag(&web(), Some(&s), &[":2".parse().unwrap()]).unwrap_err().to_string();
        assert!(err.contains("has 2 containers (app, proxy)"), "{err}");
        let bad: PodSpec =
            serde_json::from_value(json!({"containers": [{"name": "app", "image": "Bad Image"}]})).unwrap();
        let err = retag(&web(), Some(&bad), &[":2".parse().unwrap()]).unwrap_err().to_string();
        assert!(err.contains("container app runs \"Bad Image\", which cannot be re-tagged"), "{err}");
    }

    #[test]
    fn image_arguments_are_tags_or_references() {
        let cases: [(&str, Option<&str>); 7] = [
            (":1.0.1", Some("1.0.1")),
            ("latest-release-1.0.1", Some("latest-release-1.0.1")),
            ("nginx", Some("nginx")),
            ("nginx:1.27", None),
            ("repo/app", None),
            ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1.0.1", None),
            ("repo/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", None),
        ];
        for (text, tag) in cases {
            let parsed: NewImage = text.parse().unwrap();
            match (parsed, tag) {
                (NewImage::Tag(t), Some(want)) => assert_eq!(t.as_str(), want),
                (NewImage::Reference(r), None) => assert_eq!(r.to_string(), text),
                (other, _) => panic!("{text}: {other:?}"),
            }
        }
        let err = ":bad tag".parse::<NewImage>().unwrap_err().to_string();
        assert!(err.starts_with("invalid image tag \"bad tag\""), "{err}");
        assert!(":".parse::<NewImage>().is_err());
        assert_eq!("app=:2".parse::<SetTag>().unwrap().to_string(), "app=:2");
        assert_eq!("2".parse::<SetTag>().unwrap().to_string(), ":2");
        assert!("=:2".parse::<SetTag>().is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn set_image_parsing_never_panics(s in ".{0,80}") {
            let _ = s.parse::<SetImage>();
        }

        #[test]
        fn image_argument_and_tag_change_parsing_never_panics(s in ".{0,80}") {
            let _ = s.parse::<NewImage>();
            let _ = s.parse::<SetTag>();
        }
    }
}
