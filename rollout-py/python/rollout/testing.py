"""Test your deployment scripts without a cluster or an AWS account: the rollout sandbox, in-process.

:class:`Sandbox` starts an emulated Kubernetes API server on 127.0.0.1 with the Deployment and
ReplicaSet controllers and a pod simulator (image pulls, probes, crash loops, events, logs), on a
scaled clock so realistic probe delays and progress deadlines pass in milliseconds, and an emulated
ECR registry on the same port (the images the simulated kubelet can pull from its registry host). The
real ``kubectl``, the official ``kubernetes`` client, boto3, the aws CLI and rollout itself talk to it.

As a context manager::

    from rollout.testing import Sandbox

    with Sandbox(time_scale=0.01) as sandbox:
        sandbox.push_image("app", "1.0.0")                                   # healthy
        sandbox.push_image("app", "1.0.1", crash_after=2, log_lines=["panic: no config"])
        client = sandbox.client()                                            # a rollout.Client for it
        run_my_deploy_script(client, image=sandbox.image("app", "1.0.1"))

As a pytest fixture, in ``conftest.py``::

    from rollout.testing import sandbox_fixture

    sandbox = sandbox_fixture(time_scale=0.01)          # a fresh sandbox per test
    shared_sandbox = sandbox_fixture(scope="session")   # or one for the whole run

    def test_deploy(sandbox):
        sandbox.push_image("app", "1.0.0")
        subprocess.run(["./deploy.sh", sandbox.image("app", "1.0.0")], env={**os.environ, **sandbox.env}, check=True)

The fixture fails the test if the sandbox recorded an internal error (a bug of the sandbox, not of the
code under test).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Union

from rollout._rollout import Client, ImageRecord, NativeSandbox

# Test hooks of rollout's own test suite, not part of the API: a call that blocks on the shared runtime
# the way a long wait does (for the Ctrl-C tests), the number of such calls alive, and a latch.
from rollout._rollout import _block_for as _block_for
from rollout._rollout import _blocks_in_flight as _blocks_in_flight
from rollout._rollout import _Latch as _Latch

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["Faults", "Sandbox", "sandbox_fixture"]

#: A duration: seconds (int or float), a ``timedelta``, or a text such as ``"90s"``.
Duration = Union[float, timedelta, str]


class Faults:
    """The sandbox's fault injection: error answers, latency, write conflicts, dropped watches.

    Every decision is drawn from the sandbox's seed, so a run with the same seed and the same requests
    fails the same way.
    """

    def __init__(self, native: NativeSandbox) -> None:
        self._native = native

    def set(
        self,
        config: Mapping[str, Any] | None = None,
        /,
        *,
        errors: Sequence[Mapping[str, Any]] | None = None,
        latency_ms: int | None = None,
        write_conflict_probability: float | None = None,
        drop_watch_after_events: int | None = None,
        drop_watch_after_ms: int | None = None,
        watch_expired_probability: float | None = None,
        pause_controllers: bool | None = None,
        pause_kubelet: bool | None = None,
        ecr_throttle_probability: float | None = None,
    ) -> None:
        """Replace the fault configuration.

        ``config`` is a dict in the admin API's form (camelCase, as ``GET /sandbox/v1/faults``) or with
        snake_case keys; keyword arguments are added to it. ``errors`` is a list of rules
        ``{"verb": "patch", "resource": "deployments", "status": 429, "probability": 0.5,
        "retry_after_seconds": 1}`` (verb and resource optional; status 429, 500 or 503);
        ``ecr_throttle_probability`` answers that share of ECR calls with a ``ThrottlingException``.
        """
        merged: dict[str, Any] = dict(config or {})
        options = {
            "errors": None if errors is None else [dict(rule) for rule in errors],
            "latency_ms": latency_ms,
            "write_conflict_probability": write_conflict_probability,
            "drop_watch_after_events": drop_watch_after_events,
            "drop_watch_after_ms": drop_watch_after_ms,
            "watch_expired_probability": watch_expired_probability,
            "pause_controllers": pause_controllers,
            "pause_kubelet": pause_kubelet,
            "ecr_throttle_probability": ecr_throttle_probability,
        }
        merged.update({key: value for key, value in options.items() if value is not None})
        self._native.set_faults(merged)

    def clear(self) -> None:
        """Remove every fault."""
        self._native.clear_faults()

    def get(self) -> dict[str, Any]:
        """The current configuration in the admin API's form (camelCase, defaults left out)."""
        result: dict[str, Any] = self._native.faults()
        return result

    @contextmanager
    def injected(self, config: Mapping[str, Any] | None = None, /, **options: Any) -> Iterator[None]:
        """Inject faults for the duration of a ``with`` block, then clear them."""
        self.set(config, **options)
        try:
            yield
        finally:
            self.clear()


