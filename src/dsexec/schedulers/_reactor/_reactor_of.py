"""``reactor_of``: the reactor behind a scheduler, for the senders that drive it directly.

Apart from ``IoScheduler`` so that the compiled build compiles it: every socket sender and
``write_response`` asks it once per sender built.
"""

from __future__ import annotations

from ._interface import Reactor
from ._scheduler import IoScheduler

__all__ = ["reactor_of"]


def reactor_of(scheduler: object, algorithm: str) -> Reactor:
    """The reactor behind ``scheduler``; ``TypeError`` naming ``algorithm`` if it has none
    (mypy rejects those, but an untyped caller may pass anything)."""
    if isinstance(scheduler, IoScheduler):
        return scheduler.reactor
    raise TypeError(
        f"{algorithm}: needs a scheduler with an I/O reactor (IoContext, VirtualTimeScheduler "
        f"or AnyioScheduler), got {type(scheduler).__name__}"
    )
