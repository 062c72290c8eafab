"""The examples run: each server starts on a free port, answers a real client on loopback, and
exits cleanly on SIGINT. Bounded: every wait has a deadline and the process is killed on failure."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"listening on (?:\[[0-9a-f:.]+\]|[0-9.]+):(\d+)")
DEADLINE = 20.0
CLOSE_DEADLINE = 5.0  # a server that should close a connection has done so by then


@contextmanager
def running(script: str, *args: str) -> Iterator[tuple[subprocess.Popen[str], list[int]]]:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        ports: list[int] = []
        expected = args.count("--port") or 1
        while len(ports) < expected:
            line = process.stdout.readline()
            assert line, f"{script} exited before listening (code {process.poll()})"
            match = LISTENING.search(line)
            if match:
                ports.append(int(match.group(1)))
        yield process, ports
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(DEADLINE)
        if process.stdout is not None:
            process.stdout.close()


def interrupt_and_wait(process: subprocess.Popen[str], signum: int = signal.SIGINT) -> int:
    process.send_signal(signum)
    return process.wait(DEADLINE)


def exchange(port: int, family: socket.AddressFamily, host: str, payload: bytes) -> bytes:
    with socket.create_connection((host, port), timeout=DEADLINE) as client:
        assert client.family == family
        client.sendall(payload)
        client.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := client.recv(65536):
            received += chunk
        return received


def test_echo_server_echoes_on_every_port_and_stops_on_sigint() -> None:
    with running("echo_server.py", "--port", "0", "--port", "0") as (process, ports):
        assert len(set(ports)) == 2
        for port in ports:
            assert exchange(port, socket.AF_INET, "127.0.0.1", b"hello over IPv4") == (
                b"hello over IPv4"
            )
        assert interrupt_and_wait(process) == 0


def test_hello_pipeline_answers_pipelined_keep_alive_requests() -> None:
    with running("hello_pipeline.py", "0") as (process, [port]):
        request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        answer = exchange(port, socket.AF_INET, "127.0.0.1", request * 3)
        assert answer.count(b"HTTP/1.1 200 OK\r\n") == 3
        assert answer.endswith(b"Hello, World!")
        assert interrupt_and_wait(process) == 0


def ask(port: int, host: str, payload: bytes) -> bytes:
    """Send ``payload`` without closing our side; return what the server sends until it closes
    the connection (a server that keeps it open fails the test after ``CLOSE_DEADLINE``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as client:
        client.settimeout(CLOSE_DEADLINE)
        client.connect((host, port))
        client.sendall(payload)
        received = b""
        try:
            while chunk := client.recv(65536):
                received += chunk
        except ConnectionResetError:  # closed with our unread request bytes: a reset
            pass
        return received


@pytest.fixture(scope="module")
def hello_port() -> Iterator[int]:
    """One hello_pipeline.py server for the tests that only talk to it."""
    with running("hello_pipeline.py", "0") as (process, [port]):
        yield port
        assert interrupt_and_wait(process) == 0


def test_hello_pipeline_closes_after_answering_connection_close(hello_port: int) -> None:
    request = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    answer = ask(hello_port, "127.0.0.1", request + request)  # the second one is not answered
    assert answer.count(b"HTTP/1.1 200 OK\r\n") == 1
    assert b"\r\nConnection: close\r\n" in answer
    assert answer.endswith(b"Hello, World!")


def test_hello_pipeline_closes_after_an_http10_request_without_keep_alive(hello_port: int) -> None:
    answer = ask(hello_port, "127.0.0.1", b"GET / HTTP/1.0\r\n\r\n" * 2)
    assert answer.count(b"HTTP/1.1 200 OK\r\n") == 1
    assert answer.endswith(b"Hello, World!")


def test_hello_pipeline_keeps_an_http10_keep_alive_connection_open(hello_port: int) -> None:
    request = b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"
    close = b"GET / HTTP/1.1\r\nconnection:CLOSE\r\n\r\n"  # case and spaces do not matter
    answer = ask(hello_port, "127.0.0.1", request + request + close)
    assert answer.count(b"HTTP/1.1 200 OK\r\n") == 3


def test_hello_pipeline_ends_a_connection_whose_head_is_too_large(hello_port: int) -> None:
    assert ask(hello_port, "127.0.0.1", b"GET / HTTP/1.1\r\nX: " + b"x" * 17000) == b""


@pytest.mark.ipv6
def test_hello_pipeline_answers_an_ipv6_client(hello_port: int) -> None:
    answer = exchange(hello_port, socket.AF_INET6, "::1", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert answer.endswith(b"Hello, World!")


def test_hello_pipeline_stops_on_sigterm() -> None:
    with running("hello_pipeline.py", "0", "--host", "127.0.0.1") as (process, [port]):
        assert exchange(port, socket.AF_INET, "127.0.0.1", b"GET / HTTP/1.1\r\n\r\n")
        assert interrupt_and_wait(process, signal.SIGTERM) == 0


def test_hello_pipeline_reports_a_busy_port_in_one_line() -> None:
    with socket.socket(socket.AF_INET) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(ROOT / "examples" / "hello_pipeline.py"), str(port),
             "--host", "127.0.0.1"],
            capture_output=True, text=True, timeout=DEADLINE, check=False,
        )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr


def test_echo_server_listens_on_an_ipv4_host_and_stops_on_sigterm() -> None:
    # --host 127.0.0.1 used to crash: enable_dual_stack(True) on an IPv4 acceptor
    with running("echo_server.py", "--port", "0", "--host", "127.0.0.1") as (process, [port]):
        assert exchange(port, socket.AF_INET, "127.0.0.1", b"v4 only") == b"v4 only"
        assert interrupt_and_wait(process, signal.SIGTERM) == 0
        assert process.stdout is not None
        assert "SIGTERM: shutting down" in process.stdout.read()


def test_echo_server_reports_a_busy_port_in_one_line() -> None:
    with socket.socket(socket.AF_INET) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(ROOT / "examples" / "echo_server.py"), "--port", str(port),
             "--host", "127.0.0.1"],
            capture_output=True, text=True, timeout=DEADLINE, check=False,
        )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
