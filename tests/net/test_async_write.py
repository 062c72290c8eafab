"""async_write: everything written, partial writes to a slow reader, stop, close, errors."""

from __future__ import annotations

import array
import contextlib
import errno
import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest

import dsexec as ex
from dsexec import repeat_until, timeout, when_all
from dsexec.net import Socket, async_read, async_write, create_acceptor
from dsexec.schedulers import IoScheduler
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


# How a write gets started: connect + start, or as the sender a let_value function returns
# (Sender._connect_or_complete: no operation state when the data fits in the send buffer).
STARTS = ["connect", "let_value"]


def started(how: str, sender: ex.Sender[int]) -> ex.Sender[int]:
    if how == "connect":
        return sender
    return ex.just(None) | ex.let_value(lambda _: sender)


def fill_send_buffer(sock: Socket) -> int:
    """Write to ``sock`` until its send buffer (and the peer's receive buffer) is full."""
    total = 0
    chunk = b"\0" * 65536
    with contextlib.suppress(BlockingIOError):
        while True:
            total += sock.socket.send(chunk)
    return total


def read_exactly(
    sch: IoScheduler, sock: Socket, size: int, chunk: int
) -> ex.Sender[bytes]:
    """Read ``size`` bytes in reads of at most ``chunk`` bytes (a slow reader)."""
    received = bytearray()

    def collect(data: bytes) -> int:
        if not data:
            raise EOFError(f"EOF after {len(received)} of {size} bytes")
        received.extend(data)
        return len(received)

    return (
        async_read(sch, sock, chunk)
        | ex.then(collect)
        | repeat_until(lambda count: count >= size)
        | ex.then(lambda _count: bytes(received))
    )


@pytest.mark.parametrize("how", STARTS)
def test_small_write_completes_inline(how: str, ctx: ex.IoContext, tcp_pair: Pair) -> None:
    server, client = tcp_pair
    receiver = ExpectValueReceiver(5)
    start(started(how, async_write(ctx.get_scheduler(), server, b"hello")), receiver)
    assert receiver.completed
    assert client.socket.recv(10) == b"hello"


@pytest.mark.parametrize("how", STARTS)
def test_empty_write_completes_with_zero(how: str, ctx: ex.IoContext, tcp_pair: Pair) -> None:
    server, _client = tcp_pair
    receiver = ExpectValueReceiver(0)
    start(started(how, async_write(ctx.get_scheduler(), server, b"")), receiver)
    assert receiver.completed


