"""``when_any`` (stdexec's ``exec::when_any``): run senders concurrently; the first to complete
wins.

* The first child completion of *any* kind -- value, error or stopped -- is the result.
* Stop is then requested on the other children, and ``when_any`` waits for all of them to
  complete (their completions are dropped) before delivering the winner's completion, so
  nothing is left running behind it.
* A stop request on the downstream environment is forwarded to every child; the first of them
  to complete (usually with ``set_stopped``) wins as above. If stop was already requested when
  ``when_any`` starts, it completes with ``set_stopped()`` without starting any child.
* At least one sender is required (``TypeError`` when built otherwise).

Theory of operation
-------------------
As in ``when_all``: the operation owns a :class:`StopSource` whose token the children see, and
while they run a callback on the downstream stop token forwards stop requests to it (removed
before completing). Children may complete concurrently on any thread. A completion takes the
lock to claim the result if nobody has yet; the winner requests stop on the source *before*
counting itself, and the completion that brings the count to zero delivers the winner's result.
The operation is the receiver of every child: no per-child objects.
"""

from __future__ import annotations

from typing import Any, final, overload

from .._core import BasicSender, Completion, CompletionSink, Env, Receiver, Sender, require_sender
from ._concurrent import A, B, C, ConcurrentOp, D, E, F, describe_children

__all__ = ["when_any"]


@final
class _WhenAnyOp(ConcurrentOp, CompletionSink):
    """The receiver of every child: no per-child objects."""

    __slots__ = ()

    def __init__(self, _: None, senders: tuple[Sender[Any], ...], receiver: Receiver[Any]) -> None:
        super().__init__(senders, receiver, self._child_receiver)

    def _child_receiver(self, _index: int) -> Receiver[Any]:
        return self

    def get_env(self) -> Env:
        return self.env

    def receive(self, completion: Completion, /) -> None:
        """A child completed: the first completion wins; stop the others; the last delivers."""
        self._decide(completion)
        if self._count_down():
            winner = self._outcome
            assert winner is not None
            winner.deliver(self._receiver)


_WhenAnySender = BasicSender.variant("when_any", operation=_WhenAnyOp, describe=describe_children)


@overload
def when_any(s1: Sender[A], /) -> Sender[A]: ...
@overload
def when_any(s1: Sender[A], s2: Sender[B], /) -> Sender[A | B]: ...
@overload
def when_any(s1: Sender[A], s2: Sender[B], s3: Sender[C], /) -> Sender[A | B | C]: ...
@overload
def when_any(
    s1: Sender[A], s2: Sender[B], s3: Sender[C], s4: Sender[D], /
) -> Sender[A | B | C | D]: ...
@overload
def when_any(
    s1: Sender[A], s2: Sender[B], s3: Sender[C], s4: Sender[D], s5: Sender[E], /
) -> Sender[A | B | C | D | E]: ...
@overload
def when_any(
    s1: Sender[A], s2: Sender[B], s3: Sender[C], s4: Sender[D], s5: Sender[E], s6: Sender[F], /
) -> Sender[A | B | C | D | E | F]: ...
@overload
def when_any(s1: Sender[Any], /, *senders: Sender[Any]) -> Sender[Any]: ...
def when_any(*senders: Any) -> Any:
    """Run ``senders`` concurrently; complete as the first of them completes.

    The first completion (value, error or stopped) wins; the other children are stopped, and
    ``when_any`` waits for them before delivering it. ``TypeError`` when built if no sender is
    given or an argument is not a sender.
    """
    if not senders:
        raise TypeError("when_any: expected at least one Sender, got none")
    for sender in senders:
        require_sender("when_any", sender)
    return _WhenAnySender(None, senders)
