"""async_read: bytes, EOF, pooled buffers, stop, close, busy, errors."""

from __future__ import annotations

import contextlib
import errno
import gc
import socket
import struct
import threading
import weakref
from collections.abc import Callable
from typing import Any

import pytest
from tests._helpers.fusion import LET_VALUE_FAILURES

import dsexec as ex
from dsexec import timeout
from dsexec.net import Socket, async_read, async_write
from dsexec.perf import MemoryPool
from dsexec.testing import (
    ExpectErrorReceiver,
    ExpectStoppedReceiver,
    ExpectValueReceiver,
    FaultySocketFactory,
    RecordingReceiver,
)

Pair = tuple[Socket, Socket]


def start(sender: ex.Sender[Any], receiver: RecordingReceiver[Any]) -> ex.OperationState:
    op = ex.connect(sender, receiver)
    op.start()
    return op


def test_read_delivers_the_bytes_available(ctx: ex.IoContext, tcp_pair: Pair) -> None:
    server, client = tcp_pair
    receiver = ExpectValueReceiver(b"hello")
    start(async_read(ctx.get_scheduler(), server, 1024), receiver)
    assert receiver.completion is None  # waits for readability first
    client.socket.sendall(b"hello")
    ctx.run()
    assert receiver.completed


def test_read_at_eof_delivers_empty_bytes(ctx: ex.IoContext, tcp_pair: Pair) -> None:
    server, client = tcp_pair
    client.shutdown_write()
    assert ex.sync_wait(async_read(ctx.get_scheduler(), server, 1024), context=ctx) == b""


def test_read_after_a_full_buffer_tries_recv_at_once(ctx: ex.IoContext, tcp_pair: Pair) -> None:
    server, client = tcp_pair
    client.socket.sendall(b"abcdefgh")
    sch = ctx.get_scheduler()
    assert ex.sync_wait(async_read(sch, server, 4), context=ctx) == b"abcd"
    receiver = ExpectValueReceiver(b"efgh")
    start(async_read(sch, server, 4), receiver)
    assert receiver.completed  # inline: more was queued
    # an EAGAIN on the speculative recv falls back to waiting
    pending = ExpectValueReceiver(b"i")
    start(async_read(sch, server, 4), pending)
    assert pending.completion is None
    client.socket.sendall(b"i")
    ctx.run()
    assert pending.completed


def test_pooled_read_delivers_a_view_of_a_pooled_block(ctx: ex.IoContext, tcp_pair: Pair) -> None:
    server, client = tcp_pair
    pool = MemoryPool(8, 2)
    client.socket.sendall(b"0123456789")
    sch = ctx.get_scheduler()
    view = ex.sync_wait(async_read(sch, server, 100, pool=pool), context=ctx)
    assert isinstance(view, memoryview)
    assert bytes(view) == b"01234567"  # capped at the block size
    assert pool.in_use == 1
    pool.release(view)
    assert pool.in_use == 0
    rest = ex.sync_wait(async_read(sch, server, 100, pool=pool), context=ctx)
    assert bytes(rest) == b"89"
    assert rest.obj is view.obj  # the same block, reused
    pool.release(rest)


def test_pooled_read_at_eof_still_hands_over_the_block(ctx: ex.IoContext, tcp_pair: Pair) -> None:
    server, client = tcp_pair
    pool = MemoryPool(8, 1)
    client.shutdown_write()
    view = ex.sync_wait(async_read(ctx.get_scheduler(), server, 8, pool=pool), context=ctx)
    assert len(view) == 0
    assert pool.in_use == 1
    pool.release(view)
    assert pool.available == 1


def test_pooled_read_holds_no_block_while_waiting_and_none_after_stop(
    ctx: ex.IoContext, tcp_pair: Pair
) -> None:
    server, _client = tcp_pair
    pool = MemoryPool(8, 1)
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    start(async_read(ctx.get_scheduler(), server, 8, pool=pool), receiver)
    assert pool.in_use == 0
    source.request_stop()
    assert receiver.completed
    assert pool.in_use == 0


def test_pooled_read_releases_the_block_on_error(
    ctx: ex.IoContext, faulty_pair: Pair, faults: FaultySocketFactory
) -> None:
    server, client = faulty_pair
    pool = MemoryPool(8, 1)
    client.socket.sendall(b"x")
    faults.fail("recv", errno.ECONNRESET)
    with pytest.raises(ex.NetError):
        ex.sync_wait(async_read(ctx.get_scheduler(), server, 8, pool=pool), context=ctx)
    assert pool.in_use == 0


