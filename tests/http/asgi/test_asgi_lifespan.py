"""The ``lifespan`` protocol: startup before the first client, shutdown after the drain, a
failed startup stops the server with the app's message, apps without lifespan support run
anyway (``auto``), on every backend."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import anyio.abc
import httpx
import pytest
from anyio import wait_all_tasks_blocked
from tests.http.asgi._support import Records, serving

from dsexec.http.asgi import Lifespan, LifespanFailed, Receive, Scope, Send, serve_asgi
from dsexec.net import create_acceptor


class LifespanApp:
    """Speaks the lifespan protocol as told, records what happens, answers requests."""

    def __init__(self, *, startup: str = "complete", shutdown: str = "complete") -> None:
        self.startup = startup
        self.shutdown = shutdown
        self.events: list[str] = []
        self.release_startup: anyio.Event | None = None
        self.release_request: anyio.Event | None = None
        self.request_waiting = anyio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(scope, receive, send)
            return
        self.events.append(f"request {scope['path']} (state {scope['state']})")
        if self.release_request is not None:
            self.request_waiting.set()
            await self.release_request.wait()
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"ok"})
        self.events.append(f"answered {scope['path']}")

    async def lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message == {"type": "lifespan.startup"}
        assert scope["asgi"]["version"] == "3.0"
        self.events.append("startup")
        if self.release_startup is not None:
            await self.release_startup.wait()
        if self.startup == "raise":
            raise RuntimeError("no lifespan here")
        if self.startup == "return":
            return
        if self.startup == "failed":
            await send({"type": "lifespan.startup.failed", "message": "no database"})
            return
        scope["state"]["ready"] = True
        await send({"type": "lifespan.startup.complete"})
        message = await receive()
        assert message == {"type": "lifespan.shutdown"}
        self.events.append("shutdown")
        if self.shutdown == "failed":
            await send({"type": "lifespan.shutdown.failed", "message": "could not flush"})
        else:
            await send({"type": "lifespan.shutdown.complete"})


@pytest.mark.anyio
async def test_startup_runs_before_any_request_and_fills_the_state() -> None:
    app = LifespanApp()
    app.release_startup = anyio.Event()
    acceptor = create_acceptor(0, "127.0.0.1")
    answers: list[str] = []
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(lambda: serve_asgi(app, acceptor))

        async def client() -> None:
            async with httpx.AsyncClient() as http:
                answers.append((await http.get(f"http://127.0.0.1:{acceptor.port}/x")).text)

        tasks.start_soon(client)
        await wait_all_tasks_blocked()
        assert app.events == ["startup"]  # the client waits in the backlog
        app.release_startup.set()
        while not answers:
            await anyio.sleep(0)
        tasks.cancel_scope.cancel()
    acceptor.close()
    assert answers == ["ok"]
    assert app.events == [
        "startup",
        "request /x (state {'ready': True})",
        "answered /x",
        "shutdown",
    ]


@pytest.mark.anyio
async def test_shutdown_waits_for_the_drain_of_requests_in_flight() -> None:
    app = LifespanApp()
    app.release_request = anyio.Event()
    async with anyio.create_task_group() as outer:
        answers: list[str] = []
        server = anyio.CancelScope()

        async def run_server(*, task_status: anyio.abc.TaskStatus[str]) -> None:
            with server:
                async with serving(app) as url:
                    task_status.started(url)
                    await anyio.sleep_forever()

        url = await outer.start(run_server)

        async def client() -> None:
            async with httpx.AsyncClient() as http:
                answers.append((await http.get(f"{url}/slow")).text)

        outer.start_soon(client)
        await app.request_waiting.wait()
        server.cancel()  # the server drains: the request in flight may finish
        await wait_all_tasks_blocked()
        assert "shutdown" not in app.events
        app.release_request.set()
    assert answers == ["ok"]
    assert app.events[-2:] == ["answered /slow", "shutdown"]


@pytest.mark.anyio
async def test_a_failed_startup_stops_the_server_with_the_apps_message() -> None:
    app = LifespanApp(startup="failed")
    acceptor = create_acceptor(0, "127.0.0.1")
    with pytest.raises(LifespanFailed, match="startup failed: no database"):
        await serve_asgi(app, acceptor)
    acceptor.close()
    assert app.events == ["startup"]


@pytest.mark.anyio
@pytest.mark.parametrize("startup", ["raise", "return"])
async def test_an_app_without_lifespan_support_is_served_anyway(
    startup: str, http_log: Records
) -> None:
    app = LifespanApp(startup=startup)
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/")).text == "ok"
    assert "shutdown" not in app.events
    (info,) = http_log.messages(logging.INFO)
    assert "running without startup and shutdown" in info


@pytest.mark.anyio
@pytest.mark.parametrize("startup", ["raise", "return"])
async def test_lifespan_on_requires_the_app_to_complete_startup(startup: str) -> None:
    app = LifespanApp(startup=startup)
    acceptor = create_acceptor(0, "127.0.0.1")
    with pytest.raises(LifespanFailed, match="before completing its lifespan startup"):
        await serve_asgi(app, acceptor, lifespan="on")
    acceptor.close()


@pytest.mark.anyio
async def test_lifespan_off_never_calls_the_app_with_it() -> None:
    app = LifespanApp()
    async with serving(app, lifespan="off") as url, httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/")).text == "ok"
    assert app.events == ["request / (state {})", "answered /"]


@pytest.mark.anyio
async def test_a_failed_shutdown_is_logged(http_log: Records) -> None:
    app = LifespanApp(shutdown="failed")
    async with serving(app):
        pass
    assert http_log.messages(logging.ERROR) == ["ASGI lifespan shutdown failed: could not flush"]


@pytest.mark.anyio
async def test_lifespan_is_a_context_manager_of_its_own() -> None:
    app = LifespanApp()
    async with Lifespan(app, state={"given": 1}) as state:
        assert state == {"given": 1, "ready": True}
        assert app.events == ["startup"]
    assert app.events == ["startup", "shutdown"]


@pytest.mark.anyio
async def test_unexpected_lifespan_messages_fail_the_app() -> None:
    errors: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        try:
            await send({"type": "lifespan.shutdown.complete"})  # not asked yet
        except RuntimeError as exc:
            errors.append(exc)
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})

    async with Lifespan(app):
        pass
    assert len(errors) == 1


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"app": 42}, TypeError),
        ({"mode": "sometimes"}, ValueError),
        ({"state": [1]}, TypeError),
    ],
)
def test_lifespan_checks_its_arguments(arguments: dict[str, Any], error: type[Exception]) -> None:
    options: dict[str, Any] = {"app": LifespanApp(), **arguments}
    app = options.pop("app")
    with pytest.raises(error):
        Lifespan(app, **options)


@pytest.mark.anyio
async def test_serve_asgi_needs_an_acceptor() -> None:
    with pytest.raises(ValueError, match="at least one Acceptor"):
        await serve_asgi(LifespanApp())
