"""``when_any`` (stdexec's ``exec::when_any``): run senders concurrently; the first to complete
wins.

* The first child completion of *any* kind -- value, error or stopped -- is the result.
* Stop is then requested on the other children, and ``when_any`` waits for all of them to
  complete (their completions are dropped) before delivering the winner's completion, so
  nothing is left running behind it.
* A stop request on the downstream environment is forwarded to every child; the first of them
  to complete (usually with ``set_stopped``) wins as above. If stop was already requested when
  ``when_any`` starts, it completes with ``set_stopped()`` without starting any child.
* At least one sender is required (``TypeError`` when built otherwise).

Theory of operation
-------------------
As in ``when_all``: the operation owns a :class:`StopSource` whose token the children see, and
while they run a callback on the downstream stop token forwards stop requests to it (removed
before completing). Children may complete concurrently on any thread. A completion takes the
lock to claim the result if nobody has yet; the winner requests stop on the source *before*
counting itself, and the completion that brings the count to zero delivers the winner's result.
The operation is the receiver of every child: no per-child objects.
"""

from __future__ import annotations

import threading
from typing import Any, Final, TypeVar, final, overload

from .._core import (
    Env,
    OperationState,
    Receiver,
    Sender,
    StopCallback,
    StopSource,
    require_sender,
)

__all__ = ["when_any"]

A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")
D = TypeVar("D")
E = TypeVar("E")
F = TypeVar("F")

_NONE: Final = 0
_VALUE: Final = 1
_ERROR: Final = 2
_STOPPED: Final = 3


@final
class _WhenAnyOp:
    __slots__ = (
        "_env",
        "_lock",
        "_ops",
        "_outer_callback",
        "_receiver",
        "_remaining",
        "_result",
        "_source",
        "_winner",
    )

    def __init__(self, senders: tuple[Sender[Any], ...], receiver: Receiver[Any]) -> None:
        self._receiver = receiver
        self._source = StopSource()
        self._env = receiver.get_env().with_stop_token(self._source.token)
        self._lock = threading.Lock()
        self._remaining = len(senders)
        self._winner = _NONE
        self._result: Any = None
        self._outer_callback: StopCallback | None = None
        self._ops = [sender.connect(self) for sender in senders]

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

    # -- the children's receiver ------------------------------------------------------------

    def set_value(self, value: Any, /) -> None:
        self._arrive(_VALUE, value)

    def set_error(self, error: BaseException, /) -> None:
        self._arrive(_ERROR, error)

    def set_stopped(self) -> None:
        self._arrive(_STOPPED, None)

    def get_env(self) -> Env:
        return self._env

    def _arrive(self, kind: int, result: Any) -> None:
        with self._lock:
            won = self._winner == _NONE
            if won:
                self._winner = kind
                self._result = result
        if won:
            self._source.request_stop()
        with self._lock:
            self._remaining -= 1
            if self._remaining:
                return
        callback = self._outer_callback
        if callback is not None:
            self._outer_callback = None
            callback.unregister()
        receiver = self._receiver
        winner = self._winner
        if winner == _VALUE:
            receiver.set_value(self._result)
        elif winner == _ERROR:
            receiver.set_error(self._result)
        else:
            receiver.set_stopped()


@final
class _WhenAnySender(Sender[Any]):
    __slots__ = ("_senders",)

    def __init__(self, senders: tuple[Sender[Any], ...]) -> None:
        self._senders = senders

    def connect(self, receiver: Receiver[Any], /) -> OperationState:
        return _WhenAnyOp(self._senders, receiver)

    def __repr__(self) -> str:
        return f"when_any({', '.join(map(repr, self._senders))})"


@overload
def when_any(s1: Sender[A], /) -> Sender[A]: ...
@overload
def when_any(s1: Sender[A], s2: Sender[B], /) -> Sender[A | B]: ...
@overload
def when_any(s1: Sender[A], s2: Sender[B], s3: Sender[C], /) -> Sender[A | B | C]: ...
@overload
def when_any(
    s1: Sender[A], s2: Sender[B], s3: Sender[C], s4: Sender[D], /
) -> Sender[A | B | C | D]: ...
@overload
def when_any(
    s1: Sender[A], s2: Sender[B], s3: Sender[C], s4: Sender[D], s5: Sender[E], /
) -> Sender[A | B | C | D | E]: ...
@overload
def when_any(
    s1: Sender[A], s2: Sender[B], s3: Sender[C], s4: Sender[D], s5: Sender[E], s6: Sender[F], /
) -> Sender[A | B | C | D | E | F]: ...
@overload
def when_any(s1: Sender[Any], /, *senders: Sender[Any]) -> Sender[Any]: ...
def when_any(*senders: Any) -> Any:
    """Run ``senders`` concurrently; complete as the first of them completes.

    The first completion (value, error or stopped) wins; the other children are stopped, and
    ``when_any`` waits for them before delivering it. ``TypeError`` when built if no sender is
    given or an argument is not a sender.
    """
    if not senders:
        raise TypeError("when_any: expected at least one Sender, got none")
    for sender in senders:
        require_sender("when_any", sender)
    return _WhenAnySender(senders)
