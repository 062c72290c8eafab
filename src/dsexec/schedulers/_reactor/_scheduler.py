"""``IoScheduler``: the scheduler of every reactor, and its senders -- ``schedule()``, the
timers (``schedule_after``, ``schedule_at``) and the fd readiness waits.

Each is written once against the :class:`Reactor` interface, so they behave the same on
``IoContext``, ``VirtualTimeScheduler`` and ``AnyioScheduler``. Timers and fd waits are
:class:`ReactorOperation`\\ s: a stop request withdraws them and completes with
``set_stopped`` at once. All are restartable.
"""

from __future__ import annotations

from typing import final

from ..._core import (
    BasicSender,
    ClosedResourceError,
    Receiver,
    RestartableOperation,
    Sender,
    check_deadline,
    check_delay,
)
from ._interface import Reactor, TimerHandle
from ._operation import ReactorOperation, ReactorSender

__all__ = ["IoScheduler"]


class IoScheduler:
    """The type of every scheduler with an I/O reactor behind it: timed, with fd readiness waits.

    ``IoContext.get_scheduler()``, ``VirtualTimeScheduler`` and ``AnyioScheduler`` are
    ``IoScheduler``s, so code annotated with it (``def serve(sch: ex.IoScheduler, ...)``) takes
    any of them, and the senders of ``dsexec.net`` take nothing else: ``mypy`` flags a
    ``ThreadPool`` passed by mistake. Subclasses set ``reactor``. Two schedulers are equal when
    they share a reactor.
    """

    # Each subclass keeps ``reactor`` (a slot, or its __dict__): none here, so that
    # VirtualTimeScheduler can be an IoContext as well once IoContext is compiled.
    __slots__ = ()

    reactor: Reactor
    """The reactor this scheduler's senders run on (what ``dsexec.net`` drives directly)."""

    def now(self) -> float:
        """The reactor's clock, in seconds."""
        return self.reactor.time()

    def schedule(self) -> Sender[None]:
        """A sender completing with ``None`` on the loop thread, after already queued work.

        On stop: if stop was requested by the time the queued completion runs, it completes
        with ``set_stopped`` instead.
        """
        return _ScheduleSender(None, self.reactor)

    def schedule_after(self, seconds: float, /) -> Sender[None]:
        """A sender completing on the loop ``seconds`` after ``start()`` (not after building).

        ``seconds`` is a number >= 0 (``TypeError``/``ValueError`` when built otherwise);
        ``math.inf`` never completes (a stop request still does). A stop request withdraws the
        timer and completes with ``set_stopped`` at once.
        """
        seconds = check_delay("schedule_after", seconds)
        return _ScheduleAfterSender(None, (self.reactor, seconds, True))

    def schedule_at(self, deadline: float, /) -> Sender[None]:
        """A sender completing on the loop once ``now() >= deadline``; stops like
        ``schedule_after``. A deadline in the past is due at once; NaN is a ``ValueError``."""
        deadline = check_deadline("schedule_at", deadline)
        return _ScheduleAtSender(None, (self.reactor, deadline, False))

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
        return _WaitReadableSender(None, (self.reactor, fd, False))

    def wait_writable(self, fd: int, /) -> Sender[None]:
        """Complete once ``fd`` is writable; errors and stop as :meth:`wait_readable`."""
        return _WaitWritableSender(None, (self.reactor, fd, True))

    def notify_closing(self, fd: int, /) -> None:
        """Wake the waiters of ``fd`` with ``ClosedResourceError``; call before closing ``fd``.

        Loop thread only (from another thread, ``post`` it to the reactor).
        """
        self.reactor.notify_closing(fd)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IoScheduler) and other.reactor is self.reactor

    def __hash__(self) -> int:
        return id(self.reactor)


# -- schedule() ---------------------------------------------------------------------------------


@final
class _ScheduleOp(RestartableOperation):
    __slots__ = ("_reactor", "_receiver")

    def __init__(self, _: None, reactor: Reactor, receiver: Receiver[None]) -> None:
        self._reactor = reactor
        self._receiver = receiver

    def start(self) -> None:
        self._reactor.post(self._run)

    def _run(self) -> None:
        # Like stdexec's run_loop: a queued item checks for stop when it runs, so the common
        # path registers no stop callback at all.
        receiver = self._receiver
        source = receiver.get_env().stop_token.source
        if source is not None and source.stopped:
            receiver.set_stopped()
        else:
            receiver.set_value(None)


# ``data`` is the reactor (not shown: ``schedule()``).
_ScheduleSender = BasicSender.variant(
    "schedule", operation=_ScheduleOp, restartable=True, describe=lambda _: ""
)


# -- schedule_after() / schedule_at() -------------------------------------------------------------


@final
class _TimerOp(ReactorOperation[None]):
    __slots__ = ("_handle", "_relative", "_when")

    def __init__(
        self, reactor: Reactor, receiver: Receiver[None], when: float, relative: bool
    ) -> None:
        # The base by name, not super(): no super object per timer (bench_scheduling's timers).
        ReactorOperation.__init__(self, reactor, receiver)
        self._when = when
        self._relative = relative
        self._handle: TimerHandle | None = None

    def _begin(self) -> None:
        reactor = self._reactor
        # Measured from here, when the operation starts on the loop -- not from connect().
        deadline = reactor.time() + self._when if self._relative else self._when
        self._handle = reactor.call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._succeed(None)

    def _cancel(self) -> None:
        handle = self._handle
        if handle is not None:
            self._handle = None
            handle.cancel()


def _describe_timer(data: tuple[Reactor, float, bool]) -> str:
    return f"{data[1]:g}"


# ``data`` is ``(reactor, seconds or deadline, relative)``.
_ScheduleAfterSender = ReactorSender.variant(
    "schedule_after", reactor_operation=_TimerOp, restartable=True, describe=_describe_timer
)
_ScheduleAtSender = ReactorSender.variant(
    "schedule_at", reactor_operation=_TimerOp, restartable=True, describe=_describe_timer
)


# -- wait_readable() / wait_writable() ----------------------------------------------------------


@final
class _FdWaitOp(ReactorOperation[None]):
    __slots__ = ("_fd", "_writable")

    def __init__(self, reactor: Reactor, receiver: Receiver[None], fd: int, writable: bool) -> None:
        super().__init__(reactor, receiver)
        self._fd = fd
        self._writable = writable

    def _begin(self) -> None:
        self._wait_fd(self._fd, self._writable)

    def _cancel(self) -> None:
        if self._writable:
            self._reactor.remove_writer(self._fd, self)
        else:
            self._reactor.remove_reader(self._fd, self)

    def fd_ready(self) -> None:
        self._succeed(None)

    def fd_closed(self, error: ClosedResourceError, /) -> None:
        self._fail(error)


def _describe_fd_wait(data: tuple[Reactor, int, bool]) -> str:
    return str(data[1])


# ``data`` is ``(reactor, fd, writable)``.
_WaitReadableSender = ReactorSender.variant(
    "wait_readable", reactor_operation=_FdWaitOp, restartable=True, describe=_describe_fd_wait
)
_WaitWritableSender = ReactorSender.variant(
    "wait_writable", reactor_operation=_FdWaitOp, restartable=True, describe=_describe_fd_wait
)
