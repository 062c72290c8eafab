"""``serve_http`` over real loopback sockets: chunk framing limits and empty lines between
requests get the same answer whether the bytes come whole or one at a time."""

from __future__ import annotations

import pytest
from tests._helpers.served import Served
from tests.http.test_serve import feed

import dsexec as ex
from dsexec.http import Request, Response
from dsexec.security import Limits

TEXT = [(b"content-type", b"text/plain")]
CHUNKED = b"POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
LIMITS = Limits(max_header_bytes=128, max_body_bytes=100)
WHOLE = pytest.mark.parametrize("whole", [True, False], ids=["whole", "byte-by-byte"])


def path_and_body(request: Request) -> ex.Sender[Response]:
    return request.body() | ex.then(lambda body: Response(200, TEXT, request.path + b":" + body))


def refusal(data: bytes, *, whole: bool) -> bytes:
    """The status the server answers ``data`` with; it must then close the connection."""
    with Served(path_and_body, limits=LIMITS) as served:
        client = served.connect()
        feed(served, client, data, whole=whole)
        received = served.receive(client, lambda got: False)  # up to the close
        assert received.count(b"HTTP/1.1 ") == 1
        assert b"Connection: close" in received
        return received.split(b" ", 2)[1]


@WHOLE
def test_a_chunked_body_over_max_body_bytes_is_413(whole: bool) -> None:
    data = CHUNKED + b"40\r\n" + b"a" * 64 + b"\r\n" + b"40\r\n" + b"b" * 64 + b"\r\n0\r\n\r\n"
    assert refusal(data, whole=whole) == b"413"


@WHOLE
def test_an_over_long_chunk_extension_is_400(whole: bool) -> None:
    data = CHUNKED + b"1;a=" + b"e" * 300 + b"\r\nx\r\n0\r\n\r\n"
    assert refusal(data, whole=whole) == b"400"


@WHOLE
def test_an_over_long_trailer_is_431(whole: bool) -> None:
    data = CHUNKED + b"1\r\nx\r\n0\r\nX-T: " + b"v" * 300 + b"\r\n\r\n"
    assert refusal(data, whole=whole) == b"431"


@WHOLE
def test_extensions_and_trailers_within_the_limit_are_served(whole: bool) -> None:
    body = b"3;a=" + b"e" * 100 + b"\r\nabc\r\n0;z\r\nX-T: " + b"v" * 100 + b"\r\n\r\n"
    with Served(path_and_body, limits=LIMITS) as served:
        client = served.connect()
        feed(served, client, CHUNKED + body, whole=whole)
        reply = served.read_response(client)
        assert (reply.status, reply.body) == (200, b"/p:abc")


@WHOLE
def test_a_crlf_before_a_pipelined_request_does_not_lose_it(whole: bool) -> None:
    data = (
        b"\r\nPOST /1 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc\r\n"
        b"GET /2 HTTP/1.1\r\nHost: t\r\n\r\n"
        + CHUNKED
        + b"2\r\nxy\r\n0\r\n\r\n\r\n"
        + b"GET /4 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    with Served(path_and_body, limits=LIMITS) as served:
        client = served.connect()
        feed(served, client, data, whole=whole)
        bodies = [served.read_response(client) for _ in range(4)]
        assert [(r.status, r.body) for r in bodies] == [
            (200, b"/1:abc"),
            (200, b"/2:"),
            (200, b"/p:xy"),
            (200, b"/4:"),
        ]
        assert served.closed_by_server(client)
