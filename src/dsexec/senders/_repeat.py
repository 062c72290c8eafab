"""``repeat``, ``repeat_n``, ``repeat_until``: re-run the upstream sender (stdexec's
``exec::repeat_effect``, ``exec::repeat_n`` and ``exec::repeat_effect_until``).

* ``repeat()``: run the upstream again every time it completes with a value. It never completes
  with a value (``Sender[Never]``): only an error or a stop ends it.
* ``repeat_n(n)``: run it ``n`` times, then complete with ``None``. ``n == 0`` completes at once
  without starting it.
* ``repeat_until(pred)``: run it until ``pred(value)`` is true, then complete with that value.

Each round connects the upstream sender afresh (a new operation state; the previous one is dropped)
-- unless the upstream sender is restartable (``Sender.restartable``: ``async_read``, ``just``,
``schedule``, and ``let_*`` or ``then``-style adaptors over those), in which case its operation
state is connected once and started again every round (see ``_trampoline.py``). The environment is
read once, at ``start()``, and handed to every round. On error: the error is delivered and the loop
ends. If ``pred`` raises, its exception is delivered the same way. On stop: the running round sees
the stop token of the environment (the downstream's, shared), and its ``set_stopped`` ends the loop
with ``set_stopped``; the token is also checked before each round starts, so a round that ignores
stop (``just``) ends the loop with ``set_stopped`` too.

Rounds that complete inline inside ``start()`` loop instead of recursing (see
``_trampoline.py``): a million inline rounds run in constant stack and memory. Rounds that
complete later, on a loop or another thread, start the next round from that completion.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Never, TypeVar, final, overload

from .._core import (
    MISSING,
    BasicSender,
    OperationState,
    PreservingAdaptor,
    Receiver,
    Sender,
    SenderAdaptor,
    callable_name,
    check_count,
    require_callable,
)
from ._trampoline import RestartLoop

__all__ = ["repeat", "repeat_n", "repeat_until"]

T = TypeVar("T")


class _RepeatOp(RestartLoop):
    """The loop of ``repeat()``, and the base of the other two forms, which override
    ``set_value`` and ``start``; the operation is the child's receiver."""

    __slots__ = ("_data", "_sender")

    def __init__(self, sender: Sender[Any], data: Any, receiver: Receiver[Any]) -> None:
        super().__init__(sender.restartable, receiver)
        self._sender: Sender[Any] | None = sender
        self._data = data

    def start(self) -> None:
        self._start_loop(self._receiver.get_env())

    def _connect_child(self) -> OperationState:
        sender = self._sender
        assert sender is not None  # dropped only once a restartable child holds the work
        child = sender.connect(self)
        if self._reuse:
            self._sender = None  # connected once: the child is restarted, never reconnected
        return child

    # The child's receiver interface.

    def set_value(self, value: Any, /) -> None:
        self._restart()

    def set_error(self, error: BaseException, /) -> None:
        self._drop_child()
        self._receiver.set_error(error)

    def set_stopped(self) -> None:
        self._drop_child()
        self._receiver.set_stopped()


@final
class _RepeatNOp(_RepeatOp):
    """``_data`` counts the rounds still to run."""

    __slots__ = ()

    def start(self) -> None:
        if self._data == 0:
            self._receiver.set_value(None)
            return
        super().start()

    def set_value(self, value: object, /) -> None:
        self._data -= 1
        if self._data == 0:
            self._drop_child()
            self._receiver.set_value(None)
            return
        self._restart()


@final
class _RepeatUntilOp(_RepeatOp):
    """``_data`` is the predicate."""

    __slots__ = ()

    def set_value(self, value: Any, /) -> None:
        try:
            done = self._data(value)
        except Exception as exc:
            self._drop_child()
            self._receiver.set_error(exc)
            return
        if done:
            self._drop_child()
            self._receiver.set_value(value)
            return
        self._restart()


def _check_count(count: Any) -> int:
    return check_count("repeat_n", count)


def _check_predicate(predicate: Any) -> Any:
    require_callable("repeat_until", predicate)
    return predicate


_RepeatSender = BasicSender.variant("repeat", operation=_RepeatOp)
_RepeatNSender = BasicSender.variant("repeat_n", operation=_RepeatNOp, check=_check_count)
_RepeatUntilSender = BasicSender.variant(
    "repeat_until", operation=_RepeatUntilOp, check=_check_predicate, describe=callable_name
)


@overload
def repeat() -> SenderAdaptor[Any, Never]: ...
@overload
def repeat(sender: Sender[Any], /) -> Sender[Never]: ...
def repeat(sender: Any = MISSING, /) -> Any:
    """Run the upstream again each time it completes with a value, forever.

    Ends only with the upstream's error, or with ``set_stopped`` when stop is requested.
    """
    return _RepeatSender.call_optional(sender)


@overload
def repeat_n(count: int, /) -> SenderAdaptor[Any, None]: ...
@overload
def repeat_n(sender: Sender[Any], count: int, /) -> Sender[None]: ...
def repeat_n(first: Any, count: Any = MISSING, /) -> Any:
    """Run the upstream ``count`` times (values are dropped), then complete with ``None``.

    ``count == 0`` completes at once without starting the upstream. An error or a stop ends the
    loop early. ``TypeError`` when built if ``count`` is not an int, ``ValueError`` if negative.
    """
    if count is MISSING and isinstance(first, Sender):
        raise TypeError("repeat_n: missing the count: use repeat_n(sender, n) or repeat_n(n)")
    return _RepeatNSender.call(first, count)


@overload
def repeat_until(predicate: Callable[[Any], object], /) -> PreservingAdaptor: ...
@overload
def repeat_until(sender: Sender[T], predicate: Callable[[T], object], /) -> Sender[T]: ...
def repeat_until(first: Any, predicate: Any = MISSING, /) -> Any:
    """Run the upstream until ``predicate(value)`` is true; complete with that value.

    If ``predicate`` raises, its exception goes down the error channel. Errors and stop end the
    loop. ``TypeError`` when built if ``predicate`` is not callable.
    """
    return _RepeatUntilSender.call(first, predicate)
