"""VirtualTimeScheduler: autojump in deadline order, ``advance``, delays measured from start(),
cancelled timers not moving the clock, fd readiness and cross-thread posts under virtual time."""

from __future__ import annotations

import functools
import random
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

import dsexec as ex
from dsexec import VirtualTimeScheduler
from dsexec.testing import ExpectStoppedReceiver, ExpectValueReceiver, RecordingReceiver

T = TypeVar("T")


def pending(receiver: RecordingReceiver[Any]) -> bool:
    """Not completed yet (a function, so mypy does not narrow ``completed`` for good)."""
    return not receiver.completed


def record(into: list[T], item: T) -> Callable[[object], None]:
    """A ``then`` callback appending ``item`` to ``into``."""

    def append(_: object) -> None:
        into.append(item)

    return append


def start(sender: ex.Sender[Any], receiver: ex.Receiver[Any]) -> None:
    ex.connect(sender, receiver).start()


def test_clock_starts_at_the_given_time() -> None:
    with VirtualTimeScheduler(100.0) as vts:
        assert vts.now() == 100.0
        assert vts.time() == 100.0
        assert vts.get_scheduler().now() == 100.0


def test_is_a_timed_scheduler_and_its_scheduler_shares_the_clock(
    vts: VirtualTimeScheduler,
) -> None:
    assert isinstance(vts, ex.TimedScheduler)
    assert isinstance(vts.get_scheduler(), ex.TimedScheduler)
    assert vts.get_scheduler() == vts.get_scheduler()
    assert vts.get_scheduler().context is vts


def test_an_hour_of_timers_runs_at_once_in_deadline_order(vts: VirtualTimeScheduler) -> None:
    deadlines = [float(s) for s in range(1, 3601)]
    random.Random(7).shuffle(deadlines)
    fired: list[tuple[float, float]] = []
    for deadline in deadlines:
        start(
            vts.schedule_after(deadline)
            | ex.then(functools.partial(lambda d, _: fired.append((d, vts.now())), deadline)),
            ExpectValueReceiver(),
        )
    began = time.perf_counter()
    vts.run()
    elapsed = time.perf_counter() - began
    assert [d for d, _ in fired] == sorted(deadlines)
    assert all(d == now for d, now in fired)  # each fired exactly at its deadline
    assert vts.now() == 3600.0
    assert elapsed < 5.0  # virtual: nothing waited for real


def test_equal_deadlines_fire_in_start_order(vts: VirtualTimeScheduler) -> None:
    order: list[int] = []
    for i in range(10):
        start(vts.schedule_at(5.0) | ex.then(record(order, i)), ExpectValueReceiver())
    vts.run()
    assert order == list(range(10))


def test_schedule_after_counts_from_start_not_from_construction(
    vts: VirtualTimeScheduler,
) -> None:
    sender = vts.schedule_after(5)
    piped = vts.get_scheduler().schedule_after(5) | ex.then(lambda _: vts.now())
    vts.advance(10)
    fired: list[float] = []
    start(sender | ex.then(lambda _: fired.append(vts.now())), ExpectValueReceiver())
    assert ex.sync_wait(piped, context=vts) == 15.0
    vts.run()
    assert fired == [15.0]


def test_schedule_at_is_absolute(vts: VirtualTimeScheduler) -> None:
    vts.advance(3)
    assert ex.sync_wait(vts.schedule_at(7) | ex.then(lambda _: vts.now()), context=vts) == 7.0
    # A deadline in the past completes on the next turn, without moving the clock back.
    assert ex.sync_wait(vts.schedule_at(1) | ex.then(lambda _: vts.now()), context=vts) == 7.0


def test_advance_fires_due_timers_on_the_next_run_without_jumping_further(
    vts: VirtualTimeScheduler,
) -> None:
    early = ExpectValueReceiver(None)
    late = RecordingReceiver[None]()
    start(vts.schedule_after(5), early)
    start(vts.schedule_after(50), late)
    vts.advance(3)
    assert vts.poll() == 0
    assert pending(early)
    vts.advance(2)
    assert vts.now() == 5.0
    assert vts.poll() == 1
    assert early.completed
    assert pending(late)
    assert vts.now() == 5.0  # poll never jumps the clock
    vts.advance(100)
    vts.run()
    assert late.completed
    assert vts.now() == 105.0


