"""async_read: bytes, EOF, pooled buffers, stop, close, busy, errors."""

from __future__ import annotations

import errno
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

import pytest

import dsexec as ex
from dsexec import timeout
from dsexec.net import Socket, async_read
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
        async_read(object(), server, 10)
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
    # posted work runs before the fd wake-ups of the same turn: the stop comes first
    ctx.post(source.request_stop)
    ctx.run()
    assert receiver.completed
    assert server.socket.recv(10) == b"keep me"  # non-blocking: still there, not consumed
