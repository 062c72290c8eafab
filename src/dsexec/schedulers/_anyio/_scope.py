"""The tracking view of a reactor that ``async with AnyioScheduler() as sch`` hands to ``sch``.

While the block runs, ``sch``'s senders see a :class:`ScopeReactor`: it forwards every call to
the loop's reactor and counts what is left pending through it -- posted callbacks (until they
run), timers (until they fire or are cancelled), fd waits (until they fire, are closed or
withdrawn) and ``from_coroutine`` tasks (until they end). Wrappers count down *after* the
callback they forward has run, so work that re-arms from inside a callback never lets the count
touch zero in between. ``post`` may run on any thread, so the count is guarded by a lock; the
count only goes down on the loop thread, where the idle event is set.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, final

import anyio

from ..._core import ClosedResourceError
from .._reactor import FdWaiter, TimerHandle

if TYPE_CHECKING:
    from ._scheduler import AnyioReactor, Waiter, _Cancellable

__all__ = ["ScopeReactor"]


@final
class ScopeReactor:
    """Forwards to the loop's reactor and counts the work still pending through it."""

    __slots__ = ("_base", "_idle", "_lock", "_pending", "_readers", "_writers")

    def __init__(self, base: AnyioReactor) -> None:
        self._base = base
        self._lock = threading.Lock()
        self._pending = 0
        self._idle: anyio.Event | None = None
        self._readers: dict[int, _TrackedWaiter] = {}
        self._writers: dict[int, _TrackedWaiter] = {}

    @property
    def backend(self) -> str:
        return self._base.backend

    @property
    def cancelled_exc_class(self) -> type[BaseException]:
        return self._base.cancelled_exc_class

    def _add(self) -> None:
        with self._lock:
            self._pending += 1

    def untrack(self) -> None:  # loop thread only
        """A tracked call or wait is over (its wrapper, or this reactor, tells)."""
        with self._lock:
            self._pending -= 1
            idle = self._pending == 0
        if idle and self._idle is not None:
            self._idle.set()

    async def wait_idle(self) -> None:
        while self._pending:
            self._idle = anyio.Event()
            await self._idle.wait()
        self._idle = None

    def create_waiter(self) -> Waiter:
        return self._base.create_waiter()

    def waiter_counts(self) -> tuple[int, int]:
        return self._base.waiter_counts()

    def time(self) -> float:
        return self._base.time()

    def in_loop_thread(self) -> bool:
        return self._base.in_loop_thread()

    def call_if_idle(self, fn: Callable[[], object], /) -> bool:
        return self._base.call_if_idle(fn)

    def post(self, callback: Callable[[], object], /) -> None:
        self._add()
        self._base.post(_TrackedCall(self, callback))

    def call_at(self, deadline: float, callback: Callable[[], object], /) -> TimerHandle:
        timer = _TrackedCall(self, callback)
        timer.handle = self._base.call_at(deadline, timer)
        self._add()
        return timer

    def add_reader(self, fd: int, waiter: FdWaiter, /) -> None:
        self._add_waiter(self._readers, fd, waiter, writable=False)

    def add_writer(self, fd: int, waiter: FdWaiter, /) -> None:
        self._add_waiter(self._writers, fd, waiter, writable=True)

    def _add_waiter(
        self, table: dict[int, _TrackedWaiter], fd: int, waiter: FdWaiter, *, writable: bool
    ) -> None:
        tracked = _TrackedWaiter(self, table, fd, waiter)
        if writable:
            self._base.add_writer(fd, tracked)
        else:
            self._base.add_reader(fd, tracked)
        table[fd] = tracked
        self._add()

    def remove_reader(self, fd: int, waiter: FdWaiter, /) -> None:
        tracked = self._take_waiter(self._readers, fd, waiter)
        if tracked is not None:
            self._base.remove_reader(fd, tracked)
            self.untrack()

    def remove_writer(self, fd: int, waiter: FdWaiter, /) -> None:
        tracked = self._take_waiter(self._writers, fd, waiter)
        if tracked is not None:
            self._base.remove_writer(fd, tracked)
            self.untrack()

    @staticmethod
    def _take_waiter(
        table: dict[int, _TrackedWaiter], fd: int, waiter: FdWaiter
    ) -> _TrackedWaiter | None:
        """Forget ``fd``'s entry of ``table`` if ``waiter`` is the one waiting; the wrapper
        (to withdraw from the base reactor), else ``None``."""
        tracked = table.get(fd)
        if tracked is None or tracked.waiter is not waiter:
            return None
        del table[fd]
        tracked.waiter = None
        return tracked

    def notify_closing(self, fd: int, /) -> None:
        # The base reactor calls fd_closed on the wrappers, which forward and count down.
        self._readers.pop(fd, None)
        self._writers.pop(fd, None)
        self._base.notify_closing(fd)

    def spawn(self, fn: Callable[[], Coroutine[Any, Any, object]], /) -> _Cancellable:
        async def tracked() -> None:
            try:
                await fn()
            finally:
                self.untrack()

        handle = self._base.spawn(tracked)
        self._add()
        return handle


@final
class _TrackedCall:
    """A posted callback or a timer, counted until it runs (or the timer is cancelled)."""

    __slots__ = ("_callback", "_scope", "handle")

    def __init__(self, scope: ScopeReactor, callback: Callable[[], object]) -> None:
        self._scope = scope
        self._callback: Callable[[], object] | None = callback
        self.handle: TimerHandle | None = None

    def __call__(self) -> None:
        callback = self._callback
        if callback is None:
            return
        self._callback = None
        try:
            callback()
        finally:
            self._scope.untrack()

    def cancel(self) -> None:
        if self._callback is not None:
            self._callback = None
            if self.handle is not None:
                self.handle.cancel()
            self._scope.untrack()


@final
class _TrackedWaiter:
    """An fd waiter, counted until it fires, is closed or is withdrawn."""

    __slots__ = ("_fd", "_scope", "_table", "waiter")

    def __init__(
        self, scope: ScopeReactor, table: dict[int, _TrackedWaiter], fd: int, waiter: FdWaiter
    ) -> None:
        self._scope = scope
        self._table = table
        self._fd = fd
        self.waiter: FdWaiter | None = waiter

    def _take(self) -> FdWaiter | None:
        waiter = self.waiter
        self.waiter = None
        if self._table.get(self._fd) is self:
            del self._table[self._fd]
        return waiter

    def fd_ready(self) -> None:
        waiter = self._take()
        if waiter is not None:
            try:
                waiter.fd_ready()
            finally:
                self._scope.untrack()

    def fd_closed(self, error: ClosedResourceError, /) -> None:
        waiter = self._take()
        if waiter is not None:
            try:
                waiter.fd_closed(error)
            finally:
                self._scope.untrack()
