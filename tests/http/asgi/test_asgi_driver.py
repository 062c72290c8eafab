"""How an app's coroutine runs: inline while it only awaits ``receive``/``send``, in a task from
the moment it waits for anything else -- on asyncio, uvloop and trio.

The drivers are tested directly with small jobs, then through a real server with apps that
use what real apps use: anyio cancel scopes across a wait, ``anyio.to_thread``,
``asyncio.timeout``, context variables, streaming with sleeps, bodies that arrive in pieces.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
from collections.abc import Coroutine
from typing import Any

import anyio
import httpx
import pytest
from tests._helpers.served import Served
from tests.http.asgi._support import serving

import dsexec as ex
from dsexec.http.asgi import Receive, Scope, Send, asgi_handler
from dsexec.http.asgi._driver import (
    START,
    AsyncioDriver,
    Cancellable,
    Continue,
    InlineDriver,
    TaskDriver,
)
from dsexec.schedulers._anyio._scheduler import current_anyio_reactor
from dsexec.security import Limits


class FakeJob:
    """A driver's job: a coroutine, and what became of it."""

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.coro = coro
        self.ctx = contextvars.copy_context()
        self.task: Cancellable | None = None
        self.stepping = False
        self.outcomes: list[BaseException | None] = []
        self.done = anyio.Event()
        self.flushes = 0

    def flush(self) -> None:
        assert not self.stepping
        self.flushes += 1

    def app_done(self, error: BaseException | None) -> None:
        self.outcomes.append(error)
        self.done.set()


def asyncio_only(backend: object) -> None:
    name = backend if isinstance(backend, str) else backend[0]  # type: ignore[index]
    if name != "asyncio":
        pytest.skip("about asyncio's tasks")


# -- the asyncio driver -------------------------------------------------------------------


@pytest.mark.anyio
async def test_asyncio_driver_finishes_a_coroutine_that_does_not_wait_inline(
    anyio_backend: object,
) -> None:
    asyncio_only(anyio_backend)
    tasks: list[object] = []

    async def app() -> None:
        tasks.append(asyncio.current_task())

    driver = AsyncioDriver(current_anyio_reactor())
    loop = asyncio.get_running_loop()
    done: list[FakeJob] = []

    def run_two() -> None:  # as the server does: from a loop callback, outside any task
        for _ in range(2):
            job = FakeJob(app())
            driver.start(job)
            done.append(job)
            assert job.outcomes == [None]  # over before start() returned

    loop.call_soon(run_two)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert len(done) == 2
    assert [job.flushes for job in done] == [1, 1]  # once the step was over
    first, second = tasks
    assert isinstance(first, asyncio.Task)  # a task to ask about, as in any task
    assert first is second  # the same parked runner: no task per request
    driver.close()


@pytest.mark.anyio
async def test_asyncio_driver_continues_a_waiting_coroutine_in_the_task_it_started_in(
    anyio_backend: object,
) -> None:
    asyncio_only(anyio_backend)
    tasks: list[object] = []

    async def app() -> str:
        tasks.append(asyncio.current_task())
        with anyio.fail_after(10):  # a cancel scope across the wait
            await asyncio.sleep(0)
        tasks.append(asyncio.current_task())
        return "done"

    driver = AsyncioDriver(current_anyio_reactor())
    job = FakeJob(app())
    asyncio.get_running_loop().call_soon(driver.start, job)
    await job.done.wait()
    assert job.outcomes == [None]
    before, after = tasks
    assert before is after
    assert job.task is None  # given back
    driver.close()


@pytest.mark.anyio
async def test_asyncio_driver_started_from_inside_a_task_runs_the_job_in_a_runner(
    anyio_backend: object,
) -> None:
    asyncio_only(anyio_backend)
    tasks: list[object] = []

    async def app() -> None:
        tasks.append(asyncio.current_task())

    driver = AsyncioDriver(current_anyio_reactor())
    job = FakeJob(app())
    driver.start(job)  # this test's own task is running
    assert job.outcomes == []
    await job.done.wait()
    assert tasks[0] is not asyncio.current_task()
    driver.close()


