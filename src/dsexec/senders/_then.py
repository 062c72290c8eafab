"""``then``, ``upon_error``, ``upon_stopped`` [exec.then]: map one completion channel to a value.

* ``then(f)``: ``set_value(v)`` becomes ``set_value(f(v))``.
* ``upon_error(f)``: ``set_error(e)`` becomes ``set_value(f(e))`` -- the error is handled.
* ``upon_stopped(f)``: ``set_stopped()`` becomes ``set_value(f())``.

The other channels pass through untouched. If ``f`` raises, its exception is sent down the error
channel instead (``upon_error``'s too: a handler that fails reports its own failure). On stop,
``f`` is not called (except by ``upon_stopped``, whose whole job it is). These adaptors add no
operation state of their own: ``connect`` wraps the receiver and returns the upstream's (so they
are restartable when the upstream is; see ``_trampoline.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, final, overload

from typing_extensions import TypeVar as DefaultTypeVar

from .._core import (
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

__all__ = ["then", "upon_error", "upon_stopped"]

T = TypeVar("T")
U = TypeVar("U")
TA = DefaultTypeVar("TA", default=Any)


@final
class _ThenReceiver(Generic[T, U]):
    __slots__ = ("_fn", "_receiver")

    def __init__(self, receiver: Receiver[U], fn: Callable[[T], U]) -> None:
        self._receiver = receiver
        self._fn = fn

    def set_value(self, value: T, /) -> None:
        try:
            result = self._fn(value)
        except Exception as exc:
            self._receiver.set_error(exc)
            return
        self._receiver.set_value(result)

    def set_error(self, error: BaseException, /) -> None:
        self._receiver.set_error(error)

    def set_stopped(self) -> None:
        self._receiver.set_stopped()

    def get_env(self) -> Env:
        return self._receiver.get_env()


@final
class _UponErrorReceiver(Generic[T, U]):
    __slots__ = ("_fn", "_receiver")

    def __init__(self, receiver: Receiver[T | U], fn: Callable[[BaseException], U]) -> None:
        self._receiver = receiver
        self._fn = fn

    def set_value(self, value: T, /) -> None:
        self._receiver.set_value(value)

    def set_error(self, error: BaseException, /) -> None:
        try:
            result = self._fn(error)
        except Exception as exc:
            self._receiver.set_error(exc)
            return
        self._receiver.set_value(result)

    def set_stopped(self) -> None:
        self._receiver.set_stopped()

    def get_env(self) -> Env:
        return self._receiver.get_env()


@final
class _UponStoppedReceiver(Generic[T, U]):
    __slots__ = ("_fn", "_receiver")

    def __init__(self, receiver: Receiver[T | U], fn: Callable[[], U]) -> None:
        self._receiver = receiver
        self._fn = fn

    def set_value(self, value: T, /) -> None:
        self._receiver.set_value(value)

    def set_error(self, error: BaseException, /) -> None:
        self._receiver.set_error(error)

    def set_stopped(self) -> None:
        try:
            result = self._fn()
        except Exception as exc:
            self._receiver.set_error(exc)
            return
        self._receiver.set_value(result)

    def get_env(self) -> Env:
        return self._receiver.get_env()


@final
class _ThenSender(Sender[U], Generic[T, U]):
    __slots__ = ("_fn", "_sender")

    @property
    def _restartable(self) -> bool:  # the upstream's operation state, restarted (_trampoline.py)
        return getattr(self._sender, "_restartable", False) is True

    def __init__(self, sender: Sender[T], fn: Callable[[T], U]) -> None:
        self._sender = sender
        self._fn = fn

    def connect(self, receiver: Receiver[U], /) -> OperationState:
        return self._sender.connect(_ThenReceiver(receiver, self._fn))


@final
class _UponErrorSender(Sender[T | U], Generic[T, U]):
    __slots__ = ("_fn", "_sender")

    @property
    def _restartable(self) -> bool:  # the upstream's operation state, restarted (_trampoline.py)
        return getattr(self._sender, "_restartable", False) is True

    def __init__(self, sender: Sender[T], fn: Callable[[BaseException], U]) -> None:
        self._sender = sender
        self._fn = fn

    def connect(self, receiver: Receiver[T | U], /) -> OperationState:
        return self._sender.connect(_UponErrorReceiver(receiver, self._fn))


@final
class _UponStoppedSender(Sender[T | U], Generic[T, U]):
    __slots__ = ("_fn", "_sender")

    @property
    def _restartable(self) -> bool:  # the upstream's operation state, restarted (_trampoline.py)
        return getattr(self._sender, "_restartable", False) is True

    def __init__(self, sender: Sender[T], fn: Callable[[], U]) -> None:
        self._sender = sender
        self._fn = fn

    def connect(self, receiver: Receiver[T | U], /) -> OperationState:
        return self._sender.connect(_UponStoppedReceiver(receiver, self._fn))


@final
class _UponAdaptor(Adaptor, Generic[U]):
    """Pipe form of ``upon_error``/``upon_stopped``: the result type joins the upstream's."""

    __slots__ = ("_fn", "_name")

    def __init__(self, name: str, fn: Callable[..., U]) -> None:
        self._name = name
        self._fn = fn

    def __call__(self, sender: Sender[T], /) -> Sender[T | U]:
        require_sender(self._name, sender)
        if self._name == "upon_error":
            return _UponErrorSender(sender, self._fn)
        return _UponStoppedSender(sender, self._fn)


@overload
def then(fn: Callable[[TA], U], /) -> SenderAdaptor[TA, U]: ...
@overload
def then(sender: Sender[T], fn: Callable[[T], U], /) -> Sender[U]: ...
def then(first: Any, fn: Any = MISSING, /) -> Any:
    """Map the value: ``sender | then(f)`` completes with ``f(value)``.

    Errors and stop pass through and ``f`` is not called; if ``f`` raises, the exception goes
    down the error channel. ``TypeError`` when built if ``f`` is not callable.
    """
    if fn is MISSING:
        require_callable("then", first)
        return SenderAdaptor("then", _ThenSender, first)
    require_sender("then", first)
    require_callable("then", fn)
    return _ThenSender(first, fn)


@overload
def upon_error(fn: Callable[[BaseException], U], /) -> _UponAdaptor[U]: ...
@overload
def upon_error(sender: Sender[T], fn: Callable[[BaseException], U], /) -> Sender[T | U]: ...
def upon_error(first: Any, fn: Any = MISSING, /) -> Any:
    """Handle the error: ``set_error(e)`` becomes ``set_value(f(e))``.

    Values and stop pass through; if ``f`` raises, that exception is the new error.
    """
    if fn is MISSING:
        require_callable("upon_error", first)
        return _UponAdaptor("upon_error", first)
    require_sender("upon_error", first)
    require_callable("upon_error", fn)
    return _UponErrorSender(first, fn)


@overload
def upon_stopped(fn: Callable[[], U], /) -> _UponAdaptor[U]: ...
@overload
def upon_stopped(sender: Sender[T], fn: Callable[[], U], /) -> Sender[T | U]: ...
def upon_stopped(first: Any, fn: Any = MISSING, /) -> Any:
    """Handle stop: ``set_stopped()`` becomes ``set_value(f())``.

    Values and errors pass through; if ``f`` raises, the exception goes down the error channel.
    """
    if fn is MISSING:
        require_callable("upon_stopped", first)
        return _UponAdaptor("upon_stopped", first)
    require_sender("upon_stopped", first)
    require_callable("upon_stopped", fn)
    return _UponStoppedSender(first, fn)