@pytest.mark.parametrize("how", STARTS)
@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview"])
def test_large_write_to_a_slow_reader_delivers_every_byte(
    kind: str, how: str, ctx: ex.IoContext, tcp_pair: Pair
) -> None:
    server, client = tcp_pair
    size = 8 * 1024 * 1024
    payload = bytes(range(256)) * (size // 256)
    data: bytes | bytearray | memoryview
    if kind == "bytes":
        data = payload
    elif kind == "bytearray":
        data = bytearray(payload)
    else:
        data = memoryview(payload)
    sch = ctx.get_scheduler()
    written, received = ex.sync_wait(
        when_all(
            started(how, async_write(sch, server, data)), read_exactly(sch, client, size, 4096)
        ),
        context=ctx,
    )
    assert written == size
    assert received == payload


def test_write_of_a_typed_memoryview_counts_bytes(ctx: ex.IoContext, tcp_pair: Pair) -> None:
    server, client = tcp_pair
    numbers = array.array("i", range(10))
    receiver = ExpectValueReceiver(numbers.itemsize * 10)
    start(async_write(ctx.get_scheduler(), server, memoryview(numbers)), receiver)
    assert receiver.completed
    assert client.socket.recv(1000) == numbers.tobytes()


@pytest.mark.parametrize("how", STARTS)
def test_write_blocked_on_a_full_buffer_can_be_stopped(
    how: str, ctx: ex.IoContext, tcp_pair: Pair, open_fds: Callable[[], int]
) -> None:
    server, _client = tcp_pair
    fill_send_buffer(server)
    before = open_fds()
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    start(started(how, async_write(ctx.get_scheduler(), server, b"x" * 100_000)), receiver)
    assert receiver.completion is None
    assert ctx.statistics().writers == 1
    source.request_stop()
    assert receiver.completed
    assert ctx.statistics().writers == 0
    assert open_fds() == before


def test_write_to_a_reader_that_never_reads_times_out_in_virtual_time(
    vts: ex.VirtualTimeScheduler, tcp_pair: Pair
) -> None:
    server, _client = tcp_pair
    fill_send_buffer(server)
    with pytest.raises(TimeoutError):
        ex.sync_wait(async_write(vts, server, b"x" * 100_000) | timeout(10.0), context=vts)
    assert vts.now() == 10.0
    assert vts.statistics().writers == 0


def test_closing_the_socket_wakes_a_pending_write(ctx: ex.IoContext, tcp_pair: Pair) -> None:
    server, _client = tcp_pair
    fill_send_buffer(server)
    receiver = ExpectErrorReceiver(ex.ClosedResourceError)
    start(async_write(ctx.get_scheduler(), server, b"x" * 100_000), receiver)
    server.close()
    ctx.run()
    assert receiver.completed


@pytest.mark.parametrize("how", STARTS)
def test_write_on_a_closed_socket_fails_with_closed_resource_error(
    how: str, ctx: ex.IoContext, tcp_pair: Pair
) -> None:
    server, _client = tcp_pair
    server.close()
    receiver = ExpectErrorReceiver(ex.ClosedResourceError)
    start(started(how, async_write(ctx.get_scheduler(), server, b"x")), receiver)
    assert receiver.completed


def test_second_pending_write_fails_with_busy_resource_error(
    ctx: ex.IoContext, tcp_pair: Pair
) -> None:
    server, _client = tcp_pair
    fill_send_buffer(server)
    source = ex.StopSource()
    first = ExpectStoppedReceiver(stop_token=source.token)
    start(async_write(ctx.get_scheduler(), server, b"x" * 100_000), first)
    second = ExpectErrorReceiver(ex.BusyResourceError)
    start(async_write(ctx.get_scheduler(), server, b"y" * 100_000), second)
    assert second.completed
    source.request_stop()
    assert first.completed


@pytest.mark.parametrize("how", STARTS)
@pytest.mark.parametrize("code", [errno.ECONNRESET, errno.EPIPE])
def test_send_errors_are_net_errors(
    code: int, how: str, ctx: ex.IoContext, faulty_pair: Pair, faults: FaultySocketFactory
) -> None:
    server, _client = faulty_pair
    faults.fail("send", code)
    receiver = ExpectErrorReceiver(ex.NetError, match="send on fd")
    start(started(how, async_write(ctx.get_scheduler(), server, b"x")), receiver)
    assert receiver.completed
    assert isinstance(receiver.error, OSError)
    assert receiver.error.errno == code


def test_async_write_rejects_bad_arguments(ctx: ex.IoContext, tcp_pair: Pair) -> None:
    server, _client = tcp_pair
    sch = ctx.get_scheduler()
    with pytest.raises(TypeError, match="async_write: needs a scheduler"):
        async_write(object(), server, b"")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"async_write: expected a dsexec\.net\.Socket"):
        async_write(sch, server.socket, b"")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="async_write: expected bytes or another buffer"):
        async_write(sch, server, "text")  # type: ignore[arg-type]


@pytest.mark.parametrize("how", STARTS)
def test_a_stop_requested_before_the_write_starts_sends_nothing(
    how: str, ctx: ex.IoContext, tcp_pair: Pair
) -> None:
    server, client = tcp_pair
    source = ex.StopSource()
    source.request_stop()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    start(started(how, async_write(ctx.get_scheduler(), server, b"never")), receiver)
    assert receiver.completed
    with pytest.raises(BlockingIOError):
        client.socket.recv(10)


