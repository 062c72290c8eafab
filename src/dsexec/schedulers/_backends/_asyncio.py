"""The :class:`~dsexec.schedulers.Reactor` of ``AnyioScheduler`` on asyncio (and uvloop).

Theory of operation
-------------------
Every primitive is one direct loop call, with bound methods as callbacks: no task, future or
closure per operation.

* ``post`` is ``loop.call_soon`` on the loop thread and ``loop.call_soon_threadsafe`` elsewhere;
  both are FIFO. ``call_at`` is ``loop.call_at`` on ``loop.time()``: the handle asyncio returns
  already has an idempotent ``cancel()``.
* fd waits keep one waiter per direction in ``_readers``/``_writers`` (``BusyResourceError`` for
  a second, as in ``IoContext``). The loop callback ``_on_readable(fd)`` pops the waiter before
  calling ``fd_ready()``, so the waiter may wait again from inside it.
* An fd's loop reader (writer) stays installed across a fired wait only when the waiter's own
  completion waits on it again before returning (an inline read-process-read pipeline): then the
  next wait costs no ``add_reader``/``remove_reader`` (two ``epoll_ctl`` calls and a handle).
  Otherwise the reader is removed as soon as the waiter's callback returns, and a withdrawn
  waiter's at once: nothing stays registered once no operation waits, so an fd closed without
  ``notify_closing`` after its operations finished leaves no stale selector key to hide a
  recycled fd number (and libuv, under uvloop, never sees a registration of a dead fd).
* ``notify_closing(fd)`` removes the loop's reader and writer and hands ``ClosedResourceError``
  to the waiters with ``call_soon``. Call it before closing an fd that may still be waited on.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, final

from ..._core import BusyResourceError, ClosedResourceError
from .._reactor import FdWaiter

__all__ = ["AsyncioReactor"]

_get_ident = threading.get_ident


@final
class _FutureWaiter:
    """A one-shot wake-up on a bare loop future: the cheapest thing a task can wait on."""

    __slots__ = ("_future",)

    def __init__(self, future: asyncio.Future[None]) -> None:
        self._future = future

    def set(self) -> None:
        future = self._future
        if not future.done():  # a cancelled wait leaves a cancelled future behind
            future.set_result(None)

    def wait(self) -> asyncio.Future[None]:
        return self._future


@final
class AsyncioReactor:
    """The reactor interface on one running asyncio event loop (see the module docstring)."""

    __slots__ = (
        "_loop_ref",
        "_readers",
        "_reading",
        "_tasks",
        "_thread_id",
        "_writers",
        "_writing",
    )

    backend = "asyncio"
    cancelled_exc_class: type[BaseException] = asyncio.CancelledError

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Weak: the per-loop cache maps the loop to this reactor, and must not keep it alive.
        self._loop_ref = weakref.ref(loop)
        self._thread_id = _get_ident()
        self._readers: dict[int, FdWaiter] = {}
        self._writers: dict[int, FdWaiter] = {}
        # fds whose loop reader (writer) is installed: the keys of _readers (_writers), plus,
        # while a fired waiter's callback runs, its fd.
        self._reading: set[int] = set()
        self._writing: set[int] = set()
        # asyncio keeps only weak references to tasks: hold from_coroutine's until they end.
        self._tasks: set[asyncio.Task[object]] = set()

    @property
    def _loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop_ref()
        if loop is None:
            raise RuntimeError("the event loop of this AnyioScheduler no longer exists")
        return loop

    def time(self) -> float:
        """``loop.time()``."""
        return self._loop.time()

    def in_loop_thread(self) -> bool:
        """Whether the caller runs on the loop's thread."""
        return _get_ident() == self._thread_id

    def call_if_idle(self, fn: Callable[[], object], /) -> bool:
        """Always ``False``: the loop belongs to its runner, so loop work is posted to it."""
        return False

    def post(self, callback: Callable[[], object], /) -> None:
        """``loop.call_soon`` (``call_soon_threadsafe`` from another thread)."""
        if _get_ident() == self._thread_id:
            self._loop.call_soon(callback)
        else:
            self._loop.call_soon_threadsafe(callback)

    def call_at(self, deadline: float, callback: Callable[[], object], /) -> asyncio.TimerHandle:
        """``loop.call_at``; the returned handle's ``cancel()`` withdraws the timer."""
        return self._loop.call_at(deadline, callback)

    # -- fd readiness -------------------------------------------------------------------------

    def add_reader(self, fd: int, waiter: FdWaiter, /) -> None:
        """Call ``waiter.fd_ready()`` once ``fd`` is readable (one reader per fd)."""
        self._watch(fd, waiter, writable=False)

    def add_writer(self, fd: int, waiter: FdWaiter, /) -> None:
        """Call ``waiter.fd_ready()`` once ``fd`` is writable (one writer per fd)."""
        self._watch(fd, waiter, writable=True)

    def _watch(self, fd: int, waiter: FdWaiter, *, writable: bool) -> None:
        """Make ``waiter`` the one waiting on ``fd``'s read (``writable``: write) side and
        install the loop's reader (writer) unless it is; ``BusyResourceError`` if another
        operation waits there already."""
        waiters = self._writers if writable else self._readers
        if fd in waiters:
            verb = "write" if writable else "read"
            raise BusyResourceError(f"another operation is already waiting to {verb} fd {fd}")
        watching = self._writing if writable else self._reading
        if fd not in watching:
            if writable:
                self._loop.add_writer(fd, self._on_writable, fd)
            else:
                self._loop.add_reader(fd, self._on_readable, fd)
            watching.add(fd)
        waiters[fd] = waiter

    def remove_reader(self, fd: int, waiter: FdWaiter, /) -> None:
        """Withdraw ``waiter`` from ``fd``'s read side if it is the one waiting."""
        if self._readers.get(fd) is waiter:
            del self._readers[fd]
            self._unwatch(fd, writable=False)

    def remove_writer(self, fd: int, waiter: FdWaiter, /) -> None:
        """Withdraw ``waiter`` from ``fd``'s write side if it is the one waiting."""
        if self._writers.get(fd) is waiter:
            del self._writers[fd]
            self._unwatch(fd, writable=True)

    def notify_closing(self, fd: int, /) -> None:
        """Unregister ``fd`` and wake its waiters with ``ClosedResourceError`` (soon)."""
        if fd in self._reading:
            self._unwatch(fd, writable=False)
        if fd in self._writing:
            self._unwatch(fd, writable=True)
        loop = self._loop
        for table in (self._readers, self._writers):
            waiter = table.pop(fd, None)
            if waiter is not None:
                error = ClosedResourceError(f"fd {fd} was closed while an operation waited on it")
                loop.call_soon(waiter.fd_closed, error)

    def _unwatch(self, fd: int, *, writable: bool) -> None:
        """Uninstall the loop's reader (``writable``: writer) of ``fd``."""
        if writable:
            self._writing.discard(fd)
            self._loop.remove_writer(fd)
        else:
            self._reading.discard(fd)
            self._loop.remove_reader(fd)

    def _on_readable(self, fd: int) -> None:
        self._fire(self._readers, self._reading, fd, writable=False)

    def _on_writable(self, fd: int) -> None:
        self._fire(self._writers, self._writing, fd, writable=True)

    def _fire(
        self, waiters: dict[int, FdWaiter], watching: set[int], fd: int, *, writable: bool
    ) -> None:
        """``fd`` is ready in one direction: wake its waiter, then uninstall the loop's reader
        (writer) unless the waiter waits again."""
        waiter = waiters.pop(fd, None)
        try:
            if waiter is not None:
                waiter.fd_ready()
        finally:
            if fd not in waiters and fd in watching:  # not waited on again
                self._unwatch(fd, writable=writable)

    # -- tasks (from_coroutine) ---------------------------------------------------------------

    def spawn(self, fn: Callable[[], Coroutine[Any, Any, object]], /) -> asyncio.Task[object]:
        """Run ``fn()`` as a task on the loop (loop thread only); ``cancel()`` cancels it."""
        task = self._loop.create_task(fn())
        tasks = self._tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return task

    def create_waiter(self) -> _FutureWaiter:
        """A one-shot event for the awaiting task: ``set()`` on the loop thread, ``wait()``."""
        return _FutureWaiter(self._loop.create_future())

    def waiter_counts(self) -> tuple[int, int]:
        """``(readers, writers)``: fd waits currently pending (for tests and statistics)."""
        return len(self._readers), len(self._writers)

    def __repr__(self) -> str:
        return f"<AsyncioReactor on {self._loop_ref()!r}>"
