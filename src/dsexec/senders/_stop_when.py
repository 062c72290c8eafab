"""``stop_when(trigger)`` (libunifex's ``unifex::stop_when(source, trigger)``): stop the
upstream when the ``trigger`` sender completes.

The upstream and ``trigger`` (a sender) run side by side under one new stop source. When
``trigger`` completes -- value, error or stopped, its result is ignored -- stop is requested on
the upstream; when the upstream completes first, stop is requested on ``trigger``. Either way
the operation waits for both, then delivers the upstream's completion: usually ``set_stopped``
if the trigger fired, but a value or error the upstream produced before honouring the stop is
delivered as it is.

On error: the upstream's error is delivered (``trigger``'s is ignored). On stop: a stop request
from downstream is forwarded to both; the upstream's completion (normally ``set_stopped``) is
delivered once both have completed. If the upstream completes inline inside ``start()``,
``trigger`` is never started.

Theory of operation (shared with ``timeout``, see :class:`RaceOp`)
-----------------------------------------------------------------
The two children may complete on different threads. Each records its completion in its own
slots and then pops one ticket from ``_tickets = [False, True]``; ``list.pop`` is atomic, so
exactly one child sees ``True`` ("first": it requests stop on the shared source, cancelling the
other) and the other sees ``False`` ("last": it unregisters the downstream stop callback and
delivers). Each child is connected with the operation (or a tiny receiver) as receiver; the
references are dropped on completion so no reference cycle outlives the operation.
"""

from __future__ import annotations

from typing import Any, Final, Generic, TypeVar, final, overload

from .._core import (
    MISSING,
    Adaptor,
    Env,
    OperationState,
    Receiver,
    Sender,
    StopCallback,
    StopSource,
    require_sender,
)

__all__ = ["RaceOp", "stop_when"]

T = TypeVar("T")

VALUE: Final = 0
ERROR: Final = 1
STOPPED: Final = 2


@final
class _OtherReceiver:
    """Receiver of the second child (the trigger, or the timer of ``timeout``)."""

    __slots__ = ("_op",)

    def __init__(self, op: RaceOp[Any]) -> None:
        self._op = op

    def set_value(self, value: object, /) -> None:
        self._op._other_done(VALUE, None)

    def set_error(self, error: BaseException, /) -> None:
        self._op._other_done(ERROR, error)

    def set_stopped(self) -> None:
        self._op._other_done(STOPPED, None)

    def get_env(self) -> Env:
        return self._op.get_env()


