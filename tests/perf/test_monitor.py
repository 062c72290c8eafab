"""PerfMonitor: timers, counters, latency percentiles over a bounded ring, per-second rates,
thread safety and flat memory; PerfSnapshot validation. Time is a hand-driven clock."""

from __future__ import annotations

import gc
import math
import resource
import sys
import threading
import tracemalloc
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dsexec as ex
from dsexec.perf import OperationTimer, PerfMonitor, PerfSnapshot


class Clock:
    """A clock that moves only when told to (``advance``), or by ``step`` at every reading."""

    def __init__(self, now: float = 1000.0, step: float = 0.0) -> None:
        self.now = now
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Cancelled(BaseException):
    """Stands in for trio.Cancelled / asyncio.CancelledError: not an Exception."""


def timed(monitor: PerfMonitor, clock: Clock, seconds: float, ok: bool = True) -> None:
    timer = monitor.start_operation()
    clock.advance(seconds)
    timer.finish(ok)


def test_a_new_monitor_has_counted_nothing_and_no_latency_yet() -> None:
    snapshot = PerfMonitor(clock=Clock()).snapshot()
    assert (snapshot.operations, snapshot.errors, snapshot.stopped, snapshot.in_flight) == (
        0,
        0,
        0,
        0,
    )
    assert (snapshot.samples, snapshot.rate, snapshot.latency_sum, snapshot.uptime) == (
        0,
        0.0,
        0.0,
        0.0,
    )
    assert all(math.isnan(value) for value in (snapshot.p50, snapshot.p90, snapshot.p99))
    assert math.isnan(snapshot.max)


def test_a_timer_counts_in_flight_until_finished() -> None:
    clock = Clock()
    monitor = PerfMonitor(clock=clock)
    first = monitor.start_operation()
    second = monitor.start_operation()
    assert monitor.snapshot().in_flight == 2
    clock.advance(0.25)
    assert first.finish()
    snapshot = monitor.snapshot()
    assert (snapshot.in_flight, snapshot.operations, snapshot.errors) == (1, 1, 0)
    assert snapshot.p50 == snapshot.max == 0.25
    assert second.finished is False


def test_finish_not_ok_counts_an_error_with_its_latency() -> None:
    clock = Clock()
    monitor = PerfMonitor(clock=clock)
    timed(monitor, clock, 0.5, ok=False)
    snapshot = monitor.snapshot()
    assert (snapshot.operations, snapshot.errors, snapshot.samples) == (1, 1, 1)
    assert snapshot.max == 0.5


def test_only_the_first_finish_counts_later_ones_return_false() -> None:
    clock = Clock()
    monitor = PerfMonitor(clock=clock)
    timer = monitor.start_operation()
    clock.advance(0.1)
    assert timer.finish(ok=True) is True
    clock.advance(5.0)
    assert timer.finish(ok=False) is False
    assert timer.finish_stopped() is False
    snapshot = monitor.snapshot()
    assert (snapshot.operations, snapshot.errors, snapshot.stopped, snapshot.in_flight) == (
        1,
        0,
        0,
        0,
    )
    assert timer.elapsed == pytest.approx(0.1)


def test_finish_stopped_counts_a_cancelled_operation_without_a_latency_sample() -> None:
    clock = Clock()
    monitor = PerfMonitor(clock=clock)
    timer = monitor.start_operation()
    clock.advance(3.0)
    assert timer.finish_stopped() is True
    assert timer.finish() is False
    snapshot = monitor.snapshot()
    assert (snapshot.operations, snapshot.stopped, snapshot.in_flight, snapshot.samples) == (
        0,
        1,
        0,
        0,
    )
    assert timer.elapsed == 3.0


def test_elapsed_runs_until_finished_then_stays() -> None:
    clock = Clock()
    timer = PerfMonitor(clock=clock).start_operation()
    clock.advance(1.5)
    assert timer.elapsed == 1.5
    timer.finish()
    clock.advance(10.0)
    assert timer.elapsed == 1.5
    assert repr(timer) == "<OperationTimer finished in 1.500000 s>"


def test_the_context_manager_finishes_ok_on_a_normal_exit() -> None:
    clock = Clock()
    monitor = PerfMonitor(clock=clock)
    with monitor.start_operation() as timer:
        assert isinstance(timer, OperationTimer)
        clock.advance(0.2)
    snapshot = monitor.snapshot()
    assert (snapshot.operations, snapshot.errors, snapshot.in_flight) == (1, 0, 0)
    assert snapshot.max == pytest.approx(0.2)


