"""The ASGI message rules: what ``receive()`` gives, what ``send()`` takes, the response shapes
they add up to, and what happens when an app breaks them -- over real sockets, on an
``IoContext`` the test drives (``Served``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from tests._helpers.served import Reply, Served
from tests.http.asgi._support import Records

from dsexec.http.asgi import ClientDisconnected, Message, Receive, Scope, Send, asgi_handler
from dsexec.security import Limits

App = Callable[[Scope, Receive, Send], Coroutine[Any, Any, None]]
GET = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
HEAD = b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n"


def post(body: bytes) -> bytes:
    return b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def start(status: int = 200, headers: list[tuple[bytes, bytes]] | None = None) -> Message:
    return {"type": "http.response.start", "status": status, "headers": headers or []}


def body(data: bytes = b"", more: bool = False) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": more}


def exchange(app: App, raw: bytes = GET, **options: Any) -> tuple[Reply, bool]:
    """The answer to ``raw``, and whether the server closed the connection after it."""
    with Served(asgi_handler(app), **options) as served:
        client = served.connect()
        served.send(client, raw)
        reply = served.read_response(client, head_only=raw.startswith(b"HEAD"))
        return reply, served.closed_by_server(client)


# -- receive ------------------------------------------------------------------------------


def test_a_request_without_body_gives_one_empty_http_request_then_disconnect() -> None:
    messages: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        messages.append(await receive())
        await send(start())
        await send(body(b"ok"))
        messages.append(await receive())

    reply, closed = exchange(app)
    assert (reply.status, reply.body, closed) == (200, b"ok", False)
    assert messages == [
        {"type": "http.request", "body": b"", "more_body": False},
        {"type": "http.disconnect"},
    ]


def test_a_body_comes_in_pieces_with_more_body_until_the_last() -> None:
    pieces: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            pieces.append(message)
            if not message.get("more_body"):
                break
        await send(start())
        await send(body(b"".join(piece["body"] for piece in pieces)))

    with Served(asgi_handler(app)) as served:
        client = served.connect()
        served.send(client, b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nhello")
        served.send(client, b" worl")
        served.send(client, b"d")  # one byte more than announced: the next request's
        reply = served.read_response(client)
    assert reply.body == b"hello world"[:10]
    assert [piece["more_body"] for piece in pieces] == [True, False]
    assert all(piece["type"] == "http.request" for piece in pieces)


def test_a_chunked_body_ends_with_an_empty_last_message() -> None:
    pieces: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            pieces.append(message)
            if not message["more_body"]:
                break
        await send(start())
        await send(body(b"|".join(piece["body"] for piece in pieces)))

    raw = (
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    reply, _ = exchange(app, raw)
    assert b"".join(piece["body"] for piece in pieces) == b"hello world"
    assert pieces[-1] == {"type": "http.request", "body": b"", "more_body": False}
    assert reply.status == 200


def test_a_body_over_the_limit_is_answered_413_and_the_app_sees_a_disconnect(
    http_log: Records,
) -> None:
    seen: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:  # (pieces up to the limit may come first)
            message = await receive()
            seen.append(message)
            if message["type"] == "http.disconnect" or not message["more_body"]:
                break
        await send(start())  # too late: the connection is gone

    chunked = (
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"14\r\n" + b"x" * 20 + b"\r\n0\r\n\r\n"
    )
    reply, closed = exchange(app, chunked, limits=Limits(max_body_bytes=10))
    assert reply.status == 413
    assert closed
    assert seen[-1] == {"type": "http.disconnect"}
    assert all(message["type"] == "http.request" for message in seen[:-1])
    assert not http_log.messages(logging.ERROR)  # the app's OSError is no news


def test_a_stop_wakes_an_app_waiting_for_the_rest_of_its_body_with_a_disconnect() -> None:
    seen: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(await receive())  # the first piece
        seen.append(await receive())  # waits: the rest never comes

    with Served(asgi_handler(app), drain_timeout=0.01, limits=Limits(idle_timeout=0.04)) as served:
        client = served.connect()
        served.send(client, b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc")
        assert len(seen) == 1
        served.stop()  # the drain runs out: the connection is stopped
        assert served.closed_by_server(client)
    assert seen == [
        {"type": "http.request", "body": b"abc", "more_body": True},
        {"type": "http.disconnect"},
    ]


def test_receive_after_the_response_says_disconnect_at_once() -> None:
    late: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        await send(body(b"done"))
        late.append(await receive())
        late.append(await receive())

    reply, _ = exchange(app, post(b"unread"))
    assert reply.body == b"done"
    assert late == [{"type": "http.disconnect"}] * 2


def test_an_unread_body_that_arrived_whole_keeps_the_connection() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        await send(body(b"ignored your body"))

    reply, closed = exchange(app, post(b"x" * 50))
    assert reply.body == b"ignored your body"
    assert not closed


# -- send: shapes ------------------------------------------------------------------------


def test_one_body_message_is_sent_with_a_content_length() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(201, [(b"content-type", b"text/plain"), (b"x-a", b"1")]))
        await send({"type": "http.response.body", "body": b"made"})

    reply, closed = exchange(app)
    assert reply.status == 201
    assert reply.header(b"content-length") == b"4"
    assert reply.header(b"transfer-encoding") is None
    assert reply.header(b"x-a") == b"1"
    assert reply.body == b"made"
    assert not closed


def test_more_body_streams_chunked_in_order() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        for piece in (b"one ", b"", b"two ", b"three"):
            await send(body(piece, more=True))
        await send(body())

    reply, closed = exchange(app)
    assert reply.header(b"transfer-encoding") == b"chunked"
    assert reply.header(b"content-length") is None
    assert reply.body == b"one two three"
    assert not closed


def test_the_apps_content_length_frames_a_streamed_body() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(200, [(b"Content-Length", b"6")]))
        await send(body(b"abc", more=True))
        await send(body(b"def"))

    reply, closed = exchange(app)
    assert reply.header(b"content-length") == b"6"
    assert reply.header(b"transfer-encoding") is None
    assert reply.body == b"abcdef"
    assert not closed


def test_the_apps_matching_content_length_is_kept_on_a_single_body() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(200, [(b"content-length", b"5")]))
        await send(body(b"exact"))

    reply, _ = exchange(app)
    assert reply.header(b"content-length") == b"5"
    assert reply.body == b"exact"


def test_transfer_encoding_chunked_from_the_app_is_honoured() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(200, [(b"transfer-encoding", b"chunked")]))
        await send(body(b"whole"))

    reply, _ = exchange(app)
    assert reply.header(b"transfer-encoding") == b"chunked"
    assert reply.body == b"whole"


def test_connection_close_from_the_app_closes_after_the_response() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(200, [(b"connection", b"close")]))
        await send(body(b"bye"))

    reply, closed = exchange(app)
    assert reply.header(b"connection") == b"close"
    assert reply.body == b"bye"
    assert closed


def test_head_keeps_the_length_of_the_body_it_leaves_out() -> None:
    async def whole(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        await send(body(b"twelve bytes"))

    async def announced(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(200, [(b"content-length", b"1234")]))
        await send(body())

    async def streamed(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        await send(body(b"never sent", more=True))
        await send(body(b"nor this"))

    for app, framing in (
        (whole, (b"content-length", b"12")),
        (announced, (b"content-length", b"1234")),
        (streamed, (b"transfer-encoding", b"chunked")),
    ):
        with Served(asgi_handler(app)) as served:
            client = served.connect()
            served.send(client, HEAD + HEAD)
            for _ in range(2):  # the connection carries on
                reply = served.read_response(client, head_only=True)
                assert reply.status == 200
                assert reply.header(framing[0]) == framing[1]
            assert not served.closed_by_server(client)


def test_no_content_answers_carry_no_body_framing() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(204, [(b"content-length", b"0")]))
        await send(body())

    reply, closed = exchange(app)
    assert reply.status == 204
    assert reply.header(b"content-length") is None
    assert not closed


def test_pathsend_sends_the_file(tmp_path: Path) -> None:
    path = tmp_path / "file.txt"
    path.write_bytes(b"file contents\n")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert "http.response.pathsend" in scope["extensions"]
        await send(start(200, [(b"content-type", b"text/plain")]))
        await send({"type": "http.response.pathsend", "path": os.fspath(path)})

    reply, closed = exchange(app)
    assert reply.header(b"content-length") == b"14"
    assert reply.body == b"file contents\n"
    assert not closed


def test_bytearray_and_memoryview_bodies_and_headers_are_accepted() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(200, [(bytearray(b"x-kind"), memoryview(b"mixed"))]))  # type: ignore[list-item]
        await send({"type": "http.response.body", "body": bytearray(b"bytes-ish")})

    reply, _ = exchange(app)
    assert reply.header(b"x-kind") == b"mixed"
    assert reply.body == b"bytes-ish"


# -- send: failures ----------------------------------------------------------------------


def failing(case: str) -> App:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if case == "raise before start":
            raise ZeroDivisionError("boom")
        if case == "body before start":
            await send(body(b"x"))
        if case == "unknown message":
            await send({"type": "http.response.trailers"})
        if case == "bad status":
            await send(start(99))
        if case == "str header":
            await send({"type": "http.response.start", "status": 200, "headers": [("a", "b")]})
        if case == "framing header":
            await send(start(200, [(b"transfer-encoding", b"gzip")]))
        if case == "bad content-length":
            await send(start(200, [(b"content-length", b"-1")]))
        await send(start(200, [(b"content-length", b"10")] if case == "length" else []))
        if case == "start twice":
            await send(start())
        if case == "raise after start":
            raise ZeroDivisionError("boom")
        if case == "return after start":
            return
        if case == "length":
            await send(body(b"short"))
        if case == "body for 204":
            await send(start(204))

    return app


@pytest.mark.parametrize(
    "case",
    [
        "raise before start",
        "body before start",
        "unknown message",
        "bad status",
        "str header",
        "framing header",
        "bad content-length",
        "start twice",
        "raise after start",
        "return after start",
        "length",
    ],
)
def test_an_app_that_fails_before_its_response_is_under_way_gets_500_and_a_close(
    case: str, http_log: Records
) -> None:
    reply, closed = exchange(failing(case))
    assert reply.status == 500
    assert reply.header(b"connection") == b"close"
    assert closed
    errors = http_log.messages(logging.ERROR)
    assert len(errors) == 1
    assert "500" in errors[0]


def test_an_app_returning_without_a_response_gets_500(http_log: Records) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()

    reply, closed = exchange(app)
    assert reply.status == 500
    assert closed
    (error,) = http_log.messages(logging.ERROR)
    assert error.startswith("ASGI app returned without a response to <Request GET b'/'>")


def streaming_then(case: str) -> App:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(200, [(b"content-length", b"8")] if "length" in case else []))
        await send(body(b"part", more=True))
        if case == "raise":
            raise ZeroDivisionError("mid-stream")
        if case == "return":
            return
        if case == "length over":
            await send(body(b"12345"))
        if case == "length under":
            await send(body(b"12"))

    return app


@pytest.mark.parametrize("case", ["raise", "return", "length over", "length under"])
def test_a_streamed_response_that_goes_wrong_is_cut_off_never_completed(
    case: str, http_log: Records
) -> None:
    with Served(asgi_handler(streaming_then(case))) as served:
        client = served.connect()
        served.send(client, GET)
        received = served.receive(client, lambda data: False)  # up to the close
    assert received.startswith(b"HTTP/1.1 200 OK\r\n")
    if "length" in case:
        _, _, sent = received.partition(b"\r\n\r\n")
        assert len(sent) < 8  # never as many bytes as announced
    else:
        assert b"part" in received
        assert not received.endswith(b"0\r\n\r\n")  # no last chunk: visibly truncated
    assert http_log.messages(logging.ERROR) or "length" in case


def test_send_after_the_client_is_gone_raises_an_oserror() -> None:
    errors: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        await send(body(b"first", more=True))
        message = await receive()  # waits: the response is not complete
        assert message == {"type": "http.disconnect"}
        try:
            await send(body(b"second", more=True))
        except OSError as exc:
            errors.append(exc)

    # a short drain: the stop reaches the connection at once
    with Served(asgi_handler(app), drain_timeout=0.01, limits=Limits(idle_timeout=0.04)) as served:
        client = served.connect()
        served.send(client, GET)
        served.receive(client, lambda data: b"first" in data)
        client.close()
        # the server notices when it next writes; a drain running out stops it now
        served.stop()
    assert len(errors) == 1
    assert isinstance(errors[0], ClientDisconnected)
    assert isinstance(errors[0], OSError)


def test_an_exchange_connects_once() -> None:
    from dsexec.http.asgi._exchange import Exchange

    sender_of: list[Exchange] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        await send(body(b"x"))

    handler = asgi_handler(app)

    def capture(request: Any) -> Any:
        exchange = handler(request)
        sender_of.append(exchange)  # type: ignore[arg-type]
        return exchange

    with Served(capture) as served:
        client = served.connect()
        served.send(client, GET)
        served.read_response(client)
    with pytest.raises(RuntimeError, match="connect it once"):
        sender_of[0].connect(object())  # type: ignore[arg-type]
