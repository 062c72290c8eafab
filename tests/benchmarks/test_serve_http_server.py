"""benchmarks/http_hello/serve_http_server.py as the harness runs it: a process answering the
tuned server's bytes (plus a ``Date``) on a kept-alive connection, drained by SIGINT; and the
harness's response check, which allows that ``Date``."""

from __future__ import annotations

import io
import re
import signal
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from benchmarks.http_hello import dsexec_server as tuned
from benchmarks.http_hello.run import (
    Results,
    WrkResult,
    check_responses,
    print_report,
    read_response,
    without_date,
)
from tests._helpers.bench import hello_config

SERVER = Path(__file__).resolve().parents[2] / "benchmarks" / "http_hello" / "serve_http_server.py"
GET = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def test_the_server_answers_the_tuned_servers_bytes_plus_a_date_and_exits_on_sigint() -> None:
    server = subprocess.Popen(
        [sys.executable, str(SERVER), "0", "--host", "127.0.0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline().decode()
        found = re.search(r":(\d+)\s*$", line)
        assert found is not None, line
        with socket.create_connection(("127.0.0.1", int(found.group(1))), timeout=10) as client:
            answers = []
            for _ in range(2):  # the connection stays open between them
                client.sendall(GET)
                answers.append(read_response(client))
        for answer in answers:
            assert re.search(rb"\r\nDate: [^\r\n]+ GMT\r\n", answer)
            assert without_date(answer) == tuned.KEEP_ALIVE
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=10) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        if server.stdout is not None:
            server.stdout.close()


def _results() -> Results:
    cfg = hello_config(python=sys.executable)
    return Results(cfg, ["dsexec", "serve_http", "asyncio"])


def _run(rate: float, timeouts: int = 0) -> WrkResult:
    return WrkResult(rate, int(rate) * 5, 1.0, 2.0, 3.0, timeouts=timeouts)


def test_the_report_checks_serve_http_against_the_tuned_server() -> None:
    results = _results()
    results.config = replace(results.config, connections=(50, 500))
    results.runs = {
        "dsexec": {50: [_run(1000)], 500: [_run(1000)]},
        "serve_http": {50: [_run(750)], 500: [_run(500, timeouts=3)]},
    }
    out = io.StringIO()
    print_report(results, out)
    report = out.getvalue()
    section = report[report.index("targets for serve_http") :]
    assert "req/s >= 0.7x dsexec   at -c50     0.75x  PASS" in section
    assert "req/s >= 0.7x dsexec   at -c500    0.50x  FAIL" in section
    assert "zero wrk timeouts at -c500" in section
    assert section.split("zero wrk timeouts at -c500")[1].split("\n")[0].endswith("3  FAIL")


def test_check_responses_allows_a_date_header_but_no_other_difference() -> None:
    dated = tuned.KEEP_ALIVE.replace(b"\r\n", b"\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n", 1)
    other = tuned.KEEP_ALIVE.replace(b"\r\n", b"\r\nServer: x\r\n", 1)
    results = _results()
    first = {"dsexec": tuned.KEEP_ALIVE, "serve_http": dated, "asyncio": other}
    notes = check_responses(results, first)
    assert len(notes) == 1
    assert notes[0].startswith("asyncio:")
