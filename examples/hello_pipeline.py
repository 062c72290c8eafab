"""A minimal HTTP/1.1 keep-alive "Hello, World!" responder written as a pipeline, for wrk.

    python examples/hello_pipeline.py 8080
    wrk -t2 -c64 -d10s http://127.0.0.1:8080/

Per connection: ``async_read | let_value(answer every complete request head) |
repeat_until(closed)``. The per-request path is kept lean: the complete heads in a read are
counted, one regular expression tells whether any of them says ``Connection``,
``Content-Length``, ``Transfer-Encoding`` or ``HTTP/1.0`` (only those take the slower
head-by-head path), and the constant response goes out once per head in a single write.
Request bodies are not read: a request announcing one is answered and the connection closed.
Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import re
import signal
import socket
import sys
from collections.abc import Sequence

import dsexec as ex
from dsexec.net import Acceptor, Socket, async_accept, async_read, async_write, create_acceptor

BODY = b"Hello, World!"
KEEP_ALIVE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
    % (len(BODY), BODY)
)
CLOSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
    b"Connection: close\r\n\r\n%s" % (len(BODY), BODY)
)
BAD_REQUEST = b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n"
END_OF_HEAD = b"\r\n\r\n"
MAX_HEAD = 16384
READ_SIZE = 65536
# Anything that changes the answer: only heads containing one of these take the slow path.
SPECIAL = re.compile(
    rb"\r\n(?:connection|content-length|transfer-encoding)[ \t]*:|HTTP/1\.0\r\n", re.IGNORECASE
)
NOTHING: ex.Sender[int] = ex.just(0)  # senders are reusable: built once


def answer(pending: bytes | bytearray) -> tuple[bytes, bool, int]:
    """Answer every complete request head in ``pending``.

    Returns the responses to send, whether to close afterwards, and how many bytes of
    ``pending`` were consumed (the rest is an incomplete head, to be kept).
    """
    count = pending.count(END_OF_HEAD)
    if not count:
        if len(pending) > MAX_HEAD:
            return BAD_REQUEST, True, len(pending)
        return b"", False, 0
    used = pending.rfind(END_OF_HEAD) + 4
    if SPECIAL.search(pending, 0, used) is None:  # the common case: plain keep-alive GETs
        return (KEEP_ALIVE if count == 1 else KEEP_ALIVE * count), False, used
    responses = b""
    start = 0
    while True:
        end = pending.find(END_OF_HEAD, start)
        if end < 0:
            return responses, False, start
        head = bytes(pending[start:end]).lower()
        start = end + 4
        request_line = head.split(b"\r\n", 1)[0]
        if (
            b"\r\nconnection: close" in head
            or b"\r\ncontent-length:" in head
            or b"\r\ntransfer-encoding:" in head
            or (request_line.endswith(b"http/1.0") and b"\r\nconnection: keep-alive" not in head)
        ):
            return responses + CLOSE, True, start
        responses += KEEP_ALIVE


def connection(sch: ex.IoScheduler, sock: Socket) -> ex.Sender[object]:
    """Serve one keep-alive connection until EOF, an error or ``Connection: close``."""
    buffer = bytearray()  # an incomplete request head, kept between reads
    closing = [False]

    def on_data(data: bytes) -> ex.Sender[int]:
        if not data:  # EOF
            closing[0] = True
            return NOTHING
        pending: bytes | bytearray = data
        if buffer:
            buffer.extend(data)
            pending = buffer
        responses, close, used = answer(pending)
        if pending is buffer:
            del buffer[:used]
        elif used < len(data):
            buffer.extend(data[used:])
        if close:
            closing[0] = True
        return async_write(sch, sock, responses) if responses else NOTHING

    return (
        async_read(sch, sock, READ_SIZE)
        | ex.let_value(on_data)
        | ex.repeat_until(lambda _sent: closing[0])
        | ex.upon_error(lambda _error: None)  # reset by peer and the like: just close
        | ex.finally_(ex.just(sock) | ex.then(Socket.close))
    )


def serve(sch: ex.IoScheduler, acceptor: Acceptor, scope: ex.CountingScope) -> ex.Sender[object]:
    """``async_accept | then(spawn) | upon_error(log) | repeat()``."""

    def accept_failed(error: BaseException) -> None:
        if isinstance(error, ex.ClosedResourceError):
            raise error
        print(f"accept failed: {error}", file=sys.stderr)

    return (
        async_accept(sch, acceptor)
        | ex.then(lambda sock: scope.spawn(connection(sch, sock)))
        | ex.upon_error(accept_failed)
        | ex.repeat()
        | ex.upon_error(lambda _error: None)  # closed: stop serving
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int, nargs="?", default=8080, help="port (0: any)")
    parser.add_argument("--host", default="::", help="address to listen on (default: ::)")
    args = parser.parse_args(argv)

    with create_acceptor(args.port, args.host) as acceptor, ex.IoContext() as ctx:
        sch = ctx.get_scheduler()
        scope = ex.CountingScope("hello")
        scope.spawn(serve(sch, acceptor, scope))
        print(f"listening on {acceptor.local_endpoint}", flush=True)
        # SIGINT wakes the loop through a socketpair; the stop then runs on the loop thread.
        wake_read, wake_write = socket.socketpair()
        with wake_read, wake_write:
            wake_read.setblocking(False)
            wake_write.setblocking(False)
            previous_fd = signal.set_wakeup_fd(wake_write.fileno())
            previous = signal.signal(signal.SIGINT, lambda _signum, _frame: None)
            watcher = ex.CountingScope("sigint")
            watcher.spawn(
                sch.wait_readable(wake_read.fileno()) | ex.then(lambda _: scope.request_stop())
            )
            try:
                ex.sync_wait(scope.join(), context=ctx)
            finally:
                watcher.request_stop()
                signal.set_wakeup_fd(previous_fd)
                signal.signal(signal.SIGINT, previous)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
