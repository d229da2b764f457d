"""rollout.testing: the in-process sandbox as a context manager and a pytest fixture."""

from __future__ import annotations

import json
import os
import shutil
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


# --- ECR ------------------------------------------------------------------------------------------------


def test_the_sandbox_registry_is_described(sandbox: Sandbox) -> None:
    assert sandbox.ecr_endpoint == sandbox.url
    assert sandbox.registry == "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com"
    assert (sandbox.ecr_account, sandbox.ecr_region) == ("123456789012", "ap-southeast-2")
    assert sandbox.image("app", "1.0.0") == f"{sandbox.registry}/app:1.0.0"
    assert sandbox.image("app") == f"{sandbox.registry}/app"
    ref = rollout.ImageRef(sandbox.image("app", "1.0.0"))
    assert (ref.ecr_account, ref.ecr_region) == ("123456789012", "ap-southeast-2")
    env = sandbox.env
    assert env["AWS_ENDPOINT_URL_ECR"] == sandbox.ecr_endpoint and env["AWS_REGION"] == "ap-southeast-2"
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"]


def test_push_image_creates_the_repository_and_answers_the_digest(sandbox: Sandbox) -> None:
    pushed_at = datetime(2024, 5, 1, 10, tzinfo=timezone.utc)
    digest = sandbox.push_image("app", "1.0.0", pushed_at=pushed_at, size_bytes=1234)
    assert digest.startswith("sha256:") and len(digest) == 71
    second = sandbox.push_image("app", ["1.0.1", "latest"])
    untagged = sandbox.push_image("app")
    assert len({digest, second, untagged}) == 3, "every push is a new image"
    images = sandbox.images("app")
    assert [(i.digest, i.tags) for i in images] == [(digest, ["1.0.0"]), (second, ["1.0.1", "latest"]), (untagged, [])]
    assert (images[0].pushed_at, images[0].size_bytes, images[0].storage_class) == (pushed_at, 1234, "standard")
    assert sandbox.image_behaviours() == {}, "a push without behaviour registers none"


def test_push_image_registers_a_behaviour_for_every_tag_and_the_digest(sandbox: Sandbox) -> None:
    digest = sandbox.push_image("app", ["2.0.0", "2.0"], crash_after=2, log_lines=["panic: boom"], exit_code=3)
    rules = sandbox.image_behaviours()
    names = {sandbox.image("app", "2.0.0"), sandbox.image("app", "2.0"), f"{sandbox.image('app')}@{digest}"}
    assert set(rules) == names
    assert {(r["crashAfterSeconds"], r["exitCode"], tuple(r["logLines"])) for r in rules.values()} == {
        (2.0, 3, ("panic: boom",))
    }
    sandbox.push_image("app", "3.0.0", behaviour={"neverReady": True}, start_delay=5)
    rule = sandbox.image_behaviours()[sandbox.image("app", "3.0.0")]
    assert (rule["neverReady"], rule["startDelaySeconds"]) == (True, 5.0)
    sandbox.push_image("app", "4.0.0", behaviour={"pull_error": "manifest unknown"}, size_bytes=99)
    rule = sandbox.image_behaviours()[sandbox.image("app", "4.0.0")]
    assert (rule["pullError"], rule["sizeBytes"]) == ("manifest unknown", 99)


