"""``benchmarks/http_hello/calls.py``: calls per request, counted (not timed) on a real server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from benchmarks.http_hello import calls
from benchmarks.http_hello import run as hello


def test_the_count_of_a_request_is_the_same_run_after_run() -> None:
    target = calls.Target("dsexec", hello.DSEXEC_SERVER)
    first = calls.per_request(target, 40, sys.executable, top=1000)
    second = calls.per_request(target, 40, sys.executable, top=1000)
    # The same count every time: start-up and shutdown cancel out between the N and 2N runs,
    # so the server's own functions (Python in both builds) count exactly once per request.
    # (Compiled, calls made from compiled code are invisible to cProfile: fewer in all.) The
    # Python functions' sum is compared: CPython 3.12's profiler also counts some builtin
    # constructor calls (``type.__new__``), a varying number of them.
    assert 3 < first.per_request < 200
    assert _in_python(first) == pytest.approx(_in_python(second), abs=0.5)
    each = {name.rpartition("(")[2]: count for count, name in first.top if "dsexec_server" in name}
    assert each == {"__call__)": pytest.approx(1.0), "closed)": pytest.approx(1.0)}


def _in_python(count: calls.Count) -> float:
    """Calls per request of functions written in Python (not builtins)."""
    return sum(per_request for per_request, name in count.top if ".py:" in name)


def test_an_unknown_server_is_refused() -> None:
    with pytest.raises(hello.BenchError, match="unknown nginx"):
        calls.targets(calls.parse_args(["--servers", "dsexec,nginx"]))


def test_main_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert calls.main(["--requests", "20", "--top", "3", "--servers", "serve_http"]) == 0
    out = capsys.readouterr().out
    assert "serve_http:" in out
    assert "calls per request" in out


@pytest.mark.parametrize("requests", ["0", "-3", "many"])
def test_a_bad_request_count_is_refused(requests: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        calls.parse_args(["--requests", requests])
    assert exit_info.value.code == 2


def test_a_compare_checkout_without_the_script_is_refused(tmp_path: Path) -> None:
    with pytest.raises(hello.BenchError, match="does not exist"):
        calls.targets(calls.parse_args(["--compare", f"old={tmp_path}"]))
