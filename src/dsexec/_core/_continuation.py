"""The second step of ``let_*`` -- call the function, connect the sender it returns -- and
:class:`LetValueSender`, the algorithm a sender's ``fuse`` recognises.

Declared once here because two kinds of operation state take that step: ``let_*``'s own
(``senders/_let.py``) and every reactor operation fused with ``let_value`` (``Sender.fuse``;
``schedulers/_reactor/_operation.py``). Both keep the same semantics: the function's exception,
or a result that is not a sender, goes down the error channel; an exception from connecting too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, NoReturn

from mypy_extensions import mypyc_attr

from ._algorithm import FunctionSender, OperationFactory
from ._sender import OperationState, Receiver, Sender

__all__ = ["LetValueSender", "connect_continuation", "not_a_sender"]


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


@mypyc_attr(allow_interpreted_subclasses=True)  # for variant()
class LetValueSender(FunctionSender):
    """The senders of ``let_value(fn)`` (``data``: ``fn``), which a sender's ``fuse``
    recognises by this class.

    ``connect`` offers the upstream to fuse (``Sender.fuse``), and otherwise builds
    ``operation`` (``let_value``'s own, set by ``senders/_let.py``). Restartable when the
    upstream is.
    """

    __slots__ = ()

    name: ClassVar[str] = "let_value"
    operation: ClassVar[OperationFactory]
    restartable_with_upstream: ClassVar[bool] = True

    def connect(self, receiver: Receiver[Any], /) -> OperationState:
        upstream = self.upstream
        assert upstream is not None
        fused = upstream.fuse(self, receiver)
        if fused is not None:
            return fused
        return self.operation(upstream, self.data, receiver)
