"""``repeat``, ``repeat_n``, ``repeat_until``: re-run the upstream sender (stdexec's
``exec::repeat_effect``, ``exec::repeat_n`` and ``exec::repeat_effect_until``).

* ``repeat()``: run the upstream again every time it completes with a value. It never completes
  with a value (``Sender[Never]``): only an error or a stop ends it.
* ``repeat_n(n)``: run it ``n`` times, then complete with ``None``. ``n == 0`` completes at once
  without starting it.
* ``repeat_until(pred)``: run it until ``pred(value)`` is true, then complete with that value.

Each round connects the upstream sender afresh (a new operation state; the previous one is
dropped). On error: the error is delivered and the loop ends. If ``pred`` raises, its exception
is delivered the same way. On stop: the running round sees the stop token of the environment
(the downstream's, shared), and its ``set_stopped`` ends the loop with ``set_stopped``; the token
is also checked before each round starts, so a round that ignores stop (``just``) ends the loop
with ``set_stopped`` too.

Rounds that complete inline inside ``start()`` loop instead of recursing (see
``_trampoline.py``): a million inline rounds run in constant stack and memory. Rounds that
complete later, on a loop or another thread, start the next round from that completion.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, Generic, Never, TypeVar, final, overload

from .._core import (
    MISSING,
    Env,
    OperationState,
    Receiver,
    Sender,
    SenderAdaptor,
    StopToken,
    require_callable,
    require_sender,
)
from ._trampoline import RestartLoop

__all__ = ["repeat", "repeat_n", "repeat_until"]

T = TypeVar("T")


class _RepeatOpBase(RestartLoop):
    """The loop shared by the three forms; subclasses define ``set_value``."""

    __slots__ = ("_receiver", "_sender", "_token")

    def __init__(self, sender: Sender[Any], receiver: Receiver[Any]) -> None:
        super().__init__()
        self._sender = sender
        self._receiver = receiver
        self._token: StopToken | None = None

    def start(self) -> None:
        token = self._receiver.get_env().stop_token
        if token.stop_possible():
            if token.stop_requested():
                self._receiver.set_stopped()
                return
            self._token = token
        self._run()

    def _connect_child(self) -> OperationState:
        return self._sender.connect(self)

    def _fail(self, error: BaseException, /) -> None:
        self._receiver.set_error(error)

    def _next_round(self) -> None:
        token = self._token
        if token is not None and token.stop_requested():
            self._receiver.set_stopped()
            return
        self._restart()

    # The child's receiver interface (the operation state is its own child's receiver).

    def set_value(self, value: Any, /) -> None:
        raise NotImplementedError

    def set_error(self, error: BaseException, /) -> None:
        self._child = None
        self._receiver.set_error(error)

    def set_stopped(self) -> None:
        self._child = None
        self._receiver.set_stopped()

    def get_env(self) -> Env:
        return self._receiver.get_env()


@final
class _RepeatOp(_RepeatOpBase):
    __slots__ = ()

    def set_value(self, value: object, /) -> None:
        self._child = None
        self._next_round()


@final
class _RepeatNOp(_RepeatOpBase):
    __slots__ = ("_remaining",)

    def __init__(self, sender: Sender[Any], receiver: Receiver[None], count: int) -> None:
        super().__init__(sender, receiver)
        self._remaining = count

    def start(self) -> None:
        if self._remaining == 0:
            self._receiver.set_value(None)
            return
        super().start()

    def set_value(self, value: object, /) -> None:
        self._child = None
        self._remaining -= 1
        if self._remaining == 0:
            self._receiver.set_value(None)
            return
        self._next_round()


@final
class _RepeatUntilOp(_RepeatOpBase, Generic[T]):
    __slots__ = ("_predicate",)

    def __init__(
        self, sender: Sender[T], receiver: Receiver[T], predicate: Callable[[T], object]
    ) -> None:
        super().__init__(sender, receiver)
        self._predicate = predicate

    def set_value(self, value: T, /) -> None:
        self._child = None
        try:
            done = self._predicate(value)
        except Exception as exc:
            self._receiver.set_error(exc)
            return
        if done:
            self._receiver.set_value(value)
            return
        self._next_round()


@final
class _RepeatSender(Sender[Never]):
    __slots__ = ("_sender",)

    def __init__(self, sender: Sender[Any]) -> None:
        self._sender = sender

    def connect(self, receiver: Receiver[Never], /) -> OperationState:
        return _RepeatOp(self._sender, receiver)

    def __repr__(self) -> str:
        return f"{self._sender!r} | repeat()"


@final
class _RepeatNSender(Sender[None]):
    __slots__ = ("_count", "_sender")

    def __init__(self, sender: Sender[Any], count: int) -> None:
        self._sender = sender
        self._count = count

    def connect(self, receiver: Receiver[None], /) -> OperationState:
        return _RepeatNOp(self._sender, receiver, self._count)

    def __repr__(self) -> str:
        return f"{self._sender!r} | repeat_n({self._count})"


@final
class _RepeatUntilSender(Sender[T], Generic[T]):
    __slots__ = ("_predicate", "_sender")

    def __init__(self, sender: Sender[T], predicate: Callable[[T], object]) -> None:
        self._sender = sender
        self._predicate = predicate

    def connect(self, receiver: Receiver[T], /) -> OperationState:
        return _RepeatUntilOp(self._sender, receiver, self._predicate)


@final
class _RepeatUntilAdaptor:
    """Pipe form of ``repeat_until``: the upstream's value type passes through."""

    __slots__ = ("_predicate",)

    def __init__(self, predicate: Callable[[Any], object]) -> None:
        self._predicate = predicate

    def __call__(self, sender: Sender[T], /) -> Sender[T]:
        require_sender("repeat_until", sender)
        return _RepeatUntilSender(sender, self._predicate)

    def __repr__(self) -> str:
        return "<SenderAdaptor repeat_until>"


