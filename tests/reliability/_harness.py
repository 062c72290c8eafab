"""What the reliability suites share: the server under test as a subprocess, what the kernel says
about it (fds, RSS, CPU time), ``wrk``, and a small blocking HTTP/1.1 client.

The server under test is a command line (``server_command()``): by default
``tests/reliability/_server.py`` (``HttpServer`` with static files); the one line
``SERVER_SCRIPT`` below, or ``DSEXEC_RELIABILITY_SERVER="python examples/medusa_serv.py"``,
points every suite at another server taking the same options (``--port``, ``--root``,
``--max-connections``, the timeouts, ``--config`` with a ``[limits]`` table) and printing
``listening on [::]:PORT ...``, such as MedusaServ. The suites ask only for static files of the
site ``make_site`` writes (``/``, ``/hello``, ``/big.bin``), and ``POST /echo`` (a server without
it may refuse the request at once: the soak accepts either).

Everything here is bounded: each wait has a deadline, every process started is killed at the
end, every socket is closed.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Final, Self

import attrs

ROOT: Final = Path(__file__).resolve().parents[2]
SERVER_SCRIPT: Final = ROOT / "tests" / "reliability" / "_server.py"
# To drive MedusaServ instead: SERVER_SCRIPT = ROOT / "examples" / "medusa_serv.py"
HELLO: Final = b"Hello, World!"
BIG_FILE: Final = "big.bin"
BIG_BYTES: Final = 6 * 1024 * 1024
BENCH_LOCK: Final = "/tmp/bench.lock"
LISTENING: Final = re.compile(r"listening on \S*:(\d+)(.*)")
_CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")
_STARTUP: Final = 20.0  # seconds a server may take to print its port


def server_command() -> list[str]:
    """The command starting the server under test (``DSEXEC_RELIABILITY_SERVER`` overrides)."""
    override = os.environ.get("DSEXEC_RELIABILITY_SERVER")
    if override:
        return shlex.split(override)
    return [sys.executable, str(SERVER_SCRIPT)]


def make_site(root: Path) -> Path:
    """A document root: the example site, ``hello`` (``HELLO``) and ``big.bin`` (``BIG_BYTES``
    of data)."""
    shutil.copytree(ROOT / "examples" / "www", root, dirs_exist_ok=True)
    (root / "hello").write_bytes(HELLO)
    (root / BIG_FILE).write_bytes(bytes(range(256)) * (BIG_BYTES // 256))
    return root


def limits_file(directory: Path, **limits: float) -> Path:
    """A config file with a ``[limits]`` table (MedusaServ's format), for the limits that have
    no flag (``write_timeout``)."""
    path = directory / "limits.toml"
    lines = ["[limits]", *(f"{key} = {value!r}" for key, value in limits.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def wait_until(condition: Callable[[], bool], timeout: float, *, interval: float = 0.02) -> bool:
    """Poll ``condition`` until it holds (``True``) or ``timeout`` seconds pass (``False``)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class ServerProcess:
    """The server under test, started by ``start``; ``with`` kills it (and its group) on exit.

    ``port`` is the first port it printed; ``fd_count()``, ``rss_kib()`` and ``cpu_seconds()``
    read ``/proc``; ``stderr`` is what it wrote there so far. ``tls_ports`` are those it printed
    as ``(..., TLS)``; ``port`` is the first other one.
    """

    def __init__(self, popen: subprocess.Popen[bytes], ports: list[int]) -> None:
        self.popen = popen
        self.pid = popen.pid
        self.ports = ports
        self.port = ports[0]
        self.tls_ports: list[int] = []
        self._stderr: list[bytes] = []
        self._stdout: list[bytes] = []
        self._pumps: list[threading.Thread] = []

    @classmethod
    def start(
        cls,
        *args: str,
        cpu: int | None = None,
        nofile: int | None = None,
        command: Sequence[str] | None = None,
    ) -> ServerProcess:
        """Start ``command`` (default ``server_command()``) with ``args``, pinned to ``cpu``
        (``taskset``, where the machine has that CPU) and with ``RLIMIT_NOFILE`` set to
        ``nofile`` if given; return once it printed its port."""
        argv: list[str] = []
        if cpu is not None and (os.cpu_count() or 1) > cpu:
            argv += ["taskset", "-c", str(cpu)]
        argv += [*(command or server_command()), *args]

        def limit_fds() -> None:
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=limit_fds if nofile is not None else None,  # noqa: PLW1509
            start_new_session=True,
        )
        assert popen.stdout is not None
        assert popen.stderr is not None
        ports: list[int] = []
        tls_ports: list[int] = []
        ready = threading.Event()
        server = cls(popen, [0])

        def pump(stream: IO[bytes], into: list[bytes], look: bool) -> None:
            for line in iter(stream.readline, b""):
                into.append(line)
                if look:
                    found = LISTENING.search(line.decode("utf-8", "replace"))
                    if found:
                        tls = "TLS" in found.group(2)
                        (tls_ports if tls else ports).append(int(found.group(1)))
                        ready.set()
            ready.set()  # the stream ended: the process is gone

        for stream, into, look in (
            (popen.stdout, server._stdout, True),
            (popen.stderr, server._stderr, False),
        ):
            pumping = threading.Thread(target=pump, args=(stream, into, look), daemon=True)
            pumping.start()
            server._pumps.append(pumping)
        ready.wait(_STARTUP)
        time.sleep(0.05)  # let the other listening lines (if any) arrive
        if not ports and not tls_ports:
            server.kill()
            raise RuntimeError(
                f"the server {argv} printed no port; stderr: {server.stderr[-2000:]}"
            )
        server.ports = list(ports)
        server.port = ports[0] if ports else 0
        server.tls_ports = list(tls_ports)
        return server

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.kill()

    @property
    def stderr(self) -> str:
        return b"".join(self._stderr).decode("utf-8", "replace")

    @property
    def stdout(self) -> str:
        return b"".join(self._stdout).decode("utf-8", "replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def fd_count(self) -> int:
        """Open fds of the server (``/proc/PID/fd``)."""
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def rss_kib(self) -> int:
        """Resident memory of the server in KiB (``VmRSS`` of ``/proc/PID/status``)."""
        with open(f"/proc/{self.pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError(f"no VmRSS for pid {self.pid}")

    def cpu_seconds(self) -> float:
        """User plus system CPU time the server has used (``/proc/PID/stat``)."""
        with open(f"/proc/{self.pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def settle_fds(self, baseline: int, timeout: float = 10.0) -> int:
        """Wait until the fd count is back to ``baseline`` (or ``timeout``); the count."""
        wait_until(lambda: self.fd_count() <= baseline, timeout)
        return self.fd_count()

    def signal(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def wait(self, timeout: float) -> int | None:
        """The exit status once it exits within ``timeout`` seconds, else ``None``."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.popen.wait(timeout)
        return None

    def kill(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)
        for pump in self._pumps:  # they read to EOF, which the exit brings
            pump.join(5.0)
        for stream in (self.popen.stdout, self.popen.stderr):
            if stream is not None:
                stream.close()


# -- wrk ---------------------------------------------------------------------------------------


@attrs.frozen
class WrkResult:
    """What one ``wrk`` run reported."""

    requests: int
    seconds: float
    socket_errors: dict[str, int]
    non_2xx_3xx: int
    p99_ms: float
    output: str

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


_LOCK_BUSY: Final = 75  # flock's exit status when the lock stayed taken
_UNITS_MS: Final = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(output: str) -> WrkResult:
    """The figures of ``wrk --latency`` output."""
    done = re.search(r"(\d+) requests in ([\d.]+)(\w+)", output)
    if done is None:
        raise ValueError(f"not wrk output: {output!r:.500}")
    seconds = float(done.group(2)) * {"s": 1.0, "ms": 0.001, "m": 60.0}[done.group(3)]
    errors: dict[str, int] = {}
    found = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if found:
        kinds = ("connect", "read", "write", "timeout")
        errors = dict(zip(kinds, map(int, found.groups()), strict=True))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s|m)\b", output)
    return WrkResult(
        requests=int(done.group(1)),
        seconds=seconds,
        socket_errors=errors,
        non_2xx_3xx=int(non_2xx.group(1)) if non_2xx else 0,
        p99_ms=float(p99.group(1)) * _UNITS_MS[p99.group(2)] if p99 else float("nan"),
        output=output,
    )


def run_wrk(
    url: str,
    *,
    connections: int,
    seconds: float,
    cpu: int | None = 1,
    timeout: float = 5.0,
    lock_wait: float = 90.0,
) -> WrkResult:
    """``wrk -t1 -cN -dS --latency URL``, pinned to ``cpu``, under ``flock BENCH_LOCK`` (so it
    does not overlap another benchmark on the machine). ``TimeoutError`` if the lock stays
    taken for ``lock_wait`` seconds."""
    argv = ["flock", "-E", str(_LOCK_BUSY), "-w", str(lock_wait), BENCH_LOCK]
    if cpu is not None and (os.cpu_count() or 1) > cpu:
        argv += ["taskset", "-c", str(cpu)]
    argv += [
        "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", f"--timeout={timeout:g}s",
        "--latency", url,
    ]  # fmt: skip
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=lock_wait + seconds + 60, check=False
    )
    if done.returncode == _LOCK_BUSY:
        raise TimeoutError(f"{BENCH_LOCK} stayed locked for {lock_wait} s: {done.stderr}")
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout} {done.stderr}")
    return parse_wrk(done.stdout)


# -- a blocking HTTP/1.1 client ------------------------------------------------------------------


@attrs.frozen
class Reply:
    """One response as a client saw it."""

    status: int
    headers: dict[bytes, bytes]
    body: bytes


class ConnectionClosed(Exception):
    """Raised when the server closed the connection before a whole response arrived."""


class Client:
    """A keep-alive client on one blocking socket (``timeout`` seconds per operation)."""

    def __init__(self, port: int, host: str = "127.0.0.1", *, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffer = b""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def request(self, path: str = "/", *, method: str = "GET", extra: bytes = b"") -> Reply:
        """Send one request and read its response."""
        self.sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: test\r\n".encode() + extra + b"\r\n")
        return self.read_response(head_only=method == "HEAD")

    def _fill(self) -> None:
        data = self.sock.recv(262144)
        if not data:
            raise ConnectionClosed(f"closed by the server; got {self._buffer[:200]!r}")
        self._buffer += data

    def _take(self, count: int) -> bytes:
        while len(self._buffer) < count:
            self._fill()
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def _line(self) -> bytes:
        while b"\r\n" not in self._buffer:
            self._fill()
        line, _, self._buffer = self._buffer.partition(b"\r\n")
        return line

    def read_response(self, *, head_only: bool = False) -> Reply:
        """The next response on the connection (Content-Length, chunked, or up to the close)."""
        while b"\r\n\r\n" not in self._buffer:
            self._fill()
        head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        status_line, *lines = head.split(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        headers: dict[bytes, bytes] = {}
        for line in lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if head_only or status in (204, 304) or status < 200:
            body = b""
        elif b"content-length" in headers:
            body = self._take(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding") == b"chunked":
            pieces = []
            while size := int(self._line().split(b";")[0], 16):
                pieces.append(self._take(size))
                self._take(2)
            while self._line():  # trailers, then the empty line
                pass
            body = b"".join(pieces)
        else:
            with contextlib.suppress(ConnectionClosed):
                while True:
                    self._fill()
            body, self._buffer = self._buffer, b""
        return Reply(status, headers, body)

    def closed_by_peer(self, timeout: float) -> bool:
        """Whether the server closes the connection within ``timeout`` seconds (EOF or reset,
        after any bytes still in flight)."""
        return read_until_closed(self.sock, timeout) is not None


def read_until_closed(sock: socket.socket, timeout: float) -> int | None:
    """Read and drop what arrives until EOF or a reset: the byte count, or ``None`` if the
    connection is still open after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    total = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        readable, _, _ = select.select([sock], [], [], left)
        if not readable:
            continue
        try:
            data = sock.recv(262144)
        except (ConnectionResetError, BrokenPipeError):
            return total
        except (BlockingIOError, TimeoutError):
            continue
        if not data:
            return total
        total += len(data)


def get(port: int, path: str = "/hello", host: str = "127.0.0.1", timeout: float = 10.0) -> Reply:
    """One request on a fresh connection."""
    with Client(port, host, timeout=timeout) as client:
        return client.request(path)


@contextlib.contextmanager
def closing_all() -> Iterator[list[socket.socket]]:
    """A list to put sockets in; every one is closed at the end of the block."""
    sockets: list[socket.socket] = []
    try:
        yield sockets
    finally:
        for sock in sockets:
            sock.close()
