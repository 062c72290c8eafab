"""HTTP/1.1 keep-alive "Hello, World!": dsexec's tuned server beside asyncio, uvloop, threads
and nginx, measured in one run on this machine.

Run from the repository root:

    .venv/bin/python benchmarks/http_hello/run.py                 # full run (10 s per point)
    .venv/bin/python benchmarks/http_hello/run.py --quick         # smoke test
    .venv/bin/python benchmarks/http_hello/run.py --servers asyncio,nginx --duration 5

For every server and concurrency (``-c50`` and ``-c500``) the harness starts a fresh server
process pinned to CPU 0 (``taskset -c 0``), waits until it answers, runs a 2 s ``wrk`` warm-up
and then the measured ``wrk -t1 --latency`` run pinned to CPU 1, and stops the server
(SIGINT, then SIGTERM, then SIGKILL after a grace period). Then, with another fresh process per
server, it measures the RSS growth per idle keep-alive connection: VmRSS from /proc/PID/status
before and after opening 2,000 connections, each of which has made one request and read its
answer. Only paired figures from the same run mean anything on a shared machine: read the
ratios, not the absolute numbers. See README.md for the targets.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import functools
import json
import os
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import IO, NoReturn

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DSEXEC_SERVER = HERE / "dsexec_server.py"
SERVE_HTTP_SERVER = HERE / "serve_http_server.py"
HOST = "127.0.0.1"
REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
EXPECTED_BODY = b"Hello, World!"
DATE_LINE = re.compile(rb"\r\nDate: [^\r\n]*\r\n", re.IGNORECASE)
READY_TIMEOUT = 30.0  # seconds for a server to answer its first request
STOP_GRACE = 5.0  # seconds after SIGINT, and again after SIGTERM, before SIGKILL
IDLE_WARM_CONNECTIONS = 10  # opened and closed before the idle baseline, to pay one-time costs
RSS_POLL_INTERVAL = 0.1
RSS_STABLE_SAMPLES = 10  # a stable RSS: this many samples in a row within RSS_STABLE_SPAN_KB
RSS_STABLE_SPAN_KB = 32
RSS_STABLE_TIMEOUT = 15.0
TARGET_VS_ASYNCIO = 1.0
TARGET_VS_NGINX = 0.9
TARGET_KB_PER_CONNECTION = 1.0
TARGET_TIMEOUT_CONNECTIONS = 500
TARGET_SERVE_HTTP_VS_DSEXEC = 0.7  # the plain serve_http handler against the tuned server
# The compiled build (issue 14): the tuned server on it against nginx and uvloop, and its CPU.
TARGET_COMPILED_VS_NGINX = 1.0
TARGET_COMPILED_VS_UVLOOP = 1.1
TARGET_COMPILED_USER_US = 2.5
COMPILED_VENV_PYTHON = ROOT / ".venv-compiled" / "bin" / "python"


class BenchError(Exception):
    """Raised when a server or wrk misbehaves in a way that makes a measurement meaningless."""


# --------------------------------------------------------------------------------------------
# Process hygiene: every child is registered, killed in `finally`, and dies with the harness.

_LIVE: set[subprocess.Popen[bytes]] = set()
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL if the harness dies without cleaning up."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def _spawn(
    argv: Sequence[str], *, stdout: int | IO[bytes], stderr: int | IO[bytes]
) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,  # a terminal Ctrl-C reaches the harness only; it stops them
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - the harness is single-threaded
    )
    _LIVE.add(proc)
    return proc


def _stop(proc: subprocess.Popen[bytes], grace: float = STOP_GRACE) -> str:
    """Stop a child: SIGINT, then SIGTERM, then SIGKILL of its process group. Says how."""
    try:
        if proc.poll() is not None:
            return f"had exited (status {proc.returncode})"
        for signum in (signal.SIGINT, signal.SIGTERM):
            started = time.monotonic()
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signum)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                continue
            return f"{signal.Signals(signum).name} ({time.monotonic() - started:.2f} s)"
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return "SIGKILL (ignored SIGINT and SIGTERM)"
    finally:
        if proc.poll() is None:  # interrupted half-way: no leftovers, whatever happens
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        _LIVE.discard(proc)


def _kill_all() -> None:
    for proc in list(_LIVE):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        _LIVE.discard(proc)


def _raise_interrupt(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt(f"received {signal.Signals(signum).name}")


# --------------------------------------------------------------------------------------------
# Servers


@dataclass(frozen=True)
class Config:
    duration: int
    warmup: int
    rounds: int
    connections: tuple[int, ...]
    idle_connections: int
    server_cpu: int
    wrk_cpu: int
    wrk: str
    wrk_timeout: float
    nginx: str | None
    python: str
    compare: tuple[tuple[str, Path, str], ...] = ()  # (name, checkout, server script in it)
    compiled_python: str | None = None  # an interpreter whose dsexec is the compiled build


Command = Callable[[int, Path, "Config"], list[str]]  # (port, private temp dir, config) -> argv


@dataclass(frozen=True)
class ServerSpec:
    name: str
    description: str
    command: Callable[[int, Path, Config], list[str]]  # (port, private temp dir, config) -> argv


def _dsexec_server(backend: str | None) -> Callable[[int, Path, Config], list[str]]:
    def command(port: int, workdir: Path, cfg: Config) -> list[str]:
        argv = [cfg.python, str(DSEXEC_SERVER), str(port)]
        return [*argv, "--backend", backend] if backend is not None else argv

    return command


def _serve_http_server(port: int, workdir: Path, cfg: Config) -> list[str]:
    return [cfg.python, str(SERVE_HTTP_SERVER), str(port)]


def _compared_server(checkout: Path, script: str) -> Callable[[int, Path, Config], list[str]]:
    """dsexec's server from another checkout (its own ``src`` first on the path), to measure
    two versions of dsexec in one run."""

    def command(port: int, workdir: Path, cfg: Config) -> list[str]:
        return [
            "env",
            f"PYTHONPATH={checkout / 'src'}",
            cfg.python,
            str(checkout / script),
            str(port),
        ]

    return command


def on_python(command: Command, python: str) -> Command:
    """``command`` run by ``python`` instead of ``--python``: the same server on another build
    of dsexec (the compiled one) in the same run."""

    def on(port: int, workdir: Path, cfg: Config) -> list[str]:
        return command(port, workdir, replace(cfg, python=python))

    return on


def compiled_python(choice: str | None) -> str | None:
    """The interpreter of the compiled build (``--compiled-python``; by default
    ``.venv-compiled``'s, what ``make pytest-compiled`` builds, if it exists), or ``None``."""
    if choice == "none" or (choice is None and not COMPILED_VENV_PYTHON.exists()):
        return None
    python = choice or str(COMPILED_VENV_PYTHON)
    probe = "import dsexec, sys; sys.exit(0 if dsexec.compiled else 3)"
    try:
        done = subprocess.run([python, "-c", probe], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BenchError(f"--compiled-python {python}: cannot run it ({exc})") from None
    if done.returncode != 0:
        why = "is the pure-Python build" if done.returncode == 3 else "cannot import dsexec"
        raise BenchError(f"--compiled-python {python}: its dsexec {why}")
    return python


def _peer_asyncio(uvloop: bool) -> Callable[[int, Path, Config], list[str]]:
    def command(port: int, workdir: Path, cfg: Config) -> list[str]:
        argv = [cfg.python, str(HERE / "peer_asyncio.py"), str(port)]
        return [*argv, "--uvloop"] if uvloop else argv

    return command


def _peer_threads(port: int, workdir: Path, cfg: Config) -> list[str]:
    return [cfg.python, str(HERE / "peer_threads.py"), str(port)]


NGINX_CONF = """\
# generated by benchmarks/http_hello/run.py
worker_processes 1;
daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
worker_rlimit_nofile {nofile};
events {{
    worker_connections {worker_connections};
}}
http {{
    access_log off;
    server_tokens off;
    keepalive_timeout 300s;
    keepalive_requests 1000000000;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen {host}:{port} backlog=4096;
        location / {{
            default_type text/plain;
            return 200 "Hello, World!";
        }}
    }}
}}
"""


def _nginx(port: int, workdir: Path, cfg: Config) -> list[str]:
    assert cfg.nginx is not None
    worker_connections = max(4096, cfg.idle_connections + max(cfg.connections) + 100)
    conf = workdir / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            dir=workdir,
            host=HOST,
            port=port,
            nofile=worker_connections + 100,
            worker_connections=worker_connections,
        )
    )
    return [cfg.nginx, "-p", str(workdir), "-c", str(conf), "-e", str(workdir / "error.log")]


