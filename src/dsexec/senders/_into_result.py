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

from typing import Any, Generic, TypeVar, cast, final, overload

import attrs

from .._core import MISSING, Adaptor, Env, OperationState, Receiver, Sender, require_sender

__all__ = ["Result", "into_result"]

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
class _IntoResultReceiver(Generic[T]):
    __slots__ = ("_receiver",)

    def __init__(self, receiver: Receiver[Result[T]]) -> None:
        self._receiver = receiver

    def set_value(self, value: T, /) -> None:
        self._receiver.set_value(Result(value))

    def set_error(self, error: BaseException, /) -> None:
        self._receiver.set_value(Result(cast(T, None), error))

    def set_stopped(self) -> None:
        self._receiver.set_stopped()

    def get_env(self) -> Env:
        return self._receiver.get_env()


@final
class _IntoResultSender(Sender[Result[T]], Generic[T]):
    __slots__ = ("_sender",)

    def __init__(self, sender: Sender[T]) -> None:
        self._sender = sender

    def connect(self, receiver: Receiver[Result[T]], /) -> OperationState:
        return self._sender.connect(_IntoResultReceiver(receiver))


@final
class _IntoResultAdaptor(Adaptor):
    """Pipe form of ``into_result()``."""

    __slots__ = ()

    def __call__(self, sender: Sender[T], /) -> Sender[Result[T]]:
        require_sender("into_result", sender)
        return _IntoResultSender(sender)

    def __repr__(self) -> str:
        return "<SenderAdaptor into_result>"


_INTO_RESULT = _IntoResultAdaptor()


@overload
def into_result() -> _IntoResultAdaptor: ...
@overload
def into_result(sender: Sender[T], /) -> Sender[Result[T]]: ...
def into_result(sender: Any = MISSING, /) -> Any:
    """Capture the value or error as a :class:`Result`: ``sender | into_result()``.

    Stop passes through. ``TypeError`` when built if ``sender`` is not a sender.
    """
    if sender is MISSING:
        return _INTO_RESULT
    require_sender("into_result", sender)
    return _IntoResultSender(sender)
