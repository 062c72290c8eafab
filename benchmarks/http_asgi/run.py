"""The same hello-world ASGI app on dsexec, uvicorn and granian, beside dsexec's plain
``serve_http`` and its tuned hello server, measured in one run on this machine.

Run from the repository root (the machine is shared: take the benchmark lock):

    flock /tmp/bench.lock .venv/bin/python benchmarks/http_asgi/run.py --duration 5 --rounds 2
    .venv/bin/python benchmarks/http_asgi/run.py --quick          # smoke test
    .venv/bin/python benchmarks/http_asgi/run.py --list-servers

It is ``benchmarks/http_hello/run.py``'s machinery (imported, not copied): for every round,
concurrency and server a fresh server process pinned to CPU 0, a wrk warm-up and the measured
``wrk -t1 --latency`` run pinned to CPU 1, the server's CPU per request from /proc (children
included: granian serves from a worker process), each round starting with the next server, the
best round reported with socket errors summed over all. Peers that are not installed are
skipped with the reason. See README.md for the servers and the targets.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import IO

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `benchmarks.http_hello` importable
    sys.path.insert(0, str(ROOT))

from benchmarks.http_hello import run as hello  # noqa: E402

BenchError = hello.BenchError
Config = hello.Config
Results = hello.Results
ServerSpec = hello.ServerSpec
Command = Callable[[int, Path, Config], list[str]]

EXPECTED_BODY = b"Hello, World!"
TARGET_VS_UVICORN = 2.5
TARGET_VS_GRANIAN = 1.5
TARGET_SERVE_HTTP_VS_TUNED = 0.7
TARGET_TIMEOUT_CONNECTIONS = 500
TARGET_COMPILED_VS_UVICORN = 3.0  # the ASGI hello app on the compiled build (issue 14)
ASGI = "dsexec-asgi"
COMPILED = "-compiled"  # suffix of a server run on the compiled build


# --------------------------------------------------------------------------------------------
# Servers


def _dsexec_asgi(port: int, workdir: Path, cfg: Config) -> list[str]:
    return [
        cfg.python, "-m", "dsexec.http.asgi", "app:app",
        "--app-dir", str(HERE), "--host", hello.HOST, "--port", str(port),
        "--loop", "uvloop" if _installed("uvloop") else "asyncio",
    ]  # fmt: skip


def _uvicorn(port: int, workdir: Path, cfg: Config) -> list[str]:
    return [
        cfg.python, "-m", "uvicorn", "app:app",
        "--app-dir", str(HERE), "--host", hello.HOST, "--port", str(port),
        "--loop", "uvloop", "--http", "httptools",
        "--no-access-log", "--log-level", "warning", "--lifespan", "off",
    ]  # fmt: skip


def _granian(port: int, workdir: Path, cfg: Config) -> list[str]:
    granian = shutil.which("granian", path=str(Path(cfg.python).parent)) or "granian"
    return [
        granian, "--interface", "asgi", "app:app",
        "--working-dir", str(HERE), "--host", hello.HOST, "--port", str(port),
        "--workers", "1", "--http", "1", "--no-ws", "--loop", "uvloop",
        "--log-level", "warning",
    ]  # fmt: skip


def _serve_http(loop: str) -> Command:
    def command(port: int, workdir: Path, cfg: Config) -> list[str]:
        return [cfg.python, str(HERE / "serve_http_server.py"), str(port), "--loop", loop]

    return command


def _tuned(port: int, workdir: Path, cfg: Config) -> list[str]:
    return [cfg.python, str(hello.DSEXEC_SERVER), str(port), "--host", hello.HOST]


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _installed_for(python: str, module: str) -> bool:
    """Whether ``module`` imports in the servers' interpreter (which may not be this one)."""
    if Path(python).resolve() == Path(sys.executable).resolve():
        return _installed(module)
    import subprocess

    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return subprocess.run([python, "-c", probe], check=False, timeout=60).returncode == 0


