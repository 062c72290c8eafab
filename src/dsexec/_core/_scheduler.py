"""Scheduler concepts of P2300 [exec.sched], plus the timed extension (P2300's future timed
scheduler papers, as stdexec and libunifex spell them).

A scheduler is a handle to an execution resource: ``schedule()`` returns a ``Sender[None]`` that
completes *on* that resource. A timed scheduler also has a clock (``now()``) and senders that
complete after a delay or at a deadline on that clock.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ._sender import Sender

__all__ = ["Scheduler", "TimedScheduler"]


@runtime_checkable
class Scheduler(Protocol):
    """A handle to an execution resource; ``schedule()`` completes on it."""

    def schedule(self) -> Sender[None]:
        """A sender that completes with ``None`` on this scheduler's execution resource."""
        ...


@runtime_checkable
class TimedScheduler(Scheduler, Protocol):
    """A scheduler with a monotonic clock (seconds, as a float) and timers on it."""

    def now(self) -> float:
        """The scheduler's current time, in seconds on its own monotonic clock."""
        ...

    def schedule_after(self, seconds: float, /) -> Sender[None]:
        """Complete on this scheduler ``seconds`` after the operation is *started*."""
        ...

    def schedule_at(self, deadline: float, /) -> Sender[None]:
        """Complete on this scheduler once ``now() >= deadline``."""
        ...
