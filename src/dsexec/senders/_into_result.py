"""``into_result`` and :class:`Result`: fold the value and error channels into one value (dsexec's
own, in the spirit of P2300's ``into_variant`` [exec.into.variant] and C++'s ``std::expected``).

* ``set_value(v)`` becomes ``set_value(Result.of_value(v))``.
* ``set_error(e)`` becomes ``set_value(Result.of_error(e))``: the error is captured, not raised.
* ``set_stopped()`` passes through: a stopped operation has neither a value nor an error (chain
  ``stopped_as_optional()`` or ``upon_stopped`` to map it too).

Stop requests reach the upstream through the forwarded environment. The adaptor adds no
operation state of its own.
"""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar, final, overload

import attrs

from .._core import MISSING, ForwardingReceiver, ReceiverSender, Sender

__all__ = ["Result", "ResultAdaptor", "into_result"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@final
@attrs.frozen(repr=False)
class Result(Generic[T_co]):
    """The outcome of a sender: a value or an exception (``into_result()`` builds them).

    Build with :meth:`of_value` or :meth:`of_error`. ``has_value()`` tells which it is;
    ``value()`` returns the value or raises the captured exception; ``error()`` returns the
    captured exception, or ``None`` for a value result (it never raises). Equality comes from
    attrs (exceptions compare by identity); ``repr`` reads like the call that builds it.
    """

    _value: T_co
    _error: BaseException | None = None

    @classmethod
    def of_value(cls, value: T, /) -> Result[T]:
        """A result holding ``value``."""
        return Result(value)

    @classmethod
    def of_error(cls, error: BaseException, /) -> Result[Any]:
        """A result holding ``error`` (``TypeError`` unless it is an exception instance)."""
        if not isinstance(error, BaseException):
            raise TypeError(
                f"Result.of_error: expected an exception instance, got {type(error).__name__}"
            )
        return Result(None, error)

    def __repr__(self) -> str:
        if self._error is None:
            return f"Result.of_value({self._value!r})"
        return f"Result.of_error({self._error!r})"

    def has_value(self) -> bool:
        """Whether this result holds a value (rather than an error)."""
        return self._error is None

    def value(self) -> T_co:
        """The value; raises the captured exception if this is an error result."""
        if self._error is not None:
            raise self._error
        return self._value

    def error(self) -> BaseException | None:
        """The captured exception, or ``None`` if this result holds a value."""
        return self._error


@final
class _IntoResultReceiver(ForwardingReceiver[Any]):
    __slots__ = ()

    def set_value(self, value: Any, /) -> None:
        self.receiver.set_value(Result(value))

    def set_error(self, error: BaseException, /) -> None:
        self.receiver.set_value(Result(None, error))


_IntoResultSender = ReceiverSender.variant("into_result", receiver_type=_IntoResultReceiver)


class ResultAdaptor(Protocol):
    """The type of ``into_result()``: ``Sender[T] -> Sender[Result[T]]``."""

    def __call__(self, sender: Sender[T], /) -> Sender[Result[T]]:
        """Apply ``into_result`` to ``sender``."""
        ...


@overload
def into_result() -> ResultAdaptor: ...
@overload
def into_result(sender: Sender[T], /) -> Sender[Result[T]]: ...
def into_result(sender: Any = MISSING, /) -> Any:
    """Capture the value or error as a :class:`Result`: ``sender | into_result()``.

    Stop passes through. ``TypeError`` when built if ``sender`` is not a sender.
    """
    return _IntoResultSender.call_optional(sender)
