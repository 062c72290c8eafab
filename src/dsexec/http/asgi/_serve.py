"""``serve_asgi(app, *acceptors)``: an ASGI application served on the running anyio loop.

The whole server, in order: the app's lifespan startup (:class:`Lifespan`; no client is
accepted before it completes, and a failed startup raises :class:`LifespanFailed` before any
is), then ``HttpServer(AnyioScheduler(), asgi_handler(app)).run(*acceptors)`` until the
awaiting task is cancelled -- which drains the server (no new clients, idle connections closed,
requests in flight finished for up to ``drain_timeout``) -- and last the lifespan shutdown. The
pipelines underneath are ``dsexec.http``'s: keep-alive, pipelining, the safety policy, limits
and timeouts are theirs.

Run it in a task and cancel that task to stop it (anyio's ``TaskGroup.start`` waits for the
startup: ``await tasks.start(serve_asgi, app, acceptor)``).
"""

from __future__ import annotations

import anyio
import anyio.abc

from ...net import Acceptor
from ...perf import PerfMonitor
from ...schedulers import AnyioScheduler
from ...security import AccessControlList, Limits
from .._connection import DEFAULT_LIMITS
from .._serve import HttpServer
from ._handler import AsgiHandler
from ._lifespan import Lifespan
from ._types import ASGIApp

__all__ = ["serve_asgi"]


async def serve_asgi(
    app: ASGIApp,
    *acceptors: Acceptor,
    lifespan: str = "auto",
    root_path: str = "",
    limits: Limits = DEFAULT_LIMITS,
    monitor: PerfMonitor | None = None,
    acl: AccessControlList | None = None,
    drain_timeout: float = 10.0,
    access_log: bool = False,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``acceptors`` until cancelled (see the module docstring).

    ``lifespan``: ``"auto"`` (the default: an app without lifespan support runs anyway),
    ``"on"`` or ``"off"``. ``root_path``: the prefix a proxy strips (the scope's
    ``root_path``). ``limits``, ``monitor``, ``acl``, ``drain_timeout`` and ``access_log`` are
    ``HttpServer``'s. ``task_status.started()`` is called once startup is done and the
    acceptors are served. Raises :class:`LifespanFailed` when the app's startup fails;
    ``TypeError``/``ValueError`` for bad arguments (before the app is called).
    """
    if not acceptors:
        raise ValueError("serve_asgi: give at least one Acceptor")
    handler = AsgiHandler(app, root_path=root_path)
    scheduler = AnyioScheduler()
    server = HttpServer(
        scheduler,
        handler,
        limits=limits,
        monitor=monitor,
        acl=acl,
        drain_timeout=drain_timeout,
        access_log=access_log,
    )
    serving = server.run(*acceptors)  # checks the acceptors
    async with Lifespan(app, mode=lifespan, state=handler.state):
        task_status.started()
        try:
            await serving
        finally:
            handler.close()
