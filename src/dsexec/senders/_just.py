"""``just``, ``just_error``, ``just_stopped`` [exec.just]: senders that complete inline in
``start()`` with the value, error or stop they were built with.

They ignore stop requests: completing at once is as prompt as stopping. The senders are
restartable (an operation state may be started again once completed; see ``_trampoline.py``),
so ``just(v) | then(f) | repeat_n(n)`` connects once, not once per round.
"""

from __future__ import annotations

from typing import Generic, Never, TypeVar, final

from .._core import OperationState, Receiver, Sender

__all__ = ["just", "just_error", "just_stopped"]

T = TypeVar("T")


@final
class _JustSender(Sender[T], Generic[T]):
    __slots__ = ("_value",)

    _restartable = True

    def __init__(self, value: T) -> None:
        self._value = value

    def connect(self, receiver: Receiver[T], /) -> OperationState:
        return _JustOp(receiver, self._value)

    def _connect_or_complete(self, receiver: Receiver[T], /) -> OperationState | None:
        receiver.set_value(self._value)
        return None

    def __repr__(self) -> str:
        return f"just({self._value!r:.60})"


@final
class _JustOp(Generic[T]):
    __slots__ = ("_receiver", "_value")

    def __init__(self, receiver: Receiver[T], value: T) -> None:
        self._receiver = receiver
        self._value = value

    def start(self) -> None:
        self._receiver.set_value(self._value)


@final
class _JustErrorSender(Sender[Never]):
    __slots__ = ("_error",)

    _restartable = True

    def __init__(self, error: BaseException) -> None:
        self._error = error

    def connect(self, receiver: Receiver[Never], /) -> OperationState:
        return _JustErrorOp(receiver, self._error)

    def __repr__(self) -> str:
        return f"just_error({self._error!r:.60})"


@final
class _JustErrorOp:
    __slots__ = ("_error", "_receiver")

    def __init__(self, receiver: Receiver[Never], error: BaseException) -> None:
        self._receiver = receiver
        self._error = error

    def start(self) -> None:
        self._receiver.set_error(self._error)


@final
class _JustStoppedSender(Sender[Never]):
    __slots__ = ()

    _restartable = True

    def connect(self, receiver: Receiver[Never], /) -> OperationState:
        return _JustStoppedOp(receiver)

    def __repr__(self) -> str:
        return "just_stopped()"


@final
class _JustStoppedOp:
    __slots__ = ("_receiver",)

    def __init__(self, receiver: Receiver[Never]) -> None:
        self._receiver = receiver

    def start(self) -> None:
        self._receiver.set_stopped()


def just(value: T, /) -> Sender[T]:
    """A sender that completes with ``value`` as soon as it is started."""
    return _JustSender(value)


def just_error(error: BaseException, /) -> Sender[Never]:
    """A sender that completes with ``set_error(error)`` as soon as it is started.

    ``TypeError`` (when built) if ``error`` is not an exception instance.
    """
    if not isinstance(error, BaseException):
        raise TypeError(
            f"just_error: expected an exception instance, got {type(error).__name__}"
        )
    return _JustErrorSender(error)


_JUST_STOPPED: _JustStoppedSender = _JustStoppedSender()


def just_stopped() -> Sender[Never]:
    """A sender that completes with ``set_stopped()`` as soon as it is started."""
    return _JUST_STOPPED
