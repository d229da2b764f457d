//! Pure: the preflight checks run before anything is changed, each with its result and reason.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::patch::ContainerChange;
use crate::error::{Error, Result};
use crate::image::ImageRef;
use crate::status::{max_surge, max_unavailable};
use crate::workload::{Workload, WorkloadRef};

/// A preflight check, by the name used to skip it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckName {
    /// The workload exists. Skipped, a missing workload is reported `unchanged` instead of an error.
    Workload,
    /// Every named container exists. Skipped, unknown names are ignored as `kubectl set image` does.
    Container,
    /// Every new image whose registry is ECR exists there.
    ImageExists,
    /// Every targeted app container has a readinessProbe (without one a pod counts as ready as soon as
    /// it runs, so a rolling update cannot keep serving).
    ReadinessProbe,
    /// The update strategy replaces pods without taking the workload down.
    Strategy,
    /// The Deployment is not paused (a paused Deployment does not roll out).
    Paused,
    /// No new image uses a floating tag such as `latest` (or no tag at all).
    FloatingTag,
}

impl CheckName {
    /// Every check, in the order they are run and reported.
    pub const ALL: [CheckName; 7] = [
        CheckName::Workload,
        CheckName::Container,
        CheckName::ImageExists,
        CheckName::ReadinessProbe,
        CheckName::Strategy,
        CheckName::Paused,
        CheckName::FloatingTag,
    ];

    /// The name as written on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckName::Workload => "workload",
            CheckName::Container => "container",
            CheckName::ImageExists => "image-exists",
            CheckName::ReadinessProbe => "readiness-probe",
            CheckName::Strategy => "strategy",
            CheckName::Paused => "paused",
            CheckName::FloatingTag => "floating-tag",
        }
    }
}

impl fmt::Display for CheckName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CheckName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        CheckName::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| Error::InvalidInput {
            field: "skip-check".into(),
            value: s.into(),
            reason: format!(
                "the checks are {}",
                CheckName::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
            ),
        })
    }
}

/// The result of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// The check passed.
    Passed,
    /// The check failed: nothing is changed.
    Failed,
    /// The check was not run (switched off, or not applicable); the message says why.
    Skipped,
}

/// One check with its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreflightCheck {
    /// Which check.
    pub check: CheckName,
    /// Its result.
    pub status: CheckStatus,
    /// What was found.
    pub message: String,
}

/// A failed check, with the workload it was run for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedCheck {
    /// The workload.
    pub workload: WorkloadRef,
    /// The failed check.
    pub check: PreflightCheck,
}

