"""Tests of seed_workflow.py with rollout.testing.Sandbox: no cluster, no AWS account.

Each test pushes the release images to the sandbox's ECR (a crashing one where the test needs it), runs
the script's main() with a client of the sandbox, and checks what the cluster and the registry look like
afterwards. Run with ``python -m pytest examples/python`` after ``maturin develop``.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import rollout
import seed_workflow
from rollout.testing import Sandbox

REPOSITORY = seed_workflow.SEED_NAME
POLICY = rollout.LifecyclePolicy.from_json((seed_workflow.SEED / "lifecycle-policy.json").read_text())


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(time_scale=0.01) as sandbox:
        yield sandbox
        assert sandbox.internal_errors() == []


class Run:
    """One run of the script: its exit code, stdout (the report) and stderr (progress)."""

    def __init__(self, sandbox: Sandbox, *args: str) -> None:
        out, err = io.StringIO(), io.StringIO()
        argv = ["--registry", sandbox.registry, "--timeout", "60s", *args]
        self.code = seed_workflow.main(argv, client=sandbox.client(), out=out, err=err)
        self.out, self.err = out.getvalue(), err.getvalue()

    @property
    def report(self) -> dict[str, Any]:
        report: dict[str, Any] = json.loads(self.out)
        return report


def running_image(sandbox: Sandbox) -> str:
    history = sandbox.client().history(REPOSITORY)
    assert history.current is not None
    return history.current.images[0].image


def test_the_first_release_is_tagged_from_the_pom_applied_and_protected(sandbox: Sandbox) -> None:
    sandbox.push_image(REPOSITORY, "latest-release-1.0.0")
    run = Run(sandbox)
    assert run.code == 0, run.err
    assert f"release {sandbox.image(REPOSITORY, 'latest-release-1.0.0')}" in run.err
    assert (run.report["operation"], run.report["outcome"]) == ("apply", "succeeded")
    assert sandbox.client().status(REPOSITORY).is_complete
    assert running_image(sandbox) == sandbox.image(REPOSITORY, "latest-release-1.0.0")
    assert sandbox.client().get_lifecycle_policy(REPOSITORY) == POLICY
    assert "  default/deployment/ms-account-management: succeeded" in run.err


def test_the_next_release_is_a_rolling_update(sandbox: Sandbox) -> None:
    sandbox.push_image(REPOSITORY, "latest-release-1.0.0")
    assert Run(sandbox).code == 0
    sandbox.push_image(REPOSITORY, "latest-release-1.0.1")
    run = Run(sandbox, "--tag", "latest-release-1.0.1")
    assert run.code == 0, run.err
    assert (run.report["operation"], run.report["outcome"], run.report["revision"]) == ("deploy", "succeeded", 2)
    assert "lifecycle policy on ms-account-management: unchanged" in run.err
    assert running_image(sandbox) == sandbox.image(REPOSITORY, "latest-release-1.0.1")


def test_a_crashing_release_is_rolled_back_to_the_last_healthy_one(sandbox: Sandbox) -> None:
    sandbox.push_image(REPOSITORY, "latest-release-1.0.0")
    assert Run(sandbox).code == 0
    sandbox.push_image(REPOSITORY, "latest-release-1.0.1", crash_after=2, log_lines=["panic: no database url"])
    run = Run(sandbox, "--tag", "latest-release-1.0.1")
    assert run.code == 1, run.err
    report = run.report
    assert (report["outcome"], report["reason"]) == ("rolled_back", "CrashLoopBackOff")
    assert "panic: no database url" in report["problems"][0]["log_tail"]
    assert (report["rollback"]["outcome"], report["rollback"]["images"][0]["new"]) == (
        "succeeded",
        sandbox.image(REPOSITORY, "latest-release-1.0.0"),
    )
    assert "rolling back to revision 1" in run.err
    assert running_image(sandbox) == sandbox.image(REPOSITORY, "latest-release-1.0.0")


def test_a_release_missing_from_ecr_changes_nothing(sandbox: Sandbox) -> None:
    sandbox.push_image(REPOSITORY, "latest-release-1.0.0")
    assert Run(sandbox).code == 0
    run = Run(sandbox, "--tag", "latest-release-1.0.2")
    assert run.code == 2
    assert "latest-release-1.0.2 is not in ECR; push it first (nothing was changed)" in run.err
    assert run.out == ""
    assert [r.revision for r in sandbox.client().history(REPOSITORY).revisions] == [1]


def test_a_policy_that_would_expire_the_running_release_is_refused(sandbox: Sandbox) -> None:
    # The running release is the oldest of seven `latest*` images; the policy keeps five.
    now = datetime.now(timezone.utc)
    sandbox.push_image(REPOSITORY, "latest-release-1.0.0", pushed_at=now - timedelta(days=30))
    client = sandbox.client()
    running = sandbox.image(REPOSITORY, "latest-release-1.0.0")
    client.apply(seed_workflow.SEED / "deployment.yaml", containers={REPOSITORY: running})
    for i in range(6):
        sandbox.push_image(REPOSITORY, f"latest-release-1.1.{i}", pushed_at=now - timedelta(days=20 - i))
    run = Run(sandbox, "--tag", "latest-release-1.1.5")
    assert run.code == 2
    assert "error: lifecycle policy would act on " in run.err
    assert "(latest-release-1.0.0) would be expired by rule 1 but is used by default/deployment/ms-account-management" in run.err
    assert client.get_lifecycle_policy(REPOSITORY) is None
    assert running_image(sandbox) == sandbox.image(REPOSITORY, "latest-release-1.0.0")


def test_options_come_from_the_environment_too(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox.push_image("shop-api", "v7")
    monkeypatch.setenv("ROLLOUT_SEED_TAG", "v7")
    monkeypatch.setenv("ROLLOUT_SEED_REPOSITORY", "shop-api")
    run = Run(sandbox)
    assert run.code == 0, run.err
    assert run.report["images"][0]["new"] == sandbox.image("shop-api", "v7")


def test_a_project_without_a_version_is_a_refusal(sandbox: Sandbox, tmp_path: Path) -> None:
    run = Run(sandbox, "--project", str(tmp_path))
    assert run.code == 2
    assert run.err.startswith("error: no project version in ")


def test_the_script_runs_as_a_command_configured_by_the_environment(sandbox: Sandbox) -> None:
    # The way a CI job runs it: KUBECONFIG, AWS_REGION, AWS_ENDPOINT_URL_ECR and credentials from the
    # environment (sandbox.env), the client built by the script itself.
    sandbox.push_image(REPOSITORY, "latest-release-1.0.0")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KUBECONFIG", "ROLLOUT_SEED_"))}
    env |= sandbox.env | {"ROLLOUT_SEED_REGISTRY": sandbox.registry}
    answer = subprocess.run(
        [sys.executable, str(Path(seed_workflow.__file__)), "--timeout", "60s"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert answer.returncode == 0, answer.stderr
    assert json.loads(answer.stdout)["outcome"] == "succeeded"
    assert running_image(sandbox) == sandbox.image(REPOSITORY, "latest-release-1.0.0")
