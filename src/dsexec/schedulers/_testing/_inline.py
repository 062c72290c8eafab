"""``InlineScheduler``: the scheduler whose ``schedule()`` completes inline, inside ``start()``
(stdexec's ``inline_scheduler``).

It runs work wherever the operation is started, on the starting thread. On stop: if stop was
already requested when the operation starts, it completes with ``set_stopped`` instead. Loops
of inline completions rely on the algorithms' trampolines (``repeat``, ``retry``) for stack
safety, as everywhere in dsexec.
"""

from __future__ import annotations

from typing import final

from ..._core import OperationState, Receiver, Sender

__all__ = ["InlineScheduler"]


@final
class InlineScheduler:
    """A scheduler that completes ``schedule()`` at once, on the thread that starts it.

    Stateless: every ``InlineScheduler`` is equal to every other.
    """

    __slots__ = ()

    def schedule(self) -> Sender[None]:
        """A sender completing with ``None`` inside ``start()`` (``set_stopped`` if stop was
        already requested)."""
        return _INLINE_SENDER

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InlineScheduler)

    def __hash__(self) -> int:
        return hash(InlineScheduler)

    def __repr__(self) -> str:
        return "InlineScheduler()"


@final
class _InlineSender(Sender[None]):
    __slots__ = ()

    def connect(self, receiver: Receiver[None], /) -> OperationState:
        return _InlineOp(receiver)

    def __repr__(self) -> str:
        return "schedule(InlineScheduler())"


@final
class _InlineOp:
    __slots__ = ("_receiver",)

    def __init__(self, receiver: Receiver[None]) -> None:
        self._receiver = receiver

    def start(self) -> None:
        receiver = self._receiver
        if receiver.get_env().stop_token.stop_requested():
            receiver.set_stopped()
        else:
            receiver.set_value(None)


_INLINE_SENDER: _InlineSender = _InlineSender()
