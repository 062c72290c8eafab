"""MedusaServ's shutdown from outside: SIGTERM stops accepting at once and lets a slow 6 MB
download finish before exiting 0; a second SIGINT during the drain exits at once."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
from pathlib import Path

import pytest
from tests._helpers.medusa import DEADLINE, MedusaProcess, parse_reply

SIZE = 6 * 1024 * 1024


@pytest.fixture(scope="module")
def download(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("download")
    (root / "index.html").write_text("<!doctype html><title>d</title>\n")
    (root / "big.bin").write_bytes(os.urandom(SIZE))
    return root


def slow_client(port: int) -> socket.socket:
    """A keep-alive client asking for the 6 MB file with a small receive buffer."""
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    client.settimeout(DEADLINE)
    client.connect(("127.0.0.1", port))
    client.sendall(b"GET /big.bin HTTP/1.1\r\nHost: medusa\r\n\r\n")
    return client


def read_at_least(client: socket.socket, data: bytes, count: int) -> bytes:
    while len(data) < count:
        chunk = client.recv(65536)
        assert chunk, f"closed after {len(data)} bytes"
        data += chunk
    return data


def test_sigterm_lets_a_slow_6mb_download_finish_and_exits_0(download: Path) -> None:
    args = ("--port", "0", "--root", str(download), "--drain-timeout", "60")
    with MedusaProcess(*args) as medusa:
        port = medusa.ports[0]
        with slow_client(port) as client:
            received = read_at_least(client, b"", 256 * 1024)  # the download is under way
            medusa.send_signal(signal.SIGTERM)
            medusa.wait_for("SIGTERM: not accepting any more")
            with pytest.raises(ConnectionRefusedError):  # the listening socket is closed
                socket.create_connection(("127.0.0.1", port), timeout=DEADLINE).close()
            assert medusa.process.poll() is None  # still sending
            head_end = received.index(b"\r\n\r\n") + 4
            received = read_at_least(client, received, head_end + SIZE)
            reply = parse_reply(received)
            assert reply.status == 200  # its head went out before the drain began
            assert hashlib.sha256(reply.body).digest() == hashlib.sha256(
                (download / "big.bin").read_bytes()
            ).digest()
            assert client.recv(1) == b""  # then the connection is closed, not kept alive
        assert medusa.wait() == 0
        assert any("drained" in line for line in medusa.lines)


def test_a_second_sigint_during_the_drain_exits_at_once(download: Path) -> None:
    args = ("--port", "0", "--root", str(download), "--drain-timeout", "600")
    with MedusaProcess(*args) as medusa, slow_client(medusa.ports[0]) as client:
        assert client.recv(12) == b"HTTP/1.1 200"  # then it reads no more: the drain waits
        medusa.send_signal(signal.SIGINT)
        medusa.wait_for("SIGINT: not accepting any more")
        assert medusa.process.poll() is None
        medusa.send_signal(signal.SIGINT)
        assert medusa.wait(timeout=5) == 128 + signal.SIGINT
        assert any("exiting at once" in line for line in medusa.lines)
