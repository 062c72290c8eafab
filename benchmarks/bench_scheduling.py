"""Scheduling throughput of dsexec's ``IoContext`` against asyncio, measured in one run.

Run: ``python benchmarks/bench_scheduling.py`` (``--quick`` for a smoke run). Every figure is
the best of ``k`` repetitions, printed beside its asyncio peer and as the ratio
``dsexec / asyncio`` (higher is better; the target is >= 1.0 everywhere):

(a) hops/s: ``sync_wait(io.schedule() | then(f) | repeat_n(N), context=io)`` -- and a
    hand-rolled chain that reconnects ``schedule() | then(f)`` N times -- against an asyncio
    ``loop.call_soon`` chain of N hops;
(b) timers/s: 100k ``schedule_after`` senders at random delays in 0..10 ms, started at once on
    a real ``IoContext`` (no virtual clock), against ``loop.call_later``;
(c) posts/s: another thread posts N callbacks with ``IoContext.post`` against
    ``loop.call_soon_threadsafe``, measured until the loop has run them all.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, final

import dsexec as ex

if str(Path(__file__).resolve().parents[1]) not in sys.path:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import _builds
from dsexec import IoContext, IoScheduler


def _timed(fn: Callable[[], float]) -> float:
    """One timing (seconds) with the cyclic collector paused, after a full collection."""
    gc.collect()
    gc.disable()
    try:
        return fn()
    finally:
        gc.enable()


def _identity(value: Any) -> Any:
    return value


# -- (a) hops ---------------------------------------------------------------------------------


@final
class _ChainReceiver:
    """Reconnects ``schedule() | then(f)`` until ``n`` hops completed, then completes ``done``."""

    __slots__ = ("_downstream", "_hop", "_left")

    def __init__(self, scheduler: IoScheduler, n: int, downstream: ex.Receiver[int]) -> None:
        # One sender, connected again for every hop: what repeat_n does with its upstream.
        self._hop = scheduler.schedule() | ex.then(_identity)
        self._left = n
        self._downstream = downstream

    def hop(self) -> None:
        self._hop.connect(self).start()

    def set_value(self, value: object, /) -> None:
        self._left -= 1
        if self._left:
            self.hop()
        else:
            self._downstream.set_value(0)

    def set_error(self, error: BaseException, /) -> None:
        self._downstream.set_error(error)

    def set_stopped(self) -> None:
        self._downstream.set_stopped()

    def get_env(self) -> ex.Env:
        return self._downstream.get_env()


@final
class _ChainSender(ex.Sender[int]):
    __slots__ = ("_n", "_scheduler")

    def __init__(self, scheduler: IoScheduler, n: int) -> None:
        self._scheduler = scheduler
        self._n = n

    def connect(self, receiver: ex.Receiver[int], /) -> ex.OperationState:
        return _ChainOp(_ChainReceiver(self._scheduler, self._n, receiver))


@final
class _ChainOp:
    __slots__ = ("_receiver",)

    def __init__(self, receiver: _ChainReceiver) -> None:
        self._receiver = receiver

    def start(self) -> None:
        self._receiver.hop()


def hops_dsexec_chain(n: int) -> float:
    with IoContext() as io:
        start = time.perf_counter()
        ex.sync_wait(_ChainSender(io.get_scheduler(), n), context=io)
        return time.perf_counter() - start


def hops_dsexec_repeat_n(n: int) -> float:
    with IoContext() as io:
        sender = io.get_scheduler().schedule() | ex.then(_identity) | ex.repeat_n(n)
        start = time.perf_counter()
        ex.sync_wait(sender, context=io)
        return time.perf_counter() - start


def hops_asyncio(n: int) -> float:
    loop = asyncio.new_event_loop()
    try:
        done = loop.create_future()
        left = n
        call_soon = loop.call_soon

        def hop() -> None:
            nonlocal left
            _identity(None)
            left -= 1
            if left:
                call_soon(hop)
            else:
                done.set_result(None)

        start = time.perf_counter()
        call_soon(hop)
        loop.run_until_complete(done)
        return time.perf_counter() - start
    finally:
        loop.close()


# -- (b) timers -------------------------------------------------------------------------------


@final
class _CountingReceiver:
    """One receiver shared by every timer operation: counts the completions."""

    __slots__ = ("_env", "count")

    def __init__(self) -> None:
        self.count = 0
        self._env = ex.Env()

    def set_value(self, value: None, /) -> None:
        self.count += 1

    def set_error(self, error: BaseException, /) -> None:
        raise error

    def set_stopped(self) -> None:
        raise AssertionError("no stop requested in this benchmark")

    def get_env(self) -> ex.Env:
        return self._env


def timers_dsexec(delays: list[float]) -> float:
    with IoContext() as io:
        scheduler = io.get_scheduler()
        receiver = _CountingReceiver()
        start = time.perf_counter()
        for delay in delays:
            scheduler.schedule_after(delay).connect(receiver).start()
        io.run()
        elapsed = time.perf_counter() - start
        assert receiver.count == len(delays)
        return elapsed


def timers_asyncio(delays: list[float]) -> float:
    loop = asyncio.new_event_loop()
    try:
        done = loop.create_future()
        left = len(delays)

        def fired() -> None:
            nonlocal left
            left -= 1
            if not left:
                done.set_result(None)

        call_later = loop.call_later
        start = time.perf_counter()
        for delay in delays:
            call_later(delay, fired)
        loop.run_until_complete(done)
        return time.perf_counter() - start
    finally:
        loop.close()


# -- (c) cross-thread posts ---------------------------------------------------------------------


def posts_dsexec(n: int) -> float:
    with IoContext() as io:
        count = 0

        def callback() -> None:
            nonlocal count
            count += 1

        def poster() -> None:
            post = io.post
            for _ in range(n):
                post(callback)

        thread = threading.Thread(target=poster)
        start = time.perf_counter()
        thread.start()
        io.run_until(lambda: count == n)
        elapsed = time.perf_counter() - start
        thread.join()
        return elapsed


def posts_asyncio(n: int) -> float:
    loop = asyncio.new_event_loop()
    try:
        done = loop.create_future()
        count = 0

        def callback() -> None:
            nonlocal count
            count += 1
            if count == n:
                done.set_result(None)

        def poster() -> None:
            post = loop.call_soon_threadsafe
            for _ in range(n):
                post(callback)

        thread = threading.Thread(target=poster)
        start = time.perf_counter()
        thread.start()
        loop.run_until_complete(done)
        elapsed = time.perf_counter() - start
        thread.join()
        return elapsed
    finally:
        loop.close()


# -- the table ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    parser.add_argument("-k", type=int, default=5, help="repetitions per figure (best is kept)")
    _builds.add_arguments(parser)
    args = parser.parse_args(argv)
    k = 1 if args.quick else args.k
    hops = 20_000 if args.quick else 200_000
    n_timers = 10_000 if args.quick else 100_000
    posts = 20_000 if args.quick else 200_000
    rng = random.Random(2300)
    delays = [rng.uniform(0.0, 0.010) for _ in range(n_timers)]

    theirs_best: dict[str, float] = {}  # asyncio's figures, measured beside each of ours

    def measure() -> dict[str, float]:
        ours_best: dict[str, float] = {}

        def row(name: str, n: int, ours: Callable[[], float], theirs: Callable[[], float]) -> None:
            # Alternate the two sides so that both see the same machine state; keep each best.
            mine = peer = float("inf")
            for _ in range(k):
                mine = min(mine, _timed(ours))
                peer = min(peer, _timed(theirs))
            ours_best[name] = n / mine
            theirs_best[name] = max(n / peer, theirs_best.get(name, 0.0))

        row(
            f"(a) {hops} hops, hand-rolled",
            hops,
            lambda: hops_dsexec_chain(hops),
            lambda: hops_asyncio(hops),
        )
        row(
            f"(a) {hops} hops, repeat_n",
            hops,
            lambda: hops_dsexec_repeat_n(hops),
            lambda: hops_asyncio(hops),
        )
        row(
            f"(b) {n_timers} timers 0..10 ms",
            n_timers,
            lambda: timers_dsexec(delays),
            lambda: timers_asyncio(delays),
        )
        row(
            f"(c) {posts} cross-thread posts",
            posts,
            lambda: posts_dsexec(posts),
            lambda: posts_asyncio(posts),
        )
        return ours_best

    passed = ["--quick"] if args.quick else ["-k", str(k)]
    ours_rows, compiled = _builds.side_by_side(measure, __file__, args, passed)
    rows = [(name, ours, theirs_best[name]) for name, ours in ours_rows.items()]
    print(
        f"python {sys.version.split()[0]} on {sys.platform}, best of {k}; "
        f"ratio = dsexec ({_builds.build_name()} build) / asyncio (higher = better)"
    )
    print(
        f"{'benchmark':<34} {'dsexec/s':>12} {'asyncio/s':>12} {'ratio':>7}"
        + (f" {'compiled/s':>12} {'compiled/pure':>14}" if compiled else "")
    )
    for name, ours, theirs in rows:
        line = f"{name:<34} {ours:>12,.0f} {theirs:>12,.0f} {ours / theirs:>7.2f}"
        if name in compiled:
            line += f" {compiled[name]:>12,.0f} {compiled[name] / ours:>13.2f}x"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
