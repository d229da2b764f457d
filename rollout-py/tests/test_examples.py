"""The Python examples under examples/python run and say what they should."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_tag_and_policy_derives_the_seed_tag_and_checks_the_seed_policy() -> None:
    answer = subprocess.run(
        [sys.executable, str(REPO / "examples" / "python" / "tag_and_policy.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert answer.returncode == 0, answer.stderr
    lines = answer.stdout.splitlines()
    assert lines[0] == "tag: latest-release-1.0.0 (from pom version 1.0.0)"
    assert "policy equals lifecycle-policy.json: True" in lines
    assert "preview: 5 of 12 images would expire, 7 kept" in lines
    assert lines[-1] == "rollback to: latest-release-1.6.0"


def test_tag_and_policy_exits_non_zero_with_the_error_for_a_missing_project() -> None:
    answer = subprocess.run(
        [sys.executable, str(REPO / "examples" / "python" / "tag_and_policy.py"), str(REPO / "no-such-project")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert answer.returncode == 1
    assert answer.stderr.startswith("error: cannot read ")
