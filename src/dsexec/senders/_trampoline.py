"""The per-operation trampoline of the looping algorithms (``repeat*``, ``retry``).

Theory of operation
-------------------
A looping algorithm starts its child, and when the child completes it may connect and start a
fresh child. If the child completes *inline* inside ``start()`` and the completion simply started
the next child, every iteration would nest two frames deeper: ``repeat_n`` of ``just`` would hit
``RecursionError`` after a few hundred iterations. stdexec avoids this with its
``trampoline_scheduler``; :class:`RestartLoop` does the same job per operation, without
thread-local state (so a nested ``sync_wait`` inside an iteration cannot deadlock on a queue that
an outer frame owns):

* Each round has two parties that may race: the *starter* (the frame in ``_run()`` that called
  ``child.start()``, once that returns) and the *completer* (the child's completion asking for
  another round with ``_restart()``; a completion that ends the loop does not take part). Each
  round gets a fresh two-ticket list ``[False, True]``; each party pops one ticket. ``list.pop``
  is atomic (under the GIL, and per-object locked on free-threaded builds), so exactly one party
  pops ``True`` ("first") and the other ``False`` ("second").
* Whoever comes second runs the next round. If the child completed inline (or on another thread
  before ``start()`` returned), the completer is first and simply returns, the stack unwinds, and
  the starter, second, loops. If the child completes later, the starter was first and has
  returned; the completer, second, runs ``_run()`` from its own frame.

Exactly one frame owns the loop at any time, whatever thread the children complete on, and a
million inline rounds use constant stack and memory: each round drops the previous child
operation state. (A ``threading.Lock`` would do the same job at several times the cost.)
"""

from __future__ import annotations

from .._core import OperationState

__all__ = ["RestartLoop"]


class RestartLoop:
    """Base of operation states that start a fresh child operation in a stack-safe loop.

    Subclasses implement ``_connect_child()`` (connect the next child, usually to ``self``) and
    ``_fail(exc)`` (complete downstream with ``exc`` when connecting raises), and call
    ``_restart()`` from a child completion that wants another round.
    """

    __slots__ = ("_child", "_tickets")

    def __init__(self) -> None:
        self._child: OperationState | None = None
        self._tickets: list[bool] = []

    def _connect_child(self) -> OperationState:
        raise NotImplementedError

    def _fail(self, error: BaseException, /) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while True:
            try:
                child = self._connect_child()
            except Exception as exc:
                self._fail(exc)
                return
            self._child = child
            tickets = [False, True]
            self._tickets = tickets
            child.start()
            if tickets.pop():
                return  # first: the child is still running; its completion continues the loop

    def _restart(self) -> None:
        if self._tickets.pop():
            return  # first: the starter is still inside child.start() and will loop
        self._run()