class Sandbox:
    """An in-process Kubernetes sandbox (API server, controllers, pod simulator) on 127.0.0.1.

    Nothing runs until :meth:`start` (or ``with``); :meth:`stop` (or the end of the ``with`` block)
    shuts it down and removes the kubeconfig it wrote.

    ``time_scale`` multiplies every simulated duration: at 0.01 a 10 s readiness delay takes 100 ms and
    the 600 s progress deadline 6 s. ``seed`` fixes generated names and injected faults. ``token``
    requires ``Authorization: Bearer <token>``. ``port`` 0 picks a free port. ``directory`` is where
    the kubeconfig is written (default: a new temporary directory, removed on stop). The registry is
    ECR account ``ecr_account`` (default ``123456789012``) in ``ecr_region`` (default ``ap-southeast-2``).
    """

    #: The credentials :meth:`client` and :attr:`env` give: the sandbox registry wants a SigV4 signature
    #: but does not check it.
    AWS_ACCESS_KEY_ID = "sandbox"
    AWS_SECRET_ACCESS_KEY = "sandbox"

    def __init__(
        self,
        *,
        time_scale: float = 0.01,
        seed: int = 0,
        token: str | None = None,
        port: int = 0,
        history_limit: int | None = None,
        directory: str | os.PathLike[str] | None = None,
        ecr_account: str | None = None,
        ecr_region: str | None = None,
    ) -> None:
        self._options: dict[str, Any] = {
            "time_scale": time_scale,
            "seed": seed,
            "token": token,
            "port": port,
            "history_limit": history_limit,
            "ecr_account": ecr_account,
            "ecr_region": ecr_region,
        }
        self._directory = None if directory is None else os.fspath(directory)
        self._made_directory: str | None = None
        self._native: NativeSandbox | None = None
        self._kubeconfig: str | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        """Start the sandbox and write its kubeconfig; returns the sandbox."""
        if self._native is not None:
            raise RuntimeError("the sandbox is already running")
        native = NativeSandbox(**self._options)
        try:
            directory = self._directory
            if directory is None:
                directory = self._made_directory = tempfile.mkdtemp(prefix="rollout-sandbox-")
            os.makedirs(directory, exist_ok=True)
            path = os.path.join(directory, "kubeconfig")
            native.write_kubeconfig(path)
        except BaseException:
            native.shutdown()
            self._remove_directory()
            raise
        self._native = native
        self._kubeconfig = path
        return self

    def stop(self) -> None:
        """Shut the sandbox down and remove what it wrote; a no-op when not running."""
        native, self._native = self._native, None
        if native is not None:
            native.shutdown()
        self._remove_directory()

    def _remove_directory(self) -> None:
        if self._made_directory is not None:
            shutil.rmtree(self._made_directory, ignore_errors=True)
            self._made_directory = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the sandbox is running."""
        return self._native is not None and self._native.running

    def _require(self) -> NativeSandbox:
        if self._native is None:
            raise RuntimeError("the sandbox is not running: call start() or use it in a with block")
        return self._native

    # --- Kubernetes ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The API server's base URL, ``http://127.0.0.1:<port>``."""
        return self._require().url

    @property
    def kubeconfig(self) -> str:
        """The path of the kubeconfig file (context ``rollout-sandbox``, namespace ``default``)."""
        self._require()
        assert self._kubeconfig is not None
        return self._kubeconfig

    @property
    def kubeconfig_yaml(self) -> str:
        """The kubeconfig as YAML text, e.g. for ``kubernetes.config.load_kube_config_from_dict``."""
        return self._require().kubeconfig_yaml

    @property
    def env(self) -> dict[str, str]:
        """Environment variables that point a subprocess (kubectl, the aws CLI, a deployment script) at the
        sandbox's cluster and registry: ``KUBECONFIG``, ``AWS_ENDPOINT_URL_ECR``, ``AWS_REGION`` and dummy
        credentials. Pass them to the subprocess (``env={**os.environ, **sandbox.env}``); nothing here
        changes this process's environment."""
        native = self._require()
        return {
            "KUBECONFIG": self.kubeconfig,
            "AWS_ENDPOINT_URL_ECR": native.ecr_endpoint,
            "AWS_REGION": native.ecr_region,
            "AWS_DEFAULT_REGION": native.ecr_region,
            "AWS_ACCESS_KEY_ID": self.AWS_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": self.AWS_SECRET_ACCESS_KEY,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self, namespace: str | None = None) -> Client:
        """A :class:`rollout.Client` for this sandbox: its kubeconfig, its ECR endpoint and region, and
        dummy credentials, all passed explicitly (the process environment is neither read for them nor
        changed), so several sandboxes in one process never see each other."""
        native = self._require()
        return Client(
            kubeconfig=self.kubeconfig,
            namespace=namespace,
            region=native.ecr_region,
            ecr_endpoint=native.ecr_endpoint,
            aws_access_key_id=self.AWS_ACCESS_KEY_ID,
            aws_secret_access_key=self.AWS_SECRET_ACCESS_KEY,
        )

    @property
    def time_scale(self) -> float:
        """The factor simulated durations are multiplied by to get real ones."""
        return self._require().time_scale

    @property
    def seed(self) -> int:
        """The seed of generated names and injected faults."""
        return self._require().seed

    def now(self) -> datetime:
        """The sandbox's simulated time (an aware datetime in UTC); it runs ``1 / time_scale`` times faster."""
        return self._require().now()

    def set_image_behaviour(
        self,
        image: str,
        *,
        pull_seconds: Duration = 1.0,
        start_delay: Duration = 0.0,
        crash_after: Duration | None = None,
        exit_code: int = 1,
        oom_killed: bool = False,
        log_lines: Sequence[str] = (),
        never_ready: bool = False,
        liveness_fails: bool = False,
        config_error: str | None = None,
        pull_error: str | None = None,
        run_seconds: Duration = 1.0,
        stop_seconds: Duration = 1.0,
        size_bytes: int = 52_428_800,
    ) -> None:
        """Make containers of ``image`` behave a certain way (a pattern ending in ``*`` matches a prefix).

        Durations are simulated (multiplied by ``time_scale``), in seconds or as timedeltas:
        ``pull_seconds`` an image pull takes; ``start_delay`` until the application answers probes (a
        slow start); ``crash_after`` every start, the container exits with ``exit_code`` (a crash loop);
        ``oom_killed`` makes that exit an OOM kill (exit code 137); ``log_lines`` are logged on every
        start; ``never_ready`` fails every readiness probe; ``liveness_fails`` every liveness probe;
        ``config_error`` fails container creation (``CreateContainerConfigError``) with that message;
        ``pull_error`` fails every pull (``ErrImagePull`` then ``ImagePullBackOff``); ``run_seconds`` an
        init container runs; ``stop_seconds`` the application takes to stop; ``size_bytes`` the image
        size in pull events. The defaults are a healthy image's.
        """
        self._require().set_image_behaviour(
            image,
            pull_seconds=pull_seconds,
            start_delay=start_delay,
            crash_after=crash_after,
            exit_code=exit_code,
            oom_killed=oom_killed,
            log_lines=list(log_lines),
            never_ready=never_ready,
            liveness_fails=liveness_fails,
            config_error=config_error,
            pull_error=pull_error,
            run_seconds=run_seconds,
            stop_seconds=stop_seconds,
            size_bytes=size_bytes,
        )

    def remove_image_behaviour(self, image: str) -> bool:
        """Forget the behaviour set for ``image`` (the same pattern); whether there was one."""
        return self._require().remove_image_behaviour(image)

    def image_behaviours(self) -> dict[str, dict[str, Any]]:
        """Every behaviour set, by pattern, in the admin API's form (camelCase)."""
        return self._require().image_behaviours()

    @property
    def faults(self) -> Faults:
        """Fault injection: ``sandbox.faults.set(latency_ms=50)``, ``sandbox.faults.clear()``."""
        return Faults(self._require())

    def internal_errors(self) -> list[str]:
        """Writes of the simulated controllers and kubelet that the API server rejected: empty unless the
        sandbox itself has a bug."""
        return self._require().internal_errors()

    # --- ECR ----------------------------------------------------------------------------------------

    @property
    def ecr_endpoint(self) -> str:
        """The ECR endpoint URL (the API server's URL): ``Client(ecr_endpoint=...)``,
        ``boto3.client("ecr", endpoint_url=...)``, ``AWS_ENDPOINT_URL_ECR``."""
        return self._require().ecr_endpoint

    @property
    def registry(self) -> str:
        """The sandbox registry's host, ``<account>.dkr.ecr.<region>.amazonaws.com``: images under it pull
        only if they were pushed (see :meth:`push_image`); images of any other host always pull."""
        return self._require().registry_host

    @property
    def ecr_region(self) -> str:
        """The sandbox registry's AWS region."""
        return self._require().ecr_region

    @property
    def ecr_account(self) -> str:
        """The sandbox registry's AWS account id."""
        return self._require().ecr_account

    def image(self, repository: str, tag: str | None = None) -> str:
        """The reference of an image of the sandbox registry: ``<registry>/<repository>[:<tag>]``."""
        name = f"{self.registry}/{repository}"
        return name if tag is None else f"{name}:{tag}"

    def create_repository(self, repository: str) -> None:
        """Create an empty repository (``InvalidInputError`` when it exists or the name is invalid)."""
        self._require().create_repository(repository)

    def push_image(
        self,
        repository: str,
        tags: str | Sequence[str] = (),
        *,
        pushed_at: datetime | None = None,
        size_bytes: int | None = None,
        behaviour: Mapping[str, Any] | None = None,
        pull_seconds: Duration | None = None,
        start_delay: Duration | None = None,
        crash_after: Duration | None = None,
        exit_code: int | None = None,
        oom_killed: bool | None = None,
        log_lines: Sequence[str] | None = None,
        never_ready: bool | None = None,
        liveness_fails: bool | None = None,
        config_error: str | None = None,
        pull_error: str | None = None,
        run_seconds: Duration | None = None,
        stop_seconds: Duration | None = None,
    ) -> str:
        """Push a new image to ``repository`` (created when missing) with ``tags`` (one tag, several, or
        none for an untagged image) and return its digest.

        ``pushed_at`` (an aware datetime; default the simulated now) and ``size_bytes`` describe the image.
        How its containers behave is a ``behaviour`` dict (the admin API's camelCase form, or snake_case
        keys) and/or the keywords of :meth:`set_image_behaviour` (which win); it is registered for every
        tag and for the digest. Without either, the image is healthy.
        """
        return self._require().push_image(
            repository,
            [tags] if isinstance(tags, str) else list(tags),
            pushed_at=pushed_at,
            size_bytes=size_bytes,
            behaviour=None if behaviour is None else dict(behaviour),
            pull_seconds=pull_seconds,
            start_delay=start_delay,
            crash_after=crash_after,
            exit_code=exit_code,
            oom_killed=oom_killed,
            log_lines=None if log_lines is None else list(log_lines),
            never_ready=never_ready,
            liveness_fails=liveness_fails,
            config_error=config_error,
            pull_error=pull_error,
            run_seconds=run_seconds,
            stop_seconds=stop_seconds,
        )

    def run_lifecycle(self, repository: str) -> list[dict[str, Any]]:
        """Run the repository's lifecycle policy now, as ECR's periodic pass would, and return what it did:
        one dict per image (``digest``, ``tags``, ``pushed_at``, ``action`` ``"expire"`` or
        ``"transition"``, ``rule_priority``, ``storage_class``). ``NotFoundError`` for a missing
        repository."""
        return self._require().run_lifecycle(repository)

    def images(self, repository: str) -> list[ImageRecord]:
        """The repository's images, oldest push first. ``NotFoundError`` for a missing repository."""
        return self._require().images(repository)

    def __repr__(self) -> str:
        if self._native is None:
            return f"<Sandbox stopped time_scale={self._options['time_scale']}>"
        return f"<Sandbox {self._native.url} time_scale={self._native.time_scale}>"


def sandbox_fixture(
    *,
    scope: str = "function",
    name: str | None = None,
    time_scale: float = 0.01,
    seed: int = 0,
    token: str | None = None,
    history_limit: int | None = None,
    ecr_account: str | None = None,
    ecr_region: str | None = None,
) -> Callable[..., Any]:
    """A pytest fixture yielding a started :class:`Sandbox`, stopped after its scope.

    Assign it in ``conftest.py`` (``sandbox = sandbox_fixture()``); the fixture takes the variable's
    name unless ``name`` is given. ``scope`` is pytest's (``"function"``, ``"module"``, ``"session"``…).
    The test fails if the sandbox recorded an internal error.
    """
    import pytest

    def fixture() -> Iterator[Sandbox]:
        with Sandbox(
            time_scale=time_scale,
            seed=seed,
            token=token,
            history_limit=history_limit,
            ecr_account=ecr_account,
            ecr_region=ecr_region,
        ) as sandbox:
            yield sandbox
            errors = sandbox.internal_errors()
            if errors:
                pytest.fail("the sandbox rejected its own writes (a sandbox bug):\n" + "\n".join(errors))

    decorate: Any = pytest.fixture(scope=scope, name=name)  # type: ignore[call-overload]
    result: Callable[..., Any] = decorate(fixture)
    return result
