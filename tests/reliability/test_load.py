"""Load: the server under ``wrk`` at many connections, then back to where it started.

The server runs in its own process pinned to CPU 0, ``wrk`` (one thread) on CPU 1, both under
``flock /tmp/bench.lock`` discipline (wrk takes the lock). Each run:

1. one request, then the fd count settles: the **fd baseline**;
2. a warm-up ``wrk`` run with the same connection count (the allocator and the Date cache reach
   their working size), fds back to baseline, then the **RSS baseline**;
3. the measured run: no socket error (connect, read, write, timeout at ``--timeout 5s``) and no
   answer other than 2xx/3xx;
4. afterwards the fd count is back to exactly the baseline (every connection closed), and RSS
   within 10% + 4 MiB of its baseline (a leak of a kilobyte per request would show tens of
   megabytes).

The default run holds 200 connections for 2 s; ``-m slow`` runs the issue's 1,000 connections
for 10 s. The figures are printed (``pytest -s``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.reliability._harness import ServerProcess, get, run_wrk

pytestmark = pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (Debian/Ubuntu: apt install wrk)"
)


def hold_load(site: Path, connections: int, seconds: float) -> None:
    args = ["--port", "0", "--root", str(site), "--max-connections", str(2 * connections)]
    with ServerProcess.start(*args, cpu=0) as server:
        fd_baseline = server.fd_count()
        assert get(server.port, "/").status == 200
        assert server.settle_fds(fd_baseline) == fd_baseline
        url = f"http://127.0.0.1:{server.port}/"
        try:
            warm = run_wrk(url, connections=connections, seconds=min(seconds / 2, 2.0))
        except TimeoutError as busy:
            pytest.skip(str(busy))
        assert warm.requests > 0
        assert server.settle_fds(fd_baseline) == fd_baseline
        rss_baseline = server.rss_kib()

        result = run_wrk(url, connections=connections, seconds=seconds)
        fds_right_after = server.fd_count()
        fds_after = server.settle_fds(fd_baseline)
        rss_after = server.rss_kib()
        print(
            f"\nload: {connections} connections for {seconds:g} s: {result.requests} requests "
            f"({result.rate:.0f}/s), p99 {result.p99_ms:.0f} ms, socket errors "
            f"{result.socket_errors or 'none'}, non-2xx/3xx {result.non_2xx_3xx}; fds "
            f"{fd_baseline} -> {fds_right_after} -> {fds_after}; RSS {rss_baseline} KiB -> "
            f"{rss_after} KiB"
        )
        assert result.requests > connections, result.output
        assert sum(result.socket_errors.values()) == 0, result.output
        assert result.non_2xx_3xx == 0, result.output
        assert fds_after == fd_baseline
        assert rss_after <= rss_baseline * 1.10 + 4096
        assert get(server.port, "/hello").status == 200  # still serving


def test_the_server_holds_200_connections_without_errors_and_returns_to_baseline(
    site: Path,
) -> None:
    hold_load(site, connections=200, seconds=2.0)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_server_holds_1000_connections_for_10_s_without_errors_and_returns_to_baseline(
    site: Path,
) -> None:
    hold_load(site, connections=1000, seconds=10.0)