def _check_count(count: Any) -> int:
    if isinstance(count, bool):
        raise TypeError("repeat_n: expected an int count, got bool")
    try:
        n = operator.index(count)
    except TypeError:
        raise TypeError(
            f"repeat_n: expected an int count, got {type(count).__name__} ({count!r:.60})"
        ) from None
    if n < 0:
        raise ValueError(f"repeat_n: the count must be >= 0, got {n}")
    return n


@overload
def repeat() -> SenderAdaptor[Any, Never]: ...
@overload
def repeat(sender: Sender[Any], /) -> Sender[Never]: ...
def repeat(sender: Any = MISSING, /) -> Any:
    """Run the upstream again each time it completes with a value, forever.

    Ends only with the upstream's error, or with ``set_stopped`` when stop is requested.
    """
    if sender is MISSING:
        return SenderAdaptor("repeat", _RepeatSender)
    require_sender("repeat", sender)
    return _RepeatSender(sender)


@overload
def repeat_n(count: int, /) -> SenderAdaptor[Any, None]: ...
@overload
def repeat_n(sender: Sender[Any], count: int, /) -> Sender[None]: ...
def repeat_n(first: Any, count: Any = MISSING, /) -> Any:
    """Run the upstream ``count`` times (values are dropped), then complete with ``None``.

    ``count == 0`` completes at once without starting the upstream. An error or a stop ends the
    loop early. ``TypeError`` when built if ``count`` is not an int, ``ValueError`` if negative.
    """
    if count is MISSING:
        if isinstance(first, Sender):
            raise TypeError("repeat_n: missing the count: use repeat_n(sender, n) or repeat_n(n)")
        return SenderAdaptor("repeat_n", _RepeatNSender, _check_count(first))
    require_sender("repeat_n", first)
    return _RepeatNSender(first, _check_count(count))


@overload
def repeat_until(predicate: Callable[[Any], object], /) -> _RepeatUntilAdaptor: ...
@overload
def repeat_until(sender: Sender[T], predicate: Callable[[T], object], /) -> Sender[T]: ...
def repeat_until(first: Any, predicate: Any = MISSING, /) -> Any:
    """Run the upstream until ``predicate(value)`` is true; complete with that value.

    If ``predicate`` raises, its exception goes down the error channel. Errors and stop end the
    loop. ``TypeError`` when built if ``predicate`` is not callable.
    """
    if predicate is MISSING:
        require_callable("repeat_until", first)
        return _RepeatUntilAdaptor(first)
    require_sender("repeat_until", first)
    require_callable("repeat_until", predicate)
    return _RepeatUntilSender(first, predicate)
