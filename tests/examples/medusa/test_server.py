"""MedusaServ in process: routing (its pages, each port's root), the health check while
draining, and the figures of the status page (connections per port, denials per second)."""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from examples.medusa._main import open_listeners

import dsexec as ex
from dsexec.http import EndOfMessage, HttpConnection, Request, RequestHead, Response
from dsexec.net import Socket
from examples.medusa import Listener, MedusaServ, PortConfig, ServerConfig

OPENED: list[Listener] = []


@pytest.fixture
def context() -> Iterator[ex.IoContext]:
    with ex.IoContext() as io:
        try:
            yield io
        finally:
            while OPENED:
                OPENED.pop().acceptor.close()


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "first", tmp_path / "second"
    for root in (first, second):
        root.mkdir()
        (root / "index.html").write_text(f"this is {root.name}\n")
    return first, second


def start(context: ex.IoContext, config: ServerConfig) -> tuple[MedusaServ, list[Listener]]:
    listeners = open_listeners(config, "127.0.0.1")
    OPENED.extend(listeners)
    return MedusaServ(context.get_scheduler(), config, listeners), listeners


def connected(listener: Listener) -> tuple[socket.socket, HttpConnection]:
    """A client socket and the server's connection for it (accepted by hand)."""
    client = socket.create_connection(("127.0.0.1", listener.port), timeout=5)
    raw, _ = listener.acceptor.sockets[0].accept()
    return client, HttpConnection(Socket(raw))


def ask(
    medusa: MedusaServ, conn: HttpConnection, target: bytes, method: bytes = b"GET"
) -> Response:
    parser = conn.parser
    parser.feed(method + b" " + target + b" HTTP/1.1\r\nHost: m\r\n\r\n")
    head = parser.next_event()
    assert isinstance(head, RequestHead)
    assert isinstance(parser.next_event(), EndOfMessage)
    response = ex.sync_wait(medusa.handle(Request(head, conn)))
    parser.start_next_cycle()
    return response


def settle(context: ex.IoContext, until: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not until():
        if not context.poll():
            assert time.monotonic() < deadline, "the server did not get there in time"
            time.sleep(0.001)


def test_health_is_200_while_serving_and_503_while_draining(
    context: ex.IoContext, roots: tuple[Path, Path]
) -> None:
    medusa, listeners = start(context, ServerConfig(ports=(PortConfig(0),), root=roots[0]))
    client, conn = connected(listeners[0])
    with client:
        health = ask(medusa, conn, b"/_medusa/health")
        assert (health.status, health.body) == (200, b"ok\n")
        page = ask(medusa, conn, b"/_medusa/status?again")
        assert isinstance(page.body, bytes)
        assert b'id="state">serving<' in page.body
        medusa.http.drain()
        health = ask(medusa, conn, b"/_medusa/health")
        assert (health.status, health.body) == (503, b"draining\n")
        page = ask(medusa, conn, b"/_medusa/status")
        assert isinstance(page.body, bytes)
        assert b'id="state">draining<' in page.body
        assert ask(medusa, conn, b"/_medusa/metrics").status == 200
        assert ask(medusa, conn, b"/_medusa/health", b"DELETE").status == 405
    conn.close()


def test_each_port_serves_its_own_root(context: ex.IoContext, roots: tuple[Path, Path]) -> None:
    first, second = roots
    config = ServerConfig(ports=(PortConfig(0), PortConfig(0, root=second)), root=first)
    medusa, listeners = start(context, config)
    for listener, root in zip(listeners, roots, strict=True):
        client, conn = connected(listener)
        with client:
            answer = ask(medusa, conn, b"/")
            assert (answer.status, answer.body) == (200, f"this is {root.name}\n".encode())
        conn.close()


def test_one_root_for_every_port_is_one_handler(
    context: ex.IoContext, roots: tuple[Path, Path]
) -> None:
    config = ServerConfig(ports=(PortConfig(0), PortConfig(0)), root=roots[0])
    medusa, listeners = start(context, config)
    client, conn = connected(listeners[1])
    with client:
        assert ask(medusa, conn, b"/").body == b"this is first\n"
    conn.close()


def test_the_status_figures_count_connections_per_port_and_denials(
    context: ex.IoContext, roots: tuple[Path, Path]
) -> None:
    blocked = (ipaddress.ip_network("127.0.0.2"),)
    config = ServerConfig(ports=(PortConfig(0), PortConfig(0)), root=roots[0], block=blocked)
    medusa, listeners = start(context, config)
    scope = ex.CountingScope("test", scheduler=context.get_scheduler())
    for listener in listeners:
        scope.spawn(medusa.accept_loop(listener))
    clients = [socket.create_connection(("127.0.0.1", listeners[0].port)) for _ in range(3)]
    clients.append(socket.create_connection(("127.0.0.1", listeners[1].port)))
    try:
        settle(context, lambda: medusa.http.open_connections == 4)
        data = medusa.status_data()
        assert [(port.port, port.connections) for port in data.ports] == [
            (listeners[0].port, 3),
            (listeners[1].port, 1),
        ]
        assert all(port.dual_stack is False and port.tls is False for port in data.ports)
        denied = socket.socket()
        denied.bind(("127.0.0.2", 0))
        denied.connect(("127.0.0.1", listeners[1].port))
        clients.append(denied)
        settle(context, lambda: medusa.http.denials == 1)
        medusa.sample()
        medusa.sample()
        data = medusa.status_data()
        assert data.denials == 1
        assert data.denial_rates == (1.0, 0.0)
        assert len(data.latency_p50) == 2
    finally:
        for client in clients:
            client.close()
        for listener in listeners:
            listener.acceptor.close()
        medusa.http.drain()
        scope.request_stop()
        joined = scope.join()
        ex.sync_wait(joined, context=context)