def test_an_exception_in_the_block_is_an_error_and_is_not_swallowed() -> None:
    monitor = PerfMonitor(clock=Clock())
    with pytest.raises(KeyError), monitor.start_operation():
        raise KeyError("boom")
    snapshot = monitor.snapshot()
    assert (snapshot.operations, snapshot.errors, snapshot.in_flight) == (1, 1, 0)


@pytest.mark.parametrize("exception", [ex.Stopped(), Cancelled(), KeyboardInterrupt()])
def test_stopped_or_cancellation_in_the_block_counts_as_stopped(
    exception: BaseException,
) -> None:
    monitor = PerfMonitor(clock=Clock())
    with pytest.raises(type(exception)), monitor.start_operation():
        raise exception
    snapshot = monitor.snapshot()
    assert (snapshot.operations, snapshot.errors, snapshot.stopped, snapshot.in_flight) == (
        0,
        0,
        1,
        0,
    )


def test_a_finish_inside_the_block_wins_over_the_exit() -> None:
    monitor = PerfMonitor(clock=Clock())
    with monitor.start_operation() as timer:
        timer.finish(ok=False)  # e.g. the handler answered 500

    def answer_then_fail() -> None:
        with monitor.start_operation() as timer:
            timer.finish(ok=True)
            raise ValueError("late")

    with pytest.raises(ValueError, match="late"):
        answer_then_fail()
    snapshot = monitor.snapshot()
    assert (snapshot.operations, snapshot.errors, snapshot.in_flight) == (2, 1, 0)


def test_percentiles_and_max_are_numpys_over_the_samples() -> None:
    clock = Clock()
    monitor = PerfMonitor(clock=clock)
    latencies = [i / 1000 for i in range(1, 101)]
    for latency in latencies:
        timed(monitor, clock, latency)
    snapshot = monitor.snapshot()
    expected = np.percentile(latencies, [50, 90, 99])
    assert [snapshot.p50, snapshot.p90, snapshot.p99] == pytest.approx(list(expected))
    assert snapshot.max == pytest.approx(0.1)
    assert snapshot.samples == 100
    assert snapshot.latency_sum == pytest.approx(sum(latencies))


def test_the_ring_keeps_only_the_last_capacity_latencies() -> None:
    clock = Clock()
    monitor = PerfMonitor(capacity=4, clock=clock)
    for latency in range(1, 11):
        timed(monitor, clock, float(latency))
    snapshot = monitor.snapshot()
    assert (snapshot.operations, snapshot.samples) == (10, 4)
    assert snapshot.p50 == pytest.approx(8.5)  # the median of 7, 8, 9, 10
    assert snapshot.max == 10.0
    assert snapshot.latency_sum == 55.0  # the sum is over every operation


def test_a_clock_running_backwards_gives_a_zero_latency() -> None:
    clock = Clock()
    monitor = PerfMonitor(clock=clock)
    timed(monitor, clock, -1.0)
    assert monitor.snapshot().max == 0.0


def test_rates_lists_completions_per_complete_second_oldest_first() -> None:
    clock = Clock(now=50.0)
    monitor = PerfMonitor(clock=clock)
    for _ in range(3):
        timed(monitor, clock, 0.1)  # second 0
    clock.now = 51.2
    for _ in range(5):
        timed(monitor, clock, 0.1)  # second 1
    clock.now = 53.0  # nothing in second 2
    for _ in range(2):
        timed(monitor, clock, 0.01)  # second 3
    clock.now = 54.5  # second 4 is open: not listed
    seconds, counts = monitor.rates()
    assert seconds.tolist() == [0, 1, 2, 3]
    assert counts.tolist() == [3, 5, 0, 2]
    assert seconds.dtype == counts.dtype == np.int64


def test_rate_averages_the_last_rate_window_complete_seconds() -> None:
    clock = Clock(now=0.0)
    monitor = PerfMonitor(rate_window=2, clock=clock)
    for second, count in enumerate([10, 4, 6]):
        clock.now = second + 0.5
        for _ in range(count):
            timed(monitor, clock, 0.0)
    clock.now = 3.1
    assert monitor.snapshot().rate == (4 + 6) / 2
    clock.now = 4.1  # second 3 had nothing
    assert monitor.snapshot().rate == (6 + 0) / 2


