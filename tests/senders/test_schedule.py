"""Tests of schedule, schedule_after and schedule_at [exec.schedule] as free functions."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import dsexec as ex
from dsexec import schedule, schedule_after, schedule_at
from dsexec.testing import ExpectStoppedReceiver, ExpectValueReceiver


class _PlainScheduler:
    """A scheduler without a clock: ``schedule()`` only."""

    def schedule(self) -> ex.Sender[None]:
        return ex.just(None)


def test_schedule_completes_on_the_scheduler_loop_thread() -> None:
    with ex.IoContext() as ctx:
        receiver = ExpectValueReceiver(None)
        ex.connect(schedule(ctx.get_scheduler()), receiver).start()
        assert not receiver.completed  # queued, not inline
        ctx.run()
        assert receiver.completing_thread == threading.get_ident()


def test_schedule_works_with_any_object_having_schedule() -> None:
    assert ex.sync_wait(schedule(_PlainScheduler()) | ex.then(lambda _: "hopped")) == "hopped"


def test_schedule_after_waits_virtual_time_from_start(vts: ex.VirtualTimeScheduler) -> None:
    sender = schedule_after(vts.get_scheduler(), 5)
    vts.advance(100)  # building the sender does not start the clock
    ex.sync_wait(sender, context=vts)
    assert vts.now() == 105


def test_schedule_at_completes_at_the_deadline(vts: ex.VirtualTimeScheduler) -> None:
    vts.advance(10)
    ex.sync_wait(schedule_at(vts, 12.5), context=vts)
    assert vts.now() == 12.5


@pytest.mark.parametrize("form", ["after", "at"])
def test_timed_schedule_is_stopped_promptly_and_withdraws_its_timer(
    form: str, vts: ex.VirtualTimeScheduler
) -> None:
    source = ex.StopSource()
    sender = schedule_after(vts, 60) if form == "after" else schedule_at(vts, 60)
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(sender, receiver).start()
    assert vts.statistics().timers == 1
    source.request_stop()
    assert receiver.completed
    assert vts.statistics().timers == 0
    assert vts.now() == 0


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: schedule(42), "schedule"),  # type: ignore[arg-type]
        (lambda: schedule_after(_PlainScheduler(), 1), "schedule_after"),  # type: ignore[arg-type]
        (lambda: schedule_at(_PlainScheduler(), 1), "schedule_at"),  # type: ignore[arg-type]
        (lambda: schedule_after(None, 1), "schedule_after"),  # type: ignore[arg-type]
    ],
    ids=["schedule-int", "after-untimed", "at-untimed", "after-none"],
)
def test_schedulers_without_the_method_are_refused_naming_the_function(
    call: Any, name: str
) -> None:
    with pytest.raises(TypeError, match=f"^{name}: expected a"):
        call()


@pytest.mark.parametrize("bad", ["5", None, True])
def test_schedule_after_refuses_a_non_number_delay(bad: Any, vts: ex.VirtualTimeScheduler) -> None:
    with pytest.raises(TypeError, match=r"^schedule_after: expected the delay in seconds"):
        schedule_after(vts, bad)
    with pytest.raises(TypeError, match=r"^schedule_at: expected the deadline in seconds"):
        schedule_at(vts, bad)


def test_schedule_after_refuses_nan(vts: ex.VirtualTimeScheduler) -> None:
    with pytest.raises(ValueError, match=r"^schedule_after: the delay is NaN"):
        schedule_after(vts, float("nan"))


def test_schedule_refuses_a_scheduler_returning_a_non_sender() -> None:
    class _Broken:
        def schedule(self) -> object:
            return 3

    with pytest.raises(TypeError, match=r"^schedule: the scheduler returned int"):
        schedule(_Broken())  # type: ignore[arg-type]
