"""The testable parts of ``benchmarks/http_hello/run.py``: measuring order, wrk parsing, CPU
per request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from benchmarks.http_hello.run import (
    Config,
    ServerSpec,
    _schedule,
    parse_wrk,
    process_cpu_seconds,
    with_cpu,
)
from tests._helpers.bench import hello_config


def _no_command(port: int, workdir: Path, cfg: Config) -> list[str]:
    return []


def _config(rounds: int, connections: tuple[int, ...]) -> Config:
    return hello_config(rounds=rounds, connections=connections)


def test_each_round_starts_with_the_next_server() -> None:
    specs = [ServerSpec(name, name, _no_command) for name in ("a", "b", "c")]
    points = [(r, c, s.name) for r, c, s in _schedule(_config(3, (50, 500)), specs)]
    assert points == [
        (1, 50, "a"), (1, 50, "b"), (1, 50, "c"), (1, 500, "a"), (1, 500, "b"), (1, 500, "c"),
        (2, 50, "b"), (2, 50, "c"), (2, 50, "a"), (2, 500, "b"), (2, 500, "c"), (2, 500, "a"),
        (3, 50, "c"), (3, 50, "a"), (3, 50, "b"), (3, 500, "c"), (3, 500, "a"), (3, 500, "b"),
    ]  # fmt: skip


WRK_OUTPUT = """\
Running 5s test @ http://127.0.0.1:40000/
  1 threads and 500 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     6.53ms    2.01ms  20.87ms   71.20%
    Req/Sec    68.50k     3.10k   74.00k    80.00%
  Latency Distribution
     50%    6.31ms
     75%    7.50ms
     90%    9.00ms
     99%   13.16ms
  340705 requests in 5.00s, 25.99MB read
  Socket errors: connect 0, read 3, write 0, timeout 7
  Non-2xx or 3xx responses: 2
Requests/sec:  68141.00
Transfer/sec:      5.20MB
"""


def test_parse_wrk_reads_rate_percentiles_and_errors() -> None:
    result = parse_wrk(WRK_OUTPUT)
    assert result.requests_per_s == 68141.0
    assert result.requests == 340705
    assert result.p50_ms == 6.31
    assert result.p99_ms == 13.16
    assert result.max_ms == 20.87
    assert result.socket_errors == "0/3/0/7"
    assert result.non_2xx_3xx == 2


def test_cpu_per_request_is_the_difference_over_the_requests() -> None:
    result = with_cpu(parse_wrk(WRK_OUTPUT), (1.0, 2.0), (1.340705, 2.681410))
    assert result.user_us_per_request == pytest.approx(1.0)
    assert result.sys_us_per_request == pytest.approx(2.0)
    assert with_cpu(parse_wrk(WRK_OUTPUT), None, (1.0, 1.0)).user_us_per_request is None


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_process_cpu_seconds_counts_a_process_and_its_children() -> None:
    burn = (
        "import sys, time\n"
        "t = time.process_time()\n"
        "while time.process_time() - t < 0.05: pass\n"
        "print('burnt', flush=True)\n"
        "sys.stdin.read()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", burn], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "burnt\n"
        alone = process_cpu_seconds(child.pid)
        with_children = process_cpu_seconds(os.getpid())
        assert alone is not None
        assert with_children is not None
        assert sum(alone) >= 0.04
        assert sum(with_children) >= sum(alone)
    finally:
        assert child.stdin is not None
        assert child.stdout is not None
        child.stdin.close()
        child.wait(timeout=30)
        child.stdout.close()
