"""MedusaServ behind a real balancer: HAProxy with ``deploy/haproxy.cfg`` (its addresses moved
to loopback) in front of two MedusaServ processes; clients keep sending requests while one
instance gets SIGTERM, and not one request fails. Skipped, with the reason, where HAProxy is
not installed (``.ci/run`` installs Debian's ``haproxy`` when it is missing)."""

from __future__ import annotations

import http.client
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from tests._helpers.medusa import DEADLINE, MedusaProcess, exchange, get

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "deploy" / "haproxy.cfg"
CLIENTS = 4
AFTER_SIGTERM = 3.0  # seconds of traffic after the SIGTERM: past HAProxy's "fall 2, inter 1s"
MAX_REQUESTS = 20_000  # per client, a bound whatever the machine's speed


def haproxy() -> str:
    found = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
    )
    if found is None:
        pytest.skip("HAProxy is not installed (apt-get install haproxy; .ci/run does it)")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def loopback_config(front: int, stats: int, backends: list[int]) -> str:
    """The shipped configuration with its addresses on loopback (nothing else changed)."""
    text = SHIPPED.read_text()
    text = text.replace("bind :::80 v4v6", f"bind 127.0.0.1:{front}")
    text = text.replace("bind 127.0.0.1:8404", f"bind 127.0.0.1:{stats}")
    servers = [line for line in text.splitlines() if re.match(r"\s+server medusa\d", line)]
    assert servers, "deploy/haproxy.cfg has no 'server medusaN' lines"
    for index, line in enumerate(servers):
        if index < len(backends):
            address = f"127.0.0.1:{backends[index]}"
            text = text.replace(line, f"    server medusa{index + 1} {address} check")
        else:
            text = text.replace(line + "\n", "")
    return text


class Traffic:
    """``CLIENTS`` threads sending keep-alive GETs through the balancer until stopped."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.ok = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(CLIENTS)]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(DEADLINE)

    def _client(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=DEADLINE)
        try:
            for number in range(MAX_REQUESTS):
                if self._stop.is_set():
                    return
                target = "/style.css" if number % 2 else "/"
                try:
                    connection.request("GET", target)
                    response = connection.getresponse()
                    body = response.read()
                except (OSError, http.client.HTTPException) as exc:
                    with self._lock:
                        self.failures.append(f"{target}: {type(exc).__name__}: {exc}")
                    connection.close()
                    continue
                with self._lock:
                    if response.status == 200 and body:
                        self.ok += 1
                    else:
                        self.failures.append(f"{target}: {response.status} {body[:80]!r}")
        finally:
            connection.close()

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + DEADLINE
        while self.ok < count:
            assert time.monotonic() < deadline, f"only {self.ok} requests in time"
            assert not self.failures, self.failures[:5]
            time.sleep(0.01)


def operations(port: int) -> int:
    reply = exchange("127.0.0.1", port, get(b"/_medusa/metrics"))
    assert reply is not None
    found = re.search(rb"^medusa_http_operations_total (\d+)$", reply.body, re.M)
    assert found is not None
    return int(found.group(1))


def test_no_request_fails_while_haproxy_moves_traffic_off_a_draining_instance(
    tmp_path: Path,
) -> None:
    program = haproxy()
    with MedusaProcess("--port", "0") as first, MedusaProcess("--port", "0") as second:
        front, stats = free_port(), free_port()
        config = tmp_path / "haproxy.cfg"
        config.write_text(loopback_config(front, stats, [first.ports[0], second.ports[0]]))
        checked = subprocess.run(
            [program, "-c", "-f", str(config)],
            capture_output=True,
            text=True,
            timeout=DEADLINE,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        log = (tmp_path / "haproxy.log").open("w")
        balancer = subprocess.Popen(
            [program, "-db", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + DEADLINE
            while True:  # until both health checks passed and the frontend answers
                try:
                    reply = exchange("127.0.0.1", front, get(b"/"))
                except OSError:
                    reply = None
                if reply is not None and reply.status == 200:
                    break
                assert balancer.poll() is None, (tmp_path / "haproxy.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "haproxy did not start serving"
                time.sleep(0.05)
            with Traffic(front) as traffic:
                traffic.wait_for(200)
                first.send_signal(signal.SIGTERM)
                before = operations(second.ports[0])
                assert first.wait() == 0  # drained and exited cleanly
                served = traffic.ok
                stop = time.monotonic() + AFTER_SIGTERM
                while time.monotonic() < stop:
                    time.sleep(0.05)
                traffic.wait_for(served + 200)
            assert traffic.failures == []
            assert operations(second.ports[0]) - before >= 200  # the other one took over
        finally:
            balancer.terminate()
            try:
                balancer.wait(DEADLINE)
            except subprocess.TimeoutExpired:
                balancer.kill()
                balancer.wait(DEADLINE)
            log.close()
