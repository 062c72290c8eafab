"""``IoContext``: the epoll/selectors reactor (named after asio's ``io_context``).

Theory of operation
-------------------
One thread at a time runs the loop (``run``, ``run_one``, ``poll``, or ``sync_wait(...,
context=ctx)``); that thread is "the loop thread" for as long as it runs it. Each turn:

1. Work posted from other threads (``post`` from a foreign thread) is moved from ``_posted`` to
   the ready queue.
2. The poller is polled: with timeout 0 if anything is ready, else until the nearest timer,
   else (with fd waiters or outstanding work) forever.
3. Ready fd waiters are called at once, from the poll loop (``waiter.fd_ready()``): no queue
   entry, no bound method per event. ``run_one`` (a budget of one callback) queues them
   instead, so it still runs exactly one callback per call.
4. Due timers are appended to the ready queue; ready callbacks run in FIFO order, including
   callbacks they post, up to a budget; the budget bounds how long I/O waits behind a busy
   queue, while a hot ``schedule()`` chain needs one poll per budget instead of one per hop.

The poller is ``select.epoll`` itself where there is one (Linux): events come back as
``(fd, mask)`` tuples built in C, and ``_fds`` maps the fd to its waiters. Elsewhere
``_SelectorPoller`` wraps ``selectors.DefaultSelector`` (kqueue, poll, select) behind the same
five methods and the same mask bits, so the loop is one piece of code for both.

Some facts the code relies on:

* **The wake-up socketpair is written only while the loop sleeps.** The loop publishes
  ``_sleeping = True`` and *then* re-checks ``_posted``; a foreign ``post`` appends to
  ``_posted`` and *then* reads ``_sleeping``. Whatever the interleaving, either the loop sees
  the item or the poster writes a byte. A stray byte costs one spurious wake-up and is drained.
* **An fd stays registered while it stays interesting.** Withdrawing a waiter does not touch
  the poller. When the poller reports a direction nobody waits on, that direction is
  dropped then (one ``epoll_ctl``), so a keep-alive connection that reads, answers with a
  write that succeeds at once, and reads again costs no ``epoll_ctl`` per request. (Write
  interest nobody waits on is reported at the next poll -- a socket is nearly always writable
  -- and dropped there.) Level-triggered polling makes this safe: interest re-added later
  reports readiness that arrived in between. If dropping interest fails (the fd was closed
  without ``notify_closing``), the fd is treated as closed: its other waiter gets
  ``ClosedResourceError``, and the loop goes on.
* **Cancelled timers are skipped lazily.** ``cancel()`` only marks the entry; entries are
  dropped when they reach the top of the heap, and the heap is compacted when more than half of
  it is cancelled, so 100k cancelled timeouts cost O(1) each, amortised. A timer is marked
  spent when it fires, so cancelling it afterwards (a stop request racing with the firing, as
  in ``timeout`` or ``when_any``) changes nothing; the count of cancelled entries stays exact,
  and ``run()`` never mistakes a live timer for a cancelled one.
* **``stop()`` from a callback** ends the turn: the callbacks still queued are parked, in
  order, in front of the posted work, and run after ``restart()`` (or by ``run_until``, which
  ignores ``stop()``; it never busy-polls because of it). When the callback is an fd waiter
  called from the poll loop, the waiters of the remaining events of that poll are parked
  behind them.
* **Events of one poll are bound to fd numbers, not to registrations.** A waiter called from
  the poll loop may close an fd that has an event further down the same list, and the number
  may be reused at once by a new registration. Registrations created while the poll loop runs
  are remembered (``_fresh``) and their events in that list skipped: level-triggered polling
  reports them again on the next poll if they are real.
* **``notify_closing(fd)``** wakes the fd's waiters with ``ClosedResourceError`` and
  unregisters it *before* the caller closes it, so a recycled fd number never inherits state.
* **Callbacks never kill the loop.** An exception escaping a callback is logged to the
  ``dsexec`` logger (senders turn user errors into ``set_error`` long before that).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import heapq
import logging
import select
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Final, Protocol, final

import attrs
from mypy_extensions import mypyc_attr

from ..._core import BusyResourceError, ClosedResourceError, ClosingContext
from .._reactor import FdWaiter, running_loop
from .._reactor._scheduler import IoScheduler  # the module itself: mypyc needs it for the base

__all__ = ["IoContext", "IoContextScheduler", "IoContextStatistics"]

_logger = logging.getLogger("dsexec")

# Event bits of the poller interface: epoll's own values, which _SelectorPoller translates to.
_IN: Final = 0x001  # EPOLLIN
_OUT: Final = 0x004  # EPOLLOUT
_ERR_HUP: Final = 0x008 | 0x010  # EPOLLERR | EPOLLHUP: wake the reader and the writer
_READABLE: Final = _IN | _ERR_HUP
_WRITABLE: Final = _OUT | _ERR_HUP
# Callbacks run per turn before the poller is polled again while work stays ready.
_BUDGET: Final = 256
# The longest a blocking poll sleeps: epoll_wait takes at most 2**31 - 1 ms (about 24.8 days),
# and a timer far beyond that (or at math.inf: never) must not overflow it. Waking once a day to
# look at the clock again costs nothing.
_MAX_SLEEP: Final = 86400.0
# Compact the timer heap once this many entries are cancelled and they are the majority.
_MIN_CANCELLED_FOR_COMPACTION: Final = 64

_get_ident = threading.get_ident
_monotonic = time.monotonic
_heappush = heapq.heappush
_heappop = heapq.heappop


@final
@mypyc_attr(native_class=False)  # compiled: a list subclass stays a Python class
class _Timer(list):  # type: ignore[type-arg]
    """A pending ``call_at``: ``[callback, context]``; the heap holds ``(deadline, seq, timer)``.

    A list subclass, so creating one runs no Python ``__init__``; the heap entries are tuples,
    whose comparisons stay in C (``seq`` is unique, so a timer is never compared). ``callback``
    is ``None`` once the timer fired or was cancelled.
    """

    __slots__ = ()

    def cancel(self) -> None:
        if self[0] is not None:
            self[0] = None
            # The context's own bookkeeping, called by its own timer handle: the handle is a
            # list (built in C, no Python __init__), so it cannot hold a bound method cheaply.
            self[1]._timer_cancelled()


@final
class _FdState:
    """The waiters of one fd and the event mask it is registered with (0: not registered)."""

    __slots__ = ("fd", "mask", "reader", "writer")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.mask = 0
        self.reader: FdWaiter | None = None
        self.writer: FdWaiter | None = None


class _Poller(Protocol):
    """What the loop needs from a poller: ``select.epoll``'s own methods and mask bits."""

    def register(self, fd: int, eventmask: int, /) -> None: ...
    def modify(self, fd: int, eventmask: int, /) -> None: ...
    def unregister(self, fd: int, /) -> None: ...
    def poll(self, timeout: float | None = None, /) -> list[tuple[int, int]]: ...
    def close(self) -> None: ...


