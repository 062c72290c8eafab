"""``monitor.measured()`` and ``| timer``: pipeline steps that measure their upstream.

``monitor.measured()`` (:class:`MeasuredSender`) times each run of its upstream as one operation:

* ``start()`` counts the operation in flight and takes the start time, then starts the upstream.
* ``set_value(v)`` finishes it ok, ``set_error(e)`` as an error, ``set_stopped()`` as stopped
  (counted in ``stopped``, no latency sample); then the completion is passed on unchanged.

The monitor records the completion *before* passing it on, so what the downstream sees (and a
``snapshot()`` it takes) already includes this operation. The environment is forwarded, so stop
requests reach the upstream. Like ``then``, the step is restartable when its upstream is
(``repeat`` of a measured ``async_read`` restarts one operation state round after round, each
round a new measured operation; see ``senders/_trampoline.py``): ``start()`` takes a fresh start
time and the completion reads it before passing the completion on.

``sender | timer`` (:class:`TimedSender`, ``timer`` an ``OperationTimer`` from
``monitor.start_operation()``) finishes a timer already running when its upstream completes:
ok on a value, failed on an error, stopped on stopped, then passes the completion on
unchanged. The operation began when the timer was started (for example when a request arrived,
inside the ``let_value`` that builds its pipeline), not when the step starts. A timer is one
operation: a step that completes again (a restart under ``repeat``) records nothing more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, final

from .._core import BasicSender, Env, Receiver, Sender, WrappingOperation

if TYPE_CHECKING:
    from ._monitor import OperationTimer, PerfMonitor

__all__ = ["MeasuredSender", "TimedSender"]


# What a measured operation records into: the monitor, the start time of a running timer, and
# that timer (``sender | timer``); or just the monitor (``measured()``: a start per run).
_TimerData = tuple["PerfMonitor", float, "OperationTimer"]


@final
class _MeasuredOp(WrappingOperation):
    """The operation state of both steps, and the receiver the upstream completes into:
    ``data`` is the monitor (``measured()``: each start begins an operation) or a running
    timer's ``(monitor, start, timer)`` (``| timer``: completions finish that timer, once)."""

    __slots__ = ("_monitor", "_receiver", "_start", "_timer")

    def __init__(
        self, upstream: Sender[Any], data: PerfMonitor | _TimerData, receiver: Receiver[Any]
    ) -> None:
        self._timer: OperationTimer | None
        if isinstance(data, tuple):
            self._monitor, self._start, self._timer = data
        else:
            self._monitor, self._start, self._timer = data, 0.0, None
        self._receiver = receiver
        self._child = upstream.connect(self)

    def start(self) -> None:
        if self._timer is None:
            self._start = self._monitor.begin()
        self._child.start()

    def set_value(self, value: Any, /) -> None:
        self._monitor.end(self._start, True, self._timer)
        self._receiver.set_value(value)

    def set_error(self, error: BaseException, /) -> None:
        self._monitor.end(self._start, False, self._timer)
        self._receiver.set_error(error)

    def set_stopped(self) -> None:
        self._monitor.end(self._start, None, self._timer)
        self._receiver.set_stopped()

    def get_env(self) -> Env:
        return self._receiver.get_env()


@final
class MeasuredSender(BasicSender):
    """``sender | monitor.measured()``: the upstream's completion, measured by the monitor in
    ``data``."""

    __slots__ = ()
    name: ClassVar[str] = "PerfMonitor.measured"
    restartable_with_upstream: ClassVar[bool] = True

    operation = _MeasuredOp  # the upstream connected to it; the timer starts with start()

    @classmethod
    def describe(cls, data: Any) -> str:
        return ""


@final
class TimedSender(BasicSender):
    """``sender | timer``: the upstream's completion, finishing a running ``OperationTimer``;
    ``data`` is ``(monitor, start, timer)``."""

    __slots__ = ()
    name: ClassVar[str] = "OperationTimer"
    restartable_with_upstream: ClassVar[bool] = True

    operation = _MeasuredOp

    @classmethod
    def describe(cls, data: Any) -> str:
        return repr(data[2])