@pytest.mark.anyio
async def test_asyncio_driver_throws_a_cancellation_in_where_the_app_waits(
    anyio_backend: object,
) -> None:
    asyncio_only(anyio_backend)
    seen: list[str] = []
    waiting = anyio.Event()

    async def app() -> None:
        try:
            waiting.set()
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    driver = AsyncioDriver(current_anyio_reactor())
    job = FakeJob(app())
    asyncio.get_running_loop().call_soon(driver.start, job)
    await waiting.wait()
    await asyncio.sleep(0)
    assert job.task is not None
    job.task.cancel()
    await job.done.wait()
    assert seen == ["cancelled"]
    assert isinstance(job.outcomes[0], asyncio.CancelledError)
    driver.close()


# -- the other drivers ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_task_driver_runs_each_app_in_a_task_of_its_own(anyio_backend: object) -> None:
    tasks: list[object] = []

    async def app() -> None:
        await anyio.sleep(0)
        tasks.append(anyio.get_current_task().id)

    driver = TaskDriver(current_anyio_reactor())
    jobs = [FakeJob(app()), FakeJob(app())]
    for job in jobs:
        driver.start(job)
        assert job.outcomes == []
    for job in jobs:
        await job.done.wait()
        assert job.outcomes == [None]
    assert len(set(tasks)) == 2
    assert anyio.get_current_task().id not in tasks


@pytest.mark.anyio
async def test_continue_passes_values_and_errors_through_to_the_coroutine(
    anyio_backend: object,
) -> None:
    async def app() -> int:
        await anyio.sleep(0)
        with pytest.raises(ZeroDivisionError):
            raise ZeroDivisionError
        return 7

    job = FakeJob(app())
    assert await Continue(job, START) is False
    assert job.outcomes == [None]


def test_inline_driver_refuses_an_app_awaiting_something_foreign() -> None:
    errors: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await asyncio.sleep(0)
        except RuntimeError as exc:
            errors.append(exc)
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"carried on"})

    with Served(asgi_handler(app)) as served:
        client = served.connect()
        served.send(client, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        assert served.read_response(client).body == b"carried on"
    (error,) = errors
    assert "needs an event loop" in str(error)


def test_inline_driver_resumes_an_app_whose_body_arrives_later() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        data = b""
        more = True
        while more:
            message = await receive()
            data += message["body"]
            more = message["more_body"]
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": data.upper()})

    with Served(asgi_handler(app)) as served:
        client = served.connect()
        served.send(client, b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n\r\nabc")
        served.send(client, b"def")
        assert served.read_response(client).body == b"ABCDEF"


def test_an_inline_driver_is_chosen_off_an_anyio_loop() -> None:
    with ex.IoContext() as context:
        handler = asgi_handler(lambda scope, receive, send: None)  # type: ignore[arg-type,return-value]
        driver = handler._driver_for(context.get_scheduler())
        assert isinstance(driver, InlineDriver)
        assert driver.anyio is None
        handler.close()


# -- through a real server ----------------------------------------------------------------

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="unset")


async def real_app(scope: Scope, receive: Receive, send: Send) -> None:
    """What real apps do between receive and send, by path."""
    if scope["type"] != "http":
        return
    path = scope["path"]
    text = path
    if path == "/sleep":
        await anyio.sleep(0)
    elif path == "/scope":
        with anyio.fail_after(10):
            await anyio.sleep(0)
            await receive()
    elif path == "/thread":
        text = await anyio.to_thread.run_sync(lambda: "from a thread")
    elif path == "/task-group":
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(anyio.sleep, 0)
    elif path == "/contextvar":
        text = VAR.get()
        VAR.set("leaked?")
    elif path == "/asyncio-timeout":
        async with asyncio.timeout(10):
            await asyncio.sleep(0)
    elif path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for index in range(3):
            await anyio.sleep(0)
            await send({"type": "http.response.body", "body": b"%d," % index, "more_body": True})
        await send({"type": "http.response.body"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": text.encode()})


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("/plain", "/plain"),
        ("/sleep", "/sleep"),
        ("/scope", "/scope"),
        ("/thread", "from a thread"),
        ("/task-group", "/task-group"),
        ("/stream", "0,1,2,"),
    ],
)
async def test_apps_that_wait_for_anything_work_on_every_backend(path: str, text: str) -> None:
    async with serving(real_app) as url, httpx.AsyncClient(base_url=url) as client:
        for _ in range(3):  # on one keep-alive connection
            response = await client.get(path)
            assert response.status_code == 200
            assert response.text == text


@pytest.mark.anyio
@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is 3.11+")
async def test_asyncio_timeout_works_inside_a_request(anyio_backend: object) -> None:
    asyncio_only(anyio_backend)
    async with serving(real_app) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.get("/asyncio-timeout")
    assert response.text == "/asyncio-timeout"


@pytest.mark.anyio
async def test_a_response_sent_from_a_child_task_goes_out() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return

        async def answer() -> None:
            await send({"type": "http.response.start", "status": 200})
            await send({"type": "http.response.body", "body": b"from a child task"})

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(answer)

    async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
        for _ in range(2):
            assert (await client.get("/")).text == "from a child task"


@pytest.mark.anyio
async def test_a_response_goes_out_when_the_app_waits_after_sending_it() -> None:
    sent = anyio.Event()
    release = anyio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"early"})
        sent.set()
        await release.wait()  # e.g. a background task: the client has its answer already

    async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/")).text == "early"
        assert sent.is_set()
        release.set()