def test_rate_uses_the_complete_seconds_there_are_when_fewer_than_the_window() -> None:
    clock = Clock(now=0.0)
    monitor = PerfMonitor(clock=clock)
    clock.now = 0.5
    for _ in range(9):
        timed(monitor, clock, 0.0)
    assert monitor.snapshot().rate == 18.0  # within the first second: 9 in 0.5 s
    clock.now = 3.0
    assert monitor.snapshot().rate == 3.0  # 9 over 3 complete seconds


def test_rates_keeps_only_the_last_history_seconds() -> None:
    clock = Clock(now=0.0)
    monitor = PerfMonitor(history=3, rate_window=3, clock=clock)
    for second in range(10):
        clock.now = second + 0.5
        for _ in range(second):
            timed(monitor, clock, 0.0)
    clock.now = 10.0
    seconds, counts = monitor.rates()
    assert seconds.tolist() == [7, 8, 9]
    assert counts.tolist() == [7, 8, 9]
    assert monitor.snapshot().rate == 8.0


def test_a_long_idle_gap_shows_as_zeros() -> None:
    clock = Clock(now=0.0)
    monitor = PerfMonitor(history=5, clock=clock)
    timed(monitor, clock, 0.0)
    clock.now = 1_000_000.5
    timed(monitor, clock, 0.0)
    clock.now = 1_000_002.0
    seconds, counts = monitor.rates()
    assert seconds.tolist() == list(range(999_997, 1_000_002))
    assert counts.tolist() == [0, 0, 0, 1, 0]
    assert monitor.snapshot().operations == 2


def test_uptime_is_measured_from_construction() -> None:
    clock = Clock(now=7.0)
    monitor = PerfMonitor(clock=clock)
    clock.advance(42.0)
    assert monitor.snapshot().uptime == 42.0


def test_timers_started_and_finished_on_many_threads_are_all_counted() -> None:
    monitor = PerfMonitor(capacity=1024)
    per_thread, threads = 5_000, 4
    barrier = threading.Barrier(threads)

    def work() -> None:
        barrier.wait()
        for i in range(per_thread):
            with monitor.start_operation() as timer:
                if i % 10 == 0:
                    timer.finish(ok=False)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    snapshot = monitor.snapshot()
    assert snapshot.operations == per_thread * threads
    assert snapshot.errors == per_thread * threads // 10
    assert snapshot.in_flight == 0
    assert snapshot.samples == 1024


def test_a_finish_racing_in_between_the_check_and_the_lock_counts_the_timer_once() -> None:
    """The interleaving of two threads finishing one timer, made deterministic: the clock
    reading inside the first ``finish`` (after its unlocked "already finished?" check, before
    the lock) runs the second ``finish`` to the end."""
    timers: list[OperationTimer] = []
    inner: list[bool] = []
    raced = False

    def clock() -> float:
        nonlocal raced
        if timers and not raced:
            raced = True
            inner.append(timers[0].finish(ok=False))  # the other thread, in between
        return 0.0

    monitor = PerfMonitor(clock=clock)
    timers.append(monitor.start_operation())
    assert timers[0].finish(ok=True) is False  # the other one won
    assert inner == [True]
    snapshot = monitor.snapshot()
    assert (snapshot.operations, snapshot.errors, snapshot.in_flight) == (1, 1, 0)


def test_memory_stays_flat_however_many_operations_run() -> None:
    """Memory does not grow with the number of operations.

    Ten million operations through the public path take about ten seconds here, too long for
    a unit test: the slow suite runs them (below). This test runs the same public calls
    (``start_operation().finish()``, the clock moving 1 ms per reading so that the latency ring
    wraps about 30 times and the 300 s rate history three times): after a warm-up, 500,000
    more operations must leave the count of allocated blocks where it was (one retained object
    per operation would add 500,000), and 50,000 operations traced by ``tracemalloc`` must
    leave (almost) nothing allocated (8 bytes per operation would be 400 KB).
    """
    monitor = PerfMonitor(clock=Clock(step=0.001))
    start = monitor.start_operation

    def run(operations: int) -> None:
        for _ in range(operations):
            start().finish()

    run(50_000)
    blocks = sys.getallocatedblocks()
    run(500_000)
    assert sys.getallocatedblocks() - blocks < 1_000
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        run(50_000)
        growth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert growth < 4096
    assert monitor.snapshot().operations == 600_000


