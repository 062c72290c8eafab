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

from typing import Any, Generic, TypeVar, final

from .._core import Env, Sender, Stopped, StopSource, connect, require_sender
from ..schedulers._io_context import IoContext

__all__ = ["sync_wait"]

T = TypeVar("T")

_PENDING: Any = object()


def _nothing() -> None:
    pass


@final
class _SyncWaitReceiver(Generic[T]):
    __slots__ = ("_context", "_env", "done", "error", "stopped", "value")

    def __init__(self, context: IoContext, env: Env) -> None:
        self._context = context
        self._env = env
        self.done = False
        self.stopped = False
        self.value: T = _PENDING
        self.error: BaseException | None = None

    def _complete(self) -> None:
        self.done = True
        if not self._context.in_loop_thread():
            self._context.post(_nothing)  # wake the driving thread

    def set_value(self, value: T, /) -> None:
        self.value = value
        self._complete()

    def set_error(self, error: BaseException, /) -> None:
        self.error = error
        self._complete()

    def set_stopped(self) -> None:
        self.stopped = True
        self._complete()

    def get_env(self) -> Env:
        return self._env

    def is_done(self) -> bool:
        return self.done


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
        receiver: _SyncWaitReceiver[T] = _SyncWaitReceiver(
            loop, Env(source.token, loop.get_scheduler())
        )
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
    if receiver.error is not None:
        raise receiver.error
    if receiver.stopped:
        raise Stopped("sync_wait: the sender completed with set_stopped")
    return receiver.value

