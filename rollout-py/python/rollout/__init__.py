"""rollout: zero-downtime Kubernetes rollouts of container images stored in AWS ECR.

The Python face of the rollout-core library: every function calls the core and returns its result as
a frozen report object (attributes, ``to_dict()``, ``to_json()``: the same JSON the ``rollout`` CLI
prints with ``-o json``). Errors are exceptions under :class:`RolloutError` (see
:mod:`rollout.exceptions`); :mod:`rollout.testing` runs the sandbox cluster in-process for tests.

>>> import rollout
>>> rollout.ImageRef.parse("123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/app:1.0.0").ecr_region
'ap-southeast-2'
"""

from rollout._rollout import (
    ContainerProblem,
    DerivedTag,
    Diagnosis,
    EventSummary,
    FieldChange,
    GitInfo,
    ImageRecord,
    ImageRef,
    ImageVerdict,
    LifecyclePolicy,
    PolicyBuilder,
    PolicyDiff,
    PolicyViolation,
    PreviousTag,
    Preview,
    PreviewSummary,
    ProjectVersion,
    ProtectionViolation,
    ReplicaCounts,
    Report,
    RuleChange,
    RuleSummary,
    SkippedImage,
    WorkloadStatus,
    __version__,
    derive_tag,
    diagnose,
    parse_duration,
    previous_tag,
    rollout_status,
)
from rollout.exceptions import (
    ConfigError,
    EcrError,
    InvalidInputError,
    KubernetesError,
    NotFoundError,
    RolloutError,
    RolloutFailedError,
    RolloutTimeoutError,
)

__all__ = [
    "ConfigError",
    "ContainerProblem",
    "DerivedTag",
    "Diagnosis",
    "EcrError",
    "EventSummary",
    "FieldChange",
    "GitInfo",
    "ImageRecord",
    "ImageRef",
    "ImageVerdict",
    "InvalidInputError",
    "KubernetesError",
    "LifecyclePolicy",
    "NotFoundError",
    "PolicyBuilder",
    "PolicyDiff",
    "PolicyViolation",
    "PreviousTag",
    "Preview",
    "PreviewSummary",
    "ProjectVersion",
    "ProtectionViolation",
    "ReplicaCounts",
    "Report",
    "RolloutError",
    "RolloutFailedError",
    "RolloutTimeoutError",
    "RuleChange",
    "RuleSummary",
    "SkippedImage",
    "WorkloadStatus",
    "__version__",
    "derive_tag",
    "diagnose",
    "parse_duration",
    "previous_tag",
    "rollout_status",
]
