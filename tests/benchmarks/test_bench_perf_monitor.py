"""``benchmarks/bench_perf_monitor.py --quick`` runs and prints every figure; its memory rows
show no growth (numbers, not timings, so this is not a timed assert)."""

from __future__ import annotations

import pytest
from benchmarks.bench_perf_monitor import main


def test_the_quick_run_prints_every_figure_and_flat_memory(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["--quick"])
    lines = capsys.readouterr().out.splitlines()
    names = [line.split("  ")[0] for line in lines]
    for name in (
        "with monitor.start_operation()",
        "monitor.start_operation().finish()",
        "just(None) | measured() connect+start",
        "capacity 16,384",
        "capacity 65,536",
        "10,000",
        "200,000",
    ):
        assert name in names
    growth = next(line for line in lines if line.startswith("growth")).split()
    rss_kib, blocks = int(growth[1]), int(growth[2])
    assert blocks < 1_000  # one object kept per operation would be 190,000
    assert rss_kib < 1_024  # one float per operation would be 1.5 MB
