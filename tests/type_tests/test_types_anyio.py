"""Static types of AnyioScheduler, ``await sender``, ``as_awaitable`` and ``from_coroutine``."""

from __future__ import annotations

from typing import assert_type

import anyio

import dsexec as ex
from dsexec import AnyioScheduler, as_awaitable, from_coroutine
from dsexec.testing import SchedulerRunner


async def scale(x: int, factor: float) -> float:
    return x * factor


async def check_types() -> None:
    sch = AnyioScheduler()
    assert_type(sch.schedule_after(0.0), ex.Sender[None])
    assert_type(await sch.schedule(), None)
    assert_type(await ex.just(1), int)
    assert_type(await as_awaitable(ex.just("s")), str)
    sender = from_coroutine(scale, 2, 1.5)
    assert_type(sender, ex.Sender[float])
    assert_type(await sender, float)
    async with AnyioScheduler() as scoped:
        assert_type(scoped, AnyioScheduler)


def test_types_anyio() -> None:
    anyio.run(check_types)
    runner = SchedulerRunner("io_context")
    assert_type(runner.run(lambda sch: ex.just(1)), int)
