# Type stubs of the native module rollout._rollout (rollout-py/src). Checked against the built module
# by `python -m mypy.stubtest rollout._rollout` in scripts/test, so they cannot drift.

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal, final, overload

from typing_extensions import disjoint_base

__all__ = [
    "AppliedObject",
    "ApplyReport",
    "Client",
    "CombinedReport",
    "ConfigError",
    "ContainerImage",
    "ContainerProblem",
    "DeployedTag",
    "derive_tag",
    "DerivedTag",
    "diagnose",
    "Diagnosis",
    "EcrError",
    "EventSummary",
    "FieldChange",
    "GitInfo",
    "History",
    "ImageRecord",
    "ImageRef",
    "ImageUpdate",
    "ImageVerdict",
    "InUseImage",
    "InvalidInputError",
    "KubernetesError",
    "LifecyclePolicy",
    "NativeSandbox",
    "NotFoundError",
    "parse_duration",
    "PolicyBuilder",
    "PolicyDiff",
    "PolicyViolation",
    "PreflightCheck",
    "Preview",
    "PreviewSummary",
    "previous_tag",
    "PreviousTag",
    "ProgressEvent",
    "ProjectVersion",
    "ProtectionViolation",
    "PutReport",
    "ReplicaCounts",
    "Report",
    "RepositoryPut",
    "Revision",
    "rollout_status",
    "RolloutError",
    "RolloutFailedError",
    "RolloutReport",
    "RolloutTimeoutError",
    "RuleChange",
    "RuleSummary",
    "SkippedImage",
    "WorkloadRef",
    "WorkloadStatus",
    "__version__",
    "_block_for",
    "_blocks_in_flight",
    "_Latch",
]

__version__: str

# A duration: seconds (int or float), a timedelta, or a kubectl-style text such as "90s" or "1h30m".
_Duration = float | timedelta | str
# An image of a repository: an ImageRecord, or a dict in the core's form (digest, tags, pushed_at, …)
# or in ECR's DescribeImages form (imageDigest, imageTags, imagePushedAt, …).
_Image = ImageRecord | Mapping[str, Any]
# A Kubernetes object: kubectl's JSON (camelCase), the kubernetes client's to_dict() (snake_case), or
# one of the client's model objects.
_KubeObject = Mapping[str, Any] | Any
# A workload: a Deployment's name, kubectl's KIND/NAME ("statefulset/db"), or a report's WorkloadRef.
_Workload = str | WorkloadRef
# An image: a reference text or an ImageRef (for deploy and apply also ":TAG", a new tag of the image the
# container runs now).
_Image_ = str | ImageRef
# A progress callback: called with each event, on the calling thread, holding the GIL.
_OnProgress = Callable[[ProgressEvent], object]
# A lifecycle policy: a LifecyclePolicy, its JSON text, or a dict in ECR's format.
_Policy = LifecyclePolicy | str | Mapping[str, Any]
# An in-use image: a reference, an ImageRef, an InUseImage or a dict with reference and used_by.
_InUse = str | ImageRef | InUseImage | Mapping[str, Any]
# Preflight check names, as the CLI writes them.
_Check = Literal["workload", "container", "image-exists", "readiness-probe", "strategy", "paused", "floating-tag"]

# --- exceptions ---------------------------------------------------------------------------------------

class RolloutError(Exception):
    """Base class of every error rollout raises."""

class InvalidInputError(RolloutError, ValueError):
    """An argument or input file was rejected before anything was changed."""

    violations: Sequence[PolicyViolation]

class NotFoundError(RolloutError, LookupError):
    """What was asked for does not exist."""

class RolloutFailedError(RolloutError):
    """The rollout ran and failed; `.report` holds the rollout report."""

    report: RolloutReport | None
    result: CombinedReport | ApplyReport | None

class RolloutTimeoutError(RolloutError):
    """Waiting for a rollout timed out; `.report` holds the report as it stood."""

    report: RolloutReport | None
    result: CombinedReport | ApplyReport | None

class KubernetesError(RolloutError):
    """The Kubernetes API failed or refused a request, or could not be reached."""

class EcrError(RolloutError):
    """The ECR API failed or refused a request, or could not be reached."""

class ConfigError(RolloutError):
    """A kubeconfig, AWS profile or credential could not be found or used."""

# --- reports --------------------------------------------------------------------------------------------

