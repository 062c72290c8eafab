"""The :class:`~dsexec.schedulers.Reactor` of ``AnyioScheduler`` on trio.

Theory of operation
-------------------
trio has no callback API, so the reactor builds one from the pieces trio does offer:

* ``post`` from another thread is ``TrioToken.run_sync_soon`` (thread-safe, FIFO). On the trio
  thread it appends to a local ready queue served by one system task, woken with
  ``trio.lowlevel.reschedule`` when it is parked: ``run_sync_soon`` would write to trio's wake-up
  socket on every call and go through a poll, and a chain of ``schedule()`` hops would pay that
  per hop. The task runs the queue, including what callbacks post meanwhile, up to a budget
  (as ``IoContext`` does), then yields to other tasks. "The trio thread" means the run's thread
  *while trio runs there* (``in_trio_run()``), so the host loop of a guest-mode run, between
  trio's ticks, counts as a foreign thread.
* trio turns an exception from a ``run_sync_soon`` callback into ``TrioInternalError``, and one
  escaping a system task crashes the run, so every callback runs guarded, and its exception is
  logged to the ``dsexec`` logger instead.
* Timers live in one heap served by one system task (started on the first ``call_at``). The task
  sleeps in a ``CancelScope`` whose deadline is the earliest timer; ``call_at`` pulls that
  deadline in when a sooner timer arrives. Due timers are taken off the heap as one batch before
  any runs, so a callback that arms a zero-delay timer cannot starve the rest of the run.
  ``cancel()`` only marks the timer; marked timers are skipped lazily, and the heap is compacted
  when they are the majority (as in ``IoContext``).
* Each fd wait is a system task blocked in ``trio.lowlevel.wait_readable``/``wait_writable``
  inside its own ``CancelScope``; withdrawing the waiter cancels the scope. Whoever withdraws or
  fires a wait clears ``_FdWait.waiter`` first, so exactly one of ``fd_ready``, ``fd_closed``
  and withdrawal happens.
* ``notify_closing(fd)`` forgets the fd's waits, cancels their tasks, calls
  ``trio.lowlevel.notify_closing(fd)`` (which wakes any other trio task waiting on it, and drops
  trio's own registration) and posts ``fd_closed(ClosedResourceError)`` to the waiters. A wait
  that fails inside trio (``trio.ClosedResourceError``, or an ``OSError`` for an fd that is not
  open) reaches its waiter as ``ClosedResourceError`` chained to trio's error.
* System tasks that raise crash trio's run, so every callback they make is guarded; trio
  cancels them when the run ends, and that cancellation is left to propagate.
"""

from __future__ import annotations

import contextvars
import heapq
import logging
import math
import threading
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, Final, final

import trio

from ..._core import BusyResourceError, ClosedResourceError
from .._reactor import FdWaiter

__all__ = ["TrioReactor", "current_trio_reactor"]

_logger = logging.getLogger("dsexec")
_get_ident = threading.get_ident
_in_trio_run = trio.lowlevel.in_trio_run
_MIN_CANCELLED_FOR_COMPACTION: Final = 64
# Callbacks the ready-queue task runs before it yields to other tasks.
_BUDGET: Final = 256


def _run_guarded(callback: Callable[[], object]) -> None:
    try:
        callback()
    except Exception:
        _logger.exception("a callback raised on the trio reactor; the run carries on")


def _call_guarded(
    callback: Callable[[ClosedResourceError], object], arg: ClosedResourceError
) -> None:
    try:
        callback(arg)
    except Exception:
        _logger.exception("a callback raised on the trio reactor; the run carries on")


@final
class _TrioTimer:
    """A pending ``call_at``; the heap holds ``(deadline, seq, timer)`` tuples."""

    __slots__ = ("_reactor", "callback")

    def __init__(self, reactor: TrioReactor, callback: Callable[[], object]) -> None:
        self._reactor = reactor
        # None once fired or cancelled; the reactor's timer task reads and clears it.
        self.callback: Callable[[], object] | None = callback

    def cancel(self) -> None:
        if self.callback is not None:
            self.callback = None
            self._reactor.timer_cancelled()


@final
class _FdWait:
    """One waiter blocked on one direction of one fd, and the scope of its task."""

    __slots__ = ("fd", "scope", "waiter", "writable")

    def __init__(self, fd: int, waiter: FdWaiter, writable: bool) -> None:
        self.fd = fd
        self.waiter: FdWaiter | None = waiter
        self.writable = writable
        self.scope = trio.CancelScope()


def _withdraw(table: dict[int, _FdWait], fd: int, waiter: FdWaiter) -> None:
    """Forget ``fd``'s wait in ``table`` and cancel it, if ``waiter`` is the one waiting."""
    wait = table.get(fd)
    if wait is not None and wait.waiter is waiter:
        del table[fd]
        wait.waiter = None
        wait.scope.cancel()


