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

from typing import Any, Generic, TypeVar, final, overload

from .._core import (
    Adaptor,
    Env,
    OperationState,
    Receiver,
    Sender,
    TimedScheduler,
    check_delay,
    require_sender,
)
from ._stop_when import ERROR, VALUE, RaceOp

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
class _TimeoutOp(RaceOp[T]):
    __slots__ = ("_scheduler", "_seconds")

    def __init__(
        self,
        upstream: Sender[T],
        seconds: float,
        scheduler: TimedScheduler | None,
        receiver: Receiver[T],
    ) -> None:
        super().__init__(upstream, receiver)
        self._seconds = seconds
        self._scheduler = scheduler

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

    def _deliver(self) -> None:
        receiver = self._receiver
        channel = self._up_channel
        if channel == VALUE:
            receiver.set_value(self._up_result)
        elif channel == ERROR:
            receiver.set_error(self._up_result)
        elif self._outer_stop_requested():
            receiver.set_stopped()
        elif self._other_channel == VALUE:
            receiver.set_error(
                TimeoutError(f"timeout: the operation timed out after {self._seconds:g} s")
            )
        elif self._other_channel == ERROR:
            error = self._other_result
            assert error is not None
            receiver.set_error(error)
        else:
            receiver.set_stopped()


@final
class _TimeoutSender(Sender[T], Generic[T]):
    __slots__ = ("_scheduler", "_seconds", "_sender")

    def __init__(self, sender: Sender[T], seconds: float, scheduler: TimedScheduler | None) -> None:
        self._sender = sender
        self._seconds = seconds
        self._scheduler = scheduler

    def connect(self, receiver: Receiver[T], /) -> OperationState:
        return _TimeoutOp(self._sender, self._seconds, self._scheduler, receiver)

    def __repr__(self) -> str:
        return f"{self._sender!r} | timeout({self._seconds:g})"


@final
class _TimeoutAdaptor(Adaptor):
    """Pipe form of ``timeout``: the upstream's value type passes through."""

    __slots__ = ("_scheduler", "_seconds")

    def __init__(self, seconds: float, scheduler: TimedScheduler | None) -> None:
        self._seconds = seconds
        self._scheduler = scheduler

    def __call__(self, sender: Sender[T], /) -> Sender[T]:
        require_sender("timeout", sender)
        return _TimeoutSender(sender, self._seconds, self._scheduler)

    def __repr__(self) -> str:
        return f"<SenderAdaptor timeout({self._seconds:g})>"


def _check_seconds(seconds: object) -> float:
    return check_delay("timeout", seconds)


def _check_scheduler(scheduler: TimedScheduler | None) -> TimedScheduler | None:
    if scheduler is not None:
        _timed_schedule_after("timeout", scheduler)
    return scheduler


@overload
def timeout(seconds: float, /, *, scheduler: TimedScheduler | None = None) -> _TimeoutAdaptor: ...
@overload
def timeout(
    sender: Sender[T], seconds: float, /, *, scheduler: TimedScheduler | None = None
) -> Sender[T]: ...
def timeout(first: Any, seconds: Any = None, /, *, scheduler: TimedScheduler | None = None) -> Any:
    """Complete with ``TimeoutError`` if the upstream has not completed after ``seconds``.

    The timer runs on ``scheduler`` if given (a timed scheduler), else on the environment's
    scheduler. ``TypeError`` when built if ``seconds`` is not a number or ``scheduler`` has no
    ``schedule_after``.
    """
    if isinstance(first, Sender):
        if seconds is None:
            raise TypeError("timeout: missing the delay: use timeout(sender, seconds)")
        return _TimeoutSender(first, _check_seconds(seconds), _check_scheduler(scheduler))
    if seconds is not None:
        require_sender("timeout", first)
    return _TimeoutAdaptor(_check_seconds(first), _check_scheduler(scheduler))
