"""``sync_wait`` [exec.sync.wait]: run a sender to completion on the calling thread.

It connects the sender to a receiver whose environment offers a fresh stop token and the
scheduler of the context being driven, starts it on that context, and drives the context until
the operation completes. With ``context=None`` a private ``IoContext`` is created (and closed
afterwards), so timers (``timeout``, ``schedule_after``) work out of the box.

On completion: the value is returned, the error raised (the original exception object, with its
traceback), and a stop raises :class:`~dsexec.Stopped`. If the wait is interrupted
(``KeyboardInterrupt`` or another ``BaseException`` escaping the loop), stop is requested on the
operation, the context is driven until it completes, and the interruption propagates.
"""

from __future__ import annotations

from typing import TypeVar, final

from .._core import Env, Sender, StopSource, StoringReceiver, connect, require_sender
from ._backends._io_context import IoContext
from ._reactor import on_loop

__all__ = ["sync_wait"]

T = TypeVar("T")


def _nothing() -> None:
    pass


@final
class _SyncWaitReceiver(StoringReceiver):
    __slots__ = ("_context",)

    def __init__(self, context: IoContext, env: Env) -> None:
        super().__init__(env)
        self._context = context

    def completed(self) -> None:
        if not on_loop(self._context):
            self._context.post(_nothing)  # wake the driving thread


def sync_wait(sender: Sender[T], /, *, context: IoContext | None = None) -> T:
    """Drive ``sender`` to completion on this thread; return its value.

    Raises the sender's error, or :class:`~dsexec.Stopped` if it completed with
    ``set_stopped``. ``context`` is an ``IoContext`` or ``VirtualTimeScheduler`` to drive
    (it must not be running on another thread); by default a private ``IoContext`` is used.
    """
    require_sender("sync_wait", sender)
    own_context = context is None
    loop = IoContext() if context is None else context
    try:
        source = StopSource()
        receiver = _SyncWaitReceiver(loop, Env(source.token, loop.get_scheduler()))
        op = connect(sender, receiver)
        loop.post(op.start)
        try:
            loop.run_until(receiver.is_done)
        except BaseException:
            source.request_stop()
            loop.run_until(receiver.is_done)
            raise
    finally:
        if own_context:
            loop.close()
    value: T = receiver.outcome("sync_wait")
    return value