def test_read_stopped_while_waiting_completes_at_once(
    ctx: ex.IoContext, tcp_pair: Pair, open_fds: Callable[[], int]
) -> None:
    server, client = tcp_pair
    before = open_fds()
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    start(async_read(ctx.get_scheduler(), server, 10), receiver)
    source.request_stop()
    assert receiver.completed
    assert ctx.statistics().readers == 0
    assert open_fds() == before
    # no byte was consumed
    client.socket.sendall(b"kept")
    assert ex.sync_wait(async_read(ctx.get_scheduler(), server, 10), context=ctx) == b"kept"


def test_read_with_timeout_in_virtual_time(vts: ex.VirtualTimeScheduler, tcp_pair: Pair) -> None:
    server, _client = tcp_pair
    with pytest.raises(TimeoutError):
        ex.sync_wait(async_read(vts, server, 10) | timeout(60.0), context=vts)
    assert vts.now() == 60.0
    assert vts.statistics().readers == 0


def test_closing_the_socket_wakes_a_pending_read(
    ctx: ex.IoContext, tcp_pair: Pair, open_fds: Callable[[], int]
) -> None:
    server, _client = tcp_pair
    before = open_fds()
    receiver = ExpectErrorReceiver(ex.ClosedResourceError)
    start(async_read(ctx.get_scheduler(), server, 10), receiver)
    server.close()
    ctx.run()
    assert receiver.completed
    assert open_fds() == before - 1


def test_closing_the_socket_from_another_thread_wakes_a_pending_read(
    ctx: ex.IoContext, tcp_pair: Pair
) -> None:
    server, _client = tcp_pair
    receiver = ExpectErrorReceiver(ex.ClosedResourceError)
    start(async_read(ctx.get_scheduler(), server, 10), receiver)
    closer = threading.Thread(target=server.close)
    ctx.post(closer.start)  # once the loop runs: a foreign thread, really
    ctx.run()
    closer.join()
    assert receiver.completed
    assert server.closed


def test_read_on_a_closed_socket_fails_with_closed_resource_error(
    ctx: ex.IoContext, tcp_pair: Pair
) -> None:
    server, _client = tcp_pair
    server.close()
    receiver = ExpectErrorReceiver(ex.ClosedResourceError)
    start(async_read(ctx.get_scheduler(), server, 10), receiver)
    assert receiver.completed


def test_second_concurrent_read_fails_with_busy_resource_error(
    ctx: ex.IoContext, tcp_pair: Pair
) -> None:
    server, client = tcp_pair
    first = ExpectValueReceiver(b"data")
    start(async_read(ctx.get_scheduler(), server, 10), first)
    second = ExpectErrorReceiver(ex.BusyResourceError)
    start(async_read(ctx.get_scheduler(), server, 10), second)
    assert second.completed
    client.socket.sendall(b"data")
    ctx.run()
    assert first.completed


def test_connection_reset_is_a_net_error(ctx: ex.IoContext, tcp_pair: Pair) -> None:
    server, client = tcp_pair
    client.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()  # RST
    with pytest.raises(ex.NetError, match="recv on fd") as info:
        ex.sync_wait(async_read(ctx.get_scheduler(), server, 10), context=ctx)
    assert info.value.errno == errno.ECONNRESET
    assert isinstance(info.value.__cause__, ConnectionResetError)


def test_injected_recv_errors_are_net_errors(
    ctx: ex.IoContext, faulty_pair: Pair, faults: FaultySocketFactory
) -> None:
    server, client = faulty_pair
    client.socket.sendall(b"x")
    faults.fail("recv", errno.ECONNRESET)
    with pytest.raises(ex.NetError) as info:
        ex.sync_wait(async_read(ctx.get_scheduler(), server, 10), context=ctx)
    assert info.value.errno == errno.ECONNRESET
    assert ex.sync_wait(async_read(ctx.get_scheduler(), server, 10), context=ctx) == b"x"


def test_async_read_rejects_bad_arguments(ctx: ex.IoContext, tcp_pair: Pair) -> None:
    server, _client = tcp_pair
    sch = ctx.get_scheduler()
    with pytest.raises(TypeError, match="async_read: needs a scheduler"):
        async_read(object(), server, 10)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=r"async_read: expected a dsexec\.net\.Socket"):
        async_read(sch, server.socket, 10)  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="async_read: max_bytes must be >= 1"):
        async_read(sch, server, 0)


