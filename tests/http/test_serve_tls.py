"""``HttpServer`` with TLS listeners: HTTPS beside plain HTTP on one server.

The server runs on its own thread; clients are the standard library's blocking ``ssl`` sockets.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import trustme

import dsexec as ex
from dsexec.http import HttpServer, Request, Response
from dsexec.net import Acceptor, create_acceptor
from dsexec.security import Limits

HOST = "medusa.test"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def server_ctx(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(HOST, "127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
def client_ctx(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ca.configure_trust(context)
    return context


def scheme_echo(request: Request) -> ex.Sender[Response]:
    return ex.just(Response(200, (), request.scheme.encode() + b" " + request.path))


class Running:
    """A server on a thread, serving a plain and a TLS acceptor until ``close``."""

    def __init__(self, server_ctx: ssl.SSLContext, **options: Any) -> None:
        self.context = ex.IoContext()
        self.plain: Acceptor = create_acceptor(0, "127.0.0.1")
        self.secure: Acceptor = create_acceptor(0, "127.0.0.1")
        self.server = HttpServer(self.context.get_scheduler(), scheme_echo, **options)
        serving = self.server.run(self.plain, (self.secure, server_ctx))
        self.outcome: list[object] = []
        self.thread = threading.Thread(target=self._run, args=(serving,))
        self.thread.start()

    def _run(self, serving: ex.Sender[None]) -> None:
        self.outcome.append(ex.sync_wait(serving, context=self.context))

    def close(self) -> None:
        for acceptor in (self.plain, self.secure):
            self.context.post(acceptor.close)  # every acceptor closed: the server drains
        self.thread.join(10)
        assert not self.thread.is_alive()
        self.context.close()


@pytest.fixture
def running(server_ctx: ssl.SSLContext) -> Iterator[Running]:
    server = Running(server_ctx, limits=Limits(tls_handshake_timeout=5))
    try:
        yield server
    finally:
        server.close()
    assert server.outcome == [None]


def fetch(sock: socket.socket, path: bytes) -> bytes:
    sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def read_to_close(sock: socket.socket) -> bytes:
    """Everything until the peer closes (by FIN or by reset)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def test_https_and_http_are_served_side_by_side(
    running: Running, client_ctx: ssl.SSLContext
) -> None:
    with (
        socket.create_connection(("127.0.0.1", running.secure.port), timeout=5) as raw,
        client_ctx.wrap_socket(raw, server_hostname=HOST) as tls,
    ):
        answer = fetch(tls, b"/secret")
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert answer.endswith(b"https /secret")
    with socket.create_connection(("127.0.0.1", running.plain.port), timeout=5) as plain:
        assert fetch(plain, b"/open").endswith(b"http /open")


def test_plain_bytes_on_the_tls_port_are_refused_and_closed(running: Running) -> None:
    with socket.create_connection(("127.0.0.1", running.secure.port), timeout=5) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        received = read_to_close(raw)
    assert b"HTTP/1.1" not in received  # no plain answer: only a TLS alert, if anything


def test_a_tls_client_at_the_connection_limit_is_closed(
    server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext
) -> None:
    running = Running(server_ctx, limits=Limits(max_connections=1))
    try:
        with socket.create_connection(("127.0.0.1", running.plain.port), timeout=5) as first:
            first.sendall(b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")
            assert first.recv(65536).endswith(b"http /hold")  # served and kept open
            with (
                socket.create_connection(("127.0.0.1", running.secure.port), timeout=5) as raw,
                pytest.raises((ssl.SSLError, OSError)),
                client_ctx.wrap_socket(raw, server_hostname=HOST),
            ):
                pass
    finally:
        running.close()
