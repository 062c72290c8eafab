"""The ACL and packet-batch benchmarks run in ``--quick`` mode: they finish, check their batch
answers against the per-item loops (a mismatch exits non-zero) and print their ratios."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.parametrize(
    ("script", "ratios"),
    [("bench_acl.py", 5), ("bench_packets.py", 3)],  # a row per method; ratios per row (packets: 3)
)
def test_benchmark_runs_quick_and_prints_its_ratios(script: str, ratios: int) -> None:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(re.findall(r"\d+\.\dx", result.stdout)) == ratios, result.stdout
