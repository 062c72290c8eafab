"""``unstoppable`` (stdexec's ``exec::unstoppable``): shield the upstream from stop requests.

The upstream is connected with the downstream environment in which the stop token is replaced
by ``StopToken.never()`` (the scheduler and everything else stay), so it runs to the end even
when stop is requested downstream -- for cleanup, or a write that must not be torn.

All three channels pass through unchanged: an error is still an error, and an upstream that
completes with ``set_stopped()`` on its own is still reported as stopped. The adaptor adds no
operation state of its own.
"""

from __future__ import annotations

from typing import Any, TypeVar, final, overload

from .._core import (
    MISSING,
    NEVER_STOP_TOKEN,
    Env,
    ForwardingReceiver,
    PreservingAdaptor,
    Receiver,
    ReceiverSender,
    Sender,
)

__all__ = ["unstoppable"]

T = TypeVar("T")


@final
class _UnstoppableReceiver(ForwardingReceiver[Any]):
    """``data`` is the downstream environment without its stop token."""

    __slots__ = ()

    def __init__(self, receiver: Receiver[Any], data: Any = None) -> None:
        env = receiver.get_env()
        if env.stop_token.stop_possible():
            env = env.with_stop_token(NEVER_STOP_TOKEN)
        super().__init__(receiver, env)

    def get_env(self) -> Env:
        env: Env = self.data
        return env


_UnstoppableSender = ReceiverSender.variant("unstoppable", receiver_type=_UnstoppableReceiver)


@overload
def unstoppable() -> PreservingAdaptor: ...
@overload
def unstoppable(sender: Sender[T], /) -> Sender[T]: ...
def unstoppable(sender: Any = MISSING, /) -> Any:
    """Run the upstream with a never-stop token: ``sender | unstoppable()``.

    Completions pass through unchanged. ``TypeError`` when built if ``sender`` is not a sender.
    """
    return _UnstoppableSender.call_optional(sender)
