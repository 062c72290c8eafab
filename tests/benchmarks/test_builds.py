"""The compiled and pure builds side by side: what the benchmarks' harnesses do to run one server
or one micro-benchmark on the other build."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from benchmarks.http_hello.run import BenchError, Config, compiled_python, on_python
from tests._helpers.bench import hello_config

import dsexec

ROOT = Path(__file__).resolve().parents[2]


def _config() -> Config:
    return hello_config(python="/pure/python")


def test_a_server_command_runs_on_the_interpreter_it_is_given() -> None:
    def command(port: int, workdir: Path, cfg: Config) -> list[str]:
        return [cfg.python, "server.py", str(port)]

    on_compiled = on_python(command, "/compiled/python")
    assert on_compiled(8080, Path("/tmp"), _config()) == ["/compiled/python", "server.py", "8080"]
    assert command(8080, Path("/tmp"), _config())[0] == "/pure/python"


def test_compiled_python_none_skips_and_a_wrong_build_is_refused() -> None:
    assert compiled_python("none") is None
    if dsexec.compiled:
        assert compiled_python(sys.executable) == sys.executable
    else:
        with pytest.raises(BenchError, match="pure-Python build"):
            compiled_python(sys.executable)


def test_a_micro_benchmark_reports_its_rows_as_json_for_the_other_build() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_core.py"), "--quick", "--rows-json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(rows) == {"just | then x100 (connect+start)", "just | then | repeat_n(N)"}
    assert all(rate > 0 for rate in rows.values())


@pytest.mark.skipif(dsexec.compiled, reason="on the compiled build there is no other to run")
def test_the_side_by_side_run_refuses_an_interpreter_whose_dsexec_is_pure() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_core.py"),
            "--quick",
            "--compiled-python",
            sys.executable,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "not the compiled build" in done.stderr