def dsexec_backends(python: str) -> tuple[list[str], str | None]:
    """The ``--backend`` choices of dsexec_server.py (none if it has no such option) and the
    default one if its help text names it."""
    try:
        done = subprocess.run(
            [python, str(DSEXEC_SERVER), "--help"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return [], None
    text = done.stdout
    match = re.search(r"--backend\s+\{([^}]*)\}", text)
    if done.returncode != 0 or match is None:
        return [], None
    choices = [choice.strip() for choice in match.group(1).split(",") if choice.strip()]
    option_help = re.split(r"\n\s*-", text[match.end() :], maxsplit=1)[0]
    default = re.search(r"default[:=]?\s*['\"]?([A-Za-z_][\w-]*)", option_help)
    return choices, default.group(1) if default else None


def available_servers(cfg: Config) -> tuple[dict[str, ServerSpec], list[str]]:
    """Every server this machine can run, in table order, and notes on the missing ones."""
    specs: list[ServerSpec] = []
    notes: list[str] = []
    if DSEXEC_SERVER.exists():
        specs.append(ServerSpec("dsexec", "dsexec_server.py", _dsexec_server(None)))
        choices, default = dsexec_backends(cfg.python)
        for backend in choices:
            if backend != default:
                specs.append(
                    ServerSpec(
                        f"dsexec-{backend}",
                        f"dsexec_server.py --backend {backend}",
                        _dsexec_server(backend),
                    )
                )
        if default is not None:
            notes.append(f"dsexec: default backend {default!r}; other backends: {choices}")
    else:
        notes.append(f"dsexec: {DSEXEC_SERVER.relative_to(ROOT)} does not exist (skipped)")
    if SERVE_HTTP_SERVER.exists():
        specs.append(
            ServerSpec("serve_http", "serve_http_server.py (plain serve_http)", _serve_http_server)
        )
    if cfg.compiled_python is None:
        notes.append("compiled build: no .venv-compiled (make pytest-compiled makes it): skipped")
    else:
        on_compiled = functools.partial(on_python, python=cfg.compiled_python)
        if DSEXEC_SERVER.exists():
            specs.append(
                ServerSpec(
                    "dsexec-compiled",
                    f"dsexec_server.py on the compiled build ({cfg.compiled_python})",
                    on_compiled(_dsexec_server(None)),
                )
            )
        if SERVE_HTTP_SERVER.exists():
            specs.append(
                ServerSpec(
                    "serve_http-compiled",
                    "serve_http_server.py on the compiled build",
                    on_compiled(_serve_http_server),
                )
            )
    for name, checkout, script in cfg.compare:
        server = _compared_server(checkout, script)
        specs.append(ServerSpec(name, f"{script} of {checkout}", server))
    specs.append(ServerSpec("asyncio", "peer_asyncio.py (asyncio Protocol)", _peer_asyncio(False)))
    specs.append(ServerSpec("uvloop", "peer_asyncio.py --uvloop", _peer_asyncio(True)))
    specs.append(ServerSpec("threads", "peer_threads.py (thread per connection)", _peer_threads))
    if cfg.nginx is not None:
        specs.append(ServerSpec("nginx", "nginx, 1 process, return 200", _nginx))
    else:
        notes.append("nginx: not installed (skipped)")
    return {spec.name: spec for spec in specs}, notes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def read_response(sock: socket.socket) -> bytes:
    """Read one HTTP response with a Content-Length body (all these servers send one)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise BenchError(f"connection closed after {len(data)} bytes of a response head")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
    if length is None:
        raise BenchError(f"response without Content-Length: {head!r}")
    while len(body) < int(length.group(1)):
        chunk = sock.recv(4096)
        if not chunk:
            raise BenchError("connection closed inside a response body")
        body += chunk
    return head + b"\r\n\r\n" + body


def request_once(port: int, timeout: float = 5.0) -> bytes:
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(REQUEST)
        return read_response(sock)


@dataclass
class Server:
    spec: ServerSpec
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    first_response: bytes = b""
    stopped_by: str = ""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


@contextlib.contextmanager
def running(spec: ServerSpec, cfg: Config) -> Iterator[Server]:
    """A fresh server process pinned to the server CPU, answering on a free port."""
    with tempfile.TemporaryDirectory(prefix=f"http_hello_{spec.name}_") as tmp:
        workdir = Path(tmp)
        port = free_port()
        argv = ["taskset", "-c", str(cfg.server_cpu), *spec.command(port, workdir, cfg)]
        log = workdir / "server.log"
        with log.open("wb") as log_file:
            proc = _spawn(argv, stdout=log_file, stderr=subprocess.STDOUT)
        server = Server(spec, port, proc, log)
        try:
            deadline = time.monotonic() + READY_TIMEOUT
            while True:
                if proc.poll() is not None:
                    raise BenchError(
                        f"{spec.name} exited with status {proc.returncode} before answering:\n"
                        f"{server.log_tail()}"
                    )
                try:
                    server.first_response = request_once(port, timeout=2.0)
                    break
                except (OSError, BenchError) as exc:
                    if time.monotonic() > deadline:
                        raise BenchError(
                            f"{spec.name} did not answer on {HOST}:{port} within "
                            f"{READY_TIMEOUT:.0f} s ({exc}):\n{server.log_tail()}"
                        ) from exc
                    time.sleep(0.05)
            yield server
        finally:
            server.stopped_by = _stop(proc)


# --------------------------------------------------------------------------------------------
# wrk


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    requests: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    connect_errors: int = 0
    read_errors: int = 0
    write_errors: int = 0
    timeouts: int = 0
    non_2xx_3xx: int = 0
    # CPU the server process (and its children: nginx's worker) spent per request during the
    # run, from /proc: user = the server's own code and libraries, sys = the kernel's work
    user_us_per_request: float | None = None
    sys_us_per_request: float | None = None

    @property
    def socket_errors(self) -> str:
        return f"{self.connect_errors}/{self.read_errors}/{self.write_errors}/{self.timeouts}"


_TIME_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_TIME = r"([\d.]+)(us|ms|s|m|h)"


def _ms(value: str, unit: str) -> float:
    return float(value) * _TIME_UNITS_MS[unit]


def parse_wrk(output: str) -> WrkResult:
    """Parse ``wrk --latency`` output (no Lua script needed)."""
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    total = re.search(r"^\s*(\d+) requests in ", output, re.M)
    if rate is None or total is None:
        raise BenchError(f"cannot parse wrk output:\n{output}")

    def percentile(label: str) -> float | None:
        found = re.search(rf"^\s*{label}(?:\.0+)?%\s+{_TIME}\s*$", output, re.M)
        return _ms(found.group(1), found.group(2)) if found else None

    latency = re.search(rf"^\s*Latency\s+{_TIME}\s+{_TIME}\s+{_TIME}", output, re.M)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    connect, read, write, timeout = (int(n) for n in errors.groups()) if errors else (0,) * 4
    return WrkResult(
        requests_per_s=float(rate.group(1)),
        requests=int(total.group(1)),
        p50_ms=percentile("50"),
        p99_ms=percentile("99"),
        max_ms=_ms(latency.group(5), latency.group(6)) if latency else None,
        connect_errors=connect,
        read_errors=read,
        write_errors=write,
        timeouts=timeout,
        non_2xx_3xx=int(non_2xx.group(1)) if non_2xx else 0,
    )


def run_wrk(port: int, connections: int, duration: int, cfg: Config) -> WrkResult:
    return wrk_url(
        f"http://{HOST}:{port}/",
        connections,
        duration,
        wrk=cfg.wrk,
        cpu=cfg.wrk_cpu,
        timeout=cfg.wrk_timeout,
    )


def wrk_url(
    url: str, connections: int, duration: int, *, wrk: str, cpu: int, timeout: float
) -> WrkResult:
    """One ``wrk -t1`` run against ``url`` pinned to ``cpu``, parsed."""
    argv = [
        "taskset", "-c", str(cpu), wrk,
        "-t1", f"-c{connections}", f"-d{duration}s", "--latency",
        "--timeout", f"{timeout:g}s",
        url,
    ]  # fmt: skip
    proc = _spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=duration + 60)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"wrk did not finish: {' '.join(argv)}") from exc
    finally:
        _stop(proc, grace=1.0)
    if proc.returncode != 0:
        raise BenchError(f"wrk failed ({proc.returncode}): {err.decode(errors='replace')}")
    return parse_wrk(out.decode(errors="replace"))


# --------------------------------------------------------------------------------------------
# CPU per request


def _stat_fields(pid: int) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name (which may hold spaces)."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rpartition(")")[2].split()


def process_cpu_seconds(pid: int) -> tuple[float, float] | None:
    """User and system CPU seconds of ``pid`` and its children (None without ``/proc``)."""
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit() and entry.name != str(pid):
                with contextlib.suppress(OSError, IndexError):
                    if int(_stat_fields(int(entry.name))[1]) == pid:  # field 4: ppid
                        pids.append(int(entry.name))
    user = system = 0
    try:
        for each in pids:
            fields = _stat_fields(each)
            user += int(fields[11])  # field 14: utime
            system += int(fields[12])  # field 15: stime
    except (OSError, IndexError, ValueError):
        return None
    return user / ticks, system / ticks


def with_cpu(
    res: WrkResult, before: tuple[float, float] | None, after: tuple[float, float] | None
) -> WrkResult:
    """``res`` with the CPU per request between two :func:`process_cpu_seconds` samples."""
    if before is None or after is None or not res.requests:
        return res
    return replace(
        res,
        user_us_per_request=(after[0] - before[0]) / res.requests * 1e6,
        sys_us_per_request=(after[1] - before[1]) / res.requests * 1e6,
    )


# --------------------------------------------------------------------------------------------
# RSS per idle connection


@dataclass(frozen=True)
class RssResult:
    connections: int
    still_open: int
    before_kb: int
    after_kb: int
    setup_s: float
    stable: bool

    @property
    def kb_per_connection(self) -> float:
        return (self.after_kb - self.before_kb) / self.connections


def vm_rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


def stable_rss_kb(pid: int) -> tuple[int, bool]:
    """Poll VmRSS until RSS_STABLE_SAMPLES samples in a row lie within RSS_STABLE_SPAN_KB."""
    samples: list[int] = []
    deadline = time.monotonic() + RSS_STABLE_TIMEOUT
    while True:
        samples.append(vm_rss_kb(pid))
        window = samples[-RSS_STABLE_SAMPLES:]
        if len(window) == RSS_STABLE_SAMPLES and max(window) - min(window) <= RSS_STABLE_SPAN_KB:
            return window[-1], True
        if time.monotonic() > deadline:
            return samples[-1], False
        time.sleep(RSS_POLL_INTERVAL)


def open_idle(port: int, count: int) -> list[socket.socket]:
    """``count`` keep-alive connections, each after one full request/response exchange."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.create_connection((HOST, port), timeout=10.0)
            socks.append(sock)
            sock.sendall(REQUEST)
            read_response(sock)
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks


def count_open(socks: Sequence[socket.socket]) -> int:
    """Connections the server has not closed (an idle open one has nothing to read)."""
    poller = select.poll()
    for sock in socks:
        poller.register(sock, select.POLLIN | select.POLLERR | select.POLLHUP)
    return len(socks) - len(poller.poll(0))


def measure_idle(server: Server, count: int) -> RssResult:
    for sock in open_idle(server.port, IDLE_WARM_CONNECTIONS):
        sock.close()
    before, _ = stable_rss_kb(server.pid)
    started = time.monotonic()
    socks = open_idle(server.port, count)
    try:
        setup = time.monotonic() - started
        after, stable = stable_rss_kb(server.pid)
        still_open = count_open(socks)
    finally:
        for sock in socks:
            sock.close()
    return RssResult(count, still_open, before, after, setup, stable)


# --------------------------------------------------------------------------------------------
# Report


@dataclass
class Results:
    config: Config
    servers: list[str]
    responses: dict[str, str] = field(default_factory=dict)
    runs: dict[str, dict[int, list[WrkResult]]] = field(default_factory=dict)
    rss: dict[str, RssResult] = field(default_factory=dict)
    failures: dict[str, list[str]] = field(default_factory=dict)
    shutdowns: dict[str, list[str]] = field(default_factory=dict)

    def fail(self, name: str, what: str) -> None:
        self.failures.setdefault(name, []).append(what)

    def best(self, name: str, conns: int) -> WrkResult | None:
        """The run with the most req/s, with socket errors and non-2xx summed over all runs."""
        runs = self.runs.get(name, {}).get(conns)
        if not runs:
            return None
        return replace(
            max(runs, key=lambda run: run.requests_per_s),
            connect_errors=sum(run.connect_errors for run in runs),
            read_errors=sum(run.read_errors for run in runs),
            write_errors=sum(run.write_errors for run in runs),
            timeouts=sum(run.timeouts for run in runs),
            non_2xx_3xx=sum(run.non_2xx_3xx for run in runs),
        )


def _fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _fmt_us(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _ratio(num: float | None, den: float | None) -> float | None:
    return None if num is None or not den else num / den


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def _ratio_target(
    out: IO[str], num: float | None, den: float | None, *, target: float, peer: str, conns: int
) -> None:
    """One target line: ``num / den`` (req/s) against ``target`` times ``peer`` at ``conns``."""
    ratio = _ratio(num, den)
    shown = "-" if ratio is None else f"{ratio:.2f}x"
    ok = None if ratio is None else ratio >= target
    verdict = _verdict(ok)
    print(f"  req/s >= {target:.1f}x {peer:<8} at -c{conns:<4} {shown:>7}  {verdict}", file=out)


def _timeouts_target(out: IO[str], res: WrkResult | None) -> None:
    """The target line "zero wrk timeouts" for the best result at the timeout point."""
    ok = None if res is None else res.timeouts == 0
    shown = "-" if res is None else str(res.timeouts)
    print(
        f"  zero wrk timeouts at -c{TARGET_TIMEOUT_CONNECTIONS}{'':<9}{shown:>7}  {_verdict(ok)}",
        file=out,
    )


def print_report(results: Results, out: IO[str]) -> None:
    cfg = results.config
    names = results.servers
    print(
        f"\nwrk -t1, {cfg.duration} s per point after a {cfg.warmup} s warm-up; server on CPU "
        f"{cfg.server_cpu}, wrk on CPU {cfg.wrk_cpu}; errors = connect/read/write/timeout;\n"
        "user us / sys us = the server's CPU per request in its own code and libraries / in the "
        "kernel (a steadier figure than req/s on a noisy machine)",
        file=out,
    )
    print(
        f"{'server':<16}{'conns':>6}{'req/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'  errors':<16}{'non-2xx':>8}{'user us':>9}{'sys us':>8}",
        file=out,
    )
    for conns in cfg.connections:
        for name in names:
            res = results.best(name, conns)
            if res is None:
                print(f"{name:<16}{conns:>6}{'(failed)':>11}", file=out)
                continue
            print(
                f"{name:<16}{conns:>6}{res.requests_per_s:>11,.0f}{_fmt_ms(res.p50_ms):>9}"
                f"{_fmt_ms(res.p99_ms):>9}{_fmt_ms(res.max_ms):>9}  {res.socket_errors:<14}"
                f"{res.non_2xx_3xx:>8}{_fmt_us(res.user_us_per_request):>9}"
                f"{_fmt_us(res.sys_us_per_request):>8}",
                file=out,
            )
    dsexec_names = [name for name in names if name.startswith("dsexec")]

    def rate(name: str, conns: int) -> float | None:
        res = results.best(name, conns)
        return res.requests_per_s if res else None

    if dsexec_names:
        print("\nratios (req/s)", file=out)
        for conns in cfg.connections:
            for name in dsexec_names:
                parts = []
                for peer in ("asyncio", "uvloop", "threads", "nginx"):
                    ratio = _ratio(rate(name, conns), rate(peer, conns))
                    if ratio is not None:
                        parts.append(f"{name}/{peer} {ratio:.2f}x")
                print(f"  -c{conns:<5}" + ("  ".join(parts) or "no peer measured"), file=out)

    if results.rss:
        print(
            f"\nRSS per idle keep-alive connection (each made one request first; VmRSS, "
            f"stable over {RSS_STABLE_SAMPLES * RSS_POLL_INTERVAL:.0f} s)",
            file=out,
        )
        print(
            f"{'server':<16}{'conns':>6}{'open':>6}{'before MB':>11}{'after MB':>10}"
            f"{'KB/conn':>9}{'setup s':>9}",
            file=out,
        )
        for name in names:
            rss = results.rss.get(name)
            if rss is None:
                print(f"{name:<16}{'(failed)':>6}", file=out)
                continue
            flag = "" if rss.stable else "  (RSS still moving)"
            print(
                f"{name:<16}{rss.connections:>6}{rss.still_open:>6}{rss.before_kb / 1024:>11.1f}"
                f"{rss.after_kb / 1024:>10.1f}{rss.kb_per_connection:>9.2f}{rss.setup_s:>9.2f}"
                f"{flag}",
                file=out,
            )

    for name in dsexec_names:
        print(f"\ntargets for {name}", file=out)
        for conns in cfg.connections:
            for peer, target in (("asyncio", TARGET_VS_ASYNCIO), ("nginx", TARGET_VS_NGINX)):
                _ratio_target(
                    out, rate(name, conns), rate(peer, conns), target=target, peer=peer, conns=conns
                )
        _timeouts_target(out, results.best(name, TARGET_TIMEOUT_CONNECTIONS))
        rss = results.rss.get(name)
        kb = None if rss is None else rss.kb_per_connection
        kb_ok = (
            None
            if rss is None
            else (
                kb is not None
                and kb <= TARGET_KB_PER_CONNECTION
                and rss.still_open == rss.connections
            )
        )
        shown = "-" if kb is None else f"{kb:.2f}"
        print(
            f"  <= {TARGET_KB_PER_CONNECTION:.1f} KB RSS per idle connection{'':<3}{shown:>7}  "
            f"{_verdict(kb_ok)}",
            file=out,
        )

    if "dsexec-compiled" in names:
        print("\ntargets for the compiled build (dsexec-compiled)", file=out)
        for conns in cfg.connections:
            for peer, target in (
                ("nginx", TARGET_COMPILED_VS_NGINX),
                ("uvloop", TARGET_COMPILED_VS_UVLOOP),
            ):
                ours = rate("dsexec-compiled", conns)
                _ratio_target(out, ours, rate(peer, conns), target=target, peer=peer, conns=conns)
            res = results.best("dsexec-compiled", conns)
            user = None if res is None else res.user_us_per_request
            ok = None if user is None else user <= TARGET_COMPILED_USER_US
            print(
                f"  user us/request <= {TARGET_COMPILED_USER_US:.1f} at -c{conns:<4} "
                f"{_fmt_us(user):>7}  {_verdict(ok)}",
                file=out,
            )
        print("\ncompiled / pure (req/s; user us per request, pure / compiled)", file=out)
        for conns in cfg.connections:
            for pure in ("dsexec", "serve_http"):
                compiled = f"{pure}-compiled"
                speed = _ratio(rate(compiled, conns), rate(pure, conns))
                mine, theirs = results.best(compiled, conns), results.best(pure, conns)
                cpu = _ratio(
                    theirs.user_us_per_request if theirs else None,
                    mine.user_us_per_request if mine else None,
                )
                print(
                    f"  -c{conns:<5}{compiled:<21}"
                    f"{'-' if speed is None else f'{speed:.2f}x':>7} req/s  "
                    f"{'-' if cpu is None else f'{cpu:.2f}x':>7} less user CPU",
                    file=out,
                )

    if "serve_http" in names:
        print("\ntargets for serve_http", file=out)
        for conns in cfg.connections:
            _ratio_target(
                out,
                rate("serve_http", conns),
                rate("dsexec", conns),
                target=TARGET_SERVE_HTTP_VS_DSEXEC,
                peer="dsexec",
                conns=conns,
            )
        _timeouts_target(out, results.best("serve_http", TARGET_TIMEOUT_CONNECTIONS))

    if results.shutdowns:
        print("\nshutdown (how each server process stopped)", file=out)
        for name in names:
            ways = sorted(set(results.shutdowns.get(name, [])))
            print(f"  {name:<16}{'; '.join(ways) or '-'}", file=out)
    if results.failures:
        print("\nfailures", file=out)
        for name, whats in results.failures.items():
            for what in whats:
                print(f"  {name}: {what}", file=out)


def without_date(response: bytes) -> bytes:
    """``response`` without its ``Date`` header line (``serve_http`` sends one)."""
    return DATE_LINE.sub(b"\r\n", response, count=1)


def check_responses(results: Results, first: dict[str, bytes]) -> list[str]:
    """Compare each server's answer to dsexec_server's (nginx adds headers of its own; a
    ``Date`` header is allowed)."""
    notes = []
    reference_name = "dsexec" if "dsexec" in first else ("asyncio" if "asyncio" in first else "")
    reference = first.get(reference_name)
    for name, response in first.items():
        results.responses[name] = response.decode(errors="replace")
        if not response.endswith(EXPECTED_BODY):
            notes.append(f"{name}: body is not {EXPECTED_BODY!r}: {response!r}")
        elif (
            reference is not None
            and without_date(response) != without_date(reference)
            and name != "nginx"
        ):
            notes.append(f"{name}: answers {response!r}, {reference_name} answers {reference!r}")
    return notes


# --------------------------------------------------------------------------------------------
# Main


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _raise_nofile(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise BenchError(f"RLIMIT_NOFILE hard limit {hard} < {needed} needed; raise it (ulimit)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="HTTP hello-world keep-alive benchmark: dsexec vs asyncio, uvloop, "
        "threads, nginx (see benchmarks/http_hello/README.md).",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: 1 s runs, -c50 only, 200 idle connections"
    )
    parser.add_argument("--duration", type=int, help="seconds per measured wrk run (default 10)")
    parser.add_argument("--warmup", type=int, help="seconds of wrk warm-up per point (default 2)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure every point this many times, interleaved; report the best req/s "
        "(socket errors are summed over all rounds)",
    )
    parser.add_argument("--connections", help="comma-separated wrk -c values (default 50,500)")
    parser.add_argument(
        "--idle", type=int, help="idle connections for the RSS measurement (default 2000; 0 skips)"
    )
    parser.add_argument("--servers", help="comma-separated subset (default: all available)")
    parser.add_argument("--list-servers", action="store_true", help="list servers and exit")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--wrk-cpu", type=int, default=1)
    parser.add_argument(
        "--wrk-timeout",
        type=float,
        default=2.0,
        help="wrk --timeout in seconds (default 2, wrk's own default)",
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter for the Python servers (default: this one)",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="NAME=CHECKOUT[:SCRIPT]",
        help="also measure dsexec's server from another checkout (e.g. a worktree of an older "
        "commit), as server NAME; SCRIPT defaults to benchmarks/http_hello/dsexec_server.py",
    )
    parser.add_argument(
        "--compiled-python",
        metavar="PYTHON",
        help="also measure the servers on the compiled build of dsexec, run by PYTHON "
        "(default: .venv-compiled/bin/python when it exists; 'none' skips them)",
    )
    return parser.parse_args(argv)


def parse_compare(values: Sequence[str]) -> tuple[tuple[str, Path, str], ...]:
    """``--compare NAME=CHECKOUT[:SCRIPT]`` values as (name, checkout, script)."""
    parsed: list[tuple[str, Path, str]] = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise BenchError(f"--compare expects NAME=CHECKOUT[:SCRIPT], got {value!r}")
        checkout, _, script = rest.partition(":")
        script = script or "benchmarks/http_hello/dsexec_server.py"
        if not (Path(checkout) / script).exists():
            raise BenchError(f"--compare {name}: {Path(checkout) / script} does not exist")
        parsed.append((name, Path(checkout).resolve(), script))
    return tuple(parsed)


def make_config(args: argparse.Namespace) -> Config:
    quick = bool(args.quick)
    if args.connections:
        connections = tuple(int(part) for part in str(args.connections).split(",") if part)
    else:
        connections = (50,) if quick else (50, 500)
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchError("wrk is not installed (apt-get install wrk)")
    nginx = shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(path).exists()),
        None,
    )
    compiled = compiled_python(args.compiled_python)
    return Config(
        duration=args.duration if args.duration is not None else (1 if quick else 10),
        rounds=args.rounds,
        warmup=args.warmup if args.warmup is not None else (1 if quick else 2),
        connections=connections,
        idle_connections=args.idle if args.idle is not None else (200 if quick else 2000),
        server_cpu=args.server_cpu,
        wrk_cpu=args.wrk_cpu,
        wrk=wrk,
        wrk_timeout=args.wrk_timeout,
        nginx=nginx,
        python=args.python,
        compare=parse_compare(args.compare),
        compiled_python=compiled,
    )


def _schedule(cfg: Config, specs: list[ServerSpec]) -> Iterator[tuple[int, int, ServerSpec]]:
    """Every (round, connections, server) point; each round starts with the next server, so
    no server is always measured first (or right after the same neighbour) on a noisy machine."""
    for round_no in range(1, cfg.rounds + 1):
        shift = (round_no - 1) % len(specs)
        rotated = specs[shift:] + specs[:shift]
        for conns in cfg.connections:
            for spec in rotated:
                yield round_no, conns, spec


def run(cfg: Config, specs: list[ServerSpec]) -> Results:
    results = Results(cfg, [spec.name for spec in specs])
    first: dict[str, bytes] = {}
    for round_no, conns, spec in _schedule(cfg, specs):
        label = f"[{spec.name}] -c{conns}"
        if cfg.rounds > 1:
            label += f" (round {round_no}/{cfg.rounds})"
        _log(f"{label}: warm-up {cfg.warmup} s, measure {cfg.duration} s")
        try:
            with running(spec, cfg) as server:
                first.setdefault(spec.name, server.first_response)
                if cfg.warmup > 0:
                    run_wrk(server.port, conns, cfg.warmup, cfg)
                before = process_cpu_seconds(server.pid)
                res = run_wrk(server.port, conns, cfg.duration, cfg)
                res = with_cpu(res, before, process_cpu_seconds(server.pid))
                if server.proc.poll() is not None:
                    raise BenchError(f"exited during the run:\n{server.log_tail()}")
            results.shutdowns.setdefault(spec.name, []).append(server.stopped_by)
            results.runs.setdefault(spec.name, {}).setdefault(conns, []).append(res)
            _log(
                f"{label}: {res.requests_per_s:,.0f} req/s, p99 {_fmt_ms(res.p99_ms)} ms, "
                f"errors {res.socket_errors}, non-2xx {res.non_2xx_3xx}"
            )
        except BenchError as exc:
            _log(f"{label}: FAILED: {exc}")
            results.fail(spec.name, f"-c{conns}: {exc}")
    if cfg.idle_connections > 0:
        for spec in specs:
            _log(f"[{spec.name}] RSS with {cfg.idle_connections} idle connections")
            try:
                with running(spec, cfg) as server:
                    first.setdefault(spec.name, server.first_response)
                    rss = measure_idle(server, cfg.idle_connections)
                results.shutdowns.setdefault(spec.name, []).append(server.stopped_by)
                results.rss[spec.name] = rss
                _log(
                    f"[{spec.name}] {rss.kb_per_connection:.2f} KB per connection "
                    f"({rss.still_open}/{rss.connections} still open)"
                )
            except (BenchError, OSError) as exc:
                _log(f"[{spec.name}] idle RSS: FAILED: {exc}")
                results.fail(spec.name, f"idle RSS: {exc}")
    for note in check_responses(results, first):
        results.fail("responses", note)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
    try:
        cfg = make_config(args)
        available, notes = available_servers(cfg)
        if args.list_servers:
            for spec in available.values():
                print(f"{spec.name:<18}{spec.description}")
            for note in notes:
                print(f"# {note}")
            return 0
        if args.servers:
            wanted = [name.strip() for name in str(args.servers).split(",") if name.strip()]
            unknown = [name for name in wanted if name not in available]
            if unknown:
                raise BenchError(
                    f"unknown or unavailable server(s) {unknown}; available: "
                    f"{', '.join(available)}" + "".join(f"\n  {note}" for note in notes)
                )
            specs = [available[name] for name in dict.fromkeys(wanted)]
        else:
            specs = list(available.values())
        for note in notes:
            _log(f"note: {note}")
        if (os.cpu_count() or 1) < 2:
            _log("note: fewer than 2 CPUs: the server and wrk share one")
        _raise_nofile(cfg.idle_connections + max(cfg.connections) + 1024)
        # The harness (idle connections, polling) stays off the server's CPU.
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {cfg.wrk_cpu})
        results = run(cfg, specs)
        print_report(results, sys.stdout)
        if args.json is not None:
            args.json.write_text(
                json.dumps(
                    {
                        "config": asdict(cfg),
                        "responses": results.responses,
                        "wrk": {
                            name: {
                                str(c): {"best": asdict(best), "runs": [asdict(r) for r in runs]}
                                for c, runs in by_conns.items()
                                if (best := results.best(name, c)) is not None
                            }
                            for name, by_conns in results.runs.items()
                        },
                        "rss": {
                            name: {**asdict(r), "kb_per_connection": r.kb_per_connection}
                            for name, r in results.rss.items()
                        },
                        "shutdowns": results.shutdowns,
                        "failures": results.failures,
                    },
                    indent=2,
                )
            )
        return 1 if results.failures else 0
    except BenchError as exc:
        _log(f"error: {exc}")
        return 2
    except KeyboardInterrupt as exc:
        _log(f"interrupted ({exc.args[0] if exc.args else 'Ctrl-C'}): stopping servers")
        return 130
    finally:
        _kill_all()


if __name__ == "__main__":
    sys.exit(main())
