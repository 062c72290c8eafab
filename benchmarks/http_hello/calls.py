"""Python calls per request: the hello servers' per-request work, counted instead of timed.

    python benchmarks/http_hello/calls.py [--requests N] [--top K]
        [--compare NAME=CHECKOUT[:SCRIPT]] [--servers dsexec,serve_http]

``run.py`` times the servers under wrk, and on this shared machine its figures move by more
than the differences a change makes. A count of calls does not move: each server runs under
``cProfile`` twice, serving N and then 2N keep-alive requests one after another on one
connection, and the difference of the two call counts divided by N is what one request costs,
with start-up and shutdown cancelled out. The table gives that figure and the functions called
most per request (built-ins included: a ``len`` is a call too).

Servers: ``dsexec`` (``dsexec_server.py``, the tuned pipeline), ``serve_http``
(``serve_http_server.py``), and ``--compare`` ones from another checkout, as in ``run.py``
(``--compare before=/path/to/worktree:examples/hello_pipeline.py``). One connection, one request
at a time: the count of a request that has the loop to itself, not of a batch of ready
connections (which ``run.py -c500`` measures). On the compiled build, calls made from compiled
code are invisible to ``cProfile``: the count is then of the Python that remains.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pstats
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `benchmarks.http_hello` importable
    sys.path.insert(0, str(ROOT))

from benchmarks.http_hello import run as hello  # noqa: E402

# Runs SCRIPT PORT under cProfile until SIGINT, then writes the statistics to OUT.
_PROFILED = """
import cProfile, runpy, sys
script, port, out = sys.argv[1:4]
sys.argv = [script, port]
profile = cProfile.Profile()
profile.enable()
try:
    runpy.run_path(script, run_name="__main__")
except (KeyboardInterrupt, SystemExit):
    pass
finally:
    profile.disable()
    profile.dump_stats(out)
"""
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


@dataclass(frozen=True)
class Target:
    """A server to count: its name, script, and the ``src`` directory to import dsexec from
    (``None``: the interpreter's own dsexec)."""

    name: str
    script: Path
    src: Path | None = None


@dataclass(frozen=True)
class Count:
    """One server's calls per request, and the functions behind them."""

    name: str
    per_request: float
    top: tuple[tuple[float, str], ...]  # (calls per request, function), most first


def profile_counts(target: Target, requests: int, python: str) -> dict[str, int]:
    """Serve ``requests`` keep-alive requests under cProfile; the number of calls of each
    function over the server's whole life."""
    env = dict(os.environ)
    if target.src is not None:
        env["PYTHONPATH"] = str(target.src)
    port = hello.free_port()
    with tempfile.TemporaryDirectory(prefix="http_hello_calls_") as tmp:
        out = Path(tmp) / "stats"
        proc = subprocess.Popen(
            [python, "-c", _PROFILED, str(target.script), str(port), str(out)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            with _connected(port, proc) as sock:
                for _ in range(requests):
                    sock.sendall(hello.REQUEST)
                    hello.read_response(sock)
            proc.send_signal(signal.SIGINT)
            _, errors = proc.communicate(timeout=STOP_TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if not out.exists():
            raise hello.BenchError(
                f"{target.name}: no profile written (status {proc.returncode}): "
                f"{errors.decode(errors='replace')[-500:]}"
            )
        stats = pstats.Stats(str(out))
        table: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
        table = stats.stats  # type: ignore[attr-defined]
        return {_where(key): row[1] for key, row in table.items()}


@contextlib.contextmanager
def _connected(port: int, proc: subprocess.Popen[bytes]) -> Iterator[socket.socket]:
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise hello.BenchError(f"the server exited with status {proc.returncode}")
        try:
            sock = socket.create_connection((hello.HOST, port), timeout=READY_TIMEOUT)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    with sock:
        yield sock


def _where(key: tuple[str, int, str]) -> str:
    filename, line, function = key
    if filename == "~":
        return function
    return f"{'/'.join(Path(filename).parts[-2:])}:{line}({function})"


def per_request(target: Target, requests: int, python: str, top: int) -> Count:
    """``target``'s calls per request: the counts at 2N requests minus those at N, over N."""
    once = profile_counts(target, requests, python)
    twice = profile_counts(target, 2 * requests, python)
    extra = {name: calls - once.get(name, 0) for name, calls in twice.items()}
    total = sum(extra.values()) / requests
    most = sorted(
        ((calls / requests, name) for name, calls in extra.items() if calls > 0),
        key=lambda row: (-row[0], row[1]),
    )
    return Count(target.name, total, tuple(most[:top]))


def print_counts(counts: Sequence[Count], requests: int) -> None:
    print(
        f"Python calls per keep-alive request ({requests} and {2 * requests} requests, "
        f"one connection)"
    )
    for count in counts:
        print(f"\n{count.name}: {count.per_request:.1f} calls per request")
        for calls, name in count.top:
            print(f"  {calls:6.2f}  {name}")


def targets(args: argparse.Namespace) -> list[Target]:
    chosen = [name for name in args.servers.split(",") if name]
    known = {"dsexec": hello.DSEXEC_SERVER, "serve_http": hello.SERVE_HTTP_SERVER}
    unknown = sorted(set(chosen) - known.keys())
    if unknown:
        raise hello.BenchError(
            f"--servers: unknown {', '.join(unknown)} (known: dsexec,serve_http)"
        )
    found = [Target(name, known[name]) for name in chosen]
    for name, checkout, script in hello.parse_compare(args.compare):
        found.append(Target(name, checkout / script, checkout / "src"))
    return found


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="N (default 2000)")
    parser.add_argument("--top", type=int, default=25, help="functions listed per server")
    parser.add_argument("--servers", default="dsexec,serve_http", help="comma-separated")
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="NAME=CHECKOUT[:SCRIPT]",
        help="also count dsexec's server from another checkout (as run.py's --compare)",
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter for the servers")
    args = parser.parse_args(argv)
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        counts = [per_request(t, args.requests, args.python, args.top) for t in targets(args)]
    except hello.BenchError as exc:
        print(f"calls.py: {exc}", file=sys.stderr)
        return 1
    print_counts(counts, args.requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
