"""``timeout(seconds)``: fail the upstream with ``TimeoutError`` if it takes longer than
``seconds`` (libunifex's ``stop_when(source, schedule_after(d))`` plus an error, like trio's and
anyio's ``fail_after``).

The upstream races ``scheduler.schedule_after(seconds)``, where ``scheduler`` is the one given,
else the environment's (``get_scheduler``). Both run under one new stop source:

* Upstream first: the timer is cancelled (its operation stopped, so nothing dangles in the
  reactor), then the upstream's completion -- value, error or stopped -- is delivered.
* Timer first: stop is requested on the upstream; once it has completed, ``TimeoutError``
  ("timeout: the operation timed out after S s") is delivered -- unless the upstream completed
  with a value or an error before honouring the stop, which is then delivered instead.

On error: the upstream's error passes through. If no timed scheduler is available (none given
and none, or one without ``schedule_after``, in the environment), the operation completes with
``TypeError`` and starts nothing; if the timer itself fails, the upstream is stopped and that
error delivered. On stop: a stop request from downstream stops both, and ``set_stopped`` is
delivered once both completed (a value or error the upstream already produced wins). An
upstream that completes inline inside ``start()`` arms no timer at all.

The race is :class:`~dsexec.senders._stop_when.RaceOp`, shared with ``stop_when``; it works on
every :class:`~dsexec.TimedScheduler` (``IoContext``, ``VirtualTimeScheduler``,
``AnyioScheduler``) since it only uses ``schedule_after``.
"""

from __future__ import annotations

from typing import Any, TypeVar, final, overload

from .._core import (
    ERROR,
    MISSING,
    STOPPED,
    VALUE,
    BasicSender,
    Completion,
    Env,
    PreservingAdaptor,
    Receiver,
    Sender,
    TimedScheduler,
    check_delay,
)
from ._stop_when import RaceOp

__all__ = ["timeout"]

T = TypeVar("T")


def _timed_schedule_after(algorithm: str, scheduler: object) -> Any:
    schedule_after = getattr(scheduler, "schedule_after", None)
    if not callable(schedule_after):
        raise TypeError(
            f"{algorithm}: needs a timed scheduler (with schedule_after()), "
            f"got {type(scheduler).__name__} ({scheduler!r:.60})"
        )
    return schedule_after


@final
class _TimeoutOp(RaceOp):
    __slots__ = ("_scheduler", "_seconds")

    def __init__(
        self,
        upstream: Sender[Any],
        data: tuple[float, TimedScheduler | None],
        receiver: Receiver[Any],
    ) -> None:
        super().__init__(upstream, receiver)
        self._seconds, self._scheduler = data

    def _make_other(self, env: Env) -> Sender[Any]:
        scheduler: object = self._scheduler
        if scheduler is None:
            scheduler = env.scheduler
            if scheduler is None:
                raise TypeError(
                    "timeout: needs a timed scheduler, and the environment has none: pass "
                    "timeout(seconds, scheduler=sch), spawn the work into "
                    "CountingScope(scheduler=sch), or run it under sync_wait or starts_on"
                )
        timer: Sender[Any] = _timed_schedule_after("timeout", scheduler)(self._seconds)
        return timer

    def _deliver(self, upstream: Completion, other: Completion) -> None:
        # A value or error of the upstream wins; a stopped upstream was stopped by the timer
        # (TimeoutError), by a failing timer (its error) or from downstream (stopped).
        if upstream.channel == STOPPED and not self._outer_stop_requested():
            if other.channel == VALUE:
                message = f"timeout: the operation timed out after {self._seconds:g} s"
                upstream = Completion(ERROR, TimeoutError(message))
            elif other.channel == ERROR:
                upstream = other
        upstream.deliver(self._receiver)


def _check(data: tuple[Any, Any]) -> tuple[float, Any]:
    seconds, scheduler = data
    if scheduler is not None:
        _timed_schedule_after("timeout", scheduler)
    return check_delay("timeout", seconds), scheduler


# ``data`` is ``(seconds, scheduler or None)``.
_TimeoutSender = BasicSender.variant(
    "timeout", operation=_TimeoutOp, check=_check, describe=lambda data: f"{data[0]:g}"
)


@overload
def timeout(seconds: float, /, *, scheduler: TimedScheduler | None = None) -> PreservingAdaptor: ...
@overload
def timeout(
    sender: Sender[T], seconds: float, /, *, scheduler: TimedScheduler | None = None
) -> Sender[T]: ...
def timeout(
    first: Any, seconds: Any = MISSING, /, *, scheduler: TimedScheduler | None = None
) -> Any:
    """Complete with ``TimeoutError`` if the upstream has not completed after ``seconds``.

    The timer runs on ``scheduler`` if given (a timed scheduler), else on the environment's
    scheduler. When built: ``TypeError`` if ``seconds`` is not a number or ``scheduler`` has no
    ``schedule_after``, ``ValueError`` if ``seconds`` is NaN or negative (``math.inf``: never).
    """
    if seconds is MISSING:
        if isinstance(first, Sender):
            raise TypeError("timeout: missing the delay: use timeout(sender, seconds)")
        return _TimeoutSender.call((first, scheduler))
    return _TimeoutSender.call(first, (seconds, scheduler))
