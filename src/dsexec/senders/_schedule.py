"""``schedule``, ``schedule_after``, ``schedule_at`` [exec.schedule]: the sender factories of a
scheduler, as free functions.

``schedule(sch)`` is ``sch.schedule()``: a ``Sender[None]`` completing on ``sch``'s execution
resource. ``schedule_after(sch, seconds)`` and ``schedule_at(sch, deadline)`` are the timed
forms (``sch`` must be a :class:`~dsexec.TimedScheduler`); the delay counts from ``start()``.

Errors and stop are the scheduler's: a stop request withdraws a pending timer and completes with
``set_stopped`` at once; a queued ``schedule()`` completes with ``set_stopped`` if stop was
requested by the time it runs. When built: ``TypeError`` if ``sch`` lacks the method or the
delay is not a number, ``ValueError`` if it is NaN or negative, each naming the function
(``math.inf`` is a delay that never ends).
"""

from __future__ import annotations

from collections.abc import Callable

from .._core import Scheduler, Sender, TimedScheduler, check_deadline, check_delay

__all__ = ["schedule", "schedule_after", "schedule_at"]


def _method(algorithm: str, scheduler: object, method: str, needs: str) -> Callable[..., object]:
    fn: object = getattr(scheduler, method, None)
    if not callable(fn):
        raise TypeError(
            f"{algorithm}: expected {needs} (an object with .{method}()), "
            f"got {type(scheduler).__name__} ({scheduler!r:.60})"
        )
    return fn


def _checked_sender(algorithm: str, sender: object) -> Sender[None]:
    if not isinstance(sender, Sender):
        raise TypeError(
            f"{algorithm}: the scheduler returned {type(sender).__name__}, not a Sender"
        )
    return sender


def schedule(scheduler: Scheduler, /) -> Sender[None]:
    """A ``Sender[None]`` that completes on ``scheduler`` (``scheduler.schedule()``)."""
    fn = _method("schedule", scheduler, "schedule", "a scheduler")
    return _checked_sender("schedule", fn())


def schedule_after(scheduler: TimedScheduler, seconds: float, /) -> Sender[None]:
    """A ``Sender[None]`` completing on ``scheduler`` ``seconds`` after it is started."""
    fn = _method("schedule_after", scheduler, "schedule_after", "a timed scheduler")
    delay = check_delay("schedule_after", seconds)
    return _checked_sender("schedule_after", fn(delay))


def schedule_at(scheduler: TimedScheduler, deadline: float, /) -> Sender[None]:
    """A ``Sender[None]`` completing on ``scheduler`` once its ``now()`` reaches ``deadline``."""
    fn = _method("schedule_at", scheduler, "schedule_at", "a timed scheduler")
    when = check_deadline("schedule_at", deadline)
    return _checked_sender("schedule_at", fn(when))
