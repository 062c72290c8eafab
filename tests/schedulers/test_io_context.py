"""IoContext: the loop (run/run_one/poll/run_until/stop/restart), cross-thread posts and the
wake-up socket, timers, fd readiness waits and the registration policy, error isolation."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import select
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

import dsexec as ex
from dsexec import IoContext
from dsexec.schedulers._backends import _io_context
from dsexec.schedulers._reactor import running_loop
from dsexec.testing import (
    ExpectErrorReceiver,
    ExpectStoppedReceiver,
    ExpectValueReceiver,
    RecordingReceiver,
)

# -- helpers ----------------------------------------------------------------------------------


T = TypeVar("T")


def pending(receiver: RecordingReceiver[Any]) -> bool:
    """Not completed yet (a function, so mypy does not narrow ``completed`` for good)."""
    return not receiver.completed


def record(into: list[T], item: T) -> Callable[[object], None]:
    """A ``then`` callback appending ``item`` to ``into``."""

    def append(_: object) -> None:
        into.append(item)

    return append


IN, OUT = 0x001, 0x004  # the poller's event bits (epoll's values, on every platform)

_POLLERS = [pytest.param("selectors", id="selectors")]
if hasattr(select, "epoll"):
    _POLLERS.insert(0, pytest.param("epoll", id="epoll"))


@pytest.fixture(params=_POLLERS)
def poller_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every IoContext made by the test uses this poller: ``select.epoll`` or the portable
    ``selectors`` fallback."""
    kind: str = request.param
    if kind == "selectors":
        monkeypatch.setattr(_io_context, "_new_poller", _io_context._SelectorPoller)
    return kind


@pytest.fixture
def io(poller_kind: str) -> Iterator[IoContext]:
    context = IoContext()
    # the swap reached the context (in the compiled build as well)
    assert isinstance(context._poller, _io_context._SelectorPoller) == (poller_kind == "selectors")
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


class Watchdog:
    """Stops a context that a broken wake-up would leave blocked forever, so the test fails
    instead of hanging. ``fired`` says whether it had to."""

    def __init__(self, context: IoContext, seconds: float = 10.0) -> None:
        self._context = context
        self._done = threading.Event()
        self.fired = False
        self._thread = threading.Thread(target=self._watch, args=(seconds,))
        self._thread.start()

    def _watch(self, seconds: float) -> None:
        if not self._done.wait(seconds):
            self.fired = True
            self._context.stop()

    def finish(self) -> None:
        self._done.set()
        self._thread.join()
        assert not self.fired, "the loop was never woken: the watchdog had to stop it"


