"""``start_detached(sender)`` (P2300R7 [exec.start.detached], stdexec's
``stdexec::start_detached``): connect and start, fire and forget.

The operation runs with an empty environment: a never-stop token and no scheduler (give it one
with ``starts_on(sch, sender)``). Until it completes, its operation state is kept alive by a
module-level registry (``_detached``), and it is removed from it on completion, whichever
channel, so nothing leaks.

On error: the error is logged to the ``dsexec`` logger (``logging.getLogger("dsexec").error``
with the exception's traceback) and otherwise dropped. On stop: silent (only a sender that stops
itself can stop, since nothing requests stop). A value is dropped.
"""

from __future__ import annotations

import logging
from typing import Any, Final, final

from .._core import EMPTY_ENV, Env, OperationState, Sender, require_sender

__all__ = ["start_detached"]

_logger = logging.getLogger("dsexec")

_detached: Final[set[_DetachedReceiver]] = set()
"""Receivers of the detached operations still running (each holds its operation state)."""


@final
class _DetachedReceiver:
    __slots__ = ("_sender", "op")

    def __init__(self, sender: Sender[Any]) -> None:
        self._sender = sender
        self.op: OperationState | None = None  # held while the operation runs

    def _release(self) -> None:
        self.op = None
        _detached.discard(self)

    def set_value(self, value: object, /) -> None:
        self._release()

    def set_error(self, error: BaseException, /) -> None:
        _logger.error("start_detached: %r failed: %r", self._sender, error, exc_info=error)
        self._release()

    def set_stopped(self) -> None:
        self._release()

    def get_env(self) -> Env:
        return EMPTY_ENV


def start_detached(sender: Sender[Any], /) -> None:
    """Connect ``sender`` and start it; do not wait for it (errors go to the ``dsexec`` logger).

    ``TypeError`` if ``sender`` is not a Sender; an exception raised by ``connect`` propagates.
    """
    require_sender("start_detached", sender)
    receiver = _DetachedReceiver(sender)
    op = sender.connect(receiver)
    receiver.op = op
    _detached.add(receiver)
    op.start()
