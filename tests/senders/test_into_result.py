"""Tests of into_result and Result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest

import dsexec as ex
from dsexec import Result, into_result
from dsexec.testing import ExpectStoppedReceiver, ExpectValueReceiver

_FORMS: list[Callable[[ex.Sender[Any]], ex.Sender[Any]]] = [
    lambda s: s | into_result(),
    into_result,
]
_FORM_IDS = ["pipe", "function"]


@pytest.mark.parametrize("form", _FORMS, ids=_FORM_IDS)
def test_into_result_wraps_the_value(form: Any) -> None:
    result = ex.sync_wait(form(ex.just(42)))
    assert result == Result.of_value(42)
    assert result.has_value()
    assert result.value() == 42
    assert result.error() is None


@pytest.mark.parametrize("form", _FORMS, ids=_FORM_IDS)
def test_into_result_captures_the_error_as_a_value(form: Any) -> None:
    error = ValueError("captured")
    receiver = ExpectValueReceiver(Result.of_error(error))
    ex.connect(form(ex.just_error(error)), receiver).start()
    assert isinstance(receiver.value, Result)
    assert not receiver.value.has_value()
    assert receiver.value.error() is error


@pytest.mark.parametrize("form", _FORMS, ids=_FORM_IDS)
def test_into_result_passes_stop_through(form: Any) -> None:
    receiver = ExpectStoppedReceiver()
    ex.connect(form(ex.just_stopped()), receiver).start()
    assert receiver.completed


def test_into_result_forwards_stop_requests_to_the_upstream() -> None:
    source = ex.StopSource()
    with ex.VirtualTimeScheduler() as vts:
        receiver = ExpectStoppedReceiver(stop_token=source.token)
        ex.connect(vts.schedule_after(10) | into_result(), receiver).start()
        source.request_stop()
        assert receiver.completed
        assert vts.statistics().timers == 0


def test_result_value_raises_the_captured_error() -> None:
    error = KeyError("missing")
    result: Result[int] = Result.of_error(error)
    with pytest.raises(KeyError, match="missing") as info:
        result.value()
    assert info.value is error


def test_result_of_value_may_hold_none() -> None:
    result = Result.of_value(None)
    assert result.has_value()
    assert result.value() is None
    assert result.error() is None


def test_result_is_a_frozen_value_with_equality_and_repr() -> None:
    error = ValueError("x")
    assert Result.of_value(1) == Result.of_value(1)
    assert Result.of_value(1) != Result.of_value(2)
    assert Result.of_error(error) == Result.of_error(error)
    assert Result.of_error(error) != Result.of_value(None)
    assert repr(Result.of_value(1)) == "Result.of_value(1)"
    assert repr(Result.of_error(error)) == "Result.of_error(ValueError('x'))"
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        Result.of_value(1)._value = 2  # type: ignore[misc]


def test_result_of_error_needs_an_exception_instance() -> None:
    with pytest.raises(TypeError, match=r"^Result.of_error: expected an exception instance"):
        Result.of_error("oops")  # type: ignore[arg-type]


def test_into_result_composition_errors_name_the_algorithm_when_built() -> None:
    with pytest.raises(TypeError, match=r"^into_result: expected a Sender, got int"):
        into_result(3)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=r"^into_result: expected a Sender, got str"):
        into_result()("x")  # type: ignore[arg-type]
