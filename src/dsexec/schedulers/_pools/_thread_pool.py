"""``ThreadPool``: a scheduler for blocking work (P2300's ``static_thread_pool``, asio's
``thread_pool``).

Theory of operation
-------------------
``ThreadPool(n)`` starts ``n`` worker threads (``dsexec-pool-N``, not daemons) that take
operations from one FIFO ``queue.SimpleQueue``. ``schedule()`` returns a ``Sender[None]`` whose
operation, once started, is put on that queue; the worker that takes it completes it with
``set_value(None)`` on that worker thread, and whatever the receiver does next (``then(f)``, a
blocking call) runs there too.

Stop: an operation whose stop token can be stopped registers a stop callback when it starts. A
stop request while it is queued completes it with ``set_stopped`` at once, on the requesting
thread, and leaves a tombstone in the queue. Who completes is settled by the stop source: the
worker first ``unregister()``s the callback, which returns only once the callback is not
running and never will, then checks whether the callback got there first. Operations with a
never-stop token skip all of this.

Shutdown: ``shutdown()`` stops accepting work -- an operation started afterwards completes
with ``set_error(RuntimeError("ThreadPool is shut down"))`` -- and completes the operations
still queued with ``set_stopped`` (work already running finishes). One sentinel per worker
follows them in the queue; a lock makes "check the flag, enqueue" atomic against "set the flag,
enqueue sentinels", so nothing lands behind the sentinels. ``shutdown(wait=True)`` then joins
the workers. A pool that is never shut down is shut down at interpreter exit (without
waiting), before Python joins the non-daemon workers, and a pool that is garbage-collected
releases its workers (they hold the queue, not the pool), so a forgotten pool cannot hang exit.

Exceptions escaping a receiver on a worker are logged to the ``dsexec`` logger; the worker
carries on.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import weakref
from typing import Final, final

from ..._core import BasicSender, ClosingContext, Receiver, Sender, StopCallback

__all__ = ["ThreadPool"]

_logger = logging.getLogger("dsexec")

_thread_numbers = itertools.count()
_live_pools: weakref.WeakSet[ThreadPool] = weakref.WeakSet()
_atexit_lock = threading.Lock()
_atexit_registered = False

_SHUT_DOWN_MESSAGE: Final = "ThreadPool is shut down"


def _shut_down_live_pools() -> None:
    for pool in list(_live_pools):
        pool.shutdown(wait=False)


def _register_atexit() -> None:
    # threading._register_atexit runs before the interpreter joins non-daemon threads
    # (concurrent.futures relies on it); plain atexit would run too late.
    global _atexit_registered
    with _atexit_lock:
        if _atexit_registered:
            return
        register = getattr(threading, "_register_atexit", None)
        if register is not None:
            try:
                register(_shut_down_live_pools)
            except RuntimeError:  # the interpreter is already shutting down
                return
        _atexit_registered = True


@final
@final
class _WorkQueue:
    """The pool's queue and its shut-down flag, shared with its operations (plain names: a
    private class's members used by its neighbours)."""

    __slots__ = ("lock", "queue", "shut_down")

    def __init__(self) -> None:
        self.queue: queue.SimpleQueue[_PoolOp | None] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.shut_down = False

    def submit(self, op: _PoolOp) -> bool:
        """Queue ``op`` for a worker; ``False`` once the pool is shut down."""
        with self.lock:
            if self.shut_down:
                return False
            self.queue.put(op)
            return True


