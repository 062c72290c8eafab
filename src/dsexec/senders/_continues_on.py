"""``continues_on(sch)`` [exec.continues.on]: deliver the upstream's completion on ``sch``.

The upstream starts where ``start()`` is called. When it completes -- with a value, an error or
stopped -- the completion is stored, ``sch.schedule()`` is started, and once that completes on
``sch`` the stored completion is delivered there, unchanged.

On error: an upstream error is carried over to ``sch`` like a value. If the hop itself fails
(``sch.schedule()`` completes with an error, or connecting it raises), that error is delivered
instead of the stored completion. On stop: the upstream sees the downstream's stop token; if the
hop is stopped (stop requested while it was queued), ``set_stopped`` is delivered instead of the
stored completion.
"""

from __future__ import annotations

from typing import Any, Final, Generic, TypeVar, final, overload

from .._core import (
    MISSING,
    Adaptor,
    Env,
    OperationState,
    Receiver,
    Scheduler,
    Sender,
    require_sender,
)
from ._starts_on import require_scheduler

__all__ = ["continues_on"]

T = TypeVar("T")

_VALUE: Final = 0
_ERROR: Final = 1
_STOPPED: Final = 2


@final
class _HopReceiver:
    """Receiver of ``sch.schedule()``: delivers the stored completion when the hop lands."""

    __slots__ = ("_op",)

    def __init__(self, op: _ContinuesOnOp[Any]) -> None:
        self._op = op

    def set_value(self, value: None, /) -> None:
        self._op._deliver()

    def set_error(self, error: BaseException, /) -> None:
        op = self._op
        op._hop = None
        op._receiver.set_error(error)

    def set_stopped(self) -> None:
        op = self._op
        op._hop = None
        op._receiver.set_stopped()

    def get_env(self) -> Env:
        return self._op._receiver.get_env()


@final
class _ContinuesOnOp(Generic[T]):
    """Receiver of the upstream; stores its completion and starts the hop onto ``sch``."""

    __slots__ = ("_channel", "_hop", "_receiver", "_result", "_scheduler", "_upstream")

    def __init__(self, sender: Sender[T], scheduler: Scheduler, receiver: Receiver[T]) -> None:
        self._receiver = receiver
        self._scheduler = scheduler
        self._channel = _VALUE
        self._result: Any = None
        self._hop: OperationState | None = None
        self._upstream: OperationState | None = sender.connect(self)

    def start(self) -> None:
        upstream = self._upstream
        assert upstream is not None, "continues_on: operation started twice"
        upstream.start()

    def _start_hop(self) -> None:
        self._upstream = None
        try:
            hop = self._scheduler.schedule().connect(_HopReceiver(self))
        except Exception as exc:
            self._receiver.set_error(exc)
            return
        self._hop = hop
        hop.start()

    def _deliver(self) -> None:
        self._hop = None
        channel = self._channel
        result = self._result
        self._result = None
        if channel == _VALUE:
            self._receiver.set_value(result)
        elif channel == _ERROR:
            self._receiver.set_error(result)
        else:
            self._receiver.set_stopped()

    def set_value(self, value: T, /) -> None:
        self._result = value
        self._start_hop()

    def set_error(self, error: BaseException, /) -> None:
        self._channel = _ERROR
        self._result = error
        self._start_hop()

    def set_stopped(self) -> None:
        self._channel = _STOPPED
        self._start_hop()

    def get_env(self) -> Env:
        return self._receiver.get_env()


@final
class _ContinuesOnSender(Sender[T], Generic[T]):
    __slots__ = ("_scheduler", "_sender")

    def __init__(self, sender: Sender[T], scheduler: Scheduler) -> None:
        self._sender = sender
        self._scheduler = scheduler

    def connect(self, receiver: Receiver[T], /) -> OperationState:
        return _ContinuesOnOp(self._sender, self._scheduler, receiver)

    def __repr__(self) -> str:
        return f"{self._sender!r} | continues_on({self._scheduler!r})"


@final
class _ContinuesOnAdaptor(Adaptor):
    """Pipe form of ``continues_on``: the upstream's value type passes through."""

    __slots__ = ("_scheduler",)

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler

    def __call__(self, sender: Sender[T], /) -> Sender[T]:
        require_sender("continues_on", sender)
        return _ContinuesOnSender(sender, self._scheduler)

    def __repr__(self) -> str:
        return f"<SenderAdaptor continues_on({self._scheduler!r})>"


@overload
def continues_on(scheduler: Scheduler, /) -> _ContinuesOnAdaptor: ...
@overload
def continues_on(sender: Sender[T], scheduler: Scheduler, /) -> Sender[T]: ...
def continues_on(first: Any, scheduler: Any = MISSING, /) -> Any:
    """Deliver the upstream's completion (value, error or stopped) on ``scheduler``.

    ``TypeError`` when built if ``scheduler`` has no ``schedule()``.
    """
    if scheduler is MISSING:
        require_scheduler("continues_on", first)
        return _ContinuesOnAdaptor(first)
    require_sender("continues_on", first)
    require_scheduler("continues_on", scheduler)
    return _ContinuesOnSender(first, scheduler)
