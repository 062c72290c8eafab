"""``when_all`` [exec.when.all]: run senders concurrently; complete with the tuple of their values.

* Every child succeeds: ``set_value((v1, v2, ...))``, in argument order (not completion order).
* A child fails: stop is requested on the siblings, ``when_all`` waits for every child to
  complete, then delivers the first error. Later errors are dropped.
* A child is stopped (and no error arrived): stop is requested on the siblings, and once all
  have completed ``when_all`` completes with ``set_stopped()``. As in P2300, an error beats
  stopped whatever the order, so a failure during cancellation is never swallowed.
* A stop request on the downstream environment is forwarded to every child; the children then
  complete (usually with ``set_stopped``) and ``when_all`` completes as above -- with the values
  if every child finished anyway. If stop was already requested when ``when_all`` starts, it
  completes with ``set_stopped()`` without starting any child (as P2300's ``start`` does).
* ``when_all()`` with no senders completes with ``()`` at once.

Theory of operation
-------------------
The operation owns a :class:`StopSource`; the children's environment is the downstream one with
that source's token. While the children run, a callback on the downstream stop token forwards
a stop request to the source, and the callback is unregistered before ``when_all`` completes.

Children may complete on any thread, concurrently. Each completion takes the lock once to record
the disposition (first error wins; stopped only if nothing went wrong before) and once to count
itself; the completion that brings the count to zero is the last one, and it alone delivers the
result, after every child has completed and nothing else touches the state. Stop is requested
on the siblings *before* the failing child counts itself, so the operation cannot complete
while a request on its own source is still to come. Each value is written by its child into its
own slot before that child counts itself, so the last completer sees all of them.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar, final, overload

from .._core import (
    ERROR,
    STOPPED_COMPLETION,
    BasicSender,
    Completion,
    Env,
    Receiver,
    Sender,
    require_sender,
)
from ._concurrent import A, B, C, ConcurrentOp, D, E, F, describe_children
from ._just import just

__all__ = ["when_all"]

T = TypeVar("T")



@final
class _WhenAllReceiver(Generic[T]):
    """Receiver of child ``index``: forwards its completion to the shared operation."""

    __slots__ = ("_index", "_op")

    def __init__(self, op: _WhenAllOp, index: int) -> None:
        self._op = op
        self._index = index

    def set_value(self, value: T, /) -> None:
        self._op.child_value(self._index, value)

    def set_error(self, error: BaseException, /) -> None:
        self._op.child_error(error)

    def set_stopped(self) -> None:
        self._op.child_stopped()

    def get_env(self) -> Env:
        return self._op.env


@final
class _WhenAllOp(ConcurrentOp):
    __slots__ = ("_values",)

    def __init__(
        self, _: None, senders: tuple[Sender[Any], ...], receiver: Receiver[tuple[Any, ...]]
    ) -> None:
        # _outcome is None while every child succeeds; the first error (or, before any error,
        # stopped).
        self._values: list[Any] = [None] * len(senders)
        super().__init__(senders, receiver, lambda index: _WhenAllReceiver(self, index))

    # -- the children's receivers report here ---------------------------------------------------

    def child_value(self, index: int, value: Any) -> None:
        """Child ``index`` completed with ``value``."""
        self._values[index] = value
        self._arrive()

    def child_error(self, error: BaseException) -> None:
        """A child failed: the first error wins; stop the siblings."""
        self._decide(Completion(ERROR, error), over_stopped=True)
        self._arrive()

    def child_stopped(self) -> None:
        """A child was stopped: unless something failed already, stop the siblings."""
        self._decide(STOPPED_COMPLETION)
        self._arrive()

    def _arrive(self) -> None:
        if not self._count_down():
            return
        failure = self._outcome
        if failure is None:
            self._receiver.set_value(tuple(self._values))
        else:
            failure.deliver(self._receiver)


_WhenAllSender = BasicSender.variant("when_all", operation=_WhenAllOp, describe=describe_children)


@overload
def when_all() -> Sender[tuple[()]]: ...
@overload
def when_all(s1: Sender[A], /) -> Sender[tuple[A]]: ...
@overload
def when_all(s1: Sender[A], s2: Sender[B], /) -> Sender[tuple[A, B]]: ...
@overload
def when_all(s1: Sender[A], s2: Sender[B], s3: Sender[C], /) -> Sender[tuple[A, B, C]]: ...
@overload
def when_all(
    s1: Sender[A], s2: Sender[B], s3: Sender[C], s4: Sender[D], /
) -> Sender[tuple[A, B, C, D]]: ...
@overload
def when_all(
    s1: Sender[A], s2: Sender[B], s3: Sender[C], s4: Sender[D], s5: Sender[E], /
) -> Sender[tuple[A, B, C, D, E]]: ...
@overload
def when_all(
    s1: Sender[A], s2: Sender[B], s3: Sender[C], s4: Sender[D], s5: Sender[E], s6: Sender[F], /
) -> Sender[tuple[A, B, C, D, E, F]]: ...
@overload
def when_all(*senders: Sender[Any]) -> Sender[tuple[Any, ...]]: ...
def when_all(*senders: Any) -> Any:
    """Run ``senders`` concurrently; complete with the tuple of their values, in order.

    The first error (or stop) requests stop on the other children; ``when_all`` always waits
    for every child before completing with it. ``TypeError`` when built if an argument is not a
    sender.
    """
    for sender in senders:
        require_sender("when_all", sender)
    if not senders:
        return just(())
    return _WhenAllSender(None, senders)
