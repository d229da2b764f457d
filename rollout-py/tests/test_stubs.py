"""The type stubs match the built module, and the package type-checks under them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO, missing


def mypy_available() -> None:
    try:
        import mypy  # noqa: F401
    except ImportError:
        missing("mypy (pip install -r requirements-test.txt)")


def test_stubtest_finds_no_difference_between_the_stubs_and_the_module() -> None:
    mypy_available()
    answer = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "rollout._rollout"], capture_output=True, text=True, timeout=600
    )
    assert answer.returncode == 0, answer.stdout + answer.stderr


@pytest.mark.parametrize("target", ["rollout-py/python/rollout", "examples/python"])
def test_the_package_and_the_examples_type_check_strictly(target: str) -> None:
    mypy_available()
    answer = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", target],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert answer.returncode == 0, answer.stdout + answer.stderr
