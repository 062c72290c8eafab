"""``AnyioScheduler``: a dsexec scheduler on the running anyio event loop (asyncio, uvloop, trio).

Theory of operation
-------------------
``AnyioScheduler`` is a :class:`~dsexec.schedulers.IoScheduler` whose reactor is the
running loop, seen through the callback-level :class:`~dsexec.schedulers.Reactor` interface
(``_backends/_asyncio.py``, ``_backends/_trio.py``). Every sender written against that interface --
``schedule``, ``schedule_after``, ``schedule_at``, ``wait_readable``, ``wait_writable`` and the
socket senders of ``dsexec.net`` -- therefore runs on asyncio, uvloop and trio unchanged.

There is one reactor per loop (per asyncio loop in a ``WeakKeyDictionary``, per trio run in a
``RunVar``), so every ``AnyioScheduler()`` created in one loop shares its fd-waiter table (one
waiter per fd direction holds across them) and they compare equal.

``async with AnyioScheduler() as sch:`` makes the block a small scope: while it is entered,
``sch`` hands its senders a *tracking* view of the reactor that counts what they leave pending
(posted callbacks, timers, fd waits, ``from_coroutine`` tasks). A normal exit waits
(cancellably) until that count drops to zero, so detached work started through ``sch`` in the
block has finished; an exit by exception does not wait (see ``_anyio_scope.py``).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, Protocol, Self, final

import sniffio

from .._backends._asyncio import AsyncioReactor
from .._reactor import IoScheduler, Reactor
from ._scope import ScopeReactor

__all__ = ["AnyioReactor", "AnyioScheduler", "Waiter", "current_anyio_reactor"]


class _Cancellable(Protocol):
    def cancel(self) -> object:
        """Cancel the task (idempotent; a no-op once it has finished)."""
        ...


class Waiter(Protocol):
    """A one-shot event a task waits on; ``set()`` is called on the loop thread."""

    def set(self) -> None:
        """Wake the waiting task (idempotent)."""

    def wait(self) -> Awaitable[object]:
        """Wait until ``set()`` was called."""
        ...


class AnyioReactor(Reactor, Protocol):
    """A :class:`Reactor` on an anyio backend, plus what ``from_coroutine`` needs."""

    @property
    def backend(self) -> str:
        """``"asyncio"`` (also for uvloop) or ``"trio"``."""
        ...

    @property
    def cancelled_exc_class(self) -> type[BaseException]:
        """The exception a cancelled task sees (``asyncio.CancelledError``, ``trio.Cancelled``)."""
        ...

    def spawn(self, fn: Callable[[], Coroutine[Any, Any, object]], /) -> _Cancellable:
        """Run ``fn()`` as a task on the loop (loop thread only); returns its cancel handle."""
        ...

    def create_waiter(self) -> Waiter:
        """A fresh one-shot event for a task of this loop (loop thread only)."""
        ...

    def waiter_counts(self) -> tuple[int, int]:
        """``(readers, writers)``: fd waits currently pending (for tests and statistics)."""
        ...


_asyncio_reactors: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncioReactor] = (
    weakref.WeakKeyDictionary()
)


def current_anyio_reactor() -> AnyioReactor:
    """The reactor of the running loop; ``RuntimeError`` when no anyio-capable loop runs here."""
    # trio publishes itself in sniffio's thread-local while it runs a task; checking that and
    # asyncio's running loop first keeps this cheap (it runs on every `await sender`).
    library = sniffio.thread_local.name
    if library is None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            reactor = _asyncio_reactors.get(loop)
            if reactor is None:
                reactor = _asyncio_reactors[loop] = AsyncioReactor(loop)
            return reactor
        try:
            library = sniffio.current_async_library()
        except sniffio.AsyncLibraryNotFoundError:
            library = None
    if library == "trio":
        from .._backends._trio import current_trio_reactor  # noqa: PLC0415 (trio is optional)

        return current_trio_reactor()
    found = "no async library" if library is None else f"{library!r}"
    raise RuntimeError(
        f"AnyioScheduler needs a running asyncio, uvloop or trio event loop, found {found}: "
        "create it inside `async def` code run by anyio.run(), asyncio.run() or trio.run()"
    )


@final
class AnyioScheduler(IoScheduler):
    """A scheduler on the running anyio event loop: asyncio, uvloop or trio.

    Create it inside the loop (``RuntimeError`` otherwise). Its senders complete on the loop
    thread; timers use the loop's clock (``loop.time()``, ``trio.current_time()``); fd waits
    allow one waiter per direction (``BusyResourceError``) and ``notify_closing(fd)`` wakes them
    with ``ClosedResourceError``. The same pipeline runs here as on an ``IoContext``::

        import anyio
        import dsexec as ex

        async def main() -> None:
            sch = ex.AnyioScheduler()
            print(await (sch.schedule_after(0.01) | ex.then(lambda _: "tick")))

            async with ex.AnyioScheduler() as scoped:
                ex.start_detached(scoped.schedule_after(0.01) | ex.then(print))
            # leaving the block waited for the detached work started through `scoped`

        anyio.run(main)  # or anyio.run(main, backend="trio")

    ``async with``: a normal exit waits (cancellably) until every operation started through
    this scheduler inside the block has completed; an exit by exception does not wait.
    """

    __slots__ = ("_base", "_scope", "reactor")

    reactor: AnyioReactor  # the loop's reactor, or inside ``async with`` the scope's view

    def __init__(self) -> None:
        base = current_anyio_reactor()
        self._base = base
        self.reactor = base
        self._scope: ScopeReactor | None = None

    @property
    def backend(self) -> str:
        """``"asyncio"`` (also for uvloop) or ``"trio"``."""
        return self._base.backend

    async def __aenter__(self) -> Self:
        if self._scope is not None:
            raise RuntimeError("AnyioScheduler: this scheduler is already in an `async with` block")
        scope = ScopeReactor(self._base)
        self._scope = scope
        self.reactor = scope
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        scope = self._scope
        self._scope = None
        self.reactor = self._base
        if exc_type is None and scope is not None:
            await scope.wait_idle()

    def __eq__(self, other: object) -> bool:
        # Equal when on the same loop, whether or not either is inside ``async with``.
        return isinstance(other, AnyioScheduler) and other._base is self._base

    def __hash__(self) -> int:
        return id(self._base)

    def __repr__(self) -> str:
        return f"<AnyioScheduler {self.backend} {self._base!r}>"


def anyio_reactor_of(scheduler: object) -> AnyioReactor | None:
    """The reactor (tracking view included) behind an ``AnyioScheduler``, else ``None``."""
    if isinstance(scheduler, AnyioScheduler):
        return scheduler.reactor  # the scope's tracking view inside ``async with``, else the loop's
    return None
