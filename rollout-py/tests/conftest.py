"""Shared fixtures of the Python tests: the repository, the built CLI, a sandbox and a tiny API client."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

import rollout
from rollout.testing import Sandbox, sandbox_fixture

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")

# The fixture recipe the module documents for users, used as they would.
sandbox = sandbox_fixture(time_scale=0.01)


def missing(what: str) -> None:
    """Skip a test whose tool is missing, except under CI=1, where that is a failure."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing (CI is set, so this fails instead of skipping)")
    pytest.skip(f"{what} is missing")


@pytest.fixture(scope="session")
def cli() -> Path:
    """The rollout CLI built by cargo (ROLLOUT_TEST_CLI, else target/debug/rollout)."""
    path = Path(os.environ.get("ROLLOUT_TEST_CLI", REPO / "target" / "debug" / "rollout"))
    if not path.is_file():
        missing(f"the rollout CLI at {path} (run cargo build -p rollout-cli)")
    return path


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0) -> T:
    """Polls `probe` until it returns something other than None. The timeout only bounds a failure."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


class Kube:
    """Just enough of a Kubernetes API client (urllib and JSON) to drive the sandbox from tests."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.url = sandbox.url

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", content_type)
        req.add_header("Accept", "application/json")
        with urllib.request.urlopen(req, timeout=30) as answer:
            return json.load(answer)

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def create(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body)

    def merge_patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, body, "application/merge-patch+json")


@pytest.fixture
def kube(sandbox: Sandbox) -> Kube:
    return Kube(sandbox)


def deployment(name: str, image: str, replicas: int = 3) -> dict[str, Any]:
    """A Deployment like the seed workflow's (tcpSocket probes on 8443), every field the controllers read
    given explicitly."""
    probe = {"tcpSocket": {"port": 8443}, "periodSeconds": 10, "timeoutSeconds": 1, "failureThreshold": 3, "successThreshold": 1}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "progressDeadlineSeconds": 600,
            "revisionHistoryLimit": 10,
            "minReadySeconds": 0,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": name,
                            "image": image,
                            "imagePullPolicy": "Always",
                            "ports": [{"containerPort": 8443}],
                            "readinessProbe": {**probe, "initialDelaySeconds": 5},
                            "livenessProbe": {**probe, "initialDelaySeconds": 15, "failureThreshold": 5, "periodSeconds": 20},
                        }
                    ]
                },
            },
        },
    }


@pytest.fixture
def kubectl() -> str:
    """The kubectl binary (ROLLOUT_TEST_KUBECTL, else kubectl on PATH)."""
    path = os.environ.get("ROLLOUT_TEST_KUBECTL") or shutil.which("kubectl")
    if not path:
        missing("kubectl")
    assert path is not None
    return path


@pytest.fixture
def client(sandbox: Sandbox) -> rollout.Client:
    """A rollout.Client for the test's sandbox, as users get it."""
    return sandbox.client()


def ready(client: rollout.Client, name: str, image: str, replicas: int = 3) -> rollout.ApplyReport:
    """Creates the Deployment `name` running `image` and waits until it is rolled out."""
    report = client.apply(deployment(name, image, replicas), timeout=60)
    assert report.rollouts.outcome == "succeeded", report
    return report


def normalised(report: dict[str, Any]) -> dict[str, Any]:
    """A report's JSON with what differs between two runs of the same rollout in two namespaces replaced
    by its type: times, durations, the namespace, and the names the controllers generate."""
    volatile = {"started_at", "finished_at", "duration_ms", "new_replica_set", "namespace", "pod"}
    volatile |= {"since", "first_seen", "last_seen", "created_at", "healthy_at"}

    def walk(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, key) for v in value]
        if key in volatile:
            return type(value).__name__
        return value

    result: dict[str, Any] = walk(report)
    return result


def run_cli(cli: Path, sandbox: Sandbox, *args: str) -> Any:
    """Runs the rollout CLI against the sandbox (its kubeconfig, ECR endpoint and credentials, given as a
    subprocess's environment) with `-o json`, and returns what it printed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KUBECONFIG"))} | sandbox.env
    answer = subprocess.run(
        [str(cli), "-o", "json", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert answer.returncode == 0, answer.stderr
    return json.loads(answer.stdout)


def namespace(sandbox: Sandbox, name: str) -> None:
    """Creates a namespace in the sandbox."""
    Kube(sandbox).create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def unplaced(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest without its namespace, so that apply puts it in the namespace it is given."""
    del manifest["metadata"]["namespace"]
    return manifest
