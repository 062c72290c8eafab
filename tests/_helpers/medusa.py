"""``MedusaProcess``: ``examples/medusa_serv.py`` in a subprocess, for tests from outside.

Bounded and tidy: every wait has a deadline; stdout and stderr are read by threads (so a wait
never blocks on a silent process); the server runs in its own session, and on exit it gets
SIGTERM, then SIGKILL (with its workers, found through ``/proc``) if it is still there.
Clients are plain sockets on loopback: ``exchange`` sends raw bytes and reads one response.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import attrs

__all__ = ["DEADLINE", "SCRIPT", "MedusaProcess", "Reply", "exchange", "listening_sockets"]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "medusa_serv.py"
DEADLINE = 20.0  # seconds any one step may take before the test fails
LISTENING = re.compile(r"^listening on (\[[0-9a-f:.]+\]|[0-9.]+):(\d+)(?: \((.*)\))?$")
READY = "SIGINT (Ctrl-C) or SIGTERM drains and stops"


@attrs.frozen
class Reply:
    """One parsed HTTP response."""

    status: int
    headers: dict[bytes, bytes]
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        return self.headers.get(name.lower())


def parse_reply(raw: bytes, *, head_only: bool = False) -> Reply:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.split(b"\r\n")
    headers: dict[bytes, bytes] = {}
    for line in lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return Reply(int(status_line.split(b" ")[1]), headers, b"" if head_only else body)


def exchange(
    host: str,
    port: int,
    raw: bytes,
    *,
    source: str | None = None,
    head_only: bool = False,
) -> Reply | None:
    """Send ``raw`` (one request, which should close the connection or carry
    ``Connection: close``), read to the end; ``None`` if the server closed without a byte."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as client:
        client.settimeout(DEADLINE)
        if source is not None:
            client.bind((source, 0))
        client.connect((host, port))
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            client.sendall(raw)
        received = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := client.recv(65536):
                received += chunk
    return parse_reply(received, head_only=head_only) if received else None


def get(target: bytes = b"/", *fields: bytes, method: bytes = b"GET") -> bytes:
    """A request that closes its connection after the answer."""
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: medusa", b"Connection: close"]
    return b"\r\n".join([*lines, *fields]) + b"\r\n\r\n"


def listening_sockets(port: int) -> tuple[int, int] | None:
    """How many listening TCP sockets on ``port`` the system has: ``(IPv6, IPv4)`` from
    ``/proc/net/tcp6`` and ``/proc/net/tcp`` (``None`` without ``/proc``)."""
    counts = []
    for name in ("tcp6", "tcp"):
        path = Path("/proc/net") / name
        if not path.exists():
            return None
        count = 0
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                count += 1
        counts.append(count)
    return counts[0], counts[1]


def _children(pid: int) -> list[int]:
    found = []
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    stat = Path(f"/proc/{entry.name}/stat").read_text()
                    if int(stat.rpartition(")")[2].split()[1]) == pid:
                        found.append(int(entry.name))
    return found


class MedusaProcess:
    """``with MedusaProcess("--port", "0") as medusa:`` a started server; ``medusa.ports``
    holds the real ports of its ``listening on`` lines, ``medusa.lines`` its output so far."""

    def __init__(self, *args: str, ready: bool = True, cwd: Path | None = None) -> None:
        self.args = args
        self.process = subprocess.Popen(
            [sys.executable, str(SCRIPT), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.errors: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, True), daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, False), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        self.ports: list[int] = []
        self.listening: list[str] = []
        if ready:
            try:
                self.wait_for(READY)
            except BaseException:
                self.close()
                raise
            for line in self.lines:
                match = LISTENING.match(line)
                if match:
                    self.listening.append(line)
                    self.ports.append(int(match.group(2)))

    def _read(self, stream: IO[str] | None, is_stdout: bool) -> None:
        assert stream is not None
        for raw in stream:
            line = raw.rstrip("\n")
            (self.lines if is_stdout else self.errors).append(line)
            if is_stdout:
                self._queue.put(line)
        if is_stdout:
            self._queue.put(None)

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_for(self, fragment: str, timeout: float = DEADLINE) -> str:
        """The next stdout line holding ``fragment`` (fails after ``timeout`` or at EOF)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"no line with {fragment!r} in {timeout:g} s; stdout {self.lines[-5:]!r}, "
                    f"stderr {self.errors[-5:]!r}"
                )
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                self.process.wait(DEADLINE)
                raise AssertionError(
                    f"exited with {self.process.returncode} before {fragment!r}; "
                    f"stderr {self.errors[-5:]!r}"
                )
            if fragment in line:
                return line

    def send_signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = DEADLINE) -> int:
        """Wait for the exit; its status."""
        code = self.process.wait(timeout)
        for reader in self._readers:
            reader.join(DEADLINE)
        return code

    def stop(self, signum: int = signal.SIGINT) -> int:
        """A signal, then the exit status."""
        self.send_signal(signum)
        return self.wait()

    def workers(self) -> list[int]:
        """The pids of the worker processes (children of the server)."""
        return _children(self.pid)

    def close(self) -> None:
        if self.process.poll() is None:
            workers = self.workers()
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(DEADLINE)
            except subprocess.TimeoutExpired:
                for pid in [self.pid, *workers]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                self.process.wait(DEADLINE)
        for reader in self._readers:
            reader.join(DEADLINE)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def run_to_exit(*args: str, timeout: float = DEADLINE) -> subprocess.CompletedProcess[str]:
    """Run the server with ``args`` expecting it to stop by itself (a startup error)."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