/// `<workload>: <check>: <message>; …`, for [`Error::PreflightFailed`].
pub fn list_failed_checks(checks: &[FailedCheck]) -> String {
    checks
        .iter()
        .map(|f| format!("{}: {}: {}", f.workload, f.check.check, f.check.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What the registry said about an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageExistence {
    /// The image exists.
    Found,
    /// The registry does not have it.
    Missing,
    /// The lookup failed; the message says how.
    LookupFailed(String),
}

/// Everything the checks look at.
#[derive(Debug, Clone)]
pub struct PreflightInput<'a> {
    /// The workload as it is now (or, for apply, as the manifest describes it).
    pub workload: &'a Workload,
    /// Whether the workload exists in the cluster (apply may create it).
    pub exists: bool,
    /// The targeted containers.
    pub changes: &'a [ContainerChange],
    /// Container names that matched nothing (ignored because the `container` check is skipped).
    pub unknown_containers: &'a [String],
    /// The registry's answers for the new ECR images; `None` when no registry lookup is configured.
    pub lookups: Option<&'a BTreeMap<String, ImageExistence>>,
    /// The checks switched off.
    pub skip: &'a BTreeSet<CheckName>,
}

/// Runs every check, in [`CheckName::ALL`] order.
pub fn run_checks(input: &PreflightInput<'_>) -> Vec<PreflightCheck> {
    CheckName::ALL
        .into_iter()
        .map(|check| {
            if input.skip.contains(&check) {
                let message = match (check, input.unknown_containers) {
                    (CheckName::Container, unknown) if !unknown.is_empty() => {
                        format!("switched off; ignored the unknown container names {}", unknown.join(", "))
                    }
                    _ => "switched off".to_owned(),
                };
                return PreflightCheck { check, status: CheckStatus::Skipped, message };
            }
            let (status, message) = match check {
                CheckName::Workload => workload_check(input),
                CheckName::Container => container_check(input),
                CheckName::ImageExists => image_exists_check(input),
                CheckName::ReadinessProbe => readiness_check(input),
                CheckName::Strategy => strategy_check(input.workload),
                CheckName::Paused => paused_check(input.workload),
                CheckName::FloatingTag => floating_tag_check(input.changes),
            };
            PreflightCheck { check, status, message }
        })
        .collect()
}

type Checked = (CheckStatus, String);

fn workload_check(input: &PreflightInput<'_>) -> Checked {
    let kind = crate::workload::kind_name(input.workload.kind());
    if input.exists {
        let generation = input.workload.generation().map(|g| format!(" at generation {g}")).unwrap_or_default();
        (CheckStatus::Passed, format!("{kind} {} exists{generation}", input.workload.name()))
    } else {
        (CheckStatus::Passed, format!("{kind} {} will be created", input.workload.name()))
    }
}

fn container_check(input: &PreflightInput<'_>) -> Checked {
    let names: Vec<String> = input
        .changes
        .iter()
        .map(|c| if c.init { format!("{} (init)", c.container) } else { c.container.clone() })
        .collect();
    (CheckStatus::Passed, format!("targets {}", names.join(", ")))
}

fn ecr_images(changes: &[ContainerChange]) -> (Vec<String>, Vec<String>) {
    let mut ecr = Vec::new();
    let mut other = Vec::new();
    for c in changes.iter().filter(|c| c.changes()) {
        let is_ecr = c.new.parse::<ImageRef>().is_ok_and(|i| i.is_ecr());
        let list = if is_ecr { &mut ecr } else { &mut other };
        if !list.contains(&c.new) {
            list.push(c.new.clone());
        }
    }
    (ecr, other)
}

fn image_exists_check(input: &PreflightInput<'_>) -> Checked {
    let (ecr, _) = ecr_images(input.changes);
    if ecr.is_empty() {
        return (CheckStatus::Skipped, "no new image is in an ECR registry".to_owned());
    }
    let Some(lookups) = input.lookups else {
        return (CheckStatus::Skipped, format!("no registry lookup configured; not checked: {}", ecr.join(", ")));
    };
    let mut problems = Vec::new();
    for image in &ecr {
        match lookups.get(image) {
            Some(ImageExistence::Found) => {}
            Some(ImageExistence::Missing) => problems.push(format!("{image} does not exist in its ECR repository")),
            Some(ImageExistence::LookupFailed(why)) => problems.push(format!("{image} could not be checked: {why}")),
            None => problems.push(format!("{image} was not looked up")),
        }
    }
    if problems.is_empty() {
        (CheckStatus::Passed, format!("found in ECR: {}", ecr.join(", ")))
    } else {
        (CheckStatus::Failed, problems.join("; "))
    }
}

fn readiness_check(input: &PreflightInput<'_>) -> Checked {
    let spec = input.workload.pod_spec();
    let targeted_app: Vec<&ContainerChange> = input.changes.iter().filter(|c| !c.init).collect();
    if targeted_app.is_empty() {
        return (CheckStatus::Passed, "only init containers are targeted; they have no readiness probes".to_owned());
    }
    let missing: Vec<&str> = targeted_app
        .iter()
        .filter(|c| {
            let container = spec.and_then(|s| s.containers.iter().find(|k| k.name == c.container));
            container.is_none_or(|k| k.readiness_probe.is_none())
        })
        .map(|c| c.container.as_str())
        .collect();
    if missing.is_empty() {
        (CheckStatus::Passed, "every targeted container has a readinessProbe".to_owned())
    } else {
        (
            CheckStatus::Failed,
            format!(
                "no readinessProbe on {}: a new pod would count as ready as soon as it starts, before it serves",
                missing.join(", ")
            ),
        )
    }
}

fn strategy_check(workload: &Workload) -> Checked {
    match workload {
        Workload::Deployment(d) => {
            let spec = d.spec.as_ref();
            let strategy =
                spec.and_then(|s| s.strategy.as_ref()).and_then(|s| s.type_.as_deref()).unwrap_or("RollingUpdate");
            if strategy == "Recreate" {
                return (CheckStatus::Failed, "strategy Recreate stops every pod before starting new ones".to_owned());
            }
            let replicas = spec.and_then(|s| s.replicas).unwrap_or(1);
            match (max_surge(d), max_unavailable(d)) {
                (Err(e), _) | (_, Err(e)) => (CheckStatus::Failed, e.to_string()),
                (Ok(_), Ok(_)) if replicas == 0 => (CheckStatus::Passed, "no replicas to keep serving".to_owned()),
                (Ok(surge), Ok(unavailable)) if unavailable >= replicas => (
                    CheckStatus::Failed,
                    format!(
                        "with {replicas} replicas, maxSurge {surge} and maxUnavailable {unavailable}, every pod may be \
                         down at once; set maxUnavailable below the replicas (e.g. maxSurge 1, maxUnavailable 0)"
                    ),
                ),
                (Ok(surge), Ok(unavailable)) => (
                    CheckStatus::Passed,
                    format!(
                        "RollingUpdate with {replicas} replicas keeps at least {} serving (maxSurge {surge}, maxUnavailable {unavailable})",
                        replicas - unavailable
                    ),
                ),
            }
        }
        Workload::StatefulSet(s) => {
            let spec = s.spec.as_ref();
            let strategy = spec.and_then(|s| s.update_strategy.as_ref());
            let kind = strategy.and_then(|s| s.type_.as_deref()).unwrap_or("RollingUpdate");
            let replicas = spec.and_then(|s| s.replicas).unwrap_or(1);
            if kind != "RollingUpdate" {
                (CheckStatus::Failed, format!("updateStrategy {kind} does not replace pods by itself"))
            } else if replicas <= 1 {
                (
                    CheckStatus::Failed,
                    format!("a StatefulSet with {replicas} replica stops its pod before starting the new one"),
                )
            } else {
                (CheckStatus::Passed, format!("RollingUpdate replaces {replicas} pods one at a time"))
            }
        }
        Workload::DaemonSet(d) => {
            let kind = d.spec.as_ref().and_then(|s| s.update_strategy.as_ref()).and_then(|s| s.type_.as_deref());
            match kind.unwrap_or("RollingUpdate") {
                "RollingUpdate" => (CheckStatus::Passed, "RollingUpdate replaces the pods node by node".to_owned()),
                other => (CheckStatus::Failed, format!("updateStrategy {other} does not replace pods by itself")),
            }
        }
    }
}

fn paused_check(workload: &Workload) -> Checked {
    match workload {
        Workload::Deployment(d) if d.spec.as_ref().and_then(|s| s.paused) == Some(true) => (
            CheckStatus::Failed,
            "the deployment is paused, so the change would not roll out; resume it with 'kubectl rollout resume'"
                .to_owned(),
        ),
        Workload::Deployment(_) => (CheckStatus::Passed, "the deployment is not paused".to_owned()),
        _ => (CheckStatus::Passed, "only deployments can be paused".to_owned()),
    }
}

fn floating_tag_check(changes: &[ContainerChange]) -> Checked {
    let mut problems = Vec::new();
    for c in changes.iter().filter(|c| c.changes()) {
        match c.new.parse::<ImageRef>() {
            Ok(image) if image.digest().is_some() => {}
            Ok(image) => match image.tag() {
                None => problems.push(format!("{} has no tag, which means latest", c.new)),
                Some(tag) if crate::tag::is_floating(tag.as_str()) => {
                    problems.push(format!("{} uses the floating tag {:?}", c.new, tag.as_str()))
                }
                Some(_) => {}
            },
            Err(e) => problems.push(e.to_string()),
        }
    }
    if problems.is_empty() {
        (CheckStatus::Passed, "every new image has an immutable tag or a digest".to_owned())
    } else {
        (
            CheckStatus::Failed,
            format!("{}; a floating tag cannot be rolled back to and defeats rolling updates", problems.join("; ")),
        )
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
    use serde_json::{Value, json};

    use super::*;

    fn deployment(replicas: i32, strategy: Value, paused: bool, probe: bool) -> Workload {
        let mut container = json!({"name": "app", "image": "repo/app:1"});
        if probe {
            container["readinessProbe"] = json!({"tcpSocket": {"port": 8443}});
        }
        Workload::Deployment(
            serde_json::from_value::<Deployment>(json!({
                "metadata": {"name": "web", "generation": 3},
                "spec": {"replicas": replicas, "paused": paused, "strategy": strategy,
                         "selector": {"matchLabels": {"app": "web"}},
                         "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container]}}}
            }))
            .unwrap(),
        )
    }

    fn change(new: &str) -> Vec<ContainerChange> {
        vec![ContainerChange { container: "app".into(), init: false, previous: "repo/app:1".into(), new: new.into() }]
    }

    fn run(
        workload: &Workload,
        changes: &[ContainerChange],
        lookups: Option<&BTreeMap<String, ImageExistence>>,
        skip: &[CheckName],
    ) -> Vec<(CheckName, CheckStatus)> {
        let skip: BTreeSet<CheckName> = skip.iter().copied().collect();
        let input = PreflightInput { workload, exists: true, changes, unknown_containers: &[], lookups, skip: &skip };
        run_checks(&input).into_iter().map(|c| (c.check, c.status)).collect()
    }

    fn status_of(results: &[(CheckName, CheckStatus)], check: CheckName) -> CheckStatus {
        results.iter().find(|(c, _)| *c == check).unwrap().1
    }

    const ECR: &str = "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/app";

    type Case<'a> =
        (&'a str, Workload, Vec<ContainerChange>, Option<&'a BTreeMap<String, ImageExistence>>, CheckName, CheckStatus);

    #[test]
    fn preflight_decisions_table() {
        use CheckStatus::*;
        let rolling = |s: Value, u: Value| json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": s, "maxUnavailable": u}});
        let found: BTreeMap<String, ImageExistence> = [(format!("{ECR}:1.0.1"), ImageExistence::Found)].into();
        let missing: BTreeMap<String, ImageExistence> = [(format!("{ECR}:1.0.1"), ImageExistence::Missing)].into();
        let d = |replicas, strategy| deployment(replicas, strategy, false, true);
        let cases: Vec<Case<'_>> = vec![
            (
                "one replica, surge 1, unavailable 0",
                d(1, rolling(json!(1), json!(0))),
                change("repo/app:2"),
                None,
                CheckName::Strategy,
                Passed,
            ),
            ("defaults with one replica", d(1, json!({})), change("repo/app:2"), None, CheckName::Strategy, Passed),
            (
                "unavailable equals replicas",
                d(2, rolling(json!(0), json!(2))),
                change("repo/app:2"),
                None,
                CheckName::Strategy,
                Failed,
            ),
            (
                "unavailable above replicas",
                d(3, rolling(json!(1), json!("100%"))),
                change("repo/app:2"),
                None,
                CheckName::Strategy,
                Failed,
            ),
            (
                "zero and zero means one unavailable",
                d(1, rolling(json!(0), json!(0))),
                change("repo/app:2"),
                None,
                CheckName::Strategy,
                Failed,
            ),
            ("recreate", d(3, json!({"type": "Recreate"})), change("repo/app:2"), None, CheckName::Strategy, Failed),
            (
                "invalid surge",
                d(3, rolling(json!("lots"), json!(0))),
                change("repo/app:2"),
                None,
                CheckName::Strategy,
                Failed,
            ),
            ("no replicas", d(0, json!({})), change("repo/app:2"), None, CheckName::Strategy, Passed),
            ("paused", deployment(3, json!({}), true, true), change("repo/app:2"), None, CheckName::Paused, Failed),
            ("not paused", d(3, json!({})), change("repo/app:2"), None, CheckName::Paused, Passed),
            (
                "no readiness probe",
                deployment(3, json!({}), false, false),
                change("repo/app:2"),
                None,
                CheckName::ReadinessProbe,
                Failed,
            ),
            ("readiness probe", d(3, json!({})), change("repo/app:2"), None, CheckName::ReadinessProbe, Passed),
            ("latest", d(3, json!({})), change("repo/app:latest"), None, CheckName::FloatingTag, Failed),
            ("no tag", d(3, json!({})), change("repo/app"), None, CheckName::FloatingTag, Failed),
            (
                "release tag",
                d(3, json!({})),
                change("repo/app:latest-release-1.0.1"),
                None,
                CheckName::FloatingTag,
                Passed,
            ),
            (
                "digest pins a floating tag",
                d(3, json!({})),
                change("repo/app:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
                None,
                CheckName::FloatingTag,
                Passed,
            ),
            ("not ECR", d(3, json!({})), change("repo/app:2"), None, CheckName::ImageExists, Skipped),
            (
                "ECR without lookup",
                d(3, json!({})),
                change(&format!("{ECR}:1.0.1")),
                None,
                CheckName::ImageExists,
                Skipped,
            ),
            (
                "ECR found",
                d(3, json!({})),
                change(&format!("{ECR}:1.0.1")),
                Some(&found),
                CheckName::ImageExists,
                Passed,
            ),
            (
                "ECR missing",
                d(3, json!({})),
                change(&format!("{ECR}:1.0.1")),
                Some(&missing),
                CheckName::ImageExists,
                Failed,
            ),
        ];
        for (name, workload, changes, lookups, check, expected) in cases {
            let results = run(&workload, &changes, lookups, &[]);
            assert_eq!(status_of(&results, check), expected, "{name}");
        }
    }

    #[test]
    fn skipped_checks_are_reported_as_skipped() {
        let w = deployment(3, json!({"type": "Recreate"}), true, false);
        let results = run(
            &w,
            &change("repo/app:latest"),
            None,
            &[CheckName::Strategy, CheckName::Paused, CheckName::ReadinessProbe, CheckName::FloatingTag],
        );
        assert_eq!(results.len(), 7);
        assert!(results.iter().all(|(_, s)| *s != CheckStatus::Failed), "{results:?}");
        assert_eq!(status_of(&results, CheckName::Strategy), CheckStatus::Skipped);
    }

    #[test]
    fn statefulsets_with_one_replica_cannot_keep_serving() {
        let sts = |replicas: i32, strategy: &str| {
            Workload::StatefulSet(
                serde_json::from_value::<StatefulSet>(json!({
                    "metadata": {"name": "db"},
                    "spec": {"replicas": replicas, "serviceName": "db", "updateStrategy": {"type": strategy},
                             "selector": {}, "template": {"spec": {"containers": [{"name": "app", "image": "repo/app:1"}]}}}
                }))
                .unwrap(),
            )
        };
        assert_eq!(strategy_check(&sts(1, "RollingUpdate")).0, CheckStatus::Failed);
        assert_eq!(strategy_check(&sts(3, "RollingUpdate")).0, CheckStatus::Passed);
        assert_eq!(strategy_check(&sts(3, "OnDelete")).0, CheckStatus::Failed);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        #[test]
        fn check_name_parsing_never_panics(s in ".{0,30}") {
            let _ = s.parse::<CheckName>();
        }
    }

    #[test]
    fn check_names_parse_and_reject_unknown_ones() {
        for c in CheckName::ALL {
            assert_eq!(c.as_str().parse::<CheckName>().unwrap(), c);
            assert_eq!(serde_json::to_value(c).unwrap(), json!(c.as_str()));
        }
        let err = "readiness".parse::<CheckName>().unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid skip-check \"readiness\": the checks are workload, container, image-exists, readiness-probe, \
             strategy, paused, floating-tag"
        );
    }
}
