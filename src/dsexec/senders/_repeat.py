"""``repeat``, ``repeat_n``, ``repeat_until``: re-run the upstream sender (stdexec's
``exec::repeat_effect``, ``exec::repeat_n`` and ``exec::repeat_effect_until``).

* ``repeat()``: run the upstream again every time it completes with a value. It never completes
  with a value (``Sender[Never]``): only an error or a stop ends it.
* ``repeat_n(n)``: run it ``n`` times, then complete with ``None``. ``n == 0`` completes at once
  without starting it.
* ``repeat_until(pred)``: run it until ``pred(value)`` is true, then complete with that value.

Each round connects the upstream sender afresh (a new operation state; the previous one is
dropped) -- unless the upstream sender is restartable (``async_read``, ``just``, ``schedule``,
and ``let_*`` or ``then``-style adaptors over those: see ``_trampoline.py``), in which case its
operation state is connected once and started again every round. The environment is read
once, at ``start()``, and handed to every round. On error: the error is delivered and the loop
ends. If ``pred`` raises, its exception is delivered the same way. On stop: the running round
sees the stop token of the environment (the downstream's, shared), and its ``set_stopped`` ends
the loop with ``set_stopped``; the token is also checked before each round starts, so a round
that ignores stop (``just``) ends the loop with ``set_stopped`` too.

Rounds that complete inline inside ``start()`` loop instead of recursing (see
``_trampoline.py``): a million inline rounds run in constant stack and memory. Rounds that
complete later, on a loop or another thread, start the next round from that completion.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, Generic, Never, TypeVar, final, overload

from .._core import (
    EMPTY_ENV,
    MISSING,
    Adaptor,
    Env,
    OperationState,
    Receiver,
    Sender,
    SenderAdaptor,
    require_callable,
    require_sender,
)
from ._trampoline import _ROUNDS, RestartLoop

__all__ = ["repeat", "repeat_n", "repeat_until"]

T = TypeVar("T")


class _RepeatOpBase(RestartLoop):
    """The loop shared by the three forms; subclasses define ``set_value``."""

    __slots__ = ("_env", "_receiver", "_sender")

    def __init__(self, sender: Sender[Any], receiver: Receiver[Any]) -> None:
        self._child = None  # RestartLoop.__init__ inlined
        self._reuse = getattr(sender, "_restartable", False) is True
        self._sender: Sender[Any] | None = sender
        self._receiver = receiver
        self._env = EMPTY_ENV  # until start() reads the receiver's

    def start(self) -> None:
        env = self._env = self._receiver.get_env()
        source = env.stop_token._source
        if source is not None and source._stopped:
            self._receiver.set_stopped()
            return
        self._run()

    def _connect_child(self) -> OperationState:
        sender = self._sender
        assert sender is not None  # dropped only once a restartable child holds the work
        child = sender.connect(self)
        if self._reuse:
            self._sender = None  # connected once: the child is restarted, never reconnected
            enter = getattr(child, "_enter_loop", None)
            if enter is not None:
                enter()  # it may keep things between rounds until _drop_child retires it
        return child

    def _fail(self, error: BaseException, /) -> None:
        self._receiver.set_error(error)

    def _drop_child(self) -> None:
        """The loop is over: let the child go, and tell a restartable one (``_retire``) so it
        releases what it kept from round to round (see ``_trampoline.py``)."""
        child = self._child
        self._child = None
        if child is not None and self._reuse:
            retire = getattr(child, "_retire", None)
            if retire is not None:
                retire()

    def _next_round(self) -> None:
        source = self._env.stop_token._source
        if source is not None and source._stopped:
            self._drop_child()
            self._receiver.set_stopped()
            return
        # RestartLoop._restart inlined
        if not self._reuse:
            self._child = None
        if _ROUNDS.pop(self, False):
            return  # first: the starter is still inside child.start() and will loop
        self._run()

    # The child's receiver interface (the operation state is its own child's receiver).

    def set_value(self, value: Any, /) -> None:
        raise NotImplementedError

    def set_error(self, error: BaseException, /) -> None:
        self._drop_child()
        self._receiver.set_error(error)

    def set_stopped(self) -> None:
        self._drop_child()
        self._receiver.set_stopped()

    def get_env(self) -> Env:
        env = self._env
        if env is EMPTY_ENV:  # asked before start(): not read yet
            return self._receiver.get_env()
        return env


@final
class _RepeatOp(_RepeatOpBase):
    __slots__ = ()

    def set_value(self, value: object, /) -> None:
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
        self._remaining -= 1
        if self._remaining == 0:
            self._drop_child()
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
        try:
            done = self._predicate(value)
        except Exception as exc:
            self._drop_child()
            self._receiver.set_error(exc)
            return
        if done:
            self._drop_child()
            self._receiver.set_value(value)
            return
        # _next_round and the first turn of RestartLoop._run inlined: the per-request path of
        # a read/answer loop.
        source = self._env.stop_token._source
        if source is not None and source._stopped:
            self._drop_child()
            self._receiver.set_stopped()
            return
        child = self._child
        if not self._reuse or child is None:
            self._child = None
            if not _ROUNDS.pop(self, False):
                self._run()
            return
        rounds = _ROUNDS
        if rounds.pop(self, False):
            return  # first: the starter is still inside child.start() and will loop
        rounds[self] = True  # second: start the next round here
        try:
            child.start()
        except BaseException:
            rounds.pop(self, None)
            raise
        if not rounds.pop(self, False):
            self._run()  # it completed inline: go on looping there


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
class _RepeatUntilAdaptor(Adaptor):
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
