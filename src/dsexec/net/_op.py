"""The shape every ``dsexec.net`` operation shares: a reactor operation that is its own
``FdWaiter``.

Theory of operation
-------------------
The socket senders are the hot path of a server, so each is *one* operation state that talks to
the :class:`~dsexec.schedulers.Reactor` directly (``add_reader``/``add_writer`` with itself as
the waiter), instead of a composition such as ``wait_readable(fd) | then(recv)``. The rules are
those of ``dsexec.schedulers._reactor``:

* State changes on the loop thread only. ``start()`` from another thread posts ``_begin``.
* A stop already requested at start completes the operation with ``set_stopped`` before any
  system call. Otherwise the operation watches for stop only when it is about to *wait*
  (``_watch_stop``): a write or accept that completes at once never pays for it. Watching is
  the allocation-free ``StopSource._observe(self)``: the operation is the registry key and
  ``_on_stop_requested`` the callback (see ``_stop_token.py``); ``_source`` is the stop
  source (``None`` for a never-stop token) and ``_watching`` says whether it is registered.
  The callback may run on any thread; on the loop thread it stops inline, elsewhere it posts
  the stop. ``_done`` makes the first of "completed" and "stopped" win; the loser finds
  ``_done`` set and does nothing.
* ``_cancel()`` (subclasses) withdraws every wait and timer and releases what the operation
  owns and nobody else got: a pooled buffer, an accepted socket not yet delivered, connection
  attempts. Then the stop callback is unregistered and ``set_stopped`` sent -- at once, without
  waiting for the socket.
* Before any completion the stop callback is unregistered; nothing refers to the operation
  afterwards (the reactor forgot its waits, the timers are cancelled).
* ``async_read``'s sender is restartable (``senders/_trampoline.py``): its operation may be
  started again once it has completed, by the receiver's own loop (``repeat``). ``start()``
  resets ``_done`` and reuses the stop source it read from the environment the first time, so
  a keep-alive connection reads with one operation state for its whole life. Owned by the loop
  (``_enter_loop()``), it keeps its stop registration across value completions until the loop
  calls ``_retire()`` (the one exception to "unregistered before completing", and a safe one:
  between rounds the callback finds ``_done`` set, and the next round checks the token first).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar, cast

from .._core import ClosedResourceError, Receiver
from .._core._stop_token import StopSource
from ..schedulers._reactor import FdWaiter, IoScheduler, Reactor, reactor_of

if TYPE_CHECKING:
    from ._socket import Socket

__all__ = ["ReactorOp", "reactor_for"]

T = TypeVar("T")


def reactor_for(scheduler: IoScheduler, algorithm: str) -> Reactor:
    """The reactor behind ``scheduler``; ``TypeError`` naming ``algorithm`` for a scheduler
    without one (mypy rejects those, but an untyped caller may pass anything)."""
    return reactor_of(scheduler, algorithm)


class ReactorOp(Generic[T]):
    """Start-on-loop, stop-from-anywhere, complete-once logic of the socket operations.

    Subclasses implement ``_begin()`` (called once on the loop thread, stop callback already
    registered; it must not raise) and ``_cancel()`` (withdraw and release everything).
    """

    __slots__ = ("_done", "_reactor", "_receiver", "_source", "_watching")

    def __init__(self, reactor: Reactor, receiver: Receiver[T]) -> None:
        self._reactor = reactor
        self._receiver = receiver
        self._done = False
        self._source: StopSource | None = None
        self._watching = False

    def start(self) -> None:
        if self._reactor.in_loop_thread():
            self._start_on_loop()
        else:
            self._reactor.post(self._start_on_loop)

    def _start_on_loop(self) -> None:
        source = self._receiver.get_env().stop_token._source
        if source is not None and source._stopped:
            self._done = True
            self._receiver.set_stopped()
            return
        self._source = source
        try:
            self._begin()
        except Exception as exc:  # a bug or an unexpected OS error: never out of start()
            self._cancel()
            self._fail(exc)

    def _begin(self) -> None:
        raise NotImplementedError

    def _watch_stop(self) -> None:
        """Watch for stop requests -- once, and only when the operation is about to wait.

        Call it *after* arming the wait, as the last thing: if stop was requested meanwhile,
        the callback runs inline, withdraws the wait and completes the operation, so the
        caller must not touch the operation after this returns.
        """
        source = self._source
        if source is not None and not self._watching:
            self._watching = True
            source._observe(self)

    def _wait_on(self, sock: Socket, writable: bool, closed_message: str) -> None:
        """Wait until ``sock`` is readable (``writable``: writable), then ``fd_ready()``.

        For the subclasses that are fd waiters. A closed socket fails the operation with
        ``ClosedResourceError(closed_message)``, a direction another operation waits on with
        ``BusyResourceError``; otherwise it watches for stop (see ``_watch_stop``).
        """
        fd = sock._fd
        if fd < 0:
            self._fail(ClosedResourceError(closed_message))
            return
        reactor = self._reactor
        if sock._reactor is not reactor:
            sock._note_reactor(reactor)
        waiter = cast(FdWaiter, self)
        try:
            if writable:
                reactor.add_writer(fd, waiter)
            else:
                reactor.add_reader(fd, waiter)
        except Exception as exc:  # BusyResourceError: another operation waits on that side
            self._fail(exc)
            return
        self._watch_stop()

    def _cancel(self) -> None:
        raise NotImplementedError

    def _on_stop_requested(self) -> None:
        if self._reactor.in_loop_thread():
            self._stop_on_loop()
        else:
            self._reactor.post(self._stop_on_loop)

    def _stop_on_loop(self) -> None:
        if self._done:
            return
        self._done = True
        self._cancel()
        self._release_stop_callback()
        self._receiver.set_stopped()

    def _release_stop_callback(self) -> None:
        source = self._source
        if self._watching and source is not None:
            self._watching = False
            source._unobserve(self)

    def _succeed(self, value: T) -> None:
        if self._done:
            return
        self._done = True
        self._release_stop_callback()
        self._receiver.set_value(value)

    def _fail(self, error: BaseException) -> None:
        if self._done:
            return
        self._done = True
        self._release_stop_callback()
        self._receiver.set_error(error)
