"""async_read_until: lines however the bytes arrive, bytes past the delimiter kept for the next
read (plain and pooled), the limit, EOF, stop, close and bad arguments."""

from __future__ import annotations

import socket
from typing import Any

import pytest

import dsexec as ex
from dsexec.net import Socket, async_read, async_read_until
from dsexec.perf import MemoryPool
from dsexec.testing import ExpectStoppedReceiver, ExpectValueReceiver, RecordingReceiver

Pair = tuple[Socket, Socket]


def lines(sch: ex.IoScheduler, sock: Socket, count: int) -> ex.Sender[list[bytes]]:
    """``count`` reads of one line each, in order."""
    received: list[bytes] = []

    def keep(line: bytes) -> int:
        received.append(line)
        return len(received)

    one = async_read_until(sch, sock, b"\n", 100) | ex.then(keep)
    return one | ex.repeat_until(lambda n: n == count) | ex.then(lambda _: received)


def test_several_lines_in_one_segment_come_out_one_per_read(
    ctx: ex.IoContext, tcp_pair: Pair
) -> None:
    server, client = tcp_pair
    client.socket.sendall(b"one\ntwo\nthree\n")
    got = ex.sync_wait(lines(ctx.get_scheduler(), server, 3), context=ctx)
    assert got == [b"one\n", b"two\n", b"three\n"]
    assert server.unread == b""


def test_a_line_sent_one_byte_at_a_time_is_assembled(ctx: ex.IoContext, tcp_pair: Pair) -> None:
    server, client = tcp_pair
    sch = ctx.get_scheduler()
    receiver = ExpectValueReceiver(b"hello\r\n\r\n")
    ex.connect(async_read_until(sch, server, b"\r\n\r\n", 100), receiver).start()
    for byte in b"hello\r\n\r\nrest":
        client.socket.send(bytes((byte,)))
        ctx.poll()
        ctx.poll()
    assert receiver.completed
    # a delimiter split over two segments was found; what followed stays with the socket
    assert ex.sync_wait(async_read(sch, server, 100), context=ctx) == b"rest"


def test_bytes_past_the_delimiter_go_to_the_next_pooled_read(
    ctx: ex.IoContext, tcp_pair: Pair
) -> None:
    server, client = tcp_pair
    sch = ctx.get_scheduler()
    pool = MemoryPool(4, 2)
    client.socket.sendall(b"head\nbody-bytes")
    assert ex.sync_wait(async_read_until(sch, server, b"\n", 100), context=ctx) == b"head\n"
    view = ex.sync_wait(async_read(sch, server, 100, pool=pool), context=ctx)
    assert bytes(view) == b"body"  # no more than the block holds; the rest stays unread
    pool.release(view)
    assert ex.sync_wait(async_read(sch, server, 100), context=ctx) == b"-bytes"


def test_past_max_bytes_it_fails_and_leaves_the_bytes_unread(
    ctx: ex.IoContext, tcp_pair: Pair
) -> None:
    server, client = tcp_pair
    sch = ctx.get_scheduler()
    client.socket.sendall(b"0123456789\n")
    with pytest.raises(ex.LimitOverrunError, match=r"no b'\\n' in the first 8 bytes") as info:
        ex.sync_wait(async_read_until(sch, server, b"\n", 8), context=ctx)
    assert info.value.buffered == 11
    assert ex.sync_wait(async_read_until(sch, server, b"\n", 11), context=ctx) == b"0123456789\n"


def test_a_delimiter_ending_exactly_at_max_bytes_is_accepted(
    ctx: ex.IoContext, tcp_pair: Pair
) -> None:
    server, client = tcp_pair
    client.socket.sendall(b"abc\r\nxyz")
    sch = ctx.get_scheduler()
    assert ex.sync_wait(async_read_until(sch, server, b"\r\n", 5), context=ctx) == b"abc\r\n"


def test_at_eof_the_partial_line_then_empty_bytes(ctx: ex.IoContext, tcp_pair: Pair) -> None:
    server, client = tcp_pair
    sch = ctx.get_scheduler()
    client.socket.sendall(b"full\npartial")
    client.shutdown_write()
    assert ex.sync_wait(lines(sch, server, 1), context=ctx) == [b"full\n"]
    assert ex.sync_wait(async_read_until(sch, server, b"\n", 100), context=ctx) == b"partial"
    assert ex.sync_wait(async_read_until(sch, server, b"\n", 100), context=ctx) == b""


def test_on_every_loop(scheduler_runner: Any) -> None:
    left, right = socket.socketpair()
    with Socket(left) as sock, right:
        right.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody")

        def build(sch: ex.IoScheduler) -> ex.Sender[tuple[bytes, bytes]]:
            head = async_read_until(sch, sock, b"\r\n\r\n", 1024)
            return head | ex.let_value(
                lambda h: async_read(sch, sock, 10) | ex.then(lambda rest: (h, rest))
            )

        head, rest = scheduler_runner.run(build)
        assert head == b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        assert rest == b"body"


def test_stop_completes_at_once_and_keeps_what_was_received(
    ctx: ex.IoContext, tcp_pair: Pair
) -> None:
    server, client = tcp_pair
    sch = ctx.get_scheduler()
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(async_read_until(sch, server, b"\n", 100), receiver).start()
    client.socket.sendall(b"no newline yet")
    ctx.poll()
    ctx.poll()
    source.request_stop()
    assert receiver.completed
    assert ctx.statistics().readers == 0
    assert ex.sync_wait(async_read(sch, server, 100), context=ctx) == b"no newline yet"


def test_closing_the_socket_wakes_it_with_closed_resource_error(
    ctx: ex.IoContext, tcp_pair: Pair
) -> None:
    server, _client = tcp_pair
    receiver = RecordingReceiver[bytes]()
    ex.connect(async_read_until(ctx.get_scheduler(), server, b"\n", 100), receiver).start()
    server.close()
    ctx.run()
    assert isinstance(receiver.error, ex.ClosedResourceError)


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        (("\n", 10), TypeError, "the delimiter must be bytes, got str"),
        ((b"", 10), ValueError, "the delimiter is empty"),
        ((b"\r\n", 1), ValueError, "max_bytes must be >= 2"),
        ((b"\n", 1.5), TypeError, "max_bytes must be an int"),
    ],
)
def test_bad_arguments_are_refused_when_built(
    ctx: ex.IoContext,
    tcp_pair: Pair,
    arguments: tuple[Any, Any],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        async_read_until(ctx.get_scheduler(), tcp_pair[0], *arguments)
