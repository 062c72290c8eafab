"""``continues_on(sch)`` [exec.continues.on]: deliver the upstream's completion on ``sch``.

The upstream starts where ``start()`` is called. When it completes -- with a value, an error or
stopped -- the completion is stored, ``sch.schedule()`` is started, and once that completes on
``sch`` the stored completion is delivered there, unchanged.

On error: an upstream error is carried over to ``sch`` like a value. If the hop itself fails
(``sch.schedule()`` completes with an error, or connecting it raises), that error is delivered
instead of the stored completion. On stop: the upstream sees the downstream's stop token; if the
hop is stopped (stop requested while it was queued), ``set_stopped`` is delivered instead of the
stored completion. The hop's receiver is a ``ReplayReceiver`` holding the stored completion.
"""

from __future__ import annotations

from typing import Any, TypeVar, final, overload

from .._core import (
    MISSING,
    BasicSender,
    Completion,
    CompletionSink,
    Env,
    OperationState,
    PreservingAdaptor,
    Receiver,
    ReplayReceiver,
    Scheduler,
    Sender,
)
from ._starts_on import require_scheduler

__all__ = ["continues_on"]

T = TypeVar("T")


@final
class _ContinuesOnOp(CompletionSink):
    """Receiver of the upstream; stores its completion and starts the hop onto ``sch``."""

    __slots__ = ("_child", "_receiver", "_scheduler")

    def __init__(self, sender: Sender[Any], scheduler: Scheduler, receiver: Receiver[Any]) -> None:
        self._receiver = receiver
        self._scheduler = scheduler
        # The upstream's operation state, then the hop's: what runs now is kept alive here.
        self._child: OperationState = sender.connect(self)

    def start(self) -> None:
        self._child.start()

    def receive(self, result: Completion, /) -> None:
        """The upstream completed: hop onto the scheduler, where ``result`` is delivered
        (ReplayReceiver); the hop's own error or stop wins."""
        try:
            hop = self._scheduler.schedule().connect(ReplayReceiver(self._receiver, result))
        except Exception as exc:
            self._receiver.set_error(exc)
            return
        self._child = hop
        hop.start()

    def get_env(self) -> Env:
        return self._receiver.get_env()


def _check_scheduler(scheduler: Any) -> Any:
    require_scheduler("continues_on", scheduler)
    return scheduler


_ContinuesOnSender = BasicSender.variant(
    "continues_on", operation=_ContinuesOnOp, check=_check_scheduler
)


@overload
def continues_on(scheduler: Scheduler, /) -> PreservingAdaptor: ...
@overload
def continues_on(sender: Sender[T], scheduler: Scheduler, /) -> Sender[T]: ...
def continues_on(first: Any, scheduler: Any = MISSING, /) -> Any:
    """Deliver the upstream's completion (value, error or stopped) on ``scheduler``.

    ``TypeError`` when built if ``scheduler`` has no ``schedule()``.
    """
    return _ContinuesOnSender.call(first, scheduler)
