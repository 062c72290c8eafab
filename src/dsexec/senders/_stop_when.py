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

from typing import Any, TypeVar, final, overload

from .._core import (
    ERROR,
    MISSING,
    STOPPED_COMPLETION,
    ChildStopSource,
    Completion,
    CompletionSink,
    Env,
    OperationState,
    PreservingAdaptor,
    Receiver,
    Sender,
    SenderArgumentSender,
)

__all__ = ["RaceOp", "stop_when"]

T = TypeVar("T")



@final
class _OtherReceiver(CompletionSink):
    """Receiver of the second child (the trigger, or the timer of ``timeout``)."""

    __slots__ = ("_op",)

    def __init__(self, op: RaceOp) -> None:
        self._op = op

    def receive(self, completion: Completion, /) -> None:
        self._op.other_done(completion)

    def get_env(self) -> Env:
        return self._op.get_env()


class RaceOp(CompletionSink):
    r"""Operation state running the upstream and a second sender under one stop source.

    Subclasses implement ``_make_other(env)`` (the second sender; may raise, and the exception
    is delivered before anything starts) and ``_deliver(upstream, other)`` (complete downstream
    once both children completed, from their two :class:`Completion`\ s). The operation is the
    upstream's receiver.
    """

    __slots__ = (
        "_env",
        "_other",
        "_other_op",
        "_receiver",
        "_source",
        "_tickets",
        "_up",
        "_up_op",
        "_upstream",
    )

    def __init__(self, upstream: Sender[Any], receiver: Receiver[Any]) -> None:
        self._upstream = upstream
        self._receiver = receiver
        self._env: Env | None = None
        self._source: ChildStopSource | None = None
        self._tickets: list[bool] = [False, True]
        self._up_op: OperationState | None = None
        self._other_op: OperationState | None = None
        self._up: Completion | None = None
        self._other: Completion | None = None

    def _make_other(self, env: Env) -> Sender[Any]:
        raise NotImplementedError

    def _deliver(self, upstream: Completion, other: Completion) -> None:
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
            source = ChildStopSource()
            self._source = source
            self._env = env.with_stop_token(source.token)
            up_op = self._upstream.connect(self)
        except Exception as exc:
            receiver.set_error(exc)
            return
        self._up_op = up_op
        source.link(outer)  # if stop was requested meanwhile, the children start stopped
        up_op.start()
        if self._up is not None:
            # The upstream completed inline (or already on another thread): the second sender
            # is not needed; it counts as stopped.
            self.other_done(STOPPED_COMPLETION)
            return
        try:
            other_op = other.connect(_OtherReceiver(self))
        except Exception as exc:
            self.other_done(Completion(ERROR, exc))
            return
        self._other_op = other_op
        other_op.start()

    def _arrive(self) -> None:
        source = self._source
        assert source is not None
        if self._tickets.pop():
            source.request_stop()
            return
        source.unlink()
        self._up_op = None
        self._other_op = None
        upstream, other = self._up, self._other
        assert upstream is not None
        assert other is not None
        self._deliver(upstream, other)

    def other_done(self, completion: Completion) -> None:
        """The second child completed (its receiver calls this)."""
        self._other = completion
        self._arrive()

    def _outer_stop_requested(self) -> bool:
        return self._receiver.get_env().stop_token.stop_requested()

    # The upstream's receiver interface.

    def receive(self, completion: Completion, /) -> None:
        """The upstream completed."""
        self._up = completion
        self._arrive()

    def get_env(self) -> Env:
        env = self._env
        assert env is not None
        return env


@final
class _StopWhenOp(RaceOp):
    __slots__ = ("_trigger",)

    def __init__(
        self, upstream: Sender[Any], trigger: Sender[Any], receiver: Receiver[Any]
    ) -> None:
        super().__init__(upstream, receiver)
        self._trigger = trigger

    def _make_other(self, env: Env) -> Sender[Any]:
        return self._trigger

    def _deliver(self, upstream: Completion, other: Completion) -> None:
        upstream.deliver(self._receiver)


_StopWhenSender = SenderArgumentSender.variant("stop_when", operation=_StopWhenOp)


@overload
def stop_when(trigger: Sender[Any], /) -> PreservingAdaptor: ...
@overload
def stop_when(sender: Sender[T], trigger: Sender[Any], /) -> Sender[T]: ...
def stop_when(first: Any, trigger: Any = MISSING, /) -> Any:
    """Request stop on the upstream when ``trigger`` completes (with anything).

    Delivers the upstream's completion once both have completed. ``TypeError`` when built if
    ``trigger`` (or the upstream) is not a Sender.
    """
    return _StopWhenSender.call(first, trigger)
