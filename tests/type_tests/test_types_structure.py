"""Static type tests of the structural algorithms (let_*, when_all, when_any, stopped_as_*,
into_result, bulk, finally_, unstoppable): mypy checks the ``assert_type`` lines; pytest runs
them cheaply (the senders are built, never started)."""

from __future__ import annotations

from typing import Any, assert_type

import numpy as np
from numpy.typing import NDArray

import dsexec as ex
from dsexec import (
    Result,
    bulk,
    finally_,
    into_result,
    let_error,
    let_stopped,
    let_value,
    stopped_as_error,
    stopped_as_optional,
    unstoppable,
    when_all,
    when_any,
)


def int_to_str_sender(value: int) -> ex.Sender[str]:
    return ex.just(str(value))


def recover(error: BaseException) -> ex.Sender[str]:
    return ex.just(str(error))


def fallback() -> ex.Sender[bytes]:
    return ex.just(b"")


def test_let_value_gives_the_returned_sender_type() -> None:
    assert_type(ex.just(1) | let_value(int_to_str_sender), ex.Sender[str])
    assert_type(let_value(ex.just(1), int_to_str_sender), ex.Sender[str])
    assert_type(ex.just(1) | let_value(lambda x: ex.just(float(x))), ex.Sender[float])


def test_let_error_and_let_stopped_join_the_result_type() -> None:
    assert_type(ex.just(1) | let_error(recover), ex.Sender[int | str])
    assert_type(let_error(ex.just(1), recover), ex.Sender[int | str])
    assert_type(ex.just(1) | let_stopped(fallback), ex.Sender[int | bytes])
    assert_type(let_stopped(ex.just(1), fallback), ex.Sender[int | bytes])


def test_when_all_gives_a_tuple_of_the_value_types() -> None:
    assert_type(when_all(), ex.Sender[tuple[()]])
    assert_type(when_all(ex.just(1)), ex.Sender[tuple[int]])
    assert_type(when_all(ex.just(1), ex.just("a")), ex.Sender[tuple[int, str]])
    assert_type(
        when_all(ex.just(1), ex.just("a"), ex.just(b"b"), ex.just(1.0), ex.just(None), ex.just(2)),
        ex.Sender[tuple[int, str, bytes, float, None, int]],
    )
    seven = [ex.just(i) for i in range(7)]
    assert_type(when_all(*seven), ex.Sender[tuple[Any, ...]])


def test_when_any_gives_the_union_of_the_value_types() -> None:
    assert_type(when_any(ex.just(1)), ex.Sender[int])
    assert_type(when_any(ex.just(1), ex.just("a")), ex.Sender[int | str])
    assert_type(
        when_any(ex.just(1), ex.just("a"), ex.just(b"b"), ex.just(1.0), ex.just(None), ex.just(2)),
        ex.Sender[int | str | bytes | float | None],
    )
    seven = [ex.just(i) for i in range(7)]
    assert_type(when_any(*seven), ex.Sender[Any])


def test_stopped_as_optional_adds_none_and_stopped_as_error_keeps_the_type() -> None:
    assert_type(ex.just(1) | stopped_as_optional(), ex.Sender[int | None])
    assert_type(stopped_as_optional(ex.just(1)), ex.Sender[int | None])
    assert_type(ex.just(1) | stopped_as_error(TimeoutError()), ex.Sender[int])
    assert_type(stopped_as_error(ex.just(1), TimeoutError()), ex.Sender[int])


def test_into_result_wraps_the_value_type() -> None:
    assert_type(ex.just(1) | into_result(), ex.Sender[Result[int]])
    assert_type(into_result(ex.just("a")), ex.Sender[Result[str]])
    assert_type(Result.of_value(1), Result[int])
    assert_type(Result.of_value(1).value(), int)
    assert_type(Result.of_value(1).error(), BaseException | None)
    as_int: Result[int] = Result.of_error(ValueError())
    assert_type(as_int.has_value(), bool)


def scale(indices: NDArray[np.intp], values: NDArray[np.float64]) -> None:
    values[indices] *= 2.0


def test_bulk_finally_and_unstoppable_keep_the_value_type() -> None:
    assert_type(ex.just([0]) | bulk(1, lambda i, v: None), ex.Sender[list[int]])
    assert_type(bulk(ex.just("a"), 3, lambda i, v: None), ex.Sender[str])
    values: NDArray[np.float64] = np.zeros(3)
    vectorized = ex.just(values) | bulk(3, scale, vectorized=True)
    assert_type(vectorized, ex.Sender[NDArray[np.float64]])
    assert_type(ex.just(1) | finally_(ex.just("ignored")), ex.Sender[int])
    assert_type(finally_(ex.just(1), ex.just(None)), ex.Sender[int])
    assert_type(ex.just(1) | unstoppable(), ex.Sender[int])
    assert_type(unstoppable(ex.just(1)), ex.Sender[int])
