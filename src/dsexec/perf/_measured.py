"""``monitor.measured()``: a pipeline step that measures its upstream as one operation.

* ``start()`` counts the operation in flight and takes the start time, then starts the upstream.
* ``set_value(v)`` finishes it ok, ``set_error(e)`` as an error, ``set_stopped()`` as stopped
  (counted in ``stopped``, no latency sample); then the completion is passed on unchanged.

The monitor records the completion *before* passing it on, so what the downstream sees (and a
``snapshot()`` it takes) already includes this operation. The environment is forwarded, so stop
requests reach the upstream. Like ``then``, the step is restartable when its upstream is
(``repeat`` of a measured ``async_read`` restarts one operation state round after round, each
round a new measured operation; see ``senders/_trampoline.py``): ``start()`` takes a fresh start
time and the completion reads it before passing the completion on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar, final

from .._core import Adaptor, Env, OperationState, Receiver, Sender, require_sender

if TYPE_CHECKING:
    from ._monitor import PerfMonitor

__all__ = ["MeasuredAdaptor", "MeasuredSender"]

T = TypeVar("T")


@final
class _MeasuredOp(Generic[T]):
    """The operation state, and the receiver the upstream completes into."""

    __slots__ = ("_child", "_monitor", "_receiver", "_start")

    def __init__(self, monitor: PerfMonitor, receiver: Receiver[T]) -> None:
        self._monitor = monitor
        self._receiver = receiver
        self._start = 0.0
        self._child: OperationState | None = None

    def start(self) -> None:
        self._start = self._monitor._begin()
        assert self._child is not None
        self._child.start()

    def set_value(self, value: T, /) -> None:
        self._monitor._end(self._start, True)
        self._receiver.set_value(value)

    def set_error(self, error: BaseException, /) -> None:
        self._monitor._end(self._start, False)
        self._receiver.set_error(error)

    def set_stopped(self) -> None:
        self._monitor._end(self._start, None)
        self._receiver.set_stopped()

    def get_env(self) -> Env:
        return self._receiver.get_env()

    def _enter_loop(self) -> None:
        enter = getattr(self._child, "_enter_loop", None)
        if enter is not None:
            enter()

    def _retire(self) -> None:
        retire = getattr(self._child, "_retire", None)
        if retire is not None:
            retire()


@final
class MeasuredSender(Sender[T], Generic[T]):
    """``sender | monitor.measured()``: the upstream's completion, measured by ``monitor``."""

    __slots__ = ("_monitor", "_sender")

    @property
    def _restartable(self) -> bool:  # the upstream's operation state, restarted (_trampoline.py)
        return getattr(self._sender, "_restartable", False) is True

    def __init__(self, monitor: PerfMonitor, sender: Sender[T]) -> None:
        self._monitor = monitor
        self._sender = sender

    def connect(self, receiver: Receiver[T], /) -> OperationState:
        """Connect the upstream to a measuring receiver; the timer starts with ``start()``."""
        op: _MeasuredOp[T] = _MeasuredOp(self._monitor, receiver)
        op._child = self._sender.connect(op)
        return op


@final
class MeasuredAdaptor(Adaptor):
    """Pipe form of ``monitor.measured()``: ``sender | monitor.measured()``."""

    __slots__ = ("_monitor",)

    def __init__(self, monitor: PerfMonitor) -> None:
        self._monitor = monitor

    def __call__(self, sender: Sender[T], /) -> Sender[T]:
        require_sender("PerfMonitor.measured", sender)
        return MeasuredSender(self._monitor, sender)

    def __repr__(self) -> str:
        return "<SenderAdaptor PerfMonitor.measured>"
