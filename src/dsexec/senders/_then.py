"""``then``, ``upon_error``, ``upon_stopped`` [exec.then]: map one completion channel to a value.

* ``then(f)``: ``set_value(v)`` becomes ``set_value(f(v))``.
* ``upon_error(f)``: ``set_error(e)`` becomes ``set_value(f(e))`` -- the error is handled.
* ``upon_stopped(f)``: ``set_stopped()`` becomes ``set_value(f())``.

The other channels pass through untouched. If ``f`` raises, its exception is sent down the error
channel instead (``upon_error``'s too: a handler that fails reports its own failure). On stop,
``f`` is not called (except by ``upon_stopped``, whose whole job it is). These adaptors add no
operation state of their own: ``connect`` wraps the receiver and returns the upstream's (so they
are restartable when the upstream is).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, final, overload

from mypy_extensions import mypyc_attr
from typing_extensions import TypeVar as DefaultTypeVar

from .._core import (
    MISSING,
    ForwardingReceiver,
    JoiningAdaptor,
    ReceiverSender,
    Sender,
    SenderAdaptor,
    callable_name,
    require_callable,
)

__all__ = ["then", "upon_error", "upon_stopped"]

T = TypeVar("T")
U = TypeVar("U")
TA = DefaultTypeVar("TA", default=Any)


@final
class _ValueMapped(ForwardingReceiver[Any]):
    """``data`` maps the value (``complete_with``, written out: the per-hop path of a chain)."""

    __slots__ = ()

    def set_value(self, value: Any, /) -> None:
        try:
            result = self.data(value)
        except Exception as exc:
            self.receiver.set_error(exc)
            return
        self.receiver.set_value(result)


@final
class _ErrorMapped(ForwardingReceiver[Any]):
    """``data`` maps the error to a value."""

    __slots__ = ()

    def set_error(self, error: BaseException, /) -> None:
        self.complete_with(self.data, error)


@final
class _StoppedMapped(ForwardingReceiver[Any]):
    """``data()`` gives the value for "stopped"."""

    __slots__ = ()

    def set_stopped(self) -> None:
        self.complete_with(self.data)


@mypyc_attr(allow_interpreted_subclasses=True)
class _MapSender(ReceiverSender):
    """A :class:`ReceiverSender` whose argument is a function, checked and shown as a
    :class:`FunctionSender`'s (not a base as well: mypyc compiles single inheritance only)."""

    __slots__ = ()

    @classmethod
    def check(cls, data: Any) -> Any:
        require_callable(cls.name, data)
        return data

    @classmethod
    def describe(cls, data: Any) -> str:
        return callable_name(data)


_ThenSender = _MapSender.variant("then", receiver_type=_ValueMapped)
_UponErrorSender = _MapSender.variant("upon_error", receiver_type=_ErrorMapped)
_UponStoppedSender = _MapSender.variant("upon_stopped", receiver_type=_StoppedMapped)


@overload
def then(fn: Callable[[TA], U], /) -> SenderAdaptor[TA, U]: ...
@overload
def then(sender: Sender[T], fn: Callable[[T], U], /) -> Sender[U]: ...
def then(first: Any, fn: Any = MISSING, /) -> Any:
    """Map the value: ``sender | then(f)`` completes with ``f(value)``.

    Errors and stop pass through and ``f`` is not called; if ``f`` raises, the exception goes
    down the error channel. ``TypeError`` when built if ``f`` is not callable.
    """
    return _ThenSender.call(first, fn)


@overload
def upon_error(fn: Callable[[BaseException], U], /) -> JoiningAdaptor[U]: ...
@overload
def upon_error(sender: Sender[T], fn: Callable[[BaseException], U], /) -> Sender[T | U]: ...
def upon_error(first: Any, fn: Any = MISSING, /) -> Any:
    """Handle the error: ``set_error(e)`` becomes ``set_value(f(e))``.

    Values and stop pass through; if ``f`` raises, that exception is the new error.
    """
    return _UponErrorSender.call(first, fn)


@overload
def upon_stopped(fn: Callable[[], U], /) -> JoiningAdaptor[U]: ...
@overload
def upon_stopped(sender: Sender[T], fn: Callable[[], U], /) -> Sender[T | U]: ...
def upon_stopped(first: Any, fn: Any = MISSING, /) -> Any:
    """Handle stop: ``set_stopped()`` becomes ``set_value(f())``.

    Values and errors pass through; if ``f`` raises, the exception goes down the error channel.
    """
    return _UponStoppedSender.call(first, fn)
