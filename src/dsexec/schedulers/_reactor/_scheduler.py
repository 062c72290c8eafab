"""``IoScheduler``: the scheduler of every reactor, and its senders -- ``schedule()``, the
timers (``schedule_after``, ``schedule_at``) and the fd readiness waits.

Each is written once against the :class:`Reactor` interface, so they behave the same on
``IoContext``, ``VirtualTimeScheduler`` and ``AnyioScheduler``. Timers and fd waits are
:class:`ReactorOperation`\\ s: a stop request withdraws them and completes with
``set_stopped`` at once. All are restartable.
"""

from __future__ import annotations

from typing import ClassVar, final

from ..._core import (
    BasicSender,
    ClosedResourceError,
    OperationState,
    Receiver,
    RestartableOperation,
    Sender,
    check_deadline,
    check_delay,
)
from ._interface import Reactor, TimerHandle
from ._operation import ReactorOperation

__all__ = ["IoScheduler", "reactor_of"]


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
        return _TimerSender(None, (self.reactor, check_delay("schedule_after", seconds), True))

    def schedule_at(self, deadline: float, /) -> Sender[None]:
        """A sender completing on the loop once ``now() >= deadline``; stops like
        ``schedule_after``. A deadline in the past is due at once; NaN is a ``ValueError``."""
        return _TimerSender(None, (self.reactor, check_deadline("schedule_at", deadline), False))

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
        return _FdWaitSender(None, (self.reactor, fd, False))

    def wait_writable(self, fd: int, /) -> Sender[None]:
        """Complete once ``fd`` is writable; errors and stop as :meth:`wait_readable`."""
        return _FdWaitSender(None, (self.reactor, fd, True))

    def notify_closing(self, fd: int, /) -> None:
        """Wake the waiters of ``fd`` with ``ClosedResourceError``; call before closing ``fd``.

        Loop thread only (from another thread, ``post`` it to the reactor).
        """
        self.reactor.notify_closing(fd)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IoScheduler) and other.reactor is self.reactor

    def __hash__(self) -> int:
        return id(self.reactor)


def reactor_of(scheduler: object, algorithm: str) -> Reactor:
    """The reactor behind ``scheduler``; ``TypeError`` naming ``algorithm`` if it has none
    (mypy rejects those, but an untyped caller may pass anything)."""
    if isinstance(scheduler, IoScheduler):
        return scheduler.reactor
    raise TypeError(
        f"{algorithm}: needs a scheduler with an I/O reactor (IoContext, VirtualTimeScheduler "
        f"or AnyioScheduler), got {type(scheduler).__name__}"
    )


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


@final
class _ScheduleSender(BasicSender):
    """``data`` is the reactor."""

    __slots__ = ()
    name: ClassVar[str] = "schedule"
    restartable = True
    operation = _ScheduleOp

    def __repr__(self) -> str:
        return "schedule()"


# -- schedule_after() / schedule_at() -------------------------------------------------------------


@final
class _TimerOp(ReactorOperation[None]):
    __slots__ = ("_handle", "_relative", "_when")

    def __init__(
        self, reactor: Reactor, receiver: Receiver[None], when: float, relative: bool
    ) -> None:
        super().__init__(reactor, receiver)
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


@final
class _TimerSender(BasicSender):
    """``data`` is ``(reactor, seconds or deadline, relative)``."""

    __slots__ = ()
    name: ClassVar[str] = "schedule_after"
    restartable = True

    def connect(self, receiver: Receiver[None], /) -> OperationState:
        reactor, when, relative = self.data
        return _TimerOp(reactor, receiver, when, relative)

    def __repr__(self) -> str:
        _, when, relative = self.data
        return f"schedule_after({when:g})" if relative else f"schedule_at({when:g})"


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


@final
class _FdWaitSender(BasicSender):
    """``data`` is ``(reactor, fd, writable)``."""

    __slots__ = ()
    name: ClassVar[str] = "wait_readable"
    restartable = True

    def connect(self, receiver: Receiver[None], /) -> OperationState:
        reactor, fd, writable = self.data
        return _FdWaitOp(reactor, receiver, fd, writable)

    def __repr__(self) -> str:
        _, fd, writable = self.data
        return f"wait_{'writable' if writable else 'readable'}({fd})"
