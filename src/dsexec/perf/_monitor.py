"""``PerfMonitor``: counts, in-flight operations, rate and latency percentiles, in bounded memory.

Theory of operation
-------------------
* **Timers.** ``start_operation()`` counts the operation in flight and returns an
  :class:`OperationTimer` holding its start time; ``finish(ok)`` records it once (later calls
  are no-ops and return ``False``), ``finish_stopped()`` records a cancelled operation. The
  context-manager form finishes on exit: ok without an exception, an error for an
  ``Exception``, stopped for ``dsexec.Stopped`` and for what is not an ``Exception``
  (``KeyboardInterrupt``, asyncio and trio cancellation). The exception is never swallowed.
* **Latency ring.** Every finished operation (ok or not) stores its latency in a preallocated
  numpy ``float64`` ring of ``capacity`` samples, overwriting the oldest: percentiles and the
  max describe the last ``capacity`` operations, and memory does not grow however long the
  monitor runs. The store goes through a ``memoryview`` of the array (a few times cheaper than
  numpy's ``__setitem__``); numpy only runs in ``snapshot()``, on a copy taken under the lock.
* **Per-second buckets.** Completions are also counted per whole second since the monitor
  started, in a ring of ``history`` seconds: ``rates()`` returns that series for charts and
  ``snapshot().rate`` averages its last ``rate_window`` complete seconds. A bucket is closed
  lazily, by the first finish (or query) after its second is over, so an idle monitor costs
  nothing; seconds without completions are zeroed when the next one is closed.
* **Counters.** ``operations`` counts finished operations (errors included: they have a
  latency too), ``errors`` the failed ones, ``stopped`` the cancelled ones (not in
  ``operations``, no latency sample); ``in_flight`` is started minus finished minus stopped.
  ``latency_sum`` adds up every latency since the start (a Prometheus summary's ``_sum``).
* **Threads.** One ``threading.Lock`` guards the counters, the ring and the buckets, so timers
  may be started and finished on any thread (a ``ThreadPool``'s workers, a reactor thread) and
  ``snapshot()`` called from another; the clock is read outside the lock. A finished timer is
  inert, and whether it is finished is decided under the lock, so racing ``finish`` calls on
  one timer still count it once.
* **Clock.** ``clock`` (default ``time.perf_counter``: monotonic, and fine-grained also on
  Windows) is injectable, so tests drive time by hand. A clock that runs backwards gives a
  latency of 0, never a negative one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, final, overload

import attrs
import numpy as np
from numpy.typing import NDArray

from .._core import MISSING, Adaptor, PreservingAdaptor, Sender, Stopped, require_sender
from ._measured import MeasuredSender, TimedSender
from ._prometheus import prometheus_exposition
from ._recorder import LatencyRecorder

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["OperationTimer", "PerfMonitor", "PerfSnapshot"]

T = TypeVar("T")

DEFAULT_CAPACITY: Final = 16384
DEFAULT_HISTORY: Final = 300
DEFAULT_RATE_WINDOW: Final = 10
_MAX_CAPACITY: Final = 1 << 26  # 512 MiB of samples: past that it is a mistake, not a wish
_MAX_HISTORY: Final = 7 * 86_400
_NAN: Final = math.nan


def _count(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"PerfSnapshot: {attribute.name} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"PerfSnapshot: {attribute.name} must be >= 0, got {value!r}")


def _amount(_instance: object, attribute: attrs.Attribute[float], value: object) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"PerfSnapshot: {attribute.name} must be a float, got {value!r}")
    if not value >= 0:  # NaN fails this too
        raise ValueError(f"PerfSnapshot: {attribute.name} must be >= 0, got {value!r}")


def _latency(_instance: object, attribute: attrs.Attribute[float], value: object) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"PerfSnapshot: {attribute.name} must be a float, got {value!r}")
    if value < 0 or value == math.inf:
        raise ValueError(
            f"PerfSnapshot: {attribute.name} must be seconds >= 0 (NaN: no samples), got {value!r}"
        )


@final
@attrs.frozen(kw_only=True)
class PerfSnapshot:
    """What a :class:`PerfMonitor` measured, at one moment (``monitor.snapshot()``).

    Latencies are in seconds, over the last ``samples`` finished operations (at most the
    monitor's ``capacity``); they are NaN while no operation has finished.
    """

    operations: int = attrs.field(validator=_count)
    """Operations finished since the start, successes and errors (not stopped ones)."""
    errors: int = attrs.field(validator=_count)
    """Operations finished with ``ok=False`` (or by an exception), since the start."""
    stopped: int = attrs.field(validator=_count)
    """Operations cancelled (``finish_stopped()``, a stopped pipeline), since the start."""
    in_flight: int = attrs.field(validator=_count)
    """Operations started and not yet finished or stopped."""
    rate: float = attrs.field(validator=_amount)
    """Operations finished per second, over the last ``rate_window`` complete seconds."""
    p50: float = attrs.field(validator=_latency)
    """Median latency."""
    p90: float = attrs.field(validator=_latency)
    """90th percentile latency."""
    p99: float = attrs.field(validator=_latency)
    """99th percentile latency."""
    max: float = attrs.field(validator=_latency)
    """Largest latency among the samples."""
    samples: int = attrs.field(validator=_count)
    """How many latencies the percentiles are computed from."""
    latency_sum: float = attrs.field(validator=_amount)
    """Sum of the latencies of all ``operations`` since the start (mean: ``sum / operations``)."""
    uptime: float = attrs.field(validator=_amount)
    """Seconds since the monitor was created."""


@final
class OperationTimer(Adaptor):
    """One measured operation, from ``PerfMonitor.start_operation()`` until it is finished.

    ``finish(ok=True)`` records it (``ok=False``: an error), ``finish_stopped()`` records it as
    cancelled. Only the first of these counts: later calls do nothing and return ``False``. As a
    context manager it finishes on exit, if not finished already: ok, or an error when an
    ``Exception`` escapes, or stopped for ``dsexec.Stopped`` and non-``Exception`` exits such as
    cancellation. As a pipeline step, ``sender | timer`` finishes it when ``sender`` completes:
    ok on a value, an error on an error, stopped on stopped; the completion (and, upstream, the
    environment with its stop requests) passes through unchanged. A timer never finished stays
    in flight.
    """

    __slots__ = ("_monitor", "_start", "latency")

    latency: float | None
    """Seconds from start to finish (or stop), once recorded; ``None`` while running. The
    monitor sets it under its lock, which is how a second ``finish`` knows it is late."""

    def __init__(self, monitor: PerfMonitor, start: float, /) -> None:
        self._monitor = monitor
        self._start = start
        self.latency: float | None = None

    @property
    def finished(self) -> bool:
        """Whether the operation was recorded (finished or stopped)."""
        return self.latency is not None

    @property
    def elapsed(self) -> float:
        """Seconds since the start; once finished, the latency that was recorded."""
        latency = self.latency
        if latency is not None:
            return latency
        return max(0.0, self._monitor.clock() - self._start)

    def finish(self, ok: bool = True) -> bool:
        """Record the operation as finished (``ok=False``: failed); ``False`` if it already was."""
        if self.latency is not None:
            return False
        return self._monitor.end(self._start, ok, self)

    def finish_stopped(self) -> bool:
        """Record the operation as cancelled (no latency sample); ``False`` if already finished."""
        if self.latency is not None:
            return False
        return self._monitor.end(self._start, None, self)

    def __call__(self, sender: Sender[T], /) -> Sender[T]:
        """``sender | timer``: ``sender``, finishing this timer when it completes (see the class
        documentation). ``TypeError`` if ``sender`` is not a sender."""
        require_sender("OperationTimer", sender)
        return TimedSender(sender, (self._monitor, self._start, self))

    def __enter__(self) -> OperationTimer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> Literal[False]:
        if self.latency is None:
            if exc_type is None:
                ok: bool | None = True
            elif issubclass(exc_type, Exception) and not issubclass(exc_type, Stopped):
                ok = False
            else:
                ok = None  # cancellation, KeyboardInterrupt, ...: stopped
            self._monitor.end(self._start, ok, self)
        return False

    def __repr__(self) -> str:
        state = "running" if self.latency is None else f"finished in {self.latency:.6f} s"
        return f"<OperationTimer {state}>"


def _check_int(name: str, value: object, minimum: int, maximum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"PerfMonitor: {name} must be an int, got {type(value).__name__}")
    if not minimum <= value <= maximum:
        raise ValueError(f"PerfMonitor: {name} must be in {minimum}..{maximum}, got {value!r}")


@final
class PerfMonitor(LatencyRecorder):
    """Counts, in-flight operations, rate and latency percentiles of a stream of operations.

    Measure with ``with monitor.start_operation(): ...``, ``timer = monitor.start_operation()``
    ... ``timer.finish(ok)``, or as a pipeline step: ``sender | monitor.measured()``. Read with
    :meth:`snapshot`, :meth:`rates` (per-second completions, for charts) and
    :meth:`prometheus_text`. Memory is fixed when it is built: a ring of ``capacity`` latency
    samples (default 16384, 128 KiB) and ``history`` per-second counts (default 300: five
    minutes). ``snapshot().rate`` averages the last ``rate_window`` complete seconds (default
    10, or ``history`` if shorter). ``clock`` is the time source (default
    ``time.perf_counter``). Thread-safe.
    """

    PROMETHEUS_CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
    """The ``Content-Type`` of :meth:`prometheus_text`'s output."""

    __slots__ = ()  # the state is LatencyRecorder's

    def __init__(
        self,
        *,
        capacity: int = DEFAULT_CAPACITY,
        history: int = DEFAULT_HISTORY,
        rate_window: int | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        _check_int("capacity", capacity, 1, _MAX_CAPACITY)
        _check_int("history", history, 1, _MAX_HISTORY)
        if rate_window is None:
            rate_window = min(DEFAULT_RATE_WINDOW, history)
        _check_int("rate_window", rate_window, 1, history)
        if not callable(clock):
            raise TypeError(f"PerfMonitor: clock must be callable, got {clock!r}")
        super().__init__(capacity, history, rate_window, clock)

    @property
    def clock(self) -> Callable[[], float]:
        """The time source, in seconds."""
        return self._clock

    @property
    def capacity(self) -> int:
        """How many recent latencies the percentiles are computed from, at most."""
        return self._capacity

    @property
    def history(self) -> int:
        """How many seconds of per-second completion counts :meth:`rates` keeps."""
        return self._history

    @property
    def rate_window(self) -> int:
        """How many complete seconds ``snapshot().rate`` averages."""
        return self._rate_window

    # -- the hot path ------------------------------------------------------------------------

    def start_operation(self) -> OperationTimer:
        """Count an operation in flight and return its timer (finish it, or use ``with``)."""
        return OperationTimer(self, self.begin())

    # -- reading -----------------------------------------------------------------------------

    def snapshot(self) -> PerfSnapshot:
        """The counters, rate and latency percentiles now (percentiles via numpy)."""
        now = self._clock()
        with self._lock:
            if now >= self._bucket_end:
                self.close_buckets(now)
            operations = self._operations
            samples = min(operations, self._capacity)
            latencies = self._ring[:samples].copy()
            rate = self._rate(now)
            errors, stopped, in_flight = self._errors, self._stopped, self._in_flight
            latency_sum = self._latency_sum
        if samples:
            p50, p90, p99 = (float(q) for q in np.percentile(latencies, (50.0, 90.0, 99.0)))
            largest = float(np.max(latencies))
        else:
            p50 = p90 = p99 = largest = _NAN
        return PerfSnapshot(
            operations=operations,
            errors=errors,
            stopped=stopped,
            in_flight=in_flight,
            rate=rate,
            p50=p50,
            p90=p90,
            p99=p99,
            max=largest,
            samples=samples,
            latency_sum=latency_sum,
            uptime=max(0.0, now - self._started_at),
        )

    def _rate(self, now: float) -> float:
        """Under the lock: completions per second over the last complete seconds."""
        complete = min(self._rate_window, self._bucket_second)
        if complete == 0:  # within the first second: what finished so far, per second
            elapsed = now - self._started_at
            return self._bucket_count / elapsed if elapsed > 0 else 0.0
        current = self._bucket_second
        window = np.arange(current - complete, current) % len(self._seconds)
        return int(self._seconds[window].sum()) / complete

    def rates(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Completions per second, for a chart: ``(seconds, counts)``, oldest first.

        ``seconds[i]`` is a whole second since the monitor started (0 is its first second) and
        ``counts[i]`` the operations finished during it. Only complete seconds are listed, the
        last ``history`` of them at most.
        """
        now = self._clock()
        with self._lock:
            if now >= self._bucket_end:
                self.close_buckets(now)
            current = self._bucket_second
            seconds = np.arange(max(0, current - self._history), current, dtype=np.int64)
            counts = self._seconds[seconds % len(self._seconds)]  # fancy indexing: a copy
        return seconds, counts

    def prometheus_text(
        self, prefix: str = "dsexec_", labels: Mapping[str, str] | None = None
    ) -> str:
        """The snapshot in the Prometheus text format 0.0.4 (``PROMETHEUS_CONTENT_TYPE``).

        Metrics (names start with ``prefix``): ``operations_total``, ``errors_total`` and
        ``stopped_total`` counters; ``in_flight``, ``operations_per_second`` and
        ``latency_max_seconds`` gauges; the ``latency_seconds`` summary (quantiles 0.5, 0.9,
        0.99 over the recent samples, ``_sum`` and ``_count`` since the start); and
        ``uptime_seconds``. ``labels`` are added to every sample (values escaped). To expose
        several monitors on one page, use ``prometheus_exposition``.
        """
        return prometheus_exposition([(self.snapshot(), labels or {})], prefix=prefix)

    # -- the pipeline step -------------------------------------------------------------------

    @overload
    def measured(self, /) -> PreservingAdaptor: ...
    @overload
    def measured(self, sender: Sender[T], /) -> Sender[T]: ...
    def measured(self, sender: Any = MISSING, /) -> Any:
        """Measure a sender as one operation: ``sender | monitor.measured()``.

        The timer starts when the operation starts; a value finishes it ok, an error as an
        error, and stopped as stopped. Completions and stop requests pass through unchanged.
        """
        if sender is MISSING:
            return MeasuredSender.adaptor(self)
        require_sender("PerfMonitor.measured", sender)
        return MeasuredSender(sender, self)

    def __repr__(self) -> str:
        return (
            f"<PerfMonitor {self._operations} operations, {self._errors} errors, "
            f"{self._in_flight} in flight>"
        )
