"""async_write: everything written, partial writes to a slow reader, stop, close, errors."""

from __future__ import annotations

import array
import contextlib
import errno
from collections.abc import Callable
from typing import Any

import pytest

import dsexec as ex
from dsexec import repeat_until, timeout, when_all
from dsexec.net import Socket, async_read, async_write
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


def fill_send_buffer(sock: Socket) -> int:
    """Write to ``sock`` until its send buffer (and the peer's receive buffer) is full."""
    total = 0
    chunk = b"\0" * 65536
    with contextlib.suppress(BlockingIOError):
        while True:
            total += sock.socket.send(chunk)
    return total


def read_exactly(sch: object, sock: Socket, size: int, chunk: int) -> ex.Sender[bytes]:
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


def test_small_write_completes_inline(ctx: ex.IoContext, tcp_pair: Pair) -> None:
    server, client = tcp_pair
    receiver = ExpectValueReceiver(5)
    start(async_write(ctx.get_scheduler(), server, b"hello"), receiver)
    assert receiver.completed
    assert client.socket.recv(10) == b"hello"


def test_empty_write_completes_with_zero(ctx: ex.IoContext, tcp_pair: Pair) -> None:
    server, _client = tcp_pair
    receiver = ExpectValueReceiver(0)
    start(async_write(ctx.get_scheduler(), server, b""), receiver)
    assert receiver.completed


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview"])
def test_large_write_to_a_slow_reader_delivers_every_byte(
    kind: str, ctx: ex.IoContext, tcp_pair: Pair
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
        when_all(async_write(sch, server, data), read_exactly(sch, client, size, 4096)),
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


def test_write_blocked_on_a_full_buffer_can_be_stopped(
    ctx: ex.IoContext, tcp_pair: Pair, open_fds: Callable[[], int]
) -> None:
    server, _client = tcp_pair
    fill_send_buffer(server)
    before = open_fds()
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    start(async_write(ctx.get_scheduler(), server, b"x" * 100_000), receiver)
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


def test_write_on_a_closed_socket_fails_with_closed_resource_error(
    ctx: ex.IoContext, tcp_pair: Pair
) -> None:
    server, _client = tcp_pair
    server.close()
    receiver = ExpectErrorReceiver(ex.ClosedResourceError)
    start(async_write(ctx.get_scheduler(), server, b"x"), receiver)
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


@pytest.mark.parametrize("code", [errno.ECONNRESET, errno.EPIPE])
def test_send_errors_are_net_errors(
    code: int, ctx: ex.IoContext, faulty_pair: Pair, faults: FaultySocketFactory
) -> None:
    server, _client = faulty_pair
    faults.fail("send", code)
    receiver = ExpectErrorReceiver(ex.NetError, match="send on fd")
    start(async_write(ctx.get_scheduler(), server, b"x"), receiver)
    assert receiver.completed
    assert isinstance(receiver.error, OSError)
    assert receiver.error.errno == code


def test_async_write_rejects_bad_arguments(ctx: ex.IoContext, tcp_pair: Pair) -> None:
    server, _client = tcp_pair
    sch = ctx.get_scheduler()
    with pytest.raises(TypeError, match="async_write: needs a scheduler"):
        async_write(object(), server, b"")
    with pytest.raises(TypeError, match=r"async_write: expected a dsexec\.net\.Socket"):
        async_write(sch, server.socket, b"")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="async_write: expected bytes or another buffer"):
        async_write(sch, server, "text")  # type: ignore[arg-type]
