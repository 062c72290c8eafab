"""``when_all`` [exec.when.all]: run senders concurrently; complete with the tuple of their values.

* Every child succeeds: ``set_value((v1, v2, ...))``, in argument order (not completion order).
* A child fails: stop is requested on the siblings, ``when_all`` waits for every child to
  complete, then delivers the first error. Later errors are dropped.
* A child is stopped (and no error arrived): stop is requested on the siblings, and once all
  have completed ``when_all`` completes with ``set_stopped()``. As in P2300, an error beats
  stopped whatever the order, so a failure during cancellation is never swallowed.
* A stop request on the downstream environment is forwarded to every child; the children then
  complete (usually with ``set_stopped``) and ``when_all`` completes as above -- with the values
  if every child finished anyway. If stop was already requested when ``when_all`` starts, it
  completes with ``set_stopped()`` without starting any child (as P2300's ``start`` does).
* ``when_all()`` with no senders completes with ``()`` at once.

Theory of operation
-------------------
The operation owns a :class:`StopSource`; the children's environment is the downstream one with
that source's token. While the children run, a callback on the downstream stop token forwards
a stop request to the source, and the callback is unregistered before ``when_all`` completes.

Children may complete on any thread, concurrently. Each completion takes the lock once to record
the disposition (first error wins; stopped only if nothing went wrong before) and once to count
itself; the completion that brings the count to zero is the last one, and it alone delivers the
result, after every child has completed and nothing else touches the state. Stop is requested
on the siblings *before* the failing child counts itself, so the operation cannot complete
while a request on its own source is still to come. Each value is written by its child into its
own slot before that child counts itself, so the last completer sees all of them.
"""

from __future__ import annotations

import threading
from typing import Any, Final, Generic, TypeVar, final, overload

from .._core import (
    Env,
    OperationState,
    Receiver,
    Sender,
    StopCallback,
    StopSource,
    require_sender,
)
from ._just import just

__all__ = ["when_all"]

A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")
D = TypeVar("D")
E = TypeVar("E")
F = TypeVar("F")
T = TypeVar("T")

_RUNNING: Final = 0
_ERROR: Final = 1
_STOPPED: Final = 2


@final
class _WhenAllReceiver(Generic[T]):
    """Receiver of child ``index``: forwards its completion to the shared operation."""

    __slots__ = ("_index", "_op")

    def __init__(self, op: _WhenAllOp, index: int) -> None:
        self._op = op
        self._index = index

    def set_value(self, value: T, /) -> None:
        op = self._op
        op._values[self._index] = value
        op._arrive()

    def set_error(self, error: BaseException, /) -> None:
        self._op._child_error(error)

    def set_stopped(self) -> None:
        self._op._child_stopped()

    def get_env(self) -> Env:
        return self._op._env


@final
class _WhenAllOp:
    __slots__ = (
        "_env",
        "_error",
        "_lock",
        "_ops",
        "_outer_callback",
        "_receiver",
        "_remaining",
        "_source",
        "_state",
        "_values",
    )

    def __init__(
        self, senders: tuple[Sender[Any], ...], receiver: Receiver[tuple[Any, ...]]
    ) -> None:
        count = len(senders)
        self._receiver = receiver
        self._source = StopSource()
        self._env = receiver.get_env().with_stop_token(self._source.token)
        self._lock = threading.Lock()
        self._remaining = count
        self._state = _RUNNING
        self._error: BaseException | None = None
        self._values: list[Any] = [None] * count
        self._outer_callback: StopCallback | None = None
        self._ops = [
            sender.connect(_WhenAllReceiver(self, index)) for index, sender in enumerate(senders)
        ]

    def start(self) -> None:
        token = self._receiver.get_env().stop_token
        if token.stop_possible():
            # As [exec.when.all] does: register, then look at our own source, which the
            # callback (run inline if stop was already requested) has stopped. A stop request
            # arriving after this point reaches the children through the source instead.
            self._outer_callback = token.register(self._on_outer_stop)
            if self._source.stop_requested():
                self._outer_callback.unregister()
                self._outer_callback = None
                self._receiver.set_stopped()
                return
        for op in self._ops:
            op.start()

    def _on_outer_stop(self) -> None:
        self._source.request_stop()

    def _child_error(self, error: BaseException) -> None:
        with self._lock:
            first = self._state != _ERROR
            if first:
                self._state = _ERROR
                self._error = error
        if first:
            self._source.request_stop()
        self._arrive()

    def _child_stopped(self) -> None:
        with self._lock:
            first = self._state == _RUNNING
            if first:
                self._state = _STOPPED
        if first:
            self._source.request_stop()
        self._arrive()

    def _arrive(self) -> None:
        with self._lock:
            self._remaining -= 1
            if self._remaining:
                return
        callback = self._outer_callback
        if callback is not None:
            self._outer_callback = None
            callback.unregister()
        receiver = self._receiver
        state = self._state
        if state == _RUNNING:
            receiver.set_value(tuple(self._values))
        elif state == _ERROR:
            error = self._error
            assert error is not None
            receiver.set_error(error)
        else:
            receiver.set_stopped()


@final
class _WhenAllSender(Sender[tuple[Any, ...]]):
    __slots__ = ("_senders",)

    def __init__(self, senders: tuple[Sender[Any], ...]) -> None:
        self._senders = senders

    def connect(self, receiver: Receiver[tuple[Any, ...]], /) -> OperationState:
        return _WhenAllOp(self._senders, receiver)

    def __repr__(self) -> str:
        return f"when_all({', '.join(map(repr, self._senders))})"


@overload
def when_all() -> Sender[tuple[()]]: ...
@overload
def when_all(s1: Sender[A], /) -> Sender[tuple[A]]: ...
@overload
def when_all(s1: Sender[A], s2: Sender[B], /) -> Sender[tuple[A, B]]: ...
@overload
def when_all(s1: Sender[A], s2: Sender[B], s3: Sender[C], /) -> Sender[tuple[A, B, C]]: ...
@overload
def when_all(
    s1: Sender[A], s2: Sender[B], s3: Sender[C], s4: Sender[D], /
) -> Sender[tuple[A, B, C, D]]: ...
@overload
def when_all(
    s1: Sender[A], s2: Sender[B], s3: Sender[C], s4: Sender[D], s5: Sender[E], /
) -> Sender[tuple[A, B, C, D, E]]: ...
@overload
def when_all(
    s1: Sender[A], s2: Sender[B], s3: Sender[C], s4: Sender[D], s5: Sender[E], s6: Sender[F], /
) -> Sender[tuple[A, B, C, D, E, F]]: ...
@overload
def when_all(*senders: Sender[Any]) -> Sender[tuple[Any, ...]]: ...
def when_all(*senders: Any) -> Any:
    """Run ``senders`` concurrently; complete with the tuple of their values, in order.

    The first error (or stop) requests stop on the other children; ``when_all`` always waits
    for every child before completing with it. ``TypeError`` when built if an argument is not a
    sender.
    """
    for sender in senders:
        require_sender("when_all", sender)
    if not senders:
        return just(())
    return _WhenAllSender(senders)
