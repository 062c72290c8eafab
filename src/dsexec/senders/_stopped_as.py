"""``stopped_as_optional`` [exec.stopped.opt] and ``stopped_as_error`` [exec.stopped.err]: turn
the stopped channel into a value or an error.

* ``stopped_as_optional()``: ``set_stopped()`` becomes ``set_value(None)`` (Python's
  ``optional``); values and errors pass through.
* ``stopped_as_error(e)``: ``set_stopped()`` becomes ``set_error(e)``; values and errors pass
  through. ``e`` must be an exception instance (``TypeError`` when built otherwise).

Stop requests still reach the upstream through the forwarded environment: these adaptors change
only how a stopped completion is reported. They add no operation state of their own.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar, final, overload

from .._core import MISSING, Adaptor, Env, OperationState, Receiver, Sender, require_sender

__all__ = ["stopped_as_error", "stopped_as_optional"]

T = TypeVar("T")


@final
class _StoppedAsOptionalReceiver(Generic[T]):
    __slots__ = ("_receiver",)

    def __init__(self, receiver: Receiver[T | None]) -> None:
        self._receiver = receiver

    def set_value(self, value: T, /) -> None:
        self._receiver.set_value(value)

    def set_error(self, error: BaseException, /) -> None:
        self._receiver.set_error(error)

    def set_stopped(self) -> None:
        self._receiver.set_value(None)

    def get_env(self) -> Env:
        return self._receiver.get_env()


@final
class _StoppedAsErrorReceiver(Generic[T]):
    __slots__ = ("_error", "_receiver")

    def __init__(self, receiver: Receiver[T], error: BaseException) -> None:
        self._receiver = receiver
        self._error = error

    def set_value(self, value: T, /) -> None:
        self._receiver.set_value(value)

    def set_error(self, error: BaseException, /) -> None:
        self._receiver.set_error(error)

    def set_stopped(self) -> None:
        self._receiver.set_error(self._error)

    def get_env(self) -> Env:
        return self._receiver.get_env()


@final
class _StoppedAsOptionalSender(Sender[T | None], Generic[T]):
    __slots__ = ("_sender",)

    def __init__(self, sender: Sender[T]) -> None:
        self._sender = sender

    def connect(self, receiver: Receiver[T | None], /) -> OperationState:
        return self._sender.connect(_StoppedAsOptionalReceiver(receiver))


@final
class _StoppedAsErrorSender(Sender[T], Generic[T]):
    __slots__ = ("_error", "_sender")

    def __init__(self, sender: Sender[T], error: BaseException) -> None:
        self._sender = sender
        self._error = error

    def connect(self, receiver: Receiver[T], /) -> OperationState:
        return self._sender.connect(_StoppedAsErrorReceiver(receiver, self._error))


@final
class _StoppedAsOptionalAdaptor(Adaptor):
    """Pipe form of ``stopped_as_optional()``."""

    __slots__ = ()

    def __call__(self, sender: Sender[T], /) -> Sender[T | None]:
        require_sender("stopped_as_optional", sender)
        return _StoppedAsOptionalSender(sender)

    def __repr__(self) -> str:
        return "<SenderAdaptor stopped_as_optional>"


@final
class _StoppedAsErrorAdaptor(Adaptor):
    """Pipe form of ``stopped_as_error(e)``."""

    __slots__ = ("_error",)

    def __init__(self, error: BaseException) -> None:
        self._error = error

    def __call__(self, sender: Sender[T], /) -> Sender[T]:
        require_sender("stopped_as_error", sender)
        return _StoppedAsErrorSender(sender, self._error)

    def __repr__(self) -> str:
        return f"<SenderAdaptor stopped_as_error({self._error!r:.60})>"


_STOPPED_AS_OPTIONAL = _StoppedAsOptionalAdaptor()


def _require_exception(obj: object) -> None:
    if not isinstance(obj, BaseException):
        raise TypeError(
            f"stopped_as_error: expected an exception instance, got {type(obj).__name__} "
            f"({obj!r:.60})"
        )


@overload
def stopped_as_optional() -> _StoppedAsOptionalAdaptor: ...
@overload
def stopped_as_optional(sender: Sender[T], /) -> Sender[T | None]: ...
def stopped_as_optional(sender: Any = MISSING, /) -> Any:
    """Report stop as the value ``None``: ``sender | stopped_as_optional()``.

    Values and errors pass through. ``TypeError`` when built if ``sender`` is not a sender.
    """
    if sender is MISSING:
        return _STOPPED_AS_OPTIONAL
    require_sender("stopped_as_optional", sender)
    return _StoppedAsOptionalSender(sender)


@overload
def stopped_as_error(error: BaseException, /) -> _StoppedAsErrorAdaptor: ...
@overload
def stopped_as_error(sender: Sender[T], error: BaseException, /) -> Sender[T]: ...
def stopped_as_error(first: Any, error: Any = MISSING, /) -> Any:
    """Report stop as the error ``error``: ``sender | stopped_as_error(TimeoutError())``.

    Values and errors pass through. ``TypeError`` when built if ``error`` is not an exception
    instance or ``sender`` is not a sender.
    """
    if error is MISSING:
        _require_exception(first)
        return _StoppedAsErrorAdaptor(first)
    require_sender("stopped_as_error", first)
    _require_exception(error)
    return _StoppedAsErrorSender(first, error)
