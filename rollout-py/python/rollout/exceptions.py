"""The exceptions rollout raises, all under :class:`RolloutError`.

========================  =======================  ===================================================
class                     also a                   raised when
========================  =======================  ===================================================
``InvalidInputError``     ``ValueError``           an argument or input file was rejected; nothing was
                                                   changed. The message names the argument and value
                                                   and says what is allowed (an unknown container
                                                   too). A rejected lifecycle policy lists every
                                                   violation in ``.violations``; a failed preflight
                                                   check and a policy that would expire an image in
                                                   use are refusals of this kind.
``NotFoundError``         ``LookupError``          what was asked for does not exist: a project
                                                   version, a file, a tag, a previous release, a
                                                   workload, a revision, an ECR repository
``RolloutFailedError``                             a rollout ran and failed (rolled back or not);
                                                   ``.report`` holds its ``RolloutReport``, and
                                                   ``.result`` the whole result of a call over several
                                                   workloads (a ``CombinedReport`` or ``ApplyReport``)
``RolloutTimeoutError``                            waiting for a rollout timed out; ``.report`` and
                                                   ``.result`` as above
``KubernetesError``                                the Kubernetes API failed, refused or was unreachable
``EcrError``                                       the ECR API failed, refused or was unreachable
``ConfigError``                                    a kubeconfig, AWS profile or credential could not be
                                                   found or used
========================  =======================  ===================================================

A wrong *type* of argument (a ``str`` where a list is wanted) stays a ``TypeError``, and Ctrl-C during
a call raises ``KeyboardInterrupt`` after cancelling the call's work. An exception raised by an
``on_progress`` callback stops the call and is raised from it as it is.
"""

from rollout._rollout import (
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
    "EcrError",
    "InvalidInputError",
    "KubernetesError",
    "NotFoundError",
    "RolloutError",
    "RolloutFailedError",
    "RolloutTimeoutError",
]
