"""AnyioScheduler: the generic reactor senders on asyncio, trio and uvloop."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

import dsexec as ex
from dsexec import AnyioScheduler, as_awaitable
from dsexec.schedulers._anyio._scheduler import current_anyio_reactor
from dsexec.testing import RecordingReceiver

pytestmark = pytest.mark.anyio

_UVLOOP = pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop")

# uvloop's loop.time() (libuv's uv_now) ticks in whole milliseconds.
CLOCK_TICK = 0.0011


class SignalReceiver(RecordingReceiver[Any]):
    """A recording receiver the test can wait on (completions arrive on the loop thread)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.event = anyio.Event()

    def set_value(self, value: Any, /) -> None:
        super().set_value(value)
        self.event.set()

    def set_error(self, error: BaseException, /) -> None:
        super().set_error(error)
        self.event.set()

    def set_stopped(self) -> None:
        super().set_stopped()
        self.event.set()

    async def wait(self) -> None:
        with anyio.fail_after(5):
            await self.event.wait()


@pytest.fixture
def sockets() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    with a, b:
        yield a, b


def fill_send_buffer(sock: socket.socket) -> None:
    """Write to non-blocking ``sock`` until its send buffer is full."""
    with contextlib.suppress(BlockingIOError):
        while True:
            sock.send(b"\0" * 65536)


def start(sender: ex.Sender[Any], receiver: RecordingReceiver[Any]) -> ex.OperationState:
    op = ex.connect(sender, receiver)
    op.start()
    return op


# -- construction ---------------------------------------------------------------------------


def test_anyio_scheduler_outside_a_loop_raises_runtime_error() -> None:
    with pytest.raises(RuntimeError, match="needs a running asyncio, uvloop or trio event loop"):
        AnyioScheduler()


async def test_anyio_schedulers_of_one_loop_are_equal_and_share_a_reactor() -> None:
    first, second = AnyioScheduler(), AnyioScheduler()
    assert first == second
    assert hash(first) == hash(second)
    assert first.backend in {"asyncio", "trio"}
    assert first.backend in repr(first)
    with ex.IoContext() as context:
        assert context.get_scheduler() != first


async def test_anyio_scheduler_backend_matches_the_running_library(anyio_backend: Any) -> None:
    name = anyio_backend if isinstance(anyio_backend, str) else anyio_backend[0]
    assert AnyioScheduler().backend == name


# -- post ------------------------------------------------------------------------------------


async def test_post_runs_callbacks_in_fifo_order_including_those_they_post() -> None:
    reactor = current_anyio_reactor()
    order: list[int] = []
    done = anyio.Event()

    def first() -> None:
        order.append(-1)
        reactor.post(functools.partial(order.append, 1000))  # behind all queued so far

    reactor.post(first)
    for i in range(600):  # more than one batch of the trio ready queue
        reactor.post(functools.partial(order.append, i))
    reactor.post(done.set)
    with anyio.fail_after(1):
        await done.wait()
    assert order == [-1, *range(600), 1000]


async def test_post_from_another_thread_runs_on_the_loop_thread() -> None:
    reactor = current_anyio_reactor()
    ran_on: list[int] = []
    done = anyio.Event()

    def callback() -> None:
        ran_on.append(threading.get_ident())
        done.set()

    thread = threading.Thread(target=reactor.post, args=(callback,))
    thread.start()
    thread.join()
    with anyio.fail_after(1):
        await done.wait()
    assert ran_on == [threading.get_ident()]


# -- schedule ---------------------------------------------------------------------------------


async def test_schedule_completes_on_the_loop_thread_after_queued_work() -> None:
    sch = AnyioScheduler()
    loop_thread = threading.get_ident()
    first, second = SignalReceiver(), SignalReceiver()
    start(sch.schedule(), first)
    start(sch.schedule(), second)
    completed_inline = first.completed
    await second.wait()
    assert not completed_inline
    assert first.completed
    assert first.completion == second.completion == "value"
    assert first.completing_thread == second.completing_thread == loop_thread


async def test_schedule_started_from_another_thread_completes_on_the_loop_thread() -> None:
    sch = AnyioScheduler()
    receiver = SignalReceiver()
    op = ex.connect(sch.schedule(), receiver)
    thread = threading.Thread(target=op.start)
    thread.start()
    thread.join()
    await receiver.wait()
    assert receiver.completion == "value"
    assert receiver.completing_thread == threading.get_ident()


