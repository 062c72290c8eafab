"""Inline hops per second of the sender core, beside an asyncio ``call_soon`` chain.

Run: ``.venv/bin/python benchmarks/bench_core.py`` (add ``--quick`` for a smoke run). Each figure
is the best of several repetitions; ratios compare figures measured in the same run, since this
machine is shared and noisy (only paired ratios mean anything).

* ``just | then x100``: connect + start a 100-deep ``then`` chain, repeatedly (one hop per
  ``then``).
* ``repeat_n``: ``just(None) | then(f) | repeat_n(N)`` under ``sync_wait``; one hop per
  iteration (the trampoline re-connects and re-starts the upstream each time).
* asyncio peer: a callback re-posting itself with ``loop.call_soon`` N times.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dsexec as ex

if str(Path(__file__).resolve().parents[1]) not in sys.path:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import _builds

TARGET_COMPILED_VS_PURE = 3.0  # hops/s of the compiled build over the pure one (issue 14)


class _Sink:
    """The cheapest receiver: remembers the value."""

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


def _increment(value: int) -> int:
    return value + 1


def best_rate(hops: int, run: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return hops / best


def then_chain(depth: int, rounds: int) -> Callable[[], object]:
    sender: ex.Sender[int] = ex.just(0)
    for _ in range(depth):
        sender = sender | ex.then(_increment)

    def run() -> object:
        sink = _Sink()
        for _ in range(rounds):
            ex.connect(sender, sink).start()
        assert sink.value == depth
        return sink.value

    return run


def repeat_n_chain(hops: int) -> Callable[[], object]:
    counter = [0]

    def bump(_: None) -> None:
        counter[0] += 1

    pipeline = ex.just(None) | ex.then(bump) | ex.repeat_n(hops)

    def run() -> object:
        counter[0] = 0
        ex.sync_wait(pipeline)
        assert counter[0] == hops
        return None

    return run


def asyncio_call_soon_chain(hops: int) -> Callable[[], object]:
    def run() -> object:
        loop = asyncio.new_event_loop()
        try:
            done = loop.create_future()
            remaining = [hops]

            def hop() -> None:
                remaining[0] -= 1
                if remaining[0]:
                    loop.call_soon(hop)
                else:
                    done.set_result(None)

            loop.call_soon(hop)
            loop.run_until_complete(done)
        finally:
            loop.close()
        return None

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    _builds.add_arguments(parser)
    args = parser.parse_args()
    hops = 20_000 if args.quick else 1_000_000
    rounds = 200 if args.quick else 5_000
    repeats = 2 if args.quick else 5

    def measure() -> dict[str, float]:
        return {
            "just | then x100 (connect+start)": best_rate(
                100 * rounds, then_chain(100, rounds), repeats
            ),
            "just | then | repeat_n(N)": best_rate(hops, repeat_n_chain(hops), repeats),
        }

    passed = ["--quick"] if args.quick else []
    rows, compiled = _builds.side_by_side(measure, __file__, args, passed)
    peer = best_rate(hops, asyncio_call_soon_chain(hops), repeats)
    mine = _builds.build_name()
    print(
        f"{'benchmark':<34} {mine + ' hops/s':>16} {'asyncio call_soon':>18} {'ratio':>6}"
        + (f" {'compiled hops/s':>16} {'compiled/pure':>14}" if compiled else "")
    )
    for name, rate in rows.items():
        line = f"{name:<34} {rate:>16,.0f} {peer:>18,.0f} {rate / peer:>6.2f}"
        if name in compiled:
            line += f" {compiled[name]:>16,.0f} {compiled[name] / rate:>13.2f}x"
        print(line)
    if compiled:
        print("\ntargets (issue 14)")
        for name, rate in rows.items():
            ratio = compiled[name] / rate
            verdict = "PASS" if ratio >= TARGET_COMPILED_VS_PURE else "FAIL"
            print(
                f"  compiled >= {TARGET_COMPILED_VS_PURE:.0f}x pure: {name:<34} "
                f"{ratio:>5.2f}x  {verdict}"
            )


if __name__ == "__main__":
    main()
