"""Static type tests of the control-flow algorithms: mypy checks these ``assert_type`` lines;
pytest runs them cheaply (building senders only, never running them)."""

from __future__ import annotations

from typing import Never, assert_type

import dsexec as ex
from dsexec import (
    CountingScope,
    continues_on,
    repeat,
    repeat_n,
    repeat_until,
    retry,
    schedule,
    schedule_after,
    schedule_at,
    start_detached,
    starts_on,
    stop_when,
    timeout,
)


def is_big(value: int) -> bool:
    return value > 10


def test_schedule_functions_send_none() -> None:
    with ex.VirtualTimeScheduler() as context:
        sch = context.get_scheduler()
        assert_type(schedule(sch), ex.Sender[None])
        assert_type(schedule_after(sch, 1.5), ex.Sender[None])
        assert_type(schedule_at(sch, 3), ex.Sender[None])


def test_repeat_family_value_types() -> None:
    assert_type(ex.just(1) | repeat(), ex.Sender[Never])
    assert_type(repeat(ex.just(1)), ex.Sender[Never])
    assert_type(ex.just(1) | repeat_n(3), ex.Sender[None])
    assert_type(repeat_n(ex.just(1), 3), ex.Sender[None])
    assert_type(ex.just(1) | repeat_until(is_big), ex.Sender[int])
    assert_type(repeat_until(ex.just(1), is_big), ex.Sender[int])
    assert_type(ex.just("x") | repeat_until(lambda v: len(v) > 3), ex.Sender[str])


def test_retry_keeps_the_value_type() -> None:
    assert_type(ex.just(1) | retry(3), ex.Sender[int])
    assert_type(ex.just(1) | retry(), ex.Sender[int])
    assert_type(retry(ex.just("s"), 2), ex.Sender[str])
    assert_type(retry(ex.just("s")), ex.Sender[str])


def test_timeout_and_stop_when_keep_the_value_type() -> None:
    with ex.VirtualTimeScheduler() as context:
        assert_type(ex.just(1) | timeout(5), ex.Sender[int])
        assert_type(timeout(ex.just(1), 5.0), ex.Sender[int])
        assert_type(ex.just(b"") | timeout(1, scheduler=context.get_scheduler()), ex.Sender[bytes])
        trigger = context.get_scheduler().schedule_after(1)
        assert_type(ex.just(1) | stop_when(trigger), ex.Sender[int])
        assert_type(stop_when(ex.just("s"), trigger), ex.Sender[str])


def test_starts_on_and_continues_on_keep_the_value_type() -> None:
    with ex.VirtualTimeScheduler() as context:
        sch = context.get_scheduler()
        assert_type(starts_on(sch, ex.just(1)), ex.Sender[int])
        assert_type(ex.just(1) | continues_on(sch), ex.Sender[int])
        assert_type(continues_on(ex.just("s"), sch), ex.Sender[str])
        assert_type(ex.just(1) | continues_on(sch) | ex.then(str), ex.Sender[str])


def test_counting_scope_types() -> None:
    scope = CountingScope()
    assert_type(scope.spawn_future(ex.just(1)), ex.Sender[int])
    assert_type(scope.join(), ex.Sender[None])
    assert_type(scope.spawn(ex.just_stopped()), None)
    assert_type(scope.active, int)
    assert_type(start_detached(ex.just_stopped()), None)
