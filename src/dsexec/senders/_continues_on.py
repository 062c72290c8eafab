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
    PreservingAdaptor,
    Scheduler,
    Sender,
)
from ._finally import ReplayAfterOp
from ._starts_on import require_scheduler

__all__ = ["continues_on"]

T = TypeVar("T")


@final
class _ContinuesOnOp(ReplayAfterOp):
    """``_data`` is the scheduler; the second sender is the hop onto it."""

    __slots__ = ()

    def _second(self) -> Sender[Any]:
        return self._data.schedule()  # type: ignore[no-any-return]


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
