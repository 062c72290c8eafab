"""``on_signals``: completes with the first signal to arrive, on every loop, with the loop asleep
or busy; restores the previous handlers on every path and in any order; leaks no fd."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

import dsexec as ex
from dsexec.schedulers import IoScheduler
from dsexec.testing import ExpectStoppedReceiver, ExpectValueReceiver, SchedulerRunner

SIGUSR1 = signal.SIGUSR1
SIGUSR2 = signal.SIGUSR2
LONG = 10.0


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _stray(signum: int, _frame: object) -> None:
    """Catches a signal that arrives when no operation waits (the default would kill pytest)."""


@pytest.fixture(autouse=True)
def _handlers_restored() -> Iterator[None]:
    originals = {sig: signal.signal(sig, _stray) for sig in (SIGUSR1, SIGUSR2)}
    try:
        yield
        assert signal.getsignal(SIGUSR1) is _stray
        assert signal.getsignal(SIGUSR2) is _stray
    finally:
        for sig, handler in originals.items():
            signal.signal(sig, handler)


def kill_soon(signum: int) -> threading.Thread:
    """Send ``signum`` to this process from another thread once ``on_signals`` has installed
    its handler (bounded wait), while the loop most likely sleeps in its poll."""

    def send() -> None:
        deadline = time.monotonic() + 10
        while signal.getsignal(signum) is _stray and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(0.002)  # let the loop go back to sleep: the signal must wake it
        os.kill(os.getpid(), signum)

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def test_a_signal_wakes_a_sleeping_loop_on_every_backend(
    scheduler_runner: SchedulerRunner,
) -> None:
    timers: list[threading.Thread] = []

    def build(sch: IoScheduler) -> ex.Sender[int]:
        waiting = ex.on_signals(sch, SIGUSR1, SIGUSR2)
        timers.append(kill_soon(SIGUSR2))
        # Nothing else is ready: the loop sleeps in its poll until the signal wakes it. (Virtual
        # time would jump to a timeout's timer at once; real clocks get one, against a hang.)
        return waiting if scheduler_runner.virtual_time else waiting | ex.timeout(LONG)

    try:
        assert scheduler_runner.run(build) == SIGUSR2
    finally:
        for timer in timers:
            timer.join()


def test_a_signal_raised_by_the_loop_thread_itself_completes_it() -> None:
    with ex.IoContext() as ctx:
        sch = ctx.get_scheduler()
        raise_it = sch.schedule() | ex.then(lambda _: signal.raise_signal(SIGUSR1))
        both = ex.when_all(ex.on_signals(sch, SIGUSR1), raise_it)
        assert ex.sync_wait(both, context=ctx) == (SIGUSR1, None)


def test_a_signal_not_asked_for_does_not_complete_it(vts: ex.VirtualTimeScheduler) -> None:
    received: list[int] = []
    previous = signal.signal(SIGUSR2, lambda signum, _frame: received.append(signum))
    try:
        raise_other = vts.schedule() | ex.then(lambda _: signal.raise_signal(SIGUSR2))
        waiting = ex.on_signals(vts, SIGUSR1) | ex.stop_when(vts.schedule_after(5))
        result = ex.when_all(waiting | ex.stopped_as_optional(), raise_other)
        assert ex.sync_wait(result, context=vts) == (None, None)
        assert received == [SIGUSR2]  # the other handler was left alone
    finally:
        signal.signal(SIGUSR2, previous)


def test_handlers_are_installed_while_waiting_and_restored_on_completion() -> None:
    with ex.IoContext() as ctx:
        sch = ctx.get_scheduler()
        seen: list[object] = []

        def look_and_raise(_: None) -> None:
            seen.append(signal.getsignal(SIGUSR1))
            signal.raise_signal(SIGUSR1)

        both = ex.when_all(ex.on_signals(sch, SIGUSR1), sch.schedule() | ex.then(look_and_raise))
        ex.sync_wait(both, context=ctx)
        assert seen[0] is not _stray
        assert signal.getsignal(SIGUSR1) is _stray


def test_stop_completes_it_at_once_restores_handlers_and_closes_its_fds(
    vts: ex.VirtualTimeScheduler,
) -> None:
    before = open_fds()
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(ex.on_signals(vts, SIGUSR1, SIGUSR2), receiver).start()
    vts.poll()
    assert signal.getsignal(SIGUSR1) is not _stray
    assert open_fds() == before + 2
    source.request_stop()
    assert receiver.completed
    assert open_fds() == before
    assert vts.statistics().readers == 0


def test_every_waiter_sees_the_signal_and_handlers_come_back_in_any_order(
    vts: ex.VirtualTimeScheduler,
) -> None:
    first_source = ex.StopSource()
    first = ExpectStoppedReceiver(stop_token=first_source.token)
    second = ExpectValueReceiver(SIGUSR1)
    ex.connect(ex.on_signals(vts, SIGUSR1), first).start()
    ex.connect(ex.on_signals(vts, SIGUSR2, SIGUSR1), second).start()
    vts.poll()
    first_source.request_stop()  # the first to install leaves first: not LIFO
    assert signal.getsignal(SIGUSR1) is not _stray  # the second still waits for it
    raise_it = vts.schedule() | ex.then(lambda _: signal.raise_signal(SIGUSR1))
    third = ex.when_all(ex.on_signals(vts, SIGUSR1), raise_it)
    assert ex.sync_wait(third, context=vts) == (SIGUSR1, None)
    assert second.completed  # it saw the same signal
    assert signal.getsignal(SIGUSR1) is _stray
    assert signal.getsignal(SIGUSR2) is _stray


def test_off_the_main_thread_it_completes_with_runtime_error() -> None:
    outcome: list[BaseException] = []

    def run() -> None:
        with ex.IoContext() as ctx:
            try:
                ex.sync_wait(ex.on_signals(ctx.get_scheduler(), SIGUSR1), context=ctx)
            except RuntimeError as exc:
                outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(10)
    assert len(outcome) == 1
    assert "main thread" in str(outcome[0])


@pytest.mark.parametrize(
    ("signums", "error", "message"),
    [
        ((), ValueError, "at least one signal"),
        (("SIGINT",), TypeError, "expected signal numbers"),
        ((True,), TypeError, "expected signal numbers"),
        ((0,), ValueError, "not a signal number"),
        ((signal.SIGKILL,), ValueError, "SIGKILL cannot be caught"),
        ((signal.SIGSTOP,), ValueError, "SIGSTOP cannot be caught"),
    ],
)
def test_bad_signals_are_refused_when_built(
    vts: ex.VirtualTimeScheduler, signums: tuple[object, ...], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        ex.on_signals(vts, *signums)  # type: ignore[arg-type]


def test_a_scheduler_without_a_reactor_is_refused() -> None:
    with pytest.raises(TypeError, match="on_signals: needs a scheduler with an I/O reactor"):
        ex.on_signals(ex.InlineScheduler(), SIGUSR1)  # type: ignore[arg-type]


def test_the_sender_reads_as_the_call_that_built_it(vts: ex.VirtualTimeScheduler) -> None:
    assert repr(ex.on_signals(vts, signal.SIGINT, signal.SIGTERM, signal.SIGINT)) == (
        "on_signals(SIGINT, SIGTERM)"
    )
