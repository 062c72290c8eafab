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

from typing import Any, TypeVar, final, overload

from mypy_extensions import mypyc_attr

from .._core import (
    MISSING,
    Completion,
    CompletionSink,
    Env,
    OperationState,
    PreservingAdaptor,
    Receiver,
    ReplayReceiver,
    Sender,
    SenderArgumentSender,
)

__all__ = ["ReplayAfterOp", "finally_"]

T = TypeVar("T")


@mypyc_attr(allow_interpreted_subclasses=True)  # continues_on's operation is one
class ReplayAfterOp(CompletionSink):
    """Runs a second sender once the upstream completes, then delivers the upstream's
    completion; the second's error or stop (or an exception connecting it) wins instead.
    ``finally_`` (the cleanup) and ``continues_on`` (the hop) are this with their second sender
    (``_second()``, made from ``_data``).

    The operation is the upstream's receiver; it owns both child operation states. Slots are
    few because a connection's pipeline keeps one of these for its whole life: ``_child``
    holds the upstream's operation state, then the second's; the upstream's completion waits in
    the second's ``ReplayReceiver``.
    """

    __slots__ = ("_child", "_data", "_receiver")

    def __init__(self, sender: Sender[Any], data: Any, receiver: Receiver[Any]) -> None:
        self._receiver = receiver
        self._data = data
        self._child: OperationState = sender.connect(self)

    def start(self) -> None:
        self._child.start()

    def get_env(self) -> Env:
        return self._receiver.get_env()

    def _second(self) -> Sender[Any]:
        """The sender to run after the upstream (called once, when it has completed)."""
        raise NotImplementedError

    def receive(self, result: Completion, /) -> None:
        """The upstream completed: run the second sender, which replays ``result`` if it
        succeeds."""
        try:
            op = self._second().connect(ReplayReceiver(self._receiver, result))
        except Exception as exc:
            self._receiver.set_error(exc)
            return
        self._child = op  # the upstream has completed: its operation state is done with
        op.start()


@final
class _FinallyOp(ReplayAfterOp):
    """``_data`` is the cleanup sender."""

    __slots__ = ()

    def _second(self) -> Sender[Any]:
        return self._data  # type: ignore[no-any-return]


_FinallySender = SenderArgumentSender.variant("finally_", operation=_FinallyOp)


@overload
def finally_(cleanup: Sender[Any], /) -> PreservingAdaptor: ...
@overload
def finally_(sender: Sender[T], cleanup: Sender[Any], /) -> Sender[T]: ...
def finally_(first: Any, cleanup: Any = MISSING, /) -> Any:
    """Run ``cleanup`` after the upstream on every path: ``sender | finally_(cleanup)``.

    Delivers the upstream's completion once ``cleanup`` succeeds; a failing or stopped cleanup
    completes with its error or stop instead. ``TypeError`` when built if an argument is not a
    sender.
    """
    return _FinallySender.call(first, cleanup)
