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
  system call. Otherwise the stop callback is registered only when the operation is about to
  *wait* (``_watch_stop``): a write or accept that completes at once never pays for the
  registration. The callback may run on any thread; on the loop thread it stops inline,
  elsewhere it posts the stop. ``_done`` makes the first of "completed" and "stopped" win;
  the loser finds ``_done`` set and does nothing.
* ``_cancel()`` (subclasses) withdraws every wait and timer and releases what the operation
  owns and nobody else got: a pooled buffer, an accepted socket not yet delivered, connection
  attempts. Then the stop callback is unregistered and ``set_stopped`` sent -- at once, without
  waiting for the socket.
* Before any completion the stop callback is unregistered; nothing refers to the operation
  afterwards (the reactor forgot its waits, the timers are cancelled).
"""

from __future__ import annotations

from typing import Generic, TypeVar

from .._core import Receiver, StopCallback, StopToken
from ..schedulers._reactor import Reactor, ReactorScheduler, reactor_of

__all__ = ["ReactorOp", "reactor_for"]

T = TypeVar("T")


def reactor_for(scheduler: object, algorithm: str) -> Reactor:
    """The reactor behind ``scheduler`` (a ``VirtualTimeScheduler`` is its own reactor);
    ``TypeError`` naming ``algorithm`` for schedulers without one."""
    if isinstance(scheduler, ReactorScheduler):  # IoScheduler, AnyioScheduler: the hot path
        return scheduler._reactor
    return reactor_of(scheduler, algorithm)


class ReactorOp(Generic[T]):
    """Start-on-loop, stop-from-anywhere, complete-once logic of the socket operations.

    Subclasses implement ``_begin()`` (called once on the loop thread, stop callback already
    registered; it must not raise) and ``_cancel()`` (withdraw and release everything).
    """

    __slots__ = ("_done", "_reactor", "_receiver", "_stop_callback", "_token")

    def __init__(self, reactor: Reactor, receiver: Receiver[T]) -> None:
        self._reactor = reactor
        self._receiver = receiver
        self._done = False
        self._stop_callback: StopCallback | None = None
        self._token: StopToken | None = None

    def start(self) -> None:
        if self._reactor.in_loop_thread():
            self._start_on_loop()
        else:
            self._reactor.post(self._start_on_loop)

    def _start_on_loop(self) -> None:
        token = self._receiver.get_env().stop_token
        if token.stop_requested():
            self._done = True
            self._receiver.set_stopped()
            return
        self._token = token if token.stop_possible() else None
        try:
            self._begin()
        except Exception as exc:  # a bug or an unexpected OS error: never out of start()
            self._cancel()
            self._fail(exc)

    def _begin(self) -> None:
        raise NotImplementedError

    def _watch_stop(self) -> None:
        """Register for stop requests -- once, and only when the operation is about to wait.

        Call it *after* arming the wait, as the last thing: if stop was requested meanwhile,
        the callback runs inline, withdraws the wait and completes the operation, so the
        caller must not touch the operation after this returns.
        """
        token = self._token
        if token is not None:
            self._token = None
            self._stop_callback = token.register(self._on_stop_requested)

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
        callback = self._stop_callback
        if callback is not None:
            self._stop_callback = None
            callback.unregister()

    def _succeed(self, value: T) -> None:
        if self._done:
            return
        self._done = True
        callback = self._stop_callback
        if callback is not None:
            self._stop_callback = None
            callback.unregister()
        self._receiver.set_value(value)

    def _fail(self, error: BaseException) -> None:
        if self._done:
            return
        self._done = True
        self._release_stop_callback()
        self._receiver.set_error(error)

