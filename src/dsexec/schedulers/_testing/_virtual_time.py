"""``VirtualTimeScheduler``: an ``IoContext`` whose clock is virtual (trio's ``MockClock`` with
autojump, for senders).

Theory of operation
-------------------
The clock starts at ``start`` (default 0.0) and moves only two ways: ``advance(seconds)``, or
the loop jumping it. Whenever the loop would sleep until the next timer, it first polls fds
without blocking; if nothing is ready, it sets the clock to that timer's deadline instead of
sleeping. An hour-long timeout therefore completes in microseconds, and timers still fire in
deadline order. With no timers at all, the loop blocks on real fds and on ``post`` from other
threads, like ``IoContext``.

Everything else -- the ready queue, fd waits, ``notify_closing``, ``run``/``run_one``/``poll``,
``sync_wait(..., context=vts)`` -- is ``IoContext``'s, so a test on virtual time exercises the
same code paths as production.
"""

from __future__ import annotations

import math
from typing import final

from ..._core import check_deadline, check_delay
from .._backends._io_context import IoContext, IoContextScheduler
from .._reactor import IoScheduler

__all__ = ["VirtualTimeScheduler"]


@final
class VirtualTimeScheduler(IoContext, IoScheduler):
    """A test context and timed scheduler whose clock jumps to the next timer when idle.

    It is both the context (``run()``, ``run_one()``, ``poll()``, ``sync_wait(s,
    context=vts)``) and an :class:`~dsexec.IoScheduler` (``schedule()``, ``schedule_after()``,
    ``now()``, fd waits), so it goes wherever production code takes a scheduler.

    A timer at ``math.inf`` never fires and the clock never jumps to it: with only such timers
    left, the loop waits for real fds and posts, as with no timers at all.
    """

    def __init__(self, start: float = 0.0) -> None:
        now = check_deadline("VirtualTimeScheduler", start)
        if not math.isfinite(now):
            raise ValueError(f"VirtualTimeScheduler: the start time must be finite, got {start!r}")
        super().__init__()
        self.reactor = self
        self._now = now

    def time(self) -> float:
        """The virtual clock, in seconds."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (a finite number >= 0); due timers fire on
        the next run. ``TypeError``/``ValueError`` otherwise (``math.inf`` too: the clock
        would stop meaning anything)."""
        delay = check_delay("VirtualTimeScheduler.advance", seconds)
        if math.isinf(delay):
            raise ValueError("VirtualTimeScheduler.advance: cannot advance by math.inf seconds")
        self._now += delay

    def get_scheduler(self) -> IoContextScheduler:
        """A scheduler on this context; its ``now()`` is the virtual clock."""
        return self._scheduler

    def _select(self, timeout: float | None) -> list[tuple[int, int]]:
        poll = self._poller.poll
        if timeout == 0.0:
            return poll(0.0)
        events = poll(0.0)
        if events or timeout is None:
            return events or poll(None)
        timers = self._timers
        if timers:  # _compute_timeout left a live timer on top
            deadline = timers[0][0]
            if deadline == math.inf:  # never due: nothing to jump to, wait for real events
                return poll(None)
            self._now = max(self._now, deadline)
        return events