def test_read_stopped_after_its_wake_up_was_queued_consumes_nothing(
    ctx: ex.IoContext, tcp_pair: Pair
) -> None:
    server, client = tcp_pair
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    start(async_read(ctx.get_scheduler(), server, 10), receiver)
    client.socket.sendall(b"keep me")
    # run_one queues the fd wake-ups of a poll behind the work posted before it: the stop
    # comes first, then the (now stale) wake-up
    ctx.post(source.request_stop)
    while ctx.run_one():
        pass
    assert receiver.completed
    assert server.socket.recv(10) == b"keep me"  # non-blocking: still there, not consumed


# -- async_read | let_value(f): one set of operation states, restarted by repeat ----------------


ReadFactory = Callable[[ex.IoScheduler, Socket, int], ex.Sender[bytes]]


class _Plain(ex.Sender[bytes]):
    """``inner`` as it is, minus its ``fuse``: ``| let_value(f)`` then connects the plain pair
    (``let_value``'s own operation over the read's), which the fused operation must match."""

    def __init__(self, inner: ex.Sender[bytes]) -> None:
        self.inner = inner
        self.restartable = inner.restartable  # type: ignore[misc]

    def connect(self, receiver: ex.Receiver[bytes], /) -> ex.OperationState:
        return self.inner.connect(receiver)


@pytest.fixture(params=["fused", "plain"])
def read(request: pytest.FixtureRequest) -> ReadFactory:
    """``async_read`` as it is (``| let_value(f)`` fuses into one operation state), or hidden
    behind ``_Plain`` (it does not): every scenario below runs both."""
    if request.param == "fused":
        return async_read

    def plain(sch: ex.IoScheduler, sock: Socket, max_bytes: int) -> ex.Sender[bytes]:
        return _Plain(async_read(sch, sock, max_bytes))

    return plain


def _echo_rounds(
    read: ReadFactory,
    sch: ex.IoScheduler,
    server: Socket,
    answer: Callable[[bytes], ex.Sender[int]],
) -> ex.Sender[int]:
    return read(sch, server, 64) | ex.let_value(answer) | ex.repeat_until(lambda n: n < 0)


def test_async_read_fuses_with_let_value_into_its_own_operation_state(
    ctx: ex.IoContext, tcp_pair: Pair
) -> None:
    server, _client = tcp_pair
    sch = ctx.get_scheduler()
    receiver = RecordingReceiver[Any]()
    fused = ex.connect(async_read(sch, server, 64) | ex.let_value(ex.just), receiver)
    assert type(fused).__name__ == "_ReadOp"
    pooled = async_read(sch, server, 64, pool=MemoryPool(64, 1))
    assert type(ex.connect(pooled | ex.let_value(ex.just), receiver)).__name__ == "_PooledReadOp"
    plain = ex.connect(_Plain(async_read(sch, server, 64)) | ex.let_value(ex.just), receiver)
    assert type(plain).__name__ == "_LetValueOp"
    assert receiver.completion is None  # connected, never started


class _CountingConnects(ex.Sender[int]):
    """``inner`` as it is, counting its ``connect`` calls (a wrapper, not a patch of the read's
    class: in the compiled build a native class's methods cannot be patched)."""

    restartable = True

    def __init__(self, inner: ex.Sender[int]) -> None:
        assert inner.restartable
        self.inner = inner
        self.connects = 0

    def connect(self, receiver: ex.Receiver[int], /) -> ex.OperationState:
        self.connects += 1
        return self.inner.connect(receiver)


def test_a_read_answer_loop_serves_many_requests_with_one_operation_state(
    ctx: ex.IoContext, tcp_pair: Pair, read: ReadFactory
) -> None:
    server, client = tcp_pair
    sch = ctx.get_scheduler()
    seen: list[bytes] = []

    def answer(data: bytes) -> ex.Sender[int]:
        seen.append(data)
        return async_write(sch, server, data.upper()) if data else ex.just(-1)

    round_sender = _CountingConnects(read(sch, server, 64) | ex.let_value(answer))
    receiver = ExpectValueReceiver(-1)
    start(round_sender | ex.repeat_until(lambda n: n < 0), receiver)
    for count, word in enumerate((b"one", b"two", b"three"), start=1):
        client.socket.sendall(word)
        while len(seen) < count:
            ctx.run_one()
        assert client.socket.recv(64) == word.upper()  # written inline, so already here
    client.shutdown_write()
    ctx.run()
    assert receiver.completed
    assert seen == [b"one", b"two", b"three", b""]
    assert round_sender.connects == 1  # one operation state, restarted for every request


@LET_VALUE_FAILURES
def test_read_and_let_value_report_errors_of_the_function_and_the_second_sender(
    ctx: ex.IoContext,
    tcp_pair: Pair,
    read: ReadFactory,
    *,
    fn: Any,
    error: type[Exception],
    match: str | None,
) -> None:
    server, client = tcp_pair
    client.socket.sendall(b"x")
    receiver = ExpectErrorReceiver(error, match=match)
    start(read(ctx.get_scheduler(), server, 64) | ex.let_value(fn), receiver)
    ctx.run()
    assert receiver.completed