def test_connect_or_complete_builds_no_operation_state_for_a_write_that_fits(
    ctx: ex.IoContext, tcp_pair: Pair
) -> None:
    server, client = tcp_pair
    receiver = ExpectValueReceiver(3)
    assert async_write(ctx.get_scheduler(), server, b"abc").connect_or_complete(receiver) is None
    assert receiver.completed
    assert client.socket.recv(10) == b"abc"


def test_connect_or_complete_hands_the_rest_of_a_partial_write_to_an_operation(
    ctx: ex.IoContext, tcp_pair: Pair
) -> None:
    server, client = tcp_pair
    payload = bytes(range(256)) * 16384  # 4 MiB: more than the socket buffers hold
    receiver = ExpectValueReceiver(len(payload))
    op = async_write(ctx.get_scheduler(), server, payload).connect_or_complete(receiver)
    assert op is not None  # a prefix went out; the operation sends the rest once started
    assert not receiver.completed
    op.start()
    reader = read_exactly(ctx.get_scheduler(), client, len(payload), 65536)
    received = ex.sync_wait(reader, context=ctx)
    assert received == payload
    assert receiver.completed


def test_connect_or_complete_off_the_loop_thread_returns_an_operation_that_posts(
    ctx: ex.IoContext, tcp_pair: Pair
) -> None:
    server, client = tcp_pair
    receiver = ExpectValueReceiver(2)
    ops: list[ex.OperationState | None] = []

    def elsewhere() -> None:
        op = async_write(ctx.get_scheduler(), server, b"hi").connect_or_complete(receiver)
        ops.append(op)
        if op is not None:
            op.start()  # posted to the loop

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert ops[0] is not None
    assert receiver.completion is None
    ctx.run()
    assert receiver.completed
    assert client.socket.recv(10) == b"hi"


class _SendRecordingSocket(socket.socket):
    """A socket that records every object passed to ``send``."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock.family, sock.type, sock.proto, sock.detach())
        self.sent: list[object] = []

    def send(self, data: Any, flags: int = 0, /) -> int:
        self.sent.append(data)
        return super().send(data, flags)


def recording_pair(cleanup: contextlib.ExitStack) -> tuple[Socket, _SendRecordingSocket, Socket]:
    """(server, its recording socket, client) over 127.0.0.1, with small buffers so that a
    large write goes out in many partial sends."""
    with create_acceptor(0, "127.0.0.1") as acceptor:
        raw_client = cleanup.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        raw_client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw_client.connect(("127.0.0.1", acceptor.port))
        conn, _address = acceptor.sockets[0].accept()
    recorder = _SendRecordingSocket(conn)
    recorder.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    server = cleanup.enter_context(Socket(recorder))
    client = cleanup.enter_context(Socket(raw_client))
    return server, recorder, client


@pytest.mark.parametrize("how", [*STARTS, "other_thread"])
@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview"])
def test_partial_writes_send_memoryviews_of_the_callers_buffer(
    kind: str, how: str, ctx: ex.IoContext, cleanup: contextlib.ExitStack
) -> None:
    server, recorder, client = recording_pair(cleanup)
    payload = bytes(range(256)) * 4096 if kind == "bytes" else bytearray(range(256)) * 4096
    data = memoryview(payload) if kind == "memoryview" else payload
    sch = ctx.get_scheduler()
    receiver = ExpectValueReceiver(len(payload))
    if how == "other_thread":  # start() posts; the first send happens on the loop thread
        thread = threading.Thread(target=start, args=(async_write(sch, server, data), receiver))
        thread.start()
        thread.join()
    else:
        start(started(how, async_write(sch, server, data)), receiver)
    received = ex.sync_wait(read_exactly(sch, client, len(payload), 65536), context=ctx)
    assert receiver.completed
    assert received == payload
    first, *rest = recorder.sent
    assert first is data or (isinstance(first, memoryview) and first.obj is payload)
    assert len(rest) >= 2  # the first send fell short, and so did a later one
    for view in rest:  # slices of the caller's buffer, never copies of what is left
        assert isinstance(view, memoryview)
        assert view.obj is payload
