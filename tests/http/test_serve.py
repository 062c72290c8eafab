"""``serve_http`` over real loopback sockets: HTTP features, failures, limits and draining.

Timeouts run on a ``VirtualTimeScheduler`` the test advances by hand (no real waiting).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from tests._helpers.served import Served

import dsexec as ex
from dsexec.http import FileBody, Request, Response, StreamBody
from dsexec.perf import PerfMonitor
from dsexec.security import AccessControlList, Limits, disable_audit_log, enable_audit_log

TEXT = [(b"content-type", b"text/plain")]


def hello(request: Request) -> ex.Sender[Response]:
    return ex.just(Response(200, TEXT, b"hello " + request.path))


def echo(request: Request) -> ex.Sender[Response]:
    return request.body() | ex.then(lambda body: Response(200, TEXT, body))


def get(path: bytes = b"/", *extra: bytes, version: bytes = b"1.1") -> bytes:
    lines = [b"GET " + path + b" HTTP/" + version, b"Host: t", *extra]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def post(body: bytes, *extra: bytes) -> bytes:
    head = [b"POST /p HTTP/1.1", b"Host: t", b"Content-Length: %d" % len(body), *extra]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class AuditRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, str]] = []
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        event: Any = getattr(record, "event", "?")
        reason: Any = getattr(record, "reason", "")
        self.events.append((event, reason))


@pytest.fixture
def audit() -> Iterator[AuditRecords]:
    records = AuditRecords()
    enable_audit_log(records)
    try:
        yield records
    finally:
        disable_audit_log()


# -- HTTP features ---------------------------------------------------------------------------


def test_keep_alive_serves_requests_on_one_connection() -> None:
    with Served(hello) as served:
        client = served.connect()
        for path in (b"/a", b"/b", b"/c"):
            served.send(client, get(path))
            reply = served.read_response(client)
            assert reply.status == 200
            assert reply.body == b"hello " + path
            assert reply.header(b"content-length") == str(len(reply.body)).encode()
            assert reply.header(b"connection") is None
            assert reply.header(b"date") is not None
        assert not served.closed_by_server(client)


def test_pipelined_requests_are_answered_in_order() -> None:
    with Served(echo) as served:
        client = served.connect()
        served.send(client, get(b"/1") + post(b"two") + get(b"/3"))
        bodies = [served.read_response(client).body for _ in range(3)]
        assert bodies == [b"", b"two", b""]


def test_content_length_and_chunked_bodies_are_read() -> None:
    with Served(echo) as served:
        client = served.connect()
        served.send(client, post(b"x" * 5000))
        assert served.read_response(client).body == b"x" * 5000
        chunked = (
            b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        )
        served.send(client, chunked)
        assert served.read_response(client).body == b"hello world"


def test_body_sent_in_pieces_is_streamed_by_body_chunk() -> None:
    pieces: list[bytes] = []

    def collect(request: Request) -> ex.Sender[Response]:
        def next_piece(piece: bytes) -> bool:
            pieces.append(piece)
            return piece == b""

        return (
            ex.just(None)
            | ex.let_value(lambda _: request.body_chunk())
            | ex.repeat_until(next_piece)
            | ex.then(lambda _: Response(200, TEXT, b"%d" % len(pieces)))
        )

    with Served(collect) as served:
        client = served.connect()
        served.send(client, b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nabc")
        served.send(client, b"def")
        assert served.read_response(client).status == 200
    assert b"".join(pieces) == b"abcdef"
    assert pieces[-1] == b""
    assert len(pieces) >= 3  # two pieces as they came, then the end


def test_head_gets_the_length_but_no_body() -> None:
    with Served(hello) as served:
        client = served.connect()
        served.send(client, get(b"/x").replace(b"GET", b"HEAD", 1) + get(b"/y"))
        head = served.read_response(client, head_only=True)
        assert head.status == 200
        assert head.header(b"content-length") == b"8"
        assert head.body == b""
        assert served.read_response(client).body == b"hello /y"


def test_expect_continue_is_answered_when_the_body_is_read() -> None:
    with Served(echo) as served:
        client = served.connect()
        served.send(
            client,
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
        )
        interim = served.receive(client, lambda got: got.endswith(b"\r\n\r\n"))
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        served.send(client, b"body")
        assert served.read_response(client).body == b"body"


def test_expect_continue_is_not_sent_when_the_handler_ignores_the_body() -> None:
    with Served(hello) as served:
        client = served.connect()
        served.send(
            client,
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
        )
        reply = served.read_response(client)
        assert reply.status == 200  # a final answer, no 100: the client need not send the body
        assert reply.header(b"connection") == b"close"
        assert served.closed_by_server(client)


def test_http10_closes_unless_asked_to_keep_alive() -> None:
    with Served(hello) as served:
        plain = served.connect()
        served.send(plain, get(b"/", version=b"1.0"))
        reply = served.read_response(plain)
        assert reply.version == b"HTTP/1.1"  # RFC 9110 6.2: the server's own version
        assert reply.header(b"connection") == b"close"
        assert served.closed_by_server(plain)

        kept = served.connect()
        served.send(kept, get(b"/1", b"Connection: keep-alive", version=b"1.0"))
        assert served.read_response(kept).header(b"connection") == b"keep-alive"
        served.send(kept, get(b"/2", b"Connection: keep-alive", version=b"1.0"))
        assert served.read_response(kept).body == b"hello /2"
        assert not served.closed_by_server(kept)


def test_connection_close_from_the_client_ends_the_connection() -> None:
    with Served(hello) as served:
        client = served.connect()
        served.send(client, get(b"/", b"Connection: close") + get(b"/never"))
        reply = served.read_response(client)
        assert reply.header(b"connection") == b"close"
        assert served.receive(client, lambda got: False) == b""  # nothing more: closed


def test_response_close_ends_the_connection() -> None:
    def closing(request: Request) -> ex.Sender[Response]:
        return ex.just(Response(200, TEXT, b"bye", close=True))

    with Served(closing) as served:
        client = served.connect()
        served.send(client, get())
        assert served.read_response(client).header(b"connection") == b"close"
        assert served.closed_by_server(client)


def _counting_stream(count: int) -> StreamBody:
    remaining = [count]

    def next_chunk() -> ex.Sender[bytes]:
        if remaining[0] == 0:
            return ex.just(b"")
        remaining[0] -= 1
        return ex.just(b"piece%d;" % remaining[0])

    return StreamBody(next_chunk)


def test_stream_body_is_sent_chunked() -> None:
    def streaming(request: Request) -> ex.Sender[Response]:
        return ex.just(Response(200, TEXT, _counting_stream(3)))

    with Served(streaming) as served:
        client = served.connect()
        served.send(client, get() + get())
        for _ in range(2):
            reply = served.read_response(client)
            assert reply.header(b"transfer-encoding") == b"chunked"
            assert reply.body == b"piece2;piece1;piece0;"


def test_stream_body_to_http10_is_delimited_by_the_close() -> None:
    def streaming(request: Request) -> ex.Sender[Response]:
        return ex.just(Response(200, TEXT, _counting_stream(2)))

    with Served(streaming) as served:
        client = served.connect()
        served.send(client, get(b"/", b"Connection: keep-alive", version=b"1.0"))
        reply = served.read_response(client)
        assert reply.header(b"transfer-encoding") is None
        assert reply.body == b"piece1;piece0;"


def test_file_body_is_sent_whole_and_in_part(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    data = os.urandom(100_000)
    path.write_bytes(data)

    def files(request: Request) -> ex.Sender[Response]:
        if request.path == b"/part":
            return ex.just(Response(200, (), FileBody(path, offset=10, count=50)))
        return ex.just(Response(200, (), FileBody(str(path))))

    with Served(files) as served:
        client = served.connect()
        served.send(client, get(b"/all"))
        assert served.read_response(client).body == data
        served.send(client, get(b"/part"))
        assert served.read_response(client).body == data[10:60]
        served.send(client, get(b"/all").replace(b"GET", b"HEAD", 1))
        head = served.read_response(client, head_only=True)
        assert head.header(b"content-length") == b"100000"
        served.send(client, get(b"/part"))
        assert served.read_response(client).body == data[10:60]  # nothing stray after HEAD


# -- failures ------------------------------------------------------------------------------------


def test_a_raising_handler_gets_its_client_a_500(caplog: pytest.LogCaptureFixture) -> None:
    def broken(request: Request) -> ex.Sender[Response]:
        if request.path == b"/raise":
            raise RuntimeError("handler bug")
        return ex.just_error(ValueError("sender bug"))

    with Served(broken) as served:
        for path in (b"/raise", b"/fail"):
            client = served.connect()
            served.send(client, get(path))
            reply = served.read_response(client)
            assert reply.status == 500
            assert reply.header(b"connection") == b"close"
            assert served.closed_by_server(client)
    messages = [record.getMessage() for record in caplog.records if record.name == "dsexec.http"]
    assert any("handler bug" in message for message in messages)
    assert any("sender bug" in message for message in messages)


def test_a_response_that_cannot_be_sent_gets_its_client_a_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(request: Request) -> ex.Sender[Any]:
        if request.path == b"/split":  # response splitting: refused when serialised
            return ex.just(Response(200, [(b"x-injected", b"a\r\nSet-Cookie: b")], b""))
        return ex.just("not a Response")

    with Served(broken) as served:
        for path in (b"/split", b"/type"):
            client = served.connect()
            served.send(client, get(path))
            reply = served.read_response(client)
            assert reply.status == 500
            assert reply.header(b"set-cookie") is None
            assert served.closed_by_server(client)
    messages = [record.getMessage() for record in caplog.records if record.name == "dsexec.http"]
    assert any("control character" in message for message in messages)
    assert any("expected a Response" in message for message in messages)


def test_a_stream_failing_half_way_closes_the_connection_without_a_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pieces = iter([b"first;"])

    def next_piece() -> ex.Sender[bytes]:
        piece = next(pieces, None)
        return ex.just_error(ValueError("stream bug")) if piece is None else ex.just(piece)

    def streaming(request: Request) -> ex.Sender[Response]:
        return ex.just(Response(200, TEXT, StreamBody(next_piece)))

    with Served(streaming) as served:
        client = served.connect()
        served.send(client, get())
        received = served.receive(client, lambda got: False)  # up to the close
        assert received.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"first;" in received
        assert b"500" not in received
        assert served.closed_by_server(client)
    messages = [record.getMessage() for record in caplog.records if record.name == "dsexec.http"]
    assert any("stream bug" in message for message in messages)


def feed(served: Served, client: socket.socket, data: bytes, *, whole: bool) -> None:
    """Send ``data`` whole or a byte at a time, until the server stops listening."""
    pieces = [data] if whole else [data[i : i + 1] for i in range(len(data))]
    try:
        for piece in pieces:
            served.send(client, piece)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered and closed before the rest


SMUGGLING = {
    "cl-and-te": b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "duplicate-cl": b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n"
    b"Content-Length: 1\r\n\r\nx",
    "signed-cl": b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +1\r\n\r\nx",
    "hex-cl": b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0x1\r\n\r\nx",
    "unicode-digit-cl": "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: \u0661\r\n\r\nx".encode(),
    "te-not-final-chunked": b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip"
    b"\r\n\r\n0\r\n\r\n",
    "te-gzip-chunked": b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked"
    b"\r\n\r\n0\r\n\r\n",
    "bare-lf": b"GET / HTTP/1.1\nHost: t\n\n",
    "bare-cr": b"GET / HTTP/1.1\rHost: t\r\n\r\n",
    "obs-fold": b"GET / HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n  2\r\n\r\n",
    "nul-in-value": b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\x00b\r\n\r\n",
    "bad-chunk-size": b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "chunk-without-crlf": b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\nabcX\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("whole", [True, False], ids=["whole", "byte-by-byte"])
@pytest.mark.parametrize("shape", sorted(SMUGGLING))
def test_smuggling_shapes_are_refused_and_closed(shape: str, whole: bool) -> None:
    with Served(echo) as served:
        client = served.connect()
        feed(served, client, SMUGGLING[shape] + get(b"/smuggled"), whole=whole)
        received = served.receive(client, lambda got: False)
        assert received.startswith(b"HTTP/1.1 400 ")
        assert b"Connection: close" in received
        assert b"\r\nDate: " in received  # RFC 9110 6.6.1: an origin server's 4xx too
        assert b"/smuggled" not in received
        assert received.count(b"HTTP/1.1") == 1


@pytest.mark.parametrize("whole", [True, False], ids=["whole", "byte-by-byte"])
def test_size_limits_hold_however_the_bytes_come(whole: bool, audit: AuditRecords) -> None:
    limits = Limits(max_header_bytes=1024, max_body_bytes=100)
    big_head = get(b"/", b"X-Big: " + b"a" * 2000)
    big_body = post(b"b" * 101)
    cases = ((big_head, b"431", "max_header_bytes"), (big_body, b"413", "max_body_bytes"))
    for data, status, limit in cases:
        with Served(echo, limits=limits) as served:
            client = served.connect()
            feed(served, client, data, whole=whole)
            received = served.receive(client, lambda got: False)
            assert received.split(b" ", 2)[1] == status
            assert b"\r\nDate: " in received
        assert [reason for event, reason in audit.events if event == "limit"] == [limit]
        audit.events.clear()


# -- limits, timeouts and access control ----------------------------------------------------------


def test_the_connection_limit_answers_503_and_closes(audit: AuditRecords) -> None:
    with Served(hello, limits=Limits(max_connections=2)) as served:
        first, second = served.connect(), served.connect()
        third = served.connect()
        reply = served.read_response(third)
        assert reply.status == 503
        assert reply.header(b"date") is not None
        assert served.closed_by_server(third)
        for client in (first, second):
            served.send(client, get())
            assert served.read_response(client).status == 200
        assert ("limit", "max_connections") in audit.events
        first.close()
        served.settle()
        fourth = served.connect()
        served.send(fourth, get())
        assert served.read_response(fourth).status == 200  # a place became free


def test_every_admitted_client_is_audited_with_its_address_and_port(audit: AuditRecords) -> None:
    with Served(hello) as served:
        client = served.connect()
        served.send(client, get())
        assert served.read_response(client).status == 200
        port = served.acceptor.port
    (accepted,) = [vars(record) for record in audit.records if vars(record)["event"] == "accept"]
    assert accepted["peer"] == ipaddress.IPv4Address("127.0.0.1")
    assert accepted["local_port"] == port
    assert accepted["reason"] == "accepted"


def test_access_list_closes_refused_peers_before_reading(audit: AuditRecords) -> None:
    acl = AccessControlList(blocked=["127.0.0.0/8"])
    calls: list[Request] = []

    def handler(request: Request) -> ex.Sender[Response]:
        calls.append(request)
        return hello(request)

    with Served(handler, acl=acl) as served:
        client = served.connect()
        assert served.closed_by_server(client)
        assert served.receive(client, lambda got: False) == b""  # no answer, only a close
    assert calls == []
    assert [event for event, _ in audit.events] == ["deny"]


TIMEOUTS = Limits(header_timeout=10, request_timeout=30, idle_timeout=5, write_timeout=20)


@pytest.fixture
def vts() -> Iterator[ex.VirtualTimeScheduler]:
    with ex.VirtualTimeScheduler() as scheduler:
        yield scheduler


def test_the_header_timer_starts_at_accept(
    vts: ex.VirtualTimeScheduler, audit: AuditRecords
) -> None:
    with Served(hello, context=vts, limits=TIMEOUTS) as served:
        client = served.connect()
        served.advance(9)
        assert not served.closed_by_server(client)
        served.advance(1.5)
        assert served.closed_by_server(client)
        assert ("limit", "header_timeout") in audit.events


def test_slowloris_trickling_a_head_is_cut_at_the_header_deadline(
    vts: ex.VirtualTimeScheduler,
) -> None:
    with Served(hello, context=vts, limits=TIMEOUTS) as served:
        client = served.connect()
        data = get(b"/", b"X-Slow: " + b"s" * 40)
        for index in range(len(data) - 1):
            if served.closed_by_server(client):
                break
            served.send(client, data[index : index + 1])
            served.advance(0.5)  # a byte every half second keeps no per-read timer happy
        assert served.closed_by_server(client)
        assert vts.time() < 11.5


def test_slowloris_on_a_kept_alive_connection_is_cut_at_the_header_deadline(
    vts: ex.VirtualTimeScheduler,
) -> None:
    with Served(hello, context=vts, limits=TIMEOUTS) as served:
        client = served.connect()
        # Each byte goes out at once (Nagle would hold them until an ACK, in real time).
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        served.send(client, get())
        assert served.read_response(client).status == 200
        started = vts.time()
        data = get(b"/", b"X-Slow: " + b"s" * 40)
        for index in range(len(data) - 1):
            if served.closed_by_server(client):
                break
            served.send(client, data[index : index + 1])
            served.advance(0.5)  # each byte must not restart the header timer
        assert served.closed_by_server(client)
        assert vts.time() - started < 11.5


def test_a_request_body_has_an_absolute_deadline(
    vts: ex.VirtualTimeScheduler, audit: AuditRecords
) -> None:
    with Served(echo, context=vts, limits=TIMEOUTS) as served:
        client = served.connect()
        served.send(client, b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(100):
            if served.closed_by_server(client):
                break
            served.send(client, b"x")
            served.advance(1)
        assert served.closed_by_server(client)
        assert 29 <= vts.time() <= 31.5
        assert [reason for event, reason in audit.events if event == "limit"] == [
            "request_timeout"
        ]


def test_idle_keep_alive_connections_are_closed(
    vts: ex.VirtualTimeScheduler, audit: AuditRecords
) -> None:
    with Served(hello, context=vts, limits=TIMEOUTS) as served:
        client = served.connect()
        served.send(client, get())
        assert served.read_response(client).status == 200
        served.advance(4)
        assert not served.closed_by_server(client)
        served.send(client, get())  # a request resets the idle timer
        assert served.read_response(client).status == 200
        served.advance(4)
        assert not served.closed_by_server(client)
        served.advance(1.5)
        assert served.closed_by_server(client)
        assert [reason for event, reason in audit.events if event == "limit"] == ["idle_timeout"]


def _fill_the_pipe(served: Served) -> None:
    """Run the server until its write waits with both socket buffers full (on loopback the
    kernel moves and acknowledges the bytes inside the send calls: no wall-clock wait)."""
    for _ in range(3):
        served.settle()


def test_a_client_that_never_reads_is_cut_at_the_write_deadline(
    vts: ex.VirtualTimeScheduler, audit: AuditRecords
) -> None:
    big = b"z" * (8 * 1024 * 1024)

    def large(request: Request) -> ex.Sender[Response]:
        return ex.just(Response(200, (), big))

    with Served(large, context=vts, limits=TIMEOUTS) as served:
        client = served.connect()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        served.send(client, get())
        _fill_the_pipe(served)
        served.advance(19)
        assert not [event for event, _ in audit.events if event == "limit"]
        served.advance(3)  # 20 s without progress, give or take the sweep's tick
        assert [reason for event, reason in audit.events if event == "limit"] == ["write_timeout"]


@pytest.mark.skipif(sys.platform != "linux", reason="write progress is read from TCP_INFO")
def test_a_slow_reader_that_keeps_reading_is_not_cut(
    vts: ex.VirtualTimeScheduler, audit: AuditRecords
) -> None:
    """``write_timeout`` is a time without progress: a client reading a little every 15 s
    (write_timeout 20 s) gets its whole 8 MiB response, however long that takes."""
    big = b"z" * (8 * 1024 * 1024)

    def large(request: Request) -> ex.Sender[Response]:
        return ex.just(Response(200, (), big))

    with Served(large, context=vts, limits=TIMEOUTS) as served:
        client = served.connect()
        served.send(client, get())
        _fill_the_pipe(served)
        received = 0
        for _ in range(6):  # 90 s, far past the 20 s write_timeout
            served.advance(15)
            received += len(client.recv(65536))
            _fill_the_pipe(served)
        assert not [event for event, _ in audit.events if event == "limit"]
        while True:  # now read it all: the response completes
            try:
                chunk = client.recv(1 << 20)
            except BlockingIOError:
                served.settle()
                continue
            received += len(chunk)
            if received >= len(big):
                break
        assert received >= len(big)
        assert not [event for event, _ in audit.events if event == "limit"]


@pytest.mark.parametrize("length", [None, 5 * 6], ids=["chunked", "content-length"])
def test_a_slow_stream_is_not_cut_while_it_waits_for_its_next_piece(
    vts: ex.VirtualTimeScheduler, audit: AuditRecords, length: int | None
) -> None:
    """A stream with a piece every 25 s (server-sent events, quiet for longer than the 20 s
    write_timeout): write_timeout bounds each piece's write, not the whole response nor the
    waits between pieces."""
    def ticking(request: Request) -> ex.Sender[Response]:
        pieces = iter([b"tick%d" % number for number in range(6)] + [b""])

        def next_chunk() -> ex.Sender[bytes]:
            return vts.schedule_after(25) | ex.then(lambda _: next(pieces))

        return ex.just(Response(200, TEXT, StreamBody(next_chunk, content_length=length)))

    with Served(ticking, context=vts, limits=TIMEOUTS) as served:
        client = served.connect()
        served.send(client, get())
        for _ in range(7):
            served.advance(25)
        reply = served.read_response(client)
        assert reply.body == b"tick0tick1tick2tick3tick4tick5"
        assert not [event for event, _ in audit.events if event == "limit"]


def test_a_handler_past_the_request_deadline_is_stopped_and_frees_its_place(
    vts: ex.VirtualTimeScheduler, audit: AuditRecords
) -> None:
    stopped: list[float] = []

    def stuck(request: Request) -> ex.Sender[Response]:
        return (
            vts.schedule_after(100_000)
            | ex.then(lambda _: Response(200, TEXT, b"never"))
            | ex.upon_stopped(lambda: stopped.append(vts.time()))
            | ex.then(lambda _: Response(200, TEXT, b"stopped"))
        )

    limits = attrs.evolve(TIMEOUTS, max_connections=1)
    with Served(stuck, context=vts, limits=limits) as served:
        client = served.connect()
        served.send(client, get())
        served.advance(29)
        assert stopped == []
        served.advance(2.5)  # past request_timeout (30 s from the first byte)
        assert served.closed_by_server(client)
        assert len(stopped) == 1  # the handler was asked to stop
        assert 30 <= stopped[0] <= 31.5
        served.advance(10)  # and the sweep does not come back to it
        assert [reason for event, reason in audit.events if event == "limit"] == [
            "request_timeout"
        ]
        other = served.connect()  # max_connections=1: the place is free, no 503
        assert not served.closed_by_server(other)


def test_peers_are_normalised_on_a_dual_stack_acceptor() -> None:
    peers: list[Any] = []

    def record(request: Request) -> ex.Sender[Response]:
        peers.append(request.peer)
        return hello(request)

    with Served(record, host="::") as served:
        client = served.connect("127.0.0.1")
        served.send(client, get())
        assert served.read_response(client).status == 200
        address, port = peers[0]
        assert address == ipaddress.IPv4Address("127.0.0.1")
        assert port == client.getsockname()[1]


@pytest.mark.parametrize(
    "rule", ["127.0.0.0/8", "::ffff:127.0.0.0/104"], ids=["ipv4-rule", "mapped-rule"]
)
def test_an_ipv4_rule_refuses_an_ipv4_client_of_a_dual_stack_acceptor(
    audit: AuditRecords, rule: str
) -> None:
    """The dual-stack bypass: on ``::`` an IPv4 client arrives as ``::ffff:127.0.0.1``; an
    IPv4 rule (or its mapped form) must still refuse it, and the audit names it as IPv4."""
    with Served(hello, host="::", acl=AccessControlList(blocked=[rule])) as served:
        client = served.connect("127.0.0.1")
        assert served.closed_by_server(client)
    (denied,) = [vars(record) for record in audit.records if vars(record)["event"] == "deny"]
    assert denied["peer"] == ipaddress.IPv4Address("127.0.0.1")


@pytest.mark.ipv6
def test_ipv6_clients_are_served() -> None:
    with Served(hello, host="::1") as served:
        client = served.connect("::1")
        served.send(client, get())
        assert served.read_response(client).body == b"hello /"


def test_the_monitor_counts_requests_and_errors() -> None:
    monitor = PerfMonitor()

    def handler(request: Request) -> ex.Sender[Response]:
        status = 503 if request.path == b"/down" else 200
        return ex.just(Response(status, (), b""))

    with Served(handler, monitor=monitor) as served:
        client = served.connect()
        served.send(client, get(b"/") + get(b"/down") + get(b"/"))
        for _ in range(3):
            served.read_response(client)
    snapshot = monitor.snapshot()
    assert snapshot.operations == 3
    assert snapshot.errors == 1


def test_access_log_writes_one_record_per_request(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dsexec.access")
    with Served(hello, access_log=True) as served:
        client = served.connect()
        served.send(client, get(b"/logged"))
        served.read_response(client)
    records = [record for record in caplog.records if record.name == "dsexec.access"]
    assert len(records) == 1
    assert "GET /logged" in records[0].getMessage()
    assert "200" in records[0].getMessage()


def test_monitor_and_access_log_are_read_when_a_connection_is_admitted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from dsexec.http import HttpServer
    from dsexec.net import create_acceptor

    caplog.set_level(logging.INFO, logger="dsexec.access")
    with ex.IoContext() as context, create_acceptor(0, "127.0.0.1") as acceptor:
        server = HttpServer(context.get_scheduler(), hello)
        source = ex.StopSource()
        receiver: Any = ex.testing.RecordingReceiver(stop_token=source.token)
        server.run(acceptor).connect(receiver).start()
        clients: list[socket.socket] = []

        def ask(client: socket.socket, path: bytes) -> None:
            client.sendall(get(path))
            answer = b""

            def answered() -> bool:
                nonlocal answer
                with contextlib.suppress(BlockingIOError):
                    answer += client.recv(65536)
                return answer.endswith(b"hello " + path)

            context.run_until(answered)

        try:
            for _ in range(2):
                clients.append(socket.create_connection(("127.0.0.1", acceptor.port)))
                clients[-1].setblocking(False)
                if len(clients) == 1:
                    ask(clients[0], b"/before")
                    server.access_log = True
                    server.monitor = PerfMonitor()
            ask(clients[0], b"/old-connection")
            ask(clients[1], b"/new-connection")
            source.request_stop()
            context.run_until(lambda: receiver.completed)
        finally:
            for client in clients:
                client.close()
    logged = [record.getMessage() for record in caplog.records if record.name == "dsexec.access"]
    assert len(logged) == 1
    assert "/new-connection" in logged[0]
    assert server.monitor is not None
    assert server.monitor.snapshot().operations == 1


# -- draining -------------------------------------------------------------------------------------


def test_a_stop_drains_idle_connections_and_completes() -> None:
    with Served(hello) as served:
        port = served.acceptor.port
        client = served.connect()
        served.send(client, get())
        served.read_response(client)
        served.stop()
        assert served.receiver.value is None
        assert served.closed_by_server(client)
        assert served.acceptor.closed  # new clients are refused, not left in a backlog
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_a_drain_finishes_requests_in_flight(vts: ex.VirtualTimeScheduler) -> None:
    def slow(request: Request) -> ex.Sender[Response]:
        return vts.schedule_after(3) | ex.then(lambda _: Response(200, TEXT, b"late"))

    with Served(slow, context=vts, drain_timeout=10) as served:
        client = served.connect()
        served.send(client, get())
        served.source.request_stop()
        served.settle()
        assert not served.done
        served.advance(3)
        reply = served.read_response(client)
        assert reply.body == b"late"
        assert reply.header(b"connection") == b"close"
        served.settle(until=lambda: served.done)
        assert served.receiver.value is None


def test_a_drain_stops_what_is_left_at_its_deadline(vts: ex.VirtualTimeScheduler) -> None:
    def stuck(request: Request) -> ex.Sender[Response]:
        return vts.schedule_after(1000) | ex.then(lambda _: Response(200, (), b""))

    with Served(stuck, context=vts, drain_timeout=2) as served:
        client = served.connect()
        served.send(client, get())
        served.source.request_stop()
        served.advance(2.5)
        served.settle(until=lambda: served.done)
        assert served.closed_by_server(client)
        assert vts.time() < 10


def test_a_drain_deadline_and_a_request_deadline_in_one_sweep(
    vts: ex.VirtualTimeScheduler, caplog: pytest.LogCaptureFixture
) -> None:
    def stuck(request: Request) -> ex.Sender[Response]:
        return vts.schedule_after(1000) | ex.then(lambda _: Response(200, (), b""))

    limits = Limits(request_timeout=2, header_timeout=2)
    with Served(stuck, context=vts, limits=limits, drain_timeout=2) as served:
        client = served.connect()
        served.send(client, get())
        served.source.request_stop()
        served.advance(2.5)
        served.settle(until=lambda: served.done)
        assert served.closed_by_server(client)
        assert served.receiver.value is None
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []


def test_a_closed_connection_reports_no_addresses() -> None:
    from dsexec.http import HttpConnection
    from dsexec.net import Socket

    left, right = socket.socketpair()
    right.close()
    conn = HttpConnection(Socket(left))
    conn.close()
    assert conn.local is None


# -- building a loop from the pieces ------------------------------------------------------------


def test_a_user_loop_from_the_public_pieces() -> None:
    from dsexec.http import HttpConnection, read_request, write_response
    from dsexec.net import async_accept, create_acceptor

    with ex.IoContext() as context, create_acceptor(0, "127.0.0.1") as acceptor:
        sch = context.get_scheduler()

        def serve(sock: Any) -> ex.Sender[Any]:
            conn = HttpConnection(sock)
            return (
                read_request(sch, conn)
                | ex.let_value(hello)
                | ex.let_value(lambda response: write_response(sch, conn, response))
                | ex.repeat_until(lambda conn: conn.closing)
                | ex.stopped_as_optional()
                | ex.finally_(ex.just(conn) | ex.then(HttpConnection.close))
            )

        with socket.create_connection(("127.0.0.1", acceptor.port)) as client:
            client.sendall(get(b"/1") + get(b"/2", b"Connection: close"))
            ex.sync_wait(async_accept(sch, acceptor) | ex.let_value(serve), context=context)
            client.settimeout(5)
            received = b""
            while chunk := client.recv(65536):
                received += chunk
        assert received.count(b"HTTP/1.1 200 OK") == 2
        assert b"hello /2" in received


# -- one server, several ports --------------------------------------------------------------------


def test_one_server_serves_several_acceptors_and_drains_them_together() -> None:
    from dsexec.http import HttpServer
    from dsexec.net import create_acceptor

    with (
        ex.IoContext() as context,
        create_acceptor(0, "127.0.0.1") as first,
        create_acceptor(0, "127.0.0.1") as second,
    ):
        server = HttpServer(context.get_scheduler(), hello)
        source = ex.StopSource()
        receiver: Any = ex.testing.RecordingReceiver(stop_token=source.token)
        server.run(first, second).connect(receiver).start()
        clients = [socket.create_connection(("127.0.0.1", a.port)) for a in (first, second)]
        try:
            for client in clients:
                client.sendall(get(b"/port"))
                client.setblocking(False)
            answers = [b"", b""]

            def answered() -> bool:
                for index, client in enumerate(clients):
                    with contextlib.suppress(BlockingIOError):
                        answers[index] += client.recv(65536)
                return all(answer.endswith(b"hello /port") for answer in answers)

            context.run_until(answered)
            draining_before = server.draining
            source.request_stop()
            context.run_until(lambda: receiver.completed)
            assert (draining_before, server.draining) == (False, True)
            assert server.open_connections == 0
            for client in clients:
                client.setblocking(True)
                assert client.recv(65536) == b""  # closed by the drain
        finally:
            for client in clients:
                client.close()


def test_closing_every_acceptor_ends_the_server() -> None:
    from dsexec.http import HttpServer
    from dsexec.net import create_acceptor

    with ex.IoContext() as context, create_acceptor(0, "127.0.0.1") as acceptor:
        server = HttpServer(context.get_scheduler(), hello)
        receiver: Any = ex.testing.RecordingReceiver()
        server.run(acceptor).connect(receiver).start()
        context.poll()
        acceptor.close()
        context.run_until(lambda: receiver.completed)
        assert receiver.value is None


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"handler": 3}, TypeError),
        ({"limits": {}}, TypeError),
        ({"drain_timeout": -1}, ValueError),
        ({"drain_timeout": float("nan")}, ValueError),
        ({"scheme": "ftp"}, ValueError),
        ({"acl": ["10.0.0.0/8"]}, TypeError),
    ],
)
def test_bad_server_arguments_are_refused(kwargs: dict[str, Any], error: type[Exception]) -> None:
    from dsexec.http import HttpServer

    with ex.IoContext() as context:
        options: dict[str, Any] = {"handler": hello, **kwargs}
        with pytest.raises(error):
            HttpServer(context.get_scheduler(), **options)
        with pytest.raises(ValueError, match="at least one"):
            HttpServer(context.get_scheduler(), hello).run()