def test_read_errors_pass_let_value_without_calling_fn(
    ctx: ex.IoContext, tcp_pair: Pair, read: ReadFactory
) -> None:
    server, _client = tcp_pair
    calls: list[bytes] = []

    def answer(data: bytes) -> ex.Sender[bytes]:
        calls.append(data)
        return ex.just(data)

    receiver = ExpectErrorReceiver(ex.ClosedResourceError)
    start(read(ctx.get_scheduler(), server, 64) | ex.let_value(answer), receiver)
    server.close()
    ctx.run()
    assert receiver.completed
    assert calls == []


def test_stop_reaches_the_read_and_then_the_second_operation(
    ctx: ex.IoContext, tcp_pair: Pair, read: ReadFactory
) -> None:
    server, client = tcp_pair
    sch = ctx.get_scheduler()
    waiting = ex.StopSource()  # stopped while the read waits
    receiver = ExpectStoppedReceiver(stop_token=waiting.token)
    start(read(sch, server, 64) | ex.let_value(ex.just), receiver)
    waiting.request_stop()
    assert receiver.completed
    assert ctx.statistics().readers == 0
    answering = ex.StopSource()  # stopped while the second sender (a long timer) runs
    second = ExpectStoppedReceiver(stop_token=answering.token)
    start(read(sch, server, 64) | ex.let_value(lambda _: sch.schedule_after(3600)), second)
    client.socket.sendall(b"x")
    while ctx.statistics().timers == 0:
        ctx.run_one()
    answering.request_stop()
    assert second.completed
    assert ctx.statistics().timers == 0


def test_a_restarted_read_keeps_answering_after_a_full_buffer(
    ctx: ex.IoContext, tcp_pair: Pair, read: ReadFactory
) -> None:
    # 10 bytes through 4-byte reads: the read restarts inline (the last one filled its buffer)
    # and falls back to waiting on EAGAIN, round after round.
    server, client = tcp_pair
    got: list[bytes] = []

    def keep(data: bytes) -> ex.Sender[int]:
        got.append(data)
        return ex.just(len(data) if b"!" not in data else -1)

    receiver = ExpectValueReceiver(-1)
    start(
        read(ctx.get_scheduler(), server, 4)
        | ex.let_value(keep)
        | ex.repeat_until(lambda n: n < 0),
        receiver,
    )
    client.socket.sendall(b"abcdefghi!")
    ctx.run()
    assert b"".join(got) == b"abcdefghi!"
    assert receiver.completed


# -- a looping read keeps its stop registration between rounds, until the loop ends ------------


def _requests(client: Socket, ctx: ex.IoContext, seen: list[bytes], words: list[bytes]) -> None:
    for count, word in enumerate(words, start=len(seen) + 1):
        client.socket.sendall(word)
        while len(seen) < count:
            ctx.run_one()


@pytest.mark.parametrize("end", ["eof", "error", "stop-waiting", "stop-between-rounds"])
def test_a_read_loop_registers_for_stop_once_and_leaves_nothing_behind(
    end: str, ctx: ex.IoContext, tcp_pair: Pair, read: ReadFactory
) -> None:
    server, client = tcp_pair
    sch = ctx.get_scheduler()
    source = ex.StopSource()
    seen: list[bytes] = []
    registrations: list[int] = []

    def answer(data: bytes) -> ex.Sender[int]:
        seen.append(data)
        registrations.append(len(source._callbacks))
        if not data:
            return ex.just(-1)
        if data == b"fail":
            return ex.just_error(KeyError("fail"))
        if data == b"hold":  # a second sender that waits: the read is between rounds
            return sch.schedule_after(3600) | ex.then(lambda _: 0)
        return ex.just(len(data))

    # Build only this case's receiver: the plugin fails a test on any that never completes.
    receivers: dict[str, Callable[[], RecordingReceiver[Any]]] = {
        "eof": lambda: ExpectValueReceiver(-1, stop_token=source.token),
        "error": lambda: ExpectErrorReceiver(KeyError, stop_token=source.token),
        "stop-waiting": lambda: ExpectStoppedReceiver(stop_token=source.token),
        "stop-between-rounds": lambda: ExpectStoppedReceiver(stop_token=source.token),
    }
    expected = receivers[end]()
    start(_echo_rounds(read, sch, server, answer), expected)
    _requests(client, ctx, seen, [b"a", b"b", b"c"])
    # The read registered once, in round 1, and kept it (the loop owns it): one entry.
    assert registrations == [1, 1, 1]
    if end == "eof":
        client.shutdown_write()
        ctx.run()
    elif end == "error":
        _requests(client, ctx, seen, [b"fail"])
    elif end == "stop-waiting":
        source.request_stop()
    else:
        _requests(client, ctx, seen, [b"hold"])
        assert ctx.statistics().timers == 1
        source.request_stop()
    assert expected.completed
    assert not source._callbacks  # retired: nothing left registered
    assert ctx.statistics().readers == 0
    assert ctx.statistics().timers == 0


