"""``on_signals(sch, *signums)``: a sender completing with the first of those signals to arrive.

Theory of operation
-------------------
Python runs signal handlers on the main thread, between bytecodes. A loop blocked in
``epoll_wait`` (or ``select``, or trio's and asyncio's pollers) is interrupted with ``EINTR``;
Python then runs the handlers and, by PEP 475, polls again with the remaining timeout. So a
handler that only *records* the signal would leave the loop asleep. Here each operation owns a
socketpair and waits for its read end on the reactor, like any fd wait; the handler writes the
signal number to the write end, so the poll that follows the handler returns at once and the
operation completes on the loop thread, like everything else. (uvloop runs Python handlers from
its own wake-up fd; the write then wakes it the same way.)

Handlers are shared: a process-wide table maps each signal to the operations waiting for it.
The first operation waiting for a signal installs the dispatching handler and remembers the
previous one; the last one to leave (completed or stopped, in any order) puts it back. Every
waiting operation sees every signal it asked for.

``signal.signal`` works only on the main thread: started elsewhere, the operation completes
with ``RuntimeError``.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, final

from ..._core import ClosedResourceError, Receiver, Sender
from ._interface import Reactor
from ._operation import ReactorOperation, ReactorSender
from ._reactor_of import reactor_of
from ._scheduler import IoScheduler

__all__ = ["on_signals"]

_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None

# Signals no process may catch.
_UNCATCHABLE = frozenset({getattr(signal, "SIGKILL", -1), getattr(signal, "SIGSTOP", -1)})


@final
class _SignalTable:
    """The waiting operations per signal, and the handlers to restore when they are gone."""

    __slots__ = ("_lock", "_previous", "_waiting")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[int, list[_SignalOp]] = {}
        self._previous: dict[int, _Handler] = {}

    def add(self, op: _SignalOp, signums: tuple[int, ...]) -> None:
        """Wait for ``signums``; installs the dispatcher where nobody waited yet.

        ``RuntimeError`` off the main thread (nothing is installed then).
        """
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError(
                "on_signals: signal handlers can only be installed on the main thread; run "
                "the loop that starts this sender on the main thread"
            )
        with self._lock:
            for signum in signums:
                waiting = self._waiting.setdefault(signum, [])
                if not waiting:
                    self._previous[signum] = signal.signal(signum, self._dispatch)
                waiting.append(op)

    def remove(self, op: _SignalOp, signums: tuple[int, ...]) -> None:
        """Stop waiting; restores a signal's previous handler once nobody waits for it."""
        with self._lock:
            for signum in signums:
                waiting = self._waiting.get(signum)
                if waiting is None or op not in waiting:
                    continue
                waiting.remove(op)
                if not waiting:
                    del self._waiting[signum]
                    signal.signal(signum, self._previous.pop(signum))

    def _dispatch(self, signum: int, _frame: FrameType | None) -> None:
        # Runs between two bytecodes of the main thread, possibly while that thread holds
        # _lock in add() or remove(): take a snapshot without the lock (list() of a list is
        # atomic under the GIL) rather than deadlock on it.
        for op in list(self._waiting.get(signum, ())):
            op.signal_arrived(signum)


_table = _SignalTable()


@final
class _SignalOp(ReactorOperation[int]):
    __slots__ = ("_reader", "_signums", "_writer")

    def __init__(self, reactor: Reactor, receiver: Receiver[int], signums: tuple[int, ...]) -> None:
        super().__init__(reactor, receiver)
        self._signums = signums
        self._reader: socket.socket | None = None
        self._writer: socket.socket | None = None

    def _begin(self) -> None:
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        self._reader, self._writer = reader, writer
        _table.add(self, self._signums)  # RuntimeError off the main thread: _cancel() closes
        self._wait_fd(reader.fileno(), False)

    def _cancel(self) -> None:
        _table.remove(self, self._signums)
        reader, writer = self._reader, self._writer
        self._reader = self._writer = None
        if reader is not None:
            self._reactor.remove_reader(reader.fileno(), self)
            self._reactor.notify_closing(reader.fileno())
            reader.close()
        if writer is not None:
            writer.close()

    def signal_arrived(self, signum: int) -> None:
        """Called by the handler, on the main thread: wake the loop with the signal number."""
        writer = self._writer
        if writer is not None:
            with contextlib.suppress(OSError):  # full (a signal storm) or closed: one suffices
                writer.send(bytes((signum,)))

    def fd_ready(self) -> None:
        if self._done:
            return
        reader = self._reader
        assert reader is not None
        try:
            received = reader.recv(64)
        except BlockingIOError:  # a spurious wake-up: wait again
            self._wait_fd(reader.fileno(), False)
            return
        self._cancel()
        self._succeed(received[0])

    def fd_closed(self, error: ClosedResourceError, /) -> None:
        self._cancel()
        self._fail(error)


# ``data`` is ``(reactor, signums)``.
_SignalSender = ReactorSender.variant(
    "on_signals", reactor_operation=_SignalOp, describe=lambda data: ", ".join(map(_name, data[1]))
)


def _name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


def _check_signal(signum: object) -> int:
    if isinstance(signum, bool) or not isinstance(signum, int):
        raise TypeError(
            f"on_signals: expected signal numbers such as signal.SIGINT, "
            f"got {type(signum).__name__} ({signum!r:.60})"
        )
    if signum not in signal.valid_signals():
        raise ValueError(f"on_signals: {signum} is not a signal number on this platform")
    if signum in _UNCATCHABLE:
        raise ValueError(f"on_signals: {_name(signum)} cannot be caught")
    return int(signum)


def on_signals(scheduler: IoScheduler, /, *signums: int) -> Sender[int]:
    """A ``Sender[int]`` completing with the first of ``signums`` to arrive, on ``scheduler``.

    When started it installs handlers for ``signums`` (on the main thread: elsewhere it
    completes with ``RuntimeError``); when it completes or is stopped it restores the previous
    ones, so a second Ctrl-C after the first gets Python's default (``KeyboardInterrupt``).
    Several operations may wait for one signal at once: each sees it. A stop request completes
    it with ``set_stopped`` at once. Built with no signal, a non-signal or an uncatchable one
    (``SIGKILL``, ``SIGSTOP``): ``ValueError``/``TypeError``. Typical use, a server that runs
    until Ctrl-C or SIGTERM::

        serving | ex.stop_when(ex.on_signals(sch, signal.SIGINT, signal.SIGTERM))
    """
    reactor = reactor_of(scheduler, "on_signals")
    if not signums:
        raise ValueError("on_signals: name at least one signal, e.g. signal.SIGINT")
    checked = tuple(dict.fromkeys(_check_signal(signum) for signum in signums))
    return _SignalSender(None, (reactor, checked))
