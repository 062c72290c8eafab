"""What ``when_all`` and ``when_any`` share: children started together under one
:class:`~dsexec._core._stop_token.ChildStopSource`, and a count of those still running.

The operation owns the source; the children's environment is the downstream one with the
source's token, and the downstream's token is linked to it while they run, so a stop request
from downstream reaches every child. If stop was requested before ``start()``, no child starts
and the operation completes with ``set_stopped`` (as P2300's [exec.when.all] does). Children may
complete concurrently on any thread: ``_count_down()`` (under the lock) tells the last one,
which alone delivers, after unlinking the downstream's token.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .._core import ERROR, ChildStopSource, Completion, OperationState, Receiver, Sender

__all__ = ["A", "B", "C", "D", "E", "F", "ConcurrentOp", "describe_children"]

# The value types of the children, for the overloads of when_all and when_any.
A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")
D = TypeVar("D")
E = TypeVar("E")
F = TypeVar("F")


class ConcurrentOp:
    """Children started together under one child stop source; subclasses deliver."""

    __slots__ = ("_lock", "_ops", "_outcome", "_receiver", "_remaining", "_source", "env")

    def __init__(
        self,
        senders: tuple[Sender[Any], ...],
        receiver: Receiver[Any],
        child_receiver: Callable[[int], Receiver[Any]],
    ) -> None:
        self._receiver = receiver
        # The completion that decides (when_all: the first failure; when_any: the winner).
        self._outcome: Completion | None = None
        self._source = ChildStopSource()
        self.env = receiver.get_env().with_stop_token(self._source.token)
        self._lock = threading.Lock()
        self._remaining = len(senders)
        self._ops: list[OperationState] = [
            sender.connect(child_receiver(index)) for index, sender in enumerate(senders)
        ]

    def start(self) -> None:
        """Start every child, unless stop was requested already."""
        if not self._source.link(self._receiver.get_env().stop_token):
            self._receiver.set_stopped()
            return
        for op in self._ops:
            op.start()

    def _decide(self, completion: Completion, *, over_stopped: bool = False) -> None:
        """Make ``completion`` the outcome unless one was decided already (``over_stopped``:
        unless it was an error, so an error replaces "stopped"); if it was made, stop the
        other children."""
        with self._lock:
            outcome = self._outcome
            first = outcome is None or (over_stopped and outcome.channel != ERROR)
            if first:
                self._outcome = completion
        if first:
            self._source.request_stop()

    def _count_down(self) -> bool:
        """A child completed; whether it was the last (then the link is gone: deliver)."""
        with self._lock:
            self._remaining -= 1
            if self._remaining:
                return False
        self._source.unlink()
        return True


def describe_children(senders: tuple[Sender[Any], ...]) -> str:
    """The children, as ``repr`` shows them."""
    return ", ".join(map(repr, senders))
