"""``Lifespan``: the ASGI ``lifespan`` protocol of one application (ASGI lifespan spec 2.0).

``async with Lifespan(app) as state:`` runs the app once with a ``lifespan`` scope in a task of
its own: entering sends ``lifespan.startup`` and waits for ``lifespan.startup.complete``;
leaving sends ``lifespan.shutdown`` and waits for ``lifespan.shutdown.complete`` (shielded from
cancellation: a server being stopped still shuts its app down). ``state`` is the scope's
``state`` dict: what the app puts there at startup, each request's scope gets a copy of.

The app's lifespan task is shielded from the cancellation of the code around it (a server
being stopped cancels everything in it), so it always gets its ``lifespan.shutdown``.

``lifespan.startup.failed`` raises :class:`LifespanFailed` with the app's message. An app that
does not speak the protocol -- it raises on the ``lifespan`` scope, or returns, before
completing startup -- is fine in ``mode="auto"`` (logged at INFO, the block runs without
startup and shutdown, as uvicorn's "auto" does) and a :class:`LifespanFailed` in ``mode="on"``;
``mode="off"`` never calls the app. A failed shutdown is logged to ``dsexec.http``.
"""

from __future__ import annotations

import logging
from typing import Any, Final, final

import anyio
import anyio.abc

from ..._core import DsexecError
from ._scope import ASGI_VERSION
from ._types import ASGIApp

__all__ = ["LIFESPAN_MODES", "Lifespan", "LifespanFailed"]

_logger = logging.getLogger("dsexec.http")
LIFESPAN_MODES: Final = ("auto", "on", "off")


class LifespanFailed(DsexecError):
    """Raised when an ASGI app's lifespan startup fails: ``lifespan.startup.failed`` (the
    message is the app's), or -- with ``mode="on"`` -- an app that raises or returns before
    completing startup."""


@final
class Lifespan:
    """``async with Lifespan(app, mode="auto", state=None) as state:`` starts the app up on
    entry and shuts it down on exit (see the module docstring). ``supported`` tells, once
    entered, whether the app speaks the protocol."""

    __slots__ = (
        "_app_scope",
        "_error",
        "_failed",
        "_phase",
        "_returned",
        "_shutdown_asked",
        "_shutdown_done",
        "_startup_done",
        "_tasks",
        "app",
        "mode",
        "state",
        "supported",
    )

    app: ASGIApp
    """The application."""
    mode: str
    """``"auto"``, ``"on"`` or ``"off"``."""
    state: dict[str, Any]
    """The lifespan scope's ``state``."""
    supported: bool | None
    """Whether the app completed startup (``None`` before entering or with ``mode="off"``)."""

    def __init__(
        self, app: ASGIApp, *, mode: str = "auto", state: dict[str, Any] | None = None
    ) -> None:
        if not callable(app):
            raise TypeError(f"Lifespan: app must be an ASGI callable, got {app!r:.60}")
        if mode not in LIFESPAN_MODES:
            raise ValueError(f"Lifespan: mode must be 'auto', 'on' or 'off', got {mode!r}")
        if state is not None and not isinstance(state, dict):
            raise TypeError(f"Lifespan: state must be a dict, got {type(state).__name__}")
        self.app = app
        self.mode = mode
        self.state = {} if state is None else state
        self.supported = None
        self._tasks: anyio.abc.TaskGroup | None = None
        self._phase = 0  # receive() calls answered: 0 none, 1 startup, 2 shutdown
        self._failed: str | None = None
        self._error: BaseException | None = None
        self._returned = False

    async def __aenter__(self) -> dict[str, Any]:
        """Start the app up; ``LifespanFailed`` if it says its startup failed."""
        if self.mode == "off":
            return self.state
        if self._tasks is not None:
            raise RuntimeError("Lifespan: already entered")
        self._startup_done = anyio.Event()
        self._shutdown_asked = anyio.Event()
        self._shutdown_done = anyio.Event()
        self._app_scope = anyio.CancelScope()
        tasks = self._tasks = anyio.create_task_group()
        await tasks.__aenter__()
        try:
            tasks.start_soon(self._run)
            await self._startup_done.wait()
        except BaseException:
            self._app_scope.cancel()
            await tasks.__aexit__(None, None, None)
            raise
        failure = self._startup_failure()
        if failure is not None:
            self._app_scope.cancel()
            await tasks.__aexit__(None, None, None)
            raise LifespanFailed(failure) from self._error
        return self.state

    def _startup_failure(self) -> str | None:
        if self._failed is not None:
            return f"the app's lifespan startup failed: {self._failed}"
        if self.supported:
            return None
        how = f"raised {self._error!r}" if self._error is not None else "returned"
        if self.mode == "on":
            return f"the app {how} before completing its lifespan startup"
        _logger.info(
            "ASGI lifespan: the app %s on the 'lifespan' scope: running without startup "
            "and shutdown",
            how,
            exc_info=self._error,
        )
        return None

    async def __aexit__(self, *exc_info: object) -> None:
        """Shut the app down (shielded from cancellation), then end its task."""
        tasks = self._tasks
        if tasks is None:
            return
        self._tasks = None
        if self.supported and not self._returned:
            with anyio.CancelScope(shield=True):
                self._shutdown_asked.set()
                await self._shutdown_done.wait()
            if self._failed is not None:
                _logger.error("ASGI lifespan shutdown failed: %s", self._failed)
            elif self._error is not None:
                _logger.error("ASGI lifespan shutdown raised", exc_info=self._error)
        self._app_scope.cancel()
        await tasks.__aexit__(None, None, None)

    async def _run(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": ASGI_VERSION, "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            # The app's task outlives a cancelled server until its shutdown is over: only
            # this object's own scope cancels it.
            with anyio.CancelScope(shield=True), self._app_scope:
                await self.app(scope, self._receive, self._send)
        except anyio.get_cancelled_exc_class():
            raise
        except Exception as exc:
            self._error = exc
        else:
            self._returned = True
        finally:
            self._startup_done.set()
            self._shutdown_done.set()

    async def _receive(self) -> dict[str, Any]:
        phase = self._phase
        if phase == 0:
            self._phase = 1
            return {"type": "lifespan.startup"}
        if phase == 1:
            await self._shutdown_asked.wait()
            self._phase = 2
            return {"type": "lifespan.shutdown"}
        await anyio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(self, message: Any) -> None:
        kind = message["type"]
        if kind == "lifespan.startup.complete" and not self._startup_done.is_set():
            self.supported = True
            self._startup_done.set()
        elif kind == "lifespan.startup.failed" and not self._startup_done.is_set():
            self._failed = str(message.get("message", "")) or "(no message)"
            self._startup_done.set()
        elif kind == "lifespan.shutdown.complete" and self._phase == 2:
            self._shutdown_done.set()
        elif kind == "lifespan.shutdown.failed" and self._phase == 2:
            self._failed = str(message.get("message", "")) or "(no message)"
            self._shutdown_done.set()
        else:
            raise RuntimeError(f"ASGI lifespan: unexpected message {kind!r} at this point")