@pytest.mark.parametrize("case", ["fits", "partial", "stopped", "send-fails", "other-loop"])
def test_a_read_answered_with_a_write_in_every_case(
    case: str, ctx: ex.IoContext, faulty_pair: Pair, faults: FaultySocketFactory, read: ReadFactory
) -> None:
    server, client = faulty_pair
    source = ex.StopSource()
    payload = b"x" * (8 * 1024 * 1024 if case == "partial" else 10)
    with ex.IoContext() as other:
        loop = other if case == "other-loop" else ctx

        def answer(_: bytes) -> ex.Sender[int]:
            if case == "stopped":
                source.request_stop()  # before the write starts: it must send nothing
            if case == "send-fails":
                faults.fail("send", errno.EPIPE)
            return async_write(loop.get_scheduler(), server, payload)

        receiver: RecordingReceiver[Any]
        if case == "stopped":
            receiver = ExpectStoppedReceiver(stop_token=source.token)
        elif case == "send-fails":
            receiver = ExpectErrorReceiver(ex.NetError, stop_token=source.token)
        else:
            receiver = ExpectValueReceiver(len(payload), stop_token=source.token)
        start(read(ctx.get_scheduler(), server, 64) | ex.let_value(answer), receiver)
        client.socket.sendall(b"request")
        received = bytearray()
        while not receiver.completed:  # the client drains while the loop makes progress
            ctx.poll()
            with contextlib.suppress(BlockingIOError):
                received += client.socket.recv(1 << 20)
        with contextlib.suppress(BlockingIOError):
            while chunk := client.socket.recv(1 << 20):
                received += chunk
    expected = b"" if case in ("stopped", "send-fails") else payload
    assert bytes(received) == expected


class _Parked(ex.Sender[int]):
    """A sender whose operation only a weak reference knows of: it completes when the test
    calls ``finish()``, if something else kept it alive meanwhile."""

    def __init__(self) -> None:
        self.pending: weakref.WeakSet[_ParkedOp] = weakref.WeakSet()

    def connect(self, receiver: ex.Receiver[int], /) -> ex.OperationState:
        op = _ParkedOp(receiver)
        self.pending.add(op)
        return op

    def finish(self) -> None:
        for op in list(self.pending):
            op.receiver.set_value(7)


class _ParkedOp:
    def __init__(self, receiver: ex.Receiver[int]) -> None:
        self.receiver = receiver

    def start(self) -> None:
        pass


def test_the_second_operation_lives_as_long_as_the_pipeline_runs(
    ctx: ex.IoContext, tcp_pair: Pair, read: ReadFactory
) -> None:
    server, client = tcp_pair
    parked = _Parked()
    receiver = ExpectValueReceiver(7)
    op = ex.connect(
        read(ctx.get_scheduler(), server, 64) | ex.let_value(lambda _: parked), receiver
    )
    op.start()
    client.socket.sendall(b"x")
    ctx.run()
    gc.collect()
    parked.finish()  # reaches the second operation only if the pipeline's op holds it
    assert receiver.completed
    del op


def test_a_finished_rounds_second_operation_is_released_when_the_next_round_starts(
    ctx: ex.IoContext, tcp_pair: Pair, read: ReadFactory
) -> None:
    server, client = tcp_pair
    parked = _Parked()
    receiver = ExpectValueReceiver(-1)

    def answer(data: bytes) -> ex.Sender[int]:
        return parked if data else ex.just(-1)

    pipeline = read(ctx.get_scheduler(), server, 64) | ex.let_value(answer)
    op = ex.connect(pipeline | ex.repeat_until(lambda n: n < 0), receiver)
    op.start()
    client.socket.sendall(b"x")
    ctx.run()
    [first_round] = [weakref.ref(second) for second in parked.pending]
    parked.finish()  # round 1 ends; round 2 waits for the next read
    gc.collect()
    assert first_round() is None  # not kept while the connection idles
    client.shutdown_write()
    ctx.run()
    assert receiver.completed
