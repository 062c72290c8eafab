"""The per-operation trampoline of the looping algorithms (``repeat*``, ``retry``).

Theory of operation
-------------------
A looping algorithm starts its child, and when the child completes it may start the next round.
If the child completes *inline* inside ``start()`` and the completion simply started the next
round, every iteration would nest two frames deeper: ``repeat_n`` of ``just`` would hit
``RecursionError`` after a few hundred iterations. stdexec avoids this with its
``trampoline_scheduler``; :class:`RestartLoop` does the same job per operation, without
thread-local state (so a nested ``sync_wait`` inside an iteration cannot deadlock on a queue that
an outer frame owns):

* Each round has two parties that may race: the *starter* (the frame in ``_restart()`` that called
  ``child.start()``, once that returns) and the *completer* (the child's completion asking for
  another round with ``_restart()``; a completion that ends the loop does not take part). Before
  ``child.start()`` the starter puts a ticket for the operation in the module-wide ``_ROUNDS``
  dict; each party then pops it (``_ROUNDS.pop(op, False)``). A single ``dict.pop`` is atomic
  (under the GIL, and per-object locked on free-threaded builds), so exactly one party gets the
  ticket ("first") and the other gets nothing ("second").
* Whoever comes second runs the next round. If the child completed inline (or on another thread
  before ``start()`` returned), the completer is first and simply returns, the stack unwinds, and
  the starter, second, loops. If the child completes later, the starter was first and has
  returned; the completer, second, runs the next round from its own frame.
* A ticket lives only while a ``child.start()`` call is on the stack, so an operation waiting
  for its child holds no ticket at all, and ``_ROUNDS`` holds one entry per frame currently
  inside ``child.start()``.

Exactly one frame owns the loop at any time, whatever thread the children complete on, and a
million inline rounds use constant stack and memory. (A ``threading.Lock`` would do the same job
at several times the cost.)

Restartable children
--------------------
Connecting the child afresh every round costs an operation state per round. When the child's
sender is restartable (``Sender.restartable``: ``just``, ``schedule``, the timers, ``async_read``
without a pool, and ``then``/``let_*``-style adaptors over those), a loop constructed with
``reuse=True`` keeps its child and restarts it instead: a keep-alive connection's ``async_read |
let_value(...) | repeat_until(...)`` runs on one set of operation states for its whole life.
The rule that makes a restart safe is the one every operation keeps anyway: it does not touch
its state after completing, so the next round may begin inside (or concurrently with) the
previous round's completion call.

Owned by such a loop, a child may keep something from round to round that a one-shot operation
must release before completing (``async_read`` keeps its stop registration). The loop says so
through the :class:`~dsexec.RestartableOperation` protocol: ``enter_loop()`` right after
connecting the child, ``retire()`` when the loop ends -- by any channel -- from
:meth:`RestartLoop._drop_child`.
"""

from __future__ import annotations

from typing import Any, Final

from mypy_extensions import mypyc_attr

from .._core import EMPTY_ENV, Env, OperationState, Receiver, RestartableOperation

__all__ = ["RestartLoop"]

# One ticket per operation whose starter is inside child.start(); see the module comment.
_ROUNDS: Final[dict[object, bool]] = {}


@mypyc_attr(allow_interpreted_subclasses=True)
class RestartLoop:
    """Base of operation states that start a child operation round after round, stack-safely.

    Subclasses implement ``_connect_child()`` (connect the next child, usually to ``self``),
    begin with ``_start_loop(env)`` (the downstream ``receiver``'s environment), call
    ``_restart()`` from a child completion that wants another round, and ``_drop_child()`` from
    one that ends the loop. An exception connecting a child goes to ``receiver.set_error``
    (``_fail``), a stop ends the loop with ``receiver.set_stopped()`` (``_stopped``).
    With ``reuse`` (a restartable child sender) the child is connected once and restarted every
    round; otherwise each round connects a new one.
    """

    __slots__ = ("_child", "_env", "_receiver", "_reuse")

    def __init__(self, reuse: bool, receiver: Receiver[Any]) -> None:
        self._child: OperationState | None = None
        self._reuse = reuse
        self._receiver = receiver
        self._env = EMPTY_ENV  # until _start_loop: the receiver's, read once for every round

    def _connect_child(self) -> OperationState:
        raise NotImplementedError

    def _fail(self, error: BaseException, /) -> None:
        self._receiver.set_error(error)

    def _stopped(self) -> None:
        self._receiver.set_stopped()

    def _start_loop(self, env: Env) -> None:
        """Run the first round under ``env``'s stop source; if stop was requested already,
        complete with ``_stopped()`` instead."""
        self._env = env
        self._restart()  # no round has begun, so no ticket: this runs the first one

    def _restart(self) -> None:
        """Run another round -- unless stop was requested meanwhile: then end with
        ``_stopped()`` (a round that ignores stop, such as ``just``, would loop for ever).

        The loop itself is here too (not in a method of its own) because a completion that
        arrives later calls this once per round: one Python call fewer per round of a
        keep-alive connection."""
        source = self._env.stop_token.source
        if source is not None and source.stopped:
            self._drop_child()
            self._stopped()
            return
        if not self._reuse:
            self._child = None  # drop the finished round's operation state
        rounds = _ROUNDS
        if rounds.pop(self, False):
            return  # first: the starter is still inside child.start() and will loop
        while True:
            child = self._child
            if child is None:
                try:
                    child = self._connect_child()
                except Exception as exc:
                    self._fail(exc)
                    return
                self._child = child
                if self._reuse and isinstance(child, RestartableOperation):
                    child.enter_loop()  # it may keep things between rounds until retired
            rounds[self] = True
            try:
                child.start()
            except BaseException:  # start() must not raise; if it does, leave no ticket
                rounds.pop(self, None)
                raise
            if rounds.pop(self, False):
                return  # first: the child is still running; its completion continues the loop

    def _drop_child(self) -> None:
        """The loop is over: let the child go, and retire a restarted one so it releases what
        it kept from round to round."""
        child = self._child
        self._child = None
        if self._reuse and isinstance(child, RestartableOperation):
            child.retire()

    def get_env(self) -> Env:
        """The children's environment: the receiver's, read once when the loop started (it
        is the receiver's of every round; before the start, asked afresh)."""
        env = self._env
        if env is EMPTY_ENV:
            return self._receiver.get_env()
        return env
