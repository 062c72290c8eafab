"""Static types of ThreadPool, InlineScheduler, ImpulseScheduler and ManualSender (checked by
mypy; cheap enough to run under pytest too)."""

from __future__ import annotations

from typing import assert_type

import dsexec as ex
from dsexec import InlineScheduler, ThreadPool
from dsexec.testing import ImpulseScheduler, ManualSender


def test_thread_pool_schedule_is_a_sender_of_none_and_pipes() -> None:
    with ThreadPool(1) as pool:
        assert_type(pool.schedule(), ex.Sender[None])
        value = ex.sync_wait(pool.schedule() | ex.then(lambda _: 42))
        assert_type(value, int)
        assert value == 42
        assert_type(pool.size, int)


def test_inline_scheduler_types() -> None:
    sch = InlineScheduler()
    assert_type(sch.schedule(), ex.Sender[None])
    scheduler: ex.Scheduler = sch
    assert ex.sync_wait(scheduler.schedule() | ex.then(lambda _: "x")) == "x"


def test_impulse_scheduler_and_manual_sender_types() -> None:
    sch = ImpulseScheduler()
    assert_type(sch.schedule(), ex.Sender[None])
    assert_type(sch.run_one(), bool)
    assert_type(sch.run_all(), int)
    sender = ManualSender[int]()
    assert_type(sender | ex.then(lambda x: x + 1), ex.Sender[int])
    scheduler: ex.Scheduler = sch
    assert scheduler is sch
