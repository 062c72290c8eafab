"""The reactor interface every dsexec event loop offers, and the scheduler senders built on it.

Theory of operation
-------------------
``IoContext``, ``VirtualTimeScheduler`` and ``AnyioScheduler`` (on asyncio, uvloop or trio) all
expose one small, callback-level :class:`Reactor`: a thread-safe ``post``, one-shot timers, and
one-shot fd readiness waits with one waiter per direction. Everything above it -- ``schedule``,
``schedule_after``, ``wait_readable`` here, and the socket senders of ``dsexec.net`` -- is
written once against this interface, so a pipeline runs unchanged on every loop.

Rules the operations below follow, and that new reactor-based operations must follow too:

* Operation state changes happen on the loop thread. ``start()`` may be called from any thread;
  if it is not the loop thread, the operation re-posts its start to the loop.
* Stop callbacks may run on any thread. A callback running on the loop thread completes the
  operation inline (``set_stopped`` at once, the timer or fd wait withdrawn); on another thread
  it posts that work to the loop. A ``_done`` flag makes the first of "ready" and "stopped" win.
  The operations here and in ``dsexec.net`` register themselves, not a callback handle
  (``StopSource._observe(op)``, with ``op._on_stop_requested`` as the callback): no
  allocation per registration.
* Before completing, an operation unregisters its stop callback and withdraws its timer or wait,
  so nothing refers to it afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Final, Protocol, final

from .._core import (
    ClosedResourceError,
    OperationState,
    Receiver,
    Sender,
)
from .._core._stop_token import StopSource
from .._core._time import check_deadline, check_delay

__all__ = [
    "FdWaiter",
    "Reactor",
    "IoScheduler",
    "TimerHandle",
    "running_loop",
    "reactor_of",
]


class _RunningLoop(threading.local):
    """Per thread: the reactor whose loop this thread is running right now, if it says so."""

    reactor: object = None


running_loop: Final = _RunningLoop()
"""``running_loop.reactor is r`` is a cheap, sufficient test for ``r.in_loop_thread()``.

A reactor may publish itself here while its loop runs (``IoContext`` does, and restores the
previous value when its ``run`` returns, so nested loops on one thread work). The test is only a
shortcut: when it fails, ask ``r.in_loop_thread()``, which stays the authority (a reactor that
publishes nothing, or one nobody runs, whose home thread counts as its loop thread).
"""


class FdWaiter(Protocol):
    """A one-shot wait on one direction of an fd, registered with ``add_reader``/``add_writer``.

    The reactor forgets the waiter before calling either method, so the waiter may re-register
    from inside ``fd_ready``.
    """

    def fd_ready(self) -> None:
        """The fd became readable (writable); called once on the loop thread."""

    def fd_closed(self, error: ClosedResourceError, /) -> None:
        """``notify_closing(fd)`` was called while waiting; called once on the loop thread."""


class TimerHandle(Protocol):
    """A pending timer; ``cancel()`` withdraws it (idempotent, loop thread only)."""

    def cancel(self) -> None:
        """Withdraw the timer; its callback will not run."""


class Reactor(Protocol):
    """Callback-level primitives of an event loop, used by every dsexec scheduler sender.

    Apart from ``post`` (thread-safe) and ``in_loop_thread``, methods are called on the loop
    thread only.
    """

    def time(self) -> float:
        """The loop's clock: monotonic seconds (or virtual seconds, in virtual time)."""
        ...

    def in_loop_thread(self) -> bool:
        """Whether the caller may use the loop-thread-only methods right now."""
        ...

    def post(self, callback: Callable[[], object], /) -> None:
        """Run ``callback`` soon on the loop thread, in FIFO order. Thread-safe."""

    def call_at(self, deadline: float, callback: Callable[[], object], /) -> TimerHandle:
        """Run ``callback`` once ``time() >= deadline``."""
        ...

    def add_reader(self, fd: int, waiter: FdWaiter, /) -> None:
        """Call ``waiter.fd_ready()`` once ``fd`` is readable.

        Raises ``BusyResourceError`` if another waiter is already waiting to read ``fd``.
        """

    def add_writer(self, fd: int, waiter: FdWaiter, /) -> None:
        """Call ``waiter.fd_ready()`` once ``fd`` is writable (``BusyResourceError`` as above)."""

    def remove_reader(self, fd: int, waiter: FdWaiter, /) -> None:
        """Withdraw ``waiter`` if it is the one waiting to read ``fd``; otherwise do nothing."""

    def remove_writer(self, fd: int, waiter: FdWaiter, /) -> None:
        """Withdraw ``waiter`` if it is the one waiting to write ``fd``; otherwise do nothing."""

    def notify_closing(self, fd: int, /) -> None:
        """``fd`` is about to be closed: wake its waiters with ``ClosedResourceError`` and
        forget it. Call it before ``close()``, so a reused fd number is never confused."""


