"""``ReactorOperation``: the one base of every cancellable operation on a reactor's loop.

Timers, fd readiness waits, ``on_signals`` and every socket operation of ``dsexec.net`` are
subclasses; they implement ``_begin()`` (arm a wait, or complete at once) and ``_cancel()``
(withdraw what ``_begin`` armed), and complete through ``_succeed``/``_fail``.

Theory of operation
-------------------
* **On the loop.** State changes happen on the loop thread. ``start()`` may be called from any
  thread; off the loop it posts itself there (:func:`run_on_loop`).
* **Stop from anywhere.** The operation observes its receiver's stop source itself (it is a
  :class:`~dsexec._core._stop_token.StopObserver`: no handle, no bound method per
  registration), and only once armed: after ``_begin`` returns with the operation still
  pending, since a stop request that raced with arming runs the callback inline. (Completions
  happen on the loop thread, so nothing can complete it between the two.) The callback runs on
  the requesting thread; on the loop it completes the operation at once (``set_stopped``, wait
  withdrawn), elsewhere it posts that to the loop.
* **First completion wins.** ``_done`` makes the first of "ready", "failed" and "stopped" the
  only one; a wake-up the reactor had queued before a stop finds ``_done`` and does nothing.
* **Nothing dangles.** Before completing, an operation withdraws its stop registration (unless
  a loop owns it, below) and its wait, so nothing refers to it afterwards.
* **Fused with ``let_value``.** ``ReactorSender.fuse`` answers ``sender | let_value(fn)`` with
  the sender's own operation state, given ``fn`` (:meth:`ReactorOperation.continue_with`): its
  value goes straight to ``let_value``'s second step (``connect_continuation``: ``fn``'s sender,
  connected to the downstream receiver and kept until the next round), its error and stop
  straight downstream -- ``let_value``'s semantics, one hop and one operation state fewer, for
  a keep-alive connection's ``async_read | let_value(answer)`` and every other reactor
  operation alike.
* **Restartable.** Every reactor operation may be started again once completed
  (:class:`~dsexec.RestartableOperation`): each start reads the stop source afresh and resets
  ``_done``. Owned by a loop (``enter_loop()``), a successful round keeps the stop
  registration for the next one instead of withdrawing and re-adding it; ``retire()`` withdraws
  it when the loop is over. A stop requested between rounds finds the operation done (nothing
  to do) and the next round sees it at its start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

from mypy_extensions import mypyc_attr

from ..._core import (
    BasicSender,
    LetValueSender,
    OperationState,
    Receiver,
    RestartableOperation,
    Sender,
    StopSource,
    connect_continuation,
)
from ._interface import Reactor, on_loop, run_on_loop

__all__ = ["ReactorOperation", "ReactorSender"]

T = TypeVar("T")


@mypyc_attr(allow_interpreted_subclasses=True)
class ReactorOperation(RestartableOperation, Generic[T]):
    """Start-on-loop, stop-from-anywhere, complete-once logic of a reactor operation."""

    __slots__ = (
        "_continuation",
        "_done",
        "_looping",
        "_reactor",
        "_receiver",
        "_second",
        "_source",
        "_watching",
    )

    def __init__(self, reactor: Reactor, receiver: Receiver[T]) -> None:
        self._reactor = reactor
        self._receiver: Receiver[Any] = receiver
        self._done = False
        self._source: StopSource | None = None
        self._watching = False
        self._looping = False
        self._continuation: Callable[[Any], Sender[Any]] | None = None
        self._second: OperationState | None = None

    def continue_with(self, fn: Callable[[Any], Sender[Any]]) -> None:
        """Fuse ``let_value(fn)`` into this operation (before it starts): on its value, run
        the sender ``fn(value)`` returns into the receiver, as ``let_value`` would."""
        self._continuation = fn

    # -- what a subclass implements --------------------------------------------------------------

    def _begin(self) -> None:
        """Arm the wait, or complete at once. On the loop thread; an exception it raises
        cancels and fails the operation."""
        raise NotImplementedError

    def _cancel(self) -> None:
        """Withdraw whatever ``_begin`` armed (idempotent; on the loop thread)."""
        raise NotImplementedError

    # -- the protocol ----------------------------------------------------------------------------

    def start(self) -> None:
        """Begin (or, after a completed round, begin again) on the loop thread: off the loop,
        this posts itself there (and then runs on it)."""
        if not on_loop(self._reactor):
            self._reactor.post(self.start)
            return
        source = self._source if self._watching else self._receiver.get_env().stop_token.source
        if source is not None and source.stopped:
            self._done = True
            self._release_stop_callback()  # one kept from the previous round, if any
            self._receiver.set_stopped()
            return
        self._source = source
        self._done = False
        self._second = None  # a restart: the previous round's second operation is done
        try:
            self._begin()
        except Exception as exc:  # a bug or an unexpected OS error: never out of start()
            self._cancel()
            self._fail(exc)
            return
        if source is not None and not self._done and not self._watching:
            # Armed and pending: watch for stop now (a request that raced with arming runs
            # the callback, and completes the operation, right here).
            self._watching = True
            source.observe(self)

    def _wait_fd(self, fd: int, writable: bool) -> None:
        """Wait until ``fd`` is readable (``writable``: writable), then ``fd_ready()``; a
        direction another operation waits on fails with ``BusyResourceError``."""
        reactor = self._reactor
        try:
            if writable:
                reactor.add_writer(fd, self)  # type: ignore[arg-type]
            else:
                reactor.add_reader(fd, self)  # type: ignore[arg-type]
        except Exception as exc:
            self._fail(exc)

    def on_stop_requested(self) -> None:
        """The stop callback (any thread): complete with ``set_stopped`` on the loop."""
        run_on_loop(self._reactor, self._stop_on_loop)

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
            source.unobserve(self)

    def _succeed(self, value: Any) -> None:
        if self._done:
            return
        self._done = True
        if not self._looping:
            self._release_stop_callback()
        fn = self._continuation
        if fn is None:
            self._receiver.set_value(value)
            return
        # Fused with let_value: its second step. The operation is stored before it starts,
        # as let_value's own does (a completion inside start() may restart this one).
        op = self._second = connect_continuation("let_value", fn, (value,), self._receiver)
        if op is not None:
            op.start()

    def _fail(self, error: BaseException) -> None:
        if self._done:
            return
        self._done = True
        self._release_stop_callback()
        self._receiver.set_error(error)

    def enter_loop(self) -> None:
        """A loop will restart this operation: keep the stop registration between rounds."""
        self._looping = True

    def retire(self) -> None:
        """The loop is over: withdraw the registration kept between rounds."""
        self._looping = False
        self._release_stop_callback()


@mypyc_attr(allow_interpreted_subclasses=True)
class ReactorSender(BasicSender):
    """Base of the senders of one reactor operation (a timer, an fd wait, a socket operation):
    ``data`` is ``(reactor, *arguments)`` and ``connect`` builds
    ``reactor_operation(reactor, receiver, *arguments)`` (a subclass may override ``connect``;
    it still returns a :class:`ReactorOperation`). ``| let_value(fn)`` fuses into that
    operation (``fuse``).

    An algorithm's sender is ``ReactorSender.variant(name, reactor_operation=Op,
    describe=...)``; ``describe`` gets the whole ``data`` (reactor first). Building the
    operation raises nothing the arguments were not checked for when the sender was built.
    """

    __slots__ = ()

    reactor_operation: ClassVar[Callable[..., OperationState]]

    def connect(self, receiver: Receiver[Any], /) -> OperationState:
        data = self.data  # indexed, not ``reactor, *rest = data``: no list per connect
        return self.reactor_operation(data[0], receiver, *data[1:])

    def fuse(self, algorithm: Sender[Any], receiver: Receiver[Any], /) -> OperationState | None:
        """``| let_value(fn)``: this sender's operation state, continuing with ``fn``
        (:meth:`ReactorOperation.continue_with`); any other algorithm is declined."""
        if not isinstance(algorithm, LetValueSender):
            return None
        op = self.connect(receiver)
        assert isinstance(op, ReactorOperation)  # what a reactor sender's connect builds
        op.continue_with(algorithm.data)
        return op