@pytest.mark.slow
def test_memory_stays_flat_over_ten_million_operations() -> None:
    """The issue's own figure, in the slow suite (``pytest -m slow``, run by CI): after a
    warm-up that fills the latency ring and the rate history, ten million operations through
    the public path leave the allocated blocks and the process's peak RSS where they were."""
    monitor = PerfMonitor(clock=Clock(step=0.001))
    start = monitor.start_operation

    def run(operations: int) -> None:
        for _ in range(operations):
            start().finish()

    run(500_000)
    gc.collect()
    blocks = sys.getallocatedblocks()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    run(10_000_000)
    gc.collect()
    assert sys.getallocatedblocks() - blocks < 1_000
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 2048
    assert monitor.snapshot().operations == 10_500_000


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"capacity": 0}, ValueError, r"capacity must be in 1\.\.67108864, got 0"),
        ({"capacity": -5}, ValueError, "capacity"),
        ({"capacity": 1 << 40}, ValueError, "capacity"),
        ({"capacity": 8.0}, TypeError, "capacity must be an int, got float"),
        ({"capacity": True}, TypeError, "capacity must be an int, got bool"),
        ({"history": 0}, ValueError, "history"),
        ({"history": 10**9}, ValueError, "history"),
        ({"history": "300"}, TypeError, "history"),
        ({"rate_window": 0}, ValueError, "rate_window"),
        ({"history": 5, "rate_window": 6}, ValueError, r"rate_window must be in 1\.\.5"),
        ({"clock": 3.0}, TypeError, "clock must be callable"),
    ],
)
def test_bad_arguments_are_clear_errors(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=f"PerfMonitor: {match}"):
        PerfMonitor(**kwargs)


def test_the_configuration_is_readable() -> None:
    monitor = PerfMonitor(capacity=100, history=60, rate_window=5)
    assert (monitor.capacity, monitor.history, monitor.rate_window) == (100, 60, 5)
    assert repr(monitor) == "<PerfMonitor 0 operations, 0 errors, 0 in flight>"


def _snapshot(**changes: Any) -> PerfSnapshot:
    values: dict[str, Any] = {
        "operations": 1,
        "errors": 0,
        "stopped": 0,
        "in_flight": 0,
        "rate": 1.0,
        "p50": 0.1,
        "p90": 0.1,
        "p99": 0.1,
        "max": 0.1,
        "samples": 1,
        "latency_sum": 0.1,
        "uptime": 1.0,
    }
    values.update(changes)
    return PerfSnapshot(**values)


def test_a_snapshot_is_a_frozen_value() -> None:
    snapshot = _snapshot()
    assert snapshot == _snapshot()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        snapshot.operations = 2  # type: ignore[misc]
    assert attrs.asdict(snapshot)["p99"] == 0.1


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"operations": -1}, ValueError),
        ({"in_flight": 1.0}, TypeError),
        ({"errors": True}, TypeError),
        ({"rate": math.nan}, ValueError),
        ({"rate": -1.0}, ValueError),
        ({"p99": -0.5}, ValueError),
        ({"max": math.inf}, ValueError),
        ({"p50": "0.1"}, TypeError),
        ({"uptime": math.nan}, ValueError),
    ],
)
def test_a_snapshot_rejects_impossible_values(
    changes: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error, match=f"PerfSnapshot: {next(iter(changes))}"):
        _snapshot(**changes)


def test_a_snapshot_allows_nan_latencies_for_no_samples() -> None:
    nan = math.nan
    snapshot = _snapshot(samples=0, p50=nan, p90=nan, p99=nan, max=nan)
    assert math.isnan(snapshot.p50)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=1, max_value=6),
    st.lists(
        st.tuples(st.floats(min_value=0.0, max_value=9.0), st.integers(0, 3)),
        max_size=25,
    ),
    st.floats(min_value=0.0, max_value=9.0),
)
def test_rates_match_a_naive_count_per_second(
    history: int, steps: list[tuple[float, int]], last_gap: float
) -> None:
    clock = Clock(now=0.0)
    monitor = PerfMonitor(history=history, clock=clock)
    finished_at: list[float] = []
    for gap, operations in steps:
        clock.advance(gap)
        for _ in range(operations):
            timed(monitor, clock, 0.0)
            finished_at.append(clock.now)
    clock.advance(last_gap)
    current = int(clock.now)
    expected_seconds = list(range(max(0, current - history), current))
    expected_counts = [sum(1 for t in finished_at if int(t) == s) for s in expected_seconds]
    seconds, counts = monitor.rates()
    assert seconds.tolist() == expected_seconds
    assert counts.tolist() == expected_counts
    window = expected_counts[-min(history, 10) :] if expected_seconds else []
    if expected_seconds:
        assert monitor.snapshot().rate == pytest.approx(sum(window) / len(window))