class IoScheduler:
    """The type of every scheduler with an I/O reactor behind it: timed, with fd readiness waits.

    ``IoContext.get_scheduler()``, ``VirtualTimeScheduler`` and ``AnyioScheduler`` are
    ``IoScheduler``s, so code annotated with it (``def serve(sch: ex.IoScheduler, ...)``) takes
    any of them, and the senders of ``dsexec.net`` take nothing else: ``mypy`` flags a
    ``ThreadPool`` passed by mistake. Subclasses set ``_reactor``. Two schedulers are equal when
    they share a reactor.
    """

    __slots__ = ("_reactor",)

    _reactor: Reactor

    def now(self) -> float:
        """The reactor's clock, in seconds."""
        return self._reactor.time()

    def schedule(self) -> Sender[None]:
        """A sender completing with ``None`` on the loop thread, after already queued work.

        On stop: if stop was requested by the time the queued completion runs, it completes
        with ``set_stopped`` instead.
        """
        return _ScheduleSender(self._reactor)

    def schedule_after(self, seconds: float, /) -> Sender[None]:
        """A sender completing on the loop ``seconds`` after ``start()`` (not after building).

        ``seconds`` is a number >= 0 (``TypeError``/``ValueError`` when built otherwise);
        ``math.inf`` never completes (a stop request still does). A stop request withdraws the
        timer and completes with ``set_stopped`` at once.
        """
        return _TimerSender(self._reactor, check_delay("schedule_after", seconds), True)

    def schedule_at(self, deadline: float, /) -> Sender[None]:
        """A sender completing on the loop once ``now() >= deadline``; stops like
        ``schedule_after``. A deadline in the past is due at once; NaN is a ``ValueError``."""
        return _TimerSender(self._reactor, check_deadline("schedule_at", deadline), False)

    def wait_readable(self, fd: int, /) -> Sender[None]:
        """Complete once ``fd`` is readable.

        Errors: ``BusyResourceError`` if another operation already waits to read ``fd``;
        ``ClosedResourceError`` if ``notify_closing(fd)`` is called meanwhile. A stop request
        withdraws the wait and completes with ``set_stopped`` at once.

        The reactor may keep ``fd`` registered after the wait (no system call per wait), so
        call :meth:`notify_closing` before closing an fd you waited on, as trio requires (and
        asyncio, with ``remove_reader``): a file that later gets the same fd number may
        otherwise never be reported ready. dsexec's own sockets do this in ``close()``.
        """
        return _FdWaitSender(self._reactor, fd, False)

    def wait_writable(self, fd: int, /) -> Sender[None]:
        """Complete once ``fd`` is writable; errors and stop as :meth:`wait_readable`."""
        return _FdWaitSender(self._reactor, fd, True)

    def notify_closing(self, fd: int, /) -> None:
        """Wake the waiters of ``fd`` with ``ClosedResourceError``; call before closing ``fd``.

        Loop thread only (from another thread, ``post`` it to the reactor).
        """
        self._reactor.notify_closing(fd)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IoScheduler) and other._reactor is self._reactor

    def __hash__(self) -> int:
        return id(self._reactor)


def reactor_of(scheduler: object, algorithm: str) -> Reactor:
    """The reactor behind ``scheduler``; ``TypeError`` naming ``algorithm`` if it has none."""
    if isinstance(scheduler, IoScheduler):
        return scheduler._reactor
    raise TypeError(
        f"{algorithm}: needs a scheduler with an I/O reactor (IoContext, VirtualTimeScheduler "
        f"or AnyioScheduler), got {type(scheduler).__name__}"
    )


# -- schedule() -----------------------------------------------------------------------------


@final
class _ScheduleSender(Sender[None]):
    __slots__ = ("_reactor",)

    _restartable = True  # its operation may be started again (see senders/_trampoline.py)

    def __init__(self, reactor: Reactor) -> None:
        self._reactor = reactor

    def connect(self, receiver: Receiver[None], /) -> OperationState:
        return _ScheduleOp(self._reactor, receiver)


@final
class _ScheduleOp:
    __slots__ = ("_reactor", "_receiver")

    def __init__(self, reactor: Reactor, receiver: Receiver[None]) -> None:
        self._reactor = reactor
        self._receiver = receiver

    def start(self) -> None:
        self._reactor.post(self._run)

    def _run(self) -> None:
        # Like stdexec's run_loop: a queued item checks for stop when it runs, so the common
        # path registers no stop callback at all.
        receiver = self._receiver
        source = receiver.get_env().stop_token._source
        if source is not None and source._stopped:
            receiver.set_stopped()
        else:
            receiver.set_value(None)


# -- shared shape of cancellable reactor operations ------------------------------------------


