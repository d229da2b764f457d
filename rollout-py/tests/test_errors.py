"""The exception tree: one base, built-in bases where they fit, the core's errors mapped by kind."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import rollout
import rollout.exceptions
from rollout import (
    ConfigError,
    EcrError,
    InvalidInputError,
    KubernetesError,
    NotFoundError,
    RolloutError,
    RolloutFailedError,
    RolloutTimeoutError,
)

ALL = [InvalidInputError, NotFoundError, RolloutFailedError, RolloutTimeoutError, KubernetesError, EcrError, ConfigError]


def test_every_exception_is_a_rollout_error_and_an_exception() -> None:
    assert issubclass(RolloutError, Exception)
    for cls in ALL:
        assert issubclass(cls, RolloutError), cls
        assert cls.__module__ == "rollout", cls
        assert cls.__doc__, cls


def test_input_and_lookup_errors_are_also_the_builtins_they_mean() -> None:
    assert issubclass(InvalidInputError, ValueError)
    assert issubclass(NotFoundError, LookupError)
    for cls in (RolloutFailedError, RolloutTimeoutError, KubernetesError, EcrError, ConfigError):
        assert not issubclass(cls, (ValueError, LookupError)), cls


def test_the_exceptions_module_and_the_package_export_the_same_classes() -> None:
    for cls in [RolloutError, *ALL]:
        assert getattr(rollout.exceptions, cls.__name__) is cls
        assert getattr(rollout._rollout, cls.__name__) is cls
    assert set(rollout.exceptions.__all__) == {cls.__name__ for cls in [RolloutError, *ALL]}


def test_reports_and_violations_are_readable_on_any_instance() -> None:
    assert RolloutFailedError("x").report is None and RolloutFailedError("x").result is None
    assert RolloutTimeoutError("x").report is None and RolloutTimeoutError("x").result is None
    assert InvalidInputError("x").violations == ()


def test_a_bad_argument_is_caught_as_value_error_and_rollout_error() -> None:
    for catch in (ValueError, RolloutError, InvalidInputError):
        with pytest.raises(catch):
            rollout.ImageRef.parse("UPPER:case")


def test_a_missing_thing_is_caught_as_lookup_error(tmp_path: Path) -> None:
    with pytest.raises(LookupError):
        rollout.derive_tag(tmp_path / "absent")
    with pytest.raises(LookupError):
        rollout.previous_tag([])


def test_the_message_carries_the_source_chain(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError) as raised:
        rollout.derive_tag(tmp_path / "absent")
    message = str(raised.value)
    assert message.startswith(f"cannot read {tmp_path / 'absent'}: ")
    assert "os error 2" in message


def test_an_unreadable_file_is_invalid_input_not_not_found(tmp_path: Path) -> None:
    (tmp_path / "VERSION").write_bytes(b"\xff\xfe1.0")
    with pytest.raises(RolloutError) as raised:
        rollout.derive_tag(tmp_path)
    assert type(raised.value) is InvalidInputError
    assert str(raised.value) == f"cannot read {tmp_path / 'VERSION'}: stream did not contain valid UTF-8"


def test_parse_duration_reads_kubectl_durations_and_names_bad_ones() -> None:
    assert rollout.parse_duration("1h30m") == timedelta(hours=1, minutes=30)
    assert rollout.parse_duration("250ms") == timedelta(milliseconds=250)
    assert rollout.parse_duration("0") == timedelta(0)
    with pytest.raises(InvalidInputError, match='invalid duration "10": a number has no unit'):
        rollout.parse_duration("10")
    with pytest.raises(InvalidInputError, match='invalid duration "5d": unknown unit'):
        rollout.parse_duration("5d")


def test_exceptions_can_be_raised_and_caught_by_user_code() -> None:
    for cls in ALL:
        with pytest.raises(RolloutError, match="boom"):
            raise cls("boom")
