"""The exceptions rollout raises, all under :class:`RolloutError`.

========================  =======================  ===================================================
class                     also a                   raised when
========================  =======================  ===================================================
``InvalidInputError``     ``ValueError``           an argument or input file was rejected; nothing was
                                                   changed. The message names the argument and value
                                                   and says what is allowed. A rejected lifecycle
                                                   policy lists every violation in ``.violations``.
``NotFoundError``         ``LookupError``          what was asked for does not exist: a project
                                                   version, a file, a tag, a previous release
``RolloutFailedError``                             a rollout ran and failed; ``.report`` holds the
                                                   rollout report
``RolloutTimeoutError``                            waiting for a rollout timed out; ``.report`` holds
                                                   the report as it stood
``KubernetesError``                                the Kubernetes API failed, refused or was unreachable
``EcrError``                                       the ECR API failed, refused or was unreachable
``ConfigError``                                    a kubeconfig, AWS profile or credential could not be
                                                   found or used
========================  =======================  ===================================================

A wrong *type* of argument (a ``str`` where a list is wanted) stays a ``TypeError``, and Ctrl-C during
a call raises ``KeyboardInterrupt`` after cancelling the call's work.
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