@pytest.mark.anyio
async def test_context_variables_set_by_a_request_do_not_leak_into_the_next() -> None:
    async with serving(real_app) as url, httpx.AsyncClient(base_url=url) as client:
        texts = [(await client.get("/contextvar")).text for _ in range(3)]
    assert texts == ["unset"] * 3


@pytest.mark.anyio
async def test_a_body_sent_in_pieces_reaches_the_app_piece_by_piece() -> None:
    got_first = anyio.Event()
    pieces: list[bytes] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            pieces.append(message["body"])
            got_first.set()
            more = message["more_body"]
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"+".join(pieces)})

    async with serving(app) as url:
        port = int(url.rsplit(":", 1)[1])
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            await stream.send(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 8\r\n\r\nfirst")
            await got_first.wait()  # the app waits in receive() for the rest
            await stream.send(b"end")
            received = b""
            while not received.endswith(b"first+end"):
                received += await stream.receive()
    assert pieces == [b"first", b"end"]


@pytest.mark.anyio
async def test_a_drain_running_out_cancels_an_app_that_never_answers() -> None:
    events: list[str] = []
    waiting = anyio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        try:
            waiting.set()
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            events.append("cancelled")
            raise

    options: dict[str, Any] = {"drain_timeout": 0.02, "limits": Limits(idle_timeout=0.04)}
    async with serving(app, **options) as url:
        port = int(url.rsplit(":", 1)[1])
        stream = await anyio.connect_tcp("127.0.0.1", port)
        await stream.send(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        await waiting.wait()
    # serving() returned: drained, the app cancelled, the connection closed
    assert events == ["cancelled"]
    with pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError, OSError)):
        await stream.receive()
    await stream.aclose()


@pytest.mark.anyio
async def test_a_fast_app_streams_no_faster_than_the_client_reads() -> None:
    sent: list[int] = []
    piece = b"x" * (1 << 20)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200})
        for index in range(64):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            sent.append(index)
        await send({"type": "http.response.body"})

    async with serving(app) as url:
        port = int(url.rsplit(":", 1)[1])
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            await stream.send(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
            previous = -1
            while len(sent) != previous:  # until the app is stuck in send()
                previous = len(sent)
                for _ in range(20):
                    await anyio.sleep(0)
            assert len(sent) < 32  # bounded by the socket buffers, not by the app
            received = 0
            tail = b""
            while not tail.endswith(b"\r\n0\r\n\r\n"):  # the last chunk
                data = await stream.receive(1 << 20)
                received += len(data)
                tail = (tail + data)[-16:]
    assert len(sent) == 64
    assert received > 64 * len(piece)