async def test_schedule_completes_stopped_when_stop_was_requested_before_it_ran() -> None:
    source = ex.StopSource()
    receiver = SignalReceiver(stop_token=source.token)
    start(AnyioScheduler().schedule(), receiver)
    source.request_stop()
    await receiver.wait()
    assert receiver.completion == "stopped"


# -- timers -----------------------------------------------------------------------------------


async def test_schedule_after_completes_in_deadline_order() -> None:
    sch = AnyioScheduler()
    order: list[float] = []
    receivers = [RecordingReceiver[Any]() for _ in range(3)]

    def record(delay: float) -> ex.Sender[None]:
        return sch.schedule_after(delay) | ex.then(lambda _: order.append(delay))

    # Each delay counts from its own start: 10 ms apart, a stall of the machine between two
    # starts would have to last 10 ms to swap them (1 ms apart, that happened under load).
    for delay, receiver in zip((0.03, 0.01, 0.02), receivers, strict=True):
        start(record(delay), receiver)
    await sch.schedule_after(0.04)
    assert order == [0.01, 0.02, 0.03]


async def test_schedule_after_waits_at_least_the_delay_on_the_loop_clock() -> None:
    sch = AnyioScheduler()
    before = sch.now()
    await sch.schedule_after(0.003)
    assert sch.now() - before >= 0.003 - CLOCK_TICK


async def test_schedule_at_completes_once_the_clock_reaches_the_deadline() -> None:
    sch = AnyioScheduler()
    deadline = sch.now() + 0.002
    await sch.schedule_at(deadline)
    assert sch.now() >= deadline - CLOCK_TICK


def test_trio_timers_follow_the_runs_clock() -> None:
    from trio.testing import MockClock

    async def main() -> float:
        sch = AnyioScheduler()
        start = sch.now()
        await sch.schedule_after(3600)
        return sch.now() - start

    elapsed = anyio.run(
        main, backend="trio", backend_options={"clock": MockClock(autojump_threshold=0)}
    )
    assert elapsed == pytest.approx(3600)


async def test_schedule_at_a_past_deadline_completes_soon() -> None:
    sch = AnyioScheduler()
    with anyio.fail_after(1):
        await sch.schedule_at(sch.now() - 10)


async def test_stop_withdraws_a_timer_promptly() -> None:
    sch = AnyioScheduler()
    source = ex.StopSource()
    receiver = SignalReceiver(stop_token=source.token)
    with anyio.fail_after(1):
        async with sch:  # the exit would wait an hour for a timer left armed
            start(sch.schedule_after(3600), receiver)
            source.request_stop()
            assert receiver.completion == "stopped"  # inline, on the loop thread


async def test_stop_from_another_thread_withdraws_a_timer_promptly() -> None:
    sch = AnyioScheduler()
    source = ex.StopSource()
    receiver = SignalReceiver(stop_token=source.token)
    with anyio.fail_after(1):
        async with sch:
            start(sch.schedule_after(3600), receiver)
            thread = threading.Thread(target=source.request_stop)
            thread.start()
            await receiver.wait()
            thread.join()
    assert receiver.completion == "stopped"


async def test_many_cancelled_timers_do_not_fire() -> None:
    sch = AnyioScheduler()
    source = ex.StopSource()
    receivers = [SignalReceiver(stop_token=source.token) for _ in range(200)]
    for receiver in receivers:
        start(sch.schedule_after(0.001), receiver)
    source.request_stop()
    await sch.schedule_after(0.002)
    assert {receiver.completion for receiver in receivers} == {"stopped"}


# -- fd readiness -----------------------------------------------------------------------------


async def test_wait_readable_completes_when_data_arrives(
    sockets: tuple[socket.socket, socket.socket],
) -> None:
    a, b = sockets
    sch = AnyioScheduler()
    receiver = SignalReceiver()
    start(sch.wait_readable(a.fileno()), receiver)
    await sch.schedule_after(0.002)
    assert not receiver.completed
    b.send(b"x")
    await receiver.wait()
    assert receiver.completion == "value"
    assert a.recv(1) == b"x"


async def test_wait_readable_again_after_reading(
    sockets: tuple[socket.socket, socket.socket],
) -> None:
    a, b = sockets
    sch = AnyioScheduler()
    for payload in (b"one", b"two", b"three"):
        b.send(payload)
        with anyio.fail_after(1):
            await sch.wait_readable(a.fileno())
        assert a.recv(10) == payload
    assert current_anyio_reactor().waiter_counts()[0] == 0