def available_servers(cfg: Config) -> tuple[dict[str, ServerSpec], list[str]]:
    """Every server this machine can run, in table order, and why the others are missing."""
    specs = [ServerSpec(ASGI, "python -m dsexec.http.asgi app:app (uvloop)", _dsexec_asgi)]
    notes: list[str] = []
    if _installed_for(cfg.python, "uvicorn") and _installed_for(cfg.python, "httptools"):
        specs.append(
            ServerSpec("uvicorn", "uvicorn app:app --loop uvloop --http httptools", _uvicorn)
        )
    else:
        notes.append("uvicorn: not installed (pip install -e '.[bench]'): skipped")
    if _installed_for(cfg.python, "granian"):
        specs.append(ServerSpec("granian", "granian --interface asgi app:app (1 worker)", _granian))
    else:
        notes.append("granian: not installed (pip install -e '.[bench]'): skipped")
    specs.append(
        ServerSpec("serve_http", "serve_http_server.py (IoContext)", _serve_http("io_context"))
    )
    if _installed_for(cfg.python, "uvloop"):
        specs.append(
            ServerSpec(
                "serve_http-uvloop", "serve_http_server.py --loop uvloop", _serve_http("uvloop")
            )
        )
    else:
        notes.append("serve_http-uvloop: uvloop not installed: skipped")
    if hello.DSEXEC_SERVER.exists():
        specs.append(ServerSpec("dsexec-tuned", "benchmarks/http_hello/dsexec_server.py", _tuned))
    else:
        notes.append("dsexec-tuned: benchmarks/http_hello/dsexec_server.py missing: skipped")
    if cfg.compiled_python is None:
        notes.append("compiled build: no .venv-compiled (make pytest-compiled makes it): skipped")
    else:
        # dsexec's servers again, on the compiled build: the same source side by side
        specs += [
            ServerSpec(
                spec.name + COMPILED,
                f"{spec.description}, compiled build",
                hello.on_python(spec.command, cfg.compiled_python),
            )
            for spec in list(specs)
            if spec.name.startswith(("dsexec", "serve_http"))
        ]
    return {spec.name: spec for spec in specs}, notes


# --------------------------------------------------------------------------------------------
# Report


def ratio(results: Results, name: str, peer: str, conns: int) -> float | None:
    """``name``'s best req/s over ``peer``'s at ``conns``, or ``None`` if either is missing."""
    mine, theirs = results.best(name, conns), results.best(peer, conns)
    if mine is None or theirs is None or not theirs.requests_per_s:
        return None
    return mine.requests_per_s / theirs.requests_per_s


def targets(results: Results) -> list[tuple[str, str, bool | None]]:
    """Each target of issue 11 for this benchmark: (what, measured, met; None: not measured)."""
    checks: list[tuple[str, str, bool | None]] = []
    for conns in results.config.connections:
        for peer, name, target in (
            ("uvicorn", ASGI, TARGET_VS_UVICORN),
            ("granian", ASGI, TARGET_VS_GRANIAN),
            ("dsexec-tuned", "serve_http", TARGET_SERVE_HTTP_VS_TUNED),
            ("uvicorn", ASGI + COMPILED, TARGET_COMPILED_VS_UVICORN),
        ):
            value = ratio(results, name, peer, conns)
            shown = "-" if value is None else f"{value:.2f}x"
            met = None if value is None else value >= target
            checks.append((f"{name} >= {target:.1f}x {peer} at -c{conns}", shown, met))
    best = results.best(ASGI, TARGET_TIMEOUT_CONNECTIONS)
    checks.append(
        (
            f"{ASGI}: zero wrk timeouts at -c{TARGET_TIMEOUT_CONNECTIONS}",
            "-" if best is None else str(best.timeouts),
            None if best is None else best.timeouts == 0,
        )
    )
    return checks


