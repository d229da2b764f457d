"""rollout.testing: the in-process sandbox as a context manager and a pytest fixture."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import rollout
from conftest import Kube, deployment, wait_for
from rollout._rollout import NativeSandbox
from rollout.testing import Sandbox


def info(sandbox: Sandbox) -> dict[str, object]:
    with urllib.request.urlopen(sandbox.url + "/sandbox/v1/info", timeout=30) as answer:
        result: dict[str, object] = json.load(answer)
        return result


def test_the_fixture_gives_a_running_sandbox(sandbox: Sandbox) -> None:
    assert sandbox.running
    assert sandbox.url.startswith("http://127.0.0.1:")
    assert info(sandbox)["timeScale"] == 0.01 == sandbox.time_scale
    assert sandbox.seed == 0
    assert sandbox.internal_errors() == []


def test_the_kubeconfig_is_written_and_matches_the_yaml(sandbox: Sandbox) -> None:
    path = Path(sandbox.kubeconfig)
    assert path.read_text() == sandbox.kubeconfig_yaml
    assert f"server: {sandbox.url}" in sandbox.kubeconfig_yaml
    assert "current-context: rollout-sandbox" in sandbox.kubeconfig_yaml
    assert sandbox.env["KUBECONFIG"] == str(path)


def test_the_simulated_clock_runs_fast_and_is_aware(sandbox: Sandbox) -> None:
    first = sandbox.now()
    assert first.tzinfo is not None and first < datetime.now(timezone.utc)
    later = wait_for("simulated time to pass a minute", lambda: t if (t := sandbox.now()) - first > timedelta(minutes=1) else None)
    assert later > first


def test_stop_shuts_the_server_down_and_removes_the_kubeconfig() -> None:
    with Sandbox(time_scale=0.05, seed=7) as sandbox:
        url, kubeconfig = sandbox.url, Path(sandbox.kubeconfig)
        assert info(sandbox)["seed"] == 7
        assert repr(sandbox) == f"<Sandbox {url} time_scale=0.05>"
    assert not sandbox.running and not kubeconfig.exists()
    assert repr(sandbox) == "<Sandbox stopped time_scale=0.05>"
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/version", timeout=5)
    with pytest.raises(RuntimeError, match="not running"):
        sandbox.url  # noqa: B018
    sandbox.stop()  # a second stop is harmless


def test_a_sandbox_can_be_started_by_hand_with_its_own_directory_and_token(tmp_path: Path) -> None:
    sandbox = Sandbox(directory=tmp_path / "sb", token="s3cret").start()
    try:
        assert Path(sandbox.kubeconfig) == tmp_path / "sb" / "kubeconfig"
        assert "token: s3cret" in sandbox.kubeconfig_yaml
        with pytest.raises(RuntimeError, match="already running"):
            sandbox.start()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(sandbox.url + "/api/v1/namespaces/default/pods", timeout=30)
        assert refused.value.code == 401
    finally:
        sandbox.stop()
    assert (tmp_path / "sb" / "kubeconfig").exists(), "a directory given by the caller is the caller's"


def test_a_time_scale_that_is_not_positive_is_refused_by_name() -> None:
    for scale in (0.0, -1.0, float("nan")):
        with pytest.raises(rollout.InvalidInputError, match="invalid time_scale .*use a positive number"):
            Sandbox(time_scale=scale).start()


def test_set_image_behaviour_defaults_are_the_sandboxs_own(sandbox: Sandbox) -> None:
    sandbox.set_image_behaviour("registry.example/plain:1")
    assert sandbox.image_behaviours() == {"registry.example/plain:1": NativeSandbox.default_image_behaviour()}


def test_set_image_behaviour_covers_every_field(sandbox: Sandbox) -> None:
    sandbox.set_image_behaviour(
        "registry.example/app:*",
        pull_seconds=timedelta(seconds=3),
        start_delay="20s",
        crash_after=2,
        exit_code=137,
        oom_killed=True,
        log_lines=("starting", "panic: boom"),
        never_ready=True,
        liveness_fails=True,
        config_error='configmap "app-config" not found',
        pull_error="manifest unknown",
        run_seconds=0.5,
        stop_seconds=timedelta(milliseconds=1500),
        size_bytes=1024,
    )
    assert sandbox.image_behaviours()["registry.example/app:*"] == {
        "pullSeconds": 3.0,
        "startDelaySeconds": 20.0,
        "crashAfterSeconds": 2.0,
        "exitCode": 137,
        "oomKilled": True,
        "logLines": ["starting", "panic: boom"],
        "neverReady": True,
        "livenessFails": True,
        "configError": 'configmap "app-config" not found',
        "pullError": "manifest unknown",
        "runSeconds": 0.5,
        "stopSeconds": 1.5,
        "sizeBytes": 1024,
    }
    assert sandbox.remove_image_behaviour("registry.example/app:*")
    assert not sandbox.remove_image_behaviour("registry.example/app:*")
    assert sandbox.image_behaviours() == {}


def test_bad_image_behaviours_are_refused_by_name(sandbox: Sandbox) -> None:
    with pytest.raises(rollout.InvalidInputError, match='invalid crash_after "-2": a duration cannot be negative'):
        sandbox.set_image_behaviour("app:1", crash_after=-2)
    with pytest.raises(rollout.InvalidInputError, match='invalid start_delay "soon"'):
        sandbox.set_image_behaviour("app:1", start_delay="soon")
    with pytest.raises(rollout.InvalidInputError, match='invalid image ""'):
        sandbox.set_image_behaviour("")


def test_a_never_ready_image_keeps_its_rollout_progressing(sandbox: Sandbox, kube: Kube) -> None:
    sandbox.set_image_behaviour("registry.example/slow:*", never_ready=True)
    kube.create("/apis/apps/v1/namespaces/default/deployments", deployment("slow", "registry.example/slow:1", replicas=1))

    def unready_pod() -> dict[str, object] | None:
        pods = kube.get("/api/v1/namespaces/default/pods?labelSelector=app%3Dslow")["items"]
        running = [p for p in pods if p["status"].get("phase") == "Running"]
        return running[0] if running else None

    pod = unready_pod() or wait_for("a running pod", unready_pod)
    assert not any(c["ready"] for c in pod["status"]["containerStatuses"])  # type: ignore[index]
    status = rollout.rollout_status(kube.get("/apis/apps/v1/namespaces/default/deployments/slow"))
    assert status.state == "progressing"


def test_faults_can_be_set_read_and_cleared(sandbox: Sandbox) -> None:
    faults = sandbox.faults
    assert faults.get() == {}
    faults.set(
        {"writeConflictProbability": 0.5},
        errors=[{"verb": "patch", "resource": "deployments", "status": 429, "probability": 1.0, "retry_after_seconds": 2}],
        latency_ms=1,
        drop_watch_after_events=10,
        drop_watch_after_ms=500,
        watch_expired_probability=0.1,
        pause_controllers=True,
        pause_kubelet=True,
    )
    assert faults.get() == {
        "errors": [{"verb": "patch", "resource": "deployments", "status": 429, "probability": 1.0, "retryAfterSeconds": 2}],
        "latencyMs": 1,
        "writeConflictProbability": 0.5,
        "dropWatchAfterEvents": 10,
        "dropWatchAfterMs": 500,
        "watchExpiredProbability": 0.1,
        "pauseControllers": True,
        "pauseKubelet": True,
    }
    faults.clear()
    assert faults.get() == {}


def test_injected_faults_apply_to_requests_and_end_with_the_block(sandbox: Sandbox) -> None:
    with sandbox.faults.injected(errors=[{"status": 503, "probability": 1.0}]):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(sandbox.url + "/api/v1/namespaces/default/pods", timeout=30)
        assert refused.value.code == 503
    with urllib.request.urlopen(sandbox.url + "/api/v1/namespaces/default/pods", timeout=30) as answer:
        assert answer.status == 200


def test_bad_faults_are_refused_by_name(sandbox: Sandbox) -> None:
    with pytest.raises(rollout.InvalidInputError, match="errors\\[0\\].status: 404 is not one of 429, 500, 503"):
        sandbox.faults.set(errors=[{"status": 404, "probability": 1.0}])
    with pytest.raises(rollout.InvalidInputError, match="invalid faults .*unknown field `colour`"):
        sandbox.faults.set({"colour": "red"})
    assert sandbox.faults.get() == {}


def test_kubectl_works_against_the_sandbox(sandbox: Sandbox, kubectl: str) -> None:
    answer = subprocess.run(
        [kubectl, "get", "namespaces", "-o", "name"],
        env={**os.environ, **sandbox.env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert answer.returncode == 0, answer.stderr
    assert "namespace/default" in answer.stdout.split()


def test_the_documented_fixture_recipe_works_in_a_users_test_suite(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        from rollout.testing import sandbox_fixture

        sandbox = sandbox_fixture(time_scale=0.01)
        shared = sandbox_fixture(scope="module", name="shared_sandbox", seed=3)
        """
    )
    pytester.makepyfile(
        """
        urls = []

        def test_one(sandbox, shared_sandbox):
            assert sandbox.running and shared_sandbox.seed == 3
            urls.append((sandbox.url, shared_sandbox.url))

        def test_two(sandbox, shared_sandbox):
            assert sandbox.url != urls[0][0], "a function-scoped sandbox is new for each test"
            assert shared_sandbox.url == urls[0][1], "a module-scoped one is shared"
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
