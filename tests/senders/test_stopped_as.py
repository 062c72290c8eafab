"""Tests of stopped_as_optional [exec.stopped.opt] and stopped_as_error [exec.stopped.err]."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import dsexec as ex
from dsexec import stopped_as_error, stopped_as_optional
from dsexec.testing import ExpectErrorReceiver, ExpectValueReceiver

_AS_OPTIONAL_FORMS: list[Callable[[ex.Sender[Any]], ex.Sender[Any]]] = [
    lambda s: s | stopped_as_optional(),
    stopped_as_optional,
]
_AS_ERROR_FORMS: list[Callable[[ex.Sender[Any], BaseException], ex.Sender[Any]]] = [
    lambda s, e: s | stopped_as_error(e),
    stopped_as_error,
]
_FORM_IDS = ["pipe", "function"]


@pytest.mark.parametrize("form", _AS_OPTIONAL_FORMS, ids=_FORM_IDS)
def test_stopped_as_optional_turns_stop_into_none(form: Any) -> None:
    receiver = ExpectValueReceiver(None)
    ex.connect(form(ex.just_stopped()), receiver).start()
    assert receiver.completed


@pytest.mark.parametrize("form", _AS_OPTIONAL_FORMS, ids=_FORM_IDS)
def test_stopped_as_optional_passes_values_and_errors_through(form: Any) -> None:
    assert ex.sync_wait(form(ex.just(5))) == 5
    receiver = ExpectErrorReceiver(ValueError, match="kept")
    ex.connect(form(ex.just_error(ValueError("kept"))), receiver).start()


def test_stopped_as_optional_forwards_stop_requests_to_the_upstream() -> None:
    source = ex.StopSource()
    with ex.VirtualTimeScheduler() as vts:
        receiver = ExpectValueReceiver(None, stop_token=source.token)
        ex.connect(vts.schedule_after(10) | stopped_as_optional(), receiver).start()
        source.request_stop()
        assert receiver.completed
        assert vts.statistics().timers == 0


@pytest.mark.parametrize("form", _AS_ERROR_FORMS, ids=_FORM_IDS)
def test_stopped_as_error_turns_stop_into_the_error(form: Any) -> None:
    error = TimeoutError("gave up")
    receiver = ExpectErrorReceiver(TimeoutError, match="gave up")
    ex.connect(form(ex.just_stopped(), error), receiver).start()
    assert receiver.error is error


@pytest.mark.parametrize("form", _AS_ERROR_FORMS, ids=_FORM_IDS)
def test_stopped_as_error_passes_values_and_errors_through(form: Any) -> None:
    assert ex.sync_wait(form(ex.just("v"), TimeoutError())) == "v"
    receiver = ExpectErrorReceiver(KeyError)
    ex.connect(form(ex.just_error(KeyError()), TimeoutError()), receiver).start()


def test_stopped_as_error_forwards_stop_requests_to_the_upstream() -> None:
    source = ex.StopSource()
    with ex.VirtualTimeScheduler() as vts:
        receiver = ExpectErrorReceiver(TimeoutError, stop_token=source.token)
        ex.connect(vts.schedule_after(10) | stopped_as_error(TimeoutError()), receiver).start()
        source.request_stop()
        assert receiver.completed
        assert vts.statistics().timers == 0


@pytest.mark.parametrize("bad", [TimeoutError, "boom", None])
def test_stopped_as_error_needs_an_exception_instance_when_built(bad: Any) -> None:
    with pytest.raises(TypeError, match=r"^stopped_as_error: expected an exception instance"):
        stopped_as_error(bad)
    with pytest.raises(TypeError, match=r"^stopped_as_error: expected an exception instance"):
        stopped_as_error(ex.just(1), bad)


def test_stopped_as_error_with_a_sender_but_no_error_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"^stopped_as_error: expected an exception instance"):
        stopped_as_error(ex.just(1))  # type: ignore[call-overload]


def test_composition_errors_name_the_algorithm_when_built() -> None:
    with pytest.raises(TypeError, match=r"^stopped_as_optional: expected a Sender, got int"):
        stopped_as_optional(3)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=r"^stopped_as_optional: expected a Sender, got str"):
        stopped_as_optional()("x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^stopped_as_error: expected a Sender, got int"):
        stopped_as_error(3, ValueError())  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=r"^stopped_as_error: expected a Sender, got str"):
        stopped_as_error(ValueError())("x")  # type: ignore[arg-type]
