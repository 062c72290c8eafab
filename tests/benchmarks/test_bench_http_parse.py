"""``benchmarks/bench_http_parse.py`` runs (``--quick``) and reports every figure it promises."""

from __future__ import annotations

import sys

import pytest

from benchmarks import bench_http_parse


def test_quick_run_prints_a_figure_and_a_ratio_for_each_request(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["bench_http_parse.py", "--quick"])
    bench_http_parse.main()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["request", "dsexec", "us", "httptools", "us", "ratio", "h11", "us"]
    rows = {line[:26].strip(): line[26:].split() for line in lines[1:]}
    assert set(rows) == {
        "small GET",
        "browser GET (9 headers)",
        "small POST (16 B body)",
        "small GET x16 pipelined",
        "serialize hello + Date",
    }
    for name, figures in rows.items():
        assert all(float(figure) > 0 for figure in figures), name
    assert len(rows["small GET"]) == 4
