"""``StreamBody``: chunked by default, ``Content-Length`` framed with ``content_length=N`` (and
then exactly N bytes, or the connection closes), and ``HEAD`` answers that keep the framing
header without the body on a connection that stays open."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from tests._helpers.served import Served

import dsexec as ex
from dsexec.http import Request, Response, StreamBody


def pieces(*parts: bytes) -> StreamBody:
    return stream_of(parts)


def stream_of(parts: Iterable[bytes], length: int | None = None) -> StreamBody:
    remaining = list(parts)

    def next_chunk() -> ex.Sender[bytes]:
        return ex.just(remaining.pop(0) if remaining else b"")

    return StreamBody(next_chunk, content_length=length)


def serve(body: StreamBody, raw: bytes) -> tuple[bytes, bool]:
    """What the client receives (up to the close, or the first response) and whether closed."""

    def handler(request: Request) -> ex.Sender[Response]:
        return ex.just(Response(200, [(b"x", b"y")], body))

    with Served(handler) as served:
        client = served.connect()
        served.send(client, raw)
        if raw.startswith(b"HEAD"):
            reply = served.read_response(client, head_only=True)
            return str(reply.headers).encode(), served.closed_by_server(client)
        received = served.receive(client, lambda data: False)
        return received, served.closed_by_server(client)


GET = b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"


def test_a_stream_with_a_content_length_is_sent_with_it() -> None:
    received, _ = serve(stream_of([b"abc", b"def"], length=6), GET)
    head, _, body = received.partition(b"\r\n\r\n")
    assert b"Content-Length: 6\r\n" in head
    assert b"Transfer-Encoding" not in head
    assert body == b"abcdef"


def test_a_stream_with_a_content_length_keeps_the_connection() -> None:
    def handler(request: Request) -> ex.Sender[Response]:
        return ex.just(Response(200, [], stream_of([b"ab", b"cd"], length=4)))

    with Served(handler) as served:
        client = served.connect()
        for _ in range(2):
            served.send(client, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
            reply = served.read_response(client)
            assert reply.body == b"abcd"
        assert not served.closed_by_server(client)


@pytest.mark.parametrize("parts", [[b"abc", b"defg"], [b"abc"]], ids=["more", "fewer"])
def test_a_stream_that_breaks_its_content_length_is_cut_off(parts: list[bytes]) -> None:
    received, closed = serve(stream_of(parts, length=6), GET)
    _, _, body = received.partition(b"\r\n\r\n")
    assert closed
    assert len(body) < 6  # never a complete-looking body


def test_head_of_a_chunked_stream_stays_open_and_says_chunked() -> None:
    headers, closed = serve(pieces(b"never", b"sent"), b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n")
    assert b"transfer-encoding': b'chunked" in headers
    assert not closed


def test_head_of_a_stream_with_a_length_says_the_length() -> None:
    headers, closed = serve(stream_of([b"x"], length=1234), b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n")
    assert b"content-length': b'1234" in headers
    assert not closed


def test_an_http_1_0_client_keeps_alive_with_a_length() -> None:
    def handler(request: Request) -> ex.Sender[Response]:
        return ex.just(Response(200, [], stream_of([b"ok"], length=2)))

    with Served(handler) as served:
        client = served.connect()
        served.send(client, b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        reply = served.read_response(client)
        assert reply.header(b"connection") == b"keep-alive"
        assert reply.body == b"ok"
        assert not served.closed_by_server(client)


@pytest.mark.parametrize(("length", "error"), [(-1, ValueError), ("1", TypeError)])
def test_content_length_is_checked(length: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        StreamBody(lambda: ex.just(b""), content_length=length)  # type: ignore[arg-type]
