"""The benchmark's dsexec server: a tuned HTTP/1.1 keep-alive "Hello, World!" pipeline, for wrk.

    python benchmarks/http_hello/dsexec_server.py 8080
    wrk -t2 -c64 -d10s http://127.0.0.1:8080/

``run.py`` measures it beside its peers (see README.md). The short version to read first, the
same accept loop without the tuning, is ``examples/hello_pipeline.py``.

Per connection: ``async_read | let_value(answer every complete request head) |
repeat_until(closed)``, closed on every path by ``finally_``. The per-request path is kept
lean: a read holding exactly one complete head that no regular expression flags as saying
``Connection``, ``Content-Length``, ``Transfer-Encoding`` or ``HTTP/1.0`` is answered with a
write sender built once per connection (a head found plain is remembered, in a small bounded
set, so the same head again skips the search); anything else (pipelined heads, partial heads,
those headers) takes the head-by-head path, which sends one response per head in a single write.
Request bodies are not read: a request announcing one is answered and the connection closed.
Ctrl-C stops it.

What a connection costs is kept small too, because a server holds thousands of idle ones: the
per-connection state is one slotted :class:`Responder` (``let_value``'s function, no
closures),
the adaptors shared by every connection are built once at import, and the pipeline's senders
are dropped once it runs (``repeat_until`` restarts its operation states round after round).
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
from collections.abc import Sequence
from typing import Final, final

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
# Anything that may change the answer: only heads in which this matches take the slow path,
# which looks at them properly. It matches a line starting with one of the three headers, or
# ending in "1.0" (the request line of HTTP/1.0; other such lines are rare and cost only the
# slow path). Every alternative starts at a CRLF, so the regex engine skips to those at C speed,
# and the first letter of each header is a plain class (a pattern-wide IGNORECASE is slower).
SPECIAL = re.compile(
    rb"\r\n(?:(?<=1\.0\r\n)"
    rb"|[Cc](?i:onnection|ontent-length)[ \t]*:"
    rb"|[Tt](?i:ransfer-encoding)[ \t]*:)"
)

# Heads already found plain (one whole head, nothing SPECIAL): a keep-alive client mostly sends
# the same head again and again, and a set lookup (the head's hash and one comparison) costs a
# fraction of the search. Bounded: short heads only, and forgotten all at once when full.
PLAIN_HEADS: set[bytes] = set()
MAX_PLAIN_HEADS = 256
MAX_PLAIN_HEAD_BYTES = 512


def is_plain_head(data: bytes) -> bool:
    """Whether ``data`` is exactly one whole request head of a plain keep-alive request (its
    end is the first and only one, and no ``SPECIAL`` header or HTTP/1.0 in it)."""
    if data.find(END_OF_HEAD) != len(data) - 4 or SPECIAL.search(data) is not None:
        return False
    if len(data) <= MAX_PLAIN_HEAD_BYTES:
        if len(PLAIN_HEADS) >= MAX_PLAIN_HEADS:
            PLAIN_HEADS.clear()
        PLAIN_HEADS.add(data)
    return True


# The value of a round tells repeat_until whether the connection is done: bytes written (>= 0)
# to go on, CLOSED to stop. Senders are reusable, so the constant ones are built once.
CLOSED: Final = -1
NOTHING: ex.Sender[int] = ex.just(0)  # an incomplete head: read on
EOF: ex.Sender[int] = ex.just(CLOSED)


def closed(sent: int) -> bool:
    """``repeat_until``'s predicate: the round said the connection is done."""
    return sent == CLOSED


def mark_closed(_sent: int) -> int:
    return CLOSED


def ignore_error(_error: BaseException) -> None:
    """Reset by peer and the like: just close."""


# Adaptors every connection shares (a SenderAdaptor is reusable like a sender).
UNTIL_CLOSED = ex.repeat_until(closed)
IGNORE_ERRORS = ex.upon_error(ignore_error)
THEN_CLOSED = ex.then(mark_closed)
CLOSE_SOCKET = ex.then(Socket.close)


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


@final
class Responder:
    """One connection's state, and ``let_value``'s function (a callable object: a bound
    method would cost another object per connection).

    A call returns the round's sender: the write of the responses, ``NOTHING`` while a head is
    incomplete, ``EOF`` when the client closed (or a write that ends in ``CLOSED``).
    """

    __slots__ = ("_answer_one", "_pending", "_sch", "_sock")

    def __init__(self, sch: ex.IoScheduler, sock: Socket) -> None:
        self._sch = sch
        self._sock = sock
        self._pending = b""  # an incomplete request head, kept between reads
        # The usual round's sender, built once: a sender is a value, reusable at will.
        self._answer_one = async_write(sch, sock, KEEP_ALIVE)

    def __call__(self, data: bytes) -> ex.Sender[int]:
        """The round's sender for the bytes of one read."""
        if not data:
            return EOF
        if self._pending:
            data = self._pending + data
            self._pending = b""
        if data in PLAIN_HEADS or is_plain_head(data):
            # the common case: one whole head of a plain keep-alive request, seen before or
            # found plain now; pipelined heads and the rest go through answer()
            return self._answer_one
        responses, close, used = answer(data)
        if used < len(data):
            self._pending = data[used:]
        if close:
            return async_write(self._sch, self._sock, responses) | THEN_CLOSED
        return async_write(self._sch, self._sock, responses) if responses else NOTHING


def connection(sch: ex.IoScheduler, sock: Socket) -> ex.Sender[object]:
    """Serve one keep-alive connection until EOF, an error or ``Connection: close``."""
    return (
        async_read(sch, sock, READ_SIZE)
        | ex.let_value(Responder(sch, sock))
        | UNTIL_CLOSED
        | IGNORE_ERRORS
        | ex.finally_(ex.just(sock) | CLOSE_SOCKET)
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
        # Ctrl-C or SIGTERM: a sender like any other, in the same scope; stopping the scope
        # stops the accept loop and every connection, and join() completes when all are done.
        stop_on_signal = ex.on_signals(sch, signal.SIGINT, signal.SIGTERM) | ex.then(
            lambda _signum: scope.request_stop()
        )
        scope.spawn(stop_on_signal)
        ex.sync_wait(scope.join(), context=ctx)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
