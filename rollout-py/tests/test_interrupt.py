"""The runtime helper: Ctrl-C during a blocking call, calls from many threads, and fork."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import rollout
from rollout.testing import _block_for, _blocks_in_flight, _Latch

# A suite started in the background (`cmd &` in a script) hands its children SIGINT ignored, and a
# Python started that way installs no KeyboardInterrupt handler; a script run from a terminal has
# one. The children take Python's own handler back, so the tests see what a terminal's Ctrl-C does.
WITH_CTRL_C = textwrap.dedent(
    """
    import signal
    signal.signal(signal.SIGINT, signal.default_int_handler)
    """
)

CHILD = WITH_CTRL_C + textwrap.dedent(
    """
    import sys
    from rollout.testing import _block_for, _blocks_in_flight

    try:
        # An hour-long call; the callback tells the parent the call is under way.
        _block_for(3600, on_enter=lambda: print("blocking", flush=True))
    except KeyboardInterrupt:
        print("in flight after interrupt:", _blocks_in_flight(), flush=True)
        raise
    """
)


def test_sigint_during_a_blocking_call_raises_keyboard_interrupt_and_drops_the_work() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "blocking\n"
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        # The bound only keeps a broken build from hanging the suite; the call itself lasts an hour.
        out, err = child.communicate(timeout=30)
        latency = time.monotonic() - sent
    finally:
        child.kill()
    assert "KeyboardInterrupt" in err.splitlines()[-1], err
    assert out == "in flight after interrupt: 0\n"
    # An uncaught KeyboardInterrupt ends the process by SIGINT.
    assert child.returncode == -signal.SIGINT
    print(f"KeyboardInterrupt {latency * 1000:.0f} ms after SIGINT")


WAIT_CHILD = WITH_CTRL_C + textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    from conftest import Kube, deployment
    from rollout.testing import Sandbox

    # Real time, so the never-ready rollout's progress deadline is ten minutes away.
    with Sandbox(time_scale=1.0) as sandbox:
        sandbox.set_image_behaviour("registry.example/app:*", never_ready=True)
        Kube(sandbox).create("/apis/apps/v1/namespaces/default/deployments", deployment("web", "registry.example/app:1", 1))
        announced = []

        def announce(event):
            if not announced:
                announced.append(event)
                print("waiting", flush=True)

        try:
            sandbox.client().wait("web", timeout=3600, on_progress=announce)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            raise
    """
)


def test_sigint_during_a_long_client_wait_raises_keyboard_interrupt() -> None:
    tests = str(Path(__file__).parent)
    child = subprocess.Popen(
        [sys.executable, "-c", WAIT_CHILD, tests], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "waiting\n", child.stderr.read() if child.stderr else ""
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
        latency = time.monotonic() - sent
    finally:
        child.kill()
    assert out == "interrupted\n", err
    assert "KeyboardInterrupt" in err.splitlines()[-1], err
    assert child.returncode == -signal.SIGINT
    print(f"KeyboardInterrupt {latency * 1000:.0f} ms after SIGINT, sandbox stopped included")


def test_a_blocked_call_releases_the_interpreter_for_other_threads() -> None:
    latch = _Latch()
    entered = threading.Event()
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(latch.wait(60, on_enter=entered.set)))
    waiter.start()
    assert entered.wait(60)
    # If the waiting thread held the interpreter, this thread could not run until its wait timed out,
    # and the wait would answer False.
    latch.open()
    waiter.join(60)
    assert result == [True]


def test_a_call_from_inside_a_call_is_refused_instead_of_deadlocking() -> None:
    outer = _Latch()
    errors: list[BaseException] = []

    def callback() -> None:
        try:
            _block_for(0)
        except RuntimeError as e:
            errors.append(e)
        finally:
            outer.open()

    assert outer.wait(60, on_enter=callback)
    assert len(errors) == 1
    assert "cannot be called from inside another rollout call" in str(errors[0])


def test_a_short_blocking_call_returns_and_leaves_nothing_in_flight() -> None:
    _block_for(timedelta(milliseconds=1))
    _block_for("1ms")
    _block_for(0)
    assert _blocks_in_flight() == 0
    with pytest.raises(rollout.InvalidInputError, match="invalid seconds"):
        _block_for(-1)


def test_calls_from_many_threads_give_the_same_answers_as_one(tmp_path: Path) -> None:
    (tmp_path / "VERSION").write_text("3.1.4\n")
    now = datetime(2024, 6, 1, tzinfo=timezone.utc)
    images = [rollout.ImageRecord(f"sha256:{i:064x}", [f"latest-{i}"], now - timedelta(days=i)) for i in range(50)]
    policy = rollout.LifecyclePolicy.builder().keep_most_recent_tagged(5, ["latest"]).build()

    def work(i: int) -> tuple[str, int, str | None]:
        _block_for(0.001)
        return (
            rollout.derive_tag(tmp_path, template="v{version}").tag,
            policy.preview(images, now=now).summary.expiring,
            rollout.previous_tag(images).tag,
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(work, range(64)))
    assert set(answers) == {("v3.1.4", 45, "latest-1")}
    assert _blocks_in_flight() == 0


FORK_CHILD = textwrap.dedent(
    """
    import os, sys
    from rollout.testing import _block_for

    _block_for(0)  # the runtime now belongs to this process
    pid = os.fork()
    if pid == 0:
        try:
            _block_for(0)
        except RuntimeError as e:
            print(e, flush=True)
            os._exit(0)
        os._exit(1)
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status))
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="fork is POSIX")
def test_a_forked_child_gets_a_clear_error_instead_of_a_hang() -> None:
    answer = subprocess.run([sys.executable, "-c", FORK_CHILD], capture_output=True, text=True, timeout=60)
    assert answer.returncode == 0, answer.stderr
    assert "this is a fork of it" in answer.stdout
    assert "'spawn' method" in answer.stdout