@final
class _SelectorPoller:
    """``selectors.DefaultSelector`` behind the ``select.epoll`` interface (portable fallback).

    Errors follow epoll: ``FileExistsError`` for a second ``register``, ``FileNotFoundError``
    to ``modify`` or ``unregister`` an fd that is not registered.
    """

    __slots__ = ("_selector",)

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()

    @staticmethod
    def _events(mask: int) -> int:
        return (selectors.EVENT_READ if mask & _IN else 0) | (
            selectors.EVENT_WRITE if mask & _OUT else 0
        )

    def register(self, fd: int, eventmask: int, /) -> None:
        try:
            self._selector.register(fd, self._events(eventmask))
        except KeyError:
            raise FileExistsError(errno.EEXIST, f"fd {fd} is already registered") from None

    def modify(self, fd: int, eventmask: int, /) -> None:
        try:
            self._selector.modify(fd, self._events(eventmask))
        except KeyError:
            raise FileNotFoundError(errno.ENOENT, f"fd {fd} is not registered") from None

    def unregister(self, fd: int, /) -> None:
        try:
            self._selector.unregister(fd)
        except KeyError:
            raise FileNotFoundError(errno.ENOENT, f"fd {fd} is not registered") from None

    def poll(self, timeout: float | None = None, /) -> list[tuple[int, int]]:
        read = selectors.EVENT_READ
        write = selectors.EVENT_WRITE
        return [
            (key.fd, (_IN if events & read else 0) | (_OUT if events & write else 0))
            for key, events in self._selector.select(timeout)
        ]

    def close(self) -> None:
        self._selector.close()


