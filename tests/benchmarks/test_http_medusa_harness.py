"""The testable parts of ``benchmarks/http_medusa/run.py``: the site, nginx's configuration and
the verdicts on the targets (no wrk run here: that is the benchmark's job)."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

from benchmarks.http_hello.run import WrkResult
from benchmarks.http_medusa.run import FILES, Config, Results, _nginx, make_site, report


def config(connections: tuple[int, ...]) -> Config:
    return Config(
        duration=1,
        warmup=0,
        connections=connections,
        files=tuple(FILES),
        wrk="wrk",
        wrk_timeout=2.0,
        nginx="nginx",
        python="python3",
    )


def rate(value: float, timeouts: int = 0) -> WrkResult:
    return WrkResult(value, int(value), 1.0, 2.0, 3.0, timeouts=timeouts)


def test_the_site_holds_both_files_at_their_sizes(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    for name, size in FILES.values():
        assert (site / name).stat().st_size == size


def test_nginx_serves_the_site_root_with_sendfile(tmp_path: Path) -> None:
    argv = _nginx("/usr/sbin/nginx")(18080, tmp_path / "site", tmp_path)
    conf = (tmp_path / "nginx.conf").read_text()
    assert argv[:3] == ["/usr/sbin/nginx", "-p", str(tmp_path)]
    assert f"root {tmp_path / 'site'};" in conf
    assert "sendfile on;" in conf
    assert "master_process off;" in conf
    assert "listen 127.0.0.1:18080" in conf


def test_the_targets_pass_and_fail_on_the_ratios_and_the_timeouts() -> None:
    results = Results()
    for connections in (50, 500):
        results.runs[("medusa", "small", connections)] = rate(600)
        results.runs[("nginx", "small", connections)] = rate(1000)
        results.runs[("medusa", "1MB", connections)] = rate(90)
        results.runs[("nginx", "1MB", connections)] = rate(100)
    out = io.StringIO()
    assert report(config((50, 500)), results, out)
    assert "FAIL" not in out.getvalue()
    results.runs[("medusa", "1MB", 500)] = rate(70)  # 0.7x: below 0.8x
    out = io.StringIO()
    assert not report(config((50, 500)), results, out)
    assert "0.70x  FAIL" in out.getvalue()
    results.runs[("medusa", "1MB", 500)] = rate(95, timeouts=3)
    out = io.StringIO()
    assert not report(config((50, 500)), results, out)
    assert [line.split()[-2:] for line in out.getvalue().splitlines() if "timeouts" in line] == [
        ["0", "PASS"],
        ["3", "FAIL"],
    ]


def test_without_nginx_the_ratios_are_not_applicable() -> None:
    results = Results()
    results.runs[("medusa", "small", 50)] = rate(600)
    out = io.StringIO()
    assert report(config((50,)), results, out)
    assert "n/a" in out.getvalue()


def test_each_build_measured_gets_its_own_targets() -> None:
    results = Results()
    for connections in (50, 500):
        results.runs[("medusa", "small", connections)] = rate(300)  # 0.3x: the pure build misses
        results.runs[("medusa-compiled", "small", connections)] = rate(600)
        results.runs[("nginx", "small", connections)] = rate(1000)
    cfg = replace(config((50, 500)), files=("small",))
    out = io.StringIO()
    assert not report(cfg, results, out)
    text = out.getvalue()
    pure, compiled = text.split("targets (medusa / nginx")[1], text.split("(medusa-compiled")[1]
    assert "0.30x  FAIL" in pure.split("targets (")[0]
    assert "FAIL" not in compiled
    del results.runs[("medusa", "small", 50)], results.runs[("medusa", "small", 500)]
    out = io.StringIO()
    assert report(cfg, results, out)  # only the compiled build measured: its targets alone
    assert "targets (medusa / nginx" not in out.getvalue()
