"""The time algorithms (timeout, stop_when, when_any with timers) on every timed scheduler:
IoContext, virtual time, and AnyioScheduler on asyncio, trio and uvloop -- one test body each,
run by the ``scheduler_runner`` fixture. Real-clock waits are a few milliseconds; the long
timers must be cancelled, not waited for."""

from __future__ import annotations

import pytest

import dsexec as ex
from dsexec.schedulers import ReactorScheduler
from dsexec.testing import SchedulerRunner

LONG = 10.0  # never waited for: the tests would take this long if a timer leaked
SHORT = 0.002


def test_timeout_fires_on_a_slow_upstream(scheduler_runner: SchedulerRunner) -> None:
    def build(sch: ReactorScheduler) -> ex.Sender[None]:
        return sch.schedule_after(LONG) | ex.timeout(SHORT)

    with pytest.raises(TimeoutError):
        scheduler_runner.run(build)


def test_timeout_lets_a_fast_upstream_through(scheduler_runner: SchedulerRunner) -> None:
    def build(sch: ReactorScheduler) -> ex.Sender[str]:
        return sch.schedule_after(SHORT) | ex.then(lambda _: "in time") | ex.timeout(LONG)

    assert scheduler_runner.run(build) == "in time"


def test_stop_when_stops_the_upstream_when_the_trigger_fires(
    scheduler_runner: SchedulerRunner,
) -> None:
    def build(sch: ReactorScheduler) -> ex.Sender[str | None]:
        upstream = sch.schedule_after(LONG) | ex.then(lambda _: "too late")
        return upstream | ex.stop_when(sch.schedule_after(SHORT)) | ex.stopped_as_optional()

    assert scheduler_runner.run(build) is None


def test_when_any_takes_the_earliest_timer(scheduler_runner: SchedulerRunner) -> None:
    def build(sch: ReactorScheduler) -> ex.Sender[str]:
        return ex.when_any(
            sch.schedule_after(LONG) | ex.then(lambda _: "slow"),
            sch.schedule_after(SHORT) | ex.then(lambda _: "fast"),
        )

    assert scheduler_runner.run(build) == "fast"


def test_schedule_after_is_measured_from_start(scheduler_runner: SchedulerRunner) -> None:
    def build(sch: ReactorScheduler) -> ex.Sender[bool]:
        started: list[float] = []
        delayed = sch.schedule_after(SHORT)
        first = sch.schedule_after(SHORT) | ex.then(lambda _: started.append(sch.now()))
        return first | ex.let_value(lambda _: delayed) | ex.then(
            lambda _: sch.now() - started[0] >= SHORT - 0.0011  # uvloop's clock ticks in ms
        )

    assert scheduler_runner.run(build) is True