def _best_poller() -> _Poller:
    """``select.epoll()`` on Linux, else the selectors fallback."""
    epoll = getattr(select, "epoll", None)
    if epoll is not None:
        poller: _Poller = epoll()
        return poller
    return _SelectorPoller()


# A variable, not a def, so that swapping it (the tests run every case on both pollers) reaches
# IoContext in the compiled build too, where a call to a function of the module is bound early.
_new_poller: Callable[[], _Poller] = _best_poller


@attrs.frozen
class IoContextStatistics:
    """A snapshot of an :class:`IoContext`'s queues, as ``IoContext.statistics()`` returns."""

    ready: int
    """Callbacks queued to run."""
    timers: int
    """Live (not cancelled) timers."""
    cancelled_timers: int
    """Cancelled timers still in the heap, awaiting lazy removal."""
    readers: int
    """Operations waiting for an fd to become readable."""
    writers: int
    """Operations waiting for an fd to become writable."""
    registered_fds: int
    """Fds registered with the poller (including idle ones kept registered)."""
    outstanding_work: int
    """Work guards currently held (see :meth:`IoContext.work_guard`)."""


@mypyc_attr(allow_interpreted_subclasses=True)  # compiled: VirtualTimeScheduler
class IoContext(ClosingContext):
    """An epoll (or selectors) event loop: ready queue, timer heap, fd readiness, cross-thread
    posts.

    ``get_scheduler()`` returns the scheduler that pipelines use; ``run()`` drives the loop on
    the calling thread until there is no work left (no ready callbacks, timers, fd waiters or
    work guards) or ``stop()`` is called. Use as a context manager to ``close()`` it.
    """

    def __init__(self) -> None:
        self._ready: deque[Callable[[], object]] = deque()
        self._posted: deque[Callable[[], object]] = deque()
        self._timers: list[tuple[float, int, _Timer]] = []
        self._timer_seq = 0
        self._cancelled_timers = 0
        self._poller = _new_poller()
        self._fds: dict[int, _FdState] = {}
        # Fds given a new registration while the poll loop runs (None outside of it).
        self._fresh: set[int] | None = None
        self._readers = 0
        self._writers = 0
        self._work = 0
        self._thread_id: int | None = None
        # Held while a thread claims or releases the loop, and by call_if_idle: so two run()
        # calls cannot both claim it, and work done "now, as no loop runs" cannot overlap one.
        self._claim_lock = threading.Lock()
        # The thread that may act as the loop thread while nobody runs the loop: the creator,
        # then whichever thread ran it last. Other threads always go through post().
        self._home_thread_id = _get_ident()
        self._stopped = False
        self._closed = False
        self._sleeping = False
        self._wake_pending = False
        self._wake_recv, self._wake_send = socket.socketpair()
        self._wake_recv.setblocking(False)
        self._wake_send.setblocking(False)
        self._wake_fd = self._wake_recv.fileno()
        self._poller.register(self._wake_fd, _IN)
        self._scheduler = IoContextScheduler(self)

    # -- public face ------------------------------------------------------------------------

    def get_scheduler(self) -> IoContextScheduler:
        """The scheduler whose senders complete on this context's loop thread."""
        return self._scheduler

    @property
    def stopped(self) -> bool:
        """Whether ``stop()`` was called (and ``restart()`` not yet)."""
        return self._stopped

    def stop(self) -> None:
        """Make ``run()`` return soon (thread-safe); queued work stays queued.

        Called from a callback, no further callback runs in this turn. Until ``restart()``,
        ``run()``, ``run_one()`` and ``poll()`` return at once (``run_until`` ignores it).
        """
        self._stopped = True
        if self._thread_id == _get_ident():
            # From a callback: park the rest of this turn in front of the posted work (FIFO
            # kept), so the callback loop finds the ready queue empty and returns.
            ready = self._ready
            if ready:
                self._posted.extendleft(reversed(ready))
                ready.clear()
        else:
            self._wake()

    def restart(self) -> None:
        """Clear the stopped state so the context can run again."""
        self._stopped = False

    def run(self) -> int:
        """Run the loop until no work remains or ``stop()``; returns callbacks run."""
        count = 0
        with self._running():
            while not self._stopped and self._has_work():
                count += self._run_once(block=True, budget=_BUDGET)
        return count

    def run_one(self) -> int:
        """Run at most one callback, blocking until one is ready; returns 0 or 1.

        Returns 0 without blocking when stopped or when no work remains.
        """
        with self._running():
            while not self._stopped and self._has_work():
                if self._run_once(block=True, budget=1):
                    return 1
        return 0

    def poll(self) -> int:
        """Run the callbacks ready now (after a non-blocking poll) without blocking."""
        if self._stopped:
            return 0
        with self._running():
            return self._run_once(block=False, budget=len(self._ready) + len(self._posted) + 1024)

    def run_until(self, done: Callable[[], bool]) -> None:
        """Drive the loop on this thread until ``done()`` is true (``sync_wait``'s driver).

        Unlike ``run()`` it ignores ``stop()`` and waits for work posted from other threads
        even when nothing else is pending.
        """
        with self._running():
            while not done():
                self._run_once(block=True, budget=_BUDGET, forever=True)

    def post(self, callback: Callable[[], object], /) -> None:
        """Run ``callback()`` on the loop thread soon, after what is already queued.

        Thread-safe. From the loop thread it only appends to the ready queue; from another
        thread it wakes a sleeping loop.
        """
        if self._thread_id == _get_ident():
            self._ready.append(callback)
            return
        self._posted.append(callback)
        if self._sleeping and not self._wake_pending:
            self._wake_pending = True
            with contextlib.suppress(OSError):
                self._wake_send.send(b"\0")

    @contextlib.contextmanager
    def work_guard(self) -> Iterator[None]:
        """Keep ``run()`` running while the block lasts, even with nothing queued.

        For work that will post back from elsewhere (asio's ``executor_work_guard``).
        """
        self._work += 1
        try:
            yield
        finally:
            self._work -= 1
            self._wake()

    def statistics(self) -> IoContextStatistics:
        """Counts of queued callbacks, timers, fd waiters and registrations."""
        return IoContextStatistics(
            ready=len(self._ready) + len(self._posted),
            timers=len(self._timers) - self._cancelled_timers,
            cancelled_timers=self._cancelled_timers,
            readers=self._readers,
            writers=self._writers,
            registered_fds=sum(1 for state in self._fds.values() if state.mask),
            outstanding_work=self._work,
        )

    def close(self) -> None:
        """Release the poller and wake-up sockets. Pending work is dropped; idempotent."""
        with self._claim_lock:
            if self._closed:
                return
            if self._thread_id is not None:
                raise RuntimeError("IoContext.close() called while the context is running")
            self._closed = True
        self._poller.close()
        self._wake_recv.close()
        self._wake_send.close()
        self._ready.clear()
        self._posted.clear()
        self._timers.clear()
        self._cancelled_timers = 0
        self._fds.clear()
        self._readers = self._writers = 0

    def __repr__(self) -> str:
        state = "closed" if self._closed else "stopped" if self._stopped else "ready"
        return f"<{type(self).__name__} {state} at {id(self):#x}>"

    # -- the Reactor interface (see schedulers/_reactor) ---------------------------------------

    def time(self) -> float:
        """The loop's clock: ``time.monotonic()``."""
        # A method, not ``staticmethod(time.monotonic)`` (faster in the pure build): compiled,
        # the loop would call a static clock directly and miss VirtualTimeScheduler's.
        return _monotonic()

    def in_loop_thread(self) -> bool:
        """True on the thread running the loop; while nobody runs it, on the thread that
        created it or ran it last (any other thread must ``post``)."""
        thread_id = self._thread_id
        if thread_id is None:
            thread_id = self._home_thread_id
        return thread_id == _get_ident()

    def call_at(self, deadline: float, callback: Callable[[], object], /) -> _Timer:
        """Run ``callback`` once ``time() >= deadline``; returns a handle with ``cancel()``."""
        self._timer_seq = seq = self._timer_seq + 1
        timer = _Timer((callback, self))
        _heappush(self._timers, (deadline, seq, timer))
        return timer

    def add_reader(self, fd: int, waiter: FdWaiter, /) -> None:
        """Call ``waiter.fd_ready()`` once ``fd`` is readable (one reader per fd)."""
        state = self._fds.get(fd)
        # A keep-alive connection's next read finds its fd registered for reading already
        # (registrations are dropped lazily): nothing to check but that nobody reads it.
        if state is None or state.reader is not None or not state.mask & _IN:
            state = self._watch(fd, _IN)
        state.reader = waiter
        self._readers += 1

    def add_writer(self, fd: int, waiter: FdWaiter, /) -> None:
        """Call ``waiter.fd_ready()`` once ``fd`` is writable (one writer per fd)."""
        self._watch(fd, _OUT).writer = waiter
        self._writers += 1

    def _watch(self, fd: int, event: int) -> _FdState:
        """``fd``'s state, registered for ``event`` (``_IN`` or ``_OUT``);
        ``BusyResourceError`` if an operation already waits on that direction."""
        state = self._fds.get(fd)
        if state is None:
            return self._new_fd_state(fd, event)
        if (state.reader if event == _IN else state.writer) is not None:
            verb = "read" if event == _IN else "write"
            raise BusyResourceError(f"another operation is already waiting to {verb} fd {fd}")
        if not state.mask & event:
            self._update_registration(state, state.mask | event)
        return state

    def remove_reader(self, fd: int, waiter: FdWaiter, /) -> None:
        """Withdraw ``waiter`` from ``fd``'s read side (registration is dropped lazily)."""
        state = self._fds.get(fd)
        if state is not None and state.reader is waiter:
            state.reader = None
            self._readers -= 1

    def remove_writer(self, fd: int, waiter: FdWaiter, /) -> None:
        """Withdraw ``waiter`` from ``fd``'s write side (registration is dropped lazily)."""
        state = self._fds.get(fd)
        if state is not None and state.writer is waiter:
            state.writer = None
            self._writers -= 1

    def notify_closing(self, fd: int, /) -> None:
        """Wake ``fd``'s waiters with ``ClosedResourceError`` and unregister it; call before
        closing ``fd``. Loop thread only."""
        state = self._fds.pop(fd, None)
        if state is None:
            return
        if state.mask:
            with contextlib.suppress(ValueError, OSError):
                self._poller.unregister(fd)
            state.mask = 0
        for waiter in (state.reader, state.writer):
            if waiter is not None:
                error = ClosedResourceError(f"fd {fd} was closed while an operation waited on it")
                self._ready.append(functools.partial(waiter.fd_closed, error))
        if state.reader is not None:
            self._readers -= 1
        if state.writer is not None:
            self._writers -= 1
        state.reader = state.writer = None

    # -- the loop ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _running(self) -> Iterator[None]:
        me = _get_ident()
        with self._claim_lock:
            if self._closed:
                raise RuntimeError("IoContext is closed")
            if self._thread_id is not None:
                if self._thread_id == me:
                    raise RuntimeError("IoContext is already running on this thread (nested run)")
                raise RuntimeError("IoContext is already running on another thread")
            self._thread_id = me
        outer = running_loop.reactor
        running_loop.reactor = self
        try:
            yield
        finally:
            running_loop.reactor = outer
            with self._claim_lock:
                self._thread_id = None
                self._home_thread_id = me

    def call_if_idle(self, fn: Callable[[], object], /) -> bool:
        """Call ``fn()`` now, on this thread, if no thread runs the loop; else return False
        (then ``post`` it). A ``run()`` starting meanwhile waits for ``fn`` to return.

        For loop-thread-only work that must not wait for the next run of an idle context, such
        as ``notify_closing`` before a socket closes: it could wait forever, and a context closed
        meanwhile would drop it. On a closed context ``fn`` is not called (it forgot its fds)
        and the answer is True.
        """
        with self._claim_lock:
            if self._thread_id is not None:
                return False
            if not self._closed:
                fn()
            return True

    def _has_work(self) -> bool:
        return bool(
            self._ready
            or self._posted
            or len(self._timers) > self._cancelled_timers
            or self._readers
            or self._writers
            or self._work
        )

    def _wake(self) -> None:
        if self._thread_id is not None and self._thread_id != _get_ident():
            self._wake_pending = True
            with contextlib.suppress(OSError):
                self._wake_send.send(b"\0")

    def _timer_cancelled(self) -> None:
        self._cancelled_timers += 1
        timers = self._timers
        if (
            self._cancelled_timers >= _MIN_CANCELLED_FOR_COMPACTION
            and self._cancelled_timers * 2 > len(timers)
        ):
            timers[:] = [entry for entry in timers if entry[2][0] is not None]
            heapq.heapify(timers)
            self._cancelled_timers = 0

    def _new_fd_state(self, fd: int, mask: int) -> _FdState:
        state = _FdState(fd)
        self._update_registration(state, mask)
        self._fds[fd] = state
        fresh = self._fresh
        if fresh is not None:
            fresh.add(fd)
        return state

    def _update_registration(self, state: _FdState, mask: int) -> None:
        poller = self._poller
        fd = state.fd
        try:
            if state.mask == 0:
                poller.register(fd, mask)
            elif mask == 0:
                poller.unregister(fd)
            else:
                poller.modify(fd, mask)
        except (FileExistsError, FileNotFoundError):
            # The fd was closed without notify_closing and its number reused: the poller still
            # maps the old file (EEXIST), or forgot it (ENOENT). Start afresh for the new file.
            with contextlib.suppress(ValueError, OSError):
                poller.unregister(fd)
            if mask:
                poller.register(fd, mask)
        state.mask = mask

    def _compute_timeout(self, forever: bool) -> float | None:
        """How long a blocking poll may sleep: until the nearest live timer, or forever."""
        timers = self._timers
        while timers and timers[0][2][0] is None:
            _heappop(timers)
            self._cancelled_timers -= 1
        if timers:
            return min(max(0.0, timers[0][0] - self.time()), _MAX_SLEEP)
        if forever or self._readers or self._writers or self._work:
            return None
        return 0.0

    def _select(self, timeout: float | None) -> list[tuple[int, int]]:
        """Poll for ``(fd, mask)`` events; overridden by virtual time to jump the clock
        instead of sleeping."""
        return self._poller.poll(timeout)

    def _run_once(self, *, block: bool, budget: int, forever: bool = False) -> int:
        ready = self._ready
        posted = self._posted
        while posted:
            ready.append(posted.popleft())

        if ready or not block:
            events = self._select(0.0)
        else:
            timeout = self._compute_timeout(forever)
            if timeout == 0.0:
                events = self._select(0.0)
            else:
                self._sleeping = True
                try:
                    if posted or (self._stopped and not forever):
                        timeout = 0.0
                    events = self._select(timeout)
                finally:
                    self._sleeping = False

        count = 0
        if events:
            was_stopped = self._stopped
            count = self._dispatch(events, budget > 1 and not was_stopped)
            if self._stopped and not was_stopped:
                return count  # stop() from a waiter: the turn ends here
        while posted:
            ready.append(posted.popleft())

        timers = self._timers
        if timers:
            now = self.time()
            while timers and timers[0][0] <= now:
                timer = _heappop(timers)[2]
                callback = timer[0]
                if callback is None:
                    self._cancelled_timers -= 1
                else:
                    timer[0] = None  # fired: a later cancel() must not count it
                    ready.append(callback)

        while ready and count < budget:
            try:
                while ready and count < budget:
                    count += 1
                    ready.popleft()()
            except Exception:
                _logger.exception("a callback raised in %r; the loop carries on", self)
        return count

    def _dispatch(self, events: list[tuple[int, int]], direct: bool) -> int:
        """Hand the events of one poll to the fd waiters: called here when ``direct``, else
        queued; returns how many were called."""
        fds = self._fds
        sink = self._ready
        fresh: set[int] = set()
        self._fresh = fresh
        count = 0
        try:
            for fd, mask in events:
                state = fds.get(fd)
                if state is None or (fresh and fd in fresh):
                    if fd == self._wake_fd:
                        self._drain_wake_socket()
                    continue  # forgotten (notify_closing) or registered after this poll
                if mask == _IN and direct:  # the common case, first: a reader to call
                    reader = state.reader
                    if reader is not None:
                        state.reader = None
                        self._readers -= 1
                        count += 1
                        try:
                            reader.fd_ready()
                        except Exception:
                            _logger.exception("a callback raised in %r; the loop carries on", self)
                        if self._stopped:  # stop() from the waiter: park the rest
                            direct = False
                            sink = self._posted
                        continue
                reader = writer = None
                unwanted = 0
                if mask & _READABLE:
                    reader = state.reader
                    if reader is None:
                        unwanted = _IN
                    else:
                        state.reader = None
                        self._readers -= 1
                if mask & _WRITABLE:
                    writer = state.writer
                    if writer is None:
                        unwanted |= _OUT
                    else:
                        state.writer = None
                        self._writers -= 1
                if unwanted & state.mask:
                    try:
                        self._update_registration(state, state.mask & ~unwanted)
                    except OSError:
                        # The fd went bad behind our back (closed without notify_closing):
                        # forget it and wake its other waiter, if any, as if it were closed.
                        self.notify_closing(fd)
                    else:
                        if not state.mask:
                            del fds[fd]
                for waiter in (reader, writer):
                    if waiter is None:
                        continue
                    if direct:
                        count += 1
                        try:
                            waiter.fd_ready()
                        except Exception:
                            _logger.exception("a callback raised in %r; the loop carries on", self)
                        if self._stopped:  # stop() from the waiter: park the rest
                            direct = False
                            sink = self._posted
                    else:
                        sink.append(waiter.fd_ready)
        finally:
            self._fresh = None
        return count

    def _drain_wake_socket(self) -> None:
        # Drain first, then clear the flag: a byte written in between stays in the socket (one
        # spurious wake-up later). Clearing first would let the drain swallow a byte whose
        # writer set the flag, leaving it set over an empty socket: no post() would write again.
        with contextlib.suppress(OSError):
            while self._wake_recv.recv(4096):
                pass
        self._wake_pending = False


@final
@mypyc_attr(native_class=False)  # compiled: IoScheduler stays a Python class
class IoContextScheduler(IoScheduler):
    """The scheduler of an :class:`IoContext`: ``schedule``, timers, fd readiness waits.

    ``wait_readable``/``wait_writable``: one waiter per direction (``BusyResourceError`` for a
    second); ``notify_closing`` wakes them with ``ClosedResourceError``.
    """

    __slots__ = ("_context", "reactor")

    def __init__(self, context: IoContext) -> None:
        self._context = context
        self.reactor = context

    @property
    def context(self) -> IoContext:
        """The context this scheduler runs on."""
        return self._context

    def __repr__(self) -> str:
        return f"<IoContextScheduler of {self._context!r}>"
