"""``Served``: a ``serve_http`` server and raw client sockets driven on one thread.

The server runs on an ``IoContext`` (or a ``VirtualTimeScheduler``) that the test drives with
``settle()`` (run what is ready, never block), so a test decides exactly when the server gets
to act, and virtual time moves only when the test calls ``advance``. Clients are plain
non-blocking sockets on loopback; ``read_response`` parses what the server sent (Content-Length,
chunked, or up to the close).
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import attrs

import dsexec as ex
from dsexec.http import Handler, serve_http
from dsexec.net import Acceptor, create_acceptor
from dsexec.testing import RecordingReceiver

__all__ = ["Reply", "Served"]

_PATIENCE = 5.0  # real seconds a test waits for loopback bytes before failing


@attrs.frozen
class Reply:
    """One parsed response."""

    status: int
    headers: dict[bytes, bytes]
    body: bytes
    version: bytes = b"HTTP/1.1"

    def header(self, name: bytes) -> bytes | None:
        return self.headers.get(name.lower())


class Served:
    """``with Served(handler, **serve_http_kwargs) as served:`` a running server."""

    def __init__(
        self,
        handler: Handler,
        *,
        context: ex.IoContext | None = None,
        host: str = "127.0.0.1",
        **options: Any,
    ) -> None:
        self.context = ex.IoContext() if context is None else context
        self._own_context = context is None
        self.scheduler = self.context.get_scheduler()
        self.acceptor: Acceptor = create_acceptor(0, host)
        self.host = host
        self.source = ex.StopSource()
        self.receiver: RecordingReceiver[None] = RecordingReceiver(stop_token=self.source.token)
        self._clients: list[socket.socket] = []
        self._buffers: dict[socket.socket, bytes] = {}
        sender = serve_http(self.scheduler, self.acceptor, handler, **options)
        self._op = sender.connect(self.receiver)
        self._op.start()
        self.settle()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for client in self._clients:
            client.close()
        if not self.receiver.completed:
            self.stop()
        self.acceptor.close()
        if self._own_context:
            self.context.close()

    @property
    def done(self) -> bool:
        return self.receiver.completed

    def settle(self, *, until: Callable[[], bool] | None = None) -> None:
        """Run the server until nothing is ready (and ``until()`` holds, if given: meanwhile
        virtual time moves on in small steps)."""
        deadline = time.monotonic() + _PATIENCE
        idle = 0
        while idle < 3 or (until is not None and not until()):
            ran = self.context.poll()
            idle = 0 if ran else idle + 1
            if not ran and until is not None and not until():
                if time.monotonic() > deadline:
                    raise TimeoutError("the server did not get there in time")
                if isinstance(self.context, ex.VirtualTimeScheduler):
                    self.context.advance(0.05)  # waiting on virtual time costs nothing
                else:
                    time.sleep(0.0005)

    def stop(self) -> None:
        """Request a stop (a drain) and run until the server completes."""
        self.source.request_stop()
        self.settle(until=lambda: self.receiver.completed)

    def advance(self, seconds: float) -> None:
        """Move virtual time (the context must be a ``VirtualTimeScheduler``) and settle."""
        assert isinstance(self.context, ex.VirtualTimeScheduler)
        self.context.advance(seconds)
        self.settle()

    def connect(self, host: str | None = None) -> socket.socket:
        """A client connected to the server (accepted by the time this returns)."""
        host = self.host if host is None else host
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        client = socket.socket(family, socket.SOCK_STREAM)
        self._clients.append(client)
        client.connect((host, self.acceptor.port))
        client.setblocking(False)
        self.settle()
        return client

    def send(self, client: socket.socket, data: bytes) -> None:
        """Send ``data`` (the server acts on it by the time this returns)."""
        view = memoryview(data)
        while view:
            try:
                sent = client.send(view)
            except BlockingIOError:
                self.settle()
                continue
            view = view[sent:]
        self.settle()

    def receive(self, client: socket.socket, wanted: Callable[[bytes], bool]) -> bytes:
        """Read until ``wanted(received)`` or the server closes; what was received."""
        received = b""
        deadline = time.monotonic() + _PATIENCE
        while not wanted(received):
            self.settle()
            try:
                chunk = client.recv(65536)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no answer in time; got {received!r:.200}") from None
                select.select([client], [], [], 0.001)
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
        return received

    def closed_by_server(self, client: socket.socket) -> bool:
        """Whether the server has closed ``client``'s connection (reads EOF or a reset)."""
        self.settle()
        try:
            data = client.recv(65536, socket.MSG_PEEK)
        except BlockingIOError:
            return False
        except ConnectionResetError:
            return True
        return not data

    def read_response(self, client: socket.socket, *, head_only: bool = False) -> Reply:
        """One response from ``client``'s stream (``head_only``: an answer to ``HEAD``)."""
        buffer = self._buffers.get(client, b"")
        buffer += self.receive(client, lambda got: b"\r\n\r\n" in buffer + got)
        head, _, rest = buffer.partition(b"\r\n\r\n")
        status_line, *lines = head.split(b"\r\n")
        version, status, *_ = status_line.split(b" ", 2)
        headers: dict[bytes, bytes] = {}
        for line in lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        code = int(status)
        if head_only or code in {204, 304} or 100 <= code < 200:
            body = b""
        elif b"content-length" in headers:
            length = int(headers[b"content-length"])
            rest += self.receive(client, lambda got: len(rest + got) >= length)
            body, rest = rest[:length], rest[length:]
        elif headers.get(b"transfer-encoding") == b"chunked":
            body, rest = self._dechunk(client, rest)
        else:
            rest += self.receive(client, lambda got: False)
            body, rest = rest, b""
        self._buffers[client] = rest
        return Reply(code, headers, body, version)

    def _dechunk(self, client: socket.socket, data: bytes) -> tuple[bytes, bytes]:
        body = b""
        while True:
            while b"\r\n" not in data:
                data = self._at_least(client, data, len(data) + 1)
            size_line, _, data = data.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            data = self._at_least(client, data, size + 2)
            if size == 0:
                # the server sends no trailers: the last chunk ends with its CRLF
                return body, data[2:]
            body += data[:size]
            data = data[size + 2 :]

    def _at_least(self, client: socket.socket, data: bytes, count: int) -> bytes:
        """``data`` followed by what arrives until it holds ``count`` bytes."""
        have = len(data)
        return data + self.receive(client, lambda got: have + len(got) >= count)
