"""Static type tests: mypy checks these ``assert_type`` lines; pytest runs them cheaply."""

from __future__ import annotations

from typing import Never, assert_type

import dsexec as ex


def int_to_str(value: int) -> str:
    return str(value)


def test_then_carries_the_value_type_through_the_pipe() -> None:
    assert_type(ex.just(1) | ex.then(int_to_str), ex.Sender[str])
    assert_type(ex.then(ex.just(1), int_to_str), ex.Sender[str])
    assert_type(ex.just(1) | ex.then(int_to_str) | ex.then(len), ex.Sender[int])


def test_lambdas_pipe_even_though_mypy_cannot_infer_their_input() -> None:
    assert_type(ex.just(1) | ex.then(lambda x: str(x)), ex.Sender[str])  # noqa: PLW0108


def test_upon_error_and_upon_stopped_join_their_result_type() -> None:
    assert_type(ex.just(1) | ex.upon_error(lambda e: "handled"), ex.Sender[int | str])
    assert_type(ex.just(1) | ex.upon_stopped(lambda: None), ex.Sender[int | None])


def test_just_error_and_just_stopped_send_no_value() -> None:
    assert_type(ex.just_error(ValueError()), ex.Sender[Never])
    assert_type(ex.just_stopped(), ex.Sender[Never])


def test_sync_wait_returns_the_value_type() -> None:
    assert_type(ex.sync_wait(ex.just(1) | ex.then(int_to_str)), str)