class ThreadPool(ClosingContext):
    """A scheduler running work on ``n`` worker threads, for blocking calls.

    ``pool.schedule()`` completes on a worker thread; use it with ``starts_on(pool, ...)`` or
    ``continues_on(pool)``. Use as a context manager (``shutdown()`` on exit), or call
    ``shutdown()``. Two pools are equal only if they are the same pool.
    """

    __slots__ = ("__weakref__", "_finalizer", "_threads", "_work")

    def __init__(self, n: int) -> None:
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"ThreadPool: expected an int number of threads, got {n!r}")
        if n < 1:
            raise ValueError(f"ThreadPool: needs at least one thread, got {n}")
        self._work = _WorkQueue()
        self._threads = [
            threading.Thread(
                target=_work,
                args=(self._work.queue,),
                name=f"dsexec-pool-{next(_thread_numbers)}",
                daemon=False,
            )
            for _ in range(n)
        ]
        # Puts one sentinel per worker, once: on shutdown(), or when the pool is collected.
        self._finalizer = weakref.finalize(self, _release_workers, self._work.queue, n)
        self._finalizer.atexit = False
        _register_atexit()
        _live_pools.add(self)
        for thread in self._threads:
            thread.start()

    @property
    def size(self) -> int:
        """The number of worker threads."""
        return len(self._threads)

    @property
    def is_shut_down(self) -> bool:
        """Whether ``shutdown()`` was called."""
        return self._work.shut_down

    def schedule(self) -> Sender[None]:
        """A sender completing with ``None`` on one of the pool's threads.

        On stop: a stop request while the operation is queued completes it with
        ``set_stopped`` at once. After ``shutdown()``, it completes with
        ``set_error(RuntimeError("ThreadPool is shut down"))``.
        """
        return _PoolSender(None, self._work)

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting work, complete queued operations with ``set_stopped``, and (with
        ``wait``) join the threads; work already running finishes first. Idempotent.

        Called from one of the pool's own threads, it does not wait for that thread.
        """
        work = self._work
        with work.lock:
            first = not work.shut_down
            if first:
                work.shut_down = True
                self._finalizer()
        if first:
            _live_pools.discard(self)
        if wait:
            me = threading.current_thread()
            for thread in self._threads:
                if thread is not me:
                    thread.join()

    def close(self) -> None:
        """``shutdown(wait=True)``, as the context manager does on exit."""
        self.shutdown(wait=True)

    def __repr__(self) -> str:
        state = "shut down" if self._work.shut_down else "running"
        return f"<ThreadPool {len(self._threads)} threads, {state}>"


def _release_workers(work: queue.SimpleQueue[_PoolOp | None], n: int) -> None:
    for _ in range(n):
        work.put(None)


def _work(work: queue.SimpleQueue[_PoolOp | None]) -> None:
    get = work.get
    while True:
        op = get()
        if op is None:
            return
        try:
            op.run()
        except Exception:
            _logger.exception("a receiver raised on ThreadPool thread; the worker carries on")
        del op  # do not keep the last operation alive while waiting


@final
class _PoolOp:
    __slots__ = ("_receiver", "_stop_callback", "_stopped", "_work")

    def __init__(self, _: None, work: _WorkQueue, receiver: Receiver[None]) -> None:
        self._work = work
        self._receiver = receiver
        self._stop_callback: StopCallback | None = None
        self._stopped = False  # set by the stop callback when it completed the operation

    def start(self) -> None:
        token = self._receiver.get_env().stop_token
        if token.stop_possible():
            if token.stop_requested():
                self._receiver.set_stopped()
                return
            self._stop_callback = token.register(self._on_stop_requested)
            if self._stopped:  # stop raced with registration; the callback completed us
                return
        if not self._work.submit(self) and self._release():
            self._receiver.set_error(RuntimeError(_SHUT_DOWN_MESSAGE))

    def _release(self) -> bool:
        """Withdraw the stop callback; whether this thread still owns the completion."""
        callback = self._stop_callback
        if callback is not None:
            self._stop_callback = None
            callback.unregister()  # waits while the callback runs on another thread
            return not self._stopped
        return True

    def _on_stop_requested(self) -> None:
        self._stopped = True
        self._receiver.set_stopped()

    def run(self) -> None:
        """Complete on this worker thread (unless stopped while queued)."""
        if self._stop_callback is not None and not self._release():
            return  # a tombstone: stopped while queued
        receiver = self._receiver
        if self._work.shut_down or receiver.get_env().stop_token.stop_requested():
            receiver.set_stopped()
        else:
            receiver.set_value(None)


# ``data`` is the pool's work queue.
_PoolSender = BasicSender.variant(
    "schedule", operation=_PoolOp, describe=lambda _: "<ThreadPool>"
)