async def test_wait_writable_completes_on_a_writable_socket(
    sockets: tuple[socket.socket, socket.socket],
) -> None:
    a, _ = sockets
    with anyio.fail_after(1):
        await AnyioScheduler().wait_writable(a.fileno())


@pytest.mark.parametrize("writable", [False, True], ids=["read", "write"])
async def test_second_waiter_on_one_direction_gets_busy_resource_error(
    sockets: tuple[socket.socket, socket.socket], writable: bool
) -> None:
    a, _ = sockets
    if writable:
        fill_send_buffer(a)  # so the first writer keeps waiting
    first_sch, second_sch = AnyioScheduler(), AnyioScheduler()
    source = ex.StopSource()
    first = SignalReceiver(stop_token=source.token)

    def wait(sch: AnyioScheduler) -> ex.Sender[None]:
        return sch.wait_writable(a.fileno()) if writable else sch.wait_readable(a.fileno())

    start(wait(first_sch), first)
    with pytest.raises(ex.BusyResourceError, match=f"fd {a.fileno()}"):
        await wait(second_sch)  # another scheduler of the same loop shares the table
    source.request_stop()
    assert first.completion == "stopped"


async def test_stop_withdraws_an_fd_wait_so_the_fd_can_be_waited_on_again(
    sockets: tuple[socket.socket, socket.socket],
) -> None:
    a, b = sockets
    sch = AnyioScheduler()
    source = ex.StopSource()
    receiver = SignalReceiver(stop_token=source.token)
    start(sch.wait_readable(a.fileno()), receiver)
    thread = threading.Thread(target=source.request_stop)
    thread.start()
    await receiver.wait()
    thread.join()
    assert receiver.completion == "stopped"
    assert current_anyio_reactor().waiter_counts()[0] == 0
    b.send(b"x")
    with anyio.fail_after(1):
        await sch.wait_readable(a.fileno())


async def test_notify_closing_wakes_waiters_with_closed_resource_error(
    sockets: tuple[socket.socket, socket.socket],
) -> None:
    a, _ = sockets
    fill_send_buffer(a)  # so the writer keeps waiting
    sch = AnyioScheduler()
    reader, writer = SignalReceiver(), SignalReceiver()
    start(sch.wait_readable(a.fileno()), reader)
    start(sch.wait_writable(a.fileno()), writer)
    sch.notify_closing(a.fileno())
    await reader.wait()
    await writer.wait()
    for receiver in (reader, writer):
        assert isinstance(receiver.error, ex.ClosedResourceError)
        assert f"fd {a.fileno()}" in str(receiver.error)
    assert current_anyio_reactor().waiter_counts() == (0, 0)


async def test_notify_closing_lets_a_new_waiter_use_the_fd_number(
    sockets: tuple[socket.socket, socket.socket],
) -> None:
    a, b = sockets
    sch = AnyioScheduler()
    closed = SignalReceiver()
    start(sch.wait_readable(a.fileno()), closed)
    sch.notify_closing(a.fileno())
    b.send(b"x")
    with anyio.fail_after(1):
        await sch.wait_readable(a.fileno())  # no BusyResourceError: the old waiter is gone
    await closed.wait()
    assert isinstance(closed.error, ex.ClosedResourceError)


async def test_wait_readable_on_a_bad_fd_completes_with_an_error() -> None:
    spare = socket.socket()
    fd = spare.fileno()
    spare.close()
    # asyncio reports the OSError itself; trio's wait fails asynchronously, as "closed".
    with anyio.fail_after(1), pytest.raises((OSError, ex.ClosedResourceError)):
        await AnyioScheduler().wait_readable(fd)


# -- async with: a scope for detached work ------------------------------------------------------


async def test_async_with_waits_for_work_started_through_the_scheduler() -> None:
    receivers = [SignalReceiver() for _ in range(3)]
    with anyio.fail_after(1):
        async with AnyioScheduler() as sch:
            start(sch.schedule_after(0.002), receivers[0])
            start(sch.schedule(), receivers[1])
            thread = threading.Thread(target=ex.connect(sch.schedule(), receivers[2]).start)
            thread.start()  # a post from another thread counts too
            thread.join()
            assert not any(r.completed for r in receivers)
    assert all(r.completion == "value" for r in receivers)