@disjoint_base
class Report:
    """Base class of every report: the core's JSON, with typed attributes in each subclass."""

    def to_dict(self) -> dict[str, Any]: ...
    def to_json(self, indent: int | None = None) -> str: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class DerivedTag(Report):
    @property
    def tag(self) -> str: ...
    @property
    def version(self) -> ProjectVersion: ...
    @property
    def template(self) -> str: ...
    @property
    def sanitised(self) -> bool: ...
    @property
    def warnings(self) -> list[str]: ...

@final
class ProjectVersion(Report):
    @property
    def source(self) -> Literal["pom", "cargo", "npm", "pyproject", "version-file", "git"]: ...
    @property
    def file(self) -> str | None: ...
    @property
    def version(self) -> str: ...
    @property
    def git(self) -> GitInfo | None: ...

@final
class GitInfo(Report):
    @property
    def describe(self) -> str: ...
    @property
    def sha(self) -> str: ...
    @property
    def short_sha(self) -> str: ...
    @property
    def branch(self) -> str | None: ...
    @property
    def dirty(self) -> bool: ...

@final
class WorkloadStatus(Report):
    @property
    def kind(self) -> Literal["deployment", "stateful_set", "daemon_set"]: ...
    @property
    def name(self) -> str: ...
    @property
    def state(self) -> Literal["observing_spec", "progressing", "complete", "failed", "unsupported"]: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def message(self) -> str: ...
    @property
    def replicas(self) -> ReplicaCounts: ...
    @property
    def is_complete(self) -> bool: ...
    @property
    def is_failed(self) -> bool: ...
    @property
    def is_terminal(self) -> bool: ...

@final
class ReplicaCounts(Report):
    @property
    def desired(self) -> int | None: ...
    @property
    def current(self) -> int: ...
    @property
    def updated(self) -> int: ...
    @property
    def ready(self) -> int: ...
    @property
    def available(self) -> int: ...

@final
class Diagnosis(Report):
    @property
    def verdict(self) -> Literal["healthy", "pending", "failing"]: ...
    @property
    def problems(self) -> list[ContainerProblem]: ...
    @property
    def is_failing(self) -> bool: ...

@final
class ContainerProblem(Report):
    @property
    def pod(self) -> str: ...
    @property
    def container(self) -> str | None: ...
    @property
    def init(self) -> bool: ...
    @property
    def reason(self) -> str: ...
    @property
    def message(self) -> str | None: ...
    @property
    def exit_code(self) -> int | None: ...
    @property
    def last_termination_reason(self) -> str | None: ...
    @property
    def restart_count(self) -> int: ...
    @property
    def since(self) -> datetime | None: ...
    @property
    def fatal(self) -> bool: ...
    @property
    def transient(self) -> bool: ...
    @property
    def events(self) -> list[EventSummary]: ...
    @property
    def log_tail(self) -> list[str]: ...

