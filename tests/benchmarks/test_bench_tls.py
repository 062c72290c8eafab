"""The TLS benchmark runs in ``--quick`` mode: it finishes and prints a TLS/plain ratio for each
of its four rows."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_the_tls_benchmark_runs_quick_and_prints_its_ratios() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_tls.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(re.findall(r"\d+\.\dx", result.stdout)) == 4, result.stdout