def test_bad_pushes_are_refused_by_name(sandbox: Sandbox) -> None:
    with pytest.raises(rollout.InvalidInputError, match='invalid repository "Bad Repo"'):
        sandbox.push_image("Bad Repo", "1.0.0")
    with pytest.raises(rollout.InvalidInputError, match='invalid tags "bad tag!"'):
        sandbox.push_image("app", "bad tag!")
    with pytest.raises(rollout.InvalidInputError, match="invalid behaviour .*unknown field `colour`"):
        sandbox.push_image("app", "1.0.0", behaviour={"colour": "red"})
    with pytest.raises(rollout.InvalidInputError, match='invalid crash_after "-1"'):
        sandbox.push_image("app", "1.0.0", crash_after=-1)
    with pytest.raises(rollout.InvalidInputError, match="naive"):
        sandbox.push_image("app", "1.0.0", pushed_at=datetime(2024, 5, 1))
    with pytest.raises(rollout.NotFoundError, match='ecr repository "nope" not found'):
        sandbox.images("nope")
    with pytest.raises(rollout.NotFoundError):
        sandbox.run_lifecycle("nope")
    sandbox.create_repository("made")
    with pytest.raises(rollout.InvalidInputError, match="RepositoryAlreadyExistsException"):
        sandbox.create_repository("made")
    with pytest.raises(rollout.InvalidInputError, match='invalid ecr_region "mars"'):
        Sandbox(ecr_region="mars").start()
    with pytest.raises(rollout.InvalidInputError, match='invalid ecr_account "12"'):
        Sandbox(ecr_account="12").start()


def test_only_pushed_images_of_the_registry_pull(sandbox: Sandbox, kube: Kube) -> None:
    sandbox.push_image("app", "1.0.0")
    client = sandbox.client()
    client.apply(deployment("good", sandbox.image("app", "1.0.0"), replicas=1), timeout=60)
    with pytest.raises(rollout.InvalidInputError, match="image-exists"):
        client.apply(deployment("bad", sandbox.image("app", "9.9.9"), replicas=1))
    with pytest.raises(rollout.RolloutFailedError) as caught:
        client.apply(deployment("bad", sandbox.image("app", "9.9.9"), replicas=1), skip_preflight="image-exists")
    assert caught.value.report is not None and caught.value.report.reason in ("ErrImagePull", "ImagePullBackOff")


def test_run_lifecycle_applies_the_policy_now(sandbox: Sandbox) -> None:
    now = datetime.now(timezone.utc)
    for i in range(4):
        sandbox.push_image("app", f"latest-{i}", pushed_at=now - timedelta(days=10 - i))
    assert sandbox.run_lifecycle("app") == [], "no policy, nothing happens"
    policy = rollout.LifecyclePolicy.builder().keep_most_recent_tagged(2, ["latest"]).build()
    sandbox.client().put_lifecycle_policy("app", policy)
    done = sandbox.run_lifecycle("app")
    assert sorted((d["tags"], d["action"], d["rule_priority"], d["storage_class"]) for d in done) == [
        (["latest-0"], "expire", 1, "standard"),
        (["latest-1"], "expire", 1, "standard"),
    ]
    assert all(isinstance(d["pushed_at"], datetime) for d in done)
    assert [i.tags for i in sandbox.images("app")] == [["latest-2"], ["latest-3"]]


def test_the_client_of_a_sandbox_is_configured_explicitly(sandbox: Sandbox) -> None:
    client = sandbox.client(namespace="shop")
    assert isinstance(client, rollout.Client)
    assert client.kubeconfig == Path(sandbox.kubeconfig)
    assert (client.namespace, client.region, client.ecr_endpoint) == ("shop", "ap-southeast-2", sandbox.ecr_endpoint)
    assert "sandbox" not in repr(client).replace("rollout-sandbox", "")


def test_the_aws_cli_works_with_the_sandbox_env(sandbox: Sandbox) -> None:
    aws = shutil.which("aws")
    if aws is None:
        pytest.skip("the aws CLI is missing (pip install -r requirements-test.txt)")
    digest = sandbox.push_image("app", "1.0.0")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | sandbox.env
    answer = subprocess.run(
        [aws, "ecr", "describe-images", "--repository-name", "app", "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert answer.returncode == 0, answer.stderr
    details = json.loads(answer.stdout)["imageDetails"]
    assert [(d["imageDigest"], d["imageTags"]) for d in details] == [(digest, ["1.0.0"])]