@final
class TrioReactor:
    """The reactor interface on one trio run (see the module docstring)."""

    __slots__ = (
        "_cancelled_timers",
        "_clock",
        "_parked",
        "_readers",
        "_ready",
        "_ready_task_started",
        "_thread_id",
        "_timer_scope",
        "_timer_seq",
        "_timer_task_started",
        "_timers",
        "_token",
        "_writers",
    )

    backend = "trio"
    cancelled_exc_class: type[BaseException] = trio.Cancelled

    def __init__(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._clock = trio.lowlevel.current_clock()
        self._thread_id = _get_ident()
        self._ready: deque[Callable[[], object]] = deque()
        self._parked: trio.lowlevel.Task | None = None
        self._ready_task_started = False
        self._readers: dict[int, _FdWait] = {}
        self._writers: dict[int, _FdWait] = {}
        self._timers: list[tuple[float, int, _TrioTimer]] = []
        self._timer_seq = 0
        self._cancelled_timers = 0
        self._timer_scope: trio.CancelScope | None = None
        self._timer_task_started = False

    def time(self) -> float:
        """The run's clock (``trio.current_time()``; virtual under ``trio.testing.MockClock``)."""
        return self._clock.current_time()

    def in_loop_thread(self) -> bool:
        """Whether the caller runs on the thread of the trio run, inside the run."""
        return _get_ident() == self._thread_id and _in_trio_run()

    def call_if_idle(self, fn: Callable[[], object], /) -> bool:
        """Always ``False``: the loop belongs to its runner, so loop work is posted to it."""
        return False

    def post(self, callback: Callable[[], object], /) -> None:
        """Run ``callback`` soon on the trio thread: thread-safe, FIFO; exceptions are logged."""
        if _get_ident() == self._thread_id and _in_trio_run():
            self._ready.append(callback)
            task = self._parked
            if task is not None:
                self._parked = None
                trio.lowlevel.reschedule(task)
            elif not self._ready_task_started:
                self._ready_task_started = True
                trio.lowlevel.spawn_system_task(self._run_ready, name="dsexec trio ready queue")
        else:
            self._token.run_sync_soon(_run_guarded, callback)

    async def _run_ready(self) -> None:
        ready = self._ready
        while True:
            if not ready:
                self._parked = trio.lowlevel.current_task()
                await trio.lowlevel.wait_task_rescheduled(self._abort_parked)
            budget = _BUDGET
            while ready and budget:
                budget -= 1
                _run_guarded(ready.popleft())
            if ready:
                await trio.lowlevel.cancel_shielded_checkpoint()

    def _abort_parked(self, _: object) -> trio.lowlevel.Abort:
        self._parked = None  # the run is ending: the system nursery is cancelled
        return trio.lowlevel.Abort.SUCCEEDED

    # -- timers -------------------------------------------------------------------------------

    def call_at(self, deadline: float, callback: Callable[[], object], /) -> _TrioTimer:
        """Run ``callback`` once ``time() >= deadline``; ``cancel()`` on the result withdraws it."""
        timer = _TrioTimer(self, callback)
        self._timer_seq += 1
        heapq.heappush(self._timers, (deadline, self._timer_seq, timer))
        if not self._timer_task_started:
            self._timer_task_started = True
            trio.lowlevel.spawn_system_task(self._run_timers, name="dsexec trio timers")
        else:
            scope = self._timer_scope
            if scope is not None and deadline < scope.deadline:
                scope.deadline = deadline
        return timer

    def timer_cancelled(self) -> None:
        """A timer was cancelled (its handle tells): compact the heap once most are."""
        self._cancelled_timers += 1
        timers = self._timers
        if (
            self._cancelled_timers >= _MIN_CANCELLED_FOR_COMPACTION
            and self._cancelled_timers * 2 > len(timers)
        ):
            timers[:] = [entry for entry in timers if entry[2].callback is not None]
            heapq.heapify(timers)
            self._cancelled_timers = 0

    async def _run_timers(self) -> None:
        timers = self._timers
        while True:
            while timers and timers[0][2].callback is None:
                heapq.heappop(timers)
                self._cancelled_timers -= 1
            with trio.CancelScope(deadline=timers[0][0] if timers else math.inf) as scope:
                self._timer_scope = scope
                await trio.sleep_forever()
            self._timer_scope = None
            now = self._clock.current_time()
            due: list[_TrioTimer] = []
            while timers and timers[0][0] <= now:
                timer = heapq.heappop(timers)[2]
                if timer.callback is None:
                    self._cancelled_timers -= 1
                else:
                    due.append(timer)
            for timer in due:
                callback = timer.callback
                if callback is not None:  # not cancelled by an earlier callback of the batch
                    timer.callback = None
                    _run_guarded(callback)

    # -- fd readiness -------------------------------------------------------------------------

    def add_reader(self, fd: int, waiter: FdWaiter, /) -> None:
        """Call ``waiter.fd_ready()`` once ``fd`` is readable (one reader per fd)."""
        if fd in self._readers:
            raise BusyResourceError(f"another operation is already waiting to read fd {fd}")
        self._readers[fd] = self._start_wait(fd, waiter, writable=False)

    def add_writer(self, fd: int, waiter: FdWaiter, /) -> None:
        """Call ``waiter.fd_ready()`` once ``fd`` is writable (one writer per fd)."""
        if fd in self._writers:
            raise BusyResourceError(f"another operation is already waiting to write fd {fd}")
        self._writers[fd] = self._start_wait(fd, waiter, writable=True)

    def remove_reader(self, fd: int, waiter: FdWaiter, /) -> None:
        """Withdraw ``waiter`` from ``fd``'s read side if it is the one waiting."""
        _withdraw(self._readers, fd, waiter)

    def remove_writer(self, fd: int, waiter: FdWaiter, /) -> None:
        """Withdraw ``waiter`` from ``fd``'s write side if it is the one waiting."""
        _withdraw(self._writers, fd, waiter)

    def notify_closing(self, fd: int, /) -> None:
        """Wake ``fd``'s waiters with ``ClosedResourceError`` (soon) and forget them."""
        closing: list[FdWaiter] = []
        for table in (self._readers, self._writers):
            wait = table.pop(fd, None)
            if wait is not None and wait.waiter is not None:
                closing.append(wait.waiter)
                wait.waiter = None
                wait.scope.cancel()
        trio.lowlevel.notify_closing(fd)
        for waiter in closing:
            error = ClosedResourceError(f"fd {fd} was closed while an operation waited on it")
            self._token.run_sync_soon(_call_guarded, waiter.fd_closed, error)

    def _start_wait(self, fd: int, waiter: FdWaiter, *, writable: bool) -> _FdWait:
        wait = _FdWait(fd, waiter, writable)
        trio.lowlevel.spawn_system_task(self._wait_fd, wait, name="dsexec trio fd wait")
        return wait

    async def _wait_fd(self, wait: _FdWait) -> None:
        error: ClosedResourceError | None = None
        try:
            with wait.scope:
                if wait.writable:
                    await trio.lowlevel.wait_writable(wait.fd)
                else:
                    await trio.lowlevel.wait_readable(wait.fd)
        except trio.ClosedResourceError as exc:
            error = ClosedResourceError(f"fd {wait.fd} was closed while an operation waited on it")
            error.__cause__ = exc
        except Exception as exc:  # e.g. OSError(EBADF), trio.BusyResourceError from foreign code
            error = ClosedResourceError(f"waiting on fd {wait.fd} failed: {exc!r}")
            error.__cause__ = exc
        waiter = wait.waiter
        if waiter is None:  # withdrawn, or handed to notify_closing
            return
        wait.waiter = None
        table = self._writers if wait.writable else self._readers
        if table.get(wait.fd) is wait:
            del table[wait.fd]
        try:
            if error is None:
                waiter.fd_ready()
            else:
                waiter.fd_closed(error)
        except Exception:
            _logger.exception("an fd waiter raised on the trio reactor; the run carries on")

    # -- tasks (from_coroutine) ---------------------------------------------------------------

    def spawn(self, fn: Callable[[], Coroutine[Any, Any, object]], /) -> trio.CancelScope:
        """Run ``fn()`` as a system task in its own cancel scope (returned: ``cancel()`` it)."""
        scope = trio.CancelScope()
        trio.lowlevel.spawn_system_task(
            _run_task,
            scope,
            fn,
            name="dsexec from_coroutine",
            context=contextvars.copy_context(),  # the starter's context, as asyncio tasks get
        )
        return scope

    def create_waiter(self) -> trio.Event:
        """A one-shot event for the awaiting task: ``set()`` on the loop thread, ``wait()``."""
        return trio.Event()

    def waiter_counts(self) -> tuple[int, int]:
        """``(readers, writers)``: fd waits currently pending (for tests and statistics)."""
        return len(self._readers), len(self._writers)

    def __repr__(self) -> str:
        return f"<TrioReactor at {id(self):#x}>"


async def _run_task(scope: trio.CancelScope, fn: Callable[[], Coroutine[Any, Any, object]]) -> None:
    try:
        with scope:
            await fn()
    except Exception:
        _logger.exception("a from_coroutine task raised on the trio reactor")


_REACTOR: Final[trio.lowlevel.RunVar[TrioReactor]] = trio.lowlevel.RunVar("dsexec_trio_reactor")


def current_trio_reactor() -> TrioReactor:
    """The reactor of the current trio run, created on first use (one per run)."""
    try:
        return _REACTOR.get()
    except LookupError:
        reactor = TrioReactor()
        _REACTOR.set(reactor)
        return reactor
