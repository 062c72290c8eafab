"""An ``HttpServer`` composed from its public pieces (``accept_loop``, ``sweep_loop``, ``drain``,
``join``) the way MedusaServ composes it, and the counters a status page reads (``denials``,
``refusals``, ``timeouts``)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import pytest
from tests._helpers.served import Served

import dsexec as ex
from dsexec.http import Handler, HttpServer, Request, Response
from dsexec.net import create_acceptor
from dsexec.security import AccessControlList, Limits
from dsexec.testing import RecordingReceiver

TEXT = [(b"content-type", b"text/plain")]
GET = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"


def hello(request: Request) -> ex.Sender[Response]:
    return ex.just(Response(200, TEXT, b"hello"))


class Composed(Served):
    """``Served``'s client side, with a server built from the pieces: one ``CountingScope``
    holding the accept loop and the sweep; ``join()`` of the scope is what the test waits on."""

    def __init__(
        self,
        handler: Handler,
        *,
        context: ex.IoContext | ex.VirtualTimeScheduler | None = None,
        **options: Any,
    ) -> None:
        self.context = ex.IoContext() if context is None else context
        self._own_context = context is None
        self.scheduler = self.context.get_scheduler()
        self.acceptor = create_acceptor(0, "127.0.0.1")
        self.host = "127.0.0.1"
        self.source = ex.StopSource()
        self.receiver: RecordingReceiver[None] = RecordingReceiver(stop_token=self.source.token)
        self._clients: list[socket.socket] = []
        self._buffers: dict[socket.socket, bytes] = {}
        self.server = HttpServer(self.scheduler, handler, **options)
        self.scope = ex.CountingScope("composed", scheduler=self.scheduler)
        self.scope.spawn(self.server.accept_loop(self.acceptor))
        self.scope.spawn(self.server.sweep_loop())
        self._op = self.scope.join().connect(self.receiver)
        self._op.start()
        self.settle()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for client in self._clients:
            client.close()
        self.acceptor.close()
        self.server.drain()
        self.scope.request_stop()
        self.settle(until=lambda: self.receiver.completed)
        if self._own_context:
            self.context.close()


@pytest.fixture
def vts() -> Iterator[ex.VirtualTimeScheduler]:
    with ex.VirtualTimeScheduler() as scheduler:
        yield scheduler


def test_denied_peers_are_counted() -> None:
    with Composed(hello, acl=AccessControlList(blocked=["127.0.0.0/8"])) as composed:
        assert composed.server.denials == 0
        client = composed.connect()
        assert composed.closed_by_server(client)
        assert composed.server.denials == 1
        assert (composed.server.refusals, composed.server.timeouts) == (0, 0)


def test_clients_refused_at_the_limit_are_counted() -> None:
    with Composed(hello, limits=Limits(max_connections=1)) as composed:
        first = composed.connect()
        composed.send(first, GET)
        assert composed.read_response(first).status == 200
        second = composed.connect()
        assert composed.read_response(second).status == 503
        assert composed.server.refusals == 1
        assert composed.server.denials == 0


def test_connections_closed_by_the_sweep_are_counted(vts: ex.VirtualTimeScheduler) -> None:
    limits = Limits(header_timeout=2.0, idle_timeout=2.0)
    with Composed(hello, context=vts, limits=limits) as composed:
        client = composed.connect()
        composed.advance(2.5)
        assert composed.closed_by_server(client)
        assert composed.server.timeouts == 1


def test_join_completes_once_a_drain_has_finished_the_requests_in_flight(
    vts: ex.VirtualTimeScheduler,
) -> None:
    def slow(request: Request) -> ex.Sender[Response]:
        return vts.schedule_after(3) | ex.then(lambda _: Response(200, TEXT, b"late"))

    with Composed(slow, context=vts) as composed:
        client = composed.connect()
        composed.send(client, GET)
        joined: RecordingReceiver[None] = RecordingReceiver()
        composed.acceptor.close()  # the accept loop ends
        composed.server.drain()
        operation = composed.server.join().connect(joined)
        operation.start()
        composed.settle()
        assert not joined.completed
        composed.advance(3)
        reply = composed.read_response(client)
        assert (reply.body, reply.header(b"connection")) == (b"late", b"close")
        composed.settle(until=lambda: joined.completed)
        assert joined.value is None
        assert composed.server.open_connections == 0


def test_join_completes_at_once_without_connections() -> None:
    with Composed(hello) as composed:
        joined: RecordingReceiver[None] = RecordingReceiver()
        operation = composed.server.join().connect(joined)
        operation.start()
        composed.settle(until=lambda: joined.completed)
        assert joined.value is None
