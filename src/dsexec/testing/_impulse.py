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
from typing import Any, Generic, Literal, TypeVar, final

from .._core import BasicSender, OperationState, Receiver, Sender, StopCallback

__all__ = ["ImpulseScheduler", "ManualSender"]

T = TypeVar("T")

# Operation states: started but not yet queued / queued / stop arrived before queueing / done.
_State = Literal["new", "pending", "stop_early", "done"]


@final
class _Waiting:
    """The operations waiting for the test, in start order, and the lock that decides whether
    the test or a stop request completes each one (a private class: plain names)."""

    __slots__ = ("lock", "ops", "started")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ops: OrderedDict[_HeldOp, None] = OrderedDict()
        self.started = 0

    def take(self, oldest: bool) -> _HeldOp | None:
        """The oldest (or newest) waiting operation, now owned by the caller; ``None`` if
        none waits."""
        with self.lock:
            if not self.ops:
                return None
            op, _ = self.ops.popitem(last=not oldest)
            op.state = "done"
        op.release_stop_callback()
        return op


@final
class _HeldOp:
    """An operation that waits (in its ``_Waiting``) until the test or a stop completes it."""

    __slots__ = ("_stop_callback", "_waiting", "receiver", "state")

    def __init__(self, _: None, waiting: _Waiting, receiver: Receiver[Any]) -> None:
        self._waiting = waiting
        self.receiver = receiver
        self.state: _State = "new"
        self._stop_callback: StopCallback | None = None

    def start(self) -> None:
        waiting = self._waiting
        with waiting.lock:
            waiting.started += 1
        token = self.receiver.get_env().stop_token
        if token.stop_possible():
            # May run the callback at once (stop already requested): it then marks stop_early.
            self._stop_callback = token.register(self._on_stop_requested)
        with waiting.lock:
            if self.state == "new":
                self.state = "pending"
                waiting.ops[self] = None
                return
            self.state = "done"
        self.release_stop_callback()
        self.receiver.set_stopped()

    def _on_stop_requested(self) -> None:
        waiting = self._waiting
        with waiting.lock:
            if self.state == "new":  # start() has not queued us yet; it completes us
                self.state = "stop_early"
                return
            if self.state != "pending":  # the test took it: it completes us
                return
            self.state = "done"
            del waiting.ops[self]
        self.receiver.set_stopped()  # the callback is running: nothing to unregister

    def release_stop_callback(self) -> None:
        """Withdraw the stop callback (before the test completes the operation)."""
        callback = self._stop_callback
        if callback is not None:
            self._stop_callback = None
            callback.unregister()


# ``data`` is the ``_Waiting`` its operations join.
_HeldSender = BasicSender.variant(
    "schedule", operation=_HeldOp, describe=lambda _: "<ImpulseScheduler>"
)


@final
class ImpulseScheduler:
    """A scheduler whose ``schedule()`` completes only when the test calls ``run_one()``.

    Two impulse schedulers are equal only if they are the same object.
    """

    __slots__ = ("_waiting",)

    def __init__(self) -> None:
        self._waiting = _Waiting()

    def schedule(self) -> Sender[None]:
        """A sender completing with ``None`` when the test releases it (``run_one()``).

        On stop: completes with ``set_stopped`` at once when stop is requested while it waits
        (or was requested before it started).
        """
        return _HeldSender(None, self._waiting)

    def run_one(self) -> bool:
        """Complete the oldest pending operation with ``set_value(None)``, on this thread.

        Returns whether there was one.
        """
        op = self._waiting.take(oldest=True)
        if op is None:
            return False
        op.receiver.set_value(None)
        return True

    def run_all(self) -> int:
        """Complete the operations pending now, oldest first; returns how many.

        Operations started by those completions stay pending (call again to release them), so a
        pipeline that re-schedules forever cannot make this loop forever.
        """
        with self._waiting.lock:
            batch = len(self._waiting.ops)
        count = 0
        for _ in range(batch):
            if not self.run_one():
                break
            count += 1
        return count

    def __len__(self) -> int:
        """The number of started operations waiting for ``run_one()``."""
        return len(self._waiting.ops)

    def __repr__(self) -> str:
        return f"<ImpulseScheduler {len(self)} pending>"


@final
class ManualSender(Sender[T], Generic[T]):
    """A sender the test completes by hand: ``s.set_value(v)`` completes the most recently
    started operation still waiting (likewise ``set_error``, ``set_stopped``).

    ``started`` counts operations started; ``len(s)`` is the number waiting. A stop request
    completes a waiting operation with ``set_stopped`` at once.
    """

    __slots__ = ("_waiting",)

    def __init__(self) -> None:
        self._waiting = _Waiting()

    @property
    def started(self) -> int:
        """How many operations were started."""
        return self._waiting.started

    def connect(self, receiver: Receiver[T], /) -> OperationState:
        return _HeldOp(None, self._waiting, receiver)

    def _take_last(self, what: str) -> Receiver[Any]:
        op = self._waiting.take(oldest=False)
        if op is None:
            raise RuntimeError(f"ManualSender.{what}: no started operation is waiting")
        return op.receiver

    def set_value(self, value: T, /) -> None:
        """Complete the most recently started waiting operation with ``value``."""
        self._take_last("set_value").set_value(value)

    def set_error(self, error: BaseException, /) -> None:
        """Complete the most recently started waiting operation with ``error``."""
        self._take_last("set_error").set_error(error)

    def set_stopped(self) -> None:
        """Complete the most recently started waiting operation with ``set_stopped``."""
        self._take_last("set_stopped").set_stopped()

    def __len__(self) -> int:
        return len(self._waiting.ops)

    def __repr__(self) -> str:
        return f"<ManualSender {self.started} started, {len(self)} waiting>"