@final
class EventSummary(Report):
    @property
    def type(self) -> str | None: ...
    @property
    def reason(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def count(self) -> int: ...
    @property
    def first_seen(self) -> datetime | None: ...
    @property
    def last_seen(self) -> datetime | None: ...

@final
class PolicyViolation(Report):
    @property
    def rule(self) -> int | None: ...
    @property
    def rule_priority(self) -> int | None: ...
    @property
    def field(self) -> str: ...
    @property
    def message(self) -> str: ...

@final
class Preview(Report):
    @property
    def evaluated_at(self) -> datetime: ...
    @property
    def summary(self) -> PreviewSummary: ...
    @property
    def images(self) -> list[ImageVerdict]: ...
    @property
    def acted_on(self) -> list[ImageVerdict]: ...

@final
class PreviewSummary(Report):
    @property
    def images(self) -> int: ...
    @property
    def expiring(self) -> int: ...
    @property
    def transitioning(self) -> int: ...
    @property
    def kept(self) -> int: ...
    @property
    def rules(self) -> list[RuleSummary]: ...

@final
class RuleSummary(Report):
    @property
    def rule_priority(self) -> int: ...
    @property
    def matched(self) -> int: ...
    @property
    def acted_on(self) -> int: ...
    @property
    def blocked(self) -> int: ...

@final
class ImageVerdict(Report):
    @property
    def digest(self) -> str: ...
    @property
    def tags(self) -> list[str]: ...
    @property
    def pushed_at(self) -> datetime: ...
    @property
    def outcome(self) -> Literal["keep", "expire", "transition"]: ...
    @property
    def rule_priority(self) -> int | None: ...
    @property
    def reason(self) -> dict[str, Any]: ...
    @property
    def blocked_rules(self) -> list[int]: ...

@final
class PolicyDiff(Report):
    @property
    def current_exists(self) -> bool: ...
    @property
    def equal(self) -> bool: ...
    @property
    def same_effect(self) -> bool: ...
    @property
    def added(self) -> list[dict[str, Any]]: ...
    @property
    def removed(self) -> list[dict[str, Any]]: ...
    @property
    def changed(self) -> list[RuleChange]: ...

@final
class RuleChange(Report):
    @property
    def rule_priority(self) -> int: ...
    @property
    def fields(self) -> list[FieldChange]: ...
    @property
    def current(self) -> dict[str, Any]: ...
    @property
    def desired(self) -> dict[str, Any]: ...

@final
class FieldChange(Report):
    @property
    def field(self) -> str: ...
    @property
    def current(self) -> Any: ...
    @property
    def desired(self) -> Any: ...

@final
class ProtectionViolation(Report):
    @property
    def digest(self) -> str: ...
    @property
    def tags(self) -> list[str]: ...
    @property
    def outcome(self) -> Literal["expire", "transition"]: ...
    @property
    def rule_priority(self) -> int | None: ...
    @property
    def reference(self) -> str: ...
    @property
    def used_by(self) -> str: ...
    @property
    def matched_by(self) -> Literal["digest", "tag"]: ...

@final
class PreviousTag(Report):
    @property
    def strategy(self) -> dict[str, Any]: ...
    @property
    def tag(self) -> str | None: ...
    @property
    def digest(self) -> str | None: ...
    @property
    def pushed_at(self) -> datetime | None: ...
    @property
    def image_tags(self) -> list[str]: ...
    @property
    def version(self) -> str | None: ...
    @property
    def considered(self) -> int: ...
    @property
    def skipped(self) -> list[SkippedImage]: ...

@final
class SkippedImage(Report):
    @property
    def digest(self) -> str: ...
    @property
    def reason(
        self,
    ) -> Literal["untagged", "archived", "no_matching_tag", "only_floating_tags", "no_version", "invalid_version"]: ...
    @property
    def tag(self) -> str | None: ...
    @property
    def text(self) -> str | None: ...

@final
class WorkloadRef(Report):
    @property
    def context(self) -> str | None: ...
    @property
    def namespace(self) -> str: ...
    @property
    def kind(self) -> Literal["deployment", "stateful_set", "daemon_set"]: ...
    @property
    def name(self) -> str: ...

@final
class ImageUpdate(Report):
    @property
    def container(self) -> str: ...
    @property
    def init(self) -> bool: ...
    @property
    def previous(self) -> str | None: ...
    @property
    def new(self) -> str: ...

@final
class PreflightCheck(Report):
    @property
    def check(self) -> _Check: ...
    @property
    def status(self) -> Literal["passed", "failed", "skipped"]: ...
    @property
    def message(self) -> str: ...

_Outcome = Literal["succeeded", "failed", "timed_out", "rolled_back", "unchanged", "started", "dry_run"]

@final
class RolloutReport(Report):
    @property
    def operation(self) -> Literal["deploy", "apply", "wait", "rollback"]: ...
    @property
    def target(self) -> WorkloadRef: ...
    @property
    def outcome(self) -> _Outcome: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def message(self) -> str: ...
    @property
    def images(self) -> list[ImageUpdate]: ...
    @property
    def change_cause(self) -> str | None: ...
    @property
    def revision(self) -> int | None: ...
    @property
    def previous_revision(self) -> int | None: ...
    @property
    def new_replica_set(self) -> str | None: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def finished_at(self) -> datetime: ...
    @property
    def duration_ms(self) -> int: ...
    @property
    def preflight(self) -> list[PreflightCheck]: ...
    @property
    def status(self) -> WorkloadStatus | None: ...
    @property
    def problems(self) -> list[ContainerProblem]: ...
    @property
    def patch(self) -> dict[str, Any] | None: ...
    @property
    def rollback(self) -> RolloutReport | None: ...
    @property
    def is_success(self) -> bool: ...

@final
class CombinedReport(Report):
    @property
    def outcome(self) -> _Outcome: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def finished_at(self) -> datetime: ...
    @property
    def duration_ms(self) -> int: ...
    @property
    def reports(self) -> list[RolloutReport]: ...
    @property
    def is_success(self) -> bool: ...

@final
class ApplyReport(Report):
    @property
    def applied(self) -> list[AppliedObject]: ...
    @property
    def rollouts(self) -> CombinedReport: ...

@final
class AppliedObject(Report):
    @property
    def api_version(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def namespace(self) -> str | None: ...
    @property
    def name(self) -> str: ...
    @property
    def action(self) -> Literal["created", "configured", "unchanged"]: ...

@final
class ProgressEvent(Report):
    @property
    def event(self) -> Literal["preflight", "updated", "status", "problem", "warning", "rolling_back", "finished"]: ...
    @property
    def target(self) -> WorkloadRef | None: ...
    @property
    def checks(self) -> list[PreflightCheck]: ...
    @property
    def generation(self) -> int | None: ...
    @property
    def change_cause(self) -> str | None: ...
    @property
    def images(self) -> list[ImageUpdate]: ...
    @property
    def status(self) -> WorkloadStatus | None: ...
    @property
    def problem(self) -> ContainerProblem | None: ...
    @property
    def context(self) -> str | None: ...
    @property
    def namespace(self) -> str | None: ...
    @property
    def message(self) -> str | None: ...
    @property
    def to_revision(self) -> int | None: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def outcome(self) -> _Outcome | None: ...
    @property
    def text(self) -> str: ...

@final
class History(Report):
    @property
    def target(self) -> WorkloadRef: ...
    @property
    def revisions(self) -> list[Revision]: ...
    @property
    def current(self) -> Revision | None: ...

@final
class Revision(Report):
    @property
    def revision(self) -> int: ...
    @property
    def replica_set(self) -> str: ...
    @property
    def change_cause(self) -> str | None: ...
    @property
    def images(self) -> list[ContainerImage]: ...
    @property
    def created_at(self) -> datetime | None: ...
    @property
    def current(self) -> bool: ...
    @property
    def healthy_at(self) -> datetime | None: ...
    @property
    def replicas(self) -> int: ...

@final
class ContainerImage(Report):
    @property
    def container(self) -> str: ...
    @property
    def init(self) -> bool: ...
    @property
    def image(self) -> str: ...

@final
class DeployedTag(Report):
    @property
    def tag(self) -> str: ...
    @property
    def image(self) -> str: ...
    @property
    def revision(self) -> int: ...
    @property
    def replica_set(self) -> str: ...
    @property
    def healthy(self) -> bool: ...

@final
class InUseImage(Report):
    @property
    def reference(self) -> str: ...
    @property
    def tag(self) -> str | None: ...
    @property
    def digest(self) -> str | None: ...
    @property
    def used_by(self) -> str: ...

@final
class PutReport(Report):
    @property
    def put(self) -> int: ...
    @property
    def unchanged(self) -> int: ...
    @property
    def failed(self) -> int: ...
    @property
    def repositories(self) -> list[RepositoryPut]: ...
    @property
    def succeeded(self) -> bool: ...

@final
class RepositoryPut(Report):
    @property
    def repository(self) -> str: ...
    @property
    def outcome(self) -> Literal["put", "unchanged", "failed"]: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def preview(self) -> PreviewSummary | None: ...
    @property
    def in_use(self) -> list[ProtectionViolation]: ...

# --- values ---------------------------------------------------------------------------------------------

@final
class ImageRef:
    """A container image reference, [registry/]repository[:tag][@digest], validated once."""

    def __new__(cls, reference: str) -> ImageRef: ...
    @staticmethod
    def parse(reference: str) -> ImageRef: ...
    @property
    def registry(self) -> str | None: ...
    @property
    def repository(self) -> str: ...
    @property
    def tag(self) -> str | None: ...
    @property
    def digest(self) -> str | None: ...
    @property
    def name(self) -> str: ...
    @property
    def is_ecr(self) -> bool: ...
    @property
    def is_ecr_fips(self) -> bool: ...
    @property
    def ecr_account(self) -> str | None: ...
    @property
    def ecr_region(self) -> str | None: ...
    def with_tag(self, tag: str) -> ImageRef: ...
    def with_digest(self, digest: str) -> ImageRef: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class ImageRecord:
    """One image of a repository, as ECR's DescribeImages reports it."""

    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __new__(
        cls,
        digest: str,
        tags: Sequence[str],
        pushed_at: datetime,
        *,
        size_bytes: int | None = None,
        last_pulled_at: datetime | None = None,
        media_type: str | None = None,
        storage_class: Literal["standard", "archive"] | None = None,
        archived_at: datetime | None = None,
    ) -> ImageRecord: ...
    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> ImageRecord: ...
    @property
    def digest(self) -> str: ...
    @property
    def tags(self) -> list[str]: ...
    @property
    def pushed_at(self) -> datetime: ...
    @property
    def size_bytes(self) -> int | None: ...
    @property
    def last_pulled_at(self) -> datetime | None: ...
    @property
    def media_type(self) -> str | None: ...
    @property
    def storage_class(self) -> Literal["standard", "archive"]: ...
    @property
    def archived_at(self) -> datetime | None: ...
    def to_dict(self) -> dict[str, Any]: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class LifecyclePolicy:
    """An ECR lifecycle policy; equal to another when it does the same (rule order ignored)."""

    @staticmethod
    def builder() -> PolicyBuilder: ...
    @staticmethod
    def from_json(text: str, *, validate: bool = True) -> LifecyclePolicy: ...
    @staticmethod
    def from_dict(data: Mapping[str, Any], *, validate: bool = True) -> LifecyclePolicy: ...
    def to_json(self, indent: int | None = None) -> str: ...
    def to_dict(self) -> dict[str, Any]: ...
    @property
    def rules(self) -> list[dict[str, Any]]: ...
    def validate(self) -> None: ...
    def violations(self) -> list[PolicyViolation]: ...
    def preview(self, images: Iterable[_Image], now: datetime | None = None) -> Preview: ...
    def diff(self, current: LifecyclePolicy | None) -> PolicyDiff: ...
    def protect(
        self,
        images: Iterable[_Image],
        in_use: Iterable[str | ImageRef | Mapping[str, Any]],
        now: datetime | None = None,
    ) -> list[ProtectionViolation]: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    def __len__(self) -> int: ...

@final
class PolicyBuilder:
    """Builds a LifecyclePolicy rule by rule (priorities 1, 2, …); each step returns a new builder."""

    def keep_most_recent_tagged(self, count: int, prefixes: Sequence[str]) -> PolicyBuilder: ...
    def keep_most_recent_tagged_matching(self, count: int, patterns: Sequence[str]) -> PolicyBuilder: ...
    def keep_most_recent_untagged(self, count: int) -> PolicyBuilder: ...
    def keep_most_recent(self, count: int) -> PolicyBuilder: ...
    def expire_untagged_older_than(self, days: int) -> PolicyBuilder: ...
    def expire_tagged_older_than(self, days: int, prefixes: Sequence[str]) -> PolicyBuilder: ...
    def expire_tagged_matching_older_than(self, days: int, patterns: Sequence[str]) -> PolicyBuilder: ...
    def expire_older_than(self, days: int) -> PolicyBuilder: ...
    def archive_not_pulled_for(self, days: int) -> PolicyBuilder: ...
    def rule(self, description: str, selection: Mapping[str, Any], action: Mapping[str, Any]) -> PolicyBuilder: ...
    def described(self, description: str) -> PolicyBuilder: ...
    def build(self) -> LifecyclePolicy: ...
    def build_unchecked(self) -> LifecyclePolicy: ...

# --- functions ------------------------------------------------------------------------------------------

def derive_tag(
    path: str | os.PathLike[str] = ".",
    template: str = "{version}",
    source: Literal["pom", "cargo", "npm", "pyproject", "version-file", "git"] | None = None,
    overrides: Mapping[str, str] | None = None,
    strict: bool = False,
    allow_floating: bool = False,
    branch: str | None = None,
    now: datetime | None = None,
) -> DerivedTag: ...
def rollout_status(workload: _KubeObject) -> WorkloadStatus: ...
def diagnose(
    pods: Iterable[_KubeObject] | Mapping[str, Any],
    events: Iterable[_KubeObject] | Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
    pull_error_attempts: int | None = None,
    pull_error_after: _Duration | None = None,
    start_error_grace: _Duration | None = None,
    crash_loop_restarts: int | None = None,
    oom_kills: int | None = None,
    restart_window: _Duration | None = None,
    max_events: int | None = None,
    require_all_pods: bool | None = None,
) -> Diagnosis: ...
def previous_tag(
    images: Iterable[_Image],
    strategy: Literal["pushed", "before", "semver", "cli-compatible"] = "pushed",
    *,
    before: str | None = None,
    pattern: str | None = None,
    tag_prefix: str | None = None,
    tag_pattern: str | None = None,
    include_floating: bool = False,
    floating_tags: Sequence[str] | None = None,
) -> PreviousTag: ...
def parse_duration(text: str) -> timedelta: ...

# --- the client -----------------------------------------------------------------------------------------

@final
class Client:
    """A client of one Kubernetes cluster (a kube context) and one ECR registry (an account and region)."""

    def __new__(
        cls,
        kubeconfig: str | os.PathLike[str] | None = None,
        context: str | None = None,
        namespace: str | None = None,
        region: str | None = None,
        profile: str | None = None,
        ecr_endpoint: str | None = None,
        *,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
    ) -> Client: ...
    @property
    def kubeconfig(self) -> Path | None: ...
    @property
    def context(self) -> str | None: ...
    @property
    def namespace(self) -> str | None: ...
    @property
    def region(self) -> str | None: ...
    @property
    def profile(self) -> str | None: ...
    @property
    def ecr_endpoint(self) -> str | None: ...
    @overload
    def deploy(
        self,
        deployment: _Workload,
        image: _Image_ | None = None,
        *,
        containers: Mapping[str, _Image_] | None = None,
        namespace: str | None = None,
        timeout: _Duration = 600,
        rollback_on_failure: bool = False,
        skip_preflight: _Check | Iterable[_Check] = (),
        wait: bool = True,
        dry_run: bool = False,
        change_cause: str | None = None,
        on_progress: _OnProgress | None = None,
    ) -> RolloutReport: ...
    @overload
    def deploy(
        self,
        deployment: list[_Workload] | tuple[_Workload, ...],
        image: _Image_ | None = None,
        *,
        containers: Mapping[str, _Image_] | None = None,
        namespace: str | None = None,
        timeout: _Duration = 600,
        rollback_on_failure: bool = False,
        skip_preflight: _Check | Iterable[_Check] = (),
        wait: bool = True,
        dry_run: bool = False,
        change_cause: str | None = None,
        on_progress: _OnProgress | None = None,
    ) -> CombinedReport: ...
    def apply(
        self,
        manifests: str | os.PathLike[str] | Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        image: _Image_ | None = None,
        containers: Mapping[str, _Image_] | None = None,
        namespace: str | None = None,
        force: bool = False,
        timeout: _Duration = 600,
        rollback_on_failure: bool = False,
        skip_preflight: _Check | Iterable[_Check] = (),
        wait: bool = True,
        dry_run: bool = False,
        change_cause: str | None = None,
        on_progress: _OnProgress | None = None,
    ) -> ApplyReport: ...
    @overload
    def wait(
        self,
        workload: _Workload,
        /,
        *,
        timeout: _Duration,
        namespace: str | None = None,
        on_progress: _OnProgress | None = None,
    ) -> RolloutReport: ...
    @overload
    def wait(
        self,
        workload: _Workload,
        other: _Workload,
        /,
        *workloads: _Workload,
        timeout: _Duration,
        namespace: str | None = None,
        on_progress: _OnProgress | None = None,
    ) -> CombinedReport: ...
    def status(self, workload: _Workload, *, namespace: str | None = None) -> WorkloadStatus: ...
    def history(self, deployment: _Workload, *, namespace: str | None = None) -> History: ...
    def rollback(
        self,
        deployment: _Workload,
        *,
        to_revision: int | None = None,
        to_tag: str | None = None,
        to_last_good: bool = True,
        namespace: str | None = None,
        timeout: _Duration = 600,
        wait: bool = True,
        on_progress: _OnProgress | None = None,
    ) -> RolloutReport: ...
    @overload
    def previous_tag(
        self,
        repository: None = None,
        *,
        strategy: Literal["deployed"],
        deployment: _Workload,
        container: str | None = None,
        namespace: str | None = None,
    ) -> DeployedTag: ...
    @overload
    def previous_tag(
        self,
        repository: str,
        strategy: Literal["pushed", "before", "semver", "cli-compatible"] = "pushed",
        *,
        before: str | None = None,
        pattern: str | None = None,
        tag_prefix: str | None = None,
        tag_pattern: str | None = None,
        include_floating: bool = False,
        floating_tags: Sequence[str] | None = None,
        deployment: None = None,
    ) -> PreviousTag: ...
    def image_exists(self, image: _Image_) -> bool: ...
    def put_lifecycle_policy(
        self,
        repositories: str | Iterable[str],
        policy: _Policy,
        *,
        force: bool = False,
        in_use: Iterable[_InUse] = (),
        protect_in_use: bool = False,
        namespaces: str | Iterable[str] | None = None,
    ) -> PutReport: ...
    def get_lifecycle_policy(self, repository: str) -> LifecyclePolicy | None: ...
    def diff_lifecycle_policy(self, repository: str, policy: _Policy) -> PolicyDiff: ...
    def preview_lifecycle_policy(self, repository: str, policy: _Policy, now: datetime | None = None) -> Preview: ...
    def images_in_use(self, namespaces: str | Iterable[str] | None = None) -> list[InUseImage]: ...

# --- testing (used through rollout.testing) -------------------------------------------------------------

@final
class NativeSandbox:
    """The in-process sandbox on the shared runtime; rollout.testing.Sandbox wraps it."""

    def __new__(
        cls,
        *,
        time_scale: float,
        seed: int = 0,
        token: str | None = None,
        port: int = 0,
        history_limit: int | None = None,
        ecr_account: str | None = None,
        ecr_region: str | None = None,
    ) -> NativeSandbox: ...
    @property
    def url(self) -> str: ...
    @property
    def kubeconfig_yaml(self) -> str: ...
    @property
    def time_scale(self) -> float: ...
    @property
    def seed(self) -> int: ...
    @property
    def running(self) -> bool: ...
    def write_kubeconfig(self, path: str | os.PathLike[str]) -> None: ...
    def now(self) -> datetime: ...
    def set_image_behaviour(
        self,
        image: str,
        *,
        pull_seconds: _Duration | None = None,
        start_delay: _Duration | None = None,
        crash_after: _Duration | None = None,
        exit_code: int | None = None,
        oom_killed: bool | None = None,
        log_lines: Sequence[str] | None = None,
        never_ready: bool | None = None,
        liveness_fails: bool | None = None,
        config_error: str | None = None,
        pull_error: str | None = None,
        run_seconds: _Duration | None = None,
        stop_seconds: _Duration | None = None,
        size_bytes: int | None = None,
    ) -> None: ...
    @property
    def ecr_endpoint(self) -> str: ...
    @property
    def registry_host(self) -> str: ...
    @property
    def ecr_account(self) -> str: ...
    @property
    def ecr_region(self) -> str: ...
    def create_repository(self, repository: str) -> None: ...
    def push_image(
        self,
        repository: str,
        tags: str | Sequence[str] | None = None,
        *,
        pushed_at: datetime | None = None,
        size_bytes: int | None = None,
        behaviour: Mapping[str, Any] | None = None,
        pull_seconds: _Duration | None = None,
        start_delay: _Duration | None = None,
        crash_after: _Duration | None = None,
        exit_code: int | None = None,
        oom_killed: bool | None = None,
        log_lines: Sequence[str] | None = None,
        never_ready: bool | None = None,
        liveness_fails: bool | None = None,
        config_error: str | None = None,
        pull_error: str | None = None,
        run_seconds: _Duration | None = None,
        stop_seconds: _Duration | None = None,
    ) -> str: ...
    def run_lifecycle(self, repository: str) -> list[dict[str, Any]]: ...
    def images(self, repository: str) -> list[ImageRecord]: ...
    def remove_image_behaviour(self, image: str) -> bool: ...
    def image_behaviours(self) -> dict[str, dict[str, Any]]: ...
    @staticmethod
    def default_image_behaviour() -> dict[str, Any]: ...
    def set_faults(self, config: Mapping[str, Any]) -> None: ...
    def clear_faults(self) -> None: ...
    def faults(self) -> dict[str, Any]: ...
    def internal_errors(self) -> list[str]: ...
    def shutdown(self) -> None: ...

# Test hooks of rollout's own tests, not part of the API.
def _block_for(seconds: _Duration, on_enter: Callable[[], object] | None = None) -> None: ...
def _blocks_in_flight() -> int: ...
@final
class _Latch:
    def __new__(cls) -> _Latch: ...
    def wait(self, timeout: _Duration, on_enter: Callable[[], object] | None = None) -> bool: ...
    def open(self) -> None: ...
