"""Tests of continues_on [exec.continues.on]: deliver the upstream's completion on a scheduler."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

import dsexec as ex
from dsexec import continues_on
from dsexec.testing import (
    ExpectErrorReceiver,
    ExpectStoppedReceiver,
    ExpectValueReceiver,
    ImpulseScheduler,
    RecordingReceiver,
)


class _HopScheduler:
    """A scheduler whose ``schedule()`` is the given sender (to script the hop's outcome)."""

    def __init__(self, hop: ex.Sender[None]) -> None:
        self.hop = hop

    def schedule(self) -> ex.Sender[None]:
        return self.hop


_FORMS: dict[str, Callable[[ex.Sender[Any], Any], ex.Sender[Any]]] = {
    "pipe": lambda s, sch: s | continues_on(sch),
    "call": continues_on,
}


@pytest.mark.parametrize("form", _FORMS.values(), ids=_FORMS.keys())
def test_the_value_is_delivered_on_the_schedulers_thread(
    form: Any, worker: tuple[ex.IoContext, threading.Thread]
) -> None:
    context, thread = worker
    sender = form(ex.just(5), context.get_scheduler()) | ex.then(lambda v: (v, _record_thread(v)))
    assert ex.sync_wait(sender) == (5, thread.ident)
    assert thread.ident != threading.get_ident()


def _record_thread(_: object) -> int:
    return threading.get_ident()


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        (ex.just_error(KeyError("k")), "error"),
        (ex.just_stopped(), "stopped"),
    ],
)
def test_errors_and_stop_are_carried_over_to_the_scheduler(
    sender: ex.Sender[Any], expected: str, worker: tuple[ex.IoContext, threading.Thread]
) -> None:
    context, thread = worker
    receiver = RecordingReceiver[Any]()
    # A second hop onto the same worker completes after the first one: FIFO order.
    ex.connect(sender | continues_on(context.get_scheduler()), receiver).start()
    ex.sync_wait(ex.just(None) | continues_on(context.get_scheduler()))
    assert receiver.completion == expected
    assert receiver.completing_thread == thread.ident


def test_the_upstream_starts_where_start_is_called(vts: ex.VirtualTimeScheduler) -> None:
    started_on: list[int] = []

    def record(_: object) -> int:
        started_on.append(threading.get_ident())
        return 1

    receiver = ExpectValueReceiver(1)
    ex.connect(ex.just(0) | ex.then(record) | continues_on(vts), receiver).start()
    assert started_on == [threading.get_ident()]
    assert not receiver.completed  # the hop is queued on vts
    vts.run()
    assert receiver.completed


def test_a_stopped_hop_delivers_stopped_instead_of_the_value(vts: ex.VirtualTimeScheduler) -> None:
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(ex.just(1) | continues_on(vts), receiver).start()
    source.request_stop()  # while the hop is queued
    vts.run()


def test_a_failing_hop_delivers_its_error_instead_of_the_value() -> None:
    receiver = ExpectErrorReceiver(OSError, match="no hop")
    scheduler = _HopScheduler(ex.just_error(OSError("no hop")))
    ex.connect(ex.just(1) | continues_on(scheduler), receiver).start()


def test_schedule_raising_goes_down_the_error_channel() -> None:
    class _Broken:
        def schedule(self) -> ex.Sender[None]:
            raise RuntimeError("scheduler is shut down")

    receiver = ExpectErrorReceiver(RuntimeError, match="shut down")
    ex.connect(ex.just(1) | continues_on(_Broken()), receiver).start()


def test_stop_reaches_the_pending_upstream_promptly(vts: ex.VirtualTimeScheduler) -> None:
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(vts.schedule_after(3600) | continues_on(vts), receiver).start()
    assert vts.statistics().timers == 1
    source.request_stop()  # the timer completes stopped; the hop then sees the stop too
    vts.run()
    assert vts.statistics().timers == 0
    assert vts.now() == 0


def test_an_inline_hop_completes_inline() -> None:
    receiver = ExpectValueReceiver("x")
    ex.connect(ex.just("x") | continues_on(_HopScheduler(ex.just(None))), receiver).start()
    assert receiver.completed


def test_each_value_is_delivered_only_when_the_scheduler_runs_its_hop() -> None:
    sch = ImpulseScheduler()
    log: list[str] = []

    def note(what: str) -> Callable[[int], int]:
        def record(value: int) -> int:
            log.append(f"{what} {value}")
            return value

        return record

    receivers = [ExpectValueReceiver(i) for i in range(3)]
    for i, receiver in enumerate(receivers):
        pipeline = ex.just(i) | ex.then(note("upstream")) | continues_on(sch)
        ex.connect(pipeline | ex.then(note("downstream")), receiver).start()
    assert log == ["upstream 0", "upstream 1", "upstream 2"]  # upstreams ran in start()
    assert len(sch) == 3  # three hops wait for the scheduler
    for i in range(3):
        assert sch.run_one()
        assert log[3:] == [f"downstream {j}" for j in range(i + 1)]
        assert [r.completed for r in receivers] == [j <= i for j in range(3)]
    assert len(sch) == 0


def test_stop_while_the_hop_waits_completes_stopped_without_the_scheduler_running() -> None:
    sch = ImpulseScheduler()
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ran: list[int] = []
    ex.connect(ex.just(1) | continues_on(sch) | ex.then(ran.append), receiver).start()
    assert len(sch) == 1
    source.request_stop()
    assert receiver.completed  # at once: nothing had to run sch
    assert len(sch) == 0
    assert not sch.run_one()
    assert ran == []


@pytest.mark.parametrize(
    ("algorithm", "args", "message"),
    [
        (continues_on, (3,), r"^continues_on: expected a scheduler \(an object with"),
        (continues_on, (ex.just(1), 3), r"^continues_on: expected a scheduler"),
        (continues_on, (3, _HopScheduler(ex.just(None))), r"^continues_on: expected a Sender"),
        (continues_on(_HopScheduler(ex.just(None))), (3,), r"^continues_on: expected a Sender"),
    ],
)
def test_bad_composition_is_refused_when_built_naming_continues_on(
    algorithm: Any, args: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        algorithm(*args)
