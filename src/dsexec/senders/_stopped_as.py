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

from typing import Any, TypeVar, final, overload

from .._core import (
    MISSING,
    ForwardingReceiver,
    JoiningAdaptor,
    PreservingAdaptor,
    ReceiverSender,
    Sender,
)

__all__ = ["stopped_as_error", "stopped_as_optional"]

T = TypeVar("T")


@final
class _StoppedAsNone(ForwardingReceiver[Any]):
    __slots__ = ()

    def set_stopped(self) -> None:
        self.receiver.set_value(None)


@final
class _StoppedAsError(ForwardingReceiver[Any]):
    """``data`` is the error to report."""

    __slots__ = ()

    def set_stopped(self) -> None:
        self.receiver.set_error(self.data)


_StoppedAsOptionalSender = ReceiverSender.variant(
    "stopped_as_optional", receiver_type=_StoppedAsNone
)


def _check_error(data: Any) -> BaseException:
    if not isinstance(data, BaseException):
        raise TypeError(
            f"stopped_as_error: expected an exception instance, got {type(data).__name__} "
            f"({data!r:.60})"
        )
    return data


_StoppedAsErrorSender = ReceiverSender.variant(
    "stopped_as_error", receiver_type=_StoppedAsError, check=_check_error
)


@overload
def stopped_as_optional() -> JoiningAdaptor[None]: ...
@overload
def stopped_as_optional(sender: Sender[T], /) -> Sender[T | None]: ...
def stopped_as_optional(sender: Any = MISSING, /) -> Any:
    """Report stop as the value ``None``: ``sender | stopped_as_optional()``.

    Values and errors pass through. ``TypeError`` when built if ``sender`` is not a sender.
    """
    return _StoppedAsOptionalSender.call_optional(sender)


@overload
def stopped_as_error(error: BaseException, /) -> PreservingAdaptor: ...
@overload
def stopped_as_error(sender: Sender[T], error: BaseException, /) -> Sender[T]: ...
def stopped_as_error(first: Any, error: Any = MISSING, /) -> Any:
    """Report stop as the error ``error``: ``sender | stopped_as_error(TimeoutError())``.

    Values and errors pass through. ``TypeError`` when built if ``error`` is not an exception
    instance or ``sender`` is not a sender.
    """
    return _StoppedAsErrorSender.call(first, error)
