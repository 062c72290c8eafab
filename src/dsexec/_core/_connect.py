"""P2300's ``connect`` as a function: the checked public face of :meth:`Sender.connect`.

A module of its own because ``_sender`` is compiled in the compiled build, where a function
checks its arguments' annotated types before its body runs: here a wrong argument is still
dsexec's ``TypeError`` naming ``connect``.
"""

from __future__ import annotations

from typing import TypeVar

from ._sender import OperationState, Receiver, Sender

__all__ = ["connect"]

T = TypeVar("T")


def connect(sender: Sender[T], receiver: Receiver[T], /) -> OperationState:
    """Connect ``sender`` to ``receiver`` (P2300 ``connect``); ``start()`` the result.

    ``TypeError`` if ``sender`` is not a :class:`Sender`; errors of the sender's own
    ``connect`` propagate.
    """
    if not isinstance(sender, Sender):
        raise TypeError(f"connect: expected a Sender, got {type(sender).__name__}")
    return sender.connect(receiver)
