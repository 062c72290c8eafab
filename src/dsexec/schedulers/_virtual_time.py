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

from typing import TypeAlias, final

from .._core import Sender
from ._io_context import IoContext, IoScheduler
from ._reactor import ReactorScheduler

__all__ = ["VirtualTimeScheduler"]


@final
class VirtualTimeScheduler(IoContext):
    """A test context and timed scheduler whose clock jumps to the next timer when idle.

    It is both the context (``run()``, ``run_one()``, ``poll()``, ``sync_wait(s,
    context=vts)``) and the scheduler (``schedule()``, ``schedule_after()``, ``now()``).
    """

    _is_own_reactor = True  # dsexec.schedulers.reactor_of(vts) is vts itself

    def __init__(self, start: float = 0.0) -> None:
        super().__init__()
        self._now = float(start)

    def time(self) -> float:
        """The virtual clock, in seconds."""
        return self._now

    def now(self) -> float:
        """The virtual clock, in seconds."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (>= 0); due timers fire on the next run."""
        if seconds < 0:
            raise ValueError(f"VirtualTimeScheduler.advance: seconds must be >= 0, got {seconds}")
        self._now += seconds

    def schedule(self) -> Sender[None]:
        """Complete with ``None`` on this context, after already queued work."""
        return self._scheduler.schedule()

    def schedule_after(self, seconds: float, /) -> Sender[None]:
        """Complete ``seconds`` of virtual time after ``start()``."""
        return self._scheduler.schedule_after(seconds)

    def schedule_at(self, deadline: float, /) -> Sender[None]:
        """Complete once the virtual clock reaches ``deadline``."""
        return self._scheduler.schedule_at(deadline)

    def wait_readable(self, fd: int, /) -> Sender[None]:
        """Complete once ``fd`` is readable (see ``IoScheduler.wait_readable``)."""
        return self._scheduler.wait_readable(fd)

    def wait_writable(self, fd: int, /) -> Sender[None]:
        """Complete once ``fd`` is writable (see ``IoScheduler.wait_writable``)."""
        return self._scheduler.wait_writable(fd)

    def get_scheduler(self) -> IoScheduler:
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
            self._now = max(self._now, timers[0][0])
        return events


ReactorSchedulerLike: TypeAlias = ReactorScheduler | VirtualTimeScheduler
"""What the I/O senders (``dsexec.net``) accept as their scheduler: one with a reactor behind it
(``IoContext.get_scheduler()``, ``AnyioScheduler``) or a ``VirtualTimeScheduler``, which is its
own reactor. ``reactor_of`` turns any of them into the :class:`Reactor` the senders drive."""
