"""The reactor interface every dsexec event loop offers (anyio's ``abc``: the interface apart
from its backends in ``schedulers/_backends``).

Theory of operation
-------------------
``IoContext``, ``VirtualTimeScheduler`` and ``AnyioScheduler`` (on asyncio, uvloop or trio) all
expose one small, callback-level :class:`Reactor`: a thread-safe ``post``, one-shot timers, and
one-shot fd readiness waits with one waiter per direction. Everything above it -- ``schedule``,
``schedule_after``, ``wait_readable``, ``on_signals`` and the socket senders of ``dsexec.net``
-- is written once against this interface (operations subclass
:class:`~dsexec.schedulers._reactor._operation.ReactorOperation`), so a pipeline runs unchanged
on every loop.

Two helpers state the loop-thread contract once, for everyone:

* :func:`on_loop` -- "may I use the loop-thread-only methods of this reactor now?";
* :func:`run_on_loop` -- "run this on the loop thread: now if I am on it, else post it".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..._core import ClosedResourceError
from ._running_loop import running_loop

__all__ = [
    "FdWaiter",
    "Reactor",
    "TimerHandle",
    "on_loop",
    "run_on_loop",
]


class FdWaiter(Protocol):
    """A one-shot wait on one direction of an fd, registered with ``add_reader``/``add_writer``.

    The reactor forgets the waiter before calling either method, so the waiter may re-register
    from inside ``fd_ready``.
    """

    def fd_ready(self) -> None:
        """The fd became readable (writable); called once on the loop thread."""

    def fd_closed(self, error: ClosedResourceError, /) -> None:
        """``notify_closing(fd)`` was called while waiting; called once on the loop thread."""


class TimerHandle(Protocol):
    """A pending timer; ``cancel()`` withdraws it (idempotent, loop thread only)."""

    def cancel(self) -> None:
        """Withdraw the timer; its callback will not run."""


class Reactor(Protocol):
    """Callback-level primitives of an event loop, used by every dsexec scheduler sender.

    Apart from ``post`` (thread-safe) and ``in_loop_thread``, methods are called on the loop
    thread only.
    """

    def time(self) -> float:
        """The loop's clock: monotonic seconds (or virtual seconds, in virtual time)."""
        ...

    def in_loop_thread(self) -> bool:
        """Whether the caller may use the loop-thread-only methods right now."""
        ...

    def post(self, callback: Callable[[], object], /) -> None:
        """Run ``callback`` soon on the loop thread, in FIFO order. Thread-safe."""

    def call_at(self, deadline: float, callback: Callable[[], object], /) -> TimerHandle:
        """Run ``callback`` once ``time() >= deadline``."""
        ...

    def add_reader(self, fd: int, waiter: FdWaiter, /) -> None:
        """Call ``waiter.fd_ready()`` once ``fd`` is readable.

        Raises ``BusyResourceError`` if another waiter is already waiting to read ``fd``.
        """

    def add_writer(self, fd: int, waiter: FdWaiter, /) -> None:
        """Call ``waiter.fd_ready()`` once ``fd`` is writable (``BusyResourceError`` as above)."""

    def remove_reader(self, fd: int, waiter: FdWaiter, /) -> None:
        """Withdraw ``waiter`` if it is the one waiting to read ``fd``; otherwise do nothing."""

    def remove_writer(self, fd: int, waiter: FdWaiter, /) -> None:
        """Withdraw ``waiter`` if it is the one waiting to write ``fd``; otherwise do nothing."""

    def notify_closing(self, fd: int, /) -> None:
        """``fd`` is about to be closed: wake its waiters with ``ClosedResourceError`` and
        forget it. Call it before ``close()``, so a reused fd number is never confused."""

    def call_if_idle(self, fn: Callable[[], object], /) -> bool:
        """Call ``fn()`` now, on the calling thread, if no thread runs the loop (so the caller
        may act as the loop thread), and return ``True``; else return ``False`` (post it).

        For loop-thread work that must not wait for the next run of an idle loop, such as
        ``notify_closing`` before an fd closes. A reactor that cannot tell answers ``False``.
        """
        ...




def on_loop(reactor: Reactor) -> bool:
    """Whether the caller may use ``reactor``'s loop-thread-only methods right now.

    ``running_loop`` answers the common case with one comparison; ``in_loop_thread()`` stays
    the authority when it does not.
    """
    return running_loop.reactor is reactor or reactor.in_loop_thread()


def run_on_loop(reactor: Reactor, fn: Callable[[], object], /) -> None:
    """Call ``fn()`` on ``reactor``'s loop thread: now if the caller is on it, else posted."""
    if running_loop.reactor is reactor or reactor.in_loop_thread():
        fn()
    else:
        reactor.post(fn)
