"""The second step of ``let_*``: call the function, connect the sender it returns.

Declared once here because two operation states take that step: ``let_*``'s own
(``senders/_let.py``) and any operation a sender fuses with ``let_value`` (``Sender.fuse``;
``async_read`` does). Both must keep the same semantics: the function's exception, or a result
that is not a sender, goes down the error channel; an exception from connecting too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from ._sender import OperationState, Receiver, Sender

__all__ = ["connect_continuation", "not_a_sender"]


def not_a_sender(name: str, sender: object) -> NoReturn:
    """Raise the ``TypeError`` of a ``let_*`` function that returned ``sender``, no Sender."""
    raise TypeError(
        f"{name}: the function must return a Sender, got {type(sender).__name__} ({sender!r:.60})"
    )


def connect_continuation(
    name: str, fn: Callable[..., Any], args: tuple[Any, ...], receiver: Receiver[Any]
) -> OperationState | None:
    """Call ``fn(*args)`` and connect the sender it returns to ``receiver``
    (``Sender.connect_or_complete``).

    Returns the operation state to keep and start, or ``None`` when ``receiver`` is complete
    already: the sender completed at once, or ``fn`` raised, returned something that is not a
    sender (``TypeError`` naming the algorithm ``name``) or connecting failed, each of which
    went to ``receiver.set_error``. The caller stores the operation state *before* starting it:
    a completion inside ``start()`` may restart the caller, which then drops it.
    """
    try:
        sender = fn(*args)
        if not isinstance(sender, Sender):
            not_a_sender(name, sender)
    except Exception as exc:
        receiver.set_error(exc)
        return None
    return sender.connect_or_complete(receiver)
