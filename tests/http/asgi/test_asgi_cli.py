"""``python -m dsexec.http.asgi`` in a subprocess: it serves, drains and exits 0 on SIGINT or
SIGTERM, exits at once on a second SIGINT, runs several workers, and reports every mistake in
one line with a non-zero status and no traceback. Loopback only, free ports, bounded waits."""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PATIENCE = 20.0  # seconds a step may take on a loaded machine before the test fails

APPS = {
    "hello_app": """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello " + scope["path"].encode()})
""",
    "hang_app": """
import anyio

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await anyio.sleep_forever()
""",
    "failing_app": """
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database here"})
""",
    "which_loop_app": """
import asyncio

import sniffio

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    library = sniffio.current_async_library()
    if library == "asyncio":  # uvloop is asyncio too: its loop says which
        library = type(asyncio.get_running_loop()).__module__.split(".")[0]
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": library.encode()})
""",
    "broken_module": "raise ZeroDivisionError('broken at import')\n",
    # Startup announces itself, then waits for the test to create the file ``go``.
    "slow_start_app": """
import os
import sys

import anyio

async def app(scope, receive, send):
    if scope["type"] != "lifespan":
        return
    await receive()
    print("starting up", file=sys.stderr, flush=True)
    while not os.path.exists(os.path.join(os.path.dirname(__file__), "go")):
        await anyio.sleep(0.01)
    await send({"type": "lifespan.startup.complete"})
    await receive()
    print("shut down", file=sys.stderr, flush=True)
    await send({"type": "lifespan.shutdown.complete"})
""",
}


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    for name, source in APPS.items():
        (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
    return tmp_path


class Server:
    """One ``python -m dsexec.http.asgi`` process and what it printed."""

    def __init__(self, app_dir: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dsexec.http.asgi", *args, "--app-dir", str(app_dir)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.out = b""
        self.err = b""

    def read_until(self, pattern: bytes, *, stream: str = "out") -> re.Match[bytes]:
        """Read the process's output until ``pattern`` matches it."""
        deadline = time.monotonic() + PATIENCE
        while True:
            text = self.out if stream == "out" else self.err
            found = re.search(pattern, text)
            if found is not None:
                return found
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self._drain()
                raise AssertionError(
                    f"no {pattern!r} in time; out={self.out!r} err={self.err[-2000:]!r}"
                )
            self._read(0.1)

    def _read(self, timeout: float) -> None:
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        ready, _, _ = select.select([self.proc.stdout, self.proc.stderr], [], [], timeout)
        for pipe in ready:
            chunk = os.read(pipe.fileno(), 65536)
            if pipe is self.proc.stdout:
                self.out += chunk
            else:
                self.err += chunk

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        with contextlib.suppress(OSError, ValueError):
            self.out += self.proc.stdout.read() or b""
            self.err += self.proc.stderr.read() or b""

    def ports(self, count: int = 1) -> list[int]:
        """The ports of the first ``count`` ``listening on`` lines."""
        self.read_until(rb"(?m)(^listening on .*\n){%d}" % count)
        return [int(port) for port in re.findall(rb"(?m)^listening on .*:(\d+)", self.out)]

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self) -> int:
        try:
            code = self.proc.wait(timeout=PATIENCE)
        finally:
            self._drain()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


@contextlib.contextmanager
def server(app_dir: Path, *args: str) -> Iterator[Server]:
    running = Server(app_dir, *args)
    try:
        yield running
    finally:
        running.kill()


def get(port: int, path: str = "/", host: str = "127.0.0.1") -> bytes:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(PATIENCE)
        sock.connect((host, port))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def one_error_line(text: bytes) -> str:
    lines = [line for line in text.decode().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "Traceback" not in text.decode()
    assert lines[0].startswith("error: ")
    return lines[0]


# -- serving and stopping ---------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serves_every_port_and_exits_0_on_a_signal(app_dir: Path, signum: int) -> None:
    with server(app_dir, "hello_app:app", "--port", "0", "--port", "0", "--host", "127.0.0.1") as (
        running
    ):
        ports = running.ports(2)
        assert len(set(ports)) == 2
        assert re.findall(rb"(?m)^listening on 127\.0\.0\.1:\d+$", running.out)
        for port in ports:
            assert get(port, "/x").endswith(b"hello /x")
        running.signal(signum)
        assert running.wait() == 0
        assert b"shutting down" in running.err


@pytest.mark.parametrize("loop", ["asyncio", "uvloop", "trio"])
def test_loop_chooses_the_event_loop_the_app_runs_on(app_dir: Path, loop: str) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    args = ("which_loop_app:app", "--port", "0", "--host", "127.0.0.1", "--loop", loop)
    with server(app_dir, *args) as running:
        (port,) = running.ports()
        assert get(port).endswith(b"\r\n\r\n" + loop.encode())
        running.signal(signal.SIGINT)
        assert running.wait() == 0


def test_a_signal_during_the_apps_startup_drains_once_it_is_done(app_dir: Path) -> None:
    # The handlers are in before the server answers anyone: a signal in that window is no
    # KeyboardInterrupt somewhere in the startup, but a drain once the startup is done.
    with server(app_dir, "slow_start_app:app", "--port", "0", "--host", "127.0.0.1") as running:
        running.read_until(rb"starting up", stream="err")
        running.signal(signal.SIGINT)
        (app_dir / "go").touch()
        assert running.wait() == 0
        assert b"shutting down" in running.err
        assert b"shut down" in running.err
        assert b"Traceback" not in running.err


@pytest.mark.ipv6
def test_the_default_host_is_dual_stack(app_dir: Path) -> None:
    with server(app_dir, "hello_app:app", "--port", "0") as running:
        (port,) = running.ports()
        assert re.search(rb"listening on \[::\]:\d+ \(dual-stack\)", running.out)
        assert get(port, "/4").endswith(b"hello /4")
        assert get(port, "/6", host="::1").endswith(b"hello /6")
        running.signal(signal.SIGINT)
        assert running.wait() == 0


def test_a_second_sigint_exits_at_once_while_a_request_hangs(app_dir: Path) -> None:
    with server(app_dir, "hang_app:app", "--port", "0", "--host", "127.0.0.1") as running:
        (port,) = running.ports()
        with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            running.signal(signal.SIGINT)
            running.read_until(rb"shutting down", stream="err")  # draining: up to 10 s
            started = time.monotonic()
            running.signal(signal.SIGINT)
            assert running.wait() == 130
            assert time.monotonic() - started < 5


def test_workers_share_the_ports_and_stop_together(app_dir: Path) -> None:
    args = ("hello_app:app", "--port", "0", "--host", "127.0.0.1", "--workers", "2")
    with server(app_dir, *args) as running:
        (port,) = running.ports()
        for index in range(6):
            assert get(port, f"/{index}").endswith(f"hello /{index}".encode())
        running.signal(signal.SIGTERM)
        assert running.wait() == 0


# -- mistakes --------------------------------------------------------------------------

MISTAKES = [
    (["hello_app:app", "--bogus"], 2, "unrecognized arguments: --bogus"),
    (["hello_app:app", "--port", "70000"], 2, "a port is 0..65535"),
    (["hello_app:app", "--workers", "0"], 2, "expected a number >= 1"),
    (["hello_app:app", "--drain-timeout", "nan"], 2, "expected seconds > 0"),
    (["hello_app:app", "--root-path", "api/"], 2, "--root-path must start with '/'"),
    (["hello_app"], 1, "APP must look like module:attribute"),
    (["no_such_module:app"], 1, "cannot import module 'no_such_module'"),
    (["hello_app:missing"], 1, "module 'hello_app' has no attribute 'missing'"),
    (["broken_module:app"], 1, "raised ZeroDivisionError: broken at import"),
    (["hello_app:app", "--host", "not-an-ip"], 1, "host must be an IP address"),
    (["failing_app:app", "--port", "0"], 1, "lifespan startup failed: no database here"),
    (
        ["failing_app:app", "--port", "0", "--workers", "2"],
        1,
        "lifespan startup failed: no database here",
    ),
]


@pytest.fixture(scope="module")
def mistakes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[tuple[int, bytes, bytes]]]:
    """Every mistake's (status, stdout, stderr): the processes run side by side."""
    directory = tmp_path_factory.mktemp("apps")
    for name, source in APPS.items():
        (directory / f"{name}.py").write_text(source, encoding="utf-8")
    running = [Server(directory, *args) for args, _, _ in MISTAKES]
    try:
        outcomes = []
        for each in running:
            code = each.wait()
            outcomes.append((code, each.out, each.err))
        yield outcomes
    finally:
        for each in running:
            each.kill()


@pytest.mark.parametrize(
    ("index", "status", "message"),
    [(index, status, message) for index, (_, status, message) in enumerate(MISTAKES)],
    ids=[" ".join(args) for args, _, _ in MISTAKES],
)
def test_a_mistake_is_one_error_line_and_a_non_zero_status(
    mistakes: list[tuple[int, bytes, bytes]], index: int, status: int, message: str
) -> None:
    code, out, err = mistakes[index]
    assert code == status
    line = one_error_line(re.sub(rb"(?m)^INFO .*\n", b"", err))
    assert message in line
    assert out == b""


def test_a_port_in_use_is_one_error_line(app_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for workers in ("1", "2"):
            args = ("hello_app:app", "--port", str(port), "--host", "127.0.0.1")
            with server(app_dir, *args, "--workers", workers) as running:
                assert running.wait() == 1
                line = one_error_line(running.err)
                assert f"cannot listen on port {port}" in line
                assert "already in use" in line