async def test_async_with_waits_for_an_fd_wait(
    sockets: tuple[socket.socket, socket.socket],
) -> None:
    a, b = sockets
    receiver = SignalReceiver()
    with anyio.fail_after(1):
        async with AnyioScheduler() as sch:
            start(sch.wait_readable(a.fileno()), receiver)
            start(
                sch.schedule_after(0.001) | ex.then(lambda _: b.send(b"x")),
                RecordingReceiver[Any](),
            )
    assert receiver.completion == "value"


async def test_async_with_counts_notify_closing_as_completion(
    sockets: tuple[socket.socket, socket.socket],
) -> None:
    a, _ = sockets
    receiver = SignalReceiver()
    with anyio.fail_after(1):
        async with AnyioScheduler() as sch:
            start(sch.wait_readable(a.fileno()), receiver)
            sch.notify_closing(a.fileno())
    assert isinstance(receiver.error, ex.ClosedResourceError)


async def test_async_with_does_not_wait_when_the_block_raises() -> None:
    source = ex.StopSource()
    receiver = SignalReceiver(stop_token=source.token)

    async def body() -> None:
        async with AnyioScheduler() as sch:
            start(sch.schedule_after(3600), receiver)
            raise ZeroDivisionError

    with anyio.fail_after(1), pytest.raises(ZeroDivisionError):
        await body()
    assert not receiver.completed
    source.request_stop()
    assert receiver.completion == "stopped"


async def test_async_with_cannot_be_entered_twice() -> None:
    async with AnyioScheduler() as sch:
        with pytest.raises(RuntimeError, match="already in an `async with` block"):
            await sch.__aenter__()
    async with sch:  # but again after leaving
        await sch.schedule()


async def test_scheduler_in_async_with_equals_a_plain_one() -> None:
    async with AnyioScheduler() as sch:
        assert sch == AnyioScheduler()


# -- robustness -------------------------------------------------------------------------------


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_trio_reactor_logs_a_raising_callback_and_carries_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reactor = current_anyio_reactor()

    def boom() -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="dsexec"):
        reactor.post(boom)
        reactor.call_at(reactor.time(), boom)
        await as_awaitable(AnyioScheduler().schedule_after(0.001))
    errors = [r.exc_info[1] for r in caplog.records if r.exc_info]
    assert [str(error) for error in errors] == ["boom", "boom"]


class Rearming:
    """An fd waiter that reads one byte and waits again from inside ``fd_ready``."""

    def __init__(self, sock: socket.socket, times: int) -> None:
        self.sock = sock
        self.left = times
        self.reactor = current_anyio_reactor()
        self.done = anyio.Event()

    def fd_ready(self) -> None:
        self.sock.recv(1)
        self.left -= 1
        if self.left:
            self.reactor.add_reader(self.sock.fileno(), self)
        else:
            self.done.set()

    def fd_closed(self, error: ex.ClosedResourceError, /) -> None:
        raise AssertionError(error)  # pragma: no cover


@pytest.mark.parametrize("anyio_backend", ["asyncio", _UVLOOP])
async def test_asyncio_reactor_keeps_the_loop_reader_for_a_waiter_that_waits_again(
    sockets: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = sockets
    loop = asyncio.get_running_loop()
    added: list[int] = []
    add_reader = loop.add_reader

    def counting_add_reader(fd: Any, callback: Any, *args: Any) -> None:
        added.append(fd)
        add_reader(fd, callback, *args)

    monkeypatch.setattr(loop, "add_reader", counting_add_reader)
    waiter = Rearming(a, times=3)
    waiter.reactor.add_reader(a.fileno(), waiter)
    b.send(b"xyz")
    with anyio.fail_after(1):
        await waiter.done.wait()
    assert added == [a.fileno()]  # installed once for three waits
    assert a.fileno() not in waiter.reactor._reading  # type: ignore[attr-defined]


async def test_an_fd_closed_without_notify_closing_can_be_recycled() -> None:
    sch = AnyioScheduler()
    a, b = socket.socketpair()
    with a, b:
        b.send(b"x")
        with anyio.fail_after(1):
            await sch.wait_readable(a.fileno())
        fd = a.fileno()
    c, d = socket.socketpair()
    with c, d:
        duplicated = c.fileno() != fd
        if duplicated:
            os.dup2(c.fileno(), fd)  # the old number, now another socket
        try:
            d.send(b"y")
            with anyio.fail_after(1):
                await sch.wait_readable(fd)
        finally:
            sch.notify_closing(fd)
            if duplicated:
                os.close(fd)
