"""``http.disconnect`` while the app is running: an app waiting in ``receive()`` after its body
hears of the client's close (also one polling with a cancelled ``receive()``, one streaming,
one on an ``IoContext``), of the server's deadline closing the socket, and of a drain running
out (before that cancels it); a request pipelined meanwhile is no disconnect and is served in
its turn; ``Expect: 100-continue`` is answered only when the app reads the body -- over real
sockets, on asyncio, trio and uvloop.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.abc
import pytest
from tests._helpers.served import Served
from tests.http.asgi._support import Records, serving

from dsexec import Sender
from dsexec.http import HttpServer, Request, Response
from dsexec.http.asgi import Message, Receive, Scope, Send, asgi_handler
from dsexec.net import create_acceptor
from dsexec.schedulers import AnyioScheduler
from dsexec.schedulers._anyio._scheduler import current_anyio_reactor
from dsexec.security import Limits

PATIENCE = 5.0  # seconds a test may take before it fails (each takes a fraction)
GET = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
EXPECT = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
DISCONNECT: Message = {"type": "http.disconnect"}
NO_BODY: Message = {"type": "http.request", "body": b"", "more_body": False}


def get(path: str) -> bytes:
    return b"GET %s HTTP/1.1\r\nHost: h\r\n\r\n" % path.encode()


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def start(status: int = 200) -> Message:
    return {"type": "http.response.start", "status": status, "headers": []}


def body(data: bytes = b"", more: bool = False) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": more}


async def read_until(stream: anyio.abc.ByteStream, wanted: bytes) -> bytes:
    """What the server sends until ``wanted`` has come, or it closes."""
    received = b""
    while wanted not in received:
        try:
            received += await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            break
    return received


@contextlib.asynccontextmanager
async def serving_requests(app: Any) -> AsyncIterator[tuple[int, list[Request]]]:
    """``app`` served as ``serve_asgi`` serves it (lifespan aside) on a free port; the port,
    and the requests it got (a test can look into their connection)."""
    handler = asgi_handler(app)
    requests: list[Request] = []

    def capture(request: Request) -> Sender[Response]:
        requests.append(request)
        return handler(request)

    acceptor = create_acceptor(0, "127.0.0.1")
    try:
        async with anyio.create_task_group() as tasks:
            server = HttpServer(AnyioScheduler(), capture, drain_timeout=0.5)

            async def serve() -> None:
                await server.run(acceptor)

            tasks.start_soon(serve)
            reactor = current_anyio_reactor()
            while reactor.waiter_counts()[0] == 0:  # until the acceptor waits for clients
                await anyio.sleep(0)
            yield acceptor.port, requests
            tasks.cancel_scope.cancel()
    finally:
        handler.close()
        acceptor.close()


# -- the client goes ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_an_app_waiting_after_its_body_gets_a_disconnect_when_the_client_closes() -> None:
    messages: list[Message] = []
    waiting = anyio.Event()
    told = anyio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        messages.append(await receive())  # the (empty) body
        waiting.set()
        messages.append(await receive())  # waits: the client is there, no response yet
        told.set()

    with anyio.fail_after(PATIENCE):
        async with serving(app) as url:  # no deadline near: only the close can tell the app
            reactor = current_anyio_reactor()
            idle = reactor.waiter_counts()
            stream = await anyio.connect_tcp("127.0.0.1", port_of(url))
            await stream.send(GET)
            await waiting.wait()  # the app is in its second receive() by now
            await stream.aclose()
            await told.wait()  # promptly, without a drain
            assert messages == [NO_BODY, DISCONNECT]
            # the app has returned and the connection is closed: no read is left pending
            assert reactor.waiter_counts() == idle


def test_on_an_io_context_an_app_waiting_in_receive_hears_of_the_close() -> None:
    messages: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        messages.append(await receive())
        messages.append(await receive())  # parks the inline driver: resumed by the watch

    with Served(asgi_handler(app)) as served:
        client = served.connect()
        served.send(client, GET)
        assert messages == [NO_BODY]
        client.close()
        served.settle(until=lambda: len(messages) == 2)
        assert messages == [NO_BODY, DISCONNECT]


@pytest.mark.anyio
async def test_a_streaming_app_hears_of_the_close_and_the_connection_ends_quietly(
    http_log: Records,
) -> None:
    told = anyio.Event()
    errors: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send(start())
        await send(body(b"event 1\n", more=True))  # as server-sent events go
        message = await receive()  # the body is not read: the wait watches for the close
        assert message == DISCONNECT
        try:
            await send(body(b"event 2\n", more=True))
        except OSError as exc:
            errors.append(exc)
        told.set()

    with anyio.fail_after(PATIENCE):
        async with serving(app) as url:
            stream = await anyio.connect_tcp("127.0.0.1", port_of(url))
            await stream.send(EXPECT)  # a body the app never reads, announced with Expect
            received = await read_until(stream, b"event 1\n")
            assert CONTINUE not in received  # the watch reads, but asks for no body
            await stream.aclose()
            await told.wait()
    assert len(errors) == 1  # send() after the disconnect raises an OSError (ASGI 2.4)
    assert not http_log.messages(logging.WARNING)  # the client went: nothing to report


@pytest.mark.anyio
async def test_an_app_polling_with_a_cancelled_receive_learns_of_the_close() -> None:
    polls: list[int] = []
    told = anyio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await receive()  # the (empty) body
        while True:  # Starlette's Request.is_disconnected, between pieces of work
            message: Message = {}
            with anyio.CancelScope() as poll:
                poll.cancel()
                message = await receive()
            if message.get("type") == "http.disconnect":
                break
            polls.append(len(polls))
            await anyio.sleep(0)  # the app's work: a checkpoint, the loop runs meanwhile
        told.set()

    with anyio.fail_after(PATIENCE):
        async with serving(app) as url:
            stream = await anyio.connect_tcp("127.0.0.1", port_of(url))
            await stream.send(GET)
            while not polls:  # the app has polled once: it has found nothing yet
                await anyio.sleep(0.001)
            await stream.aclose()
            await told.wait()


@pytest.mark.anyio
async def test_the_request_deadline_closing_the_socket_wakes_a_waiting_app_with_a_disconnect() -> (
    None
):
    messages: list[Message] = []
    told = anyio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        messages.append(await receive())
        messages.append(await receive())  # the client stays, silent, past request_timeout
        told.set()

    limits = Limits(request_timeout=0.2)
    with anyio.fail_after(PATIENCE):
        async with serving(app, limits=limits) as url:
            stream = await anyio.connect_tcp("127.0.0.1", port_of(url))
            await stream.send(GET)
            await told.wait()
            assert messages == [NO_BODY, DISCONNECT]
            assert await read_until(stream, b"never") == b""  # closed, without an answer
            await stream.aclose()


@pytest.mark.anyio
async def test_a_drain_running_out_tells_an_app_waiting_in_receive_before_cancelling_it() -> None:
    events: list[str] = []
    waiting = anyio.Event()
    ended = anyio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await receive()  # the (empty) body
        waiting.set()
        try:
            events.append((await receive())["type"])
            await anyio.sleep_forever()  # clean-up that would take too long
        except anyio.get_cancelled_exc_class():
            events.append("cancelled")
            raise
        finally:
            ended.set()

    options: dict[str, Any] = {"drain_timeout": 0.02, "limits": Limits(idle_timeout=0.04)}
    with anyio.fail_after(PATIENCE):
        async with serving(app, **options) as url:
            stream = await anyio.connect_tcp("127.0.0.1", port_of(url))
            await stream.send(GET)
            await waiting.wait()
        await ended.wait()  # drained: the app is told, then cancelled where it waits next
        await stream.aclose()
    assert events == ["http.disconnect", "cancelled"]


# -- the client stays ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_request_pipelined_while_the_app_waits_is_no_disconnect_and_is_served_next() -> (
    None
):
    seen: list[object] = []
    waiting = anyio.Event()
    answer = anyio.Event()
    told = anyio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path != "/first":
            await send(start())
            await send(body(path.encode()))
            return
        await receive()  # the (empty) body

        async def listen() -> None:
            waiting.set()
            seen.append(await receive())  # waits until the response is complete
            told.set()

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(listen)
            await answer.wait()
            seen.append("answered")
            await send(start())
            await send(body(b"/first"))

    with anyio.fail_after(PATIENCE):
        async with serving_requests(app) as (port, requests):
            reactor = current_anyio_reactor()
            idle = reactor.waiter_counts()
            stream = await anyio.connect_tcp("127.0.0.1", port)
            await stream.send(get("/first"))
            await waiting.wait()
            await stream.send(get("/second"))  # pipelined: the first is not answered yet
            parser = requests[0].connection.parser
            while parser.trailing_data != get("/second"):  # the watch takes it in
                await anyio.sleep(0.001)
            answer.set()
            received = await read_until(stream, b"/second")
            assert received.count(b"HTTP/1.1 200") == 2
            assert received.index(b"/first") < received.index(b"/second")
            await told.wait()  # the app's listener may run after the client has read both
            assert seen == ["answered", DISCONNECT]  # after the response, not before
            # the watch is gone: the connection reads its next request as usual
            await stream.send(get("/third"))
            assert b"/third" in await read_until(stream, b"/third")
            await stream.aclose()
            while reactor.waiter_counts() != idle:  # once the server has seen the close
                await anyio.sleep(0.001)
    assert [request.path for request in requests] == [b"/first", b"/second", b"/third"]


@pytest.mark.anyio
async def test_receive_after_the_response_still_says_disconnect_at_once() -> None:
    late: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send(start())
        await send(body(b"done"))
        late.append(await receive())  # the response is complete: no wait, no read

    with anyio.fail_after(PATIENCE):
        async with serving(app) as url:
            stream = await anyio.connect_tcp("127.0.0.1", port_of(url))
            for _ in range(2):  # on one kept-alive connection
                await stream.send(GET)
                assert b"done" in await read_until(stream, b"done")
            await stream.aclose()
    assert late == [DISCONNECT, DISCONNECT]


# -- Expect: 100-continue -----------------------------------------------------------------


@pytest.mark.anyio
async def test_expect_continue_is_answered_when_the_app_reads_the_body() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        pieces = []
        more = True
        while more:
            message = await receive()
            pieces.append(message["body"])
            more = message["more_body"]
        await send(start())
        await send(body(b"got " + b"".join(pieces)))

    with anyio.fail_after(PATIENCE):
        async with serving(app) as url:
            stream = await anyio.connect_tcp("127.0.0.1", port_of(url))
            await stream.send(EXPECT)
            assert await read_until(stream, b"\r\n\r\n") == CONTINUE
            await stream.send(b"body")
            received = await read_until(stream, b"got body")
            assert received.startswith(b"HTTP/1.1 200")
            await stream.aclose()


@pytest.mark.anyio
async def test_expect_continue_is_not_sent_when_the_app_answers_without_reading() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send(start(417))
        await send(body(b"not that"))

    with anyio.fail_after(PATIENCE):
        async with serving(app) as url:
            stream = await anyio.connect_tcp("127.0.0.1", port_of(url))
            await stream.send(EXPECT)
            received = await read_until(stream, b"never")  # up to the server's close
            assert received.startswith(b"HTTP/1.1 417")  # a final answer, no 100 before it
            assert CONTINUE not in received
            assert b"connection: close" in received.lower()  # the body was left unsent
            assert received.endswith(b"not that")
            await stream.aclose()