def print_report(results: Results, out: IO[str]) -> None:
    cfg = results.config
    print(
        f"\nwrk -t1, {cfg.duration} s per point after a {cfg.warmup} s warm-up, best of "
        f"{cfg.rounds} round(s); server on CPU {cfg.server_cpu}, wrk on CPU {cfg.wrk_cpu};\n"
        "errors = connect/read/write/timeout (summed over rounds); user us / sys us = the "
        "server's CPU per request in its own code / in the kernel",
        file=out,
    )
    print(
        f"{'server':<28}{'conns':>6}{'req/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'  errors':<16}{'non-2xx':>8}{'user us':>9}{'sys us':>8}",
        file=out,
    )
    for conns in cfg.connections:
        for name in results.servers:
            res = results.best(name, conns)
            if res is None:
                print(f"{name:<28}{conns:>6}{'(failed)':>11}", file=out)
                continue
            print(
                f"{name:<28}{conns:>6}{res.requests_per_s:>11,.0f}{hello._fmt_ms(res.p50_ms):>9}"
                f"{hello._fmt_ms(res.p99_ms):>9}{hello._fmt_ms(res.max_ms):>9}  "
                f"{res.socket_errors:<14}{res.non_2xx_3xx:>8}"
                f"{hello._fmt_us(res.user_us_per_request):>9}"
                f"{hello._fmt_us(res.sys_us_per_request):>8}",
                file=out,
            )
    print("\nratios (req/s)", file=out)
    servers = results.servers
    builds = [(name + COMPILED, name) for name in servers if name + COMPILED in servers]
    for conns in cfg.connections:
        parts = []
        for name, peer in (
            (ASGI, "uvicorn"),
            (ASGI, "granian"),
            (ASGI, "serve_http-uvloop"),
            ("serve_http", "dsexec-tuned"),
            (ASGI + COMPILED, "uvicorn"),
            *builds,
        ):
            value = ratio(results, name, peer, conns)
            if value is not None:
                parts.append(f"{name}/{peer} {value:.2f}x")
        print(f"  -c{conns:<5}" + ("  ".join(parts) or "no pair measured"), file=out)
    print("\ntargets (issue 11; the compiled build's: issue 14)", file=out)
    for what, shown, met in targets(results):
        verdict = "n/a" if met is None else ("PASS" if met else "FAIL")
        print(f"  {what:<44}{shown:>8}  {verdict}", file=out)
    if results.shutdowns:
        print("\nshutdown (how each server process stopped)", file=out)
        for name in results.servers:
            ways = sorted(set(results.shutdowns.get(name, [])))
            print(f"  {name:<28}{'; '.join(ways) or '-'}", file=out)
    if results.failures:
        print("\nfailures", file=out)
        for name, whats in results.failures.items():
            for what in whats:
                print(f"  {name}: {what}", file=out)


def check_responses(first: dict[str, bytes]) -> list[str]:
    """Every server answered ``200`` with the hello body (headers differ between servers)."""
    notes = []
    for name, response in first.items():
        if not response.startswith(b"HTTP/1.1 200 ") or not response.endswith(EXPECTED_BODY):
            notes.append(f"{name}: unexpected answer {response!r}")
    return notes


# --------------------------------------------------------------------------------------------
# Main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Hello-world ASGI benchmark: dsexec vs uvicorn and granian, with dsexec's "
        "serve_http and tuned hello server (see benchmarks/http_asgi/README.md).",
    )
    parser.add_argument("--quick", action="store_true", help="smoke test: 1 s runs, -c50 only")
    parser.add_argument("--duration", type=int, help="seconds per measured wrk run (default 10)")
    parser.add_argument("--warmup", type=int, help="seconds of wrk warm-up per point (default 2)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds; the best is reported")
    parser.add_argument("--connections", help="comma-separated wrk -c values (default 50,500)")
    parser.add_argument("--servers", help="comma-separated subset (default: all available)")
    parser.add_argument("--list-servers", action="store_true", help="list servers and exit")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--wrk-cpu", type=int, default=1)
    parser.add_argument("--wrk-timeout", type=float, default=2.0, help="wrk --timeout seconds")
    parser.add_argument("--python", default=sys.executable, help="interpreter of the servers")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument(
        "--compiled-python",
        metavar="PYTHON",
        help="also run dsexec's servers on the compiled build, by PYTHON (default: "
        ".venv-compiled/bin/python when it exists; 'none' skips them)",
    )
    return parser.parse_args(argv)


