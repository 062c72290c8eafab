"""The testable parts of ``benchmarks/http_asgi/run.py``: the servers it knows, the ratios and
targets it reports, the response check -- and that its dsexec ASGI server starts and answers
(no wrk run: that is the benchmark's job, on a quiet machine)."""

from __future__ import annotations

import argparse
import io
import shutil
from pathlib import Path

import pytest
from benchmarks.http_asgi.run import (
    ASGI,
    Config,
    Results,
    ServerSpec,
    available_servers,
    check_responses,
    make_config,
    parse_args,
    print_report,
    ratio,
    targets,
)
from benchmarks.http_hello.run import WrkResult, running


def config(connections: tuple[int, ...] = (50, 500)) -> Config:
    return make_config(parse_args(["--connections", ",".join(map(str, connections))]), "wrk")


def result(rate: float, timeouts: int = 0) -> WrkResult:
    return WrkResult(rate, int(rate), 1.0, 2.0, 3.0, timeouts=timeouts)


def results_with(rates: dict[str, tuple[float, float]], timeouts: int = 0) -> Results:
    results = Results(config(), list(rates))
    for name, (at_50, at_500) in rates.items():
        results.runs[name] = {50: [result(at_50)], 500: [result(at_500, timeouts)]}
    return results


def test_the_dsexec_server_and_the_two_serve_http_variants_are_always_there() -> None:
    available, _notes = available_servers(config())
    assert {ASGI, "serve_http", "dsexec-tuned"} <= set(available)
    argv = available[ASGI].command(8000, Path("/tmp"), config())
    assert argv[1:4] == ["-m", "dsexec.http.asgi", "app:app"]
    assert "--port" in argv
    assert "8000" in argv


def test_ratios_and_targets_follow_the_best_rounds() -> None:
    results = results_with(
        {
            ASGI: (30000, 20000),
            "uvicorn": (10000, 10000),
            "granian": (25000, 10000),
            "serve_http": (35000, 30000),
            "dsexec-tuned": (40000, 50000),
        },
        timeouts=3,
    )
    assert ratio(results, ASGI, "uvicorn", 50) == pytest.approx(3.0)
    assert ratio(results, ASGI, "nobody", 50) is None
    verdicts = {what: met for what, _, met in targets(results)}
    assert verdicts[f"{ASGI} >= 2.5x uvicorn at -c50"] is True
    assert verdicts[f"{ASGI} >= 2.5x uvicorn at -c500"] is False
    assert verdicts[f"{ASGI} >= 1.5x granian at -c50"] is False
    assert verdicts[f"{ASGI} >= 1.5x granian at -c500"] is True
    assert verdicts["serve_http >= 0.7x dsexec-tuned at -c50"] is True
    assert verdicts["serve_http >= 0.7x dsexec-tuned at -c500"] is False
    assert verdicts[f"{ASGI}: zero wrk timeouts at -c500"] is False


def test_the_report_names_every_server_and_says_pass_fail_or_na() -> None:
    results = results_with({ASGI: (30000, 20000), "uvicorn": (10000, 9000)})
    out = io.StringIO()
    print_report(results, out)
    text = out.getvalue()
    assert f"{ASGI}/uvicorn 3.00x" in text
    assert "PASS" in text
    assert "FAIL" in text
    assert "n/a" in text


def test_only_hello_answers_pass_the_response_check() -> None:
    good = b"HTTP/1.1 200 OK\r\ncontent-length: 13\r\n\r\nHello, World!"
    assert check_responses({"a": good}) == []
    (note,) = check_responses({"b": b"HTTP/1.1 500 Internal Server Error\r\n\r\noops"})
    assert note.startswith("b: unexpected answer")


def test_bad_rounds_are_refused() -> None:
    args = argparse.Namespace(**{**vars(parse_args([])), "rounds": 0})
    with pytest.raises(Exception, match="--rounds must be >= 1"):
        make_config(args, "wrk")


@pytest.mark.skipif(shutil.which("taskset") is None, reason="needs taskset")
def test_the_dsexec_asgi_server_starts_answers_and_stops_on_sigint() -> None:
    available, _ = available_servers(config())
    spec: ServerSpec = available[ASGI]
    with running(spec, config()) as server:
        assert server.first_response.startswith(b"HTTP/1.1 200 OK\r\n")
        assert server.first_response.endswith(b"Hello, World!")
    assert server.stopped_by.startswith("SIGINT")