class CountingSocket:
    """Wraps the wake-up socket to count ``send`` calls."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.sends = 0

    def send(self, data: bytes) -> int:
        self.sends += 1
        return self._sock.send(data)

    def close(self) -> None:
        self._sock.close()


class CountingPoller:
    """Wraps the poller to count the registration calls the reactor makes."""

    def __init__(self, poller: Any) -> None:
        self._poller = poller
        self.calls: list[tuple[str, int, int]] = []

    def register(self, fd: int, events: int, /) -> None:
        self.calls.append(("register", fd, events))
        self._poller.register(fd, events)

    def modify(self, fd: int, events: int, /) -> None:
        self.calls.append(("modify", fd, events))
        self._poller.modify(fd, events)

    def unregister(self, fd: int, /) -> None:
        self.calls.append(("unregister", fd, 0))
        self._poller.unregister(fd)

    def poll(self, timeout: float | None = None, /) -> list[tuple[int, int]]:
        result: list[tuple[int, int]] = self._poller.poll(timeout)
        return result

    def close(self) -> None:
        self._poller.close()


def counting_poller(context: IoContext) -> CountingPoller:
    poller = CountingPoller(context._poller)
    context._poller = poller
    return poller


class SleepCountingPoller(CountingPoller):
    """Counts the polls that may block (any timeout but zero); ``on_sleep`` runs before each."""

    def __init__(self, poller: Any, on_sleep: Callable[[], None] | None) -> None:
        super().__init__(poller)
        self.sleeps = [0]
        self._on_sleep = on_sleep

    def poll(self, timeout: float | None = None, /) -> list[tuple[int, int]]:
        if timeout != 0.0:
            self.sleeps[0] += 1
            if self._on_sleep is not None:
                self._on_sleep()
        return super().poll(timeout)


class HookedPoller(CountingPoller):
    """Calls ``after(timeout, events)`` after each poll."""

    def __init__(
        self, poller: Any, after: Callable[[float | None, list[tuple[int, int]]], None]
    ) -> None:
        super().__init__(poller)
        self._after = after

    def poll(self, timeout: float | None = None, /) -> list[tuple[int, int]]:
        events = super().poll(timeout)
        self._after(timeout, events)
        return events


def hook_polls(
    context: IoContext, after: Callable[[float | None, list[tuple[int, int]]], None]
) -> None:
    """Wrap the context's poller (not ``_select``: the compiled build's methods cannot be
    replaced on an instance) to call ``after`` after each poll."""
    context._poller = HookedPoller(context._poller, after)


def count_sleeps(context: IoContext, on_sleep: Callable[[], None] | None = None) -> list[int]:
    """Wrap the poller to count the polls that may block; ``on_sleep`` runs before each."""
    poller = SleepCountingPoller(context._poller, on_sleep)
    context._poller = poller
    return poller.sleeps


def start(sender: ex.Sender[Any], receiver: ex.Receiver[Any]) -> None:
    ex.connect(sender, receiver).start()


# -- run / run_one / poll -------------------------------------------------------------------


def test_run_returns_at_once_when_there_is_no_work(io: IoContext) -> None:
    assert io.run() == 0
    assert not io.stopped


def test_run_runs_posted_callbacks_and_returns_when_out_of_work(io: IoContext) -> None:
    ran: list[int] = []
    for i in range(5):
        io.post(functools.partial(ran.append, i))
    assert io.run() == 5
    assert ran == [0, 1, 2, 3, 4]
    assert io.statistics().ready == 0


def test_run_runs_callbacks_posted_by_callbacks(io: IoContext) -> None:
    ran: list[str] = []

    def first() -> None:
        ran.append("first")
        io.post(lambda: ran.append("third"))

    io.post(first)
    io.post(lambda: ran.append("second"))
    assert io.run() == 3
    assert ran == ["first", "second", "third"]


def test_post_keeps_fifo_order_across_budget_boundaries(io: IoContext) -> None:
    ran: list[tuple[str, int]] = []
    n = 1000  # several turns of the loop's budget

    def chain(i: int) -> None:
        ran.append(("chain", i))
        if i + 1 < n:
            io.post(lambda: chain(i + 1))

    io.post(lambda: chain(0))
    for i in range(n):
        io.post(functools.partial(ran.append, ("queued", i)))
    io.run()
    assert ran == [("chain", 0)] + [("queued", i) for i in range(n)] + [
        ("chain", i) for i in range(1, n)
    ]


def test_run_one_runs_exactly_one_callback(io: IoContext) -> None:
    ran: list[int] = []
    for i in range(3):
        io.post(functools.partial(ran.append, i))
    assert io.run_one() == 1
    assert ran == [0]
    assert io.run_one() == 1
    assert ran == [0, 1]
    assert io.statistics().ready == 1


def test_run_one_returns_zero_without_work(io: IoContext) -> None:
    assert io.run_one() == 0


def test_run_one_blocks_until_a_timer_is_due(io: IoContext) -> None:
    receiver = ExpectValueReceiver(None)
    start(io.get_scheduler().schedule_after(0.001), receiver)
    assert io.run_one() == 1
    assert receiver.completed


def test_poll_runs_ready_work_without_waiting_for_timers(io: IoContext) -> None:
    ran: list[str] = []
    io.post(lambda: ran.append("now"))
    timer = RecordingReceiver[None]()
    source = ex.StopSource()
    start(io.get_scheduler().schedule_after(3600), RecordingReceiver(stop_token=source.token))
    start(io.get_scheduler().schedule_after(3600), timer)
    assert io.poll() == 1
    assert ran == ["now"]
    assert pending(timer)
    assert io.poll() == 0
    assert io.statistics().timers == 2
    source.request_stop()  # withdraws one timer at once (nobody runs the loop)
    assert io.statistics().timers == 1
    assert io.statistics().cancelled_timers == 1


# -- stop / restart / run_until --------------------------------------------------------------


def test_stop_inside_a_callback_leaves_queued_work_queued(io: IoContext) -> None:
    ran: list[str] = []

    def stopper() -> None:
        ran.append("stopper")
        io.stop()

    io.post(stopper)
    io.post(lambda: ran.append("after"))
    assert io.run() == 1
    assert ran == ["stopper"]
    assert io.stopped
    assert io.statistics().ready == 1


def test_stopped_context_runs_nothing_until_restart(io: IoContext) -> None:
    ran: list[int] = []
    io.post(lambda: ran.append(1))
    io.stop()
    assert io.stopped
    assert io.run() == 0
    assert io.run_one() == 0
    assert io.poll() == 0
    assert ran == []
    io.restart()
    assert io.statistics().ready == 1
    assert io.run() == 1
    assert ran == [1]


def test_restart_after_stop_keeps_fifo_order_of_deferred_work(io: IoContext) -> None:
    ran: list[str] = []

    def stopper() -> None:
        ran.append("a")
        io.post(lambda: ran.append("c"))
        io.stop()

    io.post(stopper)
    io.post(lambda: ran.append("b"))
    io.run()
    io.restart()
    io.post(lambda: ran.append("d"))
    io.run()
    assert ran == ["a", "b", "c", "d"]


def test_stop_from_another_thread_makes_a_sleeping_run_return(io: IoContext) -> None:
    sleeping = threading.Event()
    count_sleeps(io, sleeping.set)

    def stopper() -> None:
        assert sleeping.wait(10)
        io.stop()

    thread = threading.Thread(target=stopper)
    with io.work_guard():  # keeps run() waiting
        thread.start()
        io.run()
    thread.join()
    assert io.stopped


def test_run_until_ignores_stop_and_does_not_spin(io: IoContext) -> None:
    receiver = ExpectValueReceiver(None)
    start(io.get_scheduler().schedule_after(0.02), receiver)
    polls = [0]

    def count(timeout: float | None, events: list[tuple[int, int]]) -> None:
        polls[0] += 1

    hook_polls(io, count)
    io.stop()
    io.run_until(lambda: receiver.completed)
    assert receiver.completed
    # A few polls at most; a busy loop would poll thousands of times in 20 ms.
    assert polls[0] <= 5


def test_sync_wait_drives_the_context(io: IoContext) -> None:
    assert ex.sync_wait(io.get_scheduler().schedule() | ex.then(lambda _: 42), context=io) == 42


# -- nested and concurrent runs, close --------------------------------------------------------


def test_nested_run_raises_runtime_error(io: IoContext) -> None:
    errors: list[BaseException] = []

    def nested() -> None:
        for method in (io.run, io.run_one, io.poll):
            try:
                method()
            except RuntimeError as exc:
                errors.append(exc)

    io.post(nested)
    io.run()
    assert len(errors) == 3
    assert all("nested" in str(e) for e in errors)


def test_run_from_a_second_thread_raises_runtime_error(io: IoContext) -> None:
    errors: list[BaseException] = []

    def other() -> None:
        try:
            io.run()
        except RuntimeError as exc:
            errors.append(exc)

    def callback() -> None:
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()

    io.post(callback)
    io.run()
    assert len(errors) == 1
    assert "another thread" in str(errors[0])


def test_close_is_idempotent_and_refuses_to_run_afterwards() -> None:
    io = IoContext()
    io.post(lambda: None)
    io.close()
    io.close()
    with pytest.raises(RuntimeError, match="closed"):
        io.run()
    with pytest.raises(RuntimeError, match="closed"):
        io.run_one()
    stats = io.statistics()
    assert (stats.ready, stats.timers, stats.cancelled_timers, stats.readers) == (0, 0, 0, 0)
    assert "closed" in repr(io)


def test_close_while_running_raises(io: IoContext) -> None:
    errors: list[BaseException] = []

    def closer() -> None:
        try:
            io.close()
        except RuntimeError as exc:
            errors.append(exc)

    io.post(closer)
    io.run()
    assert len(errors) == 1


def test_context_manager_closes() -> None:
    with IoContext() as io:
        assert io.run() == 0
    with pytest.raises(RuntimeError):
        io.run()


# -- errors in callbacks ------------------------------------------------------------------------


def test_exception_in_a_callback_is_logged_and_the_loop_continues(
    io: IoContext, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []

    def boom() -> None:
        raise ValueError("boom")

    io.post(boom)
    io.post(lambda: ran.append("after"))
    io.post(boom)
    io.post(lambda: ran.append("last"))
    with caplog.at_level(logging.ERROR, logger="dsexec"):
        assert io.run() == 4
    assert ran == ["after", "last"]
    errors = [r for r in caplog.records if r.name == "dsexec" and r.exc_info]
    assert len(errors) == 2
    assert all(isinstance(r.exc_info[1], ValueError) for r in errors if r.exc_info)


# -- cross-thread post and the wake-up socket ------------------------------------------------


def test_post_from_another_thread_wakes_the_sleeping_loop(io: IoContext) -> None:
    wake = CountingSocket(io._wake_send)
    io._wake_send = wake  # type: ignore[assignment]
    sleeping = threading.Event()
    sleeps = count_sleeps(io, sleeping.set)
    ran: list[int] = []

    def poster() -> None:
        assert sleeping.wait(10)
        io.post(lambda: ran.append(threading.get_ident()))

    thread = threading.Thread(target=poster)
    thread.start()
    watchdog = Watchdog(io)
    io.run_until(lambda: bool(ran) or io.stopped)
    watchdog.finish()
    thread.join()
    assert ran == [threading.get_ident()]  # ran on the loop thread
    assert wake.sends == 1
    assert sleeps[0] >= 1


class WakeDuringDrain:
    """Wraps the wake-up socket's read side: during the first drain, another thread wakes the
    loop (it releases a work guard), the interleaving that once swallowed that thread's byte
    and left the "byte pending" flag set over an empty socket."""

    def __init__(self, context: IoContext) -> None:
        self._context = context
        self._sock = context._wake_recv
        self.raced = False

    def recv(self, size: int) -> bytes:
        if not self.raced:
            self.raced = True
            thread = threading.Thread(target=self._wake_from_elsewhere)
            thread.start()
            thread.join()
        return self._sock.recv(size)

    def _wake_from_elsewhere(self) -> None:
        with self._context.work_guard():
            pass

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self._sock.close()


def test_a_wake_up_landing_while_the_loop_drains_is_not_lost(io: IoContext) -> None:
    io._wake_recv = WakeDuringDrain(io)  # type: ignore[assignment]
    sleeping = threading.Semaphore(0)
    count_sleeps(io, sleeping.release)
    ran: list[str] = []

    def poster() -> None:
        assert sleeping.acquire(timeout=10)
        io.post(functools.partial(ran.append, "first"))  # wakes the loop; its drain races
        assert sleeping.acquire(timeout=10)  # asleep again, with nothing queued
        io.post(functools.partial(ran.append, "second"))  # must wake it again

    with io.work_guard():  # keeps the loop waiting for the posts
        thread = threading.Thread(target=poster)
        thread.start()
        watchdog = Watchdog(io)
        io.run_until(lambda: len(ran) == 2 or io.stopped)
        watchdog.finish()
        thread.join()
    assert ran == ["first", "second"]
    # and the flag tells the truth: set only while a byte waits in the socket
    assert not io._wake_pending or select.select([io._wake_recv], [], [], 0)[0]


def test_many_posts_to_a_sleeping_loop_write_the_wake_socket_rarely(io: IoContext) -> None:
    wake = CountingSocket(io._wake_send)
    io._wake_send = wake  # type: ignore[assignment]
    sleeping = threading.Event()
    sleeps = count_sleeps(io, sleeping.set)
    ran: list[int] = []
    n = 1000

    def poster() -> None:
        assert sleeping.wait(10)
        for i in range(n):
            io.post(functools.partial(ran.append, i))

    thread = threading.Thread(target=poster)
    thread.start()
    watchdog = Watchdog(io)
    io.run_until(lambda: len(ran) == n or io.stopped)
    watchdog.finish()
    thread.join()
    assert ran == list(range(n))
    assert 1 <= wake.sends <= sleeps[0]


def test_posts_from_another_thread_while_the_loop_is_busy_do_not_write_the_socket(
    io: IoContext,
) -> None:
    wake = CountingSocket(io._wake_send)
    io._wake_send = wake  # type: ignore[assignment]
    ran: list[int] = []

    def poster() -> None:
        for i in range(100):
            io.post(functools.partial(ran.append, i))

    def busy() -> None:  # the loop is running this callback, not sleeping
        thread = threading.Thread(target=poster)
        thread.start()
        thread.join()

    io.post(busy)
    io.run()
    assert ran == list(range(100))
    assert wake.sends == 0


def test_posts_while_nobody_runs_the_loop_do_not_write_the_socket(io: IoContext) -> None:
    wake = CountingSocket(io._wake_send)
    io._wake_send = wake  # type: ignore[assignment]
    ran: list[int] = []

    def poster() -> None:
        for _ in range(3):
            io.post(functools.partial(ran.append, 1))

    thread = threading.Thread(target=poster)
    thread.start()
    thread.join()
    assert io.run() == 3
    assert ran == [1, 1, 1]
    assert wake.sends == 0


def test_work_guard_keeps_run_waiting_for_work_from_another_thread(io: IoContext) -> None:
    sleeping = threading.Event()
    count_sleeps(io, sleeping.set)
    ran: list[str] = []
    guard = io.work_guard()
    guard.__enter__()
    assert io.statistics().outstanding_work == 1

    def worker() -> None:
        assert sleeping.wait(10)  # run() is waiting although nothing is queued
        io.post(lambda: ran.append("posted"))
        guard.__exit__(None, None, None)

    thread = threading.Thread(target=worker)
    thread.start()
    watchdog = Watchdog(io)
    io.run()
    watchdog.finish()
    thread.join()
    assert ran == ["posted"]
    assert io.statistics().outstanding_work == 0


def test_schedule_started_from_another_thread_completes_on_the_loop_thread(
    io: IoContext,
) -> None:
    receivers = [ExpectValueReceiver(None) for _ in range(2)]
    sch = io.get_scheduler()

    def other() -> None:
        start(sch.schedule(), receivers[0])
        start(sch.schedule_after(0), receivers[1])

    def callback() -> None:
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()

    io.post(callback)
    io.run()
    assert all(r.completing_thread == threading.get_ident() for r in receivers)


# -- schedule() ---------------------------------------------------------------------------------


def test_schedule_completes_in_fifo_order(io: IoContext) -> None:
    order: list[int] = []
    sch = io.get_scheduler()
    receivers = [ExpectValueReceiver(None) for _ in range(10)]
    for i, receiver in enumerate(receivers):
        start(sch.schedule() | ex.then(record(order, i)), receiver)
    assert not any(r.completed for r in receivers)  # never inline
    io.run()
    assert order == list(range(10))


def test_schedule_completes_stopped_when_stop_was_requested_before_it_ran(io: IoContext) -> None:
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    start(io.get_scheduler().schedule(), receiver)
    source.request_stop()
    io.run()
    assert receiver.completed


def test_scheduler_equality_and_repr(io: IoContext) -> None:
    other = IoContext()
    try:
        assert io.get_scheduler() == io.get_scheduler()
        assert hash(io.get_scheduler()) == hash(io.get_scheduler())
        assert io.get_scheduler() != other.get_scheduler()
        assert io.get_scheduler().context is io
        assert "IoContextScheduler" in repr(io.get_scheduler())
    finally:
        other.close()


# -- timers ---------------------------------------------------------------------------------------


def test_timers_fire_in_deadline_order_and_ties_in_start_order(io: IoContext) -> None:
    order: list[str] = []
    sch = io.get_scheduler()
    base = sch.now() + 0.005
    for name, offset in [("c", 0.004), ("a", 0.0), ("b1", 0.002), ("b2", 0.002), ("d", 0.006)]:
        start(sch.schedule_at(base + offset) | ex.then(record(order, name)), ExpectValueReceiver())
    io.run()
    assert order == ["a", "b1", "b2", "c", "d"]


def test_schedule_after_does_not_fire_early(io: IoContext) -> None:
    sch = io.get_scheduler()
    began = sch.now()
    fired: list[float] = []
    start(
        sch.schedule_after(0.01) | ex.then(lambda _: fired.append(sch.now())), ExpectValueReceiver()
    )
    io.run()
    assert fired[0] - began >= 0.01


def test_stopping_a_timer_completes_it_at_once_and_releases_it(io: IoContext) -> None:
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    start(io.get_scheduler().schedule_after(3600), receiver)
    assert io.statistics().timers == 1

    def stop() -> None:
        source.request_stop()
        assert receiver.completed  # inline, on the loop thread

    io.post(stop)
    assert io.run() == 1  # the cancelled timer is no work: run() returns
    assert io.statistics().timers == 0


def test_stop_requested_before_start_arms_no_timer(io: IoContext) -> None:
    source = ex.StopSource()
    source.request_stop()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    start(io.get_scheduler().schedule_after(3600), receiver)
    assert receiver.completed
    assert io.statistics().timers == 0
    assert io.statistics().cancelled_timers == 0


def test_stop_from_another_thread_completes_a_timer_on_the_loop(io: IoContext) -> None:
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    started = threading.Event()

    def begin() -> None:
        start(io.get_scheduler().schedule_after(3600), receiver)
        started.set()

    def stopper() -> None:
        assert started.wait(10)
        source.request_stop()

    io.post(begin)
    thread = threading.Thread(target=stopper)
    thread.start()
    watchdog = Watchdog(io)
    io.run()
    watchdog.finish()
    thread.join()
    assert receiver.completing_thread == threading.get_ident()


def test_cancelled_timers_are_compacted(io: IoContext) -> None:
    sch = io.get_scheduler()
    source = ex.StopSource()
    keep = RecordingReceiver[None]()
    start(sch.schedule_after(3600), keep)
    for _ in range(1000):
        start(sch.schedule_after(3600), ExpectStoppedReceiver(stop_token=source.token))
    assert io.statistics().timers == 1001
    source.request_stop()
    stats = io.statistics()
    assert stats.timers == 1
    assert stats.cancelled_timers < 64
    assert len(io._timers) < 64


def test_a_timer_stopped_after_it_fired_does_not_hide_other_timers(io: IoContext) -> None:
    # Two timers fall due in the same turn; the first one's completion stops the second
    # (as timeout() or when_any do). The second's handle is cancelled after it left the heap.
    sch = io.get_scheduler()
    deadline = sch.now() + 0.001
    source = ex.StopSource()
    first = RecordingReceiver[None]()
    second = ExpectStoppedReceiver(stop_token=source.token)
    start(sch.schedule_at(deadline) | ex.then(lambda _: source.request_stop()), first)
    start(sch.schedule_at(deadline), second)
    late = ExpectValueReceiver(None)
    start(sch.schedule_after(0.005), late)
    io.run()
    assert first.completion == "value"
    assert second.completed
    assert late.completed, "run() returned with a live timer pending"
    stats = io.statistics()
    assert (stats.timers, stats.cancelled_timers) == (0, 0)


def test_call_at_handle_cancel_is_idempotent_and_safe_after_firing(io: IoContext) -> None:
    ran: list[str] = []
    fired = io.call_at(io.time(), lambda: ran.append("fired"))
    withdrawn = io.call_at(io.time(), lambda: ran.append("withdrawn"))
    withdrawn.cancel()
    withdrawn.cancel()
    io.run()
    fired.cancel()
    assert ran == ["fired"]
    stats = io.statistics()
    assert (stats.timers, stats.cancelled_timers) == (0, 0)


# -- fd readiness waits -------------------------------------------------------------------------


def test_wait_readable_completes_when_data_arrives(
    io: IoContext, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair
    receiver = ExpectValueReceiver(None)
    start(io.get_scheduler().wait_readable(a.fileno()), receiver)
    assert io.poll() == 0
    assert pending(receiver)
    assert io.statistics().readers == 1
    b.send(b"x")
    io.run()
    assert receiver.completed
    assert io.statistics().readers == 0


def test_wait_writable_completes_on_a_writable_socket(
    io: IoContext, pair: tuple[socket.socket, socket.socket]
) -> None:
    receiver = ExpectValueReceiver(None)
    start(io.get_scheduler().wait_writable(pair[0].fileno()), receiver)
    io.run()
    assert receiver.completed
    assert io.statistics().writers == 0


@pytest.mark.parametrize("writable", [False, True])
def test_second_waiter_on_one_direction_gets_busy_resource_error(
    io: IoContext, pair: tuple[socket.socket, socket.socket], writable: bool
) -> None:
    sch = io.get_scheduler()
    fd = pair[0].fileno()
    wait = sch.wait_writable if writable else sch.wait_readable
    source = ex.StopSource()
    first = ExpectStoppedReceiver(stop_token=source.token)
    second = ExpectErrorReceiver(ex.BusyResourceError, match=f"fd {fd}")
    start(wait(fd), first)
    start(wait(fd), second)
    assert second.completed
    source.request_stop()
    assert first.completed
    stats = io.statistics()
    assert (stats.readers, stats.writers) == (0, 0)


def test_notify_closing_wakes_reader_and_writer_with_closed_resource_error(
    io: IoContext, pair: tuple[socket.socket, socket.socket]
) -> None:
    sch = io.get_scheduler()
    a, _ = pair
    fd = a.fileno()
    # Fill the send buffer so that the writer waits.
    with contextlib.suppress(BlockingIOError):
        while a.send(b"\0" * 65536):
            pass
    reader = ExpectErrorReceiver(ex.ClosedResourceError, match=f"fd {fd}")
    writer = ExpectErrorReceiver(ex.ClosedResourceError)
    start(sch.wait_readable(fd), reader)
    start(sch.wait_writable(fd), writer)
    assert io.poll() == 0
    sch.notify_closing(fd)
    assert pending(reader)  # delivered by the loop, not inline
    io.run()
    assert reader.completed
    assert writer.completed
    stats = io.statistics()
    assert (stats.readers, stats.writers, stats.registered_fds) == (0, 0, 0)
    sch.notify_closing(fd)  # unknown fd: nothing happens


def test_stop_withdraws_an_fd_wait_at_once(
    io: IoContext, pair: tuple[socket.socket, socket.socket]
) -> None:
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    start(io.get_scheduler().wait_readable(pair[0].fileno()), receiver)
    source.request_stop()
    assert receiver.completed
    assert io.statistics().readers == 0
    assert io.run() == 0  # nothing left to wait for


def test_ready_fd_wait_stopped_before_its_callback_runs_completes_once(
    io: IoContext, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    start(io.get_scheduler().wait_readable(a.fileno()), receiver)
    b.send(b"x")
    # The readiness callback and a stop request land in the same turn, the stop first.
    def stop_first(timeout: float | None, events: list[tuple[int, int]]) -> None:
        if events and not source.stop_requested():
            io._ready.append(source.request_stop)

    hook_polls(io, stop_first)
    # run_one queues fd waiters (one callback per call), so the stop queued first runs first.
    while io.run_one():
        pass
    assert receiver.completed


def test_read_interest_stays_registered_while_unwanted_write_interest_is_dropped(
    io: IoContext, pair: tuple[socket.socket, socket.socket]
) -> None:
    selector = counting_poller(io)
    sch = io.get_scheduler()
    a, b = pair
    fd = a.fileno()
    for i in range(5):
        receiver = ExpectValueReceiver(None)
        start(sch.wait_readable(fd), receiver)
        b.send(b"x")
        io.run()
        assert receiver.completed
        assert a.recv(10) == b"x"
        writer = ExpectValueReceiver(None)  # a write in between, like a keep-alive response
        start(sch.wait_writable(fd), writer)
        io.run()
        assert writer.completed, i
    read, both = IN, IN | OUT
    # Read interest is never withdrawn; the always-ready write interest is dropped when the
    # selector reports it with nobody waiting (else it would wake the loop forever).
    assert (
        selector.calls
        == [("register", fd, read), ("modify", fd, both)]
        + [
            ("modify", fd, read),
            ("modify", fd, both),
        ]
        * 4
    )


def test_fd_registration_is_kept_for_a_read_after_a_read(
    io: IoContext, pair: tuple[socket.socket, socket.socket]
) -> None:
    selector = counting_poller(io)
    sch = io.get_scheduler()
    a, b = pair
    for _ in range(10):
        receiver = ExpectValueReceiver(None)
        start(sch.wait_readable(a.fileno()), receiver)
        b.send(b"x")
        io.run()
        assert receiver.completed
        a.recv(10)
    assert selector.calls == [("register", a.fileno(), IN)]
    assert io.statistics().registered_fds == 1


def test_unwanted_fd_registration_is_dropped_lazily(
    io: IoContext, pair: tuple[socket.socket, socket.socket]
) -> None:
    selector = counting_poller(io)
    sch = io.get_scheduler()
    a, b = pair
    receiver = ExpectValueReceiver(None)
    start(sch.wait_readable(a.fileno()), receiver)
    b.send(b"x")
    io.run()
    assert receiver.completed
    assert io.statistics().registered_fds == 1  # kept while nothing says otherwise
    io.poll()  # the still-unread byte is reported; nobody wants it: drop the registration
    assert selector.calls[-1] == ("unregister", a.fileno(), 0)
    assert io.statistics().registered_fds == 0
    # And it comes back when someone waits again.
    again = ExpectValueReceiver(None)
    start(sch.wait_readable(a.fileno()), again)
    io.run()
    assert again.completed


def test_reader_and_writer_share_one_registration(
    io: IoContext, pair: tuple[socket.socket, socket.socket]
) -> None:
    selector = counting_poller(io)
    sch = io.get_scheduler()
    a, b = pair
    reader = ExpectValueReceiver(None)
    writer = ExpectValueReceiver(None)
    start(sch.wait_readable(a.fileno()), reader)
    start(sch.wait_writable(a.fileno()), writer)
    assert selector.calls == [
        ("register", a.fileno(), IN),
        ("modify", a.fileno(), IN | OUT),
    ]
    io.poll()
    assert writer.completed
    assert pending(reader)
    b.send(b"x")
    io.run()
    assert reader.completed


def test_fd_number_reused_after_notify_closing_is_watched_afresh(io: IoContext) -> None:
    # Register, notify_closing, close, and reuse the number: the new file must be watched.
    sch = io.get_scheduler()
    a, b = socket.socketpair()
    fd = a.fileno()
    receiver = ExpectValueReceiver(None)
    start(sch.wait_writable(fd), receiver)
    io.run()
    sch.notify_closing(fd)
    a.close()
    b.close()
    c, d = socket.socketpair()
    try:
        again = ExpectValueReceiver(None)
        start(sch.wait_readable(c.fileno()), again)
        d.send(b"x")
        io.run()
        assert again.completed
    finally:
        c.close()
        d.close()


def test_add_reader_on_a_bad_fd_completes_with_an_error(io: IoContext) -> None:
    a, b = socket.socketpair()
    fd = a.fileno()
    a.close()
    b.close()
    receiver = ExpectErrorReceiver(OSError)
    start(io.get_scheduler().wait_readable(fd), receiver)
    io.run()
    assert receiver.completed
    assert io.statistics().readers == 0


def test_statistics_and_repr(io: IoContext) -> None:
    stats = io.statistics()
    assert stats.ready == 0
    assert "ready" in repr(io)
    io.stop()
    assert "stopped" in repr(io)


def test_an_fd_gone_bad_while_dropping_interest_wakes_its_waiter_and_the_loop_goes_on(
    io: IoContext, pair: tuple[socket.socket, socket.socket], caplog: pytest.LogCaptureFixture
) -> None:
    class FailingModify(CountingPoller):
        def modify(self, fd: int, events: int, /) -> None:
            if events == IN:  # the lazy drop of the write interest
                raise OSError(9, "Bad file descriptor")
            super().modify(fd, events)

    io._poller = FailingModify(io._poller)
    sch = io.get_scheduler()
    a, _ = pair
    reader = ExpectErrorReceiver(ex.ClosedResourceError)
    start(sch.wait_readable(a.fileno()), reader)
    writer = ExpectValueReceiver(None)
    start(sch.wait_writable(a.fileno()), writer)
    io.run()  # the writer completes; the next poll reports the unwanted write interest
    assert writer.completed
    assert reader.completed
    stats = io.statistics()
    assert (stats.readers, stats.registered_fds) == (0, 0)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# -- fd waiters called from the poll loop ----------------------------------------------------


@pytest.fixture
def two_pairs() -> Iterator[list[tuple[socket.socket, socket.socket]]]:
    pairs = [socket.socketpair(), socket.socketpair()]
    try:
        yield pairs
    finally:
        for a, b in pairs:
            a.close()
            b.close()


def test_run_one_calls_exactly_one_of_several_ready_fd_waiters(
    io: IoContext, two_pairs: list[tuple[socket.socket, socket.socket]]
) -> None:
    sch = io.get_scheduler()
    receivers = [RecordingReceiver[None]() for _ in two_pairs]
    for (a, b), receiver in zip(two_pairs, receivers, strict=True):
        start(sch.wait_readable(a.fileno()), receiver)
        b.send(b"x")
    assert io.run_one() == 1
    assert sum(r.completed for r in receivers) == 1
    assert io.run_one() == 1
    assert all(r.completed for r in receivers)


def test_ready_fd_waiters_run_in_the_turn_of_their_poll(
    io: IoContext, two_pairs: list[tuple[socket.socket, socket.socket]]
) -> None:
    sch = io.get_scheduler()
    receivers = [ExpectValueReceiver(None) for _ in two_pairs]
    for (a, b), receiver in zip(two_pairs, receivers, strict=True):
        start(sch.wait_readable(a.fileno()), receiver)
        b.send(b"x")
    assert io.poll() == 2
    assert all(r.completed for r in receivers)


def test_stop_from_an_fd_waiter_parks_the_other_ready_waiters_until_restart(
    io: IoContext, two_pairs: list[tuple[socket.socket, socket.socket]]
) -> None:
    sch = io.get_scheduler()
    order: list[int] = []

    def done(i: int) -> Callable[[object], None]:
        def on_ready(_: object) -> None:
            order.append(i)
            io.stop()

        return on_ready

    for i, (a, b) in enumerate(two_pairs):
        start(sch.wait_readable(a.fileno()) | ex.then(done(i)), ExpectValueReceiver(None))
        b.send(b"x")
    io.run()
    assert len(order) == 1  # the second waiter is parked, not run and not lost
    io.restart()
    io.run()
    assert sorted(order) == [0, 1]


def test_an_fd_waiter_that_raises_is_logged_and_the_other_waiters_still_run(
    io: IoContext,
    two_pairs: list[tuple[socket.socket, socket.socket]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Raising:
        def fd_ready(self) -> None:
            raise ValueError("waiter bug")

        def fd_closed(self, error: ex.ClosedResourceError, /) -> None:
            raise AssertionError("not closed")

    (a1, b1), (a2, b2) = two_pairs
    io.add_reader(a1.fileno(), Raising())
    receiver = ExpectValueReceiver(None)
    start(io.get_scheduler().wait_readable(a2.fileno()), receiver)
    b1.send(b"x")
    b2.send(b"x")
    with caplog.at_level(logging.ERROR, logger="dsexec"):
        io.poll()
    assert receiver.completed
    errors = [r for r in caplog.records if r.exc_info]
    assert len(errors) == 1
    assert errors[0].exc_info is not None
    assert isinstance(errors[0].exc_info[1], ValueError)


def test_an_event_for_an_fd_closed_and_reused_within_the_same_poll_is_not_delivered(
    io: IoContext, two_pairs: list[tuple[socket.socket, socket.socket]]
) -> None:
    # Both fds are ready in one poll. Whichever waiter runs first closes the other fd and puts a
    # fresh, silent socket on the same number, then waits on it: the other fd's event from that
    # poll belongs to the old file and must not wake the new waiter.
    sch = io.get_scheduler()
    fresh: list[socket.socket] = []
    late = RecordingReceiver[None]()

    def reuse_the_other(mine: int) -> Callable[[object], None]:
        def on_ready(_: object) -> None:
            other = two_pairs[1 - mine][0]
            fd = other.fileno()
            sch.notify_closing(fd)  # wakes the other waiter with ClosedResourceError
            new_a, new_b = socket.socketpair()
            fresh.extend((new_a, new_b))
            other.close()
            os.dup2(new_a.fileno(), fd)  # the very number the pending event names
            fresh.append(socket.socket(fileno=fd))
            start(sch.wait_readable(fd), late)

        return on_ready

    first = [RecordingReceiver[None](), RecordingReceiver[None]()]
    for i, (a, b) in enumerate(two_pairs):
        start(sch.wait_readable(a.fileno()) | ex.then(reuse_the_other(i)), first[i])
        b.send(b"x")
    try:
        io.poll()
        completions = sorted(str(r.completion) for r in first)
        assert completions == ["error", "value"]  # the closed one: ClosedResourceError
        [error] = [r.error for r in first if r.error is not None]
        assert isinstance(error, ex.ClosedResourceError)
        assert pending(late)  # nothing was sent on the new socket
        fresh[1].send(b"y")
        io.poll()
        assert late.completed
    finally:
        for sock in fresh:
            sock.close()


def test_a_running_context_publishes_itself_as_this_threads_loop(io: IoContext) -> None:
    seen: list[object] = []
    assert running_loop.reactor is None
    with IoContext() as inner:

        def nested() -> None:
            seen.append(running_loop.reactor)
            inner.post(lambda: seen.append(running_loop.reactor))
            inner.run()  # another loop inside this one, on the same thread
            seen.append(running_loop.reactor)

        io.post(nested)
        io.run()
    assert seen == [io, inner, io]
    assert running_loop.reactor is None
    other: list[object] = []
    thread = threading.Thread(target=lambda: other.append(running_loop.reactor))
    thread.start()
    thread.join()
    assert other == [None]  # per thread
