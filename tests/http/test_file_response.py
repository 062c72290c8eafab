"""A ``FileBody`` response over TCP: its head and body leave corked (``Socket.cork``), and the
socket is uncorked afterwards on every path."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import dsexec as ex
from dsexec.http import FileBody, HttpConnection, Response, read_request, write_response
from dsexec.net import Socket

GET = b"GET /f HTTP/1.1\r\nHost: t\r\n\r\n"
HEAD = b"HEAD /f HTTP/1.1\r\nHost: t\r\n\r\n"
BODY = bytes(range(256)) * 4096  # 1 MiB


class _CorkLog(Socket):
    """A socket that logs its ``cork`` calls (and still makes them)."""

    __slots__ = ("log",)
    log: list[bool]

    def cork(self, on: bool) -> None:
        self.log.append(on)
        super().cork(on)


def _corked(sock: Socket) -> int:
    return sock.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK)


@pytest.fixture
def tcp() -> Iterator[tuple[ex.IoContext, HttpConnection, _CorkLog, socket.socket]]:
    if not hasattr(socket, "TCP_CORK"):
        pytest.skip("TCP_CORK is Linux's")
    with contextlib.ExitStack() as stack:
        listener = stack.enter_context(socket.create_server(("127.0.0.1", 0)))
        client = stack.enter_context(socket.create_connection(listener.getsockname()))
        accepted, _ = listener.accept()
        sock = _CorkLog(accepted)
        sock.log = []
        conn = HttpConnection(sock)
        stack.callback(conn.close)
        context = stack.enter_context(ex.IoContext())
        yield context, conn, sock, client


def _receive(client: socket.socket, body_size: int) -> tuple[bytes, bytes]:
    """The response's head and ``body_size`` bytes of body."""
    client.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < body_size:
        chunk = client.recv(1 << 20)
        assert chunk, "the server closed early"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def _file_answer(
    tcp: tuple[ex.IoContext, HttpConnection, _CorkLog, socket.socket],
    path: Path,
    body: bytes,
    request: bytes = GET,
) -> ex.Sender[HttpConnection]:
    """The client sends ``request``, the server reads it; the answer: ``body`` from ``path``."""
    context, conn, _, client = tcp
    path.write_bytes(body)
    sch = context.get_scheduler()
    client.sendall(request)
    ex.sync_wait(read_request(sch, conn), context=context)
    return write_response(sch, conn, Response(200, (), FileBody(str(path))))


def test_a_file_response_is_corked_from_head_to_body_end(
    tcp: tuple[ex.IoContext, HttpConnection, _CorkLog, socket.socket], tmp_path: Path
) -> None:
    context, _, sock, client = tcp
    answer = _file_answer(tcp, tmp_path / "f.bin", BODY)
    with ex.ThreadPool(1) as pool:  # the client drains while the loop sends
        received = pool.schedule() | ex.then(lambda _: _receive(client, len(BODY)))
        _, (head, body) = ex.sync_wait(ex.when_all(answer, received), context=context)
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"\r\ncontent-length: 1048576" in head.lower()
    assert body == BODY
    assert sock.log == [True, False]
    assert _corked(sock) == 0


def test_a_failed_file_response_leaves_the_socket_uncorked(
    tcp: tuple[ex.IoContext, HttpConnection, _CorkLog, socket.socket], tmp_path: Path
) -> None:
    context, _, sock, client = tcp
    # more than the socket buffers hold: the send has to wait
    answer = _file_answer(tcp, tmp_path / "f.bin", BODY * 8)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    client.close()  # reset: the body's send fails
    with pytest.raises(ex.NetError):
        ex.sync_wait(answer, context=context)
    assert sock.log == [True, False]


def test_a_head_response_sends_no_body_and_does_not_cork(
    tcp: tuple[ex.IoContext, HttpConnection, _CorkLog, socket.socket], tmp_path: Path
) -> None:
    context, _, sock, _ = tcp
    ex.sync_wait(_file_answer(tcp, tmp_path / "f.bin", BODY, HEAD), context=context)
    assert sock.log == []


def test_cork_is_a_hint_that_never_fails(
    tcp: tuple[ex.IoContext, HttpConnection, _CorkLog, socket.socket],
) -> None:
    _, _, sock, _ = tcp
    sock.cork(True)
    assert _corked(sock) == 1
    sock.cork(False)
    assert _corked(sock) == 0
    sock.close()
    sock.cork(True)  # closed: nothing to do, no error
    unix, other = socket.socketpair()
    with other, Socket(unix) as not_tcp:
        not_tcp.cork(True)  # no TCP_CORK on a Unix socket: ignored