class _CancellableOp:
    """Start-on-loop, stop-on-loop and first-completion-wins logic shared by timer and fd waits.

    Subclasses set every attribute in their own ``__init__`` (no ``super()`` call on the hot
    path): ``_reactor``, ``_receiver``, ``_done = False``, ``_source = None`` (the stop source
    it watches, once registered) and ``_watching = False``.
    """

    __slots__ = ("_done", "_reactor", "_receiver", "_source", "_watching")

    _reactor: Reactor
    _receiver: Receiver[None]
    _done: bool
    _source: StopSource | None
    _watching: bool

    def start(self) -> None:
        if self._reactor.in_loop_thread():
            self._start_on_loop()
        else:
            self._reactor.post(self._start_on_loop)

    def _start_on_loop(self) -> None:
        if self._watch_stop():
            return
        try:
            self._arm()
        except Exception as exc:
            self._finish_with_error(exc)

    def _watch_stop(self) -> bool:
        """Watch the stop token before arming; true if the operation completed stopped."""
        source = self._receiver.get_env().stop_token._source
        if source is not None:
            if source._stopped:
                self._done = True
                self._receiver.set_stopped()
                return True
            self._source = source
            self._watching = True
            source._observe(self)
            if self._done:  # the callback ran inline: stop raced with registration
                return True
        return False

    def _arm(self) -> None:
        raise NotImplementedError

    def _disarm(self) -> None:
        raise NotImplementedError

    def _on_stop_requested(self) -> None:
        if self._reactor.in_loop_thread():
            self._stop_on_loop()
        else:
            self._reactor.post(self._stop_on_loop)

    def _stop_on_loop(self) -> None:
        if self._done:
            return
        self._done = True
        self._disarm()
        self._release_stop_callback()
        self._receiver.set_stopped()

    def _release_stop_callback(self) -> None:
        source = self._source
        if self._watching and source is not None:
            self._watching = False
            source._unobserve(self)

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        source = self._source
        if self._watching and source is not None:
            self._watching = False
            source._unobserve(self)
        self._receiver.set_value(None)

    def _finish_with_error(self, error: BaseException) -> None:
        if self._done:
            return
        self._done = True
        self._release_stop_callback()
        self._receiver.set_error(error)


# -- schedule_after() / schedule_at() --------------------------------------------------------


@final
class _TimerSender(Sender[None]):
    __slots__ = ("_reactor", "_relative", "_when")

    def __init__(self, reactor: Reactor, when: float, relative: bool) -> None:
        self._reactor = reactor
        self._when = when
        self._relative = relative

    def connect(self, receiver: Receiver[None], /) -> OperationState:
        return _TimerOp(self._reactor, receiver, self._when, self._relative)


@final
class _TimerOp(_CancellableOp):
    __slots__ = ("_handle", "_relative", "_when")

    def __init__(
        self, reactor: Reactor, receiver: Receiver[None], when: float, relative: bool
    ) -> None:
        self._reactor = reactor
        self._receiver = receiver
        self._done = False
        self._source = None
        self._watching = False
        self._when = when
        self._relative = relative
        self._handle: TimerHandle | None = None

    def start(self) -> None:
        # _CancellableOp.start with the on-loop path first and without a second call to
        # choose it: every timeout starts one of these.
        reactor = self._reactor
        if running_loop.reactor is reactor or reactor.in_loop_thread():
            self._start_on_loop()
        else:
            reactor.post(self._start_on_loop)

    def _start_on_loop(self) -> None:
        # _CancellableOp._start_on_loop with _watch_stop and _arm inlined: the hot path of
        # every timeout.
        source = self._receiver.get_env().stop_token._source
        if source is not None:
            if source._stopped:
                self._done = True
                self._receiver.set_stopped()
                return
            self._source = source
            self._watching = True
            source._observe(self)
            if self._done:  # the callback ran inline: stop raced with registration
                return
        reactor = self._reactor
        try:
            # Measured from here, when the operation starts on the loop -- not from connect().
            if self._relative:
                self._handle = reactor.call_at(reactor.time() + self._when, self._finish)
            else:
                self._handle = reactor.call_at(self._when, self._finish)
        except Exception as exc:
            self._finish_with_error(exc)

    def _disarm(self) -> None:
        handle = self._handle
        if handle is not None:
            self._handle = None
            handle.cancel()


# -- wait_readable() / wait_writable() -------------------------------------------------------


@final
class _FdWaitSender(Sender[None]):
    __slots__ = ("_fd", "_reactor", "_writable")

    def __init__(self, reactor: Reactor, fd: int, writable: bool) -> None:
        self._reactor = reactor
        self._fd = fd
        self._writable = writable

    def connect(self, receiver: Receiver[None], /) -> OperationState:
        return _FdWaitOp(self._reactor, receiver, self._fd, self._writable)


@final
class _FdWaitOp(_CancellableOp):
    __slots__ = ("_fd", "_writable")

    def __init__(self, reactor: Reactor, receiver: Receiver[None], fd: int, writable: bool) -> None:
        self._reactor = reactor
        self._receiver = receiver
        self._done = False
        self._source = None
        self._watching = False
        self._fd = fd
        self._writable = writable

    def _arm(self) -> None:
        if self._writable:
            self._reactor.add_writer(self._fd, self)
        else:
            self._reactor.add_reader(self._fd, self)

    def _disarm(self) -> None:
        if self._writable:
            self._reactor.remove_writer(self._fd, self)
        else:
            self._reactor.remove_reader(self._fd, self)

    def fd_ready(self) -> None:
        self._finish()

    def fd_closed(self, error: ClosedResourceError, /) -> None:
        self._finish_with_error(error)
