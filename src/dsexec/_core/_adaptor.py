"""``SenderAdaptor``: the pipeable half of an algorithm (``then(f)``, ``repeat()``).

A module of its own, kept out of the compiled build (``setup.py``): calling an adaptor with
something that is not a sender must raise dsexec's ``TypeError`` naming the algorithm, and a
compiled ``__call__`` would reject the argument itself first, with mypyc's generic message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic

from typing_extensions import TypeVar as DefaultTypeVar

from ._sender import Adaptor, Sender, require_sender

__all__ = ["SenderAdaptor"]

# Defaults to Any so that ``then(lambda x: ...)``, whose input mypy cannot infer, still pipes.
In = DefaultTypeVar("In", default=Any)
Out_co = DefaultTypeVar("Out_co", covariant=True, default=Any)


class SenderAdaptor(Adaptor, Generic[In, Out_co]):
    """The pipeable half of an algorithm: ``then(f)`` returns one, ``sender | then(f)`` applies it.

    Calling it with a sender builds the full algorithm; anything else raises ``TypeError``
    naming the algorithm.
    """

    __slots__ = ("_args", "_factory", "_name")

    def __init__(self, name: str, factory: Callable[..., Sender[Out_co]], *args: object) -> None:
        self._name = name
        self._factory = factory
        self._args = args

    def __call__(self, sender: Sender[In], /) -> Sender[Out_co]:
        require_sender(self._name, sender)
        return self._factory(sender, *self._args)

    def __repr__(self) -> str:
        return f"<SenderAdaptor {self._name}>"