def test_advance_rejects_negative_time(vts: VirtualTimeScheduler) -> None:
    with pytest.raises(ValueError, match="must be >= 0"):
        vts.advance(-1)
    vts.advance(0)
    assert vts.now() == 0.0


def test_a_stopped_timer_does_not_move_the_clock(vts: VirtualTimeScheduler) -> None:
    source = ex.StopSource()
    stopped = ExpectStoppedReceiver(stop_token=source.token)
    start(vts.schedule_after(100), stopped)
    source.request_stop()
    assert stopped.completed
    assert ex.sync_wait(vts.schedule_after(5) | ex.then(lambda _: vts.now()), context=vts) == 5.0
    vts.run()
    assert vts.now() == 5.0


def test_timeout_race_resolves_in_virtual_time(vts: VirtualTimeScheduler) -> None:
    # An hour-long timer stopped by a one-second one: the clock never reaches the hour.
    source = ex.StopSource()
    long = ExpectStoppedReceiver(stop_token=source.token)
    start(vts.schedule_after(3600), long)
    start(vts.schedule_after(1) | ex.then(lambda _: source.request_stop()), ExpectValueReceiver())
    vts.run()
    assert long.completed
    assert vts.now() == 1.0


def test_fd_readiness_beats_a_pending_timer(vts: VirtualTimeScheduler) -> None:
    a, b = socket.socketpair()
    try:
        b.send(b"x")
        order: list[tuple[str, float]] = []

        def note(what: str) -> None:
            order.append((what, vts.now()))

        start(vts.schedule_after(10) | ex.then(lambda _: note("timer")), ExpectValueReceiver())
        start(
            vts.wait_readable(a.fileno()) | ex.then(lambda _: note("readable")),
            ExpectValueReceiver(),
        )
        vts.run()
        assert order == [("readable", 0.0), ("timer", 10.0)]
    finally:
        a.close()
        b.close()


def test_fd_waits_still_work_after_the_clock_jumped(vts: VirtualTimeScheduler) -> None:
    a, b = socket.socketpair()
    try:
        reader = ExpectValueReceiver(None)
        writer = ExpectValueReceiver(None)
        start(vts.wait_readable(a.fileno()), reader)
        start(vts.schedule_after(10), ExpectValueReceiver(None))
        assert vts.run_one() == 1  # nothing readable: the clock jumps to the timer
        assert vts.now() == 10.0
        assert pending(reader)
        b.send(b"x")
        start(vts.wait_writable(a.fileno()), writer)
        vts.run()
        assert reader.completed
        assert writer.completed
        assert vts.now() == 10.0
        vts.notify_closing(a.fileno())
    finally:
        a.close()
        b.close()


def test_post_from_another_thread_wakes_a_loop_without_timers(vts: VirtualTimeScheduler) -> None:
    ran: list[float] = []
    started = threading.Event()

    def poster() -> None:
        assert started.wait(10)
        vts.post(lambda: ran.append(vts.now()))

    def begin() -> None:
        started.set()

    vts.post(begin)
    thread = threading.Thread(target=poster)
    thread.start()
    vts.run_until(lambda: bool(ran))
    thread.join()
    assert ran == [0.0]


def test_sync_wait_of_an_hour_long_pipeline(vts: VirtualTimeScheduler) -> None:
    sender = vts.schedule_after(1800) | ex.then(lambda _: vts.now()) | ex.then(lambda t: t * 2)
    assert ex.sync_wait(sender, context=vts) == 3600.0
    assert vts.now() == 1800.0


def test_schedule_completes_without_moving_the_clock(vts: VirtualTimeScheduler) -> None:
    assert ex.sync_wait(vts.schedule() | ex.then(lambda _: vts.now()), context=vts) == 0.0
