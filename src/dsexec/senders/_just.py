"""``just``, ``just_error``, ``just_stopped`` [exec.just]: senders that complete inline in
``start()`` with the value, error or stop they were built with.

They ignore stop requests: completing at once is as prompt as stopping. The senders are
restartable (``Sender.restartable``), so ``just(v) | then(f) | repeat_n(n)`` connects once, not
once per round, and ``connect_or_complete`` completes without an operation state.

``just(v)`` holds its value itself (no :class:`Completion`): it is the sender built most often,
often once per request (a handler's ``just(response)``), so it is one object, not two.
"""

from __future__ import annotations

from typing import Any, Never, TypeVar, final

from .._core import (
    ERROR,
    STOPPED_COMPLETION,
    VALUE,
    BasicSender,
    Completion,
    OperationState,
    Receiver,
    RestartableOperation,
    Sender,
)

__all__ = ["just", "just_error", "just_stopped"]

T = TypeVar("T")


@final
class _JustOp(RestartableOperation):
    __slots__ = ("_completion", "_receiver")

    def __init__(self, _: None, completion: Completion, receiver: Receiver[Any]) -> None:
        self._receiver = receiver
        self._completion = completion

    def start(self) -> None:
        self._completion.deliver(self._receiver)


def _connect_value(_: None, value: Any, receiver: Receiver[Any]) -> OperationState:
    # The Completion is built only here, when connected: connect_or_complete, the common way
    # a just(v) runs, delivers the value without one.
    return _JustOp(None, Completion(VALUE, value), receiver)


@final
class _JustValueSender(BasicSender):
    """``just(value)``: ``data`` is the value."""

    __slots__ = ()

    name = "just"
    restartable = True
    operation = staticmethod(_connect_value)

    def connect_or_complete(self, receiver: Receiver[Any], /) -> OperationState | None:
        receiver.set_value(self.data)
        return None

    def __repr__(self) -> str:
        return f"just({self.data!r:.60})"


@final
class _JustSender(BasicSender):
    """``just_error`` and ``just_stopped``: ``data`` is the :class:`Completion` to deliver."""

    __slots__ = ()

    restartable = True
    operation = _JustOp

    def connect_or_complete(self, receiver: Receiver[Any], /) -> OperationState | None:
        self.data.deliver(receiver)
        return None

    def __repr__(self) -> str:
        completion: Completion = self.data
        name = ("just", "just_error", "just_stopped")[completion.channel]
        shown = "" if completion is STOPPED_COMPLETION else f"{completion.payload!r:.60}"
        return f"{name}({shown})"


_JUST_STOPPED = _JustSender(None, STOPPED_COMPLETION)


def just(value: T, /) -> Sender[T]:
    """A sender that completes with ``value`` as soon as it is started."""
    return _JustValueSender(None, value)


def just_error(error: BaseException, /) -> Sender[Never]:
    """A sender that completes with ``set_error(error)`` as soon as it is started.

    ``TypeError`` (when built) if ``error`` is not an exception instance.
    """
    if not isinstance(error, BaseException):
        raise TypeError(
            f"just_error: expected an exception instance, got {type(error).__name__}"
        )
    return _JustSender(None, Completion(ERROR, error))


def just_stopped() -> Sender[Never]:
    """A sender that completes with ``set_stopped()`` as soon as it is started."""
    return _JUST_STOPPED
