"""``unstoppable`` (stdexec's ``exec::unstoppable``): shield the upstream from stop requests.

The upstream is connected with the downstream environment in which the stop token is replaced
by ``StopToken.never()`` (the scheduler and everything else stay), so it runs to the end even
when stop is requested downstream -- for cleanup, or a write that must not be torn.

All three channels pass through unchanged: an error is still an error, and an upstream that
completes with ``set_stopped()`` on its own is still reported as stopped. The adaptor adds no
operation state of its own.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar, final, overload

from .._core import (
    MISSING,
    NEVER_STOP_TOKEN,
    Adaptor,
    Env,
    OperationState,
    Receiver,
    Sender,
    require_sender,
)

__all__ = ["unstoppable"]

T = TypeVar("T")


@final
class _UnstoppableReceiver(Generic[T]):
    __slots__ = ("_env", "_receiver")

    def __init__(self, receiver: Receiver[T]) -> None:
        self._receiver = receiver
        env = receiver.get_env()
        if env.stop_token.stop_possible():
            env = env.with_stop_token(NEVER_STOP_TOKEN)
        self._env = env

    def set_value(self, value: T, /) -> None:
        self._receiver.set_value(value)

    def set_error(self, error: BaseException, /) -> None:
        self._receiver.set_error(error)

    def set_stopped(self) -> None:
        self._receiver.set_stopped()

    def get_env(self) -> Env:
        return self._env


@final
class _UnstoppableSender(Sender[T], Generic[T]):
    __slots__ = ("_sender",)

    def __init__(self, sender: Sender[T]) -> None:
        self._sender = sender

    def connect(self, receiver: Receiver[T], /) -> OperationState:
        return self._sender.connect(_UnstoppableReceiver(receiver))

    def __repr__(self) -> str:
        return f"unstoppable({self._sender!r:.60})"


@final
class _UnstoppableAdaptor(Adaptor):
    """Pipe form of ``unstoppable()``."""

    __slots__ = ()

    def __call__(self, sender: Sender[T], /) -> Sender[T]:
        require_sender("unstoppable", sender)
        return _UnstoppableSender(sender)

    def __repr__(self) -> str:
        return "<SenderAdaptor unstoppable>"


_UNSTOPPABLE = _UnstoppableAdaptor()


@overload
def unstoppable() -> _UnstoppableAdaptor: ...
@overload
def unstoppable(sender: Sender[T], /) -> Sender[T]: ...
def unstoppable(sender: Any = MISSING, /) -> Any:
    """Run the upstream with a never-stop token: ``sender | unstoppable()``.

    Completions pass through unchanged. ``TypeError`` when built if ``sender`` is not a sender.
    """
    if sender is MISSING:
        return _UNSTOPPABLE
    require_sender("unstoppable", sender)
    return _UnstoppableSender(sender)
