"""Schedulers and senders that complete only when the test says so (stdexec ``test_common``'s
``impulse_scheduler`` and manual senders).

* :class:`ImpulseScheduler`: ``schedule()`` operations queue up when started and complete,
  in FIFO order, when the test calls ``run_one()`` or ``run_all()``. ``len(sch)`` is the number
  pending. A stop request completes a pending operation with ``set_stopped`` at once (on the
  requesting thread) and takes it out of the queue.
* :class:`ManualSender`: a sender whose operations wait until the test completes the most
  recently started one by hand with ``s.set_value(v)``, ``s.set_error(e)`` or
  ``s.set_stopped()``; a stop request completes a waiting operation with ``set_stopped``.

Both are thread-safe (a lock decides whether the test or a stop request completes an
operation), so tests may request stop from another thread.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, Literal, TypeVar, final

from .._core import OperationState, Receiver, Sender, StopCallback

__all__ = ["ImpulseScheduler", "ManualSender"]

T = TypeVar("T")

# Operation states: started but not yet queued / queued / stop arrived before queueing / done.
_State = Literal["new", "pending", "stop_early", "done"]


@final
class ImpulseScheduler:
    """A scheduler whose ``schedule()`` completes only when the test calls ``run_one()``.

    Two impulse schedulers are equal only if they are the same object.
    """

    __slots__ = ("_lock", "_pending")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: OrderedDict[_ImpulseOp, None] = OrderedDict()

    def schedule(self) -> Sender[None]:
        """A sender completing with ``None`` when the test releases it (``run_one()``).

        On stop: completes with ``set_stopped`` at once when stop is requested while it waits
        (or was requested before it started).
        """
        return _ImpulseSender(self)

    def run_one(self) -> bool:
        """Complete the oldest pending operation with ``set_value(None)``, on this thread.

        Returns whether there was one.
        """
        with self._lock:
            if not self._pending:
                return False
            op, _ = self._pending.popitem(last=False)
            op._state = "done"
        op._release_and_complete()
        return True

    def run_all(self) -> int:
        """Complete the operations pending now, oldest first; returns how many.

        Operations started by those completions stay pending (call again to release them), so a
        pipeline that re-schedules forever cannot make this loop forever.
        """
        with self._lock:
            batch = len(self._pending)
        count = 0
        for _ in range(batch):
            if not self.run_one():
                break
            count += 1
        return count

    def __len__(self) -> int:
        """The number of started operations waiting for ``run_one()``."""
        return len(self._pending)

    def __repr__(self) -> str:
        return f"<ImpulseScheduler {len(self._pending)} pending>"


@final
class _ImpulseSender(Sender[None]):
    __slots__ = ("_scheduler",)

    def __init__(self, scheduler: ImpulseScheduler) -> None:
        self._scheduler = scheduler

    def connect(self, receiver: Receiver[None], /) -> OperationState:
        return _ImpulseOp(self._scheduler, receiver)


@final
class _ImpulseOp:
    __slots__ = ("_receiver", "_scheduler", "_state", "_stop_callback")

    def __init__(self, scheduler: ImpulseScheduler, receiver: Receiver[None]) -> None:
        self._scheduler = scheduler
        self._receiver = receiver
        self._state: _State = "new"
        self._stop_callback: StopCallback | None = None

    def start(self) -> None:
        token = self._receiver.get_env().stop_token
        if token.stop_possible():
            # May run the callback at once (stop already requested): it then marks stop_early.
            self._stop_callback = token.register(self._on_stop_requested)
        scheduler = self._scheduler
        with scheduler._lock:
            if self._state == "new":
                self._state = "pending"
                scheduler._pending[self] = None
                return
            self._state = "done"
        self._release_stop_callback()
        self._receiver.set_stopped()

    def _on_stop_requested(self) -> None:
        scheduler = self._scheduler
        with scheduler._lock:
            if self._state == "new":  # start() has not queued us yet; it completes us
                self._state = "stop_early"
                return
            if self._state != "pending":  # run_one() took it: it completes us
                return
            self._state = "done"
            del scheduler._pending[self]
        self._receiver.set_stopped()  # the callback is running: nothing to unregister

    def _release_stop_callback(self) -> None:
        callback = self._stop_callback
        if callback is not None:
            self._stop_callback = None
            callback.unregister()

    def _release_and_complete(self) -> None:
        self._release_stop_callback()
        self._receiver.set_value(None)


@final
class ManualSender(Sender[T], Generic[T]):
    """A sender the test completes by hand: ``s.set_value(v)`` completes the most recently
    started operation still waiting (likewise ``set_error``, ``set_stopped``).

    ``started`` counts operations started; ``len(s)`` is the number waiting. A stop request
    completes a waiting operation with ``set_stopped`` at once.
    """

    __slots__ = ("_lock", "_waiting", "started")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: OrderedDict[_ManualOp[T], None] = OrderedDict()
        self.started = 0

    def connect(self, receiver: Receiver[T], /) -> OperationState:
        return _ManualOp(self, receiver)

    def _take_last(self, what: str) -> _ManualOp[T]:
        with self._lock:
            if not self._waiting:
                raise RuntimeError(f"ManualSender.{what}: no started operation is waiting")
            op, _ = self._waiting.popitem(last=True)
            op._state = "done"
        op._release_stop_callback()
        return op

    def set_value(self, value: T, /) -> None:
        """Complete the most recently started waiting operation with ``value``."""
        self._take_last("set_value")._receiver.set_value(value)

    def set_error(self, error: BaseException, /) -> None:
        """Complete the most recently started waiting operation with ``error``."""
        self._take_last("set_error")._receiver.set_error(error)

    def set_stopped(self) -> None:
        """Complete the most recently started waiting operation with ``set_stopped``."""
        self._take_last("set_stopped")._receiver.set_stopped()

    def __len__(self) -> int:
        return len(self._waiting)

    def __repr__(self) -> str:
        return f"<ManualSender {self.started} started, {len(self._waiting)} waiting>"


@final
class _ManualOp(Generic[T]):
    __slots__ = ("_receiver", "_sender", "_state", "_stop_callback")

    def __init__(self, sender: ManualSender[T], receiver: Receiver[T]) -> None:
        self._sender = sender
        self._receiver = receiver
        self._state: _State = "new"
        self._stop_callback: StopCallback | None = None

    def start(self) -> None:
        sender = self._sender
        with sender._lock:
            sender.started += 1
        token = self._receiver.get_env().stop_token
        if token.stop_possible():
            self._stop_callback = token.register(self._on_stop_requested)
        with sender._lock:
            if self._state == "new":
                self._state = "pending"
                sender._waiting[self] = None
                return
            self._state = "done"
        self._release_stop_callback()
        self._receiver.set_stopped()

    def _on_stop_requested(self) -> None:
        sender = self._sender
        with sender._lock:
            if self._state == "new":
                self._state = "stop_early"
                return
            if self._state != "pending":
                return
            self._state = "done"
            del sender._waiting[self]
        self._receiver.set_stopped()

    def _release_stop_callback(self) -> None:
        callback = self._stop_callback
        if callback is not None:
            self._stop_callback = None
            callback.unregister()
