"""async_sendfile: zero-copy file sending, offsets, the pread+send fallback, stop."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

import dsexec as ex
from dsexec import repeat_until, when_all
from dsexec.net import Socket, async_read, async_sendfile
from dsexec.net import _sendfile as sendfile_module
from dsexec.schedulers import IoScheduler
from dsexec.testing import ExpectStoppedReceiver, ExpectValueReceiver, RecordingReceiver

Pair = tuple[Socket, Socket]

SIZE = 3 * 1024 * 1024 + 17


@pytest.fixture
def payload() -> bytes:
    return bytes(range(251)) * (SIZE // 251) + b"tail"


@pytest.fixture
def data_file(tmp_path: Path, payload: bytes) -> Iterator[IO[bytes]]:
    path = tmp_path / "data.bin"
    path.write_bytes(payload)
    with path.open("rb") as file:
        yield file


def start(sender: ex.Sender[Any], receiver: RecordingReceiver[Any]) -> ex.OperationState:
    op = ex.connect(sender, receiver)
    op.start()
    return op


def read_exactly(sch: IoScheduler, sock: Socket, size: int) -> ex.Sender[bytes]:
    received = bytearray()

    def collect(data: bytes) -> int:
        if not data:
            raise EOFError(f"EOF after {len(received)} of {size} bytes")
        received.extend(data)
        return len(received)

    return (
        async_read(sch, sock, 65536)
        | ex.then(collect)
        | repeat_until(lambda count: count >= size)
        | ex.then(lambda _count: bytes(received))
    )


@pytest.mark.parametrize("zero_copy", [True, False], ids=["sendfile", "fallback"])
@pytest.mark.parametrize(("offset", "count"), [(0, None), (1000, 50_000), (7, None)])
def test_sendfile_sends_the_requested_range(  # noqa: PLR0917
    zero_copy: bool,
    offset: int,
    count: int | None,
    ctx: ex.IoContext,
    tcp_pair: Pair,
    data_file: IO[bytes],
    payload: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sendfile_module, "_HAVE_SENDFILE", zero_copy)
    server, client = tcp_pair
    expected = payload[offset:] if count is None else payload[offset : offset + count]
    sch = ctx.get_scheduler()
    sent, received = ex.sync_wait(
        when_all(
            async_sendfile(sch, server, data_file, offset, count),
            read_exactly(sch, client, len(expected)),
        ),
        context=ctx,
    )
    assert sent == len(expected)
    assert received == expected
    assert data_file.tell() == 0  # the file position is not used


def test_sendfile_falls_back_when_the_os_refuses(
    ctx: ex.IoContext,
    tcp_pair: Pair,
    data_file: IO[bytes],
    payload: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []

    def refuse(*args: object) -> int:
        calls.append(1)
        raise OSError(errno.EINVAL, "not supported for this pair of fds")

    monkeypatch.setattr(os, "sendfile", refuse)
    server, client = tcp_pair
    sch = ctx.get_scheduler()
    sent, received = ex.sync_wait(
        when_all(
            async_sendfile(sch, server, data_file.fileno(), 0, 100_000),
            read_exactly(sch, client, 100_000),
        ),
        context=ctx,
    )
    assert calls == [1]
    assert sent == 100_000
    assert received == payload[:100_000]


def test_sendfile_stops_early_when_the_file_is_shorter(
    ctx: ex.IoContext, tcp_pair: Pair, tmp_path: Path
) -> None:
    path = tmp_path / "short.bin"
    path.write_bytes(b"0123456789")
    server, client = tcp_pair
    with path.open("rb") as file:
        receiver = ExpectValueReceiver(10)
        start(async_sendfile(ctx.get_scheduler(), server, file, 0, 1000), receiver)
        # 10 of the 1000 bytes offered read as a full socket buffer: the end of the file shows
        # once the socket is writable again, a turn of the loop later
        ctx.run()
        assert receiver.completed
    assert client.socket.recv(100) == b"0123456789"


def test_sendfile_of_nothing_completes_with_zero(
    ctx: ex.IoContext, tcp_pair: Pair, data_file: IO[bytes]
) -> None:
    server, _client = tcp_pair
    receiver = ExpectValueReceiver(0)
    start(async_sendfile(ctx.get_scheduler(), server, data_file, 0, 0), receiver)
    assert receiver.completed


def test_sendfile_blocked_on_a_slow_reader_can_be_stopped(
    ctx: ex.IoContext, tcp_pair: Pair, data_file: IO[bytes], open_fds: Callable[[], int]
) -> None:
    server, _client = tcp_pair
    with contextlib.suppress(BlockingIOError):  # fill the socket buffers
        while True:
            server.socket.send(b"\0" * 65536)
    before = open_fds()
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    start(async_sendfile(ctx.get_scheduler(), server, data_file), receiver)
    assert receiver.completion is None
    source.request_stop()
    assert receiver.completed
    assert ctx.statistics().writers == 0
    assert open_fds() == before


def test_async_sendfile_rejects_bad_arguments(
    ctx: ex.IoContext, tcp_pair: Pair, data_file: IO[bytes]
) -> None:
    server, _client = tcp_pair
    sch = ctx.get_scheduler()
    with pytest.raises(TypeError, match="async_sendfile: needs a scheduler"):
        async_sendfile(object(), server, data_file)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"async_sendfile: expected a dsexec\.net\.Socket"):
        async_sendfile(sch, server.socket, data_file)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="offset must be >= 0"):
        async_sendfile(sch, server, data_file, -1)
    with pytest.raises(ValueError, match="count must be >= 0"):
        async_sendfile(sch, server, data_file, 0, -5)


def test_a_partial_sendfile_waits_for_writability_without_a_call_that_meets_eagain(
    ctx: ex.IoContext,
    tcp_pair: Pair,
    data_file: IO[bytes],
    payload: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, client = tcp_pair
    real_sendfile = os.sendfile
    results: list[int | str] = []

    def recording(out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
        try:
            sent = real_sendfile(out_fd, in_fd, offset, count)
        except BlockingIOError:
            results.append("EAGAIN")
            raise
        results.append(sent)
        return sent

    monkeypatch.setattr(os, "sendfile", recording)
    # Small buffers, so that the payload cannot fit in them whatever this machine's defaults.
    server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 16)
    client.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
    receiver = ExpectValueReceiver(len(payload))
    start(async_sendfile(ctx.get_scheduler(), server, data_file), receiver)
    # The client reads nothing yet: one call filled the socket buffer, and the operation waits.
    assert len(results) == 1
    assert isinstance(results[0], int)
    assert 0 < results[0] < len(payload)
    assert ctx.statistics().writers == 1
    received = bytearray()
    while not receiver.completed:
        ctx.poll()
        with contextlib.suppress(BlockingIOError):
            received += client.socket.recv(1 << 20)
    client.socket.setblocking(True)
    while len(received) < len(payload):
        received += client.socket.recv(1 << 20)
    assert bytes(received) == payload
