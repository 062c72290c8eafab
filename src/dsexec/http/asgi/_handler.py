"""``asgi_handler(app)``: an ASGI 3 application as a ``dsexec.http`` handler.

The handler is what ``serve_http`` / ``HttpServer`` call per request; it returns the sender of
the response (an :class:`~._exchange.Exchange`), which runs the app (``_driver.py``) and
completes once the app has said enough to write the answer. So an ASGI app slots into any
pipeline built from the HTTP senders::

    server = HttpServer(AnyioScheduler(), asgi_handler(app))

The scheduler decides how the app's coroutine runs (see ``_driver.py``): on an
``AnyioScheduler`` (asyncio, uvloop, trio) apps may await anything; on an ``IoContext`` only
``receive`` and ``send``.
"""

from __future__ import annotations

import contextvars
from typing import Any, final

from ..._core import Sender
from ...schedulers import reactor_of
from ...schedulers._anyio._scheduler import anyio_reactor_of
from .._request import Request
from .._response import Response
from ._driver import AsyncioDriver, Driver, InlineDriver, TaskDriver
from ._exchange import Exchange
from ._types import ASGIApp

__all__ = ["AsgiHandler", "asgi_handler"]


@final
class AsgiHandler:
    """An ASGI 3 app as a ``dsexec.http`` handler: ``handler(request)`` is the sender of the
    app's response to ``request``.

    ``AsgiHandler(app, *, root_path="", state=None)``: ``root_path`` is the prefix a proxy
    strips (it goes into the scope's ``root_path`` and in front of ``path``/``raw_path``);
    ``state`` the lifespan state, of which every request's scope gets a shallow copy. Use it on
    one event loop at a time; ``close()`` lets its idle runner tasks go (the loop's end does it
    too).
    """

    __slots__ = ("_driver", "_scheduler", "app", "context", "root_path", "state")

    app: ASGIApp
    """The ASGI application."""
    root_path: str
    """The scope's ``root_path``."""
    state: dict[str, Any]
    """The lifespan state copied into each request's scope."""
    context: contextvars.Context
    """The context each request's copy is taken from (the one the handler was made in)."""

    def __init__(
        self, app: ASGIApp, *, root_path: str = "", state: dict[str, Any] | None = None
    ) -> None:
        if not callable(app):
            raise TypeError(f"asgi_handler: app must be an ASGI callable, got {app!r:.60}")
        if not isinstance(root_path, str):
            raise TypeError(f"asgi_handler: root_path must be a str, got {root_path!r:.60}")
        if root_path.endswith("/") or (root_path and not root_path.startswith("/")):
            raise ValueError(
                f"asgi_handler: root_path must be empty or start with '/' and not end with "
                f"one, got {root_path!r}"
            )
        if state is not None and not isinstance(state, dict):
            raise TypeError(f"asgi_handler: state must be a dict, got {type(state).__name__}")
        self.app = app
        self.root_path = root_path
        self.state = {} if state is None else state
        self.context = contextvars.copy_context()
        self._scheduler: object = None
        self._driver: Driver | None = None

    def __call__(self, request: Request) -> Sender[Response]:
        """The sender of the app's response to ``request`` (connect it once)."""
        driver = self._driver
        scheduler = request.connection.scheduler
        if scheduler is not self._scheduler or driver is None:
            driver = self._driver_for(scheduler)
        return Exchange(self, request, driver)

    def _driver_for(self, scheduler: object) -> Driver:
        if scheduler is None:
            raise RuntimeError("asgi_handler: the request was not read with read_request")
        previous = self._driver
        anyio = anyio_reactor_of(scheduler)
        driver: Driver
        if anyio is None:
            driver = InlineDriver(reactor_of(scheduler, "asgi_handler"))
        elif anyio.backend == "asyncio":
            driver = AsyncioDriver(anyio)
        else:
            driver = TaskDriver(anyio)
        if previous is not None:
            previous.close()
        self._scheduler = scheduler
        self._driver = driver
        return driver

    def close(self) -> None:
        """Let the idle runner tasks go (nothing else to release)."""
        driver = self._driver
        self._driver = None
        self._scheduler = None
        if driver is not None:
            driver.close()

    def __repr__(self) -> str:
        return f"<AsgiHandler {self.app!r:.60}>"


def asgi_handler(
    app: ASGIApp, *, root_path: str = "", state: dict[str, Any] | None = None
) -> AsgiHandler:
    """``app`` as a ``dsexec.http`` handler (``Callable[[Request], Sender[Response]]``); see
    :class:`AsgiHandler`. ``TypeError``/``ValueError`` for a bad argument."""
    return AsgiHandler(app, root_path=root_path, state=state)
