"""``read_request`` driven by hand on a socket pair, for what a user's own loop may do that
``serve_http`` never does: read again after a closing answer, or before answering."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

import dsexec as ex
from dsexec.http import HttpConnection, Request, Response, read_request, write_response
from dsexec.http._request import origin_form
from dsexec.net import Socket

GET = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
GET_CLOSE = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"


@pytest.fixture
def pair() -> Iterator[tuple[ex.IoContext, HttpConnection, socket.socket]]:
    server, client = socket.socketpair()
    with ex.IoContext() as context, client:
        conn = HttpConnection(Socket(server))
        try:
            yield context, conn, client
        finally:
            conn.close()


def test_no_request_follows_an_answer_that_closed_the_connection(
    pair: tuple[ex.IoContext, HttpConnection, socket.socket],
) -> None:
    context, conn, client = pair
    scheduler = context.get_scheduler()
    client.sendall(GET_CLOSE + GET)  # the second request is never read
    request = ex.sync_wait(read_request(scheduler, conn), context=context)
    assert isinstance(request, Request)
    ex.sync_wait(write_response(scheduler, conn, Response(200)), context=context)
    assert conn.closing
    after = read_request(scheduler, conn) | ex.stopped_as_optional()
    assert ex.sync_wait(after, context=context) is None  # stopped: no request


def test_reading_before_the_request_is_answered_is_an_error(
    pair: tuple[ex.IoContext, HttpConnection, socket.socket],
) -> None:
    context, conn, client = pair
    scheduler = context.get_scheduler()
    client.sendall(GET + GET)
    ex.sync_wait(read_request(scheduler, conn), context=context)
    with pytest.raises(RuntimeError, match="has not been answered"):
        ex.sync_wait(read_request(scheduler, conn), context=context)
    assert not conn.closing


def test_a_scheduler_without_a_reactor_is_refused_when_the_write_is_built(
    pair: tuple[ex.IoContext, HttpConnection, socket.socket],
) -> None:
    _, conn, _ = pair
    with pytest.raises(TypeError, match="write_response: needs a scheduler with an I/O reactor"):
        write_response(ex.InlineScheduler(), conn, Response(200))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("target", "origin"),
    [
        (b"/a%20b?x=1", b"/a%20b?x=1"),
        (b"http://t/a%20b?x=1", b"/a%20b?x=1"),
        (b"https://t:8443", b"/"),
        (b"http://t?x=1", b"/?x=1"),
        (b"http://t/", b"/"),
        (b"*", b"*"),  # OPTIONS *
        (b"t:443", b"t:443"),  # CONNECT's authority form
    ],
)
def test_origin_form_keeps_the_path_and_query_of_an_absolute_target(
    target: bytes, origin: bytes
) -> None:
    assert origin_form(target) == origin


def test_an_absolute_form_target_gives_its_path_and_query(
    pair: tuple[ex.IoContext, HttpConnection, socket.socket],
) -> None:
    context, conn, client = pair
    client.sendall(b"GET http://t/a%20b?x=1 HTTP/1.1\r\nHost: t\r\n\r\n")
    request = ex.sync_wait(read_request(context.get_scheduler(), conn), context=context)
    assert request is not None
    assert request.target == b"http://t/a%20b?x=1"  # as sent
    assert (request.raw_path, request.path, request.query_string) == (b"/a%20b", b"/a b", b"x=1")