def make_config(args: argparse.Namespace, wrk: str | None = None) -> Config:
    if args.rounds < 1:
        raise BenchError(f"--rounds must be >= 1, got {args.rounds}")
    quick = bool(args.quick)
    if args.connections:
        connections = tuple(int(part) for part in str(args.connections).split(",") if part)
    else:
        connections = (50,) if quick else (50, 500)
    wrk = wrk or shutil.which("wrk")
    if wrk is None:
        raise BenchError("wrk is not installed (apt-get install wrk)")
    return Config(
        duration=args.duration if args.duration is not None else (1 if quick else 10),
        warmup=args.warmup if args.warmup is not None else (1 if quick else 2),
        rounds=args.rounds,
        connections=connections,
        idle_connections=0,
        server_cpu=args.server_cpu,
        wrk_cpu=args.wrk_cpu,
        wrk=wrk,
        wrk_timeout=args.wrk_timeout,
        nginx=None,
        python=args.python,
        compiled_python=hello.compiled_python(args.compiled_python),
    )


def run(cfg: Config, specs: list[ServerSpec]) -> Results:
    results = Results(cfg, [spec.name for spec in specs])
    first: dict[str, bytes] = {}
    for round_no, conns, spec in hello._schedule(cfg, specs):
        label = f"[{spec.name}] -c{conns}"
        if cfg.rounds > 1:
            label += f" (round {round_no}/{cfg.rounds})"
        hello._log(f"{label}: warm-up {cfg.warmup} s, measure {cfg.duration} s")
        try:
            with hello.running(spec, cfg) as server:
                first.setdefault(spec.name, server.first_response)
                if cfg.warmup > 0:
                    hello.run_wrk(server.port, conns, cfg.warmup, cfg)
                before = hello.process_cpu_seconds(server.pid)
                res = hello.run_wrk(server.port, conns, cfg.duration, cfg)
                res = hello.with_cpu(res, before, hello.process_cpu_seconds(server.pid))
                if server.proc.poll() is not None:
                    raise BenchError(f"exited during the run:\n{server.log_tail()}")
            results.shutdowns.setdefault(spec.name, []).append(server.stopped_by)
            results.runs.setdefault(spec.name, {}).setdefault(conns, []).append(res)
            hello._log(
                f"{label}: {res.requests_per_s:,.0f} req/s, p99 {hello._fmt_ms(res.p99_ms)} ms, "
                f"errors {res.socket_errors}, user {hello._fmt_us(res.user_us_per_request)} us"
            )
        except BenchError as exc:
            hello._log(f"{label}: FAILED: {exc}")
            results.fail(spec.name, f"-c{conns}: {exc}")
    for name, response in first.items():
        results.responses[name] = response.decode(errors="replace")
    for note in check_responses(first):
        results.fail("responses", note)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, hello._raise_interrupt)
    try:
        cfg = make_config(args)
        available, notes = available_servers(cfg)
        if args.list_servers:
            for spec in available.values():
                print(f"{spec.name:<28}{spec.description}")
            for note in notes:
                print(f"# {note}")
            return 0
        if args.servers:
            wanted = [name.strip() for name in str(args.servers).split(",") if name.strip()]
            unknown = [name for name in wanted if name not in available]
            if unknown:
                raise BenchError(
                    f"unknown or unavailable server(s) {unknown}; available: "
                    f"{', '.join(available)}" + "".join(f"\n  {note}" for note in notes)
                )
            specs = [available[name] for name in dict.fromkeys(wanted)]
        else:
            specs = list(available.values())
        for note in notes:
            hello._log(f"note: {note}")
        hello._raise_nofile(max(cfg.connections) + 1024)
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {cfg.wrk_cpu})
        results = run(cfg, specs)
        print_report(results, sys.stdout)
        if args.json is not None:
            args.json.write_text(
                json.dumps(
                    {
                        "config": asdict(cfg),
                        "responses": results.responses,
                        "wrk": {
                            name: {
                                str(c): {"best": asdict(best), "runs": [asdict(r) for r in runs]}
                                for c, runs in by_conns.items()
                                if (best := results.best(name, c)) is not None
                            }
                            for name, by_conns in results.runs.items()
                        },
                        "targets": [list(check) for check in targets(results)],
                        "shutdowns": results.shutdowns,
                        "failures": results.failures,
                    },
                    indent=2,
                )
            )
        return 1 if results.failures else 0
    except BenchError as exc:
        hello._log(f"error: {exc}")
        return 2
    except KeyboardInterrupt as exc:
        hello._log(f"interrupted ({exc.args[0] if exc.args else 'Ctrl-C'}): stopping servers")
        return 130
    finally:
        hello._kill_all()


if __name__ == "__main__":
    sys.exit(main())