class RaceOp(Generic[T]):
    """Operation state running the upstream and a second sender under one stop source.

    Subclasses implement ``_make_other(env)`` (the second sender; may raise, and the exception
    is delivered before anything starts) and ``_deliver()`` (complete downstream once both
    children completed, from ``_up_channel``/``_up_result`` and ``_other_channel``/
    ``_other_result``). The operation is the upstream's receiver.
    """

    __slots__ = (
        "_env",
        "_other_channel",
        "_other_op",
        "_other_result",
        "_outer_callback",
        "_receiver",
        "_source",
        "_tickets",
        "_up_channel",
        "_up_op",
        "_up_result",
        "_upstream",
    )

    def __init__(self, upstream: Sender[T], receiver: Receiver[T]) -> None:
        self._upstream = upstream
        self._receiver = receiver
        self._env: Env | None = None
        self._source: StopSource | None = None
        self._outer_callback: StopCallback | None = None
        self._tickets: list[bool] = [False, True]
        self._up_op: OperationState | None = None
        self._other_op: OperationState | None = None
        self._up_channel = -1
        self._up_result: Any = None
        self._other_channel = -1
        self._other_result: BaseException | None = None

    def _make_other(self, env: Env) -> Sender[Any]:
        raise NotImplementedError

    def _deliver(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        receiver = self._receiver
        env = receiver.get_env()
        outer = env.stop_token
        if outer.stop_requested():
            receiver.set_stopped()
            return
        try:
            other = self._make_other(env)
            source = StopSource()
            self._source = source
            self._env = env.with_stop_token(source.token)
            up_op = self._upstream.connect(self)
        except Exception as exc:
            receiver.set_error(exc)
            return
        self._up_op = up_op
        if outer.stop_possible():
            # If stop is requested meanwhile, this runs at once: the children start stopped.
            self._outer_callback = outer.register(self._on_outer_stop)
        up_op.start()
        if self._up_channel != -1:
            # The upstream completed inline (or already on another thread): the second sender
            # is not needed; it counts as stopped.
            self._other_done(STOPPED, None)
            return
        try:
            other_op = other.connect(_OtherReceiver(self))
        except Exception as exc:
            self._other_done(ERROR, exc)
            return
        self._other_op = other_op
        other_op.start()

    def _arrive(self) -> None:
        if self._tickets.pop():
            source = self._source
            assert source is not None
            source.request_stop()
            return
        callback = self._outer_callback
        if callback is not None:
            self._outer_callback = None
            callback.unregister()
        self._up_op = None
        self._other_op = None
        self._deliver()

    def _on_outer_stop(self) -> None:
        source = self._source
        assert source is not None
        source.request_stop()

    def _other_done(self, channel: int, error: BaseException | None) -> None:
        self._other_channel = channel
        self._other_result = error
        self._arrive()

    def _outer_stop_requested(self) -> bool:
        return self._receiver.get_env().stop_token.stop_requested()

    # The upstream's receiver interface.

    def set_value(self, value: T, /) -> None:
        self._up_result = value
        self._up_channel = VALUE
        self._arrive()

    def set_error(self, error: BaseException, /) -> None:
        self._up_result = error
        self._up_channel = ERROR
        self._arrive()

    def set_stopped(self) -> None:
        self._up_channel = STOPPED
        self._arrive()

    def get_env(self) -> Env:
        env = self._env
        assert env is not None
        return env


@final
class _StopWhenOp(RaceOp[T]):
    __slots__ = ("_trigger",)

    def __init__(self, upstream: Sender[T], trigger: Sender[Any], receiver: Receiver[T]) -> None:
        super().__init__(upstream, receiver)
        self._trigger = trigger

    def _make_other(self, env: Env) -> Sender[Any]:
        return self._trigger

    def _deliver(self) -> None:
        channel = self._up_channel
        receiver = self._receiver
        if channel == VALUE:
            receiver.set_value(self._up_result)
        elif channel == ERROR:
            receiver.set_error(self._up_result)
        else:
            receiver.set_stopped()


@final
class _StopWhenSender(Sender[T], Generic[T]):
    __slots__ = ("_sender", "_trigger")

    def __init__(self, sender: Sender[T], trigger: Sender[Any]) -> None:
        self._sender = sender
        self._trigger = trigger

    def connect(self, receiver: Receiver[T], /) -> OperationState:
        return _StopWhenOp(self._sender, self._trigger, receiver)

    def __repr__(self) -> str:
        return f"{self._sender!r} | stop_when({self._trigger!r})"


@final
class _StopWhenAdaptor(Adaptor):
    """Pipe form of ``stop_when``: the upstream's value type passes through."""

    __slots__ = ("_trigger",)

    def __init__(self, trigger: Sender[Any]) -> None:
        self._trigger = trigger

    def __call__(self, sender: Sender[T], /) -> Sender[T]:
        require_sender("stop_when", sender)
        return _StopWhenSender(sender, self._trigger)

    def __repr__(self) -> str:
        return f"<SenderAdaptor stop_when({self._trigger!r})>"


@overload
def stop_when(trigger: Sender[Any], /) -> _StopWhenAdaptor: ...
@overload
def stop_when(sender: Sender[T], trigger: Sender[Any], /) -> Sender[T]: ...
def stop_when(first: Any, trigger: Any = MISSING, /) -> Any:
    """Request stop on the upstream when ``trigger`` completes (with anything).

    Delivers the upstream's completion once both have completed. ``TypeError`` when built if
    ``trigger`` (or the upstream) is not a Sender.
    """
    if trigger is MISSING:
        require_sender("stop_when", first)
        return _StopWhenAdaptor(first)
    require_sender("stop_when", first)
    require_sender("stop_when", trigger)
    return _StopWhenSender(first, trigger)
