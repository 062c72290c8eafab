"""PerfMonitor: cost of one measured operation, beside prometheus_client, and memory after ten
million operations.

Run: ``.venv/bin/python benchmarks/bench_perf_monitor.py`` (add ``--quick`` for a smoke run).
Each time is the best of several repetitions; ratios compare figures measured in the same run,
since this machine is shared and noisy (only paired ratios mean anything).

* ``with monitor.start_operation()`` and ``start_operation().finish()``, beside
  ``prometheus_client``'s ``with Histogram.time()`` (its idiomatic latency timer; a lock and a
  bucket search per observation, no percentiles).
* ``just(None) | monitor.measured()`` connected and started, beside ``just(None)`` alone: what
  the pipeline step adds.
* ``snapshot()`` on a full ring, beside ``numpy.percentile`` over the same samples alone.
* Memory: the process's resident size and Python's allocated blocks after 10,000 operations
  and after ten million (``--quick``: 200,000) through the public path; flat means the same.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Histogram

import dsexec as ex
from dsexec.perf import PerfMonitor


class _Sink:
    """The cheapest receiver."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: Any = None

    def set_value(self, value: Any, /) -> None:
        self.value = value

    def set_error(self, error: BaseException, /) -> None:
        raise error

    def set_stopped(self) -> None:
        raise ex.Stopped()

    def get_env(self) -> ex.Env:
        return ex.Env()


def best_ns_per_op(operations: int, run: Callable[[int], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run(operations)
        best = min(best, time.perf_counter() - started)
    return best / operations * 1e9


def monitor_with(monitor: PerfMonitor) -> Callable[[int], object]:
    def run(operations: int) -> object:
        start = monitor.start_operation
        for _ in range(operations):
            with start():
                pass
        return None

    return run


def monitor_finish(monitor: PerfMonitor) -> Callable[[int], object]:
    def run(operations: int) -> object:
        start = monitor.start_operation
        for _ in range(operations):
            start().finish()
        return None

    return run


def histogram_time() -> Callable[[int], object]:
    histogram = Histogram("bench_latency_seconds", "latency", registry=CollectorRegistry())

    def run(operations: int) -> object:
        timer = histogram.time
        for _ in range(operations):
            with timer():
                pass
        return None

    return run


def connect_start(sender: ex.Sender[None]) -> Callable[[int], object]:
    def run(operations: int) -> object:
        sink = _Sink()
        for _ in range(operations):
            ex.connect(sender, sink).start()
        return None

    return run


def snapshot_cost(capacity: int, repeats: int) -> tuple[float, float]:
    """Microseconds per ``snapshot()`` on a full ring, and per ``np.percentile`` alone."""
    monitor = PerfMonitor(capacity=capacity)
    monitor_finish(monitor)(capacity)
    samples = np.random.default_rng(1).exponential(0.001, capacity)
    rounds = 50
    snap = best_ns_per_op(rounds, lambda n: [monitor.snapshot() for _ in range(n)], repeats)
    floor = best_ns_per_op(
        rounds, lambda n: [np.percentile(samples, (50, 90, 99)) for _ in range(n)], repeats
    )
    return snap / 1e3, floor / 1e3


def resident_kib() -> int:
    """Resident set size now (Linux ``/proc``; 0 elsewhere)."""
    statm = Path("/proc/self/statm")
    if not statm.exists():
        return 0
    pages = int(statm.read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def memory_after(operations: int) -> list[tuple[str, int, int]]:
    """(label, resident KiB, allocated blocks) after 10,000 and after ``operations``."""
    monitor = PerfMonitor()
    run = monitor_finish(monitor)
    run(10_000)
    rows = [("10,000", resident_kib(), sys.getallocatedblocks())]
    run(operations - 10_000)
    rows.append((f"{operations:,}", resident_kib(), sys.getallocatedblocks()))
    assert monitor.snapshot().operations == operations
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args(argv)
    operations = 20_000 if args.quick else 1_000_000
    repeats = 2 if args.quick else 5
    total = 200_000 if args.quick else 10_000_000

    peer = best_ns_per_op(operations, histogram_time(), repeats)
    rows = [
        (
            "with monitor.start_operation()",
            best_ns_per_op(operations, monitor_with(PerfMonitor()), repeats),
            "with Histogram.time()",
            peer,
        ),
        (
            "monitor.start_operation().finish()",
            best_ns_per_op(operations, monitor_finish(PerfMonitor()), repeats),
            "with Histogram.time()",
            peer,
        ),
        (
            "just(None) | measured() connect+start",
            best_ns_per_op(operations, connect_start(ex.just(None) | PerfMonitor().measured()), 3),
            "just(None) connect+start",
            best_ns_per_op(operations, connect_start(ex.just(None)), 3),
        ),
    ]
    print(f"{'benchmark':<40} {'ns/op':>8}   {'peer':<26} {'ns/op':>8} {'ratio':>6}")
    for name, ns, peer_name, peer_ns in rows:
        print(f"{name:<40} {ns:>8.0f}   {peer_name:<26} {peer_ns:>8.0f} {ns / peer_ns:>6.2f}")

    print()
    print(f"{'snapshot()':<40} {'us':>8}   {'np.percentile alone':<26} {'us':>8} {'ratio':>6}")
    for capacity in (16_384, 65_536):
        snap, floor = snapshot_cost(capacity, repeats)
        name = f"capacity {capacity:,}"
        print(f"{name:<40} {snap:>8.1f}   {'':<26} {floor:>8.1f} {snap / floor:>6.2f}")

    print()
    print(f"{'memory after N operations':<40} {'RSS KiB':>8}   {'allocated blocks':>16}")
    memory = memory_after(total)
    for label, rss, blocks in memory:
        print(f"{label:<40} {rss:>8}   {blocks:>16}")
    (_, rss0, blocks0), (_, rss1, blocks1) = memory
    print(f"{'growth':<40} {rss1 - rss0:>8}   {blocks1 - blocks0:>16}")


if __name__ == "__main__":
    main()
