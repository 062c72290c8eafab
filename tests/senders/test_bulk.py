"""Tests of bulk [exec.bulk]."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

import dsexec as ex
from dsexec import bulk
from dsexec.senders._bulk import STOP_CHECK_INTERVAL
from dsexec.testing import ExpectErrorReceiver, ExpectStoppedReceiver

_FORMS: list[Callable[[ex.Sender[Any], int, Callable[[int, Any], object]], ex.Sender[Any]]] = [
    lambda s, n, f: s | bulk(n, f),
    bulk,
]
_FORM_IDS = ["pipe", "function"]


@pytest.mark.parametrize("form", _FORMS, ids=_FORM_IDS)
def test_bulk_calls_fn_for_every_index_then_passes_the_value_on(form: Any) -> None:
    calls: list[tuple[int, str]] = []
    assert ex.sync_wait(form(ex.just("v"), 5, lambda i, v: calls.append((i, v)))) == "v"
    assert calls == [(0, "v"), (1, "v"), (2, "v"), (3, "v"), (4, "v")]


def test_bulk_fills_a_shared_buffer() -> None:
    def square(i: int, out: list[int]) -> None:
        out[i] = i * i

    assert ex.sync_wait(ex.just([0] * 4) | bulk(4, square)) == [0, 1, 4, 9]


def test_bulk_of_zero_does_not_call_fn() -> None:
    calls: list[int] = []
    assert ex.sync_wait(ex.just(1) | bulk(0, lambda i, _: calls.append(i))) == 1
    assert calls == []


def test_bulk_exception_from_fn_stops_iterating_and_goes_down_the_error_channel() -> None:
    calls: list[int] = []

    def fail_at_three(i: int, _: object) -> None:
        calls.append(i)
        if i == 3:
            raise KeyError("at three")

    receiver = ExpectErrorReceiver(KeyError, match="at three")
    ex.connect(ex.just(None) | bulk(10, fail_at_three), receiver).start()
    assert calls == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("sender", "receiver_factory"),
    [
        (ex.just_error(ValueError("e")), lambda: ExpectErrorReceiver(ValueError)),
        (ex.just_stopped(), ExpectStoppedReceiver),
    ],
    ids=["error", "stopped"],
)
def test_bulk_fn_not_called_on_error_or_stop(
    sender: ex.Sender[Any], receiver_factory: Callable[[], Any]
) -> None:
    calls: list[int] = []
    receiver = receiver_factory()
    ex.connect(sender | bulk(3, lambda i, _: calls.append(i)), receiver).start()
    assert calls == []
    assert receiver.completed


def test_bulk_stop_requested_midway_skips_the_rest_and_completes_stopped() -> None:
    source = ex.StopSource()
    calls: list[int] = []

    def stop_at_ten(i: int, _: object) -> None:
        calls.append(i)
        if i == 10:
            source.request_stop()

    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(ex.just(None) | bulk(10_000, stop_at_ten), receiver).start()
    assert calls == list(range(STOP_CHECK_INTERVAL))


def test_bulk_stop_requested_before_the_value_calls_nothing() -> None:
    source = ex.StopSource()
    source.request_stop()
    calls: list[int] = []
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(ex.just(None) | bulk(3, lambda i, _: calls.append(i)), receiver).start()
    assert calls == []


def test_bulk_vectorized_calls_fn_once_with_the_index_array() -> None:
    calls: list[NDArray[np.intp]] = []

    def scale(indices: NDArray[np.intp], out: NDArray[np.float64]) -> None:
        calls.append(indices)
        out[indices] = indices * 2.0

    result = ex.sync_wait(ex.just(np.zeros(5)) | bulk(5, scale, vectorized=True))
    assert result.tolist() == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert len(calls) == 1
    assert calls[0].tolist() == [0, 1, 2, 3, 4]


def test_bulk_vectorized_function_form_and_errors() -> None:
    def fail(indices: NDArray[np.intp], value: int) -> None:
        raise ValueError(f"{len(indices)} for {value}")

    receiver = ExpectErrorReceiver(ValueError, match="^3 for 7$")
    ex.connect(bulk(ex.just(7), 3, fail, vectorized=True), receiver).start()


def test_bulk_vectorized_with_stop_requested_calls_nothing() -> None:
    source = ex.StopSource()
    source.request_stop()
    calls: list[object] = []
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    pipeline = ex.just(None) | bulk(3, lambda i, _: calls.append(i), vectorized=True)
    ex.connect(pipeline, receiver).start()
    assert calls == []


def test_bulk_runs_after_an_asynchronous_upstream() -> None:
    with ex.VirtualTimeScheduler() as vts:
        calls: list[float] = []
        pipeline = vts.schedule_after(3) | bulk(2, lambda i, _: calls.append(vts.now() + i))
        ex.sync_wait(pipeline, context=vts)
        assert calls == [3.0, 4.0]


def test_bulk_accepts_integer_like_counts() -> None:
    calls: list[int] = []
    ex.sync_wait(ex.just(None) | bulk(np.int64(2), lambda i, _: calls.append(i)))
    assert calls == [0, 1]


@pytest.mark.parametrize(
    ("count", "error", "match"),
    [
        (-1, ValueError, r"^bulk: the count must be >= 0, got -1"),
        (1.5, TypeError, r"^bulk: expected an int count, got float"),
        ("3", TypeError, r"^bulk: expected an int count, got str"),
        (True, TypeError, r"^bulk: expected an int count, got bool"),
    ],
)
def test_bulk_rejects_a_bad_count_when_built(
    count: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        bulk(count, lambda i, _: None)
    with pytest.raises(error, match=match):
        bulk(ex.just(1), count, lambda i, _: None)


def test_bulk_composition_errors_name_the_algorithm_when_built() -> None:
    with pytest.raises(TypeError, match=r"^bulk: expected a callable, got int"):
        bulk(3, 4)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=r"^bulk: expected a Sender, got int"):
        bulk(3, 4, lambda i, _: None)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=r"^bulk: expected a Sender, got str"):
        bulk(3, lambda i, _: None)("x")  # type: ignore[arg-type]
