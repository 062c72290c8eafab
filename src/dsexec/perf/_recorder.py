"""``LatencyRecorder``: the state and the hot path of ``PerfMonitor`` (``_monitor.py``).

Counting an operation in (``begin``) and out (``end``), storing its latency in the ring and
its completion in the per-second buckets: what every measured operation runs, so it is apart
from the monitor's public face (argument checks, snapshots, Prometheus text) and compiled in
the compiled build. ``PerfMonitor`` is its subclass; the theory of operation is in
``_monitor.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol, cast

import numpy as np
from mypy_extensions import mypyc_attr
from numpy.typing import NDArray

__all__ = ["LatencyRecorder", "Timer"]


class Timer(Protocol):
    """What ``end`` needs of an ``OperationTimer``: its latency, ``None`` while running."""

    latency: float | None


@mypyc_attr(allow_interpreted_subclasses=True)  # compiled: PerfMonitor is a Python subclass
class LatencyRecorder:
    """Counters, the latency ring and the per-second buckets of a monitor, behind one lock.

    Built with checked arguments (``PerfMonitor`` checks them). Thread-safe.
    """

    __slots__ = (
        "_bucket_count",
        "_bucket_end",
        "_bucket_second",
        "_capacity",
        "_clock",
        "_errors",
        "_history",
        "_in_flight",
        "_index",
        "_latency_sum",
        "_lock",
        "_operations",
        "_rate_window",
        "_ring",
        "_ring_view",
        "_seconds",
        "_started_at",
        "_stopped",
    )

    def __init__(
        self, capacity: int, history: int, rate_window: int, clock: Callable[[], float]
    ) -> None:
        self._capacity = capacity
        self._rate_window = rate_window
        self._clock = clock
        self._lock = threading.Lock()
        self._ring: NDArray[np.float64] = np.zeros(capacity, dtype=np.float64)
        # The same memory as a memoryview: its scalar stores are cheaper than numpy's.
        self._ring_view = cast("memoryview[float]", self._ring.data)
        self._index = 0
        self._operations = 0
        self._errors = 0
        self._stopped = 0
        self._in_flight = 0
        self._latency_sum = 0.0
        # Completions per whole second since the start; slot ``s % len`` holds second ``s``.
        # One slot more than ``history``: the current (open) second's slot is stale.
        self._seconds: NDArray[np.int64] = np.zeros(history + 1, dtype=np.int64)
        self._history = history
        self._started_at = clock()
        self._bucket_second = 0  # the open second, counted in _bucket_count
        self._bucket_count = 0
        self._bucket_end = self._started_at + 1.0

    def begin(self) -> float:
        """Count an operation in flight; returns its start time (the timers' and
        ``measured()``'s hot path; ``start_operation()`` wraps it in a timer)."""
        lock = self._lock
        lock.acquire()  # acquire/release: cheaper than ``with`` on this path
        try:
            self._in_flight += 1
        finally:
            lock.release()
        return self._clock()

    def end(self, start: float, ok: bool | None, timer: Timer | None = None) -> bool:
        """Record the operation started at ``start`` as finished (``ok``) or stopped (``None``).

        With a ``timer``, only if it is not finished yet (decided under the lock): returns
        whether this call recorded it.
        """
        now = self._clock()
        latency = now - start
        latency = latency if latency > 0.0 else 0.0  # a clock that ran backwards
        lock = self._lock
        lock.acquire()
        try:
            if timer is not None:
                if timer.latency is not None:
                    return False
                timer.latency = latency
            self._in_flight -= 1
            if ok is None:
                self._stopped += 1
                return True
            self._operations += 1
            if not ok:
                self._errors += 1
            self._latency_sum += latency
            index = self._index
            self._ring_view[index] = latency
            index += 1
            self._index = 0 if index == self._capacity else index
            if now >= self._bucket_end:
                self.close_buckets(now)
            self._bucket_count += 1
        finally:
            lock.release()
        return True

    def close_buckets(self, now: float) -> None:
        """Under the lock: close the open second and any empty ones up to ``now``'s."""
        second = int(now - self._started_at)
        current = self._bucket_second
        if second <= current:  # rounding at the boundary: move on by one
            second = current + 1
        seconds = self._seconds
        size = len(seconds)
        seconds[current % size] = self._bucket_count
        empty = second - current - 1  # seconds with no completion in between
        if empty >= size:
            seconds[:] = 0
        elif empty > 0:
            first = (current + 1) % size
            end = first + empty
            seconds[first : min(end, size)] = 0
            if end > size:  # wrapped around
                seconds[: end - size] = 0
        self._bucket_second = second
        self._bucket_count = 0
        self._bucket_end = self._started_at + second + 1
