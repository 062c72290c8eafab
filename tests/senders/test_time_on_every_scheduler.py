"""The time algorithms (timeout, stop_when, when_any with timers) on every timed scheduler:
IoContext, virtual time, and AnyioScheduler on asyncio, trio and uvloop -- one test body each,
run by the ``scheduler_runner`` fixture. Real-clock waits are a few milliseconds; the long
timers must be cancelled, not waited for."""

from __future__ import annotations

import math
import socket
from collections.abc import Callable
from typing import Any

import pytest

import dsexec as ex
from dsexec.schedulers import IoScheduler
from dsexec.testing import SchedulerRunner

LONG = 10.0  # never waited for: the tests would take this long if a timer leaked
SHORT = 0.002


def test_timeout_fires_on_a_slow_upstream(scheduler_runner: SchedulerRunner) -> None:
    def build(sch: IoScheduler) -> ex.Sender[None]:
        return sch.schedule_after(LONG) | ex.timeout(SHORT)

    with pytest.raises(TimeoutError):
        scheduler_runner.run(build)


def test_timeout_lets_a_fast_upstream_through(scheduler_runner: SchedulerRunner) -> None:
    def build(sch: IoScheduler) -> ex.Sender[str]:
        return sch.schedule_after(SHORT) | ex.then(lambda _: "in time") | ex.timeout(LONG)

    assert scheduler_runner.run(build) == "in time"


def test_stop_when_stops_the_upstream_when_the_trigger_fires(
    scheduler_runner: SchedulerRunner,
) -> None:
    def build(sch: IoScheduler) -> ex.Sender[str | None]:
        upstream = sch.schedule_after(LONG) | ex.then(lambda _: "too late")
        return upstream | ex.stop_when(sch.schedule_after(SHORT)) | ex.stopped_as_optional()

    assert scheduler_runner.run(build) is None


def test_when_any_takes_the_earliest_timer(scheduler_runner: SchedulerRunner) -> None:
    def build(sch: IoScheduler) -> ex.Sender[str]:
        return ex.when_any(
            sch.schedule_after(LONG) | ex.then(lambda _: "slow"),
            sch.schedule_after(SHORT) | ex.then(lambda _: "fast"),
        )

    assert scheduler_runner.run(build) == "fast"


def test_schedule_after_is_measured_from_start(scheduler_runner: SchedulerRunner) -> None:
    def build(sch: IoScheduler) -> ex.Sender[bool]:
        started: list[float] = []
        delayed = sch.schedule_after(SHORT)
        first = sch.schedule_after(SHORT) | ex.then(lambda _: started.append(sch.now()))
        return first | ex.let_value(lambda _: delayed) | ex.then(
            lambda _: sch.now() - started[0] >= SHORT - 0.0011  # uvloop's clock ticks in ms
        )

    assert scheduler_runner.run(build) is True


# -- delays: one validation for every form, infinite and huge delays on every loop ------------

NEVER_LIKE = [math.inf, 1e12, 30 * 86400.0]  # never; beyond datetime; beyond epoll's 2**31 ms


@pytest.mark.parametrize("delay", NEVER_LIKE, ids=["inf", "1e12", "30-days"])
def test_a_huge_or_infinite_timer_loses_the_race_and_is_withdrawn(
    scheduler_runner: SchedulerRunner, delay: float
) -> None:
    def build(sch: IoScheduler) -> ex.Sender[str]:
        return ex.when_any(
            sch.schedule_after(delay) | ex.then(lambda _: "never"),
            sch.schedule_after(SHORT) | ex.then(lambda _: "fast"),
        )

    assert scheduler_runner.run(build) == "fast"


@pytest.mark.parametrize("delay", NEVER_LIKE, ids=["inf", "1e12", "30-days"])
def test_a_timeout_stops_a_huge_or_infinite_timer(
    scheduler_runner: SchedulerRunner, delay: float
) -> None:
    def build(sch: IoScheduler) -> ex.Sender[None]:
        return sch.schedule_after(delay) | ex.timeout(SHORT)

    with pytest.raises(TimeoutError):
        scheduler_runner.run(build)


def test_schedule_at_infinity_never_fires(scheduler_runner: SchedulerRunner) -> None:
    def build(sch: IoScheduler) -> ex.Sender[str]:
        never = sch.schedule_at(math.inf) | ex.then(lambda _: "never")
        return ex.when_any(never, sch.schedule_after(SHORT) | ex.then(lambda _: "fast"))

    assert scheduler_runner.run(build) == "fast"


BAD_DELAYS: list[tuple[object, type[Exception]]] = [
    (math.nan, ValueError),
    (-1.0, ValueError),
    (-math.inf, ValueError),
    ("1", TypeError),
    (None, TypeError),
    (True, TypeError),
]
DELAY_FORMS: dict[str, Callable[[IoScheduler, Any], object]] = {
    "method": lambda sch, delay: sch.schedule_after(delay),
    "function": ex.schedule_after,
    "timeout": lambda sch, delay: ex.timeout(delay),
    "timeout-two-call": lambda sch, delay: ex.timeout(sch.schedule(), delay),
    "timeout-scheduler": lambda sch, delay: ex.timeout(delay, scheduler=sch),
}


@pytest.mark.parametrize(("delay", "error"), BAD_DELAYS, ids=repr)
@pytest.mark.parametrize("form", sorted(DELAY_FORMS))
def test_every_delay_form_rejects_nan_negative_and_non_numbers_when_built(
    scheduler_runner: SchedulerRunner, form: str, delay: object, error: type[Exception]
) -> None:
    def build(sch: IoScheduler) -> ex.Sender[None]:
        DELAY_FORMS[form](sch, delay)
        raise AssertionError(f"{form} accepted {delay!r}")  # pragma: no cover

    with pytest.raises(error, match=r"schedule_after|timeout"):
        scheduler_runner.run(build)


@pytest.mark.parametrize(("deadline", "error"), [(math.nan, ValueError), ("1", TypeError)])
def test_schedule_at_rejects_nan_and_non_numbers_in_both_forms(
    scheduler_runner: SchedulerRunner, deadline: object, error: type[Exception]
) -> None:
    def build(sch: IoScheduler) -> ex.Sender[None]:
        with pytest.raises(error, match="schedule_at"):
            sch.schedule_at(deadline)  # type: ignore[arg-type]
        with pytest.raises(error, match="schedule_at"):
            ex.schedule_at(sch, deadline)  # type: ignore[arg-type]
        return sch.schedule_at(sch.now() - 1.0)  # a deadline in the past is due at once

    assert scheduler_runner.run(build) is None


def test_a_zero_delay_is_valid_and_due_at_once(scheduler_runner: SchedulerRunner) -> None:
    assert scheduler_runner.run(lambda sch: sch.schedule_after(0) | ex.then(lambda _: 0)) == 0


def test_io_context_sleeps_in_bounded_steps_when_the_nearest_timer_is_weeks_away() -> None:
    # The bug: epoll_wait takes at most 2**31 ms, so a nearest timer 30 days away made run()
    # raise OverflowError (and math.inf "timestamp out of range"), even with an fd ready.
    left, right = socket.socketpair()
    with ex.IoContext() as ctx, left, right:
        sch = ctx.get_scheduler()
        right.send(b"x")  # readable before the loop polls: the first poll must not overflow
        for delay in NEVER_LIKE:
            pending = sch.schedule_after(delay) | ex.stop_when(sch.wait_readable(left.fileno()))
            assert ex.sync_wait(pending | ex.stopped_as_optional(), context=ctx) is None
        assert ctx.statistics().timers == 0
