"""``finally_`` (stdexec's ``exec::finally``): run a cleanup sender after the upstream, on every
path, then deliver the upstream's completion.

* When the upstream completes -- value, error or stopped -- its completion is kept, and the
  ``cleanup`` sender is connected and started with the same environment.
* Cleanup completes with a value (ignored): the upstream's kept completion is delivered.
* Cleanup fails: its error is delivered instead (the upstream's completion is dropped), as is
  an exception raised while connecting it.
* Cleanup is stopped: ``set_stopped()`` is delivered.

On stop: the cleanup runs with the same environment, so a stop request made before or during it
reaches it too and a cancellable cleanup may end stopped. Wrap it in ``unstoppable()``
(``finally_(cleanup | unstoppable())``) to make sure it runs to the end.
"""

from __future__ import annotations

from typing import Any, Final, Generic, TypeVar, final, overload

from .._core import MISSING, Adaptor, Env, OperationState, Receiver, Sender, require_sender

__all__ = ["finally_"]

T = TypeVar("T")

_VALUE: Final = 0
_ERROR: Final = 1
_STOPPED: Final = 2


@final
class _CleanupReceiver:
    """Receiver of the cleanup sender: completes the operation with the kept result."""

    __slots__ = ("_op",)

    def __init__(self, op: _FinallyOp) -> None:
        self._op = op

    def set_value(self, value: object, /) -> None:
        self._op._deliver()

    def set_error(self, error: BaseException, /) -> None:
        self._op._receiver.set_error(error)

    def set_stopped(self) -> None:
        self._op._receiver.set_stopped()

    def get_env(self) -> Env:
        return self._op._receiver.get_env()


@final
class _FinallyOp:
    """The operation is the upstream's receiver; it owns both child operation states.

    Slots are few because a connection's pipeline keeps one of these for its whole life:
    ``_first`` holds the upstream's operation state, then the cleanup's; ``_result`` the
    upstream's completion as ``(channel, value or error)`` while the cleanup runs.
    """

    __slots__ = ("_cleanup", "_first", "_receiver", "_result")

    def __init__(self, sender: Sender[Any], cleanup: Sender[Any], receiver: Receiver[Any]) -> None:
        self._receiver = receiver
        self._cleanup = cleanup
        self._result: tuple[int, Any] | None = None
        self._first: OperationState = sender.connect(self)

    def start(self) -> None:
        self._first.start()

    def set_value(self, value: Any, /) -> None:
        self._result = (_VALUE, value)
        self._run_cleanup()

    def set_error(self, error: BaseException, /) -> None:
        self._result = (_ERROR, error)
        self._run_cleanup()

    def set_stopped(self) -> None:
        self._result = (_STOPPED, None)
        self._run_cleanup()

    def get_env(self) -> Env:
        return self._receiver.get_env()

    def _run_cleanup(self) -> None:
        try:
            op = self._cleanup.connect(_CleanupReceiver(self))
        except Exception as exc:
            self._receiver.set_error(exc)
            return
        self._first = op  # the upstream has completed: its operation state is done with
        op.start()

    def _deliver(self) -> None:
        result = self._result
        assert result is not None  # set before the cleanup started
        kind, value = result
        if kind == _VALUE:
            self._receiver.set_value(value)
        elif kind == _ERROR:
            self._receiver.set_error(value)
        else:
            self._receiver.set_stopped()


@final
class _FinallySender(Sender[T], Generic[T]):
    __slots__ = ("_cleanup", "_sender")

    def __init__(self, sender: Sender[T], cleanup: Sender[Any]) -> None:
        self._sender = sender
        self._cleanup = cleanup

    def connect(self, receiver: Receiver[T], /) -> OperationState:
        return _FinallyOp(self._sender, self._cleanup, receiver)


@final
class _FinallyAdaptor(Adaptor):
    """Pipe form of ``finally_(cleanup)``: the value type passes through."""

    __slots__ = ("_cleanup",)

    def __init__(self, cleanup: Sender[Any]) -> None:
        self._cleanup = cleanup

    def __call__(self, sender: Sender[T], /) -> Sender[T]:
        require_sender("finally_", sender)
        return _FinallySender(sender, self._cleanup)

    def __repr__(self) -> str:
        return f"<SenderAdaptor finally_({self._cleanup!r:.60})>"


@overload
def finally_(cleanup: Sender[Any], /) -> _FinallyAdaptor: ...
@overload
def finally_(sender: Sender[T], cleanup: Sender[Any], /) -> Sender[T]: ...
def finally_(first: Any, cleanup: Any = MISSING, /) -> Any:
    """Run ``cleanup`` after the upstream on every path: ``sender | finally_(cleanup)``.

    Delivers the upstream's completion once ``cleanup`` succeeds; a failing or stopped cleanup
    completes with its error or stop instead. ``TypeError`` when built if an argument is not a
    sender.
    """
    if cleanup is MISSING:
        require_sender("finally_", first)
        return _FinallyAdaptor(first)
    require_sender("finally_", first)
    require_sender("finally_", cleanup)
    return _FinallySender(first, cleanup)
